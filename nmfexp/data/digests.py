"""Content digests of input files, so that a job whose data file changed is recomputed.

A digest is the SHA-256 of the file's bytes. Within a process it is cached
by (path, size, modification time, inode): a sweep of a thousand jobs on one
file reads the file once per process, and an edited file (new size or time)
is read again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import threading
from pathlib import Path

__all__ = ["UndeclaredInputWarning", "file_digest", "files_opened", "input_digests"]

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


# --------------------------------------------------------------------------- files opened while loading

class UndeclaredInputWarning(UserWarning):
    """A data-set loader read a file that its config does not name, so its changes cannot be detected."""


_tracking = threading.local()
_hook_installed = False
_hook_lock = threading.Lock()
_WRITE_MODES = set("wax+")
_SKIP_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth", ".nbi", ".nbc")


def _audit(event: str, args) -> None:
    if event != "open":
        return
    found = getattr(_tracking, "found", None)
    if found is None or not args:
        return
    path, mode = args[0], args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else 0
    if isinstance(mode, str):
        if _WRITE_MODES & set(mode):
            return
    elif isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR):
        return
    if isinstance(path, (str, bytes, os.PathLike)):
        found.append(path)


def _system_roots() -> tuple[str, ...]:
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), site.getusersitepackages(),
             *(sysconfig.get_paths().get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib"))}
    roots.add(str(Path(__file__).resolve().parents[1]))  # nmfexp's own package data (an editable install too)
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots if r) + (
        "/proc/", "/sys/", "/dev/", "/etc/", "/usr/", "/run/")


@contextlib.contextmanager
def files_opened():
    """Collect the regular files this thread opens for reading inside the ``with`` block.

    Yields a list, filled when the block ends with the resolved paths (str,
    sorted) of the files opened through Python (``open``, ``os.open``, and so
    NumPy and pandas readers), leaving out the Python installation, modules
    and system folders. Files opened by C libraries (HDF5, netCDF) are not
    seen. Used to name the files a data-set loader reads that its config
    does not name (they cannot be digested).
    """
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True
    found: list[str] = []
    outer = getattr(_tracking, "found", None)
    _tracking.found = raw = []
    try:
        yield found
    finally:
        _tracking.found = outer
        if outer is not None:
            outer.extend(raw)
        skip = _system_roots()
        paths = set()
        for p in raw:
            try:
                real = os.path.realpath(os.fsdecode(p))
            except (TypeError, ValueError):
                continue
            if (real.endswith(_SKIP_SUFFIXES) or "__pycache__" in real or real.startswith(skip)
                    or not os.path.isfile(real)):
                continue
            paths.add(real)
        found.extend(sorted(paths))
