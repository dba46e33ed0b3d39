"""Small shared test helpers: a tiny learnable dataset written as a canonical pkl."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def tiny_pkl(path: Path, n: int = 120, classes: int = 4, seed: int = 0, persons: int = 1,
             dataset: str = "synthetic", layout: str = "ntu25", joints: int = 25) -> Path:
    """Class c moves the right-hand joints with frequency c+1; everything else is noise."""
    rng = np.random.default_rng(seed)
    ann, names = [], []
    for i in range(n):
        c = i % classes
        t = int(rng.integers(18, 50))
        kp = rng.normal(scale=0.05, size=(persons, t, joints, 3)).astype(np.float32)
        phase = np.linspace(0, 2 * np.pi * (c + 1), t)
        kp[:, :, joints // 2 :, 1] += np.sin(phase)[None, :, None].astype(np.float32)
        kp[:, :, :, 2] += 3.0
        name = f"S001C001P{1 + i % 10:03d}R001A{c + 1:03d}_{i}"
        ann.append({"frame_dir": name, "label": c, "total_frames": t, "keypoint": kp})
        names.append(name)
    cut = int(0.75 * n)
    data = {"split": {"xsub_train": names[:cut], "xsub_val": names[cut:]}, "annotations": ann,
            "meta": {"dataset": dataset, "layout": layout,
                     "class_names": [f"class{c}" for c in range(classes)]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return path
