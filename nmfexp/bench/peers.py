"""Solvers against their best peers, the sparse path, and peak memory.

What is timed, on both sides of every ratio: the wall time of a whole call
(``nmfexp.factorize`` or ``NMF(...).fit_transform``), per iteration as the
difference between the fastest run of ``2k`` and the fastest run of ``k``
iterations divided by ``k`` (:func:`nmfexp.bench.per_iteration`; medians
too), which cancels set-up, validation and initialisation on both sides. Runs
of ``k`` and ``2k`` iterations of every side are interleaved, and every goal's
reference (a plain multiplicative update on the stored entries, scikit-learn,
scikit-surprise) is measured in the same run.
scikit-learn runs with ``tol=0``, so it never evaluates its objective. Ours
is timed twice: with ``eval_every`` equal to the run length (the objective
only at the start and the end, which the difference cancels: the same work
as scikit-learn's), and with the default ``eval_every=1`` (the objective
after every iteration, as the paper's stopping rule needs: the goal's
measure, more work than scikit-learn does).

Memory is the peak of what numpy allocates during the call (``tracemalloc``,
to which numpy reports its buffers), beyond the input that already exists,
divided by the bytes of ``X``.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp

from .. import factorize
from . import interleaved, per_iteration, per_iteration_line

__all__ = ["bench_peers", "bench_sparse", "bench_sparse_solvers", "bench_memory", "peak_extra_bytes", "sparse_suite"]

# Our solver, scikit-learn's NMF arguments for the same algorithm, the goal.
PEERS = {
    "wnmf_fro": ({"solver": "mu", "beta_loss": "frobenius"}, 1.1),
    "wnmf_kl": ({"solver": "mu", "beta_loss": "kullback-leibler"}, 1.1),
    "hals": ({"solver": "cd"}, 1.1),
}


def _wall(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def bench_peers(n: int, rank: int, iters: int, repeats: int) -> list[str]:
    """Per-iteration wall time of wnmf_fro, wnmf_kl and hals against scikit-learn, fully observed ``n x n``."""
    try:
        from sklearn.decomposition import NMF
    except ImportError:
        return ["Solvers vs scikit-learn: skipped (pip install scikit-learn, or the 'bench' extra)"]
    X = np.random.default_rng(2).random((n, n))
    lines = [f"Per iteration vs scikit-learn, fully observed {n}x{n}, rank {rank}: wall time of the whole call, "
             f"(run of {2 * iters} - run of {iters}) / {iters}, interleaved {repeats} times; scikit-learn tol=0 "
             "(no objective)"]
    for name, (kw, goal) in PEERS.items():
        lines += _peer(X, name, kw, goal, NMF, rank, iters, repeats)
    return lines


def _peer(X, name: str, kw: dict, goal: float, NMF, rank: int, iters: int, repeats: int) -> list[str]:
    def ours(k, every):
        return lambda: factorize(X, solver=name, rank=rank, tol=0.0, max_iter=k, random_state=0, eval_every=every)

    def theirs(k):
        return lambda: NMF(rank, init="random", tol=0, max_iter=k, random_state=0, **kw).fit_transform(X)

    runs = {"same k": ours(iters, iters), "same 2k": ours(2 * iters, 2 * iters),
            "every k": ours(iters, 1), "every 2k": ours(2 * iters, 1), "sk k": theirs(iters), "sk 2k": theirs(2 * iters)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's "maximum number of iterations reached"
        t = interleaved(runs, repeats)
    same, every, sk = (per_iteration(t[f"{k} k"], t[f"{k} 2k"], iters) for k in ("same", "every", "sk"))
    sk_name = f"NMF({kw['solver']}{', KL' if kw.get('beta_loss') == 'kullback-leibler' else ''})"
    return [
        f"  {name}: ours {same[1] * 1e3:.1f} ms (objective every iteration: {every[1] * 1e3:.1f} ms), "
        f"scikit-learn {sk_name} {sk[1] * 1e3:.1f} ms (medians)",
        per_iteration_line(f"    {name} / scikit-learn, the same work (no objective on either side)", same, sk),
        per_iteration_line(f"    {name} / scikit-learn, ours with the objective every iteration", every, sk,
                           f"goal <= {goal}x"),
    ]


def _mostly_missing(n: int, missing: float, rank: int, seed: int = 0):
    """Low-rank-plus-noise ``n x n`` data with a random mask; dense with mask, and the CSR of the observed entries."""
    rng = np.random.default_rng(seed)
    nnz = int(round((1 - missing) * n * n))
    flat = np.sort(rng.choice(n * n, size=nnz, replace=False))
    rows, cols = np.divmod(flat, n)
    A, B = rng.random((n, rank)), rng.random((rank, n))
    vals = np.einsum("kr,rk->k", A[rows], B[:, cols]) + 0.1 * rng.random(nnz)
    return sp.csr_array((vals, (rows, cols)), shape=(n, n))


def _sparse_runs(S, name: str, rank: int, iters: int, dense: bool = False, every: bool = True) -> dict:
    """Whole calls of ``k`` and ``2k`` iterations (``every``: the objective after every iteration), warmed up;
    ``{"k": call, "2k": call, "iters": k}``."""
    if dense:
        X = S.toarray()
        obs = np.zeros(S.shape, dtype=bool)
        obs[np.repeat(np.arange(S.shape[0]), np.diff(S.indptr)), S.indices] = True
        args = (X, obs)
    else:
        args = (S, "stored")

    def call(k):
        return lambda: factorize(*args, solver=name, rank=rank, tol=0.0, max_iter=k, random_state=0,
                                 eval_every=1 if every else k)

    call(1)()  # warm-up (the compiled sampled product loads or compiles here)
    return {"k": call(iters), "2k": call(2 * iters), "iters": iters}


def plain_mu(S, rank: int, iters: int, seed: int = 0, compiled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The reference for the sparse path: Lee-Seung Frobenius multiplicative updates on the stored entries
    of CSR ``S`` (what ``wnmf_fro`` computes), written plainly with scipy.sparse products, no objective.

    ``compiled``: the sampled product ``(A B)`` at the stored entries by the package's numba loop
    (:func:`nmfexp.solvers._sparse.sampled_product`) instead of a NumPy gather of ``nnz x rank``.
    """
    from ..solvers._sparse import sampled_product

    n, m = S.shape
    rows, cols = np.repeat(np.arange(n), np.diff(S.indptr)), S.indices
    rng = np.random.default_rng(seed)
    A, B = rng.random((n, rank)), rng.random((rank, m))
    St = S.T.tocsr()

    def sampled(A, B):  # (A B) on the stored entries, in S's pattern
        v = sampled_product(S.indptr, S.indices, A, B) if compiled else np.einsum("ij,ij->i", A[rows], B.T[cols])
        return sp.csr_array((v, S.indices, S.indptr), shape=S.shape)

    for _ in range(iters):
        B *= (St @ A).T / ((sampled(A, B).T @ A).T + 1e-300)
        A *= (S @ B.T) / (sampled(A, B) @ B.T + 1e-300)
    return A, B


def bench_sparse(n: int, missing: float, rank: int, iters: int, repeats: int, n_cmp: int,
                 surprise_epochs: int) -> list[str]:
    """The sparse path at ``n x n`` with ``missing`` of the entries missing: time, memory, per-entry cost."""
    from ..solvers import SOLVERS
    from ..solvers._sparse import _jit

    S = _mostly_missing(n, missing, rank)
    lines = [f"Sparse path (scipy.sparse X, mask='stored'), {n}x{n}, {missing:.0%} missing ({S.nnz} observed), "
             f"rank {rank}; sampled product: {'numba' if _jit() else 'NumPy'}; per iteration = (fastest run of "
             f"{2 * iters} - fastest of {iters}) / {iters}, every side interleaved {repeats} times"]
    every = _sparse_runs(S, "wnmf_fro", rank, iters)
    plain = _sparse_runs(S, "wnmf_fro", rank, iters, every=False)
    t = interleaved({"every k": every["k"], "every 2k": every["2k"], "plain k": plain["k"], "plain 2k": plain["2k"],
                     "mu k": lambda: plain_mu(S, rank, iters), "mu 2k": lambda: plain_mu(S, rank, 2 * iters)}, repeats)
    t_every, t_plain, t_mu = (per_iteration(t[f"{k} k"], t[f"{k} 2k"], iters) for k in ("every", "plain", "mu"))
    lines.append(f"  wnmf_fro per iteration (wall): {t_every[0] * 1e3:.1f} ms best, {t_every[1] * 1e3:.1f} ms median "
                 f"with the objective every iteration; {t_plain[0] * 1e3:.1f} / {t_plain[1] * 1e3:.1f} ms without; "
                 f"plain MU on the stored entries (scipy.sparse products, this run): {t_mu[0] * 1e3:.1f} / "
                 f"{t_mu[1] * 1e3:.1f} ms")
    lines.append(per_iteration_line("  wnmf_fro with the objective every iteration / plain MU on the stored entries",
                                    t_every, t_mu, "goal <= 2x"))
    peak = peak_extra_bytes(lambda: factorize(S, "stored", solver="wnmf_fro", rank=rank, tol=0.0, max_iter=iters,
                                              random_state=0))
    peak_mu = peak_extra_bytes(lambda: plain_mu(S, rank, iters))
    lines.append(f"  wnmf_fro peak extra memory of the whole call ({iters} iterations, set-up included): "
                 f"{peak / 2**20:.1f} MB; plain MU on the stored entries {peak_mu / 2**20:.1f} MB "
                 f"({peak / peak_mu:.2f}x; goal <= 2x)")
    lines += _bench_surprise(S, rank, surprise_epochs, plain, repeats)
    # Per observed entry against the dense path on the same data (smaller, so the dense path runs in seconds).
    Sc = _mostly_missing(n_cmp, missing, rank, seed=1)
    lines.append(f"  per-entry cost, sparse path / dense path with the same mask, {n_cmp}x{n_cmp}, {missing:.0%} "
                 f"missing: (time per iteration / observed entries) / (time per iteration / all entries)")
    # Solvers with a free start (a1gm_polish starts from A1GM, which refuses data without a complete line).
    for name in [n for n, spec in SOLVERS.items() if spec.sparse and "init" in spec.parameters]:
        # the dense path takes ~0.4 s per iteration: fewer of them, but enough that 2k - k is not swamped by the
        # noise of its set-up (a few passes over n x n)
        k_dense = max(4, iters // 4)
        sparse, dense = _sparse_runs(Sc, name, rank, iters), _sparse_runs(Sc, name, rank, k_dense, dense=True)
        t = interleaved({"s k": sparse["k"], "s 2k": sparse["2k"], "d k": dense["k"], "d 2k": dense["2k"]},
                        max(2, repeats // 2))
        ts, td = per_iteration(t["s k"], t["s 2k"], iters), per_iteration(t["d k"], t["d 2k"], k_dense)
        per_entry = (tuple(v / Sc.nnz for v in ts), tuple(v / (n_cmp * n_cmp) for v in td))
        lines.append(per_iteration_line(f"    {name:<8}", *per_entry,
                                        f"goal <= 3x; {ts[1] * 1e3:.1f} ms vs {td[1] * 1e3:.1f} ms per iteration"))
    return lines


def _bench_surprise(S, rank: int, epochs: int, ours: dict, repeats: int) -> list[str]:
    try:
        from surprise import NMF as SurpriseNMF
        from surprise import Dataset, Reader
    except ImportError:
        return ["  scikit-surprise: not installed (it builds from source and may fail to; comparison skipped)"]
    import pandas as pd

    coo = S.tocoo()
    df = pd.DataFrame({"u": coo.row, "i": coo.col, "r": coo.data})
    trainset = Dataset.load_from_df(df, Reader(rating_scale=(0, float(coo.data.max())))).build_full_trainset()

    def theirs(k):
        return lambda: SurpriseNMF(n_factors=rank, n_epochs=k, random_state=0).fit(trainset)

    # Both sides interleaved run by run.
    t = interleaved({"ours k": ours["k"], "ours 2k": ours["2k"], "theirs k": theirs(epochs),
                     "theirs 2k": theirs(2 * epochs)}, repeats)
    k_ours = ours["iters"]
    t_ours, t_theirs = per_iteration(t["ours k"], t["ours 2k"], k_ours), per_iteration(t["theirs k"], t["theirs 2k"], epochs)
    return [per_iteration_line("  wnmf_fro (no objective) / scikit-surprise NMF, per iteration vs per epoch (one "
                               "pass of its per-rating multiplicative updates over the observed entries), interleaved",
                               t_ours, t_theirs, f"theirs {t_theirs[1] * 1e3:.1f} ms median")]


def peak_extra_bytes(call) -> int:
    """Peak bytes numpy (and Python) allocate during ``call()`` beyond what existed before."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def bench_memory(n: int, rank: int, missing: float, iters: int) -> list[str]:
    """Peak extra memory of every iterative solver on dense ``n x n`` data, relative to ``X``."""
    from ..solvers import SOLVERS

    rng = np.random.default_rng(3)
    X = rng.random((n, n))
    obs = rng.random((n, n)) >= missing
    lines = [f"Peak extra memory / input, dense {n}x{n} ({X.nbytes / 2**20:.0f} MB), rank {rank}, {missing:.0%} "
             f"random missing (boolean mask of {obs.nbytes / 2**20:.0f} MB given), {iters} iterations "
             "(tracemalloc; goal <= 2x)"]
    for name in sorted(k for k, s in SOLVERS.items() if s.iterative and "init" in s.parameters):  # free starts
        peak = peak_extra_bytes(lambda name=name: factorize(X, obs, solver=name, rank=rank, max_iter=iters, tol=0.0,
                                                            random_state=0))
        full = peak_extra_bytes(lambda name=name: factorize(X, solver=name, rank=rank, max_iter=iters, tol=0.0,
                                                            random_state=0))
        lines.append(f"  {name:<8}  with the mask {peak / X.nbytes:5.2f}x   fully observed {full / X.nbytes:5.2f}x")
    return lines


def _observed_entries(n: int, m: int, nnz: int, rank: int, seed: int = 0) -> sp.csr_array:
    """Low-rank-plus-noise ``n x m`` data observed at ``nnz`` random entries, as CSR (the stored entries)."""
    rng = np.random.default_rng(seed)
    flat = np.sort(rng.choice(n * m, size=nnz, replace=False))
    rows, cols = np.divmod(flat, m)
    A, B = rng.random((n, rank)), rng.random((rank, m))
    vals = np.einsum("kr,rk->k", A[rows], B[:, cols]) + 0.1 * rng.random(nnz)
    return sp.csr_array((vals, (rows, cols)), shape=(n, m))


def csr_bytes(S: sp.csr_array) -> int:
    """Bytes of a CSR matrix: its values, column indices and row pointers."""
    return S.data.nbytes + S.indices.nbytes + S.indptr.nbytes


SPARSE_SOLVERS = ("als", "hals", "gdcls")


def bench_sparse_solvers(n: int, m: int, nnz: int, rank: int, iters: int, repeats: int,
                         solvers: tuple[str, ...] = SPARSE_SOLVERS) -> list[str]:
    """ALS, HALS and GD-CLS on the stored entries against a plain MU iteration on them; peak memory / CSR bytes.

    Every solver's runs of ``k`` and ``2k`` iterations (objective and stationarity every iteration, as the
    default stopping rule needs) and :func:`plain_mu`'s are interleaved in one loop; the peak extra memory of
    a whole call of ``k`` iterations (set-up included) is divided by the bytes of the CSR input.
    """
    from ..solvers._sparse import _jit

    S = _observed_entries(n, m, nnz, rank)
    size = csr_bytes(S)
    lines = [f"Sparse ALS/HALS/GD-CLS, {n}x{m}, {S.nnz} stored entries (CSR {size / 2**20:.1f} MB), rank {rank}; "
             f"kernels: {'numba' if _jit() else 'NumPy'}; per iteration = (fastest run of {2 * iters} - fastest "
             f"of {iters}) / {iters} ({10 * iters} and {20 * iters} for plain MU), all sides interleaved {repeats} times, "
             "objective every iteration"]
    # The reference is some 100 times faster per iteration than ALS was: runs of mu_iters (10 k), so that
    # its iterations, not the noise of its set-up, make the difference between its two runs.
    mu_iters = 10 * iters
    runs = {"mu k": lambda: plain_mu(S, rank, mu_iters, compiled=True),
            "mu 2k": lambda: plain_mu(S, rank, 2 * mu_iters, compiled=True)}
    for name in solvers:
        r = _sparse_runs(S, name, rank, iters)
        runs[f"{name} k"], runs[f"{name} 2k"] = r["k"], r["2k"]
    t = interleaved(runs, repeats)
    mu = per_iteration(t["mu k"], t["mu 2k"], mu_iters)
    lines.append(f"  plain MU on the stored entries (scipy.sparse products, numba sampled product; this run): {mu[0] * 1e3:.1f} ms best, "
                 f"{mu[1] * 1e3:.1f} ms median per iteration")
    peak_mu = peak_extra_bytes(lambda: plain_mu(S, rank, iters, compiled=True))
    for name in solvers:
        ours = per_iteration(t[f"{name} k"], t[f"{name} 2k"], iters)
        lines.append(per_iteration_line(f"  {name:<6} / plain MU per iteration", ours, mu,
                                        f"goal <= 3x; {ours[1] * 1e3:.1f} ms median"))
    for name in solvers:
        peak = peak_extra_bytes(lambda name=name: factorize(S, "stored", solver=name, rank=rank, tol=0.0,
                                                            max_iter=iters, random_state=0))
        lines.append(f"  {name:<6} peak extra memory / CSR input: {peak / size:5.2f}x ({peak / 2**20:.1f} MB; "
                     f"goal <= 4x; plain MU {peak_mu / size:.2f}x)")
    return lines


def sparse_suite(quick: bool) -> list[str]:
    """``--suite sparse``: the 1M-entry lines of the sparse solvers alone (``quick``: 1/20 of the size)."""
    if quick:
        return bench_sparse_solvers(2000, 500, 50_000, 10, 2, 2)
    return bench_sparse_solvers(20000, 5000, 1_000_000, 20, 2, 2)
