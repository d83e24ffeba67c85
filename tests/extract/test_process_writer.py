"""The ledger writer in a child process: the same ledger as the thread writer, clean cancel."""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

import pytest

from stripe_cio.extract import backfill
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
