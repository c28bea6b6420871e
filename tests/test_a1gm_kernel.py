"""A1GM's sums: the compiled kernel, the NumPy fallback and the dense oracle agree.

Every test runs once per kernel (``kernel`` fixture); the compiled one is
skipped when numba is not installed. Shapes are chosen so that the row groups
of the compiled loops have tails (row counts not multiples of eight).
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest
from conftest import make_observed
from test_core_a1gm import dense_a1gm_oracle

import nmfexp
from nmfexp.solvers import _a1gm_kernel

KERNELS = ["numba", "numpy"]


@pytest.fixture(params=KERNELS)
def kernel(request, monkeypatch):
    if request.param == "numba":
        pytest.importorskip("numba")
    monkeypatch.setattr(_a1gm_kernel, "BACKEND", request.param)
    return request.param


def _case(kind, shape, rate):
    rng = np.random.default_rng(zlib.crc32(repr((kind, shape, rate)).encode()))  # stable across processes
    X = rng.random(shape)
    observed = make_observed(kind, *shape, rate, rng)
    return X, observed


def _a1gm(X, mask=None):
    return nmfexp.factorize(X, mask=mask, solver="a1gm")


def _defined(observed):
    return observed.all(axis=1).any() and observed.all(axis=0).any()


CASES = [(kind, shape, rate) for kind in ("grid", "corner", "random")
         for shape in ((7, 5), (40, 33), (120, 90), (3, 200)) for rate in (0.01, 0.05, 0.2)]


@pytest.mark.parametrize(("kind", "shape", "rate"), CASES)
def test_every_way_of_marking_gaps_matches_the_oracle(kernel, kind, shape, rate):
    X, observed = _case(kind, shape, rate)
    if not _defined(observed):
        pytest.skip("no complete row/column: A1GM is undefined (tested elsewhere)")
    expected = dense_a1gm_oracle(X, observed)
    Xz, Xn = np.where(observed, X, 0.0), np.where(observed, X, np.nan)
    variants = {
        "bool mask, zeros": (Xz, observed),
        "0/1 mask": (Xz, observed.astype(np.int8)),
        "NaN, no mask": (Xn, None),
        "NaN, no mask, F order": (np.asfortranarray(Xn), None),
        "F order, F mask": (np.asfortranarray(Xz), np.asfortranarray(observed)),
        "F order, C mask": (np.asfortranarray(Xz), observed),
        "C order, F mask": (Xz, np.asfortranarray(observed)),
    }
    ref = None
    for name, (Xv, mask) in variants.items():
        res = _a1gm(Xv, mask)
        np.testing.assert_allclose(res.reconstruct(), expected, rtol=1e-12, atol=0, err_msg=name)
        if ref is None:
            ref = res.info
        assert res.info == ref, name


@pytest.mark.parametrize(("kind", "shape", "rate"), CASES)
def test_compiled_kernel_agrees_with_numpy_fallback(monkeypatch, kind, shape, rate):
    pytest.importorskip("numba")
    X, observed = _case(kind, shape, rate)
    if not _defined(observed):
        pytest.skip("no complete row/column")
    Xn = np.where(observed, X, np.nan)
    for Xv, mask in ((np.where(observed, X, 0.0), observed), (Xn, None), (np.asfortranarray(Xn), None)):
        out = {}
        for backend in KERNELS:
            monkeypatch.setattr(_a1gm_kernel, "BACKEND", backend)
            out[backend] = _a1gm(Xv, mask)
        np.testing.assert_allclose(out["numba"].A, out["numpy"].A, rtol=1e-13, atol=0)
        np.testing.assert_allclose(out["numba"].B, out["numpy"].B, rtol=1e-13, atol=0)
        assert out["numba"].info == out["numpy"].info


@pytest.mark.parametrize("junk", [1e6, -7.0, np.nan, np.inf, -np.inf, 1e308])
@pytest.mark.parametrize("kind", ["grid", "random"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_junk_at_missing_entries_changes_no_bit(kernel, junk, kind, order):
    X, observed = _case(kind, (37, 29), 0.05)
    Xz = np.asarray(np.where(observed, X, 0.0), order=order)
    Xj = Xz.copy(order="K")
    Xj[~observed] = junk
    ref, res = _a1gm(Xz, observed), _a1gm(Xj, observed)
    assert np.array_equal(res.A, ref.A) and np.array_equal(res.B, ref.B)
    assert res.info == ref.info


def test_nan_without_mask_detected_in_the_pass_equals_its_mask(kernel):
    """NaN marking without a mask gives the answer of the equivalent boolean mask."""
    for kind in ("grid", "corner", "random"):
        X, observed = _case(kind, (61, 45), 0.05)
        Xn = np.where(observed, X, np.nan)
        a, b = _a1gm(Xn), _a1gm(np.where(observed, X, 0.0), observed)
        np.testing.assert_allclose(a.reconstruct(), b.reconstruct(), rtol=1e-13)
        assert a.info == b.info


@pytest.mark.slow
def test_caller_arrays_untouched_and_read_only_inputs_work(kernel):
    X, observed = _case("grid", (45, 38), 0.05)
    expected = dense_a1gm_oracle(X, observed)
    for Xv, mask in ((np.where(observed, X, 0.0), observed.copy()), (np.where(observed, X, np.nan), None)):
        for order in ("C", "F"):
            Xv = np.asarray(Xv, order=order)
            mask = None if mask is None else np.asarray(mask, order=order)
            before_X = Xv.copy(order="K")
            before_mask = None if mask is None else mask.copy()
            Xv.setflags(write=False)
            if mask is not None:
                mask.setflags(write=False)
            np.testing.assert_allclose(_a1gm(Xv, mask).reconstruct(), expected, rtol=1e-12)
            assert np.array_equal(Xv, before_X, equal_nan=True)
            assert mask is None or np.array_equal(mask, before_mask)


def test_non_contiguous_views(kernel):
    X, observed = _case("random", (50, 41), 0.02)
    expected = dense_a1gm_oracle(X, observed)
    bigX = np.full((100, 123), 5.0)
    bigM = np.zeros((100, 123), dtype=bool)
    bigX[::2, ::3], bigM[::2, ::3] = np.where(observed, X, -1.0), observed
    np.testing.assert_allclose(_a1gm(bigX[::2, ::3], bigM[::2, ::3]).reconstruct(), expected, rtol=1e-12)
    bigX[::2, ::3] = np.where(observed, X, np.nan)
    np.testing.assert_allclose(_a1gm(bigX[::2, ::3]).reconstruct(), expected, rtol=1e-12)
    # a transposed view of a strided array, and a mask that is a view of a larger one
    np.testing.assert_allclose(_a1gm(bigX[::2, ::3].T, bigM[::2, ::3].T).reconstruct(), expected.T, rtol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (1, 17), (17, 1)])
def test_single_row_and_single_column(kernel, shape):
    X = np.random.default_rng(1).random(shape) + 0.1
    R = _a1gm(X).reconstruct()
    np.testing.assert_allclose(R, np.outer(X.sum(1), X.sum(0)) / X.sum(), rtol=1e-13)
    np.testing.assert_allclose(R, X, rtol=1e-13)  # a single row or column is rank 1 already
    if X.size > 1:
        Xn = X.copy()
        Xn.flat[X.size // 2] = np.nan  # the only row (or column) gets a gap: A1GM is undefined
        with pytest.raises(ValueError, match="at least one complete (row|column)"):
            _a1gm(Xn)
        with pytest.raises(ValueError, match="at least one complete (row|column)"):
            _a1gm(np.nan_to_num(Xn), ~np.isnan(Xn))


def test_single_row_of_a_wider_problem_with_gap_columns(kernel):
    """n = 2: one complete row, one row with gaps (the Z block alone carries the gap columns)."""
    X = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, np.nan, 7.0, np.nan]])
    observed = ~np.isnan(X)
    expected = dense_a1gm_oracle(np.nan_to_num(X), observed)
    np.testing.assert_allclose(_a1gm(X).reconstruct(), expected, rtol=1e-13)
    np.testing.assert_allclose(_a1gm(X.T).reconstruct(), expected.T, rtol=1e-13)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("where", ["complete row", "row with gaps, complete column", "row with gaps, gap column"])
@pytest.mark.parametrize(("bad", "message"), [(np.nan, "non-finite"), (np.inf, "non-finite"),
                                              (-np.inf, "non-finite"), (-0.5, "negative")])
def test_bad_observed_value_is_rejected_with_its_position(kernel, order, where, bad, message):
    n, m = 21, 13
    X = np.asarray(np.random.default_rng(4).random((n, m)), order=order)
    observed = np.ones((n, m), dtype=bool)
    observed[np.ix_([2, 9, 17], [3, 8])] = False
    i, j = {"complete row": (12, 8), "row with gaps, complete column": (9, 5),
            "row with gaps, gap column": (17, 8)}[where]
    observed[17, 8] = where == "row with gaps, gap column"  # an observed entry in the gap block
    X[~observed] = np.nan
    X[i, j] = bad
    position = rf"X\[{i}, {j}\]"
    with pytest.raises(ValueError, match=message) as err:
        _a1gm(X, observed)
    assert "non-finite" not in message or err.match(position)
    if message == "negative":
        err.match(position)
    if not np.isnan(bad):  # without a mask NaN marks a gap, every other bad value is observed
        with pytest.raises(ValueError, match=message) as err:
            _a1gm(X)
        err.match(position)


def test_bad_observed_value_among_junk_in_the_same_row_is_rejected(kernel):
    X, observed = _case("grid", (30, 26), 0.05)
    i = int(np.flatnonzero(~observed.all(axis=1))[0])
    j = int(np.flatnonzero(observed[i])[0])
    Xj = np.where(observed, X, np.nan)
    Xj[i, j] = -1.0
    with pytest.raises(ValueError, match=rf"negative.*X\[{i}, {j}\]"):
        _a1gm(Xj, observed)
    Xj[i, j] = np.nan
    with pytest.raises(ValueError, match=rf"non-finite.*X\[{i}, {j}\]"):
        _a1gm(Xj, observed)


def test_overflowing_sums_are_computed_on_rescaled_data(kernel):
    # Finite observed values whose sums overflow float64: A1GM recomputes on X / 2**k and scales back.
    def check(X):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = _a1gm(X)
        small = _a1gm(np.ldexp(X, -1000))
        assert np.all(np.isfinite(res.A)) and np.all(np.isfinite(res.B))
        R = np.ldexp(small.A, 500) @ np.ldexp(small.B, 500)
        np.testing.assert_allclose(res.reconstruct(), R, rtol=1e-13)

    X = np.full((12, 10), 1e308)
    check(X)
    X[0, 0] = np.nan  # overflow on the path that finds NaN in the pass
    check(X)
    X = np.ones((12, 10))
    X[:, 0] = 1e308  # row sums fine, a column sum overflows
    check(X)
    X[3, 4] = -1.0  # a bad value is still named, not mistaken for an overflow
    with pytest.raises(ValueError, match="negative"):
        _a1gm(X)


def test_everything_missing_says_so(kernel):
    with pytest.raises(ValueError, match="every entry"):
        _a1gm(np.full((9, 4), np.nan))
    with pytest.raises(ValueError, match="every entry"):
        _a1gm(np.ones((9, 4)), np.zeros((9, 4), bool))


def test_all_true_mask_rejects_nan_as_an_observed_value(kernel):
    X = np.random.default_rng(0).random((10, 9))
    X[4, 6] = np.nan
    with pytest.raises(ValueError, match=r"X\[4, 6\]"):
        _a1gm(X, np.ones_like(X, dtype=bool))


def test_gaps_found_late_in_the_pass(kernel):
    """Incomplete columns that first show up in late rows: rows read before must be summed again."""
    rng = np.random.default_rng(11)
    X = rng.random((50, 30))
    observed = np.ones_like(X, dtype=bool)
    observed[[3, 4, 20, 21, 22, 49], [0, 5, 9, 13, 20, 29]] = False  # a new gap column in each row with a gap
    expected = dense_a1gm_oracle(X, observed)
    np.testing.assert_allclose(_a1gm(np.where(observed, X, np.nan)).reconstruct(), expected, rtol=1e-12)


def test_mass_concentrated_in_rows_with_gaps(kernel):
    """Rows with gaps hold almost all the mass, so S(X) is a small difference of large
    sums; the kernel must notice and sum exactly (the oracle checks 1e-12)."""
    rng = np.random.default_rng(5)
    X = rng.random((40, 30))
    observed = make_observed("random", 40, 30, 0.02, rng)
    gap_rows = ~observed.all(axis=1)
    X[gap_rows] *= 1e9
    expected = dense_a1gm_oracle(X, observed)
    np.testing.assert_allclose(_a1gm(np.where(observed, X, np.nan)).reconstruct(), expected, rtol=1e-12)
    np.testing.assert_allclose(_a1gm(np.where(observed, X, 0.0), observed).reconstruct(), expected, rtol=1e-12)
    Xt = np.ascontiguousarray(X.T)  # the same with the heavy part in gap columns
    np.testing.assert_allclose(_a1gm(np.where(observed.T, Xt, np.nan)).reconstruct(), expected.T, rtol=1e-12)


def test_zero_blocks_keep_their_meaning(kernel):
    X = np.zeros((9, 8))
    X[0, 0] = np.nan
    assert np.array_equal(_a1gm(X).reconstruct(), np.zeros((9, 8)))
    observed = np.ones((9, 8), dtype=bool)
    observed[0, 0] = False
    X = np.zeros((9, 8))
    X[0, 1] = 1.0  # only the incomplete row has mass
    with pytest.raises(ValueError, match="sum to zero"):
        _a1gm(X, observed)


def test_disabling_numba_by_environment_variable(monkeypatch):
    monkeypatch.setattr(_a1gm_kernel, "BACKEND", "auto")
    monkeypatch.setenv("NMFEXP_DISABLE_NUMBA", "1")
    assert not _a1gm_kernel.numba_enabled()
    assert _a1gm_kernel.resolve_backend("auto") is None  # read on every call, also once the kernel is loaded
    X, observed = _case("grid", (20, 15), 0.05)
    np.testing.assert_allclose(_a1gm(np.where(observed, X, np.nan)).reconstruct(),
                               dense_a1gm_oracle(X, observed), rtol=1e-12)
    monkeypatch.setenv("NMFEXP_DISABLE_NUMBA", "0")
    try:
        import numba  # noqa: F401
    except ImportError:
        assert not _a1gm_kernel.numba_enabled()
    else:
        assert _a1gm_kernel.numba_enabled()


def test_negative_zero_is_a_valid_value_and_a_sign_bit_nan_is_a_gap(kernel):
    """The compiled loops screen values by their bit patterns; -0.0 (sign bit set)
    must still count as the zero it is, and a NaN with its sign bit set (what
    0.0 / 0.0 gives on x86) must still mark a gap."""
    X, observed = _case("grid", (26, 19), 0.05)
    Xz = np.where(observed, X, 0.0)
    Xz[observed.all(axis=1).nonzero()[0][0], 4] = 0.0  # an observed zero in a complete row
    expected = dense_a1gm_oracle(Xz, observed)
    Xm = Xz.copy()
    Xm[Xz == 0.0] = -0.0
    assert np.signbit(Xm[~observed]).all()
    for junk_sign_nan in (False, True):
        Xn = np.where(observed, Xm, -np.nan if junk_sign_nan else np.nan)
        assert np.signbit(Xn[~observed]).all() == junk_sign_nan
        np.testing.assert_allclose(_a1gm(Xn).reconstruct(), expected, rtol=1e-12)
        np.testing.assert_allclose(_a1gm(Xn, observed).reconstruct(), expected, rtol=1e-12)
    np.testing.assert_allclose(_a1gm(Xm, observed).reconstruct(), expected, rtol=1e-12)
    np.testing.assert_allclose(_a1gm(Xm).reconstruct(), dense_a1gm_oracle(Xm, np.ones_like(observed)), rtol=1e-12)


def test_compiled_kernels_load_or_fall_back(monkeypatch):
    from nmfexp.solvers import _compiled

    monkeypatch.setattr(_compiled, "_unavailable", set())
    monkeypatch.delenv("NMFEXP_DISABLE_NUMBA", raising=False)
    assert _compiled.compiled_module("numpy", "_a1gm_jit") is None
    assert _compiled.compiled_module("auto", "_no_such_kernel") is None  # as without numba: the NumPy path
    assert "_no_such_kernel" in _compiled._unavailable  # and not retried on every call
    with pytest.raises(ImportError):
        _compiled.compiled_module("numba", "_no_such_kernel")  # asked for explicitly: the error, not a fallback
    monkeypatch.setenv("NMFEXP_DISABLE_NUMBA", "1")
    assert _compiled.compiled_module("auto", "_a1gm_jit") is None


_IMPORTS_OF_ONE_CALL = """
import sys
import numpy as np
HEAVY = ("numba", "llvmlite", "hydra", "omegaconf", "pandas", "h5py", "matplotlib")
def loaded():
    return sorted(({m.split(".")[0] for m in sys.modules} & set(HEAVY)) | ({"scipy.optimize"} & set(sys.modules)))
import nmfexp
print(loaded())
X = np.random.default_rng(0).random((30, 20)); X[2, 3] = np.nan
nmfexp.factorize(X, solver="a1gm", backend="numpy")
print(loaded())
nmfexp.factorize(X, solver="a1gm")
print(loaded())
"""


def test_import_and_one_a1gm_call_stay_light():
    """``import nmfexp`` and an A1GM call load none of the experiment layer's libraries (Hydra, pandas, h5py,
    matplotlib), nor ``scipy.optimize`` (ALS imports it when it first solves); numba and llvmlite are loaded by the first call that uses the compiled kernel, not before."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _IMPORTS_OF_ONE_CALL], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NMFEXP_DISABLE_NUMBA": "0"})
    assert out.returncode == 0, out.stderr
    after_import, after_numpy_call, after_auto_call = out.stdout.splitlines()[-3:]
    assert after_import == "[]" and after_numpy_call == "[]"
    try:
        import numba  # noqa: F401
    except ImportError:
        assert after_auto_call == "[]"
    else:
        assert after_auto_call == "['llvmlite', 'numba']"


@pytest.mark.parametrize("scale", [1.0, 1e-300, 1e300])
def test_fully_observed_calls_finish_from_the_pass_with_the_general_routes_bits(monkeypatch, scale):
    """A fully observed C-ordered X is finished from the compiled pass alone (no A1GMSums, no further pass
    over the factors), with exactly the numbers of the general route; inputs that need more (tiny rows next
    to big ones, zeros, gaps) still go the general route."""
    pytest.importorskip("numba")
    from nmfexp.solvers import a1gm as a1gm_module

    rng = np.random.default_rng(7)
    inputs = [rng.random(shape) * scale for shape in ((1, 1), (1, 9), (9, 1), (8, 8), (17, 5), (100, 100), (61, 130))]
    spread = rng.random((12, 7))
    spread[3] *= 1e-310  # a row whose factor entry would be subnormal: the general route's spread path
    zeros = np.zeros((6, 4))
    gaps = rng.random((10, 6))
    gaps[2, 3] = np.nan
    general = {}
    for X in [*inputs, spread, zeros, gaps]:
        sums = _a1gm_kernel.a1gm_sums(X, None, "numba")
        res = a1gm_module._from_sums(sums, X, None, "numba", 1)
        general[id(X)] = (res.A, res.B, res.info)
    calls = []
    real = a1gm_module._from_sums
    monkeypatch.setattr(a1gm_module, "_from_sums", lambda *a, **k: calls.append(1) or real(*a, **k))
    for X in [*inputs, spread, zeros, gaps]:
        before = X.copy()
        res = _a1gm(X)
        A, B, info = general[id(X)]
        assert res.A.tobytes() == A.tobytes() and res.B.tobytes() == B.tobytes() and res.info == info
        assert res.A.shape == (X.shape[0], 1) and res.B.shape == (1, X.shape[1]) and res.stop_reason == "closed_form"
        np.testing.assert_array_equal(X, before)
    assert len(calls) == 3  # only the spread, zero and gapped inputs took the general route
