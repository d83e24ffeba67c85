"""Which customers' Stripe history the ledger holds completely, and what is missing from it.

The ledger knows a customer's history completely when every object of theirs is in it with its
latest state. Two things establish that:

- The history horizon (a row of `sync_cursors`): customers created at or after it have their
  complete history in the ledger. Every object of a customer is created after the customer, so
  its creation and every change since were either read by the events sync (whose first sync
  lowers the horizon to where it starts reading) or by a complete backfill of every resource
  from `since` (which lowers it to `since`). It only ever moves backward.
- `customer_histories`: customers created before the horizon whose history was read from
  Stripe customer by customer (`stripe_cio.extract.complete_histories`), with the outcome.

Guest charges (no customer, known by billing email) cannot be listed per person through
Stripe's API, so only a horizon of 0 vouches for them (`guest_history_complete`).
Backfill runs themselves are recorded by `backfill_runs.py`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from .engine import write_transaction
from .events import EVENTS_CURSOR, lower_cursor, read_cursor, table_insert
from .tables import table

HISTORY_HORIZON = "history_horizon"  # its name in `sync_cursors`
HISTORY_OUTCOMES = frozenset({"complete", "deleted", "unknown"})
_ID_CHUNK = 500  # ids per IN (...) list
# Event object types whose object refers to a charge: (ledger table, column holding the charge).
_CHARGE_REFERENCES: Mapping[str, tuple[str, str]] = {
    "dispute": ("disputes", "charge"),
    "refund": ("refunds", "charge"),
    "payment_intent": ("payment_intents", "latest_charge"),
}


@dataclass(frozen=True)
class HistoryGaps:
    """What the ledger lacks to know the persons of some events: customers and charges."""

    customers: frozenset[str] = field(default_factory=frozenset)
    charges: frozenset[str] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.customers) + len(self.charges)


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _ID_CHUNK):
        yield ordered[start : start + _ID_CHUNK]


def customer_list_read(engine: Engine) -> bool:
    """Whether a completed backfill read the whole customer list (from the beginning): every
    customer is then in the ledger, those created later having come with their events."""
    runs = table("backfill_runs")
    query = select(runs.c.resources).where(runs.c.completed_at.is_not(None), runs.c.since <= 0)
    with engine.connect() as conn:
        return any("customers" in row.split(",") for row in conn.execute(query).scalars())


def namesakes(engine: Engine, customers: Iterable[str]) -> frozenset[str]:
    """The other customers in the ledger whose email, trimmed and lower-cased, is one of
    `customers`' emails: under the email identifier they are the same person."""
    table_ = table("customers")
    ids = set(customers)
    with engine.connect() as conn:
        emails = {
            email.strip().lower()
            for _, email in _lookup(conn, "customers", "email", ids)
            if isinstance(email, str) and email.strip()
        }
        if not emails:
            return frozenset()
        normalised = func.lower(func.trim(table_.c.email))
        found: set[str] = set()
        for chunk in _chunks(emails):
            query = select(table_.c.id).where(normalised.in_(chunk))
            found.update(conn.execute(query).scalars())
    return frozenset(found - ids)


# --- the history horizon ---------------------------------------------------------------------


def history_horizon(engine: Engine) -> int | None:
    """The Stripe time from which customers' histories are complete; None: from no time."""
    with engine.connect() as conn:
        return read_cursor(conn, HISTORY_HORIZON)


def lower_history_horizon(engine: Engine, value: int) -> None:
    """Move the history horizon back to `value`; a later value changes nothing."""
    with write_transaction(engine) as conn:
        lower_cursor(conn, HISTORY_HORIZON, value)


def set_horizon_of_existing_ledger(conn: Connection) -> None:
    """Lower the horizon to 0 on a ledger that already holds an account (migration 4).

    Such a ledger was filled before coverage was recorded, by a backfill from the beginning or
    by syncs that found every customer; taking it as complete keeps how it behaved until now.
    """
    has_customers = conn.execute(select(table("customers").c.id).limit(1)).first() is not None
    if has_customers or read_cursor(conn, EVENTS_CURSOR) is not None:
        lower_cursor(conn, HISTORY_HORIZON, 0)


def guest_history_complete(engine: Engine) -> bool:
    """Whether the ledger holds every guest charge: only a history read from the beginning does
    (a guest has no customer id, so Stripe's lists cannot be filtered down to one guest)."""
    return history_horizon(engine) == 0


# --- customers' histories --------------------------------------------------------------------


def record_customer_histories(engine: Engine, outcomes: Mapping[str, str], fetched_at: int) -> None:
    """Record customers whose history was read from Stripe at `fetched_at`, with the outcome."""
    unexpected = set(outcomes.values()) - HISTORY_OUTCOMES
    if unexpected:
        raise ValueError(f"unknown history outcomes {sorted(unexpected)}")
    if not outcomes:
        return
    rows = [
        {"customer": customer, "fetched_at": fetched_at, "outcome": outcome}
        for customer, outcome in sorted(outcomes.items())
    ]
    with write_transaction(engine) as conn:
        ins = table_insert(conn, "customer_histories")
        stmt = ins.on_conflict_do_update(
            index_elements=["customer"],
            set_={"fetched_at": ins.excluded.fetched_at, "outcome": ins.excluded.outcome},
        )
        for start in range(0, len(rows), _ID_CHUNK):
            conn.execute(stmt, rows[start : start + _ID_CHUNK])


def incomplete_customers(engine: Engine) -> frozenset[str]:
    """The ledger's customers whose history is not known complete: created before the horizon
    (any, without one) and not read customer by customer."""
    customers, histories = table("customers"), table("customer_histories")
    with engine.connect() as conn:
        horizon = read_cursor(conn, HISTORY_HORIZON)
        query = (
            select(customers.c.id)
            .outerjoin(histories, histories.c.customer == customers.c.id)
            .where(histories.c.customer.is_(None))
        )
        if horizon is not None:
            # Answered from the index on `created`: with a horizon of 0 it reads no row.
            query = query.where(or_(customers.c.created < horizon, customers.c.created.is_(None)))
        return frozenset(conn.execute(query).scalars())


def incomplete_among(engine: Engine, customers: Iterable[str]) -> frozenset[str]:
    """Those of `customers` whose history the ledger does not know complete (unknown ones too)."""
    with engine.connect() as conn:
        return _incomplete_among(conn, set(customers))


def _incomplete_among(conn: Connection, ids: set[str]) -> frozenset[str]:
    if not ids:
        return frozenset()
    horizon = read_cursor(conn, HISTORY_HORIZON)
    created = dict(_lookup(conn, "customers", "created", ids))
    histories = table("customer_histories")
    read: set[str] = set()
    for chunk in _chunks(ids):
        query = select(histories.c.customer).where(histories.c.customer.in_(chunk))
        read.update(conn.execute(query).scalars())

    def complete(customer: str) -> bool:
        when = created.get(customer)
        return horizon is not None and when is not None and when >= horizon

    return frozenset(c for c in ids if c not in read and not complete(c))


def _lookup(conn: Connection, name: str, column: str, ids: Collection[str]) -> Iterator[Any]:
    """(id, column) of the rows of table `name` among `ids`, by primary key."""
    target = table(name)
    for chunk in _chunks(ids):
        query = select(target.c.id, target.c[column]).where(target.c.id.in_(chunk))
        yield from conn.execute(query)


def present_customers(engine: Engine, ids: Iterable[str]) -> frozenset[str]:
    """Those of `ids` that the ledger holds as customers that are not deleted."""
    customers = table("customers")
    found: set[str] = set()
    with engine.connect() as conn:
        for chunk in _chunks(set(ids)):
            query = select(customers.c.id).where(
                customers.c.id.in_(chunk), customers.c.deleted.is_(False)
            )
            found.update(conn.execute(query).scalars())
    return frozenset(found)


def missing_objects(engine: Engine, resource: str, ids: Iterable[str]) -> frozenset[str]:
    """Those of `ids` that the ledger table `resource` has no row for."""
    wanted = set(ids)
    with engine.connect() as conn:
        present = {object_id for object_id, _ in _lookup(conn, resource, "id", wanted)}
    return frozenset(wanted - present)


def history_gaps(
    engine: Engine, since: int | None, event_ids: Collection[str] | None = None
) -> HistoryGaps:
    """What the ledger lacks to know the persons of the processed events created at or after
    `since` (None: every event), or of the events `event_ids` when given: the customers they
    refer to whose history is incomplete, and the charges they refer to that the ledger does
    not have.

    An event refers to its object's customer (a customer event to the customer itself), a
    dispute or refund to its charge and that charge's customer, a payment intent to its latest
    charge. Reads the events since `since` and looks the rest up by primary key.
    """
    events = table("processed_events")
    query = select(events.c.object_type, events.c.object_id, events.c.customer)
    if event_ids is not None:
        ids = sorted(event_ids)
        queries = [query.where(events.c.id.in_(ids[n : n + 900])) for n in range(0, len(ids), 900)]
    else:
        queries = [query if since is None else query.where(events.c.created >= since)]
    customers: set[str] = set()
    referring: dict[str, set[str]] = {kind: set() for kind in _CHARGE_REFERENCES}
    with engine.connect() as conn:
        for kind, object_id, customer in (row for q in queries for row in conn.execute(q)):
            if customer:
                customers.add(customer)
            if object_id and kind in referring:
                referring[kind].add(object_id)
        charges: set[str] = set()
        for kind, (name, column) in _CHARGE_REFERENCES.items():
            charges.update(ref for _, ref in _lookup(conn, name, column, referring[kind]) if ref)
        owners = dict(_lookup(conn, "charges", "customer", charges))
        customers.update(owner for owner in owners.values() if owner)
        return HistoryGaps(
            customers=_incomplete_among(conn, customers),
            charges=frozenset(charges - owners.keys()),
        )
