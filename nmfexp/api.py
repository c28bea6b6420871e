"""The one public entry point, :func:`factorize`, and how a solver is found.

A solver is named in one of three ways, and every route (Python calls,
experiments, benchmarks) goes through :func:`resolve_solver` and
:func:`factorize`, so restarts, rank checks and parameter checks are the
same everywhere:

- a registered name (``"a1gm"``, ``"wnmf_kl"``, ...; ``nmfexp.SOLVERS``);
- the name of an entry point in the group ``nmfexp.solvers`` that an
  installed package declares (loaded on first use, no configuration);
- any callable with the solver contract::

      f(X, mask, *, rank, random_state, **params) -> nmfexp.FactorizationResult

  ``X`` arrives as a float64 array of shape (n, m); ``mask`` as a boolean
  array (True = observed), or None when nothing is missing.

What ``X`` may be and what it means (arrays with NaN, ``numpy.ma`` masked
arrays, pandas DataFrames with missing values, scipy.sparse matrices with
``mask="stored"`` or ``mask="all"``) is decided in one place,
:func:`nmfexp._validation.read_data`, so every route reads it the same way.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from importlib import metadata

import numpy as np

from ._validation import as_mask, check_number, check_rank, check_sparse, is_sparse, read_data
from .solvers import SOLVERS, FactorizationResult, SolverRefused, SolverSpec
from .solvers._init import rng_from

__all__ = ["factorize", "resolve_solver", "solver_spec", "target_solver", "accepted_parameters", "entry_point_solvers",
           "ENTRY_POINT_GROUP"]

#: Entry-point group through which installed packages add solvers.
ENTRY_POINT_GROUP = "nmfexp.solvers"


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def entry_point_solvers() -> list[str]:
    """Names of the solvers installed packages declare in the ``nmfexp.solvers`` group."""
    return sorted(_entry_points())


def solver_spec(func: Callable, name: str | None = None, *, loss: str = "", iterative: bool = True,
                rank1_only: bool = False, summary: str = "", reference: str = "") -> SolverSpec:
    """Wrap a user's callable with the solver contract as a :class:`SolverSpec`.

    The callable receives validated input (float64 ``X``, boolean ``mask`` or
    None) and its result is checked (type, shapes, finite non-negative
    factors), so a broken solver fails with a message that names it.
    """
    if not callable(func):
        raise ValueError(f"a solver must be a registered name or a callable, got {func!r}.")
    label = name or getattr(func, "__name__", type(func).__name__)

    @functools.wraps(func)
    def checked(X, mask=None, *, rank: int = 1, random_state=None, **params):
        Xa, mask = read_data(X, mask)
        observed = as_mask(mask, Xa)
        result = func(Xa, observed, rank=rank, random_state=random_state, **params)
        return _check_result(result, label, Xa.shape, rank)

    return SolverSpec(label, checked, loss, rank1_only, iterative, summary, reference)


def _check_result(result, name: str, shape: tuple[int, int], rank: int) -> FactorizationResult:
    if not isinstance(result, FactorizationResult):
        raise TypeError(f"solver {name!r} returned {type(result).__name__}, not an nmfexp.FactorizationResult.")
    n, m = shape
    A, B = np.asarray(result.A), np.asarray(result.B)
    if A.shape != (n, rank) or B.shape != (rank, m):
        raise TypeError(f"solver {name!r} returned factors of shapes {A.shape} and {B.shape}; "
                        f"expected {(n, rank)} and {(rank, m)}.")
    signed_ok = bool(getattr(result, "clip", False))  # a clipped reconstruction may come from signed factors
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B)) and (signed_ok or (A.min() >= 0 and B.min() >= 0))):
        raise ArithmeticError(f"solver {name!r} returned factors that are negative or not finite "
                              "(signed factors need clip=True on the result).")
    if not result.solver:
        result.solver = name
    return result


def resolve_solver(solver) -> SolverSpec:
    """The :class:`SolverSpec` for a registered or entry-point name, a spec, or a callable."""
    if isinstance(solver, SolverSpec):
        return solver
    if isinstance(solver, str):
        if solver in SOLVERS:
            return SOLVERS[solver]
        ep = _entry_points().get(solver)
        if ep is not None:
            obj = ep.load()
            return obj if isinstance(obj, SolverSpec) else solver_spec(obj, ep.name)
        known = ", ".join(sorted(SOLVERS) + entry_point_solvers())
        raise ValueError(f"unknown solver {solver!r}; known solvers: {known}. "
                         "Or pass a callable f(X, mask, *, rank, random_state, **params).")
    if callable(solver):
        return solver_spec(solver)
    raise ValueError(f"solver must be a name, a SolverSpec or a callable, got {solver!r}.")


#: What a ``_target_`` solver's config may declare as its ``loss``.
TARGET_LOSSES = ("", "kl", "frobenius")


def target_solver(scfg: dict) -> SolverSpec:
    """The :class:`SolverSpec` of a ``_target_`` solver config (``solver: {_target_: mylab.solvers.f, ...}``).

    ``_target_`` names a callable with the solver contract (or a
    :class:`SolverSpec`, used as it is); ``name`` labels it (default: the
    callable's name); ``loss`` (``kl`` or ``frobenius``, optional) declares
    what its ``history["objective"]`` measures, so that the comparison
    figures score it against the best-known optimum of that loss.
    """
    from .data.registry import import_target

    loss = scfg.get("loss") or ""
    if loss not in TARGET_LOSSES:
        raise ValueError(f"solver.loss must be kl or frobenius (what the solver's objective measures), got {loss!r}; "
                         "leave it out when the solver minimises neither.")
    obj = import_target(scfg["_target_"], "solver")
    if isinstance(obj, SolverSpec):
        return dataclasses.replace(obj, loss=loss) if loss and loss != obj.loss else obj
    return solver_spec(obj, scfg.get("name") or scfg["_target_"].rsplit(".", 1)[-1], loss=loss)


def accepted_parameters(spec: SolverSpec) -> frozenset[str] | None:
    """Names of the solver's own keyword parameters, or None when it takes any (``**params``).

    Read from the solver's description (:attr:`SolverSpec.params`); a user's
    callable is described by its own signature (``inspect.signature``
    follows ``functools.wraps``).
    """
    return None if spec.open_params else frozenset(spec.parameters)


def factorize(X, mask=None, *, solver="a1gm", rank: int = 1, random_state=None,
              n_restarts: int = 1, **params) -> FactorizationResult:
    """Factorize non-negative ``X`` with missing values as ``A @ B``.

    Parameters
    ----------
    X : array_like of shape (n, m)
        Non-negative data. Values at missing entries (NaN or anything else
        where ``mask`` is False) never influence the result. A
        ``numpy.ma`` masked array's masked entries and a pandas DataFrame's
        missing values (``pd.NA`` in nullable dtypes, NaN) are missing too.
        A scipy.sparse matrix or array needs ``mask="stored"`` or
        ``mask="all"`` (below). Any scale is accepted (1e-300 to 1e308):
        iterative solvers work on ``X`` divided by a power of two (chosen from
        the observed mean and ``rank``, see :mod:`nmfexp.solvers._init`) and
        scale their factors back, so ``c X`` gives about ``c`` times the
        reconstruction of ``X`` (exactly for ``c = 8**j``).
    mask : array_like of bool of shape (n, m), "stored", "all" or None
        True (or 1) where ``X`` is observed, False (0) where missing.
        Default: missing exactly where ``X`` is NaN. Combined with a masked
        array's mask or a DataFrame's missing values: an entry is missing if
        either says so. For a scipy.sparse ``X`` it must say what the
        implicit (unstored) entries are: ``"stored"`` (only stored entries
        are observed, as for ratings; a stored zero is an observed zero) or
        ``"all"`` (every entry is observed; implicit entries are zeros). With
        ``"stored"`` the iterative solvers work on the stored entries only, at
        a cost per iteration proportional to their number times the rank
        (:mod:`nmfexp.solvers._sparse`); other solvers see the dense equivalent.
    solver : str, SolverSpec or callable
        A name from ``nmfexp.SOLVERS`` (``"a1gm"``, ``"wnmf_kl"``, ...), the
        name of an installed ``nmfexp.solvers`` entry point, or any callable
        ``f(X, mask, *, rank, random_state, **params)`` returning a
        :class:`~nmfexp.FactorizationResult` (no registration needed).
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
        ``history``, ``info``; ``reconstruct()`` gives ``A @ B``. For a
        pandas DataFrame ``X``, ``A`` and ``B`` are DataFrames that keep its
        labels: ``A`` has ``X``'s index and columns ``component_0``, ...;
        ``B`` has those components as index and ``X``'s columns, so
        ``reconstruct()`` is a DataFrame labelled like ``X`` (their
        ``.to_numpy()`` are the arrays an unlabelled ``X`` gives). With
        ``n_restarts > 1``, the best run's result, with
        ``info["restart_objectives"]`` (every run's final objective, in run
        order) and ``info["best_restart"]`` (its index).

    Raises
    ------
    nmfexp.SolverRefused
        The solver declines this input (a ``ValueError``): for instance
        A1GM when no row or no column is complete, a rank-1-only solver
        asked for a higher rank, or a rank above ``min(n, m)``.
    ValueError
        For malformed input or parameters, with a message saying what to do.
    """
    spec = resolve_solver(solver)
    if type(X) is not np.ndarray and is_sparse(X):  # passed on as it is: a solver may have a path for sparse data
        check_sparse(X, mask)
        Xa = X
    else:  # masked arrays and DataFrames become an array and a boolean mask once, here
        Xa, mask = read_data(X, mask)
    rank = check_rank(rank, Xa.shape)
    if spec.rank1_only and rank != 1:
        raise SolverRefused(f"{spec.name} computes rank-1 factorizations only, got rank={rank}.")
    params = spec.check_params(params)  # names and values, from the solver's description
    if n_restarts == 1 and type(n_restarts) is int or _check_restarts(n_restarts, spec) == 1:
        result = spec.impl(Xa, mask, rank=rank, random_state=random_state, **params)
        return result if type(X) is np.ndarray else _labelled(result, X)
    n_restarts = _check_restarts(n_restarts, spec)
    best, finals = None, []
    for k, child in enumerate(_child_seeds(random_state, n_restarts)):
        res = spec.impl(Xa, mask, rank=rank, random_state=child, **params)
        finals.append(float(res.history["objective"][-1]))
        if best is None or finals[-1] < finals[best[0]]:  # ties keep the earliest run
            best = (k, res)
    k, res = best
    res.info["restart_objectives"] = finals
    res.info["best_restart"] = k
    return _labelled(res, X)


def _labelled(result: FactorizationResult, X) -> FactorizationResult:
    """``result`` with DataFrame factors labelled by ``X``'s index and columns when ``X`` is a DataFrame."""
    import sys

    pd = sys.modules.get("pandas")  # a DataFrame can only come from an imported pandas
    if pd is None or not isinstance(X, pd.DataFrame):
        return result
    components = [f"component_{k}" for k in range(np.shape(result.A)[1])]
    return dataclasses.replace(
        result, A=pd.DataFrame(np.asarray(result.A), index=X.index, columns=components),
        B=pd.DataFrame(np.asarray(result.B), index=components, columns=X.columns))


def _check_restarts(n_restarts, spec) -> int:
    n_restarts = check_number(n_restarts, "n_restarts", kind="integer", low=1)
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
