"""BG/NBD + Gamma-Gamma: published CDNOW values, the event-log summary, Monte Carlo checks."""
from __future__ import annotations

import dataclasses
import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.loyalty import clv
from journeylib.loyalty.clv import (BetaGeoFitter, GammaGammaFitter, calibration_holdout, clv_bootstrap,
                            customer_lifetime_value, customer_summary)
from journeylib.core.errors import JourneyDataError, JourneyFitError, JourneyParameterError
from journeylib.core.locations import CDNOW_DIR
from journeylib.core.result import Result

# Fader, Hardie & Lee (2005) and Fader & Hardie (2013), CDNOW 1/10 sample
BGNBD_REF = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_REF = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _rel(got: dict, ref: dict) -> float:
    return max(abs(got[k] / v - 1) for k, v in ref.items())


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW_DIR / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_tx() -> pd.DataFrame:
    s = pd.read_csv(CDNOW_DIR / "cdnow_customers_summary_with_transactions.csv")
    return s.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="module")
def cdnow_from_log() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jl.JourneyDataWarning)  # 21 exact duplicate rows
        ev = jl.load_events(jl.cdnow_events_path())
    return customer_summary(ev, calibration_end="1997-09-30", holdout_end="1998-06-30", time_unit="W")


def test_bgnbd_reproduces_published_cdnow_fit(cdnow_summary):
    bgf = BetaGeoFitter().fit(cdnow_summary)
    assert _rel(bgf.params_, BGNBD_REF) < 0.01
    assert bgf.result_.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    assert bgf.result_.n == 2357
    assert "alpha" in repr(bgf) and "<table" in bgf._repr_html_()
    # the fit's summary: tidy, intervals ci_low/ci_high around each estimate; its check: converged
    fit = bgf.summary
    assert list(fit.columns) == ["parameter", "estimate", "se", "ci_low", "ci_high"]
    assert list(fit["parameter"]) == ["r", "alpha", "a", "b"]
    assert (fit["ci_low"] < fit["estimate"]).all() and (fit["estimate"] < fit["ci_high"]).all()
    np.testing.assert_allclose(fit["ci_low"] * fit["ci_high"], fit["estimate"] ** 2, rtol=1e-12)  # log-symmetric
    fit.loc[:, "estimate"] = 0.0
    assert bgf.summary["estimate"].gt(0).all()
    (check,) = bgf.checks
    assert (check.name, check.status) == ("BG/NBD fit converged", "pass") and "-9,582" in check.detail
    assert BetaGeoFitter().checks == () and isinstance(bgf.result_, Result)
    ax = plt.subplots()[1]
    assert bgf.result_.plot(ax=ax) is ax and [t.get_text() for t in ax.get_yticklabels()] == ["b", "a", "alpha", "r"]
    # the package's reference table carries the same published values (typed in independently above)
    cmp = clv.against_published(bgf).set_index("quantity")
    assert cmp["published"].drop("log_likelihood").to_dict() == BGNBD_REF
    assert cmp.loc["log_likelihood", "published"] == -9582.4
    assert (cmp["difference"].abs() < 0.1).all()
    assert cmp.loc["r", "fitted"] == bgf.params_["r"]
    with pytest.raises(JourneyParameterError, match="not fitted"):
        clv.against_published(BetaGeoFitter())


def test_gamma_gamma_reproduces_published_cdnow_fit(cdnow_tx):
    ggf = GammaGammaFitter().fit(cdnow_tx)
    assert ggf.result_.n == 946
    assert _rel(ggf.params_, GG_REF) < 0.02


def test_summary_from_event_log_equals_published_summary(cdnow_from_log, cdnow_summary, cdnow_tx):
    s = cdnow_from_log
    assert len(s) == 2357
    assert s["frequency"].sum() == 2457
    cols = ["frequency", "recency", "T"]
    mine = s[cols].round(2).sort_values(cols).to_numpy()
    ref = cdnow_summary[cols].round(2).sort_values(cols).to_numpy()
    np.testing.assert_allclose(mine, ref, atol=0.006)
    assert s["T"].max() == pytest.approx(272 / 7)  # 1997-01-01 .. 1997-09-30: 272 days
    assert s["duration_holdout"].iloc[0] == pytest.approx(39.0)
    assert _rel(BetaGeoFitter().fit(s).params_, BGNBD_REF) < 0.01
    assert _rel(GammaGammaFitter().fit(s).params_, GG_REF) < 0.02
    # the mean repeat value agrees with the published zbar (rounded to cents in the file)
    np.testing.assert_allclose(np.sort(s["monetary_value"].dropna()),
                               np.sort(cdnow_tx.loc[cdnow_tx.frequency > 0, "monetary_value"]), atol=0.5)


def test_summary_merges_same_day_purchases_and_is_hand_checkable():
    ev = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "c"],
        "ts": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-15", "2024-01-29",
                              "2024-01-08", "2024-02-20"], utc=True, format="ISO8601"),
        "event": ["purchase", "purchase", "purchase", "purchase", "purchase", "purchase"],
        "revenue": [10.0, 5.0, 20.0, 30.0, 7.0, 1.0],
    })
    s = customer_summary(ev, calibration_end="2024-01-29", holdout_end="2024-02-26", time_unit="W")
    a = s.set_index("customer_id")
    assert list(a.index) == ["a", "b"]  # c purchased first after the calibration end
    assert a.loc["a", "frequency"] == 2 and a.loc["a", "recency"] == pytest.approx(4.0)
    assert a.loc["a", "T"] == pytest.approx(4.0) and a.loc["b", "T"] == pytest.approx(3.0)
    assert a.loc["a", "monetary_value"] == pytest.approx(25.0)  # (20 + 30) / 2, first day excluded
    assert a.loc["a", "revenue_total"] == pytest.approx(65.0)
    assert np.isnan(a.loc["b", "monetary_value"]) and a.loc["b", "frequency_holdout"] == 0
    assert a.loc["a", "duration_holdout"] == pytest.approx(4.0)
    with pytest.raises(JourneyParameterError, match="time_unit"):
        customer_summary(ev, time_unit="fortnight")
    with pytest.raises(JourneyDataError, match="no 'purchase'"):
        customer_summary(ev.assign(event="view"))


def _simulate_bgnbd(n, params, T_cal, T_hold, rng):
    """Brute-force BG/NBD: Poisson purchases, dropout with prob p after each purchase."""
    r, alpha, a, b = params
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    t = np.zeros(n)
    alive = np.ones(n, bool)
    x = np.zeros(n, int)
    tx = np.zeros(n)
    hold = np.zeros(n, int)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / lam[idx])
        in_cal = t[idx] <= T_cal
        in_hold = (t[idx] > T_cal) & (t[idx] <= T_cal + T_hold)
        x[idx[in_cal]] += 1
        tx[idx[in_cal]] = t[idx[in_cal]]
        hold[idx[in_hold]] += 1
        dies = rng.random(len(idx)) < p[idx]
        alive[idx[dies | (t[idx] > T_cal + T_hold)]] = False
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T_cal, "frequency_holdout": hold,
                         "duration_holdout": T_hold})


def test_predictions_match_brute_force_simulation():
    rng = np.random.default_rng(11)
    truth = (0.25, 4.0, 0.8, 2.5)
    sim = _simulate_bgnbd(30_000, truth, 39.0, 39.0, rng)
    bgf = BetaGeoFitter()
    bgf.params_ = dict(zip(bgf.param_names, truth))
    # unconditional E[X(t)] against the simulated mean count in (0, 39]
    mc = sim["frequency"].mean()
    se = sim["frequency"].std() / np.sqrt(len(sim))
    assert abs(float(bgf.expected_purchases(39.0)) - mc) < 4 * se
    # conditional expectations by calibration frequency against the simulated holdout
    chk = calibration_holdout(sim, bgf, max_frequency=5)
    sd = sim.groupby(np.minimum(sim["frequency"], 5))["frequency_holdout"].agg(["std", "size"])
    tol = 4 * sd["std"].to_numpy() / np.sqrt(sd["size"].to_numpy())
    assert np.all(np.abs(chk.table["actual"].to_numpy() - chk.table["predicted"].to_numpy()) < tol)
    # the fit recovers the truth (parameters of a 30k-customer simulation, loose tolerance)
    fit = BetaGeoFitter().fit(sim)
    assert fit.params_["r"] == pytest.approx(0.25, rel=0.1)
    assert fit.params_["alpha"] == pytest.approx(4.0, rel=0.15)
    # P(alive) is 1 without repeat purchases and falls with time since the last one
    pa = bgf.probability_alive([0, 3, 3], [0, 30, 5], [39, 39, 39])
    assert pa[0] == 1 and pa[1] > pa[2]


def test_clv_consistency_and_bootstrap(cdnow_from_log):
    s = cdnow_from_log
    bgf = BetaGeoFitter().fit(s)
    ggf = GammaGammaFitter().fit(s)
    undiscounted = customer_lifetime_value(s, bgf, ggf, horizon=52, discount_rate=0.0)
    np.testing.assert_allclose(undiscounted["clv"],
                               undiscounted["expected_purchases"] * undiscounted["expected_spend"], rtol=1e-9)
    disc = customer_lifetime_value(s, bgf, ggf, horizon=52, discount_rate=0.2)
    for bad in ({"discount_rate": "10%"}, {"discount_rate": 1.0}, {"horizon": "52"}, {"horizon": float("nan")}):
        with pytest.raises(JourneyParameterError, match=next(iter(bad))):
            customer_lifetime_value(s, bgf, ggf, **{"horizon": 52, "discount_rate": 0.1, **bad})
    assert (disc["clv"] < undiscounted["clv"]).all()
    # Gamma-Gamma: expected spend of a customer without repeats is the population mean p*gamma/(q-1)
    p, q, g = ggf.params_["p"], ggf.params_["q"], ggf.params_["gamma"]
    assert disc.loc[disc.frequency == 0, "expected_spend"].iloc[0] == pytest.approx(p * g / (q - 1))
    bs = clv_bootstrap(s, horizon=52, discount_rate=0.0, n_boot=20, seed=3)
    lo, hi = bs.confidence_interval()
    assert lo < undiscounted["clv"].sum() < hi
    per = bs.per_customer
    assert (per["ci_low"] <= per["ci_high"]).all()
    assert (per["ci_low"] <= per["clv"] * (1 + 1e-9)).mean() > 0.9  # the point estimate sits inside (almost always)
    assert bs.params["r"].between(0.2, 0.3).all()
    assert "CLVBootstrap" in repr(bs) and "<table" in bs._repr_html_()
    assert isinstance(bs, Result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        bs.n_boot = 3
    assert list(bs.summary.columns) == ["quantity", "estimate", "ci_low", "ci_high"]
    est, lo_c, hi_c = bs.summary.set_index("quantity").loc["CLV per customer"]
    # findings quote the summary's numbers; the headline interval is the total's, recomputable at other levels
    per_c, total = bs.findings
    assert (per_c.value, per_c.ci_low, per_c.ci_high) == (est, lo_c, hi_c)
    assert (total.value, total.ci_low, total.ci_high) == pytest.approx(bs.total, rel=1e-12)  # summed in another order
    assert f"{est:,.1f} over the next 52 weeks ({lo_c:,.1f} to {hi_c:,.1f})" in per_c.text
    assert bs.confidence_interval(0.95) == (lo, hi)
    lo80, hi80 = bs.confidence_interval(confidence_level=0.8)
    assert (lo80, hi80) == pytest.approx(tuple(np.quantile(bs.total_draws, [0.1, 0.9])), rel=1e-12) and lo < lo80 < hi80 < hi
    names = [c.name for c in bs.checks]
    assert names == ["BG/NBD fit converged", "Gamma-Gamma fit converged", "CLV bootstrap replicates converged"]
    assert bs.checks[-1].detail == f"{bs.n_boot} of 20 replicates converged"
    ax = plt.subplots()[1]
    assert bs.plot(ax=ax) is ax and ax.get_xlabel().startswith("CLV per customer (revenue units")
    assert est == pytest.approx(undiscounted["clv"].sum() / len(s), rel=1e-12)
    assert bs.reading == (f"Expected value of an average customer over the next 52 weeks: {est:,.1f} (95% CI "
                          f"{lo_c:,.1f}-{hi_c:,.1f}; parameter uncertainty only), discounted at 0% a year.")


def test_calibration_plot_and_errors(cdnow_from_log):
    bgf = BetaGeoFitter().fit(cdnow_from_log)
    chk = calibration_holdout(cdnow_from_log, bgf)
    assert chk.table["customers"].sum() == 2357
    # holdout purchases counted from the log: every purchase day after 1997-09-30
    assert chk.total_actual == cdnow_from_log["frequency_holdout"].sum()
    gap = chk.total_predicted / chk.total_actual - 1
    assert (f"customers made {chk.total_actual:,.0f} repeat purchase days and the model predicted "
            f"{chk.total_predicted:,.0f} ({gap:+.0%})") in chk.reading
    ax = plt.subplots()[1]
    assert chk.plot(ax=ax) is ax and ax.get_ylabel().startswith("mean purchases in holdout")
    finding, repeaters = chk.findings
    assert finding.value == gap == chk.gap
    assert finding.text in chk.reading and repeaters.text in chk.reading
    # the repeat buyers' sentence quotes their numbers, computed here from the summary
    rep = cdnow_from_log[cdnow_from_log["frequency"] > 0]
    pred = bgf.conditional_expected_purchases(rep["duration_holdout"].to_numpy(float), rep["frequency"],
                                              rep["recency"], rep["T"])
    assert chk.repeaters == len(rep)
    assert chk.actual_per_repeater == pytest.approx(rep["frequency_holdout"].mean(), rel=1e-12)
    assert chk.predicted_per_repeater == pytest.approx(pred.mean(), rel=1e-9) == repeaters.value
    assert f"The {len(rep):,} customers who had bought again" in repeaters.text
    assert f"made {rep['frequency_holdout'].mean():.2f} purchase days" in repeaters.text and f"predicted {pred.mean():.2f}" in repeaters.text
    assert chk.checks[0].status == ("pass" if abs(gap) <= 0.2 else "warn")
    assert chk.checks[1].status == ("pass" if abs(pred.mean() / rep["frequency_holdout"].mean() - 1) <= 0.5 else "warn")
    copy = chk.summary
    copy.loc[:, "customers"] = 0
    assert chk.table["customers"].sum() == 2357
    with pytest.raises(JourneyDataError, match="frequency_holdout"):
        calibration_holdout(cdnow_from_log.drop(columns="frequency_holdout"), bgf)
    with pytest.raises(JourneyFitError, match="repeat"):
        BetaGeoFitter().fit(pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [5.0, 3.0]}))
    with pytest.raises(JourneyDataError, match="recency"):
        BetaGeoFitter().fit(pd.DataFrame({"frequency": [1, 2], "recency": [6.0, 1.0], "T": [5.0, 3.0]}))
    with pytest.raises(JourneyParameterError, match="penalizer"):
        BetaGeoFitter(penalizer=-1)
    pen = BetaGeoFitter(penalizer=0.01).fit(cdnow_from_log)
    assert pen.params_["a"] < bgf.params_["a"]  # the penalty shrinks the parameters


def test_weights_summed_per_history_give_the_row_level_fit(cdnow_summary):
    """clv_bootstrap fits each replicate on distinct (x, t_x, T) with summed weights."""
    s = cdnow_summary
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    w = np.random.default_rng(2).multinomial(len(x), np.full(len(x), 1 / len(x))).astype(float)
    rows = BetaGeoFitter()
    rows._fit_arrays(x[w > 0], tx[w > 0], T[w > 0], w[w > 0])
    hist, inv = np.unique(np.column_stack([x, tx, T]), axis=0, return_inverse=True)
    hw = np.bincount(inv.ravel(), weights=w)
    comp = BetaGeoFitter()
    comp._fit_arrays(hist[hw > 0, 0], hist[hw > 0, 1], hist[hw > 0, 2], hw[hw > 0])
    for k, v in rows.params_.items():
        assert comp.params_[k] == pytest.approx(v, rel=1e-6)
    assert len(hist) < len(x)


def test_bgnbd_gradient_matches_finite_differences():
    """The analytic gradient the optimiser uses, against central differences of the likelihood."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, 2000).astype(float)
    T = rng.uniform(5, 50, 2000).round(1)
    tx = np.where(x > 0, T * rng.uniform(0, 1, 2000), 0).round(1)
    p = np.array([0.7, 3.0, 0.8, 2.5])
    _, grad = BetaGeoFitter._ll(p, x, tx, T)
    for k in range(4):
        h = np.zeros(4)
        h[k] = 1e-6
        fd = (BetaGeoFitter._ll(p + h, x, tx, T, False)[0] - BetaGeoFitter._ll(p - h, x, tx, T, False)[0]) / 2e-6
        np.testing.assert_allclose(grad[k], fd, atol=1e-6)


def test_compress_gives_the_distinct_rows_and_their_counts():
    """The likelihood's sufficient statistics, against numpy's row-wise unique."""
    from journeylib.loyalty.clv import _compress

    rng = np.random.default_rng(1)
    cols = [rng.integers(0, 5, 2000).astype(float), rng.integers(0, 3, 2000) / 7, rng.integers(0, 4, 2000) * 1.5]
    *uniq, counts = _compress(*cols)
    ref, ref_counts = np.unique(np.column_stack(cols), axis=0, return_counts=True)
    np.testing.assert_array_equal(np.column_stack(uniq), ref)
    np.testing.assert_array_equal(counts, ref_counts)


@pytest.mark.parametrize("missing", [False, True])
def test_distinct_rows_and_each_rows_index_as_numpy_gives_them(missing):
    """The bootstrap's distinct histories, against numpy's row-wise unique (with and without a missing value)."""
    from journeylib.loyalty.clv import _distinct_rows

    rng = np.random.default_rng(4)
    cols = [rng.integers(0, 5, 3000).astype(float), rng.integers(0, 3, 3000) / 7, rng.normal(size=3000).round(1)]
    if missing:
        cols[2][7] = np.nan
    uniq, inv = _distinct_rows(*cols)
    ref, ref_inv = np.unique(np.column_stack(cols), axis=0, return_inverse=True)
    np.testing.assert_array_equal(uniq, ref)
    np.testing.assert_array_equal(inv, ref_inv.ravel())
    np.testing.assert_array_equal(uniq[inv], np.column_stack(cols))


def test_gamma_gamma_on_distinct_spend_rows_equals_the_row_level_fit(cdnow_from_log):
    """clv_bootstrap fits each replicate's Gamma-Gamma on distinct (x, mean spend) with summed weights."""
    s = cdnow_from_log
    w = np.random.default_rng(5).multinomial(len(s), np.full(len(s), 1 / len(s))).astype(float)
    rows = GammaGammaFitter().fit(s[w > 0], weights=w[w > 0])
    x, m = s["frequency"].to_numpy(float), np.nan_to_num(s["monetary_value"].to_numpy(float))
    pairs, inv = np.unique(np.column_stack([x, m]), axis=0, return_inverse=True)
    pw = np.bincount(inv.ravel(), weights=w)
    comp = GammaGammaFitter().fit(pd.DataFrame({"frequency": pairs[pw > 0, 0], "monetary_value": pairs[pw > 0, 1]}),
                                  weights=pw[pw > 0])
    for k, v in rows.params_.items():
        assert comp.params_[k] == pytest.approx(v, rel=1e-6)
    assert (pw > 0).sum() < (w > 0).sum()


def test_gamma_gamma_against_planted_truth():
    sim = jl.simulate_journeys(6000, seed=2)
    s = customer_summary(sim.events, time_unit="W")
    ggf = GammaGammaFitter().fit(s)
    chk = clv.against_truth(sim.ground_truth, ggf).set_index("quantity")
    planted = sim.ground_truth["spend"]
    assert list(chk.index) == ["Gamma-Gamma p", "Gamma-Gamma q", "Gamma-Gamma gamma"]
    assert chk.loc["Gamma-Gamma q", "planted"] == planted["gamma_gamma_q"]
    assert chk.loc["Gamma-Gamma p", "estimate"] == ggf.params_["p"]
    # the simulator draws spend exactly from the Gamma-Gamma model: the intervals cover it
    assert chk["covered"].all(), chk
    with pytest.raises(JourneyParameterError, match="spend"):
        clv.against_truth({}, ggf)


def test_the_models_in_words_give_the_planted_order_value_and_purchase_rate():
    """The readings state the models' implied means: the mean order value p*gamma/(q-1) is the planted 40 and
    the purchase rate r/alpha the planted rate per week (loyalty members buy 1.25x as often: between the two)."""
    sim = jl.simulate_journeys(6000, seed=2)
    s = customer_summary(sim.events, time_unit="W")
    ggf, bgf, pnbd = GammaGammaFitter().fit(s), BetaGeoFitter().fit(s), clv.ParetoNBDFitter().fit(s)
    value = float(re.search(r"worth about ([\d.]+) on average", ggf.reading).group(1))
    assert value == round(ggf.params_["p"] * ggf.params_["gamma"] / (ggf.params_["q"] - 1), 2)
    assert value == pytest.approx(sim.ground_truth["spend"]["mean_order_value"], rel=0.05)
    planted = sim.ground_truth["purchase_process"]
    low, high = 7 * planted["mean_rate_per_day"], 7 * planted["mean_rate_per_day"] * planted["loyalty_rate_multiplier"]
    for model in (bgf, pnbd):
        rate = float(re.search(r"buys about ([\d.]+) times a week", model.reading).group(1))
        assert low * 0.9 <= rate <= high * 1.1, (model.model_name, rate)
    drop = re.search(r"after each repeat purchase about (\d+)% stop", bgf.reading).group(1)
    assert int(drop) == round(100 * bgf.params_["a"] / (bgf.params_["a"] + bgf.params_["b"]))
    alive = re.search(r"about (\d+)% are still active a year", pnbd.reading).group(1)
    p = pnbd.params_
    assert int(alive) == round(100 * (p["beta"] / (p["beta"] + 365.25 / 7)) ** p["s"])
    with pytest.raises(JourneyParameterError, match="not fitted"):
        BetaGeoFitter().reading


def test_calibration_reading_does_not_hide_written_off_repeat_buyers():
    """Issue 23: on a real small shop the model predicted 1.95e-10 holdout purchases per calibration repeater
    where 0.267 happened, and the reading said only "actual 16, predicted 17 (+7%)". The issue's numbers:"""
    table = pd.DataFrame({"frequency_bucket": ["0", "1", "2"], "customers": [300, 12, 3],
                          "actual": [12 / 300, 0.25, 1 / 3], "predicted": [17 / 300, 1.95e-10, 1.95e-10]})
    chk = clv.CalibrationCheck(table, 12.0, "W")
    assert (chk.total_actual, round(chk.total_predicted, 6)) == (16.0, 17.0)
    assert chk.repeaters == 15 and chk.actual_per_repeater == pytest.approx(4 / 15) and f"{4 / 15:.3f}" == "0.267"
    assert chk.reading == ("Over the 12-week holdout customers made 16 repeat purchase days and the model predicted "
                           "17 (+6%). The 15 customers who had bought again before the holdout made 0.267 purchase "
                           "days each in it; the model predicted less than 0.001 (-100%): it wrongly treats repeat "
                           "buyers as lost. Treat the lifetime values as unreliable.")
    total, repeaters = chk.checks
    assert total.status == "pass" and repeaters.status == "warn" and "0.267" in repeaters.detail
    assert "e-" not in chk.reading + repeaters.detail + "".join(f.text for f in chk.findings)
    assert chk.findings[1].action.startswith("Do not use these lifetime values")


def test_calibration_reading_on_a_small_shop_simulation():
    """A small shop (about 3,700 visitors, 19 calibration repeat buyers): the penalised BG/NBD fit is
    degenerate (dropout a, b near 0: every repeat buyer is taken for gone), and the reading says so with
    the numbers it describes."""
    shop = jl.simulate_journeys(3700, seed=3, months=6, mean_purchase_rate=1 / 2000)
    split, end = clv.holdout_split(shop.events)
    cal = clv.customer_summary(shop.events, calibration_end=split, holdout_end=end, time_unit="W")
    bgf = BetaGeoFitter(0.001).fit(cal)
    chk = calibration_holdout(cal, bgf)
    rep = cal[cal["frequency"] > 0]
    actual = rep["frequency_holdout"].mean()
    pred = bgf.conditional_expected_purchases(rep["duration_holdout"].to_numpy(float), rep["frequency"],
                                              rep["recency"], rep["T"]).mean()
    assert len(rep) == chk.repeaters == 19 and actual > 0.05 and pred < 1e-3
    assert f"The 19 customers who had bought again before the holdout made {actual:.3f} purchase days" in chk.reading
    assert "the model predicted less than 0.001 (-100%): it wrongly treats repeat buyers as lost" in chk.reading
    assert f"made {cal['frequency_holdout'].sum():,.0f} repeat purchase days" in chk.reading
    assert [c.status for c in chk.checks] == ["warn", "warn"]
