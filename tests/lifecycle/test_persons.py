"""Whose event it is: the attribute engine's identifier strategies, guests, deleted customers."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_cio.lifecycle import Mapped, Skipped

ANN = {
    "id": "cus_ann",
    "object": "customer",
    "email": " Ann@Example.com ",
    "metadata": {"user_id": " u42 "},
}
NO_EMAIL: dict[str, Any] = {"id": "cus_anon", "object": "customer", "email": None, "metadata": {}}


def invoice(customer: str) -> dict[str, Any]:
    return {
        "id": "in_1",
        "object": "invoice",
        "customer": customer,
        "currency": "usd",
        "amount_paid": 500,
        "lines": {"data": []},
    }


def person(kit: Any, event: dict[str, Any], **identity: Any) -> Any:
    result = kit.map(
        event, kit.lookup(customers=[ANN, NO_EMAIL]), identity=kit.identity(**identity)
    )
    return result if isinstance(result, Skipped) else kit.one(result).identifiers


def test_the_three_identifier_strategies(kit: Any) -> None:
    event = kit.event("invoice.paid", invoice("cus_ann"))
    assert person(kit, event) == {"email": "ann@example.com"}
    assert person(kit, event, identifier="stripe_id") == {"id": "cus_ann"}
    assert person(kit, event, identifier="metadata:user_id") == {"id": "u42"}
    assert person(kit, event, identifier="metadata:other") == Skipped("no_identifier")


def test_a_customer_without_the_identifier_or_unknown_to_the_ledger(kit: Any) -> None:
    assert person(kit, kit.event("invoice.paid", invoice("cus_anon"))) == Skipped("no_identifier")
    assert person(kit, kit.event("invoice.paid", invoice("cus_gone"))) == Skipped(
        "unknown_customer"
    )
    # Its id is all a stripe_id person needs.
    assert person(kit, kit.event("invoice.paid", invoice("cus_gone")), identifier="stripe_id") == {
        "id": "cus_gone"
    }


def test_a_charge_of_a_customer_without_email_does_not_fall_back_to_billing(kit: Any) -> None:
    charge = {
        "id": "ch_1",
        "object": "charge",
        "customer": "cus_anon",
        "amount": 100,
        "currency": "usd",
        "billing_details": {"email": "billing@example.com"},
    }
    assert person(kit, kit.event("charge.succeeded", charge)) == Skipped("no_identifier")


def test_guests_are_persons_under_email_only(kit: Any) -> None:
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "customer": None,
        "customer_details": {"email": " Guest@Example.com"},
        "customer_email": None,
    }
    event = kit.event("checkout.session.completed", session)
    assert person(kit, event) == {"email": "guest@example.com"}
    assert person(kit, event, identifier="stripe_id") == Skipped("no_customer")
    prefilled = {**session, "customer_details": None, "customer_email": "pre@example.com"}
    assert person(kit, kit.event("checkout.session.completed", prefilled)) == {
        "email": "pre@example.com"
    }
    nobody = {**session, "customer_details": {"email": "  "}}
    assert person(kit, kit.event("checkout.session.completed", nobody)) == Skipped("no_customer")


def test_every_sandbox_event_goes_to_its_customers_email(kit: Any) -> None:
    account = kit.synthetic()
    lookup = account.lookup
    customers = account.objects["customers"]
    charges = account.objects["charges"]
    checked = 0
    for event in account.events:
        result = kit.map(event, lookup)
        if not isinstance(result, Mapped) or not result.events:
            continue
        obj = event["data"]["object"]
        if obj["object"] == "dispute":
            obj = charges[obj["charge"]]
        owner = obj["id"] if obj["object"] == "customer" else obj.get("customer")
        if owner is not None:
            email = customers[owner]["email"]
        elif obj["object"] == "charge":
            email = obj["billing_details"]["email"]
        else:
            email = obj["customer_details"]["email"]
        assert result.events[0].identifiers == {"email": email.strip().lower()}
        checked += 1
    assert checked > 1000


def test_a_deleted_customer_still_resolves_and_customer_created_identifies(kit: Any) -> None:
    account = kit.synthetic()
    lookup = account.lookup
    (deleted, *_) = account.of_type("customer.deleted")
    cid = deleted["data"]["object"]["id"]
    assert lookup.customer(cid).deleted
    mapped = kit.map(deleted, lookup)
    assert isinstance(mapped, Mapped)
    email = deleted["data"]["object"]["email"].strip().lower()
    assert mapped.after[0].identifiers == {"email": email}
    created = kit.event("customer.created", deleted["data"]["object"])
    result = kit.map(created, lookup, identity=kit.identity(identifier="stripe_id", prefix="acme_"))
    assert isinstance(result, Mapped)
    (identify,) = result.before
    assert identify.identifiers == {"id": cid}
    assert identify.attributes == {"acme_customer_id": cid, "email": email}


def test_the_customer_created_event_uses_the_event_object_when_the_ledger_lacks_it(
    kit: Any,
) -> None:
    fresh = {"id": "cus_new", "object": "customer", "email": "New@Example.com", "name": "N"}
    mapped = kit.map(kit.event("customer.created", fresh))
    assert kit.one(mapped).identifiers == {"email": "new@example.com"}


@pytest.mark.parametrize("identifier", ["email", "stripe_id"])
def test_customer_created_data_email_is_normalised_as_the_identifier(
    kit: Any, identifier: str
) -> None:
    fresh = {"id": "cus_ann", "object": "customer", "email": "  Ann@Example.COM ", "name": "Ann"}
    event = kit.event("customer.created", fresh)
    item = kit.one(kit.map(event, identity=kit.identity(identifier=identifier)))
    assert item.data["email"] == "ann@example.com"
    if identifier == "email":
        assert item.identifiers == {"email": item.data["email"]}


def test_customer_created_without_a_usable_email_has_a_null_email_datum(kit: Any) -> None:
    blank = {"id": "cus_blank", "object": "customer", "email": "   ", "name": None}
    event = kit.event("customer.created", blank)
    item = kit.one(kit.map(event, identity=kit.identity(identifier="stripe_id")))
    assert item.data["email"] is None
    assert item.identifiers == {"id": "cus_blank"}


def test_a_customer_the_ledger_knows_only_as_a_deletion_stub(kit: Any) -> None:
    stub = {"id": "cus_ann", "object": "customer", "deleted": True}
    event = kit.event("customer.deleted", ANN)
    mapped = kit.map(event, kit.lookup(customers=[stub]))
    assert isinstance(mapped, Mapped)
    assert mapped.after[0].identifiers == {"email": "ann@example.com"}
    # Other objects carry only the id: there is nothing to fall back on.
    assert person(kit, kit.event("invoice.paid", invoice("cus_stub"))) == Skipped(
        "unknown_customer"
    )


BCC = {"id": "cus_bcc", "object": "customer", "email": "a@b.com\nBcc: x@y.com", "metadata": {}}


def test_an_email_that_is_not_an_address_identifies_nobody(kit: Any) -> None:
    created = kit.event("customer.created", BCC)
    lookup = kit.lookup(customers=[BCC])
    assert kit.map(created, lookup) == Skipped("invalid_email")
    # Under stripe_id the customer is its person, and the bad email is no attribute.
    mapped = kit.map(created, lookup, identity=kit.identity(identifier="stripe_id"))
    assert isinstance(mapped, Mapped)
    assert mapped.before
    for action in mapped.before:
        assert "email" not in (action.attributes or {})
    for item in mapped.events:
        assert item.data.get("email") is None
    guest = {
        "id": "ch_guest",
        "object": "charge",
        "customer": None,
        "billing_details": {"email": '"Name" <a@b.com>'},
        "amount": 500,
        "currency": "usd",
        "status": "succeeded",
    }
    assert kit.map(kit.event("charge.succeeded", guest), kit.lookup()) == Skipped("invalid_email")
