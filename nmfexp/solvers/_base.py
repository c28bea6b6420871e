"""The result type, the refusal exception and the solver registry.

Every solver has the same calling convention::

    solver(X, mask=None, *, rank, random_state, **params) -> FactorizationResult

(iterative solvers also take ``max_iter``, ``tol``, ``max_time`` and
``init``) and is registered under the name used in configs and in
``nmfexp.factorize(solver=...)``. The rest of the package's solver machinery:
:mod:`._init` (validation, initial factors, mask products: ``start``),
:mod:`._driver` (the iteration loop, history and stopping rules) and
:mod:`._losses` (the masked losses).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._validation import SolverRefused

__all__ = ["FactorizationResult", "SolverRefused", "SolverSpec", "SOLVERS", "register", "get_solver"]


@dataclass
class FactorizationResult:
    """What every solver returns.

    Attributes
    ----------
    A : ndarray of shape (n, rank)
    B : ndarray of shape (rank, m)
        Non-negative factors, ``X ~ A @ B``.
    n_iter : int
        Iterations performed (0 for closed forms).
    history : dict of str to ndarray
        ``"objective"``: the solver's own loss on the observed entries, the
        value at the initial factors first, then one value per evaluated
        iteration (every iteration unless ``eval_every`` says otherwise);
        ``"time"``: seconds spent in the updates up to that point, objective
        evaluation excluded (so ``time[0] == 0``); ``"iteration"``: the
        iteration number of each value. Empty for closed forms.
    info : dict
        Solver facts (for A1GM: ``n_missing``, ``n_missing_added``, ...).
    solver : str
    converged : bool
        True when the stopping rule fired before ``max_iter`` (always True for
        closed forms).
    """

    A: np.ndarray
    B: np.ndarray
    n_iter: int = 0
    history: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    solver: str = ""
    converged: bool = True

    def reconstruct(self) -> np.ndarray:
        """The dense approximation ``A @ B``, ndarray of shape (n, m)."""
        return self.A @ self.B

    @property
    def rank(self) -> int:
        return self.A.shape[1]


@dataclass(frozen=True)
class SolverSpec:
    """A registry entry.

    ``func(X, mask, *, rank, random_state, **params)`` receives the raw user
    input and does its own validation through :mod:`nmfexp._validation`;
    iterative solvers additionally accept ``max_iter``, ``tol`` and ``init``.
    """

    name: str
    func: Callable
    loss: str  # "kl" or "frobenius": what history["objective"] measures
    rank1_only: bool = False
    iterative: bool = True
    summary: str = ""
    reference: str = ""

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        """The solver's own keyword parameters (``max_iter``, ``tol``, ...), by name;
        ``rank`` and ``random_state`` belong to the common calling convention."""
        return {name: p for name, p in inspect.signature(self.func).parameters.items()
                if p.kind == p.KEYWORD_ONLY and name not in ("rank", "random_state")}


SOLVERS: dict[str, SolverSpec] = {}


def register(name: str, *, loss: str, rank1_only: bool = False, iterative: bool = True,
             summary: str = "", reference: str = ""):
    """Decorator adding a solver function to :data:`SOLVERS` under ``name``."""

    def deco(func):
        if name in SOLVERS:
            raise ValueError(f"solver {name!r} is registered twice")
        SOLVERS[name] = SolverSpec(name, func, loss, rank1_only, iterative, summary, reference)
        return func

    return deco


def get_solver(name) -> SolverSpec:
    try:
        return SOLVERS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(SOLVERS))
        raise ValueError(f"unknown solver {name!r}; known solvers: {known}.") from None

