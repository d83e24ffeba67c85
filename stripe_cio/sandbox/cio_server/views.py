"""What `GET /_sandbox/people|events|requests` answer: the workspace as plain JSON-ready data."""

from __future__ import annotations

from typing import Any

from .state import Store


def people_view(store: Store) -> list[dict[str, Any]]:
    return [
        {"identifiers": person.identifiers(), "attributes": person.attributes}
        for person in store.people.values()
    ]


def events_view(store: Store) -> list[dict[str, Any]]:
    out = []
    for event in store.events:
        person = store.people.get(event.person) if event.person is not None else None
        out.append(
            {
                "identifiers": person.identifiers() if person else event.identifiers,
                "type": event.type,
                "name": event.name,
                "id": event.id,
                "timestamp": event.timestamp,
                "data": event.data,
            }
        )
    return out


def requests_view(store: Store) -> dict[str, Any]:
    by_endpoint: dict[str, dict[str, int]] = {}
    for (endpoint, status), count in sorted(store.requests.items()):
        by_endpoint.setdefault(endpoint, {})[str(status)] = count
    return {
        "total": sum(store.requests.values()),
        "by_endpoint": by_endpoint,
        "batch_requests": store.batch_requests,
        "batch_items": store.batch_items,
        "batch_items_rejected": store.batch_items_rejected,
        "duplicate_event_ids": store.duplicate_event_ids,
        "duplicate_event_ids_differing": store.duplicate_event_ids_differing,
        "stale_updates_ignored": store.stale_updates_ignored,
    }
