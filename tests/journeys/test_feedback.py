"""Feedback: NPS (interval vs an independent bootstrap), reviews, referrals; the sample's planted truth."""
from __future__ import annotations

import filecmp

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError
from journeylib.core.load import load_feedback
from journeylib.journeys.feedback import nps, nps_interval, referrals, review_rates

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def day(d: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=d)


@pytest.fixture(scope="module")
def sample():
    return jl.load_journey("sample")


def test_nps_by_hand():
    fb = pd.DataFrame({"customer_id": list("abcde"), "ts": T0, "kind": "nps", "score": [10.0, 9, 8, 3, 10]})
    r = nps(fb)
    row = r.summary.iloc[0]
    assert (row["promoters"], row["passives"], row["detractors"]) == (3, 1, 1)
    assert r.nps == pytest.approx(40.0)
    # multinomial variance: (0.6 + 0.2 - 0.4^2) / 5
    se = np.sqrt((0.6 + 0.2 - 0.16) / 5) * 100
    lo, hi = r.confidence_interval()
    assert lo == pytest.approx(max(-100, 40 - 1.959964 * se), abs=1e-3)
    assert hi == pytest.approx(min(100, 40 + 1.959964 * se), abs=1e-3)


def test_nps_interval_matches_an_independent_bootstrap():
    rng = np.random.default_rng(7)
    scores = rng.choice([10, 8, 4], 600, p=[0.5, 0.3, 0.2])
    p, q, d = (scores == 10).sum(), (scores == 8).sum(), (scores == 4).sum()
    value, lo, hi = nps_interval(int(p), int(q), int(d))
    boot = np.array([(lambda s: 100 * ((s >= 9).mean() - (s <= 6).mean()))(rng.choice(scores, len(scores)))
                     for _ in range(4000)])
    assert value == pytest.approx(100 * (p - d) / 600)
    assert (hi - lo) / 2 == pytest.approx(1.959964 * boot.std(), rel=0.08)
    assert lo == pytest.approx(np.percentile(boot, 2.5), abs=1.5)
    assert hi == pytest.approx(np.percentile(boot, 97.5), abs=1.5)


def test_nps_by_group_and_month():
    fb = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "ts": [day(0), day(1), day(40), day(41)],
                       "kind": "nps", "score": [10.0, 0, 9, 9]})
    cu = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "loyalty_member": [True, True, False, False]})
    r = nps(fb, by="loyalty_member", customers=cu)
    s = r.summary.set_index("group")
    assert s.loc["all", "nps"] == pytest.approx(50.0)
    assert s.loc["True", "nps"] == pytest.approx(0.0)
    assert s.loc["False", "nps"] == pytest.approx(100.0)
    assert r.by_month.set_index("month")["answers"].to_dict() == {"2024-01": 2, "2024-02": 2}


def test_review_rates_by_hand():
    ev = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "ts": [day(0), day(10), day(20), day(5)],
                       "event": ["purchase"] * 4, "channel": None, "stage": None, "revenue": [10.0, 20, 30, 40]})
    fb = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": [day(12), day(50), day(6)], "kind": "review",
                       "score": [4.0, 5, 2], "text": ["nice", None, "secret words"]})
    r = review_rates(ev, fb, within_days=7, observation_end=day(100))
    # a's order at day 10 reviewed 2 days later; day 50 is 30 days after day 20 (too late); b's first order reviewed
    assert r.rate("repeat")[["orders", "reviewed"]].tolist() == [2, 1]
    assert r.rate("first")[["orders", "reviewed"]].tolist() == [2, 1]
    assert r.rate("all")["median_days_to_review"] == pytest.approx(1.5)
    assert r.mean_rating == pytest.approx(11 / 3)
    assert r.reviews_with_text == 2
    assert "secret" not in repr(r) and "secret" not in r._repr_html_()


def test_referrals_by_hand():
    ev = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c", "d"],
                       "ts": [day(0), day(2), day(1), day(0), day(3), day(95)],
                       "event": ["landing", "purchase", "landing", "landing", "purchase", "landing"],
                       "channel": ["referral", None, "referral", "search", None, "referral"],
                       "stage": None, "revenue": [None, 5.0, None, None, 5.0, None]})
    r = referrals(ev, followed_days=60, observation_end=day(100))
    s = r.summary.set_index("customers")
    assert s.loc["referred", ["followed", "converted"]].tolist() == [2, 1]  # d is too recent
    assert s.loc["others", ["followed", "converted"]].tolist() == [1, 1]
    assert np.isnan(r.referral_rate)
    assert [c.status for c in r.checks] == ["warn"]


def test_load_feedback_validates_kind_and_nps_scale():
    good = pd.DataFrame({"customer_id": ["a"], "ts": ["2024-01-01 10:00:00"], "kind": ["NPS"], "score": [9]})
    t = load_feedback(good)
    assert t.columns == ("customer_id", "ts", "kind", "score", "stage", "text")
    assert t.to_pandas()["kind"].tolist() == ["nps"]
    with pytest.raises(JourneyDataError, match="kind"):
        load_feedback(good.assign(kind="complaint"))
    with pytest.raises(JourneyDataError, match="score"):
        load_feedback(good.assign(score=11))


# --------------------------------------------------------------------------- sample: planted truth
def test_sample_nps_by_segment_within_intervals(sample):
    r = nps(sample.feedback, by="segment", customers=sample.customers)
    truth = r.against_truth(sample.ground_truth)
    assert len(truth) == 4 and truth["covered"].all(), truth


def test_sample_review_rate_and_rating_within_intervals(sample):
    r = review_rates(sample.events, sample.feedback)
    truth = r.against_truth(sample.ground_truth)
    assert len(truth) == 2 and truth["covered"].all(), truth
    assert r.rate("first")["review_rate"] == 0.0  # the simulator reviews repeat orders only


def test_sample_referred_conversion_within_interval(sample):
    r = referrals(sample.events, sample.customers)
    truth = r.against_truth(sample.ground_truth)
    assert len(truth) == 2 and truth["covered"].all(), truth


def test_feedback_does_not_change_the_other_tables(tmp_path):
    """The feedback table has its own random stream: the sample's other files are byte-identical."""
    data = jl.simulate_journeys(5000, seed=42)
    data.write(tmp_path)
    for name in ("events", "customers", "assignments", "feedback"):
        assert filecmp.cmp(tmp_path / f"{name}.parquet", f"data/sample/{name}.parquet", shallow=False), name
    assert (tmp_path / "journey.yml").read_text() == open("data/sample/journey.yml").read()
