"""Win-back targeting: whom to win back now, and whether a win-back campaign worked.

:func:`winback_targets` lists the customers inactive beyond the churn threshold (the one
churn rule, :func:`journeylib.retention.churn.churn_labels`, silence at the end of the log),
with their probability of still being a customer (P(alive), BG/NBD) and their expected value
(BG/NBD purchases times the Gamma-Gamma spend, discounted: :func:`journeylib.loyalty.clv.customer_lifetime_value`),
ranked by value at stake. :meth:`WinbackTargets.to_csv` exports the list with pseudonymised ids
unless ``show_ids``.

:func:`winback_reactivation` reads a win-back campaign run as an experiment: the reactivation
rate of the targeted customers against a holdout, with a two-proportion z-test (never a
before/after comparison).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..core import engine, privacy
from ..core import time as core_time
from ..core.display import (format_count, format_interval, format_number, format_percent, format_pvalue,
                            spreadsheet_safe)
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.intervals import wilson_interval
from ..core.result import Check, Finding, Result
from ..core.schema import OUTBOUND_EVENTS, PURCHASE_EVENT
from ..experiments.statistics import two_proportion_test
from .churn import churn_expr, require_columns

__all__ = ["WinbackTargets", "ReactivationResult", "winback_targets", "winback_reactivation"]

VARIANT_COLUMNS = ("variant", "customers", "reactivated", "rate", "difference", "ci_low", "ci_high", "statistic",
                   "pvalue")
"""Columns of :attr:`ReactivationResult.by_variant`."""
TARGET_COLUMNS = ("rank", "customer_id", "last_active", "days_inactive", "p_alive", "expected_purchases",
                  "expected_spend", "value_at_stake")


@dataclass(frozen=True)
class WinbackTargets(Result):
    """The win-back list (see :func:`winback_targets`).

    Attributes
    ----------
    targets
        One row per inactive customer, best first: ``rank, customer_id, last_active,
        days_inactive, p_alive, expected_purchases, expected_spend, value_at_stake`` (and the
        segment column when asked).
    churn_after, horizon_weeks
        The churn threshold (days) and the value horizon (weeks).
    customers_total
        Purchasers scored by the models.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.retention.targeting import winback_targets
    >>> result = winback_targets(jl.load_dataset("sample").events, churn_after=60)
    >>> result.targets[["rank", "days_inactive", "p_alive", "value_at_stake"]].head(2).round(2)
       rank  days_inactive  p_alive  value_at_stake
    0     1          67.05     0.81          625.42
    1     2          88.12     0.68          436.82
    """

    targets: pd.DataFrame = field(repr=False)
    churn_after: float = 60
    horizon_weeks: float = 52
    customers_total: int = 0
    model_checks: tuple[Check, ...] = field(default=(), repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """The ranked list, ids pseudonymised unless ``show_ids`` (a copy)."""
        out = self.targets.copy()
        if not privacy.show_ids():
            out["customer_id"] = out["customer_id"].map(privacy.pseudonym)
        return out

    def top(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` customers with the most value at stake (ids as in ``summary``)."""
        return self.summary.head(n)

    @property
    def value_at_stake(self) -> float:
        """Expected value of all listed customers (currency of the revenue column)."""
        return float(self.targets["value_at_stake"].sum())

    def to_csv(self, path: str | Path, *, show_ids: bool = False) -> Path:
        """Write the list as CSV; ids are pseudonymised unless ``show_ids=True``."""
        out = self.targets.copy()
        if not show_ids:
            out["customer_id"] = out["customer_id"].map(privacy.pseudonym)
        path = Path(path)
        spreadsheet_safe(out).to_csv(path, index=False)
        return path

    @property
    def findings(self) -> tuple[Finding, ...]:
        t = self.targets
        if t.empty:
            return (Finding(f"No customer has been inactive for more than {self.churn_after:g} days."),)
        top = t.head(max(1, len(t) // 5))
        share = top["value_at_stake"].sum() / t["value_at_stake"].sum() if t["value_at_stake"].sum() > 0 else np.nan
        out = [Finding(f"{format_count(len(t))} customers have been inactive for more than {self.churn_after:g} "
                       f"days; together they are still expected to spend {format_number(self.value_at_stake)} over "
                       f"the next {self.horizon_weeks:g} weeks.", self.value_at_stake)]
        if np.isfinite(share):
            out.append(Finding(f"The top {format_count(len(top))} of them hold {format_percent(share)} of that value; "
                               f"their median chance of still being a customer is "
                               f"{format_percent(top['p_alive'].median())}.", float(share),
                               action="Start the win-back campaign with the top of the list, and keep a random "
                                      "holdout to measure it."))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.model_checks + (Check("inactive customers", "pass" if len(self.targets) else "warn",
                                          f"{len(self.targets)} of {self.customers_total} purchasers inactive for "
                                          f"more than {self.churn_after:g} days"),)

    def plot(self, ax=None):
        """Value at stake against P(alive) for the listed customers."""
        from . import plots

        return plots.plot_winback_targets(self, ax=ax)


def winback_targets(
    events: Any,
    customers: Any = None,
    *,
    churn_after: float = 60,
    horizon: float = 52.0,
    discount_rate: float = 0.10,
    segment_by: str = "",
    observation_end: Any = None,
) -> WinbackTargets:
    """Customers to win back now, ranked by the value at stake.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with purchases (``revenue``).
    customers
        Optional customer attributes, for ``segment_by``.
    churn_after
        Days without activity after which a customer is inactive (churned, as in
        :func:`journeylib.retention.churn.churn_labels`).
    horizon
        Weeks over which the expected value is counted.
    discount_rate
        Yearly discount rate of the expected value.
    segment_by
        Customer column added to the list (``""``: none).
    observation_end
        End of observation (default: the last timestamp of ``events``).

    Returns
    -------
    WinbackTargets
        ``targets`` / ``summary`` (ranked), ``to_csv(path, show_ids=False)``, ``findings``,
        ``checks``, ``plot()``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.retention.targeting import winback_targets
    >>> ds = jl.load_dataset("sample")
    >>> res = winback_targets(ds.events)
    >>> bool(res.targets["value_at_stake"].is_monotonic_decreasing)
    True
    """
    from ..loyalty.clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value, customer_summary

    for name, v in (("churn_after", churn_after), ("horizon", horizon)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
            raise JourneyParameterError(f"{name}={v!r}; expected a positive number")
    t = engine.to_table(events)
    end = core_time.observation_end(t, observation_end)
    labels, _ = churn_expr(t, churn_after=churn_after, observation_end=end, gap="final")
    # only inactive customers who ever ordered can be valued: the others stay in the engine (at 10^8
    # events 6.5 M inactive customers, 1.8 M of them buyers)
    orders = t.filter(t.event == PURCHASE_EVENT).select(_cid="customer_id").distinct()
    gone = labels.filter(labels.churned)
    gone = gone.semi_join(orders, gone.customer_id == orders._cid)
    inactive = engine.to_pandas(gone.select("customer_id", "last_active"))
    inactive["last_active"] = core_time.from_epoch_us(inactive["last_active"])
    summary = customer_summary(t, calibration_end=end.floor("D"))
    if summary.empty:
        raise JourneyDataError("events: no purchases; expected purchase events with revenue to value customers")
    bgf = BetaGeoFitter().fit(summary)
    ggf = GammaGammaFitter().fit(summary)
    clv = customer_lifetime_value(summary, bgf, ggf, horizon=horizon, discount_rate=discount_rate)
    # the inactive buyers: a lookup in the buyers' index (one row each) rather than a merge that
    # factorizes both sides' ids (at 10^8 events 6.5 M and 2.4 M ids: 7 s against 13 s)
    at = pd.Index(clv["customer_id"]).get_indexer(inactive["customer_id"])
    found = at >= 0
    values = clv[["p_alive", "expected_purchases", "expected_spend", "clv"]].iloc[at[found]].reset_index(drop=True)
    out = pd.concat([inactive[found].reset_index(drop=True), values], axis=1)
    out["days_inactive"] = (end - pd.to_datetime(out["last_active"], utc=True)) / pd.Timedelta(days=1)
    out = out.rename(columns={"clv": "value_at_stake"})
    out = out.sort_values(["value_at_stake", "customer_id"], ascending=[False, True], kind="mergesort")
    out = out.reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    cols = list(TARGET_COLUMNS)
    if segment_by:
        seg = engine.customer_column(customers, segment_by, "segment_by")
        out[segment_by] = out["customer_id"].map(seg)
        cols.append(segment_by)
    checks = tuple(getattr(bgf, "checks", ())) if isinstance(getattr(bgf, "checks", ()), tuple) else ()
    return WinbackTargets(out[cols], float(churn_after), float(horizon), int(len(summary)), checks)


@dataclass(frozen=True)
class ReactivationResult(Result):
    """Reactivation of a win-back campaign against its holdout (see :func:`winback_reactivation`).

    ``statistic`` / ``pvalue``: two-proportion z-test (targeted against holdout);
    ``confidence_interval()``: the difference in reactivation rate, targeted minus holdout.
    ``by_variant``: the same comparison for each targeted variant (e.g. each win-back channel)
    against the holdout: the incremental return of that variant.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.retention.targeting import winback_reactivation
    >>> t0 = pd.Timestamp("2025-05-01", tz="UTC")
    >>> assignments = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)], "experiment": "winback_may",
    ...                             "variant": ["email"] * 4 + ["holdout"] * 4, "assigned_at": t0})
    >>> events = pd.DataFrame({"customer_id": ["c0", "c1", "c2", "c4", "c7"],
    ...                        "ts": t0 + pd.to_timedelta([3, 10, 40, 5, 90], unit="D"), "event": "purchase"})
    >>> result = winback_reactivation(events, assignments, experiment="winback_may", within_days=30)
    >>> result.summary[["group", "customers", "reactivated", "rate"]]
          group  customers  reactivated  rate
    0  targeted          4            2  0.50
    1   holdout          4            1  0.25
    """

    table: pd.DataFrame = field(repr=False)
    statistic: float = np.nan
    pvalue: float = np.nan
    difference: float = np.nan
    within_days: float = 30
    confidence_level: float = 0.95
    variants: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Per group: ``customers``, ``reactivated``, ``rate``, ``ci_low``, ``ci_high`` (a copy)."""
        return self.table.copy()

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Wald interval ``(low, high)`` of the reactivation rate difference, targeted minus holdout."""
        g = self.table.set_index("group")
        t = two_proportion_test(g.loc["targeted", "reactivated"], g.loc["targeted", "customers"],
                                g.loc["holdout", "reactivated"], g.loc["holdout", "customers"],
                                confidence_level=confidence_level)
        return (float(t["ci_low"]), float(t["ci_high"]))

    @property
    def by_variant(self) -> pd.DataFrame:
        """Each targeted variant against the holdout (a copy).

        Columns ``variant, customers, reactivated, rate, difference, ci_low, ci_high, statistic,
        pvalue``: ``difference`` is the variant's reactivation rate minus the holdout's (its
        incremental return), ``ci_low`` / ``ci_high`` its interval and ``statistic`` / ``pvalue``
        its two-proportion z-test (not adjusted for the number of variants).
        """
        if self.variants is None:
            return pd.DataFrame(columns=list(VARIANT_COLUMNS))
        return self.variants.copy()

    @property
    def findings(self) -> tuple[Finding, ...]:
        g = self.table.set_index("group")
        lo, hi = self.confidence_interval(self.confidence_level)
        works = self.pvalue < 0.05 and self.difference > 0
        v = self.by_variant
        per = ()
        if len(v) > 1:
            parts = [f"{r.variant} {'+' if r.difference >= 0 else '-'}{format_percent(abs(r.difference))} "
                     f"({format_interval(r.ci_low, r.ci_high)})" for r in v.itertuples(index=False)]
            top = v.loc[v["difference"].idxmax()]
            per = (Finding(f"Extra customers back within {self.within_days:g} days against the holdout, by "
                           f"variant: {'; '.join(parts)}.", float(top["difference"]), float(top["ci_low"]),
                           float(top["ci_high"])),)
        return (Finding(
            f"{format_percent(g.loc['targeted', 'rate'])} of targeted customers came back within "
            f"{self.within_days:g} days against {format_percent(g.loc['holdout', 'rate'])} of the holdout: "
            f"{format_percent(abs(self.difference))} {'more' if self.difference >= 0 else 'fewer'} (difference "
            f"{format_interval(lo, hi)}, {format_pvalue(self.pvalue)}).",
            float(self.difference), lo, hi,
            "The campaign brings customers back: keep it, with a small holdout." if works else
            "No clear effect: rethink the offer or the target before sending more."),) + per

    @property
    def checks(self) -> tuple[Check, ...]:
        n = self.table.set_index("group")["customers"]
        ok = bool((n >= 30).all())
        return (Check("group sizes", "pass" if ok else "warn",
                      f"targeted {int(n['targeted'])}, holdout {int(n['holdout'])} customers"),)

    def plot(self, ax=None):
        """Reactivation rate of each group with its interval; returns the Axes."""
        from . import plots

        return plots.plot_reactivation(self, ax=ax)


def _returned(events: Any, a: pd.DataFrame, within_days: float) -> pd.Series:
    """Ids of the customers of ``a`` (``customer_id``, ``assigned_at``) with activity (outbound
    messages aside) after an ``assigned_at`` of theirs and at most ``within_days`` later.

    One engine join of the log with the assignment windows; only the distinct ids come back.
    The windows go to the engine in whole microseconds: ``lo < ts <= hi`` with ``lo`` and
    ``hi`` the nanosecond bounds rounded down, which is exact for microsecond timestamps.
    """
    ns = a["assigned_at"].dt.as_unit("ns").astype("int64")
    span = pd.Timedelta(days=within_days).value
    win = ibis.memtable(pd.DataFrame({"w_customer_id": a["customer_id"].to_numpy(),
                                      "lo": (ns // 1000).to_numpy(), "hi": ((ns + span) // 1000).to_numpy()}),
                        schema=ibis.schema({"w_customer_id": "string", "lo": "int64", "hi": "int64"}))
    ev = events.filter(~events.event.isin(list(OUTBOUND_EVENTS)))
    ev = ev.select("customer_id", us=core_time.epoch_us(ev))
    j = ev.join(win, ev.customer_id == win.w_customer_id)
    j = j.filter((j.us > j.lo) & (j.us <= j.hi))
    return engine.to_pandas(j.select("customer_id").distinct())["customer_id"]


def winback_reactivation(
    events: Any,
    assignments: Any,
    *,
    experiment: str,
    holdout: str = "holdout",
    within_days: float = 30,
    observation_end: Any = None,
    confidence_level: float = 0.95,
) -> ReactivationResult:
    """Reactivation rate of a win-back campaign against its randomised holdout.

    A customer is reactivated when they have any activity (outbound messages aside) within
    ``within_days`` after ``assigned_at``; customers whose window is not fully observed are
    left out.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event``.
    assignments
        ``customer_id, experiment, variant, assigned_at``.
    experiment
        The win-back experiment's name in ``assignments``.
    holdout
        The variant that got no message; every other variant counts as targeted.
    within_days
        Days after assignment in which a return counts.
    observation_end
        End of observation (default: the last timestamp of ``events``).
    confidence_level
        Level of the intervals.

    Returns
    -------
    ReactivationResult
        ``summary`` per group, ``statistic``, ``pvalue``, ``confidence_interval()``.

    Examples
    --------
    A toy campaign: four customers emailed, four held out; two emailed customers and one
    held-out customer buy again within 30 days:

    >>> import pandas as pd
    >>> from journeylib.retention.targeting import winback_reactivation
    >>> t0 = pd.Timestamp("2025-05-01", tz="UTC")
    >>> assignments = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)], "experiment": "winback_may",
    ...                             "variant": ["email"] * 4 + ["holdout"] * 4, "assigned_at": t0})
    >>> events = pd.DataFrame({"customer_id": ["c0", "c1", "c2", "c4", "c7"],
    ...                        "ts": t0 + pd.to_timedelta([3, 10, 40, 5, 90], unit="D"), "event": "purchase"})
    >>> result = winback_reactivation(events, assignments, experiment="winback_may", within_days=30)
    >>> round(result.difference, 2)
    0.25
    """
    at = engine.to_table(assignments)
    require_columns(at, ("customer_id", "experiment", "variant", "assigned_at"), "assignments")
    a = engine.to_pandas(at.filter(at.experiment == experiment))
    if a.empty:
        raise JourneyDataError(f"assignments: no rows of experiment {experiment!r}; expected the win-back "
                               "experiment's name (experiment=...)")
    if holdout not in set(a["variant"]):
        raise JourneyDataError(f"assignments: experiment {experiment!r} has no variant {holdout!r}; found "
                               f"{sorted(map(str, a['variant'].unique()))}; pass holdout= the untreated variant")
    t = engine.to_table(events)
    end = core_time.observation_end(t, observation_end)
    a = a.assign(assigned_at=pd.to_datetime(a["assigned_at"], utc=True))
    a = a[a["assigned_at"] + pd.Timedelta(days=within_days) <= end]
    a["reactivated"] = a["customer_id"].isin(_returned(t, a, within_days))
    a["group"] = np.where(a["variant"] == holdout, "holdout", "targeted")
    rows = []
    for g in ("targeted", "holdout"):
        d = a[a["group"] == g]
        n, k = len(d), int(d["reactivated"].sum())
        lo, hi = wilson_interval(k, n, confidence_level)
        rows.append((g, n, k, k / n if n else np.nan, lo, hi))
    table = pd.DataFrame(rows, columns=["group", "customers", "reactivated", "rate", "ci_low", "ci_high"])
    (n1, n0), (k1, k0) = table["customers"], table["reactivated"]
    if not (n1 and n0):
        raise JourneyDataError(f"assignments: experiment {experiment!r} needs customers in both the targeted and "
                               f"the holdout group with {within_days:g} days of follow-up")
    t = two_proportion_test(k1, n1, k0, n0, confidence_level=confidence_level)
    vrows = []
    for v, d in a[a["group"] == "targeted"].groupby(a["variant"].astype(str), sort=True):
        n, k = len(d), int(d["reactivated"].sum())
        tv = two_proportion_test(k, n, k0, n0, confidence_level=confidence_level)
        vrows.append((v, n, k, k / n, float(tv["estimate"]), float(tv["ci_low"]), float(tv["ci_high"]),
                      float(tv["statistic"]), float(tv["pvalue"])))
    variants = pd.DataFrame(vrows, columns=list(VARIANT_COLUMNS))
    return ReactivationResult(table, float(t["statistic"]), float(t["pvalue"]), float(t["estimate"]),
                              float(within_days), float(confidence_level), variants)
