"""Attributes of the person's Stripe customers: ids, age and delinquency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .frames import LedgerFrames
from .groups import pick_last, take
from .persons import Persons
from .purchases import nullable_int

# The attributes `customer_attributes` computes, in the contract's order (docs/attributes.md).
CUSTOMER_ATTRIBUTES: tuple[str, ...] = (
    "customer_id",
    "customer_ids",
    "customer_since",
    "delinquent",
)


def customer_attributes(frames: LedgerFrames, persons: Persons) -> dict[str, Any]:
    """The most recent customer's id, every customer id (when several), the earliest creation
    time, and whether any customer is delinquent."""
    customers, n = frames.customers, len(persons)
    person = persons.customer
    ids = customers["id"].to_numpy(dtype=object)
    created = customers["created"]
    known = created.notna().to_numpy() & (person >= 0)
    seconds = created.to_numpy(dtype=np.int64, na_value=np.iinfo(np.int64).min)
    latest = pick_last(person, n, [seconds], ids)
    since = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(since, person[known], seconds[known])

    count = np.bincount(person[person >= 0], minlength=n)
    several = np.flatnonzero(take(count, person, 0) > 1)
    all_ids = np.full(n, None, dtype=object)
    if len(several):
        rows = pd.DataFrame({"person": person[several], "id": ids[several]})
        rows = rows.sort_values(["person", "id"])
        owner = rows["person"].to_numpy()
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[starts[1:], len(owner)].tolist()
        sorted_ids = rows["id"].tolist()
        # A Python list per person with several customers (the attribute is a JSON array).
        lists = [sorted_ids[a:b] for a, b in zip(starts.tolist(), ends, strict=True)]
        all_ids[owner[starts]] = pd.Series(lists, dtype=object).to_numpy()

    delinquent = customers["delinquent"].fillna(False).to_numpy(dtype=bool) & (person >= 0)
    return {
        "customer_id": take(ids, latest),
        "customer_ids": all_ids,
        "customer_since": nullable_int(since, np.bincount(person[known], minlength=n) > 0),
        "delinquent": np.bincount(person[delinquent], minlength=n) > 0,
    }
