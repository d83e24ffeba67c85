"""Customers' histories fetched from the sandbox equal what a full backfill holds for them; the
first sync records its start before reading; backfills record their runs and the horizon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text

from stripe_cio import LedgerSettings
from stripe_cio.exceptions import StripeAuthError
from stripe_cio.extract import (
    HISTORY_UNREADABLE,
    UNREADABLE_PAGE,
    backfill,
    complete_histories,
    iter_pages,
    stripe_now,
    sync_events,
)
from stripe_cio.ledger import (
    HistoryGaps,
    Ledger,
    history_gaps,
    history_horizon,
    incomplete_customers,
    unfinished_backfills,
)
from stripe_cio.ledger.tables import table
from stripe_cio.sandbox import SandboxProcess

pytestmark = pytest.mark.anyio
DAY = 86_400

# A customer's objects: by their `customer` column, or through the customer's charges.
BY_CUSTOMER = ("charges", "payment_intents", "invoices", "subscriptions", "checkout_sessions")
BY_CHARGE = ("refunds", "disputes")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, make_ledger: Any) -> Iterator[Ledger]:
    """An empty ledger on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        yield make_ledger()
        return
    url = str(request.getfixturevalue("pg_url"))
    with Ledger.open(LedgerSettings(database_url=url)) as ledger:
        yield ledger


def owned(ledger: Ledger, customer: str) -> dict[str, dict[str, Any]]:
    charges = table("charges")
    queries = {
        name: select(table(name).c.id, table(name).c.raw).where(table(name).c.customer == customer)
        for name in BY_CUSTOMER
    } | {
        name: select(table(name).c.id, table(name).c.raw)
        .join(charges, charges.c.id == table(name).c.charge)
        .where(charges.c.customer == customer)
        for name in BY_CHARGE
    }
    with ledger.engine.connect() as conn:
        return {
            name: {row.id: orjson.loads(row.raw) for row in conn.execute(query)}
            for name, query in queries.items()
        }


def histories(ledger: Ledger) -> dict[str, str]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(text("SELECT customer, outcome FROM customer_histories"))
        return {row.customer: row.outcome for row in rows}


async def recent_events(client: Any, since: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async for page in iter_pages(client, "/v1/events", {"created[gte]": since}):
        found.extend(page)
    return found[::-1]  # oldest first


async def test_histories_of_customers_in_recent_events_equal_a_full_backfill(
    kit: Any, sandbox: SandboxProcess, fresh: Ledger, make_ledger: Any
) -> None:
    ledger = fresh
    async with kit.client_for(sandbox.url) as client:
        now = await stripe_now(client)
        ledger.apply_events(await recent_events(client, now - 10 * DAY), cursor=now)
        gaps = history_gaps(ledger.engine, None)
        assert gaps.customers
        summary = await complete_histories(client, ledger, gaps, concurrency=4)
        full = make_ledger()
        assert (await backfill(client, full)).complete
    assert summary.rejected == {}
    assert summary.requests > len(gaps.customers) * 5  # each customer's lists, at least
    outcomes = histories(ledger)
    assert gaps.customers <= outcomes.keys()
    assert history_gaps(ledger.engine, None) == HistoryGaps()
    assert incomplete_customers(ledger.engine) == frozenset()
    complete = [c for c, outcome in outcomes.items() if outcome == "complete"]
    assert summary.customers_fetched == len(complete) > 0
    totals = dict.fromkeys(BY_CUSTOMER + BY_CHARGE, 0)
    for customer in complete:
        mine, theirs = owned(ledger, customer), owned(full, customer)
        assert mine == theirs, customer
        for name, objects in mine.items():
            totals[name] += len(objects)
    assert all(totals[name] > 0 for name in ("charges", "invoices", "subscriptions", "refunds"))
    with ledger.engine.connect() as conn:
        prices = set(conn.execute(text("SELECT price FROM subscription_items")).scalars())
    assert prices <= ledger.raw_objects("prices").keys()
    # The reference ledger: a complete backfill of everything from 0 vouches for every history.
    assert history_horizon(full.engine) == 0
    assert unfinished_backfills(full.engine) == []


async def test_deleted_and_unknown_customers_are_skipped_with_their_reason(
    kit: Any, tmp_path: Path, fresh: Ledger
) -> None:
    path = tmp_path / "account.json"
    gone = {"id": "cus_gone", "object": "customer", "deleted": True}
    path.write_bytes(orjson.dumps({"customers": [gone]}))
    args = ("stripe", "--fixtures", str(path), "--now", "1800000000", "--rps", "0")
    gaps = HistoryGaps(customers=frozenset({"cus_gone", "cus_nope"}), charges=frozenset({"ch_x"}))
    with SandboxProcess(*args) as server:
        async with kit.client_for(server.url) as client:
            summary = await complete_histories(client, fresh, gaps)
    assert summary.skipped == {"deleted_customer": 1, "unknown_customer": 1, "unknown_charge": 1}
    assert summary.customers_fetched == summary.charges_fetched == 0
    assert histories(fresh) == {"cus_gone": "deleted", "cus_nope": "unknown"}
    with fresh.engine.connect() as conn:
        assert conn.execute(text("SELECT deleted FROM customers")).scalars().all() == [True]
    assert history_gaps(fresh.engine, None) == HistoryGaps()


async def test_an_unreadable_history_stays_incomplete_and_is_read_next_time(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    ledger = make_ledger()
    two = frozenset(c["id"] for c in kit.list_all(sandbox.url, "/v1/customers")[:2])
    broken = {"path": "/v1/charges", "body": "html", "times": 1_000}
    async with kit.client_for(sandbox.url) as client:
        await kit.control(sandbox.url, "config", {"corrupt_pages": [broken]})
        try:
            failed = await complete_histories(client, ledger, HistoryGaps(customers=two))
        finally:
            await kit.control(sandbox.url, "config", {"corrupt_pages": []})
        assert failed.rejected == {HISTORY_UNREADABLE: 2}
        assert len(failed.messages) == 1  # the first error's, not one per customer
        assert histories(ledger) == {}
        again = await complete_histories(client, ledger, HistoryGaps(customers=two))
    assert again.rejected == {}
    assert histories(ledger) == dict.fromkeys(two, "complete")
    assert again.as_dict()["customers_fetched"] == 2


async def test_a_refused_key_stops_the_fetch(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    ledger = make_ledger()
    async with kit.client_for(sandbox.url, key="sk_test_x") as client:
        with pytest.raises(StripeAuthError):
            await complete_histories(client, ledger, HistoryGaps(customers=frozenset({"cus_a"})))


async def test_a_failed_first_sync_keeps_its_start_as_the_cursor(
    kit: Any, sandbox: SandboxProcess, fresh: Ledger
) -> None:
    # The first events page is stripe_now's; every page of the sync after it arrives broken.
    broken = {"path": "/v1/events", "body": "html", "times": 1_000, "after": 1}
    async with kit.client_for(sandbox.url) as client:
        since = await stripe_now(client) - 3 * DAY
        await kit.control(sandbox.url, "config", {"corrupt_pages": [broken]})
        try:
            failed = await sync_events(client, fresh, since=since)
        finally:
            await kit.control(sandbox.url, "config", {"corrupt_pages": []})
        assert failed.rejected == {UNREADABLE_PAGE: 1}
        assert failed.applied == 0
        assert fresh.events_cursor() == since
        assert history_horizon(fresh.engine) == since
        resumed = await sync_events(client, fresh)
    assert resumed.start == since - 600  # from the first sync's start, minus the overlap
    assert resumed.applied > 0
    assert history_horizon(fresh.engine) == since


async def test_a_backfill_of_some_resources_records_its_run_but_vouches_for_nothing(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    ledger = make_ledger()
    async with kit.client_for(sandbox.url) as client:
        done = await backfill(client, ledger, resources=["customers"])
    assert done.complete
    assert unfinished_backfills(ledger.engine) == []
    with ledger.engine.connect() as conn:
        row = conn.execute(text("SELECT run, t0, resources, completed_at FROM backfill_runs")).one()
    assert (row.run, row.t0, row.resources) == (done.run, done.t0, "customers")
    assert row.completed_at is not None
    assert history_horizon(ledger.engine) is None
