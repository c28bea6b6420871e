"""Shared fixtures: masks of the paper's three patterns and small random data."""

from __future__ import annotations

import numpy as np
import pytest


def make_observed(kind: str, n: int, m: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """True = observed. 'grid': random rows x random columns; 'corner': bottom-right
    block; 'random': uniformly scattered cells."""
    observed = np.ones((n, m), dtype=bool)
    k, c = max(1, int(n * np.sqrt(rate))), max(1, int(m * np.sqrt(rate)))
    if kind == "grid":
        observed[np.ix_(rng.choice(n, k, replace=False), rng.choice(m, c, replace=False))] = False
    elif kind == "corner":
        observed[n - k:, m - c:] = False
    elif kind == "random":
        observed.flat[rng.choice(n * m, max(1, int(rate * n * m)), replace=False)] = False
    else:
        raise AssertionError(kind)
    return observed


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
