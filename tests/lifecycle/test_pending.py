"""Reading the processed events not yet handled from a real ledger, mapping, marking them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import inspect, text

from stripe_cio.deliver import EventItem
from stripe_cio.ledger import Ledger, schema
from stripe_cio.lifecycle import (
    Mapped,
    backfill_before,
    ensure_lifecycle_table,
    mark_handled,
    pending_lifecycle,
)
from stripe_cio.lifecycle.pending import LOW_WATER_CURSOR, raise_low_water, read_pending

RESOURCES = ("customers", "charges", "invoices", "subscriptions", "disputes",
             "checkout_sessions", "prices", "products", "payment_intents", "refunds")  # fmt: skip


def filled(kit: Any, make_ledger: Callable[[], Ledger]) -> Ledger:
    """A ledger holding the synthetic account as a backfill would, then all its events."""
    account = kit.synthetic()
    ledger = make_ledger()
    for resource in RESOURCES:
        ledger.write_objects(
            resource, list(account.objects.get(resource, {}).values()), observed_at=kit.NOW
        )
    events = sorted(account.events, key=lambda e: e["created"])
    for start in range(0, len(events), 500):
        batch = events[start : start + 500]
        ledger.apply_events(batch, cursor=batch[-1]["created"])
    return ledger


def test_the_ledger_batch_is_the_pure_mapping_of_every_event(
    kit: Any, make_ledger: Callable[[], Ledger]
) -> None:
    ledger = filled(kit, make_ledger)
    account = kit.synthetic()
    settings, identity = kit.settings(), kit.identity()
    batch = pending_lifecycle(ledger, settings, identity, limit=100_000)
    assert batch.read == len(account.events)
    assert len({row["stripe_event_id"] for row in batch.handled}) == batch.read
    by_id = {e["id"]: e for e in account.events}
    expected_events: list[EventItem] = []
    lookup = account.lookup
    for row in batch.handled:
        result = kit.map(by_id[row["stripe_event_id"]], lookup, settings, identity)
        if isinstance(result, Mapped):
            assert (row["outcome"], row["items"]) == ("sent", result.items)
            expected_events.extend(result.events)
        else:
            assert (row["outcome"], row["reason"], row["items"]) == ("skipped", result.reason, 0)
    assert batch.events == expected_events
    assert sum(batch.skipped.values()) == sum(1 for r in batch.handled if r["outcome"] == "skipped")
    assert {a.action for a in batch.after} == {"identify"}  # customer.deleted: the attribute
    assert len(batch.before) == sum(1 for e in batch.events if e.name == "stripe_customer_created")


def test_handled_events_are_not_read_again_and_pages_follow_each_other(
    kit: Any, make_ledger: Callable[[], Ledger]
) -> None:
    ledger = filled(kit, make_ledger)
    settings, identity = kit.settings(), kit.identity()
    seen: list[str] = []
    after = None
    while True:
        batch = pending_lifecycle(ledger, settings, identity, after=after, limit=700)
        if not batch.read:
            break
        seen.extend(row["stripe_event_id"] for row in batch.handled)
        after = batch.last
    assert len(seen) == len(set(seen)) == len(kit.synthetic().events)
    first = pending_lifecycle(ledger, settings, identity, limit=1000)
    mark_handled(ledger, first.handled)
    mark_handled(ledger, first.handled)  # again: no error, the first record stays
    rest = pending_lifecycle(ledger, settings, identity, limit=100_000)
    assert rest.read == len(seen) - 1000
    assert not {r["stripe_event_id"] for r in rest.handled} & {
        r["stripe_event_id"] for r in first.handled
    }


def test_backfill_t0_comes_from_the_newest_backfill_run(
    kit: Any, make_ledger: Callable[[], Ledger]
) -> None:
    ledger = filled(kit, make_ledger)
    assert backfill_before(ledger.engine) is None
    events = sorted(kit.synthetic().events, key=lambda e: e["created"])
    t0 = events[len(events) // 2]["created"]
    ledger.mark_slice_done("charges", "backfill-100", 0, 10, 0)
    ledger.mark_slice_done("charges", f"backfill-{t0}", 0, 10, 0)
    ledger.mark_slice_done("charges", "not-a-backfill-run", 0, 10, 0)
    assert backfill_before(ledger.engine) == t0
    batch = pending_lifecycle(ledger, kit.settings(), kit.identity(), limit=100_000)
    ignored = ("unmapped_type", "payment_intent_events_off")  # decided before backfills
    replayed = sum(
        1
        for e in events
        if e["created"] < t0 and getattr(kit.map(e), "reason", None) not in ignored
    )
    assert batch.skipped["backfill"] == replayed
    assert all(e.created >= t0 for e in batch.events)
    sent = pending_lifecycle(
        ledger, kit.settings(send_backfill_events=True), kit.identity(), limit=100_000
    )
    assert sent.skipped["backfill"] == 0
    assert min(e.created for e in sent.events) < t0


def test_the_low_water_mark_bounds_the_read(kit: Any, make_ledger: Callable[[], Ledger]) -> None:
    ledger = filled(kit, make_ledger)
    cursor = ledger.events_cursor()
    assert cursor is not None
    raise_low_water(ledger, cursor)
    raise_low_water(ledger, cursor - 10 * kit.DAY)  # never moves down
    low = cursor - kit.DAY
    with ledger.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT value FROM sync_cursors WHERE name = :n"), {"n": LOW_WATER_CURSOR}
        ).scalar()
    assert stored == low
    read = pending_lifecycle(ledger, kit.settings(), kit.identity(), limit=100_000)
    assert read.read == sum(1 for e in kit.synthetic().events if e["created"] >= low) > 0


def test_an_unreadable_stored_event_is_skipped_as_malformed(
    kit: Any, make_ledger: Callable[[], Ledger]
) -> None:
    ledger = make_ledger()
    ensure_lifecycle_table(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO processed_events (id, type, created, raw, processed_at) "
                "VALUES ('evt_bad', 'charge.succeeded', 5, '{not json', 0)"
            )
        )
    assert [p.event for p in read_pending(ledger.engine, low=None, after=None, limit=10)] == [None]
    batch = pending_lifecycle(ledger, kit.settings(), kit.identity())
    assert dict(batch.skipped) == {"malformed_event": 1}


def test_migration_three_adds_the_table_to_an_older_ledger(
    make_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger()
    assert ledger.schema_version >= 3
    with ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE lifecycle_events"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 3"))
    assert not inspect(ledger.engine).has_table("lifecycle_events")
    reopened = Ledger(ledger.engine)
    assert reopened.schema_version == schema.latest_version()
    assert inspect(ledger.engine).has_table("lifecycle_events")


def test_a_ledger_created_without_the_table_gets_it_on_first_use(
    make_ledger: Callable[[], Ledger],
) -> None:
    ledger = make_ledger()
    with ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE lifecycle_events"))
    ensure_lifecycle_table(ledger.engine)
    assert inspect(ledger.engine).has_table("lifecycle_events")
