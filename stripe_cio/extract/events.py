"""Incremental sync: apply the events created since the cursor (minus an overlap) to the ledger.

- Events are listed with `created[gte] = cursor - overlap`: Stripe may make an event visible a
  little after its `created` (https://docs.stripe.com/webhooks#event-ordering: delivery order is
  not guaranteed), so a sync that only asked for `created > cursor` would skip an event that
  turned up late. Re-listed events are skipped by id (`processed_event_ids`).
- Events are applied oldest first, in batches; `apply_events` records the batch and moves the
  cursor to the batch's newest `created` in one transaction, so a crash loses nothing and
  repeats nothing.
- A first sync (no cursor) records its start as the cursor before it reads anything, and
  lowers the ledger's history horizon to it (see `stripe_cio/ledger/coverage.py`).
- Stripe keeps events for 30 days (https://docs.stripe.com/api/events). A cursor older than
  that means changes were lost from the events API; objects carry no `updated` field, so only a
  full re-read finds which old objects changed: the sync runs a backfill of every resource,
  then continues from its T0 minus the overlap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

from ..exceptions import ConfigError, StripeAPIError, StripeUnavailableError
from ..ledger import lower_history_horizon
from ..stripe_api import StripeClient
from .backfiller import backfill, run_id_for
from .clock import EVENT_RETENTION_SECONDS, stripe_now
from .contract import LedgerLike, engine_of
from .pages import iter_pages
from .progress import ProgressCallback
from .summary import SyncSummary

log = logging.getLogger(__name__)

DEFAULT_OVERLAP_SECONDS = 600
UNREADABLE_PAGE = "unreadable_page"  # the reject reason of a sync that stopped at such a page
DAY = 86_400


def gap_message(cursor: int, now: int) -> str | None:
    """The warning for a cursor past Stripe's retention (relative to Stripe time `now`), or None."""
    age = now - cursor
    if age <= EVENT_RETENTION_SECONDS:
        return None
    return (
        f"the events cursor is {age / DAY:.1f} days old, past Stripe's 30-day retention; "
        "running a backfill of the gap"
    )


def oldest_first(page_order: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events listed newest first (Stripe's order), reversed: same-second ties keep list order."""
    return page_order[::-1]


def _check_since(since: int, now: int) -> None:
    """A first sync can only start within Stripe's 30-day event retention, not after `now`."""
    if since < now - EVENT_RETENTION_SECONDS:
        raise ConfigError(
            "since",
            f"is {(now - since) / DAY:.1f} days before Stripe's present, past its 30-day event "
            "retention",
            "give a time within the last 30 days (a backfill reads what is older)",
        )
    if since > now:
        raise ConfigError("since", "is after Stripe's present", "give a past time")


async def sync_events(
    client: StripeClient,
    ledger: LedgerLike,
    *,
    overlap: int = DEFAULT_OVERLAP_SECONDS,
    since: int | None = None,
    batch_size: int = 500,
    window: int = DAY,
    workers: int = 16,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.time,
) -> SyncSummary:
    """Bring the ledger up to date from `/v1/events`; see the module docstring.

    Without a cursor (never synced) the listing starts at `since` (within Stripe's 30-day
    retention, else ConfigError), default Stripe's present minus the overlap; with a cursor,
    `since` is ignored (and a message says so). `window` bounds how many seconds of events are
    held in memory at once.
    """
    now = await stripe_now(client, clock)
    cursor = ledger.events_cursor()
    summary = SyncSummary(cursor_before=cursor, cursor_after=cursor, start=0, stripe_now=now)
    if cursor is None:
        if since is not None:
            _check_since(since, now)
        start = since if since is not None else now - overlap
        # Recorded before any page is read: a first sync that fails or is interrupted leaves
        # the cursor at its start, so the next sync resumes from there (minus the overlap)
        # instead of starting afresh from its own present and losing what lies between.
        ledger.set_events_cursor(start)
        summary.cursor_after = ledger.events_cursor()
        # Every customer created from `start` on has all its objects' events in what this
        # sync and the next read: their histories are complete (see ledger/coverage.py).
        if (engine := engine_of(ledger)) is not None:
            lower_history_horizon(engine, start)
    elif (message := gap_message(cursor, now)) is not None:
        log.warning(message)
        summary.messages.append(message)
        result = await backfill(
            client, ledger, run=run_id_for(now), t0=now, workers=workers, progress=progress
        )
        summary.gap_backfill = result
        if not result.complete:
            raise StripeAPIError(
                f"the gap backfill left {len(result.failed)} slice(s) unread "
                f"(first: {result.failed[0].resource} {result.failed[0].start}-"
                f"{result.failed[0].end}: {result.failed[0].error}); the events cursor stays at "
                f"{cursor}; run the sync again to resume run {result.run}"
            )
        # The ledger now holds every object as of T0, so events before T0 - overlap are done.
        ledger.set_events_cursor(now - overlap)
        summary.cursor_after = ledger.events_cursor()
        start = now - overlap
    else:
        start = cursor - overlap
    if cursor is not None and since is not None:
        note = f"the ledger was synced before (cursor {cursor}): since={since} is ignored"
        log.info(note)
        summary.messages.append(note)
    summary.start = start
    low = start
    while True:
        high = low + window if low + window <= now else None
        try:
            await _sync_window(client, ledger, low, high, batch_size, summary)
        except StripeUnavailableError as exc:
            # A page that stayed unreadable after the client's retries (5xx, dropped
            # connections, a 200 whose body is HTML or not JSON): this window's events are not
            # applied and the cursor stays before it. The sync ends as a counted reject with its
            # reason, so the caller's run goes on with what was applied (and can fail on its
            # reject rate); the next sync reads the window again.
            message = f"events from {low} on were not applied, the cursor stays: {exc}"
            log.warning(message)
            summary.messages.append(message)
            summary.rejected[UNREADABLE_PAGE] += 1
            return summary
        if high is None:
            return summary
        low = high


async def _sync_window(
    client: StripeClient,
    ledger: LedgerLike,
    low: int,
    high: int | None,
    batch_size: int,
    summary: SyncSummary,
) -> None:
    """List the events created in `[low, high)` (no upper bound when None) and apply the new."""
    params: dict[str, str | int] = {"created[gte]": low}
    if high is not None:
        params["created[lt]"] = high
    fresh: list[dict[str, Any]] = []
    newest: int | None = None
    pages = iter_pages(client, "/v1/events", params)
    async with aclosing(pages):
        async for data in pages:
            summary.pages += 1
            summary.events_listed += len(data)
            ids = [e["id"] for e in data if isinstance(e.get("id"), str)]
            done = ledger.processed_event_ids(ids)
            summary.duplicates += len(done)
            fresh.extend(e for e in data if e.get("id") not in done)
            created = [e["created"] for e in data if isinstance(e.get("created"), int)]
            if created:
                newest = max(created) if newest is None else max(newest, max(created))
    events = oldest_first(fresh)
    applied_up_to: int | None = None
    for i in range(0, len(events), batch_size):
        batch = events[i : i + batch_size]
        stamps = [e["created"] for e in batch if isinstance(e.get("created"), int)]
        if stamps:
            applied_up_to = max(stamps) if applied_up_to is None else max(applied_up_to, *stamps)
        if applied_up_to is None:
            applied_up_to = low  # a batch without timestamps: keep the cursor where it starts
        result = ledger.apply_events(batch, cursor=applied_up_to)
        summary.batches += 1
        summary.applied += result.applied
        summary.duplicates += result.duplicates
        summary.rejected.update(result.rejected)
        summary.cursor_after = result.cursor
    if newest is not None and (summary.cursor_after is None or newest > summary.cursor_after):
        # Only already-processed events remain newer than the last batch: nothing to record but
        # the cursor itself.
        ledger.set_events_cursor(newest)
        summary.cursor_after = ledger.events_cursor()
