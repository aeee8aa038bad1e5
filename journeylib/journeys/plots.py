"""All drawing of the journeys family: funnel, transitions, journey map, attribution, paths, activity.

Every function takes a result (or a small frame) first, draws on ``ax`` (the current
Axes when ``None``) and returns it; none calls ``plt.show()``. The result classes'
``plot`` methods delegate here.

The journey map (:func:`plot_journey_map`) is one Axes with three bands per stage column:

* top: the stage as a chevron with the customers who reached it, and the share that
  continues to the next stage on the arrow between columns;
* middle: the satisfaction ("emotion") line, the mean score per stage on its scale,
  when a score column exists;
* bottom: median days in the stage and the top touchpoints.

The stages with the largest drop-off to the next stage are outlined in red and labelled
"large drop-off" (drop-offs, not pain points: :func:`plot_measured_journey_map` ranks
those by the pain score).

Every drawing function is wrapped in :func:`journeylib.core.plots.no_mathtext`: stage,
channel and segment names are drawn as typed, never as TeX (a ``$`` in a name would
otherwise crash the figure with a mathtext parse error).
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import StrMethodFormatter

from ..core.errors import JourneyParameterError
from ..core.plots import error_widths, no_mathtext, step_points
from ..retention.plots import at_risk_cutoff
from .common import model_words
from .paths import path_lengths

__all__ = ["plot_funnel", "plot_journey_flow", "plot_transitions", "plot_journey_map", "plot_measured_journey_map",
           "plot_nps", "plot_nps_by_month", "plot_ratings", "plot_referrals", "plot_feedback_comparison",
           "plot_attribution",
           "plot_incremental", "plot_budget", "plot_stage_attribution", "plot_path_lengths", "plot_time_to_convert",
           "plot_monthly_activity", "plot_time_to_next_stage", "plot_period_comparison", "plot_segment_comparison"]

_PAIN = "#c0392b"
_BOX = "#2c6fad"


def _fit(ax, text, width: float, min_size: float = 6.5) -> None:
    """Shrink ``text`` until it is at most ``width`` data units wide (as drawn now).

    A text that would need less than ``min_size`` points is broken into two lines first.
    """
    (x0, _), (x1, _) = ax.transData.transform([(0, 0), (width, 0)])

    def scale() -> float:  # the figure's own renderer measures the text, whatever the backend
        return (x1 - x0) / text.get_window_extent().width

    words = text.get_text()
    if text.get_fontsize() * scale() < min_size and " " in words:
        text.set_text(textwrap.fill(words, max(-(-len(words) // 2), *map(len, words.split()))))
    text.set_fontsize(max(5.0, text.get_fontsize() * min(scale(), 1.0)))


@no_mathtext
def plot_journey_map(data, ax=None, *, score_range: tuple[float, float] = (1.0, 5.0), title: str | None = None):
    """Draw a journey map from :class:`journeylib.journeys.stages.JourneyMapData`.

    The stages flagged as top drop-offs (the largest share lost to the next stage) are
    outlined in red and labelled "large drop-off".

    Parameters
    ----------
    data
        Output of :func:`journeylib.journeys.stages.journey_map_data`.
    ax
        Matplotlib Axes (the current Axes if ``None``; the map reads best about
        ``2.3 * stages`` by 7 inches).
    score_range
        Scale of the score column (1-5 for CSAT; use (0, 10) for NPS-style ratings).
    title
        Figure title (default describes the map).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> data = jl.journey_map_data(ds.events, ["awareness", "consideration", "cart", "purchase"])
    >>> fig, ax = plt.subplots()
    >>> plots.plot_journey_map(data, ax=ax).get_title(loc="left")
    'Customer journey map: reach, conversion to the next stage, satisfaction, touchpoints'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = data.summary
    k = len(s)
    ax.set_xlim(-0.78, k - 0.45)
    ax.set_ylim(-0.15, 4.55)
    ax.axis("off")
    w = 0.76
    max_c = max(float(s["customers"].max()), 1.0)
    names, counts, drops = [], [], []  # the chevrons' and drop-off labels' texts, fitted to their boxes below
    for i, r in enumerate(s.itertuples(index=False)):
        top = bool(r.top_drop_off)
        # column background
        ax.add_patch(FancyBboxPatch((i - w / 2, 0.0), w, 4.45, boxstyle="round,pad=0.0,rounding_size=0.04",
                                    fc="#fbeeee" if top else "#f4f6f9", ec=_PAIN if top else "none",
                                    lw=2 if top else 0, zorder=0))
        # chevron with the stage name and customers
        x0, x1, y0, y1 = i - w / 2 + 0.03, i + w / 2 - 0.03, 3.45, 4.25
        tip = 0.08
        shade = 0.35 + 0.6 * (r.customers / max_c)
        ax.add_patch(Polygon([(x0, y0), (x1 - tip, y0), (x1, (y0 + y1) / 2), (x1 - tip, y1), (x0, y1),
                              (x0 + (tip if i else 0), (y0 + y1) / 2)], closed=True,
                             fc=plt.cm.Blues(shade), ec="white", zorder=2))
        name = str(r.stage).replace("_", " ").upper()
        ink = "white" if shade > 0.6 else "black"
        names.append(ax.text(i, 4.02, name, ha="center", va="center", fontsize=10, weight="bold", color=ink,
                             zorder=3))
        counts.append(ax.text(i, 3.66, f"{int(r.customers):,} customer{'' if r.customers == 1 else 's'}",
                              ha="center", va="center", fontsize=9, color=ink, zorder=3))
        if i < k - 1 and np.isfinite(r.conversion_to_next):
            ax.annotate("", xy=(i + 0.62, 3.25), xytext=(i + 0.38, 3.25),
                        arrowprops={"arrowstyle": "-|>", "color": _PAIN if top else "0.35", "lw": 1.5})
            ax.text(i + 0.5, 3.33, f"{r.conversion_to_next:.0%}", ha="center", va="bottom", fontsize=8.5,
                    color=_PAIN if top else "0.2", weight="bold")
        if top:
            drops.append(ax.text(i, 3.05, f"LARGE DROP-OFF\n{r.drop_off:.0%} do not go on", ha="center",
                                 va="center", fontsize=8.5, color=_PAIN, weight="bold"))
        # bottom band: time in stage and touchpoints
        days = "" if not np.isfinite(r.median_days_in_stage) else f"{r.median_days_in_stage:.1f} days in stage\n(median)"
        ax.text(i, 0.95, days, ha="center", va="center", fontsize=8.5, color="0.25")
        # a touchpoint and its share stay on one line (textwrap never breaks at a no-break space)
        items = [t.replace(" ", "\u00a0") for t in r.top_touchpoints.split(", ")] if r.top_touchpoints else []
        tps = textwrap.fill(" · ".join(items) or "none recorded", 22)
        ax.text(i, 0.45, "top touchpoints\n" + tps, ha="center", va="center", fontsize=8, color="0.2",
                linespacing=1.3)
    # at a text's height the notch and the tip leave the chevron's width less ``tip``; keep a margin
    for text in names + counts:
        _fit(ax, text, w - 0.06 - tip - 0.08)
    for text in drops:
        _fit(ax, text, w - 0.1)
    # middle band: score line
    ax.plot([-0.5, k - 0.5], [1.3, 1.3], color="0.8", lw=0.8)
    ax.text(-0.66, 0.7, "touchpoints", fontsize=8, color="0.35", va="center", ha="center", rotation=90)
    if data.score_col and "score_mean" in s.columns and s["score_mean"].notna().any():
        lo, hi = score_range
        yv = 1.4 + (s["score_mean"].to_numpy(dtype=float) - lo) / (hi - lo) * 1.4
        xs = np.arange(k)
        ok = np.isfinite(yv)
        ax.plot(xs[ok], yv[ok], color="0.4", lw=2, zorder=3)
        colors = plt.cm.RdYlGn((s["score_mean"].to_numpy(dtype=float) - lo) / (hi - lo))
        for x, y, c, v, n in zip(xs[ok], yv[ok], colors[ok], s["score_mean"][ok], s["score_n"][ok]):
            ax.scatter([x], [y], s=160, color=c, ec="0.3", zorder=4)
            ax.text(x, y + 0.17, f"{v:.2f}", ha="center", va="bottom", fontsize=9, weight="bold", zorder=5)
            ax.text(x, y - 0.17, f"n={int(n):,}", ha="center", va="top", fontsize=7, color="0.4", zorder=5)
        for y_s, lab in ((lo, f"{lo:g}"), (hi, f"{hi:g}")):
            ax.text(-0.62, 1.4 + (y_s - lo) / (hi - lo) * 1.4, lab, fontsize=7, color="0.5", va="center")
        ax.text(-0.66, 2.1, f"mean {data.score_col}\n(satisfaction)", fontsize=8, color="0.35", va="center",
                ha="center", rotation=90)
    else:
        ax.text((k - 1) / 2, 2.1, "no score column: satisfaction line not shown", ha="center", fontsize=9,
                color="0.5", style="italic")
    ax.set_title(title or "Customer journey map: reach, conversion to the next stage, satisfaction, touchpoints",
                 fontsize=12, loc="left")
    return ax


# --------------------------------------------------------------------------- funnel
def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f}%"


@no_mathtext
def plot_funnel(result, ax=None):
    """Horizontal funnel bars of a :class:`journeylib.journeys.stages.FunnelResult`.

    Without groups: one bar per stage (customers reached), labelled with the count,
    the step conversion and the cumulative conversion. With groups (``by``): grouped
    bars of the cumulative conversion per group. A figure about
    ``len(stages) * (0.6 + 0.24 * groups) + 1.2`` inches high keeps the labels apart.

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`journeylib.journeys.stages.funnel`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> result = jl.funnel(ds.events, window=60)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_funnel(result, ax=ax).get_xlabel()
    'customers reaching the stage (count)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = result.summary
    stages = list(result.stages)
    y = np.arange(len(stages))
    if result.by is None:
        counts = s["customers"].to_numpy(dtype=float)
        colors = plt.cm.Blues(np.linspace(0.85, 0.45, len(stages)))
        ax.barh(y, counts, color=colors, height=0.7)
        top = counts.max() if len(counts) and counts.max() > 0 else 1.0
        for i, row in enumerate(s.itertuples(index=False)):
            if i == 0:
                label = f"{row.customers:,}"
            else:
                label = (f"{row.customers:,}  |  step {_pct(row.step_conversion)}"
                         f"  |  of entry {_pct(row.cumulative_conversion)}")
            if row.not_yet_mature:
                label += f"  (+{row.not_yet_mature:,} not yet mature)"
            ax.text(counts[i] + top * 0.01, i, label, va="center", fontsize=9)
        ax.set_xlim(0, top * 1.9)
        ax.set_xlabel("customers reaching the stage (count)")
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))  # room for "1,500,000" at any scale
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    else:
        groups = list(dict.fromkeys(s["group"]))
        h = 0.8 / max(len(groups), 1)
        palette = plt.cm.tab10(np.arange(len(groups)) % 10)
        for g, (name, color) in enumerate(zip(groups, palette)):
            part = s[s["group"] == name].set_index("stage").reindex(stages)
            vals = part["cumulative_conversion"].to_numpy(dtype=float) * 100
            pos = y - 0.4 + h * (g + 0.5)
            ax.barh(pos, np.nan_to_num(vals), height=h, color=color, label=str(name))
            for p, v in zip(pos, vals):
                if np.isfinite(v):
                    ax.text(v + 1, p, f"{v:.1f}%", va="center", fontsize=7)
        ax.set_xlim(0, 118)
        ax.set_xlabel("entrants reaching the stage (% of the mature cohort)")
        ax.legend(title=result.by, fontsize=8, loc="lower right")
    ax.set_yticks(y, labels=stages)
    ax.invert_yaxis()
    ax.set_ylabel("stage")
    kind = "Closed" if result.closed else "Open"
    win = "" if result.window_days is None else f", {result.window_days:g}-day window"
    ax.set_title(f"{kind} stage funnel{win}" + (f", by {result.by}" if result.by else ""))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


# --------------------------------------------------------------------------- journey flow
def _band(ax, x0: float, lo0: float, hi0: float, x1: float, lo1: float, hi1: float, **kw) -> None:
    """A flow band from ``[lo0, hi0]`` at ``x0`` to ``[lo1, hi1]`` at ``x1`` (cubic curves, constant width)."""
    xm = (x0 + x1) / 2
    verts = [(x0, hi0), (xm, hi0), (xm, hi1), (x1, hi1), (x1, lo1), (xm, lo1), (xm, lo0), (x0, lo0), (x0, hi0)]
    codes = [MplPath.MOVETO] + [MplPath.CURVE4] * 3 + [MplPath.LINETO] + [MplPath.CURVE4] * 3 + [MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), lw=0, **kw))


@no_mathtext
def plot_journey_flow(result, ax=None):
    """The journey as a flow (Sankey) figure of a closed, ungrouped :class:`journeylib.journeys.stages.FunnelResult`.

    One node per stage (height = customers who reached it), a band from each stage to the
    next (width = customers who went on) and a band down from each stage to the customers
    who did not go on (their count and the step's drop-off). The biggest drop-off
    (:func:`journeylib.journeys.stages.biggest_drop_off`) is drawn in red and stated in the
    title. Drawn with Matplotlib patches only (offline). About ``1.9 * stages`` by 5 inches.

    Parameters
    ----------
    result : FunnelResult
        Output of :func:`journeylib.journeys.stages.funnel` (closed, without ``by``).
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> result = jl.funnel(ds.events, window=60)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_journey_flow(result, ax=ax).get_title().splitlines()[0]
    'Biggest drop-off from repeat to advocacy: 73.6% did not go on'
    >>> plt.close(fig)
    """
    if result.by is not None or not result.closed:
        raise JourneyParameterError("plot_journey_flow: expected a closed funnel without by (funnel(events, stages)); "
                                    f"got closed={result.closed}, by={result.by!r}")
    if ax is None:
        ax = plt.gca()
    s = result.summary
    stages = list(result.stages)
    n = s["customers"].to_numpy(dtype=float)
    total = max(n[0], n.max(), 1.0)
    h = n / total  # node heights; 1 = the entrants
    worst = result.biggest_drop_off  # the one definition (journeys.stages.biggest_drop_off)
    w, base = 0.09, -0.08
    tops = 0.5 + h / 2
    lowest = base
    for k, stage in enumerate(stages):
        lo, hi = 0.5 - h[k] / 2, tops[k]
        ax.add_patch(Rectangle((k - w / 2, lo), w, max(hi - lo, 0.0), fc=_BOX, ec="none", zorder=3))
        label = f"{textwrap.fill(str(stage), 16)}\n{int(n[k]):,} customers"
        ax.text(k, hi + 0.03, label, ha="center", va="bottom", fontsize=9, zorder=4)
        if k == len(stages) - 1:
            break
        row = s.iloc[k + 1]
        went_on = min(n[k + 1], n[k]) / total
        red = worst is not None and worst.to_stage == stages[k + 1]
        # band to the next stage: the top part of this node onto the whole next node
        _band(ax, k + w / 2, hi - went_on, hi, k + 1 - w / 2, 0.5 - h[k + 1] / 2, tops[k + 1],
              fc=_BOX, alpha=0.28, zorder=1)
        left = hi - went_on - (0.5 - h[k] / 2)  # everyone at this stage who did not reach the next
        if left <= 0:
            continue
        end = base  # the drop bands all end at the same baseline, below the nodes
        _band(ax, k + w / 2, 0.5 - h[k] / 2, hi - went_on, k + 0.5, end - left, end,
              fc=_PAIN if red else "#d9a19a", alpha=0.75 if red else 0.45, zorder=1)
        lowest = min(lowest, end - left)
        share = row["drop_off"]
        text = f"{int(round(left * total)):,} did not go on"
        if np.isfinite(share):
            text += f"\n({_pct(share)} of {textwrap.shorten(str(stage), 18, placeholder='…')})"
        if row["not_yet_mature"]:
            text += f"\nincl. {int(row['not_yet_mature']):,} not yet mature"
        ax.text(k + 0.5, end - left - 0.02, text, ha="center", va="top", fontsize=8,
                color=_PAIN if red else "0.3", weight="bold" if red else "normal", zorder=4)
    ax.set_xlim(-0.5, len(stages) - 0.5)
    ax.set_ylim(lowest - 0.22, 1.2)
    ax.axis("off")
    if worst is not None:
        title = f"Biggest drop-off {worst.step}: {_pct(worst.drop_off)} did not go on"
    else:
        title = "Journey flow from stage to stage"
    ax.set_title(title + "\n(band width = customers)", fontsize=11)
    return ax


# --------------------------------------------------------------------------- transitions
@no_mathtext
def plot_transitions(result, ax=None):
    """Heat map of a :class:`journeylib.journeys.stages.TransitionResult`: row %, annotated with counts.

    Backward moves are outlined in red. About ``1.2 * k + 3`` by ``k + 1.2`` inches for k stages.

    Parameters
    ----------
    result : TransitionResult
        Output of :func:`journeylib.journeys.stages.stage_transitions`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> result = jl.stage_transitions(ds.events)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_transitions(result, ax=ax).get_ylabel()
    'current stage'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    p = result.probabilities.fillna(0.0).to_numpy() * 100
    c = result.counts.to_numpy()
    stages = list(result.stages)
    k = len(stages)
    im = ax.imshow(p, cmap="Purples", vmin=0, vmax=100)
    ax.grid(False)  # a themed grid (seaborn whitegrid) would cut through the cells
    for a in range(k):
        for b in range(k):
            if c[a, b]:
                ax.text(b, a, f"{p[a, b]:.0f}%\n({c[a, b]:,})", ha="center", va="center", fontsize=8,
                        color="white" if p[a, b] > 55 else "black")
            if b < a and c[a, b]:
                ax.add_patch(plt.Rectangle((b - 0.5, a - 0.5), 1, 1, fill=False, ec="#d62728", lw=1.2))
    ax.set_xticks(range(k), labels=stages, rotation=30, ha="right")
    ax.set_yticks(range(k), labels=stages)
    ax.set_xlabel("next stage")
    ax.set_ylabel("current stage")
    ax.set_title(f"Stage transitions (row %); red = backward move\n"
                 f"{result.share_going_back:.1%} of customers go back at least once")
    ax.figure.colorbar(im, ax=ax, label="% of moves out of the current stage")
    return ax


# --------------------------------------------------------------------------- attribution
@no_mathtext
def plot_attribution(result, ax=None):
    """Grouped bars of an :class:`journeylib.journeys.attribution.AttributionResult`.

    Share of conversions per channel for each model, with the bootstrap intervals
    (``ci_low``, ``ci_high``) as error bars when there are any.

    Parameters
    ----------
    result : AttributionResult
        Output of :func:`journeylib.journeys.attribution.attribute`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> result = jl.attribute(jl.path_table(ds.events), models=["last_touch", "markov"], n_boot=20, seed=1)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_attribution(result, ax=ax).get_ylabel()
    'share of conversions (%)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = result.summary
    models = list(result.models)
    channels = list(result.shares().mean(axis=1).sort_values(ascending=False).index)
    m = len(models)
    width = 0.8 / m
    x = np.arange(len(channels))
    colors = plt.cm.tab10(np.arange(m) % 10)
    for i, model in enumerate(models):
        part = s[s["model"] == model].set_index("channel").reindex(channels)
        pos = x - 0.4 + width * (i + 0.5)
        yerr = None
        if result.n_boot and part["ci_low"].notna().any():
            yerr = np.vstack([(part["share"] - part["ci_low"]).clip(lower=0),
                              (part["ci_high"] - part["share"]).clip(lower=0)]) * 100
        ax.bar(pos, part["share"] * 100, width=width, color=colors[i], label=model_words(model),
               yerr=yerr, capsize=2, error_kw={"elinewidth": 0.8, "ecolor": "0.3"})
    ax.set_xticks(x, labels=channels)
    ax.set_xlabel("channel")
    ax.set_ylabel("share of conversions (%)")
    title = "Share of conversions by model (volume: mixes each channel's effect with its reach)"
    if result.n_boot:
        title += f" ({result.confidence_level:.0%} bootstrap intervals)"
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=min(m, 4), frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


@no_mathtext
def plot_incremental(result, ax=None):
    """Channels ranked by incremental effect: conversions per 1,000 customers reached, with intervals.

    From :attr:`journeylib.journeys.attribution.AttributionResult.incremental` (Markov
    removal effect, else Shapley); the axis starts at zero; the title states the leader.

    Parameters
    ----------
    result
        An :class:`journeylib.journeys.attribution.AttributionResult` (with a bootstrap for intervals).
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_incremental(jl.attribute(ds.events, n_boot=20, seed=1), ax=ax).get_xlabel()
    'conversions credited per 1,000 customers reached (Markov model)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    inc = result.incremental
    if inc.empty:
        raise JourneyParameterError("plot_incremental: needs the markov or shapley model (attribute(..., models=...))")
    model = str(inc["model"].iloc[0]).replace("markov", "Markov").replace("shapley", "Shapley")
    y = np.arange(len(inc))
    v = inc["per_1000_reached"].to_numpy(dtype=float)
    lo, hi = inc["ci_low"].to_numpy(dtype=float), inc["ci_high"].to_numpy(dtype=float)
    has_ci = np.isfinite(lo).all() and np.isfinite(hi).all()
    colors = [_BOX] + ["#9ecae1"] * (len(inc) - 1)
    ax.barh(y, v, color=colors, height=0.65,
            xerr=np.vstack([(v - lo).clip(min=0), (hi - v).clip(min=0)]) if has_ci else None,
            capsize=3, error_kw={"elinewidth": 1, "ecolor": "0.25"})
    right = np.where(np.isfinite(hi), hi, v) if has_ci else v
    top = float(np.nanmax(right)) if len(right) else 1.0
    for i in range(len(inc)):
        text = f"{v[i]:,.0f}" + (f" ({lo[i]:,.0f} to {hi[i]:,.0f})" if has_ci else "")
        ax.text(right[i] + top * 0.015, i, text, va="center", fontsize=8.5)
    ax.set_xlim(0, top * 1.35)
    ax.set_yticks(y, labels=[str(c) for c in inc["channel"]])
    ax.invert_yaxis()
    ax.set_ylabel("channel")
    ax.set_xlabel(f"conversions credited per 1,000 customers reached ({model} model)")
    level = f", {result.confidence_level:.0%} bootstrap intervals" if has_ci else ""
    ax.set_title(f"{inc['channel'].iloc[0]} brings the most conversions per 1,000 customers reached{level}")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


@no_mathtext
def plot_budget(result, ax=None, *, model: str | None = None):
    """Return per unit of spend per channel, with intervals, every model marked.

    From :class:`journeylib.journeys.budget.BudgetResult`: a bar per channel with spend
    (ROAS, or customer-value return with ``return_on="clv"``) under ``model`` (default: the
    headline model) with its bootstrap interval, a dot per other model, and the break-even
    line at 1. Bars are green when the channel pays back, red when it does not, grey when
    uncertain. The axis starts at zero; the title states which channels pay back.

    Parameters
    ----------
    result : BudgetResult
        Output of :func:`journeylib.journeys.budget.channel_budget`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    model : str, optional
        Attribution model shown (default: the result's preferred model).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.budget import channel_budget
    >>> result = channel_budget(ds.events, ds.costs, n_boot=20)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_budget(result, ax=ax).get_ylabel()
    'channel (ranked by return)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    model = model or result.headline_model
    metric = "clv_return" if result.return_on == "clv" else "roas"
    b = result.budget
    order = list(b["channel"])
    part = result.metric(metric, model).set_index("channel").reindex(order)
    v = part["value"].to_numpy(dtype=float)
    lo, hi = part["ci_low"].to_numpy(dtype=float), part["ci_high"].to_numpy(dtype=float)
    colour = {"pays back": "#2e8b57", "does not pay back": _PAIN, "uncertain": "0.6"}
    y = np.arange(len(order))
    has_ci = np.isfinite(lo) & np.isfinite(hi)
    err = np.vstack([np.where(has_ci, (v - lo).clip(min=0), 0), np.where(has_ci, (hi - v).clip(min=0), 0)])
    ax.barh(y, np.nan_to_num(v), color=[colour.get(x, "0.6") for x in b["verdict"]], height=0.6, xerr=err,
            capsize=3, error_kw={"elinewidth": 1, "ecolor": "0.2"}, label=f"{model_words(model)} model")
    others = [m for m in result.models if m != model]
    markers = "osD^v<>"
    marks = []
    for k, m in enumerate(others):
        o = result.metric(metric, m).set_index("channel").reindex(order)["value"].to_numpy(dtype=float)
        marks.append(o)
        ax.scatter(o, y + 0.0, marker=markers[k % len(markers)], s=22, color="0.15", zorder=3,
                   facecolors="none" if k % 2 else "0.15", label=model_words(m))
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1)
    ax.text(1.0, -0.75, " break-even", fontsize=8, color="0.3", va="bottom")
    right = np.nanmax(np.concatenate([np.where(has_ci, hi, v), v, *marks])) if len(v) else 1.0  # every mark shows
    ax.set_xlim(0, max(1.2, float(right) * 1.15))
    ax.set_ylim(len(order) - 0.4, -1.0)
    ax.set_yticks(y, labels=[str(c) for c in order])
    ax.set_ylabel("channel (ranked by return)")
    what = "customer value" if metric == "clv_return" else "first-order revenue"
    ax.set_xlabel(f"{what} per unit of spend (currency per currency unit; 1 = break-even)")
    good = [c for c, x in zip(order, b["verdict"]) if x == "pays back"]
    bad = [c for c, x in zip(order, b["verdict"]) if x == "does not pay back"]
    if good and bad:
        title = f"{', '.join(good)} pays back, {', '.join(bad)} does not"
    elif good:
        title = f"{', '.join(good)} pays back"
    elif bad:
        title = f"{', '.join(bad)} does not pay back"
    else:
        title = "No channel clearly pays back or loses money"
    level = f"; {result.confidence_level:.0%} bootstrap intervals" if has_ci.any() else ""
    ax.set_title(f"{title} ({model_words(model)} model{level})")
    ax.legend(fontsize=7.5, loc="lower right", frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


@no_mathtext
def plot_budget_months(result, ax=None):
    """Revenue per unit of spend per month, a line per channel, under the headline model.

    From :class:`journeylib.journeys.budget.BudgetResult`; the break-even line is at 1, and a
    month without spend on a channel leaves a gap in its line.

    Parameters
    ----------
    result : BudgetResult
        Output of :func:`journeylib.journeys.budget.channel_budget`.
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
    >>> from journeylib.journeys.budget import channel_budget
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> channel_budget(ds.events, ds.costs, n_boot=20).plot_months(ax=ax).get_xlabel()
    'month'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    p = result.periods
    p = p[p["model"] == result.headline_model]
    months = sorted(p["period"].unique())
    x = np.arange(len(months))
    for c in result.budget["channel"]:
        r = p[p["channel"] == c].set_index("period")["roas"].reindex(months)
        ax.plot(x, r.to_numpy(dtype=float), marker="o", markersize=3, linewidth=1.5, label=str(c))
    ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
    ax.text(1.01, 1.0, "break-even", fontsize=8, color="0.3", va="center",
            transform=ax.get_yaxis_transform())  # beside the axes, off the lines
    step = max(1, int(np.ceil(len(x) / 12)))
    ax.set_xticks(x[::step], labels=[str(m) for m in months[::step]], rotation=45, ha="right")
    ax.set_xlabel("month")
    ax.set_ylabel("revenue per unit of spend\n(currency per currency unit)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Return on spend month by month ({model_words(result.headline_model)} model)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="channel")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


@no_mathtext
def plot_stage_attribution(result, ax=None, *, model: str | None = None):
    """Heat map of a :class:`journeylib.journeys.attribution.StageAttributionResult`.

    Share of each transition's conversions credited to each channel under ``model``
    (default: Markov when fitted, else the first model).

    Parameters
    ----------
    result : StageAttributionResult
        Output of :func:`journeylib.journeys.attribution.stage_attribution`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    model : str, optional
        Attribution model shown (default: the result's preferred model).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.attribution import stage_attribution
    >>> result = stage_attribution(ds.events, models=["last_touch", "markov"])
    >>> fig, ax = plt.subplots()
    >>> plots.plot_stage_attribution(result, ax=ax).get_xlabel()
    'stage transition'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    used = model or result.default_model
    piv = result.shares(used).fillna(0.0)
    vals = piv.to_numpy() * 100
    im = ax.imshow(vals, cmap="Blues", aspect="auto", vmin=0)
    ax.grid(False)
    top = np.nanmax(vals) if vals.size else 0.0
    for i in range(piv.shape[0]):
        for j in range(piv.shape[1]):
            v = vals[i, j]
            ax.text(j, i, f"{v:.0f}%", ha="center", va="center", fontsize=9,
                    color="white" if v > 0.6 * top else "black")
    ax.set_xticks(range(piv.shape[1]), labels=list(piv.columns))
    ax.set_yticks(range(piv.shape[0]), labels=list(piv.index))
    ax.set_xlabel("stage transition")
    ax.set_ylabel("channel")
    ax.set_title(f"Who moves customers between stages ({model_words(used)}, % of each transition)")
    ax.figure.colorbar(im, ax=ax, label="share of transition conversions (%)")
    return ax


# --------------------------------------------------------------------------- paths
@no_mathtext
def plot_path_lengths(journeys_df: pd.DataFrame, ax=None):
    """Bars of journeys by number of touchpoints (:func:`journeylib.journeys.paths.journeys` output),
    the converting ones overlaid.

    Parameters
    ----------
    journeys_df
        One row per journey, as :func:`journeylib.journeys.paths.journeys` returns.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> from journeylib.journeys.paths import journeys
    >>> plots.plot_path_lengths(journeys(ds.events), ax=ax).get_xlabel()
    'touchpoints in the journey (count)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    pl = path_lengths(journeys_df)
    ax.bar(pl["n_touches"], pl["journeys"], color="#9ecae1", label="all journeys")
    ax.bar(pl["n_touches"], pl["converting"], color="#3182bd", label="converting")
    ax.set(xlabel="touchpoints in the journey (count)", ylabel="journeys (count)", title="Path length")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.legend()
    return ax


@no_mathtext
def plot_time_to_convert(journeys_df: pd.DataFrame, ax=None, *, bins: int = 40):
    """Histogram of days from first touch to conversion, converting journeys.

    Parameters
    ----------
    journeys_df
        One row per journey, as :func:`journeylib.journeys.paths.journeys` returns.
    bins
        Number of histogram bins.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> from journeylib.journeys.paths import journeys
    >>> plots.plot_time_to_convert(journeys(ds.events), ax=ax).get_xlabel()
    'days from first touch to conversion'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    d = journeys_df.loc[journeys_df["conversions"] > 0, "days_to_convert"].dropna()
    ax.hist(d, bins=bins, color="#3182bd")
    ax.set(xlabel="days from first touch to conversion", ylabel="converting journeys (count)",
           title="Time to convert")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    return ax


# --------------------------------------------------------------------------- overview
@no_mathtext
def plot_monthly_activity(monthly: pd.DataFrame, ax=None):
    """Lines of active customers and orders per month (:func:`journeylib.journeys.overview.monthly_activity`).

    Parameters
    ----------
    monthly
        The table :func:`journeylib.journeys.overview.monthly_activity` returns.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_monthly_activity(jl.monthly_activity(ds.events), ax=ax).get_xlabel()
    'month (UTC)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    partial = monthly["partial"].to_numpy(bool) if "partial" in monthly.columns else np.zeros(len(monthly), bool)
    for col, marker, label in (("active_customers", "o", "active customers"), ("orders", "s", "orders")):
        x, y = monthly["month"], monthly[col].astype(float)
        line, = ax.plot(x, y.mask(partial), marker=marker, label=label)
        for i in np.flatnonzero(partial):  # a month the log covers only in part: hollow, joined by a dotted line
            near = [k for k in (i - 1, i + 1) if 0 <= k < len(y) and not partial[k]]
            for k in near:
                ax.plot(x.iloc[[k, i]], y.iloc[[k, i]], ls=":", color=line.get_color())
            ax.plot(x.iloc[[i]], y.iloc[[i]], marker=marker, ls="none", mfc="white", color=line.get_color())
    if partial.any():
        days = ", ".join(f"{m:%Y-%m} {d} day{'s' if d != 1 else ''}" for m, d in
                         zip(monthly.loc[partial, "month"], monthly.loc[partial, "days_observed"]))
        ax.plot([], [], marker="o", ls=":", mfc="white", color="0.4", label=f"part of the month only ({days})")
    ax.set_xlabel("month (UTC)")
    ax.set_ylabel("count per month")
    ax.set_title("Monthly activity")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax


# time since reaching a stage: log-scale ticks labelled in words (the default horizons among them)
_WAIT_TICKS = ((1 / 24, "1 hour"), (1.0, "1 day"), (7.0, "7 days"), (30.0, "30 days"), (90.0, "90 days"),
               (365.0, "1 year"), (730.0, "2 years"), (1825.0, "5 years"))
_PANEL_LEFT, _PANEL_GAP_X = 0.5, 0.3  # inches: the first column's y tick labels, between columns


def _panel_width(ax, cols: int) -> float:
    """Width in inches of each of ``cols`` panels side by side inside ``ax``."""
    w_in = ax.get_position().width * ax.figure.get_figwidth()
    return max((w_in - _PANEL_LEFT - _PANEL_GAP_X * (cols - 1)) / cols, 0.3)


def _panel_bounds(ax, n: int, cols: int, title_lines: int, tick_lines: int
                  ) -> tuple[list[list[float]], list[float] | None]:
    """Where ``n`` panels go inside ``ax`` (axes fractions), in rows of ``cols``, leaving room in
    inches for their titles and x tick labels (of so many lines).

    Returns the panels' ``[x0, y0, width, height]`` and the bounds of the free slots after the
    last panel (``None`` when the last row is full).
    """
    rows = -(-n // cols)
    pos = ax.get_position()
    w_in, h_in = pos.width * ax.figure.get_figwidth(), pos.height * ax.figure.get_figheight()
    top, bottom = 0.1 + 0.2 * title_lines, 0.14 + 0.15 * tick_lines
    gap_y = bottom + top + 0.12
    pw = _panel_width(ax, cols)
    ph = max((h_in - top - bottom - gap_y * (rows - 1)) / rows, 0.3)
    bounds = []
    for i in range(n):
        r, q = divmod(i, cols)
        bounds.append([(_PANEL_LEFT + q * (pw + _PANEL_GAP_X)) / w_in, (h_in - top - r * (ph + gap_y) - ph) / h_in,
                       pw / w_in, ph / h_in])
    free = None
    if n % cols:
        x0, y0, _, h = bounds[-1]
        x1 = x0 + (pw + _PANEL_GAP_X) / w_in
        free = [x1, y0, 1 - x1, h]
    return bounds, free


def _log_tick_labels(ticks: list[tuple[float, str]], lo: float, hi: float, width_in: float,
                     fontsize: float) -> list[str]:
    """The labels of ticks on a log axis from ``lo`` to ``hi`` drawn ``width_in`` inches wide:
    on one line ("30 days") when neighbours leave room, else number over unit ("30\\ndays")."""
    per_decade = width_in / np.log10(hi / lo)
    x = [np.log10(d) * per_decade for d, _ in ticks]
    wide = [0.55 * fontsize / 72 * len(w) for _, w in ticks]  # about half an em per character
    fits = all(x1 - x0 > (w0 + w1) / 2 + 0.1 for x0, x1, w0, w1 in zip(x, x[1:], wide, wide[1:]))
    return [w if fits else w.replace(" ", "\n", 1) for _, w in ticks]


@no_mathtext
def plot_time_to_next_stage(res, ax=None, *, ci: bool = True, min_at_risk: int | None = None, ncols: int = 2):
    """Share that has moved on to the next stage vs time since reaching a stage (Kaplan-Meier):
    one small panel per step, one line per group.

    The panels share their axes: the time since first reaching the stage on a log scale
    labelled in hours, days and years (a step taken within hours and one taken over months
    both show their shape), and the share moved on from 0 to 100%, with a dashed line at half
    (where a curve crosses it is the median) and dotted lines at the result's horizons. Each
    curve stops where fewer than ``min_at_risk`` customers (default: the result's) are still
    waiting and followed. The groups' legend takes the free slot after the last panel, or
    sits outside on the right; never over a curve.

    Parameters
    ----------
    res : NextStepResult
        Output of :func:`journeylib.journeys.timing.time_to_next_stage`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``); it carries the title and the axis
        labels, the panels are inset Axes inside it (``ax.child_axes``). About 11 inches wide
        and 2.6 inches per row of panels (plus 1.2) reads well.
    ci : bool, default True
        Draw the confidence bands.
    min_at_risk : int, optional
        Curves stop below this many customers still waiting (default: the result's threshold).
    ncols : int, default 2
        Panels per row.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on (its panels are inset Axes).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.timing import time_to_next_stage
    >>> res = time_to_next_stage(ds.events, ["awareness", "consideration", "cart"])
    >>> fig, ax = plt.subplots(figsize=(11, 3.8))
    >>> ax = plots.plot_time_to_next_stage(res, ax=ax)
    >>> ax.get_xlabel()
    'time since first reaching the stage (log scale)'
    >>> [p.get_title(loc="left") for p in ax.child_axes]
    ['awareness → consideration', 'consideration → cart']
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    threshold = res.min_at_risk if min_at_risk is None else min_at_risk
    c = res.curves
    transitions = list(dict.fromkeys(res.table["transition"]))
    steps = dict(zip(res.table["transition"], zip(res.table["from_stage"], res.table["to_stage"])))
    groups = list(dict.fromkeys(res.table["group"]))
    # the host Axes: title and shared axis labels only
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.patch.set_visible(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("time since first reaching the stage (log scale)", labelpad=4)
    label = ax.set_ylabel("share that has moved on to the next stage", labelpad=8)
    # one row of panels leaves a short Axes: the label keeps to its height
    fill = ax.get_window_extent().height / label.get_window_extent().height
    label.set_fontsize(label.get_fontsize() * min(1.0, fill))
    ax.set_title(f"Time to the next stage (Kaplan-Meier, {100 * res.confidence_level:g}% bands)\n"
                 f"Each curve stops where fewer than {threshold} customers are still waiting", loc="left",
                 fontsize=11)
    if not transitions:
        return ax
    drawn = {}
    for tr in transitions:
        for j, g in enumerate(groups):
            sub = c[(c["transition"] == tr) & (c["group"] == g)]
            if sub.empty:
                continue
            t = sub["days"].to_numpy(float)
            keep = t <= at_risk_cutoff(t, sub["at_risk"], threshold)
            if keep.any():
                drawn[tr, j] = t[keep], *(sub[k].to_numpy(float)[keep] for k in ("share_moved", "ci_low", "ci_high"))
    lo = _WAIT_TICKS[0][0]  # curves are read every hour: the first reading after 0 is at one hour
    longest = max([v[0].max() for v in drawn.values()] + [max(res.horizons), 1.0])
    hi = longest * 1.3
    ticks = sorted({**dict(_WAIT_TICKS), **{float(h): f"{h:g} days" for h in res.horizons}}.items())
    ticks = [(d, w) for d, w in ticks if lo <= d <= hi]
    cols = max(1, min(ncols, len(transitions)))
    width = _panel_width(ax, cols)
    labels = _log_tick_labels(ticks, lo, hi, width, 8)
    titles = [textwrap.fill(f"{a} → {b}", max(int(width * 11), 16)) for a, b in (steps[t] for t in transitions)]
    bounds, free = _panel_bounds(ax, len(transitions), cols, max(t.count("\n") + 1 for t in titles),
                                 max(w.count("\n") + 1 for w in labels))
    for i, (tr, title, b) in enumerate(zip(transitions, titles, bounds)):
        p = ax.inset_axes(b)
        for j in range(len(groups)):
            if (tr, j) not in drawn:
                continue
            t, share, c_lo, c_hi = drawn[tr, j]
            x = np.maximum(t, lo)  # the reading at 0 is drawn at the axis' left edge
            p.step(x, share, where="post", color=f"C{j}", lw=1.8, gid=f"next-stage:curve:{groups[j]}")
            if ci:
                p.fill_between(x, c_lo, c_hi, step="post", alpha=0.15, color=f"C{j}", linewidth=0)
        p.axhline(0.5, color="0.35", lw=0.9, ls="--", zorder=1)
        for h in res.horizons:
            p.axvline(h, color="grey", linewidth=0.6, linestyle=":")
        p.set_xscale("log")
        p.set_xlim(lo, hi)
        p.set_xticks([d for d, _ in ticks], labels)
        p.minorticks_off()
        p.set_ylim(0, 1.02)
        p.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        p.yaxis.set_major_formatter(StrMethodFormatter("{x:.0%}"))
        p.tick_params(labelsize=8, labelleft=i % cols == 0)
        p.set_title(title, loc="left", fontsize=10, fontweight="bold")
    if res.by:
        handles = [Line2D([], [], color=f"C{j}", lw=2) for j in range(len(groups))]
        where = ({"loc": "center", "bbox_to_anchor": free} if free is not None
                 else {"loc": "upper left", "bbox_to_anchor": (1.01, 1)})
        ax.legend(handles, groups, title=res.by.replace("_", " "), frameon=False, fontsize=9, **where)
    return ax


# --------------------------------------------------------------------------- feedback
@no_mathtext
def plot_nps(result, ax=None):
    """NPS per group (everyone first) with its interval, in points (-100 to +100).

    Parameters
    ----------
    result : NPSResult
        Output of :func:`journeylib.journeys.feedback.nps`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import nps
    >>> result = nps(ds.feedback, by="segment", customers=ds.customers)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_nps(result, ax=ax).get_xlabel()
    'NPS (points: promoters % minus detractors %), 95% intervals'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = result.summary
    y = np.arange(len(s))[::-1]
    ok = s["nps"].notna().to_numpy()
    colors = np.where(s["nps"].fillna(0) >= 0, "#2e8b57", _PAIN)
    ax.barh(y[ok], s["nps"][ok], color=colors[ok], height=0.6)
    err = error_widths(s["nps"], s["ci_low"], s["ci_high"])[:, ok]
    ax.errorbar(s["nps"][ok], y[ok], xerr=err, fmt="none", ecolor="0.2", capsize=3)
    ax.set_yticks(y, [f"{g} (n={int(n):,})" for g, n in zip(s["group"], s["answers"])])
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlim(-100, 100)
    ax.set_xlabel("NPS (points: promoters % minus detractors %), 95% intervals")
    ax.set_title(f"Net Promoter Score {result.nps:+.0f}" if np.isfinite(result.nps) else "No NPS answers", loc="left")
    return ax


@no_mathtext
def plot_ratings(result, ax=None):
    """The rating distribution of the reviews (share of reviews per score).

    Parameters
    ----------
    result : ReviewResult
        Output of :func:`journeylib.journeys.feedback.review_rates`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import review_rates
    >>> result = review_rates(ds.events, ds.feedback, within_days=30)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_ratings(result, ax=ax).get_xlabel()
    'rating (stars)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    r = result.ratings
    if len(r):
        ax.bar(r["score"].astype(float), r["share"] * 100, color=_BOX, width=0.7)
        ax.set_xticks(r["score"].astype(float), [f"{v:g}" for v in r["score"]])
    ax.set_xlabel("rating (stars)")
    ax.set_ylabel("share of reviews (%)")
    ax.set_title(f"Reviews average {result.mean_rating:.2f} stars" if np.isfinite(result.mean_rating)
                 else "No review ratings", loc="left")
    return ax


@no_mathtext
def plot_referrals(result, ax=None):
    """Conversion of referred customers against the others, with Wilson intervals.

    Parameters
    ----------
    result : ReferralResult
        Output of :func:`journeylib.journeys.feedback.referrals`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import referrals
    >>> result = referrals(ds.events, ds.customers)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_referrals(result, ax=ax).get_ylabel()
    'placed an order (% of customers)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = result.summary
    x = np.arange(len(s))
    v = s["conversion"].to_numpy(dtype=float) * 100
    ax.bar(x, np.nan_to_num(v), color=[_BOX, "0.6"][: len(s)], width=0.6)
    err = error_widths(s["conversion"], s["ci_low"], s["ci_high"], scale=100)
    ax.errorbar(x, v, yerr=np.nan_to_num(err), fmt="none", ecolor="0.2", capsize=4)
    ax.set_xticks(x, [f"{w} (n={int(n):,})" for w, n in zip(s["customers"], s["followed"])])
    ax.set_ylabel("placed an order (% of customers)")
    ax.set_title("Conversion of referred customers against the others", loc="left")
    return ax


_FEEDBACK_AXIS = {"NPS": "NPS (points)", "review rate": "orders reviewed (%)",
                  "median days to review": "days from the order to its review",
                  "mean rating": "rating (stars)", "share who referred someone": "customers who referred someone (%)",
                  "conversion of referred customers": "referred customers who ordered (%)"}


@no_mathtext
def plot_feedback_comparison(result, ax=None):
    """Each feedback measure's value per group with its interval, one small panel per measure
    (each on its own scale and unit); groups that differ significantly (Holm) in red.

    Parameters
    ----------
    result : FeedbackComparison
        Output of :func:`journeylib.journeys.feedback.feedback_by_group`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``); the panels are drawn inside it (about
        1.5 inches of height per measure reads well).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on (its panels are inset Axes).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> from journeylib.journeys.feedback import feedback_by_group
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots(figsize=(8, 6))
    >>> ax = plots.plot_feedback_comparison(feedback_by_group(ds.events, ds.feedback, ds.customers), ax=ax)
    >>> [a.get_xlabel() for a in ax.child_axes][:2]
    ['NPS (points)', 'orders reviewed (%)']
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    ax.set_axis_off()
    s, t = result.summary, result.tests
    measures = list(dict.fromkeys(s["measure"]))
    level = round(100 * result.confidence_level)
    who = result.by.replace("_", " ")
    if not measures:
        ax.set_title(f"No feedback to compare by {who}", loc="left")
        return ax
    ax.set_title(f"Feedback by {who} with {level}% intervals; red: differs (Holm, {result.alpha:.0%})",
                 loc="left", fontsize=10)
    slot = 1 / len(measures)
    for i, m in enumerate(measures):
        x = s[s["measure"] == m]
        tm = t[t["measure"] == m]
        unit = x["unit"].iloc[0]
        scale = 100 if unit == "share" else 1
        sig = set(tm.loc[tm["significant"], "group"])
        if len(x) == 2 and sig:
            sig = set(x["group"])
        sub = ax.inset_axes([0, 1 - (i + 1) * slot + 0.36 * slot, 1, 0.44 * slot])
        y = np.arange(len(x))[::-1]
        colors = ["C3" if g in sig else _BOX for g in x["group"]]
        v = x["value"].to_numpy(float) * scale
        lo = x["ci_low"].fillna(x["value"]).to_numpy(float) * scale
        hi = x["ci_high"].fillna(x["value"]).to_numpy(float) * scale
        sub.hlines(y, lo, hi, colors=colors, lw=1.6)
        sub.scatter(v, y, c=colors, s=26, zorder=3)
        sub.set_yticks(y, [f"{g} (n={int(n):,})" for g, n in zip(x["group"], x["n"])], fontsize=8)
        sub.set_ylim(-0.6, len(x) - 0.4)
        sub.tick_params(axis="x", labelsize=8)
        sub.set_xlabel(next((w for k, w in _FEEDBACK_AXIS.items() if m.startswith(k)), m), fontsize=8, labelpad=1)
        if len(tm) == 1:
            r = tm.iloc[0]
            p = r["p_adjusted"]
            verdict = ("no test" if not np.isfinite(p) else
                       f"{'differs' if r['significant'] else 'no significant difference'} (adjusted p "
                       f"{'< 0.001' if p < 0.001 else f'= {p:.3f}' if p < 0.1 else f'= {p:.2f}'})")
        else:
            verdict = f"{len(sig)} of {len(tm)} groups differ from the rest"
        sub.set_title(f"{m}: {verdict}", loc="left", fontsize=9)
    return ax


@no_mathtext
def plot_nps_by_month(result, ax=None, *, max_groups: int = 6, min_answers: int = 5):
    """NPS per calendar month with its interval: everyone, or each group (the ``max_groups``
    with most answers) with everyone as a grey line; the legend sits outside on the right.

    Parameters
    ----------
    result : NPSResult
        Output of :func:`journeylib.journeys.feedback.nps` (with ``by`` for groups).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    max_groups
        Most groups drawn (the others are left out and the title says so).
    min_answers
        Months of a group with fewer answers are not drawn (their interval spans most of the scale).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> from journeylib.journeys.feedback import nps
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> ax = plots.plot_nps_by_month(nps(ds.feedback, by="segment", customers=ds.customers), ax=ax)
    >>> ax.get_ylabel(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('NPS (points)', ['everyone', 'standard', 'premium', 'budget'])
    >>> plt.close(fig)
    """
    import matplotlib.dates as mdates

    if ax is None:
        ax = plt.gca()
    for name, v, least in (("max_groups", max_groups, 1), ("min_answers", min_answers, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
            raise JourneyParameterError(f"{name}={v!r}; expected a whole number, at least {least}")
    m = result.by_month
    level = round(100 * result.confidence_level)
    ax.set_ylabel("NPS (points)")
    ax.set_xlabel("month of the answer")
    ax.set_ylim(-100, 100)
    ax.axhline(0, color="0.5", lw=0.8)
    if m.empty:
        ax.set_title("No NPS answers", loc="left")
        return ax
    m = m.assign(date=pd.to_datetime(m["month"] + "-01"))
    every = m[m["group"] == "all"]
    totals = m[m["group"] != "all"].groupby("group")["answers"].sum().sort_values(ascending=False, kind="stable")
    shown = list(totals.index[:max_groups])
    span = pd.Timedelta(days=22)
    if shown:
        ax.plot(every["date"], every["nps"], color="0.6", lw=2.5, label="everyone", zorder=1)
        for i, g in enumerate(shown):
            x = m[(m["group"] == g) & (m["answers"] >= min_answers)].set_index("date")
            x = x.reindex(every["date"]).reset_index()  # a month left out breaks the line
            dodge = span * ((i + 0.5) / len(shown) - 0.5)
            ax.errorbar(x["date"] + dodge, x["nps"], yerr=error_widths(x["nps"], x["ci_low"], x["ci_high"]),
                        fmt="-o", ms=3.5, lw=1.2, elinewidth=0.8, capsize=2, color=f"C{i}", label=str(g))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8,
                  title=result.by.replace("_", " ") if result.by else None, title_fontsize=8)
    else:
        x = every.where(every["answers"] >= min_answers).assign(date=every["date"])
        ax.fill_between(x["date"], x["ci_low"], x["ci_high"], color=_BOX, alpha=0.18, lw=0,
                        label=f"{level}% interval")
        ax.plot(x["date"], x["nps"], "-o", color=_BOX, ms=3.5, label="everyone")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    months = m["date"].nunique()
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, -(-months // 8))))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.tick_params(axis="x", labelsize=8)
    left_out = f"; {len(totals) - len(shown)} smaller groups left out" if len(totals) > len(shown) else ""
    ax.set_title(f"NPS per month{' by ' + result.by.replace('_', ' ') if shown else ''} with {level}% intervals "
                 f"(months with fewer than {min_answers} answers left out{left_out})", loc="left", fontsize=10)
    return ax


# --------------------------------------------------------------------------- the measured journey map
_KPI_FORMAT = {"share": "{:.0%}", "count": "{:,.0f}", "days": "{:.1f} d", "currency": "{:,.2f}",
               "points": "{:+.0f}", "stars": "{:.2f}"}
_SHOWN_KPIS = ("new customers", "events per customer (first-time)", "cart-to-purchase rate",
               "abandoned carts (customers)", "conversion (customers who ordered)", "first order value (mean)",
               "repeat rate within", "median days to the second order", "review rate", "NPS",
               "conversion of referred customers", "median days in stage")


_KPI_LABELS = {"events per customer": "events per customer", "conversion (customers": "ordered (of all customers)",
               "first order value": "first order value", "review rate": "orders reviewed (30 days)",
               "conversion of referred": "referred who ordered", "median days to the second": "days to 2nd order",
               "abandoned carts": "abandoned carts", "repeat rate within": "repeat within 90 days"}


def _ellipsize(measure, word: str, width: float) -> str:
    """The longest prefix of ``word`` that, followed by an ellipsis, measures at most ``width``."""
    lo, hi = 0, len(word)
    while lo < hi:  # binary search on the prefix length
        mid = (lo + hi + 1) // 2
        if measure(word[:mid] + "…") <= width:
            lo = mid
        else:
            hi = mid - 1
    return word[:lo] + "…"


def _wrap(measure, line: str, width: float) -> list[str]:
    """Break ``line`` into lines at most ``width`` wide: at its " · " and ", " separators first,
    then at spaces; a word too long alone is shortened with an ellipsis."""
    if measure(line) <= width:
        return [line]
    for sep, keep in ((" · ", ""), (", ", ",")):
        if sep in line:
            parts = line.split(sep)
            return [v for j, part in enumerate(parts)
                    for v in _wrap(measure, part + (keep if j < len(parts) - 1 else ""), width)]
    out: list[str] = []
    cur = ""
    for word in line.split(" "):
        cand = f"{cur} {word}" if cur else word
        if measure(cand) <= width:
            cur = cand
            continue
        if cur:
            out.append(cur)
        cur = word if measure(word) <= width else _ellipsize(measure, word, width)
    out.append(cur)
    return out


def _fit_text(ax, text, lines: list[str], width: float, height: float, *, min_size: float = 5.5,
              wrap_below: float | None = None) -> None:
    """Set ``text`` to ``lines`` fitted into a box ``width`` by ``height`` data units, as drawn now.

    The font shrinks in half points down to ``min_size``; a line wider than the box is broken
    at spaces (only once the font is at or below ``wrap_below``, when given), a word wider than
    the box is shortened with an ellipsis, and lines that still do not fit the height are
    dropped, the last one kept ending in an ellipsis. The figure's own renderer measures.
    """
    (x0, y0), (x1, y1) = ax.transData.transform([(0, 0), (width, height)])
    w_px, h_px = abs(x1 - x0), abs(y1 - y0)
    lines = [str(v) for v in lines] or [""]

    def measure(s: str) -> float:
        text.set_text(s)
        return text.get_window_extent().width

    def high() -> float:
        return text.get_window_extent().height

    size = float(text.get_fontsize())
    while True:
        text.set_fontsize(size)
        if wrap_below is not None and size > wrap_below and all(measure(v) <= w_px for v in lines):
            fitted = lines  # fits on its lines without breaking them
        elif wrap_below is not None and size > wrap_below:
            size = max(min_size, size - 0.5)
            continue
        else:
            fitted = [part for v in lines for part in _wrap(measure, v, w_px)]
        text.set_text("\n".join(fitted))
        if high() <= h_px or size <= min_size:
            break
        size = max(min_size, size - 0.5)
    while len(fitted) > 1 and high() > h_px:  # still too tall at the smallest size: drop lines
        fitted = fitted[:-1]
        last = fitted[-1]
        fitted[-1] = last + "…" if measure(last + "…") <= w_px else _ellipsize(measure, last, w_px)
        text.set_text("\n".join(fitted))


# the measured map's rows, in data units (the Axes runs from 0 to 10.6): the step row between the
# stage headers and the touchpoints holds the "67% →" share going on, between two columns
_MAP_ROWS = {"stage": (9.2, 10.3), "step": (8.85, 9.15), "touch": (6.95, 8.8), "kpi": (4.75, 6.85),
             "emotion": (1.6, 4.65), "pain": (0.05, 1.5)}


@no_mathtext
def plot_measured_journey_map(result, ax=None, *, top_n: int = 3, max_kpis: int = 3, title: str | None = None):
    """Draw the measured journey map (:class:`journeylib.journeys.journey_map.JourneyMap`).

    Stages are columns; the rows, top to bottom: the stage with its first-time and repeat
    customers, the share going on to the next stage (between the columns); the top first-time
    touchpoints (share of the stage's events, conversion to the next stage); the stage KPIs;
    the emotion line (satisfaction, first-time solid and repeat dashed, with intervals); the
    pain score with its rank (the top pain point outlined in red). Reads best about
    ``2.1 * stages`` by 8 inches (fits 1280 px at 100 dpi with six stages).

    Every text is fitted to its place as drawn: it shrinks, long lines are broken at spaces and
    a word wider than its column is shortened with an ellipsis, so no two texts overlap and the
    touchpoints and KPIs stay inside their stage's column. The column backgrounds carry the gid
    ``journey-map:column:<i>`` and the texts ``journey-map:<row>:<i>`` (row: stage, customers,
    step, touch, kpi, pain, satisfaction).

    Parameters
    ----------
    result
        A :class:`journeylib.journeys.journey_map.JourneyMap`.
    ax
        Axes to draw on (default: the current Axes).
    top_n
        Touchpoints shown per stage.
    max_kpis
        KPIs shown per stage.
    title
        Figure title (default: one naming the top pain point).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots(figsize=(12.6, 8))
    >>> plots.plot_measured_journey_map(jl.journey_map(ds.events, feedback=ds.feedback), ax=ax).get_title(loc="left")
    'Customer journey map: the top pain point is cart'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    s = result.summary
    k = len(s)
    w = 0.9
    pad = 0.035  # text margin inside a column
    ax.set_xlim(-0.95, k - 0.5)
    ax.set_ylim(0, 10.6)
    ax.axis("off")
    top = s.sort_values("pain_rank").iloc[0] if len(s) else None
    rows = _MAP_ROWS
    labels = {"touch": "touchpoints\n(first-time)", "kpi": "KPIs", "emotion": "satisfaction", "pain": "pain score"}
    for key, lab in labels.items():
        y0, y1 = rows[key]
        ax.text(-0.9, (y0 + y1) / 2, lab, fontsize=8.5, color="0.3", va="center", ha="left", rotation=90,
                weight="bold")
    tp = result.touchpoints
    tp = tp[tp["journey"] == "first-time"]
    kp = result.kpis
    max_c = max(float((s["customers_first_time"] + s["customers_repeat"]).max()), 1.0)
    for i, r in enumerate(s.itertuples(index=False)):
        is_top = top is not None and r.stage == top["stage"] and r.pain_score > 0
        ax.add_patch(FancyBboxPatch((i - w / 2, 0.0), w, 10.35, boxstyle="round,pad=0.0,rounding_size=0.04",
                                    fc="#fbeeee" if is_top else "#f4f6f9", ec=_PAIN if is_top else "none",
                                    lw=2 if is_top else 0, zorder=0, gid=f"journey-map:column:{i}"))
        # stage header: the name on the upper half, the customers on the lower half
        y0, y1 = rows["stage"]
        shade = 0.35 + 0.6 * ((r.customers_first_time + r.customers_repeat) / max_c)
        ax.add_patch(Rectangle((i - w / 2 + 0.03, y0), w - 0.06, y1 - y0, fc=plt.cm.Blues(shade), ec="white",
                               zorder=2))
        ink = "white" if shade > 0.6 else "black"
        mid = (y0 + y1) / 2 + 0.05
        name = ax.text(i, (mid + y1) / 2, "", ha="center", va="center", fontsize=10, weight="bold", color=ink,
                       zorder=3, gid=f"journey-map:stage:{i}")
        _fit_text(ax, name, [str(r.stage).replace("_", " ").upper()], w - 2 * pad - 0.06, y1 - mid - 0.04,
                  min_size=6.5, wrap_below=7.0)
        count = ax.text(i, (y0 + mid) / 2, "", ha="center", va="center", fontsize=7.5, color=ink, zorder=3,
                        gid=f"journey-map:customers:{i}")
        _fit_text(ax, count, [f"{int(r.customers_first_time):,} first-time · {int(r.customers_repeat):,} repeat"],
                  w - 2 * pad - 0.06, mid - y0 - 0.04, min_size=5.5, wrap_below=6.5)
        # the share going on, between this column and the next, in its own row
        if i < k - 1 and np.isfinite(r.conversion_to_next):
            s0, s1 = rows["step"]
            step = ax.text(i + 0.5, (s0 + s1) / 2, "", ha="center", va="center", fontsize=8, color="0.2",
                           weight="bold", zorder=4, gid=f"journey-map:step:{i}")
            _fit_text(ax, step, [f"{r.conversion_to_next:.0%} →"], 1.0 - 2 * pad, s1 - s0, min_size=5.5)
        # touchpoints
        g = tp[tp["stage"] == r.stage].sort_values("customers", ascending=False).head(top_n)
        lines = []
        for t in g.itertuples(index=False):
            conv = f", {t.conversion_to_next:.0%} go on" if np.isfinite(t.conversion_to_next) else ""
            lines += [str(t.touchpoint), f"{t.share:.0%} of events{conv}"]
        y0, y1 = rows["touch"]
        _fit_text(ax, ax.text(i, y1, "", ha="center", va="top", fontsize=7, color="0.15", linespacing=1.15,
                              gid=f"journey-map:touch:{i}"),
                  lines or ["none recorded"], w - 2 * pad, y1 - y0, wrap_below=6.0)
        # KPIs
        g = kp[kp["stage"] == r.stage]
        g = g[[any(str(n).startswith(p) for p in _SHOWN_KPIS) for n in g["kpi"]]].head(max_kpis)
        lines = []
        for q in g.itertuples(index=False):
            fmt = "{:,.1f}" if q.unit == "count" and not float(q.value).is_integer() else _KPI_FORMAT.get(q.unit, "{:.3g}")
            val = fmt.format(q.value)  # a count per customer (1.2 events) keeps its decimal
            label = next((v for p, v in _KPI_LABELS.items() if str(q.kpi).startswith(p)), str(q.kpi))
            lines += [textwrap.shorten(label, 28, placeholder="…"), val]
        y0, y1 = rows["kpi"]
        if lines:
            _fit_text(ax, ax.text(i, y1, "", ha="center", va="top", fontsize=7, color="0.15", linespacing=1.15,
                                  gid=f"journey-map:kpi:{i}"),
                      lines, w - 2 * pad, y1 - y0, wrap_below=6.0)
        # pain score: the bar, and the rank above it
        y0, y1 = rows["pain"]
        ps = float(r.pain_score) if np.isfinite(r.pain_score) else 0.0
        ax.add_patch(Rectangle((i - w / 2 + 0.08, y0 + 0.35), (w - 0.16) * ps, 0.4, fc=_PAIN if is_top else "0.6",
                               ec="none", zorder=2))
        ax.add_patch(Rectangle((i - w / 2 + 0.08, y0 + 0.35), w - 0.16, 0.4, fc="none", ec="0.7", lw=0.6, zorder=2))
        pain = ax.text(i, (y0 + 0.8 + y1) / 2, "", ha="center", va="center", fontsize=7.5,
                       color=_PAIN if is_top else "0.25", weight="bold", gid=f"journey-map:pain:{i}")
        _fit_text(ax, pain, [f"#{int(r.pain_rank)}  {ps:.0%}" + ("  TOP PAIN POINT" if is_top else "")],
                  w - 2 * pad, y1 - y0 - 0.85, min_size=5.5, wrap_below=7.0)
    # emotion line
    lo, hi = result.score_range
    y0, y1 = rows["emotion"]

    def ypos(v):
        return y0 + 0.3 + (np.asarray(v, dtype=float) - lo) / (hi - lo) * (y1 - y0 - 0.6)

    for v in (lo, (lo + hi) / 2, hi):
        ax.plot([-0.5, k - 0.5], [ypos(v)] * 2, color="0.85", lw=0.6, zorder=1)
        ax.text(-0.55, ypos(v), f"{v:g}", fontsize=7, color="0.45", va="center", ha="right")
    e = result.emotion
    if "group" in e.columns:
        e = e[e["group"] == "all"]
    xs = {st: i for i, st in enumerate(s["stage"])}
    drawn = False
    for journey, style, off in (("first-time", "-", -0.06), ("repeat", "--", 0.06)):
        g = e[(e["journey"] == journey) & e["satisfaction"].notna()]
        if g.empty:
            continue
        x = np.array([xs[st] for st in g["stage"]], dtype=float) + off
        yv = ypos(g["satisfaction"])
        ax.plot(x, yv, style, color="0.35", lw=1.6, zorder=3, label=f"{journey} journey")
        ax.vlines(x, ypos(g["ci_low"].fillna(g["satisfaction"])), ypos(g["ci_high"].fillna(g["satisfaction"])),
                  color="0.35", lw=1, zorder=3)
        colors = plt.cm.RdYlGn((g["satisfaction"].to_numpy(dtype=float) - lo) / (hi - lo))
        ax.scatter(x, yv, s=45, color=colors, ec="0.3", zorder=4)
        # first-time values left of their point, repeat values right of theirs: never on each other
        for xi, yi, v in zip(x, yv, g["satisfaction"]):
            ax.text(xi + (-0.05 if off < 0 else 0.05), yi + 0.15, f"{v:.2f}", fontsize=7,
                    ha="right" if off < 0 else "left", va="bottom", zorder=5,
                    gid=f"journey-map:satisfaction:{int(round(xi - off))}")
        drawn = True
    if drawn:  # the legend sits on the title's line, at the right, away from the labelled points
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=2,
                  borderaxespad=0.2)
    else:
        ax.text((k - 1) / 2, (y0 + y1) / 2, "no satisfaction scores: emotion line not shown", ha="center",
                fontsize=9, color="0.5", style="italic")
    ax.set_title(title or (f"Customer journey map: the top pain point is {top['stage']}" if top is not None
                           else "Customer journey map"), fontsize=12, loc="left")
    return ax


@no_mathtext
def plot_cart_recovery(result, ax=None):
    """Kaplan-Meier share of abandoned carts recovered by day since abandonment, per recovery channel.

    Parameters
    ----------
    result : CartRecovery
        Output of :func:`journeylib.journeys.carts.abandoned_carts`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.carts import abandoned_carts
    >>> result = abandoned_carts(ds.events, ds.messages)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_cart_recovery(result, ax=ax).get_xlabel()
    'days since the cart was abandoned'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    curves = result.curves
    xmax = max(2 * result.recovery_days, 1)
    days = curves["days"].to_numpy(float)
    for g, rows in sorted(curves.groupby("group").indices.items()):  # positions: no copy of the rows
        d = curves.iloc[rows[step_points(days[rows], xmax)]]
        style = {"color": "black", "lw": 2.2} if g == "all" else {"lw": 1.4}
        line, = ax.step(d["days"], 100 * d["recovered_share"], where="post", label=str(g), **style)
        ax.fill_between(d["days"], 100 * d["ci_low"], 100 * d["ci_high"], step="post", alpha=0.12,
                        color=line.get_color())
    ax.axvline(result.recovery_days, color="grey", ls=":", lw=1)
    ax.set_xlim(0, xmax)
    ax.set_xlabel("days since the cart was abandoned")
    ax.set_ylabel("carts recovered by a purchase (%)")
    ax.set_title(f"{100 * result.recovery_rate:.0f}% of abandoned carts are recovered within "
                 f"{result.recovery_days:g} days")
    # beside the plot: recovered carts are recovered in the first days, so any corner inside covers curves
    if curves["group"].nunique() > 1:  # one curve (no recovery channels to compare) needs no legend
        ax.legend(title="recovery message", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return ax


@no_mathtext
def plot_message_rates(result, ax=None, *, metric: str | None = None):
    """Open (or click) rate per campaign and channel, with intervals; the sends when the log records
    neither opens nor clicks.

    Parameters
    ----------
    result : MessageEngagement
        Output of :func:`journeylib.journeys.messages.message_engagement`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).
    metric : str, optional
        Rate drawn ("open rate" or "click rate"; default: the first the log records).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.messages import message_engagement
    >>> result = message_engagement(ds.messages, ds.events)
    >>> fig, ax = plt.subplots()
    >>> plots.plot_message_rates(result, ax=ax).get_xlabel()
    'open rate (% of messages sent)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    level = round(100 * result.confidence_level)
    metric = metric or (result.tracked[0] if result.tracked else None)
    if metric is None:  # sends only: how many went out is what the log can show
        t = result.by("campaign / channel").sort_values("sends")
        y = np.arange(len(t))
        ax.barh(y, t["sends"], color="0.6")
        ax.set_yticks(y, list(t["group"]))
        ax.set_xlabel("messages sent")
        ax.set_title("Messages sent by campaign and channel (no opens or clicks recorded)")
        return ax
    t = result.by("campaign / channel", metric).sort_values("rate")
    y = np.arange(len(t))
    ax.errorbar(100 * t["rate"], y, xerr=error_widths(t["rate"], t["ci_low"], t["ci_high"], scale=100),
                fmt="o", color="C0", capsize=3)
    ax.set_yticks(y, list(t["group"]))
    ax.set_xlabel(f"{metric} (% of messages sent)")
    ax.set_title(f"{metric.capitalize()} by campaign and channel ({level}% intervals)")
    return ax


def _comparison_bars(ax, labels, est, lo, hi, flagged, *, xlabel: str, title: str):
    y = np.arange(len(labels))[::-1]
    colors = np.where(flagged, "C3", "0.55")
    ax.hlines(y, lo, hi, colors=list(colors), lw=1.3)
    ax.scatter(est, y, c=list(colors), s=28, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, list(labels))
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    return ax


@no_mathtext
def plot_period_comparison(result, ax=None):
    """Change of every compared figure from the previous period to the current one, as a percentage of
    the previous value, with its interval; the figures that changed significantly in red.

    Parameters
    ----------
    result
        A :class:`journeylib.journeys.compare.PeriodComparison`.
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_period_comparison(jl.compare_periods(ds.events, n_boot=50), ax=ax).get_xlabel()
    'change from the previous period (% of the previous value)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    t = result.summary
    # a score that can be negative or near zero (NPS, in points) has no meaningful change "in % of before"
    t = t[t["unit"] != "points"]
    base = t["previous"].abs().replace(0, np.nan)
    t = t.assign(_est=100 * t["change"] / base, _lo=100 * t["ci_low"] / base,
                 _hi=100 * t["ci_high"] / base).dropna(subset=["_est"])
    n = int(result.summary["changed"].sum())
    title = (f"{n} of {len(result.summary)} figures changed significantly" if n
             else f"None of {len(result.summary)} figures changed significantly")
    hidden = [f for f in result.summary["figure"] if f not in set(t["figure"])]
    if hidden:  # named, so the reader knows what to look up below the chart
        title += f"; {' and '.join(hidden) if len(hidden) <= 2 else f'{len(hidden)} figures'} in the table only"
    return _comparison_bars(ax, t["figure"], t["_est"].to_numpy(float), t["_lo"].fillna(t["_est"]).to_numpy(float),
                            t["_hi"].fillna(t["_est"]).to_numpy(float), t["changed"].to_numpy(bool),
                            xlabel="change from the previous period (% of the previous value)", title=title)


@no_mathtext
def plot_segment_comparison(result, ax=None, *, kind: str | None = None):
    """Each segment's difference from the other customers (percentage points) on the share figures
    (stage conversion and retention; ``kind`` picks one), significant differences in red.

    Parameters
    ----------
    result
        A :class:`journeylib.journeys.compare.SegmentComparison`.
    kind
        One kind of figure to show (default: every share figure).
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
    >>> from journeylib.journeys import plots
    >>> ds = jl.load_dataset("sample")
    >>> fig, ax = plt.subplots()
    >>> plots.plot_segment_comparison(jl.compare_segments(ds.events, ds.customers, by="segment"), ax=ax).get_xlabel()
    'segment minus the other customers (percentage points)'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    t = result.summary
    t = t[t["unit"] == "share"] if kind is None else t[t["kind"] == kind]
    if kind is not None and t.empty:
        raise JourneyParameterError(f"kind={kind!r}; expected one of {sorted(result.summary['kind'].unique())}")
    labels = [f"{s}: {f}" for s, f in zip(t["segment"], t["figure"])]
    n = int(t["significant"].sum())
    everything = result.summary
    verb = "is" if n == 1 else "are"
    title = f"{n} of {len(t)} segment differences {verb} significant"
    if len(t) < len(everything):  # the others (revenue, NPS, scores) have other units: in the table
        title = (f"{n} of the {len(t)} differences shown {verb} significant "
                 f"({int(everything['significant'].sum())} of all {len(everything)}: see the table)")
    pts = t["unit"].eq("share").all()
    scale = 100 if pts else 1
    return _comparison_bars(ax, labels, scale * t["difference"].to_numpy(float),
                            scale * t["ci_low"].fillna(t["difference"]).to_numpy(float),
                            scale * t["ci_high"].fillna(t["difference"]).to_numpy(float),
                            t["significant"].to_numpy(bool),
                            xlabel=("segment minus the other customers (percentage points)" if pts
                                    else "segment minus the other customers (currency per customer)"),
                            title=title)




@no_mathtext
def plot_calibration(result, ax=None):
    """Each attribution model's credit for the held-out channel, against the holdout experiment's
    incremental conversions (line) and their interval (band); the best-calibrated model in colour.

    Parameters
    ----------
    result : AttributionCalibration
        Output of :func:`journeylib.journeys.calibration.calibrate_attribution`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (the current Axes if ``None``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from journeylib.journeys import plots
    >>> from journeylib.journeys.calibration import calibrate_attribution
    >>> t0 = pd.Timestamp("2025-03-01", tz="UTC")
    >>> assignments = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)], "experiment": "email_holdout",
    ...                             "variant": ["exposed"] * 4 + ["holdout"] * 4, "assigned_at": t0})
    >>> events = pd.DataFrame({
    ...     "customer_id": ["c0", "c0", "c0", "c1", "c1", "c1", "c4", "c4"],
    ...     "ts": t0 + pd.to_timedelta([0, 1, 2, 0, 1, 2, 0, 2], unit="D"),
    ...     "event": ["landing", "email_click", "purchase"] * 2 + ["landing", "purchase"],
    ...     "channel": ["search", "email", None, "social", "email", None, "search", None]})
    >>> cal = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
    ...                             models=["first_touch", "last_touch"])
    >>> fig, ax = plt.subplots()
    >>> plots.plot_calibration(cal, ax=ax).get_xlabel()
    'conversions credited to email in the exposed arm'
    >>> plt.close(fig)
    """
    if ax is None:
        ax = plt.gca()
    t = result.summary
    y = np.arange(len(t))[::-1]
    credit = t["credited_conversions"].to_numpy(float)
    inside = t["model"].isin(result.supported_models).to_numpy()
    colors = ["#1f77b4" if b else "#9ecae1" if i else "0.65" for b, i in zip(t["best"], inside)]
    ax.barh(y, credit, color=colors, height=0.6)
    level = round(100 * result.confidence_level)
    ax.axvspan(result.ci_low, result.ci_high, color="#2ca02c", alpha=0.15, lw=0, zorder=0,
               label=f"holdout test, {level}% interval")
    ax.axvline(result.incremental, color="#2ca02c", lw=2, label="holdout test: extra conversions")
    for yi, v in zip(y, t["credited_conversions"]):
        ax.text(v, yi, f" {v:,.0f}", va="center", fontsize=8)
    ax.set_yticks(y, [model_words(m) for m in t["model"]])
    ax.set_xlim(left=min(0.0, float(result.ci_low) * 1.1))
    ax.set_xlabel(f"conversions credited to {result.channel} in the exposed arm")
    if not (result.best_model and result.measured):
        title = f"{result.channel}: the holdout test cannot rank the models"
    elif inside.sum() > 1:
        title = (f"{result.channel}: {int(inside.sum())} of {len(t)} models lie within the holdout test's interval "
                 f"(closest: {model_words(result.best_model)})")
    else:
        title = f"{result.channel}: the {model_words(result.best_model)} model agrees best with the holdout test"
    ax.set_title(title, loc="left")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return ax
