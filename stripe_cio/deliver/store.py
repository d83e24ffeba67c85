"""Delivery state in the ledger: per-person snapshots, delivered events and dead letters."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, Table, func, select, update

from ..ledger import DELIVERY_TABLES, Ledger, write_transaction
from .model import Kind, Outgoing, Refusal
from .statements import (
    DELIVERED_COLUMNS,
    LETTER_COLUMNS,
    RESOLVE,
    SNAPSHOT_COLUMNS,
    dead_letter_upsert,
    delivered_insert,
    executemany,
    snapshot_upsert,
)

_SNAPSHOTS, _DELIVERED, _DEAD = DELIVERY_TABLES
_KEY_CHUNK = 900  # keys per IN (...) list: within SQLite's oldest limit of 999


@dataclass(frozen=True)
class Failure:
    """An item refused before sending ("pre_send") or by Customer.io ("customerio")."""

    item: Outgoing
    refusal: Refusal
    stage: str


@dataclass(frozen=True)
class DeadLetter:
    """One row of `dead_letters`."""

    id: int
    kind: Kind
    item_key: str
    person_key: str
    stripe_event_id: str | None
    stage: str
    reason: str
    field: str | None
    message: str
    payload: str
    attributes: str | None
    attempts: int
    first_failed_at: int
    last_failed_at: int
    resolved_at: int | None
    resolution: str | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class DeliveryStore:
    """Reads and writes the delivery tables of one ledger (created by `Ledger.open`)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    @classmethod
    def of(cls, ledger: Ledger) -> DeliveryStore:
        """The delivery store of an open ledger."""
        return cls(ledger.engine)

    # --- reading ------------------------------------------------------------------------------

    def has_snapshots(self) -> bool:
        """Whether any person was ever accepted."""
        with self._engine.connect() as conn:
            return conn.execute(select(_SNAPSHOTS.c.person_key).limit(1)).first() is not None

    def snapshots(self, keys: Iterable[str]) -> dict[str, str]:
        """person key -> canonical JSON of the attributes last accepted, for those known."""
        return dict(self._by_keys(_SNAPSHOTS, "person_key", "attributes", keys))

    def _by_keys(
        self, target: Table, key: str, value: str, keys: Iterable[str]
    ) -> list[tuple[Any, Any]]:
        # Driver SQL: per looked-up person, SQLAlchemy's row machinery costs more than SQLite.
        wanted = list(keys)
        rows: list[tuple[Any, Any]] = []
        with self._engine.connect() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            for start in range(0, len(wanted), _KEY_CHUNK):
                chunk = wanted[start : start + _KEY_CHUNK]
                sql = (
                    f"SELECT {key}, {value} FROM {target.name} "  # noqa: S608 - our own names
                    f"WHERE {key} IN ({', '.join([mark] * len(chunk))})"
                )
                rows.extend(conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
        return rows

    def snapshot(self, key: str) -> dict[str, Any] | None:
        """The attributes last accepted for one person, decoded."""
        text = self.snapshots([key]).get(key)
        return None if text is None else orjson.loads(text)

    def delivered(self, event_ids: Iterable[str]) -> set[str]:
        """Those of `event_ids` (ULIDs) Customer.io has accepted before."""
        return {row[0] for row in self._by_keys(_DELIVERED, "id", "id", event_ids)}

    def open_dead_letter_keys(self, kind: Kind) -> set[str]:
        """Item keys of the open dead letters of one kind."""
        query = select(_DEAD.c.item_key).where(_DEAD.c.kind == kind, _DEAD.c.resolved_at.is_(None))
        with self._engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def dead_letters(
        self,
        *,
        include_resolved: bool = False,
        ids: Sequence[int] | None = None,
        kind: Kind | None = None,
        limit: int | None = None,
    ) -> list[DeadLetter]:
        """Dead letters, oldest first: the open ones unless `include_resolved`."""
        query = select(*_DEAD.c).order_by(_DEAD.c.id)
        if not include_resolved:
            query = query.where(_DEAD.c.resolved_at.is_(None))
        if ids is not None:
            query = query.where(_DEAD.c.id.in_(list(ids)))
        if kind is not None:
            query = query.where(_DEAD.c.kind == kind)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [DeadLetter(**row._mapping) for row in conn.execute(query)]

    def count_dead_letters(self) -> dict[str, int]:
        """Open dead letters by reason."""
        query = (
            select(_DEAD.c.reason, func.count())
            .where(_DEAD.c.resolved_at.is_(None))
            .group_by(_DEAD.c.reason)
        )
        with self._engine.connect() as conn:
            return {reason: int(n) for reason, n in conn.execute(query)}

    # --- writing ------------------------------------------------------------------------------

    def record(
        self,
        *,
        accepted: Sequence[Outgoing] = (),
        failed: Sequence[Failure] = (),
        resolved: Mapping[tuple[Kind, str], str] | None = None,
    ) -> None:
        """In one transaction: what Customer.io accepted, what failed, which letters resolved.

        Accepted persons replace their snapshot, accepted events are remembered as delivered;
        `resolved` maps (kind, item key) of open dead letters to how they were resolved.
        """
        now = int(self._clock())
        people = [
            (i.person_key, i.attributes, now)
            for i in accepted
            if i.kind == "person" and i.attributes is not None
        ]
        events = [
            (i.item_key, i.stripe_event_id or "", i.name or "", i.person_key, now)
            for i in accepted
            if i.kind == "event"
        ]
        letters = [_letter_row(failure, now) for failure in failed]
        closing = [
            {"k": kind, "key": key, "how": how, "now": now}
            for (kind, key), how in (resolved or {}).items()
        ]
        if not (people or events or letters or closing):
            return
        with write_transaction(self._engine) as conn:
            executemany(conn, snapshot_upsert(conn.dialect), SNAPSHOT_COLUMNS, people)
            executemany(conn, delivered_insert(conn.dialect), DELIVERED_COLUMNS, events)
            executemany(conn, dead_letter_upsert(conn.dialect), LETTER_COLUMNS, letters)
            if closing:
                conn.execute(RESOLVE, closing)

    def resolve(self, ids: Sequence[int], resolution: str) -> None:
        """Close dead letters by id, e.g. after an operator dealt with them by hand."""
        now = int(self._clock())
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(_DEAD)
                .where(_DEAD.c.id.in_(list(ids)), _DEAD.c.resolved_at.is_(None))
                .values(resolved_at=now, resolution=resolution)
            )


def _letter_row(failure: Failure, now: int) -> tuple[Any, ...]:
    item, refusal = failure.item, failure.refusal
    row = {
        "kind": item.kind,
        "item_key": item.item_key,
        "person_key": item.person_key,
        "stripe_event_id": item.stripe_event_id,
        "stage": failure.stage,
        "reason": refusal.reason,
        "field": refusal.field or None,
        "message": refusal.message,
        "payload": item.body.decode(errors="replace"),
        "attributes": item.attributes,
        "attempts": 1,
        "first_failed_at": now,
        "last_failed_at": now,
        "resolved_at": None,
        "resolution": None,
    }
    return tuple(row[name] for name in LETTER_COLUMNS)
