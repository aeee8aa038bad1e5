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


@ibis.udf.scalar.builtin(name="make_timestamp")
def _duckdb_make_timestamp(us: dt.int64) -> dt.Timestamp(timezone=None):  # pragma: no cover - SQL builtin
    """DuckDB's ``make_timestamp(microseconds)``: a plain (UTC wall-clock) TIMESTAMP."""


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
    """
    v = t[col] if isinstance(t, ibis.Table) else t
    name = _backend_name(v)
    if name == "duckdb":
        return _duckdb_epoch_us(v.cast(dt.Timestamp(timezone="UTC")))
    if name == "pyspark":
        return _spark_unix_micros(v.cast(dt.Timestamp(timezone="UTC")))
    return v.epoch_seconds().cast("int64") * 1_000_000


def day_number(ts: ibis.Value) -> ibis.Value:
    """Whole UTC days since 1970-01-01 of a timestamp value, as an integer."""
    return epoch_us(ts) // DAY_US


def month_number(ts: ibis.Value) -> ibis.Value:
    """UTC month index ``year * 12 + month - 1``.

    DuckDB: year and month of ``make_timestamp(epoch_us(ts))``, a plain TIMESTAMP holding
    the UTC wall clock, so no ICU time-zone calendar runs (extracting from the
    TIMESTAMPTZ itself costs about 10x the scan). Other engines (Spark with its session
    time zone set to UTC by :func:`journeylib.connect`): ``year()`` and ``month()``.
    """
    if _backend_name(ts) == "duckdb" and ts.type().is_timestamp() and ts.type().timezone is not None:
        ts = _duckdb_make_timestamp(epoch_us(ts))
    return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1


def to_utc(value: Any, name: str = "observation_end") -> pd.Timestamp:
    """A date/time parameter as a UTC timestamp (naive values are taken as UTC)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise JourneyParameterError(f"{name}={value!r}; expected a date/time such as '2025-06-30'") from exc
    if ts is pd.NaT:
        raise JourneyParameterError(f"{name}={value!r}; expected a date/time such as '2025-06-30'")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def series_to_utc(s: pd.Series) -> pd.Series:
    """A column of timestamps as UTC (naive values are taken as UTC)."""
    s = pd.to_datetime(s)
    return s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")


def from_epoch_us(values: Any) -> Any:
    """Epoch microseconds (a number or a Series) back to UTC timestamps."""
    if isinstance(values, pd.Series):
        return pd.to_datetime(values.astype("int64"), unit="us", utc=True)
    return pd.Timestamp(int(values), unit="us", tz="UTC")


def utc_literal(ts: pd.Timestamp) -> ibis.Value:
    """A UTC timestamp as an engine literal, to compare with ``ts`` columns."""
    return ibis.literal(ts.to_pydatetime(), type="timestamp('UTC')")


def to_epoch_us(ts: pd.Timestamp) -> int:
    """Epoch microseconds of a UTC timestamp."""
    return int(ts.value // 1_000)


def observation_end(events: Any, given: Any = None) -> pd.Timestamp:
    """The end of observation: ``given``, or the last timestamp in the whole event log.

    Events at or before it count. The maximum is taken first and converted after:
    DuckDB answers ``max(ts)`` of a Parquet scan from the file's statistics, while
    converting every row first costs a scan.
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


def end_of_day(ts: pd.Timestamp) -> pd.Timestamp:
    """Midnight after ``ts`` (UTC): where analyses in whole days stop counting."""
    ts = to_utc(ts)
    return ts.floor("D") + pd.Timedelta(days=1)
