"""Abandoned carts: planted recovery rates of the sample, and a hand-made log."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyParameterError
from journeylib.core.intervals import wilson_interval
from journeylib.journeys.carts import abandoned_carts


@pytest.fixture(scope="module")
def sample():
    return jl.load_dataset("sample")


@pytest.fixture(scope="module")
def res(sample):
    return abandoned_carts(sample.events, sample.messages, sample.customers, segment_by="segment")


def test_planted_recovery_by_channel_within_intervals(res, sample):
    table = res.against_truth(sample.ground_truth)
    assert set(table["quantity"]) == {"recovery rate: overall", "recovery rate: email", "recovery rate: push",
                                      "recovery rate: sms", "recovery rate: retargeting"}
    assert table["covered"].all()
    truth = sample.ground_truth["carts"]
    assert res.by("channel")["carts"].sum() == truth["followed_up"]
    assert res.recovery_rate == pytest.approx(truth["overall_recovery_rate"], abs=1e-12)
    # retargeting (planted highest) beats push (planted lowest) beyond their intervals
    ch = res.by("channel").set_index("group")
    assert ch.loc["retargeting", "ci_low"] > ch.loc["push", "ci_high"]


def test_small_log_by_hand():
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    d = pd.Timedelta(days=1)
    ev = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c", "d", "z"],
        "ts": [t0, t0 + 0.5 * d, t0, t0 + 3 * d, t0, t0 + 2 * d, t0 + 40 * d],
        "event": ["add_to_cart", "purchase", "add_to_cart", "purchase", "add_to_cart", "add_to_cart", "landing"],
        "revenue": [np.nan, 10.0, np.nan, 20.0, np.nan, 5.0, np.nan],
    })
    msg = pd.DataFrame({"customer_id": ["b", "c"], "ts": [t0 + d, t0 + d], "campaign": "cart_recovery",
                        "channel": ["email", "push"], "action": "send"})
    r = abandoned_carts(ev, msg, window_hours=24, recovery_days=14)
    carts = r.carts.set_index("customer_id")
    assert list(carts.index) == ["b", "c", "d"]  # a bought within the window
    assert carts.loc["b", "days_to_recovery"] == pytest.approx(2.0)
    assert bool(carts.loc["b", "recovered"]) and not bool(carts.loc["c", "recovered"])
    assert carts.loc["d", "value"] == 5.0 and carts.loc["d", "value_source"] == "cart"
    assert list(carts["channel"]) == ["email", "push", "no message"]
    assert r.recovery_rate == pytest.approx(1 / 3)
    assert r.confidence_interval() == pytest.approx(wilson_interval(1, 3))
    # Kaplan-Meier of all carts: one recovery at day 2 among three at risk
    km = r.curves[r.curves["group"] == "all"]
    assert km.loc[km["days"] >= 2, "recovered_share"].iloc[0] == pytest.approx(1 / 3)


def test_protocol(res):
    s = res.summary
    s.loc[:, "carts"] = -1
    assert (res.summary["carts"] > 0).all()
    assert {"ci_low", "ci_high"} <= set(res.summary.columns)
    assert 1 <= len(res.findings) <= 4 and all("*" not in f.text for f in res.findings)
    assert {c.status for c in res.checks} <= {"pass", "warn", "fail"}
    import matplotlib
    matplotlib.use("Agg")
    ax = res.plot()
    assert "days" in ax.get_xlabel()


def test_bad_parameter(sample):
    with pytest.raises(JourneyParameterError, match="recovery_days"):
        abandoned_carts(sample.events, recovery_days=0)
