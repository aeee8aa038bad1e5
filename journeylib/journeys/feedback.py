"""Feedback: NPS with its interval, reviews after an order, referrals, satisfaction scores.

Reads the canonical ``feedback`` table (``customer_id, ts, kind, score, stage, text``;
:func:`journeylib.core.load.load_feedback`) and the event log. Engine half: the
feedback rows of one kind, orders and first touches come back as small per-row or
per-customer frames; stats half: pandas and closed-form intervals.

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

Text is never returned or shown: results count the answers with a text, only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import plots
from ..core import engine
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.intervals import wilson_interval
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import FEEDBACK_KINDS, PURCHASE_EVENT, REFERRAL_EVENT, REVIEW_EVENT
from ..core.time import end_of_day, observation_end as observation_end_of, to_utc
from .common import drop_outbound, events_table

__all__ = ["nps_interval", "NPSResult", "nps", "ReviewResult", "review_rates", "ReferralResult", "referrals",
           "feedback_rows", "customer_groups"]

_MISSING = "(missing)"


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
    ((360, 6), ['customer_id', 'ts', 'kind', 'score', 'stage', 'has_text'])
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
    if customers is None:
        raise JourneyParameterError(f"by={by!r} needs the customers table (pass customers=...)")
    cu = engine.to_table(customers, table="customers")
    if by not in cu.columns or "customer_id" not in cu.columns:
        raise JourneyParameterError(f"by={by!r}: not a column of customers; expected one of "
                                    f"{[c for c in cu.columns if c != 'customer_id']}")
    df = engine.to_pandas(cu.select("customer_id", by))
    return df.set_index("customer_id")[by].astype(object).map(lambda v: _MISSING if pd.isna(v) else str(v))


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
    pp, pd_ = promoters / n, detractors / n
    d = pp - pd_
    se = np.sqrt(max(pp + pd_ - d * d, 0.0) / n)
    return 100 * d, max(-100.0, 100 * (d - z * se)), min(100.0, 100 * (d + z * se))


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
    calendar month (everyone). ``nps`` and ``confidence_interval()``: the overall value.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> from journeylib.journeys.feedback import nps
    >>> result = nps(ds.feedback, by="segment", customers=ds.customers)
    >>> print(result.summary[["group", "answers", "nps", "ci_low", "ci_high"]].round(1).to_string(index=False))
       group  answers   nps  ci_low  ci_high
         all      360  21.9    13.5     30.4
      budget       47 -12.8   -36.1     10.5
     premium       92  48.9    34.9     62.9
    standard      221  18.1     7.1     29.1
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
    months = pd.DataFrame(columns=["month", "answers", "promoters", "passives", "detractors", "promoter_share",
                                   "detractor_share", "nps", "ci_low", "ci_high"])
    if len(df):
        df["month"] = df["ts"].dt.tz_convert("UTC").dt.strftime("%Y-%m")
        months = _nps_table(df, ["month"], confidence_level)
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
    0   first    1318         0        0.000
    1  repeat    8281       939        0.113
    2     all    9599       939        0.098
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
    if isinstance(within_days, bool) or not isinstance(within_days, (int, np.integer)) or within_days < 1:
        raise JourneyParameterError(f"within_days={within_days!r}; expected a whole number of days, at least 1")
    t = events_table(events, ("customer_id", "ts", "event"))
    end = end_of_day(observation_end_of(t, observation_end))
    orders = engine.to_pandas(t.filter(t.event == PURCHASE_EVENT).select("customer_id", "ts"))
    orders["ts"] = pd.to_datetime(orders["ts"], utc=True)
    if feedback is not None:
        rev = feedback_rows(feedback, "review")
    else:
        rev = engine.to_pandas(t.filter(t.event == REVIEW_EVENT).select("customer_id", "ts"))
        rev["ts"] = pd.to_datetime(rev["ts"], utc=True)
        rev["score"], rev["has_text"] = np.nan, False
    orders = orders.sort_values(["customer_id", "ts"], kind="mergesort").reset_index(drop=True)
    orders["order"] = np.where(orders.groupby("customer_id").cumcount() == 0, "first", "repeat")
    orders["order_id"] = np.arange(len(orders))
    orders["order_ts"] = orders["ts"]
    window = pd.Timedelta(days=int(within_days))
    if len(rev) and len(orders):
        r = pd.merge_asof(rev.sort_values("ts"), orders[["customer_id", "ts", "order_id", "order_ts"]]
                          .sort_values("ts"), on="ts", by="customer_id", direction="backward")
        r = r[r["order_id"].notna() & (r["ts"] - r["order_ts"] <= window)]
        r["days"] = (r["ts"] - r["order_ts"]).dt.total_seconds() / 86400
        first = r.sort_values("ts").drop_duplicates("order_id")
        orders = orders.merge(first[["order_id", "days"]], on="order_id", how="left")
    else:
        orders["days"] = np.nan
    orders = orders[orders["ts"] <= end - window].copy()
    orders["reviewed"] = orders["days"].notna()
    orders["group"] = "all"
    parts = [orders]
    if by is not None:
        g = orders.copy()
        g["group"] = _groups_of(g["customer_id"], by, customers)
        parts.append(g)
    both = pd.concat(parts, ignore_index=True)
    both = pd.concat([both, both.assign(order="all")], ignore_index=True)
    rows = []
    for (group, kind), x in both.groupby(["group", "order"], sort=False):
        n, k = len(x), int(x["reviewed"].sum())
        lo, hi = wilson_interval(k, n, confidence_level)
        rows.append((group, kind, n, k, k / n if n else np.nan, lo, hi,
                     float(x["days"].median()) if k else np.nan))
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
        m = float(scores.mean())
        if len(scores) > 1 and scores.std() > 0:
            half = sps.t.ppf(0.5 + confidence_level / 2, len(scores) - 1) * scores.std() / np.sqrt(len(scores))
        else:
            half = np.nan
        mean, lo, hi = m, m - half, m + half
    else:
        ratings = pd.DataFrame(columns=["score", "reviews", "share"])
        mean = lo = hi = float("nan")
    return ReviewResult(by, int(within_days), float(confidence_level), mean, float(lo), float(hi),
                        int(rev["has_text"].sum()), summary, ratings)


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
    0  referred       438        159       0.363
    1    others      4034       1108       0.275
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
        return (Check("referrals: referral events", "warn", "no referral events in the log: the referral rate is "
                      "unknown (the journey definition's events: referral: names the event)"),)

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
    36.3% of the customers who came through referral placed an order (31.9% to 40.9%; 438 customers), against 27.5% of the others (26.1% to 28.9%).
    """
    _z(confidence_level)
    if isinstance(followed_days, bool) or not isinstance(followed_days, (int, np.integer)) or followed_days < 0:
        raise JourneyParameterError(f"followed_days={followed_days!r}; expected a whole number of days, 0 or more")
    t = drop_outbound(events_table(events, ("customer_id", "ts", "event")))
    end = to_utc(observation_end_of(t, observation_end))
    per = t.group_by("customer_id").aggregate(
        first_ts=t.ts.min(), bought=(t.event == PURCHASE_EVENT).any(), referred_someone=(t.event == REFERRAL_EVENT).any())
    df = engine.to_pandas(per)
    acq = None
    if customers is not None:
        cu = engine.to_table(customers, table="customers")
        if "acquisition_channel" in cu.columns:
            acq = engine.to_pandas(cu.select("customer_id", "acquisition_channel")).set_index("customer_id")[
                "acquisition_channel"]
    if acq is None and "channel" in t.columns:
        ch = t.filter(t.channel.notnull())
        first = ch.group_by("customer_id").aggregate(_t=ch.ts.min())
        j = ch.join(first, [ch.customer_id == first.customer_id, ch.ts == first._t])
        acq = engine.to_pandas(j.group_by(j.customer_id).aggregate(acquisition_channel=j.channel.min())).set_index(
            "customer_id")["acquisition_channel"]
    if acq is None:
        raise JourneyDataError("referrals: neither customers.acquisition_channel nor an events channel column; "
                               "expected one of them to tell referred customers apart")
    df["first_ts"] = pd.to_datetime(df["first_ts"], utc=True)
    df["referred"] = df["customer_id"].map(acq).eq(channel)
    df["followed"] = df["first_ts"] <= end - pd.Timedelta(days=int(followed_days))
    rows = []
    for who, x in (("referred", df[df["referred"]]), ("others", df[~df["referred"]])):
        f = x[x["followed"]]
        n, k = len(f), int(f["bought"].sum())
        lo, hi = wilson_interval(k, n, confidence_level)
        rows.append((who, len(x), n, k, k / n if n else np.nan, lo, hi))
    summary = pd.DataFrame(rows, columns=["customers", "count", "followed", "converted", "conversion", "ci_low",
                                          "ci_high"])
    k = int(df["referred_someone"].sum())
    if k:
        lo, hi = wilson_interval(k, len(df), confidence_level)
        rate = k / len(df)
    else:
        rate = lo = hi = float("nan")
    return ReferralResult(channel, int(followed_days), rate, lo, hi, k, summary)
