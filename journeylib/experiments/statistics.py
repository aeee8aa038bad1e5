"""Frequentist A/B statistics from per-variant sufficient statistics.

Everything here works on numpy arrays of sufficient statistics (``n``, sum, sum of
squares, cross products), so one call evaluates thousands of comparisons at once
(the coverage simulations in the tests rely on that) and no function ever needs
the per-user rows.

Conventions
-----------
* ``alternative`` is ``"two-sided"``, ``"greater"`` (variant > control) or
  ``"less"``, as in scipy. Confidence intervals follow the alternative: a one-sided
  test gets a one-sided interval (one bound infinite).
* Variances are sample variances (``ddof=1``).
* Conversion: the p-value is the two-proportion z-test with the pooled variance
  under H0 (as :func:`statsmodels.stats.proportion.proportions_ztest`); the CI of the
  difference is Newcombe's hybrid score interval (as
  ``confint_proportions_2indep(method="newcomb")``), the kit's one interval of a
  difference of two shares (campaign holdouts, periods, segments, calibration). The A/B
  readout's absolute difference uses :func:`wald_proportion_test` instead, whose
  interval and p-value come from one statistic.
* Means: Welch's t-test with Welch-Satterthwaite degrees of freedom (as
  ``scipy.stats.ttest_ind(equal_var=False)``).
* Ratio metrics (sum of numerator / sum of denominator per variant, e.g. revenue
  per order): delta-method variance, z-test.
* Relative lift ``mean_variant / mean_control - 1`` (:func:`relative_test`): delta
  method (first-order Taylor expansion of the ratio of two independent means),
  ``Var = se1^2 / m0^2 + m1^2 se0^2 / m0^4``, tested and bounded with ONE distribution:
  Student t with the Welch-Satterthwaite degrees of freedom of the two arms (normal
  when ``df`` is infinite, e.g. ratio metrics), the same quantile for the interval and
  the p-value, so the interval excludes 0 exactly when ``pvalue < 1 - confidence_level``.
  This is GrowthBook gbstats' ``TwoSidedTTest`` (frequentist/tests.py); conversion
  uses gbstats' variance ``p(1-p)`` per user. Fieller's interval is not used; with the
  sample sizes of online tests and a control mean many standard errors away from zero,
  the two agree closely.
* Absolute difference of conversion rates (:func:`wald_proportion_test`): unpooled
  Wald z for both the p-value and the interval (``p(1-p)/n`` per arm), so they
  agree; :func:`two_proportion_test` keeps the classic pooled-variance p-value.
* CUPED with a constant (or empty: nobody active) pre-period cannot adjust anything:
  :func:`cuped` warns with :class:`journeylib.core.errors.JourneyDataWarning` and
  returns the unadjusted means (``theta = 0``).
* CUPED: ``theta = cov(Y, X) / var(X)`` from all arms pooled, each arm's mean
  adjusted by ``theta * (mean_X(arm) - mean_X(pooled))``; variances are the
  within-arm residual variances ``var(Y) - 2 theta cov(Y, X) + theta^2 var(X)``
  (the estimation error of theta is ignored, as in Deng et al. 2013).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from . import plots
from ..core.display import format_number, format_pvalue  # noqa: F401 - re-exported (readout, notebooks)
from ..core.errors import JourneyDataWarning, JourneyParameterError
from ..core.result import Check, Finding, Result

ALTERNATIVES = ("two-sided", "greater", "less")


# Distribution functions as scipy.special ufuncs: the same values as scipy.stats.norm /
# scipy.stats.t (df=inf is the normal), without the per-call argument checks that made
# them most of the cost of a readout with dozens of comparisons.
def norm_sf(x):
    """Standard normal survival function ``P(Z > x)`` (as ``scipy.stats.norm.sf``).

    Parameters
    ----------
    x
        Number or array.

    Returns
    -------
    numpy.ndarray
        ``P(Z > x)``, elementwise.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.norm_sf(1.96)), 4)
    0.025
    """
    return special.ndtr(-np.asarray(x, dtype=float))


def norm_cdf(x):
    """Standard normal distribution function ``P(Z <= x)`` (as ``scipy.stats.norm.cdf``).

    Parameters
    ----------
    x
        Number or array.

    Returns
    -------
    numpy.ndarray
        ``P(Z <= x)``, elementwise.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.norm_cdf(1.96)), 4)
    0.975
    """
    return special.ndtr(np.asarray(x, dtype=float))


def norm_ppf(q):
    """Standard normal quantile function (as ``scipy.stats.norm.ppf``).

    Parameters
    ----------
    q
        Probability or array of probabilities.

    Returns
    -------
    numpy.ndarray
        The quantiles, elementwise.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.norm_ppf(0.975)), 3)
    1.96
    """
    return special.ndtri(np.asarray(q, dtype=float))


def t_sf(x, df):
    """Student t survival function ``P(T > x)`` with ``df`` degrees of freedom (``inf``: normal).

    Parameters
    ----------
    x, df
        Numbers or arrays (broadcast).

    Returns
    -------
    numpy.ndarray
        ``P(T > x)``, elementwise.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.t_sf(2.0, 10)), 4)
    0.0367
    """
    return special.stdtr(np.asarray(df, dtype=float), -np.asarray(x, dtype=float))


def t_cdf(x, df):
    """Student t distribution function ``P(T <= x)`` with ``df`` degrees of freedom.

    Parameters
    ----------
    x, df
        Numbers or arrays (broadcast).

    Returns
    -------
    numpy.ndarray
        ``P(T <= x)``, elementwise.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.t_cdf(2.0, 10)), 4)
    0.9633
    """
    return special.stdtr(np.asarray(df, dtype=float), np.asarray(x, dtype=float))


def t_ppf(q, df):
    """Student t quantile function with ``df`` degrees of freedom (``inf``: normal).

    Parameters
    ----------
    q, df
        Probabilities and degrees of freedom (numbers or arrays, broadcast).

    Returns
    -------
    numpy.ndarray
        The quantiles, elementwise.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.t_ppf(0.975, 10)), 3)
    2.228
    """
    return special.stdtrit(np.asarray(df, dtype=float), np.asarray(q, dtype=float))


def check_alternative(alternative: str) -> str:
    """Return ``alternative`` when it is one of :data:`ALTERNATIVES`, else raise :class:`JourneyParameterError`.

    Parameters
    ----------
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns
    -------
    str
        ``alternative`` unchanged.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> st.check_alternative("greater")
    'greater'
    """
    if alternative not in ALTERNATIVES:
        raise JourneyParameterError(f"alternative={alternative!r}; expected one of {ALTERNATIVES}")
    return alternative


def check_level(confidence_level: float, name: str = "confidence_level") -> float:
    """Return a level strictly between 0 and 1 as a float, else raise :class:`JourneyParameterError`.

    Parameters
    ----------
    confidence_level
        The level to check (also used for ``alpha`` and ``power``).
    name
        The parameter's name in the error message.

    Returns
    -------
    float
        The level.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> st.check_level(0.9)
    0.9
    """
    if not 0 < confidence_level < 1:
        raise JourneyParameterError(f"{name}={confidence_level!r}; expected a number strictly between 0 and 1")
    return float(confidence_level)


def mean_var(n, s, ss):
    """Mean and sample variance (ddof=1) from ``n``, sum and sum of squares.

    Parameters
    ----------
    n, s, ss
        Count, sum and sum of squares (numbers or arrays).

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean, variance)``.

    Examples
    --------
    The values 1, 2, 3, 4:

    >>> from journeylib.experiments import statistics as st
    >>> mean, var = st.mean_var(4, 10, 30)
    >>> float(mean), round(float(var), 4)
    (2.5, 1.6667)
    """
    n, s, ss = (np.asarray(v, dtype=float) for v in (n, s, ss))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
        var = np.clip((ss - n * mean**2) / (n - 1), 0, None)
    return mean, var


def covariance(n, sx, sy, sxy):
    """Sample covariance (ddof=1) from ``n``, the two sums and the cross-product sum.

    Parameters
    ----------
    n
        Count.
    sx, sy
        Sums of the two variables.
    sxy
        Sum of their products.

    Returns
    -------
    numpy.ndarray
        The sample covariance.

    Examples
    --------
    ``x = 1, 2, 3, 4`` and ``y = 2, 1, 2, 1``:

    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.covariance(4, 10, 6, 14)), 4)
    -0.3333
    """
    n, sx, sy, sxy = (np.asarray(v, dtype=float) for v in (n, sx, sy, sxy))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (sxy - sx * sy / n) / (n - 1)


def _pvalue_from_dist(statistic, alternative, sf, cdf):
    if alternative == "two-sided":
        return np.clip(2 * sf(np.abs(statistic)), 0, 1)
    if alternative == "greater":
        return sf(statistic)
    return cdf(statistic)


def _interval(est, se, q_two, q_one, alternative):
    if alternative == "two-sided":
        return est - q_two * se, est + q_two * se
    if alternative == "greater":
        return est - q_one * se, np.full_like(np.asarray(est, dtype=float), np.inf)
    return np.full_like(np.asarray(est, dtype=float), -np.inf), est + q_one * se


def z_inference(est, se, *, null: float = 0.0, alternative: str = "two-sided",
                confidence_level: float = 0.95) -> dict[str, np.ndarray]:
    """z statistic, p-value and confidence interval of an estimate with standard error ``se``.

    Parameters
    ----------
    est, se
        Estimate and its standard error (numbers or arrays).
    null
        Value of the estimate under the null hypothesis.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``; a one-sided test gets a one-sided interval.
    confidence_level
        Level of the interval.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``estimate, se, statistic, pvalue, ci_low, ci_high``.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> r = st.z_inference(0.5, 0.2)
    >>> float(r["statistic"]), round(float(r["pvalue"]), 4)
    (2.5, 0.0124)
    >>> round(float(r["ci_low"]), 3), round(float(r["ci_high"]), 3)
    (0.108, 0.892)
    """
    check_alternative(alternative)
    check_level(confidence_level)
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (est - null) / se
    p = _pvalue_from_dist(z, alternative, norm_sf, norm_cdf)
    a = 1 - confidence_level
    lo, hi = _interval(est, se, norm_ppf(1 - a / 2), norm_ppf(1 - a), alternative)
    return {"estimate": est, "se": se, "statistic": z, "pvalue": p, "ci_low": lo, "ci_high": hi}


def welch_test(mean1, var1, n1, mean0, var0, n0, *, alternative: str = "two-sided",
               confidence_level: float = 0.95) -> dict[str, np.ndarray]:
    """Welch's t-test of ``mean1 - mean0`` (group 1 = variant, 0 = control).

    Matches ``scipy.stats.ttest_ind_from_stats(..., equal_var=False)``.

    Parameters
    ----------
    mean1, var1, n1
        Mean, sample variance and size of the variant (numbers or arrays).
    mean0, var0, n0
        The same for the control.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    confidence_level
        Level of the interval.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``estimate, se, df, statistic, pvalue, ci_low, ci_high``.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> r = st.welch_test(10.5, 4.0, 100, 10.0, 4.0, 100)
    >>> float(r["df"]), round(float(r["statistic"]), 3), round(float(r["pvalue"]), 4)
    (198.0, 1.768, 0.0786)
    """
    check_alternative(alternative)
    check_level(confidence_level)
    mean1, var1, n1, mean0, var0, n0 = (np.asarray(v, dtype=float) for v in (mean1, var1, n1, mean0, var0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        a1, a0 = var1 / n1, var0 / n0
        se = np.sqrt(a1 + a0)
        df = (a1 + a0) ** 2 / (a1**2 / (n1 - 1) + a0**2 / (n0 - 1))
        est = mean1 - mean0
        t = est / se
    p = _pvalue_from_dist(t, alternative, lambda x: t_sf(x, df), lambda x: t_cdf(x, df))
    a = 1 - confidence_level
    lo, hi = _interval(est, se, t_ppf(1 - a / 2, df), t_ppf(1 - a, df), alternative)
    return {"estimate": est, "se": se, "df": df, "statistic": t, "pvalue": p, "ci_low": lo, "ci_high": hi}


def two_proportion_test(x1, n1, x0, n0, *, alternative: str = "two-sided",
                        confidence_level: float = 0.95) -> dict[str, np.ndarray]:
    """Two-proportion z-test of ``p1 - p0``: pooled-variance p-value, Newcombe's hybrid score interval.

    The statistic and p-value equal ``statsmodels.stats.proportion.proportions_ztest``
    (``[x1, x0], [n1, n0]``); the interval is statsmodels'
    ``confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")``, the
    kit's one interval of a difference of two shares (from Wilson intervals: it keeps its
    coverage for small groups and shares near 0 or 1, where the Wald interval of 0 of 40
    against 0 of 50 has no width at all). ``se`` is the unpooled standard error.

    Parameters
    ----------
    x1, n1
        Conversions and users of the variant (numbers or arrays).
    x0, n0
        Conversions and users of the control.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    confidence_level
        Level of the interval.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``estimate, se, statistic, pvalue, ci_low, ci_high``.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> r = st.two_proportion_test(120, 1000, 100, 1000)
    >>> round(float(r["estimate"]), 3), round(float(r["pvalue"]), 4)
    (0.02, 0.1529)
    >>> round(float(r["ci_low"]), 4), round(float(r["ci_high"]), 4)
    (-0.0075, 0.0476)
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    x1, n1, x0, n0 = (np.asarray(v, dtype=float) for v in (x1, n1, x0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = x1 / n1, x0 / n0
        pooled = (x1 + x0) / (n1 + n0)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    out = z_inference(p1 - p0, se, alternative=alternative, confidence_level=confidence_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p0) / se0
        # a one-sided test gets the one-sided bound: the matching end of the interval at twice alpha
        a = (1 - confidence_level) * (1 if alternative == "two-sided" else 2)
        lo, hi = (np.asarray(v, float) for v in confint_proportions_2indep(
            x1, n1, x0, n0, method="newcomb", compare="diff", alpha=a))
    out["statistic"] = z
    out["pvalue"] = _pvalue_from_dist(z, alternative, norm_sf, norm_cdf)
    out["ci_low"] = np.full_like(lo, -np.inf) if alternative == "less" else lo
    out["ci_high"] = np.full_like(hi, np.inf) if alternative == "greater" else hi
    return out


def relative_lift(mean1, se1, mean0, se0, *, alternative: str = "two-sided",
                  confidence_level: float = 0.95) -> dict[str, np.ndarray]:
    """Relative lift ``mean1 / mean0 - 1`` with a delta-method standard error, normal quantiles.

    ``se1``/``se0`` are the standard errors of the two (independent) means:
    ``Var(m1/m0) ~ se1^2 / m0^2 + m1^2 se0^2 / m0^4``. The readout uses
    :func:`relative_test` (t with Welch degrees of freedom, as gbstats); this is its
    large-sample limit (``df = inf``).

    Parameters
    ----------
    mean1, se1
        Mean of the variant and its standard error (numbers or arrays).
    mean0, se0
        Mean of the control and its standard error.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    confidence_level
        Level of the interval.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``estimate, se, df, statistic, pvalue, ci_low, ci_high``.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> r = st.relative_lift(0.12, 0.0103, 0.10, 0.0095)
    >>> round(float(r["estimate"]), 3), round(float(r["ci_low"]), 3), round(float(r["ci_high"]), 3)
    (0.2, -0.101, 0.501)
    """
    return relative_test(mean1, se1, mean0, se0, df=np.inf, alternative=alternative,
                         confidence_level=confidence_level)


def welch_df(se1, n1, se0, n0):
    """Welch-Satterthwaite degrees of freedom from the standard errors of two means and their sizes.

    Parameters
    ----------
    se1, n1
        Standard error of the variant's mean and its size (numbers or arrays).
    se0, n0
        The same for the control.

    Returns
    -------
    numpy.ndarray
        The degrees of freedom.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> round(float(st.welch_df(0.2, 100, 0.3, 80)), 1)
    142.4
    """
    se1, n1, se0, n0 = (np.asarray(v, dtype=float) for v in (se1, n1, se0, n0))
    a1, a0 = se1**2, se0**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a1 + a0) ** 2 / (a1**2 / (n1 - 1) + a0**2 / (n0 - 1))


def relative_test(mean1, se1, mean0, se0, *, df=np.inf, alternative: str = "two-sided",
                  confidence_level: float = 0.95) -> dict[str, np.ndarray]:
    """Test of the relative lift ``mean1 / mean0 - 1``: delta-method variance, Student t with ``df``.

    ``se1``/``se0`` are the standard errors of the two (independent) means (per-user
    variance / n; for conversion ``p(1-p)/n``); ``df`` the Welch-Satterthwaite degrees of
    freedom (:func:`welch_df`), or ``inf`` for a normal test. The p-value and the
    interval use the same distribution, so the interval excludes 0 exactly when
    ``pvalue < 1 - confidence_level``. Equals gbstats' ``TwoSidedTTest`` (and its
    one-sided variants) on the same sufficient statistics.

    Parameters
    ----------
    mean1, se1
        Mean of the variant and its standard error (numbers or arrays).
    mean0, se0
        Mean of the control and its standard error.
    df
        Degrees of freedom (:func:`welch_df`); ``inf`` for a normal test.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    confidence_level
        Level of the interval.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``estimate, se, df, statistic, pvalue, ci_low, ci_high``.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> r = st.relative_test(0.12, 0.0103, 0.10, 0.0095, df=1900)
    >>> round(float(r["estimate"]), 3), round(float(r["pvalue"]), 4)
    (0.2, 0.1932)
    >>> round(float(r["ci_low"]), 3), round(float(r["ci_high"]), 3)
    (-0.101, 0.501)
    """
    check_alternative(alternative)
    check_level(confidence_level)
    mean1, se1, mean0, se0 = (np.asarray(v, dtype=float) for v in (mean1, se1, mean0, se0))
    df = np.broadcast_to(np.asarray(df, dtype=float), np.broadcast(mean1, mean0).shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = mean1 / mean0 - 1
        se = np.sqrt(se1**2 / mean0**2 + mean1**2 * se0**2 / mean0**4)
        stat = est / se
    p = _pvalue_from_dist(stat, alternative, lambda x: t_sf(x, df), lambda x: t_cdf(x, df))
    a = 1 - confidence_level
    lo, hi = _interval(est, se, t_ppf(1 - a / 2, df), t_ppf(1 - a, df), alternative)
    return {"estimate": est, "se": se, "df": np.array(df, dtype=float), "statistic": stat, "pvalue": p,
            "ci_low": lo, "ci_high": hi}


def wald_proportion_test(x1, n1, x0, n0, *, alternative: str = "two-sided",
                         confidence_level: float = 0.95) -> dict[str, np.ndarray]:
    """Wald z-test of ``p1 - p0`` with unpooled variances ``p(1-p)/n``: the p-value and the interval
    come from the same statistic (they agree on significance).

    Equals ``statsmodels.stats.proportion.test_proportions_2indep(..., method="wald")`` and
    ``confint_proportions_2indep(..., method="wald")``.

    Parameters
    ----------
    x1, n1
        Conversions and users of the variant (numbers or arrays).
    x0, n0
        Conversions and users of the control.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    confidence_level
        Level of the interval.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``estimate, se, statistic, pvalue, ci_low, ci_high``.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> r = st.wald_proportion_test(120, 1000, 100, 1000)
    >>> round(float(r["statistic"]), 3), round(float(r["pvalue"]), 4)
    (1.43, 0.1527)
    """
    x1, n1, x0, n0 = (np.asarray(v, dtype=float) for v in (x1, n1, x0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = x1 / n1, x0 / n0
        se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return z_inference(p1 - p0, se, alternative=alternative, confidence_level=confidence_level)


# format_pvalue and format_number live in journeylib.core.display (imported above).


def ratio_stats(n, s_num, s_den, ss_num, ss_den, s_num_den):
    """Ratio metric ``sum(num) / sum(den)`` and the delta-method variance of that ratio.

    Users are the randomisation unit; numerator and denominator are per-user sums
    (e.g. revenue and orders): ``var = (var_N - 2 R cov_ND + R^2 var_D) / (n * mean_D^2)``.

    Parameters
    ----------
    n
        Users.
    s_num, s_den
        Sums over users of the numerator and of the denominator.
    ss_num, ss_den
        Their sums of squares.
    s_num_den
        Sum of their products.

    Returns
    -------
    tuple of numpy.ndarray
        ``(ratio, var_of_ratio)``.

    Examples
    --------
    100 users with 500 in revenue over 120 orders:

    >>> from journeylib.experiments import statistics as st
    >>> r, var = st.ratio_stats(100, 500.0, 120.0, 4000.0, 200.0, 800.0)
    >>> round(float(r), 3), round(float(var), 4)
    (4.167, 0.0565)
    """
    n = np.asarray(n, dtype=float)
    mn, vn = mean_var(n, s_num, ss_num)
    md, vd = mean_var(n, s_den, ss_den)
    cnd = covariance(n, s_num, s_den, s_num_den)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = mn / md
        var = np.clip(vn - 2 * r * cnd + r**2 * vd, 0, None) / (n * md**2)
    return r, var


@dataclass(frozen=True, repr=False)
class CupedAdjustment(Result):
    """CUPED adjustment of several arms computed from pooled sufficient statistics.

    ``summary``: one row per arm (adjusted mean, pre-period mean, per-user variance
    before and after); ``findings``: the share of variance removed.

    Attributes
    ----------
    theta
        The CUPED coefficient ``cov(Y, X) / var(X)`` (0 when the pre-period is constant).
    correlation
        Correlation of the metric with its pre-period value, all arms pooled.
    mean, var
        Adjusted mean and per-user residual variance of each arm.
    raw_var
        Per-user variance of each arm before the adjustment.
    pre_mean
        Pre-period mean of each arm.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> adj = st.cuped([100, 100], [50.0, 60.0], [60.0, 80.0], [40.0, 42.0], [50.0, 55.0], [35.0, 45.0])
    >>> round(adj.theta, 3), round(adj.variance_reduction, 3)
    (0.489, 0.215)
    >>> list(adj.summary.columns)
    ['arm', 'adjusted_mean', 'pre_mean', 'raw_var', 'adjusted_var', 'theta', 'pre_correlation']
    """

    theta: float
    correlation: float
    mean: np.ndarray  # adjusted mean per arm
    var: np.ndarray  # per-unit residual variance per arm
    raw_var: np.ndarray  # per-unit variance per arm before adjustment
    pre_mean: np.ndarray  # covariate mean per arm

    @property
    def variance_reduction(self) -> float:
        """Share of variance removed, ``1 - sum(var_adj/n) / sum(var/n)`` over arms (equal n: ~rho^2)."""
        raw = float(np.sum(self.raw_var))
        return float(1 - np.sum(self.var) / raw) if raw > 0 else 0.0

    @property
    def summary(self) -> pd.DataFrame:
        """One row per arm: adjusted mean, pre-period mean, variance before and after, ``theta``."""
        mean = np.atleast_1d(self.mean)
        return pd.DataFrame({"arm": np.arange(len(mean)), "adjusted_mean": mean,
                             "pre_mean": np.atleast_1d(self.pre_mean), "raw_var": np.atleast_1d(self.raw_var),
                             "adjusted_var": np.atleast_1d(self.var), "theta": self.theta,
                             "pre_correlation": self.correlation})

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One sentence: the share of variance the pre-period removes."""
        vr = self.variance_reduction
        return (Finding(f"The pre-period explains {vr:.0%} of the metric's variance (correlation "
                        f"{self.correlation:.2f}), so the adjusted comparison needs about {vr:.0%} fewer users "
                        "for the same precision.", value=vr),)

    def plot(self, ax=None, *, arms: Sequence[str] | None = None):
        """Per-user variance per arm before and after the adjustment."""
        return plots.plot_cuped(self, ax=ax, arms=arms)


def constant_variance(var, mean) -> np.ndarray:
    """True where a sample variance computed from sums is zero up to rounding (a constant value).

    Parameters
    ----------
    var, mean
        Sample variances and the means they belong to (numbers or arrays).

    Returns
    -------
    numpy.ndarray
        Booleans, elementwise.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> st.constant_variance([0.0, 1.0], [3.0, 3.0]).tolist()
    [True, False]
    """
    var, mean = np.asarray(var, dtype=float), np.asarray(mean, dtype=float)
    with np.errstate(invalid="ignore"):
        return ~(var > 1e-12 * np.maximum(1.0, mean**2))


CONSTANT_PRE_PERIOD = ("CUPED: the pre-period value is the same for every user (or there is no pre-period "
                       "activity), so it cannot explain any variance; the unadjusted comparison is used")


def cuped(n, s_y, ss_y, s_x, ss_x, s_xy) -> CupedAdjustment:
    """CUPED-adjust the means of several arms (arrays, one entry per arm).

    ``theta`` and the correlation come from all arms pooled; see the module docstring.
    A constant or empty pre-period warns (:class:`journeylib.core.errors.JourneyDataWarning`)
    and leaves the means unadjusted (``theta = 0``).

    Parameters
    ----------
    n
        Users per arm.
    s_y, ss_y
        Sum and sum of squares of the metric per arm.
    s_x, ss_x
        Sum and sum of squares of the pre-period value per arm.
    s_xy
        Sum of the products of metric and pre-period value per arm.

    Returns
    -------
    CupedAdjustment
        ``theta``, the correlation, and each arm's adjusted mean and variances.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> adj = st.cuped([100, 100], [50.0, 60.0], [60.0, 80.0], [40.0, 42.0], [50.0, 55.0], [35.0, 45.0])
    >>> adj.mean.round(4).tolist()
    [0.5049, 0.5951]
    """
    n, s_y, ss_y, s_x, ss_x, s_xy = (np.asarray(v, dtype=float) for v in (n, s_y, ss_y, s_x, ss_x, s_xy))
    N = n.sum()
    _, vy_all = mean_var(N, s_y.sum(), ss_y.sum())
    mx_all, vx_all = mean_var(N, s_x.sum(), ss_x.sum())
    cxy_all = covariance(N, s_x.sum(), s_y.sum(), s_xy.sum())
    my, vy = mean_var(n, s_y, ss_y)
    mx, vx = mean_var(n, s_x, ss_x)
    if constant_variance(vx_all, mx_all):
        warnings.warn(CONSTANT_PRE_PERIOD, JourneyDataWarning, stacklevel=2)
        return CupedAdjustment(0.0, 0.0, my, vy, vy, mx)
    theta = float(cxy_all / vx_all)
    rho = float(cxy_all / np.sqrt(vx_all * vy_all)) if vy_all > 0 else 0.0
    cxy = covariance(n, s_x, s_y, s_xy)
    adj_mean = my - theta * (mx - mx_all)
    adj_var = np.clip(vy - 2 * theta * cxy + theta**2 * vx, 0, None)
    return CupedAdjustment(theta, rho, adj_mean, adj_var, vy, mx)


def cuped_vectorised(n, s_y, ss_y, s_x, ss_x, s_xy):
    """CUPED for many two-arm experiments at once: inputs have shape ``(..., 2)``.

    Used by simulations; same formulas as :func:`cuped` (a constant pre-period gives
    ``theta = 0`` without a warning).

    Parameters
    ----------
    n, s_y, ss_y, s_x, ss_x, s_xy
        As in :func:`cuped`, with shape ``(..., 2)``: one pair of arms per leading index.

    Returns
    -------
    tuple of numpy.ndarray
        ``(adjusted_mean, adjusted_var, theta)``, the arm axis last (``theta`` without it).

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> mean, var, theta = st.cuped_vectorised([[100, 100]], [[50.0, 60.0]], [[60.0, 80.0]],
    ...                                        [[40.0, 42.0]], [[50.0, 55.0]], [[35.0, 45.0]])
    >>> mean.round(4).tolist(), theta.round(3).tolist()
    ([[0.5049, 0.5951]], [0.489])
    """
    n, s_y, ss_y, s_x, ss_x, s_xy = (np.asarray(v, dtype=float) for v in (n, s_y, ss_y, s_x, ss_x, s_xy))
    tot = lambda a: a.sum(axis=-1, keepdims=True)
    N = tot(n)
    mx_all, vx_all = mean_var(N, tot(s_x), tot(ss_x))
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(constant_variance(vx_all, mx_all), 0.0,
                         covariance(N, tot(s_x), tot(s_y), tot(s_xy)) / vx_all)
    my, vy = mean_var(n, s_y, ss_y)
    mx, vx = mean_var(n, s_x, ss_x)
    cxy = covariance(n, s_x, s_y, s_xy)
    return my - theta * (mx - mx_all), np.clip(vy - 2 * theta * cxy + theta**2 * vx, 0, None), theta[..., 0]


@dataclass(frozen=True)
class SRMResult(Result):
    """Sample-ratio-mismatch check: chi-square goodness of fit against the planned split.

    ``statistic``/``pvalue`` as :func:`scipy.stats.chisquare`; the check fails below
    ``threshold`` and warns below ``warn_threshold``. There is no single estimate, so
    no ``confidence_interval``.

    Attributes
    ----------
    experiment
        The experiment's name (may be empty).
    variants, observed, planned_share
        Arm names, users per arm and the planned share of each arm (summing to 1).
    statistic, pvalue
        Chi-square statistic and its p-value.
    threshold, warn_threshold
        p-values below which the check fails / warns.

    Examples
    --------
    >>> import journeylib as jl
    >>> srm = jl.srm_test([352, 264], experiment="email_send_time", variants=["control", "morning"])
    >>> srm.passed, srm.flag
    (False, 'FAILED')
    >>> srm.summary[["variant", "users", "planned_share"]]
       variant  users  planned_share
    0  control    352            0.5
    1  morning    264            0.5
    """

    experiment: str
    variants: tuple[str, ...]
    observed: tuple[int, ...]
    planned_share: tuple[float, ...]
    statistic: float
    pvalue: float
    threshold: float
    warn_threshold: float = 0.05

    @property
    def passed(self) -> bool:
        """True when the split is consistent with the plan (``pvalue >= threshold``)."""
        return bool(self.pvalue >= self.threshold)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per variant: users, observed and planned share, expected users, the p-value and the verdict."""
        total = sum(self.observed)
        return pd.DataFrame({
            "experiment": self.experiment,
            "variant": list(self.variants),
            "users": list(self.observed),
            "observed_share": [o / total for o in self.observed],
            "planned_share": list(self.planned_share),
            "expected_users": [total * s for s in self.planned_share],
            "srm_pvalue": self.pvalue,
            "srm_passed": self.passed,
        })

    @property
    def flag(self) -> str:
        """``"FAILED"`` below ``threshold``, ``"CHECK"`` below ``warn_threshold`` (worth a look), else ``"ok"``."""
        return "FAILED" if not self.passed else ("CHECK" if self.pvalue < self.warn_threshold else "ok")

    @property
    def checks(self) -> tuple[Check, ...]:
        """One check: ``fail`` below ``threshold``, ``warn`` below ``warn_threshold``, else ``pass``."""
        name = f"SRM: {self.experiment}" if self.experiment else "SRM"
        if not self.passed:
            return (Check(name, "fail", self.message()),)
        if self.pvalue < self.warn_threshold:
            return (Check(name, "warn", f"possible sample ratio mismatch in {self.experiment or 'the split'}: "
                                        f"chi-square p={self.pvalue:.2g} < {self.warn_threshold:g} (failure level "
                                        f"{self.threshold:g} not reached); check assignment and logging"),)
        return (Check(name, "pass", self.message()),)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One sentence: the observed split against the plan, and what to do when it is off."""
        total = sum(self.observed) or 1
        split = ", ".join(f"{v} {o / total:.1%}" for v, o in zip(self.variants, self.observed))
        plan = "/".join(f"{s:.0%}" for s in self.planned_share)
        where = f" of {self.experiment}" if self.experiment else ""
        if not self.passed:
            return (Finding(f"The split of users{where} ({split}) is off the planned {plan} far more than chance "
                            f"allows (p={self.pvalue:.2g}): assignment or logging is broken.", value=self.pvalue,
                            action="Do not act on this experiment's results until the cause is found."),)
        if self.pvalue < self.warn_threshold:
            return (Finding(f"The split of users{where} ({split}) is somewhat off the planned {plan} "
                            f"(p={self.pvalue:.2g}).", value=self.pvalue,
                            action="Check assignment and logging before relying on the results."),)
        return (Finding(f"The split of users{where} ({split}) matches the planned {plan} (p={self.pvalue:.2g}).",
                        value=self.pvalue),)

    def plot(self, ax=None):
        """Observed vs planned share of users per variant."""
        return plots.plot_srm(self, ax=ax)

    def message(self) -> str:
        """The check in one line: consistent with the plan, or a sample ratio mismatch."""
        split = ", ".join(f"{v}={o:,}" for v, o in zip(self.variants, self.observed))
        plan = "/".join(f"{s:.0%}" for s in self.planned_share)
        if self.passed:
            return f"{self.experiment}: split {split} is consistent with the planned {plan} (chi-square p={self.pvalue:.3g})."
        return (f"SAMPLE RATIO MISMATCH in {self.experiment}: split {split} vs planned {plan} "
                f"(chi-square p={self.pvalue:.2g} < {self.threshold:g}). Assignment or logging is broken; "
                "do not trust this experiment's results until the cause is found.")

    def __repr__(self) -> str:
        return f"SRMResult({self.message()})"


def srm_test(observed: Sequence[int], planned_share: Sequence[float] | None = None, *,
             experiment: str = "", variants: Sequence[str] | None = None,
             threshold: float = 0.001, warn_threshold: float = 0.05) -> SRMResult:
    """Chi-square test of observed arm sizes against the planned split.

    Parameters
    ----------
    observed
        Users per arm.
    planned_share
        Planned share per arm (normalised to sum to 1); equal split when ``None``.
    threshold
        p-value below which the check fails (0.001 is the usual SRM threshold: the
        check runs on every experiment, and a real mismatch gives tiny p-values).
    warn_threshold
        p-value below which the check warns (worth a look, not yet a failure).
    experiment, variants
        Names shown in messages and the summary (variants default to ``"0"``, ``"1"``, ...).

    Returns
    -------
    SRMResult
        ``statistic``/``pvalue`` as :func:`scipy.stats.chisquare`, ``passed``, ``checks``.

    Examples
    --------
    >>> import journeylib as jl
    >>> srm = jl.srm_test([5000, 4700])
    >>> round(srm.pvalue, 4), srm.passed, srm.flag
    (0.0023, True, 'CHECK')
    """
    try:
        obs = np.asarray(observed, dtype=float)
    except (TypeError, ValueError):
        obs = np.array([np.nan])
    if obs.ndim != 1 or len(obs) < 2 or not np.all(np.isfinite(obs)) or np.any(obs < 0) or np.any(obs != np.round(obs)):
        raise JourneyParameterError(f"observed={list(observed)!r}; expected the number of users (whole numbers "
                                    ">= 0) of at least two arms")
    share = np.full(len(obs), 1 / len(obs)) if planned_share is None else np.asarray(planned_share, dtype=float)
    if share.shape != obs.shape or np.any(share <= 0):
        raise JourneyParameterError(f"planned_share={list(share)}; expected one positive share per arm ({len(obs)} arms)")
    share = share / share.sum()
    res = stats.chisquare(obs, obs.sum() * share)
    names = tuple(variants) if variants is not None else tuple(str(i) for i in range(len(obs)))
    return SRMResult(experiment, names, tuple(int(o) for o in obs), tuple(float(s) for s in share),
                     float(res.statistic), float(res.pvalue), float(threshold), float(warn_threshold))


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjust a family of p-values: ``"holm"`` (FWER) or ``"fdr_bh"`` (Benjamini-Hochberg FDR).

    Wraps :func:`statsmodels.stats.multitest.multipletests`, except Holm's step-down,
    which is computed here (same values, tested): statsmodels runs ``gc.collect()`` on
    every Holm call, about 0.1 s each in a session with a large heap, which made the
    multiplicity step cost more than all the comparisons of a readout. NaN p-values are
    left out of the family and stay NaN.

    Parameters
    ----------
    pvalues
        The family's p-values.
    method
        ``"holm"``, ``"fdr_bh"`` or ``"bonferroni"``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input's order.

    Examples
    --------
    >>> from journeylib.experiments import statistics as st
    >>> st.adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> st.adjust_pvalues([0.01, 0.04, 0.03], "fdr_bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    from statsmodels.stats.multitest import multipletests

    if method not in ("holm", "fdr_bh", "bonferroni"):
        raise JourneyParameterError(f"method={method!r}; expected 'holm', 'fdr_bh' or 'bonferroni'")
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = _holm(p[ok]) if method == "holm" else multipletests(p[ok], method=method)[1]
    return out


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values: running max of ``(m - i) p_(i)``, capped at 1."""
    order = np.argsort(p, kind="mergesort")
    adj = np.minimum(np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1)), 1.0)
    out = np.empty_like(adj)
    out[order] = adj
    return out


def as_float(x: Any) -> float:
    """A number or a 0-d array (e.g. one value of a vectorised test) as a plain float.

    Parameters
    ----------
    x
        The value.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from journeylib.experiments import statistics as st
    >>> st.as_float(np.array(0.25))
    0.25
    """
    return float(np.asarray(x, dtype=float))
