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
  ``NMFEXP_DISABLE_NUMBA`` is set to anything but ``0``, or when the backend
  is ``"numpy"``.

Both leave the caller's arrays untouched and never let a value at a missing
entry reach a result; they agree to rounding (they add in different orders).

Choosing (``backend``, default :data:`BACKEND`): ``"numba"`` and ``"numpy"``
are obeyed; ``"auto"`` is the compiled kernel when numba is there and not
disabled, on every call. The kernel loads on first use: importing numba
(about 0.15 s once NumPy is loaded) and loading the cached machine code
(about 0.2 s, nearly all of it numba setting up its typing registries on
the first cached function), against well under a millisecond for the NumPy
path on a 200 x 200 matrix. Serving a process's first (or small) calls on
the NumPy path instead would hide that, but would make a call's last bits
(and, through an ``init="a1gm"`` start, an iterative solver's iteration
count) depend on whether it was the first in its process or on its size: no
NumPy order reproduces the kernel's bits. The kernel's loops are compiled
with ``fastmath={"reassoc"}``, so LLVM vectorises each row sum into as many
partial sums as the CPU's vectors hold (8 with AVX-512, 4 with AVX2) and adds
them at the end; the bits follow that width (and so the machine), and match
neither a sequential sum (``np.add.accumulate``) nor NumPy's pairwise
``np.sum`` (measured: 8-22% and 42-75% of row sums equal on 100 to 1000
columns). A caller that factorizes once and wants no numba asks for
``"numpy"``.

Threads. The compiled passes can split the rows of a large ``X`` (at least
:data:`PARALLEL_MIN` entries, 2**25) into blocks summed by as many threads
(the kernels release the GIL); the caller says how many (A1GM uses the BLAS
thread limit in force, see :func:`blas_thread_limit`). One thread reads
nearly as fast as the memory delivers, so a split pays only on very large
inputs and on machines with idle cores and several memory channels. Per-row results are the same
bits whatever the number of threads; column sums and totals add the blocks'
partial sums, so they can differ from one thread's in the last bits. One
thread is exactly the serial pass.
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass

import numpy as np

from .._validation import mask_and_missing, raise_bad_observed
from ._compiled import compiled_module, numba_disabled

__all__ = ["A1GMSums", "a1gm_sums", "numba_enabled", "resolve_backend", "blas_thread_limit", "BACKEND",
           "BACKENDS", "PARALLEL_MIN"]

#: The kernels a caller can ask for.
BACKENDS = ("auto", "numba", "numpy")

#: The process-wide default: ``"auto"`` (numba when available and not disabled), ``"numba"`` or ``"numpy"``.
BACKEND = "auto"

#: Inputs with at least this many entries (256 MB as float64) are split across threads when more than one
#: is allowed. The passes are bound by memory bandwidth, which one thread nearly fills: measured side by side
#: on 2 cores (one busy), two threads were slower than one at every size from 1024 x 1024 (0.6x) to
#: 4000 x 4000 (0.92x) and about even (0.94x to 1.0x) from 6000 x 6000 up, so smaller inputs stay serial.
PARALLEL_MIN = 1 << 25

_JIT_NAME = f"{__package__}._a1gm_jit"

# NumPy fallback: rows per streamed block are chosen so that one block is about
# this many bytes, small enough to stay in L2 cache while it is read three times.
_BLOCK_BYTES = 1 << 21

# A difference A - B of non-negative sums is trusted when B <= _SUBTRACT_LIMIT * A:
# its relative rounding error is then at most (1 + L) / (1 - L) = 7 times that of A.
_SUBTRACT_LIMIT = 0.75


_NAN_MARKS_GAPS = object()  # stands for the mask ~isnan(X), built only to report a bad value


def numba_enabled() -> bool:
    """Whether :func:`a1gm_sums` can use the compiled kernel (numba installed and not disabled; loads it)."""
    return compiled_module(BACKEND, "_a1gm_jit") is not None


def resolve_backend(backend: str | None):
    """The compiled kernel module for this call, or None for the NumPy path (see the module docstring).

    ``backend`` None means :data:`BACKEND`. Once loaded, the kernel is found
    without a look at the environment beyond ``NMFEXP_DISABLE_NUMBA``.
    """
    backend = BACKEND if backend is None else backend
    if backend == "auto" and numba_disabled():
        return None
    if backend != "numpy":
        jit = sys.modules.get(_JIT_NAME)
        if jit is not None:
            return jit
    return compiled_module(backend, "_a1gm_jit")


_controller = None


def blas_thread_limit() -> int:
    """The number of threads BLAS may use now (as set by threadpoolctl or the environment); 1 if unknown.

    Inside an experiment job this is ``timing.blas_threads`` (the runner pins
    BLAS with threadpoolctl), so a kernel that follows it keeps timings like
    with like.
    """
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        counts = [lib.num_threads for lib in _controller.lib_controllers if lib.user_api == "blas"]
    except Exception:  # threadpoolctl missing or unable to read a library: stay serial
        return 1
    return max(1, min(counts)) if counts else 1


@dataclass(slots=True)
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


def a1gm_sums(X: np.ndarray, mask=None, backend: str | None = None, threads: int = 1) -> A1GMSums:
    """Validate ``mask`` against float64 ``X`` and compute A1GM's sums.

    ``X`` is read along its memory order: a Fortran-ordered ``X`` is handled as
    ``X.T`` (``transposed`` is then True; A1GM is symmetric under
    transposition). ``backend`` picks the kernel (:func:`resolve_backend`;
    None: :data:`BACKEND`); ``threads`` is how many threads the compiled passes
    may use on an input of at least :data:`PARALLEL_MIN` entries. Raises the
    ``ValueError`` of :func:`nmfexp._validation.mask_and_missing` for a bad mask
    or when every entry is missing, and of
    :func:`nmfexp._validation.raise_bad_observed` for a NaN, inf or negative
    observed value or sums that overflow.
    """
    jit = resolve_backend(backend)
    if jit is None:
        return _numpy_sums(X, mask)
    transposed = not X.flags.c_contiguous and X.flags.f_contiguous
    Xs = X.T if transposed else np.ascontiguousarray(X)
    blocks = _row_blocks(Xs.shape[0], threads) if threads > 1 and Xs.size >= PARALLEL_MIN else _ONE_BLOCK
    if mask is None:
        return _nan_sums(jit, X, Xs, transposed, blocks)
    if isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == X.shape:
        observed = mask
    else:  # 0/1 masks are converted (and bad masks rejected) by the shared validation
        observed = mask_and_missing(mask, X)[0]
    return _masked_sums(jit, X, Xs, mask, observed, transposed, blocks)


_ONE_BLOCK = ((0, -1),)  # the whole of X, read serially


def nan_marked_pass(X: np.ndarray, backend: str | None):
    """The compiled pass over a C-ordered ``X`` whose NaNs mark its gaps, for the common small call.

    Returns ``(jit, passed)`` (``passed`` as :func:`_nan_pass` gives it, for
    :func:`nan_marked_sums`), or None when this call takes the general route
    (:func:`a1gm_sums`): another memory order, the NumPy path, or an input
    large enough to split across threads. The caller can finish a fully
    observed ``X`` from ``passed`` alone (``passed[5][1] == 0`` missing
    entries) without building an :class:`A1GMSums`.
    """
    if not X.flags.c_contiguous or X.size >= PARALLEL_MIN:
        return None
    jit = resolve_backend(backend)
    if jit is None:
        return None
    return jit, _nan_pass(jit, X, _ONE_BLOCK)


def nan_marked_sums(X: np.ndarray, jit, passed) -> A1GMSums:
    """:func:`a1gm_sums` of ``X`` (no mask) from the pass :func:`nan_marked_pass` made."""
    return _nan_sums(jit, X, X, False, _ONE_BLOCK, passed)


def _row_blocks(n: int, threads: int) -> list[tuple[int, int]]:
    """``threads`` contiguous row ranges of about equal size (fewer for few rows), as ``(start, stop)``."""
    k = max(1, min(int(threads), n))
    edges = [n * i // k for i in range(k + 1)]
    return [(edges[i], edges[i + 1]) for i in range(k)]


def _in_threads(func, blocks: list[tuple[int, int]]) -> list:
    """``[func(start, stop) for each block]``, the first block on this thread and each other on its own.

    The compiled passes release the GIL, so the blocks run side by side. An
    exception in any block is raised here after every thread has finished.
    """
    out: list = [None] * len(blocks)
    errors: list = []

    def run(k):
        try:
            out[k] = func(*blocks[k])
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(1, len(blocks))]
    for w in workers:
        w.start()
    run(0)
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return out


def _masked_sums(jit, X, Xs, mask, observed, transposed, blocks) -> A1GMSums:
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
    return _from_known(jit, X, Xs, observed, Ms, transposed, rc, cc, int(n_missing), blocks)


def _from_known(jit, X, Xs, observed, Ms, transposed, rc, cc, n_missing, blocks) -> A1GMSums:
    """Sums when complete rows ``rc`` and columns ``cc`` (0/1 bytes) are known.

    ``Ms`` is the mask (in the streamed orientation, as bytes) to check suspect
    rows against, None when ``X`` was checked already; ``observed`` is what
    error messages name entries by.
    """
    n, m = Xs.shape
    P0, P1 = np.zeros(n), np.zeros(n)
    suspect = np.zeros(n, np.uint8)
    if len(blocks) == 1:
        Q1, Y = np.zeros(m), np.zeros(m)
        status, n_suspect, SX, SY, SZ, total = jit.known_pass(Xs, rc, cc, P0, P1, Q1, Y, suspect)
    else:
        def block(a, b):
            q1, y = np.zeros(m), np.zeros(m)
            return jit.known_pass(Xs[a:b], rc[a:b], cc, P0[a:b], P1[a:b], q1, y, suspect[a:b])[:2] + (q1, y)

        parts = _in_threads(block, blocks)
        status, n_suspect = min(p[0] for p in parts), sum(p[1] for p in parts)
        Q1, Y = _added([p[2] for p in parts]), _added([p[3] for p in parts])
        SX, SZ = jit._split(Q1, cc)
        SY = jit._split(P1, rc)[1]
        total = SX + SY + SZ + jit._split(P0, rc)[0] + jit._split(Y, cc)[0]
    # Suspect rows (a NaN, inf or negative value somewhere) are checked against the mask; one
    # memory layout for it keeps to one compiled version of the check.
    if status < 0 or (Ms is not None and n_suspect and jit.observed_bad(Xs, np.ascontiguousarray(Ms), suspect)) \
            or not math.isfinite(total):
        raise_bad_observed(X, ~np.isnan(X) if observed is _NAN_MARKS_GAPS else observed)
    return A1GMSums(transposed, rc.view(bool), cc.view(bool), n_missing, P0, P1, Q1 + Y, Q1, SX=SX, SY=SY, SZ=SZ)


def _added(parts: list[np.ndarray]) -> np.ndarray:
    """The blocks' partial column sums added in block order (the same bits for the same blocks)."""
    out = parts[0]
    for p in parts[1:]:
        out += p
    return out


def _nan_pass(jit, Xs, blocks):
    """:func:`._a1gm_jit.nan_pass` over the rows of ``Xs``, split into ``blocks`` run side by side.

    Returns the arrays ``rc, P0, P1, Q, K`` and the tuple ``nan_pass`` returns.
    Each block marks the columns where it meets a NaN; once the marks are
    merged, incomplete rows of a block that missed some are summed again over
    the columns that are complete for the whole of ``X``.
    """
    n, m = Xs.shape
    rc = np.empty(n, np.uint8)
    P0, P1 = np.empty(n), np.empty(n)
    if len(blocks) == 1:
        Q = np.zeros(m)
        K = np.zeros(m, np.uint8)
        return rc, P0, P1, Q, K, jit.nan_pass(Xs, rc, P0, P1, Q, K)

    def block(a, b):
        q, k = np.zeros(m), np.zeros(m, np.uint8)
        return jit.nan_pass(Xs[a:b], rc[a:b], P0[a:b], P1[a:b], q, k), q, k

    parts = _in_threads(block, blocks)
    if min(p[0][0] for p in parts) < 0:
        return rc, P0, P1, None, None, (-1, 0, 0, 0, True, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    Q = _added([p[1] for p in parts])
    K = np.bitwise_or.reduce([p[2] for p in parts])
    for (a, b), (_, _, k) in zip(blocks, parts, strict=True):
        if not np.array_equal(k, K):
            jit.clear_sums(Xs[a:b], rc[a:b], K, P1[a:b])
    clear = K == 0
    q_finite = bool(np.isfinite(Q).all())
    out = (0, sum(p[0][1] for p in parts), sum(p[0][2] for p in parts), int(np.count_nonzero(K)), q_finite,
           jit._split(P0, rc)[0], jit._split(P1, rc)[1], *jit._split(Q, clear), float(P0.min()), float(Q.min()))
    return rc, P0, P1, Q, K, out


def _nan_sums(jit, X, Xs, transposed, blocks, passed=None) -> A1GMSums:
    """The sums when NaN marks the missing entries; ``passed``: what :func:`_nan_pass` returned, if it ran."""
    n, m = Xs.shape
    rc, P0, P1, Q, K, out = _nan_pass(jit, Xs, blocks) if passed is None else passed
    status, n_missing, n_gap_rows, n_gap_cols, q_finite, SX_SZ, SY, SX_SY, SZ = out[:9]
    if status < 0 or not q_finite:
        raise_bad_observed(X, ~np.isnan(X))
    if n_missing == 0:  # fully observed: every row and column is complete (the common small case, quickly)
        if not math.isfinite(SX_SZ + SX_SY):
            raise_bad_observed(X, ~np.isnan(X))  # sums overflow
        return A1GMSums(transposed, rc.view(bool), (K == 0).view(bool), 0, P0, P1, Q, Q, SX=SX_SZ - SZ, SY=SY, SZ=SZ)
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
        return _from_known(jit, X, Xs, _NAN_MARKS_GAPS, None, transposed, rc, cc, int(n_missing), blocks)
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
