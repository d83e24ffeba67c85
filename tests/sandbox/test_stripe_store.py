"""StripeStore and list-query parsing, in-process: pagination properties with hypothesis."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_cio.sandbox.stripe_server import StripeStore
from stripe_cio.sandbox.stripe_server.errors import StripeError
from stripe_cio.sandbox.stripe_server.query import parse_list_query
from stripe_cio.sandbox.stripe_server.resources import SPEC_BY_NAME

NOW = 1_767_225_600
CUSTOMERS = [f"cus_{i:03d}" for i in range(6)]


def build_store(compress: bool) -> tuple[StripeStore, list[dict[str, Any]]]:
    """300 charges over a narrow span, so many share a `created` second (ties)."""
    rnd = random.Random(7)
    # Compressed: small blocks and a small cache, so pages cross blocks and evict them.
    store = StripeStore(compress=compress, block_bodies=16, cache_blocks=4)
    charges = []
    for i in range(300):
        charge: dict[str, Any] = {
            "id": f"ch_{rnd.getrandbits(40):010x}",
            "object": "charge",
            "created": NOW - rnd.randint(0, 120),
            "customer": rnd.choice([*CUSTOMERS, None]),
            "amount": i,
            "description": "x" * rnd.randint(0, 400),  # long enough to be deflated
        }
        charges.append(charge)
        store.put("charges", charge)
    # Replacing objects (same id, new content) must neither duplicate nor lose them.
    for charge in charges[::10]:
        charge["amount"] += 1000
        store.put("charges", charge)
    store.settle()
    return store, charges


STORES = {compress: build_store(compress) for compress in (False, True)}


def expected(charges: list[dict[str, Any]], params: dict[str, Any]) -> list[str]:
    chosen = [
        c
        for c in charges
        if params.get("created[gte]", 0) <= c["created"] < params.get("created[lt]", 1 << 40)
        and ("customer" not in params or c["customer"] == params["customer"])
    ]
    chosen.sort(key=lambda c: (c["created"], c["id"]), reverse=True)
    return [c["id"] for c in chosen]


def walk(
    store: StripeStore, params: dict[str, Any], backwards_from: str | None = None
) -> list[str]:
    """Page like a client: starting_after forwards, or ending_before backwards."""
    spec = SPEC_BY_NAME["charges"]
    seen: list[str] = []
    cursor = backwards_from
    while True:
        query = dict(params)
        if backwards_from is not None:
            query["ending_before"] = cursor
        elif cursor is not None:
            query["starting_after"] = cursor
        request = parse_list_query(spec, urlencode(query).encode(), store, NOW)
        bodies, more = store.page("charges", **vars(request))
        ids = [orjson.loads(body)["id"] for body in bodies]
        assert len(ids) <= params.get("limit", 10)
        if backwards_from is not None:
            seen[:0] = ids
            cursor = ids[0] if ids else cursor
        else:
            seen.extend(ids)
            cursor = ids[-1] if ids else cursor
        if not more:
            return seen


@settings(max_examples=150, deadline=None)
@given(
    compress=st.booleans(),
    limit=st.integers(1, 100),
    low=st.one_of(st.none(), st.integers(NOW - 130, NOW + 5)),
    span=st.integers(0, 140),
    customer=st.one_of(st.none(), st.sampled_from(CUSTOMERS)),
)
def test_pages_concatenate_to_the_filtered_set(
    compress: bool, limit: int, low: int | None, span: int, customer: str | None
) -> None:
    store, charges = STORES[compress]
    params: dict[str, Any] = {"limit": limit}
    if low is not None:
        params["created[gte]"] = low
        params["created[lt]"] = low + span
    if customer is not None:
        params["customer"] = customer
    want = expected(charges, params)
    got = walk(store, params)
    assert got == want
    assert len(set(got)) == len(got)


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(1, 50), start=st.integers(0, 299), compress=st.booleans())
def test_ending_before_walks_back_to_the_newest(limit: int, start: int, compress: bool) -> None:
    store, charges = STORES[compress]
    order = expected(charges, {})
    got = walk(store, {"limit": limit}, backwards_from=order[start])
    assert got == order[:start]


def test_cursor_is_stable_while_objects_are_added() -> None:
    store, charges = build_store(False)
    spec = SPEC_BY_NAME["charges"]
    first = store.page("charges", **vars(parse_list_query(spec, b"limit=50", store, NOW)))[0]
    cursor = orjson.loads(first[-1])["id"]
    for i in range(100):  # newer and older objects arrive between two pages
        store.put("charges", {"id": f"ch_new{i:03d}", "created": NOW - 200 + 4 * i})
    rest = walk(store, {"limit": 100, "starting_after": cursor})
    old_rest = expected(charges, {})[50:]
    assert [i for i in rest if not i.startswith("ch_new")] == old_rest


def test_filter_index_built_on_first_use_then_kept_up_to_date() -> None:
    store = StripeStore()
    for i, customer in enumerate(["cus_a", "cus_b", "cus_a"]):
        store.put("charges", {"id": f"ch_{i}", "created": NOW + i, "customer": customer})

    def of(customer: str) -> list[str]:
        bodies, _ = store.page(
            "charges", low=(0, ""), high=(NOW + 99, ""), limit=10, filters={"customer": (customer,)}
        )
        return [orjson.loads(body)["id"] for body in bodies]

    assert of("cus_a") == ["ch_2", "ch_0"]  # the index is built here
    store.put("charges", {"id": "ch_3", "created": NOW - 1, "customer": "cus_a"})  # older
    store.put("charges", {"id": "ch_0", "created": NOW, "customer": "cus_b"})  # moved
    store.put("charges", {"id": "ch_1", "deleted": True})
    assert of("cus_a") == ["ch_2", "ch_3"]
    assert of("cus_b") == ["ch_0"]
    assert store.values("charges", "customer") == ["cus_a", "cus_b"]


def test_deleted_stub_is_retrievable_but_not_listed() -> None:
    store = StripeStore()
    store.put("customers", {"id": "cus_a", "object": "customer", "created": NOW, "email": "a@x"})
    store.put("customers", {"id": "cus_b", "object": "customer", "created": NOW, "email": "b@x"})
    store.put("customers", {"id": "cus_a", "object": "customer", "deleted": True})
    bodies, more = store.page("customers", low=(0, ""), high=(NOW + 1, ""), limit=10)
    assert [orjson.loads(b)["id"] for b in bodies] == ["cus_b"]
    assert not more
    found = store.get("customers", "cus_a")
    assert found is not None
    assert orjson.loads(found[1])["deleted"] is True


@pytest.mark.parametrize(
    ("query", "param"),
    [
        (b"limit=0", "limit"),
        (b"limit=101", "limit"),
        (b"limit=ten", "limit"),
        (b"created=yesterday", "created"),
        (b"created[gte]=1.5", "created[gte]"),
        (b"created[after]=1", "created[after]"),
        (b"foo=1", "foo"),
        (b"customer=", "customer"),
        (b"starting_after=ch_a&ending_before=ch_b", "ending_before"),
        (b"starting_after=ch_unknown", "starting_after"),
    ],
)
def test_bad_parameters_name_the_param(query: bytes, param: str) -> None:
    store, _ = STORES[False]
    with pytest.raises(StripeError) as caught:
        parse_list_query(SPEC_BY_NAME["charges"], query, store, NOW)
    assert caught.value.error["param"] == param
    assert caught.value.status == (404 if b"unknown" in query else 400)
