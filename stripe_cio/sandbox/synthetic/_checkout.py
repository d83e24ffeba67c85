"""Checkout Sessions, in subscription and payment mode, for customers and for guests."""

from __future__ import annotations

from ._people import Person
from ._world import DAY, Obj, World


def session(
    w: World,
    created: int,
    person: Person,
    mode: str,
    amount: int,
    currency: str,
) -> Obj:
    """An open session (not yet put); complete() or expire() finishes it."""
    customer = person.obj
    sid = w.ids.checkout()
    return {
        **w.tpl["checkout_sessions"],
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": "https://shop.example.com/cart",
        "client_reference_id": None,
        "created": created,
        "currency": currency,
        "customer": customer["id"] if customer is not None else None,
        # Guests pay without a Stripe customer; their email is only in customer_details.
        "customer_creation": "if_required" if customer is None else None,
        "customer_details": {
            "address": w.tpl["address"],
            "business_name": None,
            "email": person.email,
            "individual_name": None,
            "name": person.billing["name"],
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "customer_email": None,
        "expires_at": created + DAY,
        "id": sid,
        "mode": mode,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": "https://shop.example.com/thanks?session_id={CHECKOUT_SESSION_ID}",
        "url": f"https://checkout.stripe.com/c/pay/{sid}",
    }


def complete(w: World, obj: Obj, t: int, **refs: object) -> None:
    """The customer paid (or started a trial): status complete, event, put for good."""
    paid = "no_payment_required" if obj["amount_total"] == 0 else "paid"
    w.change(
        "checkout_sessions",
        obj,
        t,
        None,
        {
            **refs,
            "payment_status": paid,
            "status": "complete",
            "url": None,
        },
    )
    w.emit("checkout.session.completed", obj, t)
    w.put("checkout_sessions", obj)


def expire(w: World, obj: Obj, t: int) -> None:
    """An abandoned session expires after 24 hours."""
    w.change("checkout_sessions", obj, t, None, {"status": "expired", "url": None})
    w.emit("checkout.session.expired", obj, t)
    w.put("checkout_sessions", obj)


def expire_action(w: World, obj: Obj, t: int) -> None:
    """Scheduled form of expire()."""
    expire(w, obj, t)
