"""Which Stripe events become which Customer.io events: one rule per Stripe event type.

A new lifecycle event is a rule here and its row builder (`rows_payments.py`, `rows_billing.py`);
the settings, the mapping, the pending-event scan and docs/events.md's test read this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from . import rows_billing as billing
from . import rows_payments as payments
from .model import Builder


@dataclass(frozen=True)
class Rule:
    """How one Stripe event type is mapped: its Customer.io event, object type and row builder."""

    event_name: str  # the Customer.io event it becomes unless the settings rename it
    object_type: str  # data.object's `object`
    build: Builder
    # Payment events come either from charges (default) or from payment intents, never both.
    source: Literal["charge", "payment_intent"] | None = None


# The two payment_intent.* rules apply only when `payment_intent_events` is on, instead of the
# charge.succeeded and charge.failed ones (docs/events.md).
RULES: Mapping[str, Rule] = {
    "customer.created": Rule("stripe_customer_created", "customer", payments.customer_created),
    "customer.subscription.created": Rule(
        "stripe_subscription_created", "subscription", billing.subscription_created
    ),
    "customer.subscription.updated": Rule(
        "stripe_subscription_changed", "subscription", billing.subscription_changed
    ),
    "customer.subscription.deleted": Rule(
        "stripe_subscription_canceled", "subscription", billing.subscription_canceled
    ),
    "customer.subscription.trial_will_end": Rule(
        "stripe_trial_will_end", "subscription", billing.trial_will_end
    ),
    "charge.succeeded": Rule(
        "stripe_payment_succeeded", "charge", payments.charge_succeeded, "charge"
    ),
    "charge.failed": Rule("stripe_payment_failed", "charge", payments.charge_failed, "charge"),
    "charge.refunded": Rule("stripe_charge_refunded", "charge", payments.charge_refunded),
    "charge.dispute.created": Rule("stripe_dispute_created", "dispute", payments.dispute_created),
    "checkout.session.completed": Rule(
        "stripe_checkout_completed", "checkout.session", billing.checkout_completed
    ),
    "invoice.paid": Rule("stripe_invoice_paid", "invoice", billing.invoice_paid),
    "invoice.payment_failed": Rule(
        "stripe_invoice_payment_failed", "invoice", billing.invoice_payment_failed
    ),
    "payment_intent.succeeded": Rule(
        "stripe_payment_succeeded",
        "payment_intent",
        payments.payment_intent_succeeded,
        "payment_intent",
    ),
    "payment_intent.payment_failed": Rule(
        "stripe_payment_failed", "payment_intent", payments.payment_intent_failed, "payment_intent"
    ),
}
