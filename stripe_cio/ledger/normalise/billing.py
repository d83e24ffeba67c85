"""Subscriptions (with their items), invoices and checkout sessions to ledger rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .common import (
    Bad,
    Normalised,
    Row,
    amount,
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
    req_str,
)


@guarded
def normalise_subscription(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """A subscription to its row plus one row per item, in Stripe's list order."""
    obj = check_object(obj, "subscription")
    row = base_row(obj)
    cancellation = nested(obj, "cancellation_details")
    row.update(
        customer=ref(obj, "customer"),
        status=req_str(obj, "status"),
        currency=currency(obj),
        start_date=opt_int(obj, "start_date"),
        trial_start=opt_int(obj, "trial_start"),
        trial_end=opt_int(obj, "trial_end"),
        cancel_at_period_end=opt_bool(obj, "cancel_at_period_end"),
        cancel_at=opt_int(obj, "cancel_at"),
        canceled_at=opt_int(obj, "canceled_at"),
        ended_at=opt_int(obj, "ended_at"),
        cancellation_reason=opt_str(cancellation, "reason"),
        cancellation_feedback=opt_str(cancellation, "feedback"),
    )
    return Normalised(row, _items(obj, row["id"]))


def _items(obj: Mapping[str, Any], subscription: str) -> tuple[Row, ...]:
    # A subscription embeds its items as a list object (up to 20 items per subscription).
    # Source: https://docs.stripe.com/api/subscriptions/object (items.data).
    items = nested(obj, "items")
    data = items.get("data") if items is not None else None
    if data is None:
        return ()
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise Bad("invalid_field:items")
    rows = []
    for position, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise Bad("invalid_field:items")
        # `price` is the current field; `plan` is its legacy twin on older renderings.
        embedded = item.get("price") or item.get("plan")
        price = embedded if isinstance(embedded, Mapping) else None
        recurring = nested(price, "recurring") if price is not None else None
        rows.append(
            {
                "id": req_str(item, "id"),
                "subscription": subscription,
                "position": position,
                "price": ref(price, "id") if price is not None else ref(item, "price"),
                "quantity": opt_int(item, "quantity"),
                # A snapshot of the price as embedded, so that attributes do not depend on
                # the price having been listed (inline `price_data` prices may not be).
                "price_currency": currency(price, required=False) if price else None,
                "unit_amount": opt_amount(price, "unit_amount"),
                "recurring_interval": opt_str(recurring, "interval"),
                "recurring_interval_count": opt_int(recurring, "interval_count"),
            }
        )
    return tuple(rows)


@guarded
def normalise_invoice(obj: Mapping[str, Any], api_version: str | None = None) -> Normalised:
    """An invoice to its row; `subscription` from the top level or from `parent`."""
    obj = check_object(obj, "invoice")
    row = base_row(obj)
    # 2025-03-31.basil moved invoice.subscription to parent.subscription_details.subscription.
    # Source: https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects
    subscription = ref(obj, "subscription") or ref(
        nested(obj, "parent", "subscription_details"), "subscription"
    )
    row.update(
        customer=ref(obj, "customer"),
        subscription=subscription,
        status=opt_str(obj, "status"),
        number=opt_str(obj, "number"),
        currency=currency(obj),
        amount_due=amount(obj, "amount_due"),
        amount_paid=amount(obj, "amount_paid"),
        attempt_count=opt_int(obj, "attempt_count"),
        next_payment_attempt=opt_int(obj, "next_payment_attempt"),
        hosted_invoice_url=opt_str(obj, "hosted_invoice_url"),
        invoice_pdf=opt_str(obj, "invoice_pdf"),
    )
    return Normalised(row)


@guarded
def normalise_checkout_session(
    obj: Mapping[str, Any], api_version: str | None = None
) -> Normalised:
    """A Checkout Session to its row; the guest's email from `customer_details.email`."""
    obj = check_object(obj, "checkout.session")
    row = base_row(obj)
    details = nested(obj, "customer_details")
    row.update(
        customer=ref(obj, "customer"),
        # customer_details.email is what the buyer entered; customer_email is only the
        # prefilled value, used when the session never collected details.
        customer_email=opt_str(details, "email") or opt_str(obj, "customer_email"),
        mode=opt_str(obj, "mode"),
        status=opt_str(obj, "status"),
        payment_status=opt_str(obj, "payment_status"),
        amount_total=opt_amount(obj, "amount_total"),
        # A session's currency is null until it is known (e.g. a setup-mode session).
        currency=currency(obj, required=False),
        payment_intent=ref(obj, "payment_intent"),
        subscription=ref(obj, "subscription"),
        invoice=ref(obj, "invoice"),
    )
    return Normalised(row)
