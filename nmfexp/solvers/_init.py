"""Initial factors and the observation mask's products, shared by iterative solvers."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import MaskedData, check_init_factors

__all__ = ["initial_factors", "MaskOps", "rng_from"]

# Missing fractions up to this use a sparse matrix of the missing entries for the
# products with the mask (cost ~ nnz * rank); above it a dense 0/1 matrix (BLAS).
_SPARSE_MISSING_MAX = 0.10


def rng_from(random_state) -> np.random.Generator:
    """``None``, an int seed or a Generator -> a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)):
        try:
            return np.random.default_rng(random_state)
        except ValueError as exc:
            raise ValueError(f"random_state must be None, a non-negative int or a numpy Generator: {exc}") from None
    raise ValueError(f"random_state must be None, a non-negative int or a numpy Generator, got {random_state!r}.")


def initial_factors(data: MaskedData, rank: int, init, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return private initial factors ``(A0, B0)``.

    ``init`` is ``None`` or ``"random"`` (uniform [0, 1) entries, A then B, as
    in the paper's reference code) or a pair of arrays.
    """
    n, m = data.shape
    if init is None or (isinstance(init, str) and init == "random"):
        return rng.random((n, rank)), rng.random((rank, m))
    if isinstance(init, str):
        raise ValueError(f"unknown init {init!r}; use 'random' or a pair of arrays (A0, B0).")
    return check_init_factors(init, (n, m), rank)


class MaskOps:
    """Products with the 0/1 observation matrix W in their cheapest exact form.

    Fully observed data need no mask at all (sums of the factors); a few
    missing entries are handled as ``1 - M`` with ``M`` sparse; many missing
    entries use a dense float mask and BLAS.
    """

    def __init__(self, observed: np.ndarray | None, n_missing: int):
        self.kind = "full"
        if observed is None:
            return
        if n_missing <= _SPARSE_MISSING_MAX * observed.size:
            self.kind = "sparse"
            self.rows, self.cols = np.nonzero(~observed)
            M = sp.csr_array((np.ones(self.rows.size), (self.rows, self.cols)), shape=observed.shape)
            self.M, self.MT = M, M.T.tocsr()
        else:
            self.kind = "dense"
            self.W = observed.astype(np.float64)

    def left(self, A: np.ndarray) -> np.ndarray:
        """``A^T W``: shape (r, m), or (r, 1) broadcastable when fully observed."""
        colsum = A.sum(axis=0)[:, None]
        if self.kind == "full":
            return colsum
        if self.kind == "sparse":
            return colsum - (self.MT @ A).T
        return A.T @ self.W

    def right(self, B: np.ndarray) -> np.ndarray:
        """``W B^T``: shape (n, r), or (1, r) broadcastable when fully observed."""
        rowsum = B.sum(axis=1)[None, :]
        if self.kind == "full":
            return rowsum
        if self.kind == "sparse":
            return rowsum - self.M @ B.T
        return self.W @ B.T

    def apply(self, L: np.ndarray) -> np.ndarray:
        """``W * L`` in place (L is a scratch array)."""
        if self.kind == "sparse":
            L[self.rows, self.cols] = 0.0
        elif self.kind == "dense":
            L *= self.W
        return L
