"""Feedback: NPS with its interval, reviews after an order, referrals, satisfaction scores.

Reads the canonical ``feedback`` table (``customer_id, ts, kind, score, stage, text``;
:func:`journeylib.core.load.load_feedback`) and the event log. Engine half: orders are
matched to their reviews (one window per customer) and customers counted for referrals in
the engine, with group membership joined there; counts, the days to review and the feedback
rows of one kind come back to pandas. Stats half: pandas and closed-form intervals.

Definitions (each result's docstring repeats its own):

* **NPS** = share of promoters (9-10) - share of detractors (0-6), in points (-100 to
  +100), over the answers of ``kind == "nps"``. Its variance is the multinomial one,
  ``(p_P + p_D - (p_P - p_D)^2) / n``; the interval is the normal one on it, clipped to
  [-100, 100] (:func:`nps_interval`).
* **Review rate**: each review belongs to the customer's latest order at or before it;
  an order is *reviewed* when a review belongs to it within ``within_days``. Only orders
  at least ``within_days`` before the end of the data count. First and repeat orders
  apart; Wilson intervals. **Time to review**: median days from the order to its review.
* **Referrals**: the referral rate is the share of customers with a ``referral`` event
  (unknown when the log has none); referred customers are those acquired through the
  referral channel (``customers.acquisition_channel``, else their first touch's
  channel); their conversion is the share who placed an order, among customers first
  seen at least ``followed_days`` before the end, against everyone else's.
* **Groups compared** (:func:`feedback_by_group`): loyalty-programme members against the
  others (or the groups of any customers column) on all of these, with a test per measure
  and Holm's adjustment across them. Membership counts from the join time: an answer, an
  order or a review before a customer joined is one of the others'.
* **Over time**: :attr:`NPSResult.by_month` per month (and group), drawn by
  :meth:`NPSResult.plot_by_month`.

Text is never returned or shown: results count the answers with a text, only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import ibis
import numpy as np
import pandas as pd
from scipy import stats as sps

from . import plots
from ..core import engine
from ..core.display import format_pvalue
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.intervals import wilson_interval
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import FEEDBACK_KINDS, PURCHASE_EVENT, REFERRAL_EVENT, REVIEW_EVENT
from ..core.time import (DAY_SECONDS, DAY_US, end_of_day, epoch_us, observation_end as observation_end_of,
                         to_epoch_us, to_utc)
from ..experiments.statistics import adjust_pvalues, two_proportion_test, welch_test, z_inference
from .common import drop_outbound, events_table

__all__ = ["nps_interval", "nps_standard_error", "nps_difference_test", "NPSResult", "nps", "ReviewResult", "review_rates", "ReferralResult", "referrals",
           "FeedbackComparison", "feedback_by_group", "feedback_rows", "customer_groups", "customer_values",
           "group_labels"]

MISSING_GROUP = "(missing)"
"""The group of a customer whose value of the split column is missing."""
_MISSING = MISSING_GROUP
_NO_REFERRALS = Check("referrals: referral events", "warn", "no referral events in the log: the referral rate is "
                      "unknown (the journey definition's events: referral: names the event)")


# --------------------------------------------------------------------------- helpers
def feedback_rows(feedback: Any, kind: str | None = None) -> pd.DataFrame:
    """Rows of the feedback table (of one ``kind``) as pandas: ``customer_id, ts, kind, score, stage, has_text``.

    The text itself never leaves the engine: only whether an answer has one.

    Parameters
    ----------
    feedback
        The feedback table (DataFrame, Ibis table or path).
    kind
        ``"nps"``, ``"survey"``, ``"review"``...; ``None``: every row.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, ts, kind, score, stage, has_text``.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import feedback_rows
    >>> rows = feedback_rows(ds.feedback, "nps")
    >>> rows.shape, list(rows.columns)
    ((338, 6), ['customer_id', 'ts', 'kind', 'score', 'stage', 'has_text'])
    """
    t = engine.to_table(feedback, table="feedback")
    missing = [c for c in ("customer_id", "ts", "kind", "score") if c not in t.columns]
    if missing:
        raise JourneyDataError(f"feedback: missing column(s) {missing}; expected customer_id, ts, kind, score "
                               "(and optional stage, text): load it with journeylib.core.load.load_feedback")
    if kind is not None:
        if kind not in FEEDBACK_KINDS:
            raise JourneyParameterError(f"kind={kind!r}; expected one of {list(FEEDBACK_KINDS)}")
        t = t.filter(t.kind == kind)
    cols = {"customer_id": t.customer_id, "ts": t.ts, "kind": t.kind, "score": t.score.cast("float64")}
    if "stage" in t.columns:
        cols["stage"] = t.stage
    if "text" in t.columns:
        cols["has_text"] = t.text.notnull() & (t.text.strip() != "")
    out = engine.to_pandas(t.select(**cols))
    if "stage" not in out.columns:
        out["stage"] = None
    if "has_text" not in out.columns:
        out["has_text"] = False
    out["has_text"] = out["has_text"].fillna(False).astype(bool)
    out["ts"] = pd.to_datetime(out["ts"], utc=True)
    return out


def customer_groups(customers: Any, by: str) -> pd.Series:
    """``customers[by]`` as text, indexed by customer id (the split of every feedback result).

    Parameters
    ----------
    customers
        The customers table.
    by
        The column to split by.

    Returns
    -------
    pandas.Series
        Group per customer id (text).

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import customer_groups
    >>> customer_groups(ds.customers, "segment").head(2).to_dict()
    {'C000001': 'premium', 'C000002': 'premium'}
    """
    return _as_groups(engine.customer_column(customers, by))


def customer_values(customers: Any, by: str) -> ibis.Table:
    """``customers[by]`` in the engine, to join on a table and group by: ``_cid, _gv`` (the customer id and
    the value as stored); label the grouped values with :func:`group_labels`.

    Parameters
    ----------
    customers
        The customers table; ``None`` is an error, as in :func:`customer_groups`.
    by
        The column to split by.

    Returns
    -------
    ibis.Table
        ``_cid, _gv``, not yet executed.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import customer_values, group_labels
    >>> v = customer_values(ds.customers, "segment")
    >>> sorted(group_labels(jl.to_pandas(v.select("_gv").distinct())["_gv"]))
    ['budget', 'premium', 'standard']
    """
    if customers is None:
        raise JourneyParameterError(f"by={by!r} needs the customers table (pass customers=...)")
    cu = engine.to_table(customers, table="customers")
    if by not in cu.columns or "customer_id" not in cu.columns:
        raise JourneyParameterError(f"by={by!r}: not a column of customers; expected one of "
                                    f"{[c for c in cu.columns if c != 'customer_id']}")
    return cu.select(_cid=cu.customer_id, _gv=cu[by])


def group_labels(values: pd.Series) -> pd.Series:
    """Values of a customers column as group labels: text (``str``), missing ones ``(missing)``.

    The labels of :func:`customer_groups`, for values grouped in the engine (:func:`customer_values`).

    Parameters
    ----------
    values
        The values.

    Returns
    -------
    pandas.Series
        The labels, same index.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.feedback import group_labels
    >>> group_labels(pd.Series([True, None, False])).tolist()
    ['True', '(missing)', 'False']
    """
    return _as_groups(values)


def _as_groups(raw: pd.Series) -> pd.Series:
    """Values as group labels: text, missing ones ``(missing)``.

    Each distinct value is turned into text once (``str``), then spread by its code; a column
    of mixed Python types (where ``1`` and ``True`` would share a code) takes the value-by-value
    path.
    """
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) not in (
            "string", "boolean", "integer", "floating", "empty", "datetime", "date"):
        return raw.astype(object).map(lambda v: _MISSING if pd.isna(v) else str(v))
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    labels = [_MISSING if pd.isna(v) else str(v) for v in pd.Series(uniques).astype(object)]
    out = np.array(labels + [_MISSING], dtype=object)[codes]
    return pd.Series(out, index=raw.index, name=raw.name, dtype=object)


def _groups_of(ids: pd.Series, by: str | None, customers: Any) -> pd.Series:
    if by is None:
        return pd.Series("all", index=ids.index)
    return ids.map(customer_groups(customers, by)).fillna(_MISSING)


def _z(confidence_level: float) -> float:
    if not 0 < float(confidence_level) < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1 "
                                    "such as 0.95")
    return float(sps.norm.ppf(0.5 + confidence_level / 2))


# --------------------------------------------------------------------------- NPS
def nps_interval(promoters: int, passives: int, detractors: int,
                 confidence_level: float = 0.95) -> tuple[float, float, float]:
    """NPS in points and its interval: ``(nps, ci_low, ci_high)``.

    ``nps = 100 * (P - D) / n``; the variance of ``P/n - D/n`` under the multinomial is
    ``(p_P + p_D - (p_P - p_D)^2) / n``; the interval is ``nps +- z * 100 * sqrt(var)``,
    clipped to [-100, 100]. ``nan`` for no answers.

    Parameters
    ----------
    promoters, passives, detractors
        Answer counts (9-10, 7-8, 0-6).
    confidence_level
        Of the interval.

    Returns
    -------
    tuple of float
        ``(nps, ci_low, ci_high)`` in points.

    Examples
    --------
    >>> from journeylib.journeys.feedback import nps_interval
    >>> [round(float(v), 1) for v in nps_interval(50, 30, 20)]
    [30.0, 14.7, 45.3]
    """
    z = _z(confidence_level)
    n = promoters + passives + detractors
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    d = (promoters - detractors) / n
    se = nps_standard_error(promoters, passives, detractors) / 100
    return 100 * d, max(-100.0, 100 * (d - z * se)), min(100.0, 100 * (d + z * se))


def nps_standard_error(promoters: float, passives: float, detractors: float) -> float:
    """Standard error of the NPS in points, from the multinomial: ``100 * sqrt((p_P + p_D - (p_P - p_D)^2) / n)``.

    Parameters
    ----------
    promoters, passives, detractors
        Answer counts (9-10, 7-8, 0-6).

    Returns
    -------
    float
        The standard error in points (``nan`` for no answers).

    Examples
    --------
    >>> from journeylib.journeys.feedback import nps_standard_error
    >>> round(nps_standard_error(50, 30, 20), 2)
    7.81
    """
    n = promoters + passives + detractors
    if n <= 0:
        return float("nan")
    pp, pd_ = promoters / n, detractors / n
    d = pp - pd_
    return 100 * float(np.sqrt(max(pp + pd_ - d * d, 0.0) / n))


def nps_difference_test(first: Sequence[int], second: Sequence[int],
                        confidence_level: float = 0.95) -> tuple[float, float, float, float, float, float]:
    """Difference of two independent Net Promoter Scores ``NPS(first) - NPS(second)`` in points: z-test
    with the multinomial variance of each NPS (:func:`nps_standard_error`) and the normal interval
    of the difference.

    ``z = (NPS1 - NPS0) / sqrt(se1^2 + se0^2)``; two-sided p-value; interval ``difference +-
    z_level * sqrt(se1^2 + se0^2)``. NaN for the test when a group has no answers or both
    standard errors are 0 (then the interval is the difference itself).

    Parameters
    ----------
    first, second
        ``(promoters, passives, detractors)`` answer counts of each group.
    confidence_level
        Level of the interval of the difference.

    Returns
    -------
    tuple of float
        ``(nps_first, nps_second, z, pvalue, ci_low, ci_high)``, NPS and interval in points.

    Examples
    --------
    >>> from journeylib.journeys.feedback import nps_difference_test
    >>> n1, n0, z, p, lo, hi = nps_difference_test((60, 25, 15), (45, 30, 25))
    >>> round(n1, 1), round(n0, 1), round(z, 3), round(p, 4), round(lo, 1), round(hi, 1)
    (45.0, 20.0, 2.275, 0.0229, 3.5, 46.5)
    """
    zq = _z(confidence_level)
    (p1, q1, d1), (p0, q0, d0) = first, second
    v1 = 100 * (p1 - d1) / (p1 + q1 + d1) if p1 + q1 + d1 > 0 else np.nan
    v0 = 100 * (p0 - d0) / (p0 + q0 + d0) if p0 + q0 + d0 > 0 else np.nan
    se1, se0 = nps_standard_error(p1, q1, d1), nps_standard_error(p0, q0, d0)
    se = float(np.hypot(se1, se0)) if np.isfinite(se1) and np.isfinite(se0) else np.nan
    if not np.isfinite(se) or se <= 0:
        d = v1 - v0
        return float(v1), float(v0), np.nan, np.nan, d if se == 0 else np.nan, d if se == 0 else np.nan
    z = (v1 - v0) / se
    half = zq * se
    return float(v1), float(v0), float(z), float(2 * sps.norm.sf(abs(z))), v1 - v0 - half, v1 - v0 + half


def _nps_table(df: pd.DataFrame, keys: list[str], confidence_level: float) -> pd.DataFrame:
    cat = np.where(df["score"] >= 9, "promoters", np.where(df["score"] >= 7, "passives", "detractors"))
    counts = (df.assign(_cat=cat).groupby([*keys, "_cat"], sort=True).size().unstack("_cat")
              .reindex(columns=["promoters", "passives", "detractors"]).fillna(0).astype(int).reset_index())
    counts.columns.name = None  # the unstacked category name would print as an extra header row
    counts.insert(len(keys), "answers", counts[["promoters", "passives", "detractors"]].sum(axis=1))
    vals = [nps_interval(p, q, d, confidence_level) for p, q, d in
            counts[["promoters", "passives", "detractors"]].itertuples(index=False)]
    counts["promoter_share"] = counts["promoters"] / counts["answers"]
    counts["detractor_share"] = counts["detractors"] / counts["answers"]
    counts["nps"] = [v[0] for v in vals]
    counts["ci_low"] = [v[1] for v in vals]
    counts["ci_high"] = [v[2] for v in vals]
    return counts


@dataclass(frozen=True, repr=False)
class NPSResult(Result):
    """Net Promoter Score with its interval, overall, per group and per month.

    ``summary``: one row for everyone (``group == "all"``) and, with ``by``, one per group:
    ``group, answers, promoters, passives, detractors, promoter_share, detractor_share,
    nps, ci_low, ci_high`` (NPS in points, -100 to +100). ``by_month``: the same per
    calendar month (``month``, ``YYYY-MM``, UTC): the rows of everyone (``group == "all"``)
    first, then, with ``by``, one row per group and month. ``nps`` and
    ``confidence_interval()``: the overall value. ``plot_by_month(ax)`` draws NPS per month.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import nps
    >>> result = nps(ds.feedback, by="segment", customers=ds.customers)
    >>> print(result.summary[["group", "answers", "nps", "ci_low", "ci_high"]].round(1).to_string(index=False))
       group  answers   nps  ci_low  ci_high
         all      338  22.5    13.8     31.2
      budget       44 -13.6   -37.7     10.4
     premium       88  50.0    35.6     64.4
    standard      206  18.4     7.1     29.8
    """

    by: str | None
    confidence_level: float
    _summary: pd.DataFrame = field(repr=False)
    _by_month: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def by_month(self) -> pd.DataFrame:
        return self._by_month.copy()

    def _all(self) -> pd.Series:
        return self._summary.iloc[0]

    @property
    def nps(self) -> float:
        return float(self._all()["nps"])

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` of the overall NPS at ``confidence_level``."""
        r = self._all()
        _, lo, hi = nps_interval(int(r["promoters"]), int(r["passives"]), int(r["detractors"]), confidence_level)
        return lo, hi

    @property
    def findings(self) -> tuple[Finding, ...]:
        r = self._all()
        if not r["answers"]:
            return ()
        out = [Finding(f"The Net Promoter Score is {r['nps']:+.0f} ({r['ci_low']:+.0f} to {r['ci_high']:+.0f}) from "
                       f"{int(r['answers']):,} answers: {r['promoter_share']:.0%} promoters, "
                       f"{r['detractor_share']:.0%} detractors.", float(r["nps"]), float(r["ci_low"]),
                       float(r["ci_high"]))]
        groups = self._summary.iloc[1:]
        groups = groups[groups["answers"] > 0]
        if len(groups) >= 2:
            lo, hi = groups.loc[groups["nps"].idxmin()], groups.loc[groups["nps"].idxmax()]
            who = self.by.replace("_", " ")
            apart = lo["ci_high"] < hi["ci_low"]
            out.append(Finding(
                f"By {who}, NPS is highest for {hi['group']} ({hi['nps']:+.0f}, {hi['ci_low']:+.0f} to "
                f"{hi['ci_high']:+.0f}) and lowest for {lo['group']} ({lo['nps']:+.0f}, {lo['ci_low']:+.0f} to "
                f"{lo['ci_high']:+.0f}).", float(lo["nps"]), float(lo["ci_low"]), float(lo["ci_high"]),
                action=(f"Ask the {lo['group']} detractors what went wrong first." if apart else
                        "The intervals overlap: collect more answers before acting on the difference.")))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        n = int(self._all()["answers"])
        status = "pass" if n >= 100 else "warn"
        return (Check("NPS: answers", status, f"{n:,} NPS answers" + ("" if n >= 100 else
                                                                      "; fewer than 100 give a wide interval")),)

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Overall and per-segment NPS against ``ground_truth["feedback"]["nps"]``."""
        t = truth.get("feedback", truth).get("nps", {})
        rows = []
        s = self._summary
        if "overall_expected" in t:
            r = s.iloc[0]
            rows.append(("NPS (all)", t["overall_expected"], r["nps"], r["ci_low"], r["ci_high"]))
        for g, v in t.get("by_segment", {}).items():
            m = s[s["group"] == g]
            if self.by and len(m):
                r = m.iloc[0]
                rows.append((f"NPS {g}", v, r["nps"], r["ci_low"], r["ci_high"]))
        return truth_table(rows)

    def plot(self, ax=None):
        """NPS per group with intervals (:func:`journeylib.journeys.plots.plot_nps`); returns the Axes."""
        return plots.plot_nps(self, ax=ax)

    def plot_by_month(self, ax=None, *, max_groups: int = 6, min_answers: int = 5):
        """NPS per month with intervals, per group when split
        (:func:`journeylib.journeys.plots.plot_nps_by_month`); returns the Axes."""
        return plots.plot_nps_by_month(self, ax=ax, max_groups=max_groups, min_answers=min_answers)


def nps(feedback: Any, *, by: str | None = None, customers: Any = None,
        confidence_level: float = 0.95) -> NPSResult:
    """Net Promoter Score from the ``nps`` answers (0-10) of the feedback table.

    Parameters
    ----------
    feedback
        The feedback table (``kind == "nps"`` rows are used).
    by
        A customers column to split by (e.g. ``segment``, ``loyalty_member``); ``None``: no split.
    customers
        The customers table (needed with ``by``).
    confidence_level
        Of the intervals (multinomial variance, :func:`nps_interval`).

    Returns
    -------
    NPSResult

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.feedback import nps
    >>> fb = pd.DataFrame({"customer_id": list("abcde"), "ts": pd.Timestamp("2024-01-01", tz="UTC"),
    ...                    "kind": "nps", "score": [10.0, 9, 8, 3, 10]})
    >>> round(nps(fb).nps, 1)
    40.0
    """
    _z(confidence_level)
    df = feedback_rows(feedback, "nps")
    df["group"] = "all"
    overall = _nps_table(df, ["group"], confidence_level) if len(df) else pd.DataFrame(
        [{"group": "all", "answers": 0, "promoters": 0, "passives": 0, "detractors": 0, "promoter_share": np.nan,
          "detractor_share": np.nan, "nps": np.nan, "ci_low": np.nan, "ci_high": np.nan}])
    table = overall
    if by is not None:
        df["group"] = _groups_of(df["customer_id"], by, customers)
        if len(df):
            table = pd.concat([overall, _nps_table(df, ["group"], confidence_level)], ignore_index=True)
    months = pd.DataFrame(columns=["month", "group", "answers", "promoters", "passives", "detractors",
                                   "promoter_share", "detractor_share", "nps", "ci_low", "ci_high"])
    if len(df):
        df["month"] = df["ts"].dt.tz_convert("UTC").dt.strftime("%Y-%m")
        parts = [_nps_table(df.assign(group="all"), ["month", "group"], confidence_level)]
        if by is not None:
            parts.append(_nps_table(df, ["group", "month"], confidence_level)[list(parts[0].columns)])
        months = pd.concat(parts, ignore_index=True)
    return NPSResult(by, float(confidence_level), table.reset_index(drop=True), months)


# --------------------------------------------------------------------------- reviews
@dataclass(frozen=True, repr=False)
class ReviewResult(Result):
    """Reviews after an order: review rate (first and repeat orders), time to review, ratings.

    ``summary``: ``group, order, orders, reviewed, review_rate, ci_low, ci_high,
    median_days_to_review`` (``order`` is ``first``, ``repeat`` or ``all``). ``ratings``:
    ``score, reviews, share`` (the rating distribution; empty without a feedback table).
    ``mean_rating`` with ``rating_ci_low``/``rating_ci_high`` (t interval).

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import review_rates
    >>> result = review_rates(ds.events, ds.feedback, within_days=30)
    >>> result.summary[["order", "orders", "reviewed", "review_rate"]].round(3)
        order  orders  reviewed  review_rate
    0   first    1233         0        0.000
    1  repeat    7655       868        0.113
    2     all    8888       868        0.098
    """

    by: str | None
    within_days: int
    confidence_level: float
    mean_rating: float
    rating_ci_low: float
    rating_ci_high: float
    reviews_with_text: int
    _summary: pd.DataFrame = field(repr=False)
    _ratings: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def ratings(self) -> pd.DataFrame:
        return self._ratings.copy()

    def rate(self, order: str = "repeat", group: str = "all") -> pd.Series:
        """The summary row of one order kind (``first``, ``repeat``, ``all``) and group."""
        s = self._summary
        m = s[(s["order"] == order) & (s["group"] == group)]
        if not len(m):
            raise JourneyParameterError(f"order={order!r}, group={group!r}: no such row; expected order in "
                                        f"{sorted(set(s['order']))} and group in {sorted(set(s['group']))}")
        return m.iloc[0]

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` of the review rate of all orders (Wilson)."""
        r = self.rate("all")
        return wilson_interval(int(r["reviewed"]), int(r["orders"]), confidence_level)

    @property
    def findings(self) -> tuple[Finding, ...]:
        out = []
        for kind, words in (("first", "first orders"), ("repeat", "repeat orders")):
            try:
                r = self.rate(kind)
            except JourneyParameterError:
                continue
            if r["orders"] == 0:
                continue
            days = (f", a median {r['median_days_to_review']:.1f} days later"
                    if np.isfinite(r["median_days_to_review"]) else "")
            out.append(Finding(f"{r['review_rate']:.1%} of {words} get a review within {self.within_days} days "
                               f"({r['ci_low']:.1%} to {r['ci_high']:.1%}; {int(r['orders']):,} orders){days}.",
                               float(r["review_rate"]), float(r["ci_low"]), float(r["ci_high"])))
        if np.isfinite(self.mean_rating):
            n = int(self._ratings["reviews"].sum())
            out.append(Finding(f"Reviews give {self.mean_rating:.2f} stars on average ({self.rating_ci_low:.2f} to "
                               f"{self.rating_ci_high:.2f}; {n:,} reviews).", self.mean_rating,
                               self.rating_ci_low, self.rating_ci_high))
        if self.by:
            g = self._summary[(self._summary["group"] != "all") & (self._summary["order"] == "all")
                              & (self._summary["orders"] > 0)]
            if len(g) >= 2:
                parts = ", ".join(f"{r.group} {r.review_rate:.1%} ({r.ci_low:.1%} to {r.ci_high:.1%})"
                                  for r in g.itertuples(index=False))
                out.append(Finding(f"Review rate by {self.by.replace('_', ' ')}: {parts}."))
        return tuple(out[:4])

    @property
    def checks(self) -> tuple[Check, ...]:
        r = self.rate("all")
        n = int(r["orders"])
        return (Check("reviews: orders followed", "pass" if n >= 100 else "warn",
                      f"{n:,} orders at least {self.within_days} days before the end of the data"),)

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Review rate of repeat orders and the mean rating against ``ground_truth["feedback"]["reviews"]``."""
        t = truth.get("feedback", truth).get("reviews", {})
        rows = []
        if t.get("expected_rate_per_repeat_order") is not None:
            r = self.rate("repeat")
            rows.append(("review rate of repeat orders", t["expected_rate_per_repeat_order"], r["review_rate"],
                         r["ci_low"], r["ci_high"]))
        if "mean_rating" in t and np.isfinite(self.mean_rating):
            rows.append(("mean rating", t["mean_rating"], self.mean_rating, self.rating_ci_low, self.rating_ci_high))
        return truth_table(rows)

    def plot(self, ax=None):
        """Rating distribution (:func:`journeylib.journeys.plots.plot_ratings`); returns the Axes."""
        return plots.plot_ratings(self, ax=ax)


def review_rates(events: Any, feedback: Any = None, *, within_days: int = 30, by: str | None = None,
                 customers: Any = None, observation_end: Any = None, confidence_level: float = 0.95) -> ReviewResult:
    """Review rate after an order, time to review and the rating distribution.

    Orders are the ``purchase`` events (a customer's first is the *first order*, the
    others *repeat orders*); reviews are the ``review`` rows of ``feedback`` (else the
    ``review`` events). Each review belongs to the customer's latest order at or before
    it; an order counts as reviewed when one of its reviews comes within ``within_days``.
    Only orders at least ``within_days`` before the end of the data count.

    Parameters
    ----------
    events
        The event log.
    feedback
        The feedback table (reviews and their ratings); ``None``: ``review`` events, no ratings.
    within_days
        Days after an order a review still counts.
    by, customers
        Split by a customers column (e.g. ``loyalty_member``).
    observation_end
        End of the data (default: the last event).
    confidence_level
        Of the Wilson intervals and of the mean rating's t interval.

    Returns
    -------
    ReviewResult
        Review rates per order kind (and group) with intervals, the median days to review
        and the rating distribution.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import review_rates
    >>> result = review_rates(ds.events, ds.feedback, within_days=30)
    >>> float(result.summary.set_index("order").loc["repeat", "review_rate"].round(3))
    0.113
    """
    _z(confidence_level)
    orders, rev = _followed_orders(events, feedback, within_days, observation_end)
    counts = _order_counts(orders)
    counts["group"] = "all"
    parts = [counts]
    if by is not None:
        grouping = _Grouping(by, "static", None, groups=customer_groups(customers, by))
        g = _order_counts(orders, grouping)
        g["group"] = grouping.labels_of(g["_g"], None, grouping.codes()[1])
        parts.append(g)
    both = pd.concat(parts, ignore_index=True)
    both["order"] = np.where(both["first"], "first", "repeat")
    both = pd.concat([both, both.assign(order="all")], ignore_index=True)
    both["_r"] = both["days"].notna()
    rows = []
    for (group, kind), x in both.groupby(["group", "order"], sort=False):
        n, k = int(x["n"].sum()), int(x.loc[x["_r"], "n"].sum())
        lo, hi = wilson_interval(k, n, confidence_level)
        days = np.repeat(x.loc[x["_r"], "days"].to_numpy(float), x.loc[x["_r"], "n"].to_numpy(int))
        rows.append((group, kind, n, k, k / n if n else np.nan, lo, hi, float(np.median(days)) if k else np.nan))
    summary = pd.DataFrame(rows, columns=["group", "order", "orders", "reviewed", "review_rate", "ci_low", "ci_high",
                                          "median_days_to_review"])
    if summary.empty:
        summary = pd.DataFrame([("all", "all", 0, 0, np.nan, np.nan, np.nan, np.nan)], columns=summary.columns)
    order_rank = {"first": 0, "repeat": 1, "all": 2}
    summary["_g"] = summary["group"] != "all"
    summary = summary.sort_values(["_g", "group", "order"], key=lambda c: c.map(order_rank) if c.name == "order"
                                  else c, kind="mergesort").drop(columns="_g").reset_index(drop=True)
    scores = rev["score"].dropna()
    if len(scores):
        ratings = scores.value_counts().sort_index().rename_axis("score").reset_index(name="reviews")
        ratings["share"] = ratings["reviews"] / ratings["reviews"].sum()
    else:
        ratings = pd.DataFrame(columns=["score", "reviews", "share"])
    mean, lo, hi = _mean_interval(scores, confidence_level)
    return ReviewResult(by, int(within_days), float(confidence_level), mean, float(lo), float(hi),
                        int(rev["has_text"].sum()), summary, ratings)


def _mean_interval(scores: pd.Series, confidence_level: float) -> tuple[float, float, float]:
    """Mean rating and its t interval: ``(mean, ci_low, ci_high)`` (``nan`` bounds for fewer than 2 or equal scores)."""
    if not len(scores):
        return float("nan"), float("nan"), float("nan")
    m = float(scores.mean())
    if len(scores) > 1 and scores.std() > 0:
        half = sps.t.ppf(0.5 + confidence_level / 2, len(scores) - 1) * scores.std() / np.sqrt(len(scores))
    else:
        half = np.nan
    return m, float(m - half), float(m + half)


def _followed_orders(events: Any, feedback: Any, within_days: int, observation_end: Any
                     ) -> tuple[ibis.Table, pd.DataFrame]:
    """The orders followed for ``within_days`` with their first review, and the reviews (the engine half of
    :func:`review_rates`).

    In the engine, one window per customer over orders and reviews in time (orders first at the
    same instant): a review belongs to the latest order at or before it (a backward as-of match,
    ties included; of orders at the same instant, the later in rank), so an order's first review
    is the row right after it when that row is a review. A review within ``within_days`` of its
    order reviews it, and gives its days; the orders so far give each order's rank (the first
    order is the customer's earliest).

    Returns ``orders``, an unexecuted Ibis table of the orders at least ``within_days`` before
    the end (``customer_id, us`` epoch microseconds, ``first``, ``_d`` microseconds to the first
    review or null), and ``reviews`` (pandas, ``customer_id, ts, score, has_text``: the
    feedback's review rows; empty without feedback, whose review events carry no rating).
    """
    if isinstance(within_days, bool) or not isinstance(within_days, (int, np.integer)) or within_days < 1:
        raise JourneyParameterError(f"within_days={within_days!r}; expected a whole number of days, at least 1")
    t = events_table(events, ("customer_id", "ts", "event"))
    end_us = to_epoch_us(end_of_day(observation_end_of(t, observation_end)))
    win = int(within_days) * DAY_US
    o = t.filter(t.event == PURCHASE_EVENT)
    o = o.select("customer_id", us=epoch_us(o.ts))
    if feedback is not None:
        rev = feedback_rows(feedback, "review")
        fb = engine.to_table(feedback, table="feedback")
        r = fb.filter(fb.kind == "review")
    else:
        rev = pd.DataFrame({"customer_id": pd.Series(dtype=object), "ts": pd.Series(dtype="datetime64[us, UTC]"),
                            "score": pd.Series(dtype=float), "has_text": pd.Series(dtype=bool)})
        r = t.filter(t.event == REVIEW_EVENT)
    r = r.select(customer_id=r.customer_id.cast(o.customer_id.type()), us=epoch_us(r.ts))
    u = o.select("customer_id", "us", _rev=ibis.literal(0, "int8")).union(
        r.select("customer_id", "us", _rev=ibis.literal(1, "int8")), distinct=False)
    # in time, orders before reviews at the same instant: the row after an order is its first review, unless it is
    # another order (a later order, or one at the same instant, takes the reviews that follow); the orders so
    # far give the rank. Orders at one instant are alike, so which of them comes first does not matter.
    w = ibis.window(group_by=u.customer_id, order_by=[u.us, u._rev])
    cw = ibis.cumulative_window(group_by=u.customer_id, order_by=[u.us, u._rev])
    u = u.mutate(_k=(1 - u._rev).cast("int64").sum().over(cw), _nrev=u._rev.lead().over(w), _nus=u.us.lead().over(w))
    j = u.filter((u._rev == 0) & (u.us <= end_us - win))
    d = j._nus - j.us
    return j.select("customer_id", "us", first=j._k == 1,
                    _d=ibis.ifelse((j._nrev == 1) & (d <= win), d, ibis.null("int64"))), rev


def _order_counts(orders: ibis.Table, grouping: "_Grouping | None" = None) -> pd.DataFrame:
    """Followed orders counted by ``first`` and days to review (and group code ``_g``, ``_b`` before
    joining): ``first, _d, n[, _g, _b]`` with ``days`` (float, NaN when not reviewed)."""
    keys = ["first", "_d"]
    if grouping is not None:
        codes, g = grouping.codes()[0], grouping.table
        j = orders.left_join(g, orders.customer_id == g.customer_id.cast(orders.customer_id.type()))
        extra = {"_g": j._g}
        if "_jus" in codes.columns:
            extra["_b"] = (j._g == 1) & j._jus.notnull() & (j.us < j._jus)
        orders = j.select("first", "_d", **extra)
        keys += list(extra)
    df = engine.to_pandas(orders.group_by(keys).aggregate(n=orders.count()))
    df["days"] = (df["_d"].to_numpy(dtype=float, na_value=np.nan) / 1e6) / DAY_SECONDS
    df["first"] = df["first"].astype(bool)
    return df


# --------------------------------------------------------------------------- referrals
@dataclass(frozen=True, repr=False)
class ReferralResult(Result):
    """Referral rate and the conversion of referred customers against the others.

    ``summary``: ``customers`` (``referred`` / ``others``), ``followed`` (first seen at
    least ``followed_days`` before the end), ``converted``, ``conversion``, ``ci_low``,
    ``ci_high`` (Wilson). ``referral_rate`` (share of customers with a referral event, with
    its interval) is ``nan`` when the log has no referral events.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import referrals
    >>> result = referrals(ds.events, ds.customers)
    >>> result.summary[["customers", "followed", "converted", "conversion"]].round(3)
      customers  followed  converted  conversion
    0  referred       438        150       0.342
    1    others      4034       1033       0.256
    """

    channel: str
    followed_days: int
    referral_rate: float
    referral_ci_low: float
    referral_ci_high: float
    referrers: int
    _summary: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    def _row(self, who: str) -> pd.Series:
        return self._summary.set_index("customers").loc[who]

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` of the referred customers' conversion (Wilson)."""
        r = self._row("referred")
        return wilson_interval(int(r["converted"]), int(r["followed"]), confidence_level)

    @property
    def findings(self) -> tuple[Finding, ...]:
        out = []
        a, b = self._row("referred"), self._row("others")
        if a["followed"] and b["followed"]:
            better = a["ci_low"] > b["ci_high"]
            out.append(Finding(
                f"{a['conversion']:.1%} of the customers who came through {self.channel.replace('_', ' ')} placed an "
                f"order ({a['ci_low']:.1%} to {a['ci_high']:.1%}; {int(a['followed']):,} customers), against "
                f"{b['conversion']:.1%} of the others ({b['ci_low']:.1%} to {b['ci_high']:.1%}).",
                float(a["conversion"]), float(a["ci_low"]), float(a["ci_high"]),
                action="Referred customers convert better: make referring easy for promoters." if better else ""))
        if np.isfinite(self.referral_rate):
            out.append(Finding(f"{self.referral_rate:.1%} of customers referred someone ({self.referral_ci_low:.1%} "
                               f"to {self.referral_ci_high:.1%}).", self.referral_rate, self.referral_ci_low,
                               self.referral_ci_high))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        if np.isfinite(self.referral_rate):
            return (Check("referrals: referral events", "pass", f"{self.referrers:,} customers with a referral event"),)
        return (_NO_REFERRALS,)

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Conversions against ``ground_truth["feedback"]["referral"]``."""
        t = truth.get("feedback", truth).get("referral", {})
        rows = []
        for who, key in (("referred", "referred_conversion_expected"), ("others", "other_conversion_expected")):
            if t.get(key) is not None:
                r = self._row(who)
                rows.append((f"conversion of {who} customers", t[key], r["conversion"], r["ci_low"], r["ci_high"]))
        return truth_table(rows)

    def plot(self, ax=None):
        """Conversion of referred customers against the others (:func:`journeylib.journeys.plots.plot_referrals`)."""
        return plots.plot_referrals(self, ax=ax)


def referrals(events: Any, customers: Any = None, *, channel: str = "referral", followed_days: int = 60,
              observation_end: Any = None, confidence_level: float = 0.95) -> ReferralResult:
    """Referral rate and the conversion of customers acquired through ``channel``.

    A customer is *referred* when ``customers.acquisition_channel`` is ``channel`` (without
    that column: when their first event with a channel has it). Conversion: the customer
    placed an order by the end of the data; only customers first seen at least
    ``followed_days`` before the end count. The referral rate is the share of customers
    with a ``referral`` event.

    Parameters
    ----------
    events, customers
        The event log and (optional) the customers table.
    channel
        The acquisition channel of referred customers.
    followed_days
        Days a customer must have been followed to count in the conversion.
    observation_end
        End of the data (default: the last event).
    confidence_level
        Of the Wilson intervals.

    Returns
    -------
    ReferralResult

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import referrals
    >>> print(referrals(ds.events, ds.customers, followed_days=60).findings[0].text)
    34.2% of the customers who came through referral placed an order (30.0% to 38.8%; 438 customers), against 25.6% of the others (24.3% to 27.0%).
    """
    _z(confidence_level)
    per, _ = _referral_table(events, customers, channel, followed_days, observation_end, True)
    keys = ["referred", "followed", "bought", "referred_someone"]
    df = engine.to_pandas(per.group_by(keys).aggregate(n=per.count()))
    for c in keys:
        df[c] = df[c].fillna(False).astype(bool)
    rows = []
    for who, x in (("referred", df[df["referred"]]), ("others", df[~df["referred"]])):
        f = x[x["followed"]]
        n, k = int(f["n"].sum()), int(f.loc[f["bought"], "n"].sum())
        lo, hi = wilson_interval(k, n, confidence_level)
        rows.append((who, int(x["n"].sum()), n, k, k / n if n else np.nan, lo, hi))
    summary = pd.DataFrame(rows, columns=["customers", "count", "followed", "converted", "conversion", "ci_low",
                                          "ci_high"])
    k, total = int(df.loc[df["referred_someone"], "n"].sum()), int(df["n"].sum())
    if k:
        lo, hi = wilson_interval(k, total, confidence_level)
        rate = k / total
    else:
        rate = lo = hi = float("nan")
    return ReferralResult(channel, int(followed_days), rate, lo, hi, k, summary)


def _referral_table(events: Any, customers: Any, channel: str, followed_days: int, observation_end: Any,
                    require_channel: bool = True) -> tuple[ibis.Table, int]:
    """The engine half of :func:`referrals`: one row per customer, not executed, and the end (epoch microseconds).

    Columns ``customer_id, _first`` (first event, epoch microseconds), ``bought``,
    ``referred_someone``, ``_rmin``/``_rmax`` (first and last referral event, null: none), ``_nref``
    (referral events), ``referred`` (acquired through ``channel``) and ``followed`` (first seen at
    least ``followed_days`` before the end). Without an acquisition channel: an error, or
    (``require_channel=False``) nobody is referred.
    """
    if isinstance(followed_days, bool) or not isinstance(followed_days, (int, np.integer)) or followed_days < 0:
        raise JourneyParameterError(f"followed_days={followed_days!r}; expected a whole number of days, 0 or more")
    t = drop_outbound(events_table(events, ("customer_id", "ts", "event")))
    end_us = to_epoch_us(to_utc(observation_end_of(t, observation_end)))
    us = epoch_us(t.ts)
    ref_us = ibis.ifelse(t.event == REFERRAL_EVENT, us, ibis.null("int64"))
    per = t.group_by("customer_id").aggregate(
        _first=us.min(), bought=(t.event == PURCHASE_EVENT).any(), referred_someone=(t.event == REFERRAL_EVENT).any(),
        _rmin=ref_us.min(), _rmax=ref_us.max(), _nref=(t.event == REFERRAL_EVENT).cast("int64").sum())
    acq = None
    if customers is not None:
        cu = engine.to_table(customers, table="customers")
        if "acquisition_channel" in cu.columns:
            acq = cu.select(_cid=cu.customer_id.cast(per.customer_id.type()), _ac=cu.acquisition_channel)
    if acq is None and "channel" in t.columns:
        ch = t.filter(t.channel.notnull())
        first = ch.group_by(_c1=ch.customer_id).aggregate(_t=ch.ts.min())
        j = ch.join(first, [ch.customer_id == first._c1, ch.ts == first._t])
        acq = j.group_by(_cid=j.customer_id).aggregate(_ac=j.channel.min())
    if acq is None and require_channel:
        raise JourneyDataError("referrals: neither customers.acquisition_channel nor an events channel column; "
                               "expected one of them to tell referred customers apart")
    if acq is not None:
        per = per.left_join(acq, per.customer_id == acq._cid)
        referred = (per._ac.cast("string") == channel).fill_null(False)
    else:
        referred = ibis.literal(False)
    per = per.select("customer_id", "_first", "bought", "referred_someone", "_rmin", "_rmax", "_nref",
                     referred=referred, followed=per._first <= end_us - int(followed_days) * DAY_US)
    return per, end_us


# --------------------------------------------------------------------------- groups compared
_MEMBERS, _OTHERS = "members", "others"
_ORDER_WORDS = {"first": "first orders", "repeat": "repeat orders", "all": "orders"}


@dataclass(frozen=True)
class _Grouping:
    """Who is in which group at a time: a customers column, fixed or (membership) from the join time."""

    by: str
    mode: str  # "static", "flag" (a true/false column without a join time) or "join time"
    joined_at: str | None
    groups: pd.Series | None = None  # static: group per customer id
    flag: pd.Series | None = None  # true/false per customer id (object, NaN unknown)
    joined: pd.Series | None = None  # join time per customer id (NaT: member without a join time)

    def at(self, ids: pd.Series, ts: pd.Series) -> tuple[pd.Series, int]:
        """Group of each ``(customer, time)`` and how many rows of members came before they joined."""
        ids = ids.reset_index(drop=True)
        if self.mode == "static":
            return ids.map(self.groups).fillna(_MISSING), 0
        f = ids.map(self.flag)
        member = f.eq(True).to_numpy()
        before = np.zeros(len(ids), dtype=bool)
        if self.mode == "join time":
            j = pd.to_datetime(ids.map(self.joined), utc=True)
            t = pd.to_datetime(pd.Series(ts).reset_index(drop=True), utc=True)
            before = member & j.notna().to_numpy() & (t < j).fillna(False).to_numpy()
            member = member & ~before
        labels = np.where(f.isna().to_numpy(), _MISSING, np.where(member, _MEMBERS, _OTHERS))
        return pd.Series(labels, index=ids.index, dtype=object), int(before.sum())

    def codes(self) -> tuple[pd.DataFrame, list[str]]:
        """The grouping as a small table for the engine: ``customer_id, _g`` (and ``_jus``, the join time in
        epoch microseconds) and the label of each code ``_g`` (static: the group; else 0 others, 1 members)."""
        return self._codes

    @cached_property
    def table(self) -> ibis.Table:
        """:meth:`codes` as an engine table (built once)."""
        return engine.to_table(self._codes[0], raw=True)

    @cached_property
    def _codes(self) -> tuple[pd.DataFrame, list[str]]:
        if self.mode == "static":
            codes, labels = pd.factorize(self.groups)
            return pd.DataFrame({"customer_id": self.groups.index.to_numpy(), "_g": codes.astype("int64")}), \
                [str(v) for v in labels]
        f = self.flag
        g = pd.array(np.where(f.isna().to_numpy(), 0, f.eq(True).to_numpy().astype("int64")), dtype="Int64")
        g[f.isna().to_numpy()] = pd.NA
        out = pd.DataFrame({"customer_id": f.index.to_numpy(), "_g": g})
        if self.mode == "join time":
            j = pd.to_datetime(self.joined.reindex(f.index), utc=True).dt.as_unit("us")
            us = pd.array(j.array.asi8, dtype="Int64")
            us[j.isna().to_numpy()] = pd.NA
            out["_jus"] = us
        return out, [_OTHERS, _MEMBERS]

    def labels_of(self, g: pd.Series, before: pd.Series | None, labels: list[str]) -> pd.Series:
        """Labels of the engine's codes ``g`` (null: missing), a member's rows ``before`` joining being the others'."""
        codes = g.to_numpy(dtype=float, na_value=np.nan)
        ok = ~np.isnan(codes)
        if self.mode != "static" and before is not None:
            codes = np.where(ok & before.fillna(False).to_numpy(dtype=bool), 0.0, codes)
        lab = np.array(labels + [_MISSING], dtype=object)
        return pd.Series(lab[np.where(ok, codes, len(labels)).astype(int)], index=g.index, dtype=object)

    def order(self, labels: set) -> list[str]:
        """Groups in display order: members then others for a membership flag, else sorted; missing last."""
        if self.mode == "static":
            return sorted(g for g in labels if g != _MISSING) + ([_MISSING] if _MISSING in labels else [])
        return [g for g in (_MEMBERS, _OTHERS, _MISSING) if g in labels]


def _grouping(customers: Any, by: str, joined_at: str | None) -> _Grouping:
    cu = engine.to_table(customers, table="customers")
    with_join = joined_at is not None and joined_at in cu.columns and joined_at != by
    both = engine.customer_columns(customers, {by: "by", **({joined_at: "joined_at"} if with_join else {})})
    raw = both[by]
    groups = _as_groups(raw)
    values = raw.dropna().unique()
    if not len(values) or not all(isinstance(v, (bool, np.bool_)) for v in values):
        return _Grouping(by, "static", None, groups=groups)
    na = raw.isna().to_numpy()
    flag = np.full(len(raw), np.nan, dtype=object)
    flag[~na] = raw.to_numpy(dtype=object)[~na].astype(bool)
    flag = pd.Series(flag, index=raw.index, name=raw.name, dtype=object)
    if with_join:
        joined = pd.to_datetime(both[joined_at], utc=True)
        return _Grouping(by, "join time", joined_at, flag=flag, joined=joined)
    return _Grouping(by, "flag", joined_at, flag=flag)


def _median_interval(x: np.ndarray, confidence_level: float) -> tuple[float, float, float]:
    """Median and its distribution-free interval (order statistics, exact binomial:
    :func:`scipy.stats.quantile_test`); ``nan`` bounds when too few values for the level."""
    if not len(x):
        return float("nan"), float("nan"), float("nan")
    m = float(np.median(x))
    ci = sps.quantile_test(x, q=m, p=0.5).confidence_interval(confidence_level)
    return m, float(ci.low), float(ci.high)


@dataclass(frozen=True, repr=False)
class FeedbackComparison(Result):
    """Feedback of the groups of a customers column compared, with a test per measure
    (see :func:`feedback_by_group`).

    ``summary``: one row per measure and group: ``measure, unit, group, n, value, ci_low,
    ci_high`` (NPS in points; shares as fractions; days; stars). ``tests``: one row per
    comparison: ``measure, unit, group, versus, value, rest, difference, ci_low, ci_high``
    (the interval of the difference), ``test, statistic, pvalue, p_adjusted`` (Holm across
    every comparison), ``significant`` (``p_adjusted < alpha``), ``n_group, n_rest``. With two
    groups there is one comparison per measure (members against the others); with more,
    each group against all the others. ``ratings``: the rating distribution per group.
    ``display_table()``: the tests in words.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.feedback import feedback_by_group
    >>> ds = jl.load_dataset("sample")
    >>> result = feedback_by_group(ds.events, ds.feedback, ds.customers)
    >>> result.tests[["measure", "group", "versus", "difference", "p_adjusted"]].round(3)
                           measure    group  versus  difference  p_adjusted
    0                          NPS  members  others      -5.573         1.0
    1  review rate (repeat orders)  members  others      -0.002         1.0
    2        median days to review  members  others       0.084         NaN
    3                  mean rating  members  others      -0.026         1.0
    """

    by: str
    mode: str
    joined_at: str | None
    order: str
    within_days: int
    confidence_level: float
    alpha: float
    before_joining: tuple[tuple[str, int], ...]
    members_without_join_time: int
    referral_events: int
    conversion_compared: bool
    _summary: pd.DataFrame = field(repr=False)
    _tests: pd.DataFrame = field(repr=False)
    _ratings: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def tests(self) -> pd.DataFrame:
        return self._tests.copy()

    @property
    def ratings(self) -> pd.DataFrame:
        return self._ratings.copy()

    @property
    def differences(self) -> pd.DataFrame:
        """The significant comparisons, smallest adjusted p-value first."""
        t = self._tests[self._tests["significant"]]
        return t.sort_values("p_adjusted", kind="stable").reset_index(drop=True)

    def _who(self, group: str, capital: bool = False) -> str:
        if self.mode != "static" and group in (_MEMBERS, _OTHERS):
            w = "members" if group == _MEMBERS else "the others"
        else:
            w = f"{group} customers"
        return w[0].upper() + w[1:] if capital else w

    def _versus(self, r: pd.Series) -> str:
        if r["versus"] == "the rest":
            return "the other customers"
        return self._who(r["versus"])

    def display_table(self) -> pd.DataFrame:
        """The comparisons for people: each value with its interval in its unit, the test and the
        Holm-adjusted p-value; significant rows first."""
        t = self._tests.assign(_o=~self._tests["significant"]).sort_values("_o", kind="stable")
        s = self._summary.set_index(["measure", "group"])

        def cell(r, group):
            if group not in set(s.loc[r["measure"]].index):
                return _show(r["unit"], r["rest"])
            row = s.loc[(r["measure"], group)]
            return f"{_show(r['unit'], row['value'])} ({_span(r['unit'], row['ci_low'], row['ci_high'])})"

        return pd.DataFrame({
            "measure": t["measure"],
            "group": t["group"],
            "value": [cell(r, r["group"]) for _, r in t.iterrows()],
            "compared with": t["versus"],
            "their value": [cell(r, r["versus"]) for _, r in t.iterrows()],
            "difference": [f"{_show(u, d, True)} ({_span(u, lo, hi, True)})"
                           for u, d, lo, hi in zip(t["unit"], t["difference"], t["ci_low"], t["ci_high"])],
            "test": t["test"],
            "p (Holm)": [format_pvalue(p, prefix=False) for p in t["p_adjusted"]],
            "significant": np.where(t["significant"], "yes", ""),
        }).reset_index(drop=True)

    def _sentence(self, r: pd.Series) -> str:
        s = self._summary.set_index(["measure", "group"])
        u = r["unit"]

        def value(group):
            if (r["measure"], group) not in s.index:
                return _show(u, r["rest"])
            x = s.loc[(r["measure"], group)]
            return f"{_show(u, x['value'])} ({_span(u, x['ci_low'], x['ci_high'])})"

        me, them = value(r["group"]), value(r["versus"])
        n = self._n_tests()
        verdict = (f"the difference of {_show(u, r['difference'], True)} ({_span(u, r['ci_low'], r['ci_high'], True)})"
                   f" is {'significant' if r['significant'] else 'within chance'} ({format_pvalue(r['p_adjusted'])} "
                   f"after adjusting for {_plural(n, 'comparison')})")
        who, other = self._who(r["group"], capital=True), self._versus(r)
        if r["measure"] == "NPS":
            return f"{who} give an NPS of {me} against {them} for {other}; {verdict}."
        if r["measure"].startswith("review rate"):
            return (f"{who} review {me} of their {self._orders_words()} within {self.within_days} days against "
                    f"{them} for {other}; {verdict}.")
        if r["measure"] == "mean rating":
            return f"Reviews by {who[0].lower() + who[1:]} average {me} against {them} for {other}; {verdict}."
        return f"{who}: {r['measure']} is {me} against {them} for {other}; {verdict}."

    def _orders_words(self) -> str:
        return _ORDER_WORDS[self.order]

    def _n_tests(self) -> int:
        return int(self._tests["pvalue"].notna().sum())

    def _action(self, r: pd.Series) -> str:
        if not r["significant"]:
            return ""
        if r["measure"] == "NPS":
            return (f"Find out what {self._who(r['group'])} get that {self._versus(r)} miss, and whether it can be "
                    "offered more widely." if r["difference"] > 0 else
                    f"Ask the detractors among {self._who(r['group'])} what went wrong first.")
        if r["measure"].startswith("review rate") and r["difference"] < 0:
            return f"Ask {self._who(r['group'])} for a review after their orders."
        return ""

    @property
    def findings(self) -> tuple[Finding, ...]:
        t = self._tests[self._tests["pvalue"].notna()]
        if t.empty:
            return ()
        n_groups = int(self._summary["group"].nunique())
        if n_groups == 2:
            out = []
            for m in ("NPS", f"review rate ({self._orders_words()})", "mean rating"):
                x = t[t["measure"] == m]
                if len(x):
                    r = x.iloc[0]
                    out.append(Finding(self._sentence(r), float(r["difference"]), float(r["ci_low"]),
                                       float(r["ci_high"]), self._action(r)))
            rest = t[~t["measure"].isin(["NPS", f"review rate ({self._orders_words()})", "mean rating"])]
            if len(rest):
                sig = rest[rest["significant"]]
                if len(sig):
                    r = sig.iloc[0]
                    out.append(Finding(self._sentence(r), float(r["difference"]), float(r["ci_low"]),
                                       float(r["ci_high"])))
                else:
                    names = " and ".join(rest["measure"].tolist())
                    out.append(Finding(f"No significant difference between {self._who(t.iloc[0]['group'])} and "
                                       f"{self._versus(t.iloc[0])} in the {names}."))
            return tuple(out[:4])
        d = self.differences
        if d.empty:
            return (Finding(f"The {n_groups} groups of {self.by.replace('_', ' ')} cannot be told apart on any of the "
                            f"{len(t)} feedback comparisons (Holm-adjusted, at {self.alpha:.0%})."),)
        out = [Finding(f"{len(d)} of {len(t)} feedback comparisons between the groups of "
                       f"{self.by.replace('_', ' ')} are significant.")]
        out += [Finding(self._sentence(r), float(r["difference"]), float(r["ci_low"]), float(r["ci_high"]),
                        self._action(r)) for _, r in d.head(3).iterrows()]
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        out = []
        counts = dict(self.before_joining)
        if self.mode == "join time":
            detail = (f"membership counted from {self.joined_at}: {_plural(counts.get('nps', 0), 'NPS answer')}, "
                      f"{_plural(counts.get('orders', 0), 'order')} and {_plural(counts.get('reviews', 0), 'review')} "
                      "of members came before they joined and count as the others'")
            status = "pass"
            if self.members_without_join_time:
                status = "warn"
                detail += (f"; {self.members_without_join_time:,} members have no join time and count as members "
                           "throughout")
            out.append(Check("membership over time", status, detail))
        elif self.mode == "flag":
            out.append(Check("membership over time", "warn",
                             f"the customers table has no {self.joined_at or 'join time'} column: every answer, order "
                             f"and review of a member counts as a member's, also those from before joining (members' "
                             f"numbers mix in their time before the programme)"))
        s = self._summary[self._summary["measure"] == "NPS"]
        small = s[s["n"] < 30]["group"].tolist()
        if len(s):
            out.append(Check("answers per group", "warn" if small else "pass",
                             "every group has at least 30 NPS answers" if not small else
                             f"groups with fewer than 30 NPS answers: {', '.join(map(str, small))}; only large "
                             "differences can be detected there"))
        if not self.referral_events:
            out.append(_NO_REFERRALS)  # the same check as referrals(): a report lists it once
        if self.mode != "static":
            out.append(Check("conversion of referred customers", "pass",
                             "not compared between members and the others: members join after ordering, so "
                             "their conversion says nothing about the programme"))
        if not self._n_tests():
            out.append(Check("groups compared", "warn", f"no measure has data in two groups of {self.by}: "
                                                        "nothing could be compared"))
        else:
            out.append(Check("multiple comparisons", "pass",
                             f"Holm correction across {_plural(self._n_tests(), 'test')} at {self.alpha:.0%}"))
        return tuple(out)

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """NPS, review rate and mean rating per group, and the NPS differences, against
        ``ground_truth["feedback"]`` (simulated data).

        NPS per group: the planted NPS of the segment (``by="segment"``); the planted NPS of
        "the rest" is that of the other segments weighted by their answers here. Membership:
        the planted member effect on NPS (``nps.loyalty_member_effect``). The review rate of
        repeat orders and the mean rating are planted the same for every group.
        """
        fb = truth.get("feedback", truth)
        t, rows = fb.get("nps", {}), []
        s = self._summary
        nps_rows = s[s["measure"] == "NPS"].set_index("group")
        planted = t.get("by_segment", {}) if self.by == "segment" else {}
        for g, r in nps_rows.iterrows():
            if g in planted:
                rows.append((f"NPS, {g}", planted[g], r["value"], r["ci_low"], r["ci_high"]))
        for _, r in self._tests[self._tests["measure"] == "NPS"].iterrows():
            if self.mode != "static" and "loyalty_member_effect" in t and r["group"] == _MEMBERS:
                rows.append(("NPS, members minus others", t["loyalty_member_effect"], r["difference"], r["ci_low"],
                             r["ci_high"]))
            elif planted and r["group"] in planted:
                rest = nps_rows.drop(index=r["group"])
                if set(rest.index) <= set(planted):
                    p_rest = float(np.average([planted[h] for h in rest.index], weights=rest["n"]))
                    rows.append((f"NPS, {r['group']} minus {r['versus']}", planted[r["group"]] - p_rest,
                                 r["difference"], r["ci_low"], r["ci_high"]))
        rv = fb.get("reviews", {})
        for measure, key in ((f"review rate ({_ORDER_WORDS['repeat']})", "expected_rate_per_repeat_order"),
                             ("mean rating", "mean_rating")):
            if rv.get(key) is None:
                continue
            for _, r in s[s["measure"] == measure].iterrows():
                rows.append((f"{measure}, {r['group']}", rv[key], r["value"], r["ci_low"], r["ci_high"]))
        return truth_table(rows)

    def plot(self, ax=None):
        """Each measure's value per group with its interval
        (:func:`journeylib.journeys.plots.plot_feedback_comparison`); returns the Axes."""
        return plots.plot_feedback_comparison(self, ax=ax)


def _show(unit: str, x: Any, diff: bool = False, word: bool = True) -> str:
    """One value in its unit for people (a difference with its sign; ``word=False``: without the unit word)."""
    if x is None or not np.isfinite(float(x)):
        return "–"
    if unit == "points":
        return f"{x:+.0f}" + (" points" if diff and word else "")
    if unit == "share":
        return f"{100 * x:+.1f}" + (" points" if word else "") if diff else f"{100 * x:.1f}%"
    if unit == "days":
        return (f"{x:+.1f}" if diff else f"{x:.1f}") + (" days" if word else "")
    return (f"{x:+.2f}" if diff else f"{x:.2f}") + (" stars" if word else "")


def _span(unit: str, lo: Any, hi: Any, diff: bool = False) -> str:
    """An interval in its unit: ``+35 to +47``, ``11.0% to 13.0%``, ``-0.4 to +1.2 days``."""
    return f"{_show(unit, lo, diff, word=unit == 'share' and not diff)} to {_show(unit, hi, diff)}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def feedback_by_group(events: Any, feedback: Any, customers: Any, *, by: str = "loyalty_member",
                      joined_at: str | None = "loyalty_joined_at", within_days: int = 30, order: str = "repeat",
                      channel: str = "referral", followed_days: int = 60, observation_end: Any = None,
                      confidence_level: float = 0.95, alpha: float = 0.05) -> FeedbackComparison:
    """Loyalty-programme members against the others (or the groups of any customers column)
    on NPS, reviews, ratings and referrals, with a test per measure.

    Measures, each with the definition of :func:`nps`, :func:`review_rates` and
    :func:`referrals`, per group, with its interval:

    ==================================  ===================================  ===============================
    measure                             per group                            test between groups
    ==================================  ===================================  ===============================
    NPS (points)                        the group's NPS answers;             z-test of the difference, each
                                        multinomial interval                 NPS's multinomial variance
    review rate (``order`` orders)      share of the orders followed for     two-proportion z-test (pooled)
                                        ``within_days`` reviewed within
                                        them; Wilson
    median days to review               of the reviewed orders; order-       none: described with the
                                        statistic interval                   interval of the difference
    mean rating (stars)                 of the reviews; t interval           Welch's t-test
    share who referred someone          customers with a ``referral`` event  two-proportion z-test (pooled)
                                        (see below); Wilson
    conversion of referred customers    only for groups fixed per customer   two-proportion z-test (pooled)
    ==================================  ===================================  ===============================

    The interval of a difference: normal for NPS, Wald for the shares, Welch's for the mean
    rating; for the median days each median's order-statistic interval is turned into a
    standard error and the two are combined as independent (Bonett and Price, 2002).
    p-values are adjusted together with Holm's method
    (:func:`journeylib.experiments.statistics.adjust_pvalues`), which keeps the chance of
    flagging any difference that is not there at or below ``alpha``.

    **Membership changes over time.** When ``by`` is a true/false column (``loyalty_member``)
    and the customers table has ``joined_at`` (``loyalty_joined_at``), an NPS answer, an
    order (with its review) and a rating count as a member's only when they come at or after
    the customer joined; before, the same customer is one of the others. So a member's first
    order, usually placed before joining, is the others'; a member who joined mid-way adds
    answers to both groups. Without a join-time column every row of a member counts as a
    member's (the check ``membership over time`` says so): members then carry their time
    before joining, which dilutes a programme effect. A member with a flag but no join time
    counts as a member throughout (counted in the check). For the share who referred someone
    the unit is a customer's time in a group: a customer who joined counts once as one of the
    others (until joining) and once as a member (from joining), with a referral event in that
    time or not. The conversion of referred customers is compared only for groups fixed per
    customer (e.g. ``segment``): members join after ordering, so their conversion is one by
    construction.

    With two groups, one comparison per measure (members against the others; otherwise the
    first group in sorted order against the second); with more (e.g. ``by="segment"``), each
    group against all the others. Customers missing from the customers table form the group
    ``(missing)``.

    When not to use it: members choose to join (self-selection), so a difference is an
    association, not the programme's effect; compare the same customers before and after
    joining, or run a holdout, before crediting the programme. The days to review count from
    the customer's latest order before the review (as in :func:`review_rates`): customers who
    order often, as members do, more often see a review land after a newer order, so their
    times come out shorter without any difference in how fast people review (about 0.2 days
    on simulated shops with none planted). That measure is therefore described (with the
    interval of the difference) but not tested, and stays out of the Holm family: tested, it
    was flagged in 13-22% of simulated shops with no difference at the 5% level.

    Parameters
    ----------
    events
        The event log (orders, referral events, first touches).
    feedback
        The feedback table (NPS answers, reviews with ratings); ``None``: reviews from the
        ``review`` events, no NPS or ratings.
    customers
        The customers table with ``by`` (and ``joined_at``).
    by
        The customers column whose groups are compared.
    joined_at
        The customers column with the time a member joined (used when ``by`` is true/false);
        ``None``: use the flag only.
    within_days
        Days after an order a review still counts (:func:`review_rates`).
    order
        The orders whose review rate is compared: ``"repeat"`` (default: first orders mostly
        come before joining, so ``"all"`` would compare repeat against first orders),
        ``"first"`` or ``"all"``.
    channel, followed_days
        The acquisition channel of referred customers and the days they must have been
        followed (:func:`referrals`).
    observation_end
        End of the data (default: the last event).
    confidence_level
        Of every interval.
    alpha
        Significance threshold of the Holm-adjusted p-values.

    Returns
    -------
    FeedbackComparison

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.feedback import feedback_by_group
    >>> t = pd.Timestamp("2024-01-01", tz="UTC")
    >>> ev = pd.DataFrame({"customer_id": ["a", "b"], "ts": t, "event": "purchase", "revenue": 10.0})
    >>> fb = pd.DataFrame({"customer_id": ["a", "a", "b", "b"], "kind": "nps", "score": [0.0, 10, 10, 10],
    ...                    "ts": [t, t + pd.Timedelta(days=9), t, t + pd.Timedelta(days=9)]})
    >>> cu = pd.DataFrame({"customer_id": ["a", "b"], "loyalty_member": [True, False],
    ...                    "loyalty_joined_at": [t + pd.Timedelta(days=5), pd.NaT]})
    >>> r = feedback_by_group(ev, fb, cu)
    >>> r.summary.query("measure == 'NPS'")[["group", "n", "value"]].round(1)  # a's answer of day 0 is the others'
         group  n  value
    0  members  1  100.0
    1   others  3   33.3
    """
    z = _z(confidence_level)
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise JourneyParameterError(f"alpha={alpha!r}; expected a number between 0 and 1 such as 0.05")
    if order not in ("first", "repeat", "all"):
        raise JourneyParameterError(f"order={order!r}; expected 'repeat', 'first' or 'all'")
    grouping = _grouping(customers, by, joined_at)
    before: dict[str, int] = {}
    samples: dict[str, pd.DataFrame] = {}  # per measure: one row per unit with its group

    # NPS answers
    if feedback is not None:
        ans = feedback_rows(feedback, "nps")
        ans["group"], before["nps"] = grouping.at(ans["customer_id"], ans["ts"])
        samples["NPS"] = ans
    # orders and their reviews (membership at the order)
    orders, rev = _followed_orders(events, feedback, within_days, observation_end)
    if order != "all":
        orders = orders.filter(orders.first == (order == "first"))
    counts = _order_counts(orders, grouping)
    counts["group"] = grouping.labels_of(counts["_g"], counts.get("_b"), grouping.codes()[1])
    counts["reviewed"] = counts["days"].notna()
    before["orders"] = int(counts.loc[counts["_b"].fillna(False).astype(bool), "n"].sum()) if "_b" in counts else 0
    review_measure = f"review rate ({_ORDER_WORDS[order]})"
    samples[review_measure] = counts.groupby(["group", "reviewed"], as_index=False)["n"].sum()
    rv = counts[counts["reviewed"]]
    samples["median days to review"] = pd.DataFrame({"group": np.repeat(rv["group"].to_numpy(object), rv["n"]),
                                                     "days": np.repeat(rv["days"].to_numpy(float), rv["n"])})
    rated = rev[rev["score"].notna()].reset_index(drop=True)
    rated["group"], before["reviews"] = grouping.at(rated["customer_id"], rated["ts"])
    if len(rated):
        samples["mean rating"] = rated
    # referrals
    per, end_us = _referral_table(events, customers, channel, followed_days, observation_end, False)
    (codes, code_labels), gt = grouping.codes(), grouping.table
    j = per.left_join(gt, per.customer_id == gt.customer_id.cast(per.customer_id.type()))
    if "_jus" in codes.columns:
        timed = (j._g == 1) & j._jus.notnull()
        cols = {"_b0": timed & (j._first < j._jus), "_b1": timed & (end_us < j._jus),
                "_rb": j._rmin.notnull() & timed & (j._rmin < j._jus),
                "_ra": j._rmax.notnull() & ~(timed & (j._rmax < j._jus))}
    else:
        no = ibis.literal(False)
        cols = {"_b0": no, "_b1": no, "_rb": no, "_ra": j._rmax.notnull()}
    j = j.select("_g", "referred", "followed", "bought", "_nref", **cols)
    keys = ["_g", "referred", "followed", "bought", *cols]
    cust = engine.to_pandas(j.group_by(keys).aggregate(n=j.count(), _nref=j._nref.sum()))
    for c in keys[1:]:
        cust[c] = cust[c].fillna(False).astype(bool)
    n_ref = int(cust["_nref"].fillna(0).sum())
    if n_ref:
        g0 = grouping.labels_of(cust["_g"], cust["_b0"], code_labels)
        g1 = grouping.labels_of(cust["_g"], cust["_b1"], code_labels)
        g_before = grouping.labels_of(cust["_g"], pd.Series(True, index=cust.index), code_labels)
        g_after = grouping.labels_of(cust["_g"], pd.Series(False, index=cust.index), code_labels)
        parts = []
        for g, other in ((g0, None), (g1, g0)):  # a customer's spells: the group at the first event and at the end
            hit = (cust["_rb"] & (g_before == g)) | (cust["_ra"] & (g_after == g))
            keep = np.ones(len(cust), bool) if other is None else (g != other).to_numpy()
            parts.append(pd.DataFrame({"group": g[keep], "referred_someone": hit[keep], "n": cust["n"][keep]}))
        spells = pd.concat(parts, ignore_index=True)
        samples["share who referred someone"] = spells.groupby(["group", "referred_someone"], as_index=False)[
            "n"].sum()
    rc = cust[cust["referred"] & cust["followed"]]
    conversion = grouping.mode == "static" and len(rc) > 0
    if conversion:
        ref = rc.assign(group=grouping.labels_of(rc["_g"], None, code_labels))
        samples["conversion of referred customers"] = ref.groupby(["group", "bought"], as_index=False)["n"].sum()

    labels = set()
    for x in samples.values():
        labels |= set(x["group"])
    groups = grouping.order(labels)
    units = {"NPS": "points", review_measure: "share", "median days to review": "days", "mean rating": "stars",
             "share who referred someone": "share", "conversion of referred customers": "share"}

    def estimate(measure: str, x: pd.DataFrame) -> dict[str, Any]:
        """Value, interval, size and what the test needs, for the rows ``x`` of one group (or the rest)."""
        if measure == "NPS":
            if not len(x):
                return {"n": 0, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "counts": (0, 0, 0)}
            c = _nps_table(x.assign(group="g"), ["group"], confidence_level).iloc[0]
            return {"n": int(c["answers"]), "value": c["nps"], "ci_low": c["ci_low"], "ci_high": c["ci_high"],
                    "counts": tuple(int(c[k]) for k in ("promoters", "passives", "detractors"))}
        if measure == "median days to review":
            m, lo, hi = _median_interval(x["days"].to_numpy(float), confidence_level)
            return {"n": len(x), "value": m, "ci_low": lo, "ci_high": hi, "se": (hi - lo) / (2 * z),
                    "x": x["days"].to_numpy(float)}
        if measure == "mean rating":
            m, lo, hi = _mean_interval(x["score"], confidence_level)
            return {"n": len(x), "value": m, "ci_low": lo, "ci_high": hi,
                    "var": float(x["score"].var()) if len(x) > 1 else np.nan}
        # counted units: ``group, <flag>, n``
        col = {"share who referred someone": "referred_someone", "conversion of referred customers": "bought"}.get(
            measure, "reviewed")
        n, k = int(x["n"].sum()), int(x.loc[x[col].astype(bool), "n"].sum())
        lo, hi = wilson_interval(k, n, confidence_level)
        return {"n": n, "k": k, "value": k / n if n else np.nan, "ci_low": lo, "ci_high": hi}

    def compare(measure: str, a: dict, b: dict) -> tuple[str, float, float, float, float, float]:
        """``(test, difference, ci_low, ci_high, statistic, pvalue)`` of group ``a`` against ``b``."""
        nan = float("nan")
        if not a["n"] or not b["n"]:
            return "", a["value"] - b["value"] if a["n"] and b["n"] else nan, nan, nan, nan, nan
        if measure == "NPS":
            _, _, stat, p, lo, hi = nps_difference_test(a["counts"], b["counts"], confidence_level)
            r = {"statistic": stat, "pvalue": p, "ci_low": lo, "ci_high": hi}
            test = "z-test (multinomial variance)"
        elif measure == "median days to review":
            # described, not tested: which order a review belongs to is not recorded, and crediting it to
            # the latest order before it makes frequent buyers' times shorter with no real difference
            # (a test would flag that far more often than alpha says)
            r = z_inference(a["value"] - b["value"], np.hypot(a["se"], b["se"]), confidence_level=confidence_level)
            r = {**r, "statistic": nan, "pvalue": nan}
            test = "described only (not tested)"
        elif measure == "mean rating":
            r = welch_test(a["value"], a["var"], a["n"], b["value"], b["var"], b["n"],
                           confidence_level=confidence_level)
            test = "Welch t-test"
        else:
            r = two_proportion_test(a["k"], a["n"], b["k"], b["n"], confidence_level=confidence_level)
            test = "two-proportion z-test"
        return (test, float(a["value"] - b["value"]), float(r["ci_low"]), float(r["ci_high"]), float(r["statistic"]),
                float(r["pvalue"]))

    rows, tests = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for measure, x in samples.items():
            if not len(x):
                continue
            est = {g: estimate(measure, x[x["group"] == g]) for g in groups}
            rows += [{"measure": measure, "unit": units[measure], "group": g, "n": e["n"], "value": e["value"],
                      "ci_low": e["ci_low"], "ci_high": e["ci_high"]} for g, e in est.items()]
            for g in groups[:1] if len(groups) == 2 else groups:
                rest = [h for h in groups if h != g]
                if not rest:
                    continue
                versus = rest[0] if len(rest) == 1 else "the rest"
                b = est[rest[0]] if len(rest) == 1 else estimate(measure, x[x["group"] != g])
                test, diff, lo, hi, stat, p = compare(measure, est[g], b)
                tests.append({"measure": measure, "unit": units[measure], "group": g, "versus": versus,
                              "value": est[g]["value"], "rest": b["value"], "difference": diff, "ci_low": lo,
                              "ci_high": hi, "test": test, "statistic": stat, "pvalue": p,
                              "n_group": est[g]["n"], "n_rest": b["n"]})
    summary = pd.DataFrame(rows, columns=["measure", "unit", "group", "n", "value", "ci_low", "ci_high"])
    tests = pd.DataFrame(tests, columns=["measure", "unit", "group", "versus", "value", "rest", "difference", "ci_low",
                                         "ci_high", "test", "statistic", "pvalue", "p_adjusted", "significant",
                                         "n_group", "n_rest"])
    tests["p_adjusted"] = adjust_pvalues(tests["pvalue"].to_numpy(float), "holm") if len(tests) else []
    tests["significant"] = (tests["p_adjusted"] < alpha).fillna(False).astype(bool)
    if len(rated):
        ratings = (rated.groupby(["group", "score"]).size().rename("reviews").reset_index())
        ratings["share"] = ratings["reviews"] / ratings.groupby("group")["reviews"].transform("sum")
        ratings["_o"] = ratings["group"].map({g: i for i, g in enumerate(groups)})
        ratings = ratings.sort_values(["_o", "score"], kind="mergesort").drop(columns="_o").reset_index(drop=True)
    else:
        ratings = pd.DataFrame(columns=["group", "score", "reviews", "share"])
    no_join = 0
    if grouping.mode == "join time":
        no_join = int((grouping.flag.eq(True) & grouping.joined.reindex(grouping.flag.index).isna()).sum())
    return FeedbackComparison(by, grouping.mode, grouping.joined_at, order, int(within_days), float(confidence_level),
                              float(alpha), tuple(before.items()), no_join, n_ref, conversion,
                              summary, tests, ratings)
