"""The plain shapes delivery works with: what to send, and what became of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["person", "event"]


@dataclass(frozen=True)
class PersonUpdate:
    """A person's attributes as they should be now.

    `identifiers` holds exactly one of `id`, `email` or `cio_id` (Customer.io: "You cannot pass
    multiple identifiers", https://docs.customer.io/api/track/, v2 `identifiers`). An attribute
    that is absent, None or NaN is not set; if Customer.io holds it from an earlier run, it is
    cleared with an explicit null.
    """

    identifiers: Mapping[str, str]
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class EventItem:
    """One Customer.io event derived from a Stripe event (`created` in Unix seconds)."""

    identifiers: Mapping[str, str]
    name: str
    stripe_event_id: str
    created: int
    data: Mapping[str, Any]


@dataclass(slots=True)
class Outgoing:
    """One v2 item ready to send, with what to record once Customer.io has accepted it."""

    kind: Kind
    item_key: str  # the person key, or the event's ULID
    person_key: str
    body: bytes  # the item as compact JSON
    attributes: str | None = None  # person: every attribute after this update (the snapshot)
    stripe_event_id: str | None = None  # event
    name: str | None = None  # event


@dataclass(frozen=True)
class Refusal:
    """Why an item cannot be sent (our checks), with the item when it could be encoded."""

    reason: str
    field: str
    message: str
    item: Outgoing | None = None
