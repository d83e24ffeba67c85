"""The ledger frames the attribute transforms take (their columns and compact dtypes), and a
person's attributes as the JSON-ready dict to send."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

ColumnKind = Literal["id", "str", "category", "int", "Int", "bool", "boolean"]
"""How a column is held: `id` and `str` as Python strings (`id` never null), `category` as a
pandas categorical (few distinct values, or many repeats), `int` as int64, `Int` as nullable
Int64, `bool` as bool, `boolean` as nullable boolean."""

FRAME_COLUMNS: Mapping[str, Mapping[str, ColumnKind]] = {
    "customers": {
        "id": "id",
        "created": "Int",
        "email": "str",
        "currency": "category",
        "delinquent": "boolean",
        "deleted": "bool",
        # The value of the identifier's metadata key, under `metadata:<key>`; else null.
        "metadata_value": "str",
    },
    "charges": {
        "id": "id",
        "customer": "category",
        "created": "int",
        "status": "category",
        "amount_captured": "int",
        "amount_refunded": "int",
        "currency": "category",
        # billing_details.email, for guest charges (no customer) only.
        "billing_email": "category",
    },
    # Each dispute with the fields of its charge (all null when the charge is not in the
    # ledger), so that no charge id needs matching: the ledger joins them.
    "disputes": {
        "charge": "str",
        "amount": "int",
        "status": "category",
        "charge_customer": "category",
        "charge_billing_email": "category",  # guest charges only
        "charge_status": "category",
        "charge_amount_captured": "Int",
        "charge_currency": "category",
    },
    "subscriptions": {
        "id": "id",
        "customer": "category",
        "created": "int",
        "status": "category",
        "currency": "category",
        "start_date": "Int",
        "trial_end": "Int",
        "canceled_at": "Int",
        "cancel_at_period_end": "boolean",
    },
    "subscription_items": {
        "subscription": "id",
        "position": "int",
        "price": "str",
        "quantity": "Int",
        "price_currency": "category",
        "unit_amount": "Int",
        "recurring_interval": "category",
        "recurring_interval_count": "Int",
    },
    "prices": {
        "id": "id",
        "nickname": "str",
        "lookup_key": "str",
        "recurring_interval": "category",
    },
}


@dataclass(frozen=True)
class LedgerFrames:
    """One frame per ledger table the attributes read, with the columns of FRAME_COLUMNS."""

    customers: pd.DataFrame
    charges: pd.DataFrame
    disputes: pd.DataFrame
    subscriptions: pd.DataFrame
    subscription_items: pd.DataFrame
    prices: pd.DataFrame


def column_from_objects(values: npt.NDArray[Any], kind: ColumnKind, name: str = "") -> Any:
    """An array of Python values (None for null) as the compact array of its kind.

    `id` columns are primary keys, never null. A null in an `int` or `bool` column is a
    ValueError naming the column: the ledger's normalisers never store one there.
    """
    if kind in ("id", "str"):
        return values.astype(object, copy=False)
    if kind == "category":
        # Categories in order of appearance: sorting them would cost and serves nothing.
        codes, uniques = pd.factorize(values)
        return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    if kind in ("int", "bool"):
        try:
            integers = values.astype(np.int64)  # a None raises here (astype(bool) would not)
        except TypeError:
            raise ValueError(
                f"column {name} has {int(pd.isna(values).sum())} null values"
            ) from None
        return integers if kind == "int" else integers.astype(bool)
    try:  # the common case: no nulls in this chunk
        filled, missing = values.astype(np.int64), np.zeros(len(values), dtype=bool)
    except TypeError:
        missing = pd.isna(values)
        filled = np.where(missing, 0, values).astype(np.int64)
    if kind == "Int":
        return pd.arrays.IntegerArray(filled, missing)
    return pd.arrays.BooleanArray(filled.astype(bool), missing)


def frame_from_records(table: str, records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A frame of `table` from dicts; absent keys are null (a hand-written test frame)."""
    columns = FRAME_COLUMNS[table]
    rows = list(records)
    data = {}
    for name, kind in columns.items():
        values = np.empty(len(rows), dtype=object)
        values[:] = [row.get(name) for row in rows]
        data[name] = column_from_objects(values, kind, f"{table}.{name}")
    return frame_from_columns(data, len(rows))


def frame_from_columns(columns: Mapping[str, Any], length: int) -> pd.DataFrame:
    """A frame of the given column arrays; object arrays stay objects (no string inference)."""
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object, copy=False)
            if isinstance(values, np.ndarray) and values.dtype == object
            else values
            for name, values in columns.items()
        },
        index=pd.RangeIndex(length),
    )


# --- attributes to send ---------------------------------------------------------------------------
# A person's attributes as the JSON-ready dict to send: absent values left out.


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as the Python value JSON takes; None when absent."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, dict | list):
        return value
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def attribute_dict(row: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    """The attributes of one row of the attribute frame, without the absent ones."""
    items = row.items()
    return {str(name): plain for name, value in items if (plain := _plain(value)) is not None}


def attribute_dicts(frame: pd.DataFrame) -> Iterator[tuple[str, dict[str, Any]]]:
    """(person, attributes to send) for every row of the attribute frame, in order."""
    columns = list(frame.columns)
    for person, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        yield str(person), attribute_dict(dict(zip(columns, values, strict=True)))
