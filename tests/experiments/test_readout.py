"""Experiments engine against a brute-force pandas computation; readout against planted truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import journeylib as jl
from journeylib.experiments import readout as ex
from journeylib.core.errors import JourneyDataError, JourneyDataWarning, JourneyParameterError

WINDOW = pd.Timedelta(days=28)


@pytest.fixture(scope="module")
def big_sim():
    """40,000 customers: about 5,600 users in email_send_time, enough to see the planted 10% SRM."""
    return jl.simulate_journeys(40_000, seed=3)


def brute_force_users(sim, experiment):
    """Per-user window values computed directly with pandas (independent of the engine code)."""
    a = sim.assignments[sim.assignments["experiment"] == experiment]
    ev = sim.events[sim.events["event"] == "purchase"]
    m = a.merge(ev[["customer_id", "ts", "revenue"]], on="customer_id", how="left")
    inw = (m["ts"] >= m["assigned_at"]) & (m["ts"] < m["assigned_at"] + WINDOW)
    pre = (m["ts"] >= m["assigned_at"] - WINDOW) & (m["ts"] < m["assigned_at"])
    m = m.assign(y_orders=inw.astype(float), y_rev=np.where(inw, m["revenue"].fillna(0), 0.0),
                 x_orders=pre.astype(float), x_rev=np.where(pre, m["revenue"].fillna(0), 0.0))
    u = m.groupby(["customer_id", "variant"], as_index=False)[["y_orders", "y_rev", "x_orders", "x_rev"]].sum()
    assert len(u) == len(a)  # users without events are kept (as zeros)
    return u


def test_variant_stats_match_brute_force(small_sim):
    st = ex.variant_stats(small_sim.assignments, small_sim.events)
    u = brute_force_users(small_sim, "personalised_offer")
    s = st[st["experiment"] == "personalised_offer"].groupby(["metric", "variant"])[ex.SUMS].sum()
    for variant, g in u.groupby("variant"):
        conv, conv_pre = (g["y_orders"] > 0).astype(float), (g["x_orders"] > 0).astype(float)
        row = s.loc[("conversion", variant)]
        assert row["n"] == len(g)
        assert row["s_y"] == conv.sum() and row["s_x"] == conv_pre.sum() and row["s_xy"] == (conv * conv_pre).sum()
        row = s.loc[("purchases_per_user", variant)]
        assert row["s_y"] == g["y_orders"].sum() and row["ss_y"] == (g["y_orders"] ** 2).sum()
        assert row["s_xy"] == (g["y_orders"] * g["x_orders"]).sum()
        row = s.loc[("revenue_per_user", variant)]
        assert row["s_y"] == pytest.approx(g["y_rev"].sum()) and row["ss_x"] == pytest.approx((g["x_rev"] ** 2).sum())
        row = s.loc[("revenue_per_order", variant)]
        assert row["s_y"] == pytest.approx(g["y_rev"].sum()) and row["s_d"] == g["y_orders"].sum()
        assert row["s_yd"] == pytest.approx((g["y_rev"] * g["y_orders"]).sum())
    # every assigned user is counted once per metric
    n_assigned = small_sim.assignments.groupby("experiment").size()
    got = st[st["metric"] == "conversion"].groupby("experiment")["n"].sum()
    pd.testing.assert_series_equal(got.sort_index(), n_assigned.sort_index(), check_names=False)


def test_readout_equals_scipy_on_per_user_values(small_sim):
    ro = ex.ab_readout(small_sim.assignments, small_sim.events, experiments="personalised_offer", cuped=False)
    u = brute_force_users(small_sim, "personalised_offer")
    t, c = u[u["variant"] == "treatment"], u[u["variant"] == "control"]
    r = ro.result("personalised_offer", "revenue_per_user")
    ref = stats.ttest_ind(t["y_rev"], c["y_rev"], equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-9) and r.pvalue == pytest.approx(ref.pvalue, rel=1e-8)
    assert r.confidence_interval(0.9) == pytest.approx(tuple(ref.confidence_interval(0.9)), rel=1e-9)
    assert r.test == "Welch t"
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    # conversion: unpooled Wald z for the p-value AND the interval (the same test, so they agree)
    rc = ro.result("personalised_offer", "conversion")
    x1, n1, x0, n0 = (t["y_orders"] > 0).sum(), len(t), (c["y_orders"] > 0).sum(), len(c)
    ref = test_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    assert rc.statistic == pytest.approx(ref.statistic, rel=1e-9) and rc.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert (rc.ci_low, rc.ci_high) == pytest.approx(confint_proportions_2indep(x1, n1, x0, n0, method="wald"), rel=1e-9)


def test_offer_ci_covers_planted_lift(sample):
    truth = sample.ground_truth["experiments"]["personalised_offer"]
    ro = ex.ab_readout(sample.assignments, sample.events, experiments="personalised_offer")
    for metric, true_rel in truth["true_relative_lift"].items():
        r = ro.result("personalised_offer", metric)
        assert r.rel_ci_low <= true_rel <= r.rel_ci_high
    conv = ro.result("personalised_offer", "conversion")
    assert conv.ci_low <= truth["true_conversion"]["absolute_lift"] <= conv.ci_high


def test_readout_against_planted_truth(sample):
    truth = sample.ground_truth["experiments"]
    ro = ex.ab_readout(sample.assignments, sample.events)
    chk = ro.against_truth(truth).set_index(["experiment", "metric", "variant"])
    offer = truth["personalised_offer"]
    c = offer["true_conversion"]
    assert chk.loc[("personalised_offer", "conversion", "treatment"), "true_rel_lift"] == pytest.approx(
        c["absolute_lift"] / c["control"])
    assert chk.loc[("personalised_offer", "purchases_per_user", "treatment"), "true_rel_lift"] == pytest.approx(
        offer["purchase_rate_multiplier"] - 1)
    assert ("personalised_offer", "revenue_per_order", "treatment") not in chk.index  # nothing planted
    # a single planted number covers every metric and variant of that experiment
    video = chk.loc["homepage_video"]
    assert len(video) == 2 * len({m for _, m, _ in chk.index}) and (video["true_rel_lift"] == 0).all()
    r = ro.result("homepage_video", "conversion", "video_b")
    assert video.loc[("conversion", "video_b"), "estimate"] == r.rel_lift
    assert (chk["covered"] == ((chk["ci_low"] <= chk["true_rel_lift"]) & (chk["true_rel_lift"] <= chk["ci_high"]))).all()
    assert ro.against_truth({}).empty and list(ro.against_truth({}).columns)[-1] == "covered"


def test_offer_detected_and_covered_at_scale(big_sim):
    truth = big_sim.ground_truth["experiments"]["personalised_offer"]
    ro = ex.ab_readout(big_sim.assignments, big_sim.events, experiments="personalised_offer")
    for metric in ("purchases_per_user", "revenue_per_user"):
        r = ro.result("personalised_offer", metric)
        assert r.rel_ci_low <= truth["true_relative_lift"][metric] <= r.rel_ci_high
        assert r.pvalue < 1e-6 and r.seq_pvalue < 0.05 and r.chance_to_beat > 0.999
    conv = ro.result("personalised_offer", "conversion")
    assert conv.ci_low <= truth["true_conversion"]["absolute_lift"] <= conv.ci_high
    assert ro.summary["significant_holm"].sum() >= 3
    # revenue per order is not changed by the offer (more orders, same spend per order)
    rpo = ro.result("personalised_offer", "revenue_per_order")
    assert rpo.rel_ci_low <= 0 <= rpo.rel_ci_high


def test_cuped_reduces_variance_on_sample(sample):
    on = ex.ab_readout(sample.assignments, sample.events, experiments="personalised_offer")
    off = ex.ab_readout(sample.assignments, sample.events, experiments="personalised_offer", cuped=False)
    for metric in ("purchases_per_user", "revenue_per_user"):
        a, b = on.result("personalised_offer", metric), off.result("personalised_offer", metric)
        assert a.cuped and not b.cuped
        assert a.variance_reduction > 0.1
        assert a.se == pytest.approx(b.se * np.sqrt(1 - a.variance_reduction))
        assert (a.ci_high - a.ci_low) < (b.ci_high - b.ci_low)
        assert a.pre_correlation > 0.3
        assert a.pre_balance_pvalue > 0.001
    assert np.isnan(on.result("personalised_offer", "revenue_per_order").variance_reduction)  # no CUPED on ratios
    cu = on.cuped_summary.set_index("metric")
    assert len(cu) == len(on.results)
    assert cu.loc["purchases_per_user", "variance_reduction"] == on.result(
        "personalised_offer", "purchases_per_user").variance_reduction
    assert not cu.loc["revenue_per_order", "cuped"]


def test_srm_flagged_on_planted_mismatch(big_sim):
    with pytest.warns(JourneyDataWarning, match="SAMPLE RATIO MISMATCH in email_send_time"):
        ro = ex.ab_readout(big_sim.assignments, big_sim.events, metrics=ex.metrics_by_name(["conversion"]))
    srm = {s.experiment: s for s in ro.srm}
    assert not srm["email_send_time"].passed and srm["email_send_time"].pvalue < 0.001
    assert srm["personalised_offer"].passed and srm["homepage_video"].passed
    assert srm["email_send_time"].flag == "FAILED"
    lines = ro.srm_reading.splitlines()
    assert len(lines) == len(ro.srm) and lines[[s.experiment for s in ro.srm].index("email_send_time")].startswith(
        "[FAILED] SAMPLE RATIO MISMATCH in email_send_time")
    checks = {c.name: c for c in ro.checks}
    assert checks["SRM: email_send_time"].status == "fail"
    assert "SAMPLE RATIO MISMATCH" in checks["SRM: email_send_time"].detail
    assert "Do not act on email\\_send\\_time" in ro.conclusion("email_send_time")  # name escaped for Markdown
    summ = ro.summary
    assert not summ.loc[summ["experiment"] == "email_send_time", "srm_passed"].any()


def test_family_adjustment_matches_multipletests(small_sim):
    ro = ex.ab_readout(small_sim.assignments, small_sim.events)
    s = ro.summary
    for exp, g in s.groupby("experiment"):
        assert len(g) == 4 * (g["variant"].nunique())
        # the family adjusts the p-value shown beside the relative lift (the relative test)
        np.testing.assert_allclose(g["p_holm"], multipletests(g["rel_pvalue"], method="holm")[1])
        np.testing.assert_allclose(g["p_bh"], multipletests(g["rel_pvalue"], method="fdr_bh")[1])
    allfam = ex.readout_from_stats(ex.variant_stats(small_sim.assignments, small_sim.events), family="all").summary
    np.testing.assert_allclose(allfam["p_holm"], multipletests(allfam["rel_pvalue"], method="holm")[1])
    assert (allfam["family"] == "all").all()


def test_looks_end_at_final_result(small_sim):
    ro = ex.ab_readout(small_sim.assignments, small_sim.events, experiments="homepage_video")
    r = ro.result("homepage_video", "purchases_per_user", "video_b")
    last = r.looks.iloc[-1]
    assert last["estimate"] == pytest.approx(r.estimate) and last["n_variant"] == r.n_variant
    assert r.looks["seq_pvalue"].is_monotonic_decreasing
    assert len(r.looks) == 7  # seven entry days


def test_segment_breakdown_warns(small_sim):
    with pytest.warns(UserWarning, match="Segment breakdown"):
        ro = ex.segment_breakdown(small_sim.assignments, small_sim.events, small_sim.customers, "segment",
                                  experiments="personalised_offer", metrics=ex.metrics_by_name(["conversion"]))
    s = ro.summary
    assert set(s["segment"]) == {"standard", "premium", "budget"}
    np.testing.assert_allclose(s["p_holm"], multipletests(s["rel_pvalue"], method="holm")[1])
    total = ex.variant_stats(small_sim.assignments, small_sim.events, ex.metrics_by_name("conversion"),
                             experiments="personalised_offer")["n"].sum()
    assert (s["n_control"] + s["n_variant"]).sum() == total


def test_decision_table_is_the_summary_in_reading_order(small_sim):
    ro = ex.ab_readout(small_sim.assignments, small_sim.events, experiments="personalised_offer")
    s, d = ro.summary, ro.decision_table
    assert "family" not in d.columns and len(d) == len(s)
    r = s.iloc[0]
    assert d["relative lift (95% CI)"].iloc[0] == f"{r.rel_lift:+.1%} ({r.rel_ci_low:+.1%} to {r.rel_ci_high:+.1%})"
    assert (d["p_holm"] == s["p_holm"]).all()
    assert (d["significant"] == (s["significant_holm"] & s["srm_passed"])).all()
    assert (d["verdict"] == s["verdict"]).all()
    everything = ex.readout_from_stats(ex.variant_stats(small_sim.assignments, small_sim.events), family="all")
    assert everything.decision_table.columns[0] == "family"


def test_plots_and_display(small_sim):
    import matplotlib.pyplot as plt

    ro = ex.ab_readout(small_sim.assignments, small_sim.events, experiments="personalised_offer")
    ax = ro.plot()
    assert "relative lift" in ax.get_xlabel() and len(ax.get_yticklabels()) == 4
    r = ro.result("personalised_offer", "conversion")
    _, axes = plt.subplots(1, 2)
    assert r.plot_cumulative(ax=axes[0]) is axes[0] and axes[0].get_ylabel() == "relative lift (%)"
    assert r.plot_sequential(ax=axes[1]) is axes[1] and "always-valid" in axes[1].get_title()
    assert "personalised_offer" in repr(r) and "<table" in r._repr_html_()
    assert "<table" in ro._repr_html_() and "Readout(" in repr(ro)
    text = ro.conclusion("personalised_offer")
    assert "not a p-value" in text


def test_html_escapes_data_strings(small_sim):
    a = small_sim.assignments[small_sim.assignments["experiment"] == "personalised_offer"].copy()
    a["experiment"] = "<b>x</b>"
    ro = ex.ab_readout(a, small_sim.events, metrics=ex.metrics_by_name(["conversion"]))
    h = ro._repr_html_()
    assert "<b>x</b>" not in h and "&lt;b&gt;x&lt;/b&gt;" in h


def test_errors(small_sim):
    with pytest.raises(JourneyParameterError, match="control='ctrl'"):
        ex.ab_readout(small_sim.assignments, small_sim.events, control="ctrl")
    with pytest.raises(JourneyParameterError, match="experiments=\\['nope'\\]"):
        ex.variant_stats(small_sim.assignments, small_sim.events, experiments="nope")
    assert [m.name for m in ex.metrics_by_name("conversion, revenue_per_order")] == ["conversion", "revenue_per_order"]
    with pytest.raises(JourneyParameterError, match="unknown metric"):
        ex.metrics_by_name(["ctr"])
    with pytest.raises(JourneyParameterError, match="window_days"):
        ex.variant_stats(small_sim.assignments, small_sim.events, window_days=0)
    with pytest.raises(JourneyParameterError, match="needs value"):
        ex.Metric("x", "sum")
    with pytest.raises(JourneyParameterError, match="planned_split"):
        ex.ab_readout(small_sim.assignments, small_sim.events, planned_split={"homepage_video": {"control": 1}})
    before = small_sim.assignments.copy()
    ex.variant_stats(small_sim.assignments, small_sim.events)
    pd.testing.assert_frame_equal(before, small_sim.assignments)  # inputs untouched


def test_assignments_and_options_that_would_give_a_wrong_readout_are_refused(small_sim):
    a, e, c = small_sim.assignments, small_sim.events, small_sim.customers
    twice = pd.concat([a, a.head(3)], ignore_index=True)
    with pytest.raises(JourneyDataError, match=r"(?s)3 users appear more than once in the same experiment.*cust-") as err:
        ex.ab_readout(twice, e)
    assert not set(a.head(3).customer_id.astype(str)) & set(str(err.value).split())  # ids pseudonymised
    switched = a.head(1).assign(variant="other")  # the same user in a second arm
    with pytest.raises(JourneyDataError, match=r"1 of them in more than one variant"):
        ex.ab_readout(pd.concat([a, switched], ignore_index=True), e)
    assigned = c[c["customer_id"].isin(a["customer_id"])].head(2)
    with pytest.raises(JourneyDataError, match="customer ids repeat"):
        ex.segment_breakdown(a, e, pd.concat([c, assigned], ignore_index=True), "segment")
    with pytest.raises(JourneyParameterError, match="cuped='no'"):
        ex.ab_readout(a, e, cuped="no")
    with pytest.raises(JourneyParameterError, match=r"planned_split: no experiment \['nope'\]"):
        ex.ab_readout(a, e, planned_split={"nope": {"control": 0.5, "b": 0.5}})


def test_a_single_variant_experiment_is_left_out_and_the_others_read_out_unchanged(small_sim):
    """An experiment whose users are all in one arm stopped the whole readout; it is left out, named in a
    warning and a check, and every other experiment's numbers are those of the readout without it."""
    a, e = small_sim.assignments, small_sim.events
    readable = a[a["experiment"].isin(["homepage_video", "personalised_offer"])]
    base = ex.ab_readout(readable, e, metrics=ex.metrics_by_name(["conversion", "revenue_per_user"]))
    lonely = a[a["experiment"] == "cart_recovery"].assign(variant="holdout")  # 307 users, one arm
    with pytest.warns(JourneyDataWarning) as caught:
        got = ex.ab_readout(pd.concat([readable, lonely], ignore_index=True), e,
                            metrics=ex.metrics_by_name(["conversion", "revenue_per_user"]))
    msg = ("Only one variant in cart_recovery (every user in holdout): nothing to compare it with, so left out "
           "of this readout. Check the experiment name and the variant column, or read it once users are "
           "assigned to its other arms")
    assert msg in [str(w.message) for w in caught]
    assert [(c.name, c.status, c.detail) for c in got.checks if c.name == "experiments with a single variant"] == [
        ("experiments with a single variant", "warn", msg)]
    assert sorted({r.experiment for r in got.results}) == ["homepage_video", "personalised_offer"]
    pd.testing.assert_frame_equal(got.summary, base.summary)
    pd.testing.assert_frame_equal(got.decisions, base.decisions)
    assert [s.experiment for s in got.srm] == ["homepage_video", "personalised_offer"]


def test_no_experiment_with_two_variants_is_one_error_naming_each(small_sim):
    a, e = small_sim.assignments, small_sim.events
    one_arm = pd.concat([a[a["experiment"] == "cart_recovery"].assign(variant="holdout"),
                         a[a["experiment"] == "personalised_offer"].assign(variant="control")], ignore_index=True)
    with pytest.raises(JourneyDataError) as err:
        ex.ab_readout(one_arm, e)
    assert str(err.value) == (
        "assignments: no experiment has two variants to compare; cart_recovery: only 'holdout'; "
        "personalised_offer: only 'control'\nWhat to do: an A/B readout needs the control and at least one other "
        "variant with users; check the variant column (and that the assignments' ids are the event log's), or "
        "read the data once users are assigned to every arm")
    # one experiment named on its own keeps its own message
    with pytest.raises(JourneyDataError, match=r"experiment 'personalised_offer' has only one variant \('control'\)"):
        ex.ab_readout(one_arm, e, experiments="personalised_offer")


def test_an_arm_missing_from_the_events_makes_its_experiment_invalid():
    """An arm whose ids the log does not know (a prefix) reads as customers who did nothing: a large false
    effect. The readout refuses it as it refuses a sample-ratio mismatch; the other experiments stand."""
    import warnings

    from journeylib.core.arms import arm_coverage

    ds = jl.load_dataset("sample")
    a = ds.assignments.to_pandas()
    plain = a[a["experiment"].isin(["homepage_video", "personalised_offer"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = ex.ab_readout(plain, ds.events)
        hit = (plain["experiment"] == "homepage_video") & (plain["variant"] == "video_a")
        broken = plain.assign(customer_id=np.where(hit, "u_" + plain["customer_id"], plain["customer_id"]))
        ro = ex.ab_readout(broken, ds.events)
    assert clean.missing_arms == () and [c.status for c in clean.checks][-1] == "pass"
    cov = arm_coverage(broken, ds.events).set_index(["experiment", "variant"])
    assert cov.loc[("homepage_video", "control"), "found"] == 1.0
    assert cov.loc[("homepage_video", "video_a"), "found"] == 0.0 and cov["missing"].sum() == 1
    assert [(e, v) for e, v, *_ in ro.missing_arms] == [("homepage_video", "video_a")]
    dec = ro.decisions.set_index("experiment")
    assert dec.loc["homepage_video", "decision"] == ex.INVALID_ARMS
    assert "video_a are missing from the event log (0% of a sample found, against 100%" in dec.loc["homepage_video", "reason"]
    # the untouched experiment keeps its decision and numbers
    pd.testing.assert_frame_equal(ro.decisions.iloc[[1]].reset_index(drop=True),
                                  clean.decisions.iloc[[1]].reset_index(drop=True), check_dtype=False)
    s = ro.summary
    assert (s.loc[s["experiment"] == "homepage_video", "verdict"] == ex.INVALID_ARMS + " (do not use)").all()
    assert not ro.decision_table.loc[s["experiment"] == "homepage_video", "significant"].any()
    assert ro.findings[0].text.startswith("Do not act on homepage_video: the customers of video_a are missing")
    assert "assignments' customer ids" in ro.findings[0].action
    assert ro.checks[-1].status == "fail" and "homepage_video: video_a 0% against 100%" in ro.checks[-1].detail
    assert "**Do not act on homepage\\_video.** The customers of video\\_a" in ex._conclusion(ro, "homepage_video")
