"""Bad input gets a clear ValueError; metrics agree with plain loops."""

from __future__ import annotations

import numpy as np
import pytest

import nmfexp
from nmfexp import metrics

X0 = np.random.default_rng(0).random((8, 6))


def _call(**kw):
    args = {"X": X0, "solver": "wnmf_kl", "rank": 2}
    args.update(kw)
    return nmfexp.factorize(args.pop("X"), **args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X": np.ones(5)}, "2-D"),
        ({"X": np.ones((2, 2, 2))}, "2-D"),
        ({"X": np.ones((0, 4))}, "empty"),
        ({"X": [[1, 2], [3]]}, "could not be read|numeric"),
        ({"X": np.array([["a", "b"], ["c", "d"]])}, "numeric"),
        ({"X": np.array([[1 + 1j, 2], [3, 4]])}, "real"),
        ({"X": np.where(np.eye(8, 6) > 0, np.inf, X0)}, "non-finite"),
        ({"X": -X0}, "negative"),
        ({"mask": np.ones((6, 8), bool)}, "shape"),
        ({"mask": np.full((8, 6), 2)}, "binary"),
        ({"mask": np.full((8, 6), "x")}, "boolean or 0/1"),
        ({"mask": np.zeros((8, 6), bool)}, "every entry"),
        ({"X": np.full((3, 3), np.nan)}, "every entry"),
        ({"rank": 0}, "rank"),
        ({"rank": 7}, "rank"),
        ({"rank": 2.5}, "rank"),
        ({"solver": "a1gm", "rank": 2}, "rank-1"),
        ({"solver": "nope"}, "unknown solver 'nope'; known solvers: .*a1gm.*wnmf_kl"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 1.5}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"init": (np.ones((8, 3)), np.ones((2, 6)))}, "shape"),
        ({"init": (-np.ones((8, 2)), np.ones((2, 6)))}, "negative"),
        ({"init": "banana"}, "unknown init"),
        ({"random_state": "seed"}, "random_state"),
        ({"bogus_option": 1}, "does not take parameter"),
    ],
)
def test_bad_input_raises_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _call(**kwargs)


def test_nan_at_an_observed_entry_is_rejected_with_its_position():
    X = X0.copy()
    X[2, 3] = np.nan
    mask = np.ones_like(X, dtype=bool)
    for solver in ("a1gm", "wnmf_kl"):
        with pytest.raises(ValueError, match=r"X\[2, 3\]"):
            nmfexp.factorize(X, mask=mask, solver=solver)


def test_negative_observed_value_rejected_by_a1gm_even_when_junk_elsewhere():
    X = X0.copy()
    mask = np.ones_like(X, dtype=bool)
    mask[0, 0] = False
    X[0, 0] = np.nan
    X[5, 4] = -1.0
    with pytest.raises(ValueError, match="negative"):
        nmfexp.factorize(X, mask=mask, solver="a1gm")


def test_integer_float32_and_list_inputs_are_accepted():
    ints = (X0 * 10).astype(int)
    ref = nmfexp.factorize(ints.astype(float), solver="a1gm").reconstruct()
    np.testing.assert_allclose(nmfexp.factorize(ints, solver="a1gm").reconstruct(), ref)
    np.testing.assert_allclose(nmfexp.factorize(ints.tolist(), solver="a1gm").reconstruct(), ref)
    f32 = X0.astype(np.float32)
    res = nmfexp.factorize(f32, mask=np.ones((8, 6), int), solver="a1gm")
    assert res.A.dtype == np.float64


def _loop_kl(X, R, W):
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if W[i, j]:
                x, r = X[i, j], R[i, j]
                total += (x * np.log(x / r) if x > 0 else 0.0) - x + r
    return total


def test_metrics_match_plain_loops():
    rng = np.random.default_rng(1)
    X = rng.random((9, 7))
    X[0, 0] = 0.0  # 0 log 0 = 0
    R = rng.random((9, 7)) + 0.1
    W = rng.random((9, 7)) > 0.3
    Xj = np.where(W, X, np.nan)
    assert metrics.weighted_kl(Xj, R, W) == pytest.approx(_loop_kl(X, R, W), rel=1e-12)
    assert metrics.weighted_kl(Xj, R) == pytest.approx(_loop_kl(X, R, W), rel=1e-12)
    fro = np.sqrt(sum((X[i, j] - R[i, j]) ** 2 for i in range(9) for j in range(7) if W[i, j]))
    assert metrics.weighted_frobenius(Xj, R, W) == pytest.approx(fro, rel=1e-12)
    den = np.sqrt(sum(X[i, j] ** 2 for i in range(9) for j in range(7) if W[i, j]))
    assert metrics.relative_error(Xj, R, W) == pytest.approx(fro / den, rel=1e-12)


def test_metric_edge_cases():
    X = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert metrics.weighted_kl(X, np.array([[0.0, 1.0], [1.0, 1.0]])) == np.inf
    assert metrics.relative_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert metrics.relative_error(np.zeros((2, 2)), np.ones((2, 2))) == np.inf
    with pytest.raises(ValueError, match="shape"):
        metrics.weighted_kl(X, np.ones((3, 2)))
    with pytest.raises(ValueError, match="negative"):
        metrics.weighted_kl(X, -np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        metrics.weighted_frobenius(X, np.full((2, 2), np.nan))
