"""Applies a page of Stripe events to the ledger: claim the new ones, upsert their objects."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from .consistency import reject_over_refunds
from .resources import OBJECT_TYPES
from .tables import table
from .write import Batch, dump_raw, insert_field_rejects, insert_rejects, write_batch

EVENTS_CURSOR = "events"
# Event types that announce a deletion; their data.object is the object as it was when deleted.
# Source: https://docs.stripe.com/api/events/types (customer.deleted, product.deleted, ...).
_DELETIONS = frozenset({"customer.deleted", "product.deleted", "price.deleted"})


def table_insert(conn: Connection, name: str) -> Any:
    """An INSERT into ledger table `name` with the dialect's ON CONFLICT clauses."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table(name))


def apply_event_page(
    conn: Connection, events: Sequence[Mapping[str, Any]]
) -> tuple[int, int, dict[str, int]]:
    """Apply `events` inside the caller's transaction; return (applied, duplicates, rejected)."""
    rejected: dict[str, int] = {}
    bad: list[tuple[str | None, str, str]] = []
    candidates: dict[str, tuple[int, int, Mapping[str, Any], str]] = {}
    duplicates = 0
    for position, event in enumerate(events):
        reason = _event_problem(event)
        raw = dump_raw(event)
        if reason is None and raw is None:
            reason = "unparsable"
        if reason is not None:
            event_id = event.get("id") if isinstance(event, Mapping) else None
            bad.append((_text(event_id), reason, raw or repr(event)))
            continue
        assert raw is not None
        if event["id"] in candidates:
            duplicates += 1
            continue
        candidates[event["id"]] = (event["created"], position, event, raw)
    bad, known = _not_rejected_before(conn, bad)
    duplicates += known
    _merge(rejected, insert_rejects(conn, "events", bad))

    ordered = sorted(candidates.values(), key=lambda c: (c[0], c[1]))
    new_ids = _claim(conn, [(event, raw) for _, _, event, raw in ordered])
    duplicates += len(ordered) - len(new_ids)

    batches: dict[str, Batch] = {}
    not_objects: list[tuple[str | None, str, str]] = []
    for _, _, event, raw in ordered:
        if event["id"] not in new_ids:
            continue
        obj = event["data"]["object"]
        if not isinstance(obj, Mapping):
            not_objects.append((None, "not_an_object", raw))
            continue
        resource = OBJECT_TYPES.get(obj.get("object"))  # type: ignore[arg-type]
        if resource is None:
            continue  # not a ledger resource: recorded as processed only
        version = event.get("api_version")
        batches.setdefault(resource, Batch(resource)).add(
            obj,
            observed_at=event["created"],
            api_version=version if isinstance(version, str) else None,
            deleted=event["type"] in _DELETIONS,
        )
    _merge(rejected, insert_rejects(conn, "events", not_objects))
    for resource, batch in batches.items():
        write_batch(conn, batch)
        _merge(rejected, insert_rejects(conn, resource, batch.rejects))
        _merge(rejected, insert_field_rejects(conn, resource, batch.problems))
        # Refunds larger than their charge, whichever of the two came first.
        _merge(rejected, reject_over_refunds(conn, resource, list(batch.rows)))
    return len(new_ids), duplicates, rejected


def _not_rejected_before(
    conn: Connection, bad: list[tuple[str | None, str, str]]
) -> tuple[list[tuple[str | None, str, str]], int]:
    """The rejected events not already in `rejects`, and how many were: a sync lists an
    event again within its overlap, and one rejected then is a duplicate now, not a second
    reject (which would count it against every run's reject rate while it stays listed)."""
    ids = [event_id for event_id, _, _ in bad if event_id is not None]
    if not ids:
        return bad, 0
    rejects = table("rejects")
    query = select(rejects.c.object_id).where(
        rejects.c.resource == "events", rejects.c.object_id.in_(ids)
    )
    known = set(conn.execute(query).scalars())
    fresh = [entry for entry in bad if entry[0] is None or entry[0] not in known]
    return fresh, len(bad) - len(fresh)


def _event_problem(event: Any) -> str | None:
    if not isinstance(event, Mapping):
        return "not_an_object"
    if event.get("object", "event") != "event":
        return "wrong_object_type"
    for key, kind in (("id", str), ("type", str), ("created", int)):
        value = event.get(key)
        if value is None:
            return f"missing_field:{key}"
        if type(value) is not kind:
            return f"invalid_field:{key}"
        if type(value) is str and "\x00" in value:
            return f"nul_character:{key}"
    data = event.get("data")
    if not isinstance(data, Mapping) or "object" not in data:
        return "missing_field:data.object"
    return None


def _claim(conn: Connection, events: list[tuple[Mapping[str, Any], str]]) -> set[str]:
    """Insert the events into processed_events; return the ids this call inserted.

    ON CONFLICT DO NOTHING makes a concurrent writer's claim win cleanly: on PostgreSQL the
    second insert waits for the first transaction and then skips the row; on SQLite the write
    lock serialises the two calls. Only the ids returned here get their objects applied.
    """
    if not events:
        return set()
    now = int(time.time())
    rows = [_event_row(event, raw, now) for event, raw in events]
    ins = table_insert(conn, "processed_events")
    stmt = ins.on_conflict_do_nothing(index_elements=["id"]).returning(
        table("processed_events").c.id
    )
    claimed: set[str] = set()
    for start in range(0, len(rows), 1_000):
        claimed.update(conn.execute(stmt, rows[start : start + 1_000]).scalars())
    return claimed


def _event_row(event: Mapping[str, Any], raw: str, now: int) -> dict[str, Any]:
    obj = event["data"]["object"]
    obj = obj if isinstance(obj, Mapping) else {}
    kind = obj.get("object")
    customer = obj.get("id") if kind == "customer" else obj.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    livemode = event.get("livemode")
    return {
        "id": event["id"],
        "type": event["type"],
        "created": event["created"],
        "api_version": _text(event.get("api_version")),
        "livemode": livemode if type(livemode) is bool else None,
        "object_type": _text(kind),
        "object_id": _text(obj.get("id")),
        "customer": _text(customer),
        "raw": raw,
        "processed_at": now,
    }


def _text(value: Any) -> str | None:
    """`value` if it is text a column can hold: PostgreSQL text refuses NUL characters (writing
    one failed the whole transaction), so such a value is left out like a non-string."""
    return value if isinstance(value, str) and "\x00" not in value else None


def read_cursor(conn: Connection, name: str) -> int | None:
    cursors = table("sync_cursors")
    value = conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar()
    return int(value) if value is not None else None


def advance_cursor(conn: Connection, name: str, value: int) -> None:
    """Set the cursor to `value` unless it is already there or further on."""
    _move_cursor(conn, name, value, forward=True)


def lower_cursor(conn: Connection, name: str, value: int) -> None:
    """Set the cursor `name` to `value` unless it is already there or before it."""
    _move_cursor(conn, name, value, forward=False)


def _move_cursor(conn: Connection, name: str, value: int, *, forward: bool) -> None:
    # One statement on both backends: a cursor only ever moves its own way, even between two
    # writers.
    cursors = table("sync_cursors")
    ins = table_insert(conn, "sync_cursors")
    moves = (
        ins.excluded.value > cursors.c.value if forward else ins.excluded.value < cursors.c.value
    )
    conn.execute(
        ins.values(name=name, value=value).on_conflict_do_update(
            index_elements=["name"], set_={"value": ins.excluded.value}, where=moves
        )
    )


def _merge(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for reason, n in counts.items():
        into[reason] = into.get(reason, 0) + n
