"""Data that cannot be true is rejected with its reason: over-refunded charges, refunds larger
than their charge (whichever arrives first), emails that are not addresses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stripe_cio.ledger import Ledger
from stripe_cio.ledger.normalise import Normalised, Reject, normalise_charge, normalise_customer

Example = Callable[[str], dict[str, Any]]


def _charge(example: Example, **fields: Any) -> dict[str, Any]:
    base = {"id": "ch_x", "amount": 2_000, "amount_captured": 2_000, "amount_refunded": 0}
    return example("charge") | {"customer": "cus_x", **base, **fields}


def _refund(rid: str, charge: str, amount: int, created: int = 1_700_000_000) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "refund",
        "created": created,
        "charge": charge,
        "amount": amount,
        "currency": "usd",
        "status": "succeeded",
    }


def _event(eid: str, obj: dict[str, Any], created: int) -> dict[str, Any]:
    kind = "charge.succeeded" if obj["object"] == "charge" else "charge.refund.updated"
    return {
        "id": eid,
        "object": "event",
        "type": kind,
        "created": created,
        "api_version": "2025-03-31.basil",
        "data": {"object": obj},
    }


@pytest.mark.parametrize(
    ("fields", "version", "outcome"),
    [
        ({"amount_refunded": 2_001}, None, "amount_refunded_over_captured"),
        ({"amount_refunded": 999_999_999_99}, None, "amount_refunded_over_captured"),
        ({"amount_captured": 500, "amount_refunded": 501}, None, "amount_refunded_over_captured"),
        # Before basil the uncaptured 1,500 was booked as refunded: 2,000 is 500 in basil terms.
        ({"amount_captured": 500, "amount_refunded": 2_000}, "2024-06-20", None),
        (
            {"amount_captured": 500, "amount_refunded": 2_001},
            "2024-06-20",
            "amount_refunded_over_captured",
        ),
        ({"amount_refunded": 2_000}, None, None),
        # Overcapture is real (https://docs.stripe.com/payments/overcapture): not rejected.
        ({"amount_captured": 2_300, "amount_refunded": 2_300}, None, None),
        ({"amount_refunded": -1}, None, "negative_amount:amount_refunded"),
        ({"amount_captured": -1}, None, "negative_amount:amount_captured"),
    ],
)
def test_a_charge_never_refunds_more_than_it_captured(
    example: Example, fields: dict[str, Any], version: str | None, outcome: str | None
) -> None:
    result = normalise_charge(_charge(example, **fields), version)
    if outcome is None:
        assert isinstance(result, Normalised)
        assert result.row["amount_refunded"] <= result.row["amount_captured"]
    else:
        assert result == Reject(outcome)


def test_a_customer_with_a_bad_email_is_kept_with_a_field_reject(example: Example) -> None:
    good = normalise_customer(example("customer") | {"email": "  A@B.com "}, None)
    assert isinstance(good, Normalised)
    assert good.problems == ()
    bad = normalise_customer(example("customer") | {"email": "a@b.com\nBcc: x@y.com"}, None)
    assert isinstance(bad, Normalised)
    assert bad.row["email"] == "a@b.com\nBcc: x@y.com"  # as given; nothing downstream uses it
    assert bad.problems == ("email is not a valid address: 'a@b.com\\nBcc: x@y.com'",)


def test_a_guest_charge_with_a_bad_billing_email_is_kept_with_a_field_reject(
    example: Example,
) -> None:
    guest = _charge(example, customer=None, billing_details={"email": "not-an-email"})
    result = normalise_charge(guest, None)
    assert isinstance(result, Normalised)
    assert result.problems == ("email is not a valid address: 'not-an-email'",)
    # A customer's charge never uses its billing email: nothing to reject.
    owned = normalise_charge(_charge(example, billing_details={"email": "not-an-email"}), None)
    assert isinstance(owned, Normalised)
    assert owned.problems == ()


def test_field_rejects_are_recorded_once_however_often_the_object_is_read(
    ledger: Ledger, example: Example
) -> None:
    customer = example("customer") | {"id": "cus_bad", "email": "not-an-email"}
    first = ledger.write_objects("customers", [customer], observed_at=10)
    assert first.rejected == {"email is not a valid address: 'not-an-email'": 1}
    assert first.written == 1
    again = ledger.write_objects("customers", [customer | {"name": "x"}], observed_at=11)
    assert again.rejected == {}
    assert ledger.count("customers") == 1
    assert [(r["object_id"], r["reason"]) for r in ledger.rejects()] == [
        ("cus_bad", "email is not a valid address: 'not-an-email'")
    ]
    guest = _charge(example, customer=None, billing_details={"email": '"N" <a@b.com>'})
    written = ledger.write_objects("charges", [guest], observed_at=10)
    assert written.written == 1
    assert written.rejected == {"email is not a valid address: '\"N\" <a@b.com>'": 1}


def _rejected_refunds(ledger: Ledger) -> list[tuple[str, str]]:
    return [(r["object_id"], r["reason"]) for r in ledger.rejects() if r["resource"] == "refunds"]


def test_a_refund_larger_than_its_charge_is_rejected_when_the_charge_is_there(
    ledger: Ledger, example: Example
) -> None:
    ledger.write_objects("charges", [_charge(example)], observed_at=10)
    result = ledger.write_objects(
        "refunds",
        [_refund("re_ok", "ch_x", 2_000), _refund("re_over", "ch_x", 2_001)],
        observed_at=10,
    )
    assert (result.written, result.unchanged, result.rejected) == (
        1,
        0,
        {"refund_over_charge": 1},
    )
    assert set(ledger.raw_objects("refunds")) == {"re_ok"}
    assert _rejected_refunds(ledger) == [("re_over", "refund_over_charge")]


def test_a_refund_larger_than_its_charge_is_rejected_when_the_charge_comes_later(
    ledger: Ledger, example: Example
) -> None:
    # A refund of a charge the ledger has not seen yet cannot be judged: it is stored.
    stored = ledger.write_objects(
        "refunds", [_refund("re_over", "ch_x", 9_999_999)], observed_at=10
    )
    assert stored.written == 1
    assert stored.rejected == {}
    result = ledger.write_objects("charges", [_charge(example)], observed_at=10)
    assert result.written == 1
    assert result.rejected == {"refund_over_charge": 1}
    assert ledger.raw_objects("refunds") == {}
    assert _rejected_refunds(ledger) == [("re_over", "refund_over_charge")]


@pytest.mark.parametrize("refund_first", [True, False])
def test_events_reject_a_refund_larger_than_its_charge_in_either_order(
    ledger: Ledger, example: Example, refund_first: bool
) -> None:
    charge = _charge(example) | {"object": "charge"}
    refund = _refund("re_over", "ch_x", 2_500)
    objects = [refund, charge] if refund_first else [charge, refund]
    # One page each: the second object meets the first in the ledger.
    first = ledger.apply_events([_event("evt_1", objects[0], 100)], cursor=100)
    second = ledger.apply_events([_event("evt_2", objects[1], 101)], cursor=101)
    assert first.rejected == {}
    assert second.rejected == {"refund_over_charge": 1}
    assert ledger.raw_objects("refunds") == {}
    # Both in one page: the same.
    ledger_page = ledger.apply_events(
        [_event("evt_3", refund | {"id": "re_2"}, 102), _event("evt_4", charge, 103)],
        cursor=103,
    )
    assert ledger_page.rejected == {"refund_over_charge": 1}
    assert _rejected_refunds(ledger) == [
        ("re_over", "refund_over_charge"),
        ("re_2", "refund_over_charge"),
    ]


def test_a_refund_of_an_uncaptured_charge_before_basil_is_not_impossible(
    ledger: Ledger, example: Example
) -> None:
    # Releasing an uncaptured charge made a refund of its whole amount before basil.
    uncaptured = _charge(example, amount_captured=0, amount_refunded=2_000, captured=False)
    ledger.write_objects("charges", [uncaptured], observed_at=10, api_version="2024-06-20")
    result = ledger.write_objects("refunds", [_refund("re_release", "ch_x", 2_000)], observed_at=10)
    assert result.rejected == {}
    assert set(ledger.raw_objects("refunds")) == {"re_release"}
