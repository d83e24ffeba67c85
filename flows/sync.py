"""`sync-stripe-events`: every 2 minutes. New Stripe events into the ledger, the attributes of
the persons they touched, then the lifecycle events they make, to Customer.io."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from blocks import CustomerIOCredentials, StripeCredentials
from stripe_cio.jobs import SYNC, sync_job
from stripe_cio.runs import RunSummary
from tasks.notify import NotificationTarget
from tasks.steps import PrefectRunner

from .options import connections, described, flow_options, job_outcome


@flow(**flow_options(SYNC, "New Stripe events: the ledger, touched persons' attributes, events."))
@described
async def sync_stripe_events(
    stripe_credentials: StripeCredentials | None = None,
    customerio_credentials: CustomerIOCredentials | None = None,
    since: datetime | None = None,
    overlap: int = 600,
    notify_block: NotificationTarget | None = None,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Apply Stripe's new events to the ledger, read the histories of customers the ledger
    lacks, push the changed attributes of the persons the events touched, then send their
    lifecycle events (the `sync` job, as `stripe-cio sync` runs it).

    Another pushing run holding the ledger refuses this one (Cancelled). A run that could not
    read an events page or a history fails after publishing its summary; the next continues.

    Args:
        since: Where a first sync starts (within Stripe's 30 days of events). Empty: the
            backfill's T0, else 30 days ago. Ignored once the ledger has an events cursor.
        overlap: Seconds before the cursor read again, for events Stripe lists late.
    """
    return await job_outcome(
        lambda: sync_job(
            connections(stripe_credentials, customerio_credentials),
            PrefectRunner(SYNC),
            since=int(since.timestamp()) if since else None,
            overlap=overlap,
            max_reject_rate=max_reject_rate,
        )
    )
