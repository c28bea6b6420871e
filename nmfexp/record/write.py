"""Writing records: atomically, with a checksum, never leaving a partial file.

:func:`write_record` builds the whole file in memory, writes it to
``<name>.<host>.<pid>.<random>.tmp`` in the same folder, syncs it and renames
it over ``<name>`` with :func:`os.replace`. A file with the final name is
therefore always complete; a failed write raises :class:`RecordWriteError`
and leaves neither a temporary nor a partial final file.
:func:`remove_stale_temp_files` deletes only temporary files whose writer is
gone.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import os
import re
import secrets
import signal
import socket
import threading
import time
from pathlib import Path

import h5py

from ._format import (
    FORMAT,
    FORMAT_VERSION,
    TEMP_SUFFIX,
    USERBLOCK_SIZE,
    Record,
    _checksum_block,
    _write_into,
)

#: Temporary files and claims of other hosts (whose processes cannot be checked)
#: count as abandoned after this many seconds without a change.
STALE_SECONDS = 24 * 3600.0


class RecordWriteError(OSError):
    """A record (or merged file) could not be written.

    ``filename`` is the record's final path, ``errno`` and ``strerror`` come
    from the operating system when it reported the failure (for example
    ``errno.EFBIG``, ``errno.ENOSPC``). Nothing is left behind: no temporary
    file, and the final path keeps whatever it held before.
    """

    def __init__(self, path: str | os.PathLike, cause: BaseException):
        strerror = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        code = getattr(cause, "errno", None)
        if code is None:  # HDF5 puts the OS error into its message: "... errno = 27, error message = ..."
            found = re.search(r"errno = (\d+)", str(cause))
            code = int(found.group(1)) if found else None
        super().__init__(code, strerror, str(path))

    def __str__(self) -> str:
        code = f" [Errno {self.errno}]" if self.errno is not None else ""
        return f"could not write {self.filename}: {self.strerror}{code}"


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


_LIVE_TEMPS: set[str] = set()  # temporary files this process is writing right now
_LIVE_LOCK = threading.Lock()


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name next to ``path``: ``<name>.<host>.<pid>.<random>.tmp``.

    Unique per host, process and call, so concurrent writers (processes,
    hosts sharing a file system, threads) never share a temporary file.
    """
    path = Path(path)
    return path.with_name(f"{path.name}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (True when it cannot be told)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there; rely on the age rule
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by another user
        return True
    return True


def _age(path: Path) -> float:
    return time.time() - path.stat().st_mtime


def remove_stale_temp_files(path: str | os.PathLike, *, stale_after: float = STALE_SECONDS) -> int:
    """Delete temporary files of ``path`` whose writer is gone; return how many.

    A temporary file ``<name>.<host>.<pid>.<random>.tmp`` is removed when it
    was made on this host by a process that no longer runs, or when it has
    not changed for ``stale_after`` seconds (the only rule for other hosts,
    whose processes cannot be checked). Files being written by a live
    process on this host are never touched. Names of format_version 1
    writers, ``<name>.<pid>.tmp``, carry no host; they are taken to come
    from this host (that format was only ever safe on one host).
    """
    path = Path(path)
    prefix = path.name + "."
    host, me = _host_tag(), os.getpid()
    count = 0
    for tmp in path.parent.glob(glob.escape(prefix) + "*" + TEMP_SUFFIX):
        with _LIVE_LOCK:
            if str(tmp) in _LIVE_TEMPS:
                continue
        parts = tmp.name[len(prefix):-len(TEMP_SUFFIX)].split(".")
        try:
            stale = _age(tmp) > stale_after
            if len(parts) == 1 and parts[0].isdigit():  # format_version 1: <name>.<pid>.tmp
                parts = [host, parts[0], ""]
            if not stale and len(parts) == 3 and parts[0] == host and parts[1].isdigit():
                pid = int(parts[1])
                stale = pid == me or not _pid_alive(pid)  # our pid but not ours: left by an earlier process
            if stale:
                tmp.unlink()
                count += 1
        except FileNotFoundError:
            pass
    return count


def _write_file_atomically(path: Path, *chunks) -> None:
    """Write ``chunks`` (bytes-like) to a fresh temporary file, sync it, rename it to ``path``.

    Only Python writes to the disk here (the HDF5 library builds files in
    memory), so a full disk or a file size limit is an ``OSError`` with its
    errno, never a crash inside HDF5.
    """
    tmp = temp_path(path)
    with _LIVE_LOCK:
        _LIVE_TEMPS.add(str(tmp))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise RecordWriteError(path, exc) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        with _LIVE_LOCK:
            _LIVE_TEMPS.discard(str(tmp))


def _hdf5_image(fill) -> tuple[bytes, memoryview]:
    """Build an HDF5 file in memory with ``fill(file)``; return its checksum block and content."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", userblock_size=USERBLOCK_SIZE) as f:
        fill(f)
    content = buffer.getbuffer()[USERBLOCK_SIZE:]
    return _checksum_block(hashlib.sha256(content).hexdigest(), len(content)), content


def _write_hdf5(path: Path, fill) -> None:
    """Build an HDF5 file with ``fill(file)`` and write it to ``path`` atomically, with its checksum."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordWriteError(path, exc) from exc
    _write_file_atomically(path, *_hdf5_image(fill))


def write_record(path: str | os.PathLike, record: Record) -> Path:
    """Write ``record`` to ``path`` atomically, with its checksum.

    The file is built in memory, written to a temporary file unique to this
    host, process and call (see :func:`temp_path`), synced, and renamed over
    ``path``. ``format`` defaults to ``"nmfexp-record"`` and
    ``format_version`` is set to :data:`FORMAT_VERSION`.

    Any attribute value round-trips (see docs/records.md): None, bools, ints
    of any size, floats, str (any length, any Unicode), lists of str, numeric
    arrays, nested lists and dicts.

    Parameters
    ----------
    path : path-like
        Final file name, normally ending in ``.h5``; its folder is created.
    record : Record

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    RecordWriteError
        The folder or file could not be written (disk full, file size limit,
        permissions, ...). No temporary file is left and ``path`` keeps its
        previous content, if any. Under a file size limit (``ulimit -f``) a
        process must ignore SIGXFSZ (:func:`ignore_sigxfsz`) to get this
        exception instead of being killed.
    """
    path = Path(path)
    attrs = {"format": FORMAT, **record.attrs, "format_version": FORMAT_VERSION}
    _write_hdf5(path, lambda f: _write_into(f, Record(attrs=attrs, groups=record.groups, arrays=record.arrays)))
    return path


def ignore_sigxfsz() -> bool:
    """Ignore SIGXFSZ in this process, so that exceeding a file size limit
    (``ulimit -f``, RLIMIT_FSIZE) makes writes fail with ``EFBIG`` (reported as
    :class:`RecordWriteError`) instead of killing the process.

    Command-line entry points call it once at start-up. It does nothing on
    platforms without SIGXFSZ or outside the main thread.

    Returns
    -------
    bool
        True when the signal is now ignored.
    """
    sig = getattr(signal, "SIGXFSZ", None)
    if sig is None or threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(sig, signal.SIG_IGN)
    return True
