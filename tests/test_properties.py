"""Property-based tests over random valid event logs (hypothesis): nothing crashes, and the
invariants every analysis must keep hold: funnels are monotone, attribution shares are a
distribution, survival curves are probabilities that never rise, every CI contains its
estimate, and results do not depend on the row order of the input."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeylib.experiments import statistics as abstats
from journeylib.journeys import attribution, paths, stages
from journeylib.retention import churn, survival
from journeylib.core.errors import JourneyDataError
from journeylib.core.schema import DEFAULT_STAGES

CHANNELS = ["search", "email", "social", "direct"]
T0 = pd.Timestamp("2024-01-01", tz="UTC")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each example of an engine-backed analysis runs several DuckDB queries: fewer examples.
ENGINE = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def event_logs(draw, min_customers=1, max_customers=8):
    n = draw(st.integers(min_customers, max_customers))
    rows = []
    for c in range(n):
        for _ in range(draw(st.integers(1, 8))):
            stage = draw(st.sampled_from(DEFAULT_STAGES))
            purchase = stage in ("purchase", "repeat")
            rows.append({
                "customer_id": f"c{c}",
                "ts": T0 + pd.Timedelta(hours=draw(st.integers(0, 24 * 400))),
                "event": "purchase" if purchase else draw(st.sampled_from(["landing", "product_view", "add_to_cart"])),
                "channel": None if purchase else draw(st.sampled_from(CHANNELS)),
                "stage": stage,
                "revenue": float(draw(st.integers(1, 200))) if purchase else np.nan,
            })
    return pd.DataFrame(rows).drop_duplicates().reset_index(drop=True)


def shuffled(df, seed=0):
    return df.sample(frac=1, random_state=seed).reset_index(drop=True)


@ENGINE
@given(event_logs())
def test_closed_funnel_is_monotone_and_row_order_free(ev):
    if not (ev["stage"] == DEFAULT_STAGES[0]).any():  # nobody enters the funnel: the one outcome is an error
        with pytest.raises(JourneyDataError, match=f"no event at the first funnel stage '{DEFAULT_STAGES[0]}'"):
            stages.funnel(ev)
        return
    res = stages.funnel(ev).summary
    counts = res["customers"].to_numpy()
    assert (np.diff(counts) <= 0).all()
    assert res["step_conversion"].dropna().between(0, 1).all()
    pd.testing.assert_frame_equal(res, stages.funnel(shuffled(ev)).summary)


@ENGINE
@given(event_logs(min_customers=2))
def test_attribution_shares_are_a_distribution(ev):
    if paths.path_table(ev)["conversions"].sum() == 0:  # no converting path: the one outcome is an error
        with pytest.raises(JourneyDataError, match="no conversions at all; attribution needs converting paths"):
            attribution.attribute(ev, n_boot=0)
        return
    res = attribution.attribute(ev, n_boot=0)
    s = res.summary
    assert (s["share"] >= -1e-12).all()
    sums = s.groupby("model")["share"].sum()
    assert np.allclose(sums, 1.0), sums
    total = res.summary.groupby("model")["conversions"].sum()
    assert np.allclose(total, total.iloc[0])  # every model shares out the same conversions


@ENGINE
@given(event_logs(), st.integers(10, 120))
def test_km_is_a_non_increasing_probability_and_labels_are_row_order_free(ev, churn_after):
    labels = churn.churn_labels(ev, churn_after=churn_after)
    again = churn.churn_labels(shuffled(ev, 1), churn_after=churn_after)
    key = ["customer_id"]
    pd.testing.assert_frame_equal(labels.sort_values(key).reset_index(drop=True),
                                  again.sort_values(key).reset_index(drop=True))
    assert (labels["duration"] >= 0).all()
    km = survival.kaplan_meier(labels)
    assert km.fitters, "no curve fitted"
    for fitter in km.fitters.values():
        curve = fitter.survival_function_.iloc[:, 0].to_numpy()
        assert ((curve >= 0) & (curve <= 1)).all()
        assert (np.diff(curve) <= 1e-12).all()
    ret = km.retention.select_dtypes("number").filter(like="retention")
    assert ((ret.fillna(0) >= 0) & (ret.fillna(0) <= 1)).all().all()


finite = st.floats(-1e3, 1e3, allow_nan=False)
positive = st.floats(0.01, 1e3, allow_nan=False)


def test_attribution_property_on_a_converting_log(small_sim):
    res = attribution.attribute(small_sim.events, n_boot=0)
    assert np.allclose(res.summary.groupby("model")["share"].sum(), 1.0)
    assert (res.summary["share"] >= 0).all()


@SETTINGS
@given(finite, positive, st.integers(2, 10_000), finite, positive, st.integers(2, 10_000),
       st.sampled_from(["two-sided", "greater", "less"]))
def test_welch_ci_contains_estimate(m1, v1, n1, m0, v0, n0, alternative):
    r = abstats.welch_test(np.array([m1]), np.array([v1]), np.array([n1]), np.array([m0]), np.array([v0]),
                           np.array([n0]), alternative=alternative)
    assert r["ci_low"][0] <= r["estimate"][0] <= r["ci_high"][0]
    assert 0 <= r["pvalue"][0] <= 1


@SETTINGS
@given(st.integers(1, 5000), st.integers(0, 5000), st.integers(1, 5000), st.integers(0, 5000))
def test_two_proportion_ci_contains_estimate(n1, x1, n0, x0):
    x1, x0 = min(x1, n1), min(x0, n0)
    r = abstats.two_proportion_test(np.array([x1]), np.array([n1]), np.array([x0]), np.array([n0]))
    assert r["ci_low"][0] - 1e-12 <= r["estimate"][0] <= r["ci_high"][0] + 1e-12


@SETTINGS
@given(positive, st.floats(1e-4, 10), positive, st.floats(1e-4, 10))
def test_relative_lift_ci_contains_estimate(m1, se1, m0, se0):
    r = abstats.relative_lift(np.array([m1]), np.array([se1]), np.array([m0]), np.array([se0]))
    assert r["ci_low"][0] <= r["estimate"][0] <= r["ci_high"][0]


@pytest.mark.parametrize("seed", [1, 2])
def test_path_table_does_not_depend_on_row_order(small_sim, seed):
    from journeylib.journeys import paths

    ev = small_sim.events
    a = paths.path_table(ev).sort_values("path").reset_index(drop=True)
    b = paths.path_table(shuffled(ev, seed)).sort_values("path").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
