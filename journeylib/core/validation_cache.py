"""Remember which input files passed validation, so later notebooks over the same bytes skip it.

A report suite runs five notebooks over one dataset; each would otherwise repeat the same
full validation pass (10^8 events: about a minute each). The key is the SHA-256 of the
files' bytes plus everything else the checks depend on (table, column mapping, engine,
schema, and the source of the checks themselves), so an edited file, or an edited check,
is validated again. The stages a pass allowed are stored with it (the loader decides
whether they cover a new stage list).
A pass that dropped exact duplicates is stored with the customers whose rows had them,
so a reuse drops the same rows (and warns again) without a new pass. Inputs with
problems (an error, future timestamps) are checked, and reported, every time.

Processes validating the same key take turns (:func:`exclusive`): two notebooks that start
together over one dataset validate it once, the second reusing the first's pass.

The cache lives in ``$JOURNEYLIB_CACHE_DIR`` (default ``~/.cache/journeylib``); set it
to an empty string to turn it off.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, concurrent runs each validate
    fcntl = None

ENV_VAR = "JOURNEYLIB_CACHE_DIR"


def _folder() -> Path | None:
    value = os.environ.get(ENV_VAR)
    if value == "":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "journeylib"


def key(digest: str, *parts: Any) -> str | None:
    """Cache key of one validation; ``None`` when the input has no content digest."""
    if not digest or digest == "n/a":
        return None
    return hashlib.sha256(json.dumps([digest, _checks_version(), *map(str, parts)]).encode()).hexdigest()


def _checks_version() -> str:
    """Digest of the code that defines the checks: a changed check invalidates old passes."""
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / f).read_bytes() for f in ("load.py", "schema.py", "engine.py"))).hexdigest()[:16]


def lookup(k: str | None) -> dict | None:
    """What a validation that passed with this key recorded (``rows``, ...), or ``None``."""
    folder = _folder()
    if k is None or folder is None:
        return None
    try:
        found = json.loads((folder / f"validated-{k}.json").read_text())
        int(found["rows"])
        return found
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember(k: str | None, source: str, **values: Any) -> None:
    """Store a passed validation (atomically; an unwritable cache is silently skipped)."""
    folder = _folder()
    if k is None or folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as fh:
            json.dump({"source": source, **values}, fh)
        os.replace(fh.name, folder / f"validated-{k}.json")
    except OSError:
        pass


@contextlib.contextmanager
def exclusive(k: str | None) -> Iterator[None]:
    """Hold the key's lock file while validating, so concurrent runs do not repeat the pass."""
    folder = _folder()
    if k is None or folder is None or fcntl is None:
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fh = open(folder / f"validated-{k}.lock", "a")
    except OSError:
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, also if validation raises
        yield
