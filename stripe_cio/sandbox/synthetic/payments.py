"""Payment intents and charges: successes, declines, manual captures (full, partial, expired)."""

from __future__ import annotations

from typing import Any

from .people import Person
from .world import DAY, Obj, World, frozen

# (failure_code, outcome.reason, failure_message, weight) as Stripe reports card declines.
FAILURES: tuple[tuple[str, str, str, int], ...] = (
    ("card_declined", "generic_decline", "Your card was declined.", 40),
    ("insufficient_funds", "insufficient_funds", "Your card has insufficient funds.", 30),
    ("expired_card", "expired_card", "Your card has expired.", 12),
    ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", 10),
    (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
        8,
    ),
)
_FAILURE_TOTAL = sum(f[3] for f in FAILURES)
# (failure_code, failure_message, the charge's `outcome`, decline reason)
Failure = tuple[str, str, Any, str]


class ChargeState:
    """A charge whose future (capture, refunds, a dispute) is still to happen."""

    __slots__ = ("charge", "intent", "pending")

    def __init__(self, charge: Obj, intent: Obj | None) -> None:
        self.charge = charge
        self.intent = intent
        self.pending = 0


class Payments:
    """Builds intents and charges from shared templates and outcome objects."""

    def __init__(self, w: World) -> None:
        self.w = w
        outcome = w.tpl["charge_outcome"]
        self.ok_outcome = frozen(
            {
                **outcome,
                "network_status": "approved_by_network",
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
        )
        self.failures: list[Failure] = []
        for code, reason, message, _ in FAILURES:
            network = "not_sent_to_network" if code == "processing_error" else "declined_by_network"
            failed = {
                **outcome,
                "network_status": network,
                "reason": reason,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            }
            self.failures.append((code, message, frozen(failed), reason))
        self.receipt_base = f"https://pay.stripe.com/receipts/payment/CAca{w.ids.account}"
        self.intent_t: Obj = w.tpl["payment_intents"]
        # The charge template as an ordinary succeeded charge; attempt() sets what differs.
        self.charge_t: Obj = {**w.tpl["charges"], "paid": True, "status": "succeeded"}
        # Checkout Sessions with this shop's constant settings (see checkout.session).
        self.checkout_t: Obj = {
            **w.tpl["checkout_sessions"],
            "cancel_url": "https://shop.example.com/cart",
            "client_reference_id": None,
            "customer_email": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": "https://shop.example.com/thanks?session_id={CHECKOUT_SESSION_ID}",
        }

    def pick_failure(self) -> Failure:
        """A decline, weighted as card declines are in practice."""
        x = self.w.rnd() * _FAILURE_TOTAL
        for (_, _, _, weight), failure in zip(FAILURES, self.failures, strict=True):
            if x < weight:
                return failure
            x -= weight
        return self.failures[-1]

    def intent(
        self,
        t: int,
        person: Person,
        amount: int,
        currency: str,
        description: str | None,
        *,
        manual: bool = False,
    ) -> Obj:
        """A new payment intent awaiting confirmation (not yet put)."""
        # Built by copying the template and assigning its keys: several times cheaper than a
        # dict display with ** (which rebuilds the table), and in the template's key order.
        pid = self.w.ids.long("pi_")
        obj = self.intent_t.copy()
        customer = person.obj
        obj["amount"] = amount
        obj["capture_method"] = "manual" if manual else "automatic_async"
        obj["client_secret"] = f"{pid}_secret_{pid[3:]}"
        obj["created"] = t
        obj["currency"] = currency
        obj["description"] = description
        obj["id"] = pid
        obj["payment_method"] = person.pm_id
        if customer is None:
            obj["receipt_email"] = person.email
        else:
            obj["customer"] = customer["id"]
        return obj

    def attempt(self, t: int, intent: Obj, person: Person, failure: Failure | None) -> Obj:
        """Confirm `intent` at t: a new charge, the intent updated, and their events.

        The caller puts the intent, or touches it while it may still change (a retry later)."""
        w = self.w
        cid = w.ids.long("ch_")
        tail = cid[3:]
        amount = intent["amount"]
        manual = intent["capture_method"] == "manual"
        charge = self.charge_t.copy()
        charge["amount"] = amount
        charge["billing_details"] = person.billing
        charge["created"] = t
        charge["currency"] = intent["currency"]
        charge["customer"] = intent["customer"]
        charge["description"] = intent["description"]
        charge["id"] = cid
        charge["payment_intent"] = intent["id"]
        charge["payment_method"] = person.pm_id
        charge["payment_method_details"] = person.pm
        charge["receipt_email"] = person.email
        charge["refunds"] = {
            "data": [],
            "has_more": False,
            "object": "list",
            "url": f"/v1/charges/{cid}/refunds",
        }
        intent["latest_charge"] = cid
        recent = t > w.event_floor
        if failure is not None:
            code, message, outcome, reason = failure
            charge["captured"] = False
            charge["failure_code"] = code
            charge["failure_message"] = message
            charge["outcome"] = outcome
            charge["paid"] = False
            charge["status"] = "failed"
            intent["last_payment_error"] = {
                "charge": cid,
                "code": code,
                "decline_code": reason,
                "message": message,
                "type": "card_error",
            }
            intent["status"] = "requires_payment_method"
            if recent:
                w.emit("charge.failed", charge, t)
                w.emit("payment_intent.payment_failed", intent, t)
            return charge
        charge["outcome"] = self.ok_outcome
        charge["receipt_url"] = self.receipt_base + tail
        intent["last_payment_error"] = None
        if manual:
            charge["captured"] = False
            intent["amount_capturable"] = amount
            intent["status"] = "requires_capture"
            kind = "payment_intent.amount_capturable_updated"
        else:
            charge["amount_captured"] = amount
            charge["balance_transaction"] = "txn_" + tail
            intent["amount_received"] = amount
            intent["status"] = "succeeded"
            kind = "payment_intent.succeeded"
        if recent:
            w.emit("charge.succeeded", charge, t)
            w.emit(kind, intent, t)
        return charge

    def schedule_capture(self, state: ChargeState, t: int) -> None:
        """An authorisation is captured (fully or partly) within days, or expires after 7."""
        w = self.w
        x = w.rnd()
        state.pending += 1
        if x < 0.15:
            w.at(t + 7 * DAY, _expire, state)
        else:
            amount = state.charge["amount"]
            if x < 0.45:
                amount = max(1, int(amount * (0.3 + 0.6 * w.rnd())))
            w.at(t + 3600 + int(w.rnd() * (5 * DAY - 3600)), _capture, (state, amount))


def _capture(w: World, arg: tuple[ChargeState, int], t: int) -> None:
    state, amount = arg
    # Since 2025-03-31.basil the released remainder of a partial capture is not booked as
    # refunded: amount_refunded stays 0 and amount_captured < amount.
    w.change(
        "charges",
        state.charge,
        t,
        "charge.captured",
        {
            "amount_captured": amount,
            "balance_transaction": f"txn_{state.charge['id'][3:]}",
            "captured": True,
        },
    )
    intent = state.intent
    assert intent is not None
    w.change(
        "payment_intents",
        intent,
        t,
        None,
        {
            "amount_capturable": 0,
            "amount_received": amount,
            "status": "succeeded",
        },
    )
    w.emit("payment_intent.succeeded", intent, t)
    finish(w, state)


def _expire(w: World, state: ChargeState, t: int) -> None:
    # An expired authorisation leaves the charge uncaptured (and, since basil, unrefunded).
    w.emit("charge.expired", state.charge, t)
    intent = state.intent
    assert intent is not None
    w.change(
        "payment_intents",
        intent,
        t,
        None,
        {
            "amount_capturable": 0,
            "canceled_at": t,
            "cancellation_reason": "automatic",
            "status": "canceled",
        },
    )
    w.emit("payment_intent.canceled", intent, t)
    finish(w, state)


def finish(w: World, state: ChargeState) -> None:
    """One pending step of a charge is done; put it for good once nothing remains."""
    state.pending -= 1
    if state.pending <= 0:
        w.put("charges", state.charge)
        if state.intent is not None:
            w.put("payment_intents", state.intent)


def keep(w: World, state: ChargeState) -> None:
    """Hold a charge with pending steps as a working object (flushed at the end of a run)."""
    w.touch("charges", state.charge)
    if state.intent is not None:
        w.touch("payment_intents", state.intent)
