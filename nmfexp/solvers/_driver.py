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
     already exact and counts as converged.
  3. ``max_time``: the updates have used that many seconds or more; stop,
     not converged (the objective is then evaluated once more if this
     iteration was not an evaluated one).
  4. ``max_iter`` iterations done; not converged (likewise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["History", "Run", "iterate"]


class History:
    """Objective values, the iterations they were evaluated at and the update time spent up to each."""

    def __init__(self, initial_objective: float):
        self.objective = [float(initial_objective)]
        self.time = [0.0]
        self.iteration = [0]
        self.elapsed = 0.0

    def timed(self, update: Callable[[], None]) -> None:
        """Call ``update()`` and add its wall time (``time.perf_counter``) to the clock."""
        t0 = time.perf_counter()
        update()
        self.elapsed += time.perf_counter() - t0

    def record(self, objective: float, iteration: int) -> None:
        self.objective.append(float(objective))
        self.time.append(self.elapsed)
        self.iteration.append(int(iteration))

    def as_dict(self) -> dict:
        return {"objective": np.asarray(self.objective), "time": np.asarray(self.time),
                "iteration": np.asarray(self.iteration)}


class Run(NamedTuple):
    """What :func:`iterate` returns."""

    history: History
    n_iter: int
    converged: bool


def paper_rule(objective: list[float], tol: float, two_sided: bool = False) -> bool:
    """``(previous - current) / initial < tol`` (``|...|`` when ``two_sided``); True if the start was exact."""
    if objective[0] == 0:
        return True
    change = objective[-2] - objective[-1]
    if two_sided:
        change = abs(change)
    return change / objective[0] < tol


def iterate(update: Callable[[], None], objective: Callable[[], float], *, max_iter: int, tol: float,
            max_time: float | None = None, two_sided: bool = False, goal: float | None = None,
            eval_every: int = 1) -> Run:
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

    Returns
    -------
    Run
        ``history``, ``n_iter`` (iterations done) and ``converged`` (a rule
        other than ``max_iter`` or ``max_time`` fired).
    """
    history = History(objective())
    it = 0
    for it in range(1, max_iter + 1):
        history.timed(update)
        if it % eval_every == 0:
            history.record(objective(), it)
            if goal is not None and history.objective[-1] <= goal:
                return Run(history, it, True)
            if paper_rule(history.objective, tol, two_sided):
                return Run(history, it, True)
        if max_time is not None and history.elapsed >= max_time:
            break
    if history.iteration[-1] != it:
        history.record(objective(), it)
    return Run(history, it, False)
