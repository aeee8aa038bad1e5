"""Every public result follows one protocol and one vocabulary (see journeylib/core/result.py).

Each result is built through the public API on one small simulated dataset, then held to the
protocol: a frozen :class:`Result` dataclass whose ``summary`` is a fresh DataFrame, ``findings``
a tuple of :class:`Finding`, ``checks`` a tuple of :class:`Check`, ``plot(ax)`` returning that Axes
and ``_repr_html_`` a string; intervals are ``ci_low`` / ``ci_high`` everywhere.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import warnings
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.result import Check, Finding, Result

BANNED_COLUMNS = {"lower", "upper", "lower_95", "upper_95", "share_low", "share_high", "clv_lower", "clv_upper",
                  "p_value", "credible_low", "credible_high"}
BANNED_SUFFIXES = ("_lower", "_upper", "_lo", "_hi")


@pytest.fixture(scope="module")
def sim() -> jl.SimulatedData:
    return jl.simulate_journeys(800, seed=3)


def _labels(sim):
    return jl.churn_labels(sim.events, sim.customers, start_event="purchase")


def _exits(sim):
    return jl.simulate_exits(800, seed=3).table


def _clv_summary(sim):
    return jl.customer_summary(sim.events, calibration_end="2025-01-31", holdout_end="2025-06-30")


def _readout(sim):
    return jl.ab_readout(sim.assignments, sim.events)


def _cuped(sim):
    from journeylib.experiments.statistics import cuped

    stats = jl.variant_stats(sim.assignments, sim.events, experiments="personalised_offer")
    rows = stats[stats["metric"] == "revenue_per_user"]
    return cuped(*(rows[c].to_numpy() for c in ("n", "s_y", "ss_y", "s_x", "ss_x", "s_xy")))


# id -> (class name, builder): every public result, built through the public API
BUILDERS: dict[str, tuple[str, Callable]] = {
    "load_journey": ("Journey", lambda s: jl.load_journey("sample")),
    "cumulative_incidence": ("CumulativeIncidenceResult", lambda s: jl.cumulative_incidence(_exits(s), by="segment")),
    "compare_incidence": ("IncidenceComparison", lambda s: jl.compare_incidence(_exits(s), "segment")),
    "compare_models": ("ModelComparison", lambda s: jl.compare_models(_clv_summary(s))),
    "time_to_next_stage": ("NextStepResult", lambda s: jl.time_to_next_stage(s.events)),
    "funnel": ("FunnelResult", lambda s: jl.funnel(s.events)),
    "stage_transitions": ("TransitionResult", lambda s: jl.stage_transitions(s.events)),
    "journey_map_data": ("JourneyMapData", lambda s: jl.journey_map_data(s.events, score_col=None)),
    "journey_map": ("JourneyMap", lambda s: jl.journey_map(s.events, feedback=s.feedback, customers=s.customers)),
    "nps": ("NPSResult", lambda s: jl.nps(s.feedback)),
    "calibrate_attribution": ("AttributionCalibration", lambda s: (lambda h: jl.calibrate_attribution(
        h.events, h.assignments, experiment="email_holdout", channel="email"))(
        jl.simulate_journeys(800, seed=3, channel_holdout="email"))),
    "cart_recovery_readout": ("CartRecoveryReadout", lambda s: jl.journeys.cart_recovery_readout(s.events, s.assignments)),
    "feedback_by_group": ("FeedbackComparison", lambda s: jl.feedback_by_group(s.events, s.feedback, s.customers)),
    "review_rates": ("ReviewResult", lambda s: jl.review_rates(s.events, s.feedback)),
    "referrals": ("ReferralResult", lambda s: jl.referrals(s.events, s.customers)),
    "compare_periods": ("PeriodComparison", lambda s: jl.compare_periods(s.events, n_boot=50)),
    "compare_segments": ("SegmentComparison", lambda s: jl.compare_segments(s.events, s.customers, by="segment")),
    "channel_budget": ("BudgetResult", lambda s: jl.channel_budget(s.events, s.costs, n_boot=20)),
    "abandoned_carts": ("CartRecovery", lambda s: jl.abandoned_carts(s.events, s.messages, s.customers, segment_by="segment")),
    "message_engagement": ("MessageEngagement", lambda s: jl.message_engagement(s.messages, s.events)),
    "winback_targets": ("WinbackTargets", lambda s: jl.winback_targets(s.events)),
    "winback_reactivation": ("ReactivationResult", lambda s: jl.winback_reactivation(
        s.events, s.assignments, experiment="personalised_offer", holdout="control")),
    "attribute": ("AttributionResult", lambda s: jl.attribute(s.events, n_boot=20, seed=3)),
    "stage_attribution": ("StageAttributionResult", lambda s: jl.stage_attribution(s.events)),
    "kaplan_meier": ("KaplanMeierResult", lambda s: jl.kaplan_meier(_labels(s), by="segment")),
    "logrank": ("LogRankResult", lambda s: jl.logrank(_labels(s), "segment")),
    "cox": ("CoxResult", lambda s: jl.cox(_labels(s), ["segment"])),
    "membership_effect": ("MembershipEffect",
                          lambda s: jl.membership_effect(_labels(s), "loyalty_joined_at", ["segment"])),
    "winback_rates": ("WinbackResult", lambda s: jl.winback_rates(s.events, s.customers)),
    "ab_readout": ("Readout", _readout),
    "ab_result": ("ABResult", lambda s: _readout(s).results[0]),
    "sequential": ("SequentialResult", lambda s: _readout(s).results[0].sequential),
    "readout_from_stats": ("Readout",
                           lambda s: jl.readout_from_stats(jl.variant_stats(s.assignments, s.events))),
    "segment_breakdown": ("Readout", lambda s: jl.segment_breakdown(s.assignments, s.events, s.customers)),
    "cuped": ("CupedAdjustment", _cuped),
    "srm_test": ("SRMResult", lambda s: jl.srm_test([500, 540])),
    "beta_binomial": ("PosteriorComparison", lambda s: jl.beta_binomial(60, 500, 45, 500, draws=20_000)),
    "normal_posterior": ("PosteriorComparison", lambda s: jl.normal_posterior(10.5, 0.4, 10.0, 0.4)),
    "cohort_table": ("CohortTable", lambda s: jl.cohort_table(s.events)),
    "repeat_purchase": ("RepeatPurchase", lambda s: jl.repeat_purchase(s.events, s.customers)),
    "rfm_segments": ("RFMSegments", lambda s: jl.rfm_segments(jl.rfm_table(s.events))),
    "bgnbd_fit": ("FitResult", lambda s: jl.BetaGeoFitter().fit(_clv_summary(s)).result_),
    "clv_bootstrap": ("CLVBootstrap", lambda s: jl.clv_bootstrap(_clv_summary(s), n_boot=10, seed=3)),
    "calibration_holdout": ("CalibrationCheck",
                            lambda s: jl.calibration_holdout(_clv_summary(s), jl.BetaGeoFitter().fit(_clv_summary(s)))),
    "loyalty_effect": ("LoyaltyEffect", lambda s: jl.loyalty_effect(s.events, s.customers, seed=1)),
}
IDS = sorted(BUILDERS)
_BUILT: dict[str, object] = {}


@pytest.fixture
def built(request, sim):
    """The result of one builder, built once per session (several tests look at it)."""
    name = request.param
    if name not in _BUILT:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _BUILT[name] = BUILDERS[name][1](sim)
            except Exception as exc:  # noqa: BLE001 - recorded, re-raised in every test of this result
                _BUILT[name] = exc
    if isinstance(_BUILT[name], Exception):
        raise _BUILT[name]
    return name, _BUILT[name]


def each_result(test):
    return pytest.mark.parametrize("built", IDS, ids=IDS, indirect=True)(test)


def result_classes() -> set[str]:
    """Names of every :class:`Result` subclass defined in journeylib."""
    found = set()
    for info in pkgutil.walk_packages(jl.__path__, "journeylib."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (isinstance(obj, type) and issubclass(obj, Result) and obj is not Result
                    and obj.__module__ == module.__name__):
                found.add(name)
    return found


def test_every_result_class_is_built_here():
    missing = result_classes() - {cls for cls, _ in BUILDERS.values()}
    assert not missing, f"Result classes with no builder in tests/test_protocol.py: {sorted(missing)}"


@each_result
def test_is_a_frozen_result_of_the_declared_class(built):
    name, res = built
    assert type(res).__name__ == BUILDERS[name][0]
    assert isinstance(res, Result), f"{name}: {type(res).__name__} does not inherit core.result.Result"
    assert dataclasses.is_dataclass(res) and type(res).__dataclass_params__.frozen, f"{name}: not a frozen dataclass"
    field = dataclasses.fields(res)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(res, field, None)


@each_result
def test_summary_is_a_fresh_copy(built):
    name, res = built
    first = res.summary
    assert isinstance(first, pd.DataFrame), f"{name}: summary is a {type(first).__name__}"
    kept = first.copy(deep=True)
    assert res.summary is not first
    if len(first) and len(first.columns):
        for j in range(len(first.columns)):  # overwrite every value in place, then add a column, drop the rows
            try:
                first.iloc[:, j] = first.iloc[::-1, j].to_numpy() if len(first) > 1 else None
            except (TypeError, ValueError):
                pass
    first["__changed__"] = 1
    first.drop(first.index, inplace=True)
    pd.testing.assert_frame_equal(res.summary, kept)


@each_result
def test_findings_and_checks_are_tuples_of_their_type(built):
    name, res = built
    assert isinstance(res.findings, tuple) and all(isinstance(f, Finding) for f in res.findings), name
    assert isinstance(res.checks, tuple) and all(isinstance(c, Check) for c in res.checks), name
    assert all(c.status in ("pass", "warn", "fail") for c in res.checks), name
    for f in res.findings:
        assert f.text.strip() and "**" not in f.text and "`" not in f.text, (name, f.text)  # plain sentences


@each_result
def test_plot_draws_on_the_given_axes(built):
    name, res = built
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert res.plot(ax=ax) is ax, f"{name}: plot(ax) must return that ax"
    plt.close(fig)


@each_result
def test_html_repr_is_text(built):
    name, res = built
    html = res._repr_html_()
    assert isinstance(html, str) and html.strip(), name


def bad_interval_names(names) -> list[str]:
    names = [str(c) for c in names]
    bad = [c for c in names if c.lower() in BANNED_COLUMNS or c.lower().endswith(BANNED_SUFFIXES)]
    # every interval comes as a pair: x_ci_low with x_ci_high
    lows = {c[: -len("ci_low")] for c in names if c.endswith("ci_low")}
    highs = {c[: -len("ci_high")] for c in names if c.endswith("ci_high")}
    bad += [f"{p}ci_low without {p}ci_high" for p in sorted(lows - highs)]
    bad += [f"{p}ci_high without {p}ci_low" for p in sorted(highs - lows)]
    return bad


@each_result
def test_summary_columns_use_the_one_interval_vocabulary(built):
    name, res = built
    columns = list(res.summary.columns)
    if isinstance(res.summary.columns, pd.MultiIndex):
        columns = [c for level in res.summary.columns.levels for c in level]
    assert not bad_interval_names(columns), f"{name}: summary columns {bad_interval_names(columns)}"


@each_result
def test_fields_use_the_one_vocabulary(built):
    name, res = built
    fields = [f.name for f in dataclasses.fields(res)]
    assert not bad_interval_names(fields), f"{name}: fields {bad_interval_names(fields)}"
    assert not {"credible_level", "p_value"} & set(fields), name


# results with one headline estimate: confidence_interval(confidence_level=0.95) -> (low, high)
HEADLINE = ["ab_result", "calibrate_attribution", "clv_bootstrap", "membership_effect", "sequential"]


@pytest.mark.parametrize("built", HEADLINE, ids=HEADLINE, indirect=True)
def test_a_headline_interval_is_low_then_high_and_narrows_with_the_level(built):
    name, res = built
    low, high = res.confidence_interval(confidence_level=0.95)
    assert not np.isnan(low) and not np.isnan(high) and low <= high, (name, low, high)
    if name != "sequential":  # a confidence sequence is unbounded until enough users arrived (800 here)
        assert np.isfinite(low) and np.isfinite(high), (name, low, high)
    low90, high90 = res.confidence_interval(confidence_level=0.90)
    assert low <= low90 <= high90 <= high, (name, (low, high), (low90, high90))


@each_result
def test_hypothesis_tests_keep_scipys_names(built):
    name, res = built
    assert not hasattr(res, "p_value"), f"{name}: p_value; the name is pvalue"
    if hasattr(res, "pvalue"):
        assert 0 <= res.pvalue <= 1 or np.isnan(res.pvalue), name
