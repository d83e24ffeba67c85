"""The local ledger of Stripe objects: normalised tables, bulk upserts, events and cursors.

The contract with extraction is docs/design/ledger-interface.md; the tables are in docs/ledger.md.
"""

from __future__ import annotations

from . import _delivery_tables  # noqa: F401 - registers the delivery tables
from ._ledger import LEDGER_RESOURCES, EventsResult, Ledger, WriteResult
from ._schema import LedgerVersionError
from .normalise import Reject

__all__ = [
    "LEDGER_RESOURCES",
    "EventsResult",
    "Ledger",
    "LedgerVersionError",
    "Reject",
    "WriteResult",
]
