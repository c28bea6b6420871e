"""Sweeps on a real Slurm (the single-node cluster .ci/run starts from .ci/slurm/): job arrays, a task
cancelled mid-sweep, a task past its time limit, a driver killed while its tasks run, sacct's view.

Skipped, with the reason, when no Slurm answers here (``sinfo``) or its accounting (``sacct``) does not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nmfexp.record import read_record


def _cluster_reason() -> str | None:
    if shutil.which("sinfo") is None:
        return "no Slurm here (sinfo not found; .ci/run starts a single-node cluster as root)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo does not answer: {exc}"
    if out.returncode != 0 or not re.search(r"idle|mixed|alloc", out.stdout):
        return f"no Slurm node is up: {(out.stderr or out.stdout).strip()[:200]}"
    acct = subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True, text=True, timeout=20)
    if acct.returncode != 0:
        return f"Slurm accounting does not answer: {acct.stderr.strip()[:200]}"
    return None


REASON = _cluster_reason()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

SLEEPER = textwrap.dedent("""
    import time
    import nmfexp

    def sleeper(X, mask, *, rank, random_state, seconds=0.0, seed=0):
        time.sleep(seconds)
        return nmfexp.factorize(X, mask, solver="a1gm", rank=rank)
""")


def _project(root: Path) -> Path:
    (root / "lab").mkdir(parents=True)
    (root / "lab" / "__init__.py").write_text("")
    (root / "lab" / "solvers.py").write_text(SLEEPER)
    (root / "conf" / "solver").mkdir(parents=True)
    (root / "conf" / "solver" / "sleeper.yaml").write_text(
        "name: sleeper\n_target_: lab.solvers.sleeper\nparams: {seconds: 0.0, seed: 0}\n")
    return root


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from nmfexp.cli.run import main; main()", *args]


def run(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _sleep_sweep(results: Path, seconds: float, seeds: str, *extra: str) -> list[str]:
    return ["-m", "hydra.searchpath=[file://conf]", "solver=sleeper", f"solver.params.seconds={seconds}",
            f"solver.params.seed={seeds}", "dataset.n_rows=10", "timing=quick", f"results_dir={results}",
            "hydra/launcher=slurm", *extra]


def _wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def _submitted_tasks(results: Path) -> list[dict]:
    for plan in sorted(results.glob("logs/*/plan.json")):
        try:
            tasks = json.loads(plan.read_text()).get("tasks")
        except ValueError:
            continue
        if tasks:
            return tasks
    return []


def _in_state(task_ids: list[str], state: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, timeout=20).stdout
    states = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
    return [t for t in task_ids if states.get(t) == state]


def _running(task_ids: list[str]) -> list[str]:
    return _in_state(task_ids, "RUNNING")


def _cancel_one_during(args: list[str], root: Path, results: Path, pick, what: str,
                       timeout: float) -> tuple[int, str, str]:
    """Start the sweep, ``scancel`` the task ``pick(task ids)`` names once it exists, and let the driver end:
    its exit status, its log and the cancelled task's id."""
    driver = subprocess.Popen(_cmd(*args), cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        tasks = _wait_for(lambda: _submitted_tasks(results), 60, "the submission")
        ids = [t["job_id"] for t in tasks]
        victim = _wait_for(lambda: pick(ids), 60, what)
        subprocess.run(["scancel", victim], check=True, timeout=30)
        log = driver.communicate(timeout=timeout)[0]
    finally:
        if driver.poll() is None:
            driver.kill()
    return driver.returncode, log, victim


def _sacct(array: str) -> list[dict]:
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-j", array, "--format=JobID,JobName,AllocCPUS,ReqMem,State"],
                         capture_output=True, text=True, timeout=30).stdout
    keys = ["id", "name", "cpus", "mem", "state"]
    return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines() if line.count("|") == 4]


def test_reproduce_quick_fig5_lands_every_record_through_job_arrays(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nmfexp.reproduce", "--quick", "--only", "fig5_synthetic",
                          "--results-dir", str(tmp_path / "r"), "--plots-dir", str(tmp_path / "p"), "--",
                          "hydra/launcher=slurm"], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    records = list((tmp_path / "r" / "fig5_synthetic").glob("*.h5"))
    assert len(records) == 20 and all(read_record(p).attrs["status"] == "ok" for p in records)
    ex = read_record(records[0]).groups["execution"]
    assert ex["launcher"] == "hydra_plugins.nmfexp.launchers.SlurmLauncher" and ex["slurm_array_job_id"]
    array = re.search(r"submitted Slurm array (\d+) \(nmfexp-fig5_synthetic\)", log).group(1)
    rows = _sacct(array)
    # jobs grouped into array tasks, named for the artifact, with the CPUs and memory the jobs asked for
    assert 1 < len(rows) < 20 and {r["name"] for r in rows} == {"nmfexp-fig5_synthetic"}
    assert {r["cpus"] for r in rows} == {"1"} and {r["mem"] for r in rows} == {"1G"}
    assert {r["state"] for r in rows} == {"COMPLETED"}
    assert (tmp_path / "p" / "fig5_runtime.png").exists() and "Fig. 5 synthetic comparison" in log


def test_a_cancelled_task_is_named_lost_and_the_rerun_completes_exactly_it(tmp_path):
    root = _project(tmp_path)
    results = tmp_path / "r"
    args = _sleep_sweep(results, 6, "0,1,2,3", "hydra.launcher.jobs_per_task=1")
    status, log, victim = _cancel_one_during(args, root, results, lambda ids: (_running(ids) or [None])[0],
                                             "a running task", timeout=300)
    assert status == 1, log
    lost = [line for line in log.splitlines() if "lost (no record)" in line]
    assert len(lost) == 1 and f"{victim}_0_log.err" in lost[0] and "_log.out" in lost[0], log
    assert "cancelled" in lost[0] or "terminated" in lost[0], lost
    assert len(list(results.glob("*.h5"))) == 3
    again = run(*args, cwd=root)
    log2 = again.stdout + again.stderr
    assert again.returncode == 0, log2
    assert "sweep of 4 jobs: 3 already recorded, submitting 1" in log2
    assert len(list(results.glob("*.h5"))) == 4


def test_a_task_cancelled_while_pending_ends_the_wait_as_lost(tmp_path):
    """Slurm 22.05 keeps no accounting line for an array task cancelled before it started: the driver
    waited for it for ever (submitit's state stays UNKNOWN); now squeue's silence ends the wait."""
    root = _project(tmp_path)
    results = tmp_path / "r"
    args = _sleep_sweep(results, 4, "0,1,2", "hydra.launcher.jobs_per_task=1", "hydra.launcher.array_parallelism=1")
    status, log, victim = _cancel_one_during(args, root, results,
                                             lambda ids: (_in_state(ids[1:], "PENDING") or [None])[-1],
                                             "a pending task", timeout=400)
    assert status == 1, log
    lost = [line for line in log.splitlines() if "lost (no record)" in line]
    assert len(lost) == 1 and f"its Slurm task {victim} left the queue without a result" in lost[0], log
    assert len(list(results.glob("*.h5"))) == 2


def test_a_task_past_its_time_limit_is_reported_as_timed_out(tmp_path):
    root = _project(tmp_path)
    results = tmp_path / "r"
    t0 = time.monotonic()
    out = run(*_sleep_sweep(results, 600, "0", "hydra.launcher.timeout_min=1"), cwd=root)
    log = out.stdout + out.stderr
    assert out.returncode == 1, log
    line = next(line for line in log.splitlines() if "lost (no record)" in line)
    assert "timed out after 1 min: raise hydra.launcher.timeout_min" in line, line
    assert re.search(r"\(log: \S+_0_log\.err, \S+_0_log\.out\)", line), line
    assert time.monotonic() - t0 >= 55  # the limit was honoured: the task was not stopped at its start
    assert "UncompletedJobError" not in log and not list(results.glob("*.h5"))


def test_a_rerun_after_the_driver_was_killed_waits_for_its_tasks(tmp_path):
    root = _project(tmp_path)
    results = tmp_path / "r"
    args = _sleep_sweep(results, 15, "0,1,2,3", "hydra.launcher.jobs_per_task=1")
    driver = subprocess.Popen(_cmd(*args), cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        tasks = _wait_for(lambda: _submitted_tasks(results), 60, "the submission")
        _wait_for(lambda: _running([t["job_id"] for t in tasks]), 60, "a running task")
    finally:
        os.kill(driver.pid, signal.SIGKILL)  # the driver dies; its array keeps running
        driver.communicate(timeout=30)
    summary = subprocess.run([sys.executable, "-m", "nmfexp.results", "summary", str(results)], capture_output=True,
                             text=True, timeout=120).stdout
    assert "queued or running in Slurm" in summary, summary
    again = run(*args, cwd=root)
    log = again.stdout + again.stderr
    assert again.returncode == 0, log
    assert re.search(r"submitting 0, waiting for [1-4] that an earlier run submitted to Slurm", log), log
    records = list(results.glob("*.h5"))
    assert len(records) == 4
    # each job ran once: one 'start' line per job across every task log, no second submission
    starts = [line for p in results.glob("logs/*/.submitit/*/*_log.out") for line in p.read_text().splitlines()
              if "- start sleeper" in line]
    assert len(starts) == 4, starts
    assert len({json.dumps(t) for t in _submitted_tasks(results)}) == 4


def test_the_cluster_walkthrough_of_docs_running_md_runs_verbatim(tmp_path):
    text = (Path(__file__).parents[1] / "docs" / "running.md").read_text()
    block = text.split("<!-- cluster-walkthrough", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 5 and lines[0].startswith("NMFEXP_SUBMIT_ONLY=1 nmfexp-run")
    outs = []
    for line in lines:
        out = subprocess.run(["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, (line, out.stdout[-3000:], out.stderr[-3000:])
        outs.append(out.stdout + out.stderr)
    submit, summary, wait, sacct, again = outs
    assert "not waiting: the same command waits for them" in submit and "sweep finished" not in submit
    assert "latest sweep" in summary
    assert re.search(r"sweep of 8 jobs: \d already recorded, submitting 0, waiting for \d that an earlier run", wait) \
        or "sweep of 8 jobs: 8 already recorded" in wait, wait
    assert "nmfexp-smoke" in sacct and "COMPLETED" in sacct
    assert "sweep of 8 jobs: 8 already recorded, submitting 0" in again
    assert len(list((tmp_path / "cluster_results").glob("*.h5"))) == 8
