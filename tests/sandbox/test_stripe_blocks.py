"""StripeStore's block storage: replacements, reads across blocks, LRU eviction, on versus off."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_cio.sandbox.stripe_server import StripeStore
from stripe_cio.sandbox.stripe_server.shard_worker import _PipeSink

NOW = 1_767_225_600
CUSTOMERS = ["cus_a", "cus_b", "cus_c"]
LOW, HIGH = (0, ""), (1 << 62, "")


def history(seed: int = 3) -> list[tuple[str, dict[str, Any]]]:
    """Subscriptions created over time, many changed later: same place, new status, deleted."""
    rnd = random.Random(seed)
    puts: list[tuple[str, dict[str, Any]]] = []
    live: list[dict[str, Any]] = []
    for i in range(400):
        sub = {
            "id": f"sub_{i:04d}",
            "object": "subscription",
            "created": NOW - 10_000 + i * 7,
            "customer": rnd.choice(CUSTOMERS),
            "status": "active",
            "note": "line one\nline two " + "y" * rnd.randint(0, 300),  # escaped newlines
        }
        live.append(sub)
        puts.append(("subscriptions", dict(sub)))
        if live and rnd.random() < 0.5:  # an older subscription changes
            old = rnd.choice(live)
            change = rnd.random()
            if change < 0.5:
                old["note"] += "!"  # same created and filters: only its body moves
            elif change < 0.8:
                old["status"] = rnd.choice(["past_due", "canceled", "trialing"])
            else:
                old["customer"] = rnd.choice(CUSTOMERS)
            puts.append(("subscriptions", dict(old)))
    return puts


def build(puts: list[tuple[str, dict[str, Any]]], **options: Any) -> StripeStore:
    store = StripeStore(**options)
    for resource, obj in puts:
        store.put(resource, obj)
    store.settle()
    return store


PUTS = history()
PLAIN = build(PUTS)
PACKED = build(PUTS, compress=True, block_bodies=8, cache_blocks=3)
LATEST = {obj["id"]: obj for _, obj in PUTS}


def test_compressed_store_is_smaller_and_counts_garbage() -> None:
    storage = PACKED.storage()
    assert storage["compressed"] is True
    assert storage["garbage"] == len(PUTS) - len(LATEST)
    assert storage["stored_bytes"] < storage["plain_bytes"] / 3
    assert storage["blocks"] >= len(PUTS) // 8
    assert PLAIN.storage()["garbage"] == storage["garbage"]


def test_every_object_reads_back_as_its_latest_version() -> None:
    ids = list(LATEST)
    random.Random(1).shuffle(ids)  # random order: most reads miss the 3-block cache
    before = PACKED.storage()["inflated_blocks"]
    for object_id in ids:
        found = PACKED.get("subscriptions", object_id)
        assert found is not None
        assert orjson.loads(found[1]) == LATEST[object_id]
    assert PACKED.storage()["inflated_blocks"] - before > PACKED.storage()["blocks"]


def test_a_full_walk_equals_the_latest_versions_in_order() -> None:
    for store in (PLAIN, PACKED):
        bodies, more = store.page("subscriptions", low=LOW, high=HIGH, limit=10_000)
        want = sorted(LATEST.values(), key=lambda s: (s["created"], s["id"]), reverse=True)
        assert [orjson.loads(body) for body in bodies] == want
        assert not more


@settings(max_examples=80, deadline=None)
@given(
    limit=st.integers(1, 100),
    start=st.integers(NOW - 10_100, NOW),
    span=st.integers(0, 3_000),
    customer=st.one_of(st.none(), st.sampled_from(CUSTOMERS)),
    status=st.one_of(st.none(), st.sampled_from(["active", "canceled", "past_due"])),
    ascending=st.booleans(),
)
def test_compression_on_and_off_give_identical_pages(
    limit: int, start: int, span: int, customer: str | None, status: str | None, ascending: bool
) -> None:
    filters = {
        field: (value,) for field, value in (("customer", customer), ("status", status)) if value
    }
    query: dict[str, Any] = {
        "low": (start, ""),
        "high": (start + span, ""),
        "limit": limit,
        "ascending": ascending,
        "filters": filters or None,
    }
    assert PACKED.page("subscriptions", **query) == PLAIN.page("subscriptions", **query)


def test_reads_before_blocks_are_deflated_and_after_agree() -> None:
    store = StripeStore(compress=True, block_bodies=4, cache_blocks=1)
    for resource, obj in PUTS[:60]:
        store.put(resource, obj)
        found = store.get(resource, obj["id"])  # at once: its block may still be plain
        assert found is not None
        assert orjson.loads(found[1]) == obj
    first = store.page("subscriptions", low=LOW, high=HIGH, limit=100)
    store.settle()
    assert store.page("subscriptions", low=LOW, high=HIGH, limit=100) == first


def test_late_objects_across_many_days_and_few_open_blocks() -> None:
    """Objects arrive out of `created` order over 30 days; only two blocks stay open at once."""
    rnd = random.Random(5)
    store = StripeStore(compress=True, block_bodies=4, cache_blocks=2, open_blocks=2)
    charges: dict[str, dict[str, Any]] = {}
    for i in range(300):
        charge: dict[str, Any] = {"id": f"ch_{i:04d}", "n": i}
        charge["created"] = NOW - rnd.randint(0, 30 * 86_400)
        charges[charge["id"]] = charge
        store.put("charges", charge)
    for charge in rnd.sample(list(charges.values()), 60):  # and some change later
        charge["n"] = -charge["n"]
        store.put("charges", charge)
    store.settle()
    bodies, _ = store.page("charges", low=LOW, high=HIGH, limit=1000)
    want = sorted(charges.values(), key=lambda c: (c["created"], c["id"]), reverse=True)
    assert [orjson.loads(body) for body in bodies] == want
    assert store.storage()["garbage"] == 60


class _Filing:
    """Stands in for the pipe to the server: files each shard batch into `store` at once."""

    def __init__(self, store: StripeStore) -> None:
        self.store = store

    def send(self, message: Any) -> None:
        batch, sealed = message
        for resource, columns in batch.items():
            self.store.put_located(resource, columns)
        for resource, number, block, plain_bytes in sealed:
            self.store.fill_block(resource, number, block, plain_bytes)


@pytest.mark.parametrize("compress", [False, True])
def test_bodies_blocked_by_shards_read_as_if_put_here(compress: bool) -> None:
    """Two shards block the history's bodies themselves (interleaved block numbers, batches
    with replacements and with runs of new objects); the store serves what `put` would."""
    store = StripeStore(compress=compress, block_bodies=8, cache_blocks=3)
    sinks = [
        _PipeSink(
            _Filing(store),  # type: ignore[arg-type]
            shard=shard,
            shards=2,
            compress=compress,
            level=1,
            block_bodies=8,
            open_blocks=2,
        )
        for shard in range(2)
    ]
    for step, (resource, obj) in enumerate(PUTS):
        sinks[int(obj["id"][4:]) % 2].put(resource, dict(obj))  # an id stays with its shard
        if step % 97 == 0:
            sinks[step % 2].flush()
    for sink in sinks:
        sink.flush(seal=True)
    assert store.page("subscriptions", low=LOW, high=HIGH, limit=10_000) == PLAIN.page(
        "subscriptions", low=LOW, high=HIGH, limit=10_000
    )
    for object_id, obj in LATEST.items():
        found = store.get("subscriptions", object_id)
        assert found is not None
        assert orjson.loads(found[1]) == obj
    storage = store.storage()
    assert storage["garbage"] == PLAIN.storage()["garbage"]
    assert storage["plain_bytes"] == PLAIN.storage()["plain_bytes"]
