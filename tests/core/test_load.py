"""Loaders: canonical schema, every validation error, inputs never modified."""
import os
import hashlib
import warnings
from pathlib import Path

import ibis.expr.datatypes as dt
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyDataWarning, JourneyParameterError


@pytest.fixture
def frame():
    return pd.DataFrame({
        "user": ["a", "a", "b", "c"],
        "time": ["2024-01-01 10:00:00", "2024-01-02 11:00:00", "2024-01-01 09:30:00", "2024-01-03"],
        "event": ["landing", "purchase", "landing", "landing"],
        "channel": ["search", None, "email", "social"],
        "stage": ["awareness", "purchase", "awareness", "awareness"],
        "revenue": [None, 25.5, None, None],
    })


def load(df, **kw):
    return jl.load_events(df, columns={"user": "customer_id", "time": "ts"}, **kw).to_pandas()


def test_canonical_schema_and_values(frame):
    out = load(frame).sort_values(["customer_id", "ts"]).reset_index(drop=True)
    assert list(out.columns[:6]) == ["customer_id", "ts", "event", "channel", "stage", "revenue"]
    assert str(out["ts"].dt.tz) == "UTC"
    assert out.loc[1, "revenue"] == 25.5
    assert out.loc[3, "ts"] == pd.Timestamp("2024-01-03", tz="UTC")


def test_naive_is_utc_and_mixed_offsets_are_converted(frame):
    frame["time"] = ["2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00", "2024-01-01T10:00:00-05:00",
                     "2024-01-01T10:00:00Z"]
    out = load(frame).set_index("event", append=True)["ts"].sort_values().tolist()
    assert sorted(out) == [pd.Timestamp(x, tz="UTC") for x in
                           ["2024-01-01 08:00", "2024-01-01 10:00", "2024-01-01 10:00", "2024-01-01 15:00"]]


def test_tz_aware_pandas_column_is_converted(frame):
    frame["time"] = pd.to_datetime(frame["time"], format="mixed").dt.tz_localize("Europe/Paris")
    out = load(frame)
    assert pd.Timestamp("2024-01-01 09:00", tz="UTC") in set(out["ts"])


@pytest.mark.parametrize("unit, scale, as_text", [("s", 1, True), ("s", 1, False), ("ms", 1_000, False),
                                                   ("ms", 1_000, True), ("us", 1_000_000, False)])
def test_unix_times_are_read_in_their_unit(frame, unit, scale, as_text):
    """A column of Unix times (as text or numbers; seconds with a fraction too) is read in the one unit whose
    range holds every value, as pandas reads it with that unit."""
    when = pd.to_datetime(frame["time"], format="mixed", utc=True)
    numbers = (when.astype("int64") // 1_000) / 1_000_000 * scale + [0, 0.5 * (unit != "us"), 0, 0]  # us -> the unit
    frame["time"] = numbers.map(lambda v: f" {v:.1f} " if v % 1 else f"{v:.0f}") if as_text else numbers
    out = load(frame)
    want = pd.to_datetime((numbers * 1_000_000 / scale).round().astype("int64"), unit="us", utc=True)
    assert sorted(out["ts"]) == sorted(want)
    assert sorted(load(frame, timestamp_format=f"unix_{unit}")["ts"]) == sorted(want)  # declared: the same


@pytest.mark.parametrize("written", ["%b %d, %Y %I:%M %p", "%d-%b-%y %H:%M", "%a, %d %b %Y %H:%M:%S",
                                     "%Y/%m/%d %I:%M:%S %p"])
def test_dates_that_name_the_month_are_read_without_a_format(frame, written):
    """``Jan 01, 2024 10:00 AM`` needs no declared format (the month name leaves no day-month doubt); a row in
    another form is named with the format the others are in."""
    when = pd.to_datetime(frame["time"], format="mixed", utc=True).dt.tz_localize(None)
    frame["time"] = when.dt.strftime(written)
    assert sorted(load(frame)["ts"]) == sorted(when.dt.tz_localize("UTC"))
    frame.loc[1, "time"] = "2024-01-01 10:00"
    with pytest.raises(JourneyDataError, match=r"column 'ts' of events: 1 of 4 rows invalid .*'2024-01-01 10:00'.*"
                                               "in the format"):
        load(frame)


def test_a_date_and_its_time_of_day_are_one_timestamp(frame, tmp_path):
    """ts_time joins the time of day to the ts date (text, or Parquet date and time types); a missing time is
    midnight; without it every event of a day would sit at midnight."""
    when = pd.to_datetime(frame["time"], format="mixed")
    frame["time"], frame["clock"] = when.dt.strftime("%Y-%m-%d"), when.dt.strftime("%H:%M")
    frame.loc[3, "clock"] = None
    cols = {"user": "customer_id", "time": "ts", "clock": "ts_time"}
    got = jl.load_events(frame, columns=cols).to_pandas()
    assert sorted(got["ts"]) == sorted(when.dt.tz_localize("UTC")) and "ts_time" not in got.columns
    typed = frame.assign(time=when.dt.date, clock=[t.time() for t in when])
    typed.to_parquet(tmp_path / "events.parquet", index=False)
    got = jl.load_events(tmp_path / "events.parquet", columns=cols).to_pandas()
    assert sorted(got["ts"]) == sorted(when.dt.tz_localize("UTC"))


@pytest.mark.parametrize("values, first", [
    ([1704103200, 1704189600, 5, 1704276000], "1704103200"),  # seconds, and a 5
    ([1704103200, 1704189600000, 1704103200, 1704276000], "1704103200"),  # seconds and milliseconds
    (["20240101", "20240102", "20240101", "20240103"], "'20240101'"),  # dates written without separators
])
def test_numbers_that_are_no_unix_times_in_one_unit_are_an_error(frame, values, first):
    """Every row is named (none is read in a unit it may not be in) and the error says what numbers can be."""
    frame["time"] = values
    with pytest.raises(JourneyDataError, match=rf"(?s)column 'ts' of events: 4 of 4 rows invalid \(first: {first}\)"
                                               r".*What to do: these are numbers, not timestamps: Unix times all "
                                               r"count seconds.*unix_s, unix_ms or unix_us.*'%Y%m%d'"):
        load(frame)


def test_excel_day_numbers_are_named(frame):
    """A date cell saved as a plain number (45667.5, Excel's day number) is no Unix time: the error says what it
    is and how to save it."""
    frame["time"] = [45667.5, 45668.25, 45667.0, 45700.75]
    with pytest.raises(JourneyDataError, match=r"(?s)4 of 4 rows invalid \(first: 45667\.5\).*numbers such as "
                                               r"45667\.5 are Excel's day numbers.*format the column as a date"):
        load(frame)


def test_us_dates_with_am_pm_and_dates_in_words(frame):
    """1/13/2025 2:30 PM (a 12-hour clock, month-first) is detected; dates in English words are read as with
    their format declared; dates in words of another language are an error that shows how to write the format."""
    frame["time"] = ["1/5/2025 2:30 PM", "1/13/2025 11:05 AM", "12/1/2025 12:15 AM", "1/5/2025 12:00 PM"]
    assert sorted(load(frame)["ts"]) == sorted(pd.to_datetime(frame["time"], format="%m/%d/%Y %I:%M %p", utc=True))
    frame["time"] = ["Jan 5, 2025 2:30 PM", "Jan 13, 2025 11:05 AM", "Dec 1, 2025 12:15 AM", "Jan 5, 2025 12:00 PM"]
    want = sorted(pd.to_datetime(frame["time"], format="%b %d, %Y %I:%M %p", utc=True))
    assert sorted(load(frame)["ts"]) == want
    assert sorted(load(frame, timestamp_format="%b %d, %Y %I:%M %p")["ts"]) == want
    frame["time"] = ["5. Januar 2025 14:30", "13. Januar 2025 11:05", "1. Dezember 2025 00:15", "5. Januar 2025 12:00"]
    with pytest.raises(JourneyDataError, match=r"(?s)4 of 4 rows invalid.*What to do: no value reads as a date and "
                                               r"time: give timestamp_format.*'%b %d, %Y %I:%M %p'"):
        load(frame)


def test_amounts_with_commas_grouping_thousands(frame, tmp_path):
    """1,234.56 (a US or UK export's amount) is 1234.56; 13,26 is no number without decimal: ',' (the error names
    the decimal comma); the same for cost spend."""
    frame["revenue"] = [None, "1,234.56", None, " 2,000 "]
    assert load(frame)["revenue"].fillna(-1).tolist() == [-1, 1234.56, -1, 2000.0]
    frame["revenue"] = [None, "13,26", None, None]
    with pytest.raises(JourneyDataError, match=r"(?s)first: '13,26'.*uses? a decimal comma"):
        load(frame)
    costs = pd.DataFrame({"channel": ["email", "search"], "period": ["2024-01", "2024-01"],
                          "spend": ["1,200.50", "99.9"]})
    assert jl.load_costs(costs)["spend"].tolist() == [1200.5, 99.9]


def test_amounts_written_with_their_currency(frame):
    """A cell formatted as currency is written with its sign or code ($1,234.56, 12.50 USD, 1 234.00 with no-break
    spaces): read as the number when the column uses one currency; two currencies in one column are an error naming
    each with its count, as are two in a currency column, whose rows without revenue do not count."""
    frame["revenue"] = [None, "$1,234.56", "\u00a0$ 12.50 ", "1\u00a0234.00 $"]
    assert load(frame)["revenue"].fillna(-1).tolist() == [-1, 1234.56, 12.5, 1234.0]
    frame["revenue"] = [None, "12.00 USD", "USD 3", "-USD 3"]
    with pytest.raises(JourneyDataError, match=r"(?s)first: '-USD 3'.*What to do: negative amounts are refunds"):
        load(frame)
    frame["revenue"] = [None, "$5", "€7", "$1"]
    with pytest.raises(JourneyDataError, match=r"(?s)column 'revenue' of events: 1 of 3 rows invalid \(first: '€7'\); "
                                               r"expected one currency for all revenue.*found \$ 2, € 1 priced rows"
                                               r".*What to do: export the amounts in one currency"):
        load(frame)
    frame["revenue"] = [None, 5.0, 7.0, None]
    frame["currency"] = ["GBP", "usd", " EUR", None]
    with pytest.raises(JourneyDataError, match=r"(?s)column 'currency' of events: 1 of 2 rows invalid.*found EUR 1, "
                                               r"USD 1 priced rows"):
        load(frame)
    frame["currency"] = ["GBP", "usd", " USD ", "EUR"]  # the GBP and EUR rows carry no revenue
    assert load(frame)["revenue"].sum() == 12.0


def test_cost_spend_written_with_its_currency():
    """A spend sheet formatted as currency is read; spend in two currencies is an error naming both."""
    costs = pd.DataFrame({"channel": ["email", "search", "email"], "period": ["2024-01", "2024-01", "2024-02"],
                          "spend": ["$1,200.50", "$ 99.90", "$0"]})
    assert jl.load_costs(costs)["spend"].tolist() == [1200.5, 0.0, 99.9]
    costs["spend"] = ["$1,200.50", "€99.90", "$0"]
    with pytest.raises(JourneyDataError, match=r"(?s)column 'spend' of costs: 1 of 3 rows invalid; expected one "
                                               r"currency for all spend.*found \$ 2, € 1 rows"):
        jl.load_costs(costs)


def test_times_with_a_space_before_the_offset(frame):
    """2025-01-05 10:00:00 -0500 (Shopify, Ruby) is read with the %z format it shows; a cast does not read it."""
    frame["time"] = ["2024-01-01 10:00:00 -0500", "2024-01-02 11:00:00 +0100", "2024-01-01 09:30:00 +00:00",
                     "2024-01-03 00:00:00 -0500"]
    got = sorted(load(frame)["ts"])
    assert got == sorted(pd.to_datetime(frame["time"], format="%Y-%m-%d %H:%M:%S %z", utc=True))


def test_missing_required_column_names_it_and_the_fix(frame):
    with pytest.raises(JourneyDataError, match=r"(?s)missing required column\(s\) \['event'\].*columns=") as e:
        load(frame.drop(columns="event"))
    assert isinstance(e.value, ValueError)


def test_unmapped_source_column_is_reported(frame):
    with pytest.raises(JourneyDataError, match="no such column"):
        jl.load_events(frame, columns={"userid": "customer_id"})


@pytest.mark.parametrize("bad, n_bad", [(["garbage", None], 2), (["2024-13-45", "2024-01-02"], 1)])
def test_unparseable_or_missing_timestamps(frame, bad, n_bad):
    frame.loc[:1, "time"] = bad
    with pytest.raises(JourneyDataError) as e:
        load(frame)
    msg = str(e.value)
    assert "column 'ts'" in msg and f"{n_bad} of 4 rows" in msg and "expected a timestamp" in msg
    assert "First offending rows" in msg


def test_null_customer_ids(frame):
    frame.loc[2, "user"] = None
    with pytest.raises(JourneyDataError, match=r"column 'customer_id' of events: 1 of 4 rows"):
        load(frame)


@pytest.mark.parametrize("value", [-3.0, float("inf"), "ten"])
def test_negative_infinite_or_non_numeric_revenue(frame, value):
    frame["revenue"] = frame["revenue"].astype(object)
    frame.loc[1, "revenue"] = value
    with pytest.raises(JourneyDataError, match=r"column 'revenue'.*1 of 4 rows.*finite number >= 0"):
        load(frame)


def test_empty_input(frame):
    with pytest.raises(JourneyDataError, match="no rows"):
        load(frame.iloc[:0])


def test_unknown_stage_when_order_given(frame):
    frame.loc[0, "stage"] = "wishlist"
    with pytest.raises(JourneyDataError, match=r"column 'stage'.*1 of 4 rows.*one of \['awareness'"):
        load(frame, stages=jl.DEFAULT_STAGES)


def test_exact_duplicates_dropped_with_counted_warning(frame):
    dup = pd.concat([frame, frame.iloc[[0, 1]]], ignore_index=True)
    with pytest.warns(JourneyDataWarning, match="dropped 2 exact duplicate rows of 6"):
        out = load(dup)
    assert len(out) == 4


def test_repeated_row_hash_alone_drops_nothing(frame):
    """A repeated hash only triggers the exact comparison; distinct rows stay distinct."""
    import warnings

    from journeylib.core.load import _drop_duplicates

    frame = frame.rename(columns={"user": "customer_id", "time": "ts"})
    t = jl.core.engine.to_table(frame, raw=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        notes = []
        out, n, customers = _drop_duplicates(t, "events", 4, n_hashes=3, notes=notes)  # as if two hashes collided
    assert n == 4 and out is t and customers == [] and notes == []
    dup = jl.core.engine.to_table(pd.concat([frame, frame.iloc[[0]]], ignore_index=True), raw=True)
    with pytest.warns(JourneyDataWarning, match="dropped 1 exact duplicate rows of 5"):
        out, n, customers = _drop_duplicates(dup, "events", 5, n_hashes=4, notes=notes)
    assert n == 4 and customers == [frame["customer_id"].iloc[0]]
    assert [(c.name, c.status, c.detail) for c in notes] == [("events: duplicate rows", "pass",
                                                              "dropped 1 exact duplicates")]
    pd.testing.assert_frame_equal(jl.to_pandas(out).sort_values(["customer_id", "ts"]).reset_index(drop=True),
                                  frame.sort_values(["customer_id", "ts"]).reset_index(drop=True))


def test_a_hash_shared_by_customers_looks_at_each_of_them(frame, monkeypatch):
    """With a repeated hash spanning customers (forced: every row gets the customer's hash), every
    customer of that hash is de-duplicated, and only the exact duplicate row goes."""
    from journeylib.core import load as io

    monkeypatch.setattr(io, "_row_hash", lambda cols: cols["event"].hash())  # collides across customers
    frame = frame.rename(columns={"user": "customer_id", "time": "ts"})
    dup = jl.core.engine.to_table(pd.concat([frame, frame.iloc[[2]]], ignore_index=True), raw=True)
    with pytest.warns(JourneyDataWarning, match="dropped 1 exact duplicate rows of 5"):
        out, n, customers = io._drop_duplicates(dup, "events", 5, n_hashes=2, notes=[])
    assert n == 4 and customers == ["a", "b", "c"]  # the three customers with a 'landing'
    pd.testing.assert_frame_equal(jl.to_pandas(out).sort_values(["customer_id", "ts"]).reset_index(drop=True),
                                  frame.sort_values(["customer_id", "ts"]).reset_index(drop=True))


def test_duplicates_of_many_customers_are_dropped_by_one_distinct(frame, monkeypatch):
    """Beyond the customer limit (a file appended twice) the whole table is de-duplicated and no
    customer list is kept; the rows kept are the distinct rows."""
    from journeylib.core import load as io

    monkeypatch.setattr(io, "MAX_DUPLICATE_CUSTOMERS", 1)
    frame = frame.rename(columns={"user": "customer_id", "time": "ts"})
    dup = jl.core.engine.to_table(pd.concat([frame, frame.iloc[[0, 2, 2]]], ignore_index=True), raw=True)
    with pytest.warns(JourneyDataWarning, match="dropped 3 exact duplicate rows of 7"):
        out, n, customers = io._drop_duplicates(dup, "events", 7, n_hashes=4, notes=[])
    assert n == 4 and customers is None
    pd.testing.assert_frame_equal(jl.to_pandas(out).sort_values(["customer_id", "ts"]).reset_index(drop=True),
                                  frame.sort_values(["customer_id", "ts"]).reset_index(drop=True))


def test_input_frame_is_not_modified(frame):
    before = frame.copy()
    load(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_csv_and_parquet_paths_give_the_same_table(frame, tmp_path):
    frame.to_csv(tmp_path / "ev.csv", index=False)
    frame.to_parquet(tmp_path / "ev.parquet", index=False)
    digest = hashlib.sha256((tmp_path / "ev.csv").read_bytes()).hexdigest()
    a = load(str(tmp_path / "ev.csv")).sort_values(["customer_id", "ts"]).reset_index(drop=True)
    b = load(tmp_path / "ev.parquet").sort_values(["customer_id", "ts"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert hashlib.sha256((tmp_path / "ev.csv").read_bytes()).hexdigest() == digest


def test_glob_reads_all_files(frame, tmp_path):
    frame.iloc[:2].to_parquet(tmp_path / "part1.parquet", index=False)
    frame.iloc[2:].to_parquet(tmp_path / "part2.parquet", index=False)
    assert len(load(str(tmp_path / "part*.parquet"))) == 4


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(JourneyDataError, match="file not found"):
        jl.load_events(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(JourneyDataError, match="empty"):
        jl.load_events(tmp_path / "empty.csv")


def test_customers_must_be_unique():
    df = pd.DataFrame({"customer_id": ["a", "a", "b"], "segment": ["x", "y", "x"]})
    with pytest.raises(JourneyDataError, match="one row per customer"):
        jl.load_customers(df)


def test_assignments_one_variant_per_customer_and_experiment():
    df = pd.DataFrame({"customer_id": ["a", "a"], "experiment": ["e", "e"], "variant": ["control", "treatment"],
                       "assigned_at": ["2024-01-01", "2024-01-01"]})
    with pytest.raises(JourneyDataError, match=r"(?s)in experiment 'e', 1 of 1 customers were exposed to more than "
                                               r"one variant.*What to do: check that the column mapped to variant"):
        jl.load_assignments(df)
    ok = jl.load_assignments(df.iloc[:1]).to_pandas()
    assert ok.loc[0, "assigned_at"] == pd.Timestamp("2024-01-01", tz="UTC")


def test_an_exposure_log_is_read_as_each_customers_first_exposure():
    """GrowthBook's, Optimizely's and Statsig's exports are exposure logs: a row per exposure. The assignment is each
    customer's first exposure; a customer exposed to two variants is left out of that experiment (as GrowthBook
    does), counted in a warning and a check; most customers in two variants is an error (a wrong column)."""
    rows = [("a", "e1", "A", "2025-01-03"), ("a", "e1", "A", "2025-01-01"), ("a", "e1", "A", "2025-01-02"),
            ("b", "e1", "B", "2025-01-02"), ("c", "e1", "A", "2025-01-01"), ("c", "e1", "B", "2025-01-04"),
            ("d", "e1", "B", "2025-01-05"), ("a", "e2", "X", "2025-02-01"), ("b", "e2", "Y", "2025-02-01")]
    df = pd.DataFrame(rows, columns=["customer_id", "experiment", "variant", "assigned_at"])
    with pytest.warns(jl.JourneyDataWarning, match=r"more than one variant, left out of the experiment: e1: 1 of 4 "
                                                   r"\(25\.0%\)"):
        loaded = jl.load_table("assignments", df)
    got = loaded.table.to_pandas().sort_values(["experiment", "customer_id"]).reset_index(drop=True)
    assert got[["customer_id", "experiment", "variant"]].values.tolist() == [
        ["a", "e1", "A"], ["b", "e1", "B"], ["d", "e1", "B"], ["a", "e2", "X"], ["b", "e2", "Y"]]
    assert got.loc[0, "assigned_at"] == pd.Timestamp("2025-01-01", tz="UTC")  # a's first exposure
    assert loaded.input.rows == 5
    checks = {c.name: c for c in loaded.checks}
    assert checks["assignments: repeated exposures"].detail.startswith("3 rows repeat")
    assert checks["assignments: customers in several variants"].status == "warn"
    one_each = pd.DataFrame(rows[3:5] + rows[6:], columns=df.columns).drop_duplicates(["customer_id", "experiment"])
    assert "assignments: repeated exposures" not in {c.name for c in jl.load_table("assignments", one_each).checks}


def test_numeric_ids_become_text():
    df = pd.DataFrame({"customer_id": [1.0, 2.0], "ts": ["2024-01-01", "2024-01-02"], "event": ["a", "b"]})
    assert sorted(jl.load_events(df).to_pandas()["customer_id"]) == ["1", "2"]


def test_cdnow_real_data_loads_like_a_user_file():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ev = jl.load_events(jl.cdnow_events_path()).to_pandas()
    # 6,919 purchase rows of 2,357 customers; 21 rows are exact repeats (same day, CDs and value)
    assert any("dropped 21 exact duplicate" in str(w.message) for w in caught)
    assert len(ev) == 6919 - 21 and ev["customer_id"].nunique() == 2357
    assert ev["ts"].min() == pd.Timestamp("1997-01-01", tz="UTC")
    assert ev["ts"].max() == pd.Timestamp("1998-06-30", tz="UTC")


def test_connect_reads_duckdb_knobs_from_the_environment(monkeypatch):
    monkeypatch.setenv("JOURNEYLIB_DUCKDB_MEMORY_LIMIT", "3GB")
    monkeypatch.setenv("JOURNEYLIB_DUCKDB_THREADS", "1")
    try:
        con = jl.connect()
        limit, threads = con.raw_sql("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
        assert limit.replace(" ", "").upper().startswith(("3GB", "2.7GIB", "2.79GIB")) and int(threads) == 1
    finally:
        monkeypatch.delenv("JOURNEYLIB_DUCKDB_MEMORY_LIMIT")
        monkeypatch.delenv("JOURNEYLIB_DUCKDB_THREADS")
        jl.connect()


def test_each_connection_spills_into_a_folder_of_its_own(tmp_path, monkeypatch):
    """Two processes spilling into one folder overwrote each other's DuckDB blocks."""
    monkeypatch.setenv("JOURNEYLIB_DUCKDB_TEMP_DIRECTORY", str(tmp_path))
    try:
        dirs = [jl.connect().raw_sql("SELECT current_setting('temp_directory')").fetchone()[0] for _ in range(2)]
        assert dirs[0] != dirs[1] and all(Path(d).parent == tmp_path and Path(d).is_dir() for d in dirs)
        monkeypatch.delenv("JOURNEYLIB_DUCKDB_TEMP_DIRECTORY")
        own = jl.connect().raw_sql("SELECT current_setting('temp_directory')").fetchone()[0]
        assert Path(own).name.startswith("journeylib-duckdb-")  # default: private too, in the system temp
    finally:
        jl.connect()


def test_validation_of_identical_files_is_reused_and_an_edit_is_checked_again(tmp_path, monkeypatch):
    from journeylib.core import load as io, validation_cache

    monkeypatch.setenv(validation_cache.ENV_VAR, str(tmp_path / "cache"))
    ev = tmp_path / "events.csv"
    ev.write_text("customer_id,ts,event\na,2024-01-01 10:00,visit\nb,2024-01-02 10:00,purchase\n")
    passes = []
    real = io._run_checks
    monkeypatch.setattr(io, "_run_checks", lambda *a, **k: passes.append(1) or real(*a, **k))
    load_events = jl.load_events
    first_load, second_load = io.load_table("events", str(ev)), io.load_table("events", str(ev))
    first, second = jl.to_pandas(first_load.table), jl.to_pandas(second_load.table)
    assert len(passes) == 1  # the second load reused the first one's result
    pd.testing.assert_frame_equal(first, second)
    digest = io.content_hash(str(ev))
    assert [(c.name, c.status, c.detail) for c in first_load.checks + second_load.checks] == [
        ("events: validated", "pass", "checked now: 2 rows passed every check"),
        ("events: validated", "pass", f"identical bytes (sha256 {digest}) passed every check before; not re-checked")]
    assert (first_load.input.validation, second_load.input.validation) == ("checked", "reused")
    assert first_load.input.rows == second_load.input.rows == 2 and first_load.input.sha256 == digest
    # same path, new bytes with a bad timestamp: checked again, and the error is raised
    ev.write_text("customer_id,ts,event\na,2024-01-01 10:00,visit\nb,not a time,purchase\n")
    with pytest.raises(JourneyDataError, match="column 'ts'"):
        load_events(str(ev))
    assert len(passes) == 2
    # a stage list is checked unless an earlier pass allowed only stages within it; a pass
    # with a stage list also serves a load without one
    ev.write_text("customer_id,ts,event,stage\na,2024-01-01 10:00,visit,awareness\n")
    load_events(str(ev))
    load_events(str(ev), stages=["awareness"])
    assert len(passes) == 4
    load_events(str(ev))
    load_events(str(ev), stages=["cart", "awareness"])
    assert len(passes) == 4
    with pytest.raises(JourneyDataError, match="column 'stage'"):
        load_events(str(ev), stages=["cart"])
    assert len(passes) == 5
    # a change to the checks' own code invalidates earlier passes
    monkeypatch.setattr(validation_cache, "_checks_version", lambda: "edited")
    load_events(str(ev))
    assert len(passes) == 6
    # turned off: every load checks
    monkeypatch.setenv(validation_cache.ENV_VAR, "")
    load_events(str(ev))
    load_events(str(ev))
    assert len(passes) == 8


def test_ids_are_trimmed_and_the_trim_is_dropped_when_it_changes_nothing(tmp_path):
    import ibis

    padded = pd.DataFrame({"customer_id": [" a", "b ", "a"], "ts": pd.to_datetime(["2024-01-01"] * 3),
                           "event": ["visit", "visit", "purchase"]})
    got = jl.to_pandas(jl.load_events(padded))
    assert sorted(got["customer_id"]) == ["a", "a", "b"]
    assert "TRIM" in ibis.to_sql(jl.load_events(padded)).upper()
    clean = padded.assign(customer_id=["a", "b", "a"])
    # ids that are already trimmed are read as stored: no TRIM in every later query
    assert "TRIM" not in ibis.to_sql(jl.load_events(clean)).upper()
    clean.to_csv(tmp_path / "e.csv", index=False)
    for _ in range(2):  # validated, then from the cache: the same expression
        assert "TRIM" not in ibis.to_sql(jl.load_events(str(tmp_path / "e.csv"))).upper()


def test_ids_trimmed_like_python_strip_whatever_sits_at_their_ends():
    """Only ids with whitespace at an end go through TRIM: the result equals str.strip of
    the six ASCII whitespace characters on ids with tabs, newlines, inner spaces, accents."""
    ids = ["\ta", "b\n", "\r\x0bc\x0c", "d e", " é ", "ü", "f\t \n", "!g", "~", "  h  i  ", "j "]
    ev = pd.DataFrame({"customer_id": ids, "ts": pd.to_datetime(["2024-01-01"] * len(ids)), "event": "visit"})
    got = jl.to_pandas(jl.load_events(ev))["customer_id"]
    assert sorted(got) == sorted(i.strip(" \t\n\r\x0b\x0c") for i in ids)
    with pytest.raises(JourneyDataError, match="customer_id"):  # nothing left after the trim
        jl.load_events(ev.assign(customer_id=ids[:-1] + [" \t "]))


def test_two_processes_loading_the_same_file_together_validate_it_once(tmp_path):
    import subprocess
    import sys

    ev = tmp_path / "events.csv"
    ev.write_text("customer_id,ts,event\na,2024-01-01 10:00,visit\nb,2024-01-02 10:00,purchase\n")
    passes = tmp_path / "passes.txt"
    code = f"""
import time, journeylib as jl
from journeylib.core import load as io
real = io._run_checks
def slow(*a, **k):
    with open({str(passes)!r}, "a") as fh:
        fh.write("pass\\n")
    time.sleep(1.5)  # long enough for the other process to arrive while this one validates
    return real(*a, **k)
io._run_checks = slow
print(len(jl.to_pandas(jl.load_events({str(ev)!r}))))
"""
    env = {**os.environ, "JOURNEYLIB_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and outs == ["2", "2"]
    assert passes.read_text().splitlines() == ["pass"]  # the second waited and reused the first pass


def test_a_validation_that_dropped_duplicates_is_reused_with_the_same_rows_and_warning(tmp_path, monkeypatch):
    """Duplicates are cached with the customers that had them: the reuse drops the same rows."""
    from journeylib.core import load as io, validation_cache

    monkeypatch.setenv(validation_cache.ENV_VAR, str(tmp_path / "cache"))
    rows = ["a,2024-01-01 10:00,visit,", "a,2024-01-01 10:00,visit,", "b,2024-01-02 10:00,purchase,9.5",
            "b,2024-01-02 10:00,purchase,9.5", "b,2024-01-02 10:00,purchase,9.5", "c,2024-01-03 10:00,visit,"]
    ev = tmp_path / "events.csv"
    ev.write_text("customer_id,ts,event,revenue\n" + "\n".join(rows) + "\n")
    passes = []
    real = io._run_checks
    monkeypatch.setattr(io, "_run_checks", lambda *a, **k: passes.append(1) or real(*a, **k))
    got = []
    for _ in range(2):
        with pytest.warns(JourneyDataWarning, match="dropped 3 exact duplicate rows of 6"):
            t = jl.load_events(str(ev))
        got.append(jl.to_pandas(t).sort_values(["customer_id", "ts"]).reset_index(drop=True))
    assert len(passes) == 1  # the second load reused the first pass, duplicates included
    pd.testing.assert_frame_equal(got[0], got[1])
    assert got[0]["customer_id"].tolist() == ["a", "b", "c"] and got[0]["revenue"].iloc[1] == 9.5


def test_a_file_uri_loads_like_the_local_folder(small_dir):
    """A URI is listed and read by the engine (DuckDB's glob here): same tables, same ground truth."""
    a, b = jl.load_dataset(small_dir), jl.load_dataset(small_dir.as_uri())
    keys = ["customer_id", "ts", "event", "channel", "stage"]
    pd.testing.assert_frame_equal(a.events.to_pandas().sort_values(keys, ignore_index=True),
                                  b.events.to_pandas().sort_values(keys, ignore_index=True))
    assert b.ground_truth == a.ground_truth is not None
    assert b.folder == small_dir.as_uri()
    with pytest.raises(JourneyDataError, match="not found"):
        jl.load_dataset(small_dir.as_uri() + "/nothing-here")
    with pytest.raises(JourneyDataError, match=r"(?s)not found: file://.*glob such as file://.*/\*\.parquet"):
        jl.load_events(small_dir.as_uri())  # a folder: say to pass a glob


def test_a_uri_without_wildcards_is_listed_not_taken_as_given(small_dir):
    """DuckDB's glob returns a wildcard-free object-store path as given; the engine is asked to list it."""
    from journeylib.core.engine import _listing_glob, list_files

    assert _listing_glob("s3://b/lake/events.parquet") == "s3://b/lake/events.parque[t]"
    assert _listing_glob("s3://b/lake/events/*/*.parquet") == "s3://b/lake/events/*/*.parquet"
    uri = small_dir.as_uri()  # DuckDB lists file:// paths as local paths
    assert [Path(f).name for f in list_files(f"{uri}/events.parquet")] == ["events.parquet"]
    assert list_files(f"{uri}/no-such-file.parquet") == []


def test_an_object_store_the_engine_cannot_reach_is_a_clear_error():
    """No httpfs (or no network): a JourneyDataError naming the URI and what to install."""
    with pytest.raises(JourneyDataError, match=r"(?s)s3://journeylib-no-such-bucket/.*httpfs"):
        jl.load_events("s3://journeylib-no-such-bucket/events/*.parquet")


# --- what a load returns for the report's health panel ----------------------------------

def test_load_table_returns_the_input_record_and_the_duplicate_check():
    from journeylib.core import load as io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JourneyDataWarning)
        got = io.load_table("events", jl.cdnow_events_path())
    # 6,919 rows of which 21 exact repeats; a bundled file is named relative to data/
    assert got.input == io.InputRecord(table="events", source="cdnow/cdnow_sample_events.csv", rows=6898,
                                       sha256=io.content_hash(jl.cdnow_events_path()), validation=got.input.validation,
                                       duplicates_dropped=21, future_rows=0)
    assert got.input.validation in ("checked", "reused")  # the session cache may already know these bytes
    assert ("events: duplicate rows", "pass", "dropped 21 exact duplicates") in [
        (c.name, c.status, c.detail) for c in got.checks]
    assert got.table.count().execute() == 6898 and got.inputs == (got.input,)


def test_future_timestamps_are_a_warning_check_counted_and_left_out(tmp_path):
    """A row dated 2099 (a clock or zone error) is left out with a warning: kept, it set the end of observation
    74 years ahead, and every customer looked churned."""
    from journeylib.core import load as io
    from journeylib.core.time import observation_end

    path = Path(__file__).parents[1] / "bad_inputs" / "future_timestamps.csv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = io.load_table("events", path)
    assert got.input.future_rows == 1 and got.input.rows == 1 and got.input.validation == "checked"
    assert got.table.to_pandas()["customer_id"].tolist() == ["A"]
    assert observation_end(got.table) == pd.Timestamp("2024-01-01", tz="UTC")
    assert got.input.source == str(path)  # a user's file keeps its path
    future = [c for c in got.checks if c.name == "events: future timestamps"]
    assert len(future) == 1 and future[0].status == "warn" and "1 rows have timestamps after" in future[0].detail
    assert any("(in the future) and are left out" in str(w.message) for w in caught)


def test_a_time_written_as_zero_is_an_error(tmp_path):
    """1970-01-01 00:00:00 is how a system writes a missing time as 0; read as a time, it became each customer's
    first event 55 years back. It stops the load like a missing time, saying so."""
    from journeylib.core import load as io

    (tmp_path / "ev.csv").write_text("customer_id,ts,event\nA,2024-01-01 10:00,landing\nB,1970-01-01 00:00:00,landing\n"
                                     "C,1970-01-01 00:00:01,landing\n")
    with pytest.raises(JourneyDataError, match=r"(?s)column 'ts' of events: 1 of 3 rows invalid \(first at line 3: "
                                               r"'1970-01-01 00:00:00'.*What to do: 1970-01-01 00:00:00 is how a system "
                                               r"writes a missing time as 0"):
        io.load_table("events", tmp_path / "ev.csv")


def test_a_dataframe_input_is_named_by_its_type_and_hashed_by_its_values():
    from journeylib.core import load as io

    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "experiment": ["e"] * 3, "variant": ["x", "y", "x"],
                       "assigned_at": ["2024-01-01"] * 3})
    got = io.load_table("assignments", df)
    assert (got.input.table, got.input.source, got.input.rows) == ("assignments", "<DataFrame>", 3)
    assert got.input.sha256 == io.content_hash(df) and len(got.input.sha256) == 16
    assert [(c.name, c.status) for c in got.checks] == [("assignments: validated", "pass")]


def test_loaders_write_nothing_into_the_run_health_log():
    from journeylib.core import health

    health.reset()
    with pytest.warns(JourneyDataWarning, match="dropped 1 exact duplicate rows of 2"):  # warned, not logged
        jl.load_events(pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2024-01-01", "2024-01-01"],
                                     "event": ["v", "v"]}))
    jl.load_customers(pd.DataFrame({"customer_id": ["a"]}))
    assert health.inputs() == [] and health.checks() == []


def test_load_table_names_a_wrong_table_or_a_stage_list_for_another_table():
    from journeylib.core import load as io

    with pytest.raises(JourneyParameterError, match=r"table='orders'; expected one of \['events', 'customers', 'assignments', "):
        io.load_table("orders", pd.DataFrame({"customer_id": ["a"]}))
    with pytest.raises(JourneyParameterError, match="stages= applies to events only, not to 'customers'"):
        io.load_table("customers", pd.DataFrame({"customer_id": ["a"]}), stages=["x"])


# --- issue 22: CSVs are typed by declaration; DataFrames are coerced the same way everywhere ---------

def _csv(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_ids_and_names_stay_text_as_written(tmp_path):
    p = _csv(tmp_path, "e.csv", "customer_id,ts,event,channel\n007,2024-01-01,1.10,2\n7,2024-01-02,1.1,02\n"
                                "1E5,2024-01-03,x,a\n100000,2024-01-04,x,a\n12345678901234567890,2024-01-05,x,a\n"
                                "inf,2024-01-06,x,a\n")
    df = jl.load_events(p).to_pandas().sort_values("ts")
    assert df["customer_id"].tolist() == ["007", "7", "1E5", "100000", "12345678901234567890", "inf"]
    assert df["event"].tolist()[:2] == ["1.10", "1.1"] and df["channel"].tolist()[:2] == ["2", "02"]


def test_ids_that_change_type_after_row_20480_keep_customers_apart(tmp_path):
    rows = [f"{i},2024-01-01,x" for i in range(25_000)] + ["00042,2024-01-02,x", "42,2024-01-02,x", "A-1,2024-01-02,x"]
    p = _csv(tmp_path, "long.csv", "customer_id,ts,event\n" + "\n".join(rows) + "\n")
    t = jl.load_events(p)
    assert int(t.customer_id.nunique().execute()) == 25_002  # 42 twice (rows 43 and 25,003); 00042 and A-1 new
    assert int(t.filter(t.customer_id == "00042").count().execute()) == 1


@pytest.mark.parametrize("value, line", [("inf", 2), ("1e400", 3), ("abc", 4), ("-3", 4)])
def test_bad_revenue_names_column_line_and_value(tmp_path, value, line):
    vals = ["1", "2", "3"]
    vals[line - 2] = value
    p = _csv(tmp_path, "r.csv", "customer_id,ts,event,revenue\n" + "".join(
        f"c{i},2024-01-0{i + 1},purchase,{v}\n" for i, v in enumerate(vals)))
    with pytest.raises(JourneyDataError, match=rf"column 'revenue' of events: 1 of 3 rows invalid "
                                               rf"\(first at line {line}: '{value}'"):
        jl.load_events(p)


def test_a_bad_timestamp_in_the_last_row_of_a_long_file_is_named_by_line(tmp_path):
    rows = [f"c{i},2024-01-01 10:00:00,x" for i in range(30_000)] + ["last,2024-13-45,x"]
    p = _csv(tmp_path, "ts.csv", "customer_id,ts,event\n" + "\n".join(rows) + "\n")
    with pytest.raises(JourneyDataError, match=r"column 'ts' of events: 1 of 30,001 rows invalid "
                                               r"\(first at line 30002: '2024-13-45'"):
        jl.load_events(p)


def test_day_month_dates_are_read_in_the_order_the_whole_file_shows(tmp_path):
    # the only day above 12 is in the last row: a sniffer reading the first rows would guess month-first
    rows = ["a,03/04/2024,x"] * 30_000 + ["b,25/04/2024,x"]
    p = _csv(tmp_path, "dmy.csv", "customer_id,ts,event\n" + "\n".join(rows) + "\n")
    got = jl.load_events(p).to_pandas()
    assert sorted(set(got["ts"].dt.strftime("%Y-%m-%d"))) == ["2024-04-03", "2024-04-25"]
    mdy = _csv(tmp_path, "mdy.csv", "customer_id,ts,event\na,04/03/2024 10:00,x\nb,04/25/2024 11:30,x\n")
    assert sorted(jl.load_events(mdy).to_pandas()["ts"].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2024-04-03 10:00", "2024-04-25 11:30"]


def test_ambiguous_dates_are_refused_unless_declared(tmp_path):
    p = _csv(tmp_path, "amb.csv", "customer_id,ts,event\na,03/04/2024,x\nb,05/06/2024,x\n")
    with pytest.raises(JourneyDataError, match=r"(?s)'03/04/2024' can be read day-first \(%d/%m/%Y\) or "
                                               r"month-first \(%m/%d/%Y\).*timestamp_format="):
        jl.load_events(p)
    got = jl.load_events(p, timestamp_format="%d/%m/%Y").to_pandas().sort_values("customer_id")
    assert got["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-04-03", "2024-06-05"]
    with pytest.raises(JourneyDataError, match=r"first at line 3: '05/06/2024'"):
        jl.load_events(_csv(tmp_path, "amb2.csv", "customer_id,ts,event\na,2024-04-03,x\nb,05/06/2024,x\n"),
                       timestamp_format="%Y-%m-%d")


def test_customers_csv_columns_are_typed_over_every_row(tmp_path):
    p = _csv(tmp_path, "c.csv", "customer_id,age,vip,zip,joined_at\n001,30,true,0123,2024-01-01\n"
                                "002,41.5,false,0456,\n")
    t = jl.load_customers(p)
    assert dict(t.schema().items()) == {"customer_id": dt.string, "age": dt.float64, "vip": dt.boolean,
                                        "zip": dt.string, "joined_at": dt.Timestamp(timezone="UTC")}
    assert t.to_pandas().sort_values("customer_id")["customer_id"].tolist() == ["001", "002"]


def test_columns_mapping_collisions_are_parameter_errors(frame):
    df = frame.rename(columns={"user": "customer_id", "time": "ts"}).assign(user="x")
    with pytest.raises(JourneyParameterError, match=r"maps 'user' to 'customer_id', but events already has"):
        jl.load_events(df, columns={"user": "customer_id"})
    df2 = frame.assign(other=frame["user"])
    with pytest.raises(JourneyParameterError, match=r"\['user', 'other'\] are all mapped to 'customer_id'"):
        jl.load_events(df2, columns={"user": "customer_id", "other": "customer_id", "time": "ts"})


def test_purchases_without_revenue_are_counted_not_zeroed(tmp_path):
    p = _csv(tmp_path, "p.csv", "customer_id,ts,event,revenue\na,2024-01-01,purchase,\nb,2024-01-02,purchase,3\n"
                                "c,2024-01-03,purchase,\n")
    with pytest.warns(JourneyDataWarning, match=r"2 'purchase' rows have no revenue"):
        got = jl.load_table("events", p)
    assert got.table.to_pandas()["revenue"].isna().sum() == 2
    assert [c.status for c in got.checks if "without revenue" in c.name] == ["warn"]


def test_stage_case_is_named_with_counts_and_spaces_are_dropped(tmp_path):
    p = _csv(tmp_path, "s.csv", "customer_id,ts,event,stage\na,2024-01-01,x,Purchase\nb,2024-01-01,x, cart\n"
                                "c,2024-01-01,x,Purchase\nd,2024-01-01,x,cart\n")
    with pytest.raises(JourneyDataError, match=r"(?s)2 of 4 rows invalid.*only by case: 'Purchase' \(2 rows\) -> "
                                               r"'purchase'$"):
        jl.load_events(p, stages=["cart", "purchase"])
    _csv(tmp_path, "s.csv", "customer_id,ts,event,stage\nb,2024-01-01,x, cart\nd,2024-01-01,x,cart\n")
    assert jl.load_events(p, stages=["cart", "purchase"]).to_pandas()["stage"].tolist() == ["cart", "cart"]


def test_glob_characters_in_folder_names_are_literal(tmp_path):
    for name, ids in (("run[1]", ["a"]), ("run1", ["b", "c"]), ("a*b", ["d"]), ("axb", ["e"]), ("q?", ["f"]),
                      ("qx", ["g"])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "events.csv").write_text(
            "customer_id,ts,event\n" + "".join(f"{i},2024-01-01,x\n" for i in ids))
    for name, ids in (("run[1]", ["a"]), ("a*b", ["d"]), ("q?", ["f"])):
        assert sorted(jl.load_events(tmp_path / name / "events.csv").to_pandas()["customer_id"]) == ids
        assert sorted(jl.load_events(str(tmp_path / name / "*.csv")).to_pandas()["customer_id"]) == ids
    # a real glob (the folder does not exist by that name) still globs
    assert sorted(jl.load_events(str(tmp_path / "run[0-9]" / "events.csv")).to_pandas()["customer_id"]) == ["b", "c"]


def test_folder_with_top_level_parts_beside_partitions_is_an_error(tmp_path):
    ev = tmp_path / "events"
    (ev / "month=2024-01").mkdir(parents=True)
    (ev / "month=2024-01" / "part-0.csv").write_text("customer_id,ts,event\na,2024-01-01,x\n")
    assert jl.load_events(ev).to_pandas()["customer_id"].tolist() == ["a"]
    (ev / "part-9.csv").write_text("customer_id,ts,event\nb,2024-02-01,x\n")
    with pytest.raises(JourneyDataError, match=r"(?s)holds data files at its top \(part-9.csv\) beside files in "
                                               r"sub-folders \(month=2024-01/part-0.csv\)"):
        jl.load_events(ev)


def test_csv_beside_parquet_is_an_error_naming_both(tmp_path):
    pd.DataFrame({"customer_id": ["a"], "ts": ["2024-01-01"], "event": ["x"]}).to_parquet(tmp_path / "events.parquet")
    (tmp_path / "events.csv").write_text("customer_id,ts,event\nb,2024-01-01,x\n")
    with pytest.raises(JourneyDataError, match=r"matches files of different kinds \(events.csv, events.parquet\)"):
        jl.load_events(str(tmp_path / "events.*"))
    with pytest.raises(JourneyDataError, match=r"events is there 2 times \(events.parquet, events.csv\)"):
        jl.core.engine.table_files(str(tmp_path), "events")
    assert jl.core.engine.table_files(str(tmp_path), "customers") is None


# --- DataFrames entering the analyses --------------------------------------------------------------

@pytest.fixture(scope="module")
def small_sample():
    from journeylib.core.locations import SAMPLE_DIR

    ev = pd.read_parquet(SAMPLE_DIR / "events.parquet")
    asg = pd.read_parquet(SAMPLE_DIR / "assignments.parquet")
    keep = sorted(asg["customer_id"].unique())[:600]
    ev = ev[ev["customer_id"].isin(keep)].reset_index(drop=True)
    asg = asg[asg["customer_id"].isin(keep)].reset_index(drop=True)
    return ev, asg


def _as_text(df, col):
    out = df.copy()
    out[col] = out[col].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    return out


def test_text_timestamps_in_frames_give_the_same_rfm_cohorts_and_clv(small_sample):
    ev, _ = small_sample
    text = _as_text(ev, "ts")
    assert text["ts"].dtype == object
    pd.testing.assert_frame_equal(jl.rfm_table(text), jl.rfm_table(ev))
    pd.testing.assert_frame_equal(jl.cohort_table(text).summary, jl.cohort_table(ev).summary)
    pd.testing.assert_frame_equal(jl.customer_summary(text), jl.customer_summary(ev))


def test_text_timestamps_and_integer_ids_in_frames_give_the_same_ab_readout(small_sample):
    ev, asg = small_sample
    want = jl.ab_readout(asg, ev).summary
    pd.testing.assert_frame_equal(jl.ab_readout(_as_text(asg, "assigned_at"), _as_text(ev, "ts")).summary, want)
    # integer ids in the events, text ids in the assignments: reconciled to text, the join matches
    codes = {c: i for i, c in enumerate(sorted(ev["customer_id"].unique()))}
    ev_int = ev.assign(customer_id=ev["customer_id"].map(codes).astype("int64"))
    asg_txt = asg.assign(customer_id=asg["customer_id"].map(codes).astype(str))
    got = jl.ab_readout(asg_txt, ev_int).summary
    pd.testing.assert_frame_equal(got, want)


def test_frames_with_null_ids_blank_events_or_negative_revenue_are_rejected(small_sample):
    ev, _ = small_sample
    base = ev.head(50).copy()
    cases = [(base.assign(customer_id=[None] + list(base["customer_id"][1:])), r"column 'customer_id' of events: 1 of 50"),
             (base.assign(event=[" "] + list(base["event"][1:])), r"column 'event' of events: 1 of 50"),
             (base.assign(revenue=[-5.0] + list(base["revenue"][1:])), r"(?s)column 'revenue' of events: 1 of 50.*-5"),
             (base.assign(ts=["not a date"] + list(base["ts"].astype(str)[1:])), r"column 'ts' of events: 1 of 50")]
    for frame_, pattern in cases:
        for entry in (jl.rfm_table, jl.customer_summary, lambda e: jl.cohort_table(e)):
            with pytest.raises(JourneyDataError, match=pattern):
                entry(frame_)


def test_nanosecond_timestamps_in_a_dataframe_are_read_to_the_microsecond():
    """Arrow refuses to drop a nanosecond part; the engines keep microseconds, so the frame is cut to them."""
    sim = jl.simulate_journeys(60, seed=2).events
    fine = sim.assign(ts=sim["ts"] + pd.Timedelta(nanoseconds=7))
    pd.testing.assert_frame_equal(jl.funnel(fine).summary, jl.funnel(sim).summary)
    assert jl.load_events(fine).count().execute() == len(sim)
    assert (fine["ts"].dt.nanosecond == 7).all()  # the caller's frame is untouched


def test_excel_workbooks(tmp_path):
    """An .xlsx is read as a CSV is: text columns the loaders type (date cells as ISO text, whole numbers without
    .0); the sheet named like the table is read when there is one, else the first; Excel's lock file is no data."""
    cells = pd.DataFrame({"customer_id": [1001, 1001, 1002],
                          "ts": [pd.Timestamp("2025-01-05 12:00"), pd.Timestamp("2025-01-06 08:30:15"),
                                 pd.Timestamp("2025-01-07")],
                          "event": ["landing", "purchase", "landing"], "revenue": [None, 12.5, None]})
    with pd.ExcelWriter(tmp_path / "shop.xlsx") as book:
        pd.DataFrame({"note": ["read me first"]}).to_excel(book, sheet_name="README", index=False)
        cells.to_excel(book, sheet_name="Events", index=False)
    got = jl.load_events(tmp_path / "shop.xlsx").to_pandas().sort_values("ts").reset_index(drop=True)
    assert got["customer_id"].tolist() == ["1001", "1001", "1002"]
    assert got["ts"].tolist() == list(cells["ts"].dt.tz_localize("UTC"))
    assert got["revenue"].fillna(-1).tolist() == [-1, 12.5, -1]
    with pd.ExcelWriter(tmp_path / "report.xlsx") as book:  # a report's title and a blank line above the table
        pd.DataFrame([["Shop events, January 2025"], [None]]).to_excel(book, index=False, header=False)
        cells.to_excel(book, index=False, startrow=3)
    assert jl.load_events(tmp_path / "report.xlsx").to_pandas()["revenue"].sum() == 12.5
    cells.to_excel(tmp_path / "indexed.xlsx")  # pandas' index column under a blank corner
    assert jl.load_events(tmp_path / "indexed.xlsx").to_pandas()["customer_id"].tolist() == ["1001", "1001", "1002"]
    folder = tmp_path / "events"
    folder.mkdir()
    cells.to_excel(folder / "january.xlsx", index=False)  # one sheet, not named events: the first
    (folder / "~$january.xlsx").write_bytes(b"lock")  # Excel's lock file while the workbook is open
    assert len(jl.load_events(folder).to_pandas()) == 3
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")  # the old format is read too: this one is damaged
    with pytest.raises(JourneyDataError, match=r"(?s)could not read the workbook .*old\.xls.*save the sheet as CSV"):
        jl.load_events(tmp_path / "old.xls")
    (tmp_path / "events.numbers").write_bytes(b"x")
    with pytest.raises(JourneyDataError, match=r"unsupported file type '\.numbers'.*expected \.csv, \.parquet, JSON lines or a "
                                               r"workbook \(\.xlsx, \.xls, \.ods\)"):
        jl.load_events(tmp_path / "events.numbers")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(JourneyDataError, match=r"(?s)could not read the workbook .*broken\.xlsx.*save the sheet as CSV"):
        jl.load_events(tmp_path / "broken.xlsx")


def test_a_folder_of_files_whose_columns_differ_is_read_by_column_name(differing_files):
    """Monthly exports whose columns come in another order, one adding revenue: every value lands in its column
    (the first file's columns had been taken for all, and the later file's revenue dropped without a word)."""
    got = jl.load_events(differing_files).to_pandas().sort_values("ts")
    assert got[["customer_id", "event"]].values.tolist() == [["a", "landing"], ["b", "landing"], ["a", "purchase"]]
    assert got["revenue"].fillna(-1).tolist() == [-1, -1, 12.5]


def test_message_actions_as_email_tools_write_them(tmp_path):
    """Sent, Opened, Clicked are send, open, click; other actions of an email tool's log (bounce, unsubscribe) are
    left out with a warning that counts each, also when the validation of the same file is reused; a log with no
    send, open or click at all is an error naming what it holds."""
    from journeylib.core import load as io

    m = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "c"], "ts": ["2025-01-01 10:00"] * 6,
                      "campaign": "spring", "channel": "email",
                      "action": ["Sent", "Opened", "bounce", "CLICKED", "unsubscribe", "bounce"]})
    m.to_csv(tmp_path / "messages.csv", index=False)
    for validation in ("checked", "reused"):
        with pytest.warns(jl.JourneyDataWarning, match=r"left out 3 rows of other actions: bounce \(2\), "
                                                        r"unsubscribe \(1\)"):
            loaded = io.load_table("messages", str(tmp_path / "messages.csv"))
        assert loaded.input.validation == validation and loaded.input.rows == 3
        assert sorted(loaded.table.to_pandas()["action"]) == ["click", "open", "send"]
        assert any(c.name == "messages: other actions" for c in loaded.checks)
    m.assign(action="delivered").to_csv(tmp_path / "delivered.csv", index=False)
    with pytest.raises(JourneyDataError, match=r"(?s)no row is a send, open or click \(it holds delivered\).*map the "
                                               "column that says what happened"):
        jl.load_messages(tmp_path / "delivered.csv")


def test_a_time_with_am_pm_is_not_taken_for_a_zone_abbreviation_in_the_advice():
    """A 12-hour time among ISO times fails the read; its advice is the format's, not the zone abbreviation's."""
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "ts": ["2025-01-05 10:00", "2025-01-06 10:00",
                                                            "2025-01-07 9:00 PM"], "event": ["visit"] * 3})
    with pytest.raises(JourneyDataError) as err:
        jl.load_events(df)
    assert "2025-01-07 9:00 PM" in str(err.value) and "zone abbreviation" not in str(err.value)
    zoned = df.assign(ts=["2025-01-05 10:00", "2025-01-06 10:00", "2025-01-07 09:00 CEST"])
    with pytest.raises(JourneyDataError, match="these times end in a zone abbreviation"):
        jl.load_events(zoned)


def test_a_space_before_the_offset_among_other_forms(tmp_path):
    """Shopify's '2025-02-27 20:04:04 -0500' in a column that also holds ISO times with Z and naive times: every
    row is read (before, the whole column needed the one form to get its %z format, and mixed rows were errors)."""
    p = _csv(tmp_path, "e.csv", "customer_id,ts,event\na,2025-02-27T20:04:04Z,visit\nb,2025-02-27 20:04:04 -0500,visit\n"
                                "c,2025-02-27 20:04:04,visit\nd,2025-02-27 20:04:04 +0130,visit\n")
    got = jl.load_events(p).to_pandas().sort_values("customer_id")
    assert got["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist() == ["2025-02-27 20:04", "2025-02-28 01:04",
                                                                "2025-02-27 20:04", "2025-02-27 18:34"]
