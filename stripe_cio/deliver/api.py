"""The entry points: deliver person updates and events, replay dead letters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..cio_api import CustomerIOClient
from .model import EventItem, Kind, PersonUpdate
from .run import Delivery
from .store import DeliveryStore
from .summary import DeliverySummary


async def deliver(
    client: CustomerIOClient | None,
    store: DeliveryStore,
    *,
    people: Iterable[PersonUpdate] = (),
    events: Iterable[EventItem] = (),
    dry_run: bool = False,
    samples: int = 5,
) -> DeliverySummary:
    """Bring Customer.io up to date: changed person attributes first, then new events.

    Only what changed since the snapshot of what Customer.io last accepted is sent; events
    already delivered are not sent again. Items refused before sending or by Customer.io become
    dead letters; a 401/403 stops the run at once. With `dry_run`, nothing is sent or written
    and the summary is the preview (with `samples` payloads).
    """
    run = Delivery(client, store, dry_run=dry_run, samples=samples)
    await run.run(people, events)
    return run.summary


async def replay_dead_letters(
    client: CustomerIOClient | None,
    store: DeliveryStore,
    *,
    ids: Sequence[int] | None = None,
    kind: Kind | None = None,
    dry_run: bool = False,
    samples: int = 5,
) -> DeliverySummary:
    """Resend open dead letters (all, or those with `ids` / of one `kind`).

    Each is checked again first: one that can never be accepted stays open, its attempt
    counted. An accepted person takes the snapshot its letter carries; an event already
    delivered meanwhile is resolved without sending.
    """
    letters = store.dead_letters(ids=ids, kind=kind)
    run = Delivery(client, store, dry_run=dry_run, samples=samples, person_resolution="delivered")
    await run.replay(letters)
    return run.summary
