"""Small file-system helpers shared by what writes cassettes and reports in place."""

from __future__ import annotations

import contextlib
import os

__all__ = ["fsync_directory"]


def fsync_directory(path: str) -> None:
    """Make a rename into ``path``'s directory durable (``path`` names a file in it).

    POSIX; a no-op where the file system does not let a directory be fsync-ed.
    """
    with contextlib.suppress(OSError):
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
