"""Lifecycle test helpers: events from the sandbox's synthetic account and from Stripe's
published examples, lookups and settings.

Test modules reach them through the `kit` fixture (importlib mode: they cannot import this
conftest).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import orjson
import pytest

from stripe_cio.attributes import AttributeSettings
from stripe_cio.deliver import EventItem
from stripe_cio.lifecycle import (
    ChargeRecord,
    CustomerRecord,
    LedgerLookup,
    LifecycleSettings,
    Mapped,
    PriceRecord,
    Skipped,
    map_event,
)
from stripe_cio.sandbox.synthetic import SyntheticAccount

NOW = 1_780_000_000
DAY = 86_400
Obj = dict[str, Any]


class ListSink:
    """Keeps every put, serialised at once (as the server's sink does), in order."""

    def __init__(self) -> None:
        self.puts: list[tuple[str, bytes]] = []

    def put(self, resource: str, obj: Obj) -> None:
        self.puts.append((resource, orjson.dumps(obj)))


@dataclass(frozen=True)
class Synthetic:
    """A synthetic account: its events in the order Stripe sent them, its latest objects."""

    events: list[Obj]
    objects: dict[str, dict[str, Obj]]

    def of_type(self, kind: str) -> list[Obj]:
        return [e for e in self.events if e["type"] == kind]

    @cached_property
    def lookup(self) -> LedgerLookup:
        return lookup_of(self.objects)


def customer_record(obj: Mapping[str, Any]) -> CustomerRecord:
    return CustomerRecord(
        obj["id"], obj.get("email"), obj.get("metadata") or {}, bool(obj.get("deleted"))
    )


def charge_record(obj: Mapping[str, Any]) -> ChargeRecord:
    billing = obj.get("billing_details") or {}
    return ChargeRecord(
        obj["id"], obj.get("customer"), billing.get("email"), obj.get("receipt_url")
    )


def price_record(obj: Mapping[str, Any]) -> PriceRecord:
    recurring = obj.get("recurring") or {}
    return PriceRecord(
        obj["id"],
        obj.get("nickname"),
        obj.get("lookup_key"),
        obj.get("currency"),
        obj.get("unit_amount"),
        recurring.get("interval"),
        recurring.get("interval_count"),
    )


def lookup_of(objects: Mapping[str, Mapping[str, Obj]]) -> LedgerLookup:
    """A lookup holding every customer, charge and price of `objects` (resource -> id -> obj)."""
    customers = {}
    for oid, obj in objects.get("customers", {}).items():
        # The deletion stub keeps what the ledger kept: the customer as last seen, deleted.
        customers[oid] = customer_record(obj)
    return LedgerLookup(
        customers=customers,
        charges={k: charge_record(v) for k, v in objects.get("charges", {}).items()},
        prices={k: price_record(v) for k, v in objects.get("prices", {}).items()},
    )


@cache
def synthetic(seed: int = 5, customers: int = 600, months: int = 3) -> Synthetic:
    sink = ListSink()
    SyntheticAccount(sink, seed=seed, customers=customers, months=months, now=NOW).generate()
    events: list[Obj] = []
    objects: dict[str, dict[str, Obj]] = defaultdict(dict)
    for resource, raw in sink.puts:
        obj = orjson.loads(raw)
        if resource == "events":
            events.append(obj)
        else:
            objects[resource][obj["id"]] = obj
    # As the ledger does: a customer known only as a deletion stub keeps the last full object
    # an event showed of it, marked deleted.
    known = objects["customers"]
    for event in events:
        obj = event["data"]["object"]
        stored = known.get(obj["id"])
        if obj["object"] == "customer" and (stored is None or stored.get("deleted")):
            known[obj["id"]] = {**obj, "deleted": bool(stored and stored.get("deleted"))}
    return Synthetic(events, dict(objects))


class Kit:
    """Builders shared by the lifecycle tests."""

    NOW = NOW
    DAY = DAY
    synthetic = staticmethod(synthetic)
    lookup_of = staticmethod(lookup_of)
    customer_record = staticmethod(customer_record)
    charge_record = staticmethod(charge_record)
    price_record = staticmethod(price_record)

    @staticmethod
    def event(
        kind: str,
        obj: Mapping[str, Any],
        *,
        previous: Mapping[str, Any] | None = None,
        created: int = NOW,
        eid: str = "evt_test_1",
        api_version: str | None = "2026-10-28.endive",
        livemode: bool = False,
    ) -> Obj:
        data: Obj = {"object": copy.deepcopy(dict(obj))}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(dict(previous))
        return {
            "id": eid,
            "object": "event",
            "api_version": api_version,
            "created": created,
            "data": data,
            "livemode": livemode,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }

    @staticmethod
    def settings(**values: Any) -> LifecycleSettings:
        return LifecycleSettings.load(values)

    @staticmethod
    def identity(**values: Any) -> AttributeSettings:
        return AttributeSettings.load(values)

    @staticmethod
    def lookup(
        customers: Iterable[Mapping[str, Any]] = (),
        charges: Iterable[Mapping[str, Any]] = (),
        prices: Iterable[Mapping[str, Any]] = (),
    ) -> LedgerLookup:
        return LedgerLookup(
            customers={c["id"]: customer_record(c) for c in customers},
            charges={c["id"]: charge_record(c) for c in charges},
            prices={p["id"]: price_record(p) for p in prices},
        )

    @staticmethod
    def map(
        event: Mapping[str, Any],
        lookup: LedgerLookup | None = None,
        settings: LifecycleSettings | None = None,
        identity: AttributeSettings | None = None,
        **kwargs: Any,
    ) -> Mapped | Skipped:
        return map_event(
            event,
            lookup or LedgerLookup(),
            settings or LifecycleSettings.load({}),
            identity or AttributeSettings.load({}),
            **kwargs,
        )

    @staticmethod
    def one(result: Mapped | Skipped) -> EventItem:
        """The single Customer.io event of a mapping (fails the test otherwise)."""
        assert isinstance(result, Mapped), result
        assert len(result.events) == 1, result
        return result.events[0]


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
