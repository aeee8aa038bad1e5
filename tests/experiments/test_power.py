"""Power and sample size against statsmodels and textbook formulas/rules."""
from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

from journeylib.experiments import power
from journeylib.core.errors import JourneyParameterError


@pytest.mark.parametrize("d,ratio,alt", [(0.2, 1, "two-sided"), (0.1, 2, "two-sided"), (0.3, 1, "larger")])
def test_sample_size_means_matches_statsmodels(d, ratio, alt):
    ours = power.sample_size_means(1.0, d, ratio=ratio, alternative="greater" if alt == "larger" else alt)
    ref = NormalIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8, ratio=ratio, alternative=alt)
    assert ours == math.ceil(ref)
    # the t-test version asks for at most a couple more users per arm
    tref = TTestIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8, ratio=ratio, alternative=alt)
    assert 0 <= math.ceil(tref) - ours <= 2


def test_lehr_rule_of_thumb():
    # van Belle, Statistical Rules of Thumb: n per arm ~ 16 / delta^2 (alpha .05 two-sided, power .8)
    for delta in (0.1, 0.25, 0.5):
        n = power.sample_size_means(1.0, delta)
        assert n == pytest.approx(16 / delta**2, rel=0.03)
    # relative MDE on a mean of 50 with sd 100: 5% lift = 2.5 absolute
    assert power.sample_size_means(100, 0.05, baseline=50, relative=True) == power.sample_size_means(100, 2.5)


def test_sample_size_proportions_pooled_matches_statsmodels():
    # Fleiss (pooled null variance) = statsmodels samplesize_proportions_2indep_onetail
    for p0, p1 in ((0.20, 0.25), (0.05, 0.06), (0.5, 0.45)):
        ref = samplesize_proportions_2indep_onetail(p1 - p0, p0, 0.8, alpha=0.05)
        assert power.sample_size_proportions(p0, p1 - p0) == math.ceil(ref)
    # unequal arms: variant = 2 x control. statsmodels' sample 1 is the control here
    ref = samplesize_proportions_2indep_onetail(0.2 - 0.25, 0.25, 0.8, ratio=2, alpha=0.05)
    assert power.sample_size_proportions(0.2, 0.05, ratio=2) == math.ceil(ref)


def test_sample_size_proportions_textbook_values():
    # baseline 20% -> 25%, alpha .05 two-sided, power .8, by hand:
    # pooled (Fleiss, no continuity correction): (1.95996*sqrt(2*.225*.775) + 0.84162*sqrt(.16+.1875))^2/.05^2 = 1093.7
    assert power.sample_size_proportions(0.20, 0.05) == 1094
    # unpooled (Chow, Shao & Wang 4.2): (1.95996+0.84162)^2 * (.16+.1875) / .05^2 = 1091.0
    assert power.sample_size_proportions(0.20, 0.05, method="unpooled") == 1091
    # relative MDE: 10% of 5% = 0.5 points
    assert power.sample_size_proportions(0.05, 0.10, relative=True) == power.sample_size_proportions(0.05, 0.005)


def test_mde_round_trips():
    n = power.sample_size_means(3.0, 0.4)
    assert power.mde_means(n, 3.0) == pytest.approx(0.4, rel=0.01)
    assert power.mde_means(n, 3.0) <= 0.4
    d = power.mde_proportions(5000, 0.1)
    assert power.sample_size_proportions(0.1, d) == pytest.approx(5000, abs=1)


def test_achieved_power_matches_statsmodels():
    se = math.sqrt(2 / 400)  # sd 1, 400 per arm
    for effect in (0.05, 0.2):
        ref = NormalIndPower().power(effect_size=effect, nobs1=400, alpha=0.05, ratio=1)
        assert power.achieved_power(effect, se) == pytest.approx(ref, rel=1e-9)
    one = NormalIndPower().power(effect_size=0.1, nobs1=400, alpha=0.05, alternative="larger")
    assert power.achieved_power(0.1, se, alternative="greater") == pytest.approx(one, rel=1e-9)
    # at the sample size for 80% power the power is (just above) 0.8
    n = power.sample_size_means(1.0, 0.25)
    assert 0.8 <= power.achieved_power(0.25, math.sqrt(2 / n)) < 0.805
    assert power.achieved_power(0.0, se) == pytest.approx(0.05)


def test_power_errors():
    with pytest.raises(JourneyParameterError, match="baseline"):
        power.sample_size_proportions(1.2, 0.1)
    with pytest.raises(JourneyParameterError, match="baseline \\+ mde"):
        power.sample_size_proportions(0.95, 0.1)
    with pytest.raises(JourneyParameterError, match="alpha"):
        power.sample_size_means(1, 0.1, alpha=5)
    with pytest.raises(JourneyParameterError, match="relative=True needs baseline"):
        power.sample_size_means(1, 0.1, relative=True)
    with pytest.raises(JourneyParameterError, match="mde"):
        power.sample_size_proportions(0.1, "2%")
    with pytest.raises(JourneyParameterError, match="mde"):
        power.sample_size_means(1.0, 0)
