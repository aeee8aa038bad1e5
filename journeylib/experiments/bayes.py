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

import numpy as np
from scipy import integrate, stats

from .statistics import check_level, norm_cdf, norm_ppf
from ..core.errors import JourneyParameterError


def beta_binomial(x1: int, n1: int, x0: int, n0: int, *, prior: tuple[float, float] = (1.0, 1.0),
                  credible_level: float = 0.95, draws: int = 200_000, seed: int = 0) -> dict[str, float]:
    """Posterior comparison of two conversion rates (variant 1 vs control 0).

    Posteriors are ``Beta(a + x, b + n - x)``. ``chance_to_beat`` is computed by
    numerical integration; expected loss and the credible intervals of the absolute
    and relative lift by Monte Carlo with ``draws`` (seeded, so reproducible).
    """
    check_level(credible_level, "credible_level")
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
    q = [(1 - credible_level) / 2, (1 + credible_level) / 2]
    rel = p1 / p0 - 1
    return {
        "chance_to_beat": float(np.clip(ctb, 0, 1)),
        "expected_loss": float(np.mean(np.maximum(p0 - p1, 0))),
        "expected_loss_control": float(np.mean(np.maximum(p1 - p0, 0))),
        "abs_lift_mean": float(np.mean(p1 - p0)),
        "abs_cred_low": float(np.quantile(p1 - p0, q[0])), "abs_cred_high": float(np.quantile(p1 - p0, q[1])),
        "rel_lift_mean": float(np.mean(rel)),
        "rel_cred_low": float(np.quantile(rel, q[0])), "rel_cred_high": float(np.quantile(rel, q[1])),
    }


def normal_posterior(mean1, se1, mean0, se0, *, credible_level: float = 0.95):
    """Flat-prior normal posterior of a difference of means (arrays allowed).

    ``D = mu1 - mu0 ~ N(mean1 - mean0, se1^2 + se0^2)``; chance to beat control is
    ``P(D > 0)``, expected loss of choosing the variant is ``E[max(-D, 0)]``. The
    relative lift's interval uses the delta method on the same normal posterior.
    """
    check_level(credible_level, "credible_level")
    mean1, se1, mean0, se0 = (np.asarray(v, dtype=float) for v in (mean1, se1, mean0, se0))
    d = mean1 - mean0
    s = np.sqrt(se1**2 + se0**2)
    z = norm_ppf((1 + credible_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        zd = np.where(s > 0, d / s, np.nan)  # no posterior spread: undefined, as in scipy.stats
        ctb = norm_cdf(zd)
        loss = s * np.exp(-zd**2 / 2) / np.sqrt(2 * np.pi) - d * norm_cdf(-zd)
        rel = mean1 / mean0 - 1
        rel_se = np.sqrt(se1**2 / mean0**2 + mean1**2 * se0**2 / mean0**4)
    return {
        "chance_to_beat": ctb, "expected_loss": loss,
        "abs_lift_mean": d, "abs_cred_low": d - z * s, "abs_cred_high": d + z * s,
        "rel_lift_mean": rel, "rel_cred_low": rel - z * rel_se, "rel_cred_high": rel + z * rel_se,
    }
