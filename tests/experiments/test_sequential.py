"""mSPRT: formula against the mixture integral, false positives under continuous peeking <= alpha."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from journeylib.experiments import sequential

N_SIM, N_USERS = 2000, 1000


def test_likelihood_ratio_equals_mixture_integral():
    d, v, tau2 = 0.12, 0.004, 0.01
    num = integrate.quad(lambda th: stats.norm.pdf(d, th, np.sqrt(v)) * stats.norm.pdf(th, 0, np.sqrt(tau2)),
                         -2, 2, points=[0, d])[0]
    lr = num / stats.norm.pdf(d, 0, np.sqrt(v))
    out = sequential.msprt([d], [v], tau2)
    assert out["log_lr"][0] == pytest.approx(np.log(lr), rel=1e-7)
    assert out["pvalue"][0] == pytest.approx(min(1, 1 / lr), rel=1e-7)
    # the boundary of the confidence sequence is where 1/LR = alpha
    r = out["radius"][0]
    edge = sequential.msprt([r], [v], tau2)["pvalue"][0]
    assert edge == pytest.approx(0.05, rel=1e-6)


def _aa_paths(rng, draw):
    """Cumulative difference and its estimated variance after every user pair (continuous peeking)."""
    y1, y0 = draw(rng, (N_SIM, N_USERS)), draw(rng, (N_SIM, N_USERS))
    k = np.arange(1, N_USERS + 1)
    est, var = 0, 0
    for y in (y1, y0):
        s, ss = y.cumsum(1), (y * y).cumsum(1)
        m = s / k
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (ss - k * m**2) / (k - 1)
        est = est + (m if y is y1 else -m)
        var = var + v / k
    return est, var, k


@pytest.mark.parametrize("name,draw", [
    ("normal", lambda rng, size: rng.normal(10, 3, size)),
    ("bernoulli", lambda rng, size: (rng.random(size) < 0.1).astype(float)),
    ("skewed", lambda rng, size: rng.gamma(0.5, 40, size)),
])
def test_false_positive_rate_under_continuous_peeking(rng, name, draw):
    est, var, k = _aa_paths(rng, draw)
    tau2 = sequential.optimal_tau2(np.median(var[:, -1]))
    out = sequential.msprt(est, var, tau2, n=k, min_n=50)
    fpr = np.mean(out["pvalue"][:, -1] < 0.05)
    assert fpr <= 0.05
    # the confidence sequence covers the truth (0) at every look simultaneously
    covered_always = np.all((out["ci_low"] <= 0) & (out["ci_high"] >= 0), axis=1)
    assert np.mean(covered_always) >= 0.95
    # the naive alternative, a fixed-horizon z-test at every look, fails badly
    z = est[:, 49:] / np.sqrt(var[:, 49:])
    naive = np.mean(np.any(np.abs(z) > 1.96, axis=1))
    assert naive > 0.15


def test_power_with_real_effect(rng):
    est, var, k = _aa_paths(rng, lambda rng, size: rng.normal(0, 1, size))
    est = est + 0.25  # a true difference of 0.25 sd
    out = sequential.msprt(est, var, sequential.optimal_tau2(2 / N_USERS), n=k, min_n=50)
    assert np.mean(out["pvalue"][:, -1] < 0.05) > 0.8
    # p-values never increase
    assert np.all(np.diff(out["pvalue"], axis=1) <= 0)


def test_optimal_tau2_makes_boundary_narrowest_at_horizon():
    v = 0.01
    best = sequential.optimal_tau2(v)
    widths = [sequential.msprt([0.0], [v], t)["radius"][0] for t in (best / 3, best, best * 3)]
    assert widths[1] < widths[0] and widths[1] < widths[2]
    assert sequential.msprt([0.0], [v], best, n=[10], min_n=100)["pvalue"][0] == 1.0


def test_a_mixing_variance_that_is_not_positive_is_refused():
    from journeylib.core.errors import JourneyParameterError

    for tau2 in (-1.0, 0.0, float("nan")):
        with pytest.raises(JourneyParameterError, match="tau2"):
            sequential.msprt([0.1, 0.2], [0.01, 0.005], tau2)
