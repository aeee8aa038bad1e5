"""Always-valid sequential inference: the mixture SPRT / normal-mixture confidence sequence.

An analyst who looks at a fixed-horizon p-value every day and stops at the first
``p < 0.05`` has a false-positive rate far above 5%. The mixture sequential
probability ratio test (mSPRT; Robbins 1970, Johari et al. 2017, "Peeking at A/B
tests") gives a p-value and a confidence sequence that stay valid at every look:
the chance that the p-value *ever* drops below ``alpha`` under the null is at most
``alpha`` (Ville's inequality), whatever the stopping rule.

For an estimate ``d`` of a difference with variance ``V`` (``s1^2/n1 + s0^2/n0``) and
a normal mixing distribution ``N(0, tau^2)`` over the effect, the likelihood ratio is
``L = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))``; the always-valid
p-value is the running minimum of ``1/L`` and the confidence sequence is
``d +/- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))``.
The test is two-sided and relies on the normal approximation of ``d`` (so very
early looks with a handful of users are skipped: ``min_n``). ``tau`` only trades
power between early and late looks; by default it makes the boundary narrowest at
the last look (:func:`optimal_tau2`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import optimize

from . import plots
from .statistics import check_level
from ..core.errors import JourneyParameterError
from ..core.result import Finding, Result


@lru_cache(maxsize=32)
def _best_ratio(alpha: float) -> float:
    two_l = 2 * np.log(1 / alpha)
    f = lambda lu: (1 + np.exp(lu)) / np.exp(lu) * (two_l + np.log1p(np.exp(lu)))
    return float(np.exp(optimize.minimize_scalar(f, bounds=(-10, 10), method="bounded").x))


def optimal_tau2(variance_at_horizon: float, alpha: float = 0.05) -> float:
    """Mixing variance ``tau^2`` that makes the confidence sequence narrowest at the planned end.

    Parameters
    ----------
    variance_at_horizon
        Variance of the estimate at the planned end of the test (``s1^2/n1 + s0^2/n0``).
    alpha
        Level of the confidence sequence (``1 - alpha`` coverage).

    Returns
    -------
    float
        ``tau^2``, to pass to :func:`msprt`.

    Examples
    --------
    >>> from journeylib.experiments.sequential import optimal_tau2
    >>> round(optimal_tau2(0.0004), 5)
    0.00328
    """
    check_level(alpha, "alpha")
    return _best_ratio(float(alpha)) * float(variance_at_horizon)


def msprt(estimate, variance, tau2, *, alpha: float = 0.05, n=None, min_n: int = 0) -> dict[str, np.ndarray]:
    """Mixture SPRT over a sequence of looks (last axis = looks; any leading axes).

    Parameters
    ----------
    estimate, variance
        Difference estimate and its variance at each look.
    tau2
        Mixing variance (scalar or broadcastable to the leading axes).
    alpha
        Level of the confidence sequence.
    n, min_n
        Smallest arm size at each look; looks with ``n < min_n`` are ignored
        (p-value 1, infinite interval).

    Returns
    -------
    dict[str, numpy.ndarray]
        ``log_lr``, ``pvalue`` (always valid, non-increasing), ``ci_low``, ``ci_high``
        (confidence sequence at each look, not intersected) and ``radius``.

    Examples
    --------
    Three looks at a difference whose variance halves between looks:

    >>> from journeylib.experiments.sequential import msprt, optimal_tau2
    >>> r = msprt([0.02, 0.05, 0.06], [0.001, 0.0005, 0.00025], optimal_tau2(0.00025))
    >>> r["pvalue"].round(4).tolist()
    [1.0, 0.3027, 0.005]
    >>> r["ci_low"].round(3).tolist()
    [-0.083, -0.019, 0.012]
    """
    check_level(alpha, "alpha")
    d = np.asarray(estimate, dtype=float)
    v = np.asarray(variance, dtype=float)
    t2 = np.asarray(tau2, dtype=float)
    if not np.all(np.isfinite(t2) & (t2 > 0)):
        raise JourneyParameterError(f"tau2={tau2!r}; expected a positive mixing variance")
    if t2.ndim and t2.ndim < d.ndim:
        t2 = t2[..., None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = 0.5 * np.log(v / (v + t2)) + t2 * d**2 / (2 * v * (v + t2))
        radius = np.sqrt(v * (v + t2) / t2 * (2 * np.log(1 / alpha) + np.log((v + t2) / v)))
    ok = np.isfinite(log_lr) & (v > 0)
    if n is not None:
        ok &= np.asarray(n) >= min_n
    log_lr = np.where(ok, log_lr, -np.inf)
    radius = np.where(ok, radius, np.inf)
    p = np.minimum.accumulate(np.minimum(1.0, np.exp(-log_lr)), axis=-1)
    return {"log_lr": log_lr, "pvalue": p, "ci_low": d - radius, "ci_high": d + radius, "radius": radius}


@dataclass(frozen=True)
class SequentialResult(Result):
    """Always-valid test of one comparison over the looks of an experiment.

    ``looks`` has one row per look: ``look, n_control, n_variant, estimate, se``, the
    fixed-horizon ``ci_low, ci_high, pvalue`` (valid only at the planned end) and the
    always-valid ``seq_pvalue, seq_ci_low, seq_ci_high`` (at level ``1 - alpha``).
    ``alpha`` is the significance threshold of the sequential decision; ``tau2`` the
    mixing variance.

    Attributes
    ----------
    looks
        One row per look (columns above).
    alpha
        Significance threshold of the sequential decision.
    tau2
        Mixing variance of the mixture SPRT.

    Examples
    --------
    The always-valid test of one comparison of a readout (the bundled sample):

    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> seq = ro.result("personalised_offer", "revenue_per_user").sequential
    >>> seq.looks.shape
    (7, 15)
    >>> seq.rejected
    False
    >>> [round(x, 1) for x in seq.confidence_interval()]
    [-15.2, 20.4]
    """

    looks: pd.DataFrame = field(repr=False)
    alpha: float
    tau2: float

    @property
    def pvalue(self) -> float:
        """Always-valid p-value at the last look."""
        return float(self.looks["seq_pvalue"].iloc[-1])

    @property
    def estimate(self) -> float:
        """The difference (variant - control) at the last look."""
        return float(self.looks["estimate"].iloc[-1])

    @property
    def rejected(self) -> bool:
        """The always-valid p-value at the last look is below ``alpha``."""
        return bool(self.pvalue < self.alpha)

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Confidence sequence at the last look (valid at every look) at ``confidence_level``.

        At ``1 - alpha`` this is the stored ``seq_ci_low``/``seq_ci_high``; other levels are
        recomputed with the same mixing variance.

        Parameters
        ----------
        confidence_level
            Level of the confidence sequence.

        Returns
        -------
        tuple of float
            ``(low, high)``; infinite when the last look had too few users.
        """
        check_level(confidence_level)
        last = self.looks.iloc[-1]
        if np.isclose(confidence_level, 1 - self.alpha):
            return (float(last["seq_ci_low"]), float(last["seq_ci_high"]))
        if not (np.isfinite(self.tau2) and self.tau2 > 0):
            raise JourneyParameterError(f"confidence_level={confidence_level!r}: this result has no mixing variance "
                                        f"(tau2={self.tau2!r}); only {1 - self.alpha:g} is available")
        if not np.isfinite(last["seq_ci_low"]):  # the last look was not valid (too few users)
            return (-np.inf, np.inf)
        r = msprt([last["estimate"]], [last["se"] ** 2], self.tau2, alpha=1 - confidence_level)
        return (float(r["ci_low"][0]), float(r["ci_high"][0]))

    @property
    def summary(self) -> pd.DataFrame:
        """A copy of :attr:`looks`."""
        return self.looks.copy()

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One sentence: the difference at the last look with its confidence sequence and p-value."""
        lo, hi = self.confidence_interval(1 - self.alpha)
        verdict = "shows" if self.rejected else "does not yet show"
        action = ("The difference is established: the test may stop." if self.rejected else
                  "Keep the test running to its planned end, or stop it for lack of an effect.")
        return (Finding(f"The always-valid test {verdict} a difference at the last look: {self.estimate:+.3g} "
                        f"({lo:+.3g} to {hi:+.3g}, p={self.pvalue:.2g}), valid however often the results were "
                        "checked.", value=self.estimate, ci_low=lo, ci_high=hi, action=action),)

    def plot(self, ax=None, *, xlabel: str = "look"):
        """Estimate with the confidence sequence (always valid) and the fixed-horizon CI."""
        return plots.plot_sequential(self, ax=ax, xlabel=xlabel)

    def __repr__(self) -> str:
        return (f"SequentialResult(looks={len(self.looks)}, pvalue={self.pvalue:.4g}, alpha={self.alpha}, "
                f"rejected={self.rejected})")
