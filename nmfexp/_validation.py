"""Input checks shared by every solver.

Every public entry point funnels its arguments through these helpers so that
a bad input produces one clear ``ValueError`` saying what is wrong and what to
do, instead of a traceback from deep inside NumPy or a silent NaN.

Conventions (the paper's): ``mask[i, j]`` is True (or 1) where ``X[i, j]`` is
observed and False (0) where it is missing. A mask of ``None`` means "missing
where X is NaN".
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SolverRefused",
    "MaskedData",
    "check_number",
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


def as_matrix(X, name: str = "X") -> np.ndarray:
    """Return ``X`` as a 2-D float64 array without copying when possible.

    Raises ``ValueError`` for non-numeric, non-2-D or empty input. The caller's
    array is never written to; a copy is made only for a dtype conversion.
    """
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array ({exc}); pass a 2-D numeric array.") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(
            f"{name} must be numeric, got dtype {arr.dtype}; convert it with "
            f"np.asarray({name}, dtype=float) after encoding or dropping non-numeric columns."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got complex dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got an array with {arr.ndim} dimension(s) and shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one row and one column.")
    return np.asarray(arr, dtype=np.float64)


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
        total = X.sum()
        if np.isfinite(total):  # no NaN and no inf anywhere: fully observed
            return None, 0
        observed = ~np.isnan(X)
    else:
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
            observed = m
        elif np.issubdtype(m.dtype, np.number) and not np.issubdtype(m.dtype, np.complexfloating):
            ones = m == 1
            if not np.all(ones | (m == 0)):
                bad = np.argwhere(~(ones | (m == 0)))[0]
                raise ValueError(
                    f"mask must be binary (1/True = observed, 0/False = missing); "
                    f"found {m[tuple(bad)]!r} at {tuple(int(i) for i in bad)}."
                )
            observed = ones
        else:
            raise ValueError(f"mask must be a boolean or 0/1 array, got dtype {m.dtype}.")
    n_obs = np.count_nonzero(observed)
    if n_obs == 0:
        raise ValueError("every entry of X is missing; there is nothing to factorize.")
    if n_obs == observed.size:
        return None, 0
    return observed, int(observed.size - n_obs)


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
    raise ValueError("X has observed values whose sums overflow float64; rescale X.")


@dataclass(frozen=True)
class MaskedData:
    """Validated data in the form iterative solvers want.

    Attributes
    ----------
    WX : ndarray of shape (n, m)
        A fresh float64 copy of X with zeros at missing entries.
    observed : ndarray of bool of shape (n, m) or None
        True where observed; None when nothing is missing.
    n_missing : int
    """

    WX: np.ndarray
    observed: np.ndarray | None
    n_missing: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.WX.shape


def masked_data(X, mask=None) -> MaskedData:
    """Validate ``X`` and ``mask`` and return a zero-filled private copy."""
    X = as_matrix(X)
    observed, n_missing = mask_and_missing(mask, X)
    WX = X.copy() if observed is None else np.where(observed, X, 0.0)
    # One pass: the minimum is NaN if any NaN survives and +inf shows in the max.
    lo, hi = WX.min(), WX.max()
    if not (lo >= 0 and np.isfinite(hi)):
        raise_bad_observed(X, observed)
    return MaskedData(WX=WX, observed=observed, n_missing=n_missing)


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
    """Validate user-given initial factors and return private float64 copies."""
    try:
        A0, B0 = init
    except (TypeError, ValueError) as exc:
        raise ValueError("init must be a pair (A0, B0) of arrays, or the name of an initialisation.") from exc
    n, m = shape
    out = []
    for name, F, want in (("A0", A0, (n, rank)), ("B0", B0, (rank, m))):
        F = np.array(F, dtype=np.float64, copy=True)
        if F.shape != want:
            raise ValueError(f"initial factor {name} has shape {F.shape}, expected {want} for X of shape {shape} and rank {rank}.")
        if not np.all(np.isfinite(F)):
            raise ValueError(f"initial factor {name} has non-finite values.")
        if np.any(F < 0):
            raise ValueError(f"initial factor {name} has negative values; NMF factors must be non-negative.")
        out.append(F)
    return out[0], out[1]
