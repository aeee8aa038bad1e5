"""Where the engine half runs: an Ibis connection, DuckDB by default.

Every analysis scans the event log with Ibis expressions and brings back only a
small aggregate with :func:`to_pandas`. A pandas DataFrame is accepted anywhere a
table is; it becomes an in-memory table (``ibis.memtable``) of the same engine.
"""
from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import ibis
import pandas as pd

from .errors import JourneyDataError, JourneyParameterError

_DEFAULT: ibis.BaseBackend | None = None

TableLike = "pd.DataFrame | ibis.Table | str | Path"


def connect(target: Any = None, *, threads: int | None = None,
            memory_limit: str | None = None, temp_directory: str | None = None) -> ibis.BaseBackend:
    """Return an Ibis connection and make it the default for journeylib.

    Parameters
    ----------
    target
        ``None`` or ``"duckdb"``: an embedded in-memory DuckDB (the default).
        A path ending in ``.duckdb``/``.db``: a DuckDB database file.
        ``"spark"`` (a local SparkSession), a Spark master URL (``"spark://host:7077"``,
        ``"local[4]"``, ``"yarn"``) or an existing ``SparkSession``: Ibis' PySpark backend.
        An existing Ibis connection (any backend Ibis supports) is used as is.
    threads, memory_limit, temp_directory
        DuckDB knobs for out-of-core work (e.g. ``memory_limit="4GB"``,
        ``temp_directory="/scratch"`` where DuckDB spills, in a folder of this process's own
        that is removed at exit; default: the system's temporary folder). When not given, the
        environment variables ``JOURNEYLIB_DUCKDB_THREADS``, ``JOURNEYLIB_DUCKDB_MEMORY_LIMIT``
        and ``JOURNEYLIB_DUCKDB_TEMP_DIRECTORY`` are used (handy for scheduled notebook runs).
    """
    global _DEFAULT
    if isinstance(target, ibis.BaseBackend):
        con = target
    elif type(target).__name__ == "SparkSession":
        con = _spark(target)
    elif isinstance(target, str) and (target == "spark" or target.startswith(("spark://", "local", "yarn", "k8s://"))):
        con = _spark(target)
    elif target is None or target in ("duckdb", ":memory:") or isinstance(target, (str, Path)):
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
        raise JourneyParameterError(
            f"connect() got {type(target).__name__}; expected None, 'duckdb', a DuckDB file path, "
            "'spark', a Spark master URL, a SparkSession or an Ibis connection"
        )
    _DEFAULT = con
    ibis.set_backend(con)
    return con


def _spark(target: Any) -> ibis.BaseBackend:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise JourneyParameterError(
            "the Spark engine needs pyspark: pip install 'journeylib[spark]' (and Java 17)"
        ) from None
    if isinstance(target, str):
        master = "local[2]" if target == "spark" else target
        session = (SparkSession.builder.master(master).appName("journeylib")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "8")
                   .getOrCreate())
    else:
        session = target
        session.conf.set("spark.sql.session.timeZone", "UTC")
    return ibis.pyspark.connect(session)


def default_connection() -> ibis.BaseBackend:
    """The connection used when none is given (created on first use)."""
    return _DEFAULT if _DEFAULT is not None else connect()


def to_table(source: Any, con: ibis.BaseBackend | None = None, *, table: str = "events") -> ibis.Table:
    """Turn a DataFrame, an Ibis table or a CSV/Parquet path (or glob) into an Ibis table.

    The source is never modified: a DataFrame is wrapped, files are only read.
    """
    if isinstance(source, ibis.Table):
        return source
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
        t = ibis.memtable(df)
        # An object column without a single value (an empty frame) has no type; DuckDB
        # cannot make a table of it. Declared as text, the values stay as they are.
        if any(typ.is_null() for typ in t.schema().types):
            t = ibis.memtable(df, schema=ibis.schema({n: "string" if typ.is_null() else typ
                                                      for n, typ in t.schema().items()}))
        return t
    if isinstance(source, (str, Path)):
        return _read_path(str(source), con, table)
    raise JourneyDataError(
        f"{table}: cannot read a {type(source).__name__}; expected a pandas DataFrame, "
        "an Ibis table, or a path to a CSV or Parquet file"
    )


def distinct_values(t: ibis.Table, col: str) -> list[str]:
    """The distinct non-missing values of a (small-cardinality) column, as sorted text."""
    return sorted(to_pandas(t.select(col).distinct())[col].dropna().astype(str))


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
    """``scheme://...`` (object store, HDFS, ``file://``): listed and read by the engine, not by Python."""
    return isinstance(path, str) and bool(_URI.match(path))


def list_files(pattern: str, con: ibis.BaseBackend | None = None) -> list[str]:
    """Files (or folders, for a plain local path) matching a path or glob, sorted.

    Local paths are globbed here. A URI is listed by the engine that will read it, so
    each sees the same files: Spark through its Hadoop file system (any scheme with a
    connector on the classpath), DuckDB through its ``glob`` function (``file://``, and
    ``s3://``/``gs://``/``https://`` with httpfs).
    """
    if not is_uri(pattern):
        if any(ch in pattern for ch in "*?["):
            return sorted(glob.glob(pattern))
        return [pattern] if Path(pattern).exists() else []
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
        raise JourneyDataError(f"cannot list {pattern} on {con.name}: {_gist(exc)}\n"
                               f"What to do: {_STORAGE_HINT}") from exc
    raise JourneyDataError(f"{pattern}: URIs are listed and read by DuckDB or Spark, not by {con.name}; "
                           "read the table with your connection and pass the Ibis table instead")


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
    """A small text file (e.g. ``ground_truth.json``), local or a URI; ``None`` when missing."""
    if not list_files(path, con):
        return None
    if not is_uri(path):
        return Path(path).read_text()
    con = con or default_connection()
    if con.name == "pyspark":
        return con._session.read.text(path, wholetext=True).collect()[0][0]
    return con.con.execute("SELECT content FROM read_text(?)", [path]).fetchall()[0][0]


def _gist(exc: Exception) -> str:
    """The first lines of a reader's error (Py4J and DuckDB messages are long)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()] or [type(exc).__name__]
    return " ".join(lines[:3])[:400]


def _read_path(path: str, con: ibis.BaseBackend, table: str) -> ibis.Table:
    files = list_files(path, con)
    if not files:
        hint = ""
        if is_uri(path) and not any(ch in path for ch in "*?["):
            hint = (f"\nWhat to do: for a folder of files pass a glob such as {path.rstrip('/')}/*.parquet, "
                    "or pass the dataset's folder to load_dataset")
        raise JourneyDataError(f"{table}: file not found: {path}{hint}")
    suffix = Path(files[0]).suffix.lower()
    try:
        # DuckDB takes a list of files; Spark and others take the path or glob itself.
        arg = files if con.name == "duckdb" else path
        spark = con.name == "pyspark"
        if suffix in (".parquet", ".pq"):
            if spark:
                return _spark_parquet(con, path, files)
            return con.read_parquet(arg)
        if suffix in (".csv", ".txt", ".tsv", ".gz"):
            empty = not is_uri(path) and all(Path(f).stat().st_size == 0 for f in files)
            if empty:
                raise JourneyDataError(f"{table}: {path} is empty; expected a header row and data rows")
            if spark:
                return con.read_csv(arg, **_spark_csv_options(con, path))
            return con.read_csv(arg)
    except JourneyDataError:
        raise
    except Exception as exc:  # DuckDB's reader errors are precise but deep; keep the gist
        hint = ""
        if "unicode" in str(exc).lower() or "utf" in str(exc).lower():
            hint = ("\nWhat to do: the file is not UTF-8; re-save it as UTF-8, or read it with "
                    "pandas.read_csv(..., encoding='latin-1') and pass the DataFrame")
        elif is_uri(path):
            hint = f"\nWhat to do: {_STORAGE_HINT}"
        raise JourneyDataError(f"{table}: could not read {path}: {_gist(exc)}{hint}") from exc
    raise JourneyDataError(f"{table}: unsupported file type '{suffix}' ({path}); expected .csv or .parquet")


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
    name = util.gen_name("read_parquet")
    reader.parquet(path).createOrReplaceTempView(name)
    return con.table(name)


def _spark_csv_options(con: ibis.BaseBackend, path: str) -> dict[str, Any]:
    """Spark CSV schema inference, with DuckDB's rule for ids: integers written with
    leading zeros (``00042``) stay text, so ``customer_id`` keeps its zeros."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    session = con._session
    typed = session.read.csv(path, header=True, inferSchema=True)
    ints = [f.name for f in typed.schema.fields
            if isinstance(f.dataType, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.DecimalType))]
    if not ints:
        return {}
    raw = session.read.csv(path, header=True, inferSchema=False)
    flags = raw.agg(*[F.max(raw[c].rlike(r"^\s*[+-]?0[0-9]").cast("int")).alias(f"_z{i}")
                      for i, c in enumerate(ints)]).collect()[0]
    keep = {c for i, c in enumerate(ints) if flags[f"_z{i}"]}
    if not keep:
        return {}
    schema = T.StructType([T.StructField(f.name, T.StringType() if f.name in keep else f.dataType, True)
                           for f in typed.schema.fields])
    return {"schema": schema}


def _backend_name(t: ibis.Table) -> str:
    try:
        return t._find_backend(use_default=True).name
    except Exception:  # noqa: BLE001 - unbound or unknown backend: stay portable
        return ""


def shift_within(t: ibis.Table, by: str, order: list[ibis.Value], periods: int = 1,
                 **values: ibis.Value) -> ibis.Table:
    """``t`` plus each of ``values`` taken from another row of the same ``by`` group.

    Like pandas' ``groupby(by).shift(periods)`` in ``order``: ``periods=1`` takes the
    previous row (SQL ``LAG``), ``-1`` the next one (``LEAD``); null where the group
    has no such row. Spark runs a window partitioned by ``by``. Other engines sort
    once by ``(by, *order)`` and null a value whose neighbour is in another group:
    DuckDB's window over a million small partitions costs about 1.5x that one sort
    (10^7 events), while Spark without partitions would move every row to one task.
    """
    if periods == 0:
        raise JourneyParameterError("periods: expected a non-zero row offset (1: previous row, -1: next row)")

    def shift(v: ibis.Value, w) -> ibis.Value:
        return (v.lag(periods) if periods > 0 else v.lead(-periods)).over(w)

    if _backend_name(t) == "pyspark":
        w = ibis.window(group_by=t[by], order_by=order)
        return t.mutate(**{k: shift(v, w) for k, v in values.items()})
    w = ibis.window(order_by=[t[by], *order])
    same = shift(t[by], w) == t[by]
    return t.mutate(**{k: ibis.ifelse(same, shift(v, w), ibis.null(v.type())) for k, v in values.items()})


@contextmanager
def materialized(expr: ibis.Table) -> Iterator[ibis.Table]:
    """A small intermediate computed once and read by several later queries.

    A temporary table on DuckDB (and other SQL backends), a persisted DataFrame on
    Spark; dropped when the ``with`` block ends. Ibis' ``Table.cache()`` cannot be
    released on DuckDB with sqlglot >= 30 (its DROP statement renders empty), so the
    table is dropped here with plain SQL.
    """
    con = expr._find_backend(use_default=True)
    if con.name == "pyspark":
        con._run_pre_execute_hooks(expr)  # Ibis' Spark cache() does not register in-memory inputs itself
        with expr.cache() as cached:
            yield cached
        return
    name = ibis.util.gen_name("journeylib")
    cached = con.create_table(name, expr, temp=True)
    try:
        yield cached
    finally:
        con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')


def to_pandas(expr: ibis.Expr) -> pd.DataFrame:
    """Execute an (aggregating) expression and return a pandas DataFrame."""
    out = expr.to_pandas()
    return out if isinstance(out, pd.DataFrame) else out.to_frame()
