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
    """

    events: ibis.Table
    customers: ibis.Table | None
    assignments: ibis.Table | None
    ground_truth: dict[str, Any] | None
    folder: Path | str  # a str for a URI such as s3a://bucket/journeys
    inputs: tuple[InputRecord, ...] = field(default=(), repr=False)
    checks: tuple[Check, ...] = field(default=(), repr=False)


def resolve_data_dir(data_dir: str | Path) -> Path | str:
    """``"sample"`` is the bundled synthetic sample; a URI stays as given; anything else is a folder path."""
    if str(data_dir) == "sample":
        return SAMPLE_DIR
    if engine.is_uri(data_dir):
        return str(data_dir).rstrip("/")
    return Path(data_dir).expanduser().resolve()


def load_dataset(data_dir: str | Path = "sample", *, stages=None) -> Dataset:
    """Load ``events`` (required), ``customers`` and ``assignments`` from a folder.

    Each table is ``<name>.parquet`` or ``<name>.csv``, or a folder ``<name>/`` of such
    files (partitioned one level deep, e.g. by month); ``ground_truth.json`` is read
    when present (the simulator writes it). ``data_dir`` may be a URI
    (``s3a://bucket/journeys``, ``hdfs://...``, ``file:///...``): the current engine
    lists and reads it (:func:`journeylib.engine.list_files`).
    """
    folder = resolve_data_dir(data_dir)
    remote = isinstance(folder, str)
    if not (engine.list_files(f"{folder}/*") if remote else folder.is_dir()):
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
    if ev is None:
        raise JourneyDataError(f"{folder} has no events.parquet or events.csv")
    cu, asg = find("customers"), find("assignments")
    truth = engine.read_text(f"{folder}/ground_truth.json")
    loaded = {"events": load_table("events", ev, stages=stages),
              "customers": load_table("customers", cu) if cu else None,
              "assignments": load_table("assignments", asg) if asg else None}
    found = [x for x in loaded.values() if x is not None]
    return Dataset(
        events=loaded["events"].table,
        customers=loaded["customers"].table if cu else None,
        assignments=loaded["assignments"].table if asg else None,
        ground_truth=json.loads(truth) if truth is not None else None,
        folder=folder,
        inputs=tuple(x.input for x in found),
        checks=tuple(c for x in found for c in x.checks),
    )


def cdnow_events_path() -> Path:
    """CSV of the real CDNOW 1/10 sample purchase log (2,357 customers, 1997-98)."""
    return CDNOW_DIR / "cdnow_sample_events.csv"
