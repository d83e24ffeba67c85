"""The webhook receiver's ledger I/O: a verified event recorded before it is acknowledged, the
inbox of events to read again through the API, and the receiver's counters.

A verified event of our API version is applied exactly as the events poll applies a listed one
(`apply_event_page`: claimed in `processed_events` by id, its object upserted), in one
transaction, so that whichever of the webhook and the poll comes second finds it processed. The
poll's cursor is not moved: it still lists everything from where it was.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from ..ledger import table, write_transaction
from ..ledger.events import apply_event_page, table_insert

# The counters, each one line in `stripe-cio status` (rejected:<reason> are added per reason).
COUNTERS: dict[str, str] = {
    "received": "deliveries received",
    "verified": "deliveries whose signature verified",
    "applied": "new events written to the ledger",
    "duplicates": "events the ledger already had (Stripe's retries, or the poll came first)",
    "deferred": "events of another API version, read again through the API",
    "delivered": "events whose persons' attributes and lifecycle events were sent",
    "delivery_failures": "delivery rounds that failed (the next poll sends what they did not)",
}


def _add(conn: Connection, counts: Mapping[str, int], now: int) -> None:
    counters = table("webhook_counts")
    ins = table_insert(conn, "webhook_counts")
    for name, value in counts.items():
        if not value:
            continue
        conn.execute(
            ins.values(name=name, value=value, updated_at=now).on_conflict_do_update(
                index_elements=["name"],
                set_={"value": counters.c.value + ins.excluded.value, "updated_at": now},
            )
        )


def add_counts(engine: Engine, counts: Mapping[str, int]) -> None:
    """Add to the receiver's counters."""
    if any(counts.values()):
        with write_transaction(engine) as conn:
            _add(conn, counts, int(time.time()))


def read_counts(engine: Engine) -> dict[str, int]:
    """The receiver's counters (empty before it has received anything)."""
    counters = table("webhook_counts")
    with engine.connect() as conn:
        return {
            name: int(value)
            for name, value in conn.execute(select(counters.c.name, counters.c.value))
        }


def _mark_pending(conn: Connection, event_ids: Iterable[str], now: float) -> None:
    """Queue events for the delivery rounds (see WebhookPendingRow)."""
    rows = [{"id": event_id, "received_at": now} for event_id in event_ids]
    if rows:
        ins = table_insert(conn, "webhook_pending")
        conn.execute(ins.on_conflict_do_nothing(index_elements=["id"]), rows)


def record_events(engine: Engine, events: Sequence[Mapping[str, Any]]) -> list[bool]:
    """Write verified events of our API version to the ledger as the poll would, in one
    transaction, counting them and queueing the new ones for delivery; for each, whether it was
    new to the ledger."""
    processed = table("processed_events")
    ids = [event["id"] for event in events]
    distinct = sorted(set(ids))
    with write_transaction(engine) as conn:
        known = set(
            conn.execute(select(processed.c.id).where(processed.c.id.in_(distinct))).scalars()
        )
        applied, duplicates, rejected = apply_event_page(conn, events)
        now = time.time()
        _add(
            conn,
            {"verified": len(events), "applied": applied, "duplicates": duplicates}
            | {f"rejected:event {reason}": n for reason, n in rejected.items()},
            int(now),
        )
        stored = set(
            conn.execute(select(processed.c.id).where(processed.c.id.in_(distinct))).scalars()
        )
        _mark_pending(conn, sorted(stored - known), now)
    fresh, seen = [], set()
    for event_id in ids:
        fresh.append(event_id not in known and event_id in stored and event_id not in seen)
        seen.add(event_id)
    return fresh


def defer_event(engine: Engine, event: Mapping[str, Any]) -> bool:
    """Keep a verified event of another API version in the inbox, to be read again through the
    API; False when the ledger already has it (processed, or already in the inbox)."""
    event_id = event["id"]
    processed = table("processed_events")
    with write_transaction(engine) as conn:
        now = int(time.time())
        if conn.execute(select(processed.c.id).where(processed.c.id == event_id)).first():
            _add(conn, {"verified": 1, "duplicates": 1}, now)
            return False
        ins = table_insert(conn, "webhook_inbox").values(
            id=event_id,
            created=event["created"],
            api_version=event.get("api_version")
            if isinstance(event.get("api_version"), str)
            else None,
            received_at=now,
        )
        inserted = conn.execute(ins.on_conflict_do_nothing(index_elements=["id"])).rowcount
        _add(conn, {"verified": 1, "deferred" if inserted else "duplicates": 1}, now)
        if inserted:  # its round reads it through the API first (delivery.py)
            _mark_pending(conn, [event_id], time.time())
        return bool(inserted)


def inbox(engine: Engine, limit: int = 1_000) -> list[str]:
    """The ids of the events waiting to be read again through the API, oldest first."""
    rows = table("webhook_inbox")
    query = select(rows.c.id).order_by(rows.c.created, rows.c.id).limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def pending_events(engine: Engine, limit: int) -> list[str]:
    """The ids of the events received and not yet delivered, at most `limit`, oldest first."""
    rows = table("webhook_pending")
    query = select(rows.c.id).order_by(rows.c.received_at, rows.c.id).limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def remove_pending(engine: Engine, event_ids: Collection[str]) -> None:
    """Forget events whose delivery round has run."""
    rows = table("webhook_pending")
    ordered = sorted(event_ids)
    with write_transaction(engine) as conn:
        for start in range(0, len(ordered), 900):  # SQLite's limit on bound parameters
            conn.execute(delete(rows).where(rows.c.id.in_(ordered[start : start + 900])))


def remove_from_inbox(engine: Engine, event_ids: Iterable[str]) -> None:
    """Forget inbox entries once their events are in the ledger."""
    ids = list(event_ids)
    if ids:
        rows = table("webhook_inbox")
        with write_transaction(engine) as conn:
            conn.execute(delete(rows).where(rows.c.id.in_(ids)))
