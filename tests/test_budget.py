"""Budgets (conf/budget/): what each one does to every solver's parameters, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from nmfexp.cli.plugins import register
from nmfexp.experiment import ConfigError, Job
from nmfexp.experiment.config import config_dir
from nmfexp.experiment.job import apply_budget, job_config
from nmfexp.solvers import SOLVERS


def stationary_solver(X, mask, rank, *, random_state=None, max_iter=100, tol=1e-4, max_time=None,
                      stop_on="decrease"):
    """A user's iterative solver that knows ``stop_on`` (the parameters budget=converged sets)."""
    return np.ones((X.shape[0], rank)), np.ones((rank, X.shape[1]))


BASE = {"dataset": {"kind": "uniform", "n_rows": 10}, "mask": {"kind": "grid", "rate": 0.05}}


def job(solver: dict, budget: dict | None = None) -> Job:
    cfg = dict(BASE, solver=solver)
    if budget is not None:
        cfg["budget"] = budget
    return Job.from_config(cfg, "unused")


@pytest.fixture(scope="module")
def hydra_ctx():
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        yield


def test_the_default_budget_changes_neither_parameters_nor_keys():
    without = Job.from_config(dict(BASE, solver={"name": "hals"}), "unused")
    explicit = job({"name": "hals"}, {"kind": "iterations"})
    assert explicit.key == without.key
    assert explicit.config["solver"]["params"] == SOLVERS["hals"].defaults()


def test_a_time_budget_reaches_every_iterative_solver_and_no_closed_form():
    for name, spec in SOLVERS.items():
        j = job({"name": name}, {"kind": "time", "seconds": 2.0, "tol": 0.0, "max_iter": 10**7})
        params = j.config["solver"]["params"]
        if spec.iterative:
            assert (params["max_time"], params["tol"], params["max_iter"]) == (2.0, 0.0, 10**7), name
        else:
            assert params == spec.defaults(), name
    # the budget is part of the job: another budget, another record
    assert job({"name": "hals"}, {"kind": "time", "seconds": 2.0}).key != job({"name": "hals"}, {"kind": "time",
                                                                                                  "seconds": 1.0}).key


def test_the_budget_overrides_the_solvers_own_parameters():
    j = job({"name": "als", "params": {"max_iter": 5, "tol": 1e-3}}, {"kind": "time", "seconds": 1.0, "tol": 0.0})
    assert j.config["solver"]["params"]["tol"] == 0.0 and j.config["solver"]["params"]["max_time"] == 1.0
    assert j.config["solver"]["params"]["max_iter"] == 5  # not set by this budget: the solver's value stays


def test_converged_sets_the_stationarity_rule_and_the_caps():
    solver = {"_target_": f"{__name__}.stationary_solver", "name": "stat"}
    budget = {"kind": "converged", "stop_on": "stationarity", "tol": 1e-4, "max_iter": 20000, "max_time": 60.0}
    params = job(solver, budget).config["solver"]["params"]
    assert (params["stop_on"], params["tol"], params["max_iter"], params["max_time"]) == (
        "stationarity", 1e-4, 20000, 60.0)


def plain_solver(X, mask, rank, *, random_state=None, max_iter=100, tol=1e-4, max_time=None):
    """A user's iterative solver without ``stop_on``."""
    return np.ones((X.shape[0], rank)), np.ones((rank, X.shape[1]))


def closed_form(X, mask, rank, *, random_state=None):
    """A user's function with no stopping parameter: nothing to budget."""
    return np.ones((X.shape[0], rank)), np.ones((rank, X.shape[1]))


def test_a_users_closed_form_takes_any_budget_unchanged():
    j = job({"_target_": f"{__name__}.closed_form", "name": "cf"}, {"kind": "time", "seconds": 1.0})
    assert j.config["solver"]["params"] == {}


def test_converged_is_refused_for_a_solver_that_cannot_stop_on_stationarity():
    budget = {"kind": "converged", "stop_on": "stationarity", "tol": 1e-4, "max_iter": 10}
    with pytest.raises(ConfigError, match=r"budget=converged sets stop_on, but solver 'plain' has no such"):
        job({"_target_": f"{__name__}.plain_solver", "name": "plain"}, budget)
    # the same check through the hook itself, on a built-in description
    conf = job_config(dict(BASE, solver={"name": "hals"}, budget=budget))
    if "stop_on" not in {p.name for p in SOLVERS["hals"].params}:
        with pytest.raises(ConfigError, match="'hals' has no such parameter"):
            apply_budget(conf, SOLVERS["hals"])
    else:
        assert apply_budget(conf, SOLVERS["hals"])["stop_on"] == "stationarity"


@pytest.mark.parametrize("budget, match", [
    ({"kind": "fast"}, r"budget must be one of iterations, time, converged"),
    ({"kind": "time", "seconds": -1.0}, r"budget.seconds must be .*> 0"),
    ({"kind": "time", "seconds": float("nan")}, r"budget.seconds"),
    ({"kind": "time"}, r"budget=time needs budget.seconds"),
    ({"kind": "time", "seconds": 1.0, "max_time": 3.0}, r"leave budget.max_time unset"),
    ({"kind": "time", "seconds": 1.0, "max_iter": 0}, r"budget.max_iter"),
    ({"kind": "iterations", "tol": 0.0}, r"budget=iterations .* budget.tol is set"),
    ({"kind": "converged", "tol": 1e-4, "max_iter": 10}, r"needs budget.stop_on and budget.tol"),
    ({"kind": "converged", "tol": 1e-4, "stop_on": "stationarity"}, r"needs a safety cap"),
])
def test_bad_budgets_are_a_clear_error_at_planning(budget, match):
    with pytest.raises(ConfigError, match=match):
        job({"name": "hals"}, budget)


@pytest.mark.parametrize("option", ["iterations", "time", "converged"])
def test_every_budget_option_composes_and_plans(hydra_ctx, option):
    cfg = compose("config", overrides=["solver=a1gm", f"budget={option}"])
    assert cfg.budget.kind == option
    Job.from_config(cfg, "unused")  # a closed form takes every budget unchanged


def test_budget_overrides_from_the_command_line(hydra_ctx):
    cfg = compose("config", overrides=["solver=hals", "budget=time", "budget.seconds=2"])
    assert Job.from_config(cfg, "unused").config["solver"]["params"]["max_time"] == 2.0
    with pytest.raises(ConfigError, match="budget.seconds"):
        Job.from_config(compose("config", overrides=["solver=hals", "budget=time", "budget.seconds=-1"]), "unused")
    with pytest.raises(Exception, match="budget"):
        compose("config", overrides=["budget=fastest"])


@pytest.mark.parametrize("preset, kind", [("solver_comparison", "converged"), ("solver_comparison_quick", "converged"),
                                          ("real_data_corpus_zoo", "time"), ("real_data_corpus_zoo_quick", "time")])
def test_comparison_presets_state_their_budget_and_list_the_baselines(hydra_ctx, preset, kind):
    cfg = compose("config", overrides=[f"+experiment={preset}"], return_hydra_config=True)
    assert cfg.budget.kind == kind
    solvers = str(cfg.hydra.sweeper.params["solver"]).split(",")
    assert {"column_mean", "row_col_mean", "soft_impute"} <= set(solvers)
