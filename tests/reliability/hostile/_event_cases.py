"""Hostile events and pages: duplicates, order, deleted customers, broken pages."""

from __future__ import annotations

from typing import Any

from ._case import Case, charge, customer, event, next_created, price, subscription


def _event_cases() -> list[Case]:
    cases = []
    good = Case("event_good", "a charge.succeeded event (control)", "processed")
    good.add("customers", customer("cus_event_good", "eventgood@example.com"))
    ch = charge("ch_event_good", "cus_event_good")
    good.add("charges", ch)
    good.event(event("evt_event_good", "charge.succeeded", ch), "sent:stripe_payment_succeeded")
    good.person("eventgood@example.com")
    cases.append(good)

    dup = Case(
        "event_duplicate", "an event listed again by the next sync (the overlap)", "skip:duplicate"
    )
    dup.add("customers", customer("cus_event_duplicate", "dup@example.com"))
    failed = charge(
        "ch_event_duplicate",
        "cus_event_duplicate",
        status="failed",
        amount_captured=0,
        failure_code="card_declined",
    )
    dup.add("charges", failed)
    dup.event(event("evt_event_duplicate", "charge.failed", failed), "sent:stripe_payment_failed")
    dup.person("dup@example.com")
    cases.append(dup)

    unknown = Case(
        "event_unknown_type", "an event type stripe-cio does not know", "skip:unmapped_type"
    )
    unknown.event(
        event(
            "evt_unknown_type",
            "hostile.thing_happened",
            {"id": "thing_1", "object": "hostile_thing"},
        ),
        "skip:unmapped_type",
    )
    cases.append(unknown)

    # Out of order: the newer update has the smaller id and a customer known only from events;
    # the ledger must end with the newer email whatever order the events are listed in.
    order = Case(
        "event_out_of_order",
        "customer.updated events listed out of order, for a customer known only from events",
        "processed",
    )
    base = customer("cus_event_order", "order-old@example.com")
    old = event("evt_order_z_old", "customer.updated", base)
    new = event("evt_order_a_new", "customer.updated", {**base, "email": "order-new@example.com"})
    order.event(new, "skip:unmapped_type")
    order.event(old, "skip:unmapped_type")
    order.expect["ledger-email:cus_event_order"] = "order-new@example.com"
    order.person("order-new@example.com")
    order.ledger("customers", "cus_event_order")
    cases.append(order)

    # A customer Stripe no longer lists (deleted): its events still resolve to its person.
    gone = Case("event_deleted_customer", "events of a customer deleted since", "processed")
    gone_customer = customer("cus_event_deleted", "deleted@example.com")
    paid = charge("ch_event_deleted", "cus_event_deleted")
    gone.add("charges", paid)
    gone.event(
        event("evt_deleted_created", "customer.created", gone_customer),
        "sent:stripe_customer_created",
    )
    gone.event(event("evt_deleted_paid", "charge.succeeded", paid), "sent:stripe_payment_succeeded")
    gone.event(
        event("evt_deleted_gone", "customer.deleted", {**gone_customer, "deleted": True}), "action"
    )
    gone.attribute_skips.update({"customers: deleted": 1, "charges: deleted": 1})
    gone.ledger("customers", "cus_event_deleted")
    gone.person("deleted@example.com")  # identified by customer.created, then marked deleted
    gone.attributes["deleted@example.com"] = {"stripe_customer_id": "cus_event_deleted"}
    cases.append(gone)

    no_currency = Case(
        "event_object_missing_field",
        "a charge.succeeded whose charge has no currency",
        "skip:missing_field:currency",
    )
    no_currency.add("customers", customer("cus_event_missing", "eventmissing@example.com"))
    broken = charge("ch_event_missing", "cus_event_missing")
    broken.pop("currency")
    no_currency.event(
        event("evt_object_missing_field", "charge.succeeded", broken), "skip:missing_field:currency"
    )
    no_currency.person("eventmissing@example.com")
    no_currency.ledger("charges", "ch_event_missing", "reject:missing_field:currency")
    cases.append(no_currency)

    no_object = Case(
        "event_no_object", "an event without data.object", "reject:missing_field:data.object"
    )
    no_object.event(
        {**event("evt_no_object", "charge.succeeded", None), "data": {}},
        "reject:missing_field:data.object",
    )
    cases.append(no_object)

    text_object = Case(
        "event_string_object", "an event whose data.object is a string", "skip:malformed_event"
    )
    text_object.event(
        event("evt_string_object", "charge.succeeded", "ch_123"), "skip:malformed_event"
    )
    text_object.extra_rejects["events: not_an_object"] += 1
    cases.append(text_object)

    nul_type = Case(
        "event_type_nul", "an event type with a NUL character", "reject:nul_character:type"
    )
    nul_type.event(
        event("evt_type_nul", "charge.succeeded\u0000", {"id": "ch_nul_type", "object": "charge"}),
        "reject:nul_character:type",
    )
    cases.append(nul_type)

    nul_object = Case(
        "event_object_id_nul",
        "a charge.succeeded whose charge id holds a NUL",
        "reject:nul_character:id",
    )
    nul_object.add("customers", customer("cus_event_nul", "eventnul@example.com"))
    nul_object.event(
        event("evt_object_id_nul", "charge.succeeded", charge("ch_nul\u0000obj", "cus_event_nul")),
        "sent:stripe_payment_succeeded",
    )
    nul_object.extra_rejects["charges: nul_character:id"] += 1
    nul_object.person("eventnul@example.com")
    cases.append(nul_object)

    numeric = Case(
        "event_type_number", "an event whose type is a number", "reject:invalid_field:type"
    )
    numeric.event(
        event("evt_type_number", 42, {"id": "ch_x", "object": "charge"}),
        "reject:invalid_field:type",
    )
    cases.append(numeric)

    anonymous = Case(
        "event_no_customer", "a charge.failed with a null customer and no email", "skip:no_customer"
    )
    nobody = charge("ch_event_nobody", None, status="failed", amount_captured=0)
    anonymous.event(event("evt_no_customer", "charge.failed", nobody), "skip:no_customer")
    anonymous.ledger("charges", "ch_event_nobody")
    anonymous.attribute_skips["charges: no_identifier"] += 1
    cases.append(anonymous)

    stranger = Case(
        "event_unknown_customer",
        "a charge.succeeded of a customer the ledger does not hold",
        "skip:unknown_customer",
    )
    stranger.event(
        event(
            "evt_unknown_customer", "charge.succeeded", charge("ch_event_stranger", "cus_nowhere")
        ),
        "skip:unknown_customer",
    )
    stranger.ledger("charges", "ch_event_stranger")
    stranger.attribute_skips["charges: unknown_customer"] += 1
    cases.append(stranger)

    no_email = Case(
        "event_no_identifier",
        "a charge.failed of a customer without an email",
        "skip:no_identifier",
    )
    faceless = customer("cus_event_faceless", None)
    no_email.add("customers", faceless)
    lost = charge("ch_event_faceless", "cus_event_faceless", status="failed", amount_captured=0)
    no_email.event(event("evt_no_identifier", "charge.failed", lost), "skip:no_identifier")
    no_email.ledger("charges", "ch_event_faceless")
    no_email.attribute_skips.update({"customers: no_identifier": 1, "charges: no_identifier": 1})
    cases.append(no_email)

    huge = Case(
        "event_data_too_large",
        "a customer.created whose name is 150 kB",
        "reject:event_data_too_large",
    )
    big = customer("cus_event_huge", "huge@example.com", name="N" * 150_000)
    huge.add("customers", big)
    huge.event(event("evt_data_too_large", "customer.created", big), "dead:event_data_too_large")
    huge.person("huge@example.com")
    cases.append(huge)

    lines = Case("event_many_lines", "an invoice.paid with 300 lines", "processed")
    lines.add("customers", customer("cus_event_lines", "lines@example.com"))
    invoice = {
        "id": "in_many_lines",
        "object": "invoice",
        "created": next_created(),
        "customer": "cus_event_lines",
        "status": "paid",
        "currency": "usd",
        "amount_due": 30_000,
        "amount_paid": 30_000,
        "amount_remaining": 0,
        "number": "HOSTILE-1",
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "attempt_count": 1,
        "livemode": False,
        "subscription": None,
        "lines": {
            "object": "list",
            "has_more": True,
            "data": [
                {
                    "id": f"il_{n}",
                    "object": "line_item",
                    "amount": 100,
                    "description": f"line {n}",
                    "quantity": 1,
                }
                for n in range(300)
            ],
        },
    }
    lines.add("invoices", invoice)
    lines.event(event("evt_many_lines", "invoice.paid", invoice), "sent:stripe_invoice_paid")
    lines.person("lines@example.com")
    cases.append(lines)

    garbage = Case(
        "event_bad_previous",
        "a subscription update whose previous_attributes is a string",
        "skip:invalid_field:previous_attributes",
    )
    garbage.add("customers", customer("cus_event_prev", "prev@example.com"))
    plain = price("price_event_prev", "Basic")
    garbage.add("prices", plain)
    sub = subscription("sub_event_prev", "cus_event_prev", plain)
    garbage.add("subscriptions", sub)
    bad_update = event("evt_bad_previous", "customer.subscription.updated", sub)
    bad_update["data"]["previous_attributes"] = "status=trialing"
    garbage.event(bad_update, "skip:invalid_field:previous_attributes")
    garbage.person("prev@example.com")
    cases.append(garbage)
    return cases


def _page_cases() -> list[Case]:
    """Whole pages broken on the wire (see PAGE_FAULTS): retried, then read in full."""
    cases = [
        Case("page_malformed_json", "the first two /v1/charges pages answer 200 with JSON cut "
             "in half", "processed"),
        Case("page_html_200", "the sync's first two /v1/events pages answer 200 with a "
             "gateway's HTML page", "processed"),
        Case("page_invalid_utf8", "the first /v1/customers page answers 200 with bytes that "
             "are not UTF-8 inside its JSON", "processed"),
    ]  # fmt: skip
    for case, resource in zip(cases, ("charges", "events", "customers"), strict=True):
        case.expect[f"page:{resource}"] = "every object read"
    return cases


# The wire faults of _page_cases, set with POST /_sandbox/config before the run.
PAGE_FAULTS: list[dict[str, Any]] = [
    {"path": "/v1/charges", "body": "malformed_json", "times": 2},
    # After the backfill's and the sync's clock requests: the sync's listing itself.
    {"path": "/v1/events", "body": "html", "times": 2, "after": 2},
    {"path": "/v1/customers", "body": "invalid_utf8", "times": 1},
]
