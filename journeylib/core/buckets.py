"""Customer-hash buckets: run a per-customer query one slice of customers at a time.

Per-customer ordered work (windows over a customer's events, first-reach joins) holds a
whole customer set in the engine at once; at 10^8 events on a 4 GB DuckDB limit that
either spills heavily or, for ordered aggregations that cannot spill, runs out of
memory. Anything computed customer by customer is exact when built per bucket of
``hash(customer_id) % B`` and then concatenated (or summed, for aggregates additive
over customers). Logs up to :data:`EVENTS_PER_BUCKET` events run as one bucket.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import pandas as pd

from . import engine
from .checks import whole_number

EVENTS_PER_BUCKET = 20_000_000


def n_buckets(t: ibis.Table) -> int:
    """One bucket per :data:`EVENTS_PER_BUCKET` rows of ``t`` (at least one).

    Parameters
    ----------
    t
        An events table with a ``customer_id`` column.

    Returns
    -------
    int
        The number of customer buckets to run ``t`` in.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.buckets import n_buckets
    >>> n_buckets(jl.load_dataset("sample").events)
    1
    """
    return max(1, -(-int(t.count().execute()) // EVENTS_PER_BUCKET))


def bucket_tables(t: ibis.Table, buckets: int | None = None) -> list[ibis.Table]:
    """``t`` split by customer hash into ``buckets`` tables (``None``: :func:`n_buckets`).

    Parameters
    ----------
    t
        An events table with a ``customer_id`` column.
    buckets
        Number of buckets (a whole number >= 1), or ``None`` for :func:`n_buckets`.

    Returns
    -------
    list of ibis.Table
        One filtered table per bucket; every customer's events are in exactly one.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.buckets import bucket_tables
    >>> events = jl.load_dataset("sample").events
    >>> parts = bucket_tables(events, 3)
    >>> len(parts), sum(p.count().execute() for p in parts) == events.count().execute()
    (3, True)
    """
    buckets = n_buckets(t) if buckets is None else whole_number(
        buckets, "partitions", minimum=1,
        expected="a whole number of customer buckets (>= 1) or None (one per 20 million events)")
    if buckets == 1:
        return [t]
    key = t.customer_id.hash().abs() % buckets
    return [t.filter(key == k) for k in range(buckets)]


def per_bucket(t: ibis.Table, build: Callable[[ibis.Table], ibis.Table | pd.DataFrame],
               buckets: int | None = None) -> list[pd.DataFrame]:
    """``build(events)`` fetched to pandas once per customer bucket of ``t`` (a DataFrame is kept as is).

    Parameters
    ----------
    t
        An events table with a ``customer_id`` column.
    build
        Function from one bucket's events to an ibis table or a DataFrame.
    buckets
        Number of buckets, or ``None`` for :func:`n_buckets`.

    Returns
    -------
    list of pandas.DataFrame
        One frame per bucket, in bucket order.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.buckets import per_bucket
    >>> events = jl.load_dataset("sample").events
    >>> frames = per_bucket(events, lambda e: e.agg(customers=e.customer_id.nunique()), buckets=2)
    >>> len(frames), sum(int(f["customers"].iloc[0]) for f in frames) == events.customer_id.nunique().execute()
    (2, True)
    """
    out = []
    for part in bucket_tables(t, buckets):
        got = build(part)
        out.append(got if isinstance(got, pd.DataFrame) else engine.to_pandas(got))
    return out


def summed_per_bucket(t: ibis.Table, build: Callable[[ibis.Table], ibis.Table | pd.DataFrame], by: str | Sequence[str],
                      cols: Sequence[str], buckets: int | None = None) -> pd.DataFrame:
    """:func:`per_bucket` for an aggregate additive over customers: ``cols`` summed ``by``.

    Missing keys in ``by`` form their own group, as in the engine's ``GROUP BY``.

    Parameters
    ----------
    t
        An events table with a ``customer_id`` column.
    build
        Function from one bucket's events to an aggregate (ibis table or DataFrame).
    by
        Key column(s) of the aggregate.
    cols
        Columns summed over the buckets.
    buckets
        Number of buckets, or ``None`` for :func:`n_buckets`.

    Returns
    -------
    pandas.DataFrame
        ``by`` and ``cols``, one row per key (a single bucket's frame as built).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.buckets import summed_per_bucket
    >>> events = jl.load_dataset("sample").events
    >>> counts = summed_per_bucket(events, lambda e: e.group_by("event").agg(n=e.count()),
    ...                            "event", ["n"], buckets=2)
    >>> int(counts.set_index("event").loc["purchase", "n"])
    9697
    """
    parts = per_bucket(t, build, buckets)
    if len(parts) == 1:
        return parts[0]
    return (pd.concat(parts, ignore_index=True)
            .groupby(by, as_index=False, sort=False, dropna=False)[list(cols)].sum())
