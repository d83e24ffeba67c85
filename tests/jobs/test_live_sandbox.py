"""A live Stripe sandbox (`stripe-cio sandbox stripe --live`): its clock runs with wall time, so
consecutive syncs each find new events, with nobody calling `/_sandbox/advance`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stripe_cio.jobs import PlainRunner, sync_job
from stripe_cio.sandbox import SandboxProcess
from tests.jobs._world import World, world_of

DAY = 86_400
# Sandbox seconds to each wall second: the account lives a day every 24 s.
SPEED = 3600


@pytest.fixture(scope="module")
def live_box() -> Iterator[SandboxProcess]:
    args = ("--customers", "150", "--months", "3", "--rps", "0", "--live", "--speed", str(SPEED))
    with SandboxProcess("stripe", *args) as box:
        yield box


@pytest.fixture
def live_world(
    live_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path
) -> Iterator[World]:
    with world_of(live_box, cio_box, tmp_path) as made:
        yield made


def newer_events(world: World, after: int, timeout: float = 60.0) -> None:
    """Wait (polling, up to `timeout` s) until the account has events created after `after`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if world.newest_event_created() > after:
            return
        time.sleep(0.5)
    raise AssertionError(f"no event after {after} within {timeout}s: the clock did not run")


def test_consecutive_syncs_each_apply_new_events_without_advancing_by_hand(
    live_world: World,
) -> None:
    world = live_world
    clock = world.stripe_now()
    applied = []
    since = clock - DAY
    for _ in range(3):
        summary = asyncio.run(sync_job(world.connections(), PlainRunner(), since=since))
        applied.append(summary.stripe.get("events applied", 0))
        with world.ledger() as ledger:
            cursor = ledger.events_cursor()
        assert cursor is not None
        newer_events(world, cursor)
    assert all(count > 0 for count in applied), applied
    # Nobody called /_sandbox/advance: the live clock alone moved the account on.
    assert world.stripe_now() > clock
