"""Acquisition cohorts, retention and revenue triangles, repeat purchase.

Engine half: one pass over the event log gives cohort x period cells (customers
active, orders, revenue) and the cohort sizes, or per-customer first/second purchase
days and the inter-purchase gaps. Stats half: pandas pivots, a Kaplan-Meier curve
for the time to the second order (lifelines' estimate, from sorted arrays:
:func:`journeylib.retention.survival.curve_every_hour`), Wilson intervals (statsmodels).

A cohort cell that cannot be observed completely yet (the period has not ended by
``observation_end``) is NaN, shown blank, and left out of every average: it is
never reported as zero retention.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, NamedTuple

import ibis
import numpy as np
import pandas as pd

from ..core import engine
from ..core.checks import is_number, no_event_error, whole_number
from ..core.intervals import wilson_interval
from ..core.display import html_table
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.result import Check, Finding, Result
from ..core.schema import OUTBOUND_EVENTS, PURCHASE_EVENT
from ..core.time import DAY_SECONDS, day_number, end_of_day, month_number, observation_end, to_utc, utc_literal
from . import plots

PERIODS = {"W": "week", "M": "month", "Q": "quarter"}
_MONDAY = 345600  # epoch seconds of Monday 1970-01-05


# --------------------------------------------------------------------------- helpers

def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise JourneyParameterError(f"period={period!r}; expected one of {list(PERIODS)} (week, month, quarter)")


def _period_number(ts: ibis.Value, period: str) -> ibis.Value:
    """Integer index of the UTC calendar period holding ``ts``.

    Weeks (from Monday) are integer arithmetic on the day number (day 4 = Monday
    1970-01-05); months are ``year * 12 + month - 1`` and quarters that // 3, matching
    :func:`_period_start` and :func:`_period_index_pd`.
    """
    if period == "W":
        return (day_number(ts) - 4) // 7
    m = month_number(ts)
    return m if period == "M" else m // 3


def _period_start(idx: np.ndarray | pd.Series, period: str) -> pd.DatetimeIndex:
    idx = np.asarray(idx, dtype="int64")
    if period == "M":
        return pd.to_datetime(pd.DataFrame({"year": idx // 12, "month": idx % 12 + 1, "day": 1}), utc=True)
    if period == "Q":
        return pd.to_datetime(pd.DataFrame({"year": idx // 4, "month": (idx % 4) * 3 + 1, "day": 1}), utc=True)
    return pd.to_datetime(_MONDAY + idx * 604800, unit="s", utc=True)


def _period_label(idx, period: str) -> list[str]:
    starts = _period_start(idx, period)
    if period == "M":
        return [d.strftime("%Y-%m") for d in starts]
    if period == "Q":
        return [f"{d.year}Q{(d.month - 1) // 3 + 1}" for d in starts]
    return [d.strftime("%Y-%m-%d") for d in starts]


def whole_day_end(events: Any, given: Any = None, name: str = "observation_end") -> pd.Timestamp:
    """The end of an analysis in whole days: ``given`` (as UTC), else the end of the last day with data.

    Events strictly before it count. Used by cohorts, RFM and the loyalty programme windows.

    Parameters
    ----------
    events
        Event log with ``ts``.
    given
        An explicit end (anything :func:`journeylib.core.time.to_utc` reads), or ``None``.
    name
        The parameter's name (for the message).

    Returns
    -------
    pandas.Timestamp
        The end, UTC.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty.cohorts import whole_day_end
    >>> whole_day_end(events)  # the log's last event is on 2025-06-30
    Timestamp('2025-07-01 00:00:00+0000', tz='UTC')
    """
    if given is not None:
        return to_utc(given, name)
    return end_of_day(observation_end(events))


def prepare_events(events: Any) -> ibis.Table:
    """The event log as an engine table with ``customer_id, ts, event`` and a ``revenue`` column (null if absent).

    Parameters
    ----------
    events
        Event log: a DataFrame, an Ibis table or a path.

    Returns
    -------
    ibis.Table
        The log, with ``revenue`` added as nulls when it has none.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty.cohorts import prepare_events
    >>> "revenue" in prepare_events(events.drop("revenue")).columns
    True
    """
    t = engine.to_table(events)
    missing = [c for c in ("customer_id", "ts", "event") if c not in t.columns]
    if missing:
        raise JourneyDataError(f"events: missing column(s) {missing}; expected customer_id, ts, event "
                               "(load it with load_events)")
    if "revenue" not in t.columns:
        t = t.mutate(revenue=ibis.null("float64"))
    return t


# --------------------------------------------------------------------------- cohort triangles

@dataclass(frozen=True, repr=False)
class CohortTable(Result):
    """Cohort x period cells with retention and revenue triangles.

    ``cells`` is tidy: ``cohort, cohort_start, period, size, active, orders, revenue,
    observed, retention, revenue_per_customer, cumulative_revenue_per_customer``;
    unobserved cells have NaN in every measure.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.cohort_table(events, period="M")
    >>> result.cells[["cohort", "period", "size", "active", "retention"]].head(3).round(3)
        cohort  period  size  active  retention
    0  2024-01       0    62      62      1.000
    1  2024-01       1    62      31      0.500
    2  2024-01       2    62      29      0.468
    """

    cells: pd.DataFrame
    period: str
    cohort_by: str
    active_on: str
    observation_end: pd.Timestamp

    def _pivot(self, col: str) -> pd.DataFrame:
        p = self.cells.pivot(index="cohort", columns="period", values=col)
        p.columns.name = f"{PERIODS[self.period]}s since acquisition"
        return p

    @property
    def retention(self) -> pd.DataFrame:
        """Share of the cohort active in each period since acquisition (NaN = not observable yet)."""
        return self._pivot("retention")

    @property
    def revenue(self) -> pd.DataFrame:
        """Revenue per cohort customer in each period."""
        return self._pivot("revenue_per_customer")

    @property
    def cumulative_revenue(self) -> pd.DataFrame:
        """Cumulative revenue per cohort customer up to each period."""
        return self._pivot("cumulative_revenue_per_customer")

    def average_retention(self, confidence_level: float = 0.95) -> pd.DataFrame:
        """Size-weighted mean retention per period over the cohorts that can be observed.

        ``ci_low``, ``ci_high``: Wilson interval of the pooled share (active / customers).
        """
        c = self.cells[self.cells["observed"]]
        g = c.groupby("period").agg(cohorts=("cohort", "size"), customers=("size", "sum"),
                                    active=("active", "sum"), revenue=("revenue", "sum"))
        g["retention"] = g["active"] / g["customers"]
        g["revenue_per_customer"] = g["revenue"] / g["customers"]
        if len(g):
            g["ci_low"], g["ci_high"] = wilson_interval(g["active"], g["customers"], confidence_level)
        else:
            g["ci_low"], g["ci_high"] = pd.Series(dtype=float), pd.Series(dtype=float)
        return g.reset_index()

    def retention_intervals(self, confidence_level: float = 0.95) -> pd.DataFrame:
        """Each cohort's retention per observable period with its Wilson interval (the band of its curve).

        One row per observable cohort-period: ``cohort, period, customers`` (the cohort's size),
        ``active, retention, ci_low, ci_high``.
        """
        c = self.cells[self.cells["observed"]]
        out = pd.DataFrame({"cohort": c["cohort"].to_numpy(), "period": c["period"].to_numpy(),
                            "customers": c["size"].to_numpy(), "active": c["active"].to_numpy(),
                            "retention": c["retention"].to_numpy()})
        if len(out):
            lo, hi = wilson_interval(out["active"], out["customers"], confidence_level)
            out["ci_low"], out["ci_high"] = np.asarray(lo, float), np.asarray(hi, float)
        else:
            out["ci_low"], out["ci_high"] = pd.Series(dtype=float), pd.Series(dtype=float)
        return out

    def _milestones(self, first: int = 0) -> tuple[pd.DataFrame, int, int] | None:
        """The average retention, the age one period after acquisition and the oldest age that at least
        :data:`journeylib.loyalty.plots.MIN_COHORTS` cohorts are old enough to show (the oldest age at all when none is)."""
        avg = self.average_retention().set_index("period")
        avg = avg[avg.index >= first]
        if avg.empty:
            return None
        enough = avg.index[(avg.index >= 1) & (avg["cohorts"] >= plots.MIN_COHORTS)]  # age 0 is 100% anyway
        last = int(enough.max()) if len(enough) else int(avg.index.max())
        k = 1 if 1 in avg.index else last
        return avg, k, max(k, last)

    @property
    def reading(self) -> str:
        """Average retention one period after acquisition and at the oldest observable age, in words."""
        m = self._milestones()
        if m is None:
            return "No cohort is old enough yet to show retention."
        avg, k, last = m
        unit = PERIODS[self.period]
        what = "buys" if self.active_on == "purchase" else "is active"
        text = (f"Cohort retention: on average {avg.loc[k, 'retention']:.0%} of a cohort {what} in {unit} {k} after "
                f"acquisition ({int(avg.loc[k, 'cohorts'])} observable cohorts, size-weighted).")
        if last != k:
            text += (f" In {unit} {last}, {avg.loc[last, 'retention']:.0%} of a cohort still {what} (only "
                     f"{int(avg.loc[last, 'cohorts'])} cohort(s) are old enough to show this).")
        return text

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Retention one period after acquisition and at the oldest observable age, with 95% intervals."""
        m = self._milestones(first=1)  # period 0 is everyone's first purchase: 100% by construction
        if m is None:
            return (Finding("No cohort is old enough yet to show retention."),)
        avg, k, last = m
        unit = PERIODS[self.period]
        what = "buys" if self.active_on == "purchase" else "is active"
        out = []
        def cohorts(age: int) -> str:
            n = int(avg.loc[age, "cohorts"])
            return f"{n} cohort{'s' if n != 1 else ''}"

        for age, text in ((k, f"Cohort retention: {{v:.0%}} of a cohort {what} in {unit} {k} after acquisition "
                               f"({{lo:.0%}} to {{hi:.0%}}, {cohorts(k)})."),
                          (last, f"In {unit} {last} after acquisition, {{v:.0%}} of a cohort still {what} "
                                 f"({{lo:.0%}} to {{hi:.0%}}, {cohorts(last)} old enough).")):
            if age == k and out:
                continue
            r = avg.loc[age]
            v, lo, hi = float(r["retention"]), float(r["ci_low"]), float(r["ci_high"])
            out.append(Finding(text.format(v=v, lo=lo, hi=hi), v, lo, hi))
            if last == k:
                break
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        """Whether any cohort is old enough to show retention one period after acquisition."""
        observed = self.cells[self.cells["observed"] & (self.cells["period"] == 1)]
        n = int(observed["cohort"].nunique())
        unit = PERIODS[self.period]
        return (Check(f"cohorts observable one {unit} after acquisition", "pass" if n >= 2 else "warn",
                      f"{n} cohort(s) have a complete {unit} 1"),)

    @property
    def summary(self) -> pd.DataFrame:
        """Cohort comparison: size, retention and cumulative revenue per customer at milestones."""
        size = self.cells.groupby("cohort")["size"].first()
        out = pd.DataFrame({"customers": size})
        ret, cum = self.retention, self.cumulative_revenue
        marks = [k for k in (1, 3, 6, 12) if k in ret.columns] or list(ret.columns[:1])
        unit = PERIODS[self.period]
        for k in marks:
            out[f"retention_{unit}_{k}"] = ret[k]
        for k in marks:
            out[f"revenue_per_customer_by_{unit}_{k}"] = cum[k]
        return out.reset_index()

    def plot(self, ax=None, *, kind: str = "retention", annotate: bool | None = None):
        """Heat map of the triangle (``kind`` = retention, revenue or cumulative); blank = not observable."""
        return plots.plot_cohort_heatmap(self, ax=ax, kind=kind, annotate=annotate)

    def plot_curves(self, ax=None, *, max_cohorts: int = 12):
        """Retention curve of each cohort (latest ``max_cohorts``) and the weighted average."""
        return plots.plot_cohort_curves(self, ax=ax, max_cohorts=max_cohorts)

    def __repr__(self) -> str:
        n = self.cells.groupby("cohort")["size"].first()
        return (f"Acquisition cohorts: {len(n)} {PERIODS[self.period]}ly cohorts, {int(n.sum()):,} customers, "
                f"{int(self.cells['observed'].sum()):,} observable cells, data up to "
                f"{self.observation_end - pd.Timedelta(microseconds=1):%Y-%m-%d}")

    def _repr_html_(self) -> str:
        s = self.summary.copy()
        # two header rows ("share buying in month" over 1, 3, 6, 12): the long headers made the table wider
        # than the page
        unit = PERIODS[self.period]
        heads = {"retention": f"share of the cohort buying in {unit}",
                 "revenue": f"revenue per customer up to {unit}"}
        s.columns = pd.MultiIndex.from_tuples(
            [(heads[c.split("_", 1)[0]], c.rsplit("_", 1)[1]) if c.startswith(("retention_", "revenue_")) else ("", c)
             for c in s.columns])
        formats = {c: "{:.1%}" if c[0] == heads["retention"] else "{:,.2f}" for c in s.columns if c[0]}
        note = ("Retention: share of the cohort buying in that period. Revenue: cumulative revenue per cohort customer "
                "up to that period. – : not observable yet (the period had not ended when the data stop).")
        n = self.cells.groupby("cohort")["size"].first()
        caption = (f"{len(n)} {PERIODS[self.period]}ly cohorts, {int(n.sum()):,} customers; data up to "
                   f"{self.observation_end - pd.Timedelta(microseconds=1):%Y-%m-%d}.")
        return (_head_html(self) + f"<p>{html.escape(caption)}</p><p>{html.escape(note)}</p>"
                + html_table(s, "{:.3g}", formats=formats))


def _head_html(result: Result) -> str:
    """Findings and the checks that did not pass, escaped, above a result's table."""
    parts = [f"<p>{html.escape(str(f))}</p>" for f in result.findings]
    parts += [f"<p><b>{html.escape(c.status)}:</b> {html.escape(c.name)}"
              f"{' — ' + html.escape(c.detail) if c.detail else ''}</p>" for c in result.checks if c.status != "pass"]
    return "".join(parts)


def cohort_table(
    events: Any,
    *,
    period: str = "M",
    cohort_by: str = "first_purchase",
    active_on: str = "purchase",
    observation_end: Any = None,
    purchase_event: str = PURCHASE_EVENT,
) -> CohortTable:
    """Acquisition cohorts and their retention / revenue triangles.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) in the canonical schema.
    period
        Cohort and age period: ``"W"`` (ISO weeks from Monday), ``"M"`` or ``"Q"``.
    cohort_by
        ``"first_purchase"`` or ``"first_activity"`` (first non-outbound event).
    active_on
        What counts as active in a period: ``"purchase"`` or ``"any"`` (any event a
        customer makes; outbound events such as win-back sends do not count).
    observation_end
        Data are complete before this instant; default: the end of the last day in
        the data. A period counts as observed only if it has ended by then.
    purchase_event
        Name of the purchase event (revenue is taken from these rows).

    Returns
    -------
    CohortTable
        Cells, retention and revenue triangles, findings and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.cohort_table(events, period="M")
    >>> print(result.findings[0].text)
    Cohort retention: 53% of a cohort buys in month 1 after acquisition (50% to 55%, 17 cohorts).
    """
    _check_period(period)
    if cohort_by not in ("first_purchase", "first_activity"):
        raise JourneyParameterError(f"cohort_by={cohort_by!r}; expected 'first_purchase' or 'first_activity'")
    if active_on not in ("purchase", "any"):
        raise JourneyParameterError(f"active_on={active_on!r}; expected 'purchase' or 'any'")
    t = prepare_events(events)
    end = whole_day_end(t, observation_end)
    t = t.filter(t.ts < utc_literal(end))
    # The cohort is each customer's first period (a per-customer aggregate, one row per
    # customer); every activity row is joined to it and counted per (cohort, age) cell.
    # Only the columns needed travel; the period is plain arithmetic on the timestamp
    # (no calendar join). Measured on DuckDB, this beats a per-(customer, period)
    # aggregate + window minimum, whose hash table has about half as many groups as rows.
    own = t.filter(~t.event.isin(list(OUTBOUND_EVENTS)))
    purchases = t.filter(t.event == purchase_event)

    def periods(x: ibis.Table) -> ibis.Table:
        is_p = x.event == purchase_event
        return x.select("customer_id", p=_period_number(x.ts, period), is_p=is_p.cast("int64"),
                        rev=ibis.ifelse(is_p, x.revenue.cast("float64").fill_null(0.0), 0.0))

    act = periods(purchases if active_on == "purchase" else own)
    src = act if (cohort_by == "first_purchase") == (active_on == "purchase") else \
        periods(purchases if cohort_by == "first_purchase" else own)
    first = src.group_by("customer_id").aggregate(cohort_idx=src.p.min())
    a = act.join(first, "customer_id")
    a = a.mutate(k=a.p - a.cohort_idx).filter(lambda x: x.k >= 0)
    cells = engine.to_pandas(a.group_by(["cohort_idx", "k"]).aggregate(
        active=a.customer_id.nunique(), orders=a.is_p.sum(), revenue=a.rev.sum()))
    if cohort_by == "first_activity" and active_on == "purchase":
        sizes = engine.to_pandas(first.group_by("cohort_idx").aggregate(size=first.count()))
    else:
        # each customer is active in the first period of his own cohort: sizes come for free
        sizes = cells.loc[cells["k"] == 0, ["cohort_idx", "active"]].rename(columns={"active": "size"})
    if sizes.empty:
        msg = (f"events: nobody has a {'purchase' if cohort_by == 'first_purchase' else 'event'} "
               f"before {end}; no cohorts to build")
        if cohort_by == "first_purchase" or active_on == "purchase":
            raise no_event_error(t, purchase_event, "purchase_event", msg)
        raise JourneyDataError(msg)
    # full grid of cohorts x ages up to the last period, so unobserved cells exist as NaN
    last_idx = int(pd.Series(_period_index_pd(end - pd.Timedelta(microseconds=1), period)).iloc[0])
    rows = []
    for c in sizes["cohort_idx"].astype(int):
        for k in range(0, last_idx - c + 1):
            rows.append((c, k))
    grid = pd.DataFrame(rows, columns=["cohort_idx", "k"]).merge(sizes, on="cohort_idx")
    cells = grid.merge(cells, on=["cohort_idx", "k"], how="left")
    for col in ("active", "orders", "revenue"):
        cells[col] = pd.to_numeric(cells[col]).fillna(0)
    next_start = _period_start(cells["cohort_idx"] + cells["k"] + 1, period)
    cells["observed"] = np.asarray(next_start <= end)
    cells = cells.sort_values(["cohort_idx", "k"]).reset_index(drop=True)
    cells["retention"] = (cells["active"] / cells["size"]).where(cells["observed"])
    cells["revenue_per_customer"] = (cells["revenue"] / cells["size"]).where(cells["observed"])
    cum = cells.groupby("cohort_idx")["revenue"].cumsum() / cells["size"]
    cells["cumulative_revenue_per_customer"] = cum.where(cells["observed"])
    for col in ("active", "orders", "revenue"):
        cells[col] = cells[col].where(cells["observed"])
    cells.insert(0, "cohort", _period_label(cells["cohort_idx"], period))
    cells.insert(1, "cohort_start", _period_start(cells["cohort_idx"], period))
    cells = cells.rename(columns={"k": "period"}).drop(columns="cohort_idx")
    return CohortTable(cells, period, cohort_by, active_on, end)


def _period_index_pd(ts: pd.Timestamp, period: str) -> int:
    if period == "M":
        return ts.year * 12 + ts.month - 1
    if period == "Q":
        return ts.year * 4 + ts.quarter - 1
    return int((ts.floor("D").timestamp() - _MONDAY) // 604800)


# --------------------------------------------------------------------------- repeat purchase

@dataclass(frozen=True, repr=False)
class RepeatPurchase(Result):
    """Repeat rate by group, inter-purchase gaps and time to the second order.

    ``by_group``: ``<by>, eligible, repeaters, repeat_rate, ci_low, ci_high`` (Wilson
    interval at ``confidence_level``); ``time_to_second``: ``days,
    share_with_second_order, ci_low, ci_high, at_risk`` (Kaplan-Meier, read every hour).

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.repeat_purchase(events, within_days=90)
    >>> result.by_group.head(2).round(3)
        cohort  eligible  repeaters  repeat_rate  ci_low  ci_high
    0  2024-01        62         45        0.726   0.604    0.821
    1  2024-02        63         47        0.746   0.627    0.837
    """

    by_group: pd.DataFrame
    gaps: pd.DataFrame
    time_to_second: pd.DataFrame
    customers: pd.DataFrame
    within_days: int
    by: str
    confidence_level: float = 0.95

    @property
    def summary(self) -> pd.DataFrame:
        return self.by_group.copy()

    @property
    def median_gap_days(self) -> float:
        g = self.gaps
        c = g["count"].cumsum()
        return float(g["gap_days"][c >= c.iloc[-1] / 2].iloc[0]) if len(g) else float("nan")

    def overall_rate(self) -> tuple[float, float, float]:
        """Repeat rate over all eligible customers with its Wilson interval: ``(rate, ci_low, ci_high)``."""
        n, k = int(self.by_group["eligible"].sum()), int(self.by_group["repeaters"].sum())
        if n == 0:
            return float("nan"), float("nan"), float("nan")
        return (k / n, *wilson_interval(k, n, self.confidence_level))

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The overall repeat rate, the best and worst group, and the typical gap between orders."""
        rate, lo, hi = self.overall_rate()
        out = []
        if np.isfinite(rate):
            out.append(Finding(f"Repeat-purchase rate: {rate:.0%} of customers place a second order within "
                               f"{self.within_days} days of their first ({lo:.0%} to {hi:.0%}).", rate, lo, hi))
        g = self.by_group[self.by_group["eligible"] > 0]
        if len(g) > 1:
            best, worst = g.loc[g["repeat_rate"].idxmax()], g.loc[g["repeat_rate"].idxmin()]
            label = self.by.replace("_", " ")
            if best["ci_low"] > worst["ci_high"]:
                out.append(Finding(f"By {label}, {best[self.by]} repeats most ({best['repeat_rate']:.0%}, "
                                   f"{best['ci_low']:.0%} to {best['ci_high']:.0%}) and {worst[self.by]} least "
                                   f"({worst['repeat_rate']:.0%}, {worst['ci_low']:.0%} to {worst['ci_high']:.0%}).",
                                   float(best["repeat_rate"]), float(best["ci_low"]), float(best["ci_high"]),
                                   action=f"Look at what {best[self.by]} does differently before its customers' "
                                          "second order."))
        if np.isfinite(self.median_gap_days):
            out.append(Finding(f"Half of all repeat orders come within {self.median_gap_days:.0f} days of the "
                               "previous one.", self.median_gap_days))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        """Groups with fewer than 30 eligible customers give wide, unstable repeat rates.

        By cohort, the youngest cohort is left out: only its first days are old enough to
        be eligible, so it is small by construction.
        """
        groups = self.by_group.iloc[:-1] if self.by == "cohort" else self.by_group
        small = groups[groups["eligible"] < 30]
        what = "cohort(s) before the youngest" if self.by == "cohort" else "group(s)"
        return (Check("repeat rate: at least 30 eligible customers per group", "warn" if len(small) else "pass",
                      f"{len(small)} of {len(groups)} {what} have fewer than 30"),)

    def plot(self, ax=None):
        """Repeat rate within ``within_days`` by group with its Wilson intervals."""
        return plots.plot_repeat_rate(self, ax=ax)

    def plot_gaps(self, ax=None, *, max_days: int = 365):
        """Histogram of days between consecutive purchase days, up to the 99th percentile (at most ``max_days``)."""
        return plots.plot_purchase_gaps(self, ax=ax, max_days=max_days)

    def plot_time_to_second(self, ax=None):
        """Kaplan-Meier share of customers with a second order by days since the first."""
        return plots.plot_time_to_second(self, ax=ax)

    def __repr__(self) -> str:
        n = int(self.by_group["eligible"].sum())
        r = self.by_group["repeaters"].sum() / max(n, 1)
        return (f"Repeat purchase by {self.by.replace('_', ' ')}: {r:.1%} of {n:,} customers ordered again within "
                f"{self.within_days} days; median gap between orders {self.median_gap_days:g} days")

    def _repr_html_(self) -> str:
        shares = {c: "{:.1%}" for c in ("repeat_rate", "ci_low", "ci_high")}
        n = int(self.by_group["eligible"].sum())
        caption = (f"Second purchase within {self.within_days} days: {n:,} customers who could be followed that long, "
                   f"{self.by_group['repeaters'].sum() / max(n, 1):.1%} bought again; median gap between orders "
                   f"{self.median_gap_days:g} days.")
        return _head_html(self) + f"<p>{html.escape(caption)}</p>" + html_table(self.by_group, formats=shares)


class RepeatRate(NamedTuple):
    """The repeat-purchase rate with its Wilson interval (:func:`repeat_purchase_rate`).

    Attributes
    ----------
    rate
        Share of eligible buyers with a second order within ``within_days``.
    ci_low, ci_high
        Its Wilson interval.
    eligible
        Buyers whose first order is at least ``within_days`` old.
    repeaters
        Of those, buyers with a second order in time.
    within_days
        The repeat window (days).

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty.cohorts import repeat_purchase_rate
    >>> r = repeat_purchase_rate(events, within_days=90)
    >>> r.eligible, r.repeaters, round(r.rate, 3)
    (1095, 833, 0.761)
    """

    rate: float
    ci_low: float
    ci_high: float
    eligible: int
    repeaters: int
    within_days: int


def repeat_purchase_rate(events: Any, *, within_days: int = 90, observation_end: Any = None,
                         purchase_event: str = PURCHASE_EVENT, confidence_level: float = 0.95) -> RepeatRate:
    """THE repeat-purchase rate of every report: the share of buyers who place a second order (a purchase on
    another day) within ``within_days`` days of their first, among buyers whose first order is at least
    ``within_days`` before ``observation_end`` (younger buyers could not have repeated yet), with a Wilson
    interval (:func:`journeylib.core.intervals.wilson_interval`).

    Cohort retention ("share of a cohort buying in month k") and retention after n days (the retention
    report) are different concepts and are named so. Same numbers as
    :meth:`RepeatPurchase.overall_rate` of :func:`repeat_purchase`.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event``.
    within_days
        The repeat window (days).
    observation_end
        Data end (default: the end of the last day with data).
    purchase_event
        Name of the purchase event.
    confidence_level
        Level of the Wilson interval.

    Returns
    -------
    RepeatRate
        ``rate, ci_low, ci_high, eligible, repeaters, within_days``.

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> from journeylib.loyalty.cohorts import repeat_purchase_rate
    >>> r = repeat_purchase_rate(events, within_days=90)
    >>> round(r.rate, 3), round(r.ci_low, 3), round(r.ci_high, 3)
    (0.761, 0.735, 0.785)
    """
    rep = repeat_purchase(events, within_days=within_days, observation_end=observation_end,
                          purchase_event=purchase_event, confidence_level=confidence_level)
    rate, lo, hi = rep.overall_rate()
    return RepeatRate(rate, lo, hi, int(rep.by_group["eligible"].sum()), int(rep.by_group["repeaters"].sum()),
                      rep.within_days)


def _day_to_timestamp(days: pd.Series) -> pd.Series:
    """UTC midnight of day numbers (days since 1970-01-01); missing days become NaT.

    Integer arithmetic in numpy, not ``pd.to_datetime(floats, unit="s")``: on a float
    column with NaN, pandas 2.x reads uninitialised memory there and now and then raises
    a spurious ``FloatingPointError`` (pandas-dev/pandas#58419, fixed in pandas 3.0).
    """
    v = pd.to_numeric(days).astype("float64").to_numpy()
    missing = np.isnan(v)
    secs = np.where(missing, 0, v).astype("int64") * DAY_SECONDS
    out = secs.astype("datetime64[s]").astype("datetime64[ns]")
    out[missing] = np.datetime64("NaT")
    return pd.Series(pd.DatetimeIndex(out).tz_localize("UTC"), index=days.index)


def repeat_purchase(
    events: Any,
    customers: Any = None,
    *,
    by: str = "cohort",
    within_days: int = 90,
    period: str = "M",
    observation_end: Any = None,
    purchase_event: str = PURCHASE_EVENT,
    confidence_level: float = 0.95,
) -> RepeatPurchase:
    """Repeat purchase: rate within ``within_days`` by group, gaps, time to second order.

    Purchases on the same day are one order. Only customers whose first purchase is
    at least ``within_days`` before ``observation_end`` are eligible for the repeat
    rate (younger customers could not have repeated yet); the Kaplan-Meier curve of
    the time to the second order uses everyone, censored at ``observation_end``.

    Parameters
    ----------
    events, customers
        Event log and (optional) customer attributes to group by.
    by
        ``"cohort"`` (period of the first purchase) or a column of ``customers``
        such as ``"acquisition_channel"``.
    within_days, period, observation_end, purchase_event
        Repeat window; cohort period (``"W"``, ``"M"``, ``"Q"``); data end (default:
        end of the last day with data); purchase event name.
    confidence_level
        Level of the Wilson intervals of the repeat rates and of the Kaplan-Meier band.

    Returns
    -------
    RepeatPurchase
        Repeat rate per group (``by_group``), inter-purchase gaps and the time to the
        second order (``time_to_second``).

    Examples
    --------
    >>> import journeylib as jl
    >>> events = jl.load_dataset("sample").events
    >>> result = jl.repeat_purchase(events, within_days=90)
    >>> print(result.findings[0].text)
    Repeat-purchase rate: 76% of customers place a second order within 90 days of their first (73% to 79%).
    """
    from ..retention.survival import curve_every_hour

    _check_period(period)
    if not is_number(confidence_level) or not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number in (0, 1)")
    within_days = whole_number(within_days, "within_days", minimum=1, expected="a positive whole number of days")
    t = prepare_events(events)
    end = whole_day_end(t, observation_end)
    p = t.filter((t.event == purchase_event) & (t.ts < utc_literal(end)))
    daily = p.group_by(["customer_id", day_number(p.ts).name("day")]).aggregate()
    w = ibis.window(group_by="customer_id", order_by="day")
    daily = daily.mutate(n=ibis.row_number().over(w), prev=daily.day.lag().over(w))
    gaps_e = daily.filter(daily.prev.notnull()).mutate(gap_days=daily.day - daily.prev)
    gaps = engine.to_pandas(gaps_e.group_by("gap_days").aggregate(count=gaps_e.count()).order_by("gap_days"))
    per = daily.group_by("customer_id").aggregate(
        first_day=daily.day.min(),
        second_day=ibis.ifelse(daily.n == 0, ibis.null("int64"), daily.day).min(),  # ibis row_number() is 0-based
        orders=daily.count(),
    )
    if by != "cohort":
        if customers is None:
            raise JourneyParameterError(f"by={by!r} needs the customers table (customers=...)")
        cu = engine.to_table(customers, table="customers")
        if by not in cu.columns or "customer_id" not in cu.columns:
            raise JourneyDataError(f"customers: no column '{by}'; available: {list(cu.columns)}")
        # joined in the engine: only the buyers' values come to pandas, not the whole customer table
        cu = cu.select(_cu_id=engine.id_text(cu.customer_id), _by=cu[by])
        per = per.left_join(cu, engine.id_text(per.customer_id) == cu._cu_id).drop("_cu_id").rename({by: "_by"})
    per = engine.to_pandas(per)
    if per.empty:
        raise no_event_error(t, purchase_event, "purchase_event",
                             f"events: no '{purchase_event}' events before {end}; nothing to analyse")
    for col in ("first_day", "second_day"):
        per[col] = _day_to_timestamp(per[col])
    per["days_to_second"] = (per["second_day"] - per["first_day"]).dt.days
    per["followup_days"] = (end - per["first_day"]).dt.total_seconds() / DAY_SECONDS
    if by == "cohort":
        idx = [_period_index_pd(d, period) for d in per["first_day"]]
        per["cohort"] = _period_label(idx, period)
    else:
        per[by] = per[by].astype(object).fillna("(unknown)")
    eligible = per[per["followup_days"] >= within_days]
    if eligible.empty:  # a repeat rate of 0 eligible customers would read as "0% come back"
        longest = int(per["followup_days"].max())
        raise JourneyDataError(
            f"events: none of the {len(per):,} buyers had their first order at least within_days={within_days} days "
            f"before the end of the data ({end.date()}); the longest follow-up is {longest} day(s), so no repeat "
            f"rate can be observed\nWhat to do: set within_days to {max(1, longest // 2)} or less, or use a longer "
            "history")
    rep = eligible["days_to_second"].le(within_days)
    g = eligible.assign(rep=rep).groupby(by).agg(eligible=("rep", "size"), repeaters=("rep", "sum")).reset_index()
    g["repeat_rate"] = g["repeaters"] / g["eligible"]
    g["ci_low"], g["ci_high"] = wilson_interval(g["repeaters"], g["eligible"], confidence_level)
    dur = per["days_to_second"].fillna(per["followup_days"]).clip(lower=0)
    c = curve_every_hour(dur, per["days_to_second"].notna(), confidence_level=confidence_level)
    tts = pd.DataFrame({"days": c["days"], "share_with_second_order": 1 - c["survival"], "ci_low": 1 - c["ci_high"],
                        "ci_high": 1 - c["ci_low"], "at_risk": c["at_risk"]})
    return RepeatPurchase(g, gaps, tts, per, int(within_days), by, float(confidence_level))
