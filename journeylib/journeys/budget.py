"""Channel cost and return: CAC, ROAS, CLV-based return and where the next budget should go.

:func:`channel_budget` puts a cost table (``channel, period, spend``; see
:func:`journeylib.core.load.load_costs`) beside the attribution of the same months:

* **Journeys** are built from the events as attribution builds them
  (:func:`journeylib.journeys.paths.journeys`, by default one journey per customer up to
  the first purchase), and each belongs to the month it ends in (its conversion, else its
  last touch). Only months the cost table covers are counted.
* **Credit** per channel and model comes from :func:`journeylib.journeys.attribution.attribute`
  (rule-based models, Markov, Shapley): attributed conversions (new customers, with the
  default cut at the first purchase) and attributed revenue (their first orders).
* **Measures** per channel and model: ``spend``; ``conversions``; ``revenue``;
  ``cac`` = spend / attributed conversions (customer acquisition cost); ``roas`` =
  attributed revenue / spend (return on ad spend); ``clv_return`` = attributed new
  customers x their expected value (``customer_value``, e.g. from the loyalty CLV
  analysis) / spend; ``marginal_return`` = the return of the next unit of spend, net of
  that unit: ``roas - 1`` (or ``clv_return - 1`` with ``return_on="clv"``). This assumes
  constant returns (the next unit of spend earns what the average one did); the cost
  table cannot show diminishing returns, so read it as an upper bound for a channel
  that is already saturated.
* **Intervals**: the journeys are resampled with replacement ``n_boot`` times (the
  attribution bootstrap: every model is refitted on each resample, spend held fixed);
  ``ci_low``/``ci_high`` are percentile intervals at ``confidence_level``.
* **Budget view** (:attr:`BudgetResult.budget`): the channels with spend ranked by
  marginal return under the headline model (Markov when fitted), with the interval, a
  verdict (``pays back`` when the interval of the return lies above break-even,
  ``does not pay back`` when below, ``uncertain`` when it straddles), whether every
  model gives the same verdict, and a flag with its reason when a channel is the best
  under one model and the worst under another.
* **Experiments**: where an experiment measured the incremental conversions a channel
  brings (``experiments={"email": (estimate, ci_low, ci_high)}``), the models whose
  credited conversions fall inside that interval are the ones it supports.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import ibis
import numpy as np
import pandas as pd

from . import plots
from ..core import buckets, engine
from ..core.checks import whole_number
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.intervals import bootstrap_weights
from ..core.load import costs_frame
from ..core.result import Check, Finding, Result, truth_table
from ..core.time import month_number
from .attribution import ALL_MODELS, ParsedPaths, credit_by_model, rule_credits
from .common import model_words
from .paths import fetch_with_first_conversions, journeys, journeys_expr

__all__ = ["BUDGET_MODELS", "METRICS", "BudgetResult", "channel_budget"]

BUDGET_MODELS = ("first_touch", "last_touch", "linear", "position_based", "markov", "shapley")
"""Models fitted by default: the rule-based ones, Markov and Shapley."""
METRICS = ("spend", "conversions", "revenue", "cac", "roas", "clv_return", "marginal_return")
"""Rows of :attr:`BudgetResult.summary` per channel and model (``clv_return`` only with a customer value)."""
VERDICTS = ("pays back", "uncertain", "does not pay back")
_LAST = {"last_touch", "last_non_direct"}
_FIRST = {"first_touch"}
_REMOVAL = {"markov", "shapley"}


_SHOWN = {"roas": "revenue per unit of spend", "cac": "cost per new customer",
          "clv_return": "customer value per unit of spend"}
"""The measures of :meth:`BudgetResult.display_models`, in their words."""


def _num(x: float) -> str:
    return f"{x:,.2f}" if np.isfinite(x) else "not defined"


def _interval(lo: float, hi: float) -> str:
    return f" ({lo:,.2f} to {hi:,.2f})" if np.isfinite(lo) and np.isfinite(hi) else ""


def _finite(v: Any) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


@dataclass(frozen=True)
class BudgetResult(Result):
    """Cost and return per channel under each attribution model, with bootstrap intervals.

    ``summary`` (long): ``channel, model, metric, value, ci_low, ci_high`` with ``metric`` in
    :data:`METRICS`, for the channels with spend. ``budget``: the ranked budget view.
    ``periods``: spend, credited conversions and revenue, CAC and ROAS per channel, month
    and model. ``agreement``: per channel, its rank and verdict under every model.
    ``experiments``: which model each measured channel lift supports (empty without one).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.budget import channel_budget
    >>> ds = jl.load_dataset("sample")
    >>> result = channel_budget(ds.events, ds.costs, n_boot=20)
    >>> result.budget[["rank", "channel", "model", "verdict"]].head(2)
       rank   channel   model    verdict
    0     1     email  markov  pays back
    1     2  paid_ads  markov  uncertain
    """

    models: tuple[str, ...]
    headline_model: str
    return_on: str
    n_boot: int
    confidence_level: float
    customer_value: float | None
    period_start: str
    period_end: str
    _summary: pd.DataFrame = field(repr=False)
    _periods: pd.DataFrame = field(repr=False)
    _agreement: pd.DataFrame = field(repr=False)
    _experiments: pd.DataFrame = field(repr=False)
    _checks: tuple[Check, ...] = field(default=(), repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    @property
    def periods(self) -> pd.DataFrame:
        """``channel, period`` (``YYYY-MM``), ``model, spend, conversions, revenue, cac, roas, ci_low, ci_high``
        (interval of ``roas``; missing unless ``period_boot`` resamples were asked for)."""
        return self._periods.copy()

    @property
    def agreement(self) -> pd.DataFrame:
        """``channel, model, marginal_return, rank`` (1 = best), ``verdict``, per channel and model."""
        return self._agreement.copy()

    @property
    def experiments(self) -> pd.DataFrame:
        """``channel, measured, ci_low, ci_high, supported_models, closest_model``: the measured
        incremental conversions of a channel against each model's credited conversions."""
        return self._experiments.copy()

    def metric(self, metric: str, model: str | None = None) -> pd.DataFrame:
        """One metric per channel (``channel, value, ci_low, ci_high``) under ``model`` (default: headline)."""
        model = model or self.headline_model
        if metric not in METRICS:
            raise JourneyParameterError(f"metric={metric!r}; expected one of {list(METRICS)}")
        if model not in self.models:
            raise JourneyParameterError(f"model={model!r} was not fitted; expected one of {list(self.models)}")
        s = self._summary
        part = s[(s["metric"] == metric) & (s["model"] == model)]
        return part[["channel", "value", "ci_low", "ci_high"]].reset_index(drop=True)

    @property
    def budget(self) -> pd.DataFrame:
        """The budget view: channels with spend ranked by marginal return under the headline model.

        ``rank, channel, model, spend, conversions, cac, roas, marginal_return, ci_low, ci_high``
        (interval of ``marginal_return``), ``verdict``, ``models_agree`` (the point estimate of
        every model is on the same side of break-even), ``flag`` (best under one model and worst
        under another) and ``reason``. ``verdict`` is ``pays back`` when the interval lies above
        break-even and every model agrees, ``does not pay back`` when it lies below and every
        model agrees, else ``uncertain`` (the interval includes break-even, or the models split).
        """
        m = self.headline_model
        s = self._summary[self._summary["model"] == m]
        wide = s.pivot(index="channel", columns="metric", values="value")
        mr = s[s["metric"] == "marginal_return"].set_index("channel")
        out = pd.DataFrame({"channel": wide.index, "model": m, "spend": wide["spend"].to_numpy(),
                            "conversions": wide["conversions"].to_numpy(), "cac": wide["cac"].to_numpy(),
                            "roas": wide["roas"].to_numpy(),
                            "marginal_return": mr.loc[wide.index, "value"].to_numpy(),
                            "ci_low": mr.loc[wide.index, "ci_low"].to_numpy(),
                            "ci_high": mr.loc[wide.index, "ci_high"].to_numpy()})
        flags = _flags(self._agreement)
        out["models_agree"] = [flags[c]["agree"] for c in out["channel"]]
        out["verdict"] = [_verdict(v, lo, hi) if agree else "uncertain" for v, lo, hi, agree in
                          zip(out["marginal_return"], out["ci_low"], out["ci_high"], out["models_agree"])]
        out["flag"] = [flags[c]["flag"] for c in out["channel"]]
        out["reason"] = [flags[c]["reason"] for c in out["channel"]]
        out = out[["channel", "model", "spend", "conversions", "cac", "roas", "marginal_return", "ci_low", "ci_high",
                   "verdict", "models_agree", "flag", "reason"]]
        out = out.sort_values("marginal_return", ascending=False, kind="stable", na_position="last")
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out.reset_index(drop=True)

    def _return_word(self) -> str:
        return ("customer value (expected value of the new customers)" if self.return_on == "clv"
                else "first-order revenue")

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Which channels pay back and which do not (first), the uncertain ones, where the models
        disagree, and the return counting customer value when one was given."""
        b = self.budget
        if b.empty:
            return ()
        name = model_words(self.headline_model)
        unit = "return per unit of spend"
        ret = "clv_return" if self.return_on == "clv" else "roas"
        vals = self.metric(ret).set_index("channel")

        def quote(c: str) -> str:
            r = vals.loc[c]
            return f"{c} returns {_num(r['value'])}{_interval(r['ci_low'], r['ci_high'])}"

        good = b[b["verdict"] == "pays back"]
        bad = b[b["verdict"] == "does not pay back"].iloc[::-1]
        out = []
        basis = f"by the {name} model, {self._return_word()} per unit of spend"
        if len(good) and len(bad):
            g, w = good.iloc[0]["channel"], bad.iloc[0]["channel"]
            more_good = [c for c in good["channel"] if c != g]
            more_bad = [c for c in bad["channel"] if c != w]
            text = (f"{g} pays back and {w} does not: {quote(g)} and {quote(w)} ({basis}; 1.00 is break-even)."
                    + (f" Also paying back: {', '.join(more_good)}." if more_good else "")
                    + (f" Also not paying back: {', '.join(more_bad)}." if more_bad else ""))
            action = f"Move budget from {w} toward {g}, then confirm with a holdout test."
            r = vals.loc[g]
            out.append(Finding(text, float(r["value"]), _finite(r["ci_low"]), _finite(r["ci_high"]), action))
        elif len(good):
            g = good.iloc[0]["channel"]
            r = vals.loc[g]
            out.append(Finding(f"{g} pays back: {quote(g)} ({basis}; 1.00 is break-even); no channel clearly "
                               "returns less than it costs.", float(r["value"]), _finite(r["ci_low"]),
                               _finite(r["ci_high"]), f"Put the next budget into {g} first."))
        elif len(bad):
            w = bad.iloc[0]["channel"]
            r = vals.loc[w]
            out.append(Finding(f"{w} does not pay back: {quote(w)} ({basis}; 1.00 is break-even); no channel "
                               "clearly returns more than it costs.", float(r["value"]), _finite(r["ci_low"]),
                               _finite(r["ci_high"]), f"Cut or test {w} before adding budget."))
        else:
            top = b.iloc[0]["channel"]
            r = vals.loc[top]
            out.append(Finding(f"No channel clearly pays back or clearly loses money: the best, {quote(top)} "
                               f"({basis}), has an interval that includes break-even (1.00).", float(r["value"]),
                               _finite(r["ci_low"]), _finite(r["ci_high"]),
                               "Do not move budget on these numbers alone: run a holdout test."))
        unsure = b[b["verdict"] == "uncertain"]
        if len(unsure):
            c = unsure.iloc[0]["channel"]
            r = vals.loc[c]
            others = [x for x in unsure["channel"] if x != c]
            row = unsure.iloc[0]
            why = ("an interval that includes break-even, so it may gain or lose money" if row["models_agree"]
                   else f"but {row['reason']}")
            out.append(Finding(
                f"{c} is uncertain: it returns {_num(r['value'])}{_interval(r['ci_low'], r['ci_high'])} per unit "
                f"of spend ({name} model), {why}"
                + (f"; also uncertain: {', '.join(others)}." if others else "."),
                float(r["value"]), _finite(r["ci_low"]), _finite(r["ci_high"]),
                f"Hold the budget of {c} steady and test it with a holdout before moving money."))
        flagged = b[b["flag"]]
        quoted = set(unsure["channel"][:1])
        split = b[~b["models_agree"] & ~b["channel"].isin(quoted)]
        if len(flagged):
            r = flagged.iloc[0]
            out.append(Finding(f"The models disagree on {r['channel']}: {r['reason']}.",
                               action=f"Before moving budget to or from {r['channel']}, decide which model "
                                      "matches how it is used, or test it."))
        elif len(split):
            r = split.iloc[0]
            out.append(Finding(f"Whether {r['channel']} pays back depends on the model: {r['reason']}.",
                               action=f"Test {r['channel']} with a holdout before moving its budget."))
        elif len(self.models) > 1 and b["models_agree"].all():
            out.append(Finding(f"All {len(self.models)} attribution models agree on which channels pay back."))
        if self.customer_value is not None and self.return_on != "clv":
            cl = self.metric("clv_return").set_index("channel")
            c = b.iloc[0]["channel"]
            r = cl.loc[c]
            out.append(Finding(
                f"Counting the expected value of the new customers ({self.customer_value:,.2f} each on average), "
                f"{c} returns "
                f"{_num(r['value'])}{_interval(r['ci_low'], r['ci_high'])} per unit of spend ({name} model).",
                _finite(r["value"]), _finite(r["ci_low"]), _finite(r["ci_high"])))
        return tuple(out[:4])

    @property
    def checks(self) -> tuple[Check, ...]:
        return self._checks

    def against_truth(self, truth: dict) -> pd.DataFrame:
        """Planted vs estimated return on spend per paid channel (simulated data).

        ``truth``: the simulator's ground truth or its ``"costs"`` part (``planted_roas`` per
        channel, measured with ``return_model`` credit). Estimate and interval: ``roas`` under
        that model. A :func:`journeylib.core.result.truth_table`.
        """
        t = truth.get("costs", truth) if isinstance(truth, dict) else None
        if not isinstance(t, dict) or "planted_roas" not in t:
            raise JourneyParameterError("truth: expected the ground truth with costs.planted_roas "
                                        "(the planted return per channel)")
        model = t.get("return_model", "linear")
        if model not in self.models:
            raise JourneyParameterError(f"against_truth: the planted returns are measured with the {model} model; "
                                        f"fit it (models=[..., '{model}'])")
        roas = self.metric("roas", model).set_index("channel")
        rows = [(f"return on spend of {c} ({model_words(model)} credit)", float(v), float(roas.loc[c, "value"]),
                 float(roas.loc[c, "ci_low"]), float(roas.loc[c, "ci_high"]))
                for c, v in t["planted_roas"].items() if c in roas.index]
        return truth_table(rows)

    def display_models(self) -> pd.DataFrame:
        """Every model's cost and return per channel, for people: a row per channel and model.

        The columns are the revenue per unit of spend, the cost per new customer and, with a
        customer value, the customer value per unit of spend; each cell is the value with its
        bootstrap interval ("3.29 (2.78 to 3.85)", as in the findings). Channels are ranked as in :attr:`budget`, and
        each channel's rows start with the headline model.

        Returns
        -------
        pandas.DataFrame
            ``channel, model`` (in words) and one text column per measure.

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.journeys.budget import channel_budget
        >>> ds = jl.load_dataset("sample")
        >>> table = channel_budget(ds.events, ds.costs, n_boot=20).display_models()
        >>> list(table.columns), len(table)
        (['channel', 'model', 'revenue per unit of spend', 'cost per new customer'], 18)
        """
        s = self._summary
        measures = [m for m in _SHOWN if m in set(s["metric"])]
        models = [self.headline_model] + [m for m in self.models if m != self.headline_model]
        s = s[s["metric"].isin(measures)]
        text = pd.Series([_num(v) + _interval(lo, hi) for v, lo, hi in zip(s["value"], s["ci_low"], s["ci_high"])],
                         index=pd.MultiIndex.from_arrays([s["channel"], s["model"], s["metric"]]))
        wide = text.unstack("metric").reindex(columns=measures)
        wide = wide.reindex(pd.MultiIndex.from_product([list(self.budget["channel"]), models])).dropna(how="all")
        out = wide.reset_index(names=["channel", "model"])
        out["model"] = out["model"].map(model_words)
        out.columns.name = None
        return out.rename(columns=_SHOWN)

    def display_months(self) -> pd.DataFrame:
        """How each channel's revenue per unit of spend moved month by month (headline model), for people.

        One row per channel, ranked as in :attr:`budget`: the months with spend, the median month,
        and the lowest and highest months with their value. :meth:`plot_months` draws every month;
        :attr:`periods` has them all.

        Returns
        -------
        pandas.DataFrame
            ``channel, months with spend, median month, lowest month, highest month``.

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.journeys.budget import channel_budget
        >>> ds = jl.load_dataset("sample")
        >>> channel_budget(ds.events, ds.costs, n_boot=20).display_months().iloc[0].to_dict()
        {'channel': 'email', 'months with spend': 18, 'median month': '2.77', 'lowest month': '1.38 (2024-12)', 'highest month': '4.82 (2024-01)'}
        """
        p = self._periods
        p = p[(p["model"] == self.headline_model) & p["roas"].notna()]
        rows = []
        for c in self.budget["channel"]:
            r = p[p["channel"] == c].set_index("period")["roas"]
            if r.empty:
                continue
            rows.append({"channel": c, "months with spend": len(r), "median month": _num(float(r.median())),
                         "lowest month": f"{_num(float(r.min()))} ({r.idxmin()})",
                         "highest month": f"{_num(float(r.max()))} ({r.idxmax()})"})
        return pd.DataFrame(rows, columns=["channel", "months with spend", "median month", "lowest month",
                                           "highest month"])

    def plot_months(self, ax=None):
        """Revenue per unit of spend per month, a line per channel (headline model), break-even at 1
        (:func:`journeylib.journeys.plots.plot_budget_months`); returns the Axes."""
        return plots.plot_budget_months(self, ax=ax)

    def plot(self, ax=None, *, model: str | None = None):
        """Return per unit of spend per channel with intervals, every model marked
        (:func:`journeylib.journeys.plots.plot_budget`); returns the Axes."""
        return plots.plot_budget(self, ax=ax, model=model)

    def __repr__(self) -> str:
        cols = ["rank", "channel", "spend", "cac", "roas", "marginal_return", "ci_low", "ci_high", "verdict"]
        return ("BudgetResult\n" + "\n".join(str(f) for f in self.findings) + "\n"
                + self.budget[cols].round(3).to_string(index=False))


def _verdict(v: float, lo: float, hi: float) -> str:
    if np.isfinite(lo) and lo > 0:
        return "pays back"
    if np.isfinite(hi) and hi < 0:
        return "does not pay back"
    if not (np.isfinite(lo) and np.isfinite(hi)):  # no interval: the point estimate decides
        return "pays back" if v > 0 else "does not pay back" if v < 0 else "uncertain"
    return "uncertain"


def _reason(channel: str, best: list[str], worst: list[str]) -> str:
    b, w = set(best), set(worst)
    names_b = ", ".join(model_words(m) for m in best)
    names_w = ", ".join(model_words(m) for m in worst)
    head = f"best by {names_b}, worst by {names_w}"
    if b & _LAST and w & _FIRST:
        why = f"{channel} mostly closes journeys that other channels open"
    elif b & _FIRST and w & _LAST:
        why = f"{channel} mostly opens journeys that other channels close"
    elif b & _REMOVAL and not w & _REMOVAL:
        why = (f"removing {channel} would lose more conversions than its position in the paths earns it")
    elif w & _REMOVAL and not b & _REMOVAL:
        why = (f"{channel} sits in many converting paths, but removing it would lose few conversions")
    else:
        why = f"the models credit {channel} very differently"
    return f"{head}: {why}"


def _flags(agreement: pd.DataFrame) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    n = agreement.groupby("model")["channel"].transform("size")
    a = agreement.assign(_n=n)
    for c, part in a.groupby("channel", sort=False):
        best = part.loc[part["rank"] == 1, "model"].tolist()
        worst = part.loc[(part["rank"] == part["_n"]) & (part["_n"] > 1), "model"].tolist()
        positive = part.loc[part["marginal_return"] > 0, "model"].tolist()
        negative = part.loc[part["marginal_return"] <= 0, "model"].tolist()
        agree = not (positive and negative)
        flag = bool(best and worst)
        if flag:
            reason = _reason(str(c), best, worst)
        elif not agree:
            reason = (f"it pays back by {', '.join(model_words(m) for m in positive)} but not by "
                      f"{', '.join(model_words(m) for m in negative)}")
        else:
            reason = ""
        out[c] = {"agree": agree, "flag": flag, "reason": reason}
    return out


# --------------------------------------------------------------------------- computing
def _journey_months(events: Any, path_kwargs: dict) -> pd.DataFrame:
    """One row per journey (``customer_id, path, conversions, conversion_value, period``) in the order of
    :func:`journeylib.journeys.paths.journeys`; ``period`` (categorical ``YYYY-MM``) is the UTC month of the
    conversion, or of the last touch when the journey did not convert, taken in the engine."""
    kw = {**_JOURNEY_DEFAULTS, **path_kwargs}
    t = engine.to_table(events)
    j = buckets.concat_sorted(buckets.per_bucket(
        t, lambda part: fetch_with_first_conversions(part, _month_rows, kw)), ["customer_id", "journey"])
    if j.empty:
        raise JourneyDataError("channel budget: the events have no journeys with a touchpoint; expected touches "
                               "with a channel before the conversions")
    months, codes = np.unique(j.pop("month").to_numpy("int64"), return_inverse=True)
    j["period"] = pd.Categorical.from_codes(codes, categories=[f"{m // 12:04d}-{m % 12 + 1:02d}" for m in months])
    return j[["customer_id", "path", "conversions", "conversion_value", "period"]]


_JOURNEY_DEFAULTS = {name: p.default for name, p in inspect.signature(journeys).parameters.items()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _month_rows(events: Any, **kwargs: Any) -> Any:
    j = journeys_expr(events, **kwargs)
    end = ibis.ifelse(j.conversions > 0, j.conversion_ts, j.last_touch_ts)  # UTC wall clock, whole seconds
    return j.select("customer_id", "journey", "path", "conversions", "conversion_value", month=month_number(end))


class _Crediting:
    """The journeys' distinct paths, parsed once; the credit of each model for any weighting of the journeys.

    ``codes`` gives each journey's row in ``paths_`` (sorted distinct paths); a bootstrap resample
    or one month weights the same journeys again, and a path of weight 0 credits nothing, so the
    credit is the one :func:`journeylib.journeys.attribution.attribute` gives on that weighting's
    path table.
    """

    def __init__(self, codes: np.ndarray, paths_: np.ndarray, models: tuple[str, ...], conv: np.ndarray,
                 rev: np.ndarray, clv: np.ndarray | None):
        pt = pd.DataFrame({"path": paths_, "conversions": 0.0, "conversion_value": 0.0, "null_count": 0.0})
        self.paths = ParsedPaths(pt)
        self.rules = rule_credits(self.paths, models)
        self.codes, self.models, self.conv, self.rev, self.clv = codes, models, conv, rev, clv

    def channels_at(self, channels: Sequence[str]) -> np.ndarray:
        """Positions of ``channels`` among the paths' channels."""
        at = {c: i for i, c in enumerate(self.paths.channels)}
        return np.array([at[c] for c in channels], dtype=np.int64)

    def __call__(self, weight: np.ndarray) -> np.ndarray:
        """Credited ``(conversions, revenue, value)`` per model and channel: array (models, channels, 3)."""
        k = len(self.paths.conv)
        out = np.zeros((len(self.models), self.paths.k, 3))
        c = np.bincount(self.codes, weights=weight * self.conv, minlength=k)
        if c.sum() <= 0:
            return out
        v = np.bincount(self.codes, weights=weight * self.rev, minlength=k)
        nn = np.bincount(self.codes, weights=weight * (self.conv == 0), minlength=k)
        got = credit_by_model(self.paths, self.models, self.rules, c, v, nn)
        for mi, m in enumerate(self.models):
            out[mi, :, 0], out[mi, :, 1] = got[m]
        if self.clv is not None:
            cv = np.bincount(self.codes, weights=weight * self.clv, minlength=k)
            got = credit_by_model(self.paths, self.models, self.rules, c, cv, nn)
            for mi, m in enumerate(self.models):
                out[mi, :, 2] = got[m][1]
        return out


def _measures(credit: np.ndarray, spend: np.ndarray, value: float | None, per_customer: bool,
              return_on: str) -> dict[str, np.ndarray]:
    """The metrics from credited conversions/revenue/value (last axis) and spend per channel."""
    conv, rev = credit[..., 0], credit[..., 1]
    clv = credit[..., 2] if per_customer else (conv * value if value is not None else np.full_like(conv, np.nan))
    sp = np.broadcast_to(spend, conv.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        cac = np.where(conv > 0, sp / np.where(conv > 0, conv, 1), np.nan)
        roas = np.where(sp > 0, rev / np.where(sp > 0, sp, 1), np.nan)
        clv_r = np.where(sp > 0, clv / np.where(sp > 0, sp, 1), np.nan)
    marginal = (clv_r if return_on == "clv" else roas) - 1
    return {"spend": np.array(sp, dtype=float), "conversions": conv, "revenue": rev, "cac": cac, "roas": roas,
            "clv_return": clv_r, "marginal_return": marginal}


def _as_costs(costs: Any, channels: list[str]) -> tuple[pd.DataFrame, list[Check]]:
    if costs is None:
        raise JourneyParameterError("costs: expected a cost table (channel, period, spend), e.g. journey.costs or "
                                    "jl.load_costs(path); the journey definition has no costs source")
    return costs_frame(costs, channels=channels)


def channel_budget(
    events: Any,
    costs: Any,
    *,
    models: Sequence[str] = BUDGET_MODELS,
    customer_value: float | pd.Series | None = None,
    return_on: str = "revenue",
    experiments: Mapping[str, Sequence[float]] | None = None,
    n_boot: int = 200,
    period_boot: int = 0,
    confidence_level: float = 0.95,
    seed: int = 0,
    **path_kwargs: Any,
) -> BudgetResult:
    """Spend, attributed conversions and revenue, CAC, ROAS and return per channel and model.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, event, channel``
        and ``revenue`` on purchases.
    costs
        Cost table ``channel, period, spend`` (optional ``campaign``): a ``Journey.costs``, the
        output of :func:`journeylib.core.load.load_costs`, a DataFrame or a path. Its channels
        must be channels of the events; its months set the period analysed.
    models
        Attribution models (:data:`BUDGET_MODELS` by default; ``time_decay`` is not available).
    customer_value
        Expected value of a new customer (one number, e.g. the mean CLV of
        :func:`journeylib.loyalty.clv_bootstrap`) or per customer (a Series indexed by
        ``customer_id``); gives ``clv_return``. ``None``: no CLV-based return.
    return_on
        ``"revenue"`` (default: first-order revenue) or ``"clv"`` (customer value): what the
        marginal return and the verdicts count.
    experiments
        Measured incremental conversions per channel over the same months,
        ``{"email": (estimate, ci_low, ci_high)}``, e.g. from a holdout test.
    n_boot
        Bootstrap resamples of the journeys (0 = no intervals).
    period_boot
        Resamples for the per-month ROAS intervals (0 = none; each month is refitted).
    confidence_level
        Interval level.
    seed
        Random seed of the bootstrap.
    **path_kwargs
        Journey options of :func:`journeylib.journeys.paths.journeys` (``touch_col``,
        ``lookback``, ...).

    Returns
    -------
    BudgetResult
        Per channel and model: spend, credited conversions and revenue, CAC, ROAS and
        marginal return with intervals (``summary``), the ranked ``budget`` view, findings
        and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.budget import channel_budget
    >>> ds = jl.load_dataset("sample")
    >>> result = channel_budget(ds.events, ds.costs, n_boot=20)
    >>> print(result.findings[0].text)
    email pays back and social does not: email returns 2.67 (2.42 to 2.95) and social returns 0.42 (0.37 to 0.45) (by the Markov model, first-order revenue per unit of spend; 1.00 is break-even).
    """
    models = tuple(models)
    unknown = [m for m in models if m not in ALL_MODELS or m == "time_decay"]
    if unknown or not models:
        raise JourneyParameterError(f"models: {unknown or 'none'} not available; expected a subset of "
                                    f"{list(m for m in ALL_MODELS if m != 'time_decay')}")
    if return_on not in ("revenue", "clv"):
        raise JourneyParameterError(f"return_on={return_on!r}; expected 'revenue' or 'clv'")
    if return_on == "clv" and customer_value is None:
        raise JourneyParameterError("return_on='clv' needs customer_value (the expected value of a new customer)")
    n_boot = whole_number(n_boot, "n_boot", minimum=0, expected="a whole number of bootstrap resamples (0: none)")
    period_boot = whole_number(period_boot, "period_boot", minimum=0,
                               expected="a whole number of resamples per month (0: none)")
    if not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level: expected a number in (0, 1), got {confidence_level}")
    value = None
    per_customer = isinstance(customer_value, pd.Series)
    if customer_value is not None and not per_customer:
        try:
            value = float(customer_value)
        except (TypeError, ValueError):
            raise JourneyParameterError(f"customer_value={customer_value!r}; expected a number or a Series "
                                        "indexed by customer_id") from None
        if not np.isfinite(value) or value < 0:
            raise JourneyParameterError(f"customer_value={customer_value!r}; expected a non-negative amount")

    j = _journey_months(events, path_kwargs)
    channels = sorted({c for p in j["path"].unique() for c in str(p).split(" > ")})
    cost, notes = _as_costs(costs, channels)
    cost = cost.assign(month=cost["period"].dt.strftime("%Y-%m"))
    months = pd.period_range(cost["period"].min(), cost["period"].max(), freq="M").strftime("%Y-%m").tolist()
    j = j[j["period"].isin(months)].reset_index(drop=True)
    if not (j["conversions"] > 0).any():
        raise JourneyDataError(f"channel budget: no conversion in the months of the cost table ({months[0]} to "
                               f"{months[-1]}); expected costs for months with conversions")
    spend_by = cost.groupby("channel")["spend"].sum()
    paid = sorted(c for c, v in spend_by.items() if v > 0)  # a channel whose spend is all zero is organic
    if not paid:
        raise JourneyDataError(f"costs: every row's spend is 0 ({len(cost):,} rows, channels "
                               f"{', '.join(map(str, sorted(spend_by.index)))}); expected a spend above 0 for "
                               "at least one channel")
    spend = np.array([float(spend_by.get(c, 0.0)) for c in channels])
    clv_j = None
    if per_customer:
        clv_j = j["customer_id"].map(customer_value).fillna(0.0).to_numpy(float) * (j["conversions"] > 0)
    codes, uniq = pd.factorize(j["path"], sort=True)
    uniq = np.asarray(uniq, dtype=object)
    conv = j["conversions"].to_numpy(float)
    rev = j["conversion_value"].to_numpy(float)

    credit = _Crediting(codes, uniq, models, conv, rev, clv_j)
    at = credit.channels_at(channels)
    point = _measures(credit(np.ones(len(j)))[:, at], spend, value, per_customer, return_on)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        w = bootstrap_weights(rng, len(j))
        draws.append(_measures(credit(w)[:, at], spend, value, per_customer, return_on))
    alpha = (1 - confidence_level) / 2
    keep = [i for i, c in enumerate(channels) if c in set(paid)]
    metrics = [m for m in METRICS if m != "clv_return" or customer_value is not None]
    rows = []
    for name in metrics:
        est = point[name]
        if draws:
            stack = np.stack([d[name] for d in draws])
            stack = np.where(np.isfinite(stack), stack, np.nan)
            enough = np.isfinite(stack).sum(axis=0) >= max(2, int(0.9 * len(draws)))
            with np.errstate(invalid="ignore"):
                lo = np.where(enough, _nanquantile(stack, alpha), np.nan)
                hi = np.where(enough, _nanquantile(stack, 1 - alpha), np.nan)
        else:
            lo = hi = np.full(est.shape, np.nan)
        for mi, m in enumerate(models):
            for ci in keep:
                rows.append((channels[ci], m, name, float(est[mi, ci]), float(lo[mi, ci]), float(hi[mi, ci])))
    summary = pd.DataFrame(rows, columns=["channel", "model", "metric", "value", "ci_low", "ci_high"])

    agreement = []
    for mi, m in enumerate(models):
        mr = pd.Series([point["marginal_return"][mi, ci] for ci in keep], index=[channels[ci] for ci in keep])
        rank = mr.rank(ascending=False, method="min")
        for c in mr.index:
            agreement.append({"channel": c, "model": m, "marginal_return": float(mr[c]), "rank": int(rank[c]),
                              "verdict": "pays back" if mr[c] > 0 else "does not pay back"})
    agreement = pd.DataFrame(agreement, columns=["channel", "model", "marginal_return", "rank", "verdict"])

    periods = _period_table(j, credit, cost, months, paid, models, period_boot, confidence_level, seed)
    exp = _experiment_table(experiments, summary, models, channels)
    headline = next((m for m in ("markov", "shapley") if m in models), models[0])
    checks = _budget_checks(notes, n_boot, confidence_level, channels, paid, j, months, summary, agreement,
                            len(draws))
    shown_value = float(clv_j[conv > 0].mean()) if per_customer else value  # a new customer's value, on average
    return BudgetResult(models, headline, return_on, int(n_boot), float(confidence_level), shown_value,
                        months[0], months[-1], summary, periods, agreement, exp, checks)


def _nanquantile(stack: np.ndarray, q: float) -> np.ndarray:
    out = np.full(stack.shape[1:], np.nan)
    ok = np.isfinite(stack).any(axis=0)
    if ok.any():
        out[ok] = np.nanquantile(stack[:, ok], q, axis=0)
    return out


def _period_table(j: pd.DataFrame, credit: _Crediting, cost: pd.DataFrame, months: list[str],
                  paid: list[str], models: tuple[str, ...], period_boot: int, confidence_level: float,
                  seed: int) -> pd.DataFrame:
    spend = cost.groupby(["channel", "month"])["spend"].sum()
    rng = np.random.default_rng(seed + 1)
    alpha = (1 - confidence_level) / 2
    frames = []
    for month in months:
        mask = (j["period"] == month).to_numpy()
        part = j[mask]
        sp = np.array([float(spend.get((c, month), 0.0)) for c in paid])
        if part.empty or not (part["conversions"] > 0).any():
            cr = np.zeros((len(models), len(paid), 3))
            lo = hi = np.full((len(models), len(paid)), np.nan)
        else:
            at = credit.channels_at(paid)
            cr = credit(mask.astype(float))[:, at]  # the other months' journeys weigh nothing
            draws = []
            for _ in range(period_boot):
                w = np.zeros(len(j))
                w[mask] = bootstrap_weights(rng, len(part))
                r = credit(w)[:, at, 1]
                with np.errstate(divide="ignore", invalid="ignore"):
                    draws.append(np.where(sp > 0, r / np.where(sp > 0, sp, 1), np.nan))
            if draws:
                stack = np.stack(draws)
                lo, hi = _nanquantile(stack, alpha), _nanquantile(stack, 1 - alpha)
            else:
                lo = hi = np.full((len(models), len(paid)), np.nan)
        for mi, m in enumerate(models):
            for ci, c in enumerate(paid):
                conv_c, rev_c = cr[mi, ci, 0], cr[mi, ci, 1]
                frames.append((c, month, m, sp[ci], conv_c, rev_c,
                               sp[ci] / conv_c if conv_c > 0 else np.nan,
                               rev_c / sp[ci] if sp[ci] > 0 else np.nan, lo[mi, ci], hi[mi, ci]))
    cols = ["channel", "period", "model", "spend", "conversions", "revenue", "cac", "roas", "ci_low", "ci_high"]
    return pd.DataFrame(frames, columns=cols).sort_values(["channel", "model", "period"], kind="stable") \
        .reset_index(drop=True)


def _experiment_table(experiments: Mapping[str, Sequence[float]] | None, summary: pd.DataFrame,
                      models: tuple[str, ...], channels: list[str]) -> pd.DataFrame:
    cols = ["channel", "measured", "ci_low", "ci_high", "supported_models", "closest_model"]
    if not experiments:
        return pd.DataFrame(columns=cols)
    if not isinstance(experiments, Mapping):
        raise JourneyParameterError("experiments: expected a mapping {channel: (estimate, ci_low, ci_high)} of "
                                    "measured incremental conversions")
    conv = summary[summary["metric"] == "conversions"]
    rows = []
    for c, triple in experiments.items():
        try:
            est, lo, hi = (float(x) for x in triple)
        except (TypeError, ValueError):
            raise JourneyParameterError(f"experiments[{c!r}]={triple!r}; expected (estimate, ci_low, ci_high) "
                                        "of the measured incremental conversions") from None
        if c not in channels:
            raise JourneyParameterError(f"experiments: {c!r} is not a channel of the events; expected one of "
                                        f"{channels}")
        if not lo <= est <= hi:
            raise JourneyParameterError(f"experiments[{c!r}]: expected ci_low <= estimate <= ci_high, got {triple!r}")
        part = conv[conv["channel"] == c].set_index("model")["value"]
        if part.empty:
            continue
        supported = [m for m in models if lo <= part.get(m, np.nan) <= hi]
        closest = str((part - est).abs().idxmin())
        rows.append((c, est, lo, hi, ", ".join(supported), closest))
    return pd.DataFrame(rows, columns=cols)


def _budget_checks(notes: list[Check], n_boot: int, confidence_level: float, channels: list[str],
                   paid: list[str], j: pd.DataFrame, months: list[str], summary: pd.DataFrame,
                   agreement: pd.DataFrame, n_draws: int) -> tuple[Check, ...]:
    out = list(notes)
    if n_boot:
        out.append(Check("budget: bootstrap intervals", "pass",
                         f"{n_draws} resamples of the journeys, {confidence_level:.0%} intervals"))
    else:
        out.append(Check("budget: bootstrap intervals", "warn", "no bootstrap resamples: the returns have no interval"))
    organic = [c for c in channels if c not in paid]
    out.append(Check("budget: channels without spend", "pass",
                     f"no spend in the cost table for {', '.join(organic)}: left out of the budget view"
                     if organic else "every channel of the events has spend"))
    seen = set(j["period"])
    empty = [m for m in months if m not in seen]
    out.append(Check("budget: cost months with journeys", "warn" if empty else "pass",
                     f"no journey ends in {', '.join(empty[:6])}{', ...' if len(empty) > 6 else ''}: spend there "
                     "earns nothing in these numbers" if empty else f"every month from {months[0]} to {months[-1]} "
                     "has journeys"))
    conv = summary[summary["metric"] == "conversions"]
    none = sorted(set(conv.loc[conv["value"] <= 0, "channel"]))
    if none:
        out.append(Check("budget: credited conversions", "warn",
                         f"no conversion credited to {', '.join(none)} by some model: its acquisition cost is "
                         "not defined there"))
    split = sorted(c for c, part in agreement.groupby("channel")
                   if (part["marginal_return"] > 0).any() and (part["marginal_return"] <= 0).any())
    out.append(Check("budget: models agree on which channels pay back", "warn" if split else "pass",
                     f"the verdict depends on the model for {', '.join(split)}" if split
                     else "every model gives every channel the same verdict"))
    return tuple(out)

