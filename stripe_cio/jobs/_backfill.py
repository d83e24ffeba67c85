"""The `backfill` job: Stripe's history into the ledger, then (by default) the `enrich` job.

The events cursor starts at the backfill's T0 when the ledger has none, before anything is
read: a sync running meanwhile, or after, reads every event from T0 on, and one that ran
before keeps its own cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .._exceptions import ConfigError
from ..extract import BackfillSummary, backfill, run_id_for, stripe_now
from ..ledger import Ledger
from ..runs import BackfillIncompleteError, RunSummary
from ..stripe_api import StripeClient
from ._common import Connections, JobRun, locked, reject_threshold
from ._profiles import enrich_job
from ._runner import StepRunner

__all__ = ["BACKFILL", "ENRICH_WAITS_FOR_LOCK", "backfill_job"]

BACKFILL = "backfill-history"
# The nightly run or a sync may be pushing when the backfill ends: wait for it this long.
ENRICH_WAITS_FOR_LOCK = 900.0


async def backfill_job(
    conns: Connections,
    runner: StepRunner,
    *,
    since: int = 0,
    resources: Sequence[str] | None = None,
    run: str | None = None,
    enrich: bool = True,
    max_reject_rate: float | None = None,
    clock: Callable[[], float] = time.time,
) -> RunSummary:
    """Read the Stripe objects created since `since` (default: all history) into the ledger,
    then run the enrich job unless `enrich` is false.

    Slices that stay unreadable fail the run (BackfillIncompleteError, naming the run id to
    resume with `run`); rejects above the threshold fail it before enriching. Two backfills of
    one ledger never run at once (RunInProgressError).
    """
    threshold = reject_threshold(max_reject_rate)
    stripe = conns.stripe_settings()
    if enrich:
        conns.customerio_settings()  # fail now, not after an hour of reading
    with Ledger.open(conns.ledger) as ledger:
        async with locked(ledger, runner, "backfill"):
            job = JobRun(runner, RunSummary(BACKFILL), threshold)
            async with job.published():
                async with StripeClient(stripe) as client:
                    pulled = await _read(job, ledger, client, since, resources, run)
                if not pulled.complete:
                    first = pulled.failed[0]
                    raise BackfillIncompleteError(
                        f"{BACKFILL}: {len(pulled.failed)} slices could not be read (first: "
                        f"{first.resource} {first.start}-{first.end}: {first.error}); resume "
                        f"with run {pulled.run!r}"
                    )
                job.check_rejects()
                if enrich:
                    with job.summary.step("enrich profiles"):
                        enriched = await enrich_job(
                            conns,
                            runner,
                            wait_for_lock=ENRICH_WAITS_FOR_LOCK,
                            max_reject_rate=threshold,
                            clock=clock,
                        )
                    job.summary.add_run(enriched)
    return job.summary


async def _read(
    job: JobRun,
    ledger: Ledger,
    client: StripeClient,
    since: int,
    resources: Sequence[str] | None,
    run: str | None,
) -> BackfillSummary:
    t0: int | None = None
    if run is None:
        t0 = await stripe_now(client)
        if since > t0:
            raise ConfigError(
                "since", "is after Stripe's present", "give a past time, or none for all history"
            )
        run = run_id_for(t0)
    job.runner.info(
        f"backfill run {run}: if it is interrupted, `stripe-cio backfill --run {run}` (or the "
        f"flow's resume_run={run}) reads only what it had not finished"
    )
    if t0 is not None and ledger.events_cursor() is None:
        ledger.set_events_cursor(t0)

    async def read() -> BackfillSummary:
        async with job.runner.progress("Stripe backfill") as progress:
            return await backfill(
                client,
                ledger,
                since=since,
                resources=resources,
                run=run,
                t0=t0,
                progress=progress,
            )

    pulled = await job.step("backfill Stripe", read, retry=True)
    # A resumed run carries its T0 in its id; a ledger still without a cursor starts there.
    if ledger.events_cursor() is None:
        ledger.set_events_cursor(pulled.t0)
    job.runner.info(
        f"backfill {pulled.run}: {pulled.objects} objects in {pulled.seconds:.1f}s, "
        f"{len(pulled.failed)} failed slices"
    )
    job.summary.add_backfill(pulled)
    return pulled
