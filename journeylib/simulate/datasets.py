"""The bundled datasets and a one-call loader for a folder of canonical files."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis

from ..core import engine
from ..core.errors import JourneyDataError
from ..core.load import InputRecord, load_table
from ..core.locations import CDNOW_DIR, SAMPLE_DIR
from ..core.result import Check


@dataclass(frozen=True)
class Dataset:
    """Validated tables of one dataset; ``customers``/``assignments`` may be ``None``.

    ``inputs`` lists each loaded table as the report's health panel shows it (source,
    rows, content hash, how it was validated); ``checks`` are the loaders' checks
    (validated or reused, duplicates dropped, future timestamps). A notebook hands both
    to the panel with ``jl.record(data, ...)``.

    Attributes
    ----------
    events, customers, assignments, feedback, messages, costs
        Validated Ibis tables in the canonical schema (``customers``/``assignments``/``feedback``/``messages``/
        ``costs``: ``None`` when the folder has none).
    ground_truth
        The simulator's planted truth (``ground_truth.json``), ``None`` for real data.
    folder
        Where the tables were read from (a ``str`` for a URI).
    inputs, checks
        What the health panel shows about each table.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> [x.table for x in ds.inputs]
    ['events', 'customers', 'assignments', 'feedback', 'messages', 'costs']
    >>> ds.events.count().to_pyarrow().as_py()
    52966
    """

    events: ibis.Table
    customers: ibis.Table | None
    assignments: ibis.Table | None
    ground_truth: dict[str, Any] | None
    folder: Path | str  # a str for a URI such as s3a://bucket/journeys
    inputs: tuple[InputRecord, ...] = field(default=(), repr=False)
    checks: tuple[Check, ...] = field(default=(), repr=False)
    feedback: ibis.Table | None = field(default=None, repr=False)
    messages: ibis.Table | None = field(default=None, repr=False)
    costs: ibis.Table | None = field(default=None, repr=False)

    @property
    def caption(self) -> dict[str, Any]:
        """The report's data caption: ``{"name", "simulated", "period_start", "period_end",
        "customers", "events"}``; ``name`` is the folder's name (never a path), ``simulated``
        is true for simulated data (it carries planted truth); dates as ``YYYY-MM-DD``."""
        ev = self.events
        row = engine.to_pandas(ev.aggregate(events=ev.count(), customers=ev.customer_id.nunique(),
                                            first=ev.ts.min(), last=ev.ts.max())).iloc[0]
        name = "sample" if str(self.folder) == str(SAMPLE_DIR) else str(self.folder).rstrip("/\\")
        name = name.replace("\\", "/").rsplit("/", 1)[-1] or "data"

        def day(v):
            import pandas as pd

            return None if v is None or pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d}"

        return {"name": name, "simulated": self.ground_truth is not None,
                "period_start": day(row["first"]), "period_end": day(row["last"]),
                "customers": int(row["customers"]), "events": int(row["events"])}


def resolve_data_dir(data_dir: str | Path) -> Path | str:
    """The folder a ``data_dir`` names.

    Parameters
    ----------
    data_dir
        ``"sample"`` (the bundled synthetic sample), a URI, or a folder path.

    Returns
    -------
    pathlib.Path or str
        The bundled sample's folder, the URI as given (without a trailing ``/``), or the
        folder path made absolute (``~`` expanded).

    Examples
    --------
    >>> from journeylib.simulate.datasets import resolve_data_dir
    >>> resolve_data_dir("sample").name
    'sample'
    >>> resolve_data_dir("s3a://bucket/journeys/")
    's3a://bucket/journeys'
    """
    if str(data_dir) == "sample":
        return SAMPLE_DIR
    if engine.is_uri(data_dir):
        return str(data_dir).rstrip("/")
    return Path(data_dir).expanduser().resolve()


def load_dataset(data_dir: str | Path = "sample", *, stages=None) -> Dataset:
    """Load ``events`` (required), ``customers`` and ``assignments`` from a folder (or a ``.zip`` of one).

    Each table is ``<name>.parquet`` or ``<name>.csv``, or a folder ``<name>/`` of such
    files (partitioned one level deep, e.g. by month); ``ground_truth.json`` is read
    when present (the simulator writes it). ``data_dir`` may be a URI
    (``s3a://bucket/journeys``, ``hdfs://...``, ``file:///...``): the current engine
    lists and reads it (:func:`journeylib.core.engine.list_files`).

    Parameters
    ----------
    data_dir
        ``"sample"`` (the bundled synthetic sample, the default), a folder path, a local ``.zip``
        archive of the folder's files (read as the folder it unpacks to), or a URI.
    stages
        Allowed stage names of the events, in journey order (as in
        :func:`journeylib.core.load.load_events`); any stage when ``None``.

    Returns
    -------
    Dataset
        The validated tables, the ground truth when present, and what the health panel
        shows about each input.

    Examples
    --------
    >>> import journeylib as jl
    >>> ds = jl.load_dataset("sample")
    >>> ds.events.columns
    ('customer_id', 'ts', 'event', 'channel', 'stage', 'revenue', 'score')
    >>> ds.ground_truth is not None
    True
    """
    folder = resolve_data_dir(data_dir)
    remote = isinstance(folder, str)
    if not (engine.list_files(f"{folder}/*") if remote else Path(engine.unzipped_path(str(folder))).is_dir()):
        raise JourneyDataError(f"data folder not found (or empty): {folder}; "
                               "expected a folder with events.parquet or events.csv")

    def find(name: str) -> str | None:
        if not remote:  # events.parquet beside events.csv (or events/) is an error naming them
            return engine.table_files(str(folder), name)
        for ext in (".parquet", ".csv"):
            if engine.list_files(f"{folder}/{name}{ext}"):
                return f"{folder}/{name}{ext}"
        # a partitioned dataset such as events/month=2024-01/part-0000.parquet
        for pattern in ("*/*.parquet", "*.parquet", "*/*.csv", "*.csv"):
            if engine.list_files(f"{folder}/{name}/{pattern}"):
                return f"{folder}/{name}/{pattern}"
        return None

    ev = find("events")
    if ev is None and not remote:  # a folder zipped with its own folder inside (as Finder and Explorer zip one)
        here = Path(engine.unzipped_path(str(folder)))
        inner = [d for d in here.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))]
        if len(inner) == 1 and not any(f.is_file() and not f.name.startswith(".") for f in here.iterdir()):
            folder = folder / inner[0].name
            ev = find("events")
    if ev is None:
        raise JourneyDataError(f"{folder} has no events.parquet or events.csv")
    cu, asg, fb = find("customers"), find("assignments"), find("feedback")
    msg = find("messages")
    co = find("costs")
    truth = engine.read_text(f"{folder}/ground_truth.json")
    loaded = {"events": load_table("events", ev, stages=stages),
              "customers": load_table("customers", cu) if cu else None,
              "assignments": load_table("assignments", asg) if asg else None,
              "feedback": load_table("feedback", fb) if fb else None,
              "messages": load_table("messages", msg) if msg else None,
              "costs": load_table("costs", co) if co else None}
    found = [x for x in loaded.values() if x is not None]
    return Dataset(
        events=loaded["events"].table,
        customers=loaded["customers"].table if cu else None,
        assignments=loaded["assignments"].table if asg else None,
        ground_truth=json.loads(truth) if truth is not None else None,
        folder=folder,
        inputs=tuple(x.input for x in found),
        checks=tuple(c for x in found for c in x.checks),
        feedback=loaded["feedback"].table if fb else None,
        messages=loaded["messages"].table if msg else None,
        costs=loaded["costs"].table if co else None,
    )


def cdnow_events_path() -> Path:
    """CSV of the real CDNOW 1/10 sample purchase log (2,357 customers, 1997-98).

    Returns
    -------
    pathlib.Path
        The bundled file (one row per purchase); read it with :func:`journeylib.core.load.load_events`.

    Examples
    --------
    >>> import journeylib as jl
    >>> jl.cdnow_events_path().name
    'cdnow_sample_events.csv'
    >>> jl.load_events(jl.cdnow_events_path()).count().to_pyarrow().as_py()  # exact duplicate rows dropped
    6898
    """
    return CDNOW_DIR / "cdnow_sample_events.csv"
