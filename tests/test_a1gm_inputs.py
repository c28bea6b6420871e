"""A1GM's parameters and exotic inputs: each either correct or a clear ValueError.

Huge sparse matrices, ``random_state`` and ``backend`` checks, durations and
dates, float types wider than float64, values spread from 1e-300 to 1e300,
the KL divergence where a reconstruction is 0, and the kernel split across
threads (against the serial kernel and the NumPy oracle).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_observed
from scipy.special import kl_div
from test_core_a1gm import dense_a1gm_oracle

import nmfexp
from nmfexp.metrics import weighted_kl
from nmfexp.solvers import _a1gm_kernel
from nmfexp.solvers import a1gm as a1gm_module


def _fit(X, mask=None, **kw):
    return nmfexp.factorize(X, mask, solver="a1gm", **kw)


# ---- scipy.sparse: never densified beyond a size, refused before allocating n x m --------------------


def test_huge_sparse_with_few_stored_entries_is_refused_before_allocating():
    S = sp.csr_array((np.ones(50), (np.arange(50), np.arange(50))), shape=(10**5, 10**5))
    with pytest.raises(nmfexp.SolverRefused, match="complete row"):
        _fit(S, "stored")  # 0.2.0 densified 80 GB here (MemoryError)


def test_huge_sparse_with_every_entry_observed_works_on_stored_entries():
    rng = np.random.default_rng(0)
    n, m = 10**5, 2 * 10**5
    rows, cols = rng.integers(0, n, 300), rng.integers(0, m, 300)
    S = sp.coo_array((rng.random(300) + 0.5, (rows, cols)), shape=(n, m))
    res = _fit(S, "all")
    # fully observed: the rank-1 KL optimum is row sums x column sums / total (independent oracle, on the
    # stored entries' rows and columns only, so nothing n x m is built)
    r, c = np.asarray(S.sum(axis=1)), np.asarray(S.sum(axis=0))
    i, j = rows[:20], cols[:20]
    np.testing.assert_allclose(res.A[i, 0] * res.B[0, j], r[i] * c[j] / S.sum(), rtol=1e-12)
    assert res.info["n_missing"] == 0 and res.info["grid_like"]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stored", "all"])
def test_sparse_path_on_stored_entries_matches_the_dense_oracle(monkeypatch, how):
    monkeypatch.setattr(a1gm_module, "_SPARSE_DENSE_MAX", 0)  # take the stored-entry path on a small matrix
    rng = np.random.default_rng(1)
    X = rng.random((40, 30))
    observed = make_observed("random", 40, 30, 0.03, rng)
    S = sp.csr_array(np.where(observed, X, 0.0)) if how == "all" else \
        sp.coo_array((X[observed], np.nonzero(observed)), shape=X.shape)
    expected_obs = np.ones_like(observed) if how == "all" else observed
    dense = np.where(observed, X, 0.0)
    res = _fit(S, how)
    np.testing.assert_allclose(res.reconstruct(), dense_a1gm_oracle(dense, expected_obs), rtol=1e-12)
    assert res.info == _fit(dense, expected_obs).info


def test_sparse_stored_negative_value_is_named(monkeypatch):
    monkeypatch.setattr(a1gm_module, "_SPARSE_DENSE_MAX", 0)
    S = sp.csr_array(np.ones((5, 4)))
    S.data[6] = -2.0
    with pytest.raises(ValueError, match=r"X\[1, 2\] = -2.0"):
        _fit(S, "stored")


# ---- parameters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["abc", -5, 1.5, True, np.random.RandomState(0)])
def test_invalid_random_state_is_refused_as_the_iterative_solvers_refuse_it(seed):
    X = np.random.default_rng(0).random((6, 5))
    with pytest.raises(ValueError) as a1gm_error:
        _fit(X, random_state=seed)
    with pytest.raises(ValueError) as wnmf_error:
        nmfexp.factorize(X, solver="wnmf_kl", random_state=seed, max_iter=2)
    assert str(a1gm_error.value) == str(wnmf_error.value)


@pytest.mark.parametrize("seed", [None, 0, 7, np.int64(3), np.random.default_rng(1)])
def test_valid_random_state_changes_nothing(seed):
    X = np.random.default_rng(0).random((6, 5))
    assert np.array_equal(_fit(X, random_state=seed).A, _fit(X).A)


@pytest.mark.parametrize("backend", ["fast", None, 1, "NUMBA"])
def test_invalid_backend_is_refused(backend):
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'numba', 'numpy'"):
        _fit(np.ones((3, 3)), backend=backend)


def test_backends_agree_with_the_oracle_and_each_other():
    pytest.importorskip("numba")
    rng = np.random.default_rng(2)
    X = rng.random((45, 38))
    observed = make_observed("random", 45, 38, 0.02, rng)
    Xn = np.where(observed, X, np.nan)
    out = {b: _fit(Xn, backend=b) for b in ("auto", "numba", "numpy")}
    assert np.array_equal(out["auto"].A, out["numba"].A)  # auto is the compiled kernel
    for res in out.values():
        np.testing.assert_allclose(res.reconstruct(), dense_a1gm_oracle(X, observed), rtol=1e-12)


def test_backend_is_a_solver_parameter():
    from nmfexp.api import accepted_parameters, resolve_solver

    assert "backend" in accepted_parameters(resolve_solver("a1gm"))


# ---- dtypes float64 cannot stand for ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["m8[s]", "M8[D]"])
def test_durations_and_dates_are_refused_as_data(dtype):
    X = np.arange(12).reshape(4, 3).astype(dtype)
    with pytest.raises(ValueError, match="durations or dates"):
        _fit(X)
    Xn = X.copy()
    Xn[0, 0] = np.array("NaT", dtype=dtype)  # 0.2.0: "negative value -9.2e18"
    with pytest.raises(ValueError, match="durations or dates"):
        _fit(Xn)


def test_durations_are_refused_as_a_mask():
    mask = np.ones((4, 3), dtype="m8[s]")
    with pytest.raises(ValueError, match="mask must be a boolean or 0/1 array, got dtype timedelta64"):
        _fit(np.ones((4, 3)), mask)


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="longdouble is float64 here")
@pytest.mark.parametrize(("value", "match"), [("1e400", "above float64's largest"), ("-1e400", "above float64's"),
                                              ("1e-400", "would become 0")])
def test_longdouble_outside_float64_is_refused_without_a_warning(value, match):
    X = np.ones((4, 3), dtype=np.longdouble)
    X[2, 1] = np.longdouble(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning before the error would fail here
        with pytest.raises(ValueError, match=match + r".*X\[2, 1\]"):
            _fit(X)
        with pytest.raises(ValueError, match=match):
            nmfexp.rank1_nmmf(X, np.zeros((0, 3)), np.zeros((4, 0)))


def test_longdouble_inside_float64_is_converted():
    X = np.random.default_rng(0).random((5, 4))
    assert np.array_equal(_fit(X.astype(np.longdouble)).A, _fit(X).A)


# ---- values spread over 600 orders of magnitude ------------------------------------------------------

P = np.array([1e150, 1.0, 3e-150, 2.0])
Q = np.array([1e150, 5.0, 1e-150])
RANK1 = np.outer(P, Q)  # entries from 3e-300 to 1e300, exactly rank 1


def test_rank1_nmmf_keeps_every_row_of_widely_spread_data():
    w, h, a, b = nmfexp.rank1_nmmf(RANK1, np.zeros((0, 3)), np.zeros((4, 0)))
    assert np.all(w > 0) and np.all(h > 0)  # 0.2.0: the 3e-150 row underflowed to 0
    np.testing.assert_allclose(np.outer(w, h) / RANK1, 1.0, rtol=1e-12)


def test_rank1_nmmf_spread_blocks_match_theorem_1_on_each_block():
    X, Y, Z = RANK1[1:3], RANK1[3:], RANK1[1:3, :2] * 1e-5
    w, h, a, b = nmfexp.rank1_nmmf(X, Y, Z)
    # Theorem 1's block products, each written as a ratio that fits in float64
    SX, SY, SZ = X.sum(), Y.sum(), Z.sum()
    np.testing.assert_allclose(np.outer(w, h), np.outer((X.sum(1) + Z.sum(1)) * (SX / (SX + SZ)),
                                                        (X.sum(0) + Y.sum(0)) / (SX + SY)), rtol=1e-12)
    np.testing.assert_allclose(np.outer(a, h), np.outer(Y.sum(1), X.sum(0) + Y.sum(0)) / (SX + SY), rtol=1e-12)
    np.testing.assert_allclose(np.outer(w, b), np.outer(X.sum(1) + Z.sum(1), Z.sum(0)) / (SX + SZ), rtol=1e-12)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("marked", ["mask", "nan", "none"])
def test_a1gm_keeps_every_row_and_column_of_widely_spread_data(backend, marked):
    if backend == "numba":
        pytest.importorskip("numba")
    observed = np.ones(RANK1.shape, bool)
    observed[3, 2] = False  # a grid-like gap: A1GM is exact on rank-1 data
    X = RANK1.copy()
    mask = None
    if marked == "nan":
        X[~observed] = np.nan
    elif marked == "mask":
        mask = observed
    else:
        observed[:] = True
    res = _fit(X, mask, backend=backend)
    R = res.reconstruct()
    assert np.all(R[observed] > 0)  # 0.2.0: the 1e-150 column's factor underflowed to 0
    np.testing.assert_allclose(R[observed] / RANK1[observed], 1.0, rtol=1e-12)
    assert np.isfinite(weighted_kl(RANK1, R, observed))


def test_a1gm_spread_data_near_overflow():
    X = RANK1.copy()
    X[0] *= 1.7e8  # sums overflow: the rescaled path, whose rescaling would underflow the small row
    res = _fit(X)
    np.testing.assert_allclose(res.reconstruct(), dense_a1gm_oracle_spread(X), rtol=1e-12)


def dense_a1gm_oracle_spread(X):
    """Fully observed: row sums x column sums / total, each product formed as a ratio (no overflow)."""
    r, c = X.sum(axis=1, dtype=np.longdouble), X.sum(axis=0, dtype=np.longdouble)
    return np.asarray(np.outer(r, c / r.sum()), dtype=np.float64)


# ---- the KL divergence where R is 0 -------------------------------------------------------------------


def test_weighted_kl_is_infinite_where_r_is_zero_at_a_positive_entry_at_any_scale():
    X = np.array([[1e300, 1e-300, 2.0]])
    R = np.array([[1e300, 0.0, 2.0]])
    assert weighted_kl(X, R) == np.inf  # 0.2.0: 0.0 (the 1e-300 vanished when rescaled)
    assert weighted_kl(X[:, 1:], R[:, 1:]) == np.inf


def test_weighted_kl_of_spread_values_adds_every_term():
    X = np.array([[1e200, 1e-300, 0.0]])
    R = np.array([[1e200, 3e-300, 1e-290]])
    expected = (kl_div(1.0, 3.0) * 1e-300 + 1e-290)
    assert weighted_kl(X, R) == pytest.approx(expected, rel=1e-12)  # 0.2.0: 0.0
    assert weighted_kl(X * 1e100, R * 1e100) == pytest.approx(expected * 1e100, rel=1e-12)


# ---- threads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["grid", "random"])
@pytest.mark.parametrize("marked", ["mask", "nan"])
@pytest.mark.parametrize("threads", [2, 3, 7])
def test_kernel_split_across_threads_matches_serial_and_oracle(monkeypatch, kind, marked, threads):
    pytest.importorskip("numba")
    monkeypatch.setattr(_a1gm_kernel, "PARALLEL_MIN", 1)
    rng = np.random.default_rng(threads)
    X = rng.random((203, 61))
    observed = make_observed(kind, 203, 61, 0.004, rng)
    Xv, mask = (np.where(observed, X, 0.0), observed) if marked == "mask" else (np.where(observed, X, np.nan), None)
    serial = _a1gm_kernel.a1gm_sums(Xv, mask, "numba", 1)
    split = _a1gm_kernel.a1gm_sums(Xv, mask, "numba", threads)
    rc = serial.row_complete
    assert np.array_equal(split.row_complete, rc) and np.array_equal(split.col_complete, serial.col_complete)
    assert split.n_missing == serial.n_missing
    assert np.array_equal(split.row_sums[rc], serial.row_sums[rc])  # per-row sums: the same bits
    assert np.array_equal(split.row_sums_cc[~rc], serial.row_sums_cc[~rc])
    np.testing.assert_allclose(split.col_sums, serial.col_sums, rtol=1e-14)  # blocks added: to rounding
    for name in ("SX", "SY", "SZ"):
        assert getattr(split, name) == pytest.approx(getattr(serial, name), rel=1e-14)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        res = _fit(Xv, mask)
    if observed.all(axis=1).any() and observed.all(axis=0).any():
        np.testing.assert_allclose(res.reconstruct(), dense_a1gm_oracle(X, observed), rtol=1e-12)


def test_bad_value_in_a_later_block_is_still_found(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(_a1gm_kernel, "PARALLEL_MIN", 1)
    X = np.random.default_rng(0).random((100, 20))
    X[97, 3] = -1.0
    for mask in (None, np.ones(X.shape, bool)):
        with pytest.raises(ValueError, match=r"X\[97, 3\] = -1.0"):
            _a1gm_kernel.a1gm_sums(X, mask, "numba", 4)


def test_kernel_threads_follow_the_blas_limit():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        assert _a1gm_kernel.blas_thread_limit() == 1
    with threadpoolctl.threadpool_limits(2):
        assert _a1gm_kernel.blas_thread_limit() in (1, 2)  # 1 where BLAS has a single thread


def test_inputs_below_the_split_threshold_are_read_by_one_thread(monkeypatch):
    """Two threads were slower than one below 2**25 entries (the passes are bound by memory bandwidth), so
    A1GM reads such an input serially whatever the BLAS limit, and gives the serial bits."""
    pytest.importorskip("numba")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X = np.random.default_rng(8).random((2048, 1024))  # 2**21 entries: split before, serial now
    X[5, :7] = np.nan
    serial = _fit(X, None)

    def no_threads(func, blocks):
        raise AssertionError(f"split into {len(blocks)} blocks")

    monkeypatch.setattr(_a1gm_kernel, "_in_threads", no_threads)
    with threadpoolctl.threadpool_limits(2):
        if _a1gm_kernel.blas_thread_limit() < 2:
            pytest.skip("BLAS runs a single thread here")
        res = _fit(X, None)
    np.testing.assert_array_equal(res.A, serial.A)
    np.testing.assert_array_equal(res.B, serial.B)
