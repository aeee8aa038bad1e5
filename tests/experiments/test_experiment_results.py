"""The result protocol for the experiments family: summary copies, findings, checks, plots, escaped HTML."""
from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

import journeylib as jl
from journeylib.core.errors import JourneyDataWarning
from journeylib.core.result import Check, Finding, Result
from journeylib.experiments import bayes, readout as ex, statistics


@pytest.fixture(scope="module")
def srm_readout(sample):
    """The bundled sample: email_send_time has a planted sample ratio mismatch (about 57/43 for a 50/50 plan)."""
    with pytest.warns(JourneyDataWarning, match="SAMPLE RATIO MISMATCH in email_send_time"):
        return ex.ab_readout(sample.assignments, sample.events, metrics=ex.metrics_by_name(["conversion"]))


@pytest.fixture(scope="module")
def offer(small_sim):
    return ex.ab_readout(small_sim.assignments, small_sim.events, experiments="personalised_offer")


def _results(ro):
    r = ro.results[0]
    return [ro, r, ro.srm[0], r.sequential, bayes.beta_binomial(120, 1000, 100, 1000),
            bayes.normal_posterior(10.4, 0.3, 10.0, 0.25),
            statistics.cuped([100, 100], [50, 60], [60, 70], [40, 45], [50, 55], [30, 40])]


def test_every_result_follows_the_protocol(offer):
    for res in _results(offer):
        assert isinstance(res, Result)
        with pytest.raises(AttributeError):  # frozen
            res.note = "changed"
        s = res.summary
        s.drop(index=s.index, inplace=True)  # a copy: changing it changes nothing
        assert len(res.summary) > 0
        assert all(isinstance(f, Finding) for f in res.findings) and 1 <= len(res.findings) <= 4
        assert all(isinstance(c, Check) and c.status in ("pass", "warn", "fail") for c in res.checks)
        for f in res.findings:
            assert "**" not in f.text and "`" not in f.text  # plain sentences, no Markdown
        _, ax = plt.subplots()
        assert res.plot(ax=ax) is ax
        assert ax.get_xlabel() or ax.get_ylabel()
        assert "<table" in res._repr_html_()
        cols = [c for c in s.columns if any(w in c for w in ("low", "high", "lower", "upper"))]
        assert all(c.endswith(("ci_low", "ci_high")) for c in cols), cols


def test_ab_finding_quotes_the_summary_numbers_and_decides(offer):
    r = offer.result("personalised_offer", "purchases_per_user")
    (f,) = r.findings
    row = r.summary.iloc[0]
    assert (f.value, f.ci_low, f.ci_high) == (row["rel_lift"], row["rel_ci_low"], row["rel_ci_high"])
    assert f"{abs(row['rel_lift']):.1%}" in f.text and f"{row['rel_ci_low']:+.1%}" in f.text
    assert f"{row['rel_ci_high']:+.1%}" in f.text
    sig = row["rel_pvalue"] < 0.05  # the test of the relative lift the sentence quotes
    assert ("; significant." in f.text) == sig and ("not significant" in f.text) == (not sig)
    assert f.action == ("Roll out treatment." if sig and row["rel_lift"] > 0 else "Keep control.")


def test_readout_findings_use_the_holm_decision(offer):
    s = offer.summary
    (f,) = offer.findings  # one experiment: one sentence
    row = s.loc[s["rel_lift"] == f.value].iloc[0]
    assert (f.ci_low, f.ci_high) == (row["rel_ci_low"], row["rel_ci_high"])
    assert ("not significant" in f.text) == (not row["significant_holm"])
    assert f"after correcting for {len(s)} comparisons" in f.text


def test_confidence_interval_is_the_headline_interval(offer):
    r = offer.result("personalised_offer", "revenue_per_user")
    assert r.confidence_interval() == (r.ci_low, r.ci_high)  # default 0.95 = the readout's level
    lo, hi = r.confidence_interval(0.99)
    assert lo < r.ci_low and hi > r.ci_high
    q = stats.t.ppf(0.995, r.df)
    assert (lo, hi) == pytest.approx((r.estimate - q * r.se, r.estimate + q * r.se), rel=1e-9)
    seq = r.sequential
    assert seq.confidence_interval() == (r.seq_ci_low, r.seq_ci_high)
    # another level: the mixture boundary at that alpha, with the same tau2
    lo9, hi9 = seq.confidence_interval(0.9)
    v = r.looks["se"].iloc[-1] ** 2
    rad = np.sqrt(v * (v + r.seq_tau2) / r.seq_tau2 * (2 * np.log(1 / 0.1) + np.log((v + r.seq_tau2) / v)))
    assert (lo9, hi9) == pytest.approx((seq.estimate - rad, seq.estimate + rad), rel=1e-9)


def test_bayes_results_keep_the_numbers_under_the_vocabulary():
    got = bayes.normal_posterior(10.4, 0.3, 10.0, 0.25, confidence_level=0.9)
    s = np.hypot(0.3, 0.25)
    z = stats.norm.ppf(0.95)
    assert (got.ci_low, got.ci_high) == pytest.approx((0.4 - z * s, 0.4 + z * s))
    row = got.summary.iloc[0]
    assert row["estimate"] == pytest.approx(0.4) and row["ci_low"] == got.ci_low
    (f,) = got.findings
    assert f.value == got.rel_lift and f"{got.chance_to_beat:.1%}" in f.text and "90% credible" in f.text
    many = bayes.normal_posterior(np.array([10.4, 10.0]), 0.3, 10.0, 0.25)
    assert len(many.summary) == 2 and many.findings == ()


def test_readout_checks_name_the_planted_srm(srm_readout):
    checks = {c.name: c for c in srm_readout.checks}
    bad = checks["SRM: email_send_time"]
    assert bad.status == "fail" and "SAMPLE RATIO MISMATCH" in bad.detail
    assert checks["SRM: personalised_offer"].status == "pass"
    assert srm_readout.findings[0].action.startswith("Do not act")  # SRM failures come first
    assert "email_send_time" in srm_readout.findings[0].text
    html = srm_readout._repr_html_()
    assert "SRM: email_send_time" in html  # failed checks are shown


def test_readout_checks_replace_the_health_log(small_sim):
    from journeylib.core import health

    health.reset()
    late = small_sim.assignments.copy()
    late.loc[late.index[:50], "assigned_at"] = small_sim.events["ts"].max() - np.timedelta64(3, "D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JourneyDataWarning)
        ro = ex.ab_readout(late, small_sim.events, metrics=ex.metrics_by_name(["conversion"]))
    assert health.checks() == []  # analyses no longer write the health log themselves
    inc = [c for c in ro.checks if c.name.startswith("analysis window complete")]
    assert inc and all(c.status == "warn" for c in inc)
    jl.record(ro)
    assert {c["name"] for c in health.checks()} == {c.name for c in ro.checks}
    health.reset()


def test_srm_result_checks_and_levels():
    ok = statistics.srm_test([5000, 5010], experiment="e", variants=["control", "b"])
    assert ok.checks == (Check("SRM: e", "pass", ok.message()),)
    warn = statistics.srm_test([5000, 4800], experiment="e", variants=["control", "b"])
    assert 0.001 < warn.pvalue < 0.05 and warn.checks[0].status == "warn" and warn.flag == "CHECK"
    bad = statistics.srm_test([5000, 4600], experiment="e", variants=["control", "b"])
    assert bad.checks[0].status == "fail" and bad.findings[0].value == bad.pvalue


def test_repr_html_escapes_hostile_variant_names(small_sim):
    hostile = "[x](javascript:alert(1))<b>"
    a = small_sim.assignments[small_sim.assignments["experiment"] == "personalised_offer"].copy()
    a["variant"] = a["variant"].replace({"treatment": hostile})
    ro = ex.ab_readout(a, small_sim.events, metrics=ex.metrics_by_name(["conversion"]))
    r = ro.results[0]
    assert r.variant == hostile
    for res in (ro, r, ro.srm[0]):
        h = res._repr_html_()
        assert "<b>" not in h and "&lt;b&gt;" in h
        assert "<a " not in h and "href" not in h
