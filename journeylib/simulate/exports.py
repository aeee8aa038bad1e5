"""Write simulated journeys in the shapes of real exports (GA4, Segment, Amplitude, Mixpanel, PostHog,
Snowplow, orders).

:func:`write_export` writes a :class:`journeylib.simulate.journeys.SimulatedData` as one
published export shape, with its ``ground_truth.json`` beside it, so that readers, tests
and benchmarks have realistic inputs of any size. :func:`journeylib.core.readers.read_export`
reads every shape back to the simulator's events (see the round-trip tests):

* **Identities.** A customer browses anonymously (GA4 ``user_pseudo_id``, Segment
  ``anonymousId``, Amplitude ``device_id``, Mixpanel ``$device_id``, PostHog's anonymous
  ``distinct_id``, Snowplow ``domain_userid``: :func:`anonymous_ids`)
  and logs in at the first purchase: events from the first purchase on carry the user id
  (the simulator's ``customer_id``). Identity stitching gives the pre-purchase events of a
  buyer back to the buyer; customers who never buy stay anonymous, so their
  ``customer_id`` read back is their anonymous id.
* **Channels** are written as source/medium/campaign (:data:`CHANNEL_UTM`), which the
  readers' channel mapping turns back into the same channel; events without a channel
  carry no traffic information. GA4's user-level ``traffic_source`` is the customer's first
  touch (the acquisition channel).
* **Event names** are the simulator's (``landing``, ``product_view``, ``add_to_cart``,
  ``purchase``, ``review``, ``winback_sent``); Snowplow writes them as structured events
  (``se_action``) and purchases as ``transaction`` events with ``tr_total``.
* **Orders** keeps only what a plain shop has: ``orders.csv`` (one row per purchase,
  ``channel`` filled for win-back returns) and ``messages.csv``: every ``winback_sent`` as a
  ``send`` (campaign ``winback``) and every other channel touch as a tracked ``click``
  whose campaign is the touch's event name; reviews are not in this shape.
* **Time precision**: GA4 microseconds, Segment, Amplitude, PostHog and Snowplow milliseconds,
  Mixpanel and orders seconds (the simulator's timestamps are whole seconds, so all round trips are exact).
"""
from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import JourneyParameterError
from .journeys import SimulatedData, refuse_overwrite

__all__ = ["EXPORT_FORMATS", "CHANNEL_UTM", "write_export", "anonymous_ids", "export_files"]

EXPORT_FORMATS: tuple[str, ...] = ("ga4", "segment", "amplitude", "mixpanel", "posthog", "snowplow", "orders")

CHANNEL_UTM: dict[str, tuple[str, str, str | None]] = {
    "search": ("google", "organic", None),
    "social": ("facebook", "social", None),
    "email": ("newsletter", "email", "monthly_newsletter"),
    "paid_ads": ("google", "cpc", "brand_search"),
    "referral": ("partner-blog.example", "referral", None),
    "direct": ("(direct)", "(none)", None),
}
"""Source, medium and campaign written for each simulated channel."""

WINBACK_CAMPAIGN = "winback"
SITE = "https://shop.example"
PAGE_PATH = {"landing": "/", "product_view": "/products", "add_to_cart": "/cart", "purchase": "/checkout/complete",
             "review": "/account/reviews", "winback_sent": None}
CURRENCY = "EUR"


def export_files(format: str) -> tuple[str, ...]:
    """File names :func:`write_export` writes for ``format`` (besides ``ground_truth.json``).

    Parameters
    ----------
    format
        One of :data:`EXPORT_FORMATS` (case-insensitive).

    Returns
    -------
    tuple of str
        The export's own files.

    Examples
    --------
    >>> from journeylib.simulate.exports import export_files
    >>> export_files("orders")
    ('orders.csv', 'messages.csv')
    """
    return {"ga4": ("events.parquet",), "segment": ("tracks.jsonl",), "amplitude": ("events.json",),
            "mixpanel": ("export.jsonl",), "posthog": ("events.jsonl",), "snowplow": ("events.parquet",),
            "orders": ("orders.csv", "messages.csv")}[_check(format)]


def _check(format: str) -> str:
    fmt = str(format).lower()
    if fmt not in EXPORT_FORMATS:
        raise JourneyParameterError(f"format: got {format!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    return fmt


def _digest(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - an id, not security


def anonymous_ids(customer_ids: Any, format: str) -> pd.Series:
    """The anonymous id :func:`write_export` gives each customer in ``format`` (deterministic).

    GA4: a ``user_pseudo_id`` such as ``1234567890.1700000000``; the other shapes: a UUID.

    Parameters
    ----------
    customer_ids
        Customer ids (a list, array or Series).
    format
        One of :data:`EXPORT_FORMATS`.

    Returns
    -------
    pandas.Series
        One anonymous id per input id, in input order.

    Examples
    --------
    >>> from journeylib.simulate.exports import anonymous_ids
    >>> anonymous_ids(["C000001"], "ga4").tolist()
    ['9389880563.1750710545']
    """
    fmt = _check(format)
    ids = pd.Series(customer_ids, dtype=object)
    uniq = ids.drop_duplicates()
    if fmt == "ga4":
        made = [f"{int(h[:12], 16) % 10**10}.{1700000000 + int(h[12:20], 16) % 10**8}"
                for h in (_digest(f"ga4:{c}") for c in uniq)]
    else:
        made = [str(uuid.UUID(_digest(f"{fmt}:{c}"))) for c in uniq]
    return ids.map(dict(zip(uniq, made)))


def _prepared(data: SimulatedData, fmt: str) -> pd.DataFrame:
    ev = data.events[["customer_id", "ts", "event", "channel", "revenue"]].copy()
    ev["ts"] = pd.to_datetime(ev["ts"], utc=True)
    first_buy = ev.loc[ev["event"] == "purchase"].groupby("customer_id")["ts"].min()
    ev["logged_in"] = (ev["ts"] >= ev["customer_id"].map(first_buy)).fillna(False).astype(bool)
    ev["anonymous_id"] = anonymous_ids(ev["customer_id"], fmt).to_numpy()
    ev["user_id"] = ev["customer_id"].where(ev["logged_in"], None)
    utm = ev["channel"].map(CHANNEL_UTM)
    ev["source"] = utm.map(lambda u: u[0] if isinstance(u, tuple) else None)
    ev["medium"] = utm.map(lambda u: u[1] if isinstance(u, tuple) else None)
    ev["campaign"] = utm.map(lambda u: u[2] if isinstance(u, tuple) else None)
    ev.loc[ev["event"] == "winback_sent", "campaign"] = WINBACK_CAMPAIGN
    ev = ev.sort_values(["ts", "customer_id", "event"], kind="mergesort").reset_index(drop=True)
    ev["order_id"] = None
    buys = ev["event"] == "purchase"
    ev.loc[buys, "order_id"] = [f"T{i:08d}" for i in range(1, int(buys.sum()) + 1)]
    return ev


def _nones(s: pd.Series) -> list:
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else v for v in s.tolist()]


def write_export(data: SimulatedData, format: str, folder: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``data`` in an export ``format`` into ``folder`` (created) and return the folder.

    ``ga4``: ``events.parquet`` (BigQuery export schema with nested ``event_params``);
    ``segment``: ``tracks.jsonl`` (Segment track calls plus one ``identify`` per login);
    ``amplitude``: ``events.json`` (Amplitude export JSON lines); ``mixpanel``: ``export.jsonl``
    (Mixpanel raw export, simplified ID merge); ``posthog``: ``events.jsonl`` (PostHog events
    with one ``$identify`` per login); ``snowplow``:
    ``events.parquet`` (``atomic.events`` columns); ``orders``: ``orders.csv`` and
    ``messages.csv``. ``ground_truth.json``, the customers and assignments tables (Parquet)
    and a ``journey.yml`` describing the export (:func:`journey_yml`) are written beside
    in every case, so ``jl.load_journey(folder)`` reads it with no other input. A folder that
    already holds data files (these or the simulator's) is refused unless ``overwrite=True``.

    Parameters
    ----------
    data
        Simulated journeys (:func:`journeylib.simulate.journeys.simulate_journeys`).
    format
        One of :data:`EXPORT_FORMATS`: ``"ga4"``, ``"segment"``, ``"amplitude"``,
        ``"mixpanel"``, ``"posthog"``, ``"snowplow"`` or ``"orders"``.
    folder
        Where to write (created when missing).
    overwrite
        Replace data files already in ``folder``.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Examples
    --------
    >>> import tempfile
    >>> import journeylib as jl
    >>> data = jl.simulate_journeys(200, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = jl.write_export(data, "orders", tmp)
    ...     sorted(p.name for p in out.iterdir())
    ['assignments.parquet', 'customers.parquet', 'ground_truth.json', 'journey.yml', 'messages.csv', 'orders.csv']
    """
    fmt = _check(format)
    folder = Path(folder)
    refuse_overwrite(folder, overwrite, tuple({n for f in EXPORT_FORMATS for n in export_files(f)}))
    folder.mkdir(parents=True, exist_ok=True)
    ev = _prepared(data, fmt)
    {"ga4": _write_ga4, "segment": _write_segment, "amplitude": _write_amplitude, "mixpanel": _write_mixpanel,
     "posthog": _write_posthog, "snowplow": _write_snowplow, "orders": _write_orders}[fmt](ev, folder)
    (folder / "ground_truth.json").write_text(json.dumps(data.ground_truth, indent=2, default=str) + "\n")
    data.customers.to_parquet(folder / "customers.parquet", index=False)
    data.assignments.to_parquet(folder / "assignments.parquet", index=False)
    (folder / "journey.yml").write_text(journey_yml(fmt))
    return folder


_SAMPLE_RULES = """    - {stage: awareness, event: landing}
    - {stage: consideration, event: product_view}
    - {stage: cart, event: add_to_cart}
    - {stage: purchase, event: purchase, occurrence: first}
    - {stage: repeat, event: purchase}
    - {stage: advocacy, event: review}"""


def journey_yml(format: str) -> str:
    """The journey definition :func:`write_export` writes beside an export of ``format``.

    The export itself, plus the customers and assignments tables a shop keeps in its CRM
    and experiment tool (written as Parquet beside it). Stages come from rules on event
    names, as a user would write them; the orders shape has only orders and messages, so
    its journey is a clicked message -> first purchase -> repeat purchase.

    Parameters
    ----------
    format
        One of :data:`EXPORT_FORMATS`.

    Returns
    -------
    str
        The ``journey.yml`` text.

    Examples
    --------
    >>> from journeylib.simulate.exports import journey_yml
    >>> journey_yml("orders").splitlines()[2]
    'name: Simulated shop (orders export)'
    """
    fmt = _check(format)
    files = export_files(fmt)
    if fmt == "orders":
        events = f"  events: {{path: {files[0]}, format: orders}}\n  messages: {{path: {files[1]}}}\n"
        stages = ("  order: [awareness, purchase, repeat]\n  rules:\n    - {stage: awareness, event: message_click}\n"
                  "    - {stage: purchase, event: purchase, occurrence: first}\n    - {stage: repeat, event: purchase}\n")
        roles = "events:\n  purchase: purchase\n  message_sent: message_sent\n  message_click: message_click\n"
    else:
        events = f"  events: {{path: {files[0]}, format: {fmt}}}\n"
        stages = ("  order: [awareness, consideration, cart, purchase, repeat, advocacy]\n  rules:\n"
                  + _SAMPLE_RULES + "\n")
        roles = "events:\n  purchase: purchase\n  cart: add_to_cart\n  review: review\n"
    return (f"# Journey definition of a simulated {fmt} export (journeylib.simulate.write_export).\n"
            f"version: 1\nname: Simulated shop ({fmt} export)\nsources:\n{events}"
            "  customers: {path: customers.parquet}\n  assignments: {path: assignments.parquet}\n"
            f"stages:\n{stages}{roles}touchpoints:\n  column: channel\nsegments: [segment, acquisition_channel]\n")


def _us(ts: pd.Series) -> np.ndarray:
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]").astype("int64").to_numpy()


# --------------------------------------------------------------------------- GA4
def _write_ga4(ev: pd.DataFrame, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(ev)
    us = _us(ev["ts"])
    rows = np.arange(n)
    session = (us // 1_000_000 // 86_400) * 86_400  # ga_session_id: session start (epoch seconds), one a day
    page = ev["event"].map(PAGE_PATH)
    has_page = page.notna().to_numpy()
    long = [pd.DataFrame({"row": rows[has_page], "key": "page_location",
                          "s": (SITE + page[has_page]).to_numpy(), "i": None, "d": np.nan}),
            pd.DataFrame({"row": rows, "key": "ga_session_id", "s": None, "i": session, "d": np.nan})]
    ch = ev["channel"].notna().to_numpy()
    for key in ("source", "medium", "campaign"):
        m = ev[key].notna().to_numpy()
        long.append(pd.DataFrame({"row": rows[m], "key": key, "s": ev.loc[m, key].to_numpy(), "i": None, "d": np.nan}))
    buy = (ev["event"] == "purchase").to_numpy()
    long.append(pd.DataFrame({"row": rows[buy], "key": "currency", "s": CURRENCY, "i": None, "d": np.nan}))
    long.append(pd.DataFrame({"row": rows[buy], "key": "value", "s": None, "i": None,
                              "d": ev.loc[buy, "revenue"].to_numpy(float)}))
    long.append(pd.DataFrame({"row": rows[buy], "key": "transaction_id", "s": ev.loc[buy, "order_id"].to_numpy(),
                              "i": None, "d": np.nan}))
    p = pd.concat(long, ignore_index=True).sort_values("row", kind="mergesort")
    counts = np.bincount(p["row"].to_numpy(), minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    ints = pd.array(p["i"].to_numpy(object), dtype="Int64")
    value = pa.StructArray.from_arrays(
        [pa.array(_nones(p["s"]), pa.string()), pa.array(ints, pa.int64()),
         pa.nulls(len(p), pa.float64()), pa.array(p["d"].to_numpy(float), pa.float64(), from_pandas=True)],
        names=["string_value", "int_value", "float_value", "double_value"])
    item = pa.StructArray.from_arrays([pa.array(p["key"].to_numpy(object), pa.string()), value],
                                      names=["key", "value"])
    params = pa.ListArray.from_arrays(pa.array(offsets), item)

    # user-level first touch (the acquisition source) and first-touch time
    first = ev.loc[ch].groupby("customer_id").head(1).set_index("customer_id")[["source", "medium", "campaign"]]
    first_seen = ev.groupby("customer_id")["ts"].min()
    fs = ev["customer_id"].map(first["source"])
    fm = ev["customer_id"].map(first["medium"])
    fc = ev["customer_id"].map(first["campaign"]).where(fs != "(direct)", "(direct)")
    traffic = pa.StructArray.from_arrays([pa.array(_nones(fc), pa.string()), pa.array(_nones(fm), pa.string()),
                                          pa.array(_nones(fs), pa.string())], names=["name", "medium", "source"])
    rev = ev["revenue"].where(buy)
    ecommerce_fields = {
        "total_item_quantity": pa.array(np.where(buy, 1, 0), pa.int64()),
        "purchase_revenue_in_usd": pa.array(rev.to_numpy(float), pa.float64(), from_pandas=True),
        "purchase_revenue": pa.array(rev.to_numpy(float), pa.float64(), from_pandas=True),
        "refund_value_in_usd": pa.nulls(n, pa.float64()), "refund_value": pa.nulls(n, pa.float64()),
        "shipping_value_in_usd": pa.nulls(n, pa.float64()), "shipping_value": pa.nulls(n, pa.float64()),
        "tax_value_in_usd": pa.nulls(n, pa.float64()), "tax_value": pa.nulls(n, pa.float64()),
        "unique_items": pa.array(np.where(buy, 1, 0), pa.int64()),
        "transaction_id": pa.array(_nones(ev["order_id"]), pa.string()),
    }
    ecommerce = pa.StructArray.from_arrays(list(ecommerce_fields.values()), names=list(ecommerce_fields),
                                           mask=pa.array(~buy))
    cts_names = ["manual_campaign_id", "manual_campaign_name", "manual_source", "manual_medium", "manual_term",
                 "manual_content", "manual_source_platform", "manual_creative_format", "manual_marketing_tactic",
                 "gclid", "dclid", "srsltid"]
    cts_values = {"manual_campaign_name": ev["campaign"], "manual_source": ev["source"], "manual_medium": ev["medium"]}
    cts = pa.StructArray.from_arrays(
        [pa.array(_nones(cts_values[k]), pa.string()) if k in cts_values else pa.nulls(n, pa.string())
         for k in cts_names], names=cts_names, mask=pa.array(~(ch & (ev["medium"] != "(none)").to_numpy())))
    table = pa.table({
        "event_date": pa.array(ev["ts"].dt.strftime("%Y%m%d").to_numpy(object), pa.string()),
        "event_timestamp": pa.array(us, pa.int64()),
        "event_name": pa.array(ev["event"].to_numpy(object), pa.string()),
        "event_params": params,
        "event_previous_timestamp": pa.nulls(n, pa.int64()),
        "event_value_in_usd": pa.array(rev.to_numpy(float), pa.float64(), from_pandas=True),
        "event_bundle_sequence_id": pa.array(rows + 1, pa.int64()),
        "event_server_timestamp_offset": pa.nulls(n, pa.int64()),
        "user_id": pa.array(_nones(ev["user_id"]), pa.string()),
        "user_pseudo_id": pa.array(ev["anonymous_id"].to_numpy(object), pa.string()),
        "user_first_touch_timestamp": pa.array(_us(ev["customer_id"].map(first_seen)), pa.int64()),
        "traffic_source": traffic,
        "stream_id": pa.array(np.full(n, "1234567890", dtype=object), pa.string()),
        "platform": pa.array(np.full(n, "WEB", dtype=object), pa.string()),
        "ecommerce": ecommerce,
        "collected_traffic_source": cts,
        "is_active_user": pa.array(np.ones(n, bool), pa.bool_()),
    })
    pq.write_table(table, folder / "events.parquet")


# --------------------------------------------------------------------------- Segment
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _iso_ms(ts: pd.Series) -> list[str]:
    """``2025-01-05T12:00:00.000Z`` (ISO 8601, milliseconds, UTC)."""
    stamps = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
    return [t + "Z" for t in np.datetime_as_string(stamps, unit="ms").tolist()]


def _write_segment(ev: pd.DataFrame, folder: Path) -> None:
    stamps = _iso_ms(ev["ts"])
    lines = []
    logins = set()
    for i, (cid, anon, uid, event, source, medium, campaign, revenue, order_id, ts) in enumerate(zip(
            ev["customer_id"], ev["anonymous_id"], _nones(ev["user_id"]), ev["event"], _nones(ev["source"]),
            _nones(ev["medium"]), _nones(ev["campaign"]), _nones(ev["revenue"]), _nones(ev["order_id"]), stamps)):
        if uid is not None and cid not in logins:
            logins.add(cid)
            lines.append({"type": "identify", "anonymousId": anon, "userId": uid, "timestamp": ts,
                          "messageId": f"ajs-next-identify-{anon}", "traits": {},
                          "context": {"library": {"name": "analytics.js", "version": "next-1.70.0"}}})
        context: dict[str, Any] = {"library": {"name": "analytics.js", "version": "next-1.70.0"}}
        page = PAGE_PATH.get(event)
        if page is not None:
            context["page"] = {"path": page, "url": SITE + page}
        if source is not None:
            context["campaign"] = {k: v for k, v in (("source", source), ("medium", medium), ("name", campaign))
                                   if v is not None}
        props: dict[str, Any] = {}
        if revenue is not None:
            props = {"order_id": order_id, "revenue": revenue, "currency": CURRENCY}
        lines.append({"type": "track", "event": event, "anonymousId": anon, "userId": uid, "timestamp": ts,
                      "receivedAt": ts, "messageId": f"ajs-next-{i:09d}-{anon[:8]}", "properties": props,
                      "context": context})
    with open(folder / "tracks.jsonl", "w") as f:
        f.write("\n".join(map(_ENCODER.encode, lines)) + "\n")


# --------------------------------------------------------------------------- Amplitude
def _write_amplitude(ev: pd.DataFrame, folder: Path) -> None:
    stamps = ev["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    times = [t.replace("T", " ") for t in np.datetime_as_string(stamps, unit="us").tolist()]
    amp_id = {c: 100000000 + i for i, c in enumerate(pd.unique(ev["customer_id"]))}
    sessions = (_us(ev["ts"]) // 1000 // 86_400_000 * 86_400_000).tolist()
    with open(folder / "events.json", "w") as f:
        for i, (cid, anon, uid, event, source, medium, campaign, revenue, t, sid) in enumerate(zip(
                ev["customer_id"], ev["anonymous_id"], _nones(ev["user_id"]), ev["event"], _nones(ev["source"]),
                _nones(ev["medium"]), _nones(ev["campaign"]), _nones(ev["revenue"]), times, sessions)):
            props: dict[str, Any] = {}
            if source is not None:
                props.update({"utm_source": source, "utm_medium": medium})
                if campaign is not None:
                    props["utm_campaign"] = campaign
            page = PAGE_PATH.get(event)
            if page is not None:
                props["[Amplitude] Page Path"] = page
            if revenue is not None:
                props.update({"$revenue": revenue, "$price": revenue, "$quantity": 1, "currency": CURRENCY})
            row = {"$insert_id": f"{anon[:24]}{i:012d}", "amplitude_id": amp_id[cid],
                   "app": 123456, "device_id": anon, "user_id": uid, "event_id": i + 1, "event_type": event,
                   "event_time": t, "client_event_time": t, "server_upload_time": t, "session_id": sid,
                   "event_properties": props, "user_properties": {}, "platform": "Web", "library": "amplitude-ts/2.0.0",
                   "paying": None if revenue is None else True, "data": {}}
            f.write(_ENCODER.encode(row) + "\n")


# --------------------------------------------------------------------------- Mixpanel
def _write_mixpanel(ev: pd.DataFrame, folder: Path) -> None:
    seconds = (_us(ev["ts"]) // 1_000_000).tolist()
    with open(folder / "export.jsonl", "w") as f:
        for i, (anon, uid, event, source, medium, campaign, revenue, order_id, t) in enumerate(zip(
                ev["anonymous_id"], _nones(ev["user_id"]), ev["event"], _nones(ev["source"]), _nones(ev["medium"]),
                _nones(ev["campaign"]), _nones(ev["revenue"]), _nones(ev["order_id"]), seconds)):
            props: dict[str, Any] = {"time": t, "distinct_id": uid if uid is not None else f"$device:{anon}",
                                     "$device_id": anon, "$insert_id": f"{anon[:18]}{i:014d}", "mp_lib": "web"}
            if uid is not None:
                props["$user_id"] = uid
            page = PAGE_PATH.get(event)
            if page is not None:
                props["$current_url"] = SITE + page
            if source is not None:
                props.update({"utm_source": source, "utm_medium": medium})
                if campaign is not None:
                    props["utm_campaign"] = campaign
            if revenue is not None:
                props.update({"revenue": revenue, "currency": CURRENCY, "order_id": order_id})
            f.write(_ENCODER.encode({"event": event, "properties": props}) + "\n")


# --------------------------------------------------------------------------- PostHog
def _write_posthog(ev: pd.DataFrame, folder: Path) -> None:
    stamps = _iso_ms(ev["ts"])
    logins: set = set()
    with open(folder / "events.jsonl", "w") as f:
        for i, (cid, anon, uid, event, source, medium, campaign, revenue, t) in enumerate(zip(
                ev["customer_id"], ev["anonymous_id"], _nones(ev["user_id"]), ev["event"], _nones(ev["source"]),
                _nones(ev["medium"]), _nones(ev["campaign"]), _nones(ev["revenue"]), stamps)):
            if uid is not None and cid not in logins:
                logins.add(cid)
                f.write(_ENCODER.encode({"uuid": str(uuid.UUID(_digest(f"identify:{anon}"))), "event": "$identify",
                                         "distinct_id": uid, "timestamp": t,
                                         "properties": {"$anon_distinct_id": anon, "$lib": "web"}}) + "\n")
            props: dict[str, Any] = {"$lib": "web"}
            page = PAGE_PATH.get(event)
            if page is not None:
                props.update({"$current_url": SITE + page, "$pathname": page})
            if source is not None:
                props.update({"utm_source": source, "utm_medium": medium})
                if campaign is not None:
                    props["utm_campaign"] = campaign
            if revenue is not None:
                props.update({"revenue": revenue, "currency": CURRENCY})
            f.write(_ENCODER.encode({"uuid": str(uuid.UUID(_digest(f"posthog:{i}:{anon}"))), "event": event,
                                     "distinct_id": uid if uid is not None else anon, "timestamp": t,
                                     "properties": props}) + "\n")


# --------------------------------------------------------------------------- Snowplow
def _write_snowplow(ev: pd.DataFrame, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(ev)
    buy = (ev["event"] == "purchase").to_numpy()
    ts = ev["ts"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ms]")
    ms = pa.timestamp("ms")
    page = ev["event"].map(PAGE_PATH)
    network = anonymous_ids(ev["customer_id"].map(lambda c: f"net:{c}"), "snowplow")
    s = lambda values: pa.array(_nones(pd.Series(values)), pa.string())  # noqa: E731
    table = pa.table({
        "app_id": s(np.full(n, "shop", dtype=object)),
        "platform": s(np.full(n, "web", dtype=object)),
        "etl_tstamp": pa.array(ts, ms), "collector_tstamp": pa.array(ts, ms),
        "dvce_created_tstamp": pa.array(ts, ms),
        "event": s(np.where(buy, "transaction", "struct")),
        "event_id": s([str(uuid.UUID(_digest(f"sp:{i}"))) for i in range(n)]),
        "name_tracker": s(np.full(n, "sp", dtype=object)),
        "v_tracker": s(np.full(n, "js-3.24.0", dtype=object)),
        "user_id": s(ev["user_id"]),
        "domain_userid": s(ev["anonymous_id"]),
        "domain_sessionidx": pa.array(np.ones(n, np.int32), pa.int32()),
        "network_userid": s(network),
        "page_url": s(SITE + page),
        "page_urlhost": s(np.where(page.notna(), "shop.example", None)),
        "page_urlpath": s(page),
        "mkt_medium": s(ev["medium"]), "mkt_source": s(ev["source"]), "mkt_campaign": s(ev["campaign"]),
        "se_category": s(np.where(buy, None, "journey")),
        "se_action": s(ev["event"].where(~buy)),
        "se_label": pa.nulls(n, pa.string()),
        "tr_orderid": s(ev["order_id"]),
        "tr_total": pa.array(ev["revenue"].where(buy).to_numpy(float), pa.float64(), from_pandas=True),
        "tr_currency": s(np.where(buy, CURRENCY, None)),
        "derived_tstamp": pa.array(ts, ms),
        "event_vendor": s(np.where(buy, "com.snowplowanalytics.snowplow", "com.google.analytics")),
        "event_name": s(np.where(buy, "transaction", "event")),
        "event_format": s(np.full(n, "jsonschema", dtype=object)),
        "event_version": s(np.full(n, "1-0-0", dtype=object)),
    })
    pq.write_table(table, folder / "events.parquet")


# --------------------------------------------------------------------------- orders
def _write_orders(ev: pd.DataFrame, folder: Path) -> None:
    buy = ev["event"] == "purchase"
    when = ev["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
    orders = pd.DataFrame({"order_id": ev.loc[buy, "order_id"], "customer": ev.loc[buy, "customer_id"],
                           "order_time": when[buy], "amount": ev.loc[buy, "revenue"].map("{:.2f}".format),
                           "currency": CURRENCY, "channel": ev.loc[buy, "channel"]})
    orders.to_csv(folder / "orders.csv", index=False)
    touch = ~buy & ev["channel"].notna()
    sent = ev["event"] == "winback_sent"
    messages = pd.DataFrame({"customer": ev.loc[touch, "customer_id"], "time": when[touch],
                             "kind": np.where(sent[touch], "send", "click"),
                             "campaign": np.where(sent[touch], WINBACK_CAMPAIGN, ev.loc[touch, "event"]),
                             "channel": ev.loc[touch, "channel"]})
    messages.to_csv(folder / "messages.csv", index=False)
