"""The backfill job through the plain runner, against the sandboxes on loopback: Stripe's history
into the ledger with progress, the events cursor where the first sync starts, then every
person's attributes; its lock and the credentials it checks before reading anything."""

from __future__ import annotations

import asyncio

import pytest

from stripe_cio import ConfigError
from stripe_cio.jobs import BACKFILL, PlainRunner, backfill_job
from stripe_cio.runs import RunInProgressError, RunSummary, run_lock
from tests.jobs._world import World


def test_the_history_fills_the_ledger_with_progress_and_starts_the_events_cursor(
    world: World,
) -> None:
    reports: list[tuple[str, int]] = []
    runner = PlainRunner(progress=lambda resource, records, rate, eta: reports.append(
        (resource, records)))  # fmt: skip

    summary = asyncio.run(backfill_job(world.connections(customerio=False), runner, enrich=False))

    assert runner.steps == ["backfill Stripe"]
    assert runner.summaries == [summary]
    assert summary.flow == BACKFILL
    assert not summary.rejected
    with world.ledger() as ledger:
        charges = ledger.count("charges")
        customers = ledger.count("customers")
        cursor = ledger.events_cursor()
    assert charges > 0
    assert summary.stripe["charges read"] == charges
    assert summary.stripe["customers read"] == customers
    assert summary.records == sum(summary.stripe.values())
    # The first sync starts at the backfill's T0: Stripe's present (its newest event) then.
    assert cursor == world.newest_event_created()
    # The progress callback heard of every resource, ending at what was read.
    last = dict(reports)
    assert last["charges"] == charges
    assert last["customers"] == customers
    # Nothing went to Customer.io: the run was asked not to enrich.
    assert world.requests() == 0


def test_a_backfill_then_enriches_every_person(world: World) -> None:
    as_of = world.stripe_now()
    runner = PlainRunner()

    summary = asyncio.run(backfill_job(world.connections(), runner, clock=lambda: as_of))

    assert runner.steps == ["backfill Stripe", "compute attributes", "push attributes"]
    # The enrich job's summary is published too, and the backfill's adds it up.
    [enriched, backfilled] = runner.summaries
    assert (enriched.flow, backfilled) == ("enrich-profiles", summary)
    assert set(summary.steps) == {"backfill Stripe", "enrich profiles"}
    expected = world.expected_attributes(as_of)
    assert len(expected) > 50
    assert world.people() == expected
    assert summary.persons_sent == enriched.persons_sent == len(expected)
    assert summary.dead_lettered == 0


def test_missing_customerio_credentials_stop_it_before_anything_is_read(world: World) -> None:
    runner = PlainRunner()
    with pytest.raises(ConfigError, match=r"^CUSTOMERIO_SITE_ID: "):
        asyncio.run(backfill_job(world.connections(customerio=False), runner))
    assert (runner.steps, runner.summaries) == ([], [])
    with world.ledger() as ledger:
        assert (ledger.count("customers"), ledger.events_cursor()) == (0, None)


def test_a_since_after_stripes_present_is_one_line_and_reads_nothing(world: World) -> None:
    runner = PlainRunner()
    since = world.stripe_now() + 86_400
    with pytest.raises(ConfigError, match=r"^since: is after Stripe's present"):
        asyncio.run(backfill_job(world.connections(), runner, since=since))
    assert runner.steps == []
    with world.ledger() as ledger:
        assert (ledger.count("customers"), ledger.events_cursor()) == (0, None)


def test_a_second_backfill_of_the_ledger_is_refused_and_does_nothing(world: World) -> None:
    runner = PlainRunner()
    with (
        world.ledger() as ledger,
        run_lock(ledger.engine, "a backfill started first", "backfill"),
        pytest.raises(RunInProgressError, match="this run did nothing"),
    ):
        asyncio.run(backfill_job(world.connections(), runner))
    assert (runner.steps, runner.summaries) == ([], [])
    with world.ledger() as ledger:
        assert (ledger.count("customers"), ledger.events_cursor()) == (0, None)
    # Once the other backfill is over, the lock is free again.
    done = asyncio.run(backfill_job(world.connections(customerio=False), runner, enrich=False))
    assert isinstance(done, RunSummary)
