"""Spark parity of the journey map and the feedback measures (issue 26: one grouped pass, matching in the engine).

The map's grouped pass per customer, journey, stage and touchpoint, the order/review matching
(one window per customer), the referral counts and the group codes joined in the engine run on
DuckDB and on PySpark (local mode) over the same validated sample tables; counts and labels
must agree exactly, sums and statistics to 1e-9 relative. Anchors tie a few numbers to pandas.
"""
from __future__ import annotations

import numpy as np
import pytest

from journeylib.journeys import feedback as F
from journeylib.journeys.journey_map import journey_map

pytestmark = pytest.mark.spark


def _map(ds, **kw):
    return journey_map(ds.events, feedback=ds.feedback, customers=ds.customers, **kw)


@pytest.mark.parametrize("kw", [dict(), dict(segment_by="segment"), dict(within_days=30, stuck_days=2.5)])
def test_journey_map(on_each, same, kw):
    a, b = on_each(lambda ds: _map(ds, **kw))
    same(a.summary, b.summary, what="map summary")
    same(a.touchpoints, b.touchpoints, what="map touchpoints")
    same(a.kpis, b.kpis, what="map kpis")
    same(a.emotion, b.emotion, what="map emotion")
    same(a.pain_points, b.pain_points, what="map pain points")
    same(a.acquisition_mix, b.acquisition_mix, what="map acquisition")
    assert a.summary["customers_first_time"].iloc[0] > 1000


def test_journey_map_without_feedback(on_each, same):
    a, b = on_each(lambda ds: journey_map(ds.events))
    same(a.kpis, b.kpis, what="map kpis (no feedback)")
    same(a.touchpoints, b.touchpoints, what="map touchpoints (no feedback)")


def test_review_matching(on_each, same, small_sim):
    def counts(ds):
        orders, _ = F._followed_orders(ds.events, ds.feedback, 30, None)
        return F._order_counts(orders)[["first", "days", "n"]]

    a, b = on_each(counts)
    same(a, b, sort_by=["first", "days"], what="review matching")
    ev = small_sim.events
    assert int(a["n"].sum()) <= int((ev["event"] == "purchase").sum())


@pytest.mark.parametrize("by", [None, "segment"])
def test_review_rates(on_each, same, by):
    a, b = on_each(lambda ds: F.review_rates(ds.events, ds.feedback, by=by, customers=ds.customers))
    same(a.summary, b.summary, what="review rates")
    same(a.ratings, b.ratings, what="ratings")


def test_referrals(on_each, same, small_sim):
    a, b = on_each(lambda ds: F.referrals(ds.events, ds.customers))
    same(a.summary, b.summary, what="referrals")
    assert a.referrers == b.referrers
    assert int(a.summary["count"].sum()) == small_sim.events.loc[
        small_sim.events["event"] != "winback_sent", "customer_id"].nunique()


@pytest.mark.parametrize("by", ["loyalty_member", "segment"])
def test_feedback_by_group(on_each, same, by):
    a, b = on_each(lambda ds: F.feedback_by_group(ds.events, ds.feedback, ds.customers, by=by))
    same(a.summary, b.summary, what=f"feedback_by_group {by}")
    same(a.tests, b.tests, what=f"feedback_by_group tests {by}")
    assert a.before_joining == b.before_joining
    assert np.isfinite(a.summary["value"]).any()
