"""Backfill: read every object of the chosen resources created in `[since, T0]` into the ledger.

The `created` range of each resource is cut into slices that a pool of workers pages
concurrently under the client's shared rate limiter. A worker whose slice turns out dense (a
full page that covers only part of the slice) while other workers may run out of work cuts the
unread rest in half and queues the older half, so the pool stays busy however activity is spread
over time. Pages go to one writer (a thread, or a child process when the ledger can be
reopened there: see `procwriter.py`); each slice is marked done in the ledger after its
pages are written, so a resumed run with the same run id skips it. A real ledger also records
the run in `backfill_runs`, and a complete run of every resource lowers its history horizon to
`since` (see `stripe_cio/ledger/coverage.py`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Any

from ..exceptions import StripeAPIError
from ..gc import quick_thread_switches, rare_collections
from ..ledger import (
    lower_history_horizon,
    record_backfill_completed,
    record_backfill_started,
)
from ..stripe_api import STRIPE_API_VERSION, Params, StripeClient
from .clock import stripe_now
from .contract import LedgerLike, engine_of
from .pages import MAX_LIMIT, iter_pages, last_cursor
from .procwriter import ProcessWriter
from .progress import ProgressCallback, ProgressTracker
from .resources import RESOURCE_BY_NAME, is_fatal, stop_error
from .slices import SliceTask, initial_ranges, missing_ranges, split_point
from .summary import BackfillSummary, FailedSlice, ResourceSummary
from .writer import LedgerWriter, WriteDone

log = logging.getLogger(__name__)
# The collector's threshold counts live container objects added since it last ran. Pages in
# flight (up to ~100 pages, thousands of objects each) swing that count by hundreds of
# thousands, so a low threshold starts a collection every few pages that scans them all, a
# large share of the main thread's CPU; this one lets a backfill run with next to none
# (figures in docs/extraction.md). Little depends on them: the one cycle per request (httpx
# links each response and its stream) is cut by the client, after which a backfill leaves no
# cyclic garbage; any that other code leaves is still collected, only later.
GC_THRESHOLD = 300_000
_RUN_ID = re.compile(r"^backfill-(\d+)$")


def run_id_for(t0: int) -> str:
    """The run id of a backfill up to `t0`; it carries T0 so that a resumed run keeps it."""
    return f"backfill-{t0}"


async def backfill(
    client: StripeClient,
    ledger: LedgerLike,
    *,
    run: str | None = None,
    t0: int | None = None,
    since: int = 0,
    resources: Sequence[str] | None = None,
    workers: int = 16,
    initial_slices: int = 4,
    max_pages_in_flight: int = 64,
    progress: ProgressCallback | None = None,
    open_ledger: Callable[[], LedgerLike] | None = None,
) -> BackfillSummary:
    """Read `resources` (default: all ten) created in `[since, t0]` into `ledger`.

    `t0` defaults to the T0 carried by `run` (see `run_id_for`), else Stripe's present (the
    newest event). Every object is written with `observed_at = t0`: the state read is at least
    as new as T0, and labelling it T0 lets any event from T0 on, replayed by the next sync,
    overwrite it. Slices that fail after the client's retries are listed in the summary; a
    401/403 or other unexpected 4xx stops the whole run with ExtractionStopped.

    With `open_ledger` (a picklable callable opening the same ledger, e.g.
    `ledger.reopener()`), pages are written by a child process that opens its own ledger, so
    writing does not compete with reading for this process's GIL; else by a thread.

    `max_pages_in_flight` (64; a page's memory once parsed is in docs/extraction.md) pages may
    wait for the writer: more than the writer's batch of 5,000 objects, so that reading goes on
    at the full rate while a batch is written (half as many left readers waiting for the writer
    and rate-limit slots lapsing).
    """
    names = list(resources) if resources is not None else list(RESOURCE_BY_NAME)
    unknown = [name for name in names if name not in RESOURCE_BY_NAME]
    if unknown:
        raise ValueError(f"unknown resources {unknown}; choose from {list(RESOURCE_BY_NAME)}")
    if t0 is None and run is not None and (match := _RUN_ID.match(run)):
        t0 = int(match.group(1))
    if t0 is None:
        t0 = await stripe_now(client)
    run = run or run_id_for(t0)
    engine = engine_of(ledger)
    if engine is not None:
        record_backfill_started(engine, run, since=since, t0=t0, resources=names)
    job = _Backfill(client, ledger, run, t0, workers, progress, open_ledger)
    # The writer thread holds the GIL for long stretches; the loop must get it back quickly.
    with rare_collections(threshold=GC_THRESHOLD), quick_thread_switches():
        summary = await job.run(names, since, initial_slices, max_pages_in_flight)
    if engine is not None and summary.complete:
        record_backfill_completed(engine, run, int(time.time()))
        if set(names) >= RESOURCE_BY_NAME.keys():
            # Every object created from `since` on is in the ledger as of T0, and events from
            # T0 - overlap on follow: histories of customers created from `since` are complete.
            lower_history_horizon(engine, since)
    return summary


class _Backfill:
    def __init__(
        self,
        client: StripeClient,
        ledger: LedgerLike,
        run: str,
        t0: int,
        workers: int,
        progress: ProgressCallback | None,
        open_ledger: Callable[[], LedgerLike] | None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.open_ledger = open_ledger
        self.workers = max(1, workers)
        self.started = time.monotonic()
        self.stats_before = (
            client.stats.requests,
            client.stats.retries,
            client.stats.rate_limited,
            client.stats.server_errors,
            client.stats.transport_errors,
        )
        self.summary = BackfillSummary(run=run, t0=t0, resources={})
        self.tracker = ProgressTracker(progress, self.started)
        self.queue: asyncio.Queue[SliceTask] = asyncio.Queue()
        self.open: dict[int, SliceTask] = {}  # every queued or running slice, for the ETA
        self.key_prefix = client.settings.api_key.get_secret_value()[:2]

    async def run(
        self, names: list[str], since: int, initial_slices: int, max_pages: int
    ) -> BackfillSummary:
        end = self.summary.t0 + 1  # `created` is inclusive of T0: slices are [start, end)
        for name in names:
            self.summary.resources[name] = ResourceSummary()
            done = self.ledger.completed_slices(name, self.summary.run)
            gaps = missing_ranges(since, end, done)
            self.summary.resources[name].skipped = len(done)
            self.tracker.covered_span += (end - since) - sum(b - a for a, b in gaps)
            ranges = initial_ranges(*gaps[0], initial_slices) if len(gaps) == 1 else gaps
            for start, stop in ranges:
                self._enqueue(SliceTask(name, start, stop))
        # A first backfill fills empty tables faster without their secondary indexes; they are
        # built again at the end (or, after a crash, when the ledger is next opened).
        for name in names:
            self.ledger.set_indexes_aside(name)
        t0, version, report = self.summary.t0, STRIPE_API_VERSION, self._written
        options: dict[str, Any] = {
            "observed_at": t0,
            "api_version": version,
            "on_done": report,
            "max_pages": max_pages,
        }
        writer: LedgerWriter | ProcessWriter = (
            LedgerWriter(self.ledger, **options)
            if self.open_ledger is None
            else ProcessWriter(self.open_ledger, **options)
        )
        self.writer = writer
        writer.start()
        pool = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        joined = asyncio.create_task(self.queue.join())
        try:
            await asyncio.wait([joined, writer.failed, *pool], return_when=asyncio.FIRST_COMPLETED)
            for task in pool:
                error = task.exception() if task.done() and not task.cancelled() else None
                if error is not None:
                    raise error
            if writer.failed.done():
                writer.failed.result()
            await writer.close()
        except BaseException as exc:
            await _cancel([*pool, joined], raised=exc)
            writer.abandon()
            self._build_indexes_after_failure()
            raise
        await _cancel([*pool, joined])
        await asyncio.to_thread(self.ledger.build_missing_indexes)
        self._finish()
        return self.summary

    def _build_indexes_after_failure(self) -> None:
        """Build the indexes set aside, so that the ledger is whole while the failure is seen."""
        try:
            self.ledger.build_missing_indexes()
        except Exception as exc:  # the run's own error matters more; the next open builds them
            log.error("the ledger's indexes are built again when it is next opened: %s", exc)

    def _enqueue(self, task: SliceTask) -> None:
        self.open[id(task)] = task
        self.queue.put_nowait(task)

    async def _worker(self) -> None:
        while True:
            task = await self.queue.get()
            try:
                await self._read(task)
            except StripeAPIError as exc:
                if is_fatal(exc):
                    raise stop_error(exc, task.resource, self.key_prefix) from exc
                failed = FailedSlice(task.resource, task.start, task.end, str(exc))
                self.summary.failed.append(failed)
                log.warning(
                    "backfill of %s created in [%d, %d) failed, other slices go on: %s",
                    task.resource,
                    task.start,
                    task.end,
                    exc,
                )
            finally:
                self.open.pop(id(task), None)
                self.queue.task_done()

    async def _read(self, task: SliceTask) -> None:
        spec = RESOURCE_BY_NAME[task.resource]
        summary = self.summary.resources[task.resource]
        cut = True
        while cut:  # each round pages [start, end) after the cursor until done or cut
            cut = False
            params: Params = {**spec.params, "created[gte]": task.start, "created[lt]": task.end}
            pages = iter_pages(
                self.client, spec.path, params, starting_after=task.cursor, seen=task.seen
            )
            async with aclosing(pages):
                async for data in pages:
                    task.pages += 1
                    summary.pages += 1
                    task.count += len(data)
                    task.cursor = last_cursor(spec.path, data)
                    oldest = data[-1].get("created")
                    if isinstance(oldest, int):
                        self._covered(task, max(task.start, min(oldest, task.end)))
                        task.density = task.count / max(1, task.end - task.oldest)  # type: ignore[operator]
                    await self.writer.write(task.resource, data)
                    if len(data) == MAX_LIMIT and task.oldest is not None and self._hungry():
                        point = split_point(task.start, task.oldest)
                        if point is not None:
                            self._enqueue(
                                SliceTask(task.resource, task.start, point, density=task.density)
                            )
                            task.start = point
                            cut = True
                            break
        self._covered(task, task.start)
        self.writer.mark(task.resource, self.summary.run, task.start, task.end, task.count)

    def _hungry(self) -> bool:
        """Whether a worker may soon be idle: fewer slices waiting than workers."""
        return self.queue.qsize() < self.workers

    def _covered(self, task: SliceTask, oldest: int) -> None:
        before = task.unread_span
        task.oldest = oldest
        self.tracker.covered_span += before - task.unread_span

    def _written(self, done: WriteDone) -> None:
        summary = self.summary.resources[done.resource]
        now = time.monotonic()
        if done.mark is not None:
            summary.slices += 1
            summary.seconds = now - self.started
            return
        summary.objects += done.objects
        if done.result is not None:
            summary.written += done.result.written
            summary.unchanged += done.result.unchanged
            summary.rejected.update(done.result.rejected)
        self.tracker.add(done.resource, done.objects)
        self.tracker.report(done.resource, self.open.values(), now)

    def _finish(self) -> None:
        stats = self.client.stats
        now = time.monotonic()
        s = self.summary
        s.seconds = now - self.started
        s.requests = stats.requests - self.stats_before[0]
        s.retries = stats.retries - self.stats_before[1]
        s.rate_limited = stats.rate_limited - self.stats_before[2]
        s.server_errors = stats.server_errors - self.stats_before[3]
        s.transport_errors = stats.transport_errors - self.stats_before[4]
        for name in s.resources:
            self.tracker.report(name, (), now, force=True)


async def _cancel(tasks: Sequence[asyncio.Task[None]], raised: BaseException | None = None) -> None:
    """Cancel and await `tasks`; an error other than the one being raised is logged, not lost.

    A cancellation of the run itself that arrives meanwhile (Ctrl-C as the backfill ends) is
    raised once every task is awaited: caught with the tasks' own, it would be lost and the
    command would go on as if never interrupted."""
    current = asyncio.current_task()
    cancelling = current.cancelling() if current is not None else 0
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            if exc is not raised:
                log.error("a backfill worker also failed while the run stopped: %s", exc)
    if current is not None and current.cancelling() > cancelling:
        raise asyncio.CancelledError
