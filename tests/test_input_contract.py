"""The input contract as a catalogue: every kind of input x every entry point, with its expected outcome.

Rows (``ROWS``) are kinds of input: masked arrays, DataFrames with missing
values, scipy.sparse with each statement about its implicit entries, data
scales from subnormal to near overflow, degenerate initial factors, fully
missing rows and columns, skewed shapes, huge ``max_iter``, bad ranks.
Columns (``TARGETS``) are the seven solvers, ``nmfexp.metrics`` and
``nmfexp.rank1_nmmf``; a row lists the columns where it means something.

Every cell runs with warnings turned into errors (so a warning storm, or a
single stray warning, fails it) and checks that every object the caller
passed is unchanged afterwards.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import nmfexp
from nmfexp import metrics
from nmfexp.solvers import SOLVERS

# The NMF solvers with a free start: the baselines have their own contract tests (tests/test_baselines.py),
# a1gm_polish (A1GM's start) its own (tests/test_polish.py).
SOLVER_NAMES = sorted(name for name in SOLVERS if name not in nmfexp.solvers.baselines.__all__
                      and name != "a1gm_polish")
ITERATIVE = [name for name in SOLVER_NAMES if SOLVERS[name].iterative]
SPARSE_SOLVERS = [name for name in SOLVER_NAMES if SOLVERS[name].sparse]
TARGETS = SOLVER_NAMES + ["metrics", "rank1_nmmf"]
ALL = tuple(TARGETS)
FITS = tuple(SOLVER_NAMES)

# ---- data shared by the rows ------------------------------------------------------------------------

_rng = np.random.default_rng(20221)
N, M = 24, 18
X0 = _rng.random((N, 2)) @ _rng.random((2, M)) + 0.05 * _rng.random((N, M))  # positive, largest value ~1.6
OBS0 = np.ones((N, M), dtype=bool)
OBS0[np.ix_([2, 5, 11], [3, 4])] = False  # grid-like: A1GM applies (and is exact)
JUNK0 = np.where(OBS0, X0, 1e6)  # what a masked array may hold under its mask
NAN0 = np.where(OBS0, X0, np.nan)
R0 = np.outer(X0.mean(axis=1), X0.mean(axis=0)) / X0.mean()  # a positive "reconstruction" for metrics
# Exactly rank 1 (every solver reaches the same optimum from any start): scale rows compare reconstructions.
U1, V1 = _rng.random((N, 1)) + 0.2, _rng.random((1, M)) + 0.2
X1 = U1 @ V1


def fit(name, X, mask=None, **kw):
    """One solver run through nmfexp.factorize: rank 2 (1 for a1gm), 30 iterations, seed 0."""
    params = {} if name == "a1gm" else {"max_iter": 30, "random_state": 0}
    params.update(kw)
    return nmfexp.factorize(X, mask, solver=name, rank=1 if name == "a1gm" else params.pop("rank", 2), **params)


def metric_values(X, R, mask=None) -> tuple[float, float, float]:
    return metrics.weighted_kl(X, R, mask), metrics.weighted_frobenius(X, R, mask), metrics.relative_error(X, R, mask)


def blocks(X):
    """rank1_nmmf's three blocks from a matrix: complete rows 12.. x all columns, the rows above, 5 columns."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[12:], X.iloc[:12], X.iloc[12:, :5]
    return X[12:], X[:12], X[12:, :5]


def same_fit(a, b, rtol: float = 0.0) -> None:
    if rtol == 0:
        assert np.array_equal(a.A, b.A) and np.array_equal(a.B, b.B)
        assert np.array_equal(a.history.get("objective", []), b.history.get("objective", []))
    else:
        np.testing.assert_allclose(a.A, b.A, rtol=rtol)
        np.testing.assert_allclose(a.B, b.B, rtol=rtol)
        np.testing.assert_allclose(a.history.get("objective", []), b.history.get("objective", []), rtol=rtol)


def same_tuple(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)


def equivalent(target, left: dict, right: dict, rtol: float = 0.0) -> None:
    """``left`` and ``right`` (keyword arguments: X, mask) mean the same input: identical results
    (to ``rtol`` where one side computes on the observed entries only and sums in another order)."""
    if target == "metrics":
        same_tuple(metric_values(left["X"], R0, left.get("mask")), metric_values(right["X"], R0, right.get("mask")))
    elif target == "rank1_nmmf":
        same_tuple(nmfexp.rank1_nmmf(*blocks(left["X"])), nmfexp.rank1_nmmf(*blocks(right["X"])))
    else:
        same_fit(fit(target, left["X"], left.get("mask")), fit(target, right["X"], right.get("mask")), rtol)


def raises(target, X, mask=None, match="", exc=ValueError, **kw) -> None:
    with pytest.raises(exc, match=match):
        if target == "metrics":
            metric_values(X, R0, mask)
        elif target == "rank1_nmmf":
            nmfexp.rank1_nmmf(*blocks(X))
        else:
            fit(target, X, mask, **kw)


# ---- kinds of array -----------------------------------------------------------------------------------


def masked_array(target, keep):
    Xm = keep(np.ma.array(JUNK0, mask=~OBS0))
    if target == "rank1_nmmf":  # blocks are fully observed by definition: a masked entry is refused
        with pytest.raises(ValueError, match="missing entries"):
            nmfexp.rank1_nmmf(Xm[12:], Xm[:12], Xm[12:, :5])
        same_tuple(nmfexp.rank1_nmmf(Xm[12:], Xm[12:14], Xm[12:, :5]), nmfexp.rank1_nmmf(X0[12:], X0[12:14], X0[12:, :5]))
    else:
        equivalent(target, {"X": Xm}, {"X": JUNK0, "mask": OBS0})


def masked_array_and_mask(target, keep):
    other = np.ones((N, M), dtype=bool)
    other[7, 9] = other[20, 1] = False
    Xm = keep(np.ma.array(JUNK0, mask=~OBS0))
    equivalent(target, {"X": Xm, "mask": keep(other)}, {"X": JUNK0, "mask": OBS0 & other})


def masked_array_nothing_masked(target, keep):
    equivalent(target, {"X": keep(np.ma.array(X0))}, {"X": X0})


def frame_float64_na(target, keep):
    df = keep(pd.DataFrame(NAN0).astype("Float64"))  # NaN becomes pd.NA
    assert df.isna().to_numpy().sum() == np.count_nonzero(~OBS0)
    if target == "rank1_nmmf":
        with pytest.raises(ValueError, match="missing entries"):
            nmfexp.rank1_nmmf(df.iloc[12:], df.iloc[:12], df.iloc[12:, :5])
        same_tuple(nmfexp.rank1_nmmf(df.iloc[12:], df.iloc[12:14], df.iloc[12:, :5]),
                   nmfexp.rank1_nmmf(X0[12:], X0[12:14], X0[12:, :5]))
    else:
        equivalent(target, {"X": df}, {"X": NAN0})


def frame_int64_na(target, keep):
    ints = np.round(X0 * 100)
    df = keep(pd.DataFrame(np.where(OBS0, ints, np.nan)).astype("Int64"))
    equivalent(target, {"X": df}, {"X": np.where(OBS0, ints, np.nan)})


def frame_na_and_mask(target, keep):
    other = np.ones((N, M), dtype=bool)
    other[7, 9] = False
    df = keep(pd.DataFrame(NAN0).astype("Float64"))
    equivalent(target, {"X": df, "mask": keep(other)}, {"X": JUNK0, "mask": OBS0 & other})


def frame_non_numeric(target, keep):
    df = pd.DataFrame(X0)
    df[3] = "a"
    raises(target, keep(df), match=r"non-numeric column.*3")


# ---- scipy.sparse: implicit entries mean what mask says -------------------------------------------------

# A ratings-like matrix: row 0 and column 0 fully stored (A1GM applies), an explicit stored zero at (1, 1).
_S_DENSE = np.where(_rng.random((N, M)) < 0.6, X0, 0.0)
_S_DENSE[0] = X0[0]
_S_DENSE[:, 0] = X0[:, 0]
_S_PATTERN = _S_DENSE != 0
_S_PATTERN[1, 1] = True
_S_DENSE[1, 1] = 0.0


def _sparse(fmt: str):
    rows, cols = np.nonzero(_S_PATTERN)
    coo = sp.coo_array((_S_DENSE[rows, cols], (rows, cols)), shape=(N, M))
    return {"csr_matrix": lambda: sp.csr_matrix(coo), "csc_array": lambda: sp.csc_array(coo),
            "coo_array": lambda: coo}[fmt]()


def sparse_stored(fmt):
    def row(target, keep):
        S = keep(_sparse(fmt))
        if target == "rank1_nmmf":
            raises(target, S, match="toarray")
        else:  # the stored zero at (1, 1) is an observed zero; implicit entries are missing
            # Iterative solvers take the sparse path (observed entries only): the same iterates to rounding.
            rtol = 1e-9 if target in SPARSE_SOLVERS else 0.0
            equivalent(target, {"X": S, "mask": "stored"}, {"X": _S_DENSE, "mask": _S_PATTERN}, rtol)

    return row


def sparse_all(target, keep):
    S = keep(_sparse("csr_matrix"))
    if target == "rank1_nmmf":
        raises(target, S, match="toarray")
    else:  # implicit entries are observed zeros
        equivalent(target, {"X": S, "mask": "all"}, {"X": _S_DENSE})


def sparse_unspecified(mask):
    def row(target, keep):
        S = keep(_sparse("csr_matrix"))
        raises(target, S, keep(mask()) if callable(mask) else mask, match=r"mask='stored'.*mask='all'")

    return row


def stored_on_dense(target, keep):
    raises(target, keep(X0.copy()), "stored", match="scipy.sparse")


# ---- scale: c X gives c times the reconstruction of X ------------------------------------------------


def _objective(res):
    return res.history.get("objective", np.empty(0))


def exact_scale(k: int):
    """c = 2**k with k a multiple of 6: the factors (and metrics) scale exactly, bit for bit."""

    def row(target, keep):
        X = keep(np.ldexp(X0, k))
        if target == "metrics":
            base = metric_values(NAN0, R0)
            got = metric_values(keep(np.ldexp(NAN0, k)), keep(np.ldexp(R0, k)))
            assert got == (np.ldexp(base[0], k), np.ldexp(base[1], k), base[2])
        elif target == "rank1_nmmf":
            for a, b in zip(nmfexp.rank1_nmmf(*blocks(X)), nmfexp.rank1_nmmf(*blocks(X0)), strict=True):
                assert np.array_equal(a, np.ldexp(b, k // 2))
        else:
            res, ref = fit(target, X, OBS0), fit(target, X0, OBS0)
            # Each factor is the reference factor times one power of two, and together they give 2**k.
            ka = int(np.frexp(res.A.max() / ref.A.max())[1]) - 1
            assert np.array_equal(res.A, np.ldexp(ref.A, ka)) and np.array_equal(res.B, np.ldexp(ref.B, k - ka))
            assert np.array_equal(_objective(res), np.ldexp(_objective(ref), k))
            assert res.n_iter == ref.n_iter and res.converged == ref.converged

    return row


def any_scale(c):
    """Any c from subnormal to near overflow: finite factors, c times the reconstruction of X (exactly rank 1)."""

    def row(target, keep):
        scale = {"subnormal": 2.0**-1032 / X1.max(), "near overflow": 1e307 / X1.max()}.get(c, c)
        X = keep(X1 * scale)
        rtol = 1e-6 if c == "subnormal" else 1e-12  # subnormal data keep fewer bits
        if target == "metrics":
            R = X1 * 1.01 + 0.001
            base, got = metric_values(X1, R, OBS0), metric_values(X, keep(R * scale), OBS0)
            np.testing.assert_allclose([got[0] / scale, got[1] / scale, got[2]], base, rtol=rtol)
            x, r = metrics.observed_values(X, R * scale, OBS0)  # the values themselves, whatever is done inside
            assert np.array_equal(x, X[OBS0]) and np.array_equal(r, (R * scale)[OBS0])
        elif target == "rank1_nmmf":
            for a, b in zip(nmfexp.rank1_nmmf(*blocks(X)), nmfexp.rank1_nmmf(*blocks(X1)), strict=True):
                assert np.all(np.isfinite(a))
                np.testing.assert_allclose(a / np.sqrt(scale), b, rtol=rtol)
        else:
            kw = {} if target == "a1gm" else {"max_iter": 300, "tol": 1e-12, "rank": 1}
            res, ref = fit(target, X, OBS0, **kw), fit(target, X1, OBS0, **kw)
            assert np.all(np.isfinite(res.A)) and np.all(np.isfinite(res.B))
            assert res.A.min() >= 0 and res.B.min() >= 0
            R = res.reconstruct() / scale
            assert np.linalg.norm(R - ref.reconstruct()) <= 1e-8 * np.linalg.norm(ref.reconstruct())
            # The loss is reported in X's units: near 1e308 an early (poor) value may exceed float64 and
            # show as inf, never as NaN; the final one is small.
            obj = _objective(res)
            assert not np.any(np.isnan(obj)) and (obj.size == 0 or np.isfinite(obj[-1]))

    return row


def metric_beyond_float64(target, keep):
    X = keep(np.full((N, M), 1.7e308))
    with pytest.raises(ValueError, match="beyond float64"):
        metrics.weighted_frobenius(X, X * 0.01)
    assert metrics.relative_error(X, X * 0.01) == pytest.approx(0.99, rel=1e-12)


def range_beyond_float64(target, keep):
    # A complete block of 1e-300 next to observed 1e300: A1GM's closed form divides the one sum by the other
    # (a ratio of 1e600), yet the reconstruction fits in float64 once the factors share the scale.
    X = np.full((4, 4), 1e-300)
    X[1:, 3] = 1e300
    obs = np.ones((4, 4), dtype=bool)
    obs[0, 3] = False
    res = fit(target, keep(X), keep(obs))
    R = res.reconstruct()
    # Theorem 1 on the blocks by hand: complete rows 1-3 hold 1e-300 on columns 0-2 and 1e300 on column 3;
    # row 0 (incomplete) holds 1e-300 on columns 0-2, so every observed entry is reproduced exactly.
    np.testing.assert_allclose(R[obs], X[obs], rtol=1e-12)
    assert np.isfinite(metrics.weighted_kl(X, R, obs))


# ---- degenerate starts ------------------------------------------------------------------------------


def bad_init(make, match: str, scale: float = 1.0):
    def row(target, keep):
        init = keep(make())
        X = X0 * scale
        if target == "a1gm":  # a closed form has no start
            raises(target, X, OBS0, match="does not take parameter.*init", init=init)
        else:
            raises(target, X, OBS0, match=match, init=init)

    return row


def _pair(a, b):
    return lambda: (np.full((N, 2), a), np.full((2, M), b))


def _only_where_missing():
    A0, B0 = np.zeros((N, 2)), np.zeros((2, M))
    A0[2, 0], B0[0, 3] = 1.0, 1.0  # X[2, 3] is missing
    return A0, B0


def tiny_start(target, keep):
    # A start 1e-90 times the data: every solver either grows out of it or says that it ended at zero.
    init = keep(_pair(1e-45, 1e-45)())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit(target, X0, OBS0, init=init, tol=1e-4, max_iter=50)
    zero = res.A.shape[1] * (res.A.max(axis=0) * res.B.max(axis=1)).max() <= 1e-15 * X0.max()
    if zero:
        assert not res.converged
        assert [str(w.message) for w in caught if "all-zero factors" in str(w.message)]
    else:
        assert not caught and res.history["objective"][-1] < 0.5 * np.linalg.norm(np.where(OBS0, X0, 0.0))
    if target == "gdcls":  # its clipped least-squares step from a vanishing A is zero: the case the rule is for
        assert zero


# ---- fully missing rows and columns, skewed shapes, long runs, ranks ----------------------------------


def fully_missing_lines(target, keep):
    obs = OBS0.copy()
    obs[6] = False
    obs[:, 8] = False
    X = keep(np.where(obs, X0, 1e6))
    keep(obs)
    if target == "a1gm":
        raises(target, X, obs, match="complete", exc=nmfexp.SolverRefused)
    elif target == "metrics":  # junk on those lines never counts
        same_tuple(metric_values(X, R0, obs), metric_values(np.where(obs, X0, 0.0), R0, obs))
    else:
        R = fit(target, X, obs, max_iter=300, tol=0.0).reconstruct()
        # No equation touches them: the factors there are 0 (or the MU floor), not free to drift.
        assert max(R[6].max(), R[:, 8].max()) <= 1e-100 * X0.max()


def skewed(shape):
    def row(target, keep):
        rng = np.random.default_rng(5)
        X = keep(rng.random(shape))
        obs = rng.random(shape) >= 0.1
        obs[0] = True
        obs[:, 0] = True
        res = fit(target, X, keep(obs), **({} if target == "a1gm" else {"max_iter": 20}))
        assert np.all(np.isfinite(res.A)) and np.all(np.isfinite(res.B))
        if target in ITERATIVE:
            obj = _objective(res)
            assert obj[-1] < obj[0]

    return row


def huge_max_iter(target, keep):
    # Default tolerances fire: every run ends long before 10**5 iterations (gdcls at an exact fixed point too).
    res = nmfexp.factorize(keep(X0.copy()), OBS0, solver=target, rank=2, random_state=0, max_iter=10**5)
    assert res.converged and res.n_iter < 10**5


def bad_rank(target, keep):
    X = keep(X0.copy())
    with pytest.raises(nmfexp.SolverRefused, match="larger than min"):
        SOLVERS[target].func(X, OBS0, rank=M + 1)
    with pytest.raises(ValueError, match="rank must be an integer"):
        SOLVERS[target].func(X, OBS0, rank=0)


# ---- the catalogue ----------------------------------------------------------------------------------

ROWS = {
    "masked array": (masked_array, ALL),
    "masked array + mask": (masked_array_and_mask, FITS + ("metrics",)),
    "masked array, nothing masked": (masked_array_nothing_masked, ALL),
    "DataFrame Float64 with pd.NA": (frame_float64_na, ALL),
    "DataFrame Int64 with pd.NA": (frame_int64_na, FITS + ("metrics",)),
    "DataFrame with pd.NA + mask": (frame_na_and_mask, FITS + ("metrics",)),
    "DataFrame with a text column": (frame_non_numeric, ALL),
    "sparse csr_matrix, mask='stored'": (sparse_stored("csr_matrix"), ALL),
    "sparse csc_array, mask='stored'": (sparse_stored("csc_array"), FITS + ("metrics",)),
    "sparse coo_array, mask='stored'": (sparse_stored("coo_array"), FITS + ("metrics",)),
    "sparse, mask='all'": (sparse_all, ALL),
    "sparse, mask=None": (sparse_unspecified(None), FITS + ("metrics",)),
    "sparse, boolean mask": (sparse_unspecified(lambda: _S_PATTERN.copy()), FITS + ("metrics",)),
    "dense X, mask='stored'": (stored_on_dense, FITS + ("metrics",)),
    **{f"scale 2**{k} (exact)": (exact_scale(k), ALL) for k in (-996, -12, 12, 996)},
    **{f"scale {c}": (any_scale(c), ALL)
       for c in (1e-300, 1e-150, 1e-6, 1e-3, 1e3, 1e150, 1e300, "subnormal", "near overflow")},
    "metric beyond float64": (metric_beyond_float64, ("metrics",)),
    "A1GM's ratio beyond 1e308": (range_beyond_float64, ("a1gm",)),
    "init all zero": (bad_init(_pair(0.0, 0.0), "zero everywhere"), FITS),
    "init 1e200": (bad_init(_pair(1e200, 1e200), "too large"), FITS),
    "init 1e-200": (bad_init(_pair(1e-200, 1e-200), "all-zero"), FITS),
    "init at scale 1, X at 1e-300": (bad_init(_pair(1.0, 1.0), "too large", scale=1e-300), FITS),
    "init positive only where X is missing": (bad_init(_only_where_missing, "every observed entry"), FITS),
    "init a dict": (bad_init(lambda: {"A0": np.ones((N, 2)), "B0": np.ones((2, M))}, "init must be.*dict"), FITS),
    "init strings": (bad_init(lambda: ("ab", "cd"), "init's A0"), FITS),
    "init three arrays": (bad_init(lambda: (np.ones((N, 2)),) * 3, "init must be.*length 3"), FITS),
    "init complex": (bad_init(lambda: (np.ones((N, 2)) * (1 + 1j), np.ones((2, M))), "init's A0 must be real"), FITS),
    "init 1e-45 (tiny start)": (tiny_start, tuple(ITERATIVE)),
    "fully missing row and column": (fully_missing_lines, FITS + ("metrics",)),
    "skewed 2 x 3000": (skewed((2, 3000)), FITS),
    "skewed 3000 x 2": (skewed((3000, 2)), FITS),
    "max_iter 10**5, default tol": (huge_max_iter, tuple(ITERATIVE)),
    "rank 0 or above min(n, m)": (bad_rank, FITS),
}

CELLS = [(row, target) for row, (_, targets) in ROWS.items() for target in TARGETS if target in targets]


def _copy(obj):
    if sp.issparse(obj):
        return obj.copy()
    if isinstance(obj, pd.DataFrame):
        return obj.copy(deep=True)
    if isinstance(obj, np.ma.MaskedArray):
        return np.ma.array(obj, copy=True)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, (tuple, list)):
        return type(obj)(_copy(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    return copy.deepcopy(obj)


def _same(a, b) -> bool:
    """Whether ``a`` (after the call) is exactly ``b`` (its copy from before): values, dtype, mask, format."""
    if sp.issparse(b):
        parts = ("data", "indices", "indptr") if b.format in ("csr", "csc") else ("data", "row", "col")
        return a.format == b.format and a.shape == b.shape and all(
            np.array_equal(getattr(a, k), getattr(b, k)) for k in parts)
    if isinstance(b, pd.DataFrame):
        return a.equals(b) and list(a.dtypes) == list(b.dtypes)
    if isinstance(b, np.ma.MaskedArray):
        return np.array_equal(np.ma.getdata(a), np.ma.getdata(b), equal_nan=True) and np.array_equal(
            np.ma.getmaskarray(a), np.ma.getmaskarray(b))
    if isinstance(b, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=b.dtype.kind in "fc")
    if isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    return a == b


class Kept:
    """``keep(obj)`` records a copy of what the caller passes, before the call, to compare with afterwards."""

    def __init__(self):
        self.items = []

    def __call__(self, obj):
        self.items.append((obj, _copy(obj)))
        return obj


def test_the_catalogue_has_every_kind_of_input():
    assert len(TARGETS) == 9 and len(SOLVER_NAMES) == 7
    assert len(CELLS) >= 250, len(CELLS)


@pytest.mark.parametrize(("row", "target"), CELLS, ids=[f"{r} | {t}" for r, t in CELLS])
def test_input_contract(row, target):
    keep = Kept()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning storm, no stray warning
        ROWS[row][0](target, keep)
    for obj, before in keep.items:
        assert _same(obj, before), f"the caller's {type(obj).__name__} was modified"
    for name, now in (("X0", X0), ("OBS0", OBS0), ("JUNK0", JUNK0), ("NAN0", NAN0), ("R0", R0), ("X1", X1),
                      ("sparse pattern", _S_PATTERN), ("sparse values", _S_DENSE)):
        assert _same(now, _PRISTINE[name]), f"{name} was modified"


_PRISTINE = {"X0": X0.copy(), "OBS0": OBS0.copy(), "JUNK0": JUNK0.copy(), "NAN0": NAN0.copy(), "R0": R0.copy(),
             "X1": X1.copy(), "sparse pattern": _S_PATTERN.copy(), "sparse values": _S_DENSE.copy()}


# ---- focused checks behind the catalogue ---------------------------------------------------------------


def test_sparse_input_is_one_separate_function():
    from nmfexp._validation import check_sparse, sparse_input

    # Duplicates add up (scipy's rule); an explicit stored zero is observed; a stored NaN is refused.
    S = sp.coo_array((np.array([1.0, 2.0, 0.0, 3.0]), (np.array([0, 0, 1, 2]), np.array([1, 1, 0, 2]))), shape=(3, 3))
    dense, observed = sparse_input(S, "stored")
    assert np.array_equal(dense, [[0, 3, 0], [0, 0, 0], [0, 0, 3]]) and dense.flags.c_contiguous
    assert np.array_equal(observed, [[False, True, False], [True, False, False], [False, False, True]])
    dense_all, none = sparse_input(S.tocsc(), "all")
    assert none is None and np.array_equal(dense_all, dense)
    bad = sp.csr_array((np.array([np.nan]), (np.array([1]), np.array([2]))), shape=(3, 3))
    for how in ("stored", "all"):
        with pytest.raises(ValueError, match=r"stores 1 non-finite.*X\[1, 2\]"):
            sparse_input(bad, how)
    for mask in (None, "Stored", True, np.ones((3, 3), bool)):
        with pytest.raises(ValueError, match="mask='stored'.*mask='all'"):
            check_sparse(S, mask)
    with pytest.raises(ValueError, match="real"):
        check_sparse(sp.csr_array(np.eye(2) * 1j), "all")


def test_factorize_hands_a_sparse_matrix_to_the_solver_unchanged():
    # A solver with its own path for sparse data (mask="stored") sees the matrix itself, after the contract check.
    seen = {}

    def solver(X, mask, *, rank, random_state):
        seen.update(kind=type(X).__name__, mask=mask)
        dense, observed = nmfexp._validation.sparse_input(X, mask)
        return nmfexp.FactorizationResult(A=np.ones((dense.shape[0], 1)), B=np.ones((1, dense.shape[1])))

    spec = nmfexp.solvers.SolverSpec("probe", solver, "frobenius")
    S = _sparse("csr_matrix")
    nmfexp.factorize(S, "stored", solver=spec)
    assert seen == {"kind": "csr_matrix", "mask": "stored"}
    with pytest.raises(ValueError, match="mask='stored'.*mask='all'"):
        nmfexp.factorize(S, solver=spec)
    # A plain callable gets the dense array and boolean mask of the contract.
    got = {}

    def plain(X, mask, *, rank, random_state):
        got.update(X=X, mask=mask)
        return nmfexp.FactorizationResult(A=np.ones((X.shape[0], 1)), B=np.ones((1, X.shape[1])))

    nmfexp.factorize(S, "stored", solver=plain)
    assert np.array_equal(got["X"], _S_DENSE) and np.array_equal(got["mask"], _S_PATTERN)


def test_reconstruction_with_missing_values_is_refused_by_metrics():
    R = np.ma.array(R0, mask=np.zeros_like(OBS0))
    R.mask[0, 0] = True  # observed in X
    with pytest.raises(ValueError, match="R has non-finite \\(or masked\\) values"):
        metrics.weighted_frobenius(X0, R)
    R.mask[0, 0], R.mask[2, 3] = False, True  # missing in X: never read
    assert metrics.weighted_frobenius(NAN0, R) == metrics.weighted_frobenius(NAN0, R0)
    assert metrics.weighted_frobenius(X0, sp.csr_array(R0)) == metrics.weighted_frobenius(X0, R0)


def test_data_at_scale_one_are_not_rescaled():
    # What keeps the numbers of the paper's data bit for bit: uniform [0, 1) matrices at rank 1, and
    # products of r uniform factors at rank r, have k = 0 and run on X itself with the uniform [0, 1) start.
    from nmfexp.solvers._init import scale_exponent, start

    for mean, rank, k in ((0.5, 1, 0), (0.4, 1, 0), (0.6, 1, 0), (2.5, 10, 0), (0.75, 3, 0), (0.5, 10, -3),
                          (5e-4, 5, -12), (1e300, 1, 999), (2.0**-1040, 1, -1038)):
        assert scale_exponent(mean, rank) == k, (mean, rank)
        assert 2**-1.5 <= np.ldexp(4 * mean / rank, -k) < 2**1.5  # the random start's scale, within 2**1.5
    U = np.random.default_rng(0).random((40, 30))
    p = start(U, None, rank=1, max_iter=1, tol=0.0, max_time=None, random_state=0, init=None)
    assert p.scale == 0 and np.array_equal(p.WX, U)
    assert np.array_equal(p.A, np.random.default_rng(0).random((40, 1)))  # the paper's uniform [0, 1) start
    lowrank = np.random.default_rng(1).random((40, 10)) @ np.random.default_rng(2).random((10, 30))
    assert start(lowrank, None, rank=10, max_iter=1, tol=0.0, max_time=None, random_state=0, init=None).scale == 0
    tiny = start(U * 1e-300, None, rank=1, max_iter=1, tol=0.0, max_time=None, random_state=0, init=None)
    assert tiny.scale == -996 and np.array_equal(tiny.WX, np.ldexp(U * 1e-300, 996))


def test_zero_fit_is_not_reported_as_converged():
    from nmfexp.solvers._driver import History, Run
    from nmfexp.solvers._init import start

    p = start(X0, OBS0, rank=2, max_iter=1, tol=0.0, max_time=None, random_state=0, init=None)
    run = Run(History(1.0), 1, True)
    with pytest.warns(RuntimeWarning, match="all-zero factors"):
        res = p.result("probe", np.zeros((N, 2)), np.ones((2, M)), run)
    assert not res.converged
    zeros = start(np.zeros((N, M)), None, rank=2, max_iter=1, tol=0.0, max_time=None, random_state=0, init=None)
    assert zeros.result("probe", np.zeros((N, 2)), np.ones((2, M)), run).converged  # 0 is the exact fit of 0
