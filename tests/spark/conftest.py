"""Spark parity fixtures: ONE local SparkSession for the whole test session.

Every parity test runs the same call twice, on embedded DuckDB and on Ibis' PySpark
backend (``local[2]``, UTC session time zone), over the same small simulated data
(``simulate_journeys(1500, seed=7)`` written as Parquet by the ``small_dir`` fixture
of ``tests/conftest.py``), and compares the results. The DuckDB default connection
is restored after every run, so other tests never see the Spark connection.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import engine

RTOL = 1e-9  # sums and other floating results; counts and labels must be equal exactly


@pytest.fixture(scope="session")
def spark_con():
    """Ibis PySpark connection over one local SparkSession (started once, ~10 s)."""
    pytest.importorskip("pyspark", reason="the Spark parity tests need pip install '.[spark]' and Java 17")
    logging.getLogger("py4j").setLevel(logging.ERROR)
    con = jl.connect("spark")
    session = con._session
    session.sparkContext.setLogLevel("ERROR")
    jl.connect()  # back to DuckDB until a test asks for Spark
    yield con
    jl.connect()
    session.stop()


@contextlib.contextmanager
def on_engine(con):
    """Make ``con`` the journeylib default inside the block; DuckDB again afterwards."""
    jl.connect(con)
    try:
        yield con
    finally:
        jl.connect()


@pytest.fixture(scope="session")
def both(spark_con):
    """``both(fn)`` -> ``(duckdb_result, spark_result)`` of ``fn()`` run with each default engine."""

    def run(fn: Callable[[], Any]) -> tuple[Any, Any]:
        duck = jl.connect()
        try:
            a = fn()
        finally:
            jl.connect()
        with on_engine(spark_con):
            b = fn()
        assert engine.default_connection() is not spark_con
        return a, b

    return run


@pytest.fixture(scope="session")
def datasets(spark_con, small_dir):
    """The small dataset loaded (and validated) once on each engine: ``{"duckdb": ds, "spark": ds}``."""
    out = {}
    with on_engine(jl.connect()):
        out["duckdb"] = jl.load_dataset(small_dir)
    with on_engine(spark_con):
        out["spark"] = jl.load_dataset(small_dir)
    return out


@pytest.fixture(scope="session")
def on_each(datasets, spark_con):
    """``on_each(fn)`` -> ``(duckdb, spark)`` results of ``fn(dataset)``, each on its own engine."""

    def run(fn: Callable[[jl.Dataset], Any]) -> tuple[Any, Any]:
        with on_engine(jl.connect()):
            a = fn(datasets["duckdb"])
        with on_engine(spark_con):
            b = fn(datasets["spark"])
        return a, b

    return run


# --------------------------------------------------------------------------- comparison
def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
            s = pd.to_datetime(s, utc=True) if getattr(s.dt, "tz", None) is None else s.dt.tz_convert("UTC")
            out[c] = s.astype("datetime64[us, UTC]")
        elif pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
            out[c] = s.astype("boolean")
        elif pd.api.types.is_integer_dtype(s):
            out[c] = s.astype("Int64")
        elif pd.api.types.is_float_dtype(s):
            out[c] = s.astype("float64")
        elif s.dtype == object:
            # engines may hand back None vs NaN for missing text; compare as nullable strings
            if s.map(lambda v: v is None or isinstance(v, str) or (isinstance(v, float) and np.isnan(v))).all():
                out[c] = s.astype("string")
    return out


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame, *, sort_by: list[str] | None = None,
                      rtol: float = RTOL, what: str = "") -> None:
    """Equal columns, rows (after sorting), exact integers/labels/timestamps, floats to ``rtol``."""
    assert list(a.columns) == list(b.columns), f"{what}: columns differ {list(a.columns)} vs {list(b.columns)}"
    assert len(a) == len(b), f"{what}: {len(a)} rows on DuckDB vs {len(b)} on Spark"
    a, b = _normalise(a), _normalise(b)
    if sort_by:
        a = a.sort_values(sort_by, kind="mergesort").reset_index(drop=True)
        b = b.sort_values(sort_by, kind="mergesort").reset_index(drop=True)
    else:
        a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            xv, yv = x.astype("float64").to_numpy(), y.astype("float64").to_numpy()
            np.testing.assert_allclose(xv, yv, rtol=rtol, atol=0, equal_nan=True, err_msg=f"{what}: column {c}")
        else:
            mism = ~((x == y).fillna(False) | (x.isna() & y.isna()))
            assert not mism.any(), (f"{what}: column {c} differs in {int(mism.sum())} rows, e.g.\n"
                                    f"{pd.DataFrame({'duckdb': x[mism], 'spark': y[mism]}).head()}")


@pytest.fixture(scope="session")
def same():
    """The frame comparison :func:`assert_same_frame` as a fixture (tests/ is not a package)."""
    return assert_same_frame
