"""The metrics of a job: each one is a function here plus its declaration in :mod:`nmfexp.record.schema`.

Every metric compares the data with the solver's reconstruction ``R =
result.reconstruct()`` (``A B``, clipped at 0 for a result whose ``clip`` is
set; the block-wise path reads ``reconstruct_rows``/``reconstruct_entries``)
on the set of entries its declaration names (``Field.entries``):

- ``train``: the entries the solver saw (the experiment's mask minus
  held-out entries). For A1GM that is the original mask, never the grid it
  enlarges it to;
- ``heldout``: the held-out entries (``holdout > 0``), to measure imputation;
- ``truth``: all entries, against the noiseless ground truth (synthetic
  low-rank data).

A metric function takes a :class:`Fit` (the data and ``R`` on those sets of
entries) and the name of the set, and returns a float. Adding a metric is
one line in :data:`METRICS` and one ``Field`` in group ``metrics`` of
:data:`nmfexp.record.schema.FIELDS` (its type, unit, documentation, the set
of entries and, if it is a solver's objective, its loss); the record, the
tables, ``compare``, the figures' notion of a result and ``docs/records.md``
follow from the declaration.

A metric that does not apply to a job (no held-out entries, no ground truth)
is NaN. A metric that applies but is not a finite number is an error
(:class:`MetricError`): the job is ``failed`` with the reason, never ``ok``,
with one exception that is the true value rather than a breakdown: the KL
divergence of a solver that declares another loss (``SolverSpec.loss``, e.g.
``"frobenius"``) is ``inf`` where its reconstruction is exactly zero at a
positive entry. A solver that minimises KL, or declares no loss, with such a
reconstruction (``R = 0`` on an observed column) is ``failed``. A reconstruction that is
zero on every training entry of data with positive entries is meaningless
(every relative error is 1, and at tiny scales it rounds to 0) and fails too.

Large matrices (more than :data:`DENSE_MAX_ENTRIES` entries) never get an
``n x m`` reconstruction: :class:`Fit` then computes the same quantities from
the factors a block of rows at a time (training entries, truth) and at the
held-out entries only, with the same formulas (:mod:`nmfexp.solvers.losses`);
the values equal the dense computation's up to rounding (sums taken in
another order). A metric written with :meth:`Fit.pairs` runs on both paths
too (on the block path it gathers its entries, which costs memory for the
training entries of a large matrix).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..record import schema
from ..solvers import FactorizationResult, SolverSpec
from ..solvers.losses import row_blocks
from .job import JobData

__all__ = ["METRICS", "Metric", "MetricError", "Fit", "evaluate", "DENSE_MAX_ENTRIES"]

#: Above this many entries the metrics are computed without the dense reconstruction.
DENSE_MAX_ENTRIES = 1 << 22

ENTRIES = ("train", "heldout", "truth")


class MetricError(ArithmeticError):
    """A metric that applies to the job is not a finite number, or the result is meaningless."""


class Fit:
    """The data and the reconstruction ``R = A B`` on the entries a metric reads.

    ``entries`` is ``"train"``, ``"heldout"`` or ``"truth"`` (all entries,
    the ground truth in the place of the data). Subclasses: a dense ``R``
    (:class:`_DenseFit`) or the factors a block of rows at a time
    (:class:`_BlockFit`).
    """

    def __init__(self, data: JobData):
        self.data = data

    def applies(self, entries: str) -> bool:
        """Whether the job has those entries (held-out entries, a ground truth)."""
        if entries == "heldout":
            return bool(self.data.heldout.size)
        if entries == "truth":
            return self.data.dataset.truth is not None
        return True

    def pairs(self, entries: str) -> tuple[np.ndarray, np.ndarray]:
        """The data (or the truth) and ``R`` at those entries, as two 1-D arrays."""
        raise NotImplementedError

    def kl(self, entries: str) -> float:
        """``sum x log(x / r) - x + r`` over the entries."""
        from ..solvers._losses import kl_divergence

        return kl_divergence(*self.pairs(entries))

    def frobenius(self, entries: str) -> float:
        """``||x - r||`` over the entries."""
        from ..solvers._losses import frobenius

        return frobenius(*self.pairs(entries))

    def relative_error(self, entries: str) -> float:
        """``||x - r|| / ||x||`` over the entries."""
        return _loss_relative(*self.pairs(entries))


class _DenseFit(Fit):
    def __init__(self, data: JobData, R: np.ndarray):
        super().__init__(data)
        self.R = R

    def _held(self) -> np.ndarray:
        held = np.zeros(self.data.X.size, dtype=bool)
        held[self.data.heldout] = True
        return held.reshape(self.data.X.shape)

    def pairs(self, entries):
        X, R = self.data.X, self.R
        if entries == "train":
            return (X.ravel(), R.ravel()) if self.data.train is None else (X[self.data.train], R[self.data.train])
        if entries == "heldout":
            held = self._held()
            return X[held], R[held]
        return self.data.dataset.truth.ravel(), R.ravel()

    def kl(self, entries):
        if entries == "train":
            return metrics.weighted_kl(self.data.X, self.R, self.data.train)
        return super().kl(entries)

    def frobenius(self, entries):
        if entries == "train":
            return metrics.weighted_frobenius(self.data.X, self.R, self.data.train)
        return super().frobenius(entries)

    def relative_error(self, entries):
        if entries == "train":
            return metrics.relative_error(self.data.X, self.R, self.data.train)
        if entries == "heldout":
            return metrics.relative_error(self.data.X, self.R, self._held())
        T = self.data.dataset.truth
        return float(np.linalg.norm(self.R - T) / max(np.linalg.norm(T), np.finfo(float).tiny))


class _BlockFit(Fit):
    """The same quantities from ``A`` and ``B`` without an ``n x m`` array: one pass over blocks of
    rows sums what the training entries and the truth need; held-out entries are gathered."""

    def __init__(self, data: JobData, result: FactorizationResult):
        from scipy.special import kl_div

        super().__init__(data)
        self.result = result  # its reconstruct_rows/_entries (clipped when the result says so)
        X, T = data.X, data.dataset.truth
        n, m = X.shape
        self.kl_train = self.sq_err = self.sq_x = self.sum_x = self.sq_dt = self.sq_t = 0.0
        self.any_fit = False
        for rows in row_blocks(n, m):
            R = result.reconstruct_rows(rows)
            if T is not None:
                D = R - T[rows]
                self.sq_dt += float(np.vdot(D, D))
                self.sq_t += float(np.vdot(T[rows], T[rows]))
            keep = slice(None) if data.train is None else data.train[rows]
            x, r = X[rows][keep].ravel(), R[keep].ravel()
            if not (x.size == 0 or (x.min() >= 0 and np.isfinite(x.max()))):
                metrics.observed_values(X[rows], R, None if data.train is None else data.train[rows])  # raises
            self.kl_train += float(kl_div(x, r).sum())
            d = x - r
            self.sq_err += float(np.vdot(d, d))
            self.sq_x += float(np.vdot(x, x))
            self.sum_x += float(np.nansum(x))
            self.any_fit = self.any_fit or bool(np.any(r))

    def pairs(self, entries):
        X = self.data.X
        m = X.shape[1]
        if entries == "heldout":
            i, j = np.divmod(np.sort(self.data.heldout), m)
            return X[i, j], self.result.reconstruct_entries(i, j)
        keep = None if entries == "truth" else self.data.train
        source = self.data.dataset.truth if entries == "truth" else X
        xs, rs = [], []
        for rows in row_blocks(*X.shape):
            R = self.result.reconstruct_rows(rows)
            sel = slice(None) if keep is None else keep[rows]
            xs.append(source[rows][sel].ravel())
            rs.append(R[sel].ravel())
        return np.concatenate(xs), np.concatenate(rs)

    def kl(self, entries):
        return self.kl_train if entries == "train" else super().kl(entries)

    def frobenius(self, entries):
        return float(np.sqrt(self.sq_err)) if entries == "train" else super().frobenius(entries)

    def relative_error(self, entries):
        if entries == "train":
            fro, norm_x = float(np.sqrt(self.sq_err)), float(np.sqrt(self.sq_x))
            return (0.0 if fro == 0 else float("inf")) if norm_x == 0 else fro / norm_x
        if entries == "truth":
            return float(np.sqrt(self.sq_dt) / max(np.sqrt(self.sq_t), np.finfo(float).tiny))
        return super().relative_error(entries)


@dataclass(frozen=True)
class Metric:
    """A metric: its declaration (:mod:`nmfexp.record.schema`) and ``compute(fit, entries)`` -> float."""

    name: str
    compute: Callable[[Fit, str], float]

    @property
    def field(self) -> schema.Field:
        """The metric's declaration: type, unit, documentation, ``entries``, ``loss``."""
        return schema.field_of(f"metrics/{self.name}")


#: Every metric a record holds (exactly those declared in :mod:`nmfexp.record.schema`, stored in the order
#: of their declarations); each computed on the entries its declaration names.
METRICS: tuple[Metric, ...] = (
    Metric("weighted_kl", lambda fit, entries: fit.kl(entries)),
    Metric("weighted_frobenius", lambda fit, entries: fit.frobenius(entries)),
    Metric("relative_error", lambda fit, entries: fit.relative_error(entries)),
    Metric("heldout_relative_error", lambda fit, entries: fit.relative_error(entries)),
    Metric("truth_relative_error", lambda fit, entries: fit.relative_error(entries)),
)


def _value(metric: Metric, fit: Fit) -> float:
    entries = metric.field.entries
    if entries not in ENTRIES:
        raise schema.SchemaError(f"metric {metric.name} is declared on entries {entries!r}; choose one of "
                                 f"{', '.join(ENTRIES)}.")
    return float(metric.compute(fit, entries)) if fit.applies(entries) else float("nan")


def evaluate(data: JobData, result: FactorizationResult, spec: SolverSpec) -> dict[str, float]:
    """Every metric of :data:`METRICS` for ``result``; raise :class:`MetricError` for a broken one."""
    by_name = {m.name: m for m in METRICS}
    if sorted(by_name) != sorted(schema.METRICS) or len(by_name) != len(METRICS):
        raise schema.SchemaError(f"the metrics computed ({', '.join(m.name for m in METRICS)}) are not the metrics "
                                 f"declared in nmfexp.record.schema ({', '.join(schema.METRICS)}).")
    if data.X.size > DENSE_MAX_ENTRIES:
        A, B = np.asarray(result.A, dtype=float), np.asarray(result.B, dtype=float)
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
            fit, zero_fit = None, False
        else:
            fit = _BlockFit(data, result)
            zero_fit = fit.sum_x > 0 and not fit.any_fit
    else:
        R = result.reconstruct()
        fit = _DenseFit(data, R)
        x_train = data.X if data.train is None else data.X[data.train]
        zero_fit = np.nansum(x_train) > 0 and not np.any(R if data.train is None else R[data.train])
    if zero_fit:
        raise MetricError(f"{spec.name} returned a reconstruction that is zero on every training entry of "
                          "data with positive entries; its metrics would be meaningless.")
    out = {}
    for metric in (by_name[name] for name in schema.METRICS):  # in the order of their declarations
        value = float("nan") if fit is None else _value(metric, fit)
        if (fit is None or fit.applies(metric.field.entries)) and not np.isfinite(value):
            # the exception: a solver that declares another loss may leave R = 0 where X > 0 (its KL is
            # then truly infinite); a solver that minimises KL, or does not say what it minimises, may not
            kl_of_other_loss = metric.field.loss == "kl" and spec.loss not in ("", None, "kl") and value == np.inf
            if not kl_of_other_loss:
                raise MetricError(_not_finite(metric, value, spec))
        out[metric.name] = value
    return schema.attrs("metrics", out)


def _not_finite(metric: Metric, value: float, spec: SolverSpec) -> str:
    if metric.field.loss == "kl" and value == np.inf:
        why = ("its reconstruction is zero at a training entry whose value is positive (e.g. R = 0 on an observed "
               "column), where the KL divergence is infinite")
        if not spec.loss:
            why += ("; a solver that does not minimise KL may do so: declare its loss (e.g. "
                    "solver_spec(func, loss='frobenius') or register(..., loss='frobenius'))")
        return f"{metric.name} is inf for {spec.name}'s result: {why}."
    return (f"{metric.name} is {value} for {spec.name}'s result; the solver broke down "
            "(overflow, underflow, a non-finite factor, or a reconstruction that is zero or infinite where "
            "the data are not).")


def _loss_relative(x: np.ndarray, r: np.ndarray) -> float:
    from ..solvers.losses import relative_error

    return relative_error(x, r)


#: The polish behind an A1GM job's certificate: stationarity tolerance and caps (off the clock).
CERTIFY = {"tol": 1e-7, "max_iter": 20000, "max_time": 60.0}


def a1gm_certificate(data: JobData, result: FactorizationResult, spec: SolverSpec) -> dict:
    """``{"a1gm_gap", "a1gm_certified"}`` for an A1GM job (:func:`nmfexp.certify_a1gm` on its training
    entries, with :data:`CERTIFY`); ``{}`` for other solvers. Run after the timing, off the clock.

    A certificate that cannot be computed does not fail the job: the gap is
    NaN, ``a1gm_certified`` False, and a warning (kept in the record) says why.
    """
    if spec.name != "a1gm":
        return {}
    import warnings

    from ..solvers.polish import certify_a1gm

    try:
        cert = certify_a1gm(data.X, data.train, result, **CERTIFY)
    except (ValueError, ArithmeticError) as exc:
        warnings.warn(f"A1GM's certificate was not computed: {exc}", RuntimeWarning, stacklevel=2)
        return {"a1gm_gap": float("nan"), "a1gm_certified": False}
    return {"a1gm_gap": cert.gap, "a1gm_certified": cert.certified}
