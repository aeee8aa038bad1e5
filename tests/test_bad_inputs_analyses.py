"""Degenerate but valid inputs run through every analysis: each gives the one right outcome, either a
JourneyDataError / JourneyParameterError / JourneyFitError that names the problem, or a correct result.
Never a bare traceback, never a silently wrong number. Calls go through the public API (``jl.*``)."""
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyDataWarning, JourneyFitError, JourneyParameterError

# the degenerate inputs warn (no purchases, censored customers, ...); each test asserts its outcome
pytestmark = pytest.mark.filterwarnings("ignore")

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def ev(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "day", "event", "channel", "stage", "revenue"])
    df["ts"] = T0 + pd.to_timedelta(df.pop("day"), unit="D")
    return df


NO_CONVERSIONS = ev([("a", 0, "landing", "search", "awareness", None),
                     ("a", 1, "product_view", "email", "consideration", None),
                     ("b", 2, "landing", "social", "awareness", None)])
SINGLE_CUSTOMER = ev([("a", 0, "landing", "search", "awareness", None),
                      ("a", 0.5, "product_view", "search", "consideration", None),
                      ("a", 1, "add_to_cart", "email", "cart", None),
                      ("a", 2, "purchase", None, "purchase", 30.0),
                      ("a", 40, "purchase", None, "repeat", 20.0)])


def assignments(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "experiment", "variant", "day"])
    df["assigned_at"] = T0 + pd.to_timedelta(df.pop("day"), unit="D")
    return df


def test_zero_conversions():
    with pytest.raises(JourneyDataError, match="no conversions at all; attribution needs converting paths"):
        jl.attribute(NO_CONVERSIONS, n_boot=0)
    fun = jl.funnel(NO_CONVERSIONS).summary
    assert fun.set_index("stage").loc["purchase", "customers"] == 0
    with pytest.warns(JourneyDataWarning, match="no journey converts"):  # the log has no purchase at all
        pt = jl.path_table(NO_CONVERSIONS)
    assert pt["conversions"].sum() == 0 and pt["null_count"].sum() == 2
    with pytest.raises(JourneyDataError, match="(?s)no 'purchase' events; expected purchases to summarise.*"
                                               r"events in the log: \['landing', 'product_view'\]"):
        jl.customer_summary(NO_CONVERSIONS)
    with pytest.raises(JourneyDataError, match="nobody has a purchase before .*; no cohorts to build"):
        jl.cohort_table(NO_CONVERSIONS)


def test_single_customer_everywhere():
    assert jl.funnel(SINGLE_CUSTOMER).summary["customers"].tolist() == [1, 1, 1, 1, 1, 0]
    res = jl.attribute(SINGLE_CUSTOMER, n_boot=0)
    assert np.allclose(res.summary.groupby("model")["share"].sum(), 1)
    labels = jl.churn_labels(SINGLE_CUSTOMER, churn_after=60)
    assert len(labels) == 1 and labels["churned"].iloc[0] == 0  # observation ends at day 40: censored
    km = jl.kaplan_meier(labels).summary.iloc[0]
    assert (km["group"], km["customers"], km["churned"], km["median_days"]) == ("all", 1, 0, np.inf)
    summary = jl.customer_summary(SINGLE_CUSTOMER)
    assert summary[["customer_id", "frequency", "revenue_total", "monetary_value"]].values.tolist() == [
        ["a", 1, 50.0, 20.0]]  # two purchases: one repeat of 20, 50 in all
    with pytest.raises(JourneyFitError, match="BG/NBD: the data do not identify the model"):
        jl.BetaGeoFitter().fit(summary)  # one customer cannot identify 4 parameters
    rfm = jl.rfm_table(SINGLE_CUSTOMER)
    assert rfm[["customer_id", "recency_days", "frequency", "monetary", "rfm", "segment"]].values.tolist() == [
        ["a", 1.0, 2, 50.0, "555", "champions"]]


def test_all_customers_censored():
    rows = [(c, d, "product_view", "search", "consideration", None) for c in "abc" for d in range(0, 50, 5)]
    labels = jl.churn_labels(ev(rows), churn_after=60)
    assert labels["churned"].sum() == 0
    km = jl.kaplan_meier(labels)
    fitter = next(iter(km.fitters.values()))
    assert (fitter.survival_function_.iloc[:, 0] == 1).all()
    with pytest.raises(JourneyDataError, match="column 'churned': no churn observed; a Cox model needs events"):
        jl.cox(labels.assign(x=[0, 1, 0]), ["x"])


def test_single_variant_experiment():
    asg = assignments([(c, "e", "control", 0) for c in "abcd"])
    with pytest.raises(JourneyDataError, match=r"experiment 'e' has only one variant \('control'\)"):
        jl.ab_readout(asg, SINGLE_CUSTOMER)


def test_experiment_with_one_user_per_arm():
    asg = assignments([("a", "e", "control", 0), ("b", "e", "treatment", 0)])
    with pytest.raises(JourneyDataError, match="no test possible with fewer than 2 users in an arm, skipped: "
                                               "e / conversion / treatment: 1 control and 1 treatment users"):
        jl.ab_readout(asg, SINGLE_CUSTOMER)


def test_events_before_assignment_are_not_counted():
    events = ev([(c, 1, "purchase", None, "purchase", 10.0) for c in "abcdefgh"] +
                [(c, 20, "purchase", None, "repeat", 10.0) for c in "aceg"])
    asg = assignments([(c, "e", "control" if i % 2 else "treatment", 10) for i, c in enumerate("abcdefgh")])
    stats = jl.variant_stats(asg, events, window_days=28)
    conv = stats[stats["metric"] == "conversion"].set_index("variant")
    # the day-1 purchases are before assignment: only a, c, e, g (treatment) converted in the window
    assert conv.loc["control", ["n", "s_y"]].tolist() == [4, 0]
    assert conv.loc["treatment", ["n", "s_y"]].tolist() == [4, 4]
    readout = jl.ab_readout(asg, events, min_n=1, cuped=False)
    row = readout.summary.query("metric == 'conversion'").iloc[0]
    assert (row["n_control"], row["n_variant"], row["mean_control"], row["mean_variant"]) == (4, 4, 0, 1)


def test_loyalty_without_members():
    customers = pd.DataFrame({"customer_id": ["a"], "loyalty_joined_at": [pd.NaT]})
    with pytest.raises(JourneyDataError, match="only 0 purchasers have 'loyalty_joined_at' set; "
                                               "expected at least 10 members"):
        jl.loyalty_effect(SINGLE_CUSTOMER, customers)


def test_an_empty_event_frame_gives_an_explained_error_or_an_empty_result():
    """Zero rows: object columns have no type to hand to the engine; they go as text."""
    empty = SINGLE_CUSTOMER.iloc[:0].astype({"customer_id": object, "event": object, "channel": object,
                                             "stage": object})
    with pytest.raises(JourneyDataError, match="events: the table is empty; expected at least one event"):
        jl.funnel(empty)
    with pytest.raises(JourneyDataError, match="events: the table is empty; expected at least one event with a "
                                               "timestamp"):
        jl.churn_labels(empty)
    pt = jl.path_table(empty)
    assert len(pt) == 0 and list(pt.columns) == ["path", "conversions", "conversion_value", "null_count"]
    assert jl.stage_transitions(empty).customers == 0


@pytest.mark.parametrize("n_boot", [-1, 1.5, True])
def test_a_bootstrap_count_that_is_not_a_whole_number_is_refused(n_boot):
    with pytest.raises(JourneyParameterError, match=re.escape(f"n_boot={n_boot!r}; expected a whole number of "
                                                              "bootstrap resamples (0: none)")):
        jl.attribute(SINGLE_CUSTOMER, n_boot=n_boot)


def test_a_missing_channel_column_is_named():
    with pytest.raises(JourneyDataError, match=re.escape("events: missing column(s) ['channel'] for the channel "
                                                         "summary")):
        jl.channel_summary(SINGLE_CUSTOMER.drop(columns="channel"))


@pytest.mark.parametrize("fn, kw, message", [
    ("funnel", {"closed": "no"}, "closed='no'; expected True or False"),
    ("stage_transitions", {"collapse_repeats": "yes"}, "collapse_repeats='yes'; expected True or False"),
    ("path_table", {"collapse_repeats": 1}, "collapse_repeats=1; expected True or False"),
    ("path_table", {"partitions": 0}, "partitions=0; expected a whole number of customer buckets (>= 1)"),
    ("path_table", {"partitions": "2"}, "partitions='2'; expected a whole number of customer buckets (>= 1)"),
    ("load_events", {"stages": "awareness"}, "stages='awareness'; expected a list of stage names"),
], ids=["funnel-closed", "transitions-collapse", "paths-collapse", "paths-partitions-0", "paths-partitions-text",
        "load-stages-text"])
def test_flags_counts_and_names_that_would_be_misread_are_refused(fn, kw, message):
    with pytest.raises(JourneyParameterError, match=re.escape(message)):
        getattr(jl, fn)(SINGLE_CUSTOMER, **kw)


def test_a_misspelt_conversion_event_warns_and_the_table_stays_honest():
    with pytest.warns(JourneyDataWarning, match="conversion_event='Purchase' does not occur"):
        pt = jl.path_table(SINGLE_CUSTOMER, conversion_event="Purchase")
    assert pt["conversions"].sum() == 0  # still the honest table, with the warning beside it
def test_a_misspelt_purchase_event_names_the_events_of_the_log(small_sim):
    """Every purchase analysis says which events the log has when purchase_event is not one of them:
    the errors in a 'What to do' line, the summaries (which still have numbers to show) in a warning."""
    ev, cu = small_sim.events, small_sim.customers
    listed = r"purchase_event='Purchase' does not occur in the events; events in the log: \['add_to_cart'"
    for call in (lambda: jl.rfm_table(ev, purchase_event="Purchase"),
                 lambda: jl.customer_summary(ev, purchase_event="Purchase"),
                 lambda: jl.customer_summary(ev, purchase_event="Purchase", holdout_end="2025-06-30"),
                 lambda: jl.cohort_table(ev, purchase_event="Purchase"),
                 lambda: jl.repeat_purchase(ev, purchase_event="Purchase"),
                 lambda: jl.loyalty_effect(ev, cu, purchase_event="Purchase")):
        with pytest.raises(JourneyDataError, match="What to do: " + listed):
            call()
    for call in (lambda: jl.first_order_value(ev, purchase_event="Purchase"),
                 lambda: jl.data_summary(ev, purchase_event="Purchase"),
                 lambda: jl.monthly_activity(ev, purchase_event="Purchase")):
        with pytest.warns(JourneyDataWarning, match=listed):
            call()
    # purchases, but none before as_of: the error stays, without a hint about the name
    first = ev.loc[ev["event"] == "purchase", "ts"].min()
    with pytest.raises(JourneyDataError, match="no 'purchase' events before") as e:
        jl.rfm_table(ev, as_of=first)
    assert "What to do" not in str(e.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jl.first_order_value(ev)["first_order_value"].gt(0).all()  # the right name: no warning
