"""Refusals and failures against the sandbox: 207 dead letters and replay, 400 halving, retries."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from stripe_cio import CustomerIOSettings
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import (
    DeliveryStore,
    DeliverySummary,
    EventItem,
    PersonUpdate,
    deliver,
    plan_event,
    replay_dead_letters,
)
from stripe_cio.deliver.model import Outgoing, Refusal
from stripe_cio.deliver.store import Failure
from stripe_cio.retry import RetryPolicy

from .conftest import FAST_RETRY


def run(settings: CustomerIOSettings, store: DeliveryStore, **kwargs: Any) -> DeliverySummary:
    async def go() -> DeliverySummary:
        async with CustomerIOClient(settings, retry=FAST_RETRY) as client:
            return await deliver(client, store, **kwargs)

    return asyncio.run(go())


def replay(settings: CustomerIOSettings, store: DeliveryStore, **kwargs: Any) -> DeliverySummary:
    async def go() -> DeliverySummary:
        async with CustomerIOClient(settings, retry=FAST_RETRY) as client:
            return await replay_dead_letters(client, store, **kwargs)

    return asyncio.run(go())


def people(sandbox: httpx.Client) -> dict[str, dict[str, Any]]:
    return {
        p["identifiers"]["id"]: {**p["attributes"], "email": p["identifiers"]["email"]}
        for p in sandbox.get("/_sandbox/people").json()
    }


def test_refused_items_become_dead_letters_and_replay_delivers_them_once_fixed(
    settings: CustomerIOSettings, store: DeliveryStore, sandbox: httpx.Client
) -> None:
    run(settings, store, people=[PersonUpdate({"id": "a"}, {"email": "shared@example.com"})])
    # b claims an email that already belongs to a: Customer.io refuses b alone (207).
    summary = run(
        settings,
        store,
        people=[
            PersonUpdate({"id": "b"}, {"email": "shared@example.com", "plan": "pro"}),
            PersonUpdate({"id": "c"}, {"plan": "free"}),
        ],
        events=[EventItem({"id": "c"}, "stripe_customer_created", "evt_c", 1_700_000_000, {})],
    )
    assert (summary.persons_delivered, summary.persons_rejected) == (1, 1)
    assert summary.rejected == {"conflict": 1}
    assert summary.events_delivered == 1
    (letter,) = store.dead_letters()
    assert (letter.kind, letter.item_key, letter.stage, letter.reason) == (
        "person", "id:b", "customerio", "conflict",
    )  # fmt: skip
    assert orjson.loads(letter.payload)["attributes"]["plan"] == "pro"
    assert store.snapshot("id:b") is None
    assert store.snapshot("id:c") == {"plan": "free"}
    assert "b" not in people(sandbox)

    # Replaying before the cause is fixed fails the same way and counts the attempt.
    assert replay(settings, store).rejected == {"conflict": 1}
    assert store.dead_letters()[0].attempts == 2
    # The operator moves a to another address; the replay now goes through, once.
    run(settings, store, people=[PersonUpdate({"id": "a"}, {"email": "a@example.com"})])
    replayed = replay(settings, store)
    assert (replayed.persons_delivered, replayed.dead_letters_resolved) == (1, 1)
    assert people(sandbox)["b"] == {"plan": "pro", "email": "shared@example.com"}
    assert store.snapshot("id:b") == {"email": "shared@example.com", "plan": "pro"}
    assert store.dead_letters() == []
    (resolved,) = store.dead_letters(include_resolved=True)
    assert resolved.resolution == "delivered"
    assert replay(settings, store).requests == 0


def test_a_later_accepted_update_supersedes_a_dead_letter(
    settings: CustomerIOSettings, store: DeliveryStore
) -> None:
    run(settings, store, people=[PersonUpdate({"id": "p"}, {"v": "x" * 1001})])
    assert [d.reason for d in store.dead_letters()] == ["attribute_value_too_long"]
    run(settings, store, people=[PersonUpdate({"id": "p"}, {"v": "fixed"})])
    (letter,) = store.dead_letters(include_resolved=True)
    assert (letter.resolution, letter.attempts) == ("superseded", 1)
    assert replay(settings, store).persons_seen == 0  # nothing stale is ever resent


def test_event_dead_letters_replay_once_and_never_twice(
    settings: CustomerIOSettings, store: DeliveryStore, sandbox: httpx.Client
) -> None:
    sent = EventItem({"id": "e"}, "stripe_payment_failed", "evt_1", 1_700_000_000, {"a": 1})
    unsent = EventItem({"id": "e"}, "stripe_payment_failed", "evt_2", 1_700_000_001, {"a": 2})
    run(settings, store, events=[sent])
    # A 207 whose refusals could not be mapped leaves both as dead letters, outcome unknown.
    items = [plan_event(e) for e in (sent, unsent)]
    unknown = Refusal("unknown_outcome", "", "no usable batch_index")
    store.record(
        failed=[Failure(i, unknown, "customerio") for i in items if isinstance(i, Outgoing)]
    )
    oversize = EventItem(
        {"id": "e"}, "stripe_invoice_paid", "evt_3", 1_700_000_002, {"x": "y" * 40_000}
    )
    run(settings, store, events=[oversize])
    summary = replay(settings, store)
    assert (summary.events_delivered, summary.events_already_delivered) == (1, 1)
    assert summary.rejected == {"item_too_large": 1}
    stored = sandbox.get("/_sandbox/events").json()
    assert sorted(e["data"]["a"] for e in stored) == [1, 2]
    assert sandbox.get("/_sandbox/requests").json()["duplicate_event_ids"] == 0
    (still_open,) = store.dead_letters()
    assert (still_open.reason, still_open.attempts) == ("item_too_large", 2)
    resolutions = sorted(str(d.resolution) for d in store.dead_letters(include_resolved=True))
    assert resolutions == ["None", "already_delivered", "delivered"]


def test_a_batch_refused_whole_is_halved_until_the_bad_item_stands_alone(
    settings: CustomerIOSettings, sandbox: httpx.Client
) -> None:
    def identify(n: int) -> bytes:
        item = {"type": "person", "identifiers": {"id": f"h{n}"}, "action": "identify"}
        return orjson.dumps({**item, "attributes": {"n": n}})

    items = (
        [identify(n) for n in range(7)]
        + [b'{"type": "person", oops']
        + [identify(n) for n in range(8, 16)]
    )

    async def go() -> Any:
        async with CustomerIOClient(settings, retry=FAST_RETRY) as client:
            return await client.batch(items), client.stats

    result, stats = asyncio.run(go())
    assert [(e.index, e.reason) for e in result.errors] == [(7, "invalid")]
    assert result.accepted == 15
    assert stats.split_batches == 4
    assert len(sandbox.get("/_sandbox/people").json()) == 15


def test_429_5xx_drops_and_timeouts_are_retried_and_nothing_is_delivered_twice(
    settings: CustomerIOSettings, store: DeliveryStore, sandbox: httpx.Client
) -> None:
    # Slow answers time out after the sandbox applied the batch: the retry really is a resend.
    faults = {
        "fail_rate": 0.25,
        "drop_rate": 0.1,
        "rate_limit_burst_rate": 0.25,
        "rate_limit_burst_length": 2,
        "slow_rate": 0.3,
        "slow_ms": 600,
    }
    sandbox.post("/_sandbox/config", json=faults).raise_for_status()
    patient = RetryPolicy(max_attempts=60, base_delay=0.005, max_delay=0.02, rate_limit_delay=0.02)
    updates = [PersonUpdate({"id": f"r{i}"}, {"v": "x" * 900, "i": i}) for i in range(3000)]
    events = [
        EventItem(
            {"id": f"r{i}"}, "stripe_invoice_paid", f"evt_{i}", 1_700_000_000, {"d": "y" * 8000}
        )
        for i in range(2000)
    ]

    async def go() -> tuple[DeliverySummary, Any]:
        async with CustomerIOClient(settings, retry=patient, timeout=0.3, seed=3) as client:
            return await deliver(client, store, people=updates, events=events), client.stats

    summary, stats = asyncio.run(go())
    sandbox.post("/_sandbox/config", json={k: 0 for k in faults if k != "slow_ms"})
    assert (summary.persons_delivered, summary.events_delivered, summary.rejected) == (
        3000,
        2000,
        {},
    )
    assert stats.rate_limited > 0
    assert stats.server_errors > 0
    assert stats.transport_errors > 0
    stored = sandbox.get("/_sandbox/events").json()
    assert len(stored) == 2000 == len({e["id"] for e in stored})
    counts = sandbox.get("/_sandbox/requests").json()
    assert counts["duplicate_event_ids"] > 0  # resends did reach Customer.io ...
    assert counts["duplicate_event_ids_differing"] == []  # ... as the very same events
    assert {
        p["identifiers"]["id"]: p["attributes"]["i"] for p in sandbox.get("/_sandbox/people").json()
    } == {f"r{i}": i for i in range(3000)}
