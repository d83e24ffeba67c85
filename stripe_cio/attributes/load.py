"""Reads the ledger tables the attributes need into compact frames.

Only the needed columns are selected (never `raw`), in chunks converted at once to int64,
nullable Int64/boolean and categoricals, so that peak memory stays near the frames' size.
Rows are taken from the DBAPI cursor as plain tuples on SQLite (no per-row Row objects);
other databases stream through SQLAlchemy with a server-side cursor where they have one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy import (
    CompoundSelect,
    Connection,
    Engine,
    Select,
    and_,
    case,
    delete,
    insert,
    null,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from ..exceptions import LedgerDamagedError
from ..gc import collector_paused
from ..ledger import table, write_transaction
from .config import AttributeSettings
from .frames import (
    FRAME_COLUMNS,
    ColumnKind,
    LedgerFrames,
    column_from_objects,
    frame_from_columns,
)
from .groups import lookup, object_index
from .rfm import RankCuts
from .selection import SELECTED_CUSTOMERS, SELECTED_GUESTS, PersonRows, metadata_value, stage

CHUNK_ROWS = 100_000


class LedgerReadError(LedgerDamagedError):
    """The ledger holds something its normalisers never write (e.g. a null amount): it was
    edited by hand or damaged."""


Query = Select[Any] | CompoundSelect[Any]


def _selects(
    connection: Connection, settings: AttributeSettings, rows: PersonRows | None
) -> dict[str, Query]:
    kind = settings.identifier_kind
    customers, charges = table("customers"), table("charges")
    email = customers.c.email if kind == "email" else null()
    key = settings.metadata_key
    metadata = metadata_value(connection, key) if key is not None else null()
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

    queries: dict[str, Query] = {
        "customers": plain("customers", email=email, metadata_value=metadata),
        "charges": plain("charges", billing_email=guest_email),
        "disputes": plain("disputes", **disputed).outerjoin(
            charges, charges.c.id == disputes.c.charge
        ),
        "subscriptions": plain("subscriptions"),
        "subscription_items": plain("subscription_items"),
        "prices": plain("prices"),
    }
    return queries if rows is None else _of_persons(queries, rows.orphans)


def _of_persons(queries: dict[str, Any], orphans: bool) -> dict[str, Query]:
    """The queries narrowed to the staged persons' rows, each answered from an index.

    A charge is the person's by its customer, or, as a guest's, by its email key (the two never
    both: only guest charges have a key), hence a UNION ALL of two index reads rather than an
    OR, which PostgreSQL would answer with a scan. Disputes, subscription items and prices
    follow their charges, subscriptions and items. With `orphans`, the rows no person holds
    come too (they are counted as skipped): guest charges without an email, charges and
    subscriptions of customers the ledger lacks, disputes of charges it lacks.
    """
    customers = select(SELECTED_CUSTOMERS.c.id)
    guests = select(SELECTED_GUESTS.c.key)
    known = select(table("customers").c.id)
    charges, subscriptions = table("charges"), table("subscriptions")
    items = table("subscription_items")

    def whose(charge_table: Any) -> list[ColumnElement[bool]]:
        """Each a condition selecting some of the charges to read, by an index."""
        conditions = [
            charge_table.c.customer.in_(customers),
            charge_table.c.guest_email_key.in_(guests),
        ]
        if orphans:
            conditions += [
                and_(charge_table.c.customer.is_(None), charge_table.c.guest_email_key.is_(None)),
                # NULL NOT IN an empty set is true in SQL: guests are excluded by name.
                and_(charge_table.c.customer.is_not(None), charge_table.c.customer.not_in(known)),
            ]
        return conditions

    # An alias: a subquery naming the outer query's table would be correlated with it.
    owned = charges.alias("owned_charges")
    their_charges = union_all(*(select(owned.c.id).where(cond) for cond in whose(owned)))
    their_subscriptions = select(subscriptions.c.id).where(subscriptions.c.customer.in_(customers))
    their_prices = select(items.c.price).where(items.c.subscription.in_(their_subscriptions))
    subscription_rows = queries["subscriptions"]
    subscription_parts = [subscription_rows.where(subscriptions.c.customer.in_(customers))]
    dispute_parts = [queries["disputes"].where(table("disputes").c.charge.in_(their_charges))]
    if orphans:
        subscription_parts.append(
            subscription_rows.where(
                subscriptions.c.customer.is_not(None), subscriptions.c.customer.not_in(known)
            )
        )
        # The outer join leaves a dispute of a charge the ledger lacks without a charge id.
        dispute_parts.append(queries["disputes"].where(charges.c.id.is_(None)))
    return {
        "customers": queries["customers"].where(table("customers").c.id.in_(customers)),
        "charges": union_all(*(queries["charges"].where(cond) for cond in whose(charges))),
        "disputes": union_all(*dispute_parts),
        "subscriptions": union_all(*subscription_parts),
        "subscription_items": queries["subscription_items"].where(
            items.c.subscription.in_(their_subscriptions)
        ),
        "prices": queries["prices"].where(table("prices").c.id.in_(their_prices)),
    }


def _chunks(connection: Connection, query: Query) -> Iterator[Any]:
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
    query: Query,
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


def load_frames(
    engine: Engine, settings: AttributeSettings | None = None, *, rows: PersonRows | None = None
) -> LedgerFrames:
    """Read the ledger tables the attributes need, as compact frames (FRAME_COLUMNS): all their
    rows, or only `rows` (some persons' whole rows, see `rows_of`), read through indexes."""
    settings = settings or AttributeSettings()
    # Fetching makes millions of short-lived row tuples, each a trigger for the cyclic
    # collector, which would walk the growing frames again and again for nothing.
    with engine.connect() as connection, collector_paused():
        if rows is not None:
            stage(connection, rows)
        queries = _selects(connection, settings, rows)
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


# --- the rank cut-points of the latest full computation ------------------------------------------


@dataclass(frozen=True)
class RecordedRanks:
    """The rank cut-points a full computation as of `as_of` recorded (None: nobody bought)."""

    cuts: RankCuts | None
    as_of: int


# The row that records a computation even when nobody had bought (no cut-points).
_COMPUTED = "computed"


def record_rank_cuts(
    engine: Engine, cuts: RankCuts | None, as_of: int, *, now: float | None = None
) -> None:
    """Replace the recorded cut-points with those of a full computation as of `as_of`."""
    stamp = int(time.time() if now is None else now)
    entries: list[tuple[str, tuple[int, ...], int]] = [(_COMPUTED, (), 0)]
    if cuts is not None:
        entries += [
            ("recency", cuts.recency, cuts.persons),
            ("frequency", cuts.frequency, cuts.persons),
        ]
        entries += [
            (f"monetary:{code}", values, cuts.persons)
            for code, values in sorted(cuts.monetary.items())
        ]
    rows = [
        {
            "name": name,
            "cuts": json.dumps(list(values)),
            "persons": persons,
            "as_of": as_of,
            "computed_at": stamp,
        }
        for name, values, persons in entries
    ]
    target = table("rank_cuts")
    with write_transaction(engine) as connection:
        connection.execute(delete(target))
        connection.execute(insert(target), rows)


def recorded_rank_cuts(engine: Engine) -> RecordedRanks | None:
    """The cut-points the latest full computation recorded; None before the first one."""
    target = table("rank_cuts")
    with engine.connect() as connection:
        rows = {row.name: row for row in connection.execute(select(target))}
    if _COMPUTED not in rows:
        return None
    as_of = int(rows[_COMPUTED].as_of)
    if "recency" not in rows or "frequency" not in rows:
        return RecordedRanks(None, as_of)

    def cuts_of(name: str) -> tuple[int, ...]:
        return tuple(int(value) for value in json.loads(rows[name].cuts))

    monetary = {
        name.removeprefix("monetary:"): cuts_of(name)
        for name in rows
        if name.startswith("monetary:")
    }
    cuts = RankCuts(
        recency=cuts_of("recency"),
        frequency=cuts_of("frequency"),
        monetary=monetary,
        persons=int(rows["recency"].persons),
    )
    return RecordedRanks(cuts, as_of)
