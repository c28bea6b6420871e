"""Weighted multiplicative updates (the paper's WNMF baselines).

Lee & Seung, "Algorithms for Non-negative Matrix Factorization", NIPS 2001,
with the observation weights W of the A1GM paper's baseline: the KL updates

    B <- B / (A^T W) * (A^T ((W*X) / (A B)))      (B first, as the reference)
    A <- A / (W B^T) * (((W*X) / (A B)) B^T)

and the least-squares updates

    B <- B * (A^T (W*X)) / (A^T (W*(A B)))
    A <- A * ((W*X) B^T) / ((W*(A B)) B^T).

Numerical safety without changing the mathematics on positive data: factors
are kept >= 1e-150, so ``A @ B`` never underflows to zero and no log or
division sees a zero; denominators are floored at the smallest normal double.

Work and memory. The KL updates keep one ``n x m`` work array,
``Q = (W*X) / (A B)``, which the next iteration's B update starts from and
from which the objective is read (:func:`~._losses.kl_from_ratio`). The
least-squares updates keep ``W*(A B)`` when entries are missing; on fully
observed data they use the Gram form of the denominators, as scikit-learn's
multiplicative updates do,

    A^T (A B) = (A^T A) B,        (A B) B^T = A (B B^T),

so no ``n x m`` product is formed at all, and the objective comes from the
same products (:func:`~._losses.gram_frobenius`). Sparse input with
``mask="stored"`` runs the same updates on the stored entries only
(:mod:`._sparse`).
"""

from __future__ import annotations

import numpy as np

from . import _sparse
from ._base import FactorizationResult, register
from ._init import start
from ._losses import blocked_frobenius, gram_frobenius, kl_from_ratio, row_blocks

__all__ = ["wnmf_kl", "wnmf_fro"]

FACTOR_FLOOR = 1e-150
_TINY = np.finfo(np.float64).tiny


def _start(X, mask, **params):
    p = start(X, mask, **params)
    np.maximum(p.A, FACTOR_FLOOR, out=p.A)
    np.maximum(p.B, FACTOR_FLOOR, out=p.B)
    return p


@register(
    "wnmf_kl",
    loss="kl",
    summary="Weighted KL multiplicative updates (the paper's baseline); any rank, monotone.",
    reference="Lee & Seung, NIPS 2001 (weighted as in Ghalamkari & Sugiyama 2022)",
)
def wnmf_kl(X, mask=None, *, rank: int = 1, max_iter: int = 200, tol: float = 1e-4,
            random_state=None, init=None, max_time: float | None = None,
            eval_every: int = 1) -> FactorizationResult:
    """Weighted NMF under the generalised KL divergence by multiplicative updates.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n, m)
    mask : array_like of bool of shape (n, m), or "stored", optional
        True where observed; default: missing where X is NaN. With a
        ``scipy.sparse`` X, ``"stored"``: exactly the stored entries are
        observed (a stored zero is an observed zero), and every iteration
        costs O(stored entries x rank).
    rank : int
    max_iter : int, default 200
    tol : float, default 1e-4
        Stops when ``(previous KL - KL) / initial KL < tol``, the KL being
        evaluated after every iteration as in the reference code.
    random_state : None, int or Generator
        Seeds the uniform [0, 1) initialisation.
    init : None, "random", "nndsvda", "a1gm" or (A0, B0)
        See :mod:`nmfexp.solvers._init`.
    max_time : float, optional
        Stop after the iteration at which the update time reaches this many
        seconds (objective evaluation not counted).
    eval_every : int, default 1
        Evaluate the objective (and the stopping rule) after every
        ``eval_every``-th iteration and after the last one only; ``tol``
        then bounds the decrease over ``eval_every`` iterations and
        ``history["iteration"]`` numbers the recorded values (see
        :mod:`nmfexp.solvers._driver`).

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is the weighted KL divergence.
    """
    p = _start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state,
               init=init, eval_every=eval_every)
    if p.sparse:
        return _sparse.wnmf_kl(p)
    WX, W, A, B = p.WX, p.W, p.A, p.B  # A and B are updated in place
    Q = np.matmul(A, B)  # the one work array: WX / (A B), kept current
    np.divide(WX, Q, out=Q)
    WBt = W.right(B)  # W B^T, kept current for the objective
    sum_x = float(WX.sum())

    def update():
        nonlocal A, B, WBt  # the in-place products (B *= ...) rebind the names to the same arrays
        # Lee & Seung 2001, KL updates with weights W. B <- B / (A^T W) * (A^T ((W*X) / (A B)))
        B *= (A.T @ Q) / np.maximum(W.left(A), _TINY)
        np.maximum(B, FACTOR_FLOOR, out=B)
        np.matmul(A, B, out=Q)
        np.divide(WX, Q, out=Q)
        # A <- A / (W B^T) * (((W*X) / (A B)) B^T)
        WBt = W.right(B)
        A *= (Q @ B.T) / np.maximum(WBt, _TINY)
        np.maximum(A, FACTOR_FLOOR, out=A)
        np.matmul(A, B, out=Q)
        np.divide(WX, Q, out=Q)

    def objective():
        return kl_from_ratio(WX, Q, sum_x, float(np.sum(A * WBt)))  # sum over observed of AB = sum(A * (W B^T))

    return p.result("wnmf_kl", A, B, p.iterate(update, objective))


@register(
    "wnmf_fro",
    loss="frobenius",
    summary="Weighted least-squares multiplicative updates; any rank, monotone.",
    reference="Lee & Seung, NIPS 2001 (weighted)",
)
def wnmf_fro(X, mask=None, *, rank: int = 1, max_iter: int = 200, tol: float = 1e-4,
             random_state=None, init=None, max_time: float | None = None,
             eval_every: int = 1) -> FactorizationResult:
    """Weighted NMF under the Frobenius norm by multiplicative updates.

    Same parameters and stopping rule as :func:`wnmf_kl`;
    ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    p = _start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state,
               init=init, eval_every=eval_every)
    if p.sparse:
        return _sparse.wnmf_fro(p)
    if p.W.kind == "full":
        return _wnmf_fro_full(p)
    WX, W, A, B = p.WX, p.W, p.A, p.B  # A and B are updated in place
    WLam = W.apply(A @ B)  # kept equal to W * (A B)

    def update():
        nonlocal A, B  # the in-place products (B *= ...) rebind the names to the same arrays
        # Lee & Seung 2001, least-squares updates with weights W. B <- B * (A^T (W*X)) / (A^T (W*(A B)))
        B *= (A.T @ WX) / np.maximum(A.T @ WLam, _TINY)
        np.maximum(B, FACTOR_FLOOR, out=B)
        np.matmul(A, B, out=WLam)
        W.apply(WLam)
        # A <- A * ((W*X) B^T) / ((W*(A B)) B^T)
        A *= (WX @ B.T) / np.maximum(WLam @ B.T, _TINY)
        np.maximum(A, FACTOR_FLOOR, out=A)
        np.matmul(A, B, out=WLam)
        W.apply(WLam)

    def objective():  # ||W*X - W*(AB)||, a block of rows at a time
        n, m = WX.shape
        total = 0.0
        for rows in row_blocks(n, m):
            D = WX[rows] - WLam[rows]
            total += float(np.vdot(D, D))
        return float(np.sqrt(total))

    return p.result("wnmf_fro", A, B, p.iterate(update, objective))


def _wnmf_fro_full(p) -> FactorizationResult:
    """Fully observed least-squares updates in Gram form (no ``n x m`` product; see the module docstring)."""
    X, W, A, B = p.WX, p.W, p.A, p.B  # A and B are updated in place
    xx = float(np.vdot(X, X))
    XBt = BBt = None  # X B^T and B B^T of the last A update, for the objective

    def update():
        nonlocal A, B, XBt, BBt
        # Lee & Seung 2001: B <- B * (A^T X) / ((A^T A) B)
        B *= (A.T @ X) / np.maximum((A.T @ A) @ B, _TINY)
        np.maximum(B, FACTOR_FLOOR, out=B)
        # A <- A * (X B^T) / (A (B B^T))
        XBt, BBt = X @ B.T, B @ B.T
        A *= XBt / np.maximum(A @ BBt, _TINY)
        np.maximum(A, FACTOR_FLOOR, out=A)

    def objective():
        if XBt is not None:  # ||X - AB||^2 = ||X||^2 - 2 <A, X B^T> + <A^T A, B B^T>, where accurate
            value = gram_frobenius(xx, float(np.vdot(A, XBt)), float(np.vdot(A.T @ A, BBt)))
            if value is not None:
                return value
        return blocked_frobenius(X, W, A, B)

    return p.result("wnmf_fro", A, B, p.iterate(update, objective))
