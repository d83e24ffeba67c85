"""All attributes of every person, from the ledger frames: one DataFrame, one row a person."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .config import AttributeSettings
from .currency import MONEY_ATTRIBUTES, money_attributes, primary_currency, primary_exponents
from .customers import CUSTOMER_ATTRIBUTES, customer_attributes
from .frames import LedgerFrames, frame_from_columns
from .groups import take
from .money import currency_vocabulary
from .persons import SkipCounts, assign_persons
from .purchases import ACTIVITY_ATTRIBUTES, activity_attributes, purchase_totals
from .rfm import RFM_ATTRIBUTES, RankCuts, rfm_segments
from .rfm import rank_cuts as rank_cuts_of
from .subscriptions import SUBSCRIPTION_ATTRIBUTES, subscription_attributes

# Every attribute, without its prefix, in the contract's order (docs/attributes.md): each
# group's names are declared beside the function computing them.
ATTRIBUTES: tuple[str, ...] = (
    *CUSTOMER_ATTRIBUTES,
    *MONEY_ATTRIBUTES,
    *ACTIVITY_ATTRIBUTES,
    *SUBSCRIPTION_ATTRIBUTES,
    *RFM_ATTRIBUTES,
)
# What the groups compute for one another, not sent.
_INTERMEDIATE = frozenset({"spent_minor"})

# Attributes that rank a person among all persons: right only when the ledger holds everyone's
# whole history (a partial ledger, e.g. a sync without a backfill, ranks against a sample).
RANK_ATTRIBUTES: tuple[str, ...] = ("rfm_segment",)
RANK_INPUTS = ("last_purchase_at", "purchase_count", "spent_minor", "currency")


@dataclass(frozen=True)
class AttributeResult:
    """The attributes (index: the person's identifier) and what was left out, and why."""

    attributes: pd.DataFrame
    skipped: SkipCounts
    # The rank attributes' cut-points these persons were scored against (None: no purchase).
    rank_cuts: RankCuts | None = None
    # What the ranks compare, a row a person (index: the identifier): last_purchase_at,
    # purchase_count, spent_minor and currency (the primary one).
    rank_inputs: pd.DataFrame | None = None


def compute_attributes(
    frames: LedgerFrames,
    as_of: int,
    settings: AttributeSettings | None = None,
    *,
    rank_cuts: RankCuts | None = None,
) -> AttributeResult:
    """Every attribute of every person, as of `as_of` (Unix seconds), from the ledger frames.

    The rank attributes compare each person with the others of the frames, or, given
    `rank_cuts` (those of a computation over everyone), with everyone: frames holding only some
    persons' whole rows then give exactly those persons' rows of the computation over everyone.
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
        **money_attributes(totals, primary, vocabulary),
        **activity_attributes(frames, persons, as_of),
        **subscription_attributes(frames, persons, vocabulary, primary, exponents),
    }
    ranked = (
        values["last_purchase_at"].to_numpy(dtype=np.int64, na_value=0),
        values["purchase_count"],
        values["spent_minor"],
        take(vocabulary.to_numpy(dtype=object), primary, None),
    )
    cuts = rank_cuts or rank_cuts_of(*ranked)
    values["rfm_segment"] = rfm_segments(*ranked, cuts)
    if values.keys() - _INTERMEDIATE != set(ATTRIBUTES):
        # A computed attribute missing from its group's names would never be sent.
        unnamed = sorted(values.keys() - _INTERMEDIATE ^ set(ATTRIBUTES))
        raise RuntimeError(f"attributes computed and named differ: {unnamed}")
    frame = frame_from_columns(
        {settings.name(name): values[name] for name in ATTRIBUTES}, len(persons)
    )
    frame.index = pd.Index(persons.ids, dtype=object, name="person")
    inputs = pd.DataFrame(dict(zip(RANK_INPUTS, ranked, strict=True)), index=frame.index)
    return AttributeResult(
        attributes=frame, skipped=persons.skipped, rank_cuts=cuts, rank_inputs=inputs
    )


def combined_rank_cuts(inputs: Iterable[pd.DataFrame]) -> RankCuts | None:
    """The cut-points of everyone, from the rank inputs of computations over parts of them."""
    parts = [part for part in inputs if len(part)]
    if not parts:
        return None
    whole = pd.concat(parts)
    last, count, spent, currency = (whole[name].to_numpy() for name in RANK_INPUTS)
    return rank_cuts_of(last, count, spent, currency)


def rescored(
    result: AttributeResult, cuts: RankCuts | None, settings: AttributeSettings
) -> AttributeResult:
    """`result` with its rank attributes scored against `cuts` (those of everyone)."""
    assert result.rank_inputs is not None
    inputs = result.rank_inputs
    frame = result.attributes.copy()
    last, count, spent, currency = (inputs[name].to_numpy() for name in RANK_INPUTS)
    frame[settings.name("rfm_segment")] = rfm_segments(last, count, spent, currency, cuts)
    return replace(result, attributes=frame, rank_cuts=cuts)
