"""Spark parity of the A/B readout: the engine half (:func:`variant_stats`, the sufficient
statistics per experiment, variant, entry day, [segment] and metric) gives the same
table on DuckDB and on PySpark (local mode) from the same Parquet files, so every
final statistic (lifts, CIs, p-values, CUPED, sequential, Bayesian, SRM, adjusted
p-values) agrees to 1e-9 relative.

Fixtures ``on_each``, ``both`` and ``same`` come from ``tests/spark/conftest.py``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from journeylib.experiments import readout as ex

pytestmark = pytest.mark.spark

RTOL = 1e-9
KEYS = ["experiment", "variant", "entry_day", "metric"]
# the four defaults plus a count and a conversion on other events (more base sums in one scan)
METRICS = ex.DEFAULT_METRICS + (ex.count_per_user("product_view"), ex.conversion("add_to_cart"))


@pytest.fixture(scope="module")
def stats(on_each):
    """variant_stats on each engine, ``(duckdb, spark)``."""
    return on_each(lambda ds: ex.variant_stats(ds.assignments, ds.events, METRICS))


def test_variant_stats_identical(stats, small_sim, same):
    a, b = stats
    same(a, b, sort_by=KEYS, what="variant_stats")
    # not vacuous: every assignment is counted once per metric, and there are events in windows
    per_metric = a.groupby("metric")["n"].sum()
    assert (per_metric == len(small_sim.assignments)).all()
    assert (a["s_y"] > 0).any() and (a["s_x"] > 0).any()
    assert a["entry_day"].nunique() > 3


def test_variant_stats_options_identical(on_each, same):
    """Without the pre-period, one experiment, a short window (some windows incomplete)."""
    def run(ds):
        return ex.variant_stats(ds.assignments, ds.events, ex.DEFAULT_METRICS, window_days=7.5,
                                experiments=["personalised_offer", "homepage_video"], pre_period=False)

    a, b = on_each(run)
    same(a, b, sort_by=KEYS, what="variant_stats(pre_period=False, window_days=7.5)")
    assert a["s_x"].isna().all() and set(a["experiment"]) == {"personalised_offer", "homepage_video"}


def _readout_frames(ro: ex.Readout) -> dict[str, pd.DataFrame]:
    out = {"summary": ro.summary, "srm": ro.srm_summary}
    for r in ro.results:
        out[f"looks {r.experiment}/{r.segment}/{r.metric}/{r.variant}"] = r.looks
    return out


def test_ab_readout_identical(on_each, same):
    """Lifts, CIs, p-values, CUPED, sequential, Bayesian, power and Holm/BH: equal to 1e-9."""
    a, b = on_each(lambda ds: ex.ab_readout(ds.assignments, ds.events))
    fa, fb = _readout_frames(a), _readout_frames(b)
    assert list(fa) == list(fb)
    for k in fa:
        same(fa[k], fb[k], what=f"ab_readout {k}")
    # the numbers compared are real comparisons: three experiments, several variants, CUPED used
    s = a.summary
    assert set(s["experiment"]) == {"email_send_time", "homepage_video", "personalised_offer"}
    assert len(s) == 3 * 4 + 4  # homepage_video has two variants
    assert s["cuped"].any() and np.isfinite(s["pvalue"]).all()
    ra, rb = (ro.result("personalised_offer", "conversion") for ro in (a, b))
    for f in ("statistic", "pvalue", "ci_low", "ci_high", "rel_lift", "rel_ci_low", "rel_ci_high",
              "seq_pvalue", "chance_to_beat", "theta", "variance_reduction"):
        assert getattr(ra, f) == pytest.approx(getattr(rb, f), rel=RTOL, abs=0), f


def test_segment_breakdown_identical(on_each, same):
    def run(ds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ex.segment_breakdown(ds.assignments, ds.events, ds.customers, "segment",
                                        experiments="personalised_offer",
                                        metrics=ex.metrics_by_name(["conversion", "revenue_per_user"]))

    a, b = on_each(run)
    sa, sb = a.summary, b.summary
    same(sa, sb, what="segment breakdown")
    assert set(sa["segment"]) == {"budget", "premium", "standard"}


def test_subsecond_assignment_times(both, same):
    """Assignments a fraction of a second before midnight and windows ending within a second of
    the last event: same entry days and incomplete-window counts on both engines."""
    t = pd.Timestamp("2025-03-01 23:59:59.600000", tz="UTC")
    us = pd.Timedelta(microseconds=1)
    assign = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "experiment": "x",
        "variant": ["control", "treatment", "control", "treatment"],
        "assigned_at": [t, t + 0.4 * pd.Timedelta(seconds=1), t - pd.Timedelta(days=1), t + 900_000 * us],
    })
    last = t + pd.Timedelta(days=7) + 200_000 * us  # a and c have complete 7-day windows, b and d do not
    events = pd.DataFrame({
        "customer_id": ["a", "b", "d", "c", "c"],
        "ts": [t + us, t + pd.Timedelta(days=1), t + pd.Timedelta(days=2), t - pd.Timedelta(days=1) - us, last],
        "event": ["purchase", "purchase", "purchase", "purchase", "landing"],
        "revenue": [10.0, 20.0, 5.5, 7.0, None],
    })
    a, b = both(lambda: ex.variant_stats(assign, events, ex.DEFAULT_METRICS[:1], window_days=7))
    same(a, b, sort_by=KEYS, what="variant_stats on sub-second times")
    days = a.set_index("variant").groupby("variant")["entry_day"].apply(sorted)
    # a (23:59:59.6) is on March 1, b (00:00:00.0) on March 2, d (00:00:00.5) on March 2, c on Feb 28
    assert days["control"] == [pd.Timestamp("2025-02-28"), pd.Timestamp("2025-03-01")]
    assert days["treatment"] == [pd.Timestamp("2025-03-02")]
    assert int(a["n_incomplete"].sum()) == 2
    # a's purchase 1 us after assignment is in the window; c's purchase 1 us before is pre-period
    assert a["s_y"].sum() == 3 and a["s_x"].sum() == 1
