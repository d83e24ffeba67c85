"""A lifecycle run: map the processed events not yet handled, deliver them, mark them handled.

Per chunk of events: identifies (customer.created) first, then the events through `deliver()`,
then the events are marked handled. Person changes of customer.deleted wait until every event
of the run has been delivered, so that no later event re-creates a deleted person; their events
are marked handled after them. A run that fails part-way leaves the rest unmarked: the next run
maps them again, and `deliver()` skips every event Customer.io already accepted (by its ULID),
so each event is delivered once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..attributes import AttributeSettings
from ..cio_api import CustomerIOClient
from ..deliver import DeliveryStore, deliver
from ..ledger import Ledger
from .actions import send_actions
from .model import PersonAction
from .pending import events_cursor, mark_handled, pending_lifecycle, raise_low_water
from .settings import LifecycleSettings
from .summary import LifecycleSummary


async def send_lifecycle_events(
    client: CustomerIOClient | None,
    ledger: Ledger,
    settings: LifecycleSettings,
    identity: AttributeSettings,
    *,
    dry_run: bool = False,
    chunk: int = 5_000,
    clock: Callable[[], float] = time.time,
) -> LifecycleSummary:
    """Deliver the lifecycle events of every processed Stripe event not yet handled.

    With `dry_run`, nothing is sent or recorded and the summary is the preview.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    store = DeliveryStore.of(ledger)
    cursor = events_cursor(ledger)
    summary = LifecycleSummary(dry_run=dry_run)
    deletions: list[PersonAction] = []
    deletion_rows: list[dict[str, Any]] = []
    after = None
    while True:
        batch = pending_lifecycle(ledger, settings, identity, after=after, limit=chunk)
        if not batch.read:
            break
        summary.events_read += batch.read
        summary.events_mapped += sum(1 for row in batch.handled if row["outcome"] == "sent")
        summary.skipped.update(batch.skipped)
        summary.items.update(item.name for item in batch.events)
        summary.add_actions(await send_actions(client, store, batch.before, dry_run=dry_run))
        summary.add_delivery(await deliver(client, store, events=batch.events, dry_run=dry_run))
        waiting = {action.stripe_event_id for action in batch.after}
        deletions.extend(batch.after)
        deletion_rows.extend(r for r in batch.handled if r["stripe_event_id"] in waiting)
        if not dry_run:
            handled = [r for r in batch.handled if r["stripe_event_id"] not in waiting]
            mark_handled(ledger, handled, clock)
        after = batch.last
        if batch.read < chunk:
            break
    summary.add_actions(await send_actions(client, store, deletions, dry_run=dry_run))
    if not dry_run:
        mark_handled(ledger, deletion_rows, clock)
        raise_low_water(ledger, cursor)
    return summary
