"""Loyalty-programme effect, naive and adjusted side by side.

Members self-select: heavy buyers join more and earlier, so "members buy more than
non-members" mixes who joins with what joining does. This module reports:

**Purchase frequency** (rate ratio, post-join vs what the same customer would have
done without joining):

* *naive*: purchases per day since the first purchase, members vs non-members
  (Poisson GLM with an exposure offset, robust errors). Biased upward by
  self-selection (and by members surviving longer).
* *adjusted*: a difference-in-differences of rates around the join date. For every
  member who joined at ``J`` and is still active after ``J + window``, the repeat
  purchases in the pre window ``(max(first purchase, J - window), J]`` and the post
  window ``(J, J + window]`` are counted. Up to ``controls_per_member`` matched
  non-members (same acquisition month, not joined by ``J + window``, active after
  ``J + window``) get the same calendar windows. Conditioning each customer's
  post count on his pre + post count removes his own purchase rate (the
  conditional-Poisson / fixed-effects argument: ``post | total ~ Binomial(total,
  theta E2 / (E1 + theta E2))``), so self-selection on the purchase rate cancels;
  the controls remove calendar and tenure effects. A binomial GLM with offset
  ``log(E2 / E1)`` and customer-clustered errors gives ``theta`` (members) and the
  control ratio; their ratio is the adjusted effect.

**Spend per order**: naive members vs non-members ratio of mean order value, and
the same difference-in-differences on order values in the windows (Gamma GLM, log
link, customer-clustered errors).

**Retention**: the one churn definition of the retention family
(:func:`journeylib.retention.churn.churn_labels`: churn = a gap of more than
``churn_after`` days, clock started at the first purchase, censored at the last
moment churn could have been seen) and its membership model
(:func:`journeylib.retention.survival.membership_effect`): a naive Cox model with
*ever a member* as a baseline covariate (immortal-time bias: members had to survive
to join) vs a start/stop Cox model with membership switching on at the join date,
the honest comparison. Both are adjusted for ``covariates``, exactly as report 02
computes them, so the two reports state the same hazard ratio.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, NamedTuple, Sequence

import ibis
import numpy as np
import pandas as pd

from ..core import engine
from ..core.checks import no_event_error
from ..core.errors import JourneyDataError, JourneyParameterError, data_error
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import OUTBOUND_EVENTS, PURCHASE_EVENT
from ..core.time import DAY_SECONDS, epoch_us, from_epoch_us, series_to_utc, to_epoch_us, utc_literal
from ..core.time import observation_end as observation_end_of
from ..retention.churn import churn_expr, churn_labels, customer_table, first_order_value, require_columns
from ..retention.survival import membership_effect, membership_sentence
from . import plots
from .cohorts import prepare_events, whole_day_end

Z95 = NormalDist().inv_cdf(0.975)

DAY = float(DAY_SECONDS)

COVARIATES = ("segment", "acquisition_channel")
"""Default adjustment of the churn models: the customers columns report 02 uses."""


@dataclass(frozen=True, repr=False)
class LoyaltyEffect(Result):
    """Naive and adjusted loyalty-programme effects with 95% intervals.

    ``table`` (also ``summary``) has one row per (outcome, method): ``outcome, method,
    estimate, ci_low, ci_high, scale, n_members, n_controls, note``. ``churn`` is the
    retention family's :class:`journeylib.retention.survival.MembershipEffect` the
    churn-hazard rows come from.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> result = jl.loyalty_effect(ds.events, ds.customers)
    >>> result.summary[["outcome", "method", "estimate", "ci_low", "ci_high"]].round(2).head(2)
             outcome    method  estimate  ci_low  ci_high
    0  purchase rate     naive      3.88    3.44     4.39
    1  purchase rate  adjusted      1.23    1.08     1.40
    """

    table: pd.DataFrame
    windows: pd.DataFrame
    per_customer: pd.DataFrame
    window_days: int
    churn: Any = None
    churn_checks: tuple[Check, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def estimate(self, outcome: str = "purchase rate", method: str = "adjusted") -> pd.Series:
        """One row of the table as a Series (``estimate, ci_low, ci_high`` ...)."""
        t = self.table
        row = t[(t["outcome"] == outcome) & (t["method"] == method)]
        if row.empty:
            raise JourneyParameterError(f"no estimate for outcome={outcome!r}, method={method!r}; "
                                        f"available: {list(zip(t.outcome, t.method))}")
        return row.iloc[0].copy()

    def interval(self, outcome: str = "purchase rate", method: str = "adjusted") -> tuple[float, float]:
        """``(ci_low, ci_high)`` of one row of the table (95%)."""
        r = self.estimate(outcome, method)
        return float(r["ci_low"]), float(r["ci_high"])

    def _churn_row(self) -> pd.Series | None:
        t = self.table
        churn = t[(t["outcome"] == "churn hazard") & (t["method"] == "adjusted")]
        return churn.iloc[0] if len(churn) else None

    @property
    def reading(self) -> str:
        """Naive vs adjusted purchase-rate effect (and the churn hazard ratio) in words."""
        n, a = self.estimate("purchase rate", "naive"), self.estimate("purchase rate", "adjusted")
        text = (f"Naively, members buy {n['estimate']:.2f}x as often as non-members. Controlling for who joins, "
                f"joining multiplies the purchase rate by {a['estimate']:.2f} (95% CI {a['ci_low']:.2f} to "
                f"{a['ci_high']:.2f}).")
        c = self._churn_row()
        if c is not None:
            text += " " + membership_sentence(float(c["estimate"]), float(c["ci_low"]), float(c["ci_high"]))
        return text

    @property
    def findings(self) -> tuple[Finding, ...]:
        """What joining does to the purchase rate and to churn, and how much the naive view overstates it."""
        n, a = self.estimate("purchase rate", "naive"), self.estimate("purchase rate", "adjusted")
        est, lo, hi = float(a["estimate"]), float(a["ci_low"]), float(a["ci_high"])
        if lo > 1:
            action = "The programme pays off in purchases: keep recruiting members."
        elif hi < 1:
            action = "Joining lowers purchasing: review what the programme asks of members."
        else:
            action = ""
        out = [Finding(f"Joining the loyalty programme changes how often a customer buys by a factor of {est:.2f} "
                       f"({lo:.2f} to {hi:.2f}), comparing each member with himself before joining and with "
                       "similar non-members.", est, lo, hi, action=action),
               Finding(f"A plain comparison would say members buy {float(n['estimate']):.2f} times as often "
                       f"({float(n['ci_low']):.2f} to {float(n['ci_high']):.2f}): mostly because heavy buyers "
                       "are the ones who join.", float(n["estimate"]), float(n["ci_low"]), float(n["ci_high"]),
                       action="Do not quote the plain comparison as the programme's effect.")]
        c = self._churn_row()
        if c is not None:
            hr, clo, chi = float(c["estimate"]), float(c["ci_low"]), float(c["ci_high"])
            out.append(Finding(membership_sentence(hr, clo, chi), hr, clo, chi,
                               action="Members are retained better: invite customers at risk of lapsing."
                               if chi < 1 else ""))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        a = self.estimate("purchase rate", "adjusted")
        return (Check("loyalty: adjusted purchase-rate effect estimated", "pass",
                      f"rate ratio {a.estimate:.2f} [{a.ci_low:.2f}, {a.ci_high:.2f}] from {int(a.n_members)} "
                      "members"), *self.churn_checks)

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Planted vs estimated effects on simulated data (:func:`journeylib.core.result.truth_table`).

        ``quantity`` is ``"<outcome> (<method>)"`` for the naive and adjusted purchase-rate
        and churn-hazard rows. ``truth``: :func:`journeylib.simulate.simulate_journeys`'s ground
        truth. The naive rows are expected to miss (selection into the programme,
        immortal time).
        """
        planted = (truth or {}).get("loyalty")
        if not planted:
            raise JourneyParameterError("truth: expected a simulator's ground truth with a 'loyalty' part")
        values = {"purchase rate": planted["purchase_rate_multiplier"], "churn hazard": planted["hazard_ratio"]}
        t = self.table[self.table["outcome"].isin(list(values)) & self.table["method"].isin(["naive", "adjusted"])]
        return truth_table([(f"{r.outcome} ({r.method})", float(values[r.outcome]), float(r.estimate),
                             float(r.ci_low), float(r.ci_high)) for r in t.itertuples()])

    def _float_format(self) -> str:
        return "{:.3f}"

    def plot(self, ax=None):
        """Forest plot: naive vs adjusted estimates per outcome, with the no-effect line."""
        return plots.plot_loyalty_effect(self, ax=ax)

    def plot_rates(self, ax=None):
        """Purchases per 30 days in the pre and post windows, members vs matched controls."""
        return plots.plot_loyalty_rates(self, ax=ax)

    def __repr__(self) -> str:
        lines = [f"LoyaltyEffect(window_days={self.window_days})"]
        for _, r in self.table.iterrows():
            lines.append(f"  {r['outcome']:<16} {r['method']:<20} {r['estimate']:.3f} "
                         f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] ({r['scale']})")
        return "\n".join(lines)


def _customers_frame(customers: Any, joined_col: str) -> pd.DataFrame:
    t = engine.to_table(customers, table="customers")
    if "customer_id" not in t.columns or joined_col not in t.columns:
        raise JourneyDataError(f"customers: expected columns 'customer_id' and '{joined_col}' "
                               f"(join date, missing for non-members); got {list(t.columns)}")
    # members only: a missing join date needs no parsing, and at 10^8 events the whole
    # customer table as pandas strings was 2.3 GB
    df = engine.to_pandas(t.filter(t[joined_col].notnull()).select("customer_id", joined_col))
    df["customer_id"] = df["customer_id"].astype(str)
    j = df[joined_col]
    if not pd.api.types.is_datetime64_any_dtype(j):
        parsed = pd.to_datetime(j, utc=True, errors="coerce", format="ISO8601")
        bad = j.notna() & parsed.isna()
        if bad.any():
            raise data_error(joined_col, int(bad.sum()), int(t.count().to_pyarrow().as_py()),
                             "a timestamp or missing (non-member)",
                             df[bad], table="customers")
        j = parsed
    df["joined"] = series_to_utc(j)
    return df[["customer_id", "joined"]]


def loyalty_effect(
    events: Any,
    customers: Any,
    *,
    joined_col: str = "loyalty_joined_at",
    window_days: int = 90,
    controls_per_member: int = 5,
    churn_after: int = 60,
    covariates: Sequence[str] = COVARIATES,
    strata: Sequence[str] | None = None,
    observation_end: Any = None,
    purchase_event: str = PURCHASE_EVENT,
    cox_sample: int | None = None,
    seed: int = 0,
) -> LoyaltyEffect:
    """Estimate the loyalty-programme effect on purchase rate, spend and retention.

    Parameters
    ----------
    events, customers
        Event log and customer table with the join timestamp (``joined_col``,
        missing for non-members).
    joined_col
        Column of ``customers`` with the join date.
    window_days
        Length of the pre and post windows around the join date.
    controls_per_member
        Matched non-members per member (same acquisition month, same calendar windows).
    churn_after
        Days of inactivity that count as churn (a gap longer than this): the churn
        rule of :func:`journeylib.retention.churn.churn_labels`, clock started at the
        first ``purchase_event``.
    covariates
        Columns of ``customers`` (or ``"first_order_value"``) the churn models adjust
        for; the default is report 02's. Text columns are one-hot coded.
    strata
        Columns to stratify the churn models on (see :func:`journeylib.retention.survival.cox`).
    observation_end
        Data end. Default: the end of the last day with data for the purchase and spend
        windows, and the last timestamp for the churn labels (as ``churn_labels``).
    purchase_event
        Name of the purchase event.
    cox_sample
        Fit the two churn-hazard Cox models on a seeded random sample of this many
        customers (``None``: all); see :func:`journeylib.retention.survival.cox`. Lifelines'
        partial likelihood costs seconds per 10^5 customers and minutes per 10^6.
    seed
        Seed of the random choice of controls and of the Cox sample.

    Returns
    -------
    LoyaltyEffect
        Naive and adjusted effects per outcome (``summary``), findings and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> result = jl.loyalty_effect(ds.events, ds.customers, window_days=90)
    >>> print(result.findings[0].text)
    Joining the loyalty programme changes how often a customer buys by a factor of 1.23 (1.08 to 1.40), comparing each member with himself before joining and with similar non-members.
    """
    if window_days <= 0 or controls_per_member < 1 or churn_after <= 0:
        raise JourneyParameterError("window_days, controls_per_member and churn_after must be positive")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    t = prepare_events(events)
    end = whole_day_end(t, observation_end)
    t = t.filter(t.ts < utc_literal(end))
    cu = _customers_frame(customers, joined_col)

    # ---- engine half: per-customer first purchase, purchases, revenue, last own activity
    p = t.filter(t.event == purchase_event)
    own = t.filter(~t.event.isin(list(OUTBOUND_EVENTS)))
    rev = p.revenue.cast("float64")
    paid = (rev.notnull() & (rev > 0)).ifelse(1, 0)
    per = p.group_by("customer_id").aggregate(t0=p.ts.min(), purchases=p.count(), revenue=rev.fill_null(0.0).sum(),
                                              orders=paid.sum(), order_revenue=(paid * rev.fill_null(0.0)).sum())
    last = own.group_by("customer_id").aggregate(last_activity=own.ts.max())
    # engines return rows in any order: sort so the random choice of controls (and every
    # floating-point sum downstream) is the same on DuckDB, Spark or any other backend
    per = engine.to_pandas(per.join(last, "customer_id")).sort_values("customer_id", kind="mergesort")
    per = per.reset_index(drop=True)
    if per.empty:
        raise no_event_error(t, purchase_event, "purchase_event",
                             f"events: no '{purchase_event}' events; nothing to compare")
    for c in ("t0", "last_activity"):
        per[c] = series_to_utc(per[c])
    per = per.merge(cu, on="customer_id", how="left")
    per["member"] = per["joined"].notna() & (per["joined"] < end)
    per.loc[~per["member"], "joined"] = pd.NaT
    n_members = int(per["member"].sum())
    if n_members < 10:
        raise JourneyDataError(f"customers: only {n_members} purchasers have '{joined_col}' set; "
                               "expected at least 10 members to estimate an effect")

    rows = []
    # ---- naive purchase rate: repeat purchases per day since the first purchase
    expo = (end - per["t0"]).dt.total_seconds() / DAY
    ok = expo > 0
    fit = _ratio_fit((per.loc[ok, "purchases"] - 1).to_numpy(float), expo[ok].to_numpy(),
                     per.loc[ok, "member"].to_numpy(float)[:, None], np.arange(int(ok.sum())))
    rows.append(_row("purchase rate", "naive", fit, 1, n_members, int((~per["member"]).sum()),
                     "repeat purchases per day since first purchase, members vs non-members"))

    # ---- windows around the join date, members and matched controls
    W = pd.Timedelta(days=window_days)
    mem = per[per["member"] & (per["joined"] + W <= end) & (per["last_activity"] >= per["joined"] + W)
              & (per["joined"] - per["t0"] >= pd.Timedelta(days=1))]
    ns = lambda s: s.to_numpy("datetime64[ns]").astype("int64")
    nat = np.iinfo(np.int64).max  # never joined: later than any window end
    joined_ns = np.where(per["joined"].isna(), nat, ns(per["joined"].fillna(end)))
    picked, is_member, mid_ns = _matched_controls(
        pd.factorize(per["t0"].dt.year * 12 + per["t0"].dt.month)[0], ns(per["t0"]), ns(per["last_activity"]), joined_ns,
        mem.index.to_numpy(), W.value, controls_per_member, np.random.default_rng(seed))
    win = pd.DataFrame({"customer_id": per["customer_id"].to_numpy()[picked],
                        "member": is_member,
                        "mid": pd.to_datetime(mid_ns, utc=True),
                        "t0": per["t0"].iloc[picked].reset_index(drop=True)})
    if win["member"].sum() < 10 or (~win["member"]).sum() < 10:
        raise JourneyDataError("too few members (or matched non-members) active through "
                               f"{window_days} days after joining; try a shorter window_days")
    win["pair"] = np.arange(len(win))
    win["lo"] = win["t0"].where(win["t0"] > win["mid"] - W, win["mid"] - W)
    win["hi"] = win["mid"] + W
    win["e_pre"] = (win["mid"] - win["lo"]).dt.total_seconds() / DAY
    win["e_post"] = float(window_days)
    counts, spend = _window_purchases(p, win)
    for col in ("n_pre", "n_post"):  # pairs without purchases in their windows count zero
        win[col] = np.zeros(len(win))
        win.loc[counts["pair"].to_numpy(), col] = counts[col].to_numpy(float)
    win["n"] = win["n_pre"] + win["n_post"]
    use = win[win["n"] > 0]
    for flag, who in ((True, "members"), (False, "matched non-members")):
        bought = use.loc[use["member"] == flag, ["n_pre", "n_post"]].sum()
        if not (bought > 0).all():  # a rate of zero on one side: the ratio has no finite estimate
            side = "before" if bought["n_pre"] == 0 else "after"
            raise JourneyDataError(f"the {who} made no repeat purchases in the {window_days} days {side} the join "
                                   "dates, so the change in their purchase rate cannot be estimated; try a longer "
                                   "window_days or check the purchase events and join dates")
    fit_w = _binomial_fit(use["n_post"].to_numpy(), use["n"].to_numpy(), use["member"].to_numpy(float)[:, None],
                          np.log(use["e_post"] / use["e_pre"]).to_numpy(), pd.factorize(use["customer_id"])[0])
    nm, nc = int(win["member"].sum()), int(win.drop_duplicates("customer_id")["member"].eq(False).sum())
    rows.append(_row("purchase rate", "adjusted", fit_w, 1, nm, nc,
                     f"difference-in-differences of rates {window_days} days before/after joining vs matched "
                     "non-members in the same windows, each customer's own rate conditioned out"))
    within = _combo(fit_w, np.array([1.0, 1.0]))
    rows.append({"outcome": "purchase rate", "method": "within members only", **within, "scale": "rate ratio",
                 "n_members": nm, "n_controls": 0,
                 "note": "post/pre rate of members alone (no calendar or tenure control)"})

    # ---- spend per order (Gamma GLMs on order sums: see _ratio_fit)
    per_order = per[per["orders"] > 0]
    if len(per_order) and per_order["member"].nunique() == 2:
        fit_s = _gamma_on_sums(per_order, per_order["member"].to_numpy(float)[:, None])
        rows.append(_row("spend per order", "naive", fit_s, 1, n_members, int((~per["member"]).sum()),
                         "mean order value, members vs non-members", scale="ratio of means"))
    # every (member, period) cell needs orders with revenue: without one the model has no estimate
    if len(spend[["member", "post"]].drop_duplicates()) == 4:
        Xs = np.column_stack([spend["member"], spend["post"], spend["member"] * spend["post"]]).astype(float)
        fit_sd = _gamma_on_sums(spend, Xs)
        rows.append(_row("spend per order", "adjusted", fit_sd, 3, nm, nc,
                         "difference-in-differences of mean order value in the same windows",
                         scale="ratio of means"))

    # ---- retention: the retention family's churn labels and membership model (as report 02)
    churn_rows, churn = churn_effect(events, customers, joined_col=joined_col, churn_after=churn_after,
                                     covariates=covariates, strata=strata, observation_end=observation_end,
                                     purchase_event=purchase_event, cox_sample=cox_sample, seed=seed)
    rows.extend(churn_rows)
    table = pd.DataFrame(rows)[["outcome", "method", "estimate", "ci_low", "ci_high", "scale", "n_members",
                                "n_controls", "note"]]
    return LoyaltyEffect(table, win.drop(columns=["t0"]), per, int(window_days), churn,
                         tuple(getattr(churn.start_stop, "checks", ()) or ()))


def _matched_controls(cohort: np.ndarray, t0: np.ndarray, last: np.ndarray, joined: np.ndarray,
                      members: np.ndarray, window_ns: int, k: int, rng: np.random.Generator,
                      draws: int = 64, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``k`` random controls per member, drawn uniformly from the eligible non-members.

    Arrays are per customer (row position): acquisition-cohort code and times in ns.
    Customer ``c`` is eligible for a member who joined at ``j`` when it is in the member's
    cohort, bought first at least a day before ``j``, was still active at ``j + window``
    and had not joined by then. Rather than scanning the whole cohort for each member
    (members x cohort size: quadratic in the data), each member gets ``draws`` uniform
    draws from its cohort; the first ``k`` distinct eligible ones are a uniform random
    subset of the eligible set. Members with fewer than ``k`` hits are matched exactly on
    the full cohort, in one sweep per cohort from its latest join down. Returns the rows
    (each member followed by its controls), a member flag per row and the member's join
    time per row.
    """
    day = 86_400 * 10**9
    ready = np.minimum(last, joined - 1)  # eligible for window end h iff ready >= h
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
        # keep each customer's first eligible draw only (draws are with replacement)
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
        i, col = np.nonzero(take & hit[:, None])  # by member, then in draw order
        owner.append(m[i])
        ctrl.append(rows[i, col])
        exact.extend(m[~hit])
    # Too few hits: the eligible set from the whole cohort, exactly. Customers still ready at j + window
    # are a tail of the cohort sorted by ``ready``; sweeping a cohort's members from the latest join
    # down, that tail only grows and the t0 bound only falls, so the set is kept sorted (ascending rows:
    # the cohort's order, as a full scan gives it) by inserting and dropping customers, not sorted per member.
    exact = np.asarray(exact, dtype=np.int64)
    me = members[exact]
    ex_c = cohort[me]
    own = (ready[me] >= j[exact] + window_ns) & (t0[me] <= j[exact] - day)  # in its own set: window_ns < 0
    n_elig, sweeps = -own.astype(np.int64), []
    for c in np.unique(ex_c):
        rows = order[start[c]:start[c] + size[c]]
        rows_r = rows[np.argsort(ready[rows], kind="stable")]
        t0_r = t0[rows_r]
        at = np.flatnonzero(ex_c == c)
        at = at[np.argsort(j[exact[at]], kind="stable")[::-1]]  # latest join first
        tails = np.searchsorted(ready[rows_r], j[exact[at]] + window_ns, side="left")
        for a, s in zip(at, tails):
            n_elig[a] += np.count_nonzero(t0_r[s:] <= j[exact[a]] - day)
        sweeps.append((rows_r, t0_r, at, tails))
    # the draws depend on the set sizes only: made in the order of ``exact``, as a member-by-member scan does
    picks = [rng.choice(n, min(k, n), replace=False) if n else None for n in n_elig]
    for rows_r, t0_r, at, tails in sweeps:
        elig, prev, top = np.empty(0, dtype=rows_r.dtype), len(rows_r), np.iinfo(np.int64).min
        for a, s in zip(at, tails):
            bound = j[exact[a]] - day
            new = np.sort(rows_r[s:prev][t0_r[s:prev] <= bound])
            elig, prev = np.insert(elig, np.searchsorted(elig, new), new), s
            top = t0[new].max(initial=top)  # an upper bound of t0 over elig
            if top > bound:
                elig, top = elig[t0[elig] <= bound], bound
            if picks[a] is not None:
                p = picks[a]
                if own[a]:  # skip the member itself
                    p = p + (p >= np.searchsorted(elig, me[a]))
                ctrl.append(elig[p])
                owner.append(np.full(len(p), exact[a]))
    owner = np.concatenate([np.arange(len(members)), *owner])
    rows = np.concatenate([members, *ctrl]).astype(np.int64)
    is_member = np.arange(len(owner)) < len(members)
    seq = np.lexsort((~is_member, owner))  # each member first, then its controls
    return rows[seq], is_member[seq], j[owner[seq]]


def _row(outcome, method, fit, k, n_m, n_c, note, scale="rate ratio"):
    """Row of the summary: exp of coefficient ``k`` with its normal interval from ``fit.cov_params()``."""
    est = _combo(fit, np.eye(len(fit.params))[k])
    return {"outcome": outcome, "method": method, **est, "scale": scale, "n_members": n_m, "n_controls": n_c,
            "note": note}


def _combo(fit, c):
    """exp(c'b) with the 95% normal interval (as statsmodels' ``conf_int``)."""
    b = float(c @ np.asarray(fit.params))
    se = float(np.sqrt(c @ np.asarray(fit.cov_params()) @ c))
    return {"estimate": float(np.exp(b)), "ci_low": float(np.exp(b - Z95 * se)),
            "ci_high": float(np.exp(b + Z95 * se))}


def _window_table(win: pd.DataFrame) -> ibis.Table:
    w = win[["pair", "customer_id", "lo", "mid", "hi"]].copy()
    return ibis.memtable(w)


def _window_purchases(p: ibis.Table, win: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each pair's purchases strictly after ``lo`` (so the first purchase is excluded) up to ``mid`` (pre)
    and ``hi`` (post), from one engine join.

    Returns ``counts`` (``pair, n_pre, n_post``: every purchase) and ``orders`` (``pair, post, orders,
    rev, customer_id, member``: those with revenue > 0, summed; one row per pair and period with one).
    """
    j = p.join(_window_table(win), "customer_id")
    j = j.filter((j.ts > j.lo.cast("timestamp('UTC')")) & (j.ts <= j.hi.cast("timestamp('UTC')")))
    rev = j.revenue.cast("float64")
    paid = rev.notnull() & (rev > 0)
    post = j.ts > j.mid.cast("timestamp('UTC')")
    # one row per pair (not per pair and period): half the rows to fetch, and no pivot
    cells = engine.to_pandas(j.group_by("pair").aggregate(
        n_pre=(~post).cast("int64").sum(), n_post=post.cast("int64").sum(),
        orders_pre=(paid & ~post).cast("int64").sum(), orders_post=(paid & post).cast("int64").sum(),
        rev_pre=rev.sum(where=paid & ~post), rev_post=rev.sum(where=paid & post)))
    cells = cells.sort_values("pair", kind="mergesort").reset_index(drop=True)
    counts = cells[["pair", "n_pre", "n_post"]].astype("int64")
    halves = []
    for post_flag, part in ((0, "pre"), (1, "post")):
        has = cells[f"orders_{part}"].to_numpy() > 0
        halves.append(pd.DataFrame({"pair": cells["pair"].to_numpy()[has], "post": float(post_flag),
                                    "orders": cells[f"orders_{part}"].to_numpy()[has],
                                    "rev": cells[f"rev_{part}"].to_numpy(float)[has]}))
    orders = pd.concat(halves, ignore_index=True)
    orders = orders.iloc[np.lexsort((orders["post"].to_numpy(), orders["pair"].to_numpy()))].reset_index(drop=True)
    at = pd.Index(win["pair"]).get_indexer(orders["pair"])
    orders["customer_id"] = win["customer_id"].to_numpy()[at]
    orders["member"] = win["member"].to_numpy(float)[at]
    return counts, orders


def _gamma_on_sums(cells: pd.DataFrame, X: np.ndarray) -> "_Estimate":
    """Gamma GLM (log link) of order values, customer-clustered errors, fitted on order sums.

    ``cells`` has one row per customer (or pair and period) with ``orders`` and their
    summed revenue ``rev`` (``order_revenue`` on the per-customer frame); ``X`` (without
    constant) is constant within a row. Every model here is saturated in the ``X`` cells,
    so its fit is :func:`_ratio_fit` of revenue over orders: the order-level statsmodels
    fit with its default cluster correction ``G/(G-1) (N-1)/(N-K)`` (``N`` = orders),
    tested equal to it. The order-level fit needed over 20 GB at 10^8 events, statsmodels
    on the order sums 5 GB.
    """
    rev = cells["rev" if "rev" in cells.columns else "order_revenue"].to_numpy(float)
    return _ratio_fit(rev, cells["orders"].to_numpy(float), X, pd.factorize(cells["customer_id"])[0],
                      small_sample=True)


def _ratio_fit(num: np.ndarray, den: np.ndarray, X: np.ndarray, groups: np.ndarray, *,
               small_sample: bool = False) -> "_Estimate":
    """A log-linear model saturated in the cells of ``X``, with cluster-robust covariance.

    Rows are units (a customer, or a customer's pair and period) with a count or sum
    ``num`` over an exposure ``den`` (purchases over days, revenue over orders); ``X``
    (without constant) takes one of ``K - 1`` binary-coded values per row, and with the
    constant the ``K`` distinct rows of the design are linearly independent. Then the
    Poisson GLM with offset ``log(den)`` and the Gamma GLM of ``num / den`` with
    frequency weights ``den`` (both log link) fit every cell's ``log(sum num / sum den)``
    exactly, and their sandwich covariance is that of these log ratios: row ``r`` of
    cell ``c`` moves ``log R_c`` by ``(num_r - R_c den_r) / sum_c num``, summed per
    cluster (``groups``) and crossed over clusters. The same numbers as statsmodels'
    ``GLM.fit(cov_type="HC0")`` with one row per cluster, or ``"cluster"`` with
    ``use_correction=False`` (tests), in a few arrays per row instead of the tens that
    statsmodels keeps (5 GB for the two spend fits at 10^8 events).
    ``small_sample`` applies statsmodels' cluster factor ``G/(G-1) (N-1)/(N-K)`` with
    ``N = sum den``.
    """
    X = np.asarray(X, float)
    k = X.shape[1] + 1
    if not np.isin(X, (0.0, 1.0)).all():
        raise ValueError("_ratio_fit: expected a design coded in 0/1 columns")
    # each row's cell as the binary number of its columns (np.unique over rows sorts them: seconds at 10^8)
    code = X.astype(np.int64) @ (1 << np.arange(k - 1, dtype=np.int64))
    present = np.flatnonzero(np.bincount(code, minlength=1))
    cell = np.searchsorted(present, code)
    design = np.column_stack([np.ones(len(present)), (present[:, None] >> np.arange(k - 1)) & 1]).astype(float)
    if len(design) != k or np.linalg.matrix_rank(design) < k:
        raise ValueError(f"_ratio_fit: the design has {len(design)} distinct rows for {k} coefficients; "
                         "expected a saturated model")
    num_c, den_c = np.bincount(cell, num, k), np.bincount(cell, den, k)
    ratio = num_c / den_c
    inv = np.linalg.inv(design)
    params = inv @ np.log(ratio)
    g = int(groups.max()) + 1
    score = np.bincount(groups * k + cell, (num - ratio[cell] * den) / num_c[cell], g * k).reshape(g, k)
    cov = inv @ (score.T @ score) @ inv.T
    if small_sample:
        n = den.sum()
        cov = cov * (g / (g - 1) * (n - 1) / (n - k))
    return _Estimate(params, cov)


def _binomial_fit(success: np.ndarray, trials: np.ndarray, X: np.ndarray, offset: np.ndarray,
                  groups: np.ndarray) -> "_Estimate":
    """Binomial GLM (logit link, with offset) and its cluster-robust covariance.

    ``success`` of ``trials`` per row, ``X`` without constant. The same numbers as
    statsmodels' ``GLM(..., family=Binomial(), offset=offset).fit(cov_type="cluster")``
    (tested equal), by Newton's method on a few arrays per row: at 10^8 events the
    statsmodels fit on about 3 million rows took 8 s and 1 GB.
    """
    from scipy.special import expit

    X = np.column_stack([np.ones(len(success)), np.asarray(X, float)])
    success, trials = np.asarray(success, float), np.asarray(trials, float)
    b = np.zeros(X.shape[1])
    for _ in range(100):
        mu = expit(X @ b + offset)
        step = np.linalg.solve((X * (trials * mu * (1 - mu))[:, None]).T @ X, X.T @ (success - trials * mu))
        b = b + step
        if np.abs(step).max() < 1e-12:
            break
    else:  # the callers rule out an empty cell (no finite estimate); anything else converges in a few steps
        raise ValueError("_binomial_fit: Newton's method did not converge in 100 steps")
    mu = expit(X @ b + offset)
    bread = np.linalg.inv((X * (trials * mu * (1 - mu))[:, None]).T @ X)
    g, k = int(groups.max()) + 1, X.shape[1]
    resid = success - trials * mu
    score = np.column_stack([np.bincount(groups, X[:, i] * resid, g) for i in range(k)])
    n = len(success)
    cov = bread @ (score.T @ score) @ bread * (g / (g - 1) * (n - 1) / (n - k))
    return _Estimate(b, cov)


class _Estimate(NamedTuple):
    """Coefficients and their covariance, read like a statsmodels result by :func:`_row`."""

    params: np.ndarray
    cov: np.ndarray

    def cov_params(self) -> np.ndarray:
        return self.cov


def churn_effect(events: Any, customers: Any, *, joined_col: str = "loyalty_joined_at", churn_after: int = 60,
                 covariates: Sequence[str] = COVARIATES, strata: Sequence[str] | None = None,
                 observation_end: Any = None, purchase_event: str = PURCHASE_EVENT, cox_sample: int | None = None,
                 seed: int = 0) -> tuple[list[dict], Any]:
    """The churn-hazard rows of :func:`loyalty_effect`, from the retention family's one churn definition.

    Labels: :func:`journeylib.retention.churn.churn_labels` with the clock started at the
    first ``purchase_event``; model: :func:`journeylib.retention.survival.membership_effect`
    (naive row = its naive model, adjusted row = its start/stop model), fitted exactly as
    report 02 fits it. Returns the rows and the ``MembershipEffect``.

    Parameters
    ----------
    events, customers, joined_col, churn_after, covariates, strata, observation_end, purchase_event, cox_sample, seed
        As in :func:`loyalty_effect`.

    Returns
    -------
    tuple
        ``(rows, membership)``: the naive and adjusted rows (dicts with ``outcome, method,
        estimate, ci_low, ci_high, scale, n_members, n_controls, note``) and the
        :class:`journeylib.retention.survival.MembershipEffect`.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.loyalty.programme import churn_effect
    >>> rows, membership = churn_effect(ds.events, ds.customers)
    >>> [(row["method"], round(row["estimate"], 3)) for row in rows]
    [('naive', 0.218), ('adjusted', 0.634)]
    """
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    sampled = _sampled_membership(events, customers, joined_col=joined_col, churn_after=churn_after,
                                  covariates=covariates, strata=list(strata or []),
                                  observation_end=observation_end, purchase_event=purchase_event,
                                  cox_sample=cox_sample, seed=seed)
    if sampled is not None:
        effect, n_labels, n_member = sampled
        return _churn_rows(effect, n_labels, n_member, churn_after, covariates, cox_sample), effect
    labels = churn_labels(events, customers, churn_after=churn_after, start_event=purchase_event,
                          observation_end=observation_end)
    if "first_order_value" in covariates and "first_order_value" not in labels.columns:
        labels = labels.merge(first_order_value(events, purchase_event=purchase_event), on="customer_id", how="left")
    effect = membership_effect(labels, joined_col, covariates, strata=list(strata or []), sample=cox_sample,
                               seed=seed, missing="drop")
    n_member = int(labels[joined_col].notna().sum())
    return _churn_rows(effect, len(labels), n_member, churn_after, covariates, cox_sample), effect


def _churn_rows(effect: Any, n_labels: int, n_member: int, churn_after: int, covariates: list,
                cox_sample: int | None) -> list[dict]:
    """The naive and adjusted churn-hazard rows of :func:`churn_effect` from a ``MembershipEffect``."""
    s = effect.summary
    is_naive = s["model"].astype(str).str.lower().str.startswith("naive")
    n = {"n_members": n_member, "n_controls": n_labels - n_member}
    adjusted_for = f"adjusted for {', '.join(covariates)}" if covariates else "no other covariates"
    notes = {"naive": f"Cox, ever a member as a fixed trait (immortal-time bias); churn = more than {churn_after} "
                      f"days inactive; {adjusted_for}",
             "adjusted": f"Cox, membership as a time-varying covariate from the join date; {adjusted_for}"}
    rows = []
    for method, r in (("naive", s[is_naive].iloc[0]), ("adjusted", s[~is_naive].iloc[0])):
        note = notes[method]
        if cox_sample is not None and n_labels > cox_sample:
            note += f" (fitted on a random {cox_sample:,} of {n_labels:,} customers)"
        rows.append({"outcome": "churn hazard", "method": method, "estimate": float(r["hazard_ratio"]),
                     "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]), "scale": "hazard ratio", **n,
                     "note": note})
    return rows


_LABEL_COLUMNS = ("customer_id", "start", "last_active", "churned", "duration", "returned", "n_events")
"""Columns of :func:`journeylib.retention.churn.churn_labels` before the customer attributes."""


def _sampled_membership(events: Any, customers: Any, *, joined_col: str, churn_after: int, covariates: list,
                        strata: list, observation_end: Any, purchase_event: str, cox_sample: int | None,
                        seed: int) -> tuple[Any, int, int] | None:
    """``membership_effect`` on the Cox sample, with churn labels computed for the sampled customers only.

    The same fit as ``membership_effect(churn_labels(...) + customers, ..., sample=cox_sample,
    seed=seed, missing="drop")``: ``cox`` drops the customers with a missing numeric covariate,
    then draws ``DataFrame.sample(n=cox_sample, random_state=seed)`` from the rest in
    ``churn_labels``' order (by ``customer_id``) and keeps that order. That draw depends only
    on the number of rows, so it is made here on row positions numbered in the engine in the
    same order, and only the drawn customers' events are labelled (a customer's label
    depends only on his own events and the observation end). The counts the results quote
    (customers available, dropped per covariate, members) are grouped counts in the engine.

    Returns ``(MembershipEffect, customers labelled, members among them)``, or ``None``
    when the general path is needed (no sample, covariates that are not plain text or
    numeric columns of ``customers``, a purchase event that is not activity).
    """
    if (cox_sample is None or isinstance(cox_sample, bool) or not isinstance(cox_sample, (int, np.integer))
            or cox_sample < 10 or purchase_event in OUTBOUND_EVENTS or customers is None):
        return None
    cu = customer_table(customers)
    wanted = list(dict.fromkeys([joined_col, *covariates, *strata]))
    if any(c not in cu.columns or c in _LABEL_COLUMNS for c in wanted) or len(set(covariates)) < len(covariates):
        return None
    numeric = []
    for c in dict.fromkeys([*covariates, *strata]):
        dtype = cu[c].type()
        if dtype.is_integer() or dtype.is_floating():
            if c in covariates:
                numeric.append(c)
        elif not dtype.is_string():
            return None
    ev = engine.to_table(events)
    require_columns(ev, ("customer_id", "ts", "event"), "events")
    end = observation_end_of(ev, observation_end)
    t = ev.select("customer_id", "event", t=epoch_us(ev))
    t = t.filter((t.t <= to_epoch_us(end)) & (t.event == purchase_event))
    starts = t.select("customer_id").distinct()  # the customers churn_labels labels (clock at the first purchase)
    attrs = cu.select("customer_id", *wanted)
    base = starts.left_join(attrs, starts.customer_id == attrs.customer_id).select(
        starts.customer_id, *[attrs[c] for c in wanted])
    missing = {c: (base[c].isnull() | base[c].isnan()) if base[c].type().is_floating() else base[c].isnull()
               for c in numeric}
    keep = None
    for m in missing.values():
        keep = ~m if keep is None else keep & ~m
    counts = engine.to_pandas(base.aggregate(
        n=base.count(), members=base[joined_col].notnull().sum(),
        kept=base.count() if keep is None else keep.cast("int64").sum(),
        **{f"m{i}": m.cast("int64").sum() for i, m in enumerate(missing.values())})).iloc[0]
    n_labels = int(counts["n"])
    if n_labels == 0:
        return None  # the general path raises the error naming the missing purchase event
    n_member, n_available = int(counts["members"] or 0), int(counts["kept"] or 0)
    dropped = {c: int(counts[f"m{i}"]) for i, c in enumerate(missing) if int(counts[f"m{i}"] or 0)}
    pos = np.arange(n_available)
    if n_available > cox_sample:  # cox's draw (DataFrame.sample), on positions
        pos = pd.Series(pos).sample(n=int(cox_sample), random_state=seed).sort_index().to_numpy()
    numbered = base.mutate(pos=ibis.row_number().over(order_by=base.customer_id))
    if keep is None:
        kept = numbered.mutate(kpos=numbered.pos)
    else:
        kept = numbered.filter(keep)
        kept = kept.mutate(kpos=ibis.row_number().over(order_by=kept.customer_id))
    picks = ibis.memtable(pd.DataFrame({"kpos": pos.astype("int64")}))
    chosen = kept.join(picks, kept.kpos == picks.kpos).select(kept.customer_id, kept.pos, *[kept[c] for c in wanted])
    with engine.materialized(chosen) as chosen:
        ids = chosen.select("customer_id")
        expr, _ = churn_expr(ev.semi_join(ids, ev.customer_id == ids.customer_id), churn_after=churn_after,
                             start_event=purchase_event, observation_end=end)
        expr = expr.select("customer_id", "start", "churned", "duration")
        out = expr.join(chosen, expr.customer_id == chosen.customer_id).select(
            expr.customer_id, expr.start, expr.churned, expr.duration, chosen.pos, *[chosen[c] for c in wanted])
        df = engine.to_pandas(out.order_by("customer_id"))
    df["start"] = from_epoch_us(df["start"])
    df["churned"] = df["churned"].astype(bool)
    df = df.set_index(df.pop("pos").to_numpy(np.int64)).rename_axis(None)
    effect = membership_effect(df, joined_col, covariates, strata=strata, sample=None, seed=seed, missing="drop")
    effect = dataclasses.replace(
        effect, **{f.name: dataclasses.replace(getattr(effect, f.name), n_available=float(n_available),
                                               missing=dict(dropped))
                   for f in dataclasses.fields(effect) if f.name in ("naive", "start_stop")})
    return effect, n_labels, n_member
