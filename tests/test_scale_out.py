"""Sweeps on several processes without a cluster: submitit's local executor (the Slurm preset's job
code), joblib and Ray; driver-side resume, lost jobs, records that know where they ran."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _helpers import nmfexp_run, write_killer_lab
from hydra import compose, initialize_config_dir

from nmfexp.cli.plugins import register
from nmfexp.experiment.config import config_dir
from nmfexp.record import read_record

LAUNCHERS = {
    "local_parallel": ("hydra_plugins.hydra_submitit_launcher", ["hydra/launcher=local_parallel"]),
    # all four jobs in one worker process: the kill takes the jobs after it down too
    "local_parallel_grouped": ("hydra_plugins.hydra_submitit_launcher",
                               ["hydra/launcher=local_parallel", "hydra.launcher.jobs_per_task=4"]),
    "joblib": ("hydra_plugins.hydra_joblib_launcher", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_killed_job_is_reported_and_completed_by_the_rerun(tmp_path, launcher):
    module, extra = LAUNCHERS[launcher]
    pytest.importorskip(module)
    write_killer_lab(tmp_path)  # the solver 'killer' SIGKILLs its process at seed 1, the first time only
    args = ["-m", "hydra.searchpath=[file://conf]", "solver=killer", "solver.params.seed=0,1,2,3",
            "dataset.n_rows=10", "timing=quick", "results_dir=r", *extra]
    first = nmfexp_run(*args, cwd=tmp_path)
    log = first.stdout + first.stderr
    assert first.returncode == 1, log
    assert "sweep finished: 4 jobs" in log and "lost (no record): " in log and "solver.params.seed=1" in log
    assert "run the same command again" in log
    assert "Error executing job" not in log  # Hydra's noise for a return that never ran is not re-raised
    recorded = {read_record(p).attrs["job"] for p in (tmp_path / "r").glob("*.h5")}
    # The killed job left no record; how many others finished first depends on the launcher (a dead joblib
    # worker stops the pool, and jobs still queued are lost with it). Every job without a record is named.
    assert len(recorded) <= 3 and all(read_record(p).attrs["status"] == "ok" for p in (tmp_path / "r").glob("*.h5"))
    assert log.count("lost (no record): ") == 4 - len(recorded)
    summary = subprocess.run([sys.executable, "-m", "nmfexp.results", "summary", "r"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120).stdout
    assert f"{len(recorded)} of 4 jobs recorded" in summary and f"{4 - len(recorded)} without a record yet" in summary
    second = nmfexp_run(*args, cwd=tmp_path)
    log2 = second.stdout + second.stderr
    assert second.returncode == 0, log2
    assert f"sweep of 4 jobs: {len(recorded)} already recorded, submitting {4 - len(recorded)}" in log2
    assert len(list((tmp_path / "r").glob("*.h5"))) == 4
    # A third run submits nothing at all.
    third = nmfexp_run(*args, cwd=tmp_path)
    assert "4 already recorded, submitting 0" in third.stdout + third.stderr


@pytest.mark.slow
def test_local_parallel_records_where_and_how_jobs_ran(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    # concurrent_jobs counts every nmfexp job timed on this host: a private temporary folder keeps other
    # runs on the machine (another test session, a sweep) out of this count
    (tmp_path / "tmp").mkdir()
    out = nmfexp_run("-m", "solver=a1gm,wnmf_kl", "dataset.n_rows=10", "timing=quick", "results_dir=r",
                     "hydra/launcher=local_parallel", "hydra.launcher.array_parallelism=2", cwd=tmp_path,
                     env={**os.environ, "TMPDIR": str(tmp_path / "tmp")})
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "sweep: 2/2 (100%): 2 ok, 0 skipped, 0 failed" in log  # the driver's one progress display
    for path in (tmp_path / "r").glob("*.h5"):
        ex = read_record(path).groups["execution"]
        assert ex["launcher"] == "hydra_plugins.nmfexp.launchers.LocalLauncher"
        assert ex["parallelism"] == 2 and 1 <= ex["concurrent_jobs"] <= 2 and ex["hostname"]


@pytest.fixture(scope="module")
def hydra_ctx():
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        yield


def test_local_presets_run_no_more_jobs_than_cores_per_blas_thread(hydra_ctx):
    import os

    cores = len(os.sched_getaffinity(0))
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    cfg = compose("config", overrides=["hydra/launcher=joblib", "timing.blas_threads=1"], return_hydra_config=True)
    assert cfg.hydra.launcher.n_jobs == cores
    cfg = compose("config", overrides=["hydra/launcher=joblib", "timing.blas_threads=2"], return_hydra_config=True)
    assert cfg.hydra.launcher.n_jobs == max(1, cores // 2)
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = compose("config", overrides=["hydra/launcher=local_parallel", "timing.blas_threads=2"],
                  return_hydra_config=True)
    assert cfg.hydra.launcher.array_parallelism == max(1, cores // 2) and cfg.hydra.launcher.cpus_per_task == 2


def test_the_slurm_preset_composes(hydra_ctx):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = compose("config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=cpu", "timing.blas_threads=4"],
                  return_hydra_config=True)
    lc = cfg.hydra.launcher
    assert lc._target_ == "hydra_plugins.nmfexp.launchers.SlurmLauncher"
    assert (lc.partition, lc.name, lc.cpus_per_task, lc.timeout_min) == ("cpu", "nmfexp", 4, 60)
    with pytest.raises(Exception, match="partitio"):
        compose("config", overrides=["hydra/launcher=slurm", "hydra.launcher.partitio=cpu"], return_hydra_config=True)


@pytest.mark.slow
def test_ray_local(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher",
                        reason="the Ray launcher is optional: pip install 'nmfexp[ray]' to run this test")
    # Ray on loopback only (it otherwise binds the machine's address), without token authentication
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    out = nmfexp_run("-m", "solver=a1gm,wnmf_kl", "seed=0,1", "dataset.n_rows=10", "timing=quick", "results_dir=r",
                     "hydra/launcher=ray_local", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert len(list((tmp_path / "r").glob("*.h5"))) == 4
    again = nmfexp_run("-m", "solver=a1gm,wnmf_kl", "seed=0,1", "dataset.n_rows=10", "timing=quick",
                       "results_dir=r", "hydra/launcher=ray_local", cwd=tmp_path, env=env)
    assert "4 already recorded, submitting 0" in again.stdout + again.stderr


def test_jobs_per_task():
    from nmfexp.cli.launch import MAX_JOBS_PER_TASK, jobs_per_task

    assert jobs_per_task("auto", 4, 2) == 1  # few jobs: a process each
    assert jobs_per_task("auto", 270, 2) == 25 == MAX_JOBS_PER_TASK
    assert jobs_per_task("auto", 80, 2) == 10  # about four tasks per worker
    assert jobs_per_task(3, 80, 2) == 3 and jobs_per_task("7", 80, 2) == 7
    for bad in (0, -1, "x", 2.5, "2.5"):
        with pytest.raises(ValueError, match="jobs_per_task must be 'auto' or a positive integer"):
            jobs_per_task(bad, 80, 2)


def test_the_object_store_option_is_dropped_only_for_an_existing_cluster():
    from nmfexp.cli.backends import _ray_init_options  # no Ray needed: the keywords only

    assert "object_store_memory" not in _ray_init_options({"address": "ray://head:10001", "object_store_memory": 1})
    assert _ray_init_options({"address": None})["object_store_memory"] == 78643200
