"""Person changes from lifecycle events (identify, delete, suppress) as v2 batch items, sent.

They are not events, so they carry no ULID; each is idempotent (the same attributes again,
deleting or suppressing again), so resending one after a crash is harmless. A refused one
becomes a dead letter like any refused item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from ..cio_api import CustomerIOClient
from ..deliver import (
    DeliveryStore,
    Failure,
    Outgoing,
    Refusal,
    check_identifiers,
    check_item_size,
    pack,
    person_key,
)
from .model import PersonAction


@dataclass
class ActionResult:
    """What sending person changes did (or, in a dry run, would do)."""

    sent: Counter[str] = field(default_factory=Counter)  # action -> items sent (or to send)
    delivered: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> items
    requests: int = 0


def action_item(action: PersonAction) -> Outgoing | Refusal:
    """The v2 person item of `action`; its key names the action, the person and the event.

    Source of the shapes: https://docs.customer.io/integrations/api/track/tag/track_v2/
    (person actions identify, delete, suppress).
    """
    checked = check_identifiers(action.identifiers)
    if isinstance(checked, Refusal):
        return checked
    kind, value = checked
    item: dict[str, object] = {
        "type": "person",
        "identifiers": {kind: value},
        "action": action.action,
    }
    if action.action == "identify":
        attributes = dict(action.attributes)
        if action.update_only:
            attributes["_update"] = True
        item["attributes"] = attributes
    body = orjson.dumps(item)
    key = person_key(kind, value)
    outgoing = Outgoing(
        "person",
        f"{action.action}:{key}:{action.stripe_event_id}"[:300],
        key,
        body,
        stripe_event_id=action.stripe_event_id,
    )
    refusal = check_item_size(body)
    if refusal is not None:
        return Refusal(refusal.reason, refusal.field, refusal.message, outgoing)
    return outgoing


async def send_actions(
    client: CustomerIOClient | None,
    store: DeliveryStore,
    actions: Sequence[PersonAction],
    *,
    dry_run: bool = False,
) -> ActionResult:
    """Send `actions` in packed batches, in order; refused ones become dead letters."""
    result = ActionResult()
    items: list[Outgoing] = []
    failures: list[Failure] = []
    for action in actions:
        planned = action_item(action)
        if isinstance(planned, Refusal):
            fallback = Outgoing(
                "person",
                f"{action.action}:invalid:{action.stripe_event_id}",
                "invalid",
                orjson.dumps(action.identifiers, default=repr),
                stripe_event_id=action.stripe_event_id,
            )
            failures.append(Failure(planned.item or fallback, planned, "pre_send"))
            continue
        result.sent[action.action] += 1
        items.append(planned)
    if not dry_run and client is not None:
        for batch in pack(items):
            reply = await client.batch([item.body for item in batch])
            result.requests += 1
            refused = {error.index: error for error in reply.errors}
            for index, item in enumerate(batch):
                error = refused.get(index)
                if error is None:
                    result.delivered += 1
                else:
                    refusal = Refusal(error.reason, error.field, error.message)
                    failures.append(Failure(item, refusal, "customerio"))
    for failure in failures:
        result.rejected[failure.refusal.reason] += 1
    if failures and not dry_run:
        store.record(failed=failures)
    return result
