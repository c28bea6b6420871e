"""The sums A1GM's closed form needs, read off ``X`` in about one pass.

A1GM (see :mod:`.a1gm`) needs, for complete rows ``rc`` and complete columns
``cc`` (rows/columns without a missing entry):

- ``row_sums`` on complete rows and ``row_sums_cc`` (sums over complete
  columns) on incomplete rows;
- ``col_sums`` on complete columns and ``col_sums_cr`` (sums over complete
  rows) on incomplete columns;
- ``SX``, ``SY``, ``SZ``: the totals of the blocks complete rows x complete
  columns, incomplete rows x complete columns, complete rows x incomplete
  columns.

Two implementations give them:

- a compiled one (numba, :mod:`._a1gm_jit`) that reads ``X`` once along its
  memory order. With a boolean mask, the mask is read once first (an eighth
  of the bytes of ``X``) to learn ``rc`` and ``cc``; without one, NaN entries
  are found inside the same pass, with no ``n x m`` temporary (rows with a
  NaN are read a second time from cache; when the NaNs do not form a grid,
  those rows are read once more at the end, and where a difference of sums
  would lose accuracy the complete rows are summed again exactly).
- a NumPy one (row blocks and two small matrix products per block), used when
  numba is not installed, when the environment variable
  ``NMFEXP_DISABLE_NUMBA`` is set to anything but ``0``, or when
  :data:`BACKEND` is ``"numpy"``.

Both leave the caller's arrays untouched and never let a value at a missing
entry reach a result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import mask_and_missing, raise_bad_observed
from ._compiled import compiled_module

__all__ = ["A1GMSums", "a1gm_sums", "numba_enabled", "BACKEND"]

#: ``"auto"`` (numba when available and not disabled), ``"numba"`` or ``"numpy"``.
BACKEND = "auto"

# NumPy fallback: rows per streamed block are chosen so that one block is about
# this many bytes, small enough to stay in L2 cache while it is read three times.
_BLOCK_BYTES = 1 << 21

# A difference A - B of non-negative sums is trusted when B <= _SUBTRACT_LIMIT * A:
# its relative rounding error is then at most (1 + L) / (1 - L) = 7 times that of A.
_SUBTRACT_LIMIT = 0.75


_NAN_MARKS_GAPS = object()  # stands for the mask ~isnan(X), built only to report a bad value


def numba_enabled() -> bool:
    """Whether :func:`a1gm_sums` uses the compiled kernel (numba installed and not disabled)."""
    return _jit() is not None


def _jit():
    return compiled_module(BACKEND, "_a1gm_jit")


@dataclass(frozen=True)
class A1GMSums:
    """The sums of A1GM's closed form, for ``X`` or for ``X.T`` when ``transposed``.

    Each per-row or per-column array is meaningful only where the module
    docstring says; elsewhere it may hold anything.
    """

    transposed: bool
    row_complete: np.ndarray
    col_complete: np.ndarray
    n_missing: int
    row_sums: np.ndarray
    row_sums_cc: np.ndarray
    col_sums: np.ndarray
    col_sums_cr: np.ndarray
    SX: float
    SY: float
    SZ: float


def a1gm_sums(X: np.ndarray, mask=None) -> A1GMSums:
    """Validate ``mask`` against float64 ``X`` and compute A1GM's sums.

    ``X`` is read along its memory order: a Fortran-ordered ``X`` is handled as
    ``X.T`` (``transposed`` is then True; A1GM is symmetric under
    transposition). Raises the ``ValueError`` of
    :func:`nmfexp._validation.mask_and_missing` for a bad mask or when every
    entry is missing, and of :func:`nmfexp._validation.raise_bad_observed` for
    a NaN, inf or negative observed value or sums that overflow.
    """
    jit = _jit()
    if jit is None:
        return _numpy_sums(X, mask)
    transposed = not X.flags.c_contiguous and X.flags.f_contiguous
    Xs = X.T if transposed else np.ascontiguousarray(X)
    if mask is None:
        sums = _nan_sums(jit, X, Xs, transposed)
    else:
        if isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == X.shape:
            observed = mask
        else:  # 0/1 masks are converted (and bad masks rejected) by the shared validation
            observed = mask_and_missing(mask, X)[0]
        sums = _masked_sums(jit, X, Xs, mask, observed, transposed)
    return sums


def _masked_sums(jit, X, Xs, mask, observed, transposed) -> A1GMSums:
    n, m = Xs.shape
    rc = np.ones(n, np.uint8)
    cc = np.ones(m, np.uint8)
    n_missing = 0
    Ms = None
    if observed is not None:
        Ms = (observed.T if transposed else observed).view(np.uint8)
        if Ms.flags.c_contiguous:
            n_missing = jit.mask_facts(Ms, rc, cc)
        elif Ms.flags.f_contiguous:
            n_missing = jit.mask_facts(Ms.T, cc, rc)
        else:
            n_missing = jit.mask_facts(np.ascontiguousarray(Ms), rc, cc)
        if n_missing == X.size:
            mask_and_missing(mask, X)  # raises its "every entry of X is missing"
    return _from_known(jit, X, Xs, observed, Ms, transposed, rc, cc, int(n_missing))


def _from_known(jit, X, Xs, observed, Ms, transposed, rc, cc, n_missing) -> A1GMSums:
    """Sums when complete rows ``rc`` and columns ``cc`` (0/1 bytes) are known.

    ``Ms`` is the mask (in the streamed orientation, as bytes) to check suspect
    rows against, None when ``X`` was checked already; ``observed`` is what
    error messages name entries by.
    """
    n, m = Xs.shape
    P0, P1 = np.zeros(n), np.zeros(n)
    Q1, Y = np.zeros(m), np.zeros(m)
    suspect = np.zeros(n, np.uint8)
    status, n_suspect, SX, SY, SZ, total = jit.known_pass(Xs, rc, cc, P0, P1, Q1, Y, suspect)
    # Suspect rows (a NaN, inf or negative value somewhere) are checked against the mask; one
    # memory layout for it keeps to one compiled version of the check.
    if status < 0 or (Ms is not None and n_suspect and jit.observed_bad(Xs, np.ascontiguousarray(Ms), suspect)) \
            or not np.isfinite(total):
        raise_bad_observed(X, ~np.isnan(X) if observed is _NAN_MARKS_GAPS else observed)
    return A1GMSums(transposed, rc.view(bool), cc.view(bool), n_missing, P0, P1, Q1 + Y, Q1, SX=SX, SY=SY, SZ=SZ)


def _nan_sums(jit, X, Xs, transposed) -> A1GMSums:
    n, m = Xs.shape
    rc = np.empty(n, np.uint8)
    P0, P1 = np.empty(n), np.empty(n)
    Q = np.zeros(m)
    K = np.zeros(m, np.uint8)
    status, n_missing, n_gap_rows, n_gap_cols, q_finite, SX_SZ, SY, SX_SY, SZ = jit.nan_pass(Xs, rc, P0, P1, Q, K)
    if status < 0 or not q_finite:
        raise_bad_observed(X, ~np.isnan(X))
    if n_missing == X.size:
        mask_and_missing(None, X)  # raises its "every entry of X is missing"
    cc = (K == 0).view(np.uint8)
    # Q holds column sums over all rows (exact on complete columns). On
    # incomplete columns A1GM needs them over complete rows only: when the
    # missing entries form a grid, incomplete rows are missing on every
    # incomplete column, so Q is already that sum. Otherwise subtract what the
    # incomplete rows hold there. S(X) is a total minus a part of it. Each
    # difference is trusted while the part is not the larger one; if one is,
    # the complete rows are summed again exactly.
    Q1 = Q
    trusted = True
    if n_missing != n_gap_rows * n_gap_cols:
        Ysum = np.zeros(m)
        jit.incomplete_col_sums(Xs, rc, K, Ysum)
        Q1 = Q - Ysum
        trusted = bool(np.all(Ysum[K != 0] <= _SUBTRACT_LIMIT * Q[K != 0]))
        SZ = float(Q1[K != 0].sum())
    if SZ <= SY:
        SX, trusted = SX_SZ - SZ, trusted and SZ <= _SUBTRACT_LIMIT * SX_SZ
    else:
        SX, trusted = SX_SY - SY, trusted and SY <= _SUBTRACT_LIMIT * SX_SY
    if not np.isfinite(SX_SZ + SX_SY + SY + SZ):
        raise_bad_observed(X, ~np.isnan(X))  # sums overflow
    if not trusted:
        return _from_known(jit, X, Xs, _NAN_MARKS_GAPS, None, transposed, rc, cc, int(n_missing))
    return A1GMSums(transposed, rc.view(bool), cc.view(bool), int(n_missing), P0, P1, Q, Q1, SX=SX, SY=SY, SZ=SZ)


# --- NumPy fallback ---------------------------------------------------------------------------


def _numpy_sums(X: np.ndarray, mask) -> A1GMSums:
    observed, n_missing = mask_and_missing(mask, X)
    transposed = not X.flags.c_contiguous and X.flags.f_contiguous
    # stream along the memory order; A1GM is symmetric under transposition
    Xs = X.T if transposed else np.ascontiguousarray(X)
    observed_s = observed.T if transposed and observed is not None else observed
    if observed_s is None:
        rc, cc = np.ones(Xs.shape[0], bool), np.ones(Xs.shape[1], bool)
    else:
        rc, cc = observed_s.all(axis=1), observed_s.all(axis=0)
    try:
        # NaN marking without a mask: the fast path would only find the NaNs again
        P, Q = _streamed_sums(Xs, observed_s, rc, cc, skip_fast_path=mask is None and observed is not None)
    except ValueError:
        raise_bad_observed(X, observed)  # name the bad entry as the caller indexes it
    return A1GMSums(transposed, rc, cc, n_missing, P[:, 0], P[:, 1], Q[0], Q[1],
                    SX=float(P[rc, 1].sum()), SY=float(P[~rc, 1].sum()), SZ=float(Q[1, ~cc].sum()))


def _streamed_sums(X: np.ndarray, observed, row_complete, col_complete, skip_fast_path: bool = False):
    """One pass over C-ordered ``X``: P[:, 0] full row sums, P[:, 1] row sums over
    complete columns, Q[0] column sums, Q[1] column sums over complete rows.

    Sums that would involve missing entries are only ever used where no missing
    entry exists, so junk at missing entries is harmless as long as it is finite
    and non-negative (junk * 0 == 0 exactly). The fast path reads every block
    once and checks the totals at the end; only if some block held NaN, inf or
    a negative value is it re-read with its missing entries zeroed, and
    rejected if the bad values are observed.
    """
    n, m = X.shape
    Cw = np.ones((m, 2))
    Cw[:, 1] = col_complete
    Rw = np.ones((2, n))
    Rw[1] = row_complete
    P = np.empty((n, 2))
    Q = np.zeros((2, m))
    q = np.empty((2, m))
    step = max(1, _BLOCK_BYTES // (8 * m))
    starts = range(0, n, step)
    if not skip_fast_path:
        lows = np.empty(len(starts))
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf here only send us to the slow path
            for k, s in enumerate(starts):
                blk = X[s : s + step]
                np.matmul(blk, Cw, out=P[s : s + step])
                np.matmul(Rw[:, s : s + step], blk, out=q)
                Q += q
                lows[k] = blk.min()
        if lows.min() >= 0 and np.isfinite(P).all() and np.isfinite(Q).all():
            return P, Q
    # Slow path: some block holds NaN/inf/negative values (legal only at missing entries).
    if observed is None:
        raise_bad_observed(X, None)
    Q[:] = 0.0
    with np.errstate(over="ignore"):  # overflow is reported below
        for s in starts:
            blk = X[s : s + step]
            clean = np.where(observed[s : s + step], blk, 0.0)
            if not (clean.min() >= 0 and np.isfinite(clean.max())):
                raise_bad_observed(X, observed)
            np.matmul(clean, Cw, out=P[s : s + step])
            Q += Rw[:, s : s + step] @ clean
    if not (np.isfinite(P).all() and np.isfinite(Q).all()):
        raise_bad_observed(X, observed)  # overflow of huge observed values
    return P, Q
