"""Issues 22/23 for experiments: one convention for intervals and p-values, decisions, markup-safe names,
CUPED fallback and no numpy RuntimeWarnings on small or degenerate inputs."""
from __future__ import annotations

import html
import io
import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import journeylib as jl
from journeylib.core.display import escape_markdown
from journeylib.core.errors import JourneyDataWarning, JourneyParameterError
from journeylib.experiments import plots
from journeylib.experiments import readout as ex
from journeylib.experiments import statistics as st

HOSTILE = ["[x](javascript:alert(1))", "![i](http://evil.example/a.png)", "# h", "$x$", "<script>alert(1)</script>"]
T0 = pd.Timestamp("2025-01-10", tz="UTC")


@pytest.fixture(scope="module")
def sample_readout(sample):
    with pytest.warns(JourneyDataWarning, match="SAMPLE RATIO MISMATCH in email_send_time"):
        return ex.ab_readout(sample.assignments, sample.events)


@pytest.fixture(scope="module")
def big():
    sim = jl.simulate_journeys(40_000, seed=3)
    with pytest.warns(JourneyDataWarning, match="SAMPLE RATIO MISMATCH"):
        ro = ex.ab_readout(sim.assignments, sim.events)
    return sim, ro


def make(n_c, n_v, y_c, y_v, pre=None, rev=10.0, experiment="exp", variant="b"):
    """Tiny assignments/events: ``y`` purchases per user in the window, ``pre`` in the pre-period (cycled)."""
    rows, ev = [], []
    for arm, n, y in (("control", n_c, y_c), (variant, n_v, y_v)):
        for i in range(n):
            cid = f"{arm}{i}"
            rows.append((cid, experiment, arm, T0))
            ev += [(cid, T0 + pd.Timedelta(hours=1 + k), "purchase", rev) for k in range(y[i % len(y)])]
            if pre is not None:
                ev += [(cid, T0 - pd.Timedelta(days=2, hours=k), "purchase", rev) for k in range(pre[i % len(pre)])]
    a = pd.DataFrame(rows, columns=["customer_id", "experiment", "variant", "assigned_at"])
    e = pd.DataFrame(ev, columns=["customer_id", "ts", "event", "revenue"])
    return a, e


def rendered(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = markdown2html_mistune(html.escape(text, quote=False))
    return re.sub(r'<a class="anchor-link" href="[^"]*">', "", out)  # nbconvert's own heading anchors


def assert_inert(out: str, headings: int = 0):
    assert "<a" not in out and "<img" not in out and "<script" not in out.lower(), out
    assert len(re.findall(r"<h[1-6]", out)) == headings, out


# --- 2. one convention: the interval and the p-value beside it come from the same test ------------

def excludes_zero(lo, hi):
    return (np.asarray(lo) > 0) | (np.asarray(hi) < 0)


def assert_agree(s: pd.DataFrame, alpha: float):
    """Each interval excludes 0 iff the p-value of the same test is below alpha (relative and absolute)."""
    np.testing.assert_array_equal(excludes_zero(s["rel_ci_low"], s["rel_ci_high"]), s["rel_pvalue"] < alpha)
    np.testing.assert_array_equal(excludes_zero(s["ci_low"], s["ci_high"]), s["pvalue"] < alpha)


def test_intervals_and_pvalues_agree_on_every_row_of_the_sample(sample_readout):
    s = sample_readout.summary
    assert len(s) == 16
    assert_agree(s, 0.05)
    # the two rows that disagreed before (relative interval beside the absolute test's p): now consistent
    rpu = s[(s["experiment"] == "email_send_time") & (s["metric"] == "revenue_per_user")].iloc[0]
    assert rpu["rel_ci_high"] < 0 and rpu["rel_pvalue"] < 0.05
    ppu = s[(s["experiment"] == "personalised_offer") & (s["metric"] == "purchases_per_user")].iloc[0]
    assert ppu["rel_ci_low"] < 0 < ppu["rel_ci_high"] and ppu["rel_pvalue"] > 0.05


@pytest.mark.parametrize("cuped", [True, False])
@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_intervals_and_pvalues_agree_on_generated_cases(small_sim, cuped, alpha):
    ro = ex.ab_readout(small_sim.assignments, small_sim.events, alpha=alpha, cuped=cuped,
                       experiments=["personalised_offer", "homepage_video"])
    assert_agree(ro.summary, alpha)
    for r in ro.results:  # also over the looks (the cumulative plot's band and its p-value)
        lk = r.looks
        ok = lk["rel_pvalue"].notna()
        np.testing.assert_array_equal(excludes_zero(lk["rel_ci_low"], lk["rel_ci_high"])[ok],
                                      (lk["rel_pvalue"] < alpha)[ok])


def test_relative_test_agrees_with_itself_on_random_statistics(rng):
    m1, m0 = rng.uniform(0.2, 5, 500), rng.uniform(0.2, 5, 500)
    se1, se0 = rng.uniform(0.01, 2, 500), rng.uniform(0.01, 2, 500)
    df = rng.uniform(3, 5000, 500)
    for alternative in ("two-sided", "greater", "less"):
        r = st.relative_test(m1, se1, m0, se0, df=df, alternative=alternative, confidence_level=0.9)
        np.testing.assert_array_equal(excludes_zero(r["ci_low"], r["ci_high"]), r["pvalue"] < 0.1)


def gbstats_relative(m_b, v_b, n_b, m_a, v_a, n_a, alpha=0.05):
    """gbstats' TwoSidedTTest (frequentist/tests.py), written out: a = control, b = variant; ``v`` is the
    per-user variance (sample variance for means, p(1-p) for proportions)."""
    est = (m_b - m_a) / m_a
    var = v_b / (m_a**2 * n_b) + v_a * m_b**2 / (m_a**4 * n_a)
    dof = (v_b / n_b + v_a / n_a) ** 2 / (v_b**2 / (n_b**2 * (n_b - 1)) + v_a**2 / (n_a**2 * (n_a - 1)))
    width = stats.t.ppf(1 - alpha / 2, dof) * np.sqrt(var)
    p = 2 * (1 - stats.t.cdf(abs(est / np.sqrt(var)), dof))
    return est, est - width, est + width, p


def test_relative_interval_is_gbstats_formula(small_sim):
    ro = ex.ab_readout(small_sim.assignments, small_sim.events, experiments="personalised_offer", cuped=False)
    a = small_sim.assignments[small_sim.assignments["experiment"] == "personalised_offer"]
    ev = small_sim.events[small_sim.events["event"] == "purchase"]
    m = a.merge(ev[["customer_id", "ts", "revenue"]], on="customer_id", how="left")
    inw = (m["ts"] >= m["assigned_at"]) & (m["ts"] < m["assigned_at"] + pd.Timedelta(days=28))
    m = m.assign(orders=inw.astype(float), rev=np.where(inw, m["revenue"].fillna(0), 0.0))
    u = m.groupby(["customer_id", "variant"], as_index=False)[["orders", "rev"]].sum()
    u["conv"] = (u["orders"] > 0).astype(float)
    arms = {v: g for v, g in u.groupby("variant")}
    for metric, col, prop in (("conversion", "conv", True), ("purchases_per_user", "orders", False),
                              ("revenue_per_user", "rev", False)):
        (xa, xb) = arms["control"][col], arms["treatment"][col]
        va = xa.mean() * (1 - xa.mean()) if prop else xa.var(ddof=1)
        vb = xb.mean() * (1 - xb.mean()) if prop else xb.var(ddof=1)
        est, lo, hi, p = gbstats_relative(xb.mean(), vb, len(xb), xa.mean(), va, len(xa))
        r = ro.result("personalised_offer", metric)
        assert (r.rel_lift, r.rel_ci_low, r.rel_ci_high) == pytest.approx((est, lo, hi), rel=1e-9, abs=1e-12)
        assert r.rel_pvalue == pytest.approx(p, rel=1e-7, abs=1e-12)


def test_conventions_are_stated():
    for doc in (ex.ABResult.__doc__, ex.Readout.__doc__, st.__doc__):
        assert "gbstats" in doc and "same" in doc


def test_format_helpers():
    assert st.format_pvalue(5.01e-08) == "p < 0.001" and st.format_pvalue(0.0326) == "p = 0.033"
    assert st.format_pvalue(0.48, prefix=False) == "0.48" and st.format_pvalue(float("nan")) == "p = –"
    assert st.format_number(1234.5) == "1,234" and st.format_number(0.001234) == "0.00123"
    assert st.format_number(float("inf")) == "–" and "e" not in st.format_number(1.5e-9)


# --- 3 + 4. highlighting and decisions ------------------------------------------------------------

def test_decisions_on_the_sample_follow_the_planted_truth(sample, sample_readout):
    truth = sample.ground_truth["experiments"]
    d = sample_readout.decisions.set_index("experiment")
    assert list(d.columns[:3]) == ["primary_metric", "decision", "variant"]
    assert (d["primary_metric"] == "conversion").all()
    assert d.loc["email_send_time", "decision"] == "invalid: sample ratio mismatch"  # planted SRM
    assert d.loc["homepage_video", "decision"] != "ship"  # planted: no effect
    # planted +30% purchases: never "do not ship"; 357 vs 358 users are too few to ship yet
    assert truth["personalised_offer"]["true_conversion"]["absolute_lift"] > 0
    assert d.loc["personalised_offer", "decision"] == "keep running"
    # the users still needed: the power analysis' sample size, computed here independently
    r = sample_readout.result("personalised_offer", "conversion")
    sd = r.se / np.sqrt(1 / r.n_control + 1 / r.n_variant)
    z = stats.norm.ppf(1 - 0.05 / 4 / 2) + stats.norm.ppf(0.8)  # 4 comparisons in the family
    ratio = r.n_variant / r.n_control
    n_req = int(np.ceil(z**2 * sd**2 * (1 + 1 / ratio) / (0.05 * r.mean_control) ** 2 - 1e-9))
    row = d.loc["personalised_offer"]
    assert row["users_per_arm_needed"] == n_req
    assert row["more_users_needed"] == (n_req - r.n_control) + int(np.ceil(n_req * ratio - r.n_variant))
    assert f"{int(row['more_users_needed']):,} more users" in row["reason"]
    # the findings carry the decisions; the SRM failure says do not act
    acts = " ".join(f.action for f in sample_readout.findings)
    assert "Decision: keep running" in acts and "Do not act" in acts and "Decision: ship" not in acts


def test_decisions_at_scale_ship_the_planted_effect(big):
    sim, ro = big
    d = ro.decisions.set_index("experiment")
    assert d.loc["personalised_offer", "decision"] == "ship" and d.loc["personalised_offer", "variant"] == "treatment"
    assert d.loc["email_send_time", "decision"] == "invalid: sample ratio mismatch"
    assert d.loc["homepage_video", "decision"] != "ship"
    rule = ro.decision_rule
    assert rule.startswith("Primary metric: conversion.") and "Holm" in rule and "+5%" in rule
    text = ro.conclusion("personalised_offer")
    assert text.index("**Rule.**") < text.index("**Decision: ship.**")  # the rule before the numbers


def test_primary_metric_parameter(small_sim):
    ro = ex.ab_readout(small_sim.assignments, small_sim.events, experiments="personalised_offer",
                       primary_metric="revenue_per_user")
    assert ro.decisions["primary_metric"].tolist() == ["revenue_per_user"]
    with pytest.raises(JourneyParameterError, match="primary_metric='ctr'"):
        ex.ab_readout(small_sim.assignments, small_sim.events, primary_metric="ctr")


def test_srm_failed_experiment_is_invalid_in_table_plot_and_findings(sample_readout):
    s, t = sample_readout.summary, sample_readout.decision_table
    bad = s["experiment"] == "email_send_time"
    assert (s.loc[bad, "verdict"] == "invalid: sample ratio mismatch (do not use)").all()
    assert not t.loc[bad.values, "significant"].any() and (t.loc[bad.values, "verdict"] == s.loc[bad, "verdict"]).all()
    _, ax = plt.subplots()
    sample_readout.plot(ax=ax)
    labels = [x.get_text() for x in ax.get_yticklabels()]
    lines = [c for c in ax.containers]  # one errorbar container per row, top to bottom reversed
    for label, cont, (_, row) in zip(labels, lines, s.iterrows()):
        colour = cont.lines[0].get_color()
        if row["experiment"] == "email_send_time":
            assert label.endswith("(invalid)") and colour == "black" and cont.lines[0].get_marker() == "x"
        else:  # nothing survives Holm on the sample: all grey, even where the raw interval excludes 0
            assert colour == "tab:grey"
    assert [tx.get_text() for tx in ax.get_legend().get_texts()] == [
        "no clear difference", "invalid: sample ratio mismatch, do not use"]


def test_forest_colour_follows_holm_not_the_raw_interval(big):
    _, ro = big
    s = ro.summary
    _, ax = plt.subplots()
    ro.plot(ax=ax)
    for cont, (_, row) in zip(ax.containers, s.iterrows()):
        want = ("black" if not row["srm_passed"] else "tab:green" if row["significant_holm"] and row["rel_lift"] > 0
                else "tab:red" if row["significant_holm"] else "tab:grey")
        assert cont.lines[0].get_color() == want


# --- 5. unfinished windows --------------------------------------------------------------------------

def test_conclusion_mentions_unfinished_windows(small_sim):
    a = small_sim.assignments[small_sim.assignments["experiment"] == "personalised_offer"]
    cut = a["assigned_at"].max() + pd.Timedelta(days=10)  # the log ends before the last windows close
    ev = small_sim.events[small_sim.events["ts"] < cut]
    ro = ex.ab_readout(a, ev)
    check = next(c for c in ro.checks if c.name == "analysis window complete: personalised_offer")
    n = int(re.match(r"([\d,]+) users", check.detail).group(1).replace(",", ""))
    assert n > 0 and ro.decisions["incomplete_users"].tolist() == [n]
    assert f"{n:,} users entered too late" in ro.conclusion("personalised_offer")
    full = ex.ab_readout(a, small_sim.events)
    assert "entered too late" not in full.conclusion("personalised_offer")


# --- 1. markup ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_inert_in_conclusions(name):
    a, e = make(30, 30, [1, 0, 2], [2, 0, 1], pre=[0, 1, 1], experiment=name, variant=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JourneyDataWarning)
        ro = ex.ab_readout(a, e, min_n=1)
    text = ro.conclusion(name)
    assert escape_markdown(name) in text
    assert_inert(rendered(text))
    heading = rendered(f"### {escape_markdown(name)}\n\n" + text)  # notebook 03's heading line
    assert_inert(heading, headings=1)
    for f in ro.findings:  # plain text: the name appears as it is, never escaped twice
        assert "\\" not in f.text


def test_hostile_metric_names_stay_inert():
    a, e = make(30, 30, [1, 0, 2], [2, 0, 1], pre=[0, 1, 1])
    metric = ex.count_per_user(name="[m](javascript:alert(1)) ![i](http://evil.example/a.png)")
    ro = ex.ab_readout(a, e, metrics=[metric], min_n=1)
    assert_inert(rendered(ro.conclusion("exp")))


@pytest.mark.parametrize("name", ["$a$_{x}", r"$\undefined{$", "cost $5 and $"])
def test_plots_never_parse_names_as_mathtext(name):
    a, e = make(30, 30, [1, 0, 2], [2, 0, 1], pre=[0, 1, 1], experiment=name, variant=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JourneyDataWarning)
        ro = ex.ab_readout(a, e, min_n=1)
    fig, axes = plt.subplots(4, 1, figsize=(6, 12))
    ro.plot(ax=axes[0])
    ro.results[0].plot_cumulative(ax=axes[1])
    ro.srm[0].plot(ax=axes[2])
    st.cuped([3, 4], [1, 2], [1, 3], [2, 1], [2, 1], [1, 1]).plot(ax=axes[3], arms=["control", name])
    fig.savefig(io.BytesIO(), format="png")
    fig.canvas.draw()
    texts = [t for ax in axes for t in (*ax.get_yticklabels(), *ax.get_xticklabels(), ax.title) if name in t.get_text()]
    assert texts and all(not t.get_parse_math() for t in texts)


# --- 6. CUPED fallback and no RuntimeWarning on degenerate inputs --------------------------------------

@pytest.mark.parametrize("pre", [[0], [2]], ids=["empty pre-period", "constant pre-period"])
def test_cuped_without_usable_pre_period_warns_and_falls_back(pre):
    a, e = make(40, 40, [1, 0, 2], [2, 0, 1, 3], pre=pre)
    with pytest.warns(JourneyDataWarning, match="CUPED: the pre-period value is the same for every user"):
        on = ex.ab_readout(a, e, min_n=1)
    off = ex.ab_readout(a, e, cuped=False, min_n=1)
    assert not any(r.cuped for r in on.results)
    cols = ["rel_lift", "rel_ci_low", "rel_ci_high", "rel_pvalue", "pvalue", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(on.summary[cols], off.summary[cols])
    assert any(c.name == "CUPED pre-period" and c.status == "warn" for c in on.checks)


def test_cuped_function_warns_on_constant_covariate():
    with pytest.warns(JourneyDataWarning, match="CUPED"):
        adj = st.cuped([3, 3], [1, 2], [1, 2], [3.7 * 3, 3.7 * 3], [3 * 3.7**2, 3 * 3.7**2], [3.7, 7.4])
    assert adj.theta == 0 and np.allclose(adj.mean, [1 / 3, 2 / 3]) and adj.variance_reduction == 0


DEGENERATE = {
    "nobody buys": make(3, 3, [0], [0], pre=[0]),
    "control never buys": make(3, 3, [0], [1, 0], pre=[1]),
    "everybody buys once": make(3, 3, [1], [1], pre=[1]),
    "two users per arm": make(2, 2, [1, 0], [2, 0]),
    "constant pre-period": make(5, 5, [1, 0, 2], [1, 3], pre=[1]),
    "one-sided split": make(2, 9, [1, 0], [0, 1, 2], pre=[0, 1]),
}


@pytest.mark.parametrize("cuped", [True, False])
@pytest.mark.parametrize("case", list(DEGENERATE))
def test_no_runtime_warning_on_degenerate_inputs(case, cuped):
    a, e = DEGENERATE[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", JourneyDataWarning)
        ro = ex.ab_readout(a, e, cuped=cuped, min_n=1)
        s, d = ro.summary, ro.decisions
        ro.findings, ro.decision_table, ro.cuped_summary, ro.conclusion("exp"), ro._repr_html_()
        fig, axes = plt.subplots(3, 1)
        ro.plot(ax=axes[0])
        ro.results[0].plot_cumulative(ax=axes[1])
        ro.results[0].plot_sequential(ax=axes[2])
        fig.savefig(io.BytesIO(), format="png")
        for r in ro.results:
            r.confidence_interval(0.9), r.findings, r._repr_html_()
    assert len(s) == 4 and d["decision"].iloc[0] in ("ship", "do not ship", "keep running")


def test_no_runtime_warning_from_statistics_on_empty_arms():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        st.relative_test(1, 0, 0, 0, df=st.welch_df(0, 1, 0, 1))
        st.welch_test(0, 0, 1, 0, 0, 1)
        st.two_proportion_test(0, 0, 0, 0)
        st.wald_proportion_test(0, 0, 0, 0)
        st.ratio_stats(0, 0, 0, 0, 0, 0)
        st.mean_var(0, 0, 0)
        warnings.simplefilter("ignore", JourneyDataWarning)
        st.cuped([0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0])
        plots.plot_forest([], ax=plt.subplots()[1])


def test_verdict_words_put_the_verdict_beside_its_variant(sample_readout):
    from journeylib.experiments.readout import verdict_words

    t = sample_readout.decision_table
    w = verdict_words(t)
    assert list(w.columns[:4]) == ["experiment", "metric", "variant", "verdict"]
    assert "significant" not in w.columns and len(w) == len(t)
    assert set(w.columns) == set(t.columns) - {"significant"}
    pd.testing.assert_series_equal(w["verdict"], t["verdict"])
    assert not w["metric"].str.contains("_").any()  # names in words
    # the verdict states significance: every significant row has a verdict other than "no clear difference"
    assert not (t["significant"] & (t["verdict"] == "no clear difference")).any()
