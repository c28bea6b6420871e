""":func:`plot_all`: every artifact of the registry (:mod:`.registry`) from the records, plus generic
figures for records of any other sweep (see :mod:`nmfexp.figures.sweep`), and the report.

An artifact is what one experiment preset of ``experiments/`` produces: its
figures and tables. ``nmfexp-reproduce`` runs the presets of :data:`ARTIFACTS`
and :func:`plot_all` regenerates every artifact from the records.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .. import results as _results
from ..experiment.provenance import provenance_note
from . import fig5, patterns, real_data, stats, sweep
from .registry import ARTIFACTS, CAPTIONS, DEFAULT_ARTIFACTS, Artifact, artifact_tags
from .report import PlotOutcome, write_report
from .stats import check_statistic
from .style import FOOTER_PROVENANCE

__all__ = ["Artifact", "ARTIFACTS", "CAPTIONS", "DEFAULT_ARTIFACTS", "plot_all", "read_results", "PlotOutcome"]


def read_results(results) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """The tables of :func:`nmfexp.results.load_all` and the records they come from, read once.

    Damaged files are left out with a :class:`nmfexp.results.RecordsWarning` naming them.
    """
    found = _results.scan(results)
    for line in found.messages():
        warnings.warn(f"load: {line}", _results.RecordsWarning, stacklevel=2)
    df, hist = _results.tables(found.records)
    return df, hist, found.records


def plot_all(results, plots_dir, *, verbose: bool = True, statistic: str = "median", report: bool = False,
             errors: str = "raise", only=None, x_axis: str = "n",
             exclude_concurrent: bool = False) -> dict[str, list[Path]]:
    """Regenerate every figure and table from the records under ``results``.

    Parameters
    ----------
    results : str or Path
        A results folder (searched recursively), a record, or a merged file.
    plots_dir : str or Path
        Where the files go.
    verbose : bool
        Print the main tables and one line per artifact.
    statistic : {"median", "min", "mean"}
        Runtime statistic (see :mod:`nmfexp.figures.stats`).
    report : bool
        Also write ``index.html`` (:func:`nmfexp.figures.report.write_report`).
    errors : {"raise", "report"}
        A figure that fails: raise, or print the traceback, go on with the
        others and list it (the report shows it too).
    only : iterable of str, optional
        Artifact names to make (default: all).
    x_axis : {"n", "3n"}
        The x axis of Fig. 5 (:func:`nmfexp.figures.fig5.plot_fig5`): n, or the
        reference plot's 3n.
    exclude_concurrent : bool
        Leave out the runtimes of jobs timed while other nmfexp jobs were
        timed on the same host (``execution.concurrent_jobs > 1``); their
        other results still count. Without it, figure footers say how many
        such jobs each figure holds.

    Returns
    -------
    dict of str to list of Path
        Files per artifact name; records of other sweeps under ``"sweep:<tag>"``.
        The dict has an attribute ``outcome`` (:class:`PlotOutcome`).
    """
    check_statistic(statistic)
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', got {errors!r}.")
    plots_dir = Path(plots_dir)
    df, hist, records = read_results(results)
    if exclude_concurrent:
        df = stats.exclude_concurrent(df)
    written: dict[str, list[Path]] = {}
    failures: dict[str, str] = {}

    def attempt(name: str, func: Callable[[], list[Path]]) -> None:
        if errors == "raise":
            written[name] = func()
            return
        try:
            written[name] = func()
        except Exception:  # one broken figure must not stop the others; the traceback is shown
            failures[name] = traceback.format_exc()
            written[name] = []
            print(f"nmfexp-plot: {name} could not be made:\n{failures[name]}", file=sys.stderr)

    tags = df["tag"].fillna("").astype(str) if "tag" in df.columns else pd.Series("", index=df.index)

    def provenance(*names: str) -> str:
        """The commit(s) of the records tagged one of ``names`` (or their quick runs): each footer names
        those of its own records, not those of every record loaded beside them."""
        return provenance_note(df[tags.isin({t for n in names if n for t in (n, f"{n}_quick")})])

    token = FOOTER_PROVENANCE.set(provenance_note(df))
    try:
        for name, art in ARTIFACTS.items():
            if only is not None and name not in only:
                continue
            options = {"x_axis": x_axis} if name == "fig5_synthetic" else {}
            FOOTER_PROVENANCE.set(provenance(name, art.reference))
            attempt(name, lambda art=art, options=options: art.make(df, hist, plots_dir, statistic=statistic,
                                                                    **options))
        if only is None:
            others = sorted(set(tags) - artifact_tags()) if not df.empty else []
            for tag in others:
                FOOTER_PROVENANCE.set(provenance_note(df[tags == tag]))
                attempt(f"sweep:{tag or '(untagged)'}",
                        lambda tag=tag: sweep.auto_sweep(df, hist, plots_dir, tag=tag))
    finally:
        FOOTER_PROVENANCE.reset(token)
    outcome = PlotOutcome(written=written, errors=failures, df=df, hist=hist, records=records)
    if report:
        attempt("report", lambda: [write_report(outcome, plots_dir, results=results, statistic=statistic)])
    if verbose:
        _print_tables(df, statistic)
        for name, paths in written.items():
            state = "FAILED (see above)" if name in failures else (
                f"{len(paths)} file(s) in {plots_dir}" if paths else "no records")
            print(f"{name}: {state}")
    out = _Written(written)
    out.outcome = outcome
    return out


class _Written(dict):
    outcome: PlotOutcome


#: Widest line the printed summary tables may take: wider tables wrap into blocks of columns.
PRINT_WIDTH = 160
#: The real-data table's columns printed on the terminal (the whole table is written to the plots folder).
REAL_DATA_PRINTED = ("dataset", "shape", "missing", "missing after A1GM completion", "relative KL (A1GM/WNMF)",
                     "relative runtime (A1GM/WNMF)", "status", "seeds")


def _print_tables(df: pd.DataFrame, statistic: str) -> None:
    with pd.option_context("display.float_format", "{:.4g}".format):
        table = fig5.fig5_summary(df, statistic)
        if not table.empty:
            print("\nFig. 5 synthetic comparison (true seconds):")
            print(table.to_string(index=False, line_width=PRINT_WIDTH))
        pat = patterns.patterns_summary(df, statistic)
        if not pat.empty:
            print("\nA1GM vs WNMF-KL across missing patterns and rates:")
            print(pat.drop(columns=["skipped because"]).to_string(index=False, line_width=PRINT_WIDTH))
        real = real_data.real_data_table(df, "real_data", statistic)
        if not real.empty:
            print("\nReal-data table (its main columns; all of them, with notes and sources, in real_data_table.md):")
            shown = real[[c for c in REAL_DATA_PRINTED if c in real.columns]]
            print(shown.to_string(index=False, line_width=PRINT_WIDTH))
