"""Compiled loop behind the sparse path's sampled product (numba).

Imported only by :mod:`._sparse`, and only when numba is installed and not
disabled, so ``import nmfexp`` never pays for numba.

``sampled_product(indptr, indices, A, Bt, out)`` writes ``(A @ Bt.T)[i, j]``
for every stored entry ``(i, j)`` of a CSR pattern into ``out``, in the
pattern's order: ``O(stored entries x rank)`` work, no ``n x m`` array. Each
value is the plain sum over the rank in order (no reassociation), so it is
the value the NumPy fallback computes up to the order in which ``einsum``
adds, i.e. to rounding.

Line solvers of ALS, HALS and GD-CLS (``nnls_lines``, ``hals_lines``,
``ridge_lines``): for each row (or column) of the pattern, its Gram matrix
``F_S F_S^T`` and right-hand side ``F_S x_S`` are summed from its stored
entries into ``r x r`` work arrays, in the order the sparse products of the
NumPy path sum them, and the line's subproblem is solved there. Their NumPy
fallback is the Gram-array path of each solver (all lines at once); tests
compare the two and the NNLS against ``scipy.optimize.nnls``.
"""

from __future__ import annotations

import numpy as np
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


@njit(**_OPTS)
def _line_gram(indptr, indices, x, Ft, q, G, N):  # pragma: no cover - compiled
    """``G = F_S F_S^T`` and ``N = F_S x_S`` over the stored entries S of line q.

    Every entry of ``G`` is summed (not only a triangle): the inner loop is then contiguous and vectorises,
    and ``G`` is still exactly symmetric (each product is the same in either order).
    """
    r = Ft.shape[1]
    G[:, :] = 0.0
    N[:] = 0.0
    for k in range(indptr[q], indptr[q + 1]):
        f = Ft[indices[k]]
        v = x[k]
        for a in range(r):
            fa = f[a]
            N[a] += v * fa
            Ga = G[a]
            for b in range(r):
                Ga[b] += fa * f[b]


@njit(**_OPTS)
def _cholesky(G, idx, k, L):  # pragma: no cover - compiled
    """Cholesky factor of ``G[idx[:k]][:, idx[:k]]`` into ``L[:k, :k]``; False at a pivot that is not positive."""
    for j in range(k):
        s = G[idx[j], idx[j]]
        for t in range(j):
            s -= L[j, t] * L[j, t]
        if not s > 0.0:
            return False
        d = np.sqrt(s)
        L[j, j] = d
        for i in range(j + 1, k):
            s = G[idx[i], idx[j]]
            for t in range(j):
                s -= L[i, t] * L[j, t]
            L[i, j] = s / d
    return True


@njit(**_OPTS)
def _cho_solve(L, k, N, idx, y, z):  # pragma: no cover - compiled
    """``z[idx[:k]] = (L L^T)^{-1} N[idx[:k]]`` (the other entries of z are left alone)."""
    for i in range(k):
        s = N[idx[i]]
        for t in range(i):
            s -= L[i, t] * y[t]
        y[i] = s / L[i, i]
    for i in range(k - 1, -1, -1):
        s = y[i]
        for t in range(i + 1, k):
            s -= L[t, i] * y[t]
        y[i] = s / L[i, i]
    for i in range(k):
        z[idx[i]] = y[i]


@njit(**_OPTS)
def _nnls_one(G, N, f, rcond, kkt_tol, eps, L, idx, y, z, w, passive):  # pragma: no cover - compiled
    """One problem ``min_{f >= 0} f^T G f - 2 f^T N`` (the three steps of :func:`..als._nnls_batched`).

    Writes ``f``; returns 0 when solved, 1 when the problem needs the exact NNLS on its observed entries
    (an ill-conditioned ``G`` that is not singular by construction, or an active-set result that fails the
    optimality check).
    """
    r = N.shape[0]
    for i in range(r):
        idx[i] = i
    dmax = 0.0
    dmin = np.inf
    for i in range(r):
        dmax = max(dmax, G[i, i])
        dmin = min(dmin, G[i, i])
    # Step 1: the unconstrained minimiser where G is well conditioned.
    pd = _cholesky(G, idx, r, L)
    if pd:
        lmin = np.inf
        for i in range(r):
            lmin = min(lmin, L[i, i])
        pd = lmin * lmin > rcond * dmax
    if pd:
        _cho_solve(L, r, N, idx, y, f)
        ok = True
        for i in range(r):
            if f[i] < 0:
                ok = False
        if ok:
            return 0
    elif not dmin == 0.0:
        return 1  # ill-conditioned without a dead component: the observed entries decide
    # Step 2: Lawson & Hanson's active-set method in the Gram form, from f = 0.
    size_n = 0.0
    for i in range(r):
        size_n = max(size_n, abs(N[i]))
        f[i] = 0.0
        passive[i] = False
    tol = 10 * r * eps * size_n
    j = 0
    for i in range(1, r):
        if N[i] > N[j]:
            j = i
    if N[j] > tol:
        passive[j] = True
        f[j] = N[j] / G[j, j]
    converged = False
    for _ in range(3 * r):
        s = 0.0
        for i in range(r):
            s += f[i]
        tol = 10 * r * eps * (size_n + dmax * s)
        best = -1
        for i in range(r):
            acc = N[i]
            for t in range(r):
                acc -= G[i, t] * f[t]
            w[i] = acc
            if not passive[i] and acc > tol and (best < 0 or acc > w[best]):
                best = i
        if best < 0:
            converged = True
            break
        passive[best] = True
        for _inner in range(r + 1):
            k = 0
            for i in range(r):
                if passive[i]:
                    idx[k] = i
                    k += 1
            for i in range(r):
                z[i] = 0.0
            if _cholesky(G, idx, k, L):
                _cho_solve(L, k, N, idx, y, z)
                feasible = True
                for t in range(k):
                    if not z[idx[t]] > 0:
                        feasible = False
            else:
                for t in range(k):
                    z[idx[t]] = np.nan
                feasible = False
            if feasible:
                for i in range(r):
                    f[i] = z[i]
                break
            # Step from f towards z as far as feasibility allows; variables that reach 0 leave.
            alpha = np.inf
            amin = -1
            for t in range(k):
                i = idx[t]
                if not z[i] > 0:
                    d = f[i] - z[i]
                    ratio = f[i] / d if d != 0 else (0.0 if f[i] == 0 else np.inf)
                    if np.isnan(ratio):
                        ratio = 0.0
                    if amin < 0 or ratio < alpha:
                        alpha = ratio
                        amin = i
            alpha = min(max(alpha, 0.0), 1.0)
            for t in range(k):
                i = idx[t]
                step = f[i] + alpha * (z[i] - f[i] if np.isfinite(z[i]) else -f[i])
                if step <= 0 or i == amin:
                    passive[i] = False
                    f[i] = 0.0
                else:
                    f[i] = step
    if not converged:
        return 1
    # Optimality check: the gradient N - G f is not positive beyond round-off.
    s = 0.0
    wmax = -np.inf
    for i in range(r):
        s += f[i]
        acc = N[i]
        for t in range(r):
            acc -= G[i, t] * f[t]
        wmax = max(wmax, acc)
    return 0 if wmax <= kkt_tol * (size_n + dmax * s) else 1


@njit(**_OPTS)
def nnls_lines(indptr, indices, x, Ft, rcond, kkt_tol, eps, out, flag):  # pragma: no cover - compiled
    """The exact NNLS of every line q of a CSR pattern: ``out[:, q] = argmin_{f >= 0} ||x_S - F_S^T f||``.

    ``Ft`` (len, r) holds the factor's vectors by column index; the Gram matrix and right-hand side of each
    line are formed from its stored entries in r x r work arrays (nothing per line is kept). ``flag[q]`` is
    1 where the problem needs the exact NNLS on the observed entries (see :func:`_nnls_one`).
    """
    p = indptr.shape[0] - 1
    r = Ft.shape[1]
    G = np.empty((r, r))
    L = np.empty((r, r))
    N = np.empty(r)
    f = np.empty(r)
    y = np.empty(r)
    z = np.empty(r)
    w = np.empty(r)
    idx = np.empty(r, dtype=np.int64)
    passive = np.empty(r, dtype=np.bool_)
    for q in range(p):
        _line_gram(indptr, indices, x, Ft, q, G, N)
        flag[q] = _nnls_one(G, N, f, rcond, kkt_tol, eps, L, idx, y, z, w, passive)
        for i in range(r):
            out[i, q] = f[i] if flag[q] == 0 else 0.0
    return out


@njit(**_OPTS)
def hals_lines(indptr, indices, x, Ft, F):  # pragma: no cover - compiled
    """The HALS local updates of every column q of ``F`` (r, p), in place, from line q's stored entries.

    Component after component, ``F[j, q] <- max(0, (N[j] - sum_{l != j} G[j, l] F[l, q]) / G[j, j])``,
    0 where ``G[j, j] = 0`` (:func:`..hals.local_updates`, line by line: lines do not interact).
    """
    p = indptr.shape[0] - 1
    r = Ft.shape[1]
    G = np.empty((r, r))
    N = np.empty(r)
    for q in range(p):
        _line_gram(indptr, indices, x, Ft, q, G, N)
        for j in range(r):
            d = G[j, j]
            if d > 0:
                num = N[j]
                for t in range(r):
                    if t != j:
                        num -= G[j, t] * F[t, q]
                F[j, q] = max(num / d, 0.0)
            else:
                F[j, q] = 0.0
    return F


@njit(**_OPTS)
def ridge_lines(indptr, indices, x, Ft, lam, out):  # pragma: no cover - compiled
    """``out[:, q] = (F_S F_S^T + lam I)^{-1} F_S x_S`` for every line q, by Cholesky in r x r work arrays.

    Returns a mask of the lines whose matrix has no Cholesky factor (left to the caller's general solve).
    """
    p = indptr.shape[0] - 1
    r = Ft.shape[1]
    G = np.empty((r, r))
    L = np.empty((r, r))
    N = np.empty(r)
    y = np.empty(r)
    z = np.empty(r)
    idx = np.arange(r)
    failed = np.zeros(p, dtype=np.bool_)
    for q in range(p):
        _line_gram(indptr, indices, x, Ft, q, G, N)
        for i in range(r):
            G[i, i] += lam
        if _cholesky(G, idx, r, L):
            _cho_solve(L, r, N, idx, y, z)
            for i in range(r):
                out[i, q] = z[i]
        else:
            failed[q] = True
    return failed
