"""Helpers shared by the journeys modules: the event table, stage lists, durations, result HTML.

Stages, paths and attribution all read the canonical event log and take durations
in days; these are the one definition of how they check them. Time itself (epoch
microseconds, the observation end) lives in :mod:`journeylib.core.time`.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

import ibis
import numpy as np
import pandas as pd

from ..core import engine
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.schema import OUTBOUND_EVENTS
from ..core.time import DAY_SECONDS

__all__ = ["events_table", "drop_outbound", "check_stages", "window_seconds", "findings_html"]


def events_table(events: Any, required: Sequence[str] = ("customer_id", "ts", "stage")) -> ibis.Table:
    """The event log as an Ibis table, with the ``required`` columns (else :class:`JourneyDataError`).

    Parameters
    ----------
    events
        Event log: a DataFrame, an Ibis table or a path to CSV/Parquet.
    required
        Columns it must have.

    Returns
    -------
    ibis.Table
        The log as an Ibis table.

    Raises
    ------
    JourneyDataError
        When a required column is missing.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.common import events_table
    >>> events_table(jl.load_dataset("sample").events).columns
    ('customer_id', 'ts', 'event', 'channel', 'stage', 'revenue', 'score')
    """
    t = engine.to_table(events)
    missing = [c for c in required if c not in t.columns]
    if missing:
        raise JourneyDataError(
            f"events: missing column(s) {missing}; expected the canonical event columns "
            f"{list(required)} (load the file with journeylib.load_events)"
        )
    return t


def drop_outbound(t: ibis.Table) -> ibis.Table:
    """The events a customer did (outbound sends such as win-back emails left out).

    Parameters
    ----------
    t
        Event log (an Ibis table with ``event``).

    Returns
    -------
    ibis.Table
        The rows whose event is not outbound (``schema.OUTBOUND_EVENTS``).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.common import drop_outbound
    >>> events = jl.load_dataset("sample").events
    >>> events.count().to_pyarrow().as_py(), drop_outbound(events).count().to_pyarrow().as_py()
    (52966, 52553)
    """
    if "event" in t.columns and OUTBOUND_EVENTS:
        return t.filter(~t.event.isin(list(OUTBOUND_EVENTS)))
    return t


def check_stages(stages: Sequence[str] | str, name: str = "stages") -> tuple[str, ...]:
    """Stage names in journey order: at least two, unique (one comma-separated string is split).

    Parameters
    ----------
    stages
        A list of stage names, or one comma-separated string.
    name
        The parameter's name (for the message).

    Returns
    -------
    tuple of str
        The stage names.

    Raises
    ------
    JourneyParameterError
        When fewer than two stages are given or a stage repeats.

    Examples
    --------
    >>> from journeylib.journeys.common import check_stages
    >>> check_stages("awareness, consideration, purchase")
    ('awareness', 'consideration', 'purchase')
    """
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    stages = tuple(stages)
    if len(stages) < 2:
        raise JourneyParameterError(f"{name}: expected at least two stage names in journey order, got {list(stages)}")
    if len(set(stages)) != len(stages):
        raise JourneyParameterError(f"{name}: stage names must be unique, got {list(stages)}")
    return stages


def window_seconds(window: Any, name: str = "window") -> float | None:
    """A duration in seconds from ``None`` | days as a number | ``pd.Timedelta`` | a string like ``"30D"``.

    Parameters
    ----------
    window
        ``None`` (no window), days as a number, a ``pd.Timedelta`` or a string like ``"30D"``.
    name
        The parameter's name (for the message).

    Returns
    -------
    float or None
        Seconds, or ``None`` without a window.

    Examples
    --------
    >>> from journeylib.journeys.common import window_seconds
    >>> window_seconds(30), window_seconds("12h"), window_seconds(None)
    (2592000.0, 43200.0, None)
    """
    if window is None:
        return None
    if isinstance(window, (int, float, np.integer, np.floating)) and not isinstance(window, bool):
        secs = float(window) * DAY_SECONDS
    else:
        try:
            secs = pd.Timedelta(window).total_seconds()
        except (ValueError, TypeError) as exc:
            raise JourneyParameterError(
                f"{name}: expected a number of days, a pandas Timedelta or a string like '30D', got {window!r}"
            ) from exc
    if not np.isfinite(secs) or secs <= 0:
        raise JourneyParameterError(f"{name}: expected a positive duration, got {window!r}")
    return secs


def findings_html(result: Any) -> str:
    """The findings and the checks that did not pass, as escaped HTML paragraphs.

    Parameters
    ----------
    result
        A result with ``findings`` and ``checks``.

    Returns
    -------
    str
        ``<p>`` paragraphs, every string HTML-escaped.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.common import findings_html
    >>> html = findings_html(jl.funnel(jl.load_dataset("sample").events, window=60))
    >>> html.startswith("<p>4.5% of the customers who entered at awareness")
    True
    """
    parts = [f"<p>{html.escape(str(f))}</p>" for f in result.findings]
    parts += [f"<p><b>{html.escape(c.status)}:</b> {html.escape(c.name)}"
              f"{' — ' + html.escape(c.detail) if c.detail else ''}</p>"
              for c in result.checks if c.status != "pass"]
    return "".join(parts)


def model_words(model: str) -> str:
    """An attribution model's name for people.

    Parameters
    ----------
    model
        The model's identifier (``"last_non_direct"``).

    Returns
    -------
    str
        The name in words (``"last non-direct"``, ``"Markov"``).

    Examples
    --------
    >>> from journeylib.journeys.common import model_words
    >>> [model_words(m) for m in ("last_non_direct", "markov", "time_decay")]
    ['last non-direct', 'Markov', 'time decay']
    """
    return (model.replace("non_direct", "non-direct").replace("_", " ").replace("markov", "Markov")
            .replace("shapley", "Shapley"))
