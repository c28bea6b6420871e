"""Figures for any sweep, from its records alone.

    nmfexp-plot results/mysweep --x mask.rate --y heldout_relative_error --hue solver
    nmfexp-plot results/mysweep --x n_rows --y runtime_median --hue solver --col mask
    nmfexp-plot results/mysweep --convergence --hue solver

and the same from Python::

    import nmfexp.results, nmfexp.figures as nf
    df, hist = nmfexp.results.load_all("results/mysweep")
    fig = nf.plot_sweep(df, x="mask.rate", y="heldout_relative_error", hue="solver")
    fig = nf.plot_convergence(hist, hue="solver")

:func:`plot_sweep` draws, for each level of ``hue`` (one line each) and ``col``
(one panel each), the median of ``y`` over every other dimension of the
sweep (seeds, and any other swept setting) against ``x``, with the
interquartile range as a band, and says how many jobs back each point
(points with fewer jobs than the most complete point are drawn hollow with
their count). Axes are logarithmic when the values are positive and span at
least a factor of 20 (override with ``logx``/``logy``). Columns are those of
:func:`nmfexp.results.load`; config keys that a short column already names
are accepted too (``mask.rate`` is ``mask_rate``, ``dataset.n_rows`` is
``n_rows``, ``solver.name`` is ``solver``). An unknown column raises a
``ValueError`` listing the available ones.

When records of a sweep match no preset, :func:`auto_sweep` (called by
``nmfexp-plot`` without ``--x``) picks the swept settings itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..record import schema
from .stats import jobs_note, ok, plain, quartiles, step_quantiles
from .style import footer, level_style, save_figure, solver_order, solver_style, styled, subplots, write_table

__all__ = ["axis_label", "resolve_column", "sweep_summary", "plot_sweep", "write_sweep", "convergence_summary",
           "plot_convergence", "write_convergence", "auto_sweep", "MAX_LEVELS"]

#: At most this many lines (hue levels) or panels (col levels) per figure.
MAX_LEVELS = 12
#: The metric :func:`auto_sweep` draws: the first of these the records hold, else the first declared one.
PREFERRED_METRICS = ("heldout_relative_error", "relative_error", "truth_relative_error")
#: Settings that are repetitions (the median is taken over them), not something to plot against.
REPLICATE = "seed"


def _aliases() -> dict[str, str]:
    return dict(schema.CONFIG_ALIASES)


def _setting(column: str) -> bool:
    """A column the user chose (never a result or bookkeeping: :func:`nmfexp.record.schema.column_role`),
    leaving out the timing config (how a job was measured, not what it computed)."""
    return schema.column_role(column) == "setting" and not column.startswith("timing.")


def _numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    return pd.to_numeric(series, errors="coerce")


def _is_numeric(series: pd.Series) -> bool:
    values = series.dropna()
    return len(values) > 0 and _numeric(values).notna().all()


def resolve_column(df: pd.DataFrame, name: str, *, numeric: bool = False, option: str = "column") -> str:
    """The column of ``df`` that ``name`` means (a config alias such as ``mask.rate`` maps to
    ``mask_rate``); a ``ValueError`` listing the available columns when there is none, or
    when ``numeric`` and the column holds no numbers."""
    col = name if name in df.columns else _aliases().get(name, name)
    if col not in df.columns:
        available = [c for c in df.columns if not c.startswith("env.")]
        raise ValueError(f"unknown {option} {name!r}; available columns: {', '.join(available)} "
                         f"(and {sum(c.startswith('env.') for c in df.columns)} env.* columns).")
    if numeric and not _is_numeric(df[col]):
        usable = [c for c in df.columns if not c.startswith("env.") and _is_numeric(df[c])]
        raise ValueError(f"{option} {name!r} is not numeric (values such as {df[col].dropna().iloc[:3].tolist()}); "
                         f"numeric columns: {', '.join(usable)}.")
    return col


#: How a declared unit is written on an axis (units that say nothing on an axis are left out).
_UNIT_LABELS = {"seconds": "s", "relative": "", "fraction": "fraction"}


def axis_label(column: str, *, percent: bool = False) -> str:
    """``column`` with its unit from :mod:`nmfexp.record.schema`: ``runtime_median (s)``,
    ``n_rows (rows)``, ``mask_rate (%)`` on a percent axis; the bare name when the schema
    declares no unit (or its sources disagree)."""
    units = {f.unit for f, _ in schema.column_sources(column)}
    if len(units) != 1:
        return column
    unit = units.pop()
    unit = _UNIT_LABELS.get(unit, unit)
    if unit == "fraction" and percent:
        unit = "%"
    return f"{column} ({unit})" if unit else column


def _levels(df: pd.DataFrame, col: str | None, option: str) -> list:
    if col is None:
        return [None]
    levels = list(pd.unique(df[col].dropna()))
    if col == "solver":
        levels = solver_order(levels)
    else:
        try:
            levels = sorted(levels)
        except TypeError:
            levels = sorted(levels, key=str)
    if len(levels) > MAX_LEVELS:
        raise ValueError(f"{option} {col!r} has {len(levels)} values; at most {MAX_LEVELS} can be told apart in one "
                         f"figure. Choose a column with fewer values, or filter the records first.")
    if df[col].isna().any():
        levels.append(None)
    return levels


def _auto_log(values) -> bool:
    v = np.asarray(_numeric(pd.Series(values)), dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size and (v > 0).all() and v.max() / v.min() >= 20)


def _match(df: pd.DataFrame, col: str | None, level) -> pd.Series:
    if col is None:
        return pd.Series(True, index=df.index)
    return df[col].isna() if level is None else df[col] == level


def sweep_summary(df: pd.DataFrame, x: str, y: str, hue: str | None = None, col: str | None = None) -> pd.DataFrame:
    """Median and quartiles of ``y`` over every other dimension, per (``col``, ``hue``, ``x``).

    Only jobs with status ok count. Returns columns ``col``, ``hue``, ``x`` (those
    given), ``median``, ``q25``, ``q75``, ``jobs`` (finite values used) and
    ``records`` (records of any status at that point).
    """
    x = resolve_column(df, x, option="--x")
    y = resolve_column(df, y, numeric=True, option="--y")
    hue = resolve_column(df, hue, option="--hue") if hue else None
    col = resolve_column(df, col, option="--col") if col else None
    keys = [k for k in (col, hue, x) if k]
    d = plain(df)
    d = d.assign(_y=_numeric(d[y]).where(d["status"] == "ok") if "status" in d else _numeric(d[y]))
    rows = []
    for key, g in d.groupby(keys, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        med, q25, q75 = quartiles(g["_y"])
        finite = int(np.isfinite(g["_y"].to_numpy(float)).sum())
        rows.append({**dict(zip(keys, key, strict=True)), "median": med, "q25": q25, "q75": q75, "jobs": finite,
                     "records": len(g)})
    return pd.DataFrame(rows, columns=[*keys, "median", "q25", "q75", "jobs", "records"])


def _other_dimensions(df: pd.DataFrame, used: list[str]) -> list[str]:
    """Swept columns that vary within a point of the figure (what its median is taken over)."""
    out = []
    for c in df.columns:
        if c in used or not _setting(c):
            continue
        try:
            k = df[c].nunique(dropna=True)
            if k > 1 and df.groupby(used, dropna=False)[c].nunique(dropna=True).max() > 1:
                out.append(f"{c} ({k} values)")
        except TypeError:  # unhashable values
            continue
    return out


@styled
def plot_sweep(df: pd.DataFrame, x: str, y: str, hue: str | None = None, col: str | None = None, *,
               logx: bool | None = None, logy: bool | None = None, title: str | None = None) -> Figure:
    """``y`` against ``x``: median over the other dimensions with an interquartile band,
    one line per ``hue`` level and one panel per ``col`` level (see the module docstring).

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot; save it with ``fig.savefig(...)``.
    """
    table = sweep_summary(df, x, y, hue, col)
    x = resolve_column(df, x, option="--x")
    y = resolve_column(df, y, numeric=True, option="--y")
    hue = resolve_column(df, hue, option="--hue") if hue else None
    col = resolve_column(df, col, option="--col") if col else None
    d = plain(df)
    hues, cols = _levels(d, hue, "--hue"), _levels(d, col, "--col")
    # A panel with nothing to draw (every job of its group skipped or failed) is named, not drawn empty.
    empty = [cl for cl in cols if col and not (table[_match(table, col, cl)]["jobs"] > 0).any()]
    if len(empty) == len(cols):  # nothing at all: one empty panel, its footer says why
        empty = empty[1:]
    cols = [cl for cl in cols if cl not in empty]
    numeric_x = _is_numeric(d[x])
    if not numeric_x:
        xlevels = _levels(d, x, "--x")
        position = {lv: k for k, lv in enumerate(xlevels)}
    logx = _auto_log(d[x]) if logx is None and numeric_x else bool(logx and numeric_x)
    logy = _auto_log(table["median"]) if logy is None else bool(logy)
    most = int(table["jobs"].max()) if len(table) else 0
    fig, axes = subplots(1, len(cols), figsize=(3.3 * len(cols) + (1.8 if hue else 0.4), 3.1), squeeze=False,
                         sharey=True, layout="constrained")
    handles = {}
    for ax, cl in zip(axes[0], cols, strict=True):
        tc = table[_match(table, col, cl)] if col else table
        for k, lv in enumerate(hues):
            t = tc[_match(tc, hue, lv)] if hue else tc
            t = t[t["jobs"] > 0]
            if t.empty:
                continue
            st = level_style(lv, k, hue, hues) if hue else dict(color="tab:blue", marker="o", linestyle="-", label=y)
            xs = _numeric(t[x]).to_numpy(float) if numeric_x else np.array([position[v] for v in t[x]], float)
            order = np.argsort(xs)
            xs, med = xs[order], t["median"].to_numpy(float)[order]
            lo, hi = t["q25"].to_numpy(float)[order], t["q75"].to_numpy(float)[order]
            jobs = t["jobs"].to_numpy(int)[order]
            (line,) = ax.plot(xs, med, color=st["color"], linestyle=st.get("linestyle", "-"), marker=st["marker"],
                              markersize=4, label=st["label"])
            ax.fill_between(xs, lo, hi, color=st["color"], alpha=0.15, linewidth=0)
            few = jobs < most
            ax.scatter(xs[few], med[few], s=55, facecolors="white", edgecolors=st["color"], zorder=4)
            for xi, yi, n in zip(xs[few], med[few], jobs[few], strict=True):
                ax.annotate(f"n={n}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=6, color=st["color"])
            handles.setdefault(st["label"], line)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        if not numeric_x:
            ax.set_xticks(range(len(xlevels)), [str(v) for v in xlevels], rotation=30 if len(xlevels) > 4 else 0)
        percent = numeric_x and x in ("mask_rate", "holdout")
        if percent:
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
        ax.set(xlabel=axis_label(x, percent=percent), title=f"{col} = {cl}" if col else (title or ""))
    axes[0][0].set_ylabel(axis_label(y))
    missing = _not_drawn(d, hue, hues, table)
    if hue:
        labels = list(handles.keys())
        lines = list(handles.values())
        for name, why in missing:
            lines.append(Line2D([], [], linestyle="none"))
            labels.append(f"{name}: not drawn ({why})")
        fig.legend(lines, labels, loc="outside right center", title=hue, fontsize=7)
    if col and title:
        fig.suptitle(title, fontsize=9)
    others = _other_dimensions(d, [c for c in (x, hue, col) if c])
    gone = (f"\nNot drawn (no job with status ok and a value of {y}): "
            + "; ".join(f"{name} ({why})" for name, why in missing) + ".") if missing else ""
    if empty:
        gone += (f"\nNo panel (no job with status ok and a value of {y}): "
                 + "; ".join(f"{col} = {cl} ({_status_counts(d[_match(d, col, cl)])})" for cl in empty) + ".")
    footer(fig, f"Median over {', '.join(others) if others else 'repeated jobs'}; band: interquartile range; "
                f"hollow with n=k: fewer jobs than the fullest point ({most}).\n"
                f"{jobs_note(d)} (only status ok counts).{gone}")
    return fig


def _status_counts(d: pd.DataFrame) -> str:
    if "status" not in d:
        return f"{len(d)} records"
    counts = d["status"].fillna("unknown").value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def _not_drawn(d: pd.DataFrame, hue: str | None, hues: list, table: pd.DataFrame) -> list[tuple[str, str]]:
    """The ``hue`` levels with records but no point in the figure, each with its records' statuses."""
    if not hue:
        return []
    out = []
    for k, lv in enumerate(hues):
        t = table[_match(table, hue, lv)]
        if (t["jobs"] > 0).any():
            continue
        label = level_style(lv, k, hue, hues)["label"]
        out.append((label, _status_counts(d[_match(d, hue, lv)])))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "all"


def write_sweep(df: pd.DataFrame, plots_dir, x: str, y: str, hue: str | None = None, col: str | None = None, *,
                stem: str | None = None, logx: bool | None = None, logy: bool | None = None,
                title: str | None = None) -> list[Path]:
    """:func:`plot_sweep` saved as ``<stem>.png/.pdf`` with :func:`sweep_summary` as
    ``<stem>.csv/.md/.tex`` (default stem ``sweep_<y>_vs_<x>[_by_<hue>][_per_<col>]``)."""
    fig = plot_sweep(df, x, y, hue, col, logx=logx, logy=logy, title=title)
    x, y = resolve_column(df, x), resolve_column(df, y)
    hue = resolve_column(df, hue) if hue else None
    col = resolve_column(df, col) if col else None
    stem = stem or "sweep_" + "_".join([_slug(y), "vs", _slug(x)] + (["by", _slug(hue)] if hue else [])
                                       + (["per", _slug(col)] if col else []))
    written = save_figure(fig, Path(plots_dir), stem)
    table = sweep_summary(df, x, y, hue, col)
    written += write_table(table, Path(plots_dir), stem, note=f"{y}: median and quartiles over the other dimensions "
                                                              "of the sweep; jobs: finite values with status ok.")
    return written


# ----------------------------------------------------------------------------------- convergence


def _curve_grid(curves: list[tuple[np.ndarray, np.ndarray]], x: str) -> np.ndarray:
    xmax = max(c[0][-1] for c in curves)
    if x == "time":
        positive = [c[0][c[0] > 0] for c in curves]
        lo = min((p.min() for p in positive if p.size), default=1e-6)
        return np.geomspace(max(lo, 1e-7), max(xmax, 2 * lo), 200)
    return np.arange(0, int(xmax) + 1, dtype=float)


def convergence_summary(hist: pd.DataFrame, hue: str | None = "solver", col: str | None = None, *,
                        x: str = "time", normalize: str = "initial",
                        quantiles: tuple[float, float, float] = (25, 50, 75)) -> pd.DataFrame:
    """Quantiles over jobs of the objective against ``x`` (``"time"``: seconds of updates, or
    ``"iteration"``), per (``col``, ``hue``).

    Each job's history is held at its last value after it stops (a stopped
    solver keeps its result) and is undefined before its first point. With
    ``normalize="initial"`` each job's objective is divided by its initial
    value (iteration 0), so that jobs on different data can be pooled;
    ``"none"`` keeps the raw objective.

    Returns columns ``col``, ``hue`` (those given), ``x``, ``q<lo>``, ``median``, ``q<hi>``, ``jobs``.
    """
    if x not in ("time", "iteration"):
        raise ValueError(f"x must be 'time' or 'iteration', got {x!r}.")
    if normalize not in ("initial", "none"):
        raise ValueError(f"normalize must be 'initial' or 'none', got {normalize!r}.")
    if hist is None or hist.empty:
        raise ValueError("no per-iteration histories in these records (closed-form solvers such as a1gm record "
                         "none); nothing to draw.")
    hue = resolve_column(hist, hue, option="--hue") if hue else None
    col = resolve_column(hist, col, option="--col") if col else None
    h = plain(hist).sort_values(["job", "iteration"])
    keys = [k for k in (col, hue) if k]
    lo_name, hi_name = f"q{quantiles[0]:g}", f"q{quantiles[2]:g}"
    frames = []
    groups = h.groupby(keys, dropna=False, sort=True) if keys else [((), h)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        curves = []
        for _, r in g.groupby("job"):
            yv = r["objective"].to_numpy(float)
            if normalize == "initial":
                yv = yv / yv[0] if yv[0] != 0 else np.full_like(yv, np.nan)
            curves.append((r[x].to_numpy(float), yv))
        grid = _curve_grid(curves, x)
        q = step_quantiles(curves, grid, quantiles)
        frame = pd.DataFrame({x: grid, lo_name: q[0], "median": q[1], hi_name: q[2], "jobs": len(curves)})
        for k, v in zip(keys, key, strict=True):
            frame.insert(0, k, v)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@styled
def plot_convergence(hist: pd.DataFrame, hue: str | None = "solver", col: str | None = None, *, x: str = "time",
                     normalize: str = "initial", quantiles: tuple[float, float, float] = (25, 50, 75),
                     records: pd.DataFrame | None = None) -> Figure:
    """The objective against update time (or iteration): median over jobs with a quantile
    band, one line per ``hue`` level, one panel per ``col`` level (see
    :func:`convergence_summary`). Each solver's own objective is drawn (KL or Frobenius).

    ``records`` (the table of :func:`nmfexp.results.load`) lets the figure name the
    solvers whose jobs with status ok left no history (closed forms such as A1GM,
    or an own solver that returns none: see docs/extending.md); they are listed in
    the legend and the footer instead of silently missing.
    """
    table = convergence_summary(hist, hue, col, x=x, normalize=normalize, quantiles=quantiles)
    hue = resolve_column(hist, hue, option="--hue") if hue else None
    col = resolve_column(hist, col, option="--col") if col else None
    h = plain(hist)
    hues, cols = _levels(h, hue, "--hue"), _levels(h, col, "--col")
    lo_name, hi_name = f"q{quantiles[0]:g}", f"q{quantiles[2]:g}"
    fig, axes = subplots(1, len(cols), figsize=(3.3 * len(cols) + 1.8, 3.1), squeeze=False, sharey=True,
                         layout="constrained")
    handles = {}
    # Number outside solvers among every solver of the records, as the sweep figures of the same records do.
    named = hues + sorted({str(s) for s in records["solver"].dropna()} - {str(lv) for lv in hues}) \
        if hue == "solver" and records is not None and "solver" in records else hues
    for ax, cl in zip(axes[0], cols, strict=True):
        tc = table[_match(table, col, cl)] if col else table
        for k, lv in enumerate(hues):
            t = tc[_match(tc, hue, lv)] if hue else tc
            if t.empty:
                continue
            st = level_style(lv, k, hue, named) if hue else dict(color="tab:blue", linestyle="-", label="all jobs")
            label = f"{st['label']} ({int(t['jobs'].iloc[0])} jobs)"
            (line,) = ax.plot(t[x], t["median"], color=st["color"], linestyle=st.get("linestyle", "-"), label=label)
            ax.fill_between(t[x], t[lo_name], t[hi_name], color=st["color"], alpha=0.15, linewidth=0)
            handles.setdefault(label, line)
        ax.set(yscale="log", xlabel="update time (s)" if x == "time" else "iteration",
               title=f"{col} = {cl}" if col else "")
        if x == "time":
            ax.set_xscale("log")
    axes[0][0].set_ylabel("objective / initial objective" if normalize == "initial" else "objective")
    silent = _without_history(records, h)
    lines, labels = list(handles.values()), list(handles.keys())
    for name, why in silent:
        lines.append(Line2D([], [], linestyle="none"))
        labels.append(f"{name}: no history")
    fig.legend(lines, labels, loc="outside right center", fontsize=7, title=hue)
    gone = ("\nNo history, not drawn: " + "; ".join(f"{name} ({why})" for name, why in silent) + ".") if silent else ""
    footer(fig, f"Each solver's own loss on the entries it saw (KL or Frobenius). Median over jobs, band: "
                f"{quantiles[0]:g}-{quantiles[2]:g}th percentile; a job is held at its last value after it stops.\n"
                f"{h['job'].nunique()} jobs with a history.{gone}")
    return fig


def _without_history(records: pd.DataFrame | None, h: pd.DataFrame) -> list[tuple[str, str]]:
    """Solvers with jobs of status ok in ``records`` but no history in ``h``, each with the reason."""
    if records is None or records.empty or "solver" not in records:
        return []
    from ..solvers import SOLVERS

    good = ok(records)
    drawn = set(h["solver"].astype(str)) if "solver" in h else set()
    out = []
    for solver in solver_order(set(good["solver"].dropna().astype(str)) - drawn):
        n = int((good["solver"] == solver).sum())
        spec = SOLVERS.get(solver)
        why = ("a closed form, no iterations" if spec is not None and not spec.iterative
               else "returned no history: see docs/extending.md")
        out.append((solver_style(solver)["label"], f"{n} jobs, {why}"))
    return out


def write_convergence(hist: pd.DataFrame, plots_dir, hue: str | None = "solver", col: str | None = None, *,
                      x: str = "time", normalize: str = "initial", stem: str | None = None,
                      records: pd.DataFrame | None = None) -> list[Path]:
    """:func:`plot_convergence` saved as ``<stem>.png/.pdf`` (default ``convergence_<x>[_by_<hue>]``)."""
    fig = plot_convergence(hist, hue, col, x=x, normalize=normalize, records=records)
    stem = stem or "_".join(["convergence", x] + (["by", _slug(hue)] if hue else []) + (["per", _slug(col)] if col
                                                                                        else []))
    return save_figure(fig, Path(plots_dir), stem)


# ----------------------------------------------------------------------------------- any sweep


def _swept(sel: pd.DataFrame) -> list[str]:
    """The settings that vary among ``sel``: never a result or bookkeeping column, nor the seed;
    solver parameters only differ because the solvers do."""
    out = []
    for c in sel.columns:
        if not _setting(c) or c == REPLICATE or c.startswith("solver.params."):
            continue
        try:
            if sel[c].nunique(dropna=True) > 1:
                out.append(c)
        except TypeError:
            continue
    return out


def auto_sweep(df: pd.DataFrame, hist: pd.DataFrame, plots_dir, tag: str = "") -> list[Path]:
    """Figures for the records tagged ``tag`` when no preset claims them: an error measure
    and the runtime against the swept setting with the most values, one line per solver,
    one panel per another swept setting with at most 4 values; and the convergence
    histories per solver. Returns the files written (none when nothing varies)."""
    if df.empty:
        return []
    sel = df[df["tag"].fillna("").astype(str) == tag]
    good = ok(sel)
    if good.empty:
        return []
    swept = _swept(sel)
    numeric = [c for c in swept if c != "solver" and _is_numeric(sel[c])]
    categorical = [c for c in swept if c not in numeric and c != "solver" and sel[c].nunique() <= MAX_LEVELS]
    hue = "solver" if "solver" in swept else None
    if numeric:
        x = max(numeric, key=lambda c: (sel[c].nunique(), c in ("mask_rate", "n_rows", "rank")))
    elif categorical:
        x = categorical[0]
    elif hue:
        x, hue = "solver", None
    else:
        x = None
    rest = [c for c in swept if c not in (x, hue) and sel[c].nunique() <= 4]
    col = rest[0] if rest else None
    prefix = f"sweep_{_slug(tag) if tag else 'untagged'}"
    written: list[Path] = []
    if x is not None:
        order = [*PREFERRED_METRICS, *(m for m in schema.METRICS if m not in PREFERRED_METRICS)]
        measures = [m for m in order if m in good and _numeric(good[m]).notna().any()]
        for y in measures[:1] + ["runtime_median"]:
            written += write_sweep(sel, plots_dir, x, y, hue, col, stem=f"{prefix}_{_slug(y)}",
                                   title=f"records tagged {tag!r}" if tag else "untagged records")
    h = hist[hist["job"].isin(good["job"])] if hist is not None and not hist.empty else pd.DataFrame()
    if not h.empty:
        written += write_convergence(h, plots_dir, hue="solver" if h["solver"].nunique() > 1 else None,
                                     stem=f"{prefix}_convergence", records=good)
    return written
