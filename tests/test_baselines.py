"""The imputation baselines against plain dense oracles, their input contract, and clipped reconstructions."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp

import nmfexp
from nmfexp.solvers import SOLVERS, FactorizationResult

BASELINES = ("column_mean", "row_col_mean", "soft_impute")


def _data(seed=0, n=9, m=7, rate=0.3):
    rng = np.random.default_rng(seed)
    X = rng.random((n, m)) * 5
    M = rng.random((n, m)) > rate
    M[:, 2] = False  # a column with no observed entry
    M[4, :] = False  # a row with none
    return X, M


def test_column_mean_matches_a_loop_over_columns():
    X, M = _data()
    res = nmfexp.factorize(X, M, solver="column_mean", rank=3)
    overall = X[M].mean()
    expected = np.empty_like(X)
    for j in range(X.shape[1]):
        col = [X[i, j] for i in range(X.shape[0]) if M[i, j]]
        expected[:, j] = sum(col) / len(col) if col else overall
    np.testing.assert_allclose(res.reconstruct(), expected, rtol=1e-13)
    assert res.A.shape == (9, 3) and res.B.shape == (3, 7)
    assert res.stop_reason == "closed_form" and res.n_iter == 0 and not res.clip


def test_row_col_mean_is_the_independence_formula():
    X, M = _data(1)
    res = nmfexp.factorize(np.where(M, X, np.nan), solver="row_col_mean", rank=2)
    overall = X[M].mean()
    r = np.array([X[i][M[i]].mean() if M[i].any() else overall for i in range(9)])
    c = np.array([X[:, j][M[:, j]].mean() if M[:, j].any() else overall for j in range(7)])
    np.testing.assert_allclose(res.reconstruct(), np.outer(r, c) / overall, rtol=1e-13)


def test_row_col_mean_is_the_kl_optimum_of_complete_data():
    X = np.random.default_rng(2).random((6, 5))
    res = nmfexp.factorize(X, solver="row_col_mean")
    np.testing.assert_allclose(res.reconstruct(), np.outer(X.sum(1), X.sum(0)) / X.sum(), rtol=1e-13)


def _soft_impute_oracle(X, M, rank, shrinkage, max_iter, tol):
    """Mazumder et al. 2010, Algorithm 1, written out densely with numpy's full SVD."""
    lam = shrinkage * np.linalg.svd(np.where(M, X, 0.0), compute_uv=False)[0]
    Z = np.zeros_like(X)
    for it in range(1, max_iter + 1):
        U, S, Vt = np.linalg.svd(np.where(M, X, Z), full_matrices=False)
        S = np.maximum(S[:rank] - lam, 0)
        Znew = U[:, :rank] @ np.diag(S) @ Vt[:rank]
        change = np.sum((Znew - Z) ** 2) / np.sum(Z ** 2) if np.any(Z) else np.inf
        Z = Znew
        if change < tol:
            break
    return np.maximum(Z, 0), it


@pytest.mark.parametrize("shrinkage", [0.0, 0.1])
def test_soft_impute_matches_a_plain_dense_loop(shrinkage):
    X, M = _data(3, n=12, m=10, rate=0.25)
    res = nmfexp.factorize(X, M, solver="soft_impute", rank=3, shrinkage=shrinkage, max_iter=60, tol=1e-7)
    R, n_iter = _soft_impute_oracle(X, M, 3, shrinkage, 60, 1e-7)
    assert res.n_iter == n_iter
    np.testing.assert_allclose(res.reconstruct(), R, rtol=1e-8, atol=1e-10)
    assert res.clip and res.reconstruct().min() >= 0
    obj = res.history["objective"]
    assert obj[-1] == pytest.approx(np.linalg.norm(M * (X - R)), rel=1e-10)
    assert len(obj) == len(res.history["time"]) == res.n_iter + 1


def test_soft_impute_recovers_a_low_rank_matrix_with_few_gaps():
    rng = np.random.default_rng(4)
    L = rng.random((40, 2)) @ rng.random((2, 30))
    M = rng.random(L.shape) > 0.1
    res = nmfexp.factorize(L, M, solver="soft_impute", rank=2, shrinkage=0.0, max_iter=2000, tol=1e-14)
    assert res.stop_reason == "tol" and res.converged
    held = ~M
    assert np.linalg.norm(res.reconstruct()[held] - L[held]) <= 1e-5 * np.linalg.norm(L[held])


def test_baselines_are_registered_with_descriptions_and_references():
    for name in BASELINES:
        spec = SOLVERS[name]
        assert spec.loss == "frobenius" and not spec.iterative and spec.reference


@pytest.mark.parametrize("name", BASELINES)
def test_contract_junk_nan_sparse_and_caller_arrays(name):
    X, M = _data(5)
    before = (X.copy(), M.copy())
    clean = nmfexp.factorize(np.where(M, X, 0.0), M, solver=name, rank=2, random_state=0)
    assert np.array_equal(X, before[0]) and np.array_equal(M, before[1])
    junk = nmfexp.factorize(np.where(M, X, 1e300), M, solver=name, rank=2, random_state=0)
    nan = nmfexp.factorize(np.where(M, X, np.nan), solver=name, rank=2, random_state=0)
    S = sp.csr_matrix(np.where(M, X, 0.0))
    S_copy = copy.deepcopy(S)
    stored = nmfexp.factorize(S, "stored", solver=name, rank=2, random_state=0)
    assert (S != S_copy).nnz == 0
    for other in (junk, nan):
        np.testing.assert_array_equal(other.reconstruct(), clean.reconstruct())
    # Stored zeros are observed zeros: csr drops explicit zeros only if X had some, which it has not here.
    np.testing.assert_allclose(stored.reconstruct(), clean.reconstruct(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_extreme_scales_scale_the_reconstruction(name, scale):
    X, M = _data(6)
    base = nmfexp.factorize(X, M, solver=name, rank=2, random_state=0).reconstruct()
    big = nmfexp.factorize(X * scale, M, solver=name, rank=2, random_state=0).reconstruct()
    assert np.all(np.isfinite(big))
    np.testing.assert_allclose(big / scale, base, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", BASELINES)
def test_no_observed_entry_is_a_clear_error(name):
    with pytest.raises(ValueError, match="every entry of X is missing"):
        nmfexp.factorize(np.full((3, 4), np.nan), solver=name)


def test_a_clipped_result_is_clipped_by_every_reconstruction_method():
    A, B = np.array([[1.0, -2.0], [0.5, 1.0]]), np.array([[1.0, 0.0, 2.0], [1.0, 1.0, -1.0]])
    res = FactorizationResult(A=A, B=B, clip=True)
    expected = np.maximum(A @ B, 0)
    assert (A @ B).min() < 0
    np.testing.assert_array_equal(res.reconstruct(), expected)
    np.testing.assert_array_equal(res.reconstruct_rows(slice(1, 2)), expected[1:2])
    np.testing.assert_array_equal(res.reconstruct_entries(np.array([0, 1]), np.array([2, 0])), expected[[0, 1], [2, 0]])
    np.testing.assert_array_equal(FactorizationResult(A=A, B=B).reconstruct(), A @ B)


def test_metrics_use_the_clipped_reconstruction_on_both_paths(tmp_path, monkeypatch):
    from nmfexp.experiment import evaluate as evaluate_module
    from nmfexp.experiment.job import Job

    cfg = {"dataset": {"kind": "uniform", "n_rows": 30, "n_cols": 20}, "mask": {"kind": "random", "rate": 0.3},
           "holdout": 0.2, "rank": 4, "solver": {"name": "soft_impute", "params": {"shrinkage": 0.0}}}
    job = Job.from_config(cfg, tmp_path)
    data = job.build()
    result = job.solve(data)
    assert (result.A @ result.B).min() < 0  # the clip matters on this problem
    dense = evaluate_module.evaluate(data, result, SOLVERS["soft_impute"])
    monkeypatch.setattr(evaluate_module, "DENSE_MAX_ENTRIES", 0)  # force the block-wise path
    block = evaluate_module.evaluate(data, result, SOLVERS["soft_impute"])
    for key, value in dense.items():
        assert block[key] == pytest.approx(value, rel=1e-10, nan_ok=True), key
    x = data.X[data.train]
    R = result.reconstruct()
    assert dense["weighted_frobenius"] == pytest.approx(np.linalg.norm(x - R[data.train]), rel=1e-12)
