"""Attribution: hand-computed cases, Monte-Carlo check of the exact chain, Shapley axioms,
agreement with the ChannelAttribution package (GPL-3, imported here only), planted truth."""
from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from journeylib.journeys import attribution as A
from journeylib.core import buckets
from journeylib.simulate.datasets import load_dataset
from journeylib.journeys import paths as P
from journeylib.core.errors import JourneyDataError, JourneyParameterError

CLASSIC = pd.DataFrame({
    "path": ["Google Ads", "Mailing", "Google Ads > Mailing", "Google Ads"],
    "conversions": [2, 1, 1, 0], "conversion_value": [20.0, 10.0, 10.0, 0.0], "null_count": [0, 0, 0, 1],
})


def test_classic_four_path_markov_example():
    re = A.markov_removal_effects(CLASSIC).set_index("channel")
    assert re.attrs["conversion_probability"] == pytest.approx(0.8)
    assert re.loc["Google Ads", "removal_effect"] == pytest.approx(0.75)
    assert re.loc["Mailing", "removal_effect"] == pytest.approx(0.5)
    assert re.loc["Google Ads", "conversions"] == pytest.approx(2.4)
    assert re.loc["Mailing", "conversions"] == pytest.approx(1.6)
    assert re["value"].sum() == pytest.approx(40.0)
    res = A.attribute(CLASSIC, models=["markov"], n_boot=0)
    assert res.conversion_probability == pytest.approx(0.8)
    assert res.summary.set_index("channel")["conversions"].to_dict() == pytest.approx({"Google Ads": 2.4, "Mailing": 1.6})


HAND = pd.DataFrame({
    "path": ["a > b > c", "b", "c > direct", "a > b > b > c", "direct > direct"],
    "conversions": [1, 2, 1, 1, 1], "conversion_value": [10.0, 4.0, 5.0, 8.0, 1.0], "null_count": [3, 1, 0, 2, 0],
})


def test_rule_based_models_hand_computed():
    s = A.attribute(HAND, models=list(A.RULE_MODELS), n_boot=0).summary
    got = {m: s[s.model == m].set_index("channel")["conversions"].to_dict() for m in A.RULE_MODELS}
    assert got["first_touch"] == pytest.approx({"a": 2, "b": 2, "c": 1, "direct": 1})
    assert got["last_touch"] == pytest.approx({"a": 0, "b": 2, "c": 2, "direct": 2})
    # c > direct -> c; direct > direct stays direct
    assert got["last_non_direct"] == pytest.approx({"a": 0, "b": 2, "c": 3, "direct": 1})
    assert got["linear"] == pytest.approx({"a": 1 / 3 + 1 / 4, "b": 1 / 3 + 2 + 2 / 4, "c": 1 / 3 + 1 / 2 + 1 / 4,
                                           "direct": 1 / 2 + 1})
    # position based 40/20/40: a>b>c -> .4/.2/.4; a>b>b>c -> .4, .1+.1, .4; two touches 50/50
    assert got["position_based"] == pytest.approx({"a": 0.8, "b": 0.2 + 2 + 0.2, "c": 0.4 + 0.5 + 0.4,
                                                   "direct": 0.5 + 1})
    v = s[s.model == "first_touch"].set_index("channel")["value"].to_dict()
    assert v == pytest.approx({"a": 18, "b": 4, "c": 5, "direct": 1})
    # custom position weights (30/30): middle touch of a>b>c gets 0.4
    s2 = A.attribute(HAND.iloc[[0]], models=["position_based"], position_weights=(0.3, 0.3), n_boot=0).summary
    assert s2.set_index("channel")["conversions"].to_dict() == pytest.approx({"a": 0.3, "b": 0.4, "c": 0.3})


def test_time_decay_hand_computed():
    ts = pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-10", "2024-01-01", "2024-01-02"], utc=True)
    ev = pd.DataFrame({"customer_id": ["1", "1", "1", "2", "2"], "ts": ts,
                       "event": ["visit", "visit", "purchase", "visit", "visit"],
                       "channel": ["a", "b", None, "a", "b"], "revenue": [None, None, 50.0, None, None]})
    s = A.attribute(ev, models=["time_decay", "linear"], half_life=7, n_boot=0).summary
    td = s[s.model == "time_decay"].set_index("channel")["conversions"]
    wa, wb = 2 ** (-9 / 7), 2 ** (-2 / 7)  # touches 9 and 2 days before the purchase
    assert td["a"] == pytest.approx(wa / (wa + wb))
    assert td["b"] == pytest.approx(wb / (wa + wb))
    assert s[s.model == "time_decay"]["value"].sum() == pytest.approx(50.0)


def _chain_counts(pt):
    """Independent transition counts (dicts) of a path table."""
    trans: dict[tuple[str, str], float] = {}
    for path, conv, null in zip(pt["path"], pt["conversions"], pt["null_count"]):
        seq = ["(start)"] + path.split(" > ")
        for a, b in zip(seq[:-1], seq[1:]):
            trans[(a, b)] = trans.get((a, b), 0) + conv + null
        trans[(seq[-1], "(conversion)")] = trans.get((seq[-1], "(conversion)"), 0) + conv
        trans[(seq[-1], "(null)")] = trans.get((seq[-1], "(null)"), 0) + null
    return trans


def _simulate_chain(trans, n, rng, removed=None):
    states = sorted({a for a, _ in trans})
    nxt = {s: ([b for (a, b) in trans if a == s], np.array([trans[(a, b)] for (a, b) in trans if a == s], float))
           for s in states}
    conv = 0
    for _ in range(n):
        s = "(start)"
        while True:
            targets, w = nxt[s]
            s = targets[rng.choice(len(targets), p=w / w.sum())]
            if s == removed or s == "(null)":
                break
            if s == "(conversion)":
                conv += 1
                break
    return conv / n


def test_exact_chain_matches_monte_carlo(rng):
    pt = HAND
    re = A.markov_removal_effects(pt).set_index("channel")
    trans = _chain_counts(pt)
    n = 20_000
    p_mc = _simulate_chain(trans, n, rng)
    p = re.attrs["conversion_probability"]
    assert abs(p_mc - p) < 4 * np.sqrt(p * (1 - p) / n)
    for ch in ("b", "c"):
        p_rm = _simulate_chain(trans, n, rng, removed=ch)
        exact = p * (1 - re.loc[ch, "removal_effect"])
        assert abs(p_rm - exact) < 4 * np.sqrt(max(exact * (1 - exact), 1e-3) / n)


def _brute_shapley(pt, worth):
    """Shapley by enumerating every ordering of the channels."""
    chans = sorted({c for p in pt["path"] for c in p.split(" > ")})
    phi = dict.fromkeys(chans, 0.0)
    perms = list(itertools.permutations(chans))
    for order in perms:
        s: set = set()
        for c in order:
            phi[c] += worth(s | {c}) - worth(s)
            s = s | {c}
    return {c: v / len(perms) for c, v in phi.items()}


def test_shapley_matches_enumeration_and_axioms():
    pt = pd.DataFrame({"path": ["a > b", "a", "b > c", "c", "d > a", "d"], "conversions": [3, 2, 1, 0, 0, 0],
                       "conversion_value": 0.0, "null_count": [1, 4, 2, 5, 3, 6]})
    sets = [frozenset(p.split(" > ")) for p in pt["path"]]

    def additive(s):
        return sum(c for t, c in zip(sets, pt["conversions"]) if t <= s)

    def rate(s):
        rows = [(c, c + n) for t, c, n in zip(sets, pt["conversions"], pt["null_count"]) if t == s]
        return sum(r[0] for r in rows) / sum(r[1] for r in rows) if rows else 0.0

    for value, worth in (("conversions", additive), ("rate", rate)):
        got = A.shapley_values(pt, value=value).set_index("channel")["shapley"].to_dict()
        assert got == pytest.approx(_brute_shapley(pt, worth))
    sv = A.shapley_values(pt).set_index("channel")
    assert sv["share"].sum() == pytest.approx(1.0)           # efficiency
    assert sv["conversions"].sum() == pytest.approx(6.0)
    assert sv.loc["d", "shapley"] == 0.0                     # never on a converting path
    sym = pd.DataFrame({"path": ["x > y", "y > x", "x", "y"], "conversions": [2, 2, 1, 1],
                        "conversion_value": 0.0, "null_count": [1, 1, 3, 3]})
    for value in ("conversions", "rate"):
        s = A.shapley_values(sym, value=value).set_index("channel")["share"]
        assert s["x"] == pytest.approx(s["y"])                # symmetry



def test_shapley_permutation_fallback(monkeypatch):
    pt = pd.DataFrame({"path": ["a > b", "a", "b > c", "c", "d > a", "d"], "conversions": [3, 2, 1, 0, 0, 0],
                       "conversion_value": 0.0, "null_count": [1, 4, 2, 5, 3, 6]})
    exact = A.shapley_values(pt, value="rate")["shapley"].to_numpy()
    monkeypatch.setattr(A, "SHAPLEY_EXACT_MAX", 2)  # force the Monte-Carlo path on 4 channels
    mc = A.shapley_values(pt, value="rate", n_permutations=6000, seed=1)["shapley"].to_numpy()
    np.testing.assert_allclose(mc, exact, atol=0.02)
    assert not np.allclose(mc, exact, atol=1e-12)  # it really sampled


def test_agrees_with_channelattribution(small_sim):
    ca = pytest.importorskip("ChannelAttribution")
    pt = P.path_table(small_sim.events)
    ours = A.attribute(pt, n_boot=0).summary
    h = ca.heuristic_models(pt, "path", "conversions", var_value="conversion_value", sep=">",
                            flg_pro=False).set_index("channel_name")
    for ours_name, theirs in (("first_touch", "first_touch"), ("last_touch", "last_touch"), ("linear", "linear_touch")):
        mine = ours[ours.model == ours_name].set_index("channel")
        np.testing.assert_allclose(mine["conversions"], h.loc[mine.index, f"{theirs}_conversions"], rtol=1e-9)
        np.testing.assert_allclose(mine["value"], h.loc[mine.index, f"{theirs}_value"], rtol=1e-9)
    m = ca.markov_model(pt, "path", "conversions", var_value="conversion_value", var_null="null_count",
                        sep=">", verbose=False, nsim_start=int(2e6), seed=1, flg_pro=False, out_more=True)
    theirs = m["result"].set_index("channel_name")["total_conversions"]
    mine = ours[ours.model == "markov"].set_index("channel")["conversions"]
    large = mine[mine / mine.sum() >= 0.10].index
    assert len(large) >= 3
    np.testing.assert_allclose(mine[large], theirs[large], rtol=0.02)  # theirs is simulated
    re_theirs = m["removal_effects"].set_index("channel_name")["removal_effects_conversion"]
    re_mine = A.markov_removal_effects(pt).set_index("channel")["removal_effect"]
    np.testing.assert_allclose(re_mine[large], re_theirs[large], rtol=0.04)


def test_planted_channel_order(rng):
    """Channels with larger planted conversion_weight get more credit, in the planted order.

    Channels are touched with different frequencies (touch_share), so raw credit mixes
    effect and reach. Fair comparisons: the rate-based Shapley value (conversion rate
    gained by adding the channel to a coalition, which estimates the noisy-OR weight
    itself) and the Markov removal effect per journey containing the channel.
    """
    import journeylib as jl

    sim = jl.simulate_journeys(20_000, seed=11)
    truth = sim.ground_truth["channels"]["conversion_weight"]
    order = sim.ground_truth["channels"]["order_by_effect"]
    pt = P.path_table(sim.events)
    res = A.attribute(pt, models=["markov", "linear"], n_boot=0).summary
    per_reach = res[res.model == "markov"].set_index("channel")["per_1000_reached"]
    assert list(per_reach.sort_values(ascending=False).index) == order
    # raw shares are not in the planted order: reach (touch_share) confounds them
    raw = res[res.model == "markov"].set_index("channel")["share"]
    assert list(raw.sort_values(ascending=False).index) != order
    # the rate-based Shapley value estimates the noisy-OR weights themselves (noisier:
    # big coalitions are rare but weigh as much as small ones)
    sv = A.shapley_values(pt, value="rate").set_index("channel")["share"]
    assert stats.spearmanr(sv[order], [truth[c] for c in order]).statistic >= 0.8
    assert set(sv.sort_values(ascending=False).index[:2]) == set(order[:2])


def test_bootstrap_and_result_object(small_sim):
    res = A.attribute(small_sim.events, n_boot=60, seed=3)
    s = res.summary
    assert set(s["model"]) == set(A.ALL_MODELS)
    tot = s.groupby("model")[["conversions", "value", "share"]].sum()
    np.testing.assert_allclose(tot["conversions"], res.total_conversions)
    np.testing.assert_allclose(tot["value"], res.total_value)
    np.testing.assert_allclose(tot["share"], 1.0)
    assert (s["ci_low"] <= s["share"] + 1e-9).all() and (s["share"] <= s["ci_high"] + 1e-9).all()
    assert ((s["ci_high"] - s["ci_low"]) > 0).all()
    # the percentile interval of a binomial-like share is about as wide as its normal interval
    ft = s[(s.model == "first_touch")].set_index("channel")
    se = np.sqrt(ft["share"] * (1 - ft["share"]) / res.total_conversions)
    width = (ft["ci_high"] - ft["ci_low"]) / (2 * 1.96 * se)
    assert width.between(0.6, 1.6).all()
    assert "<table" in res._repr_html_() and "AttributionResult" in repr(res)
    ax = res.plot()
    assert "share" in ax.get_ylabel()


def test_attribution_errors():
    with pytest.raises(JourneyDataError, match="null_count"):
        A.as_path_table(CLASSIC.drop(columns="null_count"))
    with pytest.raises(JourneyDataError, match="conversions"):
        A.attribute(CLASSIC.assign(conversions=[-1, 1, 1, 0]))
    with pytest.raises(JourneyParameterError, match="time_decay"):
        A.attribute(CLASSIC, models=["time_decay"])
    with pytest.raises(JourneyParameterError, match="models"):
        A.attribute(CLASSIC, models=["magic"])
    with pytest.raises(JourneyParameterError, match="position_weights"):
        A.attribute(CLASSIC, position_weights=(0.7, 0.7))


def test_stage_attribution_hand_case():
    ts = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04",
                         "2024-01-01", "2024-01-02"], utc=True)
    ev = pd.DataFrame({
        "customer_id": ["1", "1", "1", "1", "2", "2"], "ts": ts,
        "event": ["landing", "view", "cart", "purchase", "landing", "view"],
        "channel": ["search", "email", "social", None, "search", "social"],
        "stage": ["awareness", "consideration", "cart", "purchase", "awareness", "consideration"],
    })
    res = A.stage_attribution(ev, models=["first_touch", "last_touch"])
    s = res.summary.set_index(["transition", "model", "channel"])["conversions"]
    # awareness -> consideration: both convert; paths search > email and search > social
    assert s[("awareness → consideration", "first_touch", "search")] == 2
    assert s[("awareness → consideration", "last_touch", "email")] == 1
    # consideration -> cart: customer 1 (email > social) converts, customer 2 (social) does not
    assert s[("consideration → cart", "last_touch", "social")] == 1
    assert s[("consideration → cart", "first_touch", "email")] == 1
    tot = res.totals.set_index("transition")
    assert tot.loc["consideration → cart", "journeys"] == 2
    assert tot.loc["cart → purchase", "conversions"] == 1
    assert res.plot(model="last_touch").get_xlabel() == "stage transition"


def test_time_decay_built_in_customer_buckets_equals_one_pass(small_sim, monkeypatch):
    kw = dict(models=["time_decay", "markov"], n_boot=0)
    whole = A.attribute(small_sim.events, **kw).summary
    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 4000)  # ~17,000 events: 5 buckets
    split = A.attribute(small_sim.events, **kw).summary
    pd.testing.assert_frame_equal(split, whole, check_exact=False, rtol=1e-9)


def test_stage_path_table_built_in_customer_buckets_equals_one_pass(small_sim, monkeypatch):
    whole = A.stage_path_table(small_sim.events, "consideration", "cart", window=30)
    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 4000)
    split = A.stage_path_table(small_sim.events, "consideration", "cart", window=30)
    key = ["path"]
    pd.testing.assert_frame_equal(split.sort_values(key).reset_index(drop=True),
                                  whole.sort_values(key).reset_index(drop=True), check_dtype=False)
    assert whole["conversions"].sum() > 100


def _brute_stage_paths(ev: pd.DataFrame, a: str, b: str, window_days=None) -> pd.DataFrame:
    """Reference: each customer's events in order, by the definition in stage_path_table."""
    win = None if window_days is None else pd.Timedelta(days=window_days)
    rows = []
    for _, g in ev.groupby("customer_id"):
        g = g.sort_values(["ts", "event", "channel"])
        starts = g.loc[g["stage"] == a, "ts"]
        if starts.empty:
            continue
        ta = starts.min()
        later = g.loc[(g["stage"] == b) & (g["ts"] >= ta), "ts"]
        if win is not None:
            later = later[later <= ta + win]
        tb = later.min() if len(later) else None
        end = tb if tb is not None else (ta + win if win is not None else g["ts"].max())
        touches = g[g["channel"].notna() & (g["ts"] >= ta) & (g["ts"] <= end)]
        if len(touches):
            rows.append({"path": " > ".join(touches["channel"]), "conv": tb is not None})
    df = pd.DataFrame(rows)
    out = df.groupby("path").agg(conversions=("conv", "sum"), null_count=("conv", lambda c: int((~c).sum())))
    return out.reset_index()


@pytest.mark.parametrize("window", [None, 5])
def test_stage_path_table_equals_a_per_customer_loop_when_stages_come_in_any_order(window):
    """Stages in random order: many customers have to_stage events both before and after
    their start (the "tangled" ones that need the exact join)."""
    rng = np.random.default_rng(11)
    n = 4000
    ev = pd.DataFrame({
        "customer_id": rng.integers(0, 400, n).astype(str),
        "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s"),
        "event": rng.choice(["view", "cart_add", "visit"], n),
        "channel": rng.choice(["search", "email", "social", None], n),
        "stage": rng.choice(["consideration", "cart", "awareness"], n),
    })
    got = A.stage_path_table(ev, "consideration", "cart", window=window)
    ref = _brute_stage_paths(ev, "consideration", "cart", window)
    got = got[["path", "conversions", "null_count"]].sort_values("path").reset_index(drop=True)
    ref = ref.sort_values("path").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)
    assert ref["conversions"].sum() > 50 and ref["null_count"].sum() > 10


def _rule_credit_by_loop(paths, model, direct="direct", position_weights=(0.4, 0.4)):
    """The per-path loop the vectorised rule_based_credit replaced (independent reference)."""
    tokens = np.split(paths._codes, paths._ends[:-1])
    C = np.zeros((len(tokens), paths.k))
    first_w, last_w = position_weights
    d = paths.channels.index(direct) if direct in paths.channels else -1
    for i, t in enumerate(tokens):
        if model == "first_touch":
            C[i, t[0]] = 1.0
        elif model == "last_touch":
            C[i, t[-1]] = 1.0
        elif model == "last_non_direct":
            nd = t[t != d]
            C[i, nd[-1] if len(nd) else t[-1]] = 1.0
        elif model == "linear":
            np.add.at(C[i], t, 1.0 / len(t))
        elif len(t) == 1:
            C[i, t[0]] = 1.0
        elif len(t) == 2:
            C[i, t[0]] += 0.5
            C[i, t[1]] += 0.5
        else:
            C[i, t[0]] += first_w
            C[i, t[-1]] += last_w
            np.add.at(C[i], t[1:-1], (1.0 - first_w - last_w) / (len(t) - 2))
    return C


@pytest.mark.parametrize("model", A.RULE_MODELS)
def test_rule_based_credit_equals_the_per_path_loop(model):
    rng = np.random.default_rng(3)
    names = ["direct", "email", "search", "social"]
    made = [" > ".join(rng.choice(names, size=rng.integers(1, 7))) for _ in range(400)]
    made += ["direct", "direct > direct", "email > direct", "direct > email > direct > email"]
    sample = A.as_path_table(P.path_table(load_dataset("sample").events))
    for table in (A.as_path_table(pd.DataFrame({"path": made, "conversions": 1, "null_count": 0})), sample):
        paths = A.ParsedPaths(table)
        for weights in ((0.4, 0.4), (0.3, 0.1)):
            got = A.rule_based_credit(paths, model, position_weights=weights)
            np.testing.assert_allclose(got, _rule_credit_by_loop(paths, model, position_weights=weights),
                                       rtol=0, atol=1e-12)
            np.testing.assert_allclose(got.sum(axis=1), 1.0)


# --------------------------------------------------------------------------- stage paths: equal to the old queries
# Issue 26: one path query per transition, touches collected with their event and label text; now one
# query for all transitions with each touch's (event, label) rank. The old queries are kept as the reference.
def _old_stage_paths(t, transitions, touch_col, win, **_):
    import contextlib

    import ibis

    from journeylib.core import engine
    from journeylib.core.time import epoch_us

    @contextlib.contextmanager
    def old_starts(t, firsts, ia, ib, to_stage, win):
        ta, lo, hi = firsts[f"_lo{ia}"], firsts[f"_lo{ib}"], firsts[f"_hi{ib}"]
        reached = lo >= ta
        if win is not None:
            reached &= lo <= ta + win
        p = firsts.filter(ta.notnull()).select(
            "_ca", _ta=ta, _tb=ibis.ifelse(reached.fill_null(False), lo, ibis.null("int64")),
            _tangled=((lo < ta) & (hi >= ta)).fill_null(False))
        starts = p.filter(~p._tangled).select("_ca", "_ta", "_tb")
        if not int(p._tangled.cast("int64").sum().execute() or 0):
            yield starts
            return
        ids = p.filter(p._tangled).select("_ca", "_ta")
        b = t.filter(t.stage == to_stage).select(_cb=t.customer_id, _e2=t._e)
        ab = ids.join(b, (ids._ca == b._cb) & (b._e2 >= ids._ta))
        if win is not None:
            ab = ab.filter(ab._e2 <= ab._ta + win)
        ab = ab.group_by(_cc="_ca").aggregate(_tb=ab._e2.min())
        exact = ids.left_join(ab, ids._ca == ab._cc).select("_ca", "_ta", "_tb")
        with engine.materialized(starts.union(exact)) as both:
            yield both

    t = t.mutate(_e=epoch_us(t))
    names = sorted({s for pair in transitions for s in pair})

    def at(s):
        return ibis.ifelse(t.stage == s, t._e, ibis.null("int64"))

    firsts = t.group_by(_ca=t.customer_id).aggregate(**{f"_lo{i}": at(s).min() for i, s in enumerate(names)},
                                                     **{f"_hi{i}": at(s).max() for i, s in enumerate(names)})
    touches = t.filter(t[touch_col].notnull()).select("customer_id", "_e", "event", label=t[touch_col].cast("string"))
    frames = []
    with engine.materialized(firsts) as firsts:
        for a, b in transitions:
            with old_starts(t, firsts, names.index(a), names.index(b), b, win) as starts:
                j = touches.join(starts, touches.customer_id == starts._ca)
                end_ok = ibis.ifelse(j._tb.isnull(), ibis.literal(True) if win is None else j._e <= j._ta + (win or 0),
                                     j._e <= j._tb)
                j = j.filter((j._e >= j._ta) & end_ok)
                per = j.group_by("customer_id").aggregate(_items=P.touch_item(j).collect(), _conv=j._tb.notnull().max())
                per = per.mutate(path=P.path_of(per._items), _c=per._conv.cast("int64"))
                pt = per.group_by("path").aggregate(conversions=per._c.sum(), null_count=(1 - per._c).sum())
                frames.append(engine.to_pandas(pt).assign(_from=a, _to=b))
    return pd.concat(frames, ignore_index=True)[["_from", "_to", "path", "conversions", "null_count"]]


def _tied_stage_events(seed: int = 3, n: int = 6000) -> pd.DataFrame:
    """Stages in any order, many touches at the same second (ties broken by event, then label), one label
    used by several events, a label holding the path separator, and touches with no channel."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": rng.integers(0, 500, n).astype(str),
        "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 20 * 24, n) * 3600, unit="s"),
        "event": rng.choice(["view", "cart_add", "visit", "open"], n),
        "channel": rng.choice(["search", "email", "social > organic", "Émail", None], n),
        "stage": rng.choice(["awareness", "consideration", "cart", "purchase"], n),
    })


@pytest.mark.parametrize("window", [None, 4])
def test_stage_path_tables_equal_the_old_queries_with_ties_and_tangles(window, monkeypatch):
    ev = _tied_stage_events()
    pairs = [("awareness", "consideration"), ("consideration", "cart"), ("cart", "purchase")]
    new = {p: A.stage_path_table(ev, *p, window=window) for p in pairs}
    new_res = A.stage_attribution(ev, pairs, models=["first_touch", "last_touch", "markov"], window=window)
    monkeypatch.setattr(A, "_stage_paths", _old_stage_paths)
    for p in pairs:
        old = A.stage_path_table(ev, *p, window=window)
        got = new[p].sort_values("path").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, old.sort_values("path").reset_index(drop=True), check_exact=True)
        assert got.attrs[P.BUILT_PATHS] and got["conversions"].sum() > 50 and got["null_count"].sum() > 10
        assert got["path"].str.contains("social > organic", regex=False).any()
    old_res = A.stage_attribution(ev, pairs, models=["first_touch", "last_touch", "markov"], window=window)
    pd.testing.assert_frame_equal(new_res.summary, old_res.summary, check_exact=True)
    pd.testing.assert_frame_equal(new_res.totals, old_res.totals, check_exact=True)
    # ties: the brute-force reference sorts each customer's events by time, event and channel
    ref = _brute_stage_paths(ev, "consideration", "cart", window)
    got = new[("consideration", "cart")][["path", "conversions", "null_count"]]
    pd.testing.assert_frame_equal(got.sort_values("path").reset_index(drop=True),
                                  ref.sort_values("path").reset_index(drop=True), check_dtype=False)


def test_stage_attribution_equals_the_old_queries_on_the_simulated_data(small_sim, monkeypatch):
    kw = dict(models=["first_touch", "linear", "markov", "shapley"], n_boot=20, seed=3)
    new = [A.stage_attribution(small_sim.events, **kw), A.stage_attribution(small_sim.events, window=30, **kw)]
    monkeypatch.setattr(A, "_stage_paths", _old_stage_paths)
    old = [A.stage_attribution(small_sim.events, **kw), A.stage_attribution(small_sim.events, window=30, **kw)]
    for a, b in zip(new, old):
        pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
        pd.testing.assert_frame_equal(a.totals, b.totals, check_exact=True)
        assert [f.text for f in a.findings] == [f.text for f in b.findings]
    assert new[0].totals["conversions"].min() > 100


def test_stage_paths_without_any_touch():
    ev = _tied_stage_events().assign(channel=None)
    table = A.stage_path_table(ev, "awareness", "consideration")
    assert table.empty and list(table.columns) == ["path", "conversions", "conversion_value", "null_count"]
