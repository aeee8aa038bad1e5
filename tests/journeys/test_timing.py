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
    assert ax.child_axes[0].get_lines()[0].get_xdata().max() == pytest.approx(cutoff)  # the first step's panel
    plt.close(fig)


def _overlap(a, b) -> bool:
    """Whether two display boxes share more than a pixel."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1


@pytest.mark.parametrize("stages", [STAGES, STAGES + ["purchase"]])
def test_plot_is_one_panel_per_step_with_one_curve_per_group_and_the_legend_off_the_data(sim, stages):
    """Small multiples: a panel per step, a line per group, the legend beside the panels (in the free slot after
    the last one, or outside on the right), panels and their tick labels apart; the table stays narrow."""
    ev, customers = sim
    if len(stages) > 3:  # a purchase after every other cart, 0 to 20 days later
        carts = ev[ev["stage"] == "cart"].iloc[::2]
        wait = pd.to_timedelta(np.random.default_rng(3).uniform(0, 20, len(carts)), unit="D")
        ev = pd.concat([ev, carts.assign(stage="purchase", ts=carts["ts"] + wait)])
    res = time_to_next_stage(ev, stages, by="segment", customers=customers, observation_end=END)
    steps = len(stages) - 1
    fig, ax = plt.subplots(figsize=(11, 2.6 * (len(stages) // 2) + 1.2))
    res.plot(ax=ax)
    fig.canvas.draw()
    panels = ax.child_axes
    assert len(panels) == steps
    assert [p.get_title(loc="left") for p in panels] == [f"{a} → {b}" for a, b in zip(stages, stages[1:])]
    for p in panels:
        curves = [ln.get_gid() for ln in p.get_lines() if str(ln.get_gid()).startswith("next-stage:curve:")]
        assert curves == ["next-stage:curve:premium", "next-stage:curve:standard"]
        assert p.get_xscale() == "log" and p.get_xlim()[0] == pytest.approx(1 / 24)
        labels = [t for t in p.get_xticklabels() if t.get_text()]
        assert [t.get_text().replace("\n", " ") for t in labels][:3] == ["1 hour", "1 day", "7 days"]
        boxes = [t.get_window_extent() for t in labels]
        assert not any(_overlap(a, b) for a, b in zip(boxes, boxes[1:])), "x tick labels overlap"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["premium", "standard"]
    assert legend.get_title().get_text() == "segment"
    box = legend.get_window_extent()
    assert not any(_overlap(box, p.get_window_extent()) for p in panels), "the legend covers a panel"
    if steps % 2:  # the free slot after the last panel holds it
        assert box.x0 > panels[-1].get_window_extent().x1 and box.y1 > panels[-1].get_window_extent().y0
    # panels, with their titles and tick labels, do not run into each other
    tight = [p.get_tightbbox() for p in panels]
    assert not any(_overlap(a, b) for i, a in enumerate(tight) for b in tight[i + 1:])
    plt.close(fig)
    table = res.display_table()
    assert table.columns.tolist() == ["step", "segment", "customers", "half moved on within (days)", "within 7 days",
                                      "within 30 days", "within 90 days"]
    assert len(table) == steps * 2 and table["within 7 days"].str.fullmatch(r"\d+%|–").all()
    assert table["half moved on within (days)"].str.fullmatch(r"\d+\.\d \((\d+\.\d to |at least )\d+\.\d\)").all()


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


# --------------------------------------------------------------------------- equal to the old implementation
# Issue 26: the engine half used to join every event back to its customer's first times, and the
# stats half fitted Kaplan-Meier on one row per customer. Both are kept here as the reference.
def _old_stage_reach_times(events, stages, *, by=None, customers=None, observation_end=None) -> pd.DataFrame:
    import ibis

    from journeylib.core import engine
    from journeylib.core.time import epoch_us, observation_end as observation_end_of, to_epoch_us
    from journeylib.journeys.common import check_stages, drop_outbound, events_table

    stages = check_stages(stages)
    everything = events_table(events)
    t = drop_outbound(everything)
    obs = observation_end_of(everything, observation_end)
    obs_us = to_epoch_us(obs)
    ev = t.select("customer_id", _s=ibis.cases(*[(t.stage == s, k) for k, s in enumerate(stages)], else_=None),
                  _e=epoch_us(t))
    ev = ev.filter(ev._s.notnull() & (ev._e <= obs_us))
    first = ev.group_by("customer_id").aggregate(
        **{f"reached_{k}": ev._e.min(where=ev._s == k) for k in range(len(stages))})
    j = ev.join(first, "customer_id")
    nxt = j.group_by("customer_id").aggregate(
        **{f"next_{k}": j._e.min(where=(j._s == k) & (j._e >= j[f"reached_{k - 1}"])) for k in range(1, len(stages))})
    out = first.join(nxt, "customer_id")
    cols = ["customer_id", *[f"reached_{k}" for k in range(len(stages))], *[f"next_{k}" for k in range(1, len(stages))]]
    out = out.select(*cols)
    if by:
        cu = engine.to_table(customers, table="customers")
        cu = cu.select(_cid=cu.customer_id.cast("string"), _grp=cu[by].cast("string"))
        out = out.left_join(cu, out.customer_id.cast("string") == cu._cid)
        out = out.mutate(group=out._grp.fill_null("(missing)")).drop("_cid", "_grp")
    df = engine.to_pandas(out).sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    df.attrs.update(observation_end=str(obs), observation_end_us=obs_us, stages=list(stages))
    return df


def _old_next_stage_tables(reach, stages, by, hs=(7.0, 30.0, 90.0), confidence_level=0.95, min_at_risk=None):
    """The old stats half: Kaplan-Meier on one row per customer (summary table, and curves read every hour)."""
    from journeylib.core.time import DAY_US
    from journeylib.retention.survival import kaplan_meier

    from journeylib.retention.plots import MIN_AT_RISK

    min_at_risk = MIN_AT_RISK if min_at_risk is None else min_at_risk
    obs_us = reach.attrs["observation_end_us"]
    group = reach["group"] if by else pd.Series("all", index=reach.index)
    rows, curves = [], []
    for k in range(1, len(stages)):
        start = pd.to_numeric(reach[f"reached_{k - 1}"])
        at = start.notna()
        end = pd.to_numeric(reach[f"next_{k}"])
        moved = end.notna() & at
        days = ((end.where(moved, obs_us) - start) / DAY_US).where(at)
        d = pd.DataFrame({"days": days[at].clip(lower=0).astype(float), "moved": moved[at], "group": group[at]})
        name = f"{stages[k - 1]} -> {stages[k]}"
        km = kaplan_meier(d, duration_col="days", event_col="moved", by="group", horizons=hs,
                          confidence_level=confidence_level) if len(d) else None
        s = km.summary.set_index("group") if km is not None else pd.DataFrame()
        ret = km.retention.set_index(["group", "horizon_days"]) if km is not None else pd.DataFrame()
        for g in sorted(set(group), key=str):
            row = {"transition": name, "from_stage": stages[k - 1], "to_stage": stages[k], "group": g,
                   "customers": int((d["group"] == g).sum()), "moved": int(d.loc[d["group"] == g, "moved"].sum()),
                   "median_days": np.nan, "ci_low": np.nan, "ci_high": np.nan}
            if g in s.index:
                row.update(median_days=float(s.loc[g, "median_days"]), ci_low=float(s.loc[g, "ci_low"]),
                           ci_high=float(s.loc[g, "ci_high"]))
            for h in hs:
                c, lo_c, hi_c = f"moved_{h:g}d", f"moved_{h:g}d_ci_low", f"moved_{h:g}d_ci_high"
                row[c] = row[lo_c] = row[hi_c] = np.nan
                if g in s.index:
                    r = ret.loc[(g, h)]
                    waiting = int(((d["group"] == g) & (d["days"] >= h)).sum())
                    if waiting >= min_at_risk and pd.notna(r["retention"]):
                        row[c], row[lo_c], row[hi_c] = 1 - r["retention"], 1 - r["ci_high"], 1 - r["ci_low"]
            rows.append(row)
            if km is not None and g in km.fitters:
                # the per-customer curve read every hour: the step in force then, and who is still waiting
                f, waits = km.fitters[g], d.loc[d["group"] == g, "days"].to_numpy()
                grid = np.arange(np.ceil(waits.max() * 24) + 1) / 24
                at = np.searchsorted(f.survival_function_.index.to_numpy(float), grid, side="right") - 1
                band = f.confidence_interval_.to_numpy(float)[at]
                curves.append(pd.DataFrame({
                    "transition": name, "group": g, "days": grid,
                    "share_moved": 1 - f.survival_function_.iloc[:, 0].to_numpy(float)[at],
                    "ci_low": 1 - band[:, 1], "ci_high": 1 - band[:, 0],
                    "at_risk": np.array([(waits >= x).sum() for x in grid], dtype=float)}))
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)


def _shuffled_stages(seed: int = 5, n: int = 5000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stages in random order (many customers have stage-k events on both sides of their first
    stage k-1 event: the "tangled" ones that need the exact join), ties in time, a customer
    without a segment and outbound events after the last inbound one."""
    rng = np.random.default_rng(seed)
    ev = pd.DataFrame({
        "customer_id": rng.integers(0, 600, n).astype(str),
        "ts": START + pd.to_timedelta(rng.integers(0, 40 * 24, n) * 3600, unit="s"),
        "event": rng.choice(["view", "add_to_cart", "landing"], n),
        "stage": rng.choice(STAGES + ["purchase", None], n),
    })
    ev = pd.concat([ev, pd.DataFrame({"customer_id": ["1", "2"], "ts": [END, END], "event": ["winback_sent"] * 2,
                                      "stage": [None, "cart"]})], ignore_index=True)
    ids = sorted(set(ev["customer_id"]) - {"7"})
    customers = pd.DataFrame({"customer_id": ids, "segment": rng.choice(["a", "b", "c"], len(ids))})
    return ev, customers


@pytest.mark.parametrize("by", [None, "segment"])
@pytest.mark.parametrize("data", ["sim", "shuffled"])
def test_engine_half_equals_the_old_join(sim, by, data):
    ev, customers = sim if data == "sim" else _shuffled_stages()
    stages = STAGES + (["purchase"] if data == "shuffled" else [])
    end = END if data == "sim" else START + pd.Timedelta(days=30)
    new = stage_reach_times(ev, stages, by=by, customers=customers, observation_end=end)
    old = _old_stage_reach_times(ev, stages, by=by, customers=customers, observation_end=end)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new.attrs == old.attrs
    # the planted cart-before-consideration customers (sim) and the random orders are tangled: some
    # have a later next stage although their first event there came earlier
    tangled = (new["reached_2"] < new["reached_1"]) & new["next_2"].notna()
    assert tangled.sum() > (50 if data == "sim" else 10)
    if by and data == "shuffled":
        assert "(missing)" in set(new["group"])


@pytest.mark.parametrize("by", [None, "segment"])
@pytest.mark.parametrize("data", ["sim", "shuffled"])
def test_counts_and_weights_equal_the_old_per_customer_fit(sim, by, data):
    ev, customers = sim if data == "sim" else _shuffled_stages()
    stages = STAGES + (["purchase"] if data == "shuffled" else [])
    end = END if data == "sim" else START + pd.Timedelta(days=30)
    hs = (7.0, 30.0, 90.0) if data == "sim" else (2.0, 5.0, 20.0)
    res = time_to_next_stage(ev, stages, by=by, customers=customers, observation_end=end, horizons=hs)
    table, curves = _old_next_stage_tables(
        _old_stage_reach_times(ev, stages, by=by, customers=customers, observation_end=end), stages, by, hs)
    # medians, shares and curves come from sorted arrays, not lifelines' event table: its numbers to
    # the last bits (the medians, first times at or below one half, exactly)
    pd.testing.assert_frame_equal(res.summary, table, check_exact=False, rtol=1e-12, atol=1e-12)
    for c in ("median_days", "ci_low", "ci_high"):
        np.testing.assert_array_equal(res.summary[c], table[c])
    pd.testing.assert_frame_equal(res.curves, curves, check_exact=False, rtol=1e-12, atol=1e-12)
    assert res.observation_end == str(pd.Timestamp(end))
    assert res.summary["median_days"].notna().sum() >= len(stages) - 1


def test_customer_buckets_equal_one_pass(sim, monkeypatch):
    """Above EVENTS_PER_BUCKET events the log runs per customer-hash bucket: same frame, same result."""
    from journeylib.core import buckets

    ev, customers = sim
    whole = stage_reach_times(ev, STAGES, by="segment", customers=customers, observation_end=END)
    res = time_to_next_stage(ev, STAGES, by="segment", customers=customers, observation_end=END)
    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 6000)
    from journeylib.core.engine import to_table
    assert buckets.n_buckets(to_table(ev)) >= 4
    split = stage_reach_times(ev, STAGES, by="segment", customers=customers, observation_end=END)
    pd.testing.assert_frame_equal(split, whole, check_exact=True)
    again = time_to_next_stage(ev, STAGES, by="segment", customers=customers, observation_end=END)
    pd.testing.assert_frame_equal(again.summary, res.summary, check_exact=True)
    pd.testing.assert_frame_equal(again.curves, res.curves, check_exact=True)


def test_findings_of_a_split_name_the_column_and_the_largest_group():
    import journeylib as jl

    ds = jl.load_dataset("sample")
    res = jl.time_to_next_stage(ds.events, by="segment", customers=ds.customers)
    sizes = res.table.groupby("group")["customers"].sum()
    assert sizes.idxmax() == "standard"
    assert res.findings[0].text.startswith("Half of the customers in segment standard who reach awareness")


def test_a_split_ends_with_the_step_where_the_groups_differ_most(sim):
    """Planted: premium moves on faster at both steps, by 4.7 days at the first and 2.2 at the second."""
    ev, customers = sim
    res = time_to_next_stage(ev, STAGES, by="segment", customers=customers, observation_end=END)
    last = res.findings[-1]
    planted_gap = km_median(*PLANTED["standard"]["consideration"]) - km_median(*PLANTED["premium"]["consideration"])
    assert last.text.startswith("From awareness to consideration, customers in segment premium move on fastest")
    assert "in segment standard." in last.text and "standard" in last.action
    s = res.summary.set_index(["transition", "group"])
    fast, slow = s.loc[("awareness -> consideration", "premium")], s.loc[("awareness -> consideration", "standard")]
    assert last.value == pytest.approx(slow["median_days"] - fast["median_days"])
    assert slow["ci_low"] - fast["ci_high"] < planted_gap < slow["ci_high"] - fast["ci_low"]
    # groups drawn at random from the same customers: no step tells them apart
    coin = customers.assign(half=np.where(np.random.default_rng(5).random(len(customers)) < 0.5, "a", "b"))
    same = time_to_next_stage(ev, STAGES, by="half", customers=coin, observation_end=END).findings[-1]
    assert same.text.startswith("The customers of each half move from stage to stage at similar speeds")
    assert "and for the share that moved on within 7, 30, 90 days" in same.text
    assert same.value is None and same.action == ""


def test_a_group_that_never_reaches_its_median_is_compared_on_the_share_that_moved_on():
    """On the sample, budget customers at repeat never reach half moving on to advocacy, so the medians
    cannot compare them; within 90 days 25% of them moved on against 43% in premium, intervals apart."""
    import journeylib as jl

    ds = jl.load_dataset("sample")
    res = jl.time_to_next_stage(ds.events, by="segment", customers=ds.customers)
    s = res.summary.set_index(["transition", "group"])
    budget, premium = s.loc[("repeat -> advocacy", "budget")], s.loc[("repeat -> advocacy", "premium")]
    assert np.isinf(budget["median_days"]) and budget["moved_90d_ci_high"] < premium["moved_90d_ci_low"]
    last = res.findings[-1]
    assert last.text == (f"From repeat to advocacy, {premium['moved_90d']:.0%} of the customers in segment premium "
                         f"moved on within 90 days ({premium['moved_90d_ci_low']:.0%} to "
                         f"{premium['moved_90d_ci_high']:.0%}), against {budget['moved_90d']:.0%} "
                         f"({budget['moved_90d_ci_low']:.0%} to {budget['moved_90d_ci_high']:.0%}) in segment budget.")
    assert last.value == pytest.approx(premium["moved_90d"] - budget["moved_90d"])
    assert "segment budget meets between repeat and advocacy" in last.action
