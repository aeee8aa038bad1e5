"""MBG/NBD and Pareto/NBD beside BG/NBD: the published CDNOW fit, independent likelihoods, planted models,
the holdout comparison."""
from __future__ import annotations

import dataclasses
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.core.locations import CDNOW_DIR
from journeylib.loyalty import clv
from journeylib.loyalty.clv import (BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter,
                                    compare_models, customer_lifetime_value, customer_summary)

# Fader, Hardie & Lee (2005) / Fader & Hardie's Pareto/NBD note, CDNOW 1/10 sample (typed in here independently;
# CLVTools' and BTYD's tests reproduce r=0.55315, alpha=10.57633, s=0.60625, beta=11.67150, LL=-9594.976)
PNBD_REF = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PNBD_LL = -9594.98


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW_DIR / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_holdout() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jl.JourneyDataWarning)
        ev = jl.load_events(jl.cdnow_events_path())
    return customer_summary(ev, calibration_end="1997-09-30", holdout_end="1998-06-30", time_unit="W")


def simulate(kind: str, n: int, params: dict, seed: int, T_range=(26.0, 39.0), holdout=39.0, cap=300):
    """Customers drawn from one of the three models with known parameters (calibration + holdout counts)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    T = rng.uniform(*T_range, n)
    times = np.cumsum(rng.exponential(1.0, (n, cap)) / lam[:, None], axis=1)
    if kind == "pareto_nbd":
        mu = rng.gamma(params["s"], 1 / params["beta"], n)
        made = times <= rng.exponential(1.0, n)[:, None] / mu[:, None]
    else:
        p = rng.beta(params["a"], params["b"], n)
        ever = rng.geometric(p) - (1 if kind == "mbgnbd" else 0)  # MBG/NBD: may leave right after the first purchase
        made = np.arange(1, cap + 1)[None, :] <= ever[:, None]
    cal = made & (times <= T[:, None])
    hold = made & (times > T[:, None]) & (times <= T[:, None] + holdout)
    x = cal.sum(axis=1)
    return pd.DataFrame({"frequency": x, "recency": np.where(cal, times, 0).max(axis=1), "T": T,
                         "frequency_holdout": hold.sum(axis=1), "duration_holdout": holdout})


def test_pareto_nbd_reproduces_the_published_cdnow_fit(cdnow_summary):
    f = ParetoNBDFitter().fit(cdnow_summary)
    for k, v in PNBD_REF.items():
        assert f.params_[k] == pytest.approx(v, rel=0.002), k
    assert f.result_.log_likelihood == pytest.approx(PNBD_LL, abs=0.02)
    assert f.result_.n == 2357 and f.checks[0].name == "Pareto/NBD fit converged" and f.checks[0].passed
    cmp = clv.against_published(f, clv.PARETO_NBD_CDNOW_PUBLISHED).set_index("quantity")
    assert cmp["published"].drop("log_likelihood").to_dict() == PNBD_REF
    assert (cmp["difference"].abs() < 0.01).all()
    assert list(f.summary["parameter"]) == ["r", "alpha", "s", "beta"]
    # P(alive) falls with time since the last purchase; unconditional E[X(t)] in closed form
    pa = f.probability_alive([3, 3], [30, 5], [39, 39])
    assert pa[0] > pa[1]
    r, al, s, be = (f.params_[k] for k in ("r", "alpha", "s", "beta"))
    assert f.expected_purchases(52) == pytest.approx(r * be / (al * (s - 1)) * (1 - (be / (be + 52)) ** (s - 1)))
    # BTYD's value for the published parameters: pnbd.Expectation(params, t=52) = 1.473
    assert f.expected_purchases(52) == pytest.approx(1.473, abs=0.002)


def _ll_by_quadrature(kind, p, x, tx, T):
    """Individual likelihood integrated over the heterogeneity distributions (independent of the closed forms)."""
    r, al = p["r"], p["alpha"]
    g = stats.gamma(r, scale=1 / al)
    if kind == "pareto_nbd":
        h = stats.gamma(p["s"], scale=1 / p["beta"])

        def ind(lam, mu):  # alive at T, or died at some tau in (t_x, T]
            alive = lam ** x * np.exp(-(lam + mu) * T)
            died = lam ** x * mu / (lam + mu) * (np.exp(-(lam + mu) * tx) - np.exp(-(lam + mu) * T))
            return (alive + died) * g.pdf(lam) * h.pdf(mu)
        return integrate.dblquad(lambda mu, lam: ind(lam, mu), 0, np.inf, 0, np.inf, epsabs=1e-11, epsrel=1e-7)[0]
    b_ = stats.beta(p["a"], p["b"])
    shift = 1 if kind == "mbgnbd" else 0

    def ind(lam, q):
        alive = lam ** x * np.exp(-lam * T) * (1 - q) ** (x + shift)
        dead = (lam ** x * np.exp(-lam * tx) * q * (1 - q) ** (x - 1 + shift)) if x + shift > 0 else 0.0
        return (alive + dead) * g.pdf(lam) * b_.pdf(q)
    return integrate.dblquad(lambda q, lam: ind(lam, q), 0, np.inf, 0, 1, epsabs=1e-11, epsrel=1e-7)[0]


@pytest.mark.parametrize("cls,kind,params", [
    (ModifiedBetaGeoFitter, "mbgnbd", {"r": 0.8, "alpha": 5.0, "a": 1.3, "b": 2.5}),
    (BetaGeoFitter, "bgnbd", {"r": 0.8, "alpha": 5.0, "a": 1.3, "b": 2.5}),
    (ParetoNBDFitter, "pareto_nbd", {"r": 0.8, "alpha": 5.0, "s": 1.4, "beta": 9.0}),
    (ParetoNBDFitter, "pareto_nbd", {"r": 0.8, "alpha": 9.0, "s": 0.7, "beta": 4.0}),  # alpha > beta branch
])
def test_likelihoods_equal_direct_integration(cls, kind, params):
    rows = [(0, 0.0, 30.0), (2, 10.0, 30.0), (3, 30.0, 30.0)]
    pv = np.array([params[k] for k in cls.param_names])
    x, tx, T = (np.array(c, float) for c in zip(*rows))
    ll, grad = cls._ll(pv, x, tx, T)
    for i, (xi, txi, Ti) in enumerate(rows):
        assert ll[i] == pytest.approx(np.log(_ll_by_quadrature(kind, params, xi, txi, Ti)), abs=1e-5), rows[i]
    # the gradient (analytic for the BG family, central differences for Pareto/NBD) against a numeric one
    for j in range(4):
        h = np.zeros(4)
        h[j] = 1e-5 * pv[j]
        num = (cls._ll(pv + h, x, tx, T, with_grad=False)[0] - cls._ll(pv - h, x, tx, T, with_grad=False)[0]) / (2 * h[j])
        np.testing.assert_allclose(grad[j], num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind,params", [
    ("mbgnbd", {"r": 0.3, "alpha": 4.0, "a": 0.8, "b": 2.5}),
    ("pareto_nbd", {"r": 0.5, "alpha": 10.0, "s": 0.8, "beta": 12.0}),
])
def test_each_model_recovers_its_planted_parameters_and_predicts_its_holdout(kind, params):
    s = simulate(kind, 40_000, params, seed=5)
    f = clv.MODELS[kind]().fit(s)
    fit = f.result_.summary.set_index("parameter")
    for k, v in params.items():  # planted value inside a slightly widened 95% interval
        assert fit.loc[k, "ci_low"] * 0.95 < v < fit.loc[k, "ci_high"] * 1.05, (k, v, fit.loc[k].to_dict())
    pred = f.conditional_expected_purchases(39.0, s["frequency"], s["recency"], s["T"])
    assert pred.sum() == pytest.approx(s["frequency_holdout"].sum(), rel=0.03)
    truth = clv.MODELS[kind]()
    truth.params_ = dict(params)
    alive = truth.probability_alive(s["frequency"], s["recency"], s["T"])
    assert 0 < alive.min() and alive.max() <= 1
    if kind == "mbgnbd":  # unlike BG/NBD, a customer without repeat purchases may be gone
        assert alive[s["frequency"].to_numpy() == 0].max() < 1


@pytest.mark.parametrize("seed", [0, 1])
def test_comparison_prefers_bgnbd_on_data_drawn_from_it(seed):
    s = simulate("bgnbd", 6000, {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, seed=seed)
    c = compare_models(s)
    t = c.summary.set_index("key")
    assert c.chosen == "bgnbd" and c.best is c.fitters["bgnbd"]
    assert t.loc["bgnbd", "log_likelihood"] == t["log_likelihood"].max()
    # the absolute error would have chosen wrongly: it rewards predictions below the mean
    assert t["mae"].idxmin() != "bgnbd"
    # no model chosen is clearly worse on the holdout than another
    assert (t["diff_ci_high"] >= 0).all()


def test_comparison_for_people(cdnow_holdout):
    c = compare_models(cdnow_holdout, max_frequency=7)
    d = c.display_table().set_index("model")
    t = c.summary.set_index("model")
    chosen = t.index[t["chosen"]][0]
    assert d.loc[chosen, "used"] == "yes" and (d["used"] == "yes").sum() == 1
    assert d.loc[chosen, "squared error against the chosen"] == "–"
    for m in t.index.drop(chosen):
        r = t.loc[m]
        assert d.loc[m, "squared error against the chosen"] == (
            f"{r['mse_vs_chosen']:+.3f} ({r['diff_ci_low']:+.3f} to {r['diff_ci_high']:+.3f})")
    assert d.loc[chosen, "actual purchases"] == f"{cdnow_holdout['frequency_holdout'].sum():,.0f}"
    assert d.loc[chosen, "gap"] == f"{t.loc[chosen, 'gap']:+.1%}"


def test_comparison_on_cdnow(cdnow_holdout):
    c = compare_models(cdnow_holdout, max_frequency=7)
    t = c.summary
    assert list(t["model"]) == ["BG/NBD", "MBG/NBD", "Pareto/NBD"] and t["chosen"].sum() == 1
    assert (t["actual"] == cdnow_holdout["frequency_holdout"].sum()).all()
    ll = t.set_index("key")["log_likelihood"]
    assert ll["pareto_nbd"] == pytest.approx(PNBD_LL, abs=0.02) and ll["bgnbd"] == pytest.approx(-9582.4, abs=0.1)
    np.testing.assert_allclose(t["aic"], 8 - 2 * t["log_likelihood"])
    # the same numbers as an independent computation of the chosen model's error
    f = c.best
    pred = f.conditional_expected_purchases(cdnow_holdout["duration_holdout"], cdnow_holdout["frequency"],
                                            cdnow_holdout["recency"], cdnow_holdout["T"])
    row = t[t["chosen"]].iloc[0]
    err = np.abs(pred - cdnow_holdout["frequency_holdout"])
    assert row["mae"] == pytest.approx(err.mean())
    assert row["mse"] == pytest.approx(((pred - cdnow_holdout["frequency_holdout"]) ** 2).mean())
    assert row["mae_ci_low"] < row["mae"] < row["mae_ci_high"] and row["mse_vs_chosen"] == 0
    bf = c.by_frequency
    assert list(bf.columns) == ["frequency_bucket", "customers", "actual", "BG/NBD", "MBG/NBD", "Pareto/NBD"]
    assert bf["customers"].sum() == 2357 and bf["frequency_bucket"].iloc[-1] == "7+"
    first = c.findings[0]
    assert first.text.startswith(f"{row['model']} is used for lifetime values") and c.reason in first.text
    assert (first.value, first.ci_low, first.ci_high) == (row["mae"], row["mae_ci_low"], row["mae_ci_high"])
    assert len(c.findings) == 3 and all(ch.passed for ch in c.checks[:3])
    copy = c.summary
    copy.loc[:, "mae"] = 0
    assert c.summary["mae"].gt(0).all()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.chosen = "bgnbd"
    ax = plt.subplots()[1]
    assert c.plot(ax=ax) is ax and ax.get_ylabel().startswith("mean purchases in holdout")
    assert any("(chosen)" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close("all")
    # the chosen model drives the CLV table, as BG/NBD does
    ggf = GammaGammaFitter().fit(cdnow_holdout)
    table = customer_lifetime_value(cdnow_holdout, c.best, ggf, horizon=52, discount_rate=0.0)
    np.testing.assert_allclose(table["clv"], table["expected_purchases"] * table["expected_spend"], rtol=1e-9)
    assert table["clv"].gt(0).all()


def test_comparison_errors(cdnow_holdout, cdnow_summary):
    with pytest.raises(JourneyDataError, match="frequency_holdout"):
        compare_models(cdnow_summary)
    with pytest.raises(JourneyParameterError, match="models"):
        compare_models(cdnow_holdout, models=("bgnbd", "weibull"))
    with pytest.raises(JourneyParameterError, match="confidence_level"):
        compare_models(cdnow_holdout, confidence_level=95)
    one = compare_models(cdnow_holdout, models="mbgnbd")
    assert one.chosen == "mbgnbd" and "No other model" in one.reason
