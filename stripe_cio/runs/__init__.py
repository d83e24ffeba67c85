"""Pipeline runs: the summary a flow returns, the lock one pushing run holds, and the persons a
run sends (all of them, the first N, or those the latest Stripe events touched)."""

from ._errors import BackfillIncompleteError, RunInProgressError
from ._lock import Release, acquire_run_lock, run_lock
from ._persons import person_updates, touched_persons
from ._status import LedgerStatus, ledger_status
from ._summary import RunSummary
from ._touched import (
    ATTRIBUTES_MARK,
    TouchedCustomers,
    advance_attributes_mark,
    attributes_mark,
    touched_customers,
)

__all__ = [
    "ATTRIBUTES_MARK",
    "BackfillIncompleteError",
    "LedgerStatus",
    "Release",
    "RunInProgressError",
    "RunSummary",
    "TouchedCustomers",
    "acquire_run_lock",
    "advance_attributes_mark",
    "attributes_mark",
    "ledger_status",
    "person_updates",
    "run_lock",
    "touched_customers",
    "touched_persons",
]
