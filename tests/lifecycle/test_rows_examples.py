"""Every row of the contract (docs/events.md) from Stripe's published example objects."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_cio.lifecycle import Mapped, PersonAction, Skipped

COMMON = {"stripe_event_id", "livemode"}
KEYS = {
    "stripe_customer_created": {"customer_id", "email", "name"},
    "stripe_subscription_created": {
        "subscription_id", "plan", "status", "interval", "monthly_amount", "currency", "trial_end",
    },
    "stripe_subscription_changed": {
        "subscription_id", "change", "from_plan", "to_plan", "previous_status", "status",
        "mrr_before", "mrr_after", "currency",
    },
    "stripe_subscription_canceled": {
        "subscription_id", "plan", "canceled_at", "ended_at", "cancellation_reason",
        "cancellation_feedback",
    },
    "stripe_trial_will_end": {"subscription_id", "plan", "trial_end"},
    "stripe_payment_succeeded": {
        "charge_id", "amount", "currency", "description", "receipt_url", "payment_intent_id",
    },
    "stripe_payment_failed": {
        "charge_id", "amount", "currency", "failure_code", "failure_message", "outcome_reason",
    },
    "stripe_charge_refunded": {"charge_id", "amount_refunded", "currency", "full"},
    "stripe_dispute_created": {
        "dispute_id", "charge_id", "amount", "currency", "reason", "evidence_due_by",
    },
    "stripe_checkout_completed": {
        "session_id", "mode", "amount_total", "currency", "payment_status",
    },
    "stripe_invoice_paid": {
        "invoice_id", "number", "amount_paid", "currency", "hosted_invoice_url", "invoice_pdf",
        "lines",
    },
    "stripe_invoice_payment_failed": {
        "invoice_id", "amount_due", "currency", "attempt_count", "next_payment_attempt",
        "hosted_invoice_url",
    },
}  # fmt: skip
CUSTOMER_EMAIL = "  Jenny.Rosen@Example.COM "
PERSON = {"email": "jenny.rosen@example.com"}


@pytest.fixture
def ex(stripe_examples: dict[str, Any]) -> dict[str, Any]:
    """The examples, with the example customer given an email (it has none)."""
    examples = dict(stripe_examples)
    examples["customer"] = {**examples["customer"], "email": CUSTOMER_EMAIL}
    return examples


def check(item: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    assert item.name == name
    assert set(item.data) == KEYS[name] | COMMON
    assert item.data["stripe_event_id"] == event["id"] == item.stripe_event_id
    assert item.data["livemode"] is False
    assert item.created == event["created"]
    return dict(item.data)


def test_customer_created_is_an_event_and_an_identify(kit: Any, ex: dict[str, Any]) -> None:
    event = kit.event("customer.created", ex["customer"])
    mapped = kit.map(event)
    item = kit.one(mapped)
    data = check(item, "stripe_customer_created", event)
    assert item.identifiers == PERSON
    assert data["customer_id"] == "cus_QXg1o8vcGmoR32"
    assert data["email"] == PERSON["email"]  # normalised as the identifier, not as Stripe has it
    assert data["name"] is None
    assert mapped.before == (
        PersonAction(
            PERSON,
            "identify",
            event["id"],
            {"stripe_customer_id": "cus_QXg1o8vcGmoR32", "email": "jenny.rosen@example.com"},
        ),
    )


def test_subscription_created(kit: Any, ex: dict[str, Any]) -> None:
    event = kit.event("customer.subscription.created", ex["subscription"])
    item = kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]])))
    data = check(item, "stripe_subscription_created", event)
    assert item.identifiers == PERSON
    assert data == {
        **data,
        "subscription_id": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
        "plan": "price_1PgafmB7WZ01zgkW6dKueIc5",  # no nickname, no lookup key: the price id
        "status": "active",
        "interval": "month",
        "monthly_amount": 20.0,
        "currency": "usd",
        "trial_end": 1234567890,
    }


def test_subscription_updated_with_a_new_price(kit: Any, ex: dict[str, Any]) -> None:
    sub = {**ex["subscription"], "cancel_at": None, "cancel_at_period_end": False}
    item = sub["items"]["data"][0]
    cheaper = {**item["price"], "id": "price_old", "unit_amount": 1500, "nickname": "Basic"}
    previous = {"items": {**sub["items"], "data": [{**item, "price": cheaper}]}}
    event = kit.event("customer.subscription.updated", sub, previous=previous)
    data = check(kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]]))),
                 "stripe_subscription_changed", event)  # fmt: skip
    assert data == {
        **data,
        "subscription_id": sub["id"],
        "change": "upgrade",
        "from_plan": "Basic",
        "to_plan": "price_1PgafmB7WZ01zgkW6dKueIc5",
        "previous_status": "active",
        "status": "active",
        "mrr_before": 15.0,
        "mrr_after": 20.0,
        "currency": "usd",
    }


def test_subscription_deleted(kit: Any, ex: dict[str, Any]) -> None:
    details = {"comment": "x", "feedback": "too_expensive", "reason": "cancellation_requested"}
    sub = {**ex["subscription"], "status": "canceled", "cancellation_details": details}
    event = kit.event("customer.subscription.deleted", sub)
    data = check(kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]]))),
                 "stripe_subscription_canceled", event)  # fmt: skip
    assert data == {
        **data,
        "subscription_id": sub["id"],
        "plan": "price_1PgafmB7WZ01zgkW6dKueIc5",
        "canceled_at": 1234567890,
        "ended_at": 1234567890,
        "cancellation_reason": "cancellation_requested",
        "cancellation_feedback": "too_expensive",
    }


def test_trial_will_end(kit: Any, ex: dict[str, Any]) -> None:
    event = kit.event("customer.subscription.trial_will_end", ex["subscription"])
    data = check(kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]]))),
                 "stripe_trial_will_end", event)  # fmt: skip
    assert data["plan"] == "price_1PgafmB7WZ01zgkW6dKueIc5"
    assert data["trial_end"] == 1234567890


def test_charge_succeeded_of_a_guest_resolves_by_billing_email(
    kit: Any, ex: dict[str, Any]
) -> None:
    charge = {
        **ex["charge"],
        "billing_details": {**ex["charge"]["billing_details"], "email": "Guest@Example.com"},
    }
    event = kit.event("charge.succeeded", charge)
    item = kit.one(kit.map(event))
    data = check(item, "stripe_payment_succeeded", event)
    assert item.identifiers == {"email": "guest@example.com"}
    assert data == {
        **data,
        "charge_id": charge["id"],
        "amount": 1.0,
        "currency": "usd",
        "description": "My First Test Charge (created for API docs)",
        "receipt_url": charge["receipt_url"],
        "payment_intent_id": None,
    }


def test_charge_failed(kit: Any, ex: dict[str, Any]) -> None:
    charge = {
        **ex["charge"],
        "customer": ex["customer"]["id"],
        "status": "failed",
        "failure_code": "card_declined",
        "failure_message": "Your card was declined.",
        "outcome": {**ex["charge"]["outcome"], "reason": "generic_decline"},
    }
    event = kit.event("charge.failed", charge)
    item = kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]])))
    data = check(item, "stripe_payment_failed", event)
    assert item.identifiers == PERSON
    assert (data["failure_code"], data["failure_message"], data["outcome_reason"]) == (
        "card_declined",
        "Your card was declined.",
        "generic_decline",
    )
    assert (data["amount"], data["currency"]) == (1.0, "usd")


@pytest.mark.parametrize(("refunded", "captured", "full"), [(40, 100, False), (100, 100, True)])
def test_charge_refunded_cumulative_and_full(
    kit: Any, ex: dict[str, Any], refunded: int, captured: int, full: bool
) -> None:
    charge = {
        **ex["charge"],
        "customer": ex["customer"]["id"],
        "amount_captured": captured,
        "amount_refunded": refunded,
        "refunded": full,
    }
    event = kit.event("charge.refunded", charge)
    data = check(kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]]))),
                 "stripe_charge_refunded", event)  # fmt: skip
    assert data == {**data, "amount_refunded": refunded / 100, "currency": "usd", "full": full}


def test_charge_refunded_before_basil_does_not_count_the_released_remainder(
    kit: Any, ex: dict[str, Any]
) -> None:
    lookup = kit.lookup(customers=[ex["customer"]])
    base = {**ex["charge"], "customer": ex["customer"]["id"], "amount": 1000}
    # A partial capture of 600 then a refund of 100: old versions report 500 refunded.
    partial = {**base, "amount_captured": 600, "amount_refunded": 500, "refunded": False}
    old = kit.event("charge.refunded", partial, api_version="2024-06-20")
    data = kit.one(kit.map(old, lookup)).data
    assert (data["amount_refunded"], data["full"]) == (1.0, False)
    # The same capture refunded whole: 1000 "refunded" then, 600 really, which is all of it.
    whole = {**base, "amount_captured": 600, "amount_refunded": 1000, "refunded": True}
    data = kit.one(kit.map(kit.event("charge.refunded", whole, api_version="2024-06-20"),
                           lookup)).data  # fmt: skip
    assert (data["amount_refunded"], data["full"]) == (6.0, True)
    # An expired authorisation: nothing was refunded at all.
    expired = {**base, "amount_captured": 0, "amount_refunded": 1000, "refunded": True}
    result = kit.map(kit.event("charge.refunded", expired, api_version="2024-06-20"), lookup)
    assert result == Skipped("no_refund")


def test_dispute_created_resolves_through_its_charge(kit: Any, ex: dict[str, Any]) -> None:
    charge = {**ex["charge"], "customer": ex["customer"]["id"]}
    event = kit.event("charge.dispute.created", ex["dispute"])
    lookup = kit.lookup(customers=[ex["customer"]], charges=[charge])
    item = kit.one(kit.map(event, lookup))
    data = check(item, "stripe_dispute_created", event)
    assert item.identifiers == PERSON
    assert data == {
        **data,
        "dispute_id": ex["dispute"]["id"],
        "charge_id": charge["id"],
        "amount": 10.0,
        "currency": "usd",
        "reason": "general",
        "evidence_due_by": 1723679999,
    }
    assert kit.map(event, kit.lookup(customers=[ex["customer"]])) == Skipped("unknown_charge")


def test_checkout_completed_by_a_guest(kit: Any, ex: dict[str, Any]) -> None:
    # The example session has no customer and no amount, only the guest's email.
    event = kit.event("checkout.session.completed", ex["checkout.session"])
    item = kit.one(kit.map(event))
    data = check(item, "stripe_checkout_completed", event)
    assert item.identifiers == {"email": "example@example.com"}
    assert data == {
        **data,
        "session_id": ex["checkout.session"]["id"],
        "mode": "payment",
        "amount_total": None,
        "currency": None,
        "payment_status": "unpaid",
    }
    paid = {
        **ex["checkout.session"],
        "amount_total": 4900,
        "currency": "EUR",
        "payment_status": "paid",
    }
    data = kit.one(kit.map(kit.event("checkout.session.completed", paid))).data
    assert (data["amount_total"], data["currency"]) == (49.0, "eur")


def test_invoice_paid_is_a_receipt_with_at_most_twenty_lines(kit: Any, ex: dict[str, Any]) -> None:
    line = ex["invoice"]["lines"]["data"][0]
    lines = [{**line, "id": f"il_{n}", "amount": 100 * n, "quantity": n} for n in range(1, 26)]
    invoice = {
        **ex["invoice"],
        "amount_paid": 1000,
        "number": "7FE1103-0001",
        "lines": {**ex["invoice"]["lines"], "data": lines},
    }
    event = kit.event("invoice.paid", invoice)
    data = check(kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]]))),
                 "stripe_invoice_paid", event)  # fmt: skip
    assert data["lines"] == [
        {"description": line["description"], "quantity": n, "amount": float(n)}
        for n in range(1, 21)
    ]
    assert data == {
        **data,
        "invoice_id": invoice["id"],
        "number": "7FE1103-0001",
        "amount_paid": 10.0,
        "currency": "usd",
        "hosted_invoice_url": None,
        "invoice_pdf": None,
    }


def test_invoice_payment_failed(kit: Any, ex: dict[str, Any]) -> None:
    invoice = {**ex["invoice"], "attempt_count": 2, "hosted_invoice_url": "https://invoice.x/1"}
    event = kit.event("invoice.payment_failed", invoice)
    data = check(kit.one(kit.map(event, kit.lookup(customers=[ex["customer"]]))),
                 "stripe_invoice_payment_failed", event)  # fmt: skip
    assert data == {
        **data,
        "invoice_id": invoice["id"],
        "amount_due": 10.0,
        "currency": "usd",
        "attempt_count": 2,
        "next_payment_attempt": 1234567890,
        "hosted_invoice_url": "https://invoice.x/1",
    }


@pytest.mark.parametrize(
    ("mode", "action"),
    [("attribute", "identify"), ("delete", "delete"), ("suppress", "suppress")],
)
def test_customer_deleted_marks_deletes_or_suppresses_the_person(
    kit: Any, ex: dict[str, Any], mode: str, action: str
) -> None:
    event = kit.event("customer.deleted", ex["customer"], created=kit.NOW)
    mapped = kit.map(event, settings=kit.settings(customer_deleted=mode))
    assert isinstance(mapped, Mapped)
    assert mapped.events == ()
    assert mapped.before == ()
    (change,) = mapped.after
    assert (change.identifiers, change.action, change.stripe_event_id) == (
        PERSON,
        action,
        event["id"],
    )
    if mode == "attribute":
        assert change.attributes == {"stripe_customer_deleted_at": kit.NOW}
        assert change.update_only
    else:
        assert change.attributes == {}


def test_amounts_are_major_units_of_each_currency(kit: Any, ex: dict[str, Any]) -> None:
    lookup = kit.lookup(customers=[ex["customer"]])
    for code, minor, major in [("JPY", 500, 500.0), ("kwd", 12345, 12.345), ("usd", 1999, 19.99)]:
        charge = {
            **ex["charge"],
            "customer": ex["customer"]["id"],
            "amount": minor,
            "currency": code,
        }
        data = kit.one(kit.map(kit.event("charge.succeeded", charge), lookup)).data
        assert (data["amount"], data["currency"]) == (major, code.lower())
