"""Answers to the queries of a report run, computed once and read by all its notebooks.

``journeylib run-all`` gives its notebooks a folder of the run (``$JOURNEYLIB_SHARED_TABLES``),
where the first notebook writes one validated, stage-assigned copy of the journey's tables
(:mod:`journeylib.core.shared_tables`). The notebooks then ask many of the same questions of
that copy: the end of observation (34 times in a suite), each buyer's first orders, the
per-customer purchase summary. :func:`fetch`, behind :func:`journeylib.core.engine.to_pandas`,
answers each of them once per run.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.types as pat

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; each notebook then works on its own
    fcntl = None

ENV_VAR = "JOURNEYLIB_SHARED_TABLES"
VIEW_PREFIX = "jl_shared_"  # the copy's views are named jl_shared_<key>_<table>: the name says the content
FORMAT = 1  # bump when what is stored changes, so an old file is never read as a new one
# Results larger than this are computed by each notebook rather than written for the others (a
# per-event fetch would cost more to write than a second query).
LARGEST_SHARED_RESULT = 256 * 2**20
_RESULT_SETTINGS = ('TimeZone', 'Calendar', 'default_null_order', 'default_order')


def folder() -> Path | None:
    """The folder of this run's shared tables (``$JOURNEYLIB_SHARED_TABLES``), or ``None``.

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> import os
    >>> from journeylib.core import shared_results
    >>> os.environ.pop(shared_results.ENV_VAR, None) and None
    >>> shared_results.folder() is None
    True
    """
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def fetch(expr: ibis.Expr) -> pd.DataFrame | pd.Series:
    """``expr.to_pandas()``, computed once per run when ``expr`` reads only the run's shared copy.

    The notebooks of a run ask many of the same questions of one journey: the end of
    observation (34 times in a suite), each buyer's first orders, the per-customer purchase
    summary. When ``expr`` reads nothing but the shared copy's tables, whose view names carry
    the content hash of the inputs, its SQL names its result exactly: the first notebook to run
    it stores the engine's Arrow result in the run's folder (under a lock, so a notebook asking
    the same at the same time waits for it rather than computing it again) and every later one
    reads it. Anything else (a table in memory, a file outside the copy, another engine, no
    run) is computed as usual. Both paths build the pandas result from the Arrow table as
    Ibis' DuckDB backend does, so it is the same frame either way.

    Parameters
    ----------
    expr
        An Ibis table or column expression.

    Returns
    -------
    pandas.DataFrame or pandas.Series
        What ``expr.to_pandas()`` returns.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core.shared_results import fetch
    >>> t = ibis.memtable({"n": [1, 2]})
    >>> fetch(t.aggregate(total=t.n.sum()))
       total
    0      3
    """
    con = expr._find_backend(use_default=True)
    if getattr(con, "name", None) != "duckdb" or not isinstance(expr, (ibis.Table, ibis.Column)):
        return expr.to_pandas()
    keyed = _result_path(expr, con)
    if keyed is None:
        return _as_pandas(expr, _arrow_result(con, expr))
    path, sql = keyed
    with locked(path.with_suffix(".lock")):
        try:
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
        except (OSError, pa.ArrowInvalid):
            table = _arrow_result(con, expr, sql)
            if table.nbytes <= LARGEST_SHARED_RESULT:
                _write_arrow(table, path)
    return _as_pandas(expr, table)


def stored(expr: ibis.Table) -> Path | None:
    """``expr`` computed once per run as a Parquet file in the run's folder, or ``None`` outside a run.

    The table counterpart of :func:`fetch`, for an intermediate that several notebooks of a
    run build alike (the funnel's step times: five times in a suite): the first writes it
    under a lock and every one reads the file. Read through a view named ``VIEW_PREFIX`` +
    the file's stem (the key of its SQL), the queries over it are shared by :func:`fetch`
    too (:func:`journeylib.core.engine.materialized` with ``reused=True`` does both).
    ``None`` when ``expr`` reads anything but the run's shared copy (see :func:`fetch`) or
    the folder cannot be written.

    Parameters
    ----------
    expr
        An Ibis table expression.

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> import ibis, os, tempfile
    >>> from journeylib.core import shared_results
    >>> os.environ[shared_results.ENV_VAR] = tempfile.mkdtemp()
    >>> con = ibis.duckdb.connect()
    >>> _ = con.raw_sql("CREATE VIEW jl_shared_0a1b_events AS SELECT * FROM range(5) r(n)")
    >>> t = con.table("jl_shared_0a1b_events")
    >>> path = shared_results.stored(t.filter(t.n > 2))
    >>> path.suffix, con.read_parquet(path).count().to_pyarrow().as_py()
    ('.parquet', 2)
    >>> shared_results.stored(ibis.memtable({"n": [1]})) is None  # not the run's copy
    True
    >>> del os.environ[shared_results.ENV_VAR]
    """
    con = expr._find_backend(use_default=True)
    keyed = _result_path(expr, con, ".parquet")
    if keyed is None:
        return None
    path = keyed[0]
    with locked(path.with_suffix(".lock")):
        if not path.exists():
            tmp = path.with_name(f".{path.name}-{os.getpid()}")
            try:
                con.to_parquet(expr, tmp)
                os.replace(tmp, path)
            except (OSError, duckdb.Error):  # a full or read-only folder: the notebook keeps its own table
                tmp.unlink(missing_ok=True)
                return None
    return path


def _arrow_result(con: ibis.BaseBackend, expr: ibis.Expr, sql: str | None = None) -> pa.Table:
    """``expr``'s result from DuckDB as Arrow, run as Ibis' own relation runs it; ``sql``: its SQL, if compiled."""
    if sql is None:
        return con._to_duckdb_relation(expr).to_arrow_table()
    # the key's SQL is run as it is: compiling a large expression can take longer than running it on a small log
    con._run_pre_execute_hooks(expr)
    return con.con.sql(sql).to_arrow_table()


def _result_path(expr: ibis.Expr, con: ibis.BaseBackend, suffix: str = ".arrow") -> tuple[Path, str] | None:
    """Where the run keeps ``expr``'s result and its SQL, or ``None`` when ``expr`` does not read the copy alone."""
    where = folder()
    if where is None or getattr(con, "name", None) != "duckdb" or not isinstance(expr, (ibis.Table, ibis.Column)):
        return None
    leaves = expr.op().find((ops.PhysicalTable, ops.SQLQueryResult, ops.SQLStringView))
    if not leaves or any(not isinstance(n, ops.DatabaseTable) or not n.name.startswith(VIEW_PREFIX)
                         for n in leaves):
        return None
    sql = str(con.compile(expr.as_table()))
    # the settings that change what one SQL text returns (a day or a null's place depends on them)
    settings = con.raw_sql(f"SELECT name, value FROM duckdb_settings() WHERE name IN {_RESULT_SETTINGS} "
                           "ORDER BY name").fetchall()
    key = hashlib.sha256(json.dumps([FORMAT, ibis.__version__, duckdb.__version__, settings, sql]).encode()).hexdigest()
    return where / "results" / f"{key[:32]}{suffix}", sql


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` (none on Windows): one process at a time runs the block."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a")
    except OSError:
        fh = None
    if fh is None or fcntl is None:
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, also on an error
        yield


def _write_arrow(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}-{os.getpid()}")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    except OSError:  # a full or read-only folder: the other notebooks compute it themselves
        tmp.unlink(missing_ok=True)


def _column(col: pa.ChunkedArray) -> Any:
    """One Arrow column as Ibis' DuckDB ``execute`` hands it to its converter, in Arrow's own
    conversion where that gives the same values.

    Ibis takes every column with a null through Python objects (``to_pylist``): 12.8 s for a
    customers table's 8.8 million join dates, most of them null. Numbers, booleans, text and
    timestamps (in nanoseconds, as Ibis makes them) with nulls convert in Arrow to what the
    converter makes of those objects; nested, dictionary and all-null columns keep Ibis' way.
    """
    if pat.is_nested(col.type) or pat.is_dictionary(col.type) or 0 < len(col) == col.null_count:
        return col.to_pylist()
    if not col.null_count:
        return col.to_pandas()
    if pat.is_timestamp(col.type):
        try:
            return col.cast(pa.timestamp("ns", tz=col.type.tz)).to_pandas()
        except pa.ArrowInvalid:  # beyond the years 1677-2262 of nanoseconds
            return col.to_pylist()
    if pat.is_integer(col.type) or pat.is_floating(col.type) or pat.is_boolean(col.type) or pat.is_string(col.type):
        return col.to_pandas()
    return col.to_pylist()


def _as_pandas(expr: ibis.Expr, table: pa.Table) -> pd.DataFrame | pd.Series:
    """The pandas result of ``expr`` from its Arrow result, as Ibis' DuckDB ``execute`` builds it.

    Ibis builds a table's frame three times (from the columns, after DuckDB's conversion, after
    its own), each a copy of every column. Here each column goes through the same two
    conversions alone and the frame is made once, without a copy: the same values and dtypes,
    with a third of the copies alive at the peak (14.9 million abandoned carts at 10^8 events:
    a peak of 5.8 GB instead of 7.2). Arrow's zero-copy columns are read-only: those are copied once.
    """
    from ibis.backends.duckdb.converter import DuckDBPandasData
    from ibis.formats.pandas import PandasData

    schema = expr.as_table().schema()
    if not isinstance(expr, ibis.Table) or not table.num_rows or schema.names != tuple(table.column_names) \
            or any(t.is_geospatial() for t in schema.types):  # an empty frame's dtypes come from the whole
        df = pd.DataFrame({name: _column(col) for name, col in zip(table.column_names, table.columns)})
        return expr.__pandas_result__(DuckDBPandasData.convert_table(df, schema))
    columns = {}
    for (name, dtype), col in zip(schema.items(), table.columns):
        s = pd.Series(_column(col), name=name)
        if isinstance(s.values, np.ndarray) and not s.values.flags.writeable:
            s = s.copy()
        columns[name] = PandasData.convert_column(DuckDBPandasData.convert_column(s, dtype), dtype)
    # past 100 blocks pandas warns on every new column ("highly fragmented"): a wide aggregate is consolidated
    return pd.DataFrame(columns, copy=len(columns) > 100)
