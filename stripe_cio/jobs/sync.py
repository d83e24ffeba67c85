"""The `sync` job: new Stripe events into the ledger, the histories of customers the ledger
lacks, the changed attributes of the persons the events touched, then their lifecycle events.

Order matters. Histories are read before anything about their persons is computed or sent; the
attributes go before the lifecycle events, so that a campaign started by an event sees them;
the attributes mark moves only after the push, so a run that stops before it leaves the same
persons to the next run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection

from ..attributes import attribute_settings_from_env
from ..cio_api import CustomerIOClient
from ..extract import (
    DEFAULT_OVERLAP_SECONDS,
    UNREADABLE_PAGE,
    SyncSummary,
    sync_events,
)
from ..ledger import Ledger
from ..lifecycle import LifecycleSummary, lifecycle_settings_from_env, send_lifecycle_events
from ..runs import (
    EventsIncompleteError,
    RunSummary,
    TouchedCustomers,
    advance_attributes_mark,
    attributes_mark,
    touched_customers,
)
from ..settings import CustomerIOSettings
from ..stripe_api import StripeClient
from .common import Connections, JobRun, opened_job, reject_threshold
from .histories import read_missing_histories
from .profiles import PlannedUpdates, plan_touched_updates, push_updates
from .runner import StepRunner

SYNC = "sync-stripe-events"
# How long a passed integrity check stands for the sync (the nightly jobs check every time).
INTEGRITY_CHECK_EVERY = 24 * 3600


async def sync_job(
    conns: Connections,
    runner: StepRunner,
    *,
    since: int | None = None,
    overlap: int = DEFAULT_OVERLAP_SECONDS,
    ledger_only: bool = False,
    max_reject_rate: float | None = None,
    clock: Callable[[], float] = time.time,
) -> RunSummary:
    """Apply Stripe's new events to the ledger, then (unless `ledger_only`) push the touched
    persons' changed attributes and send their lifecycle events, once each.

    `since` is where a first sync starts (within Stripe's 30 days; it is recorded as the cursor
    before anything is read, so a failed first sync resumes there); `overlap` seconds before the
    cursor are read again for late events. A pushing sync takes the ledger's push lock
    (RunInProgressError when another run holds it). The run fails after publishing its summary
    when its rejects exceed the threshold (before pushing anything when the Stripe events alone
    do), when an events page stayed unreadable, or when a customer's history could not be read.
    """
    threshold = reject_threshold(max_reject_rate)
    stripe = conns.stripe_settings()
    customerio = None if ledger_only else conns.customerio_settings()
    name = f"{SYNC} (ledger only)" if ledger_only else SYNC
    # True at any point: the cursor moves with the events it covers, the attributes mark after
    # their push, and what Customer.io accepted is recorded as the run stops.
    interrupted = (
        "interrupted: sync stopped; nothing half-sent: the next sync continues from the cursor"
    )
    async with (
        opened_job(
            conns,
            runner,
            RunSummary(name),
            threshold,
            lock="push",
            skip_lock=ledger_only,
            interrupted=interrupted,
            # The check reads the whole file: a sync every few minutes runs it once a day.
            check_every=INTEGRITY_CHECK_EVERY,
        ) as (ledger, job),
        StripeClient(stripe) as client,
    ):
        await _sync(job, ledger, client, customerio, since, overlap, clock)
    return job.summary


async def _sync(
    job: JobRun,
    ledger: Ledger,
    client: StripeClient,
    customerio: CustomerIOSettings | None,
    since: int | None,
    overlap: int,
    clock: Callable[[], float],
) -> None:
    runner, summary = job.runner, job.summary

    async def pull() -> SyncSummary:
        return await sync_events(client, ledger, since=since, overlap=overlap)

    synced = await job.step("pull Stripe events", pull, retry=True)
    for message in synced.messages:
        runner.warning(message)
    runner.info(
        f"events sync: {synced.events_listed} listed, {synced.applied} applied, "
        f"{synced.duplicates} already processed; cursor {synced.cursor_before} -> "
        f"{synced.cursor_after}"
    )
    summary.add_sync(synced)
    # Stop before pushing anything of a broken account: the lifecycle events stay pending and
    # the attributes mark stays, so a later run sends what this one did not.
    job.check_rejects()
    if customerio is not None:
        mark = attributes_mark(ledger.engine)
        since_mark = None if mark is None else mark - overlap
        await deliver_events(
            job, ledger, client, customerio, since_mark, synced.cursor_after, clock,
            touched=lambda: _touched(ledger, since_mark, synced, mark),
        )  # fmt: skip
        if synced.cursor_after is not None:
            advance_attributes_mark(ledger.engine, synced.cursor_after)
        await send_lifecycle(job, ledger, customerio)
    job.check_rejects()
    if synced.rejected.get(UNREADABLE_PAGE):
        raise EventsIncompleteError(
            f"{SYNC}: {synced.messages[-1] if synced.messages else 'an events page was unreadable'}"
            "; run the sync again to read them"
        )


async def deliver_events(
    job: JobRun,
    ledger: Ledger,
    client: StripeClient,
    customerio: CustomerIOSettings,
    since_mark: int | None,
    stripe_time: int | None,
    clock: Callable[[], float],
    *,
    touched: Callable[[], Awaitable[TouchedCustomers]],
    event_ids: Collection[str] | None = None,
) -> None:
    """The histories the ledger lacks of the events' persons (the events since `since_mark`,
    or `event_ids`), then the changed attributes of the persons `touched` finds: the sync's
    delivery, which the webhook receiver runs too (`stripe_cio.webhooks.delivery`)."""
    runner, summary = job.runner, job.summary
    await read_missing_histories(job, ledger, client, since_mark, event_ids)
    persons = await touched()
    runner.info(
        f"{len(persons.customers)} customers and {len(persons.guest_emails)} guests "
        "touched by new Stripe events"
    )
    if not persons:
        return
    # Stripe's clock may run ahead of ours (the sandbox's does): take the later.
    as_of = max(int(clock()), stripe_time or 0)
    settings = attribute_settings_from_env()

    async def compute_step() -> PlannedUpdates:
        return await asyncio.to_thread(plan_touched_updates, ledger, settings, as_of, persons)

    planned = await job.step("compute attributes", compute_step)
    summary.add_skipped(planned.skipped)
    if planned.updates:
        await push_updates(job, ledger, customerio, planned.updates)


async def _touched(
    ledger: Ledger, since_mark: int | None, synced: SyncSummary, mark: int | None
) -> TouchedCustomers:
    """Customers of the events since the attributes mark less the overlap; of every recorded
    event while there is no mark (a first sync killed after moving the cursor would otherwise
    leave its events' persons unpushed). Nobody new when no event is new and the mark is at the
    cursor."""
    cursor = synced.cursor_after
    if not synced.applied and mark is not None and cursor is not None and mark >= cursor:
        return TouchedCustomers()
    return await asyncio.to_thread(touched_customers, ledger.engine, since_mark)


async def send_lifecycle(job: JobRun, ledger: Ledger, customerio: CustomerIOSettings) -> None:
    """Send the lifecycle events of every processed Stripe event not yet handled, once each."""
    settings = lifecycle_settings_from_env()
    identity = attribute_settings_from_env()

    async def send() -> LifecycleSummary:
        async with CustomerIOClient(customerio) as client:
            return await send_lifecycle_events(client, ledger, settings, identity)

    sent = await job.step("send lifecycle events", send, retry=True)
    job.runner.info(
        f"lifecycle events: {sent.events_read} Stripe events read, {sent.events_mapped} mapped, "
        f"{sent.delivery.events_new} sent, {sent.delivery.events_rejected} rejected"
    )
    job.summary.add_lifecycle(sent)
