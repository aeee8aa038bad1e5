"""Spark parity of churn and survival: the engine half (churn labels and counts, win-back
episodes, first order value) gives the same rows on DuckDB and on PySpark (local mode)
from the same Parquet files, and so the end results (Kaplan-Meier, log-rank, Cox, the
time-varying Cox in start/stop form) agree to 1e-9 relative.

Fixtures ``on_each``, ``both`` and ``same`` come from ``tests/spark/conftest.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.retention import churn, winback
from journeylib.retention import survival as sv

pytestmark = pytest.mark.spark

RTOL = 1e-9

# churn_labels settings that take different engine paths (start join, censoring, gap mode)
LABEL_CASES = {
    "default": dict(churn_after=60),
    "purchase_start": dict(churn_after=45, start_event="purchase"),
    "last_activity": dict(churn_after=60, censor_at="last_activity", observation_end="2025-05-31"),
    "final_gap": dict(churn_after=60, gap="final", start_event="purchase"),
}


@pytest.fixture(scope="module")
def labels(on_each):
    """churn_labels (joined with customers) for every case, ``{case: (duckdb, spark)}``."""
    return {name: on_each(lambda ds, kw=kw: churn.churn_labels(ds.events, ds.customers, **kw))
            for name, kw in LABEL_CASES.items()}


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_churn_labels_identical(labels, small_sim, same, case):
    a, b = labels[case]
    same(a, b, sort_by=["customer_id"], what=f"churn_labels[{case}]")
    assert a.attrs["observation_end"] == b.attrs["observation_end"]
    # not a vacuous comparison: every customer (or every purchaser) is there, some churned, some censored
    kw = LABEL_CASES[case]
    ev = small_sim.events
    expected = ev.loc[ev["event"] == "purchase", "customer_id"].nunique() if kw.get("start_event") \
        else ev.loc[~ev["event"].isin(["winback_sent"]), "customer_id"].nunique()
    if "observation_end" not in kw:
        assert len(a) == expected
    assert 0 < a["churned"].sum() < len(a)
    assert b["start"].dt.tz is not None and str(b["start"].dt.tz) == "UTC"


def test_churn_labels_against_pandas_rule(labels, small_sim):
    """The Spark labels follow the definition, recomputed here in pandas (first long gap)."""
    _, b = labels["default"]
    ev = small_sim.events
    act = ev[~ev["event"].isin(["winback_sent"])].sort_values(["customer_id", "ts"])
    end = ev["ts"].max()
    gap = pd.Timedelta(days=60)
    first = act.groupby("customer_id")["ts"].min()
    prev = act.groupby("customer_id")["ts"].shift()
    long_gap = (act["ts"] - prev) > gap
    gap_start = prev[long_gap].groupby(act.loc[long_gap, "customer_id"]).min()
    last = act.groupby("customer_id")["ts"].max()
    churned = gap_start.reindex(last.index).notna() | ((end - last) > gap)
    b = b.set_index("customer_id").loc[last.index]
    assert (b["churned"].to_numpy() == churned.to_numpy()).all()
    stop = gap_start.reindex(last.index).fillna(last)
    dur_churned = ((stop - first).dt.total_seconds() / 86400)[churned]
    np.testing.assert_allclose(b.loc[churned.to_numpy(), "duration"], dur_churned, rtol=1e-12)


def test_churn_counts_identical(on_each, labels, same):
    kw = dict(by=["segment"], start_event="purchase", churn_after=45)
    a, b = on_each(lambda ds: churn.churn_counts(ds.events, ds.customers, **kw))
    same(a, b, sort_by=["segment", "duration", "churned"], what="churn_counts")
    assert a["n"].sum() == len(labels["purchase_start"][0])  # every purchaser in one cell
    a0, b0 = on_each(lambda ds: churn.churn_counts(ds.events))
    same(a0, b0, sort_by=["duration", "churned"], what="churn_counts without groups")


def test_winback_episodes_and_rates_identical(on_each, same):
    def run(ds):
        return winback.winback_rates(ds.events, ds.customers, inactive_days=60, within_days=50,
                                   by=("touch_channel", "segment"))

    a, b = on_each(run)
    assert a.n_censored == b.n_censored
    same(a.episodes, b.episodes, sort_by=["customer_id", "last_active"], what="win-back episodes")
    same(a.summary, b.summary, sort_by=["touch_channel", "segment"], what="win-back rates")
    assert a.summary["n"].sum() > 100 and a.summary["returned"].sum() > 10
    assert set(a.episodes["touch_channel"]) - {"none"}  # some episodes had an outbound touch


def test_first_order_value_identical(on_each, both, small_sim, same):
    a, b = on_each(lambda ds: churn.first_order_value(ds.events))
    same(a, b, sort_by=["customer_id"], what="first_order_value")
    p = small_sim.events[small_sim.events["event"] == "purchase"]
    assert len(a) == p["customer_id"].nunique()
    # full ties on the first purchase (same time, channel, stage): the same row on both engines
    t = pd.Timestamp("2025-01-01", tz="UTC")
    ev = pd.DataFrame({"customer_id": ["A", "A", "A", "B", "B", "C", "C"],
                       "ts": [t, t, t, t, t + pd.Timedelta(1, "s"), t, t],
                       "event": "purchase", "channel": ["web", "web", "web", None, "web", None, "app"],
                       "stage": None, "revenue": [30.0, 10.0, 99.0, 5.0, 1.0, 7.0, 8.0]})
    ta, tb = both(lambda: churn.first_order_value(ev))
    same(ta, tb, what="first_order_value with ties")
    # A: full tie -> smaller revenue; B: the earlier purchase; C: a missing channel sorts last
    assert ta["first_order_value"].tolist() == [10.0, 5.0, 8.0]


def test_subsecond_timestamps(both, same):
    """Timestamps with microseconds: both engines see the same instants (the DuckDB fast path
    reads epoch microseconds; the portable path must not round to whole seconds)."""
    t0 = pd.Timestamp("2025-01-01 00:00:00.250001", tz="UTC")
    day = pd.Timedelta(days=1)
    us = pd.Timedelta(microseconds=1)
    ev = pd.DataFrame({
        "customer_id": ["A", "A", "B", "B", "C", "C", "C"],
        "ts": [t0, t0 + 60 * day + us,          # A: gap of 60 days + 1 us -> churned at 0
               t0, t0 + 60 * day,               # B: exactly 60 days -> no churn
               t0 + 0.5 * day, t0 + 20 * day + 999 * us, t0 + 200 * day],
        "event": ["visit", "purchase", "visit", "purchase", "visit", "visit", "visit"],
    })
    a, b = both(lambda: churn.churn_labels(ev, churn_after=60))
    same(a, b, sort_by=["customer_id"], what="sub-second churn labels")
    lab = a.set_index("customer_id")
    assert bool(lab.loc["A", "churned"]) and lab.loc["A", "duration"] == 0.0
    assert lab.loc["C", "duration"] == pytest.approx((19.5 * 86400 + 999e-6) / 86400, rel=1e-12)
    assert lab.loc["B", "last_active"] == t0 + 60 * day
    # naive timestamps are read as UTC on both engines (Spark's session zone is UTC)
    naive = ev.assign(ts=ev["ts"].dt.tz_localize(None))
    na, nb = both(lambda: churn.churn_labels(naive, churn_after=60))
    same(na, a, sort_by=["customer_id"], what="naive timestamps on DuckDB")
    same(nb, a, sort_by=["customer_id"], what="naive timestamps on Spark")


# --------------------------------------------------------------------------- end results
def _km_numbers(res: sv.KaplanMeierResult) -> dict[str, pd.DataFrame]:
    return {g: pd.concat([f.survival_function_, f.confidence_interval_], axis=1).reset_index()
            for g, f in res.fitters.items()}


def test_kaplan_meier_identical(on_each, same):
    def run(ds):
        cnt = churn.churn_counts(ds.events, ds.customers, by=["segment"], start_event="purchase")
        lab = churn.churn_labels(ds.events, ds.customers, start_event="purchase")
        return (sv.kaplan_meier(cnt, by="segment", weights_col="n"), sv.kaplan_meier(lab, by="segment"))

    (ka, la), (kb, lb) = on_each(run)
    for x, y, what in ((ka, kb, "KM from counts"), (la, lb, "KM from labels")):
        same(x.summary, y.summary, what=f"{what}: summary")
        nx, ny = _km_numbers(x), _km_numbers(y)
        assert list(nx) == list(ny) and len(nx) >= 3
        for g in nx:
            same(nx[g], ny[g], what=f"{what}: curve {g}")
    # the weighted fit on Spark's counts is the row-level fit on whole-day durations
    _, lab_b = on_each(lambda ds: churn.churn_labels(ds.events, ds.customers, start_event="purchase"))
    floored = sv.kaplan_meier(lab_b.assign(duration=np.floor(lab_b["duration"])), by="segment")
    pd.testing.assert_frame_equal(kb.summary, floored.summary, rtol=1e-12, atol=0)


def test_logrank_identical(labels):
    a, b = labels["purchase_start"]
    ra, rb = sv.logrank(a, "segment"), sv.logrank(b, "segment")
    assert ra.df == rb.df
    np.testing.assert_allclose([ra.statistic, ra.pvalue], [rb.statistic, rb.pvalue], rtol=RTOL)
    assert ra.pvalue < 0.01  # segments churn differently (planted)
    pd.testing.assert_frame_equal(ra.summary, rb.summary, rtol=RTOL, atol=0)


def test_cox_identical(on_each, same):
    def run(ds):
        lab = churn.churn_labels(ds.events, ds.customers, start_event="purchase")
        fov = churn.first_order_value(ds.events)
        lab = lab.merge(fov, on="customer_id", how="left")
        lab["log_first_order"] = np.log1p(lab["first_order_value"].fillna(0.0))
        base = sv.cox(lab, ["segment", "log_first_order"], reference={"segment": "standard"})
        tv = sv.cox(lab, ["segment"], time_varying={"loyalty": "loyalty_joined_at"},
                    reference={"segment": "standard"})
        long = sv.to_start_stop(lab[["customer_id", "start", "duration", "churned", "loyalty_joined_at"]],
                                {"loyalty": "loyalty_joined_at"})
        return base, tv, long

    (ba, ta, la), (bb, tb, lb) = on_each(run)
    same(la, lb, sort_by=["customer_id", "start"], what="to_start_stop")
    assert la["loyalty"].sum() > 0
    for x, y, what in ((ba, bb, "baseline Cox"), (ta, tb, "time-varying Cox")):
        same(x.terms, y.terms, what=what)
        assert x.n == y.n and x.events == y.events
    assert ba.concordance == pytest.approx(bb.concordance, rel=RTOL)
    same(ba.ph_test, bb.ph_test, what="PH test")
    hr = ba.terms.set_index("term")["hazard_ratio"]
    assert (hr.filter(like="segment") != 1).all()


def test_spark_session_time_zone_does_not_matter(spark_con, datasets, labels, same):
    """A session moved off UTC after connect() (e.g. by a notebook) gives the same labels and
    win-back episodes: the engine half works on instants (epoch microseconds), not wall-clock
    fields. (Timestamp *columns* fetched as such, e.g. customer attributes joined to the labels,
    come back from Spark as wall-clock time of the session zone: keep the session in UTC.)"""
    from journeylib.experiments import readout as ex

    session = spark_con._session
    before = session.conf.get("spark.sql.session.timeZone")
    ds = datasets["spark"]
    try:
        jl.connect(spark_con)
        session.conf.set("spark.sql.session.timeZone", "America/New_York")  # DST on March 9 / Nov 2
        lab = churn.churn_labels(ds.events, **LABEL_CASES["purchase_start"])
        wb = winback.winback_rates(ds.events, inactive_days=60, within_days=50)
        vs = ex.variant_stats(ds.assignments, ds.events)
    finally:
        session.conf.set("spark.sql.session.timeZone", before)
        jl.connect()
    ref_lab = labels["purchase_start"][0]
    same(lab, ref_lab[list(lab.columns)], sort_by=["customer_id"], what="labels, New York session")
    duck = datasets["duckdb"]
    ref = winback.winback_rates(duck.events, inactive_days=60, within_days=50)
    same(wb.episodes, ref.episodes, sort_by=["customer_id", "last_active"], what="win-back, New York session")
    ref_vs = ex.variant_stats(duck.assignments, duck.events)
    same(vs, ref_vs, sort_by=["experiment", "variant", "entry_day", "metric"], what="variant_stats, New York session")
