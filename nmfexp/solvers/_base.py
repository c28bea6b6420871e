"""The result type, the refusal exception, the solver descriptions and the registry.

Every solver has the same calling convention::

    solver(X, mask=None, *, rank, random_state, **params) -> FactorizationResult

and one description, a :class:`SolverSpec` declared next to it by
:func:`register`: its name, loss, parameters (defaults and constraints,
:mod:`._params`), reference (keys of ``nmfexp/references.bib``), whether it
has a path for stored entries of sparse input, its rank limit, whether it
iterates, and a one-line summary. :func:`nmfexp.factorize`, the Hydra config
schema, the citations and the README's solver table all read it. The rest of
the package's solver machinery: :mod:`._init` (initial factors, the
``Problem`` a solver starts from), :mod:`._ops` (the storage interface the
updates are written against; :mod:`._dense` and :mod:`._sparse` implement
it), :mod:`._driver` (the iteration loop, history and stopping rules) and
:mod:`.losses` (the masked losses).
"""

from __future__ import annotations

import functools
import inspect
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .._validation import SolverRefused
from ._params import Param, params_from_signature

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
    stop_reason : str
        How the run ended: ``"tol"`` (the ``stop_on`` rule met ``tol``),
        ``"goal"`` (an objective goal, GD-CLS), ``"max_iter"``,
        ``"max_time"``, ``"zero_factors"`` (all-zero factors, not a fit),
        ``"closed_form"`` (no iterations), or ``"unknown"`` (a user's
        solver that does not say).
    clip : bool
        The reconstruction is ``max(A @ B, 0)``: ``A`` and ``B`` may be
        signed (baselines such as ``soft_impute``). Every consumer reads the
        reconstruction through :meth:`reconstruct`, :meth:`reconstruct_rows`
        or :meth:`reconstruct_entries`, never ``A @ B``.
    """

    A: np.ndarray
    B: np.ndarray
    n_iter: int = 0
    history: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    solver: str = ""
    converged: bool = True
    stop_reason: str = "unknown"
    clip: bool = False

    def reconstruct(self) -> np.ndarray:
        """The dense approximation ``A @ B`` (clipped at 0 when :attr:`clip`), ndarray of shape (n, m)."""
        R = self.A @ self.B
        return np.maximum(R, 0.0, out=R) if self.clip else R

    def reconstruct_rows(self, rows: slice) -> np.ndarray:
        """Rows ``rows`` of :meth:`reconstruct`, without the whole ``n x m`` array."""
        R = self.A[rows] @ self.B
        return np.maximum(R, 0.0, out=R) if self.clip else R

    def reconstruct_entries(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """The entries ``(i[k], j[k])`` of :meth:`reconstruct`, 1-D."""
        r = np.einsum("kr,kr->k", self.A[i], self.B.T[j])
        return np.maximum(r, 0.0, out=r) if self.clip else r

    @property
    def rank(self) -> int:
        return self.A.shape[1]


@dataclass(frozen=True)
class SolverSpec:
    """The description of a solver, and the solver itself.

    Attributes
    ----------
    name : str
        The name used in configs and in ``nmfexp.factorize(solver=...)``.
    func : callable
        ``func(X, mask=None, *, rank, random_state, **params)``; for a
        registered solver it checks its parameters against :attr:`params`
        and calls :attr:`impl`.
    loss : str
        ``"kl"`` or ``"frobenius"``: what ``history["objective"]`` measures.
    rank1_only : bool
        The solver computes rank-1 factorizations only.
    iterative : bool
        False for a closed form (no restarts, no stopping parameters).
    summary : str
        One line: what the solver is.
    reference : tuple of str
        Keys of ``nmfexp/references.bib`` to cite for it (a single key may
        be given as a string).
    params : tuple of Param, optional
        The solver's own parameters (not ``X``, ``mask``, ``rank``,
        ``random_state``), with defaults and constraints. None: read from
        ``func``'s signature (a user's solver: types only, no constraints).
    sparse : bool
        It takes a ``scipy.sparse`` X with ``mask="stored"`` on a path that
        works on the stored entries only (the experiment runner then hands
        it mostly-missing data in that form).
    impl : callable, optional
        The function the checked parameters are passed to (a registered
        solver's own code, with no defaults of its own); default ``func``.
    """

    name: str
    func: Callable
    loss: str
    rank1_only: bool = False
    iterative: bool = True
    summary: str = ""
    reference: tuple[str, ...] | str = ()
    params: tuple[Param, ...] | None = field(default=None, compare=False)
    sparse: bool = False
    impl: Callable | None = None
    #: True when the parameters were declared (not read from a signature): their defaults are filled in.
    described: bool = field(default=False, init=False)
    #: True when the solver takes parameters beyond :attr:`params` (``**params`` in its signature).
    open_params: bool = field(default=False, init=False, compare=False)

    def __post_init__(self):
        if isinstance(self.reference, str):
            object.__setattr__(self, "reference", (self.reference,) if self.reference else ())
        if self.impl is None:
            object.__setattr__(self, "impl", self.func)
        if self.params is None:
            params, open_ = params_from_signature(self.func)
            object.__setattr__(self, "params", params)
            object.__setattr__(self, "open_params", open_)
        else:
            object.__setattr__(self, "params", tuple(self.params))
            object.__setattr__(self, "described", True)
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"solver {self.name!r} declares a parameter twice: {names}.")

    @property
    def parameters(self) -> dict[str, Param]:
        """The solver's own parameters by name (``rank`` and ``random_state`` belong to the calling convention)."""
        return {p.name: p for p in self.params}

    def defaults(self) -> dict:
        """Each parameter's default (parameters without one are left out)."""
        return {p.name: p.default for p in self.params if not p.required}

    def check_params(self, params: dict, prefix: str = "") -> dict:
        """Check parameter names and values against the description; return what the solver gets.

        Unknown names raise ``ValueError`` listing the accepted ones (unless
        the solver takes ``**params``); each given value is checked by its
        constraint, whose message names the parameter (``prefix`` + name,
        e.g. ``solver.params.max_iter``) and what it must be. For a declared
        description the result holds every parameter, defaults filled in;
        for one read from a signature, exactly the given ones.
        """
        if not params and self.described:  # nothing given: every default (what the loop below gives, quickly)
            return self.defaults()
        declared = {p.name: p for p in self.params}
        extra = [k for k in params if k not in declared]
        if extra and not self.open_params:
            raise ValueError(f"solver {self.name!r} does not take parameter(s) {', '.join(sorted(extra))}; "
                             f"it accepts: {', '.join(sorted(declared)) or 'none'}.")
        out = {}
        for name, p in declared.items():
            if name in params:
                out[name] = p.check(params[name], prefix + name)
            elif self.described and not p.required:
                out[name] = p.default
        for k in extra:
            out[k] = params[k]
        return out

    def signature(self) -> inspect.Signature:
        """``(X, mask=None, *, rank=1, random_state=None, <params with their defaults>)``."""
        P = inspect.Parameter
        common = [P("X", P.POSITIONAL_OR_KEYWORD), P("mask", P.POSITIONAL_OR_KEYWORD, default=None),
                  P("rank", P.KEYWORD_ONLY, default=1, annotation=int),
                  P("random_state", P.KEYWORD_ONLY, default=None)]
        own = [P(p.name, P.KEYWORD_ONLY, default=P.empty if p.required else p.default,
                 annotation=p.config_type) for p in self.params]
        return inspect.Signature(common + own, return_annotation=FactorizationResult)

    def docstring(self, text: str | None) -> str:
        """``text`` (the solver's docstring) with a Parameters section written from the description,
        placed before its Returns section (or at its end); a docstring that has one is kept as it is."""
        text = (text or self.summary).strip("\n")
        if "\n" in text:  # the first line of a docstring carries no indentation
            first, rest = text.split("\n", 1)
            text = first + "\n" + textwrap.dedent(rest)
        if "Parameters\n----------" in text:
            return text
        section = "Parameters\n----------\n" + "\n".join(self._common_docs() + [p.numpydoc() for p in self.params])
        at = text.find("Returns\n-------")
        if at < 0:
            return f"{text}\n\n{section}\n"
        return f"{text[:at]}{section}\n\n{text[at:]}\n"

    def _common_docs(self) -> list[str]:
        sparse = " or scipy.sparse matrix" if self.sparse else ""
        stored = (' With a ``scipy.sparse`` X, ``"stored"``: exactly its stored entries are observed (a stored '
                  "zero is an observed zero), and every iteration costs O(stored entries x rank).") if self.sparse else ""
        rank = "Must be 1." if self.rank1_only else "Number of components, ``1 <= rank <= min(n, m)``."
        seed = ("Seeds the initialisation (and any random steps)." if self.iterative
                else "Accepted for the common calling convention; the solver is deterministic.")
        or_stored = ', or "stored"' if self.sparse else ""
        docs = [(f"X : array_like{sparse} of shape (n, m)", "Non-negative data; values at missing entries are ignored."),
                (f"mask : array_like of bool of shape (n, m){or_stored}, optional",
                 f"True where observed; default: missing where X is NaN.{stored}"),
                ("rank : int, default 1", rank),
                ("random_state : None, int or numpy.random.Generator", seed)]
        return [head + "\n" + textwrap.fill(text, 79, initial_indent="    ", subsequent_indent="    ")
                for head, text in docs]


SOLVERS: dict[str, SolverSpec] = {}


def register(name: str, *, loss: str, params: Iterable[Param] | None = None, rank1_only: bool = False,
             iterative: bool = True, sparse: bool = False, summary: str = "", reference: tuple[str, ...] | str = ()):
    """Decorator: describe a solver and add it to :data:`SOLVERS` under ``name``.

    The decorated function is the solver's code, ``impl(X, mask, *, rank,
    random_state, <params>)``, with no defaults of its own: it receives every
    parameter of ``params``, checked. The decorator returns the public
    solver, ``f(X, mask=None, *, rank=1, random_state=None, **params)``,
    which checks the given parameters against the description
    (:meth:`SolverSpec.check_params`), fills in the defaults and calls
    ``impl``; its signature and the Parameters section of its docstring are
    written from the description. Without ``params`` the parameters are read
    from ``impl``'s signature, as for a user's solver (types only, the
    function's own defaults). ``reference`` holds keys of
    ``nmfexp/references.bib`` (others are not cited).
    """

    def deco(impl):
        if name in SOLVERS:
            raise ValueError(f"solver {name!r} is registered twice")

        @functools.wraps(impl)
        def solver(X, mask=None, *, rank=1, random_state=None, **params):
            return impl(X, mask, rank=rank, random_state=random_state, **spec.check_params(params))

        spec = SolverSpec(name, solver, loss, rank1_only, iterative, summary, reference,
                          None if params is None else tuple(params), sparse, impl)
        solver.__signature__ = spec.signature()
        solver.__doc__ = spec.docstring(impl.__doc__)
        SOLVERS[name] = spec
        return solver

    return deco


def get_solver(name) -> SolverSpec:
    """The registered :class:`SolverSpec` called ``name`` (``SOLVERS[name]`` with a clear error).

    Kept for compatibility; :func:`nmfexp.api.resolve_solver` resolves every
    kind of solver (registered and entry-point names, specs, callables).
    """
    try:
        return SOLVERS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(SOLVERS))
        raise ValueError(f"unknown solver {name!r}; known solvers: {known}.") from None
