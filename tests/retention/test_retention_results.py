"""The result protocol for the retention family: summary copies, findings that quote the summary,
checks (the Cox proportional-hazards check), plot(ax) and escaped HTML, one confidence_level."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_waltons
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

import journeylib as jl
from journeylib.core import health
from journeylib.core.result import TRUTH_COLUMNS, Check, Finding, Result
from journeylib.retention import churn, survival as sv, winback

HOSTILE = "<b>x</b>"


@pytest.fixture(scope="module")
def sim4k():
    """4,000 simulated customers; the budget segment renamed to a name that is markup."""
    sim = jl.simulate_journeys(4000, seed=1)
    customers = sim.customers.assign(segment=sim.customers["segment"].replace({"budget": HOSTILE}))
    lab = churn.churn_labels(sim.events, customers, start_event="purchase", churn_after=60)
    return sim, customers, lab


@pytest.fixture(scope="module")
def results(sim4k):
    sim, customers, lab = sim4k
    return {
        "km": sv.kaplan_meier(lab, by="segment"),
        "logrank": sv.logrank(lab, "segment"),
        "cox": sv.cox(lab, ["segment"], reference={"segment": "standard"}),
        "membership": sv.membership_effect(lab, "loyalty_joined_at", ["segment"], reference={"segment": "standard"}),
        "winback": winback.winback_rates(sim.events, customers, inactive_days=60, within_days=50,
                                         by=("touch_channel", "segment")),
    }


def test_every_result_follows_the_protocol(results):
    for name, res in results.items():
        assert isinstance(res, Result), name
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.anything = 1
        s = res.summary
        s.iloc[:, -1] = -1
        s["extra"] = 1
        assert "extra" not in res.summary.columns and not (res.summary.iloc[:, -1] == -1).all(), name
        assert 1 <= len(res.findings) <= 4 and all(isinstance(f, Finding) for f in res.findings), name
        for f in res.findings:
            assert "**" not in f.text and "`" not in f.text and f.text.endswith("."), (name, f.text)
        assert all(isinstance(c, Check) and c.status in ("pass", "warn", "fail") for c in res.checks), name
        cols = list(res.summary.columns)
        assert not [c for c in cols if c.endswith(("_low", "_high", "lower", "upper", "_lo", "_hi"))
                    and c not in ("ci_low", "ci_high")], (name, cols)


def test_findings_quote_the_summary(results):
    km = results["km"].summary.set_index("group")
    for f in results["km"].findings:
        group = next(g for g in km.index if f" in {g} " in f.text)
        assert (f.value, f.ci_low, f.ci_high) == tuple(km.loc[group, ["median_days", "ci_low", "ci_high"]])
        assert f"{f.value:,.0f} days" in f.text

    lr = results["logrank"]
    first, second = lr.findings
    assert first.value == lr.pvalue and "p < 0.001" in first.text
    # Issue 23: the difference is the log-rank hazard ratio against the largest group with its interval
    # (independent computation: (O/E) / (O_ref/E_ref), se of the log sqrt(1/E + 1/E_ref))
    t = lr.summary.set_index("group")
    ref = t["customers"].idxmax()
    assert lr.reference == ref == "standard"
    oe = t["observed"] / t["expected"]
    hr = oe / oe[ref]
    se = np.sqrt(1 / t["expected"] + 1 / t.loc[ref, "expected"])
    assert t["hazard_ratio"].to_numpy() == pytest.approx(hr.to_numpy(), rel=1e-12)
    assert t.drop(index=ref)["ci_low"].to_numpy() == pytest.approx((hr * np.exp(-1.959964 * se)).drop(index=ref), rel=1e-5)
    assert np.isnan(t.loc[ref, "ci_low"])
    far = np.abs(np.log(hr.drop(index=ref))).idxmax()
    assert far == "premium"  # planted 0.6 vs standard
    assert (second.value, second.ci_low, second.ci_high) == tuple(t.loc[far, ["hazard_ratio", "ci_low", "ci_high"]])
    assert second.text == (f"The premium group churns {1 - hr[far]:.0%} slower than the standard group (hazard ratio "
                           f"{hr[far]:.2f}, {t.loc[far, 'ci_low']:.2f} to {t.loc[far, 'ci_high']:.2f}).")
    assert second.ci_high < 1 and "log-rank test" in first.text
    assert "overlap" not in lr.reading and "p < 0.001" in lr.reading and f"{hr[far]:.2f}" in lr.reading

    cox = results["cox"].summary.set_index("term")
    found = {}
    for f in results["cox"].findings:
        term = next(t for t in cox.index if f"with segment {t.split(': ')[1]} " in f.text)
        found[term] = f
        assert (f.value, f.ci_low, f.ci_high) == tuple(cox.loc[term, ["hazard_ratio", "ci_low", "ci_high"]])
        assert f"{f.ci_low:.2f} to {f.ci_high:.2f}" in f.text
    # planted: premium 0.6, budget 1.5 vs standard; both clear on 4,000 customers
    assert set(found) == {"segment: premium", f"segment: {HOSTILE}"}
    assert "slower than those with segment standard" in found["segment: premium"].text

    me = results["membership"]
    s = me.summary
    for f, row in zip(me.findings, (1, 0)):  # the start/stop estimate first, then the naive one
        assert (f.value, f.ci_low, f.ci_high) == tuple(s.loc[row, ["hazard_ratio", "ci_low", "ci_high"]])
    assert me.findings[0].value == me.hazard_ratio
    assert me.confidence_interval() == (me.findings[0].ci_low, me.findings[0].ci_high)

    wb = results["winback"]
    best = wb.summary.sort_values("rate", ascending=False).iloc[0]
    f = wb.findings[0]
    assert (f.value, f.ci_low, f.ci_high) == (best["rate"], best["ci_low"], best["ci_high"])
    assert f"{best['rate']:.1%} came back" in f.text


def test_cox_checks_carry_the_proportional_hazards_test(results):
    (check,) = results["cox"].checks
    assert check.name == "Cox proportional-hazards assumption" and check.status == "pass"
    assert check.detail == results["cox"].ph_reading
    # time-varying: no Schoenfeld test, so no check; the membership effect carries the start/stop model's
    assert results["membership"].start_stop.checks == () and results["membership"].checks == ()
    assert sv.cox(pd.DataFrame({"duration": [1, 2, 3, 4, 5, 6.0], "churned": [1, 1, 0, 1, 1, 0], "x": [0, 1] * 3}),
                  ["x"], check_assumptions=False).checks == ()

    # crossing hazards (exponential vs a Weibull of shape 4): the PH check warns, and jl.record
    # puts the check (not a global written by the fit) into the run-health log
    rng = np.random.default_rng(3)
    n = 1500
    df = pd.DataFrame({"duration": np.concatenate([rng.exponential(100, n), 100 * rng.weibull(4, n)]),
                       "churned": True, "g": np.repeat(["a", "b"], n)})
    health.reset()
    res = sv.cox(df, ["g"])
    assert health.checks() == []  # fitting records nothing by itself
    (check,) = res.checks
    assert check.status == "warn" and not res.ph_ok and "questionable for g: b" in check.detail
    jl.record(res, None)
    assert health.checks() == [{"name": "Cox proportional-hazards assumption", "passed": False, "status": "warn",
                                "detail": check.detail}]
    health.reset()


def test_plot_returns_the_axes_given(results):
    import matplotlib.pyplot as plt

    draws = [results["km"].plot, results["km"].plot_cumulative_hazard, results["km"].plot_retention,
             results["logrank"].plot, results["cox"].plot, results["membership"].plot, results["winback"].plot]
    for draw in draws:
        fig, ax = plt.subplots()
        assert draw(ax=ax) is ax, draw
        assert ax.get_xlabel() and ax.get_title(), draw
    plt.close("all")
    fig, ax = plt.subplots()
    assert results["cox"].plot() is ax  # the current Axes by default
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["segment: premium", f"segment: {HOSTILE}"]  # bottom to top: the first term is drawn on top
    assert ax.get_xlabel().startswith("hazard ratio")
    # the cumulative hazard drawn is the result's own table
    fig, ax = plt.subplots()
    results["km"].plot_cumulative_hazard(ax=ax)
    table = results["km"].cumulative_hazard()
    line = ax.get_lines()[0]
    first = table[table["group"] == list(results["km"].fitters)[0]]
    n = len(line.get_ydata())  # the curve stops where fewer than MIN_AT_RISK customers are followed
    assert 0 < n <= len(first)
    np.testing.assert_array_equal(line.get_ydata(), first["cumulative_hazard"].to_numpy()[:n])


def test_html_escapes_a_segment_name_that_is_markup(results):
    for name, res in results.items():
        page = res._repr_html_()
        assert HOSTILE not in page, name
        if name != "membership":  # its table names the two models, not the segments
            assert "&lt;b&gt;x&lt;/b&gt;" in page, name


def test_against_truth_is_one_table_built_from_the_results(sim4k, results):
    sim, _, _ = sim4k
    truth = sim.ground_truth
    wb = winback.winback_rates(sim.events, inactive_days=60, within_days=50)
    cox = results["cox"]
    both = sv.against_truth(truth, cox=cox, membership=results["membership"], winback=wb)
    assert list(both.columns) == list(TRUTH_COLUMNS)
    parts = pd.concat([cox.against_truth(truth), results["membership"].against_truth(truth), wb.against_truth(truth)],
                      ignore_index=True)
    pd.testing.assert_frame_equal(both, parts)
    q = both.set_index("quantity")
    assert q.loc["churn hazard ratio, premium vs standard", "planted"] == 0.6
    assert q.loc["churn hazard ratio, premium vs standard", "estimate"] == cox.hazard_ratio("segment: premium")
    assert q.loc["loyalty hazard ratio (start/stop)", "covered"]
    assert not q.loc["loyalty hazard ratio (naive)", "covered"]
    assert q.loc["win-back return rate, email", "estimate"] == wb.rate(touch_channel="email")
    # a win-back split by more than the channel has no planted rates to compare
    assert results["winback"].against_truth(truth).empty
    with pytest.raises(jl.JourneyParameterError, match=r"truth: .*\['churn'\]"):
        results["membership"].against_truth({"segments": {}})


def test_one_confidence_level_everywhere():
    w = load_waltons()
    km = sv.kaplan_meier(w, duration_col="T", event_col="E", confidence_level=0.9)
    ref = KaplanMeierFitter(alpha=0.1).fit(w["T"], w["E"])
    np.testing.assert_allclose(km.fitters["all"].confidence_interval_.to_numpy(), ref.confidence_interval_.to_numpy())
    assert km.confidence_level == 0.9

    rng = np.random.default_rng(5)
    df = pd.DataFrame({"x": rng.normal(size=400)})
    df["duration"] = rng.exponential(1 / np.exp(0.5 * df["x"]))
    df["churned"] = rng.random(400) < 0.8
    res90 = sv.cox(df, ["x"], confidence_level=0.9)
    lf = CoxPHFitter(alpha=0.1).fit(df, "duration", "churned")
    assert res90.interval("x") == pytest.approx(tuple(lf.summary.loc["x", ["exp(coef) lower 90%",
                                                                            "exp(coef) upper 90%"]]), rel=1e-9)
    # another level from the same fit: the Wald interval exp(coef -/+ z se) lifelines gives at that level
    res95 = sv.cox(df, ["x"])
    assert res95.interval("x", 0.9) == pytest.approx(res90.interval("x"), rel=1e-6)
    z = stats.norm.ppf(0.975)
    coef, se = res95.summary.set_index("term").loc["x", ["coef", "se"]]
    assert res95.interval("x") == pytest.approx((np.exp(coef - z * se), np.exp(coef + z * se)), rel=1e-9)
    with pytest.raises(jl.JourneyParameterError, match="term='y'"):
        res95.interval("y")

    ev = pd.DataFrame({"customer_id": list("AABBCCDD"), "event": ["purchase", "purchase"] * 4,
                       "ts": pd.to_datetime(["2024-01-01", "2024-03-20", "2024-01-01", "2024-06-01",
                                             "2024-01-01", "2024-03-25", "2024-01-01", "2024-09-01"], utc=True)})
    wb = winback.winback_rates(ev, inactive_days=60, within_days=30, confidence_level=0.8)
    s = wb.summary.iloc[0]
    lo, hi = proportion_confint(s["returned"], s["n"], alpha=0.2, method="wilson")
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
    assert wb.findings[0].ci_low == s["ci_low"]
    with pytest.raises(jl.JourneyParameterError, match="confidence_level"):
        winback.winback_rates(ev, confidence_level=95)
