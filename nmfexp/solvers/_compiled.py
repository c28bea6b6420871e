"""Loading the numba-compiled kernels, with the pure-NumPy fallback as the rule when they cannot load.

The A1GM kernel (:mod:`._a1gm_jit`) and the sparse path's sampled product
(:mod:`._sparse_jit`) are optional: without numba, or with
``NMFEXP_DISABLE_NUMBA=1``, their NumPy versions run, and tests compare the two.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["compiled_module", "numba_disabled"]

_unavailable: set[str] = set()  # kernels whose import failed once (numba missing): not retried per call

_VARIABLE = "NMFEXP_DISABLE_NUMBA"
# os.environ keeps its variables in a dict under its own key encoding. ``os.environ.get`` of an unset
# variable raises and catches a KeyError inside (about 1.4 us, a third of summing a 100 x 100 matrix); the
# dict answers in 0.07 us and sees every change made through os.environ (monkeypatch.setenv included).
try:
    _ENV_DATA, _ENV_KEY = os.environ._data, os.environ.encodekey(_VARIABLE)
except AttributeError:  # another Python's os.environ: ask it directly
    _ENV_DATA = _ENV_KEY = None


def numba_disabled() -> bool:
    """Whether ``NMFEXP_DISABLE_NUMBA`` is set to something other than empty or ``0`` (read on every call)."""
    if _ENV_DATA is not None:
        raw = _ENV_DATA.get(_ENV_KEY)
        if raw is None:
            return False
        value = os.environ.decodevalue(raw)
    else:
        value = os.environ.get(_VARIABLE, "0")
    return value.strip() not in ("", "0")


def compiled_module(backend: str, name: str) -> ModuleType | None:
    """The compiled kernel module ``nmfexp.solvers.<name>``, or None for the NumPy fallback.

    ``backend`` is ``"auto"`` (compiled when numba imports and ``NMFEXP_DISABLE_NUMBA`` is unset or 0),
    ``"numba"`` (compiled, or the ImportError) or ``"numpy"`` (never compiled).
    """
    if backend == "numpy":
        return None
    if backend == "auto" and numba_disabled():
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
