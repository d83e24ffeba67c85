"""The Stripe sandbox sends its new events as webhooks (with duplicates, reordering and drops
injected) to `stripe-cio webhooks serve`, beside the scheduled poll: Customer.io ends up with
exactly what a poll-only sync sends, each lifecycle event once; a dropped webhook is caught by
the next poll; a receiver SIGKILLed mid-stream and restarted loses nothing."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_cio.jobs import PlainRunner, sync_job
from stripe_cio.sandbox import SandboxProcess
from tests.jobs._world import World, world_of
from tests.webhooks._receiver import SECRET, Receiver

HOUR = 3_600
DAY = 86_400


@pytest.fixture
def stripe_box() -> Iterator[SandboxProcess]:
    """An account of its own per test: the tests move its clock."""
    # Stripe retries a failed delivery for up to three days; compressed, the retries must still
    # outlast a receiver's restart on a loaded machine (8 attempts from 0.05 s doubling gave up
    # after 6.4 s): every second at most, for 200 attempts.
    retries = ["--webhook-retry-base", "0.05", "--webhook-retry-cap", "1"]
    with SandboxProcess(
        "stripe", "--customers", "40", "--months", "2", "--rps", "0",
        *retries, "--webhook-max-attempts", "200",
    ) as box:  # fmt: skip
        yield box


@pytest.fixture(scope="module")
def cio_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("customerio", "--rps", "0") as box:
        yield box


def webhooks(world: World, **settings: Any) -> dict[str, Any]:
    answer = world.stripe.post("/_sandbox/webhooks", json=settings).raise_for_status()
    state: dict[str, Any] = answer.json()
    return state


def drained(world: World, timeout: float = 120.0) -> dict[str, int]:
    """The sandbox's webhook counters once nothing is left to deliver."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counters: dict[str, int] = webhooks(world)["counters"]
        if counters["pending"] == 0:
            return counters
        time.sleep(0.2)
    raise AssertionError(f"webhooks still pending after {timeout} s: {webhooks(world)}")


def sent(world: World) -> Counter[tuple[str, str]]:
    return Counter((e["name"], e.get("id", "")) for e in world.events())


# Attributes relative to the time they are computed at: two runs minutes apart may differ on
# them (the nightly enrich recomputes them for everyone; docs/attributes.md).
TIME_RELATIVE = re.compile(r"_(last_\d+d|\d+d)$|rfm_segment")


def differences(
    ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]
) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Person -> attribute -> (ours, theirs), where the two differ (time-relative ones aside)."""
    out: dict[str, dict[str, tuple[Any, Any]]] = {}
    for person in ours.keys() | theirs.keys():
        mine, other = ours.get(person, {}), theirs.get(person, {})
        names = {n for n in mine.keys() | other.keys() if not TIME_RELATIVE.search(n)}
        diff = {k: (mine.get(k), other.get(k)) for k in names if mine.get(k) != other.get(k)}
        if diff:
            out[person] = diff
    return out


def poll(world: World, since: int | None = None) -> None:
    asyncio.run(sync_job(world.connections(), PlainRunner(), since=since))


def reference(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path, since: int
) -> tuple[Counter[tuple[str, str]], dict[str, dict[str, Any]]]:
    """What a poll-only sync from `since` sends for the account as it now is."""
    with world_of(stripe_box, cio_box, tmp_path / "reference") as world:
        poll(world, since)
        return sent(world), world.people()


def stream(world: World, receiver: Receiver, **faults: Any) -> None:
    """Point the sandbox's webhooks at `receiver`, with `faults`, and make two days of events."""
    url = f"http://127.0.0.1:{receiver.port}/webhooks/stripe"
    webhooks(world, url=url, secrets=[SECRET], **faults)
    world.stripe.post("/_sandbox/advance", json={"seconds": 2 * DAY}).raise_for_status()


def assert_as_from_the_poll_alone(
    stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    tmp_path: Path,
    since: int,
    after: Counter[tuple[str, str]],
    people: dict[str, dict[str, Any]],
) -> None:
    """Customer.io holds each event once, and what a poll-only sync from `since` gives."""
    expected, expected_people = reference(stripe_box, cio_box, tmp_path, since)
    assert max(after.values()) == 1, "no Customer.io event twice"
    assert after == expected
    assert differences(people, expected_people) == {}


def test_webhooks_and_the_poll_together_send_each_event_once(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> None:
    with world_of(stripe_box, cio_box, tmp_path / "webhooks") as world:
        since = world.stripe_now() - DAY
        poll(world, since)  # the scheduled sync has run: the ledger is up to date
        receiver = Receiver(world, stripe_box, cio_box)
        receiver.start()
        try:
            stream(world, receiver, duplicates=0.2, reorder=0.3, drop=0.1, seed=3)
            counters = drained(world)
            assert counters["dropped"] > 0, counters
            assert counters["duplicates_sent"] > 0
            receiver.wait_delivered(counters["events"] - counters["dropped"])
        finally:
            receiver.stop()
        by_webhook = sent(world)
        assert by_webhook
        assert max(by_webhook.values()) == 1
        poll(world)  # the next scheduled sync: sends what the dropped webhooks carried
        after = sent(world)
        people = world.people()
    assert_as_from_the_poll_alone(stripe_box, cio_box, tmp_path, since, after, people)
    assert set(by_webhook) < set(after), "some events came only through the poll"


def test_a_receiver_killed_mid_stream_loses_nothing(
    stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> None:
    with world_of(stripe_box, cio_box, tmp_path / "webhooks") as world:
        since = world.stripe_now() - DAY
        poll(world, since)
        receiver = Receiver(world, stripe_box, cio_box)
        receiver.start()
        stream(world, receiver, delay_ms=40, duplicates=0.1, reorder=0.2, seed=5)
        queued = webhooks(world)["counters"]["queued"]
        deadline = time.monotonic() + 60
        while receiver.counts().get("verified", 0) < queued // 3:
            assert time.monotonic() < deadline, receiver.counts()
            time.sleep(0.05)
        receiver.stop(signal.SIGKILL)  # mid-stream: Stripe keeps retrying meanwhile
        # More events while it is down: their deliveries fail until it is back.
        world.stripe.post("/_sandbox/advance", json={"seconds": DAY}).raise_for_status()
        while webhooks(world)["counters"]["failed_attempts"] == 0:
            assert time.monotonic() < deadline + 60, webhooks(world)
            time.sleep(0.05)
        restarted = Receiver(world, stripe_box, cio_box, port=receiver.port)
        restarted.start()
        try:
            counters = drained(world)
            assert counters["failed_attempts"] > 0, "deliveries failed while it was down"
            assert counters["gave_up"] == 0
        finally:
            restarted.stop()
        poll(world)
        after = sent(world)
        people = world.people()
    assert_as_from_the_poll_alone(stripe_box, cio_box, tmp_path, since, after, people)
