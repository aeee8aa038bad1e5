"""Spark parity of the loyalty churn fit on the Cox sample (issue 26).

``churn_effect(..., cox_sample=n)`` numbers rows in the engine, draws the sample on
positions and labels only the drawn customers' events (row_number window, a memtable
join, a semi-join, a materialised intermediate). On DuckDB and on Spark the rows and
the fitted models must be the same, and equal to labelling every customer and letting
``cox`` draw the sample (the code before issue 26).
"""
from __future__ import annotations

import pandas as pd
import pytest

from journeylib.loyalty.programme import churn_effect
from journeylib.retention.churn import churn_labels
from journeylib.retention.survival import membership_effect

pytestmark = pytest.mark.spark


def test_churn_effect_on_the_cox_sample(on_each, same):
    def run(ds):
        rows, effect = churn_effect(ds.events, ds.customers, cox_sample=300, seed=2)
        return pd.DataFrame(rows), effect

    (rows_a, eff_a), (rows_b, eff_b) = on_each(run)
    same(rows_a, rows_b, what="churn rows on the Cox sample")
    same(eff_a.summary, eff_b.summary, what="membership effect on the Cox sample")
    assert eff_a.naive.n == eff_b.naive.n == 300
    assert eff_a.naive.n_available == eff_b.naive.n_available > 300
    # anchor: the old code on DuckDB (labels for everyone, cox draws the sample)
    def old(ds):
        labels = churn_labels(ds.events, ds.customers, churn_after=60, start_event="purchase")
        return membership_effect(labels, "loyalty_joined_at", ["segment", "acquisition_channel"], sample=300,
                                 seed=2, missing="drop")

    ref, _ = on_each(old)
    pd.testing.assert_frame_equal(eff_a.summary, ref.summary, check_exact=False, rtol=1e-12)
