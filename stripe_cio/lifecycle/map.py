"""One Stripe event to Customer.io items, or the reason it sends nothing: the contract of
docs/events.md as a pure function (no I/O, no clock, inputs never mutated)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..attributes import AttributeSettings
from ..deliver import EventItem
from ..ledger.normalise import normalised_email
from .fields import FieldProblem, SkipEvent
from .model import Lookup, Mapped, PersonAction, Skipped, Source
from .persons import Identifiers, person_of
from .rules import RULES
from .settings import CUSTOMER_DELETED, LifecycleSettings


@dataclass(frozen=True)
class _Head:
    id: str
    type: str
    created: int
    livemode: bool | None
    obj: Mapping[str, Any]
    previous: Any
    api_version: str | None


def _head(event: Any) -> _Head | None:
    """The parts of an event every mapping needs; None when it is malformed."""
    if not isinstance(event, Mapping):
        return None
    eid, kind, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if (
        not isinstance(eid, str)
        or not eid
        or not isinstance(kind, str)
        or not isinstance(created, int)
        or isinstance(created, bool)
        or not isinstance(obj, Mapping)
    ):
        return None
    livemode = event.get("livemode")
    version = event.get("api_version")
    return _Head(
        id=eid,
        type=kind,
        created=created,
        livemode=livemode if isinstance(livemode, bool) else None,
        obj=obj,
        previous=data.get("previous_attributes") if isinstance(data, Mapping) else None,
        api_version=version if isinstance(version, str) else None,
    )


def _customer_identify(
    head: _Head, person: Identifiers, identity: AttributeSettings
) -> PersonAction:
    """customer.created also identifies the person with its email and Stripe customer id."""
    attributes: dict[str, Any] = {identity.name("customer_id"): head.obj["id"]}
    email = normalised_email(head.obj.get("email"))
    if email is not None:
        attributes["email"] = email
    return PersonAction(person, "identify", head.id, attributes)


def _customer_deleted(
    head: _Head, person: Identifiers, settings: LifecycleSettings, identity: AttributeSettings
) -> PersonAction:
    if settings.customer_deleted == "attribute":
        # `_update`: marking someone deleted must not create them in Customer.io.
        attributes = {identity.name("customer_deleted_at"): head.created}
        return PersonAction(person, "identify", head.id, attributes, update_only=True)
    return PersonAction(person, settings.customer_deleted, head.id)


def skipped_type(stripe_type: str, settings: LifecycleSettings) -> Skipped | None:
    """Why every event of `stripe_type` is skipped under `settings`; None when it is mapped."""
    rule = RULES.get(stripe_type)
    if rule is None and stripe_type != CUSTOMER_DELETED:
        return Skipped("unmapped_type")
    if rule is not None and rule.source is not None:
        wanted = "payment_intent" if settings.payment_intent_events else "charge"
        if rule.source != wanted:
            return Skipped(f"{rule.source}_events_off")
    if stripe_type in settings.disabled:
        return Skipped("disabled")
    return None


def map_event(
    event: Mapping[str, Any],
    lookup: Lookup,
    settings: LifecycleSettings,
    identity: AttributeSettings,
    *,
    backfill_before: int | None = None,
) -> Mapped | Skipped:
    """What one Stripe event becomes in Customer.io, or why it sends nothing.

    `lookup` gives the ledger's customers, charges and prices (persons, guests' payment
    intents, items that carry a bare price id); `identity` is the attribute engine's identifier
    strategy and prefix. Events created before `backfill_before` were replayed during a
    backfill and are skipped unless `settings.send_backfill_events`.
    """
    head = _head(event)
    if head is None:
        return Skipped("malformed_event")
    by_type = skipped_type(head.type, settings)
    if by_type is not None:
        return by_type
    rule = RULES.get(head.type)
    if (
        backfill_before is not None
        and head.created < backfill_before
        and not settings.send_backfill_events
    ):
        return Skipped("backfill")
    object_type = rule.object_type if rule is not None else "customer"
    try:
        if head.obj.get("object", object_type) != object_type:
            raise FieldProblem("invalid_field:object")
        if not isinstance(head.obj.get("id"), str):
            raise FieldProblem("missing_field:id")
        data = (
            None
            if rule is None
            else rule.build(Source(head.obj, head.previous, head.api_version, lookup))
        )
        person = person_of(object_type, head.obj, lookup, identity)
    except SkipEvent as skip:
        return Skipped(skip.reason)
    if isinstance(person, Skipped):
        return person
    if data is None:  # customer.deleted
        return Mapped(after=(_customer_deleted(head, person, settings, identity),))
    name = settings.event_name(head.type)
    assert name is not None  # disabled types were skipped above
    item = EventItem(
        identifiers=person,
        name=name,
        stripe_event_id=head.id,
        created=head.created,
        data={"stripe_event_id": head.id, "livemode": head.livemode, **data},
    )
    before = (
        (_customer_identify(head, person, identity),) if head.type == "customer.created" else ()
    )
    return Mapped(events=(item,), before=before)
