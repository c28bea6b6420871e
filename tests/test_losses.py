"""The masked losses: the solvers' factor forms agree with the observed-value forms of the metrics."""

import numpy as np
import pytest
from scipy.special import xlogy

from nmfexp import metrics
from nmfexp._validation import masked_data
from nmfexp.solvers._dense import MaskOps
from nmfexp.solvers.losses import MaskedKL, frobenius, kl_divergence, kl_from_ratio, masked_frobenius


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


@pytest.mark.parametrize(("missing", "rank", "seed"), CASES)
def test_the_ratio_form_of_wnmf_kl_agrees(missing, rank, seed):
    # WNMF-KL reads its objective from Q = (W*X) / (A B), 0 at missing entries and at zeros in the data
    X, data, W, A, B = problem(missing, rank, seed)
    obs = np.ones(X.shape, bool) if data.observed is None else data.observed
    AB = A @ B
    Q = data.WX / AB
    mass = float(np.sum(A * W.right(B)))
    value = kl_from_ratio(data.WX, Q, float(data.WX.sum()), mass)
    assert value == pytest.approx(kl_divergence(X[obs], AB[obs]), rel=1e-12)
    assert value == pytest.approx(float(xlogy(data.WX, Q).sum() - data.WX.sum() + mass), rel=1e-14)


def test_the_ratio_form_keeps_subnormal_ratios_exact():
    # a ratio below the smallest normal number still counts with its own logarithm (as xlogy), and an
    # exact zero ratio (missing entry or zero in the data) adds nothing, never NaN
    WX = np.array([[1e-310, 0.0], [2.0, 3.0]])
    Q = np.array([[1e-310 / 3.0, 0.0], [1.0, 1.5]])
    expected = float(xlogy(WX, Q).sum())
    assert kl_from_ratio(WX, Q, 0.0, 0.0) == pytest.approx(expected, rel=1e-15)
    assert np.isfinite(kl_from_ratio(WX, Q, 0.0, 0.0))
