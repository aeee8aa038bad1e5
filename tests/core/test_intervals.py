"""Bootstrap resampling weights: counts of n draws with replacement, against the multinomial's moments."""
from __future__ import annotations

import numpy as np
from scipy import stats

from journeylib.core.intervals import bootstrap_weights


def test_bootstrap_weights_are_multinomial_counts():
    """Each unit's count is Binomial(n, 1/n): mean 1, variance 1 - 1/n, P(0) = (1 - 1/n)^n; counts of
    two units covary by -1/n; every resample sums to n."""
    n, reps = 7, 40_000
    rng = np.random.default_rng(3)
    w = np.stack([bootstrap_weights(rng, n) for _ in range(reps)])
    assert (w.sum(axis=1) == n).all() and w.dtype == float
    se = np.sqrt((1 - 1 / n) / reps)
    np.testing.assert_allclose(w.mean(axis=0), 1.0, atol=5 * se)
    np.testing.assert_allclose(w.var(axis=0), 1 - 1 / n, rtol=0.05)
    np.testing.assert_allclose(np.cov(w[:, 0], w[:, 1])[0, 1], -1 / n, atol=0.02)
    p0 = (1 - 1 / n) ** n
    assert abs((w[:, 0] == 0).mean() - p0) < 5 * np.sqrt(p0 * (1 - p0) / reps)
    # the distribution of one unit's count against the binomial, by a chi-square test
    observed = np.bincount(w[:, 0].astype(int), minlength=n + 1)[:4]
    expected = stats.binom.pmf(np.arange(4), n, 1 / n) * reps
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 0.001


def test_no_units_no_weights():
    assert bootstrap_weights(np.random.default_rng(0), 0).shape == (0,)
