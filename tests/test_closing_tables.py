"""The closing tables of ``nmfexp-results tables``, recomputed by hand from hand-made records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_zoo_claims import zoo_records

from nmfexp.figures.closing import budget_of, zoo_closing_table
from nmfexp.results import main


def spread(values) -> str:
    q25, med, q75 = np.percentile(np.asarray(values, float), [25, 50, 75])
    return f"{med:.4g} [{q25:.4g}, {q75:.4g}]"


def test_zoo_table_gives_every_solver_its_spread_convergence_and_stop_reasons():
    df, hist = zoo_records()
    table = zoo_closing_table(df, hist, ranks=(2,))
    assert set(table["rank"]) == {2} and set(table["solver"]) == set(df["solver"])
    for _, row in table.iterrows():
        mine = df[(df["rank"] == 2) & (df["solver"] == row["solver"])]
        assert row["held-out error"] == spread(mine["heldout_relative_error"])
        assert row["runs"] == len(mine) == 6
        capped = int((mine["stop_reason"] == "max_iter").sum())
        assert row["converged"] == f"{len(mine) - capped}/{len(mine)}"
        assert (f"max_iter: {capped}" in row["stop reasons"]) == (capped > 0)
    # Lowest median held-out error first.
    medians = [df[(df["rank"] == 2) & (df["solver"] == s)]["heldout_relative_error"].median() for s in table["solver"]]
    assert medians == sorted(medians)


def test_zoo_table_suboptimality_is_zero_for_the_best_run_of_each_problem():
    df, hist = zoo_records()
    table = zoo_closing_table(df, hist, ranks=(1, 2))
    frob = df[(df["solver"] != "soft_impute") & (df["info.loss"] == "frobenius")]
    best = frob.loc[frob.groupby(["rank", "mask_rate", "seed"])["weighted_frobenius"].idxmin()]
    for (rank, solver), g in best.groupby(["rank", "solver"]):
        if len(g) == 6:  # every problem of the rank: the solver's median suboptimality is 0
            row = table[(table["rank"] == rank) & (table["solver"] == solver)].iloc[0]
            assert row["suboptimality (f - f*)/f*"].startswith("0 [")


def test_the_budget_is_read_from_the_records():
    df, _ = zoo_records()
    assert budget_of(df) == "not recorded"
    assert budget_of(df.assign(**{"budget.kind": "iterations"})).startswith("iterations (each solver's own")
    timed = df.assign(**{"budget.kind": "time", "budget.seconds": 2.0})
    assert budget_of(timed) == "time (2 s of update time per run)"
    mixed = pd.concat([timed, df.assign(**{"budget.kind": "converged", "budget.tol": 1e-5})])
    assert budget_of(mixed) == "converged (stationarity tol 1e-05) + time (2 s of update time per run)"


def test_tables_command_refuses_a_missing_path_and_bad_ranks(tmp_path, capsys):
    assert main(["tables", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["tables", str(tmp_path), "--ranks", "five"]) == 2
    assert "--ranks takes comma-separated integers" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["tables", "claims"])
def test_a_folder_without_records_is_a_clear_error(tmp_path, capsys, command):
    assert main([command, str(tmp_path)]) == 2
    assert f"no records under {tmp_path}" in capsys.readouterr().err


def test_the_report_states_each_artifacts_budget_from_its_records(tmp_path):
    from nmfexp.figures.report import write_report

    df, hist = zoo_records()
    df = df.assign(**{"budget.kind": "time", "budget.seconds": 0.25})
    (tmp_path / "zoo_table.csv").write_text("a\n1\n")
    (tmp_path / "zoo_table.md").write_text("| a |\n|---|\n| 1 |\n")
    outcome = type("Outcome", (), {"df": df, "written": {"solver_comparison": [tmp_path / "zoo_table.csv"]},
                                   "errors": {}})()
    page = write_report(outcome, tmp_path).read_text(encoding="utf-8")
    assert page.count("Budget of these records: time (0.25 s of update time per run).") >= 2  # section + caption
    assert "budget=time, 0.5 s" not in page


def test_one_table_by_name_says_whether_it_is_in_the_corpus():
    from nmfexp.data.corpus import corpus_tables
    from nmfexp.figures.closing import table_rows

    empty = pd.DataFrame({"dataset": pd.Series(dtype=str), "tag": pd.Series(dtype=str)})
    listed = corpus_tables()
    name = listed["table"].iloc[0]
    found = table_rows(empty, None, name)
    assert found["catalogue"]["n_cols"].tolist() == [listed["n_cols"].iloc[0]]
    assert found["corpus"].empty and found["solvers"].empty
    assert table_rows(empty, None, "no_package/no_table")["catalogue"].empty


def test_one_table_by_name_scores_its_solvers_against_the_tables_best(tmp_path):
    from nmfexp.figures.closing import table_rows

    df, _ = zoo_records()
    one = df[(df["rank"] == 1) & (df["mask_rate"] == 0.1) & (df["seed"] == 0)].assign(
        tag="real_data_corpus_zoo", dataset="pkg/t")
    solvers = table_rows(one, None, "pkg/t")["solvers"]
    feasible = one[one["solver"] != "soft_impute"]
    for loss, measure in (("frobenius", "weighted_frobenius"), ("kl", "weighted_kl")):
        mine = solvers[solvers["loss"] == loss].set_index("solver")
        fstar = feasible[measure].min()
        for solver, row in mine.iterrows():
            value = one.loc[one["solver"] == solver, measure].iloc[0]
            assert row["value"] == value and row["fstar"] == fstar
            assert row["suboptimality"] == pytest.approx((value - fstar) / fstar)


def test_one_table_counts_its_reference_runs_towards_f_star():
    from nmfexp.analysis.problems import CORPUS_REFERENCE_TAG
    from nmfexp.figures.closing import table_rows

    df, _ = zoo_records()
    one = df[(df["rank"] == 1) & (df["mask_rate"] == 0.1) & (df["seed"] == 0)].assign(
        tag="real_data_corpus_zoo", dataset="pkg/t")
    best = one[one["solver"] == "hals"].iloc[[0]]
    ref = best.assign(tag=CORPUS_REFERENCE_TAG, job="ref-hals", weighted_frobenius=best["weighted_frobenius"] * 0.5)
    solvers = table_rows(pd.concat([one, ref], ignore_index=True), None, "pkg/t")["solvers"]
    fro = solvers[solvers["loss"] == "frobenius"]
    assert (fro["fstar"] == ref["weighted_frobenius"].iloc[0]).all()
    assert (fro["suboptimality"] > 0.9).all()  # every zoo run is at least twice the reference's value
    assert "ref-hals" not in set(solvers.get("job", []))  # the reference run is not one of the table's solvers
    assert len(solvers) == len(table_rows(one, None, "pkg/t")["solvers"])


QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    """Records in a folder: the corpus zoo on two data sets, and a small synthetic zoo at rank 2."""
    from nmfexp.experiment import run

    root = tmp_path_factory.mktemp("closing") / "results"
    for tag, kinds in (("real_data_corpus_zoo", ("uniform", "lowrank")), ("solver_comparison", ("lowrank",))):
        for kind in kinds:
            for solver in ("hals", "wnmf_kl", "column_mean"):
                params = {} if solver == "column_mean" else {"max_iter": 5}
                data = {"kind": kind, "n_rows": 12, **({"true_rank": 2} if kind == "lowrank" else {})}
                run({"dataset": data, "mask": {"kind": "random", "rate": 0.1},
                     "solver": {"name": solver, "params": params}, "rank": 2, "holdout": 0.1, "timing": dict(QUICK),
                     "seed": 0, "tag": tag}, root / tag)
    return root


def test_tables_of_one_data_set_read_only_its_records(on_disk, monkeypatch, capsys):
    """`tables --table NAME` reads the histories of NAME's records alone, not every record of the folder."""
    import nmfexp.results as results_mod

    results_mod.load(on_disk)  # the catalogue, as a first `load` or `summary` leaves it
    read = []
    real = results_mod.iter_records
    monkeypatch.setattr(results_mod, "iter_records", lambda path, **kw: (read.append(str(path)), real(path, **kw))[1])
    assert main(["tables", str(on_disk), "--table", "uniform"]) == 0
    out = capsys.readouterr().out
    assert "Corpus zoo: each solver on its own loss" in out and "wnmf_kl" in out
    table = results_mod.load(on_disk)
    mine = set(table.loc[table["dataset"] == "uniform", "path"])
    assert read and set(read) <= mine, read  # no folder, and no file of another data set


def test_tables_give_what_the_full_histories_give(on_disk, capsys):
    from nmfexp.figures.closing import table_rows
    from nmfexp.results import load_all

    assert main(["tables", str(on_disk), "--ranks", "2"]) == 0
    out = capsys.readouterr().out
    df, hist = load_all(on_disk)
    expected = zoo_closing_table(df, hist, [2])
    assert len(expected) and expected.to_markdown(index=False) in out
    assert main(["tables", str(on_disk), "--table", "lowrank"]) == 0
    out = capsys.readouterr().out
    assert table_rows(df, hist, "lowrank")["solvers"].to_markdown(index=False, floatfmt=".6g") in out
