"""Property-based robustness (hypothesis): on generated input, journeylib raises only its own
errors, never a raw pandas / DuckDB / Ibis / numpy exception, and reports on random valid logs
never fail.

* Messy tables (ids of mixed types and blanks, unparseable or missing timestamps, blank event
  names, NaN / infinite / negative revenue, names with markup) through every loader.
* Random valid logs through every analysis entry point a notebook calls.
* Random valid logs written as a journey folder and run through the report runner.
"""
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeylib as jl
from journeylib.core.errors import JourneyError
from journeylib.core.schema import DEFAULT_STAGES

from test_properties import event_logs

ENGINE = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = pd.Timestamp("2024-01-01", tz="UTC")

ids = st.one_of(st.integers(-5, 10**20), st.text(max_size=6), st.none(), st.floats(allow_nan=True),
                st.sampled_from(["007", "7", "1E5", "inf", " ", "a@b.example"]))
stamps = st.one_of(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                                max_value=pd.Timestamp("2030-01-01").to_pydatetime()).map(lambda d: d.isoformat()),
                   st.sampled_from(["", "not a date", "31/02/2024", "2024-13-01", "1e10", None, "2024-01-01T00:00:00+05:00"]))
names = st.one_of(st.sampled_from(["landing", "purchase", "add_to_cart", "", " ", "[x](javascript:alert(1))",
                                   "$a$", "<script>", "1.10"]), st.text(max_size=8), st.none())
money = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-100, 10**6), st.none(),
                  st.sampled_from(["12,50", "€3", "1e400", "inf"]))


@st.composite
def messy_events(draw):
    n = draw(st.integers(0, 12))
    return pd.DataFrame({
        "customer_id": [draw(ids) for _ in range(n)],
        "ts": [draw(stamps) for _ in range(n)],
        "event": [draw(names) for _ in range(n)],
        "channel": [draw(names) for _ in range(n)],
        "revenue": [draw(money) for _ in range(n)],
    })


def only_journeylib_errors(call):
    """Run ``call``; a journeylib error is an acceptable answer, anything else fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call()
        except JourneyError:
            return None


@ENGINE
@given(messy_events(), st.sampled_from(["frame", "csv"]))
def test_loaders_raise_only_journeylib_errors_on_messy_tables(tmp_path_factory, df, form):
    if form == "csv":
        path = tmp_path_factory.mktemp("messy") / "events.csv"
        df.to_csv(path, index=False)
        source = path
    else:
        source = df
    table = only_journeylib_errors(lambda: jl.load_events(source))
    if table is not None:  # accepted: every row is valid, so the loaded table says so
        out = table.to_pandas()
        assert out["customer_id"].notna().all() and out["event"].str.strip().ne("").all()
        assert out["ts"].notna().all()
        rev = pd.to_numeric(out["revenue"], errors="coerce")
        assert not (rev < 0).any() and not np.isinf(rev).any()


@ENGINE
@given(messy_events())
def test_customer_and_assignment_loaders_raise_only_journeylib_errors(df):
    customers = df.rename(columns={"event": "segment", "channel": "acquisition_channel"})[
        ["customer_id", "segment", "acquisition_channel"]]
    only_journeylib_errors(lambda: jl.load_customers(customers))
    assignments = df.rename(columns={"event": "experiment", "channel": "variant", "ts": "assigned_at"})[
        ["customer_id", "experiment", "variant", "assigned_at"]]
    only_journeylib_errors(lambda: jl.load_assignments(assignments))


ANALYSES = {
    "funnel": lambda ev: jl.funnel(ev),
    "stage_transitions": lambda ev: jl.stage_transitions(ev),
    "time_to_next_stage": lambda ev: jl.time_to_next_stage(ev),
    "path_table": lambda ev: jl.path_table(ev),
    "attribute": lambda ev: jl.attribute(ev, n_boot=0),
    "journey_map": lambda ev: jl.journey_map(ev),
    "churn_and_km": lambda ev: jl.kaplan_meier(jl.churn_labels(ev, start_event="purchase")),
    "rfm": lambda ev: jl.rfm_table(ev),
    "cohorts": lambda ev: jl.cohort_table(ev),
    "repeat_purchase": lambda ev: jl.repeat_purchase(ev),
    "customer_summary": lambda ev: jl.customer_summary(ev),
    "data_summary": lambda ev: jl.data_summary(ev),
    "abandoned_carts": lambda ev: jl.abandoned_carts(ev),
}


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_every_analysis_raises_only_journeylib_errors_on_random_valid_logs(name):
    @ENGINE
    @given(event_logs(max_customers=6))
    def check(ev):
        only_journeylib_errors(lambda: ANALYSES[name](ev))

    check()


@pytest.mark.slow
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10**6), st.integers(30, 200))
def test_reports_on_random_valid_logs_never_fail(tmp_path_factory, seed, n_customers):
    """A random valid shop (size and seed drawn) through the runner: every notebook ends ok or partial."""
    from journeylib.core.locations import NOTEBOOKS_DIR
    from journeylib.report import runner

    folder = tmp_path_factory.mktemp("shop")
    jl.simulate_journeys(n_customers, seed=seed).write(folder)
    for nb in ("00_journey_overview", "01_stage_attribution", "02_retention_survival", "05_journey_map"):
        res = runner.run_notebook(NOTEBOOKS_DIR / f"{nb}.ipynb", {"journey": str(folder / "journey.yml")},
                                  folder / "out" / nb, new_run_folder=False)
        assert res.ok, (nb, seed, n_customers, res.error)
