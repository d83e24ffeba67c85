"""The delivery tables' write statements, compiled once per dialect and run by the driver."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam, literal_column, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from ..ledger import DELIVERY_TABLES

_SNAPSHOTS, _DELIVERED, _DEAD = DELIVERY_TABLES
SNAPSHOT_COLUMNS = ("person_key", "attributes", "accepted_at")
DELIVERED_COLUMNS = ("id", "stripe_event_id", "name", "person_key", "accepted_at")
LETTER_COLUMNS = tuple(c.name for c in _DEAD.c if c.name != "id")
_ROW_CHUNK = 2_000  # rows per executemany

RESOLVE = (
    update(_DEAD)
    .where(
        _DEAD.c.kind == bindparam("k"),
        _DEAD.c.item_key == bindparam("key"),
        _DEAD.c.resolved_at.is_(None),
    )
    .values(resolved_at=bindparam("now"), resolution=bindparam("how"))
)


def _insert(dialect: Dialect, target: Table, columns: Iterable[str]) -> Any:
    """INSERT of the named columns only, each bound to the parameter of the same name."""
    module = postgresql if dialect.name == "postgresql" else sqlite
    return module.insert(target).values({name: bindparam(name) for name in columns})


@cache
def snapshot_upsert(dialect: Dialect) -> Insert:
    ins = _insert(dialect, _SNAPSHOTS, SNAPSHOT_COLUMNS)
    return ins.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[_SNAPSHOTS.c.person_key],
        set_={"attributes": ins.excluded.attributes, "accepted_at": ins.excluded.accepted_at},
    )


@cache
def delivered_insert(dialect: Dialect) -> Insert:
    return _insert(dialect, _DELIVERED, DELIVERED_COLUMNS).on_conflict_do_nothing(  # type: ignore[no-any-return]
        index_elements=[_DELIVERED.c.id]
    )


@cache
def dead_letter_upsert(dialect: Dialect) -> Insert:
    """One row per item ever: a repeated failure updates it, counts the attempt, reopens it."""
    ins = _insert(dialect, _DEAD, LETTER_COLUMNS)
    excluded = ins.excluded
    kept = {"id", "kind", "item_key", "attempts", "first_failed_at"}
    updates: dict[str, Any] = {c.name: excluded[c.name] for c in _DEAD.c if c.name not in kept}
    updates["attempts"] = _DEAD.c.attempts + literal_column("1")
    return ins.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[_DEAD.c.kind, _DEAD.c.item_key], set_=updates
    )


@cache
def _compiled(
    dialect: Dialect, statement: Insert, columns: tuple[str, ...]
) -> tuple[str, Callable[[tuple[Any, ...]], Any] | None]:
    """Driver SQL of a statement, and what turns a row in `columns` order into its parameters."""
    compiled = statement.compile(dialect=dialect)
    order = compiled.positiontup
    if not order:  # named parameters (psycopg): one dict per row
        return str(compiled), lambda row: dict(zip(columns, row, strict=True))
    if tuple(order) == columns:
        return str(compiled), None  # the rows as they are
    return str(compiled), itemgetter(*(columns.index(name) for name in order))


def executemany(
    conn: Connection, statement: Insert, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Run `statement` for each row (values in `columns` order), straight through the driver.

    SQLAlchemy's per-row parameter processing costs more than SQLite's own work for the
    100,000 snapshots of a first run; rows built as tuples in the statement's own order are
    handed over untouched.
    """
    if not rows:
        return
    sql, convert = _compiled(conn.dialect, statement, columns)
    for start in range(0, len(rows), _ROW_CHUNK):
        chunk = rows[start : start + _ROW_CHUNK]
        conn.exec_driver_sql(sql, list(map(convert, chunk)) if convert else chunk)
