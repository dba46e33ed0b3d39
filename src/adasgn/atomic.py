"""Atomic file writes: the one implementation every writer of the package uses.

Write to a temporary file in the destination folder, flush and fsync it, then ``os.replace`` it
over the destination. A crash at any moment leaves the old file or the new one, never half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

Payload = Union[bytes, Callable[[BinaryIO], object]]


def atomic_write(path: str | os.PathLike, payload: Payload) -> None:
    """``payload`` is the bytes to write, or a callable that writes into the open binary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(payload):
                payload(fh)
            else:
                fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
