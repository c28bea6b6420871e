"""Compiled one-pass loops behind A1GM's sums (numba).

Imported only by :mod:`._a1gm_kernel`, and only when numba is installed and
not disabled, so ``import nmfexp`` never pays for numba.

Memory. ``X`` is C-ordered and read eight rows at a time: one loop over the
columns reads the eight rows side by side, keeps eight row sums in registers
and updates each column-sum vector once per eight rows. Updating a
column-sum vector once per row would cost more than reading the row (the
vector is as long as the row and is read and written back each time). The
loops are written to keep few instructions per byte read: even work that
would fit in the time the memory takes slows the stream down.

Checks. A value is valid when it is finite and not negative. Its bit pattern
tells at once: read as an unsigned integer, every valid double is below
``_INF_BITS`` (sign bit clear, exponent not all ones), and a set sign bit
marks a negative value (or ``-0.0``, or a NaN with its sign set). The loops
OR or max these patterns, which costs one integer instruction per row and
column; a group that looks suspect is checked again value by value, so
``-0.0`` is accepted as it always was.

Floating point. ``fastmath={"reassoc"}`` lets LLVM vectorise the sums (it
may reorder additions); it does not let it assume values are finite, so NaN
and inf behave as in IEEE arithmetic, which the checks rely on. ``_pos(x)``
is ``x`` for ``x > 0`` and ``+0.0`` otherwise, NaN included (one ``max``
instruction). A value that a mask marks as missing only ever meets a select
that drops it, or lands in a sum that is not used, so whatever it is, it
cannot change a bit of the result.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_OPTS = {"nogil": True, "cache": True, "fastmath": {"reassoc"}, "error_model": "numpy"}

GROUP = 8  # rows read side by side; the loops below are written out for eight

_INF_BITS = np.uint64(0x7FF0000000000000)
_SIGN_BIT = np.uint64(0x8000000000000000)


@intrinsic
def _bits(typingctx, x):
    """The IEEE bit pattern of a float64 as a uint64 (no instruction: a reinterpretation)."""
    if not (isinstance(x, types.Float) and x.bitwidth == 64):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(x), codegen


@njit(**_OPTS)
def _pos(x):
    return x if x > 0.0 else 0.0


@njit(**_OPTS)
def _umax(a, b):
    return a if a > b else b


@njit(**_OPTS)
def _rows(X, idx, zero):
    """The eight rows ``X[idx[g]]``, a row of zeros where ``idx[g] < 0``."""
    return (X[idx[0]] if idx[0] >= 0 else zero, X[idx[1]] if idx[1] >= 0 else zero,
            X[idx[2]] if idx[2] >= 0 else zero, X[idx[3]] if idx[3] >= 0 else zero,
            X[idx[4]] if idx[4] >= 0 else zero, X[idx[5]] if idx[5] >= 0 else zero,
            X[idx[6]] if idx[6] >= 0 else zero, X[idx[7]] if idx[7] >= 0 else zero)


@njit(**_OPTS)
def _group(rows, Q, S, nan_as_zero):
    """Eight rows: ``S[g]`` their sums (NaN and inf show there), ``Q += their
    column sums``, with NaN and negative values as 0 if ``nan_as_zero``.

    Returns whether some entry has its sign bit set (a negative value, -0.0 or
    a NaN with its sign set).
    """
    r0, r1, r2, r3, r4, r5, r6, r7 = rows
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    sign = np.uint64(0)
    for j in range(Q.size):
        a, b, c, d, e, f, g, h = r0[j], r1[j], r2[j], r3[j], r4[j], r5[j], r6[j], r7[j]
        s0 += a
        s1 += b
        s2 += c
        s3 += d
        s4 += e
        s5 += f
        s6 += g
        s7 += h
        if nan_as_zero:
            Q[j] += ((_pos(a) + _pos(b)) + (_pos(c) + _pos(d))) + ((_pos(e) + _pos(f)) + (_pos(g) + _pos(h)))
        else:
            Q[j] += ((a + b) + (c + d)) + ((e + f) + (g + h))
        sign |= ((_bits(a) | _bits(b)) | (_bits(c) | _bits(d))) | ((_bits(e) | _bits(f)) | (_bits(g) | _bits(h)))
    S[0], S[1], S[2], S[3], S[4], S[5], S[6], S[7] = s0, s1, s2, s3, s4, s5, s6, s7
    return sign >= _SIGN_BIT


@njit(**_OPTS)
def _incomplete_group(rows, cc, Y, T):
    """Eight incomplete rows: ``T[g]`` their sums over complete columns (``cc[j]``
    nonzero), ``Y += their column sums`` (meaningful on complete columns only).

    Returns whether some entry is not a valid value (NaN, inf, negative or -0.0).
    """
    r0, r1, r2, r3, r4, r5, r6, r7 = rows
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = 0.0
    hi = np.uint64(0)
    for j in range(Y.size):
        a, b, c, d, e, f, g, h = r0[j], r1[j], r2[j], r3[j], r4[j], r5[j], r6[j], r7[j]
        keep = cc[j] != 0
        t0 += a if keep else 0.0
        t1 += b if keep else 0.0
        t2 += c if keep else 0.0
        t3 += d if keep else 0.0
        t4 += e if keep else 0.0
        t5 += f if keep else 0.0
        t6 += g if keep else 0.0
        t7 += h if keep else 0.0
        Y[j] += ((a + b) + (c + d)) + ((e + f) + (g + h))
        hi = _umax(hi, _umax(_umax(_umax(_bits(a), _bits(b)), _umax(_bits(c), _bits(d))),
                             _umax(_umax(_bits(e), _bits(f)), _umax(_bits(g), _bits(h)))))
    T[0], T[1], T[2], T[3], T[4], T[5], T[6], T[7] = t0, t1, t2, t3, t4, t5, t6, t7
    return hi >= _INF_BITS


@njit(**_OPTS)
def _has_negative(row):
    for j in range(row.size):
        if row[j] < 0.0:
            return True
    return False


@njit(**_OPTS)
def _clear_sum(row, K):
    """Sum of ``row`` over the columns with ``K[j] == 0``, and its NaN count."""
    t = 0.0
    nan = 0
    for j in range(row.size):
        x = row[j]
        t += x if K[j] == 0 else 0.0
        nan += x != x
    return t, nan


@njit(**_OPTS)
def _mark_nans(row, K):
    """``K[j] = 1`` where ``row`` is NaN; returns how many were 0 before."""
    new = 0
    for j in range(row.size):
        old = K[j]
        k = old | (row[j] != row[j])
        K[j] = k
        new += k ^ old
    return new


@njit(**_OPTS)
def mask_facts(M, rc, cc):
    """One pass over a C-ordered 0/1 byte mask ``M`` (n, m).

    Writes ``rc[i] = all(M[i])`` and ``cc[j] = all(M[:, j])`` (``cc`` must come
    in as ones) and returns the number of zeros (missing entries).
    """
    n, m = M.shape
    zeros = 0
    for i in range(n):
        row = M[i]
        ones = np.uint32(0)  # a narrow counter keeps the loop on wide vectors
        for j in range(m):
            v = row[j]
            ones = np.uint32(ones + v)
            cc[j] &= v
        rc[i] = ones == m
        zeros += m - ones
    return zeros


@njit(**_OPTS)
def known_pass(X, rc, cc, P0, P1, Q1, Y, suspect):
    """Sums of C-ordered ``X`` when its complete rows ``rc`` and columns ``cc`` are known.

    Complete rows, eight at a time: ``P0`` their sums, ``Q1`` their column
    sums. Incomplete rows, eight at a time: ``P1`` their sums over complete
    columns, ``Y`` their column sums (meaningful on complete columns only).
    Missing entries lie in incomplete rows and columns, so a value there reaches
    only ``Y`` on incomplete columns. ``suspect[i] = 1`` marks incomplete rows
    that may hold a NaN, inf or negative value, for the caller to check
    against the mask.

    Returns ``(status, n_suspect, SX, SY, SZ, total)``: status -1 when a
    complete row holds a NaN, inf or negative value or its sum overflows, else
    0; the three block totals; and a total of every sum the caller uses (all
    are non-negative, so it is finite exactly when they all are).
    """
    n, m = X.shape
    zero = np.zeros(m)
    S = np.empty(GROUP)
    idx = np.empty(GROUP, np.int64)
    full = np.flatnonzero(rc)
    for k in range(0, full.size, GROUP):
        for g in range(GROUP):
            idx[g] = full[k + g] if k + g < full.size else -1
        rows = _rows(X, idx, zero)
        if _group(rows, Q1, S, False):
            for row in rows:
                if _has_negative(row):
                    return -1, 0, 0.0, 0.0, 0.0, 0.0
        for g in range(min(GROUP, full.size - k)):
            if not np.isfinite(S[g]):
                return -1, 0, 0.0, 0.0, 0.0, 0.0
            P0[idx[g]] = S[g]
    gaps = np.flatnonzero(rc == 0)
    n_suspect = 0
    for k in range(0, gaps.size, GROUP):
        for g in range(GROUP):
            idx[g] = gaps[k + g] if k + g < gaps.size else -1
        bad = _incomplete_group(_rows(X, idx, zero), cc, Y, S)
        for g in range(min(GROUP, gaps.size - k)):
            P1[idx[g]] = S[g]
            suspect[idx[g]] = bad
            n_suspect += bad
    SX, SZ = _split(Q1, cc)
    SY = _split(P1, rc)[1]
    total = SX + SY + SZ + _split(P0, rc)[0] + _split(Y, cc)[0]
    return 0, n_suspect, SX, SY, SZ, total


@njit(**_OPTS)
def observed_bad(X, M, suspect):
    """Whether a row marked in ``suspect`` has a NaN, inf or negative value where ``M`` is nonzero."""
    for i in range(X.shape[0]):
        if suspect[i]:
            row = X[i]
            for j in range(X.shape[1]):
                x = row[j]
                if not ((x >= 0.0) & (x < np.inf)) and M[i, j]:
                    return True
    return False


@njit(**_OPTS)
def nan_pass(X, rc, P0, P1, Q, K):
    """Sums of C-ordered ``X`` whose missing entries are its NaNs, in one pass.

    Consecutive rows are read eight at a time (:func:`_group`): ``P0`` row
    sums, ``Q`` column sums over all rows with NaN as 0. A row whose sum is
    NaN has a NaN (``rc[i] = 0``); it is read again at once from cache for
    ``P1[i]``, its sum over the columns not marked in ``K``, and its NaN count;
    if that sum is NaN too, the row has NaN in columns not marked yet, which are
    marked (``K[j] = 1``) before it is summed once more. Rows read before the
    last column was marked are summed again at the end, so ``P1`` is exactly
    the sum over complete columns (``K[j] == 0``) on every incomplete row.

    Returns ``(status, n_missing, rows with gaps, columns with gaps, Q finite,
    sum of P0 on complete rows, sum of P1 on incomplete rows, sums of Q on
    complete and on incomplete columns, smallest entry of P0, smallest entry of Q)``
    (the last two let a fully observed ``X`` skip a pass over its factors). Status is -1 for a negative value or
    a row without NaN whose sum is infinite (an inf, or an overflow), else 0.
    An inf in a row with a NaN shows as an infinite ``Q``.
    """
    n, m = X.shape
    zero = np.zeros(m)
    S = np.empty(GROUP)
    idx = np.empty(GROUP, np.int64)
    known = np.empty(n, np.int64)  # columns marked when row i was read
    n_missing = 0
    n_known = 0
    for i0 in range(0, n, GROUP):
        for g in range(GROUP):
            idx[g] = i0 + g if i0 + g < n else -1
        rows = _rows(X, idx, zero)
        if _group(rows, Q, S, True):
            for row in rows:
                if _has_negative(row):
                    return -1, 0, 0, 0, True, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        for g in range(min(GROUP, n - i0)):
            i = i0 + g
            s = S[g]
            P0[i] = s
            rc[i] = s == s
            if s == s:
                if s == np.inf:
                    return -1, 0, 0, 0, True, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
                continue
            t, nan = _clear_sum(X[i], K)
            if t != t:  # a NaN in a column not known to be incomplete yet
                n_known += _mark_nans(X[i], K)
                t = _clear_sum(X[i], K)[0]
            P1[i] = t
            known[i] = n_known
            n_missing += nan
    for i in range(n):
        if not rc[i] and known[i] < n_known:
            P1[i] = _clear_sum(X[i], K)[0]
    q_finite = True
    for j in range(m):
        q_finite &= np.isfinite(Q[j])
    gap_rows = 0
    for i in range(n):
        gap_rows += rc[i] == 0
    clear = K == 0
    return (0, n_missing, gap_rows, n_known, q_finite, _split(P0, rc)[0], _split(P1, rc)[1],
            _split(Q, clear)[0], _split(Q, clear)[1], P0.min(), Q.min())


@njit(**_OPTS)
def _split(v, flags):
    """``(sum of v[i] where flags[i], sum of v[i] where not flags[i])``."""
    yes = 0.0
    no = 0.0
    for i in range(v.size):
        if flags[i]:
            yes += v[i]
        else:
            no += v[i]
    return yes, no


@njit(**_OPTS)
def incomplete_col_sums(X, rc, K, Ysum):
    """``Ysum[j] += sum of X[i, j]`` over incomplete rows ``i`` (``rc[i] == 0``),
    for incomplete columns ``j`` (``K[j]`` nonzero), NaN counted as 0."""
    for i in range(X.shape[0]):
        if not rc[i]:
            row = X[i]
            for j in range(X.shape[1]):
                if K[j]:
                    Ysum[j] += _pos(row[j])


@njit(**_OPTS)
def clear_sums(X, rc, K, P1):
    """``P1[i]`` = the sum of row ``i`` over the columns with ``K[j] == 0``, for incomplete rows (``rc[i] == 0``).

    After rows were read in blocks side by side, each block knows only the
    columns where it met a NaN; this sums a block's incomplete rows again once
    the marks of every block are merged.
    """
    for i in range(X.shape[0]):
        if not rc[i]:
            P1[i] = _clear_sum(X[i], K)[0]
