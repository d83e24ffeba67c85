"""write_objects, stubs, items, rejects, slices, cursors and schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, String, TypeDecorator, select, text

from stripe_cio.exceptions import LedgerVersionError
from stripe_cio.ledger import LEDGER_RESOURCES, Ledger
from stripe_cio.ledger import schema as schema
from stripe_cio.ledger.bulk import bulk_upsert, upsert_rows
from stripe_cio.ledger.normalise import OBJECT_TYPES, Normalised, normalise_charge
from stripe_cio.ledger.tables import table

Example = Callable[[str], dict[str, Any]]
# Stripe's example object of each ledger resource, by the ledger's own object-type map.
EXAMPLE_OF = {resource: object_type for object_type, resource in OBJECT_TYPES.items()}
# Written in batches (deletion stubs, subscription items), not by the bulk statement.
BATCHED = {"customers", "prices", "products", "subscriptions"}


def snapshot(ledger: Ledger, table: str, order: str = "id") -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]  # noqa: S608


def charges(example: Example, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        charge = example("charge")
        charge.update(id=f"ch_{i}", created=1_700_000_000 + i, customer=f"cus_{i % 3}")
        out.append(charge)
    return out


@pytest.mark.parametrize("resource", LEDGER_RESOURCES)
def test_writing_the_same_objects_twice_changes_nothing(
    resource: str, ledger: Ledger, example: Example
) -> None:
    obj = example(EXAMPLE_OF[resource])
    first = ledger.write_objects(resource, [obj], observed_at=100)
    before = snapshot(ledger, resource)
    again = ledger.write_objects(resource, [obj], observed_at=100)
    assert (first.written, first.unchanged, first.rejected) == (1, 0, {})
    assert (again.written, again.unchanged, again.rejected) == (0, 1, {})
    assert snapshot(ledger, resource) == before
    assert ledger.raw_objects(resource) == {obj["id"]: obj}


def test_bulk_write_counts(ledger: Ledger, example: Example) -> None:
    objects = charges(example, 2500)  # more than one statement chunk
    result = ledger.write_objects("charges", objects, observed_at=10)
    assert (result.written, result.unchanged) == (2500, 0)
    assert ledger.count("charges") == 2500
    result = ledger.write_objects("charges", objects, observed_at=10)
    assert (result.written, result.unchanged) == (0, 2500)
    result = ledger.write_objects("charges", objects[:10], observed_at=11)
    assert (result.written, result.unchanged) == (10, 0)


def test_an_older_observation_never_overwrites(ledger: Ledger, example: Example) -> None:
    new = example("charge") | {
        "status": "succeeded",
        "amount_captured": 100,
        "amount_refunded": 100,
        "refunded": True,
    }
    old = example("charge") | {"status": "pending"}
    ledger.write_objects("charges", [new], observed_at=200)
    result = ledger.write_objects("charges", [old], observed_at=199)
    assert (result.written, result.unchanged) == (0, 1)
    assert ledger.raw_objects("charges")[new["id"]]["status"] == "succeeded"
    # As new as the stored one but different: two states in one second, applied in order.
    newer = new | {"description": "later the same second"}
    assert ledger.write_objects("charges", [newer], observed_at=200).written == 1
    with ledger.engine.connect() as conn:
        row = conn.execute(text("SELECT description, observed_at FROM charges")).one()
    assert tuple(row) == ("later the same second", 200)


def test_the_latest_of_duplicates_in_one_call_wins(ledger: Ledger, example: Example) -> None:
    first = example("customer") | {"name": "first"}
    second = example("customer") | {"name": "second"}
    result = ledger.write_objects("customers", [first, second], observed_at=5)
    assert (result.written, result.unchanged) == (1, 1)
    assert ledger.raw_objects("customers")[first["id"]]["name"] == "second"


def test_deleted_stub_keeps_the_other_fields(ledger: Ledger, example: Example) -> None:
    customer = example("customer") | {"email": "ann@example.com", "name": "Ann"}
    stub = example("deleted_customer")
    ledger.write_objects("customers", [customer], observed_at=100)
    assert ledger.write_objects("customers", [stub], observed_at=150).written == 1
    with ledger.engine.connect() as conn:
        row = conn.execute(text("SELECT email, name, deleted, observed_at FROM customers")).one()
    assert tuple(row) == ("ann@example.com", "Ann", True, 150)
    assert ledger.raw_objects("customers")[customer["id"]] == customer
    # Deletion is permanent: a later full observation keeps the flag.
    ledger.write_objects("customers", [customer | {"name": "Ann B"}], observed_at=160)
    with ledger.engine.connect() as conn:
        row = conn.execute(text("SELECT name, deleted FROM customers")).one()
    assert tuple(row) == ("Ann B", True)
    # A stub of an unknown customer still records it as deleted.
    ledger.write_objects("customers", [{**stub, "id": "cus_gone"}], observed_at=170)
    with ledger.engine.connect() as conn:
        gone = conn.execute(text("SELECT deleted, created FROM customers WHERE id='cus_gone'"))
        assert tuple(gone.one()) == (True, None)


def _items(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        query = "SELECT subscription, position, id, price, quantity FROM subscription_items"
        return [tuple(r) for r in conn.execute(text(query + " ORDER BY subscription, position"))]


def test_subscription_items_are_replaced_wholesale(ledger: Ledger, example: Example) -> None:
    sub = example("subscription")
    item = sub["items"]["data"][0]
    two = copy.deepcopy(sub)
    extra = copy.deepcopy(item) | {"id": "si_extra", "quantity": 2}
    two["items"]["data"] = [extra, item]
    ledger.write_objects("subscriptions", [two], observed_at=10)
    assert _items(ledger) == [
        (sub["id"], 0, "si_extra", item["price"]["id"], 2),
        (sub["id"], 1, item["id"], item["price"]["id"], 1),
    ]
    ledger.write_objects("subscriptions", [sub], observed_at=20)
    assert _items(ledger) == [(sub["id"], 0, item["id"], item["price"]["id"], 1)]
    # An older observation writes neither the subscription nor its items.
    ledger.write_objects("subscriptions", [two], observed_at=15)
    assert _items(ledger) == [(sub["id"], 0, item["id"], item["price"]["id"], 1)]


def test_rejects_never_stop_the_rest(ledger: Ledger, example: Example) -> None:
    good = example("charge")
    bad: list[Any] = [
        example("charge") | {"id": "ch_neg", "amount": -1},
        example("charge") | {"id": "ch_cur", "currency": "zzz"},
        {"id": "ch_short", "object": "charge"},
        "not an object",
        example("refund"),  # wrong object type
        example("charge") | {"id": "ch_huge", "amount": 2**70},  # beyond JSON integers we keep
    ]
    result = ledger.write_objects("charges", [bad[0], good, *bad[1:]], observed_at=1)
    assert (result.written, result.unchanged) == (1, 0)
    assert result.rejected == {
        "negative_amount:amount": 1,
        "unknown_currency:zzz": 1,
        "missing_field:created": 1,
        "not_an_object": 1,
        "wrong_object_type": 1,
        "unparsable": 1,
    }
    rejects = ledger.rejects()
    assert [(r["resource"], r["object_id"], r["reason"]) for r in rejects] == [
        ("charges", "ch_neg", "negative_amount:amount"),
        ("charges", "ch_cur", "unknown_currency:zzz"),
        ("charges", "ch_short", "missing_field:created"),
        ("charges", None, "not_an_object"),
        ("charges", example("refund")["id"], "wrong_object_type"),
        ("charges", "ch_huge", "unparsable"),
    ]
    assert rejects[2]["raw"] == '{"id":"ch_short","object":"charge"}'
    assert rejects[3]["raw"] == '"not an object"'  # its JSON
    assert ledger.count("rejects") == 6
    assert list(ledger.raw_objects("charges")) == [good["id"]]


def test_unknown_resource(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="unknown ledger resource"):
        ledger.write_objects("plans", [], observed_at=1)


def test_completed_slices(ledger: Ledger) -> None:
    assert ledger.completed_slices("charges", "run1") == []
    ledger.mark_slice_done("charges", "run1", 200, 300, 7)
    ledger.mark_slice_done("charges", "run1", 100, 200, 5)
    ledger.mark_slice_done("charges", "run1", 100, 200, 6)  # re-marking replaces
    ledger.mark_slice_done("charges", "run2", 0, 100, 1)
    ledger.mark_slice_done("customers", "run1", 0, 100, 1)
    assert ledger.completed_slices("charges", "run1") == [(100, 200), (200, 300)]
    assert ledger.completed_slices("charges", "run2") == [(0, 100)]
    assert ledger.count("backfill_slices") == 4


def test_cursor_only_moves_forward(ledger: Ledger) -> None:
    assert ledger.events_cursor() is None
    ledger.set_events_cursor(1_000)
    ledger.set_events_cursor(999)
    assert ledger.events_cursor() == 1_000
    ledger.set_events_cursor(1_001)
    assert ledger.events_cursor() == 1_001


def test_schema_is_created_once_and_migrated_forward(
    open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    current = schema.latest_version()
    first = open_ledger()
    assert first.schema_version == current
    first.write_objects("customers", [], observed_at=1)
    reopened = open_ledger()
    assert reopened.schema_version == current

    def add_column(conn: Any) -> None:
        conn.execute(text("ALTER TABLE charges ADD COLUMN note TEXT"))

    monkeypatch.setitem(schema.MIGRATIONS, current + 1, add_column)
    migrated = open_ledger()
    assert migrated.schema_version == current + 1
    assert open_ledger().schema_version == current + 1  # not applied twice
    with migrated.engine.connect() as conn:
        conn.execute(text("SELECT note FROM charges"))
        versions = conn.execute(text("SELECT version FROM schema_version ORDER BY version"))
        assert versions.scalars().all() == [current, current + 1]

    monkeypatch.delitem(schema.MIGRATIONS, current + 1)
    with pytest.raises(LedgerVersionError, match="newer than this stripe-cio"):
        open_ledger()


# --- the bulk path -----------------------------------------------------------------------------


def stored(ledger: Ledger, resource: str) -> dict[str, dict[str, Any]]:
    """id -> the row as SQLAlchemy reads it (booleans as bools), without observed_at and raw."""
    target = table(resource)
    with ledger.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(target))]
    return {
        row["id"]: {k: v for k, v in row.items() if k not in ("observed_at", "raw")} for row in rows
    }


@pytest.mark.parametrize("version", [None, "2024-06-20"])
def test_charges_are_stored_as_normalised_by_either_path(
    version: str | None, ledger: Ledger, example: Example
) -> None:
    plain = example("charge") | {"id": "ch_plain", "amount_captured": 60, "amount_refunded": 50}
    plain |= {"description": "", "failure_code": "0", "failure_message": None, "paid": False}
    expanded = plain | {"id": "ch_expanded", "customer": {"id": "cus_1", "object": "customer"}}
    upper = plain | {"id": "ch_upper", "currency": "EUR", "livemode": None}
    objects = [plain, expanded, upper]
    result = ledger.write_objects("charges", objects, observed_at=7, api_version=version)
    assert (result.written, result.unchanged, result.rejected) == (3, 0, {})
    expected = {}
    for obj in objects:
        normalised = normalise_charge(obj, version)
        assert isinstance(normalised, Normalised)
        expected[obj["id"]] = normalised.row
    assert stored(ledger, "charges") == expected
    assert expected["ch_plain"]["amount_refunded"] == (10 if version else 50)
    assert ledger.raw_objects("charges") == {obj["id"]: obj for obj in objects}


def test_duplicates_in_one_bulk_call_keep_the_last(ledger: Ledger, example: Example) -> None:
    first = example("charge") | {"description": "first"}
    second = example("charge") | {"description": "second"}
    result = ledger.write_objects("charges", [first, second, first | {"id": "ch_2"}], observed_at=5)
    assert (result.written, result.unchanged) == (2, 1)
    assert ledger.raw_objects("charges")[first["id"]]["description"] == "second"


def _column_value(column: Column[Any], variant: str) -> Any:
    """A value for `column`: None where it may be null, else empty or zero, else "0" or 1."""
    kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    if variant == "null" and column.nullable:
        return None
    if isinstance(kind, Boolean):
        return variant != "empty"
    if isinstance(kind, String):
        return "" if variant == "empty" else "0"
    return 0 if variant == "empty" else 1


@pytest.mark.parametrize("resource", sorted(set(LEDGER_RESOURCES) - BATCHED))
def test_the_bulk_statement_keeps_empty_and_zero_values_apart_from_null(
    resource: str, ledger: Ledger
) -> None:
    # On SQLite the bulk statement binds NULL as a stand-in value of another type: none of
    # these may come back as NULL, nor NULL as anything else.
    plan = bulk_upsert(ledger.engine.dialect, resource)
    target = table(resource)
    expected = {}
    for variant in ("null", "empty", "lookalike"):
        values = [_column_value(target.c[name], variant) for name in plan.columns]
        values[0] = f"{resource}_{variant}"
        expected[values[0]] = dict(zip(plan.columns, values, strict=True))
    with ledger.engine.begin() as conn:
        rows = [plan.bind(tuple(row.values()), 1, "{}") for row in expected.values()]
        assert upsert_rows(conn, plan, sorted(rows)) == 3
    assert stored(ledger, resource) == expected
