"""Message engagement: planted open/click rates and fatigue of the sample, and a hand-made log.

The engine implementation is checked against the former pandas one (``merge_asof``), kept
below as an independent reference: every rate row, the fatigue table and the test are equal.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import engine
from journeylib.core import time as core_time
from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.core.intervals import wilson_interval
from journeylib.experiments.statistics import two_proportion_test
from journeylib.journeys.carts import series_us
from journeylib.journeys.messages import RATE_COLUMNS, message_engagement
from journeylib.retention.churn import churn_labels


def _reference_matched(sends: pd.DataFrame, acts: pd.DataFrame) -> np.ndarray:
    """Per send: at least one of ``acts`` falls after it and before the next send of its key."""
    if acts.empty:
        return np.zeros(len(sends), dtype=bool)
    s = sends[["us", "key"]].assign(send_row=np.arange(len(sends))).sort_values("us")
    a = acts[["us", "key"]].sort_values("us")
    hit = pd.merge_asof(a, s, on="us", by="key", direction="backward")
    rows = hit["send_row"].dropna().astype(int).unique()
    out = np.zeros(len(sends), dtype=bool)
    out[rows] = True
    return out


def reference_engagement(messages, events=None, *, fatigue_sends=5, churn_after=60, observation_end=None,
                         confidence_level=0.95) -> dict:
    """The former pandas implementation of ``message_engagement`` (whole log in pandas, ``merge_asof``)."""
    m = engine.to_table(messages)
    end = core_time.observation_end(events if events is not None else m, observation_end)
    log = engine.to_pandas(m.select("customer_id", "ts", "campaign", "channel", "action"))
    log["us"] = series_us(log["ts"])
    log = log[log["us"] <= core_time.to_epoch_us(end)]
    log["key"] = log["customer_id"].astype(str) + "\x1f" + log["campaign"].astype(str) + "\x1f" + \
        log["channel"].astype(str)
    sends = log[log["action"] == "send"].sort_values(["customer_id", "us"], kind="mergesort").reset_index(drop=True)
    sends["opened"] = _reference_matched(sends, log[log["action"] == "open"])
    sends["clicked"] = _reference_matched(sends, log[log["action"] == "click"])
    sends["send_hour"] = pd.to_datetime(sends["ts"], utc=True).dt.hour
    sends["campaign / channel"] = sends["campaign"].astype(str) + " / " + sends["channel"].astype(str)
    sends["hour_key"] = list(zip(sends["campaign"].astype(str), sends["send_hour"]))
    rows = []
    for dim, col in (("campaign", "campaign"), ("channel", "channel"), ("campaign / channel", "campaign / channel"),
                     ("send hour", "hour_key")):
        for g, d in sends.groupby(col, sort=True):
            n = len(d)
            for metric, flag in (("open rate", "opened"), ("click rate", "clicked")):
                k = int(d[flag].sum())
                lo, hi = wilson_interval(k, n, confidence_level)
                label = f"{g[0]} at {int(g[1]):02d}:00 UTC" if dim == "send hour" else str(g)
                rows.append((dim, label, metric, n, k, k / n, lo, hi))
    out = {"rates": pd.DataFrame(rows, columns=list(RATE_COLUMNS)), "n_sends": len(sends),
           "fatigue": None, "statistic": np.nan, "pvalue": np.nan}
    if events is not None:
        last = sends.groupby("customer_id").tail(fatigue_sends)
        counts = last.groupby("customer_id")["opened"].agg(["size", "sum"])
        counts = counts[counts["size"] >= fatigue_sends]
        tired = (counts["sum"] == 0).rename("fatigued")
        labels = churn_labels(events, churn_after=churn_after, observation_end=end)
        lab = labels.set_index("customer_id")["churned"]
        both = pd.concat([tired, lab], axis=1, join="inner")
        frows = []
        for g, is_tired in (("fatigued", True), ("engaged", False)):
            d = both[both["fatigued"] == is_tired]
            n, k = len(d), int(d["churned"].sum())
            lo, hi = wilson_interval(k, n, confidence_level)
            frows.append((g, n, k, k / n if n else np.nan, lo, hi))
        fatigue = pd.DataFrame(frows, columns=["group", "customers", "churned", "churn_rate", "ci_low", "ci_high"])
        out["fatigue"] = fatigue
        n1, n2 = fatigue["customers"]
        if n1 and n2:
            k1, k2 = fatigue["churned"]
            t = two_proportion_test(k1, n1, k2, n2, confidence_level=confidence_level)
            out["statistic"], out["pvalue"] = float(t["statistic"]), float(t["pvalue"])
    return out


def assert_same_as_reference(res, ref: dict) -> None:
    pd.testing.assert_frame_equal(res.rates, ref["rates"])
    assert res.n_sends == ref["n_sends"]
    if ref["fatigue"] is None:
        assert res.fatigue.empty
    else:
        pd.testing.assert_frame_equal(res.fatigue, ref["fatigue"])
    np.testing.assert_equal((res.statistic, res.pvalue), (ref["statistic"], ref["pvalue"]))


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


@pytest.mark.parametrize("kwargs", [
    {},
    {"fatigue_sends": 3, "churn_after": 30, "observation_end": "2025-03-31 12:00", "confidence_level": 0.9},
    {"fatigue_sends": 1, "churn_after": 90},
], ids=["default", "shorter", "last-send"])
def test_same_as_the_pandas_reference_on_the_sample(sample, kwargs):
    ref = reference_engagement(sample.messages, sample.events, **kwargs)
    assert ref["n_sends"] > 1000 and ref["fatigue"]["customers"].min() > 100  # a real comparison
    assert_same_as_reference(message_engagement(sample.messages, sample.events, **kwargs), ref)


def test_same_as_the_pandas_reference_without_events(sample):
    ref = reference_engagement(sample.messages)
    assert_same_as_reference(message_engagement(sample.messages), ref)


T0 = pd.Timestamp("2025-01-01 08:00", tz="UTC")
H, D = pd.Timedelta(hours=1), pd.Timedelta(days=1)
END = T0 + 20 * D


def edge_log() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A message log with the edge cases of the as-of match and of fatigue (3 sends), and its events."""
    rows = [
        # a: an open at the very time of its send; an open before any push send (counts for none); two sends
        # then one open (only the second is opened); several campaigns and channels
        ("a", T0, "news", "email", "send"), ("a", T0, "news", "email", "open"),
        ("a", T0 - H, "news", "push", "open"), ("a", T0 + 3 * H, "news", "push", "send"),
        ("a", T0 + 4 * H, "news", "push", "click"),
        ("a", T0 + 5 * H, "promo", "email", "send"), ("a", T0 + 6 * H, "promo", "email", "open"),
        ("a", T0 + 6 * H, "promo", "email", "click"),
        ("a", T0 + D, "news", "email", "send"), ("a", T0 + 2 * D, "news", "email", "send"),
        ("a", T0 + 2 * D + H, "news", "email", "open"), ("a", T0 + 2 * D + 2 * H, "news", "email", "open"),
        # b: fewer sends than fatigue_sends
        ("b", T0, "news", "email", "send"), ("b", T0 + D, "news", "email", "send"),
        ("b", T0 + D + H, "news", "email", "open"),
        # c: opened only the first of six sends: fatigued; its send and open after the end do not count
        *[("c", T0 + i * D, "news", "email", "send") for i in range(6)], ("c", T0 + 2 * H, "news", "email", "open"),
        ("c", END + D, "news", "email", "send"), ("c", END + D + H, "news", "email", "open"),
        # d: opened the second of its last three sends (push and sms): engaged; an open after the end
        *[("d", T0 + i * D + 2 * H, "promo", "sms", "send") for i in range(2)],
        *[("d", T0 + i * D + 2 * H, "promo", "push", "send") for i in range(2, 4)],
        ("d", T0 + 2 * D + 3 * H, "promo", "push", "open"), ("d", END + 2 * H, "promo", "push", "open"),
        # e: two sends of one message at the same instant, then one open: one of the two is opened
        ("e", T0 - D, "news", "email", "send"), ("e", T0 + D, "news", "email", "send"),
        ("e", T0 + D, "news", "email", "send"), ("e", T0 + D + H, "news", "email", "open"),
        ("e", T0 + D + H, "news", "email", "click"),
        # f: two campaigns sent at the same instant (opened), then three sends never opened: fatigued
        ("f", T0, "news", "email", "send"), ("f", T0, "promo", "email", "send"),
        ("f", T0 + H, "news", "email", "open"), ("f", T0 + H, "promo", "email", "open"),
        *[("f", T0 + i * D + 5 * H, "promo", "email", "send") for i in range(1, 4)],
        # g: opens and clicks only; h: a send before 1970 (hour 22 UTC)
        ("g", T0, "news", "email", "open"), ("g", T0 + H, "news", "email", "click"),
        ("h", pd.Timestamp("1969-12-31 22:30", tz="UTC"), "legacy", "email", "send"),
        ("h", pd.Timestamp("1969-12-31 23:59", tz="UTC"), "legacy", "email", "open"),
    ]
    msg = pd.DataFrame(rows, columns=["customer_id", "ts", "campaign", "channel", "action"])
    # activity: c and a stop early (churned after 10 quiet days), d, e, f stay active; events after the end
    last = {"a": T0 + D, "b": END - D, "c": T0 + 3 * D, "d": END - 2 * D, "e": END - H, "f": END - 3 * D}
    ev = [(c, t, "landing") for c, t_last in last.items() for t in pd.date_range(T0 - 2 * D, t_last, freq="5D")]
    ev += [(c, t, "purchase") for c, t in last.items()]
    ev += [("a", END + 5 * D, "purchase")]
    events = pd.DataFrame(ev, columns=["customer_id", "ts", "event"])
    return msg.sample(frac=1, random_state=4).reset_index(drop=True), events  # row order carries no meaning


def test_edge_cases_as_the_reference_and_by_hand():
    msg, events = edge_log()
    kw = {"fatigue_sends": 3, "churn_after": 10, "observation_end": END}
    res = message_engagement(msg, events, **kw)
    assert_same_as_reference(res, reference_engagement(msg, events, **kw))
    rate = res.rates.set_index(["dimension", "group", "metric"])[["sends", "count"]].apply(tuple, axis=1)
    # sends up to the end: a 5, b 2, c 6, d 4, e 3, f 5, h 1
    assert res.n_sends == 26
    # news / email: a 3 (first and third opened), b 2 (second), c 6 (first), e 3 (one of the two at once),
    # f 1 (opened)
    assert rate["campaign / channel", "news / email", "open rate"] == (15, 6)
    assert rate["campaign / channel", "news / email", "click rate"] == (15, 1)
    assert rate["campaign / channel", "news / push", "open rate"] == (1, 0)  # the earlier open counts for none
    assert rate["campaign / channel", "news / push", "click rate"] == (1, 1)
    assert rate["campaign / channel", "promo / email", "open rate"] == (5, 2)
    assert rate["campaign / channel", "promo / push", "open rate"] == (2, 1)  # the open after the end is ignored
    assert rate["channel", "email", "open rate"] == (21, 9)
    assert rate["send hour", "legacy at 22:00 UTC", "open rate"] == (1, 1)
    assert rate["send hour", "news at 08:00 UTC", "open rate"] == (15, 6)
    assert rate["send hour", "news at 11:00 UTC", "click rate"] == (1, 1)
    # fatigued: c (churned), f (active); engaged: a (churned), d, e (active); b has too few sends
    f = res.fatigue.set_index("group")
    assert f.loc["fatigued", ["customers", "churned"]].tolist() == [2, 1]
    assert f.loc["engaged", ["customers", "churned"]].tolist() == [3, 1]


def test_no_sends_before_the_end():
    msg, _ = edge_log()
    with pytest.raises(JourneyDataError, match="no 'send' rows"):
        message_engagement(msg, observation_end="1969-12-31 20:00")


def test_a_log_of_sends_only_measures_no_engagement():
    """No open and no click is recorded: no rate is given as 0%, and fatigue (opening none of the last sends) is not
    measured; the sends per group are those of the reference, and the findings and checks say what is missing."""
    msg, events = edge_log()
    msg = msg[msg["action"] == "send"]
    kw = {"fatigue_sends": 3, "churn_after": 10, "observation_end": END}
    res = message_engagement(msg, events, **kw)
    full = reference_engagement(msg, events, **kw)
    ref = full["rates"][full["rates"]["metric"] == "open rate"].reset_index(drop=True)
    assert res.tracked == () and res.fatigue.empty and np.isnan(res.pvalue)
    assert res.rates["metric"].eq("sends").all() and res.rates["rate"].isna().all()
    assert res.rates[["dimension", "group", "sends"]].equals(ref[["dimension", "group", "sends"]])
    assert res.n_sends == full["n_sends"] and list(res.display_table().columns) == ["by", "group", "sends"]
    assert "no opens or clicks" in res.findings[0].text and "Add the opens and clicks of the sends" in res.findings[0].action
    assert [(c.name, c.status) for c in res.checks if c.name == "opens and clicks"] == [("opens and clicks", "warn")]
    assert res.plot().get_xlabel() == "messages sent"


def test_a_log_without_opens_gives_click_rates_only():
    """Clicks without opens (a channel that records no opens, such as SMS): the click rates are the reference's,
    and neither open rates nor fatigue are given."""
    msg, events = edge_log()
    msg = msg[msg["action"] != "open"]
    kw = {"fatigue_sends": 3, "churn_after": 10, "observation_end": END}
    res = message_engagement(msg, events, **kw)
    ref = reference_engagement(msg, events, **kw)["rates"]
    assert res.tracked == ("click rate",) and res.fatigue.empty
    pd.testing.assert_frame_equal(res.rates, ref[ref["metric"] == "click rate"].reset_index(drop=True))
    assert "clicked most" in res.findings[0].text and "open rate" not in res.display_table().columns
    assert res.plot().get_xlabel() == "click rate (% of messages sent)"


def test_rates_for_people_put_open_and_click_side_by_side(res):
    d = res.display_table()
    r = res.summary
    shown = r[r["dimension"] != "send hour"]
    assert len(d) == len(shown) // 2 and set(d["by"]) == {"campaign", "channel", "campaign / channel"}
    row = d[(d["by"] == "channel") & (d["group"] == "email")].iloc[0]
    for metric in ("open rate", "click rate"):
        x = shown[(shown["dimension"] == "channel") & (shown["group"] == "email") & (shown["metric"] == metric)].iloc[0]
        assert row[metric] == f"{x['rate']:.1%} ({x['ci_low']:.1%} to {x['ci_high']:.1%})"
        assert row["sends"] == f"{int(x['sends']):,}"


def test_an_unknown_campaign_is_named_in_words(sample):
    """The error a report shows when its campaign is not in the log: names quoted, no Python list."""
    from journeylib.journeys.messages import message_events

    with pytest.raises(JourneyParameterError, match=r"^no campaign 'nope' in the message log; its campaigns are "
                                                    r"'cart_recovery', 'newsletter', 'promotion'$"):
        message_events(sample.messages, campaign="nope")


def test_rate_plot_of_a_campaign_nobody_opened():
    """0 opens of 14 sends: the Wilson interval's lower bound is a rounding error above the 0% rate, which made
    matplotlib refuse the error bar ("'xerr' must not contain negative values"); it is drawn from 0."""
    import matplotlib.pyplot as plt

    t0 = pd.Timestamp("2025-01-01 08:00", tz="UTC")
    ids = [f"c{i}" for i in range(21)]
    sends = pd.DataFrame({"customer_id": ids, "ts": t0, "campaign": ["news"] * 14 + ["promo"] * 7,
                          "channel": "email", "action": "send"})
    opens = pd.DataFrame({"customer_id": ids[14:17], "ts": t0 + pd.Timedelta(hours=1), "campaign": "promo",
                          "channel": "email", "action": "open"})
    r = message_engagement(pd.concat([sends, opens], ignore_index=True))
    t = r.by("campaign / channel", "open rate").set_index("group")
    assert t.loc["news / email", ["sends", "count", "rate"]].tolist() == [14, 0, 0.0]
    assert t.loc["news / email", "ci_low"] > 0  # the rounding error that broke the plot
    fig, ax = plt.subplots()
    try:
        r.plot(ax=ax)  # the first rate tracked: open rate
        bars = [c for c in ax.collections if len(c.get_segments()) == 2][0]
        drawn = sorted((round(float(s[0][0]), 9), round(float(s[1][0]), 9)) for s in bars.get_segments())
        lo, hi = wilson_interval(3, 7)
        expected = sorted([(0.0, round(100 * wilson_interval(0, 14)[1], 9)),
                           (round(100 * lo, 9), round(100 * hi, 9))])
        assert drawn == expected
    finally:
        plt.close(fig)
