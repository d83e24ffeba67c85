"""The local ledger of Stripe objects: normalised tables, bulk upserts, events and cursors.

The contract with extraction is docs/design/ledger-interface.md; the tables are in docs/ledger.md.
"""

from __future__ import annotations

from ..exceptions import LedgerVersionError
from .backfill_runs import (
    BackfillProgress,
    BackfillRun,
    abandon_backfills,
    backfill_progress,
    backfill_run,
    forget_backfill_slices,
    record_backfill_completed,
    record_backfill_started,
    unfinished_backfills,
)
from .coverage import (
    HistoryGaps,
    customer_list_read,
    guest_history_complete,
    history_gaps,
    history_horizon,
    incomplete_among,
    incomplete_customers,
    lower_history_horizon,
    missing_objects,
    namesakes,
    present_customers,
    record_customer_histories,
)
from .delivery_tables import (
    DELIVERY_TABLES,
    LIFECYCLE_TABLES,
    DeadLetterRow,
    DeliveredEvent,
    HandledEvent,
    PersonSnapshot,
    ensure_lifecycle_table,
)
from .diagnose import diagnose_ledger
from .engine import write_transaction
from .events import EVENTS_CURSOR, advance_cursor, read_cursor
from .ledger import LEDGER_RESOURCES, EventsResult, Ledger, WriteResult
from .normalise import Reject
from .resources import (
    BACKFILL_BY_NAME,
    STRIPE_RESOURCES,
    StripeResource,
    register_resource,
    registered_resources,
    unregister_resource,
)
from .tables import table

__all__ = [
    "BACKFILL_BY_NAME",
    "DELIVERY_TABLES",
    "EVENTS_CURSOR",
    "LEDGER_RESOURCES",
    "LIFECYCLE_TABLES",
    "STRIPE_RESOURCES",
    "BackfillProgress",
    "BackfillRun",
    "DeadLetterRow",
    "DeliveredEvent",
    "EventsResult",
    "HandledEvent",
    "HistoryGaps",
    "Ledger",
    "LedgerVersionError",
    "PersonSnapshot",
    "Reject",
    "StripeResource",
    "WriteResult",
    "abandon_backfills",
    "advance_cursor",
    "backfill_progress",
    "backfill_run",
    "customer_list_read",
    "diagnose_ledger",
    "ensure_lifecycle_table",
    "forget_backfill_slices",
    "guest_history_complete",
    "history_gaps",
    "history_horizon",
    "incomplete_among",
    "incomplete_customers",
    "lower_history_horizon",
    "missing_objects",
    "namesakes",
    "present_customers",
    "read_cursor",
    "record_backfill_completed",
    "record_backfill_started",
    "record_customer_histories",
    "register_resource",
    "registered_resources",
    "table",
    "unfinished_backfills",
    "unregister_resource",
    "write_transaction",
]
