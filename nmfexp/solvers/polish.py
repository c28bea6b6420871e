"""A1GM polished by WNMF-KL, and the certificate of how far A1GM is from the KL optimum.

A1GM (:mod:`.a1gm`) is exact when its step 1 adds no entry (the missing set
is grid-like: a product of rows and columns); otherwise it solves a nearby
problem (the missing set completed to a grid) and its answer is only an
approximation of the rank-1 KL optimum under the original mask.

- ``a1gm_polish`` starts from A1GM's factors (``init="a1gm"`` of
  :mod:`._init`; at rank > 1 the further components start small) and runs
  WNMF-KL's multiplicative updates (:func:`.mu.wnmf_kl`, the same parameters
  but ``init``); its history starts at A1GM's objective, so the polish never
  ends above A1GM (the updates are monotone). It refuses the inputs A1GM
  refuses. When A1GM is exact (step 1 added nothing) and ``rank`` is 1 the
  start is already the optimum: the result is A1GM's, with ``n_iter = 0``,
  a one-value history (stationarity 0) and ``stop_reason = "closed_form"``,
  without an iteration that could only move it by round-off.
- :func:`certify_a1gm` measures A1GM's gap ``(f_A1GM - f*) / f*`` with
  ``f*`` the smaller of A1GM's KL and that of a tight polish (rank 1,
  ``stop_on="stationarity"``, small ``tol``, a generous cap), both evaluated
  by the same function (:func:`~.losses.kl_divergence` on the observed
  entries), and whether the certificate is tight: the polish reached its
  stationarity tolerance (or A1GM is exact). An untight certificate's gap is
  a lower bound of the true gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_number, masked_data, wide_range_exponent
from ._base import SOLVERS, FactorizationResult, register
from ._params import iterative_params
from .a1gm import a1gm
from .losses import kl_divergence
from .mu import wnmf_kl

__all__ = ["A1GMCertificate", "a1gm_polish", "certify_a1gm"]

_PARAMS = tuple(p for p in iterative_params(
    tol_doc="With ``stop_on='decrease'``, stop when ``(previous KL - KL) / initial KL < tol``; with "
            "'stationarity', when the stationarity measure (:mod:`._driver`) is at most ``tol``.")
    if p.name != "init")


@register(
    "a1gm_polish",
    loss="kl",
    params=_PARAMS,
    sparse=True,
    summary="A1GM's rank-1 start, then WNMF-KL updates to the tolerance; never above A1GM's KL.",
    reference=("ghalamkari2022fast", "lee2001algorithms"),
)
def a1gm_polish(X, mask, *, rank, random_state, max_iter, tol, max_time, eval_every, stop_on):
    """A1GM followed by weighted KL multiplicative updates.

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is the weighted KL divergence, A1GM's first;
        ``info["a1gm_exact"]`` says whether A1GM's step 1 added nothing (then
        the rank-1 result is A1GM's own).
    """
    check_number(rank, "rank", kind="integer", low=1)  # (its upper bound is checked with the data, below)
    start = a1gm(X, mask)  # refuses what A1GM refuses (no complete row or column, ...)
    exact = start.info.get("n_missing_added") == 0
    if exact and rank == 1:
        f = _kl(X, mask, start)
        return FactorizationResult(
            A=start.A, B=start.B, n_iter=0, solver="a1gm_polish", converged=True, stop_reason="closed_form",
            history={"objective": np.array([f]), "time": np.zeros(1), "iteration": np.zeros(1, dtype=int),
                     "stationarity": np.zeros(1)},
            info={"n_missing": start.info.get("n_missing"), "n_missing_added": 0, "a1gm_exact": True})
    res = wnmf_kl(X, mask, rank=rank, random_state=random_state, max_iter=max_iter, tol=tol,
                  init="a1gm", max_time=max_time, eval_every=eval_every, stop_on=stop_on)
    res.solver = "a1gm_polish"
    res.info.update(n_missing_added=start.info.get("n_missing_added"), a1gm_exact=bool(exact))
    return res


def _balanced(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A c, B / c)`` with ``c`` a power of two that brings both largest entries within a factor 2 (``A B`` kept).

    The stationarity measure treats factor entries at most 1e-100 (on data of
    unit scale) as at the bound 0; a start with one tiny and one huge factor
    would put every entry of the tiny one there.
    """
    na, nb = float(np.max(np.abs(A), initial=0.0)), float(np.max(np.abs(B), initial=0.0))  # no over/underflow
    if not (na > 0 and nb > 0 and np.isfinite(na) and np.isfinite(nb)):
        return A, B
    e = int(round(0.5 * (np.log2(nb) - np.log2(na))))
    return np.ldexp(A, e), np.ldexp(B, -e)


def _kl(X, mask, result: FactorizationResult) -> float:
    """The weighted KL divergence of ``result`` on the observed entries of ``X`` (one evaluation for all).

    :func:`~.losses.kl_divergence` on the observed values, divided by a power
    of two first when they are near the ends of float64 (the KL is
    homogeneous of degree 1), as :func:`nmfexp.metrics.weighted_kl` does.
    """
    data = masked_data(X, mask)
    R = result.reconstruct()
    x, r = (data.WX.ravel(), R.ravel()) if data.observed is None else (data.WX[data.observed], R[data.observed])
    k = wide_range_exponent(float(max(x.max(initial=0.0), r.max(initial=0.0))))
    if not k:
        return kl_divergence(x, r)
    with np.errstate(over="ignore"):
        return float(np.ldexp(kl_divergence(np.ldexp(x, -k), np.ldexp(r, -k)), k))


@dataclass(frozen=True)
class A1GMCertificate:
    """How far an A1GM result is from the rank-1 KL optimum under the original mask.

    Attributes
    ----------
    gap : float
        ``(f_a1gm - f_best) / f_best`` (0 when both are 0; inf when only
        ``f_best`` is): 0 when A1GM is optimal.
    certified : bool
        The gap is tight: A1GM is exact (``share_added == 0``) or the
        polish reached its stationarity tolerance. Otherwise ``gap`` is a
        lower bound.
    f_a1gm, f_best : float
        A1GM's weighted KL and the best known (the smaller of A1GM's and the
        polish's), both by :func:`~.losses.kl_divergence` on the observed entries.
    share_added : float
        Entries A1GM's step 1 added to the missing set, as a share of all
        entries.
    n_iter : int
        Iterations of the polish (0 when A1GM is exact).
    stop_reason : str
        How the polish stopped (``"closed_form"`` when A1GM is exact).
    """

    gap: float
    certified: bool
    f_a1gm: float
    f_best: float
    share_added: float
    n_iter: int
    stop_reason: str


def certify_a1gm(X, mask=None, result: FactorizationResult | None = None, *, tol: float = 1e-7,
                 max_iter: int = 20000, max_time: float | None = None) -> A1GMCertificate:
    """Certify an A1GM result: its gap to the rank-1 KL optimum under ``mask`` and whether that is tight.

    Parameters
    ----------
    X, mask
        The data and mask A1GM was given (as :func:`nmfexp.factorize` reads them).
    result : FactorizationResult, optional
        A1GM's result on them; computed when None.
    tol : float, default 1e-7
        Stationarity tolerance of the polish (``stop_on="stationarity"``).
    max_iter : int, default 20000
        The polish's cap on iterations.
    max_time : float, optional
        The polish's cap on update time, in seconds.

    Returns
    -------
    A1GMCertificate

    Raises
    ------
    nmfexp.SolverRefused
        A1GM does not apply to the input.
    ValueError
        ``result`` is not a rank-1 result for data of this shape.
    """
    if result is None:
        result = SOLVERS["a1gm"].func(X, mask)
    data = masked_data(X, mask)
    n, m = data.shape
    if np.shape(result.A) != (n, 1) or np.shape(result.B) != (1, m):
        raise ValueError(f"result must be a rank-1 factorization of the {n} x {m} data (A1GM's), got factors of "
                         f"shapes {np.shape(result.A)} and {np.shape(result.B)}.")
    added = result.info.get("n_missing_added")
    if added is None:
        added = a1gm(X, mask).info["n_missing_added"]
    f_a1gm = _kl(X, mask, result)
    share = added / (n * m)
    if added == 0:
        return A1GMCertificate(0.0, True, f_a1gm, f_a1gm, share, 0, "closed_form")
    polish = wnmf_kl(X, mask, rank=1, random_state=0, max_iter=max_iter, tol=tol, max_time=max_time,
                     init=_balanced(np.asarray(result.A, float), np.asarray(result.B, float)),
                     stop_on="stationarity")
    f_best = min(f_a1gm, _kl(X, mask, polish))
    if f_best > 0:
        gap = (f_a1gm - f_best) / f_best
    else:
        gap = 0.0 if f_a1gm == 0 else float("inf")
    return A1GMCertificate(float(gap), bool(polish.converged), f_a1gm, f_best, share, polish.n_iter,
                           polish.stop_reason)
