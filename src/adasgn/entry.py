"""The ``adasgn`` console entry point (and ``python -m adasgn``).

It sets ``OMP_WAIT_POLICY=PASSIVE`` -- unless the user set it -- before anything imports torch:
with the default policy, PyTorch's OpenMP threads spin while they wait for each other, and on a
machine that other processes keep busy they wait for preempted peers (measured on a 2-core
machine with one competing process: batch-1 forwards 100x slower, a training stage several
times slower; docs/benchmarks.md). PASSIVE threads sleep instead. The library itself (``import
adasgn``) changes no environment variable.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .cli import main  # noqa: E402  (after the environment is set: cli imports torch)

__all__ = ["main"]
