"""Runner overhead: what a sweep costs per tiny job beyond the job's own work.

Each measurement is a whole ``nmfexp-run -m`` command in a fresh process on
the basic launcher, as a user runs it. The per-job overhead is the difference
between a sweep of N tiny jobs (A1GM on a 10 x 10 matrix, one timed call) and
a sweep of one such job, divided by N - 1, so Python's and Hydra's start-up
cancel out; both commands are timed interleaved, wall against wall. The same
is done for a rerun in which every record already exists (the sweep then only
plans, reads the records' headers and submits nothing).
"""

from __future__ import annotations

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


def runner_suite(quick: bool) -> list[str]:
    n_jobs, repeats = (50, 2) if quick else (200, 3)
    new, recorded = per_job_overhead(n_jobs, repeats)
    what = (f"nmfexp-run -m, basic launcher, {n_jobs}-job sweep minus a 1-job sweep (wall, whole commands, "
            f"A1GM on 10x10 with one timed call per job)")
    return [
        what,
        f"  per new job:             {np.min(new) * 1e3:6.1f} ms (best of {repeats})  "
        f"{np.median(new) * 1e3:6.1f} ms (median)   (goal <= 30 ms)",
        f"  per already-recorded job: {np.min(recorded) * 1e3:6.1f} ms (best of {repeats})  "
        f"{np.median(recorded) * 1e3:6.1f} ms (median)   (goal <= 5 ms)",
    ]
