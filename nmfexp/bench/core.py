"""Core benchmarks: A1GM against one read pass and against WNMF-KL; the iterative solvers against
scikit-learn, the sparse path and peak memory (:mod:`.peers`)."""

from __future__ import annotations

import numpy as np

from .. import factorize
from ..data.masks import make_mask
from . import interleaved, ratio_line
from .peers import bench_memory, bench_peers, bench_sparse

__all__ = ["core_suite"]


# The inputs A1GM is timed on: how the missing entries are marked and the memory order.
A1GM_CASES = {
    "a": "bool mask, zeros at gaps",
    "b": "NaN at gaps, no mask",
    "c": "NaN at gaps, no mask, Fortran order",
    "c+mask": "bool mask, zeros at gaps, both Fortran order",
}


def _a1gm_case(case: str, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(0)
    X = rng.random((n, n))
    observed = make_mask("grid", (n, n), 0.05, rng)
    if case in ("a", "c+mask"):
        X[~observed] = 0.0
    else:
        X[~observed] = np.nan
        observed = None
    if case.startswith("c"):
        X = np.asfortranarray(X)
        observed = None if observed is None else np.asfortranarray(observed)
    return X, observed


def bench_a1gm_vs_read(sizes: tuple[int, ...], repeats: int, cases=tuple(A1GM_CASES)) -> list[str]:
    """A1GM (public call) against one read pass ``X.sum()`` of the same array, both kernels."""
    from ..solvers import _a1gm_kernel as kernel

    kernels = {"numba": "numba", "NumPy": "numpy"} if kernel.numba_enabled() else {"NumPy": "numpy"}
    saved = kernel.BACKEND
    lines = [f"A1GM vs one read pass: factorize(X, mask, solver='a1gm') against X.sum() of the same X, "
             f"5% grid-like missing entries, interleaved {repeats} times; BLAS kernel {_blas_kernel()}"
             + ("" if "numba" in kernels else " (numba not available: NumPy kernel only)")]
    try:
        for n in sizes:
            for case in cases:
                t = _time_a1gm_and_read(*_a1gm_case(case, n), kernels, repeats)
                for label in kernels:
                    lines.append(ratio_line(
                        f"  {n}x{n} {'(' + case + ')':<8} {A1GM_CASES[case]:<44} {label:>5} / read", t[label], t["read"],
                        f"goal <= 1.3x; median {np.median(t[label]) * 1e3:.1f} vs {np.median(t['read']) * 1e3:.1f} ms"))
    finally:
        kernel.BACKEND = saved
    return lines


def _time_a1gm_and_read(X, observed, kernels: dict[str, str], repeats: int) -> dict[str, np.ndarray]:
    from ..solvers import _a1gm_kernel as kernel

    funcs = {"read": X.sum}
    for label, backend in kernels.items():
        def call(backend=backend):
            kernel.BACKEND = backend
            factorize(X, mask=observed, solver="a1gm")

        call()  # warm-up: compilation or loading the cached kernel stays off the clock
        funcs[label] = call
    return interleaved(funcs, repeats)


def _blas_kernel() -> str:
    from threadpoolctl import threadpool_info

    found = {f"{i.get('internal_api')} {i.get('architecture')}" for i in threadpool_info() if i.get("user_api") == "blas"}
    return ", ".join(sorted(found)) or "unknown"


def _child(code: str, env_extra: dict[str, str], timeout: float = 1800) -> list[str]:
    """Run ``code`` in a fresh interpreter (for settings read when numpy or numba load)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, **env_extra)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return [f"  (child process failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode})"]
    return proc.stdout.rstrip("\n").splitlines()


def bench_a1gm_vs_read_haswell(n: int, repeats: int, threads: int) -> list[str]:
    """The same ratios with OpenBLAS forced to its Haswell kernel (set before numpy loads, so in a child)."""
    code = ("from threadpoolctl import threadpool_limits\n"
            "from nmfexp.bench.core import bench_a1gm_vs_read\n"
            f"with threadpool_limits({threads}):\n"
            f"    print('\\n'.join(bench_a1gm_vs_read(({n},), {repeats}, ('a', 'b'))))\n")
    lines = _child(code, {"OPENBLAS_CORETYPE": "Haswell"})
    return ["Under OPENBLAS_CORETYPE=Haswell (child process): " + lines[0]] + lines[1:]


def bench_a1gm_first_call(n: int) -> list[str]:
    """What a user pays on the first A1GM call in a fresh process: compiling, then loading the cached kernels."""
    import tempfile

    code = ("import time\nt0 = time.perf_counter()\n"
            "import numpy as np, nmfexp\n"
            "from nmfexp.solvers._a1gm_kernel import numba_enabled\n"
            "t1 = time.perf_counter()\n"
            f"X = np.random.default_rng(0).random(({n}, {n})); X[:3, :3] = np.nan\n"
            "calls = []\n"
            "for mask in (None, ~np.isnan(X)):\n"
            "    for _ in range(2):\n"
            "        t = time.perf_counter(); nmfexp.factorize(X, mask=mask, solver='a1gm'); calls.append(time.perf_counter() - t)\n"
            "print(numba_enabled(), t1 - t0, *calls)\n")
    out = []
    with tempfile.TemporaryDirectory() as cache:
        for what in ("empty kernel cache (compiles)", "kernels cached on disk"):
            res = _child(code, {"NUMBA_CACHE_DIR": cache})[-1].split()
            if len(res) != 6:
                return [f"A1GM first call: {' '.join(res)}"]
            enabled, imp, nan1, nan2, mask1, mask2 = res[0] == "True", *map(float, res[1:])
            out.append(f"  {what}: import nmfexp {imp:.2f} s; first call NaN-marked {nan1:.2f} s (second {nan2 * 1e3:.1f} ms), "
                       f"first call with a mask {mask1:.2f} s (second {mask2 * 1e3:.1f} ms)")
    head = f"A1GM first call in a fresh process ({n}x{n}; kernel: {'numba' if enabled else 'NumPy'})"
    return [head] + out


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


def core_suite(quick: bool) -> list[str]:
    from threadpoolctl import threadpool_info

    threads = min((i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"), default=1)
    if quick:
        return (bench_a1gm_vs_read((1000,), 5) + bench_a1gm_vs_read_haswell(1000, 5, threads)
                + bench_a1gm_first_call(200) + bench_a1gm_vs_wnmf(204, 3)
                + bench_peers(300, 10, 10, 3) + bench_sparse(1000, 0.99, 10, 10, 3, 300, 5)
            + bench_memory(600, 10, 0.3, 2))
    return (bench_a1gm_vs_read((4000, 8000), 15) + bench_a1gm_vs_read_haswell(4000, 15, threads)
            + bench_a1gm_first_call(1000) + bench_a1gm_vs_wnmf(1995, 5)
            + bench_peers(2000, 10, 20, 7) + bench_sparse(5000, 0.99, 10, 20, 5, 5000, 20)
            + bench_memory(4000, 10, 0.3, 3))
