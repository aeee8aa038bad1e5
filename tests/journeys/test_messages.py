"""Message engagement: planted open/click rates and fatigue of the sample, and a hand-made log."""
from __future__ import annotations

import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyParameterError
from journeylib.journeys.messages import message_engagement


@pytest.fixture(scope="module")
def sample():
    return jl.load_dataset("sample")


@pytest.fixture(scope="module")
def res(sample):
    return message_engagement(sample.messages, sample.events)


def test_planted_rates_within_intervals(res, sample):
    table = res.against_truth(sample.ground_truth)
    assert len(table) == 14
    assert table["covered"].mean() >= 12 / 14  # 95% intervals: at most a couple miss by chance
    assert table["covered"].all()


def test_fatigue_churns_more(res):
    f = res.fatigue.set_index("group")
    assert f.loc["fatigued", "churn_rate"] > f.loc["engaged", "churn_rate"] + 0.2
    assert res.pvalue < 1e-6 and res.statistic > 0
    lo, hi = res.confidence_interval()
    assert lo > 0 and lo < res.difference < hi


def test_send_hour_has_no_planted_effect(res, sample):
    hours = res.by("send hour")
    news = hours[hours["group"].str.startswith("newsletter at ")]
    # the drawn hours, and 09:00 of the send-time experiment's morning arm
    truth = sample.ground_truth["messages"]
    assert len(news) == len(set(truth["send_hours"]) | {truth["send_time_experiment"]["hour"]})
    # the drawn hours go to everyone alike: their intervals all overlap. 09:00 goes only to the experiment's
    # morning arm (customers active when it started, who open more): a by-hour comparison is not an
    # experiment, which is why the send time is read through the A/B readout (test_campaign_readouts.py)
    drawn = news[news["group"].isin([f"newsletter at {h:02d}:00 UTC" for h in truth["send_hours"]])]
    assert len(drawn) == len(truth["send_hours"])
    assert drawn["ci_low"].max() < drawn["ci_high"].min()


def test_small_log_by_hand():
    t0 = pd.Timestamp("2025-01-01 08:00", tz="UTC")
    h = pd.Timedelta(hours=1)
    msg = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b"],
        "ts": [t0, t0 + h, t0 + 2 * h, t0 + 24 * h, t0, t0 + 26 * h],
        "campaign": "news", "channel": "email",
        "action": ["send", "open", "open", "send", "send", "click"],
    })
    r = message_engagement(msg)
    row = r.by("campaign").iloc[0]
    assert (row["sends"], row["count"]) == (3, 1)  # two opens of one send count once
    click = r.by("campaign", "click rate").iloc[0]
    assert click["count"] == 1
    assert r.fatigue.empty


def test_bad_parameter(sample):
    with pytest.raises(JourneyParameterError, match="fatigue_sends"):
        message_engagement(sample.messages, fatigue_sends=0)
