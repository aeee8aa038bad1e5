"""The measured journey map: each KPI on a tiny hand-computed log, and the sample's planted truth."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import journeylib as jl  # noqa: E402
from journeylib.journeys.journey_map import journey_map  # noqa: E402

T0 = pd.Timestamp("2024-01-01", tz="UTC")
ST = ["awareness", "consideration", "cart", "purchase", "repeat"]


def day(d: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=d)


def tiny_log() -> pd.DataFrame:
    rows = [
        ("c1", 0, "landing", "search", "awareness", None), ("c1", 1, "product_view", "email", "consideration", None),
        ("c1", 2, "add_to_cart", "email", "cart", None), ("c1", 3, "purchase", None, "purchase", 10.0),
        ("c1", 13, "purchase", None, "repeat", 20.0),
        ("c2", 0, "landing", "social", "awareness", None), ("c2", 2, "product_view", "social", "consideration", None),
        ("c2", 10, "add_to_cart", "social", "cart", None),
        ("c3", 0, "landing", "search", "awareness", None), ("c3", 1, "product_view", "search", "consideration", None),
        ("c3", 1.5, "landing", "search", "awareness", None),
        ("c4", 0, "landing", "email", "awareness", None),
    ]
    return pd.DataFrame([(c, day(d), e, ch, s, r) for c, d, e, ch, s, r in rows],
                        columns=["customer_id", "ts", "event", "channel", "stage", "revenue"])


def tiny_feedback() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["c1", "c2", "c1", "c3"], "ts": [day(2), day(10), day(1), day(1)],
                         "kind": "survey", "score": [2.0, 1, 4, 5], "stage": ["cart", "cart", "consideration",
                                                                               "consideration"],
                         "text": None})


@pytest.fixture(scope="module")
def tiny():
    return journey_map(tiny_log(), ST, feedback=tiny_feedback(), observation_end=day(200))


def test_reach_per_journey(tiny):
    s = tiny.summary.set_index("stage")
    assert s["customers_first_time"].tolist() == [4, 3, 2, 1, 0]
    assert s["customers_repeat"].tolist() == [0, 0, 0, 0, 1]


def test_role_kpis_by_hand(tiny):
    assert tiny.kpi("awareness", "new customers")["value"] == 4
    assert tiny.kpi("consideration", "events per customer (first-time)")["value"] == pytest.approx(1.0)
    assert tiny.kpi("cart", "cart-to-purchase rate")["value"] == pytest.approx(0.5)
    assert tiny.kpi("cart", "abandoned carts (customers)")["value"] == 1
    assert tiny.kpi("purchase", "conversion (customers who ordered)")["value"] == pytest.approx(0.25)
    assert tiny.kpi("purchase", "first order value (mean)")["value"] == pytest.approx(10.0)
    assert tiny.kpi("repeat", "repeat rate within 90 days")["value"] == pytest.approx(1.0)
    assert tiny.kpi("repeat", "median days to the second order")["value"] == pytest.approx(10.0)
    assert tiny.kpi("repeat", "buyers inactive for 60+ days")["value"] == pytest.approx(1.0)
    assert tiny.kpi("consideration", "share going back")["value"] == pytest.approx(1 / 3)
    # median days from first reaching consideration to first reaching cart: c1 1 day, c2 8 days
    assert tiny.kpi("consideration", "median days in stage")["value"] == pytest.approx(4.5)


def test_touchpoints_and_acquisition_by_hand(tiny):
    tp = tiny.touchpoints.set_index(["journey", "stage", "touchpoint"]).sort_index()
    aw = tp.loc[("first-time", "awareness")]
    assert aw.loc["search landing", ["customers", "reached_next"]].tolist() == [2, 2]
    assert aw.loc["email landing", "conversion_to_next"] == 0.0
    assert aw.loc["search landing", "events"] == 3 and aw["share"].sum() == pytest.approx(1.0)
    mix = tiny.acquisition_mix.set_index("channel")["customers"].to_dict()
    assert mix == {"search": 2, "social": 1, "email": 1}


def test_emotion_and_pain_score_by_hand(tiny):
    e = tiny.emotion.set_index(["journey", "stage"])
    assert e.loc[("first-time", "cart"), "satisfaction"] == pytest.approx(1.5)
    assert e.loc[("first-time", "cart"), "dissatisfied_share"] == 1.0
    assert e.loc[("first-time", "consideration"), "satisfaction"] == pytest.approx(4.5)
    # t interval of [4, 5]
    half = stats.t.ppf(0.975, 1) * np.std([4, 5], ddof=1) / np.sqrt(2)
    assert e.loc[("first-time", "consideration"), "ci_high"] == pytest.approx(4.5 + half)
    p = tiny.pain_points.set_index("stage")
    # consideration: leave 1/3 (c3), stuck 1/3 (c2: 8 days to cart), back 1/3 (c3), dissatisfied 0
    assert p.loc["consideration", ["leave", "stuck", "back", "dissatisfied"]].tolist() == pytest.approx(
        [1 / 3, 1 / 3, 1 / 3, 0.0])
    assert p.loc["consideration", "pain_score"] == pytest.approx(1 - (2 / 3) ** 3)
    assert p.loc["cart", "pain_score"] == pytest.approx(1.0)
    assert tiny.pain_points.iloc[0]["stage"] == "cart"


def test_repeat_visits_belong_to_the_repeat_journey():
    ev = tiny_log()
    ev.loc[len(ev)] = ["c1", day(20), "product_view", "search", "consideration", np.nan]
    m = journey_map(ev, ST, observation_end=day(200), score_col=None)
    s = m.summary.set_index("stage")
    assert s.loc["consideration", "customers_first_time"] == 3
    assert s.loc["consideration", "customers_repeat"] == 1
    assert m.source == "none" and m.checks[0].status == "warn"


# --------------------------------------------------------------------------- sample: planted truth
@pytest.fixture(scope="module")
def sample_map():
    j = jl.load_journey("sample")
    return j, journey_map(j.events, j.stages, feedback=j.feedback, customers=j.customers)


def test_sample_cart_dip_is_the_top_pain_point(sample_map):
    j, m = sample_map
    top = m.pain_points.iloc[0]
    assert top["stage"] == "cart" == j.ground_truth["feedback"]["survey"]["lowest_stage"]
    assert top["pain_score"] > m.pain_points.iloc[1]["pain_score"]
    assert m.findings[0].text.startswith("The top pain point is cart: pain score")
    assert f"satisfaction {top['satisfaction']:.2f}" in m.findings[0].text


def test_pain_evidence_quotes_only_the_frictions_measured_at_the_stage(sample_map):
    """Without feedback or scores no share of answers is quoted; a stage that no first-time journey reaches
    (repeat) quotes no going back and no slow move; the last stage has no next stage to miss. The pain score is
    the same product either way (an unmeasured friction counts 0)."""
    j, with_feedback = sample_map
    ev = j.events.to_pandas().drop(columns="score")
    m = journey_map(ev, j.stages)
    pain = m.pain_points.set_index("stage")
    first_time = m.summary.set_index("stage")["customers_first_time"]
    assert first_time["repeat"] == 0 and first_time["cart"] > 0
    assert not pain["evidence"].str.contains("answers").any()
    assert pain.loc["repeat", "evidence"] == f"pain score {pain.loc['repeat', 'pain_score']:.0%}, " \
        f"{pain.loc['repeat', 'leave']:.0%} do not reach the next stage"
    assert "go back" in pain.loc["cart", "evidence"] and "take more than 7 days" in pain.loc["cart", "evidence"]
    assert "next stage" not in pain.loc[j.stages[-1], "evidence"]
    for stage, r in pain.iterrows():
        assert r["pain_score"] == pytest.approx(1 - (1 - r["leave"]) * (1 - r["stuck"]) * (1 - r["back"]))
    assert "of answers dissatisfied" in with_feedback.pain_points.iloc[0]["evidence"]


def test_sample_satisfaction_within_intervals(sample_map):
    j, m = sample_map
    truth = m.against_truth(j.ground_truth)
    sat = truth[truth["quantity"].str.startswith("satisfaction")]
    assert len(sat) >= 7 and sat["covered"].all(), sat


def test_sample_touchpoints_match_the_planted_channel_mix(sample_map):
    j, m = sample_map
    ch = j.ground_truth["channels"]
    # the first touch of the first-time journey is the acquisition channel
    a = m.acquisition_mix.set_index("channel")["customers"]
    realised = j.customers.to_pandas()["acquisition_channel"].value_counts()
    assert a.sort_index().to_dict() == realised.sort_index().to_dict()
    p = np.array([ch["acquisition_share"][c] for c in a.index])
    assert stats.chisquare(a.to_numpy(), p * a.sum()).pvalue > 0.001
    # first-time consideration touchpoints: the later touches, drawn from the touch mix; the sample's e-mail
    # holdout (ground_truth["channel_holdout"]) hides the later e-mail touches of half of the customers, so the
    # planted mix is touch_share in the exposed arm and touch_share without e-mail in the holdout arm (whose
    # few e-mail touches left are e-mail acquisitions' own steps to the cart). The map's counts, split by arm
    # here from the events (first-time: at or before the first order):
    tp = m.touchpoints
    c = tp[(tp["journey"] == "first-time") & (tp["stage"] == "consideration")].groupby("channel")["events"].sum()
    ev, a = j.events.to_pandas(), j.assignments.to_pandas()
    arm = a[a["experiment"] == j.ground_truth["channel_holdout"]["experiment"]].set_index("customer_id")["variant"]
    first_buy = ev[ev["event"] == "purchase"].groupby("customer_id")["ts"].min()
    ft = ev[(ev["stage"] == "consideration") & ev["channel"].notna()
            & (ev["ts"] <= ev["customer_id"].map(first_buy).fillna(pd.Timestamp.max.tz_localize("UTC")))]
    by_arm = ft.groupby([ft["customer_id"].map(arm), "channel"]).size().unstack(fill_value=0)
    assert by_arm.sum().to_dict() == c.to_dict()
    share = pd.Series(ch["touch_share"])
    exposed = by_arm.loc["exposed"]
    assert stats.chisquare(exposed.to_numpy(), share[exposed.index].to_numpy() * exposed.sum()).pvalue > 0.001
    held = by_arm.loc["holdout"].drop("email")
    p = share[held.index] / share[held.index].sum()
    assert stats.chisquare(held.to_numpy(), p.to_numpy() * held.sum()).pvalue > 0.001
    held_email = ft[(ft["channel"] == "email") & (ft["customer_id"].map(arm) == "holdout")]
    assert (held_email["customer_id"].map(j.customers.to_pandas().set_index("customer_id")["acquisition_channel"])
            == "email").all()
    assert by_arm.loc["holdout", "email"] < 0.1 * by_arm.loc["exposed", "email"]


def test_sample_map_draws_every_row(sample_map):
    _, m = sample_map
    fig, ax = plt.subplots(figsize=(12.8, 8))
    try:
        assert m.plot(ax=ax) is ax
        texts = [" ".join(t.get_text().split()) for t in ax.texts]
        assert any("TOP PAIN POINT" in t for t in texts)
        assert "cart" in ax.get_title(loc="left")
        # a count per customer keeps its decimal on the card (1.2 events, not 1)
        per = m.kpi("consideration", "events per customer (first-time)")["value"]
        card = next(t for t in texts if "events per customer" in t)
        assert f"events per customer {per:,.1f}" in card and not float(per).is_integer()
        assert m.table.shape[0] == len(m.stages)
    finally:
        plt.close(fig)


def test_customer_buckets_equal_one_pass(sample_map, monkeypatch):
    """Above EVENTS_PER_BUCKET events the map's customer counts run per customer-hash bucket: same map."""
    from journeylib.core import buckets, engine

    j, whole = sample_map
    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 12_000)
    assert buckets.n_buckets(engine.to_table(j.events)) >= 4
    split = journey_map(j.events, j.stages, feedback=j.feedback, customers=j.customers)
    for name in ("summary", "touchpoints", "kpis", "emotion", "pain_points", "acquisition_mix"):
        # rtol: DuckDB's parallel sums (mean order value) differ in the last bits from run to run
        pd.testing.assert_frame_equal(getattr(split, name), getattr(whole, name), check_exact=False, rtol=1e-12,
                                      obj=name)


def test_sample_emotion_by_segment_by_hand(sample_map):
    """The emotion line per segment, against the feedback rows counted in pandas."""
    j, _ = sample_map
    m = journey_map(j.events, j.stages, feedback=j.feedback, customers=j.customers, segment_by="segment")
    ev, fb, cu = j.events.to_pandas(), j.feedback.to_pandas(), j.customers.to_pandas()
    first_buy = ev[ev["event"] == "purchase"].groupby("customer_id")["ts"].min()
    fb = fb[fb["kind"].isin(["survey", "review"]) & fb["stage"].isin(j.stages) & fb["score"].notna()].copy()
    fp = fb["customer_id"].map(first_buy)
    fb["journey"] = np.where(fp.isna() | (fb["ts"] <= fp), "first-time", "repeat")
    fb["group"] = fb["customer_id"].map(cu.set_index("customer_id")["segment"].astype(str)).fillna("(missing)")
    want = fb.groupby(["journey", "group", "stage"])["score"].agg(["count", "mean", "std"])
    want["dis"] = fb.assign(d=fb["score"] <= 2.0).groupby(["journey", "group", "stage"])["d"].mean()
    got = m.emotion[m.emotion["group"] != "all"].set_index(["journey", "group", "stage"]).sort_index()
    assert len(want) == len(got) > 20 and set(got.index.get_level_values("group")) == {"budget", "premium", "standard"}
    want = want.loc[got.index]
    np.testing.assert_array_equal(got["answers"].to_numpy(), want["count"].to_numpy())
    np.testing.assert_allclose(got["satisfaction"], want["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["sd"], want["std"], rtol=1e-9)
    np.testing.assert_allclose(got["dissatisfied_share"], want["dis"], rtol=1e-12)


# --------------------------------------------------------------------------- the map against pandas
def pandas_reference(ev: pd.DataFrame, stages: list, stuck_days: float = 7.0) -> dict:
    """Reach, touchpoints (with conversion to the next stage), stuck shares and the acquisition mix, computed
    event by event in pandas (independently of the map's per-bucket engine counts)."""
    ev = ev[ev["event"] != "winback_sent"]
    fp = ev[ev["event"] == "purchase"].groupby("customer_id")["ts"].min()
    t = ev[ev["stage"].isin(stages)].copy()
    f = t["customer_id"].map(fp)
    t["journey"] = np.where(f.isna() | (t["ts"] <= f), "first-time", "repeat")
    reach = t.groupby(["journey", "stage"])["customer_id"].nunique()
    tp = t.groupby(["journey", "stage", "channel", "event"], dropna=False).agg(
        events=("ts", "size"), customers=("customer_id", "nunique"))
    ft = t[t["journey"] == "first-time"]
    reached, stuck = {}, {}
    for i, s in enumerate(stages[:-1]):
        nx = t[t["stage"] == stages[i + 1]].groupby("customer_id")["ts"].max()
        x = ft[ft["stage"] == s].groupby(["customer_id", "channel", "event"], dropna=False)["ts"].min().reset_index()
        x["ok"] = x["customer_id"].map(nx) >= x["ts"]
        for (ch, e), g in x.groupby(["channel", "event"], dropna=False):
            reached[(s, ch, e)] = int(g["ok"].sum())
        a = ft[ft["stage"] == s].groupby("customer_id")["ts"].min()
        b = ft[ft["stage"] == stages[i + 1]].groupby("customer_id")["ts"].min().reindex(a.index)
        late = (b >= a) & ((b - a) > pd.Timedelta(days=stuck_days))
        stuck[s] = float(late.mean()) if len(a) else 0.0
    x = ft[(ft["stage"] == stages[0]) & ft["channel"].notna()].sort_values(["customer_id", "ts", "event", "channel"])
    acq = x.drop_duplicates("customer_id")["channel"].value_counts()
    return {"reach": reach, "tp": tp, "reached": reached, "stuck": stuck, "acq": acq}


@pytest.mark.parametrize("floor", [False, True])
def test_map_matches_a_pandas_computation(sample_map, floor):
    j, m = sample_map
    ev = j.events.to_pandas()
    stages = list(j.stages)
    if floor:  # ties everywhere
        ev["ts"] = ev["ts"].dt.floor("D")
        m = journey_map(ev, stages)
    ref = pandas_reference(ev, stages)
    s = m.summary.set_index("stage")
    for journey, col in (("first-time", "customers_first_time"), ("repeat", "customers_repeat")):
        want = ref["reach"].xs(journey, level="journey").reindex(stages, fill_value=0)
        assert s[col].tolist() == want.tolist()
    tp = m.touchpoints
    got = tp.set_index(["journey", "stage", "channel", "event"])[["events", "customers"]].sort_index()
    want = ref["tp"].rename(index=lambda v: None if isinstance(v, float) and np.isnan(v) else v).sort_index()
    assert got.to_numpy().tolist() == want.reindex(got.index).to_numpy().tolist() and len(got) == len(want)
    ft = tp[(tp["journey"] == "first-time") & (tp["stage"] != stages[-1])]
    for r in ft.itertuples(index=False):
        ch = r.channel if isinstance(r.channel, str) else np.nan
        key = next(k for k in ref["reached"] if k[0] == r.stage and k[2] == r.event
                   and (k[1] == ch or (not isinstance(ch, str) and not isinstance(k[1], str))))
        assert r.reached_next == ref["reached"][key], r
    p = m.pain_points.set_index("stage")["stuck"]
    assert p[stages[:-1]].tolist() == pytest.approx([ref["stuck"][x] for x in stages[:-1]])
    assert m.acquisition_mix.set_index("channel")["customers"].sort_index().to_dict() == \
        ref["acq"].sort_index().to_dict()


def test_first_order_value_and_role_stages_match_pandas(sample_map):
    """The first order value's mean and t interval, and the stage each KPI sits at, from the events in pandas."""
    j, m = sample_map
    ev = j.events.to_pandas()
    ev = ev[ev["event"] != "winback_sent"]
    fp = ev["customer_id"].map(ev[ev["event"] == "purchase"].groupby("customer_id")["ts"].min())
    ev = ev.assign(journey=np.where(fp.isna() | (ev["ts"] <= fp), "first-time", "repeat"))
    at_map = ev[ev["stage"].isin(j.stages)]
    first = at_map[(at_map["event"] == "purchase") & (at_map["journey"] == "first-time")]["revenue"].dropna()
    lo, hi = stats.t.interval(0.95, len(first) - 1, loc=first.mean(), scale=first.std() / np.sqrt(len(first)))

    def mode(rows):
        n = rows.groupby("stage").size()
        return n[n == n.max()].index.min()

    buy = mode(at_map[(at_map["event"] == "purchase") & (at_map["journey"] == "first-time")])
    got = m.kpi(buy, "first order value (mean)")
    assert got["n"] == len(first) > 500
    assert got["value"] == pytest.approx(first.mean(), rel=1e-12)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
    rep = mode(at_map[(at_map["event"] == "purchase") & (at_map["journey"] == "repeat")])
    cart = mode(at_map[at_map["event"] == "add_to_cart"])
    k = m.kpis
    assert k[k["kpi"].str.startswith("repeat rate")]["stage"].tolist() == [rep]
    assert k[k["kpi"] == "cart-to-purchase rate"]["stage"].tolist() == [cart]


def test_ties_give_one_map_whatever_the_row_order(sample_map):
    j, _ = sample_map
    ev = j.events.to_pandas()
    ev["ts"] = ev["ts"].dt.floor("D")  # many events of a customer at one instant, at different stages
    maps = [journey_map(ev.sample(frac=1, random_state=seed), j.stages) for seed in (0, 1)]
    for attr in ("summary", "kpis", "touchpoints", "pain_points", "acquisition_mix"):
        pd.testing.assert_frame_equal(getattr(maps[0], attr), getattr(maps[1], attr))


def test_kpis_for_people_carry_their_unit_and_interval(sample_map):
    _, jm = sample_map
    d = jm.display_kpis()
    k = jm.kpis
    assert len(d) == len(k) and list(d.columns) == ["stage", "KPI", "value"]
    by_unit = {u: (row, d.iloc[i]["value"]) for i, (u, row) in enumerate(zip(k["unit"], k.itertuples()))}
    row, text = by_unit["share"]
    assert text == (f"{row.value:.1%} ({row.ci_low:.1%} to {row.ci_high:.1%})" if np.isfinite(row.ci_low)
                    else f"{row.value:.1%}")
    row, text = by_unit["days"]
    assert text.startswith(f"{row.value:,.1f} days")
    row, text = by_unit["points"]
    assert text.startswith(f"{row.value:+.0f} points (")  # NPS with its interval
    counts = d[k["unit"].to_numpy() == "count"]["value"]
    assert counts.str.fullmatch(r"[\d,]+(\.\d\d)?").all()  # 5,000 customers; 1.22 events per customer
    assert not d["value"].str.contains(r"e-|\de\+").any()  # never scientific notation
