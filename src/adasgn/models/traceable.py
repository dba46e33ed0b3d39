"""Traceable forms of the models: one graph each, for ONNX export (:mod:`adasgn.export`).

:func:`traceable` gives, for any registered model, a module with the same logits whose forward
has no host round trip and no in-place write, plus ``input_names`` / ``output_names`` and
``example_args(x)``. Static models (SGN, singles): ``x -> logits``; non-empty person slots are
gathered with ``nonzero`` / ``index_select`` and scattered back, empty ones masked out of the
person average (:func:`adasgn.models.sgn.present_persons`, the one rule). AdaSGN:
``(x, choice_bias) -> (logits, decisions)`` with each branch run only on the frames that chose it
(the grouped execution of :class:`AdaSGN`); frames of empty slots are routed to S-1 (already
computed, free) and masked out of the average. ``choice_bias`` (A,) is added to the policy
logits before the argmax (zeros = the trained policy; ``-lambda * cost`` = a compute budget).
"""

from __future__ import annotations

import torch
from torch import nn

from .adasgn import AdaSGN
from .sgn import present_persons

__all__ = ["AdaSGNExport", "StaticExport", "person_weights", "traceable"]


def velocity_cat(x: torch.Tensor) -> torch.Tensor:
    """velocity along axis 1 (dif[0] = 0) without in-place writes."""
    return torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)


def person_weights(x: torch.Tensor, skip_empty: bool) -> torch.Tensor:
    """(N, C, T, V, M) -> (N, M) float weights of the person slots the PyTorch model computes
    (the rule of :func:`adasgn.models.sgn.present_persons`)."""
    return present_persons(x, skip_empty).to(x.dtype)


def merge_weighted(logits: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-sequence logits (N*M, K) and weights (N, M) -> per-sample mean (N, K)."""
    m = w.shape[1]
    lg = logits.reshape(-1, m, logits.shape[-1])
    return (lg * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True)


def _sequences(x: torch.Tensor) -> torch.Tensor:
    _, c, t, v, _ = x.shape
    return x.permute(0, 4, 2, 3, 1).reshape(-1, t, v, c)  # (N*M, T, V, C)


class StaticExport(nn.Module):
    """SGN / SingleSGN for export: non-empty person slots gathered, empty ones masked out."""

    input_names, output_names = ("x",), ("logits",)

    def __init__(self, model: nn.Module):
        super().__init__()
        self.spatial, self.temporal, self.head = model.spatial, model.temporal, model.head
        self.transform = getattr(model, "transform", None)
        self.skip_empty = bool(model.cfg.skip_empty_persons)

    def example_args(self, x: torch.Tensor) -> tuple:
        return (x,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = _sequences(x)  # (B, T, V, C), B = N*M
        w = person_weights(x, self.skip_empty)  # (N, M)
        idx = torch.nonzero(w.reshape(-1) > 0).reshape(-1)  # computed slots, (B',)
        seq = seq.index_select(0, idx)
        if self.transform is not None:
            seq = self.transform(seq)
        f = self.spatial(seq, velocity_cat(seq))
        part = self.head(self.temporal(f))  # (B', K)
        k = part.shape[-1]
        full = torch.zeros(w.numel(), k, dtype=part.dtype, device=part.device)
        logits = full.scatter(0, idx.unsqueeze(1).expand(-1, k), part)  # empty slots: 0
        return merge_weighted(logits, w)


class AdaSGNExport(nn.Module):
    """AdaSGN's grouped execution as one traceable graph (see the module docstring)."""

    input_names, output_names = ("x", "choice_bias"), ("logits", "decisions")

    def __init__(self, model: nn.Module):
        super().__init__()
        if model.policy is None:
            raise ValueError(f"AdaSGN with policy {model.cfg.policy!r} has no policy network; "
                             "only learned policies (tconv, tconv2, lstm, transformer) export")
        self.transforms, self.spatials = model.transforms, model.spatials
        self.policy, self.temporal, self.head = model.policy, model.temporal, model.head
        self.skip_empty = bool(model.cfg.skip_empty_persons)
        self.num_choices = model.num_choices

    def example_args(self, x: torch.Tensor) -> tuple:
        return (x, torch.zeros(self.num_choices))

    def _branch(self, a: int, seq: torch.Tensor) -> torch.Tensor:
        red = self.transforms[a](seq)
        return self.spatials[a](red, velocity_cat(red))

    def forward(self, x: torch.Tensor, choice_bias: torch.Tensor):
        _, c, t, v, m = x.shape
        seq = _sequences(x)  # (B, T, V0, C), B = N*M
        w = person_weights(x, self.skip_empty)  # (N, M)
        keep = w.reshape(-1, 1) > 0  # (B, 1)
        f0 = self._branch(0, seq)  # (B, T, 256) policy features, reused by S-1 frames
        dec = (self.policy(f0) + choice_bias).argmax(dim=-1)  # (B, T)
        dec = torch.where(keep, dec, torch.zeros_like(dec))  # empty slots: S-1 only (free)
        flat = dec.reshape(-1)  # (B*T,)
        cur = seq.reshape(-1, 1, v, c)  # (B*T, 1, V0, C)
        prev = torch.cat([seq[:, :1], seq[:, :-1]], dim=1).reshape(-1, 1, v, c)
        out = f0.reshape(-1, f0.shape[-1])  # (B*T, 256)
        for a in range(1, self.num_choices):
            idx = torch.nonzero(flat == a).reshape(-1)  # frames that chose a, (F_a,)
            rc = self.transforms[a](cur.index_select(0, idx))  # (F_a, 1, V_a, C)
            rp = self.transforms[a](prev.index_select(0, idx))
            feat = self.spatials[a](rc, rc - rp).reshape(-1, out.shape[-1])  # (F_a, 256)
            out = out.scatter(0, idx.unsqueeze(1).expand(-1, out.shape[-1]), feat)
        logits = self.head(self.temporal(out.reshape(-1, t, out.shape[-1])))  # (B, K)
        decisions = torch.where(keep, dec, torch.full_like(dec, -1)).reshape(-1, m, t)
        return merge_weighted(logits, w), decisions


def traceable(model: nn.Module) -> nn.Module:
    """The export-friendly graph of ``model`` in eval mode (see the module doc)."""
    wrapper = AdaSGNExport(model) if isinstance(model, AdaSGN) else StaticExport(model)
    return wrapper.eval()
