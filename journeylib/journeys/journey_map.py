"""The customer journey map, measured: touchpoints, KPIs, the emotion line and pain points per stage.

Builds on :func:`journeylib.journeys.stages.journey_map_data` (customers, conversion to the
next stage and median time in stage come from the one closed funnel) and adds what a
hand-drawn journey map holds, every number measured:

* **First-time and repeat journeys apart.** An event (or feedback answer) at or before
  the customer's first order belongs to the *first-time* journey; after it, to the
  *repeat* journey (a stage reached again after the first purchase is a repeat visit).
  Customers without an order are all first-time.
* **Touchpoints** per stage and journey: ``channel x event`` with the customers reached,
  the share of the stage's events, and (first-time journey) the share of the customers
  who used it that reached the next stage afterwards.
* **KPIs** per stage (``kpis``): customers in each journey, median days in stage, share
  going back, and the role KPIs of the stage holding the role's events: new customers and
  the top acquisition channel (first stage), events per customer (second stage),
  cart-to-purchase rate and abandoned carts (the cart event's stage), conversion and
  first order value (the first order's stage), repeat rate within 90 days, median days to
  the second order and the share inactive for 60 days (the repeat orders' stage), review
  rate, NPS and referred customers' conversion (the review's stage, else the last).
* **Emotion line**: satisfaction per stage and journey with a t interval, from the
  feedback table's ``survey`` answers and ``review`` ratings with a stage (else the events'
  ``score`` column); NPS answers (0-10) are not on that scale and stay a KPI.
* **Pain points** ranked by a documented score. For stage ``s`` four shares of its
  customers: *leave* (do not reach the next stage: the funnel's drop-off), *stuck*
  (reach the next stage more than ``stuck_days`` later), *back* (move to an earlier
  stage from ``s``; events at one instant are taken in stage order, so they never go back) and *dissatisfied* (answers at or below ``dissatisfied_at``, by default
  the bottom quarter of ``score_range``: 1-2 on a 1-5 scale). *stuck* and *back* count
  in the first-time journey only: after the first order, browsing again and taking time
  between orders are what loyal customers do. The **pain score** is the share of the
  stage's customers who would meet at least one of the four if they were independent:
  ``1 - (1 - leave)(1 - stuck)(1 - back)(1 - dissatisfied)``; stages are ranked by it and
  each pain point carries its evidence (the four shares and the satisfaction).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import ibis
import numpy as np
import pandas as pd
from scipy import stats as sps

from . import plots
from ..core import buckets, engine
from ..core.display import format_percent
from ..core.errors import JourneyParameterError
from ..core.intervals import wilson_interval
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import CART_EVENT, DEFAULT_STAGES, PURCHASE_EVENT, REVIEW_EVENT
from ..core.time import DAY_SECONDS, epoch_us, end_of_day, observation_end as observation_end_of, to_utc
from .common import check_stages, drop_outbound, events_table
from .feedback import customer_values, group_labels, nps, referrals, review_rates
from .stages import JourneyMapData, journey_map_data

__all__ = ["JourneyMap", "journey_map", "JOURNEYS"]

JOURNEYS = ("first-time", "repeat")
"""The two journeys: before (and at) the first order, and after it."""

_US = 1_000_000


def _with_journey(t: ibis.Table, first_order: ibis.Table) -> ibis.Table:
    """``t`` plus ``journey``: first-time at or before the customer's first order, repeat after it."""
    j = t.left_join(first_order, t.customer_id == first_order._cid)
    j = j.mutate(journey=ibis.ifelse(j._fp.isnull() | (j.ts <= j._fp), JOURNEYS[0], JOURNEYS[1]))
    return j.drop("_cid")


def _first_orders(base: ibis.Table) -> ibis.Table:
    """``_cid, _fp``: each buyer's first order time."""
    orders = base.filter(base.event == PURCHASE_EVENT)
    return orders.group_by(_cid=orders.customer_id).aggregate(_fp=orders.ts.min())


def _journey_tables(base: ibis.Table, stages: Sequence[str],
                    first_order: ibis.Table | None = None) -> tuple[ibis.Table, ibis.Table]:
    """``(tj, first_order)``: the events at the map's stages with their ``journey``, and the first orders."""
    first_order = _first_orders(base) if first_order is None else first_order
    return _with_journey(base.filter(base.stage.isin(list(stages))), first_order), first_order


def _stage_before(stage: ibis.Value, stages: Sequence[str]) -> ibis.Value:
    """The name of the stage before ``stage`` in ``stages`` (null for the first)."""
    return ibis.cases(*[(stage == s, stages[i - 1]) for i, s in enumerate(stages) if i], else_=None)


def _customer_counts(base: ibis.Table, stages: Sequence[str], touch_col: str, tp_cols: list[str],
                     stuck_days: float) -> dict[str, pd.DataFrame]:
    """The map's counts over the customers of ``base``; each adds up over disjoint sets of customers.

    ``reach`` and ``touchpoints``: customers and events per journey and stage (and touchpoint);
    ``conversion``: first-time customers per stage and touchpoint, and those reaching the next stage
    after it; ``acquisition``: customers per channel of their first event; ``stuck``: customers
    moving on from each stage, and those taking longer than ``stuck_days``; ``back``: customers
    going back from each stage position (``_prev``); with revenue, ``first_orders``: the priced
    first-time orders' number, revenue and sum of squared revenue (one row).
    """
    with engine.materialized(_first_orders(base)) as first_order:
        tj, _ = _journey_tables(base, stages, first_order)
        # one row per customer, journey, stage and touchpoint, with its events and first and
        # last time: every count but going back reads this instead of tagging each event again
        per_tp = tj.group_by(["customer_id", "journey", "stage", *tp_cols]).aggregate(
            _n=tj.count(), _t0=tj.ts.min(), _t1=tj.ts.max())
        with engine.materialized(per_tp) as c:
            out = _counts_from(c, stages, touch_col, tp_cols, stuck_days)
        out["back"] = _going_back(tj.filter(tj.journey == JOURNEYS[0]), stages)
        if "revenue" in base.columns:  # the first-time orders are the orders at the first order's time
            o = base.filter((base.event == PURCHASE_EVENT) & base.stage.isin(list(stages)) & base.revenue.notnull())
            o = o.join(first_order, (o.customer_id == first_order._cid) & (o.ts == first_order._fp))
            r = o.revenue.cast("float64")
            out["first_orders"] = engine.to_pandas(o.aggregate(n=o.count(), total=r.sum(), squares=(r * r).sum()))
    return out


def _counts_from(c: ibis.Table, stages: Sequence[str], touch_col: str, tp_cols: list[str],
                 stuck_days: float) -> dict[str, pd.DataFrame]:
    """:func:`_customer_counts` but going back, from the per-customer touchpoint rows ``c``."""
    per_stage = c.group_by(["customer_id", "journey", "stage"]).aggregate(_n=c._n.sum())
    out = {"reach": engine.to_pandas(per_stage.group_by(["journey", "stage"]).aggregate(
               customers=per_stage.count(), events=per_stage._n.sum())),
           "touchpoints": engine.to_pandas(c.group_by(["journey", "stage", *tp_cols]).aggregate(
               events=c._n.sum(), customers=c.count()))}
    ft = c.filter(c.journey == JOURNEYS[0])
    # every stage in one query: a stage's first-time touchpoints against the next stage's last reach
    per = ft.filter(ft.stage.isin(list(stages[:-1])))
    nx = c.filter(c.stage.isin(list(stages[1:])))
    nx = nx.group_by(_c2=nx.customer_id, _s2=_stage_before(nx.stage, stages)).aggregate(_n2=nx._t1.max())
    j = per.left_join(nx, (per.customer_id == nx._c2) & (per.stage == nx._s2))
    out["conversion"] = engine.to_pandas(j.group_by(["stage", *tp_cols]).aggregate(
        _users=j.count(), reached_next=(j._n2.notnull() & (j._n2 >= j._t0)).cast("int64").sum()))
    out["acquisition"] = pd.DataFrame(columns=["channel", "customers"])
    if touch_col in c.columns:
        # the first event of a customer is in the touchpoint row with the least (first time,
        # event, channel): ties on time are broken as between the events themselves
        x = ft.filter((ft.stage == stages[0]) & ft[touch_col].notnull())
        w = x.mutate(_rk=ibis.row_number().over(ibis.window(group_by=x.customer_id,
                                                            order_by=[x._t0, x.event, x[touch_col]])))
        w = w.filter(w._rk == 0)
        out["acquisition"] = engine.to_pandas(w.group_by(channel=w[touch_col]).aggregate(customers=w.count()))
    first_reach = ft.group_by(["customer_id", "stage"]).aggregate(_t=epoch_us(ft._t0.min()))
    a = first_reach.filter(first_reach.stage.isin(list(stages[:-1])))
    b = first_reach.filter(first_reach.stage.isin(list(stages[1:])))
    b = b.select(_c2="customer_id", _s2=_stage_before(b.stage, stages), _tb="_t")
    j = a.left_join(b, (a.customer_id == b._c2) & (a.stage == b._s2))
    late = j._tb.notnull() & (j._tb >= j._t) & ((j._tb - j._t) > int(stuck_days * DAY_SECONDS * _US))
    stuck = engine.to_pandas(j.group_by("stage").aggregate(n=j.count(), late=late.cast("int64").sum()))
    out["stuck"] = (pd.DataFrame({"stage": list(stages[:-1])}).merge(stuck, on="stage", how="left")
                    .fillna({"n": 0, "late": 0}).astype({"n": "int64", "late": "int64"}))
    return out


def _going_back(ft: ibis.Table, stages: Sequence[str]) -> pd.DataFrame:
    """Customers going back from each stage position (``_prev``) among the first-time events ``ft``."""
    pos = ft.mutate(_p=ibis.cases(*[(ft.stage == s, i) for i, s in enumerate(stages)], else_=None))
    # events at one instant have no order of their own: taken in stage order, they never count as going back
    pos = engine.shift_within(pos, "customer_id", [pos.ts, pos._p, pos.event], _prev=pos._p)
    back_q = pos.filter(pos._prev.notnull() & (pos._p < pos._prev))
    return engine.to_pandas(back_q.group_by("_prev").aggregate(customers=back_q.customer_id.nunique()))


def _count(v: Any) -> int:
    """A count from an engine's one-row aggregate: a sum over no rows is NULL on DuckDB and NaN on Spark."""
    return 0 if pd.isna(v) else int(v)


def _t_interval(mean: float, sd: float, n: int, confidence_level: float) -> tuple[float, float]:
    if n < 2 or not np.isfinite(sd):
        return float("nan"), float("nan")
    half = sps.t.ppf(0.5 + confidence_level / 2, n - 1) * sd / np.sqrt(n)
    return mean - half, mean + half


def _role_stages(tp: pd.DataFrame, stages: Sequence[str]) -> dict[str, str | None]:
    """The stage where most cart, first and repeat purchase and review events fall, from the touchpoint counts."""
    df = tp[tp["stage"].isin(stages)]

    def mode(rows: pd.DataFrame) -> str | None:
        n = rows.groupby("stage")["events"].sum().reset_index()
        return None if n.empty else str(n.sort_values(["events", "stage"], ascending=[False, True]).iloc[0]["stage"])

    return {"cart": mode(df[df["event"] == CART_EVENT]), "review": mode(df[df["event"] == REVIEW_EVENT]),
            "first order": mode(df[(df["event"] == PURCHASE_EVENT) & (df["journey"] == JOURNEYS[0])]),
            "repeat order": mode(df[(df["event"] == PURCHASE_EVENT) & (df["journey"] == JOURNEYS[1])])}


def _kpi_text(unit: str, v: float, lo: float, hi: float) -> str:
    """One KPI in its unit, with its interval when it has one: ``"26.2% (25.0% to 27.4%)"``, ``"1.9 days"``."""
    def one(x: float) -> str:
        if unit == "share":
            return format_percent(x)
        if unit == "days":
            return f"{x:,.1f}"
        if unit == "points":
            return f"{x:+.0f}"
        if unit == "count" and float(x).is_integer():
            return f"{x:,.0f}"
        return f"{x:,.2f}"

    if v is None or not np.isfinite(float(v)):
        return "–"
    words = {"days": " days", "stars": " stars", "points": " points"}.get(unit, "")
    ci = f" ({one(lo)} to {one(hi)})" if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{one(v)}{words}{ci}"


@dataclass(frozen=True, repr=False)
class JourneyMap(Result):
    """The measured journey map (:func:`journey_map`); ``plot()`` draws it.

    Attributes
    ----------
    stages
        Stage names in journey order.
    summary
        One row per stage: ``stage, customers_first_time, customers_repeat,
        conversion_to_next, drop_off, median_days_in_stage, share_going_back,
        satisfaction_first_time, satisfaction_repeat, pain_score, pain_rank``.
    touchpoints
        ``journey, stage, channel, event, touchpoint, events, customers, share,
        reached_next, conversion_to_next, ci_low, ci_high`` (conversion: first-time journey).
    kpis
        ``stage, kpi, value, unit, ci_low, ci_high, n`` (``unit``: share, count, days,
        currency, points, stars).
    emotion
        ``journey, [group,] stage, answers, satisfaction, sd, ci_low, ci_high,
        dissatisfied_share`` (``source`` says where the scores came from).
    pain_points
        ``rank, stage, leave, stuck, back, dissatisfied, pain_score, satisfaction,
        evidence``, highest score first.
    data
        The :class:`journeylib.journeys.stages.JourneyMapData` it builds on.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.journey_map import journey_map
    >>> ds = jl.load_dataset("sample")
    >>> result = journey_map(ds.events, feedback=ds.feedback)
    >>> result.pain_points[["rank", "stage", "pain_score"]].head(3).round(3)
       rank          stage  pain_score
    0     1           cart       0.609
    1     2  consideration       0.546
    2     3         repeat       0.520
    """

    stages: tuple[str, ...]
    source: str
    score_range: tuple[float, float]
    confidence_level: float
    data: JourneyMapData = field(repr=False)
    _summary: pd.DataFrame = field(repr=False)
    _touchpoints: pd.DataFrame = field(repr=False)
    _kpis: pd.DataFrame = field(repr=False)
    _emotion: pd.DataFrame = field(repr=False)
    _pain: pd.DataFrame = field(repr=False)
    _acquisition: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def touchpoints(self) -> pd.DataFrame:
        return self._touchpoints.copy()

    @property
    def kpis(self) -> pd.DataFrame:
        return self._kpis.copy()

    def display_kpis(self) -> pd.DataFrame:
        """Every KPI of the map for people: ``stage, KPI, value``, each value in its unit (shares in
        percent, days, stars, NPS points, money) with its interval where it has one.

        Examples
        --------
        >>> import journeylib as jl
        >>> ds = jl.load_dataset("sample")
        >>> table = jl.journey_map(ds.events, feedback=ds.feedback).display_kpis()
        >>> table[table["KPI"] == "reach via search"].iloc[0].tolist()
        ['awareness', 'reach via search', '26.2% (25.0% to 27.4%)']
        """
        k = self._kpis
        return pd.DataFrame({"stage": k["stage"], "KPI": k["kpi"],
                             "value": [_kpi_text(u, v, lo, hi) for u, v, lo, hi in
                                       zip(k["unit"], k["value"], k["ci_low"], k["ci_high"])]}).reset_index(drop=True)

    @property
    def emotion(self) -> pd.DataFrame:
        return self._emotion.copy()

    @property
    def pain_points(self) -> pd.DataFrame:
        return self._pain.copy()

    @property
    def acquisition_mix(self) -> pd.DataFrame:
        """Channels of the first stage's first touch (first-time journey): ``channel, customers, share, ci_low, ci_high``."""
        return self._acquisition.copy()

    def kpi(self, stage: str, name: str) -> pd.Series:
        """One KPI row (``value``, ``ci_low``, ``ci_high``, ``n``, ``unit``)."""
        k = self._kpis
        m = k[(k["stage"] == stage) & (k["kpi"] == name)]
        if m.empty:
            raise JourneyParameterError(f"kpi {name!r} at stage {stage!r}: not measured; available: "
                                        f"{sorted(set(k.loc[k['stage'] == stage, 'kpi']))}")
        return m.iloc[0]

    @property
    def table(self) -> pd.DataFrame:
        """The map as a table for people: one row per stage (the data table beside the figure)."""
        s = self._summary
        tops = {}
        tp = self._touchpoints
        for st, g in tp[tp["journey"] == JOURNEYS[0]].groupby("stage", sort=False):
            g = g.sort_values("customers", ascending=False).head(3)
            tops[st] = ", ".join(f"{r.touchpoint} {r.share:.0%}" for r in g.itertuples(index=False))
        return pd.DataFrame({
            "stage": s["stage"],
            "customers (first-time)": s["customers_first_time"],
            "customers (repeat)": s["customers_repeat"],
            "go on to the next stage": s["conversion_to_next"],
            "median days in stage": s["median_days_in_stage"],
            "satisfaction (first-time)": s["satisfaction_first_time"],
            "satisfaction (repeat)": s["satisfaction_repeat"],
            "pain score": s["pain_score"],
            "pain rank": s["pain_rank"],
            "top touchpoints (first-time)": s["stage"].map(tops).fillna(""),
        })

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The top pain point with its evidence, the lowest satisfaction, first-time vs repeat, acquisition."""
        out = []
        p = self._pain
        if len(p) and np.isfinite(p.iloc[0]["pain_score"]):
            r = p.iloc[0]
            out.append(Finding(f"The top pain point is {r['stage']}: {r['evidence']}.", float(r["pain_score"]),
                               action=f"Fix the experience at {r['stage']} first."))
        e = self._emotion
        e = e[(e["journey"] == JOURNEYS[0]) & e["satisfaction"].notna()] if len(e) else e
        if "group" in e.columns:
            e = e[e["group"] == "all"]
        if len(e) >= 2:
            low = e.loc[e["satisfaction"].idxmin()]
            rest = e[e["stage"] != low["stage"]]["satisfaction"]
            out.append(Finding(
                f"Satisfaction is lowest at {low['stage']}: {low['satisfaction']:.2f} ({low['ci_low']:.2f} to "
                f"{low['ci_high']:.2f}) on a {self.score_range[0]:g} to {self.score_range[1]:g} scale, against "
                f"{rest.min():.2f} to {rest.max():.2f} at the other stages of the first-time journey.",
                float(low["satisfaction"]), float(low["ci_low"]), float(low["ci_high"])))
        s = self._summary
        both = s[(s["customers_first_time"] > 0) & (s["customers_repeat"] > 0)]
        if len(both):
            share = both["customers_repeat"] / (both["customers_repeat"] + both["customers_first_time"])
            r = both.loc[share.idxmax()]
            out.append(Finding(
                f"{share.max():.0%} of the customers seen at {r['stage']} are there after their first order "
                f"({int(r['customers_repeat']):,} repeat against {int(r['customers_first_time']):,} first-time); "
                "the map counts the two journeys apart.", float(share.max())))
        a = self._acquisition
        if len(a):
            r = a.iloc[0]
            out.append(Finding(f"{r['channel']} brings {r['share']:.0%} of new customers ({r['ci_low']:.0%} to "
                               f"{r['ci_high']:.0%}).", float(r["share"]), float(r["ci_low"]), float(r["ci_high"])))
        return tuple(out[:4])

    @property
    def checks(self) -> tuple[Check, ...]:
        out = []
        e = self._emotion
        if self.source == "none":
            out.append(Check("journey map: satisfaction", "warn", "no feedback table and no score column: the "
                             "emotion line and the dissatisfied share are not measured"))
        else:
            e = e[e["group"] == "all"] if "group" in e.columns else e
            thin = e[(e["answers"] < 30)] if len(e) else e
            out.append(Check("journey map: satisfaction", "warn" if len(thin) else "pass",
                             f"scores from {self.source}; " + (
                                 f"{len(thin)} stage(s) with fewer than 30 answers" if len(thin)
                                 else "at least 30 answers at every measured stage")))
        return tuple(out)

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Satisfaction per stage (first-time journey) and the acquisition mix against the planted values."""
        rows = []
        exp = truth.get("feedback", {}).get("survey", {}).get("emotion_line_expected", {})
        e = self._emotion
        if "group" in e.columns:
            e = e[e["group"] == "all"]
        for stage, v in exp.items():
            for journey in JOURNEYS:
                m = e[(e["stage"] == stage) & (e["journey"] == journey)]
                if len(m) and m.iloc[0]["answers"] >= 2:
                    r = m.iloc[0]
                    rows.append((f"satisfaction {stage} ({journey})", v, r["satisfaction"], r["ci_low"], r["ci_high"]))
        mix = truth.get("channels", {}).get("acquisition_share", {})
        a = self._acquisition.set_index("channel")
        for ch, v in mix.items():
            if ch in a.index:
                rows.append((f"acquisition share {ch}", v, a.loc[ch, "share"], a.loc[ch, "ci_low"],
                             a.loc[ch, "ci_high"]))
        return truth_table(rows)

    def plot(self, ax=None, **kwargs):
        """Draw the measured map (:func:`journeylib.journeys.plots.plot_measured_journey_map`); returns the Axes."""
        return plots.plot_measured_journey_map(self, ax=ax, **kwargs)


def journey_map(events: Any, stages: Sequence[str] | str = DEFAULT_STAGES, *, feedback: Any = None,
                customers: Any = None, segment_by: str | None = None, window: Any = None,
                touch_col: str = "channel", score_col: str | None = "score",
                score_range: tuple[float, float] = (1.0, 5.0), dissatisfied_at: float | None = None,
                stuck_days: float = 7.0, within_days: int = 90, inactive_days: int = 60,
                observation_end: Any = None, confidence_level: float = 0.95,
                data: JourneyMapData | None = None) -> JourneyMap:
    """The measured customer journey map (see the module docstring for every definition).

    Parameters
    ----------
    events
        The event log (canonical columns; ``stage`` set).
    stages
        Stage names in journey order.
    feedback
        The feedback table: survey answers with a stage feed the emotion line, reviews and
        NPS the advocacy KPIs. ``None``: the events' ``score_col`` feeds the emotion line.
    customers
        The customers table (acquisition channel, ``segment_by``).
    segment_by
        A customers column: the emotion line per group as well (``emotion`` rows by group).
    window
        Conversion window of the funnel (as in :func:`journeylib.journeys.stages.funnel`).
    touch_col
        The events column naming the touchpoint's channel.
    score_col
        The events' score column used when there is no survey feedback.
    score_range
        ``(low, high)`` of the satisfaction scale.
    dissatisfied_at
        Answers at or below this count as dissatisfied (default: the bottom quarter of the scale).
    stuck_days
        A customer taking longer than this to reach the next stage counts as stuck.
    within_days, inactive_days
        Repeat-rate window (days after the first order) and the inactivity that counts as gone.
    observation_end
        End of the data (default: the last event).
    confidence_level
        Of every interval.
    data
        The :func:`journeylib.journeys.stages.journey_map_data` of the same events and stages,
        when already computed.

    Returns
    -------
    JourneyMap

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.journey_map import journey_map
    >>> ds = jl.load_dataset("sample")
    >>> result = journey_map(ds.events, feedback=ds.feedback)
    >>> print(result.findings[0].text)  # doctest: +ELLIPSIS
    The top pain point is cart: pain score 61%, satisfaction 2.77 against 3.68 to 4.25 elsewhere (all answers, ...
    """
    stages = check_stages(stages)
    if not 0 < float(confidence_level) < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1")
    lo_s, hi_s = (float(v) for v in score_range)
    if not hi_s > lo_s:
        raise JourneyParameterError(f"score_range={score_range!r}; expected (low, high) with high > low, e.g. (1, 5)")
    cut = lo_s + (hi_s - lo_s) / 4 if dissatisfied_at is None else float(dissatisfied_at)
    if not (np.isfinite(stuck_days) and stuck_days > 0):
        raise JourneyParameterError(f"stuck_days={stuck_days!r}; expected a positive number of days such as 7")
    base = drop_outbound(events_table(events, ("customer_id", "ts", "event", "stage")))
    end = to_utc(observation_end_of(base, observation_end))
    if data is None:
        data = journey_map_data(events, stages, window=window, touch_col=touch_col, score_col=score_col,
                                observation_end=observation_end)
    dm = data.summary
    tj, first_order = _journey_tables(base, stages)
    has_touch = touch_col in tj.columns
    tp_cols = ([touch_col] if has_touch else []) + ["event"]
    # Every count below is over customers, so it adds up over disjoint customer buckets: a log
    # larger than one bucket runs slice by slice within the engine's memory.
    slim = base.select("customer_id", "ts", "event", "stage", *([touch_col] if has_touch else []),
                       *(["revenue"] if "revenue" in base.columns else []))
    with buckets.bucket_files(slim) as slices:
        parts = [_customer_counts(b, stages, touch_col, tp_cols, stuck_days) for b in slices]
    keys = {"reach": ["journey", "stage"], "touchpoints": ["journey", "stage", *tp_cols],
            "conversion": ["stage", *tp_cols], "acquisition": ["channel"], "stuck": ["stage"], "back": ["_prev"]}
    counts = {k: buckets.summed_frames([p[k] for p in parts], by) for k, by in keys.items()}
    reach = counts["reach"]

    # --- touchpoints and the conversion of each first-time touchpoint to the next stage ---
    tpg = counts["touchpoints"]
    role = _role_stages(tpg, stages)
    first_orders = (pd.concat([p["first_orders"] for p in parts]).fillna(0).sum()
                    if "revenue" in slim.columns else None)
    if not has_touch:
        tpg[touch_col] = None
    tpg = tpg.rename(columns={touch_col: "channel"})
    tpg["touchpoint"] = [f"{c} {e}" if isinstance(c, str) and c else str(e) for c, e in zip(tpg["channel"], tpg["event"])]
    tpg["share"] = tpg["events"] / tpg.groupby(["journey", "stage"])["events"].transform("sum")
    conv = counts["conversion"]
    if len(conv):
        if not has_touch:
            conv[touch_col] = None
        conv = conv.rename(columns={touch_col: "channel"})
        conv["journey"] = JOURNEYS[0]
        tpg = tpg.merge(conv[["journey", "stage", "channel", "event", "reached_next"]],
                        on=["journey", "stage", "channel", "event"], how="left")
    else:
        tpg["reached_next"] = np.nan
    tpg["conversion_to_next"] = tpg["reached_next"] / tpg["customers"]
    ok = tpg["reached_next"].notna()
    lo, hi = wilson_interval(tpg["reached_next"].fillna(0).to_numpy(), tpg["customers"].to_numpy(), confidence_level)
    tpg["ci_low"], tpg["ci_high"] = np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)
    order = {s: i for i, s in enumerate(stages)}
    tpg = tpg.sort_values(["journey", "stage", "customers", "touchpoint"], key=lambda c: c.map(order)
                          if c.name == "stage" else c, ascending=[True, True, False, True]).reset_index(drop=True)
    tpg = tpg[["journey", "stage", "channel", "event", "touchpoint", "events", "customers", "share", "reached_next",
               "conversion_to_next", "ci_low", "ci_high"]]

    # --- acquisition mix: the channel of each customer's first event at the first stage --
    acq = pd.DataFrame(columns=["channel", "customers", "share", "ci_low", "ci_high"])
    if has_touch:
        acq = counts["acquisition"]
        n_acq = int(acq["customers"].sum())
        acq["share"] = acq["customers"] / n_acq
        acq["ci_low"], acq["ci_high"] = wilson_interval(acq["customers"].to_numpy(), np.full(len(acq), n_acq),
                                                        confidence_level)
        acq = acq.sort_values(["customers", "channel"], ascending=[False, True]).reset_index(drop=True)

    stuck = {r.stage: (int(r.late), int(r.n)) for r in counts["stuck"].itertuples(index=False)}
    names = list(stages)
    back_n = {names[int(p)]: int(c) for p, c in zip(counts["back"]["_prev"], counts["back"]["customers"])}
    reach_ft = reach[reach["journey"] == JOURNEYS[0]].set_index("stage")["customers"]
    events_ft = reach[reach["journey"] == JOURNEYS[0]].set_index("stage")["events"]
    reach_rp = reach[reach["journey"] == JOURNEYS[1]].set_index("stage")["customers"]

    # --- satisfaction: survey feedback with a stage, else the events' score ---------------
    emotion, source = _emotion(tj, feedback, first_order, stages, score_col, customers, segment_by, cut,
                               confidence_level)

    # --- pain points ------------------------------------------------------------------------
    rows = []
    measured = {}  # stage -> the frictions that could be measured there (the others count as 0 in the score)
    e_all = emotion[emotion["group"] == "all"] if "group" in emotion.columns else emotion
    for i, s in enumerate(stages):
        has_next = i < len(stages) - 1 and np.isfinite(dm.loc[i, "drop_off"])
        leave = float(dm.loc[i, "drop_off"]) if has_next else 0.0
        k, n = stuck.get(s, (0, 0))
        st_share = k / n if n else 0.0
        n_ft = int(reach_ft.get(s, 0))
        bk = back_n.get(s, 0) / n_ft if n_ft else 0.0
        em = e_all[e_all["stage"] == s]
        ans = em["answers"].sum()
        dis = float((em["dissatisfied_share"] * em["answers"]).sum() / ans) if ans else 0.0
        sat = float((em["satisfaction"] * em["answers"]).sum() / ans) if ans else float("nan")
        score = 1 - (1 - leave) * (1 - st_share) * (1 - bk) * (1 - dis)
        rows.append((s, leave, st_share, bk, dis, score, sat))
        measured[s] = {"leave": has_next, "stuck": bool(n), "back": bool(n_ft and i), "dissatisfied": bool(ans)}
    pain = pd.DataFrame(rows, columns=["stage", "leave", "stuck", "back", "dissatisfied", "pain_score", "satisfaction"])
    others = pain["satisfaction"]

    def evidence(r) -> str:
        parts = [f"pain score {r.pain_score:.0%}"]
        if np.isfinite(r.satisfaction):
            rest = others[(pain["stage"] != r.stage) & others.notna()]
            sat = f"satisfaction {r.satisfaction:.2f}"
            if len(rest):
                sat += f" against {rest.min():.2f} to {rest.max():.2f} elsewhere"
            sat += " (all answers, both journeys)"  # the next finding quotes the first-time journey alone
            parts.append(sat)
        m = measured[r.stage]  # a friction that cannot be measured at the stage is not quoted as 0%
        if m["dissatisfied"]:
            parts.append(f"{r.dissatisfied:.0%} of answers dissatisfied")
        if m["leave"]:
            parts.append(f"{r.leave:.0%} do not reach the next stage")
        if m["back"]:
            parts.append(f"{r.back:.0%} go back to an earlier stage")
        if m["stuck"]:
            parts.append(f"{r.stuck:.0%} take more than {stuck_days:g} days to move on")
        return ", ".join(parts)

    pain["evidence"] = [evidence(r) for r in pain.itertuples(index=False)]
    pain = pain.sort_values("pain_score", ascending=False, kind="stable").reset_index(drop=True)
    pain.insert(0, "rank", np.arange(1, len(pain) + 1))

    # --- KPIs ---------------------------------------------------------------------------
    kpis = _kpis(base, role, first_orders, stages, dm, reach_ft, events_ft, reach_rp, acq, feedback, customers,
                 stuck_days, within_days, inactive_days, end, observation_end, confidence_level, back_n, pain)

    # --- summary --------------------------------------------------------------------------
    ranks = pain.set_index("stage")
    sat_of = {}
    for journey in JOURNEYS:
        m = e_all[e_all["journey"] == journey].set_index("stage")["satisfaction"] if len(e_all) else pd.Series(
            dtype=float)
        sat_of[journey] = [float(m.get(s, np.nan)) for s in stages]
    summary = pd.DataFrame({
        "stage": list(stages),
        "customers_first_time": [int(reach_ft.get(s, 0)) for s in stages],
        "customers_repeat": [int(reach_rp.get(s, 0)) for s in stages],
        "conversion_to_next": dm["conversion_to_next"].to_numpy(),
        "drop_off": dm["drop_off"].to_numpy(),
        "median_days_in_stage": dm["median_days_in_stage"].to_numpy(),
        "share_going_back": [float(ranks.loc[s, "back"]) for s in stages],
        "satisfaction_first_time": sat_of[JOURNEYS[0]],
        "satisfaction_repeat": sat_of[JOURNEYS[1]],
        "pain_score": [float(ranks.loc[s, "pain_score"]) for s in stages],
        "pain_rank": [int(ranks.loc[s, "rank"]) for s in stages],
    })
    return JourneyMap(stages, source, (lo_s, hi_s), float(confidence_level), data, summary, tpg, kpis, emotion,
                      pain, acq)


def _emotion(tj, feedback, first_order, stages, score_col, customers, segment_by, cut, confidence_level):
    """Satisfaction per journey and stage (and group): ``(table, source)``."""
    cols = ["journey", "group", "stage", "answers", "satisfaction", "sd", "ci_low", "ci_high", "dissatisfied_share"]
    src = None
    if feedback is not None:
        fb = engine.to_table(feedback, table="feedback")
        if "stage" in fb.columns:
            fb = fb.filter(fb.kind.isin(["survey", "review"]) & fb.stage.isin(list(stages)) & fb.score.notnull())
            if int(engine.to_pandas(fb.aggregate(n=fb.count()))["n"].iloc[0]):
                src = "the feedback table's survey answers and review ratings"
                x = _with_journey(fb.select("customer_id", "ts", "stage", _s=fb.score.cast("float64")), first_order)
    if src is None and score_col and score_col in tj.columns:
        src = f"the events' {score_col} column"
        x = tj.filter(tj[score_col].notnull()).select("customer_id", "ts", "stage", "journey",
                                                      _s=tj[score_col].cast("float64"))
    if src is None:
        return pd.DataFrame(columns=cols), "none"
    keys = ["journey", "stage"]
    agg = dict(answers=x.count(), satisfaction=x._s.mean(), _ss=(x._s * x._s).sum(),
               _dis=(x._s <= cut).cast("int64").sum())
    if segment_by:
        cv = customer_values(customers, segment_by)
        xg = x.left_join(cv, x.customer_id == cv._cid)
        per = engine.to_pandas(xg.group_by([*keys, "_gv"]).aggregate(
            answers=xg.count(), _sum=xg._s.sum(), _ss=(xg._s * xg._s).sum(), _dis=(xg._s <= cut).cast("int64").sum()))
        per["group"] = group_labels(per["_gv"])  # values with one label (e.g. missing) are added up
        per = per.groupby(["journey", "group", "stage"], as_index=False)[["answers", "_sum", "_ss", "_dis"]].sum()
        per["satisfaction"] = per["_sum"] / per["answers"]
        per = per.drop(columns="_sum")
        allg = engine.to_pandas(x.group_by(keys).aggregate(**agg)).assign(group="all")
        df = pd.concat([allg, per], ignore_index=True)
    else:
        df = engine.to_pandas(x.group_by(keys).aggregate(**agg)).assign(group="all")
    n = df["answers"].astype(float)
    var = (df["_ss"] - n * df["satisfaction"] ** 2) / (n - 1).where(n > 1)
    df["sd"] = np.sqrt(var.clip(lower=0))
    ci = [_t_interval(m, s, int(k), confidence_level) for m, s, k in zip(df["satisfaction"], df["sd"], df["answers"])]
    df["ci_low"], df["ci_high"] = [c[0] for c in ci], [c[1] for c in ci]
    df["dissatisfied_share"] = df["_dis"] / n
    order = {s: i for i, s in enumerate(stages)}
    df["_o"] = df["stage"].map(order)
    df["_g"] = df["group"] != "all"
    df = df.sort_values(["_g", "group", "journey", "_o"]).reset_index(drop=True)
    return df[cols], src


def _kpis(base, role, first_orders, stages, dm, reach_ft, events_ft, reach_rp, acq, feedback, customers,
          stuck_days, within_days, inactive_days, end, observation_end, confidence_level, back_n,
          pain) -> pd.DataFrame:
    rows = []

    def add(stage, kpi, value, unit, lo=np.nan, hi=np.nan, n=np.nan):
        rows.append((stage, kpi, float(value) if value is not None else np.nan, unit, float(lo), float(hi),
                     float(n) if n is not None else np.nan))

    for i, s in enumerate(stages):
        add(s, "customers (first-time)", reach_ft.get(s, 0), "count")
        add(s, "customers (repeat)", reach_rp.get(s, 0), "count")
        if i < len(stages) - 1 and np.isfinite(dm.loc[i, "median_days_in_stage"]):
            add(s, "median days in stage", dm.loc[i, "median_days_in_stage"], "days")
        n_ft = int(reach_ft.get(s, 0))
        if n_ft and i:
            lo, hi = wilson_interval(back_n.get(s, 0), n_ft, confidence_level)
            add(s, "share going back", back_n.get(s, 0) / n_ft, "share", max(lo, 0.0), hi, n_ft)
    # awareness: new customers and the top acquisition channel
    first = stages[0]
    add(first, "new customers", reach_ft.get(first, 0), "count")
    if len(acq):
        r = acq.iloc[0]
        add(first, f"reach via {r['channel']}", r["share"], "share", r["ci_low"], r["ci_high"], acq["customers"].sum())
    # consideration: events per customer (first-time)
    if len(stages) > 1:
        s = stages[1]
        if reach_ft.get(s, 0):
            add(s, "events per customer (first-time)", int(events_ft.get(s, 0)) / reach_ft[s], "count",
                n=reach_ft[s])
    # one pass per customer for the cart, purchase and repeat KPIs: first order, first cart at a map
    # stage, last event; a cart at or before the first order (or with none) is a first-time cart
    orders = base.filter(base.event == PURCHASE_EVENT)
    no_ts = ibis.null("timestamp('UTC')")
    per_c = base.group_by("customer_id").aggregate(
        _fp=ibis.ifelse(base.event == PURCHASE_EVENT, base.ts, no_ts).min(),
        _cart=ibis.ifelse((base.event == CART_EVENT) & base.stage.isin(list(stages)), base.ts, no_ts).min(),
        _last=epoch_us(base.ts.max()))
    with engine.materialized(per_c) as per_c:
        carted = per_c._cart.notnull() & (per_c._fp.isnull() | (per_c._cart <= per_c._fp))
        agg = engine.to_pandas(per_c.aggregate(
            n=per_c.count(), buyers=per_c._fp.notnull().cast("int64").sum(), carted=carted.cast("int64").sum(),
            carted_bought=(carted & per_c._fp.notnull()).cast("int64").sum()))
        # cart: cart-to-purchase, abandoned carts (first-time journey)
        n, k = _count(agg["carted"].iloc[0]), _count(agg["carted_bought"].iloc[0])
        if role["cart"] is not None and n:
            lo, hi = wilson_interval(k, n, confidence_level)
            add(role["cart"], "cart-to-purchase rate", k / n, "share", lo, hi, n)
            add(role["cart"], "abandoned carts (customers)", n - k, "count")
        # purchase: conversion and first order value
        buy_stage = role["first order"]
        n_all, n_buy = int(agg["n"].iloc[0]), _count(agg["buyers"].iloc[0])
        if buy_stage is not None and n_all:
            lo, hi = wilson_interval(n_buy, n_all, confidence_level)
            add(buy_stage, "conversion (customers who ordered)", n_buy / n_all, "share", lo, hi, n_all)
            if first_orders is not None and first_orders["n"]:
                # the first-time orders' mean and t interval from their count, sum and sum of squares
                k, total = int(first_orders["n"]), float(first_orders["total"])
                m, squares = total / k, float(first_orders["squares"])
                sd = np.sqrt(max(squares - k * m * m, 0.0) / (k - 1)) if k > 1 else np.nan
                lo, hi = _t_interval(m, sd, k, confidence_level)
                add(buy_stage, "first order value (mean)", m, "currency", lo, hi, k)
        # repeat: repeat rate within within_days, days to the second order, inactive share
        rep_stage = role["repeat order"]
        if rep_stage is not None:
            o = orders.mutate(_rk=ibis.row_number().over(ibis.window(group_by=orders.customer_id,
                                                                     order_by=[orders.ts])))
            o2 = o.filter(o._rk == 1).select(_c2="customer_id", _t2=epoch_us(o.ts))
            j = per_c.filter(per_c._fp.notnull())
            j = j.left_join(o2, j.customer_id == o2._c2)
            end_us = int(end.value // 1000)
            fp_us = epoch_us(j._fp)
            gap = j._t2 - fp_us
            elig = fp_us <= end_us - within_days * DAY_SECONDS * _US
            in_win = elig & j._t2.notnull() & (gap <= within_days * DAY_SECONDS * _US)
            elig_i = fp_us <= end_us - inactive_days * DAY_SECONDS * _US
            gone = elig_i & (j._last < end_us - inactive_days * DAY_SECONDS * _US)
            row = engine.to_pandas(j.aggregate(
                elig=elig.cast("int64").sum(), rep=in_win.cast("int64").sum(),
                med=ibis.ifelse(j._t2.notnull(), gap, ibis.null("int64")).median(),
                elig_i=elig_i.cast("int64").sum(), gone=gone.cast("int64").sum()))
            n, k = _count(row["elig"].iloc[0]), _count(row["rep"].iloc[0])
            if n:
                lo, hi = wilson_interval(k, n, confidence_level)
                add(rep_stage, f"repeat rate within {within_days} days", k / n, "share", lo, hi, n)
            if pd.notna(row["med"].iloc[0]):
                add(rep_stage, "median days to the second order", float(row["med"].iloc[0]) / (DAY_SECONDS * _US),
                    "days")
            n, k = _count(row["elig_i"].iloc[0]), _count(row["gone"].iloc[0])
            if n:
                lo, hi = wilson_interval(k, n, confidence_level)
                add(rep_stage, f"buyers inactive for {inactive_days}+ days", k / n, "share", lo, hi, n)
    # advocacy: review rate, NPS, referred conversion
    adv = role["review"] or stages[-1]
    rv = review_rates(base, feedback, observation_end=observation_end, confidence_level=confidence_level)
    r = rv.rate("all")
    if r["orders"]:
        add(adv, "review rate (orders reviewed in 30 days)", r["review_rate"], "share", r["ci_low"], r["ci_high"],
            r["orders"])
    if np.isfinite(rv.mean_rating):
        add(adv, "review rating (mean)", rv.mean_rating, "stars", rv.rating_ci_low, rv.rating_ci_high,
            rv.ratings["reviews"].sum())
    if feedback is not None:
        np_ = nps(feedback, confidence_level=confidence_level)
        if np.isfinite(np_.nps):
            lo, hi = np_.confidence_interval(confidence_level)
            add(adv, "NPS", np_.nps, "points", lo, hi, np_.summary["answers"].iloc[0])
    if "channel" in base.columns or customers is not None:
        ref = referrals(base, customers, observation_end=observation_end, confidence_level=confidence_level)
        a = ref.summary.set_index("customers").loc["referred"]
        if a["followed"]:
            add(adv, "conversion of referred customers", a["conversion"], "share", a["ci_low"], a["ci_high"],
                a["followed"])
    k = pd.DataFrame(rows, columns=["stage", "kpi", "value", "unit", "ci_low", "ci_high", "n"])
    order = {s: i for i, s in enumerate(stages)}
    return k.sort_values("stage", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
