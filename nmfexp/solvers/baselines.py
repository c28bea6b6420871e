"""Imputation baselines as solvers: what an NMF solver must beat to be worth running.

Each follows the common calling convention and returns a
:class:`~nmfexp.solvers.FactorizationResult`, so sweeps, tables and profiles
include them. Their loss is the Frobenius norm ``||W * (X - R)||_F``: the
experiment's ``weighted_frobenius`` and ``relative_error`` metrics compare
them with the NMF solvers, and their held-out errors are the point.

- ``column_mean``: every entry of column j is predicted by the mean of its
  observed entries (the overall observed mean for a column with none):
  ``R = 1 c^T``, rank 1.
- ``row_col_mean``: the rank-1 independence model of the observed means,
  ``R_ij = r_i c_j / mean`` (row mean times column mean over the overall
  mean), the rank-1 KL optimum of complete data; the same code as the
  fallback of ``init="a1gm"`` (:func:`~._init.independence_factors`).
- ``soft_impute``: Mazumder, Hastie & Tibshirani, "Spectral regularization
  algorithms for learning large incomplete matrices", JMLR 11, 2010,
  Algorithm 1 at a fixed rank: starting from ``Z = 0``, repeat

      Z <- S_lambda(P_obs(X) + P_miss(Z)),

  where ``S_lambda`` is the truncated SVD at the requested rank with the
  singular values soft-thresholded, ``max(sigma - lambda, 0)``, until
  ``||Z_new - Z||_F^2 / ||Z||_F^2 < tol``. ``lambda = shrinkage *
  sigma_1(P_obs(X))``: relative to the largest singular value of the
  zero-filled data, the smallest lambda at which the solution is 0;
  ``shrinkage = 0`` is hard-impute (fill with the rank-``rank`` SVD).

How a result represents these fits. The two mean models are products of
non-negative factors (``A = 1``, ``B = c``; ``A = r``, ``B = c / mean``),
padded with zero components to the requested rank so that every result has
the shapes of its rank; ``clip`` is False. Soft-impute's low-rank ``Z`` has
signed factors ``A = U sqrt(S)``, ``B = sqrt(S) V^T``: its result has
``clip=True`` and its reconstruction is ``max(A B, 0)`` (non-negative data
are never predicted below 0). Every consumer reads the reconstruction from
the result's own methods (:meth:`~nmfexp.solvers.FactorizationResult.reconstruct`
and its row and entry forms), never ``A @ B``.

The mean models are closed forms (no iterations, ``stop_reason``
``"closed_form"``, empty history). Soft-impute iterates with its own rule
(above) and records ``history["objective"]`` (``||W * (X - max(Z, 0))||_F``
on the observed entries, start first), ``"time"`` and ``"iteration"`` like
the NMF solvers; it has no projected-gradient measure (it is not an NMF).
All three work on a dense copy of the data, divided by a power of two as the
iterative solvers' data are (:func:`~._init.scale_exponent`), and report in
the data's units.
"""

from __future__ import annotations

import numpy as np

from .._validation import MaskedData, check_rank, masked_data
from ._base import FactorizationResult, register
from ._driver import History
from ._init import _truncated_svd, independence_factors, observed_means, rng_from, scale_exponent
from ._params import Interval, Param

__all__ = ["column_mean", "row_col_mean", "soft_impute"]


def _read(X, mask, rank) -> tuple[MaskedData, int]:
    """Validated, rescaled dense data and the checked rank (data with no observed entry are refused)."""
    data = masked_data(X, mask)
    rank = check_rank(rank, data.shape)
    return data.rescaled(scale_exponent(data.mean(), 1)), rank


def _rank1_result(name: str, u: np.ndarray, v: np.ndarray, data: MaskedData, rank: int) -> FactorizationResult:
    """``u v^T`` (on the rescaled data) as factors of the requested rank, zero components after the first.

    The data were divided by ``2**scale``; ``B`` is multiplied back by it (exact), so ``A B`` is in the
    data's units.
    """
    n, m = data.shape
    A, B = np.zeros((n, rank)), np.zeros((rank, m))
    k = data.scale
    A[:, 0], B[0] = u, np.ldexp(v, k)
    return FactorizationResult(A=A, B=B, n_iter=0, history={"objective": np.empty(0), "time": np.empty(0)},
                               solver=name, converged=True, stop_reason="closed_form",
                               info={"n_missing": data.n_missing, "model_rank": 1})


@register(
    "column_mean",
    loss="frobenius",
    params=(),
    iterative=False,
    summary="Baseline: each missing entry gets its column's observed mean (rank-1 model 1 c^T).",
    reference=("little2019statistical",),
)
def column_mean(X, mask, *, rank, random_state):
    """Column-mean imputation: ``R_ij`` = the mean of the observed entries of column j.

    A column with no observed entry gets the overall observed mean. The
    factors are ``A[:, 0] = 1``, ``B[0] = c`` (zero components after the
    first, up to ``rank``).

    Returns
    -------
    FactorizationResult
        Closed form: ``n_iter = 0``, ``stop_reason = "closed_form"``.
    """
    data, rank = _read(X, mask, rank)
    _, cols, _ = observed_means(data)
    return _rank1_result("column_mean", np.ones(data.shape[0]), cols, data, rank)


@register(
    "row_col_mean",
    loss="frobenius",
    params=(),
    iterative=False,
    summary="Baseline: rank-1 independence model of observed means, R_ij = r_i c_j / mean.",
    reference=("little2019statistical",),
)
def row_col_mean(X, mask, *, rank, random_state):
    """The independence model ``R_ij = r_i c_j / mean`` of the observed row, column and overall means.

    Rows or columns with no observed entry get the overall mean. The same
    model as the fallback of ``init="a1gm"``; the rank-1 KL optimum when
    nothing is missing.

    Returns
    -------
    FactorizationResult
        Closed form: ``n_iter = 0``, ``stop_reason = "closed_form"``.
    """
    data, rank = _read(X, mask, rank)
    u, v = independence_factors(observed_means(data))
    return _rank1_result("row_col_mean", u, v, data, rank)


@register(
    "soft_impute",
    loss="frobenius",
    params=(
        Param("shrinkage", 0.05, Interval("real", low=0, high=1),
              "lambda relative to the largest singular value of the zero-filled observed data (the smallest "
              "lambda whose solution is 0); 0 is hard-impute."),
        Param("max_iter", 100, Interval("integer", low=1), "Iterations at most."),
        Param("tol", 1e-5, Interval("real", low=0),
              "Stop when ``||Z_new - Z||_F^2 / ||Z||_F^2 < tol`` (Mazumder et al. 2010)."),
        Param("max_time", None,
              Interval("real", low=0, closed="neither", allow_none=True,
                       hint="It is a budget in seconds of update time; None means no limit."),
              "Stop after the iteration at which the update time reaches this many seconds."),
    ),
    iterative=False,
    summary="Baseline: soft-impute (iterative soft-thresholded SVD imputation), clipped at 0.",
    reference=("mazumder2010spectral",),
)
def soft_impute(X, mask, *, rank, random_state, shrinkage, max_iter, tol, max_time):
    """Soft-impute at a fixed rank (Mazumder, Hastie & Tibshirani 2010), reconstruction clipped at 0.

    The SVD is exact when ``min(n, m) <= 300`` and randomized otherwise
    (seeded by ``random_state``); the start is ``Z = 0``, so no restarts.

    Returns
    -------
    FactorizationResult
        Signed ``A``, ``B`` with ``clip=True``; ``history["objective"]`` is
        ``||W * (X - max(A B, 0))||_F``; ``stop_reason`` ``"tol"``,
        ``"max_iter"`` or ``"max_time"``.
    """
    data, rank = _read(X, mask, rank)
    rng = rng_from(random_state)
    WX, obs = data.WX, data.observed
    lam = shrinkage * float(_truncated_svd(WX, 1, rng)[1][0])
    state = {"Z": np.zeros_like(WX), "change": np.inf, "factors": None}

    def update():
        Z = state["Z"]
        Y = WX if obs is None else np.where(obs, WX, Z)
        U, S, Vt = _truncated_svd(Y, rank, rng)
        S = np.maximum(S - lam, 0.0)
        Znew = (U * S) @ Vt
        old = float(np.vdot(Z, Z))
        diff = Znew - Z
        state["change"] = float(np.vdot(diff, diff)) / old if old > 0 else np.inf
        state["Z"], state["factors"] = Znew, (U, S, Vt)

    def objective():
        R = np.maximum(state["Z"], 0.0)
        if obs is not None:
            R[~obs] = 0.0
        return float(np.linalg.norm(WX - R))

    history = History(objective())
    reason, it = "max_iter", 0
    for it in range(1, max_iter + 1):
        history.timed(update)
        history.record(objective(), it)
        if state["change"] < tol:
            reason = "tol"
            break
        if max_time is not None and history.elapsed >= max_time:
            reason = "max_time"
            break
    U, S, Vt = state["factors"]
    root = np.sqrt(S)
    k = data.scale
    A, B = np.ldexp(U * root, k // 2), np.ldexp(root[:, None] * Vt, k - k // 2)
    out = history.as_dict()
    out["objective"] = np.ldexp(out["objective"], k)
    return FactorizationResult(A=A, B=B, n_iter=it, history=out, solver="soft_impute", converged=reason == "tol",
                               stop_reason=reason, clip=True,
                               info={"n_missing": data.n_missing, "shrinkage_lambda": float(np.ldexp(lam, k))})
