"""Declarative descriptions of solver parameters: name, default, constraint, one line of documentation.

In the spirit of scikit-learn's ``_parameter_constraints`` (``Interval``,
``StrOptions``), written for nmfexp: a solver declares each of its
parameters once, as a :class:`Param`, in its registration
(:func:`nmfexp.solvers.register`), and everything reads that declaration:
:meth:`~nmfexp.solvers.SolverSpec.check_params` (used by
:func:`nmfexp.factorize`, by a direct call of the solver and by
:meth:`nmfexp.experiment.Job.from_config`, which so rejects a bad value
before a sweep runs), the Hydra schema of ``solver.params``
(:func:`nmfexp.experiment.config.solver_schema`) and the parameter section
of the solver's docstring.

Constraints:

- :class:`Interval`: an integer or real number in an interval, optionally
  None; checked by :func:`nmfexp._validation.check_number`, whose message
  names the parameter and the interval (``max_iter must be an integer >= 1,
  got -1.``).
- :class:`Options`: one of a few strings (``sampling``).
- :class:`InitOption`: ``init``, None, the name of an initialisation
  (:data:`INITS`) or a pair of arrays ``(A0, B0)`` (whose shapes are
  checked where the data are known).
- :class:`TypeOnly`: what a user's solver gets: its parameters are read from
  its signature, typed from their annotations for the config schema and not
  checked otherwise.
"""

from __future__ import annotations

import inspect
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, Optional

from .._validation import _describe, check_number

__all__ = ["INITS", "REQUIRED", "Constraint", "InitOption", "Interval", "Options", "Param", "TypeOnly", "iterative_params",
           "params_from_signature"]

#: Names of the initialisations of iterative solvers (``init=``); see :mod:`nmfexp.solvers._init`.
INITS = ("random", "nndsvda", "a1gm")


class Constraint:
    """What a parameter's value must be: :meth:`check` it and :meth:`describe` it; its config type."""

    def check(self, value, name: str):
        """Return ``value`` (possibly converted, e.g. NumPy numbers to Python ones) or raise ``ValueError``."""
        raise NotImplementedError

    def describe(self) -> str:
        """The allowed values in a few words (for documentation)."""
        raise NotImplementedError

    @property
    def config_type(self) -> Any:
        """The type of the parameter's field in the Hydra config schema."""
        return Any


@dataclass(frozen=True)
class Interval(Constraint):
    """A number in an interval (:func:`~nmfexp._validation.check_number`'s arguments).

    ``kind`` is ``"integer"`` or ``"real"``; ``low``/``high`` None mean
    unbounded (finite); ``closed`` says which given bounds belong to the
    interval; ``allow_none`` accepts None; ``hint`` is appended to the message.
    """

    kind: str = "real"
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    allow_none: bool = False
    hint: str = ""

    def check(self, value, name: str):
        return check_number(value, name, kind=self.kind, low=self.low, high=self.high, closed=self.closed,
                            allow_none=self.allow_none, hint=self.hint)

    def describe(self) -> str:
        return _describe(self.kind, self.low, self.high, self.closed, self.allow_none)

    @property
    def config_type(self) -> Any:
        base = int if self.kind == "integer" else float
        return Optional[base] if self.allow_none else base  # noqa: UP045 (OmegaConf reads typing.Optional)


@dataclass(frozen=True)
class Options(Constraint):
    """One of a few strings."""

    values: tuple[str, ...]

    def check(self, value, name: str):
        if not isinstance(value, str) or value not in self.values:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, self.values))}, got {value!r}.")
        return value

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))

    @property
    def config_type(self) -> Any:
        return str


@dataclass(frozen=True)
class InitOption(Constraint):
    """``init``: None, a name from :data:`INITS`, or a pair ``(A0, B0)``.

    A pair is passed on as it is: its shapes, values and scale are checked
    once the data are read (:func:`nmfexp.solvers._init.initial_factors`).
    """

    def check(self, value, name: str):
        if isinstance(value, str) and value not in INITS:
            raise ValueError(f"{name} must be None, one of {', '.join(INITS)} or a pair of arrays (A0, B0); got the "
                             f"unknown init {value!r}.")
        return value

    def describe(self) -> str:
        return "None, " + ", ".join(map(repr, INITS)) + " or a pair of arrays (A0, B0)"


@dataclass(frozen=True)
class TypeOnly(Constraint):
    """No constraint beyond a type for the config schema (parameters of a user's solver)."""

    type: Any = Any

    def check(self, value, name: str):
        return value

    def describe(self) -> str:
        return "anything" if self.type is Any else getattr(self.type, "__name__", str(self.type))

    @property
    def config_type(self) -> Any:
        return self.type


#: The default of a parameter that has none (a user's function with a required keyword).
REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One solver parameter: its name, default, constraint and a line of documentation."""

    name: str
    default: Any
    constraint: Constraint
    doc: str = ""

    def check(self, value, label: str | None = None):
        """The checked value; ``ValueError`` naming ``label`` (default: the name) otherwise."""
        return self.constraint.check(value, label or self.name)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def config_type(self) -> Any:
        """The field type of the config schema: the constraint's, made optional for a None default."""
        ftype = self.constraint.config_type
        if self.default is None and ftype is not Any and typing.get_origin(ftype) is not typing.Union:
            ftype = Optional[ftype]  # noqa: UP045
        return ftype

    def numpydoc(self) -> str:
        """This parameter as an entry of a numpydoc ``Parameters`` section."""
        default = "" if self.required else f", default {self.default!r}"
        kind = self.constraint.describe()
        text = f"{self.name} : {kind}{default}"
        return text + ("\n" + textwrap.fill(self.doc, 79, initial_indent="    ", subsequent_indent="    ")
                       if self.doc else "")


def iterative_params(*, max_iter: int = 200, tol: float = 1e-4, tol_doc: str = "") -> tuple[Param, ...]:
    """The parameters every iterative solver takes (the shared loop's, :mod:`nmfexp.solvers._driver`)."""
    return (
        Param("max_iter", max_iter, Interval("integer", low=1), "Iterations at most."),
        Param("tol", tol, Interval("real", low=0),
              tol_doc or "Stop when ``(previous objective - objective) / initial objective < tol`` (the A1GM "
                         "paper's rule), the objective being evaluated every ``eval_every`` iterations; with "
                         "``stop_on='stationarity'``, when the relative projected gradient is at most ``tol``."),
        Param("init", None, InitOption(),
              "Initial factors: uniform [0, 1) (None, 'random'), NNDSVDa of the observed entries ('nndsvda'), "
              "A1GM's rank-1 factors first ('a1gm'), or given (see :mod:`nmfexp.solvers._init`)."),
        Param("max_time", None,
              Interval("real", low=0, closed="neither", allow_none=True,
                       hint="It is a budget in seconds of update time; None means no limit."),
              "Stop after the iteration at which the update time reaches this many seconds (objective "
              "evaluation not counted); None: no budget."),
        Param("eval_every", 1,
              Interval("integer", low=1,
                       hint="It is how many iterations pass between evaluations of the objective (1 = every one)."),
              "Evaluate the objective (and the stopping rule) after every ``eval_every``-th iteration and after "
              "the last one (see :mod:`nmfexp.solvers._driver`)."),
        Param("stop_on", "decrease", Options(("decrease", "stationarity")),
              "What ``tol`` bounds: 'decrease', the A1GM paper's relative decrease of the objective (the "
              "default; the paper's numbers), or 'stationarity', the projected gradient relative to the data's "
              "part of the gradient, for the worst component (``history['stationarity']``, see "
              ":mod:`nmfexp.solvers._driver`)."),
    )



_SIMPLE = (bool, int, float, str)


def _config_type(annotation) -> Any:
    """A config-schema type for a signature annotation: bool, int, float, str, Optional of one; else Any."""
    if annotation in _SIMPLE:
        return annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in _SIMPLE:
            return Optional[rest[0]]  # noqa: UP045
    return Any


def params_from_signature(func) -> tuple[tuple[Param, ...], bool]:
    """A user's solver's parameters read from its signature, and whether it takes any (``**params``).

    Every keyword parameter after ``X`` and ``mask`` except ``rank`` and
    ``random_state``, with its default (or :data:`REQUIRED`) and a
    :class:`TypeOnly` constraint typed from its annotation. A callable whose
    signature cannot be read takes anything.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return (), True
    try:
        hints = typing.get_type_hints(inspect.unwrap(func))
    except Exception:  # annotations that do not resolve: untyped
        hints = {}
    parameters = list(signature.parameters.values())
    open_ = any(p.kind == p.VAR_KEYWORD for p in parameters)
    params = tuple(
        Param(p.name, REQUIRED if p.default is inspect.Parameter.empty else p.default,
              TypeOnly(_config_type(hints.get(p.name, Any))))
        for p in parameters[2:]
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("rank", "random_state"))
    return params, open_
