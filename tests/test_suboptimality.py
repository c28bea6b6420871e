"""Suboptimality figures: f* from the records, bands computed by hand, caps and closed forms marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nmfexp.figures import suboptimality as S
from nmfexp.figures.cli import main as plot_main

BASE = dict(tag="solver_comparison", status="ok", dataset="lowrank", mask="random", mask_rate=0.2, n_rows=20,
            n_cols=20, rank=2, seed=0, holdout=0.1, runtime_median=0.5)


def records():
    """One problem. Frobenius: 'a' twice (as two variants, hue 'variant'), 'b' reaches f* = 1 at its end;
    'soft_impute' goes below f* but is no feasible NMF point. KL: 'k' alone, f* = its own best iterate 2."""
    df = pd.DataFrame([
        dict(BASE, job="a1", solver="a", variant="v1", weighted_frobenius=2.0, weighted_kl=9.0, n_iter=2,
             converged=True, **{"info.loss": "frobenius"}),
        dict(BASE, job="a2", solver="a", variant="v2", weighted_frobenius=1.5, weighted_kl=9.0, n_iter=2,
             converged=False, **{"info.loss": "frobenius"}),
        dict(BASE, job="b", solver="b", variant="v1", weighted_frobenius=1.0, weighted_kl=9.0, n_iter=1,
             converged=True, **{"info.loss": "frobenius"}),
        dict(BASE, job="s", solver="soft_impute", variant="v1", weighted_frobenius=0.5, weighted_kl=9.0, n_iter=0,
             converged=True, runtime_median=0.25, **{"info.loss": "frobenius"}),
        dict(BASE, job="k", solver="k", variant="v1", weighted_frobenius=5.0, weighted_kl=2.0, n_iter=2,
             converged=False, **{"info.loss": "kl"}),
    ])
    hist = pd.DataFrame({
        "job": ["a1"] * 3 + ["a2"] * 3 + ["b"] * 2 + ["k"] * 3,
        "iteration": [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 2],
        "time": [0.0, 1.0, 2.0, 0.0, 1.0, 3.0, 0.0, 1.0, 0.0, 1.0, 2.0],
        "objective": [5.0, 3.0, 2.0, 9.0, 4.0, 1.5, 3.0, 1.0, 10.0, 4.0, 2.0]})
    return df, hist


def test_runs_are_scored_on_their_own_loss_against_feasible_records_only():
    df, hist = records()
    curves, ends = S.suboptimality_runs(df, hist)
    e = ends.set_index("job")
    # Frobenius f* = 1 (b), not soft_impute's 0.5; the KL solver against KL's f* = 2 (every record counts for both losses)
    assert e.loc["a1", "suboptimality"] == pytest.approx((2.0 - 1.0) / 1.0)
    assert e.loc["a2", "suboptimality"] == pytest.approx(0.5)
    assert e.loc["s", "suboptimality"] == pytest.approx(-0.5)
    assert e.loc["k", "loss"] == "kl" and e.loc["k", "suboptimality"] == 0.0
    c = curves[curves["job"] == "a2"]
    assert list(c["suboptimality"]) == pytest.approx([8.0, 3.0, 0.5])
    # closed form without a history: its end point at its update time; a history's last iterate otherwise
    assert not e.loc["s", "has_curve"] and e.loc["s", "time"] == 0.25 and e.loc["s", "iteration"] == 0
    assert e.loc["a2", "has_curve"] and e.loc["a2", "time"] == 3.0
    assert list(e["converged"]) == [True, False, True, True, False]


def test_bands_are_the_quantiles_over_runs_computed_by_hand():
    df, hist = records()
    bands = S.suboptimality_bands(df, hist, x="iteration", hue="solver")
    a = bands[(bands["hue"] == "a") & (bands["loss"] == "frobenius")].set_index("x")
    # a1: 4, 2, 1; a2: 8, 3, 0.5 (objective / 1 - 1 per iteration)
    runs = np.array([[4.0, 2.0, 1.0], [8.0, 3.0, 0.5]])
    for it in range(3):
        lo, mid, hi = np.percentile(runs[:, it], [10, 50, 90])
        assert (a.loc[it, "q10"], a.loc[it, "q50"], a.loc[it, "q90"]) == pytest.approx((lo, mid, hi))
    assert (a["runs"] == 2).all()
    # b stops after iteration 1 at f* itself: held there, drawn at the floor
    b = bands[bands["hue"] == "b"].set_index("x")
    assert b.loc[1, "q50"] == S.FLOOR and list(b.index) == [0, 1]
    # by time, a2's last iterate (t = 3) extends its band; a1 holds its last value 1 after t = 2
    t = S.suboptimality_bands(df, hist, x="time", hue="solver")
    at = t[(t["hue"] == "a")]
    late = at[at["x"] >= 2.5].iloc[0]
    assert late["q50"] == pytest.approx(np.percentile([1.0, 3.0], 50))
    # another hue column splits the runs its way
    v = S.suboptimality_bands(df, hist, x="iteration", hue="variant")
    assert set(v[v["loss"] == "frobenius"]["hue"]) == {"v1", "v2"}


def test_stop_reason_decides_convergence_when_recorded():
    df = pd.DataFrame({"converged": [True, True, False, True],
                       "stop_reason": ["tol", "max_iter", "closed_form", None]})
    assert list(S.converged(df)) == [True, False, True, True]
    assert list(S.converged(pd.DataFrame({"x": [1]}))) == [False]  # says neither: never called converged


def test_the_figure_marks_capped_runs_and_separates_the_losses(tmp_path, monkeypatch):
    df, hist = records()
    saved = {}
    monkeypatch.setattr(S, "save_figure", lambda fig, d, stem: saved.setdefault(stem, fig) and [Path(d) / stem])
    S.plot_suboptimality(df, hist, tmp_path, x="time")
    fig = saved["suboptimality_vs_time"]
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["KL divergence solvers", "Frobenius norm solvers"]
    kl, fro = fig.axes
    # the capped runs: a2 (Frobenius) at t = 3 and k (KL) at t = 2, nothing else crossed
    offsets = sorted(tuple(o) for ax in (kl, fro) for c in ax.collections
                     for o in np.asarray(c.get_offsets()) if c.get_facecolor().size and c.get_linewidths()[0] == 1.1)
    assert offsets == [(2.0, S.FLOOR), (3.0, 0.5)]
    assert "2 of 4 iterative runs stopped by a cap" in fig.get_supxlabel().replace("\n", " ")


def test_the_command_draws_it_and_refuses_bad_axes(tmp_path, monkeypatch, capsys):
    df, hist = records()
    monkeypatch.setattr("nmfexp.figures.artifacts.read_results", lambda path: (df, hist, None))
    (tmp_path / "r").mkdir()
    assert plot_main([str(tmp_path / "r"), "--suboptimality", "--x", "iteration", "--plots-dir",
                      str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "suboptimality_vs_iteration.png").exists()
    table = pd.read_csv(tmp_path / "p" / "suboptimality_vs_iteration.csv")
    assert {"loss", "hue", "x", "q10", "q50", "q90", "runs"} <= set(table.columns)
    with pytest.raises(SystemExit):
        plot_main([str(tmp_path / "r"), "--suboptimality", "--x", "n_rows"])
    assert "--x is one of time, iteration" in capsys.readouterr().err
    assert plot_main([str(tmp_path / "r"), "--suboptimality", "--hue", "nope", "--plots-dir", str(tmp_path)]) == 2
    assert "'nope' is not a column" in capsys.readouterr().err
