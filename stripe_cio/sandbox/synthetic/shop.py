"""One-off purchases (with Checkout or the API), for customers and guests; customer deletion."""

from __future__ import annotations

from math import log

from . import checkout as _checkout
from .catalog import CURRENCIES, SHOP_PRODUCTS, convert
from .disputes import plan_aftercare
from .payments import ChargeState, keep
from .people import Person
from .subs import end_subscription
from .world import DAY, Action, World

_BASKETS = (1200, 1800, 2500, 3900, 6500, 9900)
_AMOUNTS = {c: [convert(c, cents) for cents in _BASKETS] for c in CURRENCIES}
# Every line description ("2 x Mug" with a multiplication sign), made once.
_DESCRIPTIONS = [[f"{qty} × {name}" for name in SHOP_PRODUCTS] for qty in (1, 2, 3)]  # noqa: RUF001
FAILURE_RATE = 0.08
MANUAL_CAPTURE_RATE = 0.025
CHECKOUT_RATE = 0.4
BUYER_GAP_DAYS = 6.0
BUYER_CONTINUE = 0.96
SUBSCRIBER_GAP_DAYS = 40.0
GUEST_CONTINUE = 0.4


def purchase(w: World, person: Person, t: int) -> None:
    """One purchase at t: maybe declined (and retried), maybe authorised only."""
    if person.deleted:
        return
    rnd = w.rnd  # plain draws: choice() and randrange() cost far more (docs/sandbox.md)
    currency = person.currency
    if rnd() < 0.2:
        one_off = w.catalog.one_off[currency]
        amount = one_off[int(rnd() * len(one_off))]["unit_amount"]
        description = "Gift card or setup fee"
    else:
        x = rnd()
        qty = 1 if x < 0.6 else 2 if x < 0.8 else 3
        amounts = _AMOUNTS[currency]
        amount = amounts[int(rnd() * len(amounts))] * qty
        description = _DESCRIPTIONS[qty - 1][int(rnd() * len(SHOP_PRODUCTS))]
    manual = rnd() < MANUAL_CAPTURE_RATE
    checkout = None
    if rnd() < CHECKOUT_RATE:
        created = t - 30 - int(rnd() * 570)
        checkout = _checkout.session(w, created, person, "payment", amount, currency)
    pay = w.payments
    intent = pay.intent(t, person, amount, currency, description, manual=manual)
    failure = pay.pick_failure() if rnd() < FAILURE_RATE else None
    charge = pay.attempt(t, intent, person, failure)
    if failure is not None:
        w.put("charges", charge)
        if rnd() < 0.6:
            # Most customers try another card within minutes, on the same payment intent.
            t += 30 + int(rnd() * 870)
            charge = pay.attempt(t, intent, person, None)
        else:
            w.put("payment_intents", intent)
            if checkout is not None:
                w.touch("checkout_sessions", checkout)
                w.at(checkout["expires_at"], _checkout.expire_action, checkout)
            return
    if checkout is not None:
        _checkout.complete(w, checkout, t, payment_intent=intent["id"])
    if manual:
        state = ChargeState(charge, intent)
        pay.schedule_capture(state, t)
        keep(w, state)
    else:
        w.put("payment_intents", intent)
        plan_aftercare(w, charge, t)


def buyer_purchase(w: World, person: Person, t: int) -> None:
    """A regular shopper's purchase, followed (usually) by the next one."""
    purchase(w, person, t)
    if not person.deleted and w.rnd() < BUYER_CONTINUE:
        schedule(w, person, t, BUYER_GAP_DAYS, buyer_purchase)


def subscriber_purchase(w: World, person: Person, t: int) -> None:
    """An occasional add-on purchase by a subscriber."""
    purchase(w, person, t)
    if not person.deleted and w.rnd() < 0.9:
        schedule(w, person, t, SUBSCRIBER_GAP_DAYS, subscriber_purchase)


def guest_purchase(w: World, person: Person, t: int) -> None:
    """A guest buys without an account, sometimes twice."""
    purchase(w, person, t)
    if w.rnd() < GUEST_CONTINUE:
        schedule(w, person, t, 20.0, guest_purchase)


def schedule(w: World, person: Person, t: int, mean_days: float, action: Action) -> None:
    """Schedule the person's next purchase after an exponential gap."""
    gap = int(-log(1.0 - w.rnd()) * mean_days * DAY) + 600  # expovariate(), inlined
    w.at(t + gap, action, person)


def delete_customer(w: World, person: Person, t: int) -> None:
    """Delete a customer: Stripe cancels its subscriptions, and the customer becomes a stub."""
    customer = person.obj
    if customer is None or person.deleted:
        return
    for st in list(person.subs):
        end_subscription(w, st, t, "cancellation_requested", None)
    person.deleted = True
    # customer.deleted carries the full customer as it was; retrieving it returns the stub.
    w.emit("customer.deleted", customer, t)
    w.put("customers", {**w.tpl["deleted_customer"], "id": customer["id"]})
    person.obj = None
