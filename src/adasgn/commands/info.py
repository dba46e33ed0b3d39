"""``adasgn info FILE``: a one-screen summary of a canonical pkl or a sample store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..data.dataset import load_source
from ..data.store import SkeletonStore, verify_store
from ..errors import DataError, UserError

HELP = """Summarise a canonical pkl (pyskl format) or a memory-mapped store (`adasgn convert`):
samples, classes, splits, layout, joints, channels, frame-count statistics, persons per sample,
and for a store its dtype and size on disk. Pickles are read with the restricted unpickler (no
code runs; see --allow-unsafe-pickle). --verify checks a store's whole checksum."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="summary of a pkl or store", description=HELP)
    p.add_argument("file", help="a .pkl or a .store directory")
    p.add_argument("--verify", action="store_true",
                   help="store: read every byte and check the checksum (slow on big stores)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _stats(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"min": 0, "median": 0, "mean": 0.0, "max": 0}
    return {"min": int(values.min()), "median": float(np.median(values)),
            "mean": float(values.mean()), "max": int(values.max())}


def summarize(path: str, verify: bool = False) -> dict:
    if not Path(path).exists():
        raise UserError(f"{path}: no such file or directory")
    data = verify_store(path) if verify else load_source(path)
    meta = dict(data.get("meta") or {})
    if isinstance(data, SkeletonStore):
        shapes = np.asarray(data.shapes)
        labels = np.asarray(data.labels)
        joints, channels = data.num_joints, data.channels
        kind = "store"
        extra = {"dtype": data.index["dtype"], "num_frames_stored": data.index["num_frames"],
                 "bytes": sum(f.stat().st_size for f in Path(path).iterdir() if f.is_file()),
                 "verified": bool(verify)}
    else:
        anns = data["annotations"]
        shapes = np.array([a["keypoint"].shape[:2] for a in anns], dtype=np.int64).reshape(-1, 2)
        labels = np.array([a["label"] for a in anns], dtype=np.int64)
        first = anns[0]["keypoint"].shape if anns else (0, 0, 0, 0)
        joints, channels = int(first[2]), int(first[3])
        kind = "pkl"
        extra = {"bytes": Path(path).stat().st_size}
    names = list(meta.get("class_names") or [])
    counts = np.bincount(labels, minlength=len(names)) if labels.size else np.zeros(0, int)
    persons = {int(m): int(n) for m, n in zip(*np.unique(shapes[:, 0], return_counts=True))}
    return {
        "file": str(path), "kind": kind, "samples": int(len(labels)),
        "dataset": meta.get("dataset"), "layout": meta.get("layout"),
        "joints": joints, "channels": channels,
        "classes": int(max(len(names), int(labels.max()) + 1 if labels.size else 0)),
        "class_names": names, "samples_per_class": {"min": int(counts.min()) if counts.size else 0,
                                                    "max": int(counts.max()) if counts.size else 0},
        "classes_without_samples": [int(c) for c in np.flatnonzero(counts == 0)],
        "splits": {k: len(v) for k, v in (data.get("split") or {}).items()},
        "frames": _stats(shapes[:, 1]), "persons": persons, **extra,
    }


def format_info(d: dict) -> str:
    f = d["frames"]
    lines = [
        f"{d['file']} ({d['kind']}): {d['samples']} samples, {d['classes']} classes"
        + (f", dataset {d['dataset']}" if d.get("dataset") else ""),
        f"  layout {d['layout'] or '(none in meta)'}: {d['joints']} joints x {d['channels']} "
        "channels",
        "  splits: " + (", ".join(f"{k} {v}" for k, v in d["splits"].items()) or "none"),
        f"  frames per sample: min {f['min']}, median {f['median']:g}, mean {f['mean']:.1f}, "
        f"max {f['max']}",
        "  persons per sample: " + ", ".join(f"{m}: {n}" for m, n in d["persons"].items()),
        f"  samples per class: {d['samples_per_class']['min']} .. {d['samples_per_class']['max']}"
        + (f"; classes without samples: {d['classes_without_samples']}"
           if d["classes_without_samples"] else ""),
    ]
    if d["kind"] == "store":
        lines.append(f"  store: {d['dtype']}, {d['num_frames_stored']} frames, "
                     f"{d['bytes'] / 1e6:.1f} MB" + (", checksum verified" if d["verified"] else ""))
    else:
        lines.append(f"  file: {d['bytes'] / 1e6:.1f} MB")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        d = summarize(args.file, verify=args.verify)
    except (DataError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(d) if args.json else format_info(d))
    return 0
