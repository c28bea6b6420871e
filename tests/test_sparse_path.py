"""The sparse path (scipy.sparse X, mask="stored"): same iterates as the dense path, validation, routing.

Tolerance. The two paths compute the same products in a different order
(BLAS over dense rows and columns, against sums over the stored entries), so
they agree to rounding, not bit for bit: after 25 iterations the factors
differ by a few 1e-15 relative to their largest entry (ALS up to ~3e-14: its
Cholesky solves amplify rounding by the condition of the Gram matrices), and
the objective histories by ~1e-15. The tests allow 1e-11 (factors) and 1e-12
(objective), far below any algorithmic difference (one iteration changes the
factors by ~1e-2 here). Kaczmarz draws the same entries from the same
uniforms and does the same arithmetic per step, so its factors are equal
exactly.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import nmfexp
from nmfexp.solvers import SOLVERS, _sparse

#: The solvers whose description says they work on stored entries (all iterative built-ins).
# a1gm_polish (A1GM's start, no init) refuses what A1GM refuses; tests/test_polish.py covers it.
SPARSE_SOLVERS = sorted(name for name, spec in SOLVERS.items() if spec.sparse and name != "a1gm_polish")


def data(n=70, m=55, missing=0.6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 4)) @ rng.random((4, m)) + 0.2 * rng.random((n, m))
    obs = rng.random((n, m)) >= missing
    obs[3, 5] = True
    X[3, 5] = 0.0  # an observed zero: stored explicitly
    S = sp.csr_array((X[obs], np.nonzero(obs)), shape=(n, m))
    return X, obs, S


def both(name, X, obs, S, **kw):
    kw = {"rank": 3, "max_iter": 25, "tol": 0.0, "random_state": 1, **kw}
    return nmfexp.factorize(X, obs, solver=name, **kw), nmfexp.factorize(S, "stored", solver=name, **kw)


def close(a, b, rtol):
    return np.abs(a - b).max() <= rtol * np.abs(a).max()


@pytest.mark.parametrize("init", ["random", "nndsvda", "a1gm"])
@pytest.mark.parametrize("name", SPARSE_SOLVERS)
def test_sparse_stored_equals_dense_with_the_mask(name, init):
    X, obs, S = data()
    assert S.nnz == obs.sum() and S[3, 5] == 0  # the explicit zero is stored
    d, s = both(name, X, obs, S, init=init)
    assert d.n_iter == s.n_iter == 25
    assert close(d.A, s.A, 1e-11) and close(d.B, s.B, 1e-11)
    assert close(d.history["objective"], s.history["objective"], 1e-12)
    assert s.info["n_missing"] == d.info["n_missing"] == obs.size - obs.sum()
    if name == "kaczmarz":
        assert np.array_equal(d.A, s.A) and np.array_equal(d.B, s.B)


def test_every_iterative_solver_works_on_stored_entries():
    # One update per solver, written against the storage interface: every iterative built-in takes the
    # stored entries of sparse input, so the equalities here cover each of them.
    assert SPARSE_SOLVERS == sorted(name for name, spec in SOLVERS.items() if spec.iterative and name != "a1gm_polish")
    assert SOLVERS["a1gm_polish"].sparse


@pytest.mark.parametrize("missing", [0.0, 0.05])
@pytest.mark.parametrize("name", SPARSE_SOLVERS)
def test_stored_entries_equal_every_form_of_the_dense_storage(name, missing):
    """The dense storage holds the mask in three forms: none (fully observed, where wnmf_fro and hals use
    the Gram forms of the loss), a sparse matrix of a few missing entries (here), the boolean mask (above)."""
    X, obs, S = data(missing=missing)
    assert (obs.size - obs.sum() > 0) == (missing > 0)
    d, s = both(name, X, obs, S)
    assert d.n_iter == s.n_iter == 25
    assert close(d.A, s.A, 1e-11) and close(d.B, s.B, 1e-11)
    assert close(d.history["objective"], s.history["objective"], 1e-12)


@pytest.mark.parametrize("name", SPARSE_SOLVERS)
def test_stored_entries_equal_the_dense_storage_from_given_factors(name):
    X, obs, S = data()
    rng = np.random.default_rng(5)
    A0, B0 = rng.random((X.shape[0], 3)), rng.random((3, X.shape[1]))
    d, s = both(name, X, obs, S, init=(A0, B0), max_iter=10)
    assert close(d.A, s.A, 1e-11) and close(d.B, s.B, 1e-11)
    assert close(d.history["objective"], s.history["objective"], 1e-12)
    R0 = A0 @ B0  # the loss at the given start, from the observed entries alone
    expect = (np.linalg.norm((X - R0)[obs]) if SOLVERS[name].loss == "frobenius"
              else nmfexp.metrics.weighted_kl(X, R0, obs))
    assert s.history["objective"][0] == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("name", SPARSE_SOLVERS)
def test_stored_zero_is_observed_and_unstored_entry_is_missing(name):
    X, obs, S = data(seed=2)
    # Storing a missing entry's position with value 0 makes it an observed zero: the result changes.
    i, j = np.argwhere(~obs)[0]
    obs2 = obs.copy()
    obs2[i, j] = True
    X2 = X.copy()
    X2[i, j] = 0.0
    S2 = sp.csr_array((X2[obs2], np.nonzero(obs2)), shape=X.shape)
    d2, s2 = both(name, X2, obs2, S2, max_iter=5)
    assert close(d2.A, s2.A, 1e-11)
    _, s = both(name, X, obs, S, max_iter=5)
    assert not np.allclose(s.A, s2.A)


def test_every_sparse_format_and_duplicates_are_summed():
    X, obs, S = data()
    ref = nmfexp.factorize(S, "stored", solver="hals", rank=3, max_iter=5, random_state=0)
    for fmt in (sp.coo_array(S), sp.csc_array(S), sp.csr_matrix(S), sp.lil_array(S)):
        res = nmfexp.factorize(fmt, "stored", solver="hals", rank=3, max_iter=5, random_state=0)
        assert np.array_equal(res.A, ref.A)
    # Two stored values at one position are one observed entry, their sum (scipy's convention).
    coo = sp.coo_array(S)
    half = coo.data / 2
    dup = sp.coo_array((np.concatenate([half, coo.data - half]), (np.concatenate([coo.row, coo.row]),
                                                                   np.concatenate([coo.col, coo.col]))), shape=S.shape)
    res = nmfexp.factorize(dup, "stored", solver="hals", rank=3, max_iter=5, random_state=0)
    np.testing.assert_allclose(res.A, ref.A, rtol=1e-12)


def test_caller_sparse_matrix_is_not_modified():
    X, obs, S = data()
    S = sp.coo_array(S)
    before = (S.data.copy(), S.row.copy(), S.col.copy())
    nmfexp.factorize(S, "stored", solver="wnmf_kl", rank=2, max_iter=3)
    for a, b in zip(before, (S.data, S.row, S.col), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(("bad", "match"), [
    (-1.0, "negative stored value"),
    (np.nan, "non-finite stored value"),
    (np.inf, "non-finite stored value"),
])
def test_bad_stored_values_are_refused_with_the_position(bad, match):
    X, obs, S = data()
    S = S.copy()
    S.data[7] = bad
    row = int(np.searchsorted(S.indptr, 7, side="right") - 1)
    with pytest.raises(ValueError, match=match) as err:
        nmfexp.factorize(S, "stored", solver="hals", rank=2)
    assert f"X[{row}, {S.indices[7]}]" in str(err.value)


def test_empty_and_misused_sparse_input_is_refused():
    with pytest.raises(ValueError, match="every entry of X is missing"):
        nmfexp.factorize(sp.csr_array((5, 4)), "stored", solver="hals", rank=1)
    with pytest.raises(ValueError, match="is empty") as err:
        nmfexp.factorize(sp.csr_array((0, 4)), "stored", solver="hals", rank=1)
    assert not isinstance(err.value, nmfexp.SolverRefused)
    with pytest.raises(ValueError, match="empty"):
        _sparse.sparse_data(sp.csr_array((0, 4)))
    with pytest.raises(ValueError, match="real"):
        nmfexp.factorize(sp.csr_array(np.ones((3, 3), dtype=complex)), "stored", solver="hals", rank=1)
    X, obs, S = data()
    # A solver without a sparse path (A1GM) sees the dense equivalent of the same contract.
    with pytest.raises(nmfexp.SolverRefused, match="complete"):  # 60% missing: no complete row, as for dense input
        nmfexp.factorize(S, "stored", solver="a1gm")
    obs[0], obs[:, 0] = True, True
    S = sp.csr_array((X[obs], np.nonzero(obs)), shape=X.shape)
    res, dense = nmfexp.factorize(S, "stored", solver="a1gm"), nmfexp.factorize(X, obs, solver="a1gm")
    assert np.array_equal(res.A, dense.A) and np.array_equal(res.B, dense.B)
    with pytest.raises(nmfexp.SolverRefused, match="larger than"):
        nmfexp.factorize(S, "stored", solver="hals", rank=60)


def test_numpy_fallback_of_the_sampled_product_agrees(monkeypatch):
    X, obs, S = data()
    rng = np.random.default_rng(0)
    A, B = rng.random((70, 3)), rng.random((3, 55))
    expect = (A @ B)[obs]  # CSR order is row-major, as boolean indexing
    for backend in ("numba", "numpy"):
        monkeypatch.setattr(_sparse, "BACKEND", backend)
        got = _sparse.sampled_product(S.indptr, S.indices, A, B)
        np.testing.assert_allclose(got, expect, rtol=1e-14)


def test_eval_every_on_the_sparse_path():
    X, obs, S = data()
    d, s = both("wnmf_fro", X, obs, S, max_iter=23, eval_every=5)
    assert list(s.history["iteration"]) == [0, 5, 10, 15, 20, 23]
    assert close(d.history["objective"], s.history["objective"], 1e-12)


@pytest.mark.parametrize("name", ["wnmf_kl", "hals", "kaczmarz"])
@pytest.mark.parametrize("power", [-100, 100])
def test_the_sparse_path_is_scale_equivariant(name, power):
    """As the dense path: the stored values are rescaled by a power of two, so 8**k X gives exactly
    8**k times the reconstruction of X (and finite factors even near the ends of float64's range)."""
    X, obs, S = data()
    c = 8.0 ** power
    a = nmfexp.factorize(S, "stored", solver=name, rank=3, max_iter=15, random_state=2)
    b = nmfexp.factorize(S * c, "stored", solver=name, rank=3, max_iter=15, random_state=2)
    assert np.all(np.isfinite(b.A)) and np.all(np.isfinite(b.B))
    np.testing.assert_array_equal(b.reconstruct(), c * a.reconstruct())


def _lines_problem(seed=0, n=60, m=40, r=6):
    """Stored entries with lines of every kind: many entries, fewer than r (singular), none; a dead component."""
    rng = np.random.default_rng(seed)
    obs = rng.random((n, m)) < 0.5
    obs[0] = False  # a row with no entry
    obs[1] = False
    obs[1, :3] = True  # fewer entries than components
    X = rng.random((n, m))
    S = sp.csr_array((X[obs], np.nonzero(obs)), shape=(n, m))
    B = rng.random((r, m))  # X is not of low rank: many unconstrained minimisers have a negative entry
    B[2] = 0.0  # a dead component
    return S, B, obs, X


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_line_nnls_matches_scipy_nnls_line_by_line(seed):
    from scipy.optimize import nnls

    from nmfexp.solvers.als import _KKT_TOL, _RCOND

    pytest.importorskip("numba")
    S, B, obs, X = _lines_problem(seed)
    ops = _sparse.StoredOps(_sparse.sparse_data(S))
    out, hard = ops.nnls_lines(0, B, _RCOND, _KKT_TOL)
    infeasible = 0
    for q in range(S.shape[0]):
        sel = np.flatnonzero(obs[q])
        C, x = B[:, sel].T, X[q, sel]
        if sel.size:
            infeasible += np.linalg.lstsq(C[:, [0, 1, 3, 4, 5]], x, rcond=None)[0].min() < 0
        if hard[q]:
            continue  # solved by nnls on the observed entries by the caller
        ref = nnls(C, x)[0] if sel.size else np.zeros(B.shape[0])
        assert out[:, q].min() >= 0
        # the same loss (unique minimiser where C has full column rank; then the same point)
        assert np.linalg.norm(C @ out[:, q] - x) <= np.linalg.norm(C @ ref - x) * (1 + 1e-12) + 1e-14
        if sel.size >= B.shape[0] and np.linalg.matrix_rank(C[:, [0, 1, 3, 4, 5]]) == 5:
            np.testing.assert_allclose(out[:, q], ref, rtol=1e-9, atol=1e-12)
    assert infeasible > 5  # the active-set step ran, not only the unconstrained one
    assert hard.sum() <= 2


def test_compiled_hals_lines_match_the_component_updates():
    from nmfexp.solvers.hals import local_updates

    pytest.importorskip("numba")
    S, B, obs, X = _lines_problem(3)
    ops = _sparse.StoredOps(_sparse.sparse_data(S))
    At = np.random.default_rng(4).random((B.shape[0], S.shape[0]))
    expect = At.copy()
    local_updates(expect, ops.times_xt(B), ops.gram_rows(B))
    assert ops.hals_lines(0, B, At)
    np.testing.assert_allclose(At, expect, rtol=1e-12, atol=1e-14)
    assert (At[2] == 0).all() and (At[:, 0] == 0).all()  # dead component and empty row: 0


@pytest.mark.parametrize("name", ["als", "hals", "gdcls"])
def test_compiled_line_solvers_agree_with_the_numpy_fallback(name, monkeypatch):
    pytest.importorskip("numba")
    X, obs, S = data(missing=0.8)
    runs = {}
    for backend in ("numba", "numpy"):
        monkeypatch.setattr(_sparse, "BACKEND", backend)
        stop = {} if name == "gdcls" else {"stop_on": "stationarity"}  # GD-CLS is not monotone
        runs[backend] = nmfexp.factorize(S, "stored", solver=name, rank=6, max_iter=30, tol=1e-6, random_state=2,
                                         **stop)
    a, b = runs["numba"], runs["numpy"]
    assert a.n_iter == b.n_iter and a.stop_reason == b.stop_reason
    assert close(b.A, a.A, 1e-10) and close(b.B, a.B, 1e-10)
    # the measure is recorded when it is the stopping rule (not for GD-CLS here): the objectives otherwise
    key = "objective" if name == "gdcls" else "stationarity"
    np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-8, atol=1e-12)
