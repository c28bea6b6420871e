"""When is A1GM good enough? A1GM against WNMF-KL across missing patterns and rates.

Artifacts (preset ``a1gm_missing_patterns``): ``a1gm_good_enough`` (figure)
and ``a1gm_good_enough_table``.

The KL axis is logarithmic in A1GM's *excess* over WNMF, from 0.01% to a few
hundred percent, so that "1% worse" and "300% worse" are both readable. Cases
where A1GM is at least as good as WNMF to within 0.01% sit on a floor band
labelled "exact": on grid-like masks (A1GM's step 1 adds nothing) A1GM is
the exact optimum, and WNMF's remaining gap of 1e-9 to 1e-5 only says where
WNMF stopped. Cases where A1GM cannot run (no complete row or column;
recorded as skipped) sit on a band at the top.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .stats import RUNTIME_STATISTICS, check_statistic, first_sentence, jobs_note, ok, paired, quartiles, select
from .style import PATTERN_STYLE, footer, save_figure, styled, subplots, write_table

__all__ = ["TAG", "FLOOR", "patterns_summary", "plot_missing_patterns", "make"]

TAG = "a1gm_missing_patterns"
#: Relative KL excesses at or below this are drawn on the "exact" floor.
FLOOR = 1e-4
EXCESS = "KL excess of A1GM over WNMF (median)"


def patterns_summary(df: pd.DataFrame, statistic: str = "median") -> pd.DataFrame:
    """A1GM against WNMF-KL for each pattern, rate and size, paired by seed.

    Columns: ``pattern, missing rate, n``, ``A1GM runs`` (``"k/K"``: seeds with
    an A1GM result of those planned), the median and largest relative KL excess
    ``(KL_A1GM - KL_WNMF) / KL_WNMF`` over seeds, entries step 1 adds per
    missing entry, the speed ratio WNMF/A1GM (median of per-seed ratios; ratio
    of means with ``statistic="mean"``) and why A1GM was skipped.
    """
    check_statistic(statistic)
    sel = select(df, TAG)
    if sel.empty:
        return pd.DataFrame()
    planned = int(sel["seed"].nunique())
    rows = []
    for (pattern, rate, n), g in sel.groupby(["mask", "mask_rate", "n_rows"]):
        a = g[g["solver"] == "a1gm"]
        a_ok = ok(a)
        good = ok(g[g["solver"].isin(["a1gm", "wnmf_kl"])])
        kl = paired(good, ["seed"], "weighted_kl") if not good.empty else pd.DataFrame()
        if {"a1gm", "wnmf_kl"} <= set(kl.columns):
            excess = ((kl["a1gm"] - kl["wnmf_kl"]) / kl["wnmf_kl"]).dropna()
        else:
            excess = pd.Series(dtype=float)
        if statistic == "mean":
            w = ok(g[g["solver"] == "wnmf_kl"])
            speed = w["runtime_mean"].mean() / a_ok["runtime_mean"].mean() if len(a_ok) and len(w) else np.nan
        else:
            rt = paired(good, ["seed"], RUNTIME_STATISTICS[statistic]) if not good.empty else pd.DataFrame()
            speed = quartiles(rt["wnmf_kl"] / rt["a1gm"])[0] if {"a1gm", "wnmf_kl"} <= set(rt.columns) else np.nan
        added = (a_ok["n_missing_added"] / a_ok["n_missing"]).replace([np.inf], np.nan)
        reasons = sorted({first_sentence(m) for m in a.loc[a["status"] != "ok", "message"]} - {""})
        rows.append({
            "pattern": pattern, "missing rate": float(rate), "n": int(n),
            "A1GM runs": f"{int(a_ok['seed'].nunique())}/{planned}",
            EXCESS: float(excess.median()) if len(excess) else np.nan,
            "KL excess (max)": float(excess.max()) if len(excess) else np.nan,
            "seeds compared": int(len(excess)),
            "entries added / missing (median)": float(added.median()) if len(added) else np.nan,
            "speed ratio (WNMF/A1GM)": speed,
            "skipped because": "; ".join(reasons),
        })
    return pd.DataFrame(rows)


def _ceiling(values: np.ndarray) -> float:
    top = np.nanmax(values, initial=1.0)
    return 10.0 ** max(1, int(np.ceil(np.log10(max(top, 1.0) * 1.5))))


@styled
def plot_missing_patterns(df: pd.DataFrame, plots_dir: Path, statistic: str = "median") -> list[Path]:
    """The missing-pattern figure: one column per matrix size; top, A1GM's KL excess over
    WNMF on a log scale with an "exact" floor and a "cannot run" band; bottom, the
    entries A1GM's step 1 adds per missing entry. Also writes the table."""
    table = patterns_summary(df, statistic)
    if table.empty:
        return []
    sel = select(df, TAG)
    planned = int(sel["seed"].nunique())
    sizes = sorted(table["n"].unique())
    patterns = [p for p in PATTERN_STYLE if p in set(table["pattern"])] + sorted(
        set(table["pattern"]) - set(PATTERN_STYLE))
    top = _ceiling(table[EXCESS].to_numpy(float))
    cannot = top * 6  # the "cannot run" band sits above the data range
    fig, axes = subplots(2, len(sizes), figsize=(3.6 * len(sizes) + 2.6, 5.4), squeeze=False, sharex=True,
                         layout="constrained", gridspec_kw={"height_ratios": [1.6, 1]})
    # Patterns side by side at each rate (a slight horizontal offset on the log axis), so that
    # points at the same place (grid and corner on the floor) stay visible.
    dodge = {p: 1.0 + 0.07 * (k - (len(patterns) - 1) / 2) for k, p in enumerate(patterns)}
    for j, n in enumerate(sizes):
        ax, ax2 = axes[0][j], axes[1][j]
        ax.axhspan(FLOOR / 3, FLOOR * 1.6, color="0.93", zorder=0)
        ax.axhspan(top * 3, cannot * 3, color="0.93", zorder=0)
        for pattern in patterns:
            pst = PATTERN_STYLE.get(pattern, dict(color="0.3", marker="o", label=pattern))
            t = table[(table["pattern"] == pattern) & (table["n"] == n)].sort_values("missing rate")
            if t.empty:
                continue
            x = t["missing rate"].to_numpy(float) * dodge[pattern]
            y = t[EXCESS].to_numpy(float)
            ran = ~np.isnan(y)
            shown = np.where(y <= FLOOR, FLOOR, y)
            runs = t["A1GM runs"].str.split("/").str[0].astype(int).to_numpy()
            exact = ran & (y <= FLOOR) & (t["entries added / missing (median)"].to_numpy(float) == 0)
            ax.plot(x[ran], shown[ran], color=pst["color"], linewidth=1, alpha=0.6, zorder=2)
            full = ran & (runs >= planned)
            ax.scatter(x[full], shown[full], marker=pst["marker"], color=pst["color"], s=28, zorder=3)
            part = ran & (runs < planned)
            ax.scatter(x[part], shown[part], marker=pst["marker"], facecolors="none", edgecolors=pst["color"],
                       s=28, zorder=3)
            for xi, yi, k in zip(x[part], shown[part], runs[part], strict=True):
                ax.annotate(f"{k}/{planned}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=6,
                            color=pst["color"])
            near = ran & (y <= FLOOR) & ~exact  # within 0.01% but not provably exact: drawn hollow on the floor
            ax.scatter(x[near], shown[near], marker=pst["marker"], facecolors="white", edgecolors=pst["color"],
                       s=28, zorder=4)
            skipped = ~ran
            ax.scatter(x[skipped], np.full(skipped.sum(), cannot), marker="x", color=pst["color"], s=30, zorder=3)
            added = t["entries added / missing (median)"].to_numpy(float)
            ax2.plot(x[ran], added[ran], color=pst["color"], marker=pst["marker"], markersize=4, linewidth=1)
        ax.set_yscale("log")
        ax.set_ylim(FLOOR / 3, cannot * 3)
        ticks = [FLOOR] + [10.0 ** k for k in range(-3, int(np.log10(top)) + 1)] + [cannot]
        labels = ["exact\n(<= 0.01%)"] + [f"{100 * v:g}%" for v in ticks[1:-1]] + ["cannot\nrun"]
        ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FixedFormatter(labels))
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.axhline(0.01, color="0.4", linewidth=0.8, linestyle="--", zorder=1)
        ax.set_title(f"n = {n} ({n} x {n})")
        top_added = float(np.nanmax(table["entries added / missing (median)"].to_numpy(float), initial=0.0))
        ax2.set_ylim(0, max(1.0, top_added * 1.1))  # the same scale in every column
        ax2.set(xscale="log", xlabel="missing rate")
        ax2.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
        ax2.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0][0].set_ylabel("A1GM's weighted KL above WNMF's\n(KL_A1GM - KL_WNMF) / KL_WNMF")
    axes[1][0].set_ylabel("entries A1GM's step 1 adds\nper missing entry")
    handles = [Line2D([], [], color=PATTERN_STYLE[p]["color"], marker=PATTERN_STYLE[p]["marker"],
                                       linewidth=1, label=PATTERN_STYLE[p]["label"]) for p in patterns
               if p in PATTERN_STYLE]
    handles += [
        Line2D([], [], color="0.3", marker="x", linestyle="none", label="A1GM cannot run"),
        Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="none",
                                label=f"A1GM ran for fewer seeds than planned (k/{planned})"),
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    skipped = sel[(sel["solver"] == "a1gm") & (sel["status"] == "skipped")]
    why = "; ".join(f"{m} ({c} job{'s' if c > 1 else ''})" for m, c in skipped["message"].map(first_sentence).value_counts().items())
    why = why or "none"
    fig.suptitle("When is A1GM good enough? Its weighted KL against WNMF-KL's\non the same matrix (median over seeds)",
                 fontsize=9)
    footer(fig, f"{jobs_note(sel)}. Floor: A1GM within 0.01% of WNMF or better; filled = A1GM's mask was "
                f"grid-like (exact optimum).\nCannot run: {why}.")
    written = save_figure(fig, plots_dir, "a1gm_good_enough")
    note = ("KL excess: (KL_A1GM - KL_WNMF) / KL_WNMF per seed on the same matrix, median and maximum over seeds; "
            "A1GM runs: seeds with an A1GM result / seeds planned; speed ratio: "
            + ("ratio of mean runtimes." if statistic == "mean" else
               f"WNMF/A1GM per seed ({'median' if statistic == 'median' else 'fastest'} timing sample of each "
               "job), median over seeds."))
    written += write_table(table, plots_dir, "a1gm_good_enough_table", note=note)
    return written


def make(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *, statistic: str = "median") -> list[Path]:
    """Every file of this artifact (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    return plot_missing_patterns(df, plots_dir, statistic=statistic)
