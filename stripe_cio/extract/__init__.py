"""Stripe extraction: a concurrent, resumable backfill into the ledger, then sync by events."""

from ._access import ExtractionStopped
from ._backfill import backfill, run_id_for
from ._clock import EVENT_RETENTION_SECONDS, stripe_now
from ._contract import LedgerLike
from ._events import DEFAULT_OVERLAP_SECONDS, UNREADABLE_PAGE, gap_message, sync_events
from ._pages import MAX_LIMIT, iter_pages
from ._progress import ProgressCallback
from ._resources import BACKFILL_RESOURCES, BackfillResource
from ._summary import BackfillSummary, FailedSlice, ResourceSummary, SyncSummary

__all__ = [
    "BACKFILL_RESOURCES",
    "DEFAULT_OVERLAP_SECONDS",
    "EVENT_RETENTION_SECONDS",
    "MAX_LIMIT",
    "UNREADABLE_PAGE",
    "BackfillResource",
    "BackfillSummary",
    "ExtractionStopped",
    "FailedSlice",
    "LedgerLike",
    "ProgressCallback",
    "ResourceSummary",
    "SyncSummary",
    "backfill",
    "gap_message",
    "iter_pages",
    "run_id_for",
    "stripe_now",
    "sync_events",
]
