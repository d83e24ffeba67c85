"""One writer thread that feeds pages to the (synchronous) ledger while the loop keeps reading.

The event loop hands over pages and slice completions; the thread writes the pages and then
marks the slices, so a slice is marked done only after all of its pages are in the ledger.

Pages are written in batches: each ledger call is one transaction, and SQLite's cost per
transaction (rewriting every index page it touched, so the bytes written per row fall steeply
as a transaction holds more rows: see docs/ledger.md, Bulk writes) outweighs its cost per row.
So the thread takes
pages off the queue into a batch until it holds `WRITE_BATCH` objects, or `LINGER_S` has
passed since the first, or the queue is closing; then each resource's pages go to the ledger in
one call, and the slice marks after them. Memory stays bounded: at most `max_pages` pages wait
in the queue (handing one over waits while the queue is full) and at most a batch more is
being gathered or written, however large the account.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .contract import LedgerLike, WriteOutcome

# Objects in one batch: one ledger call (one transaction) per resource in it, at most.
WRITE_BATCH = 5_000
# How long the writer gathers a batch at most: the most it adds to the progress lag.
LINGER_S = 0.5


@dataclass(frozen=True)
class _Write:
    resource: str
    objects: list[dict[str, Any]]


@dataclass(frozen=True)
class _Mark:
    resource: str
    run: str
    start: int
    end: int
    count: int


@dataclass(frozen=True)
class WriteDone:
    """Reported back on the event loop after a write or a mark."""

    resource: str
    objects: int  # objects handed to the ledger (0 for a mark)
    result: WriteOutcome | None  # None for a mark
    mark: tuple[int, int] | None = None  # the slice marked done


class PageWriter:
    """What both writers share: pages handed over under a bound, each slice's mark after its
    pages, and a failure raised on the loop at the next call."""

    def __init__(self, on_done: Callable[[WriteDone], None], max_pages: int) -> None:
        self._on_done = on_done
        self._slots = asyncio.Semaphore(max_pages)
        self._loop = asyncio.get_running_loop()
        self._failed: asyncio.Future[None] = self._loop.create_future()

    @property
    def failed(self) -> asyncio.Future[None]:
        """Completes with the writer's exception if a ledger call fails (or its process dies)."""
        return self._failed

    async def write(self, resource: str, objects: list[dict[str, Any]]) -> None:
        """Queue one page; waits while `max_pages` pages wait to be taken."""
        self._raise_if_failed()
        await self._slots.acquire()
        self._raise_if_failed()
        self._hand_over(_Write(resource, objects))

    def mark(self, resource: str, run: str, start: int, end: int, count: int) -> None:
        """Queue `mark_slice_done`, to run after every page queued before it."""
        self._raise_if_failed()
        self._hand_over(_Mark(resource, run, start, end, count))

    def _hand_over(self, item: _Write | _Mark) -> None:
        raise NotImplementedError

    def _raise_if_failed(self) -> None:
        if self._failed.done():
            self._failed.result()


class LedgerWriter(PageWriter):
    """``writer.start(); await writer.write(...); await writer.mark(...); await writer.close()``."""

    def __init__(
        self,
        ledger: LedgerLike,
        *,
        observed_at: int,
        api_version: str | None,
        on_done: Callable[[WriteDone], None],
        max_pages: int = 32,
        max_batch: int = WRITE_BATCH,
        linger: float = LINGER_S,
    ) -> None:
        super().__init__(on_done, max_pages)
        self._ledger = ledger
        self._observed_at = observed_at
        self._api_version = api_version
        self._max_batch = max_batch
        self._linger = linger
        self._items: deque[_Write | _Mark | None] = deque()
        self._ready = threading.Condition()
        self._stop_now = False
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def close(self) -> None:
        """Write everything queued, then stop the thread (raising its error, if any)."""
        self._push(None)
        await asyncio.to_thread(self._thread.join)
        self._raise_if_failed()

    def abandon(self) -> None:
        """Stop after the call in progress, dropping what is queued (the run was cancelled)."""
        with self._ready:
            self._stop_now = True
            self._items.clear()
            self._items.append(None)
            self._ready.notify()
        self._thread.join()

    def _hand_over(self, item: _Write | _Mark) -> None:
        self._push(item)

    def _push(self, item: _Write | _Mark | None) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()

    def _gather(self) -> list[_Write | _Mark | None]:
        """A batch: queued items taken until it is full, `linger` is up, or the queue closes."""
        batch: list[_Write | _Mark | None] = []
        size = _Size()
        with self._ready:
            while not self._items:
                self._ready.wait()
            deadline = time.monotonic() + self._linger
            while True:
                pages = 0
                for item in self._items:
                    size.add(item)
                    pages += isinstance(item, _Write)
                batch.extend(self._items)
                self._items.clear()
                if pages:  # taken off the queue: the readers may hand over as many again
                    self._loop.call_soon_threadsafe(self._release, pages)
                left = deadline - time.monotonic()
                if self._stop_now or size.makes_a_batch(self._max_batch) or left <= 0:
                    return batch
                self._ready.wait(left)

    def _release(self, pages: int) -> None:
        for _ in range(pages):
            self._slots.release()

    def _run(self) -> None:
        try:
            while True:
                batch = self._gather()
                if self._stop_now:
                    return
                for group in _group(batch, self._max_batch):
                    if group is None:
                        return
                    self._apply(group)
                    if self._stop_now:
                        return
        except BaseException as exc:  # reported to the loop; the run stops there
            self._loop.call_soon_threadsafe(_set_exception, self._failed, exc)

    def _apply(self, group: list[_Write] | _Mark) -> None:
        if isinstance(group, _Mark):
            self._ledger.mark_slice_done(
                group.resource, group.run, group.start, group.end, group.count
            )
            done = WriteDone(group.resource, 0, None, (group.start, group.end))
            self._loop.call_soon_threadsafe(self._on_done, done)
            return
        objects = [obj for item in group for obj in item.objects]
        result = self._ledger.write_objects(
            group[0].resource, objects, observed_at=self._observed_at, api_version=self._api_version
        )
        done = WriteDone(group[0].resource, len(objects), result)
        self._loop.call_soon_threadsafe(self._on_done, done)


class _Size:
    """What a batch being gathered holds: whether it is worth a transaction yet."""

    def __init__(self) -> None:
        self.pages = self.objects = 0
        self.closing = False

    def add(self, item: _Write | _Mark | None) -> None:
        if item is None:
            self.closing = True
        elif isinstance(item, _Write):
            self.pages += 1
            self.objects += len(item.objects)

    def makes_a_batch(self, max_batch: int) -> bool:
        # Marks alone need no company, and a closing writer writes what it has.
        return self.closing or self.pages == 0 or self.objects >= max_batch


def _group(
    items: Sequence[_Write | _Mark | None], max_batch: int
) -> list[list[_Write] | _Mark | None]:
    """The ledger calls for `items`: each resource's pages merged in order, then the marks.

    A resource's pages go in calls of up to `max_batch` objects (a bigger page alone). Every
    mark follows all the writes: a mark needs only the pages queued before it written, so it
    may come later than it could have, never earlier. The end of the queue (None) stays last.
    """
    by_resource: dict[str, list[list[_Write]]] = {}
    sizes: dict[str, int] = {}
    marks: list[_Mark] = []
    end: list[None] = []
    for item in items:
        if item is None:
            end = [None]
            break
        if isinstance(item, _Mark):
            marks.append(item)
            continue
        calls = by_resource.setdefault(item.resource, [])
        if calls and sizes[item.resource] + len(item.objects) <= max_batch:
            calls[-1].append(item)
            sizes[item.resource] += len(item.objects)
        else:
            calls.append([item])
            sizes[item.resource] = len(item.objects)
    groups: list[list[_Write] | _Mark | None] = [
        call for calls in by_resource.values() for call in calls
    ]
    return groups + marks + end


def _set_exception(future: asyncio.Future[None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
