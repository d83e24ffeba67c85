"""`sync-stripe-events`: every 2 minutes. New Stripe events into the ledger, the attributes of
the persons they touched, then the lifecycle events they make, to Customer.io."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Cancelled

from stripe_cio.runs import RunInProgressError, RunSummary
from tasks.attributes import compute_attributes
from tasks.deliver import push_person_updates
from tasks.extract import sync_stripe_events as pull_stripe_events
from tasks.lifecycle import deliver_lifecycle_events
from tasks.pipeline import (
    advance_mark,
    customers_touched_since_mark,
    enforce_reject_rate,
    exclusive_run,
    plan_person_updates,
    publish_summary,
    reject_threshold,
)

from ._options import flow_options

__all__ = ["sync_stripe_events"]

NAME = "sync-stripe-events"


@flow(**flow_options(NAME, "New Stripe events: the ledger, touched persons' attributes, events."))
async def sync_stripe_events(
    stripe_block: str | None = None,
    customerio_block: str | None = None,
    since: datetime | None = None,
    overlap: int = 600,
    notify_block: str | None = None,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Apply Stripe's new events to the ledger, push the changed attributes of the persons they
    touched, then send their lifecycle events (identifies first, so campaigns see them).

    `since` is where a first sync starts (within Stripe's 30 days); `overlap` seconds before the
    cursor are read again for late events. Another pushing run holding the ledger refuses this
    one (Cancelled); the next run picks up where the last one that ran stopped.

    A run whose rejects exceed `max_reject_rate` of its input (default
    STRIPE_CIO_MAX_REJECT_RATE, else 5%) fails after publishing its summary: before pushing
    anything when the Stripe events alone exceed it, else at the end.
    """
    threshold = reject_threshold(max_reject_rate)
    try:
        async with exclusive_run(NAME):
            return await _sync(stripe_block, customerio_block, since, overlap, threshold)
    except RunInProgressError as refused:
        return Cancelled(message=str(refused), data=refused)


async def _sync(
    stripe_block: str | None,
    customerio_block: str | None,
    since: datetime | None,
    overlap: int,
    threshold: float,
) -> RunSummary:
    started = time.monotonic()
    summary = RunSummary(NAME)
    with summary.step("pull Stripe events"):
        first = int(since.timestamp()) if since else None
        synced = await pull_stripe_events(stripe_block, since=first, overlap=overlap)
    summary.add_sync(synced)
    # Stop before pushing anything of a broken account. The lifecycle events stay pending and
    # the attributes mark is not moved past these events, so a later run sends what this one
    # did not.
    await enforce_reject_rate(summary, threshold, started)
    cursor = synced["cursor_after"]
    with summary.step("compute attributes"):
        touched = await customers_touched_since_mark(overlap, new_events=synced["applied"])
        updates = []
        if touched:
            # Stripe's clock may run ahead of ours (the sandbox's does): take the later.
            as_of = max(datetime.now(UTC), datetime.fromtimestamp(cursor or 0, UTC))
            result = await compute_attributes(as_of)
            updates = await plan_person_updates(result, touched=touched)
    if updates:
        with summary.step("push attributes"):
            summary.add_delivery(await push_person_updates(updates, customerio_block))
    if cursor is not None:
        await advance_mark(cursor)
    with summary.step("send lifecycle events"):
        summary.add_lifecycle(await deliver_lifecycle_events(customerio_block))
    await enforce_reject_rate(summary, threshold, started)
    summary.seconds = time.monotonic() - started
    await publish_summary(summary)
    return summary
