"""Subscriptions through their lives: trials, renewals, plan and quantity changes, cancellations."""

from __future__ import annotations

from bisect import bisect

from . import checkout as _checkout
from .catalog import Plan, add_interval
from .invoices import InvoiceState, mark_paid, open_invoice, pay
from .people import Person
from .subs import FEEDBACK, SubState, build_item, end_subscription, items_list, set_items
from .world import DAY, World

MONTH = 2_629_746
TRIAL_RATE = 0.3
TRIAL_DAYS = 14
MONTHLY_CHURN = 0.045
RESUBSCRIBE_RATE = 0.2


def _choose_plan(w: World, currency: str, other_than: Plan | None = None) -> Plan:
    plans = w.catalog.plans[currency]
    bounds = w.catalog.plan_bounds
    while True:
        plan = plans[bisect(bounds, w.rnd() * bounds[-1])]
        if plan is not other_than:
            return plan


def start(w: World, person: Person, t: int) -> None:
    """A customer subscribes at t, through Checkout or the API, with or without a trial."""
    customer = person.obj
    if customer is None or person.deleted:
        return
    rnd = w.rnd
    plan = _choose_plan(w, person.currency)
    qty = w.between(2, 13) if plan.seats else 1
    trial = rnd() < TRIAL_RATE
    sub_id = w.ids.long("sub_")
    end = t + TRIAL_DAYS * DAY if trial else add_interval(t, plan.interval, plan.interval_count)
    item = build_item(w, sub_id, w.ids.short("si_"), t, plan, qty, t, end)
    obj = {
        **w.tpl["subscriptions"],
        "billing_cycle_anchor": end if trial else t,
        "created": t,
        "currency": person.currency,
        "customer": customer["id"],
        "default_payment_method": person.pm_id,
        "id": sub_id,
        "items": items_list(sub_id, item),
        "start_date": t,
        "status": "trialing" if trial else "active",
        "trial_end": end if trial else None,
        "trial_start": t if trial else None,
    }
    st = SubState(obj, person, plan, qty)
    st.period_end = end
    person.subs.append(st)
    if customer["currency"] is None:
        # A customer's currency is fixed by its first subscription.
        w.change("customers", customer, t, "customer.updated", {"currency": person.currency})
    checkout = None
    if rnd() < 0.6:
        created = t - w.between(60, 900)
        amount = 0 if trial else plan.unit_amount * qty
        checkout = _checkout.session(w, created, person, "subscription", amount, person.currency)
    invoice = open_invoice(w, st, t, "subscription_create", t, end)
    obj["latest_invoice"] = invoice["id"]
    w.touch("subscriptions", obj)
    w.emit("customer.subscription.created", obj, t)
    if trial:
        mark_paid(w, invoice, t)
        w.at(end - 3 * DAY, _trial_will_end, st)
    else:
        pay(w, InvoiceState(invoice, st), t)
    if checkout is not None:
        _checkout.complete(w, checkout, t, invoice=invoice["id"], subscription=sub_id)
    w.at(end, _renew, st)
    _plan_period(w, st, t, end)


def _trial_will_end(w: World, st: SubState, t: int) -> None:
    # Stripe sends this three days before a trial ends.
    if not st.ended and st.obj["status"] == "trialing":
        w.emit("customer.subscription.trial_will_end", st.obj, t)


def _renew(w: World, st: SubState, t: int) -> None:
    if st.ended or t != st.period_end:
        return
    obj = st.obj
    if obj["cancel_at_period_end"]:
        end_subscription(w, st, t, "cancellation_requested", None)
        _maybe_resubscribe(w, st.person, t)
        return
    plan = st.plan
    if w.rnd() < 0.04:
        # A plan switch taking effect at renewal, possibly monthly ↔ yearly.
        plan = _choose_plan(w, st.person.currency, plan)
    qty = st.quantity if plan.seats else 1
    end = add_interval(t, plan.interval, plan.interval_count)
    items = set_items(w, st, plan, qty, t, end)
    invoice = open_invoice(w, st, t, "subscription_cycle", t, end)
    w.touch("invoices", invoice)
    # A renewal lists the new period (on the items) and the new invoice as changed; a trial
    # turns active when it ends.
    status = "active" if obj["status"] == "trialing" else obj["status"]
    w.change(
        "subscriptions",
        obj,
        t,
        "customer.subscription.updated",
        {
            "items": items,
            "latest_invoice": invoice["id"],
            "status": status,
        },
    )
    w.at(t + 3600, pay, InvoiceState(invoice, st))
    w.at(end, _renew, st)
    _plan_period(w, st, t, end)


def _plan_period(w: World, st: SubState, start: int, end: int) -> None:
    """Decide what the customer does during this period (changes are drawn now, so that they
    are the same whether the period is generated in one pass or through advance())."""
    rnd = w.rnd
    months = (end - start) / MONTH
    if rnd() < 1 - (1 - MONTHLY_CHURN) ** months:
        when = w.between(start + 1, end)
        if rnd() < 0.3:
            w.at(when, _cancel_now, st)
        else:
            w.at(when, _schedule_cancel, st)
            if rnd() < 0.25:
                w.at(w.between(when, end), _unschedule_cancel, st)
        return
    if rnd() < 0.04 * months + 0.01:
        w.at(w.between(start + 1, end), _change_plan, st)
    if st.plan.seats and rnd() < 0.2 * months:
        w.at(w.between(start + 1, end), _change_quantity, st)


def _cancel_now(w: World, st: SubState, t: int) -> None:
    end_subscription(w, st, t, "cancellation_requested", w.pick(FEEDBACK))
    _maybe_resubscribe(w, st.person, t)


def _maybe_resubscribe(w: World, person: Person, t: int) -> None:
    if w.rnd() < RESUBSCRIBE_RATE:
        w.at(t + w.expo(30 * DAY) + 3600, _resubscribe, person)


def _resubscribe(w: World, person: Person, t: int) -> None:
    start(w, person, t)


def _schedule_cancel(w: World, st: SubState, t: int) -> None:
    if st.ended or st.obj["cancel_at_period_end"]:
        return
    details = {
        "comment": None,
        "feedback": w.pick(FEEDBACK),
        "reason": "cancellation_requested",
    }
    w.change(
        "subscriptions",
        st.obj,
        t,
        "customer.subscription.updated",
        {
            "cancel_at": st.period_end,
            "cancel_at_period_end": True,
            "canceled_at": t,
            "cancellation_details": details,
        },
    )


def _unschedule_cancel(w: World, st: SubState, t: int) -> None:
    if st.ended or not st.obj["cancel_at_period_end"]:
        return
    w.change(
        "subscriptions",
        st.obj,
        t,
        "customer.subscription.updated",
        {
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        },
    )


def _change_plan(w: World, st: SubState, t: int) -> None:
    """An upgrade or downgrade within the period, to a plan with the same billing interval
    (a change of interval would restart the period; those happen at renewal)."""
    if st.ended or st.obj["status"] == "canceled":
        return
    same = [
        p
        for p in w.catalog.plans[st.person.currency]
        if p.interval == st.plan.interval
        and p.interval_count == st.plan.interval_count
        and p is not st.plan
    ]
    if not same:
        return
    plan = w.pick(same)
    qty = st.quantity if plan.seats else 1
    item = st.obj["items"]["data"][0]
    items = set_items(w, st, plan, qty, item["current_period_start"], st.period_end)
    w.change("subscriptions", st.obj, t, "customer.subscription.updated", {"items": items})


def _change_quantity(w: World, st: SubState, t: int) -> None:
    if st.ended:
        return
    qty = max(1, st.quantity + w.pick((-2, -1, 1, 1, 2, 3)))
    if qty == st.quantity:
        return
    item = st.obj["items"]["data"][0]
    items = set_items(w, st, st.plan, qty, item["current_period_start"], st.period_end)
    w.change("subscriptions", st.obj, t, "customer.subscription.updated", {"items": items})
