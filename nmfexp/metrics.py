"""Accuracy on the observed entries.

All metrics take the data ``X``, a reconstruction ``R`` and a mask (True =
observed; ``None`` = missing where X is NaN). Missing entries never
contribute, whatever ``X`` holds there. ``X`` and ``mask`` mean what they
mean for :func:`nmfexp.factorize` (:func:`nmfexp._validation.read_data`): a
masked array's masked entries and a DataFrame's missing values are missing,
and a scipy.sparse ``X`` needs ``mask="stored"`` or ``mask="all"``. ``R`` is a
plain matrix (a sparse ``R`` has zeros where nothing is stored).

This module validates and gathers the observed entries; the formulas are those
of :mod:`nmfexp.solvers.losses`, which the solvers' objectives use too. Values
whose squares would overflow or underflow (beyond about 1e144 or below 1e-144)
are divided by a power of two first and the result multiplied back, which is
exact; other values are used as they are. A value that does not fit in
float64 at all raises a ``ValueError``.
"""

from __future__ import annotations

import numpy as np

from ._validation import mask_and_missing, raise_bad_observed, read_data, read_values, wide_range_exponent
from .solvers import losses as _losses

__all__ = ["weighted_kl", "weighted_frobenius", "relative_error", "observed_values"]


def observed_values(X, R, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Return the observed entries of ``X`` and ``R`` as two 1-D arrays (validated)."""
    x, r, _ = _observed(X, R, mask, rescale=False)
    return x, r


def _observed(X, R, mask, rescale: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
    """The observed entries of ``X`` and ``R``, divided by ``2**k`` when their range needs it, and ``k``."""
    X, mask = read_data(X, mask)
    R = read_values(R, name="R")
    if R.shape != X.shape:
        raise ValueError(f"R has shape {R.shape} but X has shape {X.shape}; they must match.")
    observed = mask_and_missing(mask, X)[0]
    if observed is None:
        x, r = X.ravel(), R.ravel()
    else:
        x, r = X[observed], R[observed]
    hi = x.max()
    if not (x.min() >= 0 and np.isfinite(hi)):
        raise_bad_observed(X, observed)
    top = np.abs(r).max()
    if not np.isfinite(top):
        raise ValueError("R has non-finite (or masked) values at observed entries; the reconstruction is broken.")
    k = wide_range_exponent(float(max(hi, top))) if rescale else 0
    if k:
        x, r = np.ldexp(x, -k), np.ldexp(r, -k)
    return x, r, k


def _scaled_back(value: float, k: int, what: str) -> float:
    if not k:
        return value
    with np.errstate(over="ignore"):
        out = float(np.ldexp(value, k))
    if np.isinf(out) and np.isfinite(value):
        raise ValueError(f"the {what} of these matrices is about 2**{k} x {value:.3g}, beyond float64's range "
                         "(1.8e308); compare X and R divided by the same factor.")
    return out


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
    x, r, _ = _observed(X, R, mask, rescale=False)
    if r.size and r.min() < 0:
        raise ValueError("R has negative values at observed entries; the KL divergence needs R >= 0.")
    if not wide_range_exponent(float(max(x.max(), r.max()))):
        return _losses.kl_divergence(x, r)
    return _spread_kl(x, r)


def _spread_kl(x: np.ndarray, r: np.ndarray) -> float:
    """The KL divergence of values outside ``[2**-480, 2**480)``, each term at its own scale.

    Dividing every value by one power of two would turn the small ones into 0
    next to large ones (1e-300 beside 1e300), and a positive ``x`` facing an
    ``r`` of 0 into ``0 log 0``. Here the term of entry ``i`` is computed on
    ``x_i / 2**e_i`` and ``r_i / 2**e_i`` with ``2**e_i`` the scale of the
    larger of the two (its logarithm from the values themselves), and the
    terms are added at the scale of the largest.
    """
    if np.any((x > 0) & (r == 0)):
        return float("inf")  # as documented: R = 0 where X is positive
    e = np.frexp(np.maximum(x, r))[1]
    xs, rs = np.ldexp(x, -e), np.ldexp(r, -e)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ratio = x / r
        direct = np.isfinite(ratio) & (ratio > 0)
        log_ratio = np.where(direct, np.log(np.where(direct, ratio, 1.0)),
                             np.log(np.where(x > 0, x, 1.0)) - np.log(np.where(r > 0, r, 1.0)))
    terms = np.maximum(np.where(x > 0, xs * log_ratio, 0.0) - xs + rs, 0.0)  # each >= 0 up to rounding
    tm, te = np.frexp(terms)
    te = te + e
    if not np.any(tm > 0):
        return 0.0
    top = int(te[tm > 0].max())
    return _scaled_back(float(np.ldexp(tm, te - top).sum()), top, "weighted KL divergence")


def weighted_frobenius(X, R, mask=None) -> float:
    """``||mask * (X - R)||_F``: the Frobenius norm of the error on observed entries."""
    x, r, k = _observed(X, R, mask)
    return _scaled_back(_losses.frobenius(x, r), k, "Frobenius norm of the error")


def relative_error(X, R, mask=None) -> float:
    """``||mask * (X - R)||_F / ||mask * X||_F``.

    Returns 0.0 when both norms are zero and ``inf`` when only the data norm is.
    """
    x, r, _ = _observed(X, R, mask)
    return _losses.relative_error(x, r)
