"""Property: any order and split of a set of events gives the ledger one ordered call gives."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger

TABLES = {
    "customers": "id",
    "charges": "id",
    "subscriptions": "id",
    "subscription_items": "id",
    "processed_events": "id",
    "sync_cursors": "name",
}


def make_object(examples: dict[str, Any], kind: str, number: int, variant: int) -> dict[str, Any]:
    """Object `number` of `kind` in state `variant`: a valid variation of Stripe's example."""
    obj: dict[str, Any] = json.loads(json.dumps(examples[kind]))
    obj["id"] = f"{kind[:3]}_{number}"
    if kind == "customer":
        obj["name"] = f"name {variant}"
    elif kind == "charge":
        obj.update(amount=1000, amount_captured=600, amount_refunded=400 + variant)
    else:
        item = obj["items"]["data"][0]
        obj["items"]["data"] = [
            item | {"id": f"si_{number}_{variant}_{i}", "quantity": i + 1} for i in range(variant)
        ]
    return obj


@st.composite
def event_sets(draw: st.DrawFn, examples: dict[str, Any]) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=12))
    times = draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count, unique=True))
    events = []
    for i, created in enumerate(times):
        kind = draw(st.sampled_from(["customer", "charge", "subscription"]))
        obj = make_object(examples, kind, draw(st.integers(0, 2)), draw(st.integers(0, 3)))
        deleted = kind == "customer" and draw(st.booleans())
        events.append(
            {
                "id": f"evt_{i}",
                "object": "event",
                "type": "customer.deleted" if deleted else f"{kind}.updated",
                "created": created,
                "api_version": draw(st.sampled_from([None, "2024-06-20"])),
                "data": {"object": obj},
            }
        )
    return events


def final_state(calls: list[list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger.open(LedgerSettings(database_url=f"sqlite:///{folder}/ledger.db"))
        try:
            for events in calls:
                ledger.apply_events(events, cursor=max(e["created"] for e in events))
            state = {}
            with ledger.engine.connect() as conn:
                for name, key in TABLES.items():
                    query = text(f"SELECT * FROM {name} ORDER BY {key}")  # noqa: S608
                    rows = conn.execute(query).mappings()
                    state[name] = [
                        tuple(v for k, v in row.items() if k != "processed_at") for row in rows
                    ]
            return state
        finally:
            ledger.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_order_and_split_gives_the_same_ledger(
    stripe_examples: dict[str, Any], data: st.DataObject
) -> None:
    events = data.draw(event_sets(stripe_examples))
    in_order = sorted(events, key=lambda e: e["created"])
    shuffled = data.draw(st.permutations(events))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(events) - 1)), max_size=3)))
    calls = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    calls = [call for call in calls if call]
    # Some events offered twice, as the overlap window of the incremental sync does.
    calls.append(data.draw(st.lists(st.sampled_from(events), max_size=3)) or [events[0]])
    assert final_state(calls) == final_state([in_order])
