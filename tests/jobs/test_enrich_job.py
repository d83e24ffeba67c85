"""The enrich job through the plain runner: every person's attributes computed from the ledger
as of a given time and only what changed sent to the Customer.io sandbox; its dry run, its
settings, persons whose history the ledger lacks, its lock and its reject threshold."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stripe_cio import ConfigError
from stripe_cio.jobs import ENRICH, HISTORY_INCOMPLETE, PlainRunner, backfill_job, enrich_job
from stripe_cio.ledger import Ledger, lower_history_horizon
from stripe_cio.runs import RejectRateExceededError, RunInProgressError, RunSummary, run_lock
from tests.jobs._world import World

AS_OF = 1_780_000_000
CUSTOMER = {"object": "customer", "created": AS_OF - 9000, "metadata": {"uid": "u-7"}}
CHARGE = {
    "object": "charge",
    "amount": 1250,
    "amount_captured": 1250,
    "amount_refunded": 0,
    "currency": "eur",
    "status": "succeeded",
}


def write_account(ledger: Ledger) -> None:
    """Two customers, one without an email, each with a charge."""
    ledger.write_objects(
        "customers",
        [
            {**CUSTOMER, "id": "cus_1", "email": "Ann@Example.com"},
            {**CUSTOMER, "id": "cus_2", "email": None},
        ],
        observed_at=AS_OF,
    )
    ledger.write_objects(
        "charges",
        [
            {**CHARGE, "id": "ch_1", "created": AS_OF - 500, "customer": "cus_1"},
            {**CHARGE, "id": "ch_2", "created": AS_OF - 400, "customer": "cus_2"},
        ],
        observed_at=AS_OF,
    )


@pytest.fixture
def small(world: World) -> World:
    """A ledger holding a small account's whole history (as a complete backfill leaves it)."""
    with world.ledger() as ledger:
        write_account(ledger)
        lower_history_horizon(ledger.engine, 0)
    return world


def enrich(world: World, **options: Any) -> tuple[RunSummary, PlainRunner]:
    runner = PlainRunner()
    summary = asyncio.run(enrich_job(world.connections(stripe=False), runner, **options))
    return summary, runner


def test_it_computes_the_attributes_sends_them_and_counts_skips(small: World) -> None:
    summary, runner = enrich(small, as_of=AS_OF)

    assert runner.steps == ["compute attributes", "push attributes"]
    assert runner.summaries == [summary]
    assert (summary.flow, summary.dry_run) == (ENRICH, False)
    person = small.people()["ann@example.com"]
    assert person["stripe_total_spent"] == 12.5
    assert person["stripe_purchases_last_30d"] == 1
    assert list(small.people()) == ["ann@example.com"]
    assert (summary.persons_seen, summary.persons_changed, summary.persons_sent) == (1, 1, 1)
    # The customer without an email and their charge have no person: counted, not lost.
    assert summary.skipped == {"customers: no_identifier": 1, "charges: no_identifier": 1}


def test_attributes_are_taken_as_of_the_clock_unless_a_time_is_given(small: World) -> None:
    # 40 days on, the purchase is no longer of the last 30 days.
    summary, _ = enrich(small, clock=lambda: AS_OF + 40 * 86_400)
    assert summary.persons_sent == 1
    assert small.people()["ann@example.com"]["stripe_purchases_last_30d"] == 0


def test_settings_come_from_the_environment(small: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_CIO_IDENTIFIER", "metadata:uid")
    monkeypatch.setenv("STRIPE_CIO_ATTRIBUTE_PREFIX", "pay_")
    summary, _ = enrich(small, as_of=AS_OF)
    people = small.people()
    assert list(people) == ["u-7"]
    assert people["u-7"]["pay_purchase_count"] == 2
    assert summary.persons_sent == 1


def test_a_bad_identifier_fails_with_a_config_error_before_anything_is_done(
    small: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_CIO_IDENTIFIER", "phone")
    runner = PlainRunner()
    with pytest.raises(ConfigError, match=r"^STRIPE_CIO_IDENTIFIER: must be email"):
        asyncio.run(enrich_job(small.connections(stripe=False), runner, as_of=AS_OF))
    assert (runner.steps, runner.summaries) == ([], [])
    assert small.requests() == 0


def test_persons_whose_history_the_ledger_lacks_are_left_out_and_counted(world: World) -> None:
    with world.ledger() as ledger:
        write_account(ledger)  # read by no backfill or sync: the history may be partial
    summary, _ = enrich(world, as_of=AS_OF)
    assert summary.skipped[HISTORY_INCOMPLETE] == 1
    assert summary.persons_changed == 0
    assert world.people() == {}


def test_a_second_run_sends_nothing_unchanged(world: World) -> None:
    asyncio.run(backfill_job(world.connections(customerio=False), PlainRunner(), enrich=False))
    as_of = world.stripe_now()
    first, _ = enrich(world, as_of=as_of)
    expected = world.expected_attributes(as_of)
    assert world.people() == expected
    assert first.persons_seen == first.persons_changed == first.persons_sent == len(expected)

    requests = world.batch_requests()
    again, runner = enrich(world, as_of=as_of)
    assert runner.summaries == [again]
    assert again.persons_seen == len(expected)
    assert (again.persons_changed, again.persons_sent) == (0, 0)
    assert world.batch_requests() == requests
    assert world.people() == expected


def test_a_dry_run_needs_no_credentials_or_lock_sends_nothing_and_previews(
    world: World,
) -> None:
    asyncio.run(backfill_job(world.connections(customerio=False), PlainRunner(), enrich=False))
    as_of = world.stripe_now()
    runner = PlainRunner()
    with world.ledger() as ledger, run_lock(ledger.engine, "a nightly run started first"):
        preview = asyncio.run(
            enrich_job(
                world.connections(stripe=False, customerio=False),
                runner,
                dry_run=True,
                as_of=as_of,
            )
        )
    expected = world.expected_attributes(as_of)
    assert runner.summaries == [preview]
    assert preview.dry_run
    assert preview.persons_changed == len(expected)
    assert preview.persons_sent == 0
    assert ("persons changed (would be sent)", f"{len(expected):,}") in preview.rows()
    assert world.requests() == 0

    limited, _ = enrich(world, as_of=as_of, limit=10)
    assert world.people() == dict(sorted(expected.items())[:10])
    assert limited.skipped["persons beyond the limit"] == len(expected) - 10


def test_another_pushing_run_refuses_it_before_anything_is_done(small: World) -> None:
    runner = PlainRunner()
    with (
        small.ledger() as ledger,
        run_lock(ledger.engine, "a nightly run started first"),
        pytest.raises(RunInProgressError, match="this run did nothing"),
    ):
        asyncio.run(enrich_job(small.connections(stripe=False), runner, as_of=AS_OF))
    assert (runner.steps, runner.summaries) == ([], [])
    assert small.requests() == 0
    # Once the other run is over, the lock is free again.
    assert enrich(small, as_of=AS_OF)[0].persons_sent == 1


def test_a_refused_key_fails_at_once(small: World) -> None:
    runner = PlainRunner()
    connections = small.connections(stripe=False, cio_key="not-the-sandbox-key")
    with pytest.raises(Exception, match="HTTP 401") as raised:
        asyncio.run(enrich_job(connections, runner, as_of=AS_OF))
    assert type(raised.value).__name__ == "CustomerIOAuthError"
    assert runner.steps == ["compute attributes", "push attributes"]
    # The failed run's summary is published all the same.
    [summary] = runner.summaries
    assert summary.persons_sent == 0
    assert small.people() == {}


def test_rejects_over_the_threshold_fail_the_run_after_publishing_its_summary(
    world: World,
) -> None:
    with world.ledger() as ledger:
        write_account(ledger)
        ledger.write_objects(
            "customers",
            # A valid address (RFC 5321 lengths) longer than Customer.io's 150-byte identifier.
            [{**CUSTOMER, "id": "cus_3", "email": f"{'a' * 60}@{'b' * 50}.{'c' * 50}.com"}],
            observed_at=AS_OF,
        )
        lower_history_horizon(ledger.engine, 0)
    runner = PlainRunner()
    with pytest.raises(RejectRateExceededError, match=r"^enrich-profiles: reject rate "):
        asyncio.run(enrich_job(world.connections(stripe=False), runner, as_of=AS_OF))
    [summary] = runner.summaries
    assert summary.rejected == {"identifier_too_long": 1}
    assert summary.dead_lettered == 1
    # What was good was sent all the same; the refused person waits as a dead letter.
    assert list(world.people()) == ["ann@example.com"]
    # An operator who accepts the rejects raises the threshold.
    accepted, _ = enrich(world, as_of=AS_OF, max_reject_rate=1.0)
    assert accepted.rejected == {"identifier_too_long": 1}
