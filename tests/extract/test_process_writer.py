"""The ledger writers: a child process gives the thread's ledger and cancels cleanly; both batch."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from typing import Any

import orjson
import pytest

from stripe_cio.extract import backfill
from stripe_cio.extract.procwriter import _gather
from stripe_cio.extract.writer import LedgerWriter, WriteDone, _Mark, _Write
from stripe_cio.sandbox import SandboxProcess

pytestmark = pytest.mark.anyio
RESOURCES = ["customers", "charges", "subscriptions", "invoices"]


async def test_the_process_writer_yields_the_ledger_of_the_thread_writer(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    by_thread, by_process = make_ledger(), make_ledger()
    opener = by_process.reopener()
    assert opener is not None
    async with kit.client_for(sandbox.url) as client:
        t0 = (await backfill(client, by_thread, resources=RESOURCES, workers=4)).t0
        summary = await backfill(
            client, by_process, t0=t0, resources=RESOURCES, workers=4, open_ledger=opener
        )
    assert summary.complete
    for name in RESOURCES:
        assert by_process.raw_objects(name) == by_thread.raw_objects(name)
        assert summary.resources[name].written == by_process.count(name) > 0
        assert by_process.completed_slices(name, summary.run)
    assert not multiprocessing.active_children()


async def test_a_cancelled_run_leaves_no_writer_process(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    ledger = make_ledger()
    async with kit.client_for(sandbox.url, rps=50) as client:
        job = asyncio.create_task(
            backfill(client, ledger, resources=["charges"], open_ledger=ledger.reopener())
        )
        await asyncio.sleep(1.0)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
    assert not multiprocessing.active_children()


def test_an_in_memory_ledger_cannot_be_reopened() -> None:
    from stripe_cio import LedgerSettings
    from stripe_cio.ledger import Ledger

    with Ledger.open(LedgerSettings(database_url="sqlite://")) as ledger:
        assert ledger.reopener() is None


# --- batching, shared by both writers ------------------------------------------------------------


class RecordingLedger:
    """Passes calls to a real ledger and records them: ("write", resource, objects) or marks."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write_objects(self, resource: str, objects: Any, **kwargs: Any) -> Any:
        self.calls.append(("write", resource, len(objects)))
        return self.inner.write_objects(resource, objects, **kwargs)

    def mark_slice_done(self, resource: str, run: str, start: int, end: int, count: int) -> None:
        self.calls.append(("mark", resource, start))
        self.inner.mark_slice_done(resource, run, start, end, count)


def page(resource: str, first: int, size: int = 100) -> list[dict[str, Any]]:
    # Objects the ledger rejects (no created) still count: the writer only merges and passes.
    return [{"id": f"{resource[:2]}_{n}", "object": "x"} for n in range(first, first + size)]


async def test_the_writer_merges_each_resources_pages_and_marks_after_them(
    make_ledger: Any,
) -> None:
    ledger = RecordingLedger(make_ledger())
    done: list[WriteDone] = []
    writer = LedgerWriter(ledger, observed_at=1, api_version=None, on_done=done.append, linger=600)
    writer.start()
    await writer.write("charges", page("charges", 0))
    writer.mark("charges", "run", 0, 10, 100)
    await writer.write("customers", page("customers", 0))
    await writer.write("charges", page("charges", 100))
    await writer.write("charges", page("charges", 200, size=5))
    await asyncio.wait_for(writer.close(), timeout=60)  # a guard against a hang, not a timing
    # Closing wrote the small batch at once, with no wait for the linger time.
    assert ledger.calls == [
        ("write", "charges", 205),
        ("write", "customers", 100),
        ("mark", "charges", 0),
    ]
    assert sorted(d.objects for d in done) == [0, 100, 205]
    assert sum(sum(d.result.rejected.values()) for d in done if d.result) == 305


async def test_the_writer_writes_a_full_batch_without_lingering(make_ledger: Any) -> None:
    ledger = RecordingLedger(make_ledger())
    written = asyncio.Event()
    writer = LedgerWriter(
        ledger,
        observed_at=1,
        api_version=None,
        on_done=lambda _: written.set(),
        max_batch=200,
        linger=600,
    )
    writer.start()
    for first in (0, 100, 200):
        await writer.write("charges", page("charges", first))
    await asyncio.wait_for(written.wait(), timeout=60)  # a guard against a hang, not a timing
    assert ledger.calls[0] == ("write", "charges", 200)
    await asyncio.wait_for(writer.close(), timeout=60)
    assert ledger.calls == [("write", "charges", 200), ("write", "charges", 100)]


async def test_readers_never_wait_for_a_batch_being_gathered(make_ledger: Any) -> None:
    ledger = RecordingLedger(make_ledger())
    # Two pages may wait in the queue; the writer takes them into its batch as they come.
    writer = LedgerWriter(
        ledger, observed_at=1, api_version=None, on_done=lambda _: None, max_pages=2, linger=600
    )
    writer.start()

    async def hand_over() -> None:
        for first in range(0, 1000, 100):
            await writer.write("charges", page("charges", first))

    await asyncio.wait_for(hand_over(), timeout=60)  # a guard against a hang, not a timing
    assert ledger.calls == []  # all ten pages are in the batch, none written yet
    await asyncio.wait_for(writer.close(), timeout=60)
    assert ledger.calls == [("write", "charges", 1000)]


def test_the_child_gathers_a_batch_from_its_inbox() -> None:
    pages = [("w", "charges", orjson.dumps(page("charges", n * 100))) for n in range(3)]
    mark = ("m", "charges", "run", 0, 10, 100)
    taken: list[None] = []
    # The end of the queue ends the batch, taking every page queued before it.
    queued = _queue_of(pages[0], mark, pages[1], pages[2], None)
    assert _gather(queued, 5_000, 600, lambda: taken.append(None)) == [
        _Write("charges", page("charges", 0)),
        _Mark("charges", "run", 0, 10, 100),
        _Write("charges", page("charges", 100)),
        _Write("charges", page("charges", 200)),
        None,
    ]
    assert len(taken) == 3  # each page reported as taken, so the parent lets another in
    # A full batch ends it too, leaving the rest queued; so does the linger time.
    queued = _queue_of(*pages)
    assert _gather(queued, 200, 600, lambda: None) == [
        _Write("charges", page("charges", 0)),
        _Write("charges", page("charges", 100)),
    ]
    assert _gather(queued, 5_000, 0, lambda: None) == [_Write("charges", page("charges", 200))]


def _queue_of(*items: Any) -> queue.Queue[Any]:
    inbox: queue.Queue[Any] = queue.Queue()
    for item in items:
        inbox.put(item)
    return inbox
