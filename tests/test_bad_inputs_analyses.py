"""Degenerate but valid inputs run through every analysis: each gives a JourneyDataError (or
JourneyParameterError/JourneyFitError) that names the problem, or a correct result.
Never a bare traceback, never a silently wrong number."""
import warnings

import numpy as np
import pandas as pd
import pytest

from journeylib.journeys import attribution, paths, stages
from journeylib.loyalty import cohorts, clv, programme as loyalty, rfm
from journeylib.experiments import readout as experiments
from journeylib.retention import survival
from journeylib.core.errors import JourneyDataError, JourneyDataWarning, JourneyError

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def ev(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "day", "event", "channel", "stage", "revenue"])
    df["ts"] = T0 + pd.to_timedelta(df.pop("day"), unit="D")
    return df


def run(fn, *args, **kwargs):
    """Call an analysis; a JourneyError is an acceptable, explained outcome."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except JourneyError as exc:
            assert str(exc).strip(), "an error must say what is wrong"
            return exc


NO_CONVERSIONS = ev([("a", 0, "landing", "search", "awareness", None),
                     ("a", 1, "product_view", "email", "consideration", None),
                     ("b", 2, "landing", "social", "awareness", None)])
SINGLE_CUSTOMER = ev([("a", 0, "landing", "search", "awareness", None),
                      ("a", 0.5, "product_view", "search", "consideration", None),
                      ("a", 1, "add_to_cart", "email", "cart", None),
                      ("a", 2, "purchase", None, "purchase", 30.0),
                      ("a", 40, "purchase", None, "repeat", 20.0)])


def test_zero_conversions():
    res = run(attribution.attribute, NO_CONVERSIONS, n_boot=0)
    assert isinstance(res, JourneyError) and "no conversions" in str(res)
    fun = stages.funnel(NO_CONVERSIONS).summary
    assert fun.set_index("stage").loc["purchase", "customers"] == 0
    from journeylib.core.errors import JourneyDataWarning

    with pytest.warns(JourneyDataWarning, match="no journey converts"):  # the log has no purchase at all
        pt = paths.path_table(NO_CONVERSIONS)
    assert pt["conversions"].sum() == 0 and pt["null_count"].sum() == 2
    assert isinstance(run(clv.customer_summary, NO_CONVERSIONS), (JourneyError, pd.DataFrame))
    res = run(cohorts.cohort_table, NO_CONVERSIONS)
    assert isinstance(res, JourneyError) and "purchase" in str(res)


def test_single_customer_everywhere():
    assert stages.funnel(SINGLE_CUSTOMER).summary["customers"].tolist() == [1, 1, 1, 1, 1, 0]
    res = attribution.attribute(SINGLE_CUSTOMER, n_boot=0)
    assert np.allclose(res.summary.groupby("model")["share"].sum(), 1)
    labels = survival.churn_labels(SINGLE_CUSTOMER, churn_after=60)
    assert len(labels) == 1 and labels["churned"].iloc[0] == 0  # observation ends at day 40: censored
    km = run(survival.kaplan_meier, labels)
    assert not isinstance(km, Exception)
    summary = clv.customer_summary(SINGLE_CUSTOMER)
    assert len(summary) == 1
    assert isinstance(run(clv.BetaGeoFitter().fit, summary), JourneyError)  # one customer cannot identify 4 parameters
    assert isinstance(run(rfm.rfm_table, SINGLE_CUSTOMER), (pd.DataFrame, JourneyError))


def test_all_customers_censored():
    rows = [(c, d, "product_view", "search", "consideration", None) for c in "abc" for d in range(0, 50, 5)]
    labels = survival.churn_labels(ev(rows), churn_after=60)
    assert labels["churned"].sum() == 0
    km = survival.kaplan_meier(labels)
    fitter = next(iter(km.fitters.values()))
    assert (fitter.survival_function_.iloc[:, 0] == 1).all()
    res = run(survival.cox, labels.assign(x=[0, 1, 0]), ["x"])
    assert isinstance(res, JourneyError) and "churn" in str(res).lower()


def _assignments(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "experiment", "variant", "day"])
    df["assigned_at"] = T0 + pd.to_timedelta(df.pop("day"), unit="D")
    return df


def test_single_variant_experiment():
    asg = _assignments([(c, "e", "control", 0) for c in "abcd"])
    res = run(experiments.ab_readout, asg, SINGLE_CUSTOMER)
    assert isinstance(res, JourneyError) and "only one variant" in str(res)


def test_experiment_with_one_user_per_arm():
    asg = _assignments([("a", "e", "control", 0), ("b", "e", "treatment", 0)])
    res = run(experiments.ab_readout, asg, SINGLE_CUSTOMER)
    # two users cannot support a test: either a clear error, or a readout whose one comparison
    # carries the numbers (no silently empty result)
    assert isinstance(res, JourneyError) and "fewer than 2 users" in str(res)


def test_events_before_assignment_are_not_counted():
    events = ev([(c, 1, "purchase", None, "purchase", 10.0) for c in "abcdefgh"] +
                [(c, 20, "purchase", None, "repeat", 10.0) for c in "aceg"])
    asg = _assignments([(c, "e", "control" if i % 2 else "treatment", 10) for i, c in enumerate("abcdefgh")])
    stats = experiments.variant_stats(asg, events, window_days=28)
    conv = stats[stats["metric"] == "conversion"] if "metric" in stats.columns else stats
    # the day-1 purchases are before assignment: only a, c, e, g (treatment) converted in the window
    assert conv is not None
    readout = run(experiments.ab_readout, asg, events, min_n=1, cuped=False)
    if not isinstance(readout, JourneyError):
        row = readout.summary.query("metric == 'conversion'").iloc[0]
        assert row["mean_control"] == 0 and row["mean_variant"] == 1


def test_loyalty_without_members():
    customers = pd.DataFrame({"customer_id": ["a"], "loyalty_joined_at": [pd.NaT]})
    res = run(loyalty.loyalty_effect, SINGLE_CUSTOMER, customers)
    assert isinstance(res, JourneyError) and "member" in str(res).lower()


def test_an_empty_event_frame_gives_an_explained_error_or_an_empty_result():
    """Zero rows: object columns have no type to hand to the engine; they go as text."""
    empty = SINGLE_CUSTOMER.iloc[:0].astype({"customer_id": object, "event": object, "channel": object,
                                             "stage": object})
    res = run(stages.funnel, empty)
    assert isinstance(res, JourneyError) and "empty" in str(res)
    res = run(survival.churn_labels, empty)
    assert isinstance(res, JourneyError) and "empty" in str(res)
    assert len(paths.path_table(empty)) == 0
    assert stages.stage_transitions(empty).customers == 0


def test_parameters_that_would_silently_change_the_result_are_refused():
    from journeylib.journeys import overview

    for n_boot in (-1, 1.5, True):
        res = run(attribution.attribute, SINGLE_CUSTOMER, n_boot=n_boot)
        assert isinstance(res, JourneyError) and "n_boot" in str(res)
    res = run(overview.channel_summary, SINGLE_CUSTOMER.drop(columns="channel"))
    assert isinstance(res, JourneyError) and "['channel']" in str(res)


def test_flags_counts_and_names_that_would_be_misread_are_refused_or_flagged():
    from journeylib.core import load as io
    from journeylib.core.errors import JourneyDataWarning

    for fn, kw in ((stages.funnel, {"closed": "no"}), (stages.stage_transitions, {"collapse_repeats": "yes"}),
                   (paths.path_table, {"collapse_repeats": 1}), (paths.path_table, {"partitions": 0}),
                   (paths.path_table, {"partitions": "2"})):
        res = run(fn, SINGLE_CUSTOMER, **kw)
        assert isinstance(res, JourneyError) and next(iter(kw)) in str(res), (fn.__name__, kw, res)
    res = run(io.load_events, SINGLE_CUSTOMER, stages="awareness")
    assert isinstance(res, JourneyError) and "list of stage names" in str(res)
    with pytest.warns(JourneyDataWarning, match="conversion_event='Purchase' does not occur"):
        pt = paths.path_table(SINGLE_CUSTOMER, conversion_event="Purchase")
    assert pt["conversions"].sum() == 0  # still the honest table, with the warning beside it


def test_a_misspelt_purchase_event_names_the_events_of_the_log(small_sim):
    """Every purchase analysis says which events the log has when purchase_event is not one of them:
    the errors in a 'What to do' line, the summaries (which still have numbers to show) in a warning."""
    from journeylib.retention import churn
    from journeylib.loyalty import clv, cohorts, programme as loyalty, rfm
    from journeylib.journeys import overview

    ev, cu = small_sim.events, small_sim.customers
    listed = r"purchase_event='Purchase' does not occur in the events; events in the log: \['add_to_cart'"
    for call in (lambda: rfm.rfm_table(ev, purchase_event="Purchase"),
                 lambda: clv.customer_summary(ev, purchase_event="Purchase"),
                 lambda: clv.customer_summary(ev, purchase_event="Purchase", holdout_end="2025-06-30"),
                 lambda: cohorts.cohort_table(ev, purchase_event="Purchase"),
                 lambda: cohorts.repeat_purchase(ev, purchase_event="Purchase"),
                 lambda: loyalty.loyalty_effect(ev, cu, purchase_event="Purchase")):
        with pytest.raises(JourneyDataError, match="What to do: " + listed):
            call()
    for call in (lambda: churn.first_order_value(ev, purchase_event="Purchase"),
                 lambda: overview.data_summary(ev, purchase_event="Purchase"),
                 lambda: overview.monthly_activity(ev, purchase_event="Purchase")):
        with pytest.warns(JourneyDataWarning, match=listed):
            call()
    # purchases, but none before as_of: the error stays, without a hint about the name
    first = ev.loc[ev["event"] == "purchase", "ts"].min()
    with pytest.raises(JourneyDataError, match="no 'purchase' events before") as e:
        rfm.rfm_table(ev, as_of=first)
    assert "What to do" not in str(e.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert churn.first_order_value(ev)["first_order_value"].gt(0).all()  # the right name: no warning
