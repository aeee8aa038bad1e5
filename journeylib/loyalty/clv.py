"""Customer lifetime value: per-customer purchase summaries, BG/NBD and Gamma-Gamma.

Engine half: :func:`customer_summary` scans the event log once and returns one row
per customer (``frequency`` = repeat purchase days, ``recency`` = time from the first
to the last purchase day, ``T`` = time from the first purchase day to the calibration
end, ``monetary_value`` = mean revenue of the repeat purchase days), optionally with
the purchases in a holdout period.

Stats half (numpy/scipy): :class:`BetaGeoFitter` (Fader, Hardie & Lee 2005, "Counting
your customers the easy way", Marketing Science 24(2)) and :class:`GammaGammaFitter`
(Fader & Hardie 2013, "The Gamma-Gamma model of monetary value") are fitted by
maximum likelihood with analytic gradients on log-parameters, on the *distinct*
``(frequency, recency, T)`` rows weighted by their counts (so a fit scales with the
number of distinct rows, not customers). :func:`customer_lifetime_value` gives the
discounted CLV per customer, :func:`clv_bootstrap` its parameter-uncertainty
intervals, :func:`calibration_holdout` the predicted-vs-actual check.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ..core import engine
from ..core.checks import is_number, no_event_error
from ..core.errors import JourneyDataError, JourneyFitError, JourneyParameterError
from ..core.intervals import bootstrap_weights
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import PURCHASE_EVENT
from ..core.time import DAY_SECONDS, day_number, observation_end, to_utc
from . import plots

TIME_UNITS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
"""Model time units in days: day, week, month (average)."""
UNITS_PER_YEAR = {u: 365.25 / d for u, d in TIME_UNITS.items()}
UNIT_NAMES = plots.UNIT_NAMES  # one definition, beside the plots that name the units


# --------------------------------------------------------------------------- engine half

def _no_purchases(t: ibis.Table, purchase_event: str) -> JourneyDataError:
    return no_event_error(t, purchase_event, "purchase_event",
                          f"events: no '{purchase_event}' events; expected purchases to summarise")


HOLDOUT_SHARE = 1 / 3
"""Default share of the observed days (first purchase to the end of the data) held out."""


def purchase_range(events: Any, purchase_event: str = PURCHASE_EVENT) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(first purchase day, last day of data)`` as UTC midnights: the range a calibration/holdout
    split must fall in. The last day is that of :func:`journeylib.core.time.observation_end`
    (the last timestamp in the whole log).

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, event``.
    purchase_event
        Name of the purchase event.

    Returns
    -------
    tuple of pandas.Timestamp
        ``(first purchase day, last day of data)``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import purchase_range
    >>> first, last = purchase_range(jl.load_dataset("sample").events)
    >>> str(first.date()), str(last.date())
    ('2024-01-03', '2025-06-30')
    """
    t = engine.to_table(events)
    _require(t, ("customer_id", "ts", "event"))
    p = t.filter(t.event == purchase_event)
    first = engine.to_pandas(p.aggregate(first=day_number(p.ts).min()))["first"].iloc[0]
    if first is None or pd.isna(first):
        raise _no_purchases(t, purchase_event)
    return (pd.Timestamp(int(first) * DAY_SECONDS, unit="s", tz="UTC"), observation_end(t).floor("D"))


def holdout_split(events: Any, calibration_end: Any = None, *, holdout_share: float = HOLDOUT_SHARE,
                  purchase_event: str = PURCHASE_EVENT) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(calibration_end, holdout_end)`` of a holdout check, adapted to the data's time range.

    ``holdout_end`` is the last day of data. ``calibration_end`` (purchases on that day
    are calibration) defaults to the day that leaves the last ``holdout_share`` of the
    observed days (first purchase day to last day of data) as the holdout: on a six-month
    log, the last two months. A given ``calibration_end`` must fall from the first purchase
    day to the day before the last; otherwise a :class:`JourneyParameterError` names the
    data's range.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, event``.
    calibration_end
        Last calibration day (``None`` or empty: chosen from ``holdout_share``).
    holdout_share
        Share of the observed days held out when ``calibration_end`` is not given.
    purchase_event
        Name of the purchase event.

    Returns
    -------
    tuple of pandas.Timestamp
        ``(calibration_end, holdout_end)`` as UTC midnights, for :func:`customer_summary`.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import holdout_split
    >>> cal, hold = holdout_split(jl.load_dataset("sample").events)
    >>> str(cal.date()), str(hold.date())
    ('2024-12-31', '2025-06-30')
    """
    if not is_number(holdout_share) or not 0 < holdout_share < 1:
        raise JourneyParameterError(f"holdout_share={holdout_share!r}; expected a share in (0, 1), e.g. 1/3")
    first, last = purchase_range(events, purchase_event)
    days = (last - first).days
    if days < 2:
        raise JourneyDataError(f"events: purchases span {days} day(s) ({first.date()} to {last.date()}); a holdout "
                               "check needs a calibration period and a later holdout period\nWhat to do: use a "
                               "longer history (at least a few weeks of purchases)")
    if calibration_end is None or (isinstance(calibration_end, str) and not calibration_end.strip()):
        cal = first + pd.Timedelta(days=min(days - 1, max(1, round(days * (1 - holdout_share)))))
    else:
        cal = _day(calibration_end, "calibration_end")
        _check_in_range(cal, first, last, holdout=True)
    return cal, last


def _check_in_range(cal: pd.Timestamp, first: pd.Timestamp, last: pd.Timestamp, *, holdout: bool) -> None:
    """A :class:`JourneyParameterError` naming the data's range when ``calibration_end`` is outside it."""
    latest = last - pd.Timedelta(days=1) if holdout else last
    if first <= cal <= latest:
        return
    if cal < first:
        where, so = "before the first purchase", "nobody would be in the calibration period"
    else:
        where = "after the end of the data" if cal > last else "on the last day of data"
        so = "no day would be left for the holdout" if holdout else "the model would count days with no data"
    raise JourneyParameterError(
        f"calibration_end={cal.date()} is {where}: purchases run from {first.date()} to {last.date()}, so {so}"
        f"\nWhat to do: set calibration_end to a day from {first.date()} to {latest.date()}, or leave it empty "
        f"(the last third of the data is held out)")


def _last_purchase_day(t: ibis.Table, p: ibis.Table, purchase_event: str) -> pd.Timestamp:
    last = p.day.max().to_pandas()
    if last is None or pd.isna(last):
        raise _no_purchases(t, purchase_event)
    return pd.Timestamp(int(last) * DAY_SECONDS, unit="s", tz="UTC")


def customer_summary(
    events: Any,
    *,
    calibration_end: Any = None,
    holdout_end: Any = None,
    time_unit: str = "W",
    purchase_event: str = PURCHASE_EVENT,
) -> pd.DataFrame:
    """One row per purchaser: frequency, recency, T, monetary value (engine half).

    Purchases on the same calendar day (UTC) are merged into one transaction (their
    revenue summed), as in Fader, Hardie & Lee (2005).

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) in the canonical schema.
    calibration_end
        Last day of the calibration period (purchases on that day count). Default:
        the day of the last purchase in the data.
    holdout_end
        If given, also count repeat purchase days after ``calibration_end`` up to and
        including this day (``frequency_holdout``) and its length (``duration_holdout``).
    time_unit
        ``"D"`` (days), ``"W"`` (weeks, the CDNOW convention) or ``"M"`` (months).
    purchase_event
        Name of the purchase event.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, first_purchase, frequency, recency, T, monetary_value`` (NaN when
        ``frequency == 0``), ``revenue_total`` and, with a holdout, ``frequency_holdout,
        duration_holdout``; customers whose first purchase is after ``calibration_end``
        are left out.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> len(summary), summary.attrs["time_unit"]
    (1292, 'W')
    >>> summary[["customer_id", "frequency", "recency", "T"]].head(2).round(2)
      customer_id  frequency  recency      T
    0     C000002         24    41.00  42.00
    1     C000003          2     8.14  10.57
    """
    if time_unit not in TIME_UNITS:
        raise JourneyParameterError(f"time_unit={time_unit!r}; expected one of {list(TIME_UNITS)}")
    t = engine.to_table(events)
    _require(t, ("customer_id", "ts", "event"))
    if calibration_end is not None:  # a split outside the data would give an empty summary
        first, last = purchase_range(t, purchase_event)
        _check_in_range(_day(calibration_end, "calibration_end"), first, last, holdout=holdout_end is not None)
    rev = t.revenue.cast("float64") if "revenue" in t.columns else ibis.literal(0.0)
    # integer day numbers (UTC) from epoch seconds: portable and fast (no calendar calls)
    p = t.filter(t.event == purchase_event)
    p = p.select("customer_id", day=day_number(p.ts), rev=rev.fill_null(0.0))
    if calibration_end is None and holdout_end is None:
        cal_d = None  # the last purchase day, read off the result (no extra scan)
        calib = p
    else:
        cal = (_last_purchase_day(t, p, purchase_event) if calibration_end is None
               else _day(calibration_end, "calibration_end"))
        cal_d = int(cal.timestamp() // DAY_SECONDS)
        calib = p.filter(p.day <= cal_d)
    # one row per purchase day (same-day purchases merged), then one per customer
    days = calib.group_by(["customer_id", "day"]).aggregate(rev=calib.rev.sum())
    agg = days.group_by("customer_id").aggregate(
        first_day=days.day.min(),
        days=days.count(),
        last_day=days.day.max(),
        revenue_total=days.rev.sum(),
        first_revenue=days.rev.argmin(days.day),
    )
    unit = TIME_UNITS[time_unit]
    agg = agg.mutate(frequency=agg.days - 1,
                     recency=(agg.last_day - agg.first_day).cast("float64") / unit,
                     repeat_revenue=agg.revenue_total - agg.first_revenue)
    cols = ["customer_id", "first_day", "last_day", "frequency", "recency", "repeat_revenue", "revenue_total"]
    if holdout_end is not None:
        hold = _day(holdout_end, "holdout_end")
        if hold <= cal:
            raise JourneyParameterError(f"holdout_end={hold.date()} must be after calibration_end={cal.date()}")
        hold_d = int(hold.timestamp() // DAY_SECONDS)
        h = p.filter((p.day > cal_d) & (p.day <= hold_d))
        hc = h.group_by("customer_id").aggregate(frequency_holdout=h.day.nunique())
        agg = agg.left_join(hc, "customer_id").select(*cols, "frequency_holdout")
        cols = cols + ["frequency_holdout"]
    out = engine.to_pandas(agg.select(*cols).order_by("customer_id"))
    if cal_d is None:
        if out.empty:
            raise _no_purchases(t, purchase_event)
        cal_d = int(out["last_day"].max())
        cal = pd.Timestamp(cal_d * DAY_SECONDS, unit="s", tz="UTC")
    out.insert(out.columns.get_loc("recency") + 1, "T", (cal_d - out["first_day"].astype("int64")) / unit)
    out = out.drop(columns="last_day")
    out.insert(1, "first_purchase",
               pd.to_datetime(out.pop("first_day").astype("int64") * DAY_SECONDS, unit="s", utc=True))
    out["frequency"] = out["frequency"].astype("int64")
    out["monetary_value"] = np.where(out["frequency"] > 0,
                                     out["repeat_revenue"] / out["frequency"].where(out["frequency"] > 0, 1),
                                     np.nan)
    out = out.drop(columns="repeat_revenue")
    if holdout_end is not None:
        out["frequency_holdout"] = pd.to_numeric(out["frequency_holdout"]).fillna(0).astype("int64")
        out["duration_holdout"] = (hold - cal).days / TIME_UNITS[time_unit]
    out.attrs.update(time_unit=time_unit, calibration_end=str(cal.date()))
    return out


def _split_advice(message: str) -> tuple[str, str]:
    """An error message as ``(reason, advice)``: the advice is its "What to do:" part."""
    head, mark, tail = str(message).partition("\nWhat to do:")
    return head.strip(), tail.strip() if mark else ""


def _require(t: ibis.Table, cols: tuple[str, ...], table: str = "events") -> None:
    missing = [c for c in cols if c not in t.columns]
    if missing:
        raise JourneyDataError(f"{table}: missing column(s) {missing}; expected {list(cols)} (load it with load_events)")


def _day(x: Any, name: str) -> pd.Timestamp:
    """A date parameter as the UTC midnight that starts its day."""
    return to_utc(x, name).floor("D")


# --------------------------------------------------------------------------- stats half

def _summary_arrays(summary: pd.DataFrame, cols=("frequency", "recency", "T")) -> tuple[np.ndarray, ...]:
    if not isinstance(summary, pd.DataFrame):
        raise JourneyParameterError("summary must be a pandas DataFrame such as customer_summary() returns")
    missing = [c for c in cols if c not in summary.columns]
    if missing:
        raise JourneyDataError(f"summary: missing column(s) {missing}; expected {list(cols)} "
                               "(build it with customer_summary)")
    arrs = [pd.to_numeric(summary[c], errors="coerce").to_numpy(float) for c in cols]
    for c, a in zip(cols, arrs):
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            raise JourneyDataError(f"summary: column '{c}': {int(bad.sum())} of {len(a)} rows invalid; "
                                   "expected finite numbers >= 0")
    return tuple(arrs)


def _distinct_rows(*arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the columns, sorted, and each row's index into them: what
    ``np.unique(np.column_stack(arrays), axis=0, return_inverse=True)`` gives, 5-10x faster."""
    arrays = tuple(np.asarray(a, float).ravel() for a in arrays)
    sizes, codes, uniqs = 1, [], []
    if all(np.isfinite(a).all() for a in arrays):
        # hash each column to sorted codes, then the rows to one mixed-radix integer key: linear
        # passes instead of a sort of the rows as records
        for a in arrays:
            c, u = pd.factorize(a, sort=True)
            codes.append(c.astype(np.int64))
            uniqs.append(np.asarray(u, float))
            sizes *= len(u)
    if codes and sizes < 2 ** 62:
        key = codes[0]
        for c, u in zip(codes[1:], uniqs[1:]):
            key = key * len(u) + c
        inv, ku = pd.factorize(key, sort=True)
        cols = []
        for u in uniqs[::-1]:
            cols.append(u[ku % len(u)])
            ku = ku // len(u)
        return np.column_stack(cols[::-1]), inv.astype(np.int64)
    # with missing values (or too many combinations): lexsort + run boundaries
    order = np.lexsort(arrays[::-1])
    stacked = np.column_stack(arrays)[order]
    same = (stacked[1:] == stacked[:-1]) | (np.isnan(stacked[1:]) & np.isnan(stacked[:-1]))
    new = np.r_[True, ~np.all(same, axis=1)] if len(stacked) else np.zeros(0, bool)
    inv = np.empty(len(order), np.int64)
    inv[order] = np.cumsum(new) - 1
    return stacked[new], inv


def _compress(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct rows and their counts (sufficient statistics of the likelihood), rows sorted."""
    uniq, inv = _distinct_rows(*arrays)
    counts = np.bincount(inv, minlength=len(uniq)).astype(float)
    return tuple(uniq[:, i] for i in range(uniq.shape[1])) + (counts,)


class _MixtureSums:
    """Summed log-likelihood of a BG/NBD-family model over weighted distinct rows, and its gradient.

    Each row's log-likelihood (Fader, Hardie & Lee 2005, eq. 6, in logs) is
    ``P(x) - (r + x) log(alpha + T) + [mixture row] softplus(c(x) + (r + x) D)`` with
    ``D = log(alpha + T) - log(alpha + t_x)``: ``P`` collects the terms of ``x`` alone, ``c`` is
    the log ratio of the dropped-out to the alive term apart from ``(r + x) D``. Terms of ``x``
    alone and of ``T`` alone are summed per distinct value with weights summed once
    (``np.bincount``), so only the mixture term is evaluated per row, and the gradient is
    reduced to dot products instead of a 4 x rows matrix. ``per_x(r, alpha, a, b, ux)``
    returns ``P, dP/dr, dP/da, dP/db, c, dc/db`` per distinct ``x`` (``dP/dalpha = r/alpha``,
    ``dc/da = 1/a`` in every member of the family).
    """

    def __init__(self, per_x, x, tx, T, w, mixture_all: bool):
        self.per_x = per_x
        self.ux, xi = np.unique(x, return_inverse=True)
        self.uT, Ti = np.unique(T, return_inverse=True)
        self.W = float(w.sum())
        self.Wx = np.bincount(xi, w, len(self.ux))
        self.WT = np.bincount(Ti, w, len(self.uT))
        self.WXT = np.bincount(Ti, w * x, len(self.uT))
        mix = slice(None) if mixture_all else x > 0
        self.xm, self.wm, self.xim, self.Tim = x[mix], w[mix], xi[mix], Ti[mix]
        self.utx, self.txim = np.unique(tx[mix], return_inverse=True)

    def __call__(self, params: np.ndarray, with_grad: bool = True) -> tuple[float, np.ndarray | None]:
        r, al, a, b = params
        P, P_r, P_a, P_b, c, c_b = self.per_x(r, al, a, b, self.ux)
        inv_T = 1 / (al + self.uT)
        log_T = np.log(al + self.uT)
        WrT = r * self.WT + self.WXT
        LT = log_T[self.Tim]
        D = LT - np.log(al + self.utx)[self.txim]
        xr = self.xm + r
        d = c[self.xim] + xr * D
        # softplus(d) = log(1 + e^d) and the logistic e^d / (1 + e^d); e^d overflows only far from any optimum
        big = d.max(initial=0.0) > 700
        e = np.exp(-np.abs(d) if big else d)
        sp = np.maximum(d, 0.0) + np.log1p(e) if big else np.log1p(e)
        S = self.Wx @ P - WrT @ log_T + _dot(self.wm, sp)
        if not with_grad:
            return S, None
        # weight x P(dropped out after the last purchase | row)
        ws = self.wm * (np.where(d >= 0, 1.0, e) / (1 + e) if big else e / (1 + e))
        WSx = np.bincount(self.xim, ws, len(self.ux))
        E = inv_T[self.Tim] - (1 / (al + self.utx))[self.txim]
        g_r = self.Wx @ P_r - self.WT @ log_T + _dot(ws, D)
        g_al = self.W * r / al - WrT @ inv_T + _dot(ws * xr, E)
        g_a = self.Wx @ P_a + WSx.sum() / a
        g_b = self.Wx @ P_b + WSx @ c_b
        return S, np.array([g_r, g_al, g_a, g_b])


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    """``u @ v`` for long vectors without BLAS: a threaded BLAS dot waits for a busy second core
    (measured 0.2-12 ms for 667k rows on 2 shared cores; this loop 0.4 ms)."""
    return float(np.einsum("i,i->", u, v))


def _row_sums(ll, x, tx, T, w):
    """The summed log-likelihood and gradient from a per-row ``ll`` (models without :class:`_MixtureSums`)."""
    codes = _codes(x, T, tx)

    def total(params: np.ndarray, with_grad: bool = True) -> tuple[float, np.ndarray | None]:
        v, g = ll(params, x, tx, T, with_grad=with_grad, codes=codes)
        return _dot(w, v), (np.einsum("ki,i->k", g, w) if with_grad else None)

    return total


@dataclass(frozen=True, repr=False)
class FitResult(Result):
    """Parameters and fit diagnostics of a maximum-likelihood fit.

    ``summary``: ``parameter, estimate, se, ci_low, ci_high`` (95% intervals, normal on
    the log scale: the parameters are positive). ``checks``: the convergence of the fit.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import BetaGeoFitter, customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> result = BetaGeoFitter().fit(summary).result_
    >>> result.model, result.n, result.converged
    ('BG/NBD', 1292, True)
    >>> result.summary["parameter"].tolist(), result.checks[0].status
    (['r', 'alpha', 'a', 'b'], 'pass')
    """

    model: str
    params: dict[str, float]
    log_likelihood: float
    n: int
    converged: bool
    iterations: int
    penalizer: float
    standard_errors: dict[str, float] = field(default_factory=dict)
    method: str = "BFGS"

    @property
    def summary(self) -> pd.DataFrame:
        se = np.array([self.standard_errors.get(k, np.nan) for k in self.params], dtype=float)
        v = np.array(list(self.params.values()), dtype=float)
        return pd.DataFrame({"parameter": list(self.params), "estimate": v, "se": se,
                             "ci_low": v * np.exp(-1.96 * se / v), "ci_high": v * np.exp(1.96 * se / v)})

    @property
    def findings(self) -> tuple[Finding, ...]:
        p = ", ".join(f"{k} = {v:.3g}" for k, v in self.params.items())
        return (Finding(f"The {self.model} model was fitted on {self.n:,} customers ({p}).", None),)

    @property
    def checks(self) -> tuple[Check, ...]:
        how = "BFGS" if self.method == "BFGS" else f"{self.method} after BFGS stalled"
        return (Check(f"{self.model} fit converged", "pass" if self.converged else "fail",
                      f"{how}, {self.iterations} iterations, log-likelihood {self.log_likelihood:,.2f}"),)

    def _float_format(self) -> str:
        return "{:.4g}"

    def plot(self, ax=None):
        """The estimates with their 95% intervals, on a log scale."""
        return plots.plot_fit_parameters(self, ax=ax)

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"{self.model}({p}; log-likelihood={self.log_likelihood:.2f}, n={self.n:,}, converged={self.converged})"


def _minimize(nll_grad, x0: np.ndarray, name: str, maxiter: int = 2000,
              hess_inv0: np.ndarray | None = None, nll_value=None) -> optimize.OptimizeResult:
    """BFGS on log-parameters with the analytic gradient; Nelder-Mead as a fallback.

    ``hess_inv0``: a start for BFGS' inverse Hessian (a bootstrap replicate starts from
    the full fit's curvature and converges in a few steps instead of ~40 evaluations).
    ``nll_value``: the objective without its gradient, for the Nelder-Mead fallback (a
    numeric gradient costs 8 more likelihoods per step: a failing Pareto/NBD fit took 80 s).
    """
    opts = {"maxiter": maxiter, "gtol": 1e-8} | ({"hess_inv0": hess_inv0} if hess_inv0 is not None else {})
    # steps far into the parameter space may overflow: the objectives map non-finite values to a
    # large penalty, so those numpy warnings carry no news
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _minimize_quietly(nll_grad, x0, name, opts, nll_value or (lambda z: nll_grad(z)[0]))


class _Stalled(Exception):
    """BFGS' line search keeps evaluating one point: its steps fell below floating-point resolution."""


STALL_EVALS = 3
"""Consecutive evaluations at one point (to 1e-12) after which BFGS is stopped as stalled. At
an optimum whose gradient is just above ``gtol`` but whose objective cannot decrease in floating
point, scipy's line search would otherwise spend some 70 further evaluations there before it
reports "precision loss" at that same point (measured on 1M customers: 94 evaluations, 20 useful)."""


def _minimize_quietly(nll_grad, x0: np.ndarray, name: str, opts: dict, nll_value) -> optimize.OptimizeResult:
    seen: dict[str, Any] = {"f": np.inf, "best": None, "last": None, "same": 0, "nit": 0}

    def watched(z):
        f, g = nll_grad(z)
        last = seen["last"]
        seen["same"] = seen["same"] + 1 if last is not None and np.allclose(z, last, rtol=1e-12, atol=1e-12) else 0
        seen["last"] = np.array(z, float)
        if f < seen["f"]:
            seen.update(f=f, best=seen["last"])
        if seen["same"] >= STALL_EVALS:
            raise _Stalled
        return f, g

    def count(*_):
        seen["nit"] += 1

    try:
        res = optimize.minimize(watched, x0, jac=True, method="BFGS", options=opts, callback=count)
    except _Stalled:
        # what BFGS would return after its failed line searches: the point it cannot leave
        res = optimize.OptimizeResult(x=seen["best"], fun=seen["f"], success=False, nit=seen["nit"],
                                      message="Desired error not necessarily achieved due to precision loss.")
    ok = np.all(np.isfinite(res.x)) and np.isfinite(res.fun)
    # BFGS reports "precision loss" at an optimum it cannot improve in floating point: accept a tiny gradient
    if ok and (res.success or np.max(np.abs(nll_grad(res.x)[1])) < 1e-5):
        res["method"] = "BFGS"
        return res
    res2 = optimize.minimize(nll_value, res.x if np.all(np.isfinite(res.x)) else x0,
                             method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-12})
    if res2.success and np.isfinite(res2.fun) and np.max(np.abs(nll_grad(res2.x)[1])) < 1e-4:
        res2["method"] = "Nelder-Mead"
        return res2
    raise JourneyFitError(f"{name}: maximum likelihood did not converge ({res.message}); the data may hold "
                          "too few repeat buyers\nWhat to do: pass penalizer=0.001 to regularise, or use a longer "
                          "history")


def _se_from_hessian(fun, z: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Standard errors of exp(z) from a numeric Hessian of the summed negative log-likelihood.

    ``fun`` is the mean negative log-likelihood (``scale`` rows); also returns the inverse
    of its Hessian in z (``None`` when singular), a start for refits on resampled data.
    """
    k = len(z)
    h = 1e-4
    hess = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        hess[i] = (fun(z + e)[1] - fun(z - e)[1]) / (2 * h)
    hess = (hess + hess.T) / 2
    try:
        inv = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full(k, np.nan), None
    var = np.diag(inv) / scale
    ok = np.all(np.linalg.eigvalsh(hess) > 0)
    return np.where(var > 0, np.exp(z) * np.sqrt(np.abs(var)), np.nan), (inv + inv.T) / 2 if ok else None


class _FittedModel:
    """Display shared by the fitters: ``summary`` table, ``checks``, repr and HTML repr of the fit."""

    result_: FitResult | None

    @property
    def summary(self) -> pd.DataFrame:
        """The fit's parameter table (:attr:`FitResult.summary`); empty before :meth:`fit`."""
        return self.result_.summary if self.result_ else pd.DataFrame()

    @property
    def checks(self) -> tuple[Check, ...]:
        """The fit's checks (convergence); empty before :meth:`fit`."""
        return self.result_.checks if self.result_ else ()

    def __repr__(self) -> str:
        return repr(self.result_) if self.result_ else f"{type(self).__name__}(unfitted)"

    def _repr_html_(self) -> str:
        return self.result_._repr_html_() if self.result_ else html.escape(repr(self))

    def _fitted(self) -> dict[str, float]:
        if self.params_ is None:
            raise JourneyParameterError(f"{type(self).__name__}: not fitted; call fit(summary) first")
        return self.params_

    def _purchase_rate(self) -> str:
        p = self._fitted()
        unit = UNIT_NAMES.get(self.time_unit or "W", "weeks").rstrip("s")
        return (f"While active, a customer buys about {p['r'] / p['alpha']:.2g} times a {unit} on average "
                f"({self.model_name} fitted on {self.result_.n:,} customers)")


class BetaGeoFitter(_FittedModel):
    """BG/NBD model of repeat purchasing and dropout, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer
        Optional L2 penalty ``penalizer * sum(params**2)`` added to the mean negative
        log-likelihood (0 = plain maximum likelihood, as in the paper).

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : dict with ``r, alpha, a, b``
    result_ : :class:`FitResult` (log-likelihood, convergence, standard errors)

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import BetaGeoFitter, customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> bgf = BetaGeoFitter().fit(summary)
    >>> {k: round(v, 1) for k, v in bgf.params_.items()}
    {'r': 0.9, 'alpha': 3.6, 'a': 0.7, 'b': 9.1}
    >>> bgf.predict(summary.head(2), t=52).round(2)
      customer_id  expected_purchases  p_alive
    0     C000002               21.41     0.96
    1     C000003                6.97     0.89
    """

    param_names = ("r", "alpha", "a", "b")
    model_name = "BG/NBD"
    drop_out = "after each repeat purchase"

    def __init__(self, penalizer: float = 0.0):
        if penalizer < 0:
            raise JourneyParameterError(f"penalizer={penalizer}; expected a number >= 0")
        self.penalizer = float(penalizer)
        self.params_: dict[str, float] | None = None
        self._hess_inv: np.ndarray | None = None
        self.result_: FitResult | None = None
        self.time_unit: str | None = None

    # log-likelihood per distinct row and its gradient w.r.t. (r, alpha, a, b)
    @staticmethod
    def _ll(params: np.ndarray, x, tx, T, with_grad: bool = True, codes=None):
        r, al, a, b = params
        # Functions of x, T or t_x alone are evaluated once per distinct value (a few dozen
        # to a few hundred) and spread to the rows: the fit makes ~40 passes over every row.
        (ux, xi), (uT, Ti), (utx, txi) = codes if codes is not None else _codes(x, T, tx)
        gl, xr = special.gammaln, r + x
        A1 = (gl(r + ux) - gl(r))[xi] + r * np.log(al)
        A2 = (gl(a + b) + gl(b + ux) - gl(b) - gl(a + b + ux))[xi]
        log_T, log_tx = np.log(al + uT)[Ti], np.log(al + utx)[txi]
        A3 = -xr * log_T
        pos = x > 0
        bx1 = np.where(ux > 0, b + ux - 1, 1.0)
        A4 = np.where(pos, (np.log(a) - np.log(bx1))[xi] - xr * log_tx, -np.inf)
        lse = np.logaddexp(A3, A4)
        ll = A1 + A2 + lse
        if not with_grad:
            return ll, None
        w3 = np.exp(A3 - lse)
        w4 = 1 - w3
        dg = special.digamma
        d_r = (dg(r + ux) - dg(r))[xi] + np.log(al) - w3 * log_T - w4 * log_tx
        d_al = r / al - xr * (w3 * (1 / (al + uT))[Ti] + w4 * (1 / (al + utx))[txi])
        d_a = (dg(a + b) - dg(a + b + ux))[xi] + w4 / a
        d_b = (dg(a + b) + dg(b + ux) - dg(b) - dg(a + b + ux))[xi] - w4 * (1 / bx1)[xi]
        return ll, np.stack([d_r, d_al, d_a, d_b])

    @staticmethod
    def _per_x(r, al, a, b, ux):
        """:class:`_MixtureSums` terms of BG/NBD: ``c = log a - log(b + x - 1)`` (rows with x > 0)."""
        gl, dg = special.gammaln, special.digamma
        bx1 = np.where(ux > 0, b + ux - 1, 1.0)
        P = gl(r + ux) - gl(r) + r * np.log(al) + gl(a + b) + gl(b + ux) - gl(b) - gl(a + b + ux)
        P_r = dg(r + ux) - dg(r) + np.log(al)
        P_a = dg(a + b) - dg(a + b + ux)
        P_b = dg(a + b) + dg(b + ux) - dg(b) - dg(a + b + ux)
        return P, P_r, P_a, P_b, np.log(a) - np.log(bx1), -1 / bx1

    @classmethod
    def _sums(cls, x, tx, T, w):
        """``f(params, with_grad) -> (sum of w * log-likelihood, its gradient)`` over the rows."""
        return _MixtureSums(cls._per_x, x, tx, T, w, mixture_all=False)

    @property
    def reading(self) -> str:
        """The fit in words: how often an active customer buys, and how many stop after a purchase
        (the mean purchase rate ``r / alpha`` and dropout probability ``a / (a + b)``).

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.loyalty.clv import BetaGeoFitter, customer_summary
        >>> bgf = BetaGeoFitter().fit(customer_summary(jl.load_dataset("sample").events))
        >>> print(bgf.reading)
        While active, a customer buys about 0.24 times a week on average (BG/NBD fitted on 1,292 customers); after each repeat purchase about 7% stop buying for good.
        """
        p = self._fitted()
        return (f"{self._purchase_rate()}; {self.drop_out} about "
                f"{p['a'] / (p['a'] + p['b']):.0%} stop buying for good.")

    def fit(self, summary: pd.DataFrame, *, initial: dict[str, float] | None = None,
            weights: np.ndarray | None = None) -> "BetaGeoFitter":
        """Fit to a summary with ``frequency, recency, T`` (one row per customer).

        ``weights`` (optional, one per row) are frequency weights, used by the bootstrap.
        """
        x, tx, T = _summary_arrays(summary)
        if np.any(tx > T + 1e-9) or np.any((x == 0) & (tx > 0)):
            raise JourneyDataError("summary: recency must be <= T and 0 when frequency is 0")
        if weights is None:
            x, tx, T, w = _compress(x, tx, T)
        else:
            w = np.asarray(weights, float)
        if x.sum() == 0:
            raise JourneyFitError(f"{self.model_name}: none of the {int(w.sum()):,} customers made a repeat purchase; "
                                  "the model cannot be fitted\nWhat to do: use a longer history (repeat purchases "
                                  "take time to appear)")
        self._fit_arrays(x, tx, T, w, initial)
        self.time_unit = summary.attrs.get("time_unit", self.time_unit)
        runaway = {k: v for k, v in self.params_.items() if not 1e-6 < v < 1e6}
        if runaway and self.penalizer == 0:
            # The likelihood is flat along a ridge (too few customers or repeat buyers):
            # the optimiser "converges" at the edge of the parameter space. Not a usable fit.
            what = ", ".join(f"{k}={v:.3g}" for k, v in runaway.items())
            msg = (f"{self.model_name}: the data do not identify the model ({what} ran off to the edge; "
                   f"{int(w.sum()):,} customers, {int(w[x > 0].sum()):,} with repeat purchases)"
                   "\nWhat to do: pass penalizer=0.001 to regularise, or fit on more customers or a longer history")
            raise JourneyFitError(msg)
        return self

    def _fit_arrays(self, x, tx, T, w, initial=None):
        """``initial``: start values, or a fitted model to refit from (a bootstrap replicate:
        its estimates and curvature as the start, no standard errors)."""
        n = w.sum()
        pen = self.penalizer
        total = self._sums(x, tx, T, w)

        def nll(z):
            p = np.exp(z)
            s, g = total(p)
            f = -s / n + pen * np.sum(p ** 2)
            grad = -g / n * p + pen * 2 * p * p
            if not np.isfinite(f):
                return 1e10, np.zeros_like(z)
            return f, grad

        def nll_value(z):
            p = np.exp(z)
            f = -total(p, with_grad=False)[0] / n + pen * np.sum(p ** 2)
            return f if np.isfinite(f) else 1e10

        start = initial if isinstance(initial, BetaGeoFitter) else None
        if initial is not None:
            x0 = np.log([(start.params_ if start else initial)[k] for k in self.param_names])
        else:
            # method-of-moments-ish start: r/alpha ~ repeat rate per unit time of active customers
            rate = max((w @ x) / max(w @ T, 1e-9), 1e-6)
            x0 = np.log([0.5, 0.5 / rate, *self._dropout_start(T, w)])
        res = _minimize(nll, x0, self.model_name, hess_inv0=start._hess_inv if start else None, nll_value=nll_value)
        params = np.exp(res.x)
        ll = total(params, with_grad=False)[0]
        se, self._hess_inv = _se_from_hessian(nll, res.x, n) if pen == 0 and not start else (np.full(4, np.nan), None)
        self.params_ = dict(zip(self.param_names, map(float, params)))
        self.result_ = FitResult(self.model_name, self.params_, float(ll), int(round(n)), True,
                                 int(getattr(res, "nit", 0)), pen, dict(zip(self.param_names, map(float, se))),
                                 res.get("method", "BFGS"))
        return self

    @staticmethod
    def _dropout_start(T: np.ndarray, w: np.ndarray) -> tuple[float, float]:
        """Start values of the dropout parameters (``a, b``)."""
        return 1.0, 2.0

    # ---- predictions
    def _p(self):
        if self.params_ is None:
            raise JourneyParameterError(f"fit the model first ({type(self).__name__}().fit(summary))")
        return (self.params_[k] for k in self.param_names)

    def expected_purchases(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases of a new customer in ``(0, t]`` (unconditional E[X(t)])."""
        r, al, a, b = self._p()
        t = np.asarray(t, float)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (al + t))
        return (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * hyp)

    def conditional_expected_purchases(self, t: float, frequency, recency, T) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` given the customer's history (FHL 2005, eq. 10)."""
        x, T = np.asarray(frequency, float), np.asarray(T, float)
        return self._purchases_if_alive(t, x, T) * self.probability_alive(x, recency, T)

    def _purchases_if_alive(self, t, x, T) -> np.ndarray:
        """E[purchases in (T, T + t] | alive at T]: depends on the history through (x, T) only."""
        r, al, a, b = self._p()
        t = np.asarray(t, float)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (al + T + t))
        return (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp)

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still alive at T | history) (FHL 2005)."""
        r, al, a, b = self._p()
        x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
        pos = x > 0
        odds = np.where(pos, a / np.where(pos, b + x - 1, 1.0) * ((al + T) / (al + tx)) ** (r + x), 0.0)
        return 1 / (1 + odds)

    def predict(self, summary: pd.DataFrame, t: float) -> pd.DataFrame:
        """Per customer: expected purchases in the next ``t`` time units and P(alive)."""
        x, tx, T = _summary_arrays(summary)
        out = pd.DataFrame(index=summary.index)
        if "customer_id" in summary.columns:
            out["customer_id"] = summary["customer_id"]
        out["expected_purchases"] = self.conditional_expected_purchases(t, x, tx, T)
        out["p_alive"] = self.probability_alive(x, tx, T)
        return out



MIN_REPEAT_BUYERS = 3
"""Fewest repeat buyers (customers with ``frequency > 0``) Gamma-Gamma is fitted on."""


def _check_spend_fit(params: dict[str, float], penalizer: float, n: int, x: np.ndarray, w: np.ndarray) -> None:
    """A :class:`JourneyFitError` when a Gamma-Gamma fit is not usable.

    ``q <= 1``: the mean spend per order is infinite under the fitted model (the expected
    spend formula turns negative). ``q`` or ``gamma`` beyond 1e6 without a penalty: the
    likelihood is flat along a ridge (spend barely varies between customers beyond what one
    order shows, typical when nearly every repeat buyer bought again only once), so the
    fit sits at the edge of the parameter space with no usable interval.
    """
    once = int(round(w[x == 1].sum()))
    if params["q"] <= 1:
        raise JourneyFitError(f"Gamma-Gamma: the fit gives q = {params['q']:.3g} <= 1, so the average spend per order "
                              f"is not finite ({n:,} repeat buyers)\nWhat to do: lower penalizer, or use a longer "
                              "history or more customers")
    runaway = {k: v for k, v in params.items() if not 1e-6 < v < 1e6}
    if runaway and penalizer == 0:
        what = ", ".join(f"{k}={v:.3g}" for k, v in runaway.items())
        raise JourneyFitError(f"Gamma-Gamma: the data do not identify the spend model ({what} ran off to the edge; "
                              f"{n:,} repeat buyers, {once:,} of them with a single repeat purchase)"
                              "\nWhat to do: pass penalizer=0.001 to regularise, or use a longer history")


class GammaGammaFitter(_FittedModel):
    """Gamma-Gamma model of spend per transaction (Fader & Hardie 2013).

    Fitted on repeat buyers only (``frequency > 0``) with their mean repeat-purchase
    value ``monetary_value``. ``penalizer`` as in :class:`BetaGeoFitter`.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import GammaGammaFitter, customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> ggf = GammaGammaFitter().fit(summary)
    >>> {k: round(v, 1) for k, v in ggf.params_.items()}, ggf.result_.n
    ({'p': 5.5, 'q': 4.0, 'gamma': 21.4}, 1045)
    >>> round(float(ggf.expected_spend(24, 14.697)), 2)
    15.25
    """

    param_names = ("p", "q", "gamma")

    def __init__(self, penalizer: float = 0.0):
        if penalizer < 0:
            raise JourneyParameterError(f"penalizer={penalizer}; expected a number >= 0")
        self.penalizer = float(penalizer)
        self.params_: dict[str, float] | None = None
        self._hess_inv: np.ndarray | None = None
        self.result_: FitResult | None = None

    @staticmethod
    def _ll(params, x, m, pre=None):
        p, q, g = params
        # per distinct frequency: the gamma functions; per row, fixed over the fit: the logs
        ux, xi, log_m, log_x = pre if pre is not None else (*np.unique(x, return_inverse=True), np.log(m), np.log(x))
        px, pu = p * x, p * ux
        lg = np.log(g + x * m)
        gl, dg = special.gammaln, special.digamma
        ll = ((gl(pu + q) - gl(pu))[xi] - gl(q) + q * np.log(g)
              + (px - 1) * log_m + px * log_x - (px + q) * lg)
        d_pq = (dg(pu + q) - dg(pu))[xi]
        d_p = x * (d_pq + log_m + log_x - lg)
        d_q = (dg(pu + q) - dg(q))[xi] + np.log(g) - lg
        d_g = q / g - (px + q) / (g + x * m)
        return ll, np.stack([d_p, d_q, d_g])

    @staticmethod
    def _sums(x, m, w):
        """``f(params, with_grad) -> (sum of w * log-likelihood, its gradient)`` over the rows.

        Per row: ``ll = G(x) - lgamma(q) + q log(gamma) + (p x - 1) log m + p x log x
        - (p x + q) log(gamma + x m)`` with ``G(x) = lgamma(p x + q) - lgamma(p x)``. The terms of
        ``x`` alone are summed per distinct ``x``, the ``log m`` terms once before the fit, so a
        step costs one log and one reciprocal per row (``u = gamma + x m``) and four dot products.
        """
        ux, xi = np.unique(x, return_inverse=True)
        W, wx, xm = float(w.sum()), w * x, x * m
        Wx, WXx = np.bincount(xi, w, len(ux)), np.bincount(xi, wx, len(ux))
        log_m = np.log(m)
        sxlm, slm = _dot(wx, log_m), _dot(w, log_m)
        xlx = WXx @ np.log(ux)
        gl, dg = special.gammaln, special.digamma

        def total(params: np.ndarray, with_grad: bool = True) -> tuple[float, np.ndarray | None]:
            p, q, g = params
            u = g + xm
            lg = np.log(u)
            t1, t0 = _dot(wx, lg), _dot(w, lg)
            pu = p * ux
            S = (Wx @ (gl(pu + q) - gl(pu)) + W * (q * np.log(g) - gl(q)) + p * (sxlm + xlx) - slm
                 - p * t1 - q * t0)
            if not with_grad:
                return S, None
            iu = 1 / u
            d_p = WXx @ (dg(pu + q) - dg(pu)) + sxlm + xlx - t1
            d_q = Wx @ dg(pu + q) - W * dg(q) + W * np.log(g) - t0
            d_g = W * q / g - p * _dot(wx, iu) - q * _dot(w, iu)
            return S, np.array([d_p, d_q, d_g])

        return total

    @property
    def reading(self) -> str:
        """The fit in words: the mean value of an order across repeat buyers, ``p * gamma / (q - 1)``.

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.loyalty.clv import GammaGammaFitter, customer_summary
        >>> ggf = GammaGammaFitter().fit(customer_summary(jl.load_dataset("sample").events))
        >>> print(ggf.reading)
        An order is worth about 39.93 on average across customers (Gamma-Gamma fitted on 1,045 repeat buyers; money in revenue units).
        """
        p = self._fitted()
        who = f"Gamma-Gamma fitted on {self.result_.n:,} repeat buyers"
        if p["q"] <= 1:
            return (f"The spend model gives no finite mean order value ({who}; a few very large spenders): "
                    "read the values customer by customer.")
        return (f"An order is worth about {p['p'] * p['gamma'] / (p['q'] - 1):,.2f} on average across customers "
                f"({who}; money in revenue units).")

    def fit(self, summary: pd.DataFrame, *, initial: dict[str, float] | None = None,
            weights: np.ndarray | None = None) -> "GammaGammaFitter":
        """Fit on rows with ``frequency > 0`` using ``frequency`` and ``monetary_value``.

        ``initial``: start values, or a fitted model to refit from (a bootstrap replicate:
        its estimates and curvature as the start, no standard errors).
        """
        x, m = _gg_arrays(summary)
        keep = x > 0
        if weights is not None:
            w = np.asarray(weights, float)[keep]
            x, m = x[keep], m[keep]
        else:
            x, m, w = _compress(x[keep], m[keep])
        bad = ~(m > 0)
        if bad.any():
            raise JourneyDataError(f"summary: column 'monetary_value': {int(bad.sum())} repeat buyers with "
                                   "a value <= 0 or missing; expected positive spend (drop them or fix revenue)")
        n = w.sum()  # customers (rows are distinct (frequency, value) pairs with their counts)
        if n < MIN_REPEAT_BUYERS or len(np.unique(m)) < 2:
            raise JourneyFitError(f"Gamma-Gamma: {int(round(n)):,} repeat buyer(s) with "
                                  f"{len(np.unique(m)):,} distinct mean spend(s); the spend model needs at least "
                                  f"{MIN_REPEAT_BUYERS} repeat buyers whose spend varies"
                                  "\nWhat to do: use a longer history or more customers (more repeat buyers)")
        pen = self.penalizer
        total = self._sums(x, m, w)

        def nll(z):
            pr = np.exp(z)
            f, g = total(pr)
            f = -f / n + pen * np.sum(pr ** 2)
            if not np.isfinite(f):
                return 1e10, np.zeros_like(z)
            return f, -g / n * pr + pen * 2 * pr * pr

        start = initial if isinstance(initial, GammaGammaFitter) else None
        if initial is not None:
            x0 = np.log([(start.params_ if start else initial)[k] for k in self.param_names])
        else:
            mean = (w @ m) / n
            x0 = np.log([2.0, 2.0, mean])  # E[M] = p*gamma/(q-1) = 4*mean/... rough, refined by ML
        res = _minimize(nll, x0, "Gamma-Gamma", hess_inv0=start._hess_inv if start else None)
        pr = np.exp(res.x)
        if start is None:
            _check_spend_fit(dict(zip(self.param_names, map(float, pr))), pen, int(round(n)), x, w)
        ll = total(pr, with_grad=False)[0]
        se, self._hess_inv = _se_from_hessian(nll, res.x, n) if pen == 0 and not start else (np.full(3, np.nan), None)
        self.params_ = dict(zip(self.param_names, map(float, pr)))
        self.result_ = FitResult("Gamma-Gamma", self.params_, float(ll), int(round(n)), True,
                                 int(getattr(res, "nit", 0)), pen, dict(zip(self.param_names, map(float, se))),
                                 res.get("method", "BFGS"))
        return self

    def expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """E[spend per transaction | x, mean spend]; the population mean when x = 0."""
        if self.params_ is None:
            raise JourneyParameterError("fit the model first (GammaGammaFitter().fit(summary))")
        p, q, g = (self.params_[k] for k in self.param_names)
        x = np.asarray(frequency, float)
        m = np.nan_to_num(np.asarray(monetary_value, float))
        return (p * (g + x * m)) / (p * x + q - 1)



class ModifiedBetaGeoFitter(BetaGeoFitter):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of
    models for customer base analysis", IJRM 24(3)): BG/NBD in which a customer may also drop
    out right after the first purchase, so a customer without repeat purchases is not
    certainly alive. Same parameters ``r, alpha, a, b`` and the same fit on distinct rows.

    Likelihood: ``Gamma(r+x) alpha^r / Gamma(r) * [B(a, b+x+1) (alpha+T)^-(r+x) + B(a+1, b+x)
    (alpha+t_x)^-(r+x)] / B(a, b)``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import ModifiedBetaGeoFitter, customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> mbgf = ModifiedBetaGeoFitter().fit(summary)
    >>> {k: round(v, 1) for k, v in mbgf.params_.items()}
    {'r': 1.9, 'alpha': 6.6, 'a': 0.5, 'b': 3.9}
    >>> float(mbgf.probability_alive(0, 0.0, 10.0).round(2)) < 1  # a one-time buyer may be gone
    True
    """

    model_name = "MBG/NBD"
    drop_out = "after the first and after each repeat purchase"

    @staticmethod
    def _ll(params: np.ndarray, x, tx, T, with_grad: bool = True, codes=None):
        r, al, a, b = params
        (ux, xi), (uT, Ti), (utx, txi) = codes if codes is not None else _codes(x, T, tx)
        gl, dg, xr = special.gammaln, special.digamma, r + x
        A1 = (gl(r + ux) - gl(r))[xi] + r * np.log(al)
        K = (gl(a + b) - gl(b) + gl(b + ux) - gl(a + b + ux + 1))[xi]
        log_T, log_tx = np.log(al + uT)[Ti], np.log(al + utx)[txi]
        A3 = np.log(b + ux)[xi] - xr * log_T       # alive at T
        A4 = np.log(a) - xr * log_tx                # dropped out right after the last purchase
        lse = np.logaddexp(A3, A4)
        ll = A1 + K + lse
        if not with_grad:
            return ll, None
        w3 = np.exp(A3 - lse)
        w4 = 1 - w3
        d_r = (dg(r + ux) - dg(r))[xi] + np.log(al) - w3 * log_T - w4 * log_tx
        d_al = r / al - xr * (w3 * (1 / (al + uT))[Ti] + w4 * (1 / (al + utx))[txi])
        d_a = (dg(a + b) - dg(a + b + ux + 1))[xi] + w4 / a
        d_b = (dg(a + b) - dg(b) + dg(b + ux) - dg(a + b + ux + 1))[xi] + w3 * (1 / (b + ux))[xi]
        return ll, np.stack([d_r, d_al, d_a, d_b])

    @staticmethod
    def _per_x(r, al, a, b, ux):
        """:class:`_MixtureSums` terms of MBG/NBD: ``c = log a - log(b + x)`` (every row)."""
        gl, dg = special.gammaln, special.digamma
        P = (gl(r + ux) - gl(r) + r * np.log(al) + gl(a + b) - gl(b) + gl(b + ux) - gl(a + b + ux + 1)
             + np.log(b + ux))
        P_r = dg(r + ux) - dg(r) + np.log(al)
        P_a = dg(a + b) - dg(a + b + ux + 1)
        P_b = dg(a + b) - dg(b) + dg(b + ux) - dg(a + b + ux + 1) + 1 / (b + ux)
        return P, P_r, P_a, P_b, np.log(a) - np.log(b + ux), -1 / (b + ux)

    @classmethod
    def _sums(cls, x, tx, T, w):
        return _MixtureSums(cls._per_x, x, tx, T, w, mixture_all=True)

    def expected_purchases(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases of a new customer in ``(0, t]`` (unconditional E[X(t)])."""
        r, al, a, b = self._p()
        t = np.asarray(t, float)
        hyp = special.hyp2f1(r, b + 1, a + b, t / (al + t))
        return b / (a - 1) * (1 - (al / (al + t)) ** r * hyp)

    def _purchases_if_alive(self, t, x, T) -> np.ndarray:
        """E[purchases in (T, T + t] | alive at T] (posterior r+x, alpha+T, a, b+x+1)."""
        r, al, a, b = self._p()
        t = np.asarray(t, float)
        hyp = special.hyp2f1(r + x, b + x + 1, a + b + x, t / (al + T + t))
        return (a + b + x) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp)

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still alive at T | history): below 1 also without repeat purchases."""
        r, al, a, b = self._p()
        x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
        return 1 / (1 + a / (b + x) * ((al + T) / (al + tx)) ** (r + x))


MAX_PARETO_S = 100.0
"""Largest Pareto/NBD dropout shape ``s`` searched. Beyond it the lifetimes are practically
exponential with one rate (BG/NBD-like data push ``s`` and ``beta`` up together without
end), and the hypergeometric series converges so slowly that one likelihood takes seconds
and returns NaN; the fit then reports non-convergence and :func:`compare_models` leaves
Pareto/NBD out, saying so."""


class ParetoNBDFitter(BetaGeoFitter):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases at a Gamma(r, alpha) mixed
    Poisson rate, lifetimes Exponential with a Gamma(s, beta) mixed rate; fitted by maximum
    likelihood on the distinct ``(frequency, recency, T)`` rows.

    The likelihood and the conditional expectations follow Fader & Hardie (2005), "A Note on
    Deriving the Pareto/NBD Model and Related Expressions" (the Gauss hypergeometric form,
    taking ``max(alpha, beta)`` so its argument stays in [0, 1)). The gradient is taken by
    central differences (the hypergeometric function's parameter derivatives have no closed
    form in scipy). On the CDNOW calibration sample it gives r = 0.553, alpha = 10.58,
    s = 0.606, beta = 11.67, log-likelihood -9,595.0 (:data:`PARETO_NBD_CDNOW_PUBLISHED`).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import ParetoNBDFitter, customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> pnbd = ParetoNBDFitter().fit(summary)
    >>> pnbd.result_.converged, round(pnbd.params_["r"], 1), round(pnbd.params_["s"], 1)
    (True, 1.5, 10.7)
    """

    param_names = ("r", "alpha", "s", "beta")
    model_name = "Pareto/NBD"

    @property
    def reading(self) -> str:
        """The fit in words: how often an active customer buys, and the share still active a year
        after the first purchase (``(beta / (beta + t)) ** s``, t one year).

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.loyalty.clv import ParetoNBDFitter, customer_summary
        >>> pnbd = ParetoNBDFitter().fit(customer_summary(jl.load_dataset("sample").events))
        >>> print(pnbd.reading)
        While active, a customer buys about 0.24 times a week on average (Pareto/NBD fitted on 1,292 customers); about 41% are still active a year after their first purchase.
        """
        p = self._fitted()
        year = UNITS_PER_YEAR[self.time_unit or "W"]
        alive = (p["beta"] / (p["beta"] + year)) ** p["s"]
        return f"{self._purchase_rate()}; about {alive:.0%} are still active a year after their first purchase."

    @staticmethod
    def _dropout_start(T: np.ndarray, w: np.ndarray) -> tuple[float, float]:
        return 1.0, float(max((w @ T) / w.sum(), 1e-3))

    @staticmethod
    def _terms(params, x, tx, T, pairs=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(constant, log of the alive term, log of the died-in-(t_x, T] term)`` per row.

        ``pairs``: :func:`_pairs` of the rows, when the caller evaluates many parameter sets on them."""
        r, al, s, be = params
        gl = special.gammaln
        rsx = r + s + x
        big, diff = (al, al - be) if al >= be else (be, be - al)

        # Euler's transformation, 2F1(a, b; a+1; z) = (1 - z)^(1 - b) 2F1(1, a + 1 - b; a + 1; z): a series
        # of positive terms with ratio below z, which scipy evaluates without the overflow (NaN) that the
        # untransformed form hits for large a near z = 1
        def log_term(xs, t):
            a = r + s + xs
            p2 = s + 1 if al >= be else r + xs
            z = diff / (big + t)
            return (1 - p2) * np.log1p(-z) + np.log(special.hyp2f1(1.0, a + 1 - p2, a + 1, z)) - a * np.log(big + t)

        # each term depends on (x, t_x) or (x, T) alone: evaluated once per distinct pair, about a tenth
        # of the distinct rows, as the hypergeometric function dominates the fit's time
        (xa, ta, ia), (xb, tb, ib) = pairs if pairs is not None else _pairs(x, tx, T)
        shape = np.broadcast(x, tx, T).shape
        log1 = log_term(xa, ta)[ia].reshape(shape)
        log2 = log_term(xb, tb)[ib].reshape(shape)
        with np.errstate(divide="ignore"):  # t_x == T: nobody can have died in between
            log_a0 = log1 + np.log(-np.expm1(np.minimum(log2 - log1, 0.0)))
        const = gl(r + x) - gl(r) + r * np.log(al) + s * np.log(be)
        alive = -(r + x) * np.log(al + T) - s * np.log(be + T)
        died = np.log(s) - np.log(rsx) + log_a0
        return const, alive, died

    @classmethod
    def _sums(cls, x, tx, T, w):
        # no closed-form gradient (hypergeometric parameters): row-level likelihood, central differences
        pairs = _pairs(x, tx, T)
        return _row_sums(lambda params, x, tx, T, with_grad=True, codes=None:
                         cls._ll(params, x, tx, T, with_grad=with_grad, pairs=pairs), x, tx, T, w)

    @classmethod
    def _ll(cls, params: np.ndarray, x, tx, T, with_grad: bool = True, codes=None, pairs=None):
        pairs = pairs if pairs is not None else _pairs(x, tx, T)

        def ll_of(p):
            # far from the optimum the terms can be inf - inf: NaN, which the fit treats as "worse"
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                c, alive, died = cls._terms(p, x, tx, T, pairs)
                return c + np.logaddexp(alive, died)

        params = np.asarray(params, float)
        if params[2] > MAX_PARETO_S:  # see MAX_PARETO_S: no finite, fast likelihood out there
            ll = np.full(np.shape(x), -np.inf)
            return ll, (np.zeros((4, *np.shape(x))) if with_grad else None)
        ll = ll_of(params)
        if not with_grad:
            return ll, None
        grads = []
        for j in range(4):
            h = np.zeros(4)
            h[j] = 1e-6 * params[j]
            grads.append((ll_of(params + h) - ll_of(params - h)) / (2 * h[j]))
        return ll, np.stack(grads)

    def expected_purchases(self, t: float | np.ndarray) -> np.ndarray:
        """Expected purchases of a new customer in ``(0, t]`` (unconditional E[X(t)])."""
        r, al, s, be = self._p()
        return self._alive_rate_integral(np.asarray(t, float), r, al, s, be, 0.0, 0.0)

    @staticmethod
    def _alive_rate_integral(t, r, al, s, be, x, T) -> np.ndarray:
        """(r+x)/(alpha+T) * integral_0^t P(alive at T+u | alive at T) du."""
        base = be + T
        if abs(s - 1) < 1e-8:
            life = base * np.log((base + t) / base)
        else:
            life = base / (s - 1) * (1 - (base / (base + t)) ** (s - 1))
        return (r + x) / (al + T) * life

    def _purchases_if_alive(self, t, x, T) -> np.ndarray:
        """E[purchases in (T, T + t] | alive at T] (depends on the history through x and T only)."""
        r, al, s, be = self._p()
        return self._alive_rate_integral(np.asarray(t, float), r, al, s, be, np.asarray(x, float),
                                         np.asarray(T, float))

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still alive at T | history)."""
        x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
        _, alive, died = self._terms(np.array(list(self._p()), float), x, tx, T)
        return np.exp(alive - np.logaddexp(alive, died))


def _gg_arrays(summary):
    x, = _summary_arrays(summary, ("frequency",))
    if "monetary_value" not in summary.columns:
        raise JourneyDataError("summary: missing column 'monetary_value' (mean repeat-purchase value)")
    m = pd.to_numeric(summary["monetary_value"], errors="coerce").to_numpy(float)
    return x, m


# --------------------------------------------------------------------------- CLV

def _clv_values(bgf: BetaGeoFitter, ggf: GammaGammaFitter, x, tx, T, m, horizon: float,
                discount_rate: float, time_unit: str, steps_per_year: int = 12,
                xT_codes: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Sum over steps of (expected purchases in the step) x expected spend x discount.

    Expected purchases = P(alive | x, t_x, T) x E[purchases | alive, x, T]; the second
    factor, the costly one (a hypergeometric function per step), is evaluated once per
    distinct (x, T) (``xT_codes``: those pairs and each row's index into them).
    """
    per_year = UNITS_PER_YEAR[time_unit]
    step = per_year / steps_per_year
    n_steps = max(1, int(np.ceil(horizon / step - 1e-9)))
    edges = np.minimum(np.arange(1, n_steps + 1) * step, horizon)
    xT, inv = xT_codes if xT_codes is not None else _distinct_rows(x, T)
    prev = np.zeros(len(xT))
    alive_total = np.zeros(len(xT))
    for e in edges:
        cum = bgf._purchases_if_alive(e, xT[:, 0], xT[:, 1])
        alive_total += (cum - prev) / (1 + discount_rate) ** (e / per_year)
        prev = cum
    return alive_total[inv] * bgf.probability_alive(x, tx, T) * ggf.expected_spend(x, m)


def _codes(*cols: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per column: its distinct values and each row's index into them."""
    return tuple(np.unique(c, return_inverse=True) for c in cols)


def _pairs(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The distinct ``(x, t_x)`` and ``(x, T)`` pairs of the rows, each with every row's index into them."""
    x, tx, T = (a.ravel() for a in np.broadcast_arrays(*(np.asarray(v, float) for v in (x, tx, T))))
    out = []
    for t in (tx, T):
        inv, uniq = pd.factorize(x + 1j * t)  # one hash of both values
        out.append((uniq.real.copy(), uniq.imag.copy(), inv))
    return out[0], out[1]


def customer_lifetime_value(summary: pd.DataFrame, bgf: BetaGeoFitter, ggf: GammaGammaFitter, *,
                            horizon: float = 52.0, discount_rate: float = 0.10,
                            time_unit: str | None = None) -> pd.DataFrame:
    """Discounted CLV per customer over ``horizon`` time units.

    Expected purchases per month (BG/NBD, conditional on each history) times the
    expected spend per purchase (Gamma-Gamma), discounted at ``discount_rate`` per year.

    Parameters
    ----------
    summary
        Customer summary from :func:`customer_summary`.
    bgf
        A fitted purchase model (:class:`BetaGeoFitter` or a subclass).
    ggf
        A fitted :class:`GammaGammaFitter`.
    horizon
        How far ahead, in time units.
    discount_rate
        Yearly discount rate, in [0, 1).
    time_unit
        ``"D"``, ``"W"`` or ``"M"`` (default: the summary's, else the model's, else weeks).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (if present), ``frequency, recency, T, monetary_value``,
        ``expected_purchases`` (over the horizon), ``p_alive``, ``expected_spend``, ``clv``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import (BetaGeoFitter, GammaGammaFitter, customer_lifetime_value,
    ...                                     customer_summary)
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> clv = customer_lifetime_value(summary, BetaGeoFitter().fit(summary), GammaGammaFitter().fit(summary),
    ...                               horizon=52)
    >>> clv[["customer_id", "p_alive", "expected_spend", "clv"]].head(2).round(2)
      customer_id  p_alive  expected_spend     clv
    0     C000002     0.96           15.25  311.29
    1     C000003     0.89           25.18  167.57
    """
    if not is_number(horizon) or horizon <= 0:
        raise JourneyParameterError(f"horizon={horizon!r}; expected a positive number of time units")
    if not is_number(discount_rate) or not 0 <= discount_rate < 1:
        raise JourneyParameterError(f"discount_rate={discount_rate!r}; expected a yearly rate in [0, 1)")
    unit = time_unit or summary.attrs.get("time_unit") or bgf.time_unit or "W"
    x, tx, T = _summary_arrays(summary)
    _, m = _gg_arrays(summary)
    cols = [c for c in ("customer_id", "frequency", "recency", "T", "monetary_value") if c in summary.columns]
    out = summary[cols].copy()
    out["expected_purchases"] = bgf.conditional_expected_purchases(horizon, x, tx, T)
    out["p_alive"] = bgf.probability_alive(x, tx, T)
    out["expected_spend"] = ggf.expected_spend(x, m)
    out["clv"] = _clv_values(bgf, ggf, x, tx, T, m, horizon, discount_rate, unit)
    out.attrs.update(horizon=horizon, discount_rate=discount_rate, time_unit=unit)
    return out


@dataclass(frozen=True, repr=False)
class CLVBootstrap(Result):
    """Bootstrap (resampling customers, refitting both models) intervals for CLV.

    The intervals reflect parameter uncertainty only, not the randomness of each
    customer's future purchases. ``per_customer`` has ``clv, ci_low, ci_high`` per
    customer; ``total`` is ``(estimate, ci_low, ci_high)`` of the summed CLV, the
    headline estimate (:meth:`confidence_interval`).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import clv_bootstrap, customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> boot = clv_bootstrap(summary, n_boot=20, seed=0)
    >>> boot.summary["quantity"].tolist()
    ['total CLV', 'CLV per customer']
    >>> print(boot.findings[0].text)
    An average customer is worth 212.6 over the next 52 weeks (205.2 to 221.0), discounted at 10% a year.
    """

    per_customer: pd.DataFrame
    total: tuple[float, float, float]
    params: pd.DataFrame
    n_boot: int
    confidence_level: float
    horizon: float = float("nan")
    discount_rate: float = float("nan")
    time_unit: str = "W"
    total_draws: np.ndarray | None = field(default=None, compare=False)
    n_failed: int = 0
    fit_checks: tuple[Check, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """``quantity`` (total CLV, CLV per customer), ``estimate, ci_low, ci_high``."""
        est, lo, hi = self.total
        n = len(self.per_customer)
        return pd.DataFrame({"quantity": ["total CLV", "CLV per customer"], "estimate": [est, est / n],
                             "ci_low": [lo, lo / n], "ci_high": [hi, hi / n]})

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Percentile interval of the total CLV, the headline estimate (from the kept replicates)."""
        if not is_number(confidence_level) or not 0 < confidence_level < 1:
            raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number in (0, 1)")
        if confidence_level == self.confidence_level:
            return self.total[1], self.total[2]
        if self.total_draws is None:
            raise JourneyParameterError(f"confidence_level={confidence_level}: no replicates kept; only "
                                        f"{self.confidence_level} is available")
        tail = (1 - confidence_level) / 2
        lo, hi = np.quantile(self.total_draws, [tail, 1 - tail])
        return float(lo), float(hi)

    def _per_customer(self) -> tuple[float, float, float]:
        n = len(self.per_customer)
        return tuple(float(v) / n for v in self.total)

    @property
    def reading(self) -> str:
        """The value of an average customer over the horizon, with its interval, in words."""
        est, lo, hi = self._per_customer()
        unit = UNIT_NAMES.get(self.time_unit, self.time_unit)
        return (f"Expected value of an average customer over the next {self.horizon:g} {unit}: {est:,.1f} "
                f"({self.confidence_level:.0%} CI {lo:,.1f}-{hi:,.1f}; parameter uncertainty only), discounted at "
                f"{self.discount_rate:.0%} a year.")

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Value of an average customer and of the whole base over the horizon, with intervals."""
        est, lo, hi = self._per_customer()
        unit = UNIT_NAMES.get(self.time_unit, self.time_unit)
        t_est, t_lo, t_hi = self.total
        return (
            Finding(f"An average customer is worth {est:,.1f} over the next {self.horizon:g} {unit} "
                    f"({lo:,.1f} to {hi:,.1f}), discounted at {self.discount_rate:.0%} a year.", est, lo, hi,
                    action="Spend at most this much to keep an average customer; less to acquire one who may "
                           "never come back."),
            Finding(f"All {len(self.per_customer):,} customers together are worth {t_est:,.0f} "
                    f"({t_lo:,.0f} to {t_hi:,.0f}); the interval covers the model's uncertainty only.",
                    t_est, t_lo, t_hi),
        )

    @property
    def checks(self) -> tuple[Check, ...]:
        requested = self.n_boot + self.n_failed
        boot = Check("CLV bootstrap replicates converged", "pass" if self.n_failed == 0 else "warn",
                     f"{self.n_boot} of {requested} replicates converged")
        return (*self.fit_checks, boot)

    def _float_format(self) -> str:
        return "{:,.1f}"

    def plot(self, ax=None):
        """Histogram of per-customer CLV with the bootstrap interval of the mean."""
        return plots.plot_clv_distribution(self, ax=ax)

    def __repr__(self) -> str:
        est, lo, hi = self.total
        return (f"CLVBootstrap(total={est:,.0f}, {self.confidence_level:.0%} CI [{lo:,.0f}, {hi:,.0f}], "
                f"n_boot={self.n_boot}, customers={len(self.per_customer):,})")


def clv_bootstrap(summary: pd.DataFrame, *, horizon: float = 52.0, discount_rate: float = 0.10,
                  n_boot: int = 200, confidence_level: float = 0.95, seed: int = 0,
                  penalizer: float = 0.0, time_unit: str | None = None) -> CLVBootstrap:
    """Fit BG/NBD + Gamma-Gamma, then bootstrap customers to get percentile intervals.

    Each replicate draws customers with replacement (frequency weights, :func:`journeylib.core.intervals.bootstrap_weights`),
    refits both models starting from the full-data estimates, and recomputes every
    customer's CLV. Returns per-customer ``clv, ci_low, ci_high`` and the total.

    Parameters
    ----------
    summary
        Customer summary from :func:`customer_summary`.
    horizon
        How far ahead, in time units.
    discount_rate
        Yearly discount rate, in [0, 1).
    n_boot
        Bootstrap replicates (at least 10).
    confidence_level
        Level of the percentile intervals.
    seed
        Seed of the resampling.
    penalizer
        L2 penalty of both fits (see :class:`BetaGeoFitter`).
    time_unit
        ``"D"``, ``"W"`` or ``"M"`` (default: the summary's, else weeks).

    Returns
    -------
    CLVBootstrap
        Per-customer and total CLV with intervals, the replicates' parameters, findings and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import clv_bootstrap, customer_summary
    >>> summary = customer_summary(jl.load_dataset("sample").events)
    >>> boot = clv_bootstrap(summary, horizon=52, n_boot=20, seed=0)
    >>> low, high = boot.confidence_interval()
    >>> round(boot.total[0], -3), round(low, -3), round(high, -3)
    (275000.0, 265000.0, 286000.0)
    """
    if n_boot < 10:
        raise JourneyParameterError(f"n_boot={n_boot}; expected at least 10 replicates")
    if not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level}; expected a number in (0, 1)")
    unit = time_unit or summary.attrs.get("time_unit") or "W"
    bgf = BetaGeoFitter(penalizer).fit(summary)
    ggf = GammaGammaFitter(penalizer).fit(summary)
    base = customer_lifetime_value(summary, bgf, ggf, horizon=horizon, discount_rate=discount_rate, time_unit=unit)
    x, tx, T = _summary_arrays(summary)
    _, m = _gg_arrays(summary)
    # evaluate CLV on distinct histories to keep replicates cheap
    uniq, inv = _distinct_rows(x, tx, T, np.nan_to_num(m))
    xT_codes = _distinct_rows(uniq[:, 0], uniq[:, 2])
    # BG/NBD needs only (x, t_x, T): a replicate's weights summed per distinct history give
    # the same likelihood over far fewer rows than one row per drawn customer
    hist, h_inv = _distinct_rows(x, tx, T)
    # Gamma-Gamma likewise on distinct (x, mean spend): one row per drawn customer copied the summary
    spend, s_inv = _distinct_rows(x, np.nan_to_num(m))
    spend = pd.DataFrame({"frequency": spend[:, 0], "monetary_value": spend[:, 1]})
    rng = np.random.default_rng(seed)
    n = len(x)
    draws, pars = [], []
    for _ in range(n_boot):
        w = bootstrap_weights(rng, n)
        hw = np.bincount(h_inv, weights=w, minlength=len(hist))
        hs = hw > 0
        sw = np.bincount(s_inv, weights=w, minlength=len(spend))
        ss = sw > 0
        try:
            b = BetaGeoFitter(penalizer)
            b._fit_arrays(hist[hs, 0], hist[hs, 1], hist[hs, 2], hw[hs], initial=bgf)
            g = GammaGammaFitter(penalizer).fit(spend[ss], weights=sw[ss], initial=ggf)
        except JourneyFitError:
            continue
        values = _clv_values(b, g, uniq[:, 0], uniq[:, 1], uniq[:, 2], uniq[:, 3], horizon,
                             discount_rate, unit, xT_codes=xT_codes)
        if not np.all(np.isfinite(values)):  # a replicate at the edge of the parameter space: no usable values
            continue
        draws.append(values)
        pars.append({**b.params_, **g.params_})
    if len(draws) < n_boot / 2:
        raise JourneyFitError(f"CLV bootstrap: only {len(draws)} of {n_boot} replicates converged to finite values "
                              f"({int((x > 0).sum()):,} of {n:,} customers made a repeat purchase)"
                              "\nWhat to do: pass penalizer=0.001 to regularise, or use a longer history")
    d = np.array(draws)
    alpha = (1 - confidence_level) / 2
    lo_u, hi_u = np.quantile(d, [alpha, 1 - alpha], axis=0)
    per = base.copy()
    per["ci_low"], per["ci_high"] = lo_u[inv], hi_u[inv]
    totals = d[:, inv].sum(axis=1) if len(inv) * len(d) < 5e7 else np.array(
        [np.bincount(inv, minlength=len(uniq)) @ row for row in d])
    lo_t, hi_t = np.quantile(totals, [alpha, 1 - alpha])
    return CLVBootstrap(per, (float(per["clv"].sum()), float(lo_t), float(hi_t)), pd.DataFrame(pars),
                        len(draws), confidence_level, float(horizon), float(discount_rate), unit,
                        totals, n_boot - len(draws), (*bgf.checks, *ggf.checks))


# --------------------------------------------------------------------------- calibration / holdout

@dataclass(frozen=True, repr=False)
class CalibrationCheck(Result):
    """Predicted vs actual holdout purchases by calibration-period frequency.

    ``table`` (also ``summary``): ``frequency_bucket, customers, actual, predicted``
    (mean holdout purchases per customer).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import BetaGeoFitter, calibration_holdout, customer_summary, holdout_split
    >>> events = jl.load_dataset("sample").events
    >>> cal, hold = holdout_split(events)
    >>> summary = customer_summary(events, calibration_end=cal, holdout_end=hold)
    >>> check = calibration_holdout(summary, BetaGeoFitter().fit(summary))
    >>> check.summary.head(2).round(2)
      frequency_bucket  customers  actual  predicted
    0                0        211    1.36       1.55
    1                1        146    2.35       2.09
    """

    table: pd.DataFrame
    duration: float
    time_unit: str

    TOLERANCE = 0.2
    """Relative gap between predicted and actual holdout totals above which the check warns."""

    REPEATER_TOLERANCE = 0.5
    """Relative gap between predicted and actual holdout purchases of the calibration repeat buyers above
    which the check warns: the total can match while the model writes off every repeat buyer (their
    predictions near zero) and over-predicts the one-time buyers."""

    @property
    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def total_actual(self) -> float:
        return float((self.table["actual"] * self.table["customers"]).sum())

    @property
    def total_predicted(self) -> float:
        return float((self.table["predicted"] * self.table["customers"]).sum())

    @property
    def gap(self) -> float:
        """Predicted / actual holdout purchases - 1."""
        return self.total_predicted / self.total_actual - 1 if self.total_actual else float("nan")

    def _repeat_rows(self) -> pd.DataFrame:
        return self.table[self.table["frequency_bucket"].astype(str) != "0"]

    @property
    def repeaters(self) -> int:
        """Customers who bought again in the calibration period (calibration frequency 1 or more)."""
        return int(self._repeat_rows()["customers"].sum())

    @property
    def actual_per_repeater(self) -> float:
        """Mean holdout purchases of the calibration repeat buyers."""
        r = self._repeat_rows()
        return float((r["actual"] * r["customers"]).sum() / r["customers"].sum()) if len(r) else float("nan")

    @property
    def predicted_per_repeater(self) -> float:
        """The model's mean holdout purchases of the calibration repeat buyers."""
        r = self._repeat_rows()
        return float((r["predicted"] * r["customers"]).sum() / r["customers"].sum()) if len(r) else float("nan")

    @property
    def repeater_gap(self) -> float:
        """Predicted / actual holdout purchases of the calibration repeat buyers - 1."""
        a = self.actual_per_repeater
        return self.predicted_per_repeater / a - 1 if np.isfinite(a) and a > 0 else float("nan")

    def _ok(self) -> bool:
        return bool(np.isfinite(self.gap) and abs(self.gap) <= self.TOLERANCE)

    def _repeaters_ok(self) -> bool:
        g = self.repeater_gap
        return not np.isfinite(g) or abs(g) <= self.REPEATER_TOLERANCE

    def _sentences(self) -> tuple[str, str]:
        unit = UNIT_NAMES.get(self.time_unit, self.time_unit)
        total = (f"Over the {self.duration:.3g}-{unit[:-1] if unit.endswith('s') else unit} holdout customers made "
                 f"{self.total_actual:,.0f} repeat purchase days and the model predicted "
                 f"{self.total_predicted:,.0f} ({_signed_percent(self.gap)}).")
        if not self.repeaters:
            return total, ""
        pred, act = self.predicted_per_repeater, self.actual_per_repeater
        rep = (f"The {self.repeaters:,} customers who had bought again before the holdout made {_per(act)} purchase "
               f"days each in it; the model predicted {_per(pred)} ({_signed_percent(self.repeater_gap)})")
        if not self._repeaters_ok() and pred < act:
            rep += ": it wrongly treats repeat buyers as lost"
        elif not self._repeaters_ok():
            rep += ": it overrates repeat buyers"
        return total, rep + "."

    @property
    def reading(self) -> str:
        """Actual vs predicted holdout purchases, in total and for the customers who bought again before the
        holdout (the total alone can match while every repeat buyer is written off)."""
        total, rep = self._sentences()
        text = f"{total} {rep}".strip()
        if not (self._ok() and self._repeaters_ok()):
            text += " Treat the lifetime values as unreliable."
        return text

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The holdout total against the prediction and, when any, the calibration repeat buyers' purchases
        against theirs."""
        total, rep = self._sentences()
        out = [Finding(total, self.gap, action="" if self._ok() else "Treat the lifetime values as rough: the "
                                                                    "model misses the holdout by more than 20%.")]
        if rep:
            out.append(Finding(rep, self.predicted_per_repeater,
                               action="" if self._repeaters_ok() else
                               "Do not use these lifetime values to rank or target customers: the model misses what "
                               "repeat buyers do; use a longer history or more customers."))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        out = [Check("CLV model predicts the holdout within 20%", "pass" if self._ok() else "warn",
                     f"predicted {self.total_predicted:,.0f} vs actual {self.total_actual:,.0f} "
                     f"({_signed_percent(self.gap)})")]
        if self.repeaters:
            out.append(Check("CLV model predicts repeat buyers' holdout purchases within 50%",
                             "pass" if self._repeaters_ok() else "warn",
                             f"{self.repeaters:,} repeat buyers: predicted {_per(self.predicted_per_repeater)} vs "
                             f"actual {_per(self.actual_per_repeater)} purchase days each "
                             f"({_signed_percent(self.repeater_gap)})"))
        return tuple(out)

    def plot(self, ax=None):
        """Mean actual vs predicted holdout purchases per calibration frequency."""
        return plots.plot_calibration(self, ax=ax)

    def __repr__(self) -> str:
        return self.reading


def _per(x: float) -> str:
    """A mean number of purchases for people: ``0.267``, ``1.4``, ``less than 0.001`` (never 1.95e-10)."""
    if not np.isfinite(x):
        return "–"
    if 0 < x < 0.001:
        return "less than 0.001"
    return f"{x:.3f}" if x < 1 else f"{x:,.2f}"


def _signed_percent(g: float) -> str:
    """A relative gap: ``+7%``, ``-100%``, ``–`` when undefined."""
    return f"{g:+.0%}" if np.isfinite(g) else "–"


def calibration_holdout(summary: pd.DataFrame, bgf: BetaGeoFitter, *, max_frequency: int = 7) -> CalibrationCheck:
    """Compare holdout purchases with the model's conditional expectations.

    ``summary`` must come from :func:`customer_summary` with ``holdout_end`` (columns
    ``frequency_holdout, duration_holdout``); the model is fitted on the calibration
    columns. Customers are grouped by calibration frequency ``0 .. max_frequency+``.

    Parameters
    ----------
    summary
        Customer summary with a holdout (``customer_summary(..., holdout_end=...)``).
    bgf
        A purchase model fitted on that summary.
    max_frequency
        Calibration frequencies from this one up form one group (``7+``).

    Returns
    -------
    CalibrationCheck
        Mean actual and predicted holdout purchases per group, totals, findings and checks.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import BetaGeoFitter, calibration_holdout, customer_summary, holdout_split
    >>> events = jl.load_dataset("sample").events
    >>> cal, hold = holdout_split(events)
    >>> summary = customer_summary(events, calibration_end=cal, holdout_end=hold)
    >>> check = calibration_holdout(summary, BetaGeoFitter().fit(summary))
    >>> print(check.findings[0].text)
    Over the 25.9-week holdout customers made 2,969 repeat purchase days and the model predicted 3,021 (+2%).
    """
    for c in ("frequency_holdout", "duration_holdout"):
        if c not in summary.columns:
            raise JourneyDataError(f"summary: missing column '{c}'; build it with customer_summary(..., holdout_end=...)")
    x, tx, T = _summary_arrays(summary)
    dur = pd.to_numeric(summary["duration_holdout"]).to_numpy(float)
    pred = bgf.conditional_expected_purchases(dur, x, tx, T)
    bucket = np.minimum(x, max_frequency).astype(int)
    df = pd.DataFrame({"b": bucket, "actual": summary["frequency_holdout"].to_numpy(float), "predicted": pred})
    tab = df.groupby("b").agg(customers=("actual", "size"), actual=("actual", "mean"),
                              predicted=("predicted", "mean")).reset_index()
    tab["frequency_bucket"] = [f"{b}+" if b == max_frequency else str(b) for b in tab["b"]]
    tab = tab[["frequency_bucket", "customers", "actual", "predicted"]]
    unit = summary.attrs.get("time_unit") or bgf.time_unit or "W"
    return CalibrationCheck(tab, float(np.median(dur)), unit)


# --------------------------------------------------------------------------- model comparison on a holdout

MODELS: dict[str, type[BetaGeoFitter]] = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter,
                                          "pareto_nbd": ParetoNBDFitter}
"""The purchase models :func:`compare_models` can fit, by key."""


@dataclass(frozen=True, repr=False)
class ModelComparison(Result):
    """BG/NBD, MBG/NBD and Pareto/NBD fitted on the same calibration summary, compared on the holdout.

    ``summary``: one row per model: ``key, model, log_likelihood, aic`` (calibration fit;
    every model has 4 parameters), ``mae`` (mean absolute error per customer of the holdout
    purchases) with its interval ``mae_ci_low, mae_ci_high``, ``mse`` (mean squared error
    per customer) with ``mse_ci_low, mse_ci_high``, ``mse_vs_chosen`` (paired difference
    to the chosen model; positive = worse) with ``diff_ci_low, diff_ci_high``,
    ``predicted, actual`` (holdout totals), ``gap`` (predicted / actual - 1), ``chosen``. ``by_frequency``: mean actual and
    predicted holdout purchases per calibration frequency (``frequency_bucket, customers,
    actual`` and one column per model). ``fitters``: the fitted models; ``best`` the
    chosen one, ready for :func:`customer_lifetime_value`.

    The rule: out-of-sample accuracy first, then fit. The models whose holdout squared error
    is not clearly worse than the lowest one (the paired interval of the difference
    includes 0) are kept, and of those the one with the lowest AIC (highest calibration
    log-likelihood, as all have 4 parameters) is chosen. ``reason`` says which step
    decided. Squared error, not absolute error, judges the models: each predicts a
    customer's *expected* purchases, which the squared error rewards; the absolute error is
    smallest for the median, which for most customers is 0, so it favours whichever model
    predicts too low (on data drawn from BG/NBD it prefers Pareto/NBD every time). The
    absolute error is reported because it reads in purchases per customer.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import compare_models, customer_summary, holdout_split
    >>> events = jl.load_dataset("sample").events
    >>> cal, hold = holdout_split(events)
    >>> summary = customer_summary(events, calibration_end=cal, holdout_end=hold)
    >>> comparison = compare_models(summary, models=("bgnbd", "mbgnbd"))
    >>> comparison.summary[["model", "chosen"]]
         model  chosen
    0   BG/NBD   False
    1  MBG/NBD    True
    >>> comparison.best.model_name
    'MBG/NBD'
    """

    table: pd.DataFrame
    by_frequency: pd.DataFrame
    fitters: dict = field(repr=False, compare=False)
    chosen: str
    reason: str
    duration: float
    time_unit: str
    confidence_level: float

    @property
    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def best(self) -> BetaGeoFitter:
        """The chosen model, fitted (use it for the CLV table)."""
        return self.fitters[self.chosen]

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The chosen model with its holdout error and why; how far each other model is from it."""
        t = self.table.set_index("key")
        c = t.loc[self.chosen]
        unit = UNIT_NAMES.get(self.time_unit, self.time_unit)
        out = [Finding(f"{c['model']} is used for lifetime values: over the {self.duration:.3g}-{unit[:-1]} holdout "
                       f"it misses each customer's purchases by {c['mae']:.2f} on average ({c['mae_ci_low']:.2f} to "
                       f"{c['mae_ci_high']:.2f}) and predicts {c['predicted']:,.0f} purchases against "
                       f"{c['actual']:,.0f} made ({c['gap']:+.0%}). {self.reason}", float(c["mae"]),
                       float(c["mae_ci_low"]), float(c["mae_ci_high"]),
                       action="" if abs(c["gap"]) <= CalibrationCheck.TOLERANCE else
                       "Treat the lifetime values as rough: the chosen model misses the holdout by more than 20%.")]
        for key, r in t.drop(index=self.chosen).iterrows():
            out.append(Finding(f"{r['model']} misses by {r['mae']:.2f} purchases per customer; its squared error "
                               f"is {r['mse_vs_chosen']:+.3f} against {c['model']}'s ({r['diff_ci_low']:+.3f} to "
                               f"{r['diff_ci_high']:+.3f}) and its log-likelihood {r['log_likelihood']:,.1f} against "
                               f"{c['log_likelihood']:,.1f}.", float(r["mse_vs_chosen"]), float(r["diff_ci_low"]),
                               float(r["diff_ci_high"])))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        fits = tuple(ch for f in self.fitters.values() for ch in f.checks)
        c = self.table.set_index("key").loc[self.chosen]
        ok = bool(np.isfinite(c["gap"]) and abs(c["gap"]) <= CalibrationCheck.TOLERANCE)
        return (*fits, Check("chosen CLV model predicts the holdout within 20%", "pass" if ok else "warn",
                             f"{c['model']}: predicted {c['predicted']:,.0f} vs actual {c['actual']:,.0f} "
                             f"({c['gap']:+.0%})"))

    def display_table(self) -> pd.DataFrame:
        """The comparison for people: per model, its holdout error per customer with the interval, the
        predicted against the actual holdout purchases, the calibration fit, and which model is used.

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.loyalty.clv import compare_models, customer_summary, holdout_split
        >>> events = jl.load_dataset("sample").events
        >>> cal, hold = holdout_split(events)
        >>> summary = customer_summary(events, calibration_end=cal, holdout_end=hold)
        >>> compare_models(summary, models=("bgnbd", "mbgnbd")).display_table().columns.tolist()
        ['model', 'missed purchases per customer', 'predicted purchases', 'actual purchases', 'gap', 'squared error against the chosen', 'log-likelihood', 'used']
        """
        t = self.table
        return pd.DataFrame({
            "model": t["model"],
            "missed purchases per customer": [f"{v:.2f} ({lo:.2f} to {hi:.2f})"
                                              for v, lo, hi in zip(t["mae"], t["mae_ci_low"], t["mae_ci_high"])],
            "predicted purchases": [f"{v:,.0f}" for v in t["predicted"]],
            "actual purchases": [f"{v:,.0f}" for v in t["actual"]],
            "gap": [f"{v:+.1%}" for v in t["gap"]],
            "squared error against the chosen": [
                "–" if c else f"{v:+.3f} ({lo:+.3f} to {hi:+.3f})"
                for c, v, lo, hi in zip(t["chosen"], t["mse_vs_chosen"], t["diff_ci_low"], t["diff_ci_high"])],
            "log-likelihood": [f"{v:,.1f}" for v in t["log_likelihood"]],
            "used": np.where(t["chosen"], "yes", ""),
        })

    def plot(self, ax=None):
        """Mean actual vs each model's predicted holdout purchases per calibration frequency."""
        return plots.plot_model_comparison(self, ax=ax)

    def _float_format(self) -> str:
        return "{:,.3f}"

    def __repr__(self) -> str:
        return (f"ModelComparison(chosen={self.chosen!r})\n"
                + self.table.drop(columns=["key"]).to_string(index=False, float_format=lambda v: f"{v:,.3f}"))


def compare_models(summary: pd.DataFrame, models: tuple[str, ...] | list[str] = ("bgnbd", "mbgnbd", "pareto_nbd"),
                   *, max_frequency: int = 7, confidence_level: float = 0.95,
                   penalizer: float = 0.0) -> ModelComparison:
    """Fit several purchase models on the calibration columns and compare them on the holdout.

    ``summary`` comes from :func:`customer_summary` with ``holdout_end`` (columns
    ``frequency_holdout, duration_holdout``). Each model (``"bgnbd"``, ``"mbgnbd"``,
    ``"pareto_nbd"``; see :data:`MODELS`) is fitted by maximum likelihood on the distinct
    ``(frequency, recency, T)`` rows, then predicts each customer's holdout purchases
    given their history. Compared: predicted vs actual by calibration frequency (``0 ..
    max_frequency+``), mean absolute and mean squared error per customer (normal intervals,
    and paired intervals of each model's squared-error difference to the chosen one),
    calibration log-likelihood and AIC. See :class:`ModelComparison` for the rule that picks the model.

    Parameters
    ----------
    summary
        Customer summary with a holdout (``customer_summary(..., holdout_end=...)``).
    models
        Keys of the models to compare (see :data:`MODELS`).
    max_frequency
        Calibration frequencies from this one up form one group in ``by_frequency``.
    confidence_level
        Level of the error intervals.
    penalizer
        L2 penalty of every fit (see :class:`BetaGeoFitter`).

    Returns
    -------
    ModelComparison
        One row per model, the fitted models, the chosen one and why.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import compare_models, customer_summary, holdout_split
    >>> events = jl.load_dataset("sample").events
    >>> cal, hold = holdout_split(events)
    >>> summary = customer_summary(events, calibration_end=cal, holdout_end=hold)
    >>> comparison = compare_models(summary, models=("bgnbd", "mbgnbd"))
    >>> comparison.chosen, int(comparison.summary["actual"].iloc[0])
    ('mbgnbd', 2969)
    """
    if isinstance(models, str):
        models = [models]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise JourneyParameterError(f"models={list(models)!r}; expected some of {list(MODELS)}")
    if not is_number(confidence_level) or not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number in (0, 1)")
    for c in ("frequency_holdout", "duration_holdout"):
        if c not in summary.columns:
            raise JourneyDataError(f"summary: missing column '{c}'; build it with customer_summary(..., holdout_end=...)")
    x, tx, T = _summary_arrays(summary)
    dur = pd.to_numeric(summary["duration_holdout"]).to_numpy(float)
    actual = pd.to_numeric(summary["frequency_holdout"]).to_numpy(float)
    z = float(stats.norm.ppf(0.5 + confidence_level / 2))
    n = len(x)
    fitters, errors, rows = {}, {}, []

    def mean_ci(v: np.ndarray) -> tuple[float, float, float]:
        m = float(v.mean())
        se = float(v.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        return m, m - z * se, m + z * se

    bucket = np.minimum(x, max_frequency).astype(int)
    freq = pd.DataFrame({"b": bucket, "actual": actual})
    skipped = {}
    for key in dict.fromkeys(models):
        try:
            f = MODELS[key](penalizer).fit(summary)
        except JourneyFitError as exc:  # one model failing to converge leaves the others to compare
            skipped[MODELS[key].model_name] = str(exc)
            continue
        pred = f.conditional_expected_purchases(dur, x, tx, T)
        fitters[key], errors[key] = f, (pred - actual) ** 2
        freq[key] = pred
        ll = f.result_.log_likelihood
        mae, mse = mean_ci(np.abs(pred - actual)), mean_ci(errors[key])
        rows.append({"key": key, "model": f.model_name, "log_likelihood": ll, "aic": 2 * len(f.param_names) - 2 * ll,
                     "mae": mae[0], "mae_ci_low": mae[1], "mae_ci_high": mae[2],
                     "mse": mse[0], "mse_ci_low": mse[1], "mse_ci_high": mse[2],
                     "predicted": float(pred.sum()), "actual": float(actual.sum())})
    if not rows:
        reasons = "; ".join(_split_advice(m)[0] for m in skipped.values())
        advice = next((_split_advice(m)[1] for m in skipped.values() if _split_advice(m)[1]), "")
        raise JourneyFitError(f"compare_models: no model could be fitted: {reasons}"
                              + (f"\nWhat to do: {advice}" if advice else ""))
    table = pd.DataFrame(rows)
    table["gap"] = table["predicted"] / table["actual"] - 1 if actual.sum() else np.nan
    lowest = str(table.loc[table["mse"].idxmin(), "key"])

    def paired(a: str, b: str) -> tuple[float, float, float]:
        return mean_ci(errors[a] - errors[b])

    kept = [k for k in table["key"] if k == lowest or paired(k, lowest)[1] <= 0]
    cand = table[table["key"].isin(kept)].sort_values("aic", kind="stable")
    chosen = str(cand.iloc[0]["key"])
    name = {r["key"]: r["model"] for r in rows}
    if len(kept) == 1:
        reason = (f"No other model comes as close to the holdout ({name[chosen]} has the lowest squared error, "
                  "clearly).")
    elif chosen == lowest:
        others = ", ".join(name[k] for k in kept if k != chosen)
        reason = (f"Its holdout squared error is the lowest; {others} {'is' if len(kept) == 2 else 'are'} not clearly "
                  f"worse, and {name[chosen]} also fits the calibration data best (lowest AIC).")
    else:
        reason = (f"{name[lowest]} has a slightly lower holdout squared error, but not clearly (the interval of the "
                  f"difference includes zero), and {name[chosen]} fits the calibration data better (lower AIC).")
    if skipped:
        reason += " " + " ".join(f"{m} is left out: its fit did not converge." for m in skipped)
    diffs = [paired(k, chosen) for k in table["key"]]
    table["mse_vs_chosen"] = [d[0] for d in diffs]
    table["diff_ci_low"] = [d[1] for d in diffs]
    table["diff_ci_high"] = [d[2] for d in diffs]
    table["chosen"] = table["key"] == chosen
    by_f = freq.groupby("b").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                 **{k: (k, "mean") for k in fitters}).reset_index()
    by_f.insert(0, "frequency_bucket", [f"{b}+" if b == max_frequency else str(b) for b in by_f.pop("b")])
    by_f = by_f.rename(columns={k: name[k] for k in fitters})
    unit = summary.attrs.get("time_unit") or "W"
    return ModelComparison(table, by_f, fitters, chosen, reason, float(np.median(dur)), unit, float(confidence_level))


# --------------------------------------------------------------------------- reference values
CDNOW_PUBLISHED: dict[str, float] = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
"""BG/NBD on the CDNOW calibration sample (2,357 customers, weeks, calibration to
1997-09-30): Fader, Hardie & Lee (2005), "Counting your customers the easy way",
Marketing Science 24(2), section 4."""


PARETO_NBD_CDNOW_PUBLISHED: dict[str, float] = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669,
                                               "log_likelihood": -9594.98}
"""Pareto/NBD on the same CDNOW calibration sample: Fader, Hardie & Lee (2005), "Counting your
customers the easy way", Marketing Science 24(2) (their comparison fit), and Fader & Hardie
(2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions"; CLVTools' and
BTYD's tests reproduce r = 0.5531, alpha = 10.576, s = 0.6062, beta = 11.672, LL = -9594.976."""


def against_published(bgf: BetaGeoFitter, published: dict[str, float] = CDNOW_PUBLISHED) -> pd.DataFrame:
    """Fitted vs published BG/NBD parameters and log-likelihood: ``quantity, fitted, published, difference``.

    Parameters
    ----------
    bgf
        A fitted :class:`BetaGeoFitter` (on CDNOW, to compare with the paper).
    published
        Published values by quantity (default: Fader, Hardie & Lee 2005 on CDNOW).

    Returns
    -------
    pandas.DataFrame
        ``quantity, fitted, published, difference``, one row per published quantity.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import BetaGeoFitter, against_published, customer_summary
    >>> bgf = BetaGeoFitter().fit(customer_summary(jl.load_dataset("sample").events))
    >>> table = against_published(bgf)  # the sample is not CDNOW: only the layout matters here
    >>> table[["quantity", "published"]]
             quantity  published
    0               r      0.243
    1           alpha      4.414
    2               a      0.793
    3               b      2.426
    4  log_likelihood  -9582.400
    """
    if bgf.result_ is None:
        raise JourneyParameterError("bgf: not fitted yet; call BetaGeoFitter().fit(summary) first")
    fitted = {**bgf.params_, "log_likelihood": bgf.result_.log_likelihood}
    rows = [{"quantity": k, "fitted": float(fitted[k]), "published": float(v)} for k, v in published.items()]
    out = pd.DataFrame(rows)
    out["difference"] = out["fitted"] - out["published"]
    return out


def against_truth(truth: dict, ggf: GammaGammaFitter) -> pd.DataFrame:
    """Planted vs fitted Gamma-Gamma parameters on simulated data, with the fit's 95% intervals.

    ``truth``: :func:`journeylib.simulate.simulate`'s ground truth (its ``"spend"``
    part). Returns :func:`journeylib.core.result.truth_table`: ``quantity`` (``Gamma-Gamma
    p``, ``q``, ``gamma``), ``planted, estimate, ci_low, ci_high, covered``.

    Parameters
    ----------
    truth
        The simulator's ground truth (``Dataset.ground_truth``).
    ggf
        A :class:`GammaGammaFitter` fitted on the simulated data.

    Returns
    -------
    pandas.DataFrame
        ``quantity, planted, estimate, ci_low, ci_high, covered``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.loyalty.clv import GammaGammaFitter, against_truth, customer_summary
    >>> ds = jl.load_dataset("sample")
    >>> ggf = GammaGammaFitter().fit(customer_summary(ds.events))
    >>> against_truth(ds.ground_truth, ggf)[["quantity", "planted", "covered"]]
                quantity  planted  covered
    0      Gamma-Gamma p      6.0     True
    1      Gamma-Gamma q      4.0     True
    2  Gamma-Gamma gamma     20.0     True
    """
    if ggf.result_ is None:
        raise JourneyParameterError("ggf: not fitted yet; call GammaGammaFitter().fit(summary) first")
    spend = truth.get("spend") if isinstance(truth, dict) else None
    if not spend:
        raise JourneyParameterError("truth: expected a simulator's ground truth with a 'spend' part")
    fit = ggf.result_.summary.set_index("parameter")
    return truth_table([(f"Gamma-Gamma {name}", float(spend[f"gamma_gamma_{name}"]), float(fit.loc[name, "estimate"]),
                         float(fit.loc[name, "ci_low"]), float(fit.loc[name, "ci_high"]))
                        for name in ("p", "q", "gamma")])
