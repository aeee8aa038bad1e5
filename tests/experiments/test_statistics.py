"""abstats against scipy/statsmodels on the same numbers, and CI coverage by A/A simulation."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from journeylib.experiments import statistics as abstats
from journeylib.core.errors import JourneyParameterError

N_SIM = 4000  # A/A experiments per coverage check: binomial sd of the coverage = 0.0034


def sums(a, axis=-1):
    return a.shape[axis], a.sum(axis=axis), (a * a).sum(axis=axis)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_matches_scipy(rng, alternative):
    y1, y0 = rng.gamma(2, 3, 80), rng.gamma(2, 2.5, 120)
    n1, s1, ss1 = sums(y1)
    n0, s0, ss0 = sums(y0)
    m1, v1 = abstats.mean_var(n1, s1, ss1)
    m0, v0 = abstats.mean_var(n0, s0, ss0)
    got = abstats.welch_test(m1, v1, n1, m0, v0, n0, alternative=alternative, confidence_level=0.9)
    ref = stats.ttest_ind(y1, y0, equal_var=False, alternative=alternative)
    assert got["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert got["pvalue"] == pytest.approx(ref.pvalue, rel=1e-9)
    lo, hi = ref.confidence_interval(0.9)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)


@pytest.mark.parametrize("alternative,sm_alt", [("two-sided", "two-sided"), ("greater", "larger"), ("less", "smaller")])
def test_two_proportions_match_statsmodels(alternative, sm_alt):
    x1, n1, x0, n0 = 230, 1000, 200, 1010
    got = abstats.two_proportion_test(x1, n1, x0, n0, alternative=alternative)
    z, p = proportions_ztest([x1, x0], [n1, n0], alternative=sm_alt)
    assert got["statistic"] == pytest.approx(z, rel=1e-10)
    assert got["pvalue"] == pytest.approx(p, rel=1e-9)
    # Newcombe's interval; a one-sided test gets its end of the interval at twice alpha
    lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff",
                                        alpha=0.05 if alternative == "two-sided" else 0.1)
    want = {"two-sided": (lo, hi), "greater": (lo, np.inf), "less": (-np.inf, hi)}[alternative]
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(want, rel=1e-9)


def test_two_proportions_with_no_successes_have_an_interval_with_width():
    """0 of 40 against 0 of 50: the Wald interval would be (0, 0), a certainty the data do not give."""
    r = abstats.two_proportion_test(0, 40, 0, 50)
    lo, hi = confint_proportions_2indep(0, 40, 0, 50, method="newcomb", compare="diff")
    assert (float(r["ci_low"]), float(r["ci_high"])) == pytest.approx((lo, hi), rel=1e-12)
    assert lo < -0.05 and hi > 0.05 and np.isnan(r["pvalue"])


def test_ratio_delta_method_equals_linearisation(rng):
    orders = rng.poisson(1.2, 500).astype(float)
    revenue = orders * rng.gamma(5, 8, 500)
    n = len(orders)
    r, var = abstats.ratio_stats(n, revenue.sum(), orders.sum(), (revenue**2).sum(), (orders**2).sum(),
                                 (revenue * orders).sum())
    # independent computation: variance of the mean of the linearised values (rev - R*orders)/mean(orders)
    lin = (revenue - r * orders) / orders.mean()
    assert r == pytest.approx(revenue.sum() / orders.sum())
    assert var == pytest.approx(lin.var(ddof=1) / n, rel=1e-9)


def test_mean_ci_coverage_aa(rng):
    y = rng.gamma(0.5, 40, size=(N_SIM, 2, 400))  # skewed like revenue; truth: difference 0
    n, s, ss = sums(y)
    m, v = abstats.mean_var(n, s, ss)
    res = abstats.welch_test(m[:, 1], v[:, 1], n, m[:, 0], v[:, 0], n)
    cover = np.mean((res["ci_low"] <= 0) & (res["ci_high"] >= 0))
    assert abs(cover - 0.95) <= 0.015
    rel = abstats.relative_lift(m[:, 1], np.sqrt(v[:, 1] / n), m[:, 0], np.sqrt(v[:, 0] / n))
    cover_rel = np.mean((rel["ci_low"] <= 0) & (rel["ci_high"] >= 0))
    assert abs(cover_rel - 0.95) <= 0.015


def test_relative_lift_coverage_with_effect(rng):
    true_rel = 0.2
    y0 = rng.poisson(1.0, size=(N_SIM, 600))
    y1 = rng.poisson(1.0 * (1 + true_rel), size=(N_SIM, 600))
    m0, v0 = abstats.mean_var(*sums(y0))
    m1, v1 = abstats.mean_var(*sums(y1))
    rel = abstats.relative_lift(m1, np.sqrt(v1 / 600), m0, np.sqrt(v0 / 600))
    cover = np.mean((rel["ci_low"] <= true_rel) & (rel["ci_high"] >= true_rel))
    assert abs(cover - 0.95) <= 0.015


def test_conversion_ci_coverage_aa(rng):
    x = rng.binomial(800, 0.12, size=(N_SIM, 2))
    res = abstats.two_proportion_test(x[:, 1], 800, x[:, 0], 800)
    cover = np.mean((res["ci_low"] <= 0) & (res["ci_high"] >= 0))
    assert abs(cover - 0.95) <= 0.015
    # the pooled z-test's false positive rate is alpha too
    assert abs(np.mean(res["pvalue"] < 0.05) - 0.05) <= 0.01


def test_ratio_ci_coverage_aa(rng):
    orders = rng.poisson(0.8, size=(N_SIM, 2, 500)).astype(float)
    revenue = rng.gamma(4 * np.maximum(orders, 1e-12), 10) * (orders > 0)
    n = 500
    s_n, s_d = revenue.sum(-1), orders.sum(-1)
    r, var = abstats.ratio_stats(n, s_n, s_d, (revenue**2).sum(-1), (orders**2).sum(-1), (revenue * orders).sum(-1))
    res = abstats.z_inference(r[:, 1] - r[:, 0], np.sqrt(var[:, 1] + var[:, 0]))
    cover = np.mean((res["ci_low"] <= 0) & (res["ci_high"] >= 0))
    assert abs(cover - 0.95) <= 0.015


def test_cuped_reduces_variance_and_is_unbiased(rng):
    n, effect, rho = 500, 0.1, 0.7
    x = rng.normal(size=(N_SIM, 2, n))
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(N_SIM, 2, n))
    y[:, 1] += effect
    adj_m, adj_v, theta = abstats.cuped_vectorised(
        np.full((N_SIM, 2), n), y.sum(-1), (y * y).sum(-1), x.sum(-1), (x * x).sum(-1), (x * y).sum(-1))
    est_cuped = adj_m[:, 1] - adj_m[:, 0]
    est_raw = y[:, 1].mean(-1) - y[:, 0].mean(-1)
    # unbiased: the mean estimate is the true effect within Monte-Carlo error (4 standard errors)
    assert abs(est_cuped.mean() - effect) < 4 * est_cuped.std() / np.sqrt(N_SIM)
    # the variance drops by about rho^2 = 0.49 across simulations and in the reported variance
    assert 1 - est_cuped.var() / est_raw.var() == pytest.approx(rho**2, abs=0.04)
    assert 1 - adj_v.mean() / y.var(axis=-1, ddof=1).mean() == pytest.approx(rho**2, abs=0.02)
    assert theta.mean() == pytest.approx(rho, abs=0.01)
    res = abstats.welch_test(adj_m[:, 1], adj_v[:, 1], n, adj_m[:, 0], adj_v[:, 0], n)
    cover = np.mean((res["ci_low"] <= effect) & (res["ci_high"] >= effect))
    assert abs(cover - 0.95) <= 0.015


def test_cuped_matches_regression_adjustment(rng):
    n = np.array([300, 320])
    x = [rng.normal(5, 2, k) for k in n]
    y = [2 + 0.8 * xi + rng.normal(0, 1, len(xi)) + d for xi, d in zip(x, (0, 0.3))]
    adj = abstats.cuped(n, [v.sum() for v in y], [(v * v).sum() for v in y], [v.sum() for v in x],
                        [(v * v).sum() for v in x], [(a * b).sum() for a, b in zip(x, y)])
    xa, ya = np.concatenate(x), np.concatenate(y)
    theta = np.cov(xa, ya)[0, 1] / xa.var(ddof=1)
    assert adj.theta == pytest.approx(theta, rel=1e-9)
    for k in range(2):
        yk = y[k] - theta * (x[k] - xa.mean())
        assert adj.mean[k] == pytest.approx(yk.mean(), rel=1e-9)
        assert adj.var[k] == pytest.approx(yk.var(ddof=1), rel=1e-9)
    assert adj.correlation == pytest.approx(np.corrcoef(xa, ya)[0, 1], rel=1e-9)
    assert adj.variance_reduction > 0.5


def test_srm_matches_chisquare_and_flags_lost_assignments(rng):
    res = abstats.srm_test([5000, 4600], experiment="e", variants=["control", "b"])
    ref = stats.chisquare([5000, 4600])
    assert res.statistic == pytest.approx(ref.statistic) and res.pvalue == pytest.approx(ref.pvalue)
    assert not res.passed and "SAMPLE RATIO MISMATCH" in res.message()
    ok = abstats.srm_test([3350, 3320, 3330], [1, 1, 1])
    assert ok.passed
    planned = abstats.srm_test([2000, 8000], [0.2, 0.8])
    assert planned.pvalue == pytest.approx(1.0)
    # false alarm rate at the 0.001 threshold on correct 50/50 splits
    counts = rng.binomial(10_000, 0.5, 4000)
    p = np.array([abstats.srm_test([c, 10_000 - c]).pvalue for c in counts[:2000]])
    assert np.mean(p < 0.001) < 0.005
    with pytest.raises(JourneyParameterError, match="planned_share"):
        abstats.srm_test([10, 20], [0.5, 0.3, 0.2])
    for bad in ([-1, 10], ["a", 10], [10.5, 10], [10, float("nan")]):  # never a silent chi-square
        with pytest.raises(JourneyParameterError, match="observed"):
            abstats.srm_test(bad)


def test_adjust_pvalues():
    p = [0.01, 0.04, 0.03, np.nan]
    holm = abstats.adjust_pvalues(p, "holm")
    np.testing.assert_allclose(holm[:3], [0.03, 0.06, 0.06])  # by hand: 3*.01, max(2*.03, .04)
    assert np.isnan(holm[3])
    np.testing.assert_allclose(abstats.adjust_pvalues(p, "fdr_bh")[:3], multipletests(p[:3], method="fdr_bh")[1])
    with pytest.raises(JourneyParameterError, match="method"):
        abstats.adjust_pvalues(p, "sidak-ish")


def test_bad_parameters():
    with pytest.raises(JourneyParameterError, match="alternative"):
        abstats.z_inference(1, 1, alternative="bigger")
    with pytest.raises(JourneyParameterError, match="confidence_level"):
        abstats.z_inference(1, 1, confidence_level=95)


def test_holm_equals_statsmodels_with_ties_and_large_values():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for m in (1, 2, 7, 60):
        p = np.round(rng.uniform(0, 0.4, m) ** 2, 3)  # rounding makes ties
        p[: m // 3] = 0.9
        np.testing.assert_allclose(abstats.adjust_pvalues(p, "holm"), multipletests(p, method="holm")[1])
