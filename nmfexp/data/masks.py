"""Missing-value patterns for experiments (True = observed, the paper's convention).

Exact counts, for an ``n x m`` matrix and a missing ``rate`` in [0, 1):

- ``grid``: ``floor(n * sqrt(rate))`` rows and ``floor(m * sqrt(rate))``
  columns are drawn at random without replacement; every cell in their cross
  product is missing (the paper's "grid-like" pattern, which A1GM solves
  exactly). About ``rate * n * m`` cells; a rate too small to give one row is
  allowed and hides nothing.
- ``corner``: the same counts as ``grid`` taken as the bottom-right block.
- ``random``: ``round(rate * n * m)`` cells drawn uniformly without replacement.
- ``rows``: gaps concentrated in a few rows and columns. ``ceil(share * n)``
  rows and ``ceil(share * m)`` columns are drawn at random without
  replacement (``share`` defaults to :data:`ROWS_SHARE`), then
  ``round(rate * n * m)`` cells drawn uniformly without replacement from
  their cross product; every gap lies in those rows and columns. The block
  must hold the gaps (``rate`` at most about ``share ** 2``); otherwise a
  ``ValueError`` says so. Unlike ``grid``, the block is not all missing, so
  A1GM's step 1 adds the block's observed cells in rows and columns with gaps.
- ``mnar``: missing not at random. The ``round(rate * n * m)`` observed
  entries with the largest values are missing: those above the
  ``(1 - rate)`` quantile of the data (ties at the threshold broken at
  random by ``rng``). Needs the values (``data``); the data set's own
  missing cells are never chosen.
- ``none``: nothing missing; returns ``None``.
- ``given``: the data set's own missing values (``own_mask``); ``rate`` is ignored.

A1GM's step 1 is a fact about a mask too: :func:`grid_completion` says
which rows and columns have gaps and how many entries completing the
missing set to their grid adds (the A1GM solver reports the same counts).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_number

__all__ = ["HOLDOUT_DESIGNS", "MASK_KINDS", "RATE_KINDS", "ROWS_SHARE", "make_mask", "rows_counts", "grid_counts", "experiment_mask", "holdout_candidates",
           "holdout_split", "grid_completion", "grid_completion_counts"]

MASK_KINDS = ("grid", "random", "corner", "rows", "mnar", "none", "given")
#: Kinds that hide ``rate`` of the entries (the others ignore ``rate``).
RATE_KINDS = ("grid", "random", "corner", "rows", "mnar")
#: Default share of the rows and of the columns that hold every gap of a ``rows`` mask.
ROWS_SHARE = 0.2

# floor(n * sqrt(rate)) must not lose a whole row to rounding when n * sqrt(rate)
# is an integer in exact arithmetic (n = 100, rate = 0.01 gives 10 rows, not 9).
_EPS = 1e-9


def grid_counts(shape: tuple[int, int], rate: float) -> tuple[int, int]:
    """Rows and columns hidden by the ``grid`` and ``corner`` masks.

    Returns ``(floor(n * sqrt(rate)), floor(m * sqrt(rate)))``.
    """
    n, m = shape
    root = math.sqrt(rate)
    return min(n, math.floor(n * root + _EPS)), min(m, math.floor(m * root + _EPS))


def rows_counts(shape: tuple[int, int], share: float) -> tuple[int, int]:
    """Rows and columns that hold the gaps of a ``rows`` mask: ``(ceil(n * share), ceil(m * share))``."""
    n, m = shape
    return (min(n, max(1, math.ceil(n * share - _EPS))), min(m, max(1, math.ceil(m * share - _EPS))))


def make_mask(kind: str, shape, rate: float, rng: np.random.Generator, own_mask=None, *,
              data: np.ndarray | None = None, share: float = ROWS_SHARE) -> np.ndarray | None:
    """Make an experiment's mask of observed entries.

    Parameters
    ----------
    kind : {"grid", "random", "corner", "rows", "mnar", "none", "given"}
        The pattern; see the module docstring for exact counts.
    shape : tuple of int (n, m)
    rate : float
        Fraction of all entries to hide, in [0, 1). Ignored by ``"none"`` and ``"given"``.
    rng : numpy.random.Generator
        Source of randomness (``grid``, ``random``, ``rows``; ties of ``mnar``).
    own_mask : ndarray of bool of shape (n, m), optional
        The data set's own observed entries (``~isnan(X)``); required by ``"given"``.
    data : ndarray of shape (n, m), optional
        The data's values (NaN where the source has none); required by ``"mnar"``.
    share : float, default ROWS_SHARE
        ``rows`` only: the share of rows and of columns, in (0, 1], that hold every gap.

    Returns
    -------
    ndarray of bool of shape (n, m) or None
        True where observed; ``None`` for ``"none"``.
    """
    n, m = (int(s) for s in shape)
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; choose one of {', '.join(MASK_KINDS)}.")
    if kind == "none":
        return None
    if kind == "given":
        if own_mask is None:
            raise ValueError("mask kind 'given' uses the data set's own missing values, but no own_mask was passed.")
        own = np.asarray(own_mask, dtype=bool)
        if own.shape != (n, m):
            raise ValueError(f"own_mask has shape {own.shape}, expected {(n, m)}.")
        return own.copy()
    check_number(rate, "mask rate", low=0, high=1, closed="left", hint="It is the fraction of entries to hide.")

    observed = np.ones((n, m), dtype=bool)
    if kind == "rows":
        return _rows_mask((n, m), rate, rng, share)
    if kind == "mnar":
        return _mnar_mask((n, m), rate, rng, data)
    if kind == "random":
        k = round(rate * n * m)
        cells = rng.choice(n * m, size=k, replace=False)
        observed.ravel()[cells] = False
        return observed
    n_rows, n_cols = grid_counts((n, m), rate)
    if kind == "grid":
        rows = rng.choice(n, size=n_rows, replace=False)
        cols = rng.choice(m, size=n_cols, replace=False)
        observed[np.ix_(rows, cols)] = False
    else:  # corner
        observed[n - n_rows:, m - n_cols:] = False  # an empty block when a count is 0
    return observed


def _rows_mask(shape: tuple[int, int], rate: float, rng: np.random.Generator, share: float) -> np.ndarray:
    n, m = shape
    share = check_number(share, "mask share", low=0, high=1, closed="right",
                         hint="It is the share of rows and of columns that hold every gap of a 'rows' mask.")
    n_rows, n_cols = rows_counts((n, m), share)
    k = round(rate * n * m)
    if k > n_rows * n_cols:
        raise ValueError(f"a 'rows' mask of rate {rate:g} hides {k} entries, but share {share:g} gives {n_rows} rows "
                         f"x {n_cols} columns = {n_rows * n_cols} cells to hold them; raise the share to at least "
                         f"about sqrt(rate) = {math.sqrt(rate):.3g} or lower the rate.")
    rows = rng.choice(n, size=n_rows, replace=False)
    cols = rng.choice(m, size=n_cols, replace=False)
    cells = rng.choice(n_rows * n_cols, size=k, replace=False)
    observed = np.ones((n, m), dtype=bool)
    observed[rows[cells // n_cols], cols[cells % n_cols]] = False
    return observed


def _mnar_mask(shape: tuple[int, int], rate: float, rng: np.random.Generator, data) -> np.ndarray:
    n, m = shape
    if data is None:
        raise ValueError("mask kind 'mnar' hides the largest values, so it needs the data: pass data=X "
                         "(experiment_mask does).")
    values = np.asarray(data, dtype=float)
    if values.shape != (n, m):
        raise ValueError(f"data has shape {values.shape}, expected {(n, m)}.")
    k = round(rate * n * m)
    flat = values.ravel()
    available = int(np.count_nonzero(~np.isnan(flat)))
    if k > available:
        raise ValueError(f"a 'mnar' mask of rate {rate:g} hides {k} entries, but the data have only {available} "
                         "observed values; lower the rate.")
    # A random order first, then a stable sort by value: the k largest values, ties broken at random.
    order = rng.permutation(flat.size)
    keyed = np.where(np.isnan(flat[order]), -np.inf, flat[order])
    top = order[np.argsort(-keyed, kind="stable")[:k]]
    observed = np.ones((n, m), dtype=bool)
    observed.ravel()[top] = False
    return observed


def experiment_mask(own_mask: np.ndarray, kind: str, rate: float, rng: np.random.Generator, *,
                    data: np.ndarray | None = None, share: float = ROWS_SHARE) -> np.ndarray:
    """The entries an experiment observes: the data set's own observed cells and the mask's.

    Cells the source never observed stay missing whatever the mask says.
    ``data`` (the values, for ``mnar``) and ``share`` (for ``rows``) are
    passed to :func:`make_mask`. Returns a new boolean array (True = observed).
    """
    mask = make_mask(kind, own_mask.shape, rate, rng, own_mask=own_mask, data=data, share=share)
    return own_mask.copy() if mask is None else (mask & own_mask)


#: Where held-out entries may be drawn (``holdout_design``): ``uniform`` from every observed entry;
#: ``within_gaps`` only from observed entries whose row and column already have a gap.
HOLDOUT_DESIGNS = ("uniform", "within_gaps")


def holdout_candidates(observed: np.ndarray, design: str = "uniform") -> np.ndarray:
    """Flat indices (sorted) of the entries a held-out set may be drawn from.

    ``uniform``: every observed entry. ``within_gaps``: the observed entries
    whose row *and* column already have a missing entry. Hiding those leaves
    the rows and columns with gaps unchanged, so A1GM's step 1 (the grid of
    rows with gaps x columns with gaps) grows by nothing, and A1GM still runs
    wherever it ran without a held-out set; those entries are exactly the
    ones A1GM's completion ignores, so it fits the same factors with and
    without them. A table whose gaps are already grid-like has no such entry.
    """
    if design not in HOLDOUT_DESIGNS:
        raise ValueError(f"holdout_design must be one of {', '.join(HOLDOUT_DESIGNS)}, got {design!r}.")
    if design == "uniform":
        return np.flatnonzero(observed)
    rows = ~observed.all(axis=1)
    cols = ~observed.all(axis=0)
    return np.flatnonzero(observed & rows[:, None] & cols[None, :])


def holdout_split(observed: np.ndarray, fraction: float, rng: np.random.Generator,
                  design: str = "uniform") -> tuple[np.ndarray, np.ndarray]:
    """Hide ``round(fraction * n_candidates)`` entries, drawn without replacement.

    The candidates are :func:`holdout_candidates` of ``design``: every
    observed entry (``uniform``, the default), or the observed entries in
    rows and columns that already have gaps (``within_gaps``). Returns
    ``(train, heldout)``: the observed entries minus the held-out ones (a new
    boolean array) and the sorted flat indices of the held-out entries.
    """
    fraction = check_number(fraction, "holdout", kind="real", low=0, high=1, closed="left",
                            hint="It is the fraction of the observed entries hidden from the solver.")
    candidates = holdout_candidates(observed, design)
    k = round(fraction * candidates.size)
    heldout = np.sort(rng.choice(candidates, size=k, replace=False))
    train = observed.copy()
    train.ravel()[heldout] = False
    return train, heldout


def grid_completion(observed: np.ndarray | None, shape: tuple[int, int], n_missing: int | None = None) -> dict:
    """A1GM's step 1 as facts: which rows/columns have gaps and what completing them to a grid adds.

    Every entry whose row and column both have a gap is treated as missing
    (Ghalamkari & Sugiyama 2022, A1GM step 1), which makes the missing set
    the product of a row set and a column set.

    Parameters
    ----------
    observed : ndarray of bool of shape (n, m) or None
        True where observed; None when nothing is missing.
    shape : tuple of int
        ``(n, m)``.
    n_missing : int, optional
        The number of missing entries, when the caller knows it.

    Returns
    -------
    dict
        ``row_complete`` (n,), ``col_complete`` (m,) and the counts of
        :func:`grid_completion_counts`.
    """
    n, m = shape
    if observed is None:
        row_complete, col_complete, n_missing = np.ones(n, bool), np.ones(m, bool), 0
    else:
        row_complete = observed.all(axis=1)
        col_complete = observed.all(axis=0)
        if n_missing is None:
            n_missing = int(observed.size - np.count_nonzero(observed))
    return {"row_complete": row_complete, "col_complete": col_complete,
            **grid_completion_counts(row_complete, col_complete, n_missing)}


def grid_completion_counts(row_complete: np.ndarray, col_complete: np.ndarray, n_missing: int) -> dict:
    """The counts of :func:`grid_completion` from the complete rows and columns.

    Returns
    -------
    dict
        ``n_missing``, ``n_missing_added`` (entries step 1 treats as missing in
        addition: rows with gaps x columns with gaps - missing),
        ``n_rows_with_missing`` and ``n_cols_with_missing``.
    """
    nr = int(row_complete.size - np.count_nonzero(row_complete))
    nc = int(col_complete.size - np.count_nonzero(col_complete))
    return {
        "n_missing": n_missing,
        "n_missing_added": nr * nc - n_missing,
        "n_rows_with_missing": nr,
        "n_cols_with_missing": nc,
    }
