"""Prices and products to ledger rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import (
    Normalised,
    base_row,
    check_object,
    currency,
    guarded,
    nested,
    opt_amount,
    opt_bool,
    opt_int,
    opt_str,
    ref,
)
from .customers import deleted_stub, stub_row


@guarded
def normalise_price(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A price to its row (a deletion stub to an id-and-flag row)."""
    obj = check_object(obj, "price")
    if deleted_stub(obj):
        return stub_row(obj)
    row = base_row(obj)
    recurring = nested(obj, "recurring")
    row.update(
        product=ref(obj, "product"),
        active=opt_bool(obj, "active"),
        currency=currency(obj),
        # Null for tiered, metered-by-tier and customer-chosen prices.
        unit_amount=opt_amount(obj, "unit_amount"),
        nickname=opt_str(obj, "nickname"),
        lookup_key=opt_str(obj, "lookup_key"),
        type=opt_str(obj, "type"),
        recurring_interval=opt_str(recurring, "interval"),
        recurring_interval_count=opt_int(recurring, "interval_count"),
        deleted=obj.get("deleted") is True,
    )
    return Normalised(row)


@guarded
def normalise_product(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A product to its row (a deletion stub to an id-and-flag row)."""
    obj = check_object(obj, "product")
    if deleted_stub(obj):
        return stub_row(obj)
    row = base_row(obj)
    row.update(
        name=opt_str(obj, "name"),
        active=opt_bool(obj, "active"),
        deleted=obj.get("deleted") is True,
    )
    return Normalised(row)
