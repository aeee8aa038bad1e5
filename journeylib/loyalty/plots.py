"""All drawing of the loyalty family: cohort triangles and curves, repeat purchase, RFM, CLV, the programme effect.

Each function takes a result (or the frame it names) and an optional Axes, draws on
it (or on the current Axes) and returns it; nothing here computes a statistic or
calls ``plt.show()``. The result classes' ``plot`` methods delegate here. Each is wrapped
in :func:`journeylib.core.plots.no_mathtext`: names from data are drawn as typed, never as TeX.
"""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, NullLocator, PercentFormatter

from ..core.errors import JourneyParameterError
from ..core.plots import error_widths, no_mathtext
from ..retention.plots import MIN_AT_RISK

__all__ = ["plot_cohort_heatmap", "plot_cohort_curves", "plot_repeat_rate", "plot_purchase_gaps",
           "plot_time_to_second", "plot_rfm_grid", "plot_rfm_segments", "plot_clv_distribution",
           "plot_calibration", "plot_fit_parameters", "plot_loyalty_effect", "plot_loyalty_rates",
           "plot_model_comparison"]

PERIOD_NAMES = {"W": "week", "M": "month", "Q": "quarter"}
MIN_COHORTS = 3
"""The average cohort curve is drawn faded (dashed) where fewer cohorts than this are old enough; cohort
readings and findings state the oldest age at least this many cohorts show."""
UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}


def _axes(ax: Axes | None) -> Axes:
    return plt.gca() if ax is None else ax


# --------------------------------------------------------------------------- cohorts

@no_mathtext
def plot_cohort_heatmap(cohorts: Any, ax: Axes | None = None, *, kind: str = "retention",
                        annotate: bool | None = None) -> Axes:
    """Heat map of a :class:`journeylib.loyalty.cohorts.CohortTable` triangle; blank = not observable yet.

    For retention, period 0 (everyone's first period: 100% by construction) is left blank so the colour
    scale shows the differences between later periods instead of being swamped by it.

    Parameters
    ----------
    cohorts : CohortTable
        Output of :func:`journeylib.loyalty.cohorts.cohort_table`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    kind : {"retention", "revenue", "cumulative"}, default "retention"
        ``"retention"`` (share of the cohort active), ``"revenue"`` (revenue per customer in
        the period) or ``"cumulative"`` (cumulative revenue per customer).
    annotate : bool, optional
        Write the values in the cells (default: when the triangle is at most 20 x 20).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> cohorts = jl.cohort_table(events, period="M")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cohort_heatmap(cohorts, ax=ax).get_xlabel()
    'months since acquisition'
    >>> plt.close(fig)
    """
    import seaborn as sns

    data = {"retention": cohorts.retention, "revenue": cohorts.revenue, "cumulative": cohorts.cumulative_revenue}
    if kind not in data:
        raise JourneyParameterError(f"kind={kind!r}; expected one of {list(data)}")
    ax = _axes(ax)
    d = data[kind]
    if annotate is None:
        annotate = d.shape[0] <= 20 and d.shape[1] <= 20
    fmt = ".0%" if kind == "retention" else ".0f"
    label = {"retention": "share of cohort active", "revenue": "revenue per customer in period",
             "cumulative": "cumulative revenue per customer"}[kind]
    mask = d.isna()
    unit = PERIOD_NAMES[cohorts.period]
    title = f"Cohort {kind} triangle (blank = not observable yet)"
    if kind == "retention" and 0 in d.columns:
        mask[0] = True  # period 0 is 100% for every cohort
        later = d.drop(columns=0)
        avg = cohorts.average_retention().set_index("period")["retention"]
        if 1 in avg.index:
            what = "buys" if cohorts.active_on == "purchase" else "is active"
            title = (f"{avg[1]:.0%} of a cohort {what} in {unit} 1, on average\n"
                     f"({unit} 0 = 100% by definition, left blank; blank = not observable yet)")
        vmax = float(np.nanmax(later.to_numpy(float))) if later.notna().any().any() else 1.0
    else:
        vmax = None
    sns.heatmap(d, ax=ax, cmap="viridis", annot=annotate, fmt=fmt, annot_kws={"fontsize": 7},
                cbar_kws={"label": label}, mask=mask, vmin=0, vmax=vmax)
    ax.set(xlabel=f"{unit}s since acquisition",
           ylabel=f"acquisition cohort ({unit} of {cohorts.cohort_by.replace('_', ' ')})",
           title=title)
    ax.tick_params(axis="y", labelrotation=0)
    step = max(1, d.shape[0] // 25)
    ax.set_yticks(np.arange(0, d.shape[0], step) + 0.5, d.index[::step])
    return ax


@no_mathtext
def plot_cohort_curves(cohorts: Any, ax: Axes | None = None, *, max_cohorts: int = 12,
                       min_at_risk: int = MIN_AT_RISK, confidence_level: float = 0.95) -> Axes:
    """Retention curve of each cohort (the latest ``max_cohorts``), each with its confidence band (Wilson
    interval per cohort-period), and the size-weighted average with its band (Wilson, pooled over the
    cohorts observable at each age).

    Following the retention family's rule (:data:`journeylib.retention.plots.MIN_AT_RISK`), a
    cohort smaller than ``min_at_risk`` customers is not drawn, and the average stops at the
    first age observed on fewer than ``min_at_risk`` customers.

    Parameters
    ----------
    cohorts : CohortTable
        Output of :func:`journeylib.loyalty.cohorts.cohort_table`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    max_cohorts : int, default 12
        Draw the latest this many cohorts.
    min_at_risk : int, default MIN_AT_RISK (30)
        Smaller cohorts are not drawn; the average stops at the first age observed on fewer customers.
    confidence_level : float, default 0.95
        Level of the bands.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> cohorts = jl.cohort_table(events, period="M")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cohort_curves(cohorts, ax=ax).get_ylabel()
    'share of cohort active'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    ret = cohorts.retention.iloc[-max_cohorts:]
    sizes = cohorts.cells.groupby("cohort")["size"].first()
    cmap = plt.get_cmap("viridis")
    bands = cohorts.retention_intervals(confidence_level=confidence_level)
    small = 0
    for i, (cohort, row) in enumerate(ret.iterrows()):
        if sizes.get(cohort, 0) < min_at_risk:
            small += 1
            continue
        colour = cmap(i / max(1, len(ret) - 1))
        ax.plot(row.index, row.to_numpy(), color=colour, lw=1, alpha=0.7, label=cohort)
        b = bands[bands["cohort"] == cohort].sort_values("period")
        ax.fill_between(b["period"], b["ci_low"], b["ci_high"], color=colour, alpha=0.08, linewidth=0)
    avg = cohorts.average_retention(confidence_level=confidence_level)
    thin = avg.index[avg["customers"] < min_at_risk]
    if len(thin):
        avg = avg.loc[: thin[0]].iloc[:-1]
    ax.fill_between(avg["period"], avg["ci_low"], avg["ci_high"], color="black", alpha=0.2, linewidth=0,
                    label=f"{confidence_level:.0%} band of the average")
    # the average is solid where at least MIN_COHORTS cohorts are old enough, faded where fewer are
    solid = avg[avg["cohorts"] >= MIN_COHORTS]
    ax.plot(solid["period"], solid["retention"], color="black", lw=2.5, label="weighted average")
    faded = avg[avg["period"] >= (solid["period"].max() if len(solid) else -1)]
    if len(faded) > 1 or not len(solid):
        ax.plot(faded["period"], faded["retention"], color="black", lw=1.5, ls="--", alpha=0.4,
                label=f"average of fewer than {MIN_COHORTS} cohorts")
    unit = PERIOD_NAMES[cohorts.period]
    note = (f"{confidence_level:.0%} bands; curves stop below {min_at_risk} customers"
            + (f"; {small} smaller cohort(s) not drawn" if small else ""))
    ax.set(xlabel=f"{unit}s since acquisition", ylabel="share of cohort active",
           title=f"Retention curves by acquisition cohort\n({note})", ylim=(0, 1.05))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole periods, not "2.5 months"
    ax.legend(fontsize=7, ncol=2, title=f"cohort (latest {len(ret)})")
    return ax


# --------------------------------------------------------------------------- repeat purchase

@no_mathtext
def plot_repeat_rate(repeat: Any, ax: Axes | None = None) -> Axes:
    """Repeat rate within the window by group, with the Wilson intervals (``ci_low``, ``ci_high``).

    Parameters
    ----------
    repeat : RepeatPurchase
        Output of :func:`journeylib.loyalty.cohorts.repeat_purchase`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> repeat = jl.repeat_purchase(events, within_days=90)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_repeat_rate(repeat, ax=ax).get_ylabel()
    'share with a 2nd order within 90 days'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    d = repeat.by_group
    x = np.arange(len(d))
    ax.bar(x, d["repeat_rate"], color="#4c72b0")
    err = [(d["repeat_rate"] - d["ci_low"]).clip(lower=0), (d["ci_high"] - d["repeat_rate"]).clip(lower=0)]
    ax.errorbar(x, d["repeat_rate"], yerr=err, fmt="none", color="black", capsize=3)
    step = max(1, int(np.ceil(len(d) / 24)))  # at most ~24 readable labels
    ax.set_xticks(x[::step], d[repeat.by].astype(str).iloc[::step], rotation=45 if len(d) > 6 else 0,
                  ha="right" if len(d) > 6 else "center")
    ax.set(xlabel=repeat.by.replace("_", " "),
           ylabel=f"share with a 2nd order within {repeat.within_days} days",
           title=f"Repeat purchase rate by {repeat.by.replace('_', ' ')}")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return ax


@no_mathtext
def plot_purchase_gaps(repeat: Any, ax: Axes | None = None, *, max_days: int = 365) -> Axes:
    """Histogram of days between consecutive purchase days, up to the 99th percentile (at most ``max_days``).

    Parameters
    ----------
    repeat : RepeatPurchase
        Output of :func:`journeylib.loyalty.cohorts.repeat_purchase`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    max_days : int, default 365
        Longest gap drawn (days).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> repeat = jl.repeat_purchase(events, within_days=90)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_purchase_gaps(repeat, ax=ax).get_ylabel()
    'number of gaps'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    g = repeat.gaps.set_index("gap_days")["count"]
    g = g[g.index <= max_days]
    if len(g):  # one filled step per day: 1-day bars over months of axis are thinner than a pixel
        g = g.reindex(range(int(g.index.max()) + 1), fill_value=0)
        ax.fill_between(g.index, g.to_numpy(), step="mid", color="#55a868", lw=0)
        c = g.cumsum()
        ax.set_xlim(-0.5, g.index[c >= 0.99 * c.iloc[-1]][0] + 0.5)
    median = repeat.median_gap_days
    ax.axvline(median, color="black", ls="--", label=f"median {median:.0f} days")
    ax.set(xlabel="days between consecutive purchases (99% of gaps shown)", ylabel="number of gaps",
           title="Inter-purchase time distribution")
    ax.legend()
    return ax


@no_mathtext
def plot_time_to_second(repeat: Any, ax: Axes | None = None, *, min_at_risk: int = MIN_AT_RISK) -> Axes:
    """Kaplan-Meier share of customers with a second order by days since the first, with its interval.

    Stops where fewer than ``min_at_risk`` customers are still at risk when the table carries
    an ``at_risk`` column.

    Parameters
    ----------
    repeat : RepeatPurchase
        Output of :func:`journeylib.loyalty.cohorts.repeat_purchase`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    min_at_risk : int, default MIN_AT_RISK (30)
        The curve stops at the last day with at least this many customers still waiting.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> repeat = jl.repeat_purchase(events, within_days=90)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_time_to_second(repeat, ax=ax).get_xlabel()
    'days since first purchase'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    d = repeat.time_to_second
    if "at_risk" in d.columns:
        d = d[d["at_risk"] >= min_at_risk]
    ax.step(d["days"], d["share_with_second_order"], where="post", color="#c44e52")
    ax.fill_between(d["days"], d["ci_low"], d["ci_high"], step="post", alpha=0.25, color="#c44e52")
    title = "Time to second order (Kaplan-Meier)"
    if len(d):
        title = f"{d['share_with_second_order'].iloc[-1]:.0%} have ordered again by day {d['days'].iloc[-1]:,.0f}"
    ax.set(xlabel="days since first purchase", ylabel="share with a second order",
           title=f"{title}\n(curve stops below {min_at_risk} customers still waiting)", ylim=(0, None))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return ax


# --------------------------------------------------------------------------- RFM

@no_mathtext
def plot_rfm_grid(segments: Any, ax: Axes | None = None) -> Axes:
    """R x F grid of an :class:`journeylib.loyalty.rfm.RFMSegments`: customers per cell, coloured by mean revenue.

    Parameters
    ----------
    segments : RFMSegments
        Output of :func:`journeylib.loyalty.rfm.rfm_segments`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> segments = jl.rfm_segments(jl.rfm_table(events))
    >>> fig, ax = plt.subplots()
    >>> plots.plot_rfm_grid(segments, ax=ax).get_ylabel()
    'R score (5 = most recent)'
    >>> plt.close(fig)
    """
    import seaborn as sns

    ax = _axes(ax)
    counts = segments.grid.pivot(index="R", columns="F", values="customers").sort_index(ascending=False)
    value = segments.grid.pivot(index="R", columns="F", values="mean_monetary").sort_index(ascending=False)
    sns.heatmap(value, annot=counts, fmt=",.0f", cmap="YlGnBu", ax=ax,
                cbar_kws={"label": "mean revenue per customer (revenue units)"})
    ax.set(xlabel="F score (1 = fewest orders)", ylabel="R score (5 = most recent)",
           title=f"RFM grid at {segments.as_of[:10]}: customers per cell")
    ax.tick_params(axis="y", labelrotation=0)
    return ax


@no_mathtext
def plot_rfm_segments(segments: Any, ax: Axes | None = None) -> Axes:
    """Horizontal bars: share of customers and share of revenue per named segment.

    Parameters
    ----------
    segments : RFMSegments
        Output of :func:`journeylib.loyalty.rfm.rfm_segments`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> segments = jl.rfm_segments(jl.rfm_table(events))
    >>> fig, ax = plt.subplots()
    >>> plots.plot_rfm_segments(segments, ax=ax).get_title()
    'RFM segments: size and value'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    d = segments.table.iloc[::-1]
    y = np.arange(len(d))
    ax.barh(y - 0.2, d["share_customers"], height=0.4, label="share of customers", color="#4c72b0")
    ax.barh(y + 0.2, d["share_revenue"], height=0.4, label="share of revenue", color="#dd8452")
    ax.set_yticks(y, d["segment"])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel="share of all customers / of all revenue (%)", title="RFM segments: size and value")
    ax.legend()
    return ax


# --------------------------------------------------------------------------- CLV

@no_mathtext
def plot_clv_distribution(boot: Any, ax: Axes | None = None) -> Axes:
    """Histogram of per-customer CLV with the mean and its bootstrap interval.

    The top 1% of customers is left out of the bars (and counted in the x label).

    Parameters
    ----------
    boot : CLVBootstrap
        Output of :func:`journeylib.loyalty.clv.clv_bootstrap`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty import clv
    >>> boot = clv.clv_bootstrap(clv.customer_summary(events), n_boot=20, seed=0)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_clv_distribution(boot, ax=ax).get_ylabel()
    'customers'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    v = boot.per_customer["clv"]
    cut = float(v.quantile(0.99))
    above = int((v > cut).sum())
    ax.hist(v[v <= cut], bins=50, color="#4c72b0")  # the top 1% left out, not piled into the last bar
    est, lo, hi = (x / len(v) for x in boot.total)
    ax.axvline(est, color="black", lw=1.5, label=f"mean {est:,.1f}")
    ax.axvspan(lo, hi, color="orange", alpha=0.3, label=f"{boot.confidence_level:.0%} CI {lo:,.1f}-{hi:,.1f}")
    ax.set(xlabel=f"CLV per customer (revenue units; the top {above:,} customers above {cut:,.0f} not shown)",
           ylabel="customers", title=f"An average customer is worth {est:,.1f} ({lo:,.1f} to {hi:,.1f})")
    ax.legend()
    return ax


@no_mathtext
def plot_calibration(check: Any, ax: Axes | None = None) -> Axes:
    """Mean actual vs predicted holdout purchases per calibration-period frequency.

    Parameters
    ----------
    check : CalibrationCheck
        Output of :func:`journeylib.loyalty.clv.calibration_holdout`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty import clv
    >>> cal = clv.customer_summary(events, calibration_end="2025-01-31", holdout_end="2025-06-30")
    >>> check = clv.calibration_holdout(cal, clv.BetaGeoFitter().fit(cal))
    >>> fig, ax = plt.subplots()
    >>> plots.plot_calibration(check, ax=ax).get_xlabel()
    'repeat purchases in calibration period'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    table = check.table
    lab = table["frequency_bucket"].astype(str)
    xs = np.arange(len(lab))
    ax.plot(xs, table["actual"], "o-", label="actual", color="#4c72b0")
    ax.plot(xs, table["predicted"], "s--", label="BG/NBD predicted", color="#dd8452")
    ax.set_xticks(xs, lab)
    unit = UNIT_NAMES.get(check.time_unit, check.time_unit)
    ok = abs(check.gap) <= check.TOLERANCE if np.isfinite(check.gap) else False
    ax.set(xlabel="repeat purchases in calibration period",
           ylabel=f"mean purchases in holdout ({check.duration:.3g} {unit})",
           title=f"Holdout: the model predicts {check.total_predicted:,.0f} purchase days, customers made "
                 f"{check.total_actual:,.0f}" + ("" if ok else " (off by more than 20%)"), ylim=(0, None))
    ax.legend()
    return ax


@no_mathtext
def plot_fit_parameters(fit: Any, ax: Axes | None = None) -> Axes:
    """Estimates of a :class:`journeylib.loyalty.clv.FitResult` with their 95% intervals (log scale).

    Parameters
    ----------
    fit : FitResult
        A fitted model's ``result_`` (e.g. ``BetaGeoFitter().fit(summary).result_``).
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty import clv
    >>> fit = clv.BetaGeoFitter().fit(clv.customer_summary(events)).result_
    >>> fig, ax = plt.subplots()
    >>> plots.plot_fit_parameters(fit, ax=ax).get_xlabel()
    'parameter value (log scale; 95% CI)'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    d = fit.summary.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(d))
    err = np.vstack([(d["estimate"] - d["ci_low"]).fillna(0).clip(lower=0),
                     (d["ci_high"] - d["estimate"]).fillna(0).clip(lower=0)])
    ax.errorbar(d["estimate"], y, xerr=err, fmt="o", color="#4c72b0", capsize=3)
    ax.set_yticks(y, d["parameter"])
    ax.set_xscale("log")
    ax.set(xlabel="parameter value (log scale; 95% CI)", ylabel="parameter",
           title=f"{fit.model} fit on {fit.n:,} customers")
    return ax


# --------------------------------------------------------------------------- loyalty programme

@no_mathtext
def plot_loyalty_effect(effect: Any, ax: Axes | None = None) -> Axes:
    """Forest plot of a :class:`journeylib.loyalty.programme.LoyaltyEffect`: naive vs adjusted, no-effect line.

    Parameters
    ----------
    effect : LoyaltyEffect
        Output of :func:`journeylib.loyalty.programme.loyalty_effect`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> ds = jl.load_dataset("sample")
    >>> effect = jl.loyalty_effect(ds.events, ds.customers, window_days=90)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_loyalty_effect(effect, ax=ax).get_xlabel()
    'ratio, members vs counterfactual (log scale; 1 = no effect)'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    t = effect.table.iloc[::-1].reset_index(drop=True)
    colors = {"naive": "#c44e52", "adjusted": "#4c72b0", "within members only": "#8c8c8c"}
    for i, r in t.iterrows():
        c = colors.get(r["method"], "#55a868")
        ax.errorbar(r["estimate"], i, xerr=error_widths([r["estimate"]], [r["ci_low"]], [r["ci_high"]]),
                    fmt="o", color=c, capsize=3)
    ax.axvline(1.0, color="black", lw=1, ls="--")
    ax.set_yticks(range(len(t)), [f"{o} ({s}): {m}" for o, s, m in zip(t["outcome"], t["scale"], t["method"])])
    ax.set_xscale("log")
    lo, hi = float(t["ci_low"].min()), float(t["ci_high"].max())
    ticks = [v for v in (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.25, 1.5, 2, 3, 5, 10) if lo / 1.3 <= v <= hi * 1.3]
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set(xlabel="ratio, members vs counterfactual (log scale; 1 = no effect)",
           title="Loyalty programme effect: naive vs adjusted (95% CI)")
    return ax


@no_mathtext
def plot_loyalty_rates(effect: Any, ax: Axes | None = None) -> Axes:
    """Repeat purchases per 30 days in the pre and post windows, members vs matched controls.

    Parameters
    ----------
    effect : LoyaltyEffect
        Output of :func:`journeylib.loyalty.programme.loyalty_effect`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> ds = jl.load_dataset("sample")
    >>> effect = jl.loyalty_effect(ds.events, ds.customers, window_days=90)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_loyalty_rates(effect, ax=ax).get_ylabel()
    'repeat purchases per customer per 30 days'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    w = effect.windows
    g = w.groupby("member").agg(pre=("n_pre", "sum"), e1=("e_pre", "sum"), post=("n_post", "sum"),
                                e2=("e_post", "sum"))
    for member, r in g.iterrows():
        lab = "members (join date)" if member else "matched non-members (same windows)"
        ax.plot([0, 1], [30 * r["pre"] / r["e1"], 30 * r["post"] / r["e2"]], "o-", lw=2, label=lab,
                color="#4c72b0" if member else "#8c8c8c")
    ax.set_xticks([0, 1], [f"{effect.window_days} days before join", f"{effect.window_days} days after"])
    ax.set(ylabel="repeat purchases per customer per 30 days", title="Purchase rate around the join date",
           xlim=(-0.3, 1.3))
    ax.set_ylim(0, None)  # from zero: a truncated axis exaggerates the change
    ax.legend()
    return ax


@no_mathtext
def plot_model_comparison(cmp: Any, ax: Axes | None = None) -> Axes:
    """Mean actual vs each model's predicted holdout purchases per calibration frequency.

    Parameters
    ----------
    cmp : ModelComparison
        Output of :func:`journeylib.loyalty.clv.compare_models`.
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
    >>> from journeylib.loyalty import plots
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty import clv
    >>> cal = clv.customer_summary(events, calibration_end="2025-01-31", holdout_end="2025-06-30")
    >>> cmp = clv.compare_models(cal)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_model_comparison(cmp, ax=ax).get_xlabel()
    'repeat purchases in calibration period'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    t = cmp.by_frequency
    xs = np.arange(len(t))
    ax.plot(xs, t["actual"], "o-", color="black", lw=2, label="actual")
    chosen = cmp.table.set_index("key").loc[cmp.chosen, "model"]
    for i, name in enumerate(cmp.table["model"]):
        ax.plot(xs, t[name], ["s--", "^:", "d-."][i % 3], label=name + (" (chosen)" if name == chosen else ""),
                lw=2 if name == chosen else 1)
    ax.set_xticks(xs, t["frequency_bucket"].astype(str))
    unit = UNIT_NAMES.get(cmp.time_unit, cmp.time_unit)
    ax.set(xlabel="repeat purchases in calibration period",
           ylabel=f"mean purchases in holdout ({cmp.duration:.3g} {unit})",
           title=f"CLV models on the holdout: {chosen} chosen (see the table for why)", ylim=(0, None))
    ax.legend()
    return ax
