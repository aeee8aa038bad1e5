"""Touchpoint paths per customer: journeys, the path table, top paths, Sankey data.

A *touchpoint* is an event with a non-null ``touch_col`` (default ``channel``) that is
neither the conversion event nor an outbound event (``schema.OUTBOUND_EVENTS``, e.g.
``winback_sent``: the company sends it, the customer did not act). A *conversion* is
an event named ``conversion_event`` (default ``purchase``).

Journeys are built in the engine with window functions only (``lag``, running sums
over ``customer_id`` ordered by ``schema.ORDER_KEYS``); the path string is an
unordered ``collect`` of ``(ts, event, label)`` structs sorted afterwards, which
compiles on DuckDB and Spark alike. The path table
``path, conversions, conversion_value, null_count`` is the interchange format of
:mod:`journeylib.journeys.attribution`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Sequence

import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd

from ..core import buckets, engine
from ..core.time import epoch_us
from ..core.checks import flag, warn_missing_event
from ..core.errors import JourneyParameterError
from ..core.schema import OUTBOUND_EVENTS, PURCHASE_EVENT
from .common import events_table, window_seconds

__all__ = ["SEP", "journeys", "journeys_expr", "journey_aggregate", "path_table", "path_table_expr", "path_table_of",
           "top_paths", "path_lengths", "time_to_convert", "sankey_data", "touch_rows_expr", "touch_item", "path_of",
           "sorted_path_table", "fetch_with_first_conversions", "BUILT_PATHS"]

SEP = " > "
"""Separator of touchpoints in a path string (as in the ``channelattribution`` package)."""

BUILT_PATHS = "journeylib_built_paths"
"""Flag in ``DataFrame.attrs`` of a path table built here: its paths are joined by exactly
:data:`SEP`, so a touchpoint whose name holds ``>`` (``<b>x</b>``) is not split again."""

CUT_MODES = ("first", "each", "none")


def _check_cut(cut_at_conversion: str | bool) -> str:
    if cut_at_conversion is True:
        return "first"
    if cut_at_conversion is False:
        return "none"
    if cut_at_conversion not in CUT_MODES:
        raise JourneyParameterError(
            f"cut_at_conversion: expected one of {CUT_MODES} (or True/False), got {cut_at_conversion!r}"
        )
    return cut_at_conversion


def touch_rows_expr(
    events: Any,
    *,
    touch_col: str = "channel",
    conversion_event: str = PURCHASE_EVENT,
    cut_at_conversion: str | bool = "first",
    session_gap: Any = None,
    lookback: Any = None,
    collapse_repeats: bool = False,
    exclude_events: Sequence[str] = OUTBOUND_EVENTS,
    _first: ibis.Table | None = None,
) -> ibis.Table:
    """Touch and conversion rows labelled with their journey (engine expression).

    Columns: ``customer_id, journey, _e`` (epoch microseconds), ``event, label,
    _conv`` (1 on conversion rows), ``_rev`` (revenue on conversion rows).
    See :func:`journeys` for the parameters. ``_first``: the customers' first
    conversions already computed (:func:`_first_conversions`), for the cut at the
    first conversion.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event`` and ``touch_col``.
    touch_col, conversion_event, cut_at_conversion, session_gap, lookback, collapse_repeats, exclude_events
        As in :func:`journeys`.

    Returns
    -------
    ibis.Table
        The labelled rows, not yet executed.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import touch_rows_expr
    >>> events = jl.load_dataset("sample").events
    >>> touch_rows_expr(events).columns
    ('customer_id', 'journey', '_e', 'event', 'label', '_conv', '_rev')
    """
    cut = _check_cut(cut_at_conversion)
    collapse_repeats = flag(collapse_repeats, "collapse_repeats")
    gap = window_seconds(session_gap, "session_gap")
    look = window_seconds(lookback, "lookback")
    t = _touch_source(events, touch_col, exclude_events)
    is_conv = t.event == conversion_event
    label = t[touch_col].cast("string")

    if _cuts_once(cut, gap):
        # One journey per customer: no ordering needed to find it (hash work, no windows)
        first = _first if _first is not None else _first_conversion_expr(
            _as_rows(t.filter(is_conv), touch_col, conversion_event))
        touches = _as_rows(t.filter(~is_conv & label.notnull()), touch_col, conversion_event)
        rows = _up_to_first_conversion(touches, first, conversion_event).mutate(journey=ibis.literal(1, "int64"))
    else:
        rows = _as_rows(t.filter(is_conv | label.notnull()), touch_col, conversion_event)
        order = [rows._e, rows.event, rows.label]
        w = ibis.window(group_by=rows.customer_id, order_by=order)
        cw = ibis.cumulative_window(group_by=rows.customer_id, order_by=order)
        rows = rows.mutate(
            _prev_e=rows._e.lag().over(w),
            _prev_conv=rows._conv.lag().over(w),
            _conv_upto=rows._conv.sum().over(cw),
        )
        if cut == "first":  # keep the touches up to and including the first conversion
            rows = rows.filter((rows._conv_upto - rows._conv) == 0)
        start = rows._prev_e.isnull()
        if cut == "each":
            start |= rows._prev_conv == 1
        if gap is not None:
            start |= (rows._e - rows._prev_e) > int(round(gap * 1_000_000))
        rows = rows.mutate(_start=start.cast("int64"))
        rows = rows.mutate(journey=rows._start.sum().over(ibis.cumulative_window(group_by=rows.customer_id,
                                                                                   order_by=[rows._e, rows.event,
                                                                                             rows.label])))
    jw = ibis.window(group_by=[rows.customer_id, rows.journey])
    if look is not None:
        rows = rows.mutate(_end=rows._e.max().over(jw))
        rows = rows.filter((rows._conv == 1) | (rows._end - rows._e <= int(round(look * 1_000_000))))
    if collapse_repeats:
        ow = ibis.window(group_by=[rows.customer_id, rows.journey], order_by=[rows._e, rows.event, rows.label])
        touches = rows.filter(rows._conv == 0)
        touches = touches.mutate(_prev_label=touches.label.lag().over(ow))
        touches = touches.filter(touches._prev_label.isnull() | (touches.label != touches._prev_label))
        keep = ["customer_id", "journey", "_e", "event", "label", "_conv", "_rev"]
        rows = touches.select(*keep).union(rows.filter(rows._conv == 1).select(*keep))
    return rows.select("customer_id", "journey", "_e", "event", "label", "_conv", "_rev")


def _touch_source(events: Any, touch_col: str, exclude_events: Sequence[str]) -> ibis.Table:
    """The events that can be touches or conversions (``exclude_events`` left out)."""
    t = events_table(events, ("customer_id", "ts", "event"))
    if touch_col not in t.columns:
        raise JourneyParameterError(
            f"touch_col='{touch_col}': not a column of events; available: {list(t.columns)}"
        )
    return t.filter(~t.event.isin(list(exclude_events))) if exclude_events else t


def _path_events(events: ibis.Table, kwargs: dict) -> ibis.Table:
    """The rows and columns of ``events`` that paths are built from (``kwargs``: those of :func:`journeys`).

    Selected before a large log is split into customer buckets, which writes it whole:
    at 10^8 events writing every column took 21 s, the five that paths read 15 s. The
    number of buckets is that of the whole log: counting the selected rows reads them.
    """
    touch_col = kwargs.get("touch_col", "channel")
    t = _touch_source(events, touch_col, kwargs.get("exclude_events", OUTBOUND_EVENTS))
    t = t.filter((t.event == kwargs.get("conversion_event", PURCHASE_EVENT)) | t[touch_col].notnull())
    return t.select(*dict.fromkeys(["customer_id", "ts", "event", touch_col,
                                    *(["revenue"] if "revenue" in t.columns else [])]))


def _as_rows(t: ibis.Table, touch_col: str, conversion_event: str) -> ibis.Table:
    """``customer_id, event, _e, label, _conv, _rev``: touch rows (label) and conversion rows (revenue)."""
    conv = t.event == conversion_event
    rev = t.revenue.cast("float64").fill_null(0.0) if "revenue" in t.columns else ibis.literal(0.0)
    return t.select("customer_id", "event", _e=epoch_us(t),
                    label=ibis.ifelse(conv, ibis.null("string"), t[touch_col].cast("string")),
                    _conv=conv.cast("int64"), _rev=ibis.ifelse(conv, rev, 0.0))


def _cuts_once(cut: str, gap: float | None) -> bool:
    """One journey per customer, cut at the first conversion: found by a hash join, no windows."""
    return cut == "first" and gap is None


def _first_conversion_expr(conv: ibis.Table) -> ibis.Table:
    """``_cid, _c, _crev``: each customer's first conversion time and its revenue."""
    first = conv.group_by("customer_id").aggregate(_c=conv._e.min(), _crev=conv._rev.argmin(conv._e))
    return first.select(_cid=first.customer_id, _c=first._c, _crev=first._crev)


def _reads_a_table(t: ibis.Table) -> bool:
    """Only filters and projections over a stored or in-memory table (cheap to read twice)."""
    op = t.op()
    while isinstance(op, (ops.Filter, ops.Project)):
        op = op.parent
    return isinstance(op, (ops.DatabaseTable, ops.InMemoryTable))


@contextmanager
def _first_conversions(events: ibis.Table, kwargs: dict) -> Iterator[dict]:
    """``kwargs`` for the path functions, with the first conversions computed once into a table.

    With the default cut (first conversion, no session gap) the touches are joined to each
    customer's first conversion. Built inside the same query, that reads the events
    twice: cheap over a plain table (filters and projections of a file or table, which
    DuckDB reads twice), but DuckDB materializes the whole input when it is more (a log
    whose duplicate rows were dropped is a UNION): at 10^8 events 1.3 GB more and slower
    than ordered windows. Then the first conversions become a small table of their own
    (one row per converting customer) and the path query reads the events once.
    """
    cut = _check_cut(kwargs.get("cut_at_conversion", "first"))
    if not _cuts_once(cut, window_seconds(kwargs.get("session_gap"), "session_gap")) or _reads_a_table(events):
        yield kwargs
        return
    touch_col = kwargs.get("touch_col", "channel")
    conversion_event = kwargs.get("conversion_event", PURCHASE_EVENT)
    t = _touch_source(events, touch_col, kwargs.get("exclude_events", OUTBOUND_EVENTS))
    conv = _as_rows(t.filter(t.event == conversion_event), touch_col, conversion_event)
    with engine.materialized(_first_conversion_expr(conv)) as first:
        yield {**kwargs, "_first": first}


def _up_to_first_conversion(touch: ibis.Table, first: ibis.Table, conversion_event: str) -> ibis.Table:
    """The touches before each customer's first conversion, and that conversion.

    Equal to cutting the customer's rows, ordered by ``(_e, event, label)``, after the
    first conversion row: a touch at the very time of the conversion comes first when
    its event name sorts before the conversion event's. Computed with one grouped
    aggregate and a hash join instead of an ordered window over every event.
    """
    j = touch.left_join(first, touch.customer_id == first._cid)
    j = j.filter(j._c.isnull() | (j._e < j._c) | ((j._e == j._c) & (j.event < conversion_event)))
    cols = ["customer_id", "event", "_e", "label", "_conv", "_rev"]
    closing = first.select(customer_id=first._cid, event=ibis.literal(conversion_event, "string"), _e=first._c,
                           label=ibis.null("string"), _conv=ibis.literal(1, "int64"),
                           _rev=first._crev.cast("float64"))
    return j.select(*cols).union(closing.select(*cols))


def fetch_with_first_conversions(events: ibis.Table, build: Callable[..., ibis.Table], kwargs: dict) -> pd.DataFrame:
    """``build(events, **kwargs)`` fetched to pandas, the first conversions computed once before.

    Parameters
    ----------
    events
        Event log (an Ibis table).
    build
        A function of ``events`` and keyword arguments returning an engine expression
        (such as :func:`path_table_expr`); it receives the first conversions as ``_first``.
    kwargs
        Keyword arguments for ``build`` (those of :func:`journeys`).

    Returns
    -------
    pandas.DataFrame
        The executed expression.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import fetch_with_first_conversions, path_table_expr
    >>> events = jl.load_dataset("sample").events
    >>> fetch_with_first_conversions(events, path_table_expr, {}).shape
    (1189, 4)
    """
    with _first_conversions(events, kwargs) as kw:
        return engine.to_pandas(build(events, **kw))


def touch_item(t: ibis.Table) -> ibis.Value:
    """A touch as a struct that sorts in path order: time, then event and label (``ORDER_KEYS``).

    Parameters
    ----------
    t
        Rows of :func:`touch_rows_expr` (columns ``_e``, ``event``, ``label``).

    Returns
    -------
    ibis.Value
        A struct expression ``{e, ev, l}``; collect it and pass it to :func:`path_of`.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import path_of, touch_item, touch_rows_expr
    >>> events = jl.load_dataset("sample").events
    >>> rows = touch_rows_expr(events).filter(lambda r: r._conv == 0)
    >>> paths = rows.group_by("customer_id").aggregate(path=path_of(touch_item(rows).collect()))
    >>> paths.order_by("customer_id").limit(2).to_pandas()
      customer_id                                 path
    0     C000001                    search > paid_ads
    1     C000002  paid_ads > social > social > social
    """
    return ibis.struct({"e": t._e, "ev": t.event, "l": t.label})


def path_of(items: ibis.Value) -> ibis.Value:
    """The path string of a collected array of :func:`touch_item` structs.

    Parameters
    ----------
    items
        An array of :func:`touch_item` structs (in any order; sorted here).

    Returns
    -------
    ibis.Value
        A string expression: the labels in path order joined by ``" > "``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import path_of, touch_item, touch_rows_expr
    >>> events = jl.load_dataset("sample").events
    >>> rows = touch_rows_expr(events).filter(lambda r: r._conv == 0)
    >>> paths = rows.group_by("customer_id").aggregate(path=path_of(touch_item(rows).collect()))
    >>> paths.order_by("customer_id").limit(1).to_pandas().path.iloc[0]
    'search > paid_ads'
    """
    return items.sort().map(lambda s: s.l).join(SEP)


def journey_aggregate(rows: ibis.Table) -> ibis.Table:
    """One row per journey with a touch, from :func:`touch_rows_expr` rows (engine expression).

    ``customer_id, journey, _items`` (the touches as :func:`touch_item` structs, not in
    order), ``n_touches, conversions, conversion_value``, in epoch microseconds ``_first,
    _last`` (touches) and ``_conv_e`` (the journey's first conversion), and ``path``.

    Parameters
    ----------
    rows
        Rows of :func:`touch_rows_expr`.

    Returns
    -------
    ibis.Table
        One row per journey, not yet executed.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import journey_aggregate, touch_rows_expr
    >>> events = jl.load_dataset("sample").events
    >>> agg = journey_aggregate(touch_rows_expr(events))
    >>> agg.count().to_pyarrow().as_py(), "path" in agg.columns
    (5000, True)
    """
    touch = rows._conv == 0
    item = touch_item(rows)
    agg = rows.group_by(["customer_id", "journey"]).aggregate(
        _items=ibis.ifelse(touch, item, ibis.null(item.type())).collect(),
        n_touches=touch.cast("int64").sum(),
        conversions=rows._conv.sum(),
        conversion_value=rows._rev.sum(),
        _first=rows._e.min(where=touch),
        _last=rows._e.max(where=touch),
        _conv_e=rows._e.min(where=rows._conv == 1),
    )
    agg = agg.filter(agg.n_touches > 0)
    return agg.mutate(path=path_of(agg._items))


def journeys_expr(events: Any, **kwargs: Any) -> ibis.Table:
    """One row per journey with at least one touch (engine expression); see :func:`journeys`.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event`` and the touch column.
    **kwargs
        The keyword arguments of :func:`journeys`.

    Returns
    -------
    ibis.Table
        The journeys, not yet executed.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import journeys_expr
    >>> events = jl.load_dataset("sample").events
    >>> journeys_expr(events).count().to_pyarrow().as_py()
    5000
    """
    return _journeys_of(journey_aggregate(touch_rows_expr(events, **kwargs)))


def _journeys_of(agg: ibis.Table) -> ibis.Table:
    return agg.select(
        "customer_id", "journey", "path",
        n_touches=agg.n_touches,
        conversions=agg.conversions,
        conversion_value=agg.conversion_value,
        # whole seconds (truncated) for display; Spark makes timestamps from seconds only
        first_touch_ts=(agg._first // 1_000_000).cast("int64").as_timestamp("s"),
        last_touch_ts=(agg._last // 1_000_000).cast("int64").as_timestamp("s"),
        conversion_ts=(agg._conv_e // 1_000_000).cast("int64").as_timestamp("s"),
        days_to_convert=(agg._conv_e - agg._first).cast("float64") / 1e6 / 86400.0,
    )


def journeys(
    events: Any,
    *,
    touch_col: str = "channel",
    conversion_event: str = PURCHASE_EVENT,
    cut_at_conversion: str | bool = "first",
    session_gap: Any = None,
    lookback: Any = None,
    collapse_repeats: bool = False,
    exclude_events: Sequence[str] = OUTBOUND_EVENTS,
) -> pd.DataFrame:
    """Per-customer ordered touchpoint paths, one row per journey.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event`` and ``touch_col``.
    touch_col
        Column whose non-null values are the touchpoints (``"channel"``, or
        ``"event"`` for event-name paths).
    conversion_event
        Event name of a conversion.
    cut_at_conversion
        ``"first"`` (default): one journey per customer, the touches up to the
        first conversion (later touches are dropped). ``"each"``: every conversion
        closes a journey; touches after the last one form a non-converting journey.
        ``"none"``: conversions do not cut (all of a customer's touches).
    session_gap
        Inactivity gap (days or a Timedelta string) that starts a new journey; a
        conversion after such a gap starts a journey without touches, which is
        dropped (the conversion is not credited to an earlier session).
    lookback
        Only touches within this many days before the journey's end (its conversion,
        or its last touch for non-converting journeys) are kept.
    collapse_repeats
        Merge consecutive repeats of the same touchpoint (``a > a > b`` -> ``a > b``).
    exclude_events
        Event names that are never touches (default: outbound events).

    Returns
    -------
    pandas.DataFrame
        ``customer_id, journey, path, n_touches, conversions, conversion_value,
        first_touch_ts, last_touch_ts, conversion_ts, days_to_convert``. Journeys
        without any touch are left out. Logs over 20 million events are built in
        customer-hash buckets, as :func:`path_table` does.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.journeys.paths import journeys  # ``jl.journeys`` is the family's package
    >>> paths = journeys(events)
    >>> len(paths)
    5000
    >>> paths[["path", "n_touches", "conversions"]].head(2)
                                      path  n_touches  conversions
    0                    search > paid_ads          2            0
    1  paid_ads > social > social > social          4            1
    """
    kw = dict(touch_col=touch_col, conversion_event=conversion_event, cut_at_conversion=cut_at_conversion,
              session_gap=session_gap, lookback=lookback, collapse_repeats=collapse_repeats,
              exclude_events=exclude_events)
    t = engine.to_table(events)
    out = buckets.concat_sorted(buckets.per_bucket(_path_events(t, kw), lambda part: fetch_with_first_conversions(
        part, journeys_expr, kw), buckets.n_buckets(t)), ["customer_id", "journey"])
    if len(out) and not out["conversions"].any():
        _warn_no_conversion_event(t, conversion_event)
    return out


def _warn_no_conversion_event(t: ibis.Table, conversion_event: str) -> None:
    """No journey converts: say so when the log has no such event at all (a misspelt name?)."""
    warn_missing_event(t, conversion_event, "conversion_event", "no journey converts", stacklevel=4)


def path_table_expr(events: Any, **kwargs: Any) -> ibis.Table:
    """The path table as an engine expression (from the journeys' :func:`journey_aggregate`).

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event`` and the touch column.
    **kwargs
        The keyword arguments of :func:`journeys`.

    Returns
    -------
    ibis.Table
        ``path, conversions, conversion_value, null_count``, not yet executed.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import path_table_expr
    >>> events = jl.load_dataset("sample").events
    >>> path_table_expr(events).count().to_pyarrow().as_py()  # distinct paths
    1189
    """
    return path_table_of(journey_aggregate(touch_rows_expr(events, **kwargs)))


def path_table_of(agg: ibis.Table) -> ibis.Table:
    """The path table of a :func:`journey_aggregate` (engine expression).

    Parameters
    ----------
    agg
        Journeys from :func:`journey_aggregate`.

    Returns
    -------
    ibis.Table
        ``path, conversions, conversion_value, null_count``, not yet executed.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import journey_aggregate, path_table_of, touch_rows_expr
    >>> events = jl.load_dataset("sample").events
    >>> table = path_table_of(journey_aggregate(touch_rows_expr(events)))
    >>> table.columns
    ('path', 'conversions', 'conversion_value', 'null_count')
    """
    return agg.group_by("path").aggregate(
        conversions=agg.conversions.sum(),
        conversion_value=agg.conversion_value.sum(),
        null_count=(agg.conversions == 0).cast("int64").sum(),
    )


def path_table(events: Any, *, partitions: int | None = None, **kwargs: Any) -> pd.DataFrame:
    """Path table ``path, conversions, conversion_value, null_count``.

    ``events`` is an event log, or the output of :func:`journeys` (then summed per path,
    without a second pass over the events).

    One row per distinct path; ``conversions`` is the number of conversions
    closing journeys with that path, ``null_count`` the number of journeys with
    that path and no conversion. Keyword arguments are those of :func:`journeys`.

    ``partitions`` splits the customers into that many hash buckets and builds the
    table one bucket at a time, then sums: exact, because journeys never cross
    customers, and it bounds the engine's memory (the per-customer ordered
    aggregation does not spill to disk). ``None`` uses one bucket per
    20 million events (:mod:`journeylib.core.buckets`).

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event`` and the touch column, or a
        :func:`journeys` frame.
    partitions
        Customer-hash buckets to build the table in (``None``: one per 20 million events).
    **kwargs
        The keyword arguments of :func:`journeys`.

    Returns
    -------
    pandas.DataFrame
        ``path, conversions, conversion_value, null_count``, most frequent paths first.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> table = jl.path_table(events)
    >>> len(table), int(table.conversions.sum())
    (1189, 1292)
    >>> table.head(2)
         path  conversions  conversion_value  null_count
    0  search            0               0.0         252
    1  social            0               0.0         215
    """
    if isinstance(events, pd.DataFrame) and {"journey", "path", "conversions", "conversion_value"} <= set(events.columns):
        # the output of journeys(): aggregating it is cheaper than a second pass over the events
        if kwargs:
            raise JourneyParameterError(f"{sorted(kwargs)}: path-building options apply to events, not to "
                                        "journeys() output (those were built with their own options)")
        j = events[["path", "conversions", "conversion_value"]].assign(null_count=events["conversions"].eq(0))
        out = j.groupby("path", as_index=False, sort=False).sum()
        return sorted_path_table(out)
    t = engine.to_table(events)
    out = buckets.summed_per_bucket(_path_events(t, kwargs),
                                    lambda part: fetch_with_first_conversions(part, path_table_expr, kwargs),
                                    "path", ["conversions", "conversion_value", "null_count"],
                                    buckets.n_buckets(t) if partitions is None else partitions)
    if len(out) and not out["conversions"].any():
        _warn_no_conversion_event(t, kwargs.get("conversion_event", PURCHASE_EVENT))
    return sorted_path_table(out)


def sorted_path_table(out: pd.DataFrame) -> pd.DataFrame:
    """A summed path table with integer counts, most frequent paths first (ties: by path).

    Parameters
    ----------
    out
        A path table summed over buckets (counts may be floats).

    Returns
    -------
    pandas.DataFrame
        The same rows, integer counts, by journeys (conversions + null_count) then path.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.paths import sorted_path_table
    >>> sorted_path_table(pd.DataFrame({"path": ["a", "b > a", "b"], "conversions": [1.0, 3.0, 3.0],
    ...                                 "conversion_value": [10.0, 30.0, 20.0], "null_count": [4.0, 0.0, 1.0]}))
        path  conversions  conversion_value  null_count
    0      a            1              10.0           4
    1      b            3              20.0           1
    2  b > a            3              30.0           0
    """
    out = out.copy()
    out["conversions"] = out["conversions"].astype("int64")
    out["null_count"] = out["null_count"].astype("int64")
    out["conversion_value"] = out["conversion_value"].astype(float)
    order = (out["conversions"] + out["null_count"]).to_numpy()
    out = out.iloc[np.lexsort((out["path"].to_numpy(), -order))].reset_index(drop=True)
    out.attrs[BUILT_PATHS] = True
    return out


def top_paths(paths: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` most frequent paths with journeys, conversions and conversion rate.

    ``paths`` is a path table (:func:`path_table`) or a journeys frame
    (:func:`journeys`).

    Parameters
    ----------
    paths
        A path table or a journeys frame.
    n
        Paths kept.

    Returns
    -------
    pandas.DataFrame
        ``path, n_touches, journeys, conversions, conversion_rate, conversion_value,
        share_of_journeys``, most frequent first.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> jl.top_paths(jl.path_table(events), 2)[["path", "journeys", "share_of_journeys"]]
         path  journeys  share_of_journeys
    0  search       252             0.0504
    1  social       215             0.0430
    """
    if n < 1:
        raise JourneyParameterError(f"n: expected a positive number of paths, got {n}")
    pt = _as_path_table(paths)
    out = pt.assign(journeys=pt["_journeys"])
    out["conversion_rate"] = out["_converting"] / out["journeys"]
    out["share_of_journeys"] = out["journeys"] / out["journeys"].sum()
    out["n_touches"] = out["path"].str.count(SEP.strip()) + 1
    out = out.sort_values(["journeys", "path"], ascending=[False, True]).head(n)
    return out[["path", "n_touches", "journeys", "conversions", "conversion_rate", "conversion_value",
                "share_of_journeys"]].reset_index(drop=True)


def _as_path_table(paths: pd.DataFrame) -> pd.DataFrame:
    """Normalise a journeys frame or path table; adds ``_journeys`` and ``_converting``."""
    if not isinstance(paths, pd.DataFrame) or "path" not in paths.columns:
        raise JourneyParameterError("paths: expected a path table or a journeys DataFrame with a 'path' column")
    if "null_count" in paths.columns:
        pt = paths.copy()
        # a path-table row with conversions holds at least one converting journey; with cut
        # 'first'/'each' every converting journey has exactly one conversion
        pt["_converting"] = pt["conversions"]
        pt["_journeys"] = pt["conversions"] + pt["null_count"]
        return pt
    j = paths
    g = j.assign(_c=(j["conversions"] > 0).astype(int)).groupby("path", sort=False)
    pt = pd.DataFrame({
        "conversions": g["conversions"].sum(), "conversion_value": g["conversion_value"].sum(),
        "null_count": g["_c"].size() - g["_c"].sum(), "_converting": g["_c"].sum(), "_journeys": g["_c"].size(),
    }).reset_index()
    return pt


def path_lengths(journeys_df: pd.DataFrame) -> pd.DataFrame:
    """Distribution of path length (touches) for converting and non-converting journeys.

    Returns ``n_touches, journeys, converting, conversion_rate``.

    Parameters
    ----------
    journeys_df
        A :func:`journeys` frame.

    Returns
    -------
    pandas.DataFrame
        ``n_touches, journeys, converting, conversion_rate``, one row per path length.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import journeys
    >>> events = jl.load_dataset("sample").events
    >>> jl.path_lengths(journeys(events)).head(3).round(3)
       n_touches  journeys  converting  conversion_rate
    0          1       978           0            0.000
    1          2      1276          12            0.009
    2          3      1363         458            0.336
    """
    j = journeys_df.assign(_c=(journeys_df["conversions"] > 0).astype(int))
    g = j.groupby("n_touches")["_c"]
    out = pd.DataFrame({"journeys": g.size(), "converting": g.sum()}).reset_index()
    out["conversion_rate"] = out["converting"] / out["journeys"]
    return out


def time_to_convert(journeys_df: pd.DataFrame) -> pd.DataFrame:
    """Summary of days from first touch to conversion among converting journeys.

    Returns one row: ``journeys, mean, median, p25, p75, p90`` (days).

    Parameters
    ----------
    journeys_df
        A :func:`journeys` frame.

    Returns
    -------
    pandas.DataFrame
        One row: ``journeys, mean, median, p25, p75, p90`` (days).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import journeys
    >>> events = jl.load_dataset("sample").events
    >>> jl.time_to_convert(journeys(events)).round(2)
       journeys  mean  median   p25   p75    p90
    0      1292  5.76    4.81  2.86  7.52  10.93
    """
    d = journeys_df.loc[journeys_df["conversions"] > 0, "days_to_convert"].dropna()
    q = d.quantile([0.25, 0.5, 0.75, 0.9]) if len(d) else pd.Series(np.nan, index=[0.25, 0.5, 0.75, 0.9])
    return pd.DataFrame([{"journeys": len(d), "mean": d.mean(), "median": q[0.5], "p25": q[0.25],
                          "p75": q[0.75], "p90": q[0.9]}])


def sankey_data(paths: pd.DataFrame, steps: int = 4, *, end_labels: bool = True) -> pd.DataFrame:
    """Links of a Sankey diagram of the first ``steps`` touches of every journey.

    Nodes are named ``"<step>. <touchpoint>"``; with ``end_labels`` every journey
    also flows into ``"conversion"`` or ``"no conversion"`` after its last shown
    step (journeys longer than ``steps`` into ``"... (continues)"``).

    Returns ``source, target, value`` (journeys), ready for plotly's ``go.Sankey``.

    Parameters
    ----------
    paths
        A :func:`journeys` frame or a path table.
    steps
        Touches shown per journey.
    end_labels
        Add the ``conversion`` / ``no conversion`` / continues nodes.

    Returns
    -------
    pandas.DataFrame
        ``source, target, value`` (journeys).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.paths import journeys
    >>> events = jl.load_dataset("sample").events
    >>> jl.sankey_data(journeys(events), steps=2).head(2)
          source         target  value
    0  1. direct  no conversion    152
    1  1. direct      2. search    134
    """
    if steps < 1:
        raise JourneyParameterError(f"steps: expected at least 1, got {steps}")
    pt = _as_path_table(paths)
    links: dict[tuple[str, str], int] = {}
    for path, n_conv, n_all in zip(pt["path"], pt["_converting"], pt["_journeys"]):
        parts = path.split(SEP)
        shown = parts[:steps]
        nodes = [f"{i + 1}. {p}" for i, p in enumerate(shown)]
        for a, b in zip(nodes[:-1], nodes[1:]):
            links[(a, b)] = links.get((a, b), 0) + int(n_all)
        if end_labels:
            if len(parts) > steps:
                links[(nodes[-1], "... (continues)")] = links.get((nodes[-1], "... (continues)"), 0) + int(n_all)
            else:
                if n_conv:
                    links[(nodes[-1], "conversion")] = links.get((nodes[-1], "conversion"), 0) + int(n_conv)
                if n_all - n_conv:
                    key = (nodes[-1], "no conversion")
                    links[key] = links.get(key, 0) + int(n_all - n_conv)
    out = pd.DataFrame([(a, b, v) for (a, b), v in links.items()], columns=["source", "target", "value"])
    return out.sort_values(["source", "value"], ascending=[True, False]).reset_index(drop=True)

