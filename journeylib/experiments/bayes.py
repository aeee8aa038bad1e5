"""Bayesian readout: Beta-Binomial for conversion, normal approximation for means.

*Chance to beat control* is the posterior probability that the variant's true
value is higher than the control's, given the data and the prior. It is **not** a
p-value: a p-value is the chance of data at least this extreme if there were no
difference; 0.95 chance to beat control does not mean "95% significant".
*Expected loss* is the average amount (in the metric's units) given up by choosing
the variant when the control is in fact better; a small expected loss is the usual
stopping rule of Bayesian A/B testing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, stats

from . import plots
from .statistics import check_level, norm_cdf, norm_ppf
from ..core.errors import JourneyParameterError
from ..core.result import Finding, Result


@dataclass(frozen=True, repr=False)
class PosteriorComparison(Result):
    """Posterior comparison of a variant with control (one comparison, or arrays of them).

    ``estimate`` is the posterior mean of the absolute lift (variant - control) with
    its credible interval ``ci_low``/``ci_high``; ``rel_lift`` with ``rel_ci_low``/
    ``rel_ci_high`` the same for the relative lift; the intervals are at
    ``confidence_level``. ``chance_to_beat`` is ``P(variant > control)``, not a p-value;
    ``expected_loss`` is what choosing the variant gives up on average if control is
    better (``expected_loss_control``: the same for keeping control, Beta-Binomial only).

    Attributes
    ----------
    method
        ``"beta-binomial"`` or ``"normal"``.
    confidence_level
        Level of the credible intervals.
    chance_to_beat, expected_loss, expected_loss_control
        ``P(variant > control)`` and the expected losses (floats, or arrays of comparisons).
    estimate, ci_low, ci_high
        Posterior mean of the absolute lift and its credible interval.
    rel_lift, rel_ci_low, rel_ci_high
        The same for the relative lift (variant / control - 1).

    Examples
    --------
    >>> import journeylib as jl
    >>> post = jl.beta_binomial(120, 1000, 100, 1000)
    >>> list(post.summary.columns)
    ['method', 'chance_to_beat', 'expected_loss', 'estimate', 'ci_low', 'ci_high', 'rel_lift', 'rel_ci_low', 'rel_ci_high', 'expected_loss_control']
    >>> print(post.findings[0].text)
    The variant beats control with a probability of 92.3%; its lift is +20.9% (-6.6% to +54.1%, 95% credible interval).
    """

    method: str
    confidence_level: float
    chance_to_beat: Any
    expected_loss: Any
    estimate: Any
    ci_low: Any
    ci_high: Any
    rel_lift: Any
    rel_ci_low: Any
    rel_ci_high: Any
    expected_loss_control: Any = None

    _COLUMNS = ("chance_to_beat", "expected_loss", "estimate", "ci_low", "ci_high", "rel_lift", "rel_ci_low",
                "rel_ci_high")

    @property
    def summary(self) -> pd.DataFrame:
        """One row per comparison: the posterior numbers (intervals are credible intervals)."""
        cols = {c: np.atleast_1d(np.asarray(getattr(self, c), dtype=float)) for c in self._COLUMNS}
        if self.expected_loss_control is not None:
            cols["expected_loss_control"] = np.atleast_1d(np.asarray(self.expected_loss_control, dtype=float))
        out = pd.DataFrame(cols)
        out.insert(0, "method", self.method)
        return out

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One sentence: the chance to beat control and the relative lift (none for arrays of comparisons)."""
        if np.ndim(self.chance_to_beat):  # many comparisons at once: no sentence per array
            return ()
        ctb, lvl = float(self.chance_to_beat), self.confidence_level
        action = ("Choose the variant." if ctb >= lvl else "Keep control." if ctb <= 1 - lvl else
                  "The data do not yet favour either arm clearly.")
        return (Finding(f"The variant beats control with a probability of {ctb:.1%}; its lift is "
                        f"{float(self.rel_lift):+.1%} ({float(self.rel_ci_low):+.1%} to {float(self.rel_ci_high):+.1%}, "
                        f"{lvl:.0%} credible interval).", value=float(self.rel_lift),
                        ci_low=float(self.rel_ci_low), ci_high=float(self.rel_ci_high), action=action),)

    def plot(self, ax=None):
        """Posterior relative lift with its credible interval."""
        return plots.plot_posterior(self, ax=ax)


def beta_binomial(x1: int, n1: int, x0: int, n0: int, *, prior: tuple[float, float] = (1.0, 1.0),
                  confidence_level: float = 0.95, draws: int = 200_000, seed: int = 0) -> PosteriorComparison:
    """Posterior comparison of two conversion rates (variant 1 vs control 0).

    Posteriors are ``Beta(a + x, b + n - x)``. ``chance_to_beat`` is computed by
    numerical integration; expected loss and the credible intervals of the absolute
    and relative lift by Monte Carlo with ``draws`` (seeded, so reproducible).

    Parameters
    ----------
    x1, n1
        Conversions and users of the variant.
    x0, n0
        Conversions and users of the control.
    prior
        ``(a, b)`` of the Beta prior of both rates (default uniform).
    confidence_level
        Level of the credible intervals.
    draws, seed
        Monte Carlo draws and their random seed.

    Returns
    -------
    PosteriorComparison
        Chance to beat control, expected losses, absolute and relative lift with credible intervals.

    Examples
    --------
    12% vs 10% conversion on 1,000 users each:

    >>> import journeylib as jl
    >>> post = jl.beta_binomial(120, 1000, 100, 1000)
    >>> round(post.chance_to_beat, 3)
    0.923
    >>> round(post.rel_lift, 3), round(post.rel_ci_low, 3), round(post.rel_ci_high, 3)
    (0.209, -0.066, 0.541)
    """
    check_level(confidence_level)
    a, b = prior
    if a <= 0 or b <= 0:
        raise JourneyParameterError(f"prior={prior!r}; expected two positive Beta parameters")
    for name, x, n in (("x1", x1, n1), ("x0", x0, n0)):
        if not 0 <= x <= n:
            raise JourneyParameterError(f"{name}={x}; expected a count between 0 and n={n}")
    a1, b1, a0, b0 = a + x1, b + n1 - x1, a + x0, b + n0 - x0
    f = lambda p: stats.beta.pdf(p, a0, b0) * stats.beta.sf(p, a1, b1)
    lo, hi = stats.beta.ppf([1e-12, 1 - 1e-12], a0, b0)
    ctb = integrate.quad(f, lo, hi, limit=200, points=[a0 / (a0 + b0)])[0]
    rng = np.random.default_rng(seed)
    p1, p0 = rng.beta(a1, b1, draws), rng.beta(a0, b0, draws)
    q = [(1 - confidence_level) / 2, (1 + confidence_level) / 2]
    rel = p1 / p0 - 1
    return PosteriorComparison(
        "beta-binomial", float(confidence_level),
        chance_to_beat=float(np.clip(ctb, 0, 1)),
        expected_loss=float(np.mean(np.maximum(p0 - p1, 0))),
        estimate=float(np.mean(p1 - p0)),
        ci_low=float(np.quantile(p1 - p0, q[0])), ci_high=float(np.quantile(p1 - p0, q[1])),
        rel_lift=float(np.mean(rel)),
        rel_ci_low=float(np.quantile(rel, q[0])), rel_ci_high=float(np.quantile(rel, q[1])),
        expected_loss_control=float(np.mean(np.maximum(p1 - p0, 0))),
    )


def normal_posterior(mean1, se1, mean0, se0, *, confidence_level: float = 0.95) -> PosteriorComparison:
    """Flat-prior normal posterior of a difference of means (arrays allowed).

    ``D = mu1 - mu0 ~ N(mean1 - mean0, se1^2 + se0^2)``; chance to beat control is
    ``P(D > 0)``, expected loss of choosing the variant is ``E[max(-D, 0)]``. The
    relative lift's interval uses the delta method on the same normal posterior.

    Parameters
    ----------
    mean1, se1
        Mean of the variant and its standard error (numbers or arrays).
    mean0, se0
        Mean of the control and its standard error.
    confidence_level
        Level of the credible intervals.

    Returns
    -------
    PosteriorComparison
        Plain floats for one comparison, arrays for arrays of them.

    Examples
    --------
    >>> import journeylib as jl
    >>> post = jl.normal_posterior(10.5, 0.2, 10.0, 0.2)
    >>> round(post.chance_to_beat, 3)
    0.961
    >>> round(post.ci_low, 3), round(post.ci_high, 3)
    (-0.054, 1.054)
    """
    check_level(confidence_level)
    mean1, se1, mean0, se0 = (np.asarray(v, dtype=float) for v in (mean1, se1, mean0, se0))
    d = mean1 - mean0
    s = np.sqrt(se1**2 + se0**2)
    z = norm_ppf((1 + confidence_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        zd = np.where(s > 0, d / s, np.nan)  # no posterior spread: undefined, as in scipy.stats
        ctb = norm_cdf(zd)
        loss = s * np.exp(-zd**2 / 2) / np.sqrt(2 * np.pi) - d * norm_cdf(-zd)
        rel = mean1 / mean0 - 1
        rel_se = np.sqrt(se1**2 / mean0**2 + mean1**2 * se0**2 / mean0**4)
    out = lambda x: float(x) if np.ndim(x) == 0 else x  # one comparison: plain floats
    return PosteriorComparison(
        "normal", float(confidence_level), chance_to_beat=out(ctb), expected_loss=out(loss),
        estimate=out(d), ci_low=out(d - z * s), ci_high=out(d + z * s),
        rel_lift=out(rel), rel_ci_low=out(rel - z * rel_se), rel_ci_high=out(rel + z * rel_se),
    )
