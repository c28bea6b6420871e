"""Tables from records: :func:`load` (one row per job) and :func:`load_history` (one row per iteration).

    import nmfexp.results
    df = nmfexp.results.load("results/")          # a folder tree of records, a record, or a merged file
    h = nmfexp.results.load_history("results/")

Command line::

    nmfexp-results merge results/ -o all.h5      # every record in one HDF5 file
    nmfexp-results csv results/ -o table.csv     # the load() table as CSV

Runtimes are in seconds. Unreadable files (for example a record being
written by a running sweep on a network file system) are skipped with a
warning; temporary files of killed jobs (``*.tmp``) are never read.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .record import Record, iter_records, merge_records

__all__ = ["load", "load_history", "record_row", "main", "COLUMNS"]

#: The leading columns of :func:`load`, in order; the flattened config follows.
COLUMNS = [
    "job", "tag", "solver", "dataset", "mask", "mask_rate", "n_rows", "n_cols", "rank", "seed", "holdout",
    "status", "message",
    "n_missing", "n_missing_added", "n_rows_with_missing", "n_cols_with_missing", "grid_like", "n_heldout",
    "weighted_kl", "weighted_frobenius", "relative_error", "heldout_relative_error", "truth_relative_error",
    "runtime_mean", "runtime_std", "runtime_median", "runtime_min", "runtime_samples",
    "n_iter", "converged", "path",
]

_NAN = float("nan")


def _flatten(prefix: str, obj, out: dict) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = obj if not isinstance(obj, list) else str(obj)


def _yaml_load(text: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader) or {}


def record_row(rec: Record) -> dict:
    """The table row of one record (see :data:`COLUMNS`), plus its flattened config."""
    a, g = rec.attrs, rec.groups
    data, info = g.get("data", {}), g.get("info", {})
    met, tim = g.get("metrics", {}), g.get("timing", {})
    samples = rec.arrays.get("timing/samples")
    row = {
        "job": a.get("job"),
        "tag": a.get("tag", ""),
        "solver": a.get("solver"),
        "dataset": a.get("dataset"),
        "mask": a.get("mask"),
        "mask_rate": a.get("mask_rate", _NAN),
        "n_rows": data.get("n_rows", _NAN),
        "n_cols": data.get("n_cols", _NAN),
        "rank": a.get("rank"),
        "seed": a.get("seed"),
        "holdout": a.get("holdout", _NAN),
        "status": a.get("status"),
        "message": a.get("message", ""),
        "n_missing": data.get("n_missing", _NAN),
        "n_missing_added": info.get("n_missing_added", _NAN),  # A1GM only
        "n_rows_with_missing": data.get("n_rows_with_missing", _NAN),
        "n_cols_with_missing": data.get("n_cols_with_missing", _NAN),
        "grid_like": data.get("grid_like", None),
        "n_heldout": data.get("n_heldout", _NAN),
        "n_iter": info.get("n_iter", _NAN),
        "converged": info.get("converged", None),
        "runtime_samples": 0 if samples is None else int(np.size(samples)),
        "path": rec.location,
    }
    for key in ("weighted_kl", "weighted_frobenius", "relative_error", "heldout_relative_error",
                "truth_relative_error"):
        row[key] = met.get(key, _NAN)
    for key in ("runtime_mean", "runtime_std", "runtime_median", "runtime_min"):
        row[key] = tim.get(key, _NAN)
    # Other solver facts (e.g. future solvers' info) as info.<key>, the config as dotted keys.
    for key, value in info.items():
        if key not in row:
            row[f"info.{key}"] = value
    config: dict = {}
    _flatten("", _yaml_load(a.get("config_yaml", "")), config)
    for key, value in config.items():
        row.setdefault(key, value)
    return row


def _records(path, kind: str) -> list[Record]:
    errors: list = []
    records = list(iter_records(path, errors=errors))
    for file, message in errors:
        warnings.warn(f"{kind}: skipped unreadable {file}: {message}", stacklevel=3)
    seen, unique = set(), []
    for rec in records:  # a job present twice (a folder holding a merged copy): keep the first
        job = rec.attrs.get("job")
        if job in seen:
            continue
        seen.add(job)
        unique.append(rec)
    return unique


def load(path: str | Path) -> pd.DataFrame:
    """One row per job.

    Parameters
    ----------
    path : str or Path
        A folder (searched recursively for ``*.h5`` records), one record file,
        or a file made by ``nmfexp-results merge``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` first (runtimes in seconds; ``n_missing_added``
        is NaN for solvers other than A1GM; metrics are NaN for jobs that did
        not finish with status ``ok``), then the flattened config
        (``dataset.n_rows``, ``solver.params.max_iter``, ...).
    """
    rows = [record_row(rec) for rec in _records(path, "load")]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    # Then solver facts (info.*) and the flattened config, in a fixed order whatever the file order.
    rest = sorted((c for c in df.columns if c not in COLUMNS), key=lambda c: (not c.startswith("info."), c))
    df = df.reindex(columns=COLUMNS + rest)
    return df.sort_values(["tag", "solver", "dataset", "n_rows", "mask", "mask_rate", "seed", "job"],
                          kind="stable", na_position="last").reset_index(drop=True)


_HISTORY_KEYS = ["job", "tag", "solver", "dataset", "mask", "mask_rate", "n_rows", "n_cols", "rank", "seed",
                 "holdout", "status"]


def load_history(path: str | Path) -> pd.DataFrame:
    """Per-iteration histories as a long table.

    Returns
    -------
    pandas.DataFrame
        Columns ``job, tag, solver, dataset, mask, mask_rate, n_rows, n_cols,
        rank, seed, holdout, status, iteration, time, objective`` (and any other
        per-iteration series a solver records). ``iteration`` 0 is the initial
        value; ``time`` is seconds spent in updates so far. Closed-form solvers
        have no rows.
    """
    frames = []
    for rec in _records(path, "load_history"):
        series = {k.split("/", 1)[1]: v for k, v in rec.arrays.items() if k.startswith("history/")}
        if not series or "objective" not in series or np.size(series["objective"]) == 0:
            continue
        length = len(series["objective"])
        row = record_row(rec)
        frame = pd.DataFrame({k: np.asarray(v) for k, v in series.items() if np.ndim(v) == 1 and len(v) == length})
        frame.insert(0, "iteration", np.arange(length))
        for i, key in enumerate(_HISTORY_KEYS):
            frame.insert(i, key, row.get(key))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*_HISTORY_KEYS, "iteration", "time", "objective"])
    df = pd.concat(frames, ignore_index=True)
    lead = [*_HISTORY_KEYS, "iteration", "time", "objective"]
    return df.reindex(columns=lead + [c for c in df.columns if c not in lead])


# --------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    """Console script ``nmfexp-results``."""
    parser = argparse.ArgumentParser(prog="nmfexp-results", description="Tables and merged files from nmfexp records.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_merge = sub.add_parser("merge", help="copy every record under PATH into one HDF5 file")
    p_merge.add_argument("path")
    p_merge.add_argument("-o", "--output", required=True)
    p_csv = sub.add_parser("csv", help="write the one-row-per-job table as CSV")
    p_csv.add_argument("path")
    p_csv.add_argument("-o", "--output", required=True, help="CSV file ('-' for standard output)")
    p_csv.add_argument("--history", action="store_true", help="write the per-iteration table instead")
    p_summary = sub.add_parser("summary", help="print the number of jobs per solver and status")
    p_summary.add_argument("path")
    args = parser.parse_args(argv)

    try:
        if args.command == "merge":
            count = merge_records(args.path, args.output)
            print(f"merged {count} records into {args.output}")
        elif args.command == "csv":
            df = load_history(args.path) if args.history else load(args.path)
            if args.output == "-":
                df.to_csv(sys.stdout, index=False)
            else:
                df.to_csv(args.output, index=False)
                print(f"wrote {len(df)} rows to {args.output}")
        else:
            df = load(args.path)
            if df.empty:
                print("no records")
            else:
                print(df.groupby(["solver", "status"]).size().to_string())
    except (FileNotFoundError, ValueError) as exc:
        print(f"nmfexp-results: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

