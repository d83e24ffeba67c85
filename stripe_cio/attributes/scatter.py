"""The ledger's frames split by person into partitions in one read, each partition's rows in a
file of its own: a partition then builds its frames from its file alone.

One pass reads every table once, in chunks, as the full load does; each chunk's columns are
compacted and its rows routed to the partition of their person (`partition_of` the person's
key): a customer by its key, a charge or subscription by its customer, a guest charge by its
email key, a dispute by its charge, a subscription item by its subscription. Rows no person
holds (a charge of a customer the ledger lacks, a guest charge without an email, a dispute of a
charge the ledger lacks) go to partition 0, which counts them as skipped, once. Prices are few
and go to every partition.

Reading each partition's rows through the indexes instead (`load_frames(rows=...)`, as the
frequent sync does) cost several times the CPU per row of a sequential read, and the disputes
and orphans each partition looks for re-read whole tables: docs/attributes.md, "Partitions".
A partition's file is a stream of pickles (its pieces of each chunk, in the order read),
written and read by stripe-cio processes only.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection, Engine

from ..gc import collector_paused
from ..ledger import table
from .config import AttributeSettings
from .frames import FRAME_COLUMNS, ColumnKind, LedgerFrames, frame_from_columns
from .groups import lookup, object_index
from .load import (
    Query,
    _Categories,
    _Chunk,
    _chunks,
    _combine,
    _KnownValues,
    _selects,
    compacted,
    read_columnar,
)
from .selection import metadata_value

# Tables in the order they are read: a table's rows are routed by rows read before them.
_ORDER = ("customers", "subscriptions", "subscription_items", "charges", "disputes", "prices")
assert sorted(_ORDER) == sorted(FRAME_COLUMNS)
# The column after a table's frame columns that routes its rows (see _routing_selects).
_FILE = "frames-{}.pickle"
# The tables whose `customer` the frames code against the customers (as `load_frames` does),
# and the columns a piece holds it in: the customer's position among all customers (-1: none
# or one the ledger lacks), and the ids of those the ledger lacks.
_BY_CUSTOMER = ("charges", "subscriptions")
_POSITION, _UNKNOWN = "customer:position", "customer:unknown"


def partition_file(directory: str | Path, partition: int) -> Path:
    """Where partition `partition`'s rows are written."""
    return Path(directory) / _FILE.format(partition)


def partition_of(key: str, partitions: int) -> int:
    """The partition of a person's key: stable across runs, processes and machines (CRC-32 of
    its UTF-8, unlike Python's salted `hash`)."""
    return zlib.crc32(key.encode()) % partitions


def _partitions_of_keys(keys: npt.NDArray[Any], partitions: int) -> npt.NDArray[np.int64]:
    """The partition of each key (None: partition 0); each distinct key hashed once."""
    codes, distinct = pd.factorize(keys)
    parts = np.fromiter(
        (partition_of(key, partitions) for key in distinct.tolist()),
        dtype=np.int64,
        count=len(distinct),
    )
    return np.append(parts, 0)[codes]


def _routing_selects(connection: Connection, settings: AttributeSettings) -> dict[str, Query]:
    """The full load's statements with the column that routes each row added after the frame's
    columns (customers, charges, disputes)."""
    customers, charges = table("customers"), table("charges")
    queries = _selects(connection, settings, None)
    kind = settings.identifier_kind
    if kind == "email":
        key: Any = customers.c.email_key
    elif kind == "stripe_id":
        key = customers.c.id
    else:
        assert settings.metadata_key is not None
        key = metadata_value(connection, settings.metadata_key)
    queries["customers"] = queries["customers"].add_columns(key.label("routing_key"))  # type: ignore[union-attr]
    queries["charges"] = queries["charges"].add_columns(  # type: ignore[union-attr]
        charges.c.guest_email_key.label("routing_key")
    )
    queries["disputes"] = queries["disputes"].add_columns(  # type: ignore[union-attr]
        charges.c.guest_email_key.label("routing_key")
    )
    return queries


def _dump(piece: tuple[str, dict[str, Any]], handle: BinaryIO) -> None:
    pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
    # Without the memo: a piece holds no object twice, and remembering each of its strings cost
    # 8x the time of writing them (https://docs.python.org/3/library/pickle.html#pickle.Pickler.fast).
    pickler.fast = True
    pickler.dump(piece)


class _Writers:
    """One appending file per partition, each piece a pickle."""

    def __init__(self, directory: Path, partitions: int) -> None:
        self.paths = [partition_file(directory, n) for n in range(partitions)]
        for path in self.paths:  # each made anew, empty: a partition may have no rows
            path.write_bytes(b"")
        # Few partitions: their files stay open. Many: opened per piece (file descriptors).
        self.handles: list[BinaryIO] | None = (
            [path.open("ab") for path in self.paths] if partitions <= 64 else None
        )

    def write(self, partition: int, piece: tuple[str, dict[str, Any]]) -> None:
        if self.handles is not None:
            _dump(piece, self.handles[partition])
            return
        with self.paths[partition].open("ab") as handle:
            _dump(piece, handle)

    def close(self) -> None:
        for handle in self.handles or ():
            handle.close()


class _Coded(NamedTuple):
    """A category column of some rows: codes (-1: null) into the distinct values."""

    codes: npt.NDArray[Any]
    values: npt.NDArray[Any]


def _compact(chunk: _Chunk, name: str) -> dict[str, Any]:
    """A chunk's frame columns, each compact (a category column as codes into the chunk's own
    distinct values: pandas' categorical would check their uniqueness at every split)."""
    columns: Mapping[str, ColumnKind] = FRAME_COLUMNS[name]
    out = {}
    for position, (column, kind) in enumerate(columns.items()):
        part = compacted(chunk, position, kind, f"{name}.{column}")
        if isinstance(part, pd.Categorical):
            part = _Coded(np.asarray(part.codes), np.asarray(part.categories, dtype=object))
        out[column] = part
    return out


def _concatenated(arrays: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)


def _take(part: Any, rows: npt.NDArray[np.int64]) -> Any:
    """Some rows of a compact column (None stays None); a categorical keeps only the categories
    they use (a chunk's customers are mostly other partitions')."""
    if part is None:
        return None
    if isinstance(part, np.ndarray):
        return part[rows]
    if isinstance(part, _Coded):
        codes = part.codes[rows]
        used = np.bincount(codes + 1, minlength=len(part.values) + 1)[1:] > 0
        renumbered = np.append(np.cumsum(used) - 1, -1).astype(codes.dtype)
        return _Coded(renumbered[codes], part.values[used])
    return part.take(rows)


class _Router:
    """Routes each table's chunks to the partitions' files, remembering what later tables are
    routed by: each customer's partition, each subscription's partition."""

    def __init__(self, writers: _Writers, partitions: int) -> None:
        self.writers = writers
        self.partitions = partitions
        self.customer_ids: list[npt.NDArray[Any]] = []
        self.customer_parts: list[npt.NDArray[np.int64]] = []
        self.subscription_ids: list[npt.NDArray[Any]] = []
        self.subscription_parts: list[npt.NDArray[np.int64]] = []
        self.routed = 0  # customers so far
        # The partition of each row of a chunk, by table; None: every partition.
        self.partitions_of: dict[
            str, Callable[[_Chunk, dict[str, Any]], npt.NDArray[np.int64] | None]
        ] = {
            "customers": self._customers,
            "subscriptions": self._subscriptions,
            "subscription_items": self._subscription_items,
            "charges": self._charges,
            "disputes": self._disputes,
            "prices": lambda chunk, columns: None,
        }

    def route(self, name: str, chunk: _Chunk) -> None:
        """Write each row of a chunk of table `name` to its partition's file."""
        columns = _compact(chunk, name)
        if name in _BY_CUSTOMER:
            # Each row's customer as that customer's position among all of them (the
            # partition knows its customers' positions), and the ids of customers the
            # ledger lacks apart (those rows are all partition 0's).
            customer: _Coded = columns.pop("customer")
            codes = customer.codes.astype(np.int64)
            found = lookup(self.known, customer.values)
            columns[_POSITION] = np.append(found, -1)[codes]
            unknown = (columns[_POSITION] < 0) & (codes >= 0)
            columns[_UNKNOWN] = None
            if unknown.any():
                ids = np.full(len(unknown), None, dtype=object)
                ids[unknown] = customer.values[codes[unknown]]
                columns[_UNKNOWN] = ids
        parts = self.partitions_of[name](chunk, columns)
        if name == "customers":
            count = len(columns["id"])
            columns[_POSITION] = np.arange(self.routed, self.routed + count, dtype=np.int64)
            self.routed += count
        if parts is None:  # every partition
            for partition in range(self.partitions):
                self.writers.write(partition, (name, columns))
            return
        order = np.argsort(parts, kind="stable")
        bounds = np.searchsorted(parts[order], np.arange(self.partitions + 1))
        for partition in range(self.partitions):
            rows = order[bounds[partition] : bounds[partition + 1]]
            if len(rows):
                piece = {column: _take(part, rows) for column, part in columns.items()}
                self.writers.write(partition, (name, piece))

    def finish_customers(self) -> None:
        """Every customer has been routed: index them for the tables routed by customer."""
        self.known = object_index(_concatenated(self.customer_ids, object))
        self.known_parts = _concatenated(self.customer_parts, np.int64)

    def finish_subscriptions(self) -> None:
        """Every subscription has been routed: index them for their items."""
        self.subscriptions = object_index(_concatenated(self.subscription_ids, object))
        self.subscription_known_parts = _concatenated(self.subscription_parts, np.int64)

    def _by_position(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The partition of each row by its customer's position (-1: none or one the ledger
        lacks, partition 0)."""
        return np.append(self.known_parts, 0)[positions]

    def _customers(self, chunk: _Chunk, columns: dict[str, Any]) -> npt.NDArray[np.int64]:
        keys = chunk.compact(len(FRAME_COLUMNS["customers"]), "str", "customers.routing_key")
        ids = columns["id"]
        stripped = [key.strip() if isinstance(key, str) else "" for key in keys.tolist()]
        # Without a key a customer is nobody's (skipped, counted): its id places it.
        keyed = np.array(
            [key or ident for key, ident in zip(stripped, ids.tolist(), strict=True)],
            dtype=object,
        )
        parts = _partitions_of_keys(keyed, self.partitions)
        self.customer_ids.append(ids)
        self.customer_parts.append(parts)
        return parts

    def _subscriptions(self, chunk: _Chunk, columns: dict[str, Any]) -> npt.NDArray[np.int64]:
        parts = self._by_position(columns[_POSITION])
        self.subscription_ids.append(columns["id"])
        self.subscription_parts.append(parts)
        return parts

    def _subscription_items(self, chunk: _Chunk, columns: dict[str, Any]) -> npt.NDArray[np.int64]:
        found = lookup(self.subscriptions, columns["subscription"])
        return np.where(found >= 0, np.append(self.subscription_known_parts, 0)[found], 0)

    def _guests_or_customers(
        self,
        by_customer: npt.NDArray[np.int64],
        guest: npt.NDArray[np.bool_],
        guest_keys: npt.NDArray[Any],
    ) -> npt.NDArray[np.int64]:
        """By customer, but guests (no customer) by their email key (none: partition 0)."""
        if not guest.any():
            return by_customer
        keys = guest_keys.copy()
        keys[~guest] = None
        by_key = _partitions_of_keys(keys, self.partitions)
        return np.where(guest, by_key, by_customer)

    def _charges(self, chunk: _Chunk, columns: dict[str, Any]) -> npt.NDArray[np.int64]:
        keys = chunk.compact(len(FRAME_COLUMNS["charges"]), "str", "charges.routing_key")
        positions, unknown = columns[_POSITION], columns[_UNKNOWN]
        guest = positions < 0
        if unknown is not None:
            guest &= pd.isna(unknown)
        return self._guests_or_customers(self._by_position(positions), guest, keys)

    def _disputes(self, chunk: _Chunk, columns: dict[str, Any]) -> npt.NDArray[np.int64]:
        keys = chunk.compact(len(FRAME_COLUMNS["disputes"]), "str", "disputes.routing_key")
        customers: _Coded = columns["charge_customer"]
        found = lookup(self.known, customers.values)
        codes = customers.codes.astype(np.int64)
        by_customer = self._by_position(np.append(found, -1)[codes])
        # A dispute of a charge the ledger lacks has neither: partition 0 (no key).
        return self._guests_or_customers(by_customer, codes < 0, keys)


def scatter(engine: Engine, settings: AttributeSettings, partitions: int, directory: Path) -> None:
    """Read the ledger once and write each partition's rows into its file in `directory`.

    From PostgreSQL with the extra `columnar`, as the full load does: record batches.
    """
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    directory.mkdir(parents=True, exist_ok=True)

    def route_all(chunks: Callable[[str], Iterable[_Chunk]]) -> bool:
        writers = _Writers(directory, partitions)
        router = _Router(writers, partitions)
        try:
            for name in _ORDER:
                for chunk in chunks(name):
                    router.route(name, chunk)
                if name == "customers":
                    router.finish_customers()
                elif name == "subscriptions":
                    router.finish_subscriptions()
        finally:
            writers.close()
        return True

    # One connection, one read transaction: the tables as of one moment (the rows).
    with engine.connect() as connection, collector_paused():
        queries = _routing_selects(connection, settings)
        if read_columnar(engine, queries, route_all):
            return
        route_all(lambda name: _chunks(connection, queries[name]))


def _pieces(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open("rb") as handle:
        while True:
            try:
                yield pickle.load(handle)  # noqa: S301 - the run's own file
            except EOFError:
                return


def _gathered(
    name: str, pieces: list[dict[str, Any]], known: tuple[pd.Index, npt.NDArray[np.int64]] | None
) -> pd.DataFrame:
    """Table `name`'s frame from its pieces; its `customer` coded against the partition's
    customers (`known`: their ids and their positions among all customers)."""
    data: dict[str, Any] = {}
    for column, kind in FRAME_COLUMNS[name].items():
        if column == "customer" and name in _BY_CUSTOMER:
            assert known is not None
            ids, positions = known
            customers = _KnownValues(ids)
            for piece in pieces:
                # A customer of the partition's is found; -1 stays -1.
                global_ = piece[_POSITION]
                local = np.minimum(np.searchsorted(positions, global_), max(len(positions) - 1, 0))
                found = (global_ >= 0) & (positions[local] == global_ if len(positions) else False)
                unknown = piece[_UNKNOWN]
                if unknown is None:
                    unknown = np.full(len(global_), None, dtype=object)
                customers.add_coded(np.where(found, local, -1), unknown)
            data[column] = customers.column()
            continue
        parts = [piece[column] for piece in pieces]
        if kind == "category":
            categories = _Categories()
            for part in parts:
                categories.add_codes(part.codes, part.values)
            data[column] = categories.column()
        else:
            data[column] = _combine(parts, kind, f"{name}.{column}")
    return frame_from_columns(data, len(next(iter(data.values()))))


def partition_frames(directory: str | Path, partition: int) -> LedgerFrames:
    """Partition `partition`'s frames, from its file alone."""
    pieces: dict[str, list[dict[str, Any]]] = {name: [] for name in FRAME_COLUMNS}
    with collector_paused():
        for name, piece in _pieces(partition_file(directory, partition)):
            pieces[name].append(piece)
        customer_pieces = pieces.pop("customers")
        customers = _gathered("customers", customer_pieces, None)
        positions = _concatenated([piece[_POSITION] for piece in customer_pieces], np.int64)
        known = (object_index(customers["id"]), positions)
        frames = {name: _gathered(name, pieces.pop(name), known) for name in list(pieces)}
    return LedgerFrames(customers=customers, **frames)
