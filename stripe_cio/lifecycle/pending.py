"""Reading the processed events not yet handled, the records their mapping needs, and marking
them handled: the lifecycle's ledger I/O.

Processed events are read in (created, id) order, from a low-water mark on `created` kept in
`sync_cursors` under `lifecycle`: every event older than it is handled. A sync lists events
from its cursor minus its overlap, so an event recorded after this run has `created` at least
the events cursor of this run's start minus that overlap; the mark is set a day (`_MARGIN`)
below that cursor, which covers any overlap up to a day.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine, and_, bindparam, case, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ..attributes import AttributeSettings
from ..deliver import EventItem
from ..ledger import (
    EVENTS_CURSOR,
    LIFECYCLE_TABLES,
    Ledger,
    advance_cursor,
    ensure_lifecycle_table,
    read_cursor,
    table,
    write_transaction,
)
from .map import map_event, skipped_type
from .model import ChargeRecord, CustomerRecord, LedgerLookup, Mapped, PersonAction, PriceRecord
from .rules import RULES
from .settings import CUSTOMER_DELETED, LifecycleSettings

LOW_WATER_CURSOR = "lifecycle"
_MARGIN = 86_400
_KEY_CHUNK = 900  # ids per IN (...) list: within SQLite's oldest limit of 999
_HANDLED = LIFECYCLE_TABLES[0]


@dataclass(frozen=True)
class PendingEvent:
    """A processed event not yet handled: its id, `created`, type and raw JSON, parsed."""

    id: str
    created: int
    type: str
    event: Any  # None when the stored JSON does not parse, or was not read


@dataclass
class LifecycleBatch:
    """What a run of pending events maps to, and how each event was handled."""

    events: list[EventItem] = field(default_factory=list)
    before: list[PersonAction] = field(default_factory=list)  # identifies, before the events
    after: list[PersonAction] = field(default_factory=list)  # customer.deleted, after them
    handled: list[dict[str, Any]] = field(default_factory=list)  # rows for `lifecycle_events`
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> events
    read: int = 0
    last: tuple[int, str] | None = None  # (created, id) of the last event read


def backfill_before(engine: Engine) -> int | None:
    """T0 of the newest backfill run in the ledger (`backfill-<T0>`): events created before it
    describe changes the backfill already read, so they are replays."""
    slices = table("backfill_slices")
    with engine.connect() as conn:
        runs = conn.execute(select(slices.c.run).distinct()).scalars().all()
    stamps = [int(run[9:]) for run in runs if run.startswith("backfill-") and run[9:].isdigit()]
    return max(stamps, default=None)


def read_pending(
    engine: Engine,
    *,
    low: int | None,
    after: tuple[int, str] | None,
    limit: int,
    types: Collection[str] | None = None,
) -> list[PendingEvent]:
    """Up to `limit` processed events not yet handled, oldest first, after `after`; the JSON
    only of events of `types` (None: all), since the others are skipped by their type alone."""
    events = table("processed_events")
    raw = events.c.raw if types is None else case((events.c.type.in_(list(types)), events.c.raw))
    query = (
        select(events.c.id, events.c.created, events.c.type, raw)
        .where(~exists().where(_HANDLED.c.stripe_event_id == events.c.id))
        .order_by(events.c.created, events.c.id)
        .limit(limit)
    )
    if low is not None:
        query = query.where(events.c.created >= low)
    if after is not None:
        created, eid = after
        query = query.where(
            or_(events.c.created > created, and_(events.c.created == created, events.c.id > eid))
        )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for eid, created, kind, text in rows:
        try:
            parsed = None if text is None else orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        out.append(PendingEvent(eid, int(created), kind, parsed))
    return out


def _ids(values: Iterable[Any]) -> list[str]:
    return sorted({v for v in values if isinstance(v, str) and v})


def _ref(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


def _rows(engine: Engine, name: str, columns: Sequence[str], ids: list[str]) -> list[Any]:
    target = table(name)
    query = select(*(target.c[c] for c in columns)).where(
        target.c.id.in_(bindparam("ids", expanding=True))
    )
    rows: list[Any] = []
    with engine.connect() as conn:
        for start in range(0, len(ids), _KEY_CHUNK):
            rows.extend(conn.execute(query, {"ids": ids[start : start + _KEY_CHUNK]}).all())
    return rows


def _objects(events: Iterable[Any]) -> list[Mapping[str, Any]]:
    objects = []
    for event in events:
        data = event.get("data") if isinstance(event, Mapping) else None
        obj = data.get("object") if isinstance(data, Mapping) else None
        if isinstance(obj, Mapping):
            objects.append(obj)
    return objects


def _item_prices(obj: Mapping[str, Any]) -> Iterable[Any]:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    for item in data if isinstance(data, list) else ():
        if isinstance(item, Mapping) and isinstance(item.get("price"), str):
            yield item["price"]


def lookup_for(engine: Engine, events: Iterable[Any]) -> LedgerLookup:
    """The ledger's customers, charges and prices that mapping `events` may need."""
    objects = _objects(events)
    charge_ids = _ids(
        _ref(o.get("charge")) if o.get("object") == "dispute" else _ref(o.get("latest_charge"))
        for o in objects
    )
    charges = {
        row.id: ChargeRecord(row.id, row.customer, row.billing_email, row.receipt_url)
        for row in _rows(
            engine, "charges", ("id", "customer", "billing_email", "receipt_url"), charge_ids
        )
    }
    customer_ids = _ids(
        [o.get("id") if o.get("object") == "customer" else _ref(o.get("customer")) for o in objects]
        + [c.customer for c in charges.values()]
    )
    customers = {}
    for row in _rows(engine, "customers", ("id", "email", "metadata", "deleted"), customer_ids):
        metadata = orjson.loads(row.metadata) if row.metadata else {}
        customers[row.id] = CustomerRecord(
            row.id, row.email, metadata if isinstance(metadata, dict) else {}, bool(row.deleted)
        )
    price_ids = _ids(p for o in objects for p in _item_prices(o))
    columns = (
        "id", "nickname", "lookup_key", "currency", "unit_amount", "recurring_interval",
        "recurring_interval_count",
    )  # fmt: skip
    prices = {row[0]: PriceRecord(*row) for row in _rows(engine, "prices", columns, price_ids)}
    return LedgerLookup(customers=customers, charges=charges, prices=prices)


def pending_lifecycle(
    ledger: Ledger,
    settings: LifecycleSettings,
    identity: AttributeSettings,
    *,
    after: tuple[int, str] | None = None,
    limit: int = 5_000,
) -> LifecycleBatch:
    """Map up to `limit` processed events not yet handed to delivery (after `after`, in
    (created, id) order): the Customer.io items, and the skip counts by reason."""
    engine = ledger.engine
    ensure_lifecycle_table(engine)
    with engine.connect() as conn:
        low = read_cursor(conn, LOW_WATER_CURSOR)
    mapped_types = [t for t in (*RULES, CUSTOMER_DELETED) if skipped_type(t, settings) is None]
    pending = read_pending(engine, low=low, after=after, limit=limit, types=mapped_types)
    lookup = lookup_for(engine, (p.event for p in pending))
    before = backfill_before(engine)
    batch = LifecycleBatch(read=len(pending))
    for item in pending:
        mapped = skipped_type(item.type, settings) or map_event(
            item.event, lookup, settings, identity, backfill_before=before
        )
        if isinstance(mapped, Mapped):
            batch.events.extend(mapped.events)
            batch.before.extend(mapped.before)
            batch.after.extend(mapped.after)
            row = {"outcome": "sent", "reason": None, "items": mapped.items}
        else:
            batch.skipped[mapped.reason] += 1
            row = {"outcome": "skipped", "reason": mapped.reason, "items": 0}
        batch.handled.append({"stripe_event_id": item.id, **row})
        batch.last = (item.created, item.id)
    return batch


def mark_handled(
    ledger: Ledger, rows: Sequence[Mapping[str, Any]], clock: Callable[[], float] = time.time
) -> None:
    """Record events as handled; an event recorded already keeps its first record."""
    if not rows:
        return
    now = int(clock())
    values = [{**row, "handled_at": now} for row in rows]
    with write_transaction(ledger.engine) as conn:
        module = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = module.insert(_HANDLED).on_conflict_do_nothing(
            index_elements=[_HANDLED.c.stripe_event_id]
        )
        for start in range(0, len(values), 2_000):
            conn.execute(statement, values[start : start + 2_000])


def raise_low_water(ledger: Ledger, events_cursor: int | None) -> None:
    """After a run that handled everything it read: move the low-water mark up to a day below
    the events cursor seen at the run's start (never down)."""
    if events_cursor is None:
        return
    with write_transaction(ledger.engine) as conn:
        advance_cursor(conn, LOW_WATER_CURSOR, events_cursor - _MARGIN)


def events_cursor(ledger: Ledger) -> int | None:
    """The ledger's events cursor (for `raise_low_water`)."""
    with ledger.engine.connect() as conn:
        return read_cursor(conn, EVENTS_CURSOR)
