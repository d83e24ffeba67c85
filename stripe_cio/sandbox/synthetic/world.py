"""The simulation core: clock, scheduled actions, the sink, and event emission."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import cache
from heapq import heapify, heappop, heappush
from math import log
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson

from .ids import IdFactory
from .templates import load_templates

if TYPE_CHECKING:
    from .catalog import Catalog
    from .payments import Payments
    from .people import People

API_VERSION = "2026-10-28.endive"
DAY = 86_400
EVENT_RETENTION = 30 * DAY  # Stripe keeps events for 30 days only
# The queue is a calendar of buckets of 2**_SHIFT seconds: a big heap of every pending action
# misses the CPU's caches on every push and pop, a small heap per bucket stays in them.
_SHIFT = 12

Obj = dict[str, Any]
T = TypeVar("T")
# Events raised by automatic processes (renewals, retries) carry no API request.
_NO_REQUEST: Obj = {"id": None, "idempotency_key": None}


class AccountSink(Protocol):
    """Where the generated objects go (the fake Stripe server's store).

    The sink serialises with orjson: a few nested parts shared by many objects (card details,
    charge outcomes) are `orjson.Fragment`s holding their JSON, serialised once for all.
    """

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        """Insert or replace by obj["id"]; the dict is serialised at once and never mutated."""
        ...


def frozen(part: Obj) -> Any:
    """A nested part shared by many objects, as pre-serialised JSON (see AccountSink)."""
    # orjson.dumps() returns its working buffer (kilobytes even for a short text): keep a copy
    # of the exact size, as these parts live as long as the account.
    return orjson.Fragment(bytes(memoryview(orjson.dumps(part))))


Action = Callable[["World", Any, int], None]

# Nested template parts that every object of a resource carries unchanged: the generator never
# reads, updates or replaces them, so they are serialised once (the sink then copies their JSON
# instead of walking a dict for every object).
_CONSTANT_PARTS = frozenset(
    {
        "adaptive_pricing",
        "amount_details",
        "automatic_payment_methods",
        "automatic_tax",
        "billing_mode",
        "custom_text",
        "destination_details",
        "evidence",
        "invoice_settings",
        "issuer",
        "payment_method_types",
        "payment_settings",
        "phone_number_collection",
        "rendering",
        "total_details",
        "trial_settings",
    }
)


@cache
def _templates() -> dict[str, Any]:
    """The shipped templates with their constant nested parts frozen (see _CONSTANT_PARTS)."""
    return {
        name: {
            key: frozen(value) if key in _CONSTANT_PARTS and value else value
            for key, value in template.items()
        }
        for name, template in load_templates().items()
    }


class World:
    """Shared state of one synthetic account.

    Working objects are plain dicts that the generator updates by assigning top-level keys
    only; nested parts are never mutated in place but replaced, so a shallow copy is a true
    snapshot (event payloads and sink puts are shallow copies sharing immutable nested parts).
    """

    def __init__(self, sink: AccountSink, seed: int, now: int) -> None:
        self.rng = random.Random(seed)
        self.rnd = self.rng.random  # the one draw the hot paths use (choice() costs far more)
        self.ids = IdFactory(self.rng)
        self.tpl: dict[str, Any] = _templates()
        self.sink = sink
        self.now = now
        self.event_floor = now - EVENT_RETENTION  # events only for changes after this moment
        self._buckets: dict[int, list[tuple[int, int, Action, Any]]] = {}
        self._bucket = -1  # the bucket being run: its actions are in _heap
        self._heap: list[tuple[int, int, Action, Any]] = []
        self._seq = 0
        self._dirty: dict[str, tuple[str, Obj]] = {}
        self._event_t = self.tpl["events"]
        # The parts of the account, attached once built (they need the world themselves).
        self.catalog: Catalog
        self.payments: Payments
        self.people: People

    # -- random draws (each from one random(): Random.choice() and randrange() cost far more) --
    def pick(self, seq: Sequence[T]) -> T:
        """A uniformly chosen item of seq."""
        return seq[int(self.rnd() * len(seq))]

    def between(self, low: int, high: int) -> int:
        """A uniformly chosen integer in [low, high)."""
        return low + int(self.rnd() * (high - low))

    def expo(self, mean: float) -> int:
        """An exponentially distributed whole number of seconds with the given mean."""
        return int(-log(1.0 - self.rnd()) * mean)

    # -- scheduling -------------------------------------------------------------------------
    def at(self, t: int, action: Action, arg: Any) -> None:
        """Run `action(world, arg, t)` when the clock reaches t (ties in scheduling order)."""
        self._seq = seq = self._seq + 1
        bucket = t >> _SHIFT
        if bucket <= self._bucket:
            heappush(self._heap, (t, seq, action, arg))
            return
        entries = self._buckets.get(bucket)
        if entries is None:
            self._buckets[bucket] = [(t, seq, action, arg)]
        else:
            entries.append((t, seq, action, arg))

    def run_until(self, end: int) -> None:
        """Run every scheduled action due at or before `end`, in time order."""
        last = end >> _SHIFT
        buckets = self._buckets
        if self._bucket < 0:
            self._bucket = min(buckets, default=last) - 1
        heap = self._heap
        while True:
            while heap and heap[0][0] <= end:
                t, _, action, arg = heappop(heap)
                action(self, arg, t)
            if self._bucket >= last:
                return  # what is left in this bucket comes after `end`
            # The bucket is done (every action in it was due): open the next one.
            self._bucket += 1
            entries = buckets.pop(self._bucket, None)
            if entries:
                heapify(entries)
                self._heap = heap = entries

    # -- output -----------------------------------------------------------------------------
    def put(self, resource: str, obj: Obj) -> None:
        """Hand an object that will never change again to the sink."""
        self._dirty.pop(obj["id"], None)
        self.sink.put(resource, obj)

    def touch(self, resource: str, obj: Obj) -> None:
        """Note a working object that changed and may change again; flushed later."""
        self._dirty[obj["id"]] = (resource, obj)

    def flush(self) -> None:
        """Put a snapshot of every changed working object."""
        put = self.sink.put
        for resource, obj in self._dirty.values():
            put(resource, dict(obj))
        self._dirty.clear()

    def emit(self, kind: str, obj: Obj, t: int, previous: Obj | None = None) -> None:
        """Send the event Stripe would send for a change of `obj` at t (data.object = snapshot)."""
        if t <= self.event_floor:
            return
        event = self._event_t.copy()
        event["created"] = t
        event["data"] = (
            {"object": obj.copy()}
            if previous is None
            else {"object": obj.copy(), "previous_attributes": previous}
        )
        event["id"] = self.ids.long("evt_")
        event["request"] = _NO_REQUEST
        event["type"] = kind
        self.sink.put("events", event)

    def change(self, resource: str, obj: Obj, t: int, kind: str | None, changes: Obj) -> None:
        """Apply top-level changes, keep the object for the next flush, and emit `kind`
        with `previous_attributes` holding the old values of the keys that changed."""
        self._dirty[obj["id"]] = (resource, obj)
        if kind is None or t <= self.event_floor:
            obj.update(changes)  # no event: the old values are not needed
            return
        previous = {key: obj[key] for key, value in changes.items() if obj[key] != value}
        obj.update(changes)
        if previous:
            self.emit(kind, obj, t, previous)
