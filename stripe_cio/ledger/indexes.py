"""Secondary indexes set aside while a first backfill fills an empty table, and built after.

Stripe ids, customers and payment intents are random strings, so each row a bulk write inserts
lands on a different page of each index, and every transaction rewrites most of them. Filling
an empty table without its secondary indexes and building them afterwards (one sort each) costs
less CPU per row than keeping them up to date row by row (figures in docs/ledger.md, Bulk
writes). The primary key stays: the upsert needs it.

`drop_while_empty` drops a table's secondary indexes only when the table has no row, i.e. a
first backfill, where nothing reads the table yet. `create_missing` builds every ledger index
that is missing; the backfill calls it at its end, and `ensure_schema` on every open, so a
backfill that crashed or was cancelled before its end leaves no table without its indexes
for longer than until the ledger is next opened.
"""

from __future__ import annotations

from sqlalchemy import Connection, Index, select, text

from .resources import RESOURCE_TABLES
from .tables import table


def drop_while_empty(conn: Connection, resource: str) -> bool:
    """Drop `resource`'s secondary indexes if its table is empty; whether they were dropped."""
    target = table(resource)
    if conn.execute(select(target.c.id).limit(1)).first() is not None:
        return False
    present = _present(conn)
    for index in sorted(target.indexes, key=_name):
        if index.name in present:
            index.drop(conn)
    return True


def create_missing(conn: Connection) -> list[str]:
    """Create every secondary index of the resource tables that does not exist; their names."""
    created: list[str] = []
    present = _present(conn)
    for resource in RESOURCE_TABLES:
        for index in sorted(table(resource).indexes, key=_name):
            if index.name not in present:
                index.create(conn)
                created.append(_name(index))
    return created


def _present(conn: Connection) -> set[str]:
    """The names of the indexes in the ledger's database (one catalog query: cheap on open)."""
    if conn.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    return {str(name) for name in conn.execute(text(query)).scalars()}


def _name(index: Index) -> str:
    return str(index.name)
