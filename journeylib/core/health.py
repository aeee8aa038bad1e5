"""Run health: the inputs read and the checks raised, shown at the top of every HTML report.

Nothing writes here on its own: neither the loaders nor the analyses. A notebook passes
what it shows to :func:`record` near its end (``jl.record(data, result_a, result_b)``):
a ``Dataset`` (or a ``Loaded`` table) contributes its ``inputs`` (table, source, rows,
content hash, how it was validated) and its loaders' ``checks``; a result contributes
its ``checks``. When a notebook runs under the report runner, the environment variable
``JOURNEYLIB_HEALTH_FILE`` names a JSON file the runner reads after execution to build
the health panel; otherwise the log stays in memory (see :func:`checks`, :func:`inputs`).

A notebook section that could not be computed (see
:func:`journeylib.report.notebook.section`) is recorded in ``sections``
(:func:`add_section`): ``{"name", "status" ("failed" or "skipped"), "reason"}``; the
report is then "partial", naming them.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from .errors import JourneyParameterError

ENV_VAR = "JOURNEYLIB_HEALTH_FILE"
_STATE: dict[str, list[dict[str, Any]]] = {"inputs": [], "checks": [], "sections": [], "findings": [],
                                            "captions": []}
_OPEN_SECTIONS: list[str] = []  # titles of the enclosing ``with jl.section(...)`` blocks, innermost last
SECTION_STATUSES = ("ok", "failed", "skipped")


def add_check(name: str, passed: bool, detail: str = "") -> None:
    """Record one pass/fail line for the health panel directly (a notebook's own check).

    Analyses do not call this: their checks travel on their results (see :func:`record`).

    Parameters
    ----------
    name
        Short name of the check, as shown in the panel.
    passed
        Whether it passed (status ``"pass"``, otherwise ``"fail"``).
    detail
        One line on what was checked and what was found.

    Returns
    -------
    None

    Examples
    --------
    >>> from journeylib.core import health
    >>> health.reset()
    >>> health.add_check("orders file read", True, "1,204 rows")
    >>> health.checks()
    [{'name': 'orders file read', 'passed': True, 'status': 'pass', 'detail': '1,204 rows'}]
    >>> health.reset()
    """
    _STATE["checks"].append({"name": name, "passed": bool(passed), "status": "pass" if passed else "fail",
                             "detail": detail})
    _flush()


def record(*items: Any, headline: bool = False) -> None:
    """Record what a notebook shows: the inputs and checks of datasets, the checks and findings of results.

    ``items`` are analysis results (see :mod:`journeylib.core.result`), datasets from
    :func:`journeylib.load_dataset` or tables from :func:`journeylib.core.load.load_table`:
    anything with ``checks`` (a tuple of ``Check``), and optionally ``inputs`` (a tuple of
    ``InputRecord``). ``None`` entries (a skipped section) are ignored. An input already
    recorded (same table, source, rows and content hash), or a check with the same name,
    status and detail, is not listed twice.

    Each result's ``findings`` are recorded as ``{"text", "action", "value", "ci_low",
    "ci_high", "section", "headline"}``: ``section`` is the title of the enclosing
    ``with jl.section(...)`` block ("" outside one), ``headline`` says the report's findings
    box opens with them (give ``headline=True`` for the 3-5 results that matter most, in
    order of importance). A dataset or journey with a ``caption`` (see
    :attr:`journeylib.core.journey.Journey.caption`) records the report's data caption.

    Parameters
    ----------
    *items
        Results, datasets or loaded tables (``None`` is ignored).
    headline
        Whether these results' findings open the report's findings box.

    Returns
    -------
    None

    Examples
    --------
    >>> import journeylib as jl
    >>> from types import SimpleNamespace
    >>> from journeylib.core import health
    >>> from journeylib.core.result import Check, Finding
    >>> health.reset()
    >>> ds = jl.load_dataset("sample")
    >>> result = SimpleNamespace(findings=(Finding("Email brings 31% of conversions", 0.31, 0.27, 0.35),),
    ...                          checks=(Check("enough conversions", "pass", "10,452"),))
    >>> health.record(ds, result, None, headline=True)
    >>> [row["table"] for row in health.inputs()][:2]
    ['events', 'customers']
    >>> health.findings()[0]["ci_low"], health.findings()[0]["headline"]
    (0.27, True)
    >>> health.captions()[0]["customers"]
    5000
    >>> health.reset()
    """
    for item in items:
        if item is None:
            continue
        caption = _caption_of(item)
        if caption is not None and caption not in _STATE["captions"]:
            _STATE["captions"].append(caption)
        for finding in _findings_of(item):
            row = {"text": str(finding.text), "action": str(getattr(finding, "action", "") or ""),
                   "value": _number(getattr(finding, "value", None)),
                   "ci_low": _number(getattr(finding, "ci_low", None)),
                   "ci_high": _number(getattr(finding, "ci_high", None)),
                   "section": current_section(), "headline": bool(headline)}
            seen = next((f for f in _STATE["findings"] if f["text"] == row["text"]
                         and f["section"] == row["section"]), None)
            if seen is None:
                _STATE["findings"].append(row)
            elif headline:
                seen["headline"] = True
        for record_ in getattr(item, "inputs", ()):
            row = dataclasses.asdict(record_) if dataclasses.is_dataclass(record_) else dict(record_)
            if not any(_same_input(row, seen) for seen in _STATE["inputs"]):
                _STATE["inputs"].append(row)
        for check in getattr(item, "checks", ()):
            row = {"name": check.name, "passed": check.status == "pass", "status": check.status,
                   "detail": check.detail}
            if row not in _STATE["checks"]:  # two results saying the same thing: one line
                _STATE["checks"].append(row)
    _flush()


def _caption_of(item: Any) -> dict[str, Any] | None:
    """The data caption of a dataset or journey (its ``caption`` property), ``None`` for anything else."""
    if not isinstance(getattr(type(item), "caption", None), property):
        return None
    caption = item.caption
    return {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
            for k, v in dict(caption).items()} if caption else None


def _findings_of(item: Any) -> tuple:
    found = getattr(item, "findings", ())
    if callable(found) or isinstance(found, (str, bytes)):
        return ()
    try:
        return tuple(f for f in found if hasattr(f, "text"))
    except TypeError:
        return ()


def _number(x: Any) -> float | None:
    """A finding's number as a plain float (``None`` when missing or not finite)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v and v not in (float("inf"), float("-inf")) else None


def enter_section(title: str) -> None:
    """Findings recorded from now on belong to section ``title`` (see :class:`journeylib.report.notebook.section`).

    Parameters
    ----------
    title
        The section's title.

    Returns
    -------
    None

    Examples
    --------
    >>> from journeylib.core import health
    >>> health.reset()
    >>> health.enter_section("Channels")
    >>> health.current_section()
    'Channels'
    >>> health.reset()
    """
    _OPEN_SECTIONS.append(str(title))


def leave_section(title: str) -> None:
    """End section ``title`` (and any section opened inside it and not closed).

    Parameters
    ----------
    title
        The title given to :func:`enter_section`; an unknown title is ignored.

    Returns
    -------
    None

    Examples
    --------
    >>> from journeylib.core import health
    >>> health.reset()
    >>> health.enter_section("Channels")
    >>> health.enter_section("Email")
    >>> health.leave_section("Channels")
    >>> health.current_section()
    ''
    """
    title = str(title)
    if title in _OPEN_SECTIONS:
        del _OPEN_SECTIONS[len(_OPEN_SECTIONS) - 1 - _OPEN_SECTIONS[::-1].index(title):]


def current_section() -> str:
    """Title of the innermost open section ("" outside any).

    Returns
    -------
    str
        The innermost open section's title, or ``""``.

    Examples
    --------
    >>> from journeylib.core import health
    >>> health.reset()
    >>> health.current_section()
    ''
    >>> health.enter_section("Retention")
    >>> health.current_section()
    'Retention'
    >>> health.reset()
    """
    return _OPEN_SECTIONS[-1] if _OPEN_SECTIONS else ""


def findings() -> list[dict[str, Any]]:
    """Findings recorded so far in this process (see :func:`record`).

    Returns
    -------
    list of dict
        Copies of ``{"text", "action", "value", "ci_low", "ci_high", "section", "headline"}``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from journeylib.core import health
    >>> from journeylib.core.result import Finding
    >>> health.reset()
    >>> health.enter_section("Channels")
    >>> health.record(SimpleNamespace(findings=(Finding("Email brings 31% of conversions", 0.31),), checks=()))
    >>> [(f["text"], f["value"], f["section"]) for f in health.findings()]
    [('Email brings 31% of conversions', 0.31, 'Channels')]
    >>> health.reset()
    """
    return [dict(f) for f in _STATE["findings"]]


def captions() -> list[dict[str, Any]]:
    """Data captions recorded so far in this process (one per dataset recorded).

    Returns
    -------
    list of dict
        Copies of the captions (name, period, customers, events, ...).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core import health
    >>> health.reset()
    >>> health.record(jl.load_dataset("sample"))
    >>> caption = health.captions()[0]
    >>> caption["name"], caption["events"]
    ('sample', 52966)
    >>> health.reset()
    """
    return [dict(c) for c in _STATE["captions"]]


def _same_input(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("table", "source", "sha256", "rows"))


def add_section(name: str, status: str, reason: str = "") -> None:
    """Record the outcome of a notebook section: ``"failed"`` (with the reason), ``"skipped"``
    (it needs a section that failed) or ``"ok"``.

    Only sections that did not complete are listed; a section recorded again (a cell run
    twice) replaces its earlier entry, and ``"ok"`` removes it.

    Parameters
    ----------
    name
        The section's title.
    status
        ``"ok"``, ``"failed"`` or ``"skipped"``.
    reason
        Why it failed or was skipped.

    Returns
    -------
    None

    Examples
    --------
    >>> from journeylib.core import health
    >>> health.reset()
    >>> health.add_section("Win-back", "failed", "no win-back messages in the log")
    >>> health.sections()
    [{'name': 'Win-back', 'status': 'failed', 'reason': 'no win-back messages in the log'}]
    >>> health.add_section("Win-back", "ok")
    >>> health.sections()
    []
    """
    if status not in SECTION_STATUSES:
        raise JourneyParameterError(f"status={status!r}; expected one of {SECTION_STATUSES}")
    rows = [s for s in _STATE["sections"] if s["name"] != str(name)]
    if status != "ok":
        rows.append({"name": str(name), "status": status, "reason": str(reason)})
    _STATE["sections"][:] = rows
    _flush()


def sections() -> list[dict[str, Any]]:
    """Sections that did not complete in this process: ``{"name", "status", "reason"}``.

    Returns
    -------
    list of dict
        Copies of the recorded sections, in the order recorded.

    Examples
    --------
    >>> from journeylib.core import health
    >>> health.reset()
    >>> health.add_section("Churn", "skipped", "needs Retention")
    >>> [s["status"] for s in health.sections()]
    ['skipped']
    >>> health.reset()
    """
    return [dict(s) for s in _STATE["sections"]]


def checks() -> list[dict[str, Any]]:
    """Checks recorded so far in this process.

    Returns
    -------
    list of dict
        ``{"name", "passed", "status", "detail"}`` per check, in the order recorded.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from journeylib.core import health
    >>> from journeylib.core.result import Check
    >>> health.reset()
    >>> health.record(SimpleNamespace(checks=(Check("fit converged", "warn", "2 restarts"),)))
    >>> [(c["name"], c["status"], c["passed"]) for c in health.checks()]
    [('fit converged', 'warn', False)]
    >>> health.reset()
    """
    return list(_STATE["checks"])


def inputs() -> list[dict[str, Any]]:
    """Inputs recorded so far in this process.

    Returns
    -------
    list of dict
        One row per input table (table, source, rows, content hash, how it was validated).

    Examples
    --------
    >>> import journeylib as jl
    >>> from journeylib.core import health
    >>> health.reset()
    >>> ds = jl.load_dataset("sample")
    >>> health.record(ds, ds)  # the same inputs are listed once
    >>> len(health.inputs())
    6
    >>> health.reset()
    """
    return list(_STATE["inputs"])


def reset() -> None:
    """Forget everything recorded (a new run).

    Returns
    -------
    None

    Examples
    --------
    >>> from journeylib.core import health
    >>> health.add_check("orders file read", True)
    >>> health.reset()
    >>> health.checks(), health.sections(), health.current_section()
    ([], [], '')
    """
    _STATE["inputs"].clear()
    _STATE["checks"].clear()
    _STATE["sections"].clear()
    _STATE["findings"].clear()
    _STATE["captions"].clear()
    _OPEN_SECTIONS.clear()
    _flush()


def _flush() -> None:
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(_STATE, fh, default=str)
    os.replace(tmp, path)
