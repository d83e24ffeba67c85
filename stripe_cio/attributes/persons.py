"""Persons: Stripe customers and guest charges grouped by the configured identifier.

Every row of customers, charges, subscriptions and disputes gets a person code (the position
of its person in the sorted identifiers) or -1 with a counted reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..ledger.normalise import EMAIL_PATTERN, MAX_EMAIL_OCTETS, MAX_LOCAL_OCTETS, email_problem
from .config import AttributeSettings
from .frames import LedgerFrames
from .groups import Int64Array, codes_of, lookup, object_index, take

_OK, _DELETED, _NO_IDENTIFIER, _UNKNOWN_CUSTOMER, _UNKNOWN_CHARGE, _INVALID_EMAIL = range(6)
SKIP_REASONS = ("deleted", "no_identifier", "unknown_customer", "unknown_charge", "invalid_email")


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


def _valid_emails(keys: pd.Series) -> npt.NDArray[np.bool_]:
    """Which present keys are one valid address, exactly as `normalised_email` judges.

    Vectorised: the pattern and the lengths in characters over the whole column; only the
    rare non-ASCII addresses, whose octets outnumber their characters, go one by one.
    """
    present = keys.notna()
    text = keys[present]
    ok = text.str.fullmatch(EMAIL_PATTERN).to_numpy(dtype=bool, copy=True)
    ok &= (text.str.len() <= MAX_EMAIL_OCTETS).to_numpy(dtype=bool)
    ok &= (text.str.rfind("@") <= MAX_LOCAL_OCTETS).to_numpy(dtype=bool)
    wide = ok & ~text.str.isascii().to_numpy(dtype=bool)
    if wide.any():
        ok[wide] = [email_problem(address) is None for address in text[wide]]
    valid = np.zeros(len(keys), dtype=bool)
    valid[present.to_numpy()] = ok
    return valid


def _usable(keys: pd.Series, kind: str) -> tuple[pd.Series, npt.NDArray[np.bool_]]:
    """The keys with invalid emails taken out (under the `email` identifier), and where."""
    if kind != "email":
        return keys, np.zeros(len(keys), dtype=bool)
    invalid = keys.notna().to_numpy() & ~_valid_emails(keys)
    return keys.where(~invalid), invalid


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
    n = len(index)
    if len(categories) >= n and categories[:n].equals(index):
        # Coded against the customer ids by the loader: positions are the codes themselves.
        row = np.concatenate([np.arange(n), lookup(index, categories[n:])])
    else:
        row = lookup(index, categories)
    category_person = take(person, row, -1)
    category_reason = take(reason, row, _UNKNOWN_CUSTOMER)
    return take(category_person, codes, -1), take(category_reason, codes, _NO_IDENTIFIER)


class _Identify:
    """Identifies the person of customer rows and of charges (whose guests go by email)."""

    def __init__(self, frames: LedgerFrames, settings: AttributeSettings) -> None:
        self.settings = settings
        customers = frames.customers
        keys, invalid = _usable(_customer_keys(frames, settings), settings.identifier_kind)
        deleted = customers["deleted"].to_numpy(dtype=bool)
        missing = np.where(invalid, _INVALID_EMAIL, _NO_IDENTIFIER)
        self.customer_reason = np.where(
            deleted, _DELETED, np.where(keys.notna().to_numpy(), _OK, missing)
        )
        valid = self.customer_reason == _OK
        # Guest charges join, or create, the person of their billing email.
        _, _, guest_keys, _ = self._guest_keys(
            frames.charges["customer"], frames.charges["billing_email"]
        )
        all_keys = np.concatenate([keys[valid].to_numpy(dtype=object), guest_keys])
        # Python's sort of a list of str is several times faster than numpy's of an object array.
        self.ids = object_index(sorted(pd.unique(all_keys).tolist()))
        self.customer_person = np.where(valid, lookup(self.ids, keys.to_numpy(dtype=object)), -1)
        self.customer_index = object_index(customers["id"])

    def _guest_keys(
        self, customer: pd.Series, billing_email: pd.Series
    ) -> tuple[Int64Array, pd.Series, npt.NDArray[Any], npt.NDArray[np.bool_]]:
        """Codes of the billing emails, their identifiers, those of guest rows, and which
        billing emails are not addresses (by code)."""
        codes, emails = codes_of(billing_email)
        if self.settings.identifier_kind == "email":
            keys, invalid = _usable(_keys(emails, fold_case=True), "email")
        else:
            keys = pd.Series([None] * len(emails), dtype=object)
            invalid = np.zeros(len(emails), dtype=bool)
        usable = take(keys.notna().to_numpy(), codes, False) & customer.isna().to_numpy()
        guests = keys.iloc[np.unique(codes[usable])].to_numpy(dtype=object)
        return codes, keys, guests, invalid

    def charges(
        self, customer: pd.Series, billing_email: pd.Series
    ) -> tuple[Int64Array, Int64Array]:
        """Person and skip reason of each charge, from its customer or guest billing email."""
        person, reason = _by_customer(
            customer, self.customer_index, self.customer_person, self.customer_reason
        )
        codes, keys, _, invalid = self._guest_keys(customer, billing_email)
        guest = customer.isna().to_numpy()
        guest_person = take(lookup(self.ids, keys.to_numpy(dtype=object)), codes, -1)
        missing = np.where(take(invalid, codes, False), _INVALID_EMAIL, _NO_IDENTIFIER)
        person = np.where(guest, guest_person, person)
        reason = np.where(guest, np.where(guest_person >= 0, _OK, missing), reason)
        return person, reason


def assign_persons(frames: LedgerFrames, settings: AttributeSettings) -> Persons:
    """Group customers, guest charges, subscriptions and disputes into persons."""
    identify = _Identify(frames, settings)
    charges, disputes = frames.charges, frames.disputes
    charge_person, charge_reason = identify.charges(charges["customer"], charges["billing_email"])
    subscription_person, subscription_reason = _by_customer(
        frames.subscriptions["customer"],
        identify.customer_index,
        identify.customer_person,
        identify.customer_reason,
    )
    # A dispute belongs to its charge's person; the ledger joined the charge's fields to it.
    dispute_person, dispute_reason = identify.charges(
        disputes["charge_customer"], disputes["charge_billing_email"]
    )
    unknown = disputes["charge_status"].isna().to_numpy()
    dispute_person = np.where(unknown, -1, dispute_person)
    dispute_reason = np.where(unknown, _UNKNOWN_CHARGE, dispute_reason)
    return Persons(
        ids=identify.ids,
        customer=identify.customer_person,
        charge=charge_person,
        subscription=subscription_person,
        dispute=dispute_person,
        skipped=SkipCounts(
            customers=_counts(identify.customer_reason),
            charges=_counts(charge_reason),
            subscriptions=_counts(subscription_reason),
            disputes=_counts(dispute_reason),
        ),
    )
