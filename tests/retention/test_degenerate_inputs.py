"""Degenerate but plausible retention inputs: one customer, one group, no churn, a customers table whose
ids match none, nobody who joined, nobody who came back. Each gives a journeylib error that says which
column and why, or the right numbers; never a lifelines, pandas or matplotlib traceback."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

import journeylib as jl
from journeylib.core.plots import error_widths
from journeylib.core.errors import JourneyDataError
from journeylib.core.intervals import wilson_interval
from journeylib.retention import plots
from journeylib.retention import survival as sv
from journeylib.retention.targeting import winback_reactivation

T0 = pd.Timestamp("2025-01-01", tz="UTC")


@pytest.fixture(scope="module")
def customers200():
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "start": T0,
                         "duration": rng.exponential(100, n).round(3), "churned": rng.random(n) < 0.6,
                         "segment": rng.choice(["a", "b"], n), "channel": "search", "flat": 1.0,
                         "joined": pd.NaT})


def test_cox_of_one_customer_names_the_covariates_and_their_one_value():
    one = pd.DataFrame({"customer_id": ["C1"], "duration": [273.9], "churned": [True],
                        "segment": ["standard"], "acquisition_channel": ["search"]})
    with pytest.raises(JourneyDataError) as err:
        sv.cox(one, ["segment", "acquisition_channel"])
    assert str(err.value) == (
        "covariates ['segment', 'acquisition_channel']: the one customer in the Cox model has the same value "
        "(segment: 'standard'; acquisition_channel: 'search'), so there is no group to compare and no hazard "
        "ratio to estimate\nWhat to do: pass a covariate that differs between customers; a value missing for "
        "every customer usually means the customers table's ids do not match the event log's; for the overall "
        "curve use kaplan_meier")


def test_cox_when_the_customers_table_matches_no_event_id():
    """churn_labels joins a customers table whose ids (42) match none of the log's (00042): every
    covariate is missing; this used to fail in lifelines' Schoenfeld test with "no types given"."""
    events = pd.DataFrame({"customer_id": ["00001"] * 3 + ["00002"] * 2 + ["00003"] * 2,
                           "ts": T0 + pd.to_timedelta([0, 5, 200, 0, 90, 0, 10], unit="D"),
                           "event": "purchase", "revenue": 10.0})
    customers = pd.DataFrame({"customer_id": ["1", "2", "3"], "segment": ["a", "b", "a"]})
    labels = jl.churn_labels(events, customers, churn_after=60)
    assert labels["segment"].isna().all() and int(labels["churned"].sum()) == 3
    with pytest.raises(JourneyDataError, match=r"^covariates \['segment'\]: every one of the 3 customers in the Cox "
                                               r"model has the same value \(segment: missing for every customer\)"):
        sv.cox(labels, ["segment"])


def test_cox_leaves_a_one_value_covariate_out_and_says_so(customers200):
    df = customers200
    got = sv.cox(df, ["segment", "channel", "flat"])
    alone = sv.cox(df, ["segment"])
    pd.testing.assert_frame_equal(got.summary, alone.summary)
    assert got.constant == {"channel": "'search'", "flat": "1.0"} and alone.constant == {}
    ref = CoxPHFitter().fit(pd.DataFrame({"segment: a": (df["segment"] == "a").astype(float),
                                          "d": df["duration"], "e": df["churned"]}), "d", "e")
    assert got.hazard_ratio("segment: a") == pytest.approx(float(np.exp(ref.params_["segment: a"])), rel=1e-6)
    assert got.note.startswith("Left out of the model because every customer in it has the same value: "
                               "channel ('search'), flat (1.0).")
    with pytest.raises(JourneyDataError, match=r"^covariates \['flat'\]: every one of the 200 customers in the Cox "
                                               r"model has the same value \(flat: 1.0\)"):
        sv.cox(df, ["flat"])


def test_cox_with_nobody_left_after_dropping_missing_values(customers200):
    with pytest.raises(JourneyDataError) as err:
        sv.cox(customers200.assign(spend=np.nan), ["spend"], missing="drop")
    assert str(err.value) == (
        "survival data: no customers to fit the Cox model on once the customers with a missing spend are left out "
        "(missing='drop'); expected at least one customer with a duration and a churn flag\nWhat to do: fill the "
        "missing values or leave that covariate out of the model (a value missing for every customer usually means "
        "the customers table's ids do not match the event log's)")


def test_time_varying_cox_and_membership_when_nobody_or_everybody_joined(customers200):
    df = customers200
    with pytest.raises(JourneyDataError) as err:
        sv.cox(df, ["segment"], time_varying={"member": "joined"})
    assert str(err.value) == (
        "column 'joined': every one of the 200 customers in the Cox model is without 'member' to the end of "
        "follow-up (joined missing or later), so there is nothing to compare and no hazard ratio for 'member'\n"
        "What to do: the model needs time both before and after joined; check the column, or leave the "
        "time-varying covariate out")
    with pytest.raises(JourneyDataError) as err:
        sv.membership_effect(df, "joined", ["segment"])
    assert str(err.value) == (
        "column 'joined': every one of the 200 customers has no joined value (never joined), so members cannot be "
        "compared with non-members\nWhat to do: the membership effect needs customers who joined and customers "
        "who did not; check the column (and that the customers table's ids match the event log's), or skip the "
        "membership model")
    with pytest.raises(JourneyDataError, match=r"^column 'joined': every one of the 200 customers has a joined "
                                               r"value \(joined\), so members cannot be compared"):
        sv.membership_effect(df.assign(joined=T0), "joined", ["segment"])
    # joined after the end of everyone's follow-up: ever a member, but never one while followed
    late = df.assign(joined=pd.Series(T0 + pd.Timedelta(days=5000), index=df.index).where(df.index % 2 == 0))
    with pytest.raises(JourneyDataError, match=r"^column 'joined': every one of the 200 customers in the Cox model "
                                               r"is without 'member' to the end of follow-up"):
        sv.membership_effect(late, "joined", ["segment"])


def test_membership_when_dropping_missing_values_leaves_only_members(customers200):
    """Every non-member lacks the numeric covariate: missing="drop" leaves members only, whom the naive model
    cannot compare with anyone; the error counts the customers left, not the ones passed."""
    df = customers200.assign(joined=pd.Series(T0 + pd.Timedelta(days=3), index=customers200.index)
                             .where(customers200.index < 120))
    df = df.assign(spend=np.where(df["joined"].notna(), 25.0 + df.index % 7, np.nan))
    with pytest.raises(JourneyDataError, match=r"^column 'joined': every one of the 120 customers has a joined value "
                                               r"\(joined\), so members cannot be compared with non-members"):
        sv.membership_effect(df, "joined", ["segment", "spend"], missing="drop")


def test_logrank_without_a_churn_is_refused_not_p_one(customers200):
    with pytest.raises(JourneyDataError) as err:
        sv.logrank(customers200.assign(churned=False), "segment")
    assert str(err.value) == ("column 'churned': no churn observed in any of the 200 rows; the log-rank test "
                              "compares churns between groups, so it needs at least one")


def test_error_widths_are_never_negative():
    got = error_widths([0.0, 0.5, 0.3, 2.0], [6.9e-18, 0.4, np.nan, 1.0], [0.26, 0.7, 0.4, 1.5], scale=100)
    np.testing.assert_allclose(got, [[0.0, 10.0, np.nan, 100.0], [26.0, 20.0, 10.0, 0.0]])


def test_reactivation_plot_when_nobody_came_back():
    """A Wilson interval of 0 returns starts a rounding error above 0 (rate - ci_low < 0): matplotlib
    refused the error bar ("'xerr' must not contain negative values")."""
    assign = pd.DataFrame({"customer_id": [f"c{i}" for i in range(21)], "experiment": "winback",
                           "variant": ["email"] * 14 + ["holdout"] * 7, "assigned_at": T0})
    events = pd.DataFrame({"customer_id": ["c0"], "ts": [T0 + pd.Timedelta(days=90)], "event": ["winback_sent"]})
    r = winback_reactivation(events, assign, experiment="winback", within_days=30)
    s = r.summary.set_index("group")
    assert s["reactivated"].tolist() == [0, 0] and s["rate"].tolist() == [0.0, 0.0]
    fig, ax = plt.subplots()
    try:
        r.plot(ax=ax)
        bars = [c for c in ax.collections if len(c.get_segments()) == 2][0]
        drawn = sorted((float(seg[0][0]), float(seg[1][0])) for seg in bars.get_segments())
        assert s["ci_low"].gt(0).all()  # 0 customers of 14 and of 7: both lower bounds just above the rate
        hi_targeted, hi_holdout = wilson_interval(0, 14)[1], wilson_interval(0, 7)[1]
        np.testing.assert_allclose(drawn, sorted([(0.0, 100 * hi_targeted), (0.0, 100 * hi_holdout)]), atol=1e-12)
    finally:
        plt.close(fig)
