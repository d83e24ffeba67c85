"""Delivery against the Customer.io sandbox: packing, diff-only runs, dry run, regions, 401."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from stripe_cio import CustomerIOAuthError, CustomerIORequestError, CustomerIOSettings
from stripe_cio.cio_api import MAX_BATCH_BYTES, MAX_ITEM_BYTES, CustomerIOClient
from stripe_cio.deliver import (
    DeliveryStore,
    DeliverySummary,
    EventItem,
    PersonUpdate,
    deliver,
    event_ulid,
    plan_person,
)
from stripe_cio.deliver.checks import NameCheck
from stripe_cio.sandbox import SANDBOX_CIO_SITE_ID

from .conftest import Recording


def run(client: CustomerIOClient, store: DeliveryStore, **kwargs: Any) -> DeliverySummary:
    async def go() -> DeliverySummary:
        async with client:
            return await deliver(client, store, **kwargs)

    return asyncio.run(go())


def people_by_id(sandbox: httpx.Client) -> dict[str, dict[str, Any]]:
    return {p["identifiers"]["id"]: p["attributes"] for p in sandbox.get("/_sandbox/people").json()}


def requests_seen(sandbox: httpx.Client) -> int:
    return int(sandbox.get("/_sandbox/requests").json()["total"])


def test_a_first_run_delivers_everything_and_a_second_sends_nothing(
    client: CustomerIOClient, store: DeliveryStore, sandbox: httpx.Client, settings: Any
) -> None:
    people = [PersonUpdate({"id": f"cus_{i}"}, {"plan": "pro", "n": i}) for i in range(1200)]
    events = [
        EventItem(
            {"id": f"cus_{i}"}, "stripe_invoice_paid", f"evt_{i}", 1_700_000_000 + i, {"i": i}
        )
        for i in range(300)
    ]
    first = run(client, store, people=people, events=events)
    assert (first.persons_created, first.persons_delivered, first.events_delivered) == (
        1200, 1200, 300,
    )  # fmt: skip
    assert people_by_id(sandbox)["cus_7"] == {"plan": "pro", "n": 7}
    stored = sandbox.get("/_sandbox/events").json()
    assert len(stored) == 300
    assert stored[5] == {
        "identifiers": {"id": "cus_5", "email": None, "cio_id": stored[5]["identifiers"]["cio_id"]},
        "type": "event",
        "name": "stripe_invoice_paid",
        "id": event_ulid("evt_5", "stripe_invoice_paid", 1_700_000_005),
        "timestamp": 1_700_000_005,
        "data": {"i": 5},
    }
    before = requests_seen(sandbox)
    again = run(CustomerIOClient(settings), store, people=people, events=events)
    assert requests_seen(sandbox) == before
    assert (again.requests, again.persons_unchanged, again.events_already_delivered) == (
        0, 1200, 300,
    )  # fmt: skip


def person_of_size(key: str, size: int) -> PersonUpdate:
    """A person whose identify item is exactly `size` bytes of JSON."""
    attributes: dict[str, Any] = {f"a{i:02d}": "x" * 1000 for i in range(31)}
    attributes["pad"] = ""
    plan = plan_person(PersonUpdate({"id": key}, attributes), None, NameCheck())
    assert plan is not None
    assert not hasattr(plan, "reason")
    attributes["pad"] = "p" * (size - len(plan.item.body))
    return PersonUpdate({"id": key}, attributes)


def test_batches_are_packed_to_the_size_limits_and_oversize_items_never_sent(
    client: CustomerIOClient, store: DeliveryStore, sandbox: httpx.Client, recording: Recording
) -> None:
    people = [person_of_size(f"p{i:02d}", MAX_ITEM_BYTES) for i in range(40)]
    people.append(person_of_size("too-big", MAX_ITEM_BYTES + 1))
    summary = run(client, store, people=people)
    bodies = recording.batches()
    # 15 items of 32,000 bytes fit in 499,999 bytes; a 16th would not.
    assert [len(orjson.loads(body)["batch"]) for body in bodies] == [15, 15, 10]
    assert all(len(body) <= MAX_BATCH_BYTES for body in bodies)
    counts = sandbox.get("/_sandbox/requests").json()
    assert (counts["batch_items"], counts["batch_items_rejected"]) == (40, 0)
    assert len(people_by_id(sandbox)) == 40
    assert summary.rejected == {"item_too_large": 1}
    (letter,) = store.dead_letters()
    assert (letter.item_key, letter.stage, letter.reason) == (
        "id:too-big",
        "pre_send",
        "item_too_large",
    )
    assert len(letter.payload) == MAX_ITEM_BYTES + 1


def test_only_changed_attributes_are_sent_and_removed_ones_cleared(
    settings: CustomerIOSettings, store: DeliveryStore, sandbox: httpx.Client
) -> None:
    first = [
        PersonUpdate({"id": "a"}, {"plan": "pro", "seats": 3, "mrr": 49}),
        PersonUpdate({"id": "b"}, {"plan": "free"}),
        PersonUpdate({"id": "c"}, {"plan": "team"}),
    ]
    run(CustomerIOClient(settings), store, people=first)
    second = [
        PersonUpdate({"id": "a"}, {"plan": "team", "mrr": 49}),  # seats gone: cleared
        PersonUpdate({"id": "b"}, {"plan": "free"}),
        PersonUpdate({"id": "c"}, {"plan": "team", "trial_end": None, "seats": 5}),
    ]
    recording = Recording()
    summary = run(CustomerIOClient(settings, transport=recording), store, people=second)
    (body,) = recording.batches()
    assert orjson.loads(body)["batch"] == [
        {
            "type": "person",
            "identifiers": {"id": "a"},
            "action": "identify",
            "attributes": {"plan": "team", "seats": None},
        },
        {
            "type": "person",
            "identifiers": {"id": "c"},
            "action": "identify",
            "attributes": {"seats": 5},
        },
    ]
    assert (summary.persons_updated, summary.persons_unchanged) == (2, 1)
    assert summary.attributes_cleared == {"seats": 1}
    assert people_by_id(sandbox) == {
        "a": {"plan": "team", "mrr": 49},
        "b": {"plan": "free"},
        "c": {"plan": "team", "seats": 5},
    }
    assert store.snapshot("id:a") == {"plan": "team", "mrr": 49}
    assert sandbox.get("/_sandbox/requests").json()["stale_updates_ignored"] == 0
    third = Recording()
    run(CustomerIOClient(settings, transport=third), store, people=second)
    assert third.sent == []


def test_a_dry_run_sends_and_writes_nothing_and_previews_the_run(
    settings: CustomerIOSettings, store: DeliveryStore, sandbox: httpx.Client
) -> None:
    run(CustomerIOClient(settings), store, people=[PersonUpdate({"id": "a"}, {"plan": "pro"})])
    before = requests_seen(sandbox)
    people = [
        PersonUpdate({"id": "a"}, {"plan": "team", "seats": 2}),
        PersonUpdate({"id": "new"}, {"plan": "free", "seats": 1}),
        PersonUpdate({"id": "bad"}, {"v": "x" * 1001}),
    ]
    events = [EventItem({"id": "a"}, "stripe_trial_will_end", "evt_1", 1_700_000_000, {})]
    preview = asyncio.run(deliver(None, store, people=people, events=events, dry_run=True))
    assert requests_seen(sandbox) == before
    assert store.snapshot("id:a") == {"plan": "pro"}
    assert store.snapshot("id:new") is None
    assert store.dead_letters() == []
    assert (preview.persons_created, preview.persons_updated, preview.events_new) == (1, 1, 1)
    assert preview.rejected == {"attribute_value_too_long": 1}
    assert preview.top_attributes(2) == [("plan", 2, 0), ("seats", 2, 0)]  # ties by name
    assert [s["identifiers"] for s in preview.samples] == [{"id": "a"}, {"id": "new"}, {"id": "a"}]
    assert preview.samples[0]["attributes"] == {"plan": "team", "seats": 2}
    markdown = preview.as_markdown()
    assert "dry run: nothing sent" in markdown
    assert "| persons would be created | 1 |" in markdown


def test_eu_region_routes_to_the_eu_host_and_a_wrong_region_fails_clearly(
    settings: CustomerIOSettings, store: DeliveryStore, sandbox: httpx.Client
) -> None:
    eu = CustomerIOSettings.load({"site_id": "s", "api_key": "k", "region": "eu"})
    assert eu.base_url == "https://track-eu.customer.io"
    sandbox.post("/_sandbox/config", json={"region": "eu"})
    eu_sandbox = settings.model_copy(update={"region": "eu"})
    summary = run(CustomerIOClient(eu_sandbox), store, people=[PersonUpdate({"id": "e"}, {"x": 1})])
    assert summary.persons_delivered == 1
    with pytest.raises(CustomerIORequestError) as caught:
        run(CustomerIOClient(settings), store, people=[PersonUpdate({"id": "u"}, {"x": 1})])
    assert "in region 'eu', but the settings say 'us'" in str(caught.value)
    assert "CUSTOMERIO_REGION=eu" in str(caught.value)
    assert "u" not in people_by_id(sandbox)


def test_a_refused_key_stops_the_run_at_once_naming_site_and_region(
    settings: CustomerIOSettings, store: DeliveryStore, sandbox: httpx.Client
) -> None:
    wrong = settings.model_copy(update={"api_key": SecretStr("not-the-key")})
    people = [PersonUpdate({"id": f"p{i}"}, {"v": "x" * 900}) for i in range(3000)]
    with pytest.raises(CustomerIOAuthError) as caught:
        run(CustomerIOClient(wrong), store, people=people)
    message = str(caught.value)
    assert f"site id {SANDBOX_CIO_SITE_ID!r}, region 'us'" in message
    assert "HTTP 401" in message
    assert "key or region" in message
    assert "not-the-key" not in message
    assert requests_seen(sandbox) == 1
    assert not store.has_snapshots()
    assert store.dead_letters() == []
