"""Load and validate the canonical tables: events, customers, assignments, feedback, messages, costs.

Loaders accept a CSV/Parquet path (or glob), a pandas DataFrame or an Ibis table,
rename the user's columns with ``columns={"their_name": "canonical_name"}``, check
every column in one engine pass and return an Ibis table in the canonical schema.
Problems raise :class:`journeylib.core.errors.JourneyDataError` naming the column, the
number of failing rows, up to five of them, and what was expected. Files whose exact
bytes already passed are not checked again (:mod:`journeylib.core.validation_cache`).

The loaders write nothing global: :func:`load_table` returns the table together with
what the report's health panel shows about it (an :class:`InputRecord`: source, rows,
content hash, how it was validated) and the checks it passed or warned about;
:func:`journeylib.simulate.load_dataset` keeps both on the ``Dataset`` and a notebook
hands them to :func:`journeylib.record`.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from . import engine, shared_tables, validation_cache
from .errors import JourneyDataError, JourneyDataWarning, JourneyParameterError, data_error
from .locations import DATA_DIR
from .result import Check
from .schema import (AMOUNT_COLUMNS, ASSIGNMENTS_REQUIRED, COMMA_AMOUNT, COSTS_OPTIONAL, COSTS_REQUIRED,
                     CUSTOMERS_REQUIRED, EVENTS_OPTIONAL, EVENTS_REQUIRED, FEEDBACK_KINDS, FEEDBACK_OPTIONAL,
                     FEEDBACK_REQUIRED, MESSAGE_ACTION_NAMES, MESSAGE_ACTIONS, MESSAGES_REQUIRED, PURCHASE_EVENT)

UTC = "timestamp('UTC')"
TABLES = ("events", "customers", "assignments", "feedback", "messages", "costs")


@dataclass(frozen=True)
class InputRecord:
    """One loaded table as the report's health panel lists it.

    ``source`` is a path (files of the bundled data relative to ``data/``, e.g.
    ``sample/events.parquet``), a URI, or ``<DataFrame>``; ``sha256`` the first 16 hex
    digits of the content hash (``"n/a"`` when there is none); ``validation`` is
    ``"checked"`` (every check ran now) or ``"reused"`` (identical bytes passed before);
    ``duplicates_dropped`` and ``future_rows`` count what the checks found.

    Attributes
    ----------
    table
        ``"events"``, ``"customers"`` or ``"assignments"``.
    source
        Where the table came from (see above).
    rows
        Rows after validation (duplicates dropped).
    sha256
        First 16 hex digits of the content hash, or ``"n/a"``.
    validation
        ``"checked"`` or ``"reused"``.
    duplicates_dropped, future_rows
        Exact duplicate rows dropped; events more than a day in the future.

    Examples
    --------
    >>> from journeylib.core.load import load_table
    >>> rec = load_table("events", "data/sample/events.parquet").input
    >>> rec.table, rec.source, rec.rows
    ('events', 'sample/events.parquet', 52966)
    """

    table: str
    source: str
    rows: int
    sha256: str
    validation: str
    duplicates_dropped: int = 0
    future_rows: int = 0


@dataclass(frozen=True)
class Loaded:
    """A validated table with its :class:`InputRecord` and the loader's checks.

    Attributes
    ----------
    table
        The validated Ibis table in the canonical schema.
    input
        What the health panel lists about it.
    checks
        The loader's checks (validated or reused, duplicates dropped, future timestamps).

    Examples
    --------
    >>> from journeylib.core.load import load_table
    >>> loaded = load_table("customers", "data/sample/customers.parquet")
    >>> [c.name for c in loaded.checks]
    ['customers: validated']
    >>> loaded.inputs == (loaded.input,)
    True
    """

    table: ibis.Table
    input: InputRecord
    checks: tuple[Check, ...] = ()

    @property
    def inputs(self) -> tuple[InputRecord, ...]:
        """``(input,)``: so :func:`journeylib.record` takes a ``Loaded`` like a ``Dataset``."""
        return (self.input,)


def load_table(
    table: str,
    source: Any,
    columns: Mapping[str, str] | None = None,
    *,
    stages: Iterable[str] | None = None,
    con: ibis.BaseBackend | None = None,
    timestamp_format: str | None = None,
) -> Loaded:
    """Load one canonical table (``"events"``, ``"customers"`` or ``"assignments"``) with its record.

    The same checks as :func:`load_events`, :func:`load_customers` and
    :func:`load_assignments` (which return only ``.table``).

    Parameters
    ----------
    table
        ``"events"``, ``"customers"`` or ``"assignments"``.
    source
        CSV or Parquet path (globs, folders and URIs allowed), pandas DataFrame or Ibis table.
    columns
        Mapping from the source's column names to canonical ones.
    stages
        Allowed stage names in journey order (events only).
    con
        Ibis connection (default: embedded DuckDB).
    timestamp_format
        strptime format of text timestamps (as in :func:`load_events`).

    Returns
    -------
    Loaded
        The validated table, its :class:`InputRecord` and the checks.

    Examples
    --------
    >>> from journeylib.core.load import load_table
    >>> loaded = load_table("assignments", "data/sample/assignments.parquet")
    >>> loaded.input.rows, loaded.table.columns
    (8289, ('customer_id', 'experiment', 'variant', 'assigned_at'))
    """
    if table == "events":
        return _events(source, columns, stages=stages, con=con, timestamp_format=timestamp_format)
    if stages is not None:
        raise JourneyParameterError(f"stages= applies to events only, not to {table!r}")
    if table == "customers":
        return _customers(source, columns, con=con, timestamp_format=timestamp_format)
    if table == "assignments":
        return _assignments(source, columns, con=con, timestamp_format=timestamp_format)
    if table == "feedback":
        return _feedback(source, columns, con=con, timestamp_format=timestamp_format)
    if table == "messages":
        return _messages(source, columns, con=con, timestamp_format=timestamp_format)
    if table == "costs":
        return _costs(source, columns, con=con, timestamp_format=timestamp_format)
    raise JourneyParameterError(f"table={table!r}; expected one of {list(TABLES)}")


def source_name(source: Any) -> str:
    """How the health panel names an input.

    Parameters
    ----------
    source
        A path, URI, DataFrame or table.

    Returns
    -------
    str
        Bundled files relative to ``data/``, other paths and URIs as given, ``<DataFrame>``
        (the type's name) for in-memory inputs.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.load import source_name
    >>> source_name("data/sample/events.parquet"), source_name(pd.DataFrame())
    ('sample/events.parquet', '<DataFrame>')
    """
    if engine.is_uri(source):
        return str(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).resolve().relative_to(DATA_DIR.resolve()).as_posix()
        except (ValueError, OSError):
            return str(source)
    return f"<{type(source).__name__}>"


def load_events(
    source: Any,
    columns: Mapping[str, str] | None = None,
    *,
    stages: Iterable[str] | None = None,
    con: ibis.BaseBackend | None = None,
    timestamp_format: str | None = None,
) -> ibis.Table:
    """Load an event log into the canonical schema.

    Parameters
    ----------
    source
        CSV or Parquet path (globs allowed), pandas DataFrame or Ibis table.
    columns
        Mapping from the source's column names to canonical ones, e.g.
        ``{"user": "customer_id", "time": "ts"}``.
    stages
        Allowed stage names in journey order; rows with another stage are an error.
    con
        Ibis connection (default: embedded DuckDB).
    timestamp_format
        strptime format of text timestamps (e.g. ``"%d/%m/%Y %H:%M"``). Without it ISO text
        is read, and day/month dates are read in the order the whole column shows (a
        number above 12 first: day-first); ``03/04/2024``-only columns need the format.

    Returns
    -------
    ibis.Table
        ``customer_id`` (string), ``ts`` (UTC timestamp), ``event`` (string),
        ``channel`` (string, nullable), ``stage`` (string, nullable),
        ``revenue`` (float, nullable, >= 0), plus any extra source columns.
        Exact duplicate rows are dropped with a :class:`JourneyDataWarning`.
        CSV columns are read as text and typed by role: ids and names stay text as
        written (``007``, ``1E5``, ``1.10``), timestamps and revenue are parsed over every
        row (a bad value names its column, line and value); other CSV columns become
        whole numbers, numbers or booleans when every value of the column is one.

    Examples
    --------
    Your own column names, mapped to the canonical ones:

    >>> import pandas as pd
    >>> import journeylib as jl
    >>> raw = pd.DataFrame({"user": ["u1", "u1"], "time": ["2024-05-01 10:00:00", "2024-05-03 12:00:00"],
    ...                     "event": ["landing", "purchase"], "revenue": [None, 25.0]})
    >>> events = jl.load_events(raw, columns={"user": "customer_id", "time": "ts"})
    >>> events.columns
    ('customer_id', 'ts', 'event', 'channel', 'stage', 'revenue')

    The bundled sample, with its stages declared:

    >>> stages = ["awareness", "consideration", "cart", "purchase", "repeat", "advocacy"]
    >>> jl.load_events("data/sample/events.parquet", stages=stages).count().to_pyarrow().as_py()
    52966
    """
    return _events(source, columns, stages=stages, con=con, timestamp_format=timestamp_format).table


def _events(source, columns, *, stages, con, timestamp_format=None) -> Loaded:
    if isinstance(stages, str):
        raise JourneyParameterError(f"stages={stages!r}; expected a list of stage names, e.g. [{stages!r}, ...]")
    t, src = _prepare(source, columns, EVENTS_REQUIRED, "events", con)
    had_revenue = "revenue" in t.columns
    for col in EVENTS_OPTIONAL:
        if col not in t.columns:
            t = t.mutate(**{col: ibis.null("float64" if col == "revenue" else "string")})

    def build(formats):
        return {
            "customer_id": _id_check(t, "customer_id"),
            "ts": _timestamp_check(t, "ts", "events", fmt=formats.get("ts")),
            "event": _text_check(t, "event", nullable=False),
            "channel": _text_check(t, "channel", nullable=True),
            "stage": _text_check(t, "stage", nullable=True, allowed=stages),
            "revenue": _revenue_check(t),
        }

    allowed = None if stages is None else sorted(set(stages))
    digest, ck = _cache_key(source, t, "events", columns, timestamp_format)
    notes: list[Check] = []
    n_future = 0
    with validation_cache.exclusive(ck):
        known = _reuse(ck, "events", digest, notes, stages=allowed)
        if known is None:
            now = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)

            def extra(checks):
                out = {"future": (checks["ts"][0] > ibis.literal(now.to_pydatetime())).cast("int64").sum(),
                       "hashes": _distinct_row_hashes(t, checks)}
                if had_revenue:
                    out["unpriced"] = ((checks["event"][0] == PURCHASE_EVENT)
                                       & checks["revenue"][0].isnull()).cast("int64").sum()
                    out |= {f"{k}_{end}": v for k, v in _currencies(t, checks).items()
                            for end, v in (("lo", v.min()), ("hi", v.max()))}
                return out

            formats = {"ts": timestamp_format} if timestamp_format else {}
            raw, currencies = t, (_currencies(t, build(formats)) if had_revenue else {})
            t, n, extra_v, unchanged, formats, types = _run_checks(t, build, "events", extra=extra, src=src,
                                                                     formats=formats, declared=bool(timestamp_format))
            _one_currency(raw, currencies, extra_v, src)
            n_future = int(extra_v["future"])
            _warn_future(n_future, now, notes)
            _warn_unpriced(int(extra_v.get("unpriced", 0)), n, notes)
            t, n_unique, dup_ids = _drop_duplicates(t, "events", n, int(extra_v["hashes"]), notes)
            if dup_ids is not None and not n_future:  # later there are fewer future rows, never more
                validation_cache.remember(ck, str(source), rows=n_unique, unchanged=unchanged,
                                          dropped=n - n_unique, duplicate_customers=dup_ids,
                                          allowed_stages=allowed, formats=formats, types=types,
                                          unpriced=int(extra_v.get("unpriced", 0)))
            dropped, n = n - n_unique, n_unique
            if n_future:  # a clock or zone error: kept, they would set the end of observation years ahead
                t = t.filter(t.ts <= ibis.literal(now.to_pydatetime()).cast(UTC))
                n -= n_future
            _checked("events", n, notes)
        else:
            t, n, dropped = _as_validated(t, build(known.get("formats", {})), known, "events", notes)
            _warn_unpriced(int(known.get("unpriced", 0)), n, notes)
    t = t.select(*EVENTS_REQUIRED, *EVENTS_OPTIONAL, *[c for c in t.columns if c not in EVENTS_REQUIRED + EVENTS_OPTIONAL])
    return _loaded(t, "events", source, n, digest, known, notes, dropped=dropped, future=n_future)


def load_customers(source: Any, columns: Mapping[str, str] | None = None, *,
                   con: ibis.BaseBackend | None = None, timestamp_format: str | None = None) -> ibis.Table:
    """Load per-customer attributes (``customer_id`` plus any columns).

    ``customer_id`` must be unique. Columns ending in ``_at`` are parsed as UTC
    timestamps (e.g. ``loyalty_joined_at``; missing values allowed; ``timestamp_format``
    as in :func:`load_events`). Other columns of a CSV become whole numbers, numbers or
    booleans when every value of the column is one, else stay text. A table with
    ``loyalty_joined_at`` and no ``loyalty_member`` gets ``loyalty_member``: whether the
    customer has a join date.

    Parameters
    ----------
    source
        CSV or Parquet path (globs allowed), pandas DataFrame or Ibis table.
    columns
        Mapping from the source's column names to canonical ones, e.g. ``{"id": "customer_id"}``.
    con
        Ibis connection (default: embedded DuckDB).
    timestamp_format
        strptime format of the text ``*_at`` columns.

    Returns
    -------
    ibis.Table
        ``customer_id`` (string, unique) and the other columns.

    Examples
    --------
    >>> import journeylib as jl
    >>> customers = jl.load_customers("data/sample/customers.parquet")
    >>> customers.columns
    ('customer_id', 'segment', 'acquisition_channel', 'first_seen_at', 'loyalty_member', 'loyalty_joined_at')
    """
    return _customers(source, columns, con=con, timestamp_format=timestamp_format).table


def _customers(source, columns, *, con, timestamp_format=None) -> Loaded:
    t, src = _prepare(source, columns, CUSTOMERS_REQUIRED, "customers", con)

    def build(formats):
        checks = {"customer_id": _id_check(t, "customer_id")}
        for c in t.columns:
            if c.endswith("_at"):
                checks[c] = _timestamp_check(t, c, "customers", nullable=True, fmt=formats.get(c))
        return checks

    digest, ck = _cache_key(source, t, "customers", columns, timestamp_format)
    notes: list[Check] = []
    with validation_cache.exclusive(ck):
        known = _reuse(ck, "customers", digest, notes)
        if known is None:
            formats = {c: timestamp_format for c in t.columns if c.endswith("_at")} if timestamp_format else {}
            t, n, _, unchanged, formats, types = _run_checks(t, build, "customers", src=src, formats=formats,
                                                             declared=bool(timestamp_format))
            _check_unique(t, ["customer_id"], "customers", "one row per customer")
            validation_cache.remember(ck, str(source), rows=n, unchanged=unchanged, formats=formats, types=types)
            _checked("customers", n, notes)
        else:
            t, n, _ = _as_validated(t, build(known.get("formats", {})), known, "customers", notes)
    if "loyalty_joined_at" in t.columns and "loyalty_member" not in t.columns:  # a member is who has joined
        t = t.mutate(loyalty_member=t.loyalty_joined_at.notnull())
    return _loaded(t, "customers", source, n, digest, known, notes)


def load_assignments(source: Any, columns: Mapping[str, str] | None = None, *,
                     con: ibis.BaseBackend | None = None, timestamp_format: str | None = None) -> ibis.Table:
    """Load A/B assignments: ``customer_id, experiment, variant, assigned_at``.

    One row per customer and experiment, or an exposure log (a row per exposure, as
    GrowthBook, Optimizely or Statsig export them): the assignment is then each customer's
    first exposure. A customer exposed to more than one variant of an experiment is left out
    of it, with a :class:`journeylib.core.errors.JourneyDataWarning` and a ``warn`` check that
    count them per experiment (their outcome belongs to no one variant).

    Parameters
    ----------
    source
        CSV or Parquet path (globs allowed), pandas DataFrame or Ibis table.
    columns
        Mapping from the source's column names to canonical ones, e.g. ``{"arm": "variant"}``.
    con
        Ibis connection (default: embedded DuckDB).
    timestamp_format
        strptime format of a text ``assigned_at``.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``experiment``, ``variant`` (strings) and ``assigned_at`` (UTC timestamp).

    Examples
    --------
    >>> import journeylib as jl
    >>> assignments = jl.load_assignments("data/sample/assignments.parquet")
    >>> assignments.count().to_pyarrow().as_py()
    8289
    """
    return _assignments(source, columns, con=con, timestamp_format=timestamp_format).table


def _assignments(source, columns, *, con, timestamp_format=None) -> Loaded:
    t, src = _prepare(source, columns, ASSIGNMENTS_REQUIRED, "assignments", con)

    def build(formats):
        return {
            "customer_id": _id_check(t, "customer_id"),
            "experiment": _text_check(t, "experiment", nullable=False),
            "variant": _text_check(t, "variant", nullable=False),
            "assigned_at": _timestamp_check(t, "assigned_at", "assignments", fmt=formats.get("assigned_at")),
        }

    digest, ck = _cache_key(source, t, "assignments", columns, timestamp_format)
    notes: list[Check] = []
    with validation_cache.exclusive(ck):
        known = _reuse(ck, "assignments", digest, notes)
        if known is None:
            formats = {"assigned_at": timestamp_format} if timestamp_format else {}
            t, n, extra, unchanged, formats, types = _run_checks(
                t, build, "assignments", extra=lambda checks: {"hashes": _distinct_row_hashes(t, checks)},
                src=src, formats=formats, declared=bool(timestamp_format))
            t, n_unique, dup_ids = _drop_duplicates(t, "assignments", n, int(extra["hashes"]), notes)
            exposures = _exposures(t)
            if dup_ids is not None:
                validation_cache.remember(ck, str(source), rows=n_unique, unchanged=unchanged,
                                          dropped=n - n_unique, duplicate_customers=dup_ids,
                                          formats=formats, types=types, exposures=exposures)
            dropped, n = n - n_unique, n_unique
            _checked("assignments", n, notes)
        else:
            t, n, dropped = _as_validated(t, build(known.get("formats", {})), known, "assignments", notes)
            exposures = known.get("exposures", {})
    if exposures:
        t, n = _first_exposures(t, exposures, notes)
    return _loaded(t, "assignments", source, n, digest, known, notes, dropped=dropped)


def _exposures(t: ibis.Table) -> dict[str, dict[str, int]]:
    """Per experiment with more rows than customers (an exposure log, not one row per assignment): its
    ``customers``, ``rows`` and ``multi``, the customers seen in more than one variant; ``{}`` when every
    customer has one row per experiment."""
    g = t.group_by(["experiment", "customer_id"]).aggregate(_rows=t.count(), _variants=t.variant.nunique())
    per = g.group_by("experiment").aggregate(customers=g.count(), rows=g._rows.sum(),
                                             multi=(g._variants > 1).cast("int64").sum())
    df = engine.to_pandas(per.filter(per.rows > per.customers).order_by("experiment"))
    return {str(r.experiment): {"customers": int(r.customers), "rows": int(r.rows), "multi": int(r.multi)}
            for r in df.itertuples()}


def _first_exposures(t: ibis.Table, exposures: Mapping[str, Mapping[str, int]],
                     notes: list[Check]) -> tuple[ibis.Table, int]:
    """One assignment per customer and experiment, at the first exposure; customers exposed to more than one
    variant are left out of that experiment (their outcome belongs to no one variant), with a warning."""
    g = t.group_by(["customer_id", "experiment"]).aggregate(variant=t.variant.min(), assigned_at=t.assigned_at.min(),
                                                            _variants=t.variant.nunique())
    out = g.filter(g._variants == 1).select(*ASSIGNMENTS_REQUIRED)
    repeated = sum(e["rows"] - e["customers"] for e in exposures.values())
    multi = {k: e for k, e in exposures.items() if e["multi"]}
    notes.append(Check("assignments: repeated exposures", "pass",
                       f"{repeated:,} rows repeat a customer's experiment (an exposure log): each customer's first "
                       "exposure is the assignment"))
    broken = {k: e for k, e in multi.items() if 2 * e["multi"] > e["customers"]}
    if broken:
        k, e = next(iter(broken.items()))
        raise JourneyDataError(
            f"column 'variant' of assignments: in experiment {k!r}, {e['multi']:,} of {e['customers']:,} customers "
            "were exposed to more than one variant; expected one variant per customer and experiment (a few "
            "customers in two variants are left out, but here most are).\nWhat to do: check that the column mapped "
            "to variant holds the variant each customer was assigned, and that customer ids stay the same across "
            "exposures")
    if multi:
        shown = "; ".join(f"{k}: {e['multi']:,} of {e['customers']:,} ({e['multi'] / e['customers']:.1%})"
                          for k, e in multi.items())
        msg = (f"assignments: customers exposed to more than one variant, left out of the experiment: {shown}. "
               "Their outcome belongs to no one variant. What to do: if more than a few in a hundred, check how "
               "the tool assigns variants (a customer id that changes, or a test restarted)")
        warnings.warn(msg, JourneyDataWarning, stacklevel=4)
        notes.append(Check("assignments: customers in several variants", "warn", msg))
    n = _count(out)
    return out, n


def load_feedback(source: Any, columns: Mapping[str, str] | None = None, *,
                  con: ibis.BaseBackend | None = None, timestamp_format: str | None = None) -> ibis.Table:
    """Load feedback: ``customer_id, ts, kind, score`` and optional ``stage``, ``text``.

    ``kind`` is one of ``survey`` (a satisfaction score about a stage), ``review`` (a
    rating after an order) or ``nps`` (0-10, whole numbers); ``score`` is a finite
    number; ``stage`` and ``text`` may be missing (added as empty columns when absent).
    Text is kept for counting only: reports never show it.

    Parameters
    ----------
    source
        CSV or Parquet path (globs allowed), pandas DataFrame or Ibis table.
    columns
        Mapping from the source's column names to canonical ones, e.g. ``{"rating": "score"}``.
    con
        Ibis connection (default: embedded DuckDB).
    timestamp_format
        strptime format of a text ``ts`` column (as in :func:`load_events`).

    Returns
    -------
    ibis.Table
        ``customer_id, ts, kind, score, stage, text``.

    Examples
    --------
    >>> from journeylib.core.load import load_feedback
    >>> feedback = load_feedback("data/sample/feedback.parquet")
    >>> feedback.columns
    ('customer_id', 'ts', 'kind', 'score', 'stage', 'text')
    """
    return _feedback(source, columns, con=con, timestamp_format=timestamp_format).table


def _score_check(t):
    x = t["score"]
    typ = x.type()
    if typ.is_numeric():
        clean, bad_type = x.cast("float64"), None
    elif typ.is_string() or typ.is_null():
        s = x.cast("string")
        clean = s.strip().try_cast("float64")
        bad_type = s.isnull() | (s.strip() == "") | clean.isnull()
    else:
        clean, bad_type = x.cast("float64"), None
    kind = t["kind"].cast("string").strip().lower()
    bad = clean.isnull() | clean.isinf() | clean.isnan() | (
        (kind == "nps") & ((clean < 0) | (clean > 10) | (clean != clean.round())))
    if bad_type is not None:
        bad = bad_type | bad
    return clean, bad, "a finite number (not missing); for kind nps a whole number from 0 to 10"


def _feedback(source, columns, *, con, timestamp_format=None) -> Loaded:
    t, src = _prepare(source, columns, FEEDBACK_REQUIRED, "feedback", con)
    for c in FEEDBACK_OPTIONAL:
        if c not in t.columns:
            t = t.mutate(**{c: ibis.null("string")})
    t = t.select(*FEEDBACK_REQUIRED, *FEEDBACK_OPTIONAL)

    def build(formats):
        kind = _text_check(t, "kind", nullable=False, allowed=FEEDBACK_KINDS)
        return {
            "customer_id": _id_check(t, "customer_id"),
            "ts": _timestamp_check(t, "ts", "feedback", fmt=formats.get("ts")),
            "kind": (kind[0].strip().lower(), kind[0].isnull() | ~kind[0].strip().lower().isin(list(FEEDBACK_KINDS)),
                     kind[2]),
            "score": _score_check(t),
            "stage": _text_check(t, "stage", nullable=True),
            "text": _text_check(t, "text", nullable=True),
        }

    digest, ck = _cache_key(source, t, "feedback", columns, timestamp_format)
    notes: list[Check] = []
    with validation_cache.exclusive(ck):
        known = _reuse(ck, "feedback", digest, notes)
        if known is None:
            formats = {"ts": timestamp_format} if timestamp_format else {}
            t, n, _, unchanged, formats, types = _run_checks(t, build, "feedback", src=src, formats=formats,
                                                             declared=bool(timestamp_format))
            validation_cache.remember(ck, str(source), rows=n, unchanged=unchanged, formats=formats, types=types)
            _checked("feedback", n, notes)
        else:
            t, n, _ = _as_validated(t, build(known.get("formats", {})), known, "feedback", notes)
    return _loaded(t, "feedback", source, n, digest, known, notes)


def load_messages(source: Any, columns: Mapping[str, str] | None = None, *,
                  con: ibis.BaseBackend | None = None, timestamp_format: str | None = None) -> ibis.Table:
    """Load a message log: ``customer_id, ts, campaign, channel, action``.

    One row per message sent (``action`` ``send``) and per open or click of it (``open``,
    ``click``); ``campaign`` and ``channel`` (e.g. ``email``, ``push``, ``sms``,
    ``retargeting``) are non-blank names. Action names are read case-insensitively.

    Parameters
    ----------
    source
        CSV or Parquet path (globs allowed), pandas DataFrame or Ibis table.
    columns
        Mapping from the source's column names to canonical ones, e.g. ``{"type": "action"}``.
    con
        Ibis connection (default: embedded DuckDB).
    timestamp_format
        strptime format of a text ``ts`` column (as in :func:`load_events`).

    Returns
    -------
    ibis.Table
        ``customer_id, ts, campaign, channel, action``.

    Examples
    --------
    >>> from journeylib.core.load import load_messages
    >>> messages = load_messages("data/sample/messages.parquet")
    >>> messages.columns
    ('customer_id', 'ts', 'campaign', 'channel', 'action')
    """
    return _messages(source, columns, con=con, timestamp_format=timestamp_format).table


def _messages(source, columns, *, con, timestamp_format=None) -> Loaded:
    t, src = _prepare(source, columns, MESSAGES_REQUIRED, "messages", con)
    t = t.select(*MESSAGES_REQUIRED)
    named = t.action.cast("string").strip().lower()
    other = named.notnull() & (named != "") & ~named.isin([*MESSAGE_ACTIONS, *MESSAGE_ACTION_NAMES])
    raw = t

    def build(formats):
        action = _text_check(t, "action", nullable=False)
        norm = action[0].strip().lower()
        return {
            "customer_id": _id_check(t, "customer_id"),
            "ts": _timestamp_check(t, "ts", "messages", fmt=formats.get("ts")),
            "campaign": _text_check(t, "campaign", nullable=False),
            "channel": _text_check(t, "channel", nullable=False),
            # sent, opened, clicked are send, open, click; other actions (bounce, unsubscribe) are left out below
            "action": (norm.substitute(MESSAGE_ACTION_NAMES, else_=norm), norm.isnull() | (norm == ""),
                       f"one of {list(MESSAGE_ACTIONS)}"),
        }

    digest, ck = _cache_key(source, t, "messages", columns, timestamp_format)
    notes: list[Check] = []
    with validation_cache.exclusive(ck):
        known = _reuse(ck, "messages", digest, notes)
        if known is None:
            formats = {"ts": timestamp_format} if timestamp_format else {}
            t, n, ex, unchanged, formats, types = _run_checks(
                t, build, "messages", lambda checks: {"other": other.cast("int64").sum()}, src=src,
                formats=formats, declared=bool(timestamp_format))
            left_out = _other_actions(raw, named, other, n) if int(ex["other"] or 0) else {}
            n -= sum(left_out.values())
            validation_cache.remember(ck, str(source), rows=n, unchanged=unchanged, formats=formats, types=types,
                                      left_out=left_out)
            _checked("messages", n, notes)
        else:
            t, n, _ = _as_validated(t, build(known.get("formats", {})), known, "messages", notes)
            left_out = known.get("left_out", {})
    if left_out:
        t = t.filter(t.action.isin(list(MESSAGE_ACTIONS)))
        shown = ", ".join(f"{k} ({v:,})" for k, v in left_out.items())
        warnings.warn(f"messages: left out {sum(left_out.values()):,} rows of other actions: {shown}; the campaigns "
                      "report reads sends, opens and clicks", JourneyDataWarning, stacklevel=3)
        notes.append(Check("messages: other actions", "pass", f"left out {shown}: only send, open and click are read"))
    return _loaded(t, "messages", source, n, digest, known, notes)


def _other_actions(t: ibis.Table, named: ibis.Value, other: ibis.Value, n: int) -> dict[str, int]:
    """Rows of actions other than send, open and click, per action (most first); none of them at all is an error
    (the column mapped as the action says something else)."""
    rows = t.mutate(_action=named, _other=other)
    rows = rows.filter(rows._other)
    counts = engine.to_pandas(rows.group_by(action=rows._action).aggregate(rows=rows.count())
                              .order_by([ibis.desc("rows"), "action"]))
    left_out = {str(a): int(r) for a, r in zip(counts["action"], counts["rows"])}
    if sum(left_out.values()) == n:
        shown = ", ".join(list(left_out)[:5])
        raise JourneyDataError(f"column 'action' of messages: no row is a send, open or click (it holds {shown}); "
                               f"expected one of {list(MESSAGE_ACTIONS)} (also sent, opened, clicked).\nWhat to do: "
                               "map the column that says what happened to each message as action")
    return left_out


def load_costs(source: Any, columns: Mapping[str, str] | None = None, *, channels: Iterable[str] | None = None,
               con: ibis.BaseBackend | None = None, timestamp_format: str | None = None) -> pd.DataFrame:
    """Load marketing spend: ``channel, period, spend`` and an optional ``campaign``.

    ``period`` is a month (``2024-03``, ``March 2025``) or a day (``2024-03-01``, ``Mar 1, 2025``,
    a date or a timestamp, the first day of a range ``2025-03-01 - 2025-03-31``; day-first or
    month-first numbers with ``timestamp_format``); it is read as the first day of the month, or
    the day. Summary rows (``Total``, ``Total: Account``, ``Grand total``, :data:`SUMMARY_ROW`)
    are left out with a warning: they repeat the spend above them. ``spend`` is a finite amount,
    never negative. Rows with the same channel, period and campaign are added up (spend
    split over several files). Errors name the column, the rows and what was expected:
    negative or missing spend, blank channels, unreadable periods and, when ``channels``
    is given (the touchpoints of the events), channels the events never touch. Months
    without a row for a channel between its first and last month are a gap: a
    :class:`journeylib.core.errors.JourneyDataWarning` (and a ``warn`` check in
    :func:`load_table`), since a missing month reads as no spend.

    Parameters
    ----------
    source
        CSV or Parquet path, pandas DataFrame or Ibis table.
    columns
        Mapping from the source's column names to canonical ones, e.g. ``{"cost": "spend"}``.
    channels
        The channels of the events; a cost channel outside them is an error.
    con
        Ibis connection (default: embedded DuckDB).
    timestamp_format
        strptime format of periods such as ``01/03/2025`` (day-first or month-first).

    Returns
    -------
    pandas.DataFrame
        ``channel, period`` (datetime64, the month's or the day's start), ``spend`` (float),
        ``campaign`` (text, missing when absent), sorted by channel, period and campaign.

    Examples
    --------
    >>> from journeylib.core.load import load_costs
    >>> costs = load_costs("data/sample/costs.parquet")
    >>> list(costs.columns), sorted(costs["channel"].unique())
    (['channel', 'period', 'spend', 'campaign'], ['email', 'paid_ads', 'social'])
    """
    df, notes = costs_frame(source, columns, channels=channels, con=con, timestamp_format=timestamp_format)
    for c in notes:
        warnings.warn(c.detail, JourneyDataWarning, stacklevel=2)
    return df


def costs_frame(source: Any, columns: Mapping[str, str] | None = None, *, channels: Iterable[str] | None = None,
                con: ibis.BaseBackend | None = None, timestamp_format: str | None = None
                ) -> tuple[pd.DataFrame, list[Check]]:
    """The validated cost table as a DataFrame, with its warnings as checks (period gaps).

    Parameters
    ----------
    source
        A DataFrame, a path (CSV or Parquet) or an Ibis table with ``channel``, ``period``, ``spend``
        and optionally ``campaign``.
    columns
        ``{their name: canonical name}`` for sources with other column names.
    channels
        The channels of the event log; a cost row for another channel is an error naming it.
    con
        The Ibis connection to read with (default: the current one).
    timestamp_format
        strptime format of periods written as numbers that could be day-first or month-first
        (``%d/%m/%Y``); ISO months and days, and dates that name the month, need none.

    Returns
    -------
    (pandas.DataFrame, list of Check)
        One row per channel, period (the month's first day) and campaign with its ``spend``;
        the checks of the table (missing months are a warning).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.load import costs_frame
    >>> df, checks = costs_frame(pd.DataFrame({"channel": ["email", "email"], "period": ["2024-01", "2024-02"],
    ...                                        "spend": [100.0, 90.0]}))
    >>> df.assign(period=df["period"].dt.strftime("%Y-%m"))[["channel", "period", "spend"]].to_dict("records")
    [{'channel': 'email', 'period': '2024-01', 'spend': 100.0}, {'channel': 'email', 'period': '2024-02', 'spend': 90.0}]
    """
    if isinstance(source, pd.DataFrame):
        raw = source.copy()
        if columns:
            t, _ = _prepare(source, columns, COSTS_REQUIRED, "costs", con)
            raw = engine.to_pandas(t)
        else:
            missing = [c for c in COSTS_REQUIRED if c not in raw.columns]
            if missing:
                raise JourneyDataError(
                    f"costs: missing required column(s) {missing}; the source has {list(raw.columns)}; expected at "
                    f"least {list(COSTS_REQUIRED)}.\nWhat to do: pass columns={{'your_name': '{missing[0]}'}} to map "
                    "your column names")
            if raw.empty:
                raise JourneyDataError("costs: the input has no rows; expected at least one cost row")
    else:
        t, _ = _prepare(source, columns, COSTS_REQUIRED, "costs", con)
        raw = engine.to_pandas(t)
    raw = raw.reset_index(drop=True)
    if "campaign" not in raw.columns:
        raw["campaign"] = None
    line = pd.Series(raw.index + 2, index=raw.index)  # CSV line of each row (header on line 1)
    notes = []
    total = np.zeros(len(raw), bool)
    for col in ("period", "channel", "campaign"):
        if not pd.api.types.is_datetime64_any_dtype(raw[col]):
            total |= raw[col].astype("string").str.fullmatch(SUMMARY_ROW).fillna(False).to_numpy(bool)
    if total.any():  # an ad platform's or a spreadsheet's totals under the rows: adding them would count spend twice
        labels = sorted({str(v) for col in ("period", "channel", "campaign") for v in raw.loc[total, col]
                         if isinstance(v, str) and re.fullmatch(SUMMARY_ROW, v)})
        # "pass": leaving a total out is the right reading (a warning would mark every report of the run)
        notes.append(Check("costs: summary rows left out", "pass",
                           f"costs: {int(total.sum()):,} summary row(s) left out (rows "
                           f"{', '.join(str(n - 1) for n in line[total].head(6))}{', ...' if total.sum() > 6 else ''}: "
                           f"{', '.join(repr(x) for x in labels[:3])}): a report's totals, not spend of their own"))
        raw, line = raw.loc[~total].reset_index(drop=True), line[~total].reset_index(drop=True)
        if raw.empty:
            raise JourneyDataError("costs: every row is a summary row (a total); expected spend rows per channel "
                                   "and period")

    def fail(col: str, bad: pd.Series, expected: str, hint: str | None = None) -> None:
        ex = raw.loc[bad, [c for c in (*COSTS_REQUIRED, *COSTS_OPTIONAL) if c in raw.columns]].head(5).copy()
        ex.insert(0, "row", line[bad].head(5).to_numpy() - 1)
        raise data_error(col, int(bad.sum()), len(raw), expected, ex, table="costs", hint=hint)

    ch = raw["channel"]
    text = ch.astype("string").str.strip()
    bad = ch.isna() | (text == "") | text.isna()
    if bad.any():
        fail("channel", bad, "a channel name (a touchpoint of the events), not blank")
    raw["channel"] = text.astype(object)
    read = engine.amount_values(raw["spend"])
    spend, currency = read["number"], read["currency"]
    bad = spend.isna() | ~np.isfinite(spend.fillna(0).to_numpy(float))
    if bad.any():
        fail("spend", bad, "a finite amount (a number such as 1200.50; 0 for no spend)",
             hint=decimal_comma_hint(raw.loc[bad, "spend"], "costs"))
    found = currency.value_counts()
    if len(found) > 1:
        fail("spend", currency.isin(found.index[1:]).to_numpy(bool),
             "one currency for all spend, as spend is added up; found "
             + ", ".join(f"{c} {n:,}" for c, n in found.items()) + " rows",
             hint="convert the spend to one currency (the currency of the revenue)")
    bad = spend < 0
    if bad.any():
        fail("spend", bad, "an amount of 0 or more (spend is never negative)",
             hint="a refund or credit note belongs to the period it refunds: subtract it there")
    raw["spend"] = spend.astype(float)
    raw["period"] = _cost_periods(raw["period"], fail, timestamp_format)
    if channels is not None:
        known = {str(c) for c in channels}
        bad = ~raw["channel"].isin(known)
        if bad.any():
            names = sorted(set(raw.loc[bad, "channel"]))
            fail("channel", bad, f"a channel of the events ({', '.join(sorted(known))})",
                 hint=f"rename {names[0]!r} to the events' name for it (names must match exactly, case "
                      "included), or drop its rows")
    camp = raw["campaign"].astype("string").str.strip()
    raw["campaign"] = camp.where(camp.notna() & (camp != ""), None).astype(object)
    out = (raw.groupby(["channel", "period", "campaign"], dropna=False, sort=True)["spend"].sum().reset_index()
           [["channel", "period", "spend", "campaign"]])
    out["campaign"] = out["campaign"].astype(object).where(out["campaign"].notna(), None)
    same = raw.duplicated(["channel", "period", "campaign", "spend"], keep=False)
    if same.any():  # rows of one channel, month and campaign are summed; identical ones may be a repeated export
        first = raw.loc[same].iloc[0]
        lines = ", ".join(str(n) for n in (line[same].head(6) - 1))
        notes.append(Check("costs: identical rows", "warn",
                           f"costs: {int(same.sum()):,} rows repeat another row exactly (same channel, period, "
                           f"campaign and spend; rows {lines}{', ...' if same.sum() > 6 else ''}, e.g. "
                           f"{first['channel']!r} {first['period']:%Y-%m-%d} spend {first['spend']:,.2f}); they are "
                           "summed. What to do: if the export repeats rows, drop the copies; if they are separate "
                           "spends, give each a campaign"))
    months = out["period"].dt.to_period("M")
    for c, m in months.groupby(out["channel"], sort=True):
        have = set(m)
        full = pd.period_range(m.min(), m.max(), freq="M")
        gaps = [str(p) for p in full if p not in have]
        if gaps:
            notes.append(Check("costs: periods without spend rows", "warn",
                               f"costs: channel {c!r} has no rows for {len(gaps)} month(s) between {m.min()} and "
                               f"{m.max()} ({', '.join(gaps[:6])}{', ...' if len(gaps) > 6 else ''}); they count as "
                               "no spend. What to do: add those months (spend 0 if there was none)"))
    return out.reset_index(drop=True), notes


SUMMARY_ROW = (r"(?i)\s*(?:grand\s+|sub-?)?(?:totals?|sum|summe|gesamt|insgesamt|gesamtsumme|totaal|totale|totalt"
               r"|suma|somme)\s*(?::.*)?")
"""A cell that labels a summary row of a spend report (``Total``, ``Total: Account``, ``Grand total``,
``Summe``, ``Gesamt``...): such rows repeat the spend above them and are left out."""
_PERIOD_RANGE = r"\s*(\d{4}-\d{2}-\d{2})\s*(?:-|–|—|to|bis)\s*\d{4}-\d{2}-\d{2}\s*"
# "Mar 25" is left out: a day without its year as much as a month (Excel's month is written "Mar-25")
_MONTH_FORMATS = ("%B %Y", "%b %Y", "%b-%Y", "%B-%Y", "%b-%y", "%Y-%b", "%m/%Y", "%m.%Y", "%Y/%m", "%Y.%m")
_NUMERIC_DATE = r"\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?:[ T].*)?"


def _cost_periods(period: pd.Series, fail, timestamp_format: str | None = None) -> pd.Series:
    """Periods as the first day of their month (``2024-03``, ``March 2025``) or their day (dates,
    timestamps, ``Mar 1, 2025``, a range's first day: ``2025-03-01 - 2025-03-31``; day-first or
    month-first numbers with ``timestamp_format``)."""
    if pd.api.types.is_datetime64_any_dtype(period):
        p = period.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(period.dt, "tz", None) else period
        bad = p.isna()
        if bad.any():
            fail("period", bad, "a month (2024-03) or a day (2024-03-01)")
        return p.dt.normalize().astype("datetime64[ns]")
    s = period.astype("string").str.strip()
    s = s.str.replace(_PERIOD_RANGE, r"\1", regex=True)  # a reporting range (Meta's "starts - ends"): its first day
    parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if timestamp_format in engine.UNIX_FORMATS:
        fail("period", s.notna(), "a month or a day, not a Unix time",
             hint="take timestamp_format off sources.costs")
    if timestamp_format:
        parsed[:] = pd.to_datetime(s, format=timestamp_format, errors="coerce")
        bad = parsed.isna()
        if bad.any():
            fail("period", bad, f"a day written as timestamp_format says ({timestamp_format})")
        return parsed.dt.normalize()
    month = s.str.fullmatch(r"\d{4}-\d{2}").fillna(False).astype(bool)
    day = s.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
    parsed[month] = pd.to_datetime(s[month] + "-01", format="%Y-%m-%d", errors="coerce")
    parsed[day] = pd.to_datetime(s[day], format="%Y-%m-%d", errors="coerce")
    rest = parsed.isna() & s.notna()
    if rest.any():  # months as reports name them (March 2025, 03/2025), then days (Mar 1, 2025, 01-Mar-2025)
        sample = s[rest].head(5000)
        worded = next((f for f in _MONTH_FORMATS if pd.to_datetime(sample, format=f, errors="coerce").notna().all()),
                      None) or engine.worded_time_format(sample)
        if worded:
            parsed[rest] = pd.to_datetime(s[rest], format=worded, errors="coerce").dt.normalize()
    bad = parsed.isna()
    if bad.any():
        numeric = s[bad].str.fullmatch(_NUMERIC_DATE).fillna(False)
        if numeric.any():
            fail("period", bad, "a month written 2024-03 or a day written 2024-03-01 (year first)",
                 hint=f"dates such as {s[bad][numeric].iloc[0]!r} could be day-first or month-first: add "
                      "timestamp_format to sources.costs, e.g. '%d/%m/%Y' or '%m/%d/%Y'")
        fail("period", bad, "a month written 2024-03 or a day written 2024-03-01 (year first)")
    return parsed


def _costs(source, columns, *, con, timestamp_format=None) -> Loaded:
    df, notes = costs_frame(source, columns, con=con, timestamp_format=timestamp_format)
    notes = list(notes)
    if not any(c.name == "costs: periods without spend rows" for c in notes):
        notes.append(Check("costs: periods without spend rows", "pass",
                           "every channel has a row for every month between its first and last"))
    try:
        digest = content_hash(source) if not isinstance(source, ibis.Table) else "n/a"
    except OSError:
        digest = "n/a"
    record = InputRecord(table="costs", source=source_name(source), rows=len(df), sha256=digest,
                         validation="checked")
    # campaign's missing values as None, typed by the schema: pandas' NA reached Spark as a pickled object
    table = ibis.memtable(df, schema={"channel": "string", "period": "timestamp", "spend": "float64",
                                      "campaign": "string"})
    return Loaded(table, record, (Check("costs: validated", "pass", f"{len(df):,} rows checked"), *notes))


def _loaded(t, table, source, n, digest, known, notes, *, dropped=0, future=0) -> Loaded:
    if digest is None:  # a DataFrame (hashed for the panel only) or an Ibis table
        try:
            digest = content_hash(source)
        except OSError:
            digest = "n/a"
    record = InputRecord(table=table, source=source_name(source), rows=int(n), sha256=digest,
                         validation="checked" if known is None else "reused",
                         duplicates_dropped=int(dropped), future_rows=int(future))
    return Loaded(t, record, tuple(notes))


# --- helpers ---------------------------------------------------------------

@dataclass(frozen=True)
class _Src:
    """What the checks need to know of the source: CSV text (line numbers of bad rows)."""

    csv: bool = False
    files: tuple[str, ...] = ()


def _csv_files(source, con) -> tuple[str, ...]:
    if not isinstance(source, (str, os.PathLike)) or engine.is_uri(str(source)):
        return ()
    files = engine.list_files(str(source), con)
    if len(files) == 1 and Path(files[0]).is_dir():
        return ()
    return tuple(f for f in files if engine.file_kind(f) == "csv")


def refuse_duplicate_headers(files: tuple[str, ...], table: str) -> None:
    """Raise when the first CSV file's header names a column twice.

    DuckDB (and pandas) would read the second one under another name (``revenue_1``), so a
    mapping to ``revenue`` would take one of the two without a word.

    Parameters
    ----------
    files
        The table's CSV files (the first one is read).
    table
        The table's name, for the message.

    Returns
    -------
    None
        A :class:`~journeylib.core.errors.JourneyDataError` names the repeated columns.

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.core.load import refuse_duplicate_headers
    >>> path = tempfile.mkdtemp() + "/events.csv"
    >>> _ = open(path, "w").write("customer_id,ts,revenue,revenue\\nc1,2025-01-01,3,4\\n")
    >>> refuse_duplicate_headers((path,), "events")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    journeylib.core.errors.JourneyDataError: events: ... has the column name(s) ['revenue'] more than once in its header ...
    """
    import csv

    for f in files[:1]:
        try:
            with engine.open_text(f) as fh:
                sample = fh.readline()
        except OSError:
            return
        delim = "\t" if "\t" in sample else ("," if sample.count(",") >= sample.count(";") else ";")
        names = [h.strip() for h in next(csv.reader([sample], delimiter=delim), [])]
        dupes = sorted({h for h in names if names.count(h) > 1})
        if dupes:
            raise JourneyDataError(f"{table}: {f} has the column name(s) {dupes} more than once in its header "
                                   f"({', '.join(names)}); expected each column once.\nWhat to do: rename or "
                                   "remove the repeated column(s)")


def _check_mapping(columns: Mapping[str, str], have: list[str], table: str) -> None:
    targets = list(columns.values())
    twice = sorted({v for v in targets if targets.count(v) > 1})
    if twice:
        srcs = [k for k, v in columns.items() if v == twice[0]]
        raise JourneyParameterError(f"columns: {srcs} are all mapped to {twice[0]!r}; expected each {table} "
                                    "column to come from one source column")
    clash = [(k, v) for k, v in columns.items() if v != k and v in have and v not in columns]
    if clash:
        k, v = clash[0]
        raise JourneyParameterError(
            f"columns: maps {k!r} to {v!r}, but {table} already has a column {v!r}; expected a name the "
            f"source does not use.\nWhat to do: also map the existing column away (e.g. {{{v!r}: '{v}_original'}}) "
            "or drop it before loading")


def with_times_of_day(t: ibis.Table) -> ibis.Table:
    """``t`` with each date column joined to its time of day: ``ts`` with ``ts_time`` (and
    ``<name>_at`` with ``<name>_at_time``), by :func:`journeylib.core.engine.joined_date_time`.

    Parameters
    ----------
    t
        A table in canonical names.

    Returns
    -------
    ibis.Table
        The same table, the time-of-day columns joined into their dates and dropped.

    Examples
    --------
    >>> import ibis
    >>> from journeylib.core.load import with_times_of_day
    >>> t = ibis.memtable({"customer_id": ["c1"], "ts": ["2025-01-05"], "ts_time": ["09:15"]})
    >>> with_times_of_day(t).to_pandas().to_dict("records")
    [{'customer_id': 'c1', 'ts': '2025-01-05 09:15'}]
    """
    for c in [c for c in t.columns if (c == "ts" or c.endswith("_at")) and f"{c}_time" in t.columns]:
        t = t.mutate(**{c: engine.joined_date_time(t[c], t[f"{c}_time"])}).drop(f"{c}_time")
    return t


def _prepare(source, columns, required, table, con) -> tuple[ibis.Table, _Src]:
    if columns is not None and not isinstance(columns, Mapping):
        raise JourneyParameterError(f"columns={columns!r}; expected a mapping such as {{'user': 'customer_id'}}")
    files = _csv_files(source, con)
    refuse_duplicate_headers(files, table)
    if isinstance(source, pd.DataFrame) and source.columns.duplicated().any():
        dupes = sorted({str(c) for c in source.columns[source.columns.duplicated()]})
        raise JourneyDataError(f"{table}: the DataFrame has the column name(s) {dupes} more than once; "
                               "expected each column once")
    t = engine.to_table(source, con, table=table, raw=True)
    if columns:
        missing_src = [k for k in columns if k not in t.columns]
        if missing_src:
            raise JourneyDataError(
                f"{table}: columns= maps {missing_src} but the source has no such column; "
                f"available columns: {list(t.columns)}"
            )
        _check_mapping(columns, list(t.columns), table)
        t = t.rename({v: k for k, v in columns.items()})
    t = with_times_of_day(t)
    missing = [c for c in required if c not in t.columns]
    if missing:
        hint = "pass columns={'your_name': '%s'} to map your column names" % missing[0]
        raise JourneyDataError(
            f"{table}: missing required column(s) {missing}; the source has {list(t.columns)}; "
            f"expected at least {list(required)}.\nWhat to do: {hint}"
        )
    try:
        empty = int(t.limit(1).count().execute()) == 0  # cheap: stops at the first row
    except JourneyDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed file fails at the first read: keep the gist
        raise engine.csv_row_failure(exc) or JourneyDataError(
            f"{table}: could not read {source_name(source)}: {engine.gist(exc)}") from exc
    if empty:
        raise JourneyDataError(f"{table}: the input has no rows; expected at least one {table[:-1]} row")
    csv = bool(files) and t.get_backend().name == "duckdb"
    return t, _Src(csv=csv, files=files)


def decimal_comma_hint(values: pd.Series, table: str) -> str | None:
    """What to do when amounts that fail the number check are written with a decimal comma (``13,26``).

    Parameters
    ----------
    values
        Some of the failing values.
    table
        The source's name in ``journey.yml``.

    Returns
    -------
    str or None
        The hint, or ``None`` when no value looks like an amount with a decimal comma.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.load import decimal_comma_hint
    >>> print(decimal_comma_hint(pd.Series(["13,26", "1.234,50"]), "events"))
    these amounts use a decimal comma (13,26): add decimal: ',' to sources.events in journey.yml, or write them with a decimal point
    >>> print(decimal_comma_hint(pd.Series(["1 234,50 €"]), "costs"))
    these amounts use a decimal comma (1 234,50 €): add decimal: ',' to sources.costs in journey.yml, or write them with a decimal point
    >>> decimal_comma_hint(pd.Series(["n/a"]), "events") is None
    True
    """
    text = values.dropna().astype(str)
    number = engine.amount_values(text)["text"].astype(str)  # without a currency or spaces that group thousands
    comma = text[number.str.contains(",", regex=False) & number.str.match(COMMA_AMOUNT)]
    if comma.empty:
        return None
    return (f"these amounts use a decimal comma ({comma.iloc[0].strip()}): add decimal: ',' to sources.{table} in "
            "journey.yml, or write them with a decimal point")


_OTHER_GROUPING = r"^\s*[+-]?(\d{1,3}(['’]\d{3})+|\d{1,2}(,\d{2})+,\d{3})(\.\d+)?\s*$"  # 1'234.50, 1,23,456.50


def _grouping_hint(values: pd.Series) -> str | None:
    """What to do when amounts group digits with an apostrophe (Switzerland) or in lakhs (India)."""
    text = values.dropna().astype(str)
    grouped = text[text.str.match(_OTHER_GROUPING)]
    if grouped.empty:
        return None
    return (f"these amounts group their digits with an apostrophe or in lakhs ({grouped.iloc[0].strip()}), which is "
            "not read: export them as plain numbers (1234.50), or grouped by thousands with commas (1,234.50)")


def _count(t: ibis.Table) -> int:
    return int(t.count().execute())


# Each check returns (clean expression, bad-row predicate, expectation text).

def _id_check(t, col):
    x = t[col]
    typ = x.type()
    if typ.is_floating():
        bad = x.isnull() | (x != x.floor())
        clean = engine.id_text(x)
        return clean, bad, "a non-missing customer id (integers or text)"
    x = x.cast("string")
    # TRIM only ids with whitespace at an end: every character TRIM drops sorts at or
    # below " ", and TRIM itself is a fifth of the validation pass at 10^7 events
    clean = ibis.ifelse((x.substr(0, 1) <= " ") | (x.right(1) <= " "), x.strip(), x)
    bad = clean.isnull() | (clean == "")
    return clean, bad, "a non-missing customer id"


def _timestamp_check(t, col, table, nullable=False, fmt=None):
    x = t[col]
    typ = x.type()
    if typ.is_timestamp():
        clean = x.cast(UTC) if typ.timezone else x.cast("timestamp").cast(UTC)
        # naive timestamps are read as UTC (the session time zone is UTC)
        bad = None if nullable else clean.isnull()
    elif typ.is_date():
        clean = x.cast("timestamp").cast(UTC)
        bad = None if nullable else clean.isnull()
    elif typ.is_string():
        clean = engine.parse_timestamp(x.strip() if fmt else x, fmt)  # a cast itself ignores spaces
        bad = (x.notnull() & (x.strip() != "") & clean.isnull()) if nullable else clean.isnull()
    elif typ.is_numeric() and not typ.is_boolean():
        # numbers are timestamps only as Unix times (a format detected over every row, or declared)
        if fmt in engine.UNIX_FORMATS:
            clean = engine.parse_timestamp(x, fmt)
            bad = (x.notnull() & clean.isnull()) if nullable else clean.isnull()
        else:  # every number is bad (and read again as Unix times when they all are)
            clean = x.isnull().ifelse(ibis.null(UTC), ibis.null(UTC))  # a column of NULL timestamps
            bad = x.notnull() if nullable else x.notnull() | x.isnull()
    elif typ.is_null():
        clean = x.cast(UTC)
        bad = None if nullable else clean.isnull()
    else:
        raise JourneyDataError(
            f"{table}: column '{col}' has type {typ}; expected timestamps "
            "(ISO text such as 2024-05-01 13:45:00, optionally with +02:00, or a datetime column)"
        )
    # Dates outside this range are typos or sentinels (0001-01-01, 9999-12-31) and
    # would overflow pandas' timestamps downstream.
    lo = ibis.timestamp("1900-01-01 00:00:00").cast(UTC)
    hi = ibis.timestamp("2200-01-01 00:00:00").cast(UTC)
    epoch = ibis.timestamp("1970-01-01 00:00:00").cast(UTC)  # a missing time written as 0 by the exporting system
    out_of_range = clean.notnull() & ((clean < lo) | (clean >= hi) | (clean == epoch))
    bad = out_of_range if bad is None else bad | out_of_range
    if fmt:
        expected = f"a timestamp between 1900 and 2200 in the format {fmt!r}"
    else:
        expected = "a timestamp between 1900 and 2200 such as 2024-05-01 13:45:00 or 2024-05-01T13:45:00+02:00"
    return clean, bad, expected + ("" if nullable else " (not missing)")


def _text_check(t, col, nullable, allowed=None):
    x = t[col]
    x = x.cast("string") if not x.type().is_string() else x
    # 'purchase ' and 'purchase' are one event, ' email ' and 'email' one channel: spaces at an end are dropped
    # (tested as for ids; a column no row of which changes is read as it is, so clean logs pay nothing later)
    clean = ibis.ifelse((x.substr(0, 1) <= " ") | (x.right(1) <= " "), x.strip(), x)
    bad = None if nullable else clean.isnull() | (clean == "")
    expected = "non-missing text" if nullable else "a non-blank name"
    if allowed is not None:
        allowed = list(allowed)
        unknown = clean.notnull() & ~clean.isin(allowed)
        bad = unknown if bad is None else bad | unknown
        expected = f"one of {allowed}" + (" or missing" if nullable else "")
    elif nullable:
        expected = "text or missing"
    return clean, bad, expected


def _revenue_check(t):
    x = t["revenue"]
    typ = x.type()
    if typ.is_numeric():
        clean = x.cast("float64")
        bad_type = None
    elif typ.is_string() or typ.is_null():
        s = x.cast("string")
        clean = engine.amount_parts(s)[0].try_cast("float64")
        bad_type = s.notnull() & (s.strip() != "") & clean.isnull()
    else:
        clean = x.cast("float64")
        bad_type = None
    bad = clean.notnull() & ((clean < 0) | clean.isinf() | clean.isnan())
    if bad_type is not None:
        bad = bad_type | bad
    return clean, bad, "a finite number >= 0 (or missing for events without revenue)"


def _currencies(t: ibis.Table, checks: dict) -> dict[str, ibis.Value]:
    """The currency of each priced event: as written with the amount (``$12``), and in a
    ``currency`` column (upper case, blank as none)."""
    priced = checks["revenue"][0].notnull()
    out = {}
    if t.revenue.type().is_string():
        out["written"] = engine.amount_parts(t.revenue.cast("string"))[1]
    if "currency" in t.columns and t.currency.type().is_string():
        code = t.currency.strip().upper()
        out["currency"] = ibis.ifelse(priced & (code != ""), code, ibis.null("string"))
    return out


def _one_currency(t: ibis.Table, currencies: Mapping[str, ibis.Value], extra: Mapping[str, Any], src: _Src) -> None:
    """Raise when the priced events are in more than one currency (:func:`_currencies` of ``t``):
    revenue is added up, and a sum of euros and dollars is no amount (``extra``: the first and last
    currency of each, from the checks' pass)."""
    for key, currency in currencies.items():
        if extra[f"{key}_lo"] == extra[f"{key}_hi"]:
            continue
        tagged = t.mutate(_currency=currency)
        counts = engine.to_pandas(tagged.filter(tagged._currency.notnull()).group_by("_currency")
                                  .aggregate(rows=ibis._.count()).order_by([ibis.desc("rows"), "_currency"]))
        listed = ", ".join(f"{c} {n:,}" for c, n in zip(counts["_currency"], counts["rows"]))
        col = "revenue" if key == "written" else "currency"
        examples = _examples(tagged, tagged._currency.isin(counts["_currency"].iloc[1:].tolist()), src)
        err = data_error(col, int(counts["rows"].iloc[1:].sum()), int(counts["rows"].sum()),
                         f"one currency for all revenue, as revenue is added up; found {listed} priced rows",
                         examples.drop(columns=["_currency"]), table="events",
                         hint="export the amounts in one currency (shops and analytics tools can export amounts "
                              "converted to the shop's or the report's currency), or keep one currency's orders "
                              "and read the others as a journey of their own")
        raise JourneyDataError(_with_line(str(err), examples, col)) from None


def _near_stages(t, col: str, allowed: list) -> str:
    """Stage values that differ from the list only by case, with counts (spaces at an end are dropped when read)."""
    key = {str(a).strip().lower(): a for a in allowed}
    odd = t.filter(t[col].notnull() & ~t[col].strip().isin(allowed))
    got = engine.to_pandas(odd.group_by(col).aggregate(_n=odd.count()).order_by(ibis.desc("_n")).limit(50))
    near = [(v, key[str(v).strip().lower()], int(n)) for v, n in zip(got[col], got["_n"])
            if str(v).strip().lower() in key]
    if not near:
        return ""
    return ("; these differ from a listed stage only by case: "
            + ", ".join(f"{v!r} ({n:,} rows) -> {a!r}" for v, a, n in near[:5]))


def _column_types(t: ibis.Table, cols: list[str]) -> dict[str, ibis.Value]:
    """Aggregates telling, over every row, which text columns are all whole numbers, numbers or booleans."""
    aggs = {}
    for i, c in enumerate(cols):
        x = t[c].strip()
        given = x.notnull() & (x != "")
        aggs[f"n{i}"] = given.cast("int64").sum()
        zeros = x.re_search(r"^[+-]?0[0-9]")  # 0123 is a code (zip, id), not a number
        aggs[f"i{i}"] = (given & (~x.re_search(r"^[+-]?[0-9]{1,18}$") | zeros)).cast("int64").sum()
        aggs[f"f{i}"] = (given & (x.try_cast("float64").isnull() | zeros
                                  | ~x.re_search(r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$")))
        aggs[f"f{i}"] = aggs[f"f{i}"].cast("int64").sum()
        aggs[f"b{i}"] = (given & ~x.lower().isin(["true", "false"])).cast("int64").sum()
    return aggs


def _chosen_types(counts, cols: list[str]) -> dict[str, str]:
    out = {}
    for i, c in enumerate(cols):
        if not int(counts[f"n{i}"]):
            continue
        for k, typ in (("i", "int64"), ("f", "float64"), ("b", "boolean")):
            if not int(counts[f"{k}{i}"]):
                out[c] = typ
                break
    return out


def _typed_columns(t: ibis.Table, types: Mapping[str, str]) -> ibis.Table:
    return t.mutate(**{c: t[c].strip().cast(typ) for c, typ in types.items() if c in t.columns}) if types else t


def _run_checks(t, build, table: str, extra=None, *, src: _Src | None = None, formats: dict | None = None,
                declared: bool = False):
    """One engine pass: row count, failing rows per check, and any ``extra`` aggregates.

    ``build(formats)`` gives the checks (column -> clean value, bad-row predicate, expectation);
    a text timestamp column that does not read as ISO is read again with the format its
    values show over every row (:func:`journeylib.core.engine.detect_timestamp_format`).
    Returns the table with clean columns, the row count, the extra values, the columns
    whose cleaning changed nothing (kept as read, see :func:`_clean`), the timestamp
    formats used and the types given to the other text columns of a customers CSV.
    """
    src = src or _Src()
    formats = dict(formats or {})
    checks = build(formats)
    tested = {c: v for c, v in checks.items() if v[1] is not None}
    aggs = {"_n": t.count()} | {f"bad_{c}": bad.cast("int64").sum() for c, (_, bad, _) in tested.items()}
    extra_aggs = extra(checks) if extra else {}
    aggs |= {f"extra_{k}": v for k, v in extra_aggs.items()}
    others = [c for c in t.columns if c not in checks and t[c].type().is_string()] if (
        src.csv and table == "customers") else []
    aggs |= {f"type_{k}": v for k, v in _column_types(t, others).items()}
    # a cleaning step of the same type (e.g. trimming ids) that changes no row is dropped,
    # so every later query reads the column as stored instead of re-trimming it
    same_type = [c for c, (col, _, _) in checks.items() if col.type() == t[c].type() and not col.equals(t[c])]
    aggs |= {f"diff_{c}": ibis.ifelse(checks[c][0].isnull() & t[c].isnull(), 0,
                                      (checks[c][0] != t[c]).fill_null(True).cast("int64")).sum()
             for c in same_type}
    try:
        row = t.aggregate(**aggs).to_pandas().iloc[0]
    except JourneyDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - an engine's conversion or reader error: keep the gist
        raise engine.csv_row_failure(exc) or JourneyDataError(
            f"{table}: could not read the input: {engine.gist(exc)}") from exc
    counts = pd.Series({k: (0 if v is None or (isinstance(v, float) and v != v) else v) for k, v in row.items()},
                       dtype=object)
    n_total = int(counts["_n"])
    if n_total == 0:
        raise JourneyDataError(f"{table}: the input has no rows; expected at least one {table[:-1]} row")
    for c, (_, bad, expected) in tested.items():
        n_bad = int(counts[f"bad_{c}"])
        if n_bad:
            if (c == "ts" or c.endswith("_at")) and (t[c].type().is_string() or t[c].type().is_numeric()) \
                    and c not in formats and not declared:
                fmt = engine.detect_timestamp_format(
                    t, c, table=table, hint=f"pass timestamp_format='%d/%m/%Y' (or '%m/%d/%Y') to load_{table}")
                if fmt:
                    return _run_checks(t, build, table, extra, src=src, formats=formats | {c: fmt})
            examples = _examples(t, bad, src)
            hint = None
            if c == "ts" or c.endswith("_at"):
                numbers = examples is not None and c in examples.columns and examples[c].dropna().astype(str) \
                    .str.fullmatch(engine.NUMBER_PATTERN).all()
                unread = n_bad == n_total and t[c].type().is_string()  # a whole column in a form not detected
                shown = examples[c].dropna().astype(str) if examples is not None and c in examples.columns \
                    else pd.Series([], dtype=str)
                zoned = (shown.str.contains(engine.ZONE_ABBREVIATION)
                         & ~shown.str.contains(engine.NOT_ZONE_ABBREVIATION)).any()
                hint = engine.NOT_UNIX_HINT if numbers else engine.ZONE_ABBREVIATION_HINT if zoned else \
                    FORMAT_HINT if unread else "fix or drop these rows; naive timestamps are read as UTC"
                if shown.str.startswith("1970-01-01 00:00:00").any():
                    hint = ("1970-01-01 00:00:00 is how a system writes a missing time as 0: fill in the times or "
                            "drop these rows")
            if c == "stage" and table == "events":
                hint = "add the missing stages to stages=, or fix the values" + _near_stages(t, c, _allowed_of(expected))
            if c == "customer_id":
                hint = ("an event without a customer belongs to no journey: drop these rows from the export, or map a "
                        "column that names every customer or visitor (e.g. an anonymous id) as customer_id"
                        if table == "events" else f"each row of {table} is about one customer: fill in the id or drop "
                        "these rows from the export")
            if c in AMOUNT_COLUMNS and examples is not None and c in examples.columns:
                hint = decimal_comma_hint(examples[c], table) or _grouping_hint(examples[c])
                negative = engine.amount_values(examples[c])["number"] < 0
                if hint is None and c == "revenue" and negative.any():
                    hint = ("negative amounts are refunds or corrections, and revenue is what customers paid: drop "
                            "these rows, or keep them as events of their own (such as refund) without revenue")
            hint = _repeated_header(src, examples) or hint
            err = data_error(c, n_bad, n_total, expected, examples, table=table, hint=hint)
            raise JourneyDataError(_with_line(str(err), examples, c)) from None
    unchanged = [c for c in same_type if int(counts[f"diff_{c}"]) == 0]
    types = _chosen_types({k[5:]: v for k, v in counts.items() if k.startswith("type_")}, others)
    out = _typed_columns(_clean(t, checks, unchanged), types)
    return out, n_total, {k: counts[f"extra_{k}"] for k in extra_aggs}, unchanged, formats, types


FORMAT_HINT = ("no value reads as a date and time: give timestamp_format, the strptime format they are written in "
               "(%d day, %m month, %b month name, %Y year, %H:%M time, %I:%M %p with AM/PM: 'Jan 5, 2025 2:30 PM' is "
               "'%b %d, %Y %I:%M %p')")
"""What to do when a whole text time column is in a form the loader does not detect."""


def _allowed_of(expected: str) -> list:
    import ast

    m = expected[len("one of "):].split("]")[0] + "]"
    try:
        return list(ast.literal_eval(m))
    except (ValueError, SyntaxError):
        return []


def _examples(t: ibis.Table, bad: ibis.Value, src: _Src) -> pd.DataFrame:
    """Up to five failing rows; for one CSV file with a ``line`` (1-based file line, header = 1)."""
    if src.csv and len(src.files) == 1:
        numbered = t.mutate(_line=ibis.row_number() + 2)
        rows = numbered.filter(bad).order_by("_line").limit(5).to_pandas()
        rows = rows.rename(columns={"_line": "line"})
        return _utc_examples(rows[["line", *[c for c in rows.columns if c != "line"]]])
    return _utc_examples(t.filter(bad).limit(5).to_pandas())


def _shown(value: Any) -> str:
    """A value as a message quotes it: text in quotes (so blanks show), anything else as written."""
    if isinstance(value, str):
        return repr(value)
    if value is None or value is pd.NA or isinstance(value, float) and value != value:
        return "missing"
    return str(value.item() if hasattr(value, "item") else value)


def _repeated_header(src: _Src, examples: pd.DataFrame | None) -> str | None:
    """What to do when bad rows of a one-file CSV are copies of its header line (files joined with cat)."""
    if examples is None or "line" not in examples.columns or len(src.files) != 1:
        return None
    wanted, repeats = {int(n) for n in examples["line"]}, []
    try:
        with engine.open_text(src.files[0]) as f:
            header = f.readline().strip()
            for n, text in enumerate(f, start=2):
                if n in wanted and text.strip() == header:
                    repeats.append(n)
                if n >= max(wanted):
                    break
    except OSError:  # the file went away: the error names the rows without this hint
        return None
    if not repeats:
        return None
    return (f"line{'s' if len(repeats) > 1 else ''} {', '.join(map(str, repeats))} repeat{'' if len(repeats) > 1 else 's'} "
            "the header line, as files joined with their headers do: delete the repeated header lines, or put "
            "the files in one folder and read the folder (each file keeps its own header)")


def _with_line(msg: str, examples: pd.DataFrame, col: str) -> str:
    """The message with its first bad value named by line, or as is without line numbers."""
    if "line" not in examples.columns or not len(examples):
        if len(examples) and col in examples.columns:
            return msg.replace("invalid; expected", f"invalid (first: {_shown(examples[col].iloc[0])}); expected", 1)
        return msg
    row = examples.iloc[0]
    value = row[col] if col in examples.columns else None
    lines = ", ".join(str(int(v)) for v in examples["line"])
    return msg.replace("invalid; expected", f"invalid (first at line {int(row['line'])}: {_shown(value)}; lines "
                                            f"{lines}); expected", 1)


def _utc_examples(df: pd.DataFrame) -> pd.DataFrame:
    """Show naive timestamps of example rows as UTC (as they are read), whatever the engine."""
    for c in df.columns:
        if pd.api.types.is_datetime64_dtype(df[c]) and getattr(df[c].dt, "tz", None) is None:
            df[c] = df[c].dt.tz_localize("UTC")
    return df


def _warn_unpriced(n_unpriced: int, n: int, notes: list[Check]) -> None:
    if n_unpriced:
        msg = (f"events: {n_unpriced:,} '{PURCHASE_EVENT}' rows have no revenue (kept, with revenue missing, "
               "not zero); revenue totals and CLV leave them out")
        warnings.warn(msg, JourneyDataWarning, stacklevel=4)
        notes.append(Check("events: purchases without revenue", "warn", msg))


def _warn_future(n_future: int, now: pd.Timestamp, notes: list[Check]) -> None:
    if n_future:
        msg = (f"events: {n_future:,} rows have timestamps after {now:%Y-%m-%d} (in the future) and are left out, "
               "as they would set the end of observation; check the time zone or clock of the source")
        warnings.warn(msg, JourneyDataWarning, stacklevel=4)
        notes.append(Check("events: future timestamps", "warn", msg))


def _row_hash(columns: Mapping[str, ibis.Value]) -> ibis.Value:
    return ibis.struct(dict(columns)).hash()


def _distinct_row_hashes(t: ibis.Table, checks: dict) -> ibis.Value:
    """Aggregate: distinct hashes of the cleaned rows (computed in the checks' pass)."""
    return _row_hash({c: checks[c][0] if c in checks else t[c] for c in t.columns}).nunique()


MAX_DUPLICATE_CUSTOMERS = 10_000


def _drop_duplicates(t: ibis.Table, table: str, n: int, n_hashes: int,
                     notes: list[Check]) -> tuple[ibis.Table, int, list | None]:
    """``t`` without exact duplicate rows, the rows kept, and the customers that had duplicates.

    Distinct row hashes <= distinct rows <= rows: when every hash is distinct, so is every
    row, and nothing more is computed. Otherwise only the rows of customers with a repeated
    hash can be duplicates; for up to :data:`MAX_DUPLICATE_CUSTOMERS` of them, just their
    rows are de-duplicated, so later queries filter on ``customer_id`` instead of running a
    DISTINCT over the whole log (10^8 events with 3 duplicates made every query of a report
    suite a 10^8-row DISTINCT). The customer list is ``None`` beyond that limit.
    """
    if n_hashes == n:
        return t, n, []
    tagged = t.mutate(_h=_row_hash({c: t[c] for c in t.columns}))
    # the repeated hashes from a grouping that carries nothing but a count, then their customers
    # in a second pass: a customer id carried through the grouping costs more than the pass
    # (10^8 events: 23 s against 8 s + 5 s)
    counted = tagged.group_by("_h").aggregate(_n=tagged.count())
    with engine.materialized(counted.filter(counted._n > 1).select("_h")) as repeated:
        ids = tagged.semi_join(repeated, "_h").select("customer_id").distinct()
        customers = sorted(engine.to_pandas(ids.limit(MAX_DUPLICATE_CUSTOMERS + 1))["customer_id"].tolist())
    if len(customers) > MAX_DUPLICATE_CUSTOMERS:
        d, customers = t.distinct(), None
        n_unique = _count(d)
    else:
        d = _without_duplicates(t, customers)
        inside = t.filter(t.customer_id.isin(customers))
        n_unique = n - _count(inside) + _count(inside.distinct())
    _warn_duplicates(table, n - n_unique, n, notes)
    return (d, n_unique, customers) if n_unique < n else (t, n, [])


def _without_duplicates(t: ibis.Table, customers: list) -> ibis.Table:
    """``t`` with the listed customers' rows de-duplicated (no other rows have duplicates)."""
    if not customers:
        return t
    inside = t.customer_id.isin(customers)
    return t.filter(~inside).union(t.filter(inside).distinct())


def _warn_duplicates(table: str, dropped: int, n: int, notes: list[Check]) -> None:
    if dropped:
        warnings.warn(f"{table}: dropped {dropped:,} exact duplicate rows of {n:,}", JourneyDataWarning,
                      stacklevel=5)
        notes.append(Check(f"{table}: duplicate rows", "pass", f"dropped {dropped:,} exact duplicates"))


def _check_unique(t, keys, table, expected):
    dup = t.group_by(keys).aggregate(n=t.count()).filter(lambda g: g.n > 1)
    n_dup = _count(dup)
    if n_dup:
        examples = _utc_examples(t.semi_join(dup, keys).order_by(keys).limit(5).to_pandas())
        raise data_error(",".join(keys), n_dup, None, expected, examples, table=table,
                         hint="keep one row per key before loading")


def content_hash(source: Any) -> str:
    """Short SHA-256 of the input: file bytes for local paths, cell values for DataFrames.

    ``"n/a"`` for other inputs, URIs included (reading a lake's files just to hash them
    would cost a second full read), so their validation is never reused. Within one report
    run, files that keep their size and modification time are hashed once
    (:func:`journeylib.core.shared_tables.remembered_digest`).

    Parameters
    ----------
    source
        A local path (file, glob or folder), a DataFrame, or anything else.

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256, or ``"n/a"``.

    Examples
    --------
    >>> from journeylib.core.load import content_hash
    >>> len(content_hash("data/sample/events.parquet")), content_hash("s3a://bucket/events.parquet")
    (16, 'n/a')
    """
    if engine.is_uri(source):
        return "n/a"
    h = hashlib.sha256()
    if isinstance(source, pd.DataFrame):
        h.update(pd.util.hash_pandas_object(source, index=False).values.tobytes())
        h.update(",".join(map(str, source.columns)).encode())
    elif isinstance(source, (str, Path)):
        files = engine.list_files(str(source)) or [str(source)]
        if len(files) == 1 and Path(files[0]).is_dir():
            files = sorted(str(f) for f in Path(files[0]).rglob("*") if f.is_file())

        def digest() -> str:
            for f in files:
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            return h.hexdigest()[:16]

        return shared_tables.remembered_digest(files, digest)
    else:
        return "n/a"
    return h.hexdigest()[:16]


def _clean(t: ibis.Table, checks: dict, unchanged=()) -> ibis.Table:
    return t.mutate(**{c: col for c, (col, _, _) in checks.items() if c not in unchanged})


def _cache_key(source, t: ibis.Table, table: str, *parts) -> tuple[str | None, str | None]:
    """Content digest and validation-cache key of a file input (``None`` for other inputs)."""
    if engine.is_uri(source):
        return "n/a", None
    if not isinstance(source, (str, Path)):
        return None, None
    try:
        digest = content_hash(source)
    except OSError:
        return "n/a", None
    return digest, validation_cache.key(digest, table, t.get_backend().name, t.schema(), *parts)


def _as_validated(t: ibis.Table, checks: dict, known: dict, table: str,
                  notes: list[Check]) -> tuple[ibis.Table, int, int]:
    """The table as the earlier validation left it (clean columns, duplicates dropped), its rows
    and the duplicate rows dropped."""
    t = _typed_columns(_clean(t, checks, known.get("unchanged", [])), known.get("types", {}))
    t = _without_duplicates(t, known.get("duplicate_customers", []))
    n, dropped = int(known["rows"]), int(known.get("dropped", 0))
    _warn_duplicates(table, dropped, n + dropped, notes)
    return t, n, dropped


def _checked(table: str, n: int, notes: list[Check]) -> None:
    """The health-panel line of a validation pass that ran (a reused one: :func:`_reuse`)."""
    notes.append(Check(f"{table}: validated", "pass", f"checked now: {n:,} rows passed every check"))


def _reuse(ck: str | None, table: str, digest: str | None, notes: list[Check],
           stages: list | None = None) -> dict | None:
    """What an earlier clean validation of the same bytes recorded, noted in the health panel.

    A pass that allowed only the stages ``A`` also passes a check allowing ``B ⊇ A`` or any
    stage (``stages=None``), so notebooks with and without a stage list share one pass.
    """
    known = validation_cache.lookup(ck)
    if known is not None and stages is not None:
        checked = known.get("allowed_stages")
        if checked is None or not set(checked) <= set(stages):
            known = None
    if known is not None:
        notes.append(Check(f"{table}: validated", "pass",
                           f"identical bytes (sha256 {digest}) passed every check before; not re-checked"))
    return known
