"""Competing risks: how many customers leave in each way (churn, downgrade, pause, ...).

A customer who downgrades can no longer churn from the plan they left. Treating the
other exits as censoring (one Kaplan-Meier curve per exit type) estimates the risk in a
world where the other exits could not happen, and so overstates each one. The
**cumulative incidence** of exit ``k`` by day ``t`` is the share of customers who have
left *by exit k* by then; the incidences of all exit types add up to one minus the
overall retention.

* :func:`cumulative_incidence` — the Aalen-Johansen estimator of each exit type's
  cumulative incidence, by segment, with pointwise confidence bands (the delta-method
  variance of Collett, *Modelling Survival Data in Medical Research*, 3rd ed., p. 411,
  as in lifelines' ``AalenJohansenFitter``, on the log(-log) scale). Computed from the
  counts at each distinct time, so tied times are handled exactly (lifelines jitters
  them at random); on data without ties the two agree to rounding (tested).
* :func:`compare_incidence` — whether segments differ, exit type by exit type, at stated
  horizons (see its docstring for what it tests and why not Gray's test).

Input: one row per customer with a duration (days) and an exit-type column in which
``0``, ``None``, ``NaN`` or ``""`` means censored (still a customer at the end of
observation) and any other value names the exit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..core import engine
from ..core.checks import is_number, no_event_error, warn_missing_event
from ..core.display import escape_markdown, format_interval, format_percent, format_pvalue
from ..core.errors import JourneyDataError, JourneyParameterError, data_error
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import OUTBOUND_EVENTS
from ..core.time import DAY_US, epoch_us, from_epoch_us, to_epoch_us
from ..core.time import observation_end as observation_end_of
from . import plots
from .churn import activity_expr, customer_table, require_columns
from .plots import MIN_AT_RISK

DEFAULT_HORIZONS: tuple[int, ...] = (30, 90, 180, 365)

__all__ = ["cumulative_incidence", "CumulativeIncidenceResult", "compare_incidence", "IncidenceComparison",
           "aalen_johansen", "DEFAULT_HORIZONS", "exits_from_events", "outcome_events"]


# --------------------------------------------------------------------------- helpers
def _frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    return engine.to_pandas(engine.to_table(data, table="survival data"))


def _level(confidence_level: Any) -> float:
    if isinstance(confidence_level, bool) or not is_number(confidence_level) or not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1, "
                                    "such as 0.95")
    return float(confidence_level)


def _horizons(horizons: Sequence[float]) -> tuple[float, ...]:
    hs = [horizons] if is_number(horizons) else list(horizons)
    bad = [h for h in hs if isinstance(h, bool) or not is_number(h) or h <= 0]
    if bad or not hs:
        raise JourneyParameterError(f"horizons={horizons!r}; expected days > 0 (numbers)")
    return tuple(sorted(float(h) for h in hs))


def _censored(e: pd.Series) -> np.ndarray:
    s = e.astype(object)
    na = s.isna().to_numpy()
    text = s.astype(str).str.strip().to_numpy()
    return na | np.isin(text, ("", "0", "0.0", "None", "False"))


def _columns(df: pd.DataFrame, duration_col: str, exit_col: str, by: str | Sequence[str] | None):
    cols = [by] if isinstance(by, str) else list(by or [])
    missing = [c for c in [duration_col, exit_col, *cols] if c not in df.columns]
    if missing:
        raise JourneyDataError(f"survival data: missing column(s) {missing}; found {list(df.columns)}")
    if len(df) == 0:
        raise JourneyDataError("survival data: no rows; expected at least one customer")
    d = pd.to_numeric(df[duration_col], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(d) | (d < 0)
    if bad.any():
        raise data_error(duration_col, int(bad.sum()), len(df), "a finite duration >= 0", df.loc[bad],
                         table="survival data")
    cens = _censored(df[exit_col])
    kind = np.where(cens, "", df[exit_col].astype(object).astype(str).str.strip().to_numpy())
    if cols:
        parts = [df[c].astype("string").fillna("(missing)") for c in cols]
        key = parts[0]
        for p in parts[1:]:
            key = key + " / " + p
        key = key.to_numpy(dtype=object)
    else:
        key = np.full(len(df), "all", dtype=object)
    return tuple(cols), d, kind, key


def aalen_johansen(durations: np.ndarray, exits: np.ndarray, exit_type: str,
                   confidence_level: float = 0.95) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of one exit type, from counts at each distinct time.

    ``exits`` holds each customer's exit type (``""`` = censored). Returns one row per
    distinct time (a row at day 0 first): ``days, at_risk, exits`` (of this type),
    ``all_exits``, ``survival`` (Kaplan-Meier of any exit, just after ``days``),
    ``cumulative_incidence``, ``variance`` and the band ``ci_low, ci_high`` (delta method on
    log(-log), lifelines' and Collett's formula; NaN where everyone left at once).

    Parameters
    ----------
    durations
        Days from the start to the exit or to the end of observation, one per customer.
    exits
        Exit type per customer (``""`` = censored).
    exit_type
        The exit type whose incidence is computed.
    confidence_level
        Level of the pointwise band.

    Returns
    -------
    pandas.DataFrame
        One row per distinct time, columns as above.

    Examples
    --------
    >>> import journeylib as jl
    >>> exits = jl.simulate_exits(2000, seed=1).table
    >>> from journeylib.retention.competing import aalen_johansen
    >>> curve = aalen_johansen(exits.duration.to_numpy(), exits.exit_type.fillna("").to_numpy(), "churn")
    >>> curve[["days", "at_risk", "exits", "cumulative_incidence"]].head(3).round(4)
         days  at_risk  exits  cumulative_incidence
    0  0.0000   2000.0    0.0                0.0000
    1  0.0300   2000.0    0.0                0.0000
    2  0.2039   1999.0    1.0                0.0005
    """
    d = np.asarray(durations, float)
    ex = np.asarray(exits, dtype=object)
    times, inv = np.unique(d, return_inverse=True)
    removed = np.bincount(inv, minlength=len(times)).astype(float)
    any_exit = np.bincount(inv, weights=(ex != "").astype(float), minlength=len(times))
    this = np.bincount(inv, weights=(ex == exit_type).astype(float), minlength=len(times))
    at_risk = removed[::-1].cumsum()[::-1]
    if times[0] > 0:  # a starting row at day 0 (nobody has left yet)
        times, removed, any_exit, this, at_risk = (np.r_[0.0, times], np.r_[0.0, removed], np.r_[0.0, any_exit],
                                                   np.r_[0.0, this], np.r_[at_risk[0], at_risk])
    surv = np.cumprod(1 - any_exit / at_risk)
    lag = np.r_[1.0, surv[:-1]]
    F = np.cumsum(lag * this / at_risk)
    # Var F(t) = sum_i (F(t) - F_i)^2 a_i + sum_i c_i - 2 sum_i (F(t) - F_i) b_i, over times t_i <= t
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(any_exit > 0, any_exit / (at_risk * (at_risk - any_exit)), 0.0)
    b = lag * this / at_risk ** 2
    c = lag ** 2 * this * (at_risk - this) / at_risk ** 3
    A0, A1, A2 = np.cumsum(a), np.cumsum(a * F), np.cumsum(a * F ** 2)
    B0, B1 = np.cumsum(b), np.cumsum(b * F)
    with np.errstate(invalid="ignore"):
        var = F ** 2 * A0 - 2 * F * A1 + A2 + np.cumsum(c) - 2 * (F * B0 - B1)
    var = np.where(np.isfinite(var), np.clip(var, 0, None), np.nan)
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.log(-np.log(F))
        se = np.sqrt(var) / (F * np.abs(np.log(F)))
        lo, hi = np.exp(-np.exp(ll + z * se)), np.exp(-np.exp(ll - z * se))
    zero = F <= 0
    lo, hi = np.where(zero, 0.0, lo), np.where(zero, 0.0, hi)
    return pd.DataFrame({"days": times, "at_risk": at_risk, "exits": this, "all_exits": any_exit, "survival": surv,
                         "cumulative_incidence": F, "variance": var, "ci_low": lo, "ci_high": hi})


def _km_ignoring_others(d: np.ndarray, ex: np.ndarray, exit_type: str, t: float) -> float:
    """1 - Kaplan-Meier with the other exits counted as censored (the naive, overstated risk)."""
    times, inv = np.unique(d, return_inverse=True)
    removed = np.bincount(inv, minlength=len(times)).astype(float)
    this = np.bincount(inv, weights=(ex == exit_type).astype(float), minlength=len(times))
    at_risk = removed[::-1].cumsum()[::-1]
    s = np.cumprod(1 - this / at_risk)
    i = np.searchsorted(times, t, side="right") - 1
    return float(1 - s[i]) if i >= 0 else 0.0


def _at(curve: pd.DataFrame, t: float) -> dict:
    """The curve's values at day ``t`` (step function); NaN beyond the last follow-up."""
    days = curve["days"].to_numpy()
    keys = [k for k in ("cumulative_incidence", "ci_low", "ci_high", "variance") if k in curve.columns]
    if t > days.max():
        return {k: np.nan for k in keys}
    r = curve.iloc[np.searchsorted(days, t, side="right") - 1]
    return {k: float(r[k]) for k in keys}


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.1 or x == 0 else f"{x:.1%}"


# --------------------------------------------------------------------------- cumulative incidence
@dataclass(frozen=True, repr=False)
class CumulativeIncidenceResult(Result):
    """Cumulative incidence of each exit type per group (Aalen-Johansen), with bands.

    ``curves``: ``group, exit_type, days, at_risk, exits, cumulative_incidence, ci_low,
    ci_high`` (the whole step functions). ``summary``: one row per group, exit type and
    horizon: ``group, exit_type, horizon_days, at_risk, cumulative_incidence, ci_low,
    ci_high, ignoring_other_exits`` (1 - Kaplan-Meier counting the other exits as
    censored: what the usual survival curve would claim). Horizons where fewer than
    ``min_at_risk`` customers are still followed are blanked (NaN) in ``summary``.

    Examples
    --------
    >>> import journeylib as jl
    >>> exits = jl.simulate_exits(2000, seed=1).table
    >>> result = jl.cumulative_incidence(exits, by="segment", horizons=(90,))
    >>> print(result.findings[0].text)
    Within 90 days, 24% of customers in standard left by churn (22% to 27%).
    """

    curves: pd.DataFrame = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    counts: pd.DataFrame = field(repr=False)
    by: tuple[str, ...]
    exit_types: tuple[str, ...]
    horizons: tuple[float, ...]
    confidence_level: float
    min_at_risk: int = MIN_AT_RISK

    @property
    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def display_table(self) -> pd.DataFrame:
        """The summary for people: per exit type, group and horizon, the share gone with its interval
        in percent, the customers still followed, and what one-exit survival curves would claim.

        Examples
        --------
        >>> import journeylib as jl
        >>> exits = jl.simulate_exits(2000, seed=1).table
        >>> print(jl.cumulative_incidence(exits, by="segment", horizons=(90,)).display_table().iloc[0].to_string())
        exit type                                           churn
        group                                             premium
        within days                                            90
        customers still followed                              651
        share gone this way                13.2% (11.1% to 15.4%)
        if the other exits were ignored                     14.8%
        """
        t = self.table.sort_values(["exit_type", "group", "horizon_days"], kind="stable")
        ci = [f"{format_percent(v)} ({format_interval(lo, hi)})" if np.isfinite(v) else format_percent(v)
              for v, lo, hi in zip(t["cumulative_incidence"], t["ci_low"], t["ci_high"])]
        return pd.DataFrame({
            "exit type": t["exit_type"],
            "group": t["group"],
            "within days": [f"{h:g}" for h in t["horizon_days"]],
            "customers still followed": t["at_risk"],
            "share gone this way": ci,
            "if the other exits were ignored": [format_percent(v) for v in t["ignoring_other_exits"]],
        }).reset_index(drop=True)

    def incidence(self, exit_type: str, t: float, group: str | None = None) -> tuple[float, float, float]:
        """``(cumulative incidence, ci_low, ci_high)`` of ``exit_type`` by day ``t`` in ``group``."""
        groups = list(self.counts.index)
        if group is None:
            if len(groups) != 1:
                raise JourneyParameterError(f"group=None but there are {len(groups)} groups: {groups}")
            group = groups[0]
        if group not in groups or exit_type not in self.exit_types:
            raise JourneyParameterError(f"group={group!r}, exit_type={exit_type!r}; expected one of {groups} "
                                        f"and one of {list(self.exit_types)}")
        c = self.curves[(self.curves["group"] == group) & (self.curves["exit_type"] == exit_type)]
        v = _at(c, float(t))
        return v["cumulative_incidence"], v["ci_low"], v["ci_high"]

    def _last_horizon(self, group: str) -> float | None:
        s = self.table[(self.table["group"] == group) & self.table["cumulative_incidence"].notna()]
        return float(s["horizon_days"].max()) if len(s) else None

    @property
    def reading(self) -> str:
        """One markdown bullet per group: the share gone by each exit type at the last reliable horizon
        (group and exit names escaped)."""
        esc = escape_markdown
        lines = []
        for g in self.counts.index:
            h = self._last_horizon(g)
            if h is None:
                lines.append(f"- **{esc(g)}**: too few customers followed long enough to say.")
                continue
            s = self.table[(self.table["group"] == g) & (self.table["horizon_days"] == h)]
            parts = ", ".join(f"{_pct(r.cumulative_incidence)} {esc(r.exit_type)}" for r in s.itertuples())
            lines.append(f"- **{esc(g)}** ({int(self.counts.loc[g, 'customers']):,} customers): within {h:g} days "
                         f"{parts}.")
        return "\n".join(lines)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Per group (the four largest): the share gone by each exit type at the last horizon with enough
        customers at risk, and how much counting the other exits as censored would overstate the largest."""
        out = []
        groups = self.counts.sort_values("customers", ascending=False, kind="stable").index[:4]
        for g in groups:
            h = self._last_horizon(g)
            if h is None:
                continue
            s = self.table[(self.table["group"] == g) & (self.table["horizon_days"] == h)]
            who = "customers" if not self.by else f"customers in {g}"
            for r in s.sort_values("cumulative_incidence", ascending=False, kind="stable").itertuples():
                out.append(Finding(f"Within {h:g} days, {_pct(r.cumulative_incidence)} of {who} left by "
                                   f"{r.exit_type} ({_pct(r.ci_low)} to {_pct(r.ci_high)}).",
                                   float(r.cumulative_incidence), float(r.ci_low), float(r.ci_high)))
            if len(out) >= 4:
                break
        top = self.table.dropna(subset=["cumulative_incidence"])
        if len(self.exit_types) > 1 and len(top):
            r = top.sort_values(["horizon_days", "cumulative_incidence"], ascending=False, kind="stable").iloc[0]
            if r["ignoring_other_exits"] > r["cumulative_incidence"] * 1.02:
                out = out[:3]
                out.append(Finding(
                    f"Counting the other exits as if those customers were still at risk would put {r['exit_type']} "
                    f"at {_pct(r['ignoring_other_exits'])} instead of {_pct(r['cumulative_incidence'])} within "
                    f"{r['horizon_days']:g} days" + (f" in {r['group']}" if self.by else "") + ".",
                    float(r["ignoring_other_exits"]),
                    action="Plan retention budgets on the cumulative incidence, not on one-exit survival curves."))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        """Warns when a horizon has fewer than ``min_at_risk`` customers still followed (blanked)."""
        thin = self.table[self.table["at_risk"] < self.min_at_risk][["group", "horizon_days"]].drop_duplicates()
        detail = (f"{len(thin)} group/horizon cell(s) with fewer than {self.min_at_risk} customers still followed "
                  "are left blank" if len(thin) else
                  f"every horizon has at least {self.min_at_risk} customers still followed in every group")
        types = Check("competing risks: exit types", "pass" if len(self.exit_types) >= 1 else "warn",
                      f"exit types: {', '.join(self.exit_types) or 'none observed'}")
        return (types, Check("competing risks: customers at risk at each horizon", "warn" if len(thin) else "pass",
                             detail))

    def plot(self, ax=None, *, ci: bool = True):
        """Cumulative incidence curves per exit type (and group) with bands, stopped at the at-risk threshold."""
        return plots.plot_cumulative_incidence(self, ax=ax, ci=ci)

    def against_truth(self, truth: Mapping[str, Any]) -> pd.DataFrame:
        """Planted vs estimated cumulative incidence at each horizon (:func:`journeylib.simulate.journeys.simulate_exits`).

        The planted value is the closed form for competing exponential exits,
        ``lambda_k / Lambda * (1 - exp(-Lambda t))``, per segment; the group ``all``
        is the segments' mixture.
        """
        ex = (truth or {}).get("exits")
        if not ex:
            raise JourneyParameterError(f"truth: expected a simulator's ground truth with the parts ['exits']; "
                                        f"got {sorted(truth or {})}")
        rows = []
        for r in self.table.dropna(subset=["cumulative_incidence"]).itertuples():
            planted = planted_incidence(ex, r.exit_type, r.horizon_days, None if r.group == "all" else r.group)
            rows.append((f"{r.exit_type} by day {r.horizon_days:g} ({r.group})", planted,
                         float(r.cumulative_incidence), float(r.ci_low), float(r.ci_high)))
        return truth_table(rows)

    def _float_format(self) -> str:
        return "{:.3f}"


def planted_incidence(exits_truth: Mapping[str, Any], exit_type: str, t: float, segment: str | None = None) -> float:
    """Closed-form cumulative incidence of competing exponential exits (the simulator's truth).

    Parameters
    ----------
    exits_truth
        ``ground_truth["exits"]`` of :func:`journeylib.simulate.simulate_exits`
        (``hazards`` per segment and exit type, ``segment_share``).
    exit_type
        The exit type.
    t
        Days.
    segment
        One segment, or ``None`` for the mixture of all segments by their shares.

    Returns
    -------
    float
        ``lambda_k / Lambda * (1 - exp(-Lambda * t))`` (averaged over segments without ``segment``).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.retention.competing import planted_incidence
    >>> truth = jl.simulate_exits(2000, seed=1).ground_truth["exits"]
    >>> round(planted_incidence(truth, "churn", 90, "premium"), 4)
    0.1251
    """
    hz = exits_truth["hazards"]
    share = exits_truth.get("segment_share") or {g: 1 / len(hz) for g in hz}
    segs = [segment] if segment is not None else list(hz)
    total = 0.0
    for g in segs:
        lam = sum(hz[g].values())
        f = hz[g].get(exit_type, 0.0) / lam * (1 - np.exp(-lam * t)) if lam > 0 else 0.0
        total += f if segment is not None else share[g] * f
    return float(total)


def cumulative_incidence(
    data: Any,
    *,
    duration_col: str = "duration",
    exit_col: str = "exit_type",
    by: str | Sequence[str] | None = None,
    horizons: Sequence[float] = DEFAULT_HORIZONS,
    confidence_level: float = 0.95,
    min_at_risk: int = MIN_AT_RISK,
) -> CumulativeIncidenceResult:
    """Cumulative incidence of each exit type (Aalen-Johansen), overall or per group.

    Parameters
    ----------
    data
        One row per customer with ``duration_col`` (days from the start to the exit or
        to the end of observation) and ``exit_col`` (the exit's name; ``0``, ``None``,
        ``NaN`` or ``""`` = censored, still a customer).
    duration_col, exit_col
        The duration (days) and exit-type columns.
    by
        Column(s) to split on (e.g. ``"segment"``); missing values form a group.
    horizons
        Days at which ``summary`` reports the incidences.
    confidence_level
        Level of the pointwise bands (default 0.95).
    min_at_risk
        Horizons (and plotted curves) stop where fewer customers than this are still
        followed: the estimate there rests on too few people (default 30).

    Returns
    -------
    CumulativeIncidenceResult
        Incidence per group, exit type and horizon with bands (``summary``), and the
        whole curves (``curves``).

    Examples
    --------
    >>> import journeylib as jl
    >>> exits = jl.simulate_exits(2000, seed=1).table
    >>> result = jl.cumulative_incidence(exits, by="segment", horizons=(90,))
    >>> result.summary[["group", "exit_type", "cumulative_incidence", "ci_low", "ci_high"]].round(3)
          group  exit_type  cumulative_incidence  ci_low  ci_high
    0   premium      churn                 0.132   0.111    0.154
    1   premium  downgrade                 0.186   0.162    0.211
    2  standard      churn                 0.241   0.215    0.267
    3  standard  downgrade                 0.104   0.087    0.124
    """
    confidence_level = _level(confidence_level)
    hs = _horizons(horizons)
    df = _frame(data)
    by_cols, d, kind, key = _columns(df, duration_col, exit_col, by)
    exit_types = tuple(sorted({k for k in kind if k}))
    if not exit_types:
        raise JourneyDataError(f"column '{exit_col}': no exit observed (every customer censored); expected at least "
                               "one exit type")
    curves, rows, counts = [], [], []
    for g in sorted(pd.unique(key), key=str):
        m = key == g
        counts.append({"group": g, "customers": int(m.sum()), "exits": int((kind[m] != "").sum())})
        for k in exit_types:
            c = aalen_johansen(d[m], kind[m], k, confidence_level)
            curves.append(c.drop(columns=["variance", "survival", "all_exits"]).assign(group=g, exit_type=k))
            for h in hs:
                v = _at(c, h)
                at_risk = int((d[m] >= h).sum())
                thin = at_risk < min_at_risk
                rows.append({"group": g, "exit_type": k, "horizon_days": h, "at_risk": at_risk,
                             **{c_: (np.nan if thin else v[c_]) for c_ in ("cumulative_incidence", "ci_low", "ci_high")},
                             "ignoring_other_exits": np.nan if thin else _km_ignoring_others(d[m], kind[m], k, h)})
    curves_df = pd.concat(curves, ignore_index=True)[["group", "exit_type", "days", "at_risk", "exits",
                                                      "cumulative_incidence", "ci_low", "ci_high"]]
    return CumulativeIncidenceResult(curves_df, pd.DataFrame(rows), pd.DataFrame(counts).set_index("group"),
                                     by_cols, exit_types, hs, confidence_level, int(min_at_risk))


# --------------------------------------------------------------------------- exits from outcome events
def outcome_events(outcomes: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Validate an ``{exit type: event name(s)}`` mapping; returns ``{exit type: (event, ...)}``.

    Each exit type is a name that does not mean "censored" (not ``0``, ``None``, empty) and
    each event name belongs to one exit type only.

    Parameters
    ----------
    outcomes
        ``{exit type: event name or list of names}``, e.g. ``{"churn": "cancel_subscription",
        "downgrade": ["plan_downgrade", "tier_down"]}`` (the ``outcomes`` key of ``journey.yml``).

    Returns
    -------
    dict
        ``{exit type: tuple of event names}``.

    Raises
    ------
    JourneyParameterError
        When the mapping is empty, an exit type means "censored" or an event is named twice.

    Examples
    --------
    >>> from journeylib.retention.competing import outcome_events
    >>> outcome_events({"churn": "cancel_subscription", "downgrade": ["plan_downgrade"]})
    {'churn': ('cancel_subscription',), 'downgrade': ('plan_downgrade',)}
    """
    if not isinstance(outcomes, Mapping) or not outcomes:
        raise JourneyParameterError(f"outcomes={outcomes!r}; expected a mapping from exit type to event name(s), "
                                    "e.g. {'churn': 'cancel_subscription', 'downgrade': 'plan_downgrade'}")
    out: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for kind, names in outcomes.items():
        k = str(kind).strip()
        if _censored(pd.Series([kind])).item():
            raise JourneyParameterError(f"outcomes: exit type {kind!r} reads as 'censored'; expected a name such "
                                        "as churn, downgrade or pause")
        items = [names] if isinstance(names, str) else list(names) if isinstance(names, (list, tuple)) else None
        if not items or any(not isinstance(n, str) or not n.strip() for n in items):
            raise JourneyParameterError(f"outcomes[{k!r}]={names!r}; expected an event name or a list of event "
                                        "names")
        for n in items:
            if n.strip() in owner and owner[n.strip()] != k:
                raise JourneyParameterError(f"outcomes: event {n!r} is named for both {owner[n.strip()]!r} and "
                                            f"{k!r}; expected each event in one exit type")
            owner[n.strip()] = k
        out[k] = tuple(dict.fromkeys(n.strip() for n in items))
    return out


def exits_from_events(
    events: Any,
    outcomes: Mapping[str, Any],
    customers: Any = None,
    *,
    start_event: str | None = None,
    observation_end: Any = None,
    exclude_events: Sequence[str] = OUTBOUND_EVENTS,
) -> pd.DataFrame:
    """The competing-risks table from an event log: time from the start to the first outcome event.

    Each customer's clock starts at their first activity (every event but our own outbound
    touches, ``exclude_events``), or with ``start_event`` at their first such event
    (customers without one are left out). The exit is the **first outcome event** at or
    after the start and no later than the observation end: its time gives ``duration``
    (days) and its exit type ``exit_type``. A customer with no outcome event is censored
    at the observation end (``exit_type`` None, ``duration`` = end - start). Two outcome
    events at the same instant: the exit type first in alphabetical order wins.

    The table feeds :func:`cumulative_incidence` and :func:`compare_incidence` as is.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id``, ``ts``, ``event``.
        An event matches an outcome by ``event`` or, when the journey definition renamed it,
        by ``source_event``.
    outcomes
        ``{exit type: event name(s)}`` (a journey's ``outcomes``: ``Journey.outcomes``).
    customers
        Optional customer attributes joined on ``customer_id`` (segments to split by).
    start_event
        Event that starts each customer's clock (``None``: first activity).
    observation_end
        End of observation (default: the last timestamp of the log).
    exclude_events
        Events that are not customer activity (they start no clock).

    Returns
    -------
    pandas.DataFrame
        One row per customer: ``customer_id, start, duration, exit_type`` (+ the customers
        columns); ``attrs["observation_end"]`` and ``attrs["outcomes"]`` record the settings.

    Raises
    ------
    JourneyDataError
        When the log lacks a column or no customer has ``start_event``.

    Warns
    -----
    JourneyDataWarning
        For each outcome event that never occurs in the log (naming the log's events).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.retention.competing import exits_from_events
    >>> ev = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],
    ...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-11", "2025-01-01", "2025-01-02",
    ...                                          "2025-01-05"], utc=True),
    ...                    "event": ["signup", "cancel", "signup", "signup", "downgrade"]})
    >>> exits_from_events(ev, {"churn": "cancel", "downgrade": "downgrade"})[["customer_id", "duration",
    ...                                                                        "exit_type"]]
      customer_id  duration  exit_type
    0           a      10.0      churn
    1           b      10.0       None
    2           c       3.0  downgrade
    """
    kinds = outcome_events(outcomes)
    ev = engine.to_table(events)
    require_columns(ev, ("customer_id", "ts", "event"), "events")
    end = observation_end_of(ev, observation_end)
    end_us = to_epoch_us(end)
    for kind, names in kinds.items():
        for n in names:
            has = ev.event == n
            if "source_event" in ev.columns:
                has = has | (ev.source_event == n)
            if not engine.to_pandas(ev.aggregate(n=has.cast("int64").sum()))["n"].fillna(0).iloc[0]:
                warn_missing_event(ev, n, "outcomes", f"no customer leaves by {kind} in these data")
    a = activity_expr(ev, exclude_events, start_event, end_us)
    starts = engine.to_pandas(a.group_by("customer_id").aggregate(start=(a.start if start_event else a.t).min()))
    if starts.empty:
        if start_event:
            raise no_event_error(ev, start_event, "start_event",
                                 f"start_event={start_event!r}: no customer has that event before the observation "
                                 "end, so no clock starts")
        raise JourneyDataError("events: no customer activity before the observation end; expected at least one event")
    names = [n for ns in kinds.values() for n in ns]
    o = ev.select("customer_id", "event", *(["source_event"] if "source_event" in ev.columns else []), t=epoch_us(ev))
    hit = o.event.isin(names)
    if "source_event" in o.columns:
        hit = hit | o.source_event.isin(names)
        o = o.mutate(event=hit.ifelse(o.event.isin(names).ifelse(o.event, o.source_event), o.event))
    o = o.filter(hit & (o.t <= end_us))
    first = engine.to_pandas(o.group_by(["customer_id", "event"]).aggregate(t=o.t.min()))
    owner = {n: k for k, ns in kinds.items() for n in ns}
    first = first.assign(exit_type=first["event"].map(owner)).merge(starts, on="customer_id")
    first = first[first["t"] >= first["start"]]
    first = first.sort_values(["customer_id", "t", "exit_type"], kind="stable").drop_duplicates("customer_id")
    df = starts.merge(first[["customer_id", "t", "exit_type"]], on="customer_id", how="left")
    stop = df["t"].fillna(end_us).to_numpy(float)
    df["duration"] = (stop - df["start"].to_numpy(float)) / DAY_US
    df["exit_type"] = df["exit_type"].astype(object).where(df["exit_type"].notna(), None)
    df["start"] = from_epoch_us(df["start"])
    df = df[["customer_id", "start", "duration", "exit_type"]].sort_values("customer_id", kind="stable")
    df = df.reset_index(drop=True)
    if customers is not None:
        cu = engine.to_pandas(customer_table(customers))
        df = df.merge(cu.drop(columns=[c for c in cu.columns if c in df.columns and c != "customer_id"]),
                      on="customer_id", how="left")
    df.attrs.update(observation_end=end, outcomes=kinds, start_event=start_event)
    return df


# --------------------------------------------------------------------------- comparison between groups
@dataclass(frozen=True, repr=False)
class IncidenceComparison(Result):
    """Do groups differ in how many leave by each exit type? Tested at stated horizons.

    ``summary``: one row per exit type, horizon and non-reference group: ``exit_type,
    horizon_days, group, reference, cumulative_incidence, reference_incidence, difference,
    ci_low, ci_high`` (the difference's interval), and for the exit type and horizon:
    ``statistic`` (Wald chi-squared of equal incidence across all groups), ``df``,
    ``pvalue`` and ``pvalue_holm`` (Holm-adjusted over every exit type and horizon).
    ``statistic`` / ``pvalue`` of the result: the cell with the smallest Holm-adjusted
    p-value, so ``pvalue`` is a valid test of "no difference at any of these horizons".

    Examples
    --------
    >>> import journeylib as jl
    >>> exits = jl.simulate_exits(2000, seed=1).table
    >>> result = jl.compare_incidence(exits, "segment", horizons=(90,))
    >>> print(result.findings[0].text)
    How customers leave differs between the groups (p < 0.001, adjusted for the number of comparisons).
    """

    table: pd.DataFrame = field(repr=False)
    by: tuple[str, ...]
    reference: str
    horizons: tuple[float, ...]
    confidence_level: float
    statistic: float
    pvalue: float
    df: int
    headline: tuple[str, float] = ("", float("nan"))

    @property
    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` of the headline difference (two groups only: group minus reference)."""
        confidence_level = _level(confidence_level)
        rows = self.table[(self.table["exit_type"] == self.headline[0])
                          & (self.table["horizon_days"] == self.headline[1])]
        if len(rows) != 1:
            raise JourneyParameterError(f"{len(rows) + 1} groups: no single headline difference; read the "
                                        "per-group intervals in summary (ci_low, ci_high)")
        r = rows.iloc[0]
        z = stats.norm.ppf(0.5 + confidence_level / 2)
        return float(r["difference"] - z * r["se"]), float(r["difference"] + z * r["se"])

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Whether the groups differ at all (the Holm-adjusted p-value), then the largest clear differences."""
        p = format_pvalue(self.pvalue)
        if not np.isfinite(self.pvalue):
            return (Finding("No horizon has enough customers followed in every group to compare."),)
        if self.pvalue >= 0.05:
            return (Finding(f"The groups' exits cannot be told apart at {', '.join(f'{h:g}' for h in self.horizons)} "
                            f"days ({p}, adjusted for the number of comparisons).", float(self.pvalue),
                            action="Do not target retention by this split on these data."),)
        out = [Finding(f"How customers leave differs between the groups ({p}, adjusted for the number of "
                       "comparisons).", float(self.pvalue))]
        clear = self.table[self.table["pvalue_holm"] < 0.05]
        clear = clear.assign(_a=clear["difference"].abs()).sort_values("_a", ascending=False, kind="stable")
        for r in clear.drop_duplicates(["exit_type", "group"]).head(3).itertuples():
            word = "more" if r.difference > 0 else "fewer"
            out.append(Finding(f"Within {r.horizon_days:g} days, {abs(r.difference) * 100:.1f} points {word} "
                               f"customers in {r.group} than in {r.reference} left by {r.exit_type} "
                               f"({_pct(r.cumulative_incidence)} vs {_pct(r.reference_incidence)}; difference "
                               f"{r.ci_low * 100:+.1f} to {r.ci_high * 100:+.1f} points).", float(r.difference),
                               float(r.ci_low), float(r.ci_high),
                               action=f"Aim {r.exit_type} prevention at {r.group if r.difference > 0 else r.reference} "
                                      "first."))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        n = self.table[["exit_type", "horizon_days"]].drop_duplicates().shape[0]
        return (Check("competing risks: horizons compared", "pass" if n else "warn",
                      f"{n} exit type x horizon cells with enough customers in every group"),)

    def display_table(self) -> pd.DataFrame:
        """The summary for people: shares gone in percent, the difference in points with its
        interval and the corrected p-value; clear differences first.

        Examples
        --------
        >>> import journeylib as jl
        >>> exits = jl.simulate_exits(2000, seed=1).table
        >>> jl.compare_incidence(exits, "segment", horizons=(90,)).display_table().columns.tolist()
        ['exit type', 'within days', 'group', 'compared with', 'share gone', 'share gone (compared)', 'difference', 'interval', 'p (corrected)', 'clear difference']
        """
        t = self.table.assign(_o=~(self.table["pvalue_holm"] < 0.05)).sort_values(["_o", "exit_type"], kind="stable")
        return pd.DataFrame({
            "exit type": t["exit_type"],
            "within days": [f"{h:g}" for h in t["horizon_days"]],
            "group": t["group"],
            "compared with": t["reference"],
            "share gone": [_pct(v) for v in t["cumulative_incidence"]],
            "share gone (compared)": [_pct(v) for v in t["reference_incidence"]],
            "difference": [f"{d * 100:+.1f} points" for d in t["difference"]],
            "interval": [f"{lo * 100:+.1f} to {hi * 100:+.1f}" for lo, hi in zip(t["ci_low"], t["ci_high"])],
            "p (corrected)": [format_pvalue(p, prefix=False) for p in t["pvalue_holm"]],
            "clear difference": np.where(t["pvalue_holm"] < 0.05, "yes", ""),
        }).reset_index(drop=True)

    def plot(self, ax=None):
        """Differences in cumulative incidence (group minus reference) with their intervals."""
        return plots.plot_incidence_comparison(self, ax=ax)

    def _float_format(self) -> str:
        return "{:.4g}"


def compare_incidence(
    data: Any,
    by: str | Sequence[str],
    *,
    duration_col: str = "duration",
    exit_col: str = "exit_type",
    horizons: Sequence[float] = (90, 180, 365),
    reference: str | None = None,
    confidence_level: float = 0.95,
    min_at_risk: int = MIN_AT_RISK,
) -> IncidenceComparison:
    """Test whether groups differ in the cumulative incidence of each exit type at ``horizons``.

    What it tests: for each exit type and each horizon ``t``, the null hypothesis that
    every group has the same cumulative incidence ``F_k(t)``. The groups are disjoint
    samples, so their Aalen-Johansen estimates are independent; with the delta-method
    variances ``V_g`` the Wald statistic ``sum_g (F_g - F_bar)^2 / V_g`` (``F_bar`` the
    inverse-variance weighted mean) is chi-squared with ``groups - 1`` degrees of freedom
    (two groups: the squared z of the difference). P-values are Holm-adjusted over all
    exit types and horizons; the result's ``pvalue`` is the smallest adjusted one.
    Differences (group minus ``reference``) get normal intervals on the raw scale.

    Why not Gray's test or a Fine-Gray model: neither lifelines nor statsmodels provides
    them. Gray's test compares whole subdistribution-hazard curves; this test compares the
    incidences at the horizons a marketer plans for (Klein, Logan, Harhoff & Andersen
    2007, "Analyzing survival curves at a fixed point in time", Statistics in Medicine 26),
    which is what a retention budget needs and makes no proportional-hazards assumption.
    A cause-specific Cox model (lifelines ``CoxPHFitter`` with the other exits censored,
    :func:`journeylib.retention.survival.cox`) answers a different question: the rate of
    exit ``k`` among those still there, not how many end up leaving that way.

    Horizons where a group has fewer than ``min_at_risk`` customers still followed are
    left out.

    Parameters
    ----------
    data
        One row per customer with ``duration_col`` and ``exit_col`` (as in :func:`cumulative_incidence`).
    by
        Column(s) whose groups are compared.
    duration_col, exit_col
        The duration (days) and exit-type columns.
    horizons
        Days at which the incidences are compared.
    reference
        The group differences are taken against (default: the largest).
    confidence_level
        Level of the differences' intervals.
    min_at_risk
        Fewest customers still followed for a horizon to be tested.

    Returns
    -------
    IncidenceComparison
        Differences with intervals and Holm-adjusted p-values per exit type and horizon.

    Examples
    --------
    >>> import journeylib as jl
    >>> exits = jl.simulate_exits(2000, seed=1).table
    >>> result = jl.compare_incidence(exits, "segment", horizons=(90,))
    >>> result.summary[["exit_type", "group", "reference", "difference", "ci_low", "ci_high"]].round(3)
       exit_type     group reference  difference  ci_low  ci_high
    0      churn  standard   premium       0.109   0.075    0.143
    1  downgrade  standard   premium      -0.081  -0.112   -0.050
    """
    confidence_level = _level(confidence_level)
    cols = [by] if isinstance(by, str) else list(by or [])
    if not cols:
        raise JourneyParameterError("by is empty; expected the column(s) defining the groups to compare")
    hs = _horizons(horizons)
    df = _frame(data)
    by_cols, d, kind, key = _columns(df, duration_col, exit_col, cols)
    groups = sorted(pd.unique(key), key=str)
    if len(groups) < 2:
        raise JourneyDataError(f"column(s) {cols}: only one group ({groups}); expected at least two to compare")
    if reference is None:
        reference = groups[0]
    if reference not in groups:
        raise JourneyParameterError(f"reference={reference!r}; expected one of {groups}")
    exit_types = tuple(sorted({k for k in kind if k}))
    if not exit_types:
        raise JourneyDataError(f"column '{exit_col}': no exit observed; expected at least one exit type")
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    cells, rows = [], []
    for k in exit_types:
        curves = {g: aalen_johansen(d[key == g], kind[key == g], k, confidence_level) for g in groups}
        for h in hs:
            if any(int((d[key == g] >= h).sum()) < min_at_risk for g in groups):
                continue
            v = {g: _at(curves[g], h) for g in groups}
            F = np.array([v[g]["cumulative_incidence"] for g in groups])
            V = np.array([v[g]["variance"] for g in groups])
            ok = np.isfinite(V) & (V > 0)
            if ok.sum() < 2:
                continue
            w = 1 / V[ok]
            fbar = (w * F[ok]).sum() / w.sum()
            stat = float((w * (F[ok] - fbar) ** 2).sum())
            dof = int(ok.sum() - 1)
            cells.append((k, h, stat, dof, float(stats.chi2.sf(stat, dof))))
            fr, vr = v[reference]["cumulative_incidence"], v[reference]["variance"]
            for g in groups:
                if g == reference:
                    continue
                diff = v[g]["cumulative_incidence"] - fr
                se = float(np.sqrt(v[g]["variance"] + vr))
                rows.append({"exit_type": k, "horizon_days": h, "group": g, "reference": reference,
                             "cumulative_incidence": v[g]["cumulative_incidence"], "reference_incidence": fr,
                             "difference": diff, "se": se, "ci_low": diff - z * se, "ci_high": diff + z * se})
    table = pd.DataFrame(rows, columns=["exit_type", "horizon_days", "group", "reference", "cumulative_incidence",
                                        "reference_incidence", "difference", "se", "ci_low", "ci_high"])
    cell = pd.DataFrame(cells, columns=["exit_type", "horizon_days", "statistic", "df", "pvalue"])
    if len(cell):
        cell["pvalue_holm"] = _holm(cell["pvalue"].to_numpy())
        best = cell.sort_values(["pvalue_holm", "pvalue"], kind="stable").iloc[0]
        stat, p, dof = float(best["statistic"]), float(best["pvalue_holm"]), int(best["df"])
        headline = (str(best["exit_type"]), float(best["horizon_days"]))
    else:
        cell["pvalue_holm"] = pd.Series(dtype=float)
        stat, p, dof, headline = float("nan"), float("nan"), len(groups) - 1, ("", float("nan"))
    table = table.merge(cell, on=["exit_type", "horizon_days"], how="left")
    return IncidenceComparison(table, by_cols, str(reference), hs, confidence_level, stat, p, dof, headline)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out
