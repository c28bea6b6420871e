"""A metric that applies and is not finite is never ``ok`` (the one exception: KL of a solver of another loss)."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from nmfexp.api import solver_spec
from nmfexp.experiment.evaluate import MetricError, evaluate
from nmfexp.experiment.job import Job
from nmfexp.experiment.run import run
from nmfexp.record import read_record
from nmfexp.solvers import FactorizationResult


def _zero_column(X, mask, rank=1, random_state=None, **params):
    n, m = X.shape
    B = np.ones((rank, m))
    B[:, 0] = 0.0  # R = 0 on column 0, which is observed and positive
    return FactorizationResult(A=np.ones((n, rank)), B=B, n_iter=1, converged=True, history={})


def _data(holdout=0.0):
    cfg = {"dataset": {"kind": "lowrank", "n_rows": 8, "n_cols": 6, "true_rank": 1}, "solver": {"name": "wnmf_kl"},
           "holdout": holdout, "results_dir": "unused"}
    return Job.from_config(cfg).build()


@pytest.mark.parametrize("loss", ["kl", ""])
def test_kl_infinite_is_an_error_for_a_kl_solver_and_for_one_that_declares_no_loss(loss):
    data = _data()
    spec = solver_spec(_zero_column, "zero_column", loss=loss)
    result = _zero_column(data.X, None)
    with pytest.raises(MetricError, match="zero at a training entry whose value is positive"):
        evaluate(data, result, spec)


def test_kl_of_a_frobenius_solver_may_be_infinite_as_documented():
    data = _data()
    spec = solver_spec(_zero_column, "zero_column", loss="frobenius")
    metrics = evaluate(data, _zero_column(data.X, None), spec)
    assert metrics["weighted_kl"] == np.inf
    assert np.isfinite(metrics["weighted_frobenius"]) and np.isfinite(metrics["truth_relative_error"])


def test_a_job_whose_solver_leaves_an_observed_column_at_zero_is_failed_with_the_reason(tmp_path, monkeypatch):
    (tmp_path / "zerocol_solver.py").write_text(textwrap.dedent('''
        import numpy as np
        from nmfexp.solvers import FactorizationResult

        def solve(X, mask, rank=1, random_state=None):
            B = np.ones((rank, X.shape[1]))
            B[:, 0] = 0.0
            return FactorizationResult(A=np.ones((X.shape[0], rank)), B=B, n_iter=1, converged=True, history={})
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "zerocol_solver", raising=False)
    out = run({"dataset": {"kind": "lowrank", "n_rows": 8, "n_cols": 6, "true_rank": 1}, "holdout": 0.3,
               "solver": {"_target_": "zerocol_solver.solve"}, "results_dir": str(tmp_path / "out")})
    assert out["status"] == "failed"
    rec = read_record(out["path"])
    assert rec.attrs["status"] == "failed" and rec.attrs["error_stage"] == "metrics"
    assert "weighted_kl is inf" in rec.attrs["message"]
