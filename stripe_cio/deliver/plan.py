"""Turn person updates and events into v2 items: the diff against the snapshot, the event ULID.

Pure functions: no I/O, no clock, inputs never mutated. Items are encoded once, as compact JSON,
and the packer and the client only ever handle those bytes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from ..cio_api import MAX_ITEM_BYTES
from ..ulid import encode_ulid
from .checks import (
    NameCheck,
    check_attribute_values,
    check_event_data_size,
    check_event_fields,
    check_identifiers,
    check_item_size,
    person_key,
)
from .model import EventItem, Kind, Outgoing, PersonUpdate, Refusal

# Sorted keys make equal attribute sets byte-equal; numpy scalars (from pandas) encode as numbers.
_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY
_MISSING = object()
_PLAIN = (str, int, float, bool)


class PersonPlan(NamedTuple):
    """What to send for one person, and what it changes."""

    item: Outgoing
    created: bool  # no snapshot: Customer.io gets every attribute
    changes: Mapping[str, Any]  # attribute -> new value (None: cleared)


def _is_unset(value: Any) -> bool:
    return value is None or (value.__class__ is float and math.isnan(value))


def canonical_attributes(attributes: Mapping[str, Any]) -> tuple[bytes, Mapping[str, Any]]:
    """(sorted-key JSON, the attributes) of the attributes that are set (None/NaN are not)."""
    encoded = orjson.dumps(attributes, option=_CANONICAL)
    # orjson writes None and NaN as null: without one, every value is set (the common case).
    if b"null" not in encoded:
        return encoded, attributes
    clean = {name: value for name, value in attributes.items() if not _is_unset(value)}
    return orjson.dumps(clean, option=_CANONICAL), clean


def _same(old: Any, new: Any) -> bool:
    if old.__class__ is new.__class__ and old.__class__ in _PLAIN:
        return bool(old == new)
    # Nested values, or a type change (1 vs 1.0 vs true): compare as Customer.io would see them.
    return orjson.dumps(old, option=_CANONICAL) == orjson.dumps(new, option=_CANONICAL)


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    changes = {
        name: value
        for name, value in new.items()
        if (previous := old.get(name, _MISSING)) is _MISSING or not _same(previous, value)
    }
    for name in old:
        if name not in new:
            changes[name] = None  # Customer.io clears an attribute sent as null
    return changes


def _identify_body(identifiers: bytes, attributes: bytes) -> bytes:
    return (
        b'{"type":"person","identifiers":'
        + identifiers
        + b',"action":"identify","attributes":'
        + attributes
        + b"}"
    )


def plan_person(
    update: PersonUpdate,
    snapshot: str | None,
    names: NameCheck,
    identity: tuple[str, str] | None = None,
    key: str | None = None,
) -> PersonPlan | Refusal | None:
    """The identify item for `update`'s changes since `snapshot`; None when nothing changed.

    No `timestamp` is sent: Customer.io orders attribute updates by it and ignores one older
    than the person's last change, so a stamped resend could lose to a newer change made
    elsewhere. Without it, the time of receipt counts. `identity` is the checked (kind, value)
    of `update.identifiers`, and `key` its person key, when the caller has them already.
    """
    checked = identity or check_identifiers(update.identifiers)
    if isinstance(checked, Refusal):
        return checked
    kind, value = checked
    try:
        canonical, current = canonical_attributes(update.attributes)
    except (TypeError, orjson.JSONEncodeError) as exc:
        return Refusal("unserializable_attributes", "attributes", str(exc)[:200])
    if snapshot is not None and canonical == snapshot.encode():
        return None
    if snapshot is None:
        changes: Mapping[str, Any] = current
        encoded = canonical
    else:
        changes = _changes(orjson.loads(snapshot), current)
        if not changes:
            return None
        encoded = orjson.dumps(changes, option=_CANONICAL)
    refusal = names(changes) or check_attribute_values(changes, len(encoded))
    body = _identify_body(orjson.dumps({kind: value}), encoded)
    if len(body) > MAX_ITEM_BYTES:
        refusal = refusal or check_item_size(body)
    key = key or person_key(kind, value)
    item = Outgoing("person", key, key, body, attributes=canonical.decode())
    if refusal is not None:
        return Refusal(refusal.reason, refusal.field, refusal.message, item)
    return PersonPlan(item, created=snapshot is None, changes=changes)


def event_ulid(stripe_event_id: str, name: str, created: int) -> str:
    """The Customer.io event id: `created` as the ULID time, a hash of the Stripe id and name.

    One Stripe event may become several Customer.io events, so the name is hashed too; every
    resend of the same one has the same id, which Customer.io de-duplicates
    (https://docs.customer.io/api/track/, `person_event.id`: "A valid ULID used to deduplicate
    events").
    """
    digest = hashlib.blake2b(f"{stripe_event_id}\x00{name}".encode(), digest_size=10).digest()
    return encode_ulid(created * 1000, int.from_bytes(digest, "big"))


def plan_event(event: EventItem) -> Outgoing | Refusal:
    """The v2 event item for `event`: its ULID, the Stripe `created` as `timestamp`."""
    checked = check_identifiers(event.identifiers)
    if isinstance(checked, Refusal):
        return checked
    kind, value = checked
    refusal = check_event_fields(event.name, event.stripe_event_id, event.created)
    if refusal is not None:
        return refusal
    if event.data.__class__ is not dict and not isinstance(event.data, Mapping):
        return Refusal("invalid_event_data", "attributes", "event data must be an object")
    data = event.data if event.data.__class__ is dict else dict(event.data)
    ulid = event_ulid(event.stripe_event_id, event.name, event.created)
    # v2 events carry their data in `attributes` (v1 called it `data`); one encoding of it all.
    fields = {
        "type": "person",
        "identifiers": {kind: value},
        "action": "event",
        "id": ulid,
        "name": event.name,
        "timestamp": event.created,
        "attributes": data,
    }
    try:
        body = orjson.dumps(fields, option=orjson.OPT_SERIALIZE_NUMPY)
    except (TypeError, orjson.JSONEncodeError) as exc:
        return Refusal("unserializable_event_data", "attributes", str(exc)[:200])
    item = Outgoing(
        "event",
        ulid,
        person_key(kind, value),
        body,
        stripe_event_id=event.stripe_event_id,
        name=event.name,
    )
    if len(body) > MAX_ITEM_BYTES:  # too large: say first whether the data alone is
        refusal = check_event_data_size(len(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)))
        if refusal is not None:
            return refusal
        refusal = check_item_size(body)
        if refusal is not None:
            return Refusal(refusal.reason, refusal.field, refusal.message, item)
    return item


def fallback_item(kind: Kind, source: PersonUpdate | EventItem) -> Outgoing:
    """What to keep as a dead letter of an input that could not even be encoded as an item."""
    try:
        payload = orjson.dumps(source, default=repr, option=orjson.OPT_SERIALIZE_NUMPY)
    except (TypeError, orjson.JSONEncodeError):  # e.g. attribute names that are not strings
        payload = repr(source).encode()
    checked = check_identifiers(source.identifiers)
    if isinstance(checked, tuple):
        key = person_key(*checked)
    else:
        key = "invalid:" + hashlib.blake2b(payload, digest_size=8).hexdigest()
    if isinstance(source, EventItem):
        item_key = f"{source.stripe_event_id}:{source.name}:{key}"[:300]
        return Outgoing(kind, item_key, key, payload, stripe_event_id=str(source.stripe_event_id))
    return Outgoing(kind, key, key, payload)
