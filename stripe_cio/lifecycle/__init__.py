"""Lifecycle events: Stripe events that start Customer.io campaigns (docs/events.md).

`map_event` turns one Stripe event into Customer.io items (or a skip reason), purely;
`pending_lifecycle` reads the processed events not yet handed to delivery from the ledger and
maps them; `send_lifecycle_events` delivers them, exactly once, and records them as handled.
"""

from ..ledger import LIFECYCLE_TABLES, HandledEvent, ensure_lifecycle_table
from .actions import ActionResult, action_item, send_actions
from .changes import CHANGES, Change, SubscriptionState, classify, states
from .map import map_event
from .model import (
    ChargeRecord,
    CustomerRecord,
    LedgerLookup,
    Lookup,
    Mapped,
    PersonAction,
    PriceRecord,
    Skipped,
)
from .pending import (
    LifecycleBatch,
    backfill_before,
    lookup_for,
    mark_handled,
    pending_lifecycle,
)
from .rules import RULES, Rule
from .run import send_lifecycle_events
from .settings import (
    CUSTOMER_DELETED,
    DEFAULT_EVENT_NAMES,
    LIFECYCLE_ENV_NAMES,
    LifecycleSettings,
    lifecycle_settings_from_env,
)
from .summary import LifecycleSummary

__all__ = [
    "CHANGES",
    "CUSTOMER_DELETED",
    "DEFAULT_EVENT_NAMES",
    "LIFECYCLE_ENV_NAMES",
    "LIFECYCLE_TABLES",
    "RULES",
    "ActionResult",
    "Change",
    "ChargeRecord",
    "CustomerRecord",
    "HandledEvent",
    "LedgerLookup",
    "LifecycleBatch",
    "LifecycleSettings",
    "LifecycleSummary",
    "Lookup",
    "Mapped",
    "PersonAction",
    "PriceRecord",
    "Rule",
    "Skipped",
    "SubscriptionState",
    "action_item",
    "backfill_before",
    "classify",
    "ensure_lifecycle_table",
    "lifecycle_settings_from_env",
    "lookup_for",
    "map_event",
    "mark_handled",
    "pending_lifecycle",
    "send_actions",
    "send_lifecycle_events",
    "states",
]
