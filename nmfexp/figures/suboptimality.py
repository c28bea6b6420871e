"""Suboptimality against the best-known optimum: ``(f(t) - f*) / f*`` vs update time or iteration.

::

    nmfexp-plot results/solver_zoo --suboptimality --hue solver [--col rank] [--x iteration]

f* is :func:`nmfexp.analysis.best_known` of each problem and loss (the lowest
value any feasible record or recorded iterate reached; records of
:data:`INFEASIBLE` solvers, whose results are not non-negative factorisations
of the rank, do not count). Each job is scored on the loss its own solver
minimises (:func:`nmfexp.analysis.own_loss`), so KL and Frobenius problems are
drawn in separate rows of panels and never on one axis. Per group (``hue``,
and ``col`` when given) the figure draws the median over runs and the 10-90%
quantile band of the step-interpolated curves (a run that has stopped keeps
its last value); a run that stopped without converging (a cap: ``max_iter``,
``max_time``) is marked with a cross at its end point, and a solver without a
history on its loss (a closed form) with a hollow marker at its final value.
Values below :data:`FLOOR` (the run that defines f* reaches 0) are drawn at
the floor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.ticker import NullFormatter

from ..analysis import best_known, suboptimality
from ..analysis.problems import CONVERGED_REASONS, INFEASIBLE, REFERENCE_TAGS, converged
from .stats import jobs_note, ok, step_quantiles
from .style import footer, level_style, save_figure, solver_order, solver_style, styled, subplots, write_table

__all__ = ["INFEASIBLE", "FLOOR", "QUANTILES", "CONVERGED_REASONS", "X_AXES", "converged", "suboptimality_runs",
           "suboptimality_bands", "plot_suboptimality", "write_suboptimality", "REFERENCE_TAGS", "split_reference"]

#: Suboptimality below this is drawn at it (log axis).
FLOOR = 1e-9
#: The band and the line: 10th, 50th and 90th percentile over runs.
QUANTILES = (10, 50, 90)
#: What the x axis can be.
X_AXES = ("time", "iteration")
_LOSS_TITLE = {"kl": "KL divergence", "frobenius": "Frobenius norm"}




def _check_x(x: str) -> None:
    if x not in X_AXES:
        raise ValueError(f"the x axis of a suboptimality figure must be one of {', '.join(X_AXES)}, got {x!r}.")


def _check_column(df: pd.DataFrame, name: str | None, what: str) -> None:
    if name is not None and name not in df.columns:
        raise ValueError(f"--{what} {name!r} is not a column of the records; try solver, rank, mask_rate, tag.")


#: How a user's solver says what its objective measures.
DECLARE_LOSS = ("declare what its objective measures: loss: frobenius (or kl) in its _target_ solver config, "
                "or nmfexp.solver_spec(func, loss=...)")


def _undeclared(ends: pd.DataFrame, meta: pd.DataFrame) -> dict[str, int]:
    """Solvers with jobs that cannot be scored because their loss is unknown: name -> number of jobs."""
    lost = ends.loc[ends["loss"].isna(), "job"]
    return {str(k): int(v) for k, v in meta.loc[lost, "solver"].value_counts().sort_index().items()} if len(lost) else {}


def _undeclared_note(undeclared: dict[str, int]) -> str:
    named = ", ".join(f"{name} ({n} job{'s' if n != 1 else ''})" for name, n in undeclared.items())
    return f"Not drawn, no declared loss: {named}; {DECLARE_LOSS}."


def suboptimality_runs(df: pd.DataFrame, hist: pd.DataFrame | None,
                       reference: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-iterate and per-job suboptimality of the records with status ok, on each job's own loss.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`.
    hist : pandas.DataFrame or None
        The matching :func:`nmfexp.results.load_history`.
    reference : pandas.DataFrame, optional
        Records of reference runs of the same problems (the ``solver_reference``
        preset); their final values count towards f*, and they are not drawn.

    Returns
    -------
    curves : pandas.DataFrame
        One row per recorded iterate: ``job, solver, problem, loss, iteration, time, objective, fstar,
        suboptimality`` (jobs whose history measures their own loss).
    ends : pandas.DataFrame
        One row per job: ``job, loss, value, fstar, suboptimality`` (final), ``converged``,
        ``stop_reason`` (or None), ``has_curve``, and ``time`` and ``iteration`` of its end point
        (the last recorded iterate; without a history the job's median update time and ``n_iter``).
    """
    return _runs(df, hist, reference)[:2]


def _runs(df, hist, reference):
    """:func:`suboptimality_runs` and the table of :func:`~nmfexp.analysis.best_known` it used."""
    good = ok(df)
    if good.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame(columns=["source"])
    h = hist if hist is not None and not hist.empty else None
    fstar = best_known(good, h, exclude=INFEASIBLE, reference=None if reference is None else ok(reference))
    finals = suboptimality(good, fstar)
    curves = suboptimality(good, fstar, h) if h is not None else pd.DataFrame(
        columns=["job", "solver", "problem", "loss", "iteration", "time", "objective", "fstar", "suboptimality"])
    ends = finals[["job", "loss", "value", "fstar", "suboptimality"]].copy()
    ends["converged"] = converged(good).to_numpy()
    ends["stop_reason"] = good["stop_reason"].to_numpy() if "stop_reason" in good else None
    last = curves.sort_values(["job", "iteration"]).groupby("job").tail(1).set_index("job")
    ends["has_curve"] = ends["job"].isin(last.index)
    runtime = pd.to_numeric(good.get("runtime_median", pd.Series(np.nan, index=good.index)), errors="coerce")
    n_iter = pd.to_numeric(good.get("n_iter", pd.Series(np.nan, index=good.index)), errors="coerce")
    ends["time"] = ends["job"].map(last["time"]).fillna(pd.Series(runtime.to_numpy(), index=ends.index))
    ends["iteration"] = ends["job"].map(last["iteration"]).fillna(pd.Series(n_iter.to_numpy(), index=ends.index))
    return curves.reset_index(drop=True), ends.reset_index(drop=True), fstar


def split_reference(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(records to draw, reference runs)``: the records tagged one of :data:`REFERENCE_TAGS` go to the second."""
    if df.empty or "tag" not in df.columns:
        return df, df.iloc[0:0]
    is_ref = df["tag"].isin(REFERENCE_TAGS).to_numpy()
    return df[~is_ref], df[is_ref]


def reference_note(fstar: pd.DataFrame, reference: pd.DataFrame | None) -> str:
    """``", reference runs included (they set f* on k of n problems and losses)"``, or ``""`` without any."""
    if reference is None or not len(ok(reference)):
        return ""
    k = int((fstar["source"] == "reference").sum()) if len(fstar) else 0
    return (f", {len(ok(reference))} reference runs included (best of several long runs; they set f* on {k} of "
            f"{len(fstar)} problems and losses)")


def _grid(curves: list[tuple[np.ndarray, np.ndarray]], x: str) -> np.ndarray:
    xmax = max(float(c[0][-1]) for c in curves)
    if x == "iteration":
        return np.arange(0, int(xmax) + 1, dtype=float) if xmax < 2000 else np.unique(
            np.concatenate([[0.0], np.geomspace(1, xmax, 400)]).round())
    positive = [c[0][c[0] > 0] for c in curves]
    lo = min((float(p.min()) for p in positive if p.size), default=1e-6)
    return np.geomspace(max(lo, 1e-7), max(xmax, 2 * lo), 200)


def suboptimality_bands(df: pd.DataFrame, hist: pd.DataFrame | None, *, x: str = "time", hue: str = "solver",
                        col: str | None = None, quantiles=QUANTILES,
                        reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Quantiles over runs of the suboptimality curves, per loss, ``hue`` value and ``col`` value.

    Each run's curve is step-interpolated on a common grid of ``x`` (holding
    its last value once it has stopped, undefined before its first iterate)
    and the percentiles ``quantiles`` are taken over the runs at each grid
    point. Values below :data:`FLOOR` count as :data:`FLOOR`.

    Parameters
    ----------
    df, hist : pandas.DataFrame
        Tables from :func:`nmfexp.results.load_all`.
    x : {"time", "iteration"}
        Update time (seconds) or iteration.
    hue, col : str, optional
        Columns of ``df`` that split the runs into groups.
    quantiles : sequence of float
        Percentiles to compute (default 10, 50, 90).
    reference : pandas.DataFrame, optional
        Reference runs whose final values count towards f* (see :func:`suboptimality_runs`).

    Returns
    -------
    pandas.DataFrame
        ``loss, hue, col, x, q<p>... , runs``: one row per grid point.
    """
    _check_x(x)
    _check_column(df, hue, "hue")
    _check_column(df, col, "col")
    curves, _ = suboptimality_runs(df, hist, reference)
    cols = ["loss", "hue", "col", "x", *[f"q{q:g}" for q in quantiles], "runs"]
    if curves.empty:
        return pd.DataFrame(columns=cols)
    meta = ok(df).drop_duplicates("job").set_index("job")
    curves = curves.assign(hue=curves["job"].map(meta[hue]) if hue else "all",
                           col=curves["job"].map(meta[col]) if col else "all")
    rows = []
    for (loss, hv, cv), g in curves.groupby(["loss", "hue", "col"], sort=True, dropna=False):
        runs = [(r[x].to_numpy(float), np.maximum(r["suboptimality"].to_numpy(float), FLOOR))
                for _, r in g.groupby("job")]
        grid = _grid(runs, x)
        qs = step_quantiles(runs, grid, quantiles)
        part = pd.DataFrame({"loss": loss, "hue": hv, "col": cv, "x": grid,
                             **{f"q{q:g}": qs[i] for i, q in enumerate(quantiles)}, "runs": len(runs)})
        rows.append(part)
    return pd.concat(rows, ignore_index=True)[cols]


def _label(value, hue: str | None) -> str:
    if hue == "solver":
        return solver_style(value)["label"]
    return f"{hue}={value}" if hue else "all runs"


def _style(value, hue: str | None, k: int, levels: list) -> dict:
    if hue == "solver":  # outside solvers numbered among the figure's, as every figure of a sweep does
        return level_style(value, k, hue, levels)
    palette = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"]
    return {"color": palette[k % len(palette)], "linestyle": "-", "marker": "o", "label": _label(value, hue)}


def _order(values, hue: str | None) -> list:
    values = [v for v in pd.unique(pd.Series(list(values))) if not (isinstance(v, float) and np.isnan(v))]
    if hue == "solver":
        return solver_order(values)
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


@styled
def plot_suboptimality(df: pd.DataFrame, hist: pd.DataFrame | None, plots_dir: str | Path, *, x: str = "time",
                       hue: str | None = "solver", col: str | None = None, stem: str | None = None,
                       title: str | None = None, note: str = "", reference: pd.DataFrame | None = None) -> list[Path]:
    """Draw ``(f(t) - f*) / f*`` against ``x``: one row of panels per loss, one column per ``col`` value.

    Parameters
    ----------
    df, hist : pandas.DataFrame
        Tables from :func:`nmfexp.results.load_all` (records with status ok are drawn).
    plots_dir : path-like
        Where the PNG (and PDF) go.
    x : {"time", "iteration"}
        Update time (seconds, log axis) or iteration (symlog axis).
    hue : str, optional
        Column of ``df``: one line and band per value (default ``solver``).
    col : str, optional
        Column of ``df``: one panel per value.
    stem : str, optional
        File stem (default ``suboptimality_vs_<x>``).
    title, note : str, optional
        Figure title; a sentence added to the footer.
    reference : pandas.DataFrame, optional
        Records of reference runs of the same problems (``solver_reference``):
        their final values count towards f*; the footer says on how many
        problems they set it. Not drawn.

    Returns
    -------
    list of Path
        The files written (none when no record has a usable value).
    """
    _check_x(x)
    _check_column(df, hue, "hue")
    _check_column(df, col, "col")
    good = ok(df)
    curves, ends, fstar = _runs(good, hist, reference)
    if ends.empty or ends["loss"].isna().all():
        return []
    meta = good.drop_duplicates("job").set_index("job")
    undeclared = _undeclared(ends, meta)
    ends = ends[ends["loss"].notna()].assign(hue=lambda e: e["job"].map(meta[hue]) if hue else "all",
                                             col=lambda e: e["job"].map(meta[col]) if col else "all")
    bands = (suboptimality_bands(good, hist, x=x, hue=hue, col=col, reference=reference) if not curves.empty
             else pd.DataFrame())
    losses = [loss for loss in ("kl", "frobenius") if (ends["loss"] == loss).any()]
    losses += sorted(set(ends["loss"]) - set(losses))
    colv = _order(ends["col"], col) if col else ["all"]
    hues = _order(ends["hue"], hue) if hue else ["all"]
    fig, axes = subplots(len(losses), len(colv), figsize=(2.9 * len(colv) + 1.9, 2.6 * len(losses) + 0.9),
                         squeeze=False, sharey="row", layout="constrained")
    q_lo, q_mid, q_hi = (f"q{q:g}" for q in QUANTILES)
    for i, loss in enumerate(losses):
        for j, cv in enumerate(colv):
            ax = axes[i][j]
            for k, hv in enumerate(hues):
                st = _style(hv, hue, k, hues)
                if not bands.empty:
                    b = bands[(bands["loss"] == loss) & (bands["hue"] == hv) & (bands["col"] == cv)]
                    if len(b):
                        ax.plot(b["x"], b[q_mid], color=st["color"], linestyle=st["linestyle"], linewidth=1.3)
                        ax.fill_between(b["x"], b[q_lo], b[q_hi], color=st["color"], alpha=0.15, linewidth=0)
                e = ends[(ends["loss"] == loss) & (ends["hue"] == hv) & (ends["col"] == cv)]
                y = np.maximum(e["suboptimality"].to_numpy(float), FLOOR)
                flat = ~e["has_curve"].to_numpy()
                if flat.any():  # no history on its loss (a closed form): its final value
                    hollow = ({"facecolors": "none", "edgecolors": st["color"]} if MarkerStyle(st["marker"]).is_filled()
                              else {"color": st["color"]})  # a line marker ('_', '|') has no face to leave empty
                    ax.scatter(e[x][flat], y[flat], marker=st["marker"], s=24, zorder=4, **hollow)
                capped = (~e["converged"].to_numpy()) & ~flat
                if capped.any():
                    ax.scatter(e[x][capped], y[capped], marker="x", s=26, color=st["color"], linewidths=1.1,
                               zorder=5)
            ax.set_yscale("log")
            if x == "time":
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # a narrow range labels every minor tick
                ax.set_xlabel("update time (s)")
            else:
                ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
                ax.set_xlim(left=0)
                ax.set_xlabel("iteration")
            ax.set_ylim(FLOOR / 3, None)
            where = f"\n{col} = {cv}" if col else ""
            ax.set_title(f"{_LOSS_TITLE.get(loss, loss)} solvers{where}", fontsize=8)
        axes[i][0].set_ylabel(f"(f - f*) / f*\nf: {_LOSS_TITLE.get(loss, loss)}")
    shown = set(ends["hue"])
    handles = [Line2D([], [], color=_style(hv, hue, k, hues)["color"], linestyle=_style(hv, hue, k, hues)["linestyle"],
                      label=_label(hv, hue)) for k, hv in enumerate(hues) if hv in shown]
    handles += [Line2D([], [], color="0.3", marker="x", linestyle="none", label="stopped by a cap\n(not converged)"),
                Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="none",
                       label="closed form:\nfinal value")]
    handles += [Line2D([], [], linestyle="none", label=f"{name}: not drawn,\nno declared loss") for name in undeclared]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    fig.suptitle(title or "Suboptimality against the best-known optimum f* of each problem, on each solver's own loss",
                 fontsize=8)
    n_capped = int((~ends["converged"] & ends["has_curve"]).sum())
    footer(fig, f"Line: median over runs; band: 10-90% quantiles (curves held at their last value once stopped). "
                f"f*: lowest value of that loss any feasible record or iterate reached on the same problem "
                f"({', '.join(INFEASIBLE)} not counted){reference_note(fstar, reference)}; values below {FLOOR:g} "
                f"drawn at {FLOOR:g}. "
                f"{n_capped} of {int(ends['has_curve'].sum())} iterative runs stopped by a cap.{' ' + note if note else ''}"
                f"{' ' + _undeclared_note(undeclared) if undeclared else ''}"
                f"\n{jobs_note(df)}.")
    return save_figure(fig, plots_dir, stem or f"suboptimality_vs_{x}")


def write_suboptimality(df: pd.DataFrame, hist: pd.DataFrame | None, plots_dir: str | Path, *, x: str = "time",
                        hue: str | None = "solver", col: str | None = None, stem: str | None = None,
                        reference: pd.DataFrame | None = None) -> list[Path]:
    """The figure of :func:`plot_suboptimality` and its data: the bands as ``<stem>.csv``.

    Raises
    ------
    ValueError
        A bad ``x``, an unknown ``hue``/``col`` column, or records without any usable objective.
    """
    _check_x(x)
    stem = stem or f"suboptimality_vs_{x}"
    written = plot_suboptimality(df, hist, plots_dir, x=x, hue=hue, col=col, stem=stem, reference=reference)
    if not written:
        raise ValueError("no record with status ok has a value of its own loss (weighted_kl or weighted_frobenius) "
                         f"to compare with a best-known optimum; for a solver of your own, {DECLARE_LOSS}.")
    bands = suboptimality_bands(df, hist, x=x, hue=hue, col=col, reference=reference)
    written += write_table(bands, Path(plots_dir), stem,
                           note="Quantiles over runs of (f - f*) / f* on each solver's own loss, per grid point.")
    return written
