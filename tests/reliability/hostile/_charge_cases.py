"""Hostile charges: currencies, amounts, missing and mistyped fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stripe_cio.ledger.normalise import invalid_email_reason

from ._case import DROP, Case, charge, customer, event, next_created, price, subscription


def _charge_cases() -> list[Case]:
    cases = []

    def one(tag: str, covers: str, outcome: str, person: bool = True, **fields: Any) -> Case:
        case = Case(tag, covers, outcome)
        case.add("customers", customer(f"cus_{tag}", f"{tag}@example.com"))
        ledger_outcome = (
            "stored" if outcome in ("processed",) or outcome.startswith("skip") else outcome
        )
        obj = charge(f"ch_{tag}", f"cus_{tag}")
        for key, value in fields.items():
            if value is DROP:
                obj.pop(key)
            else:
                obj[key] = value
        case.add("charges", obj, ledger_outcome)
        if person:
            case.person(f"{tag}@example.com")
        return case

    cases += [
        one("currency_upper", "currency in upper case (USD)", "processed", currency="USD"),
        one("currency_mixed", "currency in mixed case (Eur)", "processed", currency="Eur"),
        one(
            "currency_unknown",
            "an unknown currency (xyz)",
            "reject:unknown_currency:xyz",
            currency="xyz",
        ),
        one(
            "currency_missing",
            "a charge without a currency",
            "reject:missing_field:currency",
            currency=DROP,
        ),
        one(
            "amount_negative",
            "a negative amount",
            "reject:negative_amount:amount",
            amount=-500,
            amount_captured=-500,
        ),
        one(
            "amount_12_digits",
            "an amount of 12 digits (IDR-sized), the largest Stripe sends",
            "processed",
            amount=10**12 - 1,
            amount_captured=10**12 - 1,
        ),
        one(
            "amount_huge",
            "an amount of 10^15 minor units",
            "reject:amount_out_of_range:amount",
            amount=10**15,
            amount_captured=10**15,
        ),
        one(
            "amount_string",
            "an amount given as a string",
            "reject:invalid_field:amount",
            amount="2000",
        ),
        one(
            "amount_float", "an amount with a fraction", "reject:invalid_field:amount", amount=20.5
        ),
        one(
            "status_missing",
            "a charge without a status",
            "reject:missing_field:status",
            status=DROP,
        ),
        one(
            "captured_missing",
            "a charge without amount_captured",
            "reject:missing_field:amount_captured",
            amount_captured=DROP,
        ),
        one(
            "billing_string",
            "billing_details that is a string",
            "reject:invalid_field:billing_details",
            billing_details="nope",
        ),
        one(
            "customer_number",
            "a customer reference that is a number",
            "reject:invalid_field:customer",
            customer=42,
        ),
    ]
    cases[5].attributes["amount_12_digits@example.com"] = {"stripe_total_spent": 9_999_999_999.99}
    cases[0].attributes["currency_upper@example.com"] = {
        "stripe_currency": "usd",
        "stripe_total_spent": 20.0,
    }
    # Two charges whose sum passes 2^63 minor units: no single value overflows, the total does.
    # Found by this corpus: two such charges made the person's total overflow int64 and reach
    # Customer.io negative; amounts over 12 digits are now rejected by the ledger.
    overflow = one(
        "amount_int64",
        "two charges of 2^62 minor units each, whose total exceeds a 64-bit integer",
        "reject:amount_out_of_range:amount",
        amount=2**62,
        amount_captured=2**62,
    )
    overflow.add(
        "charges",
        {
            **charge("ch_amount_int64_b", "cus_amount_int64"),
            "amount": 2**62,
            "amount_captured": 2**62,
        },
        "reject:amount_out_of_range:amount",
    )
    overflow.attributes["amount_int64@example.com"] = {
        "stripe_total_spent": 0.0,
        "stripe_purchase_count": 0,
    }
    cases.append(overflow)

    cases += _impossible_cases(one)

    guest = Case("guest_email", "a charge with a null customer and a billing email", "processed")
    guest.add(
        "charges", charge("ch_guest_email", None, billing_details={"email": "  Guest@Example.com "})
    )
    guest.person("guest@example.com")
    guest.attributes["guest@example.com"] = {"stripe_total_spent": 20.0}
    cases.append(guest)

    anon = Case(
        "guest_anonymous", "a charge with a null customer and no email", "skip:no_identifier"
    )
    anon.add("charges", charge("ch_guest_anonymous", None))
    anon.attribute_skips["charges: no_identifier"] += 1
    cases.append(anon)

    ghost = Case(
        "customer_unknown", "a charge of a customer Stripe never listed", "skip:unknown_customer"
    )
    ghost.add("charges", charge("ch_customer_unknown", "cus_never_listed"))
    ghost.attribute_skips["charges: unknown_customer"] += 1
    cases.append(ghost)

    dispute = Case(
        "dispute_unknown_charge", "a dispute of a charge Stripe never listed", "skip:unknown_charge"
    )
    dispute.add(
        "disputes",
        {
            "id": "dp_unknown_charge",
            "object": "dispute",
            "created": next_created(),
            "charge": "ch_never_listed",
            "amount": 1_000,
            "currency": "usd",
            "status": "needs_response",
            "reason": "fraudulent",
            "livemode": False,
        },
    )
    dispute.attribute_skips["disputes: unknown_charge"] += 1
    cases.append(dispute)

    plan = Case(
        "plan_name_over_1000_bytes",
        "a price nickname of 1,200 bytes: the plan attribute is over Customer.io's 1,000",
        "reject:attribute_value_too_long",
    )
    plan.add(
        "products",
        {
            "id": "prod_hostile",
            "object": "product",
            "created": next_created(),
            "name": "Hostile",
            "active": True,
            "livemode": False,
        },
    )
    long_price = price("price_long_nickname", "P" * 1_200)
    plan.add("prices", long_price)
    plan.add("customers", customer("cus_plan_long", "plan@example.com"))
    plan.add("subscriptions", subscription("sub_plan_long", "cus_plan_long", long_price))
    plan.person("plan@example.com", "dead:attribute_value_too_long")
    cases.append(plan)
    return cases


def _refund(rid: str, chid: str, amount: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "refund",
        "created": next_created(),
        "charge": chid,
        "payment_intent": None,
        "amount": amount,
        "currency": "usd",
        "status": "succeeded",
        "reason": "requested_by_customer",
    }


def _impossible_cases(one: Callable[..., Case]) -> list[Case]:
    """Amounts that cannot be true (issue 16): rejected with their reason, never sent."""
    cases = []
    # The tester's case: 10,000,000.00 refunded of a 20.00 charge reached Customer.io as
    # stripe_total_spent -9999980.0. The charge is rejected; its person has spent nothing.
    over = one(
        "over_refunded",
        "a charge whose amount_refunded (10^9) exceeds its amount and amount captured (2,000)",
        "reject:amount_refunded_over_captured",
        amount_refunded=10**9,
        refunded=True,
    )
    over.attributes["over_refunded@example.com"] = {
        "stripe_total_spent": 0.0,
        "stripe_refunded_total": 0.0,
    }
    cases.append(over)
    # Its charge.refunded event is no Customer.io event either.
    bad_refunded = over.objects["charges"][0]
    over.event(
        event("evt_over_refunded", "charge.refunded", bad_refunded),
        "skip:amount_refunded_over_captured",
    )
    over.extra_rejects["charges: amount_refunded_over_captured"] += 1  # the event's copy
    partial = one(
        "over_refunded_partial",
        "a partial capture (1,000 of 2,000) with 1,500 refunded",
        "reject:amount_refunded_over_captured",
        amount_captured=1_000,
        amount_refunded=1_500,
    )
    partial.attributes["over_refunded_partial@example.com"] = {"stripe_total_spent": 0.0}
    cases.append(partial)
    cases.append(
        one(
            "refunded_negative",
            "a negative amount_refunded",
            "reject:negative_amount:amount_refunded",
            amount_refunded=-100,
        )
    )

    # A refund larger than its charge, the charge first (listed), the refund later (an event).
    after = Case(
        "over_refund_after_charge",
        "a refund of 2,001 on a 2,000 charge, arriving after its charge",
        "reject:refund_over_charge",
    )
    after.add("customers", customer("cus_refund_after", "refund-after@example.com"))
    after.add("charges", charge("ch_refund_after", "cus_refund_after"))
    refund = _refund("re_refund_after", "ch_refund_after", 2_001)
    after.event(event("evt_refund_after", "charge.refund.updated", refund), "skip:unmapped_type")
    after.ledger("refunds", "re_refund_after", "reject:refund_over_charge")
    after.person("refund-after@example.com")
    after.attributes["refund-after@example.com"] = {"stripe_total_spent": 20.0}
    cases.append(after)

    # ... and the refund first (listed, stored: its charge is unknown yet), the charge later (an
    # event): the charge's arrival moves the refund to the rejects.
    before = Case(
        "over_refund_before_charge",
        "a refund of 9,999,999 on a 2,000 charge, arriving before its charge",
        "reject:refund_over_charge",
    )
    before.add("customers", customer("cus_refund_before", "refund-before@example.com"))
    before.add(
        "refunds",
        _refund("re_refund_before", "ch_refund_before", 9_999_999),
        "reject:refund_over_charge",
    )
    before.late_rejects.add("refunds/re_refund_before")
    paid = charge("ch_refund_before", "cus_refund_before")
    before.event(
        event("evt_refund_before", "charge.succeeded", paid), "sent:stripe_payment_succeeded"
    )
    before.ledger("charges", "ch_refund_before")
    before.person("refund-before@example.com")
    before.attributes["refund-before@example.com"] = {"stripe_total_spent": 20.0}
    cases.append(before)

    negative_refund = Case(
        "refund_negative", "a refund of a negative amount", "reject:negative_amount:amount"
    )
    negative_refund.add(
        "refunds", _refund("re_negative", "ch_never_listed", -500), "reject:negative_amount:amount"
    )
    cases.append(negative_refund)
    negative_dispute = Case(
        "dispute_negative", "a dispute of a negative amount", "reject:negative_amount:amount"
    )
    negative_dispute.add(
        "disputes",
        {
            "id": "dp_negative",
            "object": "dispute",
            "created": next_created(),
            "charge": "ch_never_listed",
            "amount": -1_000,
            "currency": "usd",
            "status": "lost",
            "reason": "fraudulent",
            "livemode": False,
        },
        "reject:negative_amount:amount",
    )
    cases.append(negative_dispute)

    # A guest whose billing email is not an address: the charge is kept, the email is a field
    # reject, nobody is identified by it, and its charge.succeeded event names nobody.
    bad_guest = "not-an-email"
    reason = invalid_email_reason(bad_guest)
    guest = Case("guest_bad_email", "a guest charge whose billing email is not an address",
                 f"reject:{reason}")  # fmt: skip
    paid_by_guest = charge("ch_guest_bad_email", None, billing_details={"email": bad_guest})
    guest.add("charges", paid_by_guest, f"stored, field reject:{reason}")
    guest.event(
        event("evt_guest_bad_email", "charge.succeeded", paid_by_guest), "skip:invalid_email"
    )
    guest.attribute_skips["charges: invalid_email"] += 1
    cases.append(guest)
    return cases
