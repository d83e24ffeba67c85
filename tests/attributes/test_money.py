"""Money: exponents, exact half-to-even rounding, the primary currency and its totals."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from stripe_cio.attributes import exponent
from stripe_cio.attributes.money import round_half_even_div, to_major

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)
ANN = "ann@example.com"


def test_exponents_follow_stripe() -> None:
    assert [exponent(c) for c in ("jpy", "krw", "xof", "ugx")] == [0, 0, 0, 0]
    assert [exponent(c) for c in ("bhd", "jod", "kwd", "omr", "tnd")] == [3, 3, 3, 3, 3]
    assert [exponent(c) for c in ("usd", "eur", "isk", "huf")] == [2, 2, 2, 2]


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**6))
def test_round_half_even_div_is_exact(numerator: int, denominator: int) -> None:
    expected = round(Fraction(numerator, denominator))  # Python rounds Fractions half to even
    got = round_half_even_div(np.array([numerator], dtype=np.int64), denominator)
    assert int(got[0]) == expected


def test_major_units_are_the_nearest_double_to_the_decimal() -> None:
    minor = np.array([1999, 12345, 1234, -5], dtype=np.int64)
    major = to_major(minor, np.array([2, 3, 0, 2], dtype=np.int64))
    assert major.tolist() == [19.99, 12.345, 1234.0, -0.05]


def person(kit: Kit, customers: list[dict[str, Any]], **tables: Any) -> dict[str, Any]:
    found: dict[str, Any] = kit.compute(customers=customers, **tables).person(ANN)
    return found


def test_zero_and_three_decimal_currencies(kit: Kit) -> None:
    jpy = person(
        kit,
        [kit.customer("cus_1", ANN)],
        charges=[kit.charge("ch_1", "cus_1", amount=1234, currency="jpy")],
    )
    assert jpy["total_spent"] == 1234.0
    assert jpy["total_spent_by_currency"] == {"jpy": 1234.0}
    kwd = person(
        kit,
        [kit.customer("cus_1", ANN)],
        charges=[
            kit.charge("ch_1", "cus_1", amount=12345, currency="kwd"),
            kit.charge("ch_2", "cus_1", amount=10000, currency="kwd", refunded=1),
        ],
    )
    assert kwd["total_spent"] == 22.344
    assert kwd["refunded_total"] == 0.001
    assert kwd["average_order_value"] == 11.172  # 22345 / 2 = 11172.5 -> 11172 (even)


def test_average_order_value_rounds_half_to_even_on_captured_amounts(kit: Kit) -> None:
    def average(*amounts: int) -> Any:
        charges = [kit.charge(f"ch_{i}", "cus_1", amount=a) for i, a in enumerate(amounts)]
        return person(kit, [kit.customer("cus_1", ANN)], charges=charges)["average_order_value"]

    assert average(1001, 1000) == 10.0  # 1000.5 -> 1000
    assert average(1003, 1000) == 10.02  # 1001.5 -> 1002


def test_the_customer_currency_is_primary_and_totals_keep_to_it(kit: Kit) -> None:
    ann = person(
        kit,
        [
            kit.customer("cus_1", ANN, created=kit.T0, currency="gbp"),
            kit.customer("cus_2", ANN, created=kit.T0 + 9),  # newer, but without a currency
        ],
        charges=[
            kit.charge("ch_1", "cus_1", amount=1000, currency="usd", refunded=100),
            kit.charge("ch_2", "cus_2", amount=2000, currency="usd"),
            kit.charge("ch_3", "cus_1", amount=550, currency="gbp", refunded=50),
        ],
    )
    assert ann["currency"] == "gbp"
    assert ann["total_spent"] == 5.0
    assert ann["refunded_total"] == 0.5
    assert ann["average_order_value"] == 5.5
    assert ann["total_spent_by_currency"] == {"gbp": 5.0, "usd": 29.0}
    assert ann["purchase_count"] == 3


def test_a_primary_currency_without_purchases_gives_zero_totals(kit: Kit) -> None:
    ann = person(
        kit,
        [kit.customer("cus_1", ANN, currency="eur")],
        charges=[kit.charge("ch_1", "cus_1", amount=1000, currency="usd")],
    )
    assert ann["currency"] == "eur"
    assert ann["total_spent"] == 0
    assert ann["refunded_total"] == 0
    assert "average_order_value" not in ann
    assert ann["total_spent_by_currency"] == {"usd": 10.0}


def test_without_a_customer_currency_the_most_purchases_decide(kit: Kit) -> None:
    t = kit.AS_OF - 50 * kit.DAY
    ann = person(
        kit,
        [kit.customer("cus_1", ANN)],
        charges=[
            kit.charge("ch_1", "cus_1", created=t, currency="eur"),
            kit.charge("ch_2", "cus_1", created=t + 1, currency="eur"),
            kit.charge("ch_3", "cus_1", created=t + 9, currency="usd"),
        ],
    )
    assert ann["currency"] == "eur"


def test_equal_purchase_counts_go_to_the_most_recent_purchase(kit: Kit) -> None:
    t = kit.AS_OF - 50 * kit.DAY
    charges = [
        kit.charge("ch_1", "cus_1", created=t, currency="eur"),
        kit.charge("ch_2", "cus_1", created=t + 5, currency="usd"),
        kit.charge("ch_3", "cus_1", created=t + 7, currency="eur"),
        kit.charge("ch_4", "cus_1", created=t + 9, currency="usd"),
    ]
    assert person(kit, [kit.customer("cus_1", ANN)], charges=charges)["currency"] == "usd"
    # The same second: the larger charge id wins.
    charges[3] = kit.charge("ch_0", "cus_1", created=t + 7, currency="usd")
    assert person(kit, [kit.customer("cus_1", ANN)], charges=charges)["currency"] == "eur"
    charges[3] = kit.charge("ch_9", "cus_1", created=t + 7, currency="usd")
    assert person(kit, [kit.customer("cus_1", ANN)], charges=charges)["currency"] == "usd"


def test_without_purchases_the_latest_subscription_decides(kit: Kit) -> None:
    ann = person(
        kit,
        [kit.customer("cus_1", ANN)],
        subscriptions=[
            kit.subscription("sub_1", "cus_1", created=kit.T0, currency="cad"),
            kit.subscription("sub_3", "cus_1", created=kit.T0 + 9, currency="aud"),
            kit.subscription("sub_2", "cus_1", created=kit.T0 + 9, currency="nzd"),
        ],
    )
    assert ann["currency"] == "aud"


def test_lost_disputes_come_off_the_total_and_won_ones_do_not(kit: Kit) -> None:
    ann = person(
        kit,
        [kit.customer("cus_1", ANN)],
        charges=[
            kit.charge("ch_1", "cus_1", amount=1000),
            kit.charge("ch_2", "cus_1", amount=2000),
            kit.charge("ch_3", "cus_1", amount=500, currency="eur"),
        ],
        disputes=[
            kit.dispute("ch_1", 1000, "lost"),
            kit.dispute("ch_2", 2000, "won"),
            kit.dispute("ch_3", 200, "lost"),
        ],
    )
    assert ann["total_spent"] == 20.0
    assert ann["total_spent_by_currency"] == {"eur": 3.0, "usd": 20.0}
    assert ann["average_order_value"] == 15.0  # captured amounts, disputes aside


def test_lost_disputes_beyond_the_captures_make_a_negative_total(kit: Kit) -> None:
    ann = person(
        kit,
        [kit.customer("cus_1", ANN)],
        charges=[kit.charge("ch_1", "cus_1", amount=1000, refunded=400)],
        disputes=[kit.dispute("ch_1", 1000, "lost")],
    )
    assert ann["total_spent"] == -4.0
