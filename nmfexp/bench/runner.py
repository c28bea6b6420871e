"""Runner overhead: what a sweep costs per tiny job beyond the job's own work.

Each measurement is a whole ``nmfexp-run -m`` command in a fresh process on
the basic launcher, as a user runs it. The per-job overhead is the difference
between a sweep of N tiny jobs (A1GM on a 10 x 10 matrix, one timed call) and
a sweep of one such job, divided by N - 1, so Python's and Hydra's start-up
cancel out; both commands are timed interleaved, wall against wall. The same
is done for a rerun in which every record already exists (the sweep then only
plans, reads the records' headers and submits nothing).

A second measurement checks that a job's cost does not grow with the number
of files already in its results folder: :func:`nmfexp.experiment.run_job`
of tiny new jobs in folders holding 2,000, 20,000 and 100,000 files, the
folders taken in turn (interleaved). 0.2 listed the whole folder at every job
start (28.6 ms per job at 50,000 files).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["runner_suite"]


def _sweep(results: Path, n_jobs: int) -> float:
    seeds = f"seed=range(0,{n_jobs})"
    cmd = [sys.executable, "-m", "nmfexp.cli.run", "-m", "solver=a1gm", seeds, "dataset.n_rows=10",
           "timing=quick", f"results_dir={results}"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=results.parent)
    return time.perf_counter() - t0


def per_job_overhead(n_jobs: int, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per job for new jobs and for already-recorded jobs, ``repeats`` interleaved pairs each."""
    new, recorded = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeats):
            big, one = Path(tmp) / f"big{k}", Path(tmp) / f"one{k}"
            t_big, t_one = _sweep(big, n_jobs), _sweep(one, 1)  # fresh folders: every job is new
            new.append((t_big - t_one) / (n_jobs - 1))
            t_big, t_one = _sweep(big, n_jobs), _sweep(one, 1)  # the same again: every record exists
            recorded.append((t_big - t_one) / (n_jobs - 1))
    return np.asarray(new), np.asarray(recorded)


def _fill(folder: Path, n_files: int) -> None:
    """``n_files`` empty files named like records (what a large results folder holds)."""
    folder.mkdir(parents=True)
    for i in range(n_files):
        (folder / f"a1gm-{i:016x}.h5").touch()


def per_job_cost_vs_folder_size(sizes: tuple[int, ...], n_jobs: int, repeats: int) -> dict[int, np.ndarray]:
    """Seconds per :func:`run_job` of a new tiny job in a folder of ``size`` files, per size, ``repeats``
    rounds of ``n_jobs`` jobs, the sizes interleaved in every round."""
    from ..experiment import Job, run_job

    out: dict[int, list[float]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            _fill(Path(tmp) / f"f{n}", n)
        for r in range(repeats + 1):  # round 0 warms up (imports, kernels)
            for n in sizes:
                jobs = [Job.from_config({"dataset": {"kind": "uniform", "n_rows": 10}, "mask": {"kind": "grid", "rate": 0.05},
                                         "solver": {"name": "a1gm"}, "seed": r * 100000 + k,
                                         "timing": {"warmup": 0, "repeats": 1, "min_time": 0, "max_repeats": 1}},
                                        Path(tmp) / f"f{n}") for k in range(n_jobs)]
                t0 = time.perf_counter()
                for job in jobs:
                    run_job(job)
                if r:
                    out[n].append((time.perf_counter() - t0) / n_jobs)
    return {n: np.asarray(v) for n, v in out.items()}


def runner_suite(quick: bool) -> list[str]:
    sizes, n_folder_jobs = ((2_000, 20_000), 20) if quick else ((2_000, 20_000, 100_000), 50)
    by_size = per_job_cost_vs_folder_size(sizes, n_folder_jobs, 3)
    lines = [f"run_job of a new tiny job (A1GM on 10x10, one timed call) in a results folder that already holds N files "
             f"({n_folder_jobs} jobs per folder and round, folders interleaved, 3 rounds)"]
    for n in sizes:
        lines.append(f"  N = {n:>7,}: {np.min(by_size[n]) * 1e3:6.2f} ms per job (best of 3)  "
                     f"{np.median(by_size[n]) * 1e3:6.2f} ms (median)")
    big, small = by_size[sizes[-1]], by_size[sizes[0]]
    lines.append(f"  per-job cost at N = {sizes[-1]:,} / at N = {sizes[0]:,}: {np.min(big) / np.min(small):5.2f}x "
                 f"(best of 3)  {np.median(big) / np.median(small):5.2f}x (median)   (goal: about 1x, no growth with N)")
    n_jobs, repeats = (50, 2) if quick else (200, 3)
    new, recorded = per_job_overhead(n_jobs, repeats)
    what = (f"nmfexp-run -m, basic launcher, {n_jobs}-job sweep minus a 1-job sweep (wall, whole commands, "
            f"A1GM on 10x10 with one timed call per job)")
    return lines + [
        what,
        f"  per new job:             {np.min(new) * 1e3:6.1f} ms (best of {repeats})  "
        f"{np.median(new) * 1e3:6.1f} ms (median)   (goal <= 30 ms)",
        f"  per already-recorded job: {np.min(recorded) * 1e3:6.1f} ms (best of {repeats})  "
        f"{np.median(recorded) * 1e3:6.1f} ms (median)   (goal <= 5 ms)",
    ]


#: Launcher presets compared by :func:`launcher_suite`, with what each needs.
LAUNCHERS = {
    "basic": ([], None),
    "local_parallel": (["hydra/launcher=local_parallel"], "hydra_plugins.hydra_submitit_launcher"),
    "joblib": (["hydra/launcher=joblib"], "hydra_plugins.hydra_joblib_launcher"),
    "slurm": (["hydra/launcher=slurm"], "hydra_plugins.hydra_submitit_launcher"),
    "ray_local": (["hydra/launcher=ray_local"], "hydra_plugins.hydra_ray_launcher"),
}

#: The long workload: eight CPU-bound jobs (WNMF-KL, 600 x 600, rank 5, 5% missing at random, tol 0),
#: their iteration count chosen by :func:`calibrated_iterations` for ``job_seconds`` of solver time each.
LONG_JOBS = ["-m", "solver=wnmf_kl", "seed=range(0,8)", "dataset.n_rows=600", "rank=5", "mask=random",
             "mask.rate=0.05", "solver.params.tol=0", "timing=quick", "timing.warmup=0"]
#: The tiny workload: jobs of A1GM on 10 x 10 (one timed call each; 200 of them, seeds added by the
#: suite): what start-up and dispatch cost.
TINY_JOBS = ["-m", "solver=a1gm", "dataset.n_rows=10", "timing=quick", "timing.warmup=0"]
WORKLOADS = ("tiny", "long", "reproduce")


def calibrated_iterations(job_seconds: float) -> int:
    """WNMF-KL iterations that make one job of :data:`LONG_JOBS` take about ``job_seconds`` here (one
    core): two jobs of 20 and 120 iterations, run in this process, give the cost per iteration and the
    fixed cost of a job (data, mask, metrics, record)."""
    from ..experiment import Job, run_job

    def one(iters: int, folder: Path) -> float:
        job = Job.from_config({"dataset": {"kind": "uniform", "n_rows": 600}, "mask": {"kind": "random", "rate": 0.05},
                               "rank": 5, "solver": {"name": "wnmf_kl", "params": {"max_iter": iters, "tol": 0}},
                               "seed": 0, "timing": {"warmup": 0, "repeats": 1, "min_time": 0, "max_repeats": 1}},
                              folder)
        t0 = time.perf_counter()
        run_job(job)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        one(5, Path(tmp) / "warm")  # imports and kernels off the clock
        short, long_ = one(20, Path(tmp) / "a"), one(120, Path(tmp) / "b")
    per_iter = max((long_ - short) / 100, 1e-6)
    fixed = max(short - 20 * per_iter, 0.0)
    return max(1, int(round((job_seconds - fixed) / per_iter)))


def _available(name: str) -> bool:
    import importlib.util
    import shutil

    _, module = LAUNCHERS[name]
    if module is not None and importlib.util.find_spec(module) is None:
        return False
    if name == "slurm":
        return shutil.which("sinfo") is not None and subprocess.run(
            ["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    return True


#: Ray on loopback only (it otherwise binds the machine's address), without token authentication.
_RAY_LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=cwd, env={**os.environ, **_RAY_LOOPBACK})
    return time.perf_counter() - t0


def launcher_suite(quick: bool, job_seconds: float = 20.0, workloads: tuple[str, ...] = WORKLOADS,
                   launchers: tuple[str, ...] | None = None) -> list[str]:
    """Wall time of whole commands per launcher, side by side in one run, as ratios to the basic launcher.

    Workloads (``workloads``, in this order): ``tiny`` (:data:`TINY_JOBS`, 200 jobs of milliseconds:
    what start-up and dispatch cost), ``long`` (eight jobs of about ``job_seconds`` of solver time each,
    :data:`LONG_JOBS`) and ``reproduce`` (``nmfexp-reproduce --quick``, figures included). ``quick``
    runs the tiny workload with 20 jobs and the long one with 2-s jobs (a smoke check). The launchers of
    one workload run in turn, each command in a fresh process; Slurm when ``sinfo`` answers, Ray when
    it is installed; ``launchers`` (names of :data:`LAUNCHERS`, ``basic`` always included) limits them.
    """
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    if quick:
        job_seconds = min(job_seconds, 2.0)
    if launchers is not None and set(launchers) - set(LAUNCHERS):
        raise ValueError(f"unknown launcher(s) {', '.join(sorted(set(launchers) - set(LAUNCHERS)))}; choose from "
                         f"{', '.join(LAUNCHERS)}")
    wanted = [n for n in LAUNCHERS if launchers is None or n in launchers or n == "basic"]
    names = [n for n in wanted if _available(n)]
    missing = [n for n in wanted if n not in names]
    lines = [f"Launchers, whole commands, wall time (one round, launchers in turn; {os.cpu_count()} cores, "
             f"load average {os.getloadavg()[0]:.2f} at the start)"
             + (f"; not available here: {', '.join(missing)}" if missing else "")]
    n_tiny = 20 if quick else 200
    run = [sys.executable, "-m", "nmfexp.cli.run"]
    table = {
        "tiny": (f"{n_tiny} tiny jobs (A1GM 10x10)",
                 lambda extra, out: [*run, *TINY_JOBS, f"seed=range(0,{n_tiny})", f"results_dir={out / 'r'}", *extra]),
        "reproduce": ("nmfexp-reproduce --quick", lambda extra, out: [
            sys.executable, "-m", "nmfexp.reproduce", "--quick", "--results-dir", str(out / "r"), "--plots-dir",
            str(out / "p"), "--", *extra]),
    }
    if "long" in workloads:
        iters = calibrated_iterations(job_seconds)
        table["long"] = (f"8 jobs of ~{job_seconds:g} s (WNMF-KL 600x600, {iters} iterations)",
                         lambda extra, out: [*run, *LONG_JOBS, f"solver.params.max_iter={iters}",
                                             f"results_dir={out / 'r'}", *extra])
    with tempfile.TemporaryDirectory() as tmp:
        for key in [w for w in WORKLOADS if w in workloads]:
            what, make = table[key]
            walls = {}
            for name in names:
                out = Path(tmp) / f"{key}-{name}"
                out.mkdir()
                walls[name] = _timed(make(LAUNCHERS[name][0], out), out)
            base = walls["basic"]
            lines.append(f"  {what}: " + " / ".join(f"{n} {w:.0f} s" for n, w in walls.items())
                         + f"   (load average {os.getloadavg()[0]:.2f} at the end)")
            lines += [f"    {n} / basic: {w / base:5.2f}x" for n, w in walls.items() if n != "basic"]
    return lines
