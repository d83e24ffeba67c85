"""Prefect tasks over Stripe extraction: backfill into the ledger and sync by events."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from blocks import stripe_settings
from stripe_cio import ledger_settings_from_env
from stripe_cio.extract import backfill, sync_events
from stripe_cio.ledger import Ledger
from stripe_cio.stripe_api import StripeClient

from ._retry import transient_only

__all__ = ["backfill_stripe", "sync_stripe_events"]

# Coarse retries for an API that stayed away longer than the clients' own retries.
_RETRY_DELAYS = exponential_backoff(backoff_factor=30)


class _ProgressArtifact:
    """Keeps a Prefect progress artifact near the backfill's progress, updated every 2 s."""

    def __init__(self, artifact_id: UUID) -> None:
        self.artifact_id = artifact_id
        self.fraction = 0.0
        self.started = asyncio.get_running_loop().time()

    def report(self, resource: str, records: int, rate: float, eta: float | None) -> None:
        if eta is not None:
            elapsed = asyncio.get_running_loop().time() - self.started
            self.fraction = max(self.fraction, elapsed / max(elapsed + eta, 1e-9))

    async def keep_updated(self) -> None:
        while True:
            await asyncio.sleep(2)
            await aupdate_progress_artifact(self.artifact_id, round(100 * self.fraction, 1))


@task(
    name="backfill-stripe",
    retries=2,
    retry_delay_seconds=_RETRY_DELAYS,
    retry_jitter_factor=0.5,
    retry_condition_fn=transient_only,
    cache_policy=NO_CACHE,
)
async def backfill_stripe(
    stripe_block: str | None = None,
    since: int = 0,
    resources: list[str] | None = None,
    run: str | None = None,
) -> dict[str, Any]:
    """Read Stripe's history into the ledger, showing progress as a Prefect artifact."""
    logger = get_run_logger()
    ledger = Ledger.open(ledger_settings_from_env())
    artifact_id = await acreate_progress_artifact(0.0, description="Stripe backfill")
    progress = _ProgressArtifact(artifact_id)
    updater = asyncio.create_task(progress.keep_updated())
    try:
        async with StripeClient(stripe_settings(stripe_block)) as client:
            summary = await backfill(
                client, ledger, since=since, resources=resources, run=run, progress=progress.report
            )
    finally:
        updater.cancel()
        ledger.close()
    await aupdate_progress_artifact(artifact_id, 100.0 if summary.complete else progress.fraction)
    logger.info(
        "backfill %s: %d objects in %.1fs, %d failed slices",
        summary.run,
        summary.objects,
        summary.seconds,
        len(summary.failed),
    )
    return summary.as_dict()


@task(
    name="sync-stripe-events",
    retries=2,
    retry_delay_seconds=_RETRY_DELAYS,
    retry_jitter_factor=0.5,
    retry_condition_fn=transient_only,
    cache_policy=NO_CACHE,
)
async def sync_stripe_events(
    stripe_block: str | None = None, since: int | None = None, overlap: int = 600
) -> dict[str, Any]:
    """Apply Stripe's new events to the ledger and move the events cursor."""
    logger = get_run_logger()
    ledger = Ledger.open(ledger_settings_from_env())
    try:
        async with StripeClient(stripe_settings(stripe_block)) as client:
            summary = await sync_events(client, ledger, since=since, overlap=overlap)
    finally:
        ledger.close()
    for message in summary.messages:
        logger.warning(message)
    logger.info(
        "events sync: %d applied, %d duplicates, cursor %s -> %s",
        summary.applied,
        summary.duplicates,
        summary.cursor_before,
        summary.cursor_after,
    )
    return {
        "events_listed": summary.events_listed,
        "applied": summary.applied,
        "duplicates": summary.duplicates,
        "rejected": dict(summary.rejected),
        "cursor_before": summary.cursor_before,
        "cursor_after": summary.cursor_after,
        "messages": summary.messages,
    }
