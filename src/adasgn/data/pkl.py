"""The canonical exchange format: a pyskl / mmaction2 annotation pickle.

Layout (pyskl's, plus one extra top-level key that pyskl ignores)::

    {
      "split": {"xsub_train": [frame_dir, ...], "xsub_val": [...], ...},
      "annotations": [
        {"frame_dir": "S001C001P001R001A001", "label": 0, "total_frames": 103,
         "keypoint": float32 array (M, T, V, C), ...any extra keys...},
        ...
      ],
      "meta": {"dataset": "ntu60", "layout": "ntu25", "class_names": [...],
               "adasgn_version": "0.1.0", ...},
    }

``M`` is the number of persons of that sample (1 or 2 after NTU denoising; not padded), ``T``
its frame count (not padded), ``V`` the joints of the layout, ``C`` 3 (x, y, z) or 2 (x, y).
Split names follow pyskl: ``xsub_train`` / ``xsub_val`` ... where ``_val`` is pyskl's name for
the *test* split.

:func:`load_pkl` also accepts one bare annotation dict (like pyskl's per-sample examples).

**Safety**: a plain pickle can run arbitrary code when it is loaded. Every pickle adasgn opens
goes through :func:`safe_load` instead, a restricted unpickler that resolves only the globals an
annotation file contains -- builtin containers and scalars, NumPy arrays, dtypes and scalars --
and refuses anything else with a :class:`UnsafePickleError` naming the file and the refused
global, before it is called. ``allow_unsafe=True`` (``adasgn --allow-unsafe-pickle COMMAND``) is
the explicit opt-in for a trusted file that holds other objects.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Iterable, Mapping

import numpy as np

from .. import __version__
from ..atomic import atomic_write
from ..errors import DataError

__all__ = [
    "REQUIRED_KEYS",
    "SAFE_GLOBALS",
    "UnsafePickleError",
    "load_pkl",
    "safe_load",
    "set_allow_unsafe_default",
    "save_pkl",
    "make_annotation",
    "validate_annotation",
]

REQUIRED_KEYS = ("frame_dir", "label", "keypoint")
PICKLE_PROTOCOL = 4  # readable by every Python >= 3.4 (pyskl / mmaction2 environments)

# What a pyskl / mmaction2 / adasgn annotation pickle refers to, and nothing else: containers and
# scalars (protocol 2 names the builtins module "__builtin__"), NumPy's array / dtype / scalar
# reconstruction (numpy < 2 "numpy.core", numpy >= 2 "numpy._core"; protocol 5 "_frombuffer"),
# and "_codecs.encode", with which protocol 2 stores bytes (it only encodes a string).
_BUILTINS = ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int",
             "float", "complex", "bool", "slice", "range")
SAFE_GLOBALS = frozenset(
    {(m, n) for m in ("builtins", "__builtin__") for n in _BUILTINS}
    | {(f"{core}.multiarray", n) for core in ("numpy.core", "numpy._core")
       for n in ("_reconstruct", "scalar")}
    | {(f"{core}.numeric", "_frombuffer") for core in ("numpy.core", "numpy._core")}
    | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
       ("collections", "OrderedDict")}
    | {("numpy.dtypes", n) for n in ("Float16DType", "Float32DType", "Float64DType",
                                     "Int8DType", "Int16DType", "Int32DType", "Int64DType",
                                     "UInt8DType", "UInt16DType", "UInt32DType", "UInt64DType",
                                     "BoolDType", "StrDType", "BytesDType")}
)
_ALLOW_UNSAFE = {"default": False}


class UnsafePickleError(DataError):
    """A pickle asked for a global that annotation files never contain (it could run code)."""

    def __init__(self, message: str):
        super().__init__(message, "unsafe pickle")


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, fh, source: str):
        super().__init__(fh)
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.source}: refused to load: the pickle asks for the global {module}.{name}, "
            "which an annotation file never contains (a pickle can run code when it is loaded). "
            "If you trust this file, load it with --allow-unsafe-pickle (API: allow_unsafe=True)")


def set_allow_unsafe_default(allow: bool) -> None:
    """The process-wide default of ``allow_unsafe`` (what ``adasgn --allow-unsafe-pickle`` sets;
    DataLoader workers inherit it)."""
    _ALLOW_UNSAFE["default"] = bool(allow)


def safe_load(fh, source: str = "<pickle>", allow_unsafe: bool | None = None) -> Any:
    """Unpickle from the open binary file ``fh`` allowing only :data:`SAFE_GLOBALS` (unless
    ``allow_unsafe``; ``None`` = the process default, off unless opted in)."""
    if allow_unsafe is None:
        allow_unsafe = _ALLOW_UNSAFE["default"]
    if allow_unsafe:
        return pickle.load(fh)
    return _SafeUnpickler(fh, source).load()


def make_annotation(frame_dir: str, label: int, keypoint: np.ndarray, **extra: Any) -> dict:
    """One sample: ``keypoint`` (M, T, V, C) is stored as float32; ``total_frames`` = T."""
    kp = np.ascontiguousarray(keypoint, dtype=np.float32)
    if kp.ndim != 4:
        raise DataError(f"sample {frame_dir!r}: keypoint must be (M, T, V, C), got shape {kp.shape}")
    ann = {"frame_dir": str(frame_dir), "label": int(label), "total_frames": int(kp.shape[1]),
           "keypoint": kp}
    ann.update(extra)
    return ann


def validate_annotation(ann: Any, source: str = "<annotations>", index: int | None = None) -> dict:
    """Check one annotation dict in place (keypoint -> float32); raise DataError naming ``source``."""
    where = f"{source}: annotation {index}" if index is not None else f"{source}: annotation"
    if not isinstance(ann, Mapping):
        raise DataError(f"{where} is a {type(ann).__name__}, expected a dict")
    missing = [k for k in REQUIRED_KEYS if k not in ann]
    if missing:
        raise DataError(f"{where} is missing key(s) {missing} (has {sorted(ann)})")
    name = ann["frame_dir"]
    where = f"{where} ({name!r})"
    kp = np.asarray(ann["keypoint"])
    if kp.ndim != 4:
        raise DataError(f"{where}: keypoint must have 4 dimensions (M, T, V, C), got shape {kp.shape}")
    if kp.shape[-1] not in (2, 3):
        raise DataError(f"{where}: keypoint has {kp.shape[-1]} channels, expected 2 (x, y) or 3 (x, y, z)")
    if not np.issubdtype(kp.dtype, np.number):
        raise DataError(f"{where}: keypoint has non-numeric dtype {kp.dtype}")
    if kp.dtype != np.float32:
        kp = kp.astype(np.float32)
    if not np.isfinite(kp).all():
        raise DataError(f"{where}: keypoint contains NaN or Inf")
    label = ann["label"]
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or label < 0:
        raise DataError(f"{where}: label must be a non-negative int (0-based), got {label!r}")
    total = ann.get("total_frames", kp.shape[1])
    if int(total) != kp.shape[1]:
        raise DataError(f"{where}: total_frames={total} but keypoint has {kp.shape[1]} frames")
    out = dict(ann)
    out["frame_dir"] = str(name)
    out["label"] = int(label)
    out["total_frames"] = int(kp.shape[1])
    out["keypoint"] = kp
    if "keypoint_score" in out and out["keypoint_score"] is not None:
        out["keypoint_score"] = np.asarray(out["keypoint_score"], dtype=np.float32)
    return out


def _validate_all(data: Any, source: str) -> dict:
    if not isinstance(data, Mapping):
        raise DataError(f"{source}: expected a dict with 'annotations' (pyskl format), got "
                        f"{type(data).__name__}")
    if "annotations" not in data:
        if all(k in data for k in REQUIRED_KEYS):  # a bare single annotation
            data = {"split": {}, "annotations": [data]}
        else:
            raise DataError(f"{source}: not a pyskl annotation file: no 'annotations' key "
                            f"(keys: {sorted(map(str, data))})")
    anns = data["annotations"]
    if not isinstance(anns, (list, tuple)):
        raise DataError(f"{source}: 'annotations' must be a list, got {type(anns).__name__}")
    out_anns = [validate_annotation(a, source, i) for i, a in enumerate(anns)]
    names = [a["frame_dir"] for a in out_anns]
    known = set(names)
    if len(known) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:5]
        raise DataError(f"{source}: duplicate frame_dir values, e.g. {dup}")
    split = data.get("split") or {}
    if not isinstance(split, Mapping):
        raise DataError(f"{source}: 'split' must be a dict of lists, got {type(split).__name__}")
    out_split: dict[str, list[str]] = {}
    for sname, members in split.items():
        if isinstance(members, (str, bytes)) or not isinstance(members, Iterable):
            raise DataError(f"{source}: split {sname!r} must be a list of frame_dir names")
        members = [str(m) for m in members]
        unknown = [m for m in members if m not in known]
        if unknown:
            raise DataError(f"{source}: split {sname!r} names {len(unknown)} sample(s) that are not "
                            f"in 'annotations', e.g. {unknown[:3]}")
        out_split[str(sname)] = members
    meta = dict(data.get("meta") or {})
    out = {k: v for k, v in data.items() if k not in ("split", "annotations", "meta")}
    out.update(split=out_split, annotations=out_anns, meta=meta)
    return out


def load_pkl(path: str | os.PathLike, allow_unsafe: bool | None = None) -> dict:
    """Load and validate a pyskl / mmaction2 annotation pickle (or one bare annotation dict).

    Returns ``{"split": {...}, "annotations": [...], "meta": {...}}`` with every keypoint as
    float32 (M, T, V, C) (pyskl's float16 is converted). Raises DataError naming the file for
    a missing key, a keypoint that is not 4-D, NaN/Inf, a split naming unknown samples, and
    :class:`UnsafePickleError` for a global an annotation file never holds (read with
    :func:`safe_load`; ``allow_unsafe=True`` opts out for a trusted file).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = safe_load(fh, path, allow_unsafe)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError,
            ValueError, TypeError) as exc:
        raise DataError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    return _validate_all(data, path)


def save_pkl(
    path: str | os.PathLike,
    annotations: Iterable[Mapping],
    split: Mapping[str, Iterable[str]] | None = None,
    meta: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> dict:
    """Write a pyskl annotation pickle atomically; returns the dict written.

    ``meta`` gets ``adasgn_version`` added; recommended keys are ``dataset``, ``layout``
    (a built-in name or a YAML path) and ``class_names``.
    """
    meta = dict(meta or {})
    meta.setdefault("adasgn_version", __version__)
    data = {"split": {k: list(v) for k, v in (split or {}).items()},
            "annotations": list(annotations), "meta": meta}
    if validate:
        data = _validate_all(data, os.fspath(path))
    atomic_write(path, pickle.dumps(data, protocol=PICKLE_PROTOCOL))
    return data
