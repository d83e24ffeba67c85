"""The hostile-input corpus: Stripe objects and events that try to break the pipeline.

Each `Case` is a small piece of a Stripe account (objects in the sandbox's lists, events in
`/v1/events`) and the outcome every record of it must reach: stored in the ledger or rejected
with its reason, a person delivered to Customer.io or dead-lettered with its reason, an event
sent, skipped or rejected with its reason. All cases share one account, so the good records of
a case sit in the same list pages as the hostile ones.

`python tests/reliability/hostile/corpus.py FILE` writes the account as a fixtures file for
`stripe-cio sandbox stripe --fixtures FILE --now 1767225600`.

Outcome keys (`Case.expect`):

- `ledger:<resource>/<id>` -> `stored` or `reject:<reason>` (the ledger's `rejects` table)
- `person:<identifier>` -> `delivered` or `dead:<reason>` (a dead letter)
- `event:<id>` -> `sent:<Customer.io event>`, `action` (a person change, no event),
  `skip:<lifecycle reason>`, `reject:<reason>` (the ledger refused the event itself) or
  `dead:<reason>` (Customer.io's limits refused the event made of it)

`Case.attribute_skips` are the rows the attribute engine leaves out, by `table: reason`,
counted over the whole account after the last sync.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["CASES", "NOW", "PAGE_FAULTS", "Case", "account", "write_fixtures"]

NOW = 1_767_225_600  # the sandbox clock: 2026-01-01T00:00:00Z
DAY = 86_400
OBJECTS_AT = NOW - 25 * DAY  # objects are created from here, a second apart per case
EVENTS_AT = NOW - 10 * DAY  # events from here: within Stripe's 30 days of the clock

RESOURCES = (
    "customers",
    "charges",
    "payment_intents",
    "invoices",
    "subscriptions",
    "refunds",
    "disputes",
    "checkout_sessions",
    "events",
    "prices",
    "products",
)


@dataclass
class Case:
    """One hostile input, the records that carry it and the outcome of each."""

    name: str
    covers: str  # the hostile input, in words
    outcome: str  # the headline: processed, skip:<reason> or reject:<reason>
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    expect: dict[str, str] = field(default_factory=dict)
    attribute_skips: Counter[str] = field(default_factory=Counter)
    # Rejects the ledger records beyond one per `ledger:` expectation (`resource: reason`):
    # those without a usable object id, and objects rejected again when an event carries them.
    extra_rejects: Counter[str] = field(default_factory=Counter)
    # person -> attribute -> the value Customer.io must hold.
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, resource: str, obj: dict[str, Any], outcome: str = "stored") -> None:
        """Put `obj` in the sandbox's `resource` list, expecting `outcome` in the ledger."""
        self.objects.setdefault(resource, []).append(obj)
        self.expect[f"ledger:{resource}/{obj['id']}"] = outcome

    def event(self, obj: dict[str, Any], outcome: str) -> None:
        self.events.append(obj)
        self.expect[f"event:{obj['id']}"] = outcome

    def person(self, identifier: str, outcome: str = "delivered") -> None:
        self.expect[f"person:{identifier}"] = outcome

    def ledger(self, resource: str, object_id: str, outcome: str = "stored") -> None:
        """Expect `outcome` for an object that reaches the ledger through an event only."""
        self.expect[f"ledger:{resource}/{object_id}"] = outcome


# --- Stripe-shaped objects ------------------------------------------------------------------

_clock = iter(range(OBJECTS_AT, OBJECTS_AT + DAY))
_event_clock = iter(range(EVENTS_AT, EVENTS_AT + DAY, 7))


def customer(cid: str, email: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "customer",
        "created": next(_clock),
        "email": email,
        "name": None,
        "currency": None,
        "delinquent": False,
        "livemode": False,
        "metadata": {},
        **extra,
    }


def charge(chid: str, cus: Any, amount: Any = 2_000, **extra: Any) -> dict[str, Any]:
    return {
        "id": chid,
        "object": "charge",
        "created": next(_clock),
        "customer": cus,
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "succeeded",
        "paid": True,
        "captured": True,
        "refunded": False,
        "disputed": False,
        "livemode": False,
        "billing_details": {"email": None},
        "outcome": {"reason": None},
        "payment_intent": None,
        "description": "order",
        "receipt_url": None,
        "failure_code": None,
        "failure_message": None,
        **extra,
    }


def event(eid: str, kind: Any, obj: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "object": "event",
        "created": next(_event_clock),
        "type": kind,
        "api_version": "2025-03-31.basil",
        "livemode": False,
        "data": {"object": obj},
        **extra,
    }


def price(pid: str, nickname: str | None, unit_amount: int = 1_500) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "price",
        "created": next(_clock),
        "active": True,
        "currency": "usd",
        "unit_amount": unit_amount,
        "nickname": nickname,
        "lookup_key": None,
        "product": "prod_hostile",
        "type": "recurring",
        "recurring": {"interval": "month", "interval_count": 1},
        "livemode": False,
    }


def subscription(sid: str, cus: str, item_price: dict[str, Any]) -> dict[str, Any]:
    created = next(_clock)
    return {
        "id": sid,
        "object": "subscription",
        "created": created,
        "customer": cus,
        "status": "active",
        "currency": "usd",
        "start_date": created,
        "cancel_at_period_end": False,
        "cancel_at": None,
        "canceled_at": None,
        "ended_at": None,
        "trial_end": None,
        "livemode": False,
        "metadata": {},
        "items": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": f"si_{sid}",
                    "object": "subscription_item",
                    "quantity": 1,
                    "price": item_price,
                    "created": created,
                }
            ],
        },
    }


# --- the cases ------------------------------------------------------------------------------


def _customer_cases() -> list[Case]:
    cases = []

    def simple(tag: str, covers: str, email: Any, person: str | None, outcome: str) -> Case:
        case = Case(tag, covers, outcome)
        case.add("customers", customer(f"cus_{tag}", email))
        case.add("charges", charge(f"ch_{tag}", f"cus_{tag}"))
        if person is not None:
            case.person(person)
        return case

    cases.append(
        simple(
            "good",
            "a well-formed customer and charge (control)",
            "good@example.com",
            "good@example.com",
            "processed",
        )
    )
    cases.append(
        simple(
            "email_spaces",
            "an email with leading and trailing spaces",
            "  Spaced.Out@Example.com \t",
            "spaced.out@example.com",
            "processed",
        )
    )
    cases.append(
        simple(
            "email_case",
            "an email in mixed case",
            "MiXeD.CaSe@ExAmPlE.CoM",
            "mixed.case@example.com",
            "processed",
        )
    )
    # Syntax is Customer.io's to judge: the identifier is sent as Stripe holds it (trimmed,
    # lower-cased); the sandbox, like the Track API's batch endpoint, accepts it.
    cases.append(
        simple(
            "email_inner_space",
            "an email with a space inside",
            "john doe@example.com",
            "john doe@example.com",
            "processed",
        )
    )
    cases.append(
        simple("email_syntax", "an email without an @", "not-an-email", "not-an-email", "processed")
    )
    cases.append(
        simple(
            "email_unicode",
            "an internationalised email and a BOM in the name",
            "José@Exämple.com",
            "josé@exämple.com",
            "processed",
        )
    )
    cases[-1].objects["customers"][0]["name"] = "Jos\u00c3\u00a9 \ufffd\ufeff"

    missing = simple(
        "email_missing", "a customer without an email (null)", None, None, "skip:no_identifier"
    )
    missing.attribute_skips.update({"customers: no_identifier": 1, "charges: no_identifier": 1})
    cases.append(missing)
    blank = simple("email_blank", "an email of spaces only", "   ", None, "skip:no_identifier")
    blank.attribute_skips.update({"customers: no_identifier": 1, "charges: no_identifier": 1})
    cases.append(blank)

    wrong = Case("email_number", "an email that is a number", "reject:invalid_field:email")
    wrong.add("customers", customer("cus_email_number", 12345), "reject:invalid_field:email")
    cases.append(wrong)

    long_email = "x" * 200 + "@example.com"
    too_long = simple(
        "email_too_long",
        "an email identifier over 150 bytes",
        long_email,
        None,
        "reject:identifier_too_long",
    )
    too_long.person(long_email, "dead:identifier_too_long")
    cases.append(too_long)

    long_id = Case(
        "id_over_150_bytes",
        "a customer id of 204 bytes (an attribute, not the identifier, under the email strategy)",
        "processed",
    )
    cid = "cus_" + "L" * 200
    long_id.add("customers", customer(cid, "longid@example.com"))
    long_id.add("charges", charge("ch_id_over_150_bytes", cid))
    long_id.person("longid@example.com")
    cases.append(long_id)

    many = Case(
        "customer_ids_over_1000_bytes",
        "40 customers sharing one email: the customer ids attribute is over 1,000 bytes",
        "reject:attribute_value_too_long",
    )
    for n in range(40):
        many.add("customers", customer(f"cus_shared_email_{n:02d}_padding", "shared@example.com"))
    many.person("shared@example.com", "dead:attribute_value_too_long")
    cases.append(many)

    meta = Case("metadata_500_keys", "metadata with 500 keys", "processed")
    meta.add(
        "customers",
        customer(
            "cus_metadata_500",
            "meta@example.com",
            metadata={f"key_{n:03d}": "v" * 20 for n in range(500)},
        ),
    )
    meta.person("meta@example.com")
    cases.append(meta)

    bad_meta = Case("metadata_list", "metadata that is a list", "reject:invalid_field:metadata")
    bad_meta.add(
        "customers",
        customer("cus_metadata_list", "metalist@example.com", metadata=["a", "b"]),
        "reject:invalid_field:metadata",
    )
    cases.append(bad_meta)

    kind = Case("wrong_object", "a charge inside the customers list", "reject:wrong_object_type")
    kind.add(
        "customers",
        {**charge("cus_wrong_object", None), "object": "charge"},
        "reject:wrong_object_type",
    )
    cases.append(kind)

    cur = Case(
        "customer_currency",
        "a customer with an unknown upper-case currency",
        "reject:unknown_currency:XYZ",
    )
    cur.add(
        "customers",
        customer("cus_currency_xyz", "xyz@example.com", currency="XYZ"),
        "reject:unknown_currency:XYZ",
    )
    cases.append(cur)

    control = Case(
        "control_chars",
        "control, escape and bidi-override characters in a name, "
        "sent in the customer.created event",
        "processed",
    )
    ctl = customer(
        "cus_control_chars", "ctl@example.com", name="Ctl\u0001\u001b[31m\u202eevil\u0007\u00ff"
    )
    control.add("customers", ctl)
    control.event(
        event("evt_control_chars", "customer.created", ctl), "sent:stripe_customer_created"
    )
    control.person("ctl@example.com")
    cases.append(control)

    # Found by this corpus: PostgreSQL text cannot hold NUL, and one such name failed the whole
    # backfill batch there. Rejected (nul_character) on every backend now.
    nul = Case(
        "nul_in_name",
        "a NUL character in a customer's name, also in its customer.created event",
        "reject:nul_character:name",
    )
    nul_customer = customer("cus_nul_name", "nul@example.com", name="Nul\u0000Name")
    nul.add("customers", nul_customer, "reject:nul_character:name")
    # The ledger rejects the event's copy too; the event itself still names its person.
    nul.event(
        event("evt_nul_name", "customer.created", nul_customer), "sent:stripe_customer_created"
    )
    nul.extra_rejects["customers: nul_character:name"] += 1
    nul.person("nul@example.com")
    cases.append(nul)

    nul_id = Case("nul_in_id", "a NUL character in a customer id", "reject:nul_character:id")
    nul_id.objects["customers"] = [customer("cus_nul\u0000id", "nulid@example.com")]
    nul_id.extra_rejects["customers: nul_character:id"] += 1
    cases.append(nul_id)
    return cases


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
            if value is _DROP:
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
            currency=_DROP,
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
            status=_DROP,
        ),
        one(
            "captured_missing",
            "a charge without amount_captured",
            "reject:missing_field:amount_captured",
            amount_captured=_DROP,
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
            "created": next(_clock),
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
            "created": next(_clock),
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


_DROP = object()


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
        "created": next(_clock),
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

CASES: list[Case] = [*_customer_cases(), *_charge_cases(), *_event_cases(), *_page_cases()]


def account() -> dict[str, list[dict[str, Any]]]:
    """Every case's objects and events, as the fixtures file's resource lists."""
    out: dict[str, list[dict[str, Any]]] = {resource: [] for resource in RESOURCES}
    for case in CASES:
        for resource, objects in case.objects.items():
            out[resource].extend(objects)
        out["events"].extend(case.events)
    return out


def write_fixtures(path: Path) -> Path:
    """Write the account as a fixtures file for `stripe-cio sandbox stripe --fixtures`."""
    path.write_bytes(orjson.dumps(account()))
    return path


if __name__ == "__main__":
    print(write_fixtures(Path(sys.argv[1])))
