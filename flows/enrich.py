"""`enrich-profiles`: the nightly job. Every person's attributes from the ledger, diffed, pushed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from blocks import CustomerIOCredentials
from stripe_cio.jobs import ENRICH, enrich_job
from stripe_cio.runs import RunSummary
from tasks.notify import NotificationTarget
from tasks.steps import PrefectRunner

from .options import connections, described, flow_options, job_outcome


@flow(**flow_options(ENRICH, "Every person's attributes from the ledger; only changes are sent."))
@described
async def enrich_profiles(
    customerio_credentials: CustomerIOCredentials | None = None,
    dry_run: bool = False,
    as_of: datetime | None = None,
    limit: int | None = None,
    notify_block: NotificationTarget | None = None,
    wait_for_lock: float = 0.0,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Compute every person's attributes and push what changed since Customer.io last accepted
    them (the `enrich` job, as `stripe-cio enrich` runs it).

    Persons whose history the ledger lacks are left out and counted. Another pushing run
    holding the ledger refuses this one (Cancelled) unless it ends within `wait_for_lock`.

    Args:
        as_of: The time the attributes are computed at (windows such as the last 30 days end
            there). Empty: now.
        limit: Compute and compare only the first persons, by identifier. Empty: everyone.
        wait_for_lock: Seconds to wait for another pushing run to finish before giving up.
    """
    return await job_outcome(
        lambda: enrich_job(
            connections(
                customerio_credentials=customerio_credentials, stripe=False, customerio=not dry_run
            ),
            PrefectRunner(ENRICH),
            dry_run=dry_run,
            as_of=int(as_of.timestamp()) if as_of else None,
            limit=limit,
            wait_for_lock=wait_for_lock,
            max_reject_rate=max_reject_rate,
        )
    )
