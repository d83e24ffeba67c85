"""The ledger's delivery tables: what Customer.io accepted, what it (or we) refused, and which
Stripe events lifecycle mapping handled.

Defined on the ledger's own metadata, so a new ledger creates them with every other table;
`MIGRATIONS[2]` in `schema.py` adds them to a ledger created before they existed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, Index, Integer, Table, Text, inspect
from sqlmodel import Field

from .engine import write_transaction
from .tables import LEDGER_METADATA, _LedgerModel


class PersonSnapshot(_LedgerModel, table=True):
    """The attributes Customer.io last accepted for one person, as canonical JSON."""

    __tablename__ = "cio_person_snapshots"
    person_key: str = Field(primary_key=True)  # "email:ann@example.com", "id:cus_123"
    attributes: str = Field(sa_type=Text)  # sorted-key compact JSON of every attribute set
    accepted_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


class DeliveredEvent(_LedgerModel, table=True):
    """A Customer.io event accepted once: never sent again by a later run."""

    __tablename__ = "cio_delivered_events"
    id: str = Field(primary_key=True)  # the event's deterministic ULID
    stripe_event_id: str = Field(index=True)
    name: str
    person_key: str
    accepted_at: int = Field(sa_type=BigInteger)


class DeadLetterRow(_LedgerModel, table=True):
    """An item refused by Customer.io (207/400) or by our own pre-send checks.

    One row per item (kind, item_key) ever: a new failure of the same item updates it, and an
    accepted resend (or, for a person, any later accepted update) resolves it.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_item", "kind", "item_key", unique=True),)
    id: int | None = Field(default=None, primary_key=True, sa_type=Integer)
    kind: str  # "person" (an identify) or "event"
    item_key: str  # the person key, or the event's ULID
    person_key: str = Field(index=True)
    stripe_event_id: str | None = None  # events only
    stage: str  # "pre_send" (our checks) or "customerio" (refused by the API)
    reason: str
    field: str | None = None
    message: str = Field(sa_type=Text)
    payload: str = Field(sa_type=Text)  # the v2 item as JSON (or its repr when not serialisable)
    # For a person: every attribute after this update, which becomes the snapshot on acceptance.
    attributes: str | None = Field(default=None, sa_column=Column("attributes", Text))
    attempts: int = 1
    first_failed_at: int = Field(sa_type=BigInteger)
    last_failed_at: int = Field(sa_type=BigInteger)
    resolved_at: int | None = Field(default=None, sa_type=BigInteger, index=True)
    resolution: str | None = None  # "delivered", "superseded", "already_delivered"


DELIVERY_TABLES: tuple[Table, ...] = tuple(
    LEDGER_METADATA.tables[name]
    for name in ("cio_person_snapshots", "cio_delivered_events", "dead_letters")
)


# --- lifecycle events handled --------------------------------------------------------------------
# A ledger table like any other, so defined here on the ledger's own metadata: a new ledger creates
# it with every other table; `MIGRATIONS[3]` in `schema.py` adds it to a ledger from before it,
# and `ensure_lifecycle_table` to one a version without it stamped with a later schema version.
# The lifecycle package reads and writes it through the names this package exports.


class HandledEvent(_LedgerModel, table=True):
    """A processed Stripe event handed to delivery (`sent`) or skipped with its reason."""

    __tablename__ = "lifecycle_events"
    stripe_event_id: str = Field(primary_key=True)
    outcome: str  # "sent" or "skipped"
    reason: str | None = None  # why it was skipped
    items: int = 0  # Customer.io items made from it
    handled_at: int = Field(sa_type=BigInteger)  # wall clock, Unix s


LIFECYCLE_TABLES: tuple[Table, ...] = (LEDGER_METADATA.tables["lifecycle_events"],)


def ensure_lifecycle_table(engine: Engine) -> None:
    """Create the table if this ledger lacks it: a ledger created while the table was defined
    outside the ledger package, and not imported, is stamped with the latest schema version
    without it, so no migration would add it."""
    with engine.connect() as conn:
        present = inspect(conn).has_table(LIFECYCLE_TABLES[0].name)
    if not present:
        with write_transaction(engine) as conn:
            for handled in LIFECYCLE_TABLES:
                handled.create(conn, checkfirst=True)
