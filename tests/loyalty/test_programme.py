"""Loyalty-programme effect on simulated data with planted truth (self-selection, x1.25 rate, HR 0.7)."""
from __future__ import annotations

import dataclasses
import html

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError
from journeylib.core.result import TRUTH_COLUMNS, Check, Finding
from journeylib.loyalty.programme import LoyaltyEffect, _gamma_on_sums, _window_purchases, loyalty_effect
from journeylib.retention.churn import churn_labels
from journeylib.retention.survival import membership_effect


@pytest.fixture(scope="module")
def sim5k() -> jl.SimulatedData:
    # 5,000 customers: about 600 members, enough for a usable interval; simulates in ~0.2 s
    return jl.simulate_journeys(5000, seed=7)


@pytest.fixture(scope="module")
def effect(sim5k):
    return loyalty_effect(sim5k.events, sim5k.customers, window_days=90, seed=1)


def test_adjusted_rate_ratio_covers_planted_effect_naive_is_biased_up(effect, sim5k):
    truth = sim5k.ground_truth["loyalty"]["purchase_rate_multiplier"]
    assert truth == 1.25
    adj = effect.estimate("purchase rate", "adjusted")
    naive = effect.estimate("purchase rate", "naive")
    assert adj.ci_low < truth < adj.ci_high
    assert adj.ci_high / adj.ci_low < 1.5  # a usable interval, not a vacuous one
    # self-selection (heavy buyers join) inflates the naive member/non-member ratio
    assert naive.ci_low > adj.ci_high and naive.ci_low > truth
    within = effect.estimate("purchase rate", "within members only")
    assert within.ci_low < truth < within.ci_high
    assert effect.interval() == (adj.ci_low, adj.ci_high)


def test_spend_and_churn_effects_against_truth(effect, sim5k):
    # the simulator gives members no spend effect ...
    spend = effect.estimate("spend per order", "adjusted")
    assert spend.ci_low < 1.0 < spend.ci_high
    # ... and a churn hazard ratio of 0.7 from the join date on (time-varying)
    hr = sim5k.ground_truth["loyalty"]["hazard_ratio"]
    adj = effect.estimate("churn hazard", "adjusted")
    naive = effect.estimate("churn hazard", "naive")
    assert adj.ci_low < hr < adj.ci_high
    assert naive.ci_high < hr  # immortal-time bias: members had to survive until they joined
    truth = effect.against_truth(sim5k.ground_truth)
    assert tuple(truth.columns) == TRUTH_COLUMNS
    chk = truth.set_index("quantity")
    assert list(chk.index) == ["purchase rate (naive)", "purchase rate (adjusted)", "churn hazard (naive)",
                               "churn hazard (adjusted)"]
    assert chk.loc["purchase rate (adjusted)", "covered"] and chk.loc["churn hazard (adjusted)", "covered"]
    assert not chk.loc["purchase rate (naive)", "covered"] and not chk.loc["churn hazard (naive)", "covered"]
    assert chk.loc["churn hazard (adjusted)", "planted"] == hr
    assert chk.loc["churn hazard (adjusted)", "ci_low"] == adj.ci_low
    assert chk.loc["purchase rate (adjusted)", "estimate"] == effect.estimate("purchase rate", "adjusted").estimate
    a = effect.estimate("purchase rate", "adjusted")
    assert (f"joining multiplies the purchase rate by {a.estimate:.2f} (95% CI {a.ci_low:.2f} to {a.ci_high:.2f})"
            in effect.reading)
    # the churn sentence is the retention report's (one wording for the loyalty hazard ratio)
    assert (f"members churn about {abs(1 - adj.estimate):.0%} {'less' if adj.estimate < 1 else 'more'} than "
            f"comparable non-members (hazard ratio {adj.estimate:.2f}, {adj.ci_low:.2f} to {adj.ci_high:.2f})."
            in effect.reading)


def test_gamma_fit_on_order_sums_equals_the_order_level_fit():
    """Estimates, clustered covariance and intervals equal statsmodels' fit on every order."""
    import statsmodels.api as sm

    from journeylib.loyalty.programme import _row

    rng = np.random.default_rng(1)
    rows = []
    for c in range(300):
        member = c % 3 == 0
        for post in (0, 1):
            mu = 40 * (1.2 if member else 1) * (1.1 if post else 1) * (1.15 if member and post else 1)
            rows += [(f"c{c:03d}", float(member), float(post), rng.gamma(2.0, mu / 2)) for _ in range(rng.integers(0, 6))]
    orders = pd.DataFrame(rows, columns=["customer_id", "member", "post", "rev"])
    X = np.column_stack([orders["member"], orders["post"], orders["member"] * orders["post"]])
    ref = sm.GLM(orders["rev"].to_numpy(), sm.add_constant(X), family=sm.families.Gamma(sm.families.links.Log())).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(orders["customer_id"])[0]})
    cells = orders.groupby(["customer_id", "member", "post"], as_index=False).agg(
        orders=("rev", "size"), rev=("rev", "sum"))
    got = _gamma_on_sums(cells, np.column_stack([cells["member"], cells["post"], cells["member"] * cells["post"]]))
    assert len(cells) < len(orders) / 2
    np.testing.assert_allclose(got.params, ref.params, rtol=1e-10)
    np.testing.assert_allclose(got.cov_params(), ref.cov_params(), rtol=1e-10)
    r = _row("spend per order", "adjusted", got, 3, 0, 0, "")
    np.testing.assert_allclose([r["ci_low"], r["ci_high"]], np.exp(np.asarray(ref.conf_int())[3]), rtol=1e-10)


def test_naive_spend_ratio_is_the_ratio_of_mean_order_values(effect, sim5k):
    """Members vs non-members: with one binary covariate the Gamma fit is the ratio of means."""
    ev, cu = sim5k.events, sim5k.customers
    end = ev["ts"].max().normalize() + pd.Timedelta(days=1)
    orders = ev[(ev["event"] == "purchase") & (ev["revenue"] > 0) & (ev["ts"] < end)]
    joined = orders["customer_id"].map(cu.set_index("customer_id")["loyalty_joined_at"])
    member = joined.notna() & (joined < end)
    ratio = orders.loc[member, "revenue"].mean() / orders.loc[~member, "revenue"].mean()
    assert effect.estimate("spend per order", "naive").estimate == pytest.approx(ratio, rel=1e-9)


def test_naive_rows_equal_statsmodels_glms_on_customer_and_order_rows(effect, sim5k):
    """The naive rows come from cell sums (_ratio_fit): the same numbers as statsmodels' Poisson GLM
    with robust errors on one row per customer and its clustered Gamma GLM on every order."""
    import statsmodels.api as sm

    ev, cu = sim5k.events, sim5k.customers
    end = ev["ts"].max().normalize() + pd.Timedelta(days=1)
    joined = cu.set_index("customer_id")["loyalty_joined_at"]
    p = ev[(ev["event"] == "purchase") & (ev["ts"] < end)]
    per = p.groupby("customer_id").agg(t0=("ts", "min"), n=("ts", "size"))
    expo = (end - per["t0"]).dt.total_seconds() / 86400
    member = per.index.map(joined).notna() & (per.index.map(joined) < end)
    ref = sm.GLM((per["n"] - 1).to_numpy(float), sm.add_constant(member.astype(float)), family=sm.families.Poisson(),
                 offset=np.log(expo.to_numpy())).fit(cov_type="HC0")
    got = effect.estimate("purchase rate", "naive")
    np.testing.assert_allclose([got.estimate, got.ci_low, got.ci_high],
                               np.exp([ref.params[1], *np.asarray(ref.conf_int())[1]]), rtol=1e-9)

    orders = p[p["revenue"] > 0]
    is_member = orders["customer_id"].map(joined).pipe(lambda j: j.notna() & (j < end)).to_numpy(float)
    ref = sm.GLM(orders["revenue"].to_numpy(float), sm.add_constant(is_member),
                 family=sm.families.Gamma(sm.families.links.Log())).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(orders["customer_id"])[0]})
    got = effect.estimate("spend per order", "naive")
    np.testing.assert_allclose([got.estimate, got.ci_low, got.ci_high],
                               np.exp([ref.params[1], *np.asarray(ref.conf_int())[1]]), rtol=1e-9)



def test_adjusted_rows_equal_statsmodels_binomial_glm_on_the_windows(effect):
    """The window regression (a Newton fit on a few arrays) gives statsmodels' clustered binomial GLM."""
    import statsmodels.api as sm

    use = effect.windows[effect.windows["n"] > 0]
    ref = sm.GLM(use[["n_post", "n_pre"]].to_numpy(), sm.add_constant(use["member"].to_numpy(float)),
                 family=sm.families.Binomial(), offset=np.log(use["e_post"] / use["e_pre"]).to_numpy()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(use["customer_id"])[0]})
    got = effect.estimate("purchase rate", "adjusted")
    np.testing.assert_allclose([got.estimate, got.ci_low, got.ci_high],
                               np.exp([ref.params[1], *np.asarray(ref.conf_int())[1]]), rtol=1e-9)
    within = effect.estimate("purchase rate", "within members only")
    se = np.sqrt(np.ones(2) @ ref.cov_params() @ np.ones(2))
    np.testing.assert_allclose([within.estimate, within.ci_low, within.ci_high],
                               np.exp(ref.params.sum() + np.array([0, -1.959963984540054, 1.959963984540054]) * se),
                               rtol=1e-9)

def test_ratio_fit_needs_a_saturated_design():
    from journeylib.loyalty.programme import _ratio_fit

    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 4 cells, 3 coefficients: not saturated
    with pytest.raises(ValueError, match="saturated"):
        _ratio_fit(np.ones(4), np.ones(4), x, np.arange(4))


def test_join_dates_that_are_not_dates_are_named(sim5k):
    cu = sim5k.customers.assign(loyalty_joined_at=sim5k.customers["loyalty_joined_at"].astype(object))
    first = cu.index[cu["loyalty_joined_at"].notna()][0]
    cu.loc[first, "loyalty_joined_at"] = "joined in spring"
    cu["loyalty_joined_at"] = cu["loyalty_joined_at"].map(lambda v: v if isinstance(v, str) or pd.isna(v) else v.isoformat())
    with pytest.raises(JourneyDataError, match="loyalty_joined_at") as err:
        loyalty_effect(sim5k.events, cu)
    assert "joined in spring" in str(err.value) and "1 of" in str(err.value)


def test_result_object_and_plots(effect):
    assert "purchase rate" in repr(effect) and "<table" in effect._repr_html_()
    assert set(effect.summary["method"]) >= {"naive", "adjusted"}
    assert list(effect.summary.columns) == ["outcome", "method", "estimate", "ci_low", "ci_high", "scale",
                                            "n_members", "n_controls", "note"]
    _, (ax1, ax2) = plt.subplots(1, 2)
    assert effect.plot(ax=ax1) is ax1 and ax1.get_xscale() == "log"
    assert effect.plot_rates(ax=ax2) is ax2 and ax2.get_ylabel().startswith("repeat purchases")
    assert effect.windows["member"].sum() >= 300


def test_protocol_summary_copy_findings_and_checks(effect):
    assert isinstance(effect, jl.core.result.Result)
    s = effect.summary
    s.loc[:, "estimate"] = -1.0
    assert (effect.summary["estimate"] > 0).all()  # a copy: the result is unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        effect.window_days = 3
    f = effect.findings
    assert 1 <= len(f) <= 4 and all(isinstance(x, Finding) for x in f)
    for finding, (outcome, method) in zip(f, [("purchase rate", "adjusted"), ("purchase rate", "naive"),
                                              ("churn hazard", "adjusted")]):
        row = effect.estimate(outcome, method)
        assert (finding.value, finding.ci_low, finding.ci_high) == (row.estimate, row.ci_low, row.ci_high)
        assert f"{row.estimate:.2f}" in finding.text and f"{row.ci_low:.2f} to {row.ci_high:.2f})" in finding.text
        assert "`" not in finding.text and "**" not in finding.text and "_" not in finding.text
    # the planted effects: joining raises the rate (interval above 1) and lowers churn (below 1)
    assert f[0].action.startswith("The programme pays off") and f[2].action.startswith("Members are retained")
    checks = {c.name: c for c in effect.checks}
    assert all(isinstance(c, Check) for c in effect.checks)
    assert checks["loyalty: adjusted purchase-rate effect estimated"].status == "pass"
    a = effect.estimate("purchase rate", "adjusted")
    assert f"rate ratio {a.estimate:.2f} [{a.ci_low:.2f}, {a.ci_high:.2f}]" in \
        checks["loyalty: adjusted purchase-rate effect estimated"].detail


def test_churn_rows_are_the_retention_familys_membership_effect(effect, sim5k):
    """One churn definition: the rows equal churn_labels + membership_effect, naive and start/stop."""
    labels = churn_labels(sim5k.events, sim5k.customers, churn_after=60, start_event="purchase")
    ref = membership_effect(labels, "loyalty_joined_at", ["segment", "acquisition_channel"], sample=None, seed=1,
                            missing="drop").summary
    got = effect.summary.query("outcome == 'churn hazard'")
    np.testing.assert_array_equal(got[["estimate", "ci_low", "ci_high"]].to_numpy(),
                                  ref[["hazard_ratio", "ci_low", "ci_high"]].to_numpy())
    assert list(got["method"]) == ["naive", "adjusted"]
    assert got["n_members"].iloc[0] == labels["loyalty_joined_at"].notna().sum()
    assert "more than 60 days inactive" in got["note"].iloc[0]
    assert effect.churn.summary.equals(ref)


def test_repr_html_escapes_names_from_data(sim5k):
    hostile = "<script>alert(1)</script>"
    cu = sim5k.customers.rename(columns={"segment": hostile})
    eff = loyalty_effect(sim5k.events, cu, window_days=90, seed=1, covariates=[hostile])
    assert hostile in eff.summary["note"].iloc[-1]
    page = eff._repr_html_()
    assert hostile not in page and html.escape(hostile) in page


def test_window_counts_by_hand():
    ts = pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-05", "2024-02-10", "2024-03-20", "2024-05-01"], utc=True)
    p = jl.core.engine.to_table(pd.DataFrame({"customer_id": "a", "ts": ts, "event": "purchase", "revenue": 1.0}))
    win = pd.DataFrame({"pair": [0], "customer_id": ["a"], "lo": pd.to_datetime(["2024-01-01"], utc=True),
                        "mid": pd.to_datetime(["2024-02-05"], utc=True), "hi": pd.to_datetime(["2024-04-01"], utc=True)})
    counts, orders = _window_purchases(p.mutate(revenue=ibis.ifelse(p.ts.month() == 3, 0.0, p.revenue)),
                                       win.assign(member=True))
    got = counts.iloc[0]
    # the first purchase at lo is excluded; the one at mid is pre; (mid, hi] holds two
    assert (got.n_pre, got.n_post) == (2, 2)
    # orders are the purchases with revenue: both pre ones, and post only February's (March's is free)
    assert orders[["pair", "post", "orders", "rev"]].values.tolist() == [[0, 0.0, 2, 2.0], [0, 1.0, 1, 1.0]]


def test_errors(sim5k):
    with pytest.raises(JourneyDataError, match="loyalty_joined_at"):
        loyalty_effect(sim5k.events, sim5k.customers.drop(columns="loyalty_joined_at"))
    with pytest.raises(JourneyDataError, match="members"):
        loyalty_effect(sim5k.events, sim5k.customers.assign(loyalty_joined_at=pd.NaT))


def test_cox_sample_fits_churn_models_on_a_subset_only(effect, sim5k):
    half = len(effect.per_customer) // 2
    sub = loyalty_effect(sim5k.events, sim5k.customers, window_days=90, seed=1, cox_sample=half)
    # the purchase-rate and spend rows do not depend on the Cox sample
    pd.testing.assert_frame_equal(sub.summary.iloc[:5], effect.summary.iloc[:5])
    full, part = effect.estimate("churn hazard", "adjusted"), sub.estimate("churn hazard", "adjusted")
    assert part.ci_low < sim5k.ground_truth["loyalty"]["hazard_ratio"] < part.ci_high
    assert part.ci_high / part.ci_low > full.ci_high / full.ci_low  # a smaller sample, honestly wider
    assert f"random {half:,} of {len(effect.per_customer):,} customers" in part.note


def _brute_eligible(i, cohort, t0, last, joined, members, w):
    m = members[i]
    j = joined[m]
    day = 86_400 * 10**9
    return {c for c in range(len(cohort)) if c != m and cohort[c] == cohort[m] and t0[c] <= j - day
            and last[c] >= j + w and joined[c] > j + w}


@pytest.mark.parametrize("draws", [64, 3])  # 3 draws: most members fall back to the exact scan
def test_matched_controls_are_eligible_distinct_and_as_many_as_possible(draws):
    import numpy as np

    from journeylib.loyalty.programme import _matched_controls

    rng = np.random.default_rng(5)
    n, day, w = 3000, 86_400 * 10**9, 30 * 86_400 * 10**9
    cohort = rng.integers(0, 4, n)
    t0 = rng.integers(0, 100, n) * day
    last = t0 + rng.integers(0, 300, n) * day
    joined = np.where(rng.random(n) < 0.3, t0 + rng.integers(2, 200, n) * day, np.iinfo(np.int64).max)
    members = rng.choice(np.flatnonzero(joined < np.iinfo(np.int64).max), 150, replace=False)
    rows, is_member, mid = _matched_controls(cohort, t0, last, joined, members, w, 5, rng, draws=draws, chunk=40)
    starts = np.flatnonzero(is_member)
    assert (rows[starts] == members).all()  # members in their order, each followed by its controls
    for i, (a, b) in enumerate(zip(starts, [*starts[1:], len(rows)])):
        ctrl = rows[a + 1:b]
        elig = _brute_eligible(i, cohort, t0, last, joined, members, w)
        assert len(set(ctrl)) == len(ctrl) == min(5, len(elig))
        assert set(ctrl) <= elig
        assert (mid[a:b] == joined[members[i]]).all()


def test_matched_controls_pick_each_eligible_customer_equally_often():
    import numpy as np

    from journeylib.loyalty.programme import _matched_controls

    # one member, 10 eligible customers and 30 ineligible ones in its cohort; 5 picked per run
    day = 86_400 * 10**9
    t0 = np.r_[0, np.zeros(10), np.full(30, 500)].astype(np.int64) * day  # the 30 start too late
    last = np.full(41, 1000 * day)
    joined = np.r_[100 * day, np.full(40, np.iinfo(np.int64).max)]
    picks = np.zeros(41)
    for seed in range(2000):
        rows, is_member, _ = _matched_controls(np.zeros(41, dtype=np.int64), t0, last, joined, np.array([0]),
                                               30 * day, 5, np.random.default_rng(seed))
        picks[rows[~is_member]] += 1
    assert picks[11:].sum() == 0 and picks[0] == 0
    # each of the 10 is picked with probability 1/2: 1,000 of 2,000 runs, sd 22
    assert np.abs(picks[1:11] - 1000).max() < 100


# ---- the exact path's sweep per cohort returns what the member-by-member scan returned
def _old_matched_controls(cohort, t0, last, joined, members, window_ns, k, rng, draws=64, chunk=50_000):
    """_matched_controls before the sweep: every exact member's eligible set filtered and sorted alone."""
    day = 86_400 * 10**9
    ready = np.minimum(last, joined - 1)
    order = np.argsort(cohort, kind="stable")
    start = np.searchsorted(cohort[order], np.arange(cohort.max() + 1))
    size = np.bincount(cohort, minlength=len(start))
    j = joined[members]

    def eligible(rows, m):
        return (t0[rows] <= (j[m] - day)[:, None]) & (ready[rows] >= (j[m] + window_ns)[:, None]) \
            & (rows != members[m][:, None])

    owner, ctrl, exact = [], [], []
    for lo in range(0, len(members), chunk):
        m = np.arange(lo, min(lo + chunk, len(members)))
        c = cohort[members[m]]
        rows = order[start[c][:, None] + (rng.random((len(m), draws)) * size[c][:, None]).astype(np.int64)]
        ok = eligible(rows, m)
        val = np.where(ok, rows, -1)
        by_val = np.argsort(val, axis=1, kind="stable")
        srt = np.take_along_axis(val, by_val, axis=1)
        new = np.ones_like(ok)
        new[:, 1:] = srt[:, 1:] != srt[:, :-1]
        first = np.zeros_like(ok)
        np.put_along_axis(first, by_val, new, axis=1)
        ok &= first
        take = ok & (np.cumsum(ok, axis=1) <= k)
        hit = take.sum(axis=1) == k
        i, col = np.nonzero(take & hit[:, None])
        owner.append(m[i])
        ctrl.append(rows[i, col])
        exact.extend(m[~hit])
    cohorts = {}
    for i in exact:
        c = cohort[members[i]]
        if c not in cohorts:
            rows = order[start[c]:start[c] + size[c]]
            by_ready = np.argsort(ready[rows], kind="stable")
            cohorts[c] = rows, t0[rows], by_ready, ready[rows][by_ready]
        rows, t0_c, by_ready, ready_sorted = cohorts[c]
        late = by_ready[np.searchsorted(ready_sorted, j[i] + window_ns, side="left"):]
        cand = rows[np.sort(late[t0_c[late] <= j[i] - day])]
        cand = cand[cand != members[i]]
        if len(cand):
            ctrl.append(cand[rng.choice(len(cand), min(k, len(cand)), replace=False)])
            owner.append(np.full(len(ctrl[-1]), i))
    owner = np.concatenate([np.arange(len(members)), *owner])
    rows = np.concatenate([members, *ctrl]).astype(np.int64)
    is_member = np.arange(len(owner)) < len(members)
    seq = np.lexsort((~is_member, owner))
    return rows[seq], is_member[seq], j[owner[seq]]


@pytest.mark.parametrize("seed, k, draws, window_days, chunk", [
    (0, 5, 3, 30, 40),     # 3 draws < k: every member on the exact path
    (1, 3, 64, 30, 1000),  # mostly sampled, the few with sparse cohorts exact
    (2, 2, 12, 60, 17),    # a mix, in several chunks
    (3, 40, 16, 30, 50),   # k larger than most eligible sets
    (4, 5, 4, -3, 64),     # a negative window: a member is in its own tail and must be skipped
])
def test_matched_controls_equal_the_member_by_member_scan(seed, k, draws, window_days, chunk):
    from journeylib.loyalty.programme import _matched_controls

    g = np.random.default_rng(seed)
    n, day, nat = 4000, 86_400 * 10**9, np.iinfo(np.int64).max
    cohort = g.choice(6, n, p=[0.4, 0.3, 0.2, 0.07, 0.02, 0.01])  # the last cohorts have few customers
    # whole days, so joins and ``ready`` tie; t0 spread over 60 days, so the t0 bound cuts the tail
    t0 = (cohort * 20 + g.integers(0, 60, n)) * day
    last = t0 + g.integers(0, 200, n) * day
    join = g.random(n) < 0.3
    joined = np.where(join, t0 + g.integers(1, 250, n) * day, nat)
    joined[g.random(n) < 0.05] = nat - 1  # joined later than any window (not a member)
    members = g.choice(np.flatnonzero(join & (joined < nat - 1)), 300, replace=False)
    args = (cohort, t0, last, joined, members, window_days * day, k)
    rng_old, rng_new = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
    old = _old_matched_controls(*args, rng_old, draws=draws, chunk=chunk)
    new = _matched_controls(*args, rng_new, draws=draws, chunk=chunk)
    for a, b in zip(old, new):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert rng_old.random() == rng_new.random()  # the generator consumed identically
    starts = np.flatnonzero(old[1])
    n_ctrl = np.diff([*starts, len(old[0])]) - 1
    assert (n_ctrl < k).any() and (n_ctrl == 0).any()  # members short of controls, some with none
    assert (n_ctrl >= min(k, draws)).any()


# ---- issue 26: the sampled churn fit and the linear-time Schoenfeld residuals equal the old code
def _old_churn_effect(events, customers, covariates, strata, cox_sample, seed):
    """The code churn_effect ran before issue 26: labels for every customer, cox draws the sample."""
    labels = churn_labels(events, customers, churn_after=60, start_event="purchase")
    ref = membership_effect(labels, "loyalty_joined_at", covariates, strata=strata, sample=cox_sample, seed=seed,
                            missing="drop")
    return labels, ref


@pytest.mark.parametrize("covariates, strata, cox_sample", [
    (["segment", "acquisition_channel"], [], 600),    # the notebook's covariates, sampled
    (["segment", "score"], [], 700),                  # a numeric covariate with missing values: dropped first
    (["score", "acquisition_channel"], ["tier"], 500),  # and strata
    (["segment"], [], 100_000),                       # a sample larger than the data: every customer
])
def test_churn_effect_on_the_cox_sample_equals_labelling_everyone(sim5k, covariates, strata, cox_sample):
    from journeylib.loyalty.programme import churn_effect

    cu = sim5k.customers.copy()
    rng = np.random.default_rng(3)
    cu["score"] = np.where(rng.random(len(cu)) < 0.1, np.nan, rng.normal(size=len(cu)))
    cu["tier"] = rng.integers(0, 3, len(cu))
    rows, got = churn_effect(sim5k.events, cu, covariates=covariates, strata=strata, cox_sample=cox_sample, seed=4)
    labels, ref = _old_churn_effect(sim5k.events, cu, covariates, strata, cox_sample, 4)
    pd.testing.assert_frame_equal(got.summary, ref.summary, check_exact=True)
    for name in ("naive", "start_stop"):
        a, b = getattr(got, name), getattr(ref, name)
        pd.testing.assert_frame_equal(a.terms, b.terms, check_exact=True)
        assert (a.n, a.events, a.n_available, a.missing, a.reference, a.concordance, a.note) == \
            (b.n, b.events, b.n_available, b.missing, b.reference, b.concordance, b.note)
        if b.ph_test is not None:
            pd.testing.assert_frame_equal(a.ph_test, b.ph_test, check_exact=True)
    assert got.checks == ref.checks and got.findings == ref.findings
    member = labels["loyalty_joined_at"].notna()
    assert (rows[0]["n_members"], rows[0]["n_controls"]) == (member.sum(), (~member).sum())
    assert (f"random {cox_sample:,} of {len(labels):,} customers" in rows[0]["note"]) == (len(labels) > cox_sample)
    if "score" in covariates:
        assert got.naive.missing == {"score": int(labels["score"].isna().sum())} and got.naive.missing["score"] > 0


def test_members_without_purchases_before_joining_is_a_clear_error(sim5k):
    """No member bought in the window before joining: the ratio has no finite estimate (this used to end in
    a raw ValueError of the spend model)."""
    ev, cu = sim5k.events, sim5k.customers
    joined = ev["customer_id"].map(cu.set_index("customer_id")["loyalty_joined_at"])
    before = (ev["event"] == "purchase") & joined.notna() & (ev["ts"] > joined - pd.Timedelta(days=90)) \
        & (ev["ts"] <= joined)
    with pytest.raises(JourneyDataError, match="members made no repeat purchases in the 90 days before"):
        loyalty_effect(ev[~before], cu, window_days=90, seed=1)


def test_members_without_priced_orders_before_joining_leave_out_the_spend_row(sim5k, effect):
    """Members bought before joining, but nothing with revenue: the spend difference-in-differences has an
    empty cell, so its row is left out; the purchase-rate rows stand."""
    ev, cu = sim5k.events, sim5k.customers
    joined = ev["customer_id"].map(cu.set_index("customer_id")["loyalty_joined_at"])
    before = (ev["event"] == "purchase") & joined.notna() & (ev["ts"] > joined - pd.Timedelta(days=90)) \
        & (ev["ts"] <= joined)
    got = loyalty_effect(ev.assign(revenue=ev["revenue"].mask(before, 0.0)), cu, window_days=90, seed=1)
    rows = list(zip(got.summary["outcome"], got.summary["method"]))
    assert ("spend per order", "adjusted") not in rows and ("spend per order", "naive") in rows
    pd.testing.assert_series_equal(got.estimate("purchase rate", "adjusted"),
                                   effect.estimate("purchase rate", "adjusted"))
