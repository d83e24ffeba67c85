"""Persons: Stripe customers and guest charges grouped by the configured identifier.

Every row of customers, charges, subscriptions and disputes gets a person code (the position
of its person in the sorted identifiers) or -1 with a counted reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._config import AttributeSettings
from ._frames import LedgerFrames
from ._groups import Int64Array, codes_of, lookup, object_index, take

__all__ = ["SKIP_REASONS", "Persons", "SkipCounts", "assign_persons"]

_OK, _DELETED, _NO_IDENTIFIER, _UNKNOWN_CUSTOMER, _UNKNOWN_CHARGE = range(5)
SKIP_REASONS = ("deleted", "no_identifier", "unknown_customer", "unknown_charge")


@dataclass(frozen=True)
class SkipCounts:
    """Rows left out of every person, by table and reason (only reasons that occurred)."""

    customers: Mapping[str, int] = field(default_factory=dict)
    charges: Mapping[str, int] = field(default_factory=dict)
    subscriptions: Mapping[str, int] = field(default_factory=dict)
    disputes: Mapping[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "customers": dict(self.customers),
            "charges": dict(self.charges),
            "subscriptions": dict(self.subscriptions),
            "disputes": dict(self.disputes),
        }


@dataclass(frozen=True)
class Persons:
    """The persons and the person code (-1: skipped) of every row of the ledger frames."""

    ids: pd.Index  # the persons' identifiers, sorted; a person's code is its position
    customer: Int64Array
    charge: Int64Array
    subscription: Int64Array
    dispute: Int64Array
    dispute_charge: Int64Array  # charges row of each dispute, -1 when not in the ledger
    skipped: SkipCounts

    def __len__(self) -> int:
        return len(self.ids)


def _counts(reasons: Int64Array) -> dict[str, int]:
    tally = np.bincount(reasons, minlength=len(SKIP_REASONS) + 1)
    return {name: int(n) for name, n in zip(SKIP_REASONS, tally[1:], strict=True) if n}


def _keys(values: pd.Series | pd.Index, fold_case: bool) -> pd.Series:
    """Identifiers from raw values: trimmed, lower-cased for emails; empty means none."""
    text = pd.Series(np.asarray(values, dtype=object)).str.strip()
    if fold_case:
        text = text.str.lower()
    return text.where(text.str.len() > 0)


def _customer_keys(frames: LedgerFrames, settings: AttributeSettings) -> pd.Series:
    customers = frames.customers
    kind = settings.identifier_kind
    if kind == "stripe_id":
        return _keys(customers["id"], fold_case=False)
    if kind == "email":
        return _keys(customers["email"], fold_case=True)
    return _keys(customers["metadata_value"], fold_case=False)


def _by_customer(
    customer_ids: pd.Series, index: pd.Index, person: Int64Array, reason: Int64Array
) -> tuple[Int64Array, Int64Array]:
    """Person and skip reason of rows referring to customers (by the customers' positions)."""
    codes, categories = codes_of(customer_ids)
    row = lookup(index, categories)
    category_person = take(person, row, -1)
    category_reason = take(reason, row, _UNKNOWN_CUSTOMER)
    return take(category_person, codes, -1), take(category_reason, codes, _NO_IDENTIFIER)


def _disputed_charges(frames: LedgerFrames) -> Int64Array:
    """The charges row of each dispute, -1 when its charge is not in the ledger."""
    # Hash the few disputed charge ids, not the many charges.
    codes, disputed = codes_of(frames.disputes["charge"])
    position = lookup(object_index(disputed), frames.charges["id"].to_numpy(dtype=object))
    found = np.flatnonzero(position >= 0)
    row = np.full(len(disputed), -1, dtype=np.int64)
    row[position[found]] = found
    return take(row, codes, -1)


def assign_persons(frames: LedgerFrames, settings: AttributeSettings) -> Persons:
    """Group customers, guest charges, subscriptions and disputes into persons."""
    customers, charges = frames.customers, frames.charges
    customer_keys = _customer_keys(frames, settings)
    deleted = customers["deleted"].to_numpy(dtype=bool)
    has_key = customer_keys.notna().to_numpy()
    customer_reason = np.where(deleted, _DELETED, np.where(has_key, _OK, _NO_IDENTIFIER))

    # Guest charges join (or create) the person of their billing email, under `email` only.
    email_codes, emails = codes_of(charges["billing_email"])
    guest = charges["customer"].isna().to_numpy()
    if settings.identifier_kind == "email":
        guest_keys = _keys(emails, fold_case=True)
    else:
        guest_keys = pd.Series([None] * len(emails), dtype=object)
    guest_key_ok = take(guest_keys.notna().to_numpy(), email_codes, False)
    used_guest_keys = guest_keys.iloc[np.unique(email_codes[guest & guest_key_ok])]

    valid = customer_reason == _OK
    all_keys = pd.concat([customer_keys[valid], used_guest_keys], ignore_index=True)
    # Python's sort of a list of str is several times faster than numpy's of an object array.
    ids = object_index(sorted(pd.unique(all_keys.to_numpy(dtype=object)).tolist()))
    customer_person = np.where(valid, lookup(ids, customer_keys.to_numpy(dtype=object)), -1)
    customer_index = object_index(customers["id"])

    charge_person, charge_reason = _by_customer(
        charges["customer"], customer_index, customer_person, customer_reason
    )
    guest_person = take(lookup(ids, guest_keys.to_numpy(dtype=object)), email_codes, -1)
    charge_person = np.where(guest, np.where(guest_key_ok, guest_person, -1), charge_person)
    charge_reason = np.where(guest, np.where(guest_key_ok, _OK, _NO_IDENTIFIER), charge_reason)

    subscription_person, subscription_reason = _by_customer(
        frames.subscriptions["customer"], customer_index, customer_person, customer_reason
    )

    # Disputes follow their charge.
    dispute_charge = _disputed_charges(frames)
    dispute_person = take(charge_person, dispute_charge, -1)
    dispute_reason = take(charge_reason, dispute_charge, _UNKNOWN_CHARGE)

    return Persons(
        ids=ids,
        customer=customer_person,
        charge=charge_person,
        subscription=subscription_person,
        dispute=dispute_person,
        dispute_charge=dispute_charge,
        skipped=SkipCounts(
            customers=_counts(customer_reason),
            charges=_counts(charge_reason),
            subscriptions=_counts(subscription_reason),
            disputes=_counts(dispute_reason),
        ),
    )
