"""The paper's WNMF baselines: one step against the note's formulas, monotone
losses, masks honoured, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_observed

import nmfexp
from nmfexp.metrics import weighted_frobenius, weighted_kl

MASKS = [None, ("grid", 0.05), ("random", 0.05), ("random", 0.4), ("corner", 0.2)]


def _mask(spec, n, m, rng):
    return None if spec is None else make_observed(spec[0], n, m, spec[1], rng)


def note_kl_step(X, W, A, B):
    """The reference note's weighted KL update, B first, with dense W."""
    B = B / (A.T @ W) * (A.T @ ((W * X) / (A @ B)))
    A = A / (W @ B.T) * (((W * X) / (A @ B)) @ B.T)
    return A, B


def note_fro_step(X, W, A, B):
    B = B * (A.T @ (W * X)) / (A.T @ (W * (A @ B)))
    A = A * ((W * X) @ B.T) / ((W * (A @ B)) @ B.T)
    return A, B


@pytest.mark.parametrize("spec", MASKS)
@pytest.mark.parametrize(("solver", "step"), [("wnmf_kl", note_kl_step), ("wnmf_fro", note_fro_step)])
def test_one_step_equals_the_note_formula(spec, solver, step):
    rng = np.random.default_rng(11)
    X = rng.random((30, 20))
    observed = _mask(spec, 30, 20, rng)
    W = np.ones_like(X) if observed is None else observed.astype(float)
    A0, B0 = rng.random((30, 3)) + 0.1, rng.random((3, 20)) + 0.1
    res = nmfexp.factorize(X, mask=observed, solver=solver, rank=3, init=(A0, B0), max_iter=1, tol=0.0)
    A1, B1 = step(np.where(W > 0, X, 0.0), W, A0, B0)
    np.testing.assert_allclose(res.A, A1, rtol=1e-12)
    np.testing.assert_allclose(res.B, B1, rtol=1e-12)
    assert res.n_iter == 1


@pytest.mark.parametrize("spec", MASKS)
@pytest.mark.parametrize("solver", ["wnmf_kl", "wnmf_fro"])
@pytest.mark.parametrize("rank", [1, 4])
def test_masked_loss_never_increases_and_history_is_honest(spec, solver, rank):
    rng = np.random.default_rng(5)
    X = rng.random((40, 30)) ** 2
    observed = _mask(spec, 40, 30, rng)
    res = nmfexp.factorize(X, mask=observed, solver=solver, rank=rank, max_iter=60, tol=0.0, random_state=2)
    obj, t = res.history["objective"], res.history["time"]
    assert obj.shape == t.shape == (res.n_iter + 1,)
    assert np.all(np.diff(obj) <= 1e-12 * obj[0])
    assert t[0] == 0 and np.all(np.diff(t) >= 0)
    loss = weighted_kl if solver == "wnmf_kl" else weighted_frobenius
    assert obj[-1] == pytest.approx(loss(X, res.reconstruct(), observed), rel=1e-9)
    assert np.all(res.A >= 0) and np.all(res.B >= 0)


def test_reference_stopping_rule():
    """Stops when (previous - current) / initial < tol."""
    rng = np.random.default_rng(1)
    X = rng.random((30, 30))
    res = nmfexp.factorize(X, solver="wnmf_kl", rank=3, tol=1e-3, max_iter=500, random_state=0)
    obj = res.history["objective"]
    decreases = (obj[:-1] - obj[1:]) / obj[0]
    assert res.converged and res.n_iter < 500
    assert decreases[-1] < 1e-3 and np.all(decreases[:-1] >= 1e-3)
    capped = nmfexp.factorize(X, solver="wnmf_kl", rank=3, tol=0.0, max_iter=7, random_state=0)
    assert capped.n_iter == 7 and not capped.converged


@pytest.mark.parametrize("solver", ["a1gm", "wnmf_kl", "wnmf_fro"])
@pytest.mark.parametrize("junk", [1e6, -7.0, np.nan, np.inf])
def test_junk_at_missing_entries_changes_nothing(solver, junk):
    rng = np.random.default_rng(9)
    X = rng.random((25, 20))
    observed = make_observed("grid", 25, 20, 0.1, rng)
    clean = np.where(observed, X, 0.0)
    dirty = X.copy()
    dirty[~observed] = junk
    a = nmfexp.factorize(clean, mask=observed, solver=solver, random_state=0, rank=1)
    b = nmfexp.factorize(dirty, mask=observed, solver=solver, random_state=0, rank=1)
    np.testing.assert_array_equal(a.A, b.A)
    np.testing.assert_array_equal(a.B, b.B)


@pytest.mark.parametrize("solver", ["a1gm", "wnmf_kl", "wnmf_fro"])
def test_inputs_are_never_modified(solver):
    rng = np.random.default_rng(2)
    X = rng.random((20, 15))
    X[3, 4] = np.nan
    observed = ~np.isnan(X)
    X_before, mask_before = X.copy(), observed.copy()
    A0, B0 = rng.random((20, 1)), rng.random((1, 15))
    A0_before, B0_before = A0.copy(), B0.copy()
    X.flags.writeable = False  # any write attempt would raise
    observed.flags.writeable = False
    kwargs = {} if solver == "a1gm" else {"init": (A0, B0)}
    nmfexp.factorize(X, mask=observed, solver=solver, **kwargs)
    nmfexp.factorize(X, solver=solver, **kwargs)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(observed, mask_before)
    np.testing.assert_array_equal(A0, A0_before)
    np.testing.assert_array_equal(B0, B0_before)


@pytest.mark.parametrize("solver", ["wnmf_kl", "wnmf_fro"])
def test_same_seed_same_numbers(solver):
    X = np.random.default_rng(4).random((30, 20))
    a = nmfexp.factorize(X, solver=solver, rank=3, random_state=42, max_iter=20)
    b = nmfexp.factorize(X, solver=solver, rank=3, random_state=42, max_iter=20)
    c = nmfexp.factorize(X, solver=solver, rank=3, random_state=43, max_iter=20)
    np.testing.assert_array_equal(a.A, b.A)
    np.testing.assert_array_equal(a.history["objective"], b.history["objective"])
    assert not np.array_equal(a.A, c.A)


def test_paper_initialisation_is_uniform_from_the_seed():
    """Uniform [0, 1) draws, A then B, from default_rng(random_state)."""
    X = np.random.default_rng(0).random((6, 5))
    g = np.random.default_rng(8)
    A0, B0 = g.random((6, 2)), g.random((2, 5))
    seeded = nmfexp.factorize(X, solver="wnmf_kl", rank=2, random_state=8, max_iter=3, tol=0.0)
    given = nmfexp.factorize(X, solver="wnmf_kl", rank=2, init=(A0, B0), max_iter=3, tol=0.0)
    np.testing.assert_array_equal(seeded.A, given.A)


@pytest.mark.parametrize("solver", ["wnmf_kl", "wnmf_fro"])
def test_zero_rows_columns_and_all_zero_data_stay_finite(solver):
    X = np.random.default_rng(0).random((10, 8))
    X[2] = 0.0
    X[:, 5] = 0.0
    observed = np.ones_like(X, dtype=bool)
    observed[:, 7] = False  # a column with no observation at all
    res = nmfexp.factorize(X, mask=observed, solver=solver, rank=2, max_iter=50, random_state=0)
    assert np.all(np.isfinite(res.A)) and np.all(np.isfinite(res.B))
    assert np.all(np.isfinite(res.history["objective"]))
    assert np.abs(res.reconstruct()[2]).max() < 1e-100
    zero = nmfexp.factorize(np.zeros((5, 4)), solver=solver, rank=1, random_state=0)
    assert np.all(np.isfinite(zero.reconstruct())) and zero.reconstruct().max() < 1e-100


def test_rank_one_kl_on_full_data_reaches_the_closed_form():
    X = np.random.default_rng(3).random((15, 12))
    res = nmfexp.factorize(X, solver="wnmf_kl", rank=1, random_state=0)
    np.testing.assert_allclose(res.reconstruct(), np.outer(X.sum(1), X.sum(0)) / X.sum(), rtol=1e-10)
