"""Which customers the latest Stripe events concern, read from the ledger's processed events,
and the mark up to which their persons have had their attributes pushed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, case, select

from ..ledger import advance_cursor, read_cursor, table, write_transaction

# The events cursor (Stripe time) up to which the events' persons have had their attributes
# pushed; kept next to the events cursor in `sync_cursors`.
ATTRIBUTES_MARK = "attributes_pushed"
# Event ids per IN (...) list: within SQLite's oldest limit of 999 bound values.
_IDS = 900


@dataclass(frozen=True)
class TouchedCustomers:
    """Whom a span of Stripe events concerns: customer ids, and guests' billing emails."""

    customers: frozenset[str] = field(default_factory=frozenset)
    guest_emails: frozenset[str] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.customers) + len(self.guest_emails)


def _guest_email(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


def touched_customers(
    engine: Engine, since: int | None, event_ids: Collection[str] | None = None
) -> TouchedCustomers:
    """Customers and guests of the processed Stripe events created at or after `since`, or of
    the events `event_ids` (the webhook receiver's) when given.

    A dispute's customer is its charge's; a charge without a customer is its billing email's
    guest. `since` None means every processed event.
    """
    events, charges, disputes = (
        table("processed_events"),
        table("charges"),
        table("disputes"),
    )
    charge_id = case(
        (events.c.object_type == "charge", events.c.object_id),
        (events.c.object_type == "dispute", disputes.c.charge),
        else_=None,
    )
    query = (
        select(events.c.object_type, events.c.object_id, events.c.customer, charges.c.customer,
               charges.c.billing_email)
        .select_from(events)
        .outerjoin(disputes, and_(events.c.object_type == "dispute",
                                  disputes.c.id == events.c.object_id))
        .outerjoin(charges, charges.c.id == charge_id)
    )  # fmt: skip
    if event_ids is not None:
        ids = sorted(event_ids)
        queries = [
            query.where(events.c.id.in_(ids[n : n + _IDS])) for n in range(0, len(ids), _IDS)
        ]
    else:
        queries = [query if since is None else query.where(events.c.created >= since)]
    customers: set[str] = set()
    guests: set[str] = set()
    with engine.connect() as conn:
        rows = (row for part in queries for row in conn.execute(part))
        for object_type, object_id, customer, charge_customer, billing_email in rows:
            if object_type == "customer" and object_id:
                customers.add(object_id)
            for owner in (customer, charge_customer):
                if owner:
                    customers.add(owner)
            if object_type in ("charge", "dispute") and not (customer or charge_customer):
                email = _guest_email(billing_email)
                if email:
                    guests.add(email)
    return TouchedCustomers(frozenset(customers), frozenset(guests))


def attributes_mark(engine: Engine) -> int | None:
    """The events cursor up to which touched persons had their attributes pushed."""
    with engine.connect() as conn:
        return read_cursor(conn, ATTRIBUTES_MARK)


def advance_attributes_mark(engine: Engine, value: int) -> None:
    """Record that the persons of events up to `value` have had their attributes pushed."""
    with write_transaction(engine) as conn:
        advance_cursor(conn, ATTRIBUTES_MARK, value)
