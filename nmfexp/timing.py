"""Runtime measurement: warm-up, repeated samples, a time budget, pinned BLAS threads.

Each sample is the wall-clock time (``time.perf_counter``) of one complete
call, in seconds. The call is repeated at least ``repeats`` times and, for
fast calls, until the samples add up to ``min_time`` seconds (at most
``max_repeats`` samples), in the spirit of BenchmarkTools.jl; once the
samples add up to ``max_time`` no new sample is started, so slow calls are
measured fewer times (never less than once). The garbage collector is off
while timing, as in :mod:`timeit`.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_number

__all__ = ["Timing", "measure", "blas_threads"]


@dataclass
class Timing:
    """The samples of one measurement.

    Attributes
    ----------
    samples : ndarray of shape (k,)
        Seconds per call, one entry per timed call, in the order taken.
    warmup : int
        Untimed calls made before the samples.
    """

    samples: np.ndarray
    warmup: int

    def summary(self) -> dict[str, float]:
        """``runtime_mean``, ``runtime_std`` (ddof=1, 0 for one sample), ``runtime_median``, ``runtime_min``."""
        s = self.samples
        return {
            "runtime_mean": float(s.mean()),
            "runtime_std": float(s.std(ddof=1)) if s.size > 1 else 0.0,
            "runtime_median": float(np.median(s)),
            "runtime_min": float(s.min()),
        }


def measure(func: Callable[[], Any], *, warmup: int = 1, repeats: int = 5, min_time: float = 0.02,
            max_repeats: int = 1000, max_time: float = 60.0) -> tuple[Any, Timing]:
    """Call ``func()`` repeatedly and time each call.

    Parameters
    ----------
    func : callable
        Called without arguments; it should do the same work each time.
    warmup : int
        Untimed calls first (caches, lazy imports, page faults).
    repeats : int
        Minimum number of timed calls (>= 1).
    min_time : float
        Keep sampling until the samples add up to this many seconds ...
    max_repeats : int
        ... but never take more than this many samples.
    max_time : float
        Start no new sample once the samples add up to this many seconds.

    Returns
    -------
    result
        What the first call returned (warm-up or timed).
    Timing
        The samples in seconds.
    """
    warmup = check_number(warmup, "timing.warmup", kind="integer", low=0)
    repeats = check_number(repeats, "timing.repeats", kind="integer", low=1)
    max_repeats = check_number(max_repeats, "timing.max_repeats", kind="integer", low=1)
    # Seconds; inf is allowed (no minimum total / no budget).
    min_time = check_number(min_time, "timing.min_time", low=0, high=math.inf)
    max_time = check_number(max_time, "timing.max_time", low=0, high=math.inf)

    result, have_result = None, False
    for _ in range(warmup):
        out = func()
        if not have_result:
            result, have_result = out, True

    samples: list[float] = []
    total = 0.0
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while True:
            t0 = time.perf_counter()
            out = func()
            dt = time.perf_counter() - t0
            samples.append(dt)
            total += dt
            if not have_result:
                result, have_result = out, True
            out = None
            k = len(samples)
            if k >= max_repeats or total >= max_time:
                break
            if k >= repeats and total >= min_time:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return result, Timing(samples=np.asarray(samples), warmup=warmup)


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS (and OpenMP) threads to ``n`` inside the block; ``None`` changes nothing."""
    if n is None:
        yield
        return
    n = check_number(n, "timing.blas_threads", kind="integer", low=1)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield
