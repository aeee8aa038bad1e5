"""Where the engine half runs: an Ibis connection, DuckDB by default.

Every analysis scans the event log with Ibis expressions and brings back only a
small aggregate with :func:`to_pandas`. A pandas DataFrame is accepted anywhere a
table is; it becomes an in-memory table (``ibis.memtable``) of the same engine.
"""
from __future__ import annotations

import atexit
import csv
import datetime
import ctypes
import ctypes.util
import glob
import gzip
import os
import re
import shutil
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from . import shared_results
from .errors import JourneyDataError, JourneyMemoryError, JourneyParameterError, data_error
from .schema import COMMA_AMOUNT, CURRENCY_AMOUNT, GROUP_SPACES, SPACED_THOUSANDS, THOUSANDS_COMMA

_DEFAULT: ibis.BaseBackend | None = None

TableLike = "pd.DataFrame | ibis.Table | str | Path"


def connect(target: Any = None, *, threads: int | None = None,
            memory_limit: str | None = None, temp_directory: str | None = None) -> ibis.BaseBackend:
    """Return an Ibis connection and make it the default for journeylib.

    Parameters
    ----------
    target
        ``None`` or ``"duckdb"``: an embedded in-memory DuckDB (the default).
        A path ending in ``.duckdb``/``.db``: a DuckDB database file. Any other value is a
        :class:`JourneyParameterError` (see :func:`engine_kind`), not a new file.
        ``"spark"`` (a local SparkSession), a Spark master URL (``"spark://host:7077"``,
        ``"local[4]"``, ``"yarn"``) or an existing ``SparkSession``: Ibis' PySpark backend.
        An existing Ibis connection (any backend Ibis supports) is used as is.
    threads, memory_limit, temp_directory
        DuckDB knobs for out-of-core work (e.g. ``memory_limit="4GB"``,
        ``temp_directory="/scratch"`` where DuckDB spills, in a folder of this process's own
        that is removed at exit; default: the system's temporary folder). When not given, the
        environment variables ``JOURNEYLIB_DUCKDB_THREADS``, ``JOURNEYLIB_DUCKDB_MEMORY_LIMIT``
        and ``JOURNEYLIB_DUCKDB_TEMP_DIRECTORY`` are used (handy for scheduled notebook runs).

    Returns
    -------
    ibis.BaseBackend
        The connection, now the default of every journeylib call without ``con``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core import engine
    >>> before = engine.default_connection()
    >>> con = jl.connect(threads=2)
    >>> con.name
    'duckdb'
    >>> jl.connect(before) is before  # back to the previous default
    True
    """
    global _DEFAULT
    if isinstance(target, ibis.BaseBackend):
        con = target
    elif type(target).__name__ == "SparkSession":
        con = _spark(target)
    elif engine_kind(target) == "spark":
        con = _spark(target)
    elif engine_kind(target) == "duckdb":
        path = ":memory:" if target in (None, "duckdb") else str(target)
        con = ibis.duckdb.connect(path)
        # Timestamps are compared and truncated in UTC whatever the machine's zone.
        con.raw_sql("SET TimeZone='UTC'")
        # Scheduled runs (notebooks take only an engine name) set the knobs from the environment.
        threads = threads or os.environ.get("JOURNEYLIB_DUCKDB_THREADS")
        memory_limit = memory_limit or os.environ.get("JOURNEYLIB_DUCKDB_MEMORY_LIMIT")
        temp_directory = temp_directory or os.environ.get("JOURNEYLIB_DUCKDB_TEMP_DIRECTORY")
        if threads:
            con.raw_sql(f"SET threads={int(threads)}")
        if memory_limit:
            con.raw_sql(f"SET memory_limit='{memory_limit}'")
        if temp_directory or path == ":memory:":
            # A folder of its own: DuckDB names its spill files the same in every process, so
            # two notebooks of one run-all spilling into one folder overwrote each other's
            # blocks (DuckDB crashed in both at 10^8 events). Removed when the process exits.
            own = tempfile.mkdtemp(prefix="journeylib-duckdb-", dir=temp_directory or None)
            atexit.register(shutil.rmtree, own, ignore_errors=True)
            con.raw_sql(f"SET temp_directory='{own}'")
    else:
        engine_kind(target, strict=True)  # raises, saying what was expected
    _DEFAULT = con
    ibis.set_backend(con)
    return con


ENGINE_CHOICES = ("'duckdb' (or ':memory:'), a DuckDB database file ending .duckdb or .db, 'spark', "
                  "a Spark master URL (spark://host:7077, local[4], yarn, k8s://...), a SparkSession "
                  "or an Ibis connection")
_SPARK_MASTER = re.compile(r"^(spark://|k8s://|mesos://)\S+$|^local(\[(\d+|\*)(,\s*\d+)?\])?$|^yarn$")


def engine_kind(target: Any, *, strict: bool = False) -> str | None:
    """``"duckdb"``, ``"spark"`` or ``"ibis"`` (an existing connection) for a valid engine value.

    Anything else (a typo such as ``"duckbd"``, which used to create a stray DuckDB file of
    that name) is ``None``, or with ``strict`` a :class:`JourneyParameterError` saying what
    was expected.

    Parameters
    ----------
    target
        An engine value as :func:`connect` takes it.
    strict
        Raise instead of returning ``None``.

    Returns
    -------
    str or None
        ``"duckdb"``, ``"spark"``, ``"ibis"`` or ``None``.

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.engine_kind("duckdb"), engine.engine_kind("local[4]"), engine.engine_kind("duckbd")
    ('duckdb', 'spark', None)
    """
    if isinstance(target, ibis.BaseBackend):
        return "ibis"
    if type(target).__name__ == "SparkSession":
        return "spark"
    if target is None or (isinstance(target, str) and target in ("duckdb", ":memory:")):
        return "duckdb"
    if isinstance(target, str) and (target == "spark" or _SPARK_MASTER.match(target)):
        return "spark"
    if isinstance(target, (str, Path)) and Path(str(target)).suffix.lower() in (".duckdb", ".db"):
        return "duckdb"
    if strict:
        raise JourneyParameterError(f"engine={str(target)!r} is not an engine journeylib knows; expected "
                                    f"{ENGINE_CHOICES}")
    return None


ENGINE_LOG_VAR = "JOURNEYLIB_ENGINE_LOG"
"""Environment variable naming the file that receives the engine's own output (the report runner
sets it to ``<run folder>/engine.log``): a Spark session started with it set writes its JVM's
stdout and stderr (log lines, warnings) there, never into a notebook or report."""


@contextmanager
def _engine_output(path: str | None) -> Iterator[None]:
    """While the block runs, file descriptors 1 and 2 point at ``path`` (appended to), so a
    process started in it (Spark's JVM) writes there for its whole life; restored afterwards.
    Nothing changes without ``path`` or when it cannot be opened."""
    import sys

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if path else None
    except OSError:
        fd = None
    if fd is None:
        yield
        return
    saved = [os.dup(1), os.dup(2)]
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):  # a closed or replaced stream
                pass
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)


def _spark(target: Any) -> ibis.BaseBackend:
    """An Ibis PySpark connection; a new local session logs quietly: no console progress bars, its
    JVM's output in the file named by :data:`ENGINE_LOG_VAR` when set, only errors once started."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise JourneyParameterError(
            "the Spark engine needs pyspark: pip install 'journeylib[spark]' (and Java 17)"
        ) from None
    import logging

    logging.getLogger("py4j").setLevel(logging.ERROR)  # py4j's connection chatter is no analysis output
    if isinstance(target, str):
        master = "local[2]" if target == "spark" else target
        log_file = os.environ.get(ENGINE_LOG_VAR) or None
        builder = SparkSession.builder.master(master)
        if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
            # a local session's Python workers (a small table handed to Spark) need this Python's packages,
            # not whatever python3 comes first on PATH
            builder = builder.config("spark.pyspark.python", sys.executable)
        with _engine_output(log_file):
            session = (builder.appName("journeylib")
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.shuffle.partitions", "8")
                       .getOrCreate())
        # warnings stay in the engine log when there is one; an interactive session shows only errors
        session.sparkContext.setLogLevel("WARN" if log_file else "ERROR")
    else:
        session = target
        session.conf.set("spark.sql.session.timeZone", "UTC")
    return ibis.pyspark.connect(session)


def default_connection() -> ibis.BaseBackend:
    """The connection used when none is given (created on first use).

    Returns
    -------
    ibis.BaseBackend
        The last connection made by :func:`connect`, else a new in-memory DuckDB.

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.default_connection().name
    'duckdb'
    """
    return _DEFAULT if _DEFAULT is not None else connect()


def to_table(source: Any, con: ibis.BaseBackend | None = None, *, table: str = "events",
             raw: bool = False) -> ibis.Table:
    """Turn a DataFrame, an Ibis table or a CSV/Parquet path (or glob) into an Ibis table.

    The source is never modified: a DataFrame is wrapped, files are only read. CSV files
    are read with every column as text (types are declared, never sniffed from the first
    rows). Unless ``raw``, the columns of the canonical ``table`` (``events``,
    ``customers``, ``assignments``) get their declared types as every analysis expects
    them (:func:`typed`): ids as text, text timestamps parsed with one format for the whole
    column, text revenue as numbers; a DataFrame, a file or a table whose columns needed
    converting is also checked for null ids, blank event names, unparseable timestamps and
    negative revenue (:class:`JourneyDataError` naming the column and the values).
    ``raw=True`` returns the table as read (what the loaders validate themselves).

    Parameters
    ----------
    source
        A pandas DataFrame, an Ibis table, or a CSV/Parquet path, glob, folder or URI.
    con
        Connection that reads files (default: :func:`default_connection`).
    table
        Canonical table whose declared types apply: ``"events"``, ``"customers"`` or
        ``"assignments"`` (another name: no typing).
    raw
        Return the table as read, without typing or checks.

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> import pandas as pd
    >>> import journeylib as jl
    >>> t = jl.to_table(pd.DataFrame({"customer_id": [1, 2], "event": ["landing", "purchase"],
    ...                               "ts": ["2024-05-01 10:00:00", "2024-05-02 11:30:00"]}))
    >>> str(t.ts.type())
    "timestamp('UTC')"
    >>> jl.to_pandas(t)["customer_id"].tolist()
    ['1', '2']
    """
    if isinstance(source, ibis.Table):
        return source if raw else typed(source, table, check=False)
    con = con or default_connection()
    if isinstance(source, pd.DataFrame):
        # Object columns holding mixed types cannot go to Arrow; send them as text
        # and let validation parse them (and report what does not parse).
        df = source
        bad = [c for c in df.columns if df[c].dtype == object and not _is_plain_text(df[c])]
        if bad:
            df = df.copy()
            for c in bad:
                df[c] = df[c].map(lambda v: None if _isna(v) else str(v))
        # The engines keep microseconds; Arrow refuses to drop a nanosecond part, so it is cut here.
        fine = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c]) and (df[c].dt.nanosecond != 0).any()]
        if fine:
            df = df.copy() if df is source else df
            for c in fine:
                df[c] = df[c].dt.floor("us")
        # pandas' nullable columns (Int64, boolean, Float64) reach Spark as all-null: sent as Python
        # values with None for the missing ones, under their declared type, both engines read them alike
        nullable = {c: ibis.dtype(df[c].dtype) for c in df.columns
                    if isinstance(df[c].dtype, pd.api.extensions.ExtensionDtype)
                    and df[c].dtype.kind in "iufb" and df[c].isna().any()}
        if nullable:
            df = df.copy() if df is source else df
            for c in nullable:
                df[c] = df[c].astype(object).where(df[c].notna(), None)
        t = ibis.memtable(df, schema={**ibis.memtable(df.head(0)).schema(), **nullable}) if nullable else ibis.memtable(df)
        # An object column without a single value (an empty frame) has no type; DuckDB
        # cannot make a table of it. Declared as text, the values stay as they are.
        if any(typ.is_null() for typ in t.schema().types):
            t = ibis.memtable(df, schema=ibis.schema({n: "string" if typ.is_null() else typ
                                                      for n, typ in t.schema().items()}))
        return t if raw else typed(t, table, check=True)
    if isinstance(source, (str, Path)):
        t = _read_path(str(source), con, table)
        return t if raw else typed(t, table, check=True)
    raise JourneyDataError(
        f"{table}: cannot read a {type(source).__name__}; expected a pandas DataFrame, "
        "an Ibis table, or a path to a CSV or Parquet file"
    )


# --- declared types of the canonical tables ----------------------------------------

UTC = dt.Timestamp(timezone="UTC")
TEXT_ROLES = ("event", "channel", "stage", "experiment", "variant")
"""Columns that are names: never re-typed (``1.10`` stays ``1.10``)."""

DATE_PATTERN = r"^\s*(\d{1,2})([/.-])(\d{1,2})[/.-](\d{2,4})(\s+\d{1,2}:\d{2}(:\d{2})?)?(\s+[AP]M)?\s*$"
"""Day-first or month-first dates (``03/04/2024``, ``25.12.24 10:00``, ``1/5/2025 2:30 PM``): read
with a format."""
UNIX_FORMATS = {"unix_s": 1_000_000, "unix_ms": 1_000, "unix_us": 1}
"""``timestamp_format`` values for Unix times (seconds, milliseconds or microseconds since
1970-01-01 UTC; UTC whatever the source's time zone) -> microseconds per unit."""
UNIX_RANGES = {"unix_s": (1e8, 1e10), "unix_ms": (1e11, 1e13), "unix_us": (1e14, 1e16)}
"""Numbers read as each unit when every one lies in its range: 1973 to 2286 in that unit
(the ranges do not overlap, so the unit is never a guess between two)."""
SPACED_OFFSET = r"^\s*\d{4}-\d{2}-\d{2}([ T])\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s+[+-]\d{2}:?\d{2}\s*$"
"""ISO times with a space before the offset (``2025-01-05 10:00:00 -0500``, as Shopify and Ruby write
them), which a cast does not read: read with a ``%z`` format."""
NUMBER_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*$"
"""A time value that is a plain number (a Unix time, or no time at all)."""
ZONE_ABBREVIATION = r"[0-9]\s?[A-Za-z]{2,5}\s*$"
"""A text time that ends in a zone abbreviation (``2025-07-05 09:00 BST``): not read, since one abbreviation
names several zones (BST: British Summer Time, Bangladesh Standard Time; CST: US Central, China). ``UTC``,
``GMT`` and AM/PM are not abbreviations of this kind (:data:`NOT_ZONE_ABBREVIATION`)."""
NOT_ZONE_ABBREVIATION = r"(?i)[0-9]\s?(?:utc|gmt|[ap]\.?m\.?)\s*$"
ZONE_ABBREVIATION_TAIL = r"\s?([A-Za-z]{2,5})\s*$"
"""The abbreviation at the end of such a time (its group), to take it out or name it."""
ZONE_ABBREVIATION_HINT = ("these times end in a zone abbreviation, which names more than one zone (BST is British "
                          "Summer Time and Bangladesh Standard Time; CST is US Central and China) and is not read: "
                          "give the zone they were written in as the source's timezone in journey.yml (timezone: "
                          "America/Los_Angeles for PST and PDT, Europe/London for GMT and BST), which reads them as "
                          "that zone's times, or export them with their offset (+01:00)")

NOT_UNIX_HINT = ("these are numbers, not timestamps: Unix times all count seconds (10 digits, such as 1736078400 for "
                 "2025-01-05 12:00 UTC), milliseconds (13) or microseconds (16), and are then read as such; give "
                 "timestamp_format: unix_s, unix_ms or unix_us to read numbers in one unit, or '%Y%m%d' for dates "
                 "written 20250105; numbers such as 45667.5 are Excel's day numbers (a date cell saved as a plain "
                 "number): format the column as a date in the workbook and save it again")
"""What to do when a time column holds numbers that are no Unix times in one unit."""


def number_text(x: ibis.Value) -> ibis.Value:
    """Amounts as text without the commas that group thousands (``1,234.56`` -> ``1234.56``,
    :data:`journeylib.core.schema.THOUSANDS_COMMA`); any other text as written.

    Parameters
    ----------
    x
        A text column expression.

    Returns
    -------
    ibis.Value
        Text for ``try_cast("float64")``.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"v": ["1,234.56", "12.50", "13,26", "1,000"]})
    >>> engine.to_pandas(t.select(n=engine.number_text(t.v).try_cast("float64")))["n"].tolist()
    [1234.56, 12.5, nan, 1000.0]
    """
    return ibis.ifelse(x.re_search(THOUSANDS_COMMA), x.replace(",", ""), x)


def amount_parts(x: ibis.Value, decimal: str = ".") -> tuple[ibis.Value, ibis.Value]:
    """Amounts written as text: the number as text with a decimal point, and the currency written
    with it.

    A currency sign or code before or after the number (``$1,234.56``, ``12,50 €``, ``EUR 12``;
    :data:`journeylib.core.schema.CURRENCY_AMOUNT`) is taken off; spaces that group thousands
    (``1 234,56``) and, under ``decimal="."``, commas that group thousands go; under
    ``decimal=","`` a comma is the decimal mark and a dot groups thousands. Text that is no amount
    is returned trimmed, for the loader's number check to name.

    Parameters
    ----------
    x
        A text column expression.
    decimal
        ``"."`` or ``","``: the mark between whole units and cents.

    Returns
    -------
    tuple of ibis.Value
        The number as text (for ``try_cast("float64")``) and the currency (null when none is written).

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"v": ["$1,234.56", "-€5", "12.00 USD", "7", "abc"]})
    >>> number, currency = engine.amount_parts(t.v)
    >>> engine.to_pandas(t.select(n=number.try_cast("float64"), c=currency))
             n     c
    0  1234.56     $
    1    -5.00     €
    2    12.00   USD
    3     7.00  None
    4      NaN  None
    >>> t = ibis.memtable({"v": ["1 234,56 €", "12,50"]})
    >>> number, currency = engine.amount_parts(t.v, decimal=",")
    >>> engine.to_pandas(t.select(n=number, c=currency)).values.tolist()
    [['1234.56', '€'], ['12.50', None]]
    """
    y = x.strip()
    before, after = y.re_extract(CURRENCY_AMOUNT, 2), y.re_extract(CURRENCY_AMOUNT, 5)
    currency = ibis.ifelse(before != "", before, ibis.ifelse(after != "", after, ibis.null("string")))
    number = ibis.ifelse(before != "", y.re_extract(CURRENCY_AMOUNT, 1) + y.re_extract(CURRENCY_AMOUNT, 3),
                         ibis.ifelse(after != "", y.re_extract(CURRENCY_AMOUNT, 4), y))
    number = ibis.ifelse(number.re_search(SPACED_THOUSANDS), number.re_replace(f"[{GROUP_SPACES}]", ""), number)
    if decimal == ",":
        return ibis.ifelse(number.re_search(COMMA_AMOUNT), number.replace(".", "").replace(",", "."),
                           number), currency
    return number_text(number), currency


def amount_values(values: pd.Series) -> pd.DataFrame:
    """Amounts of a small column read in pandas as :func:`amount_parts` reads them in the engine
    (decimal point): for messages, guesses and small tables such as costs.

    Parameters
    ----------
    values
        Amounts as text or numbers.

    Returns
    -------
    pandas.DataFrame
        Per value (same index): ``text`` (the number as text, or the value trimmed), ``number``
        (NaN when none) and ``currency`` (the currency written with it, else None).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core import engine
    >>> engine.amount_values(pd.Series(["$1,234.56", "1 234,50 €", "7", None]))
          text   number currency
    0  1234.56  1234.56        $
    1  1234,50      NaN        €
    2        7     7.00     None
    3     None      NaN     None
    """
    out = pd.DataFrame({"text": None, "number": float("nan"), "currency": None}, index=values.index)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return out.assign(text=values.astype(str).where(values.notna(), None), number=values.astype(float))
    text = values.astype(object).map(lambda v: v if isinstance(v, str) else None if pd.isna(v) else str(v))
    if text.isna().all():
        return out
    distinct = ibis.memtable(pd.DataFrame({"v": text.dropna().unique()}), schema={"v": "string"})
    number, currency = amount_parts(distinct.v)
    read = to_pandas(distinct.select("v", t=number, n=number.try_cast("float64"), c=currency)).set_index("v")

    def mapped(col: str) -> pd.Series:
        v = text.map(read[col]).astype(object)
        return v.where(v.notna(), None)

    return pd.DataFrame({"text": mapped("t"), "number": text.map(read["n"]).astype(float), "currency": mapped("c")},
                        index=values.index)


WORDED_TIME = (r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\b|\d)"
               r"|^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}.*\d\s*[ap]\.?\s?m\.?\s*$")
"""Text timestamps that need a format but leave no doubt about day and month: a month named in
English (``Jan 5, 2025``, ``05-Jan-2025``), or a year-first date with a 12-hour clock
(``2025-01-05 9:00 PM``), as US tools write them."""
_NAMED_DATES = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%b %d %Y", "%B %d %Y",
                "%d %b, %Y", "%d-%B-%Y", "%a, %d %b %Y", "%a, %b %d, %Y", "%A, %B %d, %Y", "%A, %d %B %Y",
                "%a %b %d %Y", "%Y-%m-%d", "%Y/%m/%d")
_NAMED_CLOCKS = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", " %I:%M%p", " %I:%M:%S%p", ", %I:%M %p",
                 ", %I:%M:%S %p", ", %H:%M", ", %H:%M:%S", " at %I:%M %p", " at %H:%M")


def worded_time_format(values: Any) -> str | None:
    """The strptime format of text timestamps that no reader takes without one but that leave no
    doubt about day and month (:data:`WORDED_TIME`), or ``None``.

    Exports of US tools write ``Jan 5, 2025 9:00 AM``, ``05-Jan-2025 09:00``, ``Sunday,
    January 5, 2025 09:00`` or ``2025-01-05 9:00 PM``. pandas' guess is tried first, then the
    common layouts; a format is returned only when at least half of the values are of this
    kind and every one of those fits it (the reader then names the others).

    Parameters
    ----------
    values
        Timestamps as text (a sample: a few thousand values are plenty).

    Returns
    -------
    str or None
        A strptime format with ``%b`` or ``%B``, or year-first with ``%p`` (no zone: ``%z`` is
        left to the ISO readers).

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.worded_time_format(["Jan 5, 2025 9:00 AM", "Dec 12, 2025 11:30 PM"])
    '%b %d, %Y %I:%M %p'
    >>> engine.worded_time_format(["5-Jan-25", "12-Feb-25"])
    '%d-%b-%y'
    >>> engine.worded_time_format(["2025-01-05 9:00 PM", "2025-01-06 10:30 AM"])
    '%Y-%m-%d %I:%M %p'
    >>> engine.worded_time_format(["2025-01-05 09:00"]) is None
    True
    """
    from pandas.tseries.api import guess_datetime_format

    text = pd.Series(list(values), dtype=object).dropna().astype(str).str.strip()
    text = text[text != ""].drop_duplicates()
    worded = text[text.str.contains(WORDED_TIME)]
    if worded.empty or 2 * len(worded) < len(text):
        return None
    sample = worded.head(500)
    guessed = [g for v in sample.head(5) if (g := guess_datetime_format(v))]
    candidates = dict.fromkeys(guessed + [d + c for d in _NAMED_DATES for c in _NAMED_CLOCKS])
    for fmt in candidates:
        if ("%b" in fmt or "%B" in fmt or fmt.startswith("%Y") and "%p" in fmt) and "%z" not in fmt \
                and "%Z" not in fmt and pd.to_datetime(sample, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


def unix_unit(low: float, high: float) -> str | None:
    """The Unix-time unit whose range (:data:`UNIX_RANGES`) holds every value from ``low`` to ``high``.

    Parameters
    ----------
    low, high
        The smallest and largest value of a column of numbers.

    Returns
    -------
    str or None
        ``"unix_s"``, ``"unix_ms"`` or ``"unix_us"``; ``None`` when no one unit holds them all.

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.unix_unit(1_736_078_400, 1_751_328_000), engine.unix_unit(1_736_078_400_000, 1_736_078_400_000)
    ('unix_s', 'unix_ms')
    >>> engine.unix_unit(20_250_105, 20_250_630) is None  # dates written 20250105 are no Unix times
    True
    """
    return next((u for u, (lo, hi) in UNIX_RANGES.items() if lo <= low and high < hi), None)


@ibis.udf.scalar.builtin(name="make_timestamp")
def _duckdb_make_timestamp(us: dt.int64) -> dt.Timestamp(timezone=None):  # pragma: no cover - SQL builtin
    """DuckDB's ``make_timestamp(microseconds)``: a plain (UTC wall-clock) TIMESTAMP."""


@ibis.udf.scalar.builtin(name="timestamp_micros")
def _spark_timestamp_micros(us: dt.int64) -> dt.Timestamp(timezone=None):  # pragma: no cover - SQL builtin
    """Spark SQL's ``timestamp_micros`` (Spark >= 3.1)."""


def from_epoch_micros(us: ibis.Value) -> ibis.Value:
    """Microseconds since 1970-01-01 UTC as a plain timestamp holding the UTC wall clock.

    Parameters
    ----------
    us
        An int64 expression.

    Returns
    -------
    ibis.Value
        A timestamp without zone (cast to :data:`UTC` for an instant).

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"us": [1_736_078_400_500_000]})
    >>> engine.to_pandas(t.select(ts=engine.from_epoch_micros(t.us)))["ts"].iloc[0]
    Timestamp('2025-01-05 12:00:00.500000')
    """
    name = backend_name(us)
    if name == "duckdb":
        return _duckdb_make_timestamp(us)
    if name == "pyspark":
        return _spark_timestamp_micros(us)
    return ibis.timestamp("1970-01-01 00:00:00") + us.as_interval("us")


@ibis.udf.scalar.builtin(name="try_strptime")
def _duckdb_try_strptime(x: str, fmt: str) -> dt.Timestamp(timezone=None):  # pragma: no cover
    """DuckDB's ``try_strptime``: NULL where the text does not fit the format."""


_WEEKDAY_FIRST = re.compile(r"^%[aA][,.]?\s*")


def strptime(x: ibis.Value, fmt: str) -> ibis.Value:
    """Text read with a strptime format as naive timestamps, NULL where a value does not fit.

    On Spark a leading weekday (``%A, %B %d, %Y``: ``Sunday, January 5, 2025``) is dropped from
    format and text before parsing: Spark 3's parser cannot read day names, and the date
    holds the day anyway.

    Parameters
    ----------
    x
        A text column expression.
    fmt
        strptime format (``%d/%m/%Y %H:%M``, ``%b %d, %Y %I:%M %p``...).

    Returns
    -------
    ibis.Value
        Timestamps without a zone.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"ts": ["Sunday, January 5, 2025 09:00", "not a date"]})
    >>> engine.to_pandas(t.select(ts=engine.strptime(t.ts, "%A, %B %d, %Y %H:%M")))["ts"].tolist()
    [Timestamp('2025-01-05 09:00:00'), NaT]
    """
    if backend_name(x) == "duckdb":
        return _duckdb_try_strptime(x, fmt)
    if _WEEKDAY_FIRST.match(fmt):
        fmt, x = _WEEKDAY_FIRST.sub("", fmt), x.re_replace(r"^\s*[A-Za-z]+[,.]?\s*", "")
    return x.as_timestamp(fmt).cast("timestamp")


def timestamp_columns(table: str, columns: Any) -> list[str]:
    """The columns of ``table`` that hold timestamps (``ts``, ``assigned_at``, customers' ``*_at``).

    Parameters
    ----------
    table
        ``"events"``, ``"customers"`` or ``"assignments"``.
    columns
        Column names of the table.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.timestamp_columns("customers", ["customer_id", "segment", "loyalty_joined_at"])
    ['loyalty_joined_at']
    """
    return [c for c in columns if (table == "events" and c == "ts") or (table == "assignments" and c == "assigned_at")
            or (table == "customers" and str(c).endswith("_at"))]


def joined_date_time(date: ibis.Value, time: ibis.Value) -> ibis.Value:
    """A date column and its time-of-day column as one timestamp text, ``"2025-01-05 09:00:00"``.

    Shop, till and spreadsheet exports often split the moment into a date and a time
    column; read alone, the date puts every event of a day at midnight and the order of
    a day's events is lost. A column mapped to ``ts_time`` (``<name>_time`` for any
    timestamp column) is joined to its date this way when loading. A timestamp date keeps
    its date (and a text date its date without a midnight time: ``2025-01-05 00:00:00``); a
    timestamp time (a spreadsheet's time cell, dated 1899-12-30) its time.
    The text is then read as any timestamp text is (formats, zones).

    Parameters
    ----------
    date
        The date column (text, date or timestamp).
    time
        The time-of-day column (text, time or timestamp); a missing time reads as midnight.

    Returns
    -------
    ibis.Value
        Text; NULL where the date is missing.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"d": ["05.01.2025", "06.01.2025", None], "h": ["09:15", None, "10:00"]})
    >>> engine.to_pandas(t.select(ts=engine.joined_date_time(t.d, t.h)))["ts"].tolist()
    ['05.01.2025 09:15', '06.01.2025', None]
    """
    # a spreadsheet's date cell comes as text with its midnight: 2025-01-05 00:00:00
    d = date.cast("date").cast("string") if date.type().is_timestamp() else \
        date.cast("string").strip().re_replace(r"[ T]00:00(:00(\.0+)?)?$", "")
    h = time.cast("time").cast("string") if time.type().is_timestamp() else time.cast("string").strip()
    return ibis.ifelse(d.isnull() | (d == ""), ibis.null("string"), (d + " " + h.fill_null("")).strip())


def backend_name(t: ibis.Table | ibis.Value) -> str:
    """The name of the engine a table or value runs on (``""`` when unbound or unknown).

    Parameters
    ----------
    t
        An Ibis table or value expression.

    Returns
    -------
    str
        E.g. ``"duckdb"`` or ``"pyspark"``.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> engine.backend_name(ibis.memtable({"a": [1]}))
    'duckdb'
    """
    try:
        return t._find_backend(use_default=True).name
    except Exception:  # noqa: BLE001 - unbound or unknown backend: stay portable
        return ""


def detect_timestamp_format(t: ibis.Table, col: str, *, table: str = "events",
                            hint: str = "pass timestamp_format='%d/%m/%Y' (or '%m/%d/%Y')") -> str | None:
    """The format of a text (or numeric) timestamp column, detected over every row (one engine pass).

    A column of numbers only is Unix time when every number lies in one unit's range
    (:func:`unix_unit`: ``"unix_s"``, ``"unix_ms"`` or ``"unix_us"``), else ``None``. ISO times
    with a space before their offset (:data:`SPACED_OFFSET`) get a ``%z`` format. Otherwise
    ``None`` when no value is a day/month date (ISO text such as ``2024-05-01 13:45:00``,
    read without a format). Day-first when a first number above 12 occurs anywhere,
    month-first when a second number does; when neither does (``03/04/2024`` only) the
    order cannot be told and a :class:`JourneyDataError` asks for the format (``hint``).
    Dates that name the month in English (``Jan 5, 2025 9:00 AM``) or are year-first with a
    12-hour clock get their format from :func:`worded_time_format`.

    Parameters
    ----------
    t
        The table.
    col
        Its text timestamp column.
    table
        Table name for error messages.
    hint
        What the error advises when the order cannot be told.

    Returns
    -------
    str or None
        A strptime format such as ``"%d/%m/%Y %H:%M"``, a Unix format, or ``None`` for ISO text.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> engine.detect_timestamp_format(ibis.memtable({"ts": ["25/12/2024 10:00", "03/04/2024 09:15"]}), "ts")
    '%d/%m/%Y %H:%M'
    >>> engine.detect_timestamp_format(ibis.memtable({"ts": [1736078400123, 1736164800000]}), "ts")
    'unix_ms'
    >>> engine.detect_timestamp_format(ibis.memtable({"ts": ["Jan 5, 2025 9:00 AM", "Feb 1, 2025 1:15 PM"]}), "ts")
    '%b %d, %Y %I:%M %p'
    """
    x = t[col].cast("string")
    given = x.notnull() & (x.strip() != "")
    number = x.re_search(NUMBER_PATTERN).fill_null(False)
    value = ibis.ifelse(number, x.strip().try_cast("float64"), ibis.null("float64"))
    hit = x.re_search(DATE_PATTERN).fill_null(False)
    first = x.re_extract(DATE_PATTERN, 1).try_cast("int64")
    second = x.re_extract(DATE_PATTERN, 3).try_cast("int64")
    timed = x.re_extract(DATE_PATTERN, 5)
    aggs = dict(n=hit.cast("int64").sum(), first=ibis.ifelse(hit, first, ibis.null("int64")).max(),
                second=ibis.ifelse(hit, second, ibis.null("int64")).max(),
                secs=(hit & (x.re_extract(DATE_PATTERN, 6) != "")).cast("int64").sum(),
                mins=(hit & (timed != "")).cast("int64").sum(),
                noon=(hit & (x.re_extract(DATE_PATTERN, 7) != "")).cast("int64").sum(),
                given=given.cast("int64").sum(), numbers=number.cast("int64").sum(), low=value.min(),
                high=value.max(), spaced=x.re_search(SPACED_OFFSET).fill_null(False).cast("int64").sum(),
                named=x.re_search(WORDED_TIME).fill_null(False).cast("int64").sum())
    row = to_pandas(t.aggregate(**aggs)).iloc[0]
    if pd.notna(row["given"]) and int(row["given"]) and int(row["numbers"]) == int(row["given"]):
        return unix_unit(float(row["low"]), float(row["high"]))  # None: the rows' error says what numbers are
    if pd.notna(row["given"]) and int(row["given"]) and int(row["spaced"]) == int(row["given"]):
        example = str(to_pandas(t.filter(given).select(col).limit(1))[col].iloc[0]).strip()
        m = re.match(SPACED_OFFSET, example)
        clock = "%H:%M" + (":%S" if m.group(2) else "") + (".%f" if m.group(3) else "")
        return f"%Y-%m-%d{m.group(1)}{clock} %z"
    if not int(row["n"] if pd.notna(row["n"]) else 0):
        if pd.notna(row["given"]) and int(row["given"]) and 2 * int(row["named"]) >= int(row["given"]):
            named = given & x.re_search(WORDED_TIME).fill_null(False)
            sample = to_pandas(t.filter(named).select(v=x.strip()).distinct().limit(2000))["v"]
            return worded_time_format(sample)  # every row is then checked against it, and those in another form named
        return None
    example = str(to_pandas(t.filter(hit).select(col).limit(1))[col].iloc[0]).strip()
    m = re.match(r"^(\d{1,2})([/.-])(\d{1,2})[/.-](\d{2,4})", example)
    sep, year = m.group(2), "%Y" if len(m.group(4)) == 4 else "%y"
    clock = " %H:%M:%S" if int(row["secs"]) else (" %H:%M" if int(row["mins"]) else "")
    if int(row["noon"]):  # a 12-hour clock with AM / PM
        clock = clock.replace("%H", "%I") + " %p"
    dmy, mdy = f"%d{sep}%m{sep}{year}{clock}", f"%m{sep}%d{sep}{year}{clock}"
    hi1, hi2 = int(row["first"]), int(row["second"])
    if hi1 > 12 and hi2 > 12:
        raise JourneyDataError(
            f"column '{col}' of {table}: dates such as {example!r} have a first number up to {hi1} and a second "
            f"up to {hi2}; expected one order for the whole column (day-first {dmy} or month-first {mdy})."
            "\nWhat to do: write every date in one order (ISO 2024-05-01 is safest)")
    if hi1 > 12:
        return dmy
    if hi2 > 12:
        return mdy
    raise JourneyDataError(
        f"column '{col}' of {table}: dates such as {example!r} can be read day-first ({dmy}) or month-first "
        f"({mdy}): no number above 12 tells which; expected a declared format.\nWhat to do: {hint}")


def zone_abbreviated(x: ibis.Value) -> ibis.Value:
    """Whether each text time ends in a zone abbreviation (:data:`ZONE_ABBREVIATION`).

    Parameters
    ----------
    x
        A text column expression.

    Returns
    -------
    ibis.Value
        Booleans (NULL where ``x`` is NULL).

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"ts": ["2025-07-05 09:00 BST", "2025-07-05 09:00 UTC", "2025-07-05 9:00 PM"]})
    >>> engine.to_pandas(t.select(z=engine.zone_abbreviated(t.ts)))["z"].tolist()
    [True, False, False]
    """
    return x.re_search(ZONE_ABBREVIATION) & ~x.re_search(NOT_ZONE_ABBREVIATION)


def parse_timestamp(x: ibis.Value, fmt: str | None = None) -> ibis.Value:
    """Text timestamps as UTC: ISO text (offsets converted, naive read as UTC), ``fmt`` (strptime)
    or Unix times (``fmt`` one of :data:`UNIX_FORMATS`; then ``x`` may also be numbers).

    Parameters
    ----------
    x
        A text column expression (or numbers, for a Unix format).
    fmt
        strptime format, a key of :data:`UNIX_FORMATS`, or ``None`` for ISO text.

    Returns
    -------
    ibis.Value
        UTC timestamps; NULL where a value does not parse.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"ts": ["2024-05-01 13:45:00+02:00"]})
    >>> engine.to_pandas(t.select(ts=engine.parse_timestamp(t.ts)))["ts"].iloc[0]
    Timestamp('2024-05-01 11:45:00+0000', tz='UTC')
    """
    if fmt is None:
        if not x.type().is_string():
            return x.try_cast(UTC)
        cast = x.try_cast(UTC)
        # a space before the offset (2025-01-05 10:00:00 -0500, as Shopify writes it) among other forms: read
        # without the space, tried only where the plain cast failed (a column of only these gets a %z format)
        cast = ibis.ifelse(cast.isnull(), x.replace(" -", "-").replace(" +", "+").try_cast(UTC), cast)
        return ibis.ifelse(zone_abbreviated(x), ibis.null(UTC), cast)  # DuckDB would guess BST as Bangladesh
    if fmt in UNIX_FORMATS:
        number = (x.strip() if x.type().is_string() else x).try_cast("float64")
        in_range = (number >= -9e15 / UNIX_FORMATS[fmt]) & (number <= 9e15 / UNIX_FORMATS[fmt])  # int64 microseconds
        us = ibis.ifelse(in_range, number * UNIX_FORMATS[fmt], ibis.null("float64")).round().cast("int64")
        return from_epoch_micros(us).cast(UTC)
    return strptime(x, fmt).cast(UTC)


def id_text(x: ibis.Value) -> ibis.Value:
    """Customer ids as text in one canonical form: integers (also whole floats) without ``.0``.

    Parameters
    ----------
    x
        An id column expression (numbers or text).

    Returns
    -------
    ibis.Value
        Text ids; NULL for a float that is not a whole number.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"id": [7.0, 8.5]})
    >>> engine.to_pandas(t.select(id=engine.id_text(t.id)))["id"].tolist()
    ['7', None]
    """
    typ = x.type()
    if typ.is_floating():
        return ibis.ifelse(x == x.floor(), x.cast("int64").cast("string"), ibis.null("string"))
    if typ.is_string():
        return x
    return x.cast("string")


def typed(t: ibis.Table, table: str = "events", *, check: bool = True,
          timestamp_format: str | None = None) -> ibis.Table:
    """``t`` with the canonical columns of ``table`` in their declared types (see :func:`to_table`).

    Ids become text (:func:`id_text`), names text, text timestamps UTC timestamps (one
    format for the whole column, :func:`detect_timestamp_format`), text revenue a number.
    With ``check`` (or when a column had to be converted) one engine pass counts null ids,
    blank event names, unparseable or missing timestamps and negative or non-finite
    revenue, and raises :class:`JourneyDataError` naming the column and example values.

    Parameters
    ----------
    t
        The table.
    table
        ``"events"``, ``"customers"`` or ``"assignments"`` (another name: ``t`` unchanged).
    check
        Run the checks even when no column needed converting.
    timestamp_format
        strptime format of text timestamps (default: detected).

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = engine.typed(ibis.memtable({"customer_id": [1], "event": ["purchase"], "revenue": ["9.90"]}))
    >>> str(t.customer_id.type()), str(t.revenue.type())
    ('string', 'float64')
    """
    if table not in ("events", "customers", "assignments"):
        return t
    cols = t.columns
    new: dict[str, ibis.Value] = {}
    bad: dict[str, tuple[ibis.Value, str]] = {}
    if "customer_id" in cols:
        x = t.customer_id
        if not x.type().is_string():
            new["customer_id"] = id_text(x)
            check = True
        clean = new.get("customer_id", x)
        bad["customer_id"] = (clean.isnull() | (clean.strip() == ""),
                              "a non-missing customer id (whole numbers or text)")
    for c in (c for c in TEXT_ROLES if c in cols):
        x = t[c]
        if not x.type().is_string():
            new[c] = x.cast("string")
            check = True
        if (table == "events" and c == "event") or (table == "assignments" and c in ("experiment", "variant")):
            clean = new.get(c, x)
            bad[c] = (clean.isnull() | (clean.strip() == ""), "a non-blank name")
    for c in timestamp_columns(table, cols):
        x = t[c]
        nullable = table == "customers"
        if x.type().is_string():
            check = True
            fmt = timestamp_format or detect_timestamp_format(t, c, table=table)
            parsed = parse_timestamp(x, fmt)
            new[c] = parsed
            blank = x.isnull() | (x.strip() == "")
            bad[c] = ((~blank & parsed.isnull()) if nullable else parsed.isnull(),
                      f"a timestamp in {fmt!r}" if fmt else "a timestamp such as 2024-05-01 13:45:00")
        elif x.type().is_timestamp() and x.type().timezone is None or x.type().is_date():
            new[c] = x.cast("timestamp").cast(UTC)
        elif x.type().is_timestamp():
            new[c] = x.cast(UTC) if x.type().timezone != "UTC" else x
        elif x.type().is_numeric() and not x.type().is_boolean() and (
                fmt := timestamp_format or detect_timestamp_format(t, c, table=table)) in UNIX_FORMATS:
            check = True
            new[c] = parse_timestamp(x, fmt)
            bad[c] = ((x.notnull() & new[c].isnull()) if table == "customers" else new[c].isnull(),
                      f"a Unix time in {fmt!r}")
        elif not x.type().is_null():
            raise JourneyDataError(f"column '{c}' of {table} has type {x.type()}; expected timestamps "
                                   "(ISO text such as 2024-05-01 13:45:00, a datetime column, or Unix times)"
                                   + (f"\nWhat to do: {NOT_UNIX_HINT}" if x.type().is_numeric() else ""))
        if not nullable and c not in bad:
            bad[c] = (new.get(c, x).isnull(), "a timestamp (not missing)")
    if table == "events" and "revenue" in cols:
        x = t.revenue
        if x.type().is_string():
            check = True
            num = number_text(x.strip()).try_cast("float64")
            new["revenue"] = num
            wrong = (x.notnull() & (x.strip() != "") & num.isnull())
        else:
            num = x.cast("float64") if x.type().is_numeric() or x.type().is_null() else x
            if num is not x:
                new["revenue"] = num
            wrong = ibis.literal(False)
        bad["revenue"] = (wrong | (num.notnull() & ((num < 0) | num.isinf() | num.isnan())),
                          "a finite number >= 0 (or missing for events without revenue)")
    if check and bad:
        counts = to_pandas(t.aggregate(_n=t.count(), **{f"b{i}": v.fill_null(True).cast("int64").sum()
                                                         for i, (v, _) in enumerate(bad.values())})).iloc[0]
        for i, (c, (pred, expected)) in enumerate(bad.items()):
            n_bad = int(counts[f"b{i}"] if pd.notna(counts[f"b{i}"]) else 0)
            if n_bad:
                examples = to_pandas(t.filter(pred.fill_null(True)).select(*cols).limit(5))
                raise data_error(c, n_bad, int(counts["_n"]), expected, examples, table=table,
                                 hint="fix or drop these rows (journeylib.load_%s names them with the line "
                                      "number of a file)" % table)
    return t.mutate(**new) if new else t


def distinct_values(t: ibis.Table, col: str) -> list[str]:
    """The distinct non-missing values of a (small-cardinality) column, as sorted text.

    Parameters
    ----------
    t
        The table.
    col
        The column.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> engine.distinct_values(ibis.memtable({"event": ["purchase", "landing", None, "landing"]}), "event")
    ['landing', 'purchase']
    """
    return sorted(to_pandas(t.select(col).distinct())[col].dropna().astype(str))


def customer_column(customers: Any, column: str, parameter: str = "by") -> pd.Series:
    """One column of the customers table as a pandas Series indexed by ``customer_id``.

    The lookup every per-customer split uses (segment, membership...), with the errors a caller
    should see: no customers table, or a column it does not have.

    Parameters
    ----------
    customers
        The customers table (DataFrame, Ibis table or path); ``None`` is an error.
    column
        The column wanted.
    parameter
        The name of the caller's argument that asked for it (for the message).

    Returns
    -------
    pandas.Series
        ``customers[column]``, indexed by ``customer_id``, values as stored.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.engine import customer_column
    >>> customer_column(pd.DataFrame({"customer_id": ["a", "b"], "segment": ["x", "y"]}), "segment").to_dict()
    {'a': 'x', 'b': 'y'}
    """
    return customer_columns(customers, {column: parameter})[column]


def customer_columns(customers: Any, columns: Mapping[str, str]) -> pd.DataFrame:
    """Columns of the customers table as one pandas frame indexed by ``customer_id``.

    :func:`customer_column` for several columns at once: one fetch of the ids and one check
    that each is on one row (at 10^8 events, 8.8 million ids: about 10 s per lookup).

    Parameters
    ----------
    customers
        The customers table (DataFrame, Ibis table or path); ``None`` is an error.
    columns
        Column wanted -> the name of the caller's argument that asked for it (for the message).

    Returns
    -------
    pandas.DataFrame
        The columns, indexed by ``customer_id``, values as stored.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.engine import customer_columns
    >>> cu = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["x", "y"], "member": [True, False]})
    >>> customer_columns(cu, {"segment": "by", "member": "by"}).loc["b"].to_dict()
    {'segment': 'y', 'member': False}
    """
    first = next(iter(columns))
    if customers is None:
        raise JourneyParameterError(f"{columns[first]}={first!r} needs the customers table (pass customers=...)")
    cu = to_table(customers, table="customers")
    for column, parameter in columns.items():
        if column not in cu.columns or "customer_id" not in cu.columns:
            raise JourneyParameterError(f"{parameter}={column!r}: not a column of customers; expected one of "
                                        f"{[c for c in cu.columns if c != 'customer_id']}")
    values = to_pandas(cu.select("customer_id", *dict.fromkeys(columns))).set_index("customer_id")
    if values.index.has_duplicates:  # a lookup by id: which row would a customer get?
        n = values.index[values.index.duplicated()].nunique()
        raise JourneyDataError(f"customers: {n:,} customer_id value(s) appear on more than one row; expected one row "
                               f"per customer to look up {', '.join(repr(c) for c in columns)}\nWhat to do: keep "
                               "one row per customer_id (the latest, say) before passing the table")
    return values


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _is_plain_text(s: pd.Series) -> bool:
    # whole column, in C: a non-string anywhere would make Arrow fail later
    return pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_STORAGE_HINT = ("Spark reads hdfs://, s3a://, abfss://, gs:// ... through the Hadoop connector for the "
                 "scheme on its classpath (e.g. spark.jars.packages=org.apache.hadoop:hadoop-aws:<Hadoop "
                 "version> for s3a://, with credentials in the Spark config); DuckDB reads s3://, gs://, "
                 "https:// with its httpfs extension (INSTALL httpfs). file:// works on both")


def is_uri(path: Any) -> bool:
    """``scheme://...`` (object store, HDFS, ``file://``): listed and read by the engine, not by Python.

    Parameters
    ----------
    path
        Anything; only a string can be a URI.

    Returns
    -------
    bool

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.is_uri("s3a://bucket/journeys"), engine.is_uri("data/sample")
    (True, False)
    """
    return isinstance(path, str) and bool(_URI.match(path))


def list_files(pattern: str, con: ibis.BaseBackend | None = None) -> list[str]:
    """Files (or folders, for a plain local path) matching a path or glob, sorted.

    Local paths are globbed here. A URI is listed by the engine that will read it, so
    each sees the same files: Spark through its Hadoop file system (any scheme with a
    connector on the classpath), DuckDB through its ``glob`` function (``file://``, and
    ``s3://``/``gs://``/``https://`` with httpfs).

    Parameters
    ----------
    pattern
        A local path or glob, or a URI (with or without wildcards).
    con
        Connection that lists a URI (default: :func:`default_connection`).

    Returns
    -------
    list of str
        Sorted; empty when nothing matches.

    Examples
    --------
    From the repository's root:

    >>> from journeylib.core import engine
    >>> engine.list_files("data/sample/*.parquet")
    ['data/sample/assignments.parquet', 'data/sample/costs.parquet', 'data/sample/customers.parquet', 'data/sample/events.parquet', 'data/sample/feedback.parquet', 'data/sample/messages.parquet']
    """
    if not is_uri(pattern):
        return _local_files(pattern)
    con = con or default_connection()
    try:
        if con.name == "pyspark":
            sc = con._session.sparkContext
            hpath = sc._jvm.org.apache.hadoop.fs.Path(pattern)
            found = hpath.getFileSystem(sc._jsc.hadoopConfiguration()).globStatus(hpath) or []
            return sorted(str(st.getPath().toString()) for st in found if st.isFile())
        if con.name == "duckdb":
            rows = con.con.execute("SELECT file FROM glob(?)", [_listing_glob(pattern)]).fetchall()
            return sorted(r[0] for r in rows)
    except Exception as exc:  # noqa: BLE001 - Py4J / DuckDB errors: keep the gist, say what to do
        raise JourneyDataError(f"cannot list {pattern} on {con.name}: {gist(exc)}\n"
                               f"What to do: {_STORAGE_HINT}") from exc
    raise JourneyDataError(f"{pattern}: URIs are listed and read by DuckDB or Spark, not by {con.name}; "
                           "read the table with your connection and pass the Ibis table instead")


def _local_files(pattern: str) -> list[str]:
    """A local path or glob: a path that exists is taken literally (a folder named ``run[1]``
    is not the glob matching ``run1``), as is the longest existing folder it starts with; a
    ``.zip`` archive on the way is read as the folder it unpacks to (:func:`unzipped_path`)."""
    pattern = unzipped_path(pattern)
    if Path(pattern).exists():
        return [pattern]
    if not any(ch in pattern for ch in "*?["):
        return []
    parts = Path(pattern).parts
    for i in range(len(parts) - 1, 0, -1):
        head = Path(*parts[:i])
        if any(ch in str(head) for ch in "*?[") and head.is_dir():
            return sorted(glob.glob(os.path.join(glob.escape(str(head)), *parts[i:])))
    return sorted(glob.glob(pattern))


_UNZIPPED: dict[tuple[str, int, int], str] = {}


def unzipped_path(path: str) -> str:
    """``path`` with a ``.zip`` archive on the way replaced by the folder it unpacks to.

    Exports often come zipped (Amplitude's export API, a shop's emailed orders, several CSVs
    in one download). A local path through an archive reads it as a folder: ``export.zip``
    is the folder, ``export.zip/events.csv`` a file in it (globs allowed after the archive).
    The archive is unpacked once per process into a temporary folder removed when the process
    ends, with the members' modification times (so the validation cache knows the bytes
    again); the archive itself is never touched. Other paths and URIs are returned as given.

    Parameters
    ----------
    path
        A local path or glob, or a URI.

    Returns
    -------
    str
        The path to read.

    Examples
    --------
    >>> import os, tempfile, zipfile
    >>> from journeylib.core import engine
    >>> folder = tempfile.mkdtemp()
    >>> with zipfile.ZipFile(os.path.join(folder, "export.zip"), "w") as z:
    ...     z.writestr("events.csv", "customer_id,ts,event\\nc1,2025-01-05,landing\\n")
    >>> inside = engine.unzipped_path(os.path.join(folder, "export.zip", "events.csv"))
    >>> open(inside).read().splitlines()[1]
    'c1,2025-01-05,landing'
    >>> engine.unzipped_path("data/sample/events.parquet")
    'data/sample/events.parquet'
    """
    if is_uri(path) or ".zip" not in str(path).lower():
        return path
    parts = Path(path).parts
    for i in range(1, len(parts) + 1):
        head = Path(*parts[:i])
        if head.suffix.lower() == ".zip" and not any(ch in str(head) for ch in "*?[") and head.is_file():
            return str(Path(_unzipped(head), *parts[i:]))
    return path


def _unzipped(archive: Path) -> str:
    st = archive.stat()
    key = (str(archive.resolve()), st.st_size, st.st_mtime_ns)
    if key in _UNZIPPED and Path(_UNZIPPED[key]).is_dir():
        return _UNZIPPED[key]
    top = tempfile.mkdtemp(prefix="journeylib-zip-")
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    out = os.path.join(top, archive.name)  # messages then name a file as <...>/export.zip/events.csv
    try:
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.infolist() if not m.is_dir()
                       and not any(p.startswith(".") or p == "__MACOSX" for p in Path(m.filename).parts)]
            if locked := [m.filename for m in members if m.flag_bits & 0x1]:
                raise JourneyDataError(f"{archive.name}: {locked[0]} in it is encrypted (the archive has a "
                                       "password).\nWhat to do: unpack it with the password and point "
                                       "journey.yml at the folder")
            os.makedirs(out)
            for m in members:
                target = z.extract(m, out)  # member names are made safe: no absolute paths, no ".."
                when = datetime.datetime(*m.date_time).timestamp()
                os.utime(target, (when, when))
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise JourneyDataError(f"{archive.name} is not a readable .zip archive ({exc}); expected an archive "
                               "of CSV, Parquet, JSON or workbook files.\nWhat to do: unpack it with your "
                               "archive tool and point journey.yml at the folder") from None
    except OSError as exc:
        raise JourneyDataError(f"{archive.name}: could not unpack it into the temporary folder "
                               f"({exc.strerror or exc}).\nWhat to do: free disk space there (TMPDIR), or unpack "
                               "it yourself and point journey.yml at the folder") from None
    _UNZIPPED[key] = out
    return out


def literal_path(path: str) -> str:
    """A local file path as DuckDB reads it literally: its glob characters in brackets.

    Parameters
    ----------
    path
        A file path (a URI is returned unchanged).

    Returns
    -------
    str

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.literal_path("run[1]/events.parquet")
    'run[[]1]/events.parquet'
    """
    if is_uri(path):
        return path
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in path)


def _listing_glob(pattern: str) -> str:
    """A glob that DuckDB answers by listing the store: ``.../events.parque[t]`` for ``.../events.parquet``.

    DuckDB's ``glob`` returns an object-store path without wildcards as given, whether or
    not it exists (seen with httpfs on an S3 endpoint), so a missing ``events.parquet``
    would hide the partitioned ``events/`` folder next to it. A one-character class
    makes it a real listing of that exact name.
    """
    if any(ch in pattern for ch in "*?[") or not re.match(r"[A-Za-z0-9._-]", pattern[-1:]):
        return pattern
    return f"{pattern[:-1]}[{pattern[-1]}]"


def read_text(path: str, con: ibis.BaseBackend | None = None) -> str | None:
    """A small text file (e.g. ``ground_truth.json``), local or a URI; ``None`` when missing.

    Parameters
    ----------
    path
        Local path or URI.
    con
        Connection that reads a URI (default: :func:`default_connection`).

    Returns
    -------
    str or None

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.read_text("data/sample/ground_truth.json")[:1]
    '{'
    >>> engine.read_text("data/sample/no_such_file.json") is None
    True
    """
    if not list_files(path, con):
        return None
    if not is_uri(path):
        return Path(unzipped_path(path)).read_text()
    con = con or default_connection()
    if con.name == "pyspark":
        return con._session.read.text(path, wholetext=True).collect()[0][0]
    return con.con.execute("SELECT content FROM read_text(?)", [path]).fetchall()[0][0]


def gist(exc: Exception) -> str:
    """The first lines of a reader's error (Py4J and DuckDB messages are long), without DuckDB's
    copy of a CSV line it could not read (the line holds a customer's id).

    Parameters
    ----------
    exc
        The exception.

    Returns
    -------
    str
        Its first three non-blank lines joined, at most 400 characters.

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.gist(ValueError("\\n".join(["line one", "line two", "", "line three", "line four"])))
    'line one line two line three'
    """
    lines = [ln.strip() for ln in str(exc).strip().splitlines()
             if ln.strip() and not ln.startswith("Original Line")] or [type(exc).__name__]  # a data row: ids
    return " ".join(lines[:3])[:400]


def _read_path(path: str, con: ibis.BaseBackend, table: str) -> ibis.Table:
    files = list_files(path, con)
    if not files:
        hint = ""
        if is_uri(path) and not any(ch in path for ch in "*?["):
            hint = (f"\nWhat to do: for a folder of files pass a glob such as {path.rstrip('/')}/*.parquet, "
                    "or pass the dataset's folder to load_dataset")
        raise JourneyDataError(f"{table}: file not found: {path}{hint}")
    if len(files) == 1 and not is_uri(files[0]) and Path(files[0]).is_dir():
        files = _folder_files(files[0], table)
        path = files[0] if len(files) == 1 else path
    kinds = sorted({file_kind(f) for f in files})
    if len(kinds) > 1:
        shown = ", ".join(Path(f).name for f in files[:6]) + (" ..." if len(files) > 6 else "")
        raise JourneyDataError(f"{table}: {path} matches files of different kinds ({shown}); expected one "
                               "kind (all Parquet or all CSV).\nWhat to do: remove or move the copy you do "
                               "not mean, or pass the one file to read")
    suffix, kind = Path(files[0]).suffix.lower(), kinds[0]
    try:
        # DuckDB takes a list of files (read literally); Spark and others take the path or glob itself.
        arg = [literal_path(f) for f in files] if con.name == "duckdb" else unzipped_path(path)
        spark = con.name == "pyspark"
        # several files: columns matched by name (a file may order them otherwise or add one; by
        # default DuckDB took the first file's columns and dropped a later file's extra column unseen)
        several = {"union_by_name": True} if len(files) > 1 else {}
        if kind == "parquet":
            if spark:
                return _spark_parquet(con, arg, files)
            return con.read_parquet(arg, **several)
        if kind == "excel":
            return read_excel(files, table)
        if kind == "json":  # types as written (text stays text: only ISO times are read as times)
            if spark:
                return con.read_json(arg)
            return con.read_json(arg, **several)
        if kind == "csv":
            empty = not is_uri(path) and all(Path(f).stat().st_size == 0 for f in files)
            if empty:
                raise JourneyDataError(f"{table}: {path} is empty; expected a header row and data rows")
            if wide := _wide_file_error(table, files[:20]):
                raise wide
            if spark:
                return _spark_csv(con, arg, files)
            # every column as text: types are declared by the loaders, never sniffed from the first rows
            t = con.read_csv(arg, all_varchar=True, **several)
            if len(t.columns) == 1 and _delimiter(t.columns[0] + "\n") and (ragged := _ragged_line(files)):
                # the sniffer settled on one column because a line splits otherwise than the header
                raise JourneyDataError(f"{table}: {ragged}")
            return t
    except JourneyDataError:
        raise
    except Exception as exc:  # DuckDB's reader errors are precise but deep; keep the gist
        raise read_failure(table, path, exc) from exc
    hint = ("\nWhat to do: name one archive (export.zip, or export.zip/events.csv for one file in it), or "
            "unpack the archives into one folder") if suffix == ".zip" else ""
    raise JourneyDataError(f"{table}: unsupported file type '{suffix}' ({path}); expected .csv, .parquet, JSON "
                           f"lines or a workbook (.xlsx, .xls, .ods){hint}")


EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
"""Spreadsheet workbooks read by :func:`read_excel` (calamine: Excel old and new, OpenDocument)."""


def read_excel(files: list[str], table: str = "events") -> ibis.Table:
    """Excel workbooks as one table of text columns, as a CSV is read (the loaders type the columns).

    Each workbook's sheet named ``table`` is read when there is one, else its first sheet. The
    header is the first of the top rows with (nearly) every cell filled, so a report's title and
    blank lines above the table are skipped. Date cells become ISO text (``2025-01-05 12:00:00``),
    numbers their plain text; an Excel sheet holds at most 1,048,576 rows, so a workbook is read
    in memory.

    Parameters
    ----------
    files
        ``.xlsx`` / ``.xlsm`` paths (local).
    table
        The table's name, used to pick the sheet and in messages.

    Returns
    -------
    ibis.Table
        An in-memory table.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from journeylib.core import engine
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     pd.DataFrame({"customer_id": [1001], "ts": [pd.Timestamp("2025-01-05 12:00")]}).to_excel(
    ...         f"{tmp}/events.xlsx", sheet_name="events", index=False)
    ...     engine.to_pandas(engine.read_excel([f"{tmp}/events.xlsx"]))
      customer_id                   ts
    0        1001  2025-01-05 12:00:00
    """
    return ibis.memtable(excel_frame(files, table))


def excel_frame(files: list[str], table: str = "events", nrows: int | None = None) -> pd.DataFrame:
    """The text frame :func:`read_excel` reads (``nrows``: only the first rows).

    Parameters
    ----------
    files
        ``.xlsx`` / ``.xlsm`` paths (local).
    table
        The table's name: its sheet is read when the workbook has one, else the first sheet.
    nrows
        Read only this many data rows (``0``: the header).

    Returns
    -------
    pandas.DataFrame
        Text columns (``None`` for blank cells).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from journeylib.core import engine
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     pd.DataFrame({"amount": [12.5, 7.0]}).to_excel(f"{tmp}/orders.xlsx", index=False)
    ...     engine.excel_frame([f"{tmp}/orders.xlsx"], "orders")["amount"].tolist()
    ['12.5', '7']
    """
    frames = []
    for f in files:
        try:
            with pd.ExcelFile(f, engine="calamine") as book:
                sheet = next((n for n in book.sheet_names if n.strip().lower() == table), book.sheet_names[0])
                cells = book.parse(sheet, header=None, dtype=object, nrows=None if nrows is None else nrows + 30)
        except Exception as exc:  # noqa: BLE001 - the reader's errors on a damaged or protected workbook
            raise JourneyDataError(f"{table}: could not read the workbook {f}: {gist(exc)}\nWhat to do: open it "
                                   "in Excel and save it again as .xlsx, or save the sheet as CSV") from exc
        # the header is the first of the top rows with (nearly) the most cells filled: a report's title
        # and blank lines above it are no data; a header names every column but a blank corner above
        # an index column (pandas' to_excel), and data rows may have gaps
        filled = cells.head(30).notna().sum(axis=1)
        at = int((filled >= filled.max() - 1).idxmax()) if len(filled) else 0
        df = cells.iloc[at + 1:] if nrows is None else cells.iloc[at + 1:at + 1 + nrows]
        df.columns = [_excel_text(pd.Series([c])).iloc[0] if pd.notna(c) else f"Unnamed: {i}"
                      for i, c in enumerate(cells.iloc[at] if len(cells) else [])]
        df = df.reset_index(drop=True)
        frames.append(df.apply(_excel_text).astype(object).where(df.notna(), None))
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.columns = [str(c) for c in out.columns]
    return out


def _excel_text(col: pd.Series) -> pd.Series:
    """A sheet column as text: whole numbers without ``.0``, dates and times in ISO form."""
    def text(v: Any) -> Any:
        if v is None or isinstance(v, float) and v != v:
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, datetime.datetime):  # pandas' Timestamp too
            return pd.Timestamp(v).isoformat(sep=" ")
        if isinstance(v, (datetime.date, datetime.time)):
            return v.isoformat()
        return str(v)
    return col.map(text)


TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
"""Files read as delimited text (the only ones an ``encoding`` applies to: Parquet and JSON are UTF-8)."""


def utf8_copy(path: str, encoding: str, table: str = "events") -> str:
    """The text files of a local ``path`` (a file, a folder of partitions or a glob) written as UTF-8,
    for readers that read UTF-8 only; the copies live in a temporary folder removed when the
    process ends, the input is never touched.

    A file that is valid UTF-8 with characters beyond ASCII is an error: a single-byte
    encoding such as ``cp1252`` would read it without a complaint, and wrongly (``KÃ¼hne``).

    Parameters
    ----------
    path
        The source's path (local: a URI is read by the engine, which reads UTF-8).
    encoding
        A Python codec name: ``cp1252`` (Excel's plain CSV in Western Europe), ``latin-1``,
        ``utf-16`` (Excel's "Unicode text")...
    table
        The source's name, for messages.

    Returns
    -------
    str
        A path of the same shape (file, folder or glob) over the UTF-8 copies.

    Examples
    --------
    >>> import os, tempfile
    >>> from journeylib.core import engine
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "events.csv"), "wb") as f:
    ...     _ = f.write("customer_id,ts,event\\nKühne,2025-01-05,landing\\n".encode("cp1252"))
    >>> copy = engine.utf8_copy(os.path.join(folder, "events.csv"), "cp1252")
    >>> open(copy, encoding="utf-8").read().splitlines()[1]
    'Kühne,2025-01-05,landing'
    """
    import codecs

    if is_uri(path):
        raise JourneyParameterError(f"{table}: encoding applies to local files; {path} is read by the engine as "
                                    "UTF-8: convert the files to UTF-8 where they are stored")
    path = unzipped_path(path)
    files = [f for p in _local_files(path) for f in (sorted(str(x) for x in Path(p).rglob("*") if x.is_file())
                                                       if Path(p).is_dir() else [p])]
    files = [f for f in files if not Path(f).name.startswith((".", "_"))]
    other = [f for f in files if not f.lower().endswith(TEXT_SUFFIXES)]
    if other or not files:
        raise JourneyParameterError(f"{table}: encoding applies to CSV and TSV files; {other[0] if other else path} is "
                                    "not one (Parquet, JSON and workbooks are read in their own encoding): remove the "
                                    "encoding key")
    root = Path(path) if Path(path).is_dir() else None
    out = tempfile.mkdtemp(prefix="journeylib-utf8-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    for f in files:
        rel = Path(f).relative_to(root) if root is not None else Path(f).name
        target = Path(out) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open if f.lower().endswith(".gz") else open
        target = target.with_suffix("") if f.lower().endswith(".gz") else target
        utf8 = codecs.getincrementaldecoder("utf-8")()
        still_utf8, beyond_ascii = True, False
        with opener(f, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
            decoder = codecs.getincrementaldecoder(encoding)()
            while chunk := src.read(1 << 22):
                if still_utf8:
                    try:
                        utf8.decode(chunk)
                        beyond_ascii = beyond_ascii or not chunk.isascii()
                    except UnicodeDecodeError:
                        still_utf8 = False
                try:
                    dst.write(decoder.decode(chunk))
                except UnicodeDecodeError as exc:
                    raise JourneyDataError(f"{table}: {f} is not {encoding}: byte {exc.object[exc.start:exc.end]!r} "
                                           f"has no character in it. What to do: give the encoding the file is "
                                           f"written in (cp1252 for Excel's plain CSV in Western Europe, latin-1, "
                                           f"utf-16)") from None
            dst.write(decoder.decode(b"", final=True))
        if still_utf8 and beyond_ascii and not codecs.lookup(encoding).name.startswith("utf-8"):  # with a BOM too
            raise JourneyDataError(f"{table}: {f} is UTF-8 (its characters beyond ASCII read as UTF-8), not "
                                   f"{encoding}: read as {encoding} its names would be garbled. What to do: remove "
                                   "the encoding key")
    if root is not None:
        return out
    return str(target) if Path(path).is_file() else os.path.join(out, "*")


_ENCODING_HINT = ("\nWhat to do: the file is not UTF-8 (Excel's plain \"CSV\" is written in the Windows encoding): "
                  "give the source encoding: cp1252 in journey.yml (journeylib init writes it), save the file as "
                  "\"CSV UTF-8\", or point journey.yml at the .xlsx workbook itself")
_BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
                     (b"\xfe\xff", "utf-16"))


def wide_encoding(path: str | os.PathLike) -> str | None:
    """``"utf-16"`` or ``"utf-32"`` (or ``"utf-16-le"`` / ``"-be"`` without a byte-order mark) when a
    local text file is written in two or four bytes per character, else ``None``.

    Excel's "Unicode Text" and many Windows tools save such files. Read as UTF-8 their names
    come out with a NUL between letters, so they are told apart from the first bytes: a
    byte-order mark, or a NUL in every other byte of mostly ASCII text. A single-byte file
    (UTF-8, Windows-1252) gives ``None``.

    Parameters
    ----------
    path
        A local file, optionally gzip-compressed.

    Returns
    -------
    str or None
        A Python codec name to give as the source's ``encoding``, or ``None``.

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.core import engine
    >>> path = tempfile.mkdtemp() + "/export.csv"
    >>> _ = open(path, "w", encoding="utf-16").write("customer_id\\tts\\nC1\\t2025-01-05\\n")
    >>> engine.wide_encoding(path)
    'utf-16'
    >>> _ = open(path, "w", encoding="utf-8").write("customer_id,ts\\nKühne,2025-01-05\\n")
    >>> engine.wide_encoding(path) is None
    True
    """
    path = os.fspath(path)
    try:
        with (gzip.open if path.lower().endswith(".gz") else open)(path, "rb") as f:
            head = f.read(4096)
    except (OSError, EOFError):
        return None
    for mark, name in _BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return name
    head = head[:len(head) // 2 * 2]
    if len(head) < 8:
        return None
    even, odd = head[0::2].count(0) / (len(head) // 2), head[1::2].count(0) / (len(head) // 2)
    if odd > 0.5 and even < 0.05:  # "c\0u\0s\0": ASCII letters, each followed by a NUL
        return "utf-16-le"
    if even > 0.5 and odd < 0.05:
        return "utf-16-be"
    return None


def _wide_file_error(table: str, files: list[str]) -> JourneyDataError | None:
    """The error for local text files written in UTF-16 or UTF-32, which read as UTF-8 give names with NULs."""
    for f in files:
        if not is_uri(f) and Path(f).is_file() and (wide := wide_encoding(f)):
            return JourneyDataError(
                f"{table}: {Path(f).name} is {wide.upper()} (as Excel's \"Unicode Text\" saves it), not UTF-8.\n"
                f"What to do: give the source encoding: {wide} in journey.yml (journeylib init writes it), or save "
                "the file as \"CSV UTF-8\"")
    return None


_CSV_ROW_ADVICE = ("a value holding the delimiter outside quotes, or a line of totals or notes above or below the "
                   "data, shifts the columns.\nWhat to do: quote such values (spreadsheets do when saving as CSV) or "
                   "delete the line; the file is read as it is and never changed")


MEMORY_ADVICE = ("What to do: give DuckDB more memory (JOURNEYLIB_DUCKDB_MEMORY_LIMIT, e.g. 8GB; unset, DuckDB may "
                 "use 80% of the machine's memory), run fewer notebooks at once (journeylib run-all --jobs 1), "
                 "or analyse a shorter period")


def memory_failure(exc: Exception) -> JourneyMemoryError | None:
    """DuckDB's out-of-memory error in words, with what to do (else ``None``).

    Parameters
    ----------
    exc
        An exception from a query.

    Returns
    -------
    JourneyMemoryError or None
        To raise (``from exc``), or ``None`` when ``exc`` is no such error.

    Examples
    --------
    >>> import duckdb
    >>> from journeylib.core import engine
    >>> exc = duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 2.0 MiB "
    ...                                   "(2.3 GiB/2.3 GiB used)\\n\\nPossible solutions: ...")
    >>> print(engine.memory_failure(exc))  # doctest: +NORMALIZE_WHITESPACE
    the engine ran out of memory in this step (DuckDB: failed to allocate data of size 2.0 MiB (2.3 GiB/2.3 GiB used)).
    What to do: give DuckDB more memory (JOURNEYLIB_DUCKDB_MEMORY_LIMIT, e.g. 8GB; unset, DuckDB may use 80% of the
    machine's memory), run fewer notebooks at once (journeylib run-all --jobs 1), or analyse a shorter period
    >>> engine.memory_failure(ValueError("no")) is None
    True
    """
    if not isinstance(exc, duckdb.OutOfMemoryException):
        return None
    first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    first = first.removeprefix("Out of Memory Error:").strip()
    return JourneyMemoryError(f"the engine ran out of memory in this step (DuckDB: {first}).\n{MEMORY_ADVICE}")


def csv_row_failure(exc: Exception) -> JourneyDataError | None:
    """DuckDB's or Spark's error on a CSV line it cannot split into the header's columns, in words (else ``None``).

    The error names the file, the line and its number of fields, not the line itself,
    which holds a customer's id (a report shows the error).

    Parameters
    ----------
    exc
        An exception from a query reading a CSV file.

    Returns
    -------
    JourneyDataError or None
        To raise (``from exc``), or ``None`` when ``exc`` is no such error.

    Examples
    --------
    >>> from journeylib.core import engine
    >>> exc = ValueError("Invalid Input Error: CSV Error on Line: 45001\\nOriginal Line: C1,2025-01-01,buy,x\\n"
    ...                  "Expected Number of Columns: 3 Found: 4\\n  file = shop.csv\\n")
    >>> print(engine.csv_row_failure(exc))
    shop.csv: line 45001 has 4 fields where the header has 3: a value holding the delimiter outside quotes, or a line of totals or notes above or below the data, shifts the columns.
    What to do: quote such values (spreadsheets do when saving as CSV) or delete the line; the file is read as it is and never changed
    """
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    if line is None and "MALFORMED_CSV_RECORD" in text:  # Spark (read in FAILFAST mode) names no line
        file = re.search(r"reading file (\S+?)\.?\s", text)
        local = file[1].removeprefix("file://") if file and file[1].startswith(("file:", "/")) else None
        return JourneyDataError((local and _ragged_line([local])) or f"{Path(file[1]).name if file else 'a CSV file'}: "
                                f"a line has another number of fields than the header: {_CSV_ROW_ADVICE}")
    if line is None:
        return None
    file = re.search(r"^\s*file = (.+?)\s*$", text, re.M)
    where = f"{Path(file[1]).name if file else 'a CSV file'}: line {line[1]}"
    if fields := re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text):
        return JourneyDataError(f"{where} has {fields[2]} fields where the header has {fields[1]}: {_CSV_ROW_ADVICE}")
    if "invalid unicode" in text.lower():
        return JourneyDataError(f"{where} is not UTF-8{_ENCODING_HINT}")
    return None


def open_text(path: str | os.PathLike) -> IO[str]:
    """A local text file (``.gz`` read through gzip) opened as the CSV module reads it.

    UTF-8 with its byte-order mark dropped, undecodable bytes replaced (the encoding is
    checked elsewhere), line ends kept for :mod:`csv`.

    Parameters
    ----------
    path
        A local file, optionally gzip-compressed.

    Returns
    -------
    typing.IO[str]
        The open file, to use in a ``with`` block.

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.core import engine
    >>> path = tempfile.mkdtemp() + "/a.csv"
    >>> _ = open(path, "w", encoding="utf-8-sig").write("customer_id,ts\\n")
    >>> with engine.open_text(path) as f:
    ...     f.readline()
    'customer_id,ts\\n'
    """
    path = os.fspath(path)
    opener = gzip.open if path.lower().endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="")


def _ragged_line(files: list[str]) -> str | None:
    """The first line of a local CSV with another number of fields than its header, in words."""
    for f in files:
        if is_uri(f) or not f.lower().endswith((".csv", ".tsv", ".txt", ".gz")):
            continue
        try:
            with open_text(f) as src:
                rows = iter(csv.reader(src, delimiter=_delimiter(_first_data_line(f)) or ","))
                header = next((r for r in rows if r and not r[0].startswith("#")), None)
                for row in rows:
                    if header is not None and row and len(row) != len(header):
                        return (f"{Path(f).name}: line {rows.line_num} has {len(row)} fields where the header has "
                                f"{len(header)}: {_CSV_ROW_ADVICE}")
        except (OSError, csv.Error):
            continue
    return None


def _first_data_line(file: str) -> str | None:
    """The header line of a local CSV, after notes lines starting with ``#`` (as DuckDB skips them)."""
    try:
        with open_text(file) as f:
            return next((ln for ln in f if ln.strip() and not ln.startswith("#")), None)
    except OSError:
        return None


def read_failure(table: str, path: str, exc: Exception) -> JourneyDataError:
    """The error for a file a reader could not read: the reader's gist and what to do.

    Parameters
    ----------
    table
        The table (or step) reading, for the message.
    path
        The file, glob or URI.
    exc
        The reader's exception.

    Returns
    -------
    JourneyDataError
        To raise (``from exc``).

    Examples
    --------
    >>> from journeylib.core import engine
    >>> print(engine.read_failure("events", "shop.csv", ValueError("Invalid unicode detected")))
    events: could not read shop.csv: Invalid unicode detected
    What to do: the file is not UTF-8 (Excel's plain "CSV" is written in the Windows encoding): give the source encoding: cp1252 in journey.yml (journeylib init writes it), save the file as "CSV UTF-8", or point journey.yml at the .xlsx workbook itself
    """
    if (row := csv_row_failure(exc)) is not None:
        return JourneyDataError(f"{table}: {row}")
    if "sniffing file" in str(exc) and not is_uri(path):  # a line that does not split as the header does
        ragged = _ragged_line([f for p in _local_files(path) for f in (_folder_files(p, table) if Path(p).is_dir()
                                                                     else [p])])
        if ragged:
            return JourneyDataError(f"{table}: {ragged}")
    hint = ""
    if "invalid unicode" in str(exc).lower() or "utf-8' codec" in str(exc).lower():
        hint = _ENCODING_HINT
    elif is_uri(path):
        hint = f"\nWhat to do: {_STORAGE_HINT}"
    return JourneyDataError(f"{table}: could not read {path}: {gist(exc)}{hint}")


JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
"""JSON files (lines, or one array) that a canonical source may be, read by the engine's JSON reader."""


def file_kind(f: str) -> str:
    """What reads a data file: ``"parquet"``, ``"csv"`` (also ``.tsv``, ``.txt`` and a plain ``.gz``),
    ``"json"``, ``"excel"``, else its suffix (``"folder"`` without one).

    Parameters
    ----------
    f
        A file name or path.

    Returns
    -------
    str

    Examples
    --------
    >>> from journeylib.core import engine
    >>> [engine.file_kind(f) for f in ["a.parquet", "a.csv.gz", "a.jsonl.gz", "a.xlsx", "a.zip"]]
    ['parquet', 'csv', 'json', 'excel', '.zip']
    """
    low = f.lower()
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    if low.endswith(JSON_SUFFIXES):
        return "json"
    if low.endswith((".csv", ".txt", ".tsv", ".gz")):
        return "csv"
    if low.endswith(EXCEL_SUFFIXES):
        return "excel"
    return Path(f).suffix.lower() or "folder"


def _folder_files(folder: str, table: str) -> list[str]:
    """The data files of a folder: top-level files or ``key=value`` partition folders, not both."""
    top = sorted(str(f) for f in Path(folder).iterdir() if f.is_file() and not f.name.startswith((".", "_", "~$"))
                 and file_kind(f.name) in ("parquet", "csv", "json", "excel"))
    nested = sorted(str(f) for f in Path(folder).rglob("*") if f.is_file() and f.parent != Path(folder)
                    and not f.name.startswith((".", "_", "~$"))
                    and file_kind(f.name) in ("parquet", "csv", "json", "excel"))
    if top and nested:
        raise JourneyDataError(
            f"{table}: {folder} holds data files at its top ({', '.join(Path(f).name for f in top[:3])}) beside "
            f"files in sub-folders ({', '.join(str(Path(f).relative_to(folder)) for f in nested[:3])}); "
            "expected one layout (files, or partition folders such as month=2024-01/).\nWhat to do: move the "
            "stray files out of the folder")
    files = top or nested
    if not files:
        raise JourneyDataError(f"{table}: {folder} is a folder without Parquet, CSV or Excel files")
    return files


def table_files(folder: str, name: str, con: ibis.BaseBackend | None = None) -> str | None:
    """The source of table ``name`` in a dataset folder: ``name.parquet``, ``name.csv``, ``name.xlsx``
    or a folder ``name/``.

    Two of them at once is a :class:`JourneyDataError` naming them.

    Parameters
    ----------
    folder
        The dataset folder (local or URI).
    name
        ``"events"``, ``"customers"`` or ``"assignments"``.
    con
        Connection that lists a URI.

    Returns
    -------
    str or None
        The path, or ``None`` when the folder has no such table.

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.table_files("data/sample", "events")
    'data/sample/events.parquet'
    """
    found = [f"{folder}/{name}{ext}" for ext in (".parquet", ".csv", ".xlsx")
             if list_files(f"{folder}/{name}{ext}", con)]
    sub = f"{folder}/{name}"
    if not is_uri(sub) and Path(unzipped_path(sub)).is_dir():
        found.append(sub)
    if len(found) > 1:
        raise JourneyDataError(f"{folder}: {name} is there {len(found)} times ({', '.join(Path(f).name for f in found)}); "
                               "expected one source per table.\nWhat to do: remove or rename the copy you do not mean")
    return found[0] if found else None


def _spark_parquet(con: ibis.BaseBackend, path: str, files: list[str]) -> ibis.Table:
    """Read Parquet on Spark with hive partition columns (``month=2024-01/``) as DuckDB shows them.

    DuckDB adds the ``key=value`` folder names of a globbed path as columns; Spark does so
    for a glob only when told where the partitioned table starts (``basePath``). Paths
    are split as text, so local paths and URIs alike.
    """
    from ibis import util

    reader = con._session.read
    parts = path.split("/")
    wild = next((i for i, p in enumerate(parts) if any(ch in p for ch in "*?[")), None)
    if wild is not None:
        depth = len(parts) - wild  # path components from the first wildcard to the file name
        rel_dirs = {q for f in files for q in f.split("/")[-depth:-1]}
        if rel_dirs and all("=" in q for q in rel_dirs):
            reader = reader.option("basePath", "/".join(parts[:wild]))
    if len(files) > 1:
        reader = reader.option("mergeSchema", "true")  # columns by name across files, as DuckDB's union_by_name
    name = util.gen_name("read_parquet")
    reader.parquet(path).createOrReplaceTempView(name)
    return con.table(name)


def _spark_csv(con: ibis.BaseBackend, path: str, files: list[str]) -> ibis.Table:
    """CSV files on Spark, columns matched by name as DuckDB's ``union_by_name`` does: Spark takes
    the first file's header for every file (by position), so files whose headers differ are read
    one by one and stacked by column name."""
    headers = [_csv_header(f) for f in files] if not is_uri(files[0]) else [None]
    if len(files) == 1 or None in headers or all(h == headers[0] for h in headers):
        return con.read_csv(path, **_spark_csv_options(files[0]))
    parts = [con.read_csv(f, **_spark_csv_options(f)) for f in files]
    names = list(dict.fromkeys(c for t in parts for c in t.columns))
    return ibis.union(*[t.select(*[t[c].cast("string") if c in t.columns else ibis.null("string").name(c)
                                   for c in names]) for t in parts], distinct=False)


def _first_line(file: str) -> str | None:
    """A local, uncompressed CSV's header line (``None`` for a URI or a ``.gz``)."""
    if is_uri(file) or file.lower().endswith(".gz"):
        return None
    try:
        with open(file, encoding="utf-8-sig", errors="replace", newline="") as f:
            return f.readline()
    except OSError:
        return None


def _delimiter(line: str | None) -> str | None:
    try:
        return csv.Sniffer().sniff(line.rstrip("\r\n") + "\n", delimiters=",;\t|").delimiter if line else None
    except csv.Error:  # one column: Spark's default
        return None


def _csv_header(file: str) -> tuple[str, ...] | None:
    """A local CSV's column names (its first line, split at the sniffed delimiter)."""
    line = _first_line(file)
    return None if line is None else tuple(next(csv.reader([line], delimiter=_delimiter(line) or ","), []))


def _spark_csv_options(first: str) -> dict[str, Any]:
    """Spark reads CSV columns as text, like DuckDB here (types are declared by the loaders), with
    the delimiter DuckDB's reader would find: Spark takes "," unless told (a European export
    writes ";"), so it is sniffed from the first file's header line. A line with more or fewer
    fields than the header stops the read, as in DuckDB (Spark's default pads or cuts it unseen).
    Quoted values may hold line breaks and doubled quotes (``"the ""best"" shop"``), as CSV writes
    them and DuckDB reads them; a file is then read by one task, not split."""
    options: dict[str, Any] = {"inferSchema": False, "header": True, "mode": "FAILFAST", "multiLine": True,
                               "escape": '"'}
    sep = _delimiter(_first_line(first))
    return options | ({"sep": sep} if sep else {})


def shift_within(t: ibis.Table, by: str, order: list[ibis.Value], periods: int = 1, *, large: bool = False,
                 **values: ibis.Value) -> ibis.Table:
    """``t`` plus each of ``values`` taken from another row of the same ``by`` group.

    Like pandas' ``groupby(by).shift(periods)`` in ``order``: ``periods=1`` takes the
    previous row (SQL ``LAG``), ``-1`` the next one (``LEAD``); null where the group
    has no such row. Spark, and DuckDB for a ``large`` table, run a window partitioned
    by ``by``. Otherwise DuckDB sorts once by ``(by, *order)`` and nulls a value whose
    neighbour is in another group: over a million small partitions its window costs
    1.1-1.2x that one sort at 10^7 events, but the one sort spills as a whole
    beyond its memory limit (10^8 events under 4 GB: 56 s against 20 s for the
    partitioned window, whose partitions spill one by one). Spark without partitions
    would move every row to one task.

    Parameters
    ----------
    t
        The table.
    by
        Group column (e.g. ``customer_id``).
    order
        Order within a group (expressions of ``t``).
    periods
        Row offset: 1 the previous row, -1 the next one (not 0).
    large
        ``t`` holds more than one customer bucket of rows (:func:`journeylib.core.buckets.n_buckets`).
    **values
        New column name = expression to take from the other row.

    Returns
    -------
    ibis.Table
        ``t`` with the new columns (row order not guaranteed: sort before reading).

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"customer_id": ["a", "a", "b"], "t": [1, 2, 1],
    ...                    "event": ["landing", "purchase", "landing"]})
    >>> out = engine.shift_within(t, "customer_id", [t.t], previous=t.event)
    >>> engine.to_pandas(out.order_by(["customer_id", "t"]))["previous"].tolist()
    [None, 'landing', None]
    """
    if periods == 0:
        raise JourneyParameterError("periods: expected a non-zero row offset (1: previous row, -1: next row)")

    def shift(v: ibis.Value, w) -> ibis.Value:
        return (v.lag(periods) if periods > 0 else v.lead(-periods)).over(w)

    if large or backend_name(t) == "pyspark":
        w = ibis.window(group_by=t[by], order_by=order)
        return t.mutate(**{k: shift(v, w) for k, v in values.items()})
    w = ibis.window(order_by=[t[by], *order])
    same = shift(t[by], w) == t[by]
    return t.mutate(**{k: ibis.ifelse(same, shift(v, w), ibis.null(v.type())) for k, v in values.items()})


def read_parquet(con: ibis.BaseBackend, pattern: str | Path, table_name: str | None = None) -> ibis.Table:
    """Parquet files written by the engine, read back with timestamps typed as the loaders type them.

    A stored ``TIMESTAMPTZ`` can read back with an explicit microsecond scale, which Ibis does not
    treat as the same type in a union or join.

    Parameters
    ----------
    con
        The DuckDB connection.
    pattern
        File or glob of the Parquet files.
    table_name
        Name of the view (default: generated).

    Returns
    -------
    ibis.Table

    Examples
    --------
    >>> import ibis, tempfile
    >>> from journeylib.core import engine
    >>> con = ibis.duckdb.connect()
    >>> path = tempfile.mkdtemp() + "/t.parquet"
    >>> con.to_parquet(ibis.memtable({"ts": pd.to_datetime(["2024-01-01"], utc=True)}), path)
    >>> engine.read_parquet(con, path).schema()["ts"]
    Timestamp(timezone='UTC', scale=None, nullable=True)
    """
    t = con.read_parquet(str(pattern), table_name=table_name)
    casts = {c: dt.Timestamp(timezone=typ.timezone) for c, typ in t.schema().items()
             if typ.is_timestamp() and typ.scale is not None}
    return t.cast(casts) if casts else t


def once_per_run(expr: ibis.Table) -> ibis.Table:
    """``expr`` computed once per report run and read back, when other notebooks build it alike.

    Over the run's shared copy (:func:`journeylib.core.shared_results.stored`) the first
    notebook writes the result and every one reads the file, through a view whose name carries
    the key of its SQL, so the queries over it are shared too. Anything else (no run, another
    engine, a table that does not read the copy alone) gets ``expr`` back unchanged.

    Parameters
    ----------
    expr
        A table expression that several notebooks of a run compute alike (such as the
        customers' churn labels).

    Returns
    -------
    ibis.Table
        The stored result, or ``expr`` itself.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"n": [1, 2]})
    >>> engine.once_per_run(t) is t  # not the run's shared copy: nothing stored
    True
    """
    con = expr._find_backend(use_default=True)
    if getattr(con, "name", None) == "duckdb" and (path := shared_results.stored(expr)) is not None:
        return read_parquet(con, path, table_name=f"{shared_results.VIEW_PREFIX}{path.stem}")
    return expr


@contextmanager
def materialized(expr: ibis.Table, *, reused: bool = False) -> Iterator[ibis.Table]:
    """A small intermediate computed once and read by several later queries.

    A temporary table on DuckDB (and other SQL backends), a persisted DataFrame on
    Spark; dropped when the ``with`` block ends. When DuckDB cannot hold it within its memory
    limit, the expression itself is yielded and every later query computes it again. Ibis' ``Table.cache()`` cannot be
    released on DuckDB with sqlglot >= 30 (its DROP statement renders empty), so the
    table is dropped here with plain SQL.

    Parameters
    ----------
    expr
        The (small) table expression to compute once.
    reused
        Other notebooks of a report run build the same table: over the run's shared copy it
        is computed once per run instead (:func:`journeylib.core.shared_results.stored`).

    Returns
    -------
    contextlib.AbstractContextManager
        Yields the computed table inside the ``with`` block.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> t = ibis.memtable({"event": ["landing", "purchase", "landing"]})
    >>> with engine.materialized(t.filter(t.event == "landing")) as landings:
    ...     landings.count().to_pyarrow().as_py()
    2
    """
    con = expr._find_backend(use_default=True)
    if con.name == "pyspark":
        con._run_pre_execute_hooks(expr)  # Ibis' Spark cache() does not register in-memory inputs itself
        with expr.cache() as cached:
            yield cached
        return
    if reused and (shared := once_per_run(expr)) is not expr:
        yield shared
        return
    name = ibis.util.gen_name("journeylib")
    try:
        cached = con.create_table(name, expr, temp=True)
    except duckdb.OutOfMemoryException:
        # Larger than DuckDB's memory limit (an in-memory temporary table cannot spill): the later
        # queries compute the expression again instead, which streams and spills like any query.
        con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        yield expr
        return
    try:
        yield cached
    finally:
        con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        release_memory()


def _malloc_trim() -> Any:
    if not hasattr(os, "sysconf"):  # Windows
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None


_MALLOC_TRIM = _malloc_trim()


def release_memory() -> None:
    """Give the memory freed by fetched results and dropped frames back to the operating system.

    glibc keeps freed memory in its arenas, one per thread that allocated it, until it is
    trimmed. After the abandoned-cart query at 10^8 events, a process holding 1.5 GB of
    results stayed at 4.4 GB resident once the results were dropped (1.7 GB after this call),
    and the next step's memory came on top. DuckDB's own buffers come from its jemalloc, not
    from glibc, and are not touched (at the 10^8 set-up they held 3.75 GB while glibc's heap
    held 0.13 GB).
    :func:`to_pandas` and every report section call this; without glibc it does nothing.

    Returns
    -------
    None

    Examples
    --------
    >>> from journeylib.core import engine
    >>> engine.release_memory()
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def to_pandas(expr: ibis.Expr) -> pd.DataFrame:
    """Execute an (aggregating) expression and return a pandas DataFrame.

    Parameters
    ----------
    expr
        An Ibis table or column expression (a column becomes a one-column frame).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import ibis
    >>> import journeylib as jl
    >>> t = ibis.memtable({"event": ["landing", "purchase", "landing"]})
    >>> jl.to_pandas(t.group_by("event").aggregate(n=t.count()).order_by("event"))
          event  n
    0   landing  2
    1  purchase  1
    """
    try:
        out = shared_results.fetch(expr)  # computed once per report run when it reads only the run's shared tables
    except Exception as exc:  # out of memory; a CSV line past the lines DuckDB sniffed the columns from, or any on Spark
        err = memory_failure(exc) or csv_row_failure(exc)
        if err is None:
            raise
        raise err from exc
    release_memory()  # what converting the result freed
    return out if isinstance(out, pd.DataFrame) else out.to_frame()
