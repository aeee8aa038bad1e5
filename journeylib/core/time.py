"""Time in one place: epoch microseconds, day numbers, UTC parsing and the observation end.

Every analysis measures time the same way:

* **In the engine**, timestamps become integer microseconds since 1970-01-01 UTC
  (:func:`epoch_us`): exact and equal on DuckDB and Spark, and cheap (no time-zone
  calendar). Day numbers (:func:`day_number`) are whole UTC days since 1970.
* **In pandas**, every timestamp is a UTC ``pd.Timestamp`` (:func:`to_utc`,
  :func:`series_to_utc`); durations are in days (:data:`DAY_SECONDS`).
* **The observation end** (:func:`observation_end`) is, unless given, the last
  timestamp in the whole event log, outbound events included (they show that the log
  was still being recorded). Events at or before it count. Analyses that work in whole
  days (cohorts, RFM, CLV, the loyalty windows) count up to the end of that day
  (:func:`end_of_day`), so a log that ends at 18:00 still has a complete last day.
"""
from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from . import engine
from .errors import JourneyDataError, JourneyParameterError

DAY_SECONDS = 86_400
DAY_US = DAY_SECONDS * 1_000_000


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(x: dt.Timestamp(timezone="UTC")) -> dt.int64:  # pragma: no cover - SQL builtin
    """DuckDB's ``epoch_us``."""


@ibis.udf.scalar.builtin(name="unix_micros")
def _spark_unix_micros(x: dt.Timestamp(timezone="UTC")) -> dt.int64:  # pragma: no cover - SQL builtin
    """Spark SQL's ``unix_micros`` (Spark >= 3.1)."""


def _backend_name(x: ibis.Expr) -> str:
    try:
        return x._find_backend(use_default=True).name
    except Exception:  # noqa: BLE001 - unbound or unknown backend: stay portable
        return ""


def epoch_us(t: ibis.Table | ibis.Value, col: str = "ts") -> ibis.Value:
    """Microseconds since 1970-01-01 UTC of a timestamp column (``t[col]``, or ``t`` itself).

    Ibis' portable ``epoch_seconds`` *rounds* to whole seconds on DuckDB (through the
    time-zone library, slowly) and *truncates* on Spark (``unix_timestamp``), so
    sub-second timestamps would order and subtract differently. DuckDB's ``epoch_us``
    and Spark's ``unix_micros`` are exact (and fast); other backends fall back to whole
    seconds.

    Parameters
    ----------
    t
        An Ibis table (then ``t[col]`` is converted) or an Ibis timestamp value.
    col
        The timestamp column when ``t`` is a table.

    Returns
    -------
    ibis.Value
        An int64 expression: microseconds since the epoch.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.time import epoch_us
    >>> events = jl.load_dataset("sample").events
    >>> events.select(us=epoch_us(events)).us.min().to_pyarrow().as_py()
    1704091716000000
    """
    v = t[col] if isinstance(t, ibis.Table) else t
    name = _backend_name(v)
    if name == "duckdb":
        return _duckdb_epoch_us(v.cast(dt.Timestamp(timezone="UTC")))
    if name == "pyspark":
        return _spark_unix_micros(v.cast(dt.Timestamp(timezone="UTC")))
    return v.epoch_seconds().cast("int64") * 1_000_000


def day_number(ts: ibis.Value) -> ibis.Value:
    """Whole UTC days since 1970-01-01 of a timestamp value, as an integer.

    Parameters
    ----------
    ts
        An Ibis timestamp value (a column such as ``events.ts``).

    Returns
    -------
    ibis.Value
        An int64 expression: ``epoch_us(ts) // DAY_US``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.time import day_number
    >>> events = jl.load_dataset("sample").events
    >>> day_number(events.ts).min().to_pyarrow().as_py()  # 2024-01-01
    19723
    """
    return epoch_us(ts) // DAY_US


def month_number(ts: ibis.Value) -> ibis.Value:
    """UTC month index ``year * 12 + month - 1``.

    DuckDB: year and month of ``make_timestamp(epoch_us(ts))``, a plain TIMESTAMP holding
    the UTC wall clock, so no ICU time-zone calendar runs (extracting from the
    TIMESTAMPTZ itself costs about 10x the scan). Other engines (Spark with its session
    time zone set to UTC by :func:`journeylib.connect`): ``year()`` and ``month()``.

    Parameters
    ----------
    ts
        An Ibis timestamp value (a column such as ``events.ts``).

    Returns
    -------
    ibis.Value
        An int64 expression; consecutive months differ by 1.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.time import month_number
    >>> events = jl.load_dataset("sample").events
    >>> m = month_number(events.ts).min().to_pyarrow().as_py()  # January 2024
    >>> m, divmod(m, 12)
    (24288, (2024, 0))
    """
    if _backend_name(ts) == "duckdb" and ts.type().is_timestamp() and ts.type().timezone is not None:
        ts = engine.from_epoch_micros(epoch_us(ts))
    return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1


def to_utc(value: Any, name: str = "observation_end") -> pd.Timestamp:
    """A date/time parameter as a UTC timestamp (naive values are taken as UTC).

    Parameters
    ----------
    value
        Anything ``pd.Timestamp`` reads: ``"2025-06-30"``, a ``datetime``, a Timestamp.
    name
        The parameter's name, used in the error message.

    Returns
    -------
    pd.Timestamp
        The time in UTC.

    Raises
    ------
    JourneyParameterError
        When ``value`` is not a date/time.

    Examples
    --------
    >>> from journeylib.core.time import to_utc
    >>> to_utc("2025-06-30")
    Timestamp('2025-06-30 00:00:00+0000', tz='UTC')
    >>> to_utc("2025-06-30 12:00+02:00")
    Timestamp('2025-06-30 10:00:00+0000', tz='UTC')
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise JourneyParameterError(f"{name}={value!r}; expected a date/time such as '2025-06-30'") from exc
    if ts is pd.NaT:
        raise JourneyParameterError(f"{name}={value!r}; expected a date/time such as '2025-06-30'")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def series_to_utc(s: pd.Series) -> pd.Series:
    """A column of timestamps as UTC (naive values are taken as UTC).

    Parameters
    ----------
    s
        A Series of timestamps or of text ``pd.to_datetime`` reads.

    Returns
    -------
    pd.Series
        Timestamps with time zone UTC.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.time import series_to_utc
    >>> series_to_utc(pd.Series(["2025-01-01 10:00", "2025-01-02 00:00"])).tolist()
    [Timestamp('2025-01-01 10:00:00+0000', tz='UTC'), Timestamp('2025-01-02 00:00:00+0000', tz='UTC')]
    """
    s = pd.to_datetime(s)
    return s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")


def from_epoch_us(values: Any) -> Any:
    """Epoch microseconds (a number or a Series) back to UTC timestamps.

    Parameters
    ----------
    values
        An integer, or a Series of integers, of microseconds since 1970-01-01 UTC.

    Returns
    -------
    pd.Timestamp or pd.Series
        A UTC Timestamp for a number, a Series of them for a Series.

    Examples
    --------
    >>> from journeylib.core.time import from_epoch_us
    >>> from_epoch_us(1_735_689_600_000_000)
    Timestamp('2025-01-01 00:00:00+0000', tz='UTC')
    """
    if isinstance(values, pd.Series):
        return pd.to_datetime(values.astype("int64"), unit="us", utc=True)
    return pd.Timestamp(int(values), unit="us", tz="UTC")


def utc_literal(ts: pd.Timestamp) -> ibis.Value:
    """A UTC timestamp as an engine literal, to compare with ``ts`` columns.

    Parameters
    ----------
    ts
        A UTC ``pd.Timestamp`` (see :func:`to_utc`).

    Returns
    -------
    ibis.Value
        A ``timestamp('UTC')`` literal.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.time import to_utc, utc_literal
    >>> events = jl.load_dataset("sample").events
    >>> events.filter(events.ts <= utc_literal(to_utc("2024-02-01"))).count().to_pyarrow().as_py()
    855
    """
    return ibis.literal(ts.to_pydatetime(), type="timestamp('UTC')")


def to_epoch_us(ts: pd.Timestamp) -> int:
    """Epoch microseconds of a UTC timestamp.

    Parameters
    ----------
    ts
        A time-zone aware ``pd.Timestamp``.

    Returns
    -------
    int
        Microseconds since 1970-01-01 UTC (the inverse of :func:`from_epoch_us`).

    Examples
    --------
    >>> from journeylib.core.time import to_epoch_us, to_utc
    >>> to_epoch_us(to_utc("2025-01-01"))
    1735689600000000
    """
    return int(ts.value // 1_000)


def observation_end(events: Any, given: Any = None) -> pd.Timestamp:
    """The end of observation: ``given``, or the last timestamp in the whole event log.

    Events at or before it count. The maximum is taken first and converted after, so
    only one value is converted (one pass over the ``ts`` column; DuckDB does not answer
    it from the Parquet files' statistics).

    Parameters
    ----------
    events
        The event log (an Ibis table, a DataFrame or a path) with a ``ts`` column.
    given
        An explicit end (anything :func:`to_utc` reads); ``None`` or blank text means
        "the last timestamp of the log".

    Returns
    -------
    pd.Timestamp
        The end of observation in UTC.

    Raises
    ------
    JourneyDataError
        When the log has no ``ts`` column or no events.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core.time import observation_end
    >>> events = jl.load_dataset("sample").events
    >>> observation_end(events)
    Timestamp('2025-06-30 23:41:27+0000', tz='UTC')
    >>> observation_end(events, "2024-12-31")
    Timestamp('2024-12-31 00:00:00+0000', tz='UTC')
    """
    if given is not None and not (isinstance(given, str) and not given.strip()):
        return to_utc(given, "observation_end")
    t = engine.to_table(events)
    if "ts" not in t.columns:
        raise JourneyDataError(f"events: no 'ts' column; found {list(t.columns)}")
    last = t.aggregate(last_ts=t.ts.max())
    value = engine.to_pandas(last.select(v=epoch_us(last, "last_ts")))["v"].iloc[0]
    if value is None or pd.isna(value):
        raise JourneyDataError("events: the table is empty; expected at least one event with a timestamp")
    return from_epoch_us(value)


CURVE_STEPS_PER_DAY = 24


def curve_grid(longest_days: float) -> np.ndarray:
    """Where a survival curve over waits of up to ``longest_days`` is read: every hour from 0.

    One row per distinct wait would be one row per customer (or cart) on a large log; read
    every hour, a curve over two years has 17,521 points whatever the number of customers,
    each the curve's exact value at that time.

    Parameters
    ----------
    longest_days
        The longest wait (days, >= 0).

    Returns
    -------
    numpy.ndarray
        ``0, 1/24, 2/24, ...`` up to the first hour at or after ``longest_days``.

    Examples
    --------
    >>> from journeylib.core.time import curve_grid
    >>> g = curve_grid(1.01)
    >>> len(g), float(g[24]), float(g[-1])
    (26, 1.0, 1.0416666666666667)
    """
    return np.arange(np.ceil(max(float(longest_days), 0.0) * CURVE_STEPS_PER_DAY) + 1) / CURVE_STEPS_PER_DAY


def end_of_day(ts: pd.Timestamp) -> pd.Timestamp:
    """Midnight after ``ts`` (UTC): where analyses in whole days stop counting.

    Parameters
    ----------
    ts
        A timestamp (anything :func:`to_utc` reads).

    Returns
    -------
    pd.Timestamp
        The start of the next UTC day.

    Examples
    --------
    >>> from journeylib.core.time import end_of_day
    >>> end_of_day("2025-06-30 18:00")
    Timestamp('2025-07-01 00:00:00+0000', tz='UTC')
    """
    ts = to_utc(ts)
    return ts.floor("D") + pd.Timedelta(days=1)
