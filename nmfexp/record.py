"""One HDF5 file per job: writing it atomically, reading it back safely, merging many.

The layout is documented for readers without this code in ``docs/records.md``.
In short, a record is an HDF5 file whose root has attributes (identity,
status, the resolved config as YAML), groups whose attributes hold scalars
(``metrics``, ``data``, ``info``, ``timing``, ``environment``) and datasets
for arrays (``timing/samples``, ``history/<name>``, ``factors/A``, ...).
A merged file (``nmfexp-results merge``) holds many records as groups
``/records/<job>``, each laid out exactly like the root of a record file.

Integrity (format_version 2)
    Every file written here starts with a 512-byte HDF5 *user block* holding
    a SHA-256 digest of the rest of the file. Readers check it before HDF5
    parses a single byte, so a damaged file (zeroed blocks, flipped bits,
    truncation) is reported by name and treated as missing instead of
    crashing or hanging the HDF5 library. HDF5 tools skip the user block and
    read these files as usual. Files of format_version 1 (no user block) are
    read in a helper process with a time limit (see :func:`read_record`).

Writing
    :func:`write_record` builds the whole file in memory, writes it to
    ``<name>.<host>.<pid>.<random>.tmp`` in the same folder, syncs it and
    renames it over ``<name>`` with :func:`os.replace`. A file with the final
    name is therefore always complete; a failed write raises
    :class:`RecordWriteError` and leaves neither a temporary nor a partial
    final file. :func:`remove_stale_temp_files` deletes only temporary files
    whose writer is gone.

Concurrency
    :func:`claim` takes a per-job lock file (``<name>.lock``) so that two
    sweeps on one results folder compute each job once.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import hashlib
import io
import json
import os
import pickle
import queue
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

__all__ = [
    "FORMAT",
    "MERGED_FORMAT",
    "FORMAT_VERSION",
    "STALE_SECONDS",
    "Record",
    "RecordWriteError",
    "DamagedRecordError",
    "RecordsWarning",
    "write_record",
    "read_record",
    "record_status",
    "is_valid_record",
    "read_record_header",
    "temp_path",
    "remove_stale_temp_files",
    "Claim",
    "ClaimInfo",
    "claim",
    "claim_holder",
    "lock_path",
    "ignore_sigxfsz",
    "iter_records",
    "Duplicate",
    "resolve_duplicates",
    "MergeReport",
    "merge_records",
]

FORMAT = "nmfexp-record"
MERGED_FORMAT = "nmfexp-records"
#: 2: a 512-byte checksum user block, typed attribute encoding (``_json``). 1: neither.
FORMAT_VERSION = 2
SUFFIX = ".h5"
TEMP_SUFFIX = ".tmp"
LOCK_SUFFIX = ".lock"

#: Temporary files and claims of other hosts (whose processes cannot be checked)
#: count as abandoned after this many seconds without a change.
STALE_SECONDS = 24 * 3600.0
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

USERBLOCK_SIZE = 512
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CHECKSUM_MAGIC = b"nmfexp-checksum 1\n"
_CHECKSUM_RE = re.compile(rb"nmfexp-checksum 1\nsha256 ([0-9a-f]{64})\nsize ([0-9]{1,20})\n")
_JSON_KEY = "_json"  # attribute listing the names of attributes stored as JSON text
_INT64 = np.iinfo(np.int64)
_CHUNK = 1 << 20


@dataclass
class Record:
    """The content of one record.

    Attributes
    ----------
    attrs : dict
        Root attributes (``format``, ``job``, ``status``, ``config_yaml``, ...).
    groups : dict of str to dict
        Group name -> its attributes (``"metrics"``, ``"data"``, ...).
    arrays : dict of str to ndarray
        Dataset path -> values (``"timing/samples"``, ``"history/objective"``, ...).
    location : str
        Where it was read from (``file.h5`` or ``merged.h5::/records/<job>``).
    """

    attrs: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    location: str = ""


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


class RecordsWarning(UserWarning):
    """Files left out as damaged or unreadable, duplicate jobs, or a mix of versions."""


class DamagedRecordError(ValueError):
    """A file that should be a record cannot be trusted (failed checksum,
    truncated, unreadable by HDF5, or reading it did not finish in time)."""


# --------------------------------------------------------------------------- attribute encoding

def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _to_json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_json_default)


def _encode(value):
    """Return ``(stored value, is_json)`` for an attribute value (see docs/records.md)."""
    if value is None:
        return "null", True
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value), False
    if isinstance(value, (int, np.integer)):
        if _INT64.min <= int(value) <= _INT64.max:
            return np.int64(value), False
        return _to_json(int(value)), True
    if isinstance(value, (float, np.floating)):
        return value, False
    if isinstance(value, str):
        return (value, False) if "\x00" not in value else (_to_json(value), True)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return value, False
        items = value.ravel().tolist()
        if value.ndim == 1 and all(isinstance(v, str) and "\x00" not in v for v in items):
            return np.asarray(items, dtype=h5py.string_dtype()), False
        return _to_json(value.tolist()), True
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) and "\x00" not in v for v in value):
            return np.asarray(list(value), dtype=h5py.string_dtype()), False
        return _to_json(list(value)), True
    if isinstance(value, dict):
        return _to_json(value), True
    return str(value), False


def _set_attrs(obj, attrs: dict) -> None:
    json_keys = []
    for key, value in attrs.items():
        stored, is_json = _encode(value)
        obj.attrs[key] = stored
        if is_json:
            json_keys.append(key)
    if json_keys:
        obj.attrs[_JSON_KEY] = np.asarray(json_keys, dtype=h5py.string_dtype())


def _write_into(group: h5py.Group, record: Record) -> None:
    _set_attrs(group, record.attrs)
    for name, attrs in record.groups.items():
        _set_attrs(group.require_group(name), attrs)
    for name, values in record.arrays.items():
        group.create_dataset(name, data=np.asarray(values))


# --------------------------------------------------------------------------- checksum block

def _checksum_block(digest: str, size: int) -> bytes:
    text = _CHECKSUM_MAGIC + f"sha256 {digest}\nsize {size}\n".encode()
    return text.ljust(USERBLOCK_SIZE, b"\0")


def _verify(path: Path) -> bool:
    """Check the checksum block of ``path`` before HDF5 reads anything.

    Returns True when the file carries a checksum and matches it, False when
    it is a format_version 1 file (plain HDF5, nothing to check).

    Raises
    ------
    DamagedRecordError
        The file does not match its checksum, is truncated or extended, its
        checksum block is damaged, or it is not an HDF5 file at all.
    """
    with open(path, "rb") as fh:
        head = fh.read(USERBLOCK_SIZE)
        if head[:8] == _HDF5_SIGNATURE:
            return False
        match = _CHECKSUM_RE.match(head)
        if match is None or len(head) < USERBLOCK_SIZE or head[match.end():].strip(b"\0"):
            if not head:
                raise DamagedRecordError("the file is empty")
            if head.startswith(_CHECKSUM_MAGIC):
                raise DamagedRecordError("its checksum block is damaged")
            fh.seek(USERBLOCK_SIZE)
            if fh.read(8) == _HDF5_SIGNATURE:
                raise DamagedRecordError("no valid nmfexp checksum block (damaged, or HDF5 from another program)")
            raise DamagedRecordError("not an HDF5 file (no HDF5 signature; damaged or another kind of file)")
        expected, size = match.group(1).decode(), int(match.group(2))
        actual_size = os.fstat(fh.fileno()).st_size - USERBLOCK_SIZE
        if actual_size != size:
            what = "truncated" if actual_size < size else "extended"
            raise DamagedRecordError(f"{what}: {actual_size + USERBLOCK_SIZE} bytes instead of "
                                     f"{size + USERBLOCK_SIZE}")
        digest = hashlib.sha256()
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise DamagedRecordError("checksum mismatch: its content changed after it was written")
    return True


# --------------------------------------------------------------------------- writing

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


# --------------------------------------------------------------------------- claims

@dataclass(frozen=True)
class ClaimInfo:
    """Who holds a claim: ``host``, ``pid``, ``time`` (seconds since the epoch) and the lock file."""

    host: str
    pid: int
    time: float
    path: Path

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        return f"process {self.pid} on {self.host} since {when}"


_HELD_TOKENS: set[str] = set()  # claims this process holds


def lock_path(path: str | os.PathLike) -> Path:
    """The claim file of record ``path``: ``<name>.lock``."""
    path = Path(path)
    return path.with_name(path.name + LOCK_SUFFIX)


class Claim:
    """A claim on one job, held by this process until :meth:`release`.

    Use it as a context manager; :meth:`refresh` keeps a claim alive for jobs
    that run longer than ``stale_after`` seconds.
    """

    def __init__(self, lock: Path, content: bytes, info: ClaimInfo, token: str):
        self.lock, self.info = lock, info
        self._content, self._token = content, token

    def held(self) -> bool:
        """Whether the lock file is still this claim's."""
        try:
            return self.lock.read_bytes() == self._content
        except OSError:
            return False

    def refresh(self) -> None:
        """Mark the claim as alive now (its age restarts from zero)."""
        if self.held():
            os.utime(self.lock)

    def release(self) -> None:
        """Give the job back; does nothing if the claim was already released or broken."""
        if self._token in _HELD_TOKENS:
            _HELD_TOKENS.discard(self._token)
            if self.held():
                with contextlib.suppress(FileNotFoundError):
                    self.lock.unlink()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Claim({str(self.lock)!r}, {self.info.describe()})"


def _parse_claim(lock: Path, raw: bytes) -> tuple[ClaimInfo | None, str | None]:
    try:
        d = json.loads(raw.decode())
        return ClaimInfo(host=str(d["host"]), pid=int(d["pid"]), time=float(d["time"]), path=lock), str(d["token"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None


def _claim_is_stale(lock: Path, raw: bytes, stale_after: float) -> bool:
    info, token = _parse_claim(lock, raw)
    age = _age(lock)
    if info is None:  # being written this instant, or its writer died in between
        return age > min(60.0, stale_after)
    if age > stale_after:
        return True
    if info.host == socket.gethostname():
        if info.pid == os.getpid():
            return token not in _HELD_TOKENS  # an earlier process with our pid left it
        return not _pid_alive(info.pid)
    return False


def _break_stale_claim(lock: Path, raw: bytes) -> None:
    """Remove ``lock`` if it still holds ``raw`` (a claim judged stale); keep any newer claim."""
    grave = lock.with_name(f"{lock.name}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}.stale")
    try:
        os.rename(lock, grave)
    except FileNotFoundError:
        return
    try:
        if grave.read_bytes() != raw:  # someone claimed it meanwhile: put theirs back
            with contextlib.suppress(OSError):
                os.link(grave, lock)
    finally:
        with contextlib.suppress(FileNotFoundError):
            grave.unlink()


def claim(path: str | os.PathLike, *, stale_after: float = STALE_SECONDS) -> Claim | None:
    """Claim the job whose record is ``path``, so that no other process computes it meanwhile.

    Creates ``<name>.lock`` exclusively (``O_CREAT | O_EXCL``), holding this
    host, pid, time and a random token as JSON. A claim found there is taken
    over when it is stale: made on this host by a process that no longer
    runs, or unchanged for ``stale_after`` seconds (any host; see
    :meth:`Claim.refresh`).

    How a runner uses it::

        if record_status(path) is not None: skip (done)
        c = claim(path)
        if c is None: report "running elsewhere" (claim_holder(path) says who); skip
        with c:
            if record_status(path) is not None: skip (finished while we looked)
            remove_stale_temp_files(path)
            ... compute ...
            write_record(path, rec)

    Parameters
    ----------
    path : path-like
        The record's final path (the lock file goes next to it).
    stale_after : float
        Seconds after which any claim counts as abandoned.

    Returns
    -------
    Claim or None
        A held claim, or None when another live process holds it.
    """
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        token = secrets.token_hex(8)
        info = ClaimInfo(host=socket.gethostname(), pid=os.getpid(), time=time.time(), path=lock)
        content = json.dumps({"host": info.host, "pid": info.pid, "time": info.time, "token": token,
                              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            try:
                raw = lock.read_bytes()
                if not _claim_is_stale(lock, raw, stale_after):
                    return None
            except FileNotFoundError:  # released meanwhile: try again
                continue
            _break_stale_claim(lock, raw)
            continue
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        _HELD_TOKENS.add(token)
        return Claim(lock, content, info, token)
    return None


def claim_holder(path: str | os.PathLike, *, stale_after: float = STALE_SECONDS) -> ClaimInfo | None:
    """Who holds a live claim on record ``path`` (None when nobody does)."""
    lock = lock_path(path)
    try:
        raw = lock.read_bytes()
        if _claim_is_stale(lock, raw, stale_after):
            return None
    except FileNotFoundError:
        return None
    info, _ = _parse_claim(lock, raw)
    return info or ClaimInfo(host="?", pid=-1, time=lock.stat().st_mtime, path=lock)


# --------------------------------------------------------------------------- reading

def _python(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OS":
            return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, h5py.Empty):
        return None
    return value


def _read_attrs(obj) -> dict:
    attrs = {k: _python(v) for k, v in obj.attrs.items()}
    for key in attrs.pop(_JSON_KEY, None) or []:
        if isinstance(attrs.get(key), str):
            attrs[key] = json.loads(attrs[key])
    return attrs


def _read_group(group: h5py.Group, location: str) -> Record:
    rec = Record(attrs=_read_attrs(group), location=location)

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            rec.arrays[name] = obj[()]
        elif isinstance(obj, h5py.Group):
            rec.groups[name] = _read_attrs(obj)

    group.visititems(visit)
    return rec


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, DamagedRecordError) else str(exc)


_REQUIRED = ("job", "status")


def _incomplete(rec: Record) -> str | None:
    missing = [key for key in _REQUIRED if not isinstance(rec.attrs.get(key), str)]
    return f"incomplete record (no {' and no '.join(missing)} attribute; damaged)" if missing else None


def _read_file(path: str, header_only: bool = False) -> tuple[list[Record], list[tuple[str, str]]]:
    """Every record in one file (a record or a merged file), and ``(where, why)`` for what could not be read.

    A record must have the root attributes ``job`` and ``status`` (strings).
    With ``header_only``, a record file yields only its root attributes.
    """
    try:
        with h5py.File(path, "r") as f:
            fmt = _python(f.attrs.get("format"))
            if fmt == FORMAT:
                rec = Record(attrs=_read_attrs(f), location=path) if header_only else _read_group(f, path)
                problem = _incomplete(rec)
                return ([], [(path, problem)]) if problem else ([rec], [])
            if fmt == MERGED_FORMAT:
                group = f.get("records")
                if not isinstance(group, h5py.Group):
                    return [], [(path, "a merged file (format nmfexp-records) without a /records group")]
                records, problems = [], []
                for job in sorted(group):
                    where = f"{path}::/records/{job}"
                    try:
                        rec = _read_group(group[job], where)
                    except Exception as exc:  # HDF5 reports damage with many exception types
                        problems.append((where, f"damaged ({_reason(exc)})"))
                        continue
                    problem = _incomplete(rec)
                    if problem:
                        problems.append((where, problem))
                    else:
                        records.append(rec)
                return records, problems
            return [], [(path, "not an nmfexp record (no format attribute)" if fmt is None
                         else f"not an nmfexp record (format {fmt!r})")]
    except Exception as exc:
        return [], [(path, f"damaged or not HDF5 ({_reason(exc)})")]


def _as_payload(records: list[Record]) -> list[tuple]:
    return [(r.attrs, r.groups, r.arrays, r.location) for r in records]


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
        # record.py is loaded by its file name: the helper needs h5py and numpy, not the whole package.
        code = ("import sys, importlib.util as u; s = u.spec_from_file_location('_nmfexp_record_reader', "
                f"{str(Path(__file__).resolve())!r}); m = u.module_from_spec(s); sys.modules[s.name] = m; "
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


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack(">Q", len(data)) + data)
    stream.flush()


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack(">Q", head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def _pump(stream, replies: queue.Queue) -> None:
    try:
        while (reply := _recv(stream)) is not None:
            replies.put(reply)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        pass
    replies.put(None)


def _serve() -> None:
    """Body of the helper process: read paths from stdin, answer with pickled records."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the answers
    inp = sys.stdin.buffer
    _send(out, ("ready",))
    while (path := _recv(inp)) is not None:
        records, problems = _read_file(path)
        _send(out, (_as_payload(records), problems))


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


# --------------------------------------------------------------------------- duplicates and merging

_STATUS_RANK = {"ok": 0, "skipped": 1, "failed": 2}


@dataclass
class Duplicate:
    """A job found in several places: the copy kept and the copies left out."""

    job: str
    kept: str
    dropped: list[str]


def resolve_duplicates(records: list[Record]) -> tuple[list[Record], list[Duplicate]]:
    """Keep one record per job (``job`` attribute).

    The rule, applied in order: status ``ok`` before ``skipped`` before
    ``failed``; then the most recent ``created`` time; then the first
    location in sorted order. Records without a ``job`` are all kept.

    Returns
    -------
    unique : list of Record
        In the order of first appearance of each job.
    duplicates : list of Duplicate
        One entry per job found more than once.
    """
    by_job: dict[str, list[Record]] = {}
    order: list = []
    for rec in records:
        job = rec.attrs.get("job")
        if job is None:
            order.append(rec)
            continue
        if job not in by_job:
            by_job[job] = []
            order.append(job)
        by_job[job].append(rec)
    unique, duplicates = [], []
    for item in order:
        if isinstance(item, Record):
            unique.append(item)
            continue
        copies = by_job[item]
        if len(copies) > 1:
            copies = sorted(copies, key=lambda r: r.location)
            copies = sorted(copies, key=lambda r: str(r.attrs.get("created") or ""), reverse=True)
            copies = sorted(copies, key=lambda r: _STATUS_RANK.get(r.attrs.get("status"), 3))
            duplicates.append(Duplicate(job=item, kept=copies[0].location, dropped=[r.location for r in copies[1:]]))
        unique.append(copies[0])
    return unique, duplicates


@dataclass
class MergeReport:
    """What :func:`merge_records` did.

    Attributes
    ----------
    output : Path
    written : int
        Records in the merged file.
    skipped : list of (str, str)
        Files (or ``file::/records/<job>``) left out, with the reason.
    duplicates : list of Duplicate
        Jobs found more than once (one copy kept, see :func:`resolve_duplicates`).
    """

    output: Path
    written: int = 0
    skipped: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)


def merge_records(source: str | os.PathLike, output: str | os.PathLike) -> MergeReport:
    """Copy every record under ``source`` into one file ``output`` (atomically, with a checksum).

    The merged file is built in memory (about its own size) before it is
    written. Records are stored as ``/records/<job>``; a job present more than once is
    kept once (see :func:`resolve_duplicates`). Damaged and unreadable files
    are left out, listed in the report and named in a :class:`RecordsWarning`.

    Raises
    ------
    FileNotFoundError
        ``source`` does not exist.
    RecordWriteError
        ``output`` could not be written (nothing is left behind).
    """
    output_path = Path(output)
    output_abs = output_path.resolve()
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist.")
    report = MergeReport(output=output_path)
    files = _record_files(source) if source.is_dir() else [source]
    records: list[Record] = []
    for file in files:
        if file.resolve() == output_abs:
            continue
        try:
            found, problems = _load_file(file)
        except DamagedRecordError as exc:
            found, problems = [], [(str(file), f"damaged: {exc}")]
        report.skipped.extend(problems)
        records.extend(found)
    unique, report.duplicates = resolve_duplicates(records)
    keyed = []
    for rec in unique:
        if rec.attrs.get("job") is None:
            report.skipped.append((rec.location, "a record without a job attribute"))
        else:
            keyed.append(rec)

    def fill(dst: h5py.File) -> None:
        _set_attrs(dst, {"format": MERGED_FORMAT, "format_version": FORMAT_VERSION})
        group = dst.create_group("records")
        for rec in keyed:
            _write_into(group.create_group(str(rec.attrs["job"])), rec)

    _write_hdf5(output_path, fill)
    report.written = len(keyed)
    for where, why in report.skipped:
        warnings.warn(f"merge: skipped {where}: {why}", RecordsWarning, stacklevel=2)
    for d in report.duplicates:
        warnings.warn(f"merge: job {d.job} found more than once: kept {d.kept}, left out {', '.join(d.dropped)}",
                      RecordsWarning, stacklevel=2)
    return report
