"""The one interface between iterative solvers and the storage of the observed entries.

A solver writes its update once, against :class:`Ops`; two implementations
know the storage:

- :class:`~._dense.DenseOps`: a dense array ``W*X`` (zeros at missing
  entries) and the mask in its cheapest exact form (:class:`~._dense.MaskOps`:
  none when fully observed, a sparse matrix of the missing entries when they
  are few, the boolean mask read in blocks when they are many);
- :class:`~._sparse.StoredOps`: the stored entries of a ``scipy.sparse``
  ``X`` with ``mask="stored"``, every product costing O(stored entries x
  rank).

Two kinds of matrices appear in the updates:

- *factors*: dense arrays ``A`` (n, r), ``B`` (r, m) and products with them;
- *entries*: a matrix that is zero at every missing entry (``W*X``,
  ``W*(A B)``, ``(W*X) / (A B)``), held as the storage holds it: an
  ``n x m`` array on the dense side, a vector of the stored entries (CSR
  order) on the sparse side. Solvers never index it; they pass it back to
  the methods below, and may apply NumPy ufuncs to it (both forms are
  arrays).

Every method performs the floating-point operations of the code it replaced
on its storage, in the same order (the two storages sum in different orders,
so their results agree to rounding, not bit for bit: see
``tests/test_sparse_path.py``). The names say which product is computed and
with which operand order; ``F`` is a dense factor (or a transpose of one):

====================  ===============================  ===========
method                computes                         shape
====================  ===============================  ===========
``x_right(F)``        ``(W*X) @ F``, F (m, r)          (n, r)
``xt_left(F)``        ``F @ (W*X)``, F (r, n)          (r, m)
``times_xt(F)``       ``F @ (W*X)^T``, F (r, m)        (r, n)
``rmul(E, F)``        ``E @ F`` for entries E          (n, r)
``lmul(F, E)``        ``F @ E`` for entries E          (r, m)
``left(A)``           ``A^T W``                        (r, m)*
``right(B)``          ``W B^T``                        (n, r)*
``gram_rows(B)``      ``B diag(W[i, :]) B^T`` per row  (r, r, n)*
``gram_cols(A)``      ``A^T diag(W[:, k]) A`` per col  (r, r, m)*
``masked_product``    ``W*(A B)`` as entries
``ratio``             ``(W*X) / (A B)`` as entries
====================  ===============================  ===========

(*) broadcastable (a size-1 last axis) when the dense data are fully
observed.

Gradients of both losses on the observed entries (:meth:`Ops.gradient`) are
built from these products, so they cost what one multiplicative update
costs on either storage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Ops"]


class Ops(ABC):
    """Products of the observed data, the mask and dense factors (see the module docstring).

    Attributes
    ----------
    shape : tuple of int
        ``(n, m)``.
    complete : bool
        True when the storage is dense and no entry is missing: the
        fully observed forms (Gram matrices of the factors instead of
        ``n x m`` products) then apply. Always False for stored entries.
    """

    shape: tuple[int, int]
    complete: bool = False

    # ------------------------------------------------------------------ the data
    @abstractmethod
    def x_right(self, F: np.ndarray) -> np.ndarray:
        """``(W*X) @ F`` for ``F`` of shape (m, r): shape (n, r)."""
        raise NotImplementedError

    @abstractmethod
    def xt_left(self, F: np.ndarray) -> np.ndarray:
        """``F @ (W*X)`` for ``F`` of shape (r, n): shape (r, m)."""
        raise NotImplementedError

    @abstractmethod
    def times_xt(self, F: np.ndarray) -> np.ndarray:
        """``F @ (W*X)^T`` for ``F`` of shape (r, m): shape (r, n)."""
        raise NotImplementedError

    @abstractmethod
    def sum_x(self) -> float:
        """``sum of the observed values``."""
        raise NotImplementedError

    @abstractmethod
    def sum_sq_x(self) -> float:
        """``||W*X||_F^2``."""
        raise NotImplementedError

    @abstractmethod
    def norm_x(self) -> float:
        """``||W*X||_F``."""
        raise NotImplementedError

    @abstractmethod
    def observed_line(self, axis: int, q: int) -> tuple[np.ndarray | slice, np.ndarray]:
        """Where row (``axis=0``) or column (``axis=1``) ``q`` is observed, and its observed values.

        The first item selects the observed positions of the line (a
        boolean mask, an index array or ``slice(None)``); the second holds
        the values there, in the same order.
        """
        raise NotImplementedError

    @abstractmethod
    def line_counts(self, axis: int) -> np.ndarray | None:
        """Observed entries of each row (``axis=0``) or column (``axis=1``), or None when not reported."""
        raise NotImplementedError

    @abstractmethod
    def lines(self, axis: int):
        """``(observed_lines, data_lines)`` for line-by-line samplers (Kaczmarz).

        Rows (``axis=0``) or columns (``axis=1``) as lines:
        ``observed_lines`` is None (fully observed), a boolean array (lines,
        length) or a CSR matrix whose stored entries are the observed ones
        (holding their values); ``data_lines`` is the (lines, length) data,
        or None when ``observed_lines`` holds the values.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ the mask
    @abstractmethod
    def left(self, A: np.ndarray) -> np.ndarray:
        """``A^T W``: shape (r, m), or (r, 1) broadcastable when complete."""
        raise NotImplementedError

    @abstractmethod
    def right(self, B: np.ndarray) -> np.ndarray:
        """``W B^T``: shape (n, r), or (1, r) broadcastable when complete."""
        raise NotImplementedError

    @abstractmethod
    def gram_rows(self, B: np.ndarray) -> np.ndarray:
        """``G[:, :, i] = B diag(W[i, :]) B^T``: shape (r, r, n), or (r, r, 1) when complete."""
        raise NotImplementedError

    @abstractmethod
    def gram_cols(self, A: np.ndarray) -> np.ndarray:
        """``G[:, :, k] = A^T diag(W[:, k]) A``: shape (r, r, m), or (r, r, 1) when complete."""
        raise NotImplementedError

    # ------------------------------------------------------------------ entries
    @abstractmethod
    def new_entries(self) -> np.ndarray:
        """An uninitialised entries array (a work array for :meth:`masked_product` or :meth:`ratio`)."""
        raise NotImplementedError

    @abstractmethod
    def masked_product(self, A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``W*(A B)`` as entries (into ``out`` when given)."""
        raise NotImplementedError

    @abstractmethod
    def ratio(self, A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``(W*X) / (A B)`` as entries, 0 at missing entries (into ``out`` when given); needs ``A B > 0``."""
        raise NotImplementedError

    @abstractmethod
    def rmul(self, E: np.ndarray, F: np.ndarray) -> np.ndarray:
        """``E @ F`` for entries ``E`` and ``F`` of shape (m, r): shape (n, r)."""
        raise NotImplementedError

    @abstractmethod
    def lmul(self, F: np.ndarray, E: np.ndarray) -> np.ndarray:
        """``F @ E`` for ``F`` of shape (r, n) and entries ``E``: shape (r, m)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ losses
    @abstractmethod
    def frobenius(self, A: np.ndarray, B: np.ndarray) -> float:
        """``||W * (X - A B)||_F``."""
        raise NotImplementedError

    @abstractmethod
    def residual_norm(self, WAB: np.ndarray) -> float:
        """``||W*X - WAB||_F`` for entries ``WAB = W*(A B)`` (from :meth:`masked_product`)."""
        raise NotImplementedError

    @abstractmethod
    def kl_from_ratio(self, Q: np.ndarray, sum_x: float, mass: float) -> float:
        """The weighted KL divergence from ``Q = ratio(A, B)``, ``sum_x = sum_x()`` and ``mass = sum_obs A B``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ derived
    def gradient(self, loss: str, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of a loss on the observed entries with respect to ``A`` and ``B``.

        ``loss="frobenius"``: of ``1/2 ||W * (A B - X)||^2``,
        ``grad_A = (W*(A B) - W*X) B^T`` and ``grad_B = A^T (W*(A B) - W*X)``;
        ``loss="kl"``: of the weighted KL divergence, ``grad_A = W B^T -
        ((W*X) / (A B)) B^T`` and ``grad_B = A^T W - A^T ((W*X) / (A B))``
        (needs ``A B > 0`` at the observed entries). Shapes (n, r) and
        (r, m); one masked product or ratio and four products with a factor.
        """
        return self.gradient_parts(loss, A, B)[:2]

    def gradient_parts(self, loss: str, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(grad_A, grad_B, D_A, D_B)``: the gradients of :meth:`gradient` and the data's part of them.

        Each gradient is a model part minus a data part, both non-negative
        for non-negative factors: ``grad_A = (W*(A B)) B^T - D_A`` with
        ``D_A = (W*X) B^T`` (Frobenius) or ``grad_A = W B^T - D_A`` with
        ``D_A = ((W*X) / (A B)) B^T`` (KL), and likewise for ``B``. At a
        stationary point the two parts balance wherever a factor entry is
        positive, so ``||D||`` is the scale the stationarity measure
        (:mod:`._driver`) compares the projected gradient with.
        """
        if loss == "frobenius":
            R = self.masked_product(A, B)
            DA, DB = self.x_right(B.T), self.xt_left(A.T)
            return self.rmul(R, B.T) - DA, self.lmul(A.T, R) - DB, DA, DB
        if loss == "kl":
            Q = self.ratio(A, B)
            n, m = self.shape
            DA, DB = self.rmul(Q, B.T), self.lmul(A.T, Q)
            gA = np.broadcast_to(self.right(B), (n, A.shape[1])) - DA
            gB = np.broadcast_to(self.left(A), (B.shape[0], m)) - DB
            return gA, gB, DA, DB
        raise ValueError(f"loss must be 'frobenius' or 'kl', got {loss!r}.")
