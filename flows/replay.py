"""`replay-dead-letters`: ad hoc. Resend what Customer.io refused, once it has been fixed."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from blocks import CustomerIOCredentials
from stripe_cio.deliver import Kind
from stripe_cio.jobs import REPLAY, replay_job
from stripe_cio.runs import RunSummary
from tasks.notify import NotificationTarget
from tasks.steps import PrefectRunner

from .options import connections, described, flow_options, job_outcome


@flow(**flow_options(REPLAY, "Resend the open dead letters; what still fails stays open."))
@described
async def replay_dead_letters(
    customerio_credentials: CustomerIOCredentials | None = None,
    ids: list[int] | None = None,
    kind: Kind | None = None,
    dry_run: bool = False,
    notify_block: NotificationTarget | None = None,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Resend the open dead letters under the ledger's push lock (the `replay` job, as
    `stripe-cio dead-letters replay` runs it).

    Each is checked again first; what can never be accepted stays open, its attempt counted,
    and counts as a reject of this run.

    Args:
        ids: Resend only these dead letters (the ids `stripe-cio dead-letters list` shows).
            Empty: every open one.
        kind: Resend only person updates or only events. Empty: both.
    """
    return await job_outcome(
        lambda: replay_job(
            connections(
                customerio_credentials=customerio_credentials, stripe=False, customerio=not dry_run
            ),
            PrefectRunner(REPLAY),
            ids=ids,
            kind=kind,
            dry_run=dry_run,
            max_reject_rate=max_reject_rate,
        )
    )
