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

from .._validation import SumsOverflow, check_rank, is_sparse, read_data, wide_range_exponent
from ..data.masks import grid_completion_counts
from ._a1gm_kernel import a1gm_sums
from ._base import FactorizationResult, SolverRefused, register

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
    by ``c``.

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
    return w, h, a, b


@register(
    "a1gm",
    loss="kl",
    params=(),
    rank1_only=True,
    iterative=False,
    summary="Closed-form rank-1 KL NMF; exact for grid-like masks, O(nm), no hyper-parameters.",
    reference=("ghalamkari2022fast",),
)
def a1gm(X, mask=None, *, rank: int = 1, random_state=None) -> FactorizationResult:
    """A1GM: rank-1 NMF for data with missing values under the KL divergence.

    Parameters
    ----------
    X : array_like of shape (n, m)
        Non-negative data; values at missing entries are ignored.
    mask : array_like of bool of shape (n, m), optional
        True where observed. Default: missing where ``X`` is NaN.
    rank : int
        Must be 1.
    random_state : ignored
        Accepted for the common calling convention; A1GM is deterministic.

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
        For malformed input (``rank`` not a positive integer, bad ``X`` or mask).
    """
    X, mask = read_data(X, mask)
    if check_rank(rank, X.shape) != 1:
        raise SolverRefused(f"a1gm computes rank-1 factorizations only, got rank={rank!r}; "
                            "use wnmf_kl for higher ranks.")
    # Streamed along the memory order: for Fortran-ordered X the sums are those
    # of X.T (A1GM is symmetric under transposition).
    scale = 0
    try:
        sums = a1gm_sums(X, mask)
    except SumsOverflow:  # finite observed values whose sums overflow: the same sums of X / 2**k
        X, scale = _rescaled(X, mask)
        sums = a1gm_sums(X, mask)
    transposed = sums.transposed
    rc, cc = sums.row_complete, sums.col_complete
    step1 = grid_completion_counts(rc, cc, sums.n_missing)
    if not rc.any() or not cc.any():
        what = "row" if (not rc.any()) != transposed else "column"
        raise SolverRefused(
            f"A1GM needs at least one complete {what} (a {what} with no missing entry), but every {what} "
            f"of X has a gap ({step1['n_missing']} missing entries). Its closed form "
            "divides by the sum over complete rows and columns, which is empty here. Use an iterative solver "
            "such as wnmf_kl, or a mask with fewer gaps."
        )
    trouble = _overflow(sums)  # found from the block totals, without a pass
    if trouble == "sums" and scale == 0:
        X, scale = _rescaled(X, mask)
        sums = a1gm_sums(X, mask)
        trouble = _overflow(sums)
    if trouble:
        raise ValueError(
            "A1GM's factors do not fit in float64 for this X: its observed values span too wide a range "
            "(the ratio of the sums it divides exceeds about 1e308). Rescale or clip the extreme values."
        )
    u, v = _closed_form(sums)
    if scale:
        # u v^T is 2**-scale times the answer; share the factor so that both factors stay finite.
        u, v = np.ldexp(u, scale // 2), np.ldexp(v, scale - scale // 2)
    if transposed:
        u, v = v, u
        step1["n_rows_with_missing"], step1["n_cols_with_missing"] = (
            step1["n_cols_with_missing"], step1["n_rows_with_missing"])
    info = dict(step1, grid_like=step1["n_missing_added"] == 0)
    return FactorizationResult(A=u[:, None], B=v[None, :], n_iter=0,
                               history={"objective": np.empty(0), "time": np.empty(0)},
                               info=info, solver="a1gm", converged=True)


def _closed_form(sums) -> tuple[np.ndarray, np.ndarray]:
    """A1GM's factors ``u``, ``v`` (in the streamed orientation) from its sums."""
    rc, cc = sums.row_complete, sums.col_complete
    SX = sums.SX  # complete rows x complete columns
    SY = sums.SY  # incomplete rows x complete columns
    SZ = sums.SZ  # complete rows x incomplete columns
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
