"""Stripe extraction: a concurrent, resumable backfill into the ledger, then sync by events, and
the histories of customers the ledger never saw, read customer by customer."""

from .backfiller import backfill, run_id_for
from .clock import EVENT_RETENTION_SECONDS, stripe_now
from .contract import CoveredLedger, LedgerLike
from .events import DEFAULT_OVERLAP_SECONDS, UNREADABLE_PAGE, gap_message, sync_events
from .histories import HISTORY_UNREADABLE, complete_histories
from .pages import MAX_LIMIT, iter_pages
from .progress import ProgressCallback
from .resources import BACKFILL_RESOURCES, BackfillResource, ExtractionStopped
from .summary import BackfillSummary, FailedSlice, HistorySummary, ResourceSummary, SyncSummary

__all__ = [
    "BACKFILL_RESOURCES",
    "DEFAULT_OVERLAP_SECONDS",
    "EVENT_RETENTION_SECONDS",
    "HISTORY_UNREADABLE",
    "MAX_LIMIT",
    "UNREADABLE_PAGE",
    "BackfillResource",
    "BackfillSummary",
    "CoveredLedger",
    "ExtractionStopped",
    "FailedSlice",
    "HistorySummary",
    "LedgerLike",
    "ProgressCallback",
    "ResourceSummary",
    "SyncSummary",
    "backfill",
    "complete_histories",
    "gap_message",
    "iter_pages",
    "run_id_for",
    "stripe_now",
    "sync_events",
]
