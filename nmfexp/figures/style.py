"""The house style shared by every figure and table of :mod:`nmfexp.figures`.

Nothing here changes matplotlib's global state: figures are made with
:class:`matplotlib.figure.Figure` (no pyplot, no backend switch) and the
settings of :data:`RC` apply only inside functions decorated with
:func:`styled` (``matplotlib.rc_context``).
"""

from __future__ import annotations

import contextvars
import functools
import textwrap
import zlib
from collections.abc import Iterable
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["RC", "SOLVER_STYLE", "OUTSIDE_STYLES", "PATTERN_STYLE", "styled", "subplots", "solver_style", "solver_styles", "solver_order",
           "save_figure", "write_table", "footer", "percent_axis", "FIGURE_FORMATS", "TABLE_FORMATS"]

# The paper's visual language: A1GM dotted with triangles, WNMF dashed with circles.
SOLVER_STYLE = {
    "a1gm": dict(color="tab:red", linestyle=":", marker="^", label="A1GM"),
    "wnmf_kl": dict(color="tab:blue", linestyle="--", marker="o", label="WNMF (KL)"),
    "wnmf_fro": dict(color="tab:cyan", linestyle="--", marker="s", label="WNMF (Frobenius)"),
    "hals": dict(color="tab:green", linestyle="-", marker="D", label="HALS"),
    "als": dict(color="tab:purple", linestyle="-", marker="v", label="ALS"),
    "gdcls": dict(color="tab:orange", linestyle="-.", marker="P", label="GDCLS"),
    "kaczmarz": dict(color="tab:brown", linestyle="-.", marker="X", label="Kaczmarz"),
    "a1gm_polish": dict(color="darkred", linestyle="-", marker="h", label="A1GM + polish"),
    # imputation baselines (grey shades, so that they read as references, not as competitors)
    "column_mean": dict(color="0.45", linestyle=(0, (1, 1)), marker="_", label="column mean"),
    "row_col_mean": dict(color="0.25", linestyle=(0, (3, 1, 1, 1)), marker="|", label="row + column mean"),
    "soft_impute": dict(color="tab:pink", linestyle=(0, (5, 2)), marker="*", label="soft-impute"),
}
#: Styles of solvers from outside the package (the ``k``-th of a figure gets the ``k``-th entry):
#: colours, dash patterns and markers that no built-in solver uses, so an own solver is never
#: mistaken for HALS or A1GM.
OUTSIDE_STYLES = [
    dict(color=c, linestyle=ls, marker=m) for c, ls, m in zip(
        ["black", "goldenrod", "teal", "navy", "magenta", "saddlebrown", "limegreen", "slateblue", "crimson",
         "darkkhaki", "darkorange", "deepskyblue"],
        [(0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (5, 1, 1, 1)), (0, (2, 2)),
         (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (5, 1, 1, 1)), (0, (2, 2))],
        ["p", "d", "8", "H", "*", "p", "d", "8", "H", "*", "p", "d"], strict=True)
]
PATTERN_STYLE = {
    "grid": dict(color="tab:red", marker="^", label="grid-like (paper)"),
    "corner": dict(color="tab:green", marker="s", label="bottom-right block"),
    "random": dict(color="tab:blue", marker="o", label="uniformly random cells"),
}
#: Colours for anything without a fixed style (hue levels of generic sweeps).
CYCLE = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
         "tab:olive", "tab:cyan"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*"]

#: Matplotlib settings of every figure, applied inside the figure functions only
#: (importing :mod:`nmfexp.figures` changes neither the backend nor any global rcParams).
RC = {"figure.dpi": 110, "savefig.dpi": 200, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
      "legend.frameon": False, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8}

FIGURE_FORMATS = ("png", "pdf")
TABLE_FORMATS = ("csv", "md", "tex")


def styled(func):
    """Run a figure function under :data:`RC` (restored afterwards)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return func(*args, **kwargs)

    return wrapper


def subplots(nrows: int = 1, ncols: int = 1, *, squeeze: bool = True, sharex=False, sharey=False,
             gridspec_kw: dict | None = None, **fig_kw):
    """Like ``pyplot.subplots``, without pyplot: no backend, no global figure list."""
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, sharex=sharex, sharey=sharey, gridspec_kw=gridspec_kw)


def solver_style(solver: str, k: int | None = None) -> dict:
    """Line and marker style of ``solver``.

    Parameters
    ----------
    solver : str
        Solver name. The package's solvers keep their fixed style (:data:`SOLVER_STYLE`).
    k : int, optional
        Position of a solver from outside the package among the outside solvers of
        the figure: the ``k``-th gets ``OUTSIDE_STYLES[k]``, so that outside solvers of
        one figure differ from each other and from every built-in. Without ``k``
        the style is chosen from the name (stable across runs, but two outside
        solvers may then share one).

    Returns
    -------
    dict
        ``color``, ``linestyle``, ``marker`` and ``label``.
    """
    if solver in SOLVER_STYLE:
        return dict(SOLVER_STYLE[solver])
    if k is None:
        k = zlib.crc32(str(solver).encode())
    return {**OUTSIDE_STYLES[k % len(OUTSIDE_STYLES)], "label": str(solver)}


def solver_styles(solvers: Iterable[str]) -> dict[str, dict]:
    """:func:`solver_style` of each of ``solvers``, the solvers from outside the package numbered among
    themselves (:func:`outside_index`), so that no two solvers of one figure share a style."""
    solvers = list(solvers)
    index = outside_index(solvers)
    return {s: solver_style(s, index.get(s)) for s in solvers}


def outside_index(solvers: Iterable[str]) -> dict[str, int]:
    """The ``k`` of :func:`solver_style` for each solver from outside the package among ``solvers``
    (in :func:`solver_order`)."""
    outside = [s for s in solver_order(solvers) if s not in SOLVER_STYLE]
    return {s: k for k, s in enumerate(outside)}


def level_style(level, k: int, column: str | None, levels: Iterable | None = None) -> dict:
    """Style of the ``k``-th level of a hue column (solvers keep their own style; outside solvers
    are numbered among the outside solvers of ``levels``)."""
    if column == "solver":
        index = outside_index(str(lv) for lv in levels if lv is not None) if levels is not None else {}
        return solver_style(str(level), index.get(str(level), k))
    return dict(color=CYCLE[k % len(CYCLE)], linestyle="-", marker=_MARKERS[k % len(_MARKERS)],
                label=f"{column} = {level}" if column else str(level))


def solver_order(solvers: Iterable[str]) -> list[str]:
    """Registered solvers in the house order, then the others alphabetically."""
    present = set(solvers)
    return [s for s in SOLVER_STYLE if s in present] + sorted(present - set(SOLVER_STYLE))


#: The records' commit(s) (DIRTY when made with uncommitted changes) and a BLAS mix, added to every
#: footer while set (:func:`nmfexp.figures.plot_all` sets it for the records it draws).
FOOTER_PROVENANCE: contextvars.ContextVar[str] = contextvars.ContextVar("footer_provenance", default="")


def footer(fig: Figure, text: str) -> None:
    """A small note under the figure (how many jobs, which statistic), wrapped to its width.

    Drawn as the figure's ``supxlabel``, for which the constrained layout keeps room;
    figure legends of this package therefore go to the right or the top.
    """
    width = max(40, int(fig.get_figwidth() * 72 / 3.7))  # characters of 7 pt text per line
    provenance = FOOTER_PROVENANCE.get()
    if provenance:
        text = f"{text}\nRecords: {provenance}."
    lines = [wrapped for para in text.splitlines() for wrapped in textwrap.wrap(para, width) or [""]]
    fig.supxlabel("\n".join(lines), x=0.01, ha="left", fontsize=7, color="0.25", linespacing=1.3)


def percent_axis(axis, decimals: int | None = None) -> None:
    """Tick labels as percentages of 1 (0.05 -> 5%)."""
    axis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1, decimals=decimals))


def save_figure(fig: Figure, plots_dir: Path, stem: str) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf``."""
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    out = []
    with matplotlib.rc_context(RC):  # savefig.dpi and friends, also for figures saved outside a styled function
        for ext in FIGURE_FORMATS:
            path = plots_dir / f"{stem}.{ext}"
            fig.savefig(path, bbox_inches="tight", pad_inches=0.08)
            out.append(path)
    return out


def _fmt(value, floatfmt: str) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else format(value, floatfmt)
    return str(value)


def write_table(table: pd.DataFrame, plots_dir: Path, stem: str, floatfmt: str = ".4g",
                note: str = "") -> list[Path]:
    """Write ``table`` as ``<stem>.csv``, ``<stem>.md`` and ``<stem>.tex``.

    ``note`` (what the statistics are) follows the Markdown table as a paragraph
    and the LaTeX table as a comment; the CSV holds the values only.
    """
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = [plots_dir / f"{stem}.{ext}" for ext in TABLE_FORMATS]
    table.to_csv(paths[0], index=False)
    md = table.to_markdown(index=False, floatfmt=floatfmt) if not table.empty else "(no rows)"
    paths[1].write_text(md + "\n" + (f"\n{note}\n" if note else ""))
    fmt = {c: (lambda v, f=floatfmt: _fmt(v, f)) for c in table.columns if pd.api.types.is_float_dtype(table[c])}
    tex = table.to_latex(index=False, formatters=fmt, escape=True)
    if note:
        tex = "".join(f"% {line}\n" for line in note.splitlines()) + tex
    paths[2].write_text(tex)
    return paths
