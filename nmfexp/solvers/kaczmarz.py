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

With ``relaxation`` omega in (0, 2) the correction is multiplied by
``omega / sqrt(t)`` in outer iteration t (see "Step size" below).

Step size. With a constant step (``omega`` in every iteration, as up to
nmfexp 0.2) RK on an inconsistent system (noisy data, or any data that is not
exactly of rank r on the observed entries) does not converge: it hovers at a
distance proportional to omega times the residual (Needell, BIT 50, 2010), and
the last iterate is wherever the last steps happened to land. On uniform
random 20 x 15 to 50 x 40 matrices with 20% missing, ranks 1-3, 3 seeds x 5
scales (1e-6 to 1e6), the final relative error ranged from 0.70 to 1.11
(1 is that of all-zero factors; hals gives 0.41-0.45), changing from seed to
seed and with the data's rounding. Under norm sampling one step's expected
correction is ``C^T (x - C f) / ||C||_F^2``, a gradient step on the
least-squares loss, so RK is stochastic gradient descent on it, and the
classic cure applies: steps that shrink like ``1 / sqrt(t)`` (Robbins-Monro;
the hovering distance shrinks with them). On the inputs above the relative
error is then 0.42-0.54 with the default parameters, for every seed and
scale. On consistent data the first steps are the classic ones, and the
later, smaller ones converge more slowly than constant steps would.

Vectorised: one outer iteration gives every column of B ``kaczmarz_iter``
steps (all columns at once, each with its own drawn observed row), then every
row of A ``kaczmarz_iter`` steps. The seed updates one sampled column and row
per outer iteration; here all of them are, so that one iteration touches the
whole matrix as the other solvers' iterations do. A step whose row norm is
zero is skipped. The loss is not monotone.

Sampling. ``sampling="norm"`` (default) draws row i of the fixed factor C
for a line with probability ``||C[i]||^2 / sum_j ||C[j]||^2`` over that
line's observed entries, as in Strohmer & Vershynin; this is what gives RK
its expected linear convergence on a consistent system. ``"uniform"`` draws
uniformly over the observed entries (the seed notebook's rule). Uniform
sampling diverges on easy data: a row with a small norm gives a huge step
(for rank 1 a step sets ``B[0, k] = X[i, k] / A[i, 0]`` from a single entry,
so a tiny ``A[i, 0]`` amplifies that entry's noise without bound), and
alternating such solves blow up (60 x 60, rank 1, 1% noise, 20% missing,
random start: with constant steps the loss reached ~1e30 within 100
iterations; with the diminishing steps it still jumps ~180x above its start
in the first iterations; with norm sampling it stays within 2x of its start
and ends at a few percent of it).
Under norm sampling tiny rows are rarely drawn. The squared norms depend only on C, which is fixed
during a half-step, so they and their per-line cumulative sums are computed
once per half-step (O(number of observed entries)); each step then draws
all lines' rows with one ``searchsorted``.

Rebalancing. ``A B`` is unchanged by ``A[:, j] -> s A[:, j]``,
``B[j, :] -> B[j, :] / s``, and nothing in the steps anchors that scale: it
random-walks (rank 1: ``||A|| / ||B||`` reached ~65 after 3000 iterations),
which would eventually overflow or underflow. After each outer iteration
column j of A and row j of B are therefore rescaled to equal norms (a
component that is zero in either factor is left alone). This does not change
``A B``, so it does not change the loss. For rank 1 the steps are
scale-equivariant and it changes nothing else; for higher rank it changes
the following steps (RK is not invariant to rescaling single components),
with no consistent effect on the loss in our runs. It costs O((n + m) r).

When to use it: for consistent systems (data close to a non-negative rank-r
matrix) the steps converge; with noise, RK with constant steps would hover
at a distance that grows with the residual and the conditioning of the fixed
factor (Needell, "Randomized Kaczmarz solver for noisy linear systems", BIT
50, 2010); the diminishing steps bring it close to, but usually still above,
the loss of hals or als within the default iterations. It is here as the
seed notebook's method, for comparison.
"""

from __future__ import annotations

import numpy as np

from ._base import register
from ._init import start
from ._params import Interval, Options, Param, iterative_params

__all__ = ["kaczmarz"]


class _ObservedSampler:
    """Draws, for every line (column of X, or row), one of its observed positions.

    ``draw`` samples uniformly over a line's observed positions (the seed's
    rule); ``prepare`` + ``draw_weighted`` sample position ``t`` of line ``q``
    with probability ``w[t] / sum of w over q's observed positions``, where
    ``w`` is one weight per position shared by all lines (the squared row
    norms of the fixed factor).

    Memory: the observed positions are held once, in the narrowest integer
    type that fits the line length, and every pass over them (building them,
    the cumulative sums of ``w``) runs over blocks of lines of about
    :data:`_BLOCK_ENTRIES` positions, so that no temporary is as large as the
    number of observed entries.
    """

    def __init__(self, observed_lines, n_lines: int, length: int):
        # observed_lines: (n_lines, length) boolean, None when fully observed, or a scipy CSR matrix of
        # that shape whose stored entries are the observed ones (then ``values`` are its stored values).
        self.length = length
        self.values = None
        if observed_lines is None:
            self.index = None
            self.count = np.full(n_lines, length)
            self.has = np.ones(n_lines, dtype=bool)
            return
        if hasattr(observed_lines, "indptr"):  # CSR: sorted indices, one row per line
            self.index = observed_lines.indices
            self.count = np.diff(observed_lines.indptr).astype(np.intp)
            self.values = observed_lines.data
        else:
            self.count = np.count_nonzero(observed_lines, axis=1).astype(np.intp)
            self.index = np.empty(int(self.count.sum()), dtype=_position_type(length))
        self.start = np.concatenate(([0], np.cumsum(self.count)[:-1])).astype(np.intp)
        self.has = self.count > 0
        # Blocks of whole lines with about _BLOCK_ENTRIES observed positions each.
        ends = self.start + self.count
        self.blocks, a = [], 0
        while a < n_lines:
            b = max(a + 1, int(np.searchsorted(ends, self.start[a] + _BLOCK_ENTRIES, side="right")))
            self.blocks.append((a, b))
            a = b
        if self.values is None:
            for a, b in self.blocks:  # positions sorted by line, then by position (as np.nonzero gives them)
                lo = self.start[a]
                self.index[lo:lo + int(self.count[a:b].sum())] = np.nonzero(observed_lines[a:b])[1]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """Position for each line that has an observed entry (lines without one are left out)."""
        return self._draw_uniform(rng)[0]

    def _draw_uniform(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        u = rng.random(int(np.count_nonzero(self.has)))
        cnt = self.count[self.has]
        k = np.minimum((u * cnt).astype(np.intp), cnt - 1)
        if self.index is None:
            return k, None
        k = self.start[self.has] + k
        return self.index[k], k

    def prepare(self, w: np.ndarray) -> np.ndarray:
        """Set the position weights ``w`` (length,), >= 0; returns the lines that can be drawn.

        One cumulative sum over all observed (line, position) pairs, O(nnz),
        taken block by block (each block's sum continues from the last
        value of the one before, so the values are those of one sum over all
        pairs): the weights are the fixed factor's squared row norms,
        constant during a half-step, so this is done once per half-step, not
        per step. Lines whose observed positions all have zero weight are
        left out (every step on them would be zero).
        """
        self.w = w
        if self.index is None:
            self.cum = np.cumsum(w)
            total = self.cum[-1] if self.length else 0.0
            self.lo = np.zeros(1)
            self.total = np.full(self.count.shape, total)
        else:
            self.lo = np.empty(self.count.shape)
            self.total = np.empty(self.count.shape)
            self.carry = []
            carry = 0.0
            for a, b in self.blocks:
                self.carry.append(carry)
                before = self._before(a, b, carry)
                first = self.start[a]
                self.lo[a:b] = before[self.start[a:b] - first]
                self.total[a:b] = before[self.start[a:b] + self.count[a:b] - first] - self.lo[a:b]
                carry = before[-1]
        self.drawable = np.flatnonzero(self.total > 0)
        return self.drawable

    def _before(self, a: int, b: int, carry: float) -> np.ndarray:
        """``[carry, cumulative sums of w over the positions of lines a..b-1]`` (the running sum of all pairs)."""
        lo, hi = self.start[a], self.start[a] + int(self.count[a:b].sum())
        out = np.empty(hi - lo + 1)
        out[0] = carry
        np.take(self.w, self.index[lo:hi], out=out[1:])
        return np.cumsum(out, out=out)

    def draw_weighted(self, rng: np.random.Generator) -> np.ndarray:
        """Weighted position for each line of the last ``prepare``'s drawable lines.

        Inverse-CDF per line: a uniform target in the line's slice of the
        cumulative sum, found by ``searchsorted`` for all lines of a block.
        """
        q = self.drawable
        u = rng.random(q.size)
        if self.index is None:
            k = np.searchsorted(self.cum, u * self.total[q], side="right")
            return np.minimum(k, self.length - 1)
        pos = np.empty(q.size, dtype=np.intp)
        for blk, sel in self._drawable_blocks():
            pos[sel] = self.index[self._search(blk, q[sel], u[sel])]
        return pos

    def _drawable_blocks(self):
        """``(block number, slice of drawable lines in it)`` for every block with a drawable line."""
        q = self.drawable
        for i, (a, b) in enumerate(self.blocks):
            lo, hi = np.searchsorted(q, a), np.searchsorted(q, b)
            if hi > lo:
                yield i, slice(lo, hi)

    def _search(self, blk: int, q: np.ndarray, u: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
        """Indices into the observed pairs drawn for lines ``q`` of block ``blk`` with uniforms ``u``."""
        a, b = self.blocks[blk]
        if before is None:
            before = self._before(a, b, self.carry[blk])
        first = self.start[a]
        k = np.searchsorted(before[1:], self.lo[q] + u * self.total[q], side="right") + first
        # Rounding can land one past the line's slice; clamp into it.
        return np.clip(k, self.start[q], self.start[q] + self.count[q] - 1)


# Observed positions per block of lines in the sampler's passes (a few MB of work arrays).
_BLOCK_ENTRIES = 1 << 18


def _position_type(length: int):
    for t in (np.uint8, np.uint16, np.uint32):
        if length <= np.iinfo(t).max + 1:
            return t
    return np.intp


def _rk_steps(F: np.ndarray, C: np.ndarray, data_lines, sampler: _ObservedSampler,
              n_steps: int, rng: np.random.Generator, sampling: str = "norm",
              relaxation: float = 1.0) -> None:
    """``n_steps`` projected RK steps on every line q: F[q] from C[pos] and data_lines[q, pos].

    F is (p, r) (the lines' unknowns), C (length, r) (the system's rows), held
    fixed here; ``data_lines`` is (p, length), or None when the sampler
    holds the observed values itself (sparse input). ``sampling="norm"``
    draws row ``pos`` with probability proportional to ``||C[pos]||^2``
    among the line's observed positions (Strohmer & Vershynin);
    ``"uniform"`` draws uniformly (the seed's rule).

    Lines are independent (each changes only its own row of F), so with a
    mask the weighted steps run block of lines by block of lines, every step
    of a block before the next block, with each step's uniforms drawn in
    advance: the draws, and so the results, are those of all lines stepped
    together.
    """
    if sampling == "norm":
        lines = sampler.prepare(np.einsum("tr,tr->t", C, C))
    else:
        lines = np.flatnonzero(sampler.has)
    if lines.size == 0:
        return
    if sampling != "norm" or sampler.index is None:
        for _ in range(n_steps):
            if sampling == "norm":
                pos, k = sampler.draw_weighted(rng), None
            else:
                pos, k = sampler._draw_uniform(rng)
            values = data_lines[lines, pos] if sampler.values is None else sampler.values[k]
            _rk_step(F, C, lines, pos, values, relaxation)
        return
    U = [rng.random(lines.size) for _ in range(n_steps)]  # the draws of draw_weighted, step after step
    for blk, sel in sampler._drawable_blocks():
        a, b = sampler.blocks[blk]
        before = sampler._before(a, b, sampler.carry[blk])
        q = lines[sel]
        for u in U:
            k = sampler._search(blk, q, u[sel], before)
            pos = sampler.index[k]
            values = data_lines[q, pos] if sampler.values is None else sampler.values[k]
            _rk_step(F, C, q, pos, values, relaxation)


def _rk_step(F: np.ndarray, C: np.ndarray, lines: np.ndarray, pos: np.ndarray, values: np.ndarray,
             relaxation: float) -> None:
    """One projected RK step on each line in ``lines`` with the sampled rows ``pos`` and data ``values``."""
    c = C[pos]  # (p', r) sampled rows of the system
    f = F[lines]
    norm2 = np.einsum("pr,pr->p", c, c)
    resid = values - np.einsum("pr,pr->p", c, f)
    step = np.divide(resid, norm2, out=np.zeros_like(resid), where=norm2 > 0)
    if relaxation != 1.0:
        step *= relaxation
    f += step[:, None] * c
    np.maximum(f, 0.0, out=f)
    F[lines] = f


def _rebalance(A: np.ndarray, Bt: np.ndarray) -> None:
    """Scale column j of A and column j of Bt (row j of B) to equal norms, in place.

    ``A @ Bt.T`` is unchanged (up to rounding). A component that is zero in
    either factor is left as it is.
    """
    na = np.linalg.norm(A, axis=0)
    nb = np.linalg.norm(Bt, axis=0)
    ok = (na > 0) & (nb > 0)
    s = np.ones_like(na)
    s[ok] = np.sqrt(nb[ok] / na[ok])
    A *= s
    Bt /= s


@register(
    "kaczmarz",
    loss="frobenius",
    params=(
        *iterative_params(tol_doc="Stop when ``|previous loss - loss| / initial loss < tol`` (two-sided: the loss "
                                  "may rise). "
                                  "With ``stop_on='stationarity'``: when the relative projected gradient is at most ``tol``."),
        Param("kaczmarz_iter", 5, Interval("integer", low=1, hint="It is the number of steps per row and per column."),
              "RK steps per column of B and per row of A in each outer iteration (the seed's ``kacziters``)."),
        Param("sampling", "norm", Options(("norm", "uniform")),
              "How a step picks an observed entry of its line: with probability proportional to the squared "
              "norm of the fixed factor's row (Strohmer & Vershynin), or uniformly (the seed notebook's rule, "
              "which can diverge; see the module docstring)."),
        Param("relaxation", 1.0, Interval("real", low=0, high=2, closed="neither"),
              "Step multiplier omega, ``0 < omega < 2``, in the first outer iteration; iteration t uses "
              "``omega / sqrt(t)`` (see the module docstring). 1 is the classic RK step, < 1 damps noise."),
    ),
    sparse=True,
    summary="Projected randomized Kaczmarz steps on observed entries (seed notebook); cheap steps, not monotone.",
    reference=("strohmer2009randomized",),
)
def kaczmarz(X, mask, *, rank, random_state, max_iter, tol, init, max_time, eval_every, stop_on, kaczmarz_iter, sampling,
             relaxation):
    """NMF with missing values by projected randomized Kaczmarz steps.

    ``max_iter`` counts outer iterations; ``random_state`` seeds the
    initialisation and the sampling of steps.

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    p = start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state, init=init,
              eval_every=eval_every, stop_on=stop_on)
    ops, A, rng = p.ops, p.A, p.rng  # A is updated in place
    n, m = ops.shape
    observed_cols, data_cols = ops.lines(axis=1)  # column k of X as a line
    observed_rows, data_rows = ops.lines(axis=0)
    Bt = np.ascontiguousarray(p.B.T)  # (m, r): column k of B as a row, updated in place
    col_sampler = _ObservedSampler(observed_cols, m, n)  # observed rows of each column
    row_sampler = _ObservedSampler(observed_rows, n, m)  # observed columns of each row
    # A row or column with no observed entry has no equation: nothing would ever update its factor row,
    # while rebalancing keeps rescaling it, so its product with the other factor would drift without
    # bound. The loss does not depend on it; set it to 0, as hals and als do.
    A[~row_sampler.has] = 0.0
    Bt[~col_sampler.has] = 0.0
    # B for the objective: p.B at the start, then a view of Bt. Its memory order is that of the losses
    # recorded so far; BLAS may round A @ B differently for another order.
    B = p.B

    t = 0

    def update():
        nonlocal B, t
        t += 1
        omega = relaxation / np.sqrt(t)  # diminishing steps (module docstring, "Step size")
        # Strohmer & Vershynin 2009, projected RK steps (formulas in the module docstring).
        # Columns of B: systems A B[:, k] = X[:, k] over observed rows.
        _rk_steps(Bt, A, data_cols, col_sampler, kaczmarz_iter, rng, sampling, omega)
        # Rows of A: systems B^T A[i, :]^T = X[i, :]^T over observed columns.
        _rk_steps(A, Bt, data_rows, row_sampler, kaczmarz_iter, rng, sampling, omega)
        _rebalance(A, Bt)  # A @ B unchanged; keeps the factors' scales from drifting
        B = Bt.T

    run = p.iterate(update, lambda: ops.frobenius(A, B), loss="frobenius", factors=lambda: (A, B),
                    two_sided=True)
    return p.result("kaczmarz", A, np.ascontiguousarray(Bt.T), run)
