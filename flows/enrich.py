"""`enrich-profiles`: the nightly job. Every person's attributes from the ledger, diffed, pushed."""

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
from tasks.pipeline import (
    enforce_reject_rate,
    exclusive_run,
    plan_person_updates,
    publish_summary,
    reject_threshold,
)

from ._options import flow_options

__all__ = ["enrich_profiles"]

NAME = "enrich-profiles"


@flow(**flow_options(NAME, "Every person's attributes from the ledger; only changes are sent."))
async def enrich_profiles(
    customerio_block: str | None = None,
    dry_run: bool = False,
    as_of: datetime | None = None,
    limit: int | None = None,
    notify_block: str | None = None,
    wait_for_lock: float = 0.0,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Compute every person's attributes as of `as_of` (default: now) and push what changed.

    `dry_run` sends nothing and publishes a preview; `limit` takes only the first persons (by
    identifier). Another pushing run holding the ledger refuses this one (Cancelled) unless it
    ends within `wait_for_lock` seconds. A run whose rejects exceed `max_reject_rate` of the
    persons it compared (default STRIPE_CIO_MAX_REJECT_RATE, else 5%) fails after publishing
    its summary.
    """
    threshold = reject_threshold(max_reject_rate)
    try:
        if dry_run:  # sends nothing: no need to keep other runs out
            return await _enrich(customerio_block, dry_run, as_of, limit, threshold)
        async with exclusive_run(NAME, wait=wait_for_lock):
            return await _enrich(customerio_block, dry_run, as_of, limit, threshold)
    except RunInProgressError as refused:
        return Cancelled(message=str(refused), data=refused)


async def _enrich(
    customerio_block: str | None,
    dry_run: bool,
    as_of: datetime | None,
    limit: int | None,
    threshold: float,
) -> RunSummary:
    started = time.monotonic()
    summary = RunSummary(NAME, dry_run=dry_run)
    with summary.step("compute attributes"):
        result = await compute_attributes(as_of or datetime.now(UTC))
        updates = await plan_person_updates(result, limit=limit)
    summary.add_skipped(result.skipped.as_dict())
    if limit is not None and len(result.attributes) > len(updates):
        summary.add_skipped({"persons beyond the limit": len(result.attributes) - len(updates)})
    with summary.step("push attributes"):
        summary.add_delivery(await push_person_updates(updates, customerio_block, dry_run))
    await enforce_reject_rate(summary, threshold, started)
    summary.seconds = time.monotonic() - started
    await publish_summary(summary)
    return summary
