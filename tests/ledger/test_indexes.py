"""Secondary indexes set aside for a first backfill and built again, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stripe_cio.ledger import Ledger
from stripe_cio.ledger.indexes import _present
from stripe_cio.ledger.tables import table

Example = Callable[[str], dict[str, Any]]
CHARGE_INDEXES = {
    "ix_charges_created",
    "ix_charges_customer",
    "ix_charges_guest_email_key",
    "ix_charges_payment_intent",
}


def indexes(ledger: Ledger) -> set[str]:
    with ledger.engine.connect() as conn:
        return _present(conn)


def test_the_charge_indexes_are_the_ones_set_aside() -> None:
    assert {index.name for index in table("charges").indexes} == CHARGE_INDEXES


def test_an_empty_table_loses_its_secondary_indexes_until_they_are_built(
    ledger: Ledger, example: Example
) -> None:
    assert indexes(ledger) >= CHARGE_INDEXES
    assert ledger.set_indexes_aside("charges") is True
    assert not CHARGE_INDEXES & indexes(ledger)
    assert ledger.set_indexes_aside("charges") is True  # still empty: nothing left to drop
    charge = example("charge")
    ledger.write_objects("charges", [charge], observed_at=1)  # the upsert needs only the key
    assert ledger.write_objects("charges", [charge], observed_at=2).written == 1
    assert sorted(ledger.build_missing_indexes()) == sorted(CHARGE_INDEXES)
    assert indexes(ledger) >= CHARGE_INDEXES
    assert ledger.build_missing_indexes() == []


def test_a_table_with_rows_keeps_its_indexes(ledger: Ledger, example: Example) -> None:
    ledger.write_objects("charges", [example("charge")], observed_at=1)
    assert ledger.set_indexes_aside("charges") is False
    assert indexes(ledger) >= CHARGE_INDEXES


def test_opening_the_ledger_builds_indexes_a_crashed_backfill_left_aside(
    open_ledger: Callable[[], Ledger], example: Example
) -> None:
    first = open_ledger()
    first.set_indexes_aside("charges")
    first.write_objects("charges", [example("charge")], observed_at=1)
    assert not CHARGE_INDEXES & indexes(first)
    # The backfill died here. The next process to open the ledger finds the indexes missing.
    assert indexes(open_ledger()) >= CHARGE_INDEXES
