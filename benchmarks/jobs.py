"""What the study drivers (norm_study.py, recipe_pilot.py, study.py) share: run one adasgn
command with one torch thread, its output appended to a log file.

On the 2-core CPU two one-thread trainings side by side do more work per hour than one
two-thread training, so the drivers run their commands this way, N at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def adasgn(*args: str) -> list[str]:
    """The argv of ``adasgn ARGS`` with this interpreter."""
    return [sys.executable, "-m", "adasgn", *args]


def run_logged(argv: list[str], log: Path, check: bool = False) -> int:
    """Run ``argv`` in the repository root with OMP_NUM_THREADS=1, stdout and stderr appended to
    ``log``; returns the exit code (``check``: raise CalledProcessError when it is not 0)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(log, "a") as f:
        rc = subprocess.run(argv, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    if check and rc:
        raise subprocess.CalledProcessError(rc, argv)
    return rc
