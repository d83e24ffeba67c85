"""The sandbox workspace: people, events, objects and suppressions, held in plain dicts.

Plain dicts and slotted records, no validation models: a 500 KB batch of ~800 people updates has
to apply in a few milliseconds. Callers validate with `limits` first; these methods only apply.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .limits import Problem

IdKind = Literal["id", "email", "cio_id"]
_IDENTIFIER_KEYS = ("id", "email")


def classify_identifier(value: str) -> tuple[IdKind, str]:
    """What a v1 path identifier is: Customer.io tells them apart by their shape.

    "We determine the identifier type from the shape of the value"; `cio_` prefixes a cio_id
    (Track API OpenAPI, parameter `track_customer_id`, https://docs.customer.io/api/track/).
    """
    if value.startswith("cio_"):
        return "cio_id", value[4:]
    if "@" in value:
        return "email", value
    return "id", value


@dataclass(slots=True)
class Person:
    """One profile; `updated_at` is the timestamp of the last attribute update applied."""

    cio_id: str
    id: str | None = None
    email: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    updated_at: int = 0

    def identifiers(self) -> dict[str, str | None]:
        return {"id": self.id, "email": self.email, "cio_id": self.cio_id}


@dataclass(slots=True)
class Event:
    """An accepted event; `identifiers` is a snapshot kept for when the person is gone."""

    person: str | None  # cio_id of the person, None for anonymous events
    identifiers: dict[str, str | None]
    name: str
    id: str | None
    timestamp: int
    data: dict[str, Any]
    type: str
    # When the sandbox accepted it (wall clock): what a latency measurement ends at.
    accepted_at: float = field(default_factory=time.time, compare=False)


def _encoded(fingerprint: tuple[Any, ...]) -> bytes:
    # As JSON, as Customer.io would see it: 1 and true, or 1 and 1.0, are different values.
    return orjson.dumps(fingerprint, option=orjson.OPT_SORT_KEYS)


class Store:
    """Everything a workspace remembers, plus counters for `GET /_sandbox/requests`."""

    def __init__(self) -> None:
        self.people: dict[str, Person] = {}
        self.by_id: dict[str, Person] = {}
        self.by_email: dict[str, Person] = {}
        self.suppressed: set[tuple[str, str]] = set()
        self.events: list[Event] = []
        # Event id -> what it said, compared with a resend of the same id only when one comes.
        self.event_fingerprints: dict[str, tuple[Any, ...]] = {}
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: Counter[tuple[str, int]] = Counter()
        self.batch_requests = 0
        self.batch_items = 0
        self.batch_items_rejected = 0
        self.duplicate_event_ids = 0
        self.duplicate_event_ids_differing: list[str] = []
        self.stale_updates_ignored = 0
        self._next_cio = 0

    # --- lookup -------------------------------------------------------------------------------

    def find(self, kind: IdKind, value: str) -> Person | None:
        if kind == "id":
            return self.by_id.get(value)
        if kind == "email":
            return self.by_email.get(value.lower())
        return self.people.get(value[4:] if value.startswith("cio_") else value)

    def _is_suppressed(self, kind: IdKind, value: str) -> bool:
        return bool(self.suppressed) and (kind, value.lower() if kind == "email" else value) in (
            self.suppressed
        )

    def _create(self, kind: IdKind, value: str) -> Person:
        self._next_cio += 1
        # Real cio_ids look like "03000001"; the sandbox counts up from there.
        person = Person(cio_id=f"{0x03000000 + self._next_cio:08x}")
        self.people[person.cio_id] = person
        self._set_identifier(person, kind, value)
        return person

    def _set_identifier(self, person: Person, kind: IdKind, value: str) -> None:
        if kind == "id":
            if person.id is not None:
                self.by_id.pop(person.id, None)
            person.id = value
            self.by_id[value] = person
        elif kind == "email":
            if person.email is not None:
                self.by_email.pop(person.email.lower(), None)
            person.email = value
            self.by_email[value.lower()] = person

    def _forget(self, person: Person) -> None:
        self.people.pop(person.cio_id, None)
        if person.id is not None:
            self.by_id.pop(person.id, None)
        if person.email is not None:
            self.by_email.pop(person.email.lower(), None)

    def _absorb(self, target: Person, other: Person) -> None:
        """Merge `other` into `target`: target's values win, other's events move over."""
        self._forget(other)
        target.attributes = {**other.attributes, **target.attributes}
        target.updated_at = max(target.updated_at, other.updated_at)
        for kind in _IDENTIFIER_KEYS:
            value = getattr(other, kind)
            if value is not None and getattr(target, kind) is None:
                self._set_identifier(target, kind, value)  # type: ignore[arg-type]
        for event in self.events:
            if event.person == other.cio_id:
                event.person = target.cio_id

    # --- people -------------------------------------------------------------------------------

    def identify(
        self,
        kind: IdKind,
        value: str,
        attributes: dict[str, Any],
        timestamp: int | None,
        update_only: bool,
        may_clear: bool = True,
    ) -> Problem | None:
        """Create or update a person; `id`/`email` among the attributes attach identifiers."""
        if self.suppressed and self._is_suppressed(kind, value):
            return None  # suppressed identifiers cannot be added back (docs: `suppress`)
        stamp = int(time.time()) if timestamp is None else timestamp
        person = self.by_id.get(value) if kind == "id" else self.find(kind, value)
        if "id" not in attributes and "email" not in attributes:
            # The hot path of a sync: no identifier changes, so no conflicts or merges.
            if person is None:
                if update_only or kind == "cio_id":
                    return None  # `_update: true` "prevents accidental profile creation"
                person = self._create(kind, value)
            elif stamp < person.updated_at:
                # Customer.io applies v2 attribute updates in `timestamp` order: older ones lose.
                self.stale_updates_ignored += 1
                return None
            person.updated_at = stamp
            self._apply(person.attributes, attributes, may_clear)
            return None
        wanted: dict[str, str] = {}
        for key in _IDENTIFIER_KEYS:
            given = value if key == kind else attributes.get(key)
            if isinstance(given, str) and given:
                wanted[key] = given
        if person is None:
            if update_only or kind == "cio_id":
                return None
            # Someone may already hold the other identifier: attach to them rather than split.
            other_kind: IdKind = "email" if kind == "id" else "id"
            if other_kind in wanted:
                holder = self.find(other_kind, wanted[other_kind])
                if holder is not None and getattr(holder, kind) is None:
                    person = holder
        if person is not None and stamp < person.updated_at:
            self.stale_updates_ignored += 1
            return None
        if person is not None:
            problem = self._attach(person, wanted)
            if problem is not None:
                return problem
        else:
            person = self._create(kind, value)
            problem = self._attach(person, wanted)
            if problem is not None:
                self._forget(person)
                return problem
        person.updated_at = stamp
        self._apply(person.attributes, attributes, may_clear)
        for name in _IDENTIFIER_KEYS:
            person.attributes.pop(name, None)
        return None

    @staticmethod
    def _apply(merged: dict[str, Any], attributes: dict[str, Any], may_clear: bool) -> None:
        merged.update(attributes)
        if may_clear:
            # A null or empty value removes the attribute (docs.customer.io/journeys/attributes;
            # the OpenAPI says the same of object attributes: "Pass null or an empty string").
            for name, new in attributes.items():
                if new is None or new == "":
                    del merged[name]
        if "_update" in attributes:
            merged.pop("_update", None)

    def _attach(self, person: Person, wanted: dict[str, str]) -> Problem | None:
        """Give `person` the requested id/email unless another identified person holds it."""
        for kind in _IDENTIFIER_KEYS:
            if kind not in wanted:
                continue
            value = wanted[kind]
            current = getattr(person, kind)
            if current is not None and (
                current == value or (kind == "email" and current.lower() == value.lower())
            ):
                continue
            holder = self.find(kind, value)  # type: ignore[arg-type]
            if holder is not None and holder is not person:
                if kind == "email" and holder.id is None:
                    self._absorb(person, holder)  # an email-only profile folds into this one
                else:
                    return (
                        "conflict",
                        f"attributes.{kind}",
                        f"{kind} {value!r} already belongs to another person",
                    )
            self._set_identifier(person, kind, value)  # type: ignore[arg-type]
        return None

    def delete(self, kind: IdKind, value: str) -> None:
        person = self.find(kind, value)
        if person is not None:
            self._forget(person)

    def suppress(self, kind: IdKind, value: str) -> None:
        """Delete the person and refuse their identifiers from now on (until unsuppressed)."""
        person = self.find(kind, value)
        keys = {(kind, value.lower() if kind == "email" else value)}
        if person is not None:
            if person.id is not None:
                keys.add(("id", person.id))
            if person.email is not None:
                keys.add(("email", person.email.lower()))
            self._forget(person)
        self.suppressed |= keys

    def unsuppress(self, kind: IdKind, value: str) -> None:
        self.suppressed.discard((kind, value.lower() if kind == "email" else value))

    def merge(self, primary: tuple[IdKind, str], secondary: tuple[IdKind, str]) -> Problem | None:
        """Merge secondary into primary, then delete secondary; primary must exist."""
        target = self.find(*primary)
        if target is None:
            return ("not_found", "primary", "primary person must already exist")
        other = self.find(*secondary)
        if other is not None and other is not target:
            self._absorb(target, other)
        return None

    # --- events -------------------------------------------------------------------------------

    def track(
        self,
        kind: IdKind | None,
        value: str,
        name: str,
        data: dict[str, Any],
        event_id: str | None,
        timestamp: int | None,
        event_type: str = "event",
    ) -> None:
        """Record an event once per id; an unknown person is created (not for cio_id)."""
        if event_id is not None:
            key = event_id.upper()
            fingerprint = (kind, value, name, data, timestamp, event_type)
            seen = self.event_fingerprints.get(key)
            if seen is not None:
                self.duplicate_event_ids += 1
                if _encoded(seen) != _encoded(fingerprint):
                    self.duplicate_event_ids_differing.append(key)
                return
            self.event_fingerprints[key] = fingerprint
        stamp = int(time.time()) if timestamp is None else timestamp
        if kind is None:
            identifiers: dict[str, str | None] = {"anonymous_id": value or None}
            self.events.append(Event(None, identifiers, name, event_id, stamp, data, event_type))
            return
        if self._is_suppressed(kind, value):
            return
        person = self.find(kind, value)
        if person is None:
            if kind == "cio_id":
                return
            person = self._create(kind, value)
        self.events.append(
            Event(person.cio_id, person.identifiers(), name, event_id, stamp, data, event_type)
        )
