"""The ledger table of processed events that lifecycle mapping has handled.

Defined on the ledger's own metadata, so a ledger created while this module is imported gets it
with every other table; `MIGRATIONS[3]` in `stripe_cio/ledger/_schema.py` adds it to an older
ledger, and `ensure_lifecycle_table` to a ledger created without it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Engine, Table, inspect
from sqlmodel import Field

from ..ledger._engine import write_transaction
from ..ledger._tables import LEDGER_METADATA, _LedgerModel

__all__ = ["LIFECYCLE_TABLES", "HandledEvent", "ensure_lifecycle_table"]


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
    """Create the table if this ledger lacks it: one created before this module was imported
    is stamped with the latest schema version, so no migration would add it."""
    with engine.connect() as conn:
        present = inspect(conn).has_table(LIFECYCLE_TABLES[0].name)
    if not present:
        with write_transaction(engine) as conn:
            for handled in LIFECYCLE_TABLES:
                handled.create(conn, checkfirst=True)
