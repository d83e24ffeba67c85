"""Subscription objects and their state changes (status, cancellation, delinquency)."""

from __future__ import annotations

from typing import Any

from .catalog import Plan
from .people import Person
from .world import Obj, World

FEEDBACK = ("too_expensive", "missing_features", "switched_service", "unused", "other", None)


class SubState:
    """A live subscription: its working object and what the generator needs to bill it."""

    __slots__ = ("ended", "obj", "parents", "period_end", "person", "plan", "quantity")

    def __init__(self, obj: Obj, person: Person, plan: Plan, quantity: int) -> None:
        self.obj = obj
        self.person = person
        self.plan = plan
        self.quantity = quantity
        self.period_end = 0
        self.ended = False
        self.parents: tuple[Any, Any] | None = None  # its invoices' and lines' `parent`


def build_item(
    w: World,
    sub_id: str,
    item_id: str,
    created: int,
    plan: Plan,
    quantity: int,
    start: int,
    end: int,
) -> Obj:
    """A subscription item; in this API version the billing period lives on the item."""
    item: Obj = w.tpl["subscription_item"].copy()
    item["created"] = created
    item["current_period_end"] = end
    item["current_period_start"] = start
    item["id"] = item_id
    item["plan"] = plan.plan
    item["price"] = plan.price
    item["quantity"] = quantity
    item["subscription"] = sub_id
    return item


def items_list(sub_id: str, item: Obj) -> Obj:
    """The `items` list object of a subscription."""
    return {
        "data": [item],
        "has_more": False,
        "object": "list",
        "url": f"/v1/subscription_items?subscription={sub_id}",
    }


def set_items(w: World, st: SubState, plan: Plan, quantity: int, start: int, end: int) -> Obj:
    """New `items` for st (same item id, as when a price is swapped on the item)."""
    old = st.obj["items"]["data"][0]
    item = build_item(w, st.obj["id"], old["id"], old["created"], plan, quantity, start, end)
    st.plan = plan
    st.quantity = quantity
    st.period_end = end
    return items_list(st.obj["id"], item)


def set_delinquent(w: World, person: Person, value: bool, t: int) -> None:
    """Stripe flags a customer delinquent while an invoice payment has failed."""
    customer = person.obj
    if customer is None or person.deleted or customer["delinquent"] == value:
        return
    w.change("customers", customer, t, "customer.updated", {"delinquent": value})


def set_status(w: World, st: SubState, status: str, t: int) -> None:
    """Move a live subscription to `status` with its customer.subscription.updated event."""
    if st.ended or st.obj["status"] == status:
        return
    w.change("subscriptions", st.obj, t, "customer.subscription.updated", {"status": status})


def end_subscription(w: World, st: SubState, t: int, reason: str, feedback: str | None) -> None:
    """Cancel now (or at the scheduled period end): status canceled, then put for good."""
    if st.ended:
        return
    obj = st.obj
    details = obj["cancellation_details"]
    if not obj["cancel_at_period_end"]:
        details = {"comment": None, "feedback": feedback, "reason": reason}
    w.change(
        "subscriptions",
        obj,
        t,
        None,
        {
            "cancel_at": None if not obj["cancel_at_period_end"] else obj["cancel_at"],
            "canceled_at": obj["canceled_at"] or t,
            "cancellation_details": details,
            "ended_at": t,
            "status": "canceled",
        },
    )
    # customer.subscription.deleted carries the canceled subscription, without
    # previous_attributes (it is not an update).
    w.emit("customer.subscription.deleted", obj, t)
    st.ended = True
    if st in st.person.subs:
        st.person.subs.remove(st)
    w.put("subscriptions", obj)
