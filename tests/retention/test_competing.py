"""Competing exits: Aalen-Johansen against lifelines and the closed form, the fixed-horizon test."""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter

from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.retention.competing import (aalen_johansen, compare_incidence, cumulative_incidence,
                                            planted_incidence)
from journeylib.retention.plots import MIN_AT_RISK
from journeylib.simulate.journeys import EXIT_HAZARDS, simulate_exits


@pytest.fixture(scope="module")
def sim():
    return simulate_exits(20_000, seed=7)


@pytest.fixture(scope="module")
def res(sim):
    return cumulative_incidence(sim.table, by="segment")


def test_equals_lifelines_aalen_johansen_without_ties():
    t = simulate_exits(3000, seed=11).table  # continuous durations: no tied times
    ex = t["exit_type"].fillna("").to_numpy(object)
    code = np.select([ex == "churn", ex == "downgrade"], [1, 2], 0)
    for k, name in ((1, "churn"), (2, "downgrade")):
        aj = AalenJohansenFitter(calculate_variance=True, alpha=0.1).fit(t["duration"], code, event_of_interest=k)
        mine = aalen_johansen(t["duration"].to_numpy(), ex, name, confidence_level=0.9)
        np.testing.assert_allclose(mine["days"], aj.cumulative_density_.index.to_numpy(float))
        np.testing.assert_allclose(mine["cumulative_incidence"], aj.cumulative_density_.iloc[:, 0], atol=1e-12)
        np.testing.assert_allclose(mine["variance"], aj.variance_, atol=1e-14, equal_nan=True)
        # lifelines' band columns: the first is the lower bound (its transform is decreasing)
        band = aj.confidence_interval_.to_numpy(float)
        ok = np.isfinite(band).all(axis=1)
        np.testing.assert_allclose(mine["ci_low"].to_numpy()[ok], band[ok, 0], atol=1e-12)
        np.testing.assert_allclose(mine["ci_high"].to_numpy()[ok], band[ok, 1], atol=1e-12)
        # the curves add up with the overall Kaplan-Meier: sum_k F_k(t) + S(t) = 1
    km = KaplanMeierFitter().fit(t["duration"], ex != "")
    total = sum(aalen_johansen(t["duration"].to_numpy(), ex, k)["cumulative_incidence"].to_numpy()
                for k in ("churn", "downgrade"))
    np.testing.assert_allclose(total + km.survival_function_.iloc[:, 0].to_numpy(), 1.0, atol=1e-12)


def test_tied_days_are_handled_exactly():
    """Whole-day durations tie; the estimate equals a plain loop over the distinct days."""
    t = simulate_exits(2000, seed=5).table.assign(duration=lambda d: np.ceil(d["duration"]))
    ex = t["exit_type"].fillna("").to_numpy(object)
    d = t["duration"].to_numpy()
    mine = aalen_johansen(d, ex, "churn").set_index("days")["cumulative_incidence"]
    s, f, expected = 1.0, 0.0, {}
    for day in np.unique(d):
        n = (d >= day).sum()
        f += s * ((d == day) & (ex == "churn")).sum() / n
        s *= 1 - ((d == day) & (ex != "")).sum() / n
        expected[day] = f
    np.testing.assert_allclose(mine.loc[list(expected)].to_numpy(), list(expected.values()), atol=1e-12)


def test_recovers_the_planted_competing_exponentials(sim, res):
    truth = res.against_truth(sim.ground_truth)
    assert len(truth) == 16  # 2 segments x 2 exit types x 4 horizons
    assert (truth["estimate"] - truth["planted"]).abs().max() < 0.015
    # the 95% bands cover the planted incidence about 95% of the time (16 cells x 25 samples)
    covered = [cumulative_incidence(x.table, by="segment").against_truth(x.ground_truth)["covered"].mean()
               for x in (simulate_exits(3000, seed=s) for s in range(100, 125))]
    assert 0.92 <= np.mean(covered) <= 0.99
    # the closed form itself: lambda_k / Lambda * (1 - exp(-Lambda t))
    lam = EXIT_HAZARDS["standard"]
    big = sum(lam.values())
    assert planted_incidence(sim.ground_truth["exits"], "churn", 100, "standard") == pytest.approx(
        lam["churn"] / big * (1 - np.exp(-big * 100)))
    # counting the other exit as censoring overstates each risk
    s = res.summary.dropna()
    assert (s["ignoring_other_exits"] > s["cumulative_incidence"]).all()
    # without a split: the mixture of the segments
    overall = cumulative_incidence(sim.table, horizons=[90, 180]).against_truth(sim.ground_truth)
    assert (overall["estimate"] - overall["planted"]).abs().max() < 0.01
    assert list(overall["quantity"])[0] == "churn by day 90 (all)"


def test_result_protocol(res):
    s = res.summary
    assert list(s.columns) == ["group", "exit_type", "horizon_days", "at_risk", "cumulative_incidence", "ci_low",
                               "ci_high", "ignoring_other_exits"]
    s.loc[:, "cumulative_incidence"] = -1
    assert (res.summary["cumulative_incidence"] >= 0).all()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.horizons = ()
    v, lo, hi = res.incidence("churn", 180, "standard")
    row = res.summary.query("group == 'standard' and exit_type == 'churn' and horizon_days == 180").iloc[0]
    assert (v, lo, hi) == (row["cumulative_incidence"], row["ci_low"], row["ci_high"]) and lo < v < hi
    first = res.findings[0]
    assert first.text.startswith("Within 365 days, ") and first.ci_low < first.value < first.ci_high
    assert f"({first.ci_low:.0%} to {first.ci_high:.0%})" in first.text
    assert any("instead of" in f.text for f in res.findings)
    assert [c.status for c in res.checks] == ["pass", "pass"]
    assert "<table" in res._repr_html_() and "**standard**" in res.reading
    with pytest.raises(JourneyParameterError, match="group=None"):
        res.incidence("churn", 30)


def test_horizons_past_the_follow_up_are_blank_and_the_plot_stops_at_the_threshold():
    t = simulate_exits(400, seed=3, follow_up_days=(30.0, 200.0)).table
    r = cumulative_incidence(t, horizons=[30, 150, 199], min_at_risk=MIN_AT_RISK)
    s = r.summary.set_index(["exit_type", "horizon_days"])
    assert s.loc[("churn", 199.0), "at_risk"] < MIN_AT_RISK and np.isnan(s.loc[("churn", 199.0),
                                                                               "cumulative_incidence"])
    assert np.isfinite(s.loc[("churn", 30.0), "cumulative_incidence"])
    assert r.checks[1].status == "warn"
    fig, ax = plt.subplots()
    assert r.plot(ax=ax) is ax
    cutoff = t["duration"].sort_values().to_numpy()[-MIN_AT_RISK]  # the last day with MIN_AT_RISK still followed
    assert max(line.get_xdata().max() for line in ax.get_lines()) == pytest.approx(cutoff)
    assert ax.get_ylabel() == "share of customers who left this way" and "30 customers at risk" in ax.get_title()
    plt.close(fig)


def test_display_table_is_the_summary_in_percent_with_blanks_past_the_follow_up():
    t = simulate_exits(400, seed=3, follow_up_days=(30.0, 200.0)).table
    r = cumulative_incidence(t, horizons=[30, 199], min_at_risk=MIN_AT_RISK)
    d = r.display_table().set_index(["exit type", "within days"])
    s = r.summary.set_index(["exit_type", "horizon_days"])
    v, lo, hi, one = s.loc[("churn", 30.0), ["cumulative_incidence", "ci_low", "ci_high", "ignoring_other_exits"]]
    assert d.loc[("churn", "30"), "share gone this way"] == f"{v:.1%} ({lo:.1%} to {hi:.1%})"
    assert d.loc[("churn", "30"), "if the other exits were ignored"] == f"{one:.1%}"
    assert d.loc[("churn", "199"), "share gone this way"] == "–"  # fewer than MIN_AT_RISK still followed
    assert d.loc[("churn", "199"), "customers still followed"] == s.loc[("churn", 199.0), "at_risk"]
    assert len(d) == len(s)


def test_comparison_detects_the_planted_difference(sim):
    c = compare_incidence(sim.table, "segment", horizons=[90, 365])
    s = c.summary.set_index(["exit_type", "horizon_days"])
    # premium (reference) churns less and downgrades more than standard
    assert c.reference == "premium" and (s.loc["churn", "difference"] > 0).all()
    assert (s.loc["downgrade", "difference"] < 0).all() and c.pvalue < 1e-10
    for (k, h), r in s.iterrows():
        planted = (planted_incidence(sim.ground_truth["exits"], k, h, "standard")
                   - planted_incidence(sim.ground_truth["exits"], k, h, "premium"))
        assert r["ci_low"] - 0.01 < planted < r["ci_high"] + 0.01
        assert r["statistic"] == pytest.approx((r["difference"] / r["se"]) ** 2)  # two groups: z squared
    lo, hi = c.confidence_interval()
    lo90, hi90 = c.confidence_interval(confidence_level=0.9)
    assert lo < lo90 < hi90 < hi
    assert c.findings[0].text.startswith("How customers leave differs") and len(c.findings) >= 2
    fig, ax = plt.subplots()
    assert c.plot(ax=ax) is ax and ax.get_xlabel().startswith("difference in share")
    plt.close(fig)


def test_comparison_holds_its_level_when_groups_are_alike():
    same = {"a": {"churn": 1 / 300, "downgrade": 1 / 500}, "b": {"churn": 1 / 300, "downgrade": 1 / 500}}
    p = [compare_incidence(simulate_exits(600, seed=s, hazards=same).table, "segment",
                           horizons=[90, 180]).pvalue for s in range(150)]
    assert np.mean(np.array(p) < 0.05) <= 0.08  # Holm over 4 cells: at most the nominal 5% (+ noise)
    three = {**same, "c": {"churn": 1 / 150, "downgrade": 1 / 500}}
    c3 = compare_incidence(simulate_exits(3000, seed=1, hazards=three).table, "segment", horizons=[180])
    assert c3.df == 2 and c3.headline[0] == "churn" and c3.pvalue < 1e-6
    with pytest.raises(JourneyParameterError, match="no single headline"):
        c3.confidence_interval()


def test_bad_inputs():
    t = simulate_exits(200, seed=1).table
    with pytest.raises(JourneyDataError, match="missing column"):
        cumulative_incidence(t.drop(columns="exit_type"))
    with pytest.raises(JourneyDataError, match="no exit observed"):
        cumulative_incidence(t.assign(exit_type=0))
    with pytest.raises(JourneyParameterError, match="confidence_level"):
        cumulative_incidence(t, confidence_level=95)
    with pytest.raises(JourneyParameterError, match="horizons"):
        cumulative_incidence(t, horizons=[-1])
    with pytest.raises(JourneyDataError, match="duration"):
        cumulative_incidence(t.assign(duration=-1.0))
    with pytest.raises(JourneyParameterError, match="reference"):
        compare_incidence(t, "segment", reference="gold")
    with pytest.raises(JourneyDataError, match="only one group"):
        compare_incidence(t.assign(segment="x"), "segment")
    # censoring codes: 0, None, NaN and "" all mean still a customer
    coded = t.assign(exit_type=t["exit_type"].where(t["exit_type"].notna(), 0))
    a = cumulative_incidence(coded).summary
    b = cumulative_incidence(t.assign(exit_type=t["exit_type"].fillna(""))).summary
    pd.testing.assert_frame_equal(a, b)
