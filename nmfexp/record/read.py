"""Reading records safely: verified files in this process, unverified (format_version 1)
files in a helper process with a time limit, so that a damaged file can neither hang nor crash
the caller."""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

from . import _format
from ._format import SUFFIX, DamagedRecordError, Record, _read_file, _recv, _send, _verify


#: Seconds a helper process may spend reading one unverified (format_version 1)
#: file, plus :data:`UNVERIFIED_SECONDS_PER_MB` per megabyte of file. The
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

    def read(self, path: str, timeout: float) -> tuple[list[Record], list[tuple[str, str]]]:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            try:
                _send(self._proc.stdin, path)
            except OSError:  # it died between two reads
                self.close()
                self._start()
                _send(self._proc.stdin, path)
            reply = self._wait(timeout)
            if reply == "timeout":
                self.close()
                raise DamagedRecordError(f"reading it did not finish within {timeout:.0f} s (damaged HDF5 "
                                         "structure; files without a checksum are read under a time limit)")
            if reply is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=10)
                code = self._proc.poll()
                self.close()
                raise DamagedRecordError(f"reading it crashed the HDF5 library (exit status {code})")
            payload, problems = reply
            return [Record(a, g, arr, loc) for a, g, arr, loc in payload], problems

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


def _load_file(path: Path) -> tuple[list[Record], list[tuple[str, str]]]:
    """Records of one file, read safely.

    A file with a checksum is verified, then read here; one without (format
    version 1) is read in the helper process under a time limit.

    Raises
    ------
    DamagedRecordError
        The whole file is damaged (failed checksum, truncated, not HDF5,
        reading it hung or crashed).
    """
    try:
        verified = _verify(path)
    except OSError as exc:
        raise DamagedRecordError(f"cannot be opened ({exc.strerror or exc})") from exc
    if verified:
        return _read_file(str(path))
    timeout = UNVERIFIED_TIMEOUT + UNVERIFIED_SECONDS_PER_MB * path.stat().st_size / 1e6
    try:
        reader = _unverified_reader()
        return reader.read(str(path), timeout)
    except OSError as exc:  # no helper process possible here: read in this process, unprotected
        warnings.warn(f"reading {path} without a time limit: cannot start a helper process ({exc})",
                      RuntimeWarning, stacklevel=3)
        return _read_file(str(path))


def read_record(path: str | os.PathLike) -> Record:
    """Read a record file.

    Files with a checksum (format_version 2) are verified before HDF5 reads
    them. Files without (format_version 1) are read in a helper process that
    is stopped after :data:`UNVERIFIED_TIMEOUT` seconds (plus a little per
    megabyte), so damage can neither hang nor crash the caller.

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
    """The root attributes of a usable record, or ``{}`` (missing, damaged, not a record); never raises
    for the file's content. Read as safely as :func:`read_record`: a file with a checksum is verified
    first and then only its root attributes are read (what resuming a sweep needs, fast)."""
    path = Path(path)
    try:
        if not path.is_file():
            return {}
        if _verify(path):
            records, problems = _read_file(str(path), header_only=True)
            return records[0].attrs if records and not problems and records[0].location == str(path) else {}
        return read_record(path).attrs  # no checksum (format 1): the protected full read
    except (OSError, ValueError):
        return {}


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


def _record_files(root: Path) -> list[Path]:
    # Only finished records: temporary files end in .tmp, claims in .lock, not .h5.
    return sorted(p for p in root.rglob(f"*{SUFFIX}") if p.is_file())


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
        damaged record inside a merged file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    files = _record_files(path) if path.is_dir() else [path]
    for file in files:
        try:
            records, problems = _load_file(file)
        except DamagedRecordError as exc:
            records, problems = [], [(str(file), f"damaged: {exc}")]
        if errors is not None:
            errors.extend(problems)
        yield from records
