"""Every documented Customer.io limit: at the limit accepted, one byte over refused, right shape."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from stripe_cio.sandbox.cio_server import limits as limits

ULID_OK = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def sized_item(size: int, person_id: str = "p") -> dict[str, Any]:
    """A person identify item whose compact JSON is exactly `size` bytes."""
    attributes: dict[str, str] = {}
    item: dict[str, Any] = {"type": "person", "identifiers": {"id": person_id}}
    item.update(action="identify", attributes=attributes)
    index = 0
    while True:
        name = f"a{index:03d}"
        overhead = len(orjson.dumps({name: ""})) - 2 + (1 if attributes else 0)
        gap = size - len(orjson.dumps(item)) - overhead
        if gap <= limits.MAX_ATTRIBUTE_VALUE_BYTES:
            attributes[name] = "x" * gap
            break
        attributes[name] = "x" * limits.MAX_ATTRIBUTE_VALUE_BYTES
        index += 1
    assert len(orjson.dumps(item)) == size
    return item


def sized_batch(size: int) -> bytes:
    """A `{"batch": [...]}` body of exactly `size` bytes, every item well under 32 KB."""
    chunk, items = 30_000, list[dict[str, Any]]()
    remaining = size - len(b'{"batch":[]}')
    while remaining > chunk + 1 + 2_000:
        items.append(sized_item(chunk, f"p{len(items)}"))
        remaining -= chunk + 1
    items.append(sized_item(remaining, f"p{len(items)}"))
    body = orjson.dumps({"batch": items})
    assert len(body) == size
    return body


def v2_item(**fields: Any) -> dict[str, Any]:
    return {"type": "person", "identifiers": {"id": "p"}, "action": "identify", **fields}


def v2_event(**fields: Any) -> dict[str, Any]:
    return {"type": "person", "identifiers": {"id": "p"}, "action": "event", "name": "e", **fields}


def assert_v1_refused(response: httpx.Response) -> None:
    assert response.status_code == 400
    meta = response.json()["meta"]
    assert meta["error"]
    assert meta["errors"] == [meta["error"]]


def assert_item_refused(cio: httpx.Client, item: dict[str, Any], field: str | None = None) -> None:
    response = cio.post("/api/v2/batch", json={"batch": [v2_item(), item]})
    assert response.status_code == 207
    (error,) = response.json()["errors"]
    assert error["batch_index"] == 1
    if field is not None:
        assert error["field"] == field


# --- identifiers, attributes ---------------------------------------------------------------------


def test_identifier_150_bytes(cio: httpx.Client) -> None:
    ok, over = "é" * 75, "é" * 75 + "x"  # 150 and 151 bytes in UTF-8
    assert cio.put(f"/api/v1/customers/{ok}", json={}).status_code == 200
    assert_v1_refused(cio.put(f"/api/v1/customers/{over}", json={}))
    item = v2_item()
    assert cio.post("/api/v2/entity", json={**item, "identifiers": {"id": ok}}).status_code == 200
    assert_item_refused(cio, {**item, "identifiers": {"id": over}}, "identifiers.id")


def test_attribute_name_150_bytes(cio: httpx.Client) -> None:
    assert cio.put("/api/v1/customers/p", json={"n" * 150: 1}).status_code == 200
    assert_v1_refused(cio.put("/api/v1/customers/p", json={"n" * 151: 1}))
    assert_item_refused(cio, v2_item(attributes={"ü" * 76: 1}), "attributes")


@pytest.mark.parametrize(
    ("value_ok", "value_over"),
    [("x" * 1000, "x" * 1001), ("€" * 333 + "x", "€" * 334)],  # 1000 / 1001 / 1002 bytes
    ids=["ascii", "utf8"],
)
def test_attribute_value_1000_bytes(cio: httpx.Client, value_ok: str, value_over: str) -> None:
    assert cio.put("/api/v1/customers/p", json={"v": value_ok}).status_code == 200
    assert_v1_refused(cio.put("/api/v1/customers/p", json={"v": value_over}))
    assert_item_refused(cio, v2_item(attributes={"v": value_over}), "attributes.v")
    nested_over = {"list": ["y" * 995]}  # serialises to more than 1000 bytes
    assert_item_refused(cio, v2_item(attributes={"v": nested_over}), "attributes.v")


def test_300_attributes_per_call(cio: httpx.Client) -> None:
    ok = {f"a{i}": i for i in range(300)}
    assert cio.put("/api/v1/customers/p", json={**ok, "_update": False}).status_code == 200
    assert_v1_refused(cio.put("/api/v1/customers/p", json={**ok, "one_more": 1}))
    assert_item_refused(cio, v2_item(attributes={**ok, "one_more": 1}), "attributes")


def test_id_attribute_must_be_a_string(cio: httpx.Client) -> None:
    assert_v1_refused(cio.put("/api/v1/customers/p", json={"id": 5}))


# --- events --------------------------------------------------------------------------------------


def test_event_name_100_bytes(cio: httpx.Client) -> None:
    assert cio.post("/api/v1/customers/p/events", json={"name": "n" * 100}).status_code == 200
    assert_v1_refused(cio.post("/api/v1/customers/p/events", json={"name": "n" * 101}))
    assert_v1_refused(cio.post("/api/v1/customers/p/events", json={"name": ""}))
    assert_item_refused(cio, v2_event(name="n" * 101), "name")


def test_event_data_100000_bytes(cio: httpx.Client) -> None:
    pad = limits.MAX_EVENT_DATA_BYTES - len(b'{"blob":""}')
    ok = {"name": "big", "data": {"blob": "x" * pad}}
    assert cio.post("/api/v1/customers/p/events", json=ok).status_code == 200
    over = {"name": "big", "data": {"blob": "x" * (pad + 1)}}
    assert_v1_refused(cio.post("/api/v1/customers/p/events", json=over))
    assert_v1_refused(cio.post("/api/v1/customers/p/events", json={"name": "n", "data": "s"}))


@pytest.mark.parametrize(
    "event_id",
    [
        ULID_OK[:-1],  # 25 characters
        ULID_OK + "A",  # 27 characters
        ULID_OK[:-1] + "U",  # U is not Crockford base32
        "8" + ULID_OK[1:],  # first character over 7: more than 128 bits
        12345,
    ],
    ids=["short", "long", "bad-char", "overflow", "number"],
)
def test_event_id_must_be_a_ulid(cio: httpx.Client, event_id: Any) -> None:
    body = {"name": "n", "id": event_id}
    assert_v1_refused(cio.post("/api/v1/customers/p/events", json=body))
    assert_item_refused(cio, v2_event(id=event_id), "id")


def test_event_id_ulid_accepted_in_either_case(cio: httpx.Client) -> None:
    assert cio.post("/api/v2/entity", json=v2_event(id=ULID_OK.lower())).status_code == 200
    assert cio.post("/api/v2/entity", json=v2_event(id=ULID_OK)).status_code == 200
    assert len(cio.get("/_sandbox/events").json()) == 1  # same ULID: de-duplicated


@pytest.mark.parametrize("timestamp", [1.5, "1700000000", True, -1], ids=repr)
def test_timestamps_are_integer_seconds(cio: httpx.Client, timestamp: Any) -> None:
    assert_v1_refused(
        cio.post("/api/v1/customers/p/events", json={"name": "n", "timestamp": timestamp})
    )
    assert_item_refused(cio, v2_item(timestamp=timestamp), "timestamp")
    assert_item_refused(cio, v2_event(timestamp=timestamp), "timestamp")


# --- request and item sizes ----------------------------------------------------------------------


def test_entity_body_32_kb(cio: httpx.Client) -> None:
    ok = orjson.dumps(sized_item(limits.MAX_ENTITY_BYTES))
    assert cio.post("/api/v2/entity", content=ok).status_code == 200
    over = orjson.dumps(sized_item(limits.MAX_ENTITY_BYTES + 1))
    response = cio.post("/api/v2/entity", content=over)
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "too_large"


def test_batch_item_32_kb(cio: httpx.Client) -> None:
    items = [sized_item(limits.MAX_ITEM_BYTES, "ok"), sized_item(limits.MAX_ITEM_BYTES + 1, "no")]
    response = cio.post("/api/v2/batch", json={"batch": items})
    assert response.status_code == 207
    assert [e["batch_index"] for e in response.json()["errors"]] == [1]
    assert [p["identifiers"]["id"] for p in cio.get("/_sandbox/people").json()] == ["ok"]


def test_batch_body_500_kb(cio: httpx.Client) -> None:
    assert cio.post("/api/v2/batch", content=sized_batch(limits.MAX_BATCH_BYTES)).status_code == 200
    response = cio.post("/api/v2/batch", content=sized_batch(limits.MAX_BATCH_BYTES + 1))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


def test_huge_body_is_refused_not_kept(cio: httpx.Client) -> None:
    response = cio.post("/api/v2/batch", content=b" " * (5 * 1024 * 1024))
    assert response.status_code == 400
