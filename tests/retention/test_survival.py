"""Kaplan-Meier, log-rank and Cox against published values, lifelines itself and planted truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi, load_waltons
from lifelines.statistics import logrank_test, multivariate_logrank_test, proportional_hazard_test
from lifelines.utils import median_survival_times

import journeylib as jl
from journeylib.retention import churn
from journeylib.retention import survival as sv
from journeylib.retention import winback
from journeylib.core.errors import JourneyDataError, JourneyParameterError

# Rossi recidivism data, Cox model with all covariates: Fox (2002), "Cox Proportional-
# Hazards Regression for Survival Data", Appendix to An R and S-PLUS Companion to
# Applied Regression, table on p. 4 (also the lifelines documentation's example).
ROSSI_PUBLISHED = {"fin": -0.3794, "age": -0.0574, "race": 0.3139, "wexp": -0.1498,
                   "mar": -0.4337, "paro": -0.0849, "prio": 0.0915}


@pytest.fixture(scope="module")
def sim8k():
    """8,000 simulated customers (about 2,200 purchasers): tight enough for the planted HRs."""
    sim = jl.simulate_journeys(8000, seed=1)
    lab = churn.churn_labels(sim.events, sim.customers, start_event="purchase", churn_after=60)
    return sim, lab


# --------------------------------------------------------------------------- published / lifelines
def test_cox_rossi_matches_published():
    rossi = load_rossi()
    res = sv.cox(rossi, list(ROSSI_PUBLISHED), duration_col="week", event_col="arrest")
    coefs = res.summary.set_index("term")["coef"]
    for name, published in ROSSI_PUBLISHED.items():
        assert coefs[name] == pytest.approx(published, abs=1e-3), name
    assert res.concordance == pytest.approx(0.640, abs=1e-3)  # lifelines docs: Concordance = 0.64
    hr = res.hazard_ratio("fin")
    lo, hi = res.interval("fin")
    assert lo < hr < hi and hr == pytest.approx(np.exp(-0.3794), abs=1e-3)
    # the Schoenfeld check is lifelines' own test on the same fit
    ref = proportional_hazard_test(CoxPHFitter().fit(rossi, "week", "arrest"), rossi, time_transform="rank")
    got = res.ph_test.set_index("term")["pvalue"]
    for term in ROSSI_PUBLISHED:
        assert got[term] == pytest.approx(ref.summary.loc[term, "p"], rel=1e-6)
    assert res.ph_ok == bool((ref.summary["p"] >= 0.01).all())


def test_km_matches_lifelines_waltons():
    w = load_waltons()
    km = sv.kaplan_meier(w, duration_col="T", event_col="E", by="group", horizons=(30, 60))
    for g in ("control", "miR-137"):
        sub = w[w["group"] == g]
        ref = KaplanMeierFitter().fit(sub["T"], sub["E"])
        assert km.median(g) == ref.median_survival_time_
        np.testing.assert_array_equal(km.fitters[g].survival_function_.to_numpy(), ref.survival_function_.to_numpy())
        assert km.survival_at(30, g) == pytest.approx(float(ref.survival_function_at_times(30).iloc[0]))
    row = km.summary.set_index("group").loc["control"]
    assert row["customers"] == (w["group"] == "control").sum()
    assert row["churned"] == w.loc[w["group"] == "control", "E"].sum()
    # the median's interval (ci_low, ci_high) is lifelines' median of the confidence band
    assert row["ci_low"] <= row["median_days"] <= row["ci_high"]
    band = median_survival_times(KaplanMeierFitter().fit(w.loc[w.group == "control", "T"],
                                                          w.loc[w.group == "control", "E"]).confidence_interval_)
    assert (row["ci_low"], row["ci_high"]) == (band.iloc[0, 0], band.iloc[0, 1])


def test_km_from_counts_equals_row_level(small_sim):
    sim = small_sim
    lab = churn.churn_labels(sim.events, sim.customers, start_event="purchase")
    lab["day"] = np.floor(lab["duration"]).astype("int64")
    cnt = churn.churn_counts(sim.events, sim.customers, by="segment", start_event="purchase")
    rows = sv.kaplan_meier(lab, duration_col="day", by="segment")
    agg = sv.kaplan_meier(cnt, by="segment", weights_col="n")
    assert len(cnt) < len(lab)
    for g in rows.fitters:
        a, b = rows.fitters[g], agg.fitters[g]
        np.testing.assert_array_equal(a.survival_function_.to_numpy(), b.survival_function_.to_numpy())
        np.testing.assert_array_equal(a.confidence_interval_.to_numpy(), b.confidence_interval_.to_numpy())
    pd.testing.assert_frame_equal(rows.summary, agg.summary)
    pd.testing.assert_frame_equal(rows.retention, agg.retention)
    # and the log-rank statistic from counts equals the one from rows
    assert sv.logrank(cnt, "segment", weights_col="n").statistic == pytest.approx(
        sv.logrank(lab, "segment", duration_col="day").statistic, rel=1e-10)


def test_retention_table_steps_and_horizon_beyond_followup():
    df = pd.DataFrame({"duration": [1, 2, 2, 5, 8, 8], "churned": [1, 1, 0, 1, 0, 1]})
    km = sv.kaplan_meier(df, horizons=(0, 1.5, 2, 5, 9))
    r = km.retention.set_index("horizon_days")["retention"]
    # hand computation: S(1)=5/6, S(2)=5/6*4/5=2/3 (1 event of 5 at risk), S(5)=2/3*2/3 (1 of 3), S(8)=0
    assert r[0.0] == 1.0
    assert r[1.5] == pytest.approx(5 / 6)
    assert r[2.0] == pytest.approx(2 / 3)
    assert r[5.0] == pytest.approx(4 / 9)
    assert np.isnan(r[9.0])  # past the last follow-up time: not estimable
    at_risk = km.retention.set_index("horizon_days")["at_risk"]
    # customers with duration >= horizon
    assert [at_risk[h] for h in (0, 1.5, 2, 5, 9)] == [6, 5, 5, 3, 0]


def test_logrank_matches_lifelines(sim8k):
    _, lab = sim8k
    two = lab[lab["segment"].isin(["premium", "standard"])]
    res = sv.logrank(two, "segment")
    a, b = two[two.segment == "premium"], two[two.segment == "standard"]
    ref = logrank_test(a.duration, b.duration, a.churned, b.churned)
    assert res.statistic == pytest.approx(ref.test_statistic, rel=1e-9)
    assert res.pvalue == pytest.approx(ref.p_value, rel=1e-9)
    assert res.df == 1
    multi = sv.logrank(lab, "segment")
    ref3 = multivariate_logrank_test(lab.duration, lab.segment, lab.churned)
    assert multi.statistic == pytest.approx(ref3.test_statistic, rel=1e-9) and multi.df == 2
    t = multi.summary.set_index("group")
    # observed and expected churns balance; the planted ordering shows: budget > standard > premium
    assert t["observed"].sum() == pytest.approx(t["expected"].sum())
    assert t.loc["budget", "observed_over_expected"] > t.loc["standard", "observed_over_expected"] \
        > t.loc["premium", "observed_over_expected"]
    assert "log-rank" in multi.reading and "<table" in multi._repr_html_()
    with pytest.raises(JourneyDataError, match="only one group"):
        sv.logrank(lab[lab.segment == "budget"], "segment")


# --------------------------------------------------------------------------- planted truth
def test_cox_recovers_planted_segment_hazard_ratios(sim8k):
    sim, lab = sim8k
    res = sv.cox(lab, ["segment"], reference={"segment": "standard"})
    planted = sim.ground_truth["segments"]["churn_hazard_ratio"]
    for seg in ("premium", "budget"):
        lo, hi = res.interval(f"segment: {seg}")
        assert lo < planted[seg] < hi, (seg, lo, hi)
        assert hi / lo < 1.6  # tight enough to mean something
    # PH holds by construction (constant hazards); the check travels with the result
    assert res.ph_ok
    (check,) = res.checks
    assert check.name == "Cox proportional-hazards assumption" and check.status == "pass"
    assert "holds" in check.detail


def test_time_varying_loyalty_recovers_planted_and_naive_is_biased(sim8k):
    sim, lab = sim8k
    planted = sim.ground_truth["churn"]["loyalty_hazard_ratio"]
    tv = sv.cox(lab, ["segment"], time_varying={"loyalty": "loyalty_joined_at"}, reference={"segment": "standard"})
    lo, hi = tv.interval("loyalty")
    assert lo < planted < hi, (lo, hi)
    assert tv.kind == "time-varying"
    naive = sv.cox(lab, ["segment", "loyalty_member"], reference={"segment": "standard"})
    # immortal time: members had to survive until they joined, so the baseline flag looks far more protective
    assert naive.hazard_ratio("loyalty_member") < lo
    assert naive.hazard_ratio("loyalty_member") < 0.5


def test_stratified_cox_drops_the_stratum_term(sim8k):
    _, lab = sim8k
    res = sv.cox(lab, ["loyalty_member"], strata=["segment"])
    assert list(res.summary["term"]) == ["loyalty_member"]
    assert res.strata == ("segment",)


def test_to_start_stop_hand_built():
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    df = pd.DataFrame({
        "customer_id": ["mid", "before", "after", "never"],
        "start": [t0] * 4,
        "duration": [100.0, 50.0, 30.0, 20.0],
        "churned": [True, False, True, True],
        "joined": [t0 + pd.Timedelta(days=40), t0 - pd.Timedelta(days=5), t0 + pd.Timedelta(days=31), pd.NaT],
    })
    long = sv.to_start_stop(df, {"member": "joined"})
    got = long[["customer_id", "start", "stop", "member", "churned"]].values.tolist()
    assert got == [
        ["mid", 0.0, 40.0, 0.0, False], ["mid", 40.0, 100.0, 1.0, True],
        ["before", 0.0, 50.0, 1.0, False],
        ["after", 0.0, 30.0, 0.0, True],
        ["never", 0.0, 20.0, 0.0, True],
    ]


# --------------------------------------------------------------------------- errors, display, plots
def test_bad_inputs():
    df = pd.DataFrame({"duration": [1.0, -2.0], "churned": [True, False], "g": ["a", "b"]})
    with pytest.raises(JourneyDataError, match="'duration'"):
        sv.kaplan_meier(df)
    with pytest.raises(JourneyDataError, match="missing column"):
        sv.kaplan_meier(df.drop(columns="churned"))
    ok = df.assign(duration=[1.0, 2.0])
    for level in (2, 0, 95, True):
        with pytest.raises(JourneyParameterError, match="confidence_level"):
            sv.kaplan_meier(ok, confidence_level=level)
    with pytest.raises(JourneyParameterError, match="confidence_level"):
        sv.cox(ok, ["g"], confidence_level=1.5)
    with pytest.raises(JourneyParameterError, match="reference"):
        sv.cox(ok, ["g"], reference={"g": "zzz"})
    with pytest.raises(JourneyDataError, match="no churn"):
        sv.cox(ok.assign(churned=False), ["g"])
    with pytest.raises(JourneyParameterError, match="at least one column"):
        sv.cox(ok, [])
    for horizons in (["x"], [-5], [float("nan")]):
        with pytest.raises(JourneyParameterError, match="horizons"):
            sv.kaplan_meier(ok, horizons=horizons)

    # labels without the customers table: the error says where segment comes from
    labels = ok.assign(customer_id=["c1", "c2"])
    with pytest.raises(JourneyDataError, match=r"(?s)missing column\(s\) \['segment'\].*churn_labels\(events, customers\)"):
        sv.kaplan_meier(labels, by="segment")


def test_plots_and_repr(sim8k):
    import matplotlib.pyplot as plt

    _, lab = sim8k
    km = sv.kaplan_meier(lab, by="segment")
    for draw, ylabel in ((km.plot, "share still active"), (km.plot_cumulative_hazard, "cumulative hazard"),
                         (km.plot_retention, "still active (%)")):
        fig, ax = plt.subplots()
        out = draw(ax=ax)
        assert out is ax and ax.get_ylabel().startswith(ylabel) and ax.get_title()
    res = sv.cox(lab, ["segment"], reference={"segment": "standard"})
    fig, ax = plt.subplots()
    assert res.plot(ax=ax) is ax and ax.get_xscale() == "log" and ax.get_title().endswith("reference: segment = standard")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["segment: premium", "segment: budget"]
    assert "hazard_ratio" in repr(res) and "<table" in res._repr_html_()
    assert "median_days" in repr(km) and "<table" in km._repr_html_()


def test_a_switch_column_that_is_not_timestamps_names_the_rows(sim8k):
    _, lab = sim8k
    with pytest.raises(JourneyDataError, match=r"(?s)'segment'.*a timestamp \(the switch time\)"):
        sv.cox(lab, ["loyalty_member"], time_varying={"member": "segment"})


def test_to_start_stop_two_switches_and_day_zero():
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    df = pd.DataFrame({
        "customer_id": ["a", "b", "c"], "start": [t0] * 3, "duration": [30.0, 0.0, 10.0],
        "churned": [True, True, False],
        "x_at": [t0 + pd.Timedelta(days=10), pd.NaT, t0 + pd.Timedelta(days=5)],
        "y_at": [t0 + pd.Timedelta(days=20), t0, t0 + pd.Timedelta(days=5)],
    })
    long = sv.to_start_stop(df, {"x": "x_at", "y": "y_at"})
    got = long[["customer_id", "start", "stop", "x", "y", "churned"]].values.tolist()
    assert got == [
        ["a", 0.0, 10.0, 0.0, 0.0, False], ["a", 10.0, 20.0, 1.0, 0.0, False], ["a", 20.0, 30.0, 1.0, 1.0, True],
        ["b", 0.0, 0.0, 0.0, 1.0, True],
        ["c", 0.0, 5.0, 0.0, 0.0, False], ["c", 5.0, 10.0, 1.0, 1.0, False],
    ]


def test_cox_on_a_sample_uses_that_many_rows_and_still_covers_the_planted_ratio(sim8k):
    sim, lab = sim8k
    full = sv.cox(lab, ["segment"], reference={"segment": "standard"})
    half = len(lab) // 2
    part = sv.cox(lab, ["segment"], reference={"segment": "standard"}, sample=half, seed=1)
    assert part.n == half and full.n == len(lab)
    planted = sim.ground_truth["segments"]["churn_hazard_ratio"]["premium"]
    lo, hi = part.interval("segment: premium")
    assert lo < planted < hi
    # half the customers: intervals about sqrt(2) wider on the log scale
    flo, fhi = full.interval("segment: premium")
    assert 1.2 < np.log(hi / lo) / np.log(fhi / flo) < 1.7
    same = sv.cox(lab, ["segment"], reference={"segment": "standard"}, sample=len(lab) + 5)
    assert same.hazard_ratio("segment: premium") == pytest.approx(full.hazard_ratio("segment: premium"))
    with pytest.raises(JourneyParameterError, match="sample"):
        sv.cox(lab, ["segment"], sample=0.5)


def test_cox_drops_missing_covariates_only_when_asked_and_says_so(sim8k):
    sim, lab = sim8k
    lab = lab.merge(churn.first_order_value(sim.events), on="customer_id", how="left")
    gone = lab.sample(frac=0.1, random_state=3).index  # planted gaps (e.g. orders without a recorded value)
    lab.loc[gone, "first_order_value"] = np.nan
    n_na = len(gone)
    with pytest.raises(JourneyDataError, match="first_order_value"):
        sv.cox(lab, ["segment", "first_order_value"])
    res = sv.cox(lab, ["segment", "first_order_value"], missing="drop")
    assert res.missing == {"first_order_value": n_na}
    assert res.n == res.n_available == len(lab) - n_na
    # the same fit as on the complete rows by hand
    by_hand = sv.cox(lab.dropna(subset=["first_order_value"]), ["segment", "first_order_value"])
    assert res.hazard_ratio("first_order_value") == pytest.approx(by_hand.hazard_ratio("first_order_value"))
    assert f"{n_na:,} without first_order_value" in res.note
    part = sv.cox(lab, ["segment", "first_order_value"], missing="drop", sample=1000)
    assert part.n == 1000 and f"sample of 1,000 of the {len(lab) - n_na:,}" in part.note
    with pytest.raises(JourneyParameterError, match="missing"):
        sv.cox(lab, ["segment"], missing="ignore")


def test_readings_follow_the_numbers(sim8k):
    _, lab = sim8k
    km = sv.kaplan_meier(lab, by="segment", horizons=[30, 90])
    lines = km.reading.splitlines()
    s = km.summary
    assert len(lines) == len(s)
    for line, r in zip(lines, s.to_dict("records")):
        assert f"**{r['group']}** ({r['customers']:,} customers)" in line
        assert f"{r['retention_30d']:.0%} after 30 days" in line and f"{r['retention_90d']:.0%} after 90 days" in line
        if np.isfinite(r["median_days"]):
            assert f"about {r['median_days']:.0f} days" in line
    res = sv.cox(lab, ["segment"], reference={"segment": "standard"})
    # premium churns slower (planted 0.6), budget faster (1.5), both clearly
    assert "segment: premium churns slower" in res.reading and "segment: budget churns faster" in res.reading
    assert "hold across customer age" in res.reading


def test_membership_effect_is_the_two_cox_fits_and_recovers_the_planted_ratio(sim8k):
    sim, lab = sim8k
    planted = sim.ground_truth["churn"]["loyalty_hazard_ratio"]
    eff = sv.membership_effect(lab, "loyalty_joined_at", ["segment"], reference={"segment": "standard"})
    tv = sv.cox(lab, ["segment"], time_varying={"member": "loyalty_joined_at"}, reference={"segment": "standard"})
    assert eff.hazard_ratio == pytest.approx(tv.hazard_ratio("member"))
    s = eff.summary
    assert list(s["model"].str.split(":").str[0]) == ["naive", "start/stop"]
    lo, hi = s.loc[1, ["ci_low", "ci_high"]]
    assert lo < planted < hi
    assert s.loc[0, "ci_high"] < planted  # immortal-time bias: the naive flag looks far more protective
    assert f"hazard ratio {eff.hazard_ratio:.2f}" in eff.reading and "<table" in eff._repr_html_()
    one = sv.membership_effect(lab, "loyalty_joined_at", "segment", reference={"segment": "standard"})
    assert one.hazard_ratio == pytest.approx(eff.hazard_ratio)  # a single covariate may be a string
    with pytest.raises(JourneyDataError, match="no_such_column"):
        sv.membership_effect(lab, "no_such_column")


def test_against_truth_on_simulated_data(sim8k):
    sim, lab = sim8k
    truth = sim.ground_truth
    res = sv.cox(lab, ["segment"], reference={"segment": "standard"})
    eff = sv.membership_effect(lab, "loyalty_joined_at", ["segment"], reference={"segment": "standard"})
    wb = winback.winback_rates(sim.events, sim.customers, inactive_days=60, within_days=50)
    check = sv.against_truth(truth, cox=res, membership=eff, winback=wb).set_index("quantity")
    assert check.loc["churn hazard ratio, premium vs standard", "planted"] == 0.6
    assert check.loc["churn hazard ratio, budget vs standard", "estimate"] == pytest.approx(
        res.hazard_ratio("segment: budget"))
    assert check.loc["loyalty hazard ratio (start/stop)", "covered"]
    assert not check.loc["loyalty hazard ratio (naive)", "covered"]
    for ch, p in truth["winback"]["return_prob"].items():
        row = check.loc[f"win-back return rate, {ch}"]
        assert row["planted"] == p and row["estimate"] == pytest.approx(wb.rate(touch_channel=ch))
    # against another reference level the planted ratio is relative to it
    other = sv.cox(lab, ["segment"], reference={"segment": "premium"})
    rel = sv.against_truth(truth, cox=other).set_index("quantity")
    with pytest.raises(JourneyParameterError, match=r"truth: .*\['segments'\]"):
        sv.against_truth({}, cox=other)
    assert rel.loc["churn hazard ratio, budget vs premium", "planted"] == pytest.approx(1.5 / 0.6)
    assert rel.loc["churn hazard ratio, budget vs premium", "covered"]


def _lifelines_every_hour(d, e, w=None, level=0.95):
    """lifelines' Kaplan-Meier read every hour: the independent reference of ``curve_every_hour``."""
    from lifelines import KaplanMeierFitter

    from journeylib.core.time import curve_grid

    kmf = KaplanMeierFitter(alpha=round(1 - level, 12)).fit(d, e, weights=w)
    grid = curve_grid(np.max(d))
    at = np.searchsorted(kmf.survival_function_.index.to_numpy(float), grid, side="right") - 1
    band = kmf.confidence_interval_.to_numpy(float)[at]
    w = np.ones(len(d)) if w is None else np.asarray(w, float)
    return pd.DataFrame({"days": grid, "survival": kmf.survival_function_.iloc[:, 0].to_numpy(float)[at],
                         "ci_low": band[:, 0], "ci_high": band[:, 1],
                         "at_risk": [w[np.asarray(d) >= g].sum() for g in grid]})


@pytest.mark.parametrize("case", ["seconds", "ties", "weights", "zero_and_all_churn", "none_churn"])
def test_curve_every_hour_is_lifelines_kaplan_meier(case):
    from journeylib.retention.survival import curve_every_hour

    rng = np.random.default_rng(11)
    w, level = None, 0.95
    if case == "seconds":
        d = rng.exponential(5, 4000)
        e = rng.random(4000) < 0.6
    elif case == "ties":  # half days: many events and censorings at one time
        d = np.round(rng.exponential(5, 4000) * 2) / 2
        e = rng.random(4000) < 0.6
    elif case == "weights":
        d, e = np.round(rng.exponential(5, 800)), rng.random(800) < 0.5
        w, level = rng.integers(1, 9, 800).astype(float), 0.9
    elif case == "zero_and_all_churn":  # events at 0, and every customer left at the last time churns
        d, e = np.array([0, 0, 1, 2, 2, 3.0]), np.array([1, 0, 1, 0, 1, 1], bool)
    else:
        d, e = np.array([1, 2, 2.0]), np.zeros(3, bool)
    got = curve_every_hour(d, e, w, confidence_level=level)
    pd.testing.assert_frame_equal(got, _lifelines_every_hour(d, e, w, level), check_exact=False, rtol=1e-12, atol=1e-12)
    if case == "zero_and_all_churn":
        assert got["survival"].iloc[0] == pytest.approx(5 / 6) and got["survival"].iloc[-1] == 0.0


@pytest.mark.parametrize("case", ["seconds", "ties", "weights", "zero_and_all_churn", "none_churn", "starts_late"])
def test_kaplan_meier_arrays_are_lifelines_kaplan_meier(case):
    """Median, the median's interval and the curve with its band at any time: lifelines' numbers."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    from journeylib.retention.survival import kaplan_meier_arrays

    rng = np.random.default_rng(12)
    w, level = None, 0.95
    if case == "seconds":
        d, e = rng.exponential(5, 4000), rng.random(4000) < 0.6
    elif case == "ties":
        d, e = np.round(rng.exponential(5, 4000) * 2) / 2, rng.random(4000) < 0.6
    elif case == "weights":
        d, e = np.round(rng.exponential(5, 800)), rng.random(800) < 0.5
        w, level = rng.integers(1, 9, 800).astype(float), 0.9
    elif case == "zero_and_all_churn":
        d, e = np.array([0, 0, 1, 2, 2, 3.0]), np.array([1, 0, 1, 0, 1, 1], bool)
    elif case == "none_churn":
        d, e = np.array([1, 2, 2.0]), np.zeros(3, bool)
    else:  # no duration at 0, few events: the interval's upper end is never reached
        d, e = 3 + rng.exponential(20, 60), rng.random(60) < 0.3
    kmf = KaplanMeierFitter(alpha=round(1 - level, 12)).fit(d, e, weights=w)
    km = kaplan_meier_arrays(d, e, w, confidence_level=level)
    np.testing.assert_array_equal(km.times, kmf.survival_function_.index.to_numpy(float))
    np.testing.assert_allclose(km.survival, kmf.survival_function_.iloc[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.c_[km.ci_low, km.ci_high], kmf.confidence_interval_, rtol=1e-12, atol=1e-12)
    ci = median_survival_times(kmf.confidence_interval_).to_numpy(float)[0]
    assert km.median() == (kmf.median_survival_time_, ci[0], ci[1])
    idx, band = kmf.survival_function_.index.to_numpy(float), kmf.confidence_interval_.to_numpy(float)
    for t in [0.0, 0.5, 2.0, 7.25, float(np.max(d)), float(np.max(d)) + 1]:
        i = np.searchsorted(idx, t, side="right") - 1
        want = (np.nan,) * 3 if t > idx[-1] else (kmf.survival_function_.iloc[i, 0], *band[i])
        np.testing.assert_allclose(km.at(t), want, rtol=1e-12, atol=1e-12)


def test_a_level_without_churn_is_named_instead_of_a_convergence_failure():
    """Nobody in one segment churned: its hazard ratio would be 0 (the fit does not converge); the error names
    the level and what to do, and a penalised fit still runs."""
    import journeylib as jl
    from journeylib.core.errors import JourneyDataError

    rng = np.random.default_rng(5)
    seg = rng.choice(["a", "b", "c"], 600)
    churned = (rng.random(600) < 0.5) & (seg != "c")
    df = pd.DataFrame({"duration": rng.exponential(30, 600), "churned": churned, "segment": seg,
                       "vip": seg == "c"})
    with pytest.raises(JourneyDataError, match=r"column 'segment': nobody churned among the \d+ customers with "
                                               r"segment = 'c'.*\nWhat to do: merge 'c' into a neighbouring level"):
        jl.cox(df, ["segment"])
    with pytest.raises(JourneyDataError, match=r"column 'vip': nobody churned among the \d+ customers with vip = 'True'"):
        jl.cox(df, ["vip"])
    res = jl.cox(df, ["segment"], penalizer=0.1)
    hr = res.summary.set_index("term")["hazard_ratio"]
    assert hr["segment: c"] < 0.5 < hr["segment: b"]  # shrunk towards 1, still far below the others


def test_a_fit_that_does_not_converge_says_why_without_web_links():
    import journeylib as jl
    from journeylib.core.errors import JourneyFitError

    rng = np.random.default_rng(6)
    x = rng.normal(size=400)
    df = pd.DataFrame({"duration": rng.exponential(30, 400), "churned": rng.random(400) < 0.6, "x": x, "x2": 2 * x})
    with pytest.raises(JourneyFitError) as err:
        jl.cox(df, ["x", "x2"])
    msg = str(err.value)
    assert msg.startswith("Cox model did not converge: ") and "Try penalizer=0.01" in msg
    assert "http" not in msg and "Please see" not in msg
