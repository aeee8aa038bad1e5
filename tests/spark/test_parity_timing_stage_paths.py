"""Spark parity of the issue-26 engine code of time to the next stage and the stage paths.

``stage_reach_times`` (one grouped pass, the exact join only for "tangled" customers, sorted
in the engine), the counts per transition, group and time that ``time_to_next_stage`` fits
Kaplan-Meier on, and the one path query of all stage transitions (touches as (event, label)
ranks) must give the same on DuckDB and PySpark: on the small simulated data and on a log
with stages in random order (many tangled customers) and ties in time.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeylib.journeys import attribution, timing

pytestmark = pytest.mark.spark

STAGES = ["awareness", "consideration", "cart", "purchase"]


def _shuffled(seed: int = 5, n: int = 4000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ev = pd.DataFrame({
        "customer_id": rng.integers(0, 400, n).astype(str),
        "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 20 * 24, n) * 3600, unit="s"),
        "event": rng.choice(["view", "cart_add", "visit", "open"], n),
        "channel": rng.choice(["search", "email", "social > organic", "Émail", None], n),
        "stage": rng.choice(STAGES + [None], n),
    })
    ids = sorted(set(ev["customer_id"]) - {"7"})
    customers = pd.DataFrame({"customer_id": ids, "segment": rng.choice(["a", "b", "c"], len(ids))})
    return ev, customers


def test_stage_reach_times(on_each, same):
    a, b = on_each(lambda ds: timing.stage_reach_times(ds.events, STAGES, by="segment", customers=ds.customers))
    same(a, b, what="stage reach times")  # both sorted by customer_id in the engine
    assert a["customer_id"].is_monotonic_increasing and len(a) > 1000
    assert a.attrs == b.attrs


def test_stage_reach_times_tangled(both, same):
    ev, customers = _shuffled()
    a, b = both(lambda: timing.stage_reach_times(ev, STAGES, by="segment", customers=customers))
    same(a, b, what="stage reach times, stages in random order")
    assert ((a["reached_2"] < a["reached_1"]) & a["next_2"].notna()).sum() > 10
    assert "(missing)" in set(a["group"])


def test_time_to_next_stage(on_each, same):
    a, b = on_each(lambda ds: timing.time_to_next_stage(ds.events, STAGES, by="segment", customers=ds.customers))
    same(a.summary, b.summary, what="time to next stage")
    same(a.curves, b.curves, what="time to next stage curves")
    assert a.observation_end == b.observation_end and a.summary["median_days"].notna().any()


def test_time_to_next_stage_tangled(both, same):
    ev, customers = _shuffled()
    a, b = both(lambda: timing.time_to_next_stage(ev, STAGES, by="segment", customers=customers,
                                                  horizons=(1, 3, 10)))
    same(a.summary, b.summary, what="time to next stage, stages in random order")
    same(a.curves, b.curves, what="time to next stage curves, stages in random order")


@pytest.mark.parametrize("window", [None, 4])
def test_stage_paths_tangled_with_ties(both, same, window):
    ev, _ = _shuffled()
    pairs = [("awareness", "consideration"), ("consideration", "cart"), ("cart", "purchase")]
    a, b = both(lambda: attribution.stage_attribution(ev, pairs, models=["first_touch", "last_touch", "markov"],
                                                      window=window))
    same(a.summary, b.summary, sort_by=["transition", "model", "channel"], what="stage attribution, random order")
    same(a.totals, b.totals, what="stage attribution totals, random order")
    for pair in pairs:
        pa_, pb_ = both(lambda: attribution.stage_path_table(ev, *pair, window=window))
        same(pa_, pb_, sort_by=["path"], what=f"stage path table {pair}")
        assert pa_["conversions"].sum() > 0
