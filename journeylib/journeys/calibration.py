"""Attribution checked against a holdout experiment: which model's credit does the experiment support?

An attribution model shares conversions among the channels a customer touched; it never
asks what would have happened without a channel. A randomised holdout does: customers
assigned to ``holdout`` do not get the channel (or not its later touches), customers
assigned to ``exposed`` do, and the difference in their conversion rates is the channel's
causal effect. :func:`calibrate_attribution` puts the two side by side:

1. **The experiment's incremental conversions** in the exposed arm:
   ``(p_exposed - p_holdout) x n_exposed``, where ``p`` is the share of an arm's customers
   with a conversion (``conversion_event``, default ``purchase``) from their assignment on
   (within ``window_days`` when given). Its interval is the two-proportion test's interval of
   the difference (:func:`journeylib.experiments.statistics.two_proportion_test`, the kit's
   one test) times ``n_exposed``.
2. **Each model's credit** for the channel among the exposed arm's conversions:
   :func:`journeylib.journeys.attribution.attribute` run on the exposed customers' events from
   their assignment on (the same conversions the experiment counts); no model is
   re-implemented here.
3. **The calibration factor** per model: experiment incremental / model credit, with the
   experiment's interval divided by the credit. The credit's own sampling noise is ignored
   (it is small next to the experiment's: the credit is a count over the whole arm, the
   experiment a difference of two rates). A factor of 1 means the model credits the channel
   with exactly what the experiment says it added; 0.5, twice too much.
   The **best-calibrated** model is the one whose factor is closest to 1 on the log scale
   (``|log factor|`` smallest), so crediting twice too much and half too little are equally far.

Assumptions: the holdout is randomised and kept (no exposure leaks into it; the sample-ratio
check guards against lost assignments); both arms are followed for the same time; the
conversions counted by the experiment and by the models are the same (one conversion per
customer: the first after assignment). When not to use it: a holdout whose difference is not
significant (the factor's interval then contains 0 and every model is "supported"); a holdout
that removes only some of the channel's touches (a retargeting holdout keeps the acquisition
touch): the models still credit the touches the holdout did not remove, so every factor is
below 1 and the comparison ranks the models, not their absolute error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import ibis
import numpy as np
import pandas as pd

from ..core import engine
from ..core import time as core_time
from ..core.display import format_count, format_number, format_pvalue
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.intervals import wilson_interval
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import PURCHASE_EVENT
from ..core.time import DAY_US
from ..experiments.statistics import srm_test, two_proportion_test
from .attribution import ALL_MODELS, attribute
from .carts import series_us
from .common import model_words

__all__ = ["AttributionCalibration", "calibrate_attribution", "holdout_experiments", "CALIBRATION_COLUMNS", "ARM_COLUMNS"]

CALIBRATION_COLUMNS = ("model", "credited_conversions", "calibration_factor", "ci_low", "ci_high",
                       "log_distance", "best")
"""Columns of :attr:`AttributionCalibration.summary` (one row per model)."""
ARM_COLUMNS = ("variant", "customers", "conversions", "conversion_rate", "ci_low", "ci_high")
"""Columns of :attr:`AttributionCalibration.arms` (the experiment's two arms, Wilson intervals)."""


def _count(x: float) -> str:
    """A number of conversions in a sentence: whole above 10 (``"212"``), else 3 significant digits."""
    return f"{x:,.0f}" if np.isfinite(x) and abs(x) >= 10 else format_number(x)


def _interval(lo: float, hi: float) -> str:
    """Both ends to one precision: whole numbers when either is 10 or more (``"-3 to 87"``)."""
    if np.isfinite(lo) and np.isfinite(hi) and max(abs(lo), abs(hi)) >= 10:
        return f"{lo:,.0f} to {hi:,.0f}"
    return f"{_count(lo)} to {_count(hi)}"


@dataclass(frozen=True)
class AttributionCalibration(Result):
    """Attribution models held against a holdout experiment (see :func:`calibrate_attribution`).

    Attributes
    ----------
    experiment, channel, exposed, holdout
        The experiment, the channel it held out and its two variants.
    incremental, ci_low, ci_high
        The experiment's incremental conversions in the exposed arm and their interval
        (:meth:`confidence_interval`).
    statistic, pvalue
        The two-proportion z-test of the arms' conversion rates.
    difference
        Exposed minus holdout conversion rate (its interval: :attr:`arms` and the test).
    arms
        One row per arm (exposed first): ``customers, conversions, conversion_rate`` with
        Wilson ``ci_low`` / ``ci_high``.
    table
        One row per model: ``credited_conversions`` (the model's credit for the channel among
        the exposed arm's conversions), ``calibration_factor`` (incremental / credit) with
        ``ci_low`` / ``ci_high``, ``log_distance`` (``|log factor|``, missing when the factor is
        not positive) and ``best``.
    best_model
        The best-calibrated model: the factor closest to 1 on the log scale (``None`` when the
        experiment's interval of the incremental conversions does not lie above zero).
    attributed_conversions
        Conversions the attribution run counted in the exposed arm (the experiment's
        exposed conversions, when every converting customer has a touch).
    window_days
        Days after assignment in which a conversion counts (``None``: up to the end).
    excluded
        Customers left out because their window ends after the data.
    srm_pvalue, planned_share
        Sample-ratio check of the arm sizes against the planned shares (exposed, holdout): its
        check fails below 0.001 and warns below 0.05, as the A/B readout's.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.calibration import calibrate_attribution
    >>> t0 = pd.Timestamp("2025-03-01", tz="UTC")
    >>> ids = [f"c{i}" for i in range(8)]
    >>> assignments = pd.DataFrame({"customer_id": ids, "experiment": "email_holdout",
    ...                             "variant": ["exposed"] * 4 + ["holdout"] * 4, "assigned_at": t0})
    >>> events = pd.DataFrame({
    ...     "customer_id": ["c0", "c0", "c0", "c1", "c1", "c1", "c2", "c4", "c4", "c5"],
    ...     "ts": t0 + pd.to_timedelta([0, 1, 2, 0, 1, 2, 0, 0, 2, 0], unit="D"),
    ...     "event": ["landing", "email_click", "purchase", "landing", "email_click", "purchase", "landing",
    ...               "landing", "purchase", "landing"],
    ...     "channel": ["search", "email", None, "social", "email", None, "search", "search", None, "social"]})
    >>> cal = calibrate_attribution(events, assignments, experiment="email_holdout", channel="email",
    ...                             models=["first_touch", "last_touch"])
    >>> cal.incremental  # (2/4 - 1/4) x 4 exposed customers
    1.0
    >>> [round(x, 2) for x in cal.confidence_interval()]
    [-1.28, 2.62]
    >>> cal.summary[["model", "credited_conversions", "calibration_factor"]]
             model  credited_conversions  calibration_factor
    0  first_touch                   0.0                 NaN
    1   last_touch                   2.0                 0.5
    """

    experiment: str
    channel: str
    exposed: str
    holdout: str
    incremental: float
    ci_low: float
    ci_high: float
    statistic: float
    pvalue: float
    difference: float
    arms: pd.DataFrame = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    best_model: str | None = None
    attributed_conversions: float = np.nan
    window_days: float | None = None
    excluded: int = 0
    srm_pvalue: float = np.nan
    planned_share: tuple[float, float] = (0.5, 0.5)
    confidence_level: float = 0.95

    @property
    def summary(self) -> pd.DataFrame:
        """One row per model: credit, calibration factor with ``ci_low`` / ``ci_high``, ``best`` (a copy)."""
        return self.table.copy()

    @property
    def supported_models(self) -> tuple[str, ...]:
        """The models the experiment cannot tell apart from the truth: those whose factor's interval covers 1
        (their credit lies within the test's interval), in the table's order."""
        t = self.table
        return tuple(t.loc[(t["ci_low"] <= 1) & (t["ci_high"] >= 1), "model"])

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` of the incremental conversions in the exposed arm (two-proportion Wald interval x n)."""
        a = self.arms.set_index("variant")
        n1, x1 = a.loc[self.exposed, "customers"], a.loc[self.exposed, "conversions"]
        n0, x0 = a.loc[self.holdout, "customers"], a.loc[self.holdout, "conversions"]
        t = two_proportion_test(x1, n1, x0, n0, confidence_level=confidence_level)
        return (float(t["ci_low"]) * float(n1), float(t["ci_high"]) * float(n1))

    def factor(self, model: str) -> float:
        """The calibration factor (experiment incremental / model credit) of one model."""
        t = self.table.set_index("model")
        if model not in t.index:
            raise JourneyParameterError(f"model={model!r} was not fitted; fitted: {list(t.index)}")
        return float(t.loc[model, "calibration_factor"])

    @property
    def measured(self) -> bool:
        """The experiment's interval of the incremental conversions lies above zero."""
        return bool(np.isfinite(self.ci_low) and self.ci_low > 0)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The experiment's number, the models furthest from and closest to it, and what to do."""
        ch = self.channel
        n_exp = int(self.arms.set_index("variant").loc[self.exposed, "customers"])
        inc = (f"The holdout test says {ch} brought {_count(self.incremental)} extra conversions "
               f"({_interval(self.ci_low, self.ci_high)}) among the {format_count(n_exp)} "
               f"customers who could receive it")
        if self.srm_pvalue < 0.001:
            share = n_exp / float(self.arms["customers"].sum())
            return (Finding(f"The split of customers in {self.experiment} ({share:.0%} exposed, "
                            f"{self.planned_share[0]:.0%} planned) is off plan far more than chance allows ({format_pvalue(self.srm_pvalue)}): "
                            "the arms are no longer comparable.", share,
                            action="Do not use this test to judge attribution models until the cause is found."),)
        if np.isfinite(self.ci_high) and self.ci_high < 0:
            return (Finding(f"The holdout test says customers who could receive {ch} converted less: "
                            f"{_count(-self.incremental)} fewer conversions ({_count(-self.ci_high)} to "
                            f"{_count(-self.ci_low)}) among the {format_count(n_exp)} exposed customers "
                            f"({format_pvalue(self.pvalue)}); no attribution model can be checked against a loss.",
                            self.incremental, self.ci_low, self.ci_high,
                            f"Look into what {ch} sends: the held-out customers converted more."),)
        if not self.measured:
            return (Finding(inc + f"; that cannot be told apart from no effect ({format_pvalue(self.pvalue)}), so the "
                            "test cannot say which attribution model is right.", self.incremental, self.ci_low,
                            self.ci_high, "Keep the holdout running (or make it larger) before judging the models."),)
        out = [Finding(inc + ".", self.incremental, self.ci_low, self.ci_high)]
        t = self.table[np.isfinite(self.table["log_distance"])]
        if self.best_model is not None and len(t):
            best = t[t["model"] == self.best_model].iloc[0]
            worst = t.loc[t["log_distance"].idxmax()]
            parts = []
            if worst["model"] != best["model"]:
                ratio = worst["credited_conversions"] / self.incremental
                how = (f"{ratio:.1f} times too many" if ratio >= 1 else f"{1 / ratio:.1f} times too few")
                parts.append(f"{model_words(worst['model'])} credits it with "
                             f"{_count(worst['credited_conversions'])}, {how}")
            parts.append(f"the {model_words(best['model'])} model, {_count(best['credited_conversions'])}, "
                         "agrees best")
            text = "; ".join(parts)
            covered = best["ci_low"] <= 1 <= best["ci_high"]
            close = t[(t["model"] != best["model"]) & t["model"].isin(self.supported_models)]
            out.append(Finding(
                text[0].upper() + text[1:] + f" (the test measures {best['calibration_factor']:.2f} times its credit, "
                f"{best['ci_low']:.2f} to {best['ci_high']:.2f}).",
                float(best["calibration_factor"]), float(best["ci_low"]), float(best["ci_high"]),
                "" if len(close) else f"Read {ch}'s attribution with the {model_words(best['model'])} model"
                + ("." if covered else f", and scale its credit by {best['calibration_factor']:.2f} "
                   "(even this model is off the experiment's interval).")))
            if len(close):
                names = ", ".join(f"{model_words(r.model)} ({_count(r.credited_conversions)})"
                                  for r in close.sort_values("log_distance").itertuples(index=False))
                out.append(Finding(
                    f"The test cannot tell the {model_words(best['model'])} model apart from {names}: their credits "
                    f"also lie within its interval of {_interval(self.ci_low, self.ci_high)}.", float(len(close)),
                    action="Treat these models as equally supported; a larger holdout would separate them."))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        """Sample ratio of the arms, arm sizes, whether an effect was measured, the conversions matched, follow-up."""
        a = self.arms.set_index("variant")
        n = a["customers"]
        srm = "fail" if self.srm_pvalue < 0.001 else "warn" if self.srm_pvalue < 0.05 else "pass"
        out = [Check(f"SRM: {self.experiment}", srm,
                     f"{int(n[self.exposed]):,} {self.exposed} and {int(n[self.holdout]):,} {self.holdout} customers; "
                     f"planned {self.planned_share[0]:.0%} / {self.planned_share[1]:.0%} "
                     f"({format_pvalue(self.srm_pvalue)})"),
               Check("holdout arm sizes", "pass" if bool((n >= 100).all()) else "warn",
                     f"{int(n[self.exposed]):,} {self.exposed}, {int(n[self.holdout]):,} {self.holdout}"
                     + ("" if bool((n >= 100).all()) else "; below 100 customers an arm the interval is wide")),
               Check("incremental conversions measured", "pass" if self.measured else "warn",
                     f"{_count(self.incremental)} ({_interval(self.ci_low, self.ci_high)})"
                     + ("" if self.measured else ": the interval includes zero; the factors are not informative"))]
        x1 = float(a.loc[self.exposed, "conversions"])
        same = np.isclose(self.attributed_conversions, x1)
        out.append(Check("attribution counts the experiment's conversions", "pass" if same else "warn",
                         f"attribution {_count(self.attributed_conversions)}, experiment {format_count(x1)} "
                         "conversions in the exposed arm"
                         + ("" if same else " (converting customers without a touch are not attributed)")))
        if self.excluded:
            out.append(Check("follow-up", "warn", f"{self.excluded:,} customers left out: their "
                                                  f"{self.window_days:g}-day window ends after the data"))
        return tuple(out)

    def against_truth(self, truth: Mapping[str, Any]) -> pd.DataFrame:
        """Planted vs measured incremental conversions and arm conversion rates (simulated data).

        ``truth``: the simulator's ground truth or its ``"channel_holdout"`` part, with
        ``expected_incremental_conversions`` and, when present, the expected conversion
        per customer of each arm (``expected_conversion_per_customer``: ``{variant: rate}``).
        A :func:`journeylib.core.result.truth_table`.
        """
        t = truth.get("channel_holdout", truth) if isinstance(truth, Mapping) else None
        if not isinstance(t, Mapping) or "expected_incremental_conversions" not in t:
            raise JourneyParameterError("truth: expected the ground truth with channel_holdout."
                                        "expected_incremental_conversions (simulate with channel_holdout=...)")
        rows = [("incremental conversions in the exposed arm", float(t["expected_incremental_conversions"]),
                 self.incremental, self.ci_low, self.ci_high)]
        per = t.get("expected_conversion_per_customer")
        if isinstance(per, Mapping):
            for r in self.arms.itertuples(index=False):
                if r.variant in per:
                    rows.append((f"conversion rate: {r.variant}", float(per[r.variant]), r.conversion_rate,
                                 r.ci_low, r.ci_high))
        return truth_table(rows)

    def plot(self, ax=None):
        """Bars of each model's credit with the experiment's incremental conversions as a band."""
        from . import plots

        return plots.plot_calibration(self, ax=ax)


def _planned(planned_split: Mapping[str, float] | None, exposed: str, holdout: str) -> tuple[float, float]:
    if planned_split is None:
        return (0.5, 0.5)
    missing = [v for v in (exposed, holdout) if v not in planned_split]
    if missing:
        raise JourneyParameterError(f"planned_split={dict(planned_split)!r} has no share for {missing}; expected "
                                    f"{{{exposed!r}: share, {holdout!r}: share}}")
    s = np.array([planned_split[exposed], planned_split[holdout]], dtype=float)
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise JourneyParameterError(f"planned_split={dict(planned_split)!r}; expected two positive shares")
    s = s / s.sum()
    return (float(s[0]), float(s[1]))


def calibrate_attribution(
    events: Any,
    assignments: Any,
    *,
    experiment: str,
    channel: str,
    exposed: str = "exposed",
    holdout: str = "holdout",
    window_days: float | None = None,
    models: Sequence[str] | None = None,
    conversion_event: str = PURCHASE_EVENT,
    planned_split: Mapping[str, float] | None = None,
    observation_end: Any = None,
    confidence_level: float = 0.95,
    seed: int = 0,
    **path_kwargs: Any,
) -> AttributionCalibration:
    """Hold each attribution model's credit for a channel against a holdout experiment.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, event`` and the
        touch column (``channel`` unless ``touch_col=`` is passed).
    assignments
        ``customer_id, experiment, variant, assigned_at``; rows of other experiments (and of
        other variants of this one) are ignored.
    experiment
        The holdout experiment's name, e.g. ``"email_holdout"``.
    channel
        The channel it held out, as named in the touch column.
    exposed, holdout
        The variant that could receive the channel and the one that did not.
    window_days
        Days after assignment in which a conversion counts; customers whose window ends after
        the data are left out. ``None``: every conversion from assignment to the end of the data.
    models
        Attribution models (default: all of :data:`journeylib.journeys.attribution.ALL_MODELS`).
    conversion_event
        The event that counts as a conversion (one per customer: the first after assignment).
    planned_split
        ``{exposed: share, holdout: share}`` for the sample-ratio check (equal split when ``None``).
    observation_end
        End of observation (default: the last timestamp of ``events``).
    confidence_level
        Level of the intervals.
    seed
        Random seed of the attribution (Shapley permutations beyond 15 channels).
    **path_kwargs
        Path-building options of :func:`journeylib.journeys.paths.journeys` (``touch_col``,
        ``lookback``, ``collapse_repeats``...); ``cut_at_conversion`` is always ``"first"``.

    Returns
    -------
    AttributionCalibration
        ``incremental`` with ``confidence_interval()``, ``summary`` (credit and calibration
        factor per model), ``best_model``, ``arms``, ``findings``, ``checks``, ``plot()``,
        ``against_truth()``.

    Examples
    --------
    >>> import journeylib as jl
    >>> data = jl.simulate_journeys(4000, seed=5, channel_holdout="email")  # doctest: +SKIP
    >>> cal = jl.journeys.calibrate_attribution(data.events, data.assignments, experiment="email_holdout",
    ...                                         channel="email")  # doctest: +SKIP
    >>> cal.best_model  # doctest: +SKIP
    'markov'
    """
    if not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1")
    if window_days is not None and (isinstance(window_days, bool) or not isinstance(window_days, (int, float))
                                    or not np.isfinite(window_days) or window_days <= 0):
        raise JourneyParameterError(f"window_days={window_days!r}; expected a positive number of days, or None "
                                    "for every conversion up to the end of the data")
    if exposed == holdout:
        raise JourneyParameterError(f"exposed={exposed!r} and holdout={holdout!r}: expected two different variants")
    if "cut_at_conversion" in path_kwargs:
        raise JourneyParameterError("cut_at_conversion: the calibration counts one conversion per customer (the "
                                    "first after assignment); leave it out")
    models = tuple(ALL_MODELS if models is None else models)
    share = _planned(planned_split, exposed, holdout)

    at = engine.to_table(assignments, table="assignments")
    for col in ("customer_id", "experiment", "variant", "assigned_at"):
        if col not in at.columns:
            raise JourneyDataError(f"assignments: missing column '{col}'; expected customer_id, experiment, "
                                   "variant, assigned_at")
    a = engine.to_pandas(at.filter(at.experiment == experiment).select("customer_id", "variant", "assigned_at"))
    if a.empty:
        known = engine.distinct_values(at, "experiment")
        raise JourneyDataError(f"assignments: no rows of experiment {experiment!r}; experiments found: "
                               f"{sorted(known)}. Pass the holdout experiment's name (experiment=...)")
    found = sorted(map(str, a["variant"].unique()))
    missing = [v for v in (exposed, holdout) if v not in found]
    if missing:
        raise JourneyDataError(f"assignments: experiment {experiment!r} has no variant {missing}; found {found}. "
                               "Pass exposed= and holdout= the variants that could and could not receive the channel")
    a = a[a["variant"].isin([exposed, holdout])]
    rep = a["customer_id"].duplicated(keep=False)
    if rep.any():
        ex = ", ".join(map(str, a.loc[rep, "customer_id"].drop_duplicates().head(5)))
        raise JourneyDataError(f"assignments: {int(a.loc[rep, 'customer_id'].nunique()):,} customers appear more than "
                               f"once in experiment {experiment!r} (e.g. {ex}); expected one assignment per customer. "
                               "Drop or fix those customers first")

    ev = engine.to_table(events)
    for col in ("customer_id", "ts", "event"):
        if col not in ev.columns:
            raise JourneyDataError(f"events: missing column '{col}'; expected customer_id, ts, event and a touch "
                                   "column (load the file with journeylib.load_events)")
    end_us = core_time.to_epoch_us(core_time.observation_end(ev, observation_end))
    a["lo"] = series_us(a["assigned_at"])
    if window_days is None:
        a["hi"] = end_us + 1  # events at or before the end count
        keep = a["lo"] <= end_us
    else:
        a["hi"] = a["lo"] + int(round(window_days * DAY_US))
        keep = a["hi"] <= end_us + 1
    excluded = int((~keep).sum())
    a = a[keep]
    n1, n0 = int((a["variant"] == exposed).sum()), int((a["variant"] == holdout).sum())
    if not (n1 and n0):
        raise JourneyDataError(f"assignments: experiment {experiment!r} needs customers in both {exposed!r} and "
                               f"{holdout!r}" + (f" with {window_days:g} days of follow-up" if window_days else "")
                               + f"; found {n1} and {n0}. Use a shorter window_days or later data")

    arm = ibis.memtable(pd.DataFrame({"cal_customer_id": a["customer_id"].astype(str).to_numpy(),
                                      "cal_variant": a["variant"].astype(str).to_numpy(),
                                      "cal_lo": a["lo"].to_numpy("int64"), "cal_hi": a["hi"].to_numpy("int64")}))
    ev_us = core_time.epoch_us(ev, "ts")
    evx = ev.mutate(cal_us=ev_us)
    j = evx.join(arm, [evx.customer_id == arm.cal_customer_id, evx.cal_us >= arm.cal_lo, evx.cal_us < arm.cal_hi])
    conv = j.filter(j.event == conversion_event)
    counts = engine.to_pandas(conv.group_by("cal_variant").aggregate(conversions=conv.customer_id.nunique()))
    x = counts.set_index("cal_variant")["conversions"].reindex([exposed, holdout]).fillna(0).astype(int)
    x1, x0 = int(x[exposed]), int(x[holdout])

    rows = []
    for v, n, k in ((exposed, n1, x1), (holdout, n0, x0)):
        lo, hi = wilson_interval(k, n, confidence_level)
        rows.append((v, n, k, k / n, lo, hi))
    arms = pd.DataFrame(rows, columns=list(ARM_COLUMNS))
    test = two_proportion_test(x1, n1, x0, n0, confidence_level=confidence_level)
    diff = float(test["estimate"])
    inc, inc_lo, inc_hi = diff * n1, float(test["ci_low"]) * n1, float(test["ci_high"]) * n1
    srm = srm_test([n1, n0], list(share), experiment=experiment, variants=[exposed, holdout])

    exposed_events = j.filter(j.cal_variant == exposed).select(*ev.columns)
    res = attribute(exposed_events, models=models, n_boot=0, confidence_level=confidence_level, seed=seed,
                    cut_at_conversion="first", **path_kwargs)
    s = res.summary
    if channel not in set(s["channel"]):
        raise JourneyDataError(f"events: the exposed arm of {experiment!r} has no touch of channel {channel!r}; "
                               f"touchpoints found: {sorted(map(str, set(s['channel'])))}. Pass channel= as the "
                               "touch column names it")
    credit = []
    for m in models:
        part = s[(s["model"] == m) & (s["channel"] == channel)]
        credit.append(float(part["conversions"].sum()) if len(part) else 0.0)
    credit = np.array(credit)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(credit > 0, inc / credit, np.nan)
        f_lo = np.where(credit > 0, inc_lo / credit, np.nan)
        f_hi = np.where(credit > 0, inc_hi / credit, np.nan)
        dist = np.where((credit > 0) & (inc > 0), np.abs(np.log(np.where(factor > 0, factor, np.nan))), np.nan)
    table = pd.DataFrame({"model": list(models), "credited_conversions": credit, "calibration_factor": factor,
                          "ci_low": f_lo, "ci_high": f_hi, "log_distance": dist})
    best = None
    if np.isfinite(dist).any() and inc_lo > 0:  # a model is named only when the test measured an effect
        best = str(table.loc[int(np.nanargmin(dist)), "model"])
    table["best"] = table["model"] == best
    return AttributionCalibration(
        experiment=str(experiment), channel=str(channel), exposed=str(exposed), holdout=str(holdout),
        incremental=float(inc), ci_low=float(inc_lo), ci_high=float(inc_hi), statistic=float(test["statistic"]),
        pvalue=float(test["pvalue"]), difference=diff, arms=arms, table=table[list(CALIBRATION_COLUMNS)],
        best_model=best, attributed_conversions=float(res.total_conversions),
        window_days=None if window_days is None else float(window_days), excluded=excluded,
        srm_pvalue=float(srm.pvalue), planned_share=share, confidence_level=float(confidence_level))


def holdout_experiments(assignments: Any, channels: Sequence[str], *, experiment: str = "",
                        channel: str = "") -> list[tuple[str, str]]:
    """The channel holdouts to check attribution against, as ``(experiment, channel)`` pairs.

    The one named by ``experiment`` (its channel is ``channel``, or the name without its
    ``_holdout`` suffix); otherwise every experiment of ``assignments`` named
    ``<channel>_holdout`` for one of ``channels``.

    Parameters
    ----------
    assignments
        ``customer_id, experiment, variant, assigned_at`` (``None``: no experiments).
    channels
        The channels of the attribution.
    experiment, channel
        An experiment to use whatever its name, and the channel it held out.

    Returns
    -------
    list of tuple
        ``(experiment, channel)`` pairs, sorted by channel; empty when there is none.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.calibration import holdout_experiments
    >>> a = pd.DataFrame({"customer_id": ["a", "b"], "experiment": ["email_holdout", "homepage_video"],
    ...                   "variant": ["holdout", "control"], "assigned_at": pd.Timestamp("2025-01-01", tz="UTC")})
    >>> holdout_experiments(a, ["email", "search"])
    [('email_holdout', 'email')]
    >>> holdout_experiments(a, ["email"], experiment="geo_test_q3", channel="search")
    [('geo_test_q3', 'search')]
    """
    if experiment:
        return [(experiment, channel or experiment.removesuffix("_holdout"))]
    if assignments is None:
        return []
    found = set(engine.distinct_values(engine.to_table(assignments, table="assignments"), "experiment"))
    return [(f"{c}_holdout", c) for c in sorted(set(channels)) if f"{c}_holdout" in found]

