"""Drawing for the retention family: Kaplan-Meier curves, cumulative hazard, retention bars,
log-rank observed vs expected, Cox forest plots, membership effect, win-back rates,
cumulative incidence of competing exits.

Every curve over time carries its confidence band and stops where fewer than
:data:`MIN_AT_RISK` customers are still followed (``min_at_risk=`` to change it): past
that point a few customers move the curve by whole percentage points and the band
explodes, so the tail is not drawn rather than drawn misleadingly.

Every function takes a result (``journeylib.retention.survival`` / ``winback``) and an
optional ``ax`` (default: the current Axes), draws, and returns the Axes; nothing here
computes a statistic or calls ``plt.show()``. The result classes' ``plot`` methods
delegate here. Each is wrapped in :func:`journeylib.core.plots.no_mathtext`: group, exit
and covariate names are drawn as typed, never as TeX.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from ..core.display import format_pvalue
from ..core.plots import error_widths, no_mathtext

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .competing import CumulativeIncidenceResult, IncidenceComparison
    from .survival import CoxResult, KaplanMeierResult, LogRankResult, MembershipEffect
    from .winback import WinbackResult

__all__ = ["plot_survival", "plot_cumulative_hazard", "plot_retention", "plot_logrank", "plot_cox",
           "plot_membership", "plot_winback", "plot_cumulative_incidence", "plot_incidence_comparison",
           "MIN_AT_RISK", "at_risk_cutoff"]

MIN_AT_RISK = 30
"""Curves stop where fewer customers than this are still followed (at risk): the documented threshold
for every retention curve drawn (Kaplan-Meier, cumulative hazard, cumulative incidence, cohort curves,
time to the next stage)."""


def at_risk_cutoff(days, at_risk, min_at_risk: int = MIN_AT_RISK) -> float:
    """The last day at which at least ``min_at_risk`` customers are still followed (``-inf``: none).

    Parameters
    ----------
    days : array-like
        Days of the curve's steps.
    at_risk : array-like
        Customers still followed (at risk) at each of ``days``.
    min_at_risk : int, default MIN_AT_RISK (30)
        Fewest customers at risk for a day to be drawn.

    Returns
    -------
    float
        The last such day, ``-inf`` when no day has ``min_at_risk`` customers at risk.

    Examples
    --------
    >>> from journeylib.retention.plots import at_risk_cutoff
    >>> at_risk_cutoff([0, 10, 20, 30], [100, 60, 31, 12])
    20.0
    >>> at_risk_cutoff([0, 10], [5, 2])
    -inf
    """
    days, at_risk = np.asarray(days, float), np.asarray(at_risk, float)
    keep = at_risk >= min_at_risk
    return float(days[keep].max()) if keep.any() else float("-inf")


_HR_TICKS = (0.1, 0.2, 0.25, 0.33, 0.5, 0.7, 1, 1.5, 2, 3, 4, 5, 10)


def _level(result) -> str:
    return f"{100 * result.confidence_level:g}%"


@no_mathtext
def plot_survival(km: KaplanMeierResult, ax: Axes | None = None, *, ci: bool = True,
                  min_at_risk: int = MIN_AT_RISK) -> Axes:
    """Kaplan-Meier curves (share still active vs days since start), with confidence bands,
    each stopped where fewer than ``min_at_risk`` customers are still at risk.

    Parameters
    ----------
    km : KaplanMeierResult
        Output of :func:`journeylib.retention.survival.kaplan_meier`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    ci : bool, default True
        Draw the confidence band around each curve.
    min_at_risk : int, default MIN_AT_RISK (30)
        Each curve stops at the last day with at least this many customers at risk.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> km = jl.kaplan_meier(labels, by="segment")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_survival(km, ax=ax).get_ylabel()
    'share still active'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    for g, kmf in km.fitters.items():
        t = kmf.survival_function_.index.to_numpy(float)
        keep = t <= at_risk_cutoff(kmf.event_table.index, kmf.event_table["at_risk"], min_at_risk)
        y = kmf.survival_function_.iloc[:, 0].to_numpy(float)
        band = kmf.confidence_interval_.to_numpy(float)
        line, = ax.step(t[keep], y[keep], where="post",
                        label=f"{g} (n={int(km.counts.loc[g, 'customers']):,})")
        if ci:
            ax.fill_between(t[keep], band[keep, 0], band[keep, 1], step="post", alpha=0.25,
                            color=line.get_color(), linewidth=0)
    ax.set_xlabel("days since start")
    ax.set_ylabel("share still active")
    ax.set_ylim(0, 1.02)
    ttl = "Retention (Kaplan-Meier)" + (f" by {' / '.join(km.by)}" if km.by else "")
    ax.set_title(ttl + f", {_level(km)} bands\n(curves stop below {min_at_risk} customers at risk)")
    # fixed corners: loc="best" is slow on big data (matplotlib warns); curves start at 1
    # and fall, so the lower left is free, as is the upper left of a rising hazard
    ax.legend(title=" / ".join(km.by) if km.by else None, loc="lower left")
    return ax


@no_mathtext
def plot_cumulative_hazard(km: KaplanMeierResult, ax: Axes | None = None, *,
                           min_at_risk: int = MIN_AT_RISK) -> Axes:
    """Nelson-Aalen cumulative hazard per group (its slope is the churn rate), with bands,
    each stopped where fewer than ``min_at_risk`` customers are still at risk.

    Parameters
    ----------
    km : KaplanMeierResult
        Output of :func:`journeylib.retention.survival.kaplan_meier`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    min_at_risk : int, default MIN_AT_RISK (30)
        Each curve stops at the last day with at least this many customers at risk.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> km = jl.kaplan_meier(labels, by="segment")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cumulative_hazard(km, ax=ax).get_ylabel()
    'cumulative hazard (churns per customer)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    table = km.cumulative_hazard()
    for g, kmf in km.fitters.items():
        sub = table[table["group"] == g]
        t = sub["days"].to_numpy(float)
        keep = t <= at_risk_cutoff(kmf.event_table.index, kmf.event_table["at_risk"], min_at_risk)
        line, = ax.step(t[keep], sub["cumulative_hazard"].to_numpy(float)[keep], where="post", label=str(g))
        ax.fill_between(t[keep], sub["ci_low"].to_numpy(float)[keep], sub["ci_high"].to_numpy(float)[keep],
                        step="post", alpha=0.2, color=line.get_color(), linewidth=0)
    ax.set_xlabel("days since start")
    ax.set_ylabel("cumulative hazard (churns per customer)")
    ax.set_title(f"Cumulative churn hazard (Nelson-Aalen), {_level(km)} bands\n"
                 f"(curves stop below {min_at_risk} customers at risk)")
    ax.legend(title=" / ".join(km.by) if km.by else None, loc="upper left")
    return ax


@no_mathtext
def plot_retention(km: KaplanMeierResult, ax: Axes | None = None) -> Axes:
    """Bars: retention at each horizon per group, with confidence intervals.

    Parameters
    ----------
    km : KaplanMeierResult
        Output of :func:`journeylib.retention.survival.kaplan_meier` (its ``horizons`` are the bars).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> km = jl.kaplan_meier(labels, by="segment", horizons=(30, 90))
    >>> fig, ax = plt.subplots()
    >>> [t.get_text() for t in plots.plot_retention(km, ax=ax).get_xticklabels()]
    ['30 days', '90 days']
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    r = km.retention
    groups, hs = list(km.fitters), list(km.horizons)
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(hs))
    for i, g in enumerate(groups):
        sub = r[r["group"] == g].set_index("horizon_days").reindex(hs)
        y = sub["retention"].to_numpy() * 100
        err = error_widths(sub["retention"], sub["ci_low"], sub["ci_high"], scale=100)
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, y, width, yerr=err, capsize=3, label=g, alpha=0.85)
    ax.set_xticks(x, [f"{h:g} days" for h in hs])
    ax.set_xlabel("horizon (days since start)")
    ax.set_ylabel("still active (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Retention at horizon, {_level(km)} intervals")
    if len(groups) > 1:
        ax.legend(title=" / ".join(km.by), loc="upper right")
    return ax


@no_mathtext
def plot_logrank(lr: LogRankResult, ax: Axes | None = None) -> Axes:
    """Bars: churns observed per group over those expected if all groups churned alike.

    Parameters
    ----------
    lr : LogRankResult
        Output of :func:`journeylib.retention.survival.logrank`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> lr = jl.logrank(labels, "segment")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_logrank(lr, ax=ax).get_title()
    'Churns observed vs expected by segment: groups differ (log-rank p = 0.003)'
    >>> plt.close(fig)
    """
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
    ax.set_title(f"Churns observed vs expected by {' / '.join(lr.by)}: groups "
                 f"{'differ' if lr.pvalue < 0.05 else 'cannot be told apart'} (log-rank {format_pvalue(lr.pvalue)})")
    return ax


def _forest(ax: Axes, labels, hr, lo, hi) -> None:
    hr, lo, hi = (np.asarray(v, float) for v in (hr, lo, hi))
    y = np.arange(len(hr))
    ax.errorbar(hr, y, xerr=error_widths(hr, lo, hi), fmt="o", color="#4C72B0", ecolor="black", capsize=3)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y, [str(v) for v in labels])
    low, high = float(np.nanmin(lo)), float(np.nanmax(hi))
    ticks = [v for v in _HR_TICKS if low / 1.3 <= v <= high * 1.3] if np.isfinite([low, high]).all() else []
    if ticks:
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.minorticks_off()
    ax.set_xlabel("hazard ratio (log scale; < 1 = churns less)")


@no_mathtext
def plot_cox(cox: CoxResult, ax: Axes | None = None) -> Axes:
    """Forest plot of the Cox hazard ratios with their confidence intervals (log scale).

    Parameters
    ----------
    cox : CoxResult
        Output of :func:`journeylib.retention.survival.cox`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> result = jl.cox(labels, ["segment"])
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cox(result, ax=ax).get_xlabel()
    'hazard ratio (log scale; < 1 = churns less)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    t = cox.summary.iloc[::-1]
    _forest(ax, t["term"], t["hazard_ratio"], t["ci_low"], t["ci_high"])
    title = f"Cox model ({cox.kind}): hazard ratios, {_level(cox)} CI"
    if cox.reference:
        title += "\nreference: " + ", ".join(f"{k} = {v}" for k, v in cox.reference.items())
    ax.set_title(title)
    return ax


@no_mathtext
def plot_membership(effect: MembershipEffect, ax: Axes | None = None) -> Axes:
    """The membership hazard ratio of the naive and the start/stop model side by side.

    Parameters
    ----------
    effect : MembershipEffect
        Output of :func:`journeylib.retention.survival.membership_effect`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> from journeylib.retention.survival import membership_effect
    >>> effect = membership_effect(labels, "loyalty_joined_at", ["segment"])
    >>> fig, ax = plt.subplots()
    >>> plots.plot_membership(effect, ax=ax).get_title()
    'Churn hazard ratio of membership, 95% CI'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = effect.summary.iloc[::-1]
    _forest(ax, s["model"], s["hazard_ratio"], s["ci_low"], s["ci_high"])
    ax.set_title(f"Churn hazard ratio of membership, {_level(effect.start_stop)} CI")
    return ax


@no_mathtext
def plot_winback(wb: WinbackResult, ax: Axes | None = None) -> Axes:
    """Bar chart of the return rate per group with its intervals.

    Parameters
    ----------
    wb : WinbackResult
        Output of :func:`journeylib.retention.winback.winback_rates`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> wb = jl.winback_rates(jl.load_dataset("sample").events)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_winback(wb, ax=ax).get_xlabel()
    'returned within 30 days (%)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = wb.summary
    labels = [" / ".join(str(v) for v in row) for row in s[list(wb.by)].itertuples(index=False)] \
        if wb.by else ["all"]
    y = np.arange(len(s))
    ax.barh(y, s["rate"] * 100, color="#4C72B0", alpha=0.8)
    err = error_widths(s["rate"], s["ci_low"], s["ci_high"], scale=100)
    ax.errorbar(s["rate"] * 100, y, xerr=err, fmt="none", ecolor="black", capsize=3)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"returned within {wb.within_days:g} days (%)")
    ax.set_ylabel(" / ".join(wb.by) if wb.by else "")
    ax.set_title(f"Win-back: customers inactive {wb.inactive_days:g}+ days who came back "
                 f"({_level(wb)} intervals)")
    return ax


@no_mathtext
def plot_cumulative_incidence(res: CumulativeIncidenceResult, ax: Axes | None = None, *, ci: bool = True,
                              min_at_risk: int | None = None) -> Axes:
    """Cumulative incidence of each exit type (colour) per group (line style), with bands,
    each curve stopped where fewer than ``min_at_risk`` customers are still followed.

    Parameters
    ----------
    res : CumulativeIncidenceResult
        Output of :func:`journeylib.retention.competing.cumulative_incidence`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    ci : bool, default True
        Draw the confidence band around each curve.
    min_at_risk : int, optional
        Fewest customers followed for a day to be drawn (default: the result's ``min_at_risk``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> exits = jl.simulate_exits(2000, seed=1).table
    >>> res = jl.cumulative_incidence(exits, by="segment", horizons=(90,))
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cumulative_incidence(res, ax=ax).get_ylabel()
    'share of customers who left this way'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    threshold = res.min_at_risk if min_at_risk is None else min_at_risk
    colours = {k: f"C{i}" for i, k in enumerate(res.exit_types)}
    styles = ["-", "--", ":", "-."]
    groups = list(res.counts.index)
    c = res.curves
    for j, g in enumerate(groups):
        for k in res.exit_types:
            sub = c[(c["group"] == g) & (c["exit_type"] == k)]
            t = sub["days"].to_numpy(float)
            keep = t <= at_risk_cutoff(t, sub["at_risk"], threshold)
            label = k if len(groups) == 1 else f"{k}, {g}"
            ax.step(t[keep], sub["cumulative_incidence"].to_numpy(float)[keep], where="post",
                    color=colours[k], linestyle=styles[j % len(styles)], label=label)
            if ci:
                ax.fill_between(t[keep], sub["ci_low"].to_numpy(float)[keep], sub["ci_high"].to_numpy(float)[keep],
                                step="post", alpha=0.18, color=colours[k], linewidth=0)
    ax.set_xlabel("days since start")
    ax.set_ylabel("share of customers who left this way")
    ax.set_ylim(0, None)
    ax.set_title(f"Cumulative incidence of each exit (Aalen-Johansen), {_level(res)} bands\n"
                 f"(curves stop below {threshold} customers at risk)")
    ax.legend(title="exit" + (f" / {' / '.join(res.by)}" if res.by else ""), loc="upper left", fontsize=8)
    return ax


@no_mathtext
def plot_incidence_comparison(cmp: IncidenceComparison, ax: Axes | None = None) -> Axes:
    """Forest plot: difference in cumulative incidence (group minus reference) per exit type and horizon.

    Parameters
    ----------
    cmp : IncidenceComparison
        Output of :func:`journeylib.retention.competing.compare_incidence`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> exits = jl.simulate_exits(2000, seed=1).table
    >>> cmp = jl.compare_incidence(exits, "segment", horizons=(90,))
    >>> fig, ax = plt.subplots()
    >>> plots.plot_incidence_comparison(cmp, ax=ax).get_xlabel()
    'difference in share who left this way (percentage points, vs premium)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    t = cmp.summary.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(t))
    d = t["difference"].to_numpy(float) * 100
    err = error_widths(t["difference"], t["ci_low"], t["ci_high"], scale=100)
    ax.errorbar(d, y, xerr=err, fmt="o", color="#4C72B0", ecolor="black", capsize=3)
    ax.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, [f"{r.exit_type}, {r.horizon_days:g} days: {r.group}" for r in t.itertuples()])
    ax.set_xlabel(f"difference in share who left this way (percentage points, vs {cmp.reference})")
    p = format_pvalue(cmp.pvalue)
    ax.set_title(f"Exits by group at fixed horizons, {_level(cmp)} CI (Holm-adjusted {p})")
    return ax


@no_mathtext
def plot_winback_targets(result, ax=None) -> Axes:
    """Value at stake against P(alive) of the customers on the win-back list.

    Parameters
    ----------
    result : WinbackTargets
        Output of :func:`journeylib.retention.targeting.winback_targets`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> from journeylib.retention.targeting import winback_targets
    >>> result = winback_targets(jl.load_dataset("sample").events, churn_after=60)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_winback_targets(result, ax=ax).get_xlabel()
    'chance the customer is still active, P(alive) (%)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    t = result.targets
    sc = ax.scatter(100 * t["p_alive"], t["value_at_stake"], c=t["days_inactive"], cmap="viridis", s=12)
    plt.colorbar(sc, ax=ax, label="days inactive")
    ax.set_xlabel("chance the customer is still active, P(alive) (%)")
    ax.set_ylabel(f"expected value over {result.horizon_weeks:g} weeks (currency)")
    ax.set_title(f"{len(t):,} inactive customers: the most valuable are still likely to come back")
    return ax


@no_mathtext
def plot_reactivation(result, ax=None) -> Axes:
    """Reactivation rate of the targeted customers and of the holdout, with their intervals.

    Parameters
    ----------
    result : ReactivationResult
        Output of :func:`journeylib.retention.targeting.winback_reactivation`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.retention import plots
    >>> import pandas as pd
    >>> from journeylib.retention.targeting import winback_reactivation
    >>> t0 = pd.Timestamp("2025-05-01", tz="UTC")
    >>> assignments = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)], "experiment": "winback_may",
    ...                             "variant": ["email"] * 4 + ["holdout"] * 4, "assigned_at": t0})
    >>> events = pd.DataFrame({"customer_id": ["c0", "c1", "c2", "c4", "c7"],
    ...                        "ts": t0 + pd.to_timedelta([3, 10, 40, 5, 90], unit="D"), "event": "purchase"})
    >>> result = winback_reactivation(events, assignments, experiment="winback_may", within_days=30)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_reactivation(result, ax=ax).get_xlabel()
    'came back within 30 days (% of customers)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    t = result.summary.set_index("group").loc[["holdout", "targeted"]]
    y = np.arange(len(t))
    ax.barh(y, 100 * t["rate"], color=["#9e9e9e", "#1f77b4"])
    ax.errorbar(100 * t["rate"], y, xerr=error_widths(t["rate"], t["ci_low"], t["ci_high"], scale=100),
                fmt="none", ecolor="black", capsize=4)
    ax.set_yticks(y, [f"{g} ({n:,})" for g, n in zip(t.index, t["customers"])])
    ax.set_xlim(left=0)
    ax.set_xlabel(f"came back within {result.within_days:g} days (% of customers)")
    lo, hi = result.confidence_interval(result.confidence_level)
    verdict = "more" if lo > 0 else "fewer" if hi < 0 else "no clear difference from"
    ax.set_title(f"Targeted customers came back {verdict} than the holdout" if verdict != "no clear difference from"
                 else "Targeted customers: no clear difference from the holdout")
    return ax

