"""Pure normalisers: one Stripe object (a dict) to a ledger row, or a Reject saying why not.

They never mutate their input and never read the clock; `api_version` is the version the object
was rendered in (None: the pinned, current one). The bulk write first tries a resource's fast
path (`_fast.py`), which answers for plainly well-formed objects only and agrees with these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._billing import normalise_checkout_session, normalise_invoice, normalise_subscription
from ._catalog import normalise_price, normalise_product
from ._common import BASIL_DATE, Normalised, Reject, Row, is_before_basil
from ._customers import deleted_stub, normalise_customer
from ._email import (
    EMAIL_PATTERN,
    MAX_EMAIL_OCTETS,
    MAX_LOCAL_OCTETS,
    email_problem,
    invalid_email_reason,
    normalised_email,
)
from ._fast import CHARGE_COLUMNS, FAST_PATHS, FastPath, charge_values
from ._payments import (
    OVER_REFUNDED,
    normalise_charge,
    normalise_dispute,
    normalise_payment_intent,
    normalise_refund,
)

__all__ = [
    "BASIL_DATE",
    "CHARGE_COLUMNS",
    "EMAIL_PATTERN",
    "FAST_PATHS",
    "MAX_EMAIL_OCTETS",
    "MAX_LOCAL_OCTETS",
    "NORMALISERS",
    "OBJECT_TYPES",
    "OVER_REFUNDED",
    "FastPath",
    "Normalised",
    "Normaliser",
    "Reject",
    "Row",
    "charge_values",
    "deleted_stub",
    "email_problem",
    "invalid_email_reason",
    "is_before_basil",
    "normalise",
    "normalise_charge",
    "normalise_checkout_session",
    "normalise_customer",
    "normalise_dispute",
    "normalise_invoice",
    "normalise_payment_intent",
    "normalise_price",
    "normalise_product",
    "normalise_refund",
    "normalise_subscription",
    "normalised_email",
]

Normaliser = Callable[[Any, str | None], Normalised | Reject]

NORMALISERS: Mapping[str, Normaliser] = {
    "customers": normalise_customer,
    "charges": normalise_charge,
    "payment_intents": normalise_payment_intent,
    "invoices": normalise_invoice,
    "subscriptions": normalise_subscription,
    "refunds": normalise_refund,
    "disputes": normalise_dispute,
    "checkout_sessions": normalise_checkout_session,
    "prices": normalise_price,
    "products": normalise_product,
}

# Stripe's `object` value for each ledger resource: how an event's data.object finds its table.
OBJECT_TYPES: Mapping[str, str] = {
    "customer": "customers",
    "charge": "charges",
    "payment_intent": "payment_intents",
    "invoice": "invoices",
    "subscription": "subscriptions",
    "refund": "refunds",
    "dispute": "disputes",
    "checkout.session": "checkout_sessions",
    "price": "prices",
    "product": "products",
}


def normalise(resource: str, obj: Any, api_version: str | None = None) -> Normalised | Reject:
    """Normalise `obj` as a member of `resource` (one of LEDGER_RESOURCES)."""
    return NORMALISERS[resource](obj, api_version)
