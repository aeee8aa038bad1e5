"""journeylib: customer-journey analytics (funnels, attribution, survival, A/B tests, loyalty)."""
from .engine import connect, to_pandas
from .errors import (JourneyDataError, JourneyDataWarning, JourneyError, JourneyFitError,
                     JourneyParameterError)
from .io import load_assignments, load_customers, load_events
from .schema import DEFAULT_STAGES

__version__ = "0.1.0"

__all__ = [
    "connect", "to_pandas", "load_events", "load_customers", "load_assignments",
    "JourneyError", "JourneyDataError", "JourneyDataWarning", "JourneyFitError",
    "JourneyParameterError", "DEFAULT_STAGES",
]

from .datasets import Dataset, cdnow_events_path, load_dataset  # noqa: E402
from .simulate import SimulatedData, simulate_journeys  # noqa: E402
from .notebook import setup_notebook  # noqa: E402

__all__ += ["Dataset", "load_dataset", "cdnow_events_path", "simulate_journeys", "SimulatedData", "setup_notebook"]
