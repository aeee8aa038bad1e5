"""The re-review: this period against the last, and segments compared with tests.

:func:`compare_periods` holds two periods of the same length against each other (by
default the last ``period_days`` days of the log against the ``period_days`` before;
or two given date ranges) and tests every compared figure:

========================  ==========================================  =====================================
figure                    per period                                  test
========================  ==========================================  =====================================
stage conversion          of the customers with an event at a stage   two-proportion z-test (pooled);
                          in the period, the share with an event at   interval: Newcombe's hybrid score
                          the next stage later in the same period     interval of the difference
time between stages       median days from the first event at a       Mann-Whitney U; interval: bootstrap
                          stage to the next stage's first event after of the difference in medians
touchpoint mix            per channel, the share of the period's      chi-square on the 2x2 table
                          active customers reached through it         (reached or not, by period)
retention                 the share of buyers in the period who buy   log-rank test on the days to the next
                          again within ``return_days`` (Kaplan-Meier; purchase (censored at the period end);
                          buyers at the period's end are censored)    interval: Greenwood
revenue per customer      revenue in the period per active customer   Welch's t-test (from n, sum and sum
                                                                      of squares per period)
NPS (with ``feedback``)   Net Promoter Score of the period's ``nps``  z-test on the two independent NPS
                          answers, in points (-100 to +100)           estimates, multinomial variance
                                                                      (:func:`nps_difference_test`)
satisfaction (with        mean score of the period's ``survey``       Welch's t-test on the answers
``feedback``)             answers (the feedback table's scale, 1-5)
========================  ==========================================  =====================================

Drop-off at a stage is one minus its conversion: the same test, so it is compared
once (the summary shows both). Each period only uses the events inside it, so two
periods of equal length have the same edge (customers who reach a stage near the end
have less time to go on in both). Customers are the unit of every test; a customer
active in both periods counts in both (the tests treat the periods as independent
samples, which is conservative when customers behave alike in both).

NPS and satisfaction are compared only when a feedback table is given (``feedback=``): answers
are the unit (a customer who answers twice counts twice, as in
:func:`journeylib.journeys.feedback.nps`), each answer belongs to the period of its timestamp.
NPS and its variance come from :func:`journeylib.journeys.feedback.nps` and
:func:`~journeylib.journeys.feedback.nps_interval` (the one NPS definition of the kit).

Multiple comparisons: the p-values of all compared figures are adjusted together
(Holm by default, which keeps the chance of flagging *any* unchanged figure at or
below ``alpha``; ``method="fdr_bh"``: Benjamini-Hochberg, which keeps the expected
share of false flags among the flagged figures at or below ``alpha``). A figure has
``changed`` when its adjusted p-value is below ``alpha``.

:func:`compare_segments` does the same across customer segments (a column of the
customer table): stage conversion, retention (the kit's churn definition,
:func:`journeylib.retention.churn_labels`, Kaplan-Meier share still active at
``retention_days``, log-rank) and revenue per customer, each segment against all
other customers, adjusted across all segments and figures (with ``feedback=``: NPS and
satisfaction too, each segment's answers against all other answers); plus a persona table that
describes each segment by its behaviour (top channels, time to first purchase, value, and with
feedback its NPS and satisfaction).
For retention the interval is that of the difference in the share at the horizon
(Greenwood), while the log-rank test compares the whole curves: the two can disagree
(curves that cross, or a gap that opens only late).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from ..core import engine
from ..core.display import format_count, format_percent, format_pvalue, unsigned_zero
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.result import Check, Finding, Result
from ..core.schema import DEFAULT_STAGES, PURCHASE_EVENT
from ..core.time import (DAY_US, end_of_day, epoch_us, observation_end as observation_end_of, to_epoch_us, to_utc,
                         utc_literal)
from ..experiments.statistics import adjust_pvalues, two_proportion_test
from .common import check_stages, drop_outbound, events_table
from .feedback import MISSING_GROUP, customer_values, feedback_rows, group_labels, nps, nps_difference_test

__all__ = ["PeriodComparison", "compare_periods", "SegmentComparison", "compare_segments",
           "nps_difference_test", "km_share", "COMPARISON_METHODS"]

COMPARISON_METHODS = ("holm", "fdr_bh")
PERIOD_COLUMNS = ("figure", "kind", "unit", "previous", "current", "change", "ci_low", "ci_high",
                  "relative_change", "test", "statistic", "pvalue", "p_adjusted", "changed",
                  "n_previous", "n_current")
SEGMENT_COLUMNS = ("figure", "kind", "unit", "segment", "value", "rest", "difference", "ci_low", "ci_high",
                   "test", "statistic", "pvalue", "p_adjusted", "significant", "n_segment", "n_rest")
PERSONA_COLUMNS = ("segment", "customers", "share_of_customers", "top_channels", "buyers_share",
                   "median_days_to_first_purchase", "revenue_per_customer", "retention", "nps", "satisfaction",
                   "description")
NPS_FIGURE = "Net Promoter Score"
SATISFACTION_FIGURE = "satisfaction (mean survey score)"
_METHOD_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}


# --------------------------------------------------------------------------- statistics (pure, tested)
def _z(confidence_level: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence_level / 2))


def _two_proportions(k1: int, n1: int, k0: int, n0: int, confidence_level: float) -> tuple[float, float, float, float]:
    """``(z, pvalue, ci_low, ci_high)`` of ``k1/n1 - k0/n0`` (:func:`journeylib.experiments.statistics.two_proportion_test`)."""
    t = two_proportion_test(k1, n1, k0, n0, confidence_level=confidence_level)
    return tuple(float(t[k]) for k in ("statistic", "pvalue", "ci_low", "ci_high"))


def km_share(durations: np.ndarray, events: np.ndarray, horizon: float) -> tuple[float, float]:
    """Kaplan-Meier survival at ``horizon`` and its Greenwood standard error ``(S, se)``.

    Parameters
    ----------
    durations
        Time of each subject to the event or to censoring.
    events
        Whether the event was observed (``False``: censored).
    horizon
        Time at which the survival share is read.

    Returns
    -------
    tuple of float
        ``(S, se)``; NaN for no subjects.

    Examples
    --------
    >>> import numpy as np
    >>> from journeylib.journeys.compare import km_share
    >>> s, se = km_share(np.array([1, 2, 3, 4, 5.0]), np.array([1, 0, 1, 1, 0]), horizon=3.5)
    >>> round(s, 4), round(se, 4)
    (0.5333, 0.2483)
    """
    d = np.asarray(durations, float)
    e = np.asarray(events, bool)
    if len(d) == 0:
        return np.nan, np.nan
    times, k = np.unique(d[e & (d <= horizon)], return_counts=True)
    n_at = len(d) - np.searchsorted(np.sort(d), times, side="left")  # still at risk just before each time
    s = float(np.prod(1 - k / n_at))
    alive = n_at > k
    v = float(np.sum(k[alive] / (n_at[alive] * (n_at[alive] - k[alive]))))
    return s, s * float(np.sqrt(v))


def _welch(n1: float, s1: float, ss1: float, n0: float, s0: float, ss0: float,
           confidence_level: float) -> tuple[float, float, float, float, float, float]:
    """Welch's t-test from n, sum, sum of squares: ``(mean1, mean0, t, p, ci_low, ci_high)``."""
    if n1 < 2 or n0 < 2:
        m1 = s1 / n1 if n1 else np.nan
        m0 = s0 / n0 if n0 else np.nan
        return m1, m0, np.nan, np.nan, np.nan, np.nan
    m1, m0 = s1 / n1, s0 / n0
    v1 = max((ss1 - n1 * m1 * m1) / (n1 - 1), 0.0)
    v0 = max((ss0 - n0 * m0 * m0) / (n0 - 1), 0.0)
    se2 = v1 / n1 + v0 / n0
    if se2 <= 0:
        return m1, m0, np.nan, np.nan, m1 - m0, m1 - m0
    res = stats.ttest_ind_from_stats(m1, np.sqrt(v1), n1, m0, np.sqrt(v0), n0, equal_var=False)
    df = se2 ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v0 / n0) ** 2 / (n0 - 1))
    half = stats.t.ppf(0.5 + confidence_level / 2, df) * np.sqrt(se2)
    return m1, m0, float(res.statistic), float(res.pvalue), m1 - m0 - half, m1 - m0 + half


def _median_diff_interval(a: np.ndarray, b: np.ndarray, confidence_level: float, n_boot: int,
                          rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap interval of ``median(a) - median(b)``."""
    diffs = bootstrap_medians(a, n_boot, rng) - bootstrap_medians(b, n_boot, rng)
    q = (1 - confidence_level) / 2
    return float(np.quantile(diffs, q)), float(np.quantile(diffs, 1 - q))


def bootstrap_medians(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``n_boot`` bootstrap resamples of ``x``, drawn in O(n log n + n_boot).

    A resample draws ``n`` indices uniformly; its ``k``-th smallest index is ``floor(n * U_(k))``
    with ``U_(k)`` the ``k``-th smallest of ``n`` uniforms, ``Beta(k, n - k + 1)``; the next one
    up is the smallest of the ``n - k`` uniforms above it. So the resample's middle values are
    read off the sorted data at two drawn positions, with exactly the distribution resampling
    gives, without drawing ``n`` indices per resample (10^8 events: minutes saved per figure).

    Parameters
    ----------
    x
        The observed values (at least one).
    n_boot
        Number of resamples.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        ``n_boot`` medians (``np.median`` of each resample: the mean of the two middle values
        for an even ``n``).

    Examples
    --------
    >>> import numpy as np
    >>> from journeylib.journeys.compare import bootstrap_medians
    >>> x = np.arange(1.0, 102.0)  # median 51
    >>> m = bootstrap_medians(x, 20_000, np.random.default_rng(0))
    >>> [float(v) for v in np.quantile(m, [0.025, 0.5, 0.975])]
    [41.0, 51.0, 61.0]
    >>> slow = np.median(x[np.random.default_rng(1).integers(0, 101, (20_000, 101))], axis=1)  # resampling
    >>> [float(v) for v in np.quantile(slow, [0.025, 0.5, 0.975])]
    [41.0, 51.0, 61.0]
    """
    xs = np.sort(np.asarray(x, float))
    n = len(xs)
    k = (n + 1) // 2  # rank of the (lower) middle value
    u = rng.beta(k, n - k + 1, n_boot)
    low = xs[np.minimum((u * n).astype(np.int64), n - 1)]
    if n % 2:
        return low
    v = u + (1 - u) * rng.beta(1, n - k, n_boot)
    return (low + xs[np.minimum((v * n).astype(np.int64), n - 1)]) / 2


def _nps_counts(answers: pd.DataFrame) -> tuple[int, int, int]:
    """``(promoters, passives, detractors)`` of ``nps`` answers (rows of :func:`feedback.feedback_rows`),
    counted by :func:`journeylib.journeys.feedback.nps` (the kit's one NPS definition)."""
    if answers.empty:
        return 0, 0, 0
    r = nps(answers[["customer_id", "ts", "kind", "score"]]).summary.iloc[0]
    return int(r["promoters"]), int(r["passives"]), int(r["detractors"])


def _adjust(p: pd.Series, method: str) -> pd.Series:
    return pd.Series(adjust_pvalues(p.to_numpy(float), method), index=p.index)


def _check_common(alpha: Any, confidence_level: Any, method: Any) -> tuple[float, float, str]:
    try:
        a, c = float(alpha), float(confidence_level)
    except (TypeError, ValueError):
        a = c = np.nan
    if not 0 < a < 1:
        raise JourneyParameterError(f"alpha={alpha!r}; expected the error rate as a number between 0 and 1, "
                                    "such as 0.05")
    if not 0 < c < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1, "
                                    "such as 0.95")
    if method not in COMPARISON_METHODS:
        raise JourneyParameterError(f"method={method!r}; expected one of {list(COMPARISON_METHODS)} "
                                    "(Holm or Benjamini-Hochberg)")
    return a, c, method


# --------------------------------------------------------------------------- engine half
_SURVIVAL_BATCH = 16  # groups per survival query (each adds a dozen columns)


def _grouped(t: ibis.Table, group: ibis.Value) -> ibis.Table:
    """Customer-made events with ``_e`` (epoch microseconds) and ``_g`` (the group); rows with no group dropped."""
    return t.mutate(_g=group).filter(lambda x: x._g.notnull())


def _group_labels(customers: Any, by: str) -> ibis.Table:
    """``_cid`` (customer id as text) and ``_seg`` (the group: ``customers[by]`` as text, missing values
    ``(missing)``, as :func:`journeylib.journeys.feedback.customer_groups` labels them), in the engine.

    Text columns are labelled in place; other types get the labels of their few distinct values made
    in pandas (``str`` of the value) and joined back, so no Python call runs per customer.
    """
    cu = customer_values(customers, by)
    col = cu._gv
    if col.type().is_string():
        return cu.select(_cid=cu._cid.cast("string"), _seg=col.fill_null(MISSING_GROUP))
    # the distinct values with their null, so pandas gives them the dtype the whole column gets
    values = engine.to_pandas(cu.select(_v=col).distinct())["_v"].astype(object)
    values = values[~values.isna()]
    labels = ibis.memtable(pd.DataFrame({"_v": values.to_numpy(), "_lab": group_labels(values).to_numpy()}))
    labels = labels.mutate(_v=labels._v.cast(col.type()))
    j = cu.left_join(labels, col == labels._v)
    return j.select(_cid=j._cid.cast("string"), _seg=j._lab.fill_null(MISSING_GROUP))


def _with_labels(per: ibis.Table, labels: ibis.Table) -> ibis.Table:
    """A table keyed by ``customer_id`` with the customer's group ``_g`` (:func:`_group_labels`) joined on."""
    j = per.left_join(labels, per.customer_id.cast("string") == labels._cid)
    return j.mutate(_g=j._seg.fill_null(MISSING_GROUP)).drop("_cid", "_seg")


def _per_customer(ev: ibis.Table, stages: Sequence[str], purchase_event: str | None = None,
                  labels: ibis.Table | None = None, *, order_event: str = PURCHASE_EVENT,
                  step_times: bool = False) -> ibis.Table:
    """One row per customer and group (``_g``) with what :func:`_group_figures` and :func:`_step_days` read.

    The group is the events' ``_g``, or with ``labels`` (:func:`_group_labels`) each customer's group,
    joined after the events are aggregated per customer (a join of customers, not of events).

    ``_r``: revenue of the customer's ``order_event`` events (a clickstream's product views and carts
    carry prices too); per step ``k``: ``_f{k}`` the first time at ``stages[k]`` and ``_l{k}`` the last at
    ``stages[k + 1]`` (with ``step_times``, ``_m{k}`` the first there too); with ``purchase_event``:
    ``_a`` the first event's time and ``_b`` the first purchase's. Times in epoch microseconds.
    """
    e = ev._e
    aggs: dict[str, Any] = {}
    if "revenue" in ev.columns:
        orders = (ev.event == order_event) if "event" in ev.columns else None
        aggs["_r"] = ev.revenue.sum(where=orders).fill_null(0).cast("float64")
    else:
        aggs["_r"] = ibis.literal(0.0)
    for k in range(len(stages) - 1):
        aggs[f"_f{k}"] = e.min(where=ev.stage == stages[k])
        aggs[f"_l{k}"] = e.max(where=ev.stage == stages[k + 1])
        if step_times:
            aggs[f"_m{k}"] = e.min(where=ev.stage == stages[k + 1])
    if purchase_event is not None:
        aggs["_a"] = e.min()
        aggs["_b"] = e.min(where=ev.event == purchase_event)
    per = ev.group_by(["customer_id"] if labels is not None else ["_g", "customer_id"]).agg(**aggs)
    return _with_labels(per, labels) if labels is not None else per


def _group_figures(per: ibis.Table, stages: Sequence[str], purchase_event: str | None = None) -> pd.DataFrame:
    """Per group, from the customers' rows :func:`_per_customer` (one row per group comes to pandas).

    ``n``: active customers; ``s``, ``ss``: sum and sum of squares of revenue per customer; per step
    ``k``: ``n{k}`` customers with an event at ``stages[k]`` and ``k{k}`` those of them with an event at
    ``stages[k + 1]`` at or after their first one at ``stages[k]``; with ``purchase_event``: ``buyers``
    and ``median_days`` from the first event to the first purchase.
    """
    out: dict[str, Any] = {"n": per.customer_id.count(), "s": per._r.sum(), "ss": (per._r * per._r).sum()}
    for k in range(len(stages) - 1):
        out[f"n{k}"] = per[f"_f{k}"].count()
        out[f"k{k}"] = (per[f"_l{k}"] >= per[f"_f{k}"]).fill_null(False).cast("int64").sum()
    if purchase_event is not None:
        out["customers"] = per.count()
        out["buyers"] = per._b.count()
        out["median_days"] = ((per._b - per._a).cast("float64") / DAY_US).median()
    df = engine.to_pandas(per.group_by("_g").agg(**out))
    for c in [c for c in df.columns if c[0] in "nk" and c != "n" or c in ("customers", "buyers")]:
        df[c] = df[c].fillna(0).astype("int64")
    return df.set_index("_g")


def _step_counts(figs: pd.DataFrame, stages: Sequence[str], g1: Any, g0: Any) -> list[dict]:
    """Conversion counts per step for groups ``g1`` (current/segment) and ``g0`` (from :func:`_group_figures`)."""
    out = []
    for k in range(len(stages) - 1):
        a, b = figs[figs.index.isin(g1)], figs[figs.index.isin(g0)]
        out.append({"k": k, "from": stages[k], "to": stages[k + 1],
                    "n1": int(a[f"n{k}"].sum()), "k1": int(a[f"k{k}"].sum()),
                    "n0": int(b[f"n{k}"].sum()), "k0": int(b[f"k{k}"].sum())})
    return out


def _step_days(per: ibis.Table, ev: ibis.Table, stages: Sequence[str]) -> pd.DataFrame:
    """Per step ``_k`` and group ``_g``: the ``days`` from each customer's first event at the step's stage
    to the first event at the next stage after it (customers who got there only; numeric columns).

    ``per`` holds each customer's first times (:func:`_per_customer` with ``step_times``): when the first
    time at the next stage is not earlier than the first at the step's stage, it is the answer. Only
    customers who were at the next stage before and again after need their events ``ev`` looked up,
    in one join for every step.
    """
    steps = len(stages) - 1
    if steps < 1:
        return pd.DataFrame({"_k": pd.Series(dtype="int64"), "_g": pd.Series(dtype="int64"),
                             "days": pd.Series(dtype="float64")})
    later = ev.filter(ev.stage.isin(list(stages[1:])))
    later = later.select(_g2=later._g, _c2=later.customer_id, _e2=later._e,
                         _k=ibis.cases(*[(later.stage == stages[k + 1], k) for k in range(steps)]))
    back = per.filter(ibis.or_(*[(per[f"_m{k}"] < per[f"_f{k}"]) & (per[f"_l{k}"] >= per[f"_f{k}"])
                                 for k in range(steps)]))
    j = back.inner_join(later, (back._g == later._g2) & (back.customer_id == later._c2))
    j = j.mutate(_f=ibis.cases(*[(j._k == k, j[f"_f{k}"]) for k in range(steps)]),
                 _m=ibis.cases(*[(j._k == k, j[f"_m{k}"]) for k in range(steps)]))
    j = j.filter((j._m < j._f) & (j._e2 >= j._f))
    looked_up = j.group_by(["_k", "_g", "customer_id"]).agg(_f=j._f.min(), _nx=j._e2.min())
    u = looked_up.select(_k=looked_up._k.cast("int64"), _g=looked_up._g,
                         days=(looked_up._nx - looked_up._f).cast("float64") / DAY_US)
    for k in range(steps):
        d = per.filter(per[f"_m{k}"] >= per[f"_f{k}"])
        u = u.union(d.select(_k=ibis.literal(k, type="int64"), _g=d._g,
                             days=(d[f"_m{k}"] - d[f"_f{k}"]).cast("float64") / DAY_US), distinct=False)
    return engine.to_pandas(u)


def _survival_figures(base: ibis.Table, groups: Sequence[Any], horizon: float) -> pd.DataFrame:
    """Each group against all other rows of ``base`` (``_g`` group, ``_t`` time, ``_d`` event observed),
    from counts per distinct time aggregated in the engine (one row per group comes to pandas).

    Columns per group: ``n``, ``n_rest`` (rows), ``share``/``se`` and ``share_rest``/``se_rest``
    (Kaplan-Meier survival at ``horizon`` with Greenwood's standard error, as :func:`km_share`), ``events``
    (observed in all rows) and the two-group log-rank ``statistic`` and ``pvalue`` (as lifelines'
    ``logrank_test``: ``(O - E)^2 / V`` summed over the distinct event times, chi-squared with 1 df).
    """
    rows = []
    for start in range(0, len(groups), _SURVIVAL_BATCH):
        batch = list(groups[start:start + _SURVIVAL_BATCH])
        rows += _survival_batch(base, batch, horizon)
    return pd.DataFrame(rows).set_index("group") if rows else pd.DataFrame(
        columns=["n", "n_rest", "share", "se", "share_rest", "se_rest", "events", "statistic", "pvalue"])


def _survival_batch(base: ibis.Table, groups: list, horizon: float) -> list[dict]:
    dd = base._d.cast("int64")
    aggs: dict[str, Any] = {"C": base.count(), "D": dd.sum()}
    for i, g in enumerate(groups):
        inside = base._g == g
        aggs[f"c{i}"] = inside.cast("int64").sum()
        aggs[f"d{i}"] = (inside & base._d).cast("int64").sum()
    per_t = base.group_by("_t").agg(**aggs)
    w = ibis.cumulative_window(order_by=ibis.desc(per_t._t))  # at risk at t: rows with a time >= t
    at = per_t.mutate(N=per_t.C.sum().over(w), **{f"n{i}": per_t[f"c{i}"].sum().over(w)
                                                  for i in range(len(groups))})
    N, D = at.N.cast("float64"), at.D.cast("float64")
    spread = ibis.ifelse(at.N > 1, D * (N - D) / ibis.greatest(N - 1, 1.0), 0.0)
    early = at._t <= horizon

    def km(d: ibis.Value, n: ibis.Value, name: str) -> dict:
        step = early & (d > 0)
        alive = step & (d < n)
        d_f, n_f = d.cast("float64"), n.cast("float64")
        log_s = ibis.greatest(1 - d_f / ibis.greatest(n_f, 1.0), 1e-300).ln()
        return {f"L{name}": ibis.ifelse(alive, log_s, 0.0).sum(),
                f"Z{name}": ibis.ifelse(step & (d >= n), 1, 0).sum(),
                f"G{name}": ibis.ifelse(alive, d_f / ibis.greatest(n_f * (n_f - d_f), 1.0), 0.0).sum()}

    out: dict[str, Any] = {"C": at.C.sum(), "D": at.D.sum()}
    for i in range(len(groups)):
        n, d = at[f"n{i}"], at[f"d{i}"]
        frac = n.cast("float64") / N
        out[f"c{i}"] = at[f"c{i}"].sum()
        out[f"O{i}"] = d.cast("float64").sum()
        out[f"E{i}"] = (D * frac).sum()
        out[f"V{i}"] = (spread * frac * (1 - frac)).sum()
        out.update(km(d, n, f"s{i}"))
        out.update(km(at.D - d, at.N - n, f"r{i}"))
    r = engine.to_pandas(at.agg(**out)).iloc[0]
    total, events = int(r["C"] or 0), int(r["D"] or 0)

    def share(name: str, size: int) -> tuple[float, float]:
        if size <= 0:
            return np.nan, np.nan
        if (r[f"Z{name}"] or 0) > 0:
            return 0.0, 0.0
        s = float(np.exp(r[f"L{name}"] or 0.0))
        return s, s * float(np.sqrt(r[f"G{name}"] or 0.0))

    res = []
    for i, g in enumerate(groups):
        n1 = int(r[f"c{i}"] or 0)
        s1, se1 = share(f"s{i}", n1)
        s0, se0 = share(f"r{i}", total - n1)
        v = float(r[f"V{i}"] or 0.0)
        z = float(r[f"O{i}"] or 0.0) - float(r[f"E{i}"] or 0.0)
        stat = z * z / v if v > 0 else 0.0  # lifelines: the pseudo-inverse of a zero variance is zero
        res.append(dict(group=g, n=n1, n_rest=total - n1, share=s1, se=se1, share_rest=s0, se_rest=se0,
                        events=events, statistic=stat, pvalue=float(stats.chi2.sf(stat, 1))))
    return res


def _channel_counts(ev: ibis.Table, labels: ibis.Table | None = None) -> pd.DataFrame:
    """Per group and channel: customers reached and touchpoints (touches per customer and channel first,
    then per group: no distinct count). The group is ``_g``, or with ``labels`` the customer's group."""
    if "channel" not in ev.columns:
        return pd.DataFrame(columns=["_g", "channel", "customers", "touches"])
    c = ev.filter(ev.channel.notnull())
    per = c.group_by(["customer_id", "channel"] if labels is not None else ["_g", "customer_id", "channel"]
                     ).agg(_n=c.count())
    if labels is not None:
        per = _with_labels(per, labels)
    return engine.to_pandas(per.group_by(["_g", "channel"]).agg(customers=per.customer_id.count(),
                                                                touches=per._n.sum()))


# --------------------------------------------------------------------------- periods
def _period(value: Any, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise JourneyParameterError(f"{name}={value!r}; expected a pair (start, end) of dates such as "
                                    "('2024-10-01', '2025-01-01'), the end not included")
    start, end = to_utc(value[0], name), to_utc(value[1], name)
    if not start < end:
        raise JourneyParameterError(f"{name}={value!r}: the start must come before the end")
    return start, end


def _date(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def _period_text(p: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    last = p[1] - pd.Timedelta(microseconds=1)
    return f"{_date(p[0])} to {_date(last)}"


def _show(unit: str, x: Any, change: bool = False) -> str:
    """One value for people in its unit: a share as a percentage (a change in points), days, NPS points,
    a mean score, or money; a value that rounds to zero has no minus sign."""
    if x is None or not np.isfinite(float(x)):
        return "–"
    return unsigned_zero(_shown(unit, x, change))


def _shown(unit: str, x: Any, change: bool) -> str:
    if unit == "share":
        return f"{100 * x:+.1f} pts" if change else format_percent(x)
    if unit == "days":
        return f"{x:+.1f} days" if change else f"{x:.1f} days"
    if unit == "points":
        return f"{x:+.1f} pts" if change else f"{x:+.0f}"
    if unit == "score":
        return f"{x:+.2f}" if change else f"{x:.2f}"
    return f"{x:+,.2f}" if change else f"{x:,.2f}"


def _values_text(unit: str, a: float, b: float, d: float, lo: float, hi: float) -> tuple[str, str, str]:
    """Two values and the difference with its interval, for a sentence: ``("45%", "38%", "+7.0 points, ...")``;
    a number that rounds to zero has no minus sign."""
    def f(x: float, spec: str) -> str:
        return unsigned_zero(format(x, spec))

    if unit == "share":
        return (format_percent(a), format_percent(b),
                f"{f(100 * d, '+.1f')} points, {f(100 * lo, '+.1f')} to {f(100 * hi, '+.1f')}")
    if unit == "days":
        return f"{f(a, '.1f')} days", f"{f(b, '.1f')} days", f"{f(d, '+.1f')} days, {f(lo, '+.1f')} to {f(hi, '+.1f')}"
    if unit == "points":
        return f(a, "+.0f"), f(b, "+.0f"), f"{f(d, '+.1f')} points, {f(lo, '+.1f')} to {f(hi, '+.1f')}"
    if unit == "score":
        return f(a, ".2f"), f(b, ".2f"), f"{f(d, '+.2f')}, {f(lo, '+.2f')} to {f(hi, '+.2f')}"
    return f(a, ",.2f"), f(b, ",.2f"), f"{f(d, '+,.2f')}, {f(lo, '+,.2f')} to {f(hi, '+,.2f')}"


@dataclass(frozen=True)
class PeriodComparison(Result):
    """This period against the last (see :func:`compare_periods`).

    ``summary`` has one row per compared figure: ``figure, kind, unit, previous, current,
    change, ci_low, ci_high`` (the interval of the change), ``relative_change``, ``test,
    statistic, pvalue, p_adjusted, changed, n_previous, n_current``. ``unit`` is ``share``,
    ``days``, ``currency``, and with a feedback table ``points`` (the Net Promoter Score) and
    ``score`` (mean survey score); ``n_*`` count customers, or answers for those two. ``changes``
    are the rows that changed, biggest relative change first.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.compare import compare_periods
    >>> ds = jl.load_dataset("sample")
    >>> result = compare_periods(ds.events, n_boot=200)
    >>> [str(d.date()) for d in result.current], result.any_changed
    (['2025-04-02', '2025-07-01'], False)
    >>> result.summary[["figure", "previous", "current"]].head(1).round(3)
                                           figure  previous  current
    0  conversion from awareness to consideration     0.607    0.611
    """

    table: pd.DataFrame = field(repr=False)
    previous: tuple[pd.Timestamp, pd.Timestamp]
    current: tuple[pd.Timestamp, pd.Timestamp]
    alpha: float = 0.05
    method: str = "holm"
    confidence_level: float = 0.95
    active_previous: int = 0
    active_current: int = 0
    log_start: pd.Timestamp | None = None
    has_stages: bool = True

    @property
    def summary(self) -> pd.DataFrame:
        """One row per compared figure (a copy)."""
        return self.table.copy()

    @property
    def changes(self) -> pd.DataFrame:
        """The figures that changed significantly, biggest relative change first."""
        t = self.table[self.table["changed"]]
        order = t["relative_change"].abs().fillna(t["change"].abs()).sort_values(ascending=False, kind="stable")
        return t.loc[order.index].reset_index(drop=True)

    def display_table(self) -> pd.DataFrame:
        """The summary for people: each value in its unit (percent, days, money), changed figures first."""
        t = self.table.assign(_o=~self.table["changed"]).sort_values("_o", kind="stable")
        return pd.DataFrame({
            "figure": t["figure"],
            "previous period": [_show(u, v) for u, v in zip(t["unit"], t["previous"])],
            "current period": [_show(u, v) for u, v in zip(t["unit"], t["current"])],
            "change": [_show(u, v, True) for u, v in zip(t["unit"], t["change"])],
            "interval": [f"{_show(u, lo, True)} to {_show(u, hi, True)}"
                         for u, lo, hi in zip(t["unit"], t["ci_low"], t["ci_high"])],
            "test": t["test"],
            "p (corrected)": [format_pvalue(p, prefix=False) for p in t["p_adjusted"]],
            "changed": np.where(t["changed"], "yes", ""),
        }).reset_index(drop=True)

    @property
    def any_changed(self) -> bool:
        """Whether at least one figure changed significantly."""
        return bool(self.table["changed"].any())

    def _sentence(self, r: pd.Series) -> str:
        word = "rose" if r["change"] > 0 else "fell"
        prev, cur, pts = _values_text(r["unit"], r["previous"], r["current"], r["change"], r["ci_low"],
                                      r["ci_high"])
        return (f"{r['figure'][0].upper()}{r['figure'][1:]} {word} from {prev} to {cur} "
                f"({pts}; {format_pvalue(r['p_adjusted'])} after correcting for {len(self.table)} comparisons).")

    def _action(self, r: pd.Series) -> str:
        if r["kind"] == "stage conversion":
            return ("Find what changed at this step (site, offer, stock, traffic mix) and fix it first."
                    if r["change"] < 0 else "Find what improved this step and keep it.")
        if r["kind"] == "time between stages":
            return "Check what slows customers down at this step." if r["change"] > 0 else ""
        if r["kind"] == "touchpoint mix":
            return "Check whether the channel's spend or reach changed on purpose."
        if r["kind"] == "retention":
            return "Look at recent buyers' experience and the follow-up messages." if r["change"] < 0 else ""
        if r["kind"] in ("NPS", "satisfaction"):
            return ("Ask this period's detractors and least satisfied customers what changed for them."
                    if r["change"] < 0 else "")
        return ""

    @property
    def periods_text(self) -> str:
        """The two periods in words: ``"2025-04-02 to 2025-06-30 against 2025-01-02 to 2025-04-01"``."""
        return f"{_period_text(self.current)} against {_period_text(self.previous)}"

    @property
    def findings(self) -> tuple[Finding, ...]:
        """What changed significantly, biggest first (at most four sentences)."""
        when = self.periods_text
        ch = self.changes
        if ch.empty:
            return (Finding(f"None of the {len(self.table)} compared figures changed significantly from the "
                            f"previous period to the current one ({when}; at most a "
                            f"{format_percent(self.alpha, 0)} chance of a false alarm).",
                            action="No change calls for action; re-review the journey next period."),)
        out = [Finding(self._sentence(r), float(r["change"]), float(r["ci_low"]), float(r["ci_high"]),
                       self._action(r)) for _, r in ch.head(3).iterrows()]
        more = len(ch) - 3
        head = (f"{len(ch)} of {len(self.table)} compared figures changed significantly ({when}).")
        out.insert(0, Finding(head + (f" {more} more are listed in the table." if more > 0 else "")))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        n = min(self.active_previous, self.active_current)
        out = [Check("period sizes", "pass" if n >= 100 else "warn",
                     f"{format_count(self.active_previous)} active customers in the previous period, "
                     f"{format_count(self.active_current)} in the current one"
                     + ("" if n >= 100 else "; with fewer than 100 only large changes can be detected"))]
        if self.log_start is not None and self.log_start > self.previous[0] + pd.Timedelta(days=1):
            out.append(Check("previous period complete", "warn",
                             f"the log starts on {_date(self.log_start)}, after the previous period's start "
                             f"({_date(self.previous[0])}): the previous period is partly empty"))
        if not self.has_stages:
            out.append(Check("stages compared", "warn", "the events carry no stage column: stage conversion "
                                                        "and time between stages are not compared"))
        for kind, what in (("NPS", "NPS answers"), ("satisfaction", "survey answers")):
            r = self.table[self.table["kind"] == kind]
            if len(r):
                a, b = int(r["n_previous"].iloc[0]), int(r["n_current"].iloc[0])
                out.append(Check(f"{what} per period", "pass" if min(a, b) >= 100 else "warn",
                                 f"{format_count(a)} {what} in the previous period, {format_count(b)} in the "
                                 "current one" + ("" if min(a, b) >= 100 else
                                                  "; with fewer than 100 only large changes can be detected")))
        out.append(Check("multiple comparisons", "pass",
                         f"{_METHOD_NAMES[self.method]} correction across {int(self.table['pvalue'].notna().sum())} "
                         f"tested figures at {format_percent(self.alpha, 0)}"))
        return tuple(out)

    def plot(self, ax=None):
        """Change of every figure from the previous period, relative to its previous value, with intervals."""
        from . import plots

        return plots.plot_period_comparison(self, ax=ax)


def compare_periods(
    events: Any,
    *,
    current: Any = None,
    previous: Any = None,
    period_days: int = 90,
    stages: Sequence[str] | str = DEFAULT_STAGES,
    return_days: int = 30,
    purchase_event: str = PURCHASE_EVENT,
    alpha: float = 0.05,
    method: str = "holm",
    confidence_level: float = 0.95,
    observation_end: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    feedback: Any = None,
) -> PeriodComparison:
    """This period against the last: every journey figure compared with its test.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts`` and ``event``,
        ``stage``, ``channel``, ``revenue`` where present (figures without their column are
        left out). Outbound events (sends) are ignored.
    current, previous
        Periods as ``(start, end)`` pairs of dates, the end not included:
        ``current=("2024-10-01", "2025-01-01")`` is the fourth quarter. ``current`` defaults
        to the last ``period_days`` days up to the end of the observation's last day;
        ``previous`` to the period of the same length just before ``current``. They must not
        overlap.
    period_days
        Length of the default periods, in days.
    stages
        Stage names in journey order; conversion and time are compared for each step.
    return_days
        Retention is the share of the period's buyers who buy again within this many days.
    purchase_event
        The event that is an order.
    alpha
        Error rate of the decision "changed": with ``method="holm"`` the chance of flagging
        any unchanged figure, with ``"fdr_bh"`` the expected share of false flags.
    method
        ``"holm"`` (default) or ``"fdr_bh"`` (Benjamini-Hochberg).
    confidence_level
        Level of the intervals of each change.
    observation_end
        End of the log (default: its last timestamp); the default current period ends at
        midnight after it.
    n_boot, seed
        Bootstrap resamples for the interval of a change in median days, and their seed.
    feedback
        The feedback table (``customer_id, ts, kind, score``; optional): adds the Net Promoter Score
        of each period's ``nps`` answers (z-test, :func:`nps_difference_test`) and the mean score of its
        ``survey`` answers (Welch's t-test) to the compared figures (and to the multiple-comparison
        correction). ``None``: neither is compared.

    Returns
    -------
    PeriodComparison
        One tested row per figure, the periods compared, findings and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.compare import compare_periods
    >>> ds = jl.load_dataset("sample")
    >>> result = compare_periods(ds.events, current=("2025-01-01", "2025-07-01"),
    ...                          previous=("2024-07-01", "2025-01-01"), n_boot=200)
    >>> row = result.summary.set_index("figure").loc["revenue per active customer"]
    >>> f"{row['previous']:.1f} -> {row['current']:.1f}", bool(row["changed"])
    ('63.6 -> 85.0', True)
    """
    alpha, confidence_level, method = _check_common(alpha, confidence_level, method)
    for name, v in (("period_days", period_days), ("return_days", return_days), ("n_boot", n_boot)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise JourneyParameterError(f"{name}={v!r}; expected a whole number of at least 1")
    everything = events_table(events, ("customer_id", "ts"))
    has_stages = "stage" in everything.columns
    stages = check_stages(stages) if has_stages else ()
    if current is None:
        if previous is not None:
            raise JourneyParameterError("previous is given without current; give both periods, or neither "
                                        "(then the last period_days days are compared with the ones before)")
        end = end_of_day(observation_end_of(everything, observation_end))
        current = (end - pd.Timedelta(days=int(period_days)), end)
    else:
        current = _period(current, "current")
    if previous is None:
        length = current[1] - current[0]
        previous = (current[0] - length, current[0])
    else:
        previous = _period(previous, "previous")
    if previous[0] < current[1] and current[0] < previous[1]:
        raise JourneyParameterError(f"previous={_period_text(previous)} overlaps current={_period_text(current)}; "
                                    "expected two separate periods")
    t = drop_outbound(everything)
    e = epoch_us(t)
    cur_us = tuple(to_epoch_us(x) for x in current)
    prev_us = tuple(to_epoch_us(x) for x in previous)
    group = ibis.cases(((e >= prev_us[0]) & (e < prev_us[1]), 0), ((e >= cur_us[0]) & (e < cur_us[1]), 1),
                       else_=ibis.null("int64"))
    ev = _grouped(t.mutate(_e=e), group)
    # the customers' first times feed the conversions and the days between stages
    with engine.materialized(_per_customer(ev, stages, order_event=purchase_event, step_times=has_stages)) as per:
        rev = _group_figures(per, stages)
        days = _step_days(per, ev, stages) if has_stages else None
    active = {g: int(rev["n"].get(g, 0)) for g in (0, 1)}
    empty = [f"{name} ({_period_text(p)})" for name, p, g in (("previous", previous, 0), ("current", current, 1))
             if not active[g]]
    if empty:
        raise JourneyDataError(f"events: no customer event in the {' and the '.join(empty)} period; expected "
                               "events in both periods (pass current= and previous= as date ranges the log covers)")
    rng = np.random.default_rng(seed)
    rows: list[dict] = []

    def share_row(figure, kind, k1, n1, k0, n0, test="two-proportion z-test"):
        z, p, lo, hi = _two_proportions(k1, n1, k0, n0, confidence_level)
        cur_v, prev_v = (k1 / n1 if n1 else np.nan), (k0 / n0 if n0 else np.nan)
        if kind == "touchpoint mix" and n1 and n0:
            table = np.array([[k1, n1 - k1], [k0, n0 - k0]])
            if (table.sum(axis=0) > 0).all():
                chi2, p = stats.chi2_contingency(table, correction=False)[:2]
                z = float(chi2)
            test = "chi-square"
        rows.append(dict(figure=figure, kind=kind, unit="share", previous=prev_v, current=cur_v,
                         change=cur_v - prev_v, ci_low=lo, ci_high=hi, test=test, statistic=z, pvalue=p,
                         n_previous=n0, n_current=n1))

    if days is not None:
        for r in _step_counts(rev, stages, [1], [0]):
            share_row(f"conversion from {r['from']} to {r['to']}", "stage conversion",
                      r["k1"], r["n1"], r["k0"], r["n0"])
            dk = days[days["_k"] == r["k"]]
            d1 = dk.loc[dk["_g"] == 1, "days"].to_numpy(float)
            d0 = dk.loc[dk["_g"] == 0, "days"].to_numpy(float)
            if len(d1) and len(d0):
                u, p = stats.mannwhitneyu(d1, d0, alternative="two-sided")
                lo, hi = _median_diff_interval(d1, d0, confidence_level, n_boot, rng)
            else:
                u = p = lo = hi = np.nan
            m1 = float(np.median(d1)) if len(d1) else np.nan
            m0 = float(np.median(d0)) if len(d0) else np.nan
            rows.append(dict(figure=f"median days from {r['from']} to {r['to']}", kind="time between stages",
                             unit="days", previous=m0, current=m1, change=m1 - m0, ci_low=lo, ci_high=hi,
                             test="Mann-Whitney U", statistic=float(u), pvalue=float(p),
                             n_previous=len(d0), n_current=len(d1)))
    ch = _channel_counts(ev)
    for c in sorted(ch["channel"].unique(), key=str):
        cc = ch[ch["channel"] == c].set_index("_g")["customers"]
        share_row(f"customers reached through {c}", "touchpoint mix", int(cc.get(1, 0)), active[1],
                  int(cc.get(0, 0)), active[0])
    if "event" in everything.columns:
        _retention_row(rows, ev, purchase_event, {0: prev_us[1], 1: cur_us[1]}, return_days, confidence_level)
    if "revenue" in everything.columns:
        def st(g):
            return (float(rev["n"].get(g, 0)), float(rev["s"].get(g, 0) or 0), float(rev["ss"].get(g, 0) or 0))
        m1, m0, tt, p, lo, hi = _welch(*st(1), *st(0), confidence_level)
        rows.append(dict(figure="revenue per active customer", kind="revenue per customer", unit="currency",
                         previous=m0, current=m1, change=m1 - m0, ci_low=lo, ci_high=hi,
                         test="Welch's t-test", statistic=tt, pvalue=p, n_previous=active[0],
                         n_current=active[1]))
    if feedback is not None:
        def period_of(ts: pd.Series) -> pd.Series:
            g = pd.Series(np.nan, index=ts.index)
            g[(ts >= previous[0]) & (ts < previous[1])] = 0
            g[(ts >= current[0]) & (ts < current[1])] = 1
            return g
        fb = engine.to_table(feedback, table="feedback")
        if "ts" in fb.columns and fb.ts.type().is_timestamp():  # only the two periods' answers leave the engine
            fb = fb.filter((fb.ts >= utc_literal(min(previous[0], current[0])))
                           & (fb.ts < utc_literal(max(previous[1], current[1]))))
        answers = feedback_rows(fb, "nps")
        answers = answers.assign(_g=period_of(answers["ts"]))
        c1, c0 = (_nps_counts(answers[answers["_g"] == g]) for g in (1, 0))
        if sum(c1) + sum(c0):
            v1, v0, z, p, lo, hi = nps_difference_test(c1, c0, confidence_level)
            rows.append(dict(figure=NPS_FIGURE, kind="NPS", unit="points", previous=v0, current=v1,
                             change=v1 - v0, ci_low=lo, ci_high=hi, test="z-test (NPS, multinomial variance)",
                             statistic=z, pvalue=p, n_previous=sum(c0), n_current=sum(c1)))
        survey = feedback_rows(fb, "survey").dropna(subset=["score"])
        survey = survey.assign(_g=period_of(survey["ts"]))
        if ((survey["_g"] == 0) | (survey["_g"] == 1)).any():
            a, b = (survey.loc[survey["_g"] == g, "score"].to_numpy(float) for g in (1, 0))
            m1, m0, tt, p, lo, hi = _welch(len(a), a.sum(), (a * a).sum(), len(b), b.sum(), (b * b).sum(),
                                           confidence_level)
            rows.append(dict(figure=SATISFACTION_FIGURE, kind="satisfaction", unit="score", previous=m0,
                             current=m1, change=m1 - m0, ci_low=lo, ci_high=hi, test="Welch's t-test",
                             statistic=tt, pvalue=p, n_previous=len(b), n_current=len(a)))
    table = pd.DataFrame(rows, columns=[c for c in PERIOD_COLUMNS if c not in ("relative_change", "p_adjusted",
                                                                               "changed")])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = table["change"] / table["previous"].abs()
    table["relative_change"] = rel.where(np.isfinite(rel))
    table["p_adjusted"] = _adjust(table["pvalue"], method)
    table["changed"] = (table["p_adjusted"] < alpha).fillna(False).astype(bool)
    table = table[list(PERIOD_COLUMNS)]
    log_start = engine.to_pandas(everything.aggregate(_m=everything.ts.min()))["_m"].iloc[0]
    return PeriodComparison(table, previous, current, alpha, method, confidence_level, active[0], active[1],
                            to_utc(log_start) if pd.notna(log_start) else None, has_stages)


def _retention_row(rows: list[dict], ev: ibis.Table, purchase_event: str, ends: dict, return_days: int,
                   level: float) -> None:
    """The retention row of :func:`compare_periods`: per period, its buyers' days from their first purchase
    in the period to the next purchase (censored at the period's end), Kaplan-Meier and log-rank from
    counts per distinct time (:func:`_survival_figures`); nothing when the periods have no buyer."""
    p = ev.filter(ev.event == purchase_event)
    a = p.group_by(["_g", "customer_id"]).agg(_f=lambda x: x._e.min())
    b = p.select(_g2=p._g, _c2=p.customer_id, _e2=p._e)
    j = a.left_join(b, (a._g == b._g2) & (a.customer_id == b._c2) & (b._e2 > a._f))
    per = j.group_by(["_g", "customer_id"]).agg(_f=j._f.min(), _nx=j._e2.min())
    returned = per._nx.notnull()
    end = ibis.cases((per._g == 0, ibis.literal(int(ends[0]), type="int64")),
                     else_=ibis.literal(int(ends[1]), type="int64"))
    base = per.select(_g=per._g, _d=returned, _t=(returned.ifelse(per._nx, end) - per._f).cast("float64") / DAY_US)
    r = _survival_figures(base, [1], return_days).iloc[0]
    if r["n"] + r["n_rest"] == 0:
        return
    c1, c0 = 1 - r["share"], 1 - r["share_rest"]
    if r["n"] and r["n_rest"] and r["events"]:
        stat, p_value = float(r["statistic"]), float(r["pvalue"])
    else:
        stat = p_value = np.nan
    half = _z(level) * np.sqrt(r["se"] ** 2 + r["se_rest"] ** 2)
    rows.append(dict(figure=f"buyers buying again within {return_days} days", kind="retention", unit="share",
                     previous=c0, current=c1, change=c1 - c0, ci_low=c1 - c0 - half, ci_high=c1 - c0 + half,
                     test="log-rank", statistic=stat, pvalue=p_value, n_previous=int(r["n_rest"]),
                     n_current=int(r["n"])))


# --------------------------------------------------------------------------- segments
@dataclass(frozen=True)
class SegmentComparison(Result):
    """Segments compared with tests (see :func:`compare_segments`).

    ``summary``: one row per figure and segment: ``figure, kind, unit, segment, value`` (the
    segment's), ``rest`` (all other customers'), ``difference, ci_low, ci_high, test, statistic,
    pvalue, p_adjusted, significant, n_segment, n_rest`` (with a feedback table also ``Net Promoter
    Score``, unit ``points``, and ``satisfaction (mean survey score)``, unit ``score``, counted in
    answers). ``persona``: one row per segment described by its behaviour (``nps`` and
    ``satisfaction`` empty without a feedback table).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.compare import compare_segments
    >>> ds = jl.load_dataset("sample")
    >>> result = compare_segments(ds.events, ds.customers, "segment")
    >>> result.persona["segment"].tolist()
    ['budget', 'premium', 'standard']
    >>> print(result.findings[0].text)
    1 of 21 segment differences are significant (groups of segment).
    """

    table: pd.DataFrame = field(repr=False)
    persona: pd.DataFrame = field(repr=False)
    by: str = "segment"
    alpha: float = 0.05
    method: str = "holm"
    confidence_level: float = 0.95
    retention_days: int = 180

    @property
    def summary(self) -> pd.DataFrame:
        """One row per figure and segment (a copy)."""
        return self.table.copy()

    @property
    def differences(self) -> pd.DataFrame:
        """The significant differences, largest relative to the rest first."""
        t = self.table[self.table["significant"]]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = (t["difference"] / t["rest"].abs()).abs()
        return t.loc[rel.fillna(0).sort_values(ascending=False, kind="stable").index].reset_index(drop=True)

    def display_table(self) -> pd.DataFrame:
        """The summary for people: each value in its unit (percent or money), significant rows first."""
        t = self.table.assign(_o=~self.table["significant"]).sort_values("_o", kind="stable")
        return pd.DataFrame({
            "segment": t["segment"],
            "figure": t["figure"],
            "segment value": [_show(u, v) for u, v in zip(t["unit"], t["value"])],
            "other customers": [_show(u, v) for u, v in zip(t["unit"], t["rest"])],
            "difference": [_show(u, v, True) for u, v in zip(t["unit"], t["difference"])],
            "interval": [f"{_show(u, lo, True)} to {_show(u, hi, True)}"
                         for u, lo, hi in zip(t["unit"], t["ci_low"], t["ci_high"])],
            "test": t["test"],
            "p (corrected)": [format_pvalue(p, prefix=False) for p in t["p_adjusted"]],
            "significant": np.where(t["significant"], "yes", ""),
        }).reset_index(drop=True)

    def _sentence(self, r: pd.Series) -> str:
        v, rest, ci = _values_text(r["unit"], r["value"], r["rest"], r["difference"], r["ci_low"], r["ci_high"])
        return (f"Segment {r['segment']}: {r['figure']} is {v} against {rest} for the other customers "
                f"({ci}; {format_pvalue(r['p_adjusted'])} after correcting for {len(self.table)} comparisons).")

    @property
    def findings(self) -> tuple[Finding, ...]:
        d = self.differences
        n_seg = self.table["segment"].nunique()
        if d.empty:
            return (Finding(f"The {n_seg} groups of {self.by} cannot be told apart on any of the "
                            f"{len(self.table)} compared figures.",
                            action="Do not tailor the journey by this split on these data."),)
        out = [Finding(f"{len(d)} of {len(self.table)} segment differences are significant (groups of {self.by}).")]
        out += [Finding(self._sentence(r), float(r["difference"]), float(r["ci_low"]), float(r["ci_high"]),
                        "Tailor this step for the segment." if r["kind"] == "stage conversion" else
                        "Ask the segment's detractors what went wrong first."
                        if r["kind"] in ("NPS", "satisfaction") and r["difference"] < 0 else "")
                for _, r in d.head(3).iterrows()]
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        small = self.persona[self.persona["customers"] < 100]["segment"].tolist()
        out = [Check("segment sizes", "pass" if not small else "warn",
                     "every segment has at least 100 customers" if not small else
                     f"segments with fewer than 100 customers: {', '.join(map(str, small))}; only large "
                     "differences can be detected there")]
        for kind, what in (("NPS", "NPS answers"), ("satisfaction", "survey answers")):
            r = self.table[self.table["kind"] == kind]
            if len(r):
                few = r.loc[r["n_segment"] < 100, "segment"].astype(str).tolist()
                out.append(Check(f"{what} per segment", "pass" if not few else "warn",
                                 f"every segment has at least 100 {what}" if not few else
                                 f"segments with fewer than 100 {what}: {', '.join(few)}; only large "
                                 "differences can be detected there"))
        out.append(Check("multiple comparisons", "pass",
                         f"{_METHOD_NAMES[self.method]} correction across {int(self.table['pvalue'].notna().sum())} "
                         f"tests at {format_percent(self.alpha, 0)}"))
        return tuple(out)

    def plot(self, ax=None):
        """Each segment's difference from the other customers on the share figures, with intervals."""
        from . import plots

        return plots.plot_segment_comparison(self, ax=ax)


def compare_segments(
    events: Any,
    customers: Any,
    by: str = "segment",
    *,
    stages: Sequence[str] | str = DEFAULT_STAGES,
    churn_after: float = 60,
    retention_days: int = 180,
    purchase_event: str = PURCHASE_EVENT,
    alpha: float = 0.05,
    method: str = "holm",
    confidence_level: float = 0.95,
    top_channels: int = 2,
    feedback: Any = None,
) -> SegmentComparison:
    """Funnel conversion, retention and value per segment, each segment against the rest, with tests.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event`` and ``stage``, ``channel``, ``revenue`` where present.
    customers
        Customer table with ``customer_id`` and the ``by`` column.
    by
        The customers column that splits them (``"segment"``, ``"acquisition_channel"``, an RFM segment
        joined to the table...). Customers without a value form the group "(missing)".
    stages
        Stage names in journey order: step conversion (of the customers ever at a stage, the share
        later at the next stage) per step, two-proportion z-test.
    churn_after, retention_days
        Retention is the Kaplan-Meier share still active ``retention_days`` after the first activity,
        with the kit's churn rule (a gap of more than ``churn_after`` days); log-rank test.
    purchase_event
        The event that is an order (for the persona's time to first purchase).
    alpha, method, confidence_level
        Error rate and correction (``"holm"`` or ``"fdr_bh"``) across all segments and figures; level
        of the intervals of each difference.
    top_channels
        How many channels the persona table names per segment.
    feedback
        The feedback table (optional): adds each segment's Net Promoter Score (its ``nps`` answers
        against all other answers, z-test, :func:`nps_difference_test`) and mean ``survey`` score
        (Welch's t-test) to the compared figures and the correction, and both to the persona table.
        ``None``: neither (the persona's ``nps`` and ``satisfaction`` are empty).

    Returns
    -------
    SegmentComparison
        One tested row per figure and segment, the persona table, findings and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.compare import compare_segments
    >>> ds = jl.load_dataset("sample")
    >>> result = compare_segments(ds.events, ds.customers, "segment")
    >>> result.differences[["figure", "segment", "value", "rest"]].round(3)
                            figure segment  value  rest
    0  still active after 180 days  budget  0.106  0.17
    """
    from ..retention.churn import churn_expr

    alpha, confidence_level, method = _check_common(alpha, confidence_level, method)
    if not isinstance(by, str) or not by:
        raise JourneyParameterError(f"by={by!r}; expected the name of a customers column such as 'segment'")
    labels = _group_labels(customers, by)
    everything = events_table(events, ("customer_id", "ts"))
    has_stages = "stage" in everything.columns
    stages = check_stages(stages) if has_stages else ()
    t = drop_outbound(everything)
    ev = t.mutate(_e=epoch_us(t.ts))  # the customer's group is joined once per customer, not per event
    buyer_event = purchase_event if "event" in ev.columns else None
    rev = _group_figures(_per_customer(ev, stages, buyer_event, labels, order_event=purchase_event), stages,
                         buyer_event)
    rev.index = rev.index.astype(str)
    segs = sorted(rev.index, key=str)
    if len(segs) < 2:
        raise JourneyDataError(f"column '{by}' of customers: the active customers form {len(segs)} group(s) "
                               f"{segs}; expected at least two to compare")
    rows: list[dict] = []
    for s in segs:
        rest = [x for x in segs if x != s]
        if has_stages:
            for r in _step_counts(rev, stages, [s], rest):
                z, p, lo, hi = _two_proportions(r["k1"], r["n1"], r["k0"], r["n0"], confidence_level)
                v1 = r["k1"] / r["n1"] if r["n1"] else np.nan
                v0 = r["k0"] / r["n0"] if r["n0"] else np.nan
                rows.append(dict(figure=f"conversion from {r['from']} to {r['to']}", kind="stage conversion",
                                 unit="share", segment=s, value=v1, rest=v0, difference=v1 - v0, ci_low=lo,
                                 ci_high=hi, test="two-proportion z-test", statistic=z, pvalue=p,
                                 n_segment=r["n1"], n_rest=r["n0"]))
        def st(gs):
            sub = rev.loc[gs]
            return float(sub["n"].sum()), float(sub["s"].fillna(0).sum()), float(sub["ss"].fillna(0).sum())
        m1, m0, tt, p, lo, hi = _welch(*st([s]), *st(rest), confidence_level)
        rows.append(dict(figure="revenue per customer", kind="revenue per customer", unit="currency", segment=s,
                         value=m1, rest=m0, difference=m1 - m0, ci_low=lo, ci_high=hi, test="Welch's t-test",
                         statistic=tt, pvalue=p, n_segment=int(st([s])[0]), n_rest=int(st(rest)[0])))
    # retention: the kit's churn labels per customer stay in the engine; counts per distinct lifetime
    expr, _ = churn_expr(everything, churn_after=churn_after)
    lj = _with_labels(expr, labels)
    base = lj.select(_g=lj._g, _t=lj.duration, _d=lj.churned)
    surv = _survival_figures(base, segs, retention_days)
    retention = {}
    for s in segs:
        r = surv.loc[s]
        s1, se1, s0, se0 = r["share"], r["se"], r["share_rest"], r["se_rest"]
        retention[s] = s1
        if r["n"] and r["n_rest"] and r["events"]:
            stat, p = float(r["statistic"]), float(r["pvalue"])
        else:
            stat = p = np.nan
        half = _z(confidence_level) * np.sqrt(se1 ** 2 + se0 ** 2)
        rows.append(dict(figure=f"still active after {retention_days} days", kind="retention", unit="share",
                         segment=s, value=s1, rest=s0, difference=s1 - s0, ci_low=s1 - s0 - half,
                         ci_high=s1 - s0 + half, test="log-rank", statistic=stat, pvalue=p, n_segment=int(r["n"]),
                         n_rest=int(r["n_rest"])))
    nps_of, satisfaction_of = {}, {}
    if feedback is not None:
        rows += _feedback_segment_rows(feedback, labels, segs, confidence_level, nps_of, satisfaction_of)
    table = pd.DataFrame(rows, columns=[c for c in SEGMENT_COLUMNS if c not in ("p_adjusted", "significant")])
    table["p_adjusted"] = _adjust(table["pvalue"], method)
    table["significant"] = (table["p_adjusted"] < alpha).fillna(False).astype(bool)
    table = table[list(SEGMENT_COLUMNS)]
    persona = _persona(_channel_counts(ev, labels), rev, segs, retention, top_channels, retention_days, nps_of,
                       satisfaction_of)
    return SegmentComparison(table, persona, by, alpha, method, confidence_level, int(retention_days))


def _feedback_segment_rows(feedback: Any, labels: ibis.Table, segs: list[str], level: float, nps_of: dict,
                           satisfaction_of: dict) -> list[dict]:
    """NPS and satisfaction rows of each segment against all other answers; fills ``nps_of`` and
    ``satisfaction_of`` (segment -> value) for the persona table. Answers are counted per segment in the
    engine (NPS categories as :func:`journeylib.journeys.feedback.nps` makes them; survey n, sum, sum of
    squares)."""
    fb = engine.to_table(feedback, table="feedback")
    missing = [c for c in ("customer_id", "ts", "kind", "score") if c not in fb.columns]
    if missing:
        raise JourneyDataError(f"feedback: missing column(s) {missing}; expected customer_id, ts, kind, score "
                               "(and optional stage, text): load it with journeylib.core.load.load_feedback")
    fb = fb.filter(fb.kind.isin(["nps", "survey"]))
    j = fb.left_join(labels, fb.customer_id.cast("string") == labels._cid)
    score = j.score.cast("float64")
    blank = score.isnull() | score.isnan().fill_null(True)
    x = j.select(_g=j._seg.fill_null(MISSING_GROUP), kind=j.kind, score=score,
                 cat=ibis.cases((blank, 2), (score >= 9, 0), (score >= 7, 1), else_=2), blank=blank)
    x = x.filter((x.kind == "nps") | ~x.blank)
    counts = engine.to_pandas(x.group_by(["_g", "kind", "cat"]).agg(
        n=x.count(), s=x.score.sum(), ss=(x.score * x.score).sum()))
    counts["_g"] = counts["_g"].astype(str)
    rows = []
    cols = ["promoters", "passives", "detractors"]
    answers = counts[counts["kind"] == "nps"]
    table = (answers.pivot_table(index="_g", columns="cat", values="n", aggfunc="sum", fill_value=0)
             .reindex(columns=[0, 1, 2], fill_value=0).astype("int64"))
    table.columns = cols
    everyone = table.sum().to_numpy()
    if everyone.sum():
        for s in segs:
            mine = table.loc[s, cols].to_numpy() if s in table.index else np.zeros(3, int)
            v1, v0, z, p, lo, hi = nps_difference_test(tuple(int(v) for v in mine),
                                                       tuple(int(v) for v in everyone - mine), level)
            nps_of[s] = v1
            rows.append(dict(figure=NPS_FIGURE, kind="NPS", unit="points", segment=s, value=v1, rest=v0,
                             difference=v1 - v0, ci_low=lo, ci_high=hi, test="z-test (NPS, multinomial variance)",
                             statistic=z, pvalue=p, n_segment=int(mine.sum()), n_rest=int((everyone - mine).sum())))
    survey = counts[counts["kind"] == "survey"].groupby("_g")[["n", "s", "ss"]].sum()
    if len(survey) and survey["n"].sum():
        total = survey.sum()
        for s in segs:
            n1, s1, ss1 = (float(survey.loc[s, c]) if s in survey.index else 0.0 for c in ("n", "s", "ss"))
            n0, s0, ss0 = float(total["n"]) - n1, float(total["s"]) - s1, float(total["ss"]) - ss1
            m1, m0, tt, p, lo, hi = _welch(n1, s1, ss1, n0, s0, ss0, level)
            satisfaction_of[s] = m1
            rows.append(dict(figure=SATISFACTION_FIGURE, kind="satisfaction", unit="score", segment=s, value=m1,
                             rest=m0, difference=m1 - m0, ci_low=lo, ci_high=hi, test="Welch's t-test",
                             statistic=tt, pvalue=p, n_segment=int(n1), n_rest=int(n0)))
    return rows


def _persona(ch: pd.DataFrame, rev: pd.DataFrame, segs: list[str], retention: dict, top: int,
             retention_days: int, nps_of: dict, satisfaction_of: dict) -> pd.DataFrame:
    """One row per segment from the per-group figures (:func:`_group_figures`) and channel counts
    (:func:`_channel_counts`)."""
    ch["_g"] = ch["_g"].astype(str)
    total = float(rev["n"].sum())
    all_rpc = float(rev["s"].fillna(0).sum()) / total if total else np.nan
    rows = []
    for s in segs:
        n = int(rev["n"].get(s, 0))
        c = ch[ch["_g"] == s].sort_values(["touches", "channel"], ascending=[False, True])
        names = [str(x) for x in c["channel"].head(top)]
        people = int(rev["customers"].get(s, 0)) if "customers" in rev.columns else n
        n_buyers = int(rev["buyers"].get(s, 0)) if "buyers" in rev.columns else 0
        med = float(rev["median_days"].get(s, np.nan)) if n_buyers else np.nan
        buyers = n_buyers / people if people else np.nan
        rpc = float(rev["s"].get(s, 0) or 0) / n if n else np.nan
        level = "above" if rpc > all_rpc * 1.05 else "below" if rpc < all_rpc * 0.95 else "about"
        desc = (f"Mostly reached through {' and '.join(names) or 'no channel'}; "
                f"{format_percent(buyers, 0)} buy"
                + (f", the first time after {med:.0f} days (median)" if np.isfinite(med) else "")
                + f"; spends {rpc:,.2f} per customer, {level} the average"
                + (f"; {format_percent(retention.get(s), 0)} still active after {retention_days} days"
                   if np.isfinite(retention.get(s, np.nan)) else "")
                + (f"; NPS {nps_of[s]:+.0f}" if np.isfinite(nps_of.get(s, np.nan)) else "")
                + (f"; satisfaction {satisfaction_of[s]:.2f} on average"
                   if np.isfinite(satisfaction_of.get(s, np.nan)) else "") + ".")
        rows.append(dict(segment=s, customers=n, share_of_customers=n / total if total else np.nan,
                         top_channels=", ".join(names), buyers_share=buyers, median_days_to_first_purchase=med,
                         revenue_per_customer=rpc, retention=retention.get(s, np.nan),
                         nps=nps_of.get(s, np.nan), satisfaction=satisfaction_of.get(s, np.nan), description=desc))
    return pd.DataFrame(rows, columns=list(PERSONA_COLUMNS))
