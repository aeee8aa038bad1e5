"""Drawing for the retention family: Kaplan-Meier curves, cumulative hazard, retention bars,
log-rank observed vs expected, Cox forest plots, membership effect, win-back rates.

Every function takes a result (``journeylib.retention.survival`` / ``winback``) and an
optional ``ax`` (default: the current Axes), draws, and returns the Axes; nothing here
computes a statistic or calls ``plt.show()``. The result classes' ``plot`` methods
delegate here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .survival import CoxResult, KaplanMeierResult, LogRankResult, MembershipEffect
    from .winback import WinbackResult

__all__ = ["plot_survival", "plot_cumulative_hazard", "plot_retention", "plot_logrank", "plot_cox",
           "plot_membership", "plot_winback"]

_HR_TICKS = (0.1, 0.2, 0.25, 0.33, 0.5, 0.7, 1, 1.5, 2, 3, 4, 5, 10)


def _level(result) -> str:
    return f"{100 * result.confidence_level:g}%"


def plot_survival(km: KaplanMeierResult, ax: Axes | None = None, *, ci: bool = True) -> Axes:
    """Kaplan-Meier curves (share still active vs days since start), with confidence bands."""
    if ax is None:
        ax = plt.gca()
    for g, kmf in km.fitters.items():
        kmf.plot_survival_function(ax=ax, ci_show=ci, label=f"{g} (n={int(km.counts.loc[g, 'customers']):,})")
    ax.set_xlabel("days since start")
    ax.set_ylabel("share still active")
    ax.set_ylim(0, 1.02)
    ttl = "Retention (Kaplan-Meier)" + (f" by {' / '.join(km.by)}" if km.by else "")
    ax.set_title(ttl + f", {_level(km)} bands")
    # fixed corners: loc="best" is slow on big data (matplotlib warns); curves start at 1
    # and fall, so the lower left is free, as is the upper left of a rising hazard
    ax.legend(title=" / ".join(km.by) if km.by else None, loc="lower left")
    return ax


def plot_cumulative_hazard(km: KaplanMeierResult, ax: Axes | None = None) -> Axes:
    """Nelson-Aalen cumulative hazard per group (its slope is the churn rate), with bands."""
    if ax is None:
        ax = plt.gca()
    table = km.cumulative_hazard()
    for g in km.fitters:
        sub = table[table["group"] == g]
        t = sub["days"].to_numpy(float)
        line, = ax.step(t, sub["cumulative_hazard"].to_numpy(float), where="post", label=str(g))
        ax.fill_between(t, sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float), step="post", alpha=0.2,
                        color=line.get_color(), linewidth=0)
    ax.set_xlabel("days since start")
    ax.set_ylabel("cumulative hazard (churns per customer)")
    ax.set_title("Cumulative churn hazard (Nelson-Aalen)")
    ax.legend(title=" / ".join(km.by) if km.by else None, loc="upper left")
    return ax


def plot_retention(km: KaplanMeierResult, ax: Axes | None = None) -> Axes:
    """Bars: retention at each horizon per group, with confidence intervals."""
    if ax is None:
        ax = plt.gca()
    r = km.retention
    groups, hs = list(km.fitters), list(km.horizons)
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(hs))
    for i, g in enumerate(groups):
        sub = r[r["group"] == g].set_index("horizon_days").reindex(hs)
        y = sub["retention"].to_numpy() * 100
        err = np.clip(np.vstack([y - sub["ci_low"].to_numpy() * 100, sub["ci_high"].to_numpy() * 100 - y]), 0, None)
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, y, width, yerr=err, capsize=3, label=g, alpha=0.85)
    ax.set_xticks(x, [f"{h:g} days" for h in hs])
    ax.set_xlabel("horizon (days since start)")
    ax.set_ylabel("still active (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Retention at horizon, {_level(km)} intervals")
    if len(groups) > 1:
        ax.legend(title=" / ".join(km.by), loc="upper right")
    return ax


def plot_logrank(lr: LogRankResult, ax: Axes | None = None) -> Axes:
    """Bars: churns observed per group over those expected if all groups churned alike."""
    if ax is None:
        ax = plt.gca()
    t = lr.summary
    y = np.arange(len(t))
    ax.barh(y, t["observed_over_expected"], color="#4C72B0", alpha=0.8)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, [str(g) for g in t["group"]])
    ax.invert_yaxis()
    ax.set_xlabel("churns observed / expected (1 = as if all groups churned alike)")
    ax.set_ylabel(" / ".join(lr.by))
    ax.set_title(f"Log-rank test: chi2 = {lr.statistic:.1f}, df = {lr.df}, p = {lr.pvalue:.3g}")
    return ax


def _forest(ax: Axes, labels, hr, lo, hi) -> None:
    hr, lo, hi = (np.asarray(v, float) for v in (hr, lo, hi))
    y = np.arange(len(hr))
    ax.errorbar(hr, y, xerr=[hr - lo, hi - hr], fmt="o", color="#4C72B0", ecolor="black", capsize=3)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y, [str(v) for v in labels])
    low, high = float(np.nanmin(lo)), float(np.nanmax(hi))
    ticks = [v for v in _HR_TICKS if low / 1.3 <= v <= high * 1.3] if np.isfinite([low, high]).all() else []
    if ticks:
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.minorticks_off()
    ax.set_xlabel("hazard ratio (log scale; < 1 = churns less)")


def plot_cox(cox: CoxResult, ax: Axes | None = None) -> Axes:
    """Forest plot of the Cox hazard ratios with their confidence intervals (log scale)."""
    if ax is None:
        ax = plt.gca()
    t = cox.summary.iloc[::-1]
    _forest(ax, t["term"], t["hazard_ratio"], t["ci_low"], t["ci_high"])
    title = f"Cox model ({cox.kind}): hazard ratios, {_level(cox)} CI"
    if cox.reference:
        title += "\nreference: " + ", ".join(f"{k} = {v}" for k, v in cox.reference.items())
    ax.set_title(title)
    return ax


def plot_membership(effect: MembershipEffect, ax: Axes | None = None) -> Axes:
    """The membership hazard ratio of the naive and the start/stop model side by side."""
    if ax is None:
        ax = plt.gca()
    s = effect.summary.iloc[::-1]
    _forest(ax, s["model"], s["hazard_ratio"], s["ci_low"], s["ci_high"])
    ax.set_title(f"Churn hazard ratio of membership, {_level(effect.start_stop)} CI")
    return ax


def plot_winback(wb: WinbackResult, ax: Axes | None = None) -> Axes:
    """Bar chart of the return rate per group with its intervals."""
    if ax is None:
        ax = plt.gca()
    s = wb.summary
    labels = [" / ".join(str(v) for v in row) for row in s[list(wb.by)].itertuples(index=False)] \
        if wb.by else ["all"]
    y = np.arange(len(s))
    ax.barh(y, s["rate"] * 100, color="#4C72B0", alpha=0.8)
    err = np.clip(np.vstack([(s["rate"] - s["ci_low"]) * 100, (s["ci_high"] - s["rate"]) * 100]), 0, None)
    ax.errorbar(s["rate"] * 100, y, xerr=err, fmt="none", ecolor="black", capsize=3)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"returned within {wb.within_days:g} days (%)")
    ax.set_ylabel(" / ".join(wb.by) if wb.by else "")
    ax.set_title(f"Win-back: customers inactive {wb.inactive_days:g}+ days who came back "
                 f"({_level(wb)} intervals)")
    return ax
