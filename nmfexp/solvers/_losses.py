"""The masked losses: every number in nmfexp that measures a fit is computed here.

Solvers' histories (``history["objective"]``) and :mod:`nmfexp.metrics` both
call these functions. With the 0/1 observation matrix W (1 = observed):

- generalised KL divergence ``sum_obs X log(X / R) - X + R`` (``0 log 0 = 0``),
- Frobenius norm of the error ``||W * (X - R)||_F``,
- relative error ``||W * (X - R)||_F / ||W * X||_F``.

Each loss comes in the form its callers can evaluate cheaply, and the forms
are not interchangeable bit for bit (they add the same terms in a different
order), so each caller keeps its own:

- *observed values* (:func:`kl_divergence`, :func:`frobenius`,
  :func:`relative_error`): 1-D arrays ``x``, ``r`` of the observed entries,
  as :mod:`nmfexp.metrics` gathers them; the KL is scipy's elementwise
  ``kl_div`` summed.
- *factors* (:class:`MaskedKL`, :func:`masked_frobenius`): the solvers' data
  ``WX`` (zeros at missing entries) and factors ``A``, ``B``, reusing the
  products an update has just computed. The KL is split as

      sum_obs (X log X - X)  -  sum_obs X log(AB)  +  sum_obs AB,

  a constant, one ``log`` and a dot product, and the mass ``sum_obs AB`` that
  multiplicative updates already hold as ``sum(A * (W B^T))``. It needs
  ``AB > 0`` everywhere (the KL updates keep the factors positive).
  :func:`frobenius` also takes zero-filled matrices ``W*X``, ``W*(AB)``.

``tests/test_losses.py`` checks that the two KL forms agree to rounding.
"""

from __future__ import annotations

import numpy as np
from scipy.special import kl_div, xlogy

__all__ = ["kl_divergence", "frobenius", "relative_error", "MaskedKL", "masked_frobenius"]


def kl_divergence(x: np.ndarray, r: np.ndarray) -> float:
    """``sum x log(x / r) - x + r`` over paired entries (observed values); ``inf`` if ``r = 0 < x``."""
    return float(kl_div(x, r).sum())  # kl_div(x, y) = x log(x/y) - x + y elementwise


def frobenius(x: np.ndarray, r: np.ndarray) -> float:
    """``||x - r||``: on observed values, or on zero-filled matrices ``W*X`` and ``W*R``."""
    return float(np.linalg.norm(x - r))


def relative_error(x: np.ndarray, r: np.ndarray) -> float:
    """``||x - r|| / ||x||`` on observed values; 0.0 when both are zero, ``inf`` when only ``||x||`` is."""
    num, den = np.linalg.norm(x - r), np.linalg.norm(x)
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


class MaskedKL:
    """The weighted KL divergence of ``WX`` (zeros at missing entries) from a positive product ``AB``.

    ``MaskedKL(WX)(AB, mass, out)`` with ``mass = sum over observed of AB``;
    ``out`` is an (n, m) work array that is overwritten.
    """

    def __init__(self, WX: np.ndarray):
        self.WX = WX
        # The constant part, sum over observed of X log X - X (missing entries are 0 in WX and add 0).
        self.const = float((xlogy(WX, WX) - WX).sum())

    def __call__(self, AB: np.ndarray, mass: float, out: np.ndarray) -> float:
        np.log(AB, out=out)
        return float(self.const - np.vdot(self.WX, out) + mass)


def masked_frobenius(WX: np.ndarray, W, A: np.ndarray, B: np.ndarray, out: np.ndarray) -> float:
    """``||W * (X - A B)||_F`` with ``W`` a :class:`~nmfexp.solvers._init.MaskOps`; ``out`` (n, m) is overwritten."""
    np.matmul(A, B, out=out)
    W.apply(out)
    np.subtract(WX, out, out=out)
    return float(np.linalg.norm(out))
