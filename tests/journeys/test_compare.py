"""The re-review (this period against the last) and segments compared with tests.

Planted truth: period logs are built from simulated customers so that the two periods are
exchangeable (disjoint random halves of the customers, the same calendar window, one half
shifted by the period length): every figure is unchanged by construction, and a planted
change (a random share of the cart customers' purchases removed) is known exactly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.journeys import compare_periods, compare_segments
from journeylib.experiments.statistics import adjust_pvalues
from journeylib.journeys.compare import PeriodComparison, SegmentComparison, km_share, nps_difference_test
from journeylib.retention.churn import churn_labels
from journeylib.simulate import simulate_journeys

W0 = pd.Timestamp("2024-05-01", tz="UTC")
L = pd.Timedelta(days=90)
PREVIOUS = (W0, W0 + L)
CURRENT = (W0 + L, W0 + 2 * L)


def null_tables(seed: int, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two periods with no change: random halves of the customers in one window, one half shifted by L;
    the feedback answers of that window go with their customer (customers with answers but no event in
    the window are split by a second coin), so NPS and satisfaction are unchanged by construction too."""
    d = simulate_journeys(n, seed=seed, months=10)
    ev, fb = d.events, d.feedback
    win = ev[(ev["ts"] >= PREVIOUS[0]) & (ev["ts"] < PREVIOUS[1])]
    ids = np.sort(win["customer_id"].unique())
    half = set(np.random.default_rng(seed).choice(ids, len(ids) // 2, replace=False))
    later = win["customer_id"].isin(half)
    events = pd.concat([win[~later], win[later].assign(ts=win.loc[later, "ts"] + L)], ignore_index=True)
    fwin = fb[(fb["ts"] >= PREVIOUS[0]) & (fb["ts"] < PREVIOUS[1])]
    others = np.sort(np.setdiff1d(fwin["customer_id"].unique(), ids))
    half |= set(np.random.default_rng([seed, 1]).choice(others, len(others) // 2, replace=False))
    flater = fwin["customer_id"].isin(half)
    feedback = pd.concat([fwin[~flater], fwin[flater].assign(ts=fwin.loc[flater, "ts"] + L)], ignore_index=True)
    return events, feedback


def null_log(seed: int, n: int) -> pd.DataFrame:
    """The events of :func:`null_tables`."""
    return null_tables(seed, n)[0]


def plant_drop(ev: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """Remove the current period's purchase-stage events of a random ``share`` of its cart customers."""
    cur = ev["ts"] >= CURRENT[0]
    carts = np.sort(ev.loc[cur & (ev["stage"] == "cart"), "customer_id"].unique())
    hit = set(np.random.default_rng(seed).choice(carts, int(round(share * len(carts))), replace=False))
    drop = cur & (ev["stage"] == "purchase") & ev["customer_id"].isin(hit)
    return ev[~drop].reset_index(drop=True)


CART = "conversion from cart to purchase"


# --------------------------------------------------------------------------- planted change
@pytest.fixture(scope="module")
def planted():
    base = null_log(7, 3000)
    before = compare_periods(base, current=CURRENT, previous=PREVIOUS, n_boot=200)
    after = compare_periods(plant_drop(base, 0.5, 7), current=CURRENT, previous=PREVIOUS, n_boot=200)
    return before, after


def test_planted_conversion_change_is_detected(planted):
    before, after = planted
    s0 = before.summary.set_index("figure")
    s1 = after.summary.set_index("figure")
    # unmodified: the cart step has one conversion rate in both periods; planted: half of it now
    pooled = ((s0.loc[CART, "previous"] * s0.loc[CART, "n_previous"] + s0.loc[CART, "current"] * s0.loc[CART, "n_current"])
              / (s0.loc[CART, "n_previous"] + s0.loc[CART, "n_current"]))
    planted_change = -0.5 * pooled
    row = s1.loc[CART]
    assert row["changed"] and row["p_adjusted"] < 0.001
    assert row["ci_low"] <= planted_change <= row["ci_high"]
    assert row["change"] < 0
    # the previous period is untouched
    assert row["previous"] == s0.loc[CART, "previous"] and row["n_previous"] == s0.loc[CART, "n_previous"]
    # the stages before the cart are not flagged
    for f in ("conversion from awareness to consideration", "conversion from consideration to cart"):
        assert not s1.loc[f, "changed"]
    # the report lists it, biggest first
    assert after.changes["figure"].iloc[0] == CART
    assert after.any_changed and not before.any_changed
    text = after.findings[1].text
    assert text.startswith("Conversion from cart to purchase fell from") and "after correcting for" in text
    assert after.findings[1].value == pytest.approx(row["change"])


def test_result_protocol(planted):
    _, after = planted
    assert isinstance(after, PeriodComparison)
    s = after.summary
    assert list(s.columns) == ["figure", "kind", "unit", "previous", "current", "change", "ci_low", "ci_high",
                               "relative_change", "test", "statistic", "pvalue", "p_adjusted", "changed",
                               "n_previous", "n_current"]
    s.loc[:, "changed"] = True
    assert not after.summary["changed"].all()  # a copy
    assert set(after.summary["kind"]) == {"stage conversion", "time between stages", "touchpoint mix",
                                          "retention", "revenue per customer"}
    # Holm: adjusted p-values are at least the raw ones and monotone in the raw order
    t = after.summary.sort_values("pvalue")
    assert (t["p_adjusted"] >= t["pvalue"] - 1e-15).all()
    assert t["p_adjusted"].is_monotonic_increasing
    assert {c.name for c in after.checks} >= {"period sizes", "multiple comparisons"}
    assert after.plot().get_xlabel() == "change from the previous period (% of the previous value)"
    assert "<table" in after._repr_html_()


# --------------------------------------------------------------------------- error rate
def test_false_changes_stay_at_the_error_rate():
    """40 exchangeable period pairs (events and feedback): Holm keeps the chance of any false flag at or
    below 5%, with NPS and satisfaction in the family."""
    reps, alpha = 40, 0.05
    any_flag, flags, tested, raw_small = 0, 0, 0, 0
    for seed in range(reps):
        ev, fb = null_tables(100 + seed, 500)
        s = compare_periods(ev, current=CURRENT, previous=PREVIOUS, n_boot=50, feedback=fb).summary
        assert {"NPS", "satisfaction"} <= set(s["kind"])
        tested_now = int(s["pvalue"].notna().sum())
        assert tested_now >= 17
        flags += int(s["changed"].sum())
        any_flag += bool(s["changed"].any())
        tested += tested_now
        raw_small += int((s["pvalue"] < alpha).sum())
    # binomial allowance: the 99.9% quantile of the count if the rate were exactly alpha
    assert any_flag <= stats.binom.ppf(0.999, reps, alpha)
    assert flags / tested <= stats.binom.ppf(0.999, tested, alpha) / tested
    # the single tests are calibrated too (unadjusted p < 5% about 5% of the time among unchanged figures)
    assert raw_small / tested <= stats.binom.ppf(0.999, tested, alpha) / tested


UNAFFECTED = ("conversion from awareness to consideration", "conversion from consideration to cart",
              "median days from awareness to consideration", "median days from consideration to cart",
              "Net Promoter Score", "satisfaction (mean survey score)")
"""Figures a drop of purchases after the cart cannot move: the steps before the cart, NPS and satisfaction
(the feedback is untouched). Stages after the cart, retention, revenue and channel reach (purchases carry a
channel) do move."""


def test_planted_change_found_and_no_false_change_elsewhere_over_repeated_simulations():
    """30 simulated logs, each with one planted change (60% of the current period's cart customers lose their
    purchases): the change is flagged in nearly every run, and the share of runs flagging any of the unmoved
    figures stays within the error rate (Holm controls it for any set of unchanged figures)."""
    reps, alpha = 30, 0.05
    found, false_any = 0, 0
    for seed in range(reps):
        ev, fb = null_tables(200 + seed, 1500)
        s = compare_periods(plant_drop(ev, 0.6, seed), current=CURRENT, previous=PREVIOUS, n_boot=50,
                            feedback=fb).summary.set_index("figure")
        found += bool(s.loc[CART, "changed"] and s.loc[CART, "change"] < 0)
        false_any += bool(s.loc[list(UNAFFECTED), "changed"].any())
    # power: with ~150 cart customers a period and the conversion halved, nearly every run finds it
    assert found >= 0.8 * reps
    assert false_any <= stats.binom.ppf(0.999, reps, alpha)


# --------------------------------------------------------------------------- NPS and satisfaction
def nps_answers(mix: tuple[float, float, float], n: int, start: pd.Timestamp, days: int, seed: int,
                prefix: str) -> pd.DataFrame:
    """``n`` NPS answers drawn from a planted (promoters, passives, detractors) mix, spread over ``days``."""
    rng = np.random.default_rng(seed)
    cat = rng.choice(3, n, p=mix)
    score = np.where(cat == 0, rng.integers(9, 11, n), np.where(cat == 1, rng.integers(7, 9, n),
                                                                  rng.integers(0, 7, n))).astype(float)
    ts = start + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    return pd.DataFrame({"customer_id": [f"{prefix}{i}" for i in range(n)], "ts": ts, "kind": "nps", "score": score})


def nps_by_hand(scores: np.ndarray) -> tuple[float, float]:
    """NPS and its multinomial standard error, in points, written out independently of the kit."""
    p, d = np.mean(scores >= 9), np.mean(scores <= 6)
    return 100 * (p - d), 100 * np.sqrt((p + d - (p - d) ** 2) / len(scores))


@pytest.mark.parametrize("first, second", [((60, 25, 15), (45, 30, 25)), ((9, 1, 0), (3, 3, 4)),
                                           ((5, 0, 0), (0, 2, 3))])
def test_nps_difference_test_matches_the_formula(first, second):
    a = np.repeat([10.0, 8.0, 3.0], first)
    b = np.repeat([10.0, 8.0, 3.0], second)
    (n1, se1), (n0, se0) = nps_by_hand(a), nps_by_hand(b)
    se = np.hypot(se1, se0)
    v1, v0, z, p, lo, hi = nps_difference_test(first, second, 0.9)
    assert (v1, v0) == (pytest.approx(n1), pytest.approx(n0))
    assert z == pytest.approx((n1 - n0) / se) and p == pytest.approx(2 * stats.norm.sf(abs(n1 - n0) / se))
    # (9, 1, 0): the kit's 95% NPS interval is clipped at +100; the test still uses the full standard error
    assert (lo, hi) == (pytest.approx(n1 - n0 - stats.norm.ppf(0.95) * se),
                        pytest.approx(n1 - n0 + stats.norm.ppf(0.95) * se))
    nan = nps_difference_test((0, 0, 0), second)
    assert np.isnan(nan[0]) and np.isnan(nan[2]) and np.isnan(nan[3])


def test_nps_difference_test_is_calibrated():
    """Planted multinomial mixes: the interval covers the planted difference ~95% of the time and the test
    rejects ~5% of the time when the two mixes are equal (binomial allowances)."""
    rng = np.random.default_rng(5)
    reps, n = 400, 150
    a_mix, b_mix = np.array([0.45, 0.30, 0.25]), np.array([0.30, 0.30, 0.40])  # NPS +20 and -10
    covered, rejected = 0, 0
    for _ in range(reps):
        _, _, _, _, lo, hi = nps_difference_test(rng.multinomial(n, a_mix), rng.multinomial(n, b_mix))
        covered += lo <= 30 <= hi
        rejected += nps_difference_test(rng.multinomial(n, a_mix), rng.multinomial(n, a_mix))[3] < 0.05
    assert stats.binom.ppf(0.001, reps, 0.95) <= covered <= stats.binom.ppf(0.999, reps, 0.95)
    assert rejected <= stats.binom.ppf(0.999, reps, 0.05)


@pytest.fixture(scope="module")
def feedback_periods():
    """The tiny log's two periods with planted feedback: NPS +20 before and -10 now (300 answers each);
    survey scores 1-5 with means of 3.5 and 3.0 (fewer answers)."""
    prev = nps_answers((0.45, 0.30, 0.25), 300, pd.Timestamp("2024-01-01", tz="UTC"), 10, 1, "p")
    cur = nps_answers((0.30, 0.30, 0.40), 300, pd.Timestamp("2024-01-11", tz="UTC"), 10, 2, "c")
    rng = np.random.default_rng(3)
    survey = pd.DataFrame({"customer_id": [f"s{i}" for i in range(80)], "kind": "survey",
                           "ts": [pd.Timestamp("2024-01-02", tz="UTC")] * 40 + [pd.Timestamp("2024-01-12", tz="UTC")] * 40,
                           "score": np.r_[rng.choice([3.0, 4.0], 40), rng.choice([2.0, 3.0, 4.0], 40)]})
    late = pd.DataFrame({"customer_id": ["x"], "ts": [pd.Timestamp("2024-02-01", tz="UTC")], "kind": "nps",
                         "score": [0.0]})  # after the current period: not counted
    fb = pd.concat([prev, cur, survey, late], ignore_index=True)
    res = compare_periods(tiny_log(), current=TINY_CURRENT, previous=TINY_PREVIOUS, stages=["a", "b", "c"],
                          n_boot=50, feedback=fb)
    return fb, res


def test_planted_nps_change_between_periods(feedback_periods):
    fb, res = feedback_periods
    row = res.summary.set_index("figure").loc["Net Promoter Score"]
    a = fb.loc[(fb["kind"] == "nps") & fb["customer_id"].str.startswith("c"), "score"].to_numpy()
    b = fb.loc[(fb["kind"] == "nps") & fb["customer_id"].str.startswith("p"), "score"].to_numpy()
    (n1, se1), (n0, se0) = nps_by_hand(a), nps_by_hand(b)
    assert (row["kind"], row["unit"], row["n_current"], row["n_previous"]) == ("NPS", "points", 300, 300)
    assert (row["current"], row["previous"]) == (pytest.approx(n1), pytest.approx(n0))
    assert row["statistic"] == pytest.approx((n1 - n0) / np.hypot(se1, se0))
    assert row["ci_low"] <= -30 <= row["ci_high"]  # the planted change: +20 to -10
    assert row["changed"] and row["p_adjusted"] < 0.01
    text = next(f.text for f in res.findings if f.text.startswith("Net Promoter Score"))
    assert text.startswith(f"Net Promoter Score fell from {n0:+.0f} to {n1:+.0f} ({n1 - n0:+.1f} points, ")
    checks = {c.name: c for c in res.checks}
    assert checks["NPS answers per period"].status == "pass"
    assert checks["survey answers per period"].status == "warn"  # 40 answers a period


def test_satisfaction_between_periods_is_welch(feedback_periods):
    fb, res = feedback_periods
    row = res.summary.set_index("figure").loc["satisfaction (mean survey score)"]
    sv = fb[fb["kind"] == "survey"]
    cur = sv.loc[sv["ts"] >= pd.Timestamp("2024-01-11", tz="UTC"), "score"]
    prev = sv.loc[sv["ts"] < pd.Timestamp("2024-01-11", tz="UTC"), "score"]
    w = stats.ttest_ind(cur, prev, equal_var=False)
    assert (row["statistic"], row["pvalue"]) == (pytest.approx(w.statistic), pytest.approx(w.pvalue))
    assert (row["ci_low"], row["ci_high"]) == tuple(pytest.approx(x) for x in w.confidence_interval(0.95))
    assert (row["current"], row["previous"]) == (pytest.approx(cur.mean()), pytest.approx(prev.mean()))
    # both are in the one family: Holm over every tested figure
    from statsmodels.stats.multitest import multipletests

    s = res.summary[res.summary["pvalue"].notna()]
    assert s["p_adjusted"].to_numpy() == pytest.approx(multipletests(s["pvalue"].to_numpy(), method="holm")[1])


def test_without_feedback_nothing_changes(feedback_periods):
    _, res = feedback_periods
    plain = compare_periods(tiny_log(), current=TINY_CURRENT, previous=TINY_PREVIOUS, stages=["a", "b", "c"],
                            n_boot=50).summary
    assert not {"NPS", "satisfaction"} & set(plain["kind"])
    both = res.summary.set_index("figure").loc[plain["figure"]]
    for col in ("previous", "current", "statistic", "pvalue", "n_previous", "n_current"):
        assert both[col].to_numpy() == pytest.approx(plain[col].to_numpy(), nan_ok=True)


def test_feedback_without_its_columns_is_a_data_error():
    with pytest.raises(JourneyDataError) as err:
        compare_periods(tiny_log(), current=TINY_CURRENT, previous=TINY_PREVIOUS, stages=["a", "b", "c"],
                        feedback=pd.DataFrame({"customer_id": ["a"], "score": [9.0]}))
    assert "feedback: missing column(s) ['ts', 'kind']" in str(err.value)


# --------------------------------------------------------------------------- every statistic, by hand
def tiny_log() -> pd.DataFrame:
    day = pd.Timestamp("2024-01-01", tz="UTC")

    def at(d, h=0):
        return day + pd.Timedelta(days=d - 1, hours=h)

    rows = [  # customer, day, hour, event, stage, channel, revenue
        ("P1", at(-6), "landing", "a", "search", None),  # before the previous period: ignored
        ("P1", at(1), "landing", "a", "search", None), ("P1", at(2), "view", "b", "email", None),
        ("P1", at(4), "purchase", "c", "search", 10.0),
        ("P2", at(1), "landing", "a", "search", None), ("P2", at(3), "view", "b", "search", None),
        ("P3", at(2), "landing", "a", "social", None),
        ("P3", at(3), "winback_sent", None, "email", None),  # outbound: not the customer's touch
        ("P4", at(2), "view", "b", "email", None), ("P4", at(3), "purchase", "c", "search", 20.0),
        ("P4", at(6), "purchase", "c", None, 5.0),
        ("P5", at(3), "landing", "a", "search", None), ("P5", at(8), "view", "b", "direct", None),
        ("C1", at(11), "landing", "a", "search", None), ("C1", at(12), "view", "b", "email", None),
        ("C1", at(13), "purchase", "c", "search", 30.0),
        ("C2", at(11), "landing", "a", "social", None),
        ("C3", at(12), "landing", "a", "social", None), ("C3", at(16), "view", "b", "email", None),
        ("C4", at(12), "view", "b", "search", None), ("C4", at(12, 12), "purchase", "c", "search", 15.0),
        ("C4", at(14), "purchase", "c", None, 25.0),
        ("C5", at(13), "view", "b", "email", None),
        ("C6", at(14), "landing", "a", "direct", None), ("C6", at(14, 6), "view", "b", "direct", None),
        ("C6", at(20), "purchase", "c", "direct", 40.0),
        ("C6", at(25), "landing", "a", "direct", None),  # after the current period: ignored
    ]
    return pd.DataFrame(rows, columns=["customer_id", "ts", "event", "stage", "channel", "revenue"])


TINY_PREVIOUS = ("2024-01-01", "2024-01-11")
TINY_CURRENT = ("2024-01-11", "2024-01-21")


@pytest.fixture(scope="module")
def tiny():
    return compare_periods(tiny_log(), current=TINY_CURRENT, previous=TINY_PREVIOUS, stages=["a", "b", "c"],
                           n_boot=200).summary.set_index("figure")


def test_tiny_stage_conversion_matches_statsmodels(tiny):
    # a -> b: previous P1, P2, P3, P5 at a, three go on; current C1, C2, C3, C6, three go on
    # b -> c: previous P1, P2, P4, P5 at b, P1 and P4 go on; current C1, C3, C4, C5, C6, C1, C4, C6 go on
    for fig, (k1, n1, k0, n0) in {"conversion from a to b": (3, 4, 3, 4),
                                  "conversion from b to c": (3, 5, 2, 4)}.items():
        row = tiny.loc[fig]
        assert (row["n_current"], row["n_previous"]) == (n1, n0)
        assert row["current"] == pytest.approx(k1 / n1) and row["previous"] == pytest.approx(k0 / n0)
        p = (k1 + k0) / (n1 + n0)
        z = (k1 / n1 - k0 / n0) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
        assert row["statistic"] == pytest.approx(z, abs=1e-12)
        assert row["pvalue"] == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-12)
        assert row["statistic"] == pytest.approx(proportions_ztest([k1, k0], [n1, n0])[0])
        lo, hi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff")
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))


def test_tiny_time_between_stages_matches_scipy(tiny):
    for fig, (cur, prev) in {"median days from a to b": ([1.0, 4.0, 0.25], [1.0, 2.0, 5.0]),
                             "median days from b to c": ([1.0, 0.5, 5.75], [2.0, 1.0])}.items():
        row = tiny.loc[fig]
        res = stats.mannwhitneyu(cur, prev, alternative="two-sided")
        assert row["statistic"] == pytest.approx(res.statistic) and row["pvalue"] == pytest.approx(res.pvalue)
        assert row["current"] == pytest.approx(np.median(cur)) and row["previous"] == pytest.approx(np.median(prev))
        assert row["ci_low"] <= row["change"] <= row["ci_high"]


def test_days_between_stages_match_a_scan_of_each_customer():
    """Customers who are at the next stage before the step's stage, and again after it, count from their
    first time at the step's stage to the first time at the next one after it (read per customer here)."""
    rng = np.random.default_rng(7)
    n, stages = 4000, ["a", "b", "c", "d"]
    ev = pd.DataFrame({"customer_id": rng.integers(0, 300, n).astype(str), "event": "e",
                       "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 20 * 1440, n),
                                                                                    unit="min"),
                       "stage": rng.choice(stages + ["x"], n)})
    periods = {"previous": (pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-11", tz="UTC")),
               "current": (pd.Timestamp("2024-01-11", tz="UTC"), pd.Timestamp("2024-01-21", tz="UTC"))}
    res = compare_periods(ev, stages=stages, n_boot=50, **periods).summary.set_index("figure")
    went_back = 0
    for k in range(len(stages) - 1):
        days = {}
        for name, (start, end) in periods.items():
            p = ev[(ev["ts"] >= start) & (ev["ts"] < end)]
            out = []
            for _, c in p.groupby("customer_id"):
                here, there = c.loc[c["stage"] == stages[k], "ts"], c.loc[c["stage"] == stages[k + 1], "ts"]
                if len(here) and (there >= here.min()).any():
                    out.append((there[there >= here.min()].min() - here.min()) / pd.Timedelta(days=1))
                    went_back += bool((there < here.min()).any())
            days[name] = np.array(out)
        row = res.loc[f"median days from {stages[k]} to {stages[k + 1]}"]
        assert (row["n_current"], row["n_previous"]) == (len(days["current"]), len(days["previous"]))
        assert row["current"] == pytest.approx(np.median(days["current"]), rel=1e-12)
        assert row["previous"] == pytest.approx(np.median(days["previous"]), rel=1e-12)
        u = stats.mannwhitneyu(days["current"], days["previous"], alternative="two-sided")
        assert row["statistic"] == pytest.approx(u.statistic) and row["pvalue"] == pytest.approx(u.pvalue)
    assert went_back > 100  # the case the events are looked up for is well represented


def test_tiny_touchpoint_mix_matches_chi_square(tiny):
    # active customers: 5 previous, 6 current; customers reached per channel (the win-back send left out)
    for channel, (k1, k0) in {"search": (2, 4), "email": (3, 2), "social": (2, 1), "direct": (1, 1)}.items():
        row = tiny.loc[f"customers reached through {channel}"]
        chi2, p = stats.chi2_contingency([[k1, 6 - k1], [k0, 5 - k0]], correction=False)[:2]
        assert row["test"] == "chi-square"
        assert row["statistic"] == pytest.approx(chi2) and row["pvalue"] == pytest.approx(p)
        assert row["current"] == pytest.approx(k1 / 6) and row["previous"] == pytest.approx(k0 / 5)


def test_tiny_retention_matches_lifelines(tiny):
    # buyers: previous P1 (no second order, censored 7 days later at the period end), P4 (again after 3 days);
    # current C1 (censored after 8 days), C4 (again after 1.5 days), C6 (censored after 1 day)
    row = tiny.loc["buyers buying again within 30 days"]
    res = logrank_test([8.0, 1.5, 1.0], [7.0, 3.0], event_observed_A=[0, 1, 0], event_observed_B=[0, 1])
    assert row["statistic"] == pytest.approx(res.test_statistic) and row["pvalue"] == pytest.approx(res.p_value)
    assert row["current"] == pytest.approx(0.5) and row["previous"] == pytest.approx(0.5)
    assert (row["n_current"], row["n_previous"]) == (3, 2)


def test_tiny_revenue_matches_welch(tiny):
    cur, prev = [30.0, 0, 0, 40.0, 0, 40.0], [10.0, 0, 0, 25.0, 0]
    row = tiny.loc["revenue per active customer"]
    res = stats.ttest_ind(cur, prev, equal_var=False)
    assert row["statistic"] == pytest.approx(res.statistic) and row["pvalue"] == pytest.approx(res.pvalue)
    lo, hi = res.confidence_interval(0.95)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert row["current"] == pytest.approx(np.mean(cur)) and row["previous"] == pytest.approx(np.mean(prev))


def test_tiny_holm_across_all_figures(tiny):
    from statsmodels.stats.multitest import multipletests

    ok = tiny["pvalue"].notna()
    assert tiny.loc[ok, "p_adjusted"].to_numpy() == pytest.approx(
        multipletests(tiny.loc[ok, "pvalue"].to_numpy(), method="holm")[1])


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjust_pvalues_matches_statsmodels(method):
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, np.nan, 0.04, 0.03, 0.005, 0.2, 0.04, 0.9])
    got = adjust_pvalues(p, method)
    ok = ~np.isnan(p)
    assert np.isnan(got[~ok]).all()
    assert got[ok] == pytest.approx(multipletests(p[ok], method=method)[1])


def test_km_share_matches_lifelines():
    from lifelines import KaplanMeierFitter

    d = np.array([1, 2, 2, 3, 5, 8, 8, 9.0])
    e = np.array([1, 1, 0, 1, 0, 1, 0, 1], bool)
    s, se = km_share(d, e, 6)
    k = KaplanMeierFitter().fit(d, e)
    assert s == pytest.approx(float(k.survival_function_at_times(6).iloc[0]))
    # Greenwood by hand: events at 1 (8 at risk), 2 (7), 3 (5)
    assert se == pytest.approx(s * np.sqrt(1 / (8 * 7) + 1 / (7 * 6) + 1 / (5 * 4)))


def test_default_periods_are_the_last_days():
    ev = tiny_log()
    r = compare_periods(ev, period_days=10, stages=["a", "b", "c"], n_boot=50)
    end = pd.Timestamp("2024-01-26", tz="UTC")  # midnight after the last event (2024-01-25)
    assert r.current == (end - pd.Timedelta(days=10), end)
    assert r.previous == (end - pd.Timedelta(days=20), end - pd.Timedelta(days=10))


@pytest.mark.parametrize("kwargs, message", [
    ({"previous": TINY_PREVIOUS}, "previous is given without current"),
    ({"current": TINY_CURRENT, "previous": ("2024-01-05", "2024-01-15")}, "overlaps"),
    ({"current": ("2024-01-11",)}, "expected a pair (start, end)"),
    ({"current": ("2024-01-21", "2024-01-11")}, "the start must come before the end"),
    ({"method": "bonferroni"}, "expected one of ['holm', 'fdr_bh']"),
    ({"alpha": 1.5}, "alpha=1.5"),
    ({"period_days": 0}, "period_days=0"),
])
def test_parameter_errors(kwargs, message):
    with pytest.raises(JourneyParameterError) as err:
        compare_periods(tiny_log(), stages=["a", "b", "c"], **kwargs)
    assert message in str(err.value)


def test_no_events_in_either_period():
    with pytest.raises(JourneyDataError) as err:
        compare_periods(tiny_log(), current=("2023-01-11", "2023-01-21"), stages=["a", "b", "c"])
    assert "no customer event in the previous (2023-01-01 to 2023-01-10) and the current (2023-01-11 to " \
           "2023-01-20) period" in str(err.value)
    with pytest.raises(JourneyDataError) as err:
        compare_periods(tiny_log(), current=("2024-01-11", "2024-01-21"), previous=("2023-01-01", "2023-01-11"),
                        stages=["a", "b", "c"])
    assert "no customer event in the previous (2023-01-01 to 2023-01-10) period" in str(err.value)


# --------------------------------------------------------------------------- segments
@pytest.fixture(scope="module")
def segment_data():
    d = simulate_journeys(2000, seed=11, months=10)
    ev, cu = d.events, d.customers
    budget = set(cu.loc[cu["segment"] == "budget", "customer_id"])
    rng = np.random.default_rng(3)
    hit = {c for c in sorted(budget) if rng.random() < 0.6}
    ev = ev[~((ev["stage"] == "purchase") & ev["customer_id"].isin(hit))].reset_index(drop=True)
    return ev, cu, compare_segments(ev, cu, "segment", churn_after=60, retention_days=120)


def test_planted_segment_difference_is_detected(segment_data):
    _, _, res = segment_data
    assert isinstance(res, SegmentComparison)
    s = res.summary.set_index(["figure", "segment"])
    row = s.loc[(CART, "budget")]
    assert row["significant"] and row["difference"] < 0
    assert res.differences.iloc[0]["segment"] == "budget"
    assert not s.loc[("conversion from awareness to consideration", "budget"), "significant"]
    assert res.findings[1].text.startswith("Segment budget: conversion from cart to purchase is")


def test_segment_statistics_match_independent_computation(segment_data):
    ev, cu, res = segment_data
    s = res.summary.set_index(["figure", "segment"])
    seg = cu.set_index("customer_id")["segment"]
    own = ev[ev["event"] != "winback_sent"].assign(segment=lambda x: x["customer_id"].map(seg))
    # cart -> purchase: customers ever at cart, and whether a purchase-stage event follows their first cart
    first_cart = own[own["stage"] == "cart"].groupby("customer_id")["ts"].min()
    last_buy = own[own["stage"] == "purchase"].groupby("customer_id")["ts"].max()
    conv = (last_buy.reindex(first_cart.index) >= first_cart).astype(int)
    inseg = conv.index.map(seg) == "budget"
    k1, n1, k0, n0 = conv[inseg].sum(), inseg.sum(), conv[~inseg].sum(), (~inseg).sum()
    row = s.loc[(CART, "budget")]
    assert (row["n_segment"], row["n_rest"]) == (n1, n0)
    assert row["statistic"] == pytest.approx(proportions_ztest([k1, k0], [n1, n0])[0])
    # revenue per active customer: Welch
    rev = own.groupby("customer_id")["revenue"].sum()
    rb = rev[rev.index.map(seg) == "budget"]
    rr = rev[rev.index.map(seg) != "budget"]
    w = stats.ttest_ind(rb, rr, equal_var=False)
    row = s.loc[("revenue per customer", "budget")]
    assert row["statistic"] == pytest.approx(w.statistic) and row["pvalue"] == pytest.approx(w.pvalue)
    # retention: log-rank on the kit's churn labels
    lab = churn_labels(ev, churn_after=60)
    b = lab["customer_id"].map(seg) == "budget"
    lr = logrank_test(lab.loc[b, "duration"], lab.loc[~b, "duration"], event_observed_A=lab.loc[b, "churned"],
                      event_observed_B=lab.loc[~b, "churned"])
    row = s.loc[("still active after 120 days", "budget")]
    assert row["statistic"] == pytest.approx(lr.test_statistic) and row["pvalue"] == pytest.approx(lr.p_value)


def test_revenue_per_customer_counts_orders_only(segment_data):
    """A clickstream export carries the item's price on product views and carts too: revenue per customer is
    still the orders' revenue (the same Welch test as without those prices), in the segment comparison, the
    period comparison and the data summary."""
    from journeylib.journeys.overview import data_summary

    ev, cu, res = segment_data
    priced = ev.copy()
    views = priced["event"].isin(["product_view", "add_to_cart"])
    priced.loc[views, "revenue"] = 49.0
    again = compare_segments(priced, cu, "segment", churn_after=60, retention_days=120)
    a = res.summary.set_index(["figure", "segment"]).loc[("revenue per customer", "budget")]
    b = again.summary.set_index(["figure", "segment"]).loc[("revenue per customer", "budget")]
    assert views.sum() > 1000 and (b["value"], b["statistic"]) == pytest.approx((a["value"], a["statistic"]))
    assert again.persona["revenue_per_customer"].tolist() == pytest.approx(res.persona["revenue_per_customer"].tolist())
    orders = ev.loc[ev["event"] == "purchase", "revenue"].sum()
    summary = data_summary(priced).set_index("measure")["value"]
    assert summary["revenue"] == f"{orders:,.2f}"
    mid = ev["ts"].min() + (ev["ts"].max() - ev["ts"].min()) / 2
    kw = dict(current=(mid, ev["ts"].max() + pd.Timedelta(seconds=1)))
    p0, p1 = compare_periods(ev, **kw), compare_periods(priced, **kw)
    r0 = p0.summary.set_index("figure").loc["revenue per active customer"]
    r1 = p1.summary.set_index("figure").loc["revenue per active customer"]
    assert (r1["current"], r1["statistic"]) == pytest.approx((r0["current"], r0["statistic"]))


def test_persona_table(segment_data):
    ev, cu, res = segment_data
    p = res.persona.set_index("segment")
    assert set(p.index) == {"budget", "premium", "standard"}
    active = pd.Series(ev.loc[ev["event"] != "winback_sent", "customer_id"].unique())
    counts = active.map(cu.set_index("customer_id")["segment"]).value_counts()
    assert p["customers"].to_dict() == counts.reindex(p.index).to_dict()
    assert p["share_of_customers"].sum() == pytest.approx(1)
    assert all(len(c.split(", ")) == 2 for c in p["top_channels"])
    assert p.loc["budget", "buyers_share"] < p.loc["standard", "buyers_share"]
    assert p.loc["budget", "description"].startswith("Mostly reached through ")


def test_segment_errors():
    ev = tiny_log()
    cu = pd.DataFrame({"customer_id": ev["customer_id"].unique(), "segment": "one"})
    with pytest.raises(JourneyDataError, match="expected at least two to compare"):
        compare_segments(ev, cu, "segment", stages=["a", "b", "c"])
    with pytest.raises(JourneyParameterError, match="not a column of customers"):
        compare_segments(ev, cu, "tier", stages=["a", "b", "c"])


# --------------------------------------------------------------------------- segments: NPS and satisfaction
@pytest.fixture(scope="module")
def sample_segments():
    import journeylib as jl

    ds = jl.load_dataset("sample")
    res = compare_segments(ds.events, ds.customers, "segment", feedback=ds.feedback)
    fb = ds.feedback.to_pandas()
    seg = ds.customers.to_pandas().set_index("customer_id")["segment"]
    return ds, fb.assign(segment=fb["customer_id"].map(seg).fillna("(missing)")), res


def test_segment_nps_recovers_the_planted_scores(sample_segments):
    ds, fb, res = sample_segments
    planted = ds.ground_truth["feedback"]["nps"]["by_segment"]  # standard +20, premium +45, budget -10
    answers = fb[fb["kind"] == "nps"]
    rows = res.summary[res.summary["kind"] == "NPS"].set_index("segment")
    assert set(rows.index) == {"budget", "premium", "standard"}
    for s, r in rows.iterrows():
        mine, rest = answers[answers["segment"] == s], answers[answers["segment"] != s]
        (v1, se1), (v0, se0) = nps_by_hand(mine["score"].to_numpy()), nps_by_hand(rest["score"].to_numpy())
        assert (r["value"], r["rest"], r["n_segment"], r["n_rest"]) == (
            pytest.approx(v1), pytest.approx(v0), len(mine), len(rest))
        assert r["statistic"] == pytest.approx((v1 - v0) / np.hypot(se1, se0))
        # planted: the segment's NPS against the rest's, the rest weighted by its answers per segment
        counts = rest["segment"].value_counts()
        rest_planted = sum(planted[g] * n for g, n in counts.items()) / counts.sum()
        assert r["ci_low"] <= planted[s] - rest_planted <= r["ci_high"]
    # premium is planted 25 points above standard and 55 above budget: found after the correction
    assert rows.loc["premium", "significant"] and rows.loc["premium", "difference"] > 0
    p = res.persona.set_index("segment")
    assert p["nps"].to_dict() == pytest.approx(rows["value"].to_dict())
    assert "NPS +50" in p.loc["premium", "description"]


def test_segment_satisfaction_is_welch_on_survey_answers(sample_segments):
    _, fb, res = sample_segments
    survey = fb[fb["kind"] == "survey"]
    rows = res.summary[res.summary["kind"] == "satisfaction"].set_index("segment")
    for s, r in rows.iterrows():
        a, b = survey.loc[survey["segment"] == s, "score"], survey.loc[survey["segment"] != s, "score"]
        w = stats.ttest_ind(a, b, equal_var=False)
        assert (r["statistic"], r["pvalue"]) == (pytest.approx(w.statistic), pytest.approx(w.pvalue))
        assert (r["value"], r["rest"]) == (pytest.approx(a.mean()), pytest.approx(b.mean()))
    assert res.persona.set_index("segment")["satisfaction"].to_dict() == pytest.approx(rows["value"].to_dict())
    # one family: Holm over every segment and figure, NPS and satisfaction included
    from statsmodels.stats.multitest import multipletests

    s = res.summary[res.summary["pvalue"].notna()]
    assert s["p_adjusted"].to_numpy() == pytest.approx(multipletests(s["pvalue"].to_numpy(), method="holm")[1])
    checks = {c.name: c for c in res.checks}
    assert checks["NPS answers per segment"].status == "warn"  # budget and premium have fewer than 100
    assert "budget, premium" in checks["NPS answers per segment"].detail


def test_segments_without_feedback_have_no_nps(segment_data):
    _, _, res = segment_data
    assert not {"NPS", "satisfaction"} & set(res.summary["kind"])
    assert res.persona["nps"].isna().all() and res.persona["satisfaction"].isna().all()
    assert "NPS" not in res.persona["description"].iloc[0]


@pytest.mark.parametrize("n", [1, 2, 5, 10, 101, 400])
def test_bootstrap_medians_have_the_distribution_resampling_gives(n):
    from journeylib.journeys.compare import bootstrap_medians

    rng = np.random.default_rng(n)
    x = np.round(rng.exponential(5, n), 1)  # ties, as days between stages have
    fast = bootstrap_medians(x, 20_000, np.random.default_rng(1))
    slow = np.median(x[np.random.default_rng(2).integers(0, n, (20_000, n))], axis=1)
    assert stats.ks_2samp(fast, slow).pvalue > 0.001
    assert np.allclose(np.quantile(fast, [0.025, 0.5, 0.975]), np.quantile(slow, [0.025, 0.5, 0.975]),
                       atol=0.05 * max(x.std(), 1e-9) + 1e-9)


# --------------------------------------------------------------------------- issue 26: grouped in the engine
# Values of the sample computed by the per-customer implementation before issue 26 (pandas step frame,
# lifelines on per-customer churn labels, a Python map over every customer): the engine-grouped one
# must give them to floating-point noise.
OLD_SEGMENT_STATISTICS = [
    -1.1144143930691313, -0.9997583203804998, 0.050131046574052804, -2.0668832949053217, -2.6751156101648648,
    -1.9602163824144478, 0.45458359840049445, 0.41728089039090827, -0.5404700757699215, 0.13469002582165046,
    1.8136640665691153, 0.8893610170115598, 0.39049306194238687, 0.3324305534422665, 0.4520830327671364,
    1.324565933978221, 0.18402890545665554, 0.3961130459878422, 10.744408420051007, 2.680675036140635,
    0.6711960788682015, -3.1586964226868783, 4.0985626592559035, -1.1464453677488256, 1.3640870041244564,
    1.66772579355329, -2.4239275444663475]
OLD_SEGMENT_VALUES = [
    0.6187845303867403, 0.5669642857142857, 0.6730769230769231, 0.7542857142857143, 0.3787878787878788,
    60.001243093922675, 0.642369020501139, 0.5945626477541371, 0.6620825147347741, 0.8136094674556213,
    0.5345454545454545, 81.38069855732724, 0.6394052044609665, 0.5909090909090909, 0.6756993006993007,
    0.8228498074454429, 0.48985959438377535, 76.84833051706657, 0.1062895923922179, 0.19745029112954748,
    0.15883657478069085, -13.636363636363637, 50.0, 18.446601941747574, 3.6898608349900597, 3.6761412575366066,
    3.6035670855289825]
OLD_PERSONA = {"customers": [724, 1317, 2959],
               "buyers_share": [0.24171270718232044, 0.25664388762338647, 0.26326461642446775],
               "median_days_to_first_purchase": [4.342974537037037, 4.9612384259259255, 4.825625]}
OLD_PERIOD_STATISTICS = [
    -1.479727259127533, 551252.5, 2.297163571237174, 560456.0, -2.0395328692152637, 83859.0, 1.9523084894385638,
    42437.0, 1.0126968309525872, 35708.0, 4.085325960000866, 10.537685575874985, 5.903158142298567,
    6.050910758574886, 0.3593558521819008, 2.8248371137650463, 2.7697857834251995, 3.567402271742077,
    0.6741297077945357, 1.141933368779394]
OLD_PERIOD_CURRENT = [
    0.6172688303735456, 1.9707754629629628, 0.6920572916666666, 3.7549074074074076, 0.3789954337899543,
    0.4463888888888889, 0.7355769230769231, 16.582488425925924, 0.41357234314980795, 22.75943287037037,
    0.54922515952598, 0.43482224247948953, 0.5902461257976299, 0.43026435733819507, 0.6367365542388331,
    0.6103008204193254, 0.5622238812990425, 84.98048769371006, 25.806451612903224, 3.6538252848616386]


def test_segments_give_the_values_of_the_per_customer_implementation(sample_segments):
    _, _, res = sample_segments
    s = res.summary
    assert s["statistic"].to_numpy() == pytest.approx(OLD_SEGMENT_STATISTICS, rel=1e-9)
    assert s["value"].to_numpy() == pytest.approx(OLD_SEGMENT_VALUES, rel=1e-9)
    p = res.persona
    assert p["customers"].tolist() == OLD_PERSONA["customers"]
    for col in ("buyers_share", "median_days_to_first_purchase"):
        assert p[col].to_numpy() == pytest.approx(OLD_PERSONA[col], rel=1e-12)


def test_periods_give_the_values_of_the_per_customer_implementation():
    import journeylib as jl

    ds = jl.load_dataset("sample")
    res = compare_periods(ds.events, current=("2025-01-01", "2025-07-01"), previous=("2024-07-01", "2025-01-01"),
                          n_boot=200, feedback=ds.feedback)
    assert res.summary["statistic"].to_numpy() == pytest.approx(OLD_PERIOD_STATISTICS, rel=1e-9)
    assert res.summary["current"].to_numpy() == pytest.approx(OLD_PERIOD_CURRENT, rel=1e-9)


def test_segment_retention_is_lifelines_multivariate_logrank_on_customer_rows(sample_segments):
    """The log-rank and Kaplan-Meier figures come from counts per distinct lifetime in the engine; they
    equal lifelines' multivariate_logrank_test and km_share on one row per customer."""
    from lifelines.statistics import multivariate_logrank_test

    ds, _, res = sample_segments
    lab = churn_labels(ds.events, churn_after=60)
    seg = ds.customers.to_pandas().set_index("customer_id")["segment"]
    group = lab["customer_id"].map(seg).fillna("(missing)")
    rows = res.summary[res.summary["kind"] == "retention"].set_index("segment")
    assert set(rows.index) == {"budget", "premium", "standard"}
    for s, r in rows.iterrows():
        mine = (group == s).to_numpy()
        lr = multivariate_logrank_test(lab["duration"], np.where(mine, "segment", "rest"), lab["churned"])
        assert r["statistic"] == pytest.approx(lr.test_statistic, rel=1e-9)
        assert r["pvalue"] == pytest.approx(lr.p_value, rel=1e-9)
        d, e = lab["duration"].to_numpy(), lab["churned"].to_numpy()
        s1, se1 = km_share(d[mine], e[mine], 180)
        s0, se0 = km_share(d[~mine], e[~mine], 180)
        assert (r["value"], r["rest"]) == (pytest.approx(s1, rel=1e-12), pytest.approx(s0, rel=1e-12))
        half = stats.norm.ppf(0.975) * np.hypot(se1, se0)
        assert (r["ci_low"], r["ci_high"]) == (pytest.approx(s1 - s0 - half, rel=1e-9),
                                               pytest.approx(s1 - s0 + half, rel=1e-9))
        assert (r["n_segment"], r["n_rest"]) == (mine.sum(), (~mine).sum())


def test_segments_by_a_boolean_column_are_labelled_as_text():
    """A non-text split is labelled like feedback.customer_groups ('True', 'False', '(missing)'),
    by a join in the engine rather than a Python call per customer."""
    from journeylib.journeys.feedback import customer_groups

    ev = tiny_log()
    ids = sorted(ev["customer_id"].unique())
    cu = pd.DataFrame({"customer_id": ids, "member": [True, False] * (len(ids) // 2) + [None] * (len(ids) % 2)})
    cu["member"] = cu["member"].astype("boolean")
    res = compare_segments(ev, cu, "member", stages=["a", "b", "c"])
    groups = customer_groups(cu, "member")
    assert res.persona["segment"].tolist() == sorted(set(groups))
    counts = groups.value_counts()
    assert res.persona.set_index("segment")["customers"].to_dict() == counts.to_dict()


def test_comparisons_fetch_grouped_rows_not_the_log(monkeypatch):
    """Every query of the comparisons returns grouped rows: at most one per customer, never one per event
    (a scalar taken with select() instead of aggregate() fetched the whole log)."""
    import journeylib as jl
    from journeylib.core import engine

    j = jl.load_journey("sample")
    n_customers = int(j.events.customer_id.nunique().to_pyarrow().as_py())
    fetched = []
    real = engine.to_pandas

    def counting(expr):
        out = real(expr)
        fetched.append(len(out))
        return out

    monkeypatch.setattr(engine, "to_pandas", counting)
    compare_periods(j.events, stages=list(j.stages), period_days=90, feedback=j.feedback)
    compare_segments(j.events, j.customers, "segment", stages=list(j.stages), feedback=j.feedback)
    assert len(fetched) > 5 and max(fetched) <= n_customers, fetched


def test_plot_titles_name_what_the_chart_leaves_out_and_count_in_words(feedback_periods, sample_segments):
    import matplotlib.pyplot as plt

    _, res = feedback_periods
    assert res.periods_text == "2024-01-11 to 2024-01-20 against 2024-01-01 to 2024-01-10"
    assert res.periods_text in res.findings[0].text
    fig, ax = plt.subplots()
    try:
        title = res.plot(ax=ax).get_title(loc="left")
        # NPS is in points (no change "in % of before"): the title names it instead of "1 in the table only"
        n = int(res.summary["changed"].sum())
        assert title == f"{n} of {len(res.summary)} figures changed significantly; Net Promoter Score in the table only"
        ax.clear()
        _, _, seg = sample_segments
        shown = seg.summary[seg.summary["unit"] == "share"]
        k = int(shown["significant"].sum())
        title = seg.plot(ax=ax).get_title(loc="left")
        assert title.startswith(f"{k} of the {len(shown)} differences shown {'is' if k == 1 else 'are'} significant")
    finally:
        plt.close(fig)


def test_values_that_round_to_zero_have_no_minus_sign():
    """Report 00's period table showed a difference of -0.001 as "-0.00"."""
    from journeylib.journeys.compare import _show, _values_text

    assert _show("score", -0.001, True) == "0.00" and _show("score", -0.01, True) == "-0.01"
    assert _show("share", -0.0001, True) == "0.0 pts" and _show("days", -0.01, True) == "0.0 days"
    assert _show("money", -0.004) == "0.00" and _show("points", -0.2) == "0"
    assert _values_text("score", 4.1, 4.1, -0.001, -0.004, 0.05) == ("4.10", "4.10", "0.00, 0.00 to +0.05")
    assert _values_text("share", 0.5, 0.5, -0.00001, -0.03, 0.02)[2] == "0.0 points, -3.0 to +2.0"
