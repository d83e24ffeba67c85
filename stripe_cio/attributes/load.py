"""Reads the ledger tables the attributes need into compact frames.

Only the needed columns are selected (never `raw`), in chunks converted at once to int64,
nullable Int64/boolean and categoricals, so that peak memory stays near the frames' size.
A full load from PostgreSQL is columnar where the extra `columnar` is installed: the ADBC
driver reads each result as Arrow record batches (binary COPY), converted column by column
without a Python object per row. Partial loads, which read keys staged in this connection's
temporary tables, and SQLite take rows: plain tuples from the DBAPI cursor on SQLite (no
per-row Row objects), a server-side cursor through SQLAlchemy elsewhere. docs/attributes.md,
"Columnar load", says why SQLite reads rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy import (
    CompoundSelect,
    Connection,
    Engine,
    Select,
    case,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from ..exceptions import LedgerDamagedError
from ..gc import collector_paused
from ..ledger import table
from ..redaction import redact
from .config import AttributeSettings
from .frames import (
    FRAME_COLUMNS,
    ColumnKind,
    LedgerFrames,
    column_from_objects,
    frame_from_columns,
)
from .groups import lookup, object_index
from .selection import SELECTED_CUSTOMERS, SELECTED_GUESTS, PersonRows, metadata_value, stage

if TYPE_CHECKING:
    import pyarrow as pa
    from adbc_driver_manager.dbapi import Connection as ArrowConnection

T = TypeVar("T")

CHUNK_ROWS = 100_000
# The size of the record batches the columnar driver hands over (a hint: it ends a batch at the
# first row past it); like CHUNK_ROWS, it bounds what is held beside the frames.
BATCH_BYTES = 16 * 2**20

_log = logging.getLogger(__name__)


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
    return queries if rows is None else _of_persons(queries)


def _of_persons(queries: dict[str, Any]) -> dict[str, Query]:
    """The queries narrowed to the staged persons' rows, each answered from an index.

    A charge is the person's by its customer, or, as a guest's, by its email key (the two never
    both: only guest charges have a key), hence a UNION ALL of two index reads rather than an
    OR, which PostgreSQL would answer with a scan. Disputes, subscription items and prices
    follow their charges, subscriptions and items.
    """
    customers = select(SELECTED_CUSTOMERS.c.id)
    guests = select(SELECTED_GUESTS.c.key)
    charges, subscriptions = table("charges"), table("subscriptions")
    items = table("subscription_items")

    def whose(charge_table: Any) -> list[ColumnElement[bool]]:
        """Each a condition selecting some of the charges to read, by an index."""
        return [
            charge_table.c.customer.in_(customers),
            charge_table.c.guest_email_key.in_(guests),
        ]

    # An alias: a subquery naming the outer query's table would be correlated with it.
    owned = charges.alias("owned_charges")
    their_charges = union_all(*(select(owned.c.id).where(cond) for cond in whose(owned)))
    their_subscriptions = select(subscriptions.c.id).where(subscriptions.c.customer.in_(customers))
    their_prices = select(items.c.price).where(items.c.subscription.in_(their_subscriptions))
    return {
        "customers": queries["customers"].where(table("customers").c.id.in_(customers)),
        "charges": union_all(*(queries["charges"].where(cond) for cond in whose(charges))),
        "disputes": queries["disputes"].where(table("disputes").c.charge.in_(their_charges)),
        "subscriptions": queries["subscriptions"].where(subscriptions.c.customer.in_(customers)),
        "subscription_items": queries["subscription_items"].where(
            items.c.subscription.in_(their_subscriptions)
        ),
        "prices": queries["prices"].where(table("prices").c.id.in_(their_prices)),
    }


class _Chunk(Protocol):
    """Some rows of a query's result, read a column (by its position) at a time."""

    def compact(self, position: int, kind: ColumnKind, name: str) -> Any:
        """The column at `position` as the compact array of its kind."""

    def encode(self, position: int, encoder: _Encoder) -> None:
        """Add the column at `position` to `encoder`."""


class _Encoder(Protocol):
    """Gathers a column chunk by chunk as integer codes, for one categorical at the end."""

    def add(self, values: npt.NDArray[Any]) -> None:
        """Add a column of Python values (None for null)."""

    def add_arrow(self, values: pa.Array[Any]) -> None:
        """Add an Arrow column."""

    def column(self) -> pd.Categorical:
        """The categorical of every value added."""


class _RowChunk:
    """Row tuples from a DBAPI cursor."""

    def __init__(self, rows: Sequence[Any]) -> None:
        self.rows = rows

    def compact(self, position: int, kind: ColumnKind, name: str) -> Any:
        """The column at `position` as the compact array of its kind."""
        return _column(self.rows, position, kind, name)

    def encode(self, position: int, encoder: _Encoder) -> None:
        """Add the column at `position` to `encoder`."""
        encoder.add(_cells(self.rows, position, object))


class _ArrowChunk:
    """An Arrow record batch from the columnar driver."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch

    def compact(self, position: int, kind: ColumnKind, name: str) -> Any:
        """The column at `position` as the compact array of its kind."""
        return _arrow_column(self.batch.column(position), kind, name)

    def encode(self, position: int, encoder: _Encoder) -> None:
        """Add the column at `position` to `encoder`."""
        encoder.add_arrow(self.batch.column(position))


def _chunks(connection: Connection, query: Query) -> Iterator[_Chunk]:
    """The rows of `query` on this connection, CHUNK_ROWS at a time."""
    if connection.dialect.name == "sqlite":
        cursor = connection.execute(query).cursor
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield _RowChunk(rows)
        return
    result = connection.execution_options(stream_results=True).execute(query)
    for rows in result.partitions(CHUNK_ROWS):
        yield _RowChunk(rows)


class _KnownValues:
    """Encodes a string column against known values (e.g. charges.customer against the
    customer ids already read): hash lookups into one shared index, instead of a dictionary
    per chunk merged at the end. Values not known (unknown customers) get codes after them."""

    def __init__(self, known: pd.Index) -> None:
        self.known = known
        self.extra: dict[Any, int] = {}
        self.codes: list[npt.NDArray[np.int64]] = []

    def add(self, values: npt.NDArray[Any]) -> None:
        """Add a column of Python values (None for null): only its distinct values are looked
        up in the known ones (a chunk's own hash table stays in the processor's caches, the
        known values' does not)."""
        indices, distinct = pd.factorize(values)
        self._add_distinct(indices, np.asarray(distinct, dtype=object))

    def add_arrow(self, values: pa.Array[Any]) -> None:
        """Add an Arrow column: only its distinct values are looked up, as Python objects."""
        if values.null_count == len(values):  # also a column of Arrow's null type
            self.add(np.full(len(values), None, dtype=object))
            return
        encoded = values.dictionary_encode()
        distinct = _arrow_objects(encoded.dictionary)
        self._add_distinct(_arrow_integers(encoded.indices, fill=-1), distinct)

    def add_coded(self, codes: npt.NDArray[np.int64], unknown: npt.NDArray[Any]) -> None:
        """Add rows already coded (positions among the known values, -1 for others), with
        the values of the rows whose value is not known (None elsewhere)."""
        codes = codes.copy()
        self._code_unknown(codes, unknown)
        self.codes.append(codes)

    def _add_distinct(self, indices: npt.NDArray[Any], distinct: npt.NDArray[Any]) -> None:
        """Add the rows' `indices` into `distinct` values (in order of first appearance, so
        that unknown ones are coded in the order their rows would be); -1 for null."""
        codes = lookup(self.known, distinct)
        self._code_unknown(codes, distinct)
        # A null row's index, -1, takes the -1 appended.
        self.codes.append(np.append(codes, -1)[indices])

    def _code_unknown(self, codes: npt.NDArray[np.int64], values: npt.NDArray[Any]) -> None:
        """Code the values not known (code -1, not null) after the known ones."""
        unknown = np.flatnonzero((codes < 0) & pd.notna(values))
        for row in unknown.tolist():  # rare: charges of customers the ledger does not have
            codes[row] = len(self.known) + self.extra.setdefault(values[row], len(self.extra))

    def column(self) -> pd.Categorical:
        """The categorical of every value added, the known values first."""
        # Not Index.append: pandas infers its `str` dtype for the result.
        extra = np.array(list(self.extra), dtype=object)
        categories = object_index(np.concatenate([np.asarray(self.known, dtype=object), extra]))
        codes = np.concatenate(self.codes) if self.codes else np.empty(0, dtype=np.int64)
        return pd.Categorical.from_codes(codes, categories=categories)


class _Categories:
    """Gathers a category column: each chunk factorized on its own, and only its distinct
    values coded through one running dictionary, in order of first appearance (a union of every
    chunk's categoricals at the end cost several times more, and inferred pandas' `str` dtype
    on the way)."""

    def __init__(self) -> None:
        self.seen: dict[Any, int] = {}
        self.codes: list[npt.NDArray[np.int64]] = []

    def add(self, values: npt.NDArray[Any]) -> None:
        """Add a column of Python values (None for null)."""
        codes, distinct = pd.factorize(values)
        self.add_codes(codes, np.asarray(distinct, dtype=object))

    def add_arrow(self, values: pa.Array[Any]) -> None:
        """Add an Arrow column: only its distinct values become Python objects."""
        if values.null_count == len(values):  # also a column of Arrow's null type
            self.codes.append(np.full(len(values), -1, dtype=np.int64))
            return
        encoded = values.dictionary_encode()
        codes = _arrow_integers(encoded.indices, fill=-1)
        self.add_codes(codes, _arrow_objects(encoded.dictionary))

    def add_codes(self, codes: npt.NDArray[Any], distinct: npt.NDArray[Any]) -> None:
        """Add rows coded into `distinct` values (-1: null)."""
        seen = self.seen
        running = np.fromiter(
            (seen.setdefault(value, len(seen)) for value in distinct.tolist()),
            dtype=np.int64,
            count=len(distinct),
        )
        # A null's code, -1, takes the -1 appended.
        self.codes.append(np.append(running, -1)[codes])

    def column(self) -> pd.Categorical:
        """The categorical of every value added."""
        codes = np.concatenate(self.codes) if self.codes else np.empty(0, dtype=np.int64)
        categories = object_index(np.array(list(self.seen), dtype=object))
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


def _arrow_objects(values: pa.Array[Any]) -> npt.NDArray[Any]:
    """An Arrow column as an array of Python values, None for null."""
    if values.null_count == len(values):  # also a column of Arrow's null type
        return np.full(len(values), None, dtype=object)
    objects: npt.NDArray[Any] = values.to_numpy(zero_copy_only=False)
    return objects


def _arrow_integers(values: pa.Array[Any], fill: int = 0) -> npt.NDArray[np.int64]:
    """An Arrow column of integers or booleans as int64, `fill` for null.

    A copy, not a view of the Arrow buffer: a view would be read-only, and the frames' arrays
    must be writable as the row path's are."""
    import pyarrow as pa

    integers: npt.NDArray[np.int64] = (
        values.cast(pa.int64()).fill_null(fill).to_numpy(zero_copy_only=False, writable=True)
    )
    return integers


def _arrow_column(values: pa.Array[Any], kind: ColumnKind, name: str) -> Any:
    """One column of a record batch as the compact array of its kind: what `_column` makes of
    the same values as Python objects."""
    if kind in ("id", "str") or values.null_count == len(values):
        return column_from_objects(_arrow_objects(values), kind, name)
    if kind == "category":
        # Categories in order of appearance, as pandas' factorize gives them.
        encoded = values.dictionary_encode()
        codes = _arrow_integers(encoded.indices, fill=-1)
        categories = pd.Index(_arrow_objects(encoded.dictionary), dtype=object)
        return pd.Categorical.from_codes(codes, categories=categories)
    if kind in ("int", "bool"):
        if values.null_count:
            raise ValueError(f"column {name} has {values.null_count} null values")
        integers = _arrow_integers(values)
        return integers if kind == "int" else integers.astype(bool)
    integers = _arrow_integers(values)
    missing: npt.NDArray[np.bool_] = values.is_null().to_numpy(zero_copy_only=False)
    if kind == "Int":
        return pd.arrays.IntegerArray(integers, missing)
    return pd.arrays.BooleanArray(integers.astype(bool), missing)


def _combine(parts: list[Any], kind: ColumnKind, name: str) -> Any:
    """The chunks' arrays of one column as one array of its kind."""
    if not parts:
        return column_from_objects(np.empty(0, dtype=object), kind, name)
    if kind == "category":
        united = union_categoricals(parts)
        # Categories of Python strings, as column_from_objects makes them: pandas infers its
        # `str` dtype for some unions (held in Arrow where pyarrow is installed), depending
        # on where chunks happen to end.
        if united.categories.dtype == object:
            return united
        return pd.Categorical.from_codes(united.codes, categories=object_index(united.categories))
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return pd.concat([pd.Series(part) for part in parts], ignore_index=True).array


def compacted(chunk: _Chunk, position: int, kind: ColumnKind, name: str) -> Any:
    """A chunk's column as the compact array of its kind; a value the ledger's normalisers
    never write (a null amount) is the one-line LedgerReadError."""
    try:
        return chunk.compact(position, kind, name)
    except ValueError as exc:
        raise LedgerReadError(
            f"cannot read the ledger: {exc}; something other than stripe-cio wrote "
            "it: undo that, or rebuild the ledger with `stripe-cio backfill`"
        ) from None


def _read(
    chunks: Iterable[_Chunk], name: str, known: Mapping[str, pd.Index] | None = None
) -> pd.DataFrame:
    """The frame of table `name` from its query's chunks; the columns in `known` coded against
    those known values."""
    columns: Mapping[str, ColumnKind] = FRAME_COLUMNS[name]
    encoders: dict[str, _Encoder] = {
        column: _KnownValues(known[column]) if known and column in known else _Categories()
        for column, kind in columns.items()
        if kind == "category"
    }
    parts: dict[str, list[Any]] = {column: [] for column in columns}
    for chunk in chunks:
        for position, (column, kind) in enumerate(columns.items()):
            if column in encoders:
                chunk.encode(position, encoders[column])
                continue
            parts[column].append(compacted(chunk, position, kind, f"{name}.{column}"))
        del chunk
    data = {
        column: encoders[column].column()
        if column in encoders
        else _combine(parts.pop(column), kind, f"{name}.{column}")
        for column, kind in columns.items()
    }
    return frame_from_columns(data, len(next(iter(data.values()))))


def _frames(tables: Iterable[str], chunks: Callable[[str], Iterable[_Chunk]]) -> LedgerFrames:
    """The frames of the tables, each read from `chunks(table)`."""
    customers = _read(chunks("customers"), "customers")
    customer_ids = object_index(customers["id"])
    # Customer ids are coded against the customers just read (fast paths downstream).
    encoded = {"charges": "customer", "subscriptions": "customer"}
    frames = {
        name: _read(chunks(name), name, {encoded[name]: customer_ids} if name in encoded else None)
        for name in tables
        if name != "customers"
    }
    return LedgerFrames(customers=customers, **frames)


def _compiled(query: Query, dialect: Dialect) -> tuple[str, list[Any]]:
    """`query` as SQL text for `dialect`, and the values of its positional parameters."""
    compiled = query.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    values = compiled.construct_params()
    parameters = []
    for name in compiled.positiontup or ():
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        parameters.append(values[name] if processor is None else processor(values[name]))
    return str(compiled), parameters


def _arrow_chunks(connection: ArrowConnection, sql: str, parameters: list[Any]) -> Iterator[_Chunk]:
    """The result of `sql` as record batches from the columnar driver."""
    cursor = connection.cursor()
    try:
        cursor.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)}
        )
        cursor.execute(sql, parameters or None)
        for batch in cursor.fetch_record_batch():
            yield _ArrowChunk(batch)
    finally:
        cursor.close()


def read_columnar(
    engine: Engine,
    queries: Mapping[str, Query],
    read: Callable[[Callable[[str], Iterable[_Chunk]]], T],
) -> T | None:
    """What `read` makes of the queries' results (by name, in chunks) read by the columnar
    driver over a connection of its own; None where it does not read them (not PostgreSQL, the
    extra `columnar` not installed, or the driver failed), for the caller to read rows instead,
    which fails as every ledger statement does if the ledger does.
    """
    if engine.dialect.name != "postgresql":
        return None
    try:  # the optional extra `columnar`
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi  # type: ignore[import-untyped]  # no type hints
        import pyarrow as pa
    except ImportError:
        return None

    # The same statements, with the positional parameters ($1) the driver takes.
    dialect = PGDialect_psycopg(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
    statements = {name: _compiled(query, dialect) for name, query in queries.items()}
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with adbc_driver_postgresql.dbapi.connect(url) as connection:
            return read(lambda name: _arrow_chunks(connection, *statements[name]))
    except (adbc_driver_manager.Error, pa.ArrowException, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _log.warning(
            "the columnar read of the ledger failed (%s): reading rows instead", redact(reason)
        )
        return None


def _columnar_frames(engine: Engine, queries: Mapping[str, Query]) -> LedgerFrames | None:
    """The frames of the queries' results read by the columnar driver (see `read_columnar`)."""
    return read_columnar(engine, queries, lambda chunks: _frames(queries, chunks))


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
        # The columnar driver's connection cannot see the keys staged in this one: partial
        # loads read rows.
        if rows is None and (frames := _columnar_frames(engine, queries)) is not None:
            return frames
        return _frames(queries, lambda name: _chunks(connection, queries[name]))
