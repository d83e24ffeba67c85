"""What counts as a subscription change: every `change`, renewals and metadata send nothing."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_cio.lifecycle import CHANGES, Skipped

CUSTOMER = {"id": "cus_1", "object": "customer", "email": "ann@example.com", "metadata": {}}


def price(
    pid: str, unit: int, interval: str = "month", count: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "price",
        "currency": "usd",
        "unit_amount": unit,
        "nickname": extra.get("nickname", pid.removeprefix("price_").title()),
        "lookup_key": None,
        "recurring": {"interval": interval, "interval_count": count},
    }


def items(*entries: tuple[dict[str, Any] | str, int], start: int = 1_700_000_000) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": f"si_{n}",
                "object": "subscription_item",
                "price": p,
                "quantity": q,
                "current_period_start": start,
                "current_period_end": start + 2_592_000,
            }
            for n, (p, q) in enumerate(entries)
        ],
    }


def subscription(*entries: tuple[dict[str, Any] | str, int], **fields: Any) -> dict[str, Any]:
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "currency": "usd",
        "status": "active",
        "cancel_at_period_end": False,
        "cancel_at": None,
        "canceled_at": None,
        "metadata": {},
        "items": items(*entries),
        **fields,
    }


MONTHLY = price("price_monthly", 2000)
YEARLY = price("price_yearly", 20000, "year")  # 16.67 a month: cheaper than monthly
BIG_YEARLY = price("price_big_yearly", 30000, "year")  # 25.00 a month
SAME_YEARLY = price("price_same_yearly", 24000, "year")  # 20.00 a month
PRO = price("price_pro", 5000)


def change(kit: Any, after: dict[str, Any], previous: dict[str, Any], **lookup: Any) -> Any:
    event = kit.event("customer.subscription.updated", after, previous=previous)
    result = kit.map(event, kit.lookup(customers=[CUSTOMER], **lookup))
    return result if isinstance(result, Skipped) else kit.one(result).data


def test_scheduling_a_cancellation_at_period_end(kit: Any) -> None:
    after = subscription((MONTHLY, 1), cancel_at_period_end=True, cancel_at=1_702_592_000)
    data = change(kit, after, {"cancel_at_period_end": False, "cancel_at": None})
    assert data["change"] == "cancel_scheduled"
    assert (data["mrr_before"], data["mrr_after"]) == (20.0, 20.0)  # still paying until then


def test_setting_cancel_at_alone_schedules_a_cancellation(kit: Any) -> None:
    after = subscription((MONTHLY, 1), cancel_at=1_702_592_000)
    assert change(kit, after, {"cancel_at": None})["change"] == "cancel_scheduled"


def test_taking_back_a_cancellation(kit: Any) -> None:
    after = subscription((MONTHLY, 1))
    previous = {
        "cancel_at_period_end": True,
        "cancel_at": 1_702_592_000,
        "canceled_at": 1_700_000_500,
    }
    assert change(kit, after, previous)["change"] == "cancel_unscheduled"


def test_a_dearer_price_is_an_upgrade(kit: Any) -> None:
    data = change(kit, subscription((PRO, 1)), {"items": items((MONTHLY, 1))})
    assert data == {
        **data,
        "change": "upgrade",
        "from_plan": "Monthly",
        "to_plan": "Pro",
        "previous_status": "active",
        "status": "active",
        "mrr_before": 20.0,
        "mrr_after": 50.0,
        "currency": "usd",
    }


def test_monthly_to_yearly_is_judged_by_the_monthly_amount(kit: Any) -> None:
    # 20.00 a month to 200.00 a year: the price rose tenfold, the monthly amount fell.
    data = change(kit, subscription((YEARLY, 1)), {"items": items((MONTHLY, 1))})
    assert (data["change"], data["from_plan"], data["to_plan"]) == (
        "downgrade",
        "Monthly",
        "Yearly",
    )
    assert (data["mrr_before"], data["mrr_after"]) == (20.0, 16.67)
    data = change(kit, subscription((BIG_YEARLY, 1)), {"items": items((MONTHLY, 1))})
    assert (data["change"], data["mrr_after"]) == ("upgrade", 25.0)


def test_a_new_price_at_the_same_monthly_amount_is_a_plan_change(kit: Any) -> None:
    data = change(kit, subscription((SAME_YEARLY, 1)), {"items": items((MONTHLY, 1))})
    assert (data["change"], data["mrr_before"], data["mrr_after"]) == ("plan_change", 20.0, 20.0)


def test_more_seats_is_a_quantity_change(kit: Any) -> None:
    data = change(kit, subscription((MONTHLY, 3)), {"items": items((MONTHLY, 2))})
    assert (data["change"], data["mrr_before"], data["mrr_after"]) == (
        "quantity_change",
        40.0,
        60.0,
    )
    assert data["from_plan"] == data["to_plan"] == "Monthly"


def test_a_price_change_with_a_quantity_change_is_judged_by_the_amount(kit: Any) -> None:
    # Pro at 1 seat (50.00) from Monthly at 4 seats (80.00): a downgrade.
    assert (
        change(kit, subscription((PRO, 1)), {"items": items((MONTHLY, 4))})["change"] == "downgrade"
    )


def test_a_status_change_alone(kit: Any) -> None:
    data = change(kit, subscription((MONTHLY, 1), status="past_due"), {"status": "active"})
    assert (data["change"], data["previous_status"], data["status"]) == (
        "status_change",
        "active",
        "past_due",
    )
    assert (data["mrr_before"], data["mrr_after"]) == (20.0, 20.0)
    data = change(kit, subscription((MONTHLY, 1), status="unpaid"), {"status": "past_due"})
    assert (data["mrr_before"], data["mrr_after"]) == (20.0, 0.0)  # MRR only while paying
    data = change(kit, subscription((MONTHLY, 1)), {"status": "trialing"})
    assert (data["previous_status"], data["mrr_before"], data["mrr_after"]) == (
        "trialing",
        0.0,
        20.0,
    )


def test_cancellation_takes_precedence_over_a_price_change(kit: Any) -> None:
    after = subscription((PRO, 1), cancel_at_period_end=True, cancel_at=1_702_592_000)
    previous = {"items": items((MONTHLY, 1)), "cancel_at_period_end": False, "cancel_at": None}
    assert change(kit, after, previous)["change"] == "cancel_scheduled"


def test_a_renewal_sends_nothing(kit: Any) -> None:
    # Every renewal lists `items` (the new period lives on them) and the new invoice.
    after = subscription((MONTHLY, 2), latest_invoice="in_2")
    previous = {"items": items((MONTHLY, 2), start=1_697_408_000), "latest_invoice": "in_1"}
    assert change(kit, after, previous) == Skipped("no_change")


def test_a_metadata_update_sends_nothing(kit: Any) -> None:
    after = subscription((MONTHLY, 1), metadata={"team": "blue"})
    assert change(kit, after, {"metadata": {}}) == Skipped("no_change")


def test_items_holding_bare_price_ids_use_the_ledger_prices(kit: Any) -> None:
    after = subscription(("price_pro", 1))
    data = change(kit, after, {"items": items(("price_monthly", 1))}, prices=[MONTHLY, PRO])
    assert (data["change"], data["from_plan"], data["to_plan"]) == ("upgrade", "Monthly", "Pro")
    assert (data["mrr_before"], data["mrr_after"]) == (20.0, 50.0)


def test_several_items_sum_and_the_first_names_the_plan(kit: Any) -> None:
    addon = price("price_addon", 500, "week")  # 500 x 52 / 12 = 2166.67 a month
    after = subscription((MONTHLY, 1), (addon, 2))
    data = change(kit, after, {"items": items((MONTHLY, 1))})
    assert (data["change"], data["to_plan"]) == ("upgrade", "Monthly")
    assert data["mrr_after"] == 63.33  # 2000 + 2 x 2166.67, rounded once


def test_every_change_is_covered_here() -> None:
    tested = {
        "cancel_scheduled", "cancel_unscheduled", "upgrade", "downgrade", "plan_change",
        "quantity_change", "status_change",
    }  # fmt: skip
    assert set(CHANGES) == tested


def test_renewals_in_the_sandbox_send_nothing(kit: Any) -> None:
    """The synthetic account's renewals (same prices and quantities, new period) are skipped,
    and every update that is sent names one of the changes."""
    account = kit.synthetic()
    lookup = account.lookup
    renewals = 0
    for event in account.of_type("customer.subscription.updated"):
        previous = event["data"]["previous_attributes"]
        after = event["data"]["object"]
        result = kit.map(event, lookup)
        same_items = [
            (i["price"]["id"], i["quantity"]) for i in previous.get("items", after["items"])["data"]
        ] == [(i["price"]["id"], i["quantity"]) for i in after["items"]["data"]]
        if set(previous) <= {"items", "latest_invoice"} and same_items:
            renewals += 1
            assert result == Skipped("no_change"), event["id"]
        elif not isinstance(result, Skipped):
            assert kit.one(result).data["change"] in CHANGES
    assert renewals > 10


@pytest.mark.parametrize("broken", [{"items": "nope"}, {"items": {"data": [1]}}])
def test_unreadable_previous_items_are_a_counted_reject(kit: Any, broken: dict[str, Any]) -> None:
    result = change(kit, subscription((MONTHLY, 1)), broken)
    assert result == Skipped("invalid_field:items")
