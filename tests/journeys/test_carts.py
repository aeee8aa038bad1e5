"""Abandoned carts: planted recovery rates of the sample, and a hand-made log."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import engine
from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.core.intervals import wilson_interval
from journeylib.journeys.carts import NO_MESSAGE, RATE_COLUMNS, abandoned_carts

CATEGORICAL = ("value_source", "value_band", "channel", "segment")
DAY_US = 86_400_000_000


# --------------------------------------------------------------------------- reference
# The pandas implementation before issue 26 (every cart and purchase brought to pandas, matched with
# merge_asof; one row per cart in the Kaplan-Meier fits), kept to prove the engine version equal.
def _ref_us(ts):
    ts = pd.to_datetime(ts, utc=True)
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "us")).astype("int64")


def _ref_band(value):
    known = value.dropna()
    out = pd.Series("no earlier order", index=value.index, dtype=object)
    if known.nunique() < 3:
        out[value.notna()] = "all"
        return out
    q = known.quantile([1 / 3, 2 / 3]).to_numpy()
    labels = [f"low (up to {q[0]:,.0f})", f"middle ({q[0]:,.0f} to {q[1]:,.0f})", f"high (over {q[1]:,.0f})"]
    out[value.notna()] = np.where(known <= q[0], labels[0], np.where(known <= q[1], labels[1], labels[2]))
    return out


def _ref_rates(carts, dimension, col, level):
    f = carts[carts["followed_up"]]
    groups = [("all", f)] if col is None else [(str(g), d) for g, d in f.groupby(col, sort=True)]
    if col is not None and not groups:
        return pd.DataFrame(columns=list(RATE_COLUMNS))
    rows = []
    for g, d in groups:
        n, k = len(d), int(d["recovered"].sum())
        lo, hi = wilson_interval(k, n, level)
        med = d.loc[d["recovered"], "days_to_recovery"].median() if k else np.nan
        rows.append((dimension, g, n, k, k / n if n else np.nan, lo, hi, med))
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


def _ref_km(carts, end_days, level):
    from lifelines import KaplanMeierFitter

    rows = []
    event = carts["days_to_recovery"].notna()
    duration = carts["days_to_recovery"].where(event, end_days).clip(lower=1e-9)
    channels = [(str(g), d.index) for g, d in carts.groupby("channel", sort=True)]
    for g, idx in [("all", carts.index)] + (channels if len(channels) > 1 else []):  # one channel: "all" alone
        if len(idx) < 2:
            continue
        kmf = KaplanMeierFitter(alpha=round(1 - level, 12))
        kmf.fit(duration[idx], event_observed=event[idx])
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        rows.append(pd.DataFrame({"group": g, "days": sf.index.to_numpy(float),
                                  "recovered_share": 1 - sf.to_numpy(),
                                  "ci_low": 1 - ci.iloc[:, 1].to_numpy(), "ci_high": 1 - ci.iloc[:, 0].to_numpy()}))
    if not rows:
        return pd.DataFrame(columns=["group", "days", "recovered_share", "ci_low", "ci_high"])
    return pd.concat(rows, ignore_index=True)


def reference_carts(events, messages=None, customers=None, *, window_hours=24, recovery_days=14,
                    recovery_campaign="cart_recovery", segment_by="", observation_end=None, confidence_level=0.95):
    """``(carts, rates, curves)`` as abandoned_carts computed them before issue 26."""
    t = engine.to_table(events)
    end = jl.core.time.observation_end(t, observation_end)
    end_us = jl.core.time.to_epoch_us(end)
    cols = ["customer_id", "ts", "event"] + (["revenue"] if "revenue" in t.columns else [])
    ev = engine.to_pandas(t.filter(t.event.isin(["add_to_cart", "purchase"])).select(*cols))
    if "revenue" not in ev.columns:
        ev["revenue"] = np.nan
    ev["us"] = _ref_us(ev["ts"])
    ev = ev[ev["us"] <= end_us]
    carts = ev[ev["event"] == "add_to_cart"].copy()
    buys = ev[ev["event"] == "purchase"]
    nb = buys[["customer_id", "us"]].rename(columns={"us": "buy_us"}).sort_values("buy_us")
    carts = pd.merge_asof(carts.sort_values("us"), nb.assign(us=nb["buy_us"]), on="us", by="customer_id",
                          direction="forward")
    window_us = int(round(window_hours * 3600e6))
    carts["ab_us"] = carts["us"] + window_us
    gone = (carts["buy_us"].isna() | (carts["buy_us"] > carts["ab_us"])) & (carts["ab_us"] <= end_us)
    ab = carts[gone].copy()
    # the customer's average order value before the cart: the mean revenue of the earlier purchases
    paid = buys[buys["revenue"].notna()].sort_values("us", kind="stable")
    known = paid.assign(_n=paid.groupby("customer_id").cumcount() + 1,
                        _sum=paid.groupby("customer_id")["revenue"].cumsum())[["customer_id", "us", "_n", "_sum"]]
    ab = pd.merge_asof(ab.sort_values("us"), known.rename(columns={"us": "_at"}).assign(us=lambda k: k["_at"]),
                       on="us", by="customer_id", direction="backward", allow_exact_matches=False)
    ab = ab.drop(columns="_at").sort_values(["customer_id", "us"], kind="stable")
    has_value = ab["revenue"].notna()
    ab["value"] = ab["revenue"].where(has_value, ab["_sum"] / ab["_n"])
    ab = ab.drop(columns=["_n", "_sum"])
    ab["value_source"] = np.where(has_value, "cart", np.where(ab["value"].notna(), "customer average order",
                                                               "unknown"))
    days = (ab["buy_us"] - ab["ab_us"]) / DAY_US
    ab["days_to_recovery"] = days.where(ab["buy_us"] <= end_us)
    ab["followed_up"] = ab["ab_us"] + recovery_days * DAY_US <= end_us
    ab["recovered"] = ab["days_to_recovery"].notna() & (ab["days_to_recovery"] <= recovery_days)
    ab["channel"] = NO_MESSAGE
    if messages is not None:
        m = engine.to_table(messages)
        sends = engine.to_pandas(m.filter((m.action == "send") & (m.campaign == recovery_campaign))
                                 .select("customer_id", "ts", "channel"))
        if len(sends):
            sends["key"] = _ref_us(sends["ts"])
            ab["key"] = ab["ab_us"] - 60_000_000
            hit = pd.merge_asof(ab.sort_values("key"), sends[["customer_id", "key", "channel"]].rename(
                columns={"channel": "msg_channel"}).sort_values("key"), on="key", by="customer_id",
                direction="forward", tolerance=DAY_US + 60_000_000)
            ab = hit.drop(columns="key")
            ab["channel"] = ab["msg_channel"].fillna(NO_MESSAGE)
            ab = ab.drop(columns="msg_channel")
    ab["segment"] = "all"
    if segment_by:
        seg = engine.customer_column(customers, segment_by, "segment_by")
        ab["segment"] = ab["customer_id"].map(seg).astype(object).fillna("unknown").astype(str)
    ab["value_band"] = _ref_band(ab["value"])
    ab["cart_at"] = pd.to_datetime(ab["us"], unit="us", utc=True)
    ab["abandoned_at"] = pd.to_datetime(ab["ab_us"], unit="us", utc=True)
    ab = ab.sort_values(["customer_id", "ab_us"], kind="mergesort").reset_index(drop=True)
    end_days = (end_us - ab["ab_us"]) / DAY_US
    out = ab[["customer_id", "cart_at", "abandoned_at", "value", "value_source", "value_band", "channel", "segment",
              "days_to_recovery", "followed_up", "recovered"]].copy()
    parts = [_ref_rates(out, "overall", None, confidence_level)]
    if messages is not None:
        parts.append(_ref_rates(out, "channel", "channel", confidence_level))
    if out["value"].notna().any():
        parts.append(_ref_rates(out, "value_band", "value_band", confidence_level))
    if segment_by:
        parts.append(_ref_rates(out, "segment", "segment", confidence_level))
    rates = pd.concat([p for p in parts if len(p)], ignore_index=True)
    rates[["carts", "recovered"]] = rates[["carts", "recovered"]].astype(int)
    return out, rates, _ref_km(out, end_days, confidence_level)


def curves_every_hour(curves):
    """The reference's step curves (a row per distinct wait) read every hour from 0 to the last wait."""
    out = []
    for g, c in curves.groupby("group", sort=False):
        grid = np.arange(np.ceil(c["days"].max() * 24) + 1) / 24
        at = np.searchsorted(c["days"].to_numpy(), grid, side="right") - 1  # the step in force at each hour
        row = c.iloc[np.maximum(at, 0)][["recovered_share", "ci_low", "ci_high"]].to_numpy()
        row[at < 0] = 0.0  # before the first wait nothing is recovered (and the band is that point)
        out.append(pd.DataFrame({"group": g, "days": grid, "recovered_share": row[:, 0], "ci_low": row[:, 1],
                                 "ci_high": row[:, 2]}))
    return pd.concat(out, ignore_index=True) if out else curves


def assert_same_as_reference(res, ref):
    """The engine result equals the reference: carts (text labels now categoricals), rates and curves."""
    carts, rates, curves = ref
    assert list(res.carts.columns) == list(carts.columns)
    for c in CATEGORICAL:
        assert isinstance(res.carts[c].dtype, pd.CategoricalDtype), c
    mine = res.carts.astype({c: object for c in CATEGORICAL})
    # floats to noise: the engine's mean of a customer's orders may differ from pandas' in the last bit
    pd.testing.assert_frame_equal(mine, carts, check_exact=False, rtol=1e-12, atol=0)
    pd.testing.assert_frame_equal(res.rates, rates, check_exact=False, rtol=1e-12, atol=0)
    pd.testing.assert_frame_equal(res.curves, curves_every_hour(curves), check_exact=False, rtol=1e-12, atol=1e-15)


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


# --------------------------------------------------------------------------- engine == reference
@pytest.mark.parametrize("kind", ["messages_segments", "plain"])
def test_sample_same_as_pandas_reference(sample, res, kind):
    if kind == "messages_segments":
        r, args, kw = res, (sample.events, sample.messages, sample.customers), dict(segment_by="segment")
    else:
        args, kw = (sample.events,), dict(window_hours=12, recovery_days=7)
        r = abandoned_carts(*args, **kw)
    ref = reference_carts(*args, **kw)
    assert len(ref[0]) > 5000 and ref[0]["recovered"].any()
    assert_same_as_reference(r, ref)
    if kind == "messages_segments":
        assert set(r.carts["channel"]) == {"email", "push", "sms", "retargeting", NO_MESSAGE}
        assert set(r.carts["segment"]) == set(sample.customers.to_pandas()["segment"])


T0 = pd.Timestamp("2025-01-01", tz="UTC")
H, D, MIN, US = (pd.Timedelta(hours=1), pd.Timedelta(days=1), pd.Timedelta(minutes=1),
                 pd.Timedelta(microseconds=1))


def edge_log():
    """Events, messages, customers with the matching's edge cases (end of the log: T0 + 60 days)."""
    rows = [  # customer, time, event, revenue
        ("a", T0, "add_to_cart", 10.0), ("a", T0, "purchase", 10.0),            # purchase at the cart's time
        ("b", T0, "add_to_cart", np.nan), ("b", T0 + 2 * H, "add_to_cart", 30.0),  # two carts, one purchase
        ("b", T0 + 3 * D, "purchase", 40.0), ("b", T0 + 4 * D, "purchase", np.nan),
        ("b", T0 + 5 * D, "purchase", 20.0),                                       # b's average order: 30
        ("c", T0 + 59 * D + 12 * H, "add_to_cart", 5.0),                           # abandoned after the end
        ("c", T0 + 58 * D, "add_to_cart", 6.0),                                    # abandoned, not followed up
        ("d", T0, "add_to_cart", np.nan),                                          # no purchase: no value
        ("e", T0 + D, "add_to_cart", np.nan), ("e", T0 + 30 * D, "purchase", 50.0),
        ("f", T0 + D, "add_to_cart", 12.0),
        ("g", T0 + D, "add_to_cart", 14.0),
        ("h", T0 + D, "add_to_cart", 16.0), ("h", T0 + D + 24 * H, "purchase", 16.0),  # bought at the window's end
        ("i", T0 + 2 * D, "add_to_cart", 18.0), ("i", T0 + 2 * D + 24 * H + US, "purchase", 18.0),  # just after
        ("j", T0, "purchase", 20.0), ("j", T0 + D, "purchase", 40.0), ("j", T0 + 3 * D, "add_to_cart", np.nan),
        ("j", T0 + 5 * D, "purchase", 120.0),  # the recovery: its 120 is not the cart's value
        ("z", T0 + 60 * D, "landing", np.nan),
    ]
    ev = pd.DataFrame(rows, columns=["customer_id", "ts", "event", "revenue"])
    ab = {c: ts + D for c, ts in [("d", T0), ("e", T0 + D), ("f", T0 + D), ("g", T0 + D), ("i", T0 + 2 * D)]}
    sends = [  # customer, time, campaign, channel, action
        ("d", ab["d"] - MIN, "cart_recovery", "sms", "send"),               # one minute before: counts
        ("d", ab["d"] + H, "cart_recovery", "email", "send"),
        ("e", ab["e"] - MIN - US, "cart_recovery", "sms", "send"),          # just too early
        ("e", ab["e"] + D + MIN, "cart_recovery", "push", "send"),          # one day + one minute after: too late
        ("f", ab["f"] + D, "cart_recovery", "push", "send"),                # exactly one day after: counts
        ("g", ab["g"], "newsletter", "email", "send"),                      # another campaign
        ("g", ab["g"], "cart_recovery", "email", "open"),                   # not a send
        ("i", ab["i"] + 2 * H, "cart_recovery", "retargeting", "send"),
        ("b", T0 + D - MIN, "cart_recovery", "email", "send"),              # b's first cart (ab T0 + 1 day)
    ]
    msg = pd.DataFrame(sends, columns=["customer_id", "ts", "campaign", "channel", "action"])
    cust = pd.DataFrame({"customer_id": list("abcdefgh"), "segment": ["x", "y", "x", "y", "x", "y", "x", "y"]})
    return ev, msg, cust


@pytest.mark.parametrize("with_messages", [True, False])
def test_edge_cases_by_hand_and_as_reference(with_messages):
    ev, msg, cust = edge_log()
    kw = dict(window_hours=24, recovery_days=14, segment_by="segment")
    args = (ev, msg if with_messages else None, cust)
    r = abandoned_carts(*args, **kw)
    assert_same_as_reference(r, reference_carts(*args, **kw))
    c = r.carts
    assert list(c["customer_id"]) == ["b", "b", "c", "d", "e", "f", "g", "i", "j"]  # not a, h; c's late cart not
    b = c[c["customer_id"] == "b"]
    assert b["days_to_recovery"].tolist() == pytest.approx([2.0, 2.0 - 2 / 24])  # both to the one purchase
    # no order before b's first cart: no value (the later order is what recovered it); the second carries its own
    assert np.isnan(b["value"].iloc[0]) and b["value"].iloc[1] == 30.0
    assert b["value_source"].tolist() == ["unknown", "cart"]
    row = c.set_index("customer_id")
    assert row.loc["j", "value"] == 30.0 and row.loc["j", "value_source"] == "customer average order"
    assert row.loc["j", "recovered"] and row.loc["j", "days_to_recovery"] == pytest.approx(1.0)
    assert not row.loc["c", "followed_up"] and row.loc["e", "followed_up"]
    assert np.isnan(row.loc["d", "value"]) and row.loc["d", "value_source"] == "unknown"
    assert row.loc["d", "value_band"] == "no earlier order"
    assert row.loc["i", "days_to_recovery"] == pytest.approx(1 / DAY_US * 1.0)
    assert row.loc["e", "days_to_recovery"] == pytest.approx(28.0) and not row.loc["e", "recovered"]
    assert row.loc["i", "segment"] == "unknown" and row.loc["b", "segment"].tolist() == ["y", "y"]
    expected = {"b": ["email", NO_MESSAGE], "c": [NO_MESSAGE], "d": ["sms"], "e": [NO_MESSAGE], "f": ["push"],
                "g": [NO_MESSAGE], "i": ["retargeting"], "j": [NO_MESSAGE]}
    if not with_messages:
        expected = {k: [NO_MESSAGE] * len(v) for k, v in expected.items()}
    assert c.groupby("customer_id", observed=True)["channel"].agg(list).to_dict() == expected
    assert r.has_messages is with_messages
    # without a message log every cart is "no message": one curve, not the overall curve twice (with the log,
    # the channels of one cart each have no curve)
    assert set(r.curves["group"]) == ({"all", NO_MESSAGE} if with_messages else {"all"})
    # followed up: every cart but c's late one (8 carts; b's two, i's and j's recovered)
    assert r.recovery_rate == pytest.approx(4 / 8)
    assert r.by("segment").set_index("group")["carts"].to_dict() == {"unknown": 2, "x": 2, "y": 4}


def test_no_cart_raises_and_carts_none_abandoned():
    ev = pd.DataFrame({"customer_id": ["a", "a"], "ts": [T0, T0 + D], "event": ["landing", "purchase"]})
    with pytest.raises(JourneyDataError, match="no 'add_to_cart' events"):
        abandoned_carts(ev)
    ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": [T0, T0 + H, T0 + 30 * D],
                       "event": ["add_to_cart", "purchase", "landing"]})
    r = abandoned_carts(ev)
    assert r.carts.empty and list(r.carts.columns) == list(reference_carts(ev)[0].columns)
    assert int(r.rates["carts"].iloc[0]) == 0


def test_curves_from_counts_equal_one_row_per_cart():
    """Carts sharing durations (whole days) give the per-cart lifelines curves from counts."""
    days = [1, 1, 2, 2, 2, 3, 5, 5]
    ev = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)] * 2,
                       "ts": [T0] * 8 + [T0 + D + k * D for k in days],
                       "event": ["add_to_cart"] * 8 + ["purchase"] * 5 + ["landing"] * 3})
    ev.loc[13:, "ts"] = T0 + 7 * D  # three carts stay open to the end (censored at day 6)
    r = abandoned_carts(ev)
    assert_same_as_reference(r, reference_carts(ev))
    km = r.curves[r.curves["group"] == "all"].set_index("days")["recovered_share"]
    assert km.loc[1.0] == pytest.approx(2 / 8) and km.loc[2.0] == pytest.approx(5 / 8)


def test_numeric_and_missing_segments_as_the_reference():
    """Segments that are numbers, missing, or the text "unknown" label the carts as the reference does."""
    ev, msg, cust = edge_log()
    cust = cust.assign(tier=[1.0, 2.0, None, 1.0, 2.0, None, 1.0, 2.0],
                       word=["unknown", "y", None, "y", "x", "unknown", "x", "y"])
    kw = dict(window_hours=24, recovery_days=14)
    for col in ("tier", "word"):
        r = abandoned_carts(ev, msg, cust, segment_by=col, **kw)
        assert_same_as_reference(r, reference_carts(ev, msg, cust, segment_by=col, **kw))
        assert "unknown" in set(r.carts["segment"])
    assert set(abandoned_carts(ev, msg, cust, segment_by="tier", **kw).carts["segment"]) == {"1.0", "2.0", "unknown"}


def test_customers_whose_ids_match_no_cart_label_every_cart_unknown():
    """A customers table whose ids match none of the log's (00042 against 42) used to raise IndexError
    (an empty segment lookup indexed at -1); every cart is now in the segment "unknown", as the reference
    labels it, and the recovery numbers are those of the log without customers."""
    ev, msg, cust = edge_log()
    other = cust.assign(customer_id=["00" + c for c in cust["customer_id"]])
    kw = dict(window_hours=24, recovery_days=14)
    r = abandoned_carts(ev, msg, other, segment_by="segment", **kw)
    assert_same_as_reference(r, reference_carts(ev, msg, other, segment_by="segment", **kw))
    assert list(r.carts["segment"].astype(str).unique()) == ["unknown"]
    seg = r.summary[r.summary["dimension"] == "segment"]
    assert list(seg["group"]) == ["unknown"]
    alone = abandoned_carts(ev, msg, **kw)
    overall = r.summary[r.summary["dimension"] == "overall"].drop(columns="dimension").reset_index(drop=True)
    pd.testing.assert_frame_equal(overall, alone.summary[alone.summary["dimension"] == "overall"]
                                  .drop(columns="dimension").reset_index(drop=True))
    assert int(seg["carts"].iloc[0]) == int(overall["carts"].iloc[0]) == 8


def test_recovery_plot_draws_the_curve_exactly_at_its_thinned_times():
    """Millions of steps are drawn as at most a few thousand points, each on the Kaplan-Meier curve."""
    import matplotlib.pyplot as plt

    from journeylib.core.plots import step_points

    days = np.sort(np.random.default_rng(3).exponential(5.0, 50_000))
    share = np.arange(1, len(days) + 1) / (len(days) + 1)
    at = step_points(days, 28.0, points=500)
    assert len(at) <= 501 and np.all(np.diff(at) > 0)
    assert days[at[-1]] > 28.0 and days[at[-2]] <= 28.0  # reaches past the axis' edge
    grid = np.linspace(days[0], 28.0, 500)
    # the curve's value at every grid time is the value drawn there
    drawn = share[at][np.searchsorted(days[at], grid, side="right") - 1]
    assert np.array_equal(drawn, share[np.searchsorted(days, grid, side="right") - 1])
    curves = pd.DataFrame({"group": "all", "days": days, "recovered_share": share, "ci_low": share, "ci_high": share})
    res = jl.journeys.carts.CartRecovery(pd.DataFrame(), pd.DataFrame({"dimension": ["overall"], "recovery_rate": [0.3]}),
                                         curves, recovery_days=14.0)
    fig, ax = plt.subplots()
    try:
        res.plot(ax=ax)
        assert max(len(line.get_xdata()) for line in ax.get_lines()) <= 2001  # of 50,000 steps
    finally:
        plt.close(fig)


def test_recovery_plot_legend_sits_beside_the_curves(res):
    """Carts are recovered in their first days: a legend inside the axes covered the curves there."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    try:
        res.plot(ax=ax)
        fig.canvas.draw()
        legend, frame = ax.get_legend(), ax.get_window_extent()
        assert legend.get_title().get_text() == "recovery message"
        assert {t.get_text() for t in legend.get_texts()} == set(res.curves["group"].astype(str))
        assert legend.get_window_extent().x0 >= frame.x1  # right of the plotting area, over no curve
    finally:
        plt.close(fig)


def test_recovery_plot_without_a_message_log_draws_one_curve_and_no_legend(sample):
    import matplotlib.pyplot as plt

    r = abandoned_carts(sample.events)
    fig, ax = plt.subplots(figsize=(9, 5))
    try:
        r.plot(ax=ax)
        assert set(r.curves["group"]) == {"all"} and ax.get_legend() is None
        assert len([ln for ln in ax.get_lines() if ln.get_label() == "all"]) == 1
    finally:
        plt.close(fig)
