"""Reading one skeleton sequence from any accepted input, normalised like the training data.

Accepted (``read_input(source)``):

* a raw NTU RGB+D ``.skeleton`` file -- read, denoised and centred exactly as ``adasgn prepare``
  does (:func:`adasgn.data.prepare.process_ntu_file`); layout ``ntu25``;
* an MSR Action3D ``aXX_sYY_eZZ_skeleton3D.txt`` file (:func:`~adasgn.data.prepare.process_msr_file`:
  zero frames dropped, centred on the spine); layout ``msr20``;
* a SHREC'17 / DHG ``skeletons_world.txt`` (:func:`~adasgn.data.prepare.shrec_normalise`);
  layout ``shrec22``;
* a SFINGE3D gesture or long sequence ``.txt`` (140 values a line, ``,`` or ``;`` between them:
  :func:`~adasgn.data.prepare.process_sfinge3d_file`, as ``adasgn prepare sfinge3d`` reads it);
  layout ``leap20``;
* a ``.npy`` array of shape (T, V, C) or (M, T, V, C) (or the official NTU ``txt2npy`` dict with
  ``skel_body0`` ...), a NumPy array / torch tensor of those shapes -- taken as already
  preprocessed like the training pkl (arrays are not re-centred; the NTU dict is);
* a pyskl annotation dict (with ``keypoint`` (M, T, V, C)) or a pyskl ``.pkl`` file plus
  ``name=FRAME_DIR`` or ``index=I`` (not needed when the file holds one sample).

The file format is told by the name, and for a ``.txt`` by the value count of its first line.
Unreadable files raise :class:`adasgn.errors.DataError`, missing ones ``FileNotFoundError``,
arrays of the wrong shape or with NaN :class:`InputMismatchError` (a ``ValueError``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..errors import DataError
from .pkl import UnsafePickleError, load_pkl, safe_load
from .prepare import (ntu_centre, process_msr_file, process_ntu_file, process_sfinge3d_file,
                      shrec_normalise)
from .readers import SFINGE_JOINTS, SFINGE_VALUES, read_shrec, sfinge3d_tokens

__all__ = ["FORMAT_TEXT", "InputMismatchError", "SkeletonInput", "read_input"]

_MSR_NAME = re.compile(r"a\d{2}_s\d{2}_e\d{2}_skeleton3D\.txt$")
FORMAT_TEXT = {"ntu": "NTU RGB+D .skeleton", "msr": "MSR Action3D",
               "shrec": "SHREC'17 skeletons_world", "sfinge3d": "SFINGE3D"}


class InputMismatchError(ValueError):
    """The input does not fit the checkpoint (joints, coordinates, layout, shape)."""


@dataclass
class SkeletonInput:
    """An input read and normalised like the training data: keypoint (M, T, V, C) float32."""

    keypoint: np.ndarray
    source: str
    layout: str | None = None  # known layout of the input (from the file format / pkl meta)
    kind: str = "array"  # ntu | msr | shrec | sfinge3d | npy | array | pkl | entry
    label: int | None = None


# ---------------------------------------------------------------------------------------------
# reading inputs


def _sniff_text(path: str) -> str | None:
    """'msr' (4 values a line), 'shrec' (66 values a line) or 'sfinge3d' (140 values a line,
    separated by ``,`` or ``;``) from the first line of a text file."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1 << 16)
    except OSError:
        return None
    if len(sfinge3d_tokens(first)) == SFINGE_JOINTS * SFINGE_VALUES:
        return "sfinge3d"
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
                        "(4 values a line: x y z confidence), a SHREC'17 skeletons_world.txt "
                        "(66 values a line) or a SFINGE3D file (140 values a line)")
    raise DataError(f"{path}: unsupported input type; expected an NTU .skeleton, an MSR "
                    "aXX_sYY_eZZ_skeleton3D.txt, a SHREC'17 skeletons_world.txt, a SFINGE3D "
                    ".txt, a .npy or a pyskl .pkl")


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
    src = path.name
    if kind == "ntu":
        kp, _ = process_ntu_file(path)
        return SkeletonInput(kp, src, "ntu25", kind)
    if kind == "msr":
        return SkeletonInput(process_msr_file(path), src, "msr20", kind)
    if kind == "shrec":
        try:
            kp = shrec_normalise(read_shrec(path))[None]
        except DataError as exc:
            msg = str(exc)
            raise DataError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
        return SkeletonInput(kp, src, "shrec22", kind)
    if kind == "sfinge3d":
        return SkeletonInput(process_sfinge3d_file(path), src, "leap20", kind)
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
        # an object array (the official NTU txt2npy dict): its payload is a pickle, read with
        # the restricted unpickler (data/pkl.py) -- never allowed to run code
        try:
            obj = _load_object_npy(path)
            obj = obj.item() if obj.dtype == object and obj.shape == () else obj
        except UnsafePickleError:
            raise
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


def _load_object_npy(path: Path, allow_unsafe: bool | None = None) -> np.ndarray:
    """A ``.npy`` holding an object array: the header, then a pickle of the array (NumPy's
    format), unpickled by :func:`adasgn.data.pkl.safe_load`."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(fh)
        else:
            np.lib.format.read_array_header_2_0(fh)
        return safe_load(fh, str(path), allow_unsafe)


def _ntu_txt2npy(obj: Mapping, path: Path) -> np.ndarray:
    """Bodies ``skel_body0``, ``skel_body1``... (T, 25, 3) camera space -> centred (M, T, 25, 3)
    like ``adasgn prepare`` (all-zero frames dropped, origin = spine middle of body 0's first
    frame). The file holds no body IDs, so the multi-body denoising cannot run."""
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
