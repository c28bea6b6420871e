"""The iteration loop shared by every iterative solver.

A solver sets itself up, writes one iteration as a function ``update()`` (it
changes the factors in place or rebinds them) and its loss as
``objective()``, and hands both to :func:`iterate`, which owns the rest:

- the history: the objective at the start and after every evaluated
  iteration, the number of that iteration, and the seconds spent in
  ``update()`` only; ``objective()`` runs off the clock (the benchopt
  habit), so ``history["time"]`` measures the algorithm;
- how often the objective is evaluated: ``eval_every = k`` evaluates it
  after iterations k, 2k, 3k, ... and after the last iteration, whatever
  stopped the run (so ``history["objective"][-1]`` is always the final
  loss). The default 1 is the A1GM paper's rule: after every iteration.
  ``history["iteration"]`` holds the iteration number of each recorded
  value (0 for the start);
- the stopping rules, checked after every evaluated iteration in this order
  (``max_time`` and ``max_iter`` after every iteration):

  1. ``goal`` (optional): the objective is at most ``goal``; converged.
     GD-CLS uses it for its package's precision goal.
  2. the A1GM paper's rule, ``(previous - current) / initial < tol``;
     converged. "previous" is the previous *evaluated* value: with
     ``eval_every = k`` the rule compares the decrease over the last k
     iterations with ``tol``. Solvers whose loss may rise (GD-CLS, Kaczmarz) ask for the
     two-sided rule ``|previous - current| / initial < tol``, so that an
     increase does not count as convergence. An initial objective of 0 is
     already exact and counts as converged. With ``tol = 0`` (the equal-time
     budget) the rule never fires otherwise: a decrease below 0 is an
     increase or a rounding-level wobble, not convergence, so such a run
     goes on until ``max_time`` or ``max_iter`` and says so.
  3. ``max_time``: the updates have used that many seconds or more; stop,
     not converged (the objective is then evaluated once more if this
     iteration was not an evaluated one).
  4. ``max_iter`` iterations done; not converged (likewise).

  With ``stop_on="stationarity"`` rule 2 is replaced by: the relative
  stationarity (below) is at most ``tol``; converged.

  Every run says which rule ended it (:attr:`Run.reason`): ``"goal"``,
  ``"tol"`` (rule 2, either form), ``"max_time"`` or ``"max_iter"``.

The convergence measure (``history["stationarity"]``), the same for every
solver of a loss, evaluated with the objective and off the clock. With the
solver's masked loss f, its gradient G = (grad_A f, grad_B f) from
:meth:`~._ops.Ops.gradient` and Lin's projected gradient (Lin 2007,
"Projected gradient methods for nonnegative matrix factorization", Neural
Computation 19(10))

    P[G]_k = G_k            where the factor entry x_k > 0,
    P[G]_k = min(0, G_k)    where x_k = 0 (at the bound),

the stationarity after iteration t is the largest of ``||P[G]_v|| / ||D_v||``
over the columns ``v`` of A and the rows ``v`` of B, where ``D = (D_A, D_B)``
is the data's part of the gradient (:meth:`~._ops.Ops.gradient_parts`:
``G_A = (W*(A B)) B^T - D_A`` with ``D_A = (W*X) B^T`` for the Frobenius
loss, ``G_A = W B^T - D_A`` with ``D_A = ((W*X) / (A B)) B^T`` for KL, and
likewise for B): for every component, the imbalance left between the model's
and the data's pull on its factor, relative to the data's pull on it at the
same point. It is 0 exactly at a KKT point of min f(A, B) s.t. A, B >= 0,
does not depend on the data's units (both losses are homogeneous) nor on how
each component's scale is shared between A and B (``A D``, ``D^-1 B`` for a
positive diagonal ``D`` gives the same value), and depends on the current
factors only. Before version 0.3 the measure was ``||P[G(t)]|| / ||P[G(0)]||``,
relative to the start: one multiplicative update from a poor random start
brought it below 1e-4 while the objective was still 18 times the optimum,
and the run was called converged. For the Frobenius solvers
f is ``1/2 ||W * (X - A B)||_F^2`` (its gradient is simpler and its KKT
points are those of the reported ``||W * (X - A B)||_F``); for the KL
solvers f is the weighted generalised KL divergence, and P[G] is its KKT
residual of the same form. An entry counts as at the bound when it is at
most :data:`AT_BOUND` on the solver's rescaled data (the multiplicative
updates keep factors at a floor of 1e-150 instead of 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["AT_BOUND", "History", "Run", "STOP_ON", "iterate", "projected_gradient_norm", "stationarity"]

#: The values of a solver's ``stop_on`` parameter.
STOP_ON = ("decrease", "stationarity")

#: A factor entry at most this (on the rescaled data) is at the bound 0 for the projected gradient.
AT_BOUND = 1e-100


class History:
    """Objective values, the iterations they were evaluated at and the update time spent up to each."""

    def __init__(self, initial_objective: float, initial_stationarity: float | None = None):
        self.objective = [float(initial_objective)]
        self.time = [0.0]
        self.iteration = [0]
        self.elapsed = 0.0
        # The stationarity after each evaluated iteration (None: the solver has no measure).
        self.pg = None if initial_stationarity is None else [float(initial_stationarity)]

    def timed(self, update: Callable[[], None]) -> None:
        """Call ``update()`` and add its wall time (``time.perf_counter``) to the clock."""
        t0 = time.perf_counter()
        update()
        self.elapsed += time.perf_counter() - t0

    def record(self, objective: float, iteration: int, stationarity: float | None = None) -> None:
        self.objective.append(float(objective))
        self.time.append(self.elapsed)
        self.iteration.append(int(iteration))
        if self.pg is not None:
            self.pg.append(float(stationarity))

    @property
    def stationarity(self) -> float:
        """The latest stationarity (see the module docstring); NaN without a measure."""
        if self.pg is None:
            return float("nan")
        return self.pg[-1]

    def as_dict(self) -> dict:
        out = {"objective": np.asarray(self.objective), "time": np.asarray(self.time),
               "iteration": np.asarray(self.iteration)}
        if self.pg is not None:
            out["stationarity"] = np.asarray(self.pg)
        return out


def relative(value: float, scale: float) -> float:
    """``value / scale``; 0 when both are 0 (nothing pulls and nothing is unbalanced), inf when only ``scale`` is."""
    if scale == 0:
        return 0.0 if value == 0 else float("inf")
    return value / scale


def stationarity(GA: np.ndarray, GB: np.ndarray, DA: np.ndarray, DB: np.ndarray, A: np.ndarray, B: np.ndarray,
                 at_bound: float = AT_BOUND) -> float:
    """The convergence measure (module docstring) from :meth:`~._ops.Ops.gradient_parts` at ``(A, B)``:
    the largest ``||P[G]_v|| / ||D_v||`` over the columns ``v`` of ``A`` and the rows ``v`` of ``B``."""
    worst = 0.0
    for G, D, F, axis in ((GA, DA, A, 0), (GB, DB, B, 1)):
        P = _projected(G, F, at_bound)
        for p, d in zip(np.sqrt(np.sum(P * P, axis=axis)), np.sqrt(np.sum(D * D, axis=axis)), strict=True):
            worst = max(worst, relative(float(p), float(d)))
    return worst


def projected_gradient_norm(GA: np.ndarray, GB: np.ndarray, A: np.ndarray, B: np.ndarray,
                            at_bound: float = AT_BOUND) -> float:
    """``||P[G]||_F`` of Lin's projected gradient (module docstring) for the gradient ``(GA, GB)`` at ``(A, B)``.

    Entries of a factor at most ``at_bound`` count only where their gradient
    is negative (a descent direction that stays feasible).
    """
    total = 0.0
    for G, F in ((GA, A), (GB, B)):
        P = _projected(G, F, at_bound)
        total += float(np.vdot(P, P))
    return float(np.sqrt(total))


def _projected(G: np.ndarray, F: np.ndarray, at_bound: float) -> np.ndarray:
    """Lin's projection of the gradient ``G`` at the factor ``F`` (module docstring)."""
    return np.where(F > at_bound, G, np.minimum(G, 0.0))


class Run(NamedTuple):
    """What :func:`iterate` returns: ``reason`` is ``"goal"``, ``"tol"``, ``"max_time"`` or ``"max_iter"``."""

    history: History
    n_iter: int
    converged: bool
    reason: str = "max_iter"


def paper_rule(objective: list[float], tol: float, two_sided: bool = False) -> bool:
    """``(previous - current) / initial < tol`` (``|...|`` when ``two_sided``); True if the start was exact.

    With ``tol <= 0`` only an exact start counts: no change, however small
    or negative, is convergence then.
    """
    if objective[0] == 0:
        return True
    if tol <= 0:
        return False
    change = objective[-2] - objective[-1]
    if two_sided:
        change = abs(change)
    return change / objective[0] < tol


def iterate(update: Callable[[], None], objective: Callable[[], float], *, max_iter: int, tol: float,
            max_time: float | None = None, two_sided: bool = False, goal: float | None = None,
            eval_every: int = 1, stationarity: Callable[[], float] | None = None,
            stop_on: str = "decrease") -> Run:
    """Run ``update()`` until a stopping rule fires (see the module docstring).

    Parameters
    ----------
    update : callable
        One iteration of the algorithm; timed.
    objective : callable
        The solver's loss at the current factors; called once before the
        first iteration and once after each evaluated one, off the clock.
    max_iter : int
    tol : float
    max_time : float, optional
        Budget in seconds of update time; ``None`` means none.
    two_sided : bool
        Use ``|previous - current|`` in the paper's rule.
    goal : float, optional
        Stop, converged, once the objective is at most this.
    eval_every : int, default 1
        Evaluate the objective (and the rules that read it) after every
        ``eval_every``-th iteration and after the last one.
    stationarity : callable, optional
        The norm of the projected gradient at the current factors (module
        docstring); called with the objective, off the clock. Without it
        the history has no ``"stationarity"`` and ``stop_on`` must be
        ``"decrease"``.
    stop_on : {"decrease", "stationarity"}
        Rule 2: the paper's relative decrease (default) or the relative
        stationarity, each compared with ``tol``.

    Returns
    -------
    Run
        ``history``, ``n_iter`` (iterations done), ``converged`` (a rule
        other than ``max_iter`` or ``max_time`` fired) and ``reason`` (which
        rule ended the run).
    """
    if stop_on not in STOP_ON:
        raise ValueError(f"stop_on must be one of {', '.join(map(repr, STOP_ON))}, got {stop_on!r}.")
    if stop_on == "stationarity" and stationarity is None:
        raise ValueError('stop_on="stationarity" needs the solver\'s stationarity measure; this solver has none.')
    measure = stationarity or (lambda: None)
    history = History(objective(), measure())
    it = 0
    for it in range(1, max_iter + 1):
        history.timed(update)
        if it % eval_every == 0:
            history.record(objective(), it, measure())
            if goal is not None and history.objective[-1] <= goal:
                return Run(history, it, True, "goal")
            if stop_on == "stationarity":
                if history.stationarity <= tol:
                    return Run(history, it, True, "tol")
            elif paper_rule(history.objective, tol, two_sided):
                return Run(history, it, True, "tol")
        if max_time is not None and history.elapsed >= max_time:
            break
    reason = "max_time" if max_time is not None and history.elapsed >= max_time else "max_iter"
    if history.iteration[-1] != it:
        history.record(objective(), it, measure())
    return Run(history, it, False, reason)
