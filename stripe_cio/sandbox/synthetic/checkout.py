"""Checkout Sessions, in subscription and payment mode, for customers and for guests."""

from __future__ import annotations

from .people import Person
from .world import DAY, Obj, World


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
    obj = w.payments.checkout_t.copy()
    obj["amount_subtotal"] = amount
    obj["amount_total"] = amount
    obj["created"] = created
    obj["currency"] = currency
    if customer is not None:
        obj["customer"] = customer["id"]
        obj["customer_creation"] = None
    else:
        # Guests pay without a Stripe customer; their email is only in customer_details.
        obj["customer"] = None
        obj["customer_creation"] = "if_required"
    obj["customer_details"] = {
        "address": w.people.address,
        "business_name": None,
        "email": person.email,
        "individual_name": None,
        "name": person.billing["name"],
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    obj["expires_at"] = created + DAY
    obj["id"] = sid
    obj["mode"] = mode
    obj["url"] = f"https://checkout.stripe.com/c/pay/{sid}"
    return obj


def complete(w: World, obj: Obj, t: int, **refs: object) -> None:
    """The customer paid (or started a trial): status complete, event, put for good."""
    obj.update(refs)
    obj["payment_status"] = "no_payment_required" if obj["amount_total"] == 0 else "paid"
    obj["status"] = "complete"
    obj["url"] = None
    if t > w.event_floor:
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
