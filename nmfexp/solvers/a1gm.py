"""A1GM and the rank-1 NMMF closed form.

Ghalamkari & Sugiyama, "Fast Rank-1 NMF for Missing Data with KL Divergence",
AISTATS 2022 (arXiv 2110.12595): Theorem 1 (best rank-1 NMMF) and the A1GM
algorithm built on it.

A1GM is computed in factored form from four kinds of sums (full row sums,
row sums over complete columns, column sums over all rows and over complete
rows), which :mod:`._a1gm_kernel` reads off ``X`` in about one pass along its
memory order while validating it. No dense reconstruction, and the caller's
array is never written to.

Scale. Both closed forms are homogeneous (``X -> c X`` gives ``c`` times the
reconstruction) but their sums overflow for data near 1e308. They are
computed on the values as given, bit for bit, whenever that is safe, and
otherwise on ``X / 2**k`` with the factors multiplied back: A1GM when the
kernel reports an overflow (no extra pass on the fast path),
:func:`rank1_nmmf` when the largest value is outside ``[2**-480, 2**480)``
(:func:`nmfexp._validation.wide_range_exponent`; its maximum is read anyway).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import (
    SumsOverflow,
    check_random_state,
    check_rank,
    check_sparse,
    is_sparse,
    read_data,
    to_float64,
    wide_range_exponent,
)
from ..data.masks import grid_completion_counts
from ._a1gm_kernel import BACKENDS, PARALLEL_MIN, a1gm_sums, blas_thread_limit, nan_marked_pass, nan_marked_sums
from ._base import FactorizationResult, SolverRefused, register
from ._params import Options, Param

__all__ = ["a1gm", "rank1_nmmf"]


def _nonneg_matrix(M, name: str, allow_empty: bool = False) -> tuple[np.ndarray, float]:
    """A fully observed block as float64, and its largest value (0 for an empty block)."""
    if is_sparse(M):
        raise ValueError(
            f"{name} is a scipy.sparse matrix; Theorem 1's blocks are fully observed, so its implicit entries "
            f"would be observed zeros. Pass {name}.toarray() if that is what they are; for data with missing "
            "entries use nmfexp.factorize(X, mask='stored', solver='a1gm')."
        )
    if np.ndim(M) == 2 and np.size(M) == 0 and allow_empty:
        return np.zeros(np.shape(M)), 0.0
    values, observed = read_data(M, None, name)  # masked arrays and DataFrames: where they are missing
    lo, hi = values.min(), values.max()
    if (observed is not None and not np.all(observed)) or np.isnan(lo):
        count = int(np.count_nonzero(np.isnan(values) if observed is None else ~observed))
        raise ValueError(
            f"{name} has {count} missing entries (masked, NA or NaN); Theorem 1 needs fully observed blocks. "
            "For data with missing entries use nmfexp.factorize(X, solver='a1gm')."
        )
    if not (lo >= 0 and np.isfinite(hi)):
        raise ValueError(f"{name} must be finite and non-negative (it is a fully observed block).")
    return values, float(hi)


def rank1_nmmf(X, Y, Z) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best rank-1 non-negative multiple matrix factorization (Theorem 1).

    Finds the global minimiser of ``D(X, w h^T) + D(Y, a h^T) + D(Z, w b^T)``
    for the generalised KL divergence ``D``.

    Parameters
    ----------
    X : array_like of shape (N, M)
        Must have a positive sum.
    Y : array_like of shape (L, M)
        Shares columns with ``X``; ``L`` may be 0.
    Z : array_like of shape (N, K)
        Shares rows with ``X``; ``K`` may be 0.

    All three are fully observed blocks: a masked entry, ``pd.NA`` or NaN is
    refused, and so is a scipy.sparse matrix (say ``.toarray()`` if its
    implicit entries are zeros). Any scale of the data is handled (1e-300 to
    1e308): the result scales with ``sqrt(c)`` when all three are multiplied
    by ``c``. Values spread so widely that a factor entry would fall below
    float64's normal range where its data are positive (1e300 beside 1e-300)
    are summed row by row and column by column at their own scale, and the
    factors returned in another gauge of the same optimum (``w c, h / c,
    a c, b / c`` for a power of two ``c``), chosen so that every positive
    entry stays a normal float64.

    Returns
    -------
    w : ndarray of shape (N,)
    h : ndarray of shape (M,)
    a : ndarray of shape (L,)
    b : ndarray of shape (K,)
    """
    X, hx = _nonneg_matrix(X, "X")
    Y, hy = _nonneg_matrix(Y, "Y", allow_empty=True)
    Z, hz = _nonneg_matrix(Z, "Z", allow_empty=True)
    N, M = X.shape
    if Y.shape[1] != M:
        raise ValueError(f"Y must have as many columns as X ({M}), got shape {Y.shape}.")
    if Z.shape[0] != N:
        raise ValueError(f"Z must have as many rows as X ({N}), got shape {Z.shape}.")
    blocks = X, Y, Z
    # Outside the safe range, compute on the blocks divided by 4**j (exact) and multiply the result by 2**j.
    k = wide_range_exponent(max(hx, hy, hz), even=True)
    if k:
        X, Y, Z = (np.ldexp(B, -k) for B in (X, Y, Z))
    SX = X.sum()
    if not SX > 0:
        raise ValueError("X sums to zero; the rank-1 NMMF closed form needs S(X) > 0 (its optimum is not attained otherwise).")
    rowZ, colY = Z.sum(axis=1), Y.sum(axis=0)
    SY, SZ = colY.sum(), rowZ.sum()
    root = np.sqrt(SX)
    w = root / (SX + SZ) * (X.sum(axis=1) + rowZ)
    h = root / (SX + SY) * (X.sum(axis=0) + colY)
    a = Y.sum(axis=1) / root
    b = Z.sum(axis=0) / root
    if k:
        w, h, a, b = (np.ldexp(v, k // 2) for v in (w, h, a, b))
    if _lost_lines(w, (blocks[0], blocks[2]), 1) or _lost_lines(h, (blocks[0], blocks[1]), 0) \
            or _lost_lines(a, (blocks[1],), 1) or _lost_lines(b, (blocks[2],), 0):
        # Values too far apart (say 1e300 and 1e-300): a factor entry fell to 0 or below the normal range
        # where its data are positive. Recompute with every row and column summed at its own scale.
        u, v = _spread_blocks(*blocks)
        N, M = blocks[0].shape
        return u[:N], v[:M], u[N:], v[M:]
    return w, h, a, b


def _lost_lines(f: np.ndarray, blocks, axis: int) -> bool:
    """Whether an entry of factor ``f`` is below float64's normal range while its lines in ``blocks`` hold
    a positive value (rows for ``axis=1``, columns for ``axis=0``)."""
    small = f < _TINY
    if not small.any():
        return False
    return any(B.size and np.any(small & (B.max(axis=axis) > 0)) for B in blocks)


@register(
    "a1gm",
    loss="kl",
    params=(
        Param("backend", "auto", Options(BACKENDS),
              "Which implementation reads ``X``: ``numba`` the compiled one-pass kernel, ``numpy`` the "
              "package's pure-NumPy path, ``auto`` the compiled kernel when numba is installed and not disabled "
              "by ``NMFEXP_DISABLE_NUMBA``. The kernel loads on first use, in about 0.3 s; a one-shot "
              "script that wants no numba asks for ``numpy``. The two agree to rounding. The compiled kernel "
              "splits an ``X`` of at least 2**25 entries across as many threads as BLAS may use (an experiment "
              "job pins it to ``timing.blas_threads``, default 1)."),
    ),
    rank1_only=True,
    iterative=False,
    summary="Closed-form rank-1 KL NMF; exact for grid-like masks, O(nm), no hyper-parameters.",
    reference=("ghalamkari2022fast",),
)
def a1gm(X, mask=None, *, rank: int = 1, random_state=None, backend: str) -> FactorizationResult:
    """A1GM: rank-1 NMF for data with missing values under the KL divergence.

    Parameters
    ----------
    X : array_like of shape (n, m)
        Non-negative data; values at missing entries are ignored. A
        scipy.sparse matrix (with ``mask="stored"`` or ``"all"``) is read
        through its stored entries in O(stored entries + n + m), never made
        dense.
    mask : array_like of bool of shape (n, m), "stored", "all", optional
        True where observed. Default: missing where ``X`` is NaN.
    rank : int
        Must be 1.
    random_state : None, int >= 0 or numpy.random.Generator
        Accepted for the common calling convention and checked as the
        iterative solvers check it; A1GM is deterministic and draws nothing.
    backend : {'auto', 'numba', 'numpy'}, default 'auto'
        Which implementation reads ``X``: ``"numba"`` the compiled one-pass
        kernel, ``"numpy"`` the package's pure-NumPy path, ``"auto"`` the
        compiled kernel when numba is installed and not disabled by
        ``NMFEXP_DISABLE_NUMBA``. The kernel loads on first use, in about
        0.3 s; a one-shot script that wants no numba asks for ``"numpy"``.
        The two agree to rounding (:mod:`nmfexp.solvers._a1gm_kernel`). The
        compiled kernel splits an ``X`` of at least 2**25 entries
        (``PARALLEL_MIN``) across as many threads as BLAS may use
        (threadpoolctl; an experiment job pins it to ``timing.blas_threads``,
        default 1); smaller inputs are read by one thread, which is faster.

    Returns
    -------
    FactorizationResult
        ``A`` of shape (n, 1), ``B`` of shape (1, m), ``n_iter = 0``, an empty
        history, and ``info`` with ``n_missing``, ``n_missing_added`` (entries
        A1GM's step 1 treats as missing in addition), ``n_rows_with_missing``,
        ``n_cols_with_missing`` and ``grid_like`` (True when A1GM is exact).

    Raises
    ------
    SolverRefused
        For ``rank != 1``, when no row or no column of ``X`` is complete, or
        when the observed entries of complete rows and columns sum to zero
        while other observed entries do not: the closed form does not apply.
    ValueError
        For malformed input (``rank`` not a positive integer, bad ``X``, mask,
        ``random_state`` or ``backend``).
    """
    if not (isinstance(backend, str) and backend in BACKENDS):
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}.")
    check_random_state(random_state)
    if type(X) is not np.ndarray and is_sparse(X):
        return _sparse_a1gm(X, mask, rank, backend)
    X, mask = read_data(X, mask)
    if check_rank(rank, X.shape) != 1:
        raise _rank_refused(rank)
    threads = blas_thread_limit() if X.size >= PARALLEL_MIN else 1
    try:
        fast = nan_marked_pass(X, _kernel(backend)) if mask is None else None
        if fast is None:
            sums = a1gm_sums(X, mask, _kernel(backend), threads)
        else:
            _, (_, P0, _, Q, _, out) = fast
            result = _fully_observed(P0, Q, out)
            if result is not None:
                return result
            sums = nan_marked_sums(X, *fast)
    except ImportError as exc:
        raise ValueError(f"backend='numba' needs numba ({exc}); install it (pip install numba) or use "
                         "backend='auto' or 'numpy'.") from exc
    except SumsOverflow:  # finite observed values whose sums overflow: the same sums of X / 2**k
        return _from_sums(None, X, mask, backend, threads, rescale=True)
    return _from_sums(sums, X, mask, backend, threads)


#: What step 1 reports for a fully observed X.
_NOTHING_MISSING = {"n_missing": 0, "n_missing_added": 0, "n_rows_with_missing": 0, "n_cols_with_missing": 0,
                    "grid_like": True}


def _fully_observed(P0, Q, out) -> FactorizationResult | None:
    """A1GM of a fully observed ``X`` from the compiled pass (row sums ``P0``, column sums ``Q`` and the
    pass's totals ``out``), or None when the general route must finish it (gaps, bad values, a zero or
    overflowing total, a factor below the normal range).

    The arithmetic of :func:`_closed_form` and the test of :func:`_underflowed`,
    bit for bit (``SY = SZ = 0`` here, and a correctly rounded product or
    quotient by a positive number keeps the order of its operands, so the
    smallest factor entry is the smallest sum scaled), without the O(n + m)
    passes that dominate a call on a 100 x 100 matrix.
    """
    status, n_missing, _, _, q_finite, SX_SZ, SY, SX_SY, SZ, lo_row, lo_col = out
    if status or n_missing or not q_finite or not (0.0 < SX_SZ and SX_SZ + SX_SY < math.inf):
        return None
    SX = SX_SZ - SZ
    c, d = SX / (SX + SZ), SX + SY
    if not (lo_row * c >= _TINY and lo_col / d >= _TINY):
        return None
    # P0 and Q are the pass's own arrays; c is 1.0 (SZ = 0), and P0 * 1.0 is P0 to the bit
    u = P0 if c == 1.0 else np.multiply(P0, c, out=P0)
    v = np.divide(Q, d, out=Q)
    return _result(u, v, dict(_NOTHING_MISSING))


def _result(u: np.ndarray, v: np.ndarray, info: dict) -> FactorizationResult:
    """A1GM's result: factors ``u[:, None]`` and ``v[None, :]``, no iterations, an empty history."""
    return FactorizationResult(A=u[:, None], B=v[None, :], n_iter=0, stop_reason="closed_form",
                               history={"objective": np.empty(0), "time": np.empty(0)},
                               info=info, solver="a1gm", converged=True)


def _kernel(backend: str) -> str | None:
    """The kernel choice for :func:`a1gm_sums`: None (its process-wide default) for ``"auto"``."""
    return None if backend == "auto" else backend


def _rank_refused(rank) -> SolverRefused:
    return SolverRefused(f"a1gm computes rank-1 factorizations only, got rank={rank!r}; "
                         "use wnmf_kl for higher ranks.")


def _no_complete_line(rc: np.ndarray, cc: np.ndarray, transposed: bool, n_missing: int) -> SolverRefused:
    what = "row" if (not rc.any()) != transposed else "column"
    return SolverRefused(
        f"A1GM needs at least one complete {what} (a {what} with no missing entry), but every {what} "
        f"of X has a gap ({n_missing} missing entries). Its closed form "
        "divides by the sum over complete rows and columns, which is empty here. Use an iterative solver "
        "such as wnmf_kl, or a mask with fewer gaps."
    )


def _from_sums(sums, X, mask, backend, threads, rescale: bool = False) -> FactorizationResult:
    """A1GM's result from its sums (``X`` and ``mask`` for the slow paths: huge or widely spread values)."""
    scale = 0
    X0 = X
    if rescale:
        X, scale = _rescaled(X, mask)
        sums = a1gm_sums(X, mask, _kernel(backend), threads)
    transposed = sums.transposed
    rc, cc = sums.row_complete, sums.col_complete
    if sums.n_missing == 0:  # every row and column complete (the common case for small inputs, quickly)
        step1 = {"n_missing": 0, "n_missing_added": 0, "n_rows_with_missing": 0, "n_cols_with_missing": 0}
    else:
        step1 = grid_completion_counts(rc, cc, sums.n_missing)
        if not rc.any() or not cc.any():
            raise _no_complete_line(rc, cc, transposed, step1["n_missing"])
    trouble = _overflow(sums)  # found from the block totals, without a pass
    if trouble == "sums" and scale == 0:
        X, scale = _rescaled(X, mask)
        sums = a1gm_sums(X, mask, _kernel(backend), threads)
        trouble = _overflow(sums)
    u, v = (None, None) if trouble else _closed_form(sums)
    if scale:
        # u v^T is 2**-scale times the answer; share the factor so that both factors stay finite.
        u, v = np.ldexp(u, scale // 2), np.ldexp(v, scale - scale // 2)
    if trouble or _underflowed(u, v, sums) or (scale and _lost_in_rescaling(X0, mask, scale)):
        # Values too far apart for the fast formulas: a factor entry would be 0 (or inf) where the data are
        # positive. Recompute from sums taken row by row and column by column at their own scale.
        u, v = _spread_a1gm(X0.T if transposed else X0, _observed_streamed(X0, mask, transposed), rc, cc)
    if transposed:
        u, v = v, u
        step1["n_rows_with_missing"], step1["n_cols_with_missing"] = (
            step1["n_cols_with_missing"], step1["n_rows_with_missing"])
    return _result(u, v, dict(step1, grid_like=step1["n_missing_added"] == 0))


def _closed_form(sums) -> tuple[np.ndarray, np.ndarray]:
    """A1GM's factors ``u``, ``v`` (in the streamed orientation) from its sums."""
    rc, cc = sums.row_complete, sums.col_complete
    SX = sums.SX  # complete rows x complete columns
    SY = sums.SY  # incomplete rows x complete columns
    SZ = sums.SZ  # complete rows x incomplete columns
    if sums.n_missing == 0 and SX > 0:  # every row and column complete: the same arithmetic, without indexing
        return sums.row_sums * (SX / (SX + SZ)), sums.col_sums / (SX + SY)
    u = np.empty(rc.size)
    v = np.empty(cc.size)
    if SX > 0:
        # Theorem 1 applied to the blocks X, Y, Z; u v^T equals w h^T, a h^T, w b^T and a b^T blockwise.
        u[rc] = sums.row_sums[rc] * (SX / (SX + SZ))
        u[~rc] = sums.row_sums_cc[~rc]
        v[cc] = sums.col_sums[cc] / (SX + SY)
        v[~cc] = sums.col_sums_cr[~cc] / SX
    elif SY == 0 and SZ == 0:
        u[:] = 0.0  # every entry A1GM uses is zero: the exact answer is the zero matrix
        v[:] = 0.0
    else:
        raise SolverRefused(
            "the observed entries in complete rows and complete columns all sum to zero while other observed "
            "entries do not; A1GM's optimum is not attained there (the closed form divides by that sum). "
            "Use an iterative solver such as wnmf_kl."
        )
    return u, v


def _overflow(sums) -> str:
    """Whether :func:`_closed_form` would overflow, from the block totals alone (Python floats, no pass).

    The row and column sums are finite (the kernel checked them); u is at
    most a row sum, v at most 1 on complete columns and ``SZ / SX`` on the
    others, and the denominators are ``SX + SZ`` and ``SX + SY``. Returns
    ``"sums"`` when the totals overflow (rescaling X cures it), ``"ratio"``
    when ``SZ / SX`` does (it cannot), and ``""`` otherwise.
    """
    SX, SY, SZ = float(sums.SX), float(sums.SY), float(sums.SZ)
    if not math.isfinite(SX + SY + SZ):
        return "sums"
    return "ratio" if SX > 0 and not math.isfinite(SZ / SX) else ""


def _rescaled(X: np.ndarray, mask) -> tuple[np.ndarray, int]:
    """``X / 2**k`` with its largest observed value in [0.5, 1), and ``k`` (the slow path for huge data).

    Values at missing entries are scaled too and stay as harmless as they were.
    """
    observed = ~np.isnan(X) if mask is None else np.asarray(mask, dtype=bool)
    top = float(np.max(X, where=observed, initial=0.0))
    k = int(np.frexp(top)[1])
    return np.ldexp(X, -k), k


# --- Widely spread values --------------------------------------------------------------------------

_TINY = np.finfo(np.float64).tiny  # the smallest normal float64, 2**-1022


def _underflowed(u: np.ndarray, v: np.ndarray, sums) -> bool:
    """Whether a factor entry fell below the normal range while the sum it comes from is positive.

    ``u`` and ``v`` are proportional to row and column sums, divided by block
    totals: with values 1e300 and 1e-300 in one matrix a quotient can
    underflow. Two minima (O(n + m)) on the common path.
    """
    if np.minimum.reduce(u) >= _TINY and np.minimum.reduce(v) >= _TINY:
        return False
    rc, cc = sums.row_complete, sums.col_complete
    row_src = np.where(rc, sums.row_sums, sums.row_sums_cc)
    col_src = np.where(cc, sums.col_sums, sums.col_sums_cr)
    return bool(np.any((u < _TINY) & (row_src > 0)) or np.any((v < _TINY) & (col_src > 0)))


def _lost_in_rescaling(X: np.ndarray, mask, scale: int) -> bool:
    """Whether a positive observed value of ``X`` left the normal range in ``X / 2**scale`` (the slow path
    for huge values: one more pass)."""
    observed = ~np.isnan(X) if mask is None else np.asarray(mask, dtype=bool)
    lo = float(np.min(X, where=observed & (X > 0), initial=np.inf))
    return lo < math.ldexp(_TINY, scale)


def _observed_streamed(X: np.ndarray, mask, transposed: bool) -> np.ndarray:
    """Where ``X`` is observed, in the orientation the sums were taken in."""
    observed = ~np.isnan(X) if mask is None else np.asarray(mask, dtype=bool)
    return observed.T if transposed else observed


def _spread_a1gm(X: np.ndarray, observed: np.ndarray, rc: np.ndarray, cc: np.ndarray):
    """A1GM's factors for values of any spread (the slow path, NumPy, a few passes and one n x m copy).

    Theorem 1 on the blocks X = T[rc, cc], Y = T[~rc, cc], Z = T[rc, ~cc],
    in A1GM's usual gauge, every quantity held as a mantissa and a power of
    two (:func:`_spread_blocks`), so that no row or column sum vanishes next
    to larger ones; the factors are then shared between ``u`` and ``v`` so
    that both stay in float64's normal range.
    """
    T = np.where(observed, X, 0.0)
    T[~rc[:, None] & ~cc[None, :]] = 0.0  # the block A1GM's step 1 ignores
    return _spread_blocks(T[np.ix_(rc, cc)], T[np.ix_(~rc, cc)], T[np.ix_(rc, ~cc)], rc, cc)


def _spread_blocks(X, Y, Z, rc=None, cc=None):
    """Theorem 1 for blocks ``X`` (N, M), ``Y`` (L, M), ``Z`` (N, K) at any spread of values.

    Returns ``u``, ``v`` with ``u = [w; a]`` and ``v = [h; b]`` (placed at
    ``rc``/``~rc`` and ``cc``/``~cc`` when given) in the gauge
    ``w = (X 1 + Z 1) S(X) / (S(X) + S(Z))``, ``a = Y 1``,
    ``h = (X^T 1 + Y^T 1) / (S(X) + S(Y))``, ``b = Z^T 1 / S(X)``, then
    multiplied by ``2**t`` and ``2**-t`` with ``t`` chosen so that every
    positive entry of both is a normal float64.
    """
    return _spread_lines(_line_sums(X, 1), _line_sums(Z, 1), _line_sums(Y, 1),
                         _line_sums(X, 0), _line_sums(Y, 0), _line_sums(Z, 0), rc, cc)


def _spread_lines(rX, rZ, rY, cX, cY, cZ, rc=None, cc=None):
    """:func:`_spread_blocks` from the blocks' row and column sums (mantissa, exponent)."""
    SX, SY, SZ = _total(rX), _total(rY), _total(cZ)
    if SX[0] == 0:
        raise SolverRefused("the observed entries in complete rows and complete columns sum to zero; the "
                            "closed form divides by that sum. Use an iterative solver such as wnmf_kl.")
    w = _mul(_add(rX, rZ), _div(SX, _add(SX, SZ)))
    h = _div(_add(cX, cY), _add(SX, SY))
    b = _div(cZ, SX)
    um, ue = np.concatenate([w[0], rY[0]]), np.concatenate([w[1], rY[1]])
    vm, ve = np.concatenate([h[0], b[0]]), np.concatenate([h[1], b[1]])
    t = _balance(ue[um > 0], ve[vm > 0])
    u, v = np.ldexp(um, ue + t), np.ldexp(vm, ve - t)
    if rc is None:
        return u, v
    U, V = np.empty(rc.size), np.empty(cc.size)
    U[rc], U[~rc] = u[: w[0].size], u[w[0].size:]
    V[cc], V[~cc] = v[: h[0].size], v[h[0].size:]
    return U, V


def _norm(m: np.ndarray, e: np.ndarray):
    mm, de = np.frexp(m)
    return mm, np.where(mm == 0, 0, e + de)


def _line_sums(B: np.ndarray, axis: int):
    """Sums of non-negative ``B`` along ``axis`` as ``(mantissa in [0.5, 1) or 0, exponent)``, each line
    summed at its own scale (no term underflows next to a larger one, no sum overflows)."""
    if B.size == 0:
        k = B.shape[1 - axis]
        return np.zeros(k), np.zeros(k, np.int64)
    e = np.frexp(B.max(axis=axis))[1].astype(np.int64)
    scaled = np.ldexp(B, -(e[:, None] if axis == 1 else e[None, :]))
    return _norm(scaled.sum(axis=axis), e)


def _total(s):
    m, e = s
    if m.size == 0 or not m.any():
        return np.zeros(1), np.zeros(1, np.int64)
    top = e[m > 0].max()
    return _norm(np.array([np.ldexp(m, e - top).sum()]), np.array([top]))


def _add(a, b):
    top = np.maximum(a[1], b[1])
    return _norm(np.ldexp(a[0], a[1] - top) + np.ldexp(b[0], b[1] - top), top)


def _mul(a, b):
    return _norm(a[0] * b[0], a[1] + b[1])


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return _norm(np.where(a[0] == 0, 0.0, a[0] / np.where(b[0] == 0, 1.0, b[0])), a[1] - b[1])


def _balance(ue: np.ndarray, ve: np.ndarray) -> int:
    """A shift ``t`` putting mantissas in [0.5, 1) times ``2**(ue + t)`` and ``2**(ve - t)`` in the normal range."""
    if ue.size == 0 or ve.size == 0:
        return 0
    lo = max(-1021 - int(ue.min()), int(ve.max()) - 1024)
    hi = min(1024 - int(ue.max()), int(ve.min()) + 1021)
    if lo > hi:
        raise ValueError(
            "A1GM's factors do not fit in float64 for this X: its observed values span too wide a range "
            "(the reconstruction's largest and smallest positive entries differ by more than float64's "
            "range, about 1e616). Rescale or clip the extreme values."
        )
    return (lo + hi) // 2


# --- scipy.sparse input ----------------------------------------------------------------------------


#: A sparse X with at most this many entries (64 MB as float64) is read densely, as before; a larger one
#: through its stored entries only.
_SPARSE_DENSE_MAX = 1 << 23


def _sparse_a1gm(S, mask, rank, backend: str) -> FactorizationResult:
    """A1GM on the stored entries of a scipy.sparse ``S``, in O(stored entries + n + m) time and memory.

    ``mask="stored"``: a row (column) is complete when every one of its
    entries is stored, so with fewer than ``m`` stored entries no row can be
    and A1GM refuses at once. ``mask="all"``: every entry is observed (the
    implicit ones are zeros), so every row and column is complete. Up to
    :data:`_SPARSE_DENSE_MAX` entries the dense equivalent is factorized
    instead, so that a small sparse matrix gives exactly the dense numbers
    (the sums over stored entries agree with them to rounding).
    """
    how = check_sparse(S, mask)
    n, m = S.shape
    if check_rank(rank, (n, m)) != 1:
        raise _rank_refused(rank)
    if n * m <= _SPARSE_DENSE_MAX:  # small enough to read densely: the dense path's numbers, bit for bit
        X, observed = read_data(S, mask)
        return a1gm(X, observed, backend=backend)
    if how == "stored" and (S.nnz < m or S.nnz < n):  # before any pass: no complete row or column possible
        rc, cc = np.zeros(1, bool), np.ones(1, bool)
        if S.nnz >= m:
            rc, cc = cc, rc
        raise _no_complete_line(rc, cc, False, n * m - S.nnz)
    if S.dtype.kind in "biu":  # duplicates summed in float64, not in X's dtype (uint8 128 + 128 is 256, not 0)
        S = S.astype(np.float64)
    csr = S.tocsr(copy=True) if S.format == "csr" else S.tocsr()
    csr.sum_duplicates()  # duplicates are one entry holding their sum (as toarray() gives)
    data = to_float64(np.asarray(csr.data), "X")
    bad = ~(np.isfinite(data) & (data >= 0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        i = int(np.searchsorted(csr.indptr, k, side="right") - 1)
        raise ValueError(f"X stores {int(np.count_nonzero(bad))} value(s) that are not finite and non-negative "
                         f"(first: X[{i}, {int(csr.indices[k])}] = {data[k]}); every stored entry is observed. "
                         "Remove them from the sparse matrix to make them missing (mask='stored').")
    rows = np.repeat(np.arange(n), np.diff(csr.indptr))
    cols = csr.indices
    if how == "all":
        rc, cc = np.ones(n, bool), np.ones(m, bool)
    else:
        rc = np.diff(csr.indptr) == m
        cc = np.bincount(cols, minlength=m) == n
    n_missing = 0 if how == "all" else n * m - data.size
    if not rc.any() or not cc.any():
        raise _no_complete_line(rc, cc, False, n_missing)
    in_cc, in_rc = cc[cols], rc[rows]
    row_sums = np.bincount(rows, weights=data, minlength=n)
    row_sums_cc = np.bincount(rows, weights=np.where(in_cc, data, 0.0), minlength=n)
    col_sums = np.bincount(cols, weights=data, minlength=m)
    col_sums_cr = np.bincount(cols, weights=np.where(in_rc, data, 0.0), minlength=m)
    sums = _SparseSums(False, rc, cc, n_missing, row_sums, row_sums_cc, col_sums, col_sums_cr,
                       SX=float(row_sums_cc[rc].sum()), SY=float(row_sums_cc[~rc].sum()),
                       SZ=float(col_sums_cr[~cc].sum()))
    if not np.isfinite(sums.SX + sums.SY + sums.SZ + row_sums.sum()):
        sums = None
    step1 = grid_completion_counts(rc, cc, n_missing)
    trouble = "sums" if sums is None else _overflow(sums)
    u, v = (None, None) if trouble else _closed_form(sums)
    if trouble or _underflowed(u, v, sums):
        u, v = _sparse_spread(rows, cols, data, rc, cc)
    return _result(u, v, dict(step1, grid_like=step1["n_missing_added"] == 0))


class _SparseSums:
    """The sums :func:`_closed_form` reads, taken from stored entries."""

    def __init__(self, transposed, row_complete, col_complete, n_missing, row_sums, row_sums_cc, col_sums,
                 col_sums_cr, *, SX, SY, SZ):
        self.transposed, self.row_complete, self.col_complete = transposed, row_complete, col_complete
        self.n_missing, self.row_sums, self.row_sums_cc = n_missing, row_sums, row_sums_cc
        self.col_sums, self.col_sums_cr, self.SX, self.SY, self.SZ = col_sums, col_sums_cr, SX, SY, SZ


def _sparse_spread(rows, cols, data, rc, cc):
    """:func:`_spread_a1gm` for stored entries: the blocks' line sums taken from the entries themselves."""
    ri, ci = np.cumsum(rc) - 1, np.cumsum(cc) - 1
    ro, co = np.cumsum(~rc) - 1, np.cumsum(~cc) - 1
    nr, nc = int(rc.sum()), int(cc.sum())
    inX, inY, inZ = rc[rows] & cc[cols], ~rc[rows] & cc[cols], rc[rows] & ~cc[cols]
    return _spread_lines(_entry_sums(ri[rows[inX]], data[inX], nr), _entry_sums(ri[rows[inZ]], data[inZ], nr),
                         _entry_sums(ro[rows[inY]], data[inY], rc.size - nr),
                         _entry_sums(ci[cols[inX]], data[inX], nc), _entry_sums(ci[cols[inY]], data[inY], nc),
                         _entry_sums(co[cols[inZ]], data[inZ], cc.size - nc), rc, cc)


def _entry_sums(line: np.ndarray, values: np.ndarray, k: int):
    """:func:`_line_sums` for entries ``values`` of lines ``line`` (0 <= line < k), in O(entries + k)."""
    top = np.zeros(k)
    np.maximum.at(top, line, values)
    e = np.frexp(top)[1].astype(np.int64)
    return _norm(np.bincount(line, weights=np.ldexp(values, -e[line]), minlength=k), e)
