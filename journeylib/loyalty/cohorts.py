"""Acquisition cohorts, retention and revenue triangles, repeat purchase.

Engine half: one pass over the event log gives cohort x period cells (customers
active, orders, revenue) and the cohort sizes, or per-customer first/second purchase
days and the inter-purchase gaps. Stats half: pandas pivots, a Kaplan-Meier curve
(lifelines) for the time to the second order, Wilson intervals (statsmodels).

A cohort cell that cannot be observed completely yet (the period has not ended by
``observation_end``) is NaN, shown blank, and left out of every average: it is
never reported as zero retention.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from ..core import engine
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.checks import no_event_error, whole_number
from ..core.schema import OUTBOUND_EVENTS, PURCHASE_EVENT
from ..core.display import html_table

PERIODS = {"W": "week", "M": "month", "Q": "quarter"}
_MONDAY = 345600  # epoch seconds of Monday 1970-01-05


# --------------------------------------------------------------------------- helpers

def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise JourneyParameterError(f"period={period!r}; expected one of {list(PERIODS)} (week, month, quarter)")


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB's EPOCH_US: microseconds since 1970 straight from a TIMESTAMPTZ."""


def _is_duckdb_tz(ts: ibis.Value) -> bool:
    """True for a time-zone-aware timestamp bound to a DuckDB table."""
    try:
        duck = ibis.get_backend(ts).name == "duckdb"
    except Exception:  # noqa: BLE001 - unbound expression: use the portable form
        return False
    return duck and ts.type().is_timestamp() and ts.type().timezone is not None


@ibis.udf.scalar.builtin(name="make_timestamp")
def _duckdb_make_timestamp(us: dt.int64) -> dt.Timestamp(timezone=None):  # type: ignore[empty-body]
    """DuckDB's MAKE_TIMESTAMP(microseconds): a plain (UTC wall-clock) TIMESTAMP, no ICU calendar."""


def _epoch_seconds(ts: ibis.Value) -> ibis.Value:
    """Integer seconds since 1970-01-01 UTC.

    Ibis compiles ``epoch_seconds()`` of a time-zone-aware timestamp on DuckDB as
    ``EPOCH(CAST(ts AS TIMESTAMP))``, and that cast goes through the ICU calendar
    (about 10x slower than the scan itself). On DuckDB we call ``EPOCH_US`` directly;
    every other backend gets the portable ``epoch_seconds()``.
    """
    if _is_duckdb_tz(ts):
        return _duckdb_epoch_us(ts) // 1_000_000
    return ts.epoch_seconds()


def _day_number(ts: ibis.Value) -> ibis.Value:
    """Days since 1970-01-01 (UTC) as an integer, from epoch seconds (no time-zone calendar calls)."""
    return _epoch_seconds(ts) // 86400


def _month_number(ts: ibis.Value) -> ibis.Value:
    """UTC month index ``year * 12 + month - 1``.

    DuckDB: year and month of ``MAKE_TIMESTAMP(EPOCH_US(ts))``, a plain TIMESTAMP holding
    the UTC wall clock, so no ICU time-zone calendar runs (extracting from the
    TIMESTAMPTZ itself costs about 10x the scan). Other engines (Spark with its session
    time zone set to UTC by :func:`journeylib.connect`): ``year()`` and ``month()``.
    """
    if _is_duckdb_tz(ts):
        ts = _duckdb_make_timestamp(_duckdb_epoch_us(ts))
    return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1


def _period_number(ts: ibis.Value, period: str) -> ibis.Value:
    """Integer index of the UTC calendar period holding ``ts``.

    Weeks (from Monday) are integer arithmetic on the day number (day 4 = Monday
    1970-01-05); months are ``year * 12 + month - 1`` and quarters that // 3, matching
    :func:`_period_start` and :func:`_period_index_pd`.
    """
    if period == "W":
        return (_day_number(ts) - 4) // 7
    m = _month_number(ts)
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


def _utc(x: Any, name: str = "observation_end") -> pd.Timestamp:
    try:
        ts = pd.Timestamp(x)
    except (ValueError, TypeError) as exc:
        raise JourneyParameterError(f"{name}={x!r}; expected a date/time such as '2025-06-30'") from exc
    if ts is pd.NaT:
        raise JourneyParameterError(f"{name}={x!r}; expected a date/time such as '2025-06-30'")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _as_utc(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s)
    return s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")


def _lit(ts: pd.Timestamp) -> ibis.Value:
    return ibis.literal(ts.to_pydatetime(), type="timestamp('UTC')")


def _observation_end(t: ibis.Table, observation_end: Any) -> pd.Timestamp:
    """Given, or the end of the last day with data (data observed up to, not including, it)."""
    if observation_end is not None:
        return _utc(observation_end)
    last = t.ts.max().to_pandas()
    if last is None or pd.isna(last):
        raise JourneyDataError("events: no rows; expected at least one event")
    return _utc(last).floor("D") + pd.Timedelta(days=1)


def _prepare(events: Any) -> ibis.Table:
    t = engine.to_table(events)
    missing = [c for c in ("customer_id", "ts", "event") if c not in t.columns]
    if missing:
        raise JourneyDataError(f"events: missing column(s) {missing}; expected customer_id, ts, event "
                               "(load it with load_events)")
    if "revenue" not in t.columns:
        t = t.mutate(revenue=ibis.null("float64"))
    return t


# --------------------------------------------------------------------------- cohort triangles

@dataclass(frozen=True)
class CohortTable:
    """Cohort x period cells with retention and revenue triangles.

    ``cells`` is tidy: ``cohort, cohort_start, period, size, active, orders, revenue,
    observed, retention, revenue_per_customer, cumulative_revenue_per_customer``;
    unobserved cells have NaN in every measure.
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

    def average_retention(self) -> pd.DataFrame:
        """Size-weighted mean retention per period over the cohorts that can be observed."""
        c = self.cells[self.cells["observed"]]
        g = c.groupby("period").agg(cohorts=("cohort", "size"), customers=("size", "sum"),
                                    active=("active", "sum"), revenue=("revenue", "sum"))
        g["retention"] = g["active"] / g["customers"]
        g["revenue_per_customer"] = g["revenue"] / g["customers"]
        return g.reset_index()

    @property
    def reading(self) -> str:
        """Average retention one period after acquisition and at the oldest observable age, in words."""
        avg = self.average_retention().set_index("period")
        if avg.empty:
            return "No cohort is old enough yet to show retention."
        unit = PERIODS[self.period]
        k = 1 if 1 in avg.index else int(avg.index.max())
        last = int(avg.index.max())
        text = (f"On average {avg.loc[k, 'retention']:.0%} of a cohort buys again in {unit} {k} after acquisition "
                f"({int(avg.loc[k, 'cohorts'])} observable cohorts, size-weighted).")
        if last != k:
            text += (f" After {last} {unit}s {avg.loc[last, 'retention']:.0%} are still buying (only "
                     f"{int(avg.loc[last, 'cohorts'])} cohort(s) are old enough to show this).")
        return text

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
        """Heatmap of the triangle (``kind`` = retention, revenue or cumulative); blank = not observable."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        ax = ax or plt.gca()
        data = {"retention": self.retention, "revenue": self.revenue, "cumulative": self.cumulative_revenue}
        if kind not in data:
            raise JourneyParameterError(f"kind={kind!r}; expected one of {list(data)}")
        d = data[kind]
        if annotate is None:
            annotate = d.shape[0] <= 20 and d.shape[1] <= 20
        fmt = ".0%" if kind == "retention" else ".0f"
        label = {"retention": "share of cohort active", "revenue": "revenue per customer in period",
                 "cumulative": "cumulative revenue per customer"}[kind]
        sns.heatmap(d, ax=ax, cmap="viridis", annot=annotate, fmt=fmt, annot_kws={"fontsize": 7},
                    cbar_kws={"label": label}, mask=d.isna())
        unit = PERIODS[self.period]
        ax.set(xlabel=f"{unit}s since acquisition", ylabel=f"acquisition cohort ({unit} of {self.cohort_by.replace('_', ' ')})",
               title=f"Cohort {kind} triangle (blank = not observable yet)")
        ax.tick_params(axis="y", labelrotation=0)
        step = max(1, d.shape[0] // 25)
        ax.set_yticks(np.arange(0, d.shape[0], step) + 0.5, d.index[::step])
        return ax

    def plot_curves(self, ax=None, *, max_cohorts: int = 12):
        """Retention curve of each cohort (latest ``max_cohorts``) and the weighted average."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        ret = self.retention.iloc[-max_cohorts:]
        cmap = plt.get_cmap("viridis")
        for i, (cohort, row) in enumerate(ret.iterrows()):
            ax.plot(row.index, row.to_numpy(), color=cmap(i / max(1, len(ret) - 1)), lw=1, alpha=0.7, label=cohort)
        avg = self.average_retention()
        ax.plot(avg["period"], avg["retention"], color="black", lw=2.5, label="weighted average")
        unit = PERIODS[self.period]
        ax.set(xlabel=f"{unit}s since acquisition", ylabel="share of cohort active",
               title="Retention curves by acquisition cohort", ylim=(0, 1.05))
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # whole periods, not "2.5 months"
        ax.legend(fontsize=7, ncol=2, title=f"cohort (latest {len(ret)})")
        return ax

    def __repr__(self) -> str:
        n = self.cells.groupby("cohort")["size"].first()
        return (f"CohortTable(period={self.period!r}, cohorts={len(n)}, customers={int(n.sum()):,}, "
                f"observed cells={int(self.cells['observed'].sum())}, observation_end={self.observation_end})")

    def _repr_html_(self) -> str:
        s = self.summary
        formats = {c: "{:.1%}" if c.startswith("retention_") else "{:,.2f}" for c in s.columns
                   if c.startswith(("retention_", "revenue_"))}
        note = ("Retention: share of the cohort buying in that period. Revenue: cumulative revenue per cohort customer "
                "up to that period. – : not observable yet (the period had not ended when the data stop).")
        return (f"<p>{html.escape(repr(self))}</p><p>{html.escape(note)}</p>"
                + html_table(s, "{:.3g}", formats=formats))


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
    """
    _check_period(period)
    if cohort_by not in ("first_purchase", "first_activity"):
        raise JourneyParameterError(f"cohort_by={cohort_by!r}; expected 'first_purchase' or 'first_activity'")
    if active_on not in ("purchase", "any"):
        raise JourneyParameterError(f"active_on={active_on!r}; expected 'purchase' or 'any'")
    t = _prepare(events)
    end = _observation_end(t, observation_end)
    t = t.filter(t.ts < _lit(end))
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

@dataclass(frozen=True)
class RepeatPurchase:
    """Repeat rate by group, inter-purchase gaps and time to the second order."""

    by_group: pd.DataFrame
    gaps: pd.DataFrame
    time_to_second: pd.DataFrame
    customers: pd.DataFrame
    within_days: int
    by: str

    @property
    def summary(self) -> pd.DataFrame:
        return self.by_group

    @property
    def median_gap_days(self) -> float:
        g = self.gaps
        c = g["count"].cumsum()
        return float(g["gap_days"][c >= c.iloc[-1] / 2].iloc[0]) if len(g) else float("nan")

    def plot(self, ax=None):
        """Repeat rate within ``within_days`` by group with 95% Wilson intervals."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        d = self.by_group
        x = np.arange(len(d))
        ax.bar(x, d["repeat_rate"], color="#4c72b0")
        err = [(d["repeat_rate"] - d["lower"]).clip(lower=0), (d["upper"] - d["repeat_rate"]).clip(lower=0)]
        ax.errorbar(x, d["repeat_rate"], yerr=err,
                    fmt="none", color="black", capsize=3)
        step = max(1, int(np.ceil(len(d) / 24)))  # at most ~24 readable labels
        ax.set_xticks(x[::step], d[self.by].astype(str).iloc[::step], rotation=45 if len(d) > 6 else 0,
                      ha="right" if len(d) > 6 else "center")
        ax.set(xlabel=self.by.replace("_", " "), ylabel=f"share with a 2nd order within {self.within_days} days",
               title=f"Repeat purchase rate by {self.by.replace('_', ' ')}")
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
        return ax

    def plot_gaps(self, ax=None, *, max_days: int = 365):
        """Histogram of days between consecutive purchase days, up to the 99th percentile (at most ``max_days``)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        g = self.gaps.set_index("gap_days")["count"]
        g = g[g.index <= max_days]
        if len(g):  # one filled step per day: 1-day bars over months of axis are thinner than a pixel
            g = g.reindex(range(int(g.index.max()) + 1), fill_value=0)
            ax.fill_between(g.index, g.to_numpy(), step="mid", color="#55a868", lw=0)
            c = g.cumsum()
            ax.set_xlim(-0.5, g.index[c >= 0.99 * c.iloc[-1]][0] + 0.5)
        ax.axvline(self.median_gap_days, color="black", ls="--", label=f"median {self.median_gap_days:.0f} days")
        ax.set(xlabel="days between consecutive purchases (99% of gaps shown)", ylabel="number of gaps",
               title="Inter-purchase time distribution")
        ax.legend()
        return ax

    def plot_time_to_second(self, ax=None):
        """Kaplan-Meier share of customers with a second order by days since the first."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        d = self.time_to_second
        ax.step(d["days"], d["share_with_second_order"], where="post", color="#c44e52")
        ax.fill_between(d["days"], d["lower"], d["upper"], step="post", alpha=0.25, color="#c44e52")
        ax.set(xlabel="days since first purchase", ylabel="share with a second order",
               title="Time to second order (Kaplan-Meier)")
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
        return ax

    def __repr__(self) -> str:
        n = int(self.by_group["eligible"].sum())
        r = self.by_group["repeaters"].sum() / max(n, 1)
        return (f"RepeatPurchase(by={self.by!r}, within_days={self.within_days}, eligible={n:,}, "
                f"repeat_rate={r:.1%}, median_gap_days={self.median_gap_days:g})")

    def _repr_html_(self) -> str:
        shares = {c: "{:.1%}" for c in ("repeat_rate", "lower", "upper")}
        return f"<p>{html.escape(repr(self))}</p>" + html_table(self.by_group, formats=shares)


def _day_to_timestamp(days: pd.Series) -> pd.Series:
    """UTC midnight of day numbers (days since 1970-01-01); missing days become NaT.

    Integer arithmetic in numpy, not ``pd.to_datetime(floats, unit="s")``: on a float
    column with NaN, pandas 2.x reads uninitialised memory there and now and then raises
    a spurious ``FloatingPointError`` (pandas-dev/pandas#58419, fixed in pandas 3.0).
    """
    v = pd.to_numeric(days).astype("float64").to_numpy()
    missing = np.isnan(v)
    secs = np.where(missing, 0, v).astype("int64") * 86400
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
    """
    from lifelines import KaplanMeierFitter
    from statsmodels.stats.proportion import proportion_confint

    _check_period(period)
    within_days = whole_number(within_days, "within_days", minimum=1, expected="a positive whole number of days")
    t = _prepare(events)
    end = _observation_end(t, observation_end)
    p = t.filter((t.event == purchase_event) & (t.ts < _lit(end)))
    daily = p.group_by(["customer_id", _day_number(p.ts).name("day")]).aggregate()
    w = ibis.window(group_by="customer_id", order_by="day")
    daily = daily.mutate(n=ibis.row_number().over(w), prev=daily.day.lag().over(w))
    gaps_e = daily.filter(daily.prev.notnull()).mutate(gap_days=daily.day - daily.prev)
    gaps = engine.to_pandas(gaps_e.group_by("gap_days").aggregate(count=gaps_e.count()).order_by("gap_days"))
    per = daily.group_by("customer_id").aggregate(
        first_day=daily.day.min(),
        second_day=ibis.ifelse(daily.n == 0, ibis.null("int64"), daily.day).min(),  # ibis row_number() is 0-based
        orders=daily.count(),
    )
    per = engine.to_pandas(per)
    if per.empty:
        raise no_event_error(t, purchase_event, "purchase_event",
                             f"events: no '{purchase_event}' events before {end}; nothing to analyse")
    for col in ("first_day", "second_day"):
        per[col] = _day_to_timestamp(per[col])
    per["days_to_second"] = (per["second_day"] - per["first_day"]).dt.days
    per["followup_days"] = (end - per["first_day"]).dt.total_seconds() / 86400
    if by == "cohort":
        idx = [_period_index_pd(d, period) for d in per["first_day"]]
        per["cohort"] = _period_label(idx, period)
    else:
        if customers is None:
            raise JourneyParameterError(f"by={by!r} needs the customers table (customers=...)")
        cu = engine.to_pandas(engine.to_table(customers, table="customers"))
        if by not in cu.columns or "customer_id" not in cu.columns:
            raise JourneyDataError(f"customers: no column '{by}'; available: {list(cu.columns)}")
        per = per.merge(cu[["customer_id", by]].astype({"customer_id": str}), on="customer_id", how="left")
        per[by] = per[by].fillna("(unknown)")
    eligible = per[per["followup_days"] >= within_days]
    rep = eligible["days_to_second"].le(within_days)
    g = eligible.assign(rep=rep).groupby(by).agg(eligible=("rep", "size"), repeaters=("rep", "sum")).reset_index()
    g["repeat_rate"] = g["repeaters"] / g["eligible"]
    lo, hi = proportion_confint(g["repeaters"], g["eligible"], alpha=0.05, method="wilson")
    g["lower"], g["upper"] = np.asarray(lo), np.asarray(hi)
    dur = per["days_to_second"].fillna(per["followup_days"]).clip(lower=0)
    kmf = KaplanMeierFitter().fit(dur, event_observed=per["days_to_second"].notna())
    ci = kmf.confidence_interval_survival_function_
    tts = pd.DataFrame({"days": kmf.timeline, "share_with_second_order": 1 - kmf.survival_function_.iloc[:, 0].to_numpy(),
                        "lower": 1 - ci.iloc[:, 1].to_numpy(), "upper": 1 - ci.iloc[:, 0].to_numpy()})
    return RepeatPurchase(g, gaps, tts, per, int(within_days), by)
