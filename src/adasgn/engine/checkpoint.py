"""Checkpoints that survive crashes.

A checkpoint is a plain dict of tensors and Python primitives (loadable with
``torch.load(weights_only=True)``): model, optimizer, scheduler, epoch, RNG states, config and
versions. It is written to a temporary file in the same directory, flushed to disk and renamed
over the old one, so a crash at any moment leaves either the old or the new file, never half of
one.
"""

from __future__ import annotations

import platform
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..atomic import atomic_write


def save_checkpoint(state: dict, path: str | Path) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupted or foreign file
        raise ValueError(f"{path}: not a readable adasgn checkpoint ({exc})") from None


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": _py_state_to_list(random.getstate()),
    }


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state`. The states are host tensors whatever ``map_location`` the
    checkpoint was loaded with (a CUDA run loads its checkpoints onto the GPU, and
    ``torch.set_rng_state`` refuses a CUDA tensor: resuming a GPU run failed so)."""
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached"]))
    random.setstate(_py_state_from_list(state["python"]))


def _py_state_to_list(st) -> list:
    version, internal, gauss = st
    return [version, list(internal), gauss]


def _py_state_from_list(st) -> tuple:
    version, internal, gauss = st
    return (version, tuple(internal), gauss)


def versions() -> dict[str, Any]:
    return {
        "adasgn": __version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": git_hash(),
    }


def git_hash() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None
