"""Customers (and deleted stubs) to ledger rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .common import (
    Bad,
    Normalised,
    base_row,
    check_object,
    currency,
    guarded,
    opt_bool,
    opt_str,
    req_str,
)
from .email import email_key, invalid_email_reason


def deleted_stub(obj: Mapping[str, Any]) -> bool:
    """Whether `obj` is a deletion stub such as ``{"id", "object", "deleted": true}``.

    Stripe answers a retrieve of a deleted customer, product or price with such a stub.
    Source: https://docs.stripe.com/api/customers/delete (returns ``deleted: true``).
    """
    return obj.get("deleted") is True and "created" not in obj


def stub_row(obj: Mapping[str, Any]) -> Normalised:
    """The row of a deletion stub: only the id and the flag are known."""
    return Normalised({"id": req_str(obj, "id"), "deleted": True})


@guarded
def normalise_customer(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A customer object to its row; a deletion stub to an id-and-flag row."""
    obj = check_object(obj, "customer")
    if deleted_stub(obj):
        return stub_row(obj)
    row = base_row(obj)
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise Bad("invalid_field:metadata")
    email = opt_str(obj, "email")
    row.update(
        email=email,
        email_key=email_key(email),
        name=opt_str(obj, "name"),
        currency=currency(obj, required=False),
        delinquent=opt_bool(obj, "delinquent"),
        deleted=obj.get("deleted") is True,
        metadata=orjson.dumps(metadata).decode() if metadata is not None else None,
    )
    # Kept as given (the ledger's rule); the attribute engine and the lifecycle step use an
    # email only through `normalised_email`, which drops this one. The reject makes it seen.
    problem = invalid_email_reason(email) if email is not None else None
    return Normalised(row, problems=(problem,) if problem else ())
