"""A1GM and the rank-1 NMMF closed form.

Ghalamkari & Sugiyama, "Fast Rank-1 NMF for Missing Data with KL Divergence",
AISTATS 2022 (arXiv 2110.12595): Theorem 1 (best rank-1 NMMF) and the A1GM
algorithm built on it.

A1GM is computed in factored form from four kinds of sums (full row sums,
row sums over complete columns, column sums over all rows and over complete
rows), which :mod:`._a1gm_kernel` reads off ``X`` in about one pass along its
memory order while validating it. No dense reconstruction, and the caller's
array is never written to.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_matrix, check_rank
from ._a1gm_kernel import a1gm_sums
from ._base import FactorizationResult, SolverRefused, register

__all__ = ["a1gm", "rank1_nmmf", "grid_completion"]


def _nonneg_matrix(M, name: str, allow_empty: bool = False) -> np.ndarray:
    arr = np.asarray(M)
    if allow_empty and arr.ndim == 2 and arr.size == 0:
        return arr.astype(np.float64)
    arr = as_matrix(arr, name)
    if not (arr.min() >= 0 and np.isfinite(arr.max())):
        raise ValueError(f"{name} must be finite and non-negative (it is a fully observed block).")
    return arr


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

    Returns
    -------
    w : ndarray of shape (N,)
    h : ndarray of shape (M,)
    a : ndarray of shape (L,)
    b : ndarray of shape (K,)
    """
    X = _nonneg_matrix(X, "X")
    Y = _nonneg_matrix(Y, "Y", allow_empty=True)
    Z = _nonneg_matrix(Z, "Z", allow_empty=True)
    N, M = X.shape
    if Y.shape[1] != M:
        raise ValueError(f"Y must have as many columns as X ({M}), got shape {Y.shape}.")
    if Z.shape[0] != N:
        raise ValueError(f"Z must have as many rows as X ({N}), got shape {Z.shape}.")
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
    return w, h, a, b


def grid_completion(observed: np.ndarray | None, shape: tuple[int, int], n_missing: int | None = None) -> dict:
    """A1GM's step 1 as facts: which rows/columns have gaps and what it adds.

    Returns a dict with ``row_complete`` (n,), ``col_complete`` (m,), and the
    counts ``n_missing``, ``n_missing_added``, ``n_rows_with_missing``,
    ``n_cols_with_missing``.
    """
    n, m = shape
    if observed is None:
        row_complete, col_complete, n_missing = np.ones(n, bool), np.ones(m, bool), 0
    else:
        row_complete = observed.all(axis=1)
        col_complete = observed.all(axis=0)
        if n_missing is None:
            n_missing = int(observed.size - np.count_nonzero(observed))
    return {"row_complete": row_complete, "col_complete": col_complete,
            **_completion_facts(row_complete, col_complete, n_missing)}


def _completion_facts(row_complete: np.ndarray, col_complete: np.ndarray, n_missing: int) -> dict:
    """The counts of :func:`grid_completion` from complete rows and columns."""
    nr = int(row_complete.size - np.count_nonzero(row_complete))
    nc = int(col_complete.size - np.count_nonzero(col_complete))
    return {
        "n_missing": n_missing,
        "n_missing_added": nr * nc - n_missing,
        "n_rows_with_missing": nr,
        "n_cols_with_missing": nc,
    }


@register(
    "a1gm",
    loss="kl",
    rank1_only=True,
    iterative=False,
    summary="Closed-form rank-1 KL NMF; exact for grid-like masks, O(nm), no hyper-parameters.",
    reference="Ghalamkari & Sugiyama, AISTATS 2022",
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
    X = as_matrix(X)
    if check_rank(rank, X.shape) != 1:
        raise SolverRefused(f"a1gm computes rank-1 factorizations only, got rank={rank!r}; "
                            "use wnmf_kl for higher ranks.")
    # Streamed along the memory order: for Fortran-ordered X the sums are those
    # of X.T (A1GM is symmetric under transposition).
    sums = a1gm_sums(X, mask)
    transposed = sums.transposed
    rc, cc = sums.row_complete, sums.col_complete
    n, m = rc.size, cc.size

    step1 = _completion_facts(rc, cc, sums.n_missing)
    if not rc.any() or not cc.any():
        what = "row" if (not rc.any()) != transposed else "column"
        raise SolverRefused(
            f"A1GM needs at least one complete {what} (a {what} with no missing entry), but every {what} "
            f"of X has a gap ({step1['n_missing']} missing entries). Its closed form "
            "divides by the sum over complete rows and columns, which is empty here. Use an iterative solver "
            "such as wnmf_kl, or a mask with fewer gaps."
        )

    SX = sums.SX  # complete rows x complete columns
    SY = sums.SY  # incomplete rows x complete columns
    SZ = sums.SZ  # complete rows x incomplete columns

    u = np.empty(n)
    v = np.empty(m)
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
    if transposed:
        u, v = v, u
        step1["n_rows_with_missing"], step1["n_cols_with_missing"] = (
            step1["n_cols_with_missing"], step1["n_rows_with_missing"])
    info = dict(step1, grid_like=step1["n_missing_added"] == 0)
    return FactorizationResult(A=u[:, None], B=v[None, :], n_iter=0,
                               history={"objective": np.empty(0), "time": np.empty(0)},
                               info=info, solver="a1gm", converged=True)
