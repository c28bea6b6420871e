"""Speed benchmarks: ratios measured side by side in one run.

Machines are shared and noisy, so every figure is a ratio of two timings
taken in the same process, interleaved repetition by repetition, and both the
best-of and the median ratio are printed. Nothing here asserts a time.

    python -m nmfexp.bench              # core figures (A1GM, WNMF-KL)
    python -m nmfexp.bench --quick      # smaller sizes, a few seconds
    python -m nmfexp.bench --suite zoo  # solver zoo figures (HALS vs WNMF-Fro)

BLAS threads are pinned to ``--threads`` (default 1) for every measurement,
so that both sides of a ratio get the same hardware.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from . import factorize
from .data.masks import make_mask

__all__ = ["interleaved", "main"]


def interleaved(funcs: dict, repeats: int) -> dict[str, np.ndarray]:
    """Time each callable ``repeats`` times, alternating between them."""
    samples = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f()
            samples[name].append(time.perf_counter() - t0)
    return {k: np.asarray(v) for k, v in samples.items()}


def _ratio_line(label: str, num: np.ndarray, den: np.ndarray, note: str = "") -> str:
    best, med = num.min() / den.min(), np.median(num) / np.median(den)
    tail = f"   ({note})" if note else ""
    return f"{label}: {best:6.2f}x (best of {num.size})  {med:6.2f}x (median){tail}"


def bench_a1gm_vs_read(n: int, repeats: int) -> list[str]:
    rng = np.random.default_rng(0)
    X = rng.random((n, n))
    observed = make_mask("grid", (n, n), 0.05, rng)
    X[~observed] = 0.0
    t = interleaved({"read": X.sum, "a1gm": lambda: factorize(X, mask=observed, solver="a1gm")}, repeats)
    return [
        f"A1GM {n}x{n}, 5% grid mask, full public call: {np.median(t['a1gm']) * 1e3:.1f} ms; "
        f"one read pass (X.sum()): {np.median(t['read']) * 1e3:.1f} ms",
        _ratio_line("  A1GM / one read pass", t["a1gm"], t["read"], "goal <= 4x"),
    ]


def bench_a1gm_vs_wnmf(n: int, repeats: int) -> list[str]:
    rng = np.random.default_rng(1)
    X = rng.random((n, n))
    observed = make_mask("grid", (n, n), 0.05, rng)
    seeds = iter(range(10**6))
    iters = []

    def wnmf():
        iters.append(factorize(X, mask=observed, solver="wnmf_kl", rank=1, random_state=next(seeds)).n_iter)

    t = interleaved({"a1gm": lambda: factorize(X, mask=observed, solver="a1gm"), "wnmf": wnmf}, repeats)
    return [
        f"A1GM vs WNMF-KL (rank 1, paper defaults) at n = {n}, 5% grid mask: "
        f"A1GM {np.median(t['a1gm']) * 1e3:.1f} ms, WNMF {np.median(t['wnmf']) * 1e3:.1f} ms "
        f"({np.median(iters):.0f} iterations, objective evaluated every iteration as the paper's rule needs)",
        _ratio_line("  WNMF-KL / A1GM speed ratio", t["wnmf"], t["a1gm"], "the reference Julia code measured ~14x near n = 1258"),
    ]


def bench_wnmf_vs_sklearn(n: int, rank: int, iters: int, repeats: int) -> list[str]:
    try:
        from sklearn.decomposition import NMF
    except ImportError:
        return ["WNMF-KL vs scikit-learn: skipped (pip install scikit-learn, or the 'bench' extra)"]
    X = np.random.default_rng(2).random((n, n))
    ours, theirs = [], []

    def run_ours():
        res = factorize(X, solver="wnmf_kl", rank=rank, tol=0.0, max_iter=iters, random_state=0)
        ours.append(res.history["time"][-1] / res.n_iter)  # update time only: objective off the clock

    def sk(k):
        t0 = time.perf_counter()
        # tol=0: scikit-learn then never evaluates its objective.
        NMF(rank, solver="mu", beta_loss="kullback-leibler", init="random", tol=0, max_iter=k,
            random_state=0).fit_transform(X)
        return time.perf_counter() - t0

    def run_theirs():  # difference of two run lengths cancels set-up and initialisation
        theirs.append((sk(2 * iters) - sk(iters)) / iters)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interleaved({"ours": run_ours, "theirs": run_theirs}, repeats)
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    return [
        f"WNMF-KL per iteration, rank {rank}, fully observed {n}x{n}: ours {np.median(ours) * 1e3:.1f} ms, "
        f"scikit-learn NMF(mu, KL) {np.median(theirs) * 1e3:.1f} ms (objective evaluation left out on both sides)",
        _ratio_line("  WNMF-KL / scikit-learn per iteration", ours, theirs, "goal <= 1.2x"),
    ]


def core_suite(quick: bool) -> list[str]:
    if quick:
        return (bench_a1gm_vs_read(1000, 5) + bench_a1gm_vs_wnmf(204, 3)
                + bench_wnmf_vs_sklearn(300, 10, 5, 2))
    return (bench_a1gm_vs_read(4000, 15) + bench_a1gm_vs_wnmf(1995, 5)
            + bench_wnmf_vs_sklearn(2000, 10, 20, 3))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nmfexp.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, for a smoke check)")
    parser.add_argument("--suite", choices=["core", "zoo", "all"], default="core")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for every measurement (default 1)")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        print(f"nmfexp benchmarks (BLAS threads: {args.threads}; ratios are side by side in this run)")
        if args.suite in ("core", "all"):
            for line in core_suite(args.quick):
                print(line, flush=True)
        if args.suite in ("zoo", "all"):
            from .bench_zoo import zoo_suite

            for line in zoo_suite(args.quick):
                print(line, flush=True)


if __name__ == "__main__":
    main()
