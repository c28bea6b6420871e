"""Initial factors and the problem every iterative solver starts from (data, storage, factors, stopping).

Initialisations (``init=``), all computed from observed entries only, so junk
at missing entries never changes them:

- ``None`` / ``"random"``: uniform [0, 1) entries, A then B (the paper's code).
- ``"nndsvda"``: NNDSVD (Boutsidis & Gallopoulos, "SVD based initialization:
  A head start for nonnegative matrix factorization", Pattern Recognition
  41(4), 2008) of the matrix whose missing entries are filled with the mean of
  the observed entries of their column (the overall observed mean for a column
  with none), zeros then replaced by the observed mean ("a" variant). The
  truncated SVD is exact for small matrices and a randomized range finder
  (Halko, Martinsson & Tropp 2011, 7 power iterations) otherwise, seeded
  by the solver's random state.
- ``"a1gm"``: the rank-1 A1GM factors as the first component. When A1GM does
  not apply (no complete row or no complete column, or the observed entries
  of complete rows and columns sum to zero), the first component is instead
  the rank-1 KL optimum of complete data, ``rowsum colsum / total``, written
  with means of observed entries: ``u = row means``, ``v = column means /
  overall mean`` (rows or columns with no observed entry get the overall
  mean). The remaining ``rank - 1`` components are uniform in
  ``[0, 0.1 sqrt(mean / (rank - 1)))``, small next to the first.
- a pair ``(A0, B0)``: validated private copies.

Scale. :func:`start` divides the data by ``2**k`` (:func:`scale_exponent`):
``k`` is the multiple of 3 that brings the mean of the observed entries
within a factor ``2**1.5`` of ``rank / 4``, the mean of the product of two
uniform [0, 1) factors, as scikit-learn scales its starts by
``sqrt(mean / rank)``. So the random start, and every initialisation and
fixed constant of the solvers (the MU floor, GD-CLS's ridge and epsilon),
act on data of the same scale whatever the scale of ``X``, and nothing
overflows or underflows on the way. Dividing by a power of two is exact; a
given ``(A0, B0)`` is divided by ``2**(k // 2)`` and ``2**(k - k // 2)``.
:meth:`Problem.result` multiplies the factors back and reports the objective
in the data's units. Data whose mean is already within that factor (uniform
[0, 1) matrices at rank 1, products of ``r`` uniform factors fitted at rank
``r``) have ``k = 0`` and are not touched: their numbers are those of a
plain run.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import MaskedData, SolverRefused, check_init_factors, check_number, check_rank, masked_data
from ._base import FactorizationResult
from ._dense import DenseOps
from ._driver import Run, iterate
from ._driver import stationarity as stationarity_measure
from ._ops import Ops
from ._params import INITS
from ._sparse import SparseData, StoredOps, sparse_data
from .a1gm import a1gm

__all__ = ["INITS", "Problem", "initial_factors", "rng_from", "scale_exponent", "start"]


def rng_from(random_state) -> np.random.Generator:
    """``None``, an int seed or a Generator -> a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    seed = check_number(random_state, "random_state", kind="integer", low=0, allow_none=True,
                        hint="A numpy Generator is accepted too.")
    return np.random.default_rng(seed)


def initial_factors(data: MaskedData | SparseData, rank: int, init,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return private initial factors ``(A0, B0)``.

    ``init`` is ``None`` or ``"random"`` (uniform [0, 1) entries, A then B, as
    in the paper's reference code), ``"nndsvda"``, ``"a1gm"`` (see the module
    docstring) or a pair of arrays. The random start draws the same numbers
    on both storages; the named ones need the whole matrix and densify
    stored entries once (:meth:`~._sparse.SparseData.dense`).
    """
    n, m = data.shape
    if init is None or (isinstance(init, str) and init == "random"):
        return rng.random((n, rank)), rng.random((rank, m))
    if isinstance(init, str):
        dense = data.dense() if isinstance(data, SparseData) else data
        if init == "nndsvda":
            return _nndsvda(dense, rank, rng)
        if init == "a1gm":
            return _a1gm_start(dense, rank, rng)
        raise ValueError(f"unknown init {init!r}; use one of {', '.join(INITS)} or a pair of arrays (A0, B0).")
    return check_init_factors(init, (n, m), rank)


#: The data's scale is quantised in steps of this many octaves.
SCALE_STEP = 3


def scale_exponent(mean: float, rank: int) -> int:
    """The multiple ``k`` of 3 with ``mean / 2**k`` within a factor ``2**1.5`` of ``rank / 4``; 0 for 0.

    ``rank / 4`` is the mean of the product of two uniform [0, 1) factors of
    that rank: after dividing by ``2**k`` the data and the random start have
    the same scale up to that factor, in steps of 3 octaves (scaling the data
    by ``8**j`` shifts ``k`` by exactly ``3 j``).
    """
    if not (mean > 0 and math.isfinite(mean)):
        return 0
    mant, e = math.frexp(mean / rank)
    e += 2  # times 4, without overflow: rho = 4 mean / rank = mant * 2**e
    half_octaves = 2 * (e - 1) + (mant >= math.sqrt(0.5))  # floor(2 log2 rho)
    return SCALE_STEP * ((half_octaves + SCALE_STEP) // (2 * SCALE_STEP))


# A start whose product is this many times larger or smaller than the (rescaled) data's largest value is
# refused: squares of residuals would overflow, or the factors underflow to zero.
_START_RANGE = 1e100
_EPS = np.finfo(np.float64).eps


def _largest_term(A: np.ndarray, B: np.ndarray) -> float:
    """``max_l max(A[:, l]) max(B[l, :])``: the entries of ``A @ B`` lie between it and ``rank`` times it."""
    with np.errstate(over="ignore"):
        return float(np.max(A.max(axis=0) * B.max(axis=1)))


def _check_start(A: np.ndarray, B: np.ndarray, W: Ops, data_max: float) -> None:
    """Refuse a given start that would leave every solver at zero or overflow, on the rescaled data.

    The product ``A @ B`` must not exceed the data by more than
    :data:`_START_RANGE` (squares of residuals would overflow), and, when the
    data have a positive observed value, its largest entry must not fall
    below ``1 / _START_RANGE`` of the data (the factors underflow to zero) nor
    may it vanish on every observed entry (no update can then move it).
    """
    top = _largest_term(A, B) / (data_max if data_max > 0 else 1.0)
    how = ("Give initial factors whose product A0 @ B0 has the magnitude of X, or a named init "
           "('random', 'nndsvda', 'a1gm').")
    if not top <= _START_RANGE:
        raise ValueError(f"init (A0, B0) is too large for X: A0 @ B0 is more than {_START_RANGE:.0e} times X's "
                         f"largest observed value (or does not fit in float64). {how}")
    if data_max > 0:
        if not top >= 1 / _START_RANGE:
            what = "zero everywhere" if top == 0 else f"less than {1 / _START_RANGE:.0e} times X's largest value"
            raise ValueError(f"init (A0, B0) gives A0 @ B0 {what}; every solver would stay at (or collapse to) "
                             f"all-zero factors. {how}")
        if not np.sum(A * W.right(B)) > 0:  # sum over observed entries of A @ B
            raise ValueError("init (A0, B0) gives A0 @ B0 = 0 at every observed entry of X (it is positive only "
                             f"where X is missing), so no update can move it away from zero. {how}")


def refuse_dead_components(A: np.ndarray, B: np.ndarray, init, solver: str, *, b_is_solved: bool = False) -> None:
    """Refuse a given start that a multiplicative update cannot repair.

    A multiplicative update multiplies each factor entry by a ratio, so an
    entry that starts at zero stays at (or, floored, near) zero. An all-zero
    column of ``A0`` or all-zero row of ``B0`` is then a component that never
    comes alive: a rank-``r`` request silently returns a rank-``r - 1`` fit
    that reports "converged". With ``b_is_solved`` (GD-CLS: ``B`` is solved
    from ``A`` each iteration, only ``A`` is multiplicative), ``B0`` does not
    matter, but an all-zero row of ``A0`` is never updated either.
    Named inits (``None`` or a string) are not checked: they never start a
    component at zero.
    """
    if init is None or isinstance(init, str):
        return
    how = "Give initial factors without all-zero columns of A0 or rows of B0, or a named init ('random', 'nndsvda')."
    dead_a = np.flatnonzero(~np.any(A != 0, axis=0))
    dead_b = np.flatnonzero(~np.any(B != 0, axis=1)) if not b_is_solved else np.array([], dtype=int)
    if dead_a.size or dead_b.size:
        where = (f"column(s) {dead_a.tolist()} of A0" if dead_a.size else "") + (
            " and " if dead_a.size and dead_b.size else "") + (f"row(s) {dead_b.tolist()} of B0" if dead_b.size else "")
        raise ValueError(f"init (A0, B0): {where} are zero everywhere. {solver}'s multiplicative update never moves "
                         f"a zero factor entry, so those components would stay zero and the result would have fewer "
                         f"than {A.shape[1]} components while reporting convergence. {how}")
    if b_is_solved:
        dead_rows = np.flatnonzero(~np.any(A != 0, axis=1))
        if dead_rows.size:
            raise ValueError(f"init (A0, B0): row(s) {dead_rows[:10].tolist()} of A0 are zero everywhere. {solver} "
                             "updates A multiplicatively, so those rows would never be fitted. Give A0 without "
                             "all-zero rows, or a named init ('random', 'nndsvda').")


def observed_means(data: MaskedData) -> tuple[np.ndarray, np.ndarray, float]:
    """Row means, column means and the overall mean of the observed entries.

    A row or column with no observed entry gets the overall mean.
    """
    WX, obs = data.WX, data.observed
    n, m = WX.shape
    total = float(WX.sum())
    if obs is None:
        return WX.sum(axis=1) / m, WX.sum(axis=0) / n, total / WX.size
    n_obs = np.count_nonzero(obs)
    mean = total / n_obs
    rc, cc = np.count_nonzero(obs, axis=1), np.count_nonzero(obs, axis=0)
    rows = np.divide(WX.sum(axis=1), rc, out=np.full(n, mean), where=rc > 0)
    cols = np.divide(WX.sum(axis=0), cc, out=np.full(m, mean), where=cc > 0)
    return rows, cols, mean


def independence_factors(means: tuple[np.ndarray, np.ndarray, float]) -> tuple[np.ndarray, np.ndarray]:
    """The rank-1 independence model ``R_ij = r_i c_j / mean`` of observed means, as factors ``(u, v)``.

    ``means`` is :func:`observed_means`' (row means, column means, overall
    mean): ``u = r``, ``v = c / mean`` (``c`` when the mean is 0). It is the
    rank-1 KL optimum of complete data, ``rowsum colsum / total``; the
    fallback of ``init="a1gm"`` and the ``row_col_mean`` baseline.
    """
    rows, cols, mean = means
    return rows, cols / mean if mean > 0 else cols


def _truncated_svd(Y: np.ndarray, k: int, rng: np.random.Generator):
    """Leading ``k`` singular triplets: exact when cheap, else randomized (Halko et al. 2011, Alg. 4.4)."""
    n, m = Y.shape
    p = k + 10  # oversampling
    if p >= min(n, m) or min(n, m) <= 300:
        U, S, Vt = np.linalg.svd(Y, full_matrices=False)
        return U[:, :k], S[:k], Vt[:k]
    Q = Y @ rng.standard_normal((m, p))
    for _ in range(7):  # power iterations, re-orthonormalised each half step
        Q, _ = np.linalg.qr(Q)
        Q, _ = np.linalg.qr(Y.T @ Q)
        Q = Y @ Q
    Q, _ = np.linalg.qr(Q)
    Ub, S, Vt = np.linalg.svd(Q.T @ Y, full_matrices=False)
    return (Q @ Ub)[:, :k], S[:k], Vt[:k]


def _nndsvda(data: MaskedData, rank: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """NNDSVDa (Boutsidis & Gallopoulos 2008, Table 1) of the column-mean-filled matrix."""
    _, colmean, mean = observed_means(data)
    Y = data.WX if data.observed is None else np.where(data.observed, data.WX, colmean[None, :])
    U, S, Vt = _truncated_svd(Y, rank, rng)
    n, m = Y.shape
    A = np.zeros((n, rank))
    B = np.zeros((rank, m))
    # Leading pair: the Perron vectors of a non-negative matrix, signs fixed by abs.
    A[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    B[0] = np.sqrt(S[0]) * np.abs(Vt[0])
    for j in range(1, rank):
        x, y = U[:, j], Vt[j]
        xp, yp = np.maximum(x, 0), np.maximum(y, 0)
        xn, yn = np.maximum(-x, 0), np.maximum(-y, 0)
        nxp, nyp, nxn, nyn = (float(np.linalg.norm(v)) for v in (xp, yp, xn, yn))
        mp, mn = nxp * nyp, nxn * nyn
        # Keep the sign pattern whose positive section carries more of the pair.
        u, v, sigma, nu, nv = (xp, yp, mp, nxp, nyp) if mp > mn else (xn, yn, mn, nxn, nyn)
        if sigma > 0:
            scale = np.sqrt(S[j] * sigma)
            A[:, j] = scale / nu * u
            B[j] = scale / nv * v
    # "a" variant: zeros (and round-off dust) become the observed mean, so that
    # multiplicative updates can move them.
    A[A < 1e-6 * max(A.max(), 1e-300)] = 0.0
    B[B < 1e-6 * max(B.max(), 1e-300)] = 0.0
    A[A == 0] = mean
    B[B == 0] = mean
    return A, B


def _a1gm_start(data: MaskedData, rank: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A1GM's rank-1 factors as the first component; the fallback rule is in the module docstring."""
    n, m = data.shape
    means = None
    try:
        res = a1gm(data.WX, data.observed)
        u, v = res.A[:, 0], res.B[0]
    except SolverRefused:  # no complete row/column, or their observed sum is zero
        means = observed_means(data)
        u, v = independence_factors(means)
    A = np.empty((n, rank))
    B = np.empty((rank, m))
    A[:, 0], B[0] = u, v
    if rank > 1:
        mean = (means or observed_means(data))[2]
        s = 0.1 * np.sqrt(mean / (rank - 1))
        A[:, 1:] = s * rng.random((n, rank - 1))
        B[1:] = s * rng.random((rank - 1, m))
    return A, B


@dataclass
class Problem:
    """What every iterative solver starts from: validated data, the products of
    its storage, private initial factors, its random generator and its stopping
    parameters.

    ``data`` holds ``X / 2**scale`` (a :class:`~nmfexp._validation.MaskedData`,
    or a :class:`~nmfexp.solvers._sparse.SparseData` for sparse input with
    ``mask="stored"``, rescaled the same way) and ``A``, ``B`` are on that
    scale; :meth:`result` scales the factors and the objective back. ``ops``
    (:class:`~nmfexp.solvers._ops.Ops`) is what the solver's updates are
    written against, whatever the storage.
    """

    data: MaskedData | SparseData
    ops: Ops
    A: np.ndarray
    B: np.ndarray
    rng: np.random.Generator
    max_iter: int
    tol: float
    max_time: float | None
    eval_every: int = 1
    stop_on: str = "decrease"

    @property
    def WX(self) -> np.ndarray:
        """The dense data with zeros at missing entries (a private copy), divided by ``2**scale``."""
        return self.data.WX

    @property
    def scale(self) -> int:
        """The power of two the data were divided by (:func:`scale_exponent`)."""
        return self.data.scale

    def iterate(self, update, objective, *, loss: str, factors, two_sided: bool = False,
                goal: float | None = None) -> Run:
        """The shared loop (:func:`nmfexp.solvers._driver.iterate`) with this problem's stopping parameters.

        ``loss`` (``"frobenius"`` or ``"kl"``) and ``factors()``, which
        returns the current ``(A, B)``, define the stationarity measure (taken and recorded with
        ``stop_on="stationarity"`` only): the
        norm of the projected gradient of the loss on the observed entries
        relative to the data's part of the gradient
        (:meth:`~._ops.Ops.gradient_parts`), evaluated with the objective.
        """
        # The measure costs about an iteration; it is taken only when it is the stopping rule, so that a
        # timed call under the paper's rule (stop_on="decrease") times the paper's algorithm and not our
        # bookkeeping (it had made WNMF-KL's timed calls in Fig. 5 up to 1.4 times slower).
        measure = self.stationarity(loss, factors) if self.stop_on == "stationarity" else None
        return iterate(update, objective, max_iter=self.max_iter, tol=self.tol, max_time=self.max_time,
                       two_sided=two_sided, goal=goal, eval_every=self.eval_every,
                       stationarity=measure, stop_on=self.stop_on)

    def stationarity(self, loss: str, factors):
        """``() -> ||P[grad f]||_F / ||D||_F`` at ``factors()`` for the masked ``loss`` (see :mod:`._driver`)."""
        ops = self.ops

        def measure() -> float:
            A, B = factors()
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return stationarity_measure(*ops.gradient_parts(loss, A, B), A, B)

        return measure

    def result(self, solver: str, A: np.ndarray, B: np.ndarray, run: Run, **info) -> FactorizationResult:
        """The solver's :class:`FactorizationResult` in the data's units; ``info`` always has ``n_missing``.

        ``A`` is multiplied by ``2**(scale // 2)`` and ``B`` by the rest of
        ``2**scale`` (exact while the products stay normal doubles), the
        objective by ``2**scale`` (both losses are homogeneous of degree 1; a
        value beyond float64's range, possible only for data near 1e308, is
        reported as inf).
        A run that ends with all-zero factors (``A @ B`` below round-off of the
        data everywhere) on data with a positive observed entry is not
        reported as converged, and says so in a warning.
        """
        history = run.history.as_dict()
        converged, reason = run.converged, run.reason
        # All-zero factors: every entry of A @ B below round-off of the data.
        if converged and self.data.largest > 0 and A.shape[1] * _largest_term(A, B) <= _EPS * self.data.largest:
            converged, reason = False, "zero_factors"
            warnings.warn(f"{solver} ended with all-zero factors (A @ B is below round-off of X) although X "
                          "has positive observed values; this is no fit. Try another init or random_state.",
                          RuntimeWarning, stacklevel=3)
        k = self.scale
        if k:
            A, B = np.ldexp(A, k // 2), np.ldexp(B, k - k // 2)
            with np.errstate(over="ignore"):  # a loss beyond float64's range (data near 1e308) shows as inf
                history["objective"] = np.ldexp(history["objective"], k)
        return FactorizationResult(A=A, B=B, n_iter=run.n_iter, history=history, solver=solver,
                                   converged=converged, stop_reason=reason,
                                   info={"n_missing": self.data.n_missing, **info})


def start(X, mask, *, rank: int, max_iter: int, tol: float, max_time: float | None, random_state, init,
          eval_every: int = 1, stop_on: str = "decrease") -> Problem:
    """Read the data of an iterative solver and build its :class:`Problem`.

    The stopping parameters arrive checked (:meth:`~._base.SolverSpec.check_params`
    reads their constraints from the solver's description); ``X``, ``mask``,
    ``rank``, ``random_state`` and a given ``init`` pair are validated here.
    ``X`` and ``mask`` mean what :func:`nmfexp._validation.read_data` says
    (arrays, masked arrays, DataFrames, scipy.sparse with ``mask="stored"``
    or ``"all"``). A ``scipy.sparse`` ``X`` with ``mask="stored"`` (only the
    stored entries are observed; a stored zero is an observed zero) stays in
    sparse form, validated by :func:`nmfexp.solvers._sparse.sparse_data`, and
    the solver's products run on :class:`~._sparse.StoredOps` at a cost of
    O(observed entries x rank); anything else becomes a dense copy with
    :class:`~._dense.DenseOps`. Either way the data are rescaled by a power
    of two (see the module docstring); a given ``init`` is refused when its
    product is all zero or far outside the data's scale.
    """
    stored = sp.issparse(X) and isinstance(mask, str) and mask == "stored"
    data = sparse_data(X) if stored else masked_data(X, mask)
    rank = check_rank(rank, data.shape)
    data = data.rescaled(scale_exponent(data.mean(), rank))
    rng = rng_from(random_state)
    A, B = initial_factors(data, rank, init, rng)
    ops = StoredOps(data) if stored else DenseOps(data)
    if not (init is None or isinstance(init, str)):  # given factors: into the data's rescaled units
        A, B = _given_start(A, B, data.scale, ops, data.largest)
    return Problem(data, ops, A, B, rng, max_iter, tol, max_time, eval_every, stop_on)


def _given_start(A: np.ndarray, B: np.ndarray, k: int, W: Ops, largest: float) -> tuple[np.ndarray, np.ndarray]:
    """User-given factors in the data's rescaled units, checked (:func:`_check_start`)."""
    if k:
        with np.errstate(over="ignore"):
            A, B = np.ldexp(A, -(k // 2)), np.ldexp(B, -(k - k // 2))
    _check_start(A, B, W, largest)
    return A, B
