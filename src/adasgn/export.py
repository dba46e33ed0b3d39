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
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["export_checkpoint", "export_model", "StaticExport", "AdaSGNExport", "OnnxSGN",
           "OnnxAdaSGN", "load_onnx", "require_onnx", "time_runner"]

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
# export-friendly building blocks


def velocity_cat(x: torch.Tensor) -> torch.Tensor:
    """velocity along axis 1 (dif[0] = 0) without in-place writes."""
    return torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)


def person_weights(x: torch.Tensor, skip_empty: bool) -> torch.Tensor:
    """(N, C, T, V, M) -> (N, M) float weights of the person slots the PyTorch model computes."""
    present = (x.abs().amax(dim=(1, 2, 3)) > 0).to(x.dtype)  # (N, M)
    if not skip_empty:
        return torch.ones_like(present)
    none = (present.amax(dim=1, keepdim=True) == 0).to(x.dtype)  # all slots empty -> keep slot 0
    return torch.cat([torch.maximum(present[:, :1], none), present[:, 1:]], dim=1)


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

    def __init__(self, model: nn.Module):
        super().__init__()
        self.spatial, self.temporal, self.head = model.spatial, model.temporal, model.head
        self.transform = getattr(model, "transform", None)
        self.skip_empty = bool(model.cfg.skip_empty_persons)

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

    def __init__(self, model: nn.Module):
        super().__init__()
        if model.policy is None:
            raise ValueError(f"AdaSGN with policy {model.cfg.policy!r} has no policy network; "
                             "only learned policies (tconv, tconv2, lstm, transformer) export")
        self.transforms, self.spatials = model.transforms, model.spatials
        self.policy, self.temporal, self.head = model.policy, model.temporal, model.head
        self.skip_empty = bool(model.cfg.skip_empty_persons)
        self.num_choices = model.num_choices

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


# ---------------------------------------------------------------------------------------------
# export


def _metadata(model: nn.Module, kind: str, meta: dict, layout: str, in_channels: int) -> dict:
    cfg = model.cfg
    head = model.head.fc
    d = {"format": "adasgn-onnx-1", "model": kind, "layout": layout,
         "in_channels": int(in_channels), "num_frames": int(cfg.num_frames),
         "num_classes": int(head.out_features), "class_names": list(meta.get("class_names") or []),
         "dataset": meta.get("dataset")}
    if hasattr(model, "choices"):
        d["choices"] = [{"index": ch.index, "name": ch.name, "joints": ch.joints, "size": ch.size,
                         "gmacs": ch.gmacs} for ch in model.choices]
        d["choice_extra_gmacs"] = [float(g) for g in model.choice_extra_gmacs.tolist()]
        d["gmacs_fixed"] = float(model.gmacs_fixed)
    else:
        from .engine.trainer import static_gmacs

        d["gmacs"] = float(static_gmacs(model))
    return d


def export_model(model: nn.Module, out: str | os.PathLike, num_persons: int = 2,
                 metadata: dict | None = None, opset: int = OPSET) -> Path:
    """Export an eval-mode SGN / SingleSGN / AdaSGN to ``out`` (one .onnx file)."""
    require_onnx(runtime=False)
    import onnx

    model = model.eval().cpu()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    v = getattr(model, "num_joints", None) or cfg.num_joints
    x = torch.zeros(2, cfg.in_channels, cfg.num_frames, v, num_persons)
    x[0, ..., 0] = torch.linspace(-1, 1, x[0, ..., 0].numel()).reshape(x[0, ..., 0].shape)
    x[1] = x[0].flip(-1)
    adaptive = hasattr(model, "choices")
    if adaptive:
        wrapper = AdaSGNExport(model).eval()
        args = (x, torch.zeros(model.num_choices))
        names_in, names_out = ["x", "choice_bias"], ["logits", "decisions"]
        axes = {"x": {0: "batch"}, "logits": {0: "batch"}, "decisions": {0: "batch"}}
    else:
        wrapper = StaticExport(model).eval()
        args = (x,)
        names_in, names_out = ["x"], ["logits"]
        axes = {"x": {0: "batch"}, "logits": {0: "batch"}}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes used as Python ints
        torch.onnx.export(wrapper, args, str(out), input_names=names_in, output_names=names_out,
                          dynamic_axes=axes, opset_version=opset, dynamo=False,
                          do_constant_folding=True)
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
    from .data.presets import get_preset
    from .inference import load_model

    model, cfg, ck, layout, in_ch = load_model(checkpoint, "cpu")
    meta = ck.get("meta") or {}
    kind = cfg.model.name
    m = get_preset(cfg.data.dataset).max_persons
    md = _metadata(model, kind, meta, layout, in_ch)
    md["num_persons"] = m
    path = export_model(model, out, num_persons=m, metadata=md, opset=opset)
    return {"checkpoint": str(checkpoint), "onnx": str(path), "model": kind,
            "input": ["batch", in_ch, md["num_frames"], getattr(model, "num_joints", None)
                      or model.cfg.num_joints, m],
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
        return logits, np.full(len(x), float(self.meta.get("gmacs", np.nan)))

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

