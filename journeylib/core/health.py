"""Run health: inputs read and checks raised, shown at the top of every HTML report.

Analyses call :func:`add_check` (SRM failed, model did not converge, ...) and loaders
call :func:`record_input`. When a notebook runs under the report runner, the
environment variable ``JOURNEYLIB_HEALTH_FILE`` names a JSON file the runner reads
after execution to build the health panel; otherwise this only keeps the log in
memory (see :func:`checks`).
"""
from __future__ import annotations

import json
import os
from typing import Any

ENV_VAR = "JOURNEYLIB_HEALTH_FILE"
_STATE: dict[str, list[dict[str, Any]]] = {"inputs": [], "checks": []}


def record_input(table: str, source: Any, n_rows: int, digest: str | None = None) -> None:
    """Note a loaded table: where it came from, its row count and content hash."""
    from .load import content_hash

    if isinstance(source, (str, os.PathLike)):
        name = str(source)
    else:
        name = f"<{type(source).__name__}>"
    if digest is None:
        try:
            digest = content_hash(source)
        except OSError:
            digest = "n/a"
    _STATE["inputs"].append({"table": table, "source": name, "rows": int(n_rows), "sha256": digest})
    _flush()


def add_check(name: str, passed: bool, detail: str = "") -> None:
    """Record a pass/fail check to show in the report's health panel."""
    _STATE["checks"].append({"name": name, "passed": bool(passed), "detail": detail})
    _flush()


def record(*results: Any) -> None:
    """Record the ``checks`` of analysis results (see :mod:`journeylib.core.result`) for the panel.

    Analyses never write here themselves: a notebook passes the results it shows, so
    the report's health panel lists exactly the checks of what the reader sees.
    ``None`` entries (a skipped section) are ignored.
    """
    for result in results:
        for check in getattr(result, "checks", ()) if result is not None else ():
            _STATE["checks"].append({"name": check.name, "passed": check.status == "pass",
                                     "status": check.status, "detail": check.detail})
    _flush()


def checks() -> list[dict[str, Any]]:
    """Checks recorded so far in this process."""
    return list(_STATE["checks"])


def reset() -> None:
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
