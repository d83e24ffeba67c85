"""Money as the attribute engine defines it, for one object at a time: major units, a
subscription's monthly amount and MRR contribution, and its plan name.

The definitions (and the tables behind them) are the attribute engine's
(`stripe_cio.attributes`, docs/attributes.md); its functions work on whole columns, these on one
subscription of one event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..attributes import INTERVAL_TWELFTHS, MRR_STATUSES, exponent
from .fields import FieldProblem, nested, opt_currency, opt_int, opt_str, ref
from .model import Lookup


def major(minor: int, currency: str) -> float:
    """Minor units to major units: the double nearest to minor / 10^e for the currency."""
    # Division by an exact power of ten is correctly rounded, as in the attribute engine.
    return minor / 10.0 ** exponent(currency)


@dataclass(frozen=True)
class Line:
    """One subscription item, with its price as the event rendered it (else the ledger's)."""

    price: str | None
    quantity: int | None
    unit_amount: int | None
    currency: str | None
    interval: str | None
    interval_count: int | None
    plan: str | None  # the price's nickname, else lookup key, else id


def _given(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def _line(item: Any, lookup: Lookup) -> Line:
    if not isinstance(item, Mapping):
        raise FieldProblem("invalid_field:items")
    price = item.get("price")
    if price is None:
        price = item.get("plan")  # API versions before prices embed the legacy plan
    quantity = opt_int(item, "quantity")
    if isinstance(price, Mapping):
        price_id = ref(item, "price") or ref(item, "plan")
        recurring = nested(price, "recurring")
        interval = opt_str(recurring, "interval") or opt_str(price, "interval")
        count = opt_int(recurring, "interval_count") or opt_int(price, "interval_count")
        unit = price.get("unit_amount", price.get("amount"))
        name = _given(opt_str(price, "nickname")) or _given(opt_str(price, "lookup_key"))
        return Line(
            price=price_id,
            quantity=quantity,
            unit_amount=unit if isinstance(unit, int) and not isinstance(unit, bool) else None,
            currency=opt_currency(price),
            interval=interval,
            interval_count=count,
            plan=name or price_id,
        )
    price_id = ref(item, "price") or ref(item, "plan")
    record = lookup.price(price_id) if price_id else None
    if record is None:
        return Line(price_id, quantity, None, None, None, None, price_id)
    return Line(
        price=price_id,
        quantity=quantity,
        unit_amount=record.unit_amount,
        currency=record.currency,
        interval=record.interval,
        interval_count=record.interval_count,
        plan=_given(record.nickname) or _given(record.lookup_key) or price_id,
    )


def subscription_lines(subscription: Mapping[str, Any], lookup: Lookup) -> tuple[Line, ...]:
    """The items of a subscription in Stripe's order (`items` is needed, even when empty)."""
    items = subscription.get("items")
    if items is None:
        raise FieldProblem("missing_field:items")
    data = items.get("data") if isinstance(items, Mapping) else items
    if not isinstance(data, list):
        raise FieldProblem("invalid_field:items")
    return tuple(_line(item, lookup) for item in data)


def monthly_amount(lines: Sequence[Line], currency: str) -> Fraction:
    """The exact monthly amount in minor units: Σ unit_amount x quantity per month over the
    items in `currency` (an item's own currency, else the subscription's). An item without a
    unit amount, a quantity or a known interval counts 0; discounts are ignored."""
    total = Fraction(0)
    for line in lines:
        twelfths = INTERVAL_TWELFTHS.get(line.interval or "", 0)
        count = line.interval_count or 1
        if (
            line.unit_amount is None
            or line.quantity is None
            or not twelfths
            or count < 1
            or (line.currency or currency) != currency
        ):
            continue
        total += Fraction(line.unit_amount * line.quantity * twelfths, 12 * count)
    return total


def mrr_contribution(monthly: Fraction, status: str | None) -> Fraction:
    """The monthly amount while the subscription is `active` or `past_due`, else 0."""
    return monthly if status in MRR_STATUSES else Fraction(0)


def in_major(amount: Fraction, currency: str) -> float:
    """An exact amount in minor units, rounded half to even once, in major units."""
    return major(round(amount), currency)


def plan_name(lines: Sequence[Line]) -> str | None:
    """The plan of a subscription: its first item's."""
    return lines[0].plan if lines else None
