"""A given start that a multiplicative update cannot repair is refused, not fitted at a lower rank."""

import numpy as np
import pytest

import nmfexp

rng = np.random.default_rng(3)
X = rng.random((8, 6))
A0 = rng.random((8, 2)) + 0.1
B0 = rng.random((2, 6)) + 0.1


def _zero_column(M, j):
    M = M.copy()
    M[:, j] = 0
    return M


def _zero_row(M, i):
    M = M.copy()
    M[i] = 0
    return M


@pytest.mark.parametrize("solver", ["wnmf_kl", "wnmf_fro", "gdcls"])
def test_an_all_zero_column_of_A0_is_refused(solver):
    with pytest.raises(ValueError, match=r"column\(s\) \[1\] of A0 are zero everywhere.*fewer than 2 components"):
        nmfexp.factorize(X, solver=solver, rank=2, init=(_zero_column(A0, 1), B0))


@pytest.mark.parametrize("solver", ["wnmf_kl", "wnmf_fro"])
def test_an_all_zero_row_of_B0_is_refused_by_the_multiplicative_updates(solver):
    with pytest.raises(ValueError, match=r"row\(s\) \[0\] of B0 are zero everywhere"):
        nmfexp.factorize(X, solver=solver, rank=2, init=(A0, _zero_row(B0, 0)))


def test_gdcls_refuses_an_all_zero_row_of_A0_and_accepts_any_B0():
    with pytest.raises(ValueError, match=r"row\(s\) \[3\] of A0 are zero everywhere"):
        nmfexp.factorize(X, solver="gdcls", rank=2, init=(_zero_row(A0, 3), B0))
    # B is solved from A in every iteration: a zero row of B0 is harmless, and the fit has both components
    r = nmfexp.factorize(X, solver="gdcls", rank=2, init=(A0, _zero_row(B0, 0)))
    assert np.linalg.matrix_rank(r.A @ r.B) == 2


@pytest.mark.parametrize("solver", ["wnmf_kl", "wnmf_fro"])
def test_a_zero_row_of_A0_recovers_under_the_floored_multiplicative_update(solver):
    # the floor lets a whole zero row come back (its ratio is huge), so it is not refused; check it does
    r = nmfexp.factorize(X, solver=solver, rank=2, init=(_zero_row(A0, 3), B0), max_iter=200)
    assert np.all(r.A[3] > 1e-3)
    assert np.linalg.matrix_rank(r.A @ r.B) == 2


@pytest.mark.parametrize("solver", ["hals", "als"])
def test_solvers_that_solve_each_factor_revive_a_zero_component(solver):
    r = nmfexp.factorize(X, solver=solver, rank=2, init=(_zero_column(A0, 1), B0))
    assert np.linalg.matrix_rank(r.A @ r.B) == 2


def test_the_callers_factors_are_not_modified():
    A, B = _zero_column(A0, 1), B0.copy()
    with pytest.raises(ValueError):
        nmfexp.factorize(X, solver="wnmf_kl", rank=2, init=(A, B))
    np.testing.assert_array_equal(A, _zero_column(A0, 1))
    np.testing.assert_array_equal(B, B0)
