"""Message engagement: open and click rates per campaign, channel and send hour, and fatigue.

The message log has one row per ``send`` of a message and per ``open`` / ``click`` of it
(``customer_id, ts, campaign, channel, action``). Each open or click is matched to the
latest send of the same customer, campaign and channel at or before it (an open at the very
time of a send belongs to that send), so a send is *opened* (*clicked*) when at least one open
(click) follows it before the next such send. Rates are per send, with Wilson intervals.

Everything runs in the engine (portable Ibis, DuckDB or Spark): one window per customer,
campaign and channel carries the time of the latest send to each open and click, sends are
counted by aggregation, and only the counts per campaign, channel and send hour and the two
fatigue groups come to pandas.

Fatigue: a customer is *fatigued* when none of their last ``fatigue_sends`` messages before
the end was opened. :func:`message_engagement` compares the churn rate (the one churn
definition, :func:`journeylib.retention.churn.churn_labels`) of fatigued and engaged
customers with a two-proportion z-test.

A message experiment (e.g. a send-time test) is read with the A/B readout: :func:`message_events`
turns the message log into an events-shaped table (one row per ``send``, ``open``, ``click``), so
the readout's metrics count a customer's opens and sends in the window after assignment
(``opens_per_send`` below, or ``count_per_user("open")``), with the sample-ratio check, CUPED on the
pre-period and the decision rule unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..core import engine
from ..core import time as core_time
from ..core.display import format_count, format_interval, format_percent, format_pvalue
from ..core.errors import JourneyDataError, JourneyParameterError
from ..core.intervals import wilson_interval
from ..core.result import Check, Finding, Result, truth_table
from ..core.schema import MESSAGES_REQUIRED
from ..experiments.statistics import two_proportion_test

__all__ = ["MessageEngagement", "message_engagement", "message_events", "opens_per_send", "message_readout"]

RATE_COLUMNS = ("dimension", "group", "metric", "sends", "count", "rate", "ci_low", "ci_high")
FATIGUE_COLUMNS = ("group", "customers", "churned", "churn_rate", "ci_low", "ci_high")
HOUR_US = 3_600 * 1_000_000
MESSAGE_KEY = ("customer_id", "campaign", "channel")


@dataclass(frozen=True)
class MessageEngagement(Result):
    """Open and click rates and the fatigue comparison (see :func:`message_engagement`).

    Attributes
    ----------
    rates
        ``dimension`` (campaign, channel, campaign / channel, send hour), ``group``, ``metric``
        (``open rate`` / ``click rate``), ``sends``, ``count``, ``rate``, ``ci_low``, ``ci_high``.
    fatigue
        One row per group (``fatigued`` / ``engaged``): ``customers``, ``churned``,
        ``churn_rate``, ``ci_low``, ``ci_high``.
    n_sends
        Messages sent up to the observation end.
    tracked
        The rates the log can give: ``"open rate"`` when it records an open of some send,
        ``"click rate"`` when it records a click of one. A log of sends only (or whose clicks are
        of messages never sent, such as tracked links) measures no engagement: no rate is shown
        as 0%; fatigue, defined by opens, needs opens.
    statistic, pvalue
        Two-proportion z-test of the churn rates of fatigued and engaged customers.
    difference, diff_ci_low, diff_ci_high
        Fatigued minus engaged churn rate and its (Wald) interval.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.messages import message_engagement
    >>> ds = jl.load_dataset("sample")
    >>> result = message_engagement(ds.messages, ds.events)
    >>> result.fatigue[["group", "customers", "churn_rate"]].round(3)
          group  customers  churn_rate
    0  fatigued        609       0.677
    1   engaged        611       0.203
    """

    rates: pd.DataFrame = field(repr=False)
    fatigue: pd.DataFrame = field(repr=False)
    n_sends: int = 0
    statistic: float = np.nan
    pvalue: float = np.nan
    difference: float = np.nan
    diff_ci_low: float = np.nan
    diff_ci_high: float = np.nan
    fatigue_sends: int = 5
    churn_after: float = 60
    confidence_level: float = 0.95
    tracked: tuple[str, ...] = ("open rate", "click rate")

    @property
    def summary(self) -> pd.DataFrame:
        """Open and click rates per dimension and group (a copy)."""
        return self.rates.copy()

    def display_table(self) -> pd.DataFrame:
        """The rates for people: one row per campaign, channel and campaign / channel, with its sends
        and its open and click rates, each with its interval. The send hours are in :attr:`summary`
        and in the findings (the campaign with the most sends).

        Examples
        --------
        >>> import journeylib as jl
        >>> from journeylib.journeys.messages import message_engagement
        >>> ds = jl.load_dataset("sample")
        >>> print(message_engagement(ds.messages, ds.events).display_table().iloc[0].to_string())
        by                          campaign
        group                  cart_recovery
        sends                          7,561
        open rate     37.7% (36.6% to 38.8%)
        click rate    14.6% (13.8% to 15.4%)
        """
        r = self.rates[self.rates["dimension"] != "send hour"]
        text = [f"{format_percent(v)} ({format_interval(lo, hi)})" for v, lo, hi in zip(r["rate"], r["ci_low"], r["ci_high"])]
        wide = r.assign(_t=text).pivot_table(index=["dimension", "group"], columns="metric", values="_t",
                                              aggfunc="first", sort=False)
        sends = r.groupby(["dimension", "group"], sort=False)["sends"].first()
        out = pd.DataFrame({"by": [d for d, _ in wide.index], "group": [g for _, g in wide.index],
                            "sends": [f"{int(sends.loc[k]):,}" for k in wide.index]})
        for m in self.tracked:
            out[m] = wide[m].to_numpy()
        return out

    def by(self, dimension: str, metric: str | None = None) -> pd.DataFrame:
        """Rate rows of one dimension (``"campaign"``, ``"channel"``, ``"campaign / channel"``, ``"send hour"``)
        for ``metric`` (default: the first of :attr:`tracked`; every metric when none is tracked)."""
        r = self.rates
        metric = metric or (self.tracked[0] if self.tracked else None)
        keep = (r["dimension"] == dimension) & (r["metric"] == metric if metric else True)
        return r[keep].reset_index(drop=True)

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Interval ``(low, high)`` of the churn-rate difference, fatigued minus engaged."""
        return _diff_interval(self.fatigue, confidence_level)

    @property
    def findings(self) -> tuple[Finding, ...]:
        out = []
        if not self.tracked:
            return (Finding(f"The message log records {format_count(self.n_sends)} sends but no opens or clicks of "
                            "them: how customers engage with the messages cannot be measured.", action="Add the opens "
                            "and clicks of the sends to the message log (email and push tools export them) to compare "
                            "campaigns."),)
        verb = "opened" if self.tracked[0] == "open rate" else "clicked"
        cc = self.by("campaign / channel")
        if len(cc):
            best = cc.loc[cc["rate"].idxmax()]
            worst = cc.loc[cc["rate"].idxmin()]
            out.append(Finding(f"{best['group']} messages are {verb} most: {format_percent(best['rate'])} of sends "
                               f"({format_interval(best['ci_low'], best['ci_high'])}); {worst['group']} least: "
                               f"{format_percent(worst['rate'])} ({format_interval(worst['ci_low'], worst['ci_high'])}).",
                               float(best["rate"]), float(best["ci_low"]), float(best["ci_high"])))
        hours = self.by("send hour")
        if len(hours):  # the campaign with the most sends
            main = hours.groupby(hours["group"].str.rsplit(" at ", n=1).str[0])["sends"].sum().idxmax()
            hours = hours[hours["group"].str.rsplit(" at ", n=1).str[0] == main].reset_index(drop=True)
        if len(hours) >= 2:
            spread = hours["ci_low"].max() > hours["ci_high"].min()
            top = hours.loc[hours["rate"].idxmax()]
            out.append(Finding(
                f"{top['group'].replace(' at ', ' messages sent at ', 1).capitalize()} are {verb} by {format_percent(top['rate'])} "
                f"({format_interval(top['ci_low'], top['ci_high'])})"
                + ("; the send hours differ." if spread else "; the send hours do not differ clearly."),
                float(top["rate"]), float(top["ci_low"]), float(top["ci_high"]),
                "Test the best send hour in an A/B test before moving every send." if spread else ""))
        f = self.fatigue.set_index("group")
        if {"fatigued", "engaged"} <= set(f.index) and np.isfinite(self.difference):
            fat, eng = f.loc["fatigued"], f.loc["engaged"]
            out.append(Finding(
                f"Customers who opened none of their last {self.fatigue_sends} messages churn "
                f"{format_percent(fat['churn_rate'])} of the time against {format_percent(eng['churn_rate'])} "
                f"for the others: {format_percent(self.difference)} more "
                f"({format_interval(self.diff_ci_low, self.diff_ci_high)}, {format_pvalue(self.pvalue)}).",
                float(self.difference), float(self.diff_ci_low), float(self.diff_ci_high),
                "Send fewer messages to customers who stopped opening, and target them with a win-back offer."
                if self.pvalue < 0.05 and self.difference > 0 else ""))
        return tuple(out)

    @property
    def checks(self) -> tuple[Check, ...]:
        n = self.n_sends
        out = [Check("sends", "pass" if n >= 100 else "warn", f"{n} messages sent")]
        missing = [m.split()[0] + "s" for m in ("open rate", "click rate") if m not in self.tracked]
        out.append(Check("opens and clicks", "warn" if missing else "pass",
                         f"the log records no {' and no '.join(missing)} of its sends: "
                         + ("no rate and no fatigue are measured" if len(missing) == 2 else
                            "fatigue and open rates are not measured" if "opens" in missing else
                            "click rates are not measured") if missing else "both recorded"))
        f = self.fatigue
        small = f[f["customers"] < 30]
        if "open rate" not in self.tracked:
            return tuple(out)
        out.append(Check("fatigue groups", "warn" if len(small) or len(f) < 2 else "pass",
                         "; ".join(f"{g}: {c} customers" for g, c in zip(f["group"], f["customers"]))
                         or "no customer has enough sends"))
        return tuple(out)

    def against_truth(self, truth: dict[str, Any]) -> pd.DataFrame:
        """Open and click rates per campaign / channel against ``ground_truth["messages"]``."""
        t = truth.get("messages", truth)
        rows = []
        for metric, key in (("open rate", "expected_open_rate"), ("click rate", "expected_click_rate")):
            r = self.by("campaign / channel", metric).set_index("group")
            for g, v in t[key].items():
                g = " / ".join(g.split("/"))
                if g in r.index:
                    x = r.loc[g]
                    rows.append((f"{metric}: {g}", v, x["rate"], x["ci_low"], x["ci_high"]))
        return truth_table(rows)

    def plot(self, ax=None):
        """Open rate (else click rate) per campaign and channel with intervals; sends when neither is recorded."""
        from . import plots

        return plots.plot_message_rates(self, ax=ax)


def _diff_interval(f: pd.DataFrame, level: float) -> tuple[float, float]:
    g = f.set_index("group")
    if not {"fatigued", "engaged"} <= set(g.index) or not (g.loc["fatigued", "customers"] and g.loc["engaged", "customers"]):
        return (np.nan, np.nan)
    t = two_proportion_test(g.loc["fatigued", "churned"], g.loc["fatigued", "customers"],
                            g.loc["engaged", "churned"], g.loc["engaged", "customers"], confidence_level=level)
    return (float(t["ci_low"]), float(t["ci_high"]))


def _log_rows(messages: ibis.Table, end_us: int) -> ibis.Table:
    """``customer_id, campaign, channel, action, us`` (epoch microseconds) of the sends, opens and
    clicks up to ``end_us``."""
    t = messages.select(*MESSAGE_KEY, "action", us=core_time.epoch_us(messages))
    return t.filter((t.us <= end_us) & t.action.isin(["send", "open", "click"]))


def _opened_sends(log: ibis.Table) -> ibis.Table:
    """The sends an open or click counts for: one row per such send, with whether it was opened, clicked.

    An open (click) counts for the latest send of the same customer, campaign and channel at
    or before it (a backward as-of match, ties included: an open at the very time of a send
    belongs to it). One window per customer, campaign and channel, in time with sends before
    opens and clicks at the same instant, carries the time of the latest send so far to every
    open and click; those before the first send have none and drop out. A send is then named
    by its key and time, so two sends of one message at the same instant are opened once, as
    with ``pandas.merge_asof``. Sends nobody opened or clicked are not in the table.

    Parameters
    ----------
    log
        Rows of :func:`_log_rows`: ``customer_id, campaign, channel, action, us``.

    Returns
    -------
    ibis.Table
        ``customer_id, campaign, channel, us`` (the send's time, epoch microseconds),
        ``opened``, ``clicked`` (booleans); not yet executed.

    Examples
    --------
    >>> import ibis
    >>> import pandas as pd
    >>> from journeylib.core import engine
    >>> from journeylib.journeys import messages
    >>> t0 = pd.Timestamp("2025-01-01", tz="UTC")
    >>> log = ibis.memtable(pd.DataFrame({"customer_id": "a", "campaign": "news", "channel": "email",
    ...     "ts": [t0 - pd.Timedelta(hours=1), t0, t0, t0 + pd.Timedelta(hours=5), t0 + pd.Timedelta(hours=6)],
    ...     "action": ["open", "send", "open", "send", "click"]}))
    >>> rows = messages._log_rows(log, messages.core_time.to_epoch_us(t0 + pd.Timedelta(days=1)))
    >>> engine.to_pandas(messages._opened_sends(rows).order_by("us"))[["us", "opened", "clicked"]]
                     us  opened  clicked
    0  1735689600000000    True    False
    1  1735707600000000   False     True
    """
    is_send = log.action == "send"
    w = ibis.cumulative_window(group_by=[log[k] for k in MESSAGE_KEY], order_by=[log.us, is_send.ifelse(0, 1)])
    t = log.mutate(_send_us=is_send.ifelse(log.us, ibis.null("int64")).max().over(w))
    a = t.filter((t.action != "send") & t._send_us.notnull())
    return a.group_by([*(a[k] for k in MESSAGE_KEY), a._send_us.name("us")]).aggregate(
        opened=(a.action == "open").any(), clicked=(a.action == "click").any())


def _utc_hour(us: ibis.Value) -> ibis.Value:
    """Hour of the day (UTC, 0-23) of epoch microseconds, in integer arithmetic."""
    r = us % core_time.DAY_US
    r = ibis.ifelse(r < 0, r + core_time.DAY_US, r)  # % keeps the sign of the dividend before 1970
    return ((r - r % HOUR_US) // HOUR_US).cast("int64")


def _rate_counts(sends: ibis.Table, opened: ibis.Table) -> pd.DataFrame:
    """``campaign, channel, hour, sends, opened, clicked``: counts per campaign, channel and send hour."""
    s = sends.mutate(hour=_utc_hour(sends.us))
    o = opened.mutate(hour=_utc_hour(opened.us))
    keys = ["campaign", "channel", "hour"]
    n = engine.to_pandas(s.group_by(keys).aggregate(sends=s.count()))
    k = engine.to_pandas(o.group_by(keys).aggregate(opened=o.opened.sum(), clicked=o.clicked.sum()))
    out = n.merge(k, on=keys, how="left")
    out[["opened", "clicked"]] = out[["opened", "clicked"]].fillna(0).astype("int64")
    return out


def _rate_rows(counts: pd.DataFrame, level: float, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Rate rows of ``metrics`` per campaign, channel, campaign / channel and campaign and send hour,
    from ``counts`` (:func:`_rate_counts`); one row per group with ``metric`` "sends" when none."""
    # the send hour is compared within a campaign (campaigns go out at different hours)
    c = counts.assign(**{"campaign / channel": counts["campaign"].astype(str) + " / " + counts["channel"].astype(str),
                         "hour_key": list(zip(counts["campaign"].astype(str), counts["hour"]))})
    rows = []
    for dim, col in (("campaign", "campaign"), ("channel", "channel"), ("campaign / channel", "campaign / channel"),
                     ("send hour", "hour_key")):
        for g, d in c.groupby(col, sort=True):
            n = int(d["sends"].sum())
            label = f"{g[0]} at {int(g[1]):02d}:00 UTC" if dim == "send hour" else str(g)
            if not metrics:
                rows.append((dim, label, "sends", n, n, np.nan, np.nan, np.nan))
            for metric, flag in (("open rate", "opened"), ("click rate", "clicked")):
                if metric in metrics:
                    k = int(d[flag].sum())
                    lo, hi = wilson_interval(k, n, level)
                    rows.append((dim, label, metric, n, k, k / n, lo, hi))
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


def _fatigue_counts(sends: ibis.Table, opened: ibis.Table, events: Any, fatigue_sends: int, churn_after: float,
                    end: pd.Timestamp) -> pd.DataFrame:
    """``fatigued, customers, churned``: customers and churned customers per fatigue flag.

    A customer with at least ``fatigue_sends`` sends is fatigued when none of the last
    ``fatigue_sends`` was opened, i.e. when at least that many sends came after the latest
    opened one (a send at the same instant as it counts as not later). Churn as
    :func:`journeylib.retention.churn.churn_labels`; customers are matched by
    :func:`journeylib.core.engine.id_text`.
    """
    from ..retention.churn import churn_expr

    o = opened.filter(opened.opened)
    last = o.group_by(_cid=o.customer_id).aggregate(_last=o.us.max())
    j = sends.left_join(last, sends.customer_id == last._cid)
    later = (j._last.isnull() | (j.us > j._last)).cast("int64")
    per = j.group_by("customer_id").aggregate(_n=j.count(), _later=later.sum())
    per = per.filter(per._n >= fatigue_sends)
    per = per.select(_id=engine.id_text(per.customer_id), fatigued=per._later >= fatigue_sends)
    labels, _ = churn_expr(events, churn_after=churn_after, observation_end=end)
    labels = labels.select(_id=engine.id_text(labels.customer_id), churned=labels.churned)
    both = per.join(labels, "_id")
    return engine.to_pandas(both.group_by("fatigued").aggregate(customers=both.count(),
                                                                 churned=both.churned.sum()))


def message_engagement(
    messages: Any,
    events: Any = None,
    *,
    fatigue_sends: int = 5,
    churn_after: float = 60,
    observation_end: Any = None,
    confidence_level: float = 0.95,
) -> MessageEngagement:
    """Open and click rates per campaign, channel and send hour; fatigue and churn.

    Parameters
    ----------
    messages
        Message log (DataFrame, Ibis table or path): ``customer_id, ts, campaign, channel, action``.
    events
        Event log for the churn labels of the fatigue comparison (``None``: no comparison).
    fatigue_sends
        A customer is fatigued when none of their last this-many sends was opened.
    churn_after
        Days of inactivity that count as churn (as in :func:`journeylib.retention.churn.churn_labels`).
    observation_end
        End of observation (default: the last timestamp of ``events``, else of ``messages``).
    confidence_level
        Level of the intervals.

    Returns
    -------
    MessageEngagement
        ``summary`` (rates with ``ci_low`` / ``ci_high``), ``fatigue``, ``statistic``,
        ``pvalue``, ``findings``, ``checks``, ``plot()``.

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.messages import message_engagement
    >>> ds = jl.load_dataset("sample")
    >>> res = message_engagement(ds.messages, ds.events)
    >>> res.pvalue < 0.001
    True
    """
    if isinstance(fatigue_sends, bool) or not isinstance(fatigue_sends, (int, np.integer)) or fatigue_sends < 1:
        raise JourneyParameterError(f"fatigue_sends={fatigue_sends!r}; expected a whole number of sends, at least 1")
    if not 0 < confidence_level < 1:
        raise JourneyParameterError(f"confidence_level={confidence_level!r}; expected a number between 0 and 1")
    m = engine.to_table(messages)
    missing = [c for c in MESSAGES_REQUIRED if c not in m.columns]
    if missing:
        raise JourneyDataError(f"messages: missing column(s) {missing}; expected {list(MESSAGES_REQUIRED)} "
                               "(load the file with journeylib.core.load_messages)")
    if events is not None:
        from ..retention.churn import check_days

        check_days("churn_after", churn_after)
    end = core_time.observation_end(events if events is not None else m, observation_end)
    fatigue = pd.DataFrame(columns=list(FATIGUE_COLUMNS))
    z = p = diff = lo_d = hi_d = np.nan
    log = _log_rows(m.select(*MESSAGES_REQUIRED), core_time.to_epoch_us(end))
    sends = log.filter(log.action == "send")
    with engine.materialized(_opened_sends(log)) as opened:
        counts = _rate_counts(sends, opened)
        if counts.empty:
            raise JourneyDataError("messages: no 'send' rows; expected one row per message sent (action send)")
        # an action is recorded when some send has one (a log of sends only, or whose clicks are of messages never
        # sent, such as tracked links, measures no rate: 0% would be a finding the log cannot make)
        tracked = tuple(m for m, k in (("open rate", "opened"), ("click rate", "clicked")) if counts[k].sum())
        if events is not None and "open rate" in tracked:  # fatigue is opening none of the last sends
            both = _fatigue_counts(sends, opened, events, fatigue_sends, churn_after, end).set_index("fatigued")
    rates = _rate_rows(counts, confidence_level, tracked)
    if events is not None and "open rate" in tracked:
        frows = []
        for g, is_tired in (("fatigued", True), ("engaged", False)):
            n, k = (int(both.loc[is_tired, "customers"]), int(both.loc[is_tired, "churned"])) \
                if is_tired in both.index else (0, 0)
            lo, hi = wilson_interval(k, n, confidence_level)
            frows.append((g, n, k, k / n if n else np.nan, lo, hi))
        fatigue = pd.DataFrame(frows, columns=list(FATIGUE_COLUMNS))
        n1, n2 = fatigue["customers"]
        if n1 and n2:
            k1, k2 = fatigue["churned"]
            t = two_proportion_test(k1, n1, k2, n2, confidence_level=confidence_level)
            z, p, diff = float(t["statistic"]), float(t["pvalue"]), float(t["estimate"])
            lo_d, hi_d = float(t["ci_low"]), float(t["ci_high"])
    return MessageEngagement(rates=rates, fatigue=fatigue, n_sends=int(counts["sends"].sum()), statistic=z,
                             pvalue=p, difference=diff, diff_ci_low=lo_d, diff_ci_high=hi_d,
                             fatigue_sends=int(fatigue_sends), churn_after=float(churn_after),
                             confidence_level=float(confidence_level), tracked=tracked)


def message_events(messages: Any, *, campaign: str | list[str] | None = None, channel: str | None = None) -> Any:
    """The message log as an events-shaped table, to read message experiments with the A/B readout.

    One row per message row: ``customer_id, ts``, ``event`` (the action: ``send``, ``open``,
    ``click``), ``channel`` and ``campaign``. Pass it as ``events`` to
    :func:`journeylib.experiments.readout.ab_readout` with metrics on those events
    (:func:`opens_per_send`, ``count_per_user("open")``, ``conversion("click")``).

    Parameters
    ----------
    messages
        Message log (DataFrame, Ibis table or path): ``customer_id, ts, campaign, channel, action``.
    campaign
        Keep only this campaign (or these campaigns); ``None`` keeps all.
    channel
        Keep only this message channel; ``None`` keeps all.

    Returns
    -------
    ibis.Table
        ``customer_id, ts, event, channel, campaign`` (not yet executed).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.journeys.messages import message_events
    >>> ds = jl.load_dataset("sample")
    >>> t = message_events(ds.messages, campaign="newsletter")
    >>> t.columns
    ('customer_id', 'ts', 'event', 'channel', 'campaign')
    >>> sorted(jl.to_pandas(t.event.value_counts())["event"])
    ['click', 'open', 'send']
    """
    m = engine.to_table(messages)
    missing = [c for c in MESSAGES_REQUIRED if c not in m.columns]
    if missing:
        raise JourneyDataError(f"messages: missing column(s) {missing}; expected {list(MESSAGES_REQUIRED)} "
                               "(load the file with journeylib.core.load_messages)")
    if campaign is not None:
        names = [campaign] if isinstance(campaign, str) else list(campaign)
        known = engine.distinct_values(m, "campaign")
        bad = [c for c in names if c not in known]
        if bad:
            listed = ", ".join(f"'{c}'" for c in sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
            raise JourneyParameterError(f"no campaign {', '.join(repr(str(b)) for b in bad)} in the message log; its "
                                        f"campaigns are {listed}")
        m = m.filter(m.campaign.isin(names))
    if channel is not None:
        m = m.filter(m.channel == channel)
    return m.select(m.customer_id.cast("string").name("customer_id"), "ts", m.action.cast("string").name("event"),
                    m.channel.cast("string").name("channel"), m.campaign.cast("string").name("campaign"))


def opens_per_send(name: str = "opens_per_send") -> Any:
    """The A/B readout metric "opens per message sent" (ratio of opens to sends over users, delta method).

    For a message experiment read on :func:`message_events`: each user's opens and sends in
    the window after assignment; the ratio of their sums is the open rate per send.

    Parameters
    ----------
    name
        Metric name in the readout.

    Returns
    -------
    journeylib.experiments.readout.Metric
        A ``"ratio"`` metric of ``count_per_user("open")`` over ``count_per_user("send")``.

    Examples
    --------
    >>> from journeylib.journeys.messages import opens_per_send
    >>> m = opens_per_send()
    >>> m.kind, m.numerator.event, m.denominator.event
    ('ratio', 'open', 'send')
    """
    from ..experiments.readout import count_per_user, ratio

    m = ratio(count_per_user("open", name="opens"), count_per_user("send", name="sends"), name=name)
    return m


def message_readout(
    messages: Any,
    assignments: Any,
    *,
    experiment: str,
    campaign: str | list[str] | None = None,
    window_days: float = 28,
    control: str = "control",
    planned_split: dict[str, float] | None = None,
    alpha: float = 0.05,
    cuped: bool = True,
) -> Any:
    """A message experiment (e.g. send time) read with the A/B readout on the customers' message opens.

    Per assigned customer, the opens and sends of ``campaign`` in the ``window_days`` after
    assignment (:func:`message_events`); metrics: opens per message sent (:func:`opens_per_send`,
    the primary metric) and opens per customer. The readout checks the sample ratio first: an
    experiment whose split is off plan is invalid, and its findings say so.

    Parameters
    ----------
    messages
        Message log: ``customer_id, ts, campaign, channel, action``.
    assignments
        ``customer_id, experiment, variant, assigned_at``.
    experiment
        The message experiment's name in ``assignments``.
    campaign
        The campaign(s) the experiment changed (``None``: every campaign).
    window_days
        Days after assignment in which sends and opens count (the CUPED pre-period has the same length).
    control
        The control variant.
    planned_split
        ``{variant: share}`` for the sample-ratio check (equal split when ``None``).
    alpha
        Significance level of the decision (intervals at ``1 - alpha``).
    cuped
        Adjust ``opens_per_user`` with each customer's opens in the pre-period (the ratio metric is
        never adjusted).

    Returns
    -------
    journeylib.experiments.readout.Readout
        ``opens_per_send`` and ``opens_per_user`` per variant, the SRM check, decisions, findings.

    Examples
    --------
    The sample's send-time test lost part of its morning arm (a planted sample ratio mismatch):

    >>> import warnings
    >>> import journeylib as jl
    >>> from journeylib.journeys.messages import message_readout
    >>> ds = jl.load_dataset("sample")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     ro = message_readout(ds.messages, ds.assignments, experiment="email_send_time", campaign="newsletter")
    >>> ro.decisions["decision"].tolist()
    ['invalid: sample ratio mismatch']
    """
    from ..experiments.readout import ab_readout, count_per_user

    metrics = [opens_per_send(), count_per_user("open", name="opens_per_user")]
    plan = {experiment: dict(planned_split)} if planned_split else None
    return ab_readout(assignments, message_events(messages, campaign=campaign), metrics=metrics,
                      window_days=window_days, experiments=experiment, control=control, alpha=alpha,
                      planned_split=plan, primary_metric="opens_per_send", cuped=cuped)
