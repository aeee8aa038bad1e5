"""Canonical tables of journeylib and their column types.

``events``      one row per customer interaction; purchases are events too.
``customers``   optional per-customer attributes.
``assignments`` A/B test assignments.
``feedback``    optional survey scores, review ratings and NPS answers (text, if any, is counted,
                never shown).
``messages``    optional message log: ``customer_id, ts, campaign, channel, action`` (send/open/click).
``costs``       optional marketing spend: ``channel, period, spend`` and an optional ``campaign``.

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

FEEDBACK_REQUIRED = ("customer_id", "ts", "kind", "score")
FEEDBACK_OPTIONAL = ("stage", "text")
FEEDBACK_KINDS: tuple[str, ...] = ("survey", "review", "nps")
"""``survey``: a satisfaction score (any scale, e.g. 1-5) about a ``stage``; ``review``: a rating
(e.g. 1-5 stars) left after an order; ``nps``: the answer 0-10 to "how likely are you to recommend
us?"."""

MESSAGES_REQUIRED = ("customer_id", "ts", "campaign", "channel", "action")
MESSAGE_CHANNELS: tuple[str, ...] = ("email", "push", "sms", "retargeting")
"""Channels of the ``messages`` table (the company's outbound messages)."""
MESSAGE_ACTIONS: tuple[str, ...] = ("send", "open", "click")
"""``messages`` rows: a message ``send`` to a customer, and the customer's ``open`` and ``click`` of it
(an open or click has the campaign and channel of its send)."""
MESSAGE_ACTION_NAMES: dict[str, str] = {"sent": "send", "sends": "send", "opened": "open", "opens": "open",
                                        "clicked": "click", "clicks": "click"}
"""Other names of :data:`MESSAGE_ACTIONS` as email tools write them (read in lower case)."""

EXPORT_FORMATS: tuple[str, ...] = ("ga4", "segment", "amplitude", "mixpanel", "posthog", "snowplow", "orders")
"""Export shapes a source's ``format`` may name besides ``canonical`` (:mod:`journeylib.core.readers`)."""

COSTS_REQUIRED = ("channel", "period", "spend")
COSTS_OPTIONAL = ("campaign",)
"""``costs`` rows: the ``spend`` (a non-negative amount, in the currency of ``revenue``) on a
``channel`` (a touchpoint name of the events) in a ``period``: a month (``2024-03``) or a day
(``2024-03-01``); an optional ``campaign`` splits a channel's spend."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "events": EVENTS_REQUIRED, "customers": CUSTOMERS_REQUIRED, "assignments": ASSIGNMENTS_REQUIRED,
    "feedback": FEEDBACK_REQUIRED, "messages": MESSAGES_REQUIRED, "costs": COSTS_REQUIRED}
"""The required columns of each table, by the table's name."""
ONE_VALUE_EXAMPLES: dict[str, dict[str, str]] = {
    "feedback": {"kind": "review"}, "costs": {"channel": "paid_search"},
    "messages": {"channel": "email", "campaign": "newsletter"}, "assignments": {"experiment": "checkout_test"}}
"""Per table, required columns a whole export often has one value of (a review site's kind, one ad platform's
channel, an email tool's channel, one test's experiment), with an example value: a source's ``values`` in
journey.yml gives every row one value."""

AMOUNT_COLUMNS: tuple[str, ...] = ("revenue", "spend", "score")
"""Canonical columns holding amounts: a source's ``decimal: ','`` reads them with a decimal comma."""
COMMA_AMOUNT = r"^\s*[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?\s*$"
"""An amount written with a decimal comma (``1.234,56``, ``13,26``; a dot only groups thousands)."""
THOUSANDS_COMMA = r"^\s*[+-]?\d{1,3}(,\d{3})+(\.\d+)?\s*$"
"""An amount whose commas group thousands under a decimal point (``1,234.56``): read without them."""
CURRENCY_MARK = r"(?:[A-Z]{1,2}\$|[$€£¥₹₩₽₺₪₫₱₴₦]|[A-Z]{3}|kr\.?|zł|Kč)"
"""A currency sign or code written next to an amount: ``$``, ``US$``, ``€``, ``£``, ``EUR``, ``kr``..."""
GROUP_SPACES = " \u00a0\u202f"
"""The spaces that group thousands: a space, a no-break space and a narrow no-break space (the characters
themselves, so that Python's, DuckDB's and Spark's regular expressions read the patterns alike)."""
SPACED_THOUSANDS = rf"^\s*[+-]?[0-9]{{1,3}}([{GROUP_SPACES}][0-9]{{3}})+([.,][0-9]+)?\s*$"
"""An amount whose thousands are grouped by spaces (``1 234,56``, as French, Scandinavian and Polish
spreadsheets write them, often with a no-break space): read without them."""
_NUMBER = rf"[+-]?(?:[0-9]{{1,3}}(?:[{GROUP_SPACES}][0-9]{{3}})+(?:[.,][0-9]+)?|[0-9][0-9.,]*)"
_SPACE = rf"[\s{GROUP_SPACES}]*"
CURRENCY_AMOUNT = (rf"^{_SPACE}([+-]?){_SPACE}({CURRENCY_MARK}){_SPACE}({_NUMBER}){_SPACE}$"
                   rf"|^{_SPACE}({_NUMBER}){_SPACE}({CURRENCY_MARK}){_SPACE}$")
"""An amount with its currency before (``$1,234.56``, ``-€5``, ``EUR 12``; groups 1-3: sign, currency,
number) or after it (``12,50 €``, ``12.00 USD``; groups 4-5: number, currency), as spreadsheets write a
cell formatted as currency. The amount is read without its currency when a column uses one currency."""

ZONE_SUFFIX = (r"[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?\s?(?:Z|z|[+-][0-9]{2}(?::?[0-9]{2})?|UTC|utc|GMT|gmt"
               r"|[A-Za-z]+/[A-Za-z_]+(?:/[A-Za-z_]+)?)\s*$")
"""Text times that end in their zone: an offset (``+01:00``, ``-0500``, PostgreSQL's ``+01``), ``Z``,
``UTC`` / ``GMT`` (BigQuery writes ``2024-05-01 13:45:00 UTC``) or a region (``Europe/Paris``). They
are instants: a source's ``timezone`` applies only to times without one."""

ORDER_KEYS: tuple[str, ...] = ("ts", "event", "channel", "stage")
"""Events of one customer are ordered by these columns: by time, and ties on equal
timestamps by event name, then channel, then stage, so paths never depend on the
row order of the input file."""

PURCHASE_EVENT = "purchase"
"""Event name that marks an order in the sample data (``revenue`` is set on it)."""

CART_EVENT = "add_to_cart"
REVIEW_EVENT = "review"
REFERRAL_EVENT = "referral"
MESSAGE_SENT_EVENT = "message_sent"
MESSAGE_OPEN_EVENT = "message_open"
MESSAGE_CLICK_EVENT = "message_click"

ROLE_EVENTS: dict[str, str] = {
    "purchase": PURCHASE_EVENT,
    "cart": CART_EVENT,
    "review": REVIEW_EVENT,
    "referral": REFERRAL_EVENT,
    "message_sent": MESSAGE_SENT_EVENT,
    "message_open": MESSAGE_OPEN_EVENT,
    "message_click": MESSAGE_CLICK_EVENT,
}
"""Role of an event in a journey definition (``events:`` of ``journey.yml``) -> its canonical
name. The loader renames the role events of a source to these names (keeping the source's
name in ``source_event``), so no analysis needs an event-name parameter."""

OUTBOUND_EVENTS: tuple[str, ...] = ("winback_sent", MESSAGE_SENT_EVENT)
"""Events the company sends (not customer activity): excluded when measuring activity."""

MAX_SEGMENT_GROUPS = 20
"""Most values a segment column may have in a report (GrowthBook caps a dimension at 20 values too):
a split into more groups is a list of near-individual customers, not a comparison of segments. ``init``
guesses no segment with more."""

LIST_SOURCES = ("messages", "feedback", "costs")
"""Tables that may come from several exports (an email tool's log and an SMS tool's, reviews and an NPS
survey, each ad platform's spend): journey.yml's ``sources.<name>`` lists them, each read with its own
keys, and the table is their rows together; ``init`` lists every file it finds for one."""

PLACEHOLDER_IDS = ("null", "none", "nan", "n/a", "na", "#n/a", "nil", "undefined", "unknown", "(not set)",
                   "not set", "(none)", "(null)", "<null>", "-", "anonymous", "guest")
"""Customer ids that are no one's, as exports write a missing id (lower case): read as ids, each would be one
customer holding everyone's events."""
