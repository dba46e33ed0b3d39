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
from .readers import (
    DataError,
    NTUSkeleton,
    nonzero_frames,
    read_msr,
    read_ntu_skeleton,
    read_shrec,
    read_shrec_index,
)

__all__ = [
    "PrepareResult",
    "prepare_ntu",
    "prepare_msr",
    "prepare_shrec",
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
