"""The solver-comparison artifact: every claim a caption makes about which solver is better is
recomputed here from the records by hand; the table's convergence and stop-reason columns."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from _helpers import capture_figures

from nmfexp.figures import suboptimality, zoo
from nmfexp.figures.style import solver_style

FRO = ("hals", "als", "column_mean", "soft_impute")


def zoo_records(seed: int = 0, shift: dict | None = None):
    """Random records of the zoo: 2 ranks x 2 missing rates x 3 seeds, three iterative solvers with
    histories ending at their final value, a closed-form baseline and an infeasible one."""
    rng = np.random.default_rng(seed)
    shift = shift or {}
    rows, hist = [], []
    for rank in (1, 2):
        for rate in (0.1, 0.2):
            for s in range(3):
                for solver in ("hals", "als", "wnmf_kl", "column_mean", "soft_impute"):
                    job = f"{solver}-{rank}-{rate}-{s}"
                    fro, kl = 1.0 + rng.random(), 2.0 + rng.random()
                    held = 0.01 * (1 + rng.random()) * (5 if solver in ("column_mean", "soft_impute") else 1)
                    held *= shift.get(solver, 1.0)
                    iterative = solver in ("hals", "als", "wnmf_kl")
                    capped = iterative and s == 2 and solver == "als"
                    rows.append(dict(job=job, tag="solver_comparison", status="ok", solver=solver, dataset="lowrank",
                                     mask="random", mask_rate=rate, n_rows=30, n_cols=30, rank=rank, seed=s,
                                     holdout=0.1, weighted_frobenius=fro, weighted_kl=kl,
                                     heldout_relative_error=held, runtime_median=0.01 * (1 + rng.random()),
                                     n_iter=2 if iterative else 0, converged=not capped,
                                     stop_reason="max_iter" if capped else ("tol" if iterative else "closed_form"),
                                     **{"info.loss": "kl" if solver == "wnmf_kl" else "frobenius"}))
                    if iterative:
                        final = kl if solver == "wnmf_kl" else fro
                        for it, v in enumerate((final * 3, final * 1.5, final)):
                            hist.append(dict(job=job, iteration=it, time=0.001 * it, objective=v))
    return pd.DataFrame(rows), pd.DataFrame(hist)


def hand_claims(df: pd.DataFrame) -> dict:
    """The claims, computed by hand: f* per problem and loss over the feasible records (soft_impute
    excluded; the histories end at the final values and start above them, so they change nothing)."""
    out = {}
    feasible = df[df["solver"] != "soft_impute"]
    problem = ["rank", "mask_rate", "seed"]
    fstar = {"frobenius": feasible.groupby(problem)["weighted_frobenius"].min(),
             "kl": feasible.groupby(problem)["weighted_kl"].min()}
    for rank, g in df.groupby("rank"):
        med = g.groupby("solver")["heldout_relative_error"].median()
        out[(rank, "held-out error")] = (set(med[med <= med.min() * 1.01].index), med.min())
        base = med[med.index.isin(["column_mean", "row_col_mean", "soft_impute"])]
        out[(rank, "held-out error, baselines")] = (set(base[base <= base.min() * 1.01].index), base.min())
        for loss, measure in (("frobenius", "weighted_frobenius"), ("kl", "weighted_kl")):
            part = g[g["info.loss"] == loss]
            f = fstar[loss].reindex(pd.MultiIndex.from_frame(part[problem])).to_numpy()
            sub = pd.Series((part[measure].to_numpy() - f) / f, index=part.index).groupby(part["solver"]).median()
            tied = sub[sub <= sub.min() + max(0.01 * abs(sub.min()), 1e-6)]
            out[(rank, f"suboptimality, {loss}")] = (set(tied.index), sub.min())
    return out


def caption_claims(text: str) -> dict:
    labels = {solver_style(s)["label"]: s for s in ("hals", "als", "wnmf_kl", "column_mean", "soft_impute")}
    text = " ".join(text.split())
    out = {}
    for rank, body in re.findall(r"Rank (\d+): (.*?)(?=\. Rank \d|\. \(Solvers)", text):
        for claim, names, value in re.findall(r"lowest median (.*?): (.*?) \(([-0-9.e+]+)\)", body):
            out[(int(rank), claim)] = ({labels[n] for n in names.split(" = ")}, float(value))
    return out


@pytest.fixture
def captured(monkeypatch):
    return capture_figures(monkeypatch, zoo, suboptimality)


@pytest.mark.parametrize("shift", [None, {"als": 0.2}, {"column_mean": 0.3, "hals": 3.0}])
def test_every_caption_claim_holds_on_the_records(captured, tmp_path, shift):
    df, hist = zoo_records(shift=shift)
    zoo.plot_solver_comparison(df, hist, tmp_path)
    expected = hand_claims(df)
    said = {}
    for stem in ("zoo_heldout_error", "zoo_objective_vs_time", "zoo_objective_vs_iteration"):
        said.update(caption_claims(captured[stem].get_supxlabel()))
    assert set(said) == set(expected)  # every claim is made, and no other
    for key, (solvers, value) in expected.items():
        assert said[key][0] == solvers, key
        assert said[key][1] == pytest.approx(value, rel=1e-2, abs=1e-12), key


def test_a_claim_follows_the_records_not_the_code():
    # make ALS clearly the most accurate: the claim must name it, and only it
    df, hist = zoo_records(shift={"als": 0.1})
    claims = zoo.zoo_claims(df, hist).set_index(["rank", "claim"])
    assert claims.loc[(1, "held-out error"), "solver"] == "als"
    df2, hist2 = zoo_records(shift={"hals": 0.1})
    assert zoo.zoo_claims(df2, hist2).set_index(["rank", "claim"]).loc[(1, "held-out error"), "solver"] == "hals"


def test_the_held_out_figure_draws_the_best_baseline(captured, tmp_path):
    df, hist = zoo_records(shift={"soft_impute": 0.5})
    zoo.plot_solver_comparison(df, hist, tmp_path)
    fig = captured["zoo_heldout_error"]
    for ax, rank in zip(fig.axes, (1, 2), strict=True):
        line = [ln for ln in ax.get_lines() if ln.get_label() == "best baseline"]
        assert len(line) == 1
        g = df[(df["rank"] == rank) & df["solver"].isin(["column_mean", "soft_impute"])]
        best = g.groupby(["mask_rate", "solver"])["heldout_relative_error"].median().groupby("mask_rate").min()
        assert list(line[0].get_ydata()) == pytest.approx(list(best))
        assert len(ax.containers) == 3  # error bars of hals, als, wnmf_kl; the baselines are the reference line


def test_the_table_states_convergence_and_stop_reasons(tmp_path):
    df, hist = zoo_records()
    table = zoo.zoo_summary(df, hist).set_index(["solver", "rank"])
    assert table.loc[("als", 1), "converged"] == "4/6"  # seed 2 at both rates stopped by max_iter
    assert table.loc[("als", 1), "stop reasons"] == "max_iter: 2, tol: 4"
    assert table.loc[("column_mean", 1), "stop reasons"] == "closed_form: 6"
    g = df[(df["solver"] == "hals") & (df["rank"] == 2)]
    assert table.loc[("hals", 2), "update time (s, median)"] == pytest.approx(g["runtime_median"].median())
    assert table.loc[("hals", 2), "objective (median)"] == pytest.approx(g["weighted_frobenius"].median())
    assert table.loc[("wnmf_kl", 2), "loss"] == "kl"
