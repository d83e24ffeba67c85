"""The mapping's switches and skips: payment intents, renames, disabling, backfills, bad input."""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stripe_cio.lifecycle import DEFAULT_EVENT_NAMES, RULES, Mapped, Skipped

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"

CHARGE_KEYS = {"charge_id", "amount", "currency", "description", "receipt_url", "payment_intent_id"}
FAILED_KEYS = {
    "charge_id",
    "amount",
    "currency",
    "failure_code",
    "failure_message",
    "outcome_reason",
}


def counts(kit: Any, **settings: Any) -> Counter[str]:
    """Customer.io event names (and skip reasons) of every synthetic event."""
    account = kit.synthetic()
    lookup = account.lookup
    out: Counter[str] = Counter()
    for event in account.events:
        result = kit.map(event, lookup, kit.settings(**settings))
        if isinstance(result, Skipped):
            out[f"skip:{result.reason}"] += 1
        else:
            out.update(item.name for item in result.events)
    return out


def test_docs_table_has_a_row_per_rule_naming_its_event() -> None:
    """docs/events.md's contract table and RULES (stripe_cio/lifecycle/rules.py) agree."""
    rows = re.findall(r"^\| `([a-z_.]+)` \| `?([a-z_]+|—)`? \|", EVENTS_DOC.read_text(), re.M)
    documented = {stripe_type: name for stripe_type, name in rows if name != "—"}
    assert documented == {t: rule.event_name for t, rule in RULES.items()}


def test_every_row_of_the_table_comes_out_of_the_sandbox(kit: Any) -> None:
    names = counts(kit)
    for stripe_type, name in DEFAULT_EVENT_NAMES.items():
        if not stripe_type.startswith("payment_intent."):
            assert names[name] > 0, name
    assert names["skip:payment_intent_events_off"] > 0
    assert names["skip:unmapped_type"] > 0  # customer.updated, charge.captured, ...


def test_payment_intents_replace_charge_payments_when_switched_on(kit: Any) -> None:
    account = kit.synthetic()
    lookup = account.lookup
    on = kit.settings(payment_intent_events=True)
    succeeded = account.of_type("payment_intent.succeeded")
    for event in succeeded:
        result = kit.map(event, lookup, on)
        if isinstance(result, Skipped):  # a customer without an email
            assert result.reason == "no_identifier"
            assert not lookup.customer(event["data"]["object"]["customer"]).email
            continue
        item = kit.one(result)
        assert item.name == "stripe_payment_succeeded"
        assert set(item.data) == CHARGE_KEYS | {"stripe_event_id", "livemode"}
        intent = event["data"]["object"]
        assert item.data["payment_intent_id"] == intent["id"]
        assert item.data["charge_id"] == intent["latest_charge"]
        # The intent has no receipt URL; its charge in the ledger has.
        assert item.data["receipt_url"] == lookup.charge(intent["latest_charge"]).receipt_url
    guests = [e for e in succeeded if e["data"]["object"]["customer"] is None]
    assert guests, "the sandbox has guest payments"
    for event in guests:
        charge = lookup.charge(event["data"]["object"]["latest_charge"])
        email = charge.billing_email.strip().lower()
        assert kit.one(kit.map(event, lookup, on)).identifiers == {"email": email}
    for event in account.of_type("payment_intent.payment_failed"):
        result = kit.map(event, lookup, on)
        if isinstance(result, Skipped):
            assert result.reason == "no_identifier"
            continue
        item = kit.one(result)
        assert item.name == "stripe_payment_failed"
        assert set(item.data) == FAILED_KEYS | {"stripe_event_id", "livemode"}
        error = event["data"]["object"]["last_payment_error"]
        assert (item.data["failure_code"], item.data["outcome_reason"]) == (
            error["code"],
            error["decline_code"],
        )
    off = counts(kit, payment_intent_events=True)
    default = counts(kit)
    assert off["skip:charge_events_off"] == len(account.of_type("charge.succeeded")) + len(
        account.of_type("charge.failed")
    )
    # Refunds and disputes come from charge events either way.
    assert off["stripe_charge_refunded"] == default["stripe_charge_refunded"] > 0
    assert off["stripe_dispute_created"] == default["stripe_dispute_created"] > 0


def test_the_sandbox_charge_and_intent_of_one_payment_agree(kit: Any) -> None:
    account = kit.synthetic()
    lookup = account.lookup
    by_charge = {
        e["data"]["object"]["id"]: result.events[0].data
        for e in account.of_type("charge.succeeded")
        # captured at once: the intent received the whole amount
        if e["data"]["object"]["amount_captured"]
        and isinstance(result := kit.map(e, lookup), Mapped)
    }
    on = kit.settings(payment_intent_events=True)
    compared = 0
    for event in account.of_type("payment_intent.succeeded"):
        result = kit.map(event, lookup, on)
        if isinstance(result, Skipped):
            continue
        data = kit.one(result).data
        if data["charge_id"] in by_charge:
            ours = {k: v for k, v in data.items() if k != "stripe_event_id"}
            theirs = {
                k: v for k, v in by_charge[data["charge_id"]].items() if k != "stripe_event_id"
            }
            assert ours == theirs
            compared += 1
    assert compared > 100


def test_renamed_and_disabled_events(kit: Any) -> None:
    renamed = counts(
        kit,
        event_names="invoice.paid=receipt, charge.failed = card_failed",
        disabled="checkout.session.completed,customer.created",
    )
    default = counts(kit)
    assert renamed["receipt"] == default["stripe_invoice_paid"] > 0
    assert renamed["card_failed"] == default["stripe_payment_failed"] > 0
    assert renamed["stripe_invoice_paid"] == renamed["stripe_checkout_completed"] == 0
    account = kit.synthetic()
    assert renamed["skip:disabled"] == len(account.of_type("checkout.session.completed")) + len(
        account.of_type("customer.created")
    )


def test_disabling_customer_deleted_stops_its_person_change(kit: Any) -> None:
    account = kit.synthetic()
    (event, *_) = account.of_type("customer.deleted")
    assert isinstance(kit.map(event, account.lookup), Mapped)
    assert kit.map(event, account.lookup, kit.settings(disabled="customer.deleted")) == Skipped(
        "disabled"
    )


def test_events_replayed_during_a_backfill_are_not_sent_by_default(kit: Any) -> None:
    account = kit.synthetic()
    (event, *_) = account.of_type("invoice.paid")
    lookup = account.lookup
    t0 = event["created"] + 1
    assert kit.map(event, lookup, backfill_before=t0) == Skipped("backfill")
    assert isinstance(kit.map(event, lookup, backfill_before=event["created"]), Mapped)
    sent = kit.one(
        kit.map(event, lookup, kit.settings(send_backfill_events=True), backfill_before=t0)
    )
    assert sent.created == event["created"]  # with its original timestamp


def test_unmapped_and_malformed_events_are_skipped(kit: Any) -> None:
    customer = {"id": "cus_1", "object": "customer", "email": "a@example.com"}
    assert kit.map(kit.event("customer.updated", customer)) == Skipped("unmapped_type")
    assert kit.map(kit.event("invoice.created", {"id": "in_1"})) == Skipped("unmapped_type")
    good = kit.event("customer.created", customer)
    broken: list[Any] = [
        None,
        [],
        {**good, "id": None},
        {**good, "created": "1700000000"},
        {**good, "created": True},
        {**good, "type": None},
        {**good, "data": {}},
        {**good, "data": {"object": "cus_1"}},
    ]
    for event in broken:
        assert kit.map(event) == Skipped("malformed_event")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount": None}, "missing_field:amount"),
        ({"amount": "1000"}, "invalid_field:amount"),
        ({"amount": True}, "invalid_field:amount"),
        ({"currency": None}, "missing_field:currency"),
        ({"currency": "dollars"}, "invalid_field:currency"),
        ({"id": None}, "missing_field:id"),
        ({"object": "refund"}, "invalid_field:object"),
        ({"outcome": "declined"}, "invalid_field:outcome"),
        ({"customer": None, "billing_details": {"email": None}}, "no_customer"),
        ({"customer": "cus_unknown"}, "unknown_customer"),
    ],
)
def test_objects_missing_what_the_row_needs_are_skipped_with_the_reason(
    kit: Any, stripe_examples: dict[str, Any], changes: dict[str, Any], reason: str
) -> None:
    customer = {**stripe_examples["customer"], "email": "a@example.com"}
    charge = {**stripe_examples["charge"], "customer": customer["id"], **changes}
    result = kit.map(kit.event("charge.failed", charge), kit.lookup(customers=[customer]))
    assert result == Skipped(reason)


def test_mapping_never_mutates_its_input(kit: Any) -> None:
    account = kit.synthetic()
    lookup = account.lookup
    settings = kit.settings(payment_intent_events=True, send_backfill_events=True)
    for event in account.events[:3000]:
        before = copy.deepcopy(event)
        kit.map(event, lookup)
        kit.map(event, lookup, settings, backfill_before=event["created"] + 1)
        assert event == before


def test_livemode_and_the_timestamp_come_from_the_event(kit: Any) -> None:
    customer = {"id": "cus_1", "object": "customer", "email": "a@example.com"}
    item = kit.one(kit.map(kit.event("customer.created", customer, created=123, livemode=True)))
    assert (item.created, item.data["livemode"]) == (123, True)
    event = kit.event("customer.created", customer)
    del event["livemode"]
    assert kit.one(kit.map(event)).data["livemode"] is None
