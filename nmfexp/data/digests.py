"""Content digests of input files, so that a job whose data file changed is recomputed.

A digest is the SHA-256 of the file's bytes. Within a process it is cached
by (path, size, modification time, inode): a sweep of a thousand jobs on one
file reads the file once per process, and an edited file (new size or time)
is read again.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

__all__ = ["file_digest", "input_digests"]

_CHUNK = 1 << 20


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of the file's content."""
    st = os.stat(path)
    return "sha256:" + _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def input_digests(paths) -> dict[str, str]:
    """``{resolved path: digest}`` for the given files, sorted by path."""
    return {str(p): file_digest(p) for p in sorted({str(Path(p).resolve()) for p in paths})}
