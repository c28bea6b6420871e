"""The one public entry point: :func:`factorize`."""

from __future__ import annotations

import numbers

from ._validation import as_matrix, check_rank
from .solvers import FactorizationResult, get_solver
from .solvers._init import rng_from

__all__ = ["factorize"]


def factorize(X, mask=None, *, solver: str = "a1gm", rank: int = 1, random_state=None,
              n_restarts: int = 1, **params) -> FactorizationResult:
    """Factorize non-negative ``X`` with missing values as ``A @ B``.

    Parameters
    ----------
    X : array_like of shape (n, m)
        Non-negative data. Values at missing entries (NaN or anything else
        where ``mask`` is False) never influence the result.
    mask : array_like of bool of shape (n, m), optional
        True (or 1) where ``X`` is observed, False (0) where missing.
        Default: missing exactly where ``X`` is NaN.
    solver : str
        A name from ``nmfexp.SOLVERS`` (``"a1gm"``, ``"wnmf_kl"``, ...).
    rank : int
        Number of components, ``1 <= rank <= min(n, m)``.
    random_state : None, int or numpy.random.Generator
        Seeds random initialisations; the same seed gives the same numbers.
    n_restarts : int, default 1
        Run an iterative solver this many times and keep the run with the
        lowest final objective (the seed notebook's ``reinit``). Run k gets
        the k-th child of ``numpy.random.SeedSequence(random_state)`` (of
        ``random_state.spawn`` for a Generator), so restarts are independent
        and the whole call is reproducible. With 1 (the default) the solver
        gets ``random_state`` unchanged.
    **params
        Solver parameters such as ``max_iter``, ``tol`` and ``init``; see the
        solver's docstring (``help(nmfexp.SOLVERS[name].func)``).

    Returns
    -------
    FactorizationResult
        ``A`` of shape (n, rank), ``B`` of shape (rank, m), ``n_iter``,
        ``history``, ``info``; ``reconstruct()`` gives ``A @ B``. With
        ``n_restarts > 1``, the best run's result, with
        ``info["restart_objectives"]`` (every run's final objective, in run
        order) and ``info["best_restart"]`` (its index).
    """
    spec = get_solver(solver)
    Xa = as_matrix(X)
    rank = check_rank(rank, Xa.shape)
    if spec.rank1_only and rank != 1:
        raise ValueError(f"{spec.name} computes rank-1 factorizations only, got rank={rank}.")
    accepted = set(spec.parameters)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"solver {spec.name!r} does not take parameter(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(sorted(accepted))}."
        )
    n_restarts = _check_restarts(n_restarts, spec)
    if n_restarts == 1:
        return spec.func(Xa, mask, rank=rank, random_state=random_state, **params)
    best, finals = None, []
    for k, child in enumerate(_child_seeds(random_state, n_restarts)):
        res = spec.func(Xa, mask, rank=rank, random_state=child, **params)
        finals.append(float(res.history["objective"][-1]))
        if best is None or finals[-1] < finals[best[0]]:  # ties keep the earliest run
            best = (k, res)
    k, res = best
    res.info["restart_objectives"] = finals
    res.info["best_restart"] = k
    return res


def _check_restarts(n_restarts, spec) -> int:
    if isinstance(n_restarts, bool) or not isinstance(n_restarts, numbers.Integral) or n_restarts < 1:
        raise ValueError(f"n_restarts must be a positive integer, got {n_restarts!r}.")
    if n_restarts > 1 and not spec.iterative:
        raise ValueError(
            f"{spec.name} is a deterministic closed form; restarts would repeat the same answer. "
            "Use n_restarts=1, or an iterative solver."
        )
    return int(n_restarts)


def _child_seeds(random_state, n: int) -> list:
    """Independent Generators for ``n`` restarts, derived from ``random_state``."""
    # For an int seed s, default_rng(s).spawn(n) gives the generators of SeedSequence(s).spawn(n).
    return rng_from(random_state).spawn(n)
