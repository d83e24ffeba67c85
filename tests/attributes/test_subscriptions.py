"""Subscriptions: monthly amounts, the primary subscription, its plan and dates, MRR."""

from __future__ import annotations

from typing import Any

Kit = Any  # the `kit` fixture's class (tests/attributes/conftest.py)
ANN = "ann@example.com"


def person(kit: Kit, subscriptions: list[Any], items: list[Any], **tables: Any) -> dict[str, Any]:
    tables.setdefault("customers", [kit.customer("cus_1", ANN, currency="usd")])
    computed = kit.compute(subscriptions=subscriptions, items=items, **tables)
    found: dict[str, Any] = computed.person(ANN)
    return found


def mrr(kit: Kit, *items: dict[str, Any], currency: str = "usd") -> Any:
    """The MRR of one active subscription with `items`, for a customer in `currency`."""
    return person(
        kit,
        [kit.subscription("sub_1", "cus_1", currency=currency)],
        list(items),
        customers=[kit.customer("cus_1", ANN, currency=currency)],
    )["mrr"]


def test_monthly_amounts_by_interval(kit: Kit) -> None:
    assert mrr(kit, kit.item("sub_1", 1000)) == 10.0
    assert mrr(kit, kit.item("sub_1", 1000, quantity=3)) == 30.0
    assert mrr(kit, kit.item("sub_1", 100, interval="day")) == 30.42  # x 365/12
    assert mrr(kit, kit.item("sub_1", 1000, interval="week")) == 43.33  # x 52/12
    assert mrr(kit, kit.item("sub_1", 12000, interval="year")) == 10.0


def test_interval_counts_divide_the_monthly_amount(kit: Kit) -> None:
    # Every 3 weeks: 3000 x 52/12 / 3 = 4333.33; every 3 years: 10000 / 36 = 277.78.
    assert mrr(kit, kit.item("sub_1", 3000, interval="week", interval_count=3)) == 43.33
    assert mrr(kit, kit.item("sub_1", 10000, interval="year", interval_count=3)) == 2.78
    assert (
        mrr(
            kit,
            kit.item("sub_1", 3000, interval="week", interval_count=3),
            kit.item("sub_1", 10000, position=1, interval="year", interval_count=3),
        )
        == 46.11
    )  # 4333.33 + 277.78 = 4611.11, rounded once


def test_mrr_rounds_once_half_to_even(kit: Kit) -> None:
    assert mrr(kit, kit.item("sub_1", 1001, interval_count=2)) == 5.0  # 500.5 -> 500
    assert mrr(kit, kit.item("sub_1", 1003, interval_count=2)) == 5.02  # 501.5 -> 502
    jpy = kit.item("sub_1", 1000, interval="week", currency="jpy")
    assert mrr(kit, jpy, currency="jpy") == 4333.0


def test_items_without_a_unit_amount_or_quantity_count_zero(kit: Kit) -> None:
    tiered = kit.item("sub_1", None, price="price_tiered")
    metered = kit.item("sub_1", 500, position=1, price="price_metered", quantity=None)
    flat = kit.item("sub_1", 700, position=2)
    assert mrr(kit, tiered, metered, flat) == 7.0
    assert mrr(kit, tiered) == 0


def test_only_items_in_the_primary_currency_count(kit: Kit) -> None:
    items = [kit.item("sub_1", 1000), kit.item("sub_1", 900, position=1, currency="eur")]
    assert mrr(kit, *items) == 10.0
    # An item without its own currency takes the subscription's.
    assert mrr(kit, kit.item("sub_1", 800, currency=None)) == 8.0


def test_mrr_counts_active_and_past_due_only(kit: Kit) -> None:
    statuses = ["active", "past_due", "trialing", "unpaid", "canceled", "paused"]
    subscriptions = [
        kit.subscription(f"sub_{s}", "cus_1", status=s, created=kit.T0 + i)
        for i, s in enumerate(statuses)
    ]
    items = [kit.item(f"sub_{s}", 1000 * (i + 1)) for i, s in enumerate(statuses)]
    ann = person(kit, subscriptions, items)
    assert ann["mrr"] == 30.0  # 1000 + 2000


def test_mrr_adds_up_over_the_persons_customers(kit: Kit) -> None:
    ann = person(
        kit,
        [kit.subscription("sub_1", "cus_1"), kit.subscription("sub_2", "cus_2")],
        [kit.item("sub_1", 1000), kit.item("sub_2", 2500)],
        customers=[kit.customer("cus_1", ANN, currency="usd"), kit.customer("cus_2", ANN)],
    )
    assert ann["mrr"] == 35.0


def test_the_primary_subscription_is_the_largest_live_one(kit: Kit) -> None:
    t = kit.T0
    ann = person(
        kit,
        [
            kit.subscription("sub_big_old", "cus_1", created=t, status="canceled"),
            kit.subscription("sub_small", "cus_1", created=t + 2, status="active"),
            kit.subscription("sub_large", "cus_1", created=t + 1, status="past_due"),
        ],
        [
            kit.item("sub_big_old", 99000, price="price_gold"),
            kit.item("sub_small", 1000, price="price_basic"),
            kit.item("sub_large", 5000, price="price_pro"),
        ],
        prices=[kit.price("price_pro", nickname="Pro")],
    )
    assert ann["subscription_status"] == "past_due"
    assert ann["plan"] == "Pro"
    assert ann["mrr"] == 60.0


def test_equal_live_amounts_go_to_the_most_recent_then_the_larger_id(kit: Kit) -> None:
    t = kit.T0

    def primary(*created: tuple[str, int]) -> Any:
        subs = [kit.subscription(s, "cus_1", created=c) for s, c in created]
        items = [kit.item(s, 1000, price=f"price_{s}") for s, _ in created]
        return person(kit, subs, items)["plan"]

    assert primary(("sub_a", t), ("sub_b", t + 5)) == "price_sub_b"
    assert primary(("sub_b", t + 5), ("sub_a", t + 5)) == "price_sub_b"


def test_without_a_live_subscription_the_latest_is_primary(kit: Kit) -> None:
    t = kit.T0
    ann = person(
        kit,
        [
            kit.subscription("sub_1", "cus_1", created=t, status="canceled", canceled_at=t + 9),
            kit.subscription(
                "sub_2", "cus_1", created=t + 5, status="incomplete_expired", canceled_at=t + 6
            ),
        ],
        [kit.item("sub_1", 1000), kit.item("sub_2", 1000)],
    )
    assert ann["subscription_status"] == "incomplete_expired"
    assert ann["canceled_at"] == t + 6
    assert ann["mrr"] == 0


def test_a_canceled_then_resubscribed_customer(kit: Kit) -> None:
    t = kit.T0
    ann = person(
        kit,
        [
            kit.subscription(
                "sub_old", "cus_1", created=t, status="canceled", canceled_at=t + 30 * kit.DAY
            ),
            kit.subscription("sub_new", "cus_1", created=t + 60 * kit.DAY, status="active"),
        ],
        [kit.item("sub_old", 2000, price="price_old"), kit.item("sub_new", 1500)],
        prices=[kit.price("price_basic", lookup_key="basic_monthly")],
    )
    assert ann["subscription_status"] == "active"
    assert ann["subscription_started_at"] == t + 60 * kit.DAY
    assert "canceled_at" not in ann  # the new subscription's
    assert ann["plan"] == "basic_monthly"
    assert ann["mrr"] == 15.0


def test_a_trial(kit: Kit) -> None:
    t = kit.AS_OF - 5 * kit.DAY
    ann = person(
        kit,
        [
            kit.subscription(
                "sub_1", "cus_1", created=t, status="trialing", trial_end=t + 14 * kit.DAY
            )
        ],
        [kit.item("sub_1", 4900, interval="year", interval_count=1)],
    )
    assert ann["subscription_status"] == "trialing"
    assert ann["trial_ends_at"] == t + 14 * kit.DAY
    assert ann["subscription_started_at"] == t
    assert ann["plan_interval"] == "year"
    assert ann["mrr"] == 0  # trialing is not revenue yet
    assert ann["cancel_at_period_end"] is False


def test_yearly_and_weekly_plans_every_three(kit: Kit) -> None:
    ann = person(
        kit,
        [
            kit.subscription("sub_w", "cus_1", created=kit.T0),
            kit.subscription("sub_y", "cus_1", created=kit.T0 + 1, cancel_at_period_end=True),
        ],
        [
            kit.item("sub_w", 3000, price="price_w", interval="week", interval_count=3),
            kit.item("sub_y", 36000, price="price_y", interval="year", interval_count=3),
        ],
    )
    # 4333.33 per month every 3 weeks beats 1000 every 3 years.
    assert ann["plan"] == "price_w"
    assert ann["plan_interval"] == "week"
    assert ann["cancel_at_period_end"] is False
    assert ann["mrr"] == 53.33  # 4333.33 + 1000 = 5333.33


def test_the_plan_is_the_first_item_by_position_and_names_fall_back(kit: Kit) -> None:
    items = [
        kit.item("sub_1", 100, position=1, price="price_second"),
        kit.item("sub_1", 100, position=0, price="price_first", interval="week"),
    ]

    def plan(*prices: dict[str, Any]) -> tuple[Any, Any]:
        ann = person(kit, [kit.subscription("sub_1", "cus_1")], items, prices=list(prices))
        return ann["plan"], ann["plan_interval"]

    assert plan() == ("price_first", "week")
    assert plan(kit.price("price_first", nickname="Starter", lookup_key="st")) == (
        "Starter",
        "week",
    )
    assert plan(kit.price("price_first", nickname=" ", lookup_key="st")) == ("st", "week")
    assert plan(kit.price("price_first", lookup_key="")) == ("price_first", "week")


def test_no_subscription_means_no_subscription_attributes(kit: Kit) -> None:
    ann = person(kit, [], [])
    for name in ("subscription_status", "plan", "plan_interval", "subscription_started_at"):
        assert name not in ann
    assert "cancel_at_period_end" not in ann
    assert ann["mrr"] == 0
