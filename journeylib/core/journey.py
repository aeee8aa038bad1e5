"""The journey definition (``journey.yml``): one file that describes a journey for every analysis.

:func:`read_journey` parses and validates the YAML (no data is read); :func:`load_journey`
reads the sources, assigns stages, gives role events their canonical names and returns a
:class:`Journey`: the validated tables and the settings every analysis accepts, with the
check table of ``journeylib check`` as its ``summary``.

The file (version 1; paths are relative to the file's folder, URIs allowed):

```yaml
version: 1
name: Simulated shop
sources:
  events: {path: events.csv, format: canonical, columns: {user: customer_id, time: ts, action: event},
           timezone: Europe/Berlin, timestamp_format: "%d/%m/%Y %H:%M"}
  customers: {path: customers.parquet}
  assignments: {path: assignments.parquet}
stages:
  order: [awareness, consideration, cart, purchase, repeat]
  rules:                       # or column: stage (an existing stage column, used as is)
    - {stage: awareness, event: landing}
    - {stage: consideration, column: page_path, pattern: "^/catalog"}
    - {stage: purchase, event: payment_done, occurrence: first}
    - {stage: repeat, event: payment_done}
events: {purchase: [payment_done], revenue: amount, cart: [add_to_cart]}
touchpoints: {column: channel}  # or events: [email_click, ad_click]
experiments: {from: events, event: exposure, experiment_column: test, variant_column: arm}
segments: [segment]
period: {start: 2024-01-01, end: 2025-06-30}   # or {last_days: 365}
outcomes: {churn: cancel_subscription, downgrade: [plan_downgrade], pause: pause_account}
```

Rules
-----
* Stage rules: the first rule whose conditions all hold assigns its stage; events no rule
  matches keep a missing stage (counted and listed in ``summary``). A rule's conditions are
  ``event`` / ``events`` (the source's event names, or the canonical role names), ``column``
  with ``pattern`` (a regular expression searched in that column's text) and ``channel``
  (a name or a list). ``occurrence: first`` restricts a rule to the customer's first event
  that meets its conditions (by time; ties by event name, then channel).
* Role events are renamed to the canonical names of :data:`journeylib.core.schema.ROLE_EVENTS`
  (``purchase``, ``add_to_cart``, ``review``, ``referral``, ``message_sent``,
  ``message_open``, ``message_click``); when a name changes, the source's name is kept in
  a ``source_event`` column. The revenue column becomes ``revenue``.
* Timestamps: naive values are read in ``timezone`` (default UTC). Text such as
  ``03/04/2025`` (day-first or month-first?) needs ``timestamp_format``; every row is
  checked.
* Period: ``start``/``end`` are UTC dates or date-times; an end date includes the whole day.
  ``last_days: N`` ends at the last event of the log. Events outside are dropped (counted).
* Outcomes (optional): exit type -> the event name(s) that record it, for competing exits
  (:func:`journeylib.retention.competing.exits_from_events`). An event belongs to one exit
  type; an outcome event that never occurs is a ``warn`` check naming the log's events.
* Experiments ``from: events``: one assignment per customer and experiment, at the
  customer's first exposure inside the period (``assigned_at`` = the time of that event); a customer seen
  in two variants of one experiment is left out of it, with a warning (as for an assignments table).
"""
from __future__ import annotations

import codecs
import dataclasses
import datetime as _dt
import difflib
import inspect
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pandas as pd
import yaml

from . import arms, engine, privacy, shared_tables, validation_cache
from .display import format_count
from .errors import JourneyDataError, JourneyParameterError
from .load import InputRecord, Loaded, content_hash, load_table, source_name
from .locations import CDNOW_DIR, SAMPLE_DIR
from .privacy import is_personal_detail, personal_values
from .result import Check, Finding, Result
from .schema import (AMOUNT_COLUMNS, DEFAULT_STAGES, EXPORT_FORMATS, LIST_SOURCES, MAX_SEGMENT_GROUPS, PLACEHOLDER_IDS,
                     MESSAGE_CLICK_EVENT, MESSAGE_OPEN_EVENT, MESSAGE_SENT_EVENT, ONE_VALUE_EXAMPLES, OUTBOUND_EVENTS,
                     REQUIRED, ROLE_EVENTS, ZONE_SUFFIX)
from .time import epoch_us, from_epoch_us, utc_literal

__all__ = ["read_journey", "load_journey", "Journey", "JourneyDefinition", "Source", "StageRule",
           "BUNDLED_JOURNEYS", "resolve_journey_path"]

JOURNEY_FILE = "journey.yml"
BUNDLED_JOURNEYS = {"sample": SAMPLE_DIR / JOURNEY_FILE, "cdnow": CDNOW_DIR / JOURNEY_FILE}
"""Names that resolve to a bundled definition: ``load_journey("sample")``."""

# --- the schema of journey.yml ---------------------------------------------------------

TOP_KEYS = ("version", "name", "sources", "stages", "events", "touchpoints", "experiments",
            "segments", "period", "outcomes")
SOURCE_NAMES = ("events", "customers", "assignments", "messages", "feedback", "costs")
SOURCE_KEYS = ("path", "format", "columns", "values", "timezone", "timestamp_format", "decimal", "encoding",
               "options")
FORMATS = ("canonical", *EXPORT_FORMATS)
STAGES_KEYS = ("order", "column", "rules")
RULE_KEYS = ("stage", "event", "events", "column", "pattern", "channel", "occurrence")
OCCURRENCES = ("any", "first")
ROLE_KEYS = tuple(ROLE_EVENTS)
EVENTS_KEYS = (*ROLE_KEYS, "revenue", "currency", "campaign_column")
TOUCH_KEYS = ("column", "events")
EXPERIMENT_KEYS = ("from", "event", "experiment_column", "experiment", "variant_column")
EXPERIMENT_FROM = ("events", "assignments")
PERIOD_KEYS = ("start", "end", "last_days")
SEGMENT_HINT = "a customers column name or a list of them, e.g. [segment, acquisition_channel]"

AMBIGUOUS_CHECK_ROWS = 100_000
"""Rows of a text timestamp column looked at for day-first/month-first dates."""

_DMY = re.compile(r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{2,4})(?:[ T](\d{1,2}):(\d{2})(:\d{2})?)?(\s+[AP]M)?")
_AMBIGUOUS_SQL = r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"


@dataclass(frozen=True)
class Source:
    """One input of a journey: a resolved ``path`` (or URI), its ``format`` and how to read it.

    ``columns`` maps the source's names to canonical ones (``{"user": "customer_id"}``);
    ``options`` go to the format's reader; ``line`` is where the source starts in the file.

    Parameters
    ----------
    name
        The source's role: ``events``, ``customers``, ``assignments``, ``feedback``, ...
    path
        The resolved file, folder or URI.
    format
        ``canonical`` or an export shape (:func:`journeylib.core.readers.read_export`).
    columns
        Source name -> canonical name.
    values
        Canonical columns the source lacks, with the one value every row gets (a review site's
        export: ``{"kind": "review"}``; one ad platform's spend: ``{"channel": "paid_search"}``).
    timezone
        Zone of naive timestamps.
    timestamp_format
        strptime format of text timestamps, ``unix_s`` / ``unix_ms`` / ``unix_us`` for Unix times
        (numbers or text), or ``None``.
    decimal
        Decimal mark of the amounts written as text (``revenue``, ``spend``, ``score``; an export's
        amounts): ``"."`` (default) or ``","`` (``1.234,56`` is 1234.56; a dot groups thousands).
    encoding
        The text encoding of a CSV or TSV source (``utf-8`` default; ``cp1252`` for Excel's plain
        CSV in Western Europe): read through a UTF-8 copy (:func:`journeylib.core.engine.utf8_copy`).
    options
        Further options for the format's reader.
    line
        Line of the source in ``journey.yml``.
    index
        Position in the list when ``sources.<name>`` lists several exports of one table
        (:data:`LIST_SOURCES`); ``None`` for a single source.

    Examples
    --------
    >>> from journeylib.core.journey import read_journey
    >>> source = read_journey("sample").sources["events"]
    >>> source.format, source.timezone, source.line
    ('canonical', 'UTC', 5)
    """

    name: str
    path: str
    format: str = "canonical"
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"
    timestamp_format: str | None = None
    decimal: str = "."
    encoding: str = "utf-8"
    options: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    index: int | None = None

    @property
    def key(self) -> str:
        """Where the source is in ``journey.yml``: ``sources.costs``, or ``sources.costs[1]`` in a list."""
        return f"sources.{self.name}" + ("" if self.index is None else f"[{self.index}]")


@dataclass(frozen=True)
class StageRule:
    """One stage rule (``stages.rules[index]``); every given condition must hold.

    Parameters
    ----------
    stage
        The stage the rule assigns.
    index
        Position in ``stages.rules``.
    events
        Event names that match (empty: any event).
    column, pattern
        A column whose text must contain a match of the regular expression ``pattern``.
    channels
        Channels that match (empty: any channel).
    occurrence
        ``"any"``, or ``"first"``: only the customer's first matching event.
    line
        Line of the rule in ``journey.yml``.

    Examples
    --------
    >>> from journeylib.core.journey import StageRule
    >>> rule = StageRule("purchase", 3, events=("payment_done",), occurrence="first")
    >>> rule.key, rule.describe()
    ('stages.rules[3]', 'event payment_done and first occurrence -> purchase')
    """

    stage: str
    index: int
    events: tuple[str, ...] = ()
    column: str | None = None
    pattern: str | None = None
    channels: tuple[str, ...] = ()
    occurrence: str = "any"
    line: int | None = None

    @property
    def key(self) -> str:
        return f"stages.rules[{self.index}]"

    def describe(self) -> str:
        parts = []
        if self.events:
            parts.append("event " + (self.events[0] if len(self.events) == 1 else "in " + ", ".join(self.events)))
        if self.column:
            parts.append(f"{self.column} ~ {self.pattern}")
        if self.channels:
            parts.append("channel " + ", ".join(self.channels))
        if self.occurrence == "first":
            parts.append("first occurrence")
        return f"{' and '.join(parts)} -> {self.stage}"


@dataclass(frozen=True)
class JourneyDefinition:
    """A validated ``journey.yml`` (no data read). Build it with :func:`read_journey`.

    ``period`` is ``(start, end)`` (UTC; events with ``start <= ts < end``, an end *date*
    is the midnight after it), an ``int`` (last N days) or ``None``. ``lines`` maps each key
    path (``stages.rules[3].pattern``) to its line in the file, for error messages.

    Examples
    --------
    >>> from journeylib.core.journey import read_journey
    >>> definition = read_journey("sample")
    >>> definition.name, definition.stage_column, definition.touch_col
    ('Simulated shop (sample data)', 'stage', 'channel')
    >>> definition.where("stages.order")
    'journey.yml, line 12, stages.order'
    """

    name: str
    folder: Path | str
    sources: Mapping[str, Source]
    stages: tuple[str, ...]
    stage_column: str | None
    rules: tuple[StageRule, ...]
    roles: Mapping[str, tuple[str, ...]]
    revenue_column: str = "revenue"
    currency_column: str | None = None
    campaign_column: str | None = None
    touch_col: str | None = "channel"
    touch_events: tuple[str, ...] = ()
    experiments: Mapping[str, Any] | None = None
    segments: tuple[str, ...] = ()
    period: tuple[pd.Timestamp, pd.Timestamp] | int | None = None
    path: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict, repr=False)
    outcomes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra_sources: Mapping[str, tuple[Source, ...]] = field(default_factory=dict)

    def sources_of(self, name: str) -> tuple[Source, ...]:
        """Every source of one table: one, or the exports ``sources.<name>`` lists (:data:`LIST_SOURCES`)."""
        return ((self.sources[name], *self.extra_sources.get(name, ())) if name in self.sources else ())

    def where(self, key: str) -> str:
        """``"journey.yml, line 12, stages.rules[3].pattern"``: how errors name a key."""
        return _where(self.path, self.lines, key)


# --- errors ----------------------------------------------------------------------------

def _where(path: str | None, lines: Mapping[str, int], key: str) -> str:
    file = Path(path).name if path else "journey definition"
    k = key
    while k and k not in lines:  # the nearest enclosing key that has a line
        k = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", k) if re.search(r"(\.[^.\[]+|\[\d+\])$", k) else ""
    line = lines.get(k)
    return f"{file}, line {line}, {key}" if line else f"{file}, {key}"


def _closest(word: str, known: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.5)
    return found[0] if found else None


class _Ctx:
    """Where values came from while validating: file path and key-path -> line."""

    def __init__(self, path: str | None, lines: dict[str, int]):
        self.path, self.lines = path, lines

    def fail(self, key: str, given: Any, expected: str, hint: str | None = None) -> JourneyParameterError:
        msg = f"{_where(self.path, self.lines, key)}: got {_show(given)}; expected {expected}"
        if hint:
            msg += f"\nWhat to do: {hint}"
        return JourneyParameterError(msg)

    def mapping(self, value: Any, key: str, known: tuple[str, ...], *, required: tuple[str, ...] = (),
                what: str = "") -> dict:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(key or "(top level)", value, f"a mapping with keys {', '.join(known)}")
        for k in value:
            if k not in known:
                sub = f"{key}.{k}" if key else str(k)
                near = _closest(k, known)
                raise JourneyParameterError(
                    f"{_where(self.path, self.lines, sub)}: unknown key '{k}'; expected one of "
                    f"{', '.join(known)}" + (f" ({what})" if what else "")
                    + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
        for k in required:
            if value.get(k) is None:
                raise self.fail(f"{key}.{k}" if key else k, None, f"'{k}' to be given" + (f" ({what})" if what else ""))
        return value

    def text(self, value: Any, key: str, expected: str = "a name (text)", *, optional: bool = True) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value).strip() == "":
            raise self.fail(key, value, expected)
        return str(value).strip()

    def names(self, value: Any, key: str, expected: str = "a name or a list of names") -> tuple[str, ...]:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(key, value, expected)
        return tuple(self.text(v, f"{key}[{i}]" if isinstance(value, list) else key, expected, optional=False)
                     for i, v in enumerate(items))


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- reading the YAML ------------------------------------------------------------------

def resolve_journey_path(path: str | Path) -> Path | str:
    """``"sample"``/``"cdnow"``: the bundled definitions; a folder: its ``journey.yml``; a URI as given.

    Parameters
    ----------
    path
        ``"sample"``, ``"cdnow"``, a ``journey.yml``, its folder, or a URI.

    Returns
    -------
    pathlib.Path or str
        The absolute path of the file (a URI stays a string).

    Examples
    --------
    >>> from journeylib.core.journey import resolve_journey_path
    >>> resolve_journey_path("data/sample").name
    'journey.yml'
    >>> resolve_journey_path("s3://bucket/shop/journey.yml")
    's3://bucket/shop/journey.yml'
    """
    if str(path) in BUNDLED_JOURNEYS:
        return BUNDLED_JOURNEYS[str(path)]
    if engine.is_uri(path):
        return str(path)
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / JOURNEY_FILE
    return p.resolve()


def _compose(text: str, path: str | None) -> tuple[Any, dict[str, int]]:
    """The YAML's value and the line of every key path (from ``yaml.compose`` node marks)."""
    name = Path(path).name if path else "journey definition"
    loader = yaml.SafeLoader(text)
    try:
        # an alias repeats a value; nested ones multiply (ten levels of ten: 10^10 values), and a journey
        # definition needs none, so they are refused before anything is expanded
        alias = next((e for e in yaml.parse(text, Loader=yaml.SafeLoader) if isinstance(e, yaml.AliasEvent)), None)
        if alias is not None:
            raise JourneyParameterError(f"{name}, line {alias.start_mark.line + 1}: the alias *{alias.anchor} repeats "
                                        "another value; expected every value written out (a journey definition "
                                        "takes no YAML anchors or aliases)")
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{name}, line {mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise JourneyParameterError(f"{where}: not valid YAML: {problem}; expected a YAML mapping "
                                    "such as 'sources: {events: {path: events.csv}}'") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}

    def walk(n: yaml.Node, key: str) -> None:
        if key:
            lines.setdefault(key, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in n.value:
                sub = f"{key}.{k.value}" if key else str(k.value)
                if k.value in seen:
                    raise JourneyParameterError(f"{name}, line {k.start_mark.line + 1}, {sub}: the key is given "
                                                "twice; expected each key once")
                seen.add(k.value)
                lines[sub] = k.start_mark.line + 1
                walk(v, sub)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, f"{key}[{i}]")

    if node is not None:
        walk(node, "")
    return data, lines


def read_journey(path: str | Path) -> JourneyDefinition:
    """Parse and validate a ``journey.yml`` (no data is read).

    ``path`` is the file, its folder, a URI, or ``"sample"`` / ``"cdnow"`` (the bundled
    definitions). Every problem raises :class:`JourneyParameterError` naming the key path
    (``stages.rules[3].pattern``), the line, what was given and what was expected; an
    unknown key names the closest known one.

    Parameters
    ----------
    path
        The ``journey.yml``, its folder, a URI, or ``"sample"`` / ``"cdnow"``.

    Returns
    -------
    JourneyDefinition
        The validated definition.

    Raises
    ------
    JourneyParameterError
        For any problem in the file, naming the key and its line.

    Examples
    --------
    >>> import journeylib as jl
    >>> definition = jl.read_journey("sample")
    >>> definition.stages
    ('awareness', 'consideration', 'cart', 'purchase', 'repeat', 'advocacy')
    >>> definition.segments
    ('segment', 'acquisition_channel')
    """
    resolved = resolve_journey_path(path)
    text = engine.read_text(str(resolved))
    if text is None:
        raise JourneyParameterError(f"journey definition not found: {resolved}; expected a journey.yml file "
                                    "(journeylib init PATH writes a draft)")
    return _parse(text, str(resolved))


def _source(c: "_Ctx", sname: str, spec: Any, index: int | None, folder: Path | str,
            lines: Mapping[str, int]) -> Source:
    """One source of ``sources.<sname>`` (``[index]`` of a list), its keys checked."""
    if isinstance(spec, str):  # shorthand: customers: customers.parquet
        spec = {"path": spec}
    key = f"sources.{sname}" + ("" if index is None else f"[{index}]")
    spec = c.mapping(spec, key, SOURCE_KEYS, required=("path",))
    fmt = c.text(spec.get("format"), f"{key}.format") or "canonical"
    if fmt not in FORMATS:
        near = _closest(fmt, FORMATS)
        raise c.fail(f"{key}.format", fmt, f"one of {', '.join(FORMATS)}",
                     f"did you mean '{near}'?" if near else None)
    cols = spec.get("columns") or {}
    if not isinstance(cols, dict):
        raise c.fail(f"{key}.columns", cols, "a mapping from your column name to the canonical name, "
                     "e.g. {user: customer_id, time: ts, action: event}")
    columns = {}
    for theirs, ours in cols.items():
        ours_t = c.text(ours, f"{key}.columns.{theirs}", "a canonical column name such as customer_id, ts, "
                        "event", optional=False)
        columns[str(theirs)] = ours_t
    dupes = sorted({v for v in columns.values() if list(columns.values()).count(v) > 1})
    if dupes:
        raise c.fail(f"{key}.columns", cols, f"each canonical name once (two columns map to {dupes[0]})")
    values = spec.get("values") or {}
    if not isinstance(values, dict) or any(isinstance(v, bool) or not isinstance(v, (str, int, float))
                                           for v in values.values()):
        raise c.fail(f"{key}.values", values, "a mapping from a canonical column the file lacks to the one value "
                     "every row gets, e.g. {kind: review} or {channel: paid_search}")
    if values and fmt != "canonical":
        raise c.fail(f"{key}.values", values, "values only for a canonical source (an export format's reader "
                     "writes its own columns)")
    values = {str(k): v for k, v in values.items()}
    tz = c.text(spec.get("timezone"), f"{key}.timezone", "a time zone name such as UTC or Europe/Berlin") or "UTC"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        near = _closest(tz, zoneinfo.available_timezones())
        raise c.fail(f"{key}.timezone", tz, "an IANA time zone name such as UTC or Europe/Berlin",
                     f"did you mean '{near}'?" if near else None) from None
    tsf = spec.get("timestamp_format")
    if tsf is not None:
        tsf = c.text(tsf, f"{key}.timestamp_format", "a strptime format such as '%d/%m/%Y %H:%M'")
        probe = _dt.datetime(2025, 3, 14, 15, 9, 26)
        try:
            ok = tsf in engine.UNIX_FORMATS or "%" in tsf and _dt.datetime.strptime(probe.strftime(tsf), tsf)
        except ValueError:
            ok = False
        if not ok:
            raise c.fail(f"{key}.timestamp_format", tsf, "a strptime format such as '%d/%m/%Y %H:%M' "
                         "(%d day, %m month, %Y year, %H:%M:%S time), or unix_s, unix_ms or unix_us for "
                         "Unix times")
    decimal = spec.get("decimal", ".")
    if decimal not in (".", ","):
        raise c.fail(f"{key}.decimal", decimal, "'.' or ',' (the mark between whole units and cents: "
                     "decimal: ',' reads 1.234,56 as 1234.56)")
    encoding = c.text(spec.get("encoding"), f"{key}.encoding", "a text encoding such as cp1252") or "utf-8"
    try:
        encoding = codecs.lookup(encoding).name
    except LookupError:
        raise c.fail(f"{key}.encoding", encoding, "a text encoding such as utf-8, cp1252 (Excel's plain CSV in "
                     "Western Europe), latin-1 or utf-16") from None
    options = spec.get("options") or {}
    if not isinstance(options, dict):
        raise c.fail(f"{key}.options", options, "a mapping of reader options")
    if options and fmt == "canonical":
        raise c.fail(f"{key}.options", options, "no options for a canonical source (they go to an export "
                     "format's reader, e.g. format: orders)")
    spath = c.text(spec["path"], f"{key}.path", "a file, folder, glob or URI", optional=False)
    return Source(name=sname, path=_resolve(spath, folder), format=fmt, columns=columns, values=values,
                  timezone=tz, timestamp_format=tsf, decimal=decimal, encoding=encoding, options=dict(options),
                  line=lines.get(key), index=index)


def _parse(text: str, path: str | None) -> JourneyDefinition:
    data, lines = _compose(text, path)
    c = _Ctx(path, lines)
    if data is None:
        data = {}
    top = c.mapping(data, "", TOP_KEYS, required=("sources",))
    if top.get("version", 1) != 1:
        raise c.fail("version", top.get("version"), "1 (the only version of the format)")
    if path is None or engine.is_uri(path):
        folder: Path | str = str(path).rsplit("/", 1)[0] if path else Path.cwd()
    else:
        folder = Path(path).parent
    name = c.text(top.get("name"), "name", "a title (text)") or (
        Path(folder).name if isinstance(folder, Path) else str(folder).rsplit("/", 1)[-1])

    # sources
    raw_sources = c.mapping(top["sources"], "sources", SOURCE_NAMES, required=("events",))
    sources: dict[str, Source] = {}
    extra_sources: dict[str, tuple[Source, ...]] = {}
    for sname, spec in raw_sources.items():
        if spec is None:
            continue
        if isinstance(spec, list):
            if sname not in LIST_SOURCES:
                raise c.fail(f"sources.{sname}", spec, f"one source (a list of exports only for "
                             f"{', '.join(LIST_SOURCES)}; combine several {sname} files into one folder of "
                             "files with the same columns and give its path)")
            if not spec:
                raise c.fail(f"sources.{sname}", spec, "a source, or a list of them, each with its path")
            parsed = [_source(c, sname, one, i, folder, lines) for i, one in enumerate(spec)]
            sources[sname], extra_sources[sname] = parsed[0], tuple(parsed[1:])
        else:
            sources[sname] = _source(c, sname, spec, None, folder, lines)

    # stages
    st = c.mapping(top.get("stages"), "stages", STAGES_KEYS)
    order = c.names(st.get("order"), "stages.order", "a list of stage names in journey order") or DEFAULT_STAGES
    if not isinstance(st.get("order", []), list):
        raise c.fail("stages.order", st.get("order"), "a list of stage names in journey order, "
                     "e.g. [awareness, consideration, purchase]")
    if len(set(order)) != len(order):
        dup = next(s for s in order if order.count(s) > 1)
        raise c.fail("stages.order", list(order), f"each stage once ({dup} is listed twice)")
    stage_column = c.text(st.get("column"), "stages.column", "the name of a column holding the stage")
    raw_rules = st.get("rules")
    if stage_column and raw_rules:
        raise c.fail("stages.rules", "rules and column", "either stages.column (an existing stage column) "
                     "or stages.rules, not both")
    if not stage_column and not raw_rules:
        raise c.fail("stages", st or None, "stages.rules (rules that assign a stage to events) or "
                     "stages.column (an existing stage column)")
    rules = []
    if raw_rules is not None:
        if not isinstance(raw_rules, list):
            raise c.fail("stages.rules", raw_rules, "a list of rules such as {stage: cart, event: add_to_cart}")
        for i, r in enumerate(raw_rules):
            rules.append(_rule(c, r, i, order))

    # events with a role
    ev = c.mapping(top.get("events"), "events", EVENTS_KEYS)
    roles = {r: c.names(ev.get(r), f"events.{r}") for r in ROLE_KEYS if ev.get(r) is not None}
    seen: dict[str, str] = {}
    for role, names in roles.items():
        for j, n in enumerate(names):
            if n in seen and seen[n] != role:
                raise c.fail(f"events.{role}", n, f"each event name in one role ({n} is also in events.{seen[n]})")
            seen[n] = role
    revenue = c.text(ev.get("revenue"), "events.revenue", "the name of the order-value column") or "revenue"
    currency = c.text(ev.get("currency"), "events.currency", "the name of the currency column")
    campaign = c.text(ev.get("campaign_column"), "events.campaign_column", "the name of the campaign column")

    # touchpoints
    tp = c.mapping(top.get("touchpoints"), "touchpoints", TOUCH_KEYS)
    if tp.get("column") is not None and tp.get("events") is not None:
        raise c.fail("touchpoints", tp, "either touchpoints.column or touchpoints.events, not both")
    touch_events = c.names(tp.get("events"), "touchpoints.events")
    touch_col = "touchpoint" if touch_events else (
        c.text(tp.get("column"), "touchpoints.column", "the name of the touchpoint column") or "channel")

    # experiments
    experiments = None
    if top.get("experiments") is not None:
        ex = c.mapping(top["experiments"], "experiments", EXPERIMENT_KEYS)
        frm = c.text(ex.get("from"), "experiments.from") or "assignments"
        if frm not in EXPERIMENT_FROM:
            raise c.fail("experiments.from", frm, "events (exposure events carry the variant) or assignments "
                         "(the assignments source)")
        experiments = {"from": frm}
        if frm == "events":
            for k in ("event", "experiment_column", "experiment", "variant_column"):
                experiments[k] = c.text(ex.get(k), f"experiments.{k}")
            if not experiments["variant_column"]:
                raise c.fail("experiments.variant_column", None, "the events column holding the variant")
            if bool(experiments["experiment_column"]) == bool(experiments["experiment"]):
                raise c.fail("experiments.experiment_column", ex.get("experiment_column"),
                             "either experiment_column (a column naming the experiment) or experiment "
                             "(one experiment's name)")
        else:
            extra = [k for k in ex if k != "from"]
            if extra:
                raise c.fail(f"experiments.{extra[0]}", ex[extra[0]], "no other key with from: assignments "
                             "(the assignments source has experiment, variant and assigned_at)")
            if "assignments" not in sources:
                raise c.fail("experiments.from", frm, "sources.assignments to be given (or from: events)")

    segments_raw = top.get("segments")
    if segments_raw is not None and not isinstance(segments_raw, (list, str)):
        raise c.fail("segments", segments_raw, SEGMENT_HINT)
    segments = c.names(segments_raw, "segments", SEGMENT_HINT)
    period = _period(c, top.get("period"))
    outcomes = _outcomes(c, top.get("outcomes"))
    return JourneyDefinition(
        name=name, folder=folder, sources=sources, stages=tuple(order), stage_column=stage_column,
        rules=tuple(rules), roles=roles, revenue_column=revenue, currency_column=currency,
        campaign_column=campaign, touch_col=touch_col, touch_events=touch_events,
        experiments=experiments, segments=segments, period=period, path=path, lines=lines, outcomes=outcomes,
        extra_sources=extra_sources)


OUTCOMES_HINT = "a mapping from exit type to event name(s), e.g. {churn: cancel_subscription, pause: pause_account}"


def _outcomes(c: _Ctx, raw: Any) -> dict[str, tuple[str, ...]]:
    """``outcomes``: exit type -> event names (each event in one exit type)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise c.fail("outcomes", raw, OUTCOMES_HINT)
    out: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for kind, names in raw.items():
        key = f"outcomes.{kind}"
        k = c.text(kind, key, "an exit type name such as churn or downgrade", optional=False)
        if k.lower() in ("0", "none", "false", "nan", "null"):
            raise c.fail(key, kind, "an exit type name such as churn or downgrade (this one reads as 'no exit')")
        if names is None or (isinstance(names, list) and not names):
            raise c.fail(key, names, "an event name or a list of event names")
        items = c.names(names, key, "an event name or a list of event names")
        for n in items:
            if n in owner and owner[n] != k:
                raise c.fail(key, n, f"each event in one exit type ({n} is also in outcomes.{owner[n]})")
            owner[n] = k
        out[k] = tuple(dict.fromkeys(items))
    return out


def _resolve(path: str, folder: Path | str) -> str:
    if engine.is_uri(path) or Path(path).expanduser().is_absolute():
        return str(Path(path).expanduser()) if not engine.is_uri(path) else path
    if isinstance(folder, str):
        return f"{folder.rstrip('/')}/{path}"
    return str(folder / path)


def _rule(c: _Ctx, r: Any, i: int, order: tuple[str, ...]) -> StageRule:
    key = f"stages.rules[{i}]"
    r = c.mapping(r, key, RULE_KEYS, required=("stage",), what="a rule: stage plus its conditions")
    stage = c.text(r["stage"], f"{key}.stage", optional=False)
    if stage not in order:
        near = _closest(stage, order)
        raise c.fail(f"{key}.stage", stage, f"a stage of stages.order ({', '.join(order)})",
                     f"did you mean '{near}'?" if near else "add it to stages.order")
    if r.get("event") is not None and r.get("events") is not None:
        raise c.fail(f"{key}.events", r["events"], "either event (one name) or events (a list), not both")
    events = c.names(r.get("event"), f"{key}.event", "one event name") if r.get("event") is not None else \
        c.names(r.get("events"), f"{key}.events", "a list of event names")
    column = c.text(r.get("column"), f"{key}.column", "the name of the column the pattern is searched in")
    pattern = r.get("pattern")
    if (column is None) != (pattern is None):
        missing = "pattern" if pattern is None else "column"
        raise c.fail(f"{key}.{missing}", None, "column and pattern together (a regular expression searched "
                     "in that column)")
    if pattern is not None:
        pattern = c.text(pattern, f"{key}.pattern", "a regular expression such as '^/catalog'", optional=False)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise c.fail(f"{key}.pattern", pattern, f"a regular expression ({exc})") from None
    channels = c.names(r.get("channel"), f"{key}.channel")
    occurrence = c.text(r.get("occurrence"), f"{key}.occurrence") or "any"
    if occurrence not in OCCURRENCES:
        raise c.fail(f"{key}.occurrence", occurrence, "first (the customer's first such event only) or any")
    if not (events or column or channels):
        raise c.fail(key, r, "at least one condition: event, events, column with pattern, or channel")
    return StageRule(stage=stage, index=i, events=events, column=column, pattern=pattern, channels=channels,
                     occurrence=occurrence, line=c.lines.get(key))


def _date(c: _Ctx, value: Any, key: str, *, end: bool) -> pd.Timestamp:
    expected = "a date such as 2024-01-01 or a date-time such as 2024-01-01 08:00"
    if isinstance(value, bool) or value is None:
        raise c.fail(key, value, expected)
    is_date = isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        is_date = True
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise c.fail(key, value, expected) from None
    if ts is pd.NaT:
        raise c.fail(key, value, expected)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts + pd.Timedelta(days=1) if (end and is_date) else ts


def _period(c: _Ctx, value: Any) -> tuple[pd.Timestamp, pd.Timestamp] | int | None:
    if value is None:
        return None
    p = c.mapping(value, "period", PERIOD_KEYS)
    if p.get("last_days") is not None:
        if p.get("start") is not None or p.get("end") is not None:
            raise c.fail("period.last_days", p["last_days"], "either last_days or start/end, not both")
        n = p["last_days"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise c.fail("period.last_days", n, "a whole number of days >= 1")
        return int(n)
    if p.get("start") is None and p.get("end") is None:
        raise c.fail("period", p, "start and/or end (dates), or last_days")
    start = _date(c, p["start"], "period.start", end=False) if p.get("start") is not None else \
        pd.Timestamp("1900-01-01", tz="UTC")
    end = _date(c, p["end"], "period.end", end=True) if p.get("end") is not None else \
        pd.Timestamp("2200-01-01", tz="UTC")
    if end <= start:
        raise c.fail("period.end", p.get("end"), f"a time after period.start ({p.get('start')})")
    return (start, end)


# --- loading ---------------------------------------------------------------------------

@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_timezone(zone: str, x: dt.Timestamp(timezone=None)) -> dt.Timestamp(timezone="UTC"):  # pragma: no cover
    """DuckDB's ``timezone(zone, naive)``: the wall-clock time in ``zone`` as an instant."""


@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _spark_to_utc(x: dt.Timestamp(timezone=None), zone: str) -> dt.Timestamp(timezone="UTC"):  # pragma: no cover
    """Spark SQL's ``to_utc_timestamp(naive, zone)``."""


def _backend(t: ibis.Table | ibis.Value) -> str:
    try:
        return t._find_backend(use_default=True).name
    except Exception:  # noqa: BLE001 - unbound or unknown backend
        return ""


def _read_raw(path: str, raw: ibis.Table, text_cols: list[str], con) -> ibis.Table:
    """``raw`` with the given columns of a CSV kept as text (DuckDB would otherwise parse
    03/04/2025 silently as one of the two readings)."""
    files = engine.list_files(path, con)
    con_ = con or engine.default_connection()
    if text_cols and files and engine.file_kind(files[0]) == "csv" and con_.name == "duckdb":
        return con_.read_csv(files, types={c: "VARCHAR" for c in text_cols},
                             **({"union_by_name": True} if len(files) > 1 else {}))
    return raw


def _timestamp_columns(table: str, source_cols: Iterable[str], columns: Mapping[str, str]) -> list[str]:
    """Source columns that become timestamps of ``table``."""
    out = []
    for c in source_cols:
        canon = columns.get(c, c)
        if (table in ("events", "feedback") and canon == "ts") or (table == "assignments" and canon == "assigned_at") or \
                (table == "customers" and canon.endswith("_at")):
            out.append(c)
    return out


def _check_dates(t: ibis.Table, cols: list[str], src: Source, d: JourneyDefinition) -> dict[str, str]:
    """Day-first/month-first text without a format, or text that does not fit the format (every row).

    Returns the formats found for text columns written so that day and month are plain without a
    declared format (:data:`journeylib.core.engine.WORDED_TIME`: ``Jan 5, 2025 9:00 AM``,
    ``2025-01-05 9:00 PM``; at least half of the values: the others are then named as not fitting)."""
    head = t
    text = [c for c in cols if t[c].type().is_string()]
    if not text:
        return {}
    key = f"{src.key}.timestamp_format"
    formats = {c: src.timestamp_format for c in text}
    if src.timestamp_format is None:
        aggs = {}
        for i, c in enumerate(text):
            given = head[c].notnull() & (head[c].strip() != "")
            aggs |= {f"n{i}": head[c].re_search(_AMBIGUOUS_SQL).cast("int64").sum(),
                     f"named{i}": (given & head[c].re_search(engine.WORDED_TIME)).cast("int64").sum(),
                     f"given{i}": given.cast("int64").sum()}
        counts = pd.to_numeric(engine.to_pandas(head.aggregate(**aggs)).iloc[0]).fillna(0)  # sums of no rows: NULL
        formats = {}
        for i, c in enumerate(text):
            if int(counts[f"n{i}"]):
                ex = engine.to_pandas(head.filter(head[c].re_search(_AMBIGUOUS_SQL)).select(c).limit(200))[c]
                raise JourneyDataError(_ambiguous_message(d, src, c, ex.astype(str).tolist(), key))
            if int(counts[f"given{i}"]) and 2 * int(counts[f"named{i}"]) >= int(counts[f"given{i}"]):
                named = head.filter(head[c].re_search(engine.WORDED_TIME))
                sample = engine.to_pandas(named.select(v=named[c].strip()).distinct().limit(2000))["v"]
                if fmt := engine.worded_time_format(sample):
                    formats[c] = fmt
    if _backend(t) != "duckdb":
        return {c: f for c, f in formats.items() if src.timestamp_format is None}
    for c, fmt in formats.items():
        parsed = engine.parse_timestamp(head[c].strip(), fmt)
        bad = head[c].notnull() & (head[c].strip() != "") & parsed.isnull()
        n_bad = int(engine.to_pandas(head.aggregate(n=bad.cast("int64").sum()))["n"].fillna(0).iloc[0])
        if n_bad:
            ex = engine.to_pandas(head.filter(bad).select(c).limit(5))[c].tolist()
            found = "the format" if src.timestamp_format else "the format the other values are written in,"
            raise JourneyDataError(
                f"{d.where(key)}: {n_bad:,} value{'s' * (n_bad != 1)} of column '{c}' in {src.name} "
                f"do{'es' * (n_bad == 1)} not fit {found} "
                f"{fmt!r}, e.g. {ex[:3]}; expected every timestamp in that format"
                f"\nWhat to do: fix timestamp_format (%d day, %m month, %b month name, %Y year, %H:%M:%S time)"
                + ("" if src.timestamp_format else ", or the rows"))
    return {c: f for c, f in formats.items() if src.timestamp_format is None}


def _ambiguous_message(d: JourneyDefinition, src: Source, col: str, examples: list[str], key: str) -> str:
    m = [x for x in (_DMY.match(v) for v in examples) if x]
    first = max(int(x.group(1)) for x in m) if m else 0
    second = max(int(x.group(3)) for x in m) if m else 0
    sep = m[0].group(2) if m else "/"
    year = "%Y" if m and len(m[0].group(4)) == 4 else "%y"
    clock = ""
    if m and m[0].group(5):
        clock = " %H:%M" + (":%S" if m[0].group(7) else "")
        if m[0].group(8):  # a 12-hour clock with AM / PM
            clock = clock.replace("%H", "%I") + " %p"
    dmy, mdy = f"%d{sep}%m{sep}{year}{clock}", f"%m{sep}%d{sep}{year}{clock}"
    if first > 12:
        reading, fmt = "they look day-first (a first number above 12)", dmy
    elif second > 12:
        reading, fmt = "they look month-first (a second number above 12)", mdy
    else:
        reading, fmt = f"day-first ({dmy}) and month-first ({mdy}) both fit", dmy
    return (f"{d.where(src.key)}: column '{col}' of {src.name} holds dates such as "
            f"{examples[0]!r} and no timestamp_format is given; {reading}; expected {key} "
            f"to say how to read them.\nWhat to do: set {key}: \"{fmt}\" (or the other order if that is "
            "how your system writes dates)")


def decimal_comma(x: ibis.Value) -> ibis.Value:
    """Amounts written with a decimal comma (``1.234,56``, ``13,26``, ``7``) as text with a decimal point.

    A dot is read as a thousands mark only in groups of three (``1.234``), as are spaces
    (``1 234,56``). A currency written with the amount stays with it (``12,50 €`` ->
    ``12.50€``) for the loader's one-currency check. Any other text is left as written (trimmed):
    ``12.5`` stays 12.5, and text that is no number is reported by the loader's number check.

    Parameters
    ----------
    x
        A column of amounts (text, or numbers, which are returned unchanged).

    Returns
    -------
    ibis.Value
        Text that the loader reads as numbers.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core import engine
    >>> from journeylib.core.journey import decimal_comma
    >>> t = ibis.memtable({"v": ["1.234,56", "13,26", "7", " 0,5 ", "12.5", "1 234,50 €", "abc", None]})
    >>> engine.to_pandas(t.select(v=decimal_comma(t.v)))["v"].tolist()
    ['1234.56', '13.26', '7', '0.5', '12.5', '1234.50€', 'abc', None]
    """
    if not x.type().is_string():
        return x
    number, currency = engine.amount_parts(x, decimal=",")
    return ibis.ifelse(currency.isnull(), number, number + currency)


def _to_utc(x: ibis.Value, src: Source) -> ibis.Value:
    """A timestamp column of ``src`` as UTC: parsed with ``timestamp_format``, naive values
    read in ``timezone``."""
    typ = x.type()
    zone = src.timezone
    name = _backend(x)

    def localize(naive: ibis.Value) -> ibis.Value:
        if zone == "UTC":
            return naive.cast("timestamp").cast(dt.Timestamp(timezone="UTC"))
        if name == "duckdb":
            return _duckdb_timezone(zone, naive.cast("timestamp"))
        if name == "pyspark":
            return _spark_to_utc(naive.cast("timestamp"), zone)
        raise JourneyParameterError(f"{src.key}.timezone: {zone!r} is supported on DuckDB and Spark; "
                                    f"this engine is {name or 'unknown'}; expected timezone: UTC")

    if src.timestamp_format in engine.UNIX_FORMATS and (typ.is_string() or typ.is_numeric()):
        return engine.parse_timestamp(x, src.timestamp_format)  # UTC by definition: the zone does not apply
    if typ.is_string():
        if src.timestamp_format:
            return localize(engine.strptime(x, src.timestamp_format))
        with_offset = x.re_search(ZONE_SUFFIX)
        if zone != "UTC":  # PST/PDT, CET/CEST: read as the declared zone's (an abbreviation alone is ambiguous)
            x = ibis.ifelse(engine.zone_abbreviated(x), x.re_replace(engine.ZONE_ABBREVIATION_TAIL, ""), x)
        return ibis.ifelse(with_offset, x.try_cast(dt.Timestamp(timezone="UTC")),
                           localize(x.try_cast("timestamp")))
    if typ.is_timestamp() and typ.timezone is None or typ.is_date():
        return localize(x)
    return x


def _read_table(d: JourneyDefinition, name: str, con) -> tuple[ibis.Table, list[Loaded]]:
    """A table of the definition and what each of its sources loaded: one source's table, or the rows
    of the exports ``sources.<name>`` lists together (:func:`_together`)."""
    parts = [_read_source(d, src, con)[0] for src in d.sources_of(name)]
    return (parts[0].table if len(parts) == 1 else _together(name, [x.table for x in parts])), parts


def _together(name: str, tables: list[ibis.Table]) -> ibis.Table:
    """The rows of several validated exports of one table: every column any of them has, null where an
    export lacks it (a column typed one way in one export and another way in the next is read as text, or
    as a number when both are numbers); spend summed per channel, period and campaign, as within one
    export."""
    types: dict[str, dt.DataType] = {}
    for t in tables:
        for c, typ in t.schema().items():
            have = types.setdefault(c, typ)
            if have != typ:
                types[c] = (dt.string if have.is_string() or typ.is_string()
                            else dt.float64 if have.is_numeric() and typ.is_numeric() else have)
    rows = ibis.union(*[t.select(**{c: (t[c].cast(typ) if c in t.columns else ibis.null(typ))
                                    for c, typ in types.items()}) for t in tables], distinct=False)
    if name != "costs":
        return rows
    keys = [c for c in types if c not in ("spend",)]
    return rows.group_by(keys).aggregate(spend=rows.spend.sum()).select(*types)


def _read_source(d: JourneyDefinition, src: Source, con, *, extra_columns: Mapping[str, str] | None = None,
                 stages: Iterable[str] | None = None) -> tuple[Loaded, dict[str, Any]]:
    """One source (one file, folder or glob) through :func:`load_table` (with the definition's mapping),
    and the other tables its reader gave (GA4's ``customers``; none for canonical files)."""
    name = src.name
    if not engine.list_files(src.path, con):
        raise JourneyDataError(f"{d.where(f'{src.key}.path')}: file not found: {src.path}; expected a "
                               "file, a folder of partitions, a glob or a URI (relative paths start at the "
                               "journey.yml's folder)")
    if src.format != "canonical":
        return _read_export(d, src, con, extra_columns=extra_columns, stages=stages)
    path = _utf8_path(d, src)
    columns = dict(src.columns)
    for theirs, ours in (extra_columns or {}).items():
        if theirs != ours and theirs not in columns and ours not in columns.values():
            columns[theirs] = ours
    raw = engine.to_table(path, con, table=name, raw=True)
    _check_mapping(d, src, raw.columns, columns)
    _check_stage_column(d, name, raw.columns, columns)
    ts_cols = _timestamp_columns(name, raw.columns, columns)
    amounts = [c for c in raw.columns if columns.get(c, c) in AMOUNT_COLUMNS] if src.decimal == "," else []
    theirs = {columns.get(c, c): c for c in raw.columns}
    times = {c: theirs[f"{columns.get(c, c)}_time"] for c in ts_cols if f"{columns.get(c, c)}_time" in theirs}
    periods = [c for c in raw.columns if name == "costs" and columns.get(c, c) == "period"]  # read by the cost loader
    t = _read_raw(path, raw, ts_cols + amounts + list(times.values()) + periods, con)
    if times:  # a date column and its time of day, joined before times are read (formats, zones)
        t = t.mutate(**{c: engine.joined_date_time(t[c], t[h]) for c, h in times.items()}).drop(*times.values())
        columns = {k: v for k, v in columns.items() if k not in times.values()}
    named = _check_dates(t, ts_cols, src, d)
    _check_values(d, src, t.columns, columns)
    _check_required(d, src, t.columns, columns)
    needs = (src.timezone != "UTC" or src.timestamp_format is not None or amounts or named or times
             or src.values)
    if not needs:
        loaded = _load(d, src, path, columns, stages, con)
        return (loaded if path == src.path else _with_source(loaded, source_name(src.path), src.path)), {}
    as_read = {c: dataclasses.replace(src, timestamp_format=named[c]) if c in named else src for c in ts_cols}
    t = t.mutate(**{c: _to_utc(t[c], as_read[c]) for c in ts_cols}, **{c: decimal_comma(t[c]) for c in amounts})
    t = t.mutate(**{c: ibis.literal(v) for c, v in src.values.items()})
    return _with_source(_load(d, src, t, columns, stages, con), source_name(src.path), src.path), {}


def _utf8_path(d: JourneyDefinition, src: Source) -> str:
    """The source's path, or that of its UTF-8 copy when it declares another ``encoding``."""
    if src.encoding == "utf-8":
        return src.path
    try:
        return engine.utf8_copy(src.path, src.encoding, src.name)
    except (JourneyDataError, JourneyParameterError) as exc:
        raise type(exc)(f"{d.where(f'{src.key}.encoding')}: {exc}") from None


def _hash(path: str) -> str:
    try:
        return content_hash(path)
    except OSError:
        return "n/a"


def _load(d: JourneyDefinition, src: Source, source: Any, columns: Mapping[str, str], stages, con) -> Loaded:
    # a spend report's periods are read by the cost loader, with the source's format (timestamps are read above)
    name = src.name
    fmt = src.timestamp_format if name == "costs" else None
    try:
        return load_table(name, source, columns or None, stages=stages, con=con, timestamp_format=fmt)
    except JourneyDataError as exc:
        if stages is not None and "column 'stage'" in str(exc):
            key = "stages.order"
            col = d.stage_column or "stage"
            raise JourneyDataError(f"{d.where(key)}: the stage column '{col}' has values that are not in "
                                   f"stages.order ({', '.join(d.stages)}).\n{exc}\nWhat to do: add the missing "
                                   "stages to stages.order, or assign stages with stages.rules") from None
        raise


def _check_mapping(d: JourneyDefinition, src: Source, have: Iterable[str], columns: Mapping[str, str]) -> None:
    have, name = list(have), src.name
    for theirs, ours in columns.items():
        if theirs in have:
            continue
        if theirs in src.columns:
            key = f"{src.key}.columns.{theirs}"
        elif ours == "revenue":
            key = "events.revenue"
        elif ours == "stage":
            key = "stages.column"
        else:
            key = f"{src.key}.columns"
        near = _closest(theirs, have)
        raise JourneyDataError(
            f"{d.where(key)}: maps column '{theirs}' to {ours}, but {name} has no column '{theirs}'; "
            f"expected one of its columns: {', '.join(have)}"
            + (f"\nWhat to do: did you mean '{near}'?" if near else ""))


def _check_values(d: JourneyDefinition, src: Source, have: Iterable[str], columns: Mapping[str, str]) -> None:
    """``values`` only for columns the source lacks: one value would hide what the file says."""
    have, name = list(have), src.name
    named = {c: columns.get(c, c) for c in have}
    for col in src.values:
        theirs = next((c for c, ours in named.items() if ours == col or c == col), None)
        if theirs is not None:
            raise JourneyDataError(
                f"{d.where(f'{src.key}.values.{col}')}: gives every row of {name} one {col}, but the file "
                f"has a column '{theirs}'" + (f" mapped to {col}" if theirs != col else "") + "; expected values "
                f"only for columns the file lacks\nWhat to do: take {col} out of values to read the column, or "
                f"map the column '{theirs}' to another name")


def _check_required(d: JourneyDefinition, src: Source, have: Iterable[str], columns: Mapping[str, str]) -> None:
    have, name = list(have), src.name
    named = {columns.get(c, c) for c in have} | set(src.values)
    missing = [c for c in REQUIRED[name] if c not in named and not (c == "ts" and "ts_time" in named)]
    if not missing:
        return
    col = missing[0]
    one = ONE_VALUE_EXAMPLES.get(name, {}).get(col)
    raise JourneyDataError(
        f"{d.where(f'{src.key}.columns')}: {name} has no column {', '.join(missing)} (after the mapping); "
        f"expected the columns {', '.join(REQUIRED[name])}; the file has {', '.join(have)}\n"
        f"What to do: map your column to {col} under {src.key}.columns, e.g. {{\"Your column\": {col}}}"
        + (f"; or, when every row has the same {col}, give it under {src.key}.values, e.g. {{{col}: {one}}}"
           if one else ""))


def _check_stage_column(d: JourneyDefinition, name: str, have: Iterable[str], columns: Mapping[str, str]) -> None:
    have = list(have)
    if name == "events" and d.stage_column and "stage" not in {columns.get(c, c) for c in have}:
        near = _closest(d.stage_column, have)
        raise JourneyDataError(f"{d.where('stages.column')}: no column '{d.stage_column}' in the events; expected "
                               f"one of {', '.join(have)} (or stages.rules to assign stages)"
                               + (f"\nWhat to do: did you mean '{near}'?" if near else ""))


def _read_export(d: JourneyDefinition, src: Source, con, *, extra_columns, stages) -> tuple[Loaded, dict]:
    """A non-canonical export through :func:`journeylib.core.readers.read_export`.

    The source's ``columns`` go to the reader (its own column names, e.g. an orders table's
    customer/time/amount), as do ``timezone``, ``timestamp_format``, the ``messages`` source
    (orders) and ``options``. Other tables the reader returns (GA4's ``customers``) come
    back beside the loaded one.
    """
    from . import readers

    if src.encoding != "utf-8" and src.format != "orders":
        raise JourneyParameterError(f"{d.where(f'{src.key}.encoding')}: the {src.format} export is read in "
                                    "its own encoding (UTF-8); encoding applies to canonical and orders CSV files: "
                                    "remove it")
    params = inspect.signature(readers.read_export).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    options = {}
    for k, v in src.options.items():
        if not accepts_any and (k not in params or k in ("format", "path")):
            known = [p for p in params if p not in ("format", "path")]
            near = _closest(k, known)
            raise JourneyParameterError(
                f"{d.where(f'{src.key}.options.{k}')}: unknown option '{k}' of the {src.format} reader; "
                f"expected one of {', '.join(known)}" + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
        options[k] = v
    if src.format == "orders" and len(d.sources_of("messages")) > 1:
        raise JourneyParameterError(f"{d.where('sources.messages')}: the orders reader reads one message log beside "
                                    "the orders; expected one messages source\nWhat to do: put the message logs "
                                    "in one file with the same columns")
    wanted = {"columns": dict(src.columns) or None, "timezone": src.timezone,
              "timestamp_format": src.timestamp_format, "con": con,
              "decimal": src.decimal if src.decimal != "." else None,
              "messages": _utf8_path(d, d.sources["messages"]) if "messages" in d.sources and src.format == "orders"
              else None}
    for k, v in wanted.items():
        if v is not None and (accepts_any or k in params):
            options.setdefault(k, v)
    out = readers.read_export(src.format, _utf8_path(d, src), **options)
    table = out.get(src.name)
    if table is None:
        raise JourneyDataError(f"{d.where(f'{src.key}.format')}: the {src.format} reader gives no "
                               f"{src.name} table; expected a canonical source for {src.name}")
    have = list(engine.to_table(table, con, table=src.name, raw=True).columns)
    columns = {theirs: ours for theirs, ours in (extra_columns or {}).items() if theirs != ours and theirs in have}
    _check_mapping(d, src, have, columns)
    _check_stage_column(d, src.name, have, columns)
    loaded = _load(d, src, table, columns, stages, con)
    extras = {k: v for k, v in out.items() if k != src.name and v is not None}
    return _with_source(loaded, f"{source_name(src.path)} ({src.format})", src.path), extras


def _with_source(loaded: Loaded, name: str, path: str) -> Loaded:
    """``loaded`` with its health-panel record naming the file it came from."""
    record = dataclasses.replace(loaded.input, source=name, sha256=_hash(path))
    return Loaded(loaded.table, record, loaded.checks)


def _event_condition(t: ibis.Table, names: tuple[str, ...], canonical: ibis.Value) -> ibis.Value:
    names = list(names)
    return t.event.isin(names) | canonical.isin(names)


def _rule_conditions(t: ibis.Table, d: JourneyDefinition, canonical: ibis.Value) -> list[ibis.Value]:
    """One boolean expression per rule (``occurrence: first`` through a row_number window)."""
    conds = []
    for r in d.rules:
        parts = []
        if r.events:
            parts.append(_event_condition(t, r.events, canonical))
        if r.column:
            if r.column not in t.columns:
                near = _closest(r.column, t.columns)
                raise JourneyDataError(
                    f"{d.where(f'{r.key}.column')}: no column '{r.column}' in the events; expected one of "
                    f"{', '.join(t.columns)}" + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
            parts.append(t[r.column].cast("string").re_search(r.pattern).fill_null(False))
        if r.channels:
            parts.append(t.channel.isin(list(r.channels)).fill_null(False))
        cond = parts[0]
        for p in parts[1:]:
            cond = cond & p
        if r.occurrence == "first":
            w = ibis.window(group_by=[t.customer_id, cond], order_by=[t.ts, canonical, t.channel, t.revenue])
            cond = cond & (ibis.row_number().over(w) == 0)
        conds.append(cond)
    return conds


def _canonical_event(t: ibis.Table, d: JourneyDefinition) -> tuple[ibis.Value, bool]:
    """The event renamed to its role's canonical name, and whether any name changes."""
    pairs = [(names, ROLE_EVENTS[role]) for role, names in d.roles.items()
             if any(n != ROLE_EVENTS[role] for n in names)]
    if not pairs:
        return t.event, False
    return ibis.cases(*[(t.event.isin(list(names)), canon) for names, canon in pairs], else_=t.event), True


def load_journey(path_or_definition: str | Path | JourneyDefinition, *, con: ibis.BaseBackend | None = None,
                 strict: bool = True) -> "Journey":
    """Read a journey's sources into validated tables (see the module docs for the rules).

    ``path_or_definition``: a ``journey.yml`` (or its folder, a URI, ``"sample"``,
    ``"cdnow"``) or a :class:`JourneyDefinition`. ``con``: the Ibis connection (default:
    embedded DuckDB). With ``strict=True`` (the default) a rule that matches no event and a
    role event name that never occurs raise :class:`JourneyDataError` naming the key and its
    line; with ``strict=False`` they are ``fail`` checks of the returned journey (what
    ``journeylib check`` prints).

    Parameters
    ----------
    path_or_definition
        A ``journey.yml`` (its folder, a URI, ``"sample"``, ``"cdnow"``) or a :class:`JourneyDefinition`.
    con
        The Ibis connection (default: embedded DuckDB).
    strict
        Raise on a rule without events and on a role event that never occurs (``False``:
        report them as failed checks).

    Returns
    -------
    Journey
        The validated tables (``events``, ``customers``, ...), the settings and the checks.

    Raises
    ------
    JourneyDataError
        When a source cannot be read or (with ``strict``) a rule or role event matches nothing.

    Examples
    --------
    >>> import journeylib as jl
    >>> journey = jl.load_journey("sample")
    >>> journey.events.count().to_pyarrow().as_py()
    52966
    >>> journey.stages[:3], journey.segment_by, journey.touch_col
    (['awareness', 'consideration', 'cart'], 'segment', 'channel')
    """
    d = path_or_definition if isinstance(path_or_definition, JourneyDefinition) else read_journey(path_or_definition)
    shared = _shared_tables(d, con)
    if shared is None:
        return _load_tables(d, con, strict)
    con = con if con is not None else engine.default_connection()
    with shared.exclusive():
        stored = shared.read(con)
        if stored is None:
            with shared.writing_threads(con):
                journey = _load_tables(d, con, strict)
                try:
                    stored = shared.write(_tables_of(journey), _meta_of(journey), con)
                except (OSError, duckdb.Error):  # a full or read-only disk: this notebook goes on unshared
                    return journey
            return _from_shared(d, stored, strict, "materialised now, once for every report of this run", con)
    return _from_shared(d, stored, strict, "read from the copy another report of this run materialised", con)


def _shared_tables(d: JourneyDefinition, con) -> shared_tables.SharedTables | None:
    """Where a run that shares tables keeps this journey's (``None``: this load does not share)."""
    if shared_tables.folder() is None:
        return None
    digests = {src.key: _hash(src.path) for name in d.sources for src in d.sources_of(name)}
    con = con if con is not None else engine.default_connection()
    return shared_tables.SharedTables.of(digests, repr(d), con)


_JOURNEY_TABLES = ("events", "customers", "assignments", "feedback", "messages", "costs")


def _tables_of(journey: "Journey") -> dict[str, ibis.Table | None]:
    tables = {name: getattr(journey, name) for name in _JOURNEY_TABLES}
    if _messages_from_source(journey.definition):
        del tables["messages"]
    return tables


def _messages_from_source(d: JourneyDefinition) -> bool:
    """Whether the run's loads read the message log from its files, not from the shared copy.

    Only the campaigns report reads it, and it is large (at 10^8 events, 15 s to write while
    every report of the run waits). With the validation cache on, a load of the same bytes
    reuses the first load's pass and reads the files with its cleaning and no new checks.
    """
    return "messages" in d.sources and d.sources["events"].format != "orders" and validation_cache.enabled()


def _meta_of(journey: "Journey") -> dict[str, Any]:
    """What a shared copy needs besides the tables, as JSON values."""
    bounds = journey.period_bounds
    return {"inputs": [dataclasses.asdict(r) for r in journey.inputs],
            "checks": [dataclasses.asdict(c) for c in journey.checks],
            "period_bounds": None if bounds is None else [b.isoformat() for b in bounds],
            "stats": {k: _json_value(v) for k, v in journey.stats.items()}}


def _json_value(v: Any) -> Any:
    if isinstance(v, pd.DataFrame):
        return {"frame": v.to_dict(orient="list")}
    if isinstance(v, pd.Timestamp):
        return {"timestamp": v.isoformat()}
    return v


def _from_json_value(v: Any) -> Any:
    if isinstance(v, dict) and "frame" in v:
        return pd.DataFrame(v["frame"])
    if isinstance(v, dict) and "timestamp" in v:
        return pd.Timestamp(v["timestamp"])
    return v


def _from_shared(d: JourneyDefinition, stored, strict: bool, how: str, con) -> "Journey":
    """The journey over its shared tables; the definition's strict checks apply as on a fresh load."""
    tables, meta = stored
    if "messages" not in tables:  # left out of the copy (_messages_from_source): read from its files
        tables = {**tables, "messages": _read_table(d, "messages", con)[0]}
    stats = {k: _from_json_value(v) for k, v in meta["stats"].items()}
    if strict:
        for _, exc in _definition_checks(d, stats, tables["customers"]):
            if exc is not None:
                raise exc
    bounds = meta["period_bounds"]
    truth = engine.read_text(_resolve("ground_truth.json", d.folder), None)
    checks = tuple(Check(**c) for c in meta["checks"]) + (
        Check("tables: shared", "pass", f"validated and staged tables {how}"),)
    return Journey(**tables, ground_truth=json.loads(truth) if truth is not None else None, definition=d,
                   inputs=tuple(InputRecord(**r) for r in meta["inputs"]), checks=checks, folder=d.folder,
                   period_bounds=None if bounds is None else tuple(pd.Timestamp(b) for b in bounds), stats=stats)


def _load_tables(d: JourneyDefinition, con, strict: bool) -> "Journey":
    """:func:`load_journey` without sharing: read, validate, stage and profile every source."""
    extra = {}
    if d.revenue_column != "revenue":
        extra[d.revenue_column] = "revenue"
    if d.currency_column and d.currency_column != "currency":  # the loader checks that revenue is in one currency
        extra[d.currency_column] = "currency"
    if d.stage_column and d.stage_column != "stage":
        extra[d.stage_column] = "stage"
    ev, extras = _read_source(d, d.sources["events"], con, extra_columns=extra, stages=d.stages if d.stage_column else None)
    loaded = [ev]
    customers = None
    if "customers" in d.sources:
        customers = _read_source(d, d.sources["customers"], con)[0]
        loaded.append(customers)
    elif extras.get("customers") is not None:  # e.g. GA4's first traffic source per user
        src = d.sources["events"]
        customers = _with_source(load_table("customers", extras["customers"], con=con),
                                 f"{source_name(src.path)} ({src.format})", src.path)
        loaded.append(customers)
    t = ev.table
    canonical, renamed = _canonical_event(t, d)
    conds = _rule_conditions(t, d, canonical)
    flags = {f"_r{i}": c for i, c in enumerate(conds)}
    staged = t.mutate(**flags)
    if conds:
        stage = ibis.cases(*[(staged[f"_r{i}"], r.stage) for i, r in enumerate(d.rules)],
                           else_=ibis.null("string"))
        staged = staged.mutate(stage=stage)
    if renamed:
        staged = staged.mutate(source_event=staged.event, event=_canonical_event(staged, d)[0])
    if d.touch_events:
        names = list(d.touch_events)
        src_event = staged.source_event if renamed else staged.event
        staged = staged.mutate(touchpoint=ibis.ifelse(src_event.isin(names) | staged.event.isin(names),
                                                      staged.event, ibis.null("string")))
    period = _resolve_period(d, staged)
    in_period = _in_period(staged, period)
    stats = _profile(d, staged, in_period, renamed)
    keep_cols = [c for c in staged.columns if not c.startswith("_r")]
    events = staged.filter(in_period) if period is not None else staged
    events = events.select(*keep_cols)
    problems = _definition_checks(d, stats, customers)
    problems.append(_placeholder_ids(d, events, stats))
    if customers is not None:
        problems.append(_ids_match(d, events, customers.table))
    if strict:
        for chk, exc in problems:
            if exc is not None:
                raise exc
    if d.segments and customers is None:
        raise JourneyDataError(f"{d.where('segments')}: segments {list(d.segments)} need a customers table; "
                               "expected sources.customers (or no segments)")
    if customers is not None:
        for i, s in enumerate(d.segments):
            where = d.where(f'segments[{i}]') if len(d.segments) > 1 else d.where('segments')
            _refuse_personal_segment(s, where)
            if s not in customers.table.columns:
                near = _closest(s, customers.table.columns)
                raise JourneyDataError(
                    f"{where}: no column '{s}' in customers; expected one of {', '.join(customers.table.columns)}"
                    + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
            _check_segment_values(customers.table, s, where)
    if d.touch_col and not d.touch_events and d.touch_col not in events.columns:
        raise JourneyDataError(f"{d.where('touchpoints.column')}: no column '{d.touch_col}' in the events; "
                               f"expected one of {', '.join(events.columns)}")
    assignments = None
    exp = d.experiments or ({"from": "assignments"} if "assignments" in d.sources else None)
    if exp and exp["from"] == "assignments":
        a = _read_source(d, d.sources["assignments"], con)[0]
        loaded.append(a)
        assignments = a.table
        problems.append(_arms_in_events(events, assignments))
    elif exp:
        a = _assignments_from_events(d, events, con)
        loaded.append(a)
        assignments = a.table
    feedback = messages = costs = None
    if "feedback" in d.sources:
        feedback, parts = _read_table(d, "feedback", con)
        loaded += parts
    if "messages" in d.sources and d.sources["events"].format != "orders":
        messages, parts = _read_table(d, "messages", con)
        loaded += parts
    else:  # the orders reader puts its message log among the events, as a clickstream may hold its messages
        ms = _messages_from_events(d, events, stats, con)
        if ms is not None:
            loaded.append(ms)
            messages = ms.table
    if "costs" in d.sources:
        costs, parts = _read_table(d, "costs", con)
        loaded += parts
    truth = engine.read_text(_resolve("ground_truth.json", d.folder), con)
    checks = tuple(c for x in loaded for c in x.checks) + tuple(chk for chk, _ in problems) + _data_checks(d, stats)
    return Journey(events=events, customers=customers.table if customers is not None else None,
                   assignments=assignments, ground_truth=json.loads(truth) if truth is not None else None,
                   definition=d, inputs=tuple(x.input for x in loaded), checks=checks,
                   folder=d.folder, period_bounds=period, stats=stats, feedback=feedback,
                   messages=messages, costs=costs)


def _resolve_period(d: JourneyDefinition, t: ibis.Table) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if d.period is None or isinstance(d.period, tuple):
        return d.period
    last = t.aggregate(v=t.ts.max())
    value = engine.to_pandas(last.select(v=epoch_us(last, "v")))["v"].iloc[0]
    end = from_epoch_us(value) + pd.Timedelta(microseconds=1)
    return (end - pd.Timedelta(days=d.period), end)


def _in_period(t: ibis.Table, period) -> ibis.Value:
    if period is None:  # a column (not a scalar), so it aggregates and groups like a bound
        return t.ts.notnull()
    return (t.ts >= utc_literal(period[0])) & (t.ts < utc_literal(period[1]))


def _profile(d: JourneyDefinition, t: ibis.Table, in_period: ibis.Value, renamed: bool) -> dict:
    """Every number of the check table, in two queries: one grouping by event name (and the few flags
    the totals need, so every total is a sum over its groups) and one grouping by customer."""
    n_rules = len(d.rules)
    src = t.source_event if renamed else t.event
    channel = t.channel.cast("string") if "channel" in t.columns else ibis.null("string")
    touch = "touchpoint" if d.touch_events else d.touch_col
    has_touch = bool(touch and touch in t.columns)
    # a rule's condition can be NULL (a condition on an empty column): it does not match, as in the CASE
    # that assigns the stage
    flags = {f"_m{i}": t[f"_r{i}"].fill_null(False) for i in range(n_rules)}
    tagged = t.mutate(_name=src, _in=in_period, _staged=t.stage.notnull(), _channel=channel,
                      _touch=t[touch].notnull() if has_touch else ibis.literal(False), **flags)
    keys = ["_name", "event", "_in", "_staged", "_channel", "stage", "_touch", *flags]
    groups = engine.to_pandas(tagged.group_by(keys).aggregate(n=tagged.count(), _first=epoch_us(tagged.ts.min()),
                                                               _last=epoch_us(tagged.ts.max())))
    n = groups["n"].astype("int64")
    inside = groups["_in"].fillna(False).astype(bool)
    names = (groups.groupby(["_name", "event", "_in", "_staged", "_channel"], dropna=False, sort=False)["n"].sum()
             .reset_index())
    for c in ("_name", "event", "_channel"):  # missing names stay None, as the engine gives them
        names[c] = names[c].astype(object).where(names[c].notna(), None)
    matched, won, prev = [], [], pd.Series(False, index=groups.index)
    for i in range(n_rules):
        c = groups[f"_m{i}"].astype(bool)
        matched.append(int(n[c].sum()))
        won.append(int(n[c & ~prev].sum()))
        prev = prev | c
    first, last = groups["_first"].min(), groups["_last"].max()
    # every distinct-customer count from one grouping by customer: a distinct count per stage
    # and three more over the whole log took two passes (12 s at 10^8 events against 6 s)
    kept = t.filter(in_period)
    own = ~kept.event.isin(list(OUTBOUND_EVENTS))
    per = kept.group_by("customer_id").aggregate(
        customers=own.any(), staged=(own & kept.stage.notnull()).any(), unstaged=(own & kept.stage.isnull()).any(),
        **{f"stage_{i}": (kept.stage == s).fill_null(False).any() for i, s in enumerate(d.stages)},
        _own=own.cast("int64").sum())
    sums = {k: per[k].cast("int64").sum() for k in per.columns[1:] if k != "_own"}
    sums["placeholders"] = per.customer_id.cast("string").lower().isin(list(PLACEHOLDER_IDS)).cast("int64").sum()
    sums |= {"own_events": per._own.sum(), "top_events": per._own.max()}
    row = engine.to_pandas(per.aggregate(**sums, top_customer=per.customer_id.cast("string").argmax(per._own))).iloc[0]
    top_customer = row.pop("top_customer")
    cust = pd.to_numeric(row).fillna(0).astype("int64")  # sums over no customers are NULL
    stages = pd.DataFrame({"stage": list(d.stages),
                           "events": [int(n[inside & (groups["stage"] == s)].sum()) for s in d.stages],
                           "customers": [int(cust[f"stage_{i}"]) for i in range(len(d.stages))]})
    stages = stages[stages["events"] > 0].reset_index(drop=True)
    return {
        "n_all": int(n.sum()), "n_in": int(n[inside].sum()),
        "first": None if pd.isna(first) else from_epoch_us(first), "last": None if pd.isna(last) else from_epoch_us(last),
        "matched": matched, "won": won,
        "n_touch": int(n[inside & groups["_touch"].astype(bool)].sum()),
        "names": names, "stages": stages,
        "customers": int(cust["customers"]), "staged_customers": int(cust["staged"]),
        "unstaged_customers": int(cust["unstaged"]), "placeholder_customers": int(cust["placeholders"]),
        "own_events": int(cust["own_events"]), "top_events": int(cust["top_events"]),
        "top_customer": None if pd.isna(top_customer) else str(top_customer),
    }


def _placeholder_ids(d: JourneyDefinition, events: ibis.Table, stats: dict) -> tuple[Check, JourneyDataError | None]:
    """Events whose customer id is a placeholder (``NULL``, ``N/A``, ``(not set)``): one customer each, holding
    every anonymous visitor's events, would pass for the most active customer of the log."""
    name = "events: customer ids"
    if not stats.get("placeholder_customers"):
        return Check(name, "pass", "no placeholder (NULL, N/A, (not set)) among the customer ids"), None
    ids = events.customer_id.cast("string")
    bad = events.filter(ids.lower().isin(list(PLACEHOLDER_IDS)))
    counts = engine.to_pandas(bad.group_by(v=bad.customer_id.cast("string")).aggregate(n=bad.count())
                              .order_by(ibis.desc("n")))
    listed = ", ".join(f"'{v}' ({int(n):,} event{'s' if n != 1 else ''})"
                       for v, n in zip(counts["v"].head(6), counts["n"].head(6)))
    detail = f"{int(counts['n'].sum()):,} events have a placeholder for their customer id: {listed}"
    msg = (f"{d.where('sources.events')}: {detail}; expected a customer id: each placeholder would be read as one "
           "customer with every anonymous visitor's events\nWhat to do: drop those rows from the export (visits "
           "no customer can be tied to), or fill in the ids")
    return Check(name, "fail", detail), JourneyDataError(msg)


def _arms_in_events(events: ibis.Table, assignments: ibis.Table) -> tuple[Check, None]:
    """Whether each experiment arm's customers are in the event log (:mod:`journeylib.core.arms`): a failed
    check, not an error (the other experiments are sound), so every report shows it."""
    return arms.arm_check(arms.arm_coverage(assignments, events)), None


ID_SAMPLE = 1_000
"""Customers of the first events looked up in the customers table (a look-up of a thousand ids reads the
customers table once, where matching every customer would join two tables of millions)."""


def _ids_match(d: JourneyDefinition, events: ibis.Table, customers: ibis.Table) -> tuple[Check, JourneyDataError | None]:
    """Whether the events' customers are found in the customers table: ids written two ways (``00042`` and
    ``42``, ``42`` and ``42.0``) match no one, and every segment and attribute would be unknown."""
    name = "customers: ids match the events"
    first = events.limit(20 * ID_SAMPLE)
    ev = engine.to_pandas(first.select(v=first.customer_id.cast("string")).distinct().limit(ID_SAMPLE))["v"]
    if ev.empty:
        return Check(name, "pass", "no events to look up"), None
    found = customers.filter(customers.customer_id.cast("string").isin(ev.tolist()))
    n_found = int(found.count().to_pyarrow().as_py())
    share = n_found / len(ev)
    if share >= 0.5:
        return Check(name, "pass",
                     f"{n_found:,} of {len(ev):,} customers of the first events are in the customers table"), None
    theirs = engine.to_pandas(customers.limit(5).select(v=customers.customer_id.cast("string")))["v"]
    hint = ""
    if any(str(v).endswith(".0") for v in theirs) or any(str(v).endswith(".0") for v in ev.head(50)):
        hint = " One file writes the ids as decimals (42.0): read that column as text, or as whole numbers."
    elif any(str(v).lstrip("0") != str(v) for v in ev.head(50)) or any(str(v).lstrip("0") != str(v) for v in theirs):
        hint = " One file's ids start with zeros the other's lack (00042 and 42): a spreadsheet read them as numbers."
    shapes = lambda ids: ", ".join(dict.fromkeys(_id_shape(v) for v in ids[:3]))  # noqa: E731
    detail = (f"{n_found:,} of {len(ev):,} customers of the first events are in the customers table (the events' "
              f"ids are written like {shapes(list(ev))}, the customers' like {shapes(list(theirs))}; # is a digit)")
    if n_found == 0:
        msg = (f"{d.where('sources.customers')}: none of the events' customers is in the customers table: {detail}; "
               "expected the same customer_id in both, so that segments and attributes reach the events.\nWhat to "
               "do: write the ids the same way in both exports." + hint)
        return Check(name, "fail", detail + hint), JourneyDataError(msg)
    return Check(name, "warn",
                 f"{detail}: the others' segments and attributes are unknown.{hint}"), None


def _id_shape(value: object) -> str:
    """An id's form without the id: digits as ``#`` (leading zeros and a trailing ``.0`` kept), letters as ``a``
    or ``A`` (``00042`` -> ``000##``, ``42.0`` -> ``##.0``, ``C-17`` -> ``A-##``)."""
    text = str(value)
    tail = ".0" if text.endswith(".0") and text[:-2].isdigit() else ""
    body = text[:len(text) - len(tail)]
    zeros = len(body) - len(body.lstrip("0")) if body.isdigit() and len(body) > 1 else 0
    masked = "".join("#" if ch.isdigit() else "A" if ch.isupper() else "a" if ch.isalpha() else ch
                     for ch in body[zeros:])
    return "0" * zeros + masked + tail


def _definition_checks(d: JourneyDefinition, s: dict, customers) -> list[tuple[Check, JourneyDataError | None]]:
    """Rules that match nothing and role events that never occur: a fail check and its error."""
    out: list[tuple[Check, JourneyDataError | None]] = []
    names = s["names"]
    counts = names.groupby("_name")["n"].sum()
    top = ", ".join(f"{k} ({v:,})" for k, v in counts.sort_values(ascending=False).head(8).items())
    for r, matched, won in zip(d.rules, s["matched"], s["won"]):
        label = f"stage rule {r.key}: {r.describe()}"
        if matched == 0:
            msg = (f"{d.where(r.key)}: the rule ({r.describe()}) matches no event; expected at least one "
                   f"matching event. The most frequent events are: {top}")
            out.append((Check(label, "fail", "matches no event"), JourneyDataError(msg)))
        elif won == 0:
            out.append((Check(label, "warn", f"matches {matched:,} events, all taken by earlier rules"), None))
        else:
            out.append((Check(label, "pass", f"assigns {won:,} events"), None))
    for role, role_names in d.roles.items():
        for j, n in enumerate(role_names):
            key = f"events.{role}" + (f"[{j}]" if f"events.{role}[{j}]" in d.lines else "")
            if n not in counts.index or counts[n] == 0:
                near = _closest(n, counts.index)
                msg = (f"{d.where(key)}: the {role} event '{n}' never occurs in the events; expected an event "
                       f"name of the data: {top}" + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
                out.append((Check(f"role event {role}: {n}", "fail", "never occurs"), JourneyDataError(msg)))
            else:
                out.append((Check(f"role event {role}: {n}", "pass", f"{int(counts[n]):,} events"), None))
    canonical = names.groupby("event")["n"].sum()
    for kind, kind_names in d.outcomes.items():
        for n in kind_names:
            n_events = int(counts.get(n, 0)) or int(canonical.get(n, 0))
            if n_events:
                out.append((Check(f"outcome event {kind}: {n}", "pass", f"{n_events:,} events"), None))
            else:
                near = _closest(n, counts.index)
                out.append((Check(f"outcome event {kind}: {n}", "warn",
                                  f"{d.where(f'outcomes.{kind}')}: '{n}' never occurs, so no customer leaves by "
                                  f"{kind}; the log's events are: {top}" + (f" (did you mean '{near}'?)" if near
                                                                            else "")), None))
    if s["n_in"] == 0 and s["n_all"]:
        msg = (f"{d.where('period')}: no event lies in the period; expected a period overlapping the events "
               f"({s['first']:%Y-%m-%d} to {s['last']:%Y-%m-%d})")
        out.append((Check("period", "fail", "no event in the period"), JourneyDataError(msg)))
    return out


def _unmatched(d: JourneyDefinition, s: dict) -> pd.Series:
    n = s["names"]
    sel = n[n["_in"] & ~n["_staged"] & ~n["event"].isin(list(OUTBOUND_EVENTS))]
    return sel.groupby("_name")["n"].sum().sort_values(ascending=False)


def _data_checks(d: JourneyDefinition, s: dict) -> tuple[Check, ...]:
    out = []
    un = _unmatched(d, s)
    total = un.sum()
    what = "no stage rule" if d.rules else "no stage"
    if total:
        out.append(Check("events without a stage", "warn",
                         f"{total:,} of {s['n_in']:,} events match {what}: {_top(un)}"))
    else:
        out.append(Check("events without a stage", "pass", "every customer event has a stage"))
    if d.period is not None:
        dropped = s["n_all"] - s["n_in"]
        out.append(Check("period", "pass", f"{dropped:,} of {s['n_all']:,} events outside the period dropped"))
    if not s["n_touch"]:
        out.append(Check("touchpoints", "warn", _no_touch_text(d)))
    out.append(_crowd_check(s))
    for what, col, fix in (("event names", "event", "name every spelling where journey.yml names the event "
                            "(events.purchase: [purchase, Purchase]; a stage rule's events)"),
                           ("channels", "_channel", "write each channel one way in the export")):
        spelt = _spellings(s["names"], col)
        if spelt:
            out.append(Check(f"{what}: one spelling each", "warn",
                             f"{what} that differ only in case or spaces are counted apart: {'; '.join(spelt[:4])}"
                             f"{'; ...' if len(spelt) > 4 else ''}. What to do: {fix}"))
    return tuple(out)


CROWD_SHARE = 0.01
"""One customer id holding this share of the customers' own events, and ..."""
CROWD_TIMES = 100
"""... this many times the average customer's, is probably an id that many visitors share."""


def _crowd_check(s: dict) -> Check:
    """One customer id with a crowd's events: an id exports write for everyone they cannot name (``0``, ``-1``,
    a default account) that is not a known placeholder reads as one customer with all their events."""
    name = "events: no customer id holds a crowd's events"
    top, total, n = s.get("top_events"), s.get("own_events"), s.get("customers")
    if not (top and total and n):  # a shared copy made before the check existed, or no customer events
        return Check(name, "pass", "no customer events to compare")
    times = top / (total / n)
    if top < CROWD_SHARE * total or times < CROWD_TIMES:
        return Check(name, "pass", f"the most active customer has {format_count(top)} of {format_count(total)} "
                                   f"customer events ({times:,.0f} times the average customer)")
    # no pseudonym: the text is kept with a run's shared copy, and each report has its own pseudonyms
    who = f", '{s['top_customer']}'," if privacy.show_ids() else " (hidden: ids are pseudonymised in reports)"
    return Check(name, "warn", f"one customer id{who} holds {top / total:.1%} of the customers' own events "
                               f"({format_count(top)} of {format_count(total)}, {times:,.0f} times the average "
                               "customer). An id an export writes for everyone it cannot name (0, -1, a default "
                               "account) reads as one customer with all their events, and every per-customer "
                               "figure counts them as one. What to do: if it is such an id, drop its rows from the "
                               "export; a real customer this active (a reseller, a test account) may also be "
                               "worth leaving out")


def _spellings(names: pd.DataFrame, col: str) -> list[str]:
    """Values of ``col`` written several ways (``Purchase``, ``purchase ``), with their event counts, one text
    per value: ``'purchase ' (280), 'Purchase' (250), 'purchase' (260)``."""
    if col not in names.columns:  # a shared copy made before channels were counted
        return []
    counts = names.dropna(subset=[col]).groupby(col)["n"].sum()
    key = counts.index.to_series().astype(str).str.strip().str.casefold()
    return [", ".join(f"'{v}' ({int(n):,})" for v, n in g.items())
            for _, g in counts.groupby(key.to_numpy(), sort=True) if len(g) > 1]


def _no_touch_text(d: JourneyDefinition) -> str:
    col = d.touch_col if not d.touch_events else "touchpoint"
    return (f"the events have no touchpoints (column '{col}' is empty): attribution cannot credit channels; "
            "funnels, paths, retention and experiments are unaffected. Name touchpoint events in "
            "touchpoints.events (e.g. email_click, ad_click) or map a channel column")


def _top(counts: pd.Series, k: int = 5) -> str:
    items = [f"{name} ({int(n):,})" for name, n in counts.head(k).items()]
    more = len(counts) - k
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


# --- segments ----------------------------------------------------------------------------

def _refuse_personal_segment(column: str, where: str) -> None:
    if is_personal_detail(column):
        raise JourneyParameterError(
            f"{where}: '{column}' holds personal details (an id, a name or contact details); expected a column "
            "that splits customers into a few groups, as every report shows a segment's values\nWhat to "
            "do: name a column such as a customer type, country or plan")


def _check_segment_values(customers: ibis.Table, column: str, where: str) -> None:
    """A segment's values are a few groups, none of them a person's contact detail: every report shows
    each segment's name and numbers."""
    col = customers[column]
    values = engine.to_pandas(customers.filter(col.notnull()).select(v=col).distinct().limit(MAX_SEGMENT_GROUPS + 1))
    if len(values) > MAX_SEGMENT_GROUPS:
        n = int(col.nunique().to_pyarrow().as_py())
        raise JourneyParameterError(
            f"{where}: '{column}' has {n:,} different values; expected at most {MAX_SEGMENT_GROUPS} groups, "
            "as a report compares every segment with the others and shows each one's numbers\nWhat to do: "
            "add a column that groups these values (a region for postal codes, a plan for product codes) and "
            "split by it instead")
    kind = personal_values(values["v"])
    if kind:
        raise JourneyParameterError(
            f"{where}: '{column}' holds {kind}; expected a column that splits customers into a few groups, as "
            "every report shows a segment's values\nWhat to do: name a column such as a customer type, country "
            "or plan")


# --- the result ------------------------------------------------------------------------

SUMMARY_COLUMNS = ("item", "events", "customers", "detail")


@dataclass(frozen=True)
class Journey(Result):
    """A loaded journey: validated tables and the settings every analysis accepts.

    Has the attributes of :class:`journeylib.simulate.Dataset` (``events``, ``customers``,
    ``assignments``, ``ground_truth``, ``inputs``, ``checks``, ``folder``), so a notebook can
    use either and ``jl.record(journey)`` lists its inputs and checks. ``summary`` is the
    check table of ``journeylib check``. ``feedback``: the validated feedback table of the
    definition's ``sources.feedback`` (surveys, reviews, NPS), or ``None``; ``messages``: the
    validated message log of ``sources.messages`` (send/open/click per campaign), or ``None``;
    ``costs``: the validated cost table of ``sources.costs`` (``channel, period, spend, campaign``:
    marketing spend per channel and month or day, see :func:`journeylib.core.load.load_costs`), or ``None``.

    Examples
    --------
    >>> import journeylib as jl
    >>> journey = jl.load_journey("sample")
    >>> journey.name
    'Simulated shop (sample data)'
    >>> journey.summary[["item", "events", "customers"]].head(3)
                item  events  customers
    0      awareness    7770       5000
    1  consideration   24700       3186
    2           cart    9425       1913
    """

    events: ibis.Table
    customers: ibis.Table | None
    assignments: ibis.Table | None
    ground_truth: dict[str, Any] | None
    definition: JourneyDefinition
    inputs: tuple[InputRecord, ...] = field(default=(), repr=False)
    checks: tuple[Check, ...] = field(default=(), repr=False)
    folder: Path | str | None = None
    period_bounds: tuple[pd.Timestamp, pd.Timestamp] | None = field(default=None, repr=False)
    stats: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    feedback: ibis.Table | None = field(default=None, repr=False)
    messages: ibis.Table | None = field(default=None, repr=False)
    costs: ibis.Table | None = field(default=None, repr=False)

    @property
    def stages(self) -> list[str]:
        """Stage order (a list, as the analyses' ``stages=`` take it)."""
        return list(self.definition.stages)

    @property
    def segment_by(self) -> str | None:
        """The default segment split: the first of ``segments`` (``None`` without segments)."""
        return self.definition.segments[0] if self.definition.segments else None

    def segment(self, choice: str = "") -> str:
        """The customers column a report splits by, checked: ``""`` for no split.

        Parameters
        ----------
        choice
            A report's ``segment_by``: ``""`` for the definition's first segment (no split
            without segments), ``"none"`` for no split, else a customers column.

        Returns
        -------
        str
            The column, or ``""``.

        Raises
        ------
        JourneyParameterError
            No customers table, no such column, a column of personal details, or one with more
            than :data:`MAX_SEGMENT_GROUPS` values (the message says what to do).

        Examples
        --------
        >>> import journeylib as jl
        >>> journey = jl.load_journey("sample")
        >>> journey.segment(), journey.segment("none"), journey.segment("acquisition_channel")
        ('segment', '', 'acquisition_channel')
        """
        column = {"": self.segment_by or "", "none": ""}.get(str(choice).strip(), str(choice).strip())
        if not column:
            return ""
        where = (self.definition.where("segments") if column == self.segment_by and not str(choice).strip()
                 else f"segment_by '{column}'")
        if self.customers is None:
            raise JourneyParameterError(f"{where}: a split by segment needs the customers table; expected "
                                        "sources.customers in journey.yml\nWhat to do: add the customers "
                                        "export, or set segment_by to none")
        _refuse_personal_segment(column, where)
        cu = self.customers
        if column not in cu.columns or column == "customer_id":
            near = _closest(column, [c for c in cu.columns if c != "customer_id"])
            raise JourneyParameterError(
                f"{where}: no column '{column}' in customers; expected one of "
                f"{', '.join(c for c in cu.columns if c != 'customer_id')}"
                + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
        _check_segment_values(cu, column, where)
        return column

    @property
    def outcomes(self) -> dict[str, tuple[str, ...]]:
        """Exit type -> outcome event names of the definition's ``outcomes`` (empty when none are named)."""
        return dict(self.definition.outcomes)

    @property
    def touch_col(self) -> str | None:
        """The touchpoint column for attribution; ``None`` when the events have no touchpoints."""
        return (self.definition.touch_col or None) if self.stats.get("n_touch") else None

    @property
    def name(self) -> str:
        return self.definition.name

    def plot(self, ax=None):
        """Events per stage and the events no rule placed (see :func:`journeylib.core.plots.plot_journey_check`)."""
        from .plots import plot_journey_check

        return plot_journey_check(self, ax=ax)

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """``(start, end)`` of the analysis period (UTC, end exclusive; ``last_days`` resolved)."""
        return self.period_bounds

    @property
    def caption(self) -> dict[str, Any]:
        """The report's data caption: ``{"name", "simulated", "period_start", "period_end",
        "customers", "events"}``; ``name`` is the journey's name (else its folder's name, never
        a path), ``simulated`` is true for simulated data (it carries planted truth), the period
        is the analysis period (else the first and last event), as ``YYYY-MM-DD``."""
        s = self.stats
        if self.period_bounds is not None:
            start, end = self.period_bounds[0], self.period_bounds[1] - pd.Timedelta(microseconds=1)
            if s.get("first") is not None:
                start = max(start, s["first"])
            if s.get("last") is not None:
                end = min(end, s["last"])
        else:
            start, end = s.get("first"), s.get("last")
        folder = str(self.folder or self.definition.folder or "").rstrip("/\\")
        name = self.name or folder.replace("\\", "/").rsplit("/", 1)[-1] or "journey"
        return {"name": str(name), "simulated": self.ground_truth is not None,
                "period_start": None if start is None else f"{start:%Y-%m-%d}",
                "period_end": None if end is None else f"{end:%Y-%m-%d}",
                "customers": int(s.get("customers") or 0), "events": int(s.get("n_in") or 0)}

    @property
    def summary(self) -> pd.DataFrame:
        s, d = self.stats, self.definition
        rows = []
        st = s["stages"].set_index("stage", drop=False) if len(s["stages"]) else s["stages"]
        for stage in d.stages:
            if stage in st.index:
                rows.append((stage, int(st.loc[stage, "events"]), int(st.loc[stage, "customers"]), ""))
            else:
                rows.append((stage, 0, 0, "no event has this stage"))
        un = _unmatched(d, s)
        names = s["names"]
        nostage = names[names["_in"] & ~names["_staged"]]
        outbound = nostage[nostage["event"].isin(list(OUTBOUND_EVENTS))]
        label = "no stage (no rule matched)" if d.rules else "no stage"
        rows.append((label, int(un.sum()), s["unstaged_customers"], _top(un, 8) if len(un) else ""))
        if len(outbound):
            rows.append(("outbound messages (not staged)", int(outbound["n"].sum()), pd.NA,
                         ", ".join(sorted(set(outbound["_name"])))))
        rows.append(("customers with no staged event", pd.NA, s["customers"] - s["staged_customers"],
                     f"of {s['customers']:,} customers"))
        span = f"{_day(s['first'])} to {_day(s['last'])}"
        if self.period_bounds is not None:
            p0, p1 = self.period_bounds
            span += f"; period {_day(p0)} to {_day(p1 - pd.Timedelta(microseconds=1))}"
        rows.append(("time range", s["n_in"], s["customers"], span))
        if self.period_bounds is not None:
            rows.append(("outside the period (dropped)", s["n_all"] - s["n_in"], pd.NA, ""))
        dup = sum(r.duplicates_dropped for r in self.inputs if r.table == "events")
        fut = sum(r.future_rows for r in self.inputs if r.table == "events")
        rows.append(("duplicate events (dropped)", dup, pd.NA, ""))
        rows.append(("future events", fut, pd.NA, "timestamps after tomorrow: check the time zone" if fut else ""))
        out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
        out["events"] = out["events"].astype("Int64")
        out["customers"] = out["customers"].astype("Int64")
        return out

    @property
    def findings(self) -> tuple[Finding, ...]:
        s, d = self.stats, self.definition
        out = []
        un = _unmatched(d, s)
        if s["n_in"] and un.sum():
            share = un.sum() / s["n_in"]
            what = "match no stage rule" if d.rules else "have no stage"
            out.append(Finding(f"{share:.0%} of events {what}: {_top(un)}.", value=float(share),
                               action="Add stage rules for them if they belong to a stage." if d.rules
                               else "Give them a stage if they belong to one."))
        if s["customers"]:
            n = s["customers"] - s["staged_customers"]
            if n:
                out.append(Finding(f"{n / s['customers']:.0%} of customers ({n:,} of {s['customers']:,}) "
                                   "have no event with a stage, so funnels do not count them.",
                                   value=n / s["customers"]))
        if not s["n_touch"]:
            out.append(Finding("The events carry no touchpoints, so attribution cannot say which channels "
                               "bring conversions; funnels, paths, retention and experiments are unaffected.",
                               action="Map a channel column or list the touchpoint events in the journey file."))
        if self.period_bounds is not None and s["n_all"] > s["n_in"]:
            p0, p1 = self.period_bounds
            out.append(Finding(f"The analysis period {_day(p0)} to {_day(p1 - pd.Timedelta(microseconds=1))} "
                               f"keeps {s['n_in']:,} of {s['n_all']:,} events.", value=float(s["n_in"])))
        return tuple(out[:4])

    def _repr_html_(self) -> str:
        return f"<h4>{_escape(self.name)}</h4>" + super()._repr_html_()


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))


def _day(ts: pd.Timestamp | None) -> str:
    return "?" if ts is None else f"{ts:%Y-%m-%d}"


MESSAGE_ACTION_OF = {MESSAGE_SENT_EVENT: "send", MESSAGE_OPEN_EVENT: "open", MESSAGE_CLICK_EVENT: "click"}
"""The message log's action of each message event (the events' roles ``message_sent``, ``message_open`` and
``message_click``)."""
NOT_SET = "(not set)"
"""The campaign or channel of a message event that names none."""


def _messages_from_events(d: JourneyDefinition, events: ibis.Table, stats: dict, con) -> Loaded | None:
    """The message log of the events with a message role, when the definition gives no message log:
    the campaign from ``events.campaign_column`` (else a ``campaign`` column), the channel from the
    touchpoint column; ``None`` when no event in the period has a message role."""
    names = stats["names"]
    if not names.loc[names["event"].isin(list(MESSAGE_ACTION_OF)) & names["_in"].astype(bool), "n"].sum():
        return None
    col = d.campaign_column
    if col and col not in events.columns:
        near = _closest(col, events.columns)
        raise JourneyDataError(f"{d.where('events.campaign_column')}: no column '{col}' in the events; expected one "
                               f"of {', '.join(events.columns)}" + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
    t = events.filter(events.event.isin(list(MESSAGE_ACTION_OF)))

    def named(column: str | None) -> ibis.Value:
        if not column or column not in t.columns:
            return ibis.literal(NOT_SET)
        text = t[column].cast("string").strip()
        return ibis.ifelse(text.isnull() | (text == ""), NOT_SET, text)

    action = ibis.cases(*[(t.event == e, a) for e, a in MESSAGE_ACTION_OF.items()])
    log = t.select(customer_id=t.customer_id, ts=t.ts, campaign=named(col or "campaign"),
                   channel=named(d.touch_col if not d.touch_events else None), action=action)
    loaded = load_table("messages", log, con=con)
    record = dataclasses.replace(loaded.input, source=f"{source_name(d.sources['events'].path)} (message events)")
    return Loaded(loaded.table, record, loaded.checks)


def _assignments_from_events(d: JourneyDefinition, events: ibis.Table, con) -> Loaded:
    """Assignments at each customer's first exposure (``experiments.from: events``)."""
    ex = d.experiments
    for k in ("experiment_column", "variant_column"):
        col = ex.get(k)
        if col and col not in events.columns:
            near = _closest(col, events.columns)
            raise JourneyDataError(f"{d.where(f'experiments.{k}')}: no column '{col}' in the events; expected "
                                   f"one of {', '.join(events.columns)}"
                                   + (f"\nWhat to do: did you mean '{near}'?" if near else ""))
    t = events
    if ex.get("event"):
        src = t.source_event if "source_event" in t.columns else t.event
        t = t.filter(src == ex["event"])
    variant = t[ex["variant_column"]].cast("string")
    experiment = t[ex["experiment_column"]].cast("string") if ex.get("experiment_column") else \
        ibis.literal(ex["experiment"])
    t = t.select(customer_id=t.customer_id, experiment=experiment, variant=variant, ts=t.ts)
    t = t.filter(t.variant.notnull() & t.experiment.notnull())
    # each variant's first exposure (repeated exposure events are no duplicate rows to warn about)
    t = t.group_by(["customer_id", "experiment", "variant"]).aggregate(assigned_at=t.ts.min())
    if not int(t.limit(1).count().execute()):
        raise JourneyDataError(f"{d.where('experiments.event')}: no exposure event with a variant; expected "
                               f"events named {ex.get('event')!r} with {ex['variant_column']} set")
    # the loader takes each customer's first exposure, and leaves out customers seen in two variants
    loaded = load_table("assignments", t, con=con)
    record = dataclasses.replace(loaded.input, source=f"{source_name(d.sources['events'].path)} (exposures)")
    return Loaded(loaded.table, record, loaded.checks)
