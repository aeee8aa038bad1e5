"""Churn labelling (censoring edge cases, engine vs pandas) and win-back rates."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.retention import churn, winback
from journeylib.core.errors import JourneyDataError, JourneyParameterError

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _ev(rows):
    """rows: (customer, day, event[, channel]) -> canonical events frame."""
    out = []
    for r in rows:
        cid, day, event = r[:3]
        out.append({"customer_id": cid, "ts": T0 + pd.Timedelta(days=day), "event": event,
                    "channel": r[3] if len(r) > 3 else None})
    return pd.DataFrame(out)


# Observation end is day 100 (the last timestamp, customer "D"); churn_after = 60.
EDGE = _ev([
    ("A", 0, "purchase"), ("A", 50, "product_view"), ("A", 100, "product_view"),   # active on the last day
    ("B", 10, "purchase"),                                                           # single event, long ago
    ("C", 70, "purchase"),                                                           # single event, recent
    ("D", 100, "purchase"),                                                          # first event at the end
    ("E", 0, "purchase"), ("E", 60, "product_view"),                                 # gap of exactly 60 days
    ("F", 0, "purchase"), ("F", 10, "product_view"), ("F", 80, "purchase"),          # returns after a long gap
    ("G", 0, "purchase"), ("G", 75, "winback_sent", "email"),                        # only an outbound touch later
    ("H", 20, "purchase"), ("H", 39, "product_view"),                                # silent 61 days at the end
])


def _row(df, cid):
    return df.set_index("customer_id").loc[cid]


def test_censoring_edge_cases_observable():
    lab = churn.churn_labels(EDGE, churn_after=60)
    assert lab.attrs["observation_end"] == T0 + pd.Timedelta(days=100)
    assert list(lab["customer_id"]) == list("ABCDEFGH")
    # A: active on the last day -> censored at the last time a churn could be seen (100 - 60 - 0)
    a = _row(lab, "A")
    assert not a.churned and a.duration == pytest.approx(40.0)
    # B: one event 90 days before the end -> churned on day 0 of its life
    b = _row(lab, "B")
    assert b.churned and b.duration == 0.0 and not b.returned
    # C: one event 30 days before the end -> censored; churn not yet observable -> 0 days at risk
    c = _row(lab, "C")
    assert not c.churned and c.duration == 0.0
    # D: first event at the observation end -> censored, 0 days
    d = _row(lab, "D")
    assert not d.churned and d.duration == 0.0 and d.n_events == 1
    # E: a gap of exactly churn_after is not churn; censored
    e = _row(lab, "E")
    assert not e.churned and e.duration == pytest.approx(40.0)
    # F: first long gap ends the first lifetime at day 10; the return is a reactivation
    f = _row(lab, "F")
    assert f.churned and f.duration == pytest.approx(10.0) and f.returned
    assert f.last_active == T0 + pd.Timedelta(days=10)
    # G: the outbound win-back touch is not activity
    g = _row(lab, "G")
    assert g.churned and g.duration == 0.0 and g.n_events == 1
    # H: 61 silent days before the end -> churned at its last activity (day 39 - day 20)
    h = _row(lab, "H")
    assert h.churned and h.duration == pytest.approx(19.0)


def test_censoring_last_activity_mode_and_inputs_untouched():
    before = EDGE.copy()
    lab = churn.churn_labels(EDGE, churn_after=60, censor_at="last_activity")
    pd.testing.assert_frame_equal(EDGE, before)
    assert _row(lab, "A").duration == pytest.approx(100.0)
    assert _row(lab, "E").duration == pytest.approx(60.0)
    assert _row(lab, "C").duration == 0.0
    # churned customers do not depend on the censoring mode
    obs = churn.churn_labels(EDGE, churn_after=60)
    m = obs["churned"].to_numpy()
    assert (lab["churned"].to_numpy() == m).all()
    np.testing.assert_array_equal(lab["duration"].to_numpy()[m], obs["duration"].to_numpy()[m])


def test_start_event_and_observation_end():
    ev = _ev([
        ("P", 0, "landing", "search"), ("P", 5, "purchase"), ("P", 20, "product_view"), ("P", 200, "product_view"),
        ("Q", 0, "landing", "social"),                                       # never purchases
        ("R", 50, "purchase"), ("R", 150, "purchase"),
    ])
    lab = churn.churn_labels(ev, churn_after=60, start_event="purchase", observation_end=T0 + pd.Timedelta(days=100))
    assert list(lab["customer_id"]) == ["P", "R"]            # Q never started the clock
    p, r = _row(lab, "P"), _row(lab, "R")
    assert p.start == T0 + pd.Timedelta(days=5)
    assert p.churned and p.duration == pytest.approx(15.0)   # 20 - 5; day 200 is after the end
    assert not p.returned                                     # its return is not observed by day 100
    assert not r.churned and r.duration == 0.0 and r.n_events == 1  # day-150 purchase ignored


def test_churn_counts_match_labels(small_sim):
    sim = small_sim
    lab = churn.churn_labels(sim.events, sim.customers, start_event="purchase", churn_after=45)
    cnt = churn.churn_counts(sim.events, sim.customers, by=["segment"], start_event="purchase", churn_after=45)
    lab["duration"] = np.floor(lab["duration"]).astype("int64")
    ref = lab.groupby(["segment", "duration", "churned"]).size().reset_index(name="n")
    got = cnt[["segment", "duration", "churned", "n"]].reset_index(drop=True)
    np.testing.assert_array_equal(ref.to_numpy(), got.to_numpy())
    assert cnt["n"].sum() == len(lab) == sim.customers.shape[0] - (~sim.customers.customer_id.isin(
        sim.events.loc[sim.events.event == "purchase", "customer_id"])).sum()


def test_labels_brute_force(small_sim):
    """Independent per-customer loop over the sorted activity times."""
    ev = small_sim.events
    lab = churn.churn_labels(ev, churn_after=60).set_index("customer_id")
    end = ev["ts"].max()
    act = ev[~ev["event"].isin(jl.core.schema.OUTBOUND_EVENTS)]
    rng = np.random.default_rng(0)
    ids = rng.choice(act["customer_id"].unique(), 300, replace=False)
    for cid in ids:
        ts = act.loc[act.customer_id == cid, "ts"].sort_values()
        days = ((ts - ts.iloc[0]).dt.total_seconds() / 86400).to_numpy()
        gaps = np.flatnonzero(np.diff(days) > 60)
        end_days = (end - ts.iloc[0]).total_seconds() / 86400
        if len(gaps):
            exp_churn, exp_dur = True, days[gaps[0]]
        elif end_days - days[-1] > 60:
            exp_churn, exp_dur = True, days[-1]
        else:
            exp_churn, exp_dur = False, max(end_days - 60, 0.0)
        row = lab.loc[cid]
        assert bool(row.churned) == exp_churn, cid
        assert row.duration == pytest.approx(exp_dur, abs=1e-6), cid


def test_bad_parameters():
    with pytest.raises(JourneyParameterError, match="churn_after"):
        churn.churn_labels(EDGE, churn_after=-5)
    with pytest.raises(JourneyParameterError, match="censor_at"):
        churn.churn_labels(EDGE, censor_at="end")
    with pytest.raises(JourneyParameterError, match="observation_end"):
        churn.churn_labels(EDGE, observation_end="not a date")
    with pytest.raises(JourneyDataError, match="event"):
        churn.churn_labels(EDGE.drop(columns="event"))
    with pytest.raises(JourneyParameterError, match="customers"):
        churn.churn_counts(EDGE, by=["segment"])


def test_observable_censoring_is_unbiased_last_activity_is_not():
    """Same customers, observed for 300 days vs the full 547: only censoring differs.

    The early cohort (first purchase in the first 150 days) has full follow-up to day
    180 in the complete data; cutting observation at day 300 censors many of them
    before day 180. Censoring at the last observable churn time reproduces the
    complete-data retention; censoring at the last activity overstates it.
    """
    sim = jl.simulate_journeys(15000, seed=1)
    from journeylib.retention import survival as sv

    full = churn.churn_labels(sim.events, start_event="purchase")
    cohort = full.loc[full["start"] < T0 + pd.Timedelta(days=150), "customer_id"]
    truth = sv.kaplan_meier(full[full.customer_id.isin(cohort)]).survival_at(180)
    est = {}
    for mode in ("observable", "last_activity"):
        lab = churn.churn_labels(sim.events, start_event="purchase", censor_at=mode,
                                 observation_end=T0 + pd.Timedelta(days=300))
        est[mode] = sv.kaplan_meier(lab[lab.customer_id.isin(cohort)]).survival_at(180)
    assert abs(est["observable"] - truth) < 0.025
    assert est["last_activity"] - truth > 0.025


# --------------------------------------------------------------------------- win-back
def test_winback_rates_recover_planted():
    sim = jl.simulate_journeys(8000, seed=11)
    truth = sim.ground_truth["winback"]
    # the touch goes out 75 days after the last activity, returns come within 30 days of it:
    # an inactivity threshold of 60 days and a 50-day window capture every planted return
    wb = winback.winback_rates(sim.events, sim.customers, inactive_days=60, within_days=50)
    s = wb.summary.set_index("touch_channel")
    for ch, p in truth["return_prob"].items():
        n = s.loc[ch, "n"]
        assert n > 150
        assert abs(s.loc[ch, "rate"] - p) < 3 * np.sqrt(p * (1 - p) / n), (ch, s.loc[ch, "rate"])
        assert s.loc[ch, "ci_low"] < p < s.loc[ch, "ci_high"]
    # channel share of the touches (0.7 email) is reproduced too
    share = s.loc["email", "n"] / (s.loc["email", "n"] + s.loc["paid_ads", "n"])
    assert abs(share - truth["channel_share"]["email"]) < 0.05
    # by segment too (customers joined)
    seg = winback.winback_rates(sim.events, sim.customers, inactive_days=60, within_days=50,
                              by=("touch_channel", "segment")).summary
    assert seg["n"].sum() == s["n"].sum()


def test_winback_hand_built():
    ev = _ev([
        ("A", 0, "purchase"), ("A", 75, "winback_sent", "email"), ("A", 90, "purchase"),   # returns day 90
        ("B", 0, "purchase"), ("B", 75, "winback_sent", "paid_ads"),                         # never returns
        ("C", 0, "purchase"), ("C", 10, "product_view"), ("C", 100, "product_view"),        # returns without a touch
        ("D", 120, "purchase"),                                                              # window not observed
        ("Z", 200, "landing", "search"),
    ])
    wb = winback.winback_rates(ev, inactive_days=60, within_days=40)
    ep = wb.episodes.groupby("customer_id").head(1).set_index("customer_id")  # first episode each
    # observation ends on day 200: D's window (day 120 + 60 + 40 = 220) is not fully observed
    assert wb.n_censored == 1
    # second episodes of A (after day 90) and C (after day 100) are complete non-returns
    assert len(wb.episodes) == 5 and wb.episodes["returned"].sum() == 2
    assert ep.loc["A", "returned"] and ep.loc["A", "touch_channel"] == "email"
    assert ep.loc["A", "days_to_return"] == pytest.approx(90.0)
    assert not ep.loc["B", "returned"] and ep.loc["B", "touch_channel"] == "paid_ads"
    assert ep.loc["C", "returned"] and ep.loc["C", "touch_channel"] == "none"
    assert "D" not in ep.index and "Z" not in ep.index
    assert wb.rate(touch_channel="email") == 1.0
    assert wb.rate(touch_channel="none") == pytest.approx(1 / 3)
    assert "email" in repr(wb) and "<table" in wb._repr_html_()
    ax = wb.plot()
    assert ax.get_xlabel().startswith("returned within")


def test_first_order_value():
    ev = _ev([("A", 5, "purchase"), ("A", 1, "landing"), ("A", 9, "purchase"), ("B", 3, "product_view")])
    ev["revenue"] = [20.0, None, 99.0, None]
    got = churn.first_order_value(ev)
    assert got.to_dict("records") == [{"customer_id": "A", "first_order_value": 20.0}]
    # two orders at the first instant: the first by channel (then stage, revenue), as events are ordered
    tied = _ev([("C", 4, "purchase"), ("C", 4, "purchase"), ("C", 2, "landing"), ("C", 8, "purchase"),
                ("D", 6, "purchase"), ("D", 6, "purchase")])
    tied["revenue"] = [30.0, 12.0, None, 1.0, 7.0, 5.0]
    tied["channel"] = ["search", "email", "social", "email", "direct", "direct"]
    got = churn.first_order_value(tied)
    assert got.to_dict("records") == [{"customer_id": "C", "first_order_value": 12.0},
                                      {"customer_id": "D", "first_order_value": 5.0}]


def test_wilson_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    k, n = np.array([0, 3, 50, 20]), np.array([7, 40, 50, 1000])
    from journeylib.core.intervals import wilson_interval

    lo, hi = wilson_interval(k, n)
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)


def test_naive_timestamps_and_portable_time_path(monkeypatch):
    """Naive timestamps read as UTC; the portable (non-DuckDB) epoch path gives the same labels."""
    fast = churn.churn_labels(EDGE, churn_after=60)
    naive = EDGE.assign(ts=EDGE["ts"].dt.tz_localize(None))
    pd.testing.assert_frame_equal(churn.churn_labels(naive, churn_after=60), fast)
    from journeylib.core import time as jtime

    monkeypatch.setattr(jtime, "_backend_name", lambda x: "")  # every engine call takes the portable path
    pd.testing.assert_frame_equal(churn.churn_labels(EDGE, churn_after=60), fast)


def test_final_gap_mode():
    first = churn.churn_labels(EDGE, churn_after=60).set_index("customer_id")
    final = churn.churn_labels(EDGE, churn_after=60, gap="final").set_index("customer_id")
    # F came back after a 70-day gap: one long lifetime, still active -> censored at 100 - 60
    assert not final.loc["F", "churned"] and final.loc["F", "duration"] == pytest.approx(40.0)
    assert final["returned"].isna().all()
    same = [c for c in first.index if not first.loc[c, "returned"]]
    pd.testing.assert_frame_equal(first.loc[same].drop(columns="returned"), final.loc[same].drop(columns="returned"))
    with pytest.raises(JourneyParameterError, match="gap"):
        churn.churn_labels(EDGE, gap="last")


def test_first_gap_on_time_buckets_equals_a_lag_over_every_event():
    """The bucketed first-gap search (churn._first_gap) against a per-customer numpy loop,
    on gaps drawn within seconds of churn_after, across bucket edges and before 1970."""
    rng = np.random.default_rng(11)
    G = 30 * 86_400_000_000  # churn_after = 30 days, in microseconds
    rows = []
    for i in range(400):
        t = int(rng.integers(-10 * G, 10 * G)) + (0 if i % 2 else 1_700_000_000_000_000)
        for _ in range(int(rng.integers(1, 9))):
            rows.append((f"c{i:03d}", t))
            t += int(G + rng.integers(-3, 4) * 1_000_000) if rng.random() < 0.4 else int(rng.integers(0, G))
    ev = pd.DataFrame(rows, columns=["customer_id", "us"])
    ev["ts"] = pd.to_datetime(ev["us"], unit="us", utc=True)
    ev["event"] = "product_view"
    end_us = int(ev["us"].max())
    lab = churn.churn_labels(ev.drop(columns="us"), churn_after=30).set_index("customer_id")
    for cid, g in ev.groupby("customer_id"):
        t = np.sort(g["us"].to_numpy())
        big = np.flatnonzero(np.diff(t) > G)
        churned = bool(len(big)) or end_us - t[-1] > G
        last = t[big[0]] if len(big) else t[-1]
        row = lab.loc[cid]
        assert bool(row.churned) == churned and bool(row.returned) == bool(len(big)), cid
        assert row.n_events == len(t), cid
        if churned:
            assert row.last_active == pd.Timestamp(int(last), unit="us", tz="UTC"), cid


def test_churn_overview_counts_the_labels():
    sim = jl.simulate_journeys(2000, seed=3)
    lab = churn.churn_labels(sim.events, start_event="purchase", churn_after=45, observation_end="2025-03-31")
    row = churn.churn_overview(lab).iloc[0]
    assert row["customers"] == len(lab) and row["churned"] == lab["churned"].sum()
    assert row["churned"] + row["still active (censored)"] == len(lab)
    assert row["came back after churning"] == lab["returned"].sum() > 0
    assert row["observation end"] == "2025-03-31" and row["churn observable until"] == "2025-02-14"
    with pytest.raises(JourneyParameterError, match="churn_labels"):
        churn.churn_overview(lab.drop(columns="returned"))


def _without_winback_holdout(sim) -> pd.DataFrame:
    """The events without the customers the win-back experiment held out: its holdout is untouched by
    design; here "none" must be the few customers who came back with no touch at all."""
    a = sim.assignments
    held = a.loc[(a["experiment"] == "winback") & (a["variant"] == "holdout"), "customer_id"]
    return sim.events[~sim.events["customer_id"].isin(held)]


def test_winback_reading_names_the_best_group():
    sim = jl.simulate_journeys(4000, seed=1)
    wb = winback.winback_rates(_without_winback_holdout(sim), inactive_days=60, within_days=50)
    s = wb.summary.set_index("touch_channel").sort_values("rate", ascending=False)
    # 19 customers went untouched, 3 of them came back: a higher rate than e-mail's, but its
    # interval is wide, and the reading must not crown it
    assert list(s.index[:2]) == ["none", "email"] and s.loc["none", "n"] < 30
    assert f"**none** ({s.loc['none', 'rate']:.1%}" in wb.reading
    assert f"not clearly ahead of **email** ({s.loc['email', 'rate']:.1%}" in wb.reading
    big = winback.winback_rates(_without_winback_holdout(jl.simulate_journeys(8000, seed=11)), inactive_days=60,
                                within_days=50)
    b = big.summary.set_index("touch_channel").sort_values("rate", ascending=False)
    assert b.index[0] == "email"  # planted 12% vs 6%
    assert big.reading.startswith("Win-back: best return rate with **email**")
    # Issue 23: whether the best group is ahead is the difference's interval, not "the intervals do not
    # overlap": e-mail's interval excludes the runner-up's rate, yet with 58 untouched customers the
    # difference's interval (independent computation, unpooled normal approximation) includes zero
    (p1, n1), (p2, n2) = (b.iloc[i][["rate", "n"]] for i in (0, 1))
    d, se = p1 - p2, math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert big.lead() == pytest.approx((d, d - 1.959964 * se, d + 1.959964 * se), abs=1e-6)
    assert b.loc["email", "ci_low"] > p2 and d - 1.959964 * se < 0
    assert f"not clearly ahead of **{b.index[1]}** ({p2:.1%}; difference {d * 100:+.1f} points" in big.reading
    # a touch's return rate is an association, and the report says a holdout is needed for the effect
    assert "associations" in big.reading and "random holdout" in big.reading
    f = big.findings
    assert f[0].value == pytest.approx(p1) and "associated with the touch" in f[0].action
    assert "random holdout" in f[0].action and not any("Send win-back" in x.action for x in f)
    assert f[1].text.startswith("That is not clearly more than") and f"{d * 100:+.1f} points" in f[1].text


def test_a_start_event_nobody_has_is_an_error_that_lists_the_events():
    sim = jl.simulate_journeys(500, seed=1)
    for fn in (churn.churn_labels, churn.churn_counts):
        with pytest.raises(JourneyDataError, match=r"start_event='Purchase'.*'purchase'"):
            fn(sim.events, start_event="Purchase")
