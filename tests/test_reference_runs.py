"""Reference runs for f*: the solver_reference presets solve the zoo's own problems, their values count towards
f* (and nothing else), ``nmfexp-reproduce`` runs them first, and the figures and tools never draw or compare them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nmfexp.analysis import best_known
from nmfexp.cli.plugins import register
from nmfexp.experiment.config import config_dir
from nmfexp.figures.suboptimality import REFERENCE_TAGS, split_reference, suboptimality_runs
from nmfexp.figures.zoo import reference_table

#: What defines a problem in the zoo (nmfexp.analysis.problem_columns), as config keys.
_PROBLEM_KEYS = ("dataset", "mask", "rank", "holdout", "holdout_design")
#: Sweep axes that enumerate the problems.
_PROBLEM_AXES = ("dataset.true_rank", "mask.rate", "seed")


def _composed(preset: str) -> tuple[dict, dict]:
    register()  # the schemas and the experiments folder, as nmfexp-run has them
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[f"+experiment={preset}"], return_hydra_config=True)
    plain = OmegaConf.to_container(cfg, resolve=False)
    problem = {k: plain[k] for k in _PROBLEM_KEYS}
    axes = {k: v for k, v in plain["hydra"]["sweeper"]["params"].items() if k in _PROBLEM_AXES}
    return problem, axes


@pytest.mark.parametrize("suffix", ["", "_quick"], ids=["full", "quick"])
def test_the_reference_presets_solve_exactly_the_zoos_problems(suffix):
    """Same data, mask, held-out entries and rank, over the same grid: otherwise no reference run would share a
    problem key with a zoo run and f* would silently be the zoo's alone."""
    zoo, zoo_axes = _composed(f"solver_comparison{suffix}")
    ref, ref_axes = _composed(f"solver_reference{suffix}")
    assert ref == zoo
    assert ref_axes == zoo_axes and set(ref_axes) == set(_PROBLEM_AXES)


def _records(rows: list[dict], tag: str) -> pd.DataFrame:
    base = {"status": "ok", "dataset": "lowrank", "mask": "random", "mask_rate": 0.1, "holdout": 0.1, "rank": 5,
            "n_rows": 20, "n_cols": 20, "tag": tag, "stop_reason": "tol", "converged": True, "n_iter": 10,
            "runtime_median": 0.01, "weighted_kl": np.nan}
    return pd.DataFrame([{**base, **r} for r in rows])


ZOO = _records([{"job": "z1", "solver": "hals", "seed": 0, "weighted_frobenius": 2.0},
                {"job": "z2", "solver": "als", "seed": 0, "weighted_frobenius": 2.5},
                {"job": "z3", "solver": "hals", "seed": 1, "weighted_frobenius": 3.0}], "solver_comparison")
REF = _records([{"job": "r1", "solver": "hals", "seed": 0, "weighted_frobenius": 1.6},
                {"job": "r2", "solver": "hals", "seed": 1, "weighted_frobenius": 3.3},  # worse: the zoo's stays
                {"job": "r3", "solver": "hals", "seed": 7, "weighted_frobenius": 0.1}],  # a problem the zoo lacks
               "solver_reference")


def test_reference_values_set_fstar_but_add_no_problem_and_no_record_count():
    own = best_known(ZOO)
    both = best_known(ZOO, reference=REF)
    assert len(both) == len(own) == 2  # seeds 0 and 1; seed 7 is not a problem of the zoo
    by_seed = both.set_index("seed")
    assert by_seed.loc[0, "fstar"] == 1.6 and by_seed.loc[0, "source"] == "reference"
    assert by_seed.loc[0, "job"] == "r1"
    assert by_seed.loc[1, "fstar"] == 3.0 and by_seed.loc[1, "source"] == "final"
    assert list(both["n_records"]) == list(own["n_records"])  # the zoo's records only
    assert list(both["problem"]) == list(own["problem"])  # the zoo's keys, unchanged by the reference


def test_suboptimality_is_against_the_reference_and_reference_runs_are_not_drawn():
    _, ends = suboptimality_runs(ZOO, None, REF)
    sub = ends.set_index("job")["suboptimality"]
    assert set(sub.index) == {"z1", "z2", "z3"}
    np.testing.assert_allclose([sub["z1"], sub["z2"], sub["z3"]], [2.0 / 1.6 - 1, 2.5 / 1.6 - 1, 0.0])
    _, alone = suboptimality_runs(ZOO, None)
    assert alone.set_index("job").loc["z1", "suboptimality"] == 0.0


def test_reference_table_says_what_the_reference_runs_changed():
    table = reference_table(ZOO, None, REF)
    row = table.iloc[0]
    assert (row["rank"], row["loss"], row["problems"], row["lower by > 1e-6"]) == (5, "frobenius", 2, 1)
    assert row["f* lower by (max)"] == pytest.approx(2.0 / 1.6 - 1)
    assert row["f* lower by (median)"] == pytest.approx((2.0 / 1.6 - 1) / 2)
    assert row["reference runs"] == 3 and row["reference runs converged"] == "3/3"
    assert reference_table(ZOO, None, REF.iloc[0:0]).empty


def test_records_tagged_as_reference_runs_are_split_off():
    both = pd.concat([ZOO, REF.assign(tag=REFERENCE_TAGS[1])], ignore_index=True)
    drawn, reference = split_reference(both)
    assert list(drawn["job"]) == ["z1", "z2", "z3"] and list(reference["job"]) == ["r1", "r2", "r3"]


def test_reproduce_runs_the_reference_first_into_the_zoos_folder(tmp_path, monkeypatch):
    """The zoo's figures read the reference records from its own folder, with --only too."""
    from nmfexp import reproduce

    ran = []
    monkeypatch.setattr(reproduce, "run_preset", lambda preset, results_dir, extra=None, *, submit_only=False,
                        folder=None: ran.append((preset, Path(folder).relative_to(tmp_path / "r"))) or 0)
    monkeypatch.setattr(reproduce, "data_overrides", lambda preset: ([], {}))
    (tmp_path / "r").mkdir()
    assert reproduce.main(["--quick", "--only", "solver_comparison", "--results-dir", str(tmp_path / "r"),
                           "--plots-dir", str(tmp_path / "p")]) == 0
    assert ran == [("solver_reference_quick", Path("solver_comparison/reference")),
                   ("solver_comparison_quick", Path("solver_comparison"))]


def test_the_readme_claim_about_reference_runs_is_computed_from_them():
    from nmfexp.analysis.claims import zoo_claims

    claims = zoo_claims(pd.concat([ZOO, REF], ignore_index=True)).set_index("id")["value"]
    # seed 0: the reference is 25% lower than the zoo's best; seed 1: the zoo's own value stands
    assert claims["zoo-rank5-frobenius-reference"] == "1/2, 12%"
    assert "zoo-rank5-frobenius-reference" not in set(zoo_claims(ZOO)["id"])
