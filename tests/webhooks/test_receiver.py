"""The webhook receiver as a user runs it (`stripe-cio webhooks serve`, a real process on
loopback), fed the Stripe sandbox's own events, signed as Stripe signs them, against the
Customer.io sandbox: each lifecycle event reaches Customer.io once however the events arrive
(twice, out of order, then listed again by the poll), with the same attributes as a poll-only
sync; refused deliveries are counted by reason and change nothing."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from stripe_cio.jobs import PlainRunner, sync_job
from stripe_cio.sandbox import SANDBOX_STRIPE_KEY, SandboxProcess
from stripe_cio.stripe_api import STRIPE_API_VERSION
from stripe_cio.webhooks import signature_header
from tests.jobs._world import World, world_of
from tests.webhooks._receiver import SECRET, STRIPE_CIO, Receiver

DAY = 86_400


@pytest.fixture(scope="module")
def stripe_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("stripe", "--customers", "60", "--months", "2", "--rps", "0") as box:
        yield box


@pytest.fixture(scope="module")
def cio_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("customerio", "--rps", "0") as box:
        yield box


def stripe_events(world: World, since: int) -> list[dict[str, Any]]:
    """Every event of the Stripe sandbox created at or after `since`, as the API lists it."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100, "created[gte]": since}
    while True:
        page = world.stripe.get("/v1/events", params=params, auth=(SANDBOX_STRIPE_KEY, ""))
        data = page.raise_for_status().json()
        events.extend(data["data"])
        if not data["has_more"]:
            return events
        params["starting_after"] = data["data"][-1]["id"]


def _sent(world: World) -> list[tuple[str, str]]:
    return sorted((e["name"], e.get("id", "")) for e in world.events())


def test_each_event_reaches_customerio_once_by_webhook_duplicates_reordering_and_the_poll(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> None:
    # What a poll-only sync of the last day sends: the reference.
    with world_of(stripe_box, cio_box, tmp_path / "poll") as world:
        since = world.stripe_now() - DAY
        asyncio.run(sync_job(world.connections(), PlainRunner(), since=since))
        expected_events, expected_people = _sent(world), world.people()
    assert expected_events, "the account's last day has lifecycle events"

    with world_of(stripe_box, cio_box, tmp_path / "webhooks") as world:
        events = stripe_events(world, since)
        assert {e["api_version"] for e in events} == {STRIPE_API_VERSION}
        receiver = Receiver(world, stripe_box, cio_box)
        receiver.start()
        try:
            # Stripe delivers in no particular order, and some events twice.
            shuffled = events + random.Random(7).sample(events, len(events) // 3)
            random.Random(11).shuffle(shuffled)
            answers = [receiver.deliver(event).status_code for event in shuffled]
            assert answers == [200] * len(shuffled)
            counts = receiver.wait_delivered(len(events))
        finally:
            receiver.stop()
        assert counts["verified"] == len(shuffled)
        assert counts["applied"] == len(events)
        assert counts["duplicates"] == len(shuffled) - len(events)
        assert _sent(world) == expected_events
        assert world.people() == expected_people

        # The poll lists the same events afterwards: all already processed, nothing sent again.
        requests = world.requests()
        again = asyncio.run(sync_job(world.connections(), PlainRunner(), since=since))
        assert again.stripe.get("events applied", 0) == 0
        assert sum(again.events_sent.values()) == 0
        assert _sent(world) == expected_events
        assert world.requests() - requests <= 1  # at most an empty comparison, nothing new


def test_refused_deliveries_get_a_bare_400_are_counted_and_change_nothing(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> None:
    with world_of(stripe_box, cio_box, tmp_path) as world:
        event = stripe_events(world, world.stripe_now() - DAY)[0]
        body = orjson.dumps(event)
        now = int(time.time())
        receiver = Receiver(world, stripe_box, cio_box)
        receiver.start()
        try:
            cases = {
                "missing_header": receiver.post(body, None),
                "malformed_header": receiver.post(body, "v1=abc"),
                "bad_signature": receiver.post(body, signature_header(body, ["whsec_other"], now)),
                "too_old": receiver.post(body, signature_header(body, [SECRET], now - 301)),
                "too_large": receiver.post(
                    b" " * (1024 * 1024 + 1), signature_header(b"x", [SECRET], now)
                ),
                "invalid_json": receiver.post(b"{", signature_header(b"{", [SECRET], now)),
            }
            tampered = body.replace(b'"livemode":false', b'"livemode":true ')
            cases["tampered"] = receiver.post(tampered, signature_header(body, [SECRET], now))
            health = receiver.http.get("/healthz")
            elsewhere = receiver.http.post("/anything", content=body)
        finally:
            out = receiver.stop()
        for reason, answer in cases.items():
            assert answer.status_code == 400, reason
            assert answer.json() == {"error": "rejected"}, reason
        assert health.status_code == 200
        assert elsewhere.status_code == 404
        counts = receiver.counts()
        assert counts["received"] == len(cases)
        once = ("missing_header", "malformed_header", "too_old", "too_large", "invalid_json")
        for reason in once:
            assert counts[f"rejected:{reason}"] == 1, reason
        assert counts["rejected:bad_signature"] == 2  # the wrong secret and the tampered body
        assert "verified" not in counts
        with world.ledger() as ledger:
            assert ledger.count("processed_events") == 0
        assert world.requests() == 0
        assert SECRET not in out
        shown = subprocess.run(
            [STRIPE_CIO, "status", "--runs", "0"],
            env={**receiver.env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr
        assert "webhooks refused: no Stripe-Signature header" in shown.stdout
        assert "webhooks: deliveries received" in shown.stdout
        assert SECRET not in shown.stdout + shown.stderr


def test_an_event_of_another_api_version_is_read_again_through_the_api(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> None:
    with world_of(stripe_box, cio_box, tmp_path) as world:
        listed = next(
            e for e in stripe_events(world, world.stripe_now() - DAY) if e["type"] == "invoice.paid"
        )
        # As an endpoint pinned to an older version would receive it: another shape.
        older = {**listed, "api_version": "2024-06-20", "data": {"object": {"id": "renamed"}}}
        receiver = Receiver(world, stripe_box, cio_box)
        receiver.start()
        try:
            assert receiver.deliver(older).status_code == 200
            assert receiver.deliver(older).status_code == 200  # Stripe's retry: no second entry
            counts = receiver.wait_delivered(1)
        finally:
            out = receiver.stop()
        assert counts["deferred"] == 1
        assert counts["duplicates"] == 1
        assert out.count("Stripe sends this endpoint events of API version") == 1  # once
        with world.ledger() as ledger, ledger.engine.connect() as conn:
            raw = conn.exec_driver_sql(
                "SELECT raw FROM processed_events WHERE id = ?", (listed["id"],)
            ).scalar_one()
            waiting = conn.exec_driver_sql("SELECT count(*) FROM webhook_inbox").scalar_one()
        # What the API lists was applied, not the payload of the other version.
        assert orjson.loads(raw)["data"]["object"]["id"] == listed["data"]["object"]["id"]
        assert waiting == 0


@pytest.mark.prefect
def test_with_prefect_events_each_delivery_round_is_in_the_event_feed(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value())
    with world_of(stripe_box, cio_box, tmp_path) as world:
        events = stripe_events(world, world.stripe_now() - DAY)[:20]
        receiver = Receiver(world, stripe_box, cio_box)
        receiver.env["PREFECT_API_URL"] = api
        receiver.start("--prefect-events")
        try:
            assert all(receiver.deliver(event).status_code == 200 for event in events)
            receiver.wait_delivered(len(events))
        finally:
            receiver.stop()
        query = {"filter": {"event": {"prefix": ["stripe-cio.webhooks"]}}, "limit": 50}
        deadline = time.monotonic() + 60
        found: list[dict[str, Any]] = []
        while not found and time.monotonic() < deadline:
            answer = httpx.post(f"{api}/events/filter", json=query, timeout=30)
            found = answer.raise_for_status().json()["events"]
            time.sleep(0.5)
        assert found, "a delivery round is recorded as a Prefect event"
        assert {event["event"] for event in found} == {"stripe-cio.webhooks.delivered"}
        assert found[0]["resource"]["prefect.resource.id"] == "stripe-cio.webhooks"
        assert sum(event["payload"]["events_delivered"] for event in found) == len(world.events())


def _delivery_processes(receiver: Receiver) -> list[int]:
    """The receiver's delivery process (a spawned child), by pid."""
    assert receiver.process is not None
    pid = receiver.process.pid
    # Each thread's children are listed under it: the replacement is started from a thread.
    children = [
        child
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_a_delivery_process_that_dies_is_replaced_and_delivers_the_queue(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> None:
    with world_of(stripe_box, cio_box, tmp_path) as world:
        events = stripe_events(world, world.stripe_now() - DAY)[:30]
        receiver = Receiver(world, stripe_box, cio_box)
        receiver.start()
        try:
            deadline = time.monotonic() + 60  # started once the receiver listens
            while not _delivery_processes(receiver):
                assert time.monotonic() < deadline, "no delivery process"
                time.sleep(0.05)
            (first,) = _delivery_processes(receiver)
            os.kill(first, signal.SIGKILL)
            assert all(receiver.deliver(event).status_code == 200 for event in events)
            counts = receiver.wait_delivered(len(events))
            replacements = _delivery_processes(receiver)
            assert len(replacements) == 1
            assert replacements != [first]
        finally:
            out = receiver.stop()
        assert counts["applied"] == len(events)
        assert "the webhook delivery process exited" in out
        # The stopped receiver stopped its delivery process too (joined before it exited).
        assert not any(Path(f"/proc/{pid}").exists() for pid in replacements)


def test_serve_stops_with_one_line_when_its_receiver_cannot_listen(tmp_path: Path) -> None:
    """`stripe-cio serve` with a webhook secret and the receiver's port taken: one line, no
    flows served without their receiver."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PREFECT_"))}
        env.update(STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_CIO_DATA_DIR=str(tmp_path))
        shown = subprocess.run(
            [STRIPE_CIO, "serve", "--webhooks-port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert shown.returncode == 2, shown.stdout + shown.stderr
    assert shown.stderr.strip().splitlines() == [
        f"configuration error: --webhooks-port: {port} is already in use on 127.0.0.1 "
        "(another receiver?); stop that program or give another port"
    ]
    assert SECRET not in shown.stdout + shown.stderr
