"""The state a pipeline run leaves: what Customer.io holds, the ledger's cursors and counts,
and what must hold right after any crash."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import text

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.ledger.diagnose import INTEGRITY_CHECKED

__all__ = ["check_after_crash", "cio_state", "ledger_facts", "sandbox_call"]

COUNTED_TABLES = ("customers", "charges", "invoices", "subscriptions", "processed_events",
                  "lifecycle_events", "cio_delivered_events", "cio_person_snapshots")  # fmt: skip


def cio_state(cio_url: str) -> dict[str, Any]:
    """What Customer.io holds: people by identifier (without the sandbox's own cio_id, which
    follows creation order), events by id, and the request log's duplicate-id findings."""
    people: dict[str, Any] = {}
    for person in sandbox_call(cio_url, "people"):
        ids = {k: v for k, v in person["identifiers"].items() if k != "cio_id" and v}
        key = json.dumps(ids, sort_keys=True).lower()
        assert key not in people, f"two people with the identifiers {ids}"
        people[key] = person["attributes"]
    events: dict[str, Any] = {}
    duplicates: list[str] = []
    for event in sandbox_call(cio_url, "events"):
        event = dict(event)
        event["identifiers"] = {
            k: v for k, v in event["identifiers"].items() if k != "cio_id" and v
        }
        if event["id"] in events:
            duplicates.append(event["id"])
        events[event["id"]] = event
    requests = sandbox_call(cio_url, "requests")
    return {
        "people": people,
        "events": events,
        "stored_twice": duplicates,
        "differing": requests["duplicate_event_ids_differing"],
        "duplicate_ids": requests["duplicate_event_ids"],
    }


def check_after_crash(cio_url: str, database_url: str) -> None:
    """What must hold at any moment, also right after a kill: the ledger never claims more than
    Customer.io holds, and no mark is ahead of the data it vouches for.

    - every event the ledger records as delivered is in Customer.io;
    - the lifecycle low-water mark is not past an unhandled processed event.
    """
    held_ids = {e["id"] for e in sandbox_call(cio_url, "events")}
    ledger = Ledger.open(LedgerSettings(database_url=database_url))
    with ledger, ledger.engine.connect() as conn:
        delivered = set(conn.execute(text("SELECT id FROM cio_delivered_events")).scalars())
        low_water = conn.execute(
            text("SELECT value FROM sync_cursors WHERE name = 'lifecycle'")
        ).scalar()
        oldest_unhandled = conn.execute(
            text(
                "SELECT min(created) FROM processed_events p WHERE NOT EXISTS "
                "(SELECT 1 FROM lifecycle_events l WHERE l.stripe_event_id = p.id)"
            )
        ).scalar()
    missing = sorted(delivered - held_ids)
    assert not missing, f"recorded as delivered, absent from Customer.io: {missing[:5]}"
    if low_water is not None and oldest_unhandled is not None:
        assert low_water <= oldest_unhandled, "the lifecycle mark passed an unhandled event"


def ledger_facts(database_url: str) -> dict[str, Any]:
    """Cursors and counts of the ledger that must end the same after any crashes."""
    ledger = Ledger.open(LedgerSettings(database_url=database_url))
    with ledger, ledger.engine.connect() as conn:
        cursors: dict[str, int] = dict(
            conn.execute(text("SELECT name, value FROM sync_cursors")).all()
        )
        # When the last integrity check passed is wall-clock bookkeeping, not a sync fact.
        cursors.pop(INTEGRITY_CHECKED, None)
        unhandled = conn.execute(
            text(
                "SELECT count(*) FROM processed_events p WHERE NOT EXISTS "
                "(SELECT 1 FROM lifecycle_events l WHERE l.stripe_event_id = p.id)"
            )
        ).scalar()
        open_letters = conn.execute(
            text("SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL")
        ).scalar()
        counts = {
            name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar()  # noqa: S608
            for name in COUNTED_TABLES
        }
    return {"cursors": cursors, "unhandled": unhandled, "open_letters": open_letters, **counts}


def sandbox_call(url: str, route: str, payload: dict[str, Any] | None = None) -> Any:
    with httpx.Client(base_url=url, timeout=120) as http:
        if payload is None:
            response = http.get(f"/_sandbox/{route}")
        else:
            response = http.post(f"/_sandbox/{route}", json=payload)
        response.raise_for_status()
        return response.json()
