"""`backfill-history`: ad hoc. Stripe's history into the ledger, then `enrich-profiles`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from stripe_cio.runs import BackfillIncompleteError, RunSummary
from tasks.extract import backfill_stripe
from tasks.pipeline import (
    enforce_reject_rate,
    publish_summary,
    reject_threshold,
    start_events_cursor,
)

from ._options import flow_options
from .enrich import enrich_profiles

__all__ = ["backfill_history"]

NAME = "backfill-history"
# The nightly or a sync run may be pushing when the backfill ends: wait for it this long.
ENRICH_WAITS_FOR_LOCK = 900.0


@flow(**flow_options(NAME, "Stripe's history into the ledger, then every person's attributes."))
async def backfill_history(
    since: datetime | None = None,
    resources: list[str] | None = None,
    stripe_block: str | None = None,
    customerio_block: str | None = None,
    enrich: bool = True,
    resume_run: str | None = None,
    notify_block: str | None = None,
    max_reject_rate: float | None = None,
) -> RunSummary | State[Any]:
    """Read Stripe objects created since `since` (default: all history) into the ledger, with a
    progress artifact, then run `enrich-profiles` (unless `enrich` is false). A ledger never
    synced by events gets its events cursor at the backfill's T0, where the first sync starts.

    A backfill that could not read some slices fails after publishing its summary; run it again
    with `resume_run` set to the run id it names to read only those. A backfill whose rejects
    exceed `max_reject_rate` of the objects read (default STRIPE_CIO_MAX_REJECT_RATE, else 5%)
    fails before enriching; the subflow applies the same threshold to what it pushes.
    """
    threshold = reject_threshold(max_reject_rate)
    started = time.monotonic()
    summary = RunSummary(NAME)
    with summary.step("backfill Stripe"):
        pulled = await backfill_stripe(
            stripe_block,
            since=int(since.timestamp()) if since else 0,
            resources=resources,
            run=resume_run,
        )
    summary.add_backfill(pulled)
    if pulled["failed"]:
        summary.seconds = time.monotonic() - started
        await publish_summary(summary)
        raise BackfillIncompleteError(
            f"{len(pulled['failed'])} slices could not be read (first: "
            f"{pulled['failed'][0]['error']}); resume with resume_run={pulled['run']!r}"
        )
    # The backfill read everything created up to T0: the first events sync starts there (also
    # when the run fails on its rejects below, so that no event after T0 is skipped later).
    await start_events_cursor(pulled["t0"])
    await enforce_reject_rate(summary, threshold, started)
    if enrich:
        with summary.step("enrich profiles"):
            enriched = await enrich_profiles(
                customerio_block=customerio_block,
                notify_block=notify_block,
                wait_for_lock=ENRICH_WAITS_FOR_LOCK,
                max_reject_rate=threshold,
            )
        if isinstance(enriched, RunSummary):
            summary.add_run(enriched)
    summary.seconds = time.monotonic() - started
    await publish_summary(summary)
    return summary
