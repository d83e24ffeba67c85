"""A ledger writer in its own process, so that writing does not share the reading loop's GIL.

Same contract and batching as the thread writer (`writer.LedgerWriter`): a slice is marked
done only after its pages are written, pages are written in batches of up to `WRITE_BATCH`
objects, and at most `max_pages` pages wait for the child to take them, besides its batch.
The child opens its own ledger with `open_ledger` (a picklable zero-argument callable, e.g.
`Ledger.reopener()`). Pages cross as orjson bytes: dumping a page and loading it again is
several times cheaper than pickling its dicts, and the loading happens in the child. A
listener thread turns the child's reports into calls on the event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from .contract import LedgerLike
from .writer import LINGER_S, WRITE_BATCH, PageWriter, WriteDone, _group, _Mark, _Size, _Write

_POLL_S = 0.2  # how often the listener checks that the child is still alive
_STOP_WAIT_S = 10.0  # how long a cancelled run waits for the write in progress to end

# To the child: ("w", resource, page bytes) | ("m", resource, run, start, end, count)
# | None (stop). From the child: ("t",) a page taken off the queue
# | ("w", resource, objects, written, unchanged, rejected)
# | ("m", resource, start, end) | ("error", exception) | ("closed",).
_Item = tuple[Any, ...] | None


@dataclass(frozen=True)
class _Outcome:
    written: int
    unchanged: int
    rejected: dict[str, int]


class ProcessWriter(PageWriter):
    """``writer.start(); await writer.write(...); writer.mark(...); await writer.close()``."""

    def __init__(
        self,
        open_ledger: Callable[[], LedgerLike],
        *,
        observed_at: int,
        api_version: str | None,
        on_done: Callable[[WriteDone], None],
        max_pages: int = 32,
        max_batch: int = WRITE_BATCH,
        linger: float = LINGER_S,
    ) -> None:
        # spawn: a fork would copy the loop's threads and sockets into the child.
        context = multiprocessing.get_context("spawn")
        self._inbox: multiprocessing.Queue[_Item] = context.Queue()
        self._outbox: multiprocessing.Queue[tuple[Any, ...]] = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve,
            args=(open_ledger, self._inbox, self._outbox, self._stop),
            kwargs={
                "observed_at": observed_at,
                "api_version": api_version,
                "max_batch": max_batch,
                "linger": linger,
            },
            name="ledger-writer",
            daemon=True,  # never outlives the extraction process
        )
        super().__init__(on_done, max_pages)
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._listener = threading.Thread(target=self._listen, name="ledger-listener", daemon=True)

    def start(self) -> None:
        self._process.start()
        self._listener.start()

    def _hand_over(self, item: _Write | _Mark) -> None:
        if isinstance(item, _Write):
            self._inbox.put(("w", item.resource, orjson.dumps(item.objects)))
        else:
            self._inbox.put(("m", item.resource, item.run, item.start, item.end, item.count))

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
        if kind == "t":  # the child took a page off the queue: the readers may hand over another
            self._slots.release()
        elif kind == "error":
            _settle(self._failed, message[1])
        elif kind == "m":
            _, resource, start, end = message
            self._on_done(WriteDone(resource, 0, None, (start, end)))
        else:
            _, resource, objects, written, unchanged, rejected = message
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
    linger: float,
) -> None:
    """The child: write what arrives in batches, as the thread writer does; report each call."""
    ledger: LedgerLike | None = None
    try:
        ledger = open_ledger()
        while True:
            batch = _gather(inbox, max_batch, linger, lambda: outbox.put(("t",)))
            for group in _group(batch, max_batch):
                if group is None or stop.is_set():
                    return
                if isinstance(group, _Mark):
                    ledger.mark_slice_done(
                        group.resource, group.run, group.start, group.end, group.count
                    )
                    outbox.put(("m", group.resource, group.start, group.end))
                    continue
                resource = group[0].resource
                objects = [obj for page in group for obj in page.objects]
                result = ledger.write_objects(
                    resource, objects, observed_at=observed_at, api_version=api_version
                )
                counts = (result.written, result.unchanged, dict(result.rejected))
                outbox.put(("w", resource, len(objects), *counts))
    except BaseException as exc:  # reported to the parent; the run stops there
        outbox.put(("error", _portable(exc)))
    finally:
        close = getattr(ledger, "close", None)
        if callable(close):
            close()
        outbox.put(("closed",))


class _Inbox(Protocol):
    def get(self, block: bool = True, timeout: float | None = None) -> _Item: ...
    def get_nowait(self) -> _Item: ...


def _gather(
    inbox: _Inbox, max_batch: int, linger: float, taken: Callable[[], None]
) -> list[_Write | _Mark | None]:
    """A batch, gathered as the thread writer does; `taken()` after each page taken."""
    batch: list[_Write | _Mark | None] = []
    size = _Size()
    item = inbox.get()
    deadline = time.monotonic() + linger
    while True:
        unpacked = _unpack(item)
        batch.append(unpacked)
        size.add(unpacked)
        if isinstance(unpacked, _Write):
            taken()
        left = deadline - time.monotonic()
        if size.makes_a_batch(max_batch) or left <= 0:
            return batch
        try:
            item = inbox.get(timeout=left)
        except queue.Empty:
            return batch


def _unpack(item: _Item) -> _Write | _Mark | None:
    if item is None:
        return None
    if item[0] == "w":
        return _Write(item[1], orjson.loads(item[2]))
    return _Mark(*item[1:])


def _portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling (to cross to the parent), else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
    except Exception:
        return RuntimeError(f"the ledger writer failed: {type(exc).__name__}: {exc}")
    return exc
