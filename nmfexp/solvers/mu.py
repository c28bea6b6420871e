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
from which the objective is read (:func:`~.losses.kl_from_ratio`). The
least-squares updates keep ``W*(A B)`` when entries are missing; on fully
observed data they use the Gram form of the denominators, as scikit-learn's
multiplicative updates do,

    A^T (A B) = (A^T A) B,        (A B) B^T = A (B B^T),

so no ``n x m`` product is formed at all, and the objective comes from the
same products (:func:`~.losses.gram_frobenius`). The updates are written
once against :class:`~._ops.Ops`, so sparse input with ``mask="stored"``
runs them on the stored entries only.
"""

from __future__ import annotations

import numpy as np

from ._base import register
from ._init import Problem, refuse_dead_components, start
from ._params import iterative_params
from .losses import gram_frobenius

__all__ = ["wnmf_kl", "wnmf_fro"]

FACTOR_FLOOR = 1e-150
_TINY = np.finfo(np.float64).tiny


def _start(X, mask, solver: str, **params) -> Problem:
    p = start(X, mask, **params)
    refuse_dead_components(p.A, p.B, params["init"], solver)
    np.maximum(p.A, FACTOR_FLOOR, out=p.A)
    np.maximum(p.B, FACTOR_FLOOR, out=p.B)
    return p


@register(
    "wnmf_kl",
    loss="kl",
    params=iterative_params(tol_doc="Stop when ``(previous KL - KL) / initial KL < tol``, the KL being evaluated "
                                    "after every ``eval_every``-th iteration (every one, as in the reference code). "
                                    "With ``stop_on='stationarity'``: when the relative projected gradient is at most ``tol``."),
    sparse=True,
    summary="Weighted KL multiplicative updates (the paper's baseline); any rank, monotone.",
    reference=("lee2001algorithms", "ghalamkari2022fast"),
)
def wnmf_kl(X, mask, *, rank, random_state, max_iter, tol, init, max_time, eval_every, stop_on):
    """Weighted NMF under the generalised KL divergence by multiplicative updates.

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is the weighted KL divergence.
    """
    p = _start(X, mask, "wnmf_kl", rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state,
               init=init, eval_every=eval_every, stop_on=stop_on)
    ops, A, B = p.ops, p.A, p.B  # A and B are updated in place
    Q = ops.ratio(A, B)  # the one work array: (W*X) / (A B), kept current
    WBt = ops.right(B)  # W B^T, kept current for the objective
    sum_x = ops.sum_x()

    def update():
        nonlocal A, B, WBt  # the in-place products (B *= ...) rebind the names to the same arrays
        # Lee & Seung 2001, KL updates with weights W. B <- B / (A^T W) * (A^T ((W*X) / (A B)))
        B *= ops.lmul(A.T, Q) / np.maximum(ops.left(A), _TINY)
        np.maximum(B, FACTOR_FLOOR, out=B)
        ops.ratio(A, B, out=Q)
        # A <- A / (W B^T) * (((W*X) / (A B)) B^T)
        WBt = ops.right(B)
        A *= ops.rmul(Q, B.T) / np.maximum(WBt, _TINY)
        np.maximum(A, FACTOR_FLOOR, out=A)
        ops.ratio(A, B, out=Q)

    def objective():  # sum over observed of AB = sum(A * (W B^T))
        return ops.kl_from_ratio(Q, sum_x, float(np.sum(A * WBt)))

    return p.result("wnmf_kl", A, B, p.iterate(update, objective, loss="kl", factors=lambda: (A, B)))


@register(
    "wnmf_fro",
    loss="frobenius",
    params=iterative_params(),
    sparse=True,
    summary="Weighted least-squares multiplicative updates; any rank, monotone.",
    reference=("lee2001algorithms",),
)
def wnmf_fro(X, mask, *, rank, random_state, max_iter, tol, init, max_time, eval_every, stop_on):
    """Weighted NMF under the Frobenius norm by multiplicative updates.

    Same stopping rule as :func:`wnmf_kl`.

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    p = _start(X, mask, "wnmf_fro", rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state,
               init=init, eval_every=eval_every, stop_on=stop_on)
    if p.ops.complete:
        return _wnmf_fro_complete(p)
    ops, A, B = p.ops, p.A, p.B  # A and B are updated in place
    WLam = ops.masked_product(A, B)  # kept equal to W * (A B)

    def update():
        nonlocal A, B  # the in-place products (B *= ...) rebind the names to the same arrays
        # Lee & Seung 2001, least-squares updates with weights W. B <- B * (A^T (W*X)) / (A^T (W*(A B)))
        B *= ops.xt_left(A.T) / np.maximum(ops.lmul(A.T, WLam), _TINY)
        np.maximum(B, FACTOR_FLOOR, out=B)
        ops.masked_product(A, B, out=WLam)
        # A <- A * ((W*X) B^T) / ((W*(A B)) B^T)
        A *= ops.x_right(B.T) / np.maximum(ops.rmul(WLam, B.T), _TINY)
        np.maximum(A, FACTOR_FLOOR, out=A)
        ops.masked_product(A, B, out=WLam)

    return p.result("wnmf_fro", A, B, p.iterate(update, lambda: ops.residual_norm(WLam), loss="frobenius",
                                                    factors=lambda: (A, B)))


def _wnmf_fro_complete(p: Problem):
    """Fully observed least-squares updates in Gram form (no ``n x m`` product; see the module docstring)."""
    ops, A, B = p.ops, p.A, p.B  # A and B are updated in place
    xx = ops.sum_sq_x()
    XBt = BBt = None  # X B^T and B B^T of the last A update, for the objective

    def update():
        nonlocal A, B, XBt, BBt
        # Lee & Seung 2001: B <- B * (A^T X) / ((A^T A) B)
        B *= ops.xt_left(A.T) / np.maximum((A.T @ A) @ B, _TINY)
        np.maximum(B, FACTOR_FLOOR, out=B)
        # A <- A * (X B^T) / (A (B B^T))
        XBt, BBt = ops.x_right(B.T), B @ B.T
        A *= XBt / np.maximum(A @ BBt, _TINY)
        np.maximum(A, FACTOR_FLOOR, out=A)

    def objective():
        if XBt is not None:  # ||X - AB||^2 = ||X||^2 - 2 <A, X B^T> + <A^T A, B B^T>, where accurate
            value = gram_frobenius(xx, float(np.vdot(A, XBt)), float(np.vdot(A.T @ A, BBt)))
            if value is not None:
                return value
        return ops.frobenius(A, B)

    return p.result("wnmf_fro", A, B, p.iterate(update, objective, loss="frobenius", factors=lambda: (A, B)))
