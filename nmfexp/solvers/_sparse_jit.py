"""Compiled loop behind the sparse path's sampled product (numba).

Imported only by :mod:`._sparse`, and only when numba is installed and not
disabled, so ``import nmfexp`` never pays for numba.

``sampled_product(indptr, indices, A, Bt, out)`` writes ``(A @ Bt.T)[i, j]``
for every stored entry ``(i, j)`` of a CSR pattern into ``out``, in the
pattern's order: ``O(stored entries x rank)`` work, no ``n x m`` array. Each
value is the plain sum over the rank in order (no reassociation), so it is
the value the NumPy fallback computes up to the order in which ``einsum``
adds, i.e. to rounding.
"""

from __future__ import annotations

from numba import njit

_OPTS = {"nogil": True, "cache": True, "error_model": "numpy"}


@njit(**_OPTS)
def sampled_product(indptr, indices, A, Bt, out):  # pragma: no cover - compiled
    n, r = A.shape
    for i in range(n):
        a = A[i]
        for k in range(indptr[i], indptr[i + 1]):
            b = Bt[indices[k]]
            s = 0.0
            for t in range(r):
                s += a[t] * b[t]
            out[k] = s
    return out
