"""Data overview: what is in an event log, in a few small tables."""
from __future__ import annotations

import pandas as pd

from ..core.checks import warn_missing_event
from ..core.engine import to_pandas, to_table
from ..core.errors import JourneyDataError
from ..core.schema import OUTBOUND_EVENTS, PURCHASE_EVENT


def data_summary(events, *, purchase_event: str = PURCHASE_EVENT) -> pd.DataFrame:
    """Key figures of an event log as a two-column table (``measure``, ``value``).

    Customers, events, date range (UTC), events per customer, purchasers, orders
    and revenue (currency of the ``revenue`` column).

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, event``
        (and ``revenue``, ``channel`` when present).
    purchase_event
        Event name of an order.

    Returns
    -------
    pandas.DataFrame
        ``measure, value`` (values formatted as text for people).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.overview import data_summary
    >>> events = jl.load_dataset("sample").events
    >>> data_summary(events).head(4)
                 measure       value
    0          customers       5,000
    1             events      52,966
    2  first event (UTC)  2024-01-01
    3   last event (UTC)  2025-06-30
    """
    t = to_table(events)
    is_order = t.event == purchase_event
    agg = to_pandas(t.aggregate(
        customers=t.customer_id.nunique(),
        events=t.count(),
        first=t.ts.min(),
        last=t.ts.max(),
        purchasers=t.customer_id.nunique(where=is_order),
        orders=is_order.cast("int64").sum(),
        revenue=t.revenue.sum(where=is_order),  # orders' revenue: views and carts may carry prices too
        channels=t.channel.nunique(),
    )).iloc[0]
    if not agg.orders:
        warn_missing_event(t, purchase_event, "purchase_event", "no purchasers or orders")
    rows = [
        ("customers", f"{int(agg.customers):,}"),
        ("events", f"{int(agg.events):,}"),
        ("first event (UTC)", f"{agg['first']:%Y-%m-%d}"),
        ("last event (UTC)", f"{agg['last']:%Y-%m-%d}"),
        ("days observed", f"{(agg['last'] - agg['first']).days:,}"),
        ("events per customer (mean)", f"{agg.events / agg.customers:.1f}"),
        ("channels", f"{int(agg.channels)}"),
        ("purchasers", f"{int(agg.purchasers):,} ({agg.purchasers / agg.customers:.1%} of customers)"),
        ("orders", f"{int(agg.orders or 0):,}"),
        ("revenue", f"{float(agg.revenue or 0):,.2f}"),
    ]
    return pd.DataFrame(rows, columns=["measure", "value"])


def channel_summary(events, *, exclude_events=OUTBOUND_EVENTS) -> pd.DataFrame:
    """Touches and customers per channel, with shares (events without a channel are left out).

    Parameters
    ----------
    events
        Event log with ``customer_id`` and ``channel`` (and ``event``).
    exclude_events
        Event names that are not touches (default: outbound sends).

    Returns
    -------
    pandas.DataFrame
        ``channel, touches, customers, share_of_touches``, most touches first.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.overview import channel_summary
    >>> events = jl.load_dataset("sample").events
    >>> channel_summary(events).head(2).round(3)
      channel  touches  customers  share_of_touches
    0  search     9665       2875             0.230
    1  social     8458       2736             0.202
    """
    t = to_table(events)
    missing = [c for c in ("customer_id", "event", "channel") if c not in t.columns]
    if missing:
        raise JourneyDataError(f"events: missing column(s) {missing} for the channel summary; found {list(t.columns)}")
    t = t.filter(t.channel.notnull() & ~t.event.isin(list(exclude_events)))
    df = to_pandas(t.group_by("channel").aggregate(touches=t.count(), customers=t.customer_id.nunique()))
    df = df.sort_values("touches", ascending=False, kind="mergesort").reset_index(drop=True)
    df["share_of_touches"] = df["touches"] / df["touches"].sum()
    return df


def monthly_activity(events, *, purchase_event: str = PURCHASE_EVENT) -> pd.DataFrame:
    """Active customers, events and orders per calendar month (UTC).

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event``.
    purchase_event
        Event name of an order.

    Returns
    -------
    pandas.DataFrame
        ``month`` (first day of the month), ``active_customers, events, orders``,
        ``days_observed`` (days of the month from the log's first to its last day) and
        ``partial`` (the log covers only part of the month: an export taken mid-month
        ends in one, and its counts are not comparable with the full months').

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.overview import monthly_activity
    >>> events = jl.load_dataset("sample").events
    >>> monthly_activity(events).head(2)
           month  active_customers  events  orders  days_observed  partial
    0 2024-01-01               276     855      79             31    False
    1 2024-02-01               356    1150     133             29    False
    """
    t = to_table(events)
    m = t.mutate(month=t.ts.truncate("M"))
    df = to_pandas(m.group_by("month").aggregate(
        active_customers=m.customer_id.nunique(), events=m.count(),
        orders=(m.event == purchase_event).cast("int64").sum(), _first=m.ts.min(), _last=m.ts.max()))
    if not df["orders"].any():
        warn_missing_event(t, purchase_event, "purchase_event", "no orders in any month")
    df["month"] = pd.to_datetime(df["month"], utc=True).dt.tz_localize(None)
    df = df.sort_values("month").reset_index(drop=True)
    first = pd.to_datetime(df.pop("_first"), utc=True).min().tz_localize(None).normalize()
    last = pd.to_datetime(df.pop("_last"), utc=True).max().tz_localize(None).normalize()
    month_end = df["month"] + pd.offsets.MonthEnd(0)
    from_day = df["month"].where(df["month"] > first, first)
    to_day = month_end.where(month_end < last, last)
    df["days_observed"] = ((to_day - from_day).dt.days + 1).clip(lower=0).astype("int64")
    df["partial"] = df["days_observed"] < df["month"].dt.days_in_month
    return df

