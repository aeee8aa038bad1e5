"""Spark parity of the loaders: the same validated tables, counts and error messages
on DuckDB and on PySpark (local mode) from the same Parquet/CSV files."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyDataWarning
from journeylib.core.time import epoch_us
from journeylib.simulate.journeys import simulate_to_parquet

pytestmark = pytest.mark.spark

CORPUS = Path(__file__).resolve().parents[1] / "bad_inputs"
EVENT_KEYS = ["customer_id", "ts", "event", "channel", "stage"]


def test_loaded_parquet_tables_are_identical(on_each, small_sim, same):
    """events/customers/assignments after validation: same rows, same values, same types of content."""
    for name, keys in (("events", EVENT_KEYS), ("customers", ["customer_id"]),
                       ("assignments", ["experiment", "customer_id"])):
        a, b = on_each(lambda ds: getattr(ds, name).to_pandas())
        assert len(a) == len(getattr(small_sim, name))  # the simulation has no duplicate rows
        same(a, b, sort_by=keys, what=name)


def test_loaded_event_aggregates_match_the_simulation(on_each, small_sim, same):
    """Counts exactly, revenue sums to 1e-9 relative, on both engines, against pandas."""
    def agg(ds):
        t = ds.events
        return t.group_by("event").aggregate(n=t.count(), revenue=t.revenue.sum(),
                                             customers=t.customer_id.nunique()).to_pandas()

    a, b = on_each(agg)
    same(a, b, sort_by=["event"], what="per-event aggregate")
    ev = small_sim.events
    ref = ev.groupby("event").agg(n=("customer_id", "size"), revenue=("revenue", "sum"),
                                  customers=("customer_id", "nunique")).reset_index()
    a = a.sort_values("event").reset_index(drop=True)
    assert a["n"].tolist() == ref["n"].tolist()
    assert a["customers"].tolist() == ref["customers"].tolist()
    pd.testing.assert_series_equal(a["revenue"].fillna(0.0), ref["revenue"], check_names=False, rtol=1e-9)


def test_dataframe_input_is_the_same_table(both, small_sim, same):
    """A pandas DataFrame (Ibis memtable) validates to the same table on both engines."""
    sub = small_sim.events.head(3000)
    a, b = both(lambda: jl.load_events(sub).to_pandas())
    assert len(a) == 3000
    same(a, b, sort_by=EVENT_KEYS, what="events from a DataFrame")


def test_ids_with_whitespace_at_an_end_are_trimmed_alike(both, same):
    ids = ["\ta", "b\n", " c ", "d e", " é ", "ü", "j "]
    ev = pd.DataFrame({"customer_id": ids, "ts": pd.to_datetime(["2024-01-01"] * len(ids)), "event": "visit"})
    a, b = both(lambda: jl.load_events(ev).to_pandas())
    assert sorted(a["customer_id"]) == sorted(i.strip() for i in ids)
    same(a, b, sort_by=EVENT_KEYS, what="trimmed ids")


def test_partitioned_folder(both, tmp_path_factory, same):
    """A month-partitioned dataset written in chunks by simulate_to_parquet loads the same."""
    folder = simulate_to_parquet(tmp_path_factory.mktemp("parts"), 600, seed=3, chunk_customers=300,
                                 progress=False)

    def monthly():
        ds = jl.load_dataset(folder)
        t = ds.events
        m = t.mutate(month=t.ts.truncate("M"))
        per_month = m.group_by("month").aggregate(n=m.count(), revenue=m.revenue.sum()).to_pandas()
        return (per_month, int(ds.customers.count().execute()), int(ds.assignments.count().execute()),
                list(t.columns))

    (ma, ca, aa, cols_a), (mb, cb, ab, cols_b) = both(monthly)
    assert cols_a == cols_b
    assert (ca, aa) == (cb, ab) and ca == 600
    same(ma, mb, sort_by=["month"], what="events per month")
    n_files = sum(len(pd.read_parquet(p)) for p in sorted((folder / "events").glob("*/*.parquet")))
    assert int(ma["n"].sum()) == n_files


def test_csv_events(both, same):
    """The real CDNOW purchase log (CSV) loads to the same table."""
    path = jl.cdnow_events_path() if hasattr(jl, "cdnow_events_path") else None
    if path is None:
        from journeylib.simulate.datasets import cdnow_events_path
        path = cdnow_events_path()
    a, b = both(lambda: jl.load_events(path).to_pandas())
    assert len(a) > 1000
    same(a, b, sort_by=EVENT_KEYS + ["revenue"], what="CDNOW events")


def _bad_parquet(folder: Path, name: str, events: pd.DataFrame) -> Path:
    p = folder / f"{name}.parquet"
    events.to_parquet(p, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    return p


def _outcome(loader, path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            n = int(loader(path).count().execute())
            err = None
        except JourneyDataError as exc:
            n, err = None, str(exc)
    warn = sorted(str(w.message) for w in caught if issubclass(w.category, JourneyDataWarning))
    return n, err, warn


def test_bad_parquet_inputs_give_the_same_errors(both, small_sim, tmp_path):
    """Validation names the same column, counts and example rows on both engines."""
    ev = small_sim.events.head(2000).copy()
    neg = ev.copy()
    neg.loc[neg.index[[5, 50, 500]], "revenue"] = -5.0
    nulls = ev.copy()
    nulls.loc[nulls.index[[7, 70]], "customer_id"] = None
    dup = pd.concat([ev, ev.head(4)], ignore_index=True)
    stage = ev.copy()
    stage.loc[stage.index[[3, 30]], "stage"] = "wishlist"
    cases = {
        "revenue_negative": (jl.load_events, r"column 'revenue' of events: 3 of 2,000 rows"),
        "customer_id_null": (jl.load_events, r"column 'customer_id' of events: 2 of 2,000 rows"),
        "duplicates": (jl.load_events, None),
        "stage_unknown": (lambda p: jl.load_events(p, stages=jl.DEFAULT_STAGES), r"(?s)column 'stage'.*wishlist"),
    }
    frames = {"revenue_negative": neg, "customer_id_null": nulls, "duplicates": dup, "stage_unknown": stage}
    for name, (loader, pattern) in cases.items():
        path = _bad_parquet(tmp_path, name, frames[name])
        a, b = both(lambda: _outcome(loader, path))
        assert a == b, f"{name}: DuckDB {a} vs Spark {b}"
        n, err, warn = a
        if pattern:
            assert err is not None and re.search(pattern, err), f"{name}: {err}"
        else:
            assert n == 2000 and any("dropped 4 exact duplicate rows of 2,004" in w for w in warn), warn


@pytest.mark.parametrize("name, pattern", [
    ("revenue_negative.csv", r"(?s)column 'revenue'.*-5"),
    ("null_customer_id.csv", r"column 'customer_id' of events: 1 of 2 rows"),
    ("ts_unparseable.csv", r"column 'ts' of events: 2 of 3 rows"),
    ("ts_missing.csv", r"column 'ts' of events: 1 of 2 rows"),
    ("ok_minimal.csv", None),
    ("single_customer.csv", None),
])
def test_bad_input_corpus_csv(both, name, pattern):
    """A part of the CSV bad-input corpus gives the same outcome on Spark."""
    a, b = both(lambda: _outcome(jl.load_events, CORPUS / name))
    if pattern:
        assert a[1] is not None and re.search(pattern, a[1]), a
        assert b[1] is not None and re.search(pattern, b[1]), b
    else:
        assert a[1] is None and b[1] is None and a[0] == b[0] and a[0] >= 1, (a, b)


def test_shift_within_one_sort_on_duckdb_equals_the_partitioned_window_on_spark(both, small_sim, same):
    """engine.shift_within sorts once on DuckDB and partitions on Spark: same previous/next rows."""
    from journeylib.core import engine

    def run():
        t = jl.load_events(small_sim.events.head(5000))
        t = t.mutate(_e=epoch_us(t))
        t = engine.shift_within(t, "customer_id", [t._e, t.event, t.channel, t.stage], prev_event=t.event,
                                prev_e=t._e)
        t = engine.shift_within(t, "customer_id", [t._e, t.event, t.channel, t.stage], periods=-1,
                                next_event=t.event)
        return t.select("customer_id", "_e", "event", "channel", "stage", "prev_event", "prev_e",
                        "next_event").to_pandas()

    a, b = both(run)
    assert a["prev_event"].notna().sum() == len(a) - a["customer_id"].nunique()
    same(a, b, sort_by=["customer_id", "_e", "event", "channel", "stage"], what="shift_within")


def test_a_uri_is_listed_and_read_by_the_engine(both, tmp_path_factory, same):
    """load_dataset("file:///...") goes through each engine's own file system (Hadoop's on
    Spark, as for hdfs:// or s3a://): the same tables as the local path, month column included."""
    folder = simulate_to_parquet(tmp_path_factory.mktemp("uri"), 400, seed=5, chunk_customers=200,
                                 progress=False)

    def load(src):
        ds = jl.load_dataset(src)
        return (ds.events.to_pandas(), int(ds.customers.count().execute()), ds.ground_truth)

    (ev_a, n_a, gt_a), (ev_b, n_b, gt_b) = both(lambda: load(folder.as_uri()))
    (ev_local, _, gt_local), _ = both(lambda: load(folder))
    assert n_a == n_b == 400 and gt_a == gt_b == gt_local is not None
    assert "month" in ev_a.columns and ev_a["month"].nunique() > 1
    keys = EVENT_KEYS + ["month"]
    same(ev_a, ev_b, sort_by=keys, what="events from a URI")
    same(ev_a, ev_local, sort_by=keys, what="URI vs local path")


def test_an_unknown_storage_scheme_says_what_spark_needs(spark_con):
    """A scheme without a Hadoop connector: a JourneyDataError naming it and the connector to add."""
    jl.connect(spark_con)
    try:
        with pytest.raises(JourneyDataError, match=r"(?s)nosuchfs://lake/journeys.*No FileSystem for scheme.*hadoop-aws"):
            jl.load_dataset("nosuchfs://lake/journeys")
    finally:
        jl.connect()


def test_decimal_comma_amounts(both, same, tmp_path):
    """A semicolon CSV (Spark is told the delimiter DuckDB sniffs) with decimal: ',' reads revenue written
    1.234,56 alike on both engines (the same Ibis expression), and its absence names the decimal comma alike."""
    (tmp_path / "ev.csv").write_text("user;time;action;value\na;2025-03-01 10:00;visit;\na;2025-03-02 10:00;buy;1.234,56\n"
                                     "b;2025-03-03 10:00;visit;\nb;2025-03-04 10:00;buy;13,26\nb;2025-03-05 10:00;buy;7\n")
    text = ("sources:\n  events:\n    path: ev.csv\n    columns: {{user: customer_id, time: ts, action: event}}\n"
            "{decimal}stages:\n  order: [awareness, purchase]\n  rules: [{{stage: awareness, event: visit}}, "
            "{{stage: purchase, event: buy}}]\nevents:\n  purchase: [buy]\n  revenue: value\n")
    (tmp_path / "journey.yml").write_text(text.format(decimal="    decimal: ','\n"))
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert sorted(a["revenue"].dropna().tolist()) == [7.0, 13.26, 1234.56]
    same(a, b, sort_by=EVENT_KEYS, what="events with decimal commas")
    (tmp_path / "journey.yml").write_text(text.format(decimal=""))

    def error():
        with pytest.raises(JourneyDataError) as info:
            jl.load_journey(tmp_path / "journey.yml")
        return str(info.value)

    a, b = both(error)  # Spark's rows carry no line numbers: the rest is the same
    for msg in (a, b):
        assert msg.startswith("column 'revenue' of events: 2 of 5 rows invalid") and \
            "What to do: these amounts use a decimal comma (1.234,56): add decimal: ',' to sources.events" in msg


def test_amounts_written_with_their_currency(both, same, tmp_path):
    """Amounts written with a currency and spaces grouping thousands are read alike (the same Ibis expression over
    DuckDB's and Java's regular expressions), and two currencies in one column are the same error."""
    (tmp_path / "ev.csv").write_text("customer_id;ts;event;revenue\na;2025-03-01 10:00;visit;\n"
                                     "a;2025-03-02 10:00;buy;1\u00a0234,56\u00a0€\nb;2025-03-04 10:00;buy;€ 13,26\n"
                                     "b;2025-03-05 10:00;buy;7 €\n", encoding="utf-8")
    text = ("sources:\n  events:\n    path: ev.csv\n    decimal: ','\nstages:\n  order: [awareness, purchase]\n"
            "  rules: [{stage: awareness, event: visit}, {stage: purchase, event: buy}]\nevents:\n  purchase: [buy]\n")
    (tmp_path / "journey.yml").write_text(text)
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert sorted(a["revenue"].dropna().tolist()) == [7.0, 13.26, 1234.56]
    same(a, b, sort_by=EVENT_KEYS, what="events with amounts written with their currency")
    (tmp_path / "ev.csv").write_text("customer_id,ts,event,revenue\na,2025-03-02 10:00,buy,\"$1,234.56\"\n"
                                     "b,2025-03-04 10:00,buy,£13.26\nb,2025-03-05 10:00,buy,$7\n", encoding="utf-8")

    def error():
        with pytest.raises(JourneyDataError) as info:
            jl.load_events(tmp_path / "ev.csv")
        return str(info.value)

    a, b = both(error)
    for msg in (a, b):
        assert msg.startswith("column 'revenue' of events: 1 of 3 rows invalid") and "found $ 2, £ 1 priced rows" in msg


def test_a_csv_in_the_windows_encoding(both, same, tmp_path):
    """encoding: cp1252 is read alike: both engines read the same UTF-8 copy."""
    (tmp_path / "ev.csv").write_bytes("customer_id;ts;event;channel\nKühne;2025-01-05 10:00;visit;E-Mail – News\n"
                                      "Søren;2025-02-06 10:00;visit;Suche\n".encode("cp1252"))
    (tmp_path / "journey.yml").write_text("sources:\n  events: {path: ev.csv, encoding: cp1252}\nstages:\n"
                                          "  order: [awareness]\n  rules: [{stage: awareness, event: visit}]\n")
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert sorted(a["customer_id"]) == ["Kühne", "Søren"]
    same(a, b, sort_by=EVENT_KEYS, what="events read from a Windows-1252 CSV")


@pytest.mark.parametrize("fields", [5, 3], ids=["extra-field", "missing-field"])
def test_a_line_that_splits_otherwise_than_the_header_stops_both_engines(both, tmp_path, fields):
    """A line with more or fewer fields than the header (an unquoted comma in a value, a totals line)
    is an error naming the line on both engines: Spark's default read pads or cuts it unseen."""
    rows = [f"C{i:04d},2025-01-01 10:00:{i % 60:02d},visit,search" for i in range(200)]
    rows[150] = ",".join((rows[150].split(",") + ["x"])[:fields])
    (tmp_path / "ev.csv").write_text("customer_id,ts,event,channel\n" + "\n".join(rows) + "\n")

    def error():
        with pytest.raises(JourneyDataError) as info:
            jl.load_events(tmp_path / "ev.csv").to_pandas()
        return str(info.value)

    a, b = both(error)
    for msg in (a, b):
        assert f"ev.csv: line 152 has {fields} fields where the header has 4" in msg and "C0150" not in msg


def test_quoted_values_with_line_breaks_and_doubled_quotes(both, same, tmp_path):
    """A quoted value holding a line break or doubled quotes, as CSV writes them, reads alike: Spark's
    default read split the line and kept the backslash-escaped form."""
    (tmp_path / "ev.csv").write_text('customer_id,ts,event,channel\na,2024-01-05 10:00:00,landing,"search\nads"\n'
                                     'b,2024-01-06 10:00:00,landing,"the ""best"" shop, really"\n')
    a, b = both(lambda: jl.load_events(tmp_path / "ev.csv").to_pandas())
    assert sorted(a["channel"]) == ["search\nads", 'the "best" shop, really']
    same(a, b, sort_by=["customer_id", "ts", "event"], what="quoted values with line breaks and quotes")


def test_times_that_carry_their_zone_are_not_moved_by_the_source_timezone(both, same, tmp_path):
    """PostgreSQL's +01, BigQuery's UTC and a region name are instants on both engines; the source's
    timezone moves only the time without a zone."""
    times = ["2024-01-05 10:00:00+01", "2024-01-05 10:00:00 UTC", "2024-01-05 10:00:00 Europe/Paris",
             "2024-01-05T10:00:00Z", "2024-01-05 10:00:00"]
    (tmp_path / "ev.csv").write_text("customer_id,ts,event\n" + "".join(f"c{i},{t},visit\n" for i, t in enumerate(times)))
    (tmp_path / "journey.yml").write_text("sources:\n  events: {path: ev.csv, timezone: America/New_York}\n"
                                          "stages:\n  order: [awareness]\n  rules: [{stage: awareness, event: visit}]\n")
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert a.sort_values("customer_id")["ts"].dt.strftime("%H:%M").tolist() == ["09:00", "10:00", "09:00", "10:00",
                                                                                 "15:00"]
    same(a, b, sort_by=EVENT_KEYS, what="times with their zone under a source timezone")


def test_unix_times(both, same, tmp_path):
    """Unix times are read alike: detected in a CSV of milliseconds, declared as seconds in a definition."""
    (tmp_path / "ev.csv").write_text("customer_id,ts,event\na,1736078400123,visit\na,1736082000000,buy\n"
                                     "b,1736164800000,visit\n")
    a, b = both(lambda: jl.load_events(tmp_path / "ev.csv").to_pandas())
    assert sorted(a["ts"]) == list(pd.to_datetime([1736078400123, 1736082000000, 1736164800000], unit="ms", utc=True))
    same(a, b, sort_by=["customer_id", "ts", "event"], what="events with Unix milliseconds")
    (tmp_path / "s.csv").write_text("user,time,action\na,1736078400.5,visit\nb,1736164800,visit\n")
    (tmp_path / "journey.yml").write_text(
        "sources:\n  events:\n    path: s.csv\n    columns: {user: customer_id, time: ts, action: event}\n"
        "    timestamp_format: unix_s\n    timezone: Europe/Paris\nstages:\n  order: [awareness]\n"
        "  rules: [{stage: awareness, event: visit}]\n")
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert sorted(a["ts"]) == [pd.Timestamp(1736078400.5, unit="s", tz="UTC"), pd.Timestamp(1736164800, unit="s", tz="UTC")]
    same(a, b, sort_by=["customer_id", "ts", "event"], what="a definition's Unix seconds")


def test_excel_workbook(both, same, small_sim, tmp_path):
    """An .xlsx (date cells, numbers) loads to the same table on both engines."""
    ev = small_sim.events[["customer_id", "ts", "event", "channel", "revenue"]].head(3000).copy()
    ev["ts"] = pd.to_datetime(ev["ts"], utc=True).dt.tz_localize(None)
    ev.to_excel(tmp_path / "events.xlsx", index=False)
    a, b = both(lambda: jl.load_events(tmp_path / "events.xlsx").to_pandas())
    assert len(a) == 3000 and a["revenue"].sum() == pytest.approx(ev["revenue"].sum())
    same(a, b, sort_by=EVENT_KEYS + ["revenue"], what="an Excel workbook's events")


def test_files_whose_columns_differ(both, same, differing_files):
    """A folder of exports whose columns come in another order (one adds revenue) reads alike by column name."""
    a, b = both(lambda: jl.load_events(differing_files).to_pandas())
    assert sorted(a["revenue"].fillna(-1)) == [-1, -1, 12.5] and sorted(a["event"]) == ["landing", "landing", "purchase"]
    same(a, b, sort_by=EVENT_KEYS, what="files with different columns")


def test_a_zipped_export_is_read_alike(both, same, tmp_path):
    """A source inside a .zip (a CSV, and Parquet partitions) is read alike: both engines read the unpacked files."""
    import zipfile

    ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": ["2025-01-05 10:00", "2025-01-06 10:00", "2025-02-01 09:00"],
                       "event": ["visit", "purchase", "visit"], "revenue": [None, 12.5, None]})
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as z:
        z.writestr("events.csv", ev.to_csv(index=False))
        for i, part in enumerate((ev.iloc[:2], ev.iloc[2:])):
            frame = part.assign(ts=pd.to_datetime(part["ts"], utc=True))
            z.writestr(f"parts/month={i}/part.parquet", frame.to_parquet(index=False, coerce_timestamps="us"))
    for path in ("export.zip/events.csv", "export.zip/parts"):
        (tmp_path / "journey.yml").write_text(f"sources:\n  events: {{path: {path}}}\nstages:\n  order: [awareness]\n"
                                              "  rules: [{stage: awareness, event: visit}]\n")
        a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
        assert sorted(a["customer_id"]) == ["a", "a", "b"] and a["revenue"].sum() == 12.5
        same(a.drop(columns=["month"], errors="ignore"), b.drop(columns=["month"], errors="ignore"),
             sort_by=EVENT_KEYS, what=f"events read from {path}")


@pytest.mark.parametrize("written", ["%b %-d, %Y %-I:%M %p", "%A, %B %d, %Y %H:%M", "%d-%b-%y %H:%M",
                                     "%Y-%m-%d %-I:%M %p"])
def test_dates_that_name_the_month_are_read_alike(both, same, tmp_path, written):
    """Text dates with an English month name and no declared format, in a source's time zone: both engines read
    the format from the values and give the same instants as pandas."""
    when = pd.Series(pd.to_datetime(["2025-01-05 09:00", "2025-03-14 15:09", "2025-11-30 23:45"]))
    ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "ts": when.dt.strftime(written), "event": "visit"})
    ev.to_csv(tmp_path / "ev.csv", index=False)
    (tmp_path / "journey.yml").write_text("sources:\n  events: {path: ev.csv, timezone: Asia/Tokyo}\nstages:\n"
                                          "  order: [awareness]\n  rules: [{stage: awareness, event: visit}]\n")
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert sorted(a["ts"]) == sorted(when.dt.tz_localize("Asia/Tokyo").dt.tz_convert("UTC"))
    same(a, b, sort_by=EVENT_KEYS, what=f"events with dates written {written}")


def test_a_date_and_its_time_of_day_are_joined_alike(both, same, tmp_path):
    """A CSV with a day-first date column and a time column (ts_time), in a source's time zone: one instant per
    row on both engines, as pandas reads it."""
    when = pd.Series(pd.to_datetime(["2025-01-05 09:00", "2025-01-05 08:55", "2025-03-14 15:09"]))
    ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "Datum": when.dt.strftime("%d.%m.%Y"),
                       "Uhrzeit": when.dt.strftime("%H:%M"), "event": "visit"})
    ev.to_csv(tmp_path / "ev.csv", index=False)
    (tmp_path / "journey.yml").write_text(
        "sources:\n  events: {path: ev.csv, timezone: Asia/Tokyo, timestamp_format: '%d.%m.%Y %H:%M',\n"
        "           columns: {Datum: ts, Uhrzeit: ts_time}}\nstages:\n"
        "  order: [awareness]\n  rules: [{stage: awareness, event: visit}]\n")
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert sorted(a["ts"]) == sorted(when.dt.tz_localize("Asia/Tokyo").dt.tz_convert("UTC"))
    same(a, b, sort_by=EVENT_KEYS, what="events with a date and a time column")


def test_canonical_json_lines_are_read_alike(both, same, tmp_path):
    """Events as JSON lines (numeric ids, ISO times, a missing amount as a missing key) load alike."""
    import json

    rows = [{"customer_id": 101, "ts": "2025-01-05T09:00:00Z", "event": "visit"},
            {"customer_id": 101, "ts": "2025-01-05T09:05:00Z", "event": "purchase", "revenue": 12.5},
            {"customer_id": 202, "ts": "2025-01-06T10:00:00+01:00", "event": "visit"}]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    a, b = both(lambda: jl.load_events(tmp_path / "events.jsonl").to_pandas())
    assert sorted(a["customer_id"]) == ["101", "101", "202"] and a["revenue"].sum() == 12.5
    assert sorted(a["ts"])[-1] == pd.Timestamp("2025-01-06 09:00", tz="UTC")
    same(a, b, sort_by=EVENT_KEYS, what="events read from JSON lines")


def test_message_actions_as_email_tools_write_them_alike(both, same, tmp_path):
    """Sent/Opened/Clicked read as send/open/click and other actions left out, alike."""
    import warnings

    m = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"], "ts": ["2025-01-01 10:00"] * 5, "campaign": "spring",
                      "channel": "email", "action": ["Sent", "Opened", "bounce", "CLICKED", "unsubscribe"]})
    m.to_csv(tmp_path / "messages.csv", index=False)

    def load():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jl.load_messages(tmp_path / "messages.csv").to_pandas()

    a, b = both(load)
    assert sorted(a["action"]) == ["click", "open", "send"]
    same(a, b, sort_by=["customer_id", "ts", "action"], what="messages")


def test_one_value_for_every_row_is_given_alike(both, same, tmp_path):
    """A review export without a kind, given values: {kind: review}, is the same feedback table on both engines."""
    (tmp_path / "ev.csv").write_text("user,time,action\na,2025-03-01 10:00,visit\nb,2025-03-02 10:00,buy\n")
    (tmp_path / "reviews.csv").write_text("user,date,stars\na,2025-03-04 09:00,5\nb,2025-03-05 09:30,2\n")
    (tmp_path / "journey.yml").write_text(
        "sources:\n  events:\n    path: ev.csv\n    columns: {user: customer_id, time: ts, action: event}\n"
        "  feedback:\n    path: reviews.csv\n    columns: {user: customer_id, date: ts, stars: score}\n"
        "    values: {kind: review}\nstages:\n  order: [awareness, purchase]\n  rules: [{stage: awareness, "
        "event: visit}, {stage: purchase, event: buy}]\nevents:\n  purchase: [buy]\n")
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").feedback.to_pandas())
    assert a["kind"].tolist() == ["review", "review"] and sorted(a["score"]) == [2.0, 5.0]
    same(a, b, sort_by=["customer_id", "ts"], what="feedback with one kind")


def test_several_exports_of_one_table_are_read_alike(both, same, tmp_path):
    """Reviews (no kind, ids as numbers) and an NPS export (ids as text), and two spend reports each given its
    channel: the same feedback and costs tables on both engines, spend summed per channel and month."""
    (tmp_path / "ev.csv").write_text("user,time,action,source\n1,2025-03-01 10:00,visit,ads\n2,2025-03-02 10:00,buy,mail\n")
    (tmp_path / "reviews.csv").write_text("user,date,stars\n1,2025-03-04 09:00,5\n2,2025-03-05 09:30,2\n")
    (tmp_path / "nps.csv").write_text("customer_id,ts,kind,score\nc3,2025-03-06 08:00,nps,9\n")
    (tmp_path / "spend_ads.csv").write_text("Month,Cost\n2025-03,10.5\n2025-04,3\n")
    (tmp_path / "spend_mail.csv").write_text("Month,Cost\n2025-03,1.25\n")
    (tmp_path / "journey.yml").write_text(
        "sources:\n  events:\n    path: ev.csv\n    columns: {user: customer_id, time: ts, action: event, source: channel}\n"
        "  feedback:\n    - {path: reviews.csv, columns: {user: customer_id, date: ts, stars: score}, values: {kind: review}}\n"
        "    - nps.csv\n  costs:\n    - {path: spend_ads.csv, columns: {Month: period, Cost: spend}, values: {channel: ads}}\n"
        "    - {path: spend_mail.csv, columns: {Month: period, Cost: spend}, values: {channel: mail}}\n"
        "stages:\n  order: [awareness, purchase]\n  rules: [{stage: awareness, event: visit}, {stage: purchase, event: buy}]\n"
        "events:\n  purchase: [buy]\n")

    def load():
        j = jl.load_journey(tmp_path / "journey.yml")
        return j.feedback.to_pandas(), j.costs.to_pandas()

    (fa, ca), (fb, cb) = both(load)
    assert sorted(zip(fa["customer_id"].astype(str), fa["kind"], fa["score"])) == [
        ("1", "review", 5.0), ("2", "review", 2.0), ("c3", "nps", 9.0)]
    assert sorted(zip(ca["channel"], ca["period"].dt.strftime("%Y-%m"), ca["spend"])) == [
        ("ads", "2025-03", 10.5), ("ads", "2025-04", 3.0), ("mail", "2025-03", 1.25)]
    same(fa, fb, sort_by=["customer_id", "ts"], what="feedback from two exports")
    same(ca, cb, sort_by=["channel", "period"], what="spend from two reports")


def test_times_that_end_in_a_zone_abbreviation_are_read_alike(both, same, tmp_path):
    """PST/PDT read in the source's timezone alike; without one, both engines refuse the abbreviation."""
    (tmp_path / "ev.csv").write_text("user,time,action\na,2025-01-05 09:00:00 PST,visit\n"
                                     "b,2025-07-05 09:00:00 PDT,visit\n")
    text = ("sources:\n  events:\n    path: ev.csv\n    columns: {{user: customer_id, time: ts, action: event}}\n"
            "{zone}stages:\n  order: [awareness]\n  rules: [{{stage: awareness, event: visit}}]\n")
    (tmp_path / "journey.yml").write_text(text.format(zone="    timezone: America/Los_Angeles\n"))
    a, b = both(lambda: jl.load_journey(tmp_path / "journey.yml").events.to_pandas())
    assert sorted(a["ts"].dt.strftime("%H:%M")) == ["16:00", "17:00"]
    same(a, b, sort_by=EVENT_KEYS, what="events with zone abbreviations")
    (tmp_path / "journey.yml").write_text(text.format(zone=""))

    def error():
        with pytest.raises(JourneyDataError) as info:
            jl.load_journey(tmp_path / "journey.yml")
        return str(info.value)

    for msg in both(error):
        assert "What to do: these times end in a zone abbreviation" in msg
