"""Drawing for core results: the journey check (events per stage, and what no rule placed)."""
from __future__ import annotations

from typing import Any


def plot_journey_check(journey: Any, ax=None):
    """Horizontal bars: events per stage in journey order, then the events no stage rule matched.

    Parameters
    ----------
    journey
        A :class:`journeylib.core.journey.Journey`.
    ax
        Axes to draw on (default: the current Axes).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.gca()
    s = journey.summary
    rows = s[s["item"].isin([*journey.stages, "no stage (no rule matched)"])]
    labels = [str(x) for x in rows["item"]]
    values = rows["events"].fillna(0).astype(int).to_numpy()
    colors = ["#c0392b" if lab.startswith("no stage") else "#2c6fad" for lab in labels]
    ax.barh(range(len(labels)), values, color=colors)
    ax.set_yticks(range(len(labels)), labels)
    for text in ax.get_yticklabels():
        text.set_parse_math(False)  # names from data are never TeX
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.annotate(f"{v:,}", (v, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_xlabel("events (count)")
    ax.set_title("Events per journey stage")
    return ax
