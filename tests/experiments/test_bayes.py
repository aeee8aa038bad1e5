"""Bayesian readout against exact formulas and numerical integration."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from journeylib.experiments import bayes
from journeylib.core.errors import JourneyParameterError


def evan_miller_prob_b_beats_a(a_a, b_a, a_b, b_b):
    """Exact P(p_B > p_A) for Beta posteriors with integer a_B (Evan Miller, 'Formulas for Bayesian A/B Testing')."""
    i = np.arange(a_b)
    terms = (special.betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - special.betaln(1 + i, b_b)
             - special.betaln(a_a, b_a))
    return float(np.sum(np.exp(terms)))


@pytest.mark.parametrize("x1,n1,x0,n0", [(120, 1000, 100, 1000), (15, 80, 18, 75), (530, 1000, 480, 1000)])
def test_chance_to_beat_matches_closed_form(x1, n1, x0, n0):
    got = bayes.beta_binomial(x1, n1, x0, n0)
    exact = evan_miller_prob_b_beats_a(1 + x0, 1 + n0 - x0, 1 + x1, 1 + n1 - x1)
    assert got.chance_to_beat == pytest.approx(exact, abs=1e-7)


def test_beta_binomial_loss_and_interval_monte_carlo():
    got = bayes.beta_binomial(120, 1000, 100, 1000, confidence_level=0.9)
    # independent Monte Carlo with another generator and many more draws
    rng = np.random.default_rng(1)
    p1, p0 = rng.beta(121, 881, 2_000_000), rng.beta(101, 901, 2_000_000)
    assert got.expected_loss == pytest.approx(np.mean(np.maximum(p0 - p1, 0)), rel=0.02)
    assert got.rel_ci_low == pytest.approx(np.quantile(p1 / p0 - 1, 0.05), abs=0.01)
    assert got.rel_ci_high == pytest.approx(np.quantile(p1 / p0 - 1, 0.95), abs=0.01)
    assert got.estimate == pytest.approx(121 / 1002 - 101 / 1002, abs=5e-4)


def test_normal_posterior_against_integration():
    m1, se1, m0, se0 = 10.4, 0.3, 10.0, 0.25
    out = bayes.normal_posterior(m1, se1, m0, se0)
    s = np.hypot(se1, se0)
    assert out.chance_to_beat == pytest.approx(stats.norm.cdf(0.4 / s))
    loss = integrate.quad(lambda d: max(-d, 0) * stats.norm.pdf(d, 0.4, s), -5, 5, points=[0])[0]
    assert out.expected_loss == pytest.approx(loss, rel=1e-6)
    assert out.ci_low == pytest.approx(0.4 - 1.959964 * s, rel=1e-5)


def test_bayes_errors():
    with pytest.raises(JourneyParameterError, match="x1"):
        bayes.beta_binomial(20, 10, 1, 10)
    with pytest.raises(JourneyParameterError, match="prior"):
        bayes.beta_binomial(1, 10, 1, 10, prior=(0, 1))
