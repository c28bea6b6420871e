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

from .._validation import check_number
from . import _sparse
from ._base import FactorizationResult, register
from ._init import start
from ._losses import blocked_frobenius

__all__ = ["gdcls"]


@register(
    "gdcls",
    loss="frobenius",
    summary="GD-CLS of the Mathematica NNMF package: MU for A, ridge-regularised clipped least squares for B; not monotone.",
    reference="Shahnaz, Berry, Pauca & Plemmons, Inf. Process. Manage. 42(2), 2006; Antonov's Mathematica NNMF package",
)
def gdcls(X, mask=None, *, rank: int = 1, max_iter: int = 200, tol: float = 1e-10, random_state=None, init=None,
          max_time: float | None = None, eval_every: int = 1, regularization: float = 0.01, precision_goal: float | None = 4,
          epsilon: float = 1e-9) -> FactorizationResult:
    """NMF with missing values by GD-CLS (masked).

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n, m)
    mask : array_like of bool of shape (n, m), or "stored", optional
        True where observed; default: missing where X is NaN. ``"stored"``
        with a ``scipy.sparse`` X: exactly its stored entries are observed.
    rank : int
    max_iter : int, default 200
        The package's ``MaxSteps``.
    tol : float, default 1e-10
        Also stop when ``|previous loss - loss| / initial loss < tol``. The
        package stops only on ``precision_goal`` and ``max_iter``; GD-CLS
        often settles at an exact fixed point above the precision goal, where
        it would then run to ``max_iter`` however large, so the default stops
        once the loss has stopped moving (0 restores the package's rule).
    random_state : None, int or Generator
    init : None, "random", "nndsvda", "a1gm" or (A0, B0)
        Only A0 enters the updates (B is solved from A first, as the package
        does); B0 enters the initial objective value.
    max_time : float, optional
        Stop after the iteration at which the update time reaches this many
        seconds (objective evaluation not counted).
    eval_every : int, default 1
        Evaluate the objective after every ``eval_every``-th iteration and
        the last one only (see :mod:`nmfexp.solvers._driver`).
    regularization : float, default 0.01
        The ridge parameter lambda (the package's ``RegularizationParameter``).
        Like ``epsilon``, it acts on ``X`` divided by the power of 8 that
        brings the observed mean within a factor ``2**1.5`` of ``rank / 4``
        (see :mod:`nmfexp.solvers._init`), so that it means the same at
        every scale of the data; for data already at that scale (the
        package's usual setting) it is exactly the package's parameter.
    precision_goal : float or None, default 4
        Stop when ``||M*(X - A B)||_F / ||M*X||_F <= 10^-precision_goal``;
        None disables the rule.
    epsilon : float, default 1e-9
        Added to the denominator of the A update (the package's ``Epsilon``).

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``; ``info`` has
        ``relative_residual`` (the package's ``diffNorm/normV``).
    """
    lam = check_number(regularization, "regularization", low=0, closed="neither")
    pgoal = check_number(precision_goal, "precision_goal", low=0, closed="neither", allow_none=True,
                         hint="None disables the precision goal.")
    eps = check_number(epsilon, "epsilon", low=0, closed="neither")
    p = start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state, init=init,
              eval_every=eval_every)
    ridge = lam * np.eye(rank)
    norm_x = float(np.linalg.norm(p.data.X.data if p.sparse else p.WX))
    # The package's precision goal: stop once ||M*(X - A B)||_F <= 10^-precision_goal ||M*X||_F.
    if norm_x == 0:
        goal = np.inf  # no observed mass: the relative residual is undefined; one iteration ends the run
    else:
        goal = None if pgoal is None else norm_x * 10.0 ** (-pgoal)
    if p.sparse:
        return _sparse.gdcls(p, ridge, eps, goal, norm_x)
    WX, W, A, B = p.WX, p.W, p.A, p.B
    scratch = np.empty_like(WX)  # W * (A B) of the GD step

    def update():
        nonlocal A, B
        # CLS step (Shahnaz et al. 2006, Alg. GD-CLS): per-column ridge normal equations, then clip at 0.
        G = np.moveaxis(W.gram_cols(A), 2, 0) + ridge  # (m or 1, r, r)
        rhs = (A.T @ WX).T[:, :, None]  # (m, r, 1)
        B = np.linalg.solve(np.broadcast_to(G, (rhs.shape[0], rank, rank)), rhs)[:, :, 0].T
        np.maximum(B, 0.0, out=B)
        # GD step: masked multiplicative update of A (Lee & Seung form with epsilon).
        np.matmul(A, B, out=scratch)
        W.apply(scratch)
        A = A * (WX @ B.T) / (scratch @ B.T + eps)

    run = p.iterate(update, lambda: blocked_frobenius(WX, W, A, B), two_sided=True, goal=goal)
    return p.result("gdcls", A, np.ascontiguousarray(B), run,
                    relative_residual=run.history.objective[-1] / norm_x if norm_x > 0 else 0.0)
