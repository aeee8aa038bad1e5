"""One validated, stage-assigned copy of a journey's tables, made once and shared by a run's notebooks.

A report suite runs several notebooks over one journey. Without sharing, each notebook reads
the raw files, re-applies the cleaning casts of validation, assigns stages by the
definition's rules and profiles the log (four full scans) before its first analysis, and
every later query repeats the casts and the stage rules. When ``$JOURNEYLIB_SHARED_TABLES``
names a folder (``journeylib run-all`` sets it to a folder of the run's own, removed when the
run ends), :func:`journeylib.load_journey` writes the loaded tables once there, keyed by the
definition and the content hash of every input file, and every other notebook of the run
reads that copy: no validation, no profiling, and queries over typed, staged columns instead
of the casts over CSV or Parquet.

The copy is a folder of Parquet files per table, written by DuckDB's parallel ``COPY`` (at
10^7 events about 2.6x faster than writing DuckDB's own compressed storage, which is what
a first version used). A table larger than one customer bucket is stored split by bucket
(:func:`journeylib.core.buckets.write_parquet`), so the run's analyses that go bucket by
bucket read those files instead of each writing its own split. Only the embedded DuckDB engine shares, and only inputs with a
content hash (local files): a URI or a DataFrame is loaded as before. Notebooks that start
together take turns (:meth:`SharedTables.exclusive`), so one of them materialises and the
others wait and read.

The queries the notebooks run over that copy are shared too
(:func:`journeylib.core.shared_results.fetch`).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis

from . import buckets
from .shared_results import ENV_VAR, VIEW_PREFIX, folder, locked

# DuckDB threads for writing the copy (``journeylib run-all`` sets every core when it splits the
# cores between notebooks: the notebooks that need the copy wait for it, their cores idle)
THREADS_VAR = "JOURNEYLIB_SHARED_TABLES_THREADS"
FORMAT = 2  # bump when what is stored changes, so an old file is never read as a new one


def remembered_digest(files: Sequence[str], compute: Callable[[], str]) -> str:
    """The content hash of ``files``, computed once per run for files that keep their size and time.

    Every notebook of a run hashes its inputs twice (the shared copy's key, the validation
    cache's key): at 10^8 events about 5 s each time. Within a run (``$JOURNEYLIB_SHARED_TABLES``
    set) the first hash is kept in the run's folder under the files' names, sizes and
    modification times, and the run's other loads reuse it; outside a run, or when a file's
    size or time differs, ``compute`` runs.

    Parameters
    ----------
    files
        The input's files.
    compute
        Computes the hash.

    Returns
    -------
    str

    Examples
    --------
    >>> import os, tempfile
    >>> from journeylib.core.shared_tables import ENV_VAR, remembered_digest
    >>> os.environ[ENV_VAR] = tempfile.mkdtemp()
    >>> f = os.path.join(os.environ[ENV_VAR], "events.csv")
    >>> _ = open(f, "w").write("customer_id,ts")
    >>> remembered_digest([f], lambda: "1234"), remembered_digest([f], lambda: "other")
    ('1234', '1234')
    >>> del os.environ[ENV_VAR]
    """
    where = folder()
    if where is None:
        return compute()
    try:
        stamp = [[os.path.abspath(f), st.st_size, st.st_mtime_ns] for f in files for st in [os.stat(f)]]
    except OSError:
        return compute()
    memo = where / "digests" / hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:32]
    try:
        return memo.read_text()
    except OSError:
        pass
    digest = compute()
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}-{os.getpid()}")
        tmp.write_text(digest)
        os.replace(tmp, memo)
    except OSError:  # a read-only folder: the next load hashes again
        pass
    return digest


@dataclass(frozen=True)
class SharedTables:
    """Where one journey's shared tables live: the folder ``<folder>/<key>`` and ``<key>.json``.

    Attributes
    ----------
    path
        The folder, with one sub-folder of Parquet files per stored table; its description
        (what :meth:`write` was given as ``meta``) sits next to it with the suffix ``.json``
        and is written last, so a description means a complete copy.
    """

    path: Path

    @classmethod
    def of(cls, digests: Mapping[str, str], definition: str, con: ibis.BaseBackend) -> "SharedTables | None":
        """The shared tables of these inputs, or ``None`` when this load does not share.

        Parameters
        ----------
        digests
            Content hash of every input file by source name (``"n/a"``: not hashable).
        definition
            Everything else the tables depend on (the definition's settings), as text.
        con
            The connection the notebook loads with.

        Returns
        -------
        SharedTables or None
            ``None`` when no run shares tables, the engine is not DuckDB or an input has no
            content hash.

        Examples
        --------
        >>> import ibis, os, tempfile
        >>> from journeylib.core.shared_tables import ENV_VAR, SharedTables
        >>> os.environ[ENV_VAR] = tempfile.mkdtemp()
        >>> con = ibis.duckdb.connect()
        >>> SharedTables.of({"events": "0a1b2c3d4e5f6a7b"}, "stages: a, b", con).path.parent == folder()
        True
        >>> SharedTables.of({"events": "n/a"}, "stages: a, b", con) is None
        True
        >>> del os.environ[ENV_VAR]
        """
        where = folder()
        if where is None or con.name != "duckdb" or not digests or any(
                v in ("", "n/a", None) for v in digests.values()):
            return None
        h = hashlib.sha256(json.dumps([FORMAT, sorted(digests.items()), definition]).encode())
        return cls(where / h.hexdigest()[:24])

    @property
    def _meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    @staticmethod
    @contextlib.contextmanager
    def writing_threads(con: ibis.BaseBackend) -> Iterator[None]:
        """DuckDB's threads raised to ``$JOURNEYLIB_SHARED_TABLES_THREADS`` while the copy is made."""
        threads = os.environ.get(THREADS_VAR)
        if not threads or con.name != "duckdb":
            yield
            return
        before = con.raw_sql("SELECT current_setting('threads')").fetchone()[0]
        con.raw_sql(f"SET threads={int(threads)}")
        try:
            yield
        finally:
            con.raw_sql(f"SET threads={int(before)}")

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this key's lock, so one notebook materialises while the others wait."""
        with locked(self.path.with_suffix(".lock")):  # without a lock, each notebook loads on its own
            yield

    def read(self, con: ibis.BaseBackend) -> tuple[dict[str, ibis.Table | None], dict[str, Any]] | None:
        """The stored tables (as views of ``con`` over the copy's files) and their description, or ``None``.

        Parameters
        ----------
        con
            The DuckDB connection to read the copy with.

        Returns
        -------
        tuple or None
            ``(tables, meta)``: every table :meth:`write` stored (``None`` where it was
            ``None``) and its ``meta``; ``None`` when nothing is stored yet.
        """
        try:
            meta = json.loads(self._meta_path.read_text())
        except (OSError, ValueError):
            return None
        if not self.path.is_dir():
            return None
        tables = {name: buckets.read_parquet(con, self.path / name, n, table_name=f"{VIEW_PREFIX}{self.path.name}_{name}")
                  if n else None for name, n in meta["tables"].items()}
        return tables, meta["meta"]

    def write(self, tables: Mapping[str, ibis.Table | None], meta: Mapping[str, Any],
              con: ibis.BaseBackend) -> tuple[dict[str, ibis.Table | None], dict[str, Any]]:
        """Store the tables and their description (atomically), then read them back.

        Parameters
        ----------
        tables
            Name -> Ibis table on ``con`` (``None``: the journey has no such table).
        meta
            JSON-serialisable description returned by :meth:`read` with the tables.
        con
            The DuckDB connection the tables are on.

        Returns
        -------
        tuple
            What :meth:`read` returns now.

        Examples
        --------
        >>> import ibis, os, tempfile
        >>> from journeylib.core.shared_tables import ENV_VAR, SharedTables
        >>> os.environ[ENV_VAR] = tempfile.mkdtemp()
        >>> con = ibis.duckdb.connect()
        >>> shared = SharedTables.of({"events": "0a1b2c3d4e5f6a7b"}, "", con)
        >>> t = ibis.memtable({"customer_id": ["a", "b"], "n": [1, 2]})
        >>> tables, meta = shared.write({"events": t, "costs": None}, {"rows": 2}, con)
        >>> tables["events"].n.sum().to_pyarrow().as_py(), tables["costs"], meta
        (3, None, {'rows': 2})
        >>> again, _ = shared.read(ibis.duckdb.connect())  # another notebook of the run
        >>> again["events"].count().to_pyarrow().as_py()
        2
        >>> del os.environ[ENV_VAR]
        """
        tmp = self.path.with_name(f".{self.path.name}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        split = {}  # table -> number of customer buckets it is stored in (0: no such table)
        try:
            for name, t in tables.items():
                split[name] = 0 if t is None else buckets.write_parquet(t, tmp / name)
            shutil.rmtree(self.path, ignore_errors=True)  # a copy whose description was never written
            os.replace(tmp, self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        described = {"tables": split, "meta": dict(meta)}
        tmp_meta = self._meta_path.with_name(f".{self._meta_path.name}-{os.getpid()}")
        tmp_meta.write_text(json.dumps(described))
        os.replace(tmp_meta, self._meta_path)
        out = self.read(con)
        assert out is not None  # just written
        return out

