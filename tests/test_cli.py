"""``nmfexp-run``: sweeps, resume, invalid configs, presets, launchers, solvers and data sets from outside
the package. Most tests run the command in this process (``run_here``); end-to-end runs in subprocesses, for
what only a separate process shows, are marked slow."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import pytest
from conftest import run_here

from nmfexp.record import is_valid_record, read_record


def nmfexp_run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    code = "from nmfexp.cli.run import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env)


def stat(path: Path) -> tuple[int, int]:
    s = os.stat(path)
    return s.st_ino, s.st_mtime_ns


def statuses(folder: Path) -> list[str]:
    return sorted(h5py.File(f, "r").attrs["status"] for f in folder.glob("*.h5"))


@pytest.mark.slow
def test_sweep_resume_and_failure_report(tmp_path):
    results = tmp_path / "records"
    args = ["-m", "solver=a1gm,wnmf_kl", "dataset=uniform,file", "dataset.n_rows=10", "mask=grid,random",
            "mask.rate=0.5", "timing=quick", f"results_dir={results}"]
    first = nmfexp_run(*args, cwd=tmp_path)
    log = first.stdout + first.stderr
    assert first.returncode == 1, log  # the file jobs have no path: failed, reported at the end
    assert "8/8 (100%)" in log and "sweep finished: 8 jobs" in log and "job(s) failed" in log
    assert "] start " not in log  # per-job lines go to the sweep's log file, not to the terminal
    assert "] start " in next(results.glob("logs/multirun_*/nmfexp.log")).read_text()
    assert "dataset.path is required" in log
    files = sorted(results.glob("*.h5"))
    assert len(files) == 8 and all(map(is_valid_record, files))
    assert statuses(results) == ["failed"] * 4 + ["ok"] * 3 + ["skipped"]  # a1gm on 50% random: no complete row
    kept = {f: stat(f) for f in files if h5py.File(f, "r").attrs["status"] != "failed"}
    second = nmfexp_run(*args, cwd=tmp_path)
    log = second.stdout + second.stderr
    # Recorded ok/skipped jobs are not submitted again; failed ones are retried.
    assert "sweep of 8 jobs: 4 already recorded, submitting 4" in log and second.returncode == 1
    assert {f: stat(f) for f in kept} == kept


def test_single_run_from_another_directory(tmp_path):
    out = run_here("solver=a1gm", "dataset.n_rows=12", "timing=quick", f"results_dir={tmp_path / 'r'}",
                     cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "r").glob("*.h5"))) == 1


@pytest.mark.parametrize("override", ["solver.params.max_iter=abc", "+solver.params.foo=1", "mask.rate=1.5",
                                      "timing.repeats=0", "holdout=2"])
def test_an_invalid_single_run_writes_nothing(tmp_path, override):
    out = run_here("solver=wnmf_kl", "dataset.n_rows=12", override, f"results_dir={tmp_path / 'r'}", cwd=tmp_path)
    assert out.returncode != 0
    key = override.lstrip("+").split("=")[0].rsplit(".", 1)[-1]
    assert key in out.stdout + out.stderr
    assert not list(tmp_path.rglob("*.h5"))


def test_an_invalid_job_stops_the_sweep_before_anything_runs(tmp_path):
    out = run_here("-m", "solver=a1gm,wnmf_kl", "dataset.n_rows=12", "timing=quick", "mask.rate=0.05,1.5",
                     f"results_dir={tmp_path / 'r'}", cwd=tmp_path)
    log = out.stdout + out.stderr
    assert out.returncode == 2, log
    assert "mask.rate must be a number" in log and "nothing was run" in log
    assert not list(tmp_path.rglob("*.h5"))


def test_a_preset_runs_its_sweep_without_dash_m(tmp_path):
    out = run_here("+experiment=smoke", f"results_dir={tmp_path / 'r'}", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(list((tmp_path / "r").glob("*.h5"))) == 8


def test_the_quick_missing_pattern_study_runs_and_certifies_a1gm(tmp_path):
    import nmfexp.results
    from nmfexp.figures import patterns

    out = run_here("+experiment=a1gm_missing_patterns_quick", f"results_dir={tmp_path / 'r'}", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    df = nmfexp.results.load(tmp_path / "r")
    assert len(df) == 8 and set(df["mask"]) == {"random", "rows", "mnar", "corner"} and (df["status"] == "ok").all()
    assert df["a1gm_certified"].astype(bool).all() and (df["a1gm_gap"] >= 0).all()
    assert (df.loc[df["mask"] == "corner", "a1gm_gap"] == 0).all()  # grid-like: A1GM is exact
    table = patterns.patterns_summary(df)
    assert int(((~patterns.grid_like(table)) & table[patterns.GAP].notna()).sum()) == 6
    assert patterns.make(df, None, tmp_path / "plots")


def test_chdir_does_not_scatter_records(tmp_path):
    out = run_here("-m", "solver=a1gm", "seed=0,1", "dataset.n_rows=12", "timing=quick", "results_dir=rel",
                     "hydra.job.chdir=true", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(list((tmp_path / "rel").glob("*.h5"))) == 2
    assert len(list(tmp_path.rglob("*.h5"))) == 2


def test_the_app_is_named_nmfexp(tmp_path):
    out = run_here("--help", cwd=tmp_path)
    assert out.stdout.startswith("nmfexp-run")
    run = run_here("dataset.n_rows=12", "timing=quick", "results_dir=r", cwd=tmp_path)
    assert run.returncode == 0 and list((tmp_path / "r" / "logs").rglob("nmfexp.log"))


@pytest.mark.slow
def test_two_sweeps_in_the_same_second_get_their_own_log_folders(tmp_path):
    args = ["-m", "solver=a1gm", "seed=0,1", "dataset.n_rows=12", "timing=quick", "results_dir=r"]
    procs = [subprocess.Popen([sys.executable, "-c", "from nmfexp.cli.run import main; main()", *args], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        p.communicate(timeout=120)
    assert len(list((tmp_path / "r" / "logs").glob("multirun_*"))) == 2


# --------------------------------------------------------------------------- from outside the package

def _user_project(root: Path) -> None:
    (root / "lab").mkdir()
    (root / "lab" / "__init__.py").write_text("")
    (root / "lab" / "code.py").write_text(textwrap.dedent("""
        import numpy as np
        import nmfexp

        def scaled_a1gm(X, mask, *, rank, random_state, factor=1.0):
            res = nmfexp.factorize(X, mask, solver="a1gm", rank=rank)
            res.A *= factor
            return res

        def buggy(X, mask, *, rank, random_state):
            return np.ones(3) + np.ones(4)

        def blocks(n, *, rng):
            X = rng.random((n, n))
            X[:2, :3] = np.nan
            return X
    """))
    for group, name, body in (
        ("solver", "scaled", "name: scaled\n_target_: lab.code.scaled_a1gm\nparams: {factor: 2.0}\n"),
        ("solver", "buggy", "name: buggy\n_target_: lab.code.buggy\nparams: {}\n"),
        ("dataset", "blocks", "name: blocks\n_target_: lab.code.blocks\nn: 9\n"),
    ):
        (root / "conf" / group).mkdir(parents=True, exist_ok=True)
        (root / "conf" / group / f"{name}.yaml").write_text(body)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib", "submitit_local"])
def test_external_solver_and_data_set_under_every_launcher(tmp_path, launcher):
    pytest.importorskip({"basic": "hydra", "joblib": "hydra_plugins.hydra_joblib_launcher",
                         "submitit_local": "hydra_plugins.hydra_submitit_launcher"}[launcher])
    _user_project(tmp_path)
    extra = {"basic": [], "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
             "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"]}[launcher]
    out = nmfexp_run("-m", "hydra.searchpath=[file://conf]", "solver=scaled,buggy,a1gm", "dataset=blocks",
                     "mask=given", "timing=quick", "results_dir=r", *extra, cwd=tmp_path)
    log = out.stdout + out.stderr
    assert out.returncode == 1, log  # the buggy solver fails; the others are ok
    recs = {read_record(p).attrs["solver"]: read_record(p) for p in (tmp_path / "r").glob("*.h5")}
    assert {k: r.attrs["status"] for k, r in recs.items()} == {"scaled": "ok", "buggy": "failed", "a1gm": "ok"}
    assert "operands could not be broadcast" in recs["buggy"].attrs["message"]
    assert recs["scaled"].groups["data"]["n_missing_own"] == 6
    kl_scaled, kl_a1gm = (recs[s].groups["metrics"]["weighted_kl"] for s in ("scaled", "a1gm"))
    assert kl_scaled > kl_a1gm  # twice the optimum is worse than the optimum


@pytest.mark.slow
def test_an_entry_point_solver_needs_no_configuration(tmp_path):
    """An installed package declaring ``[project.entry-points."nmfexp.solvers"]``."""
    site = tmp_path / "site"
    (site / "epsolver").mkdir(parents=True)
    (site / "epsolver" / "__init__.py").write_text(textwrap.dedent("""
        import nmfexp

        def doubled(X, mask, *, rank, random_state, factor: float = 2.0):
            res = nmfexp.factorize(X, mask, solver="a1gm")
            res.A *= factor
            return res
    """))
    dist = site / "epsolver-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: epsolver\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[nmfexp.solvers]\ndoubled = epsolver:doubled\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    code = ("import numpy as np, nmfexp; X = np.random.default_rng(0).random((6, 5)); "
            "print(nmfexp.factorize(X, solver='doubled', factor=3.0).A.sum() / "
            "nmfexp.factorize(X, solver='a1gm').A.sum())")
    py = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert py.returncode == 0 and abs(float(py.stdout) - 3.0) < 1e-12, py.stderr
    out = nmfexp_run("solver=doubled", "solver.params.factor=4", "dataset.n_rows=8", "timing=quick",
                     "results_dir=r", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    (rec,) = [read_record(p) for p in (tmp_path / "r").glob("*.h5")]
    assert rec.attrs["solver"] == "doubled" and rec.attrs["status"] == "ok"
    bad = nmfexp_run("solver=doubled", "solver.params.factor=many", "dataset.n_rows=8", cwd=tmp_path, env=env)
    assert bad.returncode != 0 and "factor" in bad.stdout + bad.stderr


# --------------------------------------------------------------------------- damage and concurrency

@pytest.mark.slow
def test_a_record_that_cannot_be_written_is_reported_and_recomputed_later(tmp_path):
    import resource

    def limit():  # a file-size limit above the log files, below a record (ulimit -f)
        resource.setrlimit(resource.RLIMIT_FSIZE, (12000, 12000))

    args = ["-c", "from nmfexp.cli.run import main; main()", "-m", "solver=a1gm", "seed=0,1", "dataset.n_rows=10",
            "timing=quick", "results_dir=r"]
    out = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         preexec_fn=limit)
    log = out.stdout + out.stderr
    assert out.returncode == 1, log  # not a crash (a segfault was -11 / 139)
    assert log.count("the record could not be written") >= 2 and "File too large" in log
    assert not list((tmp_path / "r").glob("*.h5")) and not list((tmp_path / "r").glob("*.tmp"))
    again = nmfexp_run(*args[2:], cwd=tmp_path)
    assert again.returncode == 0 and "0 already recorded, submitting 2" in again.stdout + again.stderr


@pytest.mark.slow
def test_two_sweeps_on_one_folder_at_once_compute_each_job_once(tmp_path):
    args = ["-m", "solver=wnmf_kl", "seed=range(0,12)", "dataset.n_rows=150", "solver.params.tol=0",
            "solver.params.max_iter=60", "timing=quick", "results_dir=r"]
    procs = [subprocess.Popen([sys.executable, "-c", "from nmfexp.cli.run import main; main()", *args], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs  # a job running in the other sweep is waited for
    files = list((tmp_path / "r").glob("logs/multirun_*/nmfexp.log"))
    assert len(files) == 2
    started = sum(f.read_text().count("] start wnmf_kl") for f in files)
    assert started == 12, logs  # every job computed by exactly one of the two sweeps
    assert len(list((tmp_path / "r").glob("*.h5"))) == 12
    assert not list((tmp_path / "r").glob("*.tmp")) and not list((tmp_path / "r").glob("*.lock"))


def test_planned_jobs_equal_jobs_composed_one_by_one(tmp_path):
    """The planner sets each job's values on a shared base config and restores it; every job must be
    exactly what Hydra composes for its overrides alone (no value leaks from one job to the next)."""
    import json

    from hydra import compose, initialize_config_dir

    from nmfexp.cli.plugins import register
    from nmfexp.experiment import Job
    from nmfexp.experiment.config import config_dir

    results = tmp_path / "r"
    sweep = {"solver": ["a1gm", "wnmf_kl"], "mask.rate": ["0.05", "0.2"], "seed": ["0", "3"]}
    out = run_here("-m", "+experiment=smoke", "solver=a1gm,wnmf_kl", "mask.rate=0.05,0.2", "seed=0,3",
                     "dataset.n_rows=9", "timing=quick", f"results_dir={results}", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    recorded = {read_record(p).attrs["job"]: json.loads(read_record(p).attrs["config_json"])
                for p in results.glob("*.h5")}
    assert len(recorded) == 2 * 2 * 2 * 2  # the preset also sweeps mask kinds (grid, random)
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        for solver in sweep["solver"]:
            for rate in sweep["mask.rate"]:
                for seed in sweep["seed"]:
                    for mask in ("grid", "random"):
                        cfg = compose("config", overrides=["+experiment=smoke", f"solver={solver}", f"mask={mask}",
                                                           f"mask.rate={rate}", f"seed={seed}", "dataset.n_rows=9",
                                                           "timing=quick", f"results_dir={results}"])
                        job = Job.from_config(cfg)
                        assert recorded[job.key] == job.config
