"""Fast paths for bulk writes: a plainly well-formed object to its row values in one pass.

A fast path returns the row's values as a tuple in the order of its columns, or None for
anything but
the plain case (a type out of place, an expanded reference, an upper-case currency, a negative
amount, a dict subclass...). None is no verdict: the caller then runs the careful normaliser,
which either builds the row or says why the object is rejected. Wherever a fast path answers,
its values equal the careful normaliser's row (tests/ledger/test_normalise.py checks this over
generated objects).

Why a second path: the careful normalisers call a helper per field, a large share of the
little CPU per object that the bulk write of a backfill can spend. Plain dict gets, checks
inlined, and a tuple in bind order cost a fraction of that (figures in docs/ledger.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import MAX_AMOUNT, STRIPE_CURRENCIES
from .email import email_key, invalid_email_reason

# (obj, before_basil) -> the row's values in column order, or None: ask the careful normaliser
FastPath = Callable[[Any, bool], tuple[Any, ...] | None]

_NONE = type(None)
_STR_OR_NONE = frozenset({str, _NONE})
_BOOL_OR_NONE = frozenset({bool, _NONE})
_DICT_OR_NONE = frozenset({dict, _NONE})

CHARGE_COLUMNS = (
    "id",
    "created",
    "livemode",
    "customer",
    "status",
    "amount",
    "amount_captured",
    "amount_refunded",
    "currency",
    "captured",
    "refunded",
    "paid",
    "disputed",
    "billing_email",
    "guest_email_key",
    "payment_intent",
    "invoice",
    "failure_code",
    "failure_message",
    "outcome_reason",
    "description",
    "receipt_url",
)


def charge_values(obj: Any, before_basil: bool) -> tuple[Any, ...] | None:
    """A plain charge to its values in CHARGE_COLUMNS order; None: ask `normalise_charge`."""
    if type(obj) is not dict:
        return None
    get = obj.get
    ident, created, status, currency = get("id"), get("created"), get("status"), get("currency")
    total, captured, refunded = get("amount"), get("amount_captured"), get("amount_refunded")
    billing, outcome = get("billing_details"), get("outcome")
    if (
        type(ident) is not str
        or not ident
        or type(created) is not int
        or type(status) is not str
        or not status
        or type(currency) is not str
        or currency not in STRIPE_CURRENCIES  # lower case exactly; the careful path folds case
        or type(total) is not int
        or type(captured) is not int
        or type(refunded) is not int
        or not 0 <= total <= MAX_AMOUNT  # out of range: the careful path rejects it
        or not 0 <= captured <= MAX_AMOUNT
        or not 0 <= refunded <= MAX_AMOUNT
        or get("object", "charge") != "charge"
        or type(billing) not in _DICT_OR_NONE
        or type(outcome) not in _DICT_OR_NONE
    ):
        return None
    livemode, is_captured, is_refunded, paid, disputed = flags = (
        get("livemode"),
        get("captured"),
        get("refunded"),
        get("paid"),
        get("disputed"),
    )
    # References must be plain ids here: an expanded object goes the careful way.
    texts = (
        get("customer"),
        billing.get("email") if billing is not None else None,
        get("payment_intent"),
        get("invoice"),  # removed from charges in 2025-03-31.basil; older renderings carry it
        get("failure_code"),
        get("failure_message"),
        outcome.get("reason") if outcome is not None else None,
        get("description"),
        get("receipt_url"),
    )
    for flag in flags:
        if type(flag) not in _BOOL_OR_NONE:
            return None
    for value in texts:
        if type(value) not in _STR_OR_NONE or (value and "\x00" in value):
            return None  # a NUL: the careful path rejects it (nul_character)
    if "\x00" in ident or "\x00" in status:
        return None
    if before_basil:
        # See normalise_charge: the uncaptured remainder was booked as refunded before basil.
        refunded = max(0, refunded - max(0, total - captured))
    if refunded > captured:
        return None  # more refunded than captured: the careful path rejects it
    customer, email, intent, invoice, code, message, reason, description, receipt = texts
    if _needs_care(customer, email):
        return None
    return (
        ident,
        created,
        livemode,
        customer,
        status,
        total,
        captured,
        refunded,
        currency,
        is_captured,
        is_refunded,
        paid,
        disputed,
        email,
        email_key(email) if customer is None else None,
        intent,
        invoice,
        code,
        message,
        reason,
        description,
        receipt,
    )


def _needs_care(customer: Any, email: Any) -> bool:
    """Whether a guest's billing email is not an address (the careful path records why)."""
    return customer is None and email is not None and invalid_email_reason(email) is not None
