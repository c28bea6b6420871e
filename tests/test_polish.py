"""A1GM's certificate and the a1gm_polish solver, checked against independent KL evaluations and optima."""

import numpy as np
import pytest

import nmfexp
from nmfexp.solvers import SOLVERS, FactorizationResult


def _kl(X, M, R):
    x, r = X[M], R[M]
    return float(np.sum(x * np.log(x / r) - x + r))


def _grid_mask(X):
    M = np.ones(X.shape, dtype=bool)
    M[np.ix_([1, 5, 7], [2, 3])] = False
    return M


def _random_mask(X, seed=1, rate=0.15):
    M = np.random.default_rng(seed).random(X.shape) > rate
    M[0] = True  # a complete row and column: A1GM applies
    M[:, 0] = True
    return M


@pytest.fixture
def X():
    return np.random.default_rng(0).random((30, 20)) + 0.05


def test_grid_like_mask_gap_is_zero_and_no_polish_improves_it(X):
    M = _grid_mask(X)
    cert = nmfexp.certify_a1gm(X, M)
    assert cert.gap == 0.0 and cert.certified and cert.share_added == 0.0
    a = nmfexp.factorize(X, M, solver="a1gm")
    assert cert.f_a1gm == pytest.approx(_kl(X, M, a.reconstruct()), rel=1e-12)
    # Independently: a long WNMF-KL run from A1GM's factors finds nothing better (A1GM is the optimum).
    long = nmfexp.factorize(X, M, solver="wnmf_kl", init=(a.A, a.B), max_iter=3000, tol=0.0)
    assert _kl(X, M, long.reconstruct()) >= cert.f_a1gm * (1 - 1e-12)


def test_random_gaps_have_a_positive_certified_gap(X):
    M = _random_mask(X)
    a = nmfexp.factorize(X, M, solver="a1gm")
    cert = nmfexp.certify_a1gm(X, M, a)
    assert a.info["n_missing_added"] > 0 and cert.share_added == a.info["n_missing_added"] / X.size
    assert cert.gap > 0 and cert.certified and cert.stop_reason == "tol"
    # The best value is a rank-1 KL optimum: a long WNMF-KL run from random starts does not beat it.
    for seed in range(3):
        other = nmfexp.factorize(X, M, solver="wnmf_kl", random_state=seed, max_iter=5000, tol=0.0)
        assert _kl(X, M, other.reconstruct()) >= cert.f_best * (1 - 1e-9)
    assert cert.gap == pytest.approx((cert.f_a1gm - cert.f_best) / cert.f_best)


def test_an_untight_polish_is_not_certified(X):
    M = _random_mask(X, rate=0.4)
    cert = nmfexp.certify_a1gm(X, M, tol=1e-300, max_iter=2)
    assert not cert.certified and cert.stop_reason == "max_iter" and cert.gap > 0


def test_certify_refuses_a_result_of_another_shape(X):
    M = _random_mask(X)
    bad = FactorizationResult(A=np.ones((30, 2)), B=np.ones((2, 20)))
    with pytest.raises(ValueError, match="rank-1 factorization of the 30 x 20 data"):
        nmfexp.certify_a1gm(X, M, bad)


def test_polish_starts_at_a1gm_and_never_ends_above_it(X):
    M = _random_mask(X)
    a = nmfexp.factorize(X, M, solver="a1gm")
    p = nmfexp.factorize(X, M, solver="a1gm_polish", max_iter=200, tol=1e-8, stop_on="stationarity")
    obj = p.history["objective"]
    f_a = _kl(X, M, a.reconstruct())
    assert obj[0] == pytest.approx(f_a, rel=1e-10)
    assert _kl(X, M, p.reconstruct()) < f_a and np.all(np.diff(obj) <= 1e-12 * obj[0])
    assert p.stop_reason == "tol" and p.info["a1gm_exact"] is False


def test_polish_on_a_grid_like_mask_is_a1gm(X):
    M = _grid_mask(X)
    a = nmfexp.factorize(X, M, solver="a1gm")
    p = nmfexp.factorize(X, M, solver="a1gm_polish")
    np.testing.assert_array_equal(p.reconstruct(), a.reconstruct())
    assert p.stop_reason == "closed_form" and p.n_iter == 0 and len(p.history["objective"]) == 1


def test_polish_refuses_what_a1gm_refuses(X):
    M = np.ones(X.shape, dtype=bool)
    M[np.arange(20), np.arange(20)] = False  # every column has a gap
    with pytest.raises(nmfexp.SolverRefused):
        nmfexp.factorize(X, M, solver="a1gm_polish")


def test_polish_is_described_like_wnmf_kl():
    polish, kl = SOLVERS["a1gm_polish"], SOLVERS["wnmf_kl"]
    assert polish.loss == "kl" and polish.iterative
    assert set(polish.parameters) == set(kl.parameters) - {"init"}


def test_a1gm_jobs_record_their_certificate(tmp_path):
    from nmfexp import results
    from nmfexp.experiment.run import run

    for kind in ("grid", "random"):
        run({"dataset": {"kind": "uniform", "n_rows": 30, "n_cols": 25}, "solver": {"name": "a1gm"}, "rank": 1,
             "mask": {"kind": kind, "rate": 0.05 if kind == "random" else 0.2}}, tmp_path)
    run({"dataset": {"kind": "uniform", "n_rows": 30, "n_cols": 25}, "solver": {"name": "hals"}, "rank": 1,
         "mask": {"kind": "grid", "rate": 0.2}}, tmp_path)
    df = results.load(tmp_path).set_index(["solver", "mask"])
    assert df.loc[("a1gm", "grid"), "a1gm_gap"] == 0.0 and bool(df.loc[("a1gm", "grid"), "a1gm_certified"])
    assert df.loc[("a1gm", "random"), "a1gm_gap"] > 0 and bool(df.loc[("a1gm", "random"), "a1gm_certified"])
    assert np.isnan(df.loc[("hals", "grid"), "a1gm_gap"])


def test_polish_on_stored_entries_equals_the_dense_mask(X):
    import scipy.sparse as sp

    M = _random_mask(X)
    kw = {"max_iter": 30, "tol": 0.0, "stop_on": "stationarity"}  # exactly 30 iterations on both storages
    dense = nmfexp.factorize(X, M, solver="a1gm_polish", **kw)
    stored = nmfexp.factorize(sp.csr_matrix(np.where(M, X, 0.0)), "stored", solver="a1gm_polish", **kw)
    assert dense.n_iter == stored.n_iter == 30
    np.testing.assert_allclose(stored.reconstruct(), dense.reconstruct(), rtol=1e-10)
    np.testing.assert_allclose(stored.history["objective"], dense.history["objective"], rtol=1e-10)


def test_a_certificate_that_cannot_be_computed_does_not_fail_the_job(monkeypatch):
    from types import SimpleNamespace

    from nmfexp.experiment import evaluate as evaluate_module
    from nmfexp.solvers import polish

    def broken(*args, **kwargs):
        raise ValueError("no polish today")

    monkeypatch.setattr(polish, "certify_a1gm", broken)
    with pytest.warns(RuntimeWarning, match="no polish today"):
        out = evaluate_module.a1gm_certificate(SimpleNamespace(X=None, train=None), None, SOLVERS["a1gm"])
    assert np.isnan(out["a1gm_gap"]) and out["a1gm_certified"] is False
    assert evaluate_module.a1gm_certificate(None, None, SOLVERS["hals"]) == {}


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_certificate_is_scale_free_at_the_ends_of_float64(X, scale):
    M = _random_mask(X)
    base = nmfexp.certify_a1gm(X, M)
    far = nmfexp.certify_a1gm(X * scale, M)
    assert np.isfinite(far.f_a1gm) and far.f_a1gm == pytest.approx(base.f_a1gm * scale, rel=1e-9)
    assert far.gap == pytest.approx(base.gap, rel=1e-6) and far.certified
