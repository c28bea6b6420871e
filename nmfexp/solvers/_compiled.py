"""Loading the numba-compiled kernels, with the pure-NumPy fallback as the rule when they cannot load.

The A1GM kernel (:mod:`._a1gm_jit`) and the sparse path's sampled product
(:mod:`._sparse_jit`) are optional: without numba, or with
``NMFEXP_DISABLE_NUMBA=1``, their NumPy versions run, and tests compare the two.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["compiled_module"]

_unavailable: set[str] = set()  # kernels whose import failed once (numba missing): not retried per call


def compiled_module(backend: str, name: str) -> ModuleType | None:
    """The compiled kernel module ``nmfexp.solvers.<name>``, or None for the NumPy fallback.

    ``backend`` is ``"auto"`` (compiled when numba imports and ``NMFEXP_DISABLE_NUMBA`` is unset or 0),
    ``"numba"`` (compiled, or the ImportError) or ``"numpy"`` (never compiled).
    """
    if backend == "numpy":
        return None
    if backend == "auto" and os.environ.get("NMFEXP_DISABLE_NUMBA", "0").strip() not in ("", "0"):
        return None
    if backend == "auto" and name in _unavailable:
        return None
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError:
        if backend == "numba":
            raise
        _unavailable.add(name)
        return None
