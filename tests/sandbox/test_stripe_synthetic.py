"""The Stripe sandbox serving the synthetic account: object key sets and advancing the clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from stripe_cio.sandbox import SandboxProcess
from stripe_cio.sandbox.stripe_server import SPECS, ResourceSpec, StripeStore

NOW = 1_767_225_600
KEY = "sk_test_synthetic000000001"


@pytest.fixture(scope="module")
def store() -> StripeStore:
    from stripe_cio.sandbox.synthetic import SyntheticAccount

    built = StripeStore()
    SyntheticAccount(built, seed=5, customers=200, months=12, now=NOW).generate()
    return built


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    args = ("--customers", "200", "--now", str(NOW), "--rps", "100000")
    with SandboxProcess("stripe", *args) as process:
        yield process


def every_body(store: StripeStore, resource: str) -> list[bytes]:
    return store.page(resource, low=(0, ""), high=(1 << 62, ""), limit=10**9)[0]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_served_objects_have_stripes_top_level_keys(
    store: StripeStore, spec: ResourceSpec, stripe_examples: dict[str, Any]
) -> None:
    name = spec.name
    example = stripe_examples[spec.object_name]
    bodies = every_body(store, name)
    assert bodies, f"the synthetic account has no {name}"
    for body in bodies:
        assert set(orjson.loads(body)) == set(example), name


def test_advance_adds_activity_that_lists_show(sandbox: SandboxProcess) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    before = httpx.get(f"{sandbox.url}/v1/events", params={"limit": 1}, headers=headers).json()
    newest = before["data"][0]["id"]
    answer = httpx.post(f"{sandbox.url}/_sandbox/advance", json={"seconds": 3 * 86_400})
    assert answer.status_code == 200
    assert answer.json()["now"] == NOW + 3 * 86_400
    assert httpx.get(f"{sandbox.url}/_sandbox/clock").json() == {"now": NOW + 3 * 86_400}
    newer = httpx.get(
        f"{sandbox.url}/v1/events",
        params={"limit": 100, "ending_before": newest},
        headers=headers,
    ).json()
    assert newer["data"], "three days of activity produced no event"
    assert all(e["created"] > NOW - 1 for e in newer["data"])
    bad = httpx.post(f"{sandbox.url}/_sandbox/advance", json={"seconds": "soon"})
    assert bad.status_code == 400
