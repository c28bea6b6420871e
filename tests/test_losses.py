"""The masked losses: the solvers' factor forms agree with the observed-value forms of the metrics."""

import numpy as np
import pytest

from nmfexp import metrics
from nmfexp._validation import masked_data
from nmfexp.solvers._init import MaskOps
from nmfexp.solvers._losses import MaskedKL, frobenius, kl_divergence, masked_frobenius


def problem(missing, rank, seed):
    rng = np.random.default_rng(seed)
    X = rng.random((30, 24)) ** 2
    X[rng.random(X.shape) < 0.1] = 0.0  # zeros in the data: 0 log 0 = 0 in both forms
    observed = None if missing == 0 else rng.random(X.shape) >= missing
    data = masked_data(X, observed)
    A, B = rng.random((30, rank)) + 1e-3, rng.random((rank, 24)) + 1e-3
    return X, data, MaskOps(data.observed, data.n_missing), A, B


CASES = [(missing, rank, seed) for missing in (0.0, 0.05, 0.4) for rank in (1, 4) for seed in (0, 1)]


@pytest.mark.parametrize(("missing", "rank", "seed"), CASES)
def test_the_two_kl_forms_agree_to_rounding(missing, rank, seed):
    X, data, W, A, B = problem(missing, rank, seed)
    obs = np.ones(X.shape, bool) if data.observed is None else data.observed
    AB = A @ B
    mass = float(np.sum(A * W.right(B)))  # the multiplicative update's sum over observed of AB
    assert mass == pytest.approx(AB[obs].sum(), rel=1e-13)
    factor_form = MaskedKL(data.WX)(AB, mass, out=np.empty_like(AB))
    elementwise = kl_divergence(X[obs], AB[obs])
    assert factor_form == pytest.approx(elementwise, rel=1e-12)


@pytest.mark.parametrize(("missing", "rank", "seed"), CASES)
def test_the_frobenius_forms_agree(missing, rank, seed):
    X, data, W, A, B = problem(missing, rank, seed)
    obs = np.ones(X.shape, bool) if data.observed is None else data.observed
    AB = A @ B
    on_factors = masked_frobenius(data.WX, W, A, B, out=np.empty_like(AB))
    zero_filled = frobenius(data.WX, np.where(obs, AB, 0.0))
    on_values = frobenius(X[obs], AB[obs])
    assert on_factors == zero_filled  # same terms in the same order
    assert on_factors == pytest.approx(on_values, rel=1e-13)


def test_metrics_are_the_loss_module_on_observed_values():
    X, data, _, A, B = problem(0.3, 3, 2)
    obs, R = data.observed, A @ B
    Xj = np.where(obs, X, np.nan)
    assert metrics.weighted_kl(Xj, R) == kl_divergence(X[obs], R[obs])
    assert metrics.weighted_frobenius(Xj, R) == frobenius(X[obs], R[obs])
