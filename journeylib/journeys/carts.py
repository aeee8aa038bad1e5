"""Abandoned carts: who left a cart, when and with what value, and how many carts are recovered.

A cart event (``add_to_cart``) without a purchase of the same customer within
``window_hours`` is *abandoned* at the end of that window. It is *recovered* by the
customer's next purchase. :func:`abandoned_carts` gives one row per abandoned cart and
the recovery rate within ``recovery_days`` (over the carts followed up that long, with
Wilson intervals), overall, by the channel of the recovery message (from a message log:
the ``send`` of ``recovery_campaign`` at abandonment), by cart value band and by segment,
and the time to recovery as a Kaplan-Meier curve (carts still open at the end of the log are
censored; :func:`journeylib.retention.survival.curve_every_hour`).

The matching runs in the engine (portable Ibis, DuckDB or Spark): one window per customer carries
the first purchase at or after each cart, the recovery send is a join on the customer within the
abandonment's minute-before to day-after span, and only the abandoned carts come to pandas.

Cart value is the ``revenue`` on the cart event when the log has one; otherwise the
customer's average order value before the cart stands in for it (``value_source`` says which;
a later order, the recovery itself among them, would make the recovered carts look valuable).

When the recovery message was an experiment (each customer's abandoned cart assigned to a
``message`` or a ``holdout`` arm, ``assigned_at`` = the abandonment), :func:`cart_recovery_readout`
reads it with the A/B readout: the share of carts recovered (a purchase within ``recovery_days``
after assignment) per arm, the incremental recovery with its interval (two-proportion test) and the
sample-ratio check.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..core import engine
from ..core.display import format_count, format_interval, format_percent
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.intervals import wilson_interval
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import CART_EVENT, PURCHASE_EVENT
from ..retention.survival import curve_every_hour
from ..core import time as core_time
from ..core.time import DAY_US, to_epoch_us
from ..experiments.readout import Readout, ab_readout, conversion, decision_action

__all__ = ["CartRecovery", "CartRecoveryReadout", "abandoned_carts", "cart_recovery_readout"]

RATE_COLUMNS = ("dimension", "group", "carts", "recovered", "recovery_rate", "ci_low", "ci_high",
                "median_days_to_recovery")
NO_MESSAGE = "no message"
NO_VALUE = "no earlier order"  # the value band of a cart without revenue whose customer had not ordered before
MINUTE_US = 60_000_000


@dataclass(frozen=True)
class CartRecovery(Result):
    """Abandoned carts and their recovery (see :func:`abandoned_carts`).

    Attributes
    ----------
    carts
        One row per abandoned cart: ``customer_id``, ``cart_at``, ``abandoned_at`` (UTC),
        ``value``, ``value_source``, ``value_band``, ``channel`` (of the recovery message,
        ``"no message"`` when none), ``segment``, ``days_to_recovery`` (NaN when not recovered
        before the end), ``followed_up`` (abandoned at least ``recovery_days`` before the end),
        ``recovered`` (within ``recovery_days``).
    rates
        Recovery rate within ``recovery_days`` per ``dimension`` (overall, channel, value band,
        segment) and group, with ``ci_low`` / ``ci_high``.
    curves
        Kaplan-Meier share recovered per channel, read every hour since abandonment up to
        the group's longest wait (``group, days, recovered_share, ci_low, ci_high``; exact
        at those times, whatever the number of carts).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.carts import abandoned_carts
    >>> ds = jl.load_dataset("sample")
    >>> result = abandoned_carts(ds.events, ds.messages)
    >>> result.rates[["dimension", "group", "carts", "recovery_rate"]].head(2).round(3)
      dimension  group  carts  recovery_rate
    0   overall    all   7694          0.341
    1   channel  email   2883          0.332
    """

    carts: pd.DataFrame = field(repr=False)
    rates: pd.DataFrame = field(repr=False)
    curves: pd.DataFrame = field(repr=False)
    window_hours: float = 24
    recovery_days: float = 14
    confidence_level: float = 0.95
    end: pd.Timestamp | None = None
    has_messages: bool = False

    @property
    def summary(self) -> pd.DataFrame:
        """Recovery rate per dimension and group (a copy)."""
        return self.rates.copy()

    @property
    def recovery_rate(self) -> float:
        """Share of the followed-up abandoned carts recovered within ``recovery_days``."""
        return float(self._overall["recovery_rate"])

    @property
    def _overall(self) -> pd.Series:
        return self.rates[self.rates["dimension"] == "overall"].iloc[0]

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Wilson interval ``(low, high)`` of the overall recovery rate."""
        row = self._overall
        return wilson_interval(int(row["recovered"]), int(row["carts"]), confidence_level)

    def by(self, dimension: str) -> pd.DataFrame:
        """The rate rows of one dimension (``"channel"``, ``"value_band"``, ``"segment"``)."""
        return self.rates[self.rates["dimension"] == dimension].reset_index(drop=True)

    @property
    def findings(self) -> tuple[Finding, ...]:
        row = self._overall
        if not row["carts"]:
            return (Finding(f"{format_count(len(self.carts))} carts were abandoned; none was followed up for "
                            f"{self.recovery_days:g} days yet."),)
        out = [Finding(f"{format_percent(row['recovery_rate'])} of abandoned carts are recovered within "
                       f"{self.recovery_days:g} days ({format_interval(row['ci_low'], row['ci_high'])}), "
                       f"of {format_count(row['carts'])} carts followed up.",
                       float(row["recovery_rate"]), float(row["ci_low"]), float(row["ci_high"]))]
        ch = self.by("channel")
        ch = ch[(ch["group"] != NO_MESSAGE) & (ch["carts"] >= 30)]
        if len(ch) >= 2:
            best, worst = ch.loc[ch["recovery_rate"].idxmax()], ch.loc[ch["recovery_rate"].idxmin()]
            clear = best["ci_low"] > worst["ci_high"]
            out.append(Finding(
                f"Recovery messages by {best['group']} recover {format_percent(best['recovery_rate'])} of carts "
                f"({format_interval(best['ci_low'], best['ci_high'])}), by {worst['group']} "
                f"{format_percent(worst['recovery_rate'])} ({format_interval(worst['ci_low'], worst['ci_high'])}).",
                float(best["recovery_rate"]), float(best["ci_low"]), float(best["ci_high"]),
                f"Send more cart reminders by {best['group']}; confirm the difference with an A/B test."
                if clear else "The channels' intervals overlap: no channel is clearly better yet."))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        n = int(self._overall["carts"])
        out = [Check("carts followed up", "pass" if n >= 100 else "warn",
                     f"{n} abandoned carts followed up for {self.recovery_days:g} days"
                     + ("" if n >= 100 else "; rates are uncertain below 100"))]
        if not self.has_messages:
            out.append(Check("recovery channel", "warn", "no message log: recovery by channel is not measured"))
        if (self.carts["value_source"] == "customer average order").any():
            out.append(Check("cart value", "warn", "carts carry no value: the customer's average order value "
                                                   "stands in for it"))
        return tuple(out)

    def against_truth(self, truth: dict[str, Any]) -> pd.DataFrame:
        """Recovery rate overall and per channel against the simulator's ``ground_truth["carts"]``."""
        t = truth.get("carts", truth)
        row = self._overall
        rows = [("recovery rate: overall", t["overall_recovery_rate"], row["recovery_rate"], row["ci_low"],
                 row["ci_high"])]
        ch = self.by("channel").set_index("group")
        for c, v in t["recovery_rate_by_channel"].items():
            if c in ch.index:
                r = ch.loc[c]
                rows.append((f"recovery rate: {c}", v, r["recovery_rate"], r["ci_low"], r["ci_high"]))
        return truth_table(rows)

    def plot(self, ax=None):
        """Kaplan-Meier share of abandoned carts recovered by day, per recovery channel."""
        from . import plots

        return plots.plot_cart_recovery(self, ax=ax)


def series_us(ts: pd.Series) -> pd.Series:
    """Epoch microseconds of a column of UTC timestamps (int64).

    Parameters
    ----------
    ts
        A Series of UTC timestamps.

    Returns
    -------
    pandas.Series
        int64 microseconds since 1970-01-01 UTC.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.carts import series_us
    >>> series_us(pd.Series(pd.to_datetime(["2025-01-01"], utc=True))).tolist()
    [1735689600000000]
    """
    ts = pd.to_datetime(ts, utc=True)
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "us")).astype("int64")


def _frame(data: Any, what: str, columns: tuple[str, ...]) -> pd.DataFrame:
    t = engine.to_table(data)
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise JourneyDataError(f"{what}: missing column(s) {missing}; expected {list(columns)} "
                               f"(load the file with journeylib.load_{what})")
    return t


def _band(value: pd.Series) -> pd.Categorical:
    """Value tertiles as labels (``"all"`` with fewer than three distinct values, ``"no earlier order"`` when
    missing: a cart without revenue of a customer who had not ordered before)."""
    known = value.dropna()
    if known.nunique() < 3:
        return _coded(np.where(value.notna(), 0, 1), ["all", NO_VALUE])
    q = known.quantile([1 / 3, 2 / 3]).to_numpy()
    labels = [f"low (up to {q[0]:,.0f})", f"middle ({q[0]:,.0f} to {q[1]:,.0f})", f"high (over {q[1]:,.0f})",
              NO_VALUE]
    v = value.to_numpy(float)
    return _coded(np.where(value.isna(), 3, np.where(v <= q[0], 0, np.where(v <= q[1], 1, 2))), labels)


def _rates(carts: pd.DataFrame, dimension: str, col: str | None, level: float) -> pd.DataFrame:
    # counts per category code: at 10^8 events a per-group copy of the cart rows held gigabytes
    f = carts["followed_up"].to_numpy(bool)
    if col is None:
        labels, codes = np.array(["all"], dtype=object), np.zeros(int(f.sum()), dtype=np.int64)
    else:
        cat = carts[col].array
        labels, codes = np.asarray(cat.categories, dtype=object), cat.codes[f].astype(np.int64)
    if col is not None and not f.any():
        return pd.DataFrame(columns=list(RATE_COLUMNS))
    rec = carts["recovered"].to_numpy(bool)[f]
    n = np.bincount(codes, minlength=len(labels))
    k = np.bincount(codes, weights=rec, minlength=len(labels)).astype(np.int64)
    med = pd.Series(carts["days_to_recovery"].to_numpy(float)[f][rec]).groupby(codes[rec]).median()
    rows = []
    for i in (np.flatnonzero(n) if col is not None else [0]):  # the overall row also when nothing is followed up
        lo, hi = wilson_interval(int(k[i]), int(n[i]), level)
        rows.append((dimension, str(labels[i]), int(n[i]), int(k[i]), k[i] / n[i] if n[i] else np.nan, lo, hi,
                     med.get(i, np.nan)))
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


def _km_curves(carts: pd.DataFrame, end_days: pd.Series, level: float) -> pd.DataFrame:
    rows = []
    days = carts["days_to_recovery"].to_numpy(float)
    event = ~np.isnan(days)
    duration = np.clip(np.where(event, days, end_days), 1e-9, None)
    channel = carts["channel"].array  # categorical: a mask per channel, no copy of the cart rows
    by_channel = [(str(g), channel.codes == i) for i, g in enumerate(channel.categories)]
    if sum(m.any() for _, m in by_channel) < 2:  # one channel (or no message log): its curve is the overall one
        by_channel = []
    for g, m in [("all", np.ones(len(days), bool))] + by_channel:
        if m.sum() < 2:
            continue
        c = curve_every_hour(duration[m], event[m], confidence_level=level)
        rows.append(pd.DataFrame({"group": g, "days": c["days"], "recovered_share": 1 - c["survival"],
                                  "ci_low": 1 - c["ci_high"], "ci_high": 1 - c["ci_low"]}))
    if not rows:
        return pd.DataFrame(columns=["group", "days", "recovered_share", "ci_low", "ci_high"])
    return pd.concat(rows, ignore_index=True)


def _categorical(values: Any) -> pd.Categorical:
    """Text labels as a categorical with its categories in sorted order (groups sort as the text does)."""
    values = pd.Series(values, dtype=object)
    return pd.Categorical(values, categories=sorted(values.dropna().unique()))


def _coded(codes: np.ndarray, labels: list[str]) -> pd.Categorical:
    """``labels[codes]`` as :func:`_categorical` gives it (used labels only, in sorted order), without
    building the text per row."""
    cat = pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), labels).remove_unused_categories()
    return cat.reorder_categories(sorted(cat.categories))


def abandoned_table(events: ibis.Table, sends: ibis.Table | None, *, end_us: int, window_us: int) -> ibis.Table:
    """The abandoned carts, matched in the engine: one row per abandoned cart, not yet executed.

    Cart and purchase events up to ``end_us`` (epoch microseconds). One window per customer,
    in reverse time with purchases before carts at the same instant, carries the time of the
    first purchase at or after each cart (a purchase at the cart's own time counts, as
    ``pandas.merge_asof(direction="forward")``). A cart is abandoned at ``us + window_us`` when
    no purchase comes by then and that is not after the end. Its value is the cart's revenue,
    else the customer's average order value before the cart (mean revenue of the earlier
    purchases, what was known when the cart was left; NaN revenue counts as missing). A later
    order, the recovery itself among them, never sets the value: a customer's first cart has
    none (its value band is ``"no earlier order"``). The recovery message is the first of
    ``sends`` to the customer from one minute before abandonment to one day after (both ends
    included; of sends at the same instant, the first channel in text order).

    Parameters
    ----------
    events
        Event log (``customer_id, ts, event`` and optionally ``revenue``).
    sends
        The recovery campaign's sends (``customer_id, ts, channel``), or ``None``.
    end_us
        End of observation, epoch microseconds.
    window_us
        Microseconds after a cart within which a purchase keeps it from being abandoned.

    Returns
    -------
    ibis.Table
        ``customer_id, us`` (the cart), ``ab_us`` (abandonment), ``days_to_recovery`` (to the
        first purchase after the cart, null when none up to the end), ``value``, ``has_value``
        (the cart carried revenue), ``channel`` (null when no message).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core import engine
    >>> from journeylib.journeys.carts import abandoned_table
    >>> t0 = pd.Timestamp("2025-01-01", tz="UTC")
    >>> day = pd.Timedelta(days=1)
    >>> ev = engine.to_table(pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "event": ["purchase", "add_to_cart", "purchase", "add_to_cart"],
    ...     "ts": [t0 - day, t0, t0 + 3 * day, t0], "revenue": [20.0, None, 30.0, 5.0]}))
    >>> q = abandoned_table(ev, None, end_us=1_736_000_000_000_000, window_us=86_400_000_000)
    >>> engine.to_pandas(q.order_by("customer_id"))[["customer_id", "days_to_recovery", "value", "has_value"]]
      customer_id  days_to_recovery  value  has_value
    0           a               2.0   20.0      False
    1           b               NaN    5.0       True
    """
    if "revenue" in events.columns:
        rev = events.revenue.cast("float64")
        rev = rev.isnan().ifelse(ibis.null("float64"), rev)
    else:
        rev = ibis.null("float64")
    ev = events.filter(events.event.isin([CART_EVENT, PURCHASE_EVENT]))
    ev = ev.select("customer_id", buy=ev.event == PURCHASE_EVENT, revenue=rev, us=core_time.epoch_us(ev))
    ev = ev.filter(ev.us <= end_us)
    order = [ibis.desc(ev.us), ev.buy.ifelse(0, 1)]
    w = ibis.cumulative_window(group_by=ev.customer_id, order_by=order)
    earlier = ibis.window(group_by=ev.customer_id, order_by=order, rows=(1, None))  # strictly before, same sort
    paid = ev.buy & ev.revenue.notnull()
    ev = ev.mutate(_buy_us=ev.buy.ifelse(ev.us, ibis.null("int64")).min().over(w),
                   _rev_before=paid.ifelse(ev.revenue, 0.0).sum().over(earlier),
                   _n_before=paid.cast("int64").sum().over(earlier))
    c = ev.filter(~ev.buy)
    c = c.mutate(ab_us=c.us + window_us)
    c = c.filter((c._buy_us.isnull() | (c._buy_us > c.ab_us)) & (c.ab_us <= end_us))
    aov = ibis.ifelse(c._n_before.fill_null(0) > 0, c._rev_before / c._n_before, ibis.null("float64"))
    c = c.select("customer_id", "us", "ab_us",
                 days_to_recovery=(c._buy_us - c.ab_us) / core_time.DAY_US,
                 value=c.revenue.notnull().ifelse(c.revenue, aov),
                 has_value=c.revenue.notnull())
    if sends is None:
        return c.mutate(channel=ibis.null("string"))
    s = sends.select(_s_id=sends.customer_id, _s_us=core_time.epoch_us(sends), _s_channel=sends.channel)
    keys = c.select(_k_id=c.customer_id, _k_ab=c.ab_us).distinct()
    j = keys.join(s, [keys._k_id == s._s_id, s._s_us >= keys._k_ab - MINUTE_US, s._s_us <= keys._k_ab + DAY_US])
    j = j.mutate(_first=j._s_us.min().over(ibis.window(group_by=[j._k_id, j._k_ab])))
    j = j.filter(j._s_us == j._first)
    first = j.group_by([j._k_id, j._k_ab]).aggregate(_channel=j._s_channel.min())
    c = c.left_join(first, [c.customer_id == first._k_id, c.ab_us == first._k_ab])
    return c.select("customer_id", "us", "ab_us", "days_to_recovery", "value", "has_value", channel=c._channel)


def _segments(customers: Any, segment_by: str, gone: ibis.Table) -> pd.Series:
    """``segment_by`` of the customers with an abandoned cart (``gone``), as
    :func:`journeylib.core.engine.customer_column` gives it for everyone."""
    if customers is None:
        return engine.customer_column(customers, segment_by, "segment_by")  # raises the usual error
    cu = engine.to_table(customers, table="customers")
    if (segment_by not in cu.columns or "customer_id" not in cu.columns
            or cu.customer_id.type().copy(nullable=True) != gone.customer_id.type().copy(nullable=True)):
        return engine.customer_column(customers, segment_by, "segment_by")
    ids = gone.select(_g_id=gone.customer_id).distinct()
    mine = cu.join(ids, cu.customer_id == ids._g_id).select("customer_id", segment_by)
    seg = engine.to_pandas(mine).set_index("customer_id")[segment_by]
    if cu[segment_by].type().is_integer() and pd.api.types.is_integer_dtype(seg.dtype):
        # the whole column comes to pandas as floats when it has a null anywhere
        if bool(cu[segment_by].isnull().any().to_pyarrow().as_py()):
            seg = seg.astype("float64")
    return seg


def _segment_of(ids: pd.Series, seg: pd.Series) -> pd.Categorical:
    """Each cart's segment as text (``"unknown"`` when missing), labelled once per customer, not per cart."""
    per_customer = _categorical(seg.astype(object).where(seg.notna(), "unknown").astype(str))
    labels = list(per_customer.categories)
    if "unknown" not in labels:
        labels.append("unknown")
    at = seg.index.get_indexer(ids)  # -1: a customer without a row in the customers table
    # the "unknown" code appended last, so -1 reads it (also when no customer has a row: no codes at all)
    codes = np.append(per_customer.codes, labels.index("unknown"))
    return _coded(codes[at], labels)


def abandoned_carts(
    events: Any,
    messages: Any = None,
    customers: Any = None,
    *,
    window_hours: float = 24,
    recovery_days: float = 14,
    recovery_campaign: str = "cart_recovery",
    segment_by: str = "",
    observation_end: Any = None,
    confidence_level: float = 0.95,
) -> CartRecovery:
    """Abandoned carts, their recovery rate and time to recovery.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id``, ``ts``, ``event``
        (cart events are ``add_to_cart``, orders ``purchase``) and optionally ``revenue``.
    messages
        Optional message log (``customer_id, ts, campaign, channel, action``): the recovery
        message of a cart is the first ``send`` of ``recovery_campaign`` from one minute before
        abandonment to one day after; its ``channel`` splits the recovery rates.
    customers
        Optional customer attributes, for ``segment_by``.
    window_hours
        A cart without a purchase within this many hours is abandoned.
    recovery_days
        A purchase within this many days after abandonment recovers the cart; rates count only
        carts abandoned at least this long before the end.
    recovery_campaign
        Campaign name of the recovery messages in ``messages``.
    segment_by
        Customer column to split by (``""``: no split).
    observation_end
        End of observation (default: the last timestamp of ``events``).
    confidence_level
        Level of the Wilson and Kaplan-Meier intervals.

    Returns
    -------
    CartRecovery
        ``carts`` (one row per abandoned cart), ``summary`` (rates with ``ci_low`` /
        ``ci_high``), ``curves`` (Kaplan-Meier), ``findings``, ``checks``, ``plot()``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.carts import abandoned_carts
    >>> ds = jl.load_dataset("sample")
    >>> res = abandoned_carts(ds.events, ds.messages)
    >>> round(res.recovery_rate, 3)
    0.341
    """
    for name, v in (("window_hours", window_hours), ("recovery_days", recovery_days)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
            raise JourneyParameterError(f"{name}={v!r}; expected a positive number")
    if not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1")
    t = _frame(events, "events", ("customer_id", "ts", "event"))
    end = core_time.observation_end(t, observation_end)
    end_us = to_epoch_us(end)
    has_messages = messages is not None
    sends = None
    if has_messages:
        m = _frame(messages, "messages", ("customer_id", "ts", "campaign", "channel", "action"))
        sends = m.filter((m.action == "send") & (m.campaign == recovery_campaign))
    window_us = int(round(window_hours * 3600e6))
    with engine.materialized(abandoned_table(t, sends, end_us=end_us, window_us=window_us)) as gone:
        ab = engine.to_pandas(gone.order_by(["customer_id", "ab_us", "value", "channel"]))
        if ab.empty:
            carts_n = t.filter((t.event == CART_EVENT) & (core_time.epoch_us(t) <= end_us)).count()
            if not int(carts_n.to_pyarrow().as_py()):
                raise JourneyDataError(f"events: no '{CART_EVENT}' events up to {end:%Y-%m-%d}; expected cart "
                                       f"events (map your cart event to the role 'cart' in journey.yml)")
        seg = _segments(customers, segment_by, gone) if segment_by else None
    has_value = ab["has_value"].to_numpy(bool)
    value = ab["value"].astype(float)
    days = ab["days_to_recovery"].astype(float)
    ab_us = ab["ab_us"].astype("int64")
    out = pd.DataFrame({
        "customer_id": ab["customer_id"],
        "cart_at": pd.to_datetime(ab["us"].astype("int64"), unit="us", utc=True),
        "abandoned_at": pd.to_datetime(ab_us, unit="us", utc=True),
        "value": value,
        "value_source": _coded(np.where(has_value, 0, np.where(value.notna(), 1, 2)),
                               ["cart", "customer average order", "unknown"]),
        "value_band": _band(value),
        "channel": _categorical(ab["channel"].fillna(NO_MESSAGE)),
        "segment": _coded(np.zeros(len(ab), np.int64), ["all"]) if seg is None else _segment_of(ab["customer_id"], seg),
        "days_to_recovery": days,
        "followed_up": ab_us + recovery_days * DAY_US <= end_us,
        "recovered": days.notna() & (days <= recovery_days),
    })
    del ab
    end_days = (end_us - ab_us) / DAY_US
    parts = [_rates(out, "overall", None, confidence_level)]
    if has_messages:
        parts.append(_rates(out, "channel", "channel", confidence_level))
    if out["value"].notna().any():
        parts.append(_rates(out, "value_band", "value_band", confidence_level))
    if segment_by:
        parts.append(_rates(out, "segment", "segment", confidence_level))
    rates = pd.concat([p for p in parts if len(p)], ignore_index=True)
    rates[["carts", "recovered"]] = rates[["carts", "recovered"]].astype(int)
    curves = _km_curves(out, end_days, confidence_level)
    return CartRecovery(out, rates, curves, float(window_hours), float(recovery_days), float(confidence_level),
                        end, has_messages)



@dataclass(frozen=True, repr=False)
class CartRecoveryReadout(Readout):
    """The A/B readout of a cart-recovery experiment, with findings in the campaign's words.

    Everything of :class:`journeylib.experiments.readout.Readout`; ``findings`` say what the
    message adds over the holdout (share of carts and carts recovered, with intervals) and what
    to do, from the readout's own decision (:attr:`Readout.decisions`).

    Parameters
    ----------
    recovery_days
        The recovery period the findings name (the other fields are the readout's).

    Returns
    -------
    CartRecoveryReadout
        Made by :func:`cart_recovery_readout`.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ro = jl.journeys.cart_recovery_readout(ds.events, ds.assignments)
    >>> print(ro.findings[0].action)
    Keep sending the recovery messages, with a small holdout to keep measuring them.
    """

    recovery_days: float = 14

    @property
    def findings(self) -> tuple[Finding, ...]:
        srm = {x.experiment: x for x in self.srm}
        dec = self.decisions.set_index("experiment")
        out: list[Finding] = []
        for r in self.results:
            if r.experiment in srm and not srm[r.experiment].passed:
                out.extend(srm[r.experiment].findings)
                continue
            d = dec.loc[r.experiment] if r.experiment in dec.index else None
            decision = d["decision"] if d is not None else ""
            if decision == "ship":
                action = "Keep sending the recovery messages, with a small holdout to keep measuring them."
            elif decision == "do not ship":
                action = "The messages do not bring carts back: change them or stop them, and test again."
            else:
                action = decision_action(d) if d is not None else ""
            n = r.n_variant
            out.append(Finding(
                f"Cart-recovery messages ({r.variant}) bring back {format_percent(r.mean_variant)} of abandoned "
                f"carts within {self.recovery_days:g} days against {format_percent(r.mean_control)} without one "
                f"({r.control}): {100 * r.estimate:+.1f} points ({100 * r.ci_low:+.1f} to {100 * r.ci_high:+.1f}), "
                f"about {format_count(r.estimate * n)} more carts recovered ({format_count(r.ci_low * n)} to "
                f"{format_count(r.ci_high * n)}) of the {format_count(n)} messaged.",
                float(r.estimate), float(r.ci_low), float(r.ci_high), action))
        return tuple(out)


def cart_recovery_readout(
    events: Any,
    assignments: Any,
    *,
    experiment: str = "cart_recovery",
    recovery_days: float = 14,
    holdout: str = "holdout",
    planned_split: dict[str, float] | None = None,
    observation_end: Any = None,
    alpha: float = 0.05,
) -> Any:
    """A cart-recovery experiment read with the A/B readout: recovery within ``recovery_days`` per arm.

    Each assigned customer (``assigned_at`` = the abandonment of their cart) counts as recovered
    when they buy within ``recovery_days`` after assignment (metric ``recovery``); the held-out arm
    is the control, so the lift is what the message adds. Customers whose window ends after the
    data are left out (said in the readout's note). No CUPED: the rates shown are the arms' plain
    recovery rates, and the interval of their difference is the two-proportion (Wald) interval.

    Parameters
    ----------
    events
        Event log with ``customer_id, ts, event`` (purchases are ``purchase``).
    assignments
        ``customer_id, experiment, variant, assigned_at``.
    experiment
        The cart-recovery experiment's name in ``assignments``.
    recovery_days
        A purchase within this many days after assignment recovers the cart.
    holdout
        The variant that got no recovery message (the readout's control).
    planned_split
        ``{variant: share}`` for the sample-ratio check (equal split when ``None``).
    observation_end
        End of observation (default: the last timestamp of ``events``).
    alpha
        Significance level of the decision (intervals at ``1 - alpha``).

    Returns
    -------
    CartRecoveryReadout
        A :class:`journeylib.experiments.readout.Readout` (one comparison per messaged variant
        against the holdout on ``recovery``: ``estimate``, the incremental recovery rate, with
        ``ci_low`` / ``ci_high``, the relative lift, the SRM check, the decision) whose findings
        say in words what the message adds and what to do.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.journeys.carts import cart_recovery_readout
    >>> t0 = pd.Timestamp("2025-03-01", tz="UTC")
    >>> ids = [f"c{i}" for i in range(400)]
    >>> assignments = pd.DataFrame({"customer_id": ids, "experiment": "cart_recovery",
    ...                             "variant": ["message", "holdout"] * 200, "assigned_at": t0})
    >>> buyers = [c for i, c in enumerate(ids) if (i % 2 == 0 and i % 10 < 6) or (i % 2 and i % 10 < 3)]
    >>> events = pd.DataFrame({"customer_id": buyers + ["c0"], "event": "purchase",
    ...                        "ts": [t0 + pd.Timedelta(days=2)] * len(buyers) + [t0 + pd.Timedelta(days=30)]})
    >>> ro = cart_recovery_readout(events, assignments)
    >>> r = ro.results[0]
    >>> r.variant, r.control, round(r.mean_variant, 2), round(r.mean_control, 2), round(r.estimate, 2)
    ('message', 'holdout', 0.6, 0.2, 0.4)
    >>> print(ro.findings[0].text)
    Cart-recovery messages (message) bring back 60.0% of abandoned carts within 14 days against 20.0% without one (holdout): +40.0 points (+31.2 to +48.8), about 80 more carts recovered (62 to 98) of the 200 messaged.
    """
    if (isinstance(recovery_days, bool) or not isinstance(recovery_days, (int, float))
            or not np.isfinite(recovery_days) or recovery_days <= 0):
        raise JourneyParameterError(f"recovery_days={recovery_days!r}; expected a positive number of days")
    t = _frame(events, "events", ("customer_id", "ts", "event"))
    end = core_time.observation_end(t, observation_end)
    a = engine.to_table(assignments, table="assignments")
    if "experiment" not in a.columns or "assigned_at" not in a.columns:
        raise JourneyDataError("assignments: expected columns customer_id, experiment, variant, assigned_at")
    known = engine.distinct_values(a, "experiment")
    if experiment not in known:
        raise JourneyDataError(f"assignments: no rows of experiment {experiment!r}; experiments found: "
                               f"{sorted(known)}. Pass the cart-recovery experiment's name (experiment=...)")
    a = a.filter(a.experiment == experiment)
    last = end - pd.Timedelta(days=float(recovery_days))
    done = a.filter(a.assigned_at <= core_time.utc_literal(last))
    n_all, n_done = int(a.count().to_pyarrow().as_py()), int(done.count().to_pyarrow().as_py())
    if not n_done:
        raise JourneyDataError(f"assignments: no cart of {experiment!r} was abandoned {recovery_days:g} days or more "
                               f"before the end of the data ({end:%Y-%m-%d}); wait for more data or use a shorter "
                               "recovery_days")
    ro = ab_readout(done, t, metrics=[conversion(PURCHASE_EVENT, name="recovery")], window_days=recovery_days,
                    experiments=experiment, control=holdout, alpha=alpha, cuped=False,
                    planned_split={experiment: dict(planned_split)} if planned_split else None)
    if n_all > n_done:
        ro = replace(ro, note=f"{n_all - n_done:,} carts abandoned less than {recovery_days:g} days before the end "
                              "of the data are left out: their recovery window is not over.")
    return CartRecoveryReadout(**{f.name: getattr(ro, f.name) for f in fields(ro)}, recovery_days=float(recovery_days))
