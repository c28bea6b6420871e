"""Stored storage of the observed entries: the stored entries of a ``scipy.sparse`` matrix.

With ``mask="stored"`` a ``scipy.sparse`` ``X`` says which entries are
observed: exactly the stored ones (a stored zero is an observed zero, an
entry that is not stored is missing). :func:`nmfexp.solvers._init.start`
then builds its problem from :func:`sparse_data` instead of a dense copy,
and the solver's updates run on :class:`StoredOps`, the sparse
implementation of :class:`~._ops.Ops`: the same updates, term for term, as
on the dense storage with the equivalent boolean mask, computed from the
observed entries only, so that an iteration costs O(observed entries x
rank) time and memory instead of O(n m rank):

- products of the masked data with a factor, ``(W*X) B^T`` and
  ``A^T (W*X)``, are sparse-times-dense products (scipy);
- entries (``W*(A B)``, ``(W*X) / (A B)``) are vectors of the stored
  entries in CSR order; the masked reconstruction is a sampled product
  (:func:`sampled_product`, one dot product of length ``rank`` per
  observed entry; compiled with numba when it is available, else NumPy in
  blocks of entries);
- products with the mask itself (``A^T W``, ``W B^T``, the per-row and
  per-column Gram matrices of HALS, ALS and GD-CLS) are products of the
  pattern (ones at the stored entries) with a factor;
- Kaczmarz samples from the stored entries of each row and column
  directly (its samplers take a CSR matrix).

Set-up. Duplicate stored entries are summed (scipy's convention) and
indices sorted, on a private copy; the stored values must be finite and
non-negative. The random initialisation draws the same numbers as on the
dense storage; ``init="nndsvda"`` and ``init="a1gm"`` need the whole matrix
and densify it once, at set-up only (:meth:`SparseData.dense`, an ``n x m``
array for the time of the initialisation).

Equality with the dense storage. The dense storage sums the same products
in BLAS order, the stored entries in their order, so the iterates agree to
rounding, not bit for bit (``tests/test_sparse_path.py``); the Kaczmarz
samplers draw the same entries as on the dense storage whenever the mask
has a missing entry (a fully observed dense run uses another, equivalent
sampler).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy

from .._validation import MaskedData, observed_mean
from ._compiled import compiled_module
from ._ops import Ops
from .losses import frobenius

__all__ = ["SparseData", "StoredOps", "sparse_data", "sampled_product", "BACKEND"]

#: ``"auto"`` (numba when available and not disabled by ``NMFEXP_DISABLE_NUMBA``), ``"numba"`` or ``"numpy"``.
BACKEND = "auto"

# NumPy fallback of the sampled product: stored entries per block (work arrays of block x rank).
_BLOCK_ENTRIES = 1 << 14


def _jit():
    return compiled_module(BACKEND, "_sparse_jit")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SparseData:
    """Validated observed entries in sparse form.

    Attributes
    ----------
    X : scipy.sparse.csr_array of shape (n, m)
        A private float64 copy; stored entries = observed entries, indices
        sorted, no duplicates.
    XT : scipy.sparse.csr_array of shape (m, n)
        The same entries by column (the CSR form of ``X.T``).
    n_missing : int
        ``n m`` minus the number of stored entries.
    """

    X: sp.csr_array
    XT: sp.csr_array
    n_missing: int
    largest: float = 0.0
    scale: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    def mean(self) -> float:
        """The mean of the observed values (computed without overflow for data near 1e308)."""
        return observed_mean(self.X.data, self.X.data.size, self.largest)

    def rescaled(self, k: int) -> SparseData:
        """The data divided by ``2**k`` (in place: the arrays are private copies), as the dense storage is."""
        if not k:
            return self
        np.ldexp(self.X.data, -k, out=self.X.data)
        np.ldexp(self.XT.data, -k, out=self.XT.data)
        return replace(self, largest=math.ldexp(self.largest, -k), scale=self.scale + k)

    @property
    def values(self) -> np.ndarray:
        """The observed values, in CSR order."""
        return self.X.data

    def dense(self) -> MaskedData:
        """The dense equivalent (zero-filled copy and boolean mask); ``n x m``, for set-up only."""
        WX = self.X.toarray()
        if self.n_missing == 0:
            return MaskedData(WX=WX, observed=None, n_missing=0, largest=self.largest, scale=self.scale)
        observed = np.zeros(self.shape, dtype=bool)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.X.indptr))
        observed[rows, self.X.indices] = True
        return MaskedData(WX=WX, observed=observed, n_missing=self.n_missing, largest=self.largest, scale=self.scale)


def sparse_data(X) -> SparseData:
    """Validate a ``scipy.sparse`` ``X`` whose stored entries are the observed ones; return :class:`SparseData`."""
    if getattr(X, "ndim", 2) != 2:
        raise ValueError(f"X must be a 2-D matrix, got a sparse array with {X.ndim} dimension(s) and shape {X.shape}.")
    n, m = X.shape
    if n == 0 or m == 0:
        raise ValueError(f"X is empty (shape {X.shape}); it needs at least one row and one column.")
    dtype = X.dtype
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)) or np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"X must hold real numbers, got a sparse matrix of dtype {dtype}.")
    # to float64 before any format conversion: COO -> CSR sums duplicates in X's own dtype (uint8 wraps)
    Xc = sp.csr_array(X.astype(np.float64, copy=True))
    Xc.sum_duplicates()  # also sorts the indices; explicit zeros are kept (observed zeros)
    if Xc.nnz == 0:
        raise ValueError("every entry of X is missing (no stored entry, mask='stored'); there is nothing to factorize.")
    x = Xc.data
    if not (x.min() >= 0 and np.isfinite(x.max())):
        bad = ~np.isfinite(x) if not np.all(np.isfinite(x)) else x < 0
        k = int(np.flatnonzero(bad)[0])
        i = int(np.searchsorted(Xc.indptr, k, side="right") - 1)
        j = int(Xc.indices[k])
        what = "non-finite" if not np.isfinite(x[k]) else "negative"
        hint = ("non-negative matrix factorization needs X >= 0" if what == "negative"
                else "with mask='stored' every stored entry is observed; do not store missing entries")
        raise ValueError(f"X has {int(bad.sum())} {what} stored value(s) (first: X[{i}, {j}] = {x[k]}); {hint}.")
    XT = Xc.T.tocsr()
    XT.sort_indices()
    return SparseData(X=Xc, XT=XT, n_missing=n * m - Xc.nnz, largest=float(x.max()))


# --------------------------------------------------------------------------- products


class StoredOps(Ops):
    """:class:`~._ops.Ops` on the stored entries of :class:`SparseData`.

    Entries are vectors of length nnz, in the CSR order of ``X``.
    """

    def __init__(self, data: SparseData):
        X = data.X
        self.data = data
        self.X, self.XT, self.shape = X, data.XT, X.shape
        self.x = X.data  # the observed values, CSR order
        self.indptr, self.indices = X.indptr, X.indices
        # values set per use; the data's own array holds the place (no vector of nnz allocated here)
        self.V = sp.csr_array((self.x, X.indices, X.indptr), shape=X.shape)
        self._scratch = None

    @cached_property
    def P(self) -> sp.csr_array:
        """The pattern W (ones at the stored entries), built at its first use: the compiled line solvers
        of ALS, HALS and GD-CLS never need it, and it is a vector of nnz."""
        return sp.csr_array((np.ones(self.X.nnz), self.X.indices, self.X.indptr), shape=self.X.shape)

    @cached_property
    def PT(self) -> sp.csr_array:
        """The pattern of ``X.T`` (:attr:`P` by column), built at its first use."""
        return sp.csr_array((np.ones(self.XT.nnz), self.XT.indices, self.XT.indptr), shape=self.XT.shape)

    def sample(self, A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``(A B)`` at the stored entries, in CSR order."""
        return sampled_product(self.indptr, self.indices, A, B, out)

    def _work(self) -> np.ndarray:
        """A work vector of length nnz, private to this object (losses and ratios sample into it)."""
        if self._scratch is None:
            self._scratch = np.empty_like(self.x)
        return self._scratch

    def with_values(self, v: np.ndarray) -> sp.csr_array:
        """The pattern holding ``v`` (length nnz, CSR order): a matrix zero at missing entries."""
        self.V.data = v
        return self.V

    # the data
    def x_right(self, F):
        return self.X @ F

    def xt_left(self, F):
        return (self.XT @ F.T).T

    def times_xt(self, F):
        return (self.X @ F.T).T

    def sum_x(self):
        return float(self.x.sum())

    def sum_sq_x(self):
        return float(np.vdot(self.x, self.x))

    def norm_x(self):
        return float(np.linalg.norm(self.x))

    def observed_line(self, axis, q):
        lines = self.X if axis == 0 else self.XT
        lo, hi = lines.indptr[q], lines.indptr[q + 1]
        return lines.indices[lo:hi], lines.data[lo:hi]

    def line_counts(self, axis):
        # Not reported: ALS then treats a problem with fewer observed entries than components like any
        # singular one (its exact NNLS on the observed entries), as the sparse path always has.
        return None

    def lines(self, axis):
        return (self.X if axis == 0 else self.XT), None

    # the mask
    def left(self, A):
        return (self.PT @ A).T

    def right(self, B):
        return self.P @ B.T

    def gram_rows(self, B):
        return self._grams(B, self.P)

    def gram_cols(self, A):
        return self._grams(np.ascontiguousarray(A.T), self.PT)

    @staticmethod
    def _grams(F: np.ndarray, pattern: sp.csr_array) -> np.ndarray:
        r = F.shape[0]
        iu, ju = np.triu_indices(r)
        Pt = np.ascontiguousarray((F[iu] * F[ju]).T)  # (p, r(r+1)/2): pair products
        Gu = (pattern @ Pt).T
        G = np.empty((r, r, Gu.shape[1]))
        G[iu, ju] = Gu
        G[ju, iu] = Gu
        return G

    # per-line solves from the stored entries (compiled only; None means: use the Gram arrays)
    def _line_args(self, axis: int, F: np.ndarray):
        lines = self.X if axis == 0 else self.XT
        return lines.indptr, lines.indices, lines.data, np.ascontiguousarray(F.T)

    def nnls_lines(self, axis: int, F: np.ndarray, rcond: float, kkt_tol: float):
        """The exact NNLS of every row (axis 0, ``F = B``) or column (axis 1, ``F = A^T``) on its stored entries.

        Returns ``(solution (r, lines), needs_fallback (lines,) bool)`` from the compiled kernel, which
        forms each line's Gram matrix in an ``r x r`` work array, or None when the kernels are not
        compiled (the caller then uses :meth:`gram_rows` / :meth:`gram_cols`).
        """
        jit = _jit()
        if jit is None:
            return None
        r, p = F.shape[0], self.shape[axis]
        out, flag = np.empty((r, p)), np.empty(p, dtype=np.int8)
        jit.nnls_lines(*self._line_args(axis, F), rcond, kkt_tol, np.finfo(np.float64).eps, out, flag)
        return out, flag.astype(bool)

    def hals_lines(self, axis: int, F: np.ndarray, U: np.ndarray) -> bool:
        """HALS local updates of ``U`` (r, lines) in place, line by line from the stored entries; False
        (nothing done) when the kernels are not compiled. ``F`` as in :meth:`nnls_lines`."""
        jit = _jit()
        if jit is None:
            return False
        jit.hals_lines(*self._line_args(axis, F), U)
        return True

    def ridge_lines(self, axis: int, F: np.ndarray, lam: float):
        """``(F_S F_S^T + lam I)^{-1} F_S x_S`` for every line (r, lines), and which lines had no Cholesky
        factor (left undefined); None when the kernels are not compiled. ``F`` as in :meth:`nnls_lines`."""
        jit = _jit()
        if jit is None:
            return None
        out = np.zeros((F.shape[0], self.shape[axis]))
        failed = jit.ridge_lines(*self._line_args(axis, F), float(lam), out)
        return out, failed

    # entries
    def new_entries(self):
        return np.empty_like(self.x)

    def masked_product(self, A, B, out=None):
        return self.sample(A, B, out)

    def ratio(self, A, B, out=None):
        return np.divide(self.x, self.sample(A, B, self._work()), out=out)

    def rmul(self, E, F):
        return self.with_values(E) @ F

    def lmul(self, F, E):
        return (self.with_values(E).T @ F.T).T

    def gradient_parts(self, loss, A, B):
        if loss != "frobenius":
            return super().gradient_parts(loss, A, B)
        # The residual W*(A B - X) in the private work vector (no other vector of nnz): the products
        # with it are those of the Gram form, (W*(A B)) B^T - (W*X) B^T, to rounding.
        R = self.sample(A, B, self._work())
        R -= self.x
        return self.rmul(R, B.T), self.lmul(A.T, R), self.x_right(B.T), self.xt_left(A.T)

    # losses
    def frobenius(self, A, B):
        R = self.sample(A, B, self._work())
        np.subtract(self.x, R, out=R)  # the same numbers as frobenius(x, R), without a vector of nnz
        return float(np.linalg.norm(R))

    def residual_norm(self, WAB):
        return frobenius(self.x, WAB)

    def kl_from_ratio(self, Q, sum_x, mass):
        return float(xlogy(self.x, Q).sum() - sum_x + mass)


def sampled_product(indptr: np.ndarray, indices: np.ndarray, A: np.ndarray, B: np.ndarray,
                    out: np.ndarray | None = None) -> np.ndarray:
    """``(A @ B)[i, j]`` for every stored entry ``(i, j)`` of a CSR pattern, in its order.

    ``A`` is (n, r), ``B`` (r, m); ``O(stored entries x r)`` work and memory.
    """
    nnz = int(indptr[-1])
    out = np.empty(nnz) if out is None else out
    Bt = np.ascontiguousarray(B.T)
    A = np.ascontiguousarray(A)
    jit = _jit()
    if jit is not None:
        return jit.sampled_product(indptr, indices, A, Bt, out)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(indptr))
    for lo in range(0, nnz, _BLOCK_ENTRIES):
        hi = min(lo + _BLOCK_ENTRIES, nnz)
        np.einsum("kr,kr->k", A[rows[lo:hi]], Bt[indices[lo:hi]], out=out[lo:hi])
    return out


