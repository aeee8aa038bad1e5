"""Cohort triangles and repeat purchase: hand-built data cell by cell, brute force on simulated data."""
from __future__ import annotations

import dataclasses
import html

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import journeylib as jl

from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.core.result import Finding, Result
from journeylib.loyalty.cohorts import cohort_table, repeat_purchase, repeat_purchase_rate


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval by its textbook formula (an independent check of statsmodels' method)."""
    centre = (k + z * z / 2) / (n + z * z)
    half = z * np.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


@pytest.fixture
def tiny() -> pd.DataFrame:
    rows = [
        ("a", "2024-01-05", "purchase", 10.0), ("a", "2024-02-10", "purchase", 20.0), ("a", "2024-03-31", "purchase", 5.0),
        ("b", "2024-01-20", "purchase", 7.0), ("b", "2024-02-15", "product_view", None), ("b", "2024-03-02", "purchase", 3.0),
        ("c", "2024-02-01", "purchase", 4.0),
        ("d", "2024-02-01", "winback_sent", None), ("d", "2024-02-20", "product_view", None),
        ("d", "2024-03-15", "purchase", 1.0),
        ("e", "2024-04-05", "purchase", 99.0),  # after the observation end
        ("f", "2024-01-10 09:00", "purchase", 2.0), ("f", "2024-01-10 18:00", "purchase", 2.0),
        ("f", "2024-01-25", "purchase", 3.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "event", "revenue"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    return df


def test_retention_triangle_cell_by_cell(tiny):
    before = tiny.copy()
    c = cohort_table(tiny, period="M", observation_end="2024-04-01")
    pd.testing.assert_frame_equal(tiny, before)  # input untouched
    ret = c.retention
    assert list(ret.index) == ["2024-01", "2024-02", "2024-03"]
    np.testing.assert_allclose(ret.loc["2024-01", [0, 1, 2]], [1, 1 / 3, 2 / 3])
    assert ret.loc["2024-02", 0] == 1 and ret.loc["2024-02", 1] == 0  # observed zero stays zero
    assert np.isnan(ret.loc["2024-02", 2])  # April not observed: blank, not 0
    assert ret.loc["2024-03", 0] == 1 and np.isnan(ret.loc["2024-03", 1])
    np.testing.assert_allclose(c.revenue.loc["2024-01", [0, 1, 2]], [24 / 3, 20 / 3, 8 / 3])
    np.testing.assert_allclose(c.cumulative_revenue.loc["2024-01", [0, 1, 2]], [8, 44 / 3, 52 / 3])
    avg = c.average_retention().set_index("period")
    assert avg.loc[1, "retention"] == pytest.approx(1 / 4)  # (1 + 0) / (3 + 1)
    assert avg.loc[2, "retention"] == pytest.approx(2 / 3)  # only the January cohort is observable
    assert avg.loc[2, "cohorts"] == 1
    # Issue 23: cohort retention is named so, never "buys again" (that reads as the repeat-purchase rate)
    assert c.reading == ("Cohort retention: on average 25% of a cohort buys in month 1 after acquisition (2 observable "
                         "cohorts, size-weighted). In month 2, 67% of a cohort still buys (only 1 cohort(s) are old "
                         "enough to show this).")
    s = c.summary.set_index("cohort")
    assert s.loc["2024-01", "customers"] == 3 and np.isnan(s.loc["2024-03", "retention_month_1"])
    assert "CohortTable(" not in repr(c) and "3 monthly cohorts, 5 customers" in repr(c) and "<table" in c._repr_html_()
    # two header rows (what over the months), so the table fits the report's page; the cells keep their formats
    page = c._repr_html_()
    assert "share of the cohort buying in month<" in page and "revenue per customer up to month<" in page
    assert "retention_month" not in page and "retention month" not in page
    assert f">{s.loc['2024-01', 'retention_month_1']:.1%}<" in page
    ax = c.plot(kind="retention")
    assert ax.get_xlabel() == "months since acquisition"
    curves = c.plot_curves()
    assert curves.get_ylabel() == "share of cohort active"
    assert all(float(t).is_integer() for t in curves.get_xticks())  # whole months on the axis


def test_first_activity_cohorts_ignore_outbound_events(tiny):
    c = cohort_table(tiny, period="M", cohort_by="first_activity", active_on="any", observation_end="2024-04-01")
    ret = c.retention
    # d's first own activity is the product view on 2024-02-20 (the win-back send is outbound)
    sizes = c.cells.groupby("cohort")["size"].first()
    assert sizes.to_dict() == {"2024-01": 3, "2024-02": 2}
    np.testing.assert_allclose(ret.loc["2024-02", [0, 1]], [1.0, 0.5])
    np.testing.assert_allclose(ret.loc["2024-01", [0, 1, 2]], [1.0, 2 / 3, 2 / 3])  # b's view counts


def test_week_and_quarter_periods(tiny):
    w = cohort_table(tiny, period="W", observation_end="2024-04-01")
    assert w.retention.index[0] == "2024-01-01"  # ISO week starting Monday
    assert all(pd.Timestamp(d).dayofweek == 0 for d in w.retention.index)
    q = cohort_table(tiny, period="Q", observation_end="2024-04-01")
    assert q.retention.loc["2024Q1", 0] == 1 and q.retention.shape == (1, 1)
    with pytest.raises(JourneyParameterError, match="period"):
        cohort_table(tiny, period="Y")
    with pytest.raises(JourneyDataError, match="missing column"):
        cohort_table(tiny.drop(columns="event"))


def test_triangle_matches_pandas_brute_force(small_sim):
    ev = small_sim.events
    c = cohort_table(ev, period="M")
    p = ev[ev.event == "purchase"].copy()
    p["m"] = p.ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M")
    first = p.groupby("customer_id")["m"].min().rename("cohort")
    p = p.join(first, on="customer_id")
    p["k"] = (p["m"] - p["cohort"]).apply(lambda x: x.n)
    bf = p.groupby(["cohort", "k"])["customer_id"].nunique() / first.value_counts()
    cells = c.cells.dropna(subset=["retention"])
    got = cells.set_index(["cohort", "period"])["retention"]
    bf.index = [(str(a), b) for a, b in bf.index]
    got.index = list(got.index)
    common = got.index.intersection(bf.index)
    assert len(common) > 100
    np.testing.assert_allclose(got[common].to_numpy(), bf[common].to_numpy())
    zero_cells = got.index.difference(bf.index)
    assert (got[zero_cells] == 0).all()
    # the last month of the simulation (June 2025) is complete: obs end is 2025-07-01
    assert c.observation_end == pd.Timestamp("2025-07-01", tz="UTC")


def test_repeat_purchase_by_hand(tiny):
    r = repeat_purchase(tiny, within_days=30, observation_end="2024-04-01")
    g = r.by_group.set_index("cohort")
    # a (36 days), b (42 days), f (15 days; same-day orders are one) eligible in January
    assert g.loc["2024-01", "eligible"] == 3 and g.loc["2024-01", "repeaters"] == 1
    assert g.loc["2024-02", "eligible"] == 1 and g.loc["2024-02", "repeaters"] == 0  # c; d is too young
    assert "2024-03" not in g.index
    assert dict(zip(r.gaps.gap_days, r.gaps["count"])) == {15: 1, 36: 1, 42: 1, 50: 1}
    km = r.time_to_second.set_index("days")["share_with_second_order"]
    # Kaplan-Meier by hand: events at 15, 36, 42; censored d at 17 and c at 60
    assert km.loc[15] == pytest.approx(0.2)
    assert km.loc[36] == pytest.approx(1 - 0.8 * 2 / 3)
    assert km.loc[42] == pytest.approx(1 - 0.8 * 2 / 3 * 1 / 2)
    assert r.median_gap_days == 36
    # the youngest cohort is small by construction and left out of the sample-size check
    assert (r.checks[0].status, r.checks[0].detail) == ("warn", "1 of 1 cohort(s) before the youngest have fewer than 30")
    assert r.plot().get_ylabel().startswith("share with a 2nd order")
    _, (ax_gaps, ax_km) = plt.subplots(1, 2)
    assert r.plot_gaps(ax=ax_gaps) is ax_gaps
    median = ax_gaps.lines[0]  # the median line sits at 36 days; all four gaps (longest 50 days) are shown
    assert list(median.get_xdata()) == [36, 36] and median.get_label() == "median 36 days"
    assert ax_gaps.get_xlim() == (-0.5, 50.5)
    assert r.plot_time_to_second(ax=ax_km) is ax_km
    assert ax_km.lines[0].get_xdata().size == 0  # 5 customers: fewer than 30 at risk from the start, nothing drawn
    _, ax_km = plt.subplots()
    from journeylib.loyalty import plots

    plots.plot_time_to_second(r, ax=ax_km, min_at_risk=1)
    curve = ax_km.lines[0]
    np.testing.assert_allclose(curve.get_xdata(), r.time_to_second["days"])
    np.testing.assert_allclose(curve.get_ydata(), r.time_to_second["share_with_second_order"])
    assert curve.get_drawstyle() == "steps-post" and ax_km.get_xlabel() == "days since first purchase"


def test_repeat_purchase_by_channel(small_sim):
    r = repeat_purchase(small_sim.events, small_sim.customers, by="acquisition_channel", within_days=60)
    g = r.by_group
    assert set(g["acquisition_channel"]) <= set(small_sim.customers["acquisition_channel"])
    assert (g["ci_low"] <= g["repeat_rate"]).all() and (g["repeat_rate"] <= g["ci_high"]).all()
    for row in g.itertuples():
        np.testing.assert_allclose((row.ci_low, row.ci_high), _wilson(row.repeaters, row.eligible), rtol=1e-12)
    with pytest.raises(JourneyParameterError, match="customers"):
        repeat_purchase(small_sim.events, by="acquisition_channel")


def test_day_numbers_to_timestamps_with_many_missing_days():
    """The conversion repeat_purchase uses; pandas' float unit cast fails at random here (pandas#58419)."""
    from journeylib.loyalty.cohorts import _day_to_timestamp

    rng = np.random.default_rng(5)
    days = pd.Series(rng.integers(-3000, 30000, 300_000).astype(float))
    days[rng.random(len(days)) < 0.2] = np.nan
    got = _day_to_timestamp(days)
    ref = pd.Timestamp("1970-01-01", tz="UTC") + pd.to_timedelta(days.fillna(0).astype("int64"), unit="D")
    ref[days.isna()] = pd.NaT
    pd.testing.assert_series_equal(got, ref, check_names=False)


def test_repeat_window_and_dates_must_be_what_they_say(tiny):
    from journeylib.loyalty.rfm import rfm_table

    for bad in ("90", 2.5, 0):
        with pytest.raises(JourneyParameterError, match="within_days"):
            repeat_purchase(tiny, within_days=bad)
    with pytest.raises(JourneyParameterError, match="as_of='garbage'"):
        rfm_table(tiny, as_of="garbage")
    with pytest.raises(JourneyParameterError, match="observation_end"):
        cohort_table(tiny, observation_end="not a date")


def test_cohort_table_protocol(tiny):
    c = cohort_table(tiny, period="M", observation_end="2024-04-01")
    assert isinstance(c, Result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.period = "W"
    s = c.summary
    s.loc[:, "customers"] = -1
    assert (c.summary["customers"] > 0).all()
    # findings quote the size-weighted retention of month 1 (1 of 4) and month 2 (2 of 3) with Wilson intervals
    f = c.findings
    assert all(isinstance(x, Finding) for x in f) and len(f) == 2
    assert (f[0].value, f[1].value) == pytest.approx((1 / 4, 2 / 3))
    np.testing.assert_allclose((f[0].ci_low, f[0].ci_high), _wilson(1, 4), rtol=1e-12)
    np.testing.assert_allclose((f[1].ci_low, f[1].ci_high), _wilson(2, 3), rtol=1e-12)
    avg = c.average_retention().set_index("period")
    assert (f[0].value, f[0].ci_low) == (avg.loc[1, "retention"], avg.loc[1, "ci_low"])
    assert f[0].text == "Cohort retention: 25% of a cohort buys in month 1 after acquisition (5% to 70%, 2 cohorts)."
    assert f[1].text.startswith("In month 2 after acquisition, 67% of a cohort still buys (")
    (check,) = c.checks
    assert check.status == "pass" and check.detail == "2 cohort(s) have a complete month 1"
    late = cohort_table(tiny, period="Q", observation_end="2024-04-01")  # one quarter: nothing to compare yet
    assert late.checks[0].status == "warn" and late.findings[0].value is None
    _, (a1, a2) = plt.subplots(1, 2)
    assert c.plot(ax=a1) is a1 and c.plot_curves(ax=a2) is a2
    with pytest.raises(JourneyParameterError, match="kind"):
        c.plot(ax=a1, kind="profit")
    assert f"<p>{html.escape(str(f[0]))}</p>" in c._repr_html_()


def test_repeat_purchase_protocol_and_escaping(tiny):
    hostile = "<script>alert(1)</script>"
    cu = pd.DataFrame({"customer_id": list("abcdf"), "channel": [hostile, hostile, "email", "email", "email"]})
    r = repeat_purchase(tiny, cu, by="channel", within_days=30, observation_end="2024-04-01")
    g = r.summary.set_index("channel")
    # eligible: a, b (hostile channel; neither repeats within 30 days), c and f (email; f repeats after 15 days)
    assert g.loc[hostile, ["eligible", "repeaters"]].tolist() == [2, 0]
    assert g.loc["email", ["eligible", "repeaters"]].tolist() == [2, 1]
    copy = r.summary
    copy.loc[:, "eligible"] = 0
    assert r.by_group["eligible"].sum() == 4  # summary is a copy
    f = r.findings[0]
    assert f.value == 1 / 4
    np.testing.assert_allclose((f.ci_low, f.ci_high), _wilson(1, 4), rtol=1e-12)
    assert f.text == ("Repeat-purchase rate: 25% of customers place a second order within 30 days of their first "
                      "(5% to 70%).")
    # the one definition: repeat_purchase_rate gives the same numbers as the result's overall rate
    one = repeat_purchase_rate(tiny, within_days=30, observation_end="2024-04-01")
    assert (one.rate, one.ci_low, one.ci_high, one.eligible, one.repeaters) == (*r.overall_rate(), 4, 1)
    assert "RepeatPurchase(" not in repr(r) and "25.0% of 4 customers ordered again within 30 days" in repr(r)
    assert r.findings[-1].value == r.median_gap_days == 36
    assert r.checks[0].status == "warn" and r.checks[0].detail == "2 of 2 group(s) have fewer than 30"
    page = r._repr_html_()
    assert hostile not in page and html.escape(hostile) in page
    ax = plt.subplots()[1]
    assert r.plot(ax=ax) is ax
    assert [t.get_text() for t in ax.get_xticklabels()] == list(r.by_group["channel"])


def test_cohort_findings_state_the_oldest_age_three_cohorts_show():
    """Issue 23: on the sample the last finding was "In month 17, 20% still buys (1 cohort old enough)"."""
    sim = jl.simulate_journeys(2000, seed=4)
    c = cohort_table(sim.events, period="M")
    avg = c.average_retention().set_index("period")
    oldest = int(avg.index[(avg.index >= 1) & (avg["cohorts"] >= 3)].max())
    assert oldest < int(avg.index.max())
    last = c.findings[-1]
    assert last.text.startswith(f"In month {oldest} after acquisition, {avg.loc[oldest, 'retention']:.0%} of a cohort")
    assert last.value == avg.loc[oldest, "retention"] and f"{int(avg.loc[oldest, 'cohorts'])} cohorts old enough" in last.text


@pytest.mark.parametrize("ids", [[1, 2, 3], [1.0, 2.0, 3.0], ["1", "2", "3"]])
def test_repeat_purchase_by_a_column_of_customers_with_number_ids_and_gaps(tiny, ids):
    """The customers' column is joined in the engine: number ids match the log's text ids, and buyers
    missing from the customers table (or with no value) are '(unknown)'."""
    ev = tiny.assign(customer_id=tiny["customer_id"].map({k: str(i) for i, k in enumerate("abcdef", 1)}))
    cu = pd.DataFrame({"customer_id": ids, "tier": ["gold", None, "gold"], "other": [0.5, 1.5, 2.5]})
    r = repeat_purchase(ev, cu, by="tier", within_days=30, observation_end="2024-04-01")
    g = r.summary.set_index("tier")
    # eligible: a (gold, no repeat in 30 days), b (no tier), c (gold), f (not in customers; repeats)
    assert g.loc["gold", ["eligible", "repeaters"]].tolist() == [2, 0]
    assert g.loc["(unknown)", ["eligible", "repeaters"]].tolist() == [2, 1]
    assert set(r.customers.columns) >= {"customer_id", "tier"} and "other" not in r.customers.columns
