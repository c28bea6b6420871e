"""GD-CLS: gradient descent (multiplicative) for A, constrained least squares for B.

The hybrid of Shahnaz, Berry, Pauca & Plemmons, "Document clustering using
nonnegative matrix factorization", Inf. Process. Manage. 42(2), 2006 (also
Pauca, Piper & Plemmons, "Nonnegative matrix factorization for spectral data
analysis", Linear Algebra Appl. 416, 2006), as implemented by the Mathematica
``NonNegativeMatrixFactorization`` package (``GDCLS``) of the seed documents,
with the 0/1 mask M restricting every sum to the observed entries. Per
iteration, B first (the package's ``H``), then A (its ``W``):

    B[:, k] <- max(0, (A^T diag(M[:, k]) A + lambda I)^{-1} A^T (M*X)[:, k])
    A       <- A * ((M*X) B^T) / ((M*(A B)) B^T + epsilon)

Without missing entries the first line is the package's
``H = Clip[LinearSolve[W^T W + lbd I, W^T V], {0, Max[H]}]``; with them each
column has its own regularised normal equations over its observed rows.

Stopping rule of the package (its ``PrecisionGoal``, default 4): stop once the
relative residual ``||M*(X - A B)||_F / ||M*X||_F`` is at most
``10^-precision_goal``. The package's loop condition is
``diffNorm/normV > 10^(-pgoal)`` with ``diffNorm = Norm[V - W.H, "Frobenius"]``,
the residual itself, not its change between iterations. The loss is not
monotone (the least-squares step is regularised and clipped).
"""

from __future__ import annotations

import numpy as np

from ._base import register
from ._init import refuse_dead_components, start
from ._params import Interval, Param, iterative_params
from ._sparse import StoredOps

__all__ = ["gdcls"]


@register(
    "gdcls",
    loss="frobenius",
    params=(
        *iterative_params(
            tol=1e-10,
            tol_doc="Also stop when ``|previous loss - loss| / initial loss < tol``. The package stops only on "
                    "``precision_goal`` and ``max_iter``; GD-CLS often settles at an exact fixed point above the "
                    "precision goal, where it would then run to ``max_iter`` however large, so the default stops "
                    "once the loss has stopped moving (0 restores the package's rule). "
                    "With ``stop_on='stationarity'``: when the relative projected gradient is at most ``tol``."),
        Param("regularization", 0.01, Interval("real", low=0, closed="neither"),
              "The ridge parameter lambda (the package's ``RegularizationParameter``). Like ``epsilon``, it acts "
              "on ``X`` divided by the power of 8 that brings the observed mean within a factor ``2**1.5`` of "
              "``rank / 4`` (see :mod:`nmfexp.solvers._init`), so that it means the same at every scale of the "
              "data; for data already at that scale (the package's usual setting) it is exactly the package's "
              "parameter."),
        Param("precision_goal", 4, Interval("real", low=0, closed="neither", allow_none=True,
                                            hint="None disables the precision goal."),
              "Stop when ``||M*(X - A B)||_F / ||M*X||_F <= 10^-precision_goal``; None disables the rule."),
        Param("epsilon", 1e-9, Interval("real", low=0, closed="neither"),
              "Added to the denominator of the A update (the package's ``Epsilon``)."),
    ),
    sparse=True,
    summary="GD-CLS of the Mathematica NNMF package: MU for A, ridge-regularised clipped least squares for B; "
            "not monotone.",
    reference=("shahnaz2006document",),
)
def gdcls(X, mask, *, rank, random_state, max_iter, tol, init, max_time, eval_every, stop_on, regularization,
          precision_goal, epsilon):
    """NMF with missing values by GD-CLS (masked).

    ``max_iter`` is the package's ``MaxSteps``. Only ``A0`` of a given
    ``init`` enters the updates (B is solved from A first, as the package
    does); ``B0`` enters the initial objective value.

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``; ``info`` has
        ``relative_residual`` (the package's ``diffNorm/normV``).
    """
    p = start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state, init=init,
              eval_every=eval_every, stop_on=stop_on)
    refuse_dead_components(p.A, p.B, init, "gdcls", b_is_solved=True)
    ops, A, B = p.ops, p.A, p.B
    ridge = regularization * np.eye(rank)
    eps = epsilon
    norm_x = ops.norm_x()
    # The package's precision goal: stop once ||M*(X - A B)||_F <= 10^-precision_goal ||M*X||_F.
    if norm_x == 0:
        goal = np.inf  # no observed mass: the relative residual is undefined; one iteration ends the run
    else:
        goal = None if precision_goal is None else norm_x * 10.0 ** (-precision_goal)
    sparse = isinstance(ops, StoredOps)
    scratch = ops.new_entries()  # W * (A B) of the GD step

    def update():
        nonlocal A, B
        # CLS step (Shahnaz et al. 2006, Alg. GD-CLS): per-column ridge normal equations, then clip at 0.
        solved = ops.ridge_lines(1, A.T, regularization) if sparse else None
        if solved is None:
            G = np.moveaxis(ops.gram_cols(A), 2, 0) + ridge  # (m or 1, r, r)
            rhs = ops.xt_left(A.T).T[:, :, None]  # (m, r, 1)
            B = np.linalg.solve(np.broadcast_to(G, (rhs.shape[0], rank, rank)), rhs)[:, :, 0].T
        else:  # on the stored entries, column by column in r x r work arrays
            B, failed = solved
            for k in np.flatnonzero(failed):  # not positive definite: the general solve (or its error)
                sel = ops.observed_line(1, k)[0]
                C = A[sel]
                B[:, k] = np.linalg.solve(C.T @ C + ridge, C.T @ ops.observed_line(1, k)[1])
        np.maximum(B, 0.0, out=B)
        # GD step: masked multiplicative update of A (Lee & Seung form with epsilon).
        WAB = ops.masked_product(A, B, out=scratch)
        A = A * ops.x_right(B.T) / (ops.rmul(WAB, B.T) + eps)

    run = p.iterate(update, lambda: ops.frobenius(A, B), loss="frobenius", factors=lambda: (A, B), two_sided=True,
                    goal=goal)
    return p.result("gdcls", A, np.ascontiguousarray(B), run,
                    relative_residual=run.history.objective[-1] / norm_x if norm_x > 0 else 0.0)
