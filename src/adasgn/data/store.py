"""A memory-mapped sample store: the whole dataset as one array that every process shares.

A store is a directory ``NAME.store/`` of plain ``.npy`` files opened with
``numpy.load(mmap_mode="r")``, so that all DataLoader workers and all DDP ranks of a node read
the same page-cache pages instead of each unpickling its own copy of the data::

    keypoint.npy   float32 (or float16) (F, V, C): every frame of every person of every sample,
                   sample after sample, person after person (sample i, person m, frame t is row
                   offsets[i] + m * T_i + t)
    offsets.npy    int64 (N + 1,)   first row of each sample; offsets[N] == F
    shapes.npy     int64 (N, 2)     (M, T) of each sample
    labels.npy     int64 (N,)
    index.json     format, version, names, splits, meta, dtype, counts, and checksums

The pkl stays the exchange format: :func:`write_store` / :func:`store_from_pkl` make a store,
:func:`store_to_pkl` gives the pkl back (the round trip is exact for float32 stores).
Writing is atomic: everything goes to a temporary directory beside the target, ``index.json``
is written last, and the directory is renamed into place -- a crash leaves the old store or
none, never half of one. :func:`open_store` checks, before handing out a single sample, that
every file is there with the dtype and shape ``index.json`` promises (a truncated file is
caught here), that the offsets are consistent, and the CRC-32 of the small arrays and of the
first and last MiB of the keypoint array; :func:`verify_store` checks the CRC of everything.

:class:`SkeletonStore` behaves like the loaded pkl dict (``store["split"]``,
``store["annotations"]``, ``store["meta"]``), so :class:`adasgn.data.dataset.SkeletonDataset`
reads a store or a pkl transparently; an annotation is built on access, its ``keypoint`` a
view into the memory map (nothing is copied until a pipeline step does).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import DataError
from .pkl import load_pkl, save_pkl

__all__ = ["FORMAT", "SkeletonStore", "is_store", "open_store", "store_from_pkl", "store_to_pkl",
           "verify_store", "write_store"]

FORMAT = "adasgn-store"
VERSION = 1
INDEX = "index.json"
ARRAYS = ("keypoint", "offsets", "shapes", "labels")
EDGE = 1 << 20  # bytes of the keypoint file checksummed at each end on open
CHUNK = 64 << 20


def is_store(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / INDEX).is_file()


# ---------------------------------------------------------------------------------------------
# writing


def _crc_file(path: Path, start: int = 0, length: int | None = None) -> int:
    crc = 0
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left is None or left > 0:
            block = fh.read(CHUNK if left is None else min(CHUNK, left))
            if not block:
                break
            crc = zlib.crc32(block, crc)
            if left is not None:
                left -= len(block)
    return crc


def _edge_crc(path: Path) -> dict:
    size = path.stat().st_size
    head = min(EDGE, size)
    tail_start = max(size - EDGE, 0)
    return {"size": size, "head": _crc_file(path, 0, head),
            "tail": _crc_file(path, tail_start, size - tail_start)}


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def write_store(out: str | os.PathLike, annotations: Iterable[Mapping],
                split: Mapping[str, Iterable[str]] | None = None,
                meta: Mapping[str, Any] | None = None, dtype: str = "float32",
                progress=None) -> Path:
    """Write ``annotations`` (dicts with ``frame_dir``, ``label``, ``keypoint`` (M, T, V, C))
    as a store at ``out`` (a directory, replaced atomically if it exists)."""
    if dtype not in ("float32", "float16"):
        raise ValueError(f"store dtype must be float32 or float16, got {dtype!r}")
    anns = list(annotations)
    if not anns:
        raise DataError(f"{out}: no sample to write")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shapes = np.zeros((len(anns), 2), dtype=np.int64)
    first = np.asarray(anns[0]["keypoint"])
    v, c = first.shape[2], first.shape[3]
    for i, a in enumerate(anns):
        kp = np.asarray(a["keypoint"])
        if kp.ndim != 4 or kp.shape[2:] != (v, c):
            raise DataError(f"{out}: sample {a['frame_dir']!r} has keypoint shape {kp.shape}; a "
                            f"store holds one joint / channel count ((M, T, {v}, {c}))")
        shapes[i] = kp.shape[:2]
    rows = shapes[:, 0] * shapes[:, 1]
    offsets = np.zeros(len(anns) + 1, dtype=np.int64)
    np.cumsum(rows, out=offsets[1:])
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        kp_path = tmp / "keypoint.npy"
        big = np.lib.format.open_memmap(kp_path, mode="w+", dtype=np.dtype(dtype),
                                        shape=(int(offsets[-1]), v, c))
        for i, a in enumerate(anns):
            kp = np.asarray(a["keypoint"], dtype=np.float32)
            big[offsets[i]:offsets[i + 1]] = kp.reshape(-1, v, c)
            if progress is not None:
                progress(i + 1, len(anns))
        big.flush()
        del big
        with open(kp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        labels = np.array([int(a["label"]) for a in anns], dtype=np.int64)
        for name, arr in (("offsets", offsets), ("shapes", shapes), ("labels", labels)):
            _save_npy(tmp / f"{name}.npy", arr)
        names = [str(a["frame_dir"]) for a in anns]
        index = {
            "format": FORMAT, "version": VERSION, "dtype": dtype, "num_samples": len(anns),
            "num_frames": int(offsets[-1]), "num_joints": int(v), "channels": int(c),
            "names": names,
            "split": {k: [str(n) for n in members] for k, members in (split or {}).items()},
            "meta": dict(meta or {}),
            "crc": {"offsets": _crc_file(tmp / "offsets.npy"),
                    "shapes": _crc_file(tmp / "shapes.npy"),
                    "labels": _crc_file(tmp / "labels.npy"),
                    "keypoint": _edge_crc(kp_path), "keypoint_full": _crc_file(kp_path)},
        }
        known = set(names)
        for sname, members in index["split"].items():
            missing = [m for m in members if m not in known]
            if missing:
                raise DataError(f"{out}: split {sname!r} names samples that are not in the data, "
                                f"e.g. {missing[:3]}")
        with open(tmp / INDEX, "w") as fh:  # last: a directory with index.json is complete
            json.dump(index, fh)
            fh.flush()
            os.fsync(fh.fileno())
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` to ``out``; an existing ``out`` is swapped out first and
    removed after (rename is atomic; at every moment a complete store is at ``out`` or at the
    swap name)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_from_pkl(pkl: str | os.PathLike, out: str | os.PathLike, dtype: str = "float32",
                   allow_unsafe: bool | None = None, progress=None) -> Path:
    """``adasgn convert FILE.pkl OUT.store``: the store of a canonical pkl."""
    data = load_pkl(pkl, allow_unsafe=allow_unsafe)
    return write_store(out, data["annotations"], data.get("split"), data.get("meta"), dtype,
                       progress)


def store_to_pkl(store: str | os.PathLike, out: str | os.PathLike) -> Path:
    """``adasgn convert OUT.store FILE.pkl``: the canonical pkl back (the exchange format)."""
    st = open_store(store)
    anns = [dict(a, keypoint=np.array(a["keypoint"], dtype=np.float32)) for a in st["annotations"]]
    save_pkl(out, anns, st["split"], st["meta"])
    return Path(out)


# ---------------------------------------------------------------------------------------------
# reading


class _Annotations(Sequence):
    """The store's samples as annotation dicts, built on access (keypoint: a memory-map view)."""

    def __init__(self, store: "SkeletonStore"):
        self._s = store

    def __len__(self) -> int:
        return len(self._s.names)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        s = self._s
        i = range(len(self))[i]
        m, t = s._shapes[i]
        kp = s.keypoint[s._rows[i]:s._rows[i + 1]].reshape(m, t, s.num_joints, s.channels)
        return {"frame_dir": s.names[i], "label": int(s.labels[i]), "total_frames": t,
                "keypoint": kp}


class SkeletonStore(Mapping):
    """An open store: a read-only mapping with the pkl dict's keys ``split``, ``annotations``,
    ``meta``; ``keypoint`` / ``offsets`` / ``shapes`` / ``labels`` are the memory-mapped arrays."""

    def __init__(self, path: Path, index: dict, arrays: dict):
        self.path = path
        self.index = index
        # the big array stays a map, seen as a plain ndarray (np.memmap's subclass machinery
        # costs more per slice than the rest of a sample's loading); the small ones are read
        self.keypoint = arrays["keypoint"].view(np.ndarray)
        self.offsets = np.array(arrays["offsets"])
        self.shapes = np.array(arrays["shapes"])
        self.labels = np.array(arrays["labels"])
        self._rows = self.offsets.tolist()
        self._shapes = self.shapes.tolist()
        self.names: list[str] = list(index["names"])
        self.num_joints = int(index["num_joints"])
        self.channels = int(index["channels"])
        self._view = {"split": index["split"], "annotations": _Annotations(self),
                      "meta": index["meta"]}

    def __getitem__(self, key):
        return self._view[key]

    def __iter__(self):
        return iter(self._view)

    def __len__(self) -> int:
        return len(self._view)

    def position(self) -> dict[str, int]:
        """frame_dir -> sample index."""
        return {n: i for i, n in enumerate(self.names)}

    def __repr__(self) -> str:
        return (f"SkeletonStore({self.path}, {len(self.names)} samples, "
                f"{self.index['num_frames']} frames, {self.index['dtype']})")


def _bad(path: Path, msg: str) -> DataError:
    return DataError(f"{path}: corrupted or incomplete store: {msg} (rewrite it with `adasgn "
                     "convert` or `adasgn prepare ... --store`)", "corrupted store")


def open_store(path: str | os.PathLike) -> SkeletonStore:
    """Open a store read-only (memory-mapped), after the checks of the module doc."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: no such store directory")
    try:
        index = json.loads((path / INDEX).read_text())
    except FileNotFoundError:
        raise _bad(path, f"no {INDEX} (an interrupted write?)") from None
    except (OSError, ValueError) as exc:
        raise _bad(path, f"{INDEX} is not readable JSON ({exc})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise _bad(path, f"{INDEX} is not an {FORMAT} index")
    if int(index.get("version", 0)) > VERSION:
        raise DataError(f"{path}: store version {index['version']} is newer than this adasgn "
                        f"reads ({VERSION}); upgrade adasgn", "unsupported store")
    n, f = int(index["num_samples"]), int(index["num_frames"])
    want = {"keypoint": (np.dtype(index["dtype"]), (f, int(index["num_joints"]),
                                                    int(index["channels"]))),
            "offsets": (np.dtype(np.int64), (n + 1,)), "shapes": (np.dtype(np.int64), (n, 2)),
            "labels": (np.dtype(np.int64), (n,))}
    arrays = {}
    for name, (dtype, shape) in want.items():
        file = path / f"{name}.npy"
        if not file.is_file():
            raise _bad(path, f"{file.name} is missing")
        try:
            with open(file, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                got_shape, fortran, got_dtype = read(fh)
                header = fh.tell()
        except (OSError, ValueError) as exc:
            raise _bad(path, f"{file.name}: not a .npy file ({exc})") from None
        if tuple(got_shape) != shape or got_dtype != dtype or fortran:
            raise _bad(path, f"{file.name} holds {got_dtype} {tuple(got_shape)}, the index "
                             f"says {dtype} {shape}")
        need = header + int(np.prod(shape)) * dtype.itemsize
        size = file.stat().st_size
        if size != need:
            raise _bad(path, f"{file.name} has {size} bytes, {need} expected (truncated?)")
        if name != "keypoint" and _crc_file(file) != index["crc"][name]:
            raise _bad(path, f"{file.name}: checksum mismatch")
        arrays[name] = np.load(file, mmap_mode="r", allow_pickle=False)
    edge = _edge_crc(path / "keypoint.npy")
    if edge != index["crc"]["keypoint"]:
        raise _bad(path, "keypoint.npy: checksum mismatch at its start or end")
    off, shp = arrays["offsets"], arrays["shapes"]
    if off[0] != 0 or off[-1] != f or not np.array_equal(np.diff(off), shp[:, 0] * shp[:, 1]):
        raise _bad(path, "offsets do not match the sample shapes")
    if len(index["names"]) != n or len(set(index["names"])) != n:
        raise _bad(path, "the sample names are missing or not unique")
    return SkeletonStore(path, index, arrays)


def verify_store(path: str | os.PathLike) -> SkeletonStore:
    """:func:`open_store` plus the CRC-32 of the whole keypoint array (reads every byte)."""
    st = open_store(path)
    if _crc_file(Path(path) / "keypoint.npy") != st.index["crc"]["keypoint_full"]:
        raise _bad(Path(path), "keypoint.npy: checksum mismatch")
    return st
