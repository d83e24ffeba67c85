"""`enrich-profiles`: the nightly job. Every person's attributes from the ledger, diffed, pushed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from stripe_cio.jobs import ENRICH, enrich_job
from stripe_cio.runs import RunSummary
from tasks.steps import PrefectRunner

from .options import connections, flow_options, job_outcome


@flow(**flow_options(ENRICH, "Every person's attributes from the ledger; only changes are sent."))
async def enrich_profiles(
    customerio_block: str | None = None,
    dry_run: bool = False,
    as_of: datetime | None = None,
    limit: int | None = None,
    notify_block: str | None = None,
    wait_for_lock: float = 0.0,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Compute every person's attributes as of `as_of` (default: now) and push what changed
    (the `enrich` job, as `stripe-cio enrich` runs it).

    `dry_run` sends nothing and publishes a preview; `limit` takes only the first persons (by
    identifier). Persons whose history the ledger lacks are left out and counted. Another
    pushing run holding the ledger refuses this one (Cancelled) unless it ends within
    `wait_for_lock` seconds. A run whose rejects exceed `max_reject_rate` of the persons it
    compared (default STRIPE_CIO_MAX_REJECT_RATE, else 5%) fails after publishing its summary.
    """
    return await job_outcome(
        lambda: enrich_job(
            connections(customerio_block=customerio_block, stripe=False, customerio=not dry_run),
            PrefectRunner(ENRICH),
            dry_run=dry_run,
            as_of=int(as_of.timestamp()) if as_of else None,
            limit=limit,
            wait_for_lock=wait_for_lock,
            max_reject_rate=max_reject_rate,
        )
    )
