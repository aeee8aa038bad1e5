"""Time to the next journey step, as a survival time.

How long do customers take from reaching a stage to reaching the next one? Counting only
those who have moved ignores everyone still waiting, and calling the waiters "never"
ignores that many will move tomorrow. Here the time from a customer's **first** event at
stage ``k`` to their first event at stage ``k+1`` at or after it is a survival time: a
customer who has not reached ``k+1`` by the end of observation
(:func:`journeylib.core.time.observation_end`) is censored there. Kaplan-Meier
(:func:`journeylib.retention.survival.kaplan_meier_arrays`: lifelines' estimate, band and
median interval from sorted arrays) then gives the median time to the next
step and the share that moves on within 7, 30 and 90 days, with intervals, overall or by
a customer attribute (segment, acquisition channel).

Engine half: :func:`stage_reach_times`, one row per customer with the first time at each
stage and the first time at each next stage after it (one Ibis grouped pass, plus a join
for the few customers whose events of a stage lie on both sides of the previous stage's
first time: the same on DuckDB and Spark; per customer-hash bucket above 20 million
events). Stats half: :func:`time_to_next_stage`, which fits Kaplan-Meier on the customers
counted per transition, group and time in the engine (weights), not on a per-customer frame.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import ibis
import numpy as np
import pandas as pd

from ..core import buckets, engine
from ..core.checks import is_number
from ..core.display import escape_markdown
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import DEFAULT_STAGES
from ..core.time import DAY_US, epoch_us, observation_end as observation_end_of, to_epoch_us
from ..retention.plots import MIN_AT_RISK
from ..retention.survival import curve_every_hour, kaplan_meier_arrays
from . import plots
from .common import check_stages, drop_outbound, events_table

DEFAULT_HORIZONS: tuple[int, ...] = (7, 30, 90)

__all__ = ["stage_reach_times", "time_to_next_stage", "NextStepResult", "DEFAULT_HORIZONS"]


# --------------------------------------------------------------------------- engine half
def _group_table(by: str | None, customers: Any) -> ibis.Table | None:
    """``_cid, _grp`` of ``customers`` (``by`` as text), or ``None`` without a split; checked before any query."""
    if not by:
        return None
    if customers is None:
        raise JourneyParameterError(f"by='{by}' needs the customers table (pass customers=...)")
    cu = engine.to_table(customers, table="customers")
    if "customer_id" not in cu.columns or by not in cu.columns:
        raise JourneyParameterError(f"by='{by}': not a column of customers; available: "
                                    f"{[c for c in cu.columns if c != 'customer_id']}")
    return cu.select(_cid=cu.customer_id.cast("string"), _grp=cu[by].cast("string"))


@contextmanager
def _reach_rows(t: ibis.Table, stages: Sequence[str], obs_us: int, groups: ibis.Table | None) -> Iterator[ibis.Table]:
    """One row per customer of ``t`` at any listed stage: ``customer_id, reached_<k>, next_<k>`` (and ``group``).

    One grouped pass takes each customer's first and last time at every stage. The first
    stage-``k`` event at or after ``reached_<k-1>`` is then the first stage-``k`` event when
    that is no earlier, and there is none when the last one is earlier; only a customer
    with stage-``k`` events on both sides of ``reached_<k-1>`` (a "tangled" one, usually few
    or none) needs their events joined back onto their row. Before, every event was joined
    back (at 10^7 events the peak memory goes from 1.5 GB to 1.0 GB; a window carrying
    ``reached_<k-1>`` to every event was slower than that join on DuckDB, 7.0 s against
    4.0 s). The grouped table is a table of its own while the caller reads it.
    """
    n = len(stages)
    ev = t.select("customer_id", _s=ibis.cases(*[(t.stage == s, k) for k, s in enumerate(stages)], else_=None),
                  _e=epoch_us(t))
    ev = ev.filter(ev._s.notnull() & (ev._e <= obs_us))
    at = [ibis.ifelse(ev._s == k, ev._e, ibis.null("int64")) for k in range(n)]
    p = ev.group_by("customer_id").aggregate(**{f"reached_{k}": e.min() for k, e in enumerate(at)},
                                             **{f"_hi{k}": e.max() for k, e in enumerate(at) if k})
    tangled = ibis.literal(False)
    for k in range(1, n):
        prev, lo, hi = p[f"reached_{k - 1}"], p[f"reached_{k}"], p[f"_hi{k}"]
        tangled |= ((lo < prev) & (hi >= prev)).fill_null(False)
    p = p.mutate(_tangled=tangled)
    reached = [f"reached_{k}" for k in range(n)]
    cols = ["customer_id", *reached, *[f"next_{k}" for k in range(1, n)]]
    with engine.materialized(p) as p:
        cur = p.filter(~p._tangled).select(
            "customer_id", *reached,
            **{f"next_{k}": ibis.ifelse(p[f"reached_{k}"] >= p[f"reached_{k - 1}"], p[f"reached_{k}"],
                                        ibis.null("int64")) for k in range(1, n)})
        if int(engine.to_pandas(p.aggregate(n=p._tangled.cast("int64").sum().fill_null(0)))["n"].iloc[0]):
            ids = p.filter(p._tangled).select(_cid=p.customer_id, **{f"_r{k}": p[r] for k, r in enumerate(reached)})
            j = ev.join(ids, ev.customer_id == ids._cid)
            exact = j.group_by("customer_id").aggregate(
                **{r: j[f"_r{k}"].min() for k, r in enumerate(reached)},
                **{f"next_{k}": j._e.min(where=(j._s == k) & (j._e >= j[f"_r{k - 1}"])) for k in range(1, n)})
            cur = cur.union(exact.select(*cols))
        if groups is not None:
            cur = cur.left_join(groups, cur.customer_id.cast("string") == groups._cid)
            cur = cur.mutate(group=cur._grp.fill_null("(missing)")).drop("_cid", "_grp")
        yield cur


def stage_reach_times(events: Any, stages: Sequence[str] | str = DEFAULT_STAGES, *, by: str | None = None,
                      customers: Any = None, observation_end: Any = None) -> pd.DataFrame:
    """One row per customer who reached any listed stage (engine half).

    Columns: ``customer_id``; ``reached_<k>`` (epoch microseconds of the first event at
    stage ``k``, ``k`` = 0 .. K-1 in ``stages`` order; null = never); ``next_<k>`` for
    ``k >= 1`` (the first event at stage ``k`` at or after ``reached_<k-1>``; null = has not
    moved on); ``group`` when ``by`` names a column of ``customers`` (missing =
    ``"(missing)"``). Outbound events are ignored, and so are events after the observation
    end (``attrs["observation_end"]``, epoch microseconds in ``attrs["observation_end_us"]``).
    Rows are in ``customer_id`` order (sorted in the engine; logs over 20 million events
    run per customer-hash bucket, :mod:`journeylib.core.buckets`, merged by Arrow's sort).

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, stage``.
    stages
        Stage names in journey order (a list, or one comma-separated string).
    by, customers
        A column of ``customers`` to split on (``None``: no split).
    observation_end
        End of observation (default: the log's last timestamp).

    Returns
    -------
    pandas.DataFrame
        One row per customer, columns as above.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.timing import stage_reach_times
    >>> events = jl.load_dataset("sample").events
    >>> times = stage_reach_times(events, ["awareness", "consideration", "cart"])
    >>> times.shape, list(times.columns)
    ((5000, 6), ['customer_id', 'reached_0', 'reached_1', 'reached_2', 'next_1', 'next_2'])
    """
    stages = check_stages(stages)
    everything = events_table(events)
    t = drop_outbound(everything)
    obs = observation_end_of(everything, observation_end)
    obs_us = to_epoch_us(obs)
    groups = _group_table(by, customers)

    def build(part: ibis.Table) -> pd.DataFrame:
        with _reach_rows(part, stages, obs_us, groups) as cur:
            return engine.to_pandas(cur)

    df = buckets.concat_sorted(buckets.per_bucket(t, build), ["customer_id"])
    df.attrs.update(observation_end=str(obs), observation_end_us=obs_us, stages=list(stages))
    return df


def _transition_counts(events: Any, stages: Sequence[str], by: str | None, customers: Any,
                       observation_end: Any) -> tuple[pd.DataFrame, Any]:
    """Customers per transition, group, time to move on and moved-or-censored, counted in the engine.

    Columns ``_k`` (transition ``k-1 -> k``; ``0``: every customer at any listed stage, which
    gives the groups), ``group``, ``_us`` (microseconds from ``reached_<k-1>`` to ``next_<k>``,
    or to the observation end when censored), ``_moved`` and ``n`` (customers). The Kaplan-
    Meier fit weighs each row by ``n``, which gives exactly the curve of one row per
    customer (:func:`journeylib.retention.survival.kaplan_meier_arrays`), so no per-customer table
    comes to pandas; per customer bucket above 20 million events (a key can repeat across buckets).
    """
    everything = events_table(events)
    t = drop_outbound(everything)
    obs = observation_end_of(everything, observation_end)
    obs_us = to_epoch_us(obs)
    groups = _group_table(by, customers)
    keys = ["_k", "group", "_us", "_moved"]

    def build(part: ibis.Table) -> pd.DataFrame:
        with _reach_rows(part, stages, obs_us, groups) as reach, engine.materialized(reach) as cur:
            grp = cur.group if groups is not None else ibis.literal("all")
            rows = [cur.select(_k=ibis.literal(0), group=grp, _us=ibis.literal(0, "int64"),
                               _moved=ibis.literal(False))]
            for k in range(1, len(stages)):
                start, end = cur[f"reached_{k - 1}"], cur[f"next_{k}"]
                rows.append(cur.filter(start.notnull()).select(
                    _k=ibis.literal(k), group=grp, _us=end.fill_null(obs_us) - start, _moved=end.notnull()))
            u = ibis.union(*rows)
            return engine.to_pandas(u.group_by(keys).aggregate(n=u.count()))

    # not summed over buckets: the waits carry microseconds, so keys hardly repeat across buckets, and
    # the weighted fit gives the same curve from a repeated key as from its summed row
    return pd.concat(buckets.per_bucket(t, build), ignore_index=True), obs


# --------------------------------------------------------------------------- stats half
def _share_columns(h: float) -> tuple[str, str, str]:
    return f"moved_{h:g}d", f"moved_{h:g}d_ci_low", f"moved_{h:g}d_ci_high"


@dataclass(frozen=True, repr=False)
class NextStepResult(Result):
    """Time from reaching each stage to reaching the next (Kaplan-Meier, censored at the end of observation).

    ``summary``: one row per transition (and group): ``transition, from_stage, to_stage,
    group, customers`` (reached the from-stage), ``moved``, ``median_days`` with ``ci_low,
    ci_high``, and for each horizon ``moved_<h>d`` with ``moved_<h>d_ci_low,
    moved_<h>d_ci_high`` (share that moved on within ``h`` days; blank when fewer than
    ``min_at_risk`` customers were still waiting and followed at ``h``). ``curves``: the
    whole curves read every hour (``transition, group, days, share_moved, ci_low, ci_high,
    at_risk``; exact at those times, whatever the number of customers).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.timing import time_to_next_stage
    >>> events = jl.load_dataset("sample").events
    >>> result = time_to_next_stage(events, ["awareness", "consideration", "cart"])
    >>> round(result.median("awareness -> consideration"), 2)
    4.3
    >>> print(result.findings[0].text)
    Half of the customers who reach awareness get to consideration within 4.3 days (4.0 to 4.6 days).
    """

    table: pd.DataFrame = field(repr=False)
    curves: pd.DataFrame = field(repr=False)
    stages: tuple[str, ...]
    by: str | None
    horizons: tuple[float, ...]
    confidence_level: float
    observation_end: str
    min_at_risk: int = MIN_AT_RISK

    @property
    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def median(self, transition: str, group: str = "all") -> float:
        """Median days from reaching the first stage of ``transition`` (``"a -> b"``) to reaching the second."""
        r = self.table[(self.table["transition"] == transition) & (self.table["group"] == group)]
        if r.empty:
            raise JourneyParameterError(f"transition={transition!r}, group={group!r}; expected one of "
                                        f"{sorted(set(self.table['transition']))} and {sorted(set(self.table['group']))}")
        return float(r["median_days"].iloc[0])

    @property
    def reading(self) -> str:
        """One markdown bullet per transition (overall rows, or each group's); names from data escaped."""
        esc = escape_markdown
        lines = []
        for r in self.table.to_dict("records"):
            who = f" ({esc(r['group'])})" if self.by else ""
            med = (f"half move on within **{r['median_days']:.1f} days**" if np.isfinite(r["median_days"])
                   else "fewer than half have moved on by the end of the data")
            shares = ", ".join(f"{r[_share_columns(h)[0]]:.0%} within {h:g} days" for h in self.horizons
                               if pd.notna(r[_share_columns(h)[0]]))
            lines.append(f"- {esc(r['from_stage'])} -> {esc(r['to_stage'])}{who}: {r['customers']:,} reached "
                         f"{esc(r['from_stage'])}; {med}" + (f" ({shares})." if shares else "."))
        return "\n".join(lines)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Per transition (overall, or the largest group): the median time with its interval, or the share that
        moved within the longest reliable horizon; the slowest step gets the action. With groups, a last
        finding compares them: the step where they differ most, or that they do not clearly differ."""
        t = self.table
        if self.by:
            big = t.groupby("group")["customers"].sum().sort_values(ascending=False, kind="stable").index[0]
            t = t[t["group"] == big]
        out, speed = [], []
        for r in t.to_dict("records"):
            who = "customers" + (f" in {self.by.replace('_', ' ')} {r['group']}" if self.by else "")
            if np.isfinite(r["median_days"]):
                ci = (f"{r['ci_low']:.1f} to {r['ci_high']:.1f} days" if np.isfinite(r["ci_high"])
                      else f"at least {r['ci_low']:.1f} days")
                out.append(Finding(f"Half of the {who} who reach {r['from_stage']} get to {r['to_stage']} within "
                                   f"{r['median_days']:.1f} days ({ci}).", float(r["median_days"]),
                                   float(r["ci_low"]), float(r["ci_high"])))
                speed.append((r["median_days"], len(out) - 1, r))
                continue
            known = [h for h in self.horizons if pd.notna(r[_share_columns(h)[0]])]
            if not known:
                out.append(Finding(f"Too few {who} reached {r['from_stage']} long enough ago to time the step to "
                                   f"{r['to_stage']}."))
                continue
            v, lo, hi = (float(r[c]) for c in _share_columns(known[-1]))
            out.append(Finding(f"Only {v:.0%} of the {who} who reach {r['from_stage']} get to {r['to_stage']} within "
                               f"{known[-1]:g} days ({lo:.0%} to {hi:.0%}).", v, lo, hi))
            speed.append((np.inf, len(out) - 1, r))
        if speed:
            _, i, r = max(speed, key=lambda s: s[0])
            f = out[i]
            out[i] = Finding(f.text, f.value, f.ci_low, f.ci_high,
                             action=f"The step from {r['from_stage']} to {r['to_stage']} is the slowest: time follow-ups "
                                    f"for customers at {r['from_stage']} to it, and look for friction there first.")
        if len(out) > 4:
            out = out[:3] + [out[i]] if speed and i >= 3 else out[:4]
        if self.by:
            out.append(self._groups_compared())
        return tuple(out)

    def _groups_compared(self) -> Finding:
        """Where the groups differ: the step whose fastest and slowest groups differ most in median days,
        with their intervals apart; else, as a group whose median is never reached has no median to
        compare, the step and horizon whose groups differ most in the share that moved on within it."""
        words = self.by.replace("_", " ")
        t = self.table[np.isfinite(self.table["median_days"]) & np.isfinite(self.table["ci_high"])]
        best = None
        for _, g in t.groupby(["from_stage", "to_stage"], sort=False):
            fast, slow = g.loc[g["median_days"].idxmin()], g.loc[g["median_days"].idxmax()]
            apart = slow["ci_low"] > fast["ci_high"]
            if apart and (best is None or slow["median_days"] - fast["median_days"] > best[1]["median_days"]
                          - best[0]["median_days"]):
                best = (fast, slow)
        if best is not None:
            fast, slow = best
            gap = slow["median_days"] - fast["median_days"]
            return Finding(f"From {fast['from_stage']} to {fast['to_stage']}, customers in {words} {fast['group']} "
                           f"move on fastest: half within {fast['median_days']:.1f} days ({fast['ci_low']:.1f} to "
                           f"{fast['ci_high']:.1f}), against {slow['median_days']:.1f} days ({slow['ci_low']:.1f} to "
                           f"{slow['ci_high']:.1f}) in {words} {slow['group']}.", float(gap),
                           action=f"Look at what {words} {slow['group']} meets between {fast['from_stage']} and "
                                  f"{fast['to_stage']} that {words} {fast['group']} does not.")
        shares = None  # (gap, fast row, slow row, horizon)
        for _, g in self.table.groupby(["from_stage", "to_stage"], sort=False):
            for h in self.horizons:
                c, lo, hi = _share_columns(h)
                known = g[np.isfinite(g[c].astype(float)) & np.isfinite(g[lo].astype(float))
                          & np.isfinite(g[hi].astype(float))]
                if len(known) < 2:
                    continue
                fast, slow = known.loc[known[c].astype(float).idxmax()], known.loc[known[c].astype(float).idxmin()]
                if fast[lo] > slow[hi] and (shares is None or fast[c] - slow[c] > shares[0]):
                    shares = (float(fast[c] - slow[c]), fast, slow, h)
        if shares is not None:
            gap, fast, slow, h = shares
            c, lo, hi = _share_columns(h)
            return Finding(f"From {fast['from_stage']} to {fast['to_stage']}, {fast[c]:.0%} of the customers in "
                           f"{words} {fast['group']} moved on within {h:g} days ({fast[lo]:.0%} to {fast[hi]:.0%}), "
                           f"against {slow[c]:.0%} ({slow[lo]:.0%} to {slow[hi]:.0%}) in {words} {slow['group']}.",
                           gap, action=f"Look at what {words} {slow['group']} meets between {fast['from_stage']} "
                                       f"and {fast['to_stage']} that {words} {fast['group']} does not.")
        if t.empty:
            return Finding(f"Too few customers of any {words} moved on to compare how fast they move.")
        within = ", ".join(f"{h:g}" for h in self.horizons)
        return Finding(f"The customers of each {words} move from stage to stage at similar speeds: wherever enough "
                       f"of them were followed, their intervals overlap, for the median time and for the share "
                       f"that moved on within {within} days.")

    @property
    def checks(self) -> tuple[Check, ...]:
        empty = self.table[self.table["customers"] == 0]
        thin = [c for h in self.horizons for c in [_share_columns(h)[0]] if self.table[c].isna().any()]
        return (
            Check("next step: every stage reached", "warn" if len(empty) else "pass",
                  f"no customer reached {sorted(set(empty['from_stage']))}" if len(empty)
                  else "every from-stage has customers"),
            Check("next step: customers followed at each horizon", "warn" if thin else "pass",
                  (f"blank where fewer than {self.min_at_risk} customers were still followed: {', '.join(thin)}")
                  if thin else f"at least {self.min_at_risk} customers still followed at every horizon"),
        )

    def display_table(self) -> pd.DataFrame:
        """The summary for people: one row per step (and group), the customers who reached the
        step's first stage, the days until half of them moved on with its interval and the
        share that moved on within each horizon, in percent ("–": too few still followed).

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.journeys.timing import time_to_next_stage
        >>> events = jl.load_dataset("sample").events
        >>> table = time_to_next_stage(events, ["awareness", "consideration", "cart"]).display_table()
        >>> table.columns.tolist()
        ['step', 'customers', 'half moved on within (days)', 'within 7 days', 'within 30 days', 'within 90 days']
        >>> table.iloc[0, [0, 2, 3, 4, 5]].tolist()
        ['awareness → consideration', '4.3 (4.0 to 4.6)', '59%', '64%', '64%']
        """
        t = self.table

        def median(r: dict) -> str:
            if not r["customers"]:
                return "–"
            if not np.isfinite(r["median_days"]):
                return "not reached"
            ci = (f"{r['ci_low']:.1f} to {r['ci_high']:.1f}" if np.isfinite(r["ci_high"])
                  else f"at least {r['ci_low']:.1f}")
            return f"{r['median_days']:.1f} ({ci})"

        out = {"step": [f"{a} → {b}" for a, b in zip(t["from_stage"], t["to_stage"])]}
        if self.by:
            out[self.by.replace("_", " ")] = t["group"]
        out["customers"] = t["customers"]
        out["half moved on within (days)"] = [median(r) for r in t.to_dict("records")]
        for h in self.horizons:
            out[f"within {h:g} days"] = ["–" if pd.isna(v) else f"{v:.0%}" for v in t[_share_columns(h)[0]]]
        return pd.DataFrame(out).reset_index(drop=True)

    def plot(self, ax=None, *, ci: bool = True):
        """Share that has moved on vs time since reaching the stage: one panel per step, one curve per group."""
        return plots.plot_time_to_next_stage(self, ax=ax, ci=ci)

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Planted vs estimated median days per transition: ``truth = {"a -> b": median_days, ...}``
        (or ``{("a -> b", group): median_days}``)."""
        rows = []
        for r in self.table.to_dict("records"):
            key = (r["transition"], r["group"]) if (r["transition"], r["group"]) in truth else r["transition"]
            if key in truth:
                rows.append((f"median days {r['transition']} ({r['group']})", float(truth[key]),
                             float(r["median_days"]), float(r["ci_low"]), float(r["ci_high"])))
        if not rows:
            raise JourneyParameterError(f"truth: expected planted medians keyed by transition such as "
                                        f"{self.table['transition'].iloc[0]!r}; got {sorted(map(str, truth))}")
        return truth_table(rows)

    def _float_format(self) -> str:
        return "{:.3f}"


def time_to_next_stage(
    events: Any,
    stages: Sequence[str] | str = DEFAULT_STAGES,
    *,
    by: str | None = None,
    customers: Any = None,
    observation_end: Any = None,
    horizons: Sequence[float] = DEFAULT_HORIZONS,
    confidence_level: float = 0.95,
    min_at_risk: int = MIN_AT_RISK,
) -> NextStepResult:
    """Kaplan-Meier of the days from reaching each stage to reaching the next (stage ``k`` -> ``k+1``).

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, stage`` (outbound events ignored).
    stages
        Stage names in journey order; transitions are consecutive pairs.
    by, customers
        A column of ``customers`` (``"segment"``, ``"acquisition_channel"``) to split on.
    observation_end
        End of observation (default: the log's last timestamp): customers who have not
        moved on by then are censored there, and later events are ignored.
    horizons
        Days at which the share that moved on is reported (default 7, 30, 90).
    confidence_level
        Level of the median's interval and of the shares' intervals (Kaplan-Meier,
        lifelines' exponential Greenwood bands).
    min_at_risk
        A share at a horizon is left blank when fewer customers than this were still
        waiting and followed there; the plotted curves stop at the same point.

    Returns
    -------
    NextStepResult
        Per transition (and group): the median days and the shares that moved on by each
        horizon, with intervals, and the whole curves.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.timing import time_to_next_stage
    >>> events = jl.load_dataset("sample").events
    >>> result = time_to_next_stage(events, ["awareness", "consideration", "cart"])
    >>> result.summary[["transition", "customers", "moved", "median_days", "ci_low", "ci_high"]].round(2)
                       transition  customers  moved  median_days  ci_low  ci_high
    0  awareness -> consideration       5000   3186         4.30    4.00     4.60
    1       consideration -> cart       3186   1875         4.46    3.91     5.14
    """
    hs = [horizons] if is_number(horizons) else list(horizons)
    if not hs or any(isinstance(h, bool) or not is_number(h) or h <= 0 for h in hs):
        raise JourneyParameterError(f"horizons={horizons!r}; expected days > 0 (numbers)")
    hs = tuple(sorted(float(h) for h in hs))
    stages = check_stages(stages)
    counts, obs = _transition_counts(events, stages, by, customers, observation_end)
    ks = counts["_k"].to_numpy()
    if not (ks == 0).any():
        raise JourneyDataError(f"column 'stage' of events: no event at any of the stages {list(stages)}")
    groups = sorted(set(counts.loc[ks == 0, "group"]), key=str)
    rows, curves = [], []
    for k in range(1, len(stages)):
        c_k = counts[ks == k]
        days = (c_k["_us"].to_numpy(dtype=np.int64) / DAY_US).clip(min=0).astype(float)
        moved, n, grp = c_k["_moved"].to_numpy(dtype=bool), c_k["n"].to_numpy(dtype=np.int64), c_k["group"].to_numpy()
        name = f"{stages[k - 1]} -> {stages[k]}"
        for g in groups:
            m = grp == g
            row = {"transition": name, "from_stage": stages[k - 1], "to_stage": stages[k], "group": g,
                   "customers": int(n[m].sum()), "moved": int(n[m & moved].sum()),
                   "median_days": np.nan, "ci_low": np.nan, "ci_high": np.nan}
            for h in hs:
                c, lo_c, hi_c = _share_columns(h)
                row[c] = row[lo_c] = row[hi_c] = np.nan
            if not m.any():
                rows.append(row)
                continue
            # one row per (time, moved) with its number of customers: the same curve as one row per customer
            km = kaplan_meier_arrays(days[m], moved[m], n[m], confidence_level=confidence_level)
            row["median_days"], row["ci_low"], row["ci_high"] = km.median()
            for h in hs:
                c, lo_c, hi_c = _share_columns(h)
                still, lo, hi = km.at(h)
                waiting = int(n[m & (days >= h)].sum())
                if waiting >= min_at_risk and np.isfinite(still):
                    row[c], row[lo_c], row[hi_c] = 1 - still, 1 - hi, 1 - lo
            rows.append(row)
            c = curve_every_hour(days[m], moved[m], n[m], confidence_level=confidence_level)
            curves.append(pd.DataFrame({"transition": name, "group": g, "days": c["days"], "share_moved": 1 - c["survival"],
                                        "ci_low": 1 - c["ci_high"], "ci_high": 1 - c["ci_low"], "at_risk": c["at_risk"]}))
    table = pd.DataFrame(rows)
    cols = ["transition", "group", "days", "share_moved", "ci_low", "ci_high", "at_risk"]
    cur = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=cols)
    return NextStepResult(table, cur, stages, by, hs, float(confidence_level), str(obs), int(min_at_risk))
