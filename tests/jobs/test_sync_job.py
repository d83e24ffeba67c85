"""The sync job through the plain runner, against the sandboxes on loopback: Stripe's new events
into the ledger (alone with `ledger_only`), the histories of the customers they touch, those
persons' attributes, then their lifecycle events, each sent once; its lock and credentials."""

from __future__ import annotations

import asyncio

import pytest

from stripe_cio import ConfigError, StripeAuthError
from stripe_cio.attributes import RANK_ATTRIBUTES, attribute_settings_from_env
from stripe_cio.jobs import RANKS_HELD_BACK, SYNC, PlainRunner, backfill_job, sync_job
from stripe_cio.lifecycle import (
    LifecycleSummary,
    lifecycle_settings_from_env,
    send_lifecycle_events,
)
from stripe_cio.runs import RunInProgressError, attributes_mark, run_lock
from tests.jobs._world import World

DAY = 86_400


def preview_lifecycle(world: World) -> LifecycleSummary:
    """What the lifecycle step would send now (a dry run: nothing sent or recorded)."""
    settings, identity = lifecycle_settings_from_env(), attribute_settings_from_env()
    with world.ledger() as ledger:
        return asyncio.run(send_lifecycle_events(None, ledger, settings, identity, dry_run=True))


def test_a_ledger_only_sync_needs_no_customerio_or_lock_and_sends_nothing(world: World) -> None:
    runner = PlainRunner()
    since = world.stripe_now() - 5 * DAY
    with world.ledger() as ledger, run_lock(ledger.engine, "a nightly run started first"):
        summary = asyncio.run(
            sync_job(world.connections(customerio=False), runner, since=since, ledger_only=True)
        )
    assert runner.steps == ["pull Stripe events"]
    assert runner.summaries == [summary]
    assert summary.flow == f"{SYNC} (ledger only)"
    assert summary.stripe["events applied"] > 0
    assert not summary.rejected
    with world.ledger() as ledger:
        assert ledger.events_cursor() == world.newest_event_created()
        with ledger.engine.connect() as conn:
            processed = conn.exec_driver_sql("SELECT count(*) FROM processed_events").scalar()
        assert attributes_mark(ledger.engine) is None  # nobody's attributes were pushed
    assert processed == summary.stripe["events applied"]
    assert world.requests() == 0


def test_each_lifecycle_event_a_preview_counts_is_sent_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_CIO_EVENT_NAMES", "invoice.paid=receipt")
    now = world.stripe_now()
    connections = world.connections()
    asyncio.run(sync_job(connections, PlainRunner(), since=now - 5 * DAY, ledger_only=True))
    # The whole history, so that every event's person is known to the preview as to the run.
    asyncio.run(backfill_job(connections, PlainRunner(), enrich=False))
    preview = preview_lifecycle(world)
    assert preview.dry_run
    assert preview.delivery.events_new > 0
    assert world.requests() == 0

    runner = PlainRunner()
    first = asyncio.run(sync_job(connections, runner, clock=lambda: now))

    # Attributes before lifecycle events, so that a campaign an event starts sees them.
    assert runner.steps == [
        "pull Stripe events",
        "compute attributes",
        "push attributes",
        "send lifecycle events",
    ]
    assert runner.summaries == [first]
    assert not first.rejected
    assert first.events_sent == preview.items
    assert first.events_delivered == preview.delivery.events_new
    assert first.events_sent["receipt"] > 0
    assert "stripe_invoice_paid" not in first.events_sent
    stored = world.events()
    assert len(stored) == first.events_delivered
    assert len({event["id"] for event in stored}) == len(stored)

    # Nothing new: nothing computed, compared or sent again.
    requests = world.requests()
    again = asyncio.run(sync_job(connections, PlainRunner(), clock=lambda: now))
    assert sum(again.events_sent.values()) == 0
    assert again.persons_seen == 0
    assert world.events() == stored
    assert preview_lifecycle(world).events_read == 0
    assert world.requests() == requests


def test_a_first_sync_reads_the_histories_of_its_customers_before_sending_them(
    world: World,
) -> None:
    now = world.stripe_now()
    runner = PlainRunner()
    # A short window touches fewer customers than the job reads one by one before it weighs
    # reading the whole history instead (`SAMPLE`).
    first = asyncio.run(
        sync_job(world.connections(), runner, since=now - DAY // 4, clock=lambda: now)
    )

    # No backfill: the customers the events touched were read with their whole history before
    # anything about them was computed.
    assert "read the whole history" not in runner.steps
    order = ["read customer histories", "compute attributes", "push attributes"]
    assert runner.steps[0] == "pull Stripe events"
    assert runner.steps[-1] == "send lifecycle events"
    assert [step for step in runner.steps if step in order] == order
    assert first.stripe["customer histories read"] > 0
    assert not first.rejected
    # The persons sent hold what the attribute engine computes from the ledger, less the ranks
    # among all customers, which wait for a backfill of the whole history.
    with world.ledger() as ledger:
        cursor = ledger.events_cursor()
        assert attributes_mark(ledger.engine) == cursor
    assert cursor is not None
    expected = world.expected_attributes(max(now, cursor))
    ranks = {f"stripe_{name}" for name in RANK_ATTRIBUTES}
    pushed = {p: a for p, a in world.people().items() if "stripe_purchase_count" in a}
    assert 0 < first.persons_sent == len(pushed) < len(expected)
    assert first.skipped[RANKS_HELD_BACK] == len(pushed)
    assert pushed == {
        person: {name: value for name, value in expected[person].items() if name not in ranks}
        for person in pushed
    }
    assert first.events_delivered == len(world.events()) > 0

    again = asyncio.run(sync_job(world.connections(), PlainRunner(), clock=lambda: now))
    assert "customer histories read" not in again.stripe
    assert (again.persons_seen, again.events_delivered) == (0, 0)


def test_missing_customerio_credentials_stop_it_before_anything_is_read(world: World) -> None:
    runner = PlainRunner()
    with pytest.raises(ConfigError, match=r"^CUSTOMERIO_SITE_ID: "):
        asyncio.run(sync_job(world.connections(customerio=False), runner))
    assert (runner.steps, runner.summaries) == ([], [])
    with world.ledger() as ledger:
        assert ledger.events_cursor() is None


def test_another_pushing_run_refuses_it_before_anything_is_read(world: World) -> None:
    runner = PlainRunner()
    with (
        world.ledger() as ledger,
        run_lock(ledger.engine, "a nightly run started first"),
        pytest.raises(RunInProgressError, match="this run did nothing"),
    ):
        asyncio.run(sync_job(world.connections(), runner))
    assert (runner.steps, runner.summaries) == ([], [])
    with world.ledger() as ledger:
        assert ledger.events_cursor() is None
    assert world.requests() == 0


def test_a_refused_stripe_key_fails_at_once(world: World) -> None:
    connections = world.connections(customerio=False, stripe_key="sk_live_notAcceptedBySandbox1")
    runner = PlainRunner()
    with pytest.raises(StripeAuthError, match="HTTP 401"):
        asyncio.run(sync_job(connections, runner, ledger_only=True))
    assert runner.steps == ["pull Stripe events"]
    [summary] = runner.summaries  # published all the same
    assert summary.stripe.get("events applied", 0) == 0
    with world.ledger() as ledger:
        assert ledger.events_cursor() is None


def test_a_first_sync_over_many_customers_reads_the_whole_history_when_cheaper(
    world: World,
) -> None:
    now = world.stripe_now()
    runner = PlainRunner()
    first = asyncio.run(
        sync_job(world.connections(), runner, since=now - 5 * DAY, clock=lambda: now)
    )

    # On this small account, reading the touched customers one by one costs more requests than
    # reading every list once: after the sample, the job reads the whole history.
    order = ["read customer histories", "read the whole history", "compute attributes"]
    assert [step for step in runner.steps if step in order] == order
    assert first.stripe["customers read"] > 0
    assert not first.rejected
    assert RANKS_HELD_BACK not in first.skipped
    with world.ledger() as ledger:
        cursor = ledger.events_cursor()
    assert cursor is not None
    expected = world.expected_attributes(max(now, cursor))
    pushed = {p: a for p, a in world.people().items() if "stripe_purchase_count" in a}
    assert 0 < first.persons_sent == len(pushed)
    assert pushed == {person: expected[person] for person in pushed}
    assert first.events_delivered == len(world.events()) > 0
