"""Delivery to Customer.io: diff-only person updates and exactly-once events, in packed batches.

`deliver()` takes plain shapes (`PersonUpdate`, `EventItem`) however they were computed, sends
only what changed since Customer.io last accepted it, and keeps refused items as dead letters
in the ledger; `replay_dead_letters()` resends them. See docs/delivery.md.
"""

from .api import deliver, replay_dead_letters
from .checks import BatchPacker, check_identifiers, check_item_size, pack, person_key
from .model import EventItem, Kind, Outgoing, PersonUpdate, Refusal
from .plan import canonical_attributes, event_ulid, plan_event, plan_person
from .store import DeadLetter, DeliveryStore, Failure
from .summary import DeliverySummary

__all__ = [
    "BatchPacker",
    "DeadLetter",
    "DeliveryStore",
    "DeliverySummary",
    "EventItem",
    "Failure",
    "Kind",
    "Outgoing",
    "PersonUpdate",
    "Refusal",
    "canonical_attributes",
    "check_identifiers",
    "check_item_size",
    "deliver",
    "event_ulid",
    "pack",
    "person_key",
    "plan_event",
    "plan_person",
    "replay_dead_letters",
]
