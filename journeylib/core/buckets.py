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
    """One bucket per :data:`EVENTS_PER_BUCKET` rows of ``t`` (at least one)."""
    return max(1, -(-int(t.count().execute()) // EVENTS_PER_BUCKET))


def bucket_tables(t: ibis.Table, buckets: int | None = None) -> list[ibis.Table]:
    """``t`` split by customer hash into ``buckets`` tables (``None``: :func:`n_buckets`)."""
    buckets = n_buckets(t) if buckets is None else whole_number(
        buckets, "partitions", minimum=1,
        expected="a whole number of customer buckets (>= 1) or None (one per 20 million events)")
    if buckets == 1:
        return [t]
    key = t.customer_id.hash().abs() % buckets
    return [t.filter(key == k) for k in range(buckets)]


def per_bucket(t: ibis.Table, build: Callable[[ibis.Table], ibis.Table | pd.DataFrame],
               buckets: int | None = None) -> list[pd.DataFrame]:
    """``build(events)`` fetched to pandas once per customer bucket of ``t`` (a DataFrame is kept as is)."""
    out = []
    for part in bucket_tables(t, buckets):
        got = build(part)
        out.append(got if isinstance(got, pd.DataFrame) else engine.to_pandas(got))
    return out


def summed_per_bucket(t: ibis.Table, build: Callable[[ibis.Table], ibis.Table | pd.DataFrame], by: str | Sequence[str],
                      cols: Sequence[str], buckets: int | None = None) -> pd.DataFrame:
    """:func:`per_bucket` for an aggregate additive over customers: ``cols`` summed ``by``.

    Missing keys in ``by`` form their own group, as in the engine's ``GROUP BY``.
    """
    parts = per_bucket(t, build, buckets)
    if len(parts) == 1:
        return parts[0]
    return (pd.concat(parts, ignore_index=True)
            .groupby(by, as_index=False, sort=False, dropna=False)[list(cols)].sum())
