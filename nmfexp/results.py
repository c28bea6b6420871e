"""Tables from records: :func:`load` (one row per job) and :func:`load_history` (one row per iteration).

    import nmfexp.results
    df = nmfexp.results.load("results/")          # a folder tree of records, a record, or a merged file
    h = nmfexp.results.load_history("results/")

Command line::

    nmfexp-results summary results/              # jobs per solver and status, damaged files, duplicates, versions,
                                                 # and the progress of the latest sweep into that folder
    nmfexp-results merge results/ -o all.h5      # every record in one HDF5 file
    nmfexp-results csv results/ -o table.csv     # the load() table as CSV (--history: the long table)
    nmfexp-results parquet results/ -o table.parquet
    nmfexp-results compare results/machineA results/machineB [-o side_by_side.csv]
    nmfexp-results archive results/ results.zip  # records + plans + MANIFEST.json of checksums (.zip, .tar.gz,
                                                 # .tar.xz); nmfexp-plot --from-archive re-derives every figure
    nmfexp-results verify-archive results.zip    # every member against the manifest
    nmfexp-results compare-solvers results/ --metric heldout_relative_error --baseline column_mean \
        [--tie 0.01] [--by tag] [--format md|csv]    # paired statistics over problems (nmfexp.analysis)

Runtimes are in seconds. Damaged or unreadable files are reported by name
(a :class:`RecordsWarning`, or a line of the command's output) and left out;
temporary files of running or killed jobs (``*.tmp``) are never read.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .record import (
    Duplicate,
    Record,
    RecordsWarning,
    ignore_sigxfsz,
    iter_records,
    merge_records,
    resolve_duplicates,
    schema,
)

__all__ = ["load", "load_history", "history_of", "load_all", "scan", "Scan", "record_row", "main", "COLUMNS", "ENV_COLUMNS",
           "EXECUTION_COLUMNS", "KEY_COLUMNS", "RecordsWarning", "compare", "compare_summary", "COMPARE_METRICS",
           "tables", "archive"]

#: The leading columns of :func:`load`, in order (:data:`nmfexp.record.schema.COLUMNS`); ``info.*``,
#: ``env.*``, ``execution.*``, ``dataset_meta.*`` and the config follow.
COLUMNS = schema.COLUMNS
#: Environment columns (from the record's ``environment`` group), always present in :func:`load`.
ENV_COLUMNS = schema.ENV_COLUMNS
#: Where the job ran (the record's ``execution`` group), always present in :func:`load`.
EXECUTION_COLUMNS = schema.EXECUTION_COLUMNS
#: The columns that identify a job, leading :func:`load_history` and :func:`compare`.
KEY_COLUMNS = schema.KEY_COLUMNS

DUPLICATE_RULE = "status ok > skipped > failed, then the newest 'created', then the first path"

_MISSING = object()


def _flatten(prefix: str, obj, out: dict) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = obj if not isinstance(obj, list) else str(obj)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a record's config never uses them (nmfexp writes it without), and a
    few hundred bytes of nested aliases ("billion laughs") would expand to billions of keys."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases are not allowed in a record's config")
        return super().compose_node(parent, index)


#: The longest ``config_yaml`` parsed into columns, in characters (a record's is a few kilobytes).
MAX_CONFIG_CHARS = 1 << 20


def _yaml_load(text: str) -> dict:
    """The record's config as a dict, or ``{}`` when it is missing, not YAML, too long (more than
    :data:`MAX_CONFIG_CHARS`), too deep or uses aliases (then the row has no config columns)."""
    if not isinstance(text, str) or len(text) > MAX_CONFIG_CHARS:
        return {}
    # Anchors (&) come before any alias: without one, the fast C parser cannot meet an alias.
    loader = _NoAliasLoader if "&" in text else getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        loaded = yaml.load(text or "", Loader=loader)
    except (yaml.YAMLError, RecursionError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _stored(rec: Record, f: schema.Field):
    """The value ``rec`` stores for field ``f``, or :data:`_MISSING`."""
    if f.is_array:
        return rec.arrays.get(f.path, _MISSING)
    where = rec.attrs if not f.group else rec.groups.get(f.group, {})
    return where.get(f.name, _MISSING)


def _column_value(rec: Record, column: str, config: dict):
    """A declared column: the first of its fields that ``rec`` holds, else its config key, else its default."""
    sources = schema.column_sources(column)
    for f, read in sources:
        value = _stored(rec, f)
        if value is _MISSING or value is None:
            continue
        value = read(value) if read is not None else value
        if value is not None:
            return value
    for f, _ in sources:
        if f.config and config.get(f.config) is not None:
            return config[f.config]
    return sources[0][0].default if sources else np.nan


def _cell(value):
    """A table cell: containers (lists, dicts, arrays) as JSON text."""
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value, default=str)
    return value


def record_row(rec: Record) -> dict:
    """The table row of one record: every declared column (:mod:`nmfexp.record.schema`), the
    undeclared keys of open groups (``info.*``, ``env.*``, ``execution.*``, ``dataset_meta.*``)
    and the config keys that no column already names."""
    config: dict = {}
    try:
        _flatten("", _yaml_load(rec.attrs.get("config_yaml", "")), config)
    except RecursionError:  # nested deeper than Python's stack: no config columns
        config = {}
    row = {}
    for column in [*COLUMNS, *ENV_COLUMNS, *EXECUTION_COLUMNS]:
        row[column] = _cell(rec.location if column == schema.PATH_COLUMN else _column_value(rec, column, config))
    for column in schema.DECLARED_OTHER_COLUMNS:  # info.loss, timing.repeats, ...: columns when known
        value = _column_value(rec, column, config)
        if not (isinstance(value, float) and np.isnan(value)):
            row[column] = _cell(value)
    for group in ("info", "environment", "execution", "dataset_meta"):
        for key, value in rec.groups.get(group, {}).items():
            column = schema.open_column(group, key)
            if column:
                row.setdefault(column, _cell(value))
    for key, value in config.items():
        if key not in schema.CONFIG_ALIASES and key not in row:
            row[key] = value
    return row


# --------------------------------------------------------------------------- collecting records

@dataclass
class Scan:
    """What reading a results folder found, besides the records.

    Attributes
    ----------
    records : list of Record
        The records of the table (one per job unless duplicates were kept).
    skipped : list of (str, str)
        Damaged or unreadable files (``file::/records/<job>`` inside merged
        files) and why; they are treated as missing.
    duplicates : list of Duplicate
        Jobs found in several files, with the copy kept.
    versions : dict of str to Counter
        ``"nmfexp"`` and ``"git_commit"``: how many records carry each value.
    """

    records: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)
    versions: dict = field(default_factory=dict)

    def messages(self, *, duplicates: bool = True) -> list[str]:
        """One line per problem: damaged files, duplicates (unless ``duplicates=False``), version mix."""
        lines = [f"skipped damaged or unreadable {where}: {why}" for where, why in self.skipped]
        if self.duplicates and duplicates:
            dropped = sum(len(d.dropped) for d in self.duplicates)
            lines.append(f"{len(self.duplicates)} job(s) found in more than one file ({dropped} extra cop"
                         f"{'y' if dropped == 1 else 'ies'} left out; rule: {DUPLICATE_RULE}; "
                         "duplicates='keep' keeps all): " + "; ".join(_describe_duplicate(d)
                                                                      for d in self.duplicates[:5])
                         + (f"; ... and {len(self.duplicates) - 5} more" if len(self.duplicates) > 5 else ""))
        lines += self.version_lines(mixed_only=True)
        return lines

    def version_lines(self, *, mixed_only: bool = False) -> list[str]:
        lines = []
        for key, label in (("nmfexp", "nmfexp versions"), ("git_commit", "git commits")):
            counts = self.versions.get(key, Counter())
            if len(counts) > 1 or (counts and not mixed_only):
                listing = ", ".join(f"{v} ({n} record{'s' if n > 1 else ''})" for v, n in counts.most_common())
                what = f"records of {len(counts)} different {label}" if len(counts) > 1 else label[:-1]
                lines.append(f"{what}: {listing}")
        return lines


def _describe_duplicate(d: Duplicate) -> str:
    return f"job {d.job}: kept {d.kept}, left out {', '.join(d.dropped)}"


def scan(path: str | Path, *, duplicates: str = "drop") -> Scan:
    """Read every record under ``path`` and say what was found (no warnings).

    Parameters
    ----------
    path : str or Path
        A folder (searched recursively for ``*.h5``), a record, or a merged file.
    duplicates : {"drop", "keep"}
        ``"drop"``: one record per job (rule: :data:`DUPLICATE_RULE`);
        ``"keep"``: every copy (duplicates are still listed).
    """
    if duplicates not in ("drop", "keep"):
        raise ValueError(f"duplicates must be 'drop' or 'keep', got {duplicates!r}.")
    skipped: list = []
    records = list(iter_records(path, errors=skipped))
    unique, dups = resolve_duplicates(records)
    kept = unique if duplicates == "drop" else records
    versions = {"nmfexp": Counter(), "git_commit": Counter()}
    for rec in kept:
        for key, column in (("nmfexp", "env.nmfexp"), ("git_commit", "env.git_commit")):
            value = _column_value(rec, column, {})
            if isinstance(value, str) and value:
                versions[key][value] += 1
    return Scan(records=kept, skipped=skipped, duplicates=dups, versions=versions)


@functools.cache
def _layout() -> str:
    """Fingerprint of the code that turns a record into a row (this module and the schema, as
    imported): catalogue entries made by other code (another nmfexp version) are not used."""
    import hashlib

    digest = hashlib.sha256()
    for module in (__file__, schema.__file__):
        try:
            digest.update(Path(module).read_bytes())
        except OSError:
            digest.update(os.urandom(16))  # unknown code: never reuse entries
    return digest.hexdigest()[:32]


_VERSION_COLUMNS = (("nmfexp", "env.nmfexp"), ("git_commit", "env.git_commit"))


#: The root attributes the catalogue keeps: what the tables need, and what resuming a job needs
#: (:func:`catalogued_headers`).
_HEADER_KEYS = ("job", "status", "created", "inputs")


def catalogued_headers(paths) -> dict[Path, dict]:
    """The headers (``job``, ``status``, ``created``, ``inputs``) the results catalogues of the folders of
    ``paths`` still hold for them, verified against the files (:func:`nmfexp.record.catalogue.catalogued_attrs`):
    ``{path: header}``, leaving out every path the catalogue cannot answer for."""
    from .record.catalogue import catalogued_attrs

    return catalogued_attrs([Path(p) for p in paths], _layout())


def _summarise(rec: Record) -> dict:
    """What the tables need of one record, as plain data (what the catalogue keeps)."""
    versions = {}
    for key, column in _VERSION_COLUMNS:
        value = _column_value(rec, column, {})
        versions[key] = value if isinstance(value, str) and value else None
    row = record_row(rec)
    row.pop(schema.PATH_COLUMN, None)
    return {"attrs": {k: rec.attrs.get(k) for k in _HEADER_KEYS}, "versions": versions,
            "row": {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}}


def _scan_rows(path, duplicates: str, catalogue: bool = True) -> tuple[list[dict], Scan, list[Record]]:
    """The rows of :func:`load`, what :func:`scan` finds besides records (``records`` hold only
    each record's ``job``, ``status`` and ``created``), and every record found (before duplicates
    are resolved, in the same light form): from the catalogue where it is up to date."""
    from .record.catalogue import scan_files

    if duplicates not in ("drop", "keep"):
        raise ValueError(f"duplicates must be 'drop' or 'keep', got {duplicates!r}.")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.is_dir():
        files, skipped = scan_files(path, _summarise, _layout(), use_catalogue=catalogue)
        skipped = list(skipped)
    else:
        from .record.read import load_file

        records, problems = load_file(path)
        files = [(path, [{**_summarise(r), "location": r.location} for r in records], problems)]
        skipped = []
    lite, rows = [], {}
    for _, found, problems in files:
        skipped.extend(problems)
        for item in found:
            rec = Record(attrs=dict(item["attrs"]), location=item["location"])
            rec.groups["_versions"] = item["versions"]
            rows[id(rec)] = {schema.PATH_COLUMN: item["location"], **item["row"]}
            lite.append(rec)
    unique, dups = resolve_duplicates(lite)
    kept = unique if duplicates == "drop" else lite
    versions = {"nmfexp": Counter(), "git_commit": Counter()}
    for rec in kept:
        for key, _ in _VERSION_COLUMNS:
            value = rec.groups["_versions"].get(key)
            if value:
                versions[key][value] += 1
    return [rows[id(rec)] for rec in kept], Scan(records=kept, skipped=skipped, duplicates=dups,
                                                  versions=versions), lite


def _scan_and_warn(path, duplicates: str, who: str) -> Scan:
    found = scan(path, duplicates=duplicates)
    for line in found.messages(duplicates=duplicates == "drop"):  # kept on request: nothing to warn about
        warnings.warn(f"{who}: {line}", RecordsWarning, stacklevel=3)
    return found


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Each declared column with its declared type: counts as Int64 (missing = <NA>), flags as
    boolean, measurements as float (:func:`nmfexp.record.schema.column_dtype`)."""
    for col in df.columns:
        dtype = schema.column_dtype(col)
        if dtype == "float":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
        elif dtype == "int":
            try:
                df[col] = pd.array(df[col].to_numpy(object), dtype="Int64")
            except (TypeError, ValueError, OverflowError):  # e.g. seeds beyond 64 bits: kept as Python ints
                pass
        elif dtype == "bool":
            try:
                df[col] = pd.array([None if v is None or v is np.nan or (isinstance(v, float) and np.isnan(v))
                                    else bool(v) for v in df[col]], dtype="boolean")
            except (TypeError, ValueError):
                pass
    return df


def load(path: str | Path, *, duplicates: str = "drop", catalogue: bool = True) -> pd.DataFrame:
    """One row per job.

    Parameters
    ----------
    path : str or Path
        A folder (searched recursively for ``*.h5`` records), one record file,
        or a file made by ``nmfexp-results merge``.
    duplicates : {"drop", "keep"}
        The same job (same config hash) found in several files, e.g. in
        ``results/a`` and ``results/b``: ``"drop"`` keeps one copy (status
        ``ok`` before ``skipped`` before ``failed``, then the newest
        ``created``, then the first path) and warns; ``"keep"`` keeps every
        copy (then ``job`` is not unique; ``path`` tells the copies apart).
    catalogue : bool
        True (default): a folder's records are summarised once and kept in its catalogue
        (:mod:`nmfexp.record.catalogue`); a record is read again when its file changes.
        False: read every file (the table is the same).

    Returns
    -------
    pandas.DataFrame
        One column per declared record field (:mod:`nmfexp.record.schema`,
        listed in ``docs/records.md``): :data:`COLUMNS` first (runtimes in
        seconds; counts as nullable ``Int64``, flags such as ``grid_like`` and
        ``converged`` as nullable ``boolean``, measurements as float,
        NaN/<NA> when unknown: ``n_missing_added`` except for A1GM, metrics
        for jobs that did not finish with status ``ok``), then solver facts
        ``info.*``, the environment :data:`ENV_COLUMNS` (and other ``env.*``
        facts), where the job ran :data:`EXECUTION_COLUMNS` (and other
        ``execution.*``), the data set's provenance ``dataset_meta.*``, then
        the config keys that no short column already names
        (``solver.params.max_iter``, ``dataset.noise``, ``timing.repeats``, ...).
        ``path`` is the record's file, or ``file::/records/<job>`` inside a
        merged file.

    Warns
    -----
    RecordsWarning
        Naming every damaged or unreadable file (left out), the duplicates
        and the copy kept, and when the records come from several nmfexp
        versions or git commits.
    """
    rows, found, _ = _scan_rows(path, duplicates, catalogue)
    for line in found.messages(duplicates=duplicates == "drop"):
        warnings.warn(f"load: {line}", RecordsWarning, stacklevel=2)
    return _table(found.records, rows)


def _table(records: list[Record], rows: list[dict] | None = None) -> pd.DataFrame:
    fixed = COLUMNS + ENV_COLUMNS + EXECUTION_COLUMNS
    rows = [record_row(rec) for rec in records] if rows is None else rows
    if not rows:
        return pd.DataFrame(columns=fixed)
    df = pd.DataFrame(rows)
    rest = sorted(c for c in df.columns if c not in fixed)
    info = [c for c in rest if c.startswith("info.")]
    env = [c for c in rest if c.startswith("env.")]
    execution = [c for c in rest if c.startswith("execution.")]
    meta = [c for c in rest if c.startswith("dataset_meta.")]
    config = [c for c in rest if c not in (*info, *env, *execution, *meta)]
    df = _typed(df.reindex(columns=COLUMNS + info + ENV_COLUMNS + env + EXECUTION_COLUMNS + execution + meta
                           + config))
    return df.sort_values(["tag", "solver", "dataset", "n_rows", "mask", "mask_rate", "seed", "job", "path"],
                          kind="stable", na_position="last").reset_index(drop=True)


def load_all(path: str | Path, *, duplicates: str = "drop") -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`load` and :func:`load_history` from one reading of ``path`` (warnings given once)."""
    return tables(_scan_and_warn(path, duplicates, "load").records)


def tables(records: list[Record]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables of :func:`load` and :func:`load_history` for records already read
    (``scan(path).records``).

    Parameters
    ----------
    records : list of Record

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        One row per record, and one row per iteration of their histories.
    """
    rows = [record_row(rec) for rec in records]
    return _table(records, rows), _history(records, rows)


_HISTORY_KEYS = [*KEY_COLUMNS, "status"]
#: The declared per-iteration series, leading the history table after the keys.
_SERIES = [f.name for f in schema.fields_of("history")]


def load_history(path: str | Path, *, duplicates: str = "drop") -> pd.DataFrame:
    """Per-iteration histories as a long table.

    Parameters
    ----------
    path : str or Path
        As for :func:`load`.
    duplicates : {"drop", "keep"}
        As for :func:`load`.

    Returns
    -------
    pandas.DataFrame
        Columns ``job, tag, solver, dataset, mask, mask_rate, n_rows, n_cols,
        rank, seed, holdout, status, iteration, time, objective`` (and any other
        per-iteration series a solver records), plus ``path``. ``iteration`` 0
        is the initial value; ``time`` is seconds spent in updates so far.
        Closed-form solvers have no rows.
    """
    return _history(_scan_and_warn(path, duplicates, "load_history").records)


def history_of(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`load_history` of just the records of ``df`` (a table of :func:`load`), read by their ``path``.

    Each file is read once (a merged file once for all of its records in ``df``), so a few records of a
    large results folder cost a few files, not the whole folder. A record that can no longer be read is
    left out, as :func:`load_history` leaves it out.
    """
    if df.empty or schema.PATH_COLUMN not in df.columns:
        return _history([])
    wanted: dict[str, set[str]] = {}
    for location in df[schema.PATH_COLUMN].dropna().astype(str).unique():
        wanted.setdefault(location.split("::", 1)[0], set()).add(location)
    records = [rec for file, locations in wanted.items() for rec in iter_records(file, errors=[])
               if rec.location in locations]
    return _history(records)


def _history(records: list[Record], rows: list[dict] | None = None) -> pd.DataFrame:
    frames = []
    for i, rec in enumerate(records):
        series = {k.split("/", 1)[1]: v for k, v in rec.arrays.items() if k.startswith("history/")}
        if not series or "objective" not in series or np.size(series["objective"]) == 0:
            continue
        length = len(series["objective"])
        row = record_row(rec) if rows is None else rows[i]
        frame = pd.DataFrame({k: np.asarray(v) for k, v in series.items() if np.ndim(v) == 1 and len(v) == length})
        if "iteration" not in frame:  # records before eval_every: one value per iteration
            frame.insert(0, "iteration", np.arange(length))
        for i, key in enumerate(_HISTORY_KEYS):
            frame.insert(i, key, row.get(key))
        frame["path"] = rec.location
        frames.append(frame)
    lead = [*_HISTORY_KEYS, *_SERIES]
    if not frames:
        return pd.DataFrame(columns=[*lead, "path"])
    df = pd.concat(frames, ignore_index=True)
    df = df.reindex(columns=lead + [c for c in df.columns if c not in lead and c != "path"] + ["path"])
    return _typed(df)


# --------------------------------------------------------------------------- two result sets

#: Metrics that :func:`compare` puts side by side (with their difference B - A): every declared metric.
COMPARE_METRICS = schema.METRICS
_COMPARE_KEYS = KEY_COLUMNS
_RUNTIMES = {"median": "runtime_median", "min": "runtime_min", "mean": "runtime_mean"}


def compare(a, b, *, runtime: str = "median", duplicates: str = "drop") -> pd.DataFrame:
    """The jobs that two result sets both hold (same job hash), side by side.

    Parameters
    ----------
    a, b : str or Path
        Results folders, records or merged files (e.g. the same sweep on two machines).
    runtime : {"median", "min", "mean"}
        Which per-job runtime to compare (``runtime_median`` by default).
    duplicates : {"drop", "keep"}
        As for :func:`load`; with ``"keep"`` a job found twice on one side is an error.

    Returns
    -------
    pandas.DataFrame
        One row per job in both, sorted like :func:`load`: the job's identity
        (``job, tag, solver, dataset, ...``), ``status_a, status_b``,
        ``runtime_a, runtime_b, runtime_ratio`` (B / A), ``n_iter_a, n_iter_b``
        and for each metric of :data:`COMPARE_METRICS` ``<metric>_a``,
        ``<metric>_b`` and ``<metric>_diff`` (B - A). ``attrs`` holds
        ``only_a`` and ``only_b`` (jobs on one side only), ``a``, ``b`` and ``runtime``.
    """
    if runtime not in _RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(_RUNTIMES)}, got {runtime!r}.")
    tables = []
    for side, path in (("a", a), ("b", b)):
        if not Path(path).exists():
            raise ValueError(f"{path} does not exist; give two results folders, records or merged files.")
        df = load(path, duplicates=duplicates)
        if df["job"].duplicated().any():
            raise ValueError(f"{path} holds some jobs more than once; compare with duplicates='drop'.")
        tables.append(df)
    da, db = tables
    only_a = int((~da["job"].isin(db["job"])).sum())
    only_b = int((~db["job"].isin(da["job"])).sum())
    col = _RUNTIMES[runtime]
    keep = ["job", "status", col, "n_iter", *COMPARE_METRICS]
    side = da[[c for c in _COMPARE_KEYS if c in da]].merge(
        da[keep].add_suffix("_a").rename(columns={"job_a": "job"}), on="job").merge(
        db[keep].add_suffix("_b").rename(columns={"job_b": "job"}), on="job")
    side = side.rename(columns={f"{col}_a": "runtime_a", f"{col}_b": "runtime_b"})
    with np.errstate(divide="ignore", invalid="ignore"):
        side.insert(side.columns.get_loc("runtime_b") + 1, "runtime_ratio", side["runtime_b"] / side["runtime_a"])
    for m in COMPARE_METRICS:
        side[f"{m}_diff"] = side[f"{m}_b"] - side[f"{m}_a"]
    order = [c for c in _COMPARE_KEYS if c in side] + ["status_a", "status_b", "runtime_a", "runtime_b",
                                                          "runtime_ratio", "n_iter_a", "n_iter_b"]
    order += [f"{m}_{s}" for m in COMPARE_METRICS for s in ("a", "b", "diff")]
    side = side[order].reset_index(drop=True)
    side.attrs.update(only_a=only_a, only_b=only_b, a=str(a), b=str(b), runtime=col)
    return side


def compare_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per solver of a :func:`compare` table: jobs in both, jobs whose status differs,
    the runtime ratio B/A (median and quartiles over jobs ok on both sides) and, per metric,
    the largest absolute difference."""
    rows = []
    for solver, g in table.groupby("solver", sort=True):
        both_ok = g[(g["status_a"] == "ok") & (g["status_b"] == "ok")]
        ratio = both_ok["runtime_ratio"].replace([np.inf, -np.inf], np.nan).dropna()
        q = np.percentile(ratio, [25, 50, 75]) if len(ratio) else (np.nan,) * 3
        row = {"solver": solver, "jobs in both": len(g), "status differs": int((g["status_a"] != g["status_b"]).sum()),
               "runtime ratio B/A (median)": q[1], "q25": q[0], "q75": q[2]}
        for m in COMPARE_METRICS:
            d = both_ok[f"{m}_diff"].abs().dropna()
            if len(d):
                row[f"max |{m} B - A|"] = float(d.max())
        rows.append(row)
    return pd.DataFrame(rows)


def _compare_lines(table: pd.DataFrame, show: int) -> list[str]:
    at = table.attrs
    lines = [f"A = {at.get('a')}, B = {at.get('b')}: {len(table)} job(s) in both; only in A: {at.get('only_a', 0)}; "
             f"only in B: {at.get('only_b', 0)}; runtimes: {at.get('runtime')}"]
    for _, r in compare_summary(table).iterrows():
        metrics = "; ".join(f"{k[5:-7]} max |B - A| {r[k]:.3g}" for k in r.index if k.startswith("max |")
                            and pd.notna(r[k]))
        ratio = (f"runtime B/A median {r['runtime ratio B/A (median)']:.3g}x [{r['q25']:.3g}, {r['q75']:.3g}]"
                 if pd.notna(r["runtime ratio B/A (median)"]) else "runtime B/A: no job is ok on both sides")
        lines.append(f"{r['solver']}: {r['jobs in both']} jobs, status differs for {r['status differs']}; {ratio}"
                     + (f"; {metrics}" if metrics else ""))
    if show and len(table):
        cols = [c for c in ["solver", "dataset", "n_rows", "mask", "mask_rate", "rank", "seed", "status_a", "status_b",
                            "runtime_a", "runtime_b", "runtime_ratio"] if c in table]
        cols += [f"{m}_diff" for m in COMPARE_METRICS if table[f"{m}_diff"].notna().any()]
        with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format",
                               "{:.4g}".format):
            lines += ["", table[cols].head(show).to_string(index=False)]
        if len(table) > show:
            lines.append(f"... {len(table) - show} more (all of them: -o FILE.csv)")
    return lines


# --------------------------------------------------------------------------- command line

def _parquet_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns of mixed types (or ints beyond 64 bits) as text, which Parquet can store."""
    df = df.copy()
    for col in [c for c in df.columns if df[c].dtype == object]:
        values = df[col].dropna()
        kinds = {type(v) for v in values}
        if kinds and not (kinds <= {str} or kinds <= {bool}):
            df[col] = df[col].map(lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return df


def _write_table(df: pd.DataFrame, output: str, kind: str) -> None:
    if kind == "csv":
        if output == "-":
            df.to_csv(sys.stdout, index=False)
        else:
            df.to_csv(output, index=False)
        return
    try:
        _parquet_ready(df).to_parquet(output, index=False)
    except ImportError as exc:
        raise ImportError("writing Parquet needs pyarrow, which is not installed: pip install pyarrow "
                          f"({exc})") from None


def _summary(path: str, duplicates: str, catalogue: bool = True, *, ask_scheduler: bool = False) -> list[str]:
    rows, found, everything = _scan_rows(path, duplicates, catalogue)
    df = _table(found.records, rows)
    lines = [f"{len(df)} record(s) in {path}"]
    if not df.empty:
        counts = df.groupby(["solver", "status"]).size().unstack(fill_value=0)
        lines += counts.to_string().splitlines()
    lines.append(f"damaged or unreadable files: {len(found.skipped)}"
                 + (" (left out; they count as missing, a rerun computes them again)" if found.skipped else ""))
    lines += [f"  {where}: {why}" for where, why in found.skipped]
    extra = sum(len(d.dropped) for d in found.duplicates)
    lines.append(f"duplicate jobs: {len(found.duplicates)}" + (
        f" ({extra} extra cop{'y' if extra == 1 else 'ies'}; "
        + ("all kept" if duplicates == "keep" else f"one kept per job: {DUPLICATE_RULE}") + ")"
        if found.duplicates else ""))
    lines += [f"  {_describe_duplicate(d)}" for d in found.duplicates[:20]]
    if len(found.duplicates) > 20:
        lines.append(f"  ... and {len(found.duplicates) - 20} more (their paths: nmfexp-results csv --keep-duplicates)")
    versions = found.version_lines()
    mixed = any(len(c) > 1 for c in found.versions.values())
    lines.append("versions: " + ("MIXED: " if mixed else "") + ("; ".join(versions) if versions else "unknown"))
    statuses = {}
    for rec in everything:  # every record file found, before duplicates were resolved
        if "::" not in rec.location:
            statuses[os.path.realpath(rec.location)] = (rec.attrs.get("status"), rec.attrs.get("job"))
    return lines + sweep_progress(path, statuses, ask_scheduler=ask_scheduler)


def _status_of(header: dict, job: str | None) -> str | None:
    """A planned job's status: its record's, when the record says it is that job's (else no record)."""
    return header.get("status") if job is not None and header.get("job") == job else None


def sweep_progress(path: str | Path, statuses: dict | None = None, *, ask_scheduler: bool = False) -> list[str]:
    """Progress of the latest sweep into each results folder under ``path``, from its plan and the records.

    Every sweep leaves ``logs/multirun_*/plan.json`` (each planned job's
    record path) under its results folder; the newest one of each folder
    (``path`` itself and the folders below it, e.g. ``results/`` and
    ``results/fig5_synthetic/``) is compared with the records that exist
    now, so this works while the sweep still runs, whatever launcher runs it.
    The folders come newest sweep first; only the newest of all is called
    the latest. ``statuses`` (resolved record path -> ``(status, job)``, from
    a scan that just read the folder) spares reading those records again.

    A plan is data: only its record paths inside its own results folder are
    read (the others are named), and Slurm is asked about its tasks only
    when this host and user submitted them, or with ``ask_scheduler``
    (:mod:`nmfexp.plans`).
    """
    root = Path(path)
    if not root.is_dir():
        return []
    by_folder: dict[Path, list[Path]] = {}
    for plan in root.glob("**/logs/multirun_*/plan.json"):
        by_folder.setdefault(plan.parents[2], []).append(plan)
    for plans in by_folder.values():
        plans.sort(key=lambda p: p.stat().st_mtime)
    lines = []
    for k, (folder, plans) in enumerate(sorted(by_folder.items(), key=lambda kv: -kv[1][-1].stat().st_mtime)):
        where = "" if folder == root else f" into {folder.relative_to(root)}"
        lines += _plan_progress(plans[-1], ("latest sweep" if k == 0 else "earlier sweep") + where, plans, statuses,
                                ask_scheduler=ask_scheduler)
    return lines


def _plan_progress(plan_path: Path, label: str, plans: list[Path], statuses: dict | None = None, *,
                   ask_scheduler: bool = False) -> list[str]:
    from .cli.backends import running_in_scheduler
    from .plans import plan_root, read_plan, record_paths
    from .record import read_record_headers

    plan = read_plan(plan_path)  # read as untrusted data: a damaged plan is named, not a traceback
    jobs = plan.get("jobs") if plan else None
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
        return [f"{label}: its plan {plan_path} is unreadable"]
    # only paths inside the plan's own results folder are read: a plan from elsewhere is data
    paths, ignored = record_paths(plan_path, jobs)
    known = statuses or {}
    headers: list[dict | None] = [None if path is None else
                                  ({"status": found[0], "job": found[1]} if (found := known.get(path)) else None)
                                  for path in paths]
    unknown = [i for i, h in enumerate(headers) if h is None and paths[i] is not None]
    cached = catalogued_headers([paths[i] for i in unknown])  # read in one pass, the catalogue's help first
    rest = [i for i in unknown if Path(paths[i]) not in cached]
    for i in unknown:
        headers[i] = cached.get(Path(paths[i]), {})
    for i, h in zip(rest, read_record_headers([paths[i] for i in rest]), strict=True):
        headers[i] = h
    statuses = [_status_of(h or {}, job.get("job")) for h, job in zip(headers, jobs, strict=True)]
    counts = {s: statuses.count(s) for s in ("ok", "skipped", "failed")}
    done = sum(counts.values())
    lines = [f"{label} (planned {plan.get('created', '?')}, {plan_path.parent.name}): {done} of {len(statuses)} jobs "
             f"recorded ({counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed), "
             f"{len(statuses) - done} without a record yet"]
    if ignored:
        lines.append(f"  ignored {len(ignored)} record path(s) of the plan that leave {plan_root(plan_path)} "
                     "(not read; counted as without a record): " + ", ".join(ignored[:3])
                     + (f", ... ({len(ignored) - 3} more)" if len(ignored) > 3 else ""))
    running = running_in_scheduler(plans, [job.get("job") for job, s in zip(jobs, statuses, strict=True) if s is None],
                                   any_submitter=ask_scheduler)
    if running:
        lines.append(f"  running: {sum(running.values())} of them queued or running in Slurm ("
                     + ", ".join(f"{n} in task {t}" for t, n in sorted(running.items())) + ")")
    missing = [job for job, s in zip(jobs, statuses, strict=True) if s is None]
    if missing and plan.get("finished") and not running:
        lines.append(f"  lost (the sweep ended without their record; the same command completes exactly them): "
                     f"{len(missing)}")
    elif missing:
        lines.append(f"  without a record yet: {len(missing)}")
    lines += [f"    {_job_words(job)}" for job in missing[:_SHOW_MISSING]]
    if len(missing) > _SHOW_MISSING:
        lines.append(f"    ... and {len(missing) - _SHOW_MISSING} more")
    return lines


#: Jobs without a record that the summary names, per sweep.
_SHOW_MISSING = 10


def _job_words(job: dict) -> str:
    """A planned job as its overrides (or key), printable text only: a plan is untrusted data."""
    words = job.get("overrides")
    text = " ".join(str(w) for w in words) if isinstance(words, list) and words else f"job {job.get('job')}"
    return "".join(c if c.isprintable() else "?" for c in text[:300])


def archive(path: str | Path, out: str | Path) -> dict:
    """Pack every record and sweep plan under ``path`` into ``out`` with a manifest of checksums.

    Parameters
    ----------
    path : str or Path
        A results folder (or one record).
    out : str or Path
        The archive; ``.zip``, ``.tar.gz``, ``.tar.xz``, ``.tar.bz2`` or ``.tar``
        (:func:`nmfexp.archive.write_archive`).

    Returns
    -------
    dict
        The manifest: each member's SHA-256 and size, the nmfexp version, the
        date, and from the records their count, the unreadable files, the git
        commits, how many were made from a working tree with uncommitted
        changes, the nmfexp versions and the BLAS builds.
    """
    from .archive import write_archive
    from .experiment.provenance import provenance_of

    if not Path(path).exists():
        raise ValueError(f"{path} does not exist; give a results folder (or a record).")
    found = scan(path)
    p = provenance_of(_table(found.records))
    facts = {"records": len(found.records), "unreadable": sorted(where for where, _ in found.skipped),
             "git_commits": dict(sorted(p["commits"].items())), "records_from_uncommitted_changes": p["dirty"],
             "nmfexp_versions": dict(sorted(found.versions.get("nmfexp", Counter()).items())),
             "blas": dict(sorted(p["blas"].items()))}
    return write_archive(path, out, facts=facts)


def _archive_lines(manifest: dict, first: str) -> list[str]:
    """What an archive's manifest says, for the terminal (untrusted values shown as text only)."""
    def listing(counts) -> str:
        if not isinstance(counts, dict) or not counts:
            return "unknown"
        return ", ".join(f"{k} ({v})" for k, v in counts.items()) + (" MIXED" if len(counts) > 1 else "")

    members = manifest.get("members", [])
    size = sum(m.get("size", 0) for m in members)
    lines = [f"{first}: {len(members)} files ({size} bytes), {manifest.get('records', '?')} records, "
             f"made {manifest.get('created', '?')} by nmfexp {manifest.get('nmfexp_version', '?')}",
             f"git commits: {listing(manifest.get('git_commits'))}",
             f"BLAS builds: {listing(manifest.get('blas'))}"]
    dirty = manifest.get("records_from_uncommitted_changes")
    if dirty:
        lines.append(f"DIRTY: {dirty} record(s) were made from a working tree with uncommitted changes")
    if manifest.get("unreadable"):
        lines.append(f"unreadable records packed as found: {len(manifest['unreadable'])}")
    return lines


@contextlib.contextmanager
def _readable(path: str | Path):
    """A results path to read: an archive (by its suffix) verified and extracted to a temporary folder."""
    from .archive import archive_kind, opened_archive

    if not Path(path).exists():
        raise ValueError(f"{path} does not exist; give a results folder, a record, a merged file or an archive.")
    try:
        is_archive = Path(path).is_file() and bool(archive_kind(path))
    except ValueError:  # not an archive's name: a record or a merged file
        is_archive = False
    if is_archive:
        with opened_archive(path) as found:
            yield found.extracted
    else:
        yield Path(path)


def _closing_tables(path: Path, ranks: str, name: str | None) -> str:
    """The text of ``nmfexp-results tables``."""
    from .analysis import comparison_report
    from .figures import closing, zoo

    try:
        wanted = [int(r) for r in ranks.split(",") if r.strip()]
    except ValueError:
        raise ValueError(f"--ranks takes comma-separated integers, got {ranks!r}.") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordsWarning)
        df = load(path)  # from the folder's catalogue; the histories only of the records the tables use
        if df.empty:
            raise ValueError(f"no records under {path}: nothing to tabulate.")
        if name is not None:
            hist = history_of(df[df["dataset"].astype(str) == name])
        else:
            zoo_tags = {t for tag in (zoo.TAG, zoo.REFERENCE_TAG) for t in (tag, f"{tag}_quick")}
            hist = history_of(df[df["tag"].astype(str).isin(zoo_tags)])
    out = []
    if name is not None:
        found = closing.table_rows(df, hist, name)
        out.append(f"## {name}\n")
        cat = found["catalogue"]
        if cat.empty:
            out.append("Not in the current corpus (nmfexp.data.corpus_tables()).\n")
        else:
            r = cat.iloc[0]
            out.append(f"In the corpus (version {r.get('corpus_version', '?')}): {r['n_rows']} x {r['n_cols']} after "
                       f"the corpus rules, from {r.get('source_rows', '?')} x {r.get('source_cols', '?')} in the "
                       "source (columns dropped as identifiers, codes, dates, text or constants; docs/datasets.md); "
                       f"{r['n_missing']} missing entries.\n")
        if found["corpus"].empty and found["solvers"].empty:
            out.append("No record of these results names this table.\n")
        if len(found["corpus"]):
            out.append("In the corpus (A1GM vs WNMF-KL):\n\n" + found["corpus"].T.reset_index().to_markdown(
                index=False, headers=["column", "value"]) + "\n")
        if len(found["solvers"]):
            out.append("Corpus zoo: each solver on its own loss against the best-known optimum f* of the table:\n\n"
                       + found["solvers"].to_markdown(index=False, floatfmt=".6g") + "\n")
        return "\n".join(out)
    zoo = closing.zoo_closing_table(df, hist, wanted)
    out.append(f"## Synthetic zoo, ranks {', '.join(map(str, wanted))} (budget: {zoo.attrs.get('budget', '-')})\n")
    out.append((zoo.to_markdown(index=False) if len(zoo) else "(no solver_comparison records at these ranks)")
               + "\n\nmedian [q25, q75] over the runs of the rank (seeds and missing rates); objective on the "
               "solver's own loss; f* the best-known optimum of each problem (the reference runs of "
               "solver_reference included when recorded).\n")
    head = closing.corpus_headline_tables(df)
    for label in ("other", "grid-like"):
        if label in head:
            out.append(f"## Corpus headline, {label} tables (A1GM vs WNMF-KL)\n\n"
                       + head[label].to_markdown(index=False) + "\n")
    zsel = df[df["tag"].isin(["real_data_corpus_zoo", "real_data_corpus_zoo_quick"])] if "tag" in df else df.iloc[:0]
    if len(zsel) and "column_mean" in set(zsel["solver"]):
        zsel = zsel[zsel["tag"] == ("real_data_corpus_zoo" if (zsel["tag"] == "real_data_corpus_zoo").any()
                                    else "real_data_corpus_zoo_quick")]
        out.append("## Corpus zoo against column_mean (held-out relative error)\n\n"
                   + comparison_report(zsel, "heldout_relative_error", "column_mean"))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Console script ``nmfexp-results``."""
    ignore_sigxfsz()
    parser = argparse.ArgumentParser(prog="nmfexp-results", description="Tables and merged files from nmfexp records.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_summary = sub.add_parser("summary", help="jobs per solver and status, damaged files, duplicates, versions")
    p_summary.add_argument("--ask-scheduler", action="store_true",
                           help="ask Slurm (squeue) about the tasks of every unfinished sweep plan found, also "
                                "plans another host or user submitted (default: only this host's and user's; a "
                                "plan from an archive or another machine names another scheduler's job ids)")
    p_merge = sub.add_parser("merge", help="copy every record under PATH into one HDF5 file")
    p_merge.add_argument("-o", "--output", required=True)
    p_csv = sub.add_parser("csv", help="write the one-row-per-job table as CSV")
    p_csv.add_argument("-o", "--output", required=True, help="CSV file ('-' for standard output)")
    p_parquet = sub.add_parser("parquet", help="write the one-row-per-job table as Parquet (needs pyarrow)")
    p_parquet.add_argument("-o", "--output", required=True, help="Parquet file")
    p_compare = sub.add_parser("compare", help="the jobs two result sets both hold, side by side, with runtime "
                                                "ratios and metric differences")
    p_compare.add_argument("a", help="results folder, record or merged file (A)")
    p_compare.add_argument("b", help="results folder, record or merged file (B)")
    p_compare.add_argument("-o", "--output", help="write the whole side-by-side table as CSV")
    p_compare.add_argument("--runtime", choices=list(_RUNTIMES), default="median",
                           help="per-job runtime compared (default: median of its timing samples)")
    p_compare.add_argument("--show", type=int, default=20, help="jobs printed (default 20; 0: summary only)")
    p_solvers = sub.add_parser("compare-solvers", help="every solver against a baseline (or every pair) over the "
                                                       "problems both ran on: wins/ties/losses, bootstrap intervals, "
                                                       "Wilcoxon tests with Holm's correction (nmfexp.analysis)")
    p_solvers.add_argument("--metric", required=True, help="a metric column, lower is better "
                                                           "(heldout_relative_error, weighted_kl, runtime_median, ...)")
    p_solvers.add_argument("--baseline", help="the solver every other is compared with (default: every pair)")
    p_solvers.add_argument("--tie", type=float, default=None,
                           help="relative tie threshold (default 0.01: values within 1%% are a tie)")
    p_solvers.add_argument("--by", help="compare within the groups of these columns (comma-separated, e.g. tag)")
    p_solvers.add_argument("--effect", choices=["ratio", "difference"], default="ratio",
                           help="per-problem effect: ratio (log scale, default) or difference")
    p_solvers.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p_solvers.add_argument("--format", choices=["md", "csv"], default="md",
                           help="md: what was compared and a Markdown table; csv: the full table")
    p_tables = sub.add_parser("tables", help="the closing tables of a solver comparison: the synthetic zoo per "
                                             "solver and baseline, the corpus headline split into grid-like and "
                                             "other tables, the corpus zoo against column_mean; or one table by name")
    p_tables.add_argument("path", help="a results folder, a record, a merged file or an archive")
    p_tables.add_argument("--ranks", default="5,10", help="ranks of the zoo table (comma-separated; default 5,10)")
    p_tables.add_argument("--table", metavar="NAME", help="only this corpus table (e.g. "
                                                         "openintro/ucla_textbooks_f18): its row and its solvers vs f*")
    p_claims = sub.add_parser("claims", help="the comparative claims the records support (nmfexp.analysis.claims); "
                                             "with --check, the claim markers of a document they do not")
    p_claims.add_argument("path", help="a results folder, a record, a merged file or an archive")
    p_claims.add_argument("--check", metavar="FILE", help="a document with <!-- claim: ID = VALUE --> markers; "
                                                         "exit 1 when one does not hold")
    p_archive = sub.add_parser("archive", help="pack every record and sweep plan under PATH with a manifest of "
                                               "checksums, commits and BLAS builds (nmfexp.archive)")
    p_archive.add_argument("path", help="a results folder (or a record)")
    p_archive.add_argument("output", help="the archive: .zip, .tar.gz, .tar.xz, .tar.bz2 or .tar")
    p_verify = sub.add_parser("verify-archive", help="check every member of an archive against its manifest")
    p_verify.add_argument("archive", help="an archive made by nmfexp-results archive")
    p_verify.add_argument("--max-size", type=float, default=None, metavar="GB",
                          help="refuse members (and totals) beyond this many GB (default: 8 per member, 64 in all)")
    for p in (p_summary, p_merge, p_csv, p_parquet, p_solvers):
        p.add_argument("path", help="a results folder, a record, or a merged file")
    for p in (p_summary, p_csv, p_parquet):
        p.add_argument("--keep-duplicates", action="store_true",
                       help="keep every copy of a job found in several files (default: one per job)")
    for p in (p_csv, p_parquet):
        p.add_argument("--history", action="store_true", help="write the per-iteration table instead")
    args = parser.parse_args(argv)
    duplicates = "keep" if getattr(args, "keep_duplicates", False) else "drop"

    def note(line: str) -> None:
        print(f"nmfexp-results: {line}", file=sys.stderr)

    try:
        if args.command == "merge":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RecordsWarning)  # the report below says the same
                report = merge_records(args.path, args.output)
            print(f"merged {report.written} records into {args.output}; skipped {len(report.skipped)}"
                  + (" (listed below)" if report.skipped else ""))
            for where, why in report.skipped:
                note(f"skipped {where}: {why}")
            for d in report.duplicates:
                note(f"duplicate {_describe_duplicate(d)} (rule: {DUPLICATE_RULE})")
        elif args.command == "compare":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RecordsWarning)
                table = compare(args.a, args.b, runtime=args.runtime)
            for w in caught:
                note(str(w.message))
            print("\n".join(_compare_lines(table, args.show)))
            if args.output:
                table.to_csv(args.output, index=False)
                print(f"wrote {len(table)} rows to {args.output}")
        elif args.command == "compare-solvers":
            from .analysis import comparison_report

            if not Path(args.path).exists():
                raise ValueError(f"{args.path} does not exist; give a results folder, a record or a merged file.")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RecordsWarning)
                df = load(args.path)
            for w in caught:
                note(str(w.message))
            from .figures.suboptimality import REFERENCE_TAGS, split_reference

            df, reference = split_reference(df)
            if len(reference):  # the reference runs repeat solvers on the same problems: not contestants
                note(f"left out {len(reference)} reference run(s) (tags {', '.join(REFERENCE_TAGS)}); they solve "
                     "the same problems again, for f*, and are not compared")
            by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else None
            tie = {} if args.tie is None else {"tie": args.tie}
            print(comparison_report(df, args.metric, args.baseline, fmt=args.format, by=by, effect=args.effect,
                                    seed=args.seed, **tie), end="")
        elif args.command == "tables":
            with _readable(args.path) as where:
                print(_closing_tables(where, args.ranks, args.table), end="")
        elif args.command == "claims":
            from .analysis.claims import check_claims, compute_claims

            with _readable(args.path) as where:
                records = load(where)
                if records.empty:
                    raise ValueError(f"no records under {args.path}: no claim to compute.")
                claims = compute_claims(records)
            if args.check:
                problems = check_claims(Path(args.check).read_text(encoding="utf-8"), claims)
                for line in problems:
                    print(f"{args.check}: {line}")
                if problems:
                    return 1
                print(f"{args.check}: every marked claim holds")
            else:
                print(claims.to_markdown(index=False) if len(claims) else "(no claim: no zoo or corpus-zoo records)")
        elif args.command in ("csv", "parquet"):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RecordsWarning)
                df = (load_history if args.history else load)(args.path, duplicates=duplicates)
            for w in caught:
                note(str(w.message))
            _write_table(df, args.output, args.command)
            if args.output != "-":
                print(f"wrote {len(df)} rows to {args.output}")
        elif args.command == "archive":
            manifest = archive(args.path, args.output)
            print("\n".join(_archive_lines(manifest, f"wrote {args.output}")))
        elif args.command == "verify-archive":
            from .archive import verify_archive

            limits = {}
            if args.max_size is not None:
                limits = {"max_member_bytes": int(args.max_size * 1e9), "max_total_bytes": int(args.max_size * 1e9)}
            found = verify_archive(args.archive, **limits)
            print("\n".join(_archive_lines(found.manifest, f"{args.archive}: every member matches its manifest")))
        else:
            print("\n".join(_summary(args.path, duplicates, ask_scheduler=args.ask_scheduler)))
    except ImportError as exc:
        note(str(exc))
        return 2
    except (OSError, ValueError) as exc:
        note(str(exc))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
