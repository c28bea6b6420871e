"""Core benchmarks: A1GM against one read pass and against WNMF-KL, WNMF-KL against scikit-learn."""

from __future__ import annotations

import time
import warnings

import numpy as np

from .. import factorize
from ..data.masks import make_mask
from . import interleaved, ratio_line

__all__ = ["core_suite"]


def bench_a1gm_vs_read(n: int, repeats: int) -> list[str]:
    rng = np.random.default_rng(0)
    X = rng.random((n, n))
    observed = make_mask("grid", (n, n), 0.05, rng)
    X[~observed] = 0.0
    t = interleaved({"read": X.sum, "a1gm": lambda: factorize(X, mask=observed, solver="a1gm")}, repeats)
    return [
        f"A1GM {n}x{n}, 5% grid mask, full public call: {np.median(t['a1gm']) * 1e3:.1f} ms; "
        f"one read pass (X.sum()): {np.median(t['read']) * 1e3:.1f} ms",
        ratio_line("  A1GM / one read pass", t["a1gm"], t["read"], "goal <= 4x"),
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
        ratio_line("  WNMF-KL / A1GM speed ratio", t["wnmf"], t["a1gm"], "the reference Julia code measured ~14x near n = 1258"),
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
        ratio_line("  WNMF-KL / scikit-learn per iteration", ours, theirs, "goal <= 1.2x"),
    ]


def core_suite(quick: bool) -> list[str]:
    if quick:
        return (bench_a1gm_vs_read(1000, 5) + bench_a1gm_vs_wnmf(204, 3)
                + bench_wnmf_vs_sklearn(300, 10, 5, 2))
    return (bench_a1gm_vs_read(4000, 15) + bench_a1gm_vs_wnmf(1995, 5)
            + bench_wnmf_vs_sklearn(2000, 10, 20, 3))
