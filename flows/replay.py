"""`replay-dead-letters`: ad hoc. Resend what Customer.io refused, once it has been fixed."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow
from prefect.client.schemas.objects import State

from stripe_cio.jobs import REPLAY, replay_job
from stripe_cio.runs import RunSummary
from tasks.steps import PrefectRunner

from .options import connections, flow_options, job_outcome


@flow(**flow_options(REPLAY, "Resend the open dead letters; what still fails stays open."))
async def replay_dead_letters(
    customerio_block: str | None = None,
    ids: list[int] | None = None,
    kind: Literal["person", "event"] | None = None,
    dry_run: bool = False,
    notify_block: str | None = None,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Resend the open dead letters (all, those with `ids`, or those of one `kind`) under the
    ledger's push lock (the `replay` job, as `stripe-cio dead-letters replay` runs it).

    Each is checked again first; what can never be accepted stays open, its attempt counted,
    and fails the run when such rejects exceed `max_reject_rate` of the letters replayed.
    """
    return await job_outcome(
        lambda: replay_job(
            connections(customerio_block=customerio_block, stripe=False, customerio=not dry_run),
            PrefectRunner(REPLAY),
            ids=ids,
            kind=kind,
            dry_run=dry_run,
            max_reject_rate=max_reject_rate,
        )
    )
