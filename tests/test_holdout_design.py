"""The held-out design A1GM survives (holdout_design=within_gaps) and the default that changes nothing."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import nmfexp
from nmfexp.data.masks import HOLDOUT_DESIGNS, holdout_candidates, holdout_split
from nmfexp.experiment import ConfigError, Job, run
from nmfexp.experiment.config import RUN_CONTROL_KEYS
from nmfexp.results import load

QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0}


def _own_gaps(rng, n=30, m=12, rate=0.04) -> np.ndarray:
    """A mask with scattered gaps (not grid-like) and at least one complete row and column."""
    observed = rng.random((n, m)) > rate
    observed[0], observed[:, 0] = True, True
    return observed


@pytest.mark.parametrize("seed", range(5))
def test_within_gaps_holds_out_only_cells_in_rows_and_columns_with_gaps(seed):
    rng = np.random.default_rng(seed)
    observed = _own_gaps(rng)
    train, heldout = holdout_split(observed, 0.3, np.random.default_rng(seed), "within_gaps")
    rows, cols = np.unravel_index(heldout, observed.shape)
    assert heldout.size > 0
    assert (~observed.all(axis=1))[rows].all() and (~observed.all(axis=0))[cols].all()  # rows/cols had gaps
    assert observed.ravel()[heldout].all() and not train.ravel()[heldout].any()
    np.testing.assert_array_equal(train | np.isin(np.arange(observed.size), heldout).reshape(observed.shape),
                                  observed)
    # the same rows and columns have gaps before and after: A1GM's grid grows by nothing
    np.testing.assert_array_equal(train.all(axis=1), observed.all(axis=1))
    np.testing.assert_array_equal(train.all(axis=0), observed.all(axis=0))
    # 30% of the candidates, and the candidates are exactly the observed cells of the gap rows x gap columns
    cand = holdout_candidates(observed, "within_gaps")
    assert heldout.size == round(0.3 * cand.size)
    oracle = [i * observed.shape[1] + j for i in range(observed.shape[0]) for j in range(observed.shape[1])
              if observed[i, j] and not observed[i].all() and not observed[:, j].all()]
    np.testing.assert_array_equal(cand, oracle)


def test_uniform_is_the_former_draw():
    observed = _own_gaps(np.random.default_rng(1))
    train, heldout = holdout_split(observed, 0.1, np.random.default_rng(7))
    candidates = np.flatnonzero(observed)  # the 0.2.0 rule: every observed entry
    expected = np.sort(np.random.default_rng(7).choice(candidates, size=round(0.1 * candidates.size), replace=False))
    np.testing.assert_array_equal(heldout, expected)
    np.testing.assert_array_equal(holdout_candidates(observed), candidates)
    with pytest.raises(ValueError, match="holdout_design"):
        holdout_candidates(observed, "rows")


@pytest.mark.parametrize("seed", range(3))
def test_a1gm_fits_the_same_factors_with_and_without_the_held_out_entries(seed):
    rng = np.random.default_rng(seed)
    X = rng.random((30, 12)) + 0.1
    observed = _own_gaps(rng)
    full = nmfexp.factorize(X, observed, solver="a1gm")
    train, _ = holdout_split(observed, 0.5, np.random.default_rng(seed), "within_gaps")
    held = nmfexp.factorize(X, train, solver="a1gm")
    for key in ("n_rows_with_missing", "n_cols_with_missing"):
        assert held.info[key] == full.info[key]
    assert held.info["n_missing"] + held.info["n_missing_added"] == full.info["n_missing"] + full.info["n_missing_added"]
    np.testing.assert_array_equal(held.reconstruct(), full.reconstruct())
    # whereas a uniform held-out set of the same size adds rows and columns with gaps (the test can fail)
    k = observed.size - np.count_nonzero(train) - (observed.size - np.count_nonzero(observed))
    uni = observed.copy()
    uni.ravel()[np.random.default_rng(seed).choice(np.flatnonzero(observed), size=k, replace=False)] = False
    assert (~uni.all(axis=1)).sum() + (~uni.all(axis=0)).sum() > full.info["n_rows_with_missing"] + \
        full.info["n_cols_with_missing"]


def _conf(**extra) -> dict:
    c = {"dataset": {"kind": "uniform", "name": "uniform", "n_rows": 40, "n_cols": 10},
         "mask": {"kind": "random", "rate": 0.03}, "solver": {"name": "a1gm"}, "timing": dict(QUICK), "seed": 3,
         "holdout": 0.1, "tag": "t"}
    c.update(extra)
    return c


def test_the_default_design_changes_no_job_key_nor_seed():
    job = Job.from_config(_conf(), "/tmp/unused")
    # the 0.2.0 rule, written out: sha256 of the canonical JSON of every key but the run-control ones
    # (0.2.0 configs had neither holdout_design nor budget; their defaults stay out of the identity)
    identity = {k: v for k, v in job.config.items()
                if k not in RUN_CONTROL_KEYS and k not in ("holdout_design", "budget")}
    identity["mask"] = {k: v for k, v in identity["mask"].items() if k != "share"}  # share: `rows` masks only
    old_key = hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":"),
                                        default=str).encode()).hexdigest()[:16]
    assert job.config["holdout_design"] == "uniform" and job.key == old_key
    same = Job.from_config(_conf(holdout_design="uniform"), "/tmp/unused")
    other = Job.from_config(_conf(holdout_design="within_gaps"), "/tmp/unused")
    assert same.key == job.key and same.seeds.init == job.seeds.init
    assert all(getattr(same.seeds, k).entropy == getattr(job.seeds, k).entropy for k in ("data", "mask", "holdout"))
    assert other.key != job.key and other.seeds.holdout.entropy != job.seeds.holdout.entropy
    assert other.seeds.data.entropy == job.seeds.data.entropy and other.seeds.mask.entropy == job.seeds.mask.entropy
    with pytest.raises(ConfigError, match="holdout_design"):
        Job.from_config(_conf(holdout_design="rows"), "/tmp/unused")
    assert HOLDOUT_DESIGNS == ("uniform", "within_gaps")


def test_a1gm_job_survives_within_gaps_and_is_skipped_with_uniform(tmp_path):
    uniform = run(_conf(), tmp_path)
    within = run(_conf(holdout_design="within_gaps"), tmp_path)
    assert uniform["status"] == "skipped"  # 10% at random: no complete row or column is left
    assert within["status"] == "ok"
    df = load(tmp_path).set_index("holdout_design")
    row = df.loc["within_gaps"]
    assert row["n_heldout"] > 0 and np.isfinite(row["heldout_relative_error"])
    assert "(within_gaps)" in Job.from_config(_conf(holdout_design="within_gaps"), tmp_path).describe()
