"""Exit types from the journey definition (issue 29): ``outcomes`` in journey.yml, the competing-risks table
built from outcome events, and the simulator's planted exit hazards recovered from an event log
(against the closed form and lifelines' AalenJohansenFitter on the same data)."""
from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter

import journeylib as jl
from journeylib.core.errors import JourneyDataWarning, JourneyParameterError
from journeylib.retention.competing import (cumulative_incidence, exits_from_events, outcome_events,
                                            planted_incidence)
from journeylib.simulate.journeys import simulate_exits

END = pd.Timestamp("2025-06-30 12:00", tz="UTC")
NAMES = {"churn": "cancel_subscription", "downgrade": "plan_downgrade"}


@pytest.fixture(scope="module")
def sim():
    return simulate_exits(6000, seed=3)


@pytest.fixture(scope="module")
def log(sim):
    """The simulator's customers written as an event log: a signup at the start, the exit as an outcome event,
    everybody watched until END (the follow-up of an exited customer drawn at least as long as their duration)."""
    t = sim.table
    rng = np.random.default_rng(0)
    exited = t["exit_type"].notna().to_numpy()
    d = t["duration"].to_numpy(float)
    follow = np.where(exited, rng.uniform(np.maximum(d, 180.0), 545.0), d)
    start = (END - pd.to_timedelta(follow, unit="D")).round("us")
    ev = pd.DataFrame({"customer_id": t["customer_id"], "ts": start, "event": "signup"})
    out = pd.DataFrame({"customer_id": t["customer_id"][exited],
                        "ts": (start[exited] + pd.to_timedelta(d[exited], unit="D")).round("us"),
                        "event": t["exit_type"][exited].map(NAMES)})
    events = pd.concat([ev, out], ignore_index=True).sort_values(["ts", "customer_id"], ignore_index=True)
    return events.assign(channel="direct")


def _journey_dir(tmp_path, log, sim, outcomes: str):
    log.to_parquet(tmp_path / "events.parquet")
    sim.table[["customer_id", "segment"]].to_parquet(tmp_path / "customers.parquet")
    (tmp_path / "journey.yml").write_text(textwrap.dedent(f"""\
        name: Subscriptions
        sources:
          events: {{path: events.parquet}}
          customers: {{path: customers.parquet}}
        stages:
          order: [active, left]
          rules:
            - {{stage: active, event: signup}}
            - {{stage: left, events: [cancel_subscription, plan_downgrade]}}
        segments: [segment]
        outcomes: {outcomes}
        """))
    return tmp_path / "journey.yml"


def test_journey_reads_outcomes_and_warns_on_events_the_log_lacks(tmp_path, log, sim):
    p = _journey_dir(tmp_path, log, sim, "{churn: cancel_subscription, downgrade: [plan_downgrade], "
                                         "pause: pause_account}")
    j = jl.load_journey(p)  # strict: an unknown outcome event is a warning, not an error
    assert j.outcomes == {"churn": ("cancel_subscription",), "downgrade": ("plan_downgrade",),
                          "pause": ("pause_account",)}
    checks = {c.name: c for c in j.checks if c.name.startswith("outcome event")}
    n = sim.table["exit_type"].value_counts()
    assert checks["outcome event churn: cancel_subscription"].status == "pass"
    assert checks["outcome event churn: cancel_subscription"].detail == f"{n['churn']:,} events"
    assert checks["outcome event downgrade: plan_downgrade"].detail == f"{n['downgrade']:,} events"
    pause = checks["outcome event pause: pause_account"]
    assert pause.status == "warn"
    assert "outcomes.pause" in pause.detail and "never occurs" in pause.detail
    assert "signup (6,000)" in pause.detail and "cancel_subscription" in pause.detail  # the log's events
    # the same at use: a JourneyDataWarning naming the missing event, the table still built
    with pytest.warns(JourneyDataWarning, match="pause_account"):
        exits = exits_from_events(j.events, j.outcomes, j.customers, observation_end=END)
    assert set(exits["exit_type"].dropna()) == {"churn", "downgrade"} and len(exits) == len(sim.table)


def test_journey_without_outcomes_has_an_empty_mapping():
    assert jl.load_journey("sample").outcomes == {}


@pytest.mark.parametrize("outcomes, message", [
    ("{churn: cancel, downgrade: [plan_down, cancel]}", "cancel is also in outcomes.churn"),
    ("[cancel, plan_down]", "a mapping from exit type to event name"),
    ("{churn: []}", "an event name or a list of event names"),
    ("{none: cancel}", "reads as 'no exit'"),
])
def test_bad_outcomes_name_the_key_and_line(tmp_path, outcomes, message):
    (tmp_path / "journey.yml").write_text(textwrap.dedent(f"""\
        sources:
          events: {{path: events.parquet}}
        stages:
          rules:
            - {{stage: awareness, event: signup}}
        outcomes: {outcomes}
        """))
    with pytest.raises(JourneyParameterError, match="journey.yml, line 6, outcomes") as err:
        jl.read_journey(tmp_path / "journey.yml")
    assert message in str(err.value)


def test_outcome_events_validates_the_mapping():
    assert outcome_events({"churn": ["a", "b", "a"], "pause": "p"}) == {"churn": ("a", "b"), "pause": ("p",)}
    with pytest.raises(JourneyParameterError, match="'a' is named for both 'churn' and 'pause'"):
        outcome_events({"churn": "a", "pause": ["a"]})
    with pytest.raises(JourneyParameterError, match="reads as 'censored'"):
        outcome_events({"0": "a"})
    with pytest.raises(JourneyParameterError, match="expected a mapping from exit type"):
        outcome_events({})


def test_table_from_events_equals_the_simulated_table(log, sim):
    exits = exits_from_events(log, NAMES, sim.table[["customer_id", "segment"]], observation_end=END)
    m = exits.merge(sim.table, on="customer_id", suffixes=("", "_sim"))
    assert len(m) == len(sim.table) == len(exits)
    assert (m["exit_type"].fillna("") == m["exit_type_sim"].fillna("")).all()
    np.testing.assert_allclose(m["duration"], m["duration_sim"], atol=1e-6)  # microsecond timestamps
    assert (m["segment"] == m["segment_sim"]).all()
    assert exits.attrs["observation_end"] == END


def test_planted_exit_hazards_recovered_from_outcome_events(log, sim):
    exits = exits_from_events(log, NAMES, sim.table[["customer_id", "segment"]], observation_end=END)
    cif = cumulative_incidence(exits, by="segment", horizons=(30, 90, 180, 365))
    truth = cif.against_truth(sim.ground_truth)
    assert len(truth) == 16 and truth["covered"].mean() >= 0.85
    assert (truth["estimate"] - truth["planted"]).abs().max() < 0.03
    ex = sim.ground_truth["exits"]
    assert cif.incidence("churn", 365, "standard")[0] == pytest.approx(
        planted_incidence(ex, "churn", 365, "standard"), abs=0.03)
    # lifelines' Aalen-Johansen on the same table (continuous times: no ties to jitter) gives the same curve
    for g in ("premium", "standard"):
        s = exits[exits["segment"] == g]
        code = s["exit_type"].map({"churn": 1, "downgrade": 2}).fillna(0).astype(int)
        for k, name in ((1, "churn"), (2, "downgrade")):
            aj = AalenJohansenFitter(calculate_variance=True).fit(s["duration"], code, event_of_interest=k)
            for h in (30, 90, 180, 365):
                ref = float(aj.cumulative_density_.loc[:h].iloc[-1, 0])
                assert cif.incidence(name, h, g)[0] == pytest.approx(ref, abs=1e-9)


def test_clock_start_ties_and_window():
    ts = pd.to_datetime
    ev = pd.DataFrame([
        ("a", "2025-01-01", "visit"), ("a", "2025-01-03", "purchase"), ("a", "2025-01-13", "pause_account"),
        ("a", "2025-01-13", "cancel"), ("a", "2025-01-20", "cancel"),      # tie on day 10: churn < pause
        ("b", "2025-01-02", "cancel"), ("b", "2025-01-05", "purchase"),    # exit before the clock: ignored
        ("c", "2025-01-04", "purchase"), ("c", "2025-02-10", "cancel"),    # exit after the end: censored
        ("d", "2025-01-06", "visit"),                                      # no purchase: left out
        ("e", "2025-01-01", "purchase"), ("e", "2025-01-05", "winback_sent"),
    ], columns=["customer_id", "ts", "event"]).assign(ts=lambda d: ts(d["ts"], utc=True))
    out = exits_from_events(ev, {"churn": "cancel", "pause": "pause_account"}, start_event="purchase",
                            observation_end="2025-01-31")
    got = out.set_index("customer_id")
    assert list(got.index) == ["a", "b", "c", "e"]
    assert got.loc["a", "exit_type"] == "churn" and got.loc["a", "duration"] == 10.0
    assert got.loc["b", "exit_type"] is None and got.loc["b", "duration"] == 26.0
    assert got.loc["c", "exit_type"] is None and got.loc["c", "duration"] == 27.0
    assert got.loc["e", "duration"] == 30.0
    # without start_event the clock starts at the first activity (outbound touches excluded)
    first = exits_from_events(ev, {"churn": "cancel"}, observation_end="2025-01-31").set_index("customer_id")
    assert first.loc["a", "duration"] == 12.0 and first.loc["b", "duration"] == 0.0
    assert first.loc["b", "exit_type"] == "churn" and first.loc["d", "exit_type"] is None


# --- retention curves with bands that stop where data is thin ---------------------------

def _bands(ax):
    from matplotlib.collections import PolyCollection

    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_every_retention_curve_has_a_band_and_stops_at_the_at_risk_threshold():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from journeylib.retention.plots import MIN_AT_RISK

    # one customer leaving on each day 1..100: on day t, 101 - t customers are still followed, so with
    # the threshold of MIN_AT_RISK the last day drawn is 101 - MIN_AT_RISK
    n = 100
    days = np.arange(1.0, n + 1)
    data = pd.DataFrame({"duration": days, "churned": True,
                         "exit_type": np.where(days % 2 == 0, "churn", "downgrade")})
    last = float(n + 1 - MIN_AT_RISK)
    km = jl.kaplan_meier(data, horizons=(10,))
    cif = cumulative_incidence(data, horizons=(10,))
    try:
        for draw in (km.plot, km.plot_cumulative_hazard, cif.plot):
            fig, ax = plt.subplots()
            draw(ax=ax)
            lines, bands = ax.get_lines(), _bands(ax)
            assert lines and len(bands) == len(lines), draw  # one band per curve
            for line in lines:
                assert max(line.get_xdata()) == last, draw
            for band in bands:  # the band ends with its curve
                assert band.get_paths()[0].vertices[:, 0].max() == last, draw
            assert f"stop below {MIN_AT_RISK} customers at risk" in ax.get_title(), draw
        # the band is the result's own interval: at day 10 the Kaplan-Meier band holds 0.90
        fig, ax = plt.subplots()
        km.plot(ax=ax)
        lo, hi = km.fitters["all"].confidence_interval_.loc[10.0]
        assert lo < 0.9 < hi
    finally:
        plt.close("all")
