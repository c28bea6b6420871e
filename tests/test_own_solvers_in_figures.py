"""Solvers from outside the package in figures: their own style, and named when they draw nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.colors import to_rgba

import nmfexp
from nmfexp import results
from nmfexp.experiment import run
from nmfexp.figures import sweep
from nmfexp.figures.style import OUTSIDE_STYLES, SOLVER_STYLE, level_style, solver_style

QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


def with_history(X, mask, *, rank, random_state, max_iter=5):
    """Masked multiplicative Frobenius updates that return their history."""
    W = np.ones(X.shape, bool) if mask is None else mask
    Xo = np.where(W, X, 0.0)
    rng = np.random.default_rng(random_state)
    A, B = rng.random((X.shape[0], rank)) + 0.1, rng.random((rank, X.shape[1])) + 0.1
    objective = [float(((W * (Xo - A @ B)) ** 2).sum())]
    for _ in range(max_iter):
        A *= (Xo @ B.T) / np.maximum((W * (A @ B)) @ B.T, 1e-12)
        B *= (A.T @ Xo) / np.maximum(A.T @ (W * (A @ B)), 1e-12)
        objective.append(float(((W * (Xo - A @ B)) ** 2).sum()))
    return nmfexp.FactorizationResult(A=A, B=B, n_iter=max_iter, solver="with_history",
                                      history={"objective": np.array(objective),
                                               "time": np.linspace(0.0, 1e-3, max_iter + 1),
                                               "iteration": np.arange(max_iter + 1)})


def no_history(X, mask, *, rank, random_state):
    W = np.ones(X.shape, bool) if mask is None else mask
    rows = np.where(W, X, 0.0).sum(1) / np.maximum(W.sum(1), 1)
    return nmfexp.FactorizationResult(A=np.tile(rows[:, None], (1, rank)), B=np.ones((rank, X.shape[1])) / rank,
                                      solver="no_history")


def refuses(X, mask, *, rank, random_state):
    raise nmfexp.SolverRefused("this solver refuses every input")


def target(func) -> dict:
    return {"name": func.__name__, "_target_": f"{__name__}.{func.__name__}", "params": {}}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("own") / "results"
    solvers = [target(with_history), target(no_history), target(refuses),
               {"name": "hals", "params": {"max_iter": 5}}]
    for solver in solvers:
        for rate in (0.05, 0.2):
            for seed in (0, 1):
                run({"dataset": {"kind": "uniform", "n_rows": 12}, "mask": {"kind": "random", "rate": rate},
                     "solver": solver, "rank": 2, "timing": dict(QUICK), "seed": seed, "tag": "own"}, root)
    return results.load_all(root)


def _key(style: dict) -> tuple:
    return to_rgba(style["color"]), str(style["linestyle"]), style["marker"]


def test_outside_solvers_never_share_a_builtins_colour_or_each_others():
    builtin_colours = {to_rgba(s["color"]) for s in SOLVER_STYLE.values()}
    outside = [solver_style(f"mine{k}", k) for k in range(len(OUTSIDE_STYLES))]
    assert not {to_rgba(s["color"]) for s in outside} & builtin_colours
    assert len({_key(s) for s in outside}) == len(outside)
    assert len({to_rgba(s["color"]) for s in outside}) == len(outside)
    assert len({_key(s) for s in SOLVER_STYLE.values()}) == len(SOLVER_STYLE)  # the built-ins differ too
    # Without a position the name decides, the same in every figure; a built-in keeps its own style.
    assert solver_style("mine") == solver_style("mine") and solver_style("hals") == SOLVER_STYLE["hals"]
    assert to_rgba(solver_style("mine")["color"]) not in builtin_colours


def test_outside_solvers_are_numbered_among_themselves():
    levels = ["hals", "zeta", "alpha"]
    styles = {lv: level_style(lv, k, "solver", levels) for k, lv in enumerate(levels)}
    assert styles["hals"] == SOLVER_STYLE["hals"]
    assert _key(styles["alpha"]) == _key(OUTSIDE_STYLES[0]) and _key(styles["zeta"]) == _key(OUTSIDE_STYLES[1])


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_sweep_names_a_solver_that_drew_nothing(records):
    df, _ = records
    fig = sweep.plot_sweep(df, "mask.rate", "relative_error", hue="solver")
    drawn = {line.get_label(): _key({"color": line.get_color(), "linestyle": line.get_linestyle(),
                                     "marker": line.get_marker()}) for line in fig.axes[0].get_lines()}
    assert set(drawn) == {"HALS", "with_history", "no_history"}
    assert len({k[0] for k in drawn.values()}) == 3  # three colours
    assert "refuses: not drawn (4 skipped)" in legend_texts(fig)
    assert "Not drawn (no job with status ok and a value of relative_error): refuses (4 skipped)." in \
        fig._supxlabel.get_text()


def test_convergence_names_the_solvers_without_a_history(records):
    df, hist = records
    fig = sweep.plot_convergence(hist, hue="solver", x="iteration", records=df)
    assert {line.get_label() for line in fig.axes[0].get_lines()} == {"HALS (4 jobs)", "with_history (4 jobs)"}
    assert "no_history: no history" in legend_texts(fig)
    assert "no_history (4 jobs, returned no history: see docs/extending.md)" in fig._supxlabel.get_text()
    # The own solver keeps the style it has in the sweep figure of the same records.
    sweep_fig = sweep.plot_sweep(df, "mask.rate", "relative_error", hue="solver")
    colours = [ln.get_color() for f in (fig, sweep_fig) for ln in f.axes[0].get_lines()
               if ln.get_label().startswith("with_history")]
    assert len(colours) == 2 and len(set(colours)) == 1


def declared(X, mask, *, rank, random_state, max_iter=20, squared=False):
    """Masked multiplicative Frobenius updates whose history is the declared loss (or, wrongly, its square)."""
    W = np.ones(X.shape, bool) if mask is None else mask
    Xo = np.where(W, X, 0.0)
    rng = np.random.default_rng(random_state)
    A, B = rng.random((X.shape[0], rank)) + 0.1, rng.random((rank, X.shape[1])) + 0.1

    def loss():
        value = nmfexp.metrics.weighted_frobenius(Xo, A @ B, W)
        return value**2 if squared else value

    objective = [loss()]
    for _ in range(max_iter):
        A *= (Xo @ B.T) / np.maximum((W * (A @ B)) @ B.T, 1e-12)
        B *= (A.T @ Xo) / np.maximum(A.T @ (W * (A @ B)), 1e-12)
        objective.append(loss())
    return nmfexp.FactorizationResult(A=A, B=B, n_iter=max_iter, solver="declared",
                                      history={"objective": np.array(objective),
                                               "time": np.linspace(0.0, 1e-3, max_iter + 1)})


def _warnings(w) -> list[str]:
    """A job's recorded warnings as the table holds them (a JSON list, NaN for none)."""
    return json.loads(w) if isinstance(w, str) else []


def _own_run(root, solver: dict, seed: int = 0) -> dict:
    return run({"dataset": {"kind": "uniform", "n_rows": 12}, "mask": {"kind": "random", "rate": 0.1},
                "solver": solver, "rank": 2, "timing": dict(QUICK), "seed": seed, "tag": "own"}, root)


def _suboptimality_figure(df, hist, tmp_path, monkeypatch):
    from nmfexp.figures import suboptimality as S

    saved = {}
    monkeypatch.setattr(S, "save_figure", lambda fig, d, stem: saved.setdefault(stem, fig) and [d / stem])
    S.plot_suboptimality(df, hist, tmp_path, x="time", hue="solver")
    return saved["suboptimality_vs_time"]


def test_a_target_solver_declares_its_loss_and_is_scored_beside_the_builtins(tmp_path, monkeypatch):
    root = tmp_path / "results"
    for seed in (0, 1):
        _own_run(root, {**target(declared), "loss": "frobenius"}, seed)
        _own_run(root, target(with_history), seed)  # declares nothing
        _own_run(root, {"name": "hals", "params": {"max_iter": 20}}, seed)
    df, hist = results.load_all(root)
    assert dict(zip(df["solver"], df["info.loss"], strict=True)) == {
        "declared": "frobenius", "with_history": "", "hals": "frobenius"}
    assert not df.loc[df["solver"] == "declared", "warnings"].map(_warnings).map(len).any()  # its history is the loss
    fig = _suboptimality_figure(df, hist, tmp_path, monkeypatch)
    (ax,) = fig.axes  # one loss: the Frobenius axis, the own solver beside HALS
    assert ax.get_title() == "Frobenius norm solvers" and len(ax.get_lines()) == 2
    assert {"HALS", "declared"} <= set(legend_texts(fig))
    # The own solver looks as it does in the convergence figure of the same records.
    conv = sweep.plot_convergence(hist, hue="solver", x="time", records=df)
    style = {ln.get_label().split(" (")[0]: (to_rgba(ln.get_color()), ln.get_linestyle())
             for ln in conv.axes[0].get_lines()}
    handles = {h.get_label(): (to_rgba(h.get_color()), h.get_linestyle()) for lg in fig.legends
               for h in lg.legend_handles if h.get_label() in ("HALS", "declared")}
    assert handles == {k: style[k] for k in ("HALS", "declared")}
    assert "with_history: not drawn,\nno declared loss" in legend_texts(fig)
    assert "Not drawn, no declared loss: with_history (2 jobs); declare what its objective measures: loss: " \
        "frobenius (or kl)" in fig.get_supxlabel().replace("\n", " ")


def test_a_history_on_another_scale_than_the_declared_loss_is_recorded_with_a_warning(tmp_path):
    root = tmp_path / "results"
    bad = {**target(declared), "loss": "frobenius", "params": {"squared": True}}
    assert _own_run(root, bad)["status"] == "ok"
    df, _ = results.load_all(root)
    warned = _warnings(df["warnings"].iloc[0])
    assert len(warned) == 1 and warned[0].startswith("HistoryScaleWarning: solver 'declared' declares loss "
                                                     "'frobenius', but its history's last objective")


def test_a_target_solver_with_an_unknown_loss_is_refused_before_it_runs(tmp_path):
    with pytest.raises(ValueError, match="solver.loss must be kl or frobenius"):
        _own_run(tmp_path / "results", {**target(declared), "loss": "l1"})
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.h5"))


def test_the_convergence_figure_splits_solvers_unless_told_otherwise(tmp_path):
    from nmfexp import plotting

    root = tmp_path / "results"
    for solver in (target(declared), {"name": "hals", "params": {"max_iter": 20}}):
        _own_run(root, solver)
    assert plotting.main([str(root), "--plots-dir", str(tmp_path / "p"), "--convergence"]) == 0
    assert (tmp_path / "p" / "convergence_time_by_solver.png").is_file()  # not one band pooling both
    assert not (tmp_path / "p" / "convergence_time.png").exists()


def _colliding_names() -> tuple[str, str]:
    """Two names that :func:`solver_style` without a position would give one style."""
    seen = {}
    for k in range(1000):
        name = f"mine{k}"
        key = _key(solver_style(name))
        if key in seen:
            return seen[key], name
        seen[key] = name
    raise AssertionError("no two names share a style")


def test_corpus_profiles_give_two_own_solvers_two_styles(monkeypatch, tmp_path):
    """Two own solvers whose names hash to one style still differ in the corpus zoo's profiles."""
    import pandas as pd
    from _helpers import capture_figures

    from nmfexp.figures import corpus

    a, b = _colliding_names()
    figures = capture_figures(monkeypatch, corpus)
    r = pd.DataFrame({"hals": [1.0, 2.0], a: [1.5, 1.0], b: [3.0, 1.2]}, index=["T/a", "T/b"])
    sel = pd.DataFrame({"solver": ["hals", a, b], "status": "ok", "tag": "real_data_corpus_zoo"})
    corpus.plot_corpus_zoo({"held-out error": r}, sel, tmp_path)
    handles = figures["corpus_zoo_profiles"].legends[0].legend_handles
    colours = {h.get_label(): to_rgba(h.get_color()) for h in handles}
    assert colours[a] != colours[b] and len(set(colours.values())) == 3
