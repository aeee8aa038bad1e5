"""Run health: the inputs read and the checks raised, shown at the top of every HTML report.

Nothing writes here on its own: neither the loaders nor the analyses. A notebook passes
what it shows to :func:`record` near its end (``jl.record(data, result_a, result_b)``):
a ``Dataset`` (or a ``Loaded`` table) contributes its ``inputs`` (table, source, rows,
content hash, how it was validated) and its loaders' ``checks``; a result contributes
its ``checks``. When a notebook runs under the report runner, the environment variable
``JOURNEYLIB_HEALTH_FILE`` names a JSON file the runner reads after execution to build
the health panel; otherwise the log stays in memory (see :func:`checks`, :func:`inputs`).
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

ENV_VAR = "JOURNEYLIB_HEALTH_FILE"
_STATE: dict[str, list[dict[str, Any]]] = {"inputs": [], "checks": []}


def add_check(name: str, passed: bool, detail: str = "") -> None:
    """Record one pass/fail line for the health panel directly (a notebook's own check).

    Analyses do not call this: their checks travel on their results (see :func:`record`).
    """
    _STATE["checks"].append({"name": name, "passed": bool(passed), "status": "pass" if passed else "fail",
                             "detail": detail})
    _flush()


def record(*items: Any) -> None:
    """Record what a notebook shows: the inputs and checks of datasets, the checks of results.

    ``items`` are analysis results (see :mod:`journeylib.core.result`), datasets from
    :func:`journeylib.load_dataset` or tables from :func:`journeylib.core.load.load_table`:
    anything with ``checks`` (a tuple of ``Check``), and optionally ``inputs`` (a tuple of
    ``InputRecord``). ``None`` entries (a skipped section) are ignored. An input already
    recorded (same table, source, rows and content hash), or a check with the same name,
    status and detail, is not listed twice.
    """
    for item in items:
        if item is None:
            continue
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


def _same_input(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("table", "source", "sha256", "rows"))


def checks() -> list[dict[str, Any]]:
    """Checks recorded so far in this process."""
    return list(_STATE["checks"])


def inputs() -> list[dict[str, Any]]:
    """Inputs recorded so far in this process."""
    return list(_STATE["inputs"])


def reset() -> None:
    """Forget everything recorded (a new run)."""
    _STATE["inputs"].clear()
    _STATE["checks"].clear()
    _flush()


def _flush() -> None:
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(_STATE, fh, default=str)
    os.replace(tmp, path)
