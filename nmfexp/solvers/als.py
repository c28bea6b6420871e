"""Alternating non-negative least squares (ANLS) on the observed entries.

Each half step solves, exactly, one non-negative least-squares problem per row
of A (then per column of B) restricted to that row's observed entries:

    A[i, :] <- argmin_{a >= 0} || M[i, :] * (X[i, :] - a B) ||^2
    B[:, k] <- argmin_{b >= 0} || M[:, k] * (X[:, k] - A b) ||^2

(the ALS scheme of the seed notebook and of Kim & Park, "Nonnegative matrix
factorization based on alternating nonnegativity constrained least squares
and active set method", SIAM J. Matrix Anal. Appl. 30(2), 2008, with the mask
restricting every row/column problem to its observed entries). Because every
subproblem is solved exactly, the masked loss never increases.

How each r-variable problem is solved. With the per-row Gram matrix
``G_i = B diag(M[i, :]) B^T`` and ``N_i = B (M[i, :] * X[i, :])^T`` the loss is
``a G_i a^T - 2 a N_i + const``:

1. the unconstrained minimiser ``G_i^{-1} N_i`` (batched solve); where it is
   non-negative it is the NNLS solution and nothing else is needed;
2. otherwise ``scipy.optimize.nnls`` (Lawson-Hanson active set) on the
   equivalent r x r problem ``|| L^T a - L^{-1} N_i ||`` with ``G_i = L L^T``
   (Cholesky);
3. where ``G_i`` is singular or nearly so (condition above about 1e10) (fewer observed entries than components, or a
   dead component) ``nnls`` on the observed entries themselves.

Very skewed shapes (2 x 100,000) give a half step with tens of thousands of
problems, most of them in steps 2 and 3, where a Python loop over problems
would cost far more than the rest. From 2048 problems on (:func:`_nnls_batched`)
every step runs across all problems at once: up to rank 4, Cholesky factors
and solves written as vector operations across problems, and step 2 (and 3)
as the exact minimum over every support (:func:`_nnls_supports`); above rank
4, LAPACK's batched Cholesky and Lawson & Hanson's active-set method
(Lawson & Hanson, "Solving Least Squares Problems", 1974, ch. 23, the
algorithm of ``nnls``) run in lockstep over the problems (:func:`_nnls_gram`).
The solutions are the same minimisers; the last bits of rounding may differ.

On the stored entries of a sparse ``X`` (``mask="stored"``) with the compiled
kernels, no Gram matrix is kept for all lines at once: each row's (column's)
``G_i`` and ``N_i`` are formed from its stored entries in ``r x r`` work
arrays and solved there by the same three steps (Cholesky; Lawson & Hanson in
the Gram form from ``f = 0``, with the optimality check; step 3 for the few
lines it flags), line by line (:func:`._sparse_jit.nnls_lines`). Time and
memory are then ``O(stored entries x r^2)`` and ``O(r^2)`` beyond the factors.
"""

from __future__ import annotations

import numpy as np

from ._base import register
from ._init import start
from ._ops import Ops
from ._params import iterative_params
from ._sparse import StoredOps

__all__ = ["als"]

# A Gram matrix whose Cholesky pivots fall below this fraction of its largest
# diagonal entry is treated as singular (condition number above ~1e10).
_RCOND = 1e-10


def nnls(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """``scipy.optimize.nnls``, imported at the first call: importing ``scipy.optimize`` costs about
    0.15 s, which ``import nmfexp`` would otherwise pay for every user, ALS or not."""
    from scipy.optimize import nnls as lawson_hanson

    return lawson_hanson(A, b)


def nnls_block(N: np.ndarray, G: np.ndarray, fallback) -> np.ndarray:
    """Solve ``min_{f >= 0} f^T G[:, :, q] f - 2 f^T N[:, q]`` for every column q.

    ``N`` is (r, p), ``G`` (r, r, p) or (r, r, 1); ``fallback(q)`` solves the
    problem of column q from the observed entries when ``G[:, :, q]`` is not
    positive definite. Returns the (r, p) solution. From
    :data:`_MANY_PROBLEMS` problems on, every step runs across all problems at
    once (:func:`_nnls_batched`).
    """
    r, p = N.shape
    if p >= _MANY_PROBLEMS:
        return _nnls_batched(N, G, fallback)
    Gs = np.ascontiguousarray(np.broadcast_to(np.moveaxis(G, 2, 0), (p, r, r)))
    pd = np.ones(p, dtype=bool)
    try:
        L = np.linalg.cholesky(Gs)
    except np.linalg.LinAlgError:
        L = np.zeros_like(Gs)
        for q in range(p):
            try:
                L[q] = np.linalg.cholesky(Gs[q])
            except np.linalg.LinAlgError:
                pd[q] = False
    # Numerically singular G (e.g. fewer observed entries than components): the
    # Cholesky route would amplify round-off, so those go to the fallback too.
    dL = np.diagonal(L, axis1=1, axis2=2)
    dG = np.diagonal(Gs, axis1=1, axis2=2)
    pd &= dL.min(axis=1) ** 2 > _RCOND * dG.max(axis=1)
    out = np.zeros((p, r))
    Nt = N.T
    if pd.any():
        # Step 1: unconstrained minimiser G^{-1} N through the Cholesky factors.
        Lp = L[pd]
        y = np.linalg.solve(Lp, Nt[pd][:, :, None])  # L y = N
        x = np.linalg.solve(np.swapaxes(Lp, 1, 2), y)[:, :, 0]  # L^T x = y
        out[pd] = x
        # Step 2: active-set NNLS where the unconstrained answer has negative entries.
        for k in np.flatnonzero((x < 0).any(axis=1)):
            out[np.flatnonzero(pd)[k]] = nnls(Lp[k].T, y[k, :, 0])[0]
    for q in np.flatnonzero(~pd):
        out[q] = fallback(q)  # Step 3
    return out.T


# From this many problems on, a per-problem Python loop (scipy's nnls, a LAPACK call per
# singular matrix) would dominate the cost of a half step: steps run across problems.
_MANY_PROBLEMS = 2048
# Up to this rank, Cholesky factors and solves are vector operations across problems (one
# operation per matrix entry) rather than one LAPACK call per problem.
_SMALL_RANK = 4


def _nnls_batched(N: np.ndarray, G: np.ndarray, fallback) -> np.ndarray:
    """:func:`nnls_block` for many problems: the same three steps, each across all problems.

    Step 1 as in :func:`nnls_block`. Step 2 for every problem whose Gram
    matrix is singular or whose unconstrained minimiser has a negative entry:
    Lawson & Hanson's active-set method, the algorithm of
    ``scipy.optimize.nnls``, in the Gram form and in lockstep over the
    problems; in exact arithmetic it takes the same steps on ``G``, ``N`` as
    ``nnls`` on the observed entries, so a singular problem gets the same one
    of its many minimisers. ``fallback`` (step 3) only for a problem whose
    result fails the optimality check (:func:`_kkt_holds`). Up to rank
    :data:`_SMALL_RANK` everything is vector operations across problems, one
    per matrix entry (:func:`_nnls_small`); above it, LAPACK's batched
    routines (:func:`_nnls_gram`).
    """
    r, p = N.shape
    if r <= _SMALL_RANK:
        return _nnls_small(N, G, fallback)
    Gs = np.ascontiguousarray(np.broadcast_to(np.moveaxis(G, 2, 0), (p, r, r)))
    Nt = N.T
    try:
        L = np.linalg.cholesky(Gs)
        pd = np.ones(p, dtype=bool)
    except np.linalg.LinAlgError:
        L, pd = _cholesky_where_defined(Gs)
    dG = np.diagonal(Gs, axis1=1, axis2=2)
    pd &= np.diagonal(L, axis1=1, axis2=2).min(axis=1) ** 2 > _RCOND * dG.max(axis=1)
    out = np.zeros((p, r))
    hard = _ill_conditioned(pd, dG.min(axis=1), fallback, r, p)
    for q in np.flatnonzero(hard):
        out[q] = fallback(q)  # Step 3
    if pd.any():
        Lp = L[pd]
        y = np.linalg.solve(Lp, Nt[pd][:, :, None])
        x = np.linalg.solve(np.swapaxes(Lp, 1, 2), y)[:, :, 0]
        out[pd] = x
        pd[np.flatnonzero(pd)[(x < 0).any(axis=1)]] = False
    rest = np.flatnonzero(~pd & ~hard)
    if rest.size:
        G2, N2 = Gs[rest], Nt[rest]
        f, done = _nnls_gram(G2, N2)
        done &= _kkt_holds(np.moveaxis(G2, 0, 2), N2.T, f.T)
        out[rest] = f
        for q in rest[~done]:
            out[q] = fallback(q)  # Step 3
    return out.T


def _kkt_holds(G: np.ndarray, N: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Whether ``f`` (r, q) is optimal for each problem: the gradient ``N - G f`` is not positive beyond round-off.

    ``G`` is (r, r, q), ``N`` (r, q). A very ill-conditioned ``G`` (where the
    Gram form loses what the observed entries keep) can leave a solution of
    the batched methods short of the optimum; those few problems go to step 3.
    """
    w = N - _gram_times(G, f)
    size = np.abs(N).max(axis=0) + _diagonal_max(G) * f.sum(axis=0)  # f >= 0
    return w.max(axis=0) <= _KKT_TOL * size


def _gram_times(G: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``G[:, :, q] @ f[:, q]`` for every q: r**2 vector operations (faster than einsum for small r)."""
    r = f.shape[0]
    out = np.empty(np.broadcast_shapes(f.shape, G.shape[1:]))
    for i in range(r):
        acc = G[i, 0] * f[0]
        for j in range(1, r):
            acc += G[i, j] * f[j]
        out[i] = acc
    return out


def _diagonal_max(G: np.ndarray) -> np.ndarray:
    """The largest ``|G[i, j, q]|`` for each q; for a positive semi-definite G, the largest diagonal entry."""
    out = G[0, 0].copy()
    for j in range(1, G.shape[0]):
        np.maximum(out, G[j, j], out=out)
    return out


# Relative size of a positive gradient entry at which a batched step-2 solution is rechecked by step 3.
_KKT_TOL = 1e-9


def _nnls_small(N: np.ndarray, G: np.ndarray, fallback) -> np.ndarray:
    """Steps 1-3 for many problems of rank r <= :data:`_SMALL_RANK`, as vector operations across problems.

    ``N`` is (r, p), ``G`` (r, r, p) or (r, r, 1): each entry ``G[i, j]`` is a
    vector over the problems, and so is every quantity below (Cholesky
    factors, solutions, Lawson & Hanson's passive sets).
    """
    r, p = N.shape
    L = _cholesky_vec(G)  # NaN or zero pivots where G is not positive definite
    x = _cho_solve_vec(L, N)
    with np.errstate(invalid="ignore"):
        pivots = np.min([L[j, j] for j in range(r)], axis=0) ** 2
        pd = np.broadcast_to(pivots > _RCOND * np.max([G[j, j] for j in range(r)], axis=0), (p,))
    ok = pd & (x.min(axis=0) >= 0)
    out = np.where(ok, x, 0.0)  # step 1
    hard = _ill_conditioned(pd, np.min([G[j, j] for j in range(r)], axis=0), fallback, r, p)
    for q in np.flatnonzero(hard):
        out[:, q] = fallback(q)  # step 3
    rest = np.flatnonzero(~ok & ~hard)
    if rest.size:
        G2 = G[:, :, rest] if G.shape[2] > 1 else G
        N2 = N[:, rest]
        f, done = _lawson_hanson_vec(G2, N2)  # step 2
        done &= _kkt_holds(G2, N2, f)
        out[:, rest] = f
        for k in np.flatnonzero(~done):
            out[:, rest[k]] = fallback(rest[k])  # step 3
    return out


def _ill_conditioned(pd: np.ndarray, smallest_diagonal: np.ndarray, fallback, r: int, p: int) -> np.ndarray:
    """Problems whose Gram matrix fails the step-1 test without being singular by construction.

    A problem with fewer observed entries than components, or with a dead
    component (a zero diagonal entry), is singular by construction; the
    active-set method in the Gram form solves it as ``nnls`` would. Any other
    numerically singular ``G`` is merely ill-conditioned, where the Gram form
    loses accuracy that the observed entries keep: those go to step 3, as in
    :func:`nnls_block` (a handful of problems in practice).
    """
    structural = np.broadcast_to(smallest_diagonal == 0, (p,))
    counts = getattr(fallback, "counts", None)
    if counts is not None:
        structural = structural | (counts < r)
    return ~pd & ~structural


def _cholesky_vec(G: np.ndarray) -> np.ndarray:
    """Cholesky factors of the matrices ``G[:, :, q]``, one vector operation per entry.

    A matrix that is not positive definite gets a NaN or zero pivot (no error).
    """
    r = G.shape[0]
    L = np.zeros_like(G)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(r):
            L[j, j] = np.sqrt(G[j, j] - np.einsum("kq,kq->q", L[j, :j], L[j, :j]))
            for i in range(j + 1, r):
                L[i, j] = (G[i, j] - np.einsum("kq,kq->q", L[i, :j], L[j, :j])) / L[j, j]
    return L


def _cho_solve_vec(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L L^T x = B`` for lower-triangular ``L[:, :, q]`` and columns ``B[:, q]`` (vectors over q)."""
    r = B.shape[0]
    y = np.empty(np.broadcast_shapes(B.shape, L.shape[1:]))
    x = np.empty_like(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(r):
            y[i] = (B[i] - np.einsum("kq,kq->q", L[i, :i], y[:i])) / L[i, i]
        for i in reversed(range(r)):
            x[i] = (y[i] - np.einsum("kq,kq->q", L[i + 1:, i], x[i + 1:])) / L[i, i]
    return x


def _lawson_hanson_vec(G: np.ndarray, N: np.ndarray, solve=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_nnls_gram` with problems along the last axis: ``G`` (r, r, q) or (r, r, 1), ``N`` (r, q).

    ``solve(G, N, passive)`` gives the passive-set minimisers (NaN where a
    passive block is singular); by default :func:`_passive_solve_vec`.
    """
    solve = solve or _passive_solve_vec
    r, q = N.shape
    out = np.zeros((r, q))
    done = np.zeros(q, dtype=bool)
    idx = np.arange(q)  # the problems still iterating; the arrays below are compacted to them now and then
    size_n = np.abs(N).max(axis=0)
    size_g = _diagonal_max(G)
    # The first step from f = 0 needs no solve: the variable with the largest N_j > tol joins, and alone
    # its minimiser N_j / G_jj is positive (G_jj > 0, or N_j would be 0).
    tol = 10 * r * _EPS * size_n
    j = np.argmax(N, axis=0)
    cols = np.arange(q)
    first = N[j, cols]
    passive = np.zeros((r, q), dtype=bool)
    passive[j, cols] = first > tol
    f = np.zeros((r, q))
    with np.errstate(divide="ignore", invalid="ignore"):
        f[j, cols] = np.where(first > tol, first / np.broadcast_to(G[j, j, cols % G.shape[2]], (q,)), 0.0)
    for _ in range(3 * r):
        w = N - _gram_times(G, f)
        # Round-off in w is about eps (|N| + |G| |f|_1); only a larger gradient moves a variable.
        tol = 10 * r * _EPS * (size_n + size_g * f.sum(axis=0))  # f >= 0
        free = ~passive & (w > tol)
        moving = free.any(axis=0)
        stop = ~moving & ~done[idx]
        out[:, idx[stop]] = f[:, stop]
        done[idx[stop]] = True
        if not moving.any():
            break
        if 2 * np.count_nonzero(moving) < moving.size:  # compact once half the problems are done
            N, f, passive, w, free = (a[:, moving] for a in (N, f, passive, w, free))
            idx, size_n, size_g = idx[moving], size_n[moving], size_g[moving] if size_g.size > 1 else size_g
            G = G[:, :, moving] if G.shape[2] > 1 else G
            moving = np.ones(idx.size, dtype=bool)
        cols = np.arange(idx.size)
        j = np.argmax(np.where(free, w, -np.inf), axis=0)
        passive[j[moving], cols[moving]] = True
        inner = moving.copy()
        for _ in range(r + 1):  # each round drops at least one passive variable
            z = solve(G, N, passive)
            bad = passive & ~(z > 0) & inner  # ~(z > 0): NaN from a singular passive block counts as bad
            accept = inner & ~bad.any(axis=0)
            f = np.where(accept, z, f)
            inner &= ~accept
            if not inner.any():
                break
            # Step from f towards z as far as feasibility allows; variables that reach 0 leave.
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(bad, f / (f - z), np.inf)
            ratio = np.where(np.isnan(ratio), 0.0, ratio)
            alpha = np.clip(ratio.min(axis=0), 0.0, 1.0)
            step = f + alpha * np.where(np.isfinite(z), z - f, -f)
            leave = passive & (step <= 0)
            leave[np.argmin(ratio, axis=0), cols] = True  # the variable that set alpha
            leave &= inner
            passive &= ~leave
            f = np.where(inner, np.where(passive, step, 0.0), f)
    left = ~done[idx]
    out[:, idx[left]] = f[:, left]
    return out, done


_EPS = np.finfo(np.float64).eps


def _passive_solve_vec(G: np.ndarray, N: np.ndarray, passive: np.ndarray) -> np.ndarray:
    """The minimiser of ``z^T G z - 2 z^T N`` that is 0 outside the passive set; problems along the last axis."""
    r = N.shape[0]
    both = passive[:, None, :] & passive[None, :, :]
    Gm = np.where(both, G, np.eye(r)[:, :, None])  # identity rows and columns outside the passive set
    return np.where(passive, _cho_solve_vec(_cholesky_vec(Gm), np.where(passive, N, 0.0)), 0.0)


def _cholesky_where_defined(Gs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cholesky factors of the stacked Gram matrices that have one, and which do.

    The factors are those of ``np.linalg.cholesky`` on each matrix. Which
    matrices are (numerically) singular is read, for all at once, off the
    factors of a copy with a tiny multiple of the identity added (Gram
    matrices are positive semi-definite, so that copy factors); a matrix in
    doubt is factored alone.
    """
    p, r, _ = Gs.shape
    L = np.zeros_like(Gs)
    top = np.diagonal(Gs, axis1=1, axis2=2).max(axis=1)
    shift = 1e-3 * _RCOND * np.where(top > 0, top, 1.0)
    try:
        pivots = np.diagonal(np.linalg.cholesky(Gs + shift[:, None, None] * np.eye(r)), axis1=1, axis2=2)
        ok = (pivots.min(axis=1) ** 2 > 0.5 * _RCOND * top) & (top > 0)
    except np.linalg.LinAlgError:
        ok = np.ones(p, dtype=bool)
    good = np.flatnonzero(ok)
    try:
        L[good] = np.linalg.cholesky(Gs[good])
    except np.linalg.LinAlgError:
        for q in good:
            try:
                L[q] = np.linalg.cholesky(Gs[q])
            except np.linalg.LinAlgError:
                ok[q] = False
    return L, ok


def _nnls_gram(G: np.ndarray, N: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lawson & Hanson's active-set NNLS, ``min_{f >= 0} f^T G f - 2 f^T N``, for a stack of problems.

    ``G`` is (p, r, r) positive semi-definite, ``N`` (p, r). The algorithm of
    Lawson & Hanson ("Solving Least Squares Problems", 1974, ch. 23; that of
    ``scipy.optimize.nnls``) in the Gram form, every step applied to all
    problems still iterating: the gradient ``w = N - G f``; the free variable
    with the largest ``w > tol`` joins the passive set; the unconstrained
    minimiser on the passive set is taken, stepping back to the boundary (and
    dropping variables that reach 0) while it has entries <= 0. Its passive
    sets keep linearly independent columns, so a singular ``G`` needs no
    special case. Returns the solutions and which problems converged within
    ``3 r`` outer steps (scipy's limit).
    """
    f, done = _lawson_hanson_vec(np.moveaxis(G, 0, 2), N.T, solve=_passive_solve_lapack)
    return f.T, done


def _passive_solve_lapack(G: np.ndarray, N: np.ndarray, passive: np.ndarray) -> np.ndarray:
    """The minimiser of ``z^T G z - 2 z^T N`` that is 0 outside the passive set; problems along the last axis."""
    r = N.shape[0]
    both = passive[:, None, :] & passive[None, :, :]
    Gm = np.moveaxis(np.where(both, G, np.eye(r)[:, :, None]), 2, 0)  # identity outside the passive set
    Nm = np.where(passive, N, 0.0).T[:, :, None]
    try:
        z = np.linalg.solve(Gm, Nm)[:, :, 0]
    except np.linalg.LinAlgError:  # an exactly singular passive block (not expected): NaN, treated as bad
        z = np.full(Nm.shape[:2], np.nan)
    return np.where(passive, z.T, 0.0)


def _nnls_lines(ops: Ops, axis: int, F: np.ndarray) -> np.ndarray:
    """The exact NNLS of every row (axis 0, ``F = B``) or column (axis 1, ``F = A^T``) of X; (r, lines).

    On the stored entries with compiled kernels (:meth:`~._sparse.StoredOps.nnls_lines`) each line's
    Gram matrix is formed and solved in ``r x r`` work arrays, line by line (the same three steps, the
    same minimisers, as :func:`nnls_block`); otherwise from the Gram matrices of all lines at once.
    """
    fallback = _fallback(F, ops, axis)
    solved = ops.nnls_lines(axis, F, _RCOND, _KKT_TOL) if isinstance(ops, StoredOps) else None
    if solved is None:
        if axis == 0:
            return nnls_block(ops.times_xt(F), ops.gram_rows(F), fallback)
        return nnls_block(ops.xt_left(F), ops.gram_cols(F.T), fallback)
    out, hard = solved
    for q in np.flatnonzero(hard):
        out[:, q] = fallback(q)  # step 3
    return out


def _fallback(F: np.ndarray, ops: Ops, axis: int):
    """NNLS on the observed entries of row (axis=0) or column (axis=1) q of X, factor F (r, len).

    The observed entries of each line (:meth:`~._ops.Ops.line_counts`; None
    when not known) are attached to the solver as ``solve.counts`` for
    :func:`_nnls_batched`.
    """

    def solve(q):
        sel, x = ops.observed_line(axis, q)
        C = F[:, sel].T
        if C.shape[0] == 0:
            return np.zeros(F.shape[0])  # no observed entry: the loss does not depend on it
        return nnls(C, x)[0]

    solve.counts = ops.line_counts(axis)
    return solve


@register(
    "als",
    loss="frobenius",
    params=iterative_params(),
    sparse=True,
    summary="Alternating NNLS per row/column over observed entries (exact subproblems); monotone, few iterations.",
    reference=("kim2008nonnegative",),
)
def als(X, mask, *, rank, random_state, max_iter, tol, init, max_time, eval_every, stop_on):
    """NMF with missing values by alternating exact NNLS on observed entries.

    Returns
    -------
    FactorizationResult
        ``history["objective"]`` is ``||W * (X - A B)||_F``.
    """
    p = start(X, mask, rank=rank, max_iter=max_iter, tol=tol, max_time=max_time, random_state=random_state, init=init,
              eval_every=eval_every, stop_on=stop_on)
    ops, A, B = p.ops, p.A, p.B

    def update():
        nonlocal A, B
        # Kim & Park 2008 restricted to observed entries: one exact NNLS per row of A, then per column of B.
        # Rows of A: G_i = B diag(M[i, :]) B^T, N_i = B (M*X)[i, :]^T.
        A = _nnls_lines(ops, 0, B).T
        # Columns of B: G_k = A^T diag(M[:, k]) A, N_k = A^T (M*X)[:, k].
        B = _nnls_lines(ops, 1, A.T)

    run = p.iterate(update, lambda: ops.frobenius(A, B), loss="frobenius", factors=lambda: (A, B))
    return p.result("als", np.ascontiguousarray(A), np.ascontiguousarray(B), run)
