"""Pure normalisers: one Stripe object (a dict) to a ledger row, or a Reject saying why not.

They never mutate their input and never read the clock; `api_version` is the version the object
was rendered in (None: the pinned, current one). The bulk write first tries a resource's fast
path (`fast.py`), which answers for plainly well-formed objects only and agrees with these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .billing import normalise_checkout_session, normalise_invoice, normalise_subscription
from .catalog import normalise_price, normalise_product
from .common import BASIL_DATE, Normalised, Reject, Row, is_before_basil
from .customers import deleted_stub, normalise_customer
from .email import (
    EMAIL_PATTERN,
    MAX_EMAIL_OCTETS,
    MAX_LOCAL_OCTETS,
    email_key,
    email_problem,
    invalid_email_reason,
    normalised_email,
)
from .fast import CHARGE_COLUMNS, FastPath, charge_values
from .payments import (
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
    "email_key",
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

# Derived from the resource registry (stripe_cio/ledger/resources.py), which imports the
# normalisers above: looked up there on first use, not kept here a second time.
_FROM_REGISTRY = frozenset({"FAST_PATHS", "NORMALISERS", "OBJECT_TYPES", "normalise"})


def __getattr__(name: str) -> Any:
    """The registry's NORMALISERS, OBJECT_TYPES, FAST_PATHS and `normalise`, under their old
    names here."""
    if name in _FROM_REGISTRY:
        from .. import resources

        return getattr(resources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
