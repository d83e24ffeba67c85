"""The `backfill` job: Stripe's history into the ledger, then (by default) the `enrich` job.

The events cursor starts at the backfill's T0 when the ledger has none, before anything is
read: a sync running meanwhile, or after, reads every event from T0 on, and one that ran
before keeps its own cursor.

Which run it reads (`_plan`), whichever door opens it:

- `run` given: that run, with the `since` and resources it recorded (given ones must agree).
- `restart`: a new run; every unfinished run is marked abandoned (`status` stops listing it).
- neither: the unfinished run, if there is one, is resumed; a `since` or resources given that
  differ from it are refused (resume it, or restart), and so are several unfinished runs.
  Without one, a new run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..cio_api import CustomerIOClient
from ..exceptions import ConfigError
from ..extract import BackfillSummary, backfill, run_id_for, stripe_now
from ..ledger import (
    BackfillRun,
    Ledger,
    abandon_backfills,
    backfill_progress,
    backfill_run,
    forget_backfill_slices,
    unfinished_backfills,
)
from ..runs import BackfillIncompleteError, RunSummary
from ..stripe_api import StripeClient
from .common import Connections, JobRun, opened_job, reject_threshold
from .profiles import enrich_job
from .runner import StepRunner

BACKFILL = "backfill-history"
# The nightly run or a sync may be pushing when the backfill ends: wait for it this long.
ENRICH_WAITS_FOR_LOCK = 900.0


async def backfill_job(
    conns: Connections,
    runner: StepRunner,
    *,
    since: int | None = None,
    resources: Sequence[str] | None = None,
    run: str | None = None,
    restart: bool = False,
    enrich: bool = True,
    max_reject_rate: float | None = None,
    clock: Callable[[], float] = time.time,
) -> RunSummary:
    """Read the Stripe objects created since `since` (default: all history) into the ledger,
    then run the enrich job unless `enrich` is false.

    An unfinished run is resumed rather than started again, and `run` resumes a given one;
    `restart` starts a new run and abandons the unfinished ones (see the module's docstring).
    Slices that stay unreadable fail the run (BackfillIncompleteError, naming the run id to
    resume with `run`); rejects above the threshold fail it before enriching. Two backfills of
    one ledger never run at once (RunInProgressError). An interrupted run (Ctrl-C, SIGTERM)
    keeps what it wrote and ends with a line naming the command that resumes it.
    """
    if run is not None and restart:
        raise ConfigError(
            "restart", "cannot be given with a run id", "give a run id to resume it, or restart"
        )
    threshold = reject_threshold(max_reject_rate)

    def resume(run: str) -> str:
        return resume_command(run, enrich=enrich, max_reject_rate=max_reject_rate)

    stripe = conns.stripe_settings()
    if enrich:
        # Wrong Customer.io credentials or region fail now, not after an hour of reading.
        async with CustomerIOClient(conns.customerio_settings()) as customerio:
            await customerio.verify_region()
    async with opened_job(
        conns,
        runner,
        RunSummary(BACKFILL),
        threshold,
        lock="backfill",
        interrupted="interrupted: backfill stopped before it read anything",
    ) as (ledger, job):
        plan = _plan(ledger, since, resources, run, restart)
        async with StripeClient(stripe) as client:
            pulled = await _read(job, ledger, client, plan, resume)
        if not pulled.complete:
            first = pulled.failed[0]
            raise BackfillIncompleteError(
                f"{BACKFILL}: {len(pulled.failed)} slices could not be read (first: "
                f"{first.resource} {first.start}-{first.end}: {first.error}); resume "
                f"with run {pulled.run!r}"
            )
        job.check_rejects()
        # The run is complete; an interrupted enrich step says its own line.
        job.interrupted = None
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


def resume_command(run: str, *, enrich: bool = True, max_reject_rate: float | None = None) -> str:
    """The command that resumes backfill `run` as it was started: `--run` restores its `since`
    and resources from the ledger; what the ledger does not record is spelled out."""
    command = f"stripe-cio backfill --run {run}"
    if not enrich:
        command += " --no-enrich"
    if max_reject_rate is not None:
        command += f" --max-reject-rate {max_reject_rate:g}"
    return command


@dataclass(frozen=True)
class _Plan:
    """The run a backfill reads: a recorded one to resume, or a new one (`resumed` None)."""

    since: int
    resources: list[str] | None
    resumed: BackfillRun | None = None
    chosen: bool = False  # `resumed` is the unfinished run, resumed without being named
    run: str | None = None  # a run id given without a record in the ledger: read as given
    restart: bool = False  # a new read, whatever was read before
    abandon: list[str] = field(default_factory=list)  # unfinished runs a restart abandons


def _plan(
    ledger: Ledger,
    since: int | None,
    resources: Sequence[str] | None,
    run: str | None,
    restart: bool,
) -> _Plan:
    """Which run to read, by the rule of the module's docstring."""
    given = _Plan(since or 0, list(resources) if resources is not None else None)
    if run is not None:
        recorded = backfill_run(ledger.engine, run)
        if recorded is None:  # not recorded (from before runs were): as given, as always
            return _Plan(given.since, given.resources, run=run)
        _refuse_other_scope(recorded, since, resources, f"resume it with --run {run} alone")
        return _Plan(recorded.since, list(recorded.resources), resumed=recorded)
    unfinished = unfinished_backfills(ledger.engine)
    if restart or not unfinished:
        abandon = [r.run for r in unfinished]
        return _Plan(given.since, given.resources, restart=restart, abandon=abandon)
    if len(unfinished) > 1:
        runs = ", ".join(r.run for r in unfinished)
        raise ConfigError(
            "run",
            f"{len(unfinished)} backfill runs are unfinished ({runs})",
            "resume one with --run (the flow's resume_run), or give --restart (restart) to "
            "abandon them and start a new read",
        )
    [pending] = unfinished
    _refuse_other_scope(
        pending,
        since,
        resources,
        "resume it without --since and --resources, or give --restart (the flow's restart) to "
        "abandon it and start this read",
    )
    return _Plan(pending.since, list(pending.resources), resumed=pending, chosen=True)


def _refuse_other_scope(
    recorded: BackfillRun, since: int | None, resources: Sequence[str] | None, how: str
) -> None:
    """ConfigError when a `since` or resources given differ from what `recorded` reads."""
    differ = []
    if since is not None and since != recorded.since:
        differ.append(f"since {recorded.since}, not {since}")
    if resources is not None and set(resources) != set(recorded.resources):
        differ.append(f"resources {','.join(recorded.resources)}, not {','.join(resources)}")
    if differ:
        raise ConfigError(
            "since" if since is not None and since != recorded.since else "resources",
            f"backfill run {recorded.run} is unfinished and reads {'; '.join(differ)}",
            how,
        )


def _interrupted(ledger: Ledger, run: str, resume: Callable[[str], str]) -> str:
    """The last line of a read that was interrupted: how far it got, how to resume it."""
    recorded = backfill_run(ledger.engine, run)
    if recorded is None:  # stopped before it recorded the run: there is nothing to resume
        return "interrupted: backfill stopped before it read anything"
    progress = backfill_progress(ledger.engine, recorded)
    return f"interrupted: backfill run {run} stopped with {progress}; resume with: {resume(run)}"


async def _read(
    job: JobRun, ledger: Ledger, client: StripeClient, plan: _Plan, resume: Callable[[str], str]
) -> BackfillSummary:
    t0: int | None = None
    since, resources = plan.since, plan.resources
    if plan.resumed is not None:
        run = plan.resumed.run
        progress = backfill_progress(ledger.engine, plan.resumed)
        hint = "; --restart (the flow's restart) starts a new read" if plan.chosen else ""
        job.runner.info(f"resuming backfill run {run} ({progress}){hint}")
    elif plan.run is not None:
        run = plan.run
    else:
        t0 = await stripe_now(client)
        if since > t0:
            raise ConfigError(
                "since", "is after Stripe's present", "give a past time, or none for all history"
            )
        run = run_id_for(t0)
        if plan.abandon:
            abandon_backfills(ledger.engine, plan.abandon, int(time.time()))
            job.runner.info(f"abandoned unfinished backfill {', '.join(plan.abandon)}")
        if plan.restart:
            # Stripe's present may not have moved since the run it replaces (an account with
            # no new event): the same T0 gives the same id, whose slices must be read again.
            forget_backfill_slices(ledger.engine, run)
    job.interrupted = lambda: _interrupted(ledger, run, resume)
    job.runner.info(
        f"backfill run {run}: if it is interrupted, `{resume(run)}` (or the flow's "
        f"resume_run={run}) reads only what it had not finished"
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
