"""The corpus's building blocks: the `Case` record, the clock and Stripe-shaped objects."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stripe_cio.sandbox.synthetic import RESOURCES

__all__ = [
    "DAY",
    "DROP",
    "EVENTS_AT",
    "NOW",
    "OBJECTS_AT",
    "RESOURCES",
    "Case",
    "charge",
    "customer",
    "event",
    "next_created",
    "price",
    "subscription",
]

NOW = 1_767_225_600  # the sandbox clock: 2026-01-01T00:00:00Z
DAY = 86_400
OBJECTS_AT = NOW - 25 * DAY  # objects are created from here, a second apart per case
EVENTS_AT = NOW - 10 * DAY  # events from here: within Stripe's 30 days of the clock


@dataclass
class Case:
    """One hostile input, the records that carry it and the outcome of each."""

    name: str
    covers: str  # the hostile input, in words
    outcome: str  # the headline: processed, skip:<reason> or reject:<reason>
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    expect: dict[str, str] = field(default_factory=dict)
    attribute_skips: Counter[str] = field(default_factory=Counter)
    # Rejects the ledger records beyond one per `ledger:` expectation (`resource: reason`):
    # those without a usable object id, and objects rejected again when an event carries them.
    extra_rejects: Counter[str] = field(default_factory=Counter)
    # person -> attribute -> the value Customer.io must hold.
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # `resource/id` of listed objects the backfill stores and a later object rejects (a refund
    # larger than a charge that arrives after it): the backfill counts them as written.
    late_rejects: set[str] = field(default_factory=set)

    def add(self, resource: str, obj: dict[str, Any], outcome: str = "stored") -> None:
        """Put `obj` in the sandbox's `resource` list, expecting `outcome` in the ledger."""
        self.objects.setdefault(resource, []).append(obj)
        self.expect[f"ledger:{resource}/{obj['id']}"] = outcome

    def event(self, obj: dict[str, Any], outcome: str) -> None:
        self.events.append(obj)
        self.expect[f"event:{obj['id']}"] = outcome

    def person(self, identifier: str, outcome: str = "delivered") -> None:
        self.expect[f"person:{identifier}"] = outcome

    def ledger(self, resource: str, object_id: str, outcome: str = "stored") -> None:
        """Expect `outcome` for an object that reaches the ledger through an event only."""
        self.expect[f"ledger:{resource}/{object_id}"] = outcome


# --- Stripe-shaped objects ------------------------------------------------------------------

# A field value meaning "leave this key out of the object".
DROP = object()

_clock = iter(range(OBJECTS_AT, OBJECTS_AT + DAY))
_event_clock = iter(range(EVENTS_AT, EVENTS_AT + DAY, 7))


def customer(cid: str, email: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "customer",
        "created": next(_clock),
        "email": email,
        "name": None,
        "currency": None,
        "delinquent": False,
        "livemode": False,
        "metadata": {},
        **extra,
    }


def charge(chid: str, cus: Any, amount: Any = 2_000, **extra: Any) -> dict[str, Any]:
    return {
        "id": chid,
        "object": "charge",
        "created": next(_clock),
        "customer": cus,
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "succeeded",
        "paid": True,
        "captured": True,
        "refunded": False,
        "disputed": False,
        "livemode": False,
        "billing_details": {"email": None},
        "outcome": {"reason": None},
        "payment_intent": None,
        "description": "order",
        "receipt_url": None,
        "failure_code": None,
        "failure_message": None,
        **extra,
    }


def event(eid: str, kind: Any, obj: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "object": "event",
        "created": next(_event_clock),
        "type": kind,
        "api_version": "2025-03-31.basil",
        "livemode": False,
        "data": {"object": obj},
        **extra,
    }


def price(pid: str, nickname: str | None, unit_amount: int = 1_500) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "price",
        "created": next(_clock),
        "active": True,
        "currency": "usd",
        "unit_amount": unit_amount,
        "nickname": nickname,
        "lookup_key": None,
        "product": "prod_hostile",
        "type": "recurring",
        "recurring": {"interval": "month", "interval_count": 1},
        "livemode": False,
    }


def subscription(sid: str, cus: str, item_price: dict[str, Any]) -> dict[str, Any]:
    created = next(_clock)
    return {
        "id": sid,
        "object": "subscription",
        "created": created,
        "customer": cus,
        "status": "active",
        "currency": "usd",
        "start_date": created,
        "cancel_at_period_end": False,
        "cancel_at": None,
        "canceled_at": None,
        "ended_at": None,
        "trial_end": None,
        "livemode": False,
        "metadata": {},
        "items": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": f"si_{sid}",
                    "object": "subscription_item",
                    "quantity": 1,
                    "price": item_price,
                    "created": created,
                }
            ],
        },
    }


def next_created() -> int:
    """The next object's `created`: a second after the previous one."""
    return next(_clock)
