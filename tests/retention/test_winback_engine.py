"""Win-back engine rewrite (issue 26): the new passes give exactly what the old ones gave.

``winback_rates`` now finds episodes from one hash aggregation into (customer, bucket) rows
and orders only those rows, and computes them once (a materialized table) for the touch
join; ``winback_reactivation`` joins the log with the assignment windows in the engine
instead of bringing every event to pandas; ``winback_targets`` brings back only the churned
customers' last activity. Each is compared here with the previous implementation, kept
below verbatim (engine half and pandas half), on the sample data and on hand-built edge
cases (duplicate timestamps, gaps of exactly the threshold, activity before the first
purchase, windows ending exactly at the observation end, returns exactly at the window end).
"""
from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import engine
from journeylib.core import time as core_time
from journeylib.core.errors import JourneyDataError
from journeylib.core.intervals import wilson_interval
from journeylib.core.schema import OUTBOUND_EVENTS, PURCHASE_EVENT
from journeylib.core.time import DAY_US, epoch_us, from_epoch_us, to_epoch_us
from journeylib.experiments.statistics import two_proportion_test
from journeylib.retention import targeting, winback
from journeylib.retention.churn import activity_expr, check_days, churn_labels, customer_table

T0 = pd.Timestamp("2024-01-01", tz="UTC")


# --------------------------------------------------------------------------- old implementations
def old_episodes(events: Any, customers: Any = None, *, inactive_days: float = 60, within_days: float = 30,
                 by=("touch_channel",), start_event: str | None = PURCHASE_EVENT,
                 touch_events=OUTBOUND_EVENTS, observation_end: Any = None) -> tuple[pd.DataFrame, int]:
    """The episodes and censored count of winback_rates before issue 26 (a lead over every activity)."""
    n_days = check_days("inactive_days", inactive_days)
    m_days = check_days("within_days", within_days)
    by = (by,) if isinstance(by, str) else tuple(by)
    ev = engine.to_table(events)
    end = core_time.observation_end(ev, observation_end)
    end_s = to_epoch_us(end)
    a = activity_expr(ev, touch_events, start_event, end_s)
    a = engine.shift_within(a, "customer_id", [a.t], periods=-1, nxt=a.t)
    gap_after = a.nxt.isnull().ifelse(ibis.literal(end_s, type="int64") - a.t, a.nxt - a.t)
    ep = a.filter(gap_after > int(round(n_days * DAY_US)))
    window_end = ep.t + int(round((n_days + m_days) * DAY_US))
    returned = ep.nxt.notnull() & (ep.nxt <= window_end)
    ep = ep.select("customer_id", last=ep.t, nxt=ep.nxt, returned=returned,
                   complete=(window_end <= end_s) | returned)
    ep = ep.mutate(episode=ibis.row_number().over(ibis.window(order_by=["customer_id", "last"])))
    tc = ev.filter(ev.event.isin(list(touch_events))) if touch_events else None
    if tc is not None and "channel" in ev.columns:
        tc = tc.select(tc.customer_id, tt=epoch_us(tc), touch_channel=tc.channel)
        j = ep.join(tc, "customer_id")
        limit = j.returned.ifelse(j.nxt, j.last + int(round((n_days + m_days) * DAY_US)))
        j = j.filter((j.tt > j.last) & (j.tt <= limit))
        j = j.mutate(k=ibis.row_number().over(ibis.window(group_by="episode", order_by=["tt", "touch_channel"])))
        first = j.filter(j.k == 0).select("episode", "touch_channel")
        ep = ep.left_join(first, "episode").drop("episode_right")
    else:
        ep = ep.mutate(touch_channel=ibis.null("string"))
    extra = [c for c in by if c != "touch_channel"]
    if extra:
        cu = customer_table(customers)
        ep = ep.left_join(cu.select("customer_id", *extra), "customer_id").drop("customer_id_right")
    df = engine.to_pandas(ep.drop("episode"))
    df["touch_channel"] = df["touch_channel"].fillna("none")
    df["returned"] = df["returned"].astype(bool)
    complete = df["complete"].astype(bool)
    n_censored = int((~complete).sum())
    df = df[complete].drop(columns=["complete"])
    df["days_to_return"] = (df["nxt"] - df["last"]) / DAY_US
    df["last_active"] = from_epoch_us(df.pop("last"))
    df = df.drop(columns="nxt")
    df.loc[~df["returned"], "days_to_return"] = np.nan
    df = df.sort_values(["customer_id", "last_active"]).reset_index(drop=True)
    return df, n_censored


def old_reactivation(events, assignments, *, experiment, holdout="holdout", within_days=30.0,
                     observation_end=None, confidence_level=0.95):
    """winback_reactivation before issue 26 (every non-outbound event brought to pandas)."""
    a = engine.to_pandas(engine.to_table(assignments))
    a = a[a["experiment"] == experiment]
    t = engine.to_table(events)
    end = core_time.observation_end(t, observation_end)
    ev = engine.to_pandas(t.filter(~t.event.isin(list(OUTBOUND_EVENTS))).select("customer_id", "ts"))
    a = a.assign(assigned_at=pd.to_datetime(a["assigned_at"], utc=True))
    a = a[a["assigned_at"] + pd.Timedelta(days=within_days) <= end]
    ev = ev.merge(a[["customer_id", "assigned_at"]], on="customer_id")
    ev = ev[(ev["ts"] > ev["assigned_at"]) & (ev["ts"] <= ev["assigned_at"] + pd.Timedelta(days=within_days))]
    back = set(ev["customer_id"])
    a["reactivated"] = a["customer_id"].isin(back)
    a["group"] = np.where(a["variant"] == holdout, "holdout", "targeted")
    rows = []
    for g in ("targeted", "holdout"):
        d = a[a["group"] == g]
        n, k = len(d), int(d["reactivated"].sum())
        lo, hi = wilson_interval(k, n, confidence_level)
        rows.append((g, n, k, k / n if n else np.nan, lo, hi))
    table = pd.DataFrame(rows, columns=["group", "customers", "reactivated", "rate", "ci_low", "ci_high"])
    (n1, n0), (k1, k0) = table["customers"], table["reactivated"]
    t = two_proportion_test(k1, n1, k0, n0, confidence_level=confidence_level)
    vrows = []
    for v, d in a[a["group"] == "targeted"].groupby(a["variant"].astype(str), sort=True):
        n, k = len(d), int(d["reactivated"].sum())
        tv = two_proportion_test(k, n, k0, n0, confidence_level=confidence_level)
        vrows.append((v, n, k, k / n, float(tv["estimate"]), float(tv["ci_low"]), float(tv["ci_high"]),
                      float(tv["statistic"]), float(tv["pvalue"])))
    variants = pd.DataFrame(vrows, columns=list(targeting.VARIANT_COLUMNS))
    return table, variants, float(t["statistic"]), float(t["pvalue"]), float(t["estimate"])


def old_targets(events, customers=None, *, churn_after=60, horizon=52.0, discount_rate=0.10, segment_by=""):
    """winback_targets' list before issue 26 (the whole churn_labels table brought to pandas)."""
    from journeylib.loyalty.clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value, customer_summary

    t = engine.to_table(events)
    end = core_time.observation_end(t)
    labels = churn_labels(t, churn_after=churn_after, observation_end=end, gap="final")
    summary = customer_summary(t, calibration_end=end.floor("D"))
    bgf = BetaGeoFitter().fit(summary)
    ggf = GammaGammaFitter().fit(summary)
    clv = customer_lifetime_value(summary, bgf, ggf, horizon=horizon, discount_rate=discount_rate)
    inactive = labels[labels["churned"].astype(bool)][["customer_id", "last_active"]]
    out = inactive.merge(clv[["customer_id", "p_alive", "expected_purchases", "expected_spend", "clv"]],
                         on="customer_id", how="inner")
    out["days_inactive"] = (end - pd.to_datetime(out["last_active"], utc=True)) / pd.Timedelta(days=1)
    out = out.rename(columns={"clv": "value_at_stake"})
    out = out.sort_values(["value_at_stake", "customer_id"], ascending=[False, True], kind="mergesort")
    out = out.reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    cols = list(targeting.TARGET_COLUMNS)
    if segment_by:
        seg = engine.customer_column(customers, segment_by, "segment_by")
        out[segment_by] = out["customer_id"].map(seg)
        cols.append(segment_by)
    return out[cols], int(len(summary))


# --------------------------------------------------------------------------- helpers
def _ev(rows):
    """rows: (customer, day, event[, channel]) -> canonical events frame."""
    return pd.DataFrame([{"customer_id": r[0], "ts": T0 + pd.Timedelta(days=r[1]), "event": r[2],
                          "channel": r[3] if len(r) > 3 else None} for r in rows])


def _same_winback(events, customers=None, **kw):
    new = winback.winback_rates(events, customers, **kw)
    ref, n_censored = old_episodes(events, customers, **kw)
    pd.testing.assert_frame_equal(new.episodes, ref, check_exact=True)
    assert new.n_censored == n_censored
    return new


@pytest.fixture(scope="module")
def sample():
    return jl.load_dataset("sample")


# --------------------------------------------------------------------------- winback_rates
WINBACK_CASES = {
    "notebook_02": dict(inactive_days=75, within_days=30, start_event="purchase"),
    "notebook_02_by_segment": dict(inactive_days=75, within_days=30, start_event="purchase",
                                   by=("touch_channel", "segment")),
    "defaults": dict(),
    "first_activity": dict(inactive_days=60, within_days=50, start_event=None),
    "window_longer_than_gap": dict(inactive_days=20, within_days=90, start_event=None),
    "fractional_days": dict(inactive_days=30.25, within_days=7.5),
    "earlier_end": dict(inactive_days=45, within_days=30, observation_end="2025-03-31"),
    "no_touch_events": dict(inactive_days=60, within_days=30, touch_events=()),
    "segment_only": dict(inactive_days=60, within_days=30, by="segment"),
}


@pytest.mark.parametrize("case", list(WINBACK_CASES))
def test_winback_episodes_identical_on_sample(sample, case):
    new = _same_winback(sample.events, sample.customers, **WINBACK_CASES[case])
    assert len(new.episodes) > 50 and 0 < new.episodes["returned"].sum() < len(new.episodes)


def test_winback_sample_summary_unchanged(sample):
    """The docstring example's numbers, and the notebook's call, to the count."""
    s = winback.winback_rates(sample.events).summary
    assert s["touch_channel"].tolist() == ["email", "none", "paid_ads"]
    assert s["n"].tolist() == [281, 139, 113] and s["returned"].tolist() == [25, 4, 3]


# day 300 is the observation end (customer Z); inactive_days=60, within_days=40
EDGE = _ev([
    ("A", 0, "purchase"), ("A", 0, "purchase"), ("A", 60, "landing"),            # duplicate, gap exactly 60
    ("A", 160, "purchase"), ("A", 160, "product_view"),                           # duplicate after a long gap
    ("B", -30, "landing"), ("B", -5, "product_view"), ("B", 1, "purchase"),       # activity before the start
    ("B", 101, "product_view"),                                                   # returns exactly at the window end
    ("C", 10, "landing"), ("C", 20, "purchase"), ("C", 20.5, "landing"),
    ("C", 80, "winback_sent", "email"), ("C", 120, "winback_sent", "paid_ads"),   # two touches, no return
    ("D", 5, "purchase"), ("D", 75, "winback_sent", "sms"), ("D", 75, "winback_sent", "email"),
    ("D", 90, "purchase"),                                                        # tied touches: first by name
    ("E", 200, "purchase"),                                                       # window ends exactly at the end
    ("F", 150, "landing"), ("F", 260, "landing"),                                 # never purchases
    ("G", 0, "purchase"), ("G", 100.0001, "landing"),                             # just past the window
    ("H", 0, "purchase"), ("H", 59.99999, "landing"), ("H", 250, "purchase"),     # gap just under 60, then one
    ("I", 0, "winback_sent", "email"), ("I", 10, "purchase"),                     # start after an outbound touch
    ("Z", 300, "landing", "search"),
])


@pytest.mark.parametrize("kw", [dict(), dict(start_event=None), dict(start_event="landing"),
                                dict(start_event="winback_sent"), dict(observation_end=T0 + pd.Timedelta(days=260)),
                                dict(inactive_days=0.5, within_days=100), dict(inactive_days=100, within_days=0.5)],
                         ids=["purchase", "first_activity", "landing", "outbound_start", "earlier_end",
                              "short_gap", "short_window"])
def test_winback_episodes_identical_on_edges(kw):
    base = dict(inactive_days=60, within_days=40)
    new = _same_winback(EDGE, **{**base, **kw})
    if not kw:  # the default case, read by hand
        ep = new.episodes.set_index(["customer_id", new.episodes.groupby("customer_id").cumcount()])
        assert ep.loc[("B", 0), "returned"] and ep.loc[("B", 0), "days_to_return"] == pytest.approx(100.0)
        assert ep.loc[("D", 0), "touch_channel"] == "email" and ep.loc[("D", 0), "returned"]
        assert not ep.loc[("G", 0), "returned"] and not ep.loc[("C", 0), "returned"]
        assert ep.loc[("C", 0), "touch_channel"] == "email"
        assert ep.loc[("E", 0), "touch_channel"] == "none"  # complete: window ends on the last day
        assert "F" not in ep.index.get_level_values(0)


def test_winback_random_logs_identical(rng):
    """Random logs with many ties and gaps around the threshold (whole and half days)."""
    n = 4000
    days = rng.integers(0, 400, n) / rng.choice([1, 2, 4], n)
    ev = pd.DataFrame({"customer_id": rng.choice([f"c{i}" for i in range(150)], n),
                       "ts": T0 + pd.to_timedelta(days, unit="D"),
                       "event": rng.choice(["purchase", "landing", "product_view", "winback_sent"], n,
                                           p=[0.2, 0.35, 0.3, 0.15]),
                       "channel": rng.choice(["email", "paid_ads", "sms"], n)})
    for kw in (dict(inactive_days=30, within_days=20), dict(inactive_days=15, within_days=60, start_event=None),
               dict(inactive_days=45.5, within_days=10)):
        new = _same_winback(ev, **kw)
        assert new.episodes["returned"].any() and (~new.episodes["returned"]).any()


# --------------------------------------------------------------------------- winback_reactivation
def _same_reactivation(events, assignments, **kw):
    new = targeting.winback_reactivation(events, assignments, **kw)
    table, variants, stat, pv, diff = old_reactivation(events, assignments, **kw)
    pd.testing.assert_frame_equal(new.summary, table, check_exact=True)
    pd.testing.assert_frame_equal(new.by_variant, variants, check_exact=True)
    assert (new.statistic, new.pvalue, new.difference) == (stat, pv, diff)
    return new


def test_reactivation_identical_on_sample(sample):
    r = _same_reactivation(sample.events, sample.assignments, experiment="winback", within_days=30)
    assert r.summary["reactivated"].sum() > 10
    _same_reactivation(sample.events, sample.assignments, experiment="winback", within_days=7.5,
                       confidence_level=0.9)
    _same_reactivation(sample.events, sample.assignments, experiment="winback", within_days=30,
                       observation_end="2025-05-15")


def test_reactivation_identical_on_edges():
    """Returns exactly at the window's bounds, a repeated assignment, sub-microsecond assignment times."""
    t0 = pd.Timestamp("2025-05-01 12:00:00.0000015", tz="UTC")
    ids = [f"c{i}" for i in range(10)]
    assign = pd.DataFrame({"customer_id": ids + ["c9"], "experiment": "wb",
                           "variant": ["email", "sms"] * 3 + ["holdout"] * 4 + ["holdout"],
                           "assigned_at": [t0] * 10 + [t0 + pd.Timedelta(days=40)]})
    at = t0.floor("us")
    events = pd.DataFrame({
        "customer_id": ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c9", "c8"],
        "ts": [at, at + pd.Timedelta(microseconds=1), at + pd.Timedelta(days=30),
               at + pd.Timedelta(days=30, microseconds=1), at + pd.Timedelta(days=3), at + pd.Timedelta(days=5),
               at + pd.Timedelta(days=2), at + pd.Timedelta(days=31), at + pd.Timedelta(days=45),
               at + pd.Timedelta(days=90)],
        "event": ["purchase", "landing", "purchase", "purchase", "winback_sent", "purchase", "landing",
                  "purchase", "purchase", "landing"]})
    r = _same_reactivation(events, assign, experiment="wb", within_days=30)
    g = r.summary.set_index("group")
    # c1 (just after), c2 (exactly 30 days, timestamps floored to microseconds), c5 back; c0 at the
    # assignment (not after), c3 just late, c4 only an outbound touch; holdout c6 back, c9 back in
    # its second window, which counts for both of its rows
    assert g.loc["targeted", "reactivated"] == 3 and g.loc["holdout", "reactivated"] == 3
    assert g.loc["holdout", "customers"] == 5


def test_reactivation_errors_unchanged(sample):
    with pytest.raises(JourneyDataError, match="no rows of experiment"):
        targeting.winback_reactivation(sample.events, sample.assignments, experiment="nope")
    with pytest.raises(JourneyDataError, match="has no variant 'control'"):
        targeting.winback_reactivation(sample.events, sample.assignments, experiment="winback", holdout="control")


# --------------------------------------------------------------------------- winback_targets
FLOATS = ["days_inactive", "p_alive", "expected_purchases", "expected_spend", "value_at_stake"]


@pytest.mark.parametrize("kw", [dict(churn_after=60), dict(churn_after=30.5, horizon=26, segment_by="segment")],
                         ids=["defaults", "segment"])
def test_targets_identical(sample, kw):
    """The list equals the old one's: the same customers with the same last activity (exactly), the
    same model values. The BG/NBD and Gamma-Gamma fits vary slightly from one call to the next (old
    or new code alike: about 3e-8 relative here, 1e-6 at 10^7 events), so values are compared per
    customer to 1e-6 and the ranks only where that noise cannot swap two neighbours."""
    res = targeting.winback_targets(sample.events, sample.customers, **kw)
    ref, total = old_targets(sample.events, sample.customers, **kw)
    assert list(res.targets.columns) == list(ref.columns) and res.customers_total == total and len(ref) > 100
    a, b = res.targets.set_index("customer_id").sort_index(), ref.set_index("customer_id").sort_index()
    pd.testing.assert_index_equal(a.index, b.index)
    pd.testing.assert_frame_equal(a.drop(columns=["rank", *FLOATS]), b.drop(columns=["rank", *FLOATS]),
                                  check_exact=True)
    pd.testing.assert_frame_equal(a[FLOATS], b[FLOATS], rtol=1e-6, atol=0)
    v = ref["value_at_stake"].to_numpy()
    gap = np.abs(np.diff(v)) > 1e-5 * np.abs(v[1:])
    clear = np.r_[True, gap] & np.r_[gap, True]
    assert clear.mean() > 0.9
    assert (res.targets["customer_id"].to_numpy()[clear] == ref["customer_id"].to_numpy()[clear]).all()


def test_targets_docstring_numbers(sample):
    res = targeting.winback_targets(sample.events, churn_after=60)
    top = res.targets[["rank", "days_inactive", "p_alive", "value_at_stake"]].head(2).round(2)
    assert top.to_dict("list") == {"rank": [1, 2], "days_inactive": [67.05, 88.12], "p_alive": [0.81, 0.68],
                                   "value_at_stake": [625.42, 436.82]}


def test_reactivation_missing_column_named(sample):
    """An assignments table without ``assigned_at`` is a data error naming the column (was a KeyError)."""
    bad = jl.to_pandas(sample.assignments).drop(columns="assigned_at")
    with pytest.raises(JourneyDataError, match=r"assignments: missing column\(s\) \['assigned_at'\]"):
        targeting.winback_reactivation(sample.events, bad, experiment="winback")


def test_split_by_a_customer_column_equals_asking_for_it(sample):
    """Report 02 splits its win-back rates by segment without a second pass over the log."""
    kw = WINBACK_CASES["notebook_02"]
    asked = winback.winback_rates(sample.events, sample.customers, by=("touch_channel", "segment"), **kw)
    split = winback.winback_rates(sample.events, **kw).split_by(sample.customers, "segment")
    assert split.by == asked.by
    pd.testing.assert_frame_equal(split.summary, asked.summary, check_exact=True)
    pd.testing.assert_frame_equal(split.episodes[asked.episodes.columns], asked.episodes, check_exact=True)
    assert split.findings == asked.findings and split.reading == asked.reading
    # a customer missing from the table is its own blank group, as with the engine's join before
    fewer = sample.customers.to_pandas().iloc[100:]
    blank = winback.winback_rates(sample.events, **kw).split_by(fewer, "segment").summary
    lost = asked.episodes["customer_id"].isin(sample.customers.to_pandas()["customer_id"].iloc[:100])
    assert blank.loc[blank["segment"].isna(), "n"].sum() == lost.sum() > 0
    with pytest.raises(jl.JourneyParameterError, match="already split by it"):
        split.split_by(sample.customers, "segment")
    twice = pd.concat([fewer, fewer.iloc[:3]])
    with pytest.raises(JourneyDataError, match="3 customer_id value.s. appear on more than one row"):
        winback.winback_rates(sample.events, **kw).split_by(twice, "segment")
