"""Run a trained checkpoint on one skeleton sequence: ``Recognizer`` and ``Prediction``.

::

    from adasgn.inference import Recognizer

    rec = Recognizer.from_checkpoint("runs/ntu60/checkpoints/best.pt")     # budget=0.08 for AdaSGN
    p = rec.predict("S001C001P001R001A001.skeleton")
    print(p)                      # one line: top-5, branches, GMACs, latency
    p.to_dict()                   # JSON-ready

Accepted inputs (``predict(source)``): every format :func:`adasgn.data.inputs.read_input` reads --
raw NTU ``.skeleton``, MSR Action3D, SHREC'17 ``skeletons_world.txt`` files (normalised exactly as
``adasgn prepare`` does), ``.npy`` arrays (T, V, C) / (M, T, V, C), NumPy arrays / tensors, pyskl
annotation dicts and ``.pkl`` files (with ``name=`` / ``index=``).

Then the checkpoint's own test-time pipeline runs (``TrainedRun.eval_pipeline``: the training
config's stream, frame count, view normalisation and person slots), and the model. The result
is a :class:`Prediction`: top-k classes with names and probabilities, the branch chosen for every sampled frame of every computed person ("static" for SGN / single
models), the realised GMACs (paper convention, per person-sequence) and the measured latency
(model forward, and end to end including reading and preprocessing).

Wrong inputs fail before the model runs with an :class:`InputMismatchError` (a ``ValueError``)
saying what the checkpoint expects and what was found; unreadable files raise
:class:`adasgn.errors.DataError` (a ``ValueError``), missing ones ``FileNotFoundError``.
Prediction is deterministic: evaluation mode, policy decisions by ``argmax``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import torch

from .data.inputs import FORMAT_TEXT, InputMismatchError, SkeletonInput, read_input
from .data.transforms import build_pipeline
from .engine.metrics import RankedClasses
from .engine.run import TrainedRun, load_run
from .skeleton import get_layout
from .stream import StreamingRecognizer

__all__ = ["InputMismatchError", "Prediction", "Recognizer", "SkeletonInput", "StreamingRecognizer",
           "read_input"]

STATIC = "static"  # the branch name reported for every frame of a static model (SGN / single)


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class Prediction(RankedClasses):
    """What :meth:`Recognizer.predict` found for one input (``to_dict()`` for JSON)."""

    source: str  # file name or a short description of the array
    top: list[dict]  # [{"index", "name", "probability"}], best first
    branches: list[list[str]]  # per computed person: the branch of each sampled frame
    frame_indices: list[int]  # which frames of the (cleaned) sequence were sampled
    gmacs: float  # realised GMACs, paper convention, per person-sequence
    forward_ms: float  # model forward only
    total_ms: float  # reading + preprocessing + forward
    model: str  # sgn | single | adasgn
    num_frames: int  # frames of the input after reading / cleaning (before sampling)
    persons: int  # person slots computed (non-empty ones)
    budget: float | None = None
    label: int | None = None  # ground truth when the input carries one (pyskl entries)
    usage: dict = field(default_factory=dict)  # share of computed frames per branch (adaptive)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(prediction=self.name, index=self.index, probability=self.probability)
        return d

    def __str__(self) -> str:
        tops = " | ".join(f"{t['name']} {100 * t['probability']:.1f}%" for t in self.top)
        if self.usage:
            use = " ".join(f"{k}:{100 * v:.0f}%" for k, v in self.usage.items() if v > 0)
            branch = f"branches {use}"
        else:
            branch = f"branches {STATIC}"
        budget = f" (budget {self.budget:g})" if self.budget is not None else ""
        return (f"{self.source}: {tops}; {branch}; {self.gmacs:.4f} GMACs{budget}; "
                f"forward {self.forward_ms:.2f} ms, total {self.total_ms:.2f} ms")


# ---------------------------------------------------------------------------------------------
# the recogniser


class Recognizer:
    """A trained checkpoint ready to classify single sequences.

    ``Recognizer.from_checkpoint(path, device="cpu", budget=None)``; ``predict(source)`` /
    ``predict_many(sources)``. ``budget`` (GMACs per person-sequence) is passed to the model's
    ``set_budget`` (AdaSGN checkpoints with a budget calibration); other models raise ValueError.
    """

    def __init__(self, run: TrainedRun, warmup: bool = True):
        self.run = run
        self.model = run.model.eval()
        self.cfg = run.cfg
        self.device = run.device
        self.source = str(run.path)
        self.layout = run.layout
        self.in_channels = self.model.in_channels
        self.kind = run.kind
        self.model.make_deterministic()  # prediction: the same input, the same answer
        self.dataset = run.dataset
        self.num_persons = run.num_persons
        self.class_names = list(run.class_names)
        self.num_frames = self.model.num_frames
        self.pipeline = build_pipeline(run.eval_pipeline())
        self.budget: float | None = None
        if warmup:
            self._warmup()

    # -------------------------------------------------------------- construction
    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str | torch.device = "cpu",
                        budget: float | None = None, warmup: bool = True,
                        budget_mode: str = "mean") -> "Recognizer":
        rec = cls(load_run(path, device), warmup=False)
        if budget is not None:
            rec.set_budget(budget, mode=budget_mode)
        if warmup:
            rec._warmup()
        return rec

    def set_budget(self, gmacs: float | None, mode: str = "mean") -> None:
        """Aim AdaSGN at ``gmacs`` per person-sequence (the model's ``set_budget``; ``mode``
        mean = calibrated lambda, sample = every sequence on its own, see models/budget.py).
        Static models refuse a budget with a ValueError that names their fixed cost."""
        if gmacs is None:
            if self.budget is not None:
                self.model.set_budget(None)
            self.budget = None
            return
        try:
            self.model.set_budget(float(gmacs), mode=mode)
        except ValueError as exc:
            raise ValueError(f"{self.source}: {exc}") from None
        self.budget = float(gmacs)

    def _warmup(self) -> None:
        x = torch.zeros(1, self.in_channels, self.num_frames, self.layout.num_joints,
                        self.num_persons, device=self.device)
        x[..., 0] = 0.01
        with torch.inference_mode():
            self.model(x)

    def static_gmacs(self) -> float:
        """Paper GMACs per person-sequence paid whatever is decided (a static model's cost)."""
        return float(self.model.gmacs_fixed)

    @property
    def expects(self) -> str:
        return (f"layout {self.layout.name}: {self.layout.num_joints} joints x "
                f"{self.in_channels} coordinates")

    # -------------------------------------------------------------- checks
    def check(self, inp: SkeletonInput) -> None:
        """Raise :class:`InputMismatchError` when ``inp`` does not fit this checkpoint."""
        kp = inp.keypoint
        m, t, v, c = kp.shape
        want_v, want_c = self.layout.num_joints, self.in_channels
        what = (f"file {inp.source} ({FORMAT_TEXT[inp.kind]})" if inp.kind in FORMAT_TEXT
                else f"input {inp.source}")
        if inp.layout is not None and inp.layout != self.layout.name:
            raise InputMismatchError(f"checkpoint expects {self.expects}; {what} is in layout "
                                     f"{inp.layout}: {v} joints x {c} coordinates")
        problems = []
        if v != want_v:
            problems.append(f"{v} joints")
        if c != want_c:
            dim = {2: "2-D (x, y)", 3: "3-D (x, y, z)"}.get(c, f"{c}-D")
            problems.append(f"{c} coordinates ({dim} data for a {want_c}-D model)")
        if problems:
            hint = ""
            if kp.ndim == 4 and m in (2, 3) and c != want_c and kp.shape[0] == want_c:
                hint = " (a (C, T, V, M) array? transpose it to (M, T, V, C))"
            raise InputMismatchError(
                f"checkpoint expects {self.expects}; {what} has " + " and ".join(problems)
                + f" (shape {tuple(kp.shape)} read as (M, T, V, C)){hint}")
        if t == 0:
            raise InputMismatchError(f"{what} has no frame")

    # -------------------------------------------------------------- prediction
    def prepare(self, inp: SkeletonInput) -> tuple[torch.Tensor, np.ndarray]:
        """The model input (1, C, T, V, M) and the sampled frame indices."""
        s = self.pipeline({"keypoint": inp.keypoint.copy(), "label": -1})
        x = torch.from_numpy(np.ascontiguousarray(s["input"], dtype=np.float32))[None]
        return x, np.asarray(s.get("frame_inds", np.arange(self.num_frames)))

    @torch.inference_mode()
    def predict(self, source: Any, *, name: str | None = None, index: int | None = None,
                layout: str | None = None, topk: int = 5) -> Prediction:
        """Classify one sequence (any accepted input, see the module docstring).

        ``layout`` declares the layout of an array input (checked against the checkpoint);
        ``name`` / ``index`` pick a sample of a multi-sample pyskl ``.pkl``."""
        t0 = time.perf_counter()
        inp = read_input(source, name=name, index=index)
        if layout is not None:
            inp.layout = get_layout(layout).name
        return self._predict_input(inp, topk, t0)

    def stream(self, window: int | None = None, *, seconds: float | None = None,
               fps: float | None = None, normalize: str | None = None,
               topk: int = 5) -> StreamingRecognizer:
        """A live recogniser on this checkpoint (adasgn.stream, docs/streaming.md): ``push``
        one frame at a time. ``window`` in frames, or ``seconds`` x ``fps`` (defaults from the
        checkpoint's dataset); ``normalize`` overrides the checkpoint's (``frame`` / ``origin``).
        The budget set on this recogniser applies."""
        return StreamingRecognizer(self.run, self.model, window=window, seconds=seconds, fps=fps,
                                   normalize=normalize, topk=topk, class_names=self.class_names,
                                   budget=self.budget)

    def predict_many(self, sources: Iterable[Any], topk: int = 5, **kwargs) -> list[Prediction]:
        """:meth:`predict` on each source in turn (latency measured per input)."""
        return [self.predict(s, topk=topk, **kwargs) for s in sources]

    def _predict_input(self, inp: SkeletonInput, topk: int, t0: float) -> Prediction:
        self.check(inp)
        num_frames = int(inp.keypoint.shape[1])
        x, frame_inds = self.prepare(inp)
        x = x.to(self.device)
        sync = self.device.type == "cuda"
        if sync:
            torch.cuda.synchronize(self.device)
        t1 = time.perf_counter()
        logits, info = self.model(x)
        if sync:
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        gmacs = float(info.gmacs[0])
        present = info.present[0].cpu().numpy()  # (M,)
        if info.decisions is not None:
            names = self.model.choice_names
            dec = info.decisions[0].cpu().numpy()  # (M, T)
            branches = [["all" if d < 0 else names[d] for d in dec[m].tolist()]
                        for m in range(dec.shape[0]) if present[m]]
        else:
            branches = [[STATIC] * self.num_frames for _ in range(int(present.sum()))]
        usage = self.model.usage(None if info.decisions is None else info.decisions[:1],
                                 info.present[:1])
        prob = torch.softmax(logits[0].double(), dim=0).cpu().numpy()
        k = max(1, min(int(topk), len(prob)))
        order = np.argsort(-prob, kind="stable")[:k]
        top = [{"index": int(i), "name": self.class_names[i], "probability": float(prob[i])}
               for i in order]
        t3 = time.perf_counter()
        return Prediction(source=inp.source, top=top, branches=branches,
                          frame_indices=[int(i) for i in frame_inds], gmacs=gmacs,
                          forward_ms=1000 * (t2 - t1), total_ms=1000 * (t3 - t0), model=self.kind,
                          num_frames=num_frames, persons=len(branches), budget=self.budget,
                          label=inp.label, usage=usage)
