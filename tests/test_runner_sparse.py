"""The runner on mostly-missing data: the sparse path in Job.solve, metrics without the dense reconstruction."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import nmfexp
from nmfexp.experiment import Job
from nmfexp.experiment import evaluate as evaluate_module
from nmfexp.experiment import job as job_module
from nmfexp.experiment.evaluate import evaluate

QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


def conf(solver, rate, dataset=None, holdout=0.1, rank=2):
    return {
        "dataset": dataset or {"kind": "uniform", "name": "uniform", "n_rows": 60},
        "mask": {"kind": "random", "rate": rate},
        "solver": {"name": solver, "params": {"max_iter": 20, "tol": 0.0}},
        "timing": dict(QUICK),
        "seed": 3,
        "holdout": holdout,
        "rank": rank,
    }


def routed(monkeypatch, job, data):
    seen = []
    real = job_module.factorize

    def spy(X, mask, **kw):
        seen.append((sp.issparse(X), mask if isinstance(mask, str) else None))
        return real(X, mask, **kw)

    monkeypatch.setattr(job_module, "factorize", spy)
    return job.solve(data), seen[0]


@pytest.mark.parametrize("solver", ["wnmf_kl", "hals", "kaczmarz"])
def test_mostly_missing_jobs_take_the_sparse_path_with_the_same_iterates(monkeypatch, solver, tmp_path):
    job = Job.from_config(conf(solver, 0.95), tmp_path)
    data = job.build()
    assert np.count_nonzero(data.train) <= job_module.SPARSE_MAX_OBSERVED * data.train.size
    res, route = routed(monkeypatch, job, data)
    assert route == (True, "stored")
    dense = nmfexp.factorize(data.X, data.train, solver=solver, rank=2, max_iter=20, tol=0.0,
                             random_state=job.seeds.init)
    np.testing.assert_allclose(res.A, dense.A, rtol=1e-10, atol=1e-12 * np.abs(dense.A).max())
    np.testing.assert_allclose(res.history["objective"], dense.history["objective"], rtol=1e-12)


def test_other_jobs_stay_dense(monkeypatch, tmp_path):
    job = Job.from_config(conf("hals", 0.5), tmp_path)  # half observed: dense
    _, route = routed(monkeypatch, job, job.build())
    assert route == (False, None)
    few = np.zeros((40, 40), dtype=bool)
    few[:, 0] = True  # 2.5% observed
    assert job_module._sparse_path(nmfexp.SOLVERS["hals"], few)
    assert not job_module._sparse_path(nmfexp.SOLVERS["a1gm"], few)  # A1GM stays dense
    assert not job_module._sparse_path(nmfexp.SOLVERS["hals"], None)  # nothing missing


@pytest.mark.parametrize("dataset", [
    {"kind": "uniform", "name": "uniform", "n_rows": 50},
    {"kind": "lowrank", "name": "lowrank", "n_rows": 50, "true_rank": 3, "noise": 0.05},
])
@pytest.mark.parametrize("holdout", [0.0, 0.2])
@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_metrics_from_factors_equal_the_dense_computation(monkeypatch, tmp_path, dataset, holdout, rate):
    job = Job.from_config(conf("hals", rate, dataset=dataset, holdout=holdout), tmp_path)
    data = job.build()
    result = job.solve(data)
    dense = evaluate(data, result, job.solver)
    monkeypatch.setattr(evaluate_module, "DENSE_MAX_ENTRIES", 0)
    blocked = evaluate(data, result, job.solver)
    assert dense.keys() == blocked.keys()
    for k, v in dense.items():
        if np.isnan(v):
            assert np.isnan(blocked[k]), k
        else:
            assert blocked[k] == pytest.approx(v, rel=1e-12), k
    if holdout:
        assert np.isfinite(blocked["heldout_relative_error"])
    if dataset["kind"] == "lowrank":
        assert np.isfinite(blocked["truth_relative_error"])


def test_metrics_from_factors_refuse_a_zero_fit(monkeypatch, tmp_path):
    job = Job.from_config(conf("hals", 0.3, holdout=0.0), tmp_path)
    data = job.build()
    result = job.solve(data)
    result.A[:] = 0.0
    monkeypatch.setattr(evaluate_module, "DENSE_MAX_ENTRIES", 0)
    with pytest.raises(evaluate_module.MetricError, match="zero on every training entry"):
        evaluate(data, result, job.solver)
