"""Attribution checked against a holdout: exact numbers on a hand-made log, planted truth on a simulation."""
from __future__ import annotations

import dataclasses
import doctest
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.core.result import Check, Finding
from journeylib.journeys import calibration
from journeylib.journeys.calibration import calibrate_attribution

T0 = pd.Timestamp("2025-03-01", tz="UTC")

# exposed customers e0..e9 (6 convert), holdout h0..h9 (3 convert); touches in order, then a purchase
EXPOSED = {
    "e0": (["search", "email"], 3),
    "e1": (["email"], 3),
    "e2": (["social", "email"], 3),
    "e3": (["search"], 3),
    "e4": (["email", "search"], 3),
    "e5": (["social"], 3),
    "e6": (["search", "email"], None),
    "e7": (["search"], None),
    "e8": (["social"], None),
    "e9": (["direct"], None),
}
HOLDOUT = {f"h{i}": (["search"], 3 if i < 3 else None) for i in range(10)}


def _log(exposed=EXPOSED, holdout=HOLDOUT, late_purchase_day=None):
    rows, assign = [], []
    for arm, group in (("exposed", exposed), ("holdout", holdout)):
        for cid, (touches, buy_day) in group.items():
            assign.append((cid, "email_holdout", arm, T0))
            for k, ch in enumerate(touches):
                rows.append((cid, T0 + pd.Timedelta(hours=k + 1), "landing" if k == 0 else "visit", ch))
            if buy_day is not None:
                rows.append((cid, T0 + pd.Timedelta(days=buy_day), "purchase", None))
    if late_purchase_day is not None:  # e3 buys again much later (outside a 30-day window)
        rows.append(("e7", T0 + pd.Timedelta(days=late_purchase_day), "purchase", None))
    events = pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel"])
    assignments = pd.DataFrame(assign, columns=["customer_id", "experiment", "variant", "assigned_at"])
    return events, assignments


@pytest.fixture(scope="module")
def hand():
    events, assignments = _log()
    return calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
                                 models=["first_touch", "last_touch", "linear", "position_based"])


def test_incremental_conversions_and_interval_by_hand(hand):
    # 6 of 10 exposed and 3 of 10 held-out customers convert: (0.6 - 0.3) x 10 = 3 extra conversions
    assert hand.incremental == pytest.approx(3.0)
    assert hand.difference == pytest.approx(0.3)
    lo, hi = confint_proportions_2indep(6, 10, 3, 10, method="newcomb", compare="diff")
    assert hand.confidence_interval() == pytest.approx((10 * lo, 10 * hi))
    assert (hand.ci_low, hand.ci_high) == pytest.approx((10 * lo, 10 * hi))
    z, p = proportions_ztest([6, 3], [10, 10])
    assert hand.statistic == pytest.approx(z) and hand.pvalue == pytest.approx(p)
    arms = hand.arms.set_index("variant")
    assert arms.loc["exposed", ["customers", "conversions"]].tolist() == [10, 6]
    assert arms.loc["holdout", ["customers", "conversions"]].tolist() == [10, 3]
    assert hand.attributed_conversions == 6


def test_credit_factor_and_best_model_by_hand(hand):
    t = hand.summary.set_index("model")
    # email's credit among the exposed conversions: first touch e1, e4; last touch e0, e1, e2;
    # linear and position-based (two-touch paths split 50/50) 0.5 + 1 + 0.5 + 0.5
    expected = {"first_touch": 2.0, "last_touch": 3.0, "linear": 2.5, "position_based": 2.5}
    for model, credit in expected.items():
        assert t.loc[model, "credited_conversions"] == pytest.approx(credit)
        assert t.loc[model, "calibration_factor"] == pytest.approx(3.0 / credit)
        assert t.loc[model, "ci_low"] == pytest.approx(hand.ci_low / credit)
        assert t.loc[model, "ci_high"] == pytest.approx(hand.ci_high / credit)
        assert t.loc[model, "log_distance"] == pytest.approx(abs(np.log(3.0 / credit)))
    # the test cannot tell the effect from zero (4 of 10 customers an arm): no model is named
    assert hand.best_model is None and not t["best"].any()
    assert t["log_distance"].idxmin() == "last_touch"
    assert hand.factor("last_touch") == pytest.approx(1.0)
    with pytest.raises(JourneyParameterError, match="was not fitted"):
        hand.factor("markov")


def test_all_models_run_and_the_closest_credit_is_named():
    events, assignments = _log()
    cal = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email")
    t = cal.summary
    assert list(t["model"]) == list(jl.journeys.attribution.ALL_MODELS)
    assert cal.best_model is None  # not measured
    big_e = {f"{k}_{r}": v for r in range(20) for k, v in EXPOSED.items()}
    big_h = {f"{k}_{r}": v for r in range(20) for k, v in HOLDOUT.items()}
    cal = calibrate_attribution(*_log(big_e, big_h), experiment="email_holdout", channel="email")
    t = cal.summary
    best = t.loc[(np.log(t["credited_conversions"]) - np.log(60.0)).abs().idxmin(), "model"]
    assert cal.measured and cal.best_model == best and t.set_index("model").loc[best, "best"]


def test_window_counts_conversions_within_it_and_leaves_out_unfinished_windows():
    events, assignments = _log(late_purchase_day=40)
    late = pd.DataFrame([("e10", "email_holdout", "exposed", T0 + pd.Timedelta(days=45))],
                        columns=assignments.columns)
    assignments = pd.concat([assignments, late], ignore_index=True)
    events = pd.concat([events, pd.DataFrame([("e10", T0 + pd.Timedelta(days=46), "purchase", None),
                                              ("h9", T0 + pd.Timedelta(days=60), "visit", "search")],
                                             columns=events.columns)], ignore_index=True)
    whole = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
                                  models=["last_touch"])
    assert whole.arms.set_index("variant").loc["exposed", ["customers", "conversions"]].tolist() == [11, 8]
    cal = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
                                window_days=30, models=["last_touch"])
    # e10's 30-day window ends after the data (day 60): left out; e7's day-40 purchase is outside its window
    assert cal.excluded == 1
    assert cal.arms.set_index("variant").loc["exposed", ["customers", "conversions"]].tolist() == [10, 6]
    assert cal.incremental == pytest.approx(3.0)
    assert any(c.name == "follow-up" and c.status == "warn" for c in cal.checks)


def test_findings_are_plain_sentences_with_numbers(hand):
    # the hand-made test cannot tell the effect from zero: one finding that says so
    assert len(hand.findings) == 1
    f = hand.findings[0]
    assert f.value == pytest.approx(3.0) and (f.ci_low, f.ci_high) == pytest.approx((hand.ci_low, hand.ci_high))
    assert "cannot" in f.text and f.action
    checks = {c.name: c.status for c in hand.checks}
    assert checks["incremental conversions measured"] == "warn" and checks["holdout arm sizes"] == "warn"
    assert checks["SRM: email_holdout"] == "pass"


def test_a_measured_effect_names_the_best_model_in_words():
    big_e = {f"{k}_{r}": v for r in range(20) for k, v in EXPOSED.items()}
    big_h = {f"{k}_{r}": v for r in range(20) for k, v in HOLDOUT.items()}
    events, assignments = _log(big_e, big_h)
    cal = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
                                models=["first_touch", "last_touch", "linear"])
    assert cal.measured and cal.incremental == pytest.approx(60.0)
    lo, hi = cal.confidence_interval()
    assert lo < 50 < hi and 40 < lo  # linear's credit (50) is inside the test's interval, first touch's (40) not
    assert len(cal.findings) == 3
    assert cal.findings[2].text.startswith("The test cannot tell the last touch model apart from linear (50): ")
    assert cal.findings[1].action == "" and cal.findings[2].action
    text = cal.findings[1].text
    assert text.startswith("First touch credits it with 40, 1.5 times too few; ")
    assert "the last touch model, 60, agrees best" in text
    assert cal.findings[1].value == pytest.approx(1.0)
    for f in cal.findings:
        assert isinstance(f, Finding) and "**" not in f.text and "_" not in f.text


def test_result_protocol(hand):
    assert dataclasses.is_dataclass(hand) and type(hand).__dataclass_params__.frozen
    s = hand.summary
    s.loc[:, "credited_conversions"] = -1
    assert (hand.summary["credited_conversions"] >= 0).all()
    assert all(isinstance(c, Check) for c in hand.checks)
    fig, ax = plt.subplots()
    assert hand.plot(ax=ax) is ax
    assert ax.get_xlabel() == "conversions credited to email in the exposed arm"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["first touch", "last touch", "linear", "position based"]
    plt.close(fig)
    assert "<table" in hand._repr_html_()
    lo95, hi95 = hand.confidence_interval(0.95)
    lo90, hi90 = hand.confidence_interval(0.90)
    assert lo95 < lo90 < hi90 < hi95


def test_names_from_data_are_not_markup():
    ev, a = _log()
    ev["channel"] = ev["channel"].replace({"email": "<b>e$mail$</b>"})
    cal = calibrate_attribution(ev, a, experiment="email_holdout", channel="<b>e$mail$</b>", models=["last_touch"])
    assert "<b>e$mail$</b>" not in cal._repr_html_()
    fig, ax = plt.subplots()
    cal.plot(ax=ax)
    fig.canvas.draw()
    plt.close(fig)


def test_bad_inputs_name_what_to_do():
    events, assignments = _log()
    with pytest.raises(JourneyDataError, match="no rows of experiment 'nope'"):
        calibrate_attribution(events, assignments, experiment="nope", channel="email")
    with pytest.raises(JourneyDataError, match=r"no variant \['control'\]"):
        calibrate_attribution(events, assignments, experiment="email_holdout", channel="email", holdout="control")
    with pytest.raises(JourneyDataError, match="no touch of channel 'sms'"):
        calibrate_attribution(events, assignments, experiment="email_holdout", channel="sms")
    with pytest.raises(JourneyParameterError, match="window_days=0"):
        calibrate_attribution(events, assignments, experiment="email_holdout", channel="email", window_days=0)
    with pytest.raises(JourneyParameterError, match="planned_split"):
        calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
                              planned_split={"exposed": 0.5})
    twice = pd.concat([assignments, assignments.iloc[[0]]], ignore_index=True)
    with pytest.raises(JourneyDataError, match="more than once"):
        calibrate_attribution(events, twice, experiment="email_holdout", channel="email")


def test_docstring_examples_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = doctest.testmod(calibration, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 5


@pytest.fixture(scope="module")
def planted():
    """A simulation with an email holdout (S4's option): the exposed arm's planted incremental conversions
    are the noisy-OR probabilities with and without the later email touches, summed (exact)."""
    data = jl.simulate_journeys(20_000, seed=7, channel_holdout="email")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate_attribution(data.events, data.assignments, experiment="email_holdout", channel="email",
                                    planned_split=data.ground_truth["channel_holdout"]["planned_split"])
    return data, cal


def test_simulation_recovers_the_planted_incremental_conversions(planted):
    data, cal = planted
    truth = data.ground_truth["channel_holdout"]
    assert cal.ci_low <= truth["expected_incremental_conversions"] <= cal.ci_high
    table = cal.against_truth(data.ground_truth)
    assert len(table) == 3 and table["covered"].all()
    arms = cal.arms.set_index("variant")
    assert arms["customers"].to_dict() == truth["customers"]
    assert arms["conversions"].to_dict() == truth["observed_first_purchases"]
    assert cal.attributed_conversions == truth["observed_first_purchases"]["exposed"]
    assert {c.name: c.status for c in cal.checks}["SRM: email_holdout"] == "pass"


def test_simulation_names_the_model_closest_to_the_planted_increment(planted):
    data, cal = planted
    planted_inc = data.ground_truth["channel_holdout"]["expected_incremental_conversions"]
    t = cal.summary.set_index("model")
    distance = (np.log(t["credited_conversions"]) - np.log(planted_inc)).abs()
    closest = distance.idxmin()
    # the experiment's interval is about +-28% of the increment (24% to 34% over seeds 1-8), the credits of the top
    # models differ by a few percent: over seeds 1-8 the measured best equals the planted closest in half of them
    # (2, 3, 4, 7; the findings say which models the test cannot tell apart, and the planted closest is among them
    # in all eight). Seed 7 has one model clearly closest to the planted increment (Markov, 0.4% away; the next
    # is 10% away), and the measurement names it.
    assert closest == "markov" and distance.sort_values().iloc[1] > 0.05
    assert cal.best_model == closest
    assert t.loc[closest, "ci_low"] <= 1 <= t.loc[closest, "ci_high"]
    # a model that credits email with far more than the planted increment is outside the test's interval
    far = distance[distance > np.log(1.35)].index
    assert len(far) and all(t.loc[m, "ci_high"] < 1 for m in far if t.loc[m, "credited_conversions"] > planted_inc)
    texts = [f.text for f in cal.findings]
    assert "the Markov model" in texts[1] and "agrees best" in texts[1]


@pytest.fixture(scope="module")
def sample_journey():
    sample = jl.load_journey("sample")
    return sample, sample.events.to_pandas(), sample.assignments.to_pandas()


@pytest.fixture(scope="module", params=["defaults", "report 01"])
def sample_calibration(request, sample_journey):
    """The bundled sample's e-mail holdout (make data: --channel-holdout email; 5,000 customers, seed 42), with
    the function's defaults and with notebook 01's attribution settings (Shapley on conversion rates)."""
    sample, events, assignments = sample_journey
    truth = sample.ground_truth["channel_holdout"]
    settings = {} if request.param == "defaults" else {"half_life": 7, "shapley_value": "rate"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
                                    planned_split=truth["planned_split"], **settings)
    return sample, events, assignments, cal


def test_the_sample_holdout_covers_the_planted_lift(sample_calibration):
    sample, events, assignments, cal = sample_calibration
    truth = sample.ground_truth["channel_holdout"]
    # the arms, counted here from the tables: each customer's arm, and whether they ever bought
    arm = assignments[assignments["experiment"] == "email_holdout"].set_index("customer_id")["variant"]
    bought = arm.index.isin(events.loc[events["event"] == "purchase", "customer_id"])
    n = arm.value_counts()
    k = pd.Series(bought, index=arm.index).groupby(arm).sum()
    assert n.to_dict() == truth["customers"] and k.to_dict() == truth["observed_first_purchases"]
    assert cal.arms.set_index("variant")[["customers", "conversions"]].to_dict("list") == {
        "customers": [n["exposed"], n["holdout"]], "conversions": [k["exposed"], k["holdout"]]}
    # the lift (exposed minus holdout conversion rate): its interval covers the planted lift per exposed customer
    lo, hi = confint_proportions_2indep(k["exposed"], n["exposed"], k["holdout"], n["holdout"], method="newcomb",
                                        compare="diff")
    assert cal.difference == pytest.approx(k["exposed"] / n["exposed"] - k["holdout"] / n["holdout"])
    assert lo <= truth["expected_incremental_per_exposed_customer"] <= hi and lo > 0
    # the incremental conversions in the exposed arm: the interval covers the planted (exact) expectation
    assert cal.confidence_interval() == pytest.approx((lo * n["exposed"], hi * n["exposed"]))
    assert cal.ci_low <= truth["expected_incremental_conversions"] <= cal.ci_high
    assert cal.measured and cal.against_truth(sample.ground_truth)["covered"].all()
    assert {c.name: c.status for c in cal.checks}["SRM: email_holdout"] == "pass"


def test_the_sample_holdout_supports_the_model_closest_to_the_planted_increment(sample_calibration):
    sample, _, _, cal = sample_calibration
    planted = sample.ground_truth["channel_holdout"]["expected_incremental_conversions"]
    t = cal.summary.set_index("model")
    closest = (np.log(t["credited_conversions"]) - np.log(planted)).abs().idxmin()
    # what the report names: the best-calibrated model and the models whose factor's interval also covers 1
    # (the test cannot tell them apart); at 5,000 customers the interval is wide, so that set is large, and the
    # planted closest must be in it
    supported = {cal.best_model} | set(t.index[(t.index != cal.best_model) & (t["ci_low"] <= 1) & (t["ci_high"] >= 1)])
    assert cal.best_model is not None and closest in supported
    texts = " ".join(f.text for f in cal.findings)
    words = closest.replace("_", " ").replace("markov", "Markov").replace("shapley", "Shapley")
    assert words in texts and "cannot tell" in texts
    # the figure says the same: every model inside the test's interval, not one winner
    fig, ax = plt.subplots()
    title = cal.plot(ax=ax).get_title(loc="left")
    plt.close(fig)
    inside = int(((t["credited_conversions"] >= cal.ci_low) & (t["credited_conversions"] <= cal.ci_high)).sum())
    assert inside == len(supported) > 1
    assert title.startswith(f"email: {inside} of {len(t)} models lie within the holdout test's interval")


def test_a_channel_that_lowers_conversion_is_said_so_and_names_no_model():
    exposed = {f"e{i}": (["email"], 3 if i < 20 else None) for i in range(100)}
    held = {f"h{i}": (["search"], 3 if i < 50 else None) for i in range(100)}
    cal = calibrate_attribution(*_log(exposed, held), experiment="email_holdout", channel="email",
                                models=["last_touch"])
    assert cal.incremental == pytest.approx(-30.0) and cal.ci_high < 0
    assert cal.best_model is None and not cal.summary["best"].any()
    assert cal.summary["log_distance"].isna().all()
    (f,) = cal.findings
    assert f.text.startswith("The holdout test says customers who could receive email converted less: 30 fewer "
                             "conversions (17 to 42)")
    assert f.value == pytest.approx(-30.0) and f.action


def test_an_off_plan_split_makes_the_test_unusable():
    events, assignments = _log()
    cal = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
                                models=["last_touch"], planned_split={"exposed": 0.99, "holdout": 0.01})
    assert cal.planned_share == pytest.approx((0.99, 0.01)) and cal.srm_pvalue < 0.001
    (f,) = cal.findings
    assert f.text.startswith("The split of customers in email_holdout (50% exposed, 99% planned) is off plan")
    assert f.action.startswith("Do not use this test")
    assert {c.name: c.status for c in cal.checks}["SRM: email_holdout"] == "fail"
