"""Figures and tables over the corpus of R tables with genuine gaps (:mod:`nmfexp.data.corpus`).

Two presets:

* ``real_data_corpus`` (A1GM against WNMF-KL, each table's own gaps):
  ``corpus_a1gm`` (figure), ``corpus_summary`` and ``corpus_table`` (the
  paper's columns, one row per table);
* ``real_data_corpus_zoo`` (the zoo at rank 2 with 10% held out):
  ``corpus_zoo_profiles`` (performance profiles, Dolan & More, Math.
  Programming 91, 2002), ``corpus_zoo_table`` and, with the reference runs
  of preset ``real_data_corpus_reference``, ``corpus_zoo_reference_table``.

A1GM is exact by theorem where the gaps are grid-like (its step 1 adds no
entry); such tables are reported apart from the others in the summary, and a
table is drawn as exact only when its A1GM records carry the certificate
(``a1gm_certified`` true and ``a1gm_gap`` at most :data:`CERTIFIED_GAP`).
Records without the certificate are "not certified", whatever their value.

Performance profiles: for each table, each solver's cost is divided by the
best solver's on the same seed; the ratios are summarised per table by their
median over seeds, and the profile of a solver at ``tau`` is the fraction of
tables on which that ratio is at most ``tau``. A solver that failed, was
skipped or never reached the target has ratio infinity there. Costs: the
held-out relative error (baselines included; errors below
:data:`HELDOUT_FLOOR` count as that floor, so a fit exact to rounding gives a
finite ratio instead of one of 1e17), and the update time to come within 1% of
the best-known optimum f* *on the solver's own loss*
(:mod:`nmfexp.figures.suboptimality`; :data:`~nmfexp.figures.suboptimality.INFEASIBLE`
solvers, which solve no NMF problem, are left out of it). Where f* = 0 a run
reaches the target only at 0 exactly. f* counts the reference runs
(:data:`~nmfexp.analysis.problems.CORPUS_REFERENCE_TAG`: HALS and WNMF-KL on
the same problems, best of several starts, run far past the zoo's budget)
when their records are loaded with the zoo's; without them f* is the best
value the zoo's own runs reached, which measures the solvers against each
other's budget rather than against the optimum, and the figure says which.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..analysis.problems import CORPUS_REFERENCE_TAG
from .patterns import FLOOR
from .real_data import REAL_DATA_NOTE, real_data_table
from .stats import (
    RUNTIME_STATISTICS,
    jobs_note,
    ok,
    paired,
    profile_from_ratios,
    profile_ratios,
    quartiles,
    select,
)
from .style import footer, save_figure, solver_order, solver_styles, styled, subplots, write_table
from .suboptimality import INFEASIBLE, suboptimality_runs
from .zoo import reference_table

__all__ = ["TAG", "ZOO_TAG", "CERTIFIED_GAP", "HELDOUT_FLOOR", "certification", "corpus_table", "corpus_summary",
           "plot_corpus", "zoo_ratios", "own_loss_time_to_target", "plot_corpus_zoo", "make_corpus",
           "make_corpus_zoo"]

TAG = "real_data_corpus"
ZOO_TAG = "real_data_corpus_zoo"
LEVELS = (0.001, 0.01, 0.1)
#: A1GM's certificate counts when its records say ``a1gm_certified`` and ``a1gm_gap`` is at most this.
CERTIFIED_GAP = 1e-6
#: Held-out relative errors below this count as this in the performance ratios: one part in a million is
#: exact for imputation, and a best value of ~1e-17 would otherwise make every other ratio ~1e16.
HELDOUT_FLOOR = 1e-6
#: The target of the time profile: within this of f* on the solver's own loss.
TARGET_RTOL = 0.01


def certification(df: pd.DataFrame) -> pd.Series:
    """Per data set: ``"certified"``, ``"not certified"`` (records say no, or a gap above
    :data:`CERTIFIED_GAP`) or ``"not recorded"`` (no A1GM record with the certificate's fields).

    Parameters
    ----------
    df : pandas.DataFrame
        Records of the preset (:func:`nmfexp.results.load`).

    Returns
    -------
    pandas.Series of str
        Indexed by ``dataset``.
    """
    a = ok(df[df["solver"] == "a1gm"]) if len(df) else df
    out = {}
    for name, g in a.groupby("dataset"):
        flag = g["a1gm_certified"] if "a1gm_certified" in g else pd.Series(dtype=object)
        gap = pd.to_numeric(g["a1gm_gap"], errors="coerce") if "a1gm_gap" in g else pd.Series(dtype=float)
        if flag.notna().sum() == 0:
            out[name] = "not recorded"
            continue
        says = flag.map(lambda v: v is True or (isinstance(v, (bool, np.bool_)) and bool(v)))
        small = (gap.reindex(g.index) <= CERTIFIED_GAP) if len(gap) else pd.Series(True, index=g.index)
        out[name] = "certified" if bool((says & small.fillna(False)).all()) else "not certified"
    return pd.Series(out, name="A1GM certificate", dtype=object)


def corpus_table(df: pd.DataFrame, statistic: str = "median") -> pd.DataFrame:
    """One row per corpus table: :func:`nmfexp.figures.real_data.real_data_table` with
    ``share added`` (entries A1GM's step 1 adds over the table's size), ``KL excess``
    (relative KL - 1), ``speed ratio (WNMF/A1GM)`` (per seed, median over seeds),
    ``grid-like`` (step 1 adds nothing: A1GM is exact by theorem) and ``A1GM certificate``
    (:func:`certification`)."""
    table = real_data_table(df, TAG, statistic)
    if table.empty:
        return table
    sel = select(df, TAG)
    both = ok(sel[sel["solver"].isin(["a1gm", "wnmf_kl"])])
    rt = paired(both, ["dataset", "seed"], RUNTIME_STATISTICS[statistic]) if len(both) else pd.DataFrame()
    if {"a1gm", "wnmf_kl"} <= set(rt.columns):
        speed = (rt["wnmf_kl"] / rt["a1gm"]).groupby(level="dataset").apply(lambda v: quartiles(v)[0])
    else:
        speed = pd.Series(dtype=float)
    added = table["missing after A1GM completion"].astype(float) - table["missing"].astype(float)
    table = table.assign(**{
        "share added": added / table["size"].astype(float),
        "KL excess": table["relative KL (A1GM/WNMF)"] - 1.0,
        "speed ratio (WNMF/A1GM)": table["dataset"].map(speed).astype(float),
        "grid-like": (added == 0).where(added.notna(), None),
        "A1GM certificate": table["dataset"].map(certification(sel)).fillna("not recorded"),
    })
    return table


def corpus_summary(table: pd.DataFrame, statistic: str = "median") -> pd.DataFrame:
    """The corpus in a few numbers (two columns, ``quantity`` and ``value``)."""
    n = len(table)
    runs = table[table["status"] == "ok"]
    skipped = table[table["status"] == "A1GM skipped"]
    failed = table[table["status"] == "failed"]
    rows = [("tables with records", str(n)),
            ("tables on which A1GM runs", f"{len(runs)} of {n}"),
            ("tables on which A1GM cannot run (skipped)", f"{len(skipped)} of {n}")]
    for reason, count in skipped["note"].value_counts().items():
        rows.append((f"  skipped because: {reason}", str(count)))
    if len(failed):
        rows.append(("tables with a failed record", f"{len(failed)} of {n}"))
    grid = runs["grid-like"].map(lambda v: v is True or v == 1) if "grid-like" in runs else pd.Series(
        False, index=runs.index)
    cert = runs["A1GM certificate"] if "A1GM certificate" in runs else pd.Series("not recorded", index=runs.index)
    rows.append(("grid-like tables (step 1 adds nothing: A1GM exact by theorem)", f"{int(grid.sum())} of {len(runs)}"))
    recorded = cert != "not recorded"
    rows.append(("tables whose A1GM records are certified (a1gm_certified, gap <= "
                 f"{CERTIFIED_GAP:g})", f"{int((cert == 'certified').sum())} of {int(recorded.sum())} with the "
                 "certificate recorded" if recorded.any() else "not recorded (not certified)"))
    for label, part in (("other tables", runs[~grid]), ("grid-like tables", runs[grid])):
        excess = part["KL excess"].dropna()
        for level in LEVELS:
            k = int((excess <= level).sum())
            rows.append((f"{label}: A1GM's KL within {level:.1%} of WNMF's",
                         f"{k} of {len(excess)} ({k / len(excess):.0%})" if len(excess) else "0 of 0"))
        k = int((excess < 0).sum())
        rows.append((f"{label}: A1GM's KL below WNMF's", f"{k} of {len(excess)}"))
    med, q25, q75 = quartiles(runs["speed ratio (WNMF/A1GM)"])
    rows.append(("speed ratio WNMF/A1GM over tables: median [q25, q75]", f"{med:.3g} [{q25:.3g}, {q75:.3g}]"))
    stat = {"median": "median", "min": "fastest", "mean": "mean"}[statistic]
    rows.append(("speed ratio statistic", f"per table: WNMF/A1GM per seed from each job's {stat} timing sample, "
                                          "median over seeds; then quartiles over tables"))
    rows.append(("KL statistic", "per table: (KL_A1GM / KL_WNMF) per seed on the same table, median over seeds; "
                                 "WNMF's KL is no optimum: A1GM below it says WNMF stopped early, not that A1GM "
                                 "is exact"))
    return pd.DataFrame(rows, columns=["quantity", "value"])


def _x_with_floor(values: np.ndarray) -> tuple[np.ndarray, float]:
    positive = values[values > 0]
    floor = 10.0 ** np.floor(np.log10(positive.min() / 3)) if positive.size else 1e-5
    return np.where(values > 0, values, floor), floor


@styled
def plot_corpus(table: pd.DataFrame, sel: pd.DataFrame, plots_dir: Path) -> list[Path]:
    """``corpus_a1gm``: (a) A1GM's KL excess over WNMF against the share of entries step 1
    adds, one point per table; (b) the speed ratio against table size; (c) the tables where
    A1GM cannot run, by reason."""
    runs = table[table["status"] == "ok"]
    skipped = table[table["status"].isin(["A1GM skipped", "failed"])]
    fig, (ax, axs, axc) = subplots(1, 3, figsize=(11.6, 3.5), layout="constrained",
                                   gridspec_kw={"width_ratios": [1.25, 1.1, 0.9]})
    x, xfloor = _x_with_floor(runs["share added"].to_numpy(float))
    y = runs["KL excess"].to_numpy(float)
    top = 10.0 ** max(0, int(np.ceil(np.log10(max(np.nanmax(y, initial=1.0), 1.0) * 1.5))))
    shown = np.where(y <= FLOOR, FLOOR, y)
    grid = (runs["share added"].to_numpy(float) == 0)
    cert = (runs["A1GM certificate"] if "A1GM certificate" in runs else pd.Series("not recorded", index=runs.index))
    exact = (cert == "certified").to_numpy()  # exact only where the records certify it
    grid_only = grid & ~exact
    ax.axhspan(FLOOR / 3, FLOOR * 1.6, color="0.93", zorder=0)
    ax.axvspan(xfloor / 2, xfloor * 1.6, color="0.93", zorder=0)
    planned = int(sel["seed"].nunique()) if len(sel) else 0
    few = runs["seeds"].to_numpy() < planned  # tables backed by fewer seeds than planned: hollow
    groups = ((exact, "tab:red", "^", "A1GM certified exact"),
              (grid_only, "tab:orange", "v", "grid-like gaps, not certified"),
              (~grid & ~exact, "tab:blue", "o", "other tables"))
    for mask, colour, marker, label in groups:
        if not mask.any():
            continue
        ax.scatter(x[mask & ~few], shown[mask & ~few], s=22, color=colour, marker=marker, zorder=3, label=label)
        ax.scatter(x[mask & few], shown[mask & few], s=22, facecolors="white", edgecolors=colour, marker=marker,
                   zorder=3, label=f"{label}, fewer seeds than planned ({planned})" if (mask & few).any() else None)
    stacked = pd.Series(1, index=pd.MultiIndex.from_arrays([x, shown])).groupby(level=[0, 1]).size()
    for (xi, yi), count in stacked[stacked > 1].items():  # tables drawn on the same spot (e.g. the corner)
        ax.annotate(f"{count} tables", (xi, yi), textcoords="offset points", xytext=(6, 3), fontsize=7)
    for level in LEVELS:
        ax.axhline(level, color="0.5", linewidth=0.7, linestyle=":")
    ax.set(xscale="log", yscale="log", ylim=(FLOOR / 3, top * 2), xlim=(xfloor / 2, None),
           xlabel="entries A1GM's step 1 adds / table size",
           ylabel="(KL_A1GM - KL_WNMF) / KL_WNMF", title=f"(a) A1GM's KL relative to WNMF's, {len(runs)} tables")
    ticks = [FLOOR] + [10.0 ** k for k in range(-3, int(np.log10(top)) + 1)]
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FixedFormatter(["<= 0.01%"] + [f"{100 * v:g}%" for v in ticks[1:]]))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    xt = [xfloor] + [v for v in 10.0 ** np.arange(np.log10(xfloor) + 1, 1) if v <= 1]
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(xt))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter(["none"] + [f"{100 * v:g}%" for v in xt[1:]]))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.legend(loc="upper left", fontsize=7)

    size = runs["size"].astype(float).to_numpy()
    speed = runs["speed ratio (WNMF/A1GM)"].to_numpy(float)
    axs.scatter(size[~few], speed[~few], s=18, color="tab:blue", zorder=3)
    axs.scatter(size[few], speed[few], s=18, facecolors="white", edgecolors="tab:blue", zorder=3)
    axs.axhline(1.0, color="0.4", linewidth=0.8)
    med = quartiles(speed)[0]
    if np.isfinite(med):
        axs.axhline(med, color="tab:blue", linewidth=0.8, linestyle="--", label=f"median over tables: {med:.3g}x")
        axs.legend(loc="upper left", fontsize=7)
    axs.set(xscale="log", yscale="log", xlabel="table size (rows x columns)", ylabel="WNMF time / A1GM time",
            title="(b) speed ratio (per seed, median)")

    if len(skipped):
        labels = [("skipped: " if s == "A1GM skipped" else "failed: ") + r for s, r in
                  skipped[["status", "note"]].drop_duplicates().itertuples(index=False)]
        order = {lab: k for k, lab in enumerate(sorted(set(labels)))}
        ys = [order[("skipped: " if s == "A1GM skipped" else "failed: ") + r] for s, r in
              skipped[["status", "note"]].itertuples(index=False)]
        share = skipped["missing"].astype(float) / skipped["size"].astype(float)
        axc.scatter(share, ys, marker="x", s=30, color="0.2", zorder=3)
        axc.set_yticks(range(len(order)), [_wrap(k) for k in order], fontsize=6)
        axc.set_ylim(len(order) - 0.5, -0.5)
        axc.set_xscale("log")
    else:
        axc.text(0.5, 0.5, "A1GM ran on every table", ha="center", va="center", transform=axc.transAxes)
        axc.set_yticks([])
    axc.set(xlabel="missing entries / table size", title=f"(c) A1GM cannot run: {len(skipped)} table{'s' if len(skipped) != 1 else ''}")
    below = int((y < -0.01).sum())
    recorded = (cert != "not recorded").any()
    footer(fig, f"{jobs_note(sel)}; {len(table)} tables; hollow: fewer seeds with both solvers ok than planned "
                f"({planned}). Floor band: A1GM within 0.01% of WNMF or better ({below} tables more than 1% below "
                "WNMF: there WNMF stopped far from the optimum, which says nothing about A1GM being exact); "
                "'none': step 1 adds nothing (the gaps are grid-like). Exact (red) only where A1GM's records "
                f"certify it (a1gm_certified, a1gm_gap <= {CERTIFIED_GAP:g})"
                + ("" if recorded else "; these records carry no certificate: no table is drawn as certified")
                + ". KL and speed ratios per seed on the same table, median over seeds.")
    return save_figure(fig, plots_dir, "corpus_a1gm")


def _wrap(text: str, width: int = 34) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width and line:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "\n".join(lines[:3]) + ("..." if len(lines) > 3 else "")


def make_corpus(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *, statistic: str = "median") -> list[Path]:
    """``corpus_a1gm``, ``corpus_summary`` and ``corpus_table`` (the entry of
    :data:`nmfexp.figures.ARTIFACTS`)."""
    table = corpus_table(df, statistic)
    if table.empty:
        return []
    sel = select(df, TAG)
    written = plot_corpus(table, sel, Path(plots_dir))
    written += write_table(corpus_summary(table, statistic), plots_dir, "corpus_summary")
    stat = {"median": "each job's median timing sample", "min": "each job's fastest timing sample",
            "mean": "each job's mean timing sample"}[statistic]
    written += write_table(table, plots_dir, "corpus_table", note=REAL_DATA_NOTE.format(stat=stat)
                           + " Share added: entries A1GM's step 1 adds / size; KL excess: relative KL - 1.")
    return written


# ------------------------------------------------------------------------- the zoo over the corpus


def own_loss_time_to_target(df: pd.DataFrame, hist: pd.DataFrame | None, rtol: float = TARGET_RTOL,
                            reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Update time each job needs to come within ``rtol`` of the best-known optimum f* of its
    problem, on the loss its own solver minimises.

    The first recorded iterate with ``(f - f*) / f* <= rtol`` (its update
    time); a job without a history on its loss (a closed form) counts its
    median runtime if its final value is within the target; otherwise
    ``inf``. :data:`~nmfexp.figures.suboptimality.INFEASIBLE` solvers are left
    out (their results solve no NMF problem, so "within 1% of f*" means nothing
    for them). ``reference``: reference runs of the same problems, counted
    towards f* (:func:`~nmfexp.figures.suboptimality.suboptimality_runs`).

    Returns
    -------
    pandas.DataFrame
        ``job, solver, dataset, seed, loss, time`` (``inf``: never within the target).
    """
    good = ok(df)
    good = good[~good["solver"].isin(INFEASIBLE)]
    cols = ["job", "solver", "dataset", "seed", "loss", "time"]
    if good.empty:
        return pd.DataFrame(columns=cols)
    curves, ends = suboptimality_runs(good, hist, reference)
    first = {}
    if not curves.empty:
        hit = curves[curves["suboptimality"] <= rtol]
        first = hit.sort_values(["job", "iteration"]).groupby("job")["time"].first().to_dict()
    meta = good.drop_duplicates("job").set_index("job")
    rows = []
    for e in ends.itertuples(index=False):
        if e.has_curve:
            t = float(first.get(e.job, np.inf))
        else:
            t = float(e.time) if np.isfinite(e.suboptimality) and e.suboptimality <= rtol else np.inf
        rows.append({"job": e.job, "solver": meta.loc[e.job, "solver"], "dataset": meta.loc[e.job, "dataset"],
                     "seed": meta.loc[e.job, "seed"], "loss": e.loss, "time": t})
    return pd.DataFrame(rows, columns=cols)


def zoo_ratios(df: pd.DataFrame, hist: pd.DataFrame, reference: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Performance ratios per table (rows) and solver (columns), median over seeds, for
    ``"held-out error"`` (every solver, baselines included; errors below :data:`HELDOUT_FLOOR`
    count as it) and ``"time to 1% of f*"`` (each solver on its own loss, see
    :func:`own_loss_time_to_target`; ``reference`` runs count towards f*)."""
    sel = select(df, ZOO_TAG)
    if sel.empty:
        return {}
    solvers = solver_order(sel["solver"])
    err = pd.to_numeric(sel["heldout_relative_error"], errors="coerce").astype(float)
    err = np.where(sel["status"] == "ok", np.maximum(err, HELDOUT_FLOOR), np.inf)
    cost = sel.assign(cost=err).pivot_table(index=["dataset", "seed"], columns="solver", values="cost",
                                            aggfunc="first")
    out = {"held-out error": _per_table(profile_ratios(cost.reindex(columns=solvers)))}
    t = own_loss_time_to_target(sel, hist, reference=reference)
    if not t.empty:
        timed = [s for s in solvers if s not in INFEASIBLE]
        tc = t.pivot_table(index=["dataset", "seed"], columns="solver", values="time", aggfunc="first")
        tc = tc.reindex(index=cost.index, columns=timed)  # failed / skipped jobs: no time, ratio inf
        out["time to 1% of f*"] = _per_table(profile_ratios(tc))
    return out


def _per_table(r: pd.DataFrame) -> pd.DataFrame:
    return r.groupby(level="dataset").median() if len(r) else r


#: Where the tau axis of the profiles ends: beyond a factor of 1000 from the best, the order of the
#: solvers no longer matters to a reader (the fraction at the right end still counts every finite ratio
#: up to this value, and the table gives the profiles at tau = 1, 1.1, 2, 10).
TAU_AXIS_MAX = 1e3


@styled
def plot_corpus_zoo(ratios: dict[str, pd.DataFrame], sel: pd.DataFrame, plots_dir: Path,
                    fstar_note: str = "") -> list[Path]:
    """``corpus_zoo_profiles``: one performance-profile panel per cost."""
    fig, axes = subplots(1, len(ratios), figsize=(4.0 * len(ratios) + 1.6, 3.2), squeeze=False, sharey=True,
                         layout="constrained")
    solvers = solver_order(sel["solver"])
    styles = solver_styles(solvers)
    titles = {"held-out error": "held-out relative error",
              "time to 1% of f*": "update time to within 1% of f*\n(each solver on its own loss)"}
    for ax, (name, r) in zip(axes[0], ratios.items(), strict=True):
        prof = profile_from_ratios(r)
        finite = r.to_numpy()[np.isfinite(r.to_numpy())]
        right = min(max(2.0, float(finite.max()) * 1.2) if finite.size else 2.0, TAU_AXIS_MAX)
        beyond = int(np.sum(finite > TAU_AXIS_MAX))
        if beyond:  # a table one solver fits almost exactly gives ratios up to 1e17: they would flatten the rest
            ax.text(0.98, 0.04, f"axis ends at tau = {TAU_AXIS_MAX:g}: {beyond} finite ratio(s) beyond it\n"
                                f"(up to {finite.max():.0e}) are off the axis", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=6.5, color="0.3")
        for solver in solvers:
            p = prof[prof["solver"] == solver]
            if p.empty:
                continue
            st = styles[solver]
            ax.step(p["tau"], p["fraction"], where="post", color=st["color"], linestyle=st["linestyle"],
                    linewidth=1.4)
        ax.set(xscale="log", xlim=(1, right), ylim=(-0.02, 1.02), xlabel="tau (ratio to the best solver)",
               title=f"{titles.get(name, name)}, {len(r)} tables")
    axes[0][0].set_ylabel("fraction of tables within tau of the best")
    handles = [Line2D([], [], **{k: v for k, v in styles[s].items() if k != "marker"}) for s in solvers]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    footer(fig, f"{jobs_note(sel)}. Ratios per seed (same table, seed and held-out entries), median over seeds per "
                "table; failed, skipped or never reaching the target: ratio infinite. Held-out errors below "
                f"{HELDOUT_FLOOR:g} count as {HELDOUT_FLOOR:g} (a fit exact to rounding would otherwise give ratios "
                "of 1e17). f*: the best-known optimum of each table, seed and loss over every feasible record and "
                f"iterate{fstar_note or ' (no reference runs: the best the zoo itself reached)'}; each solver is "
                f"timed on the loss it minimises ({', '.join(INFEASIBLE)}: no NMF, not timed).")
    return save_figure(fig, plots_dir, "corpus_zoo_profiles")


def make_corpus_zoo(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *,
                    statistic: str = "median") -> list[Path]:
    """``corpus_zoo_profiles`` and ``corpus_zoo_table`` (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    sel = select(df, ZOO_TAG)
    if ok(sel).empty:
        return []
    reference = ok(select(df, CORPUS_REFERENCE_TAG))
    h = hist[hist["job"].isin(sel["job"])] if hist is not None and not hist.empty else hist
    ratios = zoo_ratios(sel, h, reference)
    ref_table = reference_table(ok(sel), h, reference)
    fstar_note = ""
    if not ref_table.empty:
        fstar_note = (f", {len(reference)} reference runs included (best of several long runs; they lower f* by "
                      f"more than 1e-6 on {int(ref_table['lower by > 1e-6'].sum())} of "
                      f"{int(ref_table['problems'].sum())} problems and losses, a problem being a table and seed)")
    written = plot_corpus_zoo(ratios, sel, Path(plots_dir), fstar_note)
    rows = []
    for solver in solver_order(sel["solver"]):
        s = sel[sel["solver"] == solver]
        row = {"solver": solver, "jobs": len(s), "ok": int((s["status"] == "ok").sum()),
               "held-out error (median)": quartiles(ok(s)["heldout_relative_error"])[0]}
        for name, r in ratios.items():
            if solver not in r:
                continue
            v = r[solver].to_numpy(float)
            for tau in (1.0, 1.1, 2.0, 10.0):
                row[f"{name}: within {tau:g}x of best"] = float(np.mean(v <= tau)) if len(v) else np.nan
        rows.append(row)
    note = ("Fractions of tables (performance profile at tau = 1, 1.1, 2, 10; Dolan & More 2002). Ratios per seed "
            "to the best solver on the same table, seed and held-out entries, median over seeds per table; "
            f"held-out errors below {HELDOUT_FLOOR:g} count as {HELDOUT_FLOOR:g}; time to 1% of f*: update time until "
            "the solver's own loss is within 1% of the best-known optimum of that loss "
            f"({', '.join(INFEASIBLE)} not timed).")
    written += write_table(pd.DataFrame(rows), plots_dir, "corpus_zoo_table", note=note)
    if not ref_table.empty:
        written += write_table(ref_table.drop(columns="rank"), plots_dir, "corpus_zoo_reference_table", note=(
            "What the reference runs (preset real_data_corpus_reference: HALS for the Frobenius loss, WNMF-KL for "
            "the KL loss, best of several starts, up to a stationarity measure of 1e-7 or their iteration cap) add "
            "to f* over the zoo's own runs and iterates, per loss: problems (table and seed) with an f*, how many "
            "the reference runs lower by more than 1e-6 relative, by how much (median and largest relative "
            "difference), and how many reference runs met their tolerance."))
    return written

