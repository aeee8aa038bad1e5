"""Every journeys result follows the protocol of journeylib.core.result: summary is a copy,
findings quote the summary's own numbers, checks say what was checked, plot returns the Axes
it was given, and the HTML escapes names that come from the data."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from journeylib.core.result import Check, Finding, Result
from journeylib.journeys import attribution as A
from journeylib.journeys import plots
from journeylib.journeys.stages import funnel, journey_map_data, stage_transitions

HOSTILE = "<b>x</b>"
STAGES = ["awareness", "consideration", "cart", "purchase"]


@pytest.fixture(scope="module")
def results(small_sim):
    ev, cu = small_sim.events, small_sim.customers
    return {
        "funnel": funnel(ev, STAGES, window=30),
        "funnel_by": funnel(ev, STAGES, window=30, by="segment", customers=cu),
        "transitions": stage_transitions(ev),
        "journey_map": journey_map_data(ev, STAGES, window=30),
        "attribution": A.attribute(ev, n_boot=30, seed=1),
        "stage_attribution": A.stage_attribution(ev, stages=STAGES, models=["linear", "markov"], n_boot=20),
    }


NAMES = ["funnel", "funnel_by", "transitions", "journey_map", "attribution", "stage_attribution"]


@pytest.mark.parametrize("name", NAMES)
def test_summary_is_a_copy_and_the_result_is_frozen(results, name):
    r = results[name]
    assert isinstance(r, Result)
    before = r.summary
    s = r.summary
    s.iloc[0, 0] = "changed" if s.dtypes.iloc[0] == object else -1
    s["extra"] = 1
    pd.testing.assert_frame_equal(r.summary, before)
    assert r.summary is not r.summary


@pytest.mark.parametrize("name", NAMES)
def test_findings_and_checks_have_the_protocol_types(results, name):
    r = results[name]
    assert isinstance(r.findings, tuple) and 1 <= len(r.findings) <= 4
    for f in r.findings:
        assert isinstance(f, Finding) and f.text and "`" not in f.text and "**" not in f.text
        assert isinstance(f.value, float) and np.isfinite(f.value)
        if f.ci_low is not None:
            assert f.ci_low <= f.value <= f.ci_high
    assert isinstance(r.checks, tuple)
    assert all(isinstance(c, Check) and c.status in ("pass", "warn", "fail") for c in r.checks)


def test_funnel_findings_quote_the_summary(results):
    r = results["funnel"]
    s = r.summary
    last, first = s.iloc[-1], s.iloc[0]
    whole, drop = r.findings
    assert whole.value == last["cumulative_conversion"]
    lo, hi = proportion_confint(last["mature_customers"], first["mature_customers"], alpha=0.05, method="wilson")
    assert (whole.ci_low, whole.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    assert f"{whole.value:.1%}" in whole.text and "awareness" in whole.text and "purchase" in whole.text
    worst = s.iloc[1:].sort_values("drop_off", ascending=False, kind="stable").iloc[0]
    assert drop.value == worst["drop_off"] and worst["stage"] in drop.text and drop.action
    prev = STAGES[int(worst["step"]) - 2]
    at_prev = int(s.loc[s["stage"] == prev, "mature_customers"].iloc[0])
    lo, hi = proportion_confint(at_prev - int(worst["mature_customers"]), at_prev, alpha=0.05, method="wilson")
    assert (drop.ci_low, drop.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    assert drop.text == (f"The biggest drop-off is from {prev} to {worst['stage']}: {worst['drop_off']:.1%} of the "
                         f"{at_prev:,} customers who reached {prev} did not go on to {worst['stage']} "
                         f"({lo:.1%} to {hi:.1%}).")
    by = results["funnel_by"]
    ends = by.summary.groupby("group", sort=False)["cumulative_conversion"].last().sort_values(ascending=False)
    assert [f.value for f in by.findings] == ends.tolist()
    assert all(f"segment {g}" in f.text for f, g in zip(by.findings, ends.index))


def test_funnel_check_warns_when_few_entrants_are_mature():
    ev = pd.DataFrame({"customer_id": ["1", "1", "2", "3", "4", "4"],
                       "ts": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-01", "2024-01-25", "2024-01-26",
                                             "2024-01-27"], utc=True),
                       "stage": ["a", "b", "a", "a", "a", "b"], "event": "x"})
    (check,) = funnel(ev, ["a", "b"], window=10, observation_end="2024-01-30").checks
    assert check.status == "warn" and "2 of 4 entrants (50%)" in check.detail
    (check,) = funnel(ev, ["a", "b"], window=3, observation_end="2024-03-01").checks
    assert check.status == "pass" and "4 of 4 entrants (100%)" in check.detail
    (check,) = funnel(ev, ["a", "b"], observation_end="2024-01-30").checks
    assert check.status == "pass" and "all 4 entrants" in check.detail


def test_transition_findings_quote_the_summary(results):
    r = results["transitions"]
    going_back, backward, most = r.findings
    assert going_back.value == r.share_going_back
    assert backward.value == r.summary.set_index("move").loc["backward", "share"]
    c = r.counts
    below = np.tril(c.to_numpy(), k=-1)
    a, b = np.unravel_index(np.argmax(below), below.shape)
    assert most.value == c.iat[a, b] and f"from {c.index[a]} to {c.columns[b]}" in most.text


def test_journey_map_findings_quote_the_summary(results):
    r = results["journey_map"]
    s = r.summary
    drops = s[s["top_drop_off"]].sort_values("drop_off", ascending=False)
    got = [f for f in r.findings if f.text.startswith(("Drop-off", "The biggest drop-off"))]
    assert [f.value for f in got] == drops["drop_off"].tolist() and len(got) == 2
    # the first top drop-off is the funnel's biggest drop-off, in the funnel's own words
    assert got[0] == results["funnel"].biggest_drop_off.finding
    assert got[1].text.startswith(f"Drop-off {drops['stage'].iloc[1]} to ") and f"{got[1].value:.1%}" in got[1].text
    assert not any("pain" in f.text.lower() for f in r.findings)  # pain points are report 05's pain score
    if "score_mean" in s.columns:
        low = r.findings[-1]
        assert low.value == s["score_mean"].min() and s.loc[s["score_mean"].idxmin(), "stage"] in low.text


def test_attribution_findings_quote_the_summary(results):
    r = results["attribution"]
    assert "ci_low" in r.summary.columns and not {"share_low", "share_high"} & set(r.summary.columns)
    inc = r.incremental
    top, low = inc.iloc[0], inc.iloc[-1]
    first, ranking, volume, disagree = r.findings
    # incremental effect first: the strongest channel per 1,000 reached, with its bootstrap interval
    assert (first.value, first.ci_low, first.ci_high) == (top["per_1000_reached"], top["ci_low"], top["ci_high"])
    assert first.text == (f"{top['channel']} brings the most conversions per 1,000 customers reached: "
                          f"{top['per_1000_reached']:,.0f} ({top['ci_low']:,.0f} to {top['ci_high']:,.0f}) by the "
                          f"Markov model, against {low['per_1000_reached']:,.0f} ({low['ci_low']:,.0f} to "
                          f"{low['ci_high']:,.0f}) for {low['channel']}.")
    ratio = top["per_1000_reached"] / low["per_1000_reached"]
    assert ranking.value == pytest.approx(ratio)
    assert ranking.text.endswith(", ".join(f"{c} {v:,.0f}" for c, v in zip(inc["channel"], inc["per_1000_reached"]))
                                 + f"; the strongest brings {ratio:.2f} times as many as the weakest.")
    # volume apart
    mk = r.summary[r.summary["model"] == "markov"].sort_values("share", ascending=False).iloc[0]
    assert (volume.value, volume.ci_low, volume.ci_high) == (mk["share"], mk["ci_low"], mk["ci_high"])
    assert volume.text.startswith(f"By volume, {mk['channel']} brings the largest share of conversions: "
                                  f"{mk['share']:.0%} ({mk['ci_low']:.0%} to {mk['ci_high']:.0%})")
    sh = r.shares()
    spread = sh.max(axis=1) - sh.min(axis=1)
    assert disagree.value == pytest.approx(spread.max()) and spread.idxmax() in disagree.text
    assert r.checks[0].status == "pass"
    assert A.attribute(r.path_table, models=["linear"], n_boot=0).checks[0].status == "warn"


def test_stage_attribution_findings_and_checks(results):
    r = results["stage_attribution"]
    s = r.summary[r.summary["model"] == "markov"]
    for f, (a, b) in zip(r.findings, r.transitions):
        part = s[s["transition"] == f"{a} → {b}"]
        top = part.loc[part["share"].idxmax()]
        assert (f.value, f.ci_low, f.ci_high) == (top["share"], top["ci_low"], top["ci_high"])
        assert f.text.startswith(f"From {a} to {b}, {top['channel']} gets the most credit")
    assert r.checks[0].status == "pass"
    ev = pd.DataFrame({"customer_id": ["1", "1", "2"], "event": ["landing", "view", "landing"],
                       "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"], utc=True),
                       "channel": ["search", "email", "social"], "stage": ["awareness", "consideration", "awareness"]})
    res = A.stage_attribution(ev, [("awareness", "consideration"), ("consideration", "cart")], models=["linear"])
    assert res.checks[0].status == "warn" and "consideration → cart" in res.checks[0].detail


@pytest.mark.parametrize("name", NAMES)
def test_plot_returns_the_axes_it_was_given(results, name):
    fig, ax = plt.subplots()
    try:
        assert results[name].plot(ax=ax) is ax
        assert ax.get_xlabel() or name == "journey_map"
    finally:
        plt.close(fig)


def test_plot_functions_draw_on_the_current_axes(results):
    fig, ax = plt.subplots()
    try:
        assert plots.plot_funnel(results["funnel"]) is ax
    finally:
        plt.close(fig)


@pytest.fixture(scope="module")
def hostile(small_sim):
    """The small data with a channel, a segment and a stage named like markup."""
    ev = small_sim.events.replace({"channel": {"email": HOSTILE}, "stage": {"cart": HOSTILE}})
    cu = small_sim.customers.replace({"segment": {"premium": HOSTILE}})
    st = [HOSTILE if s == "cart" else s for s in STAGES]
    return {
        "funnel": funnel(ev, st, window=30, by="segment", customers=cu),
        "transitions": stage_transitions(ev, st),
        "journey_map": journey_map_data(ev, st, window=30),
        "attribution": A.attribute(ev, n_boot=10),
        "stage_attribution": A.stage_attribution(ev, stages=st, models=["linear", "markov"]),
    }


@pytest.mark.parametrize("name", ["funnel", "transitions", "journey_map", "attribution", "stage_attribution"])
def test_html_escapes_names_from_the_data(hostile, name):
    r = hostile[name]
    assert any(HOSTILE in f.text for f in r.findings) or HOSTILE in r.summary.to_string()
    out = r._repr_html_()
    assert HOSTILE not in out and "&lt;b&gt;x&lt;/b&gt;" in out
    if "channel" in r.summary.columns:  # a name holding ">" stays one channel (paths built here are not re-split)
        assert HOSTILE in set(r.summary["channel"]) and not r.summary["channel"].str.contains("<b ").any()
