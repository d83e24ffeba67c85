"""Pure logic of delivery: the diff, the pre-send checks, event ids and greedy packing."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stripe_cio import ULID_PATTERN
from stripe_cio.cio_api import MAX_BATCH_BYTES, MAX_ITEM_BYTES, batch_body
from stripe_cio.deliver import (
    EventItem,
    PersonUpdate,
    Refusal,
    canonical_attributes,
    event_ulid,
    pack,
    plan_event,
    plan_person,
)
from stripe_cio.deliver.checks import NameCheck
from stripe_cio.deliver.model import Outgoing
from stripe_cio.deliver.run import InFlight

ANN = {"email": "Ann@Example.com"}


def plan(attributes: dict[str, Any], snapshot: dict[str, Any] | None = None) -> Any:
    text = None if snapshot is None else canonical_attributes(snapshot)[0].decode()
    return plan_person(PersonUpdate(ANN, attributes), text, NameCheck())


def sent(result: Any) -> dict[str, Any]:
    item: dict[str, Any] = orjson.loads(result.item.body)
    return item


# --- the diff ----------------------------------------------------------------------------------


def test_new_person_sends_every_set_attribute_without_timestamp() -> None:
    result = plan({"plan": "pro", "mrr": 49.0, "gone": None, "nan": math.nan})
    assert result.created
    assert sent(result) == {
        "type": "person",
        "identifiers": {"email": "Ann@Example.com"},
        "action": "identify",
        "attributes": {"mrr": 49.0, "plan": "pro"},
    }
    assert result.item.person_key == "email:ann@example.com"
    assert orjson.loads(result.item.attributes) == {"mrr": 49.0, "plan": "pro"}


def test_unchanged_person_sends_nothing_whatever_the_key_order() -> None:
    assert plan({"b": 1, "a": [1, 2]}, {"a": [1, 2], "b": 1}) is None


def test_changed_person_sends_only_changes_and_nulls_for_cleared() -> None:
    before = {"plan": "pro", "mrr": 49, "trial_end": 1_700_000_000, "seats": 3}
    after = {"plan": "team", "mrr": 49, "seats": None, "new": True}
    result = plan(after, before)
    assert not result.created
    assert sent(result)["attributes"] == {
        "new": True,
        "plan": "team",
        "seats": None,
        "trial_end": None,
    }
    assert orjson.loads(result.item.attributes) == {"mrr": 49, "new": True, "plan": "team"}


@pytest.mark.parametrize(
    ("old", "new"), [(1, True), (1, 1.0), ([1], [True]), ({"usd": 1}, {"usd": 1.5}), ("1", 1)]
)
def test_a_change_of_json_type_is_a_change(old: Any, new: Any) -> None:
    assert sent(plan({"x": new}, {"x": old}))["attributes"] == {"x": new}


def test_numpy_values_from_pandas_encode_as_numbers() -> None:
    result = plan({"count": np.int64(3), "spent": np.float64(2.5)})
    assert sent(result)["attributes"] == {"count": 3, "spent": 2.5}
    assert plan({"count": np.int64(3)}, {"count": 3}) is None


def test_inputs_are_never_mutated() -> None:
    attributes = {"plan": "pro", "gone": None}
    plan(attributes, {"plan": "free", "old": 1})
    assert attributes == {"plan": "pro", "gone": None}


@given(
    before=st.dictionaries(st.sampled_from("abcdef"), st.integers(-5, 5) | st.text(max_size=3)),
    after=st.dictionaries(st.sampled_from("abcdef"), st.integers(-5, 5) | st.text(max_size=3)),
)
def test_applying_the_diff_to_the_snapshot_gives_the_new_attributes(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    result = plan(after, before)
    if result is None:
        assert before == after
        return
    merged = dict(before)
    for name, value in sent(result)["attributes"].items():
        if value is None:
            del merged[name]
        else:
            merged[name] = value
    assert merged == after == orjson.loads(result.item.attributes)


# --- pre-send checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifiers", "attributes", "reason"),
    [
        ({"email": "a@x", "id": "1"}, {}, "invalid_identifier"),
        ({"phone": "+1"}, {}, "invalid_identifier"),
        ({"id": ""}, {}, "invalid_identifier"),
        ({"id": "x" * 151}, {}, "identifier_too_long"),
        ({"id": "é" * 76}, {}, "identifier_too_long"),
        ({"id": "1"}, {f"a{i}": i for i in range(301)}, "too_many_attributes"),
        ({"id": "1"}, {"n" * 151: 1}, "attribute_name_too_long"),
        ({"id": "1"}, {"": 1}, "invalid_attribute_name"),
        ({"id": "1"}, {"v": "x" * 1001}, "attribute_value_too_long"),
        ({"id": "1"}, {"v": "é" * 501}, "attribute_value_too_long"),
        ({"id": "1"}, {"v": list(range(300))}, "attribute_value_too_long"),
        ({"id": "1"}, {f"v{i}": "x" * 1000 for i in range(40)}, "item_too_large"),
        ({"id": "1"}, {"v": {1, 2}}, "unserializable_attributes"),
    ],
)
def test_items_that_can_never_be_accepted_are_refused_with_a_reason(
    identifiers: dict[str, str], attributes: dict[str, Any], reason: str
) -> None:
    result = plan_person(PersonUpdate(identifiers, attributes), None, NameCheck())
    assert isinstance(result, Refusal)
    assert result.reason == reason


def test_limits_themselves_are_accepted() -> None:
    at_limits = {"n" * 150: "x" * 1000, **{f"a{i}": i for i in range(299)}}
    result = plan_person(PersonUpdate({"id": "i" * 150}, at_limits), None, NameCheck())
    assert not isinstance(result, Refusal)
    assert result is not None
    assert len(result.item.body) <= MAX_ITEM_BYTES


def event(**changes: Any) -> EventItem:
    values: dict[str, Any] = {
        "identifiers": {"id": "cus_1"},
        "name": "stripe_payment_succeeded",
        "stripe_event_id": "evt_1",
        "created": 1_700_000_000,
        "data": {"amount": 5},
    }
    return EventItem(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"name": ""}, "invalid_event_name"),
        ({"name": "n" * 101}, "event_name_too_long"),
        ({"stripe_event_id": ""}, "invalid_stripe_event_id"),
        ({"created": -1}, "invalid_timestamp"),
        ({"created": 1.5}, "invalid_timestamp"),
        ({"created": True}, "invalid_timestamp"),
        ({"data": [1]}, "invalid_event_data"),
        ({"data": {"x": "y" * 100_001}}, "event_data_too_large"),
        ({"data": {"x": "y" * 40_000}}, "item_too_large"),
        ({"identifiers": {}}, "invalid_identifier"),
    ],
)
def test_bad_events_are_refused_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    result = plan_event(event(**changes))
    assert isinstance(result, Refusal)
    assert result.reason == reason


def test_event_item_carries_ulid_timestamp_and_data_as_attributes() -> None:
    item = plan_event(event())
    assert isinstance(item, Outgoing)
    body = orjson.loads(item.body)
    assert body == {
        "type": "person",
        "identifiers": {"id": "cus_1"},
        "action": "event",
        "id": event_ulid("evt_1", "stripe_payment_succeeded", 1_700_000_000),
        "name": "stripe_payment_succeeded",
        "timestamp": 1_700_000_000,
        "attributes": {"amount": 5},
    }
    assert item.item_key == body["id"]
    assert item.stripe_event_id == "evt_1"


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=20), st.integers(0, 2**37))
def test_event_ulid_is_deterministic_and_time_ordered(
    event_id: str, name: str, created: int
) -> None:
    ulid = event_ulid(event_id, name, created)
    assert ULID_PATTERN.fullmatch(ulid)
    assert ulid == event_ulid(event_id, name, created)
    assert ulid[:10] < event_ulid(event_id, name, created + 1)[:10]
    assert ulid != event_ulid(event_id, name + "x", created)  # two events of one Stripe event


# --- packing -----------------------------------------------------------------------------------


def items(sizes: list[int]) -> list[Outgoing]:
    # An item of exactly `size` bytes of JSON: a string padded to fit.
    return [
        Outgoing("event", str(i), "id:1", orjson.dumps({"p": "x" * (size - 8)}))
        for i, size in enumerate(sizes)
    ]


@given(st.lists(st.integers(8, MAX_ITEM_BYTES), max_size=80))
def test_packing_is_greedy_ordered_and_under_the_limit(sizes: list[int]) -> None:
    given_items = items(sizes)
    batches = list(pack(given_items))
    assert [i for batch in batches for i in batch] == given_items
    for index, batch in enumerate(batches):
        body = batch_body([i.body for i in batch])
        assert len(body) <= MAX_BATCH_BYTES
        orjson.loads(body)
        if index + 1 < len(batches):  # greedy: the next item would not have fitted
            grown = [*batch, batches[index + 1][0]]
            assert len(batch_body([i.body for i in grown])) > MAX_BATCH_BYTES


def test_packing_fills_a_batch_to_the_byte() -> None:
    # 12 bytes of envelope, 15 items of 32,000 bytes, one of 19,972 and 15 commas: 499,999.
    (full, rest) = pack(items([MAX_ITEM_BYTES] * 15 + [19_972, 8]))
    assert len(batch_body([i.body for i in full])) == MAX_BATCH_BYTES
    assert len(rest) == 1


# --- concurrency -------------------------------------------------------------------------------


def test_the_first_failure_cancels_the_other_sends_and_is_raised() -> None:
    cancelled: list[int] = []

    async def slow(n: int) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("refused")

    async def run() -> None:
        flight = InFlight(4)
        await flight.spawn(slow(1))
        await flight.spawn(slow(2))
        await flight.spawn(failing())
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError, match="refused"):
            await flight.spawn(slow(3))
        with pytest.raises(RuntimeError, match="refused"):
            await flight.drain()

    asyncio.run(run())
    assert sorted(cancelled) == [1, 2]
