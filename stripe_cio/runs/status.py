"""Where the pipeline stands, from the ledger alone: cursors, object counts, deliveries, rejects."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from ..deliver import DeliveryStore
from ..ledger import (
    EVENTS_CURSOR,
    LEDGER_RESOURCES,
    BackfillRun,
    Ledger,
    history_horizon,
    read_cursor,
    table,
    unfinished_backfills,
)
from ..webhooks.store import read_counts
from .touched import ATTRIBUTES_MARK


@dataclass(frozen=True)
class LedgerStatus:
    """Counts and cursors of one ledger (times in Unix seconds)."""

    database: str  # the URL, password masked
    objects: dict[str, int]  # resource -> rows
    events_cursor: int | None  # Stripe time of the last event synced
    attributes_mark: int | None  # events up to here have had their persons' attributes pushed
    processed_events: int
    rejected_objects: int
    rejects_by_reason: dict[str, int]  # "resource: reason" -> rows in `rejects`, most first
    persons_delivered: int  # persons Customer.io holds a snapshot of
    events_delivered: int
    open_dead_letters: dict[str, int]  # reason -> open dead letters
    history_horizon: int | None  # customers created from then on have their whole history
    unfinished_backfills: list[BackfillRun]  # started and not completed: resume them
    webhooks: dict[str, int] = field(default_factory=dict)  # the receiver's counters
    webhook_inbox: int = 0  # events of another API version waiting to be read again
    webhook_pending: int = 0  # events received whose delivery round has not run


def _count(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table(name))).scalar() or 0)


def _rejects_by_reason(engine: Engine, limit: int = 20) -> dict[str, int]:
    """The commonest reasons in `rejects` (with their resource), most first."""
    rejects = table("rejects")
    n = func.count().label("n")
    query = (
        select(rejects.c.resource, rejects.c.reason, n)
        .group_by(rejects.c.resource, rejects.c.reason)
        .order_by(n.desc(), rejects.c.resource, rejects.c.reason)
        .limit(limit)
    )
    with engine.connect() as conn:
        return {
            f"{resource}: {reason}": int(count) for resource, reason, count in conn.execute(query)
        }


def ledger_status(ledger: Ledger) -> LedgerStatus:
    """Read the ledger's status."""
    engine = ledger.engine
    with engine.connect() as conn:
        events_cursor = read_cursor(conn, EVENTS_CURSOR)
        mark = read_cursor(conn, ATTRIBUTES_MARK)
    return LedgerStatus(
        database=ledger.settings.display_url if ledger.settings else str(engine.url),
        objects={resource: ledger.count(resource) for resource in LEDGER_RESOURCES},
        events_cursor=events_cursor,
        attributes_mark=mark,
        processed_events=_count(engine, "processed_events"),
        rejected_objects=_count(engine, "rejects"),
        rejects_by_reason=_rejects_by_reason(engine),
        persons_delivered=_count(engine, "cio_person_snapshots"),
        events_delivered=_count(engine, "cio_delivered_events"),
        open_dead_letters=DeliveryStore.of(ledger).count_dead_letters(),
        history_horizon=history_horizon(engine),
        unfinished_backfills=unfinished_backfills(engine),
        webhooks=read_counts(engine),
        webhook_inbox=_count(engine, "webhook_inbox"),
        webhook_pending=_count(engine, "webhook_pending"),
    )
