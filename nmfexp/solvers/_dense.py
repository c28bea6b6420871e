"""Dense storage of the observed entries: ``W*X`` as an array and the mask's products.

:class:`MaskOps` computes products with the 0/1 observation matrix W in
their cheapest exact form; :class:`DenseOps` is the dense implementation of
:class:`~._ops.Ops` (the interface iterative solvers are written against).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import MaskedData
from ._ops import Ops
from .losses import blocked_frobenius, kl_from_ratio, row_blocks

__all__ = ["MaskOps", "DenseOps"]

# Missing fractions up to this use a sparse matrix of the missing entries for the
# products with the mask (cost ~ nnz * rank); above it a dense 0/1 matrix (BLAS).
_SPARSE_MISSING_MAX = 0.10


class MaskOps:
    """Products with the 0/1 observation matrix W in their cheapest exact form.

    Fully observed data need no mask at all (sums of the factors); a few
    missing entries are handled as ``1 - M`` with ``M`` the sparse matrix of
    the missing entries; many missing entries use the boolean mask itself,
    converted to floats a block of about :data:`~.losses.BLOCK_BYTES` at a
    time for BLAS, so that no ``n x m`` float copy of the mask is kept.
    """

    def __init__(self, observed: np.ndarray | None, n_missing: int):
        self.kind = "full"
        if observed is None:
            return
        if n_missing <= _SPARSE_MISSING_MAX * observed.size:
            self.kind = "sparse"
            rows, cols = np.nonzero(~observed)
            idx = np.int32 if max(observed.shape) < 2**31 else np.int64
            self.rows = rows.astype(idx)  # sorted by row; the columns are M.indices
            M = sp.csr_array((np.ones(rows.size), (rows, cols)), shape=observed.shape)
            self.M = M
            self.cols = M.indices
        else:
            self.kind = "dense"
            self.W = observed  # boolean, True = observed; the caller's array is only read

    def _col_blocks(self):
        """``(columns, W[:, columns] as floats)`` block by block; one buffer serves every block."""
        n, m = self.W.shape
        buf = None
        for cols in row_blocks(m, n):  # blocks of columns, each about BLOCK_BYTES as floats
            if buf is None:
                buf = np.empty(n * (cols.stop - cols.start))
            Wb = buf[: n * (cols.stop - cols.start)].reshape(n, cols.stop - cols.start)
            np.copyto(Wb, self.W[:, cols])
            yield cols, Wb

    def _row_blocks(self):
        """``(rows, W[rows] as floats)`` block by block; one buffer serves every block."""
        n, m = self.W.shape
        buf = None
        for rows in row_blocks(n, m):
            if buf is None:
                buf = np.empty((rows.stop - rows.start) * m)
            Wb = buf[: (rows.stop - rows.start) * m].reshape(rows.stop - rows.start, m)
            np.copyto(Wb, self.W[rows])
            yield rows, Wb

    def left(self, A: np.ndarray) -> np.ndarray:
        """``A^T W``: shape (r, m), or (r, 1) broadcastable when fully observed."""
        colsum = A.sum(axis=0)[:, None]
        if self.kind == "full":
            return colsum
        if self.kind == "sparse":
            return colsum - (self.M.T @ A).T
        out = np.empty((A.shape[1], self.W.shape[1]))
        for cols, Wb in self._col_blocks():
            np.matmul(A.T, Wb, out=out[:, cols])
        return out

    def right(self, B: np.ndarray) -> np.ndarray:
        """``W B^T``: shape (n, r), or (1, r) broadcastable when fully observed."""
        rowsum = B.sum(axis=1)[None, :]
        if self.kind == "full":
            return rowsum
        if self.kind == "sparse":
            return rowsum - self.M @ B.T
        out = np.empty((self.W.shape[0], B.shape[0]))
        for rows, Wb in self._row_blocks():
            np.matmul(Wb, B.T, out=out[rows])
        return out

    def gram_rows(self, B: np.ndarray) -> np.ndarray:
        """Per-row Gram matrices ``G[:, :, i] = B diag(W[i, :]) B^T``: shape (r, r, n), or (r, r, 1)."""
        return self._grams(B, rows=True)

    def gram_cols(self, A: np.ndarray) -> np.ndarray:
        """Per-column Gram matrices ``G[:, :, k] = A^T diag(W[:, k]) A``: shape (r, r, m), or (r, r, 1)."""
        return self._grams(A.T, rows=False)

    def _grams(self, F: np.ndarray, rows: bool) -> np.ndarray:
        # F is (r, p); pair products P[(l, j), k] = F[l, k] F[j, k] for l <= j, then
        # one product with the mask: W P^T (dense) or F F^T - M_missing P^T (sparse).
        r = F.shape[0]
        if self.kind == "full":
            return (F @ F.T)[:, :, None]
        iu, ju = np.triu_indices(r)
        P = F[iu] * F[ju]  # (r(r+1)/2, p)
        if self.kind == "sparse":
            missing = self.M if rows else self.M.T
            Gu = (F @ F.T)[iu, ju][:, None] - (missing @ P.T).T
        else:
            Gu = np.empty((iu.size, self.W.shape[0 if rows else 1]))
            for part, Wb in (self._row_blocks() if rows else self._col_blocks()):
                if rows:
                    np.matmul(P, Wb.T, out=Gu[:, part])
                else:
                    np.matmul(P, Wb, out=Gu[:, part])
        G = np.empty((r, r, Gu.shape[1]))
        G[iu, ju] = Gu
        G[ju, iu] = Gu
        return G

    def apply(self, L: np.ndarray) -> np.ndarray:
        """``W * L`` in place (L is a scratch array)."""
        if self.kind == "sparse":
            L[self.rows, self.cols] = 0.0
        elif self.kind == "dense":
            np.multiply(L, self.W, out=L)
        return L

    def apply_rows(self, L: np.ndarray, rows: slice) -> np.ndarray:
        """``W[rows] * L`` in place, for a block ``L`` of rows ``rows`` (a slice with step 1)."""
        if self.kind == "sparse":
            lo, hi = self.M.indptr[rows.start], self.M.indptr[rows.stop]
            L[self.rows[lo:hi] - rows.start, self.cols[lo:hi]] = 0.0
        elif self.kind == "dense":
            np.multiply(L, self.W[rows], out=L)
        return L


class DenseOps(Ops):
    """:class:`~._ops.Ops` on a dense ``W*X`` (zeros at missing entries) and its :class:`MaskOps`.

    Entries are ``n x m`` arrays that are zero at missing entries.
    """

    def __init__(self, data: MaskedData):
        self.data = data
        self.WX = data.WX
        self.observed = data.observed
        self.shape = data.WX.shape
        self.W = MaskOps(data.observed, data.n_missing)
        self.complete = self.W.kind == "full"
        self._counts = {}

    # the data
    def x_right(self, F):
        return self.WX @ F

    def xt_left(self, F):
        return F @ self.WX

    def times_xt(self, F):
        return F @ self.WX.T

    def sum_x(self):
        return float(self.WX.sum())

    def sum_sq_x(self):
        return float(np.vdot(self.WX, self.WX))

    def norm_x(self):
        return float(np.linalg.norm(self.WX))

    def observed_line(self, axis, q):
        x = self.WX[q] if axis == 0 else self.WX[:, q]
        obs = self.observed
        sel = slice(None) if obs is None else (obs[q] if axis == 0 else obs[:, q])
        return sel, x[sel]

    def line_counts(self, axis):
        if self.observed is None:
            return None
        if axis not in self._counts:  # counted once, read every iteration
            self._counts[axis] = np.count_nonzero(self.observed, axis=1 - axis)
        return self._counts[axis]

    def lines(self, axis):
        obs = self.observed
        if axis == 0:
            return obs, self.WX
        return (None if obs is None else obs.T), self.WX.T  # views: column k as a line

    # the mask
    def left(self, A):
        return self.W.left(A)

    def right(self, B):
        return self.W.right(B)

    def gram_rows(self, B):
        return self.W.gram_rows(B)

    def gram_cols(self, A):
        return self.W.gram_cols(A)

    # entries
    def new_entries(self):
        return np.empty_like(self.WX)

    def masked_product(self, A, B, out=None):
        if out is None:
            return self.W.apply(A @ B)
        np.matmul(A, B, out=out)
        return self.W.apply(out)

    def ratio(self, A, B, out=None):
        if out is None:
            out = np.matmul(A, B)
        else:
            np.matmul(A, B, out=out)
        return np.divide(self.WX, out, out=out)  # WX is 0 at missing entries, so is the ratio

    def rmul(self, E, F):
        return E @ F

    def lmul(self, F, E):
        return F @ E

    # losses
    def frobenius(self, A, B):
        return blocked_frobenius(self.WX, self.W, A, B)

    def residual_norm(self, WAB):
        n, m = self.shape  # ||W*X - W*(AB)||, a block of rows at a time
        total = 0.0
        for rows in row_blocks(n, m):
            D = self.WX[rows] - WAB[rows]
            total += float(np.vdot(D, D))
        return float(np.sqrt(total))

    def kl_from_ratio(self, Q, sum_x, mass):
        return kl_from_ratio(self.WX, Q, sum_x, mass)

    # derived
    def gradient_parts(self, loss, A, B):
        """:meth:`Ops.gradient_parts`, a block of rows at a time: no ``n x m`` work array.

        With ``E = W*(A B) - W*X`` (Frobenius) or ``E = W - (W*X) / (A B)``
        (KL, 0 at missing entries) for each block of rows,
        ``grad_A[rows] = E B^T`` and ``grad_B = sum over blocks A[rows]^T E``;
        the data parts likewise from ``W*X`` or ``(W*X) / (A B)``.
        """
        if loss not in ("frobenius", "kl"):
            raise ValueError(f"loss must be 'frobenius' or 'kl', got {loss!r}.")
        n, m = self.shape
        r = A.shape[1]
        GA, DA = np.empty((n, r)), np.empty((n, r))
        GB, DB = np.zeros((r, m)), np.zeros((r, m))
        for rows in row_blocks(n, m):
            E = A[rows] @ B
            if loss == "frobenius":
                D = self.WX[rows]  # a view: the data part needs no block of its own
                DA[rows] = D @ B.T
                DB += A[rows].T @ D
                self.W.apply_rows(E, rows)
                np.subtract(E, D, out=E)
            else:
                np.divide(self.WX[rows], E, out=E)  # (W*X) / (A B): 0 at missing entries (needs A B > 0)
                DA[rows] = E @ B.T  # the data part, before E becomes the gradient's block in place
                DB += A[rows].T @ E
                # W - E as (1 - E) * W, in place: the same bits (0 - 0 and (1 - 0) * 0 are both +0 at missing
                # entries) without a second block of ones
                np.subtract(1.0, E, out=E)
                self.W.apply_rows(E, rows)
            GA[rows] = E @ B.T
            GB += A[rows].T @ E
            del E  # freed before the next block's product is made, so that one block is alive at a time
        return GA, GB, DA, DB
