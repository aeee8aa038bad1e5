"""Customer-hash buckets: run a per-customer query one slice of customers at a time.

Per-customer ordered work (windows over a customer's events, first-reach joins) holds a
whole customer set in the engine at once; at 10^8 events on a 4 GB DuckDB limit that
either spills heavily or, for ordered aggregations and distinct counts that cannot spill,
runs out of memory. Anything computed customer by customer is exact when built per bucket
of ``hash(customer_id) % B`` and then concatenated (or summed, for counts over customers,
distinct counts included). Logs up to :data:`EVENTS_PER_BUCKET` events run as one bucket.
On DuckDB the buckets are written to Parquet once (:func:`bucket_files`), so each bucket's
queries read only its own rows instead of filtering the whole log again. A table stored split
by bucket (:func:`write_parquet`, as a run's shared copy is) is not written again: an analysis
over it, through row-wise selections and filters only, reads the stored buckets.
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import ibis
import ibis.expr.operations as ops
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import engine
from .checks import whole_number

EVENTS_PER_BUCKET = 20_000_000

# Tables stored split by bucket in this process: the table's node -> one table per bucket.
_STORED: dict[ops.Node, list[ibis.Table]] = {}
# What may lie between a stored table and an analysis' input for the stored buckets to be its
# buckets: row-wise steps. An aggregate, window, join or subquery sees other customers' rows.
_ROW_WISE = (ops.Project, ops.Filter, ops.DropColumns, ops.Sort)
_ACROSS_ROWS = (ops.Reduction, ops.Analytic, ops.WindowFunction, ops.Subquery)


def n_buckets(t: ibis.Table) -> int:
    """One bucket per :data:`EVENTS_PER_BUCKET` rows of ``t`` (at least one); for a selection of a
    table stored split by bucket, that table's buckets (so that ``t`` reads them, uncounted).

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
    stored = _stored_buckets(t, None)
    if stored is not None:
        return len(stored)
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
    buckets = _number(t, buckets)
    if buckets == 1:
        return [t]
    key = _key(t, buckets)
    return [t.filter(key == k) for k in range(buckets)]


def _number(t: ibis.Table, buckets: int | None) -> int:
    return n_buckets(t) if buckets is None else whole_number(
        buckets, "partitions", minimum=1,
        expected="a whole number of customer buckets (>= 1) or None (one per 20 million events)")


def _key(t: ibis.Table, buckets: int) -> ibis.Value:
    return t.customer_id.hash().abs() % buckets


@contextmanager
def bucket_files(t: ibis.Table, buckets: int | None = None) -> Iterator[list[ibis.Table]]:
    """:func:`bucket_tables` computed once: on DuckDB ``t`` is written to Parquet split by bucket.

    Filtering the log once per bucket scans all of it once per bucket; written once, each bucket's
    queries read only its own files. The files go to DuckDB's spill folder (``temp_directory``)
    and are removed when the ``with`` block ends. Other engines get :func:`bucket_tables`.

    Parameters
    ----------
    t
        An events table with a ``customer_id`` column.
    buckets
        Number of buckets, or ``None`` for :func:`n_buckets`.

    Returns
    -------
    contextlib.AbstractContextManager
        Yields one table per bucket; every customer's rows are in exactly one.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.buckets import bucket_files
    >>> events = jl.load_dataset("sample").events
    >>> with bucket_files(events, 3) as parts:
    ...     len(parts), sum(p.count().execute() for p in parts) == events.count().execute()
    (3, True)
    """
    stored = _stored_buckets(t, buckets)
    if stored is not None:
        yield stored
        return
    buckets = _number(t, buckets)
    con = t._find_backend(use_default=True)
    if buckets == 1 or con.name != "duckdb":
        yield bucket_tables(t, buckets)
        return
    spill = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0] or None
    if spill:  # DuckDB creates its spill folder only when it first spills
        os.makedirs(spill, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="journeylib-buckets-", dir=spill)
    try:
        con.to_parquet(t.mutate(_bucket=_key(t, buckets)), folder, partition_by="_bucket")
        yield [engine.read_parquet(con, f"{folder}/_bucket={k}/*.parquet").drop("_bucket")
               if glob.glob(f"{folder}/_bucket={k}/*.parquet") else t.limit(0) for k in range(buckets)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_parquet(t: ibis.Table, folder: str | os.PathLike) -> int:
    """Write ``t`` to a folder of Parquet files, split by customer bucket when it is larger than one.

    A table with a ``customer_id`` column and more than :data:`EVENTS_PER_BUCKET` rows is
    written in :func:`n_buckets` sub-folders ``_bucket=k``; anything else as one file per
    DuckDB thread. :func:`read_parquet` reads either back.

    Parameters
    ----------
    t
        A table on DuckDB.
    folder
        The folder to write (created).

    Returns
    -------
    int
        The number of buckets written (1: not split).

    Examples
    --------
    >>> import os, tempfile
    >>> import journeylib as jl
    >>> from journeylib.core import buckets
    >>> folder = tempfile.mkdtemp() + "/events"
    >>> buckets.write_parquet(jl.load_dataset("sample").events, folder), os.path.isdir(folder)
    (1, True)
    """
    con = t._find_backend(use_default=True)
    buckets = n_buckets(t) if "customer_id" in t.columns else 1
    if buckets == 1:  # one file per thread: the write runs in parallel
        con.to_parquet(t, folder, per_thread_output=True)
    else:
        con.to_parquet(t.mutate(_bucket=_key(t, buckets)), folder, partition_by="_bucket")
    return buckets


def read_parquet(con: ibis.BaseBackend, folder: str | os.PathLike, buckets: int,
                 table_name: str | None = None) -> ibis.Table:
    """A table :func:`write_parquet` wrote; its buckets are then what :func:`bucket_files` gives.

    Parameters
    ----------
    con
        The DuckDB connection to read with.
    folder
        The folder :func:`write_parquet` wrote.
    buckets
        What :func:`write_parquet` returned.
    table_name
        Name of the view over the whole table (default: generated).

    Returns
    -------
    ibis.Table
        The whole table, columns as written.

    Examples
    --------
    >>> import ibis, tempfile
    >>> import journeylib as jl
    >>> from journeylib.core import buckets
    >>> events = jl.load_dataset("sample").events
    >>> folder = tempfile.mkdtemp() + "/events"
    >>> n = buckets.write_parquet(events, folder)
    >>> stored = buckets.read_parquet(events._find_backend(use_default=True), folder, n)
    >>> n, stored.count().execute() == events.count().execute()
    (1, True)
    """
    if buckets == 1:
        return engine.read_parquet(con, f"{folder}/*.parquet", table_name=table_name)
    whole = engine.read_parquet(con, f"{folder}/_bucket=*/*.parquet", table_name=table_name).drop("_bucket")
    parts = [engine.read_parquet(con, f"{folder}/_bucket={k}/*.parquet").drop("_bucket")
             if glob.glob(f"{folder}/_bucket={k}/*.parquet") else whole.limit(0) for k in range(buckets)]
    _STORED[whole.op()] = parts
    return whole


def _stored_buckets(t: ibis.Table, buckets: int | None) -> list[ibis.Table] | None:
    """``t``'s buckets from a table stored split by bucket, when ``t`` is row-wise over it."""
    if not _STORED:
        return None
    nodes = set(t.op().find(ops.Node))
    found = [n for n in _STORED if n in nodes]
    if len(found) != 1 or buckets not in (None, len(_STORED[found[0]])):
        return None
    stored = found[0]
    between = nodes - set(stored.find(ops.Node))
    if any(isinstance(n, _ACROSS_ROWS) or isinstance(n, ops.Relation) and not isinstance(n, _ROW_WISE)
           for n in between) or not _same_customers(t.op(), stored):
        return None
    return [t.op().replace({stored: part.op()}).to_expr() for part in _STORED[stored]]


def _same_customers(rel: ops.Relation, stored: ops.Relation) -> bool:
    """Whether ``rel``'s ``customer_id`` is the stored table's column itself: the split is by it."""
    name = "customer_id"
    while rel != stored:
        if isinstance(rel, ops.Project):
            v = rel.values.get(name)
            if not isinstance(v, ops.Field):  # even a cast can merge ids ('01' and '1' as numbers)
                return False
            name, rel = v.name, v.rel
        elif isinstance(rel, _ROW_WISE):
            rel = rel.parent
        else:
            return False
    return name == "customer_id"


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
    with bucket_files(t, buckets) as parts:
        return [_fetched(build(part)) for part in parts]


def _fetched(got: ibis.Table | pd.DataFrame) -> pd.DataFrame:
    return got if isinstance(got, pd.DataFrame) else engine.to_pandas(got)


def concat_sorted(frames: Sequence[pd.DataFrame], by: Sequence[str]) -> pd.DataFrame:
    """Per-bucket frames as one, sorted by the unique key columns ``by``: the same rows in the same order
    whatever the number of buckets.

    Arrow sorts the keys (in C++); pandas compares text ids as Python strings, 16 s for 8.8 million
    journeys. Both order text by code point.

    Parameters
    ----------
    frames
        One frame per bucket, with the same columns.
    by
        Columns whose values identify a row (e.g. ``customer_id`` and ``journey``).

    Returns
    -------
    pandas.DataFrame
        The rows of every frame, sorted by ``by``, with a fresh index.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.buckets import concat_sorted
    >>> concat_sorted([pd.DataFrame({"customer_id": ["b", "a"], "n": [1, 2]}),
    ...                pd.DataFrame({"customer_id": ["c"], "n": [3]})], ["customer_id"])
      customer_id  n
    0           a  2
    1           b  1
    2           c  3
    """
    out = pd.concat(frames, ignore_index=True)
    if len(out) < 2:
        return out
    keys = pa.table({f"k{i}": pa.array(out[c]) for i, c in enumerate(by)})
    order = pc.sort_indices(keys, sort_keys=[(f"k{i}", "ascending") for i in range(len(by))])
    return out.take(order.to_numpy()).reset_index(drop=True)


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
    return summed_frames(per_bucket(t, build, buckets), by, cols)


def summed_windowed(t: ibis.Table, build: Callable[[ibis.Table, bool], ibis.Table | pd.DataFrame],
                    by: str | Sequence[str], cols: Sequence[str]) -> pd.DataFrame:
    """:func:`summed_per_bucket` for a build whose one per-customer step is :func:`engine.shift_within`.

    Such a window needs no buckets: partitioned by customer, DuckDB spills it partition by
    partition. A table stored split by bucket is run per stored bucket (read, not written); any
    other as one query, ``build(t, large)`` with ``large`` true above one bucket of rows, where
    writing the bucket files would cost more than the window (10^8 events: 23 s of transitions'
    41 s, against 20 s for the whole log's partitioned window).

    Parameters
    ----------
    t
        An events table with a ``customer_id`` column.
    build
        Function of (events, large) to an aggregate; it passes ``large`` to
        :func:`engine.shift_within`.
    by
        Key column(s) of the aggregate.
    cols
        Columns summed over stored buckets.

    Returns
    -------
    pandas.DataFrame
        ``by`` and ``cols``, one row per key.

    Examples
    --------
    >>> import ibis
    >>> import journeylib as jl
    >>> from journeylib.core import engine
    >>> from journeylib.core.buckets import summed_windowed
    >>> events = jl.load_dataset("sample").events
    >>> def repeats(e, large):  # events right after one of the same name, by name
    ...     e = engine.shift_within(e, "customer_id", [e.ts, e.event], large=large, prev=e.event)
    ...     return e.filter(e.prev == e.event).group_by("event").agg(n=ibis._.count())
    >>> int(summed_windowed(events, repeats, "event", ["n"]).set_index("event").loc["purchase", "n"])
    2463
    """
    stored = _stored_buckets(t, None)
    parts = [(p, False) for p in stored] if stored is not None else [(t, n_buckets(t) > 1)]
    return summed_frames([_fetched(build(part, large)) for part, large in parts], by, cols)


def summed_frames(frames: Sequence[pd.DataFrame], by: str | Sequence[str],
                  cols: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-bucket aggregates added up: ``cols`` (default: every column not in ``by``) summed ``by``.

    Missing keys in ``by`` form their own group, as in the engine's ``GROUP BY``; a single
    frame is returned as it is.

    Parameters
    ----------
    frames
        One aggregate per customer bucket, with the same columns.
    by
        Key column(s).
    cols
        Columns to sum.

    Returns
    -------
    pandas.DataFrame
        ``by`` and ``cols``, one row per key.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.buckets import summed_frames
    >>> a = pd.DataFrame({"stage": ["cart", None], "n": [2, 1]})
    >>> b = pd.DataFrame({"stage": ["cart"], "n": [3]})
    >>> summed_frames([a, b], "stage").to_dict("list")
    {'stage': ['cart', None], 'n': [5, 1]}
    """
    if len(frames) == 1:
        return frames[0]
    by = [by] if isinstance(by, str) else list(by)
    cols = [c for c in frames[0].columns if c not in by] if cols is None else list(cols)
    out = pd.concat(frames, ignore_index=True).groupby(by, as_index=False, sort=False, dropna=False)[cols].sum()
    for k in by:  # a missing text key reads as None, as in a single bucket's frame
        if out[k].dtype == object:
            out[k] = out[k].astype(object).where(out[k].notna(), None)
    return out
