"""Checks across rows: objects that cannot be true given another object the ledger holds.

Stripe's objects arrive in any order (events are not ordered, a backfill reads resources in
parallel), so a check of two rows runs whenever either is written: the second one to arrive
finds the first. What fails is moved from its table to `rejects`, with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from .tables import table
from .write import insert_rejects

# A refund larger than its charge. Stripe refunds at most what was paid: the charge's
# `amount`, or its `amount_captured` when that is larger (an overcaptured payment). Before
# 2025-03-31.basil, releasing an uncaptured charge also made a refund of its whole `amount`, so
# `amount_captured` alone is no bound. https://docs.stripe.com/api/refunds/create ("amount:
# ... Can refund only up to the remaining, unrefunded amount of the charge").
OVER_REFUND = "refund_over_charge"
_ID_CHUNK = 500


def reject_over_refunds(conn: Connection, resource: str, ids: Sequence[str]) -> dict[str, int]:
    """After a write of charges or refunds with `ids`: move the refunds larger than their
    charge (refunds of those charges, or those refunds) to `rejects`; return counts by reason.
    """
    if resource not in ("charges", "refunds") or not ids:
        return {}
    refunds, charges = table("refunds"), table("charges")
    key = refunds.c.charge if resource == "charges" else refunds.c.id
    found: list[Any] = []
    for start in range(0, len(ids), _ID_CHUNK):
        query = (
            select(refunds.c.id, refunds.c.raw)
            .join(charges, charges.c.id == refunds.c.charge)
            .where(
                key.in_(list(ids[start : start + _ID_CHUNK])),
                refunds.c.amount > charges.c.amount,
                refunds.c.amount > charges.c.amount_captured,
            )
        )
        found.extend(conn.execute(query).all())
    if not found:
        return {}
    gone = sorted({row.id for row in found})
    for start in range(0, len(gone), _ID_CHUNK):
        conn.execute(delete(refunds).where(refunds.c.id.in_(gone[start : start + _ID_CHUNK])))
    return insert_rejects(conn, "refunds", [(row.id, OVER_REFUND, row.raw) for row in found])
