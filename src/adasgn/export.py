"""ONNX export of SGN, single models and AdaSGN (``adasgn export CKPT out.onnx``).

Needs the optional ``export`` extra (``pip install "adasgn[export]"``: onnx + onnxruntime); both
are imported lazily, with a clear error when absent. Design notes: ``docs/export.md``.

**SGN / single** -- one graph, input ``x`` (N, C, T, V, M) with a dynamic batch N, output
``logits`` (N, classes). Our PyTorch models skip all-zero person slots with a data-dependent index
(``nonzero`` + a host sync); in the graph the same rule (a slot is computed when it is not all
zero, slot 0 when all are empty: :func:`adasgn.models.sgn.split_persons`) becomes person weights,
the computed slots are gathered with ``NonZero`` / ``Gather`` (no host sync; a single-person NTU
sample costs one sequence, not two), their logits scattered back, and the empty slots masked out
of the person average -- the same logits as PyTorch. The velocity is built with a concatenation
instead of an in-place slice copy.

**AdaSGN** -- also one graph, in which the compute savings survive: inputs ``x`` (N, C, T, V0, M)
and ``choice_bias`` (A,) (added to the policy logits before the argmax; zeros = the trained
policy; a run-time budget is a bias ``-lambda * cost``); outputs ``logits`` (N, classes) and
``decisions`` (N, M, T) (-1 for empty person slots). Inside: the S-1 branch on every frame, the
policy, the argmax; then for each other branch ``a`` the frames that chose it are found with
``NonZero``, gathered (their current and previous frame, for the velocity), run through branch
``a`` only, and scattered back (``ScatterElements``) over the S-1 features -- the grouped
execution of :class:`adasgn.models.adasgn.AdaSGN`, with no host round trip. Frames of empty
person slots are routed to S-1 (already computed, free) and masked out of the average.
:class:`OnnxAdaSGN` is the small NumPy runner: it feeds the graph and adds the realised GMACs
(paper convention) from the decisions; :class:`OnnxSGN` does the same for static models.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .engine.run import TrainedRun, load_run
from .models.traceable import traceable

__all__ = ["export_checkpoint", "export_model", "OnnxSGN", "OnnxAdaSGN", "load_onnx",
           "require_onnx", "time_runner"]

OPSET = 17
META_KEY = "adasgn"


def require_onnx(runtime: bool = True):
    """Import onnx (and onnxruntime); raise ImportError with the install hint when absent."""
    try:
        import onnx  # noqa: F401
        if runtime:
            import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"ONNX export / inference needs the optional 'export' extra "
                          f"(onnx, onnxruntime): pip install \"adasgn[export]\" ({exc})") from None


# ---------------------------------------------------------------------------------------------
# export


def _metadata(run: TrainedRun) -> dict:
    model = run.model
    return {"format": "adasgn-onnx-1", "model": run.kind, "layout": run.layout.name,
            "in_channels": model.in_channels, "num_frames": model.num_frames,
            "num_classes": model.num_classes, "class_names": list(run.class_names),
            "dataset": run.dataset, "num_persons": run.num_persons,
            "gmacs_fixed": float(model.gmacs_fixed),
            "choices": [c.to_dict() for c in model.choices],
            "choice_extra_gmacs": ([float(g) for g in model.choice_extra_gmacs.tolist()]
                                   if model.choices else [])}


def export_model(model: nn.Module, out: str | os.PathLike, num_persons: int = 2,
                 metadata: dict | None = None, opset: int = OPSET) -> Path:
    """Export an eval-mode registered model to ``out`` (one .onnx file) through its traceable
    graph (:func:`adasgn.models.traceable.traceable`)."""
    require_onnx(runtime=False)
    import onnx

    model = model.eval().cpu()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(2, model.in_channels, model.num_frames, model.num_joints, num_persons)
    x[0, ..., 0] = torch.linspace(-1, 1, x[0, ..., 0].numel()).reshape(x[0, ..., 0].shape)
    x[1] = x[0].flip(-1)
    graph = traceable(model)
    names_in, names_out = list(graph.input_names), list(graph.output_names)
    axes = {k: {0: "batch"} for k in ("x", *names_out)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes used as Python ints
        torch.onnx.export(graph, graph.example_args(x), str(out), input_names=names_in,
                          output_names=names_out, dynamic_axes=axes, opset_version=opset,
                          dynamo=False, do_constant_folding=True)
    proto = onnx.load(str(out))
    if metadata:
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(metadata)
    proto.producer_name = "adasgn"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    return out


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike,
                      opset: int = OPSET) -> dict:
    """``adasgn export``: a training checkpoint -> one .onnx; returns a summary dict."""
    run = load_run(checkpoint)
    md = _metadata(run)
    path = export_model(run.model, out, num_persons=run.num_persons, metadata=md, opset=opset)
    m = run.model
    return {"checkpoint": str(checkpoint), "onnx": str(path), "model": run.kind,
            "input": ["batch", m.in_channels, m.num_frames, m.num_joints, run.num_persons],
            "bytes": path.stat().st_size, "opset": opset}


# ---------------------------------------------------------------------------------------------
# runners (onnxruntime)


class _OnnxBase:
    def __init__(self, path: str | os.PathLike, threads: int | None = None,
                 providers: list[str] | None = None):
        require_onnx()
        import onnx
        import onnxruntime as ort

        self.path = str(path)
        proto = onnx.load(self.path, load_external_data=False)
        props = {p.key: p.value for p in proto.metadata_props}
        self.meta: dict = json.loads(props[META_KEY]) if META_KEY in props else {}
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(self.path, so,
                                            providers=providers or ["CPUExecutionProvider"])
        self.class_names = list(self.meta.get("class_names") or [])

    def _x(self, x) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == 4:
            x = x[..., None]
        return x


class OnnxSGN(_OnnxBase):
    """onnxruntime runner of an exported SGN / single model: ``run(x) -> (logits, gmacs)``."""

    def run(self, x) -> tuple[np.ndarray, np.ndarray]:
        x = self._x(x)
        (logits,) = self.session.run(["logits"], {"x": x})
        return logits, np.full(len(x), float(self.meta.get("gmacs_fixed", np.nan)))

    __call__ = run


class OnnxAdaSGN(_OnnxBase):
    """onnxruntime runner of an exported AdaSGN.

    ``run(x, choice_bias=None) -> (logits (N, K), decisions (N, M, T), gmacs (N,))``: the graph
    decides and executes each branch on its frames only; the runner adds the realised paper
    GMACs per sample (fixed cost + per-frame extra cost of the chosen branches, averaged over the
    computed persons -- the same accounting as the PyTorch model). ``choice_bias`` (A,) is added
    to the policy logits before the argmax (e.g. ``-lambda * cost`` for a compute budget).
    """

    def __init__(self, path, threads: int | None = None, providers: list[str] | None = None):
        super().__init__(path, threads, providers)
        self.choice_names = [c["name"] for c in self.meta.get("choices", [])]
        self.num_choices = len(self.choice_names) or int(
            self.session.get_inputs()[1].shape[0])
        self.extra = np.asarray(self.meta.get("choice_extra_gmacs", [0.0] * self.num_choices),
                                dtype=np.float64)
        self.fixed = float(self.meta.get("gmacs_fixed", 0.0))

    def run(self, x, choice_bias=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self._x(x)
        bias = np.zeros(self.num_choices, np.float32) if choice_bias is None else \
            np.asarray(choice_bias, dtype=np.float32).reshape(self.num_choices)
        logits, dec = self.session.run(["logits", "decisions"], {"x": x, "choice_bias": bias})
        return logits, dec, self.gmacs(dec)

    __call__ = run

    def gmacs(self, decisions: np.ndarray) -> np.ndarray:
        """Realised paper GMACs per sample from decisions (N, M, T) (-1 = slot not computed)."""
        t = decisions.shape[-1]
        present = decisions[..., 0] >= 0  # (N, M)
        per_seq = self.fixed + self.extra[np.clip(decisions, 0, None)].sum(-1) / t  # (N, M)
        return (per_seq * present).sum(1) / np.maximum(present.sum(1), 1)


def load_onnx(path: str | os.PathLike, threads: int | None = None) -> OnnxSGN | OnnxAdaSGN:
    """The right runner for an exported file (from its metadata)."""
    require_onnx()
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    kind = json.loads(props[META_KEY]).get("model") if META_KEY in props else None
    if kind is None:
        kind = "adasgn" if len(proto.graph.input) == 2 else "sgn"
    return OnnxAdaSGN(path, threads) if kind == "adasgn" else OnnxSGN(path, threads)


def time_runner(fn, reps: int = 20, warmup: int = 3) -> float:
    """Median milliseconds of ``fn()`` (a small helper for docs / checks)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(1000 * (time.perf_counter() - t0))
    return float(np.median(ts))

