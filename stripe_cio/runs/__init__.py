"""Pipeline runs: the summary a flow returns, the lock one pushing run holds, the persons a run
sends (all of them, the first N, or those the latest Stripe events touched), and the reject-rate
threshold a run must stay under."""

from .errors import (
    BackfillIncompleteError,
    EventsIncompleteError,
    HistoriesIncompleteError,
    RejectRateExceededError,
    RunFailedError,
    RunInProgressError,
)
from .lock import Release, acquire_run_lock, run_lock
from .persons import complete_persons, person_updates, touched_persons
from .reasons import REASONS, explain
from .status import LedgerStatus, ledger_status
from .summary import DEFAULT_MAX_REJECT_RATE, RunSummary, reject_rate_problem
from .touched import (
    ATTRIBUTES_MARK,
    TouchedCustomers,
    advance_attributes_mark,
    attributes_mark,
    touched_customers,
)

__all__ = [
    "ATTRIBUTES_MARK",
    "DEFAULT_MAX_REJECT_RATE",
    "REASONS",
    "BackfillIncompleteError",
    "EventsIncompleteError",
    "HistoriesIncompleteError",
    "LedgerStatus",
    "RejectRateExceededError",
    "Release",
    "RunFailedError",
    "RunInProgressError",
    "RunSummary",
    "TouchedCustomers",
    "acquire_run_lock",
    "advance_attributes_mark",
    "attributes_mark",
    "complete_persons",
    "explain",
    "ledger_status",
    "person_updates",
    "reject_rate_problem",
    "run_lock",
    "touched_customers",
    "touched_persons",
]
