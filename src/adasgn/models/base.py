"""The contract every registered model keeps (timm style: one way to build, one forward).

* Built by :func:`adasgn.models.create_model` from ``layout``, ``num_classes``, ``in_channels``,
  ``num_frames`` plus the model's own options.
* ``forward(x)`` takes ``(N, C, T, V, M)`` (or ``(N, C, T, V)``) and returns
  ``(logits (N, classes), ForwardInfo)``. Static models (SGN, singles) fill the same fields as
  AdaSGN: realised GMACs per sample and the person slots computed; ``decisions`` is ``None``
  because there is nothing to decide.
* Attributes: ``cfg`` (its dataclass config), ``layout``, ``num_joints`` (input joints),
  ``in_channels``, ``num_frames``, ``num_classes``, ``choices`` (empty for static models),
  ``gmacs_fixed`` (paper GMACs per person-sequence paid whatever is decided; for a static model
  its whole cost), ``conditional`` (whether the parameters used depend on the input -- DDP's
  ``find_unused_parameters``).
* Hooks the engine calls on every model: :meth:`set_epoch` (schedules such as AdaSGN's tau),
  :meth:`set_budget` (a run-time compute budget; static models refuse one clearly),
  :meth:`schedule_state` (values worth logging per epoch), :meth:`usage` (share of frames per
  branch).

So nothing outside ``adasgn.models`` needs to ask which kind of model it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .budget import check_calibration

__all__ = ["ForwardInfo", "SkeletonModel", "choice_counts", "usage_fractions"]


@dataclass
class ForwardInfo:
    """What a forward computed, decided and cost (every model fills the first three fields).

    gmacs:     (N,) float64 realised paper GMACs per sample (per person sequence, averaged over
        its present persons; spec 3.3).
    present:   (N, M) bool, the person slots that were computed.
    owner:     (B,) sample index of each computed sequence.
    decisions: (N, M, T) long choice index per person slot and frame (adaptive models); -1 for a
        slot that was not computed and for every frame of the ``fuse`` baseline (all branches).
        ``None`` for static models.
    mode:      "static" | "masked" | "grouped" | "stream" (an adaptive model's streamed windows,
        models/streaming.py).
    actions:   (B, T, A) one-hot of the computed sequences (straight-through gradient in masked
        training), what the efficiency loss needs; ``None`` otherwise.
    policy_logits: (B, T, A) or ``None``.
    branch_logits: (A, N, classes) every branch alone on all frames (AdaSGN's masked training
        with ``branch_loss``), or ``None``.
    """

    gmacs: torch.Tensor
    present: torch.Tensor
    owner: torch.Tensor
    decisions: torch.Tensor | None = None
    mode: str = "static"
    actions: torch.Tensor | None = None
    policy_logits: torch.Tensor | None = None
    branch_logits: torch.Tensor | None = None


def choice_counts(decisions, present, num_choices: int) -> tuple[torch.Tensor, int]:
    """(frames per choice (A,) float64, frames counted) over the present person slots.

    A frame of a present slot with decision -1 ran every branch (``fuse``) and counts for each."""
    dec = torch.as_tensor(decisions)
    pres = torch.as_tensor(present, dtype=torch.bool)
    d = dec[pres].reshape(-1).cpu()  # (P * T,) frames of computed slots
    fused = d.lt(0)
    counts = torch.bincount(d[~fused], minlength=num_choices).double()[:num_choices]
    return counts + int(fused.sum()), int(d.numel())


def usage_fractions(decisions, present, choice_names) -> dict[str, float]:
    """Share of frames (over samples, present persons and frames) that ran each choice."""
    counts, frames = choice_counts(decisions, present, len(choice_names))
    return {n: float(c) / max(frames, 1) for n, c in zip(choice_names, counts)}


class SkeletonModel(nn.Module):
    """Base of every registered model: the shared attributes and engine hooks (module doc)."""

    model_name = "model"  # its name in the registry
    choices: tuple = ()  # adaptive models: their list of Choice
    conditional = False  # True when a forward may leave parameters unused (DDP)

    def _set_shape(self, layout, num_classes: int, in_channels: int, num_frames: int) -> None:
        self.layout = layout
        self.num_joints = layout.num_joints
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.num_frames = int(num_frames)
        self.budget: float | None = None
        self.budget_mode = "mean"
        self.budget_lambda: float | None = None
        self.budget_calibration: dict | None = None

    @property
    def choice_names(self) -> list[str]:
        return [c.name for c in self.choices]

    def set_epoch(self, epoch: int) -> None:
        """Per-epoch schedules (AdaSGN: the Gumbel temperature); nothing for static models."""

    def make_deterministic(self) -> None:
        """Evaluation decisions without sampling (AdaSGN: argmax); static models already are."""

    def schedule_state(self) -> dict:
        """Values of the per-epoch schedules, for the training log."""
        return {}

    def set_budget(self, gmacs: float | None, mode: str = "mean") -> None:
        if gmacs is None:
            return
        raise ValueError(f"a compute budget applies to AdaSGN checkpoints only; this is a "
                         f"{self.model_name} model with a fixed cost of {self.gmacs_fixed:.4f} "
                         "GMACs per person-sequence")

    def attach_calibration(self, table: dict | None) -> None:
        """Keep the budget calibration stored with the weights (checked against the choices)."""
        self.budget_calibration = check_calibration(self, table)

    def usage(self, decisions, present) -> dict[str, float]:
        """Share of frames per branch; empty for a static model (one path for every frame)."""
        if decisions is None or not self.choices:
            return {}
        return usage_fractions(decisions, present, self.choice_names)

    def streamer(self):
        """A :class:`~adasgn.models.streaming.WindowStreamer` for this model: logits of streamed
        windows from per-frame features computed once (adasgn.stream). Built from the current
        weights (evaluation mode)."""
        raise NotImplementedError(f"{type(self).__name__} has no streaming implementation")

    def load_pretrained_singles(self, states, **kwargs) -> None:
        raise ValueError(f"{type(self).__name__} has no branches to initialise from single models "
                         "(adasgn.pretrained applies to AdaSGN)")

    def freeze_pretrained(self, frozen: bool) -> None:
        raise ValueError(f"{type(self).__name__} has no pretrained branches to freeze")
