"""Engine helpers that change how a query runs, not what it returns."""
from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from journeylib.core import engine
from journeylib.core.errors import JourneyParameterError


def _frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 2000
    return pd.DataFrame({
        "g": rng.choice([f"c{i}" for i in range(150)], n),
        "t": rng.integers(0, 40, n),   # many ties within a group ...
        "k": rng.permutation(n),       # ... broken by a unique key
        "v": rng.normal(size=n),
    })


@pytest.mark.parametrize("large", [False, True], ids=["one-sort", "partitioned"])
@pytest.mark.parametrize("periods", [1, -1, 2])
def test_shift_within_equals_pandas_groupby_shift(periods, large):
    df = _frame()
    t = engine.to_table(df)
    out = engine.shift_within(t, "g", [t.t, t.k], periods, large=large, prev_v=t.v, prev_t=t.t).to_pandas()
    ref = df.sort_values(["g", "t", "k"]).assign(
        prev_v=lambda d: d.groupby("g")["v"].shift(periods),
        prev_t=lambda d: d.groupby("g")["t"].shift(periods))
    got = out.sort_values(["g", "t", "k"]).reset_index(drop=True)
    ref = ref.reset_index(drop=True)
    pd.testing.assert_series_equal(got["prev_v"], ref["prev_v"], check_names=False)
    assert got["prev_t"].astype("Float64").tolist() == ref["prev_t"].astype("Float64").tolist()
    assert got["prev_v"].isna().sum() == df["g"].nunique() * abs(periods) - _short_groups(df, abs(periods))


def _short_groups(df: pd.DataFrame, periods: int) -> int:
    """Groups with fewer rows than ``periods`` have fewer null shifts than ``periods``."""
    sizes = df.groupby("g").size()
    return int((periods - sizes[sizes < periods]).sum())


def test_shift_within_rejects_a_zero_offset():
    t = engine.to_table(_frame())
    with pytest.raises(JourneyParameterError, match="periods"):
        engine.shift_within(t, "g", [t.t], 0, x=t.v)


def test_to_table_keeps_pandas_nullable_columns_with_their_missing_values():
    """Int64 / boolean / Float64 columns keep their type and their values (Spark used to read them all-null)."""
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "n": pd.array([1, pd.NA, 0], dtype="Int64"),
                       "flag": pd.array([True, None, False], dtype="boolean"),
                       "x": pd.array([0.5, None, 2.0], dtype="Float64")})
    before = df.copy()
    t = engine.to_table(df, raw=True)
    assert dict(t.schema().items()) == {"customer_id": ibis.dtype("string"), "n": ibis.dtype("int64"),
                                        "flag": ibis.dtype("boolean"), "x": ibis.dtype("float64")}
    out = t.mutate(has=t.n.notnull(), big=t.n > 0).to_pandas()
    assert out["has"].tolist() == [True, False, True] and out["big"].tolist()[::2] == [True, False]
    assert out["n"].isna().tolist() == [False, True, False] and out["flag"].isna().sum() == 1
    pd.testing.assert_frame_equal(df, before)  # the input is not modified


def test_materialized_falls_back_to_the_expression_when_it_does_not_fit_in_memory():
    """An intermediate larger than DuckDB's memory limit is recomputed by each later query, not an error."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET memory_limit='30MB'; SET threads=1")
    t = con.sql("SELECT (i % 3000000)::VARCHAR || 'customer' AS c, i % 7 AS k FROM range(6000000) r(i)")
    big = t.group_by(["c", "k"]).aggregate(n=t.count())
    with engine.materialized(big) as cached:
        assert cached is big  # could not be held: the expression itself
        assert cached.filter(cached.c == "42customer").n.sum().to_pyarrow().as_py() == 2
    small = t.filter(t.k == 0).limit(5)
    with engine.materialized(small) as cached:
        assert cached is not small and cached.count().to_pyarrow().as_py() == 5


@pytest.mark.skipif(engine._MALLOC_TRIM is None or not Path("/proc/self/status").exists(),
                    reason="glibc's malloc_trim and /proc: Linux only")
def test_release_memory_gives_freed_heap_back():
    """Freed blocks below the top of the heap stay resident until trimmed (what DuckDB's threads and
    pandas leave after a large query); release_memory hands them back."""
    def rss() -> int:
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) * 1024

    chunks = [np.ones(10_000 // 8) for _ in range(30_000)]  # 300 MB in heap blocks below the mmap threshold
    pin = chunks[-1]  # keeps the top of the heap in use, so free() alone cannot shrink it
    del chunks
    before = rss()
    engine.release_memory()
    assert before - rss() > 200e6
    assert pin.sum() == 10_000 // 8
