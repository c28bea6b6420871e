"""One HDF5 file per job: writing it atomically, reading it back, merging many.

The layout is documented for readers without this code in ``docs/records.md``.
In short, a record is an HDF5 file whose root has attributes (identity,
status, the resolved config as YAML), groups whose attributes hold scalars
(``metrics``, ``data``, ``info``, ``timing``, ``environment``) and datasets
for arrays (``timing/samples``, ``history/<name>``, ``factors/A``, ...).

A merged file (``nmfexp-results merge``) holds many records as groups
``/records/<job>``, each laid out exactly like the root of a record file.

Writing goes to ``<name>.<pid>.tmp`` in the same folder, which is then
renamed over ``<name>`` with :func:`os.replace`; a file with the final name
is therefore always complete, and a killed job leaves at most a ``.tmp``
file, which readers ignore and the next run of that job deletes.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

__all__ = [
    "FORMAT",
    "MERGED_FORMAT",
    "FORMAT_VERSION",
    "Record",
    "write_record",
    "read_record",
    "is_valid_record",
    "read_record_header",
    "ignore_file_size_signal",
    "remove_stale_temp_files",
    "iter_records",
    "merge_records",
]

FORMAT = "nmfexp-record"
MERGED_FORMAT = "nmfexp-records"
FORMAT_VERSION = 1
SUFFIX = ".h5"
TEMP_SUFFIX = ".tmp"


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


# --------------------------------------------------------------------------- writing

def _attr_value(value):
    """Convert a Python value to something h5py stores as an attribute (None -> omitted)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            return arr
        if arr.dtype.kind in "UO" and all(isinstance(v, str) for v in arr.ravel()):
            return np.asarray([str(v) for v in arr.ravel()], dtype=h5py.string_dtype())
        return json.dumps(list(value), default=str)
    return str(value)


def _set_attrs(obj, attrs: dict) -> None:
    for key, value in attrs.items():
        converted = _attr_value(value)
        if converted is not None:
            obj.attrs[key] = converted


def _write_into(group: h5py.Group, record: Record) -> None:
    _set_attrs(group, record.attrs)
    for name, attrs in record.groups.items():
        _set_attrs(group.require_group(name), attrs)
    for name, values in record.arrays.items():
        group.create_dataset(name, data=np.asarray(values))


def ignore_file_size_signal() -> None:
    """Make a file-size limit (``ulimit -f``) fail a write with an error instead of killing the process.

    By default the kernel's SIGXFSZ terminates a process that writes past
    the limit; ignored, the write raises ``OSError(EFBIG)``, which the runner
    reports. Call once, from the main thread, at the start of a command.
    """
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def temp_path(path: Path) -> Path:
    """The temporary name a job writes before renaming (unique per process)."""
    return path.with_name(f"{path.name}.{os.getpid()}{TEMP_SUFFIX}")


def remove_stale_temp_files(path: str | os.PathLike) -> int:
    """Delete temporary files left next to ``path`` by killed writers; return how many."""
    path = Path(path)
    count = 0
    for tmp in path.parent.glob(f"{path.name}.*{TEMP_SUFFIX}"):
        try:
            tmp.unlink()
            count += 1
        except FileNotFoundError:
            pass
    return count


def write_record(path: str | os.PathLike, record: Record) -> Path:
    """Write ``record`` to ``path`` atomically (temporary file, fsync, :func:`os.replace`).

    Parameters
    ----------
    path : path-like
        Final file name, normally ending in ``.h5``; its folder is created.
    record : Record

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with h5py.File(tmp, "w") as f:
            _write_into(f, record)
        with open(tmp, "rb") as fh:  # the bytes are on disk before the name points at them
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


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
    return value


def _read_group(group: h5py.Group, location: str) -> Record:
    rec = Record(attrs={k: _python(v) for k, v in group.attrs.items()}, location=location)

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            rec.arrays[name] = obj[()]
        elif isinstance(obj, h5py.Group):
            rec.groups[name] = {k: _python(v) for k, v in obj.attrs.items()}

    group.visititems(visit)
    return rec


def read_record(path: str | os.PathLike) -> Record:
    """Read a record file.

    Raises
    ------
    ValueError
        If the file is not a readable nmfexp record.
    """
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ValueError(f"{path} is not an nmfexp record (root attribute format != {FORMAT!r}).")
            return _read_group(f, str(path))
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file ({exc}).") from exc


def read_record_header(path: str | os.PathLike) -> dict:
    """The root attributes of a valid record with a status, or ``{}`` (no file, unreadable, not a record)."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT or "status" not in f.attrs:
                return {}
            return {k: _python(v) for k, v in f.attrs.items()}
    except (OSError, ValueError):
        return {}


def record_status(path: str | os.PathLike) -> str | None:
    """The ``status`` attribute of a valid record, or None."""
    return read_record_header(path).get("status")


def is_valid_record(path: str | os.PathLike) -> bool:
    """True when ``path`` is a complete, readable record with a status."""
    return record_status(path) is not None


def _record_files(root: Path) -> list[Path]:
    # Only finished records: temporary files end in .tmp, not .h5.
    return sorted(p for p in root.rglob(f"*{SUFFIX}") if p.is_file())


def iter_records(path: str | os.PathLike, *, errors: list | None = None) -> Iterator[Record]:
    """Yield every record under ``path``.

    Parameters
    ----------
    path : path-like
        A folder (searched recursively for ``*.h5``), a record file, or a
        merged file.
    errors : list, optional
        Unreadable files are skipped; when given, ``(file, message)`` pairs are
        appended to it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    files = _record_files(path) if path.is_dir() else [path]
    for file in files:
        try:
            with h5py.File(file, "r") as f:
                fmt = f.attrs.get("format")
                if fmt == FORMAT:
                    yield _read_group(f, str(file))
                elif fmt == MERGED_FORMAT:
                    for job in sorted(f["records"]):
                        yield _read_group(f["records"][job], f"{file}::/records/{job}")
                elif errors is not None:
                    errors.append((str(file), "not an nmfexp record (no format attribute)"))
        except (OSError, KeyError) as exc:
            if errors is not None:
                errors.append((str(file), str(exc)))


def merge_records(source: str | os.PathLike, output: str | os.PathLike) -> int:
    """Copy every record under ``source`` into one file ``output`` (atomically).

    Records are stored as ``/records/<job>``; a job present twice is kept once.

    Returns
    -------
    int
        Number of records written.
    """
    output = Path(output).resolve()
    source = Path(source)
    files = _record_files(source) if source.is_dir() else [source]
    files = [f for f in files if f.resolve() != output]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(output)
    count = 0
    try:
        with h5py.File(tmp, "w") as dst:
            dst.attrs["format"] = MERGED_FORMAT
            dst.attrs["format_version"] = FORMAT_VERSION
            records = dst.create_group("records")
            for file in files:
                try:
                    with h5py.File(file, "r") as src:
                        fmt = src.attrs.get("format")
                        if fmt == FORMAT:
                            groups = [(str(src.attrs["job"]), src["/"])]
                        elif fmt == MERGED_FORMAT:
                            groups = [(job, src["records"][job]) for job in src["records"]]
                        else:
                            continue
                        for job, group in groups:
                            if job not in records:
                                src.copy(group, records, name=job)
                                count += 1
                except OSError:
                    continue
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()
    return count
