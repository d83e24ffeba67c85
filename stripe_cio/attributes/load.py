"""Reads the ledger tables the attributes need into compact frames.

Only the needed columns are selected (never `raw`), in chunks converted at once to int64,
nullable Int64/boolean and categoricals, so that peak memory stays near the frames' size.
Rows are taken from the DBAPI cursor as plain tuples on SQLite (no per-row Row objects);
other databases stream through SQLAlchemy with a server-side cursor where they have one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy import JSON, Connection, Engine, Select, case, cast, null, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from ..exceptions import LedgerDamagedError
from ..gc import collector_paused
from ..ledger import table
from .config import AttributeSettings
from .frames import (
    FRAME_COLUMNS,
    ColumnKind,
    LedgerFrames,
    column_from_objects,
    frame_from_columns,
)
from .groups import lookup, object_index

CHUNK_ROWS = 100_000


class LedgerReadError(LedgerDamagedError):
    """The ledger holds something its normalisers never write (e.g. a null amount): it was
    edited by hand or damaged."""


def _metadata_value(connection: Connection, key: str) -> ColumnElement[Any]:
    column = table("customers").c.metadata
    # SQLite keeps JSON as text and has no JSON type to cast to (a CAST would make a number).
    as_json = (
        type_coerce(column, JSON) if connection.dialect.name == "sqlite" else cast(column, JSON)
    )
    value: ColumnElement[Any] = as_json[key].as_string()
    return value


def _selects(connection: Connection, settings: AttributeSettings) -> dict[str, Select[Any]]:
    kind = settings.identifier_kind
    customers, charges = table("customers"), table("charges")
    email = customers.c.email if kind == "email" else null()
    key = settings.metadata_key
    metadata = _metadata_value(connection, key) if key is not None else null()
    guest_email = (
        case((charges.c.customer.is_(None), charges.c.billing_email), else_=null())
        if kind == "email"
        else null()
    )
    disputes = table("disputes")
    disputed = {
        "charge_customer": charges.c.customer,
        "charge_billing_email": guest_email,
        "charge_status": charges.c.status,
        "charge_amount_captured": charges.c.amount_captured,
        "charge_currency": charges.c.currency,
    }

    def plain(name: str, **computed: Any) -> Select[Any]:
        source = table(name)
        return select(
            *(
                computed[column].label(column) if column in computed else source.c[column]
                for column in FRAME_COLUMNS[name]
            )
        )

    return {
        "customers": plain("customers", email=email, metadata_value=metadata),
        "charges": plain("charges", billing_email=guest_email),
        "disputes": plain("disputes", **disputed).outerjoin(
            charges, charges.c.id == disputes.c.charge
        ),
        "subscriptions": plain("subscriptions"),
        "subscription_items": plain("subscription_items"),
        "prices": plain("prices"),
    }


def _chunks(connection: Connection, query: Select[Any]) -> Iterator[Any]:
    if connection.dialect.name == "sqlite":
        cursor = connection.execute(query).cursor
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield rows
        return
    result = connection.execution_options(stream_results=True).execute(query)
    yield from result.partitions(CHUNK_ROWS)


class _KnownValues:
    """Encodes a string column against known values (e.g. charges.customer against the
    customer ids already read): hash lookups into one shared index, instead of a dictionary
    per chunk merged at the end. Values not known (unknown customers) get codes after them."""

    def __init__(self, known: pd.Index) -> None:
        self.known = known
        self.extra: dict[Any, int] = {}
        self.codes: list[npt.NDArray[np.int64]] = []

    def add(self, values: npt.NDArray[Any]) -> None:
        codes = lookup(self.known, values)
        unknown = np.flatnonzero((codes < 0) & pd.notna(values))
        for row in unknown.tolist():  # rare: charges of customers the ledger does not have
            codes[row] = len(self.known) + self.extra.setdefault(values[row], len(self.extra))
        self.codes.append(codes)

    def column(self) -> pd.Categorical:
        categories = self.known.append(pd.Index(list(self.extra), dtype=object))
        codes = np.concatenate(self.codes) if self.codes else np.empty(0, dtype=np.int64)
        return pd.Categorical.from_codes(codes, categories=categories)


def _cells(rows: Sequence[Any], position: int, dtype: Any) -> npt.NDArray[Any]:
    """One column of a chunk of row tuples, straight into an array of `dtype` (C loops)."""
    return np.fromiter(map(itemgetter(position), rows), dtype=dtype, count=len(rows))


def _column(rows: Sequence[Any], position: int, kind: ColumnKind, name: str) -> Any:
    """One column of a chunk as the compact array of its kind."""
    if kind in ("int", "bool", "Int", "boolean"):
        try:  # the common case: no null in the chunk, so no object array on the way
            integers = _cells(rows, position, np.int64)
        except TypeError:  # a None
            pass
        else:
            if kind == "int":
                return integers
            if kind == "bool":
                return integers.astype(bool)
            missing = np.zeros(len(integers), dtype=bool)
            if kind == "Int":
                return pd.arrays.IntegerArray(integers, missing)
            return pd.arrays.BooleanArray(integers.astype(bool), missing)
    return column_from_objects(_cells(rows, position, object), kind, name)


def _combine(parts: list[Any], kind: ColumnKind, name: str) -> Any:
    if not parts:
        return column_from_objects(np.empty(0, dtype=object), kind, name)
    if kind == "category":
        return union_categoricals(parts)
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return pd.concat([pd.Series(part) for part in parts], ignore_index=True).array


def _read(
    connection: Connection,
    name: str,
    query: Select[Any],
    known: Mapping[str, pd.Index] | None = None,
) -> pd.DataFrame:
    columns: Mapping[str, ColumnKind] = FRAME_COLUMNS[name]
    encoders = {column: _KnownValues(index) for column, index in (known or {}).items()}
    parts: dict[str, list[Any]] = {column: [] for column in columns}
    for rows in _chunks(connection, query):
        for position, (column, kind) in enumerate(columns.items()):
            if column in encoders:
                encoders[column].add(_cells(rows, position, object))
                continue
            try:
                part = _column(rows, position, kind, f"{name}.{column}")
            except ValueError as exc:
                raise LedgerReadError(
                    f"cannot read the ledger: {exc}; something other than stripe-cio wrote "
                    "it: undo that, or rebuild the ledger with `stripe-cio backfill`"
                ) from None
            parts[column].append(part)
        del rows
    data = {
        column: encoders[column].column()
        if column in encoders
        else _combine(parts.pop(column), kind, f"{name}.{column}")
        for column, kind in columns.items()
    }
    return frame_from_columns(data, len(next(iter(data.values()))))


def load_frames(engine: Engine, settings: AttributeSettings | None = None) -> LedgerFrames:
    """Read the ledger tables the attributes need, as compact frames (FRAME_COLUMNS)."""
    settings = settings or AttributeSettings()
    # Fetching makes millions of short-lived row tuples, each a trigger for the cyclic
    # collector, which would walk the growing frames again and again for nothing.
    with engine.connect() as connection, collector_paused():
        queries = _selects(connection, settings)
        customers = _read(connection, "customers", queries.pop("customers"))
        customer_ids = object_index(customers["id"])
        # Customer ids are coded against the customers just read (fast paths downstream).
        encoded = {"charges": "customer", "subscriptions": "customer"}
        frames = {
            name: _read(
                connection,
                name,
                query,
                {encoded[name]: customer_ids} if name in encoded else None,
            )
            for name, query in queries.items()
        }
    return LedgerFrames(customers=customers, **frames)
