"""Whose rows a partial load reads: some persons, whole, found through the ledger's indexes.

A person is all the rows its identifier gathers: under `email`, every customer whose email key
is the person's and every guest charge billed to it; under `stripe_id`, one customer; under
`metadata:<key>`, every customer with the same value there. A sync knows the customers and
guest emails its events touched; `rows_of` widens them to their persons, so that the
attributes computed from the partial load equal the full computation's for those persons.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    Text,
    cast,
    insert,
    select,
    text,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from ..ledger import table
from .config import AttributeSettings

# Bound values per IN list: far below SQLite's 32,766 (https://sqlite.org/limits.html#max_variable_number).
_IN_CHUNK = 10_000

# Staging tables of the selected persons' keys, temporary: each connection has its own, and
# they go with its transaction. The partial load joins the ledger's indexes against them.
_STAGE = MetaData()
SELECTED_CUSTOMERS = Table(
    "stripe_cio_selected_customers",
    _STAGE,
    Column("id", Text, primary_key=True),
    prefixes=["TEMPORARY"],
)
SELECTED_GUESTS = Table(
    "stripe_cio_selected_guests",
    _STAGE,
    Column("key", Text, primary_key=True),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class PersonRows:
    """The rows a partial load reads: those of these customers (their charges, subscriptions
    and disputes), and the guest charges whose billing email has one of these keys."""

    customers: frozenset[str] = field(default_factory=frozenset)
    guest_keys: frozenset[str] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.customers) + len(self.guest_keys)


def metadata_value(connection: Connection, key: str) -> ColumnElement[Any]:
    """The customers' metadata value under `key`, as text, in SQL."""
    column = table("customers").c.metadata
    # SQLite keeps JSON as text and has no JSON type to cast to (a CAST would make a number).
    as_json = (
        type_coerce(column, JSON) if connection.dialect.name == "sqlite" else cast(column, JSON)
    )
    value: ColumnElement[Any] = as_json[key].as_string()
    return value


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


def rows_of(
    engine: Engine,
    customers: Iterable[str],
    guest_emails: Iterable[str],
    settings: AttributeSettings,
) -> PersonRows:
    """The rows of the persons holding any of `customers` or (under `email`) `guest_emails`
    (trimmed, lower-cased): each person's other customers and guest charges included.

    Index reads under `email` and `stripe_id`; under `metadata:<key>` finding the customers
    that share a value reads the customers' metadata (no index can know the key beforehand).
    """
    touched = frozenset(customers)
    kind = settings.identifier_kind
    if kind == "stripe_id":
        return PersonRows(customers=touched)
    table_ = table("customers")
    with engine.connect() as connection:
        if kind == "email":
            keys = set(guest_emails)
            for chunk in _chunks(touched):
                query = select(table_.c.email_key).where(
                    table_.c.id.in_(chunk), table_.c.email_key.is_not(None)
                )
                keys.update(connection.execute(query).scalars())
            found = set(touched)
            for chunk in _chunks(keys):
                query = select(table_.c.id).where(table_.c.email_key.in_(chunk))
                found.update(connection.execute(query).scalars())
            return PersonRows(customers=frozenset(found), guest_keys=frozenset(keys))
        assert settings.metadata_key is not None
        # A person is a value trimmed (as the attributes key it): " u1" and "u1" are one, so
        # the values are compared in Python.
        value = metadata_value(connection, settings.metadata_key)
        wanted: set[str] = set()
        for chunk in _chunks(touched):
            query = select(value).where(table_.c.id.in_(chunk), value.is_not(None))
            wanted.update(k for raw in connection.execute(query).scalars() if (k := raw.strip()))
        found = set(touched)
        if wanted:
            query = select(table_.c.id, value).where(value.is_not(None))
            found.update(ident for ident, raw in connection.execute(query) if raw.strip() in wanted)
        return PersonRows(customers=frozenset(found))


def stage(connection: Connection, rows: PersonRows) -> None:
    """Write `rows`' keys into this connection's staging tables (made anew)."""
    for staging, values, name in (
        (SELECTED_CUSTOMERS, rows.customers, "id"),
        (SELECTED_GUESTS, rows.guest_keys, "key"),
    ):
        staging.drop(connection, checkfirst=True)
        staging.create(connection)
        for chunk in _chunks(values):
            connection.execute(insert(staging), [{name: value} for value in chunk])
        if connection.dialect.name == "postgresql":
            # Temporary tables have no statistics until analysed: without them the planner
            # guesses their size and may scan a whole ledger table instead of its index.
            connection.execute(text(f"ANALYZE {staging.name}"))
