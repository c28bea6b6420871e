"""Projected randomized Kaczmarz NMF on the observed entries.

The seed notebook's NMF by randomized Kaczmarz (RK) steps (Strohmer &
Vershynin, "A randomized Kaczmarz algorithm with exponential convergence",
J. Fourier Anal. Appl. 15, 2009), with each step restricted to observed
entries and followed by a projection onto the non-negative orthant. For a
column k of B the linear system is ``A B[:, k] = X[:, k]`` over the observed
rows; one RK step picks an observed row i and projects onto its hyperplane:

    B[:, k] <- max(0, B[:, k] + (X[i, k] - A[i, :] B[:, k]) / ||A[i, :]||^2 * A[i, :]^T)

and likewise for a row i of A with an observed column k:

    A[i, :] <- max(0, A[i, :] + (X[i, k] - A[i, :] B[:, k]) / ||B[:, k]||^2 * B[:, k]^T).

Vectorised: one outer iteration gives every column of B ``kaczmarz_iter``
steps (all columns at once, each with its own uniformly drawn observed row),
then every row of A ``kaczmarz_iter`` steps. The seed updates one sampled
column and row per outer iteration; here all of them are, so that one
iteration touches the whole matrix as the other solvers' iterations do.
Sampling is uniform over a column's (row's) observed entries, as in the seed
(not proportional to row norms as in Strohmer & Vershynin). A step whose row
norm is zero is skipped. The loss is not monotone.

When to use it: for consistent systems (data close to a non-negative rank-r
matrix) the steps converge; with noise plain RK does not converge to the
least-squares answer but hovers at a distance that grows with the residual
and the conditioning of the fixed factor (Needell, "Randomized Kaczmarz
solver for noisy linear systems", BIT 50, 2010), so its loss stays well above
that of hals or als. It is here as the seed notebook's method, for comparison.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_max_iter, check_tol, masked_data
from ._base import FactorizationResult, History, check_max_time, register
from ._init import MaskOps, initial_factors, rng_from
from .hals import frobenius_objective

__all__ = ["kaczmarz"]


class _ObservedSampler:
    """Draws, for every line (column of X, or row), one of its observed positions uniformly."""

    def __init__(self, observed_lines: np.ndarray | None, n_lines: int, length: int):
        # observed_lines is (n_lines, length) boolean, or None when fully observed.
        self.length = length
        if observed_lines is None:
            self.index = None
            self.count = np.full(n_lines, length)
            self.has = np.ones(n_lines, dtype=bool)
            return
        lines, pos = np.nonzero(observed_lines)  # sorted by line
        self.index = pos.astype(np.intp)
        self.count = np.bincount(lines, minlength=n_lines)
        self.start = np.concatenate(([0], np.cumsum(self.count)[:-1]))
        self.has = self.count > 0

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """Position for each line that has an observed entry (lines without one are left out)."""
        u = rng.random(int(np.count_nonzero(self.has)))
        cnt = self.count[self.has]
        k = np.minimum((u * cnt).astype(np.intp), cnt - 1)
        if self.index is None:
            return k
        return self.index[self.start[self.has] + k]


def _rk_steps(F: np.ndarray, C: np.ndarray, data_lines: np.ndarray, sampler: _ObservedSampler,
              n_steps: int, rng: np.random.Generator) -> None:
    """``n_steps`` projected RK steps on every line q: F[q] from C[pos] and data_lines[q, pos].

    F is (p, r) (the lines' unknowns), C (length, r) (the system's rows).
    """
    lines = np.flatnonzero(sampler.has)
    for _ in range(n_steps):
        pos = sampler.draw(rng)
        c = C[pos]  # (p', r) sampled rows of the system
        f = F[lines]
        norm2 = np.einsum("pr,pr->p", c, c)
        resid = data_lines[lines, pos] - np.einsum("pr,pr->p", c, f)
        step = np.divide(resid, norm2, out=np.zeros_like(resid), where=norm2 > 0)
        f += step[:, None] * c
        np.maximum(f, 0.0, out=f)
        F[lines] = f


@register(
    "kaczmarz",
    loss="frobenius",
    summary="Projected randomized Kaczmarz steps on observed entries (seed notebook); cheap steps, not monotone.",
    reference="Strohmer & Vershynin, J. Fourier Anal. Appl. 15, 2009 (NMF use as in the seed notebook)",
)
def kaczmarz(X, mask=None, *, rank: int = 1, max_iter: int = 200, tol: float = 1e-4, random_state=None,
             init=None, max_time: float | None = None, kaczmarz_iter: int = 5) -> FactorizationResult:
    """NMF with missing values by projected randomized Kaczmarz steps.

    Parameters
    ----------
    X : array_like of shape (n, m)
    mask : array_like of bool of shape (n, m), optional
        True where observed; default: missing where X is NaN.
    rank : int
    max_iter : int, default 200
        Outer iterations.
    tol : float, default 1e-4
        Stops when ``|previous loss - loss| / initial loss < tol`` (two-sided:
        the loss may rise).
    random_state : None, int or Generator
        Seeds the initialisation and the sampling of steps.
    init : None, "random", "nndsvda", "a1gm" or (A0, B0)
    max_time : float, optional
        Stop after the iteration at which the update time reaches this many
        seconds (objective evaluation not counted).
    kaczmarz_iter : int, default 5
        RK steps per column of B and per row of A in each outer iteration
        (the seed's ``kacziters``).

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    max_iter, tol, max_time = check_max_iter(max_iter), check_tol(tol), check_max_time(max_time)
    if isinstance(kaczmarz_iter, bool) or not isinstance(kaczmarz_iter, numbers.Integral) or kaczmarz_iter < 1:
        raise ValueError(f"kaczmarz_iter must be a positive integer (steps per row/column), got {kaczmarz_iter!r}.")
    data = masked_data(X, mask)
    rng = rng_from(random_state)
    A, B = initial_factors(data, rank, init, rng)
    W = MaskOps(data.observed, data.n_missing)
    WX = data.WX
    WXt = np.ascontiguousarray(WX.T)
    n, m = WX.shape
    obs = data.observed
    col_sampler = _ObservedSampler(None if obs is None else obs.T, m, n)  # observed rows of each column
    row_sampler = _ObservedSampler(obs, n, m)  # observed columns of each row
    Bt = np.ascontiguousarray(B.T)  # (m, r): column k of B as a row
    scratch = np.empty_like(WX)

    hist = History(frobenius_objective(WX, W, A, B, scratch))
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        hist.start()
        # Columns of B: systems A B[:, k] = X[:, k] over observed rows.
        _rk_steps(Bt, A, WXt, col_sampler, int(kaczmarz_iter), rng)
        # Rows of A: systems B^T A[i, :]^T = X[i, :]^T over observed columns.
        _rk_steps(A, Bt, WX, row_sampler, int(kaczmarz_iter), rng)
        hist.stop()
        hist.record(frobenius_objective(WX, W, A, Bt.T, scratch))
        if hist.converged(tol, two_sided=True):
            converged = True
            break
        if hist.out_of_time(max_time):
            break
    return FactorizationResult(A=A, B=np.ascontiguousarray(Bt.T), n_iter=it, history=hist.as_dict(),
                               solver="kaczmarz", converged=converged, info={"n_missing": data.n_missing})
