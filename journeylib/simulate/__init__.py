"""Synthetic journeys with planted truth, and the bundled datasets."""
from .datasets import Dataset, cdnow_events_path, load_dataset
from .exports import write_export
from .journeys import SimulatedData, SimulatedExits, simulate_exits, simulate_journeys, simulate_to_parquet

__all__ = ["simulate_journeys", "simulate_to_parquet", "SimulatedData", "load_dataset", "Dataset",
           "cdnow_events_path", "write_export", "simulate_exits", "SimulatedExits"]
