"""Creates the ledger's schema on first use and migrates it forward, recording its version.

A fresh ledger gets the current models' tables and is stamped with the latest version. An
existing ledger runs, in order and in one transaction, every migration above its version.
Migration N takes a ledger from version N-1 to N; version 1 is the schema as first shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from ..exceptions import LedgerVersionError
from .coverage import set_horizon_of_existing_ledger
from .delivery_tables import DELIVERY_TABLES, LIFECYCLE_TABLES
from .engine import write_transaction
from .failures import ledger_name
from .indexes import create_missing
from .normalise import email_key
from .resources import RESOURCE_TABLES
from .tables import COVERAGE_TABLES, LEDGER_METADATA, RANK_TABLES, WEBHOOK_TABLES, table

Migration = Callable[[Connection], None]

BASE_VERSION = 1
# {N: function taking the ledger from N-1 to N}. Add entries; never edit or remove one.
# Example: MIGRATIONS[2] = lambda conn: conn.execute(text("ALTER TABLE charges ADD COLUMN x TEXT"))
MIGRATIONS: dict[int, Migration] = {}


def _add_delivery_tables(conn: Connection) -> None:
    for delivery_table in DELIVERY_TABLES:
        delivery_table.create(conn, checkfirst=True)


MIGRATIONS[2] = _add_delivery_tables  # Customer.io snapshots, delivered events, dead letters


def _add_lifecycle_tables(conn: Connection) -> None:
    for lifecycle_table in LIFECYCLE_TABLES:
        lifecycle_table.create(conn, checkfirst=True)


MIGRATIONS[3] = _add_lifecycle_tables  # lifecycle: processed events handed to delivery


def _add_coverage_tables(conn: Connection) -> None:
    for coverage_table in COVERAGE_TABLES:
        coverage_table.create(conn, checkfirst=True)
    set_horizon_of_existing_ledger(conn)


MIGRATIONS[4] = _add_coverage_tables  # history coverage: backfill runs, customers' histories


def _add_backfill_abandoned_at(conn: Connection) -> None:
    # Migration 4 on a ledger from before it creates the table from today's model, column included.
    if "abandoned_at" not in {c["name"] for c in inspect(conn).get_columns("backfill_runs")}:
        conn.execute(text("ALTER TABLE backfill_runs ADD COLUMN abandoned_at BIGINT"))


MIGRATIONS[5] = _add_backfill_abandoned_at  # backfill runs a restart abandoned


def _add_person_keys(conn: Connection) -> None:
    """Email keys on customers and guest charges, filled from the emails already there, and the
    table of rank cut-points. Their indexes are built by `create_missing` after the migrations."""
    for name, column in (("customers", "email_key"), ("charges", "guest_email_key")):
        if column not in {c["name"] for c in inspect(conn).get_columns(name)}:
            conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {column} TEXT"))
    customers, charges = table("customers"), table("charges")
    _fill_keys(
        conn,
        customers,
        "email_key",
        select(customers.c.id, customers.c.email).where(customers.c.email.is_not(None)),
    )
    _fill_keys(
        conn,
        charges,
        "guest_email_key",
        select(charges.c.id, charges.c.billing_email).where(
            charges.c.customer.is_(None), charges.c.billing_email.is_not(None)
        ),
    )
    for rank_table in RANK_TABLES:
        rank_table.create(conn, checkfirst=True)


def _fill_keys(conn: Connection, target: Table, column: str, query: Select[Any]) -> None:
    keyed = [
        {"row_id": row_id, "key": key}
        for row_id, email in conn.execute(query)
        if (key := email_key(email)) is not None
    ]
    statement = (
        update(target).where(target.c.id == bindparam("row_id")).values({column: bindparam("key")})
    )
    for start in range(0, len(keyed), _FILL_ROWS):
        conn.execute(statement, keyed[start : start + _FILL_ROWS])


MIGRATIONS[6] = _add_person_keys  # email keys: a sync reads only the touched persons' rows


def _add_webhook_tables(conn: Connection) -> None:
    for webhook_table in WEBHOOK_TABLES:
        webhook_table.create(conn, checkfirst=True)


MIGRATIONS[7] = _add_webhook_tables  # the webhook receiver's inbox and counters

_FILL_ROWS = 10_000

# Any constant will do: it names the lock PostgreSQL sessions take while migrating.
_PG_LOCK_KEY = 0x5C10_1ED9


def latest_version() -> int:
    """The schema version this code writes."""
    return max([BASE_VERSION, *MIGRATIONS])


def check_version(current: int, engine: Engine) -> None:
    """Refuse (LedgerVersionError) a ledger a newer stripe-cio wrote: this one would misread it."""
    target = latest_version()
    if current > target:
        raise LedgerVersionError(
            f"the ledger {ledger_name(str(engine.url))} is at schema version {current}, newer "
            f"than this stripe-cio understands ({target}); upgrade stripe-cio (pip install -U "
            "stripe-cio) on every machine that runs it"
        )


def ensure_schema(engine: Engine) -> int:
    """Create or migrate the schema; return the version the ledger is now at."""
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Two processes opening a new ledger at once would race on CREATE TABLE.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        version_table = table("schema_version")
        target = latest_version()
        if not inspect(conn).has_table(version_table.name):
            LEDGER_METADATA.create_all(conn)
            _stamp(conn, target)
            return target
        current = conn.execute(select(func.max(version_table.c.version))).scalar() or 0
        check_version(current, engine)
        for number in sorted(n for n in MIGRATIONS if n > current):
            MIGRATIONS[number](conn)
            _stamp(conn, number)
        # The table of a resource added to the registry since the ledger was created: made
        # here, so that a new resource needs no migration (nor a new schema version).
        _create_missing_resource_tables(conn)
        # Indexes a first backfill set aside and did not get to build again (see indexes).
        create_missing(conn)
        return max(current, target)


def _create_missing_resource_tables(conn: Connection) -> None:
    """Create every resource table (with its indexes) the ledger lacks; one catalog query."""
    present = set(inspect(conn).get_table_names())
    for resource_table in RESOURCE_TABLES.values():
        if resource_table.name not in present:
            resource_table.create(conn)


def _stamp(conn: Connection, version: int) -> None:
    conn.execute(
        insert(table("schema_version")).values(version=version, applied_at=int(time.time()))
    )
