"""Time to the next journey stage: planted medians, an independent pandas + lifelines computation."""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from journeylib.core.errors import JourneyDataError, JourneyParameterError
from journeylib.journeys.timing import stage_reach_times, time_to_next_stage

STAGES = ["awareness", "consideration", "cart"]
START = pd.Timestamp("2024-01-01", tz="UTC")
END = pd.Timestamp("2024-12-31", tz="UTC")
# planted: share that ever moves on (q) and median days of those who do, per segment and step
PLANTED = {"standard": {"consideration": (0.8, 5.0), "cart": (0.7, 2.0)},
           "premium": {"consideration": (0.9, 2.0), "cart": (0.8, 1.0)}}


def km_median(q: float, m: float) -> float:
    """Median of the improper time-to-move distribution S(t) = 1 - q (1 - exp(-ln2 t / m))."""
    return -np.log(1 - 0.5 / q) * m / np.log(2)


def share_by(q: float, m: float, t: float) -> float:
    return q * (1 - np.exp(-np.log(2) * t / m))


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(29)
    n = 6000
    seg = rng.choice(["standard", "premium"], n, p=[0.6, 0.4])
    start = rng.uniform(0, 330, n)
    rows = []
    for i in range(n):
        cid = f"c{i:05d}"
        t = start[i]
        rows.append((cid, t, "landing", "awareness"))
        rows.append((cid, t + rng.uniform(0, 40), "landing", "awareness"))  # a later revisit: first reach counts
        if rng.random() < 0.1:  # a cart event before consideration: not a move from consideration to cart
            rows.append((cid, t + 0.05, "add_to_cart", "cart"))
        for stage in STAGES[1:]:
            q, m = PLANTED[seg[i]][stage]
            if rng.random() >= q:
                break
            t = t + rng.exponential(m / np.log(2))
            rows.append((cid, t, "product_view" if stage == "consideration" else "add_to_cart", stage))
    ev = pd.DataFrame(rows, columns=["customer_id", "t", "event", "stage"])
    ev["ts"] = START + pd.to_timedelta(np.round(ev.pop("t") * 86400), unit="s")
    ev["channel"] = "search"
    ev = pd.concat([ev, pd.DataFrame({"customer_id": ["c00000"], "ts": [END + pd.Timedelta(days=20)],
                                      "event": ["winback_sent"], "stage": [None], "channel": ["email"]})])
    customers = pd.DataFrame({"customer_id": [f"c{i:05d}" for i in range(n)], "segment": seg})
    return ev.sort_values("ts", kind="mergesort").reset_index(drop=True), customers


def independent(ev: pd.DataFrame, a: str, b: str, end: pd.Timestamp) -> pd.DataFrame:
    """Days from the first event at ``a`` to the first event at ``b`` at or after it (pandas only)."""
    ev = ev[(ev["ts"] <= end) & ev["stage"].notna()]
    first = ev[ev["stage"] == a].groupby("customer_id")["ts"].min().rename("t_a")
    nxt = ev[ev["stage"] == b].merge(first, left_on="customer_id", right_index=True)
    nxt = nxt[nxt["ts"] >= nxt["t_a"]].groupby("customer_id")["ts"].min().rename("t_b")
    d = first.to_frame().join(nxt)
    d["moved"] = d["t_b"].notna()
    d["days"] = (d["t_b"].fillna(end) - d["t_a"]).dt.total_seconds() / 86400
    return d


def test_engine_half_is_one_row_per_customer(sim):
    ev, _ = sim
    r = stage_reach_times(ev, STAGES, observation_end=END)
    assert list(r.columns) == ["customer_id", "reached_0", "reached_1", "reached_2", "next_1", "next_2"]
    assert r["customer_id"].is_unique and len(r) == 6000
    d = independent(ev, "consideration", "cart", END)
    got = r.set_index("customer_id").loc[d.index]
    exp_us = d["t_b"].dropna().astype("int64") // 1000
    assert (got.loc[exp_us.index, "next_2"].astype("int64") == exp_us).all()
    assert got.loc[d.index[~d["moved"]], "next_2"].isna().all()
    assert r.attrs["observation_end"].startswith("2024-12-31")


def test_equals_pandas_and_lifelines(sim):
    ev, _ = sim
    res = time_to_next_stage(ev, STAGES, observation_end=END)
    s = res.summary.set_index("transition")
    for a, b in zip(STAGES, STAGES[1:]):
        d = independent(ev, a, b, END)
        kmf = KaplanMeierFitter().fit(d["days"], d["moved"])
        row = s.loc[f"{a} -> {b}"]
        assert row["customers"] == len(d) and row["moved"] == d["moved"].sum()
        assert row["median_days"] == pytest.approx(kmf.median_survival_time_, abs=1e-9)
        for h in (7, 30, 90):
            assert row[f"moved_{h}d"] == pytest.approx(1 - kmf.survival_function_at_times(h).iloc[0], abs=1e-9)
            assert row[f"moved_{h}d_ci_low"] < row[f"moved_{h}d"] < row[f"moved_{h}d_ci_high"]
        # customers who have not moved yet are censored, not counted as never moving
        assert row["moved_90d"] > d["moved"].mean()


def test_recovers_the_planted_medians_by_segment(sim):
    ev, customers = sim
    res = time_to_next_stage(ev, STAGES, by="segment", customers=customers, observation_end=END)
    truth = {(f"{a} -> {b}", g): km_median(*PLANTED[g][b]) for g in PLANTED for a, b in zip(STAGES, STAGES[1:])}
    table = res.against_truth(truth)
    assert len(table) == 4 and table["covered"].all(), table
    s = res.summary.set_index(["transition", "group"])
    for (tr, g), r in s.iterrows():
        q, m = PLANTED[g][tr.split(" -> ")[1]]
        for h in (7, 30):
            assert r[f"moved_{h}d_ci_low"] - 0.01 < share_by(q, m, h) < r[f"moved_{h}d_ci_high"] + 0.01
    assert res.median("consideration -> cart", "premium") < res.median("consideration -> cart", "standard")


def test_result_protocol_and_plot(sim):
    ev, customers = sim
    res = time_to_next_stage(ev, STAGES, observation_end=END)
    copy = res.summary
    copy.loc[:, "median_days"] = -1
    assert (res.summary["median_days"] > 0).all()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.by = "x"
    f = res.findings
    assert len(f) == 2 and f[0].text.startswith("Half of the customers who reach awareness get to consideration")
    assert f[0].ci_low < f[0].value < f[0].ci_high and f"{f[0].value:.1f} days" in f[0].text
    slowest = max(range(2), key=lambda i: f[i].value)
    assert f[slowest].action.startswith("The step from")
    assert all(c.passed for c in res.checks) and "<table" in res._repr_html_()
    fig, ax = plt.subplots()
    assert res.plot(ax=ax) is ax and ax.get_ylabel() == "share that has moved on to the next stage"
    cur = res.curves[res.curves["transition"] == "awareness -> consideration"]
    cutoff = cur.loc[cur["at_risk"] >= res.min_at_risk, "days"].max()
    assert ax.get_lines()[0].get_xdata().max() == pytest.approx(cutoff)
    plt.close(fig)


def test_thin_horizons_are_blank_and_bad_inputs(sim):
    ev, customers = sim
    early = START + pd.Timedelta(days=60)  # nobody can have been followed for 90 days yet
    res = time_to_next_stage(ev, STAGES, observation_end=early, horizons=[7, 90])
    assert res.summary["moved_90d"].isna().all() and res.summary["moved_7d"].notna().all()
    assert res.checks[1].status == "warn"
    with pytest.raises(JourneyParameterError, match="horizons"):
        time_to_next_stage(ev, STAGES, horizons=[0])
    with pytest.raises(JourneyParameterError, match="customers"):
        time_to_next_stage(ev, STAGES, by="segment")
    with pytest.raises(JourneyParameterError, match="stages"):
        time_to_next_stage(ev, ["awareness"])
    with pytest.raises(JourneyDataError, match="no event"):
        time_to_next_stage(ev, ["x", "y"])
