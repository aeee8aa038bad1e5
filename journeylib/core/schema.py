"""Canonical tables of journeylib and their column types.

``events``      one row per customer interaction; purchases are events too.
``customers``   optional per-customer attributes.
``assignments`` A/B test assignments.

Timestamps are UTC. A naive timestamp (no offset) is read as UTC; timestamps with
offsets (even mixed offsets in one column) are converted to UTC.
"""
from __future__ import annotations

DEFAULT_STAGES: tuple[str, ...] = (
    "awareness",
    "consideration",
    "cart",
    "purchase",
    "repeat",
    "advocacy",
)
"""Stage order of the bundled sample; pass your own ``stages=`` for other data."""

CHANNELS: tuple[str, ...] = ("search", "social", "email", "paid_ads", "referral", "direct")
"""Marketing channels used by the simulator."""

EVENTS_REQUIRED = ("customer_id", "ts", "event")
EVENTS_OPTIONAL = ("channel", "stage", "revenue")
EVENTS_COLUMNS = EVENTS_REQUIRED + EVENTS_OPTIONAL

CUSTOMERS_REQUIRED = ("customer_id",)

ASSIGNMENTS_REQUIRED = ("customer_id", "experiment", "variant", "assigned_at")

ORDER_KEYS: tuple[str, ...] = ("ts", "event", "channel", "stage")
"""Events of one customer are ordered by these columns: by time, and ties on equal
timestamps by event name, then channel, then stage, so paths never depend on the
row order of the input file."""

PURCHASE_EVENT = "purchase"
"""Event name that marks an order in the sample data (``revenue`` is set on it)."""

OUTBOUND_EVENTS: tuple[str, ...] = ("winback_sent",)
"""Events the company sends (not customer activity): excluded when measuring activity."""
