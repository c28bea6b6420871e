"""Speed benchmarks: ratios measured side by side in one run.

Machines are shared and noisy, so every figure is a ratio of two timings
taken in the same run, interleaved repetition by repetition, and both the
best-of and the median ratio are printed. Every reference a goal is measured
against is measured in the same run (none is a number written down). A
per-iteration figure is the difference of the *minimums* of whole runs of
``2k`` and ``k`` iterations, divided by ``k`` (:func:`per_iteration`): the
minimum of per-repetition differences would pick the noisiest repetition. A
first call is timed in a fresh interpreter of its own (:func:`fresh_process`),
so that nothing another measurement loaded is already there. Nothing here
asserts a time.

    python -m nmfexp.bench              # core figures (A1GM, WNMF-KL)
    python -m nmfexp.bench --quick      # smaller sizes, a few seconds
    python -m nmfexp.bench --suite zoo  # solver zoo figures (HALS vs WNMF-Fro)
    python -m nmfexp.bench --suite all

BLAS threads are pinned to ``--threads`` (default 1) for every measurement,
so that both sides of a ratio get the same hardware.

Modules: :mod:`.core` (A1GM and WNMF-KL), :mod:`.zoo` (the solver zoo);
the shared timing helpers live here and import nothing from them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

__all__ = ["interleaved", "ratio_line", "per_iteration", "per_iteration_line", "fresh_process"]


def interleaved(funcs: dict, repeats: int) -> dict[str, np.ndarray]:
    """Time each callable ``repeats`` times, alternating between them."""
    samples = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f()
            samples[name].append(time.perf_counter() - t0)
    return {k: np.asarray(v) for k, v in samples.items()}


def ratio_line(label: str, num: np.ndarray, den: np.ndarray, note: str = "") -> str:
    best, med = num.min() / den.min(), np.median(num) / np.median(den)
    tail = f"   ({note})" if note else ""
    return f"{label}: {best:6.2f}x (best of {num.size})  {med:6.2f}x (median){tail}"


def per_iteration(short: np.ndarray, long: np.ndarray, k: int) -> tuple[float, float]:
    """Seconds per iteration from whole runs of ``k`` (``short``) and ``2k`` (``long``) iterations.

    Returns ``(best, median)``: the difference of the minimums and the
    difference of the medians, each divided by ``k``. Set-up, validation and
    initialisation cancel; the noise of one repetition does not become the
    result (a minimum of differences would keep the luckiest pair).
    """
    return (float(long.min() - short.min()) / k, float(np.median(long) - np.median(short)) / k)


def per_iteration_line(label: str, ours: tuple[float, float], theirs: tuple[float, float], note: str = "") -> str:
    """:func:`ratio_line` for two :func:`per_iteration` results; says so when a run of 2k was not slower."""
    if min(ours + theirs) <= 0:
        return (f"{label}: not measurable in this run (a run of 2k iterations was not slower than one of k: "
                "set-up noise exceeds the iterations)")
    tail = f"   ({note})" if note else ""
    return f"{label}: {ours[0] / theirs[0]:6.2f}x (best)  {ours[1] / theirs[1]:6.2f}x (median){tail}"


def fresh_process(code: str, env_extra: dict[str, str] | None = None, timeout: float = 1800) -> list[str]:
    """Run ``code`` in a fresh interpreter (nothing imported or loaded yet) and return its output lines.

    A failure comes back as one line saying so, with the child's last error line.
    """
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
        return [f"  (child process failed: {last})"]
    return proc.stdout.rstrip("\n").splitlines()
