"""Round trips: simulate, write each export shape, read it back; the events, the funnel and the
attribution equal those of the simulator's own canonical events and recover its planted truth."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import journeylib as jl
from journeylib.core.readers import read_export
from journeylib.journeys import attribution as A
from journeylib.journeys import paths as P
from journeylib.simulate.exports import anonymous_ids, export_files, write_export

CANON = ["customer_id", "ts", "event", "channel", "revenue"]
STAGE_OF_EVENT = {"landing": "awareness", "product_view": "consideration", "add_to_cart": "cart",
                  "review": "advocacy"}
OUTBOUND = ("winback_sent", "message_sent")


@pytest.fixture(scope="module")
def sim():
    """The planted-order simulation of tests/journeys/test_attribution.py (20,000 customers, ~232k events)."""
    return jl.simulate_journeys(20_000, seed=11)


def _expected(data, fmt):
    """The simulator's events as an export read back gives them: buyers under their customer id
    (stitched), customers who never buy under their anonymous id."""
    ev = data.events[CANON].copy()
    buyers = ev.loc[ev["event"] == "purchase", "customer_id"].unique()
    anon = anonymous_ids(ev["customer_id"], fmt)
    ev["customer_id"] = ev["customer_id"].where(ev["customer_id"].isin(buyers), anon)
    return ev


def _read_back(data, fmt, folder):
    out = write_export(data, fmt, folder)
    assert sorted(p.name for p in out.iterdir()) == sorted([*export_files(fmt), "ground_truth.json", "journey.yml",
                                                            "customers.parquet", "assignments.parquet"])
    assert json.loads((out / "ground_truth.json").read_text()) == json.loads(json.dumps(data.ground_truth,
                                                                                         default=str))
    files = export_files(fmt)
    extra = {"messages": out / files[1]} if fmt == "orders" else {}
    return read_export(fmt, out / files[0], **extra)["events"].to_pandas()


def _sorted(ev):
    ev = ev[CANON].copy()
    ev["ts"] = ev["ts"].astype("datetime64[us, UTC]")
    ev["channel"] = ev["channel"].astype(object).where(ev["channel"].notna(), None)
    return ev.sort_values(CANON, kind="mergesort", na_position="first").reset_index(drop=True)


def _assert_same_events(got, want):
    got, want = _sorted(got), _sorted(want)
    assert len(got) == len(want)
    for col in ("customer_id", "ts", "event", "channel"):
        assert got[col].tolist() == want[col].tolist(), col
    np.testing.assert_allclose(got["revenue"].to_numpy(float), want["revenue"].to_numpy(float), rtol=0,
                               atol=1e-9, equal_nan=True)


def _staged(ev):
    """Stages from event names (an export has no stage column): the first purchase -> purchase,
    later ones -> repeat."""
    ev = ev.sort_values(["customer_id", "ts", "event"], kind="mergesort").reset_index(drop=True)
    stage = ev["event"].map(STAGE_OF_EVENT)
    buy = ev["event"] == "purchase"
    nth = ev[buy].groupby("customer_id").cumcount()
    stage[buy] = np.where(nth == 0, "purchase", "repeat")
    return ev.assign(stage=stage.astype(object).where(stage.notna(), None))


def _check_funnel_and_attribution(got, data, stages):
    end = data.ground_truth["observation_end"]
    canonical = data.events.drop(columns="stage")
    f_export = jl.funnel(_staged(got), stages, observation_end=end).summary
    f_sim = jl.funnel(_staged(canonical), stages, observation_end=end).summary
    pd.testing.assert_frame_equal(f_export, f_sim)
    # the name-based stages are the simulator's own stages
    pd.testing.assert_frame_equal(f_sim, jl.funnel(data.events, stages, observation_end=end).summary)

    pt = P.path_table(got, exclude_events=OUTBOUND)
    pd.testing.assert_frame_equal(pt, P.path_table(data.events))
    # planted truth, as in test_attribution.test_planted_channel_order (same simulation, same tolerance)
    order = data.ground_truth["channels"]["order_by_effect"]
    truth = data.ground_truth["channels"]["conversion_weight"]
    res = A.attribute(pt, models=["markov"], n_boot=0).summary
    per_reach = res.set_index("channel")["per_1000_reached"]
    assert list(per_reach.sort_values(ascending=False).index) == order
    sv = A.shapley_values(pt, value="rate").set_index("channel")["share"]
    assert stats.spearmanr(sv[order], [truth[c] for c in order]).statistic >= 0.8
    assert set(sv.sort_values(ascending=False).index[:2]) == set(order[:2])


@pytest.mark.parametrize("fmt", ["ga4", "segment"])
def test_round_trip_with_identities(fmt, sim, tmp_path):
    got = _read_back(sim, fmt, tmp_path / fmt)
    assert len(got) >= 100_000
    _assert_same_events(got, _expected(sim, fmt))
    # stitching did the work: pre-purchase events of buyers carry no user id in the file
    buyers = set(sim.events.loc[sim.events["event"] == "purchase", "customer_id"])
    stitched = got["user_id"].isna() & got["customer_id"].isin(buyers)
    assert stitched.sum() > 20_000
    _check_funnel_and_attribution(got, sim, list(jl.DEFAULT_STAGES))


def test_ga4_customers_carry_the_acquisition_channel(sim, tmp_path):
    small = jl.simulate_journeys(2000, seed=3)
    folder = write_export(small, "ga4", tmp_path / "ga4")
    cust = read_export("ga4", folder)["customers"].to_pandas()
    want = small.customers[["customer_id", "acquisition_channel"]].copy()
    buyers = small.events.loc[small.events["event"] == "purchase", "customer_id"].unique()
    want["customer_id"] = want["customer_id"].where(want["customer_id"].isin(buyers),
                                                    anonymous_ids(want["customer_id"], "ga4"))
    got = cust.set_index("customer_id")["acquisition_channel"].sort_index()
    pd.testing.assert_series_equal(got, want.set_index("customer_id")["acquisition_channel"].sort_index(),
                                   check_names=False)


def test_round_trip_orders(sim, tmp_path):
    got = _read_back(sim, "orders", tmp_path / "orders")
    assert len(got) >= 100_000
    # the shop's tables hold purchases and messages: win-back sends, tracked clicks (campaign = touch)
    assert set(got["event"]) == {"purchase", "message_sent", "message_click"}
    back = got.copy()
    back.loc[back["event"] == "message_click", "event"] = back["campaign"]
    back.loc[back["event"] == "message_sent", "event"] = "winback_sent"
    ev = sim.events
    want = ev[(ev["event"] == "purchase") | ev["channel"].notna()].copy()
    _assert_same_events(back, want)
    assert got.loc[got["event"] == "message_sent", "campaign"].eq("winback").all()
    # reviews are not in this shape: the funnel up to repeat, attribution in full
    _check_funnel_and_attribution(back, sim, list(jl.DEFAULT_STAGES)[:5])
    pd.testing.assert_frame_equal(P.path_table(got, exclude_events=OUTBOUND), P.path_table(sim.events))


@pytest.mark.parametrize("fmt", ["amplitude", "mixpanel", "posthog", "snowplow"])
def test_round_trip_other_shapes(fmt, small_sim, tmp_path):
    got = _read_back(small_sim, fmt, tmp_path / fmt)
    _assert_same_events(got, _expected(small_sim, fmt))
    end = small_sim.ground_truth["observation_end"]
    pd.testing.assert_frame_equal(jl.funnel(_staged(got), observation_end=end).summary,
                                  jl.funnel(small_sim.events, observation_end=end).summary)
    pd.testing.assert_frame_equal(P.path_table(got, exclude_events=OUTBOUND), P.path_table(small_sim.events))


def test_anonymous_ids_are_stable_and_distinct():
    ids = pd.Series([f"C{i:06d}" for i in range(1, 20_001)])
    for fmt in ("ga4", "segment", "amplitude", "mixpanel", "posthog", "snowplow"):
        a = anonymous_ids(ids, fmt)
        assert a.is_unique and a.equals(anonymous_ids(ids, fmt))
    assert anonymous_ids(["C000001"], "ga4").iloc[0].count(".") == 1
    assert len(anonymous_ids(["C000001"], "segment").iloc[0]) == 36


@pytest.mark.parametrize("fmt", ["ga4", "segment", "amplitude", "mixpanel", "posthog", "snowplow", "orders"])
def test_the_journey_file_written_beside_an_export_is_all_a_user_needs(fmt, tmp_path):
    """load_journey on the written folder gives the simulator's own funnel (stages by rules on event names)."""
    sim = jl.simulate_journeys(400, seed=1)
    jl.write_export(sim, fmt, tmp_path)
    j = jl.load_journey(tmp_path / "journey.yml")
    assert [c for c in j.checks if c.status == "fail"] == []
    got = jl.funnel(j.events, stages=j.stages).summary.set_index("stage")["customers"]
    if fmt == "orders":  # only orders and messages: a clicked message, then the first and later purchases
        truth = jl.funnel(sim.events, stages=["purchase", "repeat"]).summary.set_index("stage")["customers"]
        assert got["awareness"] == sim.events.loc[sim.events["channel"].notna() & (sim.events["event"] != "winback_sent"),
                                                  "customer_id"].nunique()
        assert got[["purchase", "repeat"]].tolist() == truth.tolist()
    else:
        truth = jl.funnel(sim.events).summary.set_index("stage")["customers"]
        assert got.tolist() == truth.tolist() == [400, 251, 142, 105, 88, 46]
    assert j.customers is not None and j.assignments is not None and j.ground_truth == sim.ground_truth
