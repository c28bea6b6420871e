"""The sparse path: every iterative solver on the stored entries of a ``scipy.sparse`` matrix.

With ``mask="stored"`` a ``scipy.sparse`` ``X`` says which entries are
observed: exactly the stored ones (a stored zero is an observed zero, an
entry that is not stored is missing). :func:`nmfexp.solvers._init.start`
then builds its problem from :func:`sparse_data` instead of a dense copy,
and each solver runs the functions below: the same updates, term for term,
as its dense path with the equivalent boolean mask, computed from the
observed entries only, so that an iteration costs O(observed entries x
rank) time and memory instead of O(n m rank):

- products of the masked data with a factor, ``(W*X) B^T`` and
  ``A^T (W*X)``, are sparse-times-dense products (scipy);
- the masked reconstruction ``W*(A B)`` is needed only at the observed
  entries: a sampled product (:func:`sampled_product`, one dot product of
  length ``rank`` per observed entry; compiled with numba when it is
  available, else NumPy in blocks of entries);
- products with the mask itself (``A^T W``, ``W B^T``, the per-row and
  per-column Gram matrices of HALS, ALS and GD-CLS) are products of the
  pattern (ones at the stored entries) with a factor;
- Kaczmarz samples from the stored entries of each row and column
  directly (its samplers take a CSR matrix).

Set-up. Duplicate stored entries are summed (scipy's convention) and
indices sorted, on a private copy; the stored values must be finite and
non-negative. The random initialisation draws the same numbers as on the
dense path; ``init="nndsvda"`` and ``init="a1gm"`` need the whole matrix and
densify it once, at set-up only (an ``n x m`` array for the time of the
initialisation).

Equality with the dense path. The dense path sums the same products in BLAS
order, the sparse path in the order of the stored entries, so the iterates
agree to rounding, not bit for bit (``tests/test_sparse_path.py``); the
Kaczmarz samplers draw the same entries as the dense path whenever the
mask has a missing entry (a fully observed dense run uses another,
equivalent sampler).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy

from .._validation import MaskedData, check_init_factors, observed_mean
from ._compiled import compiled_module
from ._losses import frobenius

__all__ = ["SPARSE_SOLVERS", "SparseData", "sparse_data", "sparse_initial_factors", "sampled_product",
           "wnmf_kl", "wnmf_fro", "hals", "als", "gdcls", "kaczmarz", "BACKEND"]

#: The solvers that take ``mask="stored"`` with a ``scipy.sparse`` X.
SPARSE_SOLVERS = ("wnmf_kl", "wnmf_fro", "hals", "als", "gdcls", "kaczmarz")

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
        """The data divided by ``2**k`` (in place: the arrays are private copies), as the dense path does."""
        if not k:
            return self
        np.ldexp(self.X.data, -k, out=self.X.data)
        np.ldexp(self.XT.data, -k, out=self.XT.data)
        return replace(self, largest=math.ldexp(self.largest, -k), scale=self.scale + k)

    def pattern_ops(self) -> _Ops:
        """Products with the 0/1 pattern of observed entries (``right(B) = W B^T``, ...)."""
        return _Ops(self)

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
    Xc = sp.csr_array(X, dtype=np.float64, copy=True)
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


def sparse_initial_factors(data: SparseData, rank: int, init, rng: np.random.Generator):
    """Initial factors for the sparse path: the dense path's, from the same draws (named inits densify once)."""
    n, m = data.shape
    if init is None or (isinstance(init, str) and init == "random"):
        return rng.random((n, rank)), rng.random((rank, m))
    if isinstance(init, str):
        from ._init import initial_factors

        return initial_factors(data.dense(), rank, init, rng)
    return check_init_factors(init, (n, m), rank)


# --------------------------------------------------------------------------- products


class _Ops:
    """Products of the stored-entry pattern (with given values) and dense factors."""

    def __init__(self, data: SparseData):
        X = data.X
        self.X, self.XT, self.shape = X, data.XT, X.shape
        self.indptr, self.indices = X.indptr, X.indices
        ones = np.ones(X.nnz)
        self.P = sp.csr_array((ones, X.indices, X.indptr), shape=X.shape)  # the pattern W
        self.PT = sp.csr_array((np.ones(X.nnz), data.XT.indices, data.XT.indptr), shape=data.XT.shape)
        self.V = sp.csr_array((np.zeros(X.nnz), X.indices, X.indptr), shape=X.shape)  # values set per use

    def sample(self, A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``(A B)`` at the stored entries, in CSR order."""
        return sampled_product(self.indptr, self.indices, A, B, out)

    def with_values(self, v: np.ndarray) -> sp.csr_array:
        """The pattern holding ``v`` (length nnz, CSR order): a matrix zero at missing entries."""
        self.V.data = v
        return self.V

    def left(self, A: np.ndarray) -> np.ndarray:
        """``A^T W``, (r, m)."""
        return (self.PT @ A).T

    def right(self, B: np.ndarray) -> np.ndarray:
        """``W B^T``, (n, r)."""
        return self.P @ B.T

    def gram_rows(self, B: np.ndarray) -> np.ndarray:
        """``G[:, :, i] = B diag(W[i, :]) B^T``, (r, r, n)."""
        return self._grams(B, self.P)

    def gram_cols(self, A: np.ndarray) -> np.ndarray:
        """``G[:, :, k] = A^T diag(W[:, k]) A``, (r, r, m)."""
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


# --------------------------------------------------------------------------- solvers


def wnmf_kl(p):
    """:func:`nmfexp.solvers.mu.wnmf_kl` on the stored entries."""
    from .mu import _TINY, FACTOR_FLOOR

    ops, A, B = _Ops(p.data), p.A, p.B
    x = p.data.values
    q = x / ops.sample(A, B)  # (W*X) / (A B) at the observed entries, kept current
    WBt = ops.right(B)
    sum_x = float(x.sum())
    ab = np.empty_like(q)

    def update():
        nonlocal WBt
        # Lee & Seung 2001, KL updates with weights W. B <- B / (A^T W) * (A^T ((W*X) / (A B)))
        B[...] = B * ((ops.with_values(q).T @ A).T / np.maximum(ops.left(A), _TINY))
        np.maximum(B, FACTOR_FLOOR, out=B)
        np.divide(x, ops.sample(A, B, ab), out=q)
        # A <- A / (W B^T) * (((W*X) / (A B)) B^T)
        WBt = ops.right(B)
        A[...] = A * ((ops.with_values(q) @ B.T) / np.maximum(WBt, _TINY))
        np.maximum(A, FACTOR_FLOOR, out=A)
        np.divide(x, ops.sample(A, B, ab), out=q)

    def objective():  # sum_obs X log(X / AB) - X + AB, as kl_from_ratio
        return float(xlogy(x, q).sum() - sum_x + np.sum(A * WBt))

    return p.result("wnmf_kl", A, B, p.iterate(update, objective))


def wnmf_fro(p):
    """:func:`nmfexp.solvers.mu.wnmf_fro` on the stored entries."""
    from .mu import _TINY, FACTOR_FLOOR

    ops, A, B = _Ops(p.data), p.A, p.B
    X, XT, x = ops.X, ops.XT, p.data.values
    ab = ops.sample(A, B)  # W*(A B) at the observed entries, kept current

    def update():
        # Lee & Seung 2001. B <- B * (A^T (W*X)) / (A^T (W*(A B)))
        B[...] = B * ((XT @ A).T / np.maximum((ops.with_values(ab).T @ A).T, _TINY))
        np.maximum(B, FACTOR_FLOOR, out=B)
        ops.sample(A, B, ab)
        # A <- A * ((W*X) B^T) / ((W*(A B)) B^T)
        A[...] = A * ((X @ B.T) / np.maximum(ops.with_values(ab) @ B.T, _TINY))
        np.maximum(A, FACTOR_FLOOR, out=A)
        ops.sample(A, B, ab)

    return p.result("wnmf_fro", A, B, p.iterate(update, lambda: frobenius(x, ab)))


def hals(p):
    """:func:`nmfexp.solvers.hals.hals` on the stored entries."""
    from .hals import local_updates

    ops, B = _Ops(p.data), p.B
    X, XT, x = ops.X, ops.XT, p.data.values
    At = np.ascontiguousarray(p.A.T)
    ab = np.empty_like(x)

    def update():
        # Columns of A: N = (M*X) B^T (transposed), G_i = B diag(M[i, :]) B^T.
        local_updates(At, (X @ B.T).T, ops.gram_rows(B))
        # Rows of B: N = A^T (M*X), G_k = A^T diag(M[:, k]) A.
        local_updates(B, (XT @ At.T).T, ops.gram_cols(At.T))

    run = p.iterate(update, lambda: frobenius(x, ops.sample(At.T, B, ab)))
    return p.result("hals", np.ascontiguousarray(At.T), B, run)


def als(p):
    """:func:`nmfexp.solvers.als.als` on the stored entries."""
    from .als import nnls_block

    ops, A, B = _Ops(p.data), p.A, p.B
    X, XT, x = ops.X, ops.XT, p.data.values
    ab = np.empty_like(x)

    def update():
        nonlocal A, B
        A = nnls_block((X @ B.T).T, ops.gram_rows(B), _fallback(B, X)).T
        B = nnls_block((XT @ A).T, ops.gram_cols(A), _fallback(A.T, XT))

    run = p.iterate(update, lambda: frobenius(x, ops.sample(A, B, ab)))
    return p.result("als", np.ascontiguousarray(A), np.ascontiguousarray(B), run)


def _fallback(F: np.ndarray, lines: sp.csr_array):
    """NNLS on the stored entries of line q (a row of ``lines``), factor F (r, line length)."""
    from scipy.optimize import nnls

    def solve(q):
        lo, hi = lines.indptr[q], lines.indptr[q + 1]
        if hi == lo:
            return np.zeros(F.shape[0])  # no observed entry: the loss does not depend on it
        return nnls(F[:, lines.indices[lo:hi]].T, lines.data[lo:hi])[0]

    return solve


def gdcls(p, ridge: np.ndarray, eps: float, goal, norm_x: float):
    """:func:`nmfexp.solvers.gdcls.gdcls` on the stored entries."""
    ops, A, B = _Ops(p.data), p.A, p.B
    X, XT, x = ops.X, ops.XT, p.data.values
    rank = A.shape[1]
    ab = np.empty_like(x)

    def update():
        nonlocal A, B
        G = np.moveaxis(ops.gram_cols(A), 2, 0) + ridge  # (m, r, r)
        rhs = (XT @ A)[:, :, None]  # (m, r, 1) = (A^T (M*X))^T
        B = np.linalg.solve(np.broadcast_to(G, (rhs.shape[0], rank, rank)), rhs)[:, :, 0].T
        np.maximum(B, 0.0, out=B)
        ops.sample(A, B, ab)
        A = A * (X @ B.T) / (ops.with_values(ab) @ B.T + eps)

    run = p.iterate(update, lambda: frobenius(x, ops.sample(A, B, ab)), two_sided=True, goal=goal)
    return p.result("gdcls", A, np.ascontiguousarray(B), run,
                    relative_residual=run.history.objective[-1] / norm_x if norm_x > 0 else 0.0)


def kaczmarz(p, kaczmarz_iter: int, sampling: str, relaxation: float):
    """:func:`nmfexp.solvers.kaczmarz.kaczmarz` on the stored entries."""
    from .kaczmarz import _ObservedSampler, _rebalance, _rk_steps

    ops, A, rng = _Ops(p.data), p.A, p.rng
    n, m = p.data.shape
    x = p.data.values
    col_sampler = _ObservedSampler(ops.XT, m, n)  # stored rows of each column, with their values
    row_sampler = _ObservedSampler(ops.X, n, m)
    Bt = np.ascontiguousarray(p.B.T)
    A[~row_sampler.has] = 0.0  # no equation for a line without observed entries (as the dense path)
    Bt[~col_sampler.has] = 0.0
    ab = np.empty_like(x)

    def update():
        _rk_steps(Bt, A, None, col_sampler, kaczmarz_iter, rng, sampling, relaxation)
        _rk_steps(A, Bt, None, row_sampler, kaczmarz_iter, rng, sampling, relaxation)
        _rebalance(A, Bt)

    run = p.iterate(update, lambda: frobenius(x, ops.sample(A, Bt.T, ab)), two_sided=True)
    return p.result("kaczmarz", A, np.ascontiguousarray(Bt.T), run)
