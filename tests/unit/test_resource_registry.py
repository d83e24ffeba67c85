"""The resource registry (stripe_cio/ledger/resources.py) is the one list of Stripe resources.

Every consumer's view (extraction's, the ledger's, the sandbox's) is derived from it, and a
resource added through it (an entry, a normaliser, a table; no other module edited) is listed,
normalised, stored, placed from events and given its table in an existing ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Boolean, Column, String, Table, Text, inspect

from stripe_cio import LedgerSettings
from stripe_cio.extract import BACKFILL_RESOURCES
from stripe_cio.extract.resources import RESOURCE_BY_NAME, backfill_resources
from stripe_cio.ledger import (
    LEDGER_RESOURCES,
    STRIPE_RESOURCES,
    Ledger,
    StripeResource,
    register_resource,
    registered_resources,
    unregister_resource,
)
from stripe_cio.ledger.normalise import NORMALISERS, OBJECT_TYPES, Normalised, Reject, normalise
from stripe_cio.ledger.normalise.common import base_row, check_object, guarded, opt_int
from stripe_cio.ledger.tables import LEDGER_METADATA, RESOURCE_TABLES
from stripe_cio.sandbox.stripe_server import SPECS
from stripe_cio.sandbox.synthetic import RESOURCES as SYNTHETIC_RESOURCES

LEDGER_ENTRIES = [entry for entry in STRIPE_RESOURCES if entry.table is not None]


def test_every_consumer_lists_the_registry_s_resources_in_its_order() -> None:
    names = [entry.name for entry in STRIPE_RESOURCES]
    ledger_names = [entry.name for entry in LEDGER_ENTRIES]
    assert list(LEDGER_RESOURCES) == ledger_names
    assert list(RESOURCE_TABLES) == ledger_names
    assert list(NORMALISERS) == ledger_names
    assert {entry.object_type: entry.name for entry in LEDGER_ENTRIES} == OBJECT_TYPES
    assert [r.name for r in BACKFILL_RESOURCES] == [e.name for e in STRIPE_RESOURCES if e.backfill]
    assert list(RESOURCE_BY_NAME) == [r.name for r in BACKFILL_RESOURCES]
    served = [e for e in STRIPE_RESOURCES if e.sandbox_filters is not None]
    assert [(s.name, s.url, s.object_name, s.filters) for s in SPECS] == [
        (e.name, e.path, e.object_type, e.sandbox_filters) for e in served
    ]
    assert list(SYNTHETIC_RESOURCES) == [e.name for e in served]
    assert "events" in names
    assert "events" not in ledger_names


def test_registry_entries_are_consistent() -> None:
    for entry in STRIPE_RESOURCES:
        assert entry.path.startswith("/v1/")
        assert entry.object_type
        assert entry.permission
        if entry.table is not None:
            assert entry.table == entry.name
            assert NORMALISERS[entry.name] is entry.normaliser
    assert len({entry.name for entry in STRIPE_RESOURCES}) == len(STRIPE_RESOURCES)


# --- a throwaway resource, added through the registry alone -----------------------------------


@guarded
def normalise_widget(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A widget to its row: the common columns and its size."""
    obj = check_object(obj, "widget")
    row = base_row(obj)
    row["size"] = opt_int(obj, "size")
    return Normalised(row)


WIDGET = StripeResource(
    "widgets",
    "/v1/widgets",
    permission="Widgets",
    owner_filter="customer",
    object_type="widget",
    table="widgets",
    normaliser=normalise_widget,
)


@contextmanager
def widgets_registered() -> Iterator[StripeResource]:
    """The widget resource registered, with its table on the ledger's metadata; then neither."""
    widgets = Table(
        "widgets",
        LEDGER_METADATA,
        Column("id", String, primary_key=True),
        Column("created", BigInteger, index=True),
        Column("livemode", Boolean),
        Column("observed_at", BigInteger, nullable=False),
        Column("raw", Text, nullable=False),
        Column("size", BigInteger),
    )
    try:
        register_resource(WIDGET)
        yield WIDGET
    finally:
        unregister_resource(WIDGET.name)
        LEDGER_METADATA.remove(widgets)
    assert "widgets" not in RESOURCE_TABLES
    assert "widgets" not in RESOURCE_BY_NAME


def widget(ident: str, size: int) -> dict[str, Any]:
    return {"id": ident, "object": "widget", "created": 1_700_000_000, "size": size}


def test_an_added_resource_is_seen_by_extraction_and_the_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger.open(LedgerSettings(database_url=url)).close()  # a ledger from before the widgets
    with widgets_registered() as entry:
        assert registered_resources()[-1] is entry
        # Extraction: the backfill's lookup, its default list, the per-customer history reads.
        assert RESOURCE_BY_NAME["widgets"] is entry
        assert backfill_resources()[-1] is entry
        # The ledger: normaliser dispatch and the lookups by name and by object type.
        assert NORMALISERS["widgets"] is normalise_widget
        assert OBJECT_TYPES["widget"] == "widgets"
        assert normalise("widgets", widget("wd_1", 3)).row["size"] == 3
        assert isinstance(normalise("widgets", {"id": "ch_1", "object": "charge"}), Reject)
        assert RESOURCE_TABLES["widgets"].name == "widgets"
        # Opening the existing ledger creates the new table: no migration was written.
        with Ledger.open(LedgerSettings(database_url=url)) as ledger:
            assert "widgets" in inspect(ledger.engine).get_table_names()
            result = ledger.write_objects("widgets", [widget("wd_1", 3)], observed_at=10)
            assert (result.written, result.rejected) == (1, {})
            event = {
                "id": "evt_1",
                "object": "event",
                "type": "widget.updated",
                "created": 20,
                "data": {"object": widget("wd_1", 5)},
            }
            assert ledger.apply_events([event], cursor=20).applied == 1
            assert ledger.raw_objects("widgets")["wd_1"]["size"] == 5
            assert ledger.count("widgets") == 1
    with (
        Ledger.open(LedgerSettings(database_url=url)) as ledger,
        pytest.raises(ValueError, match="unknown ledger resource"),
    ):
        ledger.write_objects("widgets", [], observed_at=1)


def test_the_registry_refuses_an_entry_the_ledger_could_not_serve() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_resource(STRIPE_RESOURCES[0])
    with pytest.raises(ValueError, match="no table"):
        register_resource(WIDGET)  # its table is not on the ledger's metadata
    with pytest.raises(ValueError, match="needs a normaliser"):
        register_resource(StripeResource("gadgets", "/v1/gadgets", table="gadgets"))
    assert "widgets" not in RESOURCE_TABLES
    assert "gadgets" not in NORMALISERS
