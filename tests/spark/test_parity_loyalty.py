"""Spark parity of the engine half of cohorts, RFM, CLV (BG/NBD) and the loyalty effect.

Each public function runs on DuckDB and on PySpark (local mode) over the same data:
the small simulated dataset (``simulate_journeys(1500, seed=7)`` as Parquet) and the
real CDNOW purchase log (CSV). Counts and labels must be equal exactly, sums and
the statistics computed from them (retention, RFM scores and segments, BG/NBD
parameters, loyalty-effect estimates) to 1e-9 relative. On DuckDB these modules use
``EPOCH_US`` for day numbers; every other engine uses the portable
``epoch_seconds()``, so these tests are what proves the portable path equal. A few
anchors tie the numbers to an independent pandas computation, so the comparison
cannot pass on two equally wrong answers.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.loyalty.clv import BetaGeoFitter, customer_summary
from journeylib.loyalty.cohorts import cohort_table, repeat_purchase
from journeylib.loyalty.programme import loyalty_effect
from journeylib.loyalty.rfm import rfm_migration, rfm_segments, rfm_table
from journeylib.core.schema import OUTBOUND_EVENTS

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def cdnow(spark_con):
    """The CDNOW event CSV loaded on each engine: ``{"duckdb": table, "spark": table}``."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jl.JourneyDataWarning)  # 21 exact duplicate rows
        out["duckdb"] = jl.load_events(jl.cdnow_events_path(), con=jl.connect())
        jl.connect(spark_con)
        try:
            out["spark"] = jl.load_events(jl.cdnow_events_path(), con=spark_con)
        finally:
            jl.connect()
    return out


@pytest.fixture(scope="module")
def on_cdnow(cdnow, spark_con):
    """``on_cdnow(fn)`` -> ``(duckdb, spark)`` results of ``fn(events)`` on the CDNOW log."""
    def run(fn):
        jl.connect()
        try:
            a = fn(cdnow["duckdb"])
        finally:
            jl.connect()
        jl.connect(spark_con)
        try:
            b = fn(cdnow["spark"])
        finally:
            jl.connect()
        return a, b

    return run


@pytest.fixture(scope="module")
def cached(on_each):
    """``cached(key, fn)``: ``on_each(fn)`` computed once per module for ``key`` (saves Spark jobs)."""
    memo = {}

    def run(key, fn):
        if key not in memo:
            memo[key] = on_each(fn)
        return memo[key]

    return run


def _purchases(sim) -> pd.DataFrame:
    ev = sim.events
    p = ev[ev["event"] == "purchase"].copy()
    p["ts"] = pd.to_datetime(p["ts"], utc=True)
    return p


# --------------------------------------------------------------------------- cohorts
COHORTS = [
    dict(period="M"),
    dict(period="W"),
    dict(period="Q"),
    dict(period="M", cohort_by="first_activity", active_on="any"),
    dict(period="M", cohort_by="first_activity"),
    dict(period="W", active_on="any", observation_end="2024-09-15 12:00"),
]


@pytest.mark.parametrize("kw", COHORTS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_cohort_table(cached, same, kw):
    a, b = cached(("cohort", tuple(kw.items())), lambda ds: cohort_table(ds.events, **kw))
    same(a.cells, b.cells, what=f"cohort_table {kw}")
    assert a.observation_end == b.observation_end
    assert a.cells["observed"].sum() > 10
    same(a.average_retention(), b.average_retention(), what="average_retention")
    same(a.summary, b.summary, what="cohort summary")


def test_cohort_table_anchor(cached, small_sim):
    """Monthly cohort sizes and month-0 revenue equal a pandas computation on the raw events."""
    kw = dict(period="M")
    a, b = cached(("cohort", tuple(kw.items())), lambda ds: cohort_table(ds.events, **kw))
    p = _purchases(small_sim)
    end = p["ts"].max().floor("D") + pd.Timedelta(days=1)
    p = p[p["ts"] < end]
    first = p.groupby("customer_id")["ts"].min().dt.strftime("%Y-%m")
    sizes = first.value_counts().sort_index()
    for res in (a, b):
        got = res.cells.groupby("cohort")["size"].first()
        assert got.to_dict() == sizes.to_dict()
    p = p.assign(month=p["ts"].dt.strftime("%Y-%m"), cohort=p["customer_id"].map(first))
    rev0 = p[p["month"] == p["cohort"]].groupby("cohort")["revenue"].sum()
    got0 = b.cells[b.cells["period"] == 0].set_index("cohort")["revenue"]
    np.testing.assert_allclose(got0.loc[rev0.index].to_numpy(), rev0.to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("by", ["cohort", "acquisition_channel"])
def test_repeat_purchase(on_each, same, by):
    a, b = on_each(lambda ds: repeat_purchase(ds.events, ds.customers, by=by, within_days=60))
    same(a.by_group, b.by_group, what=f"repeat_purchase by {by}")
    same(a.gaps, b.gaps, what="gaps")
    same(a.time_to_second, b.time_to_second, what="time_to_second")
    same(a.customers, b.customers, sort_by=["customer_id"], what="per-customer")
    assert a.median_gap_days == b.median_gap_days
    assert a.by_group["repeaters"].sum() > 50


# --------------------------------------------------------------------------- RFM
@pytest.mark.parametrize("kw", [dict(), dict(as_of="2024-10-01", bins=4)], ids=["default", "as_of-bins4"])
def test_rfm_table_and_segments(cached, same, kw):
    a, b = cached(("rfm", tuple(kw.items())), lambda ds: rfm_table(ds.events, **kw))
    same(a, b, what=f"rfm_table {kw}")
    assert a.attrs == b.attrs
    sa, sb = rfm_segments(a), rfm_segments(b)
    same(sa.table, sb.table, what="rfm_segments table")
    same(sa.grid, sb.grid, what="rfm_segments grid")


def test_rfm_anchor(cached, small_sim):
    """Frequency and monetary per customer equal a pandas group-by of the purchases."""
    a, b = cached(("rfm", ()), lambda ds: rfm_table(ds.events))
    p = _purchases(small_sim)
    ref = p.groupby("customer_id").agg(frequency=("ts", "size"), monetary=("revenue", lambda s: s.fillna(0).sum()))
    for res in (a, b):
        got = res.set_index("customer_id").loc[ref.index]
        assert (got["frequency"].to_numpy() == ref["frequency"].to_numpy()).all()
        np.testing.assert_allclose(got["monetary"].to_numpy(), ref["monetary"].to_numpy(), rtol=1e-9)


def test_rfm_migration(on_each, small_sim):
    a, b = on_each(lambda ds: rfm_migration(ds.events, "2024-06-01", "2024-12-01"))
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    p = _purchases(small_sim)
    assert int(a.to_numpy().sum()) == p.loc[p["ts"] < pd.Timestamp("2024-12-01", tz="UTC"), "customer_id"].nunique()


# --------------------------------------------------------------------------- CLV
@pytest.mark.parametrize("kw", [dict(), dict(time_unit="D", calibration_end="2024-09-30", holdout_end="2024-12-31")],
                         ids=["default", "holdout"])
def test_customer_summary_and_bgnbd(on_each, same, kw):
    a, b = on_each(lambda ds: customer_summary(ds.events, **kw))
    same(a, b, what=f"customer_summary {kw}")
    assert a.attrs == b.attrs
    fa, fb = BetaGeoFitter().fit(a), BetaGeoFitter().fit(b)
    for k in fa.params_:
        assert fa.params_[k] == pytest.approx(fb.params_[k], rel=1e-9), k
    assert fa.result_.log_likelihood == pytest.approx(fb.result_.log_likelihood, rel=1e-9)


# --------------------------------------------------------------------------- CDNOW (real data, CSV)
def test_cdnow_customer_summary_and_bgnbd(on_cdnow, same):
    a, b = on_cdnow(lambda ev: customer_summary(ev, calibration_end="1997-09-30", holdout_end="1998-06-30",
                                                time_unit="W"))
    same(a, b, what="CDNOW customer_summary")
    assert len(a) == 2357  # the published calibration sample
    fa, fb = BetaGeoFitter().fit(a), BetaGeoFitter().fit(b)
    for k in fa.params_:
        assert fa.params_[k] == pytest.approx(fb.params_[k], rel=1e-9), k
    # Fader, Hardie & Lee (2005): r=0.243, alpha=4.414, a=0.793, b=2.426
    assert fb.params_["r"] == pytest.approx(0.243, rel=0.01)
    assert fb.params_["alpha"] == pytest.approx(4.414, rel=0.01)


def test_cdnow_cohorts_rfm_repeat(on_cdnow, same):
    a, b = on_cdnow(lambda ev: cohort_table(ev, period="M"))
    same(a.cells, b.cells, what="CDNOW cohort_table")
    # CDNOW: everyone's first purchase is in the first quarter of 1997
    assert a.cells.groupby("cohort")["size"].first().sum() == 2357
    a, b = on_cdnow(lambda ev: cohort_table(ev, period="Q", active_on="any"))
    same(a.cells, b.cells, what="CDNOW quarterly cohort_table")
    a, b = on_cdnow(lambda ev: rfm_table(ev, as_of="1998-01-01"))
    same(a, b, what="CDNOW rfm_table")
    a, b = on_cdnow(lambda ev: repeat_purchase(ev, within_days=90))
    same(a.by_group, b.by_group, what="CDNOW repeat_purchase")
    same(a.gaps, b.gaps, what="CDNOW gaps")


# --------------------------------------------------------------------------- loyalty
def _loyalty(ds):
    return loyalty_effect(ds.events, ds.customers, window_days=60, controls_per_member=3, seed=3)


def test_loyalty_effect(cached, same):
    a, b = cached("loyalty", _loyalty)
    same(a.per_customer, b.per_customer, sort_by=["customer_id"], what="loyalty per-customer aggregate")
    same(a.windows, b.windows, what="loyalty windows (matched controls and counts)")
    same(a.table, b.table, what="loyalty effect table")
    assert a.table["n_members"].iloc[0] > 10


def test_loyalty_engine_part_anchor(cached, small_sim):
    """The engine per-customer aggregate equals pandas on the raw events."""
    a, b = (r.per_customer for r in cached("loyalty", _loyalty))
    ev = small_sim.events.assign(ts=lambda d: pd.to_datetime(d["ts"], utc=True))
    p = ev[ev["event"] == "purchase"]
    own = ev[~ev["event"].isin(OUTBOUND_EVENTS)]
    ref = p.groupby("customer_id").agg(purchases=("ts", "size"), t0=("ts", "min"))
    ref["last_activity"] = own.groupby("customer_id")["ts"].max()
    for res in (a, b):
        got = res.set_index("customer_id").loc[ref.index]
        assert (got["purchases"].to_numpy() == ref["purchases"].to_numpy()).all()
        assert (got["t0"] == ref["t0"]).all() and (got["last_activity"] == ref["last_activity"]).all()
