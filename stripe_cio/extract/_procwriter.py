"""A ledger writer in its own process, so that writing does not share the reading loop's GIL.

Same contract as the thread writer (`_writer.LedgerWriter`): pages and slice completions are
applied in the order given, a slice is marked done only after its pages are written, and at
most `max_pages` pages are handed over but not yet written. The child opens its own ledger with
`open_ledger` (a picklable zero-argument callable, e.g. `Ledger.reopener()`). Pages cross as
orjson bytes: dumping a page and loading it again is several times cheaper than pickling its
dicts, and the loading happens in the child. A listener thread turns the child's reports into
calls on the event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ._contract import LedgerLike
from ._writer import WriteDone

__all__ = ["ProcessWriter"]

_POLL_S = 0.2  # how often the listener checks that the child is still alive
_STOP_WAIT_S = 10.0  # how long a cancelled run waits for the write in progress to end

# To the child: ("w", resource, objects, page bytes) | ("m", resource, run, start, end, count)
# | None (stop). From the child: ("w", resource, pages, objects, written, unchanged, rejected)
# | ("m", resource, start, end) | ("error", exception) | ("closed",).
_Item = tuple[Any, ...] | None


@dataclass(frozen=True)
class _Outcome:
    written: int
    unchanged: int
    rejected: dict[str, int]


class ProcessWriter:
    """``writer.start(); await writer.write(...); writer.mark(...); await writer.close()``."""

    def __init__(
        self,
        open_ledger: Callable[[], LedgerLike],
        *,
        observed_at: int,
        api_version: str | None,
        on_done: Callable[[WriteDone], None],
        max_pages: int = 32,
        max_batch: int = 1000,
    ) -> None:
        # spawn: a fork would copy the loop's threads and sockets into the child.
        context = multiprocessing.get_context("spawn")
        self._inbox: multiprocessing.Queue[_Item] = context.Queue()
        self._outbox: multiprocessing.Queue[tuple[Any, ...]] = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve,
            args=(open_ledger, self._inbox, self._outbox, self._stop),
            kwargs={"observed_at": observed_at, "api_version": api_version, "max_batch": max_batch},
            name="ledger-writer",
            daemon=True,  # never outlives the extraction process
        )
        self._on_done = on_done
        self._slots = asyncio.Semaphore(max_pages)
        self._loop = asyncio.get_running_loop()
        self._failed: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._listener = threading.Thread(target=self._listen, name="ledger-listener", daemon=True)

    @property
    def failed(self) -> asyncio.Future[None]:
        """Completes with the writer's exception if a ledger call fails or the child dies."""
        return self._failed

    def start(self) -> None:
        self._process.start()
        self._listener.start()

    async def write(self, resource: str, objects: list[dict[str, Any]]) -> None:
        """Queue one page; waits while `max_pages` pages are already waiting to be written."""
        self._raise_if_failed()
        await self._slots.acquire()
        self._raise_if_failed()
        self._inbox.put(("w", resource, len(objects), orjson.dumps(objects)))

    def mark(self, resource: str, run: str, start: int, end: int, count: int) -> None:
        """Queue `mark_slice_done`, to run after every page queued before it."""
        self._raise_if_failed()
        self._inbox.put(("m", resource, run, start, end, count))

    async def close(self) -> None:
        """Write everything queued, then stop the child (raising its error, if any)."""
        self._inbox.put(None)
        await self._closed
        await asyncio.to_thread(self._process.join)
        await asyncio.to_thread(self._listener.join)
        self._raise_if_failed()

    def abandon(self) -> None:
        """Stop after the call in progress, dropping what is queued (the run was cancelled)."""
        self._stop.set()
        self._inbox.put(None)
        self._inbox.cancel_join_thread()  # do not wait to flush pages nobody will write
        self._process.join(_STOP_WAIT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._listener.join()

    def _raise_if_failed(self) -> None:
        if self._failed.done():
            self._failed.result()

    def _listen(self) -> None:
        call = self._loop.call_soon_threadsafe
        while True:
            try:
                message = self._outbox.get(timeout=_POLL_S)
            except queue.Empty:
                if self._process.is_alive() or self._process.exitcode is None:
                    continue
                try:  # the child may have exited right after its last report
                    message = self._outbox.get(timeout=_POLL_S)
                except queue.Empty:
                    code = self._process.exitcode
                    died = RuntimeError(f"the ledger writer process exited with code {code}")
                    call(_settle, self._failed, died)
                    call(_settle, self._closed, None)
                    return
            if message[0] == "closed":
                call(_settle, self._closed, None)
                return
            call(self._report, message)

    def _report(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "error":
            _settle(self._failed, message[1])
        elif kind == "m":
            _, resource, start, end = message
            self._on_done(WriteDone(resource, 0, None, (start, end)))
        else:
            _, resource, pages, objects, written, unchanged, rejected = message
            for _ in range(pages):
                self._slots.release()
            self._on_done(WriteDone(resource, objects, _Outcome(written, unchanged, rejected)))


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _serve(
    open_ledger: Callable[[], LedgerLike],
    inbox: multiprocessing.Queue[_Item],
    outbox: multiprocessing.Queue[tuple[Any, ...]],
    stop: Any,
    *,
    observed_at: int,
    api_version: str | None,
    max_batch: int,
) -> None:
    """The child: apply what arrives, in order, until told to stop; report each call."""
    ledger: LedgerLike | None = None
    try:
        ledger = open_ledger()
        pending: list[tuple[Any, ...]] = []  # consecutive pages of one resource, not yet written
        size = 0
        while True:
            items = [inbox.get()]
            while True:  # take what is already there, so that pages are written in batches
                try:
                    items.append(inbox.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                if stop.is_set():
                    return
                batchable = item is not None and item[0] == "w"
                if pending and (
                    not batchable
                    or item[1] != pending[0][1]  # type: ignore[index]
                    or size + item[2] > max_batch  # type: ignore[index]
                ):
                    _write(ledger, pending, outbox, observed_at, api_version)
                    pending, size = [], 0
                if item is None:
                    return
                if batchable:
                    pending.append(item)
                    size += item[2]
                else:
                    _, resource, run, start, end, count = item
                    ledger.mark_slice_done(resource, run, start, end, count)
                    outbox.put(("m", resource, start, end))
            if pending and not stop.is_set():  # nothing more is waiting: write what we have
                _write(ledger, pending, outbox, observed_at, api_version)
                pending, size = [], 0
    except BaseException as exc:  # reported to the parent; the run stops there
        outbox.put(("error", _portable(exc)))
    finally:
        close = getattr(ledger, "close", None)
        if callable(close):
            close()
        outbox.put(("closed",))


def _write(
    ledger: LedgerLike,
    pages: list[tuple[Any, ...]],
    outbox: multiprocessing.Queue[tuple[Any, ...]],
    observed_at: int,
    api_version: str | None,
) -> None:
    objects = [obj for page in pages for obj in orjson.loads(page[3])]
    result = ledger.write_objects(
        pages[0][1], objects, observed_at=observed_at, api_version=api_version
    )
    rejected = dict(result.rejected)
    outbox.put(
        ("w", pages[0][1], len(pages), len(objects), result.written, result.unchanged, rejected)
    )


def _portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling (to cross to the parent), else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
    except Exception:
        return RuntimeError(f"the ledger writer failed: {type(exc).__name__}: {exc}")
    return exc
