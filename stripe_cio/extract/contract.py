"""The part of the ledger interface (docs/design/ledger-interface.md) that extraction uses.

Extraction codes against these protocols, never against `stripe_cio.ledger` itself, so the two
packages can change independently and tests can pass a small in-memory stand-in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine


class WriteOutcome(Protocol):
    """What `write_objects` reports (the ledger's `WriteResult`)."""

    @property
    def written(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def rejected(self) -> Mapping[str, int]: ...


class EventsOutcome(Protocol):
    """What `apply_events` reports (the ledger's `EventsResult`)."""

    @property
    def applied(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def rejected(self) -> Mapping[str, int]: ...
    @property
    def cursor(self) -> int | None: ...


class LedgerLike(Protocol):
    """The ledger methods extraction calls; all synchronous (SQLAlchemy underneath)."""

    def write_objects(
        self,
        resource: str,
        objects: Sequence[Mapping[str, Any]],
        *,
        observed_at: int,
        api_version: str | None = None,
    ) -> WriteOutcome: ...

    def set_indexes_aside(self, resource: str) -> bool: ...

    def build_missing_indexes(self) -> list[str]: ...

    def completed_slices(self, resource: str, run: str) -> list[tuple[int, int]]: ...

    def mark_slice_done(
        self, resource: str, run: str, start: int, end: int, count: int
    ) -> None: ...

    def events_cursor(self) -> int | None: ...

    def set_events_cursor(self, value: int) -> None: ...

    def processed_event_ids(self, event_ids: Iterable[str]) -> set[str]: ...

    def apply_events(
        self, events: Sequence[Mapping[str, Any]], *, cursor: int
    ) -> EventsOutcome: ...


class CoveredLedger(LedgerLike, Protocol):
    """A ledger that also records history coverage (`stripe_cio.ledger.coverage`), which
    works on its engine: the real `Ledger`."""

    @property
    def engine(self) -> Engine: ...


def engine_of(ledger: LedgerLike) -> Engine | None:
    """The engine of a ledger that records coverage; None for a stand-in that keeps none."""
    engine = getattr(ledger, "engine", None)
    return engine if isinstance(engine, Engine) else None
