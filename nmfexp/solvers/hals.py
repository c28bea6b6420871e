"""Hierarchical alternating least squares (HALS) with an observation mask.

Cichocki & Phan, "Fast Local Algorithms for Large Scale Nonnegative Matrix and
Tensor Factorizations", IEICE Trans. Fundamentals E92-A(3), 2009: each
component is the exact minimiser of the least-squares loss with all other
components fixed (the local ALS update). With the 0/1 mask M and the residual
without component j, ``R_j = X - sum_{l != j} A[:, l] B[l, :]``:

    A[:, j] <- max(0, ((M*R_j) B[j, :]^T) / (M (B[j, :]^2)^T))
    B[j, :] <- max(0, (A[:, j]^T (M*R_j)) / ((A[:, j]^2)^T M))

How it is computed (same numbers, far less work). Row i of A only meets the
observed entries of row i, so with ``N = (M*X) B^T`` and the per-row Gram
matrices ``G_i = B diag(M[i, :]) B^T``

    ((M*R_j) B[j, :]^T)_i = N[i, j] - sum_{l != j} A[i, l] G_i[l, j],
    (M (B[j, :]^2)^T)_i   = G_i[j, j].

``N`` is one product with the data and the ``G_i`` one product of the mask
with the r(r+1)/2 products of pairs of rows of B (:meth:`~._ops.Ops.gram_rows`),
after which the r column updates cost O(n r^2) in all, instead of r passes
over an n x m residual. As in Cichocki & Phan's fast HALS, all columns of A
are updated (in order j = 0..r-1, each using the already updated ones), then
all rows of B likewise.

Zero denominators: when ``G_i[j, j] = 0`` (component j's row of B vanishes on
row i's observed entries) the loss does not depend on ``A[i, j]``; it is set
to 0. A component that becomes entirely zero therefore stays zero; this keeps
every update an exact minimiser, so the loss never increases.

The objective reuses the B half step's products where the data are fully
observed (``N = A^T X`` and ``A^T A`` with the final A; see
:func:`~.losses.gram_frobenius`) and is otherwise computed a block of rows
at a time; no ``n x m`` work array is kept. The updates are written once
against :class:`~._ops.Ops`, so sparse input with ``mask="stored"`` runs
them from the stored entries.
"""

from __future__ import annotations

import numpy as np

from ._base import register
from ._init import start
from ._params import iterative_params
from ._sparse import StoredOps
from .losses import gram_frobenius

__all__ = ["hals"]


def local_updates(F: np.ndarray, N: np.ndarray, G: np.ndarray) -> None:
    """Update the r rows of ``F`` (r, p) in place, one after another.

    Row j of F is the component being updated (a column of A transposed, or a
    row of B); ``N`` (r, p) holds the masked data products and ``G`` (r, r, p)
    or (r, r, 1) the per-point Gram matrices. Cichocki & Phan 2009, local ALS:
    F[j] <- max(0, (N[j] - sum_{l != j} G[j, l] F[l]) / G[j, j]).
    """
    r = F.shape[0]
    for j in range(r):
        Gj = G[j]  # (r, p): G[j, l] = G[l, j] by symmetry
        d = Gj[j]
        num = N[j] - np.einsum("lp,lp->p", Gj, F) if Gj.shape[1] > 1 else N[j] - Gj[:, 0] @ F
        num += d * F[j]  # add back the l == j term
        pos = d > 0
        if pos.all():
            np.divide(num, d, out=F[j])
        else:
            F[j] = 0.0
            np.divide(num, d, out=F[j], where=pos)
        np.maximum(F[j], 0.0, out=F[j])


@register(
    "hals",
    loss="frobenius",
    params=iterative_params(),
    sparse=True,
    summary="Masked hierarchical ALS (exact per-component least squares); any rank, monotone, fast.",
    reference=("cichocki2009fast",),
)
def hals(X, mask, *, rank, random_state, max_iter, tol, init, max_time, eval_every, stop_on):
    """NMF with missing values by hierarchical ALS (masked Frobenius loss).

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    p = start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state, init=init,
              eval_every=eval_every, stop_on=stop_on)
    ops, B = p.ops, p.B  # B is updated in place
    At = np.ascontiguousarray(p.A.T)  # A's components as rows (contiguous updates), in place
    # A for the objective: p.A at the start, then a view of At.
    A = p.A
    full = ops.complete
    xx = ops.sum_sq_x() if full else 0.0
    sparse = isinstance(ops, StoredOps)
    last = None  # (A^T X, A^T A) of the last B half step, for the objective when fully observed

    def update():
        nonlocal A, last
        # Cichocki & Phan 2009, fast HALS with the mask M (formulas in the module docstring).
        # Columns of A: N = (M*X) B^T (transposed), G_i = B diag(M[i, :]) B^T.
        # On the stored entries with compiled kernels, line by line from r x r work arrays.
        if not (sparse and ops.hals_lines(0, B, At)):
            local_updates(At, ops.times_xt(B), ops.gram_rows(B))
        A = At.T
        if sparse and ops.hals_lines(1, At, B):
            last = None
            return
        # Rows of B: N = A^T (M*X), G_k = A^T diag(M[:, k]) A.
        N, G = ops.xt_left(At), ops.gram_cols(At.T)
        local_updates(B, N, G)
        last = (N, G) if full else None

    def objective():
        if last is not None:  # ||X - AB||^2 = ||X||^2 - 2 <A^T X, B> + <A^T A, B B^T>, where accurate
            N, G = last
            value = gram_frobenius(xx, float(np.vdot(N, B)), float(np.vdot(G[:, :, 0], B @ B.T)))
            if value is not None:
                return value
        return ops.frobenius(A, B)

    run = p.iterate(update, objective, loss="frobenius", factors=lambda: (A, B))
    return p.result("hals", np.ascontiguousarray(At.T), B, run)
