"""One writer thread that feeds pages to the (synchronous) ledger while the loop keeps reading.

The event loop hands over pages and slice completions; the thread writes the pages and then
marks the slices, so a slice is marked done only after all of its pages are in the ledger. A
semaphore bounds the pages handed over but not yet written, so memory is bounded by the pages
in flight, not by the size of the account.

Pages are written in batches: each ledger call is one transaction, and SQLite's cost per
transaction (rewriting every index page the transaction touched) is several times its cost per
row at 100 rows. So the thread takes all that is queued, and when that is less than half the
pages allowed in flight it lingers up to `LINGER_S` for more; then each resource's pages go to
the ledger in one call of up to `WRITE_BATCH` objects, and the slice marks after them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._contract import LedgerLike, WriteOutcome

__all__ = ["LINGER_S", "WRITE_BATCH", "LedgerWriter", "WriteDone"]

# Objects in one ledger call at most (one transaction). The pages in flight bound it first
# (32 pages of 100 by default): it only caps a call if more pages are allowed in flight.
WRITE_BATCH = 5_000
# How long the writer waits for a fuller batch; it adds at most this to the progress lag.
LINGER_S = 0.25


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


class LedgerWriter:
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
        self._ledger = ledger
        self._observed_at = observed_at
        self._api_version = api_version
        self._on_done = on_done
        self._max_batch = max_batch
        self._linger = linger
        self._enough_pages = max(1, max_pages // 2)  # then readers still have room to go on
        self._slots = asyncio.Semaphore(max_pages)
        self._items: deque[_Write | _Mark | None] = deque()
        self._queued = _Queued()
        self._ready = threading.Condition()
        self._loop = asyncio.get_running_loop()
        self._failed: asyncio.Future[None] = self._loop.create_future()
        self._stop_now = False
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)

    @property
    def failed(self) -> asyncio.Future[None]:
        """Completes with the writer's exception if a ledger call fails."""
        return self._failed

    def start(self) -> None:
        self._thread.start()

    async def write(self, resource: str, objects: list[dict[str, Any]]) -> None:
        """Queue one page; waits while `max_pages` pages are already waiting to be written."""
        self._raise_if_failed()
        await self._slots.acquire()
        self._raise_if_failed()
        self._push(_Write(resource, objects))

    def mark(self, resource: str, run: str, start: int, end: int, count: int) -> None:
        """Queue `mark_slice_done`, to run after every page queued before it."""
        self._raise_if_failed()
        self._push(_Mark(resource, run, start, end, count))

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

    def _raise_if_failed(self) -> None:
        if self._failed.done():
            self._failed.result()

    def _push(self, item: _Write | _Mark | None) -> None:
        with self._ready:
            self._items.append(item)
            self._queued.add(item)
            self._ready.notify()

    def _take(self) -> list[_Write | _Mark | None]:
        """Everything queued, once it makes a batch (or the linger time is up)."""
        with self._ready:
            while not self._items:
                self._ready.wait()
            deadline = time.monotonic() + self._linger
            while not self._stop_now and not self._queued.enough(
                self._enough_pages, self._max_batch
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            taken = list(self._items)
            self._items.clear()
            self._queued = _Queued()
            return taken

    def _run(self) -> None:
        try:
            while True:
                items = self._take()
                if self._stop_now:
                    return
                for group in _group(items, self._max_batch):
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
        self._loop.call_soon_threadsafe(
            self._finish_write, group[0].resource, len(group), len(objects), result
        )

    def _finish_write(self, resource: str, pages: int, objects: int, result: WriteOutcome) -> None:
        for _ in range(pages):
            self._slots.release()
        self._on_done(WriteDone(resource, objects, result))


class _Queued:
    """How much is queued: whether it makes a batch worth a transaction."""

    def __init__(self) -> None:
        self.pages = self.objects = 0
        self.closing = False

    def add(self, item: _Write | _Mark | None) -> None:
        if item is None:
            self.closing = True
        elif isinstance(item, _Write):
            self.pages += 1
            self.objects += len(item.objects)

    def enough(self, pages: int, objects: int) -> bool:
        # Marks alone need no company, and a closing writer writes what it has.
        return self.closing or self.pages == 0 or self.pages >= pages or self.objects >= objects


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
