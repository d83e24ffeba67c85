"""Prefect tasks over Customer.io delivery: person updates, events, dead-letter replay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from blocks import customerio_settings
from stripe_cio import ledger_settings_from_env
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import (
    DeliveryStore,
    DeliverySummary,
    EventItem,
    Kind,
    PersonUpdate,
    deliver,
    replay_dead_letters,
)
from stripe_cio.ledger import Ledger

from ._retry import transient_only

__all__ = ["push_events", "push_person_updates", "replay_customerio_dead_letters"]

# Coarse retries for a Customer.io that stayed away longer than the client's own retries; a
# retry resends only what was not accepted (snapshots and delivered events are in the ledger).
_RETRY_DELAYS = exponential_backoff(backoff_factor=30)

Run = Callable[[CustomerIOClient | None, DeliveryStore], Awaitable[DeliverySummary]]


async def _run(cio_block: str | None, dry_run: bool, what: str, run: Run) -> dict[str, Any]:
    """Open the ledger (and, unless a dry run, the client), run, log and publish the summary."""
    logger = get_run_logger()
    with Ledger.open(ledger_settings_from_env()) as ledger:
        store = DeliveryStore.of(ledger)
        if dry_run:
            summary = await run(None, store)
        else:
            async with CustomerIOClient(customerio_settings(cio_block)) as client:
                summary = await run(client, store)
    key = f"customerio-{what}-{'preview' if dry_run else 'summary'}"
    await acreate_markdown_artifact(
        summary.as_markdown(), key=key, description=f"Customer.io {what}"
    )
    rejected = sum(summary.rejected.values())
    logger.info(
        "Customer.io %s%s: %d persons and %d events delivered, %d unchanged, %d rejected "
        "(see `stripe-cio dead-letters list`), %d requests, %d rate-limited, %.1fs",
        what, " (dry run)" if dry_run else "", summary.persons_delivered, summary.events_delivered,
        summary.persons_unchanged + summary.events_already_delivered, rejected, summary.requests,
        summary.rate_limited, summary.seconds,
    )  # fmt: skip
    return summary.as_dict()


_TASK_OPTIONS: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": _RETRY_DELAYS,
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": transient_only,
    "cache_policy": NO_CACHE,
}


@task(name="push-person-updates", **_TASK_OPTIONS)
async def push_person_updates(
    updates: Sequence[PersonUpdate], cio_block: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Send each person's changed attributes to Customer.io (a preview when `dry_run`)."""

    async def run(client: CustomerIOClient | None, store: DeliveryStore) -> DeliverySummary:
        return await deliver(client, store, people=updates, dry_run=dry_run)

    return await _run(cio_block, dry_run, "person-updates", run)


@task(name="push-events", **_TASK_OPTIONS)
async def push_events(
    events: Sequence[EventItem],
    people: Sequence[PersonUpdate] = (),
    cio_block: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Send the events not delivered before, `people`'s identifies first (`dry_run`: preview)."""

    async def run(client: CustomerIOClient | None, store: DeliveryStore) -> DeliverySummary:
        return await deliver(client, store, people=people, events=events, dry_run=dry_run)

    return await _run(cio_block, dry_run, "events", run)


@task(name="replay-customerio-dead-letters", **_TASK_OPTIONS)
async def replay_customerio_dead_letters(
    cio_block: str | None = None,
    ids: list[int] | None = None,
    kind: Kind | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Resend the open dead letters (or those with `ids`); what still fails stays open."""

    async def run(client: CustomerIOClient | None, store: DeliveryStore) -> DeliverySummary:
        return await replay_dead_letters(client, store, ids=ids, kind=kind, dry_run=dry_run)

    return await _run(cio_block, dry_run, "dead-letter-replay", run)
