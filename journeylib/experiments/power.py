"""Power and sample size for two-arm tests (normal approximation).

Variance conventions (state them when you quote a number):

* **Means** (:func:`sample_size_means`): known per-user standard deviation ``sd``,
  the same in both arms; ``n1 = (z_{1-a} + z_{power})^2 * sd^2 * (1 + 1/ratio) / mde^2``
  (``z_{1-a/2}`` when two-sided). Equals ``statsmodels`` ``NormalIndPower`` with
  ``effect_size = mde / sd``. A t-based calculation (``TTestIndPower``) asks for one
  or two more users per arm.
* **Proportions** (:func:`sample_size_proportions`), ``method="pooled"`` (default;
  Fleiss 1981 without continuity correction, as statsmodels
  ``samplesize_proportions_2indep_onetail``): the null variance uses the average
  proportion ``pbar`` of the two arms, the alternative variance the two arms' own
  ``p(1-p)``:
  ``n1 = (z_a * sqrt(pbar qbar (1 + 1/r)) + z_b * sqrt(p1 q1 + p0 q0 / r))^2 / mde^2``.
  ``method="unpooled"`` uses the alternative variance for both terms:
  ``n1 = (z_a + z_b)^2 (p1 q1 + p0 q0 / r) / mde^2`` (Chow, Shao & Wang, sec. 4.2).
* Sizes are users **per arm** (the control arm; the variant arm gets
  ``ratio * n``), rounded up.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from .statistics import check_alternative, check_level, norm_cdf, norm_ppf, norm_sf
from ..core.checks import is_number
from ..core.errors import JourneyParameterError


def _z(alpha: float, power: float, alternative: str) -> tuple[float, float]:
    check_alternative(alternative)
    check_level(alpha, "alpha")
    check_level(power, "power")
    za = stats.norm.ppf(1 - alpha / 2) if alternative == "two-sided" else stats.norm.ppf(1 - alpha)
    return float(za), float(stats.norm.ppf(power))


def _mde_abs(baseline: float, mde: float, relative: bool) -> float:
    if not is_number(mde):
        raise JourneyParameterError(f"mde={mde!r}; expected a non-zero number (the effect to detect)")
    d = baseline * mde if relative else mde
    if d == 0 or not np.isfinite(d):
        raise JourneyParameterError(f"mde={mde!r}; expected a non-zero effect")
    return abs(float(d))


def sample_size_means(sd: float, mde: float, *, baseline: float | None = None, relative: bool = False,
                      alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided",
                      ratio: float = 1.0) -> int:
    """Users per arm to detect a difference ``mde`` in a mean (per-user ``sd``).

    Parameters
    ----------
    sd
        Per-user standard deviation of the metric (e.g. from a pre-period).
    mde
        Minimum detectable effect: absolute, or relative to ``baseline`` when
        ``relative=True`` (then ``baseline`` is the control mean).
    alpha, power, alternative
        Significance level, target power, and ``"two-sided"`` or one-sided.
    baseline
        Control mean; needed when ``relative=True``.
    relative
        Read ``mde`` as a share of ``baseline`` (0.05 = a 5% lift).
    ratio
        Variant arm size / control arm size.

    Returns
    -------
    int
        Users in the control arm (the variant arm gets ``ratio`` times as many), rounded up.

    Examples
    --------
    >>> import journeylib as jl
    >>> jl.sample_size_means(sd=10.0, mde=1.0)
    1570
    """
    if relative and baseline is None:
        raise JourneyParameterError("relative=True needs baseline= (the control mean)")
    if not sd > 0:
        raise JourneyParameterError(f"sd={sd!r}; expected a positive standard deviation")
    d = _mde_abs(baseline or 1.0, mde, relative)
    za, zb = _z(alpha, power, alternative)
    return math.ceil((za + zb) ** 2 * sd**2 * (1 + 1 / ratio) / d**2 - 1e-9)


def _n_prop(p0: float, p1: float, za: float, zb: float, ratio: float, method: str) -> float:
    v_alt = p1 * (1 - p1) / ratio + p0 * (1 - p0)
    if method == "unpooled":
        return (za + zb) ** 2 * v_alt / (p1 - p0) ** 2
    pbar = (p0 + ratio * p1) / (1 + ratio)
    v_null = pbar * (1 - pbar) * (1 + 1 / ratio)
    return (za * math.sqrt(v_null) + zb * math.sqrt(v_alt)) ** 2 / (p1 - p0) ** 2


def sample_size_proportions(baseline: float, mde: float, *, relative: bool = False, alpha: float = 0.05,
                            power: float = 0.8, alternative: str = "two-sided", ratio: float = 1.0,
                            method: str = "pooled") -> int:
    """Users per arm to detect a change ``mde`` of a conversion rate ``baseline``.

    Parameters
    ----------
    baseline
        Control conversion rate, strictly between 0 and 1.
    mde
        Minimum detectable effect: absolute (0.01 = one percentage point), or relative to
        ``baseline`` when ``relative=True`` (0.10 = a 10% lift).
    relative
        Read ``mde`` as a share of ``baseline``.
    alpha, power, alternative
        Significance level, target power, and ``"two-sided"``, ``"greater"`` or ``"less"``.
    ratio
        Variant arm size / control arm size.
    method
        ``"pooled"`` (Fleiss, as statsmodels) or ``"unpooled"`` (see the module docstring).

    Returns
    -------
    int
        Users in the control arm (the variant arm gets ``ratio`` times as many), rounded up.

    Examples
    --------
    A 5% conversion rate, to detect +1 percentage point, then a 10% relative lift:

    >>> import journeylib as jl
    >>> jl.sample_size_proportions(0.05, 0.01)
    8158
    >>> jl.sample_size_proportions(0.05, 0.10, relative=True)
    31234
    """
    if not 0 < baseline < 1:
        raise JourneyParameterError(f"baseline={baseline!r}; expected a conversion rate strictly between 0 and 1")
    if method not in ("pooled", "unpooled"):
        raise JourneyParameterError(f"method={method!r}; expected 'pooled' or 'unpooled'")
    d = _mde_abs(baseline, mde, relative) * np.sign(mde)
    p1 = baseline + d
    if not 0 < p1 < 1:
        raise JourneyParameterError(f"baseline + mde = {p1:.4g}; expected a rate strictly between 0 and 1")
    za, zb = _z(alpha, power, alternative)
    return math.ceil(_n_prop(baseline, p1, za, zb, ratio, method) - 1e-9)


def mde_means(n: float, sd: float, *, alpha: float = 0.05, power: float = 0.8,
              alternative: str = "two-sided", ratio: float = 1.0) -> float:
    """Smallest absolute difference in means detectable with ``n`` control users (and ``ratio*n`` variant users).

    Parameters
    ----------
    n
        Users in the control arm (more than one).
    sd
        Per-user standard deviation of the metric.
    alpha, power, alternative
        Significance level, target power, and ``"two-sided"``, ``"greater"`` or ``"less"``.
    ratio
        Variant arm size / control arm size.

    Returns
    -------
    float
        The minimum detectable difference, in the metric's units.

    Examples
    --------
    >>> import journeylib as jl
    >>> round(jl.mde_means(1000, sd=10.0), 3)
    1.253
    """
    if not n > 1:
        raise JourneyParameterError(f"n={n!r}; expected more than one user per arm")
    za, zb = _z(alpha, power, alternative)
    return float((za + zb) * sd * math.sqrt((1 + 1 / ratio) / n))


def mde_proportions(n: float, baseline: float, *, alpha: float = 0.05, power: float = 0.8,
                    alternative: str = "two-sided", ratio: float = 1.0, method: str = "pooled") -> float:
    """Smallest absolute increase of ``baseline`` detectable with ``n`` users per arm (solves the sample-size formula).

    Parameters
    ----------
    n
        Users in the control arm (more than one).
    baseline
        Control conversion rate, strictly between 0 and 1.
    alpha, power, alternative
        Significance level, target power, and ``"two-sided"``, ``"greater"`` or ``"less"``.
    ratio
        Variant arm size / control arm size.
    method
        ``"pooled"`` or ``"unpooled"``, as in :func:`sample_size_proportions`.

    Returns
    -------
    float
        The detectable increase in conversion rate (0.01 = one percentage point); NaN when
        no increase up to a rate of 1 is detectable.

    Examples
    --------
    >>> import journeylib as jl
    >>> round(jl.mde_proportions(8000, 0.05), 4)
    0.0101
    """
    if not n > 1:
        raise JourneyParameterError(f"n={n!r}; expected more than one user per arm")
    if not 0 < baseline < 1:
        raise JourneyParameterError(f"baseline={baseline!r}; expected a rate strictly between 0 and 1")
    za, zb = _z(alpha, power, alternative)
    f = lambda d: _n_prop(baseline, baseline + d, za, zb, ratio, method) - n
    hi = 1 - baseline - 1e-9
    if f(hi) > 0:
        return float("nan")  # not detectable even at p1 -> 1
    return float(optimize.brentq(f, 1e-9, hi, xtol=1e-10))


def achieved_power(effect: float, se: float, *, alpha: float = 0.05, alternative: str = "two-sided") -> float:
    """Power of a z-test with standard error ``se`` against a true difference ``effect``.

    Use it with a pre-registered MDE, not with the observed effect ("observed power"
    is a restatement of the p-value and says nothing new).

    Parameters
    ----------
    effect
        The true difference to detect, in the metric's units.
    se
        Standard error of the estimated difference.
    alpha, alternative
        Significance level, and ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns
    -------
    float
        The probability of a significant result; NaN when ``se`` is not positive.

    Examples
    --------
    >>> import journeylib as jl
    >>> round(jl.achieved_power(0.01, se=0.004), 3)
    0.705
    """
    check_alternative(alternative)
    if not se > 0:
        return float("nan")
    shift = effect / se
    if alternative == "two-sided":
        z = norm_ppf(1 - alpha / 2)
        return float(norm_sf(z - shift) + norm_cdf(-z - shift))
    z = norm_ppf(1 - alpha)
    return float(norm_sf(z - shift) if alternative == "greater" else norm_cdf(-z - shift))
