"""The simulation core: clock, scheduled actions, the sink, and event emission."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._ids import IdFactory
from ._templates import load_templates

if TYPE_CHECKING:
    from ._catalog import Catalog
    from ._payments import Payments
    from ._people import People

API_VERSION = "2026-10-28.endive"
DAY = 86_400
EVENT_RETENTION = 30 * DAY  # Stripe keeps events for 30 days only

Obj = dict[str, Any]
# Events raised by automatic processes (renewals, retries) carry no API request.
_NO_REQUEST: Obj = {"id": None, "idempotency_key": None}


class AccountSink(Protocol):
    """Where the generated objects go (the fake Stripe server's store)."""

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        """Insert or replace by obj["id"]; the dict is serialised at once and never mutated."""
        ...


Action = Callable[["World", Any, int], None]


class World:
    """Shared state of one synthetic account.

    Working objects are plain dicts that the generator updates by assigning top-level keys
    only; nested parts are never mutated in place but replaced, so a shallow copy is a true
    snapshot (event payloads and sink puts are shallow copies sharing immutable nested parts).
    """

    def __init__(self, sink: AccountSink, seed: int, now: int) -> None:
        self.rng = random.Random(seed)
        self.ids = IdFactory(self.rng)
        self.tpl: dict[str, Any] = load_templates()
        self.sink = sink
        self.now = now
        self.event_floor = now - EVENT_RETENTION  # events only for changes after this moment
        self._queue: list[tuple[int, int, Action, Any]] = []
        self._seq = 0
        self._dirty: dict[str, tuple[str, Obj]] = {}
        self._event_t = self.tpl["events"]
        # The parts of the account, attached once built (they need the world themselves).
        self.catalog: Catalog
        self.payments: Payments
        self.people: People

    # -- scheduling -------------------------------------------------------------------------
    def at(self, t: int, action: Action, arg: Any) -> None:
        """Run `action(world, arg, t)` when the clock reaches t (ties in scheduling order)."""
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, action, arg))

    def run_until(self, end: int) -> None:
        """Run every scheduled action due at or before `end`, in time order."""
        queue = self._queue
        pop = heapq.heappop
        while queue and queue[0][0] <= end:
            t, _, action, arg = pop(queue)
            action(self, arg, t)

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
        data: Obj = {"object": dict(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            **self._event_t,
            "created": t,
            "data": data,
            "id": self.ids.long("evt_"),
            "request": _NO_REQUEST,
            "type": kind,
        }
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
