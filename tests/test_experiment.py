"""The experiment layer: jobs, records, statuses, resume, determinism, the one solver route."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

import nmfexp
from nmfexp.experiment import ConfigError, Job, Seeds, job_config, run, run_job
from nmfexp.record import is_valid_record, read_record, record_status
from nmfexp.timing import measure

QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


def conf(solver="a1gm", n=12, mask="grid", rate=0.05, seed=0, **extra) -> dict:
    params = {} if solver == "a1gm" else {"max_iter": 50, "tol": 1e-4}
    base = {
        "dataset": {"kind": "uniform", "name": "uniform", "n_rows": n},
        "mask": {"kind": mask, "rate": rate},
        "solver": {"name": solver, "params": params},
        "timing": dict(QUICK),
        "seed": seed,
    }
    base.update(extra)
    return base


def stat(path: Path) -> tuple[int, int]:
    s = os.stat(path)
    return s.st_ino, s.st_mtime_ns


# --------------------------------------------------------------------------- records

def test_run_writes_one_valid_record(tmp_path):
    out = run(conf(), tmp_path)
    assert out["status"] == "ok" and not out["existing"]
    files = list(tmp_path.glob("*.h5"))
    assert [str(f) for f in files] == [out["path"]] and is_valid_record(files[0])
    rec = read_record(files[0])
    assert rec.attrs["status"] == "ok" and rec.attrs["job"] == out["job"]
    assert "n_rows: 12" in rec.attrs["config_yaml"]
    assert json.loads(rec.attrs["config_json"])["dataset"]["n_rows"] == 12
    assert rec.groups["timing"]["unit"] == "seconds" and rec.arrays["timing/samples"].size == 1
    assert rec.groups["data"]["n_missing"] == 4  # floor(12 * sqrt(.05)) = 2 rows x 2 columns
    assert rec.groups["info"]["n_missing_added"] == 0
    assert np.isfinite(rec.groups["metrics"]["weighted_kl"])
    assert "version_numpy" in rec.groups["environment"] and rec.groups["environment"]["cpu_model"] != ""
    assert not list(tmp_path.glob("*.tmp"))


def test_solver_parameters_are_stored_as_json(tmp_path):
    rec = read_record(run(conf("wnmf_kl"), tmp_path)["path"])
    assert json.loads(rec.attrs["solver_params"]) == {"max_iter": 50, "tol": 1e-4, "init": None, "max_time": None,
                                                      "eval_every": 1, "stop_on": "decrease"}
    assert rec.attrs["n_restarts"] == 1


def test_every_solver_sees_the_same_data_and_mask():
    a, b = Job.from_config(conf("a1gm", mask="random", rate=0.1)), Job.from_config(conf("wnmf_kl", mask="random", rate=0.1))
    da, db = a.build(), b.build()
    assert np.array_equal(da.X, db.X) and np.array_equal(da.observed, db.observed)
    assert a.seeds.init == b.seeds.init
    # ... and the data do not depend on the mask config, only on seed and data set.
    c = Job.from_config(conf("a1gm", mask="grid", rate=0.2))
    assert np.array_equal(c.build().X, da.X)
    d = Job.from_config(conf("a1gm", mask="random", rate=0.1, seed=1))
    assert not np.array_equal(d.build().X, da.X)


def test_same_seed_gives_identical_metrics(tmp_path):
    c = conf("wnmf_kl", mask="random", rate=0.1, holdout=0.2)
    r1 = read_record(run(c, tmp_path / "a")["path"])
    r2 = read_record(run(c, tmp_path / "b")["path"])
    assert r1.groups["metrics"] == pytest.approx(r2.groups["metrics"], nan_ok=True)
    assert np.array_equal(r1.arrays["history/objective"], r2.arrays["history/objective"])


def test_seeds_are_the_same_as_before_the_job_object():
    """The data seed hashes the dataset config exactly as the first version did (the numbers a seed
    gives must not change): the schema fills the same defaults for a dict config."""
    c = job_config(conf("hals"))
    assert c["dataset"] == {"kind": "uniform", "name": "uniform", "n_rows": 12, "n_cols": None, "true_rank": None,
                            "noise": 0.0, "path": None, "options": {}}
    s = Seeds.from_config(c)
    assert s.init == Seeds.from_config(job_config(conf("a1gm"))).init


# --------------------------------------------------------------------------- the one route: factorize

@pytest.mark.parametrize("solver, rank, extra", [("wnmf_kl", 2, {}), ("hals", 3, {}), ("kaczmarz", 2, {}),
                                                 ("wnmf_fro", 2, {"n_restarts": 3}), ("als", 2, {"n_restarts": 2})])
def test_a_sweep_job_and_a_direct_factorize_call_agree_bitwise(tmp_path, solver, rank, extra):
    c = conf(solver, n=20, mask="random", rate=0.1, rank=rank, holdout=0.1, save_factors=True)
    c["solver"].update(extra)
    job = Job.from_config(c, tmp_path)
    rec = read_record(run_job(job)["path"])
    data = job.build()
    direct = nmfexp.factorize(data.X, data.train, solver=solver, rank=rank, random_state=job.seeds.init,
                              max_iter=50, tol=1e-4, **extra)
    assert np.array_equal(rec.arrays["factors/A"], direct.A) and np.array_equal(rec.arrays["factors/B"], direct.B)
    assert np.array_equal(rec.arrays["history/objective"], direct.history["objective"])
    if extra:
        assert np.array_equal(rec.groups["info"]["restart_objectives"], direct.info["restart_objectives"])
        assert json.loads(rec.attrs["config_json"])["solver"]["n_restarts"] == extra["n_restarts"]


def test_restarts_of_a_closed_form_are_a_config_error(tmp_path):
    c = conf("a1gm")
    c["solver"]["n_restarts"] = 2
    with pytest.raises(ConfigError, match="n_restarts"):
        run(c, tmp_path)
    assert not list(tmp_path.glob("*.h5"))


# --------------------------------------------------------------------------- statuses

def test_a1gm_without_complete_row_is_skipped_not_failed(tmp_path):
    out = run(conf(mask="random", rate=0.5, n=10), tmp_path)
    assert out["status"] == "skipped" and "complete row" in out["message"]
    rec = read_record(out["path"])
    assert rec.attrs["status"] == "skipped" and rec.attrs["error_type"] == "SolverRefused"
    assert "metrics" not in rec.groups


def test_rank_one_solver_at_higher_rank_is_skipped(tmp_path):
    assert run(conf("a1gm", rank=2), tmp_path)["status"] == "skipped"


def _broadcast_bug(X, mask, *, rank, random_state):
    return np.ones((3, 4)) + np.ones((5, 6))  # a solver bug: numpy raises ValueError


def _refuses(X, mask, *, rank, random_state):
    raise nmfexp.SolverRefused("this solver needs a square matrix")


def _target(func) -> dict:
    return {"name": func.__name__.strip("_"), "_target_": f"{__name__}.{func.__name__}", "params": {}}


def test_a_value_error_from_a_solver_bug_is_failed_not_skipped(tmp_path):
    out = run({**conf(), "solver": _target(_broadcast_bug)}, tmp_path)
    assert out["status"] == "failed" and "broadcast" in out["message"]
    assert "Traceback" in read_record(out["path"]).attrs["traceback"]


def test_only_solver_refused_means_skipped(tmp_path):
    out = run({**conf(), "solver": _target(_refuses)}, tmp_path)
    assert out["status"] == "skipped" and out["message"] == "this solver needs a square matrix"


def test_a_value_error_while_measuring_is_failed(tmp_path, monkeypatch):
    """Timing checks are validated before the job; should one still fail inside the solver stage,
    the job is failed (a harness error), never a legitimate 'cannot run' skip."""
    import importlib

    run_module = importlib.import_module("nmfexp.experiment.run")  # the module, not the function

    def broken(*args, **kwargs):
        raise ValueError("timing.repeats must be an integer >= 1, got 0.")

    monkeypatch.setattr(run_module, "measure", broken)
    assert run(conf(), tmp_path)["status"] == "failed"


def test_invalid_timing_is_rejected_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="timing.repeats"):
        run(conf(timing={**QUICK, "repeats": 0}), tmp_path)
    assert not list(tmp_path.iterdir())


def test_failure_is_recorded_and_does_not_stop_other_jobs(tmp_path):
    bad = conf()
    bad["dataset"] = {"kind": "file", "path": str(tmp_path / "absent.csv")}
    results = [run(c, tmp_path) for c in (conf(seed=0), bad, conf(seed=1))]
    assert [r["status"] for r in results] == ["ok", "failed", "ok"]
    rec = read_record(results[1]["path"])
    assert "does not exist" in rec.attrs["message"] and "Traceback" in rec.attrs["traceback"]


def test_non_finite_metrics_are_failed(tmp_path):
    out = run({**conf(), "solver": _target(_nan_factors)}, tmp_path)
    assert out["status"] == "failed" and "not finite" in out["message"]
    out = run({**conf(), "solver": _target(_zero_factors)}, tmp_path)
    assert out["status"] == "failed" and "meaningless" in out["message"]


def _nan_factors(X, mask, *, rank, random_state):
    return nmfexp.FactorizationResult(A=np.full((X.shape[0], rank), np.nan), B=np.ones((rank, X.shape[1])))


def _zero_factors(X, mask, *, rank, random_state):
    return nmfexp.FactorizationResult(A=np.zeros((X.shape[0], rank)), B=np.zeros((rank, X.shape[1])))


# --------------------------------------------------------------------------- resume

def test_resume_rewrites_nothing(tmp_path):
    first = run(conf(), tmp_path)
    before = stat(Path(first["path"]))
    again = run(conf(), tmp_path)
    assert again["existing"] and again["path"] == first["path"] and stat(Path(first["path"])) == before
    rewritten = run(conf(overwrite=True), tmp_path)
    assert not rewritten["existing"] and stat(Path(first["path"])) != before


def test_skipped_jobs_are_kept_and_failed_jobs_rerun_by_default(tmp_path):
    skipped = run(conf(mask="random", rate=0.5, n=10), tmp_path)
    assert run(conf(mask="random", rate=0.5, n=10), tmp_path)["existing"]
    csv = tmp_path / "table.csv"
    c = conf()
    c["dataset"] = {"kind": "file", "path": str(csv)}
    assert run(c, tmp_path)["status"] == "failed"  # the file is not there yet
    np.savetxt(csv, np.random.default_rng(0).random((6, 5)), delimiter=",", header="a,b,c,d,e", comments="")
    again = run(c, tmp_path)  # the cause is fixed: the next run retries the failed job
    assert again["status"] == "ok" and not again["existing"]
    assert record_status(skipped["path"]) == "skipped"


def test_an_edited_input_file_is_recomputed_and_the_log_says_why(tmp_path, caplog):
    csv = tmp_path / "table.csv"
    rng = np.random.default_rng(0)
    np.savetxt(csv, rng.random((6, 5)), delimiter=",", header="a,b,c,d,e", comments="")
    c = conf()
    c["dataset"] = {"kind": "file", "path": str(csv)}
    first = run(c, tmp_path)
    assert run(c, tmp_path)["existing"]
    np.savetxt(csv, 10 * rng.random((6, 5)), delimiter=",", header="a,b,c,d,e", comments="")
    with caplog.at_level(logging.INFO, logger="nmfexp"):
        second = run(c, tmp_path)
    assert not second["existing"] and second["path"] == first["path"]
    assert second["weighted_kl"] != first["weighted_kl"]
    assert "input file(s) changed" in caplog.text and str(csv) in caplog.text
    assert list(json.loads(read_record(second["path"]).attrs["inputs"])) == [str(csv.resolve())]


def test_run_control_keys_do_not_change_the_job():
    assert Job.from_config(conf()).key == Job.from_config(conf(save_factors=True, results_dir="x")).key
    assert Job.from_config(conf()).key != Job.from_config(conf(seed=1)).key


def test_big_seeds_are_valid():
    job = Job.from_config(conf(seed=2**70))
    assert job.config["seed"] == 2**70 and job.build().X.shape == (12, 12)


def test_stale_temp_and_corrupt_records_are_replaced(tmp_path):
    job = Job.from_config(conf(), tmp_path)
    path = job.path
    stale = path.with_name(path.name + ".999999.tmp")
    stale.write_bytes(b"half a file")
    path.write_bytes(b"\x89HDF\r\n\x1a\n truncated")  # not a readable record
    out = run_job(job)
    assert out["status"] == "ok" and not out["existing"]
    assert is_valid_record(path)


def test_holdout_and_ground_truth_errors(tmp_path):
    c = conf("wnmf_kl", mask="random", rate=0.1, holdout=0.2, rank=2, save_factors=True)
    c["dataset"] = {"kind": "lowrank", "n_rows": 20, "n_cols": 15, "true_rank": 2, "noise": 0.05}
    rec = read_record(run(c, tmp_path)["path"])
    met, data = rec.groups["metrics"], rec.groups["data"]
    assert 0 < met["heldout_relative_error"] < 1 and 0 < met["truth_relative_error"] < 1
    assert data["n_heldout"] == round(0.2 * (300 - 30))
    assert data["n_observed_train"] == 300 - 30 - data["n_heldout"]
    assert rec.arrays["factors/A"].shape == (20, 2) and rec.arrays["factors/B"].shape == (2, 15)


def test_schema_typos_raise_before_anything_is_written(tmp_path):
    c = conf()
    c["mask"]["rat"] = 0.1
    with pytest.raises(ConfigError, match="rat"):
        run(c, tmp_path)
    assert not list(tmp_path.glob("*.h5"))


# --------------------------------------------------------------------------- data sets from outside

def load_squares(n: int, *, rng, scale: float = 1.0):
    """A data-set target: returns a bare array with NaN at its own gaps."""
    X = scale * rng.random((n, n))
    X[0, 0] = np.nan
    return X


def test_a_target_data_set_is_called_with_its_keys_and_rng(tmp_path):
    c = conf("wnmf_kl", mask="none")
    c["dataset"] = {"_target_": f"{__name__}.load_squares", "name": "squares", "n": 7, "scale": 2.0}
    rec = read_record(run(c, tmp_path)["path"])
    assert rec.attrs["status"] == "ok" and rec.attrs["dataset"] == "squares"
    assert rec.groups["data"]["n_rows"] == 7 and rec.groups["data"]["n_missing_own"] == 1


CALLS: list[int] = []


def counted_table(n: int, *, rng):
    """A deterministic target (ignores rng): built once per process for all jobs that use it."""
    CALLS.append(n)
    return np.arange(1.0, n * n + 1).reshape(n, n)


counted_table.deterministic = True


def test_a_deterministic_target_is_built_once_per_process(tmp_path):
    c = conf("wnmf_kl", mask="none")
    c["dataset"] = {"_target_": f"{__name__}.counted_table", "n": 6}
    CALLS.clear()
    outs = [run({**c, "seed": seed}, tmp_path) for seed in (0, 1, 2)]
    assert [o["status"] for o in outs] == ["ok"] * 3 and CALLS == [6]


def test_an_unimportable_target_is_a_clear_failure(tmp_path):
    c = conf()
    c["solver"] = {"name": "x", "_target_": "no_such_module_here.solve"}
    with pytest.raises(ConfigError, match="cannot import solver._target_"):
        run(c, tmp_path)


# --------------------------------------------------------------------------- timing

def test_measure_counts_calls_and_respects_limits():
    calls = []
    result, t = measure(lambda: calls.append(1) or len(calls), warmup=2, repeats=3, min_time=0.0)
    assert result == 1 and len(calls) == 5 and t.samples.size == 3 and t.warmup == 2
    _, t = measure(lambda: None, warmup=0, repeats=1, min_time=0.01, max_repeats=50)
    assert 1 <= t.samples.size <= 50
    _, t = measure(lambda: sum(range(20000)), warmup=0, repeats=100, min_time=0.0, max_time=0.0)
    assert t.samples.size == 1  # the budget stops sampling after the first sample
    s = t.summary()
    assert set(s) == {"runtime_mean", "runtime_std", "runtime_median", "runtime_min"} and s["runtime_std"] == 0.0
    with pytest.raises(ValueError, match="repeats"):
        measure(lambda: None, repeats=0)
