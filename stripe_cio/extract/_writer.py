"""One writer thread that feeds pages to the (synchronous) ledger while the loop keeps reading.

The event loop hands over pages and slice completions; the thread writes them in the order
given, so a slice is marked done only after all of its pages are in the ledger. A semaphore
bounds the pages handed over but not yet written, so memory is bounded by the pages in flight,
not by the size of the account. Consecutive pages of one resource are written in one call,
which keeps the ledger's per-transaction cost off the critical path.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._contract import LedgerLike, WriteOutcome

__all__ = ["LedgerWriter", "WriteDone"]


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
        max_batch: int = 1000,
    ) -> None:
        self._ledger = ledger
        self._observed_at = observed_at
        self._api_version = api_version
        self._on_done = on_done
        self._max_batch = max_batch
        self._slots = asyncio.Semaphore(max_pages)
        self._items: deque[_Write | _Mark | None] = deque()
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
            self._ready.notify()

    def _take(self) -> list[_Write | _Mark | None]:
        with self._ready:
            while not self._items:
                self._ready.wait()
            taken = list(self._items)
            self._items.clear()
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


def _group(items: list[_Write | _Mark | None], max_batch: int) -> list[list[_Write] | _Mark | None]:
    """Consecutive writes of one resource merged (up to `max_batch` objects), order kept."""
    groups: list[list[_Write] | _Mark | None] = []
    current: list[_Write] = []
    size = 0
    for item in items:
        if (
            isinstance(item, _Write)
            and current
            and (item.resource == current[0].resource and size + len(item.objects) <= max_batch)
        ):
            current.append(item)
            size += len(item.objects)
            continue
        if current:
            groups.append(current)
            current, size = [], 0
        if isinstance(item, _Write):
            current, size = [item], len(item.objects)
        else:
            groups.append(item)
    if current:
        groups.append(current)
    return groups


def _set_exception(future: asyncio.Future[None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
