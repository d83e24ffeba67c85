"""The Customer.io sandbox over real HTTP: auth, state semantics, 207s, faults and inspection."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from stripe_cio import encode_ulid
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID

SITE, KEY = SANDBOX_CIO_SITE_ID, SANDBOX_CIO_API_KEY


def ulid(n: int, millis: int = 1_700_000_000_000) -> str:
    """A valid ULID whose random part is `n`: deterministic ids for tests."""
    return encode_ulid(millis, n)


def people(cio: httpx.Client) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = cio.get("/_sandbox/people").json()
    return result


def person(cio: httpx.Client, **identifiers: str) -> dict[str, Any]:
    (match,) = [
        p for p in people(cio) if all(p["identifiers"][k] == v for k, v in identifiers.items())
    ]
    return match


def identify(identifier: str, timestamp: int | None = None, **attributes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "person",
        "identifiers": {"id": identifier},
        "action": "identify",
        "attributes": attributes,
    }
    if timestamp is not None:
        item["timestamp"] = timestamp
    return item


# --- auth, routing, region -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, (SITE, "wrong"), ("other-site", KEY)],
    ids=["missing", "wrong-key", "wrong-site"],
)
def test_bad_credentials_get_401(cio: httpx.Client, auth: tuple[str, str] | None) -> None:
    headers = {}
    if auth is not None:
        headers["authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    response = httpx.put(
        f"{cio.base_url}/api/v1/customers/1", json={"a": 1}, headers=headers, timeout=10
    )
    assert response.status_code == 401
    assert people(cio) == []


def test_region_answers_documented_shape_and_follows_config(cio: httpx.Client) -> None:
    assert cio.get("/api/v1/accounts/region").json() == {
        "url": "https://track.customer.io",
        "region": "us",
        "environment_id": 1,
    }
    cio.post("/_sandbox/config", json={"region": "eu"})
    assert cio.get("/api/v1/accounts/region").json()["url"] == "https://track-eu.customer.io"


def test_unknown_route_is_404(cio: httpx.Client) -> None:
    assert cio.get("/api/v1/nothing").status_code == 404


# --- people --------------------------------------------------------------------------------------


def test_v1_identify_merges_attributes_and_null_or_empty_removes(cio: httpx.Client) -> None:
    assert cio.put("/api/v1/customers/42", json={"plan": "pro", "mrr": 10, "x": 1}).json() == {}
    cio.put("/api/v1/customers/42", json={"mrr": 20, "x": None, "plan": ""})
    found = person(cio, id="42")
    assert found["attributes"] == {"mrr": 20}
    assert found["identifiers"]["cio_id"]


def test_v2_batch_null_or_empty_removes_in_small_and_large_items(cio: httpx.Client) -> None:
    def identify(attributes: dict[str, Any]) -> dict[str, Any]:
        return {"type": "person", "identifiers": {"id": "43"}, "action": "identify",
                "attributes": attributes}  # fmt: skip

    long = "y" * 900  # the item is over 1000 bytes: each value is looked at, not the item
    cio.post("/api/v2/batch", json={"batch": [identify({"a": 1, "b": "x", "c": 2, "d": long})]})
    cio.post("/api/v2/batch", json={"batch": [identify({"a": None, "b": "", "note": "null"})]})
    assert person(cio, id="43")["attributes"] == {"c": 2, "d": long, "note": "null"}
    cio.post("/api/v2/batch", json={"batch": [identify({"c": "", "d": None, "e": long})]})
    assert person(cio, id="43")["attributes"] == {"note": "null", "e": long}


def test_email_is_case_insensitive_and_attaches_to_id(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/Jane@Example.com", json={"a": 1})
    cio.put("/api/v1/customers/jane@example.COM", json={"b": 2})
    assert len(people(cio)) == 1
    # an id sent with that email attaches to the email-only person instead of splitting
    cio.put("/api/v1/customers/cus_1", json={"email": "JANE@example.com", "c": 3})
    (only,) = people(cio)
    assert only["identifiers"]["id"] == "cus_1"
    assert only["identifiers"]["email"] == "Jane@Example.com"
    assert only["attributes"] == {"a": 1, "b": 2, "c": 3}


def test_email_only_profile_folds_into_identified_person(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/cus_2", json={"plan": "pro"})
    cio.put("/api/v1/customers/bob@example.com", json={"source": "form"})
    cio.post("/api/v2/entity", json=identify("cus_2", email="Bob@example.com"))
    (only,) = people(cio)
    assert only["identifiers"]["id"] == "cus_2"
    assert only["attributes"] == {"plan": "pro", "source": "form"}


def test_email_of_another_identified_person_is_a_conflict(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/a", json={"email": "a@example.com"})
    cio.put("/api/v1/customers/b", json={})
    response = cio.post("/api/v2/batch", json={"batch": [identify("b", email="a@example.com")]})
    assert response.status_code == 207
    assert response.json()["errors"][0]["reason"] == "conflict"


def test_cio_id_path_updates_the_person(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/7", json={"a": 1})
    cio_id = person(cio, id="7")["identifiers"]["cio_id"]
    assert cio.put(f"/api/v1/customers/cio_{cio_id}", json={"b": 2}).status_code == 200
    assert person(cio, id="7")["attributes"] == {"a": 1, "b": 2}


def test_update_only_never_creates(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/ghost", json={"_update": True, "a": 1})
    item = identify("ghost2", a=1)
    item["attributes"]["_update"] = True
    assert cio.post("/api/v2/entity", json=item).status_code == 200
    assert people(cio) == []
    cio.put("/api/v1/customers/real", json={"a": 1})
    cio.put("/api/v1/customers/real", json={"_update": True, "a": 2})
    assert person(cio, id="real")["attributes"] == {"a": 2}


def test_older_timestamp_is_ignored(cio: httpx.Client) -> None:
    batch = [identify("p", 200, plan="new"), identify("p", 100, plan="old", extra=1)]
    assert cio.post("/api/v2/batch", json={"batch": batch}).status_code == 200
    assert person(cio, id="p")["attributes"] == {"plan": "new"}
    assert cio.get("/_sandbox/requests").json()["stale_updates_ignored"] == 1


def test_delete_and_suppress(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/d1", json={"a": 1})
    assert cio.delete("/api/v1/customers/d1").status_code == 200
    assert cio.delete("/api/v1/customers/never-was").status_code == 200
    cio.post("/api/v2/entity", json={**identify("s1"), "action": "suppress"})
    cio.post("/api/v2/entity", json=identify("s1", a=1))
    assert people(cio) == []
    assert cio.get("/_sandbox/suppressions").json() == [{"kind": "id", "value": "s1"}]
    cio.post("/api/v2/entity", json={**identify("s1"), "action": "unsuppress"})
    cio.post("/api/v2/entity", json=identify("s1", a=1))
    assert person(cio, id="s1")["attributes"] == {"a": 1}


def test_merge_moves_secondary_into_primary(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/m1", json={"a": 1})
    cio.put("/api/v1/customers/m2", json={"a": 2, "b": 2})
    merge = {
        "type": "person",
        "action": "merge",
        "primary": {"id": "m1"},
        "secondary": {"id": "m2"},
    }
    assert cio.post("/api/v2/entity", json=merge).status_code == 200
    assert [p["attributes"] for p in people(cio)] == [{"a": 1, "b": 2}]


# --- events --------------------------------------------------------------------------------------


def test_event_creates_unknown_person_and_dedups_by_id(cio: httpx.Client) -> None:
    event = {"name": "paid", "data": {"amount": 5}, "id": ulid(1), "timestamp": 1_700_000_000}
    assert cio.post("/api/v1/customers/e1/events", json=event).status_code == 200
    assert cio.post("/api/v1/customers/e1/events", json=event).status_code == 200
    changed = {**event, "data": {"amount": 6}}
    assert cio.post("/api/v1/customers/e1/events", json=changed).status_code == 200
    v2 = {
        "type": "person",
        "identifiers": {"id": "e1"},
        "action": "event",
        "name": "refund",
        "id": ulid(2),
        "attributes": {"amount": 1},
    }
    cio.post("/api/v2/batch", json={"batch": [v2, v2]})
    events = cio.get("/_sandbox/events").json()
    assert [(e["name"], e["id"], e["data"]) for e in events] == [
        ("paid", ulid(1), {"amount": 5}),
        ("refund", ulid(2), {"amount": 1}),
    ]
    assert events[0]["identifiers"]["id"] == "e1"
    assert events[0]["timestamp"] == 1_700_000_000
    assert person(cio, id="e1")["attributes"] == {}
    stats = cio.get("/_sandbox/requests").json()
    assert stats["duplicate_event_ids"] == 3
    assert stats["duplicate_event_ids_differing"] == [ulid(1)]


def test_anonymous_event(cio: httpx.Client) -> None:
    body = {"name": "visit", "anonymous_id": "anon-1", "data": {"page": "/"}}
    assert cio.post("/api/v1/events", json=body).status_code == 200
    (event,) = cio.get("/_sandbox/events").json()
    assert event["identifiers"] == {"anonymous_id": "anon-1"}
    assert people(cio) == []


# --- 207 -----------------------------------------------------------------------------------------


def test_batch_207_maps_batch_index_and_applies_the_rest(cio: httpx.Client) -> None:
    batch = [
        identify("ok1", a=1),
        {"type": "person", "identifiers": {"id": "x"}, "action": "fly"},
        identify("ok2", a=2),
        identify("bad", v="x" * 1001),
        {"type": "person", "identifiers": {"id": "e"}, "action": "event", "name": "n", "id": "no"},
    ]
    response = cio.post("/api/v2/batch", json={"batch": batch})
    assert response.status_code == 207
    errors = response.json()["errors"]
    assert [e["batch_index"] for e in errors] == [1, 3, 4]
    assert all(set(e) == {"batch_index", "reason", "field", "message"} for e in errors)
    assert errors[1]["field"] == "attributes.v"
    assert sorted(p["identifiers"]["id"] for p in people(cio)) == ["ok1", "ok2"]
    stats = cio.get("/_sandbox/requests").json()
    assert stats["batch_items"] == 5
    assert stats["batch_items_rejected"] == 3
    assert stats["by_endpoint"]["POST /api/v2/batch"] == {"207": 1}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"batch": []}', b'{"batch": {}}'],
    ids=["malformed", "array", "empty", "not-a-list"],
)
def test_unusable_batch_is_400(cio: httpx.Client, body: bytes) -> None:
    response = cio.post("/api/v2/batch", content=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["meta"]["errors"]
    assert payload["errors"][0]["message"]


def test_multiple_identifiers_refused(cio: httpx.Client) -> None:
    item = {"type": "person", "identifiers": {"id": "1", "email": "a@b.c"}, "action": "identify"}
    response = cio.post("/api/v2/entity", json=item)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "identifiers"


# --- faults, config, reset -----------------------------------------------------------------------


def test_rate_limit_answers_429(cio: httpx.Client) -> None:
    cio.post("/_sandbox/config", json={"rps": 1, "burst": 1})
    statuses = [cio.put("/api/v1/customers/r", json={}).status_code for _ in range(5)]
    assert 429 in statuses
    assert statuses[0] == 200
    counts = cio.get("/_sandbox/requests").json()["by_endpoint"]
    assert counts["PUT /api/v1/customers/{identifier}"]["429"] == statuses.count(429)


def test_fail_rate_and_drop_rate_at_run_time(cio: httpx.Client) -> None:
    cio.post("/_sandbox/config", json={"fail_rate": 1})
    assert cio.put("/api/v1/customers/f", json={}).status_code == 500
    cio.post("/_sandbox/config", json={"fail_rate": 0, "drop_rate": 1})
    with pytest.raises(httpx.TransportError):
        cio.put("/api/v1/customers/f", json={})
    cio.post("/_sandbox/config", json={"drop_rate": 0})
    assert cio.put("/api/v1/customers/f", json={}).status_code == 200


@pytest.mark.parametrize(
    "update", [{"nope": 1}, {"fail_rate": 2}, {"region": "mars"}, [1]], ids=str
)
def test_bad_config_is_400(cio: httpx.Client, update: Any) -> None:
    assert cio.post("/_sandbox/config", json=update).status_code == 400


def test_reset_forgets_everything(cio: httpx.Client) -> None:
    cio.put("/api/v1/customers/z", json={"a": 1})
    cio.post("/api/v1/customers/z/events", json={"name": "n"})
    cio.post("/_sandbox/reset")
    assert people(cio) == []
    assert cio.get("/_sandbox/events").json() == []
    assert cio.get("/_sandbox/requests").json()["total"] == 0
