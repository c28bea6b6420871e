"""Data sets and missing-value patterns.

The contract every loader and generator follows: it returns a :class:`Dataset`
whose ``X`` is a float64 matrix with NaN at the data set's own missing cells
(if it has any). Masks for experiments are made separately by
:mod:`nmfexp.data.masks` (True = observed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset"]


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
