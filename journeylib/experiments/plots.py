"""All drawing of the experiments family: forest plot, cumulative lift, sequential test, SRM, CUPED, posterior.

Result classes only delegate here (``ABResult.plot`` -> :func:`plot_forest`, ...). Every
function takes the result first, draws on ``ax`` (or the current Axes) and returns it;
none calls ``plt.show()``. Text from data (experiment, metric, variant names) is drawn
with ``parse_math=False``: a ``$`` in a name is a dollar sign, never mathtext.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["plot_forest", "plot_cumulative", "plot_sequential", "plot_srm", "plot_cuped", "plot_posterior"]


def _axes(ax):
    """``ax``, or the current Axes (matplotlib is imported on first drawing, not with the package)."""
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax


FOREST_STYLE = {
    "better": ("tab:green", "o", "better than control (after correction)"),
    "worse": ("tab:red", "o", "worse than control (after correction)"),
    "no clear difference": ("tab:grey", "o", "no clear difference"),
    "invalid": ("black", "x", "invalid: sample ratio mismatch, do not use"),
}


def _set_ticklabels(axis, labels, **kw):
    """Tick labels from data, never parsed as mathtext (also for ticks made later at draw time)."""
    axis.set_ticklabels(labels, **kw)
    for t in axis.get_ticklabels():
        t.set_parse_math(False)


def plot_forest(results: Any, ax=None, *, experiment: str | None = None):
    """Relative lift with its confidence interval, one row per comparison, coloured by the decision.

    ``results``: a ``Readout`` (colours follow its Holm-adjusted decision), one
    ``ABResult`` or a sequence of them (colours follow each result's own, unadjusted
    test); ``experiment`` keeps one experiment. Green: better than control; red: worse;
    grey: no clear difference; black crosses: the experiment failed its sample-ratio check
    (invalid, do not use), whatever its numbers.

    Parameters
    ----------
    results
        A ``Readout``, an ``ABResult`` or a sequence of ``ABResult``.
    ax
        Axes to draw on (default: the current Axes).
    experiment
        Keep only this experiment.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.experiments import plots
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_forest(ro, ax=ax).get_xlabel()
    'relative lift vs control (%), 95% CI (unadjusted)'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    if hasattr(results, "results"):
        s = results.summary
        rows = list(zip(results.results, s["significant_holm"], s["valid"]) if len(s) else [])
        adjusted = True
    else:
        rows = [(r, r.significant, r.srm_passed) for r in (results if isinstance(results, (list, tuple)) else [results])]
        adjusted = False
    rows = [row for row in rows if experiment is None or row[0].experiment == experiment]
    if not rows:
        ax.set_title("no comparisons")
        return ax
    labels, y, used = [], np.arange(len(rows))[::-1], {}
    for yi, (r, sig, valid) in zip(y, rows):
        seg = f" [{r.segment}]" if r.segment is not None else ""
        key = ("invalid" if not valid else "better" if sig and r.rel_lift > 0
               else "worse" if sig and r.rel_lift < 0 else "no clear difference")
        labels.append(f"{r.experiment}{seg} | {r.metric.replace('_', ' ')} | {r.variant}"
                      + (" (invalid)" if key == "invalid" else ""))
        lo, hi = r.rel_ci_low, r.rel_ci_high
        color, marker, text = FOREST_STYLE[key]
        est = r.rel_lift * 100 if np.isfinite(r.rel_lift) else np.nan
        h = ax.errorbar(est, yi, xerr=[[max(r.rel_lift - lo, 0) * 100], [max(hi - r.rel_lift, 0) * 100]]
                        if np.isfinite(lo) and np.isfinite(hi) and np.isfinite(r.rel_lift) else None,
                        fmt=marker, color=color, capsize=3, alpha=0.6 if key == "invalid" else 1.0)
        used.setdefault(key, (h, text))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    _set_ticklabels(ax.yaxis, labels, fontsize="small")
    level = rows[0][0].confidence_level
    ax.set_xlabel(f"relative lift vs control (%), {level:.0%} CI (unadjusted)")
    ax.set_title("Lift by experiment, metric and variant" + (": colour = decision after Holm correction"
                                                             if adjusted else ""))
    order = [k for k in FOREST_STYLE if k in used]
    ax.legend([used[k][0] for k in order], [used[k][1] for k in order], fontsize="small", loc="best")
    return ax


def plot_cumulative(result: Any, ax=None):
    """Cumulative relative lift of one ``ABResult`` over entry days, with the fixed-horizon CI.

    Parameters
    ----------
    result
        An ``ABResult`` (its ``looks``).
    ax
        Axes to draw on (default: the current Axes).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.experiments import plots
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cumulative(ro.result("personalised_offer", "conversion"), ax=ax).get_ylabel()
    'relative lift (%)'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    r = result
    lk = r.looks
    ax.fill_between(lk["look"], lk["rel_ci_low"] * 100, lk["rel_ci_high"] * 100, alpha=0.25,
                    label=f"{r.confidence_level:.0%} CI (fixed horizon)")
    ax.plot(lk["look"], lk["rel_lift"] * 100, marker="o", ms=3, label="cumulative relative lift")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("users entered up to (entry day)")
    ax.set_ylabel("relative lift (%)")
    ax.set_title(f"{r.experiment} / {r.metric}: {r.variant} vs {r.control}, cumulative", parse_math=False)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    for lbl in ax.get_xticklabels():
        lbl.set_rotation(30)
        lbl.set_ha("right")
    ax.legend(fontsize="small")
    return ax


def plot_sequential(result: Any, ax=None, *, xlabel: str = "look", unit: str = ""):
    """Estimate over looks with the always-valid confidence sequence and the fixed-horizon CI.

    Parameters
    ----------
    result
        A ``SequentialResult`` (or anything with ``looks``, ``alpha`` and ``pvalue``).
    ax
        Axes to draw on (default: the current Axes).
    xlabel
        Label of the x axis (what a look is).
    unit
        Unit of the difference, shown on the y axis.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.experiments import plots
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.ab_readout(ds.assignments, ds.events, experiments="personalised_offer")
    >>> fig, ax = plt.subplots()
    >>> seq = ro.result("personalised_offer", "revenue_per_user").sequential
    >>> plots.plot_sequential(seq, ax=ax, unit="EUR").get_ylabel()
    'difference variant - control (EUR)'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    lk = result.looks
    x = lk["look"]
    # y range: the fixed-horizon intervals widened by half; the sequence is clipped to it
    # (before the first valid look it is infinite)
    has_ci = "ci_low" in lk

    def finite_range(low, high):  # min/max over finite values; NaN when there are none (no numpy warning)
        low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        low, high = low[np.isfinite(low)], high[np.isfinite(high)]
        return (low.min() if low.size else np.nan), (high.max() if high.size else np.nan)

    lo, hi = finite_range(lk["ci_low"], lk["ci_high"]) if has_ci else (np.nan, np.nan)
    if not has_ci or not np.isfinite([lo, hi]).all():
        lo, hi = finite_range(lk["estimate"] - 4 * lk["se"], lk["estimate"] + 4 * lk["se"])
    if not np.isfinite([lo, hi]).all():
        lo, hi = -1.0, 1.0
    pad = 0.5 * (hi - lo) if hi > lo else 0.5 * max(abs(lo), 1.0)
    ax.fill_between(x, lk["seq_ci_low"].clip(lower=lo - pad), lk["seq_ci_high"].clip(upper=hi + pad),
                    alpha=0.25, label=f"{1 - result.alpha:.0%} confidence sequence (valid at every look)")
    ax.set_ylim(lo - pad, hi + pad)
    if has_ci:
        ax.plot(x, lk["ci_low"], ls=":", color="grey", label="fixed-horizon CI (valid only at the planned end)")
        ax.plot(x, lk["ci_high"], ls=":", color="grey")
    ax.plot(x, lk["estimate"], marker="o", ms=3, label="estimate")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"difference variant - control{f' ({unit})' if unit else ''}")
    ax.set_title(f"Sequential test: always-valid p = {result.pvalue:.3g}")
    ax.legend(fontsize="small", loc="best")
    return ax


def plot_srm(result: Any, ax=None):
    """Observed vs planned share of users per variant (an ``SRMResult``).

    Parameters
    ----------
    result
        An ``SRMResult``.
    ax
        Axes to draw on (default: the current Axes).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.experiments import plots
    >>> fig, ax = plt.subplots()
    >>> srm = jl.srm_test([352, 264], experiment="email_send_time", variants=["control", "morning"])
    >>> plots.plot_srm(srm, ax=ax).get_title()
    'email_send_time: chi-square p < 0.001'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    total = sum(result.observed)
    x = np.arange(len(result.variants))
    ax.bar(x - 0.2, [o / total * 100 for o in result.observed], width=0.4, label="observed")
    ax.bar(x + 0.2, [s * 100 for s in result.planned_share], width=0.4, color="lightgrey", label="planned")
    ax.set_xticks(x)
    _set_ticklabels(ax.xaxis, list(result.variants))
    ax.set_ylabel("share of users (%)")
    ax.set_xlabel("variant")
    p = "p < 0.001" if result.pvalue < 0.001 else f"p = {result.pvalue:.3g}"
    ax.set_title(f"{result.experiment or 'split'}: chi-square {p}", parse_math=False)
    ax.legend(fontsize="small")
    return ax


def plot_cuped(result: Any, ax=None, *, arms: Sequence[str] | None = None):
    """Per-user variance per arm before and after the CUPED adjustment (a ``CupedAdjustment``).

    Parameters
    ----------
    result
        A ``CupedAdjustment``.
    ax
        Axes to draw on (default: the current Axes).
    arms
        Arm names for the x axis (default ``arm 0``, ``arm 1``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from journeylib.experiments import plots, statistics
    >>> adj = statistics.cuped([100, 100], [50.0, 60.0], [60.0, 80.0], [40.0, 42.0], [50.0, 55.0], [35.0, 45.0])
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cuped(adj, ax=ax, arms=["control", "treatment"]).get_title()
    'CUPED removes 21% of the variance'
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    raw, adj = np.atleast_1d(result.raw_var), np.atleast_1d(result.var)
    names = list(arms) if arms is not None else [f"arm {i}" for i in range(len(raw))]
    x = np.arange(len(raw))
    ax.bar(x - 0.2, raw, width=0.4, color="lightgrey", label="before CUPED")
    ax.bar(x + 0.2, adj, width=0.4, label="after CUPED")
    ax.set_xticks(x)
    _set_ticklabels(ax.xaxis, names)
    ax.set_ylabel("per-user variance (metric units squared)")
    ax.set_title(f"CUPED removes {result.variance_reduction:.0%} of the variance")
    ax.legend(fontsize="small")
    return ax


def plot_posterior(result: Any, ax=None):
    """Posterior relative lift with its credible interval and the chance to beat control (a Bayesian result).

    Parameters
    ----------
    result
        A ``PosteriorComparison`` (one comparison or arrays of them).
    ax
        Axes to draw on (default: the current Axes).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.experiments import plots
    >>> fig, ax = plt.subplots()
    >>> ax = plots.plot_posterior(jl.beta_binomial(120, 1000, 100, 1000), ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['chance to beat 92.3%']
    >>> plt.close(fig)
    """
    ax = _axes(ax)
    est, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) * 100
                   for v in (result.rel_lift, result.rel_ci_low, result.rel_ci_high))
    ctb = np.atleast_1d(np.asarray(result.chance_to_beat, dtype=float))
    y = np.arange(len(est))[::-1]
    ax.errorbar(est, y, xerr=[np.maximum(est - lo, 0), np.maximum(hi - est, 0)], fmt="o", capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"chance to beat {c:.1%}" for c in ctb], fontsize="small")
    ax.set_xlabel(f"relative lift vs control (%), {result.confidence_level:.0%} credible interval")
    ax.set_title("Posterior lift")
    return ax
