"""Prefect task over lifecycle events: Stripe events in the ledger to Customer.io events."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from blocks import customerio_settings
from stripe_cio import ledger_settings_from_env
from stripe_cio.attributes import AttributeSettings, attribute_settings_from_env
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.ledger import Ledger
from stripe_cio.lifecycle import (
    LifecycleSettings,
    LifecycleSummary,
    lifecycle_settings_from_env,
    send_lifecycle_events,
)

from ._retry import transient_only

__all__ = ["deliver_lifecycle_events"]

# Coarse retries for an API that stayed away longer than the client's own retries; a retry
# resends nothing Customer.io accepted (events are recorded by their ULID as they are accepted).
_RETRY_DELAYS = exponential_backoff(backoff_factor=30)


@task(
    name="deliver-lifecycle-events",
    retries=2,
    retry_delay_seconds=_RETRY_DELAYS,
    retry_jitter_factor=0.5,
    retry_condition_fn=transient_only,
    cache_policy=NO_CACHE,
)
async def deliver_lifecycle_events(
    customerio_block: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Send the lifecycle events of the Stripe events synced since the last run, once each.

    Settings come from the environment (STRIPE_CIO_EVENT_NAMES, ..., docs/events.md); the run's
    summary is published as a markdown artifact. With `dry_run`, nothing is sent or recorded.
    """
    logger = get_run_logger()
    settings = lifecycle_settings_from_env()
    identity = attribute_settings_from_env()
    ledger = Ledger.open(ledger_settings_from_env())
    try:
        summary = await _run(ledger, customerio_block, dry_run, settings, identity)
    finally:
        ledger.close()
    await acreate_markdown_artifact(
        summary.as_markdown(), key="lifecycle-events", description="Lifecycle events"
    )
    delivery = summary.delivery
    logger.info(
        "lifecycle events: %d Stripe events read, %d mapped, %d sent, %d rejected, skipped %s",
        summary.events_read,
        summary.events_mapped,
        delivery.events_new,
        delivery.events_rejected,
        dict(summary.skipped),
    )
    return summary.as_dict()


async def _run(
    ledger: Ledger,
    block: str | None,
    dry_run: bool,
    settings: LifecycleSettings,
    identity: AttributeSettings,
) -> LifecycleSummary:
    if dry_run:  # a preview needs no credentials
        return await send_lifecycle_events(None, ledger, settings, identity, dry_run=True)
    async with CustomerIOClient(customerio_settings(block)) as client:
        return await send_lifecycle_events(client, ledger, settings, identity)
