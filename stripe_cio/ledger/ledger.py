"""The local ledger: Stripe objects, processed events and sync state in one SQL database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Engine, func, make_url, select

from ..settings import LedgerSettings
from .bulk import write_objects
from .diagnose import check_integrity, check_writable
from .engine import make_engine, write_transaction
from .events import EVENTS_CURSOR, advance_cursor, apply_event_page, read_cursor
from .indexes import create_missing, drop_while_empty
from .resources import RESOURCE_TABLES
from .schema import ensure_schema
from .tables import LEDGER_METADATA, table

# The ledger resources as the registry ships them (`RESOURCE_TABLES` also holds any added later).
LEDGER_RESOURCES = tuple(RESOURCE_TABLES)


@dataclass(frozen=True)
class WriteResult:
    """What one write_objects call did."""

    written: int  # rows inserted or updated
    unchanged: int  # skipped: the ledger already had a newer (or the same) observation
    rejected: dict[str, int]  # reason -> count; each reject is also a row in `rejects`


@dataclass(frozen=True)
class EventsResult:
    """What one apply_events call did."""

    applied: int  # events newly processed (their data.object upserted)
    duplicates: int  # events already in processed_events, skipped
    rejected: dict[str, int]
    cursor: int | None  # the events cursor after the call


class Ledger:
    """Bulk upserts keyed by Stripe id, event application, cursors and backfill bookkeeping."""

    def __init__(self, engine: Engine, settings: LedgerSettings | None = None) -> None:
        self._engine = engine
        self.settings = settings  # None when built from an engine: then it cannot be reopened
        self.schema_version = ensure_schema(engine)

    @classmethod
    def open(cls, settings: LedgerSettings) -> Ledger:
        """Connect to the ledger of `settings`, creating or migrating its schema."""
        return cls(make_engine(settings.database_url.get_secret_value()), settings)

    def check_integrity(self, *, every: float | None = None) -> None:
        """Stop with LedgerDamagedError when the ledger fails its integrity check (not run again
        within `every` seconds of a passed one, when given)."""
        check_integrity(self._engine, every=every)

    def check_writable(self) -> None:
        """Stop with LedgerAccessError when the ledger cannot be written (read-only)."""
        check_writable(self._engine)

    def reopener(self) -> Callable[[], Ledger] | None:
        """A picklable callable opening this same ledger (in another process), if there is one.

        None for a ledger built from an engine or an in-memory SQLite database, which another
        connection, let alone another process, would see empty.
        """
        if self.settings is None:
            return None
        url = make_url(self.settings.database_url.get_secret_value())
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return None
        return partial(Ledger.open, self.settings)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    # --- backfill ---------------------------------------------------------------------------

    def write_objects(
        self,
        resource: str,
        objects: Sequence[Mapping[str, Any]],
        *,
        observed_at: int,
        api_version: str | None = None,
    ) -> WriteResult:
        """Upsert `objects` of `resource` as observed at `observed_at`, in one transaction."""
        _check_resource(resource)
        with write_transaction(self._engine) as conn:
            counts = write_objects(
                conn, resource, objects, observed_at=observed_at, api_version=api_version
            )
        return WriteResult(
            written=counts.written, unchanged=counts.unchanged, rejected=counts.rejected
        )

    def set_indexes_aside(self, resource: str) -> bool:
        """Drop `resource`'s secondary indexes if its table is empty; whether they were dropped.

        A first backfill fills an empty table faster without them (see `indexes.py`);
        `build_missing_indexes` builds them again, as does the next `Ledger.open`.
        """
        _check_resource(resource)
        with write_transaction(self._engine) as conn:
            return drop_while_empty(conn, resource)

    def build_missing_indexes(self) -> list[str]:
        """Build every resource-table index that is missing; return their names."""
        with write_transaction(self._engine) as conn:
            return create_missing(conn)

    def completed_slices(self, resource: str, run: str) -> list[tuple[int, int]]:
        """[start, end) created-ranges of backfill `run` already fully written, sorted."""
        slices = table("backfill_slices")
        query = (
            select(slices.c.start, slices.c.end)
            .where(slices.c.resource == resource, slices.c.run == run)
            .order_by(slices.c.start, slices.c.end)
        )
        with self._engine.connect() as conn:
            return [(int(a), int(b)) for a, b in conn.execute(query)]

    def mark_slice_done(self, resource: str, run: str, start: int, end: int, count: int) -> None:
        """Record that [start, end) of `resource` in `run` was written completely."""
        slices = table("backfill_slices")
        with write_transaction(self._engine) as conn:
            key = (slices.c.resource == resource, slices.c.run == run)
            conn.execute(slices.delete().where(*key, slices.c.start == start, slices.c.end == end))
            conn.execute(
                slices.insert().values(
                    resource=resource,
                    run=run,
                    start=start,
                    end=end,
                    count=count,
                    completed_at=int(time.time()),
                )
            )

    # --- incremental sync by events ---------------------------------------------------------

    def events_cursor(self) -> int | None:
        """The events cursor (Unix s), or None if the ledger was never synced by events."""
        with self._engine.connect() as conn:
            return read_cursor(conn, EVENTS_CURSOR)

    def set_events_cursor(self, value: int) -> None:
        """Move the events cursor forward to `value`; a smaller value changes nothing."""
        with write_transaction(self._engine) as conn:
            advance_cursor(conn, EVENTS_CURSOR, value)

    def processed_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Those of `event_ids` already in processed_events."""
        ids = list(dict.fromkeys(event_ids))
        events = table("processed_events")
        found: set[str] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(events.c.id).where(events.c.id.in_(ids[start : start + 500]))
                found.update(conn.execute(query).scalars())
        return found

    def apply_events(self, events: Sequence[Mapping[str, Any]], *, cursor: int) -> EventsResult:
        """Apply the not yet processed `events` oldest first and move the cursor, atomically.

        Events are taken in `created` order, ties in the order given. Each new event's
        data.object is upserted with observed_at = event.created and the event's api_version;
        an object that fails normalisation goes to `rejects` while its event still counts as
        processed, so that it is not retried forever.
        """
        with write_transaction(self._engine) as conn:
            applied, duplicates, rejected = apply_event_page(conn, events)
            advance_cursor(conn, EVENTS_CURSOR, cursor)
            now = read_cursor(conn, EVENTS_CURSOR)
        return EventsResult(applied=applied, duplicates=duplicates, rejected=rejected, cursor=now)

    # --- reading ----------------------------------------------------------------------------

    def count(self, resource: str) -> int:
        """Rows in a ledger table (a resource, or e.g. subscription_items, processed_events)."""
        if resource not in LEDGER_METADATA.tables:
            raise ValueError(f"unknown ledger table {resource!r}")
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table(resource))).scalar_one())

    def raw_objects(self, resource: str) -> dict[str, dict[str, Any]]:
        """id -> the object's JSON as stored, for every row of `resource`."""
        _check_resource(resource)
        target = table(resource)
        with self._engine.connect() as conn:
            rows = conn.execute(select(target.c.id, target.c.raw))
            return {row.id: orjson.loads(row.raw) for row in rows}

    def rejects(self) -> list[dict[str, Any]]:
        """Every reject, oldest first: resource, object_id, reason and raw text."""
        rejects = table("rejects")
        query = select(
            rejects.c.resource, rejects.c.object_id, rejects.c.reason, rejects.c.raw
        ).order_by(rejects.c.id)
        with self._engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def _check_resource(resource: str) -> None:
    if resource not in RESOURCE_TABLES:
        raise ValueError(
            f"unknown ledger resource {resource!r}; expected one of {LEDGER_RESOURCES}"
        )
