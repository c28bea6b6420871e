"""The storage interface every iterative solver is written against (nmfexp.solvers._ops.Ops).

Each method of both implementations (dense data with the mask in each of its
three forms; the stored entries of sparse input) is checked against a plain
NumPy oracle on the full matrix with a 0/1 float mask, and the gradients of
both losses also against central finite differences of the losses.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from nmfexp._validation import masked_data
from nmfexp.solvers._dense import DenseOps
from nmfexp.solvers._sparse import StoredOps, sparse_data

N, M, R = 23, 17, 3
STORAGES = ["dense-full", "dense-few", "dense-many", "stored"]


def problem(storage: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((N, M)) + 0.1
    missing = {"dense-full": 0.0, "dense-few": 0.05, "dense-many": 0.4, "stored": 0.4}[storage]
    obs = rng.random((N, M)) >= missing
    if storage == "stored":
        ops = StoredOps(sparse_data(sp.csr_array((X[obs], np.nonzero(obs)), shape=(N, M))))
    else:
        ops = DenseOps(masked_data(np.where(obs, X, np.nan), None))
        assert ops.W.kind == {"dense-full": "full", "dense-few": "sparse", "dense-many": "dense"}[storage]
    A, B = rng.random((N, R)) + 0.05, rng.random((R, M)) + 0.05
    return ops, X, obs.astype(float), A, B


def dense(ops, E, W):
    """Entries as an n x m matrix (zeros at missing entries), whatever the storage."""
    if isinstance(ops, StoredOps):
        out = np.zeros(W.shape)
        out[W > 0] = E  # CSR order is row-major, as boolean indexing
        return out
    return E


def full(a, shape):
    return np.broadcast_to(a, shape)


@pytest.mark.parametrize("storage", STORAGES)
def test_every_product_equals_the_oracle(storage):
    ops, X, W, A, B = problem(storage)
    WX = W * X
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)  # noqa: E731
    assert ops.complete == (storage == "dense-full")
    close(ops.x_right(B.T), WX @ B.T)
    close(ops.xt_left(A.T), A.T @ WX)
    close(ops.times_xt(B), B @ WX.T)
    close(full(ops.left(A), (R, M)), A.T @ W)
    close(full(ops.right(B), (N, R)), W @ B.T)
    close(full(ops.gram_rows(B), (R, R, N)), np.einsum("lk,ik,jk->lji", B, W, B))
    close(full(ops.gram_cols(A), (R, R, M)), np.einsum("il,ik,ij->ljk", A, W, A))
    WAB = ops.masked_product(A, B)
    close(dense(ops, WAB, W), W * (A @ B))
    Q = ops.ratio(A, B)
    close(dense(ops, Q, W), WX / (A @ B))
    close(ops.rmul(Q, B.T), (WX / (A @ B)) @ B.T)
    close(ops.lmul(A.T, WAB), A.T @ (W * (A @ B)))
    out = ops.new_entries()
    assert ops.masked_product(A, B, out=out) is out and ops.ratio(A, B, out=out) is out
    assert ops.sum_x() == pytest.approx(WX.sum(), rel=1e-13)
    assert ops.sum_sq_x() == pytest.approx((WX**2).sum(), rel=1e-13)
    assert ops.norm_x() == pytest.approx(np.linalg.norm(WX), rel=1e-13)
    fro = np.linalg.norm(W * (X - A @ B))
    assert ops.frobenius(A, B) == pytest.approx(fro, rel=1e-12)
    assert ops.residual_norm(WAB) == pytest.approx(fro, rel=1e-12)
    kl = np.sum(W * (X * np.log(X / (A @ B)) - X + A @ B))
    assert ops.kl_from_ratio(Q, ops.sum_x(), float(np.sum(W * (A @ B)))) == pytest.approx(kl, rel=1e-12)
    for axis in (0, 1):
        counts = ops.line_counts(axis)
        if counts is not None:
            np.testing.assert_array_equal(counts, W.sum(axis=1 - axis))
        for q in (0, 5):
            sel, values = ops.observed_line(axis, q)
            line, wline = (X[q], W[q]) if axis == 0 else (X[:, q], W[:, q])
            np.testing.assert_array_equal(values, line[wline > 0])
            np.testing.assert_array_equal(np.arange(line.size)[sel], np.flatnonzero(wline))


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_gradients_equal_the_formulas_and_finite_differences(storage, loss):
    ops, X, W, A, B = problem(storage, seed=1)
    gA, gB = ops.gradient(loss, A, B)
    AB = A @ B
    G = W * (AB - X) if loss == "frobenius" else W - W * X / AB  # d loss / d (AB), zero at missing entries
    np.testing.assert_allclose(gA, G @ B.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gB, A.T @ G, rtol=1e-12, atol=1e-12)

    def value(A, B):
        AB = A @ B
        if loss == "frobenius":
            return 0.5 * np.sum(W * (X - AB) ** 2)
        return np.sum(W * (X * np.log(X / AB) - X + AB))

    h = 1e-6
    for (i, j), F, g in (((4, 1), A, gA), ((2, 9), B, gB)):
        plus, minus = F.copy(), F.copy()
        plus[i, j] += h
        minus[i, j] -= h
        args = (plus, B) if F is A else (A, plus)
        args_m = (minus, B) if F is A else (A, minus)
        assert (value(*args) - value(*args_m)) / (2 * h) == pytest.approx(g[i, j], rel=1e-6, abs=1e-8)


def test_an_unknown_loss_is_refused():
    ops, *_ , A, B = problem("dense-many")
    with pytest.raises(ValueError, match="loss must be 'frobenius' or 'kl'"):
        ops.gradient("l1", A, B)
