"""Reading records safely: every file is read by HDF5 in a helper process with a time limit
(files with a checksum are verified first, in this process), so that a damaged file can neither
hang nor crash the caller.

A checksum proves that a file is the one that was written, not that HDF5 can read it: a record
whose global heap was damaged before its checksum was computed (or a hostile file with a valid
checksum) makes HDF5 loop for ever. Hence no file is parsed by HDF5 in the caller's process.
Records that were read once are not read again while they stay unchanged
(:mod:`nmfexp.record.catalogue`), so the helper's cost is paid once per file.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import pickle
import queue
import stat
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import _format
from ._format import SUFFIX, DamagedRecordError, Record, _read_file, _recv, _send, _verify


#: Seconds the helper process may spend reading one file, plus
#: :data:`UNVERIFIED_SECONDS_PER_MB` per megabyte of file. The
#: environment variable ``NMFEXP_READ_TIMEOUT`` sets it (e.g. for slow network file systems).
def _timeout_from_environment(default: float = 20.0) -> float:
    text = os.environ.get("NMFEXP_READ_TIMEOUT", "")
    try:
        value = float(text) if text.strip() else default
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"NMFEXP_READ_TIMEOUT must be a positive number of seconds, got {text!r}.")
    return value


UNVERIFIED_TIMEOUT = _timeout_from_environment()
UNVERIFIED_SECONDS_PER_MB = 0.5
#: Paths sent to the helper ahead of its answers.
_WINDOW = 16


class _UnverifiedReader:
    """A helper process that reads files without a checksum, so that a damaged
    one can neither hang nor crash the caller: each read has a time limit and
    the helper is killed and replaced when it does not answer in time or dies."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._replies: queue.Queue | None = None
        self._lock = threading.Lock()
        self._failed: str | None = None  # why the helper could not start (then it is not tried again)
        self.owner = os.getpid()  # a forked child must not use (or kill) its parent's helper

    def _start(self) -> None:
        if self._failed:
            raise OSError(self._failed)
        # _format.py is loaded by its file name: the helper needs h5py and numpy, not the whole package.
        code = ("import sys, importlib.util as u; s = u.spec_from_file_location('_nmfexp_record_reader', "
                f"{str(Path(_format.__file__).resolve())!r}); m = u.module_from_spec(s); sys.modules[s.name] = m; "
                "s.loader.exec_module(m); m._serve()")
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError as exc:
            self._failed = f"cannot start a helper process ({exc})"
            raise
        self._replies = queue.Queue()
        threading.Thread(target=_pump, args=(self._proc.stdout, self._replies), daemon=True).start()
        reply = self._wait(120.0)
        if reply != ("ready",):
            code = self._proc.poll()
            self.close()
            self._failed = f"the helper process for reading records did not start (exit status {code})"
            raise OSError(self._failed)

    def _wait(self, timeout: float):
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            return "timeout"

    def read(self, path: str, timeout: float, header_only: bool = False) -> tuple[list[Record], list[tuple[str, str]]]:
        result = self.read_many([(path, timeout)], header_only)[0]
        if isinstance(result, DamagedRecordError):
            raise result
        return result

    def read_many(self, items: list[tuple[str, float]], header_only: bool = False) -> list:
        """Read ``(path, timeout)`` items in order, up to :data:`_WINDOW` requests ahead of the
        answers (so that the helper never waits for the next path); each answer is
        ``(records, problems)`` or the :class:`DamagedRecordError` of a read that hung or crashed
        the helper (which is then replaced, and the requests after it sent again)."""
        results: list = []
        with self._lock:
            pending: collections.deque = collections.deque()
            todo = collections.deque(items)

            def send(item) -> None:
                _send(self._proc.stdin, (item[0], header_only))
                pending.append(item)

            def restart() -> None:
                self.close()
                self._start()
                for item in list(pending):
                    _send(self._proc.stdin, (item[0], header_only))

            if self._proc is None or self._proc.poll() is not None:
                self._start()
            while todo or pending:
                try:
                    while todo and len(pending) < _WINDOW:
                        send(todo.popleft())
                except OSError:  # it died between two reads
                    restart()
                    continue
                path, timeout = pending[0]
                reply = self._wait(timeout)
                if reply == "timeout" or reply is None:
                    if reply is None:
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            self._proc.wait(timeout=10)
                        why = f"reading it crashed the HDF5 library (exit status {self._proc.poll()})"
                    else:
                        why = (f"reading it did not finish within {timeout:.0f} s (damaged HDF5 structure; "
                               "records are read under a time limit)")
                    pending.popleft()
                    results.append(DamagedRecordError(why))
                    restart()
                    continue
                pending.popleft()
                payload, problems = reply
                results.append(([Record(a, g, arr, loc) for a, g, arr, loc in payload], problems))
        return results

    def close(self) -> None:
        if self.owner != os.getpid():  # inherited through fork: the helper belongs to the parent
            return
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    stream.close()


def _pump(stream, replies: queue.Queue) -> None:
    try:
        while (reply := _recv(stream)) is not None:
            replies.put(reply)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        pass
    replies.put(None)



_READER: _UnverifiedReader | None = None
_READER_LOCK = threading.Lock()


def _unverified_reader() -> _UnverifiedReader:
    global _READER
    with _READER_LOCK:
        if _READER is None or _READER.owner != os.getpid():
            _READER = _UnverifiedReader()
            atexit.register(_READER.close)
        return _READER


def _timeout(size: int) -> float:
    return UNVERIFIED_TIMEOUT + UNVERIFIED_SECONDS_PER_MB * size / 1e6


def _load_files(paths: list[Path], header_only: bool = False) -> list:
    """Records of several files, read safely: for each, ``(records, problems)`` or the
    :class:`DamagedRecordError` that says why the whole file is damaged.

    A file with a checksum is verified first (in this process: hashing cannot hang); then HDF5
    reads it in the helper process under a time limit, checksum or not. The helper is sent the
    paths ahead of its answers, so reading many files costs no round trip per file.
    """
    results: list = [None] * len(paths)
    items = []
    for i, path in enumerate(paths):
        try:
            _verify(path)
            items.append((i, str(path), _timeout(path.stat().st_size)))
        except DamagedRecordError as exc:
            results[i] = exc
        except OSError as exc:
            results[i] = DamagedRecordError(f"cannot be opened ({exc.strerror or exc})")
    if not items:
        return results
    try:
        answers = _unverified_reader().read_many([(p, t) for _, p, t in items], header_only)
    except OSError as exc:  # no helper process possible here: read in this process, unprotected
        warnings.warn(f"reading records without a time limit: cannot start a helper process ({exc})",
                      RuntimeWarning, stacklevel=3)
        answers = [_read_file(p, header_only=header_only) for _, p, _ in items]
    for (i, _, _), answer in zip(items, answers, strict=True):
        results[i] = answer
    return results


def _load_file(path: Path, header_only: bool = False) -> tuple[list[Record], list[tuple[str, str]]]:
    """Records of one file, read safely (see :func:`_load_files`).

    Raises
    ------
    DamagedRecordError
        The whole file is damaged (failed checksum, truncated, not HDF5,
        not a regular file, reading it hung or crashed).
    """
    (result,) = _load_files([path], header_only)
    if isinstance(result, DamagedRecordError):
        raise result
    return result


def read_record(path: str | os.PathLike) -> Record:
    """Read a record file.

    Files with a checksum (format_version 2) are verified before HDF5 reads
    them. Every file is read by HDF5 in a helper process that is stopped
    after :data:`UNVERIFIED_TIMEOUT` seconds (plus a little per megabyte), so
    damage can neither hang nor crash the caller, checksum or not.

    Raises
    ------
    DamagedRecordError
        (a ``ValueError``) when the file is damaged: failed checksum,
        truncated, unreadable by HDF5, or reading it did not finish in time.
    ValueError
        When the file is readable but not an nmfexp record.
    FileNotFoundError
        When it does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    try:
        records, problems = _load_file(path)
    except DamagedRecordError as exc:
        raise DamagedRecordError(f"{path} is damaged: {exc}") from None
    if problems:
        where, why = problems[0]
        if why.startswith("not an nmfexp record") or why.startswith("a merged file"):
            raise ValueError(f"{where} is {why}.")
        raise DamagedRecordError(f"{where} is {why}")
    if len(records) != 1 or records[0].location != str(path):
        raise ValueError(f"{path} is a merged file ({len(records)} records); read it with iter_records.")
    return records[0]


def read_record_header(path: str | os.PathLike) -> dict:
    """The root attributes of a usable record, or ``{}`` (missing, damaged, not a record, a symlink
    loop or anything else that is not a readable file); never raises for the file's content. Read as
    safely as :func:`read_record` (verified, then read under a time limit), but only the root
    attributes: what resuming a sweep needs."""
    path = Path(path)
    try:
        if not path.is_file():
            return {}
        records, problems = _load_file(path, header_only=True)
        return records[0].attrs if records and not problems and records[0].location == str(path) else {}
    except (OSError, ValueError, RuntimeError):
        return {}


#: Files read per round trip of :func:`read_record_headers` (bounds the memory of one batch).
_HEADER_BATCH = 512


def read_record_headers(paths: Iterable[str | os.PathLike]) -> list[dict]:
    """:func:`read_record_header` of many files in one pass of the reader process.

    Each file is read exactly as safely as by :func:`read_record_header` (verified, then read under
    its own time and size limit): a damaged, hostile or hanging file gives ``{}`` for that file only
    and never stops the batch. Paths are sent to the reader ahead of its answers, so a resume or a
    sweep's planning pays one pass, not one round trip per record.

    Parameters
    ----------
    paths : iterable of path-like
        Record files; missing ones, and anything that is not a regular file, give ``{}``.

    Returns
    -------
    list of dict
        The root attributes of each usable record, in the order of ``paths``.
    """
    paths = [Path(p) for p in paths]
    out: list[dict] = [{} for _ in paths]
    wanted = []
    for i, path in enumerate(paths):
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            if path.is_file():
                wanted.append(i)
    for start in range(0, len(wanted), _HEADER_BATCH):
        chunk = wanted[start:start + _HEADER_BATCH]
        try:
            results = _load_files([paths[i] for i in chunk], header_only=True)
        except (OSError, ValueError, RuntimeError):
            continue
        for i, result in zip(chunk, results, strict=True):
            if isinstance(result, tuple):
                records, problems = result
                if records and not problems and records[0].location == str(paths[i]):
                    out[i] = records[0].attrs
    return out


def record_status(path: str | os.PathLike) -> str | None:
    """The ``status`` of the record at ``path``, or None when there is no usable record.

    None means: the file is missing, damaged (checksum, truncation, HDF5
    errors, a read that hangs), or not a record; a runner then computes the
    job again and replaces the file. Never raises for the file's content.
    """
    return read_record_header(path).get("status")


def is_valid_record(path: str | os.PathLike) -> bool:
    """True when ``path`` is a complete, undamaged record with a status."""
    return record_status(path) is not None


def record_files(root: str | os.PathLike) -> tuple[list[Path], list[tuple[str, str]]]:
    """The record files under the folder ``root`` (``*.h5``, sorted), and ``(entry, why)`` for every
    entry named like a record that is not a readable file: a symlink loop, a dangling link, no
    permission, a FIFO. Symlinked folders are followed once (a loop of folders is not walked twice);
    temporary files (``*.tmp``) and claims (``*.lock``) are not records."""
    root = Path(root)
    files, problems, seen = [], [], set()

    def walk_error(exc: OSError) -> None:
        if exc.filename is not None and Path(exc.filename) != root:
            problems.append((str(exc.filename), f"folder cannot be read ({exc.strerror or exc})"))
        elif exc.filename is not None:
            raise exc

    for folder, dirs, names in os.walk(root, followlinks=True, onerror=walk_error):
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = None
        if key is not None and key in seen:
            dirs[:] = []  # a symlinked folder already walked (or a loop of folders)
            continue
        seen.add(key)
        for name in names:
            if not name.endswith(SUFFIX):
                continue
            path = Path(folder, name)
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                problems.append((str(path), f"cannot be read ({exc.strerror or exc}; e.g. a symlink loop or a "
                                            "dangling link in place of a record)"))
                continue
            if stat.S_ISREG(mode):
                files.append(path)
            elif not stat.S_ISDIR(mode):
                problems.append((str(path), "not a regular file (a FIFO or device named like a record)"))
    return sorted(files), sorted(problems)


def iter_records(path: str | os.PathLike, *, errors: list | None = None) -> Iterator[Record]:
    """Yield every record under ``path``, read safely (see :func:`read_record`).

    Parameters
    ----------
    path : path-like
        A folder (searched recursively for ``*.h5``), a record file, or a
        merged file.
    errors : list, optional
        Damaged and unreadable files are skipped; when given, ``(file,
        reason)`` pairs are appended to it (``file::/records/<job>`` for one
        damaged record inside a merged file; symlink loops and other entries
        named like records that cannot be read).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.is_dir():
        files, unreadable = record_files(path)
        if errors is not None:
            errors.extend(unreadable)
    else:
        files = [path]
    for start in range(0, len(files), _BATCH):
        for records, problems in load_files(files[start:start + _BATCH]):
            if errors is not None:
                errors.extend(problems)
            yield from records


_BATCH = 256


def load_files(files: list[Path]) -> list[tuple[list[Record], list[tuple[str, str]]]]:
    """For each file, its records and ``(where, why)`` for what could not be read; never raises for
    a file's content (a damaged file is one problem)."""
    return [([], [(str(file), f"damaged: {result}")]) if isinstance(result, DamagedRecordError) else result
            for file, result in zip(files, _load_files(files), strict=True)]


def load_file(file: Path) -> tuple[list[Record], list[tuple[str, str]]]:
    """:func:`load_files` for one file."""
    return load_files([file])[0]


def _record_files(root: Path) -> list[Path]:
    """The readable record files under ``root`` (see :func:`record_files`)."""
    return record_files(root)[0]
