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
"""

from __future__ import annotations

import numpy as np

from ._base import FactorizationResult, register
from ._init import start
from ._losses import MaskedKL, frobenius

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
            random_state=None, init=None, max_time: float | None = None) -> FactorizationResult:
    """Weighted NMF under the generalised KL divergence by multiplicative updates.

    Parameters
    ----------
    X : array_like of shape (n, m)
    mask : array_like of bool of shape (n, m), optional
        True where observed; default: missing where X is NaN.
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

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is the weighted KL divergence.
    """
    p = _start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state,
               init=init)
    WX, W, A, B = p.WX, p.W, p.A, p.B  # A and B are updated in place
    Lam = A @ B  # kept equal to A @ B
    WBt = W.right(B)  # W B^T, kept current for the objective
    Q = np.empty_like(Lam)  # work array
    kl = MaskedKL(WX)

    def update():
        nonlocal A, B, WBt  # the in-place products (B *= ...) rebind the names to the same arrays
        # Lee & Seung 2001, KL updates with weights W. B <- B / (A^T W) * (A^T ((W*X) / (A B)))
        np.divide(WX, Lam, out=Q)
        B *= (A.T @ Q) / np.maximum(W.left(A), _TINY)
        np.maximum(B, FACTOR_FLOOR, out=B)
        np.matmul(A, B, out=Lam)
        # A <- A / (W B^T) * (((W*X) / (A B)) B^T)
        np.divide(WX, Lam, out=Q)
        WBt = W.right(B)
        A *= (Q @ B.T) / np.maximum(WBt, _TINY)
        np.maximum(A, FACTOR_FLOOR, out=A)
        np.matmul(A, B, out=Lam)

    def objective():
        return kl(Lam, float(np.sum(A * WBt)), out=Q)  # sum over observed of AB = sum(A * (W B^T))

    return p.result("wnmf_kl", A, B, p.iterate(update, objective))


@register(
    "wnmf_fro",
    loss="frobenius",
    summary="Weighted least-squares multiplicative updates; any rank, monotone.",
    reference="Lee & Seung, NIPS 2001 (weighted)",
)
def wnmf_fro(X, mask=None, *, rank: int = 1, max_iter: int = 200, tol: float = 1e-4,
             random_state=None, init=None, max_time: float | None = None) -> FactorizationResult:
    """Weighted NMF under the Frobenius norm by multiplicative updates.

    Same parameters and stopping rule as :func:`wnmf_kl`;
    ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    p = _start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state,
               init=init)
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

    return p.result("wnmf_fro", A, B, p.iterate(update, lambda: frobenius(WX, WLam)))
