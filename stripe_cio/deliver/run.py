"""The delivery run: diff, check, pack and send person updates, then events; record outcomes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from ..cio_api import CustomerIOClient, batch_body_size
from ..gc import rare_collections
from .checks import BatchPacker, NameCheck, check_identifiers, person_key
from .model import EventItem, Kind, Outgoing, PersonUpdate, Refusal
from .plan import fallback_item, plan_event, plan_person
from .replay import replay_items
from .store import DeadLetter, DeliveryStore, Failure
from .summary import DeliverySummary

T = TypeVar("T")
_CHUNK = 2_000  # inputs per snapshot / delivered-events lookup
_STATS = ("requests", "retries", "rate_limited", "split_batches")


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class Delivery:
    """One run over one client and store; `deliver()` and `replay_dead_letters()` drive it."""

    def __init__(
        self,
        client: CustomerIOClient | None,
        store: DeliveryStore,
        *,
        dry_run: bool = False,
        samples: int = 5,
        person_resolution: str = "superseded",
    ) -> None:
        if client is None and not dry_run:
            raise ValueError("a Customer.io client is needed unless dry_run=True")
        self.client = client
        self.store = store
        self.summary = DeliverySummary(dry_run=dry_run)
        self._samples = samples
        self._names = NameCheck()
        self._outcomes = Outcomes(store)
        # Open dead letters that an accepted item of the same key resolves.
        self._open: dict[Kind, set[str]] = {
            "person": store.open_dead_letter_keys("person"),
            "event": store.open_dead_letter_keys("event"),
        }
        self._person_resolution = person_resolution
        self._flight = InFlight(2 * client.max_concurrency if client else 1)
        self._verified = False

    # --- the phases -------------------------------------------------------------------------

    async def run(self, people: Iterable[PersonUpdate], events: Iterable[EventItem]) -> None:
        """Send every person update, wait until all are settled, then send the events.

        Waiting makes an identify precede its person's events (in an earlier batch), so a
        campaign triggered by an event sees the profile's new attributes. Items hold no
        reference cycles: the cyclic collector runs rarely meanwhile, since its scans of the
        items in flight took a large share of a run's CPU (see docs/delivery.md).
        """
        with rare_collections():
            await self._phase(self._people(people))
            await self._phase(self._events(events))

    async def replay(self, letters: Sequence[DeadLetter]) -> None:
        """Resend dead letters: persons first, then events, as a run does."""
        people, events = replay_items(letters, self._names)
        with rare_collections():
            await self._phase(self._resend("person", people))
            await self._phase(self._resend("event", events))

    async def _phase(self, work: Coroutine[Any, Any, None]) -> None:
        started = time.monotonic()
        before = [getattr(self.client.stats, name) for name in _STATS] if self.client else []
        try:
            await work
            await self._flight.drain()
        finally:
            await self._flight.cancel()
            if not self.summary.dry_run:
                await self._outcomes.flush()  # what was accepted before a failure stays so
            self.summary.seconds += time.monotonic() - started
            if self.client is not None:
                for name, value in zip(_STATS, before, strict=True):
                    spent = getattr(self.client.stats, name) - value
                    setattr(self.summary, name, getattr(self.summary, name) + spent)

    async def _people(self, updates: Iterable[PersonUpdate]) -> None:
        summary = self.summary
        packer = BatchPacker()
        seen: set[str] = set()
        # A new person sends every attribute: count them by attribute set, not one by one.
        shapes: Counter[tuple[str, ...]] = Counter()
        lookup = self.store.has_snapshots()  # a first run has nothing to look up
        names, add, dry_run = self._names, packer.add, summary.dry_run
        for chunk in _chunks(updates, _CHUNK):
            identities = [check_identifiers(update.identifiers) for update in chunk]
            keys = [person_key(*i) if i.__class__ is tuple else None for i in identities]
            snapshots = self.store.snapshots(k for k in keys if k) if lookup else {}
            failures: list[Failure] = []
            summary.persons_seen += len(chunk)
            for update, identity, key in zip(chunk, identities, keys, strict=True):
                if key is None or not isinstance(identity, tuple):
                    plan = plan_person(update, None, names)  # refused: no usable identifier
                elif key in seen:
                    summary.reject("person", "duplicate_person")
                    continue
                else:
                    seen.add(key)
                    plan = plan_person(update, snapshots.get(key), names, identity, key)
                if plan is None:
                    summary.persons_unchanged += 1
                    continue
                if isinstance(plan, Refusal):
                    item = plan.item or fallback_item("person", update)
                    failures.append(Failure(item, plan, "pre_send"))
                    continue
                if plan.created:
                    summary.persons_created += 1
                    shapes[tuple(plan.changes)] += 1
                else:
                    summary.persons_updated += 1
                    for name, value in plan.changes.items():
                        changed = value is not None
                        counter = (
                            summary.attribute_changes if changed else summary.attributes_cleared
                        )
                        counter[name] += 1
                if dry_run:
                    self._sample(plan.item)
                if (full := add(plan.item)) is not None:
                    await self._dispatch(full)
            self._fail(failures)
        for shape, persons in shapes.items():
            for name in shape:
                summary.attribute_changes[name] += persons
        await self._flush(packer)

    async def _events(self, events: Iterable[EventItem]) -> None:
        summary = self.summary
        packer = BatchPacker()
        add, dry_run = packer.add, summary.dry_run
        seen: set[str] = set()
        for chunk in _chunks(events, _CHUNK):
            plans = [plan_event(event) for event in chunk]
            known = self.store.delivered(p.item_key for p in plans if isinstance(p, Outgoing))
            failures: list[Failure] = []
            resolved: dict[tuple[Kind, str], str] = {}
            summary.events_seen += len(chunk)
            for event, plan in zip(chunk, plans, strict=True):
                if isinstance(plan, Refusal):
                    item = plan.item or fallback_item("event", event)
                    failures.append(Failure(item, plan, "pre_send"))
                elif plan.item_key in seen:
                    summary.events_duplicate += 1
                elif plan.item_key in known:
                    summary.events_already_delivered += 1
                    if plan.item_key in self._open["event"]:
                        resolved[("event", plan.item_key)] = "already_delivered"
                else:
                    seen.add(plan.item_key)
                    summary.events_new += 1
                    if dry_run:
                        self._sample(plan)
                    if (full := add(plan)) is not None:
                        await self._dispatch(full)
            self._fail(failures, resolved)
        await self._flush(packer)

    async def _resend(self, kind: Kind, items: list[Outgoing | Failure]) -> None:
        summary = self.summary
        packer = BatchPacker()
        sendable = [i.item_key for i in items if isinstance(i, Outgoing)]
        known = self.store.delivered(sendable) if kind == "event" else set()
        failures: list[Failure] = []
        resolved: dict[tuple[Kind, str], str] = {}
        for item in items:
            if kind == "person":
                summary.persons_seen += 1
            else:
                summary.events_seen += 1
            if isinstance(item, Failure):
                failures.append(item)
            elif item.item_key in known:
                summary.events_already_delivered += 1
                resolved[(kind, item.item_key)] = "already_delivered"
            else:
                if kind == "person":
                    summary.persons_updated += 1
                else:
                    summary.events_new += 1
                if (full := self._pack(packer, item)) is not None:
                    await self._dispatch(full)
        self._fail(failures, resolved)
        await self._flush(packer)

    # --- batches ------------------------------------------------------------------------------

    def _sample(self, item: Outgoing) -> None:
        """Keep the first few payloads of a dry run for the preview."""
        if len(self.summary.samples) < self._samples:
            self.summary.samples.append(orjson.loads(item.body))

    def _pack(self, packer: BatchPacker, item: Outgoing) -> list[Outgoing] | None:
        """Add an item to the open batch; the batch it closed, to dispatch (no await per item)."""
        if self.summary.dry_run:
            self._sample(item)
        return packer.add(item)

    async def _flush(self, packer: BatchPacker) -> None:
        last = packer.flush()
        if last is not None:
            await self._dispatch(last)

    async def _dispatch(self, batch: list[Outgoing]) -> None:
        bodies = [item.body for item in batch]
        self.summary.batches += 1
        self.summary.bytes += batch_body_size(sum(map(len, bodies)), len(bodies))
        if self.client is None or self.summary.dry_run:
            return
        if not self._verified:
            # Once per run, before the first batch: wrong credentials or region fail here, clearly.
            await self.client.verify_region()
            self._verified = True
        await self._flight.spawn(self._send(self.client, batch, bodies))

    async def _send(
        self, client: CustomerIOClient, batch: list[Outgoing], bodies: list[bytes]
    ) -> None:
        result = await client.batch(bodies)
        accepted, failures = batch, []
        if result.errors:
            refused = {error.index: error for error in result.errors}
            accepted = [item for index, item in enumerate(batch) if index not in refused]
            failures = [
                Failure(batch[i], Refusal(e.reason, e.field, e.message), "customerio")
                for i, e in refused.items()
            ]
        resolved: dict[tuple[Kind, str], str] = {}
        if self._open["person"] or self._open["event"]:
            for item in accepted:
                if item.item_key in self._open[item.kind]:
                    how = self._person_resolution if item.kind == "person" else "delivered"
                    resolved[(item.kind, item.item_key)] = how
                    self._open[item.kind].discard(item.item_key)
        # Snapshots change only now, once Customer.io has accepted the person's item.
        self._outcomes.add(accepted, failures, resolved)
        summary = self.summary
        summary.dead_letters_resolved += len(resolved)
        people = sum([item.kind == "person" for item in accepted])
        summary.persons_delivered += people
        summary.events_delivered += len(accepted) - people
        for failure in failures:
            summary.reject(failure.item.kind, failure.refusal.reason)

    def _fail(
        self, failures: list[Failure], resolved: dict[tuple[Kind, str], str] | None = None
    ) -> None:
        """Count items refused before sending; keep them as dead letters (not in a dry run)."""
        for failure in failures:
            self.summary.reject(failure.item.kind, failure.refusal.reason)
        if self.summary.dry_run or not (failures or resolved):
            return
        self._outcomes.add(failed=failures, resolved=resolved)
        for kind, key in resolved or {}:
            self._open[kind].discard(key)
        self.summary.dead_letters_resolved += len(resolved or {})


# --- outcomes -------------------------------------------------------------------------------------
# What Customer.io accepted or refused, written to the ledger in few transactions, off the loop.


class Outcomes:
    """Collects batch outcomes and writes them, `rows` items at a time, in a worker thread.

    Writing later than the acceptance is safe: a snapshot lost in a crash only means the same
    values are sent again next run, which Customer.io takes as a no-op. Writing earlier never
    happens: nothing enters this buffer before Customer.io has answered. SQLite releases the
    GIL while it writes, so on a second core the writes overlap the sending.
    """

    def __init__(self, store: DeliveryStore, *, rows: int = 5_000) -> None:
        self.store = store
        self.rows = rows
        self._accepted: list[Outgoing] = []
        self._failed: list[Failure] = []
        self._resolved: dict[tuple[Kind, str], str] = {}
        self._writer: asyncio.Task[None] | None = None

    def add(
        self,
        accepted: Sequence[Outgoing] = (),
        failed: Sequence[Failure] = (),
        resolved: Mapping[tuple[Kind, str], str] | None = None,
    ) -> None:
        """Buffer outcomes; start writing them once `rows` have gathered."""
        self._accepted.extend(accepted)
        self._failed.extend(failed)
        self._resolved.update(resolved or {})
        pending = len(self._accepted) + len(self._failed) + len(self._resolved)
        if pending >= self.rows and (self._writer is None or self._writer.done()):
            self._writer = asyncio.ensure_future(self._write_all())

    async def _write_all(self) -> None:
        # One write at a time, in order, until the buffer is empty.
        while self._accepted or self._failed or self._resolved:
            accepted, failed, resolved = self._accepted, self._failed, self._resolved
            self._accepted, self._failed, self._resolved = [], [], {}
            await asyncio.to_thread(
                self.store.record, accepted=accepted, failed=failed, resolved=resolved
            )

    async def flush(self) -> None:
        """Write everything collected so far; raise if a write failed."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer
        await self._write_all()


# --- in flight ------------------------------------------------------------------------------------
# A bounded set of concurrent sends in which the first failure stops all the others.


class InFlight:
    """At most `limit` tasks at once; a failing task cancels the rest and is raised to the caller.

    A 401 must stop a run at once, not after every batch already queued has failed the same way.
    """

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None

    async def spawn(self, send: Coroutine[Any, Any, None]) -> None:
        """Start `send` once a slot is free; raise the first failure instead, if there was one."""
        try:
            await self._slots.acquire()
        except BaseException:
            send.close()
            raise
        if self._error is not None:
            self._slots.release()
            send.close()
            raise self._error
        task = asyncio.create_task(send)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if task.cancelled() or task.exception() is None:
            return
        if self._error is None:
            self._error = task.exception()
            for other in self._tasks:
                other.cancel()

    async def drain(self) -> None:
        """Wait for every task; raise the first failure."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._error is not None:
            raise self._error

    async def cancel(self) -> None:
        """Cancel whatever still runs (the caller itself failed) and wait for it to stop."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
