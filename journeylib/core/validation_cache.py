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


def enabled() -> bool:
    """Whether passes are remembered (``$JOURNEYLIB_CACHE_DIR`` is not the empty string).

    Returns
    -------
    bool

    Examples
    --------
    >>> import os
    >>> from journeylib.core import validation_cache
    >>> before = os.environ.get(validation_cache.ENV_VAR)
    >>> os.environ[validation_cache.ENV_VAR] = ""
    >>> validation_cache.enabled()
    False
    >>> _ = os.environ.pop(validation_cache.ENV_VAR) if before is None else os.environ.update({validation_cache.ENV_VAR: before})
    """
    return _folder() is not None


def key(digest: str, *parts: Any) -> str | None:
    """Cache key of one validation; ``None`` when the input has no content digest.

    Parameters
    ----------
    digest
        Content digest (SHA-256) of the input files; ``""`` or ``"n/a"`` when unknown.
    *parts
        Everything else the checks depend on (table, column mapping, engine, schema).

    Returns
    -------
    str or None
        A hex SHA-256 key, or ``None`` (the input cannot be cached).

    Examples
    --------
    >>> from journeylib.core.validation_cache import key
    >>> len(key("abc123", "events", "duckdb"))
    64
    >>> key("abc123", "events") == key("abc123", "customers")
    False
    >>> key("n/a", "events") is None
    True
    """
    if not digest or digest == "n/a":
        return None
    return hashlib.sha256(json.dumps([digest, _checks_version(), *map(str, parts)]).encode()).hexdigest()


def _checks_version() -> str:
    """Digest of the code that defines the checks: a changed check invalidates old passes."""
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / f).read_bytes() for f in ("load.py", "schema.py", "engine.py"))).hexdigest()[:16]


def lookup(k: str | None) -> dict | None:
    """What a validation that passed with this key recorded (``rows``, ...), or ``None``.

    Parameters
    ----------
    k
        A key from :func:`key` (``None``: nothing cached).

    Returns
    -------
    dict or None
        The values stored by :func:`remember`, or ``None`` when absent, unreadable or the
        cache is off.

    Examples
    --------
    >>> import os, tempfile
    >>> from journeylib.core import validation_cache as vc
    >>> old = os.environ.get(vc.ENV_VAR)
    >>> os.environ[vc.ENV_VAR] = tempfile.mkdtemp()
    >>> k = vc.key("abc123", "events")
    >>> vc.lookup(k) is None
    True
    >>> vc.remember(k, "events.parquet", rows=10)
    >>> vc.lookup(k)
    {'source': 'events.parquet', 'rows': 10}
    >>> _ = os.environ.pop(vc.ENV_VAR) if old is None else os.environ.update({vc.ENV_VAR: old})
    """
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
    """Store a passed validation (atomically; an unwritable cache is silently skipped).

    Parameters
    ----------
    k
        A key from :func:`key` (``None``: nothing is stored).
    source
        The input's source, as shown in the health panel.
    **values
        What the pass recorded; must include ``rows``.

    Returns
    -------
    None

    Examples
    --------
    >>> import os, tempfile
    >>> from journeylib.core import validation_cache as vc
    >>> old = os.environ.get(vc.ENV_VAR)
    >>> os.environ[vc.ENV_VAR] = tempfile.mkdtemp()
    >>> k = vc.key("def456", "events")
    >>> vc.remember(k, "events.csv", rows=3, stages=["visit", "buy"])
    >>> vc.lookup(k)["stages"]
    ['visit', 'buy']
    >>> _ = os.environ.pop(vc.ENV_VAR) if old is None else os.environ.update({vc.ENV_VAR: old})
    """
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
    """Hold the key's lock file while validating, so concurrent runs do not repeat the pass.

    Parameters
    ----------
    k
        A key from :func:`key` (``None``: no lock).

    Yields
    ------
    None
        While the lock is held (released on exit, also when the block raises).

    Examples
    --------
    >>> import os, tempfile
    >>> from journeylib.core import validation_cache as vc
    >>> old = os.environ.get(vc.ENV_VAR)
    >>> os.environ[vc.ENV_VAR] = tempfile.mkdtemp()
    >>> k = vc.key("abc123", "events")
    >>> with vc.exclusive(k):
    ...     if vc.lookup(k) is None:
    ...         vc.remember(k, "events.parquet", rows=10)
    >>> vc.lookup(k)["rows"]
    10
    >>> _ = os.environ.pop(vc.ENV_VAR) if old is None else os.environ.update({vc.ENV_VAR: old})
    """
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
