"""The package's error types, below every other layer so that any module may raise them.

* :class:`UserError` -- a problem with what the user asked for (a flag, a file name); the command
  line prints it as one line and exits with code 2.
* :class:`DataError` -- a data file that cannot be used. The message names the file and the
  problem; ``kind`` is a short category (``"truncated"``, ``"empty file"``, ...) that summaries
  count by, so nobody has to recover it from the wording of the message.
"""

from __future__ import annotations

__all__ = ["DataError", "UserError"]


class UserError(Exception):
    """An error caused by the user's input: printed as one clear line, exit code 2."""


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""

    def __init__(self, message: str, kind: str = "format error"):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # keeps ``kind`` across process pools (prepare runs in workers)
        return type(self), (str(self), self.kind)
