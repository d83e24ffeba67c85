"""`backfill-history`: ad hoc. Stripe's history into the ledger, then every person's attributes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from prefect import flow
from prefect.client.schemas.objects import State

from blocks import CustomerIOCredentials, StripeCredentials
from stripe_cio.extract import BACKFILL_RESOURCES
from stripe_cio.jobs import BACKFILL, backfill_job
from stripe_cio.runs import RunSummary
from tasks.notify import NotificationTarget
from tasks.steps import PrefectRunner

from .options import connections, described, flow_options, job_outcome

if TYPE_CHECKING:
    ResourceName = str
else:
    # The registry's backfill resources, as the choices the run form offers.
    ResourceName = Literal[tuple(entry.name for entry in BACKFILL_RESOURCES)]


@flow(**flow_options(BACKFILL, "Stripe's history into the ledger, then every person's attributes."))
@described
async def backfill_history(
    since: datetime | None = None,
    resources: list[ResourceName] | None = None,
    stripe_credentials: StripeCredentials | None = None,
    customerio_credentials: CustomerIOCredentials | None = None,
    enrich: bool = True,
    resume_run: str | None = None,
    restart: bool = False,
    notify_block: NotificationTarget | None = None,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Read Stripe objects into the ledger, then compute and push every person's attributes (the
    `backfill` job, as `stripe-cio backfill` runs it), with a progress artifact.

    A ledger never synced by events gets its events cursor at the backfill's T0, where the first
    sync starts. A backfill that could not read some slices fails after publishing its summary
    and is finished by running it again: only what it had not finished is read.

    Args:
        since: Read only the objects created from this time on. Empty: all of Stripe's history.
        resources: Read only these resources (and what their rows need). Empty: every one.
        enrich: Compute and push every person's attributes once the history is read.
        resume_run: The id of the unfinished backfill to resume. Empty: the unfinished one, if
            there is one.
        restart: Start a new read, abandoning any unfinished backfill.
    """
    return await job_outcome(
        lambda: backfill_job(
            connections(stripe_credentials, customerio_credentials, customerio=enrich),
            PrefectRunner(BACKFILL),
            since=int(since.timestamp()) if since else None,
            resources=list(resources) if resources else None,
            run=resume_run,
            restart=restart,
            enrich=enrich,
            max_reject_rate=max_reject_rate,
        )
    )
