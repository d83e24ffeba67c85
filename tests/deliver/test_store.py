"""The delivery tables on SQLite and PostgreSQL, and their migration onto an older ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from stripe_cio import LedgerSettings
from stripe_cio.deliver import DeliveryStore
from stripe_cio.deliver.model import Outgoing, Refusal
from stripe_cio.deliver.store import Failure
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.schema import latest_version

DELIVERY = {"cio_person_snapshots", "cio_delivered_events", "dead_letters"}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    ledger = Ledger.open(LedgerSettings(database_url=url))
    yield ledger
    ledger.close()


def person(key: str, attributes: str) -> Outgoing:
    return Outgoing("person", key, key, b"{}", attributes=attributes)


def test_snapshots_events_and_dead_letters_round_trip(any_ledger: Ledger) -> None:
    clock = iter(range(100, 200))
    store = DeliveryStore(any_ledger.engine, clock=lambda: next(clock))
    event = Outgoing("event", "01J0000000000000000000000A", "id:a", b"{}", None, "evt_1", "paid")
    store.record(accepted=[person("id:a", '{"x":1}'), event])
    store.record(accepted=[person("id:a", '{"x":2}'), event])  # upsert, and no second event
    assert store.snapshots(["id:a", "id:b"]) == {"id:a": '{"x":2}'}
    assert store.delivered([event.item_key, "other"]) == {event.item_key}
    assert store.has_snapshots()

    refused = person("id:b", '{"y":1}')
    store.record(failed=[Failure(refused, Refusal("conflict", "attributes.email", "taken"), "x")])
    store.record(failed=[Failure(refused, Refusal("invalid", "", "again"), "customerio")])
    (letter,) = store.dead_letters()
    assert (letter.reason, letter.attempts, letter.first_failed_at) == ("invalid", 2, 102)
    assert letter.last_failed_at == 103
    assert store.open_dead_letter_keys("person") == {"id:b"}
    assert store.count_dead_letters() == {"invalid": 1}
    store.record(resolved={("person", "id:b"): "delivered"})
    assert store.dead_letters() == []
    assert store.dead_letters(include_resolved=True)[0].resolution == "delivered"
    store.record(failed=[Failure(refused, Refusal("conflict", "", "back"), "customerio")])
    reopened = store.dead_letters(kind="person")
    assert [(d.attempts, d.resolved_at) for d in reopened] == [(3, None)]
    store.resolve([reopened[0].id], "discarded")
    assert store.dead_letters() == []


def test_an_older_ledger_gets_the_delivery_tables_when_opened(tmp_path: Path) -> None:
    settings = LedgerSettings(database_url=f"sqlite:///{tmp_path / 'old.db'}")
    with Ledger.open(settings) as ledger, ledger.engine.begin() as conn:
        for name in DELIVERY:
            conn.execute(text(f"DROP TABLE {name}"))
        conn.execute(text("DELETE FROM schema_version"))
        conn.execute(text("INSERT INTO schema_version VALUES (1, 0)"))
    with Ledger.open(settings) as ledger:
        assert ledger.schema_version == latest_version() >= 2
        assert set(inspect(ledger.engine).get_table_names()) >= DELIVERY
        DeliveryStore.of(ledger).record(accepted=[person("id:a", "{}")])
