"""Run a trained checkpoint on one skeleton sequence: ``Recognizer`` and ``Prediction``.

::

    from adasgn.inference import Recognizer

    rec = Recognizer.from_checkpoint("runs/ntu60/checkpoints/best.pt")     # budget=0.08 for AdaSGN
    p = rec.predict("S001C001P001R001A001.skeleton")
    print(p)                      # one line: top-5, branches, GMACs, latency
    p.to_dict()                   # JSON-ready

Accepted inputs (``predict(source)``):

* a raw NTU RGB+D ``.skeleton`` file -- read, denoised and centred exactly as ``adasgn prepare``
  does (:func:`adasgn.data.prepare.process_ntu_file`); layout ``ntu25``;
* an MSR Action3D ``aXX_sYY_eZZ_skeleton3D.txt`` file (:func:`~adasgn.data.prepare.process_msr_file`:
  zero frames dropped, centred on the spine); layout ``msr20``;
* a SHREC'17 / DHG ``skeletons_world.txt`` (:func:`~adasgn.data.prepare.shrec_normalise`);
  layout ``shrec22``;
* a ``.npy`` array of shape (T, V, C) or (M, T, V, C) (or the official NTU ``txt2npy`` dict with
  ``skel_body0`` ...), a NumPy array / torch tensor of those shapes -- taken as already
  preprocessed like the training pkl (arrays are not re-centred; the NTU dict is);
* a pyskl annotation dict (with ``keypoint`` (M, T, V, C)) or a pyskl ``.pkl`` file plus
  ``name=FRAME_DIR`` or ``index=I`` (not needed when the file holds one sample).

Then the checkpoint's own test-time pipeline runs (:func:`adasgn.data.dataset.default_pipeline`
with the training config's stream, frame count, view normalisation and person slots), and the
model. The result is a :class:`Prediction`: top-k classes with names and probabilities, the
branch chosen for every sampled frame of every computed person ("static" for SGN / single
models), the realised GMACs (paper convention, per person-sequence) and the measured latency
(model forward, and end to end including reading and preprocessing).

Wrong inputs fail before the model runs with an :class:`InputMismatchError` (a ``ValueError``)
saying what the checkpoint expects and what was found; unreadable files raise
:class:`adasgn.data.readers.DataError` (a ``ValueError``), missing ones ``FileNotFoundError``.
Prediction is deterministic: evaluation mode, policy decisions by ``argmax``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from .data.readers import DataError

__all__ = ["InputMismatchError", "Prediction", "Recognizer", "load_model", "read_input",
           "SkeletonInput"]

STATIC = "static"  # the branch name reported for every frame of a static model (SGN / single)
_MSR_NAME = re.compile(r"a\d{2}_s\d{2}_e\d{2}_skeleton3D\.txt$")
_FORMAT_TEXT = {"ntu": "NTU RGB+D .skeleton", "msr": "MSR Action3D",
                "shrec": "SHREC'17 skeletons_world"}


class InputMismatchError(ValueError):
    """The input does not fit the checkpoint (joints, coordinates, layout, shape)."""


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class Prediction:
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

    @property
    def index(self) -> int:
        return int(self.top[0]["index"])

    @property
    def name(self) -> str:
        return str(self.top[0]["name"])

    @property
    def probability(self) -> float:
        return float(self.top[0]["probability"])

    @property
    def usage(self) -> dict[str, float]:
        """Fraction of computed frames per branch name (in order of first appearance)."""
        flat = [b for person in self.branches for b in person]
        out: dict[str, float] = {}
        for b in flat:
            out[b] = out.get(b, 0) + 1
        return {k: v / max(len(flat), 1) for k, v in out.items()}

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(prediction=self.name, index=self.index, probability=self.probability,
                 usage=self.usage)
        return d

    def __str__(self) -> str:
        tops = " | ".join(f"{t['name']} {100 * t['probability']:.1f}%" for t in self.top)
        if self.model == "adasgn":
            use = " ".join(f"{k}:{100 * v:.0f}%" for k, v in self.usage.items())
            branch = f"branches {use}"
        else:
            branch = f"branches {STATIC}"
        budget = f" (budget {self.budget:g})" if self.budget is not None else ""
        return (f"{self.source}: {tops}; {branch}; {self.gmacs:.4f} GMACs{budget}; "
                f"forward {self.forward_ms:.2f} ms, total {self.total_ms:.2f} ms")


@dataclass
class SkeletonInput:
    """An input read and normalised like the training data: keypoint (M, T, V, C) float32."""

    keypoint: np.ndarray
    source: str
    layout: str | None = None  # known layout of the input (from the file format / pkl meta)
    kind: str = "array"  # ntu | msr | shrec | npy | array | pkl | entry
    label: int | None = None


# ---------------------------------------------------------------------------------------------
# model loading


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """(model.eval(), config, checkpoint dict, layout name, in_channels) from a checkpoint.

    Checkpoints written by ``adasgn train`` load through
    :func:`adasgn.engine.evaluate.model_from_checkpoint`. A checkpoint whose weights have another
    coordinate count or class count than its dataset preset (e.g. a 2-D COCO-17 model saved with
    ``meta: {"layout": "coco17", ...}``) is rebuilt from its config with those read from the weights.
    """
    from .data.presets import get_preset
    from .engine.checkpoint import load_checkpoint
    from .engine.evaluate import config_from_checkpoint, model_from_checkpoint
    from .engine.trainer import build_model
    from .skeleton import get_layout

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ck = load_checkpoint(path, map_location="cpu")
    if not isinstance(ck, dict) or "config" not in ck or "model" not in ck:
        raise ValueError(f"{path}: not an adasgn training checkpoint (no config/model)")
    cfg = config_from_checkpoint(ck)
    meta = ck.get("meta") or {}
    preset = get_preset(cfg.data.dataset)
    layout = get_layout(meta.get("layout") or preset.layout)
    state = ck["model"]
    in_ch = _weights_in_channels(state) or preset.in_channels
    n_cls = _weights_classes(state) or preset.num_classes
    if in_ch == preset.in_channels and n_cls == preset.num_classes:
        model, cfg, ck = model_from_checkpoint(path, device)
    else:
        preset = dataclasses.replace(preset, in_channels=in_ch, num_classes=n_cls)
        model = build_model(cfg, preset, layout)
        model.load_state_dict(state)
        model = model.to(device).eval()
        from .budget import attach_calibration

        attach_calibration(model, ck)
    return model, cfg, ck, layout.name, in_ch


def _weights_in_channels(state: Mapping[str, torch.Tensor]) -> int | None:
    for k, v in state.items():  # first dynamics embedding: (64, C)
        if k.endswith("joint_embed.fc1.weight"):
            return int(v.shape[1])
    return None


def _weights_classes(state: Mapping[str, torch.Tensor]) -> int | None:
    w = state.get("head.fc.weight")
    return int(w.shape[0]) if w is not None else None


# ---------------------------------------------------------------------------------------------
# reading inputs


def _sniff_text(path: str) -> str | None:
    """'msr' (4 values a line) or 'shrec' (66 values a line) from the first line of a text file."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1 << 16)
    except OSError:
        return None
    n = len(first.split())
    return {4: "msr", 66: "shrec"}.get(n)


def _file_kind(path: Path) -> str:
    name = path.name
    low = name.lower()
    if low.endswith(".skeleton"):
        return "ntu"
    if _MSR_NAME.search(name) or low.endswith("_skeleton3d.txt"):
        return "msr"
    if low == "skeletons_world.txt":
        return "shrec"
    if low.endswith(".npy"):
        return "npy"
    if low.endswith((".pkl", ".pickle")):
        return "pkl"
    if low.endswith(".txt"):
        kind = _sniff_text(str(path))
        if kind:
            return kind
        raise DataError(f"{path}: unrecognised text file: expected an MSR Action3D file "
                        "(4 values a line: x y z confidence) or a SHREC'17 skeletons_world.txt "
                        "(66 values a line)")
    raise DataError(f"{path}: unsupported input type; expected an NTU .skeleton, an MSR "
                    "aXX_sYY_eZZ_skeleton3D.txt, a SHREC'17 skeletons_world.txt, a .npy or a "
                    "pyskl .pkl")


def read_input(source: Any, *, name: str | None = None, index: int | None = None) -> SkeletonInput:
    """Read any accepted input (see the module docstring) into a :class:`SkeletonInput`."""
    if isinstance(source, torch.Tensor):
        source = source.detach().cpu().numpy()
    if isinstance(source, np.ndarray):
        return SkeletonInput(_as_array(source, "array"), f"array{tuple(source.shape)}")
    if isinstance(source, Mapping):
        return _from_entry(source, "entry", None)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"cannot predict on a {type(source).__name__}; pass a file path, a NumPy "
                        "array (T, V, C) / (M, T, V, C) or a pyskl annotation dict")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a skeleton file")
    kind = _file_kind(path)
    from .data import prepare as P
    from .data.readers import read_shrec

    src = path.name
    if kind == "ntu":
        kp, _ = P.process_ntu_file(path)
        return SkeletonInput(kp, src, "ntu25", kind)
    if kind == "msr":
        return SkeletonInput(P.process_msr_file(path), src, "msr20", kind)
    if kind == "shrec":
        try:
            kp = P.shrec_normalise(read_shrec(path))[None]
        except DataError as exc:
            msg = str(exc)
            raise DataError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
        return SkeletonInput(kp, src, "shrec22", kind)
    if kind == "npy":
        return _from_npy(path)
    return _from_pkl(path, name, index)


def _as_array(arr: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputMismatchError(f"{what}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim != 4:
        raise InputMismatchError(f"{what}: expected an array of shape (T, V, C) or (M, T, V, C), "
                                 f"got {arr.ndim} dimensions {tuple(arr.shape)}")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InputMismatchError(f"{what}: contains NaN or Inf")
    return arr


def _from_npy(path: Path) -> SkeletonInput:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise DataError(f"{path}: not a readable .npy file ({exc})") from None
        # an object array: the official NTU txt2npy dict (the user named this file explicitly)
        try:
            obj = np.load(path, allow_pickle=True)
            obj = obj.item() if obj.dtype == object and obj.shape == () else obj
        except Exception as exc2:  # noqa: BLE001 - report any unreadable pickle
            raise DataError(f"{path}: not a readable .npy file ({exc2})") from None
        if isinstance(obj, Mapping) and "skel_body0" in obj:
            return SkeletonInput(_ntu_txt2npy(obj, path), path.name, "ntu25", "npy")
        if isinstance(obj, Mapping) and "keypoint" in obj:
            return _from_entry(obj, path.name, None)
        raise DataError(f"{path}: holds a {type(obj).__name__}, expected an array (T, V, C) / "
                        "(M, T, V, C) or an NTU txt2npy dict with 'skel_body0'") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    return SkeletonInput(_as_array(arr, path.name), path.name, None, "npy")


def _ntu_txt2npy(obj: Mapping, path: Path) -> np.ndarray:
    """Bodies ``skel_body0``, ``skel_body1``... (T, 25, 3) camera space -> centred (M, T, 25, 3)
    like ``adasgn prepare`` (all-zero frames dropped, origin = spine middle of body 0's first
    frame). The file holds no body IDs, so the multi-body denoising cannot run."""
    from .data.prepare import ntu_centre

    bodies = []
    k = 0
    while f"skel_body{k}" in obj and k < 2:
        b = np.asarray(obj[f"skel_body{k}"], dtype=np.float32)
        if b.ndim != 3 or b.shape[1:] != (25, 3):
            raise InputMismatchError(f"{path}: skel_body{k} has shape {b.shape}, expected (T, 25, 3)")
        bodies.append(b)
        k += 1
    t = min(len(b) for b in bodies)
    joints = np.concatenate([b[:t].reshape(t, 75) for b in bodies], axis=1)
    joints = joints[np.any(joints != 0, axis=1)]
    if len(joints) == 0:
        raise DataError(f"{path}: all frames are zero")
    try:
        return ntu_centre(joints)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def _from_entry(entry: Mapping, source: str, layout: str | None) -> SkeletonInput:
    if "keypoint" not in entry:
        raise InputMismatchError(f"{source}: a pyskl annotation needs a 'keypoint' array "
                                 f"(M, T, V, C); keys: {sorted(map(str, entry))}")
    kp = _as_array(entry["keypoint"], source)
    name = entry.get("frame_dir")
    label = entry.get("label")
    desc = f"{source}[{name}]" if name is not None and source != str(name) else str(name or source)
    return SkeletonInput(kp, desc, layout, "entry",
                         int(label) if isinstance(label, (int, np.integer)) else None)


def _from_pkl(path: Path, name: str | None, index: int | None) -> SkeletonInput:
    from .data.pkl import load_pkl

    data = load_pkl(path)
    anns = data["annotations"]
    meta = data.get("meta") or {}
    if name is not None:
        hits = [a for a in anns if a["frame_dir"] == name]
        if not hits:
            some = ", ".join(a["frame_dir"] for a in anns[:3])
            raise KeyError(f"{path}: no sample named {name!r} ({len(anns)} samples, e.g. {some})")
        entry = hits[0]
    elif index is not None:
        if not -len(anns) <= index < len(anns):
            raise IndexError(f"{path}: index {index} out of range ({len(anns)} samples)")
        entry = anns[index]
    elif len(anns) == 1:
        entry = anns[0]
    else:
        raise ValueError(f"{path} holds {len(anns)} samples: choose one with name=FRAME_DIR "
                         "(--name) or index=I (--index)")
    out = _from_entry(entry, path.name, meta.get("layout"))
    out.kind = "pkl"
    return out


# ---------------------------------------------------------------------------------------------
# the recogniser


class Recognizer:
    """A trained checkpoint ready to classify single sequences.

    ``Recognizer.from_checkpoint(path, device="cpu", budget=None)``; ``predict(source)`` /
    ``predict_many(sources)``. ``budget`` (GMACs per person-sequence) is passed to the model's
    ``set_budget`` (AdaSGN checkpoints with a budget calibration); other models raise ValueError.
    """

    def __init__(self, model: torch.nn.Module, cfg, meta: dict, layout: str, in_channels: int,
                 device: str | torch.device = "cpu", source: str = "<model>",
                 warmup: bool = True):
        from .data.classes import CLASS_NAMES
        from .data.dataset import default_pipeline
        from .data.presets import get_preset
        from .data.transforms import build_pipeline
        from .skeleton import get_layout

        self.model = model.eval()
        self.cfg = cfg
        self.meta = dict(meta or {})
        self.device = torch.device(device)
        self.source = source
        self.layout = get_layout(layout)
        self.in_channels = int(in_channels)
        self.kind = cfg.model.name
        self.adaptive = hasattr(model, "choices")
        if self.adaptive and getattr(model.cfg, "eval_decision", "argmax") != "argmax":
            model.cfg.eval_decision = "argmax"  # deterministic prediction
        preset = get_preset(cfg.data.dataset)
        self.dataset = preset.name
        self.num_persons = preset.max_persons
        names = self.meta.get("class_names") or CLASS_NAMES.get(preset.name) or []
        k = int(model.head.fc.out_features)
        self.class_names = [str(names[i]) if i < len(names) else str(i) for i in range(k)]
        self.num_frames = int(cfg.data.num_frames)
        steps = default_pipeline(preset.name, cfg.data.stream, False, num_frames=self.num_frames,
                                 rot_norm=cfg.data.rot_norm, layout=self.layout.name,
                                 num_persons=self.num_persons)
        self.pipeline = build_pipeline(steps)
        self.budget: float | None = None
        self._static_gmacs: float | None = None
        if warmup:
            self._warmup()

    # -------------------------------------------------------------- construction
    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str | torch.device = "cpu",
                        budget: float | None = None, warmup: bool = True,
                        budget_mode: str = "mean") -> "Recognizer":
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device cuda requested but CUDA is not available")
        model, cfg, ck, layout, in_ch = load_model(path, dev)
        rec = cls(model, cfg, ck.get("meta") or {}, layout, in_ch, dev, str(path), warmup=False)
        if budget is not None:
            rec.set_budget(budget, mode=budget_mode)
        if warmup:
            rec._warmup()
        return rec

    def set_budget(self, gmacs: float | None, mode: str = "mean") -> None:
        """Aim AdaSGN at ``gmacs`` per person-sequence (the model's ``set_budget``; ``mode``
        mean = calibrated lambda, sample = every sequence on its own, see adasgn.budget)."""
        if gmacs is None:
            if self.budget is not None and hasattr(self.model, "set_budget"):
                self.model.set_budget(None)
            self.budget = None
            return
        if not hasattr(self.model, "set_budget"):
            if self.adaptive:
                raise ValueError(f"{self.source}: this AdaSGN model has no set_budget (this "
                                 "version of adasgn cannot apply a compute budget)")
            raise ValueError(f"a compute budget applies to AdaSGN checkpoints only; {self.source} "
                             f"holds a {self.kind} model (fixed cost {self.static_gmacs():.4f} "
                             "GMACs per person-sequence)")
        self.model.set_budget(float(gmacs), mode=mode)
        self.budget = float(gmacs)

    def _warmup(self) -> None:
        x = torch.zeros(1, self.in_channels, self.num_frames, self.layout.num_joints,
                        self.num_persons, device=self.device)
        x[..., 0] = 0.01
        with torch.inference_mode():
            self.model(x)
        if not self.adaptive:
            self.static_gmacs()

    def static_gmacs(self) -> float:
        """Paper GMACs of a static model per person-sequence (measured once)."""
        if self._static_gmacs is None:
            from .engine.trainer import static_gmacs

            self._static_gmacs = float(static_gmacs(self.model))
        return self._static_gmacs

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
        what = (f"file {inp.source} ({_FORMAT_TEXT[inp.kind]})" if inp.kind in _FORMAT_TEXT
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
            from .skeleton import get_layout

            inp.layout = get_layout(layout).name
        return self._predict_input(inp, topk, t0)

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
        out = self.model(x)
        if sync:
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        if isinstance(out, tuple):
            logits, info = out
            gmacs = float(info.gmacs[0])
            names = [c.name for c in self.model.choices]
            dec = info.decisions[0].cpu().numpy()  # (M, T)
            present = info.present[0].cpu().numpy()  # (M,)
            branches = [["all" if d < 0 else names[d] for d in dec[m].tolist()]
                        for m in range(dec.shape[0]) if present[m]]
        else:
            logits = out
            gmacs = self.static_gmacs()
            present = _present_slots(x[0])
            if not getattr(self.model.cfg, "skip_empty_persons", True):
                present[:] = True  # the official behaviour: every slot computed
            branches = [[STATIC] * self.num_frames for _ in range(int(present.sum()))]
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
                          label=inp.label)


def _present_slots(x: torch.Tensor) -> np.ndarray:
    """The person slots a model computes for one input (C, T, V, M): the non-empty ones, or slot
    0 when all are empty (the rule of :func:`adasgn.models.sgn.split_persons`)."""
    present = x.ne(0).flatten(0, 2).any(0).cpu().numpy()
    if not present.any():
        present[0] = True
    return present
