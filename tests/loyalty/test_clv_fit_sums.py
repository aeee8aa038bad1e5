"""The fast fits: weighted distinct rows with summed analytic gradients, against per-customer references.

The fitters maximise ``sum(weight * log-likelihood)`` over the distinct ``(frequency, recency,
T)`` (or ``(frequency, monetary_value)``) rows with the terms of ``x`` alone summed per value
(``clv._MixtureSums``, ``GammaGammaFitter._sums``). The references here are independent: scipy's
BFGS on the plain per-customer likelihood (``_ll``, one row per customer, no weights), and
central differences of the summed likelihood.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from journeylib.core.locations import CDNOW_DIR
from journeylib.loyalty import clv
from journeylib.loyalty.clv import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter


@pytest.fixture(scope="module")
def cdnow_tx() -> pd.DataFrame:
    s = pd.read_csv(CDNOW_DIR / "cdnow_customers_summary_with_transactions.csv")
    return s.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


def _per_customer_fit(ll, cols: tuple[np.ndarray, ...], x0: np.ndarray) -> tuple[np.ndarray, float]:
    """Maximum likelihood over one row per customer, from the per-row likelihood and gradient."""
    n = len(cols[0])

    def f(z):
        p = np.exp(z)
        v, g = ll(p, *cols)
        return -v.sum() / n, -g.sum(axis=1) / n * p

    res = optimize.minimize(f, x0, jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
    p = np.exp(res.x)
    return p, float(ll(p, *cols)[0].sum())


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter])
def test_weighted_fit_on_distinct_rows_equals_the_per_customer_fit(cls, cdnow_tx):
    x, tx, T = (cdnow_tx[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    *_, counts = clv._compress(x, tx, T)
    assert len(counts) < len(x) and counts.sum() == len(x)  # the fit really runs on fewer, weighted rows
    fitted = cls().fit(cdnow_tx)
    ref, ref_ll = _per_customer_fit(lambda p, *c: cls._ll(p, *c), (x, tx, T), np.log([0.5, 5.0, 1.0, 2.0]))
    for k, v in zip(cls.param_names, ref):
        assert fitted.params_[k] == pytest.approx(v, rel=1e-6), k
    assert fitted.result_.log_likelihood == pytest.approx(ref_ll, rel=1e-9, abs=1e-6)
    assert fitted.result_.n == len(x)


def test_gamma_gamma_weighted_fit_equals_the_per_customer_fit(cdnow_tx):
    rep = cdnow_tx[cdnow_tx["frequency"] > 0]
    x, m = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    *_, counts = clv._compress(x, m)
    assert len(counts) < len(x)
    fitted = GammaGammaFitter().fit(cdnow_tx)
    ref, ref_ll = _per_customer_fit(lambda p, *c: GammaGammaFitter._ll(p, *c), (x, m), np.log([2.0, 2.0, 30.0]))
    for k, v in zip(GammaGammaFitter.param_names, ref):
        assert fitted.params_[k] == pytest.approx(v, rel=1e-6), k
    assert fitted.result_.log_likelihood == pytest.approx(ref_ll, rel=1e-9, abs=1e-6)
    # Fader & Hardie (2013) on the same sample: p = 6.25, q = 3.74, gamma = 15.44
    assert fitted.params_["p"] == pytest.approx(6.25, rel=0.01)


def _central_difference(fun, p: np.ndarray) -> np.ndarray:
    out = np.empty(len(p))
    for j in range(len(p)):
        h = np.zeros(len(p))
        h[j] = 1e-6 * p[j]
        out[j] = (fun(p + h) - fun(p - h)) / (2 * h[j])
    return out


def _bg_rows(n: int = 3000):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 15, n).astype(float)
    T = rng.uniform(5, 60, n).round(1)
    tx = np.where(x > 0, T * rng.uniform(0, 1, n), 0).round(1)
    w = rng.integers(1, 5, n).astype(float)
    return x, tx, T, w


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter])
@pytest.mark.parametrize("params", [[0.25, 4.4, 0.8, 2.4], [1.5, 12.0, 2.2, 0.7], [0.05, 0.3, 0.1, 25.0],
                                    [8.0, 60.0, 5.0, 1.5]])
def test_summed_gradient_equals_finite_differences(cls, params):
    x, tx, T, w = _bg_rows()
    total = cls._sums(x, tx, T, w)
    p = np.array(params)
    s, grad = total(p)
    np.testing.assert_allclose(grad, _central_difference(lambda q: total(q, with_grad=False)[0], p),
                               rtol=1e-6, atol=1e-4)
    # and the sum equals the weighted per-row likelihood (FHL 2005 eq. 6, see test_clv_models' quadrature)
    assert s == pytest.approx(w @ cls._ll(p, x, tx, T, with_grad=False)[0], rel=1e-12)


@pytest.mark.parametrize("params", [[6.25, 3.74, 15.44], [2.0, 40.0, 300.0], [0.5, 1.5, 2.0]])
def test_gamma_gamma_summed_gradient_equals_finite_differences(params):
    rng = np.random.default_rng(6)
    x = rng.integers(1, 20, 3000).astype(float)
    m = rng.gamma(4.0, 10.0, 3000).round(2)
    w = rng.integers(1, 4, 3000).astype(float)
    total = GammaGammaFitter._sums(x, m, w)
    p = np.array(params)
    s, grad = total(p)
    np.testing.assert_allclose(grad, _central_difference(lambda q: total(q, with_grad=False)[0], p),
                               rtol=1e-6, atol=1e-4)
    assert s == pytest.approx(w @ GammaGammaFitter._ll(p, x, m)[0], rel=1e-12)


def test_softplus_branch_far_from_the_optimum_stays_finite():
    """Where e^d would overflow (d > 700) the stable branch gives the same sums as the row likelihood."""
    x = np.array([0.0, 3.0, 40.0])
    tx = np.array([0.0, 1.0, 1.0])
    T = np.array([100.0, 100.0, 1e8])  # x = 40: d = 45 log(1e10) - ... > 700
    w = np.array([1.0, 2.0, 1.0])
    p = np.array([5.0, 0.01, 2.0, 1.0])
    for cls in (BetaGeoFitter, ModifiedBetaGeoFitter):
        s, grad = cls._sums(x, tx, T, w)(p)
        ll, g = cls._ll(p, x, tx, T)
        assert np.isfinite(s) and s == pytest.approx(w @ ll, rel=1e-12)
        np.testing.assert_allclose(grad, g @ w, rtol=1e-9)


def test_compress_fallback_with_missing_values_keeps_rows():
    """A non-finite value (missing spend) takes the sort path; the distinct rows are still right."""
    x = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    m = np.array([5.0, 5.0, np.nan, 7.0, 5.0])
    ux, um, c = clv._compress(x, m)
    np.testing.assert_array_equal(ux, [1.0, 2.0, 2.0, 3.0])
    np.testing.assert_array_equal(um[[0, 1, 3]], [5.0, 7.0, 5.0])  # sorted, the missing value last
    assert np.isnan(um[2]) and c.tolist() == [2.0, 1.0, 1.0, 1.0]
