"""Duplicates and merging: one record per job, many records in one file."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from ._format import FORMAT_VERSION, MERGED_FORMAT, Record, RecordsWarning, _set_attrs, _write_into
from .read import DamagedRecordError, _load_file, _record_files
from .write import _write_hdf5

_STATUS_RANK = {"ok": 0, "skipped": 1, "failed": 2}

#: A job id as :class:`nmfexp.experiment.Job` makes it: the first 16 hex digits of the config's SHA-256.
JOB_ID = re.compile(r"[0-9a-f]{16}\Z")


def job_id_problem(job: object) -> str | None:
    """Why ``job`` (a record's ``job`` attribute) is not a job id, or None when it is one.

    Parameters
    ----------
    job : object
        The attribute as read.

    Returns
    -------
    str or None
        A reason fit for a report, e.g. ``"its job id '../x' is not a job id (16 hex digits)"``.
    """
    if job is None:
        return "a record without a job attribute"
    if not isinstance(job, str) or not JOB_ID.match(job):
        return f"its job id {job!r} is not a job id (16 lowercase hex digits, the config hash); not merged"
    return None


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
    merged : list of str
        Their job ids (the group names under ``/records``).
    skipped : list of (str, str)
        Files (or ``file::/records/<job>``) left out, with the reason.
    duplicates : list of Duplicate
        Jobs found more than once (one copy kept, see :func:`resolve_duplicates`).
    """

    output: Path
    written: int = 0
    merged: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)


def merge_records(source: str | os.PathLike, output: str | os.PathLike) -> MergeReport:
    """Copy every record under ``source`` into one file ``output`` (atomically, with a checksum).

    The merged file is built in memory (about its own size) before it is
    written. Records are stored as ``/records/<job>``, ``<job>`` the record's job id,
    which must be one (:data:`JOB_ID`: a record whose ``job`` is empty, nested, a
    path or anything else is skipped with the reason); a job present more than once is
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
        problem = job_id_problem(rec.attrs.get("job"))
        if problem:
            report.skipped.append((rec.location, problem))
        else:
            keyed.append(rec)
    written = []

    def fill(dst: h5py.File) -> None:
        written.clear()
        _set_attrs(dst, {"format": MERGED_FORMAT, "format_version": FORMAT_VERSION})
        group = dst.create_group("records")
        for rec in keyed:  # one group per job id (duplicates are resolved), a plain name: no '/' or '.'
            _write_into(group.create_group(rec.attrs["job"]), rec)
            written.append(rec.attrs["job"])
        if len(group) != len(keyed):
            raise RuntimeError(f"merge wrote {len(group)} groups for {len(keyed)} records")

    _write_hdf5(output_path, fill)
    report.written = len(written)
    report.merged = list(written)
    for where, why in report.skipped:
        warnings.warn(f"merge: skipped {where}: {why}", RecordsWarning, stacklevel=2)
    for d in report.duplicates:
        warnings.warn(f"merge: job {d.job} found more than once: kept {d.kept}, left out {', '.join(d.dropped)}",
                      RecordsWarning, stacklevel=2)
    return report
