"""Paper Fig. 5(a)(b): A1GM against WNMF-KL on uniform matrices with 5% grid-like gaps.

Artifacts (preset ``fig5_synthetic``): ``fig5_runtime`` (running time and
speed ratio vs n), ``fig5_error`` (weighted KL vs n, and A1GM's KL relative
to WNMF's on the same matrix), ``fig5_table``.

The x axis. By default it is n, the side of the n x n matrix, and says so.
The reference ``plot.jl`` plots ``Ns = 3 .* ns`` and labels it "Matrix size
N" without saying why; ``x_axis="3n"`` (``nmfexp-plot --x-axis 3n``) draws
that axis for a side-by-side comparison with the paper's figure. The panel
titles (a) and (b) follow the reference README's "Fig. 5(a)(b)" for the
runtime and the error plot; which one the paper itself labels (a) could not
be checked and is a guess.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .stats import (
    RUNTIME_STATISTICS,
    STATISTIC_NOTES,
    check_statistic,
    jobs_note,
    ok,
    paired,
    pooled_mean_sd,
    quartiles,
    seed_counts,
    select,
)
from .style import footer, save_figure, solver_style, styled, subplots, write_table

__all__ = ["TAG", "X_AXES", "fig5_summary", "plot_fig5", "make"]

TAG = "fig5_synthetic"
SOLVERS = ("a1gm", "wnmf_kl")
KL_COLUMN = "max (KL_A1GM - KL_WNMF) / KL_WNMF"
#: x-axis choices: the factor applied to n and the axis label.
X_AXES = {"n": (1, "matrix size n (n x n matrix)"),
          "3n": (3, "matrix size N = 3n (the reference plot.jl's axis; n x n matrix)")}


def _records(df: pd.DataFrame) -> pd.DataFrame:
    sel = select(df, TAG)
    return sel[sel["solver"].isin(SOLVERS)] if not sel.empty else sel


def _per_size(sel: pd.DataFrame, statistic: str) -> pd.DataFrame:
    """One row per (n, solver): runtime centre and band, KL, iterations, seeds."""
    good = ok(sel)
    rows = []
    for (n, solver), g in good.groupby(["n_rows", "solver"]):
        if statistic == "mean":
            centre, sd = pooled_mean_sd(g)
            lo, hi = centre - sd, centre + sd
        else:
            centre, lo, hi = quartiles(g[RUNTIME_STATISTICS[statistic]])
        rows.append({"n": int(n), "solver": solver, "runtime": centre, "low": lo, "high": hi,
                     "weighted_kl": quartiles(g["weighted_kl"])[0], "n_iter": float(np.nanmedian(g["n_iter"])),
                     "seeds": int(g["seed"].nunique())})
    return pd.DataFrame(rows, columns=["n", "solver", "runtime", "low", "high", "weighted_kl", "n_iter", "seeds"])


def _ratios(sel: pd.DataFrame, statistic: str) -> pd.DataFrame:
    """Per n and seed: speed ratio WNMF/A1GM and A1GM's KL relative to WNMF's (same matrix)."""
    good = ok(sel)
    if good.empty:
        return pd.DataFrame(columns=["n_rows", "seed", "ratio", "rel_kl"])
    rt = paired(good, ["n_rows", "seed"], RUNTIME_STATISTICS[statistic])
    kl = paired(good, ["n_rows", "seed"], "weighted_kl")
    out = pd.DataFrame(index=rt.index)
    out["ratio"] = rt.get("wnmf_kl", np.nan) / rt.get("a1gm", np.nan)
    out["rel_kl"] = (kl.get("a1gm", np.nan) - kl.get("wnmf_kl", np.nan)) / kl.get("wnmf_kl", np.nan)
    return out.dropna(how="all").reset_index()  # matrices without both solvers ok are left out


def fig5_summary(df: pd.DataFrame, statistic: str = "median") -> pd.DataFrame:
    """Per matrix size: runtimes, speed ratio and KL of A1GM against WNMF-KL (one row per n).

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`nmfexp.results.load` table (any records; those of the preset are used).
    statistic : {"median", "min", "mean"}
        Per-job runtime and how seeds are combined (see :mod:`nmfexp.figures.stats`).
        With ``"median"``/``"min"`` the speed ratio is the median over seeds of
        per-seed ratios on the same matrix, with its quartiles; with ``"mean"``
        it is the ratio of pooled means (the reference code's statistic).
    """
    check_statistic(statistic)
    sel = _records(df)
    per = _per_size(sel, statistic)
    if per.empty or set(per["solver"]) != set(SOLVERS):
        return pd.DataFrame()
    wide = per.pivot(index="n", columns="solver")
    pairs = _ratios(sel, statistic)
    rows = []
    for n in wide.index:
        p = pairs[pairs["n_rows"] == n]
        if statistic == "mean":
            ratio = wide.loc[n, ("runtime", "wnmf_kl")] / wide.loc[n, ("runtime", "a1gm")]
            q25 = q75 = np.nan
        else:
            ratio, q25, q75 = quartiles(p["ratio"])
        rel = p["rel_kl"].dropna()
        rows.append({
            "n": int(n),
            "A1GM runtime (s)": wide.loc[n, ("runtime", "a1gm")],
            "WNMF runtime (s)": wide.loc[n, ("runtime", "wnmf_kl")],
            "speed ratio (WNMF/A1GM)": ratio,
            "ratio q25": q25,
            "ratio q75": q75,
            "WNMF iterations": wide.loc[n, ("n_iter", "wnmf_kl")],
            "A1GM KL": wide.loc[n, ("weighted_kl", "a1gm")],
            "WNMF KL": wide.loc[n, ("weighted_kl", "wnmf_kl")],
            KL_COLUMN: rel.max() if len(rel) else np.nan,
            "seeds": int(p[["ratio"]].notna().sum().iloc[0]),
        })
    return pd.DataFrame(rows)


def _note(statistic: str) -> str:
    return (f"{STATISTIC_NOTES[statistic]}. KL: median over seeds; the relative KL difference is per seed "
            "(both solvers on the same matrix); seeds: matrices with both solvers ok.")


def _incomplete(ax, x, y, seeds, planned, color) -> None:
    """Hollow markers and a 'k/K' label where fewer seeds than planned back a point."""
    for xi, yi, k in zip(x, y, seeds, strict=True):
        if k < planned and np.isfinite(yi):
            ax.plot([xi], [yi], marker="o", markersize=9, markerfacecolor="none", markeredgecolor=color,
                    linestyle="none", zorder=6)
            ax.annotate(f"{k}/{planned} seeds", (xi, yi), textcoords="offset points", xytext=(4, 6), fontsize=6,
                        color=color)


@styled
def plot_fig5(df: pd.DataFrame, plots_dir: Path, statistic: str = "median", x_axis: str = "n") -> list[Path]:
    """Paper Fig. 5(a)(b): running time and weighted KL vs matrix size, log-log.

    Writes ``fig5_runtime`` (running time per solver with its band, and the
    per-seed speed ratio), ``fig5_error`` (weighted KL per solver, and A1GM's
    KL relative to WNMF's per seed) and ``fig5_table``. Returns the paths written.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`nmfexp.results.load` table (the preset's records are used).
    plots_dir : path-like
        Where the files go.
    statistic : {"median", "min", "mean"}
        Runtime statistic (see :mod:`nmfexp.figures.stats`).
    x_axis : {"n", "3n"}
        ``"n"``: the side n of the n x n matrix (default). ``"3n"``: the
        reference ``plot.jl``'s axis ("Matrix size N" = 3n). The table keeps n.
    """
    check_statistic(statistic)
    if x_axis not in X_AXES:
        raise ValueError(f"x_axis must be one of {', '.join(X_AXES)}, got {x_axis!r}.")
    scale, xlabel = X_AXES[x_axis]
    sel = _records(df)
    good = ok(sel)
    if good.empty:
        return []
    plots_dir = Path(plots_dir)
    per = _per_size(sel, statistic)
    pairs = _ratios(sel, statistic)
    per["n"] = per["n"] * scale  # plotted positions only; the table below is built from the records again
    pairs["n_rows"] = pairs["n_rows"] * scale
    planned = int(sel["seed"].nunique())
    seeds = seed_counts(sel, ["n_rows", "solver"])
    where = f"{TAG if (sel['tag'] == TAG).all() else TAG + '_quick'}"
    foot = f"{jobs_note(sel)} (preset {where}); hollow circles: fewer seeds than planned ({planned})."
    written = []

    fig, (ax, axr) = subplots(1, 2, figsize=(7.6, 3.1), layout="constrained")
    for solver in [s for s in SOLVERS if s in set(per["solver"])]:
        s = per[per["solver"] == solver].sort_values("n")
        st = solver_style(solver)
        if statistic == "mean":
            low = np.clip(s["runtime"] - s["low"], 0, None)
            ax.errorbar(s["n"], s["runtime"], yerr=[np.minimum(low, s["runtime"] * 0.999), s["high"] - s["runtime"]],
                        capsize=2, markersize=4, **st)
        else:
            ax.plot(s["n"], s["runtime"], markersize=4, **st)
            ax.fill_between(s["n"], s["low"], s["high"], color=st["color"], alpha=0.2, linewidth=0)
        k = seeds[seeds["solver"] == solver].set_index("n_rows").reindex(s["n"] // scale)["seeds"].fillna(0).astype(int)
        _incomplete(ax, s["n"].to_numpy(), s["runtime"].to_numpy(), k.to_numpy(), planned, st["color"])
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="running time (s)",
           title="(a) running time, 5% grid-like missing")
    ax.legend(loc="upper left" if statistic != "mean" else "best")
    if statistic == "mean":
        sm = per.pivot(index="n", columns="solver", values="runtime")
        ratio = (sm.get("wnmf_kl") / sm.get("a1gm")).dropna()
        axr.plot(ratio.index, ratio.to_numpy(), color="black", marker="o", markersize=4, label="ratio of means")
    else:
        axr.scatter(pairs["n_rows"], pairs["ratio"], s=8, color="0.55", zorder=3, label="one seed (same matrix)")
        summ = pairs.groupby("n_rows")["ratio"].apply(lambda v: pd.Series(quartiles(v), index=["m", "lo", "hi"]))
        summ = summ.unstack().sort_index()
        axr.plot(summ.index, summ["m"], color="black", marker="o", markersize=4, label="median over seeds")
        axr.fill_between(summ.index, summ["lo"], summ["hi"], color="black", alpha=0.12, linewidth=0,
                         label="interquartile range")
    axr.axhline(1.0, color="grey", linewidth=0.8)
    axr.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="WNMF time / A1GM time",
            title="speed ratio WNMF / A1GM on the same matrix")
    axr.legend(loc="best")
    stat = {"median": "each job's median timing sample; median over seeds, band = IQR",
            "min": "each job's fastest timing sample; median over seeds, band = IQR",
            "mean": "mean +/- SD of all timing samples pooled over seeds (reference code)"}[statistic]
    if statistic == "mean":
        cut = int((per["low"] <= 0).sum())
        stat += f"; {cut} of {len(per)} lower bars cut at the axis (SD larger than the mean)" if cut else ""
    footer(fig, f"Runtime statistic: {stat}.\n{foot}")
    written += save_figure(fig, plots_dir, "fig5_runtime")

    fig, (ax, axd) = subplots(2, 1, figsize=(4.4, 4.6), sharex=True, layout="constrained",
                              gridspec_kw={"height_ratios": [1.4, 1]})
    for solver in [s for s in SOLVERS if s in set(per["solver"])]:
        s = per[per["solver"] == solver].sort_values("n")
        st = solver_style(solver)
        if solver == "wnmf_kl":  # large hollow circles around A1GM's small filled triangles: both visible
            st.update(markersize=8, markerfacecolor="none", zorder=2)
        else:
            st.update(markersize=4, zorder=3)
        ax.plot(s["n"], s["weighted_kl"], **st)
    ax.set(xscale="log", yscale="log", ylabel="weighted KL divergence", title="(b) reconstruction error")
    ax.legend(loc="upper left")
    axd.axhline(0.0, color="black", linewidth=0.8)
    axd.scatter(pairs["n_rows"], pairs["rel_kl"], s=10, color="tab:red", zorder=3, label="one seed (same matrix)")
    med = pairs.groupby("n_rows")["rel_kl"].median()
    axd.plot(med.index, med.to_numpy(), color="tab:red", linestyle=":", linewidth=1, label="median over seeds")
    axd.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3), useMathText=True)
    axd.set(xscale="log", xlabel=xlabel, ylabel="relative difference",
            title="(KL_A1GM - KL_WNMF) / KL_WNMF, same matrix (< 0: A1GM better)")
    axd.legend(loc="best", fontsize=7)
    footer(fig, f"KL: median over seeds. {jobs_note(sel)} (preset {where}).")
    written += save_figure(fig, plots_dir, "fig5_error")

    table = fig5_summary(df, statistic)
    if not table.empty:
        written += write_table(table, plots_dir, "fig5_table", note=_note(statistic))
    return written


def make(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *, statistic: str = "median",
         x_axis: str = "n") -> list[Path]:
    """Every file of this artifact (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    return plot_fig5(df, plots_dir, statistic=statistic, x_axis=x_axis)
