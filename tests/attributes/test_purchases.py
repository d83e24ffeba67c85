"""Purchases, windows, gaps, refunds, disputes and failed payments."""

from __future__ import annotations

from typing import Any

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)
ANN = "ann@example.com"


def one_person(kit: Kit, charges: list[dict[str, Any]], **tables: Any) -> dict[str, Any]:
    computed = kit.compute(customers=[kit.customer("cus_1", ANN)], charges=charges, **tables)
    person: dict[str, Any] = computed.person(ANN)
    return person


def test_only_succeeded_captured_charges_are_purchases(kit: Kit) -> None:
    ann = one_person(
        kit,
        [
            kit.charge("ch_paid", "cus_1", amount=1000),
            # An uncaptured authorisation, and an expired one (basil: nothing refunded).
            kit.charge("ch_held", "cus_1", amount=5000, captured=0),
            kit.charge("ch_expired", "cus_1", amount=4000, captured=0, refunded=0),
            kit.charge("ch_failed", "cus_1", amount=3000, status="failed"),
            kit.charge("ch_pending", "cus_1", amount=2000, status="pending"),
        ],
    )
    assert ann["purchase_count"] == 1
    assert ann["total_spent"] == 10.0
    assert ann["refund_count"] == 0
    assert ann["average_order_value"] == 10.0


def test_a_partial_capture_counts_what_was_captured(kit: Kit) -> None:
    ann = one_person(kit, [kit.charge("ch_1", "cus_1", amount=5000, captured=1500)])
    assert ann["total_spent"] == 15.0
    assert ann["average_order_value"] == 15.0
    assert ann["refunded_total"] == 0


def test_partial_and_full_refunds(kit: Kit) -> None:
    ann = one_person(
        kit,
        [
            kit.charge("ch_1", "cus_1", amount=1000, refunded=300),
            kit.charge("ch_2", "cus_1", amount=2000, refunded=2000),
            kit.charge("ch_3", "cus_1", amount=500),
        ],
    )
    assert ann["purchase_count"] == 3  # a fully refunded charge is still a purchase
    assert ann["refund_count"] == 2
    assert ann["refunded_total"] == 23.0
    assert ann["total_spent"] == 12.0  # 700 + 0 + 500
    assert ann["average_order_value"] == 11.67  # 3500 / 3 = 1166.67 captured


def test_first_and_last_purchase(kit: Kit) -> None:
    t = kit.AS_OF - 200 * kit.DAY
    ann = one_person(
        kit,
        [
            kit.charge("ch_2", "cus_1", created=t + 5000),
            kit.charge("ch_1", "cus_1", created=t),
            kit.charge("ch_3", "cus_1", created=t + 9000, status="failed"),
        ],
    )
    assert ann["first_purchase_at"] == t
    assert ann["last_purchase_at"] == t + 5000


def test_windows_are_open_at_the_start_and_closed_at_as_of(kit: Kit) -> None:
    now, day = kit.AS_OF, kit.DAY
    ann = one_person(
        kit,
        [
            kit.charge("ch_now", "cus_1", created=now),
            kit.charge("ch_edge30", "cus_1", created=now - 30 * day),
            kit.charge("ch_in30", "cus_1", created=now - 30 * day + 1),
            kit.charge("ch_edge90", "cus_1", created=now - 90 * day),
            kit.charge("ch_200d", "cus_1", created=now - 200 * day),
            kit.charge("ch_edge365", "cus_1", created=now - 365 * day),
            kit.charge("ch_future", "cus_1", created=now + 1),
        ],
    )
    assert ann["purchases_last_30d"] == 2
    assert ann["purchases_last_90d"] == 3
    assert ann["purchases_last_365d"] == 5
    assert ann["purchase_count"] == 7


def test_days_between_purchases_is_the_mean_gap_rounded_half_to_even(kit: Kit) -> None:
    t, day = kit.AS_OF - 100 * kit.DAY, kit.DAY

    def gap(*offsets: int) -> Any:
        charges = [kit.charge(f"ch_{i}", "cus_1", created=t + o) for i, o in enumerate(offsets)]
        return one_person(kit, charges).get("days_between_purchases")

    assert gap(0, day, 3 * day) == 1.5
    assert gap(0, day * 125 // 100) == 1.2  # 1.25 -> 1.2
    assert gap(0, day * 135 // 100) == 1.4  # 1.35 -> 1.4
    assert gap(0, 0) == 0.0
    assert gap(0) is None  # fewer than two purchases


def test_gaps_span_every_currency(kit: Kit) -> None:
    t, day = kit.AS_OF - 100 * kit.DAY, kit.DAY
    ann = one_person(
        kit,
        [
            kit.charge("ch_1", "cus_1", created=t, currency="usd"),
            kit.charge("ch_2", "cus_1", created=t + 2 * day, currency="eur"),
            kit.charge("ch_3", "cus_1", created=t + 4 * day, currency="jpy"),
        ],
    )
    assert ann["days_between_purchases"] == 2.0
    assert ann["purchase_count"] == 3


def test_disputes_count_and_open_ones_flag(kit: Kit) -> None:
    charges = [kit.charge(f"ch_{i}", "cus_1") for i in range(4)]
    ann = one_person(
        kit,
        charges,
        disputes=[
            kit.dispute("ch_0", 1000, "lost"),
            kit.dispute("ch_1", 1000, "won"),
            kit.dispute("ch_2", 1000, "warning_closed"),
        ],
    )
    assert ann["dispute_count"] == 3
    assert ann["has_open_dispute"] is False
    for status in (
        "warning_needs_response",
        "warning_under_review",
        "needs_response",
        "under_review",
    ):
        ann = one_person(kit, charges, disputes=[kit.dispute("ch_3", 500, status)])
        assert ann["has_open_dispute"] is True, status
        assert ann["dispute_count"] == 1


def test_failed_payments_in_90_days_and_the_latest_ever(kit: Kit) -> None:
    now, day = kit.AS_OF, kit.DAY
    ann = one_person(
        kit,
        [
            kit.charge("ch_1", "cus_1", created=now - 10 * day, status="failed"),
            kit.charge("ch_2", "cus_1", created=now - 90 * day, status="failed"),
            kit.charge("ch_3", "cus_1", created=now - 400 * day, status="failed"),
            kit.charge("ch_4", "cus_1", created=now - 5 * day),
        ],
    )
    assert ann["failed_payment_count_90d"] == 1
    assert ann["last_failed_payment_at"] == now - 10 * day
    assert ann["purchase_count"] == 1


def test_a_failed_guest_checkout_still_identifies_its_person(kit: Kit) -> None:
    computed = kit.compute(
        charges=[kit.charge("ch_1", None, status="failed", billing_email="guest@example.com")]
    )
    guest = computed.person("guest@example.com")
    assert guest["failed_payment_count_90d"] == 1
    assert guest["purchase_count"] == 0
    assert "currency" not in guest
