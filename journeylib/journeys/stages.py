"""Journey stages: closed/open funnels, stage-to-stage transitions, journey-map data.

Engine half: Ibis expressions (joins, group_by/aggregate, window functions) that
scan the event log and return one small row per stage (per group). Stats half:
pandas arithmetic on those counts.

A *closed* funnel counts a customer at step ``k`` only if they reached steps
``1..k-1`` in that order (the first time at each step no earlier than the step
before), within an optional conversion ``window`` measured from their entry into
step 1. A customer whose window has not elapsed at ``observation_end`` and who has
not (yet) reached the next step is *not yet mature*: neither a conversion nor a
drop-out. Conversion rates are computed on the mature cohort only (customers whose
window has elapsed), so recent entrants do not drag them down.
"""
from __future__ import annotations

import html
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import ibis
import numpy as np
import pandas as pd

from . import plots
from ..core import buckets, engine
from ..core.checks import flag
from ..core.display import escape_markdown, html_table
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.result import Check, Finding, Result
from ..core.schema import DEFAULT_STAGES
from ..core.time import DAY_SECONDS, epoch_us, observation_end as observation_end_of, to_epoch_us
from ..core.intervals import wilson_interval
from .common import check_stages, drop_outbound, events_table, findings_html, window_seconds

__all__ = [
    "FunnelResult", "funnel", "DropOff", "biggest_drop_off", "TransitionResult", "stage_transitions",
    "JourneyMapData", "journey_map_data",
]

_MISSING_GROUP = "(missing)"


# --------------------------------------------------------------------------- helpers
def _attach_group(per_customer: ibis.Table, by: str | None, customers: Any) -> ibis.Table:
    """Add a ``_group`` column from ``customers[by]`` (missing attributes -> '(missing)')."""
    if by is None:
        return per_customer.mutate(_group=ibis.literal("all"))
    if customers is None:
        raise JourneyParameterError(f"by='{by}' needs the customers table (pass customers=...)")
    cu = engine.to_table(customers, table="customers")
    if "customer_id" not in cu.columns or by not in cu.columns:
        raise JourneyParameterError(
            f"by='{by}': not a column of customers; available: {[c for c in cu.columns if c != 'customer_id']}"
        )
    cu = cu.select(_cid=cu.customer_id, _grp=cu[by].cast("string"))
    j = per_customer.left_join(cu, per_customer.customer_id == cu._cid)
    j = j.mutate(_group=j._grp.fill_null(_MISSING_GROUP))
    return j.drop("_cid", "_grp")


_SHARE_COLS = ("step_conversion", "cumulative_conversion", "drop_off", "conversion_to_next")
_DAY_COLS = ("median_days_from_previous", "median_days_in_stage")


def _html_block(title: str, body: pd.DataFrame, note: str = "") -> str:
    """Title, note and table; shares as percentages, days to one decimal."""
    out = f"<h4>{html.escape(title)}</h4>"
    if note:
        out += f"<p>{html.escape(note)}</p>"
    formats = {**{c: "{:.1%}" for c in _SHARE_COLS}, **{c: "{:.1f}" for c in _DAY_COLS}}
    return out + html_table(body, "{:,.3f}", formats=formats)


# --------------------------------------------------------------------------- funnel
@dataclass(frozen=True)
class FunnelResult(Result):
    """Stage funnel: one row per stage (per group).

    Attributes
    ----------
    stages, closed, window_days, by, observation_end
        The settings the funnel was computed with.
    summary
        DataFrame with ``[group,] stage, step, customers, mature_customers,
        step_conversion, cumulative_conversion, drop_off, dropped, not_yet_mature,
        median_days_from_previous``. ``customers`` counts everyone who reached the
        stage; rates use the mature cohort (window elapsed) only.
    findings
        How many entrants went all the way (with a 95% Wilson interval on the mature
        cohort) and the step with the largest drop-off, per group.
    checks
        Whether most entrants are mature (their conversion window has elapsed).

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.funnel(events, window=60)
    >>> result.summary[["stage", "customers"]].head(3)
               stage  customers
    0      awareness       5000
    1  consideration       3186
    2           cart       1871
    >>> print(result.findings[0].text)
    4.5% of the customers who entered at awareness went all the way to advocacy (3.9% to 5.1%).
    """

    stages: tuple[str, ...]
    closed: bool
    window_days: float | None
    by: str | None
    observation_end: pd.Timestamp
    _summary: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    def _groups(self):
        s = self._summary
        return list(s.groupby("group", sort=False)) if self.by else [(None, s)]

    @property
    def reading(self) -> str:
        """How many entrants went all the way, and the step with the largest drop-off (per group).

        Markdown: names from data (stages, the split column and its values) are escaped.
        """
        esc = escape_markdown
        parts = []
        for group, g in self._groups():
            first, last = g.iloc[0], g.iloc[-1]
            who = f"In {esc(self.by)} '{esc(group)}', of" if self.by else "Of"
            text = (f"{who} {first['customers']:,} customers who entered at '{esc(first['stage'])}', "
                    f"{last['customers']:,} ({last['cumulative_conversion']:.1%}) went all the way to "
                    f"'{esc(last['stage'])}'.")
            worst = _drop_off_of(self.stages, g)
            if worst is not None:
                text += (f" The largest drop-off is from '{esc(worst.from_stage)}' to '{esc(worst.to_stage)}': "
                         f"{worst.drop_off:.1%} of the customers at '{esc(worst.from_stage)}' did not get there.")
            parts.append(text)
        return "\n\n".join(parts)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """All the way through (with a 95% interval) and the largest drop-off.

        With groups: the way through per group, highest first (of more than four groups,
        the two highest and the two lowest).
        """
        out = []
        for group, g in self._groups():
            first, last = g.iloc[0], g.iloc[-1]
            value = float(last["cumulative_conversion"])
            if not np.isfinite(value):
                continue
            lo, hi = wilson_interval(int(last["mature_customers"]), int(first["mature_customers"]))
            who = f"In {self.by.replace('_', ' ')} {group}, " if self.by else ""
            out.append(Finding(
                f"{who}{value:.1%} of the customers who entered at {first['stage']} went all the way to "
                f"{last['stage']} ({lo:.1%} to {hi:.1%}).", value, lo, hi))
        if self.by:
            out.sort(key=lambda f: -f.value)
            return tuple(out if len(out) <= 4 else out[:2] + out[-2:])
        worst = self.biggest_drop_off
        if worst is not None:
            out.append(worst.finding)
        return tuple(out)

    @property
    def biggest_drop_off(self) -> "DropOff | None":
        """The step with the largest drop-off (:func:`biggest_drop_off`); ``None`` with groups or without a step."""
        return None if self.by else _drop_off_of(self.stages, self._summary)

    @property
    def checks(self) -> tuple[Check, ...]:
        """Warns when fewer than 80% of the entrants are mature (their rates rest on the rest)."""
        first = self._summary[self._summary["step"] == 1]
        entrants, mature = int(first["customers"].sum()), int(first["mature_customers"].sum())
        if self.window_days is None:
            return (Check("funnel: mature cohort", "pass",
                          f"no conversion window: all {entrants:,} entrants count in the rates"),)
        share = mature / entrants if entrants else float("nan")
        detail = (f"{mature:,} of {entrants:,} entrants ({share:.0%}) have had their whole conversion window "
                  "by the end of the data; the rates use only them")
        return (Check("funnel: mature cohort", "pass" if entrants and share >= 0.8 else "warn", detail),)

    def __repr__(self) -> str:
        kind = "closed" if self.closed else "open"
        win = "no window" if self.window_days is None else f"window {self.window_days:g} days"
        head = f"FunnelResult({kind}, {win}, by={self.by!r}, observation_end={self.observation_end:%Y-%m-%d})"
        return head + "\n" + self._summary.to_string(index=False)

    def _repr_html_(self) -> str:
        kind = "Closed" if self.closed else "Open"
        win = "no conversion window" if self.window_days is None else f"conversion window {self.window_days:g} days"
        return findings_html(self) + _html_block(
            f"{kind} funnel ({win})", self._summary,
            "Rates use customers whose conversion window has elapsed; "
            "'not_yet_mature' customers are still inside their window.")

    def plot(self, ax=None):
        """Horizontal funnel bars (:func:`journeylib.journeys.plots.plot_funnel`); returns the Axes."""
        return plots.plot_funnel(self, ax=ax)

    def plot_flow(self, ax=None):
        """The journey as a flow (Sankey) figure (:func:`journeylib.journeys.plots.plot_journey_flow`)."""
        return plots.plot_journey_flow(self, ax=ax)


@dataclass(frozen=True)
class DropOff:
    """The one definition of "the biggest drop-off" of a journey (reports 00 and 01 both quote it).

    Among the steps of a closed funnel, the step from ``from_stage`` to ``to_stage``
    that loses the largest *share* of the customers who reached ``from_stage`` (mature
    customers: their conversion window has elapsed); on a tie, the earlier step.
    ``drop_off`` = ``lost / at_from`` with its Wilson interval (``ci_low``, ``ci_high``)
    at ``confidence_level``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.stages import biggest_drop_off
    >>> events = jl.load_dataset("sample").events
    >>> drop = biggest_drop_off(jl.funnel(events, window=60))
    >>> drop.step, round(drop.drop_off, 3), round(drop.ci_low, 3), round(drop.ci_high, 3)
    ('from repeat to advocacy', 0.736, 0.703, 0.766)
    """

    from_stage: str
    to_stage: str
    drop_off: float
    lost: int
    at_from: int
    ci_low: float
    ci_high: float
    confidence_level: float = 0.95

    @property
    def step(self) -> str:
        """The step in words: ``"from repeat to advocacy"``."""
        return f"from {self.from_stage} to {self.to_stage}"

    @property
    def finding(self) -> Finding:
        """The sentence every report uses for it, with its number, interval and action."""
        return Finding(
            f"The biggest drop-off is {self.step}: {self.drop_off:.1%} of the {self.at_from:,} customers who "
            f"reached {self.from_stage} did not go on to {self.to_stage} ({self.ci_low:.1%} to {self.ci_high:.1%}).",
            float(self.drop_off), float(self.ci_low), float(self.ci_high),
            action=f"Look for friction between {self.from_stage} and {self.to_stage} first.")


def _drop_off_of(stages: Sequence[str], g: pd.DataFrame, confidence_level: float = 0.95) -> DropOff | None:
    """The biggest drop-off of one funnel table (one group): see :class:`DropOff`."""
    drops = g.iloc[1:].dropna(subset=["drop_off"])
    if not len(drops):
        return None
    worst = drops.sort_values("drop_off", ascending=False, kind="stable").iloc[0]
    k = int(worst["step"]) - 1
    at_from = int(g.iloc[k - 1]["mature_customers"])
    lost = at_from - int(worst["mature_customers"])
    lo, hi = wilson_interval(lost, at_from, confidence_level)
    return DropOff(str(stages[k - 1]), str(stages[k]), float(worst["drop_off"]), lost, at_from, float(lo), float(hi),
                   float(confidence_level))


def biggest_drop_off(result: "FunnelResult", *, confidence_level: float = 0.95) -> DropOff | None:
    """The step of a closed, ungrouped funnel that loses the largest share of its customers.

    The one definition behind the funnel's finding, the quick journey map's top drop-off and
    the journey flow figure. ``None`` when the funnel has no step with mature customers.

    Parameters
    ----------
    result
        A closed, ungrouped :class:`FunnelResult`.
    confidence_level
        Coverage of the Wilson interval of the drop-off share.

    Returns
    -------
    DropOff or None
        The step, its drop-off share and interval; ``None`` without a step with mature customers.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.stages import biggest_drop_off
    >>> events = jl.load_dataset("sample").events
    >>> biggest_drop_off(jl.funnel(events, window=60)).step
    'from repeat to advocacy'
    """
    if not isinstance(result, FunnelResult):
        raise JourneyParameterError(f"biggest_drop_off: expected the FunnelResult of funnel(...), got "
                                    f"{type(result).__name__}")
    if result.by is not None:
        raise JourneyParameterError(f"biggest_drop_off: expected an ungrouped funnel, got one split by {result.by!r}; "
                                    "call funnel(...) without by")
    return _drop_off_of(result.stages, result.summary, confidence_level)


def funnel(
    events: Any,
    stages: Sequence[str] | str = DEFAULT_STAGES,
    *,
    closed: bool = True,
    window: Any = None,
    by: str | None = None,
    customers: Any = None,
    observation_end: Any = None,
) -> FunnelResult:
    """Stage funnel: customers reaching each stage, conversion, drop-off, time between stages.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, stage``.
        Outbound events (``schema.OUTBOUND_EVENTS``) are ignored.
    stages
        Stage names in journey order (a list, or one comma-separated string).
    closed
        ``True``: a customer counts at step k only after reaching steps 1..k-1 in
        order (each first reach no earlier than the previous step's). ``False``
        (open funnel): a customer counts at a stage if they ever reached it.
    window
        Conversion window measured from the customer's entry (first stage-1 event in
        a closed funnel; first event at any listed stage in an open one): days as a
        number, a ``pd.Timedelta`` or a string like ``"30D"``. ``None``: no limit,
        and every customer counts as mature.
    by
        Optional column of ``customers`` (e.g. ``"segment"``, ``"acquisition_channel"``)
        to compute one funnel per group.
    customers
        Customer table (needed with ``by``).
    observation_end
        End of observation (default: the last event's timestamp). Customers whose
        window ends after it are not yet mature.

    Returns
    -------
    FunnelResult
        One row per stage (per group) in ``summary``, with findings and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.funnel(events, window=60)
    >>> result.summary[["stage", "customers", "step_conversion"]].round(3)
               stage  customers  step_conversion
    0      awareness       5000            1.000
    1  consideration       3186            0.643
    2           cart       1871            0.589
    3       purchase       1265            0.682
    4         repeat        813            0.657
    5       advocacy        211            0.264
    """
    stages = check_stages(stages)
    closed = flag(closed, "closed")
    win = window_seconds(window)
    everything = events_table(events)
    t = drop_outbound(everything)
    win_us = None if win is None else int(round(win * 1_000_000))

    # times in exact epoch microseconds (engine.epoch_us: equal on DuckDB and Spark)
    # each event's position in the stage list (_s, null for other stages) is computed once
    ev = t.select("customer_id", _s=ibis.cases(*[(t.stage == s, k) for k, s in enumerate(stages)], else_=None),
                  _e=epoch_us(t))
    ev = ev.filter(ev._s.notnull())
    k_cols = [f"_t{k}" for k in range(len(stages))]
    obs_end = observation_end_of(everything, observation_end)  # given, or the log's last event (outbound too)
    obs_us = to_epoch_us(obs_end)
    with (_closed_reaches if closed else _open_reaches)(ev, stages, win_us) as cur:
        cur = _attach_group(cur, by, customers)
        mature = ibis.literal(True) if win_us is None else (cur._entry + win_us <= obs_us)
        agg = _step_stats(cur.mutate(_mature=mature), k_cols)

    rows = []
    for rec in agg.sort_values("_group").to_dict("records"):
        m0 = rec["m0"] or 0
        for k, s in enumerate(stages):
            n_k, m_k = int(rec[f"n{k}"] or 0), int(rec[f"m{k}"] or 0)
            if k == 0:
                step_conv = cum = 1.0 if m0 else np.nan
                dropped = nym = 0
                med = np.nan
            else:
                m_prev = int(rec[f"m{k - 1}"] or 0)
                step_conv = m_k / m_prev if m_prev else np.nan
                cum = m_k / m0 if m0 else np.nan
                dropped = max(m_prev - m_k, 0)
                nym = int(rec[f"nym{k}"] or 0)
                med = float(rec[f"med{k}"]) / 1e6 / DAY_SECONDS if pd.notna(rec[f"med{k}"]) else np.nan
            rows.append({
                "group": rec["_group"], "stage": s, "step": k + 1, "customers": n_k, "mature_customers": m_k,
                "step_conversion": step_conv, "cumulative_conversion": cum,
                "drop_off": 1 - step_conv if np.isfinite(step_conv) else np.nan,
                "dropped": dropped, "not_yet_mature": nym, "median_days_from_previous": med,
            })
    cols = ["group", "stage", "step", "customers", "mature_customers", "step_conversion",
            "cumulative_conversion", "drop_off", "dropped", "not_yet_mature", "median_days_from_previous"]
    summary = pd.DataFrame(rows, columns=cols)
    if by is None:
        summary = summary.drop(columns="group")
    if summary.empty:
        raise JourneyDataError(
            f"column 'stage' of events: no event at the first funnel stage '{stages[0]}'; "
            f"expected stages among {list(stages)}"
        )
    return FunnelResult(stages, bool(closed), None if win is None else win / DAY_SECONDS, by, obs_end, summary)


@contextmanager
def _open_reaches(ev: ibis.Table, stages: Sequence[str], win_us: int | None) -> Iterator[ibis.Table]:
    """One row per customer: ``customer_id, _entry, _t0.._tK``, the first time at each stage within the window."""
    ev = ev.filter(ev._s.notnull())
    entry = ev.group_by("customer_id").aggregate(_entry=ev._e.min())
    ev2 = ev.join(entry, "customer_id")
    if win_us is not None:
        ev2 = ev2.filter(ev2._e <= ev2._entry + win_us)
    aggs = {f"_t{k}": ev2._e.min(where=ev2._s == k) for k in range(len(stages))}
    yield ev2.group_by("customer_id").aggregate(_entry=ev2._entry.min(), **aggs)


@contextmanager
def _closed_reaches(ev: ibis.Table, stages: Sequence[str], win_us: int | None) -> Iterator[ibis.Table]:
    """One row per entrant: ``customer_id, _entry, _t0.._tK``, the time of each closed-funnel step (null: not reached).

    Step k is reached at the first stage-k event no earlier than step k-1's time (and
    within the window from entry). One grouped pass takes each customer's first and
    last time at every stage; from those the step times follow directly whenever the
    first stage-k time is at or after step k-1 (it is the answer) or the last one is
    before it (never reached). Only a customer with stage-k events on both sides of
    step k-1's time needs their events in order: those "tangled" customers, usually
    few or none, go through the exact event-level chain. The per-customer table is
    cached (a temporary table; a persisted DataFrame on Spark) while the caller uses it;
    in a report run it is computed once for all the run's notebooks.
    """
    k_cols = [f"_t{k}" for k in range(len(stages))]
    at = [ibis.ifelse(ev._s == k, ev._e, ibis.null("int64")) for k in range(len(stages))]
    p = ev.group_by("customer_id").aggregate(**{f"_lo{k}": e.min() for k, e in enumerate(at)},
                                             **{f"_hi{k}": e.max() for k, e in enumerate(at) if k})
    # Without a tangle, step k-1 was reached at _lo{k-1}: step k is reached at _lo{k} when
    # that is no earlier (and within the window); it is tangled when some stage-k
    # event precedes _lo{k-1} and another does not. (Each step's condition extends the
    # previous one instead of nesting the previous time, so the SQL grows linearly.)
    reached, times, tangled = ibis.literal(True), [p._lo0], ibis.literal(False)
    for k in range(1, len(stages)):
        prev, lo, hi = p[f"_lo{k - 1}"], p[f"_lo{k}"], p[f"_hi{k}"]
        tangled |= (reached & (lo < prev) & (hi >= prev)).fill_null(False)
        step = lo >= prev
        if win_us is not None:
            step &= lo <= p._lo0 + win_us
        reached = (reached & step).fill_null(False)
        times.append(ibis.ifelse(reached, lo, ibis.null("int64")))
    p = p.select("customer_id", _tangled=tangled, **dict(zip(k_cols, times)))
    with engine.materialized(p, reused=True) as p:  # three reports of a suite draw the same funnel
        cols = ["customer_id", "_entry", *k_cols]
        cur = p.filter(p._t0.notnull() & ~p._tangled).mutate(_entry=p._t0).select(*cols)
        n_tangled = engine.to_pandas(p.aggregate(n=p._tangled.cast("int64").sum()))["n"].iloc[0]
        if n_tangled:
            ids = p.filter(p._tangled).select(_tid=p.customer_id)
            exact = _closed_chain(ev.semi_join(ids, ev.customer_id == ids._tid), stages, win_us)
            cur = cur.union(exact.select(*cols))
        yield cur


def _closed_chain(ev: ibis.Table, stages: Sequence[str], win_us: int | None) -> ibis.Table:
    """The closed-funnel step times from the events in order (exact for any customer).

    A linear chain: step k LEFT-joins the step-k events onto the table of step k-1
    (the non-equi conditions sit in the join, so customers without a match keep a
    NULL) and takes the first time. Each table is referenced once, so the plan grows
    linearly with the number of stages on every engine (Spark inlines CTEs).
    """
    k_cols = [f"_t{k}" for k in range(len(stages))]
    first = ev.filter(ev._s == 0)
    cur = first.group_by("customer_id").aggregate(_t0=first._e.min()).mutate(_entry=ibis._._t0)
    for k in range(1, len(stages)):
        step = ev.filter(ev._s == k).select(_cid=ev.customer_id, _e=ev._e)
        prev = k_cols[k - 1]
        preds = [cur.customer_id == step._cid, step._e >= cur[prev]]
        if win_us is not None:
            preds.append(step._e <= cur._entry + win_us)
        j = cur.left_join(step, preds)
        carry = ["_entry"] + k_cols[:k]
        cur = j.group_by("customer_id").aggregate(**{c: j[c].min() for c in carry}, **{k_cols[k]: j._e.min()})
    return cur


def _step_stats(cur: ibis.Table, k_cols: Sequence[str]) -> pd.DataFrame:
    """Counts per group and step, and the exact median microseconds between steps, in ONE query.

    ``cur`` has one row per customer with first-reach times ``_t0.._tK`` (null when not
    reached), ``_group`` and ``_mature``. Returns one row per group with ``n{k}``
    (reached step k), ``m{k}`` (of them mature), ``nym{k}`` (reached k-1, not k, not
    mature) and ``med{k}``. A median is an unfiltered aggregate over a column that is
    null where the pair does not count: DuckDB's ``percentile_cont`` and Spark's
    ``percentile`` are both exact (the middle value, or the mean of the two middle
    values) and skip nulls, while Spark rejects a filtered one.
    """
    hit = [cur[c].notnull() for c in k_cols]
    aggs: dict[str, Any] = {}
    for k, c in enumerate(k_cols):
        aggs[f"n{k}"] = hit[k].cast("int64").sum()
        aggs[f"m{k}"] = (hit[k] & cur._mature).cast("int64").sum()
        if k:
            a, b = cur[k_cols[k - 1]], cur[c]
            aggs[f"nym{k}"] = (hit[k - 1] & ~hit[k] & ~cur._mature).cast("int64").sum()
            aggs[f"med{k}"] = ibis.ifelse(hit[k - 1] & hit[k] & (b >= a), (b - a).cast("int64"),
                                          ibis.null("int64")).median()
    return engine.to_pandas(cur.group_by("_group").aggregate(**aggs))


# --------------------------------------------------------------------------- transitions
@dataclass(frozen=True)
class TransitionResult(Result):
    """Stage-to-stage transitions between consecutive staged events of a customer.

    ``counts`` and ``probabilities`` (row-normalised) are stage x stage DataFrames
    (rows: from, columns: to; the diagonal holds repeats). ``summary`` has one row
    per move kind (forward, repeat, backward). ``share_going_back`` is the share of
    customers with at least one backward move.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.stage_transitions(events)
    >>> int(result.counts.loc["awareness", "consideration"]) > 0
    True
    """

    stages: tuple[str, ...]
    share_going_back: float
    customers: int
    _counts: pd.DataFrame = field(repr=False)

    @property
    def counts(self) -> pd.DataFrame:
        return self._counts.copy()

    @property
    def probabilities(self) -> pd.DataFrame:
        c = self._counts
        return c.div(c.sum(axis=1).replace(0, np.nan), axis=0)

    @property
    def summary(self) -> pd.DataFrame:
        c = self._counts.to_numpy()
        i, j = np.indices(c.shape)
        rows = [("forward", c[j > i].sum()), ("repeat", np.trace(c)), ("backward", c[j < i].sum())]
        out = pd.DataFrame(rows, columns=["move", "transitions"])
        out["share"] = out["transitions"] / max(out["transitions"].sum(), 1)
        return out

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Customers going back, the share of backward moves and the most frequent one."""
        if not self.customers:
            return ()
        out = [Finding(f"{self.share_going_back:.1%} of {self.customers:,} customers go back to an earlier stage "
                       "at least once.", float(self.share_going_back))]
        back = self.summary.set_index("move").loc["backward"]
        out.append(Finding(f"{back['share']:.1%} of all moves between staged events go back to an earlier stage.",
                           float(back["share"])))
        c = self._counts.to_numpy()
        i, j = np.indices(c.shape)
        below = np.where(j < i, c, 0)
        if below.max() > 0:
            a, b = np.unravel_index(np.argmax(below), c.shape)
            out.append(Finding(f"The most frequent move back is from {self.stages[a]} to {self.stages[b]} "
                               f"({int(c[a, b]):,} moves).", float(c[a, b]),
                               action="A funnel alone hides this back-and-forth: check why customers return there."))
        return tuple(out)

    def __repr__(self) -> str:
        return (f"TransitionResult({self.customers:,} customers, {self.share_going_back:.1%} go back at least once)\n"
                + self._counts.to_string())

    def _repr_html_(self) -> str:
        return findings_html(self) + _html_block(
            f"Stage transitions: {self.share_going_back:.1%} of {self.customers:,} customers go back at least once",
            self.probabilities.reset_index().rename(columns={"index": "from \\ to"}))

    def plot(self, ax=None):
        """Heat map of row probabilities (:func:`journeylib.journeys.plots.plot_transitions`); returns the Axes."""
        return plots.plot_transitions(self, ax=ax)


def _transition_cells(t: ibis.Table, stages: Sequence[str], collapse_repeats: bool, large: bool) -> ibis.Table:
    """``_kind, _prev, _r, n``: transition counts (``cell``) and customers going back (``back``).

    Stages travel as small integers: ``_r``, the stage's rank among the sorted stage
    names, so that ordering by it is ordering by the name (``schema.ORDER_KEYS``), and
    sorting and comparing integers is much cheaper than strings in the window.
    Typed ``int8``: as SQL's default integer the window takes a tenth longer at 10^8 events.
    """
    names = sorted(stages)
    t = t.mutate(_r=ibis.cases(*[(t.stage == s, r) for r, s in enumerate(names)], else_=None).cast("int8"))
    t = t.filter(t._r.notnull())  # staged events only
    t = t.select("customer_id", "ts", *[c for c in ("event", "channel") if c in t.columns], "_r")
    order = [t[c] for c in t.columns[1:]]  # schema.ORDER_KEYS
    t = engine.shift_within(t, "customer_id", order, large=large, _prev=t._r).select("customer_id", "_r", "_prev")
    if collapse_repeats:
        t = t.filter(t._prev.isnull() | (t._prev != t._r))
    pos = [stages.index(s) for s in names]  # journey position of each rank

    def position(col):
        return ibis.cases(*[(col == r, i) for r, i in enumerate(pos)], else_=None)

    # One window feeds both: cells with a NULL previous stage are each customer's first
    # stage event (their total is the number of customers); "back" counts customers
    # with at least one move to an earlier stage.
    cells = t.group_by(["_prev", "_r"]).aggregate(n=t.count()).mutate(_kind=ibis.literal("cell"))
    back = t.filter(position(t._r) < position(t._prev))
    back_row = back.aggregate(n=back.customer_id.nunique().cast("int64")).mutate(
        _prev=ibis.null("int8"), _r=ibis.null("int8"), _kind=ibis.literal("back"))
    cols = ["_kind", "_prev", "_r", "n"]
    return cells.select(*cols).union(back_row.select(_kind="_kind", _prev=back_row._prev.cast(cells._prev.type()),
                                                     _r=back_row._r.cast(cells._r.type()), n="n"))


def stage_transitions(events: Any, stages: Sequence[str] | str = DEFAULT_STAGES, *,
                      collapse_repeats: bool = False) -> TransitionResult:
    """Stage-to-stage transition counts, including backward moves and repeats.

    Consecutive events of a customer with a stage in ``stages`` (ordered by
    ``schema.ORDER_KEYS``) form one transition each. ``collapse_repeats`` drops
    same-stage transitions (the diagonal). Counted in one query with a window per
    customer (:func:`journeylib.core.buckets.summed_windowed`).

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, stage``.
    stages
        Stage names in journey order (a list, or one comma-separated string).
    collapse_repeats
        Drop same-stage transitions (the diagonal).

    Returns
    -------
    TransitionResult
        Counts and row probabilities (stage x stage), a summary per move kind, and
        the share of customers going back.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.stage_transitions(events)
    >>> result.summary.round(3)
           move  transitions  share
    0   forward        17436  0.367
    1    repeat        18492  0.389
    2  backward        11625  0.244
    >>> round(result.share_going_back, 3)
    0.305
    """
    stages = check_stages(stages)
    collapse_repeats = flag(collapse_repeats, "collapse_repeats")
    t = drop_outbound(events_table(events, ("customer_id", "ts", "stage")))
    out = buckets.summed_windowed(t, lambda tb, large: _transition_cells(tb, stages, collapse_repeats, large),
                                  ["_kind", "_prev", "_r"], ["n"])
    names = sorted(stages)
    counts = out[(out["_kind"] == "cell") & out["_prev"].notna()]
    counts = pd.DataFrame({"_prev": [names[int(r)] for r in counts["_prev"]],
                           "stage": [names[int(r)] for r in counts["_r"]], "n": counts["n"]})
    n_cust = out.loc[(out["_kind"] == "cell") & out["_prev"].isna(), "n"].sum()
    back = out.loc[out["_kind"] == "back", "n"].sum()
    mat = pd.DataFrame(0, index=list(stages), columns=list(stages), dtype="int64")
    for a, b, n in counts.itertuples(index=False):
        mat.loc[a, b] = int(n)
    mat.index.name, mat.columns.name = "from", "to"
    n_cust = int(n_cust or 0)
    return TransitionResult(stages, float(back or 0) / n_cust if n_cust else float("nan"), n_cust, mat)


# --------------------------------------------------------------------------- journey map data
@dataclass(frozen=True)
class JourneyMapData(Result):
    """Per-stage numbers behind the journey map (drawn by :func:`journeylib.journeys.plots.plot_journey_map`).

    ``summary``: ``stage, customers, conversion_to_next, drop_off, median_days_in_stage,
    top_touchpoints`` (text), ``score_mean, score_n`` (when a score column exists),
    ``top_drop_off`` (bool: one of the stages that lose the largest share to the next).
    ``touchpoints``: ``stage, touchpoint, events, share``.

    The measured map (first-time and repeat journeys apart, KPIs, the emotion line with
    intervals, pain points ranked by the pain score) is
    :func:`journeylib.journeys.journey_map.journey_map`, which builds on this (its ``data``);
    this stays the quick per-stage table of report 01, which flags drop-offs, not pain points.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.stages import journey_map_data
    >>> events = jl.load_dataset("sample").events
    >>> data = journey_map_data(events, window=60)
    >>> data.summary.loc[data.summary.top_drop_off, "stage"].tolist()
    ['consideration', 'repeat']
    """

    stages: tuple[str, ...]
    score_col: str | None
    _summary: pd.DataFrame = field(repr=False)
    _touchpoints: pd.DataFrame = field(repr=False)
    biggest_drop_off: DropOff | None = None

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def touchpoints(self) -> pd.DataFrame:
        return self._touchpoints.copy()

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The largest drop-offs (largest first) and, with scores, the least satisfied stage.

        The first is the biggest drop-off (:class:`DropOff`), in the same words as the funnel's
        finding.
        """
        s = self._summary
        out = []
        drops = s[s["top_drop_off"]].sort_values("drop_off", ascending=False, kind="stable")
        for r in drops.head(3).itertuples(index=False):
            if not np.isfinite(r.drop_off):
                continue
            nxt = self.stages[self.stages.index(r.stage) + 1]
            d = self.biggest_drop_off
            if d is not None and (d.from_stage, d.to_stage) == (r.stage, nxt):
                out.append(d.finding)
                continue
            out.append(Finding(f"Drop-off {r.stage} to {nxt}: {r.drop_off:.1%} of the customers who reached "
                               f"{r.stage} did not go on to {nxt}.", float(r.drop_off),
                               action=f"Look at the experience between {r.stage} and {nxt} next."))
        if "score_mean" in s.columns and s["score_mean"].notna().any():
            low = s.loc[s["score_mean"].idxmin()]
            out.append(Finding(f"Satisfaction is lowest at {low['stage']}: mean {self.score_col} "
                               f"{low['score_mean']:.2f} from {int(low['score_n']):,} ratings.",
                               float(low["score_mean"])))
        return tuple(out)

    def __repr__(self) -> str:
        return "JourneyMapData\n" + self._summary.to_string(index=False)

    def _repr_html_(self) -> str:
        return findings_html(self) + _html_block("Journey map data", self._summary)

    def plot(self, ax=None, **kwargs):
        """Draw the journey map (:func:`journeylib.journeys.plots.plot_journey_map`); returns the Axes."""
        return plots.plot_journey_map(self, ax=ax, **kwargs)


def journey_map_data(events: Any, stages: Sequence[str] | str = DEFAULT_STAGES, *, window: Any = None,
                     touch_col: str = "channel", score_col: str | None = "score", top_n: int = 3,
                     n_drop_offs: int = 2, observation_end: Any = None,
                     funnel_result: FunnelResult | None = None) -> JourneyMapData:
    """Numbers for the journey map: one row per stage.

    Customers and conversion come from the closed :func:`funnel`; the median time in
    a stage is the median time from first reaching it to first reaching the next;
    top touchpoints are the most frequent ``touch_col`` values of events at that
    stage; the score line is the mean of ``score_col`` (CSAT/NPS/rating) per stage
    when that column exists. The ``n_drop_offs`` stages with the largest drop-off
    to the next stage are flagged (``top_drop_off``). ``funnel_result``: the closed, ungrouped
    :func:`funnel` of the same events and stages, when it is already computed (it then
    also fixes ``window`` and ``observation_end``); saves one pass over the events.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, stage`` and
        ``touch_col`` (and ``score_col`` when there is one).
    stages
        Stage names in journey order (a list, or one comma-separated string).
    window
        Conversion window of the funnel (as in :func:`funnel`).
    touch_col
        Column naming the touchpoint of an event (``channel`` by default).
    score_col
        Satisfaction score column (CSAT/NPS/rating); ``None`` or absent: no score line.
    top_n
        Touchpoints listed per stage.
    n_drop_offs
        Stages flagged as top drop-offs (largest drop-off to the next stage).
    observation_end
        End of observation (default: the last event's timestamp).
    funnel_result
        The closed, ungrouped funnel of the same events, when already computed.

    Returns
    -------
    JourneyMapData
        One row per stage (``summary``) and the touchpoints per stage (``touchpoints``).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.stages import journey_map_data
    >>> events = jl.load_dataset("sample").events
    >>> data = journey_map_data(events, window=60)
    >>> data.summary[["stage", "customers", "top_drop_off"]].head(2)
               stage  customers  top_drop_off
    0      awareness       5000         False
    1  consideration       3186          True
    """
    stages = check_stages(stages)
    if funnel_result is None:
        funnel_result = funnel(events, stages, window=window, observation_end=observation_end)
        f = funnel_result.summary
    else:
        r = funnel_result
        win = window_seconds(window)
        if (tuple(r.stages) != tuple(stages) or not r.closed or r.by is not None
                or (win is not None and r.window_days != win / DAY_SECONDS)):
            raise JourneyParameterError(
                f"funnel_result: computed for stages {list(r.stages)}, closed={r.closed}, by={r.by!r}, "
                f"window_days={r.window_days}; expected the closed, ungrouped funnel of {list(stages)}"
                + (f" with window {win / DAY_SECONDS:g} days" if win is not None else ""))
        f = r.summary
    t = drop_outbound(events_table(events))
    t = t.filter(t.stage.isin(list(stages)))
    rows = pd.DataFrame({"stage": list(stages), "customers": f["customers"].to_numpy()})
    rows["conversion_to_next"] = list(f["step_conversion"].to_numpy()[1:]) + [np.nan]
    rows["drop_off"] = 1 - rows["conversion_to_next"]
    rows["median_days_in_stage"] = list(f["median_days_from_previous"].to_numpy()[1:]) + [np.nan]
    tp = pd.DataFrame(columns=["stage", "touchpoint", "events", "share"])
    if touch_col in t.columns:
        tt = t.filter(t[touch_col].notnull())
        tp = engine.to_pandas(tt.group_by(["stage", touch_col]).aggregate(events=tt.count()))
        tp = tp.rename(columns={touch_col: "touchpoint"})
        tp["share"] = tp["events"] / tp.groupby("stage")["events"].transform("sum")
        tp = tp.sort_values(["stage", "events"], ascending=[True, False]).reset_index(drop=True)
    tops = {s: ", ".join(f"{r.touchpoint} {r.share:.0%}" for r in g.head(top_n).itertuples())
            for s, g in tp.groupby("stage")}
    rows["top_touchpoints"] = rows["stage"].map(tops).fillna("")
    used_score = score_col if score_col and score_col in t.columns else None
    if used_score:
        sc = t.filter(t[used_score].notnull())
        agg = engine.to_pandas(sc.group_by("stage").aggregate(score_mean=sc[used_score].cast("float64").mean(),
                                                               score_n=sc.count()))
        rows = rows.merge(agg, on="stage", how="left")
    # the same order as biggest_drop_off: largest share first, ties to the earlier step
    ranked = rows["drop_off"].iloc[:-1].dropna().sort_values(ascending=False, kind="stable")
    top = set(ranked.index[: max(int(n_drop_offs), 0)])
    rows["top_drop_off"] = rows.index.isin(top)
    return JourneyMapData(stages, used_score, rows, tp, biggest_drop_off(funnel_result))
