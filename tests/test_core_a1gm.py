"""A1GM and the rank-1 NMMF closed form against independent oracles."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from conftest import make_observed

import nmfexp
from nmfexp.metrics import weighted_kl
from nmfexp.solvers.a1gm import a1gm


def dense_a1gm_oracle(X: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """A1GM written as plainly as possible: fill the grid, cut four blocks,
    apply Theorem 1 block by block, and assemble the dense reconstruction."""
    b1 = ~observed.all(axis=1)
    b2 = ~observed.all(axis=0)
    T = np.where(observed, X, 0.0)
    Xb, Yb, Zb = T[~b1][:, ~b2], T[b1][:, ~b2], T[~b1][:, b2]
    SX = Xb.sum()
    w = np.sqrt(SX) / (SX + Zb.sum()) * (Xb.sum(axis=1) + Zb.sum(axis=1))
    h = np.sqrt(SX) / (SX + Yb.sum()) * (Xb.sum(axis=0) + Yb.sum(axis=0))
    a = Yb.sum(axis=1) / np.sqrt(SX)
    b = Zb.sum(axis=0) / np.sqrt(SX)
    R = np.empty_like(T)
    R[np.ix_(~b1, ~b2)] = np.outer(w, h)
    R[np.ix_(b1, ~b2)] = np.outer(a, h)
    R[np.ix_(~b1, b2)] = np.outer(w, b)
    R[np.ix_(b1, b2)] = np.outer(a, b)
    return R


@pytest.mark.parametrize("kind", ["grid", "corner", "random"])
@pytest.mark.parametrize("shape", [(7, 5), (40, 33), (120, 90), (3, 200)])
@pytest.mark.parametrize("rate", [0.01, 0.05, 0.2])
def test_a1gm_matches_dense_oracle(kind, shape, rate):
    rng = np.random.default_rng(zlib.crc32(repr((kind, shape, rate)).encode()))  # stable across processes
    n, m = shape
    X = rng.random(shape)
    observed = make_observed(kind, n, m, rate, rng)
    if observed.all(axis=1).sum() == 0 or observed.all(axis=0).sum() == 0:
        pytest.skip("no complete row/column: A1GM is undefined (tested elsewhere)")
    res = nmfexp.factorize(X, mask=observed, solver="a1gm")
    np.testing.assert_allclose(res.reconstruct(), dense_a1gm_oracle(X, observed), rtol=1e-12, atol=0)
    assert res.A.shape == (n, 1) and res.B.shape == (1, m)
    assert np.all(res.A >= 0) and np.all(res.B >= 0)


def test_a1gm_streams_across_many_blocks(monkeypatch):
    """Force tiny blocks so the NumPy kernel's block loop (and its slow path) is exercised."""
    from nmfexp.solvers import _a1gm_kernel as mod

    monkeypatch.setattr(mod, "BACKEND", "numpy")
    monkeypatch.setattr(mod, "_BLOCK_BYTES", 8 * 30 * 3)  # 3 rows per block
    rng = np.random.default_rng(0)
    X = rng.random((50, 30))
    observed = make_observed("random", 50, 30, 0.03, rng)
    expected = dense_a1gm_oracle(X, observed)
    for junk in (0.0, np.nan, -3.0, np.inf):
        Xj = X.copy()
        Xj[~observed] = junk
        res = nmfexp.factorize(Xj, mask=observed, solver="a1gm")
        np.testing.assert_allclose(res.reconstruct(), expected, rtol=1e-12)


def test_a1gm_without_missing_is_outer_product_of_marginals(rng):
    X = rng.random((30, 20))
    R = nmfexp.factorize(X, solver="a1gm").reconstruct()
    np.testing.assert_allclose(R, np.outer(X.sum(axis=1), X.sum(axis=0)) / X.sum(), rtol=1e-13)


@pytest.mark.parametrize("kind", ["grid", "corner"])
def test_a1gm_equals_converged_wnmf_on_grid_like_masks(kind):
    """Theorem 1: on a grid-like mask the closed form is the global optimum, so a
    long WNMF run must converge to the same reconstruction and the same KL."""
    rng = np.random.default_rng(7)
    X = rng.random((25, 18)) + 0.1
    observed = make_observed(kind, 25, 18, 0.1, rng)
    closed = nmfexp.factorize(X, mask=observed, solver="a1gm")
    assert closed.info["grid_like"] and closed.info["n_missing_added"] == 0
    iterative = nmfexp.factorize(X, mask=observed, solver="wnmf_kl", rank=1, tol=0.0, max_iter=20000, random_state=0)
    kl_closed = weighted_kl(X, closed.reconstruct(), observed)
    kl_iter = weighted_kl(X, iterative.reconstruct(), observed)
    assert kl_closed <= kl_iter * (1 + 1e-10)
    assert kl_iter == pytest.approx(kl_closed, rel=1e-9)
    np.testing.assert_allclose(iterative.reconstruct(), closed.reconstruct(), rtol=1e-5)


def test_rank1_nmmf_is_the_joint_optimum():
    """The NMMF objective of Theorem 1 equals a weighted KL on the stacked matrix
    [[X, Z], [Y, *]] with the corner missing; long WNMF must not beat it."""
    rng = np.random.default_rng(3)
    X, Y, Z = rng.random((6, 5)) + 0.05, rng.random((4, 5)), rng.random((6, 3))
    w, h, a, b = nmfexp.rank1_nmmf(X, Y, Z)
    assert w.shape == (6,) and h.shape == (5,) and a.shape == (4,) and b.shape == (3,)
    T = np.zeros((10, 8))
    T[:6, :5], T[6:, :5], T[:6, 5:] = X, Y, Z
    observed = np.ones_like(T, dtype=bool)
    observed[6:, 5:] = False
    R = np.outer(np.r_[w, a], np.r_[h, b])
    np.testing.assert_allclose(R[:6, :5], np.outer(w, h))
    best = nmfexp.factorize(T, mask=observed, solver="wnmf_kl", rank=1, tol=0.0, max_iter=20000, random_state=1)
    assert weighted_kl(T, R, observed) <= weighted_kl(T, best.reconstruct(), observed) * (1 + 1e-10)
    assert weighted_kl(T, R, observed) == pytest.approx(weighted_kl(T, best.reconstruct(), observed), rel=1e-9)


def test_rank1_nmmf_with_empty_side_blocks_is_plain_rank1_kl(rng):
    X = rng.random((5, 4))
    w, h, a, b = nmfexp.rank1_nmmf(X, np.empty((0, 4)), np.empty((5, 0)))
    np.testing.assert_allclose(np.outer(w, h), np.outer(X.sum(1), X.sum(0)) / X.sum())
    assert a.shape == (0,) and b.shape == (0,)


def test_rank1_nmmf_rejects_bad_blocks(rng):
    X = rng.random((5, 4))
    with pytest.raises(ValueError, match="columns"):
        nmfexp.rank1_nmmf(X, rng.random((3, 2)), rng.random((5, 2)))
    with pytest.raises(ValueError, match="rows"):
        nmfexp.rank1_nmmf(X, rng.random((3, 4)), rng.random((2, 2)))
    with pytest.raises(ValueError, match="S\\(X\\) > 0"):
        nmfexp.rank1_nmmf(np.zeros((2, 2)), rng.random((1, 2)), rng.random((2, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        nmfexp.rank1_nmmf(-X, rng.random((1, 4)), rng.random((5, 1)))


def test_a1gm_info_counts_the_grid_completion():
    observed = np.ones((6, 5), dtype=bool)
    observed[1, 2] = observed[4, 0] = observed[4, 2] = False  # rows {1,4} x cols {0,2}: 4 cells, 3 missing
    X = np.random.default_rng(0).random((6, 5))
    info = nmfexp.factorize(X, mask=observed, solver="a1gm").info
    assert info == {"n_missing": 3, "n_missing_added": 1, "n_rows_with_missing": 2,
                    "n_cols_with_missing": 2, "grid_like": False}


def test_a1gm_fortran_order_and_views_give_the_same_answer(rng):
    X = rng.random((40, 30))
    observed = make_observed("random", 40, 30, 0.02, rng)
    ref = nmfexp.factorize(X, mask=observed, solver="a1gm")
    for variant, mask in ((np.asfortranarray(X), observed), (X.T.copy().T, np.asfortranarray(observed))):
        res = nmfexp.factorize(variant, mask=mask, solver="a1gm")
        np.testing.assert_allclose(res.reconstruct(), ref.reconstruct(), rtol=1e-13)
        assert res.info == ref.info
    wide = np.zeros((40, 60))
    wide[:, ::2] = X  # a strided view
    res = nmfexp.factorize(wide[:, ::2], mask=observed, solver="a1gm")
    np.testing.assert_allclose(res.reconstruct(), ref.reconstruct(), rtol=1e-13)


def test_a1gm_all_zero_observed_gives_zeros_not_nan():
    X = np.zeros((5, 4))
    X[0, 0] = np.nan
    res = nmfexp.factorize(X, solver="a1gm")
    assert np.array_equal(res.reconstruct(), np.zeros((5, 4)))


def test_a1gm_degenerate_zero_core_is_rejected():
    X = np.zeros((4, 4))
    observed = np.ones((4, 4), dtype=bool)
    observed[0, 0] = False
    X[0, 1] = 1.0  # only the incomplete row has mass
    with pytest.raises(ValueError, match="sum to zero"):
        nmfexp.factorize(X, mask=observed, solver="a1gm")


@pytest.mark.parametrize("which", ["row", "column"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_a1gm_needs_a_complete_row_and_column(which, order):
    X = np.asarray(np.random.default_rng(0).random((6, 6)), order=order)
    observed = np.ones((6, 6), dtype=bool)
    if which == "row":
        observed[np.arange(6), np.arange(6) % 3] = False  # every row has a gap, columns 3..5 complete
    else:
        observed[np.arange(6) % 3, np.arange(6)] = False
    with pytest.raises(ValueError, match=f"at least one complete {which}"):
        nmfexp.factorize(X, mask=observed, solver="a1gm")


def test_a1gm_reference_failure_case_uniform_random_missing_is_explained():
    """5% uniformly random missing on 200x200: every row and column has a gap;
    the reference code returned NaN silently."""
    rng = np.random.default_rng(0)
    X = rng.random((200, 200))
    X[rng.random((200, 200)) < 0.05] = np.nan
    with pytest.raises(ValueError, match="complete"):
        nmfexp.factorize(X, solver="a1gm")


def test_a1gm_refusals_are_solver_refused():
    """Inputs on which the closed form does not apply are refusals (recorded as skipped), not failures."""
    X = np.random.default_rng(0).random((6, 6))
    every_row_has_a_gap = np.ones((6, 6), dtype=bool)
    every_row_has_a_gap[np.arange(6), np.arange(6) % 3] = False
    with pytest.raises(nmfexp.SolverRefused, match="at least one complete row"):
        a1gm(X, every_row_has_a_gap)
    with pytest.raises(nmfexp.SolverRefused, match="at least one complete column"):
        a1gm(X.T, every_row_has_a_gap.T)
    zero_core = np.zeros((4, 4))
    observed = np.ones((4, 4), dtype=bool)
    observed[0, 0] = False
    zero_core[0, 1] = 1.0
    with pytest.raises(nmfexp.SolverRefused, match="sum to zero"):
        a1gm(zero_core, observed)
    with pytest.raises(nmfexp.SolverRefused, match="rank-1"):
        a1gm(X, rank=2)
    with pytest.raises(ValueError, match="negative") as err:  # bad data is not a refusal
        a1gm(-X)
    assert not isinstance(err.value, nmfexp.SolverRefused)
