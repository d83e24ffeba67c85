"""Charges, refunds, disputes and payment intents to ledger rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import (
    Bad,
    Normalised,
    amount,
    base_row,
    check_object,
    currency,
    guarded,
    is_before_basil,
    nested,
    opt_amount,
    opt_bool,
    opt_int,
    opt_str,
    ref,
    req_str,
)
from .email import email_key, invalid_email_reason

# The reject reason of a charge whose refunded amount exceeds its captured amount.
OVER_REFUNDED = "amount_refunded_over_captured"


@guarded
def normalise_charge(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A charge to its row, with `amount_refunded` in basil semantics whatever its version."""
    obj = check_object(obj, "charge")
    row = base_row(obj)
    total = amount(obj, "amount")
    captured = amount(obj, "amount_captured")
    refunded = amount(obj, "amount_refunded")
    if is_before_basil(api_version):
        # Before 2025-03-31.basil the uncaptured remainder of a partial capture, or the whole
        # of an expired authorisation, was counted in amount_refunded; basil counts only real
        # refunds. Subtracting the uncaptured part restores the basil figure.
        refunded = max(0, refunded - max(0, total - captured))
    if refunded > captured:
        # Only what was captured can be refunded (basil semantics, whatever the version); more
        # would make the person's net spend negative. `amount_captured > amount` is possible
        # (overcapture: https://docs.stripe.com/payments/overcapture), so is not checked.
        raise Bad(OVER_REFUNDED)
    billing = nested(obj, "billing_details")
    outcome = nested(obj, "outcome")
    customer = ref(obj, "customer")
    billing_email = opt_str(billing, "email")
    # A guest's billing email is its person's identifier: one that is not an address is a
    # field reject (the charge is kept). A customer's charge never uses it.
    problem = (
        invalid_email_reason(billing_email)
        if customer is None and billing_email is not None
        else None
    )
    row.update(
        customer=customer,
        status=req_str(obj, "status"),
        amount=total,
        amount_captured=captured,
        amount_refunded=refunded,
        currency=currency(obj),
        captured=opt_bool(obj, "captured"),
        refunded=opt_bool(obj, "refunded"),
        paid=opt_bool(obj, "paid"),
        disputed=opt_bool(obj, "disputed"),
        billing_email=billing_email,
        guest_email_key=email_key(billing_email) if customer is None else None,
        payment_intent=ref(obj, "payment_intent"),
        # `invoice` on charges was removed in 2025-03-31.basil; older renderings carry it.
        invoice=ref(obj, "invoice"),
        failure_code=opt_str(obj, "failure_code"),
        failure_message=opt_str(obj, "failure_message"),
        outcome_reason=opt_str(outcome, "reason"),
        description=opt_str(obj, "description"),
        receipt_url=opt_str(obj, "receipt_url"),
    )
    return Normalised(row, problems=(problem,) if problem else ())


@guarded
def normalise_refund(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A refund to its row."""
    obj = check_object(obj, "refund")
    row = base_row(obj)
    row.update(
        charge=ref(obj, "charge"),
        payment_intent=ref(obj, "payment_intent"),
        amount=amount(obj, "amount"),
        currency=currency(obj),
        status=opt_str(obj, "status"),
        reason=opt_str(obj, "reason"),
    )
    return Normalised(row)


@guarded
def normalise_dispute(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A dispute to its row; `evidence_due_by` comes from `evidence_details.due_by`."""
    obj = check_object(obj, "dispute")
    row = base_row(obj)
    row.update(
        charge=ref(obj, "charge"),
        payment_intent=ref(obj, "payment_intent"),
        amount=amount(obj, "amount"),
        currency=currency(obj),
        status=req_str(obj, "status"),
        reason=opt_str(obj, "reason"),
        evidence_due_by=opt_int(nested(obj, "evidence_details"), "due_by"),
    )
    return Normalised(row)


@guarded
def normalise_payment_intent(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A payment intent to its row."""
    obj = check_object(obj, "payment_intent")
    row = base_row(obj)
    row.update(
        customer=ref(obj, "customer"),
        status=req_str(obj, "status"),
        amount=amount(obj, "amount"),
        amount_received=opt_amount(obj, "amount_received"),
        currency=currency(obj),
        latest_charge=ref(obj, "latest_charge"),
    )
    return Normalised(row)
