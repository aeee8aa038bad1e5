"""Funnel and stage transitions: hand-computed cases and a brute-force pandas check."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.journeys.stages import funnel

STAGES = ("a", "b", "c")


def _ev(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "stage"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    df["event"] = "x"
    return df


def test_closed_funnel_hand_case():
    ev = _ev([
        ("1", "2024-01-01", "a"), ("1", "2024-01-03", "b"), ("1", "2024-01-04", "c"),  # a->b->c
        ("2", "2024-01-01", "b"), ("2", "2024-01-02", "a"), ("2", "2024-01-03", "c"),  # b before a: stops at a
        ("3", "2024-01-01", "a"), ("3", "2024-01-05", "b"), ("3", "2024-01-06", "b"),  # a->b
        ("4", "2024-01-02", "a"),
    ])
    s = funnel(ev, STAGES).summary.set_index("stage")
    assert s["customers"].tolist() == [4, 2, 1]
    assert s.loc["b", "step_conversion"] == pytest.approx(0.5)
    assert s.loc["c", "step_conversion"] == pytest.approx(0.5)
    assert s.loc["c", "cumulative_conversion"] == pytest.approx(0.25)
    assert s["dropped"].tolist() == [0, 2, 1]
    assert s.loc["b", "median_days_from_previous"] == pytest.approx(3.0)  # 2 and 4 days
    assert s.loc["c", "median_days_from_previous"] == pytest.approx(1.0)
    # b and c both lose half: the earlier step is named
    assert funnel(ev, STAGES).reading == ("Of 4 customers who entered at 'a', 1 (25.0%) went all the way to 'c'. "
                                          "The largest drop-off is from 'a' to 'b': 50.0% of the customers at 'a' "
                                          "did not get there.")
    d = funnel(ev, STAGES).biggest_drop_off
    assert (d.from_stage, d.to_stage, d.drop_off, d.lost, d.at_from) == ("a", "b", 0.5, 2, 4)
    # the open funnel counts customer 2 at b and c, customer 3 at b
    o = funnel(ev, STAGES, closed=False).summary.set_index("stage")
    assert o["customers"].tolist() == [4, 3, 2]


def test_window_and_not_yet_mature():
    ev = _ev([
        ("1", "2024-01-01", "a"), ("1", "2024-01-05", "b"),   # b within 10 days
        ("2", "2024-01-01", "a"), ("2", "2024-01-20", "b"),   # b too late: dropped
        ("3", "2024-01-25", "a"),                             # window open at obs end: not yet mature
        ("4", "2024-01-26", "a"), ("4", "2024-01-27", "b"),   # immature but already converted
    ])
    f = funnel(ev, ("a", "b"), window=10, observation_end="2024-01-30")
    s = f.summary.set_index("stage")
    assert s.loc["a", "customers"] == 4 and s.loc["a", "mature_customers"] == 2
    assert s.loc["b", "customers"] == 2            # customers 1 and 4
    assert s.loc["b", "not_yet_mature"] == 1       # customer 3
    assert s.loc["b", "dropped"] == 1              # customer 2 only
    assert s.loc["b", "step_conversion"] == pytest.approx(0.5)  # 1 of the 2 mature entrants
    # without a window everybody is mature and customer 2 converts
    s2 = funnel(ev, ("a", "b"), observation_end="2024-01-30").summary.set_index("stage")
    assert s2.loc["b", "customers"] == 3 and s2.loc["b", "not_yet_mature"] == 0


def test_default_observation_end_is_the_last_event_of_the_log():
    """The default end is core.time.observation_end: the last event of any kind (unstaged and
    outbound messages included), closed or open; a given end is taken as UTC."""
    from journeylib.core.time import observation_end

    ev = _ev([
        ("1", "2024-01-01", "a"), ("1", "2024-01-02", "b"),
        ("2", "2024-01-10", "a"),                        # window of 10 days ends 01-20
        ("3", "2024-01-15", None),                       # an unstaged event: obs end 01-15 -> 2 immature
    ])
    for closed in (True, False):
        f = funnel(ev, ("a", "b"), window=10, closed=closed)
        assert f.observation_end == pd.Timestamp("2024-01-15", tz="UTC")
        s = f.summary.set_index("stage")
        assert s.loc["a", "mature_customers"] == 1 and s.loc["b", "not_yet_mature"] == 1
    # a win-back send on 03-01 shows the log was still recorded: customer 2's window has elapsed
    outbound = ev.iloc[[0]].assign(ts=pd.Timestamp("2024-03-01", tz="UTC"), event="winback_sent", stage=None)
    ev = pd.concat([ev, outbound], ignore_index=True)
    for closed in (True, False):
        f = funnel(ev, ("a", "b"), window=10, closed=closed)
        assert f.observation_end == observation_end(ev) == pd.Timestamp("2024-03-01", tz="UTC")
        s = f.summary.set_index("stage")
        assert s.loc["a", "mature_customers"] == 2 and s.loc["b", "not_yet_mature"] == 0
        assert s.loc["b", "step_conversion"] == pytest.approx(0.5)
    assert funnel(ev, ("a", "b"), observation_end="2024-01-15 00:00").observation_end == pd.Timestamp(
        "2024-01-15", tz="UTC")
    with pytest.raises(JourneyDataError, match="the table is empty"):
        funnel(ev.iloc[:0], ("a", "b"))
    with pytest.raises(JourneyDataError, match="no event at the first funnel stage 'a'"):
        funnel(ev[ev["event"] == "winback_sent"], ("a", "b"))
    with pytest.raises(JourneyParameterError, match="observation_end='soon'"):
        funnel(ev, ("a", "b"), observation_end="soon")


def _brute_closed(df: pd.DataFrame, stages, window_days=None):
    """Reference: loop over each customer's events in time order."""
    counts = np.zeros(len(stages), dtype=int)
    for _, g in df[df["stage"].isin(stages)].groupby("customer_id"):
        g = g.sort_values("ts")
        times = {s: g.loc[g["stage"] == s, "ts"].to_numpy() for s in stages}
        if len(times[stages[0]]) == 0:
            continue
        t_prev = entry = times[stages[0]].min()
        counts[0] += 1
        for k in range(1, len(stages)):
            ok = times[stages[k]][times[stages[k]] >= t_prev]
            if window_days is not None:
                ok = ok[ok <= entry + np.timedelta64(int(window_days * 86400), "s")]
            if len(ok) == 0:
                break
            t_prev = ok.min()
            counts[k] += 1
    return counts


@pytest.mark.parametrize("window", [None, 20])
def test_closed_funnel_matches_brute_force(small_sim, window):
    ev = small_sim.events
    stages = ("awareness", "consideration", "cart", "purchase", "repeat")
    got = funnel(ev, stages, window=window).summary["customers"].to_numpy()
    np.testing.assert_array_equal(got, _brute_closed(ev, stages, window))


def _brute_closed_steps(df: pd.DataFrame, stages, window_days=None):
    """Reference per customer: step times walking the events in time order, and whether the
    customer is 'tangled' (a stage-k visit both before and after step k-1's time)."""
    out, tangled = {}, 0
    for cid, g in df.groupby("customer_id"):
        times = {s: np.sort(g.loc[g["stage"] == s, "ts"].to_numpy()) for s in stages}
        if len(times[stages[0]]) == 0:
            continue
        t_prev = entry = times[stages[0]][0]
        steps, tangle = [t_prev], False
        for s in stages[1:]:
            tangle |= bool((times[s] < t_prev).any() and (times[s] >= t_prev).any())
            ok = times[s][times[s] >= t_prev]
            if window_days is not None:
                ok = ok[ok <= entry + np.timedelta64(int(window_days * 86400), "s")]
            if len(ok) == 0:
                break
            t_prev = ok[0]
            steps.append(t_prev)
        out[cid] = steps
        tangled += tangle
    return out, tangled


@pytest.mark.parametrize("window", [None, 9])
def test_closed_funnel_with_back_and_forth_matches_brute_force(window):
    """Stages visited in random order: many customers need the exact event-level chain."""
    rng = np.random.default_rng(3)
    stages = ("a", "b", "c", "d")
    n = rng.integers(1, 14, size=400)
    ev = pd.DataFrame({
        "customer_id": np.repeat([f"c{i}" for i in range(len(n))], n),
        "ts": pd.Timestamp("2024-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 30 * 86400, size=n.sum()), unit="s"),
        "stage": rng.choice([*stages, "other"], size=n.sum()),
        "event": "x",
    })
    steps, tangled = _brute_closed_steps(ev, stages, window)
    assert tangled > 50  # the fast path alone would not do
    s = funnel(ev, stages, window=window, observation_end="2024-03-01").summary
    np.testing.assert_array_equal(s["customers"], [sum(len(v) > k for v in steps.values()) for k in range(4)])
    for k in range(1, 4):
        gaps = [(v[k] - v[k - 1]) / np.timedelta64(1, "s") / 86400 for v in steps.values() if len(v) > k]
        assert s["median_days_from_previous"].iloc[k] == pytest.approx(np.median(gaps), rel=1e-12)


def test_funnel_by_segment_sums_to_total(small_sim):
    total = funnel(small_sim.events).summary
    by = funnel(small_sim.events, by="segment", customers=small_sim.customers).summary
    assert set(by["group"]) == {"standard", "premium", "budget"}
    np.testing.assert_array_equal(by.groupby("stage", sort=False)["customers"].sum().to_numpy(),
                                  total["customers"].to_numpy())
    paragraphs = funnel(small_sim.events, by="segment", customers=small_sim.customers).reading.split("\n\n")
    assert len(paragraphs) == 3 and all(p.startswith("In segment '") for p in paragraphs)


def test_funnel_errors_and_display(small_sim):
    with pytest.raises(JourneyParameterError, match="by='nope'"):
        funnel(small_sim.events, by="nope", customers=small_sim.customers)
    with pytest.raises(JourneyParameterError, match="customers"):
        funnel(small_sim.events, by="segment")
    with pytest.raises(JourneyParameterError, match="window"):
        funnel(small_sim.events, window=-3)
    with pytest.raises(JourneyParameterError, match="stages"):
        funnel(small_sim.events, ["awareness"])
    with pytest.raises(JourneyDataError, match="stage"):
        funnel(small_sim.events.drop(columns="stage"))
    f = funnel(small_sim.events, window=30)
    assert "<table" in f._repr_html_() and "FunnelResult" in repr(f)
    ax = f.plot()
    assert ax.get_xlabel() and [t.get_text() for t in ax.get_yticklabels()][0] == "awareness"
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'stages'"):
        f.stages = ()  # frozen


@pytest.mark.parametrize("collapse,per_bucket", [(False, False), (True, False), (False, True)])
def test_stage_transitions_brute_force(small_sim, collapse, per_bucket, monkeypatch):
    """Counts and the share of customers who ever move back, against a pandas sort + shift;
    also counted in customer-hash buckets, as logs over 20 million events are."""
    from journeylib.core import buckets
    from journeylib.core.schema import DEFAULT_STAGES, ORDER_KEYS, OUTBOUND_EVENTS
    from journeylib.journeys.stages import stage_transitions

    if per_bucket:
        monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 4000)  # ~15,000 staged events: 4 buckets
    ev = small_sim.events
    r = stage_transitions(ev, collapse_repeats=collapse)
    e = ev[ev["stage"].isin(DEFAULT_STAGES) & ~ev["event"].isin(OUTBOUND_EVENTS)]
    e = e.sort_values(["customer_id", *ORDER_KEYS], kind="mergesort")
    e = e.assign(prev=e.groupby("customer_id")["stage"].shift())
    moves = e[e["prev"].notna()]
    if collapse:
        moves = moves[moves["prev"] != moves["stage"]]
    ref = pd.crosstab(moves["prev"], moves["stage"]).reindex(index=DEFAULT_STAGES, columns=DEFAULT_STAGES,
                                                             fill_value=0)
    np.testing.assert_array_equal(r.counts.to_numpy(), ref.to_numpy())
    rank = {s: i for i, s in enumerate(DEFAULT_STAGES)}
    went_back = moves[moves["stage"].map(rank) < moves["prev"].map(rank)]["customer_id"].nunique()
    assert r.customers == e["customer_id"].nunique()
    assert r.share_going_back == pytest.approx(went_back / e["customer_id"].nunique())
    assert 0 < r.share_going_back < 1


def test_journey_map_from_an_existing_funnel_equals_computing_it(small_sim):
    from journeylib.journeys.stages import journey_map_data

    st = ["awareness", "consideration", "cart", "purchase"]
    own = journey_map_data(small_sim.events, st, window=30)
    f = funnel(small_sim.events, st, window=30)
    reused = journey_map_data(small_sim.events, st, window=30, funnel_result=f)
    pd.testing.assert_frame_equal(reused.summary, own.summary)
    for wrong in (funnel(small_sim.events, st), funnel(small_sim.events, st[:3], window=30)):
        with pytest.raises(JourneyParameterError, match="funnel_result"):
            journey_map_data(small_sim.events, st, window=30, funnel_result=wrong)


def test_stage_transitions_break_ties_by_stage_name():
    """Equal timestamp, event and channel: the stage *name* orders the two events
    (schema.ORDER_KEYS), whatever the rows' order or the journey order of the stages."""
    from journeylib.journeys.stages import stage_transitions

    ev = _ev([
        ("1", "2024-01-02", "cart"),
        ("1", "2024-01-01", "awareness"), ("1", "2024-01-01", "advocacy"),  # tie: advocacy < awareness
    ])
    r = stage_transitions(ev)
    assert r.counts.loc["advocacy", "awareness"] == 1 and r.counts.loc["awareness", "cart"] == 1
    assert int(r.counts.to_numpy().sum()) == 2
    assert r.share_going_back == 1.0  # advocacy -> awareness is a move back
