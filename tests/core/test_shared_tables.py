"""A run's notebooks share one validated, staged copy of the journey's tables.

Every shared load is compared with an ordinary load of the same definition (each table's rows,
the check table, the inputs, the profile), so sharing can never change a number."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import shared_results, shared_tables
from journeylib.core.errors import JourneyDataError
from journeylib.core.journey import read_journey
from journeylib.report import runner

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "journeys" / "shop"
TABLES = ("events", "customers", "assignments", "feedback", "messages", "costs")


@pytest.fixture
def shared(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "tables"
    monkeypatch.setenv(shared_tables.ENV_VAR, str(folder))
    monkeypatch.setenv("JOURNEYLIB_CACHE_DIR", "")  # every ordinary load validates, as the shared one did
    return folder


def rows(t: ibis.Table) -> pd.DataFrame:
    df = t.to_pandas()
    return df.sort_values(list(df.columns), na_position="first").reset_index(drop=True)


def assert_same_journey(plain: jl.Journey, other: jl.Journey) -> None:
    for name in TABLES:
        a, b = getattr(plain, name), getattr(other, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.schema() == b.schema(), name
            pd.testing.assert_frame_equal(rows(a), rows(b), check_dtype=True)
    pd.testing.assert_frame_equal(plain.summary, other.summary)
    assert plain.inputs == other.inputs
    assert plain.period_bounds == other.period_bounds
    assert plain.ground_truth == other.ground_truth
    assert plain.checks == other.checks[:-1]
    for key, value in plain.stats.items():
        if isinstance(value, pd.DataFrame):
            cols = list(value.columns)
            pd.testing.assert_frame_equal(
                value.sort_values(cols, na_position="first").reset_index(drop=True),
                other.stats[key].sort_values(cols, na_position="first").reset_index(drop=True))
        else:
            assert other.stats[key] == value, key


def shared_check(j: jl.Journey) -> str:
    return next(c.detail for c in j.checks if c.name == "tables: shared")


@pytest.mark.parametrize("journey", ["sample", SHOP / "journey.yml"])
def test_a_shared_load_equals_an_ordinary_one(journey, shared, monkeypatch):
    monkeypatch.delenv(shared_tables.ENV_VAR)
    plain = jl.load_journey(journey)
    assert not [c for c in plain.checks if c.name == "tables: shared"]
    monkeypatch.setenv(shared_tables.ENV_VAR, str(shared))
    first = jl.load_journey(journey)
    second = jl.load_journey(journey, con=ibis.duckdb.connect())  # another notebook's connection
    assert "materialised now" in shared_check(first)
    assert "another report of this run" in shared_check(second)
    assert_same_journey(plain, first)
    assert_same_journey(plain, second)
    assert len(list(shared.glob("*.json"))) == 1
    # the shared events read the typed, staged copy, not the input files with their casts
    sql = str(ibis.to_sql(second.events)).lower()
    assert "jl_shared_" in sql
    assert sql.count("cast(") == sql.count("as timestamptz)")  # only the timestamps' scale, no cleaning casts


def test_notebooks_that_start_together_materialise_once(shared):
    code = textwrap.dedent("""
        import journeylib as jl
        j = jl.load_journey("sample")
        print(next(c.detail for c in j.checks if c.name == "tables: shared"))
        print(j.events.count().to_pyarrow().as_py())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(3)]
    outs = [p.communicate(timeout=300)[0].splitlines() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    hows = sorted(o[0] for o in outs)
    assert sum("materialised now" in h for h in hows) == 1
    assert sum("another report of this run" in h for h in hows) == 2
    n = jl.load_journey("sample").events.count().to_pyarrow().as_py()
    assert {int(o[1]) for o in outs} == {n}


def test_other_bytes_are_another_copy(shared, tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    csv = (SHOP / "events.csv").read_text()
    (folder / "events.csv").write_text(csv)
    yml = (SHOP / "journey.yml").read_text()
    (folder / "journey.yml").write_text(yml)
    first = jl.load_journey(folder / "journey.yml")
    lines = csv.splitlines()
    (folder / "events.csv").write_text("\n".join(lines[:-1]) + "\n")  # one row fewer
    second = jl.load_journey(folder / "journey.yml")
    assert "materialised now" in shared_check(second)
    assert second.events.count().to_pyarrow().as_py() == first.events.count().to_pyarrow().as_py() - 1
    assert len(list(shared.glob("*.json"))) == 2


def test_a_strict_load_still_fails_on_a_copy_a_lenient_load_made(shared, tmp_path):
    text = (SHOP / "journey.yml").read_text().replace("events: [catalog, search]", "events: [catalogue, searches]")
    assert "catalogue" in text
    (tmp_path / "journey.yml").write_text(text.replace("path: events.csv", f"path: {SHOP / 'events.csv'}"))
    lenient = jl.load_journey(tmp_path / "journey.yml", strict=False)
    assert "materialised now" in shared_check(lenient)
    with pytest.raises(JourneyDataError, match=r"matches no event"):
        jl.load_journey(tmp_path / "journey.yml")


def test_only_the_embedded_engine_and_hashable_inputs_share(shared):
    con = ibis.duckdb.connect()
    assert shared_tables.SharedTables.of({"events": "n/a"}, "", con) is None
    assert shared_tables.SharedTables.of({"events": "abc", "customers": ""}, "", con) is None

    class Other:
        name = "pyspark"

    assert shared_tables.SharedTables.of({"events": "abc"}, "", Other()) is None
    d = read_journey("sample")
    a = shared_tables.SharedTables.of({"events": "abc"}, repr(d), con)
    b = shared_tables.SharedTables.of({"events": "abd"}, repr(d), con)
    assert a.path.parent == shared and a.path != b.path


def test_an_unwritable_folder_loads_unshared(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(shared_tables.ENV_VAR, str(blocker / "tables"))
    j = jl.load_journey("sample")
    assert not [c for c in j.checks if c.name == "tables: shared"]
    assert j.events.count().to_pyarrow().as_py() > 0


def test_run_all_gives_its_notebooks_a_folder_of_the_run(tmp_path, monkeypatch):
    monkeypatch.delenv(shared_tables.ENV_VAR, raising=False)
    with runner._shared_tables(str(tmp_path)):
        assert os.environ[shared_tables.ENV_VAR] == str(tmp_path / "tables")
    assert shared_tables.ENV_VAR not in os.environ


def test_a_large_log_is_shared_split_by_bucket_and_its_analyses_read_the_split(shared, monkeypatch):
    """The copy of a log larger than one bucket is stored by customer bucket; the bucketed analyses
    of the run read that split instead of writing their own, with the same numbers as unshared."""
    from journeylib.core import buckets
    from journeylib.journeys import paths, stages

    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 15_000)  # the sample's 52,966 events: 4 buckets
    monkeypatch.setattr(buckets, "_STORED", {})
    monkeypatch.delenv(shared_tables.ENV_VAR)
    plain = jl.load_journey("sample")
    monkeypatch.setenv(shared_tables.ENV_VAR, str(shared))
    first = jl.load_journey("sample")
    again = jl.load_journey("sample", con=ibis.duckdb.connect())
    assert_same_journey(plain, again)
    copy = next(shared.glob("*.json")).with_suffix("")
    assert sorted(p.name for p in (copy / "events").iterdir()) == [f"_bucket={k}" for k in range(4)]
    assert not (copy / "customers" / "_bucket=0").exists()  # 5,000 rows: one piece
    split = []
    real = buckets.bucket_files.__wrapped__

    def spy(t, n=None):
        split.append(buckets._stored_buckets(t, n) is not None)
        return real(t, n)

    monkeypatch.setattr(buckets, "bucket_files", contextlib.contextmanager(spy))
    windows = []
    cells = stages._transition_cells

    def window_spy(t, names, collapse, large):
        windows.append(large)
        return cells(t, names, collapse, large)

    monkeypatch.setattr(stages, "_transition_cells", window_spy)
    results = [(jl.stage_transitions(j.events).summary, paths.journeys(j.events),
                jl.path_table(j.events).sort_values("path").reset_index(drop=True)) for j in (plain, again)]
    assert split == [False] * 2 + [True] * 2  # paths: the plain journey splits on its own, the shared reads
    # transitions: the plain log in one query with the window partitioned by customer, the shared per bucket
    assert windows == [True] + [False] * 4
    for a, b in zip(*results):
        pd.testing.assert_frame_equal(a, b)
    split.clear()  # a selection of the shared log (28,266 rows: two buckets' worth) reads its four buckets too
    ev = again.events
    jl.path_table(ev.filter(ev.event != "product_view"))
    assert split == [True]
    assert first.events.count().to_pyarrow().as_py() == plain.events.count().to_pyarrow().as_py()


def test_the_notebook_writing_the_copy_uses_every_core_it_is_given_then_its_own(shared, monkeypatch):
    con = ibis.duckdb.connect()
    con.raw_sql("SET threads=1")  # run-all's share of the cores for one of two notebooks
    monkeypatch.setenv(shared_tables.THREADS_VAR, "2")
    seen = []
    real = shared_tables.SharedTables.write

    def write(self, tables, meta, con):
        seen.append(con.raw_sql("SELECT current_setting('threads')").fetchone()[0])
        return real(self, tables, meta, con)

    monkeypatch.setattr(shared_tables.SharedTables, "write", write)
    jl.load_journey("sample", con=con)
    assert seen == [2]
    assert con.raw_sql("SELECT current_setting('threads')").fetchone()[0] == 1
    jl.load_journey("sample", con=con)  # read from the copy: nothing written, threads untouched
    assert seen == [2]


def test_a_run_hashes_each_input_once_and_again_when_it_changes(shared, tmp_path, monkeypatch):
    from journeylib.core import load as io

    f = tmp_path / "events.csv"
    f.write_text((SHOP / "events.csv").read_text())
    opened = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        if str(path) == str(f):
            opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    first = io.content_hash(str(f))
    assert io.content_hash(str(f)) == first and len(opened) == 1  # the run's second load reuses the hash
    f.write_text(f.read_text() + "c9,2024-01-01,visit\n")  # new bytes: new size and time
    second = io.content_hash(str(f))
    assert second != first and len(opened) == 2
    monkeypatch.delenv(shared_tables.ENV_VAR)  # outside a run every call reads the bytes
    assert io.content_hash(str(f)) == second and len(opened) == 3
    assert second == __import__("hashlib").sha256(f.read_bytes()).hexdigest()[:16]


def test_the_message_log_is_read_from_its_files_when_the_validation_cache_is_on(shared, tmp_path, monkeypatch):
    """Only the campaigns report reads the message log: the copy leaves it out, and each load of the
    run reads the files with the first load's validation (the cache), with the same rows."""
    from journeylib.core import load as io

    monkeypatch.setenv("JOURNEYLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(shared_tables.ENV_VAR)
    plain = jl.load_journey("sample")
    monkeypatch.setenv(shared_tables.ENV_VAR, str(shared))
    passes = []
    real = io._run_checks
    monkeypatch.setattr(io, "_run_checks", lambda t, build, table, *a, **k: passes.append(table) or real(
        t, build, table, *a, **k))
    first = jl.load_journey("sample")
    second = jl.load_journey("sample", con=ibis.duckdb.connect())
    assert passes == []  # the plain load's passes are reused, messages included
    copy = next(shared.glob("*.json")).with_suffix("")
    assert (copy / "events").exists() and not (copy / "messages").exists()
    for j in (first, second):
        assert "jl_shared_" not in str(ibis.to_sql(j.messages))
        pd.testing.assert_frame_equal(rows(plain.messages), rows(j.messages))
    monkeypatch.setenv("JOURNEYLIB_CACHE_DIR", "")  # a notebook without the cache still gets the log
    third = jl.load_journey("sample", con=ibis.duckdb.connect())
    pd.testing.assert_frame_equal(rows(plain.messages), rows(third.messages))
    monkeypatch.setenv("JOURNEYLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(shared_tables.ENV_VAR)
    warm = jl.load_journey("sample")  # unshared, the cache warm
    assert [i for i in second.inputs if i.table == "messages"] == [i for i in warm.inputs if i.table == "messages"]
    assert [c for c in second.checks if c.name.startswith("messages")] == [
        c for c in warm.checks if c.name.startswith("messages")]


def _engine_runs(monkeypatch) -> list[str]:
    """The SQL of every query the DuckDB engine runs for :func:`shared_results.fetch` from now on."""
    ran: list[str] = []
    real = shared_results._arrow_result

    def counted(con, expr, sql=None):
        ran.append(sql or str(con.compile(expr)))
        return real(con, expr, sql)

    monkeypatch.setattr(shared_results, "_arrow_result", counted)
    return ran


def test_a_query_over_the_copy_is_computed_once_per_run(shared, monkeypatch):
    first = jl.load_journey("sample")
    second = jl.load_journey("sample", con=ibis.duckdb.connect())  # another notebook of the run
    ran = _engine_runs(monkeypatch)
    ends = [jl.core.time.observation_end(j.events) for j in (first, second)]
    summaries = [jl.loyalty.customer_summary(j.events, time_unit="W") for j in (first, second)]
    # the second notebook reads what the first computed: the same frame, no query
    assert len(ran) == 2 and all("jl_shared_" in sql for sql in ran)
    assert ends[0] == ends[1] == pd.Timestamp("2025-06-30 23:41:27", tz="UTC")
    pd.testing.assert_frame_equal(summaries[0], summaries[1])
    monkeypatch.delenv(shared_tables.ENV_VAR)  # an ordinary load computes the same numbers
    pd.testing.assert_frame_equal(summaries[0], jl.loyalty.customer_summary(jl.load_dataset("sample").events,
                                                                            time_unit="W"))
    assert len(list((shared / "results").glob("*.arrow"))) == 2


def test_a_shared_result_is_the_frame_the_engine_gives(shared, monkeypatch):
    """Every kind of column comes back as Ibis gives it: nulls, time zones, lists, text, a column alone."""
    events = jl.load_journey("sample").events
    t = events.mutate(
        day=events.ts.date(), late=events.revenue > 50, maybe=ibis.ifelse(events.revenue > 0, events.revenue, None),
        n=ibis.ifelse(events.event == "purchase", 1, None).cast("int64"), none=ibis.null().cast("string"))
    per = t.group_by("customer_id").aggregate(
        first=t.ts.min(), day=t.day.min(), late=t.late.any(), maybe=t.maybe.sum(), n=t.n.sum(), none=t.none.max(),
        kinds=t.event.collect(distinct=True).sort(), channels=t.channel.nunique()).order_by("customer_id")
    cases = [per, per.kinds, per.filter(per.n.isnull()), per.limit(0), events.select("customer_id", "stage").limit(7)]
    for expr in cases:
        computed, stored = shared_results.fetch(expr), shared_results.fetch(expr)
        expected = expr.to_pandas()
        check = pd.testing.assert_series_equal if isinstance(expected, pd.Series) else pd.testing.assert_frame_equal
        check(computed, expected, check_exact=True)
        check(stored, expected, check_exact=True)
    assert len(list((shared / "results").glob("*.arrow"))) == len(cases)


def test_only_queries_over_the_copy_alone_are_shared(shared, monkeypatch):
    events = jl.load_journey("sample").events
    ran = _engine_runs(monkeypatch)
    stages = ibis.memtable({"stage": ["awareness"], "rank": [0]})
    joined = events.join(stages, "stage")  # a table from memory: its name says nothing of its content
    other = ibis.memtable({"ts": pd.to_datetime(["2025-01-01"], utc=True)})
    for expr in (joined.aggregate(n=joined.count()), other.aggregate(last=other.ts.max())):
        shared_results.fetch(expr)
        shared_results.fetch(expr)
    assert len(ran) == 4 and not (shared / "results").exists()
    def buyers(above: float) -> ibis.Table:
        big = events.filter(events.revenue > above)
        return big.aggregate(n=big.customer_id.nunique())

    for above in (5, 6):  # another literal is another query
        shared_results.fetch(buyers(above))
    assert len(ran) == 6 and len(list((shared / "results").glob("*.arrow"))) == 2
    monkeypatch.setattr(shared_results, "LARGEST_SHARED_RESULT", 0)  # too large to write: computed each time
    for _ in range(2):
        shared_results.fetch(buyers(7))
    assert len(ran) == 8 and len(list((shared / "results").glob("*.arrow"))) == 2


def test_without_a_run_every_query_is_computed(tmp_path, monkeypatch):
    monkeypatch.delenv(shared_tables.ENV_VAR, raising=False)
    events = jl.load_dataset("sample").events
    ran = _engine_runs(monkeypatch)
    for _ in range(2):
        shared_results.fetch(events.aggregate(n=events.count()))
    assert len(ran) == 2


def test_notebooks_asking_the_same_at_once_compute_it_once(shared):
    """Three processes fetch one query together: one runs it, the others wait for its answer."""
    jl.load_journey("sample")  # the run's copy, as the first notebook makes it
    code = textwrap.dedent("""
        import time
        import journeylib as jl
        from journeylib.core import engine, shared_results

        real = shared_results._arrow_result
        def counted(*args):
            print("computed")
            time.sleep(2)  # a long query: the others arrive while it runs
            return real(*args)
        shared_results._arrow_result = counted
        ev = jl.load_journey("sample").events
        per = ev.group_by("customer_id").aggregate(n=ev.count(), last=ev.ts.max()).order_by("customer_id")
        print(int(engine.to_pandas(per)["n"].sum()))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(3)]
    outs = [p.communicate(timeout=300)[0].splitlines() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(o.count("computed") for o in outs) == 1
    n = jl.load_journey("sample").events.count().to_pyarrow().as_py()
    assert {o[-1] for o in outs} == {str(n)}


def test_another_time_zone_is_another_answer(shared):
    """A day boundary depends on the connection's time zone: the same SQL under another zone is not shared."""
    events = jl.load_journey("sample").events
    con = events._find_backend()
    days = events.aggregate(days=events.ts.truncate("D").nunique())
    utc = shared_results.fetch(days)["days"].iloc[0]
    con.raw_sql("SET TimeZone='Pacific/Kiritimati'")  # UTC+14
    try:
        other = shared_results.fetch(days)["days"].iloc[0]
        assert other == days.to_pandas()["days"].iloc[0]
    finally:
        con.raw_sql("SET TimeZone='UTC'")
    assert len(list((shared / "results").glob("*.arrow"))) == 2
    assert shared_results.fetch(days)["days"].iloc[0] == utc


def test_the_funnel_of_a_run_is_built_once_for_its_notebooks(shared, monkeypatch):
    """Three reports of a suite draw the same closed funnel: its per-customer step times are written once to the
    run's folder, another notebook reads them (no query of its own, by segment too), and the funnel is the one an
    ordinary load gives, tangled customers included."""
    first = jl.load_journey("sample")
    second = jl.load_journey("sample", con=ibis.duckdb.connect())  # another notebook of the run
    stages = ["awareness", "consideration", "cart", "purchase", "repeat"]
    built = jl.funnel(first.events, stages, window=60)
    assert len(list((shared / "results").glob("*.parquet"))) == 1
    ran = _engine_runs(monkeypatch)
    again = jl.funnel(second.events, stages, window=60)
    assert ran == []  # the step times and their counts come from the run's folder
    by_segment = jl.funnel(second.events, stages, window=60, by="segment", customers=second.customers)
    assert len(ran) == 1 and len(list((shared / "results").glob("*.parquet"))) == 1
    monkeypatch.delenv(shared_tables.ENV_VAR)
    plain = jl.load_dataset("sample")
    expected = jl.funnel(plain.events, stages, window=60)
    for result in (built, again):
        pd.testing.assert_frame_equal(result.summary, expected.summary)
    pd.testing.assert_frame_equal(by_segment.summary, jl.funnel(plain.events, stages, window=60, by="segment",
                                                                 customers=plain.customers).summary)


def test_the_churn_labels_of_a_run_are_computed_once_for_its_notebooks(shared, monkeypatch):
    """The segment comparison (report 00) and the message fatigue (report 07) read the same churn labels: the
    first writes them to the run's folder, the other reads them, and both give what an ordinary load gives."""
    first = jl.load_journey("sample")
    second = jl.load_journey("sample", con=ibis.duckdb.connect())  # another notebook of the run
    seg = jl.compare_segments(first.events, first.customers, "segment", stages=list(first.stages))
    stored = list((shared / "results").glob("*.parquet"))
    assert len(stored) == 1
    ran = _engine_runs(monkeypatch)
    fatigue = jl.journeys.message_engagement(second.messages, second.events).fatigue
    assert len(list((shared / "results").glob("*.parquet"))) == 1  # the same labels: nothing new written
    assert ran and not any("_first" in sql or "bucket" in sql for sql in ran)  # no gap search of its own
    monkeypatch.delenv(shared_tables.ENV_VAR)
    plain = jl.load_dataset("sample")
    pd.testing.assert_frame_equal(seg.summary, jl.compare_segments(plain.events, plain.customers, "segment",
                                                                   stages=list(first.stages)).summary)
    pd.testing.assert_frame_equal(fatigue, jl.journeys.message_engagement(plain.messages, plain.events).fatigue)


def test_a_funnel_whose_table_cannot_be_stored_keeps_its_own(shared, monkeypatch):
    """A full disk under the run's folder (DuckDB's own I/O error, not an OSError) leaves the funnel computing its
    table as outside a run: the same numbers, no error."""
    events = jl.load_journey("sample").events

    def full(self, *args, **kwargs):
        raise duckdb.IOException("IO Error: No space left on device")

    monkeypatch.setattr(ibis.backends.duckdb.Backend, "to_parquet", full)
    result = jl.funnel(events, window=60)
    assert not list((shared / "results").glob("*.parquet"))
    monkeypatch.delenv(shared_tables.ENV_VAR)
    pd.testing.assert_frame_equal(result.summary, jl.funnel(jl.load_dataset("sample").events, window=60).summary)


def test_a_result_with_nulls_is_the_frame_ibis_gives():
    """Columns with nulls convert in Arrow (numbers, booleans, text, timestamps in nanoseconds) and
    the rest as Ibis does: every dtype and value is that of Ibis' own ``to_pandas``."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone='UTC'")
    t = con.sql("""SELECT i,
        CASE WHEN i % 3 = 0 THEN NULL ELSE TIMESTAMPTZ '2025-01-01 00:00:00.123456+00' + i * INTERVAL 1 SECOND END AS tz,
        CASE WHEN i % 3 = 0 THEN NULL ELSE TIMESTAMP '2025-01-01' + i * INTERVAL 1 SECOND END AS naive,
        CASE WHEN i % 3 = 0 THEN NULL WHEN i = 7 THEN TIMESTAMP '3000-01-01' ELSE TIMESTAMP '2025-01-01' END AS far,
        CASE WHEN i % 3 = 0 THEN NULL ELSE i / 7 END AS f, CASE WHEN i % 4 = 0 THEN 'nan'::DOUBLE END AS f_nan,
        CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS n, CASE WHEN i % 3 = 0 THEN NULL ELSE i::INT8 END AS n8,
        CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END AS b, CASE WHEN i % 3 = 0 THEN NULL ELSE 'x' || i END AS s,
        CASE WHEN i % 3 = 0 THEN NULL ELSE DATE '2025-01-01' + i::INT END AS d, NULL::BIGINT AS none,
        CASE WHEN i % 3 = 0 THEN NULL ELSE [i, i + 1] END AS l
        FROM range(50) r(i)""")
    got = shared_results.fetch(t)
    pd.testing.assert_frame_equal(got, t.to_pandas(), check_exact=True)
    assert str(got["tz"].dtype) == "datetime64[ns, UTC]" and got["n"].isna().sum() == 17
    pd.testing.assert_series_equal(shared_results.fetch(t.tz), t.tz.to_pandas(), check_exact=True)
    # the frame is the caller's to change: Arrow's read-only buffers (a column without nulls) are not handed out
    assert all(got[c].to_numpy().flags.writeable for c in ("i", "f", "n"))
    got["i"].to_numpy()[0] = -1


def test_a_wide_result_takes_new_columns_without_a_fragmentation_warning():
    """A frame of more than 100 columns is consolidated (pandas warns on each new column past 100 blocks)."""
    con = ibis.duckdb.connect()
    t = con.sql("SELECT " + ", ".join(f"i * {k} AS c{k}" for k in range(120)) + " FROM range(3) r(i)")
    got = shared_results.fetch(t)
    pd.testing.assert_frame_equal(got, t.to_pandas(), check_exact=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got["extra"] = 1
