"""Rows of customer, charge, dispute and payment intent events: their `data` keys."""

from __future__ import annotations

from typing import Any

from ..ledger.normalise import OVER_REFUNDED, is_before_basil, normalised_email
from .fields import SkipEvent, currency, nested, opt_bool, opt_int, opt_str, ref, req_int, req_str
from .model import Source
from .money import major


def customer_created(src: Source) -> dict[str, Any]:
    """The new customer's id, email (trimmed and lower-cased) and name."""
    obj = src.obj
    return {
        "customer_id": req_str(obj, "id"),
        # Normalised exactly as the `email` identifier is, so that a campaign comparing the
        # datum with the person's email sees the same value.
        "email": normalised_email(opt_str(obj, "email")),
        "name": opt_str(obj, "name"),
    }


def charge_succeeded(src: Source) -> dict[str, Any]:
    obj = src.obj
    code = currency(obj)
    return {
        "charge_id": req_str(obj, "id"),
        "amount": major(req_int(obj, "amount"), code),
        "currency": code,
        "description": opt_str(obj, "description"),
        "receipt_url": opt_str(obj, "receipt_url"),
        "payment_intent_id": ref(obj, "payment_intent"),
    }


def charge_failed(src: Source) -> dict[str, Any]:
    obj = src.obj
    code = currency(obj)
    return {
        "charge_id": req_str(obj, "id"),
        "amount": major(req_int(obj, "amount"), code),
        "currency": code,
        "failure_code": opt_str(obj, "failure_code"),
        "failure_message": opt_str(obj, "failure_message"),
        "outcome_reason": opt_str(nested(obj, "outcome"), "reason"),
    }


def charge_refunded(src: Source) -> dict[str, Any]:
    """The cumulative amount refunded, and whether the charge is now fully refunded."""
    obj = src.obj
    code = currency(obj)
    amount = req_int(obj, "amount")
    captured = opt_int(obj, "amount_captured")
    refunded = req_int(obj, "amount_refunded")
    full = opt_bool(obj, "refunded")
    if is_before_basil(src.api_version):
        # Before basil, amount_refunded (and `refunded`) counted the uncaptured remainder of a
        # partial capture or an expired authorisation; as the ledger does, subtract it.
        uncaptured = max(0, amount - (captured if captured is not None else amount))
        refunded = max(0, refunded - uncaptured)
        if refunded == 0:
            # Only the released remainder of an authorisation: nothing was refunded.
            raise SkipEvent("no_refund")
        full = refunded >= amount - uncaptured
    if refunded < 0:
        raise SkipEvent("negative_amount:amount_refunded")
    if captured is not None and refunded > captured:
        # More refunded than captured cannot be true; the ledger rejects the charge for it.
        raise SkipEvent(OVER_REFUNDED)
    if full is None:
        full = captured is not None and refunded >= captured
    return {
        "charge_id": req_str(obj, "id"),
        "amount_refunded": major(refunded, code),
        "currency": code,
        "full": full,
    }


def dispute_created(src: Source) -> dict[str, Any]:
    obj = src.obj
    code = currency(obj)
    return {
        "dispute_id": req_str(obj, "id"),
        "charge_id": ref(obj, "charge"),
        "amount": major(req_int(obj, "amount"), code),
        "currency": code,
        "reason": opt_str(obj, "reason"),
        "evidence_due_by": opt_int(nested(obj, "evidence_details"), "due_by"),
    }


def payment_intent_succeeded(src: Source) -> dict[str, Any]:
    """The charge row from a payment intent: the amount received, its latest charge."""
    obj = src.obj
    code = currency(obj)
    received = opt_int(obj, "amount_received")
    charge_id = ref(obj, "latest_charge")
    # A payment intent has no receipt URL; its charge (in the ledger) has.
    charge = src.lookup.charge(charge_id) if charge_id else None
    return {
        "charge_id": charge_id,
        "amount": major(received if received is not None else req_int(obj, "amount"), code),
        "currency": code,
        "description": opt_str(obj, "description"),
        "receipt_url": charge.receipt_url if charge else None,
        "payment_intent_id": req_str(obj, "id"),
    }


def payment_intent_failed(src: Source) -> dict[str, Any]:
    """The failed-charge row from a payment intent's `last_payment_error`."""
    obj = src.obj
    code = currency(obj)
    error = nested(obj, "last_payment_error")
    return {
        "charge_id": ref(error, "charge") or ref(obj, "latest_charge"),
        "amount": major(req_int(obj, "amount"), code),
        "currency": code,
        "failure_code": opt_str(error, "code"),
        "failure_message": opt_str(error, "message"),
        # The decline code is what a failed charge's outcome.reason reports.
        "outcome_reason": opt_str(error, "decline_code"),
    }
