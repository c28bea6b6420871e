"""The shared iteration driver on a toy update: stopping rules, timing off the clock, bookkeeping."""

from types import SimpleNamespace

import numpy as np
import pytest

from nmfexp.solvers import _driver
from nmfexp.solvers._driver import iterate


class Toy:
    """An "algorithm" whose k-th iterate has the objective ``values[k]``, on a fake clock:
    an update takes 1 second, an objective evaluation 100 seconds."""

    def __init__(self, values, monkeypatch):
        self.values, self.k, self.now = list(values), 0, 0.0
        monkeypatch.setattr(_driver, "time", SimpleNamespace(perf_counter=lambda: self.now))

    def update(self):
        self.k += 1
        self.now += 1.0

    def objective(self):
        self.now += 100.0
        return self.values[self.k]

    def run(self, **kw):
        kw.setdefault("max_iter", len(self.values) - 1)
        kw.setdefault("tol", 0.0)
        return iterate(self.update, self.objective, **kw)


def test_one_sided_rule_stops_at_the_first_small_decrease(monkeypatch):
    # Decreases relative to the initial 100: 0.5, 0.2, 0.05, 0.001, ...
    run = Toy([100, 50, 30, 25, 24.9, 24.8], monkeypatch).run(tol=0.01)
    assert run.converged and run.n_iter == 4
    assert run.history.objective == [100, 50, 30, 25, 24.9]
    assert run.history.time == [0.0, 1.0, 2.0, 3.0, 4.0]  # update time only, evaluations off the clock


def test_an_increase_counts_as_converged_only_for_the_one_sided_rule(monkeypatch):
    values = [10, 5, 6, 4, 3.99]
    one = Toy(values, monkeypatch).run(tol=0.01)
    assert one.converged and one.n_iter == 2  # (5 - 6) / 10 < 0.01
    two = Toy(values, monkeypatch).run(tol=0.01, two_sided=True)
    assert two.converged and two.n_iter == 4  # |5 - 6| / 10 = 0.1 is not small; |4 - 3.99| / 10 is


def test_with_tol_0_no_increase_or_plateau_counts_as_converged(monkeypatch):
    # The equal-time budget (tol 0): a rise at rounding level or a flat step must not end the run as "tol".
    values = [10, 5, 5 + 1e-15, 5, 4, 4, 3]
    run = Toy(values, monkeypatch).run(tol=0.0)
    assert not run.converged and run.reason == "max_iter" and run.n_iter == len(values) - 1
    assert run.history.objective == values
    timed = Toy(values, monkeypatch).run(tol=0.0, max_time=3.0)
    assert not timed.converged and timed.reason == "max_time" and timed.n_iter == 3


def test_max_iter_ends_a_run_without_convergence(monkeypatch):
    run = Toy([5, 4, 3, 2, 1], monkeypatch).run(max_iter=3, tol=1e-6)
    assert not run.converged and run.n_iter == 3
    assert len(run.history.objective) == len(run.history.time) == 4


def test_exact_start_is_converged_after_one_iteration(monkeypatch):
    run = Toy([0.0, 0.0, 0.0], monkeypatch).run(tol=0.0)
    assert run.converged and run.n_iter == 1


def test_max_time_counts_update_time_only(monkeypatch):
    run = Toy(np.linspace(100, 1, 50), monkeypatch).run(max_time=2.5)
    # 3 updates = 3 s >= 2.5 s; the 400 s of objective evaluations do not count.
    assert not run.converged and run.n_iter == 3
    assert run.history.time == [0.0, 1.0, 2.0, 3.0]
    assert Toy(np.linspace(100, 1, 50), monkeypatch).run(max_time=None).n_iter == 49


def test_goal_stops_with_convergence_before_the_other_rules(monkeypatch):
    values = [10, 8, 6, 4, 2, 1]
    run = Toy(values, monkeypatch).run(goal=4.0)
    assert run.converged and run.n_iter == 3 and run.history.objective[-1] == 4
    # Checked before max_time: a goal met by the iteration that exhausts the budget still converges.
    assert Toy(values, monkeypatch).run(goal=4.0, max_time=3.0).converged
    assert not Toy(values, monkeypatch).run(goal=3.0, max_time=3.0).converged
    # An infinite goal ends the run after one iteration; None never fires.
    assert Toy(values, monkeypatch).run(goal=np.inf).n_iter == 1
    assert Toy(values, monkeypatch).run(goal=None).n_iter == 5


@pytest.mark.parametrize("max_iter", [1, 2])
def test_objective_is_evaluated_once_before_and_once_per_iteration(monkeypatch, max_iter):
    toy = Toy([3, 2, 1], monkeypatch)
    calls = []
    run = iterate(toy.update, lambda: calls.append(toy.k) or toy.objective(), max_iter=max_iter, tol=0.0)
    assert calls == list(range(max_iter + 1)) and run.n_iter == max_iter
