"""The replay job through the plain runner: dead letters resent to the Customer.io sandbox once
their cause is fixed, under the push lock; what still fails stays open and counts as a reject."""

from __future__ import annotations

import asyncio

import pytest

from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import DeliveryStore, PersonUpdate, deliver
from stripe_cio.jobs import REPLAY, PlainRunner, replay_job
from stripe_cio.runs import RejectRateExceededError, RunInProgressError, run_lock
from tests.jobs._world import World

TAKEN = PersonUpdate({"id": "a"}, {"email": "shared@example.com"})
CLAIM = PersonUpdate({"id": "b"}, {"email": "shared@example.com"})  # refused: a's email
MOVED = PersonUpdate({"id": "a"}, {"email": "a@example.com"})  # frees the email


def push(world: World, *people: PersonUpdate) -> None:
    """Send `people` as a run would, recording what Customer.io refused as dead letters."""
    settings = world.connections(stripe=False).customerio_settings()

    async def go() -> None:
        async with CustomerIOClient(settings) as client:
            await deliver(client, DeliveryStore.of(ledger), people=people)

    with world.ledger() as ledger:
        asyncio.run(go())


def open_letters(world: World) -> int:
    with world.ledger() as ledger:
        return len(DeliveryStore.of(ledger).dead_letters())


def test_the_job_resends_what_was_refused_once_fixed(world: World) -> None:
    push(world, TAKEN)
    push(world, CLAIM)
    assert open_letters(world) == 1
    push(world, MOVED)

    runner = PlainRunner()
    replayed = asyncio.run(replay_job(world.connections(stripe=False), runner))

    assert runner.steps == ["replay dead letters"]
    assert runner.summaries == [replayed]
    assert replayed.flow == REPLAY
    assert (replayed.persons_sent, replayed.dead_letters_resolved) == (1, 1)
    assert open_letters(world) == 0
    emails = {person["id"]: person["email"] for person in world.identities()}
    assert emails == {"a": "a@example.com", "b": "shared@example.com"}


def test_what_is_still_refused_stays_open_and_fails_the_run_after_its_summary(
    world: World,
) -> None:
    push(world, TAKEN)
    push(world, CLAIM)
    runner = PlainRunner()
    with pytest.raises(RejectRateExceededError, match=r"^replay-dead-letters: reject rate 100\.0%"):
        asyncio.run(replay_job(world.connections(stripe=False), runner))
    [summary] = runner.summaries
    assert summary.rejected == {"conflict": 1}
    assert summary.persons_sent == 0
    assert open_letters(world) == 1
    # With the threshold raised the run completes; the letter is still open.
    accepted = asyncio.run(
        replay_job(world.connections(stripe=False), PlainRunner(), max_reject_rate=1.0)
    )
    assert accepted.rejected == {"conflict": 1}
    assert open_letters(world) == 1


def test_a_dry_run_needs_no_credentials_or_lock_and_sends_nothing(world: World) -> None:
    push(world, TAKEN)
    push(world, CLAIM)
    push(world, MOVED)
    requests = world.requests()
    runner = PlainRunner()
    with world.ledger() as ledger, run_lock(ledger.engine, "a nightly run started first"):
        preview = asyncio.run(
            replay_job(world.connections(stripe=False, customerio=False), runner, dry_run=True)
        )
    assert runner.summaries == [preview]
    assert preview.dry_run
    assert (preview.persons_changed, preview.persons_sent) == (1, 0)
    assert world.requests() == requests
    assert open_letters(world) == 1


def test_another_pushing_run_refuses_it_before_anything_is_done(world: World) -> None:
    push(world, TAKEN)
    push(world, CLAIM)
    push(world, MOVED)
    requests = world.requests()
    runner = PlainRunner()
    with (
        world.ledger() as ledger,
        run_lock(ledger.engine, "a nightly run started first"),
        pytest.raises(RunInProgressError, match="this run did nothing"),
    ):
        asyncio.run(replay_job(world.connections(stripe=False), runner))
    assert (runner.steps, runner.summaries) == ([], [])
    assert world.requests() == requests
    assert open_letters(world) == 1
