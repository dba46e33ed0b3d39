"""``adasgn prepare``: raw dataset files in, one pyskl annotation pickle out.

* **NTU RGB+D 60 / 120** (:func:`prepare_ntu`): parse every ``.skeleton`` file
  (:func:`adasgn.data.readers.read_ntu_skeleton`), denoise multi-body sequences exactly as the
  official pipeline does (spec 5.2: length filter <= 11 frames, spread filter 0.69754 with the
  0.8 x/y ratio, motion ranking, two-actor assembly, removal of all-zero frames), centre on
  joint 1 (spine middle) of actor 1's first non-zero frame and re-zero missing frames (5.3),
  and split cross-subject / cross-view (NTU-60) or cross-subject / cross-setup (NTU-120) from
  the file name (5.4). Keypoints are stored unpadded as float32 (M, T, 25, 3), M = 1 or 2.
* **MSR Action3D** (:func:`prepare_msr`): drop all-zero frames, reject files with no data,
  centre on the ``spine`` joint (the layout's centre) of the first frame -- the same rule as
  NTU's spine-middle origin (the official code has no MSR pipeline; this is our choice);
  cross-subject split, odd subjects train.
* **SHREC'17** (:func:`prepare_shrec`): official train/test lists, normalisation of spec 5.7.
* **F-PHAB / FPHA** (:func:`prepare_fpha`), **UTD-MHAD** (:func:`prepare_utd`), **Penn Action**
  (:func:`prepare_penn`): read, then normalised by :class:`Normalise` -- the same step the generic
  import of a folder of sequences (``adasgn.data.files``) applies, so each of these sets can be
  imported both ways with identical results.

Bad input never aborts a run and never passes silently: each file that cannot be used is
skipped and reported with its name and the reason (summary + ``OUT.rejects.txt``). Work is
spread over processes (``workers``) with a progress bar on stderr; the output is written
atomically.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np
from tqdm import tqdm

from .classes import CLASS_NAMES
from .. import __version__
from ..atomic import atomic_write
from .pkl import save_pkl
from .store import write_store
from ..skeleton import Layout, get_layout
from .readers import (
    DataError,
    NTUSkeleton,
    nonzero_frames,
    read_fpha,
    read_msr,
    read_ntu_skeleton,
    read_penn,
    read_sfinge3d,
    read_shrec,
    read_shrec_index,
    read_utd,
    require_mat_support,
)

__all__ = [
    "PrepareResult",
    "prepare_ntu",
    "prepare_msr",
    "prepare_shrec",
    "prepare_fpha",
    "prepare_utd",
    "prepare_penn",
    "prepare_sfinge3d",
    "SFINGE3D_NORMALISE",
    "process_sfinge3d_file",
    "Normalise",
    "FPHA_NORMALISE",
    "UTD_NORMALISE",
    "PENN_NORMALISE",
    "PENN_VISIBILITY",
    "ntu_denoise",
    "ntu_centre",
    "process_ntu_file",
    "ntu_name_info",
    "ntu_splits",
    "NTU60_XSUB_TRAIN",
    "NTU120_XSUB_TRAIN",
]

# spec 5.4
NTU60_XSUB_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
NTU120_XSUB_TRAIN = NTU60_XSUB_TRAIN | frozenset({
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103})  # fmt: skip
NTU60_XVIEW_TRAIN_CAMERAS = frozenset({2, 3})

# spec 5.2
LENGTH_THRESHOLD = 11  # bodies with <= 11 frames are dropped
SPREAD_RATIO = 0.8  # a frame is valid if x-spread <= 0.8 * y-spread
NOISE_SPREAD_THRESHOLD = 0.69754  # drop a body whose invalid-frame ratio is >= this

_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_MSR_NAME = re.compile(r"a(\d{2})_s(\d{2})_e(\d{2})_skeleton3D")


# ---------------------------------------------------------------------------------------------
# results and reporting


@dataclass
class PrepareResult:
    """What a ``prepare_*`` run produced (``out`` is None when no sample survived)."""

    dataset: str
    out: Path | None
    rejects_path: Path | None
    num_files: int
    kept: int
    rejects: list[Reject] = field(default_factory=list)
    split_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def reject_counts(self) -> Counter:
        return Counter(r.kind for r in self.rejects)

    @property
    def ms_per_file(self) -> float:
        return 1000.0 * self.seconds / max(self.num_files, 1)

    def summary(self) -> str:
        lines = [f"prepare {self.dataset}: {self.num_files} files in {self.seconds:.2f} s "
                 f"({self.ms_per_file:.2f} ms/file): kept {self.kept}, rejected {len(self.rejects)}"]
        if self.rejects:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.reject_counts.items()))
            lines.append(f"  rejected by reason: {kinds}")
            for name, reason, _ in self.rejects[:5]:
                lines.append(f"    {name}: {reason}")
            if len(self.rejects) > 5:
                lines.append(f"    ... {len(self.rejects) - 5} more in {self.rejects_path}")
        if self.split_counts:
            lines.append("  splits: " + ", ".join(f"{k} {v}" for k, v in self.split_counts.items()))
        if self.out is not None:
            lines.append(f"  wrote {self.out}" + (f"; rejects listed in {self.rejects_path}"
                                                    if self.rejects_path else ""))
        else:
            lines.append("  no sample survived: nothing written"
                         + (f"; rejects listed in {self.rejects_path}" if self.rejects_path else ""))
        return "\n".join(lines)


class Reject(NamedTuple):
    """A file that could not be used: its name, the reason (a sentence) and a short kind."""

    name: str
    reason: str
    kind: str


def _write_rejects(out: Path, rejects: Sequence[Reject]) -> Path:
    path = out.with_name(out.name + ".rejects.txt")
    text = "".join(f"{r.name}\t{r.reason}\n" for r in sorted(rejects))
    atomic_write(path, text.encode("utf-8"))
    return path


def _map(fn: Callable, tasks: Sequence, workers: int | None, progress: bool, desc: str) -> list:
    """``[fn(t) for t in tasks]`` over ``workers`` processes (in order), with a progress bar."""
    n = len(tasks)
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    workers = min(workers, max(1, n))
    bar = tqdm(total=n, desc=desc, unit="file", file=sys.stderr, disable=not progress,
               mininterval=0.5, leave=False)
    out = []
    try:
        if workers == 1 or n < 8:
            for t in tasks:
                out.append(fn(t))
                bar.update()
        else:
            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else None)
            chunk = max(1, min(64, n // (workers * 8)))
            with ctx.Pool(workers) as pool:
                for r in pool.imap(fn, tasks, chunksize=chunk):
                    out.append(r)
                    bar.update()
    finally:
        bar.close()
    return out


def _safe(fn: Callable, name: str, *args) -> tuple:
    """Run one file's job: ("ok", payload) or ("reject", name, reason, kind); never raises."""
    try:
        return ("ok", fn(*args))
    except DataError as exc:
        return ("reject", name, _strip_path(str(exc)), exc.kind)
    except MemoryError:
        return ("reject", name, "out of memory while reading", "out of memory")
    except Exception as exc:  # a bug or an unforeseen input: report it, keep going
        return ("reject", name, f"unexpected error {type(exc).__name__}: {exc}", "unexpected error")


def _strip_path(msg: str) -> str:
    """Reasons are listed next to the file name: drop a leading 'PATH: '."""
    head, sep, rest = msg.partition(": ")
    if sep and (os.sep in head or head.endswith((".skeleton", ".txt"))):
        return rest
    return msg


def _finish(dataset: str, out: str | os.PathLike, samples: list[dict], rejects: list,
            split: dict[str, list[str]], meta: dict, num_files: int, t0: float) -> PrepareResult:
    out = Path(out)
    rejects_path = _write_rejects(out, rejects)
    res = PrepareResult(dataset, None, rejects_path, num_files, len(samples), list(rejects),
                        {k: len(v) for k, v in split.items()})
    if samples:
        if out.suffix == ".store":  # a memory-mapped store instead of the pkl (data/store.py)
            write_store(out, samples, split, meta)
        else:
            save_pkl(out, samples, split, meta, validate=False)
        res.out = out
    res.seconds = time.perf_counter() - t0
    return res


def _base_meta(dataset: str, layout: str, raw: Any, **extra: Any) -> dict:
    names = CLASS_NAMES.get(dataset)
    meta = {"dataset": dataset, "layout": layout, "num_classes": len(names) if names else None,
            "class_names": list(names) if names else None, "adasgn_version": __version__,
            "source": str(raw)}
    meta.update(extra)
    return meta


# ---------------------------------------------------------------------------------------------
# NTU RGB+D


def ntu_name_info(name: str) -> dict[str, int]:
    """``SsssCcccPpppRrrrAaaa`` -> setup, camera, performer, replication, action (1-based)."""
    m = _NTU_NAME.fullmatch(name)
    if not m:
        raise DataError(f"{name}: file name does not match SsssCcccPpppRrrrAaaa", "bad name")
    s, c, p, r, a = (int(g) for g in m.groups())
    return {"setup": s, "camera": c, "performer": p, "replication": r, "action": a}


def ntu_splits(name: str, dataset: str) -> list[str]:
    """The pyskl split names a sample belongs to (spec 5.4)."""
    info = ntu_name_info(name)
    if dataset == "ntu60":
        xsub = "xsub_train" if info["performer"] in NTU60_XSUB_TRAIN else "xsub_val"
        xview = "xview_train" if info["camera"] in NTU60_XVIEW_TRAIN_CAMERAS else "xview_val"
        return [xsub, xview]
    if dataset == "ntu120":
        xsub = "xsub_train" if info["performer"] in NTU120_XSUB_TRAIN else "xsub_val"
        xset = "xset_train" if info["setup"] % 2 == 0 else "xset_val"
        return [xsub, xset]
    raise ValueError(f"unknown NTU dataset {dataset!r} (ntu60 or ntu120)")


def _total_var(xyz: np.ndarray) -> float:
    """Sum over x, y, z of the variance over all joint positions (the official 'motion')."""
    pts = xyz.reshape(-1, 3).astype(np.float64)
    return float(pts.var(axis=0).sum())


def ntu_denoise(skel: NTUSkeleton, true_frames: bool = False) -> tuple[np.ndarray, dict]:
    """Spec 5.2: select and assemble at most two actors -> ((T, M*75) float32, info).

    One body ID: taken as it is (T = valid frames, M = 1). Several: length filter, spread
    filter, motion ranking, two-actor assembly, then all-zero frames are removed; M = 2 when
    the actor-2 slot received a body, else 1. Bodies are placed at the official parser's
    interval (spec 5.1 quirk) unless ``true_frames``, which uses the frames where each body was
    really seen. Raises DataError when no body is left.
    """
    bodies = list(skel.bodies.values())
    info: dict[str, Any] = {"num_body_ids": len(bodies)}
    if not bodies:
        raise DataError(f"{skel.path}: no body in any frame (empty skeleton)", "no body")
    num_frames = skel.num_valid_frames
    if len(bodies) == 1:
        b = bodies[0]
        return b.xyz.reshape(b.num_frames, 75), info

    def span(b) -> tuple[int, int]:
        fr = b.frames if true_frames else b.interval
        return int(fr[0]), int(fr[-1])

    motion = {b.body_id: _total_var(b.xyz) for b in bodies}
    # 1. length filter
    kept = [b for b in bodies if b.num_frames > LENGTH_THRESHOLD]
    info["dropped_by_length"] = [b.body_id for b in bodies if b.num_frames <= LENGTH_THRESHOLD]
    if not kept:
        raise DataError(f"{skel.path}: denoising left no body: all {len(bodies)} bodies have "
                        f"<= {LENGTH_THRESHOLD} frames", "denoised away")
    # 2. spread filter (while more than one body remains)
    dropped_spread = []
    if len(kept) > 1:
        remaining = list(kept)
        for b in kept:
            if len(remaining) == 1:
                break
            x = b.xyz[:, :, 0]
            y = b.xyz[:, :, 1]
            valid = (x.max(axis=1) - x.min(axis=1)) <= SPREAD_RATIO * (y.max(axis=1) - y.min(axis=1))
            n_noise = b.num_frames - int(valid.sum())
            if n_noise == 0:
                continue
            if n_noise / b.num_frames >= NOISE_SPREAD_THRESHOLD:
                remaining.remove(b)
                dropped_spread.append(b.body_id)
            else:
                motion[b.body_id] = min(motion[b.body_id], _total_var(b.xyz[valid]))
        kept = remaining
    info["dropped_by_spread"] = dropped_spread
    # 3. rank by motion (descending, stable) and assemble two actors
    order = sorted(kept, key=lambda b: motion[b.body_id], reverse=True)
    joints = np.zeros((num_frames, 150), dtype=np.float32)

    def place(b, slot: int) -> None:
        rows = b.frames if true_frames else b.interval
        joints[rows, 75 * slot:75 * (slot + 1)] = b.xyz.reshape(b.num_frames, 75)

    first = order[0]
    place(first, 0)
    s1, e1 = span(first)
    s2, e2 = 0, 0
    actor2 = False
    discarded = []
    for b in order[1:]:
        s, e = span(b)
        if min(e1, e) - max(s1, s) <= 0:  # no overlap with actor 1: continue actor 1
            place(b, 0)
            s1, e1 = min(s, s1), max(e, e1)
        elif min(e2, e) - max(s2, s) <= 0:  # no overlap with actor 2
            place(b, 1)
            s2, e2 = min(s, s2), max(e, e2)
            actor2 = True
        else:
            discarded.append(b.body_id)
    info["discarded_overlap"] = discarded
    keep = np.any(joints != 0, axis=1)
    joints = joints[keep]
    if not actor2 or not np.any(joints[:, 75:]):
        joints = np.ascontiguousarray(joints[:, :75])
    if len(joints) == 0:
        raise DataError(f"{skel.path}: denoising left no frame with data (all zero)",
                        "all-zero")
    return joints, info


def ntu_centre(joints: np.ndarray) -> np.ndarray:
    """Spec 5.3: (T, M*75) -> (M, T, 25, 3) float32 centred on joint 1 of actor 1's first
    non-zero frame; frames where an actor is missing (all zero) stay zero."""
    t = joints.shape[0]
    m = joints.shape[1] // 75
    kp = joints.reshape(t, m, 25, 3)
    present = np.any(kp != 0, axis=(2, 3))  # (T, M)
    nz = np.flatnonzero(present[:, 0])
    if len(nz) == 0:
        raise DataError("actor 1 is all zero: no frame to centre on", "all-zero")
    origin = kp[nz[0], 0, 1].copy()
    out = (kp - origin) * present[:, :, None, None]
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3), dtype=np.float32)


def process_ntu_file(path: str | os.PathLike, true_frames: bool = False) -> tuple[np.ndarray, dict]:
    """Read, denoise and centre one NTU file -> (keypoint (M, T, 25, 3) float32, info)."""
    skel = read_ntu_skeleton(path)
    joints, info = ntu_denoise(skel, true_frames=true_frames)
    try:
        kp = ntu_centre(joints)
    except DataError as exc:
        raise DataError(f"{path}: {exc}", exc.kind) from None
    return kp, info


def _ntu_job(task: tuple) -> tuple:
    path, name, label, true_frames = task
    return _safe(_ntu_one, name, path, name, label, true_frames)


def _ntu_one(path: str, name: str, label: int, true_frames: bool) -> tuple:
    kp, info = process_ntu_file(path, true_frames)
    return name, label, kp, info["num_body_ids"]


def _read_name_list(path: str | os.PathLike) -> set[str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the missing-skeleton list: {exc.strerror or exc}") from None
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(line.split()[0].removesuffix(".skeleton"))
    return names


def _collect(files_or_dir: str | os.PathLike | Iterable, pattern: str) -> list[Path]:
    if isinstance(files_or_dir, (str, os.PathLike)):
        root = Path(files_or_dir)
        if root.is_dir():
            return sorted(p for p in root.rglob(pattern) if p.is_file())
        if root.is_file():
            return [root]
        raise DataError(f"{root}: no such file or directory")
    return [Path(p) for p in files_or_dir]


def prepare_ntu(
    files_or_dir: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    dataset: str = "ntu60",
    workers: int | None = None,
    missing: str | os.PathLike | Iterable[str] | None = None,
    progress: bool = True,
    true_frames: bool = False,
    meta: dict | None = None,
) -> PrepareResult:
    """Prepare NTU RGB+D ``.skeleton`` files (a folder, searched recursively, or a list of
    files) into a pyskl pickle at ``out`` (written only if a sample survives; the rejects list
    ``out.rejects.txt`` is always written).

    ``missing``: the official missing-skeleton list (a file of names, or the names) -- those
    samples are skipped and listed; without it, files with no body are detected and rejected.
    ``dataset``: ``ntu60`` (actions 1-60; splits xsub/xview) or ``ntu120`` (xsub/xset).
    ``meta`` entries are added to the pickle's meta (e.g. the synthetic set's class names).
    """
    t0 = time.perf_counter()
    if dataset not in ("ntu60", "ntu120"):
        raise ValueError(f"dataset must be ntu60 or ntu120, got {dataset!r}")
    max_action = 60 if dataset == "ntu60" else 120
    files = _collect(files_or_dir, "*.skeleton")
    if missing is None:
        missing_names: set[str] = set()
    elif isinstance(missing, (str, os.PathLike)):
        missing_names = _read_name_list(missing)
    else:
        missing_names = {str(m).removesuffix(".skeleton") for m in missing}
    rejects: list[Reject] = []
    tasks = []
    seen: set[str] = set()
    for p in files:
        name = p.name.removesuffix(".skeleton")
        if name in missing_names:
            rejects.append(Reject(p.name, "listed as missing in the missing-skeleton list (skipped)",
                                  "listed as missing"))
            continue
        try:
            info = ntu_name_info(name)
        except DataError:
            rejects.append(Reject(p.name, "file name does not match SsssCcccPpppRrrrAaaa", "bad name"))
            continue
        if not 1 <= info["action"] <= max_action:
            rejects.append(Reject(p.name, f"action A{info['action']:03d} is not one of the "
                                          f"{max_action} classes of {dataset}"
                                          + (" (use ntu120)" if dataset == "ntu60" else ""),
                                  "unknown class"))
            continue
        if name in seen:
            rejects.append(Reject(str(p), "duplicate sample name (an earlier file has the same name)",
                                  "duplicate"))
            continue
        seen.add(name)
        tasks.append((str(p), name, info["action"] - 1, true_frames))
    results = _map(_ntu_job, tasks, workers, progress, f"prepare {dataset}")
    samples = []
    split: dict[str, list[str]] = {}
    for r in results:
        if r[0] == "reject":
            rejects.append(Reject(r[1] + ".skeleton", r[2], r[3]))
            continue
        name, label, kp, nbody = r[1]
        samples.append({"frame_dir": name, "label": label, "total_frames": int(kp.shape[1]),
                        "keypoint": kp, "num_person_raw": nbody})
        for s in ntu_splits(name, dataset):
            split.setdefault(s, []).append(name)
    split = {k: split.get(k, []) for k in _split_order(dataset)}
    m = _base_meta(dataset, "ntu25", files_or_dir if isinstance(files_or_dir, (str, os.PathLike)) else
                   f"{len(files)} files", denoising="spec 5.2 (official)",
                   centring="joint 1 of actor 1's first non-zero frame",
                   frame_placement="true frames" if true_frames else "official interval (spec 5.1 quirk)")
    m.update(meta or {})
    return _finish(dataset, out, samples, rejects, split, m, len(files), t0)


def _split_order(dataset: str) -> list[str]:
    return {
        "ntu60": ["xsub_train", "xsub_val", "xview_train", "xview_val"],
        "ntu120": ["xsub_train", "xsub_val", "xset_train", "xset_val"],
        "msr": ["xsub_train", "xsub_val"],
        "shrec14": ["train", "val"],
        "shrec28": ["train", "val"],
    }[dataset]


# ---------------------------------------------------------------------------------------------
# MSR Action3D

MSR_CENTRE_JOINT = 3  # "spine" in the msr20 layout (the layout's centre)


def process_msr_file(path: str | os.PathLike) -> np.ndarray:
    """Read one MSR file, drop all-zero frames, centre -> (1, T, 20, 3) float32."""
    xyz = read_msr(path)
    mask = nonzero_frames(xyz)
    if not mask.any():
        raise DataError(f"{path}: all frames are zero (no skeleton data)", "all-zero")
    xyz = xyz[mask]
    xyz = xyz - xyz[0, MSR_CENTRE_JOINT]
    return np.ascontiguousarray(xyz[None], dtype=np.float32)


def _msr_job(task: tuple) -> tuple:
    path, name, label, subject = task
    return _safe(lambda: (name, label, subject, process_msr_file(path)), name)


def prepare_msr(raw: str | os.PathLike, out: str | os.PathLike, workers: int | None = None,
                progress: bool = True) -> PrepareResult:
    """MSR Action3D ``aXX_sYY_eZZ_skeleton3D.txt`` files -> pyskl pickle (cross-subject split:
    odd subjects 1, 3, 5, 7, 9 train = ``xsub_train``, even subjects test = ``xsub_val``)."""
    t0 = time.perf_counter()
    files = _collect(raw, "*_skeleton3D.txt")
    rejects: list[Reject] = []
    tasks = []
    for p in files:
        m = _MSR_NAME.fullmatch(p.name.removesuffix(".txt"))
        if not m:
            rejects.append(Reject(p.name, "file name does not match aXX_sYY_eZZ_skeleton3D.txt",
                                  "bad name"))
            continue
        a, s, _ = (int(g) for g in m.groups())
        if not 1 <= a <= 20:
            rejects.append(Reject(p.name, f"action a{a:02d} is not one of the 20 MSR classes",
                                  "unknown class"))
            continue
        tasks.append((str(p), p.name.removesuffix("_skeleton3D.txt"), a - 1, s))
    results = _map(_msr_job, tasks, workers, progress, "prepare msr")
    samples, split = [], {"xsub_train": [], "xsub_val": []}
    for r in results:
        if r[0] == "reject":
            rejects.append(Reject(r[1] + "_skeleton3D.txt", r[2], r[3]))
            continue
        name, label, subject, kp = r[1]
        samples.append({"frame_dir": name, "label": label, "total_frames": int(kp.shape[1]),
                        "keypoint": kp})
        split["xsub_train" if subject % 2 == 1 else "xsub_val"].append(name)
    meta = _base_meta("msr", "msr20", raw, centring="spine joint of the first non-zero frame",
                      zero_frames="dropped")
    return _finish("msr", out, samples, rejects, split, meta, len(files), t0)


# ---------------------------------------------------------------------------------------------
# SHREC'17


def shrec_normalise(xyz: np.ndarray) -> np.ndarray:
    """Spec 5.7 on (T, 22, 3): drop all-zero frames, subtract the wrist (joint 0) of the first
    frame from every non-zero joint, divide by |joint 10 - joint 0| at the first frame where it
    is non-zero. Raises DataError when there is no data or the hand has no size."""
    xyz = xyz[nonzero_frames(xyz)].astype(np.float64)
    if len(xyz) == 0:
        raise DataError("all frames are zero (no skeleton data)", "all-zero")
    nzj = np.any(xyz != 0, axis=2, keepdims=True)
    xyz = np.where(nzj, xyz - xyz[0, 0], 0.0)
    size = np.linalg.norm(xyz[:, 10] - xyz[:, 0], axis=1)
    ok = np.flatnonzero(size > 0)
    if len(ok) == 0:
        raise DataError("hand has zero size (wrist and middle-finger base coincide in every frame)",
                        "all-zero")
    return (xyz / size[ok[0]]).astype(np.float32)


def _shrec_job(task: tuple) -> tuple:
    path, name, label, size, split = task

    def one():
        xyz = read_shrec(path)
        if size and len(xyz) != size:
            raise DataError(f"{path}: {len(xyz)} frames, the index says {size} (truncated?)",
                            "length mismatch")
        try:
            kp = shrec_normalise(xyz)
        except DataError as exc:
            raise DataError(f"{path}: {exc}", exc.kind) from None
        return name, label, split, kp[None]

    return _safe(one, name)


def _find_index(root: Path, which: str) -> Path:
    for cand in (root / f"{which}_gestures.txt", *sorted(root.rglob(f"{which}_gestures.txt"))):
        if cand.is_file():
            return cand
    raise DataError(f"{root}: no {which}_gestures.txt found (the official SHREC'17 index)")


def prepare_shrec(raw: str | os.PathLike, out: str | os.PathLike, classes: int = 14,
                  workers: int | None = None, progress: bool = True) -> PrepareResult:
    """SHREC'17 folder (``train_gestures.txt``, ``test_gestures.txt`` and
    ``gesture_g/finger_f/subject_s/essai_e/skeletons_world.txt``) -> pyskl pickle with the
    official ``train`` / ``val`` (test) split and 14 or 28 labels."""
    t0 = time.perf_counter()
    if classes not in (14, 28):
        raise ValueError("classes must be 14 or 28")
    dataset = f"shrec{classes}"
    root = Path(raw)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    tasks, rejects = [], []
    seen: set[str] = set()
    n_entries = 0
    for split_name, which in (("train", "train"), ("val", "test")):
        index_path = _find_index(root, which)
        for e in read_shrec_index(index_path):
            n_entries += 1
            if e.name in seen:
                rejects.append(Reject(e.name, f"listed twice (again in {index_path.name})", "duplicate"))
                continue
            seen.add(e.name)
            path = index_path.parent / e.relpath()
            if not path.is_file():
                rejects.append(Reject(e.relpath(), "file not found", "file not found"))
                continue
            label = (e.label14 if classes == 14 else e.label28) - 1
            tasks.append((str(path), e.name, label, e.size, split_name))
    results = _map(_shrec_job, tasks, workers, progress, f"prepare {dataset}")
    samples, split = [], {"train": [], "val": []}
    for r in results:
        if r[0] == "reject":
            rejects.append(Reject(r[1], r[2], r[3]))
            continue
        name, label, split_name, kp = r[1]
        samples.append({"frame_dir": name, "label": label, "total_frames": int(kp.shape[1]),
                        "keypoint": kp})
        split[split_name].append(name)
    meta = _base_meta(dataset, "shrec22", raw, normalisation="spec 5.7 (wrist origin, "
                      "wrist-to-middle-base length 1)", zero_frames="dropped")
    return _finish(dataset, out, samples, rejects, split, meta, n_entries, t0)


# ---------------------------------------------------------------------------------------------
# Normalisation shared by F-PHAB, UTD-MHAD, Penn Action and the generic import (data/files.py)


@dataclass(frozen=True)
class Normalise:
    """What is done to a sequence (M, T, V, C) after reading, in this order:

    1. a joint whose coordinate channels are all zero is *missing* and stays exactly zero;
       with ``drop_zero_frames``, frames where every joint is missing are dropped; a sequence
       with no joint at all is a DataError ("all frames are zero");
    2. ``scale``: coordinates multiplied (a unit conversion: 0.001 for millimetres -> metres);
    3. ``flip_y``: y negated (image coordinates, y down -> y up);
    4. ``centre``: joints (names or indices) whose mean, at the first frame of the first person
       where one of them is present (the mean over the present ones), becomes the origin of
       every frame and person;
    5. ``unit_length``: two joint groups; everything is divided by the distance between their
       means at the first frame where both have a present joint and the distance is non-zero.
       When there is no such frame (the groups coincide throughout: Penn Action's ``1920.mat``
       has its shoulders and hips at one placeholder point), by the spread of the first person
       instead: the root-mean-square distance of its present joints to their mean.

    Only the first ``coords`` channels are coordinates (default: all); the others (e.g. a
    visibility channel) pass through unchanged.
    """

    scale: float = 1.0
    flip_y: bool = False
    centre: tuple = ()
    unit_length: tuple = ()  # () or (group_a, group_b)
    drop_zero_frames: bool = False
    coords: int | None = None

    def describe(self) -> str:
        parts = []
        if self.scale != 1.0:
            parts.append(f"coordinates x {self.scale:g}")
        if self.flip_y:
            parts.append("y flipped (up)")
        if self.centre:
            parts.append(f"origin: mean of {'+'.join(map(str, self.centre))} at the first frame")
        if self.unit_length:
            a, b = ("+".join(map(str, g)) for g in self.unit_length)
            parts.append(f"unit length: |{a} - {b}| at the first frame")
        if self.drop_zero_frames:
            parts.append("all-zero frames dropped")
        return "; ".join(parts) or "none"

    def check(self, layout: Layout) -> None:
        """Resolve every joint name now (a UserError-worthy ValueError naming the joint)."""
        for j in (*self.centre, *(j for g in self.unit_length for j in g)):
            layout.index(j)
        if self.unit_length and len(self.unit_length) != 2:
            raise ValueError("unit_length needs two joint groups")

    def apply(self, kp: np.ndarray, layout: Layout | str, path: str = "") -> np.ndarray:
        lay = get_layout(layout)
        where = f"{path}: " if path else ""
        x = np.asarray(kp, dtype=np.float64)
        if x.ndim != 4:
            raise DataError(f"{where}expected (M, T, V, C), got shape {x.shape}")
        if x.shape[2] != lay.num_joints:
            raise DataError(f"{where}{x.shape[2]} joints, layout {lay.name} has {lay.num_joints}",
                            "wrong joint count")
        c = min(self.coords or x.shape[3], x.shape[3])
        present = np.any(x[..., :c] != 0, axis=-1)  # (M, T, V)
        if not present.any():
            raise DataError(f"{where}all frames are zero (no skeleton data)", "all-zero")
        if self.drop_zero_frames:
            keep = present.any(axis=(0, 2))
            x, present = x[:, keep], present[:, keep]
        x = x.copy()
        xc = x[..., :c]
        if self.scale != 1.0:
            xc *= self.scale
        if self.flip_y:
            if c < 2:
                raise DataError(f"{where}flip_y needs a y channel")
            xc[..., 1] *= -1.0
        p0 = int(np.flatnonzero(present.any(axis=(1, 2)))[0])
        if self.centre:
            idx = [lay.index(j) for j in self.centre]
            pres = present[p0][:, idx]  # (T, k)
            frames = np.flatnonzero(pres.any(axis=1))
            if len(frames) == 0:
                raise DataError(f"{where}centre joint(s) {'+'.join(map(str, self.centre))} are "
                                "missing (zero) in every frame", "missing joint")
            t = int(frames[0])
            origin = xc[p0, t][[j for j, ok in zip(idx, pres[t]) if ok]].mean(axis=0)
            xc -= origin
        if self.unit_length:
            ga, gb = ([lay.index(j) for j in g] for g in self.unit_length)
            size = None
            for t in range(x.shape[1]):
                pa, pb = present[p0, t, ga], present[p0, t, gb]
                if pa.any() and pb.any():
                    d = float(np.linalg.norm(xc[p0, t][np.array(ga)[pa]].mean(axis=0)
                                             - xc[p0, t][np.array(gb)[pb]].mean(axis=0)))
                    if d > 1e-12:
                        size = d
                        break
            if size is None:  # the groups coincide in every frame: the spread instead
                pts = xc[p0][present[p0]]
                size = float(np.sqrt(((pts - pts.mean(axis=0)) ** 2).sum(axis=1).mean()))
                if size <= 1e-12:
                    raise DataError(f"{where}every joint is at the same place in every frame",
                                    "all-zero")
            xc /= size
        xc *= present[..., None]  # missing joints stay exactly zero
        return np.ascontiguousarray(x, dtype=np.float32)


FPHA_NORMALISE = Normalise(scale=0.001, centre=("wrist",), drop_zero_frames=True)
UTD_NORMALISE = Normalise(centre=("spine",), drop_zero_frames=True)
PENN_NORMALISE = Normalise(flip_y=True, centre=("l_hip", "r_hip"),
                           unit_length=(("l_shoulder", "r_shoulder"), ("l_hip", "r_hip")),
                           drop_zero_frames=True, coords=2)
PENN_VISIBILITY = ("drop", "zero", "channel")


def _kept_split(samples: list, rejects: list, results: list, split: dict, ext: str = "") -> None:
    for r in results:
        if r[0] == "reject":
            rejects.append(Reject(r[1] + ext, r[2], r[3]))
            continue
        name, label, split_name, kp = r[1]
        samples.append({"frame_dir": name, "label": label, "total_frames": int(kp.shape[1]),
                        "keypoint": kp})
        split[split_name].append(name)


# ---------------------------------------------------------------------------------------------
# F-PHAB / FPHA

FPHA_SPLIT_FILE = "data_split_action_recognition.txt"
_FPHA_SUBJECT = re.compile(r"Subject_\d+")


def read_fpha_split(path: str | os.PathLike) -> dict[str, tuple[int, str]]:
    """The official 1:1 split: ``{"Subject_1/open_juice_bottle/2": (label, "train" | "val")}``.

    The file is ``Training N`` then N lines ``Subject_X/<action>/<n> <label>``, then ``Test M``
    and M such lines; the counts are checked."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the split file: {exc.strerror or exc}") from None
    out: dict[str, tuple[int, str]] = {}
    section, want, count = None, {}, {}
    for i, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 2 and parts[0] in ("Training", "Test") and parts[1].isdigit():
            section = "train" if parts[0] == "Training" else "val"
            want[section], count[section] = int(parts[1]), 0
            continue
        if section is None or len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DataError(f"{path}: line {i}: expected 'Subject_X/<action>/<n> <label>' after "
                            f"a 'Training N' / 'Test N' line, found {line.strip()[:80]!r}")
        name = parts[0].strip("/")
        if name in out:
            raise DataError(f"{path}: line {i}: {name} is listed twice")
        out[name] = (int(parts[1]), section)
        count[section] += 1
    for sec, n in want.items():
        if count[sec] != n:
            raise DataError(f"{path}: the {sec} section announces {n} entries but has {count[sec]}")
    if not out:
        raise DataError(f"{path}: no entry (not the F-PHAB split file?)")
    return out


def _find_file(root: Path, name: str) -> Path:
    for cand in (root / name, *sorted(root.rglob(name))):
        if cand.is_file():
            return cand
    raise DataError(f"{root}: no {name} found")


def _fpha_job(task: tuple) -> tuple:
    path, name, label, split_name, norm = task

    def one():
        kp = norm.apply(read_fpha(path)[None], "fpha21", path)
        return name, label, split_name, kp

    return _safe(one, name)


def prepare_fpha(raw: str | os.PathLike, out: str | os.PathLike, workers: int | None = None,
                 progress: bool = True, split_file: str | os.PathLike | None = None) -> PrepareResult:
    """F-PHAB: every ``Subject_S/<action>/<n>/skeleton.txt`` under ``raw`` -> pyskl pickle with
    the official 1:1 split (``train`` 600 / ``val`` 575, ``data_split_action_recognition.txt``
    found under ``raw`` unless ``split_file``), 45 labels, layout ``fpha21``. Millimetres become
    metres; the origin is the wrist of the first frame (:data:`FPHA_NORMALISE`). Names are
    ``Subject_S/<action>/<n>`` as in the split file. Empty files, files missing from the split
    and split entries without a file are rejected."""
    t0 = time.perf_counter()
    root = Path(raw)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    entries = read_fpha_split(split_file or _find_file(root, FPHA_SPLIT_FILE))
    classes = CLASS_NAMES["fpha"]
    files = sorted(p for p in root.rglob("skeleton.txt") if p.is_file())
    rejects: list[Reject] = []
    tasks, seen = [], set()
    for p in files:
        parts = p.relative_to(root).parts
        k = next((i for i, s in enumerate(parts) if _FPHA_SUBJECT.fullmatch(s)), None)
        if k is None or len(parts) - k != 4:
            rejects.append(Reject(p.relative_to(root).as_posix(), "path does not match "
                                  "Subject_S/<action>/<n>/skeleton.txt", "bad name"))
            continue
        name = "/".join(parts[k:-1])
        if name in seen:
            rejects.append(Reject(p.relative_to(root).as_posix(), f"duplicate sample {name}",
                                  "duplicate"))
            continue
        seen.add(name)
        if name not in entries:  # read it anyway: an empty file is reported as such
            tasks.append((str(p), name, None, None, FPHA_NORMALISE))
            continue
        label, split_name = entries[name]
        action = parts[k + 1]
        if not 0 <= label < len(classes) or classes[label] != action:
            rejects.append(Reject(name, f"the split file gives label {label} "
                                  f"({classes[label] if 0 <= label < len(classes) else 'unknown'}) "
                                  f"to a sequence of action {action}", "unknown class"))
            continue
        tasks.append((str(p), name, label, split_name, FPHA_NORMALISE))
    for name in sorted(set(entries) - seen):
        rejects.append(Reject(name + "/skeleton.txt", "listed in the split file, file not found",
                              "file not found"))
    results = _map(_fpha_job, tasks, workers, progress, "prepare fpha")
    samples, split = [], {"train": [], "val": []}
    for r in results:
        if r[0] == "ok" and r[1][1] is None:
            rejects.append(Reject(r[1][0], f"not in the official split file ({FPHA_SPLIT_FILE})",
                                  "not in split"))
            continue
        _kept_split(samples, rejects, [r], split)
    meta = _base_meta("fpha", "fpha21", raw, units="metres (the files' millimetres x 0.001)",
                      normalisation=FPHA_NORMALISE.describe(), split="official 1:1 "
                      f"({FPHA_SPLIT_FILE}); val = the test list")
    return _finish("fpha", out, samples, rejects, split, meta, len(files), t0)


# ---------------------------------------------------------------------------------------------
# UTD-MHAD

UTD_TRAIN_SUBJECTS = frozenset({1, 3, 5, 7})
_UTD_NAME = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat")


def _utd_job(task: tuple) -> tuple:
    path, name, label, split_name, norm = task
    return _safe(lambda: (name, label, split_name, norm.apply(read_utd(path)[None], "utd20", path)),
                 name)


def prepare_utd(raw: str | os.PathLike, out: str | os.PathLike, workers: int | None = None,
                progress: bool = True) -> PrepareResult:
    """UTD-MHAD ``aA_sS_tT_skeleton.mat`` files (``d_skel`` (20, 3, T), metres) -> pyskl pickle:
    27 labels (A - 1), layout ``utd20`` (UTD's joint order), origin = the spine of the first
    frame (:data:`UTD_NORMALISE`), cross-subject split: subjects 1, 3, 5, 7 ``xsub_train``,
    2, 4, 6, 8 ``xsub_val``. Names are ``aA_sS_tT``. Needs scipy (extra ``mat``)."""
    t0 = time.perf_counter()
    require_mat_support()
    files = _collect(raw, "*_skeleton.mat")
    rejects: list[Reject] = []
    tasks = []
    for p in files:
        m = _UTD_NAME.fullmatch(p.name)
        if not m:
            rejects.append(Reject(p.name, "file name does not match aA_sS_tT_skeleton.mat", "bad name"))
            continue
        a, s, _ = (int(g) for g in m.groups())
        if not 1 <= a <= 27:
            rejects.append(Reject(p.name, f"action a{a} is not one of the 27 UTD-MHAD classes",
                                  "unknown class"))
            continue
        split_name = "xsub_train" if s in UTD_TRAIN_SUBJECTS else "xsub_val"
        tasks.append((str(p), p.name.removesuffix("_skeleton.mat"), a - 1, split_name, UTD_NORMALISE))
    results = _map(_utd_job, tasks, workers, progress, "prepare utd_mhad")
    samples, split = [], {"xsub_train": [], "xsub_val": []}
    _kept_split(samples, rejects, results, split, "_skeleton.mat")
    meta = _base_meta("utd_mhad", "utd20", raw, units="metres",
                      normalisation=UTD_NORMALISE.describe(),
                      split="cross-subject: subjects 1, 3, 5, 7 train; 2, 4, 6, 8 test (xsub_val)")
    return _finish("utd_mhad", out, samples, rejects, split, meta, len(files), t0)


# ---------------------------------------------------------------------------------------------
# Penn Action


def penn_keypoint(seq, visibility: str = "drop") -> np.ndarray:
    """(1, T, 13, C) float32 of a :class:`~adasgn.data.readers.PennSequence` before
    normalisation. ``visibility``: ``drop`` (C=2, every annotated position kept -- the
    annotators place occluded joints too), ``zero`` (C=2, invisible joints set to 0, the
    models' "missing") or ``channel`` (C=3: x, y, visibility 0/1)."""
    if visibility == "drop":
        kp = seq.xy
    elif visibility == "zero":
        kp = seq.xy * seq.visibility[..., None]
    elif visibility == "channel":
        kp = np.concatenate([seq.xy, seq.visibility[..., None].astype(np.float32)], axis=-1)
    else:
        raise ValueError(f"visibility must be one of {PENN_VISIBILITY}, not {visibility!r}")
    return np.ascontiguousarray(kp[None], dtype=np.float32)


def _penn_job(task: tuple) -> tuple:
    path, name, visibility, norm = task

    def one():
        seq = read_penn(path)
        classes = CLASS_NAMES["penn"]
        if seq.action not in classes:
            raise DataError(f"{path}: action {seq.action!r} is not one of the 15 Penn Action "
                            "classes", "unknown class")
        if seq.train not in (1, -1):
            raise DataError(f"{path}: train flag {seq.train}, expected 1 (train) or -1 (test)")
        kp = norm.apply(penn_keypoint(seq, visibility), "penn13", path)
        return name, classes.index(seq.action), "train" if seq.train == 1 else "val", kp

    return _safe(one, name)


def prepare_penn(raw: str | os.PathLike, out: str | os.PathLike, workers: int | None = None,
                 progress: bool = True, visibility: str = "drop") -> PrepareResult:
    """Penn Action label files ``NNNN.mat`` -> pyskl pickle: 13 2-D joints (layout ``penn13``),
    15 labels (the ``action`` field, :data:`~adasgn.data.classes.PENN_CLASSES` order), the
    official split (``train`` flag 1 -> ``train``, -1 -> ``val``). :data:`PENN_NORMALISE`: y
    flipped to point up, origin = the hips' mean, unit = the torso (shoulders' mean to hips'
    mean) at the first frame. ``visibility``: see :func:`penn_keypoint`. Names are ``NNNN``."""
    t0 = time.perf_counter()
    if visibility not in PENN_VISIBILITY:
        raise ValueError(f"visibility must be one of {PENN_VISIBILITY}, not {visibility!r}")
    require_mat_support()
    files = _collect(raw, "*.mat")
    tasks = [(str(p), p.stem, visibility, PENN_NORMALISE) for p in files]
    rejects: list[Reject] = []
    results = _map(_penn_job, tasks, workers, progress, "prepare penn")
    samples, split = [], {"train": [], "val": []}
    _kept_split(samples, rejects, results, split, ".mat")
    meta = _base_meta("penn", "penn13", raw, units="image pixels, normalised",
                      normalisation=PENN_NORMALISE.describe(), visibility=visibility,
                      channels=["x", "y", "visibility"] if visibility == "channel" else ["x", "y"],
                      split="official train flag: 1 train, -1 test (val)")
    return _finish("penn", out, samples, rejects, split, meta, len(files), t0)


# ---------------------------------------------------------------------------------------------
# SFINGE3D

SFINGE3D_NORMALISE = Normalise(centre=("palm",), drop_zero_frames=True)
SFINGE3D_PER_CLASS = 36
SFINGE3D_TEST_PER_CLASS = 12  # of the 36 files of each class (seeded): xfile_val
SFINGE3D_SPLIT_SEED = 0


def sfinge3d_file_split(names_by_class: dict[int, list[str]], seed: int = SFINGE3D_SPLIT_SEED,
                        test_per_class: int = SFINGE3D_TEST_PER_CLASS) -> set[str]:
    """The test names of the seeded per-class file split: ``test_per_class`` files of every
    class drawn with ``numpy.random.default_rng(seed)`` from the names sorted by file number."""
    rng = np.random.default_rng(seed)
    test: set[str] = set()
    for label in sorted(names_by_class):
        names = sorted(names_by_class[label], key=lambda n: int(n.rsplit("/", 1)[-1]))
        pick = rng.permutation(len(names))[:test_per_class]
        test.update(names[i] for i in pick)
    return test


def process_sfinge3d_file(path: str | os.PathLike) -> np.ndarray:
    """Read one SFINGE3D gesture / sequence file, normalise (:data:`SFINGE3D_NORMALISE`) ->
    (1, T, 20, 3) float32."""
    return SFINGE3D_NORMALISE.apply(read_sfinge3d(path)[None], "leap20", os.fspath(path))


def _sfinge_job(task: tuple) -> tuple:
    path, name, label = task
    return _safe(lambda: (name, label, None, process_sfinge3d_file(path)), name)


def prepare_sfinge3d(raw: str | os.PathLike, out: str | os.PathLike, workers: int | None = None,
                     progress: bool = True) -> PrepareResult:
    """SFINGE3D ``Dictionary/<class>/<n>.txt`` (under ``raw`` or ``raw/Dictionary``) -> pyskl
    pickle of the 468 segmented gestures: 13 labels (folder - 1), layout ``leap20``, positions in
    the files' unit (metres), origin = the palm of the first frame (:data:`SFINGE3D_NORMALISE`);
    the quaternions are not used. Names are ``<class>/<n>``. Splits:

    * ``all`` -- every gesture: the benchmark's protocol trains on the dictionary and tests on the
      long sequences (``Sequences/``, :func:`adasgn.data.readers.read_sfinge3d`);
    * ``xfile_train`` / ``xfile_val`` -- an offline classification split of the dictionary (the
      dataset has no subject ids): 12 files of every class (seeded, :func:`sfinge3d_file_split`)
      test, the other 24 train."""
    t0 = time.perf_counter()
    root = Path(raw)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    if (root / "Dictionary").is_dir():
        root = root / "Dictionary"
    classes = CLASS_NAMES["sfinge3d"]
    rejects: list[Reject] = []
    tasks = []
    files = sorted(p for p in root.glob("*/*.txt") if p.is_file())
    for p in files:
        folder, stem = p.parent.name, p.stem
        name = f"{folder}/{stem}"
        if not (folder.isdigit() and stem.isdigit()):
            rejects.append(Reject(name + ".txt", "path does not match <class>/<n>.txt", "bad name"))
            continue
        if not 1 <= int(folder) <= len(classes):
            rejects.append(Reject(name + ".txt",
                                  f"class folder {folder} is not one of 1..{len(classes)}",
                                  "unknown class"))
            continue
        tasks.append((str(p), name, int(folder) - 1))
    results = _map(_sfinge_job, tasks, workers, progress, "prepare sfinge3d")
    samples = []
    by_class: dict[int, list[str]] = {}
    for r in results:
        if r[0] == "reject":
            rejects.append(Reject(r[1] + ".txt", r[2], r[3]))
            continue
        name, label, _, kp = r[1]
        samples.append({"frame_dir": name, "label": label, "total_frames": int(kp.shape[1]),
                        "keypoint": kp})
        by_class.setdefault(label, []).append(name)
    test = sfinge3d_file_split(by_class)
    names = [a["frame_dir"] for a in samples]
    split = {"all": list(names), "xfile_train": [n for n in names if n not in test],
             "xfile_val": [n for n in names if n in test]}
    meta = _base_meta("sfinge3d", "leap20", raw, units="the files' (metres)", fps=20,
                      normalisation=SFINGE3D_NORMALISE.describe(),
                      split=f"all = every gesture (train on the dictionary, test on the long "
                            f"sequences); xfile: {SFINGE3D_TEST_PER_CLASS} of the "
                            f"{SFINGE3D_PER_CLASS} files per class test (numpy seed "
                            f"{SFINGE3D_SPLIT_SEED}), the rest train")
    return _finish("sfinge3d", out, samples, rejects, split, meta, len(files), t0)
