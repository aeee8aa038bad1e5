"""The bad-input corpus (tests/bad_inputs/): every file gives a clear JourneyDataError naming the
problem, or a documented warning plus a correct result. Never a bare traceback, never a wrong number."""
import hashlib
import warnings
from pathlib import Path

import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyDataWarning

CORPUS = Path(__file__).parents[1] / "bad_inputs"

# file -> (loader, outcome, pattern, rows when loaded)
CASES = {
    "missing_customer_id.csv": (jl.load_events, "error", r"missing required column\(s\) \['customer_id'\]", None),
    "renamed_columns.csv": (jl.load_events, "error", r"(?s)missing required column.*columns=", None),
    "ts_unparseable.csv": (jl.load_events, "error", r"column 'ts' of events: 2 of 3 rows", None),
    "ts_missing.csv": (jl.load_events, "error", r"column 'ts' of events: 1 of 2 rows", None),
    "ts_out_of_range.csv": (jl.load_events, "error", r"(?s)2 of 3 rows.*between 1900 and 2200.*9999-12-31", None),
    "ts_integer.csv": (jl.load_events, "error", r"column 'ts' has type int64; expected timestamps", None),
    "ts_mixed_offsets.csv": (jl.load_events, "ok", None, 3),
    "null_customer_id.csv": (jl.load_events, "error", r"column 'customer_id' of events: 1 of 2 rows", None),
    "id_fractional.csv": (jl.load_events, "error", r"(?s)column 'customer_id'.*1\.5", None),
    "duplicate_rows.csv": (jl.load_events, "warning", r"dropped 1 exact duplicate rows of 3", 2),
    "revenue_negative.csv": (jl.load_events, "error", r"(?s)column 'revenue'.*-5", None),
    "revenue_nan.csv": (jl.load_events, "error", r"column 'revenue' of events: 1 of 2 rows", None),
    "revenue_infinite.csv": (jl.load_events, "error", r"column 'revenue' of events: 1 of 2 rows", None),
    "revenue_decimal_comma.csv": (jl.load_events, "error", r"(?s)column 'revenue'.*12,50", None),
    "empty.csv": (jl.load_events, "error", r"is empty", None),
    "header_only.csv": (jl.load_events, "error", r"has no rows", None),
    "non_utf8.csv": (jl.load_events, "error", r"(?s)not utf-8.*What to do", None),
    "bom.csv": (jl.load_events, "ok", None, 1),
    "unicode_long_channel.csv": (jl.load_events, "ok", None, 2),
    "single_customer.csv": (jl.load_events, "ok", None, 2),
    "future_timestamps.csv": (jl.load_events, "warning", r"1 rows have timestamps after .* \(in the future\)", 2),
    "stage_unknown.csv": (lambda f: jl.load_events(f, stages=jl.DEFAULT_STAGES), "error",
                          r"(?s)column 'stage'.*wishlist", None),
    "events.xlsx": (jl.load_events, "error", r"unsupported file type '.xlsx'", None),
    "assignments_two_variants.csv": (jl.load_assignments, "error", r"one variant per experiment", None),
    "customers_duplicate_ids.csv": (jl.load_customers, "error", r"one row per customer", None),
    "ok_minimal.csv": (jl.load_events, "ok", None, 1),
}


def test_every_corpus_file_has_a_case():
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_file()) == sorted(CASES) + ["unterminated_quote.csv"]


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
            with pytest.raises(JourneyDataError, match=f"(?s)no 'purchase' events; expected purchases.*{listed}"):
                jl.customer_summary(events)
