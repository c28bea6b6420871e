"""The solver zoo on low-rank data with known truth (preset ``solver_comparison``).

Artifacts: ``zoo_objective_vs_time`` and ``zoo_objective_vs_iteration``
(suboptimality ``(f - f*) / f*`` against the best-known optimum of each
problem, each solver on its own loss, :mod:`nmfexp.figures.suboptimality`),
``zoo_heldout_error`` (imputation accuracy vs missing rate, with the best
baseline as a reference line), ``zoo_time_to_target`` (time to come within 1%
and 10% of the best objective any solver reached on the same problem, on a
common measure) and ``zoo_table`` (per solver and rank: objective,
suboptimality, held-out error, share converged, stop reasons, iterations,
update time).

The time-to-target figure compares solvers with different losses (KL for
``wnmf_kl``, the Frobenius norm for the others) on one common measure: the
Frobenius norm of the error on the entries the solver saw,
``||M * (X - AB)||_F`` (the record's ``weighted_frobenius``). A KL solver's
history measures KL, so on this measure only its end point is known: its time
to target is an upper bound (its total update time) or "never".

Which solver is best is stated in the captions only as computed from the
records by :func:`zoo_claims` (a test recomputes each claim independently).

f* counts the reference runs of the same problems when their records are
there (preset ``solver_reference``, tag :data:`REFERENCE_TAG`): the same
problems solved once, far past the zoo's budget and from several starts. Their
table (``zoo_reference_table``, :func:`reference_table`) says per rank and
loss how much lower f* is with them than with the zoo's own runs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..analysis import own_loss, reference_gain
from ..analysis.claims import REFERENCE_TIE
from ..analysis.problems import REFERENCE_TAG
from ..record import schema
from .stats import (
    jobs_note,
    ok,
    problem_columns,
    quartiles_inf,
    select,
    summarize,
    time_to_target,
)
from .style import footer, save_figure, solver_order, solver_style, solver_styles, styled, subplots, write_table
from .suboptimality import INFEASIBLE, converged, plot_suboptimality, suboptimality_runs

__all__ = ["TAG", "REFERENCE_TAG", "reference_table", "MEASURE", "MEASURE_LABEL", "BASELINES", "CLAIM_RTOL", "CLAIM_SUBOPT_ATOL", "gap_curves", "time_to_target_table", "zoo_claims",
           "zoo_summary", "plot_solver_comparison", "make"]

TAG = "solver_comparison"
MEASURE = "weighted_frobenius"
MEASURE_LABEL = "||M * (X - AB)||_F on the entries the solver saw"
#: Medians within this fraction of the lowest are a tie in the captions' claims.
CLAIM_RTOL = 0.01
#: Suboptimalities within this of the lowest are a tie too (both solvers reached f* up to rounding).
CLAIM_SUBOPT_ATOL = 1e-6
#: Imputation baselines (no NMF): drawn as the reference of the held-out figure.
BASELINES = ("column_mean", "row_col_mean", "soft_impute")


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


def _median(values) -> float:
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else np.nan


def zoo_claims(sel: pd.DataFrame, hist: pd.DataFrame | None, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """The claims the captions make about which solver is better, computed from the records.

    Per rank (over every missing rate and seed of it): the solver with the
    lowest median held-out relative error, and the baseline (:data:`BASELINES`)
    with the lowest; per rank and loss, the solver with the lowest median
    final suboptimality ``(f - f*) / f*`` on its own loss. Records with status
    ok only. A claim names every solver whose median is within
    :data:`CLAIM_RTOL` of the lowest (and, for suboptimality, within
    :data:`CLAIM_SUBOPT_ATOL` of it: rounding is no ranking), lowest first.

    Parameters
    ----------
    sel : pandas.DataFrame
        Records of the artifact (:func:`nmfexp.results.load`).
    hist : pandas.DataFrame or None
        Their histories (f* counts every recorded iterate).
    reference : pandas.DataFrame, optional
        Reference runs of the same problems (they count towards f*).

    Returns
    -------
    pandas.DataFrame
        ``rank, claim, solver`` (tied solvers joined by ``" = "``), ``median``
        (the lowest); ``claim`` is ``"held-out error"``,
        ``"held-out error, baselines"`` or ``"suboptimality, <loss>"``.
    """
    good = ok(sel)
    rows = []
    if good.empty:
        return pd.DataFrame(columns=["rank", "claim", "solver", "median"])
    _, ends = suboptimality_runs(good, hist, reference)
    ends = ends.merge(good[["job", "rank"]].drop_duplicates("job"), on="job", how="left")

    def lowest(frame, column, claim, rank, atol=0.0):
        med = frame.groupby("solver")[column].agg(_median).dropna()
        if len(med):
            low = float(med.min())
            tied = med[med <= low + max(CLAIM_RTOL * abs(low), atol)].sort_values(kind="stable")
            rows.append({"rank": int(rank), "claim": claim, "solver": " = ".join(tied.index), "median": low})

    for rank, g in good.groupby("rank"):
        if "heldout_relative_error" in g:
            lowest(g, "heldout_relative_error", "held-out error", rank)
            lowest(g[g["solver"].isin(BASELINES)], "heldout_relative_error", "held-out error, baselines", rank)
        e = ends[ends["rank"] == rank]
        for loss, part in e.groupby("loss"):
            lowest(part.assign(solver=part["job"].map(good.drop_duplicates("job").set_index("job")["solver"])),
                   "suboptimality", f"suboptimality, {loss}", rank, atol=CLAIM_SUBOPT_ATOL)
    return pd.DataFrame(rows, columns=["rank", "claim", "solver", "median"])


def _claims_text(claims: pd.DataFrame, kinds: tuple[str, ...]) -> str:
    """The claims as caption sentences: ``rank 5: lowest median held-out error HALS (0.0097)``."""
    parts = []
    for rank, g in claims[claims["claim"].str.startswith(kinds)].groupby("rank"):
        said = []
        for _, c in g.iterrows():
            names = " = ".join(solver_style(s)["label"] for s in c["solver"].split(" = "))
            said.append(f"lowest median {c['claim']}: {names} ({c['median']:.3g})")
        parts.append(f"Rank {rank}: " + "; ".join(said))
    if not parts:
        return ""
    return (". ".join(parts) + f". (Solvers joined by '=' are within {CLAIM_RTOL:.0%} of the lowest median"
            + (f" or {CLAIM_SUBOPT_ATOL:g} of it" if any(k.startswith("suboptimality") for k in kinds) else "")
            + "; medians pool every missing rate and seed of the rank.)")


def _objective_figures(good: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, rate: float,
                       claims: pd.DataFrame, reference: pd.DataFrame | None) -> list[Path]:
    at = good[np.isclose(good["mask_rate"], rate)]
    note = _claims_text(claims, ("suboptimality",))
    written = []
    for x, stem in (("time", "zoo_objective_vs_time"), ("iteration", "zoo_objective_vs_iteration")):
        written += plot_suboptimality(
            at, hist, plots_dir, x=x, hue="solver", col="rank", stem=stem, note=note, reference=reference,
            title=f"Solver zoo at {rate:.0%} missing: suboptimality against the best-known optimum of each problem, "
                  "on each solver's own loss")
    return written


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
    styles = solver_styles(solvers)
    for ax, rank in zip(axes[0], ranks, strict=True):
        ax.axvspan(right * 1.6, right * 12, color="0.93", zorder=0)
        for k, solver in enumerate(solvers):
            st = styles[solver]
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


def _heldout(sel: pd.DataFrame, plots_dir: Path, claims: pd.DataFrame) -> list[Path]:
    col = "heldout_relative_error"
    ranks = sorted(sel["rank"].unique())
    solvers = [s for s in solver_order(sel["solver"]) if s not in BASELINES]
    planned = int(sel["seed"].nunique())
    fig, axes = subplots(1, len(ranks), figsize=(2.9 * len(ranks) + 1.6, 3.0), squeeze=False, sharey=True,
                         layout="constrained")
    good = ok(sel)
    styles = solver_styles(solvers)
    for ax, rank in zip(axes[0], ranks, strict=True):
        for k, solver in enumerate(solvers):
            g = good[(good["solver"] == solver) & (good["rank"] == rank)]
            if g.empty:
                continue
            s = summarize(g, ["mask_rate"], col)
            st = styles[solver]
            x = s["mask_rate"].to_numpy(float) * (1 + 0.035 * (k - (len(solvers) - 1) / 2))
            ax.errorbar(x, s["median"], yerr=[s["median"] - s["q25"], s["q75"] - s["median"]], capsize=2,
                        markersize=4, linewidth=1, **{**st, "label": None})
            few = s["n"].to_numpy() < planned
            ax.scatter(x[few], s["median"][few], s=60, facecolors="none", edgecolors=st["color"], zorder=5)
        base = good[good["solver"].isin(BASELINES) & (good["rank"] == rank)]
        if not base.empty:  # per missing rate, the baseline with the lowest median
            per = summarize(base, ["mask_rate", "solver"], col)
            best = per.loc[per.groupby("mask_rate")["median"].idxmin()].sort_values("mask_rate")
            ax.plot(best["mask_rate"], best["median"], color="black", linewidth=1.6, linestyle=(0, (4, 2)),
                    marker="_", markersize=16, markeredgewidth=1.6, zorder=1, label="best baseline")
        ax.axhline(0.05, color="grey", linewidth=0.8, linestyle=":")
        ax.set(yscale="log", xscale="log", xlabel="missing rate", title=f"true rank = fitted rank = {rank}")
        rates = sorted(sel["mask_rate"].unique())
        ax.set_xticks(rates, [f"{r:.0%}" for r in rates])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axes[0][0].set_ylabel("held-out relative error\n(dotted: 5%)")
    handles = [Line2D([], [], **styles[s]) for s in solvers]
    have_base = good["solver"].isin(BASELINES).any()
    if have_base:
        handles.append(Line2D([], [], color="black", linewidth=1.6, linestyle=(0, (4, 2)), marker="_",
                              markersize=16, markeredgewidth=1.6, label="best baseline\n(" + ", ".join(b for b in BASELINES) + ")"))
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    footer(fig, f"Median over seeds, bars: interquartile range; large hollow circle: fewer seeds than planned "
                f"({planned}); solvers side by side at each rate. "
                + ("Black dashed (bar at each rate): the median of the baseline with the lowest median at that rate. " if have_base
                   else "No baseline records (column_mean, row_col_mean, soft_impute). ")
                + _claims_text(claims, ("held-out",)) + f"\n{jobs_note(sel)}.")
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
    reference = ok(select(df, REFERENCE_TAG))
    plots_dir = Path(plots_dir)
    h = hist[hist["job"].isin(good["job"])] if hist is not None and not hist.empty else hist
    rate = _rate(good, rate)
    claims = zoo_claims(good, h, reference)
    written = []
    written += _objective_figures(good, h, plots_dir, rate, claims, reference)
    written += _heldout(sel, plots_dir, claims)
    written += _time_figure(good[~good["solver"].isin(BASELINES)], h, plots_dir)
    summary = zoo_summary(good, h, reference)
    ttt = time_to_target_table(good, h)
    if not ttt.empty:
        wide = ttt.pivot_table(index=["solver", "rank"], columns="within", values="median time (s)", aggfunc="first")
        wide.columns = [f"time to {c} of best (s, median)" for c in wide.columns]
        reach = ttt.pivot_table(index=["solver", "rank"], columns="within", values="reached", aggfunc="first")
        reach.columns = [f"reached {c}" for c in reach.columns]
        summary = summary.merge(wide.join(reach).reset_index(), on=["solver", "rank"], how="left")
    repeats = sorted(pd.to_numeric(good.get("timing.repeats", pd.Series(dtype=float)), errors="coerce").dropna()
                     .astype(int).unique())
    note = ("Per solver and rank, over every missing rate and seed: objective, the final value of the loss the "
            "solver minimises (median); suboptimality, (f - f*) / f* against the best-known optimum f* of each "
            "problem on that loss (median and 90th percentile); held-out relative error (median and quartiles); "
            "converged, runs that met their stopping rule (a run stopped by max_iter or max_time did not); stop "
            "reasons as recorded; iterations (median); update time, median over jobs of each job's median of "
            f"{'/'.join(map(str, repeats)) or 'its'} timed call(s). Time to x of best: median update time over "
            f"problems until the common measure {MEASURE_LABEL} is within x of the lowest final value any solver "
            "reached on that problem (inf: not reached by half or more; KL solvers: upper bounds from their end point).")
    written += write_table(summary, plots_dir, "zoo_table", note=note)
    ref_table = reference_table(good, h, reference)
    if not ref_table.empty:
        written += write_table(ref_table, plots_dir, "zoo_reference_table", note=(
            "Reference runs (preset solver_reference: the zoo's problems solved by HALS (Frobenius) and WNMF-KL "
            "(KL), each the best of 3 starts run to a stationarity of 1e-7 or the iteration cap). Per rank and "
            "loss: problems with an f*, on how many a reference run is lower than the zoo's best by more than 1e-6, "
            "how much lower f* is than the best "
            "value the zoo's own runs and iterates reached ((f*_zoo - f*) / f*, median and largest), and how many "
            "reference runs met their tolerance. Every suboptimality of the zoo's figures and tables is against "
            "this f*."))
    return written


def reference_table(good: pd.DataFrame, hist: pd.DataFrame | None, reference: pd.DataFrame) -> pd.DataFrame:
    """What the reference runs add to f*, per rank and loss.

    Parameters
    ----------
    good : pandas.DataFrame
        The zoo's records with status ok.
    hist : pandas.DataFrame or None
        Their histories (every iterate counts towards f*).
    reference : pandas.DataFrame
        Records of the reference runs (preset ``solver_reference``).

    Returns
    -------
    pandas.DataFrame
        ``rank, loss, problems`` (with an f* of that loss), ``lower by > 1e-6`` (problems where a reference
        run is lower than the zoo's best by more than that, relative), ``f* lower by (median)``, ``f* lower by (max)`` (``(f*_zoo - f*) / f*``,
        f*_zoo the best value of the zoo's own runs and iterates), ``reference runs``, ``reference runs
        converged`` (met their tolerance). Empty without reference records.
    """
    ref = ok(reference)
    if ref.empty or good.empty:
        return pd.DataFrame()
    m = reference_gain(good, ref, hist, exclude=INFEASIBLE)
    conv = converged(ref)
    ref_loss = own_loss(ref)
    rows = []
    for (rank, loss), g in m.groupby(["rank", "loss"]):
        mine = (pd.to_numeric(ref["rank"], errors="coerce") == rank).to_numpy() & (ref_loss == loss).to_numpy()
        rows.append({"rank": int(rank), "loss": loss, "problems": len(g),
                     "lower by > 1e-6": int((g["gain"] > REFERENCE_TIE).sum()),
                     "f* lower by (median)": float(np.median(g["gain"])), "f* lower by (max)": float(g["gain"].max()),
                     "reference runs": int(mine.sum()),
                     "reference runs converged": f"{int(conv[mine].sum())}/{int(mine.sum())}"})
    return pd.DataFrame(rows)


def zoo_summary(good: pd.DataFrame, hist: pd.DataFrame | None, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per solver and rank: objective, suboptimality, held-out error, convergence, stop reasons, iterations, time.

    Parameters
    ----------
    good : pandas.DataFrame
        Records with status ok (:func:`nmfexp.results.load`).
    hist : pandas.DataFrame or None
        Their histories (they count towards f*).
    reference : pandas.DataFrame, optional
        Reference runs of the same problems (they count towards f*).

    Returns
    -------
    pandas.DataFrame
        One row per solver and rank (see the note of ``zoo_table``).
    """
    _, ends = suboptimality_runs(good, hist, reference)
    e = ends.set_index("job")
    conv = converged(good)
    rows = []
    for (solver, rank), g in good.groupby(["solver", "rank"]):
        jobs = g["job"]
        sub = e.reindex(jobs)
        held = pd.to_numeric(g.get("heldout_relative_error", pd.Series(np.nan, index=g.index)),
                             errors="coerce").astype(float)
        q = np.nanpercentile(held, [25, 50, 75]) if held.notna().any() else (np.nan,) * 3
        subv = sub["suboptimality"].astype(float)
        finite = subv[np.isfinite(subv)]
        reasons = (g["stop_reason"].dropna().astype(str).value_counts().sort_index() if "stop_reason" in g
                   else pd.Series(dtype=int))
        rows.append({
            "solver": solver, "rank": int(rank), "loss": sub["loss"].dropna().iloc[0] if sub["loss"].notna().any()
            else "", "objective (median)": _median(sub["value"]),
            "suboptimality (median)": float(np.median(finite)) if len(finite) else np.nan,
            "suboptimality (q90)": float(np.percentile(finite, 90)) if len(finite) else np.nan,
            "held-out error (median)": q[1], "held-out q25": q[0], "held-out q75": q[2],
            "converged": f"{int(conv[g.index].sum())}/{len(g)}",
            "stop reasons": ", ".join(f"{k}: {v}" for k, v in reasons.items()) or "not recorded",
            "iterations (median)": _median(g.get("n_iter", np.nan)),
            "update time (s, median)": _median(g.get("runtime_median", np.nan)), "jobs": len(g)})
    return pd.DataFrame(rows)


def make(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *, statistic: str = "median") -> list[Path]:
    """Every file of this artifact (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    return plot_solver_comparison(df, hist, plots_dir)

