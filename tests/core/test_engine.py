"""Engine helpers that change how a query runs, not what it returns."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeylib.core import engine
from journeylib.core.errors import JourneyParameterError


def _frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 2000
    return pd.DataFrame({
        "g": rng.choice([f"c{i}" for i in range(150)], n),
        "t": rng.integers(0, 40, n),   # many ties within a group ...
        "k": rng.permutation(n),       # ... broken by a unique key
        "v": rng.normal(size=n),
    })


@pytest.mark.parametrize("periods", [1, -1, 2])
def test_shift_within_equals_pandas_groupby_shift(periods):
    df = _frame()
    t = engine.to_table(df)
    out = engine.shift_within(t, "g", [t.t, t.k], periods, prev_v=t.v, prev_t=t.t).to_pandas()
    ref = df.sort_values(["g", "t", "k"]).assign(
        prev_v=lambda d: d.groupby("g")["v"].shift(periods),
        prev_t=lambda d: d.groupby("g")["t"].shift(periods))
    got = out.sort_values(["g", "t", "k"]).reset_index(drop=True)
    ref = ref.reset_index(drop=True)
    pd.testing.assert_series_equal(got["prev_v"], ref["prev_v"], check_names=False)
    assert got["prev_t"].astype("Float64").tolist() == ref["prev_t"].astype("Float64").tolist()
    assert got["prev_v"].isna().sum() == df["g"].nunique() * abs(periods) - _short_groups(df, abs(periods))


def _short_groups(df: pd.DataFrame, periods: int) -> int:
    """Groups with fewer rows than ``periods`` have fewer null shifts than ``periods``."""
    sizes = df.groupby("g").size()
    return int((periods - sizes[sizes < periods]).sum())


def test_shift_within_rejects_a_zero_offset():
    t = engine.to_table(_frame())
    with pytest.raises(JourneyParameterError, match="periods"):
        engine.shift_within(t, "g", [t.t], 0, x=t.v)
