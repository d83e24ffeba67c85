"""The person's primary currency, and the money attributes that depend on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .frames import LedgerFrames
from .groups import Int64Array, pick_last, take
from .money import currency_codes, currency_exponents, round_half_even_div, to_major
from .persons import Persons
from .purchases import PurchaseTotals

# The attributes `money_attributes` computes, in the contract's order (docs/attributes.md).
MONEY_ATTRIBUTES: tuple[str, ...] = (
    "currency",
    "total_spent",
    "total_spent_by_currency",
    "average_order_value",
    "refunded_total",
)


def primary_currency(
    frames: LedgerFrames, persons: Persons, vocabulary: pd.Index, totals: PurchaseTotals
) -> Int64Array:
    """Each person's primary currency (position in `vocabulary`, -1 for none).

    The currency of the most recently created customer that has one; else the currency with
    the most purchases (ties: the one whose latest purchase is the most recent); else the
    currency of the most recently created subscription. Ties left go to the larger Stripe id.
    """
    n = len(persons)
    customers = frames.customers
    currency = currency_codes(customers["currency"], vocabulary)
    created = customers["created"].to_numpy(dtype=np.int64, na_value=np.iinfo(np.int64).min)
    group = np.where((persons.customer >= 0) & (currency >= 0), persons.customer, -1)
    chosen = pick_last(group, n, [created], customers["id"])
    primary = take(currency, chosen, -1)

    by_purchases = pick_last(totals.person, n, [totals.count, totals.last_created], totals.last_id)
    primary = np.where(primary >= 0, primary, take(totals.currency, by_purchases, -1))

    subscriptions = frames.subscriptions
    currency = currency_codes(subscriptions["currency"], vocabulary)
    group = np.where((persons.subscription >= 0) & (currency >= 0), persons.subscription, -1)
    created = subscriptions["created"].to_numpy(dtype=np.int64)
    chosen = pick_last(group, n, [created], subscriptions["id"])
    return np.where(primary >= 0, primary, take(currency, chosen, -1))


def primary_exponents(primary: Int64Array, vocabulary: pd.Index) -> Int64Array:
    """The exponent of each person's primary currency (0 without one: its sums are 0)."""
    return take(currency_exponents(vocabulary), primary, 0)


def _by_currency(totals: PurchaseTotals, vocabulary: pd.Index, n: int) -> Any:
    """Per person a {currency: total spent} dict over every purchase currency, else None."""
    out = np.full(n, None, dtype=object)
    if not len(totals.person):
        return out
    values = to_major(totals.spent, currency_exponents(vocabulary)[totals.currency])
    names = vocabulary.to_numpy(dtype=object)[totals.currency]
    person = totals.person
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    ends = np.r_[starts[1:], len(person)]
    # The one step that builds a Python object per person: the attribute is a JSON object.
    # Most persons buy in one currency: build those dicts without slicing.
    single = ends - starts == 1
    out[person[starts[single]]] = [
        {name: value}
        for name, value in zip(
            names[starts[single]].tolist(), values[starts[single]].tolist(), strict=True
        )
    ]
    name_list, value_list = names.tolist(), values.tolist()
    out[person[starts[~single]]] = [
        dict(zip(name_list[a:b], value_list[a:b], strict=True))
        for a, b in zip(starts[~single].tolist(), ends[~single].tolist(), strict=True)
    ]
    return out


def money_attributes(
    totals: PurchaseTotals, primary: Int64Array, vocabulary: pd.Index
) -> dict[str, Any]:
    """The primary currency, totals, average order value and refunds in it, and spend per
    currency; `spent_minor` (exact total spent in minor units) is for the RFM scores."""
    n = len(primary)
    exponents = primary_exponents(primary, vocabulary)
    in_primary = totals.currency == primary[totals.person]
    person = totals.person[in_primary]

    def per_person(values: Int64Array) -> Int64Array:
        out = np.zeros(n, dtype=np.int64)
        out[person] = values[in_primary]
        return out

    spent = per_person(totals.spent)
    count = per_person(totals.count)
    bought = count > 0
    average = round_half_even_div(per_person(totals.captured), np.maximum(count, 1))
    return {
        "currency": take(vocabulary.to_numpy(dtype=object), primary),
        "total_spent": to_major(spent, exponents),
        "total_spent_by_currency": _by_currency(totals, vocabulary, n),
        "average_order_value": np.where(bought, to_major(average, exponents), np.nan),
        "refunded_total": to_major(per_person(totals.refunded), exponents),
        "spent_minor": spent,
    }
