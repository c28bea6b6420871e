"""Peak extra memory of the iterative solvers, counted by tracemalloc (deterministic: allocation sizes only).

numpy reports its buffers to tracemalloc, so the peak of the traced memory
during a call, minus what existed before it, is what the call allocated at
its worst moment. The budgets are in units of ``X.nbytes``; the private
zero-filled copy of X that validation makes is 1 of them.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import nmfexp
from nmfexp.bench.peers import peak_extra_bytes
from nmfexp.solvers import SOLVERS

# a1gm_polish (A1GM's start, no init) refuses what A1GM refuses; tests/test_polish.py covers it.
ITERATIVE = sorted(name for name, spec in SOLVERS.items() if spec.iterative and "init" in spec.parameters)

# Every solver keeps at most one n x m work array besides the copy of X (KL: X / (A B); least squares with
# a mask: W * (A B); GD-CLS: its GD step's W * (A B)); the rest is blocks of rows and (n + m) x rank arrays.
BUDGET = {"hals": 1.3, "als": 1.3, "kaczmarz": 1.9, "wnmf_fro": 2.3, "wnmf_kl": 2.3, "gdcls": 2.3}
BUDGET_FULL = {"hals": 1.3, "als": 1.3, "kaczmarz": 1.3, "wnmf_fro": 1.3, "wnmf_kl": 2.3, "gdcls": 2.3}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((2000, 1500))  # 24 MB: work blocks (2 MB) stay small next to it
    # ALS imports scipy.optimize at its first NNLS (about 14 MB): an import, not a work array; counted it would
    # make the budgets depend on which test ran first.
    import scipy.optimize  # noqa: F401
    return X, rng.random(X.shape) >= 0.3


@pytest.mark.slow
@pytest.mark.parametrize("name", ITERATIVE)
def test_peak_extra_memory_with_a_mask(data, name):
    X, obs = data
    peak = peak_extra_bytes(lambda: nmfexp.factorize(X, obs, solver=name, rank=5, max_iter=2, tol=0.0,
                                                     random_state=0))
    assert peak <= BUDGET[name] * X.nbytes, peak / X.nbytes


@pytest.mark.slow
@pytest.mark.parametrize("name", ITERATIVE)
def test_peak_extra_memory_fully_observed(data, name):
    X, _ = data
    peak = peak_extra_bytes(lambda: nmfexp.factorize(X, solver=name, rank=5, max_iter=2, tol=0.0, random_state=0))
    assert peak <= BUDGET_FULL[name] * X.nbytes, peak / X.nbytes


@pytest.mark.slow
def test_dense_mask_is_not_copied_as_floats():
    from nmfexp.solvers._dense import MaskOps

    obs = np.random.default_rng(1).random((2000, 1600)) >= 0.5
    W = MaskOps(obs, int((~obs).sum()))
    assert W.kind == "dense" and W.W.dtype == np.bool_
    A = np.random.default_rng(2).random((2000, 4))
    B = A.T[:, :1600].copy()
    for product in (lambda: W.left(A), lambda: W.right(B), lambda: W.gram_rows(B), lambda: W.gram_cols(A)):
        # one block buffer (BLOCK_BYTES) and the (r or r^2) x (n or m) result; a float copy would be 25.6 MB
        assert peak_extra_bytes(product) < 3 * 2**20
    np.testing.assert_allclose(W.left(A), A.T @ obs.astype(float), rtol=1e-13)
    np.testing.assert_allclose(W.right(B), obs.astype(float) @ B.T, rtol=1e-13)
    np.testing.assert_allclose(W.gram_cols(A)[:, :, 3], A.T @ (obs[:, 3:4] * A), rtol=1e-13)


@pytest.mark.parametrize("name", ITERATIVE)
def test_sparse_path_memory_scales_with_the_observed_entries(name):
    from nmfexp.solvers._sparse import sampled_product

    sampled_product(np.array([0, 1]), np.array([0]), np.ones((1, 1)), np.ones((1, 1)))  # load numba off the count
    rng = np.random.default_rng(3)
    n = 3000  # 9e6 entries: 72 MB if anything were dense
    nnz = 20000
    flat = rng.choice(n * n, size=nnz, replace=False)
    S = sp.csr_array((rng.random(nnz), np.divmod(flat, n)), shape=(n, n))
    peak = peak_extra_bytes(lambda: nmfexp.factorize(S, "stored", solver=name, rank=4, max_iter=2, tol=0.0,
                                                     random_state=0))
    # The copies of the stored entries (CSR, its transpose, patterns: ~100 bytes per entry) and (n + m) x rank
    # factors and Gram matrices (rank^2 per row); nothing of size n x n.
    assert peak <= 200 * nnz + 2 * n * 4 * 4 * 8 * 4, peak


def _kl_gradient_two_blocks(ops, A, B):
    """The KL stationarity gradient as it was computed before (a block of ones beside each block of ratios)."""
    from nmfexp.solvers.losses import row_blocks

    n, m = ops.shape
    GA, GB = np.empty((n, A.shape[1])), np.zeros((A.shape[1], m))
    for rows in row_blocks(n, m):
        E = A[rows] @ B
        np.divide(ops.WX[rows], E, out=E)
        np.subtract(ops.W.apply_rows(np.ones_like(E), rows), E, out=E)
        GA[rows] = E @ B.T
        GB += A[rows].T @ E
    return GA, GB


@pytest.mark.parametrize("kind", ["full", "sparse", "dense"])
def test_kl_gradient_holds_one_block_and_keeps_its_bits(kind):
    """The KL gradient (stop_on='stationarity') needs one block of rows, not a block of ratios and one of ones;
    its numbers are those of W - (W*X) / (A B) computed with the block of ones, bit for bit."""
    from nmfexp._validation import masked_data
    from nmfexp.solvers._dense import DenseOps
    from nmfexp.solvers.losses import BLOCK_BYTES

    rng = np.random.default_rng(4)
    X = rng.random((1200, 1000))  # 9.6 MB: five blocks of rows
    missing = {"full": 0.0, "sparse": 0.01, "dense": 0.4}[kind]
    obs = None if kind == "full" else rng.random(X.shape) >= missing
    ops = DenseOps(masked_data(X, obs))
    assert ops.W.kind == kind
    A, B = rng.random((1200, 3)) + 0.1, rng.random((3, 1000)) + 0.1
    GA, GB = ops.gradient("kl", A, B)
    GA0, GB0 = _kl_gradient_two_blocks(ops, A, B)
    np.testing.assert_array_equal(GA, GA0)
    np.testing.assert_array_equal(GB, GB0)
    outputs = GA.nbytes + GB.nbytes
    peak = peak_extra_bytes(lambda: ops.gradient("kl", A, B))
    assert peak <= 1.5 * BLOCK_BYTES + 2 * outputs, (peak, BLOCK_BYTES)
