"""Retention and survival: Kaplan-Meier, log-rank, Cox (with checks), time-varying Cox.

Stats half of the churn analysis. The input is the small table from
:func:`journeylib.retention.churn.churn_labels` (one row per customer) or
:func:`journeylib.retention.churn.churn_counts` (customers per duration/churned/group
cell; pass ``weights_col="n"``), or any DataFrame with a duration and an event column.
Fitting is done by lifelines; this module adds grouping, plain-language summaries and
findings, and the checks an analyst tends to skip (proportional hazards, immortal-time
bias). Churn labelling lives in :mod:`journeylib.retention.churn`, win-back in
:mod:`journeylib.retention.winback`, drawing in :mod:`journeylib.retention.plots`.

Intervals are ``ci_low`` / ``ci_high`` at ``confidence_level`` (lifelines' ``alpha`` is
``1 - confidence_level``, converted here).
"""
from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..core import engine
from ..core.checks import is_number
from ..core.display import escape_markdown, format_pvalue, html_table
from ..core.errors import JourneyDataError, JourneyFitError, JourneyParameterError, data_error
from ..core.result import TRUTH_COLUMNS, Check, Finding, Result, truth_table
from ..core.time import DAY_SECONDS, curve_grid, series_to_utc
from . import plots
from .winback import WinbackResult

if TYPE_CHECKING:  # lifelines takes most of a second to import: the fits import it when they run
    from lifelines import KaplanMeierFitter

DEFAULT_HORIZONS: tuple[int, ...] = (30, 90, 180, 365)

__all__ = [
    "kaplan_meier", "KaplanMeierResult", "logrank", "LogRankResult", "cox", "CoxResult",
    "to_start_stop", "membership_effect", "MembershipEffect", "against_truth", "DEFAULT_HORIZONS",
    "membership_sentence", "curve_every_hour", "kaplan_meier_arrays", "KaplanMeierArrays",
]


# --------------------------------------------------------------------------- helpers
def _frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    return engine.to_pandas(engine.to_table(data, table="survival data"))


def _check_columns(df: pd.DataFrame, cols: Sequence[str], what: str = "survival data") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        hint = ""
        if {"customer_id", "churned"} <= set(df.columns):  # a churn_labels table
            hint = ("\nWhat to do: customer attributes come from the customers table (churn_labels(events, "
                    "customers) joins its columns), or leave the column out of the split or the model")
        raise JourneyDataError(f"{what}: missing column(s) {missing}; found {list(df.columns)}{hint}")


def _survival_columns(df: pd.DataFrame, duration_col: str, event_col: str,
                      weights_col: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    _check_columns(df, [duration_col, event_col] + ([weights_col] if weights_col else []))
    d = pd.to_numeric(df[duration_col], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(d) | (d < 0)
    if bad.any():
        raise data_error(duration_col, int(bad.sum()), len(df), "a finite duration >= 0",
                         df.loc[bad], table="survival data")
    e = df[event_col]
    if e.isna().any():
        raise data_error(event_col, int(e.isna().sum()), len(df), "True/False or 1/0 (no missing)",
                         df.loc[e.isna()], table="survival data")
    ev = e.to_numpy().astype(float)
    if not np.isin(ev, (0.0, 1.0)).all():
        nb = ~np.isin(ev, (0.0, 1.0))
        raise data_error(event_col, int(nb.sum()), len(df), "True/False or 1/0", df.loc[nb], table="survival data")
    w = None
    if weights_col:
        w = pd.to_numeric(df[weights_col], errors="coerce").to_numpy(float)
        wb = ~np.isfinite(w) | (w <= 0)
        if wb.any():
                raise data_error(weights_col, int(wb.sum()), len(df), "a positive count/weight",
                             df.loc[wb], table="survival data")
    return d, ev.astype(bool), w


def _group_keys(df: pd.DataFrame, by: str | Sequence[str] | None) -> tuple[list[str], pd.Series]:
    cols = [by] if isinstance(by, str) else list(by or [])
    _check_columns(df, cols)
    if not cols:
        return cols, pd.Series("all", index=df.index)
    parts = [df[c].astype("string").fillna("(missing)") for c in cols]
    key = parts[0]
    for p in parts[1:]:
        key = key + " / " + p
    return cols, key


def _check_level(confidence_level: Any) -> float:
    if isinstance(confidence_level, bool) or not is_number(confidence_level) or not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1, "
                                    "such as 0.95")
    return float(confidence_level)


def _step_at(index: np.ndarray, values: np.ndarray, t: float) -> float:
    """Value of a right-continuous step function (given at ``index``) at time ``t``."""
    i = np.searchsorted(index, t, side="right") - 1
    return float(values[i]) if i >= 0 else 1.0


def _km_steps(durations: Any, event_observed: Any, weights: Any = None) -> tuple[np.ndarray, ...]:
    """The Kaplan-Meier curve's steps from sorted arrays, lifelines' arithmetic without its table.

    Returns the sorted durations, the weight at or after each of them (one more entry: 0), the event
    times, and at each event time the weight of its events (``dead``) and the weight still followed
    (``at_risk``).
    """
    durations = np.asarray(durations, float)
    observed = np.asarray(event_observed, bool)
    w = np.ones(len(durations)) if weights is None else np.asarray(weights, float)
    order = np.argsort(durations)
    d_sorted, w_sorted, o_sorted = durations[order], w[order], observed[order]
    later = np.concatenate([np.cumsum(w_sorted[::-1])[::-1], [0.0]])  # weight at or after each sorted duration
    # each row's first row of equal duration: the weight still followed (n) at its time is later[that row]
    starts = np.r_[True, d_sorted[1:] != d_sorted[:-1]] if len(d_sorted) else np.zeros(0, bool)
    first_equal = np.maximum.accumulate(np.where(starts, np.arange(len(d_sorted)), 0))
    ev = np.flatnonzero(o_sorted)
    lead = np.r_[True, d_sorted[ev[1:]] != d_sorted[ev[:-1]]] if len(ev) else np.zeros(0, bool)
    times = d_sorted[ev[lead]]
    dead = np.add.reduceat(w_sorted[ev], np.flatnonzero(lead)) if len(ev) else np.zeros(0)
    return d_sorted, later, times, dead, later[first_equal[ev[lead]]]


def _km_read(times: np.ndarray, dead: np.ndarray, at_risk: np.ndarray, at: np.ndarray,
             level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Survival and its exponential Greenwood band (as lifelines) in force after ``at`` event times each."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.r_[0.0, np.cumsum(np.log(at_risk - dead) - np.log(at_risk))][at]
        var = np.r_[0.0, np.cumsum(np.where(at_risk == dead, 0.0, dead / (at_risk * (at_risk - dead))))][at]
        z = stats.norm.ppf(1 - round(1 - level, 12) / 2)
        lo = np.nan_to_num(np.exp(-np.exp(np.log(-log_s) - z * np.sqrt(var) / log_s)), nan=1.0)
        hi = np.nan_to_num(np.exp(-np.exp(np.log(-log_s) + z * np.sqrt(var) / log_s)), nan=1.0)
    return np.exp(log_s), lo, hi


def curve_every_hour(durations: Any, event_observed: Any, weights: Any = None, *,
                     confidence_level: float = 0.95) -> pd.DataFrame:
    """The Kaplan-Meier curve of one group read every hour (:func:`journeylib.core.time.curve_grid`).

    The numbers of ``lifelines.KaplanMeierFitter`` read at those times: the estimate as the
    running sum of ``log(1 - d/n)`` over the event times, its band by Greenwood's exponential
    formula. lifelines builds a pandas table with a row per distinct duration, which on a large
    log is a row per customer (durations carry seconds): 25 s for the 15 million abandoned carts
    of a 10^8-event log, where these sorted arrays take about 6 s (half of it the sort).

    Parameters
    ----------
    durations
        Days to the event or to the end of follow-up.
    event_observed
        True where the event happened (else censored).
    weights
        Customers per row, ``None`` for one each.
    confidence_level
        Level of the band.

    Returns
    -------
    pandas.DataFrame
        ``days`` (every hour up to the longest duration), ``survival`` with its band
        ``ci_low, ci_high`` (the step in force then), ``at_risk`` (weight of the durations at
        or after ``days``: still followed then).

    Examples
    --------
    >>> from journeylib.retention.survival import curve_every_hour
    >>> curve_every_hour([0.5, 1.0, 2.0], [1, 0, 1]).iloc[[0, 12, 48]].round(3)
        days  survival  ci_low  ci_high  at_risk
    0    0.0     1.000   1.000    1.000      3.0
    12   0.5     0.667   0.054    0.945      3.0
    48   2.0     0.000   0.000    0.000      1.0
    """
    level = _check_level(confidence_level)
    d_sorted, later, times, dead, at_risk = _km_steps(durations, event_observed, weights)
    grid = curve_grid(d_sorted[-1] if len(d_sorted) else 0.0)
    # the step in force at each hour: the last event time at or before it (0 before the first)
    s, lo, hi = _km_read(times, dead, at_risk, np.searchsorted(times, grid, side="right"), level)
    return pd.DataFrame({"days": grid, "survival": s, "ci_low": lo, "ci_high": hi,
                         "at_risk": later[np.searchsorted(d_sorted, grid, side="left")]})


@dataclass(frozen=True)
class KaplanMeierArrays:
    """One group's Kaplan-Meier curve as arrays on lifelines' timeline (0 and every distinct duration).

    Attributes
    ----------
    times
        The timeline, ascending.
    survival, ci_low, ci_high
        The estimate and its exponential Greenwood band at each time (the step in force).

    Examples
    --------
    >>> from journeylib.retention.survival import kaplan_meier_arrays
    >>> km = kaplan_meier_arrays([1.0, 2.0, 2.0, 3.0, 4.0], [1, 1, 0, 1, 0])
    >>> km.times.tolist(), km.survival.round(3).tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 0.8, 0.6, 0.3, 0.3])
    """

    times: np.ndarray = field(repr=False)
    survival: np.ndarray = field(repr=False)
    ci_low: np.ndarray = field(repr=False)
    ci_high: np.ndarray = field(repr=False)

    def at(self, t: float) -> tuple[float, float, float]:
        """``(survival, ci_low, ci_high)`` at ``t`` days; NaN beyond the last duration (not estimable)."""
        if not len(self.times) or t > self.times[-1]:
            return float("nan"), float("nan"), float("nan")
        return tuple(_step_at(self.times, v, t) for v in (self.survival, self.ci_low, self.ci_high))

    def median(self) -> tuple[float, float, float]:
        """``(median, ci_low, ci_high)`` in days, as lifelines' ``median_survival_time_`` and
        ``median_survival_times(confidence_interval_)``: the first time each curve is at or below 0.5,
        infinite when it never gets there."""
        def first_half(v: np.ndarray) -> float:
            if not len(v) or v[-1] > 0.5:
                return float("inf")
            return float(self.times[np.searchsorted(-v, -0.5)])  # lifelines' search, band not monotone

        return first_half(self.survival), first_half(self.ci_low), first_half(self.ci_high)


def kaplan_meier_arrays(durations: Any, event_observed: Any, weights: Any = None, *,
                        confidence_level: float = 0.95) -> KaplanMeierArrays:
    """The Kaplan-Meier curve of one group, with its median and band, from sorted arrays.

    ``lifelines.KaplanMeierFitter``'s numbers (its median and the median's interval, its estimate
    and band at any time: tested equal) without the pandas table lifelines builds per distinct
    duration, which on a large log costs seconds per curve. :func:`kaplan_meier` keeps the fitters
    for the retention reports; this is for analyses that need a few numbers from many curves.

    Parameters
    ----------
    durations
        Days to the event or to the end of follow-up (>= 0).
    event_observed
        True where the event happened (else censored).
    weights
        Customers per row (whole numbers), ``None`` for one each.
    confidence_level
        Level of the band.

    Returns
    -------
    KaplanMeierArrays

    Examples
    --------
    >>> from journeylib.retention.survival import kaplan_meier_arrays
    >>> km = kaplan_meier_arrays([1.0, 2.0, 2.0, 3.0, 4.0], [1, 1, 0, 1, 0])
    >>> [round(x, 3) for x in km.median()], [round(x, 3) for x in km.at(2.5)]
    ([3.0, 1.0, inf], [0.6, 0.126, 0.882])
    """
    level = _check_level(confidence_level)
    d_sorted, _, times, dead, at_risk = _km_steps(durations, event_observed, weights)
    timeline = np.unique(np.r_[0.0, d_sorted])
    s, lo, hi = _km_read(times, dead, at_risk, np.searchsorted(times, timeline, side="right"), level)
    return KaplanMeierArrays(timeline, s, lo, hi)


def _pct(x: float) -> str:
    return f"{x:.0%}"


# --------------------------------------------------------------------------- Kaplan-Meier
@dataclass(frozen=True)
class KaplanMeierResult(Result):
    """Kaplan-Meier curves per group, with medians and retention at horizons.

    Attributes
    ----------
    fitters
        ``{group: lifelines.KaplanMeierFitter}`` (``survival_function_``, ``confidence_interval_``).
    by, horizons, confidence_level
        Grouping columns, retention horizons (days), level of the bands and intervals.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> result = jl.kaplan_meier(labels, by="segment")
    >>> result.summary[["group", "customers", "churned", "median_days"]].round(2)
          group  customers  churned  median_days
    0    budget        724      582         3.13
    1   premium       1317      949         3.25
    2  standard       2959     2272         3.68
    """

    fitters: dict[str, KaplanMeierFitter] = field(repr=False)
    by: tuple[str, ...]
    horizons: tuple[float, ...]
    confidence_level: float
    counts: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per group: customers, churned, median lifetime (days) with its interval
        (``ci_low``, ``ci_high``), share still active at each horizon (``retention_<h>d``)."""
        from lifelines.utils import median_survival_times

        rows = []
        for g, kmf in self.fitters.items():
            med_ci = median_survival_times(kmf.confidence_interval_)
            row = {"group": g, "customers": int(self.counts.loc[g, "customers"]),
                   "churned": int(self.counts.loc[g, "churned"]),
                   "median_days": float(kmf.median_survival_time_),
                   "ci_low": float(med_ci.iloc[0, 0]), "ci_high": float(med_ci.iloc[0, 1])}
            for h in self.horizons:
                row[f"retention_{h:g}d"] = self._at(kmf, h)[0]
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def retention(self) -> pd.DataFrame:
        """Tidy retention table: ``group, horizon_days, retention, ci_low, ci_high, at_risk``."""
        rows = []
        for g, kmf in self.fitters.items():
            for h in self.horizons:
                s, lo, hi = self._at(kmf, h)
                at_risk = float(kmf.event_table["at_risk"].iloc[
                    min(np.searchsorted(kmf.event_table.index.to_numpy(), h, side="left"), len(kmf.event_table) - 1)]) \
                    if h <= kmf.event_table.index.max() else 0.0
                rows.append({"group": g, "horizon_days": h, "retention": s, "ci_low": lo, "ci_high": hi,
                             "at_risk": at_risk})
        return pd.DataFrame(rows)

    def cumulative_hazard(self) -> pd.DataFrame:
        """Nelson-Aalen cumulative hazard per group (its slope is the churn rate):
        ``group, days, cumulative_hazard, ci_low, ci_high``."""
        from lifelines import NelsonAalenFitter

        frames = []
        for g, kmf in self.fitters.items():
            naf = NelsonAalenFitter(alpha=1 - self.confidence_level)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=Warning)
                naf.fit(kmf.durations, event_observed=kmf.event_observed, weights=kmf.weights, label=str(g))
            ci = naf.confidence_interval_.to_numpy(float)
            frames.append(pd.DataFrame({"group": g, "days": naf.cumulative_hazard_.index.to_numpy(float),
                                        "cumulative_hazard": naf.cumulative_hazard_.iloc[:, 0].to_numpy(float),
                                        "ci_low": ci[:, 0], "ci_high": ci[:, 1]}))
        return pd.concat(frames, ignore_index=True)

    @staticmethod
    def _at(kmf: KaplanMeierFitter, t: float) -> tuple[float, float, float]:
        idx = kmf.survival_function_.index.to_numpy(float)
        if t > idx.max():  # beyond the last follow-up time: not estimable
            return float("nan"), float("nan"), float("nan")
        ci = kmf.confidence_interval_.to_numpy(float)
        return (_step_at(idx, kmf.survival_function_.iloc[:, 0].to_numpy(float), t),
                _step_at(idx, ci[:, 0], t), _step_at(idx, ci[:, 1], t))

    def median(self, group: str | None = None) -> float:
        """Median lifetime (days) of one group (the only one when ``group`` is None)."""
        return float(self._fitter(group).median_survival_time_)

    def survival_at(self, t: float, group: str | None = None) -> float:
        """Share of customers still active ``t`` days after the start (Kaplan-Meier)."""
        return self._at(self._fitter(group), t)[0]

    def _fitter(self, group: str | None) -> KaplanMeierFitter:
        if group is None:
            if len(self.fitters) != 1:
                raise JourneyParameterError(f"group=None but there are {len(self.fitters)} groups: {list(self.fitters)}")
            return next(iter(self.fitters.values()))
        if group not in self.fitters:
            raise JourneyParameterError(f"group={group!r}; expected one of {list(self.fitters)}")
        return self.fitters[group]

    def plot(self, ax=None, *, ci: bool = True):
        """Kaplan-Meier curves (share still active vs days) with confidence bands."""
        return plots.plot_survival(self, ax=ax, ci=ci)

    def plot_cumulative_hazard(self, ax=None):
        """Nelson-Aalen cumulative hazard per group (its slope is the churn rate)."""
        return plots.plot_cumulative_hazard(self, ax=ax)

    def plot_retention(self, ax=None):
        """Bars: retention at each horizon per group, with confidence intervals."""
        return plots.plot_retention(self, ax=ax)

    @property
    def reading(self) -> str:
        """One markdown bullet per group (names escaped): median lifetime and the share still active at each
        horizon."""
        lines = []
        for r in self.summary.to_dict("records"):
            med = ("more than half are still active at the end of follow-up" if np.isinf(r["median_days"])
                   else f"half have churned after about {r['median_days']:.0f} days")
            ret = ", ".join(f"{r[f'retention_{h:g}d']:.0%} after {h:g} days" for h in self.horizons
                            if pd.notna(r[f"retention_{h:g}d"]))
            lines.append(f"- **{escape_markdown(r['group'])}** ({r['customers']:,} customers): {med}"
                         + (f"; still active: {ret}." if ret else "."))
        return "\n".join(lines)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Per group (the four largest): the median lifetime with its interval or, when more than
        half are still active, the share still active at the last horizon that can be estimated."""
        s = self.summary
        ret = self.retention.set_index(["group", "horizon_days"])
        if len(s) > 4:
            s = s.sort_values("customers", ascending=False, kind="stable").head(4)
        out = []
        for r in s.to_dict("records"):
            n = f"the {r['customers']:,} customers" + (f" in {r['group']}" if self.by else "")
            if np.isfinite(r["median_days"]):
                ci = (f"{r['ci_low']:,.0f} to {r['ci_high']:,.0f} days" if np.isfinite(r["ci_high"])
                      else f"at least {r['ci_low']:,.0f} days")
                out.append(Finding(f"Half of {n} have churned after about {r['median_days']:,.0f} days ({ci}).",
                                   float(r["median_days"]), float(r["ci_low"]), float(r["ci_high"])))
                continue
            known = [h for h in self.horizons if pd.notna(r[f"retention_{h:g}d"])]
            if not known:
                out.append(Finding(f"More than half of {n} are still active at the end of follow-up."))
                continue
            h = known[-1]
            v, lo, hi = (float(ret.loc[(r["group"], h), c]) for c in ("retention", "ci_low", "ci_high"))
            out.append(Finding(f"More than half of {n} are still active at the end of follow-up: "
                               f"{_pct(v)} after {h:g} days ({_pct(lo)} to {_pct(hi)}).", v, lo, hi))
        return tuple(out)

    def _float_format(self) -> str:
        return "{:.3f}"

    def __repr__(self) -> str:
        return f"KaplanMeierResult(by={list(self.by)}, groups={len(self.fitters)})\n" + \
            self.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def kaplan_meier(
    data: Any,
    *,
    duration_col: str = "duration",
    event_col: str = "churned",
    by: str | Sequence[str] | None = None,
    weights_col: str | None = None,
    horizons: Sequence[float] = DEFAULT_HORIZONS,
    confidence_level: float = 0.95,
) -> KaplanMeierResult:
    """Kaplan-Meier retention curves, overall or per group.

    Parameters
    ----------
    data
        One row per customer (:func:`churn_labels`) or counts per cell
        (:func:`churn_counts`, with ``weights_col="n"``).
    duration_col, event_col
        Lifetime (days) and churn indicator (True = churn observed, False = censored).
    by
        Column(s) to split on (e.g. ``"segment"``); missing values form a group.
    weights_col
        Column of counts: each row stands for that many customers. Gives exactly
        the same curve and Greenwood bands as the expanded rows.
    horizons
        Days at which the retention table is reported.
    confidence_level
        Level of the bands and of the median's interval (default 0.95).

    Returns
    -------
    KaplanMeierResult
        Per group: customers, churned, the median lifetime with its interval and the
        retention at each horizon (``summary``); the fitted curves (``fitters``).

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> result = jl.kaplan_meier(labels, by="segment", horizons=(30, 90))
    >>> result.summary[["group", "retention_30d", "retention_90d"]].round(3)
          group  retention_30d  retention_90d
    0    budget          0.207          0.163
    1   premium          0.245          0.221
    2  standard          0.246          0.206
    """
    confidence_level = _check_level(confidence_level)
    bad = [h for h in horizons if not is_number(h) or h < 0]
    if bad:
        raise JourneyParameterError(f"horizons={list(horizons)!r}; expected days >= 0 (numbers), got {bad!r}")
    df = _frame(data)
    d, e, w = _survival_columns(df, duration_col, event_col, weights_col)
    cols, key = _group_keys(df, by)
    if len(df) == 0:
        raise JourneyDataError("survival data: no rows; expected at least one customer")
    from lifelines import KaplanMeierFitter

    fitters: dict[str, KaplanMeierFitter] = {}
    counts = []
    for g in sorted(key.unique(), key=str):
        m = (key == g).to_numpy()
        kmf = KaplanMeierFitter(alpha=1 - confidence_level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=Warning)  # lifelines' note on non-integer weights
            kmf.fit(d[m], event_observed=e[m], weights=None if w is None else w[m], label=str(g))
        fitters[str(g)] = kmf
        ww = np.ones(m.sum()) if w is None else w[m]
        counts.append({"group": str(g), "customers": ww.sum(), "churned": ww[e[m]].sum()})
    return KaplanMeierResult(fitters, tuple(cols), tuple(float(h) for h in horizons), confidence_level,
                             pd.DataFrame(counts).set_index("group"))


# --------------------------------------------------------------------------- log-rank
@dataclass(frozen=True)
class LogRankResult(Result):
    """Log-rank test that the churn curves of the groups are equal.

    ``statistic`` is chi-squared with ``df`` degrees of freedom; ``summary`` shows per
    group the observed churns against those expected if all groups were alike, and the
    group's hazard ratio against the reference group (the largest) with its interval
    (``hazard_ratio, ci_low, ci_high``: the log-rank estimate ``(O/E) / (O_ref/E_ref)``,
    standard error of its log ``sqrt(1/E + 1/E_ref)``, Berry et al. 1991).

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> result = jl.logrank(labels, "segment")
    >>> result.summary[["group", "observed", "expected", "hazard_ratio"]].round(2)
          group  observed  expected  hazard_ratio
    0    budget     582.0    514.32          1.14
    1   premium     949.0    992.45          0.97
    2  standard    2272.0   2296.22          1.00
    """

    statistic: float
    pvalue: float
    df: int
    by: tuple[str, ...]
    table: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def _extremes(self) -> tuple[dict, dict]:
        t = self.table.sort_values("observed_over_expected", kind="stable")
        return t.iloc[0].to_dict(), t.iloc[-1].to_dict()

    @property
    def reference(self) -> str:
        """The group the hazard ratios compare with (the largest)."""
        return str(self.table.loc[self.table["customers"].idxmax(), "group"])

    def _contrast(self) -> dict:
        """The group whose hazard ratio against the reference is furthest from 1 (finite ratios first)."""
        t = self.table[self.table["group"].astype(str) != self.reference]
        finite = t[np.isfinite(t["hazard_ratio"]) & (t["hazard_ratio"] > 0)]
        if finite.empty:
            return t.iloc[0].to_dict()
        return finite.loc[np.abs(np.log(finite["hazard_ratio"])).idxmax()].to_dict()

    @property
    def reading(self) -> str:
        """The test and the groups furthest from expectation, as Markdown (names from data escaped)."""
        return self._reading(escape_markdown)

    def _reading(self, name) -> str:
        sig = "differ" if self.pvalue < 0.05 else "cannot be told apart"
        c = self._contrast()
        return (f"Churn curves {sig} between {' / '.join(name(b) for b in self.by)} groups (log-rank test, "
                f"chi-squared {self.statistic:.1f} on {self.df} degrees of freedom, {format_pvalue(self.pvalue)}). "
                f"Largest difference: {name(c['group'])} against {name(self.reference)}, the largest group "
                f"(hazard ratio {c['hazard_ratio']:.2f}, {c['ci_low']:.2f} to "
                f"{c['ci_high']:.2f}).")

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Whether the groups' churn differs (the p-value), and the groups furthest from expectation."""
        p = format_pvalue(self.pvalue)
        if self.pvalue < 0.05:
            first = Finding(f"Churn differs between the {len(self.table)} groups (log-rank test, {p}).",
                            float(self.pvalue))
            c = self._contrast()
            hr, lo, hi = float(c["hazard_ratio"]), float(c["ci_low"]), float(c["ci_high"])
            fast, slow = (c["group"], self.reference) if hr > 1 else (self.reference, c["group"])
            clear = lo > 1 or hi < 1
            how = f"{hr:.2f} times as fast as" if hr >= 1 else f"{1 - hr:.0%} slower than"
            second = Finding(f"The {c['group']} group churns {how} the {self.reference} group "
                             f"(hazard ratio {hr:.2f}, {lo:.2f} to {hi:.2f}).", hr, lo, hi,
                             action=f"Look at what sets the {fast} group apart from the {slow} group before "
                                    "spending on retention." if clear else "")
            return first, second
        return (Finding(f"The {len(self.table)} groups' churn cannot be told apart ({p}).", float(self.pvalue),
                        action="Do not target retention by this split on these data."),)

    def plot(self, ax=None):
        """Bars: churns observed per group over those expected."""
        return plots.plot_logrank(self, ax=ax)

    def _float_format(self) -> str:
        return "{:.2f}"

    def __repr__(self) -> str:
        return (f"Log-rank test: chi-squared {self.statistic:.1f}, {self.df} degrees of freedom, "
                f"{format_pvalue(self.pvalue)}\n"
                + self.table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))

    def _repr_html_(self) -> str:
        body = "".join(f"<p>{html.escape(str(f))}</p>" for f in self.findings)
        return body + f"<p>{html.escape(self._reading(str))}</p>" + html_table(self.table, "{:.2f}")


def _observed_expected(d: np.ndarray, e: np.ndarray, w: np.ndarray, key: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"t": d, "e": e.astype(float) * w, "w": w, "g": key})
    groups = sorted(pd.unique(key), key=str)
    ev = frame.pivot_table(index="t", columns="g", values="e", aggfunc="sum", fill_value=0.0)
    n_at = frame.pivot_table(index="t", columns="g", values="w", aggfunc="sum", fill_value=0.0)
    ev, n_at = ev.reindex(columns=groups, fill_value=0.0), n_at.reindex(columns=groups, fill_value=0.0)
    at_risk = n_at.iloc[::-1].cumsum().iloc[::-1]  # still in the risk set at t
    total_d, total_n = ev.sum(axis=1), at_risk.sum(axis=1)
    expected = at_risk.mul(total_d / total_n, axis=0).sum()
    observed = ev.sum()
    customers = n_at.sum()
    out = pd.DataFrame({"group": groups, "customers": customers.to_numpy(), "observed": observed.to_numpy(),
                        "expected": expected.to_numpy()})
    out["observed_over_expected"] = out["observed"] / out["expected"]
    # log-rank hazard ratio of each group against the largest (Berry, Kitchin & Mock 1991)
    ref = int(np.argmax(out["customers"].to_numpy(float)))
    ratio = out["observed_over_expected"].to_numpy(float)
    e = out["expected"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        hr = ratio / ratio[ref]
        se = np.sqrt(1 / e + 1 / e[ref])
    z = stats.norm.ppf(0.975)
    out["hazard_ratio"] = hr
    out["ci_low"] = np.where(np.arange(len(out)) == ref, np.nan, hr * np.exp(-z * se))
    out["ci_high"] = np.where(np.arange(len(out)) == ref, np.nan, hr * np.exp(z * se))
    return out


def logrank(
    data: Any,
    by: str | Sequence[str],
    *,
    duration_col: str = "duration",
    event_col: str = "churned",
    weights_col: str | None = None,
) -> LogRankResult:
    """Log-rank test across the groups of ``by`` (two groups or more).

    Two groups use lifelines' ``logrank_test``, more use ``multivariate_logrank_test``
    (the same statistic with ``k - 1`` degrees of freedom).

    Parameters
    ----------
    data
        One row per customer (:func:`churn_labels`) or counts per cell (with ``weights_col``).
    by
        Column(s) whose groups are compared.
    duration_col, event_col
        Lifetime (days) and churn indicator.
    weights_col
        Column of counts (each row stands for that many customers).

    Returns
    -------
    LogRankResult
        ``statistic`` (chi-squared), ``df``, ``pvalue`` and per-group observed/expected churns.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> result = jl.logrank(labels, "segment")
    >>> round(result.statistic, 1), result.df, round(result.pvalue, 4)
    (11.5, 2, 0.0031)
    """
    df = _frame(data)
    d, e, w = _survival_columns(df, duration_col, event_col, weights_col)
    cols, key = _group_keys(df, by)
    if not cols:
        raise JourneyParameterError("by is empty; expected the column(s) defining the groups to compare")
    k = key.to_numpy(object)
    groups = sorted(pd.unique(k), key=str)
    if len(groups) < 2:
        raise JourneyDataError(f"column(s) {cols}: only one group ({groups}); the log-rank test needs at least two")
    if not e.any():
        raise JourneyDataError(f"column '{event_col}': no churn observed in any of the {len(df):,} rows; the log-rank "
                               "test compares churns between groups, so it needs at least one")
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    ww = np.ones(len(d)) if w is None else w
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        if len(groups) == 2:
            a, b = k == groups[0], k == groups[1]
            res = logrank_test(d[a], d[b], event_observed_A=e[a], event_observed_B=e[b],
                               weights_A=ww[a], weights_B=ww[b])
        else:
            res = multivariate_logrank_test(d, k, event_observed=e, weights=ww)
    return LogRankResult(float(res.test_statistic), float(res.p_value), len(groups) - 1, tuple(cols),
                         _observed_expected(d, e, ww, k))


# --------------------------------------------------------------------------- Cox
PH_CHECK = "Cox proportional-hazards assumption"


@dataclass(frozen=True)
class CoxResult(Result):
    """Cox proportional-hazards fit: hazard ratios, concordance, PH check.

    ``summary`` has one row per covariate term: ``hazard_ratio``, ``ci_low``, ``ci_high``
    (at ``confidence_level``), ``pvalue`` (a hazard ratio below 1 means slower churn).
    ``ph_test`` holds the Schoenfeld-residual test per term (rank time transform);
    ``ph_ok`` is False when any term fails at ``ph_alpha``, and ``checks`` carries it.
    ``kind`` is ``"baseline"`` or ``"time-varying"``. ``constant``: the covariates left out
    because every customer in the model has the same value, ``{covariate: that value}``
    (``note`` names them).

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> result = jl.cox(labels, ["segment"])
    >>> result.summary[["term", "hazard_ratio", "ci_low", "ci_high"]].round(3)
                   term  hazard_ratio  ci_low  ci_high
    0   segment: budget         1.149   1.049    1.258
    1  segment: premium         0.968   0.897    1.044
    """

    model: Any = field(repr=False)
    kind: str
    terms: pd.DataFrame = field(repr=False)
    concordance: float | None
    ph_test: pd.DataFrame | None = field(repr=False)
    ph_alpha: float
    strata: tuple[str, ...]
    n: float
    events: float
    reference: dict = field(default_factory=dict)
    n_available: float | None = None
    missing: dict = field(default_factory=dict)
    confidence_level: float = 0.95
    constant: dict = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return self.terms.copy()

    @property
    def note(self) -> str:
        """Which customers the model was fitted on: rows left out for missing values, sampling.

        Plain text (it quotes covariate names): escape it whole with
        :func:`journeylib.core.display.escape_markdown` before putting it into Markdown.
        """
        parts = []
        if self.constant:
            what = ", ".join(f"{c} ({v})" for c, v in self.constant.items())
            parts.append(f"Left out of the model because every customer in it has the same value: {what}.")
        if self.missing:
            what = ", ".join(f"{n:,} without {c}" for c, n in self.missing.items())
            parts.append(f"Customers with a missing covariate are left out ({what}).")
        if self.n_available is not None and self.n < self.n_available:
            parts.append(f"Fitted on a seeded random sample of {self.n:,.0f} of the {self.n_available:,.0f} "
                         "customers: the hazard ratios are as precise as that sample allows, shown by their intervals.")
        if self.concordance is not None:
            parts.append(f"Concordance {self.concordance:.3f} (0.5 = no better than chance, 1 = perfect ordering).")
        return " ".join(parts)

    @property
    def reading(self) -> str:
        """Plain words: the covariates that clearly change churn, and whether their ratios hold at every age.

        Markdown: covariate names and levels from data are escaped.
        """
        sig = self.terms[self.terms["pvalue"] < 0.05]
        drivers = "; ".join(f"{_markdown_term(t)} churns {'faster' if hr > 1 else 'slower'} (x{hr:.2f})"
                            for t, hr in zip(sig["term"], sig["hazard_ratio"]))
        text = f"Drivers (Cox, p < 0.05): {drivers or 'no covariate clearly changes the churn rate'}."
        if len(self.terms) > 3:
            text += (" With many terms, one in twenty clears this bar by chance; trust effects that are large "
                     "and stable across runs.")
        if self.ph_ok is not None:
            text += (" The hazard ratios hold across customer age." if self.ph_ok else
                     " Some effects change with customer age (see the proportional-hazards check); read their "
                     "hazard ratios as averages.")
        return text

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The terms that clearly change churn (p < 0.05), strongest first (at most four)."""
        sig = self.terms[self.terms["pvalue"] < 0.05]
        if sig.empty:
            return (Finding(f"No characteristic in the model clearly changes how fast customers churn "
                            f"({self.n:,.0f} customers, {self.events:,.0f} churned)."),)
        sig = sig.assign(strength=np.abs(np.log(sig["hazard_ratio"]))).sort_values("strength", ascending=False,
                                                                                     kind="stable").head(4)
        out = []
        for r in sig.to_dict("records"):
            name, _, level = str(r["term"]).partition(": ")
            hr, ci = r["hazard_ratio"], f"({r['ci_low']:.2f} to {r['ci_high']:.2f})"
            if level:
                ref = self.reference.get(name)
                than = f"those with {name} {ref}" if ref is not None else "the reference group"
                text = (f"Customers with {name} {level} churn {hr:.2f} times as fast as {than} {ci}." if hr > 1 else
                        f"Customers with {name} {level} churn {1 - hr:.0%} slower than {than} (hazard ratio "
                        f"{hr:.2f}, {ci[1:-1]}).")
            else:
                text = f"Each unit of {name} multiplies the churn rate by {hr:.2f} {ci}."
            out.append(Finding(text, float(hr), float(r["ci_low"]), float(r["ci_high"])))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        """The proportional-hazards check (Schoenfeld residuals), when it ran."""
        if self.ph_test is None:
            return ()
        return (Check(PH_CHECK, "pass" if self.ph_ok else "warn", self.ph_reading),)

    @property
    def ph_ok(self) -> bool | None:
        if self.ph_test is None:
            return None
        return bool((self.ph_test["pvalue"] >= self.ph_alpha).all())

    def _row(self, term: str) -> pd.Series:
        t = self.terms.set_index("term")
        if term not in t.index:
            raise JourneyParameterError(f"term={term!r}; expected one of {list(t.index)}")
        return t.loc[term]

    def hazard_ratio(self, term: str) -> float:
        """Hazard ratio of one term (a row of ``summary``)."""
        return float(self._row(term)["hazard_ratio"])

    def interval(self, term: str, confidence_level: float | None = None) -> tuple[float, float]:
        """``(ci_low, ci_high)`` of one term's hazard ratio: the fitted level by default, or
        ``exp(coef -/+ z * se)`` at another ``confidence_level`` (the same Wald interval)."""
        row = self._row(term)
        if confidence_level is None or confidence_level == self.confidence_level:
            return float(row["ci_low"]), float(row["ci_high"])
        z = stats.norm.ppf(0.5 + _check_level(confidence_level) / 2)
        return float(np.exp(row["coef"] - z * row["se"])), float(np.exp(row["coef"] + z * row["se"]))

    @property
    def ph_reading(self) -> str:
        """The proportional-hazards check in plain words, with the remedy.

        Plain text (it quotes covariate names; it is also the check's detail): escape it
        whole with :func:`journeylib.core.display.escape_markdown` before putting it into Markdown.
        """
        if self.ph_test is None:
            return ("Proportional-hazards check not run (the time-varying start/stop form has no Schoenfeld "
                    "test in lifelines).")
        bad = self.ph_test[self.ph_test["pvalue"] < self.ph_alpha]
        if bad.empty:
            return (f"Proportional-hazards assumption holds: no covariate's effect drifts over lifetime "
                    f"(Schoenfeld test, every p >= {self.ph_alpha:g}). The hazard ratios apply at every age.")
        names = ", ".join(f"{t} (p={p:.2g})" for t, p in zip(bad["term"], bad["pvalue"]))
        vars_ = sorted({str(t).split(": ")[0] for t in bad["term"]})
        return (f"Proportional-hazards assumption questionable for {names}: their effect changes with "
                f"customer age, so the hazard ratio shown is an average over lifetime. Remedy: stratify on "
                f"{', '.join(vars_)} (strata=[...]) to compare the other covariates within its levels, or split "
                f"the time axis. With many customers this test flags even small, harmless drifts.")

    def plot(self, ax=None):
        """Forest plot of hazard ratios with confidence intervals (log scale)."""
        return plots.plot_cox(self, ax=ax)

    def against_truth(self, truth: Mapping[str, Any]) -> pd.DataFrame:
        """Planted vs estimated segment hazard ratios (a model with a ``segment`` covariate).

        The planted ratios are relative to this model's reference segment. Returns
        :func:`journeylib.core.result.truth_table` rows ``churn hazard ratio, <segment> vs <reference>``.
        """
        if "segments" not in (truth or {}):
            raise JourneyParameterError(f"truth: expected a simulator's ground truth with the parts ['segments']; "
                                        f"got {sorted(truth or {})}")
        planted = truth["segments"]["churn_hazard_ratio"]
        ref = self.reference.get("segment")
        terms = self.terms.set_index("term")
        rows = []
        for seg, hr in planted.items():
            if f"segment: {seg}" in terms.index:
                r = terms.loc[f"segment: {seg}"]
                rows.append((f"churn hazard ratio, {seg} vs {ref if ref is not None else 'reference'}",
                             hr / planted.get(ref, 1.0), float(r["hazard_ratio"]), float(r["ci_low"]),
                             float(r["ci_high"])))
        return truth_table(rows)

    def _float_format(self) -> str:
        return "{:.3f}"

    def __repr__(self) -> str:
        c = f"{self.concordance:.3f}" if self.concordance is not None else "n/a"
        return (f"CoxResult(kind={self.kind!r}, n={self.n:,.0f}, events={self.events:,.0f}, concordance={c}, "
                f"ph_ok={self.ph_ok})\n" + self.terms.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    def _repr_html_(self) -> str:
        c = f"{self.concordance:.3f}" if self.concordance is not None else "n/a"
        head = html.escape(f"Cox ({self.kind}): {self.n:,.0f} customers, {self.events:,.0f} churned, "
                           f"concordance {c}. {self.ph_reading} {self.note}")
        body = "".join(f"<p>{html.escape(str(f))}</p>" for f in self.findings)
        return f"<p>{head}</p>" + body + html_table(self.terms, "{:.3f}")


def _markdown_term(term: Any) -> str:
    """A Cox term (``"segment: premium"`` or a numeric covariate's name) for Markdown: the
    covariate and the level escaped, the separator kept."""
    name, sep, level = str(term).partition(": ")
    return escape_markdown(name) + sep + (escape_markdown(level) if sep else "")


def _every(n: int) -> str:
    """``"the one customer"`` or ``"every one of the 1,234 customers"``: the subject of a sentence."""
    return "the one customer" if n == 1 else f"every one of the {n:,} customers"


def _constant_covariates(df: pd.DataFrame, covariates: Sequence[str]) -> dict[str, str]:
    """``{covariate: its one value, in words}`` for the covariates with a single value in ``df``.

    Text columns count a missing value as a level, as :func:`_design` does; a numeric column
    with missing values is not listed (:func:`_design` reports those rows).
    """
    out = {}
    for c in covariates:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            if len(s) and not s.isna().any() and s.nunique() == 1:
                out[c] = str(s.iloc[0])
            continue
        s = s.astype("string")
        if len(s) and s.fillna("(missing)").nunique() == 1:
            out[c] = "missing for every customer" if s.isna().all() else repr(str(s.iloc[0]))
    return out


def _fit_reason(exc: BaseException) -> str:
    """lifelines' reason for a failed fit, without its pointers to web pages (a report makes no links for
    the reader to follow): the text before "Please see" or "See https"."""
    text = str(exc).strip()
    for cut in ("Please see", "See https", "http"):
        text = text.split(cut)[0]
    return " ".join(text.split()).rstrip(" .") or type(exc).__name__


def _refuse_levels_without_churn(df: pd.DataFrame, covariates: Sequence[str], churned: np.ndarray,
                                 weights: np.ndarray | None, penalizer: float) -> None:
    """A level (of a text or True/False covariate) in which nobody churned has no hazard ratio: the
    partial likelihood grows without end as it goes to 0 (or, for the reference level, to infinity).
    lifelines then fails to converge with advice about collinearity; this says which level it is."""
    if penalizer > 0:  # a penalised fit shrinks such a term to a finite value: it is what it is for
        return
    w = np.ones(len(df)) if weights is None else weights
    for c in covariates:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and s.nunique() > 2:
            continue  # a continuous covariate: no level to be without churn
        levels = s.astype("string").fillna("(missing)")
        per = pd.DataFrame({"level": levels.to_numpy(), "n": w, "churned": w * churned}).groupby("level").sum()
        if len(per) < 2:
            continue
        empty = per[per["churned"] == 0]
        if len(empty):
            lvl, n = str(empty.index[0]), int(empty["n"].iloc[0])
            raise JourneyDataError(
                f"column '{c}': nobody churned among the {n:,} customer{'s' if n != 1 else ''} with {c} = {lvl!r}, "
                "so a Cox model has no hazard ratio for that level (its estimate grows without bound and the fit "
                "does not converge)"
                f"\nWhat to do: merge {lvl!r} into a neighbouring level, leave '{c}' out of the model, or pass "
                "penalizer=0.1 for a shrunk estimate; kaplan_meier(by=...) shows the level's curve")


def _design(df: pd.DataFrame, covariates: Sequence[str], reference: Mapping[str, Any],
            used: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design: numbers/booleans as is, text/categories one-hot against a reference level."""
    out, terms = {}, []
    used = {} if used is None else used
    for c in covariates:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            if s.isna().any():
                        raise data_error(c, int(s.isna().sum()), len(df), "no missing values in a Cox covariate",
                                 df.loc[s.isna(), [c]], table="survival data",
                                 hint="fill or drop the missing values, or make the column a category")
            out[c] = s.astype(float).to_numpy()
            terms.append(c)
            continue
        s = s.astype("string").fillna("(missing)")
        levels = s.value_counts()
        ref = reference.get(c, levels.index[0])
        if ref not in levels.index:
            raise JourneyParameterError(f"reference[{c!r}]={ref!r}; expected one of {sorted(levels.index)}")
        used[c] = str(ref)
        for lvl in sorted(levels.index):
            if lvl != ref:
                name = f"{c}: {lvl}"
                out[name] = (s == lvl).astype(float).to_numpy()
                terms.append(name)
    return pd.DataFrame(out, index=df.index), terms


def _terms_table(model: Any) -> pd.DataFrame:
    s = model.summary
    lo_col = [c for c in s.columns if c.startswith("exp(coef) lower")][0]
    hi_col = [c for c in s.columns if c.startswith("exp(coef) upper")][0]
    return pd.DataFrame({
        "term": [str(i) for i in s.index],
        "coef": s["coef"].to_numpy(),
        "se": s["se(coef)"].to_numpy(),
        "hazard_ratio": s["exp(coef)"].to_numpy(),
        "ci_low": s[lo_col].to_numpy(),
        "ci_high": s[hi_col].to_numpy(),
        "pvalue": s["p"].to_numpy(),
    })


def to_start_stop(
    data: pd.DataFrame,
    switches: Mapping[str, str],
    *,
    duration_col: str = "duration",
    event_col: str = "churned",
    start_col: str = "start",
    id_col: str = "customer_id",
) -> pd.DataFrame:
    """Split each customer's lifetime into (start, stop] periods at time-varying switches.

    Parameters
    ----------
    data
        One row per customer, e.g. :func:`churn_labels` joined with customers.
    switches
        ``{covariate: timestamp_column}``: the covariate is 0 before that time and 1 from
        it on (e.g. ``{"loyalty": "loyalty_joined_at"}``); missing = never switched.
    start_col
        Timestamp column of time zero (``start`` in :func:`churn_labels`).
    duration_col, event_col
        Lifetime (days) and churn indicator.
    id_col
        Customer id column.

    Returns
    -------
    pandas.DataFrame
        ``id, start, stop`` (days since time zero), one 0/1 column per switch, the event
        only on each customer's last period, and the other columns carried over.
        Switches at or before time zero count from time zero; switches after the end of
        follow-up are ignored.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> from journeylib.retention.survival import to_start_stop
    >>> periods = to_start_stop(labels.head(2), {"loyalty": "loyalty_joined_at"})
    >>> periods[["customer_id", "start", "stop", "loyalty", "churned"]].round(1)
      customer_id  start   stop  loyalty  churned
    0     C000001    0.0    0.7      0.0     True
    1     C000002    0.0  112.7      0.0    False
    2     C000002  112.7  246.9      1.0    False
    """
    _check_columns(data, [duration_col, event_col, start_col, id_col, *switches.values()])
    t0 = series_to_utc(data[start_col])
    dur = data[duration_col].to_numpy(float)
    cuts = {}
    for name, col in switches.items():
        with warnings.catch_warnings():  # text that is not dates: reported below, row by row
            warnings.simplefilter("ignore", UserWarning)
            when = pd.to_datetime(data[col], utc=True, errors="coerce")
        unparsed = when.isna() & data[col].notna()
        if unparsed.any():
                raise data_error(col, int(unparsed.sum()), len(data), "a timestamp (the switch time) or missing (never)",
                             data.loc[unparsed, [id_col, col]], table="survival data")
        at = (when - t0).dt.total_seconds().to_numpy() / DAY_SECONDS
        cuts[name] = np.clip(at, 0.0, None)  # NaN stays NaN
    carry = [c for c in data.columns if c not in (duration_col, event_col, *switches.values())]
    n = len(data)
    # every customer: a period starting at 0, plus one starting at each switch inside (0, duration)
    ids, starts = [np.arange(n)], [np.zeros(n)]
    for at in cuts.values():
        inside = np.isfinite(at) & (at > 0.0) & (at < dur)
        ids.append(np.flatnonzero(inside))
        starts.append(at[inside])
    ids_a, starts_a = np.concatenate(ids), np.concatenate(starts)
    order = np.lexsort((starts_a, ids_a))
    ids_a, starts_a = ids_a[order], starts_a[order]
    keep = np.ones(len(ids_a), dtype=bool)  # two switches on the same day: one period boundary
    keep[1:] = (ids_a[1:] != ids_a[:-1]) | (starts_a[1:] != starts_a[:-1])
    ids_a, starts_a = ids_a[keep], starts_a[keep]
    last_a = np.ones(len(ids_a), dtype=bool)
    last_a[:-1] = ids_a[1:] != ids_a[:-1]
    stops_a = np.where(last_a, dur[ids_a], np.append(starts_a[1:], 0.0))
    rows = (ids_a, starts_a, stops_a, last_a)
    idx, period_start, period_stop, last = rows
    out = data[carry].iloc[idx].reset_index(drop=True)
    out["start"] = period_start
    out["stop"] = period_stop
    for name, at in cuts.items():
        out[name] = (np.isfinite(at[idx]) & (at[idx] <= out["start"].to_numpy())).astype(float)
    out[event_col] = data[event_col].to_numpy()[idx].astype(bool) & last
    return out


def cox(
    data: Any,
    covariates: Sequence[str],
    *,
    duration_col: str = "duration",
    event_col: str = "churned",
    strata: Sequence[str] | None = None,
    time_varying: Mapping[str, str] | None = None,
    reference: Mapping[str, Any] | None = None,
    weights_col: str | None = None,
    penalizer: float = 0.0,
    confidence_level: float = 0.95,
    check_assumptions: bool = True,
    ph_alpha: float = 0.01,
    sample: int | None = None,
    seed: int = 0,
    missing: str = "raise",
) -> CoxResult:
    """Cox proportional-hazards model of churn.

    Parameters
    ----------
    data
        One row per customer (:func:`churn_labels`, joined with customers) or any frame
        with a duration and event column.
    covariates
        Baseline covariates. Numbers and booleans enter as is; text/categorical columns
        are one-hot coded against ``reference[col]`` (default: the most frequent level).
        A covariate with the same value for every customer fitted has no hazard ratio: it is
        left out (the result's ``constant`` and ``note`` name it), and when every covariate
        is, :class:`journeylib.core.errors.JourneyDataError` says so.
    strata
        Columns to stratify on instead of estimating a hazard ratio: the standard
        remedy when a covariate fails the proportional-hazards check.
    time_varying
        ``{name: timestamp_column}`` covariates that switch from 0 to 1 mid-life (e.g.
        ``{"loyalty": "loyalty_joined_at"}``). Fitted in start/stop form
        (lifelines ``CoxTimeVaryingFitter``), which avoids immortal-time bias; needs the
        ``start`` and ``customer_id`` columns of :func:`churn_labels`. Period boundaries
        are rounded up to whole days (ties by Efron's method), which keeps the fit fast.
    weights_col
        Case weights (counts). Baseline model only.
    confidence_level
        Level of the hazard ratios' intervals (``ci_low``, ``ci_high``); default 0.95.
    check_assumptions
        Run the Schoenfeld-residual proportional-hazards test (baseline model); the
        result's ``checks`` carry it (a notebook records them with ``jl.record``).
    ph_alpha
        A covariate fails the PH check when its p-value is below this (a decision threshold).
    sample, seed
        Fit on a seeded random sample of ``sample`` rows when ``data`` has more (``None``:
        all rows). Each Newton step of the partial likelihood and the Schoenfeld test
        cost at least one pass over every customer: 10^5 customers give hazard ratios
        to a few per cent in seconds, 10^6 take minutes. The intervals are those of
        the sample (honestly wider); ``n`` reports the rows used, ``n_available`` the rows
        there were.
    missing
        A missing value in a numeric or boolean covariate: ``"raise"`` (default) a
        :class:`journeylib.core.errors.JourneyDataError` naming the rows, or ``"drop"`` those
        customers before sampling, counted per column in ``missing`` and ``note`` (like
        R's ``na.omit``). Text covariates keep a ``(missing)`` level either way.

    Returns
    -------
    CoxResult
        Hazard ratios per term with intervals and p-values (``summary``), the
        proportional-hazards test (``ph_test``, ``ph_ok``) and ``checks``.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> result = jl.cox(labels, ["segment"])
    >>> result.summary[["term", "hazard_ratio", "pvalue"]].round(3)
                   term  hazard_ratio  pvalue
    0   segment: budget         1.149   0.003
    1  segment: premium         0.968   0.399
    """
    from lifelines import CoxPHFitter, CoxTimeVaryingFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning
    from lifelines.statistics import proportional_hazard_test

    confidence_level = _check_level(confidence_level)
    df = _frame(data)
    if missing not in ("raise", "drop"):
        raise JourneyParameterError(f"missing={missing!r}; expected 'raise' or 'drop'")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    _check_columns(df, covariates)
    dropped: dict[str, int] = {}
    if missing == "drop":
        numeric = [c for c in covariates if pd.api.types.is_bool_dtype(df[c]) or pd.api.types.is_numeric_dtype(df[c])]
        na = df[numeric].isna()
        dropped = {c: int(n) for c, n in na.sum().items() if n}
        df = df[~na.any(axis=1)]
    n_available = float(len(df))
    if sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 10:
            raise JourneyParameterError(f"sample={sample!r}; expected a number of rows (at least 10) or None")
        if len(df) > sample:
            df = df.sample(n=int(sample), random_state=seed).sort_index()
    strata = [strata] if isinstance(strata, str) else list(strata or [])
    reference = dict(reference or {})
    time_varying = dict(time_varying or {})
    _check_columns(df, [*covariates, *strata])
    if len(df) == 0:
        why = (f" once the customers with a missing {', '.join(dropped)} are left out (missing='drop')"
               if dropped else "")
        raise JourneyDataError(f"survival data: no customers to fit the Cox model on{why}; expected at least one "
                               "customer with a duration and a churn flag\nWhat to do: "
                               + ("fill the missing values or leave that covariate out of the model (a value "
                                  "missing for every customer usually means the customers table's ids do not match "
                                  "the event log's)" if dropped else "pass the churn labels of at least one customer"))
    d, e, w = _survival_columns(df, duration_col, event_col, weights_col)
    if e.sum() == 0:
        raise JourneyDataError(f"column '{event_col}': no churn observed; a Cox model needs events")
    if not covariates and not time_varying:
        raise JourneyParameterError("covariates: expected at least one column for the Cox model (or a "
                                    "time_varying covariate); for curves without covariates use kaplan_meier")
    # A covariate with one value (one customer, one segment, a customers table whose ids match no
    # event) has no hazard ratio: lifelines fails on it (a fit without terms, a singular matrix).
    constant = _constant_covariates(df, covariates)
    if constant and len(constant) == len(covariates) and not time_varying:
        what = "; ".join(f"{c}: {v}" for c, v in constant.items())
        raise JourneyDataError(
            f"covariates {list(covariates)}: {_every(len(df))} in the Cox model has the same value ({what}), so "
            "there is no group to compare and no hazard ratio to estimate\nWhat to do: pass a covariate that "
            "differs between customers; a value missing for every customer usually means the customers table's "
            "ids do not match the event log's; for the overall curve use kaplan_meier")
    covariates = [c for c in covariates if c not in constant]
    refs: dict = {}
    X, terms = _design(df, covariates, reference, refs)
    _refuse_levels_without_churn(df, covariates, e, w, penalizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        if time_varying:
            if weights_col:
                raise JourneyParameterError("weights_col is not supported with time_varying (one row per customer)")
            base = pd.concat([df[["customer_id", "start", duration_col, event_col, *time_varying.values(), *strata]]
                              if "customer_id" in df.columns else df, X], axis=1)
            base = base.loc[:, ~base.columns.duplicated()]
            long = to_start_stop(base, time_varying, duration_col=duration_col, event_col=event_col)
            # Whole days (each boundary rounded up, so the periods still tile each lifetime):
            # CoxTimeVaryingFitter loops over distinct event times with a pass over every
            # row each, so continuous times made it quadratic (400 s for 50,000 customers).
            long["start"], long["stop"] = np.ceil(long["start"]), np.ceil(long["stop"])
            long = long[(long["stop"] > long["start"]) | long[event_col]]
            # lifelines needs stop > start: a day-0 churn gets a tiny positive length
            long.loc[long["stop"] <= long["start"], "stop"] = long["start"] + 1e-6
            for name, col in time_varying.items():
                if long[name].nunique() < 2:
                    state = (f"{_every(len(df))} in the Cox model is without '{name}' to the end of follow-up "
                             f"({col} missing or later)" if long[name].max() < 1 else
                             f"{_every(len(df))} in the Cox model has '{name}' from the start of follow-up "
                             f"({col} at or before it)")
                    raise JourneyDataError(
                        f"column '{col}': {state}, so there is nothing to compare and no hazard ratio for "
                        f"'{name}'\nWhat to do: the model needs time both before and after {col}; check the "
                        "column, or leave the time-varying covariate out")
            cols = ["customer_id", "start", "stop", event_col, *terms, *time_varying.keys(), *strata]
            model = CoxTimeVaryingFitter(penalizer=penalizer, alpha=1 - confidence_level)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", ConvergenceWarning)
                    model.fit(long[cols], event_col=event_col, start_col="start", stop_col="stop",
                              id_col="customer_id", strata=strata or None)
            except (ConvergenceError, ConvergenceWarning) as exc:
                raise JourneyFitError(f"time-varying Cox did not converge: {_fit_reason(exc)}. Try penalizer=0.01 or "
                                      "fewer covariates.") from exc
            return CoxResult(model, "time-varying", _terms_table(model), None, None, ph_alpha,
                             tuple(strata), float(len(df)), float(e.sum()), refs, n_available, dropped,
                             confidence_level, constant)
        fit_df = pd.concat([X, df[strata]], axis=1)
        fit_df["_duration"], fit_df["_event"] = d, e
        if w is not None:
            fit_df["_weight"] = w
        model = CoxPHFitter(penalizer=penalizer, alpha=1 - confidence_level)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                warnings.filterwarnings("ignore", message=".*weights are not integers.*")
                model.fit(fit_df, duration_col="_duration", event_col="_event",
                          weights_col="_weight" if w is not None else None, strata=strata or None)
        except (ConvergenceError, ConvergenceWarning) as exc:
            raise JourneyFitError(f"Cox model did not converge: {_fit_reason(exc)}. Try penalizer=0.01, fewer covariates, "
                                  "or merging rare categories.") from exc
        ph = None
        if check_assumptions:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = proportional_hazard_test(model, fit_df, time_transform="rank")
            s = res.summary
            ph = pd.DataFrame({"term": [str(i) for i in s.index], "statistic": s["test_statistic"].to_numpy(),
                               "pvalue": s["p"].to_numpy()})
        ww = np.ones(len(d)) if w is None else w
        return CoxResult(model, "baseline", _terms_table(model), float(model.concordance_index_), ph,
                         ph_alpha, tuple(strata), float(ww.sum()), float(ww[e].sum()), refs,
                         n_available if w is None else None, dropped, confidence_level, constant)


# --------------------------------------------------------------------------- membership (immortal time)
def membership_sentence(hazard_ratio: float, ci_low: float, ci_high: float) -> str:
    """The loyalty hazard ratio in the words both the retention and the loyalty report use:
    ``"Once they join, members churn about 38% less than comparable non-members (hazard ratio 0.62,
    0.50 to 0.76)."``

    Parameters
    ----------
    hazard_ratio, ci_low, ci_high
        The start/stop hazard ratio of membership and its interval.

    Returns
    -------
    str
        One plain sentence.

    Examples
    --------
    >>> from journeylib.retention.survival import membership_sentence
    >>> print(membership_sentence(0.62, 0.50, 0.76))
    Once they join, members churn about 38% less than comparable non-members (hazard ratio 0.62, 0.50 to 0.76).
    """
    word = "less" if hazard_ratio < 1 else "more"
    return (f"Once they join, members churn about {abs(1 - hazard_ratio):.0%} {word} than comparable non-members "
            f"(hazard ratio {hazard_ratio:.2f}, {ci_low:.2f} to {ci_high:.2f}).")


@dataclass(frozen=True)
class MembershipEffect(Result):
    """Churn hazard ratio of a programme joined mid-life, two ways.

    ``naive`` treats *ever a member* as a fixed trait (biased: members had to survive
    until they joined, the immortal time); ``start_stop`` counts each customer as a
    non-member until the day they join (the honest estimate). ``summary`` has one row
    per model: ``model, hazard_ratio, ci_low, ci_high``.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> from journeylib.retention.survival import membership_effect
    >>> result = membership_effect(labels, "loyalty_joined_at", ["segment"])
    >>> result.summary.round(3)
                                    model  hazard_ratio  ci_low  ci_high
    0        naive: ever a member (wrong)         0.081   0.068    0.096
    1  start/stop: member from joining on         0.598   0.484    0.740
    """

    naive: CoxResult
    start_stop: CoxResult

    @property
    def hazard_ratio(self) -> float:
        """The start/stop hazard ratio of membership (below 1: members churn less)."""
        return self.start_stop.hazard_ratio("member")

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` of the start/stop hazard ratio (the headline estimate)."""
        return self.start_stop.interval("member", confidence_level)

    @property
    def summary(self) -> pd.DataFrame:
        rows = []
        for name, res, term in (("naive: ever a member (wrong)", self.naive, "ever_member"),
                                ("start/stop: member from joining on", self.start_stop, "member")):
            lo, hi = res.interval(term)
            rows.append({"model": name, "hazard_ratio": res.hazard_ratio(term), "ci_low": lo, "ci_high": hi})
        return pd.DataFrame(rows)

    @property
    def reading(self) -> str:
        hr, naive = self.hazard_ratio, self.naive.hazard_ratio("ever_member")
        return (f"Once they join, members churn about **{abs(1 - hr):.0%} {'less' if hr < 1 else 'more'}** than "
                f"comparable non-members (hazard ratio {hr:.2f}). The naive comparison would have claimed "
                f"{abs(1 - naive):.0%} {'less' if naive < 1 else 'more'}.")

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The honest (start/stop) hazard ratio with its interval, and what the naive comparison claims."""
        s = self.summary
        hr, lo, hi = (float(s.loc[1, c]) for c in ("hazard_ratio", "ci_low", "ci_high"))
        nhr, nlo, nhi = (float(s.loc[0, c]) for c in ("hazard_ratio", "ci_low", "ci_high"))
        clear = hi < 1 or lo > 1
        action = ""
        if hi < 1:
            action = "Count the programme's retention benefit at this size, not at the naive one."
        elif not clear:
            action = "Do not credit the programme with lower churn on these data."
        first = Finding(membership_sentence(hr, lo, hi), hr, lo, hi, action)
        second = Finding(f"Comparing ever-members with never-members would have claimed {abs(1 - nhr):.0%} "
                         f"{'less' if nhr < 1 else 'more'} churn (hazard ratio {nhr:.2f}, {nlo:.2f} to {nhi:.2f}): "
                         "it credits the programme with the time before joining, when members could not churn.",
                         nhr, nlo, nhi)
        return first, second

    @property
    def checks(self) -> tuple[Check, ...]:
        """The checks of the start/stop model (the estimate shown)."""
        return self.start_stop.checks

    def plot(self, ax=None):
        """The membership hazard ratio of both models with their intervals."""
        return plots.plot_membership(self, ax=ax)

    def against_truth(self, truth: Mapping[str, Any]) -> pd.DataFrame:
        """Planted loyalty hazard ratio vs both models (the naive row is expected to miss)."""
        if "churn" not in (truth or {}):
            raise JourneyParameterError(f"truth: expected a simulator's ground truth with the parts ['churn']; "
                                        f"got {sorted(truth or {})}")
        planted = truth["churn"]["loyalty_hazard_ratio"]
        s = self.summary
        return truth_table([(f"loyalty hazard ratio ({name})", planted, float(s.loc[i, "hazard_ratio"]),
                             float(s.loc[i, "ci_low"]), float(s.loc[i, "ci_high"]))
                            for name, i in (("start/stop", 1), ("naive", 0))])

    def _float_format(self) -> str:
        return "{:.2f}"

    def __repr__(self) -> str:
        return "MembershipEffect\n" + self.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}")

    def _repr_html_(self) -> str:
        return "".join(f"<p>{html.escape(str(f))}</p>" for f in self.findings) + html_table(self.summary, "{:.2f}")


def membership_effect(
    data: Any,
    joined_col: str,
    covariates: Sequence[str] = (),
    **cox_options: Any,
) -> MembershipEffect:
    """Effect on churn of joining a programme (loyalty, subscription) part-way through life.

    Fits two Cox models on the same customers, adjusted for ``covariates``: the naive
    one with a fixed ``ever_member`` flag, and the start/stop one in which ``member``
    switches from 0 to 1 at ``joined_col`` (a timestamp column; missing = never
    joined). ``cox_options`` (``strata``, ``sample``, ``seed``, ``missing``,
    ``confidence_level``, ...) go to both :func:`cox` fits; ``checks`` are the start/stop
    model's.

    Parameters
    ----------
    data
        One row per customer (:func:`churn_labels` joined with customers).
    joined_col
        Timestamp column of joining (missing = never joined).
    covariates
        Baseline covariates adjusted for in both models.
    **cox_options
        Options of :func:`cox` for both fits.

    Returns
    -------
    MembershipEffect
        Both hazard ratios with intervals; the start/stop one is the estimate to quote.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> labels = jl.churn_labels(ds.events, ds.customers, churn_after=60)
    >>> from journeylib.retention.survival import membership_effect
    >>> result = membership_effect(labels, "loyalty_joined_at", ["segment"])
    >>> print(result.findings[0].text)
    Once they join, members churn about 40% less than comparable non-members (hazard ratio 0.60, 0.48 to 0.74).
    """
    df = _frame(data)
    _check_columns(df, [joined_col])
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if "ever_member" in covariates:
        raise JourneyParameterError("covariates: 'ever_member' is the naive model's own term; leave it out")
    df = df.assign(ever_member=df[joined_col].notna())
    joined = int(df["ever_member"].sum())
    if len(df) and joined in (0, len(df)):
        raise JourneyDataError(_one_membership_state(joined_col, joined, len(df)))
    naive = cox(df, [*covariates, "ever_member"], **cox_options)
    if "ever_member" in naive.constant:  # the customers left after missing="drop" or a sample
        n = int(naive.n)
        joined = n if naive.constant["ever_member"] == "True" else 0
        raise JourneyDataError(_one_membership_state(joined_col, joined, n))
    start_stop = cox(df, list(covariates), time_varying={"member": joined_col}, **cox_options)
    return MembershipEffect(naive, start_stop)


def _one_membership_state(joined_col: str, joined: int, n: int) -> str:
    """The error text when the customers of a membership model are all members or all not."""
    state = (f"{_every(n)} has a {joined_col} value (joined)" if joined else
             f"{_every(n)} has no {joined_col} value (never joined)")
    return (f"column '{joined_col}': {state}, so members cannot be compared with non-members\nWhat to do: the "
            "membership effect needs customers who joined and customers who did not; check the column (and that "
            "the customers table's ids match the event log's), or skip the membership model")


# --------------------------------------------------------------------------- planted truth
def against_truth(truth: Mapping[str, Any], *, cox: CoxResult | None = None,
                  membership: MembershipEffect | None = None,
                  winback: WinbackResult | None = None) -> pd.DataFrame:
    """Planted vs estimated values on simulated data (:func:`journeylib.simulate.simulate_journeys`).

    The rows of each result's ``against_truth(truth)``, in one table: the segments'
    churn hazard ratios (``cox`` with a ``segment`` covariate), the loyalty hazard ratio
    (both models of ``membership``; the naive row is expected to miss) and the win-back
    return rate per touch channel (``winback`` by ``touch_channel`` alone). Returns
    :func:`journeylib.core.result.truth_table`: ``quantity, planted, estimate, ci_low,
    ci_high, covered`` (planted value inside the interval).

    Parameters
    ----------
    truth
        The simulator's ground truth (``load_dataset(...).ground_truth``).
    cox
        A :func:`cox` fit with a ``segment`` covariate.
    membership
        A :func:`membership_effect`.
    winback
        A :func:`journeylib.retention.winback.winback_rates` by ``touch_channel``.

    Returns
    -------
    pandas.DataFrame
        The truth table.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.retention.survival import against_truth
    >>> ds = jl.load_dataset("sample")
    >>> table = against_truth(ds.ground_truth, winback=jl.winback_rates(ds.events))
    >>> table[["quantity", "planted", "estimate", "ci_low", "ci_high", "covered"]].round(3)
                             quantity  planted  estimate  ci_low  ci_high  covered
    0     win-back return rate, email     0.12     0.089   0.061    0.128     True
    1  win-back return rate, paid_ads     0.06     0.027   0.009    0.075     True
    """
    parts = [(part, res) for part, res in (("segments", cox), ("churn", membership), ("winback", winback))
             if res is not None]
    needed = [part for part, _ in parts if part not in (truth or {})]
    if needed:
        raise JourneyParameterError(f"truth: expected a simulator's ground truth with the parts {needed}; "
                                    f"got {sorted(truth or {})}")
    rows = [tuple(r) for _, res in parts for r in res.against_truth(truth)[list(TRUTH_COLUMNS[:-1])]
            .itertuples(index=False)]
    return truth_table(rows)
