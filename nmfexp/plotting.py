"""Figures and tables of the paper's artifacts, from HDF5 records alone.

Every function here reads the tables returned by :func:`nmfexp.results.load`
and :func:`nmfexp.results.load_history`; nothing reruns a solver. Records are
grouped by their ``tag`` (the experiment preset that produced them):

==========================  ======================================================
tag                         artifacts written into the plots directory
==========================  ======================================================
``fig5_synthetic``          ``fig5_runtime``, ``fig5_error`` (PNG + PDF),
                            ``fig5_table`` (CSV, Markdown, LaTeX)
``a1gm_missing_patterns``   ``a1gm_good_enough`` (PNG + PDF),
                            ``a1gm_good_enough_table`` (CSV, Markdown, LaTeX)
``real_data``               ``real_data_table`` (CSV, Markdown, LaTeX)
``solver_comparison``       ``zoo_objective_vs_time``, ``zoo_objective_vs_iteration``,
                            ``zoo_heldout_error``, ``zoo_time_to_tolerance``
                            (PNG + PDF), ``zoo_table`` (CSV, Markdown, LaTeX)
==========================  ======================================================

Quick runs of the reproduction use the same tags with a ``_quick`` suffix and
write the same file names.

    nmfexp-plot results/ --plots-dir plots/
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .record import ignore_sigxfsz
from .results import RecordsWarning, load_all

__all__ = [
    "plot_fig5",
    "plot_missing_patterns",
    "real_data_table",
    "plot_solver_comparison",
    "plot_all",
    "write_table",
    "main",
]

# The paper's visual language: A1GM dotted with triangles, WNMF dashed with circles.
STYLE = {
    "a1gm": dict(color="tab:red", linestyle=":", marker="^", label="A1GM"),
    "wnmf_kl": dict(color="tab:blue", linestyle="--", marker="o", label="WNMF (KL)"),
    "wnmf_fro": dict(color="tab:cyan", linestyle="--", marker="s", label="WNMF (Frobenius)"),
    "hals": dict(color="tab:green", linestyle="-", marker="D", label="HALS"),
    "als": dict(color="tab:purple", linestyle="-", marker="v", label="ALS"),
    "gdcls": dict(color="tab:orange", linestyle="-.", marker="P", label="GDCLS"),
    "kaczmarz": dict(color="tab:brown", linestyle="-.", marker="X", label="Kaczmarz"),
}
PATTERN_STYLE = {
    "grid": dict(color="tab:red", marker="^", label="grid-like (paper)"),
    "corner": dict(color="tab:green", marker="s", label="bottom-right block"),
    "random": dict(color="tab:blue", marker="o", label="uniformly random cells"),
}
#: Matplotlib settings of every figure here, applied inside the figure functions only
#: (importing this module changes neither the backend nor any global rcParams).
RC = {"figure.dpi": 110, "savefig.dpi": 200, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
      "legend.frameon": False}


def _styled(func):
    """Run a figure function under :data:`RC` (restored afterwards)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return func(*args, **kwargs)

    return wrapper


def _subplots(nrows: int = 1, ncols: int = 1, *, squeeze: bool = True, **fig_kw):
    """Like ``pyplot.subplots``, without pyplot: no backend, no global figure list."""
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def _style(solver: str) -> dict:
    return dict(STYLE.get(solver, dict(linestyle="-", marker=".", label=solver)))


def _save(fig, plots_dir: Path, stem: str) -> list[Path]:
    plots_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "pdf"):
        path = plots_dir / f"{stem}.{ext}"
        fig.savefig(path, bbox_inches="tight")
        out.append(path)
    return out


def write_table(table: pd.DataFrame, plots_dir: Path, stem: str, floatfmt: str = ".4g") -> list[Path]:
    """Write ``table`` as ``<stem>.csv``, ``<stem>.md`` and ``<stem>.tex``."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = [plots_dir / f"{stem}.{ext}" for ext in ("csv", "md", "tex")]
    table.to_csv(paths[0], index=False)
    paths[1].write_text(table.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    fmt = {c: (lambda v, f=floatfmt: format(v, f)) for c in table.columns if pd.api.types.is_float_dtype(table[c])}
    paths[2].write_text(table.to_latex(index=False, formatters=fmt, escape=True))
    return paths


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer and boolean columns as plain numpy ones (float with NaN, object with None)."""
    df = df.copy()
    for col in df.columns:
        dtype = df[col].dtype
        if isinstance(dtype, pd.BooleanDtype):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
            df[col] = df[col].to_numpy(dtype=float, na_value=np.nan) if df[col].hasnans else df[col].to_numpy(
                dtype=np.int64 if pd.api.types.is_integer_dtype(dtype) else float)
    return df


def _select(df: pd.DataFrame, tag: str) -> pd.DataFrame:
    """Records of one artifact: those tagged ``tag``, else those of its quick run
    (``tag_quick``); never a mix of both."""
    if df.empty or "tag" not in df:
        return df.iloc[0:0]
    full = df[df["tag"] == tag]
    return _plain(full if not full.empty else df[df["tag"] == f"{tag}_quick"])


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"]


# --------------------------------------------------------------------------- Fig. 5


def _pooled_runtime(group: pd.DataFrame) -> pd.Series:
    """Mean and standard deviation of every timing sample of every seed (pooled)."""
    n = group["runtime_samples"].to_numpy(float) if "runtime_samples" in group else np.ones(len(group))
    mean = np.average(group["runtime_mean"], weights=n)
    var = np.average(group["runtime_std"] ** 2 + (group["runtime_mean"] - mean) ** 2, weights=n)
    return pd.Series({"runtime": mean, "runtime_sd": np.sqrt(var), "weighted_kl": group["weighted_kl"].mean(),
                      "n_iter": group["n_iter"].mean(), "jobs": len(group)})


def fig5_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per matrix size: runtimes, speed ratio and KL of A1GM vs WNMF-KL (one row per n)."""
    ok = _ok(_select(df, "fig5_synthetic"))
    ok = ok[ok["solver"].isin(["a1gm", "wnmf_kl"])]
    if ok.empty:
        return pd.DataFrame()
    per = ok.groupby(["n_rows", "solver"]).apply(_pooled_runtime, include_groups=False).unstack("solver")
    # Paired by seed: A1GM's KL relative to WNMF's on the very same matrix.
    pair = ok.pivot_table(index=["n_rows", "seed"], columns="solver", values="weighted_kl")
    rel = ((pair["a1gm"] - pair["wnmf_kl"]) / pair["wnmf_kl"]).groupby("n_rows")
    out = pd.DataFrame({
        "n": per.index.astype(int),
        "A1GM runtime (s)": per[("runtime", "a1gm")].to_numpy(),
        "WNMF runtime (s)": per[("runtime", "wnmf_kl")].to_numpy(),
        "speed ratio (WNMF/A1GM)": (per[("runtime", "wnmf_kl")] / per[("runtime", "a1gm")]).to_numpy(),
        "WNMF iterations": per[("n_iter", "wnmf_kl")].to_numpy(),
        "A1GM KL": per[("weighted_kl", "a1gm")].to_numpy(),
        "WNMF KL": per[("weighted_kl", "wnmf_kl")].to_numpy(),
        "max (KL_A1GM - KL_WNMF) / KL_WNMF": rel.max().reindex(per.index).to_numpy(),
        "seeds": per[("jobs", "a1gm")].to_numpy().astype(int),
    })
    return out


@_styled
def plot_fig5(df: pd.DataFrame, plots_dir: Path) -> list[Path]:
    """Paper Fig. 5(a)(b): running time and weighted KL vs matrix size, log-log."""
    ok = _ok(_select(df, "fig5_synthetic"))
    if ok.empty:
        return []
    written = []
    summary = {s: g.groupby("n_rows").apply(_pooled_runtime, include_groups=False)
               for s, g in ok.groupby("solver")}
    fig, ax = _subplots(figsize=(3.6, 2.9))
    for solver, s in summary.items():
        ax.errorbar(s.index, s["runtime"], yerr=s["runtime_sd"], capsize=2, markersize=4, **_style(solver))
    ax.set(xscale="log", yscale="log", xlabel="matrix size n (n x n)", ylabel="running time (s)",
           title="Fig. 5(a): running time, 5% grid-like missing")
    ax.legend()
    written += _save(fig, plots_dir, "fig5_runtime")

    fig, ax = _subplots(figsize=(3.6, 2.9))
    for solver, s in summary.items():
        ax.plot(s.index, s["weighted_kl"], markersize=4, **_style(solver))
    ax.set(xscale="log", yscale="log", xlabel="matrix size n (n x n)", ylabel="weighted KL divergence",
           title="Fig. 5(b): reconstruction error")
    ax.legend()
    written += _save(fig, plots_dir, "fig5_error")
    table = fig5_summary(df)
    if not table.empty:
        written += write_table(table, plots_dir, "fig5_table")
    return written


# --------------------------------------------------------------- missing patterns


def patterns_summary(df: pd.DataFrame) -> pd.DataFrame:
    """A1GM against WNMF-KL for each pattern, rate and size (paired by seed)."""
    sel = _select(df, "a1gm_missing_patterns")
    if sel.empty:
        return pd.DataFrame()
    keys = ["mask", "mask_rate", "n_rows"]
    rows = []
    for key, g in sel.groupby(keys):
        a, w = g[g["solver"] == "a1gm"], g[(g["solver"] == "wnmf_kl") & (g["status"] == "ok")]
        a_ok = a[a["status"] == "ok"]
        paired = a_ok.merge(w, on="seed", suffixes=("_a", "_w"))
        excess = (paired["weighted_kl_a"] - paired["weighted_kl_w"]) / paired["weighted_kl_w"]
        ratio = (a_ok["n_missing_added"] / a_ok["n_missing"]).replace([np.inf], np.nan)
        rows.append({
            "pattern": key[0], "missing rate": key[1], "n": int(key[2]),
            "A1GM runs": f"{len(a_ok)}/{len(a)}",
            "KL excess of A1GM over WNMF (median)": excess.median() if len(excess) else np.nan,
            "KL excess (max)": excess.max() if len(excess) else np.nan,
            "entries added / missing (median)": ratio.median() if len(ratio) else np.nan,
            "speed ratio (WNMF/A1GM)": (w["runtime_mean"].mean() / a_ok["runtime_mean"].mean()) if len(a_ok) else np.nan,
            "skipped because": "; ".join(sorted(set(a.loc[a["status"] == "skipped", "message"].astype(str).str.split(";").str[0]))),
        })
    return pd.DataFrame(rows)


@_styled
def plot_missing_patterns(df: pd.DataFrame, plots_dir: Path) -> list[Path]:
    """When is A1GM good enough? KL excess over WNMF and entries added, vs missing rate."""
    table = patterns_summary(df)
    if table.empty:
        return []
    sizes = sorted(table["n"].unique())
    lines = ["-", "--", ":", "-."]
    fig, (ax1, ax2) = _subplots(1, 2, figsize=(8.4, 3.6), layout="constrained")
    excess = "KL excess of A1GM over WNMF (median)"
    for pattern, pstyle in PATTERN_STYLE.items():
        for k, n in enumerate(sizes):
            t = table[(table["pattern"] == pattern) & (table["n"] == n)].sort_values("missing rate")
            if t.empty:
                continue
            kw = dict(color=pstyle["color"], marker=pstyle["marker"], linestyle=lines[k % 4], markersize=4,
                      label=f"{pstyle['label']}, n={n}")
            ran = t[t[excess].notna()]
            ax1.plot(ran["missing rate"], ran[excess], **kw)
            ax2.plot(ran["missing rate"], ran["entries added / missing (median)"], **kw)
            skipped = t[t[excess].isna()]
            if not skipped.empty:  # drawn at the top edge: A1GM refused to run there
                ax1.scatter(skipped["missing rate"], np.full(len(skipped), 0.96), marker="x", s=36,
                            color=pstyle["color"], transform=ax1.get_xaxis_transform(), clip_on=False, zorder=5)
    ax1.set_yscale("symlog", linthresh=1e-6)
    ax1.axhline(0.0, color="black", linewidth=0.8)
    ax1.axhline(0.01, color="grey", linewidth=0.8, linestyle="--")
    ax1.text(0.02, 0.012, "1% worse than WNMF", transform=ax1.get_yaxis_transform(), fontsize=7, color="grey",
             va="bottom")
    ax1.text(0.02, 0.0, "0: A1GM is the optimum", transform=ax1.get_yaxis_transform(), fontsize=7, va="bottom")
    ax1.set(xscale="log", xlabel="missing rate", ylabel="(KL_A1GM - KL_WNMF) / KL_WNMF",
            title="A1GM's weighted KL relative to WNMF's")
    ax1.text(0.98, 0.88, "x: A1GM cannot run\n(no complete row/column)", transform=ax1.transAxes, fontsize=7,
             ha="right", va="top")
    ax1.set_ylim(top=max(1.0, float(np.nanmax(table[excess].to_numpy(float), initial=0.0)) * 3))
    ax2.set_yscale("symlog", linthresh=1.0)
    ax2.set(xscale="log", xlabel="missing rate", ylabel="entries added by step 1 / missing entries",
            title="What A1GM's step 1 adds to the missing set")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1, decimals=0))
    handles, labels = ax2.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), fontsize=7)
    written = _save(fig, plots_dir, "a1gm_good_enough")
    written += write_table(table, plots_dir, "a1gm_good_enough_table")
    return written


# ------------------------------------------------------------------------ real data


def real_data_table(df: pd.DataFrame, tag: str = "real_data") -> pd.DataFrame:
    """The paper's real-data table, one row per data set (WNMF averaged over seeds)."""
    sel = _select(df, tag)
    if sel.empty:
        return pd.DataFrame()
    rows = []
    for name, g in sel.groupby("dataset"):
        a = g[g["solver"] == "a1gm"]
        w = _ok(g[g["solver"] == "wnmf_kl"])
        a_ok = _ok(a)
        first = g.iloc[0]
        n_missing = int(first["n_missing"])
        added = a_ok["n_missing_added"].iloc[0] if len(a_ok) else np.nan
        after = n_missing + added if len(a_ok) else np.nan
        kl_w, kl_a = w["weighted_kl"].mean(), a_ok["weighted_kl"].mean() if len(a_ok) else np.nan
        rt_w, rt_a = w["runtime_mean"].mean(), a_ok["runtime_mean"].mean() if len(a_ok) else np.nan
        rows.append({
            "dataset": name,
            "shape": f"{int(first['n_rows'])} x {int(first['n_cols'])}",
            "size": int(first["n_rows"] * first["n_cols"]),
            "missing": n_missing,
            "missing after A1GM completion": after,
            "ratio": after / n_missing if n_missing else np.nan,
            "WNMF KL": kl_w,
            "A1GM KL": kl_a,
            "relative KL (A1GM/WNMF)": kl_a / kl_w,
            "WNMF runtime (s)": rt_w,
            "A1GM runtime (s)": rt_a,
            "relative runtime (A1GM/WNMF)": rt_a / rt_w,
            "note": "" if len(a_ok) else "A1GM skipped: " + _first_sentence(a["message"].iloc[0] if len(a) else "not run"),
        })
    return pd.DataFrame(rows)


def _first_sentence(text) -> str:
    text = str(text)
    return text.split("; ")[0].split(". ")[0].split(" (")[0]


# --------------------------------------------------------------- solver comparison


def _band(curves: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray) -> np.ndarray:
    """Step-interpolate each (x, y) curve on ``grid`` (holding its last value) and
    return the 20th, 50th and 80th percentiles, shape (3, len(grid))."""
    vals = []
    for x, y in curves:
        idx = np.searchsorted(x, grid, side="right") - 1
        vals.append(np.where(idx >= 0, y[np.clip(idx, 0, None)], np.nan))
    return np.nanpercentile(np.vstack(vals), [20, 50, 80], axis=0)


@_styled
def plot_solver_comparison(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, rate: float | None = None) -> list[Path]:
    """Objective vs time and iteration, held-out error vs missing rate, time to tolerance."""
    sel = _ok(_select(df, "solver_comparison"))
    if sel.empty:
        return []
    written = []
    ranks = sorted(sel["rank"].unique())
    rates = sorted(sel["mask_rate"].unique())
    rate = rate if rate is not None else min(rates, key=lambda r: abs(r - 0.2))
    solvers = [s for s in STYLE if s in set(sel["solver"])] + sorted(set(sel["solver"]) - set(STYLE))
    h = _plain(hist[hist["job"].isin(sel["job"])]) if not hist.empty else hist

    for xname, stem in (("time", "zoo_objective_vs_time"), ("iteration", "zoo_objective_vs_iteration")):
        fig, axes = _subplots(1, len(ranks), figsize=(3.3 * len(ranks), 3.1), squeeze=False, layout="constrained")
        for ax, rank in zip(axes[0], ranks, strict=True):
            for solver in solvers:
                runs = h[(h["solver"] == solver) & (h["rank"] == rank) & np.isclose(h["mask_rate"], rate)] if not h.empty else h
                curves = []
                for _, r in runs.groupby("job"):
                    r = r.sort_values("iteration")
                    y = r["objective"].to_numpy() / r["objective"].iloc[0]
                    x = r[xname].to_numpy(float)
                    curves.append((x, y))
                if not curves:
                    continue
                xmax = max(c[0][-1] for c in curves)
                if xname == "time":
                    lo = min(c[0][1] for c in curves if len(c[0]) > 1) if any(len(c[0]) > 1 for c in curves) else 1e-6
                    grid = np.geomspace(max(lo, 1e-7), max(xmax, 2 * lo, 1e-6), 200)
                else:
                    grid = np.arange(0, int(xmax) + 1)
                q20, q50, q80 = _band(curves, grid)
                st = _style(solver)
                ax.plot(grid, q50, color=st.get("color"), linestyle=st["linestyle"], label=st["label"])
                ax.fill_between(grid, q20, q80, color=st.get("color"), alpha=0.2, linewidth=0)
            ax.set(yscale="log", xlabel="update time (s)" if xname == "time" else "iteration",
                   title=f"rank {rank}, {rate:.0%} missing")
            if xname == "time":
                ax.set_xscale("log")
        axes[0][0].set_ylabel("objective / initial objective")
        axes[0][0].legend(fontsize=7)
        fig.suptitle("Each solver's own loss on observed entries (median over seeds, 20-80% band)", fontsize=9)
        written += _save(fig, plots_dir, stem)

    fig, axes = _subplots(1, len(ranks), figsize=(3.3 * len(ranks), 3.0), squeeze=False, layout="constrained")
    col = "heldout_relative_error"
    for ax, rank in zip(axes[0], ranks, strict=True):
        for solver in solvers:
            g = sel[(sel["solver"] == solver) & (sel["rank"] == rank)].groupby("mask_rate")[col]
            if g.ngroups == 0:
                continue
            med, lo, hi = g.median(), g.quantile(0.2), g.quantile(0.8)
            st = _style(solver)
            ax.errorbar(med.index, med, yerr=[med - lo, hi - med], capsize=2, markersize=4, **st)
        ax.axhline(0.05, color="grey", linewidth=0.8, linestyle="--")
        ax.set(yscale="log", xlabel="missing rate", title=f"true rank {rank}")
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1, decimals=0))
    axes[0][0].set_ylabel("held-out relative error (dashed: 5%)")
    axes[0][0].legend(fontsize=7)
    written += _save(fig, plots_dir, "zoo_heldout_error")

    table = _time_to_tolerance(sel, h)
    if not table.empty:
        fig, ax = _subplots(figsize=(4.8, 2.9))
        width = 0.8 / max(1, len(solvers))
        for k, solver in enumerate(solvers):
            t = table[table["solver"] == solver]
            pos = [ranks.index(r) + k * width for r in t["rank"]]
            ax.bar(pos, t["time to tolerance (s)"], width=width, color=_style(solver).get("color"),
                   label=_style(solver)["label"])
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(ranks))], [f"rank {r}" for r in ranks])
        ax.set(yscale="log", ylabel="median update time (s)",
               title=f"Time to reach 1e-3 of the final objective, {rate:.0%} missing")
        ax.legend(fontsize=7)
        written += _save(fig, plots_dir, "zoo_time_to_tolerance")

    summary = (sel.groupby(["solver", "rank", "mask_rate"])
               .agg(heldout_median=(col, "median"), runtime_median=("runtime_median", "median"),
                    iterations=("n_iter", "median"), jobs=("job", "count")).reset_index())
    if not table.empty:
        summary = summary.merge(table, on=["solver", "rank"], how="left")
    written += write_table(summary, plots_dir, "zoo_table")
    return written


def _time_to_tolerance(sel: pd.DataFrame, h: pd.DataFrame, rtol: float = 1e-3) -> pd.DataFrame:
    """Median update time at which each run's objective first comes within ``rtol``
    (relative) of its own final value."""
    if h.empty:
        return pd.DataFrame()
    rows = []
    for (solver, rank), g in h.groupby(["solver", "rank"]):
        times = []
        for _, r in g.groupby("job"):
            r = r.sort_values("iteration")
            obj = r["objective"].to_numpy()
            target = obj[-1] * (1 + rtol) + 1e-300
            times.append(r["time"].to_numpy()[np.argmax(obj <= target)])
        rows.append({"solver": solver, "rank": rank, "time to tolerance (s)": float(np.median(times))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------ driver


def plot_all(results, plots_dir, *, verbose: bool = True) -> dict[str, list[Path]]:
    """Regenerate every figure and table from the records under ``results``."""
    plots_dir = Path(plots_dir)
    df, hist = load_all(results)  # damaged records are left out with a warning naming them
    out = {
        "fig5_synthetic": plot_fig5(df, plots_dir),
        "a1gm_missing_patterns": plot_missing_patterns(df, plots_dir),
        "real_data": [],
        "solver_comparison": plot_solver_comparison(df, hist, plots_dir),
    }
    real = real_data_table(df)
    if not real.empty:
        out["real_data"] = write_table(real, plots_dir, "real_data_table")
    paper = real_data_table(df, "real_data_paper")
    if not paper.empty:
        out["real_data_paper"] = write_table(paper, plots_dir, "real_data_paper_table")
    if verbose:
        _print_tables(df, real)
        for tag, paths in out.items():
            print(f"{tag}: {len(paths)} file(s)" + (f" in {plots_dir}" if paths else " (no records)"))
    return out


def _print_tables(df: pd.DataFrame, real: pd.DataFrame) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4g}".format):
        fig5 = fig5_summary(df)
        if not fig5.empty:
            print("\nFig. 5 synthetic comparison (true seconds):")
            print(fig5.to_string(index=False))
        pat = patterns_summary(df)
        if not pat.empty:
            print("\nA1GM vs WNMF-KL across missing patterns and rates:")
            print(pat.drop(columns=["skipped because"]).to_string(index=False))
        if not real.empty:
            print("\nReal-data table:")
            print(real.to_string(index=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nmfexp-plot", description="Regenerate every figure and table from existing HDF5 records (no solver runs).")
    parser.add_argument("results", nargs="?", default="results", help="results directory or merged .h5 file (default: results)")
    parser.add_argument("--plots-dir", default="plots", help="where figures and tables go (default: plots)")
    args = parser.parse_args(argv)
    ignore_sigxfsz()
    if not Path(args.results).exists():
        print(f"nmfexp-plot: {args.results} does not exist; run nmfexp-reproduce or nmfexp-run first.", file=sys.stderr)
        return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordsWarning)
        plot_all(args.results, args.plots_dir)
    for w in caught:
        if issubclass(w.category, RecordsWarning):
            print(f"nmfexp-plot: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return 0


if __name__ == "__main__":
    sys.exit(main())
