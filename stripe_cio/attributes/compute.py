"""All attributes of every person, from the ledger frames: one DataFrame, one row a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import AttributeSettings
from .currency import money_attributes, primary_currency, primary_exponents
from .customers import customer_attributes
from .frames import LedgerFrames, frame_from_columns
from .groups import take
from .money import currency_vocabulary
from .persons import SkipCounts, assign_persons
from .purchases import activity_attributes, purchase_totals
from .rfm import rfm_segments
from .subscriptions import subscription_attributes

ATTRIBUTES: tuple[str, ...] = (
    "customer_id",
    "customer_ids",
    "customer_since",
    "currency",
    "total_spent",
    "total_spent_by_currency",
    "purchase_count",
    "first_purchase_at",
    "last_purchase_at",
    "average_order_value",
    "purchases_last_30d",
    "purchases_last_90d",
    "purchases_last_365d",
    "days_between_purchases",
    "refund_count",
    "refunded_total",
    "dispute_count",
    "has_open_dispute",
    "failed_payment_count_90d",
    "last_failed_payment_at",
    "subscription_status",
    "plan",
    "plan_interval",
    "mrr",
    "subscription_started_at",
    "trial_ends_at",
    "canceled_at",
    "cancel_at_period_end",
    "delinquent",
    "rfm_segment",
)
"""The attributes, without their prefix, in the order of the contract (docs/attributes.md)."""

# Attributes that rank a person among all persons: right only when the ledger holds everyone's
# whole history (a partial ledger, e.g. a sync without a backfill, ranks against a sample).
RANK_ATTRIBUTES: tuple[str, ...] = ("rfm_segment",)


@dataclass(frozen=True)
class AttributeResult:
    """The attributes (index: the person's identifier) and what was left out, and why."""

    attributes: pd.DataFrame
    skipped: SkipCounts


def compute_attributes(
    frames: LedgerFrames, as_of: int, settings: AttributeSettings | None = None
) -> AttributeResult:
    """Every attribute of every person, as of `as_of` (Unix seconds), from the ledger frames.

    Pure: reads no clock and no file, and leaves the frames as they are.
    """
    settings = settings or AttributeSettings()
    persons = assign_persons(frames, settings)
    vocabulary = currency_vocabulary(
        frames.charges["currency"],
        frames.customers["currency"],
        frames.subscriptions["currency"],
        frames.subscription_items["price_currency"],
    )
    totals = purchase_totals(frames, persons, vocabulary)
    primary = primary_currency(frames, persons, vocabulary, totals)
    exponents = primary_exponents(primary, vocabulary)
    values: dict[str, Any] = {
        **customer_attributes(frames, persons),
        "currency": take(vocabulary.to_numpy(dtype=object), primary),
        **money_attributes(totals, primary, vocabulary),
        **activity_attributes(frames, persons, as_of),
        **subscription_attributes(frames, persons, vocabulary, primary, exponents),
    }
    values["rfm_segment"] = rfm_segments(
        values["last_purchase_at"].to_numpy(dtype=np.int64, na_value=0),
        values["purchase_count"],
        values["spent_minor"],
        primary,
    )
    frame = frame_from_columns(
        {settings.name(name): values[name] for name in ATTRIBUTES}, len(persons)
    )
    frame.index = pd.Index(persons.ids, dtype=object, name="person")
    return AttributeResult(attributes=frame, skipped=persons.skipped)
