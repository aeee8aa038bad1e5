"""The journey map figure: stages as columns, drawn from data.

One Axes, three bands per stage column:

* top: the stage as a chevron with the customers who reached it, and the share that
  continues to the next stage on the arrow between columns;
* middle: the satisfaction ("emotion") line, the mean score per stage on its scale,
  when a score column exists;
* bottom: median days in the stage and the top touchpoints.

Stages with the largest drop-off are outlined in red and labelled "pain point".
"""
from __future__ import annotations

import textwrap

import numpy as np

__all__ = ["plot_journey_map"]

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


def plot_journey_map(data, ax=None, *, score_range: tuple[float, float] = (1.0, 5.0), title: str | None = None):
    """Draw a journey map from :class:`journeylib.stages.JourneyMapData`.

    Parameters
    ----------
    data
        Output of :func:`journeylib.stages.journey_map_data`.
    ax
        Matplotlib Axes (a new wide figure if ``None``).
    score_range
        Scale of the score column (1-5 for CSAT; use (0, 10) for NPS-style ratings).
    title
        Figure title (default describes the map).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Polygon

    s = data.summary
    k = len(s)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(10, 2.3 * k), 7.2))
    ax.set_xlim(-0.78, k - 0.45)
    ax.set_ylim(-0.15, 4.55)
    ax.axis("off")
    w = 0.76
    max_c = max(float(s["customers"].max()), 1.0)
    names, counts = [], []  # the chevrons' texts, fitted to the chevrons below
    for i, r in enumerate(s.itertuples(index=False)):
        pain = bool(r.pain_point)
        # column background
        ax.add_patch(FancyBboxPatch((i - w / 2, 0.0), w, 4.45, boxstyle="round,pad=0.0,rounding_size=0.04",
                                    fc="#fbeeee" if pain else "#f4f6f9", ec=_PAIN if pain else "none",
                                    lw=2 if pain else 0, zorder=0))
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
                        arrowprops={"arrowstyle": "-|>", "color": _PAIN if pain else "0.35", "lw": 1.5})
            ax.text(i + 0.5, 3.33, f"{r.conversion_to_next:.0%}", ha="center", va="bottom", fontsize=8.5,
                    color=_PAIN if pain else "0.2", weight="bold")
        if pain:
            ax.text(i, 3.05, f"PAIN POINT\n{r.drop_off:.0%} drop off", ha="center", va="center", fontsize=8.5,
                    color=_PAIN, weight="bold")
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
