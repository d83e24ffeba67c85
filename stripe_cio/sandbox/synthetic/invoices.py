"""Subscription invoices: creation with line items, payment attempts, Smart-Retries-like retries."""

from __future__ import annotations

from typing import Any

from .catalog import money
from .disputes import plan_aftercare
from .subs import SubState, end_subscription, set_delinquent, set_status
from .world import DAY, Obj, World, frozen

RENEWAL_FAILURE_RATE = 0.1
RETRY_SUCCESS_RATE = 0.45
RETRY_DELAYS = (3 * DAY, 5 * DAY, 7 * DAY)  # after the 1st, 2nd and 3rd failed attempt


class InvoiceState:
    """An open invoice, the payment intent paying it, and how many attempts it had."""

    __slots__ = ("intent", "obj", "sub")

    def __init__(self, obj: Obj, sub: SubState) -> None:
        self.obj = obj
        self.sub = sub
        self.intent: Obj | None = None


def _line_text(w: World, st: SubState, trial: bool) -> tuple[str, Any]:
    """The line description and `pricing` for st's plan and quantity (cached: few distinct)."""
    plan, qty = st.plan, st.quantity
    key = (plan.price["id"], qty, trial)
    found = w.catalog.lines.get(key)
    if found is not None:
        return found
    unit = 0 if trial else plan.unit_amount
    currency = plan.price["currency"]
    every = (
        plan.interval
        if plan.interval_count == 1
        else f"every {plan.interval_count} {plan.interval}s"
    )
    if trial:
        description = f"Trial period for {plan.product_name}"
    else:
        # Stripe's own wording, multiplication sign included.
        description = f"{qty} × {plan.product_name} (at {money(currency, unit)} / {every})"  # noqa: RUF001
    pricing = frozen(
        {
            "price_details": {"price": plan.price["id"], "product": plan.price["product"]},
            "type": "price_details",
            "unit_amount_decimal": str(unit),
        }
    )
    w.catalog.lines[key] = found = (description, pricing)
    return found


def _parents(st: SubState) -> tuple[Any, Any]:
    """The `parent` of st's invoices and of their lines (the same for all its invoices)."""
    if st.parents is None:
        sub_id = st.obj["id"]
        st.parents = (
            frozen(
                {
                    "quote_details": None,
                    "subscription_details": {"metadata": None, "subscription": sub_id},
                    "type": "subscription_details",
                }
            ),
            frozen(
                {
                    "invoice_item_details": None,
                    "subscription_item_details": {
                        "invoice_item": None,
                        "proration": False,
                        "proration_details": {"credited_items": None},
                        "subscription": sub_id,
                        "subscription_item": st.obj["items"]["data"][0]["id"],
                    },
                    "type": "subscription_item_details",
                }
            ),
        )
    return st.parents


def open_invoice(w: World, st: SubState, t: int, reason: str, start: int, end: int) -> Obj:
    """A finalised (open) invoice for st's coming period; a trial's first invoice is $0."""
    customer = st.person.obj
    assert customer is not None
    seq = customer["next_invoice_sequence"]
    # Invoice numbers are the customer's prefix and a per-customer sequence.
    customer["next_invoice_sequence"] = seq + 1
    w.touch("customers", customer)
    plan, qty = st.plan, st.quantity
    trial = st.obj["status"] == "trialing" and reason == "subscription_create"
    amount = 0 if trial else plan.unit_amount * qty
    currency = plan.price["currency"]
    sub_id = st.obj["id"]
    ids = w.ids
    inv_id = ids.long("in_")
    description, pricing = _line_text(w, st, trial)
    inv_parent, line_parent = _parents(st)
    tpl = w.tpl
    line: Obj = tpl["invoice_line_item"].copy()
    line["amount"] = amount
    line["currency"] = currency
    line["description"] = description
    line["id"] = ids.long("il_")
    line["invoice"] = inv_id
    line["parent"] = line_parent
    line["period"] = {"end": end, "start": start}
    line["pricing"] = pricing
    line["quantity"] = qty
    line["subscription"] = sub_id
    line["subtotal"] = amount
    # The hosted page's token: the invoice id's counter part and a random-looking tail.
    token = inv_id[3:] + ids.token(16)
    account = ids.account
    inv: Obj = tpl["invoices"].copy()
    inv["amount_due"] = amount
    inv["amount_remaining"] = amount
    inv["billing_reason"] = reason
    inv["created"] = t
    inv["currency"] = currency
    inv["customer"] = customer["id"]
    inv["customer_email"] = customer["email"]
    inv["customer_name"] = customer["name"]
    inv["default_payment_method"] = None
    inv["effective_at"] = t
    inv["hosted_invoice_url"] = f"https://invoice.stripe.com/i/acct_{account}/test_{token}?s=ap"
    inv["id"] = inv_id
    inv["invoice_pdf"] = f"https://pay.stripe.com/invoice/acct_{account}/test_{token}/pdf?s=ap"
    inv["lines"] = {
        "data": [line],
        "has_more": False,
        "object": "list",
        "url": f"/v1/invoices/{inv_id}/lines",
    }
    inv["next_payment_attempt"] = None if amount == 0 else t + 3600
    inv["number"] = f"{customer['invoice_prefix']}-{seq:04d}"
    # Since 2025-03-31.basil an invoice names its subscription under `parent`.
    inv["parent"] = inv_parent
    inv["period_end"] = end
    inv["period_start"] = start
    inv["status"] = "open"
    inv["status_transitions"] = {
        "finalized_at": t,
        "marked_uncollectible_at": None,
        "paid_at": None,
        "voided_at": None,
    }
    inv["subscription"] = sub_id
    inv["subtotal"] = amount
    inv["subtotal_excluding_tax"] = amount
    inv["total"] = amount
    inv["total_excluding_tax"] = amount
    inv["webhooks_delivered_at"] = t
    return inv


def mark_paid(w: World, inv: Obj, t: int) -> None:
    """Invoice paid at t (with its invoice.paid event), then put for good."""
    inv["amount_paid"] = inv["amount_due"]
    inv["amount_remaining"] = 0
    inv["attempted"] = True
    inv["next_payment_attempt"] = None
    inv["status"] = "paid"
    inv["status_transitions"] = {**inv["status_transitions"], "paid_at": t}
    if t > w.event_floor:
        w.emit("invoice.paid", inv, t)
    w.put("invoices", inv)


def pay(w: World, state: InvoiceState, t: int) -> None:
    """One automatic payment attempt of an open invoice."""
    inv, st = state.obj, state.sub
    person = st.person
    if person.deleted:
        w.put("invoices", inv)
        return
    intent = state.intent
    if intent is None:
        first = inv["billing_reason"] == "subscription_create"
        description = "Subscription creation" if first else "Subscription update"
        intent = w.payments.intent(t, person, inv["amount_due"], inv["currency"], description)
        state.intent = intent
        fail_rate = 0.0 if first else RENEWAL_FAILURE_RATE
    else:
        fail_rate = 1 - RETRY_SUCCESS_RATE
    failure = w.payments.pick_failure() if w.rnd() < fail_rate else None
    charge = w.payments.attempt(t, intent, person, failure)
    attempts = inv["attempt_count"] + 1
    if failure is None:
        plan_aftercare(w, charge, t)
        w.put("payment_intents", intent)
        inv["attempt_count"] = attempts
        mark_paid(w, inv, t)
        set_status(w, st, "active", t)
        set_delinquent(w, person, False, t)
        return
    w.put("charges", charge)
    retry = attempts <= len(RETRY_DELAYS) and not st.ended
    w.change(
        "invoices",
        inv,
        t,
        None,
        {
            "attempt_count": attempts,
            "attempted": True,
            "next_payment_attempt": t + RETRY_DELAYS[attempts - 1] if retry else None,
        },
    )
    w.touch("payment_intents", intent)  # retried later, or put below
    w.emit("invoice.payment_failed", inv, t)
    set_delinquent(w, person, True, t)
    if retry:
        set_status(w, st, "past_due", t)
        w.at(t + RETRY_DELAYS[attempts - 1], pay, state)
        return
    # All retries failed: the account's setting cancels the subscription, the invoice stays open.
    end_subscription(w, st, t, "payment_failed", None)
    w.put("invoices", inv)
    w.put("payment_intents", intent)
