"""The solver zoo on low-rank data with known truth (preset ``solver_comparison``).

Artifacts: ``zoo_objective_vs_time`` and ``zoo_objective_vs_iteration``
(convergence on a common measure), ``zoo_heldout_error`` (imputation accuracy
vs missing rate), ``zoo_time_to_target`` (time to come within 1% and 10% of
the best objective any solver reached on the same problem) and ``zoo_table``.

Solvers minimise different losses (KL for ``wnmf_kl``, the Frobenius norm for
the others), so comparisons of objectives use one common measure: the
Frobenius norm of the error on the entries the solver saw,
``||M * (X - AB)||_F`` (the record's ``weighted_frobenius``). A KL solver's
history measures KL, so on this measure only its end point is known: it is
drawn as a point, and its time to target is an upper bound (its total update
time) or "never".
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..record import schema
from .stats import (
    jobs_note,
    ok,
    problem_columns,
    quartiles_inf,
    select,
    step_quantiles,
    summarize,
    time_to_target,
)
from .style import footer, save_figure, solver_order, solver_style, styled, subplots, write_table

__all__ = ["TAG", "MEASURE", "MEASURE_LABEL", "gap_curves", "time_to_target_table", "plot_solver_comparison",
           "make"]

TAG = "solver_comparison"
MEASURE = "weighted_frobenius"
MEASURE_LABEL = "||M * (X - AB)||_F on the entries the solver saw"
GAP_FLOOR = 1e-6


def _loss_of(measure: str) -> str:
    """The solver loss whose objective ``measure`` is (a ``ValueError`` for a metric that is none)."""
    loss = schema.field_of(f"metrics/{measure}").loss if measure in schema.METRICS else ""
    if not loss:
        raise ValueError(f"{measure!r} is no solver's objective; the gap curves need one of "
                         f"{', '.join(m for m in schema.METRICS if schema.field_of(f'metrics/{m}').loss)}.")
    return loss


def gap_curves(df: pd.DataFrame, hist: pd.DataFrame, measure: str = MEASURE) -> pd.DataFrame:
    """Per job whose history is on ``measure``: its relative gap to the best final value any
    solver reached on the same problem, ``objective / best - 1``, per iteration.

    Returns the history rows (``job, solver, iteration, time``) with ``gap`` and the
    problem columns; jobs whose history measures another loss are left out.
    """
    sel = ok(df)
    if sel.empty or hist is None or hist.empty:
        return pd.DataFrame(columns=["job", "solver", "iteration", "time", "gap"])
    keys = problem_columns(sel)
    best = sel.groupby(keys, dropna=False)[measure].transform("min").rename("best")
    loss_column = schema.field_of("info/loss").column
    loss = sel[loss_column] if loss_column in sel else pd.Series(index=sel.index, dtype=object)
    meta = sel[["job", *keys]].assign(best=best, loss=loss)
    meta = meta[meta["loss"] == _loss_of(measure)]
    h = hist[["job", "iteration", "time", "objective"]].merge(meta, on="job")
    h["gap"] = np.maximum(h["objective"] / h["best"] - 1.0, 0.0)
    h = h.merge(sel[["job", "solver"]], on="job")
    return h.sort_values(["job", "iteration"])


def _rate(sel: pd.DataFrame, rate: float | None) -> float:
    rates = sorted(sel["mask_rate"].dropna().unique())
    return rate if rate is not None else min(rates, key=lambda r: abs(r - 0.2))


def _endpoints(sel: pd.DataFrame, hist: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Final gap and total update time of the jobs whose history is on another loss."""
    keys = problem_columns(sel)
    best = sel.groupby(keys, dropna=False)[measure].transform("min")
    out = sel.assign(gap=np.maximum(sel[measure] / best - 1.0, 0.0))
    loss_column = schema.field_of("info/loss").column
    loss = out[loss_column] if loss_column in out else pd.Series("", index=out.index)
    out = out[loss != _loss_of(measure)]
    if hist is not None and not hist.empty:
        last = hist.sort_values("iteration").groupby("job").tail(1).set_index("job")
        out = out.assign(time=out["job"].map(last["time"]), iteration=out["job"].map(last["iteration"]))
    else:
        out = out.assign(time=np.nan, iteration=np.nan)
    return out


def _convergence(sel: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, xname: str, stem: str,
                 rate: float) -> list[Path]:
    ranks = sorted(sel["rank"].unique())
    solvers = solver_order(sel["solver"])
    at = sel[np.isclose(sel["mask_rate"], rate)]
    gaps = gap_curves(at, hist)
    ends = _endpoints(at, hist, MEASURE)
    fig, axes = subplots(1, len(ranks), figsize=(2.9 * len(ranks) + 1.6, 3.0), squeeze=False, sharey=True,
                         layout="constrained")
    for ax, rank in zip(axes[0], ranks, strict=True):
        g_rank = gaps[gaps["rank"] == rank] if not gaps.empty else gaps
        for solver in solvers:
            st = solver_style(solver)
            runs = g_rank[g_rank["solver"] == solver] if not g_rank.empty else g_rank
            curves = [(r[xname].to_numpy(float), np.maximum(r["gap"].to_numpy(float), GAP_FLOOR))
                      for _, r in runs.groupby("job")]
            if curves:
                xmax = max(c[0][-1] for c in curves)
                if xname == "time":
                    positive = [c[0][c[0] > 0] for c in curves]
                    lo = min((p.min() for p in positive if p.size), default=1e-6)
                    grid = np.geomspace(max(lo, 1e-7), max(xmax, 2 * lo), 200)
                else:
                    grid = np.arange(0, int(xmax) + 1)
                q25, q50, q75 = step_quantiles(curves, grid)
                ax.plot(grid, q50, color=st["color"], linestyle=st["linestyle"], linewidth=1.3)
                ax.fill_between(grid, q25, q75, color=st["color"], alpha=0.15, linewidth=0)
            e = ends[(ends["solver"] == solver) & (ends["rank"] == rank)]
            if len(e):  # another loss: only the end point is on this measure
                ax.scatter(e[xname], np.maximum(e["gap"], GAP_FLOOR), marker=st["marker"], s=22,
                           facecolors="none", edgecolors=st["color"], zorder=4)
        for level in (0.01, 0.1):
            ax.axhline(level, color="0.5", linewidth=0.7, linestyle=":")
        ax.set(yscale="log", xlabel="update time (s)" if xname == "time" else "iteration",
               title=f"rank {rank}, {rate:.0%} missing")
        if xname == "time":
            ax.set_xscale("log")
        else:  # the first iterations, where rank-1 solvers finish, get room; long runs stay on the axis
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
            ax.set_xlim(left=0)
        ax.set_ylim(GAP_FLOOR / 2, None)
    axes[0][0].set_ylabel("gap to the best objective\n(objective / best - 1)")
    handles = [Line2D([], [], **{k: v for k, v in solver_style(s).items() if k != "marker"}) for s in solvers
               if not (ends["solver"] == s).any()]
    handles += [Line2D([], [], color=solver_style(s)["color"], marker=solver_style(s)["marker"],
                       markerfacecolor="none", linestyle="none", label=f"{solver_style(s)['label']} (end point)")
                for s in solvers if (ends["solver"] == s).any()]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    fig.suptitle(f"Convergence on a common measure, {MEASURE_LABEL};\nbest = lowest final value of any solver "
                 "on the same problem (same data, seed, rank, missing rate)", fontsize=8)
    footer(fig, f"Median over seeds, band: interquartile range; dotted lines: 1% and 10% above the best; gaps below "
                f"{GAP_FLOOR:g} drawn at {GAP_FLOOR:g}. "
                "KL solvers record KL per iteration, so only their end point is shown.\n"
                f"{jobs_note(at)} at {rate:.0%} missing.")
    return save_figure(fig, plots_dir, stem)


def time_to_target_table(sel: pd.DataFrame, hist: pd.DataFrame, rtols=(0.01, 0.1)) -> pd.DataFrame:
    """Per solver and rank: median update time to reach within each ``rtol`` of the best final
    objective any solver reached on the same problem (common measure :data:`MEASURE`), with
    quartiles (``inf`` when not reached), how many jobs reached it, and whether the times are
    exact or upper bounds."""
    t = time_to_target(sel, hist, rtols, MEASURE)
    if t.empty:
        return pd.DataFrame()
    rows = []
    for (solver, rank, rtol), g in t.groupby(["solver", "rank", "rtol"]):
        med, q25, q75 = quartiles_inf(g["time"])
        rows.append({"solver": solver, "rank": int(rank), "within": f"{rtol:.0%}", "median time (s)": med,
                     "q25 (s)": q25, "q75 (s)": q75, "reached": f"{int(g['reached'].sum())}/{len(g)}",
                     "times are": "upper bounds" if (g["bound"] == "upper").any() else "exact"})
    return pd.DataFrame(rows)


def _time_figure(sel: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path) -> list[Path]:
    t = time_to_target(sel, hist, (0.01, 0.1), MEASURE)
    if t.empty:
        return []
    ranks = sorted(t["rank"].unique())
    solvers = solver_order(t["solver"])
    finite = t["time"][np.isfinite(t["time"])]
    right = float(finite.max()) * 1.5 if len(finite) else 1.0
    left = float(finite[finite > 0].min()) / 3 if (finite > 0).any() else 1e-6
    never = right * 3.5  # "never reached" is drawn in a band on the right
    fig, axes = subplots(1, len(ranks), figsize=(2.7 * len(ranks) + 1.4, 0.42 * len(solvers) + 1.5), squeeze=False,
                         sharey=True, sharex=True, layout="constrained")
    for ax, rank in zip(axes[0], ranks, strict=True):
        ax.axvspan(right * 1.6, right * 12, color="0.93", zorder=0)
        for k, solver in enumerate(solvers):
            st = solver_style(solver)
            for rtol, dy, filled in ((0.01, -0.14, True), (0.1, 0.14, False)):
                g = t[(t["solver"] == solver) & (t["rank"] == rank) & (t["rtol"] == rtol)]
                if g.empty:
                    continue
                med, q25, q75 = quartiles_inf(g["time"])
                shown = [never if np.isinf(v) else v for v in (med, q25, q75)]
                ax.plot([shown[1], shown[2]], [k + dy] * 2, color=st["color"], linewidth=1.2)
                upper = (g["bound"] == "upper").any()
                ax.scatter([shown[0]], [k + dy], marker="<" if upper else st["marker"], s=30, zorder=3,
                           color=st["color"] if filled else "white", edgecolors=st["color"])
                missed = len(g) - int(g["reached"].sum())
                if missed:
                    ax.annotate(f"{missed}/{len(g)}" + ("" if np.isinf(med) else " never"),
                                (max(shown[0], shown[2]), k + dy), textcoords="offset points", xytext=(4, 0),
                                fontsize=6, color=st["color"], va="center")
        ax.set(xscale="log", title=f"rank {rank}", xlabel="update time (s)")
        ax.set_xlim(left, right * 12)
        ax.text(never * 1.3, -0.55, "never", ha="center", va="bottom", fontsize=7, color="0.35")
    axes[0][0].set_yticks(range(len(solvers)), [solver_style(s)["label"] for s in solvers])
    axes[0][0].set_ylim(len(solvers) - 0.4, -0.6)
    handles = [Line2D([], [], color="0.3", marker="o", linestyle="none", label="within 1% of best"),
               Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="none",
                      label="within 10% of best"),
               Line2D([], [], color="0.3", marker="<", linestyle="none", label="upper bound (KL solver: end point)"),
               Line2D([], [], color="0.3", linewidth=1.2, label="interquartile range")]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    fig.suptitle("Time to reach within 1% / 10% of the best objective any solver reached on the same problem\n"
                 f"(common measure: {MEASURE_LABEL}; median over problems, all missing rates)", fontsize=8)
    footer(fig, f"{jobs_note(sel)}. A problem: same data, seed, rank, missing rate and hold-out. Grey band: the "
                "target was not reached (k/n: by k of the n jobs).")
    return save_figure(fig, plots_dir, "zoo_time_to_target")


def _heldout(sel: pd.DataFrame, plots_dir: Path) -> list[Path]:
    col = "heldout_relative_error"
    ranks = sorted(sel["rank"].unique())
    solvers = solver_order(sel["solver"])
    planned = int(sel["seed"].nunique())
    fig, axes = subplots(1, len(ranks), figsize=(2.9 * len(ranks) + 1.6, 3.0), squeeze=False, sharey=True,
                         layout="constrained")
    good = ok(sel)
    for ax, rank in zip(axes[0], ranks, strict=True):
        for k, solver in enumerate(solvers):
            g = good[(good["solver"] == solver) & (good["rank"] == rank)]
            if g.empty:
                continue
            s = summarize(g, ["mask_rate"], col)
            st = solver_style(solver)
            x = s["mask_rate"].to_numpy(float) * (1 + 0.035 * (k - (len(solvers) - 1) / 2))
            ax.errorbar(x, s["median"], yerr=[s["median"] - s["q25"], s["q75"] - s["median"]], capsize=2,
                        markersize=4, linewidth=1, **{**st, "label": None})
            few = s["n"].to_numpy() < planned
            ax.scatter(x[few], s["median"][few], s=60, facecolors="none", edgecolors=st["color"], zorder=5)
        ax.axhline(0.05, color="grey", linewidth=0.8, linestyle="--")
        ax.set(yscale="log", xscale="log", xlabel="missing rate", title=f"true rank = fitted rank = {rank}")
        rates = sorted(sel["mask_rate"].unique())
        ax.set_xticks(rates, [f"{r:.0%}" for r in rates])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axes[0][0].set_ylabel("held-out relative error\n(dashed: 5%)")
    handles = [Line2D([], [], **solver_style(s)) for s in solvers]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    footer(fig, f"Median over seeds, bars: interquartile range; large hollow circle: fewer seeds than planned "
                f"({planned}); solvers side by side at each rate.\n{jobs_note(sel)}.")
    return save_figure(fig, plots_dir, "zoo_heldout_error")


@styled
def plot_solver_comparison(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path,
                           rate: float | None = None) -> list[Path]:
    """The solver-zoo figures and table (see the module docstring); ``rate`` picks the
    missing rate of the convergence figures (default: the one closest to 20%)."""
    sel = select(df, TAG)
    good = ok(sel)
    if good.empty:
        return []
    plots_dir = Path(plots_dir)
    h = hist[hist["job"].isin(good["job"])] if hist is not None and not hist.empty else hist
    rate = _rate(good, rate)
    written = []
    written += _convergence(good, h, plots_dir, "time", "zoo_objective_vs_time", rate)
    written += _convergence(good, h, plots_dir, "iteration", "zoo_objective_vs_iteration", rate)
    written += _heldout(sel, plots_dir)
    written += _time_figure(good, h, plots_dir)
    col = "heldout_relative_error"
    rows = []
    for (solver, rank, r), g in good.groupby(["solver", "rank", "mask_rate"]):
        q = np.nanpercentile(g[col], [25, 50, 75]) if g[col].notna().any() else (np.nan,) * 3
        rows.append({"solver": solver, "rank": int(rank), "missing rate": float(r), "held-out error (median)": q[1],
                     "held-out q25": q[0], "held-out q75": q[2],
                     "runtime (s, median)": float(np.nanmedian(g["runtime_median"])),
                     "iterations (median)": float(np.nanmedian(g["n_iter"])), "jobs": len(g)})
    summary = pd.DataFrame(rows)
    ttt = time_to_target_table(good, h)
    if not ttt.empty:
        wide = ttt.pivot_table(index=["solver", "rank"], columns="within", values="median time (s)", aggfunc="first")
        wide.columns = [f"time to {c} of best (s, median)" for c in wide.columns]
        reach = ttt.pivot_table(index=["solver", "rank"], columns="within", values="reached", aggfunc="first")
        reach.columns = [f"reached {c}" for c in reach.columns]
        summary = summary.merge(wide.join(reach).reset_index(), on=["solver", "rank"], how="left")
    note = ("Held-out error: median and quartiles over seeds; runtime: median over seeds of each job's median "
            "timing sample. Time to x of best: median update time over problems (all missing rates of the rank) "
            f"until the common measure {MEASURE_LABEL} is within x of the lowest final value any solver reached on "
            "that problem (inf: not reached by half or more; KL solvers: upper bounds from their end point).")
    written += write_table(summary, plots_dir, "zoo_table", note=note)
    return written


def make(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *, statistic: str = "median") -> list[Path]:
    """Every file of this artifact (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    return plot_solver_comparison(df, hist, plots_dir)

