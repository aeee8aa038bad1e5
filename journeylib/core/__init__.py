"""Core: errors, the canonical schema, loading and validation, the engine, run health.

Everything here is shared by the four analysis families; nothing here imports them.
"""
from .engine import connect, to_pandas, to_table
from .errors import (JourneyDataError, JourneyDataWarning, JourneyError, JourneyFitError,
                     JourneyParameterError)
from .journey import Journey, JourneyDefinition, load_journey, read_journey
from .readers import detect_format, read_export
from .load import (load_assignments, load_costs, load_customers, load_events, load_feedback, load_messages,
                   load_table)
from .schema import DEFAULT_STAGES, OUTBOUND_EVENTS, PURCHASE_EVENT

__all__ = ["connect", "to_pandas", "to_table", "load_events", "load_customers", "load_assignments", "load_feedback", "load_messages", "load_costs", "load_table",
           "read_journey", "load_journey", "Journey", "JourneyDefinition", "read_export", "detect_format",
           "JourneyError", "JourneyDataError", "JourneyDataWarning", "JourneyFitError", "JourneyParameterError",
           "DEFAULT_STAGES", "OUTBOUND_EVENTS", "PURCHASE_EVENT"]
