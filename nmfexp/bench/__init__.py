"""Speed benchmarks: ratios measured side by side in one run.

Machines are shared and noisy, so every figure is a ratio of two timings
taken in the same process, interleaved repetition by repetition, and both the
best-of and the median ratio are printed. Nothing here asserts a time.

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

import time

import numpy as np

__all__ = ["interleaved", "ratio_line"]


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
