"""Subscription attributes: the primary subscription, its plan and dates, and MRR.

A subscription's monthly amount is exact: every item's amount is a multiple of 1 / (12 L)
minor units, L the least common multiple of the interval counts in the run, so amounts are
integers over one common denominator. Only when those integers could overflow 64 bits (never
with real prices) are they doubles instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .frames import LedgerFrames
from .groups import (
    Int64Array,
    codes_of,
    lookup,
    object_index,
    pick_last,
    status_mask,
    take,
)
from .money import currency_codes, round_half_even_div, to_major
from .persons import Persons
from .purchases import nullable_int

# The attributes `subscription_attributes` computes, in the contract's order (docs/attributes.md).
SUBSCRIPTION_ATTRIBUTES: tuple[str, ...] = (
    "subscription_status",
    "plan",
    "plan_interval",
    "mrr",
    "subscription_started_at",
    "trial_ends_at",
    "canceled_at",
    "cancel_at_period_end",
)

LIVE_STATUSES = ("active", "past_due", "trialing", "unpaid", "paused", "incomplete")
MRR_STATUSES = ("active", "past_due")
# Months per interval, times 12: an amount per interval x this / 12 is an amount per month.
INTERVAL_TWELFTHS = {"day": 365, "week": 52, "month": 12, "year": 1}
_SAFE = float(1 << 62)


def _column(frame: pd.DataFrame, name: str, index: Int64Array) -> npt.NDArray[Any]:
    """A column's values at `index` as Python objects, None where null or index is -1."""
    column = frame[name].astype(object)
    return take(column.where(column.notna(), None).to_numpy(), index)


def _nullable(frame: pd.DataFrame, name: str, index: Int64Array) -> pd.arrays.IntegerArray:
    column = frame[name]
    values = take(column.to_numpy(dtype=np.int64, na_value=0), index, 0)
    present = take(column.notna().to_numpy(), index, False)
    return nullable_int(values, present)


def _monthly(
    frames: LedgerFrames, counted: npt.NDArray[np.bool_], subscription_row: Int64Array
) -> tuple[npt.NDArray[Any], int]:
    """Each subscription's monthly amount over its `counted` items, as numerators over the
    returned denominator. An item without a unit amount, a quantity or a known interval
    counts 0 (tiered and metered prices); discounts are ignored."""
    items = frames.subscription_items
    interval_codes, intervals = codes_of(items["recurring_interval"])
    twelfths = take([INTERVAL_TWELFTHS.get(str(name), 0) for name in intervals], interval_codes, 0)
    count = items["recurring_interval_count"].to_numpy(dtype=np.int64, na_value=1)
    unit = items["unit_amount"].to_numpy(dtype=np.int64, na_value=0)
    quantity = items["quantity"].to_numpy(dtype=np.int64, na_value=0)
    priced = (
        counted
        & items["unit_amount"].notna().to_numpy()
        & items["quantity"].notna().to_numpy()
        & (twelfths > 0)
        & (count >= 1)
    )
    lcm = math.lcm(*np.unique(count[priced]).tolist()) if priced.any() else 1
    unit, quantity = unit[priced], quantity[priced]
    twelfths, count = twelfths[priced], count[priced]
    size = float(np.abs(unit.astype(np.float64) * quantity).max()) if len(unit) else 0.0
    monthly: npt.NDArray[Any]
    if size * 365 * lcm * max(len(unit), 1) < _SAFE:
        numerator: npt.NDArray[Any] = unit * quantity * twelfths * (lcm // count)
        monthly = np.zeros(len(frames.subscriptions), dtype=np.int64)
    else:
        numerator = unit.astype(np.float64) * quantity * twelfths * (lcm / count)
        monthly = np.zeros(len(frames.subscriptions), dtype=np.float64)
    np.add.at(monthly, subscription_row[priced], numerator)
    return monthly, 12 * lcm


def _given(column: pd.Series) -> npt.NDArray[np.bool_]:
    text = column.astype(object)
    return (text.notna() & (text.astype(str).str.strip() != "")).to_numpy()


def _plan(frames: LedgerFrames, item: Int64Array) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """The plan name (price nickname, else lookup key, else price id) and the interval of each
    item in `item` (-1: none)."""
    items, prices = frames.subscription_items, frames.prices
    price_ids = prices["id"].to_numpy(dtype=object)
    names = np.where(
        _given(prices["nickname"]),
        prices["nickname"].to_numpy(dtype=object),
        np.where(
            _given(prices["lookup_key"]), prices["lookup_key"].to_numpy(dtype=object), price_ids
        ),
    )
    price_id = _column(items, "price", item)
    price_row = lookup(object_index(price_ids), price_id)
    name = np.where(price_row >= 0, take(names, price_row), price_id)
    interval = _column(items, "recurring_interval", item)
    fallback = _column(prices, "recurring_interval", price_row)
    return name, np.where(pd.isna(interval), fallback, interval)


def subscription_attributes(
    frames: LedgerFrames,
    persons: Persons,
    vocabulary: pd.Index,
    primary: Int64Array,
    exponents: Int64Array,
) -> dict[str, Any]:
    """The primary subscription's status, plan, interval and dates, and the person's MRR."""
    subscriptions, items, n = frames.subscriptions, frames.subscription_items, len(persons)
    person = persons.subscription
    ids = subscriptions["id"]
    row = lookup(object_index(ids), items["subscription"].to_numpy(dtype=object))
    owner = take(person, row, -1)
    # Items count in the primary currency: the price's, else the subscription's currency.
    currency = currency_codes(items["price_currency"], vocabulary)
    currency = np.where(
        currency >= 0,
        currency,
        take(currency_codes(subscriptions["currency"], vocabulary), row, -1),
    )
    counted = (owner >= 0) & (currency >= 0) & (currency == take(primary, owner, -1))
    monthly, denominator = _monthly(frames, counted, row)

    created = subscriptions["created"].to_numpy(dtype=np.int64)
    live = np.where(status_mask(subscriptions["status"], LIVE_STATUSES), person, -1)
    chosen = pick_last(live, n, [monthly, created], ids)
    chosen = np.where(chosen >= 0, chosen, pick_last(person, n, [created], ids))

    paying = (person >= 0) & status_mask(subscriptions["status"], MRR_STATUSES)
    mrr = np.zeros(n, dtype=monthly.dtype)
    np.add.at(mrr, person[paying], monthly[paying])
    if mrr.dtype.kind == "f":
        mrr_minor: npt.NDArray[Any] = np.round(mrr / denominator)  # half to even
    else:
        mrr_minor = round_half_even_div(mrr, denominator)

    position = items["position"].to_numpy(dtype=np.int64)
    first = pick_last(row, len(subscriptions), [-position], position)
    plan, interval = _plan(frames, take(first, chosen, -1))
    cancel = _column(subscriptions, "cancel_at_period_end", chosen)
    return {
        "subscription_status": _column(subscriptions, "status", chosen),
        "plan": plan,
        "plan_interval": interval,
        "mrr": to_major(mrr_minor, exponents),
        "subscription_started_at": _nullable(subscriptions, "start_date", chosen),
        "trial_ends_at": _nullable(subscriptions, "trial_end", chosen),
        "canceled_at": _nullable(subscriptions, "canceled_at", chosen),
        "cancel_at_period_end": pd.array(cancel, dtype="boolean"),
    }
