"""Solver zoo benchmark: per-iteration cost of each solver next to weighted MU.

Per-iteration time is the solver's own ``history["time"]`` (update time
only, objective evaluation off the clock) divided by its iteration count,
with ``tol=0`` so that every run does ``max_iter`` iterations. Every call goes
through :func:`nmfexp.factorize`, as users' calls do.
"""

from __future__ import annotations

import numpy as np

from ..api import factorize
from . import interleaved, ratio_line

__all__ = ["per_iteration", "zoo_suite", "bench_skewed"]


def per_iteration(names: list[str], X: np.ndarray, observed: np.ndarray, rank: int, iters: int,
                  repeats: int) -> dict[str, np.ndarray]:
    """Seconds per iteration of each solver, ``repeats`` interleaved runs of ``iters`` iterations."""
    samples = {name: [] for name in names}
    seeds = iter(range(1, 10**6))

    def runner(name):
        def run():
            res = factorize(X, observed, solver=name, rank=rank, max_iter=iters, tol=0.0, random_state=next(seeds))
            samples[name].append(res.history["time"][-1] / res.n_iter)

        return run

    interleaved({name: runner(name) for name in names}, repeats)
    return {k: np.asarray(v) for k, v in samples.items()}


def bench_zoo(n: int, rank: int, missing: float, iters: int, repeats: int, others: bool) -> list[str]:
    rng = np.random.default_rng(2022)
    X = rng.random((n, rank)) @ rng.random((rank, n)) + 0.1 * rng.random((n, n))
    observed = rng.random((n, n)) >= missing
    names = ["wnmf_fro", "hals"] + (["als", "gdcls", "kaczmarz"] if others else [])
    t = per_iteration(names, X, observed, rank, iters, repeats)
    base = t["wnmf_fro"]
    lines = [
        f"Per iteration at rank {rank}, {n}x{n}, {missing:.0%} random missing ({iters} iterations x {repeats} runs): "
        + ", ".join(f"{k} {np.median(v) * 1e3:.1f} ms" for k, v in t.items())
    ]
    lines.append(ratio_line("  hals / wnmf_fro per iteration", t["hals"], base, "goal <= 3x"))
    for name in names[2:]:
        lines.append(ratio_line(f"  {name} / wnmf_fro per iteration", t[name], base))
    return lines


def bench_skewed(shape: tuple[int, int], rank: int, repeats: int) -> list[str]:
    """als against hals on a very skewed matrix: whole runs (default tol), wall time, interleaved."""
    rng = np.random.default_rng(7)
    X = rng.random(shape)
    observed = rng.random(shape) >= 0.10
    iters = {}

    def runner(name):
        def run():
            iters[name] = factorize(X, observed, solver=name, rank=rank, random_state=0).n_iter

        return run

    t = interleaved({name: runner(name) for name in ("hals", "als")}, repeats)
    return [f"Whole runs on a skewed {shape[0]}x{shape[1]} matrix, rank {rank}, 10% random missing, default tol: "
            f"hals {np.median(t['hals']):.2f} s ({iters['hals']} iterations), "
            f"als {np.median(t['als']):.2f} s ({iters['als']} iterations)",
            ratio_line("  als / hals wall", t["als"], t["hals"], "goal <= 3x")]


def zoo_suite(quick: bool) -> list[str]:
    if quick:
        return bench_zoo(500, 10, 0.10, 10, 3, others=True) + bench_skewed((2, 20_000), 2, 3)
    lines = bench_zoo(2000, 10, 0.10, 10, 5, others=False)
    # Above 10% missing MaskOps switches from a sparse to a dense mask: show that path too,
    # and the other solvers once.
    lines += bench_zoo(2000, 10, 0.30, 5, 3, others=True)
    for shape in ((2, 100_000), (100_000, 2), (3, 50_000)):
        lines += bench_skewed(shape, 2, 3)
    return lines
