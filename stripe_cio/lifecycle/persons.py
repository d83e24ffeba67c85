"""The Customer.io person of a Stripe event's object, resolved as the attribute engine does.

Under the `email` identifier the person is the customer's email, trimmed and lower-cased, and a
guest (no customer) is the email Stripe collected: a checkout session's `customer_details.email`,
a charge's `billing_details.email`. Under `stripe_id` the customer id is the person's `id`, under
`metadata:<key>` that customer metadata value; guests have no person then. The customer is
read from the ledger as it is now (the person it belongs to today), falling back to the event's
own object for customer.* events; a deleted customer still resolves, so that its last events and
its deletion reach its person. An email that is not one valid address identifies nobody and
is sent as no datum (skip reason `invalid_email`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..attributes import AttributeSettings
from ..ledger.normalise import normalised_email
from .fields import FieldProblem, nested, opt_str, ref
from .model import CustomerRecord, Lookup, Skipped

Identifiers = dict[str, str]


# `normalised_email` is the pipeline's one email rule (stripe_cio/ledger/normalise/email.py):
# trimmed, lower-cased, and None unless it is one valid address. An email that is not one is
# never an identifier or a datum here; the ledger counted it as a reject when it stored it.
INVALID_EMAIL = "invalid_email"


def _bad(value: Any) -> bool:
    """Whether `value` is a non-blank text that the email rule refuses."""
    return isinstance(value, str) and bool(value.strip()) and normalised_email(value) is None


def customer_record(obj: Mapping[str, Any]) -> CustomerRecord:
    """A customer record from a customer object (the event's own, when the ledger lacks it)."""
    metadata = obj.get("metadata")
    return CustomerRecord(
        id=str(obj.get("id")),
        email=obj.get("email") if isinstance(obj.get("email"), str) else None,
        metadata=metadata if isinstance(metadata, Mapping) else {},
        deleted=obj.get("deleted") is True,
    )


def _of_customer(
    customer_id: str, lookup: Lookup, identity: AttributeSettings, own: CustomerRecord | None
) -> Identifiers | Skipped:
    kind = identity.identifier_kind
    if kind == "stripe_id":
        return {"id": customer_id}
    records = [r for r in (lookup.customer(customer_id), own) if r is not None]
    if not records:
        return Skipped("unknown_customer")
    # The ledger's record first (the person today); the event's own customer when the ledger
    # knows it only from a deletion stub.
    invalid = False
    for record in records:
        if kind == "email":
            email = normalised_email(record.email)
            if email:
                return {"email": email}
            invalid = invalid or _bad(record.email)
        else:
            value = record.metadata.get(identity.metadata_key or "")
            text = value.strip() if isinstance(value, str) else None
            if text:
                return {"id": text}
    return Skipped(INVALID_EMAIL if invalid else "no_identifier")


def _of_guest(email: Any, identity: AttributeSettings) -> Identifiers | Skipped:
    if identity.identifier_kind != "email":
        return Skipped("no_customer")
    address = normalised_email(email)
    if address is None:
        return Skipped(INVALID_EMAIL if _bad(email) else "no_customer")
    return {"email": address}


def _of_charge(
    charge_id: str | None, lookup: Lookup, identity: AttributeSettings
) -> Identifiers | Skipped:
    record = lookup.charge(charge_id) if charge_id else None
    if record is None:
        return Skipped("unknown_charge")
    if record.customer:
        return _of_customer(record.customer, lookup, identity, None)
    return _of_guest(record.billing_email, identity)


def person_of(
    object_type: str, obj: Mapping[str, Any], lookup: Lookup, identity: AttributeSettings
) -> Identifiers | Skipped:
    """The identifiers of the person an event's object belongs to, or why there is none.

    Raises FieldProblem when the object's own fields are of the wrong type.
    """
    if object_type == "customer":
        return _of_customer(str(obj["id"]), lookup, identity, customer_record(obj))
    if object_type == "dispute":
        charge = obj.get("charge")
        if isinstance(charge, Mapping):  # expanded: the charge itself says whose it is
            return person_of("charge", charge, lookup, identity)
        return _of_charge(ref(obj, "charge"), lookup, identity)
    customer = ref(obj, "customer")
    if customer is not None:
        return _of_customer(customer, lookup, identity, None)
    if object_type == "charge":
        return _of_guest(opt_str(nested(obj, "billing_details"), "email"), identity)
    if object_type == "checkout.session":
        details = opt_str(nested(obj, "customer_details"), "email")
        return _of_guest(details or opt_str(obj, "customer_email"), identity)
    if object_type == "payment_intent":
        return _of_charge(ref(obj, "latest_charge"), lookup, identity)
    if object_type in ("subscription", "invoice"):
        return Skipped("no_customer")
    raise FieldProblem(f"invalid_field:object:{object_type}")
