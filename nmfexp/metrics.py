"""Accuracy on the observed entries.

All metrics take the data ``X``, a reconstruction ``R`` and a mask (True =
observed; ``None`` = missing where X is NaN). Missing entries never
contribute, whatever ``X`` holds there. This module validates and gathers the
observed entries; the formulas are those of :mod:`nmfexp.solvers._losses`,
which the solvers' objectives use too.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_mask, as_matrix, raise_bad_observed
from .solvers import _losses

__all__ = ["weighted_kl", "weighted_frobenius", "relative_error", "observed_values"]


def observed_values(X, R, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Return the observed entries of ``X`` and ``R`` as two 1-D arrays (validated)."""
    X = as_matrix(X)
    R = as_matrix(R, name="R")
    if R.shape != X.shape:
        raise ValueError(f"R has shape {R.shape} but X has shape {X.shape}; they must match.")
    observed = as_mask(mask, X)
    if observed is None:
        x, r = X.ravel(), R.ravel()
    else:
        x, r = X[observed], R[observed]
    if not (x.min() >= 0 and np.isfinite(x.max())):
        raise_bad_observed(X, observed)
    if not np.all(np.isfinite(r)):
        raise ValueError("R has non-finite values at observed entries; the reconstruction is broken.")
    return x, r


def weighted_kl(X, R, mask=None) -> float:
    """Generalised KL divergence on observed entries.

    ``sum over observed (i, j) of X log(X / R) - X + R`` with ``0 log 0 = 0``.
    It is ``inf`` when ``R`` is 0 where ``X`` is positive.

    Parameters
    ----------
    X : array_like of shape (n, m)
    R : array_like of shape (n, m)
        Non-negative reconstruction.
    mask : array_like of bool of shape (n, m), optional
    """
    x, r = observed_values(X, R, mask)
    if r.size and r.min() < 0:
        raise ValueError("R has negative values at observed entries; the KL divergence needs R >= 0.")
    return _losses.kl_divergence(x, r)


def weighted_frobenius(X, R, mask=None) -> float:
    """``||mask * (X - R)||_F``: the Frobenius norm of the error on observed entries."""
    return _losses.frobenius(*observed_values(X, R, mask))


def relative_error(X, R, mask=None) -> float:
    """``||mask * (X - R)||_F / ||mask * X||_F``.

    Returns 0.0 when both norms are zero and ``inf`` when only the data norm is.
    """
    return _losses.relative_error(*observed_values(X, R, mask))
