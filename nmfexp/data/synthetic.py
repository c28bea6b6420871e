"""Synthetic data sets with known properties.

- :func:`uniform`: the paper's synthetic matrices (Fig. 5), entries uniform in [0, 1).
- :func:`lowrank`: a non-negative low-rank matrix plus noise, with the
  noiseless matrix kept as ground truth, for solver comparisons.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_number
from . import Dataset

__all__ = ["uniform", "lowrank"]


def _check_size(value, name: str) -> int:
    return check_number(value, name, kind="integer", low=1)


def uniform(n_rows: int, n_cols: int | None = None, *, rng: np.random.Generator) -> Dataset:
    """Entries uniform in [0, 1), as in the paper's synthetic experiment.

    Parameters
    ----------
    n_rows : int
    n_cols : int, optional
        Defaults to ``n_rows`` (square).
    rng : numpy.random.Generator

    Returns
    -------
    Dataset
        ``X`` of shape (n_rows, n_cols), no missing values, no ground truth.
    """
    n = _check_size(n_rows, "n_rows")
    m = n if n_cols is None else _check_size(n_cols, "n_cols")
    return Dataset(name="uniform", X=rng.random((n, m)), meta={"generator": "uniform [0, 1)"})


def lowrank(n_rows: int, n_cols: int | None = None, *, true_rank: int, noise: float = 0.0,
            rng: np.random.Generator) -> Dataset:
    """A rank-``true_rank`` non-negative matrix plus clipped Gaussian noise.

    ``truth = W @ H`` with ``W`` (n_rows x true_rank) and ``H`` (true_rank x n_cols)
    uniform in [0, 1); ``X = max(truth + noise * mean(truth) * N(0, 1), 0)``.

    Parameters
    ----------
    n_rows : int
    n_cols : int, optional
        Defaults to ``n_rows``.
    true_rank : int
        Rank of the noiseless matrix, at most ``min(n_rows, n_cols)``.
    noise : float
        Noise standard deviation relative to the mean of ``truth`` (0 = noiseless).
    rng : numpy.random.Generator

    Returns
    -------
    Dataset
        ``X`` and the ground truth ``truth``, both of shape (n_rows, n_cols).
    """
    n = _check_size(n_rows, "n_rows")
    m = n if n_cols is None else _check_size(n_cols, "n_cols")
    r = _check_size(true_rank, "true_rank")
    if r > min(n, m):
        raise ValueError(f"true_rank must be at most min(n_rows, n_cols) = {min(n, m)}, got {r}.")
    noise = check_number(noise, "noise", low=0)
    W = rng.random((n, r))
    H = rng.random((r, m))
    truth = W @ H
    X = truth + float(noise) * truth.mean() * rng.standard_normal((n, m))
    np.maximum(X, 0.0, out=X)
    meta = {"generator": "W @ H + noise * mean * N(0,1), clipped at 0", "true_rank": r, "noise": float(noise)}
    return Dataset(name="lowrank", X=X, truth=truth, meta=meta)
