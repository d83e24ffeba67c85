"""Fidelity: the official `customerio` client against the sandbox, plus hypothesis properties.

The client only builds `https://track.customer.io/...` URLs, so a requests transport adapter
rewrites each URL to the loopback sandbox: its requests really travel over HTTP to the server.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests
from customerio import CustomerIO, CustomerIOException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter

from stripe_cio import encode_ulid
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess

SITE, KEY = SANDBOX_CIO_SITE_ID, SANDBOX_CIO_API_KEY


def ulid(n: int) -> str:
    return encode_ulid(1_700_000_000_000, n)


class LoopbackAdapter(HTTPAdapter):
    """Send every https:// request of the client to the sandbox's http:// address instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__(max_retries=0)
        self.base_url = base_url

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = str(request.url)
        request.url = self.base_url + url[url.index("/", len("https://")) :]
        return super().send(request, **kwargs)


@pytest.fixture
def inspect(cio: httpx.Client) -> httpx.Client:
    return cio


def official(cio_server: SandboxProcess, api_key: str = KEY) -> Any:
    client = CustomerIO(SITE, api_key, retries=0)
    client.http.mount("https://", LoopbackAdapter(cio_server.url))
    return client


def test_identify_track_delete_land_in_the_sandbox(
    cio_server: SandboxProcess, inspect: httpx.Client
) -> None:
    cio = official(cio_server)
    cio.identify(id="cus_1", email="Ann@example.com", plan="pro", seats=3)
    cio.identify(id="cus_2", plan="free")
    cio.track(customer_id="cus_1", name="paid", data={"amount": 5}, id=ulid(1), timestamp=1_700)
    cio.track(customer_id="cus_1", name="paid", data={"amount": 5}, id=ulid(1), timestamp=1_700)
    cio.track_anonymous(anonymous_id="anon", name="visit", data={"page": "/"})
    cio.delete(customer_id="cus_2")

    people = inspect.get("/_sandbox/people").json()
    assert [
        (p["identifiers"]["id"], p["identifiers"]["email"], p["attributes"]) for p in people
    ] == [("cus_1", "Ann@example.com", {"plan": "pro", "seats": 3})]
    events = inspect.get("/_sandbox/events").json()
    assert (events[0]["name"], events[0]["id"], events[0]["timestamp"]) == ("paid", ulid(1), 1_700)
    assert [e["identifiers"].get("anonymous_id") for e in events] == [None, "anon"]
    counts = inspect.get("/_sandbox/requests").json()["by_endpoint"]
    assert counts["PUT /api/v1/customers/{identifier}"] == {"200": 2}
    assert counts["DELETE /api/v1/customers/{identifier}"] == {"200": 1}


def test_batch_call_lands_and_partial_failure_is_207(
    cio_server: SandboxProcess, inspect: httpx.Client
) -> None:
    cio = official(cio_server)
    person = {"type": "person", "identifiers": {"id": "b1"}, "action": "identify"}
    event = {**person, "action": "event", "name": "signed_up", "id": ulid(9)}
    response = cio.batch([{**person, "attributes": {"plan": "pro"}}, event])
    assert response.status_code == 200
    bad = {**person, "identifiers": {"id": ""}}
    response = cio.batch([{**person, "attributes": {"plan": "team"}}, bad])
    assert response.status_code == 207  # 2xx: the client does not raise, callers must look
    assert response.json()["errors"][0]["batch_index"] == 1
    (stored,) = inspect.get("/_sandbox/people").json()
    assert stored["attributes"] == {"plan": "team"}
    assert [e["name"] for e in inspect.get("/_sandbox/events").json()] == ["signed_up"]


def test_suppress_unsuppress_and_merge_customers(
    cio_server: SandboxProcess, inspect: httpx.Client
) -> None:
    cio = official(cio_server)
    cio.identify(id="keep", plan="pro")
    cio.identify(id="dupe", plan="free", seats=2)
    cio.merge_customers("id", "keep", "id", "dupe")
    (person,) = inspect.get("/_sandbox/people").json()
    assert person["attributes"] == {"plan": "pro", "seats": 2}
    cio.suppress("keep")
    cio.identify(id="keep", plan="back")
    assert inspect.get("/_sandbox/people").json() == []
    cio.unsuppress("keep")
    cio.identify(id="keep", plan="back")
    assert [p["attributes"] for p in inspect.get("/_sandbox/people").json()] == [{"plan": "back"}]
    with pytest.raises(CustomerIOException, match=r"^400"):
        cio.merge_customers("id", "nobody", "id", "keep")


def test_client_sees_400_401_500_and_drops_as_errors(
    cio_server: SandboxProcess, inspect: httpx.Client
) -> None:
    with pytest.raises(CustomerIOException, match=r"^400"):
        official(cio_server).track(customer_id="c", name="n" * 101)
    with pytest.raises(CustomerIOException, match=r"^401"):
        official(cio_server, api_key="wrong").identify(id="c")
    inspect.post("/_sandbox/config", json={"fail_rate": 1})
    with pytest.raises(CustomerIOException, match=r"^500"):
        official(cio_server).identify(id="c")
    inspect.post("/_sandbox/config", json={"fail_rate": 0, "drop_rate": 1})
    with pytest.raises(CustomerIOException, match="Failed to receive valid response"):
        official(cio_server).identify(id="c")
    inspect.post("/_sandbox/config", json={"drop_rate": 0})
    assert inspect.get("/_sandbox/people").json() == []


# --- properties ----------------------------------------------------------------------------------

# The sandbox is reset inside each example, so the function-scoped client fixture is safe. This
# list replaces the profile's (tests/conftest.py), so it names too_slow again.
SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
values = st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=8), st.booleans())


@settings(max_examples=25, deadline=None, suppress_health_check=SUPPRESSED)
@given(
    data=st.data(),
    stamps=st.lists(st.integers(1, 10**9), min_size=1, max_size=8, unique=True),
)
def test_latest_timestamp_wins_in_any_arrival_order(
    inspect: httpx.Client, data: st.DataObject, stamps: list[int]
) -> None:
    """Updates of one attribute set, sent in any order and batching: the newest one stands."""
    inspect.post("/_sandbox/reset")
    updates = {
        stamp: data.draw(st.fixed_dictionaries({"plan": values, "mrr": values, "status": values}))
        for stamp in stamps
    }
    order = data.draw(st.permutations(stamps))
    cut = data.draw(st.integers(0, len(order)))
    for part in (order[:cut], order[cut:]):
        if part:
            batch = [
                {
                    "type": "person",
                    "identifiers": {"id": "prop"},
                    "action": "identify",
                    "timestamp": stamp,
                    "attributes": updates[stamp],
                }
                for stamp in part
            ]
            assert inspect.post("/api/v2/batch", json={"batch": batch}).status_code == 200
    expected = {k: v for k, v in updates[max(stamps)].items() if v != ""}
    (stored,) = inspect.get("/_sandbox/people").json()
    assert stored["attributes"] == expected


@settings(max_examples=20, deadline=None, suppress_health_check=SUPPRESSED)
@given(sends=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=20))
def test_each_event_id_is_stored_once_with_its_first_content(
    inspect: httpx.Client, sends: list[tuple[int, int]]
) -> None:
    """Retries and replays with any ids: one stored event per id, as first sent."""
    inspect.post("/_sandbox/reset")
    batch = [
        {
            "type": "person",
            "identifiers": {"id": "dup"},
            "action": "event",
            "name": "charge",
            "id": ulid(n),
            "attributes": {"v": version},
        }
        for n, version in sends
    ]
    assert inspect.post("/api/v2/batch", json={"batch": batch}).status_code == 200
    first: dict[str, int] = {}
    for n, version in sends:
        first.setdefault(ulid(n), version)
    stored = {e["id"]: e["data"]["v"] for e in inspect.get("/_sandbox/events").json()}
    assert stored == first
    stats = inspect.get("/_sandbox/requests").json()
    assert stats["duplicate_event_ids"] == len(sends) - len(first)
