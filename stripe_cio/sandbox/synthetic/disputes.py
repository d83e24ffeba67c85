"""What happens to a charge after it succeeded: partial and full refunds, disputes."""

from __future__ import annotations

from math import log

from .payments import ChargeState, finish, keep
from .world import DAY, Obj, World

# (reason, Visa reason code) as Stripe reports them.
_REASONS = (
    ("fraudulent", "10.4"),
    ("product_not_received", "13.1"),
    ("duplicate", "12.6.1"),
    ("subscription_canceled", "13.2"),
    ("product_unacceptable", "13.3"),
    ("general", "13.7"),
)
_REFUND_REASONS = ("requested_by_customer", "requested_by_customer", "duplicate", None)
REFUND_RATE = 0.05
DISPUTE_RATE = 0.015


def plan_aftercare(w: World, charge: Obj, t: int) -> None:
    """Decide a succeeded, captured charge's future now, so that it is the same whenever it runs;
    a charge with nothing ahead is put at once."""
    x = w.rnd()
    if x >= REFUND_RATE + DISPUTE_RATE:
        w.put("charges", charge)
        return
    state = ChargeState(charge, None)
    state.pending = 1
    if x < REFUND_RATE:
        delay = min(int(-log(1.0 - w.rnd()) * 6 * DAY), 45 * DAY) + 60  # expovariate()
        w.at(t + delay, _refund, state)
    else:
        w.at(t + 2 * DAY + int(w.rnd() * 48 * DAY), _open_dispute, state)
    keep(w, state)


def _refund(w: World, state: ChargeState, t: int) -> None:
    charge = state.charge
    rnd = w.rnd
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    partial = charge["amount_refunded"] == 0 and rnd() < 0.4 and remaining > 1
    amount = max(1, int(remaining * (0.1 + 0.8 * rnd()))) if partial else remaining
    refund = {
        **w.tpl["refunds"],
        "amount": amount,
        "balance_transaction": w.ids.long("txn_"),
        "charge": charge["id"],
        "created": t,
        "currency": charge["currency"],
        "customer": charge["customer"],
        "id": w.ids.long("re_"),
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": w.pick(_REFUND_REASONS),
    }
    w.put("refunds", refund)
    refunded = charge["amount_refunded"] + amount
    old = charge["refunds"]
    w.change(
        "charges",
        charge,
        t,
        "charge.refunded",
        {
            "amount_refunded": refunded,
            # A charge is `refunded` only once the whole captured amount went back.
            "refunded": refunded == charge["amount_captured"],
            "refunds": {**old, "data": [refund, *old["data"]]},
        },
    )
    if partial and rnd() < 0.2:
        w.at(t + w.between(DAY, 20 * DAY), _refund, state)
        return
    finish(w, state)


def _open_dispute(w: World, state: ChargeState, t: int) -> None:
    charge = state.charge
    rnd = w.rnd
    reason, code = w.pick(_REASONS)
    due_by = t + w.between(7, 21) * DAY
    brand, network = w.people.networks[id(charge["payment_method_details"])]
    dispute = {
        **w.tpl["disputes"],
        "amount": charge["amount_captured"],
        "charge": charge["id"],
        "created": t,
        "currency": charge["currency"],
        "evidence_details": {
            "due_by": due_by,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "id": w.ids.long("dp_"),
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": brand,
                "case_type": "chargeback",
                "network": network,
                "network_reason_code": code,
            },
            "type": "card",
        },
        "reason": reason,
    }
    w.change("charges", charge, t, None, {"disputed": True})
    w.touch("disputes", dispute)
    w.emit("charge.dispute.created", dispute, t)
    if rnd() < 0.75:
        # Merchants tend to answer close to the deadline.
        w.at(
            w.between(max(t + DAY, due_by - 6 * DAY), due_by),
            _submit_evidence,
            (state, dispute),
        )
    else:
        w.at(due_by, _close, (state, dispute, "lost"))


def _submit_evidence(w: World, arg: tuple[ChargeState, Obj], t: int) -> None:
    state, dispute = arg
    details = {**dispute["evidence_details"], "has_evidence": True, "submission_count": 1}
    w.change(
        "disputes",
        dispute,
        t,
        "charge.dispute.updated",
        {
            "evidence_details": details,
            "status": "under_review",
        },
    )
    # The card network decides within a couple of months of the evidence.
    outcome = "won" if w.rnd() < 0.45 else "lost"
    w.at(t + w.between(20 * DAY, 75 * DAY), _close, (state, dispute, outcome))


def _close(w: World, arg: tuple[ChargeState, Obj, str], t: int) -> None:
    state, dispute, status = arg
    changes: Obj = {"status": status}
    if not dispute["evidence_details"]["has_evidence"]:
        changes["evidence_details"] = {**dispute["evidence_details"], "past_due": True}
    w.change("disputes", dispute, t, "charge.dispute.closed", changes)
    w.put("disputes", dispute)
    finish(w, state)
