"""The delivery queue in the ledger: the receiver queues each new event in the transaction that
records it, and the delivery rounds take the queue, oldest first, leaving it only once a round
has run; so events queued by a receiver that died are delivered by the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.stripe_api import STRIPE_API_VERSION
from stripe_cio.webhooks.delivery import DeliveryLoop
from stripe_cio.webhooks.store import defer_event, pending_events, record_events


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(LedgerSettings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    yield opened
    opened.close()


def event(n: int, version: str = STRIPE_API_VERSION) -> dict[str, Any]:
    customer = {"id": f"cus_{n}", "object": "customer", "created": 1_700_000_000, "email": None}
    return {
        "id": f"evt_{n:04d}",
        "object": "event",
        "type": "customer.created",
        "api_version": version,
        "created": 1_700_000_000 + n,
        "data": {"object": customer},
    }


def test_new_events_are_queued_once_and_duplicates_not(ledger: Ledger) -> None:
    assert record_events(ledger.engine, [event(1), event(2), event(1)]) == [True, True, False]
    assert record_events(ledger.engine, [event(2), event(3)]) == [False, True]
    assert pending_events(ledger.engine, 10) == ["evt_0001", "evt_0002", "evt_0003"]
    assert pending_events(ledger.engine, 2) == ["evt_0001", "evt_0002"]


def test_an_event_of_another_version_is_queued_with_the_inbox(ledger: Ledger) -> None:
    assert defer_event(ledger.engine, event(7, version="2020-08-27"))
    assert not defer_event(ledger.engine, event(7, version="2020-08-27"))
    assert pending_events(ledger.engine, 10) == ["evt_0007"]


def run_rounds(loop: DeliveryLoop, rounds: int) -> None:
    """Run `loop` until it has ended `rounds` rounds, failed ones included."""
    asyncio.run(loop.run(alive=lambda: loop.rounds + loop.failures < rounds))


def test_rounds_take_the_queue_and_a_failed_round_leaves_it(ledger: Ledger) -> None:
    record_events(ledger.engine, [event(n) for n in range(1, 6)])
    seen: list[set[str]] = []
    fail = [True]

    async def deliver(ids: set[str]) -> None:
        seen.append(ids)
        if fail.pop() if fail else False:
            raise RuntimeError("Customer.io is away")

    loop = DeliveryLoop(ledger.engine, deliver, poll=0.01, max_batch=3, backoff=lambda _: 0.01)
    run_rounds(loop, 3)
    first = {f"evt_{n:04d}" for n in (1, 2, 3)}
    assert seen[:3] == [first, first, {"evt_0004", "evt_0005"}]  # the failed round, again
    assert loop.failures == 1
    assert pending_events(ledger.engine, 10) == []


def test_a_round_cut_short_leaves_its_events_for_the_next_receiver(ledger: Ledger) -> None:
    record_events(ledger.engine, [event(1), event(2)])

    async def stuck(ids: set[str]) -> None:
        await asyncio.sleep(3600)  # killed meanwhile

    async def killed() -> None:
        task = asyncio.create_task(DeliveryLoop(ledger.engine, stuck, poll=0.01).run())
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(killed())
    assert pending_events(ledger.engine, 10) == ["evt_0001", "evt_0002"]
    delivered: list[set[str]] = []

    async def deliver(ids: set[str]) -> None:
        delivered.append(ids)

    run_rounds(DeliveryLoop(ledger.engine, deliver, poll=0.01), 1)
    assert delivered == [{"evt_0001", "evt_0002"}]
    assert pending_events(ledger.engine, 10) == []
