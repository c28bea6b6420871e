"""als with many small problems (very skewed shapes): every step across problems, no loop over them.

The batched path (from ``_MANY_PROBLEMS`` problems on) must give what the per-problem path gives:
``scipy.optimize.nnls`` on each row's observed entries.
"""

from __future__ import annotations

import numpy as np
import pytest

import nmfexp


def _nnls_problems(r: int, p: int, seed: int):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 2 * r + 1, size=p)  # some with fewer observed entries than r: singular G
    Cs = [rng.standard_normal((k, r)) * (rng.random(r) > 0.1) for k in counts]  # some dead components
    xs = [rng.standard_normal(k) + 0.5 for k in counts]
    G = np.stack([C.T @ C for C in Cs], axis=2)
    N = np.stack([C.T @ x for C, x in zip(Cs, xs, strict=True)], axis=1)
    return Cs, xs, G, N, counts


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5, 7])
def test_batched_nnls_agrees_with_scipy_nnls_on_observed_entries(r):
    from scipy.optimize import nnls

    from nmfexp.solvers import als

    Cs, xs, G, N, counts = _nnls_problems(r, als._MANY_PROBLEMS + 52, seed=r)
    calls = []

    def fallback(q):
        calls.append(q)
        return nnls(Cs[q], xs[q])[0] if len(xs[q]) else np.zeros(r)

    fallback.counts = counts
    F = als.nnls_block(N, G, fallback)
    assert F.min() >= 0 and len(calls) <= 5  # step 3 only for the odd ill-conditioned problem
    for q in range(N.shape[1]):
        ref = nnls(Cs[q], xs[q])[0] if len(xs[q]) else np.zeros(r)
        loss, best = (np.sum((Cs[q] @ f - xs[q]) ** 2) for f in (F[:, q], ref))
        assert loss - best <= 1e-12 * max(np.sum(xs[q] ** 2), 1e-300), q
        # Singular problems have many minimisers; the active-set steps pick the one nnls picks.
        np.testing.assert_allclose(F[:, q], ref, rtol=1e-6, atol=1e-9 * (1 + np.abs(ref).max()))


def test_als_on_a_skewed_matrix_has_no_loop_over_its_columns(monkeypatch):
    from nmfexp.solvers import als

    rng = np.random.default_rng(0)
    X = rng.random((2, 5000))
    obs = rng.random(X.shape) >= 0.1  # ~19% of the columns have a single observed entry: singular G
    counted = {"nnls": 0, "cholesky": 0}
    real_nnls, real_cholesky = als.nnls, np.linalg.cholesky

    def nnls(*a, **k):
        counted["nnls"] += 1
        return real_nnls(*a, **k)

    def cholesky(*a, **k):
        counted["cholesky"] += 1
        return real_cholesky(*a, **k)

    monkeypatch.setattr(als, "nnls", nnls)
    monkeypatch.setattr(np.linalg, "cholesky", cholesky)
    res = nmfexp.factorize(X, obs, solver="als", rank=2, random_state=0, max_iter=10, tol=0.0)
    # Per iteration: a few calls for the two rows, none per column.
    assert counted["nnls"] <= 2 * 10 and counted["cholesky"] <= 4 * 10, counted
    monkeypatch.setattr(als, "_MANY_PROBLEMS", 10**9)  # the per-problem path, as for small matrices
    ref = nmfexp.factorize(X, obs, solver="als", rank=2, random_state=0, max_iter=10, tol=0.0)
    np.testing.assert_allclose(res.history["objective"], ref.history["objective"], rtol=1e-9)
