"""The bundled datasets and a one-call loader for a folder of canonical files."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis

from .errors import JourneyDataError
from .io import load_assignments, load_customers, load_events
from .paths_config import CDNOW_DIR, SAMPLE_DIR


@dataclass(frozen=True)
class Dataset:
    """Validated tables of one dataset; ``customers``/``assignments`` may be ``None``."""

    events: ibis.Table
    customers: ibis.Table | None
    assignments: ibis.Table | None
    ground_truth: dict[str, Any] | None
    folder: Path


def resolve_data_dir(data_dir: str | Path) -> Path:
    """``"sample"`` is the bundled synthetic sample; anything else is a folder path."""
    return SAMPLE_DIR if str(data_dir) == "sample" else Path(data_dir).expanduser().resolve()


def load_dataset(data_dir: str | Path = "sample", *, stages=None) -> Dataset:
    """Load ``events`` (required), ``customers`` and ``assignments`` from a folder.

    Each table is ``<name>.parquet`` or ``<name>.csv``, or a folder ``<name>/`` of such
    files (partitioned one level deep, e.g. by month); ``ground_truth.json`` is read
    when present (the simulator writes it).
    """
    folder = resolve_data_dir(data_dir)
    if not folder.is_dir():
        raise JourneyDataError(f"data folder not found: {folder}; expected a folder with events.parquet or events.csv")

    def find(name: str) -> Path | str | None:
        for ext in (".parquet", ".csv"):
            if (folder / f"{name}{ext}").exists():
                return folder / f"{name}{ext}"
        part = folder / name
        if part.is_dir():  # a partitioned dataset such as events/month=2024-01/part-0000.parquet
            for pattern in ("*/*.parquet", "*.parquet", "*/*.csv", "*.csv"):
                if any(part.glob(pattern)):
                    return str(part / pattern)
        return None

    ev = find("events")
    if ev is None:
        raise JourneyDataError(f"{folder} has no events.parquet or events.csv")
    cu, asg = find("customers"), find("assignments")
    truth_file = folder / "ground_truth.json"
    return Dataset(
        events=load_events(ev, stages=stages),
        customers=load_customers(cu) if cu else None,
        assignments=load_assignments(asg) if asg else None,
        ground_truth=json.loads(truth_file.read_text()) if truth_file.exists() else None,
        folder=folder,
    )


def cdnow_events_path() -> Path:
    """CSV of the real CDNOW 1/10 sample purchase log (2,357 customers, 1997-98)."""
    return CDNOW_DIR / "cdnow_sample_events.csv"
