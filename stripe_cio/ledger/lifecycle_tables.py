"""The ledger table of processed events that lifecycle mapping has handled.

A ledger table like any other, so defined here on the ledger's own metadata: a new ledger creates
it with every other table; `MIGRATIONS[3]` in `schema.py` adds it to a ledger from before it,
and `ensure_lifecycle_table` to one a version without it stamped with a later schema version.
The lifecycle package reads and writes it through the names this package exports.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Engine, Table, inspect
from sqlmodel import Field

from .engine import write_transaction
from .tables import LEDGER_METADATA, _LedgerModel


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
