"""The bad-input corpus (tests/bad_inputs/): every file gives a clear JourneyDataError naming the
problem, or a documented warning plus a correct result. Never a bare traceback, never a wrong number."""
import hashlib
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyDataWarning
from journeylib.core.load import load_costs

CORPUS = Path(__file__).parents[1] / "bad_inputs"

# file -> (loader, outcome, pattern, rows when loaded)
CASES = {
    "missing_customer_id.csv": (jl.load_events, "error", r"missing required column\(s\) \['customer_id'\]", None),
    "renamed_columns.csv": (jl.load_events, "error", r"(?s)missing required column.*columns=", None),
    "ts_unparseable.csv": (jl.load_events, "error", r"column 'ts' of events: 2 of 3 rows", None),
    "ts_missing.csv": (jl.load_events, "error", r"column 'ts' of events: 1 of 2 rows", None),
    "ts_out_of_range.csv": (jl.load_events, "error", r"(?s)2 of 3 rows.*between 1900 and 2200.*9999-12-31", None),
    "ts_integer.csv": (jl.load_events, "error", r"column 'ts' of events: 1 of 1 rows invalid \(first at line 2: '20240101'", None),
    "ts_mixed_offsets.csv": (jl.load_events, "ok", None, 3),
    "null_customer_id.csv": (jl.load_events, "error", r"column 'customer_id' of events: 1 of 2 rows", None),
    "id_fractional.csv": (jl.load_events, "ok", None, 2),  # ids are text: '1.5' is an id like any other
    "duplicate_rows.csv": (jl.load_events, "warning", r"dropped 1 exact duplicate rows of 3", 2),
    "revenue_negative.csv": (jl.load_events, "error", r"(?s)column 'revenue'.*-5.*What to do: negative amounts are refunds", None),
    "revenue_nan.csv": (jl.load_events, "error", r"column 'revenue' of events: 1 of 2 rows", None),
    "revenue_infinite.csv": (jl.load_events, "error", r"column 'revenue' of events: 1 of 2 rows", None),
    "revenue_decimal_comma.csv": (jl.load_events, "error", r"(?s)column 'revenue'.*12,50", None),
    "empty.csv": (jl.load_events, "error", r"is empty", None),
    "header_only.csv": (jl.load_events, "error", r"has no rows", None),
    "non_utf8.csv": (jl.load_events, "error", r"(?s)non_utf8\.csv: line 2 is not UTF-8.*What to do.*encoding: cp1252",
                     None),
    "bom.csv": (jl.load_events, "ok", None, 1),
    "unicode_long_channel.csv": (jl.load_events, "ok", None, 2),
    "single_customer.csv": (jl.load_events, "ok", None, 2),
    "future_timestamps.csv": (jl.load_events, "warning", r"1 rows have timestamps after .* \(in the future\) and are left out", 1),
    "stage_unknown.csv": (lambda f: jl.load_events(f, stages=jl.DEFAULT_STAGES), "error",
                          r"(?s)column 'stage'.*wishlist", None),
    "events.xlsx": (jl.load_events, "error", r"(?s)could not read the workbook .*events\.xlsx: .*save the sheet as CSV", None),
    "assignments_two_variants.csv": (jl.load_assignments, "error", r"1 of 1 customers were exposed to more than one "
                                                                     r"variant", None),
    "customers_duplicate_ids.csv": (jl.load_customers, "error", r"one row per customer", None),
    "ok_minimal.csv": (jl.load_events, "ok", None, 1),
    "totals_row.csv": (jl.load_events, "error", r"(?s)totals_row\.csv: line 5 has 3 fields where the header has 4: "
                                                r".*line of totals.*What to do", None),
    "notes_above_header.csv": (jl.load_events, "ok", None, 2),  # an analytics UI's export: '#' notes first
    "repeated_header.csv": (jl.load_events, "error", r"(?s)first at line 4: 'ts'.*What to do: line 4 repeats the "
                                                     r"header line, as files joined with their headers do", None),
}


def test_every_corpus_file_has_a_case():
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_file()) == sorted(
        list(CASES) + list(CSV_CASES) + list(COSTS_CASES) + ["unterminated_quote.csv"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_file(name):
    loader, outcome, pattern, rows = CASES[name]
    path = CORPUS / name
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if outcome == "error":
            with pytest.raises(JourneyDataError, match=pattern):
                loader(path)
        else:
            table = loader(path)
            assert table.count().execute() == rows
            table.to_pandas()  # materialises without error
    ours = [w for w in caught if issubclass(w.category, JourneyDataWarning)]
    if outcome == "warning":
        assert any(__import__("re").search(pattern, str(w.message)) for w in ours), [str(w.message) for w in ours]
    elif outcome == "ok":
        assert not ours
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "the input file was modified"


def test_mixed_offsets_are_converted_to_utc():
    df = jl.load_events(CORPUS / "ts_mixed_offsets.csv").to_pandas().sort_values("ts")
    assert [str(t) for t in df["ts"]] == ["2024-01-01 08:00:00+00:00", "2024-01-01 10:00:00+00:00",
                                          "2024-01-01 15:00:00+00:00"]


def test_bom_does_not_leak_into_column_names():
    assert jl.load_events(CORPUS / "bom.csv").columns[0] == "customer_id"


def test_renamed_columns_load_with_a_mapping():
    t = jl.load_events(CORPUS / "renamed_columns.csv", columns={"user": "customer_id", "time": "ts", "action": "event"})
    assert t.to_pandas().loc[0, "customer_id"] == "A"


LOADABLE = sorted(n for n, (loader, outcome, _, _) in CASES.items() if outcome != "error" and loader is jl.load_events)


@pytest.mark.parametrize("name", LOADABLE)
def test_every_analysis_runs_on_each_loadable_corpus_file(name):
    """Files that load (odd but valid) go through every analysis, each with its one right outcome:
    none has a stage column or a touch before a purchase, so the funnel and attribution explain why
    they cannot run; the purchase analyses run exactly when the file has a purchase."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = jl.load_events(CORPUS / name).to_pandas()
        customers = events["customer_id"].nunique()
        buyers = events.loc[events["event"] == "purchase", "customer_id"].nunique()
        with pytest.raises(JourneyDataError, match="no event at the first funnel stage 'awareness'"):
            jl.funnel(events)
        with pytest.raises(JourneyDataError, match="no conversions at all; attribution needs converting paths"):
            jl.attribute(events, n_boot=0)
        assert jl.stage_transitions(events).customers == 0  # no stages, so no stage transitions
        assert jl.path_table(events)["conversions"].sum() == 0
        assert jl.kaplan_meier(jl.churn_labels(events)).summary["customers"].tolist() == [customers]
        if buyers:
            assert len(jl.rfm_table(events)) == buyers and len(jl.customer_summary(events)) == buyers
            assert jl.cohort_table(events).summary["customers"].sum() == buyers
        else:
            listed = "What to do: purchase_event='purchase' does not occur in the events"
            with pytest.raises(JourneyDataError, match=f"(?s)nobody has a purchase before .*{listed}"):
                jl.cohort_table(events)
            with pytest.raises(JourneyDataError, match=f"(?s)no 'purchase' events before .*{listed}"):
                jl.rfm_table(events)
            with pytest.raises(JourneyDataError, match="(?s)no 'purchase' events; expected purchases.*purchase_event="):
                jl.customer_summary(events)


# --- issue 22: CSVs read honestly (typed by declaration, bad values named by line) -----------------
STAGES = lambda f: jl.load_events(f, stages=jl.DEFAULT_STAGES)  # noqa: E731

# file -> (loader, outcome, pattern, (column, sorted distinct values as loaded) or None)
CSV_CASES = {
    "id_leading_zeros.csv": (jl.load_events, "ok", None, ("customer_id", ["007", "7"])),
    "id_scientific.csv": (jl.load_events, "ok", None, ("customer_id", ["100000", "1E5"])),
    "id_20_digits.csv": (jl.load_events, "ok", None, ("customer_id", ["12345678901234567890",
                                                                      "12345678901234567891"])),
    "id_inf_nan_text.csv": (jl.load_events, "ok", None, ("customer_id", ["inf", "nan"])),
    "id_padded_spaces.csv": (jl.load_events, "ok", None, ("customer_id", ["a"])),
    "id_blank_spaces.csv": (jl.load_events, "error", r"(?s)column 'customer_id' of events: 1 of 2 rows invalid.*What to "
                            r"do: an event without a customer belongs to no journey: drop these rows", None),
    "event_numeric_like.csv": (jl.load_events, "ok", None, ("event", ["1.1", "1.10"])),
    "event_blank.csv": (jl.load_events, "error", r"column 'event' of events: 1 of 2 rows invalid \(first at line 3",
                        None),
    "channel_numeric_like.csv": (jl.load_events, "ok", None, ("channel", ["01", "1"])),
    "ts_dayfirst.csv": (jl.load_events, "ok", None, ("ts", ["2024-04-03", "2024-04-25"])),
    "ts_monthfirst.csv": (jl.load_events, "ok", None, ("ts", ["2024-03-04", "2024-04-25"])),
    "ts_dayfirst_dotted_time.csv": (jl.load_events, "ok", None, ("ts", ["2024-04-03 10:15", "2024-04-25 23:59"])),
    "ts_two_digit_year.csv": (jl.load_events, "ok", None, ("ts", ["2024-04-25", "2024-05-01"])),
    "ts_ambiguous.csv": (jl.load_events, "error", r"(?s)'03/04/2024' can be read day-first.*timestamp_format=", None),
    "ts_both_orders.csv": (jl.load_events, "error", r"expected one order for the whole column", None),
    "ts_iso_then_dayfirst.csv": (jl.load_events, "error",
                                 r"column 'ts' of events: 2 of 3 rows invalid \(first at line 2: '2024-01-01'; "
                                 r"lines 2, 4\); expected a timestamp .* in the format '%d/%m/%Y'", None),
    "ts_bad_last_row.csv": (jl.load_events, "error",
                            r"column 'ts' of events: 1 of 41 rows invalid \(first at line 42: '2024-02-30 10:00:00'",
                            None),
    "ts_blank.csv": (jl.load_events, "error", r"column 'ts' of events: 1 of 2 rows invalid \(first at line 3", None),
    "revenue_inf_text.csv": (jl.load_events, "error", r"column 'revenue' of events: 1 of 2 rows invalid \(first at "
                                                      r"line 3: 'inf'", None),
    "revenue_1e400.csv": (jl.load_events, "error", r"column 'revenue' of events: 1 of 2 rows invalid \(first at "
                                                   r"line 2: '1e400'", None),
    "revenue_text.csv": (jl.load_events, "error", r"column 'revenue' of events: 1 of 3 rows invalid \(first at "
                                                  r"line 4: 'free'", None),
    "revenue_currency_symbol.csv": (jl.load_events, "ok", None, ("revenue", [12.5])),
    "revenue_two_currencies.csv": (jl.load_events, "error", r"(?s)1 of 3 rows invalid \(first at line 4: '£8'.*one "
                                                            r"currency for all revenue.*found \$ 2, £ 1 priced rows", None),
    "revenue_padded.csv": (jl.load_events, "ok", None, ("revenue", [12.5])),
    "revenue_other_grouping.csv": (jl.load_events, "error", r"(?s)2 of 3 rows invalid \(first at line 2: \"1'234\.50\"; "
                                                            r"lines 2, 3\).*What to do: these amounts group their digits "
                                                            r"with an apostrophe or in lakhs", None),
    "revenue_late_text.csv": (jl.load_events, "error", r"1 of 61 rows invalid \(first at line 62: 'n/a'", None),
    "purchase_without_revenue.csv": (jl.load_events, "warning", r"1 'purchase' rows have no revenue",
                                     ("revenue", [3.0])),
    "stage_case.csv": (STAGES, "error", r"(?s)1 of 2 rows invalid.*'Awareness' \(1 rows\) -> 'awareness'", None),
    "stage_spaces.csv": (STAGES, "ok", None, ("stage", ["awareness", "cart"])),  # spaces at an end are dropped
    "duplicate_header.csv": (jl.load_events, "error", r"has the column name\(s\) \['channel'\] more than once", None),
    "duplicate_header_ts.csv": (jl.load_events, "error", r"has the column name\(s\) \['ts'\] more than once", None),
    "assignments_ids_leading_zero.csv": (jl.load_assignments, "ok", None, ("customer_id", ["001", "1"])),
    "assignments_variant_numeric_like.csv": (jl.load_assignments, "ok", None, ("variant", ["1.1", "1.10"])),
    "assignments_dayfirst.csv": (jl.load_assignments, "ok", None, ("assigned_at", ["2024-01-02", "2024-01-13"])),
    "assignments_blank_variant.csv": (jl.load_assignments, "error", r"column 'variant' of assignments: 1 of 2 rows "
                                                                    r"invalid \(first at line 3", None),
    "customers_zip_codes.csv": (jl.load_customers, "ok", None, ("zip", ["0123", "98765"])),
    "customers_bad_joined_at.csv": (jl.load_customers, "error", r"column 'loyalty_joined_at' of customers: 1 of 3 "
                                                                r"rows invalid \(first at line 4: 'yesterday'", None),
    "customers_ids_leading_zero.csv": (jl.load_customers, "ok", None, ("customer_id", ["01", "1"])),
}


def _shown(values: pd.Series) -> list:
    if pd.api.types.is_datetime64_any_dtype(values):
        fmt = "%Y-%m-%d" if (values.dt.hour == 0).all() and (values.dt.minute == 0).all() else "%Y-%m-%d %H:%M"
        return sorted(set(values.dt.strftime(fmt)))
    return sorted(set(values.dropna().tolist()))


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_csv_corpus_file(name):
    loader, outcome, pattern, expect = CSV_CASES[name]
    path = CORPUS / name
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if outcome == "error":
            with pytest.raises(JourneyDataError, match=pattern):
                loader(path)
        else:
            got = loader(path).to_pandas()
            col, values = expect
            assert _shown(got[col]) == values
    ours = [str(w.message) for w in caught if issubclass(w.category, JourneyDataWarning)]
    if outcome == "warning":
        assert any(re.search(pattern, m) for m in ours), ours
    elif outcome == "ok":
        assert not ours
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "the input file was modified"


# the costs table (spend per channel and period): its own loader
COSTS_CASES = {
    "costs_negative_spend.csv": ("error", r"(?s)column 'spend'.*1 of 3 rows.*0 or more.*refund"),
    "costs_period_dayfirst.csv": ("error", r"(?s)column .period.*1 of 2 rows.*2024-03.*could be day-first or month-first"),
    "costs_blank_channel.csv": ("error", r"(?s)column 'channel'.*1 of 2 rows.*not blank"),
    "costs_spend_two_currencies.csv": ("error", r"(?s)column 'spend' of costs: 1 of 3 rows invalid.*one currency for "
                                                r"all spend.*found \$ 2, € 1 rows"),
    "costs_month_gap.csv": ("warn", r"channel 'email' has no rows for 1 month\(s\) between 2024-01 and 2024-03 "
                                    r"\(2024-02\)"),
}


@pytest.mark.parametrize("name", sorted(COSTS_CASES))
def test_cost_corpus_file(name):
    outcome, pattern = COSTS_CASES[name]
    path = CORPUS / name
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    if outcome == "error":
        with pytest.raises(JourneyDataError, match=pattern):
            load_costs(path)
    else:
        with pytest.warns(JourneyDataWarning, match=pattern):
            out = load_costs(path)
        assert out.groupby("channel")["spend"].sum().to_dict() == {"email": 190.0, "social": 30.0}
        loaded = jl.load_table("costs", path)
        assert [c.status for c in loaded.checks] == ["pass", "warn"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("fields", [8, 5], ids=["extra-field", "missing-fields"])
def test_a_line_past_the_sniffed_rows_that_splits_otherwise_is_named_by_number(tmp_path, fields, capsys):
    """DuckDB sniffs the columns from the first 20,480 lines; a later line with more or fewer fields
    (a value with an unquoted comma, a totals line) stops the first query. The error names the file,
    the line and its fields, never the line itself (it holds a customer id), from the loader and from init."""
    from journeylib.report import cli

    rows = [f"C{i:05d},2024-01-01 10:00:{i % 60:02d},landing,search,awareness,,4.0" for i in range(30_000)]
    rows[25_000] = ",".join(rows[25_000].split(",")[:fields] + ["x"] * (fields - 7))
    path = tmp_path / "events.csv"
    path.write_text("customer_id,ts,event,channel,stage,revenue,score\n" + "\n".join(rows) + "\n")
    expected = rf"(?s)events\.csv: line 25002 has {fields} fields where the header has 7: .*What to do"
    with pytest.raises(JourneyDataError, match=expected) as err:
        jl.load_events(path)
    assert "C25000" not in str(err.value)
    assert cli.main(["init", str(path)]) == 2
    out = capsys.readouterr().err
    assert re.search(expected, out, re.S) and "Traceback" not in out and "C25000" not in out
    assert not (tmp_path / "journey.yml").exists()


def test_a_windows_character_past_the_sniffed_rows_gets_the_encoding_advice(tmp_path):
    """A Windows-1252 character first met at line 25,002 (DuckDB sniffed a UTF-8 file from the lines
    before) is named with its line and the encoding key, not DuckDB's advice for its own reader."""
    rows = [f"C{i:05d},2024-01-01 10:00:{i % 60:02d},landing,search" for i in range(30_000)]
    rows[25_000] = rows[25_000].replace("search", "Suche – E-Mail")
    path = tmp_path / "events.csv"
    path.write_bytes(("customer_id,ts,event,channel\n" + "\n".join(rows) + "\n").encode("cp1252"))
    with pytest.raises(JourneyDataError, match=r"(?s)^events\.csv: line 25002 is not UTF-8\nWhat to do: .*"
                                               r"encoding: cp1252 in journey\.yml"):
        jl.load_events(path)
