"""The one public entry point: :func:`factorize`."""

from __future__ import annotations

import inspect

from ._validation import as_matrix, check_rank
from .solvers import FactorizationResult, get_solver

__all__ = ["factorize"]


def factorize(X, mask=None, *, solver: str = "a1gm", rank: int = 1, random_state=None,
              **params) -> FactorizationResult:
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
    **params
        Solver parameters such as ``max_iter``, ``tol`` and ``init``; see the
        solver's docstring (``help(nmfexp.SOLVERS[name].func)``).

    Returns
    -------
    FactorizationResult
        ``A`` of shape (n, rank), ``B`` of shape (rank, m), ``n_iter``,
        ``history``, ``info``; ``reconstruct()`` gives ``A @ B``.
    """
    spec = get_solver(solver)
    Xa = as_matrix(X)
    rank = check_rank(rank, Xa.shape)
    if spec.rank1_only and rank != 1:
        raise ValueError(f"{spec.name} computes rank-1 factorizations only, got rank={rank}.")
    accepted = _parameters(spec.func)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"solver {spec.name!r} does not take parameter(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(sorted(accepted))}."
        )
    return spec.func(Xa, mask, rank=rank, random_state=random_state, **params)


def _parameters(func) -> set[str]:
    sig = inspect.signature(func)
    return {name for name, p in sig.parameters.items()
            if p.kind == p.KEYWORD_ONLY and name not in ("rank", "random_state")}
