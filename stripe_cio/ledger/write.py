"""Upserts guarded by observed_at, in batches with deletion stubs and subscription items, and
the rejects they leave behind. The plain bulk path (`bulk.py`) shares the upsert and rejects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Dialect, Insert, Table, and_, case, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from .normalise import Normalised, Reject, Row, deleted_stub
from .resources import normalise
from .tables import table

CHUNK = 2_000  # rows per statement: bounded memory and parameter counts on both dialects
_ID_CHUNK = 500  # ids per IN (...) list

RejectRecord = tuple[str | None, str, str]  # object id, reason, raw JSON (or repr)


@dataclass(frozen=True)
class WriteCounts:
    """What one bulk write did: rows written, objects unchanged, rejects by reason."""

    written: int
    unchanged: int
    rejected: dict[str, int]


def write_in_batches(
    conn: Connection,
    resource: str,
    objects: Sequence[Any],
    *,
    observed_at: int,
    api_version: str | None,
) -> WriteCounts:
    """Upsert objects of any resource (stubs and child rows too), in the caller's transaction."""
    written = unchanged = 0
    rejected: dict[str, int] = {}
    for start in range(0, len(objects), CHUNK):
        batch = Batch(resource)
        for obj in objects[start : start + CHUNK]:
            batch.add(obj, observed_at=observed_at, api_version=api_version)
        done, same = write_batch(conn, batch)
        written += done
        unchanged += same
        for reason, n in insert_rejects(conn, resource, batch.rejects).items():
            rejected[reason] = rejected.get(reason, 0) + n
        for reason, n in insert_field_rejects(conn, resource, batch.problems).items():
            rejected[reason] = rejected.get(reason, 0) + n
    return WriteCounts(written, unchanged, rejected)


def reject_record(obj: Any, reason: str, raw: str | None) -> RejectRecord:
    """What the rejects table keeps of an object: its id if it has one, the reason, its JSON."""
    object_id = obj.get("id") if isinstance(obj, Mapping) else None
    # PostgreSQL text cannot hold NUL: such an id is left out (the raw JSON escapes it).
    usable = isinstance(object_id, str) and "\x00" not in object_id
    return (object_id if usable else None, reason, raw or _repr(obj))


@dataclass
class Batch:
    """Rows ready to write for one resource, deduplicated by id (the latest observation wins)."""

    resource: str
    rows: dict[str, Row] = field(default_factory=dict)
    stubs: dict[str, Row] = field(default_factory=dict)
    items: dict[str, tuple[Row, ...]] = field(default_factory=dict)
    rejects: list[RejectRecord] = field(default_factory=list)
    problems: list[RejectRecord] = field(default_factory=list)  # field rejects of stored rows
    seen: int = 0

    def add(
        self, obj: Any, *, observed_at: int, api_version: str | None, deleted: bool = False
    ) -> Reject | None:
        """Normalise `obj` into this batch; return the Reject if it was rejected."""
        self.seen += 1
        raw = dump_raw(obj)
        result = normalise(self.resource, obj, api_version) if raw is not None else None
        if not isinstance(result, Normalised):
            reject = result or Reject("unparsable")
            self.rejects.append(reject_record(obj, reject.reason, raw))
            return reject
        row = result.row
        row["observed_at"] = observed_at
        row["raw"] = raw
        key = row["id"]
        self.problems.extend((key, problem, str(raw)) for problem in result.problems)
        if isinstance(obj, Mapping) and deleted_stub(obj):
            _keep_latest(self.stubs, key, row)
            return None
        if deleted:
            # A deletion event sets the flag even when a newer state is already stored.
            row["deleted"] = True
            _keep_latest(self.stubs, key, row)
        if _keep_latest(self.rows, key, row):
            self.items[key] = result.items
        return None


def _keep_latest(rows: dict[str, Row], key: str, row: Row) -> bool:
    # Rows arrive oldest first, so a later one with the same or a newer observed_at wins.
    old = rows.get(key)
    if old is not None and old["observed_at"] > row["observed_at"]:
        return False
    rows[key] = row
    return True


def dump_raw(obj: Any) -> str | None:
    """The object's JSON text, or None if it cannot be serialised (then it is rejected)."""
    try:
        return orjson.dumps(obj).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None


def _repr(obj: Any) -> str:
    return obj if isinstance(obj, str) else repr(obj)[:100_000]


def write_batch(conn: Connection, batch: Batch) -> tuple[int, int]:
    """Upsert the batch's rows, stubs and items; return (written, unchanged)."""
    target = table(batch.resource)
    rows = [batch.rows[key] for key in sorted(batch.rows)]  # one lock order for PostgreSQL
    written = 0
    if batch.resource == "subscriptions":
        # Items are replaced only for the subscriptions whose row this call wrote.
        ids: list[str] = []
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            ids.extend(conn.execute(upsert(conn.dialect.name, target), chunk).scalars())
        _replace_items(conn, ids, batch.items)
        written = len(ids)
    elif rows:
        sql, from_row = _compiled_upsert(conn.dialect, target)
        for start in range(0, len(rows), CHUNK):
            params = list(map(from_row, rows[start : start + CHUNK]))
            written += conn.exec_driver_sql(sql, params).rowcount
    stubs = [batch.stubs[key] for key in sorted(batch.stubs)]
    stub_ids: set[str] = set()
    for start in range(0, len(stubs), CHUNK):
        chunk = [
            {"id": s["id"], "observed_at": s["observed_at"], "raw": s["raw"]}
            for s in stubs[start : start + CHUNK]
        ]
        stub_ids.update(conn.execute(_stub_upsert(conn.dialect.name, target), chunk).scalars())
    written += len(stub_ids - batch.rows.keys())
    return written, batch.seen - len(batch.rejects) - written


@cache
def _compiled_upsert(
    dialect: Dialect, target: Table
) -> tuple[str, Callable[[Row], tuple[Any, ...]]]:
    """The upsert as driver SQL with positional parameters, and a row dict's tuple in their order.

    Straight to the driver's executemany with plain tuples: SQLAlchemy's per-row parameter
    processing would cost more than SQLite's own work, and all ledger types bind natively. (On
    PostgreSQL, SQLAlchemy's multi-row VALUES pages were slower than psycopg's pipelined
    executemany: docs/ledger.md.) psycopg takes `%s` as well as `%(name)s`: compile for the
    former.
    """
    positional = dialect
    if not dialect.positional:
        positional = cast(Callable[..., Dialect], type(dialect))(paramstyle="format")
    compiled = upsert(dialect.name, target, returning=False).compile(dialect=positional)
    assert compiled.positiontup is not None
    return str(compiled), itemgetter(*compiled.positiontup)


def _insert(dialect: str, target: Table) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(target)


@cache
def upsert(dialect: str, target: Table, *, returning: bool = True) -> Insert:
    """INSERT .. ON CONFLICT (id) DO UPDATE, only for an observation newer than the stored one.

    An observation as old as the stored one also wins when its JSON differs (two states within
    one second, applied in order); an identical one is a no-op, so rewriting changes nothing.
    """
    ins = _insert(dialect, target)
    excluded = ins.excluded
    updates: dict[str, Any] = {c.name: excluded[c.name] for c in target.c if c.name != "id"}
    if "deleted" in target.c:
        # Deletion is permanent in Stripe (ids are never reused): once seen, it sticks.
        updates["deleted"] = or_(excluded.deleted, target.c.deleted)
    newer = or_(
        excluded.observed_at > target.c.observed_at,
        and_(excluded.observed_at == target.c.observed_at, excluded.raw != target.c.raw),
    )
    stmt = ins.on_conflict_do_update(index_elements=[target.c.id], set_=updates, where=newer)
    return stmt.returning(target.c.id) if returning else stmt  # type: ignore[no-any-return]


@cache
def _stub_upsert(dialect: str, target: Table) -> Insert:
    """Mark a row deleted from a stub, keeping every other field (and the last full JSON)."""
    ins = _insert(dialect, target)
    excluded = ins.excluded
    stmt = ins.values(deleted=True).on_conflict_do_update(
        index_elements=[target.c.id],
        set_={
            "deleted": True,
            "observed_at": case(
                (excluded.observed_at > target.c.observed_at, excluded.observed_at),
                else_=target.c.observed_at,
            ),
        },
        where=or_(target.c.deleted.is_(False), excluded.observed_at > target.c.observed_at),
    )
    return stmt.returning(target.c.id)  # type: ignore[no-any-return]


def _replace_items(
    conn: Connection, written: Sequence[str], items: Mapping[str, tuple[Row, ...]]
) -> None:
    """Replace the items of every subscription whose row was just written."""
    items_table = table("subscription_items")
    for start in range(0, len(written), _ID_CHUNK):
        ids = written[start : start + _ID_CHUNK]
        conn.execute(delete(items_table).where(items_table.c.subscription.in_(ids)))
    rows = [item for sub in written for item in items.get(sub, ())]
    if rows:
        ins = _insert(conn.dialect.name, items_table)
        # Item ids are unique across subscriptions; the upsert only guards against bad input.
        stmt = ins.on_conflict_do_update(
            index_elements=[items_table.c.id],
            set_={c.name: ins.excluded[c.name] for c in items_table.c if c.name != "id"},
        )
        for start in range(0, len(rows), CHUNK):
            conn.execute(stmt, rows[start : start + CHUNK])


def insert_field_rejects(
    conn: Connection, resource: str, problems: Iterable[RejectRecord]
) -> dict[str, int]:
    """Record the field rejects of stored objects not already recorded; return their count by
    reason. A stored object is read again and again (sync overlaps, events carrying it): its
    bad field is one reject, counted by the run that first met it."""
    wanted = {(oid, reason): raw for oid, reason, raw in problems}
    if not wanted:
        return {}
    rejects = table("rejects")
    ids = sorted({oid for oid, _ in wanted if oid is not None})
    known: set[tuple[str | None, str]] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        query = select(rejects.c.object_id, rejects.c.reason).where(
            rejects.c.resource == resource, rejects.c.object_id.in_(ids[start : start + _ID_CHUNK])
        )
        known.update((oid, reason) for oid, reason in conn.execute(query))
    fresh = [(oid, why, raw) for (oid, why), raw in wanted.items() if (oid, why) not in known]
    return insert_rejects(conn, resource, fresh)


def insert_rejects(
    conn: Connection, resource: str, rejects: Iterable[tuple[str | None, str, str]]
) -> dict[str, int]:
    """Record rejects; return their count by reason."""
    now = int(time.time())
    rejects_list = list(rejects)
    rows = [
        {"resource": resource, "object_id": oid, "reason": reason, "raw": raw, "created_at": now}
        for oid, reason, raw in rejects_list
    ]
    counts: dict[str, int] = {}
    for _, reason, _ in rejects_list:
        counts[reason] = counts.get(reason, 0) + 1
    if rows:
        conn.execute(table("rejects").insert(), rows)
    return counts
