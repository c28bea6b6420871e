"""What a sweep tells its user: one progress display, warnings summarised once and kept in the records,
Ctrl-C with a hint instead of a traceback, no success for a job another process is computing, one
artifact drawn alone."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _helpers import nmfexp_cmd, write_lab

from nmfexp.cli.progress import Progress, format_seconds
from nmfexp.record import read_record

LAB = textwrap.dedent("""
    import time, warnings
    import nmfexp

    class ConvergenceWarning(UserWarning):
        pass

    def noisy(X, mask, *, rank, random_state, seed=0):
        warnings.warn("Maximum number of iterations reached", ConvergenceWarning)
        return nmfexp.factorize(X, mask, solver="a1gm", rank=rank)

    def slow(X, mask, *, rank, random_state, seconds=1.0, seed=0):
        time.sleep(seconds)
        return nmfexp.factorize(X, mask, solver="a1gm", rank=rank)
""")


def _project(root: Path) -> None:
    write_lab(root, LAB, {"noisy": "name: noisy\n_target_: lab.solvers.noisy\nparams: {seed: 0}\n",
                          "slow": "name: slow\n_target_: lab.solvers.slow\nparams: {seconds: 1.0, seed: 0}\n"})


@pytest.mark.slow
def test_solver_warnings_go_into_the_records_and_are_summarised_once(tmp_path):
    _project(tmp_path)
    out = subprocess.run(nmfexp_cmd("-m", "hydra.searchpath=[file://conf]", "solver=noisy",
                                    "solver.params.seed=0,1,2,3", "dataset.n_rows=10", "timing.repeats=3",
                                    "timing.min_time=0", "results_dir=r"),
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert log.count("Maximum number of iterations reached") == 1, log  # once, in the summary
    assert "warnings from 4 job(s)" in log and "ConvergenceWarning: Maximum number of iterations reached (4 jobs)" in log
    for path in (tmp_path / "r").glob("*.h5"):
        kept = read_record(path).attrs["warnings"]
        assert len(kept) == 1 and kept[0].startswith("ConvergenceWarning: Maximum number of iterations reached (x")
        assert int(kept[0].rsplit("(x", 1)[1].rstrip(")")) >= 4  # warm-up and every timed call


@pytest.mark.slow
def test_ctrl_c_ends_with_what_is_recorded_and_how_to_finish(tmp_path):
    _project(tmp_path)
    args = ["-m", "hydra.searchpath=[file://conf]", "solver=slow", "solver.params.seed=range(0,8)",
            "solver.params.seconds=1.5", "dataset.n_rows=10", "timing=quick", "results_dir=r"]
    # A process started in the background by a non-interactive shell (as CI may be) inherits SIGINT ignored,
    # and Python then installs no handler in its children: give the command the default a terminal gives it.
    proc = subprocess.Popen(nmfexp_cmd(*args), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    while not list((tmp_path / "r").glob("*.h5")) and time.monotonic() - t0 < 120:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    log = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, log
    done = len(list((tmp_path / "r").glob("*.h5")))
    assert f"interrupted: {done}/8 recorded; run the same command to finish" in log, log
    assert "Traceback" not in log and "KeyboardInterrupt" not in log
    assert not list((tmp_path / "r").glob("*.lock"))  # the interrupted job gave its claim back
    again = subprocess.run(nmfexp_cmd(*args), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and f"{done} already recorded, submitting {8 - done}" in again.stdout + again.stderr
    assert len(list((tmp_path / "r").glob("*.h5"))) == 8


HOLDER = textwrap.dedent("""
    import sys, time
    from nmfexp.record import claim
    c = claim(sys.argv[1])
    print("held" if c is not None else "not held", flush=True)
    time.sleep(float(sys.argv[2]))
""")


@pytest.mark.slow
def test_a_job_computed_elsewhere_is_waited_for_and_never_counted_without_a_record(tmp_path):
    args = ["-m", "solver=a1gm", "seed=0,1", "dataset.n_rows=10", "timing=quick", "results_dir=r"]
    first = subprocess.run(nmfexp_cmd(*args), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    victim = sorted((tmp_path / "r").glob("*.h5"))[0]
    victim.unlink()
    # the holder keeps its claim for 8 s: long enough that the sweep has started and found it even on a loaded
    # machine (with 4 s, a sweep slow to start found the claim already released and computed the job itself)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(victim), "8"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        out = subprocess.run(nmfexp_cmd(*args), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
        holder.wait()
    log = out.stdout + out.stderr
    # the holder ended without writing the record: the sweep waited for it, then said so (0.2: exit 0)
    assert time.monotonic() - t0 >= 2.5
    assert out.returncode == 1, log
    assert "waiting for 1 job(s) that another process is computing" in log
    assert "ended without a record" in log and "run the same command again" in log
    rerun = subprocess.run(nmfexp_cmd(*args), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0 and victim.exists()


def test_progress_counts_each_job_once_with_an_eta():
    stream = io.StringIO()
    p = Progress(4, "fig5", stream=stream, bar=True)
    for key, status in [("a", "ok"), ("b", "skipped"), ("a", "ok"), ("c", "failed")]:
        p.update(key, status)
    assert p.done == 3 and p.counts == {"ok": 1, "skipped": 1, "failed": 1}
    assert p.eta() is not None and "3/4 (75%): 1 ok, 1 skipped, 1 failed" in p.line()
    p.close()
    assert "fig5" in stream.getvalue() and "3/4" in stream.getvalue()  # the bar was drawn
    assert format_seconds(42) == "42 s" and format_seconds(185) == "3 min 05 s" and format_seconds(3720) == "1 h 02 min"


def test_plain_progress_lines_are_periodic(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="nmfexp")
    p = Progress(100, "sweep", stream=io.StringIO(), interval=3600, bar=False)
    for k in range(100):
        p.update(str(k), "ok")
    lines = [r.getMessage() for r in caplog.records if "sweep: " in r.getMessage()]
    assert len(lines) == 2 and lines[0].startswith("sweep: 1/100") and lines[1].startswith("sweep: 100/100 (100%)")


@pytest.mark.slow
def test_reproduce_only_runs_and_draws_that_artifact_alone(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nmfexp.reproduce", "--quick", "--only", "fig5_synthetic",
                          "--results-dir", str(tmp_path / "r"), "--plots-dir", str(tmp_path / "p")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    drawn = {p.name for p in (tmp_path / "p").iterdir()}
    assert "fig5_runtime.png" in drawn and all(name.startswith("fig5_") for name in drawn), drawn
    assert "Fig. 5 synthetic comparison" in log and "Real-data table" not in log and "missing patterns" not in log
    # nmfexp-plot draws one artifact the same way
    plot = subprocess.run([sys.executable, "-m", "nmfexp.figures.cli", str(tmp_path / "r"), "--plots-dir",
                           str(tmp_path / "q"), "--artifact", "fig5_synthetic"], capture_output=True, text=True,
                          timeout=300)
    assert plot.returncode == 0, plot.stderr
    assert {p.name for p in (tmp_path / "q").iterdir()} == drawn
    bad = subprocess.run([sys.executable, "-m", "nmfexp.figures.cli", str(tmp_path / "r"), "--artifact", "fig6"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown artifact" in bad.stderr


@pytest.mark.slow
def test_plan_json_is_marked_finished(tmp_path):
    out = subprocess.run(nmfexp_cmd("-m", "solver=a1gm", "dataset.n_rows=10", "timing=quick", "results_dir=r"),
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0
    plan = json.loads(next((tmp_path / "r").glob("logs/*/plan.json")).read_text())
    assert plan["finished"] is True and len(plan["jobs"]) == 1


def test_joblib_with_one_worker_leaves_the_drivers_ctrl_c_alone(monkeypatch):
    """joblib with n_jobs=1 runs its tasks in the driver's own process: the worker initialiser ignored
    SIGINT there, so Ctrl-C did nothing for the rest of the sweep (and every process it started)."""
    pytest.importorskip("joblib")
    from omegaconf import OmegaConf

    from nmfexp.cli import backends
    from nmfexp.cli.tasks import TaskSpec

    monkeypatch.setattr(backends, "run_task", lambda task: [{"job": task.jobs[0]["key"], "status": "ok"}])
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever CI inherited
    try:
        done = []
        tasks = [TaskSpec(jobs=[{"key": f"k{i}"}]) for i in range(2)]
        backends.run_joblib(tasks, OmegaConf.create({"n_jobs": 1}), "", lambda t, s, e: done.append(s), lambda: None)
        assert len(done) == 2 and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)
