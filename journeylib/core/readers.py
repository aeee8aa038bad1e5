"""Readers for the event exports people have: GA4, Segment/RudderStack, Amplitude, Mixpanel, PostHog,
Snowplow, orders.

:func:`read_export` turns one published export shape into the canonical event table
(``customer_id`` text, ``ts`` UTC timestamp, ``event`` text, ``channel`` nullable text,
``revenue`` nullable float) plus flattened extra columns (source, medium, campaign,
currency, page path...). The flattening runs in DuckDB (through the Ibis connection of
:mod:`journeylib.core.engine`), so Parquet and newline-delimited JSON of any size are read
by the engine, never by pandas. The result is a temporary DuckDB table: the files are read
once. With a non-DuckDB connection (Spark) the export is flattened by a private DuckDB and
handed over as an in-memory table.

Shapes
------
* ``ga4``: Google Analytics 4 BigQuery export (Parquet, or newline-delimited JSON as
  ``bq extract`` writes it, INT64 values possibly as strings): ``event_name``,
  ``event_timestamp`` (microseconds since 1970 UTC), ``user_pseudo_id``, ``user_id``,
  repeated ``event_params`` (``key`` and ``value.string_value/int_value/float_value/
  double_value``), ``ecommerce.purchase_revenue``, ``traffic_source`` (the user's first
  source), ``collected_traffic_source`` (the event's own ``manual_*`` UTM values).
  Revenue: ``ecommerce.purchase_revenue``, else the ``value`` parameter of ``purchase`` /
  ``in_app_purchase`` events. The event's source/medium/campaign: ``collected_traffic_source
  .manual_source/manual_medium/manual_campaign_name`` where present, else the ``source``,
  ``medium``, ``campaign`` event parameters; ``traffic_source`` is user-level (first
  acquisition) and becomes ``first_source/first_medium/first_campaign`` and the
  ``customers`` table (``acquisition_channel``), never the event's channel.
  Extra columns: anonymous_id, user_id, source, medium, campaign, currency, page_location,
  page_path, session_id, transaction_id, first_source, first_medium, first_campaign.
* ``segment``: Segment / RudderStack calls as JSON lines (S3 / warehouse raw export): ``type``,
  ``event``, ``anonymousId``/``anonymous_id``, ``userId``/``user_id``, ``timestamp``
  (ISO 8601; ``originalTimestamp``/``receivedAt`` when missing), ``properties`` (revenue:
  ``revenue``, else ``total``, else ``price`` x ``quantity`` (1 when absent) on order events
  such as ``Order Completed``), ``context.campaign.{source, medium, name}``,
  ``context.page.path``. ``track`` calls keep their event name, ``page`` calls become
  ``page_view`` and ``screen`` calls ``screen_view``; ``identify`` and ``alias`` calls
  (``previousId`` -> ``userId``) only link identities. Extra columns: anonymous_id,
  user_id, source, medium, campaign, currency, page_path, message_id.
* ``amplitude``: Amplitude export (JSON lines, gzip allowed): ``event_type``, ``event_time``
  (``"2025-01-05 12:00:00.123000"``, UTC by Amplitude's definition), ``device_id``
  (anonymous), ``user_id``, ``event_properties`` (revenue: ``$revenue``, ``revenue``, the
  top-level ``revenue``, else ``$price`` x ``$quantity``; channel from ``utm_source``,
  ``utm_medium``, ``utm_campaign``), ``user_properties``. Extra columns: anonymous_id,
  user_id, source, medium, campaign, currency, page_path, session_id.
* ``mixpanel``: Mixpanel raw event export (JSON lines, gzip allowed, as the Export API and the
  project's "export raw data" give them): ``event`` and ``properties`` with ``time`` (Unix
  seconds, or milliseconds when the number is that large), ``distinct_id``, ``$device_id``
  (anonymous), ``$user_id``, ``$insert_id``, ``utm_source``/``utm_medium``/``utm_campaign``,
  ``$current_url``. An event carries a user when it has ``$user_id``, or a ``distinct_id``
  that is neither ``$device:...`` nor its ``$device_id`` (original ID merge after login);
  ``$identify`` events (``$anon_id`` -> ``$identified_id``) only link identities;
  ``$mp_web_page_view`` becomes ``page_view``. Revenue: ``revenue``, else ``amount``, else
  ``total``, else ``price`` x ``quantity`` on order events. ``time`` is UTC; ``timezone``
  reads it as that zone's wall clock instead (projects whose export gives project time).
  Extra columns: anonymous_id, user_id, source, medium, campaign, currency, page_path, insert_id.
* ``posthog``: PostHog events (JSON lines or CSV as the events table and its exports give them;
  Parquet from a warehouse): ``uuid``, ``event``, ``distinct_id``, ``timestamp`` (ISO 8601),
  ``properties`` (JSON, or JSON text in a CSV) and, where present, ``person_id``. The person is
  the customer when ``person_id`` is there; otherwise ``$identify`` events
  (``$anon_distinct_id`` -> ``distinct_id``) link the anonymous browsing to the identified
  ``distinct_id``. ``$pageview`` becomes ``page_view``, ``$screen`` ``screen_view``; person and
  identity events (``$identify``, ``$create_alias``, ``$set``, ``$groupidentify``) are dropped.
  Channel from the ``utm_*`` properties, page path from ``$pathname`` (else ``$current_url``),
  revenue as for Mixpanel. Extra columns: anonymous_id, user_id, source, medium, campaign,
  currency, page_path, session_id, event_uuid.
* ``snowplow``: Snowplow enriched events (``atomic.events`` columns; Parquet, or CSV/TSV with a
  header): ``domain_userid`` (anonymous), ``user_id``, ``network_userid``, ``event`` /
  ``event_name``, ``se_category``/``se_action`` (structured events are named by their
  ``se_action``), ``derived_tstamp`` (``collector_tstamp`` when missing; UTC by Snowplow's
  definition), ``tr_total``, ``tr_currency``, ``mkt_source/mkt_medium/mkt_campaign``,
  ``refr_medium``, ``page_urlpath``. Legacy ``transaction`` events are read as ``purchase``
  with revenue ``tr_total``; their ``transaction_item`` rows are dropped (they would count
  the order twice). Extra columns: anonymous_id, user_id, network_userid, source, medium,
  campaign, currency, page_path, page_url, se_category, se_label, transaction_id.
* ``orders``: A plain orders table (CSV, TSV, Parquet or a workbook): customer, order time, amount
  (and optional order id, currency, channel, status), one ``purchase`` event per order: rows that
  share an order id (line items, as in Shopify's orders export, whose order number ``Name`` is
  read as the order id) are one purchase, and orders whose status is refunded, voided or
  cancelled are left out (a warning says how many of each); a refunded amount (Shopify's
  ``Refunded Amount``, Stripe's ``Amount Refunded``) is subtracted from its order's value, and
  an order refunded in full is left out; plus an optional
  message log (customer, time, kind, campaign, channel): kind ``send``/``sent``,
  ``open``/``opened``, ``click``/``clicked`` become ``message_sent``, ``message_open``,
  ``message_click``. ``path`` is the orders file, or a folder holding ``orders.*`` and
  optionally ``messages.*``; ``messages=`` names the message log explicitly. Column names are
  guessed from common spellings (:data:`ORDER_COLUMNS`, :data:`MESSAGE_COLUMNS`) or given by
  ``columns={"their name": "canonical name"}``. Extra columns: campaign, currency, order_id.

Identity stitching
------------------
Where a shape has an anonymous id (GA4 ``user_pseudo_id``, Segment ``anonymousId``,
Amplitude ``device_id``, Mixpanel ``$device_id``, PostHog ``distinct_id``, Snowplow
``domain_userid``) and a user id, events are stitched to the user: an event that carries a
user id belongs to that user; an event without one belongs to the user its anonymous id is
ever seen with (in any row, earlier or later: the pre-login browsing of a customer joins the
customer). When one anonymous id is seen with
several user ids (a shared device), its anonymous events go to the *first* user id by time
(ties: the smallest user id). Anonymous ids never seen with a user id stay customers of
their own (``customer_id`` is the anonymous id). ``anonymous_id`` and ``user_id`` are kept
as extra columns.

Channel
-------
Where a shape carries a source/medium, ``channel`` follows this mapping (medium and source
compared in lower case, first match wins; :func:`channel_of` does the same in Python):

1. no source and no medium (or ``(not set)``) -> null (not a touchpoint)
2. medium ``cpc``, ``ppc``, ``cpm``, ``cpv``, ``cpa``, ``paid``, ``display``, ``banner``,
   ``retargeting`` or starting with ``paid`` -> ``paid_ads``
3. medium ``email``/``e-mail``/``newsletter`` (or no medium and such a source) -> ``email``
4. medium ``organic`` (or no medium and a search-engine source) -> ``search``
5. medium ``social``/``social-network``/``social-media``/``sm``, or a social source
   (facebook, instagram, t.co, twitter, x, linkedin, pinterest, tiktok, youtube,
   reddit, snapchat...) -> ``social``
6. medium ``referral``/``affiliate``/``partner`` -> ``referral``
7. medium ``(none)``/``none``/``direct`` or source ``(direct)``/``direct`` -> ``direct``
8. a source without medium -> ``referral`` (a referring site)
9. any other medium -> the medium itself, lower case (``sms``, ``push``...).

Snowplow additionally uses ``refr_medium`` when there is no ``mkt_*`` value (search ->
search, social -> social, email -> email, paid -> paid_ads, unknown -> referral,
internal -> null) and calls a ``page_view`` with neither ``direct``. Amplitude, Mixpanel and
PostHog read the event's ``utm_*`` properties only. The orders shape takes ``channel`` as given.

Time zones
----------
GA4 (epoch microseconds), Amplitude and Snowplow timestamps are UTC by the exporters'
definitions. ``timezone`` is the zone of *naive* timestamps where the shape leaves it open:
Segment timestamps without an offset, the orders/messages tables, and Mixpanel's Unix times
for projects that export project time. Timestamps with an offset are converted to UTC.
"""
from __future__ import annotations

import gzip
import json
import re
import warnings
from pathlib import Path
from typing import Any, Mapping

import ibis
import pandas as pd

from . import engine
from .errors import JourneyDataError, JourneyDataWarning, JourneyParameterError
from .load import decimal_comma_hint
from .schema import (COMMA_AMOUNT, CURRENCY_AMOUNT, EXPORT_FORMATS, GROUP_SPACES, SPACED_THOUSANDS,
                     THOUSANDS_COMMA, ZONE_SUFFIX)

__all__ = ["FORMATS", "read_export", "detect_format", "channel_of", "channel_sql", "ORDER_COLUMNS", "MESSAGE_COLUMNS",
           "PAID_MEDIA", "EMAIL_MEDIA", "SOCIAL_MEDIA", "SOCIAL_SOURCES", "SEARCH_SOURCES"]

FORMATS = EXPORT_FORMATS

PAID_MEDIA = ("cpc", "ppc", "cpm", "cpv", "cpa", "paid", "display", "banner", "retargeting")
EMAIL_MEDIA = ("email", "e-mail", "e_mail", "newsletter")
SOCIAL_MEDIA = ("social", "social-network", "social-media", "social_network", "social_media", "sm")
SOCIAL_SOURCES = ("facebook", "facebook.com", "m.facebook.com", "l.facebook.com", "fb", "instagram",
                  "instagram.com", "ig", "t.co", "twitter", "twitter.com", "x", "x.com", "linkedin",
                  "linkedin.com", "lnkd.in", "pinterest", "pinterest.com", "tiktok", "tiktok.com", "youtube",
                  "youtube.com", "reddit", "reddit.com", "snapchat", "threads", "threads.net", "whatsapp")
SEARCH_SOURCES = ("google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "naver", "qwant",
                  "google.com", "bing.com")
REFERRAL_MEDIA = ("referral", "affiliate", "affiliates", "partner")
DIRECT_MEDIA = ("(none)", "none", "direct")
DIRECT_SOURCES = ("(direct)", "direct")

ORDER_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "customer", "user_id", "client_id", "customer_email", "email", "buyer_id"),
    "ts": ("ts", "order_time", "ordered_at", "order_date", "created_at", "timestamp", "date", "time",
           "purchase_date", "order_datetime", "created", "created_utc", "created_date", "created_date_utc"),
    "revenue": ("revenue", "amount", "total", "order_total", "value", "price", "total_price", "order_value"),
    "order_id": ("order_id", "order", "order_number", "id", "transaction_id"),
    "currency": ("currency", "currency_code"),
    "channel": ("channel", "order_channel", "marketing_channel"),
    "status": ("financial_status", "order_status", "payment_status", "status"),
    "refunded": ("refunded_amount", "refund_amount", "amount_refunded", "total_refunded", "refunded", "refunds",
                 "order_refund_amount"),
}
"""Column names the orders reader recognises (first present wins), per canonical name."""

MESSAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "customer", "user_id", "client_id", "customer_email", "email", "recipient"),
    "ts": ("ts", "time", "timestamp", "sent_at", "event_time", "created_at", "date"),
    "kind": ("kind", "type", "event", "action", "message_event"),
    "campaign": ("campaign", "campaign_name", "campaign_id"),
    "channel": ("channel", "medium"),
}
"""Column names of the message log (first present wins), per canonical name."""

MESSAGE_KINDS = {"send": "message_sent", "sent": "message_sent", "open": "message_open",
                 "opened": "message_open", "click": "message_click", "clicked": "message_click"}

_NOT_DATA = ("ground_truth.json", "journey.yml", "journey.yaml")
"""Files beside an export that are never data (the simulator's truth, the journey definition)."""

SIDE_TABLES = ("customers", "assignments", "feedback", "messages", "costs")
"""Tables that may sit beside an event export (as files or folders of parts); never the events."""

_EXTS = {
    "parquet": (".parquet", ".pq"),
    "json": (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz", ".gz"),
    "csv": (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz"),
    "excel": engine.EXCEL_SUFFIXES,
}


# --------------------------------------------------------------------------- channel mapping
def _in(expr: str, values: tuple[str, ...]) -> str:
    return f"{expr} IN ({', '.join(_lit(v) for v in values)})"


def channel_sql(source: str, medium: str) -> str:
    """SQL (DuckDB) ``CASE`` giving the channel of a source and medium (module docstring).

    Parameters
    ----------
    source, medium
        SQL expressions (column names or literals) of the source and the medium.

    Returns
    -------
    str
        A DuckDB ``CASE`` expression giving the channel (``NULL``: not a touchpoint).

    Examples
    --------
    >>> import duckdb
    >>> from journeylib.core.readers import channel_sql
    >>> duckdb.sql("SELECT " + channel_sql("'google'", "'cpc'") + " AS channel").fetchall()
    [('paid_ads',)]
    """
    s = f"nullif(nullif(lower(trim(CAST({source} AS VARCHAR))), ''), '(not set)')"
    m = f"nullif(nullif(lower(trim(CAST({medium} AS VARCHAR))), ''), '(not set)')"
    return f"""(CASE
        WHEN {m} IS NULL AND {s} IS NULL THEN NULL
        WHEN {_in(m, PAID_MEDIA)} OR {m} LIKE 'paid%' THEN 'paid_ads'
        WHEN {_in(m, EMAIL_MEDIA)} OR ({m} IS NULL AND {_in(s, EMAIL_MEDIA)}) THEN 'email'
        WHEN {m} = 'organic' OR ({m} IS NULL AND {_in(s, SEARCH_SOURCES)}) THEN 'search'
        WHEN {_in(m, SOCIAL_MEDIA)} OR {_in(s, SOCIAL_SOURCES)} THEN 'social'
        WHEN {_in(m, REFERRAL_MEDIA)} THEN 'referral'
        WHEN {_in(m, DIRECT_MEDIA)} OR {_in(s, DIRECT_SOURCES)} THEN 'direct'
        WHEN {m} IS NULL THEN 'referral'
        ELSE {m} END)"""


def channel_of(source: str | None, medium: str | None) -> str | None:
    """The channel of one source/medium pair, by the documented mapping (same as the readers').

    Parameters
    ----------
    source, medium
        The source and medium (``None`` when absent).

    Returns
    -------
    str or None
        The channel; ``None`` when neither is set (not a touchpoint).

    Examples
    --------
    >>> from journeylib.core.readers import channel_of
    >>> channel_of("google", "cpc"), channel_of("google", "organic"), channel_of("newsletter", None)
    ('paid_ads', 'search', 'email')
    >>> channel_of("(direct)", "(none)"), channel_of(None, None)
    ('direct', None)
    """
    def norm(v):
        v = None if v is None else str(v).strip().lower()
        return None if v in (None, "", "(not set)") else v

    s, m = norm(source), norm(medium)
    if m is None and s is None:
        return None
    if m in PAID_MEDIA or (m or "").startswith("paid"):
        return "paid_ads"
    if m in EMAIL_MEDIA or (m is None and s in EMAIL_MEDIA):
        return "email"
    if m == "organic" or (m is None and s in SEARCH_SOURCES):
        return "search"
    if m in SOCIAL_MEDIA or s in SOCIAL_SOURCES:
        return "social"
    if m in REFERRAL_MEDIA:
        return "referral"
    if m in DIRECT_MEDIA or s in DIRECT_SOURCES:
        return "direct"
    return "referral" if m is None else m


# --------------------------------------------------------------------------- small helpers
def _lit(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _has_ext(name: str, exts: tuple[str, ...]) -> bool:
    return name.lower().endswith(exts)


def _kind_of(name: str) -> str | None:
    low = name.lower()
    for kind in ("parquet", "csv", "json", "excel"):
        if low.endswith(_EXTS[kind]) and not (kind == "json" and low.endswith((".csv.gz", ".tsv.gz"))):
            return kind
    return None


def _files(path: str | Path, kinds: tuple[str, ...], what: str) -> list[str]:
    """Data files of ``path`` (a file, a folder searched recursively, a glob, a URI or a ``.zip``)."""
    p = engine.unzipped_path(str(path))
    if not engine.is_uri(p) and Path(p).is_dir():
        found = sorted(str(f) for f in Path(p).rglob("*") if f.is_file() and not f.name.startswith((".", "_"))
                       and f.name not in _NOT_DATA and _kind_of(f.name) in kinds)
        # a folder: the files of the first kind present (the shape's usual one first)
        kind = next((k for k in kinds if any(_kind_of(f) == k for f in found)), None)
        files = [f for f in found if _kind_of(f) == kind]
    else:
        files = engine.list_files(p)
    if not files:
        raise JourneyDataError(f"{what}: no {' or '.join(kinds)} file found at {p}")
    kinds_found = {_kind_of(f) for f in files}
    if len(kinds_found) != 1 or None in kinds_found or not kinds_found <= set(kinds):
        raise JourneyDataError(f"{what}: expected {' or '.join(kinds)} files at {p}, found "
                               f"{', '.join(sorted(Path(f).name for f in files)[:5])}")
    return files


def _file_list(files: list[str]) -> str:
    return "[" + ", ".join(_lit(f) for f in files) + "]"


def _check_timezone(timezone: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise JourneyParameterError(f"timezone: unknown time zone {timezone!r}; expected an IANA name such as "
                                    "'UTC' or 'Europe/Paris'") from None
    return str(timezone)


class _Source:
    """One raw relation in DuckDB and the expressions that bind on it."""

    def __init__(self, duck: Any, relation: str, what: str, decimal: str = ".", path: Any = ""):
        self.duck, self.relation, self.what, self.decimal = duck, relation, what, decimal
        try:
            desc = duck.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        except Exception as exc:  # noqa: BLE001 - DuckDB's reader errors: keep the gist
            raise engine.read_failure(what, str(path), exc) from exc
        self.types = {row[0]: str(row[1]) for row in desc}
        self.lower = {_key(name): name for name in self.types}
        self.amounts: list[tuple[str, str, str]] = []  # (field, number text, text as written) of text amounts

    def amount(self, expr: str, field: str) -> str:
        """``expr`` as a DOUBLE. Text is read with the source's decimal mark and remembered, so that
        :meth:`bad_amount` can name a value that is no number (``TRY_CAST`` would make it missing)."""
        typ = str(self.duck.execute(f"DESCRIBE SELECT {expr} AS x FROM {self.relation}").fetchall()[0][1]).upper()
        if typ in ("VARCHAR", "JSON"):
            text = _amount(expr, self.decimal)
            self.amounts.append((field, text, f"trim(CAST({expr} AS VARCHAR))"))
            return f"TRY_CAST({text} AS DOUBLE)"
        return f"TRY_CAST({expr} AS DOUBLE)"

    def bad_amount(self) -> str:
        """A column: ``field<TAB>text`` of the first amount read from text that is no number, else NULL."""
        if not self.amounts:
            return "NULL::VARCHAR"
        whens = " ".join(f"WHEN {t} <> '' AND TRY_CAST({t} AS DOUBLE) IS NULL THEN {_lit(f + chr(9))} || {t}"
                         for f, t, _ in self.amounts)
        return f"CASE {whens} END"

    def currency(self, expr: str) -> str:
        """The currency column ``expr``, else the currency written with the amounts read from text
        (``$12``), so that the loader's one-currency check sees it."""
        written = [f"nullif(regexp_extract({raw}, {_lit(CURRENCY_AMOUNT)}, 2) || "
                   f"regexp_extract({raw}, {_lit(CURRENCY_AMOUNT)}, 5), '')" for _, _, raw in self.amounts]
        return f"coalesce({', '.join([expr, *written])})" if written else expr

    def col(self, *names: str) -> str | None:
        """The quoted column among ``names`` that exists (any case; spaces and dashes as ``_``), else None."""
        for n in names:
            if _key(n) in self.lower:
                return _ident(self.lower[_key(n)])
        return None

    def binds(self, expr: str) -> bool:
        try:
            self.duck.execute(f"SELECT {expr} FROM {self.relation} LIMIT 0")
            return True
        except Exception:  # noqa: BLE001 - a missing nested field is a binder error
            return False

    def first(self, *exprs: str, default: str = "NULL") -> str:
        ok = [e for e in exprs if e is not None and self.binds(e)]
        if not ok:
            return default
        return ok[0] if len(ok) == 1 else f"coalesce({', '.join(ok)})"


def _key(name: str) -> str:
    """A column name compared loosely: lower case, runs of other characters as one ``_``
    (``Created at`` and ``created_at`` are one name; ``$device_id`` keeps its ``$``)."""
    return re.sub(r"[^0-9a-z$]+", "_", str(name).lower()).strip("_")


def _text(expr: str) -> str:
    return f"nullif(CAST({expr} AS VARCHAR), '')"


def _num(expr: str) -> str:
    return f"TRY_CAST({expr} AS DOUBLE)"


def _json_path(*keys: str) -> str:
    return _lit("$" + "".join("." + (k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) else json.dumps(k)) for k in keys))


def _json_str(col: str, *keys: str) -> str:
    return f"nullif(json_extract_string({col}, {_json_path(*keys)}), '')"


def _json_amount(src: _Source, col: str, key: str, field: str) -> str:
    """A JSON field's amount: a JSON number as it is, a JSON string through :meth:`_Source.amount`
    (so ``decimal=","`` never turns the number 1.234 into 1234)."""
    kind = f"json_type({col}, {_json_path(key)})"
    text = f"CASE WHEN {kind} = 'VARCHAR' THEN {_json_str(col, key)} END"
    return f"coalesce(CASE WHEN {kind} <> 'VARCHAR' THEN {_num(_json_str(col, key))} END, {src.amount(text, field)})"


def _naive_ts(expr: str, col_type: str | None, timezone: str, fmt: str | None = None) -> str:
    """A TIMESTAMPTZ from a column that may be text, a naive timestamp, a date or already zoned."""
    t = (col_type or "VARCHAR").upper()
    if "WITH TIME ZONE" in t:
        return expr
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"timezone({_lit(timezone)}, CAST({expr} AS TIMESTAMP))"
    if fmt in engine.UNIX_FORMATS:  # UTC by definition (the session's zone is UTC)
        us = f"TRY_CAST(trim(CAST({expr} AS VARCHAR)) AS DOUBLE) * {engine.UNIX_FORMATS[fmt]}"
        return f"CAST(make_timestamp(CAST(round(CASE WHEN abs({us}) < 9e15 THEN {us} END) AS BIGINT)) AS TIMESTAMPTZ)"
    if fmt:
        parsed = f"try_strptime(CAST({expr} AS VARCHAR), {_lit(fmt)})"
        return f"(CASE WHEN typeof({parsed}) = 'TIMESTAMP WITH TIME ZONE' THEN {parsed}::TIMESTAMPTZ " \
               f"ELSE timezone({_lit(timezone)}, {parsed}::TIMESTAMP) END)" if "%z" in fmt or "%Z" in fmt \
            else f"timezone({_lit(timezone)}, {parsed})"
    # "2025-01-05 10:00:00 -0500" (Shopify, Ruby): the space before the offset goes, as a cast wants it
    s = f"regexp_replace(trim(CAST({expr} AS VARCHAR)), '([0-9])\\s+([+-][0-9]{{2}}:?[0-9]{{2}})$', '\\1\\2')"
    if timezone != "UTC":  # PST/PDT, CET/CEST: read as the declared zone's (an abbreviation alone is ambiguous)
        named = (f"regexp_matches({s}, {_lit(engine.ZONE_ABBREVIATION)}) "
                 f"AND NOT regexp_matches({s}, {_lit(engine.NOT_ZONE_ABBREVIATION)})")
        s = f"(CASE WHEN {named} THEN regexp_replace({s}, {_lit(engine.ZONE_ABBREVIATION_TAIL)}, '') ELSE {s} END)"
    # a zone only after a time of day (a plain date's "-05" is not one)
    return (f"(CASE WHEN regexp_matches({s}, {_lit(ZONE_SUFFIX)}) "
            f"THEN TRY_CAST({s} AS TIMESTAMPTZ) ELSE timezone({_lit(timezone)}, TRY_CAST({s} AS TIMESTAMP)) END)")


def _utc_ts(expr: str, col_type: str | None) -> str:
    """A TIMESTAMPTZ from a UTC-by-definition column (text, naive or zoned timestamp)."""
    return _naive_ts(expr, col_type, "UTC")


# --------------------------------------------------------------------------- per-format SELECTs
# Each returns (base SELECT with anonymous_id, user_id, ts, event, channel, revenue, extras..., _keep) and
# the extra column names.
def _ga4(src: _Source, timezone: str) -> tuple[str, list[str]]:
    ep = src.col("event_params")

    def param(key: str, field: str) -> str:
        return f"list_filter({ep}, lambda p: p.key = {_lit(key)})[1].value.{field}" if ep else "NULL"

    def pstr(key: str) -> str:
        if not ep:
            return "NULL"
        return src.first(_text(param(key, "string_value")), f"CAST({param(key, 'int_value')} AS VARCHAR)",
                         f"CAST({param(key, 'double_value')} AS VARCHAR)", f"CAST({param(key, 'float_value')} AS VARCHAR)")

    def pnum(key: str, amount: bool = False) -> str:
        if not ep:
            return "NULL"
        text = param(key, "string_value")
        text = src.amount(text, f"event_params {key}") if amount and src.binds(text) else _num(text)
        return src.first(_num(param(key, "double_value")), _num(param(key, "float_value")),
                         _num(param(key, "int_value")), text)

    name, ts_col = src.col("event_name"), src.col("event_timestamp")
    pseudo, uid = src.col("user_pseudo_id"), src.col("user_id")
    if name is None or ts_col is None or (pseudo is None and uid is None):
        raise JourneyDataError(f"{src.what}: not a GA4 BigQuery export: expected event_name, event_timestamp and "
                               f"user_pseudo_id/user_id; found {', '.join(list(src.types)[:12])}")
    cts = src.col("collected_traffic_source")
    ctsf = (lambda f: f"{cts}.{f}") if cts else (lambda f: None)
    source = src.first(_text(ctsf("manual_source")) if cts else None, pstr("source"))
    medium = src.first(_text(ctsf("manual_medium")) if cts else None, pstr("medium"))
    campaign = src.first(_text(ctsf("manual_campaign_name")) if cts else None, pstr("campaign"))
    eco = src.col("ecommerce")
    purchase_revenue = f"{eco}.purchase_revenue" if eco else None
    purchase_revenue = (src.amount(purchase_revenue, "ecommerce.purchase_revenue")
                        if purchase_revenue and src.binds(purchase_revenue) else "NULL")
    revenue = (f"coalesce({purchase_revenue}, CASE WHEN {name} IN ('purchase', 'in_app_purchase') "
               f"THEN {pnum('value', amount=True)} END)")
    page_location = pstr("page_location")
    tsrc = src.col("traffic_source")
    first = {k: src.first(_text(f"{tsrc}.{f}")) if tsrc else "NULL"
             for k, f in (("first_source", "source"), ("first_medium", "medium"), ("first_campaign", "name"))}
    transaction = src.first(_text(f"{eco}.transaction_id") if eco else None, pstr("transaction_id"))
    session = pnum("ga_session_id")
    sql = f"""SELECT
        {_text(pseudo) if pseudo else 'NULL'} AS anonymous_id,
        {_text(uid) if uid else 'NULL'} AS user_id,
        timezone('UTC', make_timestamp(TRY_CAST({ts_col} AS BIGINT))) AS ts,
        CAST({name} AS VARCHAR) AS event,
        {channel_sql('_source', '_medium')} AS channel,
        CAST({revenue} AS DOUBLE) AS revenue,
        _source AS source, _medium AS medium, CAST({campaign} AS VARCHAR) AS campaign,
        {src.currency(f"CAST({pstr('currency')} AS VARCHAR)")} AS currency,
        CAST({page_location} AS VARCHAR) AS page_location,
        {_url_path(page_location)} AS page_path,
        CAST({session} AS BIGINT) AS session_id,
        CAST({transaction} AS VARCHAR) AS transaction_id,
        {src.bad_amount()} AS _bad_amount,
        CAST({first['first_source']} AS VARCHAR) AS first_source,
        CAST({first['first_medium']} AS VARCHAR) AS first_medium,
        CAST({first['first_campaign']} AS VARCHAR) AS first_campaign,
        TRUE AS _keep
    FROM (SELECT *, CAST({source} AS VARCHAR) AS _source, CAST({medium} AS VARCHAR) AS _medium FROM {src.relation})"""
    return sql, ["source", "medium", "campaign", "currency", "page_location", "page_path", "session_id",
                 "transaction_id", "first_source", "first_medium", "first_campaign"]


_SEGMENT_JSON = {
    "type": "VARCHAR", "event": "VARCHAR", "name": "VARCHAR", "anonymousId": "VARCHAR", "anonymous_id": "VARCHAR",
    "userId": "VARCHAR", "user_id": "VARCHAR", "previousId": "VARCHAR", "previous_id": "VARCHAR",
    "timestamp": "VARCHAR", "originalTimestamp": "VARCHAR", "original_timestamp": "VARCHAR",
    "receivedAt": "VARCHAR", "received_at": "VARCHAR", "messageId": "VARCHAR", "message_id": "VARCHAR",
    "properties": "JSON", "context": "JSON",
}


def _segment(src: _Source, timezone: str) -> tuple[str, list[str]]:
    c = src.col
    typ = f"lower(coalesce({c('type') or 'NULL'}, 'track'))"
    anon = f"coalesce({c('anonymousId') or 'NULL'}, {c('anonymous_id') or 'NULL'})"
    prev = f"coalesce({c('previousId') or 'NULL'}, {c('previous_id') or 'NULL'})"
    uid = f"coalesce({c('userId') or 'NULL'}, {c('user_id') or 'NULL'})"
    ts = f"coalesce({', '.join(x for x in (c('timestamp'), c('originalTimestamp'), c('original_timestamp'), c('receivedAt'), c('received_at')) if x) or 'NULL'})"
    if c("event") is None or (c("anonymousId") is None and c("anonymous_id") is None
                              and c("userId") is None and c("user_id") is None):
        raise JourneyDataError(f"{src.what}: not a Segment/RudderStack export: expected event, anonymousId or "
                               f"userId; found {', '.join(list(src.types)[:12])}")
    props, ctx = c("properties") or "NULL", c("context") or "NULL"
    props = f"CAST({props} AS JSON)" if props != "NULL" else props
    ctx = f"CAST({ctx} AS JSON)" if ctx != "NULL" else ctx
    event = (f"CASE WHEN {typ} = 'page' THEN 'page_view' WHEN {typ} = 'screen' THEN 'screen_view' "
             f"ELSE CAST({c('event')} AS VARCHAR) END")
    prop = lambda key: _json_amount(src, props, key, f"properties.{key}")  # noqa: E731
    qty = f"coalesce({prop('quantity')}, 1)"
    revenue = (f"coalesce({prop('revenue')}, {prop('total')}, "
               f"CASE WHEN regexp_matches(lower(CAST({c('event')} AS VARCHAR)), '(order|checkout)[ _]?completed|purchase') "
               f"THEN {prop('price')} * {qty} END)")
    ts_type = src.types.get(src.lower.get("timestamp", ""), "VARCHAR")
    sql = f"""SELECT
        CASE WHEN {typ} = 'alias' THEN coalesce({prev}, {anon}) ELSE {anon} END AS anonymous_id,
        {uid} AS user_id,
        {_naive_ts(ts, ts_type, timezone)} AS ts,
        {event} AS event,
        {channel_sql('_source', '_medium')} AS channel,
        CAST({revenue} AS DOUBLE) AS revenue,
        _source AS source, _medium AS medium, {_json_str(ctx, 'campaign', 'name')} AS campaign,
        {src.currency(_json_str(props, 'currency'))} AS currency,
        coalesce({_json_str(ctx, 'page', 'path')}, {_json_str(props, 'path')}) AS page_path,
        coalesce({c('messageId') or 'NULL'}, {c('message_id') or 'NULL'}) AS message_id,
        {src.bad_amount()} AS _bad_amount,
        {typ} IN ('track', 'page', 'screen') AS _keep
    FROM (SELECT *, {_json_str(ctx, 'campaign', 'source')} AS _source, {_json_str(ctx, 'campaign', 'medium')} AS _medium
          FROM {src.relation})"""
    return sql, ["source", "medium", "campaign", "currency", "page_path", "message_id"]


_AMPLITUDE_JSON = {
    "event_type": "VARCHAR", "event_time": "VARCHAR", "user_id": "VARCHAR", "device_id": "VARCHAR",
    "event_properties": "JSON", "user_properties": "JSON", "revenue": "DOUBLE", "session_id": "BIGINT",
}


def _amplitude(src: _Source, timezone: str) -> tuple[str, list[str]]:
    c = src.col
    if c("event_type") is None or c("event_time") is None:
        raise JourneyDataError(f"{src.what}: not an Amplitude export: expected event_type and event_time; "
                               f"found {', '.join(list(src.types)[:12])}")
    ep = c("event_properties")
    ep = f"CAST({ep} AS JSON)" if ep else "NULL"
    prop = lambda key: _json_amount(src, ep, key, f"event_properties.{key}")  # noqa: E731
    price = f"{prop('$price')} * coalesce({prop('$quantity')}, 1)"
    revenue = (f"coalesce({prop('$revenue')}, {prop('revenue')}, "
               f"{src.amount(c('revenue'), 'revenue') if c('revenue') else 'NULL'}, {price})")
    ts_type = src.types.get(src.lower["event_time"])
    sql = f"""SELECT
        {_text(c('device_id')) if c('device_id') else 'NULL'} AS anonymous_id,
        {_text(c('user_id')) if c('user_id') else 'NULL'} AS user_id,
        {_utc_ts(c('event_time'), ts_type)} AS ts,
        CAST({c('event_type')} AS VARCHAR) AS event,
        {channel_sql('_source', '_medium')} AS channel,
        CAST({revenue} AS DOUBLE) AS revenue,
        _source AS source, _medium AS medium, {_json_str(ep, 'utm_campaign')} AS campaign,
        {src.currency(f"coalesce({_json_str(ep, 'currency')}, {_json_str(ep, '$currency')})")} AS currency,
        coalesce({_json_str(ep, '[Amplitude] Page Path')}, {_json_str(ep, 'page_path')}) AS page_path,
        {f"TRY_CAST({c('session_id')} AS BIGINT)" if c('session_id') else 'NULL'} AS session_id,
        {src.bad_amount()} AS _bad_amount,
        TRUE AS _keep
    FROM (SELECT *, {_json_str(ep, 'utm_source')} AS _source, {_json_str(ep, 'utm_medium')} AS _medium
          FROM {src.relation})"""
    return sql, ["source", "medium", "campaign", "currency", "page_path", "session_id"]


_MIXPANEL_JSON = {"event": "VARCHAR", "properties": "JSON"}
_MIXPANEL_LINKS = ("$identify", "$create_alias", "$merge")
"""Mixpanel events that link identities and are no customer actions."""


def _mixpanel(src: _Source, timezone: str) -> tuple[str, list[str]]:
    c = src.col
    if c("event") is None or c("properties") is None:
        raise JourneyDataError(f"{src.what}: not a Mixpanel export: expected event and properties; found "
                               f"{', '.join(list(src.types)[:12])}")
    props = f"CAST({c('properties')} AS JSON)"
    p = lambda key: _json_str(props, key)  # noqa: E731
    name = f"CAST({c('event')} AS VARCHAR)"
    t = f"TRY_CAST({p('time')} AS DOUBLE)"
    us = f"CAST(round(CASE WHEN {t} >= 1e11 THEN {t} * 1000 ELSE {t} * 1000000 END) AS BIGINT)"
    device, distinct, link = p("$device_id"), p("distinct_id"), f"{name} IN {tuple(_MIXPANEL_LINKS)}"
    anonymous = (f"CASE WHEN {link} THEN coalesce({p('$anon_id')}, {device}) ELSE coalesce({device}, "
                 f"CASE WHEN starts_with({distinct}, '$device:') THEN substr({distinct}, 9) END) END")
    user = (f"CASE WHEN {link} THEN coalesce({p('$identified_id')}, {p('$user_id')}) ELSE coalesce({p('$user_id')}, "
            f"CASE WHEN NOT starts_with({distinct}, '$device:') AND {distinct} IS DISTINCT FROM {device} "
            f"THEN {distinct} END) END")
    url = p("$current_url")
    sql = f"""SELECT
        {anonymous} AS anonymous_id,
        {user} AS user_id,
        timezone({_lit(timezone)}, make_timestamp({us})) AS ts,
        CASE WHEN {name} = '$mp_web_page_view' THEN 'page_view' ELSE {name} END AS event,
        {channel_sql('_source', '_medium')} AS channel,
        {_property_revenue(src, props, name)} AS revenue,
        _source AS source, _medium AS medium, {p('utm_campaign')} AS campaign,
        {src.currency(f"coalesce({p('currency')}, {p('$currency')})")} AS currency,
        {_url_path(url)} AS page_path,
        {p('$insert_id')} AS insert_id,
        {src.bad_amount()} AS _bad_amount,
        NOT ({link}) AS _keep
    FROM (SELECT *, {p('utm_source')} AS _source, {p('utm_medium')} AS _medium FROM {src.relation})"""
    return sql, ["source", "medium", "campaign", "currency", "page_path", "insert_id"]


def _property_revenue(src: _Source, props: str, name: str) -> str:
    """Revenue from an event's JSON properties: ``revenue``, else ``amount``, else ``total``, else
    ``price`` x ``quantity`` (1 when absent) on order events."""
    amount = lambda key: _json_amount(src, props, key, f"properties.{key}")  # noqa: E731
    return (f"CAST(coalesce({amount('revenue')}, {amount('amount')}, {amount('total')}, "
            f"CASE WHEN regexp_matches(lower({name}), '(order|checkout)[ _]?completed|purchase') "
            f"THEN {amount('price')} * coalesce({amount('quantity')}, 1) END) AS DOUBLE)")


def _url_path(url: str) -> str:
    """The path of a URL expression (``/`` for a bare host, NULL for NULL)."""
    return (f"CASE WHEN {url} IS NULL THEN NULL ELSE coalesce(nullif(regexp_extract(CAST({url} AS VARCHAR), "
            f"'^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?([^?#]*)', 1), ''), '/') END")


_POSTHOG_JSON = {"uuid": "VARCHAR", "event": "VARCHAR", "distinct_id": "VARCHAR", "timestamp": "VARCHAR",
                 "properties": "JSON", "person_id": "VARCHAR", "session_id": "VARCHAR"}
_POSTHOG_PERSON_EVENTS = ("$identify", "$create_alias", "$set", "$groupidentify", "$merge_dangerously")


def _posthog(src: _Source, timezone: str) -> tuple[str, list[str]]:
    c = src.col
    if c("event") is None or c("distinct_id") is None or c("timestamp") is None:
        raise JourneyDataError(f"{src.what}: not a PostHog export: expected event, distinct_id and timestamp; "
                               f"found {', '.join(list(src.types)[:12])}")
    props = f"CAST({c('properties')} AS JSON)" if c("properties") else "NULL::JSON"
    p = lambda key: _json_str(props, key)  # noqa: E731
    name, distinct = f"CAST({c('event')} AS VARCHAR)", _text(c("distinct_id"))
    person = _text(c("person_id")) if c("person_id") else "NULL"
    identify = f"{name} = '$identify'"
    events = {"$pageview": "page_view", "$screen": "screen_view"}
    renamed = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in events.items())
    ts_type = src.types.get(src.lower["timestamp"], "VARCHAR")
    sql = f"""SELECT
        CASE WHEN {identify} THEN coalesce({p('$anon_distinct_id')}, {distinct}) ELSE {distinct} END AS anonymous_id,
        coalesce({person}, CASE WHEN {identify} THEN {distinct} END) AS user_id,
        {_naive_ts(c('timestamp'), ts_type, timezone)} AS ts,
        CASE {name} {renamed} ELSE {name} END AS event,
        {channel_sql('_source', '_medium')} AS channel,
        {_property_revenue(src, props, name)} AS revenue,
        _source AS source, _medium AS medium, {p('utm_campaign')} AS campaign,
        {src.currency(f"coalesce({p('currency')}, {p('$currency')})")} AS currency,
        coalesce({p('$pathname')}, {_url_path(p('$current_url'))}) AS page_path,
        coalesce({_text(c('session_id')) if c('session_id') else 'NULL'}, {p('$session_id')}) AS session_id,
        {_text(c('uuid')) if c('uuid') else 'NULL'} AS event_uuid,
        {src.bad_amount()} AS _bad_amount,
        {name} NOT IN {tuple(_POSTHOG_PERSON_EVENTS)} AS _keep
    FROM (SELECT *, {p('utm_source')} AS _source, {p('utm_medium')} AS _medium FROM {src.relation})"""
    return sql, ["source", "medium", "campaign", "currency", "page_path", "session_id", "event_uuid"]


def _snowplow(src: _Source, timezone: str) -> tuple[str, list[str]]:
    c = src.col

    def col(name: str) -> str:
        x = c(name)
        return "NULL" if x is None else _text(x)

    if c("derived_tstamp") is None and c("collector_tstamp") is None or (c("domain_userid") is None
                                                                         and c("user_id") is None):
        raise JourneyDataError(f"{src.what}: not Snowplow enriched events: expected derived_tstamp or "
                               f"collector_tstamp, and domain_userid or user_id; found "
                               f"{', '.join(list(src.types)[:12])}")
    stamps = [_utc_ts(c(n), src.types[src.lower[n]]) for n in ("derived_tstamp", "collector_tstamp") if c(n)]
    kind = f"lower(coalesce({col('event_name')}, {col('event')}))"
    raw_event = f"lower({col('event')})"
    event = (f"CASE WHEN {kind} IN ('event', 'struct') OR {raw_event} = 'struct' THEN {col('se_action')} "
             f"WHEN {kind} IN ('transaction', 'transaction_tr') OR {raw_event} = 'transaction' THEN 'purchase' "
             f"ELSE coalesce({col('event_name')}, {col('event')}) END")
    refr = f"lower({col('refr_medium')})"
    total = src.amount(c("tr_total"), "tr_total") if c("tr_total") else "NULL"
    channel = (f"CASE WHEN _source IS NOT NULL OR _medium IS NOT NULL THEN {channel_sql('_source', '_medium')} "
               f"WHEN {refr} = 'search' THEN 'search' WHEN {refr} = 'social' THEN 'social' "
               f"WHEN {refr} = 'email' THEN 'email' WHEN {refr} = 'paid' THEN 'paid_ads' "
               f"WHEN {refr} = 'unknown' THEN 'referral' WHEN {refr} = 'internal' THEN NULL "
               f"WHEN {kind} = 'page_view' THEN 'direct' END")
    sql = f"""SELECT
        {col('domain_userid')} AS anonymous_id,
        {col('user_id')} AS user_id,
        {stamps[0] if len(stamps) == 1 else f"coalesce({', '.join(stamps)})"} AS ts,
        {event} AS event,
        {channel} AS channel,
        CASE WHEN {event} = 'purchase' THEN {total} END AS revenue,
        _source AS source, _medium AS medium, {col('mkt_campaign')} AS campaign,
        {src.currency(col('tr_currency'))} AS currency,
        {col('page_urlpath')} AS page_path, {col('page_url')} AS page_url,
        {col('network_userid')} AS network_userid,
        {col('se_category')} AS se_category, {col('se_label')} AS se_label,
        {col('tr_orderid')} AS transaction_id,
        CASE WHEN {event} = 'purchase' THEN {src.bad_amount()} END AS _bad_amount,
        coalesce({kind}, '') NOT IN ('transaction_item', 'transaction_item_tr') AND coalesce({raw_event}, '') <> 'transaction_item' AS _keep
    FROM (SELECT *, {col('mkt_source')} AS _source, {col('mkt_medium')} AS _medium FROM {src.relation})"""
    return sql, ["source", "medium", "campaign", "currency", "page_path", "page_url", "network_userid",
                 "se_category", "se_label", "transaction_id"]


# --------------------------------------------------------------------------- orders
def _pick(src: _Source, known: Mapping[str, tuple[str, ...]], columns: Mapping[str, str], required: tuple[str, ...],
          what: str) -> dict[str, str]:
    """canonical name -> quoted column of ``src`` (from ``columns`` THEIR -> canonical, else guessed)."""
    out: dict[str, str] = {}
    for theirs, canonical in columns.items():
        if canonical in known:
            q = src.col(theirs)
            if q is None:
                raise JourneyDataError(f"{what}: columns maps {theirs!r} to {canonical!r}, but there is no column "
                                       f"{theirs!r}; found {', '.join(src.types)}")
            out[canonical] = q
    for canonical, names in known.items():
        if canonical not in out:
            q = src.col(*names)
            if q is not None and q not in out.values():
                out[canonical] = q
    missing = [r for r in required if r not in out]
    if missing:
        raise JourneyDataError(
            f"{what}: no column for {', '.join(missing)}; found {', '.join(src.types)}. "
            f"What to do: name them with columns={{'their name': '{missing[0]}'}} "
            f"(recognised names: {', '.join(known[missing[0]])})")
    return out


def _col_type(src: _Source, quoted: str) -> str:
    return src.types[quoted[1:-1].replace('""', '"')]


def _amount(quoted: str, decimal: str) -> str:
    """An amount column as text with a decimal point, as :func:`journeylib.core.engine.amount_parts`
    reads it: without a currency written with it (``$12``), spaces that group thousands, and commas
    that group thousands (``decimal=","``: a comma is the decimal mark, 1.234,56 -> 1234.56)."""
    x = f"trim(CAST({quoted} AS VARCHAR))"
    cur = _lit(CURRENCY_AMOUNT)
    x = (f"CASE WHEN regexp_extract({x}, {cur}, 2) <> '' THEN regexp_extract({x}, {cur}, 1) || "
         f"regexp_extract({x}, {cur}, 3) WHEN regexp_extract({x}, {cur}, 5) <> '' THEN regexp_extract({x}, {cur}, 4) "
         f"ELSE {x} END")
    x = (f"CASE WHEN regexp_full_match({x}, {_lit(SPACED_THOUSANDS)}) THEN regexp_replace({x}, "
         f"{_lit('[' + GROUP_SPACES + ']')}, '', 'g') ELSE {x} END")
    if decimal != ",":  # commas that group thousands (1,234.56) go
        return f"CASE WHEN regexp_full_match({x}, {_lit(THOUSANDS_COMMA)}) THEN replace({x}, ',', '') ELSE {x} END"
    return (f"CASE WHEN regexp_full_match({x}, {_lit(COMMA_AMOUNT)}) THEN replace(replace({x}, '.', ''), ',', '.') "
            f"ELSE {x} END")


def _orders(duck: Any, path: str | Path, messages: str | Path | None, columns: Mapping[str, str], timezone: str,
            timestamp_format: str | None, decimal: str = ".") -> tuple[str, list[str]]:
    p = engine.unzipped_path(str(path))
    if not engine.is_uri(p) and Path(p).is_dir():
        found = [f for f in sorted(Path(p).iterdir())
                 if f.is_file() and _kind_of(f.name) in ("csv", "parquet", "excel") and not f.name.startswith("~$")]
        orders = [str(f) for f in found if f.name.lower().startswith("orders")]
        if not orders:
            raise JourneyDataError(f"orders: no orders.csv / orders.parquet / orders.xlsx in {p}")
        if messages is None:
            msgs = [str(f) for f in found if f.name.lower().startswith("messages")]
            messages = msgs[0] if msgs else None
        order_files = orders[:1]
    else:
        order_files = _files(p, ("csv", "parquet", "excel"), "orders")
    osrc = _Source(duck, _text_relation(duck, order_files, "orders"), "orders", decimal, path=p)
    oc = _pick(osrc, ORDER_COLUMNS, columns, ("customer_id", "ts", "revenue"), "orders")
    number = osrc.col("name")  # Shopify: the order number (#1001) on every line-item row; its Id on the first only
    if "order_id" not in columns.values() and number is not None and duck.execute(
            f"SELECT bool_and(starts_with(trim({_text(number)}), '#')) FROM {osrc.relation} "
            f"WHERE {_text(number)} IS NOT NULL").fetchone()[0]:
        oc["order_id"] = number
    opt = lambda k: _text(oc[k]) if k in oc else "NULL"  # noqa: E731
    total = osrc.amount(oc['revenue'], 'column ' + oc['revenue'])
    refunded = f"coalesce({osrc.amount(oc['refunded'], 'column ' + oc['refunded'])}, 0)" if "refunded" in oc else "0"
    parts = [f"""SELECT NULL::VARCHAR AS anonymous_id, {_text(oc['customer_id'])} AS user_id,
        {_naive_ts(oc['ts'], _col_type(osrc, oc['ts']), timezone, timestamp_format)} AS ts,
        'purchase' AS event, {opt('channel')} AS channel,
        CASE WHEN ({total}) IS NOT NULL AND {refunded} > 0 THEN greatest(({total}) - {refunded}, 0) ELSE {total} END
            AS revenue,
        NULL::VARCHAR AS campaign, {osrc.currency(opt('currency'))} AS currency, {opt('order_id')} AS order_id,
        {oc['ts']} IS NOT NULL AND CAST({oc['ts']} AS VARCHAR) <> '' AS _has_ts,
        CAST({oc['ts']} AS VARCHAR) AS _ts_text, {osrc.bad_amount()} AS _bad_amount, TRUE AS _keep,
        {_cancelled(opt('status'))} OR coalesce({refunded} > 0 AND {refunded} >= ({total}), FALSE) AS _cancelled,
        {refunded} > 0 AS _refunded
        FROM {osrc.relation}"""]
    msrc = None
    if messages is not None:
        mfiles = _files(messages, ("csv", "parquet", "excel"), "messages")
        msrc = _Source(duck, _text_relation(duck, mfiles, "messages"), "messages", path=messages)
        mc = _pick(msrc, MESSAGE_COLUMNS, columns, ("customer_id", "ts", "kind"), "messages")
        kinds = [r[0] for r in duck.execute(f"SELECT DISTINCT lower(trim(CAST({mc['kind']} AS VARCHAR))) "
                                            f"FROM {msrc.relation}").fetchall()]
        bad = sorted(str(k) for k in kinds if k not in MESSAGE_KINDS)
        if bad:
            raise JourneyDataError(f"messages: column {mc['kind']} has kinds {', '.join(bad[:5])}; expected "
                                   f"send, open or click (also sent/opened/clicked)")
        mapping = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in MESSAGE_KINDS.items())
        mopt = lambda k: _text(mc[k]) if k in mc else "NULL"  # noqa: E731
        parts.append(f"""SELECT NULL::VARCHAR, {_text(mc['customer_id'])},
            {_naive_ts(mc['ts'], _col_type(msrc, mc['ts']), timezone, timestamp_format)},
            CASE lower(trim(CAST({mc['kind']} AS VARCHAR))) {mapping} END, {mopt('channel')}, NULL::DOUBLE,
            {mopt('campaign')}, NULL::VARCHAR, NULL::VARCHAR, {mc['ts']} IS NOT NULL,
            CAST({mc['ts']} AS VARCHAR), NULL::VARCHAR, TRUE, FALSE, FALSE FROM {msrc.relation}""")
    union = " UNION ALL ".join(parts)
    # one pass checks both: an amount that is no number would be a missing revenue, never silently
    bad, n_bad, examples, n_partly, n_gone = duck.execute(
        f"SELECT count(*) FILTER (WHERE ts IS NULL AND _has_ts), count(_bad_amount), "
        f"list(_bad_amount) FILTER (WHERE _bad_amount IS NOT NULL)[1:3], "
        f"count(DISTINCT order_id) FILTER (WHERE _refunded AND NOT _cancelled) "
        f"+ count(*) FILTER (WHERE _refunded AND NOT _cancelled AND order_id IS NULL), "
        f"count(*) FILTER (WHERE _cancelled AND order_id IS NULL) FROM ({union})").fetchone()
    _check_amounts("orders", n_bad, examples, decimal)
    if bad and not timestamp_format:  # Jan 5, 2025 9:00 AM or 2025-01-05 9:00 PM: their format is plain
        unread = duck.execute(f"SELECT DISTINCT trim(_ts_text) AS v FROM ({union}) WHERE ts IS NULL AND _has_ts "
                              "LIMIT 2000").fetchdf()["v"]
        if named := engine.worded_time_format(unread):
            return _orders(duck, path, messages, columns, timezone, named, decimal)
    if bad:
        example = duck.execute(f"SELECT * FROM ({union}) WHERE ts IS NULL AND _has_ts LIMIT 3").fetchdf()
        raise JourneyDataError(
            f"orders: {bad:,} timestamps could not be read (e.g. {example['_ts_text'].tolist()}); expected "
            + (f"the format {timestamp_format!r}" if timestamp_format else "ISO dates such as 2025-01-05 12:00:00")
            + (". What to do: " + engine.ZONE_ABBREVIATION_HINT if any(
                re.search(engine.ZONE_ABBREVIATION, str(v)) and not re.search(engine.NOT_ZONE_ABBREVIATION, str(v))
                for v in example["_ts_text"]) else
               ". What to do: give timestamp_format (e.g. '%d/%m/%Y %H:%M') for day-first or month-first dates")
            + (", unix_s, unix_ms or unix_us for Unix times" if all(
                str(v).strip().replace(".", "", 1).isdigit() for v in example["_ts_text"]) else ""))
    columns_out = "anonymous_id, user_id, ts, event, channel, revenue, campaign, currency, order_id, _keep"
    rows = f"SELECT {columns_out} FROM ({union}) WHERE event <> 'purchase' OR order_id IS NULL AND NOT _cancelled"
    said = [f"{n_partly:,} order{'s' if n_partly != 1 else ''} partly refunded: the refund is subtracted from "
            "the order's value"] if n_partly else []
    if n_gone:
        said.append(_left_out_text(n_gone, oc))
    if "order_id" in oc:
        rows += " UNION ALL " + _one_row_per_order(duck, f"SELECT * FROM ({union}) WHERE event = 'purchase'", oc,
                                                   said)
    elif said:
        warnings.warn("orders: " + "; ".join(said), JourneyDataWarning, stacklevel=3)
    return f"SELECT {columns_out} FROM ({rows})", ["campaign", "currency", "order_id"]


ORDER_LEFT_OUT = ("refunded", "voided", "void", "cancelled", "canceled", "failed", "declined")
"""Order statuses (any case; WooCommerce's ``wc-`` prefix ignored) whose orders are left out: no customer
paid for them."""


def _cancelled(status: str) -> str:
    return f"coalesce(regexp_replace(lower(trim({status})), '^wc-', '') IN {ORDER_LEFT_OUT}, FALSE)"


def _left_out_text(n: int, oc: Mapping[str, str]) -> str:
    why = " or ".join(w for w in (f"their {oc['status'][1:-1]} column says" if "status" in oc else "",
                                  "their whole amount was refunded" if "refunded" in oc else "") if w)
    return (f"{n:,} order{'s' if n != 1 else ''} refunded, voided or cancelled left out (as {why}: no customer "
            "paid for them)")


def _one_row_per_order(duck: Any, orders: str, oc: Mapping[str, str], said: list[str]) -> str:
    """One purchase per order id: an export with a row per line item (Shopify's orders export fills
    the total on the order's first row only; others repeat it on every row) is one order. Its time is
    the earliest, its value the one amount its rows carry (an amount repeated on every row counts
    once), or the sum when they carry different amounts (line items); an order whose status is
    refunded, voided or cancelled (:data:`ORDER_LEFT_OUT`), or whose whole amount was refunded, is
    left out. Both are said in a warning, after what ``said`` already holds."""
    grouped = f"""SELECT order_id, min(user_id) AS user_id, min(ts) AS ts, min(channel) AS channel,
            min(currency) AS currency, count(*) AS n_rows, count(DISTINCT revenue) AS n_amounts,
            CASE WHEN count(DISTINCT revenue) <= 1 THEN max(revenue) ELSE sum(revenue) END AS revenue,
            bool_or(_cancelled) AS cancelled
        FROM ({orders}) WHERE order_id IS NOT NULL GROUP BY order_id"""
    n_orders, multi, summed, left_out = duck.execute(
        f"SELECT count(*), count(*) FILTER (WHERE n_rows > 1), count(*) FILTER (WHERE n_amounts > 1), "
        f"count(*) FILTER (WHERE cancelled) FROM ({grouped})").fetchone()
    said = list(said)
    if multi:
        said.append(f"{multi:,} of {n_orders:,} orders span several rows (line items) and are one purchase each"
                    + (f"; {summed:,} of them carry different amounts on their rows, whose sum is the order's value"
                       if summed else ""))
    if left_out:
        said.append(_left_out_text(left_out, oc))
    if said:
        warnings.warn("orders: " + "; ".join(said), JourneyDataWarning, stacklevel=4)
    return f"""SELECT NULL::VARCHAR AS anonymous_id, user_id, ts, 'purchase' AS event, channel, revenue,
        NULL::VARCHAR AS campaign, currency, order_id, TRUE AS _keep FROM ({grouped}) WHERE NOT cancelled"""


def _check_amounts(what: str, n_bad: int, examples: list[str] | None, decimal: str) -> None:
    """Raise when amounts read from text are no numbers (``examples``: :meth:`_Source.bad_amount` values)."""
    if not n_bad:
        return
    field = examples[0].split("\t")[0]
    values = [e.split("\t", 1)[1] for e in examples]
    hint = decimal_comma_hint(pd.Series(values), "events") if decimal != "," else None
    hint = hint or "write them as numbers such as 12.50 (a currency sign or code beside one, as in $12.50 or 12.50 EUR, " \
                   "is read)"
    raise JourneyDataError(f"{what}: {field}: {n_bad:,} amounts are not numbers (e.g. {values}); expected an amount "
                           f"such as 12.50. What to do: {hint}")


# --------------------------------------------------------------------------- reading
def _text_relation(duck: Any, files: list[str], table: str) -> str:
    """A plain table's files as a relation of text columns (an Excel workbook registered in ``duck``)."""
    kind = _kind_of(files[0])
    if kind != "excel":
        return _relation(files, kind, text=True)
    name = ibis.util.gen_name(f"journeylib_{table}_workbook")
    duck.register(name, engine.excel_frame(files, table))
    return _ident(name)


def _relation(files: list[str], kind: str, json_columns: Mapping[str, str] | None = None, text: bool = False) -> str:
    if kind == "parquet":
        return f"read_parquet({_file_list(files)}, union_by_name = true)"
    if kind == "csv":
        # text=True: every column as text, so dates are parsed here (never guessed day- or month-first)
        return f"read_csv({_file_list(files)}, header = true, union_by_name = true{', all_varchar = true' if text else ''})"
    cols = ""
    if json_columns:
        cols = ", columns = {" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in json_columns.items()) + "}"
    return f"read_json({_file_list(files)}, format = 'newline_delimited'{cols})"


_GA4_JSON = {
    "event_date": "VARCHAR", "event_timestamp": "BIGINT", "event_name": "VARCHAR",
    "event_params": "STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR, int_value BIGINT, float_value DOUBLE, "
                    "double_value DOUBLE))[]",
    "user_id": "VARCHAR", "user_pseudo_id": "VARCHAR",
    "traffic_source": "STRUCT(name VARCHAR, medium VARCHAR, source VARCHAR)",
    "ecommerce": "STRUCT(purchase_revenue DOUBLE, purchase_revenue_in_usd DOUBLE, transaction_id VARCHAR, "
                 "total_item_quantity BIGINT)",
    "collected_traffic_source": "STRUCT(manual_campaign_id VARCHAR, manual_campaign_name VARCHAR, manual_source "
                                "VARCHAR, manual_medium VARCHAR, manual_term VARCHAR, manual_content VARCHAR)",
}

_JSON_SCHEMAS = {"ga4": _GA4_JSON, "segment": _SEGMENT_JSON, "amplitude": _AMPLITUDE_JSON, "mixpanel": _MIXPANEL_JSON,
                 "posthog": _POSTHOG_JSON}
_READERS = {"ga4": _ga4, "segment": _segment, "amplitude": _amplitude, "mixpanel": _mixpanel, "posthog": _posthog,
            "snowplow": _snowplow}
_KINDS = {"ga4": ("parquet", "json"), "segment": ("json", "parquet"), "amplitude": ("json", "parquet"),
          "mixpanel": ("json", "parquet"), "posthog": ("json", "csv", "parquet"), "snowplow": ("parquet", "csv")}


def _raw_relation(duck: Any, fmt: str, path: str | Path, columns: Mapping[str, str], decimal: str = ".") -> str:
    files = _files(path, _KINDS[fmt], fmt)
    kind = _kind_of(files[0])
    schema = None
    if kind == "json":
        # Explicit top-level schema: keys are read by name whatever the first rows hold; nested
        # objects stay JSON. columns= renames THEIR key onto the expected one.
        schema = dict(_JSON_SCHEMAS[fmt])
        back = {canon: theirs for theirs, canon in columns.items()}
        schema = {back.get(k, k): v for k, v in schema.items()}
    rel = _relation(files, kind, schema, text=decimal == ",")  # a CSV's 1.234 is no number to guess at then
    if columns:
        src = _Source(duck, rel, fmt, path=path)
        for theirs in columns:
            if src.col(theirs) is None:
                raise JourneyDataError(f"{fmt}: columns maps {theirs!r}, but there is no such column; found "
                                       f"{', '.join(src.types)}")
        renamed = {_key(theirs): canon for theirs, canon in columns.items()}  # matched as src.col matches
        sel = ", ".join(f"{_ident(n)} AS {_ident(renamed.get(_key(n), n))}" for n in src.types)
        rel = f"(SELECT {sel} FROM {rel})"
    return rel


def read_export(format: str, path: str | Path, *, columns: Mapping[str, str] | None = None,
                timezone: str = "UTC", con: Any = None, messages: str | Path | None = None,
                timestamp_format: str | None = None, decimal: str = ".") -> dict[str, Any]:
    """Read an export of ``format`` at ``path`` into canonical tables.

    Parameters
    ----------
    format
        ``ga4``, ``segment``, ``amplitude``, ``mixpanel``, ``posthog``, ``snowplow``, ``orders``, or ``auto``
        (:func:`detect_format`).
    path
        A file, a folder (every file of the format in it), a glob or a URI.
    columns
        ``{"their name": "canonical name"}``: for ``orders`` the customer/time/amount
        (``customer_id``, ``ts``, ``revenue``; also ``order_id``, ``currency``, ``channel`` and
        the message log's ``kind``, ``campaign``) columns; for the other shapes a renaming of
        top-level fields onto the published names (e.g. ``{"anon": "anonymousId"}``).
    timezone
        Zone of naive timestamps in shapes that leave it open (orders, Segment); see the module
        docstring.
    con
        Ibis connection (default: :func:`journeylib.core.engine.default_connection`).
    messages
        ``orders`` only: the message log file (default: ``messages.*`` in the ``path`` folder).
    timestamp_format
        ``orders`` only: strptime format of text timestamps (e.g. ``"%d/%m/%Y %H:%M"``), or
        ``unix_s`` / ``unix_ms`` / ``unix_us`` for Unix times.
    decimal
        ``","`` reads amounts held as text with a decimal comma (``1.234,56``); typed numbers
        are read as they are. Amounts held as text that are no numbers are an error.

    Returns
    -------
    dict
        ``{"events": Ibis table}`` with ``customer_id, ts, event, channel, revenue`` and the
        shape's extra columns (``anonymous_id``, ``user_id`` for stitched shapes), sorted by
        customer and time; GA4 adds ``"customers"`` (``customer_id, first_source, first_medium,
        first_campaign, acquisition_channel``) from ``traffic_source``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import journeylib as jl
    >>> from journeylib.core.readers import read_export
    >>> data = jl.simulate_journeys(200, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = jl.write_export(data, "ga4", tmp)
    ...     tables = read_export("ga4", Path(tmp) / "events.parquet")
    ...     sorted(tables), tables["events"].count().to_pyarrow().as_py()
    (['customers', 'events'], 2808)
    """
    fmt = str(format).lower()
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise JourneyParameterError(f"format: got {format!r}; expected one of {', '.join(FORMATS)} or auto")
    timezone = _check_timezone(timezone)
    columns = dict(columns or {})
    if messages is not None and fmt != "orders":
        raise JourneyParameterError("messages: a message log goes with format='orders' only")
    if timestamp_format is not None and fmt != "orders":
        raise JourneyParameterError("timestamp_format: only the orders shape has free-form timestamps")
    if decimal not in (".", ","):
        raise JourneyParameterError(f"decimal={decimal!r}; expected '.' or ',' (',' reads amounts written 1.234,56)")
    con = con if con is not None else engine.default_connection()
    own = con if con.name == "duckdb" else ibis.duckdb.connect()
    duck = own.con
    duck.execute("SET TimeZone='UTC'")
    if fmt == "orders":
        base, extras = _orders(duck, path, messages, columns, timezone, timestamp_format, decimal)
    else:
        rel = _raw_relation(duck, fmt, path, columns, decimal)
        base, extras = _READERS[fmt](_Source(duck, rel, fmt, decimal, path=path), timezone)
    name = ibis.util.gen_name("journeylib_export")
    extra_sql = ", ".join(f"b.{_ident(e)}" for e in extras)
    stitched = "" if fmt == "orders" else ", b.anonymous_id, b.user_id"
    checked = "" if fmt == "orders" else ", b._bad_amount"  # the orders reader checks its amounts itself
    sql = f"""CREATE TEMP TABLE {_ident(name)} AS
        WITH b AS ({base}),
        pairs AS (SELECT anonymous_id, user_id, row_number() OVER (PARTITION BY anonymous_id ORDER BY ts, user_id) AS rn
                  FROM b WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL),
        links AS (SELECT anonymous_id, user_id AS linked FROM pairs WHERE rn = 1)
        SELECT CAST(coalesce(b.user_id, l.linked, b.anonymous_id) AS VARCHAR) AS customer_id,
               CAST(b.ts AS TIMESTAMPTZ) AS ts, CAST(b.event AS VARCHAR) AS event,
               CAST(b.channel AS VARCHAR) AS channel, CAST(b.revenue AS DOUBLE) AS revenue,
               {extra_sql}{stitched}{checked}
        FROM b LEFT JOIN links l ON b.anonymous_id = l.anonymous_id
        WHERE b._keep
        ORDER BY customer_id, ts, event, channel NULLS FIRST"""
    try:
        duck.execute(sql)
    except JourneyDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - DuckDB's errors are precise but long
        raise engine.csv_row_failure(exc) or JourneyDataError(
            f"{fmt}: could not read {path}: {engine.gist(exc)}") from exc
    bad_sql = "count(_bad_amount), list(_bad_amount) FILTER (WHERE _bad_amount IS NOT NULL)[1:3]" if checked \
        else "0, NULL"
    n, n_ts, n_event, n_id, n_bad, examples = duck.execute(
        f"SELECT count(*), count(ts), count(event), count(customer_id), {bad_sql} FROM {_ident(name)}").fetchone()
    if checked:
        if n_bad:
            duck.execute(f"DROP TABLE IF EXISTS {_ident(name)}")
        _check_amounts(fmt, n_bad, examples, decimal)
        duck.execute(f"ALTER TABLE {_ident(name)} DROP COLUMN _bad_amount")
    if n and not (n_ts and n_event and n_id):
        missing = [w for w, k in (("a timestamp", n_ts), ("an event name", n_event), ("an id", n_id)) if not k]
        duck.execute(f"DROP TABLE IF EXISTS {_ident(name)}")
        raise JourneyDataError(f"{path}: not a {fmt} export: none of its {n:,} rows has {' or '.join(missing)} "
                               f"in the {fmt} fields; check format= (detect_format({str(path)!r}) guesses it)")
    events = own.table(name)
    out: dict[str, Any] = {"events": events}
    if fmt == "ga4":
        cname = ibis.util.gen_name("journeylib_export_customers")
        duck.execute(f"""CREATE TEMP TABLE {_ident(cname)} AS
            SELECT customer_id, arg_min(first_source, ts) AS first_source, arg_min(first_medium, ts) AS first_medium,
                   arg_min(first_campaign, ts) AS first_campaign
            FROM {_ident(name)} WHERE first_source IS NOT NULL OR first_medium IS NOT NULL
            GROUP BY customer_id ORDER BY customer_id""")
        duck.execute(f"""CREATE OR REPLACE TEMP TABLE {_ident(cname)} AS SELECT *,
            {channel_sql('first_source', 'first_medium')} AS acquisition_channel FROM {_ident(cname)}""")
        out["customers"] = own.table(cname)
    if own is not con:
        out = {k: ibis.memtable(v.to_pyarrow()) for k, v in out.items()}
    return out


# --------------------------------------------------------------------------- detection
def _keys_of(path: Path) -> set[str]:
    kind = _kind_of(path.name)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return set(pq.read_schema(path).names)
    if kind == "excel":
        return set(engine.excel_frame([str(path)], nrows=0).columns)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if kind == "json":
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    return set()
                return set(obj) if isinstance(obj, dict) else set()
            delim = "\t" if "\t" in line else ("," if line.count(",") >= line.count(";") else ";")
            return {h.strip().strip('"').lower() for h in line.split(delim)}
    return set()


def detect_format(path: str | Path) -> str:
    """The export shape of ``path``: ga4, segment, amplitude, mixpanel, posthog, snowplow, orders or canonical.

    Looks at the column names (Parquet schema, the first JSON line, the CSV header) of the
    first data file: ``event_params``/``user_pseudo_id`` -> ga4; ``domain_userid``/
    ``derived_tstamp``/``collector_tstamp`` -> snowplow; ``event_type`` with ``event_time`` ->
    amplitude; ``anonymousId``/``anonymous_id``/``messageId`` with ``event`` -> segment;
    ``event``, ``distinct_id`` and ``timestamp`` -> posthog; ``event`` and ``properties`` alone ->
    mixpanel;
    ``customer_id, ts, event`` -> canonical; a folder with ``orders.*`` or a table with a
    customer, a time and an amount column -> orders.

    Parameters
    ----------
    path
        A file, a folder, a glob or a URI.

    Returns
    -------
    str
        ``ga4``, ``segment``, ``amplitude``, ``mixpanel``, ``posthog``, ``snowplow``, ``orders`` or
        ``canonical``.

    Raises
    ------
    JourneyDataError
        When the columns match no known shape.

    Examples
    --------
    >>> from journeylib.core.readers import detect_format
    >>> detect_format("data/sample/events.parquet")
    'canonical'
    """
    if engine.is_uri(str(path)):
        raise JourneyParameterError(f"{path}: the format of a URI is not detected; give format= explicitly")
    p = Path(engine.unzipped_path(str(path)))
    if p.is_dir():
        if any(f.name.lower().startswith("orders") and _kind_of(f.name) in ("csv", "parquet", "excel")
               for f in p.iterdir()):
            return "orders"
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "_"))
                       and f.name not in _NOT_DATA and _kind_of(f.name) is not None
                       and not {f.name.split(".")[0].lower(), *(q.lower() for q in f.relative_to(p).parts[:-1])}
                       & set(SIDE_TABLES))
    else:
        files = [Path(f) for f in engine.list_files(str(p))]
    if not files:
        raise JourneyDataError(f"{path}: no Parquet, JSON lines or CSV file found")
    keys = _keys_of(files[0])
    low = {_key(k) for k in keys}
    if {"event_params", "user_pseudo_id"} & low and "event_name" in low:
        return "ga4"
    if {"domain_userid", "derived_tstamp", "collector_tstamp"} & low:
        return "snowplow"
    if {"event_type", "event_time"} <= low:
        return "amplitude"
    if {"anonymousid", "anonymous_id", "messageid", "message_id"} & low and ("event" in low or "type" in low):
        return "segment"
    if {"event", "distinct_id", "timestamp"} <= low:
        return "posthog"
    if {"event", "properties"} <= low:
        return "mixpanel"
    if {"customer_id", "ts", "event"} <= low:
        return "canonical"
    has = lambda names: bool(set(names) & low)  # noqa: E731
    if has(ORDER_COLUMNS["customer_id"]) and has(ORDER_COLUMNS["ts"]) and has(ORDER_COLUMNS["revenue"]):
        return "orders"
    raise JourneyDataError(f"{files[0]}: cannot tell the export format from its columns "
                           f"({', '.join(sorted(keys)[:15])}); give format= explicitly "
                           f"({', '.join(FORMATS)} or canonical)")
