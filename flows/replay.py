"""`replay-dead-letters`: ad hoc. Resend what Customer.io refused, once it has been fixed."""

from __future__ import annotations

import time
from typing import Any, Literal

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Cancelled

from stripe_cio.runs import RunInProgressError, RunSummary
from tasks.deliver import replay_customerio_dead_letters
from tasks.pipeline import exclusive_run, publish_summary

from ._options import flow_options

__all__ = ["replay_dead_letters"]

NAME = "replay-dead-letters"


@flow(**flow_options(NAME, "Resend the open dead letters; what still fails stays open."))
async def replay_dead_letters(
    customerio_block: str | None = None,
    ids: list[int] | None = None,
    kind: Literal["person", "event"] | None = None,
    dry_run: bool = False,
    notify_block: str | None = None,
) -> RunSummary | State[Any]:
    """Resend the open dead letters (all, those with `ids`, or those of one `kind`).

    Each is checked again first; what can never be accepted stays open, its attempt counted.
    """
    started = time.monotonic()
    summary = RunSummary(NAME, dry_run=dry_run)
    try:
        async with exclusive_run(NAME):
            with summary.step("replay dead letters"):
                replayed = await replay_customerio_dead_letters(
                    customerio_block, ids, kind, dry_run
                )
    except RunInProgressError as refused:
        return Cancelled(message=str(refused), data=refused)
    summary.add_delivery(replayed)
    summary.seconds = time.monotonic() - started
    await publish_summary(summary)
    return summary
