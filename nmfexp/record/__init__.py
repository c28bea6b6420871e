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

Modules, one concern each: :mod:`._format` (constants, :class:`Record`,
attribute encoding, checksum block, reading one file), :mod:`.write`
(atomic writing, temporary files), :mod:`.claims`, :mod:`.read` (safe
reading, the helper process for unverified files), :mod:`.merge`
(duplicates, merged files), :mod:`.schema` (what every field means: its
group, type, role, unit and table column, declared once for the writer,
the tables, the figures and the documentation).
"""

from __future__ import annotations

from . import schema
from ._format import (
    FORMAT,
    FORMAT_VERSION,
    MERGED_FORMAT,
    DamagedRecordError,
    Record,
    RecordsWarning,
)
from .claims import Claim, ClaimInfo, claim, claim_holder, lock_path
from .merge import Duplicate, MergeReport, merge_records, resolve_duplicates
from .read import is_valid_record, iter_records, read_record, read_record_header, read_record_headers, record_status
from .write import STALE_SECONDS, RecordWriteError, ignore_sigxfsz, remove_stale_temp_files, temp_path, write_record

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
    "read_record_headers",
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
    "schema",
]
