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
  :func:`blocked_frobenius` is :func:`masked_frobenius` computed a block of
  rows at a time (no ``n x m`` work array). :func:`gram_frobenius` is the
  fully observed Frobenius loss from the products an update already holds,

      ||X - AB||^2 = ||X||^2 - 2 <A, X B^T> + <A^T A, B B^T>,

  three sums of size ``(n + m) r`` instead of an ``n x m`` product; it is
  used only where it is accurate (see its docstring).

``tests/test_losses.py`` checks that the two KL forms agree to rounding.
"""

from __future__ import annotations

import numpy as np
from scipy.special import kl_div, xlogy

__all__ = ["kl_divergence", "frobenius", "relative_error", "MaskedKL", "masked_frobenius", "blocked_frobenius",
           "gram_frobenius", "kl_from_ratio", "row_blocks"]

# Work arrays of the blocked forms hold about this many bytes (fits in L2 cache).
BLOCK_BYTES = 1 << 21

# gram_frobenius is trusted when the squared loss is at least this fraction of ||X||^2 + ||AB||^2.
GRAM_SAFE = 1e-2


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
    """``||W * (X - A B)||_F`` with ``W`` a :class:`~nmfexp.solvers._dense.MaskOps`; ``out`` (n, m) is overwritten."""
    np.matmul(A, B, out=out)
    W.apply(out)
    np.subtract(WX, out, out=out)
    return float(np.linalg.norm(out))


def row_blocks(n: int, m: int, block_bytes: int = BLOCK_BYTES):
    """Slices of about ``block_bytes / (8 m)`` rows covering ``range(n)``."""
    step = max(1, block_bytes // (8 * max(m, 1)))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def blocked_frobenius(WX: np.ndarray, W, A: np.ndarray, B: np.ndarray) -> float:
    """``||W * (X - A B)||_F`` a block of rows at a time; ``W`` a :class:`~nmfexp.solvers._dense.MaskOps`.

    The same terms as :func:`masked_frobenius`, summed block by block (so the
    last bits may differ), with work arrays of :data:`BLOCK_BYTES` instead
    of ``n x m``.
    """
    n, m = WX.shape
    total = 0.0
    for rows in row_blocks(n, m):
        T = A[rows] @ B
        W.apply_rows(T, rows)
        np.subtract(WX[rows], T, out=T)
        total += float(np.vdot(T, T))
    return float(np.sqrt(total))


def gram_frobenius(xx: float, cross: float, quad: float) -> float | None:
    """``||X - A B||_F`` from ``xx = ||X||^2``, ``cross = <A, X B^T>`` and ``quad = <A^T A, B B^T>``; or None.

    The difference cancels when the fit is close: each term carries a
    rounding error of a few ulps of ``||X||^2 + ||AB||^2``. The value is
    returned only when the squared loss is at least :data:`GRAM_SAFE` of
    that scale (its relative error is then below about 1e-12); otherwise
    None, and the caller computes the loss directly.
    """
    s = xx - 2.0 * cross + quad
    if s >= GRAM_SAFE * (xx + quad):
        return float(np.sqrt(s))
    return None


_SMALLEST_SUBNORMAL = float(np.nextafter(0.0, 1.0))


def kl_from_ratio(WX: np.ndarray, Q: np.ndarray, sum_x: float, mass: float) -> float:
    """The weighted KL divergence from ``Q = (W*X) / (A B)`` (0 at missing entries), a block of rows at a time.

    ``sum_obs X log(X / AB) - X + AB = sum (W*X) log Q - sum_obs X + mass``
    with ``sum_x = sum_obs X`` and ``mass = sum_obs AB``. ``Q`` is 0 exactly
    where ``W*X`` is (zeros in the data and missing entries): there ``Q`` is
    raised to the smallest subnormal number, whose finite logarithm times 0
    adds nothing, as ``xlogy(0, .) = 0`` would. This is ``sum xlogy(W*X, Q)``
    at a third of its cost (a logarithm and a dot product instead of
    scipy's ``xlogy``, which dominated the time of WNMF-KL with the paper's
    stopping rule); only a ratio that underflows to 0 where X > 0 (X/AB below
    1e-323) counts as -744 instead of -inf.
    """
    n, m = WX.shape
    total = 0.0
    buf = np.empty(min(n, max(1, BLOCK_BYTES // (8 * max(m, 1)))) * m)
    for rows in row_blocks(n, m):
        out = buf[: (rows.stop - rows.start) * m].reshape(rows.stop - rows.start, m)
        np.maximum(Q[rows], _SMALLEST_SUBNORMAL, out=out)
        np.log(out, out=out)
        total += float(np.vdot(WX[rows], out))
    return float(total - sum_x + mass)
