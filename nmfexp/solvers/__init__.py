"""Solver registry. Importing this package registers every built-in solver.

To add a built-in solver: write a module here whose function follows the
calling convention of :mod:`nmfexp.solvers._base` and describe it once with
``@register("name", loss=..., params=..., reference=..., summary=...)``
(parameters with defaults and constraints from :mod:`._params`; iterative
solvers take :func:`~._params.iterative_params`), import the module below,
add ``conf/solver/<name>.yaml`` (its name and comments: the defaults come
from the description), a row of the README's solver table and, if new, its
reference in ``nmfexp/references.bib``. An iterative solver calls ``start``
(from ``_init``), writes one iteration as ``update()`` against ``p.ops``
(:class:`~._ops.Ops`, the same code for dense data and for the stored entries
of sparse input) and its loss as ``objective()``, and hands both to
``Problem.iterate`` (``_driver``), which records the history and applies the
stopping rules.

:mod:`nmfexp.solvers.losses` holds the masked losses that solvers, metrics
and the experiment layer share. :mod:`.baselines` holds the imputation
baselines (``column_mean``, ``row_col_mean``, ``soft_impute``) and
:mod:`.polish` A1GM's certificate (:func:`certify_a1gm`) and
``a1gm_polish``; ``docs/solvers.md`` describes the convergence measure,
``stop_on`` and the stop reasons.
"""

from . import a1gm as _a1gm  # noqa: F401  (registers "a1gm")
from . import als as _als  # noqa: F401  (registers "als")
from . import baselines as _baselines  # noqa: F401  (registers "column_mean", "row_col_mean", "soft_impute")
from . import gdcls as _gdcls  # noqa: F401  (registers "gdcls")
from . import hals as _hals  # noqa: F401  (registers "hals")
from . import kaczmarz as _kaczmarz  # noqa: F401  (registers "kaczmarz")
from . import mu as _mu  # noqa: F401  (registers "wnmf_kl", "wnmf_fro")
from . import polish as _polish  # noqa: F401  (registers "a1gm_polish"; after mu, whose updates it runs)
from ._base import SOLVERS, FactorizationResult, SolverRefused, SolverSpec, get_solver, register
from ._params import InitOption, Interval, Options, Param, iterative_params
from .a1gm import rank1_nmmf
from .polish import A1GMCertificate, certify_a1gm

__all__ = ["SOLVERS", "FactorizationResult", "SolverRefused", "SolverSpec", "get_solver", "register", "rank1_nmmf",
           "Param", "Interval", "Options", "InitOption", "iterative_params", "A1GMCertificate", "certify_a1gm"]
