"""Drawing for core results (the journey check), and the rule every family's drawing follows:
text from data is never mathtext.

A channel named ``$x^2$`` or ``a$b_{x}^$`` must show as typed: matplotlib would
otherwise render it as TeX, or stop the notebook with a mathtext parse error.
:func:`no_mathtext` wraps a drawing function so that every Text it creates (titles,
labels, tick labels, annotations, legends) is plain text; :func:`plain_text` does the
same for an Axes drawn elsewhere. Matplotlib is imported only when drawing.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import numpy as np

__all__ = ["MAX_LABEL", "error_widths", "no_mathtext", "plain_text", "plot_journey_check", "short_label"]

_Draw = TypeVar("_Draw", bound=Callable[..., Any])


def plain_text(ax: Any) -> Any:
    """Make every Text on ``ax`` plain (``parse_math=False``): titles, axis and tick labels,
    annotations and the legend; returns ``ax``.

    Tick labels that matplotlib creates later, at draw time, follow the rcParam
    ``text.parse_math`` (``setup_notebook`` turns it off for reports); fixed, categorical
    tick labels set by the drawing functions exist already and are covered here.

    Parameters
    ----------
    ax
        A matplotlib Axes, already drawn.

    Returns
    -------
    matplotlib.axes.Axes
        The same ``ax``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from journeylib.core.plots import plain_text
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set_title("$x^2$ channel")
    >>> plain_text(ax).title.get_parse_math()
    False
    >>> plt.close(fig)
    """
    from matplotlib.text import Text
    from matplotlib.ticker import FuncFormatter

    for text in ax.findobj(Text):
        text.set_parse_math(False)
    # a name from data may be any length (a 100,000-character event name drew a 200,000-pixel-wide figure):
    # each line of a tick label, legend entry or annotation is cut to MAX_LABEL characters; tick labels are made
    # again at draw time, so an axis that has a long one gets its formatter wrapped
    for axis, labels in ((ax.xaxis, ax.get_xticklabels()), (ax.yaxis, ax.get_yticklabels())):
        if any(short_label(t.get_text()) != t.get_text() for t in labels):
            made = axis.get_major_formatter()
            axis.set_major_formatter(FuncFormatter(lambda v, pos, made=made: short_label(made(v, pos))))
    legend = ax.get_legend()
    for text in [*ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts,
                 *(legend.get_texts() if legend is not None else [])]:
        if short_label(text.get_text()) != text.get_text():
            text.set_text(short_label(text.get_text()))
    return ax


MAX_LABEL = 100
"""Longest tick label, legend entry or annotation drawn (characters); longer ones end in an ellipsis."""


def short_label(text: object) -> str:
    """Each line of ``text`` cut to :data:`MAX_LABEL` characters, ending in an ellipsis when cut (a map cell or
    an annotation holds several short lines: none is cut).

    Parameters
    ----------
    text
        A label (a name from data).

    Returns
    -------
    str
        The label, each line at most ``MAX_LABEL`` characters long.

    Examples
    --------
    >>> from journeylib.core.plots import short_label
    >>> short_label("email"), len(short_label("x" * 500)), short_label("x" * 500)[-1]
    ('email', 100, '…')
    """
    return "\n".join(line if len(line) <= MAX_LABEL else line[:MAX_LABEL - 1] + "…" for line in str(text).split("\n"))


def no_mathtext(draw: _Draw) -> _Draw:
    """Decorator for a drawing function that returns an Axes: draw with mathtext off
    (``rc_context({"text.parse_math": False})``), then make every Text on the returned Axes
    plain (:func:`plain_text`), so that names from data are drawn exactly as they are.

    Parameters
    ----------
    draw
        A drawing function returning an Axes.

    Returns
    -------
    callable
        ``draw`` wrapped (same name, docstring and signature).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from journeylib.core.plots import no_mathtext
    >>> @no_mathtext
    ... def plot_names(names, ax=None):
    ...     ax = ax if ax is not None else plt.gca()
    ...     ax.bar(range(len(names)), [1] * len(names))
    ...     ax.set_xticks(range(len(names)), names)
    ...     ax.set_ylabel("customers (count)")
    ...     return ax
    >>> fig, ax = plt.subplots()
    >>> ax = plot_names(["email", "a$b_{x}^$"], ax=ax)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['email', 'a$b_{x}^$']
    >>> ax.get_xticklabels()[1].get_parse_math()
    False
    >>> fig.canvas.draw()  # no mathtext parse error
    >>> plt.close(fig)
    """
    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib as mpl

        with mpl.rc_context({"text.parse_math": False}):
            ax = draw(*args, **kwargs)
            if ax is not None and hasattr(ax, "findobj"):
                plain_text(ax)
        return ax

    return wrapper  # type: ignore[return-value]


def step_points(x: Any, xmax: float, points: int = 2000) -> Any:
    """Positions of a step curve's rows to draw between 0 and ``xmax``: at most ``points`` of them.

    A Kaplan-Meier curve over millions of carts has a step per distinct time; drawing them all
    held gigabytes in one figure at 10^8 events. This keeps, for each of ``points`` equally
    spaced times up to ``xmax``, the last row at or before it (the curve's value there, so the
    drawn steps are exact at those times), plus the first row after ``xmax`` so the line reaches
    the axis' edge.

    Parameters
    ----------
    x
        The curve's times, ascending.
    xmax
        The largest time shown.
    points
        Most rows drawn.

    Returns
    -------
    numpy.ndarray
        Row positions, ascending and distinct.

    Examples
    --------
    >>> import numpy as np
    >>> from journeylib.core.plots import step_points
    >>> step_points(np.arange(10.0), 4.0, points=3).tolist()
    [0, 2, 4, 5]
    """
    import numpy as np

    x = np.asarray(x, dtype=float)
    inside = int(np.searchsorted(x, xmax, side="right"))
    if inside <= points:
        return np.arange(min(inside + 1, len(x)))
    at = np.searchsorted(x, np.linspace(x[0], xmax, points), side="right") - 1
    return np.unique(np.append(at[at >= 0], min(inside, len(x) - 1)))


@no_mathtext
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
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import journeylib as jl
    >>> from journeylib.core.plots import plot_journey_check
    >>> fig, ax = plt.subplots()
    >>> ax = plot_journey_check(jl.load_journey("sample"), ax=ax)
    >>> ax.get_xlabel(), ax.get_yticklabels()[0].get_text()
    ('events (count)', 'awareness')
    >>> plt.close(fig)
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
    ax.set_yticks(range(len(labels)), labels)  # names from data: plain text (no_mathtext)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.annotate(f"{v:,}", (v, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_xlabel("events (count)")
    ax.set_title("Events per journey stage")
    return ax


def error_widths(estimate, low, high, scale: float = 1.0) -> np.ndarray:
    """Error-bar lengths ``[below, above]`` of estimates with interval bounds, for matplotlib's
    ``xerr`` / ``yerr``: never negative, ``nan`` where a bound or the estimate is missing.

    matplotlib refuses any negative length. A Wilson interval of 0 successes has a lower bound a
    rounding error above 0 (``6.9e-18``), and an interval that does not contain its estimate
    (a bound from another method) would give a negative length too; those are drawn as 0.
    Missing lengths draw no bar (matplotlib skips ``nan``).

    Parameters
    ----------
    estimate, low, high : array-like
        The estimates and their interval bounds, of one length.
    scale : float, default 1.0
        Multiplier of all three (100 for percentages).

    Returns
    -------
    numpy.ndarray
        Shape ``(2, n)``: the lengths below and above each estimate.

    Examples
    --------
    >>> from journeylib.core.plots import error_widths
    >>> error_widths([0.0, 0.5], [6.9e-18, 0.4], [0.26, float("nan")], scale=100)
    array([[ 0., 10.],
           [26., nan]])
    """
    est, lo, hi = (np.asarray(v, float) * scale for v in (estimate, low, high))
    with np.errstate(invalid="ignore"):
        return np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)])
