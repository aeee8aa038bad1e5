"""The engine's order/review matching, referral counts and group labels against the pandas code they replaced.

The reference functions below are the former pandas implementations (``merge_asof`` for the
reviews, a per-customer frame for referrals, a Python call per customer for the labels), kept
to pin the engine versions to them: on the sample, on the sample with every time floored to
the day (ties everywhere) and on hand-made logs with ties and edge cases. The one deliberate
difference: of a customer's orders at the very same instant, a review belongs to the later in
rank (the repeat order); the former code sorted with an unstable sort, so its choice among such
orders was arbitrary. The reference sorts stably, which picks the same order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import engine
from journeylib.core.schema import PURCHASE_EVENT, REFERRAL_EVENT, REVIEW_EVENT
from journeylib.core.time import end_of_day, observation_end as observation_end_of, to_utc
from journeylib.journeys import feedback as F
from journeylib.journeys.common import drop_outbound, events_table

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def day(d: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=d)


# --------------------------------------------------------------------------- the former pandas code (reference)
def reference_review_orders(events, feedback, within_days, observation_end):
    """The former ``_review_orders`` (pandas ``merge_asof``), with a stable sort of the orders."""
    t = events_table(events, ("customer_id", "ts", "event"))
    end = end_of_day(observation_end_of(t, observation_end))
    orders = engine.to_pandas(t.filter(t.event == PURCHASE_EVENT).select("customer_id", "ts"))
    orders["ts"] = pd.to_datetime(orders["ts"], utc=True)
    if feedback is not None:
        rev = F.feedback_rows(feedback, "review")
    else:
        rev = engine.to_pandas(t.filter(t.event == REVIEW_EVENT).select("customer_id", "ts"))
        rev["ts"] = pd.to_datetime(rev["ts"], utc=True)
        rev["score"], rev["has_text"] = np.nan, False
    orders = orders.sort_values(["customer_id", "ts"], kind="mergesort").reset_index(drop=True)
    orders["order"] = np.where(orders.groupby("customer_id").cumcount() == 0, "first", "repeat")
    orders["order_id"] = np.arange(len(orders))
    orders["order_ts"] = orders["ts"]
    window = pd.Timedelta(days=int(within_days))
    if len(rev) and len(orders):
        r = pd.merge_asof(rev.sort_values("ts", kind="mergesort"),
                          orders[["customer_id", "ts", "order_id", "order_ts"]].sort_values("ts", kind="mergesort"),
                          on="ts", by="customer_id", direction="backward")
        r = r[r["order_id"].notna() & (r["ts"] - r["order_ts"] <= window)]
        r["days"] = (r["ts"] - r["order_ts"]).dt.total_seconds() / 86400
        first = r.sort_values("ts").drop_duplicates("order_id")
        orders = orders.merge(first[["order_id", "days"]], on="order_id", how="left")
    else:
        orders["days"] = np.nan
    orders = orders[orders["ts"] <= end - window].copy()
    orders["reviewed"] = orders["days"].notna()
    return orders, rev


def reference_counts(orders: pd.DataFrame) -> pd.DataFrame:
    """``first, days, n`` of the reference orders, sorted (NaN days: not reviewed)."""
    x = orders.assign(first=orders["order"].eq("first"))
    out = x.groupby(["first", "days"], dropna=False).size().rename("n").reset_index()
    return out.sort_values(["first", "days"], na_position="first").reset_index(drop=True)


def engine_counts(events, feedback, within_days, observation_end) -> pd.DataFrame:
    orders, _ = F._followed_orders(events, feedback, within_days, observation_end)
    c = F._order_counts(orders)[["first", "days", "n"]]
    return c.sort_values(["first", "days"], na_position="first").reset_index(drop=True)


def reference_referral_customers(events, customers, channel, followed_days, observation_end, require_channel=True):
    """The former ``_referral_customers``: one pandas row per customer."""
    t = drop_outbound(events_table(events, ("customer_id", "ts", "event")))
    end = to_utc(observation_end_of(t, observation_end))
    per = t.group_by("customer_id").aggregate(first_ts=t.ts.min(), bought=(t.event == PURCHASE_EVENT).any(),
                                              referred_someone=(t.event == REFERRAL_EVENT).any())
    df = engine.to_pandas(per)
    acq = None
    if customers is not None:
        cu = engine.to_table(customers, table="customers")
        if "acquisition_channel" in cu.columns:
            acq = engine.to_pandas(cu.select("customer_id", "acquisition_channel")).set_index("customer_id")[
                "acquisition_channel"]
    if acq is None and "channel" in t.columns:
        ch = t.filter(t.channel.notnull())
        first = ch.group_by("customer_id").aggregate(_t=ch.ts.min())
        j = ch.join(first, [ch.customer_id == first.customer_id, ch.ts == first._t])
        acq = engine.to_pandas(j.group_by(j.customer_id).aggregate(acquisition_channel=j.channel.min())).set_index(
            "customer_id")["acquisition_channel"]
    if acq is None and require_channel:
        raise AssertionError("no channel")
    df["first_ts"] = pd.to_datetime(df["first_ts"], utc=True)
    df["referred"] = df["customer_id"].map(acq).eq(channel) if acq is not None else False
    df["followed"] = df["first_ts"] <= end - pd.Timedelta(days=int(followed_days))
    return df


def reference_as_groups(raw: pd.Series) -> pd.Series:
    return raw.astype(object).map(lambda v: "(missing)" if pd.isna(v) else str(v))


# --------------------------------------------------------------------------- logs
def tie_log():
    """Orders at the same instant, reviews at the very time of an order, before any order, on the window's edge,
    two reviews of one order, an order too close to the end, a customer without orders."""
    ev = pd.DataFrame([
        ("a", day(0), "purchase"), ("a", day(0), "purchase"), ("a", day(10), "purchase"),
        ("b", day(5), "purchase"), ("b", day(20), "purchase"), ("b", day(20), "purchase"), ("b", day(20), "purchase"),
        ("c", day(1), "landing"), ("c", day(3), "purchase"), ("c", day(95), "purchase"),
        ("d", day(2), "landing"), ("e", day(4), "purchase"),
    ], columns=["customer_id", "ts", "event"])
    ev["channel"] = None
    ev["stage"] = None
    fb = pd.DataFrame([
        ("a", day(0), 5.0), ("a", day(0.5), 4.0), ("a", day(17), 3.0),       # tie at order time; edge: 7 days exactly
        ("b", day(4), 1.0), ("b", day(20), 2.0), ("b", day(21), 5.0),        # before any order; at a triple tie
        ("c", day(10.0000001), 4.0), ("c", day(96), 5.0), ("d", day(3), 2.0),  # just past 7 days; too recent; no order
        ("e", day(4), 3.0), ("e", day(4), 4.0),                              # two reviews at the order's instant
    ], columns=["customer_id", "ts", "score"])
    fb["kind"] = "review"
    fb["text"] = None
    return ev, fb


@pytest.fixture(scope="module")
def sample():
    return jl.load_journey("sample")


def floored(x: pd.DataFrame) -> pd.DataFrame:
    x = x.copy()
    x["ts"] = pd.to_datetime(x["ts"], utc=True).dt.floor("D")
    return x


# --------------------------------------------------------------------------- reviews
@pytest.mark.parametrize("within_days", [7, 1, 30])
def test_review_matching_equals_merge_asof_on_ties(within_days):
    ev, fb = tie_log()
    for f in (fb, None):
        ref, _ = reference_review_orders(ev, f, within_days, day(100))
        got = engine_counts(ev, f, within_days, day(100))
        pd.testing.assert_frame_equal(got, reference_counts(ref), check_dtype=False)


def test_review_matching_by_hand():
    ev, fb = tie_log()
    got = engine_counts(ev, fb, 7, day(100))
    # orders up to 7 days before the end (day 101, midnight after day 100): all but c's day-95 order.
    # a: its two day-0 orders are the first and a repeat; the reviews at day 0 and 0.5 go to the later of them
    #    (0 days); the day-10 order is reviewed on day 17 (exactly 7 days counts). b: the day-4 review comes
    #    before any order; day 20 and 21 go to the last of the three day-20 orders (0 days). c: 7 days and a
    #    moment is too late. e: two reviews at the order's instant (0 days).
    want = pd.DataFrame({"first": [False, False, False, True, True], "days": [np.nan, 0.0, 7.0, np.nan, 0.0],
                         "n": [2, 2, 1, 3, 1]})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    ref, _ = reference_review_orders(ev, fb, 7, day(100))
    pd.testing.assert_frame_equal(got, reference_counts(ref), check_dtype=False)


@pytest.mark.parametrize("floor", [False, True])
def test_review_matching_equals_merge_asof_on_the_sample(sample, floor):
    ev, fb = sample.events.to_pandas(), sample.feedback.to_pandas()
    if floor:
        ev, fb = floored(ev), floored(fb)
    for f in (fb, None):
        ref, _ = reference_review_orders(ev, f, 30, None)
        got = engine_counts(ev, f, 30, None)
        pd.testing.assert_frame_equal(got, reference_counts(ref), check_dtype=False, rtol=1e-12)


# --------------------------------------------------------------------------- referrals
def reference_referral_summary(df: pd.DataFrame) -> tuple[list, int, int]:
    """The former :func:`referrals` counts from the per-customer frame."""
    rows = []
    for who, x in (("referred", df[df["referred"]]), ("others", df[~df["referred"]])):
        f = x[x["followed"]]
        rows.append((who, len(x), len(f), int(f["bought"].sum())))
    return rows, int(df["referred_someone"].sum()), len(df)


def referral_log():
    ev = pd.DataFrame([
        ("a", day(0), "landing", "referral"), ("a", day(2), "purchase", None), ("a", day(8), "referral", None),
        ("a", day(25), "referral", None),
        ("b", day(1), "landing", "referral"), ("b", day(1), "landing", "search"),  # two channels at the first instant
        ("c", day(0), "landing", None), ("c", day(3), "landing", "search"), ("c", day(30), "referral", None),
        ("d", day(40), "landing", "referral"),                                    # followed exactly 60 days
        ("e", day(41), "landing", "referral"), ("e", day(42), "purchase", None),   # too recent
        ("f", day(5), "winback_sent", "email"), ("f", day(6), "landing", "email"),  # outbound left out
        ("g", day(100), "referral", None),
    ], columns=["customer_id", "ts", "event", "channel"])
    ev["stage"] = None
    cu = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e", "x"],
                       "acquisition_channel": ["referral", "search", None, "referral", "referral", "referral"],
                       "loyalty_member": pd.array([True, False, True, None, False, True], dtype="boolean"),
                       "loyalty_joined_at": [day(10), pd.NaT, pd.NaT, pd.NaT, pd.NaT, day(1)],
                       "segment": ["x", "y", None, "x", "y", "x"]})
    return ev, cu


@pytest.mark.parametrize("with_customers", [True, False])
def test_referral_counts_equal_the_per_customer_frame(with_customers):
    ev, cu = referral_log()
    c = cu if with_customers else None
    df = reference_referral_customers(ev, c, "referral", 60, day(100))
    rows, k, n = reference_referral_summary(df)
    r = F.referrals(ev, c, followed_days=60, observation_end=day(100))
    got = r.summary[["customers", "count", "followed", "converted"]].itertuples(index=False, name=None)
    assert [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in got] == rows
    assert r.referrers == k and r.referral_rate == pytest.approx(k / n)
    # by hand, acquisition from the customers table: a, d, e referred (x has no events); d followed (day 40 is
    # 60 days before the end), e too recent; a bought. Else the first touch: a, b (referral < search), d, e.
    if with_customers:
        assert rows[0] == ("referred", 3, 2, 1)
    else:
        assert rows[0] == ("referred", 4, 3, 1)


@pytest.mark.parametrize("floor", [False, True])
def test_referral_counts_equal_the_per_customer_frame_on_the_sample(sample, floor):
    ev, cu = sample.events.to_pandas(), sample.customers.to_pandas()
    if floor:
        ev = floored(ev)
    for c in (cu, None):
        df = reference_referral_customers(ev, c, "referral", 60, None)
        rows, k, n = reference_referral_summary(df)
        r = F.referrals(ev, c, followed_days=60)
        got = [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in
               r.summary[["customers", "count", "followed", "converted"]].itertuples(index=False, name=None)]
        assert got == rows
        assert (r.referrers, np.isfinite(r.referral_rate)) == (k, k > 0)


def reference_spells(ev, cu, by, joined_at, end):
    """The former spells of :func:`feedback_by_group`: (customer, group) at the first event and at the end,
    referred when a referral event of the customer falls in that group; ``group -> (n, k)``."""
    grouping = F._grouping(cu, by, joined_at)
    cust = reference_referral_customers(ev, cu, "referral", 60, end, False)
    t = drop_outbound(events_table(ev, ("customer_id", "ts", "event")))
    ref = engine.to_pandas(t.filter(t.event == REFERRAL_EVENT).select("customer_id", "ts"))
    ref["ts"] = pd.to_datetime(ref["ts"], utc=True)
    if not len(ref):  # no referral events: the measure is not compared
        return {}
    end = to_utc(observation_end_of(t, end))
    ref["group"], _ = grouping.at(ref["customer_id"], ref["ts"])
    g0, _ = grouping.at(cust["customer_id"], cust["first_ts"])
    g1, _ = grouping.at(cust["customer_id"], pd.Series(end, index=cust.index))
    spells = pd.concat([pd.DataFrame({"customer_id": cust["customer_id"].to_numpy(), "group": g.to_numpy()})
                        for g in (g0, g1)], ignore_index=True).drop_duplicates()
    hit = set(zip(ref["customer_id"], ref["group"]))
    spells["k"] = [(c, g) in hit for c, g in zip(spells["customer_id"], spells["group"])]
    return {g: (len(x), int(x["k"].sum())) for g, x in spells.groupby("group")}


@pytest.mark.parametrize("by,joined_at", [("loyalty_member", "loyalty_joined_at"), ("loyalty_member", None),
                                          ("segment", None)])
def test_referral_spells_equal_the_former_pandas_code(by, joined_at):
    ev, cu = referral_log()
    fb = pd.DataFrame({"customer_id": ["a", "b"], "ts": [day(1), day(2)], "kind": "nps", "score": [9.0, 3]})
    r = F.feedback_by_group(ev, fb, cu, by=by, joined_at=joined_at, observation_end=day(100))
    s = r.summary[r.summary["measure"] == "share who referred someone"]
    got = {g: (int(n), int(round(v * n))) for g, n, v in zip(s["group"], s["n"], s["value"])}
    assert got == reference_spells(ev, cu, by, joined_at, day(100))
    if joined_at:
        # a: one of the others until day 10 (referral on day 8), a member after (day 25): both spells referred;
        # b, e: others; c: member without a join time (referral day 30); d: no flag; f, g: not in the customers
        # table (g referred)
        assert got == {"members": (2, 2), "others": (3, 1), "(missing)": (3, 1)}


@pytest.mark.parametrize("floor", [False, True])
def test_referral_spells_equal_the_former_pandas_code_on_the_sample(sample, floor):
    ev, fb, cu = sample.events.to_pandas(), sample.feedback.to_pandas(), sample.customers.to_pandas()
    if floor:
        ev, fb = floored(ev), floored(fb)
        cu["loyalty_joined_at"] = pd.to_datetime(cu["loyalty_joined_at"], utc=True).dt.floor("D")
    for by, joined_at in (("loyalty_member", "loyalty_joined_at"), ("segment", None)):
        r = F.feedback_by_group(ev, fb, cu, by=by, joined_at=joined_at)
        s = r.summary[r.summary["measure"] == "share who referred someone"]
        got = {g: (int(n), int(round(v * n))) for g, n, v in zip(s["group"], s["n"], s["value"])}
        assert got == reference_spells(ev, cu, by, joined_at, None)


# --------------------------------------------------------------------------- group labels
@pytest.mark.parametrize("raw", [
    pd.Series([True, False, None]), pd.Series([1.0, np.nan, 2.5]), pd.Series(["a", None, "b", np.nan]),
    pd.Series([1, 2, 3]), pd.Series(pd.to_datetime(["2024-01-01", None], utc=True)),
    pd.Series([True, 1, "x", None, 1.0]), pd.Series(["a", "b", None], dtype="category"),
    pd.Series([], dtype=object), pd.Series(["x", pd.NA], dtype="string"), pd.Series([1, None], dtype="Int64"),
    pd.Series([True, None], dtype="boolean"), pd.Series([True, np.nan, False], dtype=object)])
def test_group_labels_equal_the_value_by_value_labels(raw):
    raw.index = [f"c{i}" for i in range(len(raw))]
    got = F.group_labels(raw)
    pd.testing.assert_series_equal(got, reference_as_groups(raw), check_names=False)


def test_customer_groups_on_the_sample(sample):
    cu = sample.customers.to_pandas()
    for col in ("segment", "loyalty_member", "acquisition_channel"):
        got = F.customer_groups(cu, col)
        raw = cu.set_index("customer_id")[col]
        pd.testing.assert_series_equal(got, reference_as_groups(raw), check_names=False)


def test_membership_flag_by_engine_codes_equals_the_flag():
    _, cu = referral_log()
    g = F._grouping(cu, "loyalty_member", "loyalty_joined_at")
    assert g.mode == "join time"
    assert [v if isinstance(v, bool) else "nan" for v in g.flag] == [True, False, True, "nan", False, True]
    codes, labels = g.codes()
    assert labels == ["others", "members"]
    assert codes["_g"].tolist()[:3] == [1, 0, 1] and pd.isna(codes["_g"].iloc[3])
    assert codes["_jus"].iloc[0] == day(10).value // 1000 and pd.isna(codes["_jus"].iloc[1])
