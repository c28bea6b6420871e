"""Solver registry. Importing this package registers every built-in solver.

To add a solver: write a module here whose function follows the calling
convention of :mod:`nmfexp.solvers._base`, decorate it with
``@register("name", loss=...)``, import the module below, and add
``conf/solver/<name>.yaml``. An iterative solver calls ``start`` (from
``_init``), writes one iteration as ``update()`` and its loss (from
``_losses``) as ``objective()``, and hands both to ``Problem.iterate``
(``_driver``), which records the history and applies the stopping rules.
"""

from . import a1gm as _a1gm  # noqa: F401  (registers "a1gm")
from . import als as _als  # noqa: F401  (registers "als")
from . import gdcls as _gdcls  # noqa: F401  (registers "gdcls")
from . import hals as _hals  # noqa: F401  (registers "hals")
from . import kaczmarz as _kaczmarz  # noqa: F401  (registers "kaczmarz")
from . import mu as _mu  # noqa: F401  (registers "wnmf_kl", "wnmf_fro")
from ._base import SOLVERS, FactorizationResult, SolverRefused, SolverSpec, get_solver, register
from .a1gm import rank1_nmmf

__all__ = ["SOLVERS", "FactorizationResult", "SolverRefused", "SolverSpec", "get_solver", "register", "rank1_nmmf"]
