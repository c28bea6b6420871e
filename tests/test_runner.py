"""The runner: records, resume, failure isolation, determinism, the command line, parallel sweeps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from nmfexp.config import config_dir
from nmfexp.record import is_valid_record, read_record
from nmfexp.runner import Seeds, build_job_data, job_config, job_hash, record_path, run
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


# --------------------------------------------------------------------------- run()

def test_run_writes_one_valid_record(tmp_path):
    out = run(conf(), tmp_path)
    assert out["status"] == "ok" and not out["existing"]
    files = list(tmp_path.glob("*.h5"))
    assert [str(f) for f in files] == [out["path"]] and is_valid_record(files[0])
    rec = read_record(files[0])
    assert rec.attrs["status"] == "ok" and rec.attrs["job"] == out["job"]
    assert "n_rows: 12" in rec.attrs["config_yaml"]
    assert rec.groups["timing"]["unit"] == "seconds" and rec.arrays["timing/samples"].size == 1
    assert rec.groups["data"]["n_missing"] == 4  # floor(12 * sqrt(.05)) = 2 rows x 2 columns
    assert rec.groups["info"]["n_missing_added"] == 0
    assert np.isfinite(rec.groups["metrics"]["weighted_kl"])
    assert "version_numpy" in rec.groups["environment"]
    assert not list(tmp_path.glob("*.tmp"))


def test_every_solver_sees_the_same_data_and_mask():
    a, b = job_config(conf("a1gm", mask="random", rate=0.1)), job_config(conf("wnmf_kl", mask="random", rate=0.1))
    da, db = build_job_data(a, Seeds.from_config(a)), build_job_data(b, Seeds.from_config(b))
    assert np.array_equal(da.dataset.X, db.dataset.X) and np.array_equal(da.observed, db.observed)
    assert Seeds.from_config(a).init == Seeds.from_config(b).init
    # ... and the data do not depend on the mask config, only on seed and data set.
    c = job_config(conf("a1gm", mask="grid", rate=0.2))
    assert np.array_equal(build_job_data(c, Seeds.from_config(c)).dataset.X, da.dataset.X)
    d = job_config(conf("a1gm", mask="random", rate=0.1, seed=1))
    assert not np.array_equal(build_job_data(d, Seeds.from_config(d)).dataset.X, da.dataset.X)


def test_same_seed_gives_identical_metrics(tmp_path):
    c = conf("wnmf_kl", mask="random", rate=0.1, holdout=0.2)
    r1 = read_record(run(c, tmp_path / "a")["path"])
    r2 = read_record(run(c, tmp_path / "b")["path"])
    assert r1.groups["metrics"] == pytest.approx(r2.groups["metrics"], nan_ok=True)
    assert np.array_equal(r1.arrays["history/objective"], r2.arrays["history/objective"])


def test_resume_rewrites_nothing(tmp_path):
    first = run(conf(), tmp_path)
    before = stat(Path(first["path"]))
    again = run(conf(), tmp_path)
    assert again["existing"] and again["path"] == first["path"] and stat(Path(first["path"])) == before
    rewritten = run(conf(overwrite=True), tmp_path)
    assert not rewritten["existing"] and stat(Path(first["path"])) != before


def test_run_control_keys_do_not_change_the_job():
    assert job_hash(job_config(conf())) == job_hash(job_config(conf(save_factors=True, results_dir="x")))
    assert job_hash(job_config(conf())) != job_hash(job_config(conf(seed=1)))


def test_a1gm_without_complete_row_is_skipped_not_failed(tmp_path):
    out = run(conf(mask="random", rate=0.5, n=10), tmp_path)
    assert out["status"] == "skipped" and "complete row" in out["message"]
    rec = read_record(out["path"])
    assert rec.attrs["status"] == "skipped" and rec.attrs["error_type"] == "SolverRefused"
    assert "metrics" not in rec.groups


def test_failure_is_recorded_and_does_not_stop_other_jobs(tmp_path):
    bad = conf()
    bad["dataset"] = {"kind": "file", "path": None}
    results = [run(c, tmp_path) for c in (conf(seed=0), bad, conf(seed=1))]
    assert [r["status"] for r in results] == ["ok", "failed", "ok"]
    rec = read_record(results[1]["path"])
    assert "dataset.path is required" in rec.attrs["message"] and "Traceback" in rec.attrs["traceback"]
    # A failed record is kept on resume unless retry_failed is set.
    assert run(bad, tmp_path)["existing"]
    assert not run({**bad, "retry_failed": True}, tmp_path)["existing"]


def test_unknown_solver_parameter_fails_clearly(tmp_path):
    c = conf("wnmf_kl")
    c["solver"]["params"]["max_itr"] = 3
    out = run(c, tmp_path)
    assert out["status"] == "failed" and "max_itr" in out["message"]


def test_stale_temp_and_corrupt_records_are_replaced(tmp_path):
    c = job_config(conf())
    path = record_path(c, tmp_path)
    tmp_path.mkdir(exist_ok=True)
    stale = path.with_name(path.name + ".999999.tmp")
    stale.write_bytes(b"half a file")
    path.write_bytes(b"\x89HDF\r\n\x1a\n truncated")  # not a readable record
    out = run(c, tmp_path)
    assert out["status"] == "ok" and not out["existing"]
    assert is_valid_record(path) and not stale.exists()


def test_holdout_and_ground_truth_errors(tmp_path):
    c = conf("wnmf_kl", mask="random", rate=0.1, holdout=0.2, rank=2, save_factors=True)
    c["dataset"] = {"kind": "lowrank", "n_rows": 20, "n_cols": 15, "true_rank": 2, "noise": 0.05}
    rec = read_record(run(c, tmp_path)["path"])
    met, data = rec.groups["metrics"], rec.groups["data"]
    assert 0 < met["heldout_relative_error"] < 1 and 0 < met["truth_relative_error"] < 1
    assert data["n_heldout"] == round(0.2 * (300 - 30))
    assert data["n_observed_train"] == 300 - 30 - data["n_heldout"]
    assert rec.arrays["factors/A"].shape == (20, 2) and rec.arrays["factors/B"].shape == (2, 15)


def test_bad_holdout_fails(tmp_path):
    assert run(conf(holdout=1.0), tmp_path)["status"] == "failed"


def test_schema_typos_raise_before_anything_is_written(tmp_path):
    c = conf()
    c["mask"]["rat"] = 0.1
    with pytest.raises(Exception, match="rat"):
        run(c, tmp_path)
    assert not list(tmp_path.glob("*.h5"))


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


# --------------------------------------------------------------------------- the command line

def nmfexp_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "from nmfexp.runner import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_command_line_sweep_resume_and_failure_report(tmp_path):
    results = tmp_path / "records"
    args = ["-m", "solver=a1gm,wnmf_kl", "dataset=uniform,file", "dataset.n_rows=10", "mask=grid,random",
            "mask.rate=0.5", "timing=quick", f"results_dir={results}"]
    first = nmfexp_run(*args, cwd=tmp_path)
    log = first.stdout + first.stderr
    assert first.returncode == 1, log  # the file jobs have no path: failed, reported at the end
    assert "[8/8]" in log and "sweep finished: 8 jobs" in log and "job(s) failed" in log
    files = sorted(results.glob("*.h5"))
    assert len(files) == 8 and all(map(is_valid_record, files))
    statuses = sorted(h5py.File(f, "r").attrs["status"] for f in files)
    assert statuses == ["failed"] * 4 + ["ok"] * 3 + ["skipped"]  # a1gm on 50% random: no complete row
    before = {f: stat(f) for f in files}
    second = nmfexp_run(*args, cwd=tmp_path)
    assert "8 jobs" in second.stdout + second.stderr
    assert {f: stat(f) for f in sorted(results.glob("*.h5"))} == before


def test_command_line_single_run_from_another_directory(tmp_path):
    out = nmfexp_run("solver=a1gm", "dataset.n_rows=12", "timing=quick", f"results_dir={tmp_path / 'r'}",
                     cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "r").glob("*.h5"))) == 1
    assert config_dir().is_dir()


@pytest.mark.slow
def test_joblib_launcher_two_workers(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    results = tmp_path / "records"
    out = nmfexp_run("-m", "+experiment=smoke", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                     f"results_dir={results}", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    files = list(results.glob("*.h5"))
    assert len(files) == 8 and all(map(is_valid_record, files))
    assert not list(results.glob("*.tmp"))
