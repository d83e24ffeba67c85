"""The jobs that push persons: `enrich` (every person's attributes, only changes sent) and
`replay` (dead letters resent), and the attribute planning the sync shares with enrich."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..attributes import (
    RANK_ATTRIBUTES,
    AttributeResult,
    AttributeSettings,
    RankCuts,
    attribute_settings_from_env,
    load_frames,
    record_rank_cuts,
    recorded_rank_cuts,
    rows_of,
)
from ..attributes import compute_attributes as compute
from ..cio_api import CustomerIOClient
from ..deliver import DeliveryStore, DeliverySummary, Kind, PersonUpdate, deliver
from ..deliver import replay_dead_letters as replay
from ..exceptions import ConfigError
from ..ledger import Ledger, guest_history_complete, incomplete_among, incomplete_customers
from ..runs import RunSummary, TouchedCustomers, complete_persons, person_updates, touched_persons
from ..settings import CustomerIOSettings
from .common import Connections, JobRun, opened_job, reject_threshold
from .partitions import (
    MAX_PARTITIONS,
    PartitionRunner,
    PartitionWork,
    computed,
    everyones_cuts,
    finished_partition,
    in_threads,
    remove_files,
    write_partitions,
)
from .runner import StepRunner

ENRICH = "enrich-profiles"
REPLAY = "replay-dead-letters"
# The skip reason of persons left out because the ledger lacks part of their history.
HISTORY_INCOMPLETE = "history incomplete (sent once a sync or backfill has read it)"
RANKS_HELD_BACK = "rank attributes held back until a backfill has read the whole history"


@dataclass(frozen=True)
class PlannedUpdates:
    """The person updates to send, and how many persons were computed and left out, and why."""

    updates: list[PersonUpdate]
    persons: int  # persons whose attributes were computed
    skipped: dict[str, int]  # reason -> persons or rows left out


def plan_updates(
    ledger: Ledger,
    settings: AttributeSettings,
    as_of: int,
    *,
    limit: int | None = None,
    record_ranks: bool = False,
) -> PlannedUpdates:
    """Compute every person's attributes as of `as_of` and plan the updates of those whose
    history in the ledger is complete, then the first `limit`; `record_ranks` keeps the rank
    attributes' cut-points for the syncs that follow."""
    result = compute(load_frames(ledger.engine, settings), as_of, settings)
    if record_ranks:
        record_rank_cuts(ledger.engine, result.rank_cuts, as_of)
    incomplete = incomplete_customers(ledger.engine)
    return plan_frame_updates(ledger, settings, result, result.attributes, incomplete, limit=limit)


def plan_touched_updates(
    ledger: Ledger, settings: AttributeSettings, as_of: int, touched: TouchedCustomers
) -> PlannedUpdates:
    """Compute the attributes of the persons `touched` holds, from their rows alone, and plan
    the updates of those whose history in the ledger is complete.

    The rank attributes are scored against the cut-points of the latest full computation (the
    nightly enrich, which scores everyone again); before there is one, this computes everyone
    once and records them.
    """
    recorded = recorded_rank_cuts(ledger.engine)
    if recorded is None:
        result = compute(load_frames(ledger.engine, settings), as_of, settings)
        record_rank_cuts(ledger.engine, result.rank_cuts, as_of)
        rows = None
    else:
        rows = rows_of(ledger.engine, touched.customers, touched.guest_emails, settings)
        frames = load_frames(ledger.engine, settings, rows=rows)
        result = compute(frames, as_of, settings, rank_cuts=recorded.cuts)
    frame = result.attributes
    frame = frame[frame.index.isin(touched_persons(frame, touched, settings))]
    incomplete = (
        incomplete_customers(ledger.engine)
        if rows is None
        else incomplete_among(ledger.engine, rows.customers)
    )
    return plan_frame_updates(ledger, settings, result, frame, incomplete)


def plan_frame_updates(
    ledger: Ledger,
    settings: AttributeSettings,
    result: AttributeResult,
    frame: pd.DataFrame,
    incomplete: Collection[str],
    *,
    limit: int | None = None,
) -> PlannedUpdates:
    """The updates of the persons of `frame` whose history is complete, and what was left out."""
    skipped: dict[str, int] = {}
    for table, reasons in result.skipped.as_dict().items():
        for reason, count in reasons.items():
            if count:
                skipped[f"{table}: {reason}"] = count
    whole = guest_history_complete(ledger.engine)
    complete = complete_persons(frame, incomplete, whole, settings)
    if not complete.all():
        skipped[HISTORY_INCOMPLETE] = int((~complete).sum())
        frame = frame[complete.to_numpy(dtype=bool)]
    if not whole and len(frame):
        frame = frame.drop(columns=[settings.name(name) for name in RANK_ATTRIBUTES])
        skipped[RANKS_HELD_BACK] = len(frame)
    updates = person_updates(frame, settings, limit=limit)
    if limit is not None and len(frame) > len(updates):
        skipped["persons beyond the limit"] = len(frame) - len(updates)
    return PlannedUpdates(updates, len(result.attributes), skipped)


async def push_updates(
    job: JobRun,
    ledger: Ledger,
    customerio: CustomerIOSettings | None,
    updates: list[PersonUpdate],
    *,
    dry_run: bool = False,
    preview: bool = True,
) -> DeliverySummary:
    """Send `updates` (only what changed) as the job's step "push attributes"; a dry run
    attaches its preview unless `preview` is false (the caller attaches one for all parts)."""

    async def push() -> DeliverySummary:
        store = DeliveryStore.of(ledger)
        if dry_run or customerio is None:
            return await deliver(None, store, people=updates, dry_run=True)
        async with CustomerIOClient(customerio) as client:
            return await deliver(client, store, people=updates)

    delivered = await job.step("push attributes", push, retry=True)
    job.summary.add_delivery(delivered)
    job.runner.info(_delivery_line("person updates", delivered))
    if delivered.dry_run and preview:
        await attach_preview(job, delivered)
    return delivered


async def attach_preview(job: JobRun, delivered: DeliverySummary) -> None:
    """Publish a dry run's preview of the person updates as the run's artifact."""
    await job.runner.attach(
        "customerio-person-updates-preview",
        delivered.as_markdown(),
        "Customer.io person updates a run would send, with sample payloads",
    )


def _delivery_line(what: str, summary: DeliverySummary) -> str:
    rejected = sum(summary.rejected.values())
    return (
        f"Customer.io {what}{' (dry run)' if summary.dry_run else ''}: "
        f"{summary.persons_delivered} persons and {summary.events_delivered} events delivered, "
        f"{summary.persons_unchanged + summary.events_already_delivered} unchanged, "
        f"{rejected} rejected, {summary.requests} requests, {summary.seconds:.1f}s"
    )


# No Stripe object is older than Stripe (2010); pandas' timestamps end in 2262.
EARLIEST_AS_OF = 1_262_304_000  # 2010-01-01T00:00:00Z
# A clock a little ahead of ours is no reason to refuse.
AS_OF_SKEW = 300


def check_as_of(as_of: int, now: float) -> None:
    """Refuse (ConfigError) an `as_of` before Stripe existed or after `now`."""
    if as_of < EARLIEST_AS_OF or as_of > now + AS_OF_SKEW:
        when = (
            "before 2010, when no Stripe object existed"
            if as_of < EARLIEST_AS_OF
            else ("in the future: attributes can only be computed for what has happened")
        )
        raise ConfigError(
            "as_of",
            f"{as_of} is {when}",
            "give a time between 2010-01-01 and now, or none for now",
        )


async def enrich_job(
    conns: Connections,
    runner: StepRunner,
    *,
    dry_run: bool = False,
    as_of: int | None = None,
    limit: int | None = None,
    wait_for_lock: float = 0.0,
    max_reject_rate: float | None = None,
    partitions: int = 1,
    run_partitions: PartitionRunner | None = None,
    partition_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> RunSummary:
    """Compute every person's attributes as of `as_of` (default: now) and push what changed.

    `dry_run` sends nothing (no credentials needed, no lock taken); `limit` takes the first
    persons by identifier. Persons whose history the ledger lacks are left out and counted.
    Another pushing run holding the ledger refuses this one (RunInProgressError) unless it ends
    within `wait_for_lock` seconds; rejects above the threshold fail it (RejectRateExceededError).
    With `partitions` above 1 the persons are computed and pushed a partition at a time, each
    from its own rows (see partitions.py): `run_partitions` computes them (default: in this
    process, one at a time), exchanging files in `partition_dir` (default: a temporary one).
    """
    threshold = reject_threshold(max_reject_rate)
    if as_of is not None:
        check_as_of(as_of, clock())
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ConfigError(
            "partitions", f"{partitions} is out of range", f"give 1 to {MAX_PARTITIONS}"
        )
    if partitions > 1 and limit is not None:
        raise ConfigError(
            "limit",
            "a limit takes the first persons of all, which partitions do not know",
            "give either a limit or partitions",
        )
    customerio = None if dry_run else conns.customerio_settings()
    settings = attribute_settings_from_env()
    # Snapshots are replaced only once Customer.io accepted them, and recorded as the run
    # stops: the next run diffs against them and sends only the rest.
    async with opened_job(
        conns,
        runner,
        RunSummary(ENRICH, dry_run=dry_run),
        threshold,
        lock="push",
        write=not dry_run,
        wait=wait_for_lock,
        skip_lock=dry_run,
        interrupted=(
            "interrupted: enrich stopped; nothing half-sent: the next enrich sends only what "
            "Customer.io has not accepted"
        ),
    ) as (ledger, job):
        # Read once the lock is held: waiting for it may take minutes.
        reference = int(clock()) if as_of is None else as_of
        if partitions > 1:
            runner_ = run_partitions or in_threads(settings)
            directory = partition_dir or Path(tempfile.mkdtemp(prefix="stripe-cio-partitions-"))
            await _partitioned(
                job, ledger, customerio, settings, reference, partitions, runner_, directory
            )
            job.check_rejects()
            return job.summary

        async def compute_step() -> PlannedUpdates:
            return await asyncio.to_thread(
                plan_updates, ledger, settings, reference, limit=limit, record_ranks=not dry_run
            )

        planned = await job.step("compute attributes", compute_step)
        runner.info(
            f"attributes of {planned.persons} persons; "
            f"{len(planned.updates)} to compare with what Customer.io holds"
        )
        job.summary.add_skipped(planned.skipped)
        await push_updates(job, ledger, customerio, planned.updates, dry_run=dry_run)
        job.check_rejects()
    return job.summary


async def _partitioned(
    job: JobRun,
    ledger: Ledger,
    customerio: CustomerIOSettings | None,
    settings: AttributeSettings,
    as_of: int,
    partitions: int,
    run_partitions: PartitionRunner,
    directory: Path,
) -> None:
    """Enrich's compute and push, a partition at a time: read the ledger into the partitions'
    files, compute them (wherever `run_partitions` does), rank everyone against everyone's
    cut-points, then plan and push each partition's updates."""
    dry_run = customerio is None

    async def read_step() -> list[PartitionWork]:
        return await asyncio.to_thread(
            write_partitions, ledger, settings, partitions, directory, as_of
        )

    works = await job.step("read into partitions", read_step)
    try:

        async def compute_step() -> RankCuts | None:
            await run_partitions(works)
            missing = [work.partition for work in works if not computed(work)]
            if missing:
                raise RuntimeError(f"partitions {sorted(missing)} were not computed")
            return await asyncio.to_thread(everyones_cuts, works)

        cuts = await job.step("compute attributes", compute_step)
        if not dry_run:
            record_rank_cuts(ledger.engine, cuts, as_of)
        incomplete = await asyncio.to_thread(incomplete_customers, ledger.engine)
        persons, delivered = 0, DeliverySummary(dry_run=dry_run)
        for work in works:
            result = await asyncio.to_thread(finished_partition, work, cuts, settings)
            planned = plan_frame_updates(ledger, settings, result, result.attributes, incomplete)
            persons += planned.persons
            job.summary.add_skipped(planned.skipped)
            del result
            part = await push_updates(
                job, ledger, customerio, planned.updates, dry_run=dry_run, preview=False
            )
            delivered = delivered.combined(part)
        if dry_run:
            await attach_preview(job, delivered)
        job.runner.info(f"attributes of {persons} persons in {partitions} partitions")
    finally:
        await asyncio.to_thread(remove_files, works)


async def replay_job(
    conns: Connections,
    runner: StepRunner,
    *,
    ids: list[int] | None = None,
    kind: Kind | None = None,
    dry_run: bool = False,
    max_reject_rate: float | None = None,
) -> RunSummary:
    """Resend the open dead letters (all, those with `ids`, or those of one `kind`) under the
    ledger's push lock; what still fails stays open and counts as a reject of this run."""
    threshold = reject_threshold(max_reject_rate)
    customerio = None if dry_run else conns.customerio_settings()
    async with opened_job(
        conns,
        runner,
        RunSummary(REPLAY, dry_run=dry_run),
        threshold,
        lock="push",
        skip_lock=dry_run,
        interrupted=(
            "interrupted: replay stopped; nothing half-sent: what it did not resend stays open "
            "for the next replay"
        ),
    ) as (ledger, job):

        async def replay_step() -> DeliverySummary:
            store = DeliveryStore.of(ledger)
            if customerio is None:
                return await replay(None, store, ids=ids, kind=kind, dry_run=True)
            async with CustomerIOClient(customerio) as client:
                return await replay(client, store, ids=ids, kind=kind)

        replayed = await job.step("replay dead letters", replay_step, retry=True)
        job.summary.add_delivery(replayed)
        runner.info(_delivery_line("dead-letter replay", replayed))
        job.check_rejects()
    return job.summary
