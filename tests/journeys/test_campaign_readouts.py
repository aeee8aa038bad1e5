"""Campaign experiments read through the A/B readout (cart recovery, send time) and win-back against its holdout.

Hand-made logs with exact numbers, then the sample's planted experiments (simulator: ``winback``,
``cart_recovery``, ``email_send_time``; ``ground_truth["winback"]``, ``["carts"]["experiment"]``,
``["messages"]``) and a second seed.
"""
from __future__ import annotations

import warnings

import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.experiments.readout import INVALID
from journeylib.journeys.carts import cart_recovery_readout
from journeylib.journeys.messages import message_events, message_readout, opens_per_send
from journeylib.retention.targeting import winback_reactivation

T0 = pd.Timestamp("2025-03-01", tz="UTC")


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def sample():
    return jl.load_dataset("sample")


@pytest.fixture(scope="module")
def second():
    return jl.simulate_journeys(5000, seed=7)


# --- cart recovery as an experiment ----------------------------------------------------------------

def _carts_by_hand():
    """200 messaged carts (120 recovered), 200 held out (40 recovered); a purchase on day 20 does not count
    (window 14 days); 10 carts abandoned 5 days before the end are left out."""
    ids = [f"c{i}" for i in range(400)]
    variant = ["message" if i < 200 else "holdout" for i in range(400)]
    buy = [(i < 120) or (200 <= i < 240) for i in range(400)]
    late = [f"l{i}" for i in range(10)]
    a = pd.DataFrame({"customer_id": ids + late, "experiment": "cart_recovery",
                      "variant": variant + ["message", "holdout"] * 5,
                      "assigned_at": [T0] * 400 + [T0 + pd.Timedelta(days=55)] * 10})
    ev = pd.DataFrame({"customer_id": [c for c, b in zip(ids, buy) if b] + ["c150", "c399"] + late,
                       "event": "purchase",
                       "ts": [T0 + pd.Timedelta(days=3)] * sum(buy) + [T0 + pd.Timedelta(days=20)] * 2
                       + [T0 + pd.Timedelta(days=56)] * 9 + [T0 + pd.Timedelta(days=60)]})
    return ev, a


def test_cart_readout_by_hand():
    ev, a = _carts_by_hand()
    ro = quiet(cart_recovery_readout, ev, a, recovery_days=14)
    assert len(ro.results) == 1
    r = ro.results[0]
    assert (r.variant, r.control, r.metric) == ("message", "holdout", "recovery")
    assert (r.n_variant, r.n_control) == (200, 200)
    assert (r.mean_variant, r.mean_control, r.estimate) == pytest.approx((0.6, 0.2, 0.4))
    lo, hi = confint_proportions_2indep(120, 200, 40, 200, method="wald", compare="diff")
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))
    assert r.rel_lift == pytest.approx(2.0)
    assert "10 carts abandoned less than 14 days before the end" in ro.note
    assert ro.decisions["decision"].tolist() == ["ship"]
    assert ro.srm[0].passed
    with pytest.raises(JourneyDataError, match="no rows of experiment 'nope'"):
        cart_recovery_readout(ev, a, experiment="nope")
    with pytest.raises(JourneyParameterError, match="recovery_days=0"):
        cart_recovery_readout(ev, a, recovery_days=0)
    with pytest.raises(JourneyDataError, match="no cart of 'cart_recovery' was abandoned 100 days"):
        cart_recovery_readout(ev, a, recovery_days=100)


def test_cart_readout_recovers_the_planted_effect_on_the_sample(sample):
    truth = sample.ground_truth["carts"]["experiment"]
    ro = quiet(cart_recovery_readout, sample.events, sample.assignments, experiment=truth["experiment"],
               recovery_days=truth["window_days"])
    r = ro.results[0]
    # the readout counts exactly the carts the simulator followed for the whole window, and their recoveries
    assert (r.n_control, r.n_variant) == (truth["followed_up"]["holdout"], truth["followed_up"]["message"])
    assert r.mean_control == pytest.approx(truth["realised_recovery_rate"]["holdout"])
    assert r.mean_variant == pytest.approx(truth["realised_recovery_rate"]["message"])
    # the planted effect (expectation given the carts' outcomes) lies inside the intervals
    assert r.ci_low <= truth["absolute_effect"] <= r.ci_high
    planted_lift = 1 / truth["holdout_relative_recovery"] - 1  # message against holdout: 1 / 0.6 - 1
    assert r.rel_ci_low <= planted_lift <= r.rel_ci_high
    assert ro.srm[0].passed and ro.decisions["decision"].tolist() == ["ship"]
    # the headline says it in carts: the difference times the carts messaged, with its interval
    f, = ro.findings
    assert (f.value, f.ci_low, f.ci_high) == (r.estimate, r.ci_low, r.ci_high)
    carts = [round(x * r.n_variant) for x in (r.estimate, r.ci_low, r.ci_high)]
    assert f"about {carts[0]:,} more carts recovered ({carts[1]:,} to {carts[2]:,}) of the {r.n_variant:,}" in f.text
    assert f.action.startswith("Keep sending the recovery messages")


def test_cart_readout_recovers_the_planted_effect_on_a_second_seed(second):
    truth = second.ground_truth["carts"]["experiment"]
    r = quiet(cart_recovery_readout, second.events, second.assignments).results[0]
    assert r.ci_low <= truth["absolute_effect"] <= r.ci_high
    assert r.rel_ci_low <= 1 / truth["holdout_relative_recovery"] - 1 <= r.rel_ci_high


# --- win-back against its holdout, per channel ------------------------------------------------------

def test_winback_by_variant_by_hand():
    ids = [f"w{i}" for i in range(30)]
    variant = ["email"] * 10 + ["paid_ads"] * 10 + ["holdout"] * 10
    a = pd.DataFrame({"customer_id": ids, "experiment": "winback", "variant": variant, "assigned_at": T0})
    back = ids[:5] + ids[10:12] + ids[20:21]  # email 5/10, paid_ads 2/10, holdout 1/10
    ev = pd.DataFrame({"customer_id": back + ["w29"], "event": "purchase",
                       "ts": [T0 + pd.Timedelta(days=4)] * len(back) + [T0 + pd.Timedelta(days=60)]})
    r = winback_reactivation(ev, a, experiment="winback", within_days=30)
    v = r.by_variant.set_index("variant")
    assert v["customers"].tolist() == [10, 10] and v["reactivated"].tolist() == [5, 2]
    assert v["difference"].to_numpy() == pytest.approx([0.4, 0.1])
    for var, k in (("email", 5), ("paid_ads", 2)):
        lo, hi = confint_proportions_2indep(k, 10, 1, 10, method="newcomb", compare="diff")
        assert (v.loc[var, "ci_low"], v.loc[var, "ci_high"]) == pytest.approx((lo, hi))
    assert r.summary.set_index("group").loc["targeted", "reactivated"] == 7
    assert len(r.findings) == 2
    assert r.findings[1].text == ("Extra customers back within 30 days against the holdout, by variant: "
                                  "email +40.0% (-0.2% to 67.6%); paid_ads +10.0% (-23.6% to 42.1%).")
    copy = r.by_variant
    copy.loc[:, "customers"] = 0
    assert r.by_variant["customers"].tolist() == [10, 10]  # by_variant is a copy


def test_winback_recovers_the_sample_truth_per_channel(sample):
    truth = sample.ground_truth["winback"]
    r = winback_reactivation(sample.events, sample.assignments, experiment=truth["experiment"],
                             within_days=truth["return_within_days"])
    s = truth["sample"]
    g = r.summary.set_index("group")
    assert (g.loc["holdout", "customers"], g.loc["holdout", "reactivated"]) == (s["customers"]["holdout"],
                                                                                s["returned"]["holdout"])
    v = r.by_variant.set_index("variant")
    for ch in truth["return_prob"]:
        assert (v.loc[ch, "customers"], v.loc[ch, "reactivated"]) == (s["customers"][ch], s["returned"][ch])
        # the sample's incremental return (each sent customer's return minus the return the same draw gives
        # in the holdout) lies inside the interval of the difference against the holdout
        assert v.loc[ch, "ci_low"] <= s["incremental_return_rate"][ch] <= v.loc[ch, "ci_high"]
    assert v.loc["email", "ci_low"] > 0  # e-mail brings customers back (planted +9 points)
    assert r.pvalue < 0.01 and r.difference > 0


def test_winback_recovers_the_planted_incremental_return_on_a_second_seed(second):
    truth = second.ground_truth["winback"]
    v = winback_reactivation(second.events, second.assignments, experiment="winback").by_variant.set_index("variant")
    for ch, inc in truth["incremental_return_prob"].items():
        assert v.loc[ch, "ci_low"] <= inc <= v.loc[ch, "ci_high"], ch


# --- send time: message opens through the A/B readout ------------------------------------------------

def _messages_by_hand():
    """control: 4 customers, 2 sends each, 3 opens in all (one before assignment, not counted);
    morning: 2 customers, 2 sends each, 3 opens."""
    rows = []

    def add(c, day, action, campaign="newsletter"):
        rows.append((c, T0 + pd.Timedelta(days=day), campaign, "email", action))

    for c in ("a", "b", "c", "d", "m1", "m2"):
        add(c, 1, "send")
        add(c, 15, "send")
        add(c, 2, "send", campaign="promotion")
    for c, d in (("a", 1.1), ("a", 15.2), ("b", 1.3), ("m1", 1.1), ("m1", 15.1), ("m2", 15.4), ("c", 2.1)):
        add(c, d, "open")
    add("c", -3, "send")
    add("c", -2.9, "open")
    add("a", 1.2, "click")
    msg = pd.DataFrame(rows, columns=["customer_id", "ts", "campaign", "channel", "action"])
    assign = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "m1", "m2"], "experiment": "send_time",
                           "variant": ["control"] * 4 + ["morning"] * 2, "assigned_at": T0})
    return msg, assign


def test_message_events_by_hand():
    msg, _ = _messages_by_hand()
    ev = jl.to_pandas(message_events(msg, campaign="newsletter"))
    assert list(ev.columns) == ["customer_id", "ts", "event", "channel", "campaign"]
    assert ev["event"].value_counts().to_dict() == {"send": 13, "open": 8, "click": 1}
    assert set(ev["campaign"]) == {"newsletter"}
    assert len(jl.to_pandas(message_events(msg))) == len(msg)
    with pytest.raises(JourneyParameterError, match=r"no campaign 'news' in the message log"):
        message_events(msg, campaign="news")
    m = opens_per_send()
    assert (m.kind, m.numerator.event, m.denominator.event) == ("ratio", "open", "send")


def test_message_readout_by_hand():
    msg, assign = _messages_by_hand()
    ro = quiet(message_readout, msg, assign, experiment="send_time", campaign="newsletter", window_days=28,
               cuped=False)
    per_send = ro.result("send_time", "opens_per_send")
    # newsletter opens in the 28 days after assignment (c's open three days before is not counted; the click
    # is not an open; the promotion's send is another campaign): control a 2, b 1, c 1, d 0 over 8 sends;
    # morning m1 2, m2 1 over 4 sends
    assert per_send.mean_control == pytest.approx(4 / 8)
    assert per_send.mean_variant == pytest.approx(3 / 4)
    per_user = ro.result("send_time", "opens_per_user")
    assert (per_user.mean_control, per_user.mean_variant) == pytest.approx((1.0, 1.5))
    assert ro.primary_metric == "opens_per_send"


def test_send_time_readout_on_the_sample_is_invalid_because_of_the_planted_srm(sample):
    truth = sample.ground_truth
    exp = truth["messages"]["send_time_experiment"]
    with pytest.warns(Warning, match="SAMPLE RATIO MISMATCH"):
        ro = message_readout(sample.messages, sample.assignments, experiment=exp["experiment"],
                             campaign=exp["campaign"])
    srm = ro.srm[0]
    assert not srm.passed and srm.pvalue < 0.001
    assert ro.decisions["decision"].tolist() == [INVALID]
    f = ro.findings[0]
    assert "off the planned 50%/50%" in f.text and "Do not act" in f.action
    assert [c.status for c in ro.checks if c.name.startswith("SRM")] == ["fail"]
    # no planted send-hour effect: the open rate per send of the two arms does not differ
    r = ro.result(exp["experiment"], "opens_per_send")
    assert exp["open_rate_effect"] == 0 and r.rel_ci_low <= 0 <= r.rel_ci_high
    assert (r.n_control, r.n_variant) == tuple(
        jl.to_pandas(sample.assignments).query("experiment == @exp['experiment']")["variant"]
        .value_counts().reindex(["control", "morning"]))
