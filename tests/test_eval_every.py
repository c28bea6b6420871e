"""eval_every: the objective after every k-th iteration and the last; the Gram-form objectives."""

from types import SimpleNamespace

import numpy as np
import pytest

import nmfexp
from nmfexp.solvers import SOLVERS, _driver
from nmfexp.solvers._driver import iterate
from nmfexp.solvers.losses import GRAM_SAFE, gram_frobenius

# a1gm_polish (A1GM's start, no init) refuses what A1GM refuses; tests/test_polish.py covers it.
ITERATIVE = sorted(name for name, spec in SOLVERS.items() if spec.iterative and "init" in spec.parameters)


class Toy:
    def __init__(self, values, monkeypatch):
        self.values, self.k, self.now, self.evaluated = list(values), 0, 0.0, []
        monkeypatch.setattr(_driver, "time", SimpleNamespace(perf_counter=lambda: self.now))

    def update(self):
        self.k += 1
        self.now += 1.0

    def objective(self):
        self.evaluated.append(self.k)
        return self.values[self.k]


def test_objective_only_every_kth_and_at_the_end(monkeypatch):
    toy = Toy(np.linspace(100, 50, 12), monkeypatch)
    run = iterate(toy.update, toy.objective, max_iter=11, tol=0.0, eval_every=4)
    assert toy.evaluated == [0, 4, 8, 11] and run.n_iter == 11 and not run.converged
    assert run.history.iteration == [0, 4, 8, 11]
    assert run.history.time == [0.0, 4.0, 8.0, 11.0]
    assert run.history.objective == [toy.values[k] for k in (0, 4, 8, 11)]
    h = run.history.as_dict()
    assert list(h["iteration"]) == [0, 4, 8, 11]


def test_rule_compares_successive_evaluations(monkeypatch):
    # Per-iteration decreases of 1% of the start: over 3 iterations 3%.
    values = 100 - np.arange(40.0)
    toy = Toy(values, monkeypatch)
    run = iterate(toy.update, toy.objective, max_iter=39, tol=0.02, eval_every=3)
    assert run.n_iter == 39 and not run.converged  # 3% >= 2% at every evaluation
    toy = Toy(values, monkeypatch)
    run = iterate(toy.update, toy.objective, max_iter=39, tol=0.05, eval_every=3)
    assert run.converged and run.n_iter == 3 and toy.evaluated == [0, 3]


def test_max_time_evaluates_the_last_iteration(monkeypatch):
    toy = Toy(np.linspace(100, 1, 60), monkeypatch)
    run = iterate(toy.update, toy.objective, max_iter=59, tol=0.0, max_time=6.5, eval_every=5)
    assert run.n_iter == 7 and toy.evaluated == [0, 5, 7] and run.history.iteration[-1] == 7


@pytest.mark.parametrize("name", ITERATIVE)
def test_solvers_take_eval_every_and_keep_their_iterates(name):
    rng = np.random.default_rng(0)
    X = rng.random((40, 30))
    obs = rng.random(X.shape) > 0.2
    kw = {"rank": 3, "max_iter": 12, "tol": 0.0, "random_state": 4}
    every = nmfexp.factorize(X, obs, solver=name, **kw)
    sparse = nmfexp.factorize(X, obs, solver=name, eval_every=5, **kw)
    assert np.array_equal(every.A, sparse.A) and np.array_equal(every.B, sparse.B)
    assert list(sparse.history["iteration"]) == [0, 5, 10, 12]
    np.testing.assert_array_equal(sparse.history["objective"], every.history["objective"][[0, 5, 10, 12]])
    assert list(every.history["iteration"]) == list(range(13))
    with pytest.raises(ValueError, match="eval_every"):
        nmfexp.factorize(X, obs, solver=name, eval_every=0, **kw)


def test_gram_form_refuses_where_it_would_cancel():
    rng = np.random.default_rng(1)
    A, B = rng.random((50, 3)), rng.random((3, 40))
    X = A @ B + 1e-3 * rng.random((50, 40))
    exact = np.linalg.norm(X - A @ B)
    xx, cross, quad = np.vdot(X, X), np.vdot(A, X @ B.T), np.vdot(A.T @ A, B @ B.T)
    assert gram_frobenius(xx, cross, quad) is None  # the loss is ~1e-3 of ||X||: cancellation
    far = A @ B + rng.random((50, 40))
    value = gram_frobenius(np.vdot(far, far), np.vdot(A, far @ B.T), quad)
    assert exact ** 2 < GRAM_SAFE * xx and value == pytest.approx(np.linalg.norm(far - A @ B), rel=1e-12)


@pytest.mark.parametrize("name", ["wnmf_fro", "hals"])
def test_fully_observed_history_is_the_loss_in_both_forms(name):
    rng = np.random.default_rng(2)
    X = rng.random((60, 45))  # the fit stays far from exact: the Gram form is used
    res = nmfexp.factorize(X, solver=name, rank=3, max_iter=15, tol=0.0, random_state=0)
    direct = [np.linalg.norm(X - res.A @ res.B)]
    assert res.history["objective"][-1] == pytest.approx(direct[0], rel=1e-12)
    Y = rng.random((60, 3)) @ rng.random((3, 45))  # exact rank 3: close fits fall back to the direct form
    res = nmfexp.factorize(Y, solver=name, rank=3, max_iter=200, tol=0.0, random_state=0, init="nndsvda")
    assert res.history["objective"][-1] == pytest.approx(np.linalg.norm(Y - res.A @ res.B), rel=1e-9, abs=1e-13)
