"""apply_events: one transaction, oldest first, duplicates skipped, bad objects rejected once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from stripe_cio.ledger import Ledger
from stripe_cio.ledger import write as write_module

Example = Callable[[str], dict[str, Any]]


def event(
    event_id: str, created: int, obj: Any, kind: str = "x.updated", version: str | None = None
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "livemode": False,
        "api_version": version,
        "data": {"object": obj},
    }


def processed(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        query = "SELECT id, type, created, object_type, object_id, customer FROM processed_events"
        return [tuple(r) for r in conn.execute(text(query + " ORDER BY id"))]


def test_applies_new_events_and_moves_the_cursor(ledger: Ledger, example: Example) -> None:
    customer = example("customer")
    charge = example("charge") | {"customer": customer["id"]}
    events = [
        event("evt_2", 20, charge, "charge.succeeded"),
        event("evt_1", 10, customer, "customer.created"),
        event("evt_3", 30, example("event")["data"]["object"], "plan.created"),  # not ours
    ]
    result = ledger.apply_events(events, cursor=25)
    assert (result.applied, result.duplicates, result.rejected, result.cursor) == (3, 0, {}, 25)
    assert ledger.raw_objects("customers") == {customer["id"]: customer}
    assert ledger.raw_objects("charges") == {charge["id"]: charge}
    assert processed(ledger) == [
        ("evt_1", "customer.created", 10, "customer", customer["id"], customer["id"]),
        ("evt_2", "charge.succeeded", 20, "charge", charge["id"], customer["id"]),
        ("evt_3", "plan.created", 30, "plan", "price_1PgafmB7WZ01zgkW6dKueIc5", None),
    ]
    assert ledger.processed_event_ids(["evt_1", "evt_9"]) == {"evt_1"}
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT observed_at FROM charges")).scalar() == 20


def test_duplicates_are_skipped_and_counted(ledger: Ledger, example: Example) -> None:
    customer = example("customer")
    first = event("evt_1", 10, customer, "customer.created")
    assert ledger.apply_events([first, first], cursor=10).duplicates == 1
    renamed = event("evt_1", 10, customer | {"name": "changed"}, "customer.created")
    result = ledger.apply_events([renamed, event("evt_2", 11, customer)], cursor=5)
    assert (result.applied, result.duplicates, result.cursor) == (1, 1, 10)
    assert ledger.raw_objects("customers")[customer["id"]]["name"] is None


def test_events_apply_oldest_first_whatever_the_order_given(
    ledger: Ledger, example: Example
) -> None:
    charge = example("charge")
    states = [charge | {"status": s} for s in ("pending", "succeeded", "failed")]
    events = [
        event("evt_c", 30, states[2]),
        event("evt_a", 10, states[0]),
        event("evt_b2", 20, states[1] | {"description": "second at 20"}),
        event("evt_b1", 20, states[1]),
    ]
    ledger.apply_events(events[1:], cursor=20)
    stored = ledger.raw_objects("charges")[charge["id"]]
    # Same second: the order given decides, so the later event in the list wins.
    assert stored == states[1]
    ledger.apply_events(events[:1], cursor=30)
    assert ledger.raw_objects("charges")[charge["id"]] == states[2]


def test_bad_objects_are_rejected_but_their_events_processed(
    ledger: Ledger, example: Example
) -> None:
    bad_charge = example("charge") | {"currency": "ABC"}
    events = [
        event("evt_1", 10, bad_charge, "charge.succeeded"),
        event("evt_2", 11, "not an object"),
        {"id": "evt_3", "type": "x.y", "data": {"object": {}}},  # no created: not recorded
    ]
    result = ledger.apply_events(events, cursor=11)
    assert result.applied == 2
    assert result.rejected == {
        "unknown_currency:ABC": 1,
        "not_an_object": 1,
        "missing_field:created": 1,
    }
    assert [(r["resource"], r["object_id"], r["reason"]) for r in ledger.rejects()] == [
        ("events", "evt_3", "missing_field:created"),
        ("events", None, "not_an_object"),
        ("charges", bad_charge["id"], "unknown_currency:ABC"),
    ]
    assert [row[0] for row in processed(ledger)] == ["evt_1", "evt_2"]
    # Offered again, they are duplicates: never retried, never rejected twice.
    again = ledger.apply_events(events[:2], cursor=12)
    assert (again.applied, again.duplicates, again.rejected) == (0, 2, {})
    assert ledger.count("rejects") == 3


def test_old_api_versions_are_normalised(ledger: Ledger, example: Example) -> None:
    charge = example("charge") | {"amount": 1000, "amount_captured": 600, "amount_refunded": 400}
    ledger.apply_events([event("evt_1", 10, charge, version="2024-06-20")], cursor=10)
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT amount_refunded FROM charges")).scalar() == 0
    with ledger.engine.connect() as conn:
        version = conn.execute(text("SELECT api_version FROM processed_events")).scalar()
    assert version == "2024-06-20"


def test_customer_deleted_event_marks_the_customer(ledger: Ledger, example: Example) -> None:
    customer = example("customer") | {"email": "ann@example.com"}
    ledger.apply_events(
        [
            event("evt_1", 10, customer, "customer.created"),
            event("evt_2", 20, customer, "customer.deleted"),
        ],
        cursor=20,
    )
    with ledger.engine.connect() as conn:
        row = conn.execute(text("SELECT email, deleted FROM customers")).one()
    assert tuple(row) == ("ann@example.com", True)


def test_a_failure_mid_transaction_applies_nothing(
    ledger: Ledger, example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.set_events_cursor(5)
    customer, charge = example("customer"), example("charge")
    events = [event("evt_1", 10, customer), event("evt_2", 11, charge)]
    real_write_batch = write_module.write_batch
    calls: list[str] = []

    def failing_write_batch(conn: Any, batch: write_module.Batch) -> tuple[int, int]:
        calls.append(batch.resource)
        if len(calls) == 2:  # the customers are already written when the charges fail
            raise RuntimeError("disk on fire")
        return real_write_batch(conn, batch)

    monkeypatch.setattr("stripe_cio.ledger.events.write_batch", failing_write_batch)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ledger.apply_events(events, cursor=11)
    assert len(calls) == 2
    assert ledger.count("customers") == ledger.count("charges") == 0
    assert ledger.count("processed_events") == 0
    assert ledger.events_cursor() == 5

    monkeypatch.setattr("stripe_cio.ledger.events.write_batch", real_write_batch)
    result = ledger.apply_events(events, cursor=11)
    assert (result.applied, result.cursor) == (2, 11)
    assert ledger.count("customers") == ledger.count("charges") == 1


def test_two_writers_never_process_an_event_twice(
    open_ledger: Callable[[], Ledger], example: Example
) -> None:
    """Two ledgers on one database (two engines, as two processes would have) race."""
    first, second = open_ledger(), open_ledger()
    events = []
    for i in range(300):
        charge = example("charge") | {"id": f"ch_{i}"}
        events.append(event(f"evt_{i}", 1_000 + i, charge, "charge.succeeded"))
    results: list[int] = []
    errors: list[BaseException] = []

    def run(ledger: Ledger, page: list[dict[str, Any]]) -> None:
        try:
            for start in range(0, len(page), 50):
                results.append(ledger.apply_events(page[start : start + 50], cursor=1).applied)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(first, events)),
        threading.Thread(target=run, args=(second, events[::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 300
    assert first.count("processed_events") == first.count("charges") == 300
