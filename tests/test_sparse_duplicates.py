"""Duplicate stored entries of an integer scipy.sparse X are summed as numbers, not in X's dtype."""

import numpy as np
import pytest
import scipy.sparse as sp

import nmfexp
from nmfexp.solvers.a1gm import _sparse_a1gm


def _with_duplicates(dtype, value):
    # (0, 0) stored twice; every row and column has one complete line when read with mask="all"
    rows = np.array([0, 0, 0, 1, 1, 2, 2])
    cols = np.array([0, 0, 1, 0, 1, 1, 2])
    data = np.array([value, value, 3, 4, 5, 6, 7], dtype=dtype)
    return sp.coo_matrix((data, (rows, cols)), shape=(3, 3))


def _oracle(X):
    D = np.zeros(X.shape)
    for i, j, v in zip(X.row, X.col, X.data.astype(np.float64), strict=True):
        D[i, j] += v
    return D


@pytest.mark.parametrize("dtype, value", [(np.uint8, 128), (np.int8, 100), (np.int16, 20000)])
@pytest.mark.parametrize("solver", ["wnmf_kl", "wnmf_fro", "hals", "a1gm"])
def test_integer_duplicates_are_summed_without_wrapping(dtype, value, solver):
    X = _with_duplicates(dtype, value)
    D = _oracle(X)
    assert D[0, 0] == 2 * value
    got = nmfexp.factorize(X, solver=solver, rank=1, mask="all", random_state=0)
    want = nmfexp.factorize(D, solver=solver, rank=1, random_state=0)
    np.testing.assert_allclose(got.A @ got.B, want.A @ want.B, rtol=1e-12)


@pytest.mark.parametrize("solver", ["wnmf_kl", "hals"])
def test_integer_duplicates_on_the_stored_entries_path(solver):
    X = _with_duplicates(np.uint8, 128)
    D = _oracle(X)
    observed = np.zeros(X.shape, bool)
    observed[X.row, X.col] = True
    got = nmfexp.factorize(X, solver=solver, rank=1, mask="stored", random_state=0, max_iter=50)
    want = nmfexp.factorize(D, observed, solver=solver, rank=1, random_state=0, max_iter=50)
    np.testing.assert_allclose(got.A @ got.B, want.A @ want.B, rtol=1e-9)


def test_a1gm_stored_entries_path_sums_integer_duplicates(monkeypatch):
    import nmfexp.solvers.a1gm as a1gm_module

    monkeypatch.setattr(a1gm_module, "_SPARSE_DENSE_MAX", 0)  # force the path for large matrices
    X = _with_duplicates(np.uint8, 128)
    got = _sparse_a1gm(X, "all", 1, "numpy")
    want = nmfexp.factorize(_oracle(X), solver="a1gm")
    np.testing.assert_allclose(got.A @ got.B, want.A @ want.B, rtol=1e-12)
