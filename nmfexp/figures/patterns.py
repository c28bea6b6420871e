"""When is A1GM good enough? Its certified gap to the KL optimum across missing patterns and rates.

Artifacts (preset ``a1gm_missing_patterns``): ``a1gm_good_enough`` (figure)
and ``a1gm_good_enough_table``.

The y-axis is A1GM's certificate (records' ``a1gm_gap``): the relative gap
``(f_A1GM - f*) / f*`` of its weighted KL to the best rank-1 KL under the
same mask, found by a tight WNMF-KL polish from A1GM's solution
(:func:`nmfexp.certify_a1gm`), on a log axis. A point is the median over
the seeds where A1GM ran; it is filled when every one of those gaps is
certified (A1GM exact, or the polish reached its stationarity tolerance) and
hollow otherwise (then the gap is a lower bound; the footer names those
points). Grid-like patterns (the paper's bottom-right block, or any case
where A1GM's step 1 adds no entry) have a gap of exactly 0 and are drawn on a
floor band labelled "exact". Cases where A1GM cannot run (every row or every
column has a gap; recorded as skipped) sit on a band at the top. The lower
panel shows the entries A1GM's step 1 adds per missing entry.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .stats import check_statistic, first_sentence, jobs_note, ok, select
from .style import PATTERN_STYLE, footer, save_figure, styled, subplots, write_table

__all__ = ["TAG", "FLOOR", "GRID_LIKE", "STYLES", "patterns_summary", "grid_like", "uncertified_points",
           "plot_missing_patterns", "make"]

TAG = "a1gm_missing_patterns"
#: Gaps at or below this (and the exact zeros of grid-like patterns) are drawn on the "exact" floor.
FLOOR = 1e-7
#: Patterns that are grid-like by construction (A1GM's step 1 adds nothing; A1GM is exact).
GRID_LIKE = ("grid", "corner")
#: Colour, marker and legend label of each pattern (the paper's grid and block are labelled grid-like).
STYLES = {
    "random": dict(color="tab:blue", marker="o", label="uniformly random cells"),
    "rows": dict(color="tab:purple", marker="D", label="concentrated in a few rows and columns"),
    "mnar": dict(color="tab:orange", marker="v", label="largest values missing (MNAR)"),
    "corner": dict(PATTERN_STYLE["corner"], label="bottom-right block: grid-like (paper's pattern)"),
    "grid": dict(PATTERN_STYLE["grid"], label="random rows x columns: grid-like (paper)"),
}
GAP = "gap to KL optimum (median)"
ADDED = "entries added / missing (median)"


def _flag(values) -> pd.Series:
    """Record booleans (True/False, strings from CSV, NaN for missing) as a boolean Series."""
    s = pd.Series(values)
    return s.map(lambda v: v is True or (isinstance(v, (bool, np.bool_)) and bool(v))
                 or (isinstance(v, str) and v.strip().lower() == "true"))


def patterns_summary(df: pd.DataFrame, statistic: str = "median") -> pd.DataFrame:
    """A1GM's certificate for each pattern, missing rate and size.

    Columns: ``pattern, missing rate, n``; ``A1GM runs`` (``"k/K"``: seeds
    where A1GM ran of those planned); the median, 90th percentile and largest
    gap to the KL optimum over those seeds (``a1gm_gap``); ``certified``, the
    share of those gaps that are certified; the median number of entries
    A1GM's step 1 added, absolute and per missing entry; ``grid-like`` (the
    pattern is grid-like by construction or step 1 added nothing in every
    run); and why A1GM was skipped. ``statistic`` is accepted for the common
    interface of artifacts; the certificate is not a timing, so it does not
    change the numbers.
    """
    check_statistic(statistic)
    sel = select(df, TAG)
    if sel.empty:
        return pd.DataFrame()
    sel = sel[sel["solver"] == "a1gm"]
    if sel.empty:
        return pd.DataFrame()
    planned = int(sel["seed"].nunique())
    rows = []
    for (pattern, rate, n), g in sel.groupby(["mask", "mask_rate", "n_rows"]):
        a = ok(g)
        gap = pd.to_numeric(a["a1gm_gap"], errors="coerce") if "a1gm_gap" in a else pd.Series(np.nan, a.index)
        cert = _flag(a["a1gm_certified"]) if "a1gm_certified" in a else pd.Series(False, a.index)
        known = gap.notna().to_numpy()
        added = pd.to_numeric(a["n_missing_added"], errors="coerce")
        missing = pd.to_numeric(a["n_missing"], errors="coerce")
        per = (added / missing).replace([np.inf, -np.inf], np.nan)
        reasons = sorted({first_sentence(m) for m in g.loc[g["status"] != "ok", "message"]} - {""})
        g_known = gap[known].to_numpy(float)
        rows.append({
            "pattern": pattern, "missing rate": float(rate), "n": int(n),
            "A1GM runs": f"{int(a['seed'].nunique())}/{planned}",
            GAP: float(np.median(g_known)) if g_known.size else np.nan,
            "gap (90th percentile)": float(np.percentile(g_known, 90)) if g_known.size else np.nan,
            "gap (max)": float(g_known.max()) if g_known.size else np.nan,
            "certified": float(cert[known].mean()) if known.any() else np.nan,
            "entries added (median)": float(added.median()) if len(added) else np.nan,
            ADDED: float(per.median()) if per.notna().any() else np.nan,
            "grid-like": bool(pattern in GRID_LIKE or (len(added) > 0 and bool((added == 0).all()))),
            "skipped because": "; ".join(reasons),
        })
    return pd.DataFrame(rows)


def grid_like(table: pd.DataFrame) -> pd.Series:
    """Rows of :func:`patterns_summary` drawn on the "exact" floor: grid-like, or a gap at or below :data:`FLOOR`."""
    return table["grid-like"].astype(bool) | (table[GAP] <= FLOOR)


def uncertified_points(table: pd.DataFrame) -> list[str]:
    """``"random 1% n=1000 (3/5 certified)"`` for every point not all of whose gaps are certified."""
    out = []
    for _, r in table[table["certified"] < 1].iterrows():
        k = r["A1GM runs"].split("/")[0]
        out.append(f"{r['pattern']} {100 * r['missing rate']:g}% n={r['n']} "
                   f"({round(r['certified'] * int(k))}/{k} certified)")
    return out


def _ceiling(values: np.ndarray) -> float:
    top = np.nanmax(values, initial=FLOOR * 10)
    return 10.0 ** int(np.ceil(np.log10(max(top, FLOOR * 10) * 1.5)))


def _percent(v: float) -> str:
    return f"{100 * v:.6g}%"


@styled
def plot_missing_patterns(df: pd.DataFrame, plots_dir: Path, statistic: str = "median") -> list[Path]:
    """The missing-pattern figure: one column per matrix size; top, A1GM's certified gap to the KL
    optimum against the missing rate, one line per pattern, with an "exact" floor (grid-like
    patterns) and a "cannot run" band; bottom, the entries A1GM's step 1 adds per missing entry.
    Also writes the table."""
    table = patterns_summary(df, statistic)
    if table.empty:
        return []
    sel = select(df, TAG)
    sel = sel[sel["solver"] == "a1gm"]
    planned = int(sel["seed"].nunique())
    sizes = sorted(table["n"].unique())
    present = set(table["pattern"])
    patterns = [p for p in STYLES if p in present] + sorted(present - set(STYLES))
    top = _ceiling(table[GAP].to_numpy(float))
    cannot = top * 10  # the "cannot run" band sits above the data range
    fig, axes = subplots(2, len(sizes), figsize=(3.8 * len(sizes) + 3.0, 5.8), squeeze=False, sharex=True,
                         layout="constrained", gridspec_kw={"height_ratios": [1.8, 1]})
    # Patterns side by side at each rate (a slight horizontal offset on the log axis), so that
    # points at the same place stay visible.
    dodge = {p: 1.0 + 0.06 * (k - (len(patterns) - 1) / 2) for k, p in enumerate(patterns)}
    on_floor = grid_like(table)
    top_added = float(np.nanmax(table[ADDED].to_numpy(float), initial=1.0))
    for j, n in enumerate(sizes):
        ax, ax2 = axes[0][j], axes[1][j]
        ax.axhspan(FLOOR / 4, FLOOR * 2, color="0.93", zorder=0)
        ax.axhspan(cannot / 3, cannot * 3, color="0.93", zorder=0)
        for pattern in patterns:
            pst = STYLES.get(pattern, dict(color="0.3", marker="o", label=pattern))
            here = (table["pattern"] == pattern) & (table["n"] == n)
            t = table[here].sort_values("missing rate")
            if t.empty:
                continue
            floor = on_floor[here].loc[t.index].to_numpy(bool)
            x = t["missing rate"].to_numpy(float) * dodge[pattern]
            y = t[GAP].to_numpy(float)
            ran = ~np.isnan(y)
            shown = np.where(floor, FLOOR, y)
            certified = t["certified"].to_numpy(float) >= 1
            ax.plot(x[ran], shown[ran], color=pst["color"], linewidth=1, alpha=0.6, zorder=2)
            filled = ran & certified
            ax.scatter(x[filled], shown[filled], marker=pst["marker"], color=pst["color"], s=30, zorder=3)
            hollow = ran & ~certified
            ax.scatter(x[hollow], shown[hollow], marker=pst["marker"], facecolors="white",
                       edgecolors=pst["color"], s=30, zorder=4)
            runs = t["A1GM runs"].str.split("/").str[0].astype(int).to_numpy()
            for xi, yi, k in zip(x[ran & (runs < planned)], shown[ran & (runs < planned)],
                                 runs[ran & (runs < planned)], strict=True):
                ax.annotate(f"{k}/{planned}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=6,
                            color=pst["color"])
            ax.scatter(x[~ran], np.full(int((~ran).sum()), cannot), marker="x", color=pst["color"], s=30,
                       zorder=3)
            added = t[ADDED].to_numpy(float)
            ax2.plot(x[ran], added[ran], color=pst["color"], marker=pst["marker"], markersize=4, linewidth=1)
        ax.set_yscale("log")
        ax.set_ylim(FLOOR / 4, cannot * 3)
        ticks = [FLOOR] + [10.0 ** k for k in range(int(np.log10(FLOOR)) + 1, int(np.log10(top)) + 1)] + [cannot]
        labels = ["exact\n(grid-like)"] + [_percent(v) for v in ticks[1:-1]] + ["cannot\nrun"]
        ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FixedFormatter(labels))
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_title(f"n = {n} ({n} x {n})")
        ax2.set_yscale("symlog", linthresh=1.0)
        ax2.set_ylim(0, max(2.0, top_added * 2))  # the same scale in every column
        ax2.set(xscale="log", xlabel="missing rate")
        ax2.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: _percent(v)))
        ax2.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0][0].set_ylabel("A1GM's gap to the rank-1 KL optimum\n(f_A1GM - f*) / f*  (certificate)")
    axes[1][0].set_ylabel("entries A1GM's step 1 adds\nper missing entry")
    handles = [Line2D([], [], linewidth=1, **STYLES.get(p, dict(color="0.3", marker="o", label=p)))
               for p in patterns]
    handles += [
        Line2D([], [], color="0.3", marker="o", linestyle="none", label="certified (tight) gap"),
        Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="none",
               label="not certified: a lower bound"),
        Line2D([], [], color="0.3", marker="x", linestyle="none", label="A1GM cannot run"),
        Line2D([], [], linestyle="none", label=f"k/{planned}: A1GM ran for k of {planned} seeds"),
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    skipped = sel[sel["status"] == "skipped"]
    why = "; ".join(f"{m} ({c} job{'s' if c > 1 else ''})"
                    for m, c in skipped["message"].map(first_sentence).value_counts().items()) or "none"
    weak = uncertified_points(table)
    fig.suptitle("When is A1GM good enough? Its certified gap to the rank-1 KL optimum\n"
                 "(median over seeds where A1GM ran)", fontsize=9)
    footer(fig, f"{jobs_note(sel)}. Floor: grid-like gaps (the paper's block; step 1 adds nothing), where A1GM "
                f"is exact (gap 0). Not certified: {', '.join(weak) if weak else 'none'}.\nCannot run: {why}.")
    written = save_figure(fig, plots_dir, "a1gm_good_enough")
    note = ("Gap: (f_A1GM - f*) / f* per seed (records' a1gm_gap; f* from a tight WNMF-KL polish from A1GM's "
            "solution, nmfexp.certify_a1gm), median, 90th percentile and maximum over the seeds where A1GM ran; "
            "certified: share of those gaps that are tight (otherwise a lower bound); A1GM runs: seeds with an "
            "A1GM result / seeds planned; entries added: entries A1GM's step 1 treats as missing beyond the "
            "missing ones (median over seeds).")
    written += write_table(table, plots_dir, "a1gm_good_enough_table", note=note)
    return written


def make(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *, statistic: str = "median") -> list[Path]:
    """Every file of this artifact (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    return plot_missing_patterns(df, plots_dir, statistic=statistic)
