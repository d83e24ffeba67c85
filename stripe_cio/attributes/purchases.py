"""Purchase, refund, dispute and failed-payment attributes, and per-currency purchase totals.

A purchase is a charge with status `succeeded` and `amount_captured > 0`; its net is
`amount_captured - amount_refunded` (basil semantics, which the ledger guarantees).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .frames import LedgerFrames
from .groups import Int64Array, pair_codes, pick_last, status_mask
from .money import currency_codes, round_half_even_div
from .persons import Persons

DAY = 86_400
WINDOW_DAYS = (30, 90, 365)
# The attributes `activity_attributes` computes, in the contract's order (docs/attributes.md).
ACTIVITY_ATTRIBUTES: tuple[str, ...] = (
    "purchase_count",
    "first_purchase_at",
    "last_purchase_at",
    *(f"purchases_last_{days}d" for days in WINDOW_DAYS),
    "days_between_purchases",
    "refund_count",
    "dispute_count",
    "has_open_dispute",
    "failed_payment_count_90d",
    "last_failed_payment_at",
)
OPEN_DISPUTE_STATUSES = (
    "warning_needs_response",
    "warning_under_review",
    "needs_response",
    "under_review",
)


def nullable_int(values: Int64Array, present: npt.NDArray[np.bool_]) -> pd.arrays.IntegerArray:
    """Int64 values, null where not `present`."""
    return pd.arrays.IntegerArray(np.where(present, values, 0).astype(np.int64), ~present)


def _purchase_mask(frames: LedgerFrames, persons: Persons) -> npt.NDArray[np.bool_]:
    charges = frames.charges
    captured = charges["amount_captured"].to_numpy(dtype=np.int64)
    succeeded = status_mask(charges["status"], ["succeeded"])
    return (persons.charge >= 0) & succeeded & (captured > 0)


@dataclass(frozen=True)
class PurchaseTotals:
    """Purchases summed per (person, currency) pair; pairs in (person, currency) order."""

    person: Int64Array
    currency: Int64Array  # position in the run's currency vocabulary
    count: Int64Array
    captured: Int64Array
    refunded: Int64Array
    lost: Int64Array  # amount of disputes with status `lost` on these purchases
    last_created: Int64Array  # the most recent purchase ...
    last_id: npt.NDArray[Any]  # ... and its id (ties: the larger id)

    @property
    def spent(self) -> Int64Array:
        """Σ net minus lost disputes, in minor units."""
        return self.captured - self.refunded - self.lost


def _lost(
    frames: LedgerFrames,
    persons: Persons,
    vocabulary: pd.Index,
    pair_person: Int64Array,
    pair_currency: Int64Array,
) -> Int64Array:
    """The amount of lost disputes on purchases, per (person, currency) pair."""
    disputes = frames.disputes
    currency = currency_codes(disputes["charge_currency"], vocabulary)
    captured = disputes["charge_amount_captured"].to_numpy(dtype=np.int64, na_value=0)
    on = (
        (persons.dispute >= 0)
        & status_mask(disputes["status"], ["lost"])
        & status_mask(disputes["charge_status"], ["succeeded"])
        & (captured > 0)
        & (currency >= 0)
    )
    # Pairs are in key order, so a dispute's pair is found by binary search.
    n_currencies = len(vocabulary)
    keys = pair_person * n_currencies + pair_currency
    wanted = persons.dispute[on] * n_currencies + currency[on]
    pair = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = keys[pair] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
    lost = np.zeros(len(keys), dtype=np.int64)
    amounts = disputes["amount"].to_numpy(dtype=np.int64)[on]
    np.add.at(lost, pair[found], amounts[found])
    return lost


def purchase_totals(frames: LedgerFrames, persons: Persons, vocabulary: pd.Index) -> PurchaseTotals:
    """Each person's purchases summed per currency."""
    charges = frames.charges
    currency = currency_codes(charges["currency"], vocabulary)
    rows = np.flatnonzero(_purchase_mask(frames, persons) & (currency >= 0))
    person = persons.charge[rows]
    pair, pair_person, pair_currency = pair_codes(person, currency[rows], len(vocabulary))
    n = len(pair_person)

    def total(column: str) -> Int64Array:
        out = np.zeros(n, dtype=np.int64)
        np.add.at(out, pair, charges[column].to_numpy(dtype=np.int64)[rows])
        return out

    created = charges["created"].to_numpy(dtype=np.int64)[rows]
    ids = charges["id"].to_numpy(dtype=object)[rows]
    last = pick_last(pair, n, [created], ids)
    return PurchaseTotals(
        person=pair_person,
        currency=pair_currency,
        count=np.bincount(pair, minlength=n).astype(np.int64),
        captured=total("amount_captured"),
        refunded=total("amount_refunded"),
        lost=_lost(frames, persons, vocabulary, pair_person, pair_currency),
        last_created=created[last],
        last_id=ids[last],
    )


def activity_attributes(frames: LedgerFrames, persons: Persons, as_of: int) -> dict[str, Any]:
    """Attributes over all currencies: counts, first and last purchase, windows, refunds,
    disputes and failed payments."""
    charges, n = frames.charges, len(persons)
    created = charges["created"].to_numpy(dtype=np.int64)
    purchase = _purchase_mask(frames, persons)
    person = persons.charge[purchase]
    when = created[purchase]
    count = np.bincount(person, minlength=n).astype(np.int64)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, person, when)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, person, when)
    bought = count > 0
    out: dict[str, Any] = {
        "purchase_count": count,
        "first_purchase_at": nullable_int(first, bought),
        "last_purchase_at": nullable_int(last, bought),
    }
    for days in WINDOW_DAYS:
        inside = (when > as_of - days * DAY) & (when <= as_of)
        out[f"purchases_last_{days}d"] = np.bincount(person[inside], minlength=n).astype(np.int64)
    # The mean of consecutive gaps is the whole span over the number of gaps: in tenths of a
    # day, rounded half to even from the exact quotient.
    several = count >= 2
    tenths = round_half_even_div(
        np.where(several, last - first, 0) * 10, np.where(several, count - 1, 1) * DAY
    )
    out["days_between_purchases"] = np.where(several, tenths / 10, np.nan)
    refunded = charges["amount_refunded"].to_numpy(dtype=np.int64)[purchase]
    out["refund_count"] = np.bincount(person[refunded > 0], minlength=n).astype(np.int64)

    disputed = persons.dispute >= 0
    dispute_person = persons.dispute[disputed]
    is_open = status_mask(frames.disputes["status"], OPEN_DISPUTE_STATUSES)[disputed]
    out["dispute_count"] = np.bincount(dispute_person, minlength=n).astype(np.int64)
    out["has_open_dispute"] = np.bincount(dispute_person[is_open], minlength=n) > 0

    failed = (persons.charge >= 0) & status_mask(charges["status"], ["failed"])
    failed_person, failed_when = persons.charge[failed], created[failed]
    recent = (failed_when > as_of - 90 * DAY) & (failed_when <= as_of)
    out["failed_payment_count_90d"] = np.bincount(failed_person[recent], minlength=n).astype(
        np.int64
    )
    last_failed = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_failed, failed_person, failed_when)
    out["last_failed_payment_at"] = nullable_int(
        last_failed, np.bincount(failed_person, minlength=n) > 0
    )
    return out
