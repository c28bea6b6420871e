"""Input checks shared by every solver.

Every public entry point funnels its arguments through these helpers so that
a bad input produces one clear ``ValueError`` saying what is wrong and what to
do, instead of a traceback from deep inside NumPy or a silent NaN.

Conventions (the paper's): ``mask[i, j]`` is True (or 1) where ``X[i, j]`` is
observed and False (0) where it is missing. A mask of ``None`` means "missing
where X is NaN".

What each kind of ``X`` means (:func:`read_data`; every entry point reads its
input through it, so the meaning is the same everywhere):

- a NumPy array or anything ``np.asarray`` reads: its values; NaN marks a
  missing entry when ``mask`` is None.
- a ``numpy.ma.MaskedArray``: masked entries are missing. With an explicit
  ``mask`` too, an entry is missing if either says so.
- a pandas ``DataFrame``: its missing values (``pd.NA`` in nullable
  ``Float64``/``Int64``/``boolean`` columns, NaN) are missing entries, again
  combined with an explicit ``mask``. Non-numeric columns are refused.
- a ``scipy.sparse`` matrix or array: accepted only with ``mask="stored"``
  (only the stored entries are observed, as for ratings; a stored zero is an
  observed zero) or ``mask="all"`` (every entry is observed; implicit entries
  are observed zeros). Anything else, ``mask=None`` included, is refused:
  nothing is assumed about entries that are not stored (:func:`sparse_input`).
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "SolverRefused",
    "SumsOverflow",
    "SPARSE_MASKS",
    "MaskedData",
    "read_data",
    "read_values",
    "is_sparse",
    "sparse_input",
    "check_sparse",
    "wide_range_exponent",
    "check_number",
    "check_random_state",
    "to_float64",
    "as_matrix",
    "as_mask",
    "mask_and_missing",
    "check_rank",
    "check_max_iter",
    "check_tol",
    "check_max_time",
    "check_init_factors",
    "masked_data",
    "raise_bad_observed",
]


class SolverRefused(ValueError):
    """A solver declines this input: a legitimate, deterministic "cannot run here".

    Raised for a property of the data or the requested rank, never for a
    programming error or a bad parameter: A1GM when no row or no column is
    complete, a rank-1-only solver asked for a higher rank, a rank larger
    than the matrix allows. Experiments record such a job as ``skipped``
    with this message; every other exception makes it ``failed``. It is a
    ``ValueError``, so callers of :func:`nmfexp.factorize` that catch
    ``ValueError`` keep working. Defined here, beside the checks that raise
    it, and exported as ``nmfexp.SolverRefused`` and
    ``nmfexp.solvers.SolverRefused``.
    """


class SumsOverflow(ValueError):
    """Every observed value is finite and non-negative, but a sum of them overflows float64.

    Raised by :func:`raise_bad_observed` when it finds no bad value; a caller
    that can rescale (A1GM) catches it and recomputes on ``X / 2**k``.
    """


#: The values of ``mask`` that say what a scipy.sparse X's implicit entries mean.
SPARSE_MASKS = ("stored", "all")


def is_sparse(X) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array (scipy is imported only if the caller did)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def check_sparse(X, mask, name: str = "X") -> str:
    """Check a scipy.sparse ``X`` and its ``mask`` statement; return the statement.

    The sparse contract: ``mask="stored"`` (only stored entries are observed;
    a stored zero is an observed zero) or ``mask="all"`` (every entry is
    observed; implicit entries are observed zeros). Anything else raises a
    ``ValueError`` naming both, so a sparse matrix is never read one way
    silently.
    """
    if not (isinstance(mask, str) and mask in SPARSE_MASKS):
        got = f"mask={mask!r}" if mask is None or isinstance(mask, str) else f"a mask of type {type(mask).__name__}"
        raise ValueError(
            f"{name} is a scipy.sparse matrix, and nothing says what its implicit (unstored) entries mean; "
            f"got {got}. Pass mask='stored' if only the stored entries are observed (ratings-like data; a "
            f"stored zero is an observed zero), or mask='all' if every entry is observed and the implicit "
            f"entries are zeros."
        )
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got a sparse array of shape {X.shape}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); it needs at least one row and one column.")
    dtype = np.dtype(X.dtype)
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got complex dtype {dtype}.")
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise ValueError(f"{name} must be numeric, got a sparse matrix of dtype {dtype}.")
    return mask


def sparse_input(X, mask, name: str = "X") -> tuple[np.ndarray, np.ndarray | None]:
    """A scipy.sparse ``X`` as a dense float64 array and a mask, under the sparse contract.

    Returns ``(dense, observed)``: ``dense`` holds the stored values and zeros
    at implicit entries; ``observed`` is the sparsity pattern (True where an
    entry is stored, duplicates included) for ``mask="stored"``, and None
    (every entry observed) for ``mask="all"``. Stored NaN or inf values are
    refused (a stored entry is an observed one). This is the one place where
    sparse input becomes dense; a solver with a sparse path branches before it.
    """
    how = check_sparse(X, mask, name)
    coo = X.tocoo()
    values = to_float64(np.asarray(coo.data), name)
    finite = np.isfinite(values)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{name} stores {int(values.size - np.count_nonzero(finite))} non-finite value(s) (first: "
            f"{name}[{int(coo.row[k])}, {int(coo.col[k])}] = {values[k]}); with mask={how!r} every stored entry "
            "is observed. Remove them from the sparse matrix to make them missing (mask='stored')."
        )
    import scipy.sparse as sp  # X is a scipy.sparse matrix: scipy is loaded already (kept off import nmfexp)

    # duplicates are summed in float64, not in X's dtype (uint8 128 + 128 stored twice is 256, not 0)
    dense = sp.coo_array((values, (coo.row, coo.col)), shape=X.shape).toarray(order="C")
    if how == "all":
        return dense, None
    observed = np.zeros(X.shape, dtype=bool)
    observed[coo.row, coo.col] = True
    return dense, observed


def read_data(X, mask=None, name: str = "X") -> tuple[np.ndarray, object]:
    """What ``X`` and ``mask`` mean, as a float64 matrix and a mask the solvers understand.

    Returns ``(values, mask)``: ``values`` is a 2-D float64 array (no copy for
    a float64 array); ``mask`` is what :func:`mask_and_missing` reads: the
    caller's ``mask`` unchanged for a plain array, or a boolean array (True =
    observed) once a masked array's mask, a DataFrame's missing values or a
    sparse matrix's pattern have been taken into account (see the module
    docstring). The caller's objects are never modified.
    """
    if type(X) is np.ndarray and not isinstance(mask, str):  # the common case, first and cheap
        return as_matrix(X, name), mask
    if is_sparse(X):
        return sparse_input(X, mask, name)
    if isinstance(mask, str):
        raise ValueError(
            f"mask={mask!r} says what the implicit entries of a scipy.sparse {name} mean, but {name} is dense; "
            "pass a boolean mask (True = observed), or None to mark missing entries with NaN."
        )
    missing = None
    if isinstance(X, np.ma.MaskedArray):
        missing = np.ma.getmaskarray(X)
        X = np.ma.getdata(X)
    else:
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(X, pd.DataFrame):
            X, missing = _frame_values(pd, X, name)
            if mask is None:  # the values hold NaN exactly where the frame is missing: NaN marks them
                missing = None
    values = as_matrix(X, name)
    if missing is None or not missing.any():
        return values, mask
    return values, _observed_array(mask, values) & ~missing


def read_values(R, name: str = "R") -> np.ndarray:
    """A matrix that has no missing entries by definition (a reconstruction) as float64.

    Masked entries of a masked array and missing values of a DataFrame become
    NaN (so that a check for finite values names them); a sparse matrix is a
    matrix with zeros where nothing is stored.
    """
    if is_sparse(R):
        if R.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix, got a sparse array of shape {R.shape}.")
        return as_matrix(R.toarray(), name)
    if isinstance(R, np.ma.MaskedArray):
        values = as_matrix(np.ma.getdata(R), name)
        masked = np.ma.getmaskarray(R)
        return np.where(masked, np.nan, values) if masked.any() else values
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(R, pd.DataFrame):
        return as_matrix(_frame_values(pd, R, name)[0], name)
    return as_matrix(R, name)


def _frame_values(pd, df, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A DataFrame's values (float64, NaN where missing) and where it is missing."""
    bad = [col for col, dtype in df.dtypes.items()
           if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))]
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ValueError(
            f"{name} has {len(bad)} non-numeric column(s) ({shown}); encode or drop them. Missing values may "
            "stay as they are in numeric columns (NaN, or pd.NA in nullable dtypes such as 'Float64' and "
            "'Int64'); a column of numbers stored as objects converts with df.astype('Float64')."
        )
    if any(pd.api.types.is_complex_dtype(dtype) for dtype in df.dtypes):
        raise ValueError(f"{name} must be real, got a complex column.")
    missing = df.isna().to_numpy(dtype=bool)
    # Row-major, as np.asarray of the same table would be (A1GM's factor split follows memory order).
    return np.ascontiguousarray(df.to_numpy(dtype=np.float64, na_value=np.nan)), np.ascontiguousarray(missing)


def as_matrix(X, name: str = "X") -> np.ndarray:
    """Return ``X`` as a 2-D float64 array without copying when possible.

    Raises ``ValueError`` for non-numeric, non-2-D or empty input. The caller's
    array is never written to; a copy is made only for a dtype conversion.
    """
    if type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2 and X.size:  # the common case, cheaply
        return X
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array ({exc}); pass a 2-D numeric array.") from exc
    if arr.dtype.kind in "mM":  # NumPy counts timedelta64 as a number; a duration or a date is not a value here
        raise ValueError(
            f"{name} has dtype {arr.dtype} (durations or dates), which is not a numeric value to factorize; "
            f"convert it to numbers in the unit you mean, e.g. {name} / np.timedelta64(1, 's'), and mark "
            "missing entries (NaT) with NaN."
        )
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(
            f"{name} must be numeric, got dtype {arr.dtype}. Encode or drop non-numeric columns and put NaN "
            f"at missing entries (or pass a numpy.ma masked array, or a pandas DataFrame with missing values), "
            f"then convert with np.asarray({name}, dtype=float)."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got complex dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got an array with {arr.ndim} dimension(s) and shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one row and one column.")
    return to_float64(arr, name)


def to_float64(arr: np.ndarray, name: str = "X") -> np.ndarray:
    """``arr`` (real numbers of any dtype) as float64, refusing values that float64 cannot hold.

    A value of a wider float type (``np.longdouble``) beyond float64's range
    (about 1.8e308) would become inf, and a nonzero one below its smallest
    positive value (about 4.9e-324) would become 0: both raise a
    ``ValueError`` naming the first such entry, without a warning first.
    Values that merely lose precision (float64 keeps about 16 digits) are
    converted as NumPy rounds them.
    """
    if arr.dtype == np.float64:
        return np.asarray(arr)
    if arr.dtype.kind != "f" or arr.dtype.itemsize <= 8:
        return np.asarray(arr, dtype=np.float64)  # integers, booleans and narrower floats all fit
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        out = np.asarray(arr, dtype=np.float64)
        overflow = np.isinf(out) & np.isfinite(arr)
        underflow = (out == 0) & (arr != 0)
    for bad, what, hint in ((overflow, "above float64's largest value (about 1.8e308)", "divide"),
                            (underflow, "below float64's smallest positive value (about 4.9e-324) and would "
                                        "become 0", "multiply")):
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} has {int(np.count_nonzero(bad))} value(s) of dtype {arr.dtype} {what} (first: "
                f"{name}[{', '.join(map(str, first))}] = {arr[first]!r}); nmfexp computes in float64. "
                f"Rescale {name} first ({hint} it by a power of ten in {arr.dtype}) so that every value fits."
            )
    return out


def as_mask(mask, X: np.ndarray) -> np.ndarray | None:
    """Normalise ``mask`` to a boolean array (True = observed) or ``None``.

    ``None`` is returned when nothing is missing, which lets solvers take their
    fully observed fast path. With ``mask=None`` the missing entries are the
    NaNs of ``X``.
    """
    return mask_and_missing(mask, X)[0]


def mask_and_missing(mask, X: np.ndarray) -> tuple[np.ndarray | None, int]:
    """:func:`as_mask` and the number of missing entries, in one pass over the mask."""
    if mask is None:
        with np.errstate(over="ignore"):  # a sum that overflows only sends us to the exact check below
            total = X.sum()
        if np.isfinite(total):  # no NaN and no inf anywhere: fully observed
            return None, 0
    observed = _observed_array(mask, X)
    n_obs = np.count_nonzero(observed)
    if n_obs == 0:
        raise ValueError("every entry of X is missing; there is nothing to factorize.")
    if n_obs == observed.size:
        return None, 0
    return observed, int(observed.size - n_obs)


def _observed_array(mask, X: np.ndarray) -> np.ndarray:
    """``mask`` validated against ``X`` as a boolean array (True = observed); None means ``~isnan(X)``.

    A boolean mask is returned as it is (not copied); callers only read it.
    """
    if mask is None:
        return ~np.isnan(X)
    if isinstance(mask, str):
        raise ValueError(
            f"mask={mask!r} says what the implicit entries of a scipy.sparse X mean, but X is dense; "
            "pass a boolean mask (True = observed), or None to mark missing entries with NaN."
        )
    if is_sparse(mask):
        raise ValueError("mask must be a dense boolean or 0/1 array, got a scipy.sparse matrix; "
                         "pass mask.toarray() (True = observed).")
    try:
        m = np.asarray(mask)
    except Exception as exc:
        raise ValueError(f"mask could not be read as an array ({exc}).") from exc
    if m.shape != X.shape:
        raise ValueError(
            f"mask has shape {m.shape} but X has shape {X.shape}; they must match "
            "(mask[i, j] is True where X[i, j] is observed)."
        )
    if m.dtype == np.bool_:
        return m
    if np.issubdtype(m.dtype, np.number) and m.dtype.kind not in "mMc":
        ones = m == 1
        if not np.all(ones | (m == 0)):
            bad = np.argwhere(~(ones | (m == 0)))[0]
            raise ValueError(
                f"mask must be binary (1/True = observed, 0/False = missing); "
                f"found {m[tuple(bad)]!r} at {tuple(int(i) for i in bad)}."
            )
        return ones
    raise ValueError(f"mask must be a boolean or 0/1 array, got dtype {m.dtype}.")


def raise_bad_observed(X: np.ndarray, observed: np.ndarray | None) -> None:
    """Raise a ``ValueError`` naming the first non-finite or negative observed entry.

    Called only once a cheap check has already failed, so it may be slow.
    """
    obs = np.ones(X.shape, dtype=bool) if observed is None else observed
    bad_finite = obs & ~np.isfinite(X)
    if bad_finite.any():
        i, j = (int(k) for k in np.argwhere(bad_finite)[0])
        count = int(np.count_nonzero(bad_finite))
        raise ValueError(
            f"X has {count} non-finite observed value(s) (first: X[{i}, {j}] = {X[i, j]}). "
            "Mark missing entries as NaN with mask=None, or set mask[i, j] = False for them."
        )
    bad_neg = obs & (X < 0)
    if bad_neg.any():
        i, j = (int(k) for k in np.argwhere(bad_neg)[0])
        count = int(np.count_nonzero(bad_neg))
        raise ValueError(
            f"X has {count} negative observed value(s) (first: X[{i}, {j}] = {X[i, j]}); "
            "non-negative matrix factorization needs X >= 0 (take np.abs or shift the data)."
        )
    raise SumsOverflow("X has observed values whose sums overflow float64; rescale X.")


@dataclass(frozen=True)
class MaskedData:
    """Validated data in the form iterative solvers want.

    Attributes
    ----------
    WX : ndarray of shape (n, m)
        A fresh float64 copy of ``X / 2**scale`` with zeros at missing entries.
    observed : ndarray of bool of shape (n, m) or None
        True where observed; None when nothing is missing.
    n_missing : int
    largest : float
        The largest value of ``WX`` (0.0 when every observed value is 0).
    scale : int
        ``WX`` holds the data divided by ``2**scale``; 0 as
        :func:`masked_data` returns it (solvers rescale in
        :func:`nmfexp.solvers._init.start`).
    """

    WX: np.ndarray
    observed: np.ndarray | None
    n_missing: int
    largest: float = 0.0
    scale: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.WX.shape

    def mean(self) -> float:
        """The mean of the observed values (missing entries are zeros of ``WX``), without overflow."""
        return observed_mean(self.WX, self.WX.size - self.n_missing, self.largest)

    def rescaled(self, k: int) -> MaskedData:
        """The data divided by ``2**k``, in place (``WX`` is a private copy)."""
        if not k:
            return self
        np.ldexp(self.WX, -k, out=self.WX)
        return replace(self, largest=math.ldexp(self.largest, -k), scale=self.scale + k)


def observed_mean(values: np.ndarray, count: int, largest: float) -> float:
    """``values.sum() / count`` for non-negative ``values`` whose largest is ``largest``, also when the
    sum overflows (data near 1e308: the mean of ``values / 2**e``, times ``2**e``)."""
    with np.errstate(over="ignore"):
        total = float(values.sum())
    if math.isfinite(total):
        return total / count
    e = math.frexp(largest)[1]
    return math.ldexp(float(np.ldexp(values, -e).sum()) / count, e)


def masked_data(X, mask=None) -> MaskedData:
    """Validate ``X`` and ``mask`` and return a zero-filled private copy.

    ``X`` and ``mask`` mean what :func:`read_data` says.
    """
    fresh = is_sparse(X)  # densified here: already a private array
    X, mask = read_data(X, mask)
    observed, n_missing = mask_and_missing(mask, X)
    if observed is not None:
        WX = np.where(observed, X, 0.0)
    else:
        WX = X if fresh else X.copy()
    # One pass: the minimum is NaN if any NaN survives and +inf shows in the max.
    lo, hi = WX.min(), WX.max()
    if not (lo >= 0 and np.isfinite(hi)):
        raise_bad_observed(X, observed)
    return MaskedData(WX=WX, observed=observed, n_missing=n_missing, largest=float(hi))


# Values below this in magnitude (2**480 ~ 3e144) can be squared and summed
# (up to 2**60 of them) without overflow, and values above its inverse without
# underflow; closed forms and metrics rescale only outside that range.
_SAFE_EXPONENT = 480


def wide_range_exponent(max_value: float, *, even: bool = False) -> int:
    """0 when sums of squares of values up to ``max_value`` are safe in float64, else a rescaling exponent.

    Returns ``k`` with ``max_value / 2**k`` in [0.5, 1) (in [0.5, 2) and ``k``
    even when ``even``, so that square roots rescale exactly too) when
    ``max_value`` is at least ``2**480`` or below ``2**-480``, and 0 otherwise
    (and for 0): results inside the safe range are computed on the values as
    they are, bit for bit as without this check.
    """
    if not (max_value > 0 and np.isfinite(max_value)):
        return 0
    e = int(np.frexp(max_value)[1])
    if -_SAFE_EXPONENT < e <= _SAFE_EXPONENT:
        return 0
    return e - (e % 2) if even else e


def check_number(value, name: str, *, kind: str = "real", low=None, high=None, closed: str = "both",
                 allow_none: bool = False, hint: str = ""):
    """Check that ``value`` is a number in an interval; return it as ``int`` or ``float``.

    A declarative check in the spirit of scikit-learn's parameter constraints
    (``Interval(Real, low, high, closed=...)``): the caller states what the
    number must be and the error message is written from that statement.

    Parameters
    ----------
    value : object
        What the user passed.
    name : str
        The parameter's name, used in the message.
    kind : {"real", "integer"}
        ``"integer"`` accepts Python and NumPy integers; ``"real"`` any real
        number (integers included). Booleans are never numbers, NaN never
        passes.
    low, high : number, optional
        Interval bounds; ``None`` means unbounded on that side. Infinity is
        accepted only when it is a given, closed bound (``high=math.inf``), so
        an unbounded side means "finite".
    closed : {"both", "left", "right", "neither"}
        Which of the given bounds belong to the interval.
    allow_none : bool
        Accept ``None`` (returned unchanged).
    hint : str
        A sentence appended to the message, e.g. what the number means.

    Raises
    ------
    ValueError
        Naming the parameter and saying what it must be, e.g.
        ``max_iter must be an integer >= 1, got 0.``
    """
    if value is None and allow_none:
        return None
    if type(value) is int and closed == "both" and kind in ("integer", "real") and (low is None or low <= value) \
            and (high is None or value <= high):  # the common case, without the checks below
        return value if kind == "integer" else float(value)
    if kind not in ("integer", "real"):
        raise ValueError(f"kind must be 'integer' or 'real', got {kind!r}.")
    if closed not in ("both", "left", "right", "neither"):
        raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got {closed!r}.")
    number_type = numbers.Integral if kind == "integer" else numbers.Real
    ok = isinstance(value, number_type) and not isinstance(value, (bool, np.bool_)) and value == value  # NaN != NaN
    if ok:
        left_closed = low is not None and closed in ("both", "left")
        right_closed = high is not None and closed in ("both", "right")
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        ok = (lo <= value if left_closed else lo < value) and (value <= hi if right_closed else value < hi)
    if not ok:
        raise ValueError(f"{name} must be {_describe(kind, low, high, closed, allow_none)}, got {value!r}."
                         + (f" {hint}" if hint else ""))
    return int(value) if kind == "integer" else float(value)


def check_random_state(random_state) -> None:
    """Refuse a ``random_state`` that is not ``None``, an integer ``>= 0`` or a ``numpy.random.Generator``.

    The same check, with the same message, as the iterative solvers' seeding
    (:func:`nmfexp.solvers._init.rng_from`), for solvers that take a
    ``random_state`` for the common calling convention without drawing from it.
    """
    if random_state is None or type(random_state) is int and random_state >= 0:
        return
    if not isinstance(random_state, np.random.Generator):
        check_number(random_state, "random_state", kind="integer", low=0, allow_none=True,
                     hint="A numpy Generator is accepted too.")


def _describe(kind: str, low, high, closed: str, allow_none: bool) -> str:
    """``"an integer >= 1"``, ``"None or a finite number > 0"``, ``"a number in [0, 1)"``, ..."""
    left = closed in ("both", "left")
    right = closed in ("both", "right")
    if low is not None and high is not None:
        what = f"{'an integer' if kind == 'integer' else 'a number'} in {'[' if left else '('}{low}, {high}{']' if right else ')'}"
    else:
        what = "an integer" if kind == "integer" else "a finite number"
        if low is not None:
            what += f" {'>=' if left else '>'} {low}"
        if high is not None:
            what += f" {'<=' if right else '<'} {high}"
    return f"None or {what}" if allow_none else what


def check_rank(rank, shape: tuple[int, int]) -> int:
    """A positive integer (else ``ValueError``) no larger than ``min(shape)`` (else :class:`SolverRefused`)."""
    if type(rank) is int and 1 <= rank <= shape[0] and rank <= shape[1]:  # the common case, cheaply
        return rank
    rank = check_number(rank, "rank", kind="integer", low=1)
    if rank > min(shape):
        raise SolverRefused(
            f"rank {rank} is larger than min(n, m) = {min(shape)} for X of shape {shape}; "
            f"choose a rank between 1 and {min(shape)}."
        )
    return rank


def check_max_iter(max_iter) -> int:
    return check_number(max_iter, "max_iter", kind="integer", low=1)


def check_tol(tol) -> float:
    return check_number(tol, "tol", low=0)


def check_max_time(max_time) -> float | None:
    """``None`` (no budget) or a positive finite number of seconds."""
    return check_number(max_time, "max_time", low=0, closed="neither", allow_none=True,
                        hint="It is a budget in seconds of update time; None means no limit.")


def check_init_factors(init, shape: tuple[int, int], rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate user-given initial factors and return private float64 copies.

    ``init`` must be a tuple or list ``(A0, B0)`` of real, finite,
    non-negative arrays of shapes ``(n, rank)`` and ``(rank, m)``; every
    message names ``init``.
    """
    pair = "a pair (A0, B0) of non-negative arrays of shapes (n, rank) and (rank, m)"
    if not isinstance(init, (tuple, list)) or len(init) != 2:
        what = f"a {type(init).__name__} of length {len(init)}" if isinstance(init, (tuple, list)) \
            else f"a {type(init).__name__}"
        raise ValueError(f"init must be None, the name of an initialisation ('random', 'nndsvda', 'a1gm') or "
                         f"{pair}; got {what}.")
    n, m = shape
    out = []
    for name, F, want in (("A0", init[0], (n, rank)), ("B0", init[1], (rank, m))):
        label = f"init's {name}"
        if isinstance(F, np.ma.MaskedArray) and np.ma.getmaskarray(F).any():
            raise ValueError(f"{label} has masked entries; initial factors must be complete.")
        if is_sparse(F):
            F = F.toarray()
        if isinstance(F, (str, bytes)):
            raise ValueError(f"{label} must be a numeric array of shape {want}, got the string {F!r}.")
        F = np.array(as_matrix(F, label), dtype=np.float64, copy=True)
        if F.shape != want:
            raise ValueError(f"initial factor {name} (init's {name}) has shape {F.shape}, expected {want} for X "
                             f"of shape {shape} and rank {rank}.")
        if not np.all(np.isfinite(F)):
            raise ValueError(f"initial factor {name} (init's {name}) has non-finite values.")
        if np.any(F < 0):
            raise ValueError(f"initial factor {name} (init's {name}) has negative values; NMF factors must be "
                             "non-negative.")
        out.append(F)
    return out[0], out[1]
