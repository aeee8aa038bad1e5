"""Journey stages: closed/open funnels, stage-to-stage transitions, journey-map data.

Engine half: Ibis expressions (joins, group_by/aggregate, window functions) that
scan the event log and return one small row per stage (per group). Stats half:
pandas arithmetic on those counts.

A *closed* funnel counts a customer at step ``k`` only if they reached steps
``1..k-1`` in that order (the first time at each step no earlier than the step
before), within an optional conversion ``window`` measured from their entry into
step 1. A customer whose window has not elapsed at ``observation_end`` and who has
not (yet) reached the next step is *not yet mature*: neither a conversion nor a
drop-out. Conversion rates are computed on the mature cohort only (customers whose
window has elapsed), so recent entrants do not drag them down.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Sequence

import ibis
import numpy as np
import pandas as pd

from . import engine
from .errors import JourneyDataError, JourneyParameterError
from .schema import DEFAULT_STAGES, OUTBOUND_EVENTS

__all__ = [
    "FunnelResult", "funnel",
]

_MISSING_GROUP = "(missing)"


# --------------------------------------------------------------------------- helpers
def _events_table(events: Any, required: Sequence[str] = ("customer_id", "ts", "stage")) -> ibis.Table:
    t = engine.to_table(events)
    missing = [c for c in required if c not in t.columns]
    if missing:
        raise JourneyDataError(
            f"events: missing column(s) {missing}; expected the canonical event columns "
            f"{list(required)} (load the file with journeylib.load_events)"
        )
    return t


def _drop_outbound(t: ibis.Table) -> ibis.Table:
    if "event" in t.columns and OUTBOUND_EVENTS:
        return t.filter(~t.event.isin(list(OUTBOUND_EVENTS)))
    return t


def _check_stages(stages: Sequence[str] | str, name: str = "stages") -> tuple[str, ...]:
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    stages = tuple(stages)
    if len(stages) < 2:
        raise JourneyParameterError(f"{name}: expected at least two stage names in journey order, got {list(stages)}")
    if len(set(stages)) != len(stages):
        raise JourneyParameterError(f"{name}: stage names must be unique, got {list(stages)}")
    return stages


def _window_seconds(window: Any, name: str = "window") -> float | None:
    """``None`` | days as a number | ``pd.Timedelta`` | a Timedelta string (``"30D"``)."""
    if window is None:
        return None
    if isinstance(window, (int, float, np.integer, np.floating)) and not isinstance(window, bool):
        secs = float(window) * 86400.0
    else:
        try:
            secs = pd.Timedelta(window).total_seconds()
        except (ValueError, TypeError) as exc:
            raise JourneyParameterError(
                f"{name}: expected a number of days, a pandas Timedelta or a string like '30D', got {window!r}"
            ) from exc
    if not np.isfinite(secs) or secs <= 0:
        raise JourneyParameterError(f"{name}: expected a positive duration, got {window!r}")
    return secs


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise JourneyParameterError(f"{name}: expected a timestamp (e.g. '2025-07-01'), got {value!r}") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _max_ts(t: ibis.Table) -> pd.Timestamp:
    value = engine.to_pandas(t.aggregate(m=t.ts.max()))["m"].iloc[0]
    if pd.isna(value):
        raise JourneyDataError("events: the table is empty; expected at least one event")
    return _timestamp(value, "observation_end")


def _attach_group(per_customer: ibis.Table, by: str | None, customers: Any) -> ibis.Table:
    """Add a ``_group`` column from ``customers[by]`` (missing attributes -> '(missing)')."""
    if by is None:
        return per_customer.mutate(_group=ibis.literal("all"))
    if customers is None:
        raise JourneyParameterError(f"by='{by}' needs the customers table (pass customers=...)")
    cu = engine.to_table(customers, table="customers")
    if "customer_id" not in cu.columns or by not in cu.columns:
        raise JourneyParameterError(
            f"by='{by}': not a column of customers; available: {[c for c in cu.columns if c != 'customer_id']}"
        )
    cu = cu.select(_cid=cu.customer_id, _grp=cu[by].cast("string"))
    j = per_customer.left_join(cu, per_customer.customer_id == cu._cid)
    j = j.mutate(_group=j._grp.fill_null(_MISSING_GROUP))
    return j.drop("_cid", "_grp")


def _html_block(title: str, body: pd.DataFrame, note: str = "") -> str:
    out = f"<h4>{html.escape(title)}</h4>"
    if note:
        out += f"<p>{html.escape(note)}</p>"
    return out + body.to_html(index=False, escape=True, float_format=lambda v: f"{v:,.3f}", na_rep="")


# --------------------------------------------------------------------------- funnel
@dataclass(frozen=True)
class FunnelResult:
    """Stage funnel: one row per stage (per group).

    Attributes
    ----------
    stages, closed, window_days, by, observation_end
        The settings the funnel was computed with.
    summary
        DataFrame with ``[group,] stage, step, customers, mature_customers,
        step_conversion, cumulative_conversion, drop_off, dropped, not_yet_mature,
        median_days_from_previous``. ``customers`` counts everyone who reached the
        stage; rates use the mature cohort (window elapsed) only.
    """

    stages: tuple[str, ...]
    closed: bool
    window_days: float | None
    by: str | None
    observation_end: pd.Timestamp
    _summary: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self._summary.copy()

    def __repr__(self) -> str:
        kind = "closed" if self.closed else "open"
        win = "no window" if self.window_days is None else f"window {self.window_days:g} days"
        head = f"FunnelResult({kind}, {win}, by={self.by!r}, observation_end={self.observation_end:%Y-%m-%d})"
        return head + "\n" + self._summary.to_string(index=False)

    def _repr_html_(self) -> str:
        kind = "Closed" if self.closed else "Open"
        win = "no conversion window" if self.window_days is None else f"conversion window {self.window_days:g} days"
        return _html_block(f"{kind} funnel ({win})", self._summary,
                           "Rates use customers whose conversion window has elapsed; "
                           "'not_yet_mature' customers are still inside their window.")

    def plot(self, ax=None):
        """Horizontal funnel bars labelled with customers and conversion.

        Without ``by``: one bar per stage (customers reached), labelled with the
        count, the step conversion and the cumulative conversion. With ``by``:
        grouped bars of the cumulative conversion per group.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.6 * len(self.stages) + 1.2))
        s = self._summary
        y = np.arange(len(self.stages))
        if self.by is None:
            counts = s["customers"].to_numpy(dtype=float)
            colors = plt.cm.Blues(np.linspace(0.85, 0.45, len(self.stages)))
            ax.barh(y, counts, color=colors, height=0.7)
            top = counts.max() if len(counts) and counts.max() > 0 else 1.0
            for i, row in enumerate(s.itertuples(index=False)):
                if i == 0:
                    label = f"{row.customers:,}"
                else:
                    label = (f"{row.customers:,}  |  step {_pct(row.step_conversion)}"
                             f"  |  of entry {_pct(row.cumulative_conversion)}")
                if row.not_yet_mature:
                    label += f"  (+{row.not_yet_mature:,} not yet mature)"
                ax.text(counts[i] + top * 0.01, i, label, va="center", fontsize=9)
            ax.set_xlim(0, top * 1.9)
            ax.set_xlabel("customers reaching the stage")
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        else:
            groups = list(dict.fromkeys(s["group"]))
            h = 0.8 / max(len(groups), 1)
            palette = plt.cm.tab10(np.arange(len(groups)) % 10)
            for g, (name, color) in enumerate(zip(groups, palette)):
                part = s[s["group"] == name].set_index("stage").reindex(self.stages)
                vals = part["cumulative_conversion"].to_numpy(dtype=float) * 100
                pos = y - 0.4 + h * (g + 0.5)
                ax.barh(pos, np.nan_to_num(vals), height=h, color=color, label=str(name))
                for p, v in zip(pos, vals):
                    if np.isfinite(v):
                        ax.text(v + 1, p, f"{v:.1f}%", va="center", fontsize=7)
            ax.set_xlim(0, 118)
            ax.set_xlabel("% of entrants reaching the stage (mature cohort)")
            ax.legend(title=self.by, fontsize=8, loc="lower right")
        ax.set_yticks(y, labels=list(self.stages))
        ax.invert_yaxis()
        ax.set_ylabel("stage")
        kind = "Closed" if self.closed else "Open"
        win = "" if self.window_days is None else f", {self.window_days:g}-day window"
        ax.set_title(f"{kind} stage funnel{win}" + (f", by {self.by}" if self.by else ""))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return ax


def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f}%"


def funnel(
    events: Any,
    stages: Sequence[str] | str = DEFAULT_STAGES,
    *,
    closed: bool = True,
    window: Any = None,
    by: str | None = None,
    customers: Any = None,
    observation_end: Any = None,
) -> FunnelResult:
    """Stage funnel: customers reaching each stage, conversion, drop-off, time between stages.

    Parameters
    ----------
    events
        Event log (DataFrame, Ibis table or path) with ``customer_id, ts, stage``.
        Outbound events (``schema.OUTBOUND_EVENTS``) are ignored.
    stages
        Stage names in journey order (a list, or one comma-separated string).
    closed
        ``True``: a customer counts at step k only after reaching steps 1..k-1 in
        order (each first reach no earlier than the previous step's). ``False``
        (open funnel): a customer counts at a stage if they ever reached it.
    window
        Conversion window measured from the customer's entry (first stage-1 event in
        a closed funnel; first event at any listed stage in an open one): days as a
        number, a ``pd.Timedelta`` or a string like ``"30D"``. ``None``: no limit,
        and every customer counts as mature.
    by
        Optional column of ``customers`` (e.g. ``"segment"``, ``"acquisition_channel"``)
        to compute one funnel per group.
    customers
        Customer table (needed with ``by``).
    observation_end
        End of observation (default: the last event's timestamp). Customers whose
        window ends after it are not yet mature.

    Returns
    -------
    FunnelResult
    """
    stages = _check_stages(stages)
    win = _window_seconds(window)
    t = _drop_outbound(_events_table(events))
    obs_end = _max_ts(t) if observation_end is None else _timestamp(observation_end, "observation_end")
    obs_epoch = obs_end.timestamp()

    ev = t.filter(t.stage.isin(list(stages))).select("customer_id", "stage", _e=t.ts.epoch_seconds())
    k_cols = [f"_t{k}" for k in range(len(stages))]

    if closed:
        first = ev.filter(ev.stage == stages[0])
        cur = first.group_by("customer_id").aggregate(_t0=first._e.min()).mutate(_entry=ibis._._t0)
        for k in range(1, len(stages)):
            step = ev.filter(ev.stage == stages[k]).select(_cid=ev.customer_id, _e=ev._e)
            prev = k_cols[k - 1]
            j = cur.select("customer_id", "_entry", prev).filter(ibis._[prev].notnull())
            j = j.join(step, j.customer_id == step._cid)
            cond = j._e >= j[prev]
            if win is not None:
                cond &= j._e <= j._entry + win
            j = j.filter(cond)
            reached = j.group_by(_cid2=j.customer_id).aggregate(**{k_cols[k]: j._e.min()})
            cur = cur.left_join(reached, cur.customer_id == reached._cid2).drop("_cid2")
    else:
        entry = ev.group_by("customer_id").aggregate(_entry=ev._e.min())
        ev2 = ev.join(entry, "customer_id")
        if win is not None:
            ev2 = ev2.filter(ev2._e <= ev2._entry + win)
        aggs = {k_cols[k]: ev2._e.min(where=ev2.stage == s) for k, s in enumerate(stages)}
        aggs["_entry"] = ev2._entry.min()
        cur = ev2.group_by("customer_id").aggregate(**aggs)

    cur = _attach_group(cur, by, customers)
    mature = ibis.literal(True) if win is None else (cur._entry + win <= obs_epoch)
    cur = cur.mutate(_mature=mature)
    aggs: dict[str, Any] = {}
    for k, c in enumerate(k_cols):
        hit = cur[c].notnull()
        aggs[f"n{k}"] = hit.cast("int64").sum()
        aggs[f"m{k}"] = (hit & cur._mature).cast("int64").sum()
        if k > 0:
            prev_hit = cur[k_cols[k - 1]].notnull()
            aggs[f"nym{k}"] = (prev_hit & ~hit & ~cur._mature).cast("int64").sum()
            ordered = hit & prev_hit & (cur[c] >= cur[k_cols[k - 1]])
            aggs[f"med{k}"] = (cur[c] - cur[k_cols[k - 1]]).median(where=ordered)
    agg = engine.to_pandas(cur.group_by("_group").aggregate(**aggs))

    rows = []
    for rec in agg.sort_values("_group").to_dict("records"):
        m0 = rec["m0"] or 0
        for k, s in enumerate(stages):
            n_k, m_k = int(rec[f"n{k}"] or 0), int(rec[f"m{k}"] or 0)
            if k == 0:
                step_conv = cum = 1.0 if m0 else np.nan
                dropped = nym = 0
                med = np.nan
            else:
                m_prev = int(rec[f"m{k - 1}"] or 0)
                step_conv = m_k / m_prev if m_prev else np.nan
                cum = m_k / m0 if m0 else np.nan
                dropped = max(m_prev - m_k, 0)
                nym = int(rec[f"nym{k}"] or 0)
                med = rec[f"med{k}"]
                med = float(med) / 86400.0 if med is not None and pd.notna(med) else np.nan
            rows.append({
                "group": rec["_group"], "stage": s, "step": k + 1, "customers": n_k, "mature_customers": m_k,
                "step_conversion": step_conv, "cumulative_conversion": cum,
                "drop_off": 1 - step_conv if np.isfinite(step_conv) else np.nan,
                "dropped": dropped, "not_yet_mature": nym, "median_days_from_previous": med,
            })
    cols = ["group", "stage", "step", "customers", "mature_customers", "step_conversion",
            "cumulative_conversion", "drop_off", "dropped", "not_yet_mature", "median_days_from_previous"]
    summary = pd.DataFrame(rows, columns=cols)
    if by is None:
        summary = summary.drop(columns="group")
    if summary.empty:
        raise JourneyDataError(
            f"column 'stage' of events: no event at the first funnel stage '{stages[0]}'; "
            f"expected stages among {list(stages)}"
        )
    return FunnelResult(stages, bool(closed), None if win is None else win / 86400.0, by, obs_end, summary)
