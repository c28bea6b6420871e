"""The record format itself: constants, the in-memory :class:`Record`, attribute encoding,
the checksum block, and reading one HDF5 file into records.

This module imports only the standard library, NumPy and h5py (no relative
imports): the helper process that reads unverified (format_version 1) files
loads it by its file name, without the rest of the package
(:mod:`nmfexp.record.read`).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import stat
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

FORMAT = "nmfexp-record"
MERGED_FORMAT = "nmfexp-records"
#: 2: a 512-byte checksum user block, typed attribute encoding (``_json``). 1: neither.
FORMAT_VERSION = 2
SUFFIX = ".h5"
TEMP_SUFFIX = ".tmp"
LOCK_SUFFIX = ".lock"

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
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device would block or never end
        os.close(fd)
        raise DamagedRecordError("not a regular file (a FIFO, device or folder named like a record)")
    with os.fdopen(fd, "rb") as fh:
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


#: The largest attribute a reader decodes, in bytes (as stored) and in elements. A record's largest
#: attribute is its config (kilobytes); anything beyond these is damage or a hostile file.
MAX_ATTRIBUTE_BYTES = 16 << 20
MAX_ATTRIBUTE_ELEMENTS = 1 << 20


def _attribute(obj, name: str):
    """One attribute's value, its size checked before it is decoded."""
    aid = obj.attrs.get_id(name)
    shape = aid.shape or ()
    elements = int(np.prod(shape, dtype=np.float64)) if shape else 1
    try:
        stored = aid.get_storage_size()
    except RuntimeError:  # h5py raises for 0 bytes (an empty attribute)
        stored = 0
    if elements > MAX_ATTRIBUTE_ELEMENTS or stored > MAX_ATTRIBUTE_BYTES:
        raise DamagedRecordError(f"its attribute {name!r} is too large to be a record's ({elements} elements, "
                                 f"{stored} bytes; at most {MAX_ATTRIBUTE_ELEMENTS} and {MAX_ATTRIBUTE_BYTES}); "
                                 "not read")
    value = _python(obj.attrs[name])
    if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_BYTES:
        raise DamagedRecordError(f"its attribute {name!r} holds {len(value)} characters, more than a record's "
                                 f"({MAX_ATTRIBUTE_BYTES}); not read")
    return value


def _read_attrs(obj) -> dict:
    attrs = {k: _attribute(obj, k) for k in obj.attrs}
    for key in attrs.pop(_JSON_KEY, None) or []:
        if isinstance(attrs.get(key), str):
            attrs[key] = json.loads(attrs[key])
    return attrs


def _read_group(group: h5py.Group, location: str) -> Record:
    """One record from ``group``. Only its own objects are read: HDF5's visit follows no soft or
    external link, and a dataset that keeps its values in another file (virtual, or external
    storage) is refused, so that a record never makes the reader open a file it does not name."""
    rec = Record(attrs=_read_attrs(group), location=location)

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            if obj.is_virtual or obj.external:
                raise DamagedRecordError(f"its dataset {name!r} keeps its values in other files, which no record "
                                         "does; not read")
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
                    if not isinstance(group.get(job, getlink=True), h5py.HardLink):
                        problems.append((where, "a link to another file or object, not a record; not read"))
                        continue
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


def _serve() -> None:
    """Body of the helper process: read paths from stdin, answer with pickled records."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the answers
    inp = sys.stdin.buffer
    _send(out, ("ready",))
    while (request := _recv(inp)) is not None:
        path, header_only = request if isinstance(request, tuple) else (request, False)
        records, problems = _read_file(path, header_only=header_only)
        _send(out, (_as_payload(records), problems))

