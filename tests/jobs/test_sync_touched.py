"""A sync costs what its events cost: over a ledger of many persons it computes and pushes only
the few its new events touch, exactly their changed attributes, and reads every row it needs
through an index (each statement's plan checked on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import Engine, event

from bench._attribute_ledger import build_ledger
from stripe_cio.attributes import (
    attribute_dicts,
    compute_attributes,
    load_frames,
    recorded_rank_cuts,
)
from stripe_cio.jobs import PlainRunner, backfill_job, sync_job
from stripe_cio.sandbox import SANDBOX_STRIPE_KEY, SandboxProcess
from tests.jobs._world import World, world_of

HOUR = 3600
# Tables that grow with the account: no statement of a sync may read one whole. (The others
# hold a row per cursor, backfill slice or schema version.)
LARGE_TABLES = (
    "customers",
    "charges",
    "disputes",
    "refunds",
    "payment_intents",
    "subscriptions",
    "subscription_items",
    "invoices",
    "checkout_sessions",
    "prices",
    "products",
    "processed_events",
    "handled_lifecycle_events",
    "cio_person_snapshots",
    "cio_delivered_events",
    "dead_letters",
    "customer_histories",
    "rejects",
)
_SQLITE_SCAN = re.compile(r"\bSCAN (\w+)")
_PG_SCAN = re.compile(r"Seq Scan on (\w+)")


_LIMIT = re.compile(r"LIMIT (\?|%\((\w+)\)s)")


def _reads_one_row(statement: str, parameters: Any) -> bool:
    """Whether the statement stops at its first row (`LIMIT 1`: whether any row exists)."""
    match = _LIMIT.search(statement)
    if match is None:
        return False
    if match.group(2) is not None:
        return bool(parameters[match.group(2)] == 1)
    return bool(parameters[statement[: match.start()].count("?")] == 1)


class Plans:
    """Explains every statement the engines run while recording: on SQLite, which tables a
    plan scans whole; on PostgreSQL, which ones still need a sequential scan when sequential
    scans are made as costly as can be (so that any usable index is taken)."""

    def __init__(self) -> None:
        self.recording = False
        self.scans: dict[str, set[str]] = {}
        self.statements = 0

    def __call__(
        self,
        _conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if not self.recording or executemany or verb not in ("SELECT", "UPDATE", "DELETE"):
            return
        if _reads_one_row(statement, parameters):
            return
        self.statements += 1
        explain = cursor.connection.cursor()
        if type(explain).__module__.startswith("sqlite3"):
            rows = explain.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            found = {match for row in rows for match in _SQLITE_SCAN.findall(str(row[-1]))}
        else:
            explain.execute("SET enable_seqscan = off")
            explain.execute(f"EXPLAIN {statement}", parameters)
            found = {match for (line,) in explain.fetchall() for match in _PG_SCAN.findall(line)}
            explain.execute("RESET enable_seqscan")
        explain.close()
        for scanned in found & set(LARGE_TABLES):
            self.scans.setdefault(scanned, set()).add(" ".join(statement.split())[:300])

    @contextmanager
    def recorded(self) -> Iterator[Plans]:
        self.recording = True
        try:
            yield self
        finally:
            self.recording = False


@pytest.fixture
def plans() -> Iterator[Plans]:
    recorder = Plans()
    event.listen(Engine, "before_cursor_execute", recorder)
    yield recorder
    event.remove(Engine, "before_cursor_execute", recorder)


@pytest.fixture
def own_stripe_box() -> Iterator[SandboxProcess]:
    """A Stripe account of this test's own: it moves the clock."""
    with SandboxProcess("stripe", "--customers", "150", "--months", "3", "--rps", "0") as box:
        yield box


_databases = itertools.count()


def touched_after(world: World, cursor: int) -> set[str]:
    """The customers, and guests' billing emails, of Stripe's events after `cursor`: whom the
    next sync will touch."""
    customers: set[str] = set()
    answer = world.stripe.get(
        "/v1/events",
        params={"limit": 100, "created[gte]": cursor},
        auth=(SANDBOX_STRIPE_KEY, ""),
    ).raise_for_status()
    for item in answer.json()["data"]:
        obj = item["data"]["object"]
        owner = obj["id"] if obj.get("object") == "customer" else obj.get("customer")
        if isinstance(owner, str):
            customers.add(owner)
        elif obj.get("object") == "charge" and (obj.get("billing_details") or {}).get("email"):
            customers.add(obj["billing_details"]["email"].strip().lower())
    return customers


def expected_attributes(world: World, as_of: int) -> dict[str, dict[str, Any]]:
    """Every person's attributes from the whole ledger, ranks scored against the recorded
    cut-points, as JSON carries them."""
    with world.ledger() as ledger:
        recorded = recorded_rank_cuts(ledger.engine)
        assert recorded is not None, "the enrich recorded its cut-points"
        result = compute_attributes(load_frames(ledger.engine), as_of, rank_cuts=recorded.cuts)
    return {
        person: orjson.loads(orjson.dumps(values))
        for person, values in attribute_dicts(result.attributes)
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_sync_over_a_large_ledger_pushes_only_the_touched_persons_changes(
    backend: str,
    own_stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    tmp_path: Path,
    plans: Plans,
    request: pytest.FixtureRequest,
) -> None:
    with world_of(own_stripe_box, cio_box, tmp_path) as world:
        if backend == "postgresql":
            server: str = request.getfixturevalue("pg_server")
            name = f"touched_{next(_databases)}"
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            world.ledger_url = f"{server}/{name}"
        connections = world.connections()
        start = world.stripe_now()
        asyncio.run(backfill_job(connections, PlainRunner()))  # and the enrich after it
        asyncio.run(sync_job(connections, PlainRunner(), since=start - HOUR))
        if backend == "sqlite":
            # Many more persons in the ledger, none of whom the new events concern.
            build_ledger(tmp_path / "ledger.db", persons=20_000, charges=150_000, seed=11)
            # Without the statistics of this small test ledger (whose few events any plan
            # reads at once) the planner judges as on a ledger of years: by its indexes.
            with sqlite3.connect(tmp_path / "ledger.db") as db:
                db.execute("DELETE FROM sqlite_stat1")
        before = world.people()
        requests_before = world.requests()

        cursor = world.newest_event_created()
        for _ in range(48):  # half an hour at a time, until a few customers have new events
            world.stripe.post("/_sandbox/advance", json={"seconds": HOUR // 2}).raise_for_status()
            if len(touched_after(world, cursor)) >= 3:
                break
        touched = touched_after(world, cursor)
        assert 3 <= len(touched) < 30, touched
        now = world.stripe_now()

        with plans.recorded():
            summary = asyncio.run(
                sync_job(connections, PlainRunner(), overlap=0, clock=lambda: now)
            )

        assert plans.statements > 0
        assert plans.scans == {}, "statements reading a whole table"
        assert not summary.rejected
        # Only the touched persons were computed and compared.
        assert 0 < summary.persons_seen <= len(touched)
        after = world.people()
        expected = expected_attributes(world, now)
        changed = {
            person for person, attributes in after.items() if before.get(person) != attributes
        }
        assert changed, "the new events changed someone"
        assert len(changed) <= summary.persons_seen
        for person in changed:
            # What Customer.io holds is the full computation's as of the sync, ranks scored
            # against the cut-points of the latest full run (the nightly enrich).
            assert after[person] == expected[person], person
        # Nobody the events did not touch was sent, the many added persons included.
        assert set(after) - set(before) <= changed
        assert not any(person.startswith("person") for person in after)
        # A handful of requests: one batch of people, the lifecycle events.
        assert world.requests() - requests_before < 10
