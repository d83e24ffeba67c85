"""Payment intents and charges: successes, declines, manual captures (full, partial, expired)."""

from __future__ import annotations

from ._people import Person
from ._world import DAY, Obj, World

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
_FAILURE_WEIGHTS = [f[3] for f in FAILURES]


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
        self.ok_outcome = {
            **outcome,
            "network_status": "approved_by_network",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
        self.failures: list[tuple[str, str, Obj]] = []
        for code, reason, message, _ in FAILURES:
            network = "not_sent_to_network" if code == "processing_error" else "declined_by_network"
            failed = {
                **outcome,
                "network_status": network,
                "reason": reason,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            }
            self.failures.append((code, message, failed))
        self.receipt_base = f"https://pay.stripe.com/receipts/payment/CAca{w.ids.account}"

    def pick_failure(self) -> tuple[str, str, Obj]:
        """A decline, weighted as card declines are in practice."""
        return self.w.rng.choices(self.failures, _FAILURE_WEIGHTS)[0]

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
        w = self.w
        pid = w.ids.long("pi_")
        customer = person.obj["id"] if person.obj is not None else None
        return {
            **w.tpl["payment_intents"],
            "amount": amount,
            "capture_method": "manual" if manual else "automatic_async",
            "client_secret": f"{pid}_secret_{pid[3:]}",
            "created": t,
            "currency": currency,
            "customer": customer,
            "description": description,
            "id": pid,
            "payment_method": person.pm_id,
            "receipt_email": person.email if customer is None else None,
        }

    def attempt(
        self, t: int, intent: Obj, person: Person, failure: tuple[str, str, Obj] | None
    ) -> Obj:
        """Confirm `intent` at t: a new charge, the intent updated, and their events."""
        w = self.w
        cid = w.ids.long("ch_")
        amount = intent["amount"]
        manual = intent["capture_method"] == "manual"
        ok = failure is None
        captured = ok and not manual
        charge = {
            **w.tpl["charges"],
            "amount": amount,
            "amount_captured": amount if captured else 0,
            "balance_transaction": f"txn_{cid[3:]}" if captured else None,
            "billing_details": person.billing,
            "captured": captured,
            "created": t,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "id": cid,
            "outcome": self.ok_outcome if failure is None else failure[2],
            "paid": ok,
            "payment_intent": intent["id"],
            "payment_method": person.pm_id,
            "payment_method_details": person.pm,
            "receipt_email": person.email,
            "receipt_url": f"{self.receipt_base}{cid[3:]}" if ok else None,
            "refunds": {
                "data": [],
                "has_more": False,
                "object": "list",
                "url": f"/v1/charges/{cid}/refunds",
            },
            "status": "succeeded" if ok else "failed",
        }
        if failure is not None:
            code, message, _ = failure
            charge["failure_code"] = code
            charge["failure_message"] = message
            w.emit("charge.failed", charge, t)
            w.change(
                "payment_intents",
                intent,
                t,
                None,
                {
                    "last_payment_error": {
                        "charge": cid,
                        "code": code,
                        "decline_code": failure[2]["reason"],
                        "message": message,
                        "type": "card_error",
                    },
                    "latest_charge": cid,
                    "status": "requires_payment_method",
                },
            )
            w.emit("payment_intent.payment_failed", intent, t)
            return charge
        w.emit("charge.succeeded", charge, t)
        if manual:
            w.change(
                "payment_intents",
                intent,
                t,
                None,
                {
                    "amount_capturable": amount,
                    "last_payment_error": None,
                    "latest_charge": cid,
                    "status": "requires_capture",
                },
            )
            w.emit("payment_intent.amount_capturable_updated", intent, t)
        else:
            w.change(
                "payment_intents",
                intent,
                t,
                None,
                {
                    "amount_received": amount,
                    "last_payment_error": None,
                    "latest_charge": cid,
                    "status": "succeeded",
                },
            )
            w.emit("payment_intent.succeeded", intent, t)
        return charge

    def schedule_capture(self, state: ChargeState, t: int) -> None:
        """An authorisation is captured (fully or partly) within days, or expires after 7."""
        w = self.w
        x = w.rng.random()
        state.pending += 1
        if x < 0.15:
            w.at(t + 7 * DAY, _expire, state)
        else:
            amount = state.charge["amount"]
            if x < 0.45:
                amount = max(1, int(amount * w.rng.uniform(0.3, 0.9)))
            w.at(t + w.rng.randrange(3600, 5 * DAY), _capture, (state, amount))


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
