"""The bulk write path: many objects of one resource upserted with one prepared statement.

A backfill writes hundreds of thousands of objects, so this path costs per object what little it
can: each object is serialised once, normalised by its resource's fast path where it has one
(`normalise/fast.py`; the careful normaliser otherwise, and for every object the fast path
declines), and handed to the driver as a plain tuple. On SQLite the rows go to the driver's
executemany; on PostgreSQL they are COPied into a temporary table and upserted from there in
one statement (more rows/s than psycopg's pipelined executemany, for less client CPU: see
docs/ledger.md, Bulk writes). Either way the upsert is the one every ledger write uses
(`write.upsert`): only
its VALUES list (or SELECT) is written here, to fix the column order and, on SQLite, to bind
NULLs and booleans cheaply (see `_sqlite_binding`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Boolean, Column, Connection, Dialect, Integer, String, TypeDecorator

from .consistency import reject_over_refunds
from .normalise import FastPath, Reject, Row, is_before_basil
from .resources import FAST_PATHS, NORMALISERS, RESOURCE_BY_NAME
from .tables import table
from .write import (
    CHUNK,
    RejectRecord,
    WriteCounts,
    insert_field_rejects,
    insert_rejects,
    reject_record,
    upsert,
    write_in_batches,
)

_BOOKKEEPING = ("observed_at", "raw")  # bound last, after the normalised columns


@dataclass(frozen=True)
class BulkUpsert:
    """How the rows of one resource are written: the statements and the row-to-tuple steps."""

    sql: str  # SQLite: the upsert of one row; PostgreSQL: the upsert of the staged rows
    staging: tuple[str, str, str] | None  # PostgreSQL: create, copy into and empty the stage
    columns: tuple[str, ...]  # the normalised columns in bind order; observed_at and raw follow
    values_of: Callable[[Row], tuple[Any, ...]]  # a normalised row dict to its values
    fast: FastPath | None  # the resource's fast path: values straight from the object
    # SQLite only, per column: what to bind instead of a value found here (see _sqlite_binding)
    substitutes: tuple[dict[Any, Any], ...] | None

    def bind(self, values: Sequence[Any], observed_at: int, raw: str) -> tuple[Any, ...]:
        """The parameters of one row."""
        if self.substitutes is None:
            return (*values, observed_at, raw)
        return (*map(dict.get, self.substitutes, values, values), observed_at, raw)


def write_objects(
    conn: Connection,
    resource: str,
    objects: Sequence[Any],
    *,
    observed_at: int,
    api_version: str | None,
) -> WriteCounts:
    """Upsert `objects` of `resource` observed at `observed_at`, in the caller's transaction.

    Duplicates of an id are reduced to the last one; rejects go to the rejects table.
    """
    # Resources whose objects may be deletion stubs or carry child rows: written in batches.
    if RESOURCE_BY_NAME[resource].batched:
        return write_in_batches(
            conn, resource, objects, observed_at=observed_at, api_version=api_version
        )
    plan = bulk_upsert(conn.dialect, resource)
    fast, values_of, bind = plan.fast, plan.values_of, plan.bind
    careful = NORMALISERS[resource]
    before_basil = is_before_basil(api_version)
    rows: dict[str, tuple[Any, ...]] = {}
    rejects: list[RejectRecord] = []
    problems: list[RejectRecord] = []  # field rejects of objects stored all the same
    for obj in objects:
        try:
            raw = orjson.dumps(obj).decode()
        except (TypeError, orjson.JSONEncodeError):
            rejects.append(reject_record(obj, "unparsable", None))
            continue
        values = fast(obj, before_basil) if fast is not None else None
        if values is None:
            result = careful(obj, api_version)
            if isinstance(result, Reject):
                rejects.append(reject_record(obj, result.reason, raw))
                continue
            values = values_of(result.row)
            problems.extend((values[0], problem, raw) for problem in result.problems)
        rows[values[0]] = bind(values, observed_at, raw)  # by id: a later duplicate wins
    written = upsert_rows(conn, plan, [rows[key] for key in sorted(rows)])
    unchanged = len(objects) - len(rejects) - written
    rejected = insert_rejects(conn, resource, rejects)
    for reason, n in insert_field_rejects(conn, resource, problems).items():
        rejected[reason] = rejected.get(reason, 0) + n
    # Refunds larger than their charge, now that both may be here (in either order).
    swept = reject_over_refunds(conn, resource, list(rows))
    for reason, n in swept.items():
        rejected[reason] = rejected.get(reason, 0) + n
    if resource == "refunds":
        written = max(0, written - sum(swept.values()))  # written, then taken out again
    return WriteCounts(written, unchanged, rejected)


@cache
def bulk_upsert(dialect: Dialect, resource: str) -> BulkUpsert:
    """The bulk statement of `resource` on `dialect`, with its binding steps."""
    target = table(resource)
    fast_path = FAST_PATHS.get(resource)
    own = tuple(c.name for c in target.c if c.name not in _BOOKKEEPING)
    columns, fast = fast_path if fast_path is not None else (own, None)
    if sorted(columns) != sorted(own) or columns[0] != "id":
        raise RuntimeError(f"the fast path of {resource} is out of step with its table")
    bound = [target.c[name] for name in (*columns, *_BOOKKEEPING)]
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.format_column(column) for column in bound)
    # Only the ledger's own table and column names, quoted by the dialect, go into the text.
    insert = f"INSERT INTO {preparer.format_table(target)} ({names})"
    if dialect.name == "sqlite":
        binding = [_sqlite_binding(column) for column in bound[: len(columns)]]
        marks = [mark for mark, _ in binding] + ["?"] * len(_BOOKKEEPING)
        sql = f"{insert} VALUES ({', '.join(marks)}){_on_conflict(dialect, resource)}"
        substitutes = tuple(sub for _, sub in binding)
        return BulkUpsert(sql, None, columns, itemgetter(*columns), fast, substitutes)
    # A temporary table per session, emptied after each use (and by the rollback of a failure).
    stage = preparer.quote(f"bulk_{target.name}")
    staging = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {preparer.format_table(target)})",
        f"COPY {stage} ({names}) FROM STDIN",
        f"TRUNCATE {stage}",
    )
    by_id = preparer.format_column(target.c.id)
    sql = f"{insert} SELECT {names} FROM {stage} ORDER BY {by_id}{_on_conflict(dialect, resource)}"  # noqa: S608
    return BulkUpsert(sql, staging, columns, itemgetter(*columns), fast, None)


def upsert_rows(conn: Connection, plan: BulkUpsert, rows: list[tuple[Any, ...]]) -> int:
    """Upsert bound rows with distinct ids, sorted by id; return how many were written."""
    if plan.staging is None:
        written = 0
        for start in range(0, len(rows), CHUNK):
            written += conn.exec_driver_sql(plan.sql, rows[start : start + CHUNK]).rowcount
        return written
    return _copy_and_upsert(conn, plan.sql, plan.staging, rows) if rows else 0


def _copy_and_upsert(
    conn: Connection, sql: str, staging: tuple[str, str, str], rows: list[tuple[Any, ...]]
) -> int:
    create, copy, empty = staging
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(create)
        with cursor.copy(copy) as stream:
            for row in rows:
                stream.write_row(row)
        cursor.execute(sql)
        written = int(cursor.rowcount)
        cursor.execute(empty)
    finally:
        cursor.close()
    return written


def _on_conflict(dialect: Dialect, resource: str) -> str:
    """The ON CONFLICT clause of the ledger's upsert, as `write.upsert` defines it."""
    target = table(resource)
    compiled = upsert(dialect.name, target, returning=False).compile(dialect=dialect)
    # Only the VALUES list takes parameters, so the clause can follow any VALUES list.
    if len(compiled.binds) != len(target.c):
        raise RuntimeError(f"the upsert of {resource} takes parameters beyond its VALUES")
    text = str(compiled)
    return text[text.index(" ON CONFLICT ") :]


def _sqlite_binding(column: Column[Any]) -> tuple[str, dict[Any, Any]]:
    """The VALUES entry of `column` and what to bind in place of None, True and False.

    CPython's sqlite3 binds an exact int, float or str directly, but sends anything else, None
    and bools included, through its adaptation protocol (a registry miss, then attribute lookups
    that fail), a cost per parameter that adds up over a charge row's many None and bool
    values (docs/ledger.md, Bulk writes). So booleans are bound as 1 and 0, which is how SQLite
    stores them anyway, and NULL as a value of a type the column never holds, which NULLIF
    turns back into NULL: 0 for text columns, '' for the others. SQLite never finds a text
    value equal to an integer (no affinity applies to a parameter), so no real value is lost.
    Source: https://github.com/python/cpython/blob/3.11/Modules/_sqlite/cursor.c (need_adapt)
    and https://www.sqlite.org/datatype3.html (4.2, comparison without affinity).
    """
    kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    substitute: dict[Any, Any] = {True: 1, False: 0} if isinstance(kind, Boolean) else {}
    if not column.nullable:
        return "?", substitute
    if isinstance(kind, String):
        null: int | str = 0
    elif isinstance(kind, Integer | Boolean):
        null = ""
    else:  # a new column type needs its own stand-in for NULL
        raise TypeError(f"no NULL stand-in for {column} of type {column.type}")
    return f"NULLIF(?, {null!r})", substitute | {None: null}
