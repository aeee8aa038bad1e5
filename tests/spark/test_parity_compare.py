"""Spark parity of compare_segments and compare_periods (issue 26: every per-customer step grouped in
the engine: stage reach, revenue, persona, channel counts, NPS/survey counts, and the Kaplan-Meier and
log-rank sums per distinct lifetime).

Both engines run on the same validated sample tables; tables must agree exactly for counts and labels and
to 1e-9 relative for the statistics. An anchor ties the retention log-rank to lifelines on one row per
customer, so the comparison cannot pass on two equally wrong answers.
"""
from __future__ import annotations

import numpy as np
import pytest

from journeylib.journeys import compare_periods, compare_segments
from journeylib.retention.churn import churn_labels

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("by", ["segment", "loyalty_member"])
def test_compare_segments(on_each, same, small_sim, by):
    a, b = on_each(lambda ds: compare_segments(ds.events, ds.customers, by,
                                               feedback=ds.feedback))
    same(a.summary, b.summary, sort_by=["figure", "segment"], what=f"compare_segments by {by}")
    same(a.persona, b.persona, sort_by=["segment"], what=f"persona by {by}")
    if by == "loyalty_member":
        assert set(a.persona["segment"]) <= {"True", "False", "(missing)"}
        return
    from lifelines.statistics import multivariate_logrank_test

    lab = churn_labels(small_sim.events, churn_after=60)
    seg = small_sim.customers.set_index("customer_id")["segment"]
    inside = (lab["customer_id"].map(seg) == "budget").to_numpy()
    ref = multivariate_logrank_test(lab["duration"], np.where(inside, "segment", "rest"), lab["churned"])
    row = a.summary[(a.summary["kind"] == "retention") & (a.summary["segment"] == "budget")].iloc[0]
    assert row["statistic"] == pytest.approx(ref.test_statistic, rel=1e-9)


def test_compare_periods(on_each, same):
    a, b = on_each(lambda ds: compare_periods(ds.events, n_boot=200,
                                              feedback=ds.feedback))
    same(a.summary, b.summary, what="compare_periods")
    assert (a.summary["kind"] == "retention").sum() == 1
    assert a.summary["n_current"].min() > 0
