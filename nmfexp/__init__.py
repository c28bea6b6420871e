"""nmfexp: NMF solvers for data with missing values, and the A1GM paper's experiments.

>>> import numpy as np, nmfexp
>>> X = np.random.default_rng(0).random((50, 40)); X[3, 7] = np.nan
>>> res = nmfexp.factorize(X, solver="a1gm")
>>> res.A.shape, res.B.shape
((50, 1), (1, 40))
"""

from . import metrics
from .api import factorize, solver_spec
from .solvers import SOLVERS, A1GMCertificate, FactorizationResult, SolverRefused, certify_a1gm, rank1_nmmf

__all__ = ["factorize", "solver_spec", "rank1_nmmf", "metrics", "cite", "SOLVERS", "FactorizationResult", "SolverRefused",
           "certify_a1gm", "A1GMCertificate", "__version__"]
__version__ = "0.3.0.dev0"


def __getattr__(name: str):
    # nmfexp.cite (nmfexp.citation.cite) is imported on first use, so that `python -m nmfexp.citation`
    # runs its module only once
    if name == "cite":
        from .citation import cite

        return cite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
