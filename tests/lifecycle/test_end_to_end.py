"""Sandbox Stripe -> sync_events -> the ledger -> lifecycle mapping -> the Customer.io sandbox.

Real HTTP on loopback both ways. Each Stripe event must reach Customer.io exactly once: across
a second run, a run cut short by lost responses and an outage, its retry against a server
failing a fifth of its requests, and a run after that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from stripe_cio import ConfigError, CustomerIOSettings, CustomerIOUnavailableError, StripeSettings
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import event_ulid
from stripe_cio.extract import backfill, sync_events
from stripe_cio.ledger import Ledger
from stripe_cio.lifecycle import (
    LifecycleSummary,
    lookup_for,
    map_event,
    send_lifecycle_events,
)
from stripe_cio.retry import RetryPolicy
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess
from stripe_cio.stripe_api import StripeClient

pytestmark = pytest.mark.anyio
DAY = 86_400
FAST = RetryPolicy(max_attempts=10, base_delay=0.005, max_delay=0.05, rate_limit_delay=0.05)
GIVE_UP = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002, rate_limit_delay=0.01)


@pytest.fixture(scope="module")
def stripe_box() -> Iterator[SandboxProcess]:
    """This module's own Stripe sandbox: its clock is advanced."""
    with SandboxProcess("stripe", "--customers", "200", "--months", "2", "--rps", "0") as box:
        yield box


@pytest.fixture(scope="module")
def cio_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("customerio", "--rps", "0") as box:
        yield box


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def stripe_client(box: SandboxProcess) -> StripeClient:
    settings = StripeSettings(api_key="sk_test_lifecycle0000", api_base=box.url,
                              requests_per_second=2000)  # fmt: skip
    return StripeClient(settings, retry=FAST, seed=1)


def cio_client(
    box: SandboxProcess,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy = FAST,
) -> CustomerIOClient:
    settings = CustomerIOSettings(
        site_id=SANDBOX_CIO_SITE_ID,
        api_key=SANDBOX_CIO_API_KEY,
        track_url=box.url,
        requests_per_second=5000,
    )
    return CustomerIOClient(settings, transport=transport, retry=retry, seed=1)


def sandbox(box: SandboxProcess, route: str, payload: dict[str, Any] | None = None) -> Any:
    with httpx.Client(base_url=box.url, timeout=30) as http:
        if payload is None:
            response = http.get(f"/_sandbox/{route}")
        else:
            response = http.post(f"/_sandbox/{route}", json=payload)
        response.raise_for_status()
        return response.json()


class FlakyNetwork(httpx.AsyncBaseTransport):
    """Real HTTP to the sandbox, except that the answers to the batch requests numbered in
    `lose` are lost after the server applied them, and every batch request after the
    `outage_after`-th fails to connect."""

    def __init__(self, lose: set[int], outage_after: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lose = lose
        self.outage_after = outage_after
        self.batches = 0
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v2/batch":
            return await self.inner.handle_async_request(request)
        self.batches += 1
        if self.batches > self.outage_after:
            raise httpx.ConnectError("Customer.io is unreachable", request=request)
        response = await self.inner.handle_async_request(request)
        if self.batches in self.lose:
            await response.aread()
            await response.aclose()
            self.lost += 1
            raise httpx.ReadError("connection reset before the answer arrived", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def expected_events(ledger: Ledger, kit: Any) -> dict[str, Any]:
    """Stripe event id -> the Customer.io event the mapping makes of it, over every processed
    event (whatever was handled already), with a lookup read from the ledger."""
    with ledger.engine.connect() as conn:
        raws = [
            orjson.loads(r)
            for r in conn.execute(text("SELECT raw FROM processed_events")).scalars()
        ]
    lookup = lookup_for(ledger.engine, raws)
    out = {}
    for event in raws:
        mapped = map_event(event, lookup, kit.settings(), kit.identity())
        for item in getattr(mapped, "events", ()):
            out[item.stripe_event_id] = item
    return out


def check_delivered_once(box: SandboxProcess, ledger: Ledger, kit: Any) -> list[dict[str, Any]]:
    stored = sandbox(box, "events")
    per_event = Counter(e["data"]["stripe_event_id"] for e in stored)
    assert per_event
    assert max(per_event.values()) == 1
    expected = expected_events(ledger, kit)
    assert set(per_event) == set(expected)
    for event in stored:
        item = expected[event["data"]["stripe_event_id"]]
        assert event["name"] == item.name
        assert event["timestamp"] == item.created
        assert event["id"] == event_ulid(item.stripe_event_id, item.name, item.created)
        assert event["data"] == orjson.loads(orjson.dumps(item.data))
        assert event["identifiers"]["email"].lower() == item.identifiers["email"]
    with ledger.engine.connect() as conn:
        unhandled = conn.execute(
            text(
                "SELECT count(*) FROM processed_events p WHERE NOT EXISTS "
                "(SELECT 1 FROM lifecycle_events l WHERE l.stripe_event_id = p.id)"
            )
        ).scalar()
    assert unhandled == 0
    return list(stored)


async def run(
    box: SandboxProcess, ledger: Ledger, kit: Any, client: CustomerIOClient | None = None, **kw: Any
) -> LifecycleSummary:
    async with client or cio_client(box) as cio:
        return await send_lifecycle_events(cio, ledger, kit.settings(), kit.identity(), **kw)


async def test_each_event_reaches_customerio_once_across_reruns_and_a_faulty_retry(
    kit: Any,
    stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    make_ledger: Callable[[], Ledger],
) -> None:
    sandbox(cio_box, "reset", {})
    ledger = make_ledger()
    now = sandbox(stripe_box, "clock")["now"]
    async with stripe_client(stripe_box) as stripe:
        await sync_events(stripe, ledger, since=now - 20 * DAY)

    first = await run(cio_box, ledger, kit, chunk=400)
    assert first.events_read == ledger.count("processed_events")
    assert first.delivery.events_delivered > 300
    assert first.skipped["payment_intent_events_off"] > 0
    stored = check_delivered_once(cio_box, ledger, kit)
    assert len(stored) == first.delivery.events_delivered
    # customer.created identified its person with the Stripe customer id.
    people = {p["identifiers"].get("email"): p["attributes"] for p in sandbox(cio_box, "people")}
    created = [e for e in stored if e["name"] == "stripe_customer_created"]
    assert created
    latest = {}  # two customers may share an email: the later identify wins
    for event in sorted(created, key=lambda e: (e["timestamp"], e["data"]["stripe_event_id"])):
        latest[event["identifiers"]["email"]] = event["data"]["customer_id"]
    for email, customer_id in latest.items():
        assert people[email]["stripe_customer_id"] == customer_id
    deleted = first.actions["identify"] - len(created)
    assert deleted > 0  # customer.deleted set stripe_customer_deleted_at
    assert sum("stripe_customer_deleted_at" in a for a in people.values()) >= 1

    requests = sandbox(cio_box, "requests")["total"]
    second = await run(cio_box, ledger, kit)
    assert second.events_read == 0
    assert sandbox(cio_box, "requests")["total"] == requests  # nothing sent at all

    # Three days of new activity, delivered through a network that loses two answers (after the
    # server applied those batches; the client sends them again) and then goes down.
    await_advance = sandbox(stripe_box, "advance", {"seconds": 3 * DAY})
    assert await_advance
    async with stripe_client(stripe_box) as stripe:
        synced = await sync_events(stripe, ledger)
    assert synced.applied > 100
    network = FlakyNetwork(lose={2, 4}, outage_after=7)
    with pytest.raises(CustomerIOUnavailableError):
        await run(cio_box, ledger, kit, cio_client(cio_box, network, GIVE_UP), chunk=10)
    assert network.lost == 2
    partly = sandbox(cio_box, "events")
    assert len(stored) < len(partly)

    # The retry, against a server that fails 30% of its requests.
    sandbox(cio_box, "config", {"fail_rate": 0.3})
    try:
        retried = await run(cio_box, ledger, kit, chunk=10)
    finally:
        sandbox(cio_box, "config", {"fail_rate": 0})
    assert retried.delivery.retries > 0
    final = check_delivered_once(cio_box, ledger, kit)
    assert len(final) == len(partly) + retried.delivery.events_delivered
    counters = sandbox(cio_box, "requests")
    assert counters["duplicate_event_ids"] > 0  # the lost batches were sent again ...
    assert counters["duplicate_event_ids_differing"] == []  # ... identical, and stored once

    requests = counters["total"]
    assert (await run(cio_box, ledger, kit)).events_read == 0
    assert sandbox(cio_box, "requests")["total"] == requests


async def test_events_replayed_during_a_backfill_are_sent_only_when_asked(
    kit: Any,
    stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    make_ledger: Callable[[], Ledger],
) -> None:
    sent_before: dict[bool, int] = {}
    for send_backfill_events in (False, True):
        sandbox(cio_box, "reset", {})
        ledger = make_ledger()
        async with stripe_client(stripe_box) as stripe:
            done = await backfill(stripe, ledger)
            await sync_events(stripe, ledger, since=done.t0 - 3 * DAY)
        settings = kit.settings(send_backfill_events=send_backfill_events)
        async with cio_client(cio_box) as cio:
            summary = await send_lifecycle_events(cio, ledger, settings, kit.identity())
        stored = sandbox(cio_box, "events")
        older = [e for e in stored if e["timestamp"] < done.t0]
        sent_before[send_backfill_events] = len(older)
        if send_backfill_events:
            assert summary.skipped["backfill"] == 0
            with ledger.engine.connect() as conn:
                rows = conn.execute(text("SELECT id, created FROM processed_events")).all()
            created = {eid: when for eid, when in rows}
            for event in older:  # with their original timestamps
                assert event["timestamp"] == created[event["data"]["stripe_event_id"]]
        else:
            assert summary.skipped["backfill"] > 0
    assert sent_before == {False: 0, True: sent_before[True]}
    assert sent_before[True] > 0


async def test_a_first_sync_from_since_replays_the_recent_past(
    kit: Any,
    stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    make_ledger: Callable[[], Ledger],
) -> None:
    sandbox(cio_box, "reset", {})
    ledger = make_ledger()
    now = sandbox(stripe_box, "clock")["now"]
    async with stripe_client(stripe_box) as stripe:
        with pytest.raises(ConfigError, match=r"^since: is 31\.0 days before Stripe's present"):
            await sync_events(stripe, ledger, since=now - 31 * DAY)
        with pytest.raises(ConfigError, match="is after Stripe's present"):
            await sync_events(stripe, ledger, since=now + 60)
        assert ledger.events_cursor() is None
        first = await sync_events(stripe, ledger, since=now - 2 * DAY)
        assert first.start == now - 2 * DAY
        again = await sync_events(stripe, ledger, since=now - 2 * DAY)
    assert any("is ignored" in message for message in again.messages)
    summary = await run(cio_box, ledger, kit)
    assert summary.skipped["backfill"] == 0
    stored = sandbox(cio_box, "events")
    assert stored
    assert min(e["timestamp"] for e in stored) >= now - 2 * DAY


def test_the_sync_command_refuses_a_since_past_the_retention(
    stripe_box: SandboxProcess, tmp_path: Any
) -> None:
    now = sandbox(stripe_box, "clock")["now"]
    env = {
        **os.environ,
        "STRIPE_API_KEY": "sk_test_lifecycle0000",
        "STRIPE_API_BASE": stripe_box.url,
        "STRIPE_CIO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "sync",
            "--ledger-only",
            "--since",
            str(now - 45 * DAY),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "configuration error: since: is 45.0 days before Stripe's present" in done.stderr
