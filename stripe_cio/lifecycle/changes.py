"""What kind of change a customer.subscription.updated event is, or none worth an event.

Stripe sends the subscription after the update with `previous_attributes` holding the old value
of every top-level field that changed (https://docs.stripe.com/api/events/object,
`data.previous_attributes`). The state before is the object overlaid with those values. Every
renewal lists `items` there (the billing period lives on the items), so changes are judged by
comparing price ids, quantities, status and cancellation before and after, never by which keys
are present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, get_args

from .fields import FieldProblem, opt_bool, opt_int, opt_str
from .model import Lookup
from .money import Line, monthly_amount, subscription_lines

# In the order of precedence: an update is the first of these that applies.
Change = Literal[
    "cancel_scheduled",
    "cancel_unscheduled",
    "upgrade",
    "downgrade",
    "plan_change",
    "quantity_change",
    "status_change",
]
CHANGES: tuple[Change, ...] = get_args(Change)


@dataclass(frozen=True)
class SubscriptionState:
    """What the classifier compares, on one side of an update."""

    status: str | None
    cancel_at_period_end: bool
    cancel_at: int | None
    lines: tuple[Line, ...]
    monthly: Fraction  # exact monthly amount, minor units

    @property
    def prices(self) -> tuple[str, ...]:
        return tuple(sorted(line.price or "" for line in self.lines))

    @property
    def quantities(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((line.price or "", line.quantity or 0) for line in self.lines))


def _state(subscription: Mapping[str, Any], currency: str, lookup: Lookup) -> SubscriptionState:
    lines = subscription_lines(subscription, lookup)
    return SubscriptionState(
        status=opt_str(subscription, "status"),
        cancel_at_period_end=bool(opt_bool(subscription, "cancel_at_period_end")),
        cancel_at=opt_int(subscription, "cancel_at"),
        lines=lines,
        monthly=monthly_amount(lines, currency),
    )


def states(
    subscription: Mapping[str, Any],
    previous: Any,
    currency: str,
    lookup: Lookup,
) -> tuple[SubscriptionState, SubscriptionState]:
    """(before, after) of an update: before is the object overlaid with `previous`."""
    if previous is None:
        previous = {}
    if not isinstance(previous, Mapping):
        raise FieldProblem("invalid_field:previous_attributes")
    before = {**subscription, **previous}
    return _state(before, currency, lookup), _state(subscription, currency, lookup)


def classify(before: SubscriptionState, after: SubscriptionState) -> Change | None:
    """The first change in `CHANGES` from `before` to `after`; None for a renewal or any other
    update that changes neither prices, quantities, status nor cancellation."""
    if (not before.cancel_at_period_end and after.cancel_at_period_end) or (
        before.cancel_at is None and after.cancel_at is not None
    ):
        return "cancel_scheduled"
    if (before.cancel_at_period_end and not after.cancel_at_period_end) or (
        before.cancel_at is not None and after.cancel_at is None
    ):
        return "cancel_unscheduled"
    if before.prices != after.prices:
        # A monthly-to-yearly switch is judged by the monthly amount, not the price.
        if after.monthly > before.monthly:
            return "upgrade"
        if after.monthly < before.monthly:
            return "downgrade"
        return "plan_change"
    if before.quantities != after.quantities:
        return "quantity_change"
    if before.status != after.status:
        return "status_change"
    return None
