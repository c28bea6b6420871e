"""The metrics of a job: one table that names every metric and how it is computed.

Every metric compares the data with the solver's reconstruction ``R = A B``
on a set of entries:

- the *training* entries (what the solver saw: the experiment's mask minus
  held-out entries). For A1GM that is the original mask, never the grid it
  enlarges it to;
- the *held-out* entries (``holdout > 0``), to measure imputation;
- all entries against the noiseless ground truth (synthetic low-rank data).

A metric that does not apply to a job (no held-out entries, no ground truth)
is NaN. A metric that applies but is not a finite number is an error
(:class:`MetricError`): the job is ``failed`` with the reason, never ``ok``,
with one exception that is the true value rather than a breakdown: the KL
divergence of a solver that does not minimise KL is ``inf`` where its
reconstruction is exactly zero at a positive entry. A reconstruction that is
zero on every training entry of data with positive entries is meaningless
(every relative error is 1, and at tiny scales it rounds to 0) and fails too.

Large matrices (more than :data:`DENSE_MAX_ENTRIES` entries) never get an
``n x m`` reconstruction: the same metrics are computed from the factors a
block of rows at a time (training entries, truth) and at the held-out entries
only, with the same formulas (:mod:`nmfexp.solvers.losses`); the values
equal the dense computation's up to rounding (sums taken in another order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..solvers import FactorizationResult, SolverSpec
from ..solvers.losses import row_blocks
from .job import JobData

__all__ = ["METRICS", "Metric", "MetricError", "evaluate", "DENSE_MAX_ENTRIES"]

#: Above this many entries the metrics are computed without the dense reconstruction.
DENSE_MAX_ENTRIES = 1 << 22


class MetricError(ArithmeticError):
    """A metric that applies to the job is not a finite number, or the result is meaningless."""


@dataclass(frozen=True)
class Metric:
    """A named metric: ``compute(data, R)`` -> float, NaN when it does not apply."""

    name: str
    compute: Callable[[JobData, np.ndarray], float]
    loss: str = ""  # the solver loss this metric measures ("kl", "frobenius"), if any
    doc: str = ""


def _held(data: JobData) -> np.ndarray | None:
    if not data.heldout.size:
        return None
    held = np.zeros(data.X.size, dtype=bool)
    held[data.heldout] = True
    return held.reshape(data.X.shape)


def _heldout_error(data: JobData, R: np.ndarray) -> float:
    held = _held(data)
    return float("nan") if held is None else metrics.relative_error(data.X, R, held)


def _truth_error(data: JobData, R: np.ndarray) -> float:
    T = data.dataset.truth
    if T is None:
        return float("nan")
    return float(np.linalg.norm(R - T) / max(np.linalg.norm(T), np.finfo(float).tiny))


#: Every metric a record holds, in order.
METRICS: tuple[Metric, ...] = (
    Metric("weighted_kl", lambda d, R: metrics.weighted_kl(d.X, R, d.train), "kl",
           "generalised KL divergence on the training entries"),
    Metric("weighted_frobenius", lambda d, R: metrics.weighted_frobenius(d.X, R, d.train), "frobenius",
           "||W * (X - R)||_F on the training entries"),
    Metric("relative_error", lambda d, R: metrics.relative_error(d.X, R, d.train), "frobenius",
           "||W * (X - R)||_F / ||W * X||_F on the training entries"),
    Metric("heldout_relative_error", _heldout_error, "", "relative error on the held-out entries (NaN without holdout)"),
    Metric("truth_relative_error", _truth_error, "",
           "||R - T||_F / ||T||_F against the noiseless truth T (NaN without one)"),
)


def _applies(metric: Metric, data: JobData) -> bool:
    if metric.name == "heldout_relative_error":
        return bool(data.heldout.size)
    if metric.name == "truth_relative_error":
        return data.dataset.truth is not None
    return True


def evaluate(data: JobData, result: FactorizationResult, spec: SolverSpec) -> dict[str, float]:
    """Every metric of :data:`METRICS` for ``result``; raise :class:`MetricError` for a broken one."""
    if data.X.size > DENSE_MAX_ENTRIES:
        values, zero_fit = _values_from_factors(data, result)
    else:
        R = result.reconstruct()
        x_train = data.X if data.train is None else data.X[data.train]
        zero_fit = np.nansum(x_train) > 0 and not np.any(R if data.train is None else R[data.train])
        values = None if zero_fit else {metric.name: metric.compute(data, R) for metric in METRICS}
    if zero_fit:
        raise MetricError(f"{spec.name} returned a reconstruction that is zero on every training entry of "
                          "data with positive entries; its metrics would be meaningless.")
    out = {}
    for metric in METRICS:
        value = values[metric.name]
        if _applies(metric, data) and not np.isfinite(value):
            kl_of_other_loss = metric.loss == "kl" and spec.loss != "kl" and value == np.inf
            if not kl_of_other_loss:
                raise MetricError(f"{metric.name} is {value} for {spec.name}'s result; the solver broke down "
                                  "(overflow, underflow or a non-finite factor).")
        out[metric.name] = float(value)
    return out


def _values_from_factors(data: JobData, result: FactorizationResult) -> tuple[dict[str, float], bool]:
    """The metrics of :data:`METRICS` from ``A`` and ``B`` without an ``n x m`` array (see the module docstring)."""
    from scipy.special import kl_div

    X, A, B = data.X, np.asarray(result.A, dtype=float), np.asarray(result.B, dtype=float)
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        nan = float("nan")
        return {m.name: nan for m in METRICS}, False
    n, m = X.shape
    kl = sq_err = sq_x = sum_x = 0.0
    any_fit = False
    T = data.dataset.truth
    sq_dt = sq_t = 0.0
    for rows in row_blocks(n, m):
        R = A[rows] @ B
        if T is not None:
            D = R - T[rows]
            sq_dt += float(np.vdot(D, D))
            sq_t += float(np.vdot(T[rows], T[rows]))
        keep = slice(None) if data.train is None else data.train[rows]
        x, r = X[rows][keep].ravel(), R[keep].ravel()
        if not (x.size == 0 or (x.min() >= 0 and np.isfinite(x.max()))):
            metrics.observed_values(X[rows], R, None if data.train is None else data.train[rows])  # raises
        kl += float(kl_div(x, r).sum())
        d = x - r
        sq_err += float(np.vdot(d, d))
        sq_x += float(np.vdot(x, x))
        sum_x += float(np.nansum(x))
        any_fit = any_fit or bool(np.any(r))
    if sum_x > 0 and not any_fit:
        return {}, True
    fro, norm_x = float(np.sqrt(sq_err)), float(np.sqrt(sq_x))
    out = {"weighted_kl": kl, "weighted_frobenius": fro,
           "relative_error": (0.0 if fro == 0 else float("inf")) if norm_x == 0 else fro / norm_x,
           "heldout_relative_error": float("nan"), "truth_relative_error": float("nan")}
    if data.heldout.size:
        i, j = np.divmod(np.sort(data.heldout), m)
        xh = X[i, j]
        rh = np.einsum("kr,kr->k", A[i], B.T[j])
        out["heldout_relative_error"] = _loss_relative(xh, rh)
    if T is not None:
        out["truth_relative_error"] = float(np.sqrt(sq_dt) / max(np.sqrt(sq_t), np.finfo(float).tiny))
    return out, False


def _loss_relative(x: np.ndarray, r: np.ndarray) -> float:
    from ..solvers.losses import relative_error

    return relative_error(x, r)
