"""Alternating non-negative least squares (ANLS) on the observed entries.

Each half step solves, exactly, one non-negative least-squares problem per row
of A (then per column of B) restricted to that row's observed entries:

    A[i, :] <- argmin_{a >= 0} || M[i, :] * (X[i, :] - a B) ||^2
    B[:, k] <- argmin_{b >= 0} || M[:, k] * (X[:, k] - A b) ||^2

(the ALS scheme of the seed notebook and of Kim & Park, "Nonnegative matrix
factorization based on alternating nonnegativity constrained least squares
and active set method", SIAM J. Matrix Anal. Appl. 30(2), 2008, with the mask
restricting every row/column problem to its observed entries). Because every
subproblem is solved exactly, the masked loss never increases.

How each r-variable problem is solved. With the per-row Gram matrix
``G_i = B diag(M[i, :]) B^T`` and ``N_i = B (M[i, :] * X[i, :])^T`` the loss is
``a G_i a^T - 2 a N_i + const``:

1. the unconstrained minimiser ``G_i^{-1} N_i`` (batched solve); where it is
   non-negative it is the NNLS solution and nothing else is needed;
2. otherwise ``scipy.optimize.nnls`` (Lawson-Hanson active set) on the
   equivalent r x r problem ``|| L^T a - L^{-1} N_i ||`` with ``G_i = L L^T``
   (Cholesky);
3. where ``G_i`` is singular or nearly so (condition above about 1e10) (fewer observed entries than components, or a
   dead component) ``nnls`` on the observed entries themselves.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from . import _sparse
from ._base import FactorizationResult, register
from ._init import start
from ._losses import blocked_frobenius

__all__ = ["als"]

# A Gram matrix whose Cholesky pivots fall below this fraction of its largest
# diagonal entry is treated as singular (condition number above ~1e10).
_RCOND = 1e-10


def nnls_block(N: np.ndarray, G: np.ndarray, fallback) -> np.ndarray:
    """Solve ``min_{f >= 0} f^T G[:, :, q] f - 2 f^T N[:, q]`` for every column q.

    ``N`` is (r, p), ``G`` (r, r, p) or (r, r, 1); ``fallback(q)`` solves the
    problem of column q from the observed entries when ``G[:, :, q]`` is not
    positive definite. Returns the (r, p) solution.
    """
    r, p = N.shape
    Gs = np.ascontiguousarray(np.broadcast_to(np.moveaxis(G, 2, 0), (p, r, r)))
    pd = np.ones(p, dtype=bool)
    try:
        L = np.linalg.cholesky(Gs)
    except np.linalg.LinAlgError:
        L = np.zeros_like(Gs)
        for q in range(p):
            try:
                L[q] = np.linalg.cholesky(Gs[q])
            except np.linalg.LinAlgError:
                pd[q] = False
    # Numerically singular G (e.g. fewer observed entries than components): the
    # Cholesky route would amplify round-off, so those go to the fallback too.
    dL = np.diagonal(L, axis1=1, axis2=2)
    dG = np.diagonal(Gs, axis1=1, axis2=2)
    pd &= dL.min(axis=1) ** 2 > _RCOND * dG.max(axis=1)
    out = np.zeros((p, r))
    Nt = N.T
    if pd.any():
        # Step 1: unconstrained minimiser G^{-1} N through the Cholesky factors.
        Lp = L[pd]
        y = np.linalg.solve(Lp, Nt[pd][:, :, None])  # L y = N
        x = np.linalg.solve(np.swapaxes(Lp, 1, 2), y)[:, :, 0]  # L^T x = y
        out[pd] = x
        # Step 2: active-set NNLS where the unconstrained answer has negative entries.
        for k in np.flatnonzero((x < 0).any(axis=1)):
            out[np.flatnonzero(pd)[k]] = nnls(Lp[k].T, y[k, :, 0])[0]
    for q in np.flatnonzero(~pd):
        out[q] = fallback(q)  # Step 3
    return out.T


def _fallback(F: np.ndarray, data, axis: int):
    """NNLS on the observed entries of row (axis=0) or column (axis=1) q of X, factor F (r, len)."""
    WX, obs = data.WX, data.observed

    def solve(q):
        x = WX[q] if axis == 0 else WX[:, q]
        sel = slice(None) if obs is None else (obs[q] if axis == 0 else obs[:, q])
        C = F[:, sel].T
        if C.shape[0] == 0:
            return np.zeros(F.shape[0])  # no observed entry: the loss does not depend on it
        return nnls(C, x[sel])[0]

    return solve


@register(
    "als",
    loss="frobenius",
    summary="Alternating NNLS per row/column over observed entries (exact subproblems); monotone, few iterations.",
    reference="Kim & Park, SIAM J. Matrix Anal. Appl. 30(2), 2008 (masked)",
)
def als(X, mask=None, *, rank: int = 1, max_iter: int = 200, tol: float = 1e-4,
        random_state=None, init=None, max_time: float | None = None, eval_every: int = 1) -> FactorizationResult:
    """NMF with missing values by alternating exact NNLS on observed entries.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n, m)
    mask : array_like of bool of shape (n, m), or "stored", optional
        True where observed; default: missing where X is NaN. ``"stored"``
        with a ``scipy.sparse`` X: exactly its stored entries are observed.
    rank : int
    max_iter : int, default 200
    tol : float, default 1e-4
        Stops when ``(previous loss - loss) / initial loss < tol``.
    random_state : None, int or Generator
    init : None, "random", "nndsvda", "a1gm" or (A0, B0)
    max_time : float, optional
        Stop after the iteration at which the update time reaches this many
        seconds (objective evaluation not counted).
    eval_every : int, default 1
        Evaluate the objective after every ``eval_every``-th iteration and
        the last one only (see :mod:`nmfexp.solvers._driver`).

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    p = start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state, init=init,
              eval_every=eval_every)
    if p.sparse:
        return _sparse.als(p)
    data, WX, W, A, B = p.data, p.WX, p.W, p.A, p.B

    def update():
        nonlocal A, B
        # Kim & Park 2008 restricted to observed entries: one exact NNLS per row of A, then per column of B.
        # Rows of A: G_i = B diag(M[i, :]) B^T, N_i = B (M*X)[i, :]^T.
        A = nnls_block(B @ WX.T, W.gram_rows(B), _fallback(B, data, 0)).T
        # Columns of B: G_k = A^T diag(M[:, k]) A, N_k = A^T (M*X)[:, k].
        B = nnls_block(A.T @ WX, W.gram_cols(A), _fallback(A.T, data, 1))

    run = p.iterate(update, lambda: blocked_frobenius(WX, W, A, B))
    return p.result("als", np.ascontiguousarray(A), np.ascontiguousarray(B), run)
