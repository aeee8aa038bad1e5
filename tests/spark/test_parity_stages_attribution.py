"""Spark parity of the engine half of overview, stages, paths and attribution.

Each public function runs on DuckDB and on PySpark (local mode) over the same
validated sample tables; aggregates must agree exactly for counts and labels and to
1e-9 relative for sums, and the final statistics computed from them (conversion
rates, medians, Markov removal effects, Shapley values, bootstrap intervals) must
agree too. A few anchors tie the numbers to an independent pandas computation so the
comparison cannot pass on two equally empty answers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.time import observation_end
from journeylib.journeys import attribution, overview, paths, stages
from journeylib.core.schema import OUTBOUND_EVENTS

pytestmark = pytest.mark.spark


# --------------------------------------------------------------------------- overview
def test_data_summary(on_each, small_sim):
    a, b = on_each(lambda ds: overview.data_summary(ds.events))
    pd.testing.assert_frame_equal(a, b)
    assert a.set_index("measure").loc["events", "value"] == f"{len(small_sim.events):,}"


def test_channel_summary(on_each, small_sim, same):
    a, b = on_each(lambda ds: overview.channel_summary(ds.events))
    same(a, b, what="channel_summary")
    ev = small_sim.events
    ref = ev[ev["channel"].notna() & ~ev["event"].isin(OUTBOUND_EVENTS)].groupby("channel").size()
    assert a.set_index("channel")["touches"].to_dict() == ref.to_dict()


def test_monthly_activity(on_each, small_sim, same):
    a, b = on_each(lambda ds: overview.monthly_activity(ds.events))
    same(a, b, what="monthly_activity")
    assert int(a["events"].sum()) == len(small_sim.events)


# --------------------------------------------------------------------------- stages
FUNNELS = {
    "closed": dict(),
    "closed_window": dict(window=14),
    "closed_window_obs_end": dict(window="30D", observation_end="2025-03-01"),
    "open_window": dict(closed=False, window=30),
    "open": dict(closed=False),
}


@pytest.mark.parametrize("kind", sorted(FUNNELS))
def test_funnel(on_each, same, kind):
    a, b = on_each(lambda ds: stages.funnel(ds.events, **FUNNELS[kind]))
    same(a.summary, b.summary, what=f"funnel {kind}")
    assert a.observation_end == b.observation_end
    assert a.summary["customers"].iloc[0] > 1000
    assert a.summary["median_days_from_previous"].iloc[1:].notna().all()


def test_funnel_by_segment(on_each, same):
    a, b = on_each(lambda ds: stages.funnel(ds.events, window=30, by="segment", customers=ds.customers))
    same(a.summary, b.summary, sort_by=["group", "step"], what="funnel by segment")
    assert set(a.summary["group"]) == {"standard", "premium", "budget"}


def test_funnel_median_is_the_exact_median(on_each, small_sim):
    """The engine median (row_number windows) equals pandas' median of the same per-customer gaps."""
    a, b = on_each(lambda ds: stages.funnel(ds.events, ["awareness", "consideration"]).summary)
    ev = small_sim.events[~small_sim.events["event"].isin(OUTBOUND_EVENTS)]
    ev = ev.assign(e=pd.to_datetime(ev["ts"]).map(lambda x: int(x.timestamp())))
    t0 = ev[ev["stage"] == "awareness"].groupby("customer_id")["e"].min()
    cons = ev[ev["stage"] == "consideration"].join(t0.rename("t0"), on="customer_id", how="inner")
    t1 = cons[cons["e"] >= cons["t0"]].groupby("customer_id").agg(t1=("e", "min"), t0=("t0", "first"))
    ref = float((t1["t1"] - t1["t0"]).median()) / 86400.0
    assert a["median_days_from_previous"].iloc[1] == pytest.approx(ref, rel=1e-12)
    assert b["median_days_from_previous"].iloc[1] == pytest.approx(ref, rel=1e-12)
    assert a["customers"].iloc[1] == len(t1)


def test_funnel_from_a_dataframe(both, small_sim, same):
    """A pandas DataFrame input (an Ibis memtable on each engine) gives the same funnel."""
    a, b = both(lambda: stages.funnel(small_sim.events, window=21).summary)
    same(a, b, what="funnel from DataFrame")


@pytest.mark.parametrize("collapse", [False, True])
def test_stage_transitions(on_each, same, collapse):
    a, b = on_each(lambda ds: stages.stage_transitions(ds.events, collapse_repeats=collapse))
    same(a.counts.reset_index(), b.counts.reset_index(), what="transition counts")
    assert a.customers == b.customers and a.share_going_back == b.share_going_back
    same(a.summary, b.summary, what="transition summary")
    assert a.counts.to_numpy().sum() > 1000


def test_journey_map_data(on_each, same):
    a, b = on_each(lambda ds: stages.journey_map_data(ds.events, window=30))
    same(a.summary, b.summary, what="journey map summary")
    same(a.touchpoints, b.touchpoints, sort_by=["stage", "touchpoint"], what="journey map touchpoints")
    assert a.score_col == b.score_col == "score"


# --------------------------------------------------------------------------- paths
JOURNEYS = {
    "first": dict(),
    "each_gap_lookback_collapse": dict(cut_at_conversion="each", session_gap=30, lookback=20, collapse_repeats=True),
    "none_events": dict(cut_at_conversion="none", touch_col="event"),
}


@pytest.mark.parametrize("kind", sorted(JOURNEYS))
def test_journeys(on_each, same, kind):
    a, b = on_each(lambda ds: paths.journeys(ds.events, **JOURNEYS[kind]))
    same(a, b, what=f"journeys {kind}")
    assert len(a) > 1000


@pytest.mark.parametrize("kind", sorted(JOURNEYS))
def test_path_table_and_derived_tables(on_each, same, kind):
    a, b = on_each(lambda ds: paths.path_table(ds.events, **JOURNEYS[kind]))
    same(a, b, what=f"path table {kind}")
    same(paths.top_paths(a, 15), paths.top_paths(b, 15), what="top paths")
    same(paths.sankey_data(a), paths.sankey_data(b), what="sankey links")
    ja, jb = on_each(lambda ds: paths.journeys(ds.events, **JOURNEYS[kind]))
    same(paths.path_lengths(ja), paths.path_lengths(jb), what="path lengths")
    same(paths.time_to_convert(ja), paths.time_to_convert(jb), what="time to convert")
    # the path table is the journeys grouped by path (an independent pandas aggregation)
    ref = ja.groupby("path").agg(conversions=("conversions", "sum"), n=("path", "size"),
                                 conv_j=("conversions", lambda s: int((s > 0).sum())))
    got = a.set_index("path").sort_index()
    assert got["conversions"].tolist() == ref["conversions"].sort_index().tolist()
    assert (got["null_count"] + (ref["conv_j"])).tolist() == ref["n"].tolist()


def test_expressions_and_observation_end(on_each, same):
    def agg(ds):
        rows = paths.touch_rows_expr(ds.events, cut_at_conversion="each")
        r = rows.group_by("label").aggregate(n=rows.count(), conv=rows._conv.sum(), rev=rows._rev.sum(),
                                             journeys=rows.journey.max()).to_pandas()
        pt = paths.path_table_expr(ds.events).to_pandas()
        return r, pt, observation_end(ds.events)

    (ra, pa, oa), (rb, pb, ob) = on_each(agg)
    same(ra, rb, sort_by=["label"], what="touch rows per label")
    same(pa, pb, sort_by=["path"], what="path_table_expr")
    assert oa == ob


# --------------------------------------------------------------------------- attribution
def test_attribute_from_events(on_each, same):
    """All models incl. time decay (engine) and bootstrap intervals agree."""
    a, b = on_each(lambda ds: attribution.attribute(ds.events, n_boot=20, seed=3))
    same(a.summary, b.summary, what="attribution summary")
    same(a.removal_effects, b.removal_effects, what="removal effects")
    same(a.path_table, b.path_table, what="attribution path table")
    assert a.conversion_probability == pytest.approx(b.conversion_probability, rel=1e-9)
    assert a.total_conversions == b.total_conversions > 100
    m = a.summary[a.summary["model"] == "markov"]
    assert m["conversions"].sum() == pytest.approx(a.total_conversions, rel=1e-12)


def test_attribute_with_path_options(on_each, same):
    kw = dict(cut_at_conversion="each", session_gap=30, lookback=20, collapse_repeats=True)
    a, b = on_each(lambda ds: attribution.attribute(ds.events, models=["time_decay", "markov", "linear"],
                                                    n_boot=0, half_life=3.0, **kw))
    same(a.summary, b.summary, what="attribution with options")


def test_stage_path_table(on_each, same):
    for a_st, b_st, win in (("awareness", "consideration", None), ("consideration", "cart", 14),
                            ("cart", "purchase", None)):
        a, b = on_each(lambda ds: attribution.stage_path_table(ds.events, a_st, b_st, window=win))
        same(a, b, sort_by=["path"], what=f"stage path table {a_st}->{b_st}")
        assert a["conversions"].sum() > 0


def test_stage_attribution(on_each, same):
    a, b = on_each(lambda ds: attribution.stage_attribution(ds.events, window=30))
    same(a.summary, b.summary, sort_by=["transition", "model", "channel"], what="stage attribution")
    same(a.totals, b.totals, what="stage attribution totals")


def test_budget_journey_months(on_each, same):
    """The channel budget's journeys with their UTC month, taken in the engine."""
    from journeylib.journeys.budget import _journey_months

    a, b = on_each(lambda ds: _journey_months(ds.events, {"lookback": 20}))
    same(a.assign(period=a["period"].astype(str)), b.assign(period=b["period"].astype(str)),
         what="budget journeys with months")
    assert a["period"].nunique() > 6 and len(a) > 1000


# --------------------------------------------------------------------------- sub-second times
def test_subsecond_timestamps(both, same):
    """Events inside one second: order and durations use exact microseconds on both engines
    (Ibis' epoch_seconds rounds on DuckDB and truncates on Spark)."""
    t0 = pd.Timestamp("2025-03-01 10:00:00.600000", tz="UTC")
    us = pd.Timedelta(microseconds=1)
    day = pd.Timedelta(days=1)
    ev = pd.DataFrame({
        "customer_id": ["A", "A", "A", "B", "B", "B", "B"],
        # A: email at .6 s, search at 1.2 s (same rounded second on DuckDB as .6 -> 1 s), purchase
        # B: awareness, consideration 0.5 s later, cart 3 days + 1 us later, purchase
        "ts": [t0, t0 + pd.Timedelta(milliseconds=600), t0 + 2 * day + 250_000 * us,
               t0, t0 + pd.Timedelta(milliseconds=500), t0 + 3 * day + us, t0 + 3 * day + 2 * us],
        "event": ["visit", "visit", "purchase", "visit", "visit", "add_to_cart", "purchase"],
        "channel": ["search", "email", None, "social", "direct", "email", None],
        "stage": ["awareness", "consideration", "purchase", "awareness", "consideration", "cart", "purchase"],
        "revenue": [None, None, 20.0, None, None, None, 5.0],
    })
    fa, fb = both(lambda: stages.funnel(ev, ["awareness", "consideration", "cart", "purchase"]).summary)
    same(fa, fb, what="sub-second funnel")
    # consideration 0.6 s and 0.5 s after awareness: median 0.55 s
    assert fa["median_days_from_previous"].iloc[1] == pytest.approx(0.55 / 86400, rel=1e-12)
    ja, jb = both(lambda: paths.journeys(ev))
    same(ja, jb, what="sub-second journeys")
    assert ja.set_index("customer_id").loc["A", "path"] == "search > email"
    assert ja.set_index("customer_id").loc["A", "days_to_convert"] == pytest.approx(2 + 0.25 / 86400, rel=1e-12)
    pa, pb = both(lambda: attribution.stage_path_table(ev, "consideration", "cart", window=3))
    same(pa, pb, sort_by=["path"], what="sub-second stage path table")
    # B reaches cart 3 days - 0.5 s + 1 us after consideration: inside the 3-day window
    assert pa.set_index("path").loc["direct > email", "conversions"] == 1


# --------------------------------------------------------------------------- message engagement
def test_message_engagement(on_each, small_sim, same):
    from journeylib.journeys.messages import message_engagement

    a, b = on_each(lambda ds: message_engagement(ds.messages, ds.events, fatigue_sends=3))
    same(a.summary, b.summary, what="message rates")
    same(a.fatigue, b.fatigue, what="fatigue")
    assert a.n_sends == b.n_sends and a.statistic == pytest.approx(b.statistic, rel=1e-12)
    assert a.pvalue == pytest.approx(b.pvalue, rel=1e-9, abs=1e-300)
    # anchor: the sends counted are the log's send rows up to the end of observation (the last event)
    m, end = small_sim.messages, small_sim.events["ts"].max()
    assert a.n_sends == int(((m["action"] == "send") & (m["ts"] <= end)).sum()) > 0
