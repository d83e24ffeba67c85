"""`backfill-history`: ad hoc. Stripe's history into the ledger, then every person's attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from stripe_cio.jobs import BACKFILL, backfill_job
from stripe_cio.runs import RunSummary
from tasks.steps import PrefectRunner

from .options import connections, flow_options, job_outcome


@flow(**flow_options(BACKFILL, "Stripe's history into the ledger, then every person's attributes."))
async def backfill_history(
    since: datetime | None = None,
    resources: list[str] | None = None,
    stripe_block: str | None = None,
    customerio_block: str | None = None,
    enrich: bool = True,
    resume_run: str | None = None,
    restart: bool = False,
    notify_block: str | None = None,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Read Stripe objects created since `since` (default: all history) into the ledger, with a
    progress artifact, then compute and push every person's attributes unless `enrich` is false
    (the `backfill` job, as `stripe-cio backfill` runs it). A ledger never synced by events gets
    its events cursor at the backfill's T0, where the first sync starts.

    A run resumes the unfinished backfill, if there is one (`resume_run`: that run), reading only
    what it had not finished; `restart` starts a new read and abandons the unfinished ones (the
    job decides, as for `stripe-cio backfill`). So a backfill that could not read some slices,
    which fails after publishing its summary, is finished by running it again. A backfill whose
    rejects exceed `max_reject_rate` of the objects read (default STRIPE_CIO_MAX_REJECT_RATE,
    else 5%) fails before enriching; the enrich step applies the same threshold to what it pushes.
    """
    return await job_outcome(
        lambda: backfill_job(
            connections(stripe_block, customerio_block, customerio=enrich),
            PrefectRunner(BACKFILL),
            since=int(since.timestamp()) if since else None,
            resources=resources,
            run=resume_run,
            restart=restart,
            enrich=enrich,
            max_reject_rate=max_reject_rate,
        )
    )
