"""The synthetic Stripe account: determinism, shapes, coverage of situations, integrity."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from functools import cache
from typing import Any

import orjson

from stripe_cio.sandbox.synthetic import RESOURCES, SyntheticAccount
from stripe_cio.sandbox.synthetic.templates import (
    FIXTURE_NAMES,
    TEMPLATE_FILE,
    build_templates,
)

NOW = 1_780_000_000
DAY = 86_400


class ListSink:
    """Records every put, serialised as the server's sink would (so later mutation shows)."""

    def __init__(self) -> None:
        self.puts: list[tuple[str, bytes]] = []

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        self.puts.append((resource, orjson.dumps(obj)))

    def latest(self) -> dict[str, dict[str, dict[str, Any]]]:
        """resource → id → the last object put."""
        out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for resource, raw in self.puts:
            obj = orjson.loads(raw)
            out[resource][obj["id"]] = obj
        return out


@cache
def small() -> tuple[ListSink, dict[str, dict[str, dict[str, Any]]]]:
    sink = ListSink()
    SyntheticAccount(sink, seed=2, customers=1000, months=12, now=NOW).generate()
    return sink, sink.latest()


def test_same_seed_gives_identical_output_and_another_seed_differs() -> None:
    def run(seed: int) -> list[tuple[str, bytes]]:
        sink = ListSink()
        account = SyntheticAccount(sink, seed=seed, customers=60, months=3, now=NOW)
        account.generate()
        account.advance(DAY)
        return sink.puts

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_shipped_templates_match_the_fixtures(stripe_fixtures_file: dict[str, Any]) -> None:
    fixtures = stripe_fixtures_file
    assert json.loads(TEMPLATE_FILE.read_text(encoding="utf-8")) == build_templates(fixtures)


def test_every_object_has_exactly_the_fixture_keys(stripe_examples: dict[str, Any]) -> None:
    resources = stripe_examples
    _, objects = small()
    stub_keys = set(resources["deleted_customer"])
    for resource in RESOURCES:
        expected = set(resources[FIXTURE_NAMES[resource]])
        assert objects[resource], resource
        for obj in objects[resource].values():
            if obj.get("deleted"):
                assert set(obj) == stub_keys
            else:
                assert set(obj) == expected, (resource, set(obj) ^ expected)
    for event in objects["events"].values():
        kind = event["type"].split(".")[0]
        if kind == "customer" and event["type"].startswith("customer.subscription"):
            kind = "subscription"
        name = {"checkout": "checkout.session", "charge": "charge"}.get(kind, kind)
        if event["type"].startswith("charge.dispute"):
            name = "dispute"
        assert set(event["data"]["object"]) == set(resources[name]), event["type"]


def test_every_situation_appears() -> None:
    _, o = small()
    customers = [c for c in o["customers"].values() if not c.get("deleted")]
    assert any(c.get("deleted") for c in o["customers"].values())
    assert any(c["email"] is None for c in customers)
    normalised = Counter(c["email"].strip().lower() for c in customers if c["email"])
    assert any(n > 1 for n in normalised.values())
    assert any(c["email"] and c["email"] != c["email"].strip() for c in customers)
    assert {c["currency"] for c in customers} >= {"usd", "eur", "gbp", "jpy", "kwd", None}
    assert any(c["delinquent"] for c in customers)
    prices = o["prices"].values()
    recurring = [p["recurring"] for p in prices if p["recurring"]]
    assert {r["interval"] for r in recurring} == {"week", "month", "year"}
    assert any(r["interval_count"] > 1 for r in recurring)
    assert any(p["type"] == "one_time" for p in prices)
    assert any(p["nickname"] for p in prices)
    assert any(p["lookup_key"] for p in prices)
    subs = o["subscriptions"].values()
    assert {s["status"] for s in subs} >= {"trialing", "active", "past_due", "canceled"}
    assert any(s["cancel_at_period_end"] for s in subs)
    assert any(s["cancellation_details"]["reason"] == "payment_failed" for s in subs)
    assert any(s["items"]["data"][0]["quantity"] > 1 for s in subs)
    invoices = o["invoices"].values()
    assert {i["status"] for i in invoices} >= {"paid", "open"}
    assert any(i["attempt_count"] > 1 for i in invoices)
    charges = o["charges"].values()
    assert {c["failure_code"] for c in charges} >= {
        "card_declined",
        "insufficient_funds",
        "expired_card",
        "incorrect_cvc",
        "processing_error",
        None,
    }
    assert any(not c["captured"] and c["status"] == "succeeded" for c in charges)
    assert any(c["captured"] and 0 < c["amount_captured"] < c["amount"] for c in charges)
    assert any(c["customer"] is None and c["billing_details"]["email"] for c in charges)
    assert any(c["refunded"] for c in charges)
    assert any(0 < c["amount_refunded"] < c["amount_captured"] for c in charges)
    assert {d["status"] for d in o["disputes"].values()} >= {
        "needs_response",
        "under_review",
        "won",
        "lost",
    }
    sessions = o["checkout_sessions"].values()
    assert {s["mode"] for s in sessions} == {"payment", "subscription"}
    assert any(s["customer"] is None and s["customer_details"]["email"] for s in sessions)
    types = {e["type"] for e in o["events"].values()}
    assert types >= {
        "customer.created",
        "customer.deleted",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.paid",
        "invoice.payment_failed",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
        "checkout.session.completed",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
    }


def test_references_and_amounts_hold_together() -> None:
    _, o = small()
    for charge in o["charges"].values():
        assert charge["customer"] is None or charge["customer"] in o["customers"]
        assert charge["payment_intent"] in o["payment_intents"]
        assert 0 <= charge["amount_refunded"] <= charge["amount_captured"] <= charge["amount"]
        assert charge["refunded"] == (
            charge["amount_refunded"] > 0 and charge["amount_refunded"] == charge["amount_captured"]
        )
        assert charge["livemode"] is False
    for refund in o["refunds"].values():
        assert refund["charge"] in o["charges"]
    for dispute in o["disputes"].values():
        assert o["charges"][dispute["charge"]]["disputed"]
    for sub in o["subscriptions"].values():
        assert sub["customer"] in o["customers"]
        for item in sub["items"]["data"]:
            assert item["price"]["id"] in o["prices"]
    for invoice in o["invoices"].values():
        assert invoice["parent"]["subscription_details"]["subscription"] in o["subscriptions"]
        assert invoice["lines"]["data"]
        assert invoice["number"]
        assert invoice["hosted_invoice_url"]
    for event in o["events"].values():
        obj = event["data"]["object"]
        resource = {
            "customer": "customers",
            "subscription": "subscriptions",
            "invoice": "invoices",
            "charge": "charges",
            "dispute": "disputes",
            "checkout.session": "checkout_sessions",
            "payment_intent": "payment_intents",
        }[obj["object"]]
        assert obj["id"] in o[resource]
        assert event["api_version"] == "2026-10-28.endive"
    ids = [obj["id"] for objs in o.values() for obj in objs.values()]
    assert len(ids) == len(set(ids))


def test_times_and_event_window_after_generate() -> None:
    _, o = small()
    for resource, objs in o.items():
        for obj in objs.values():
            assert obj.get("created", 0) <= NOW, resource
    created = sorted(c["created"] for c in o["customers"].values() if "created" in c)
    assert created[0] < NOW - 300 * DAY
    events = o["events"].values()
    assert all(NOW - 30 * DAY < e["created"] <= NOW for e in events)
    updated = [e for e in events if e["type"].endswith(".updated")]
    assert updated
    assert all(e["data"]["previous_attributes"] for e in updated)


def test_advance_adds_activity_inside_the_span() -> None:
    sink = ListSink()
    account = SyntheticAccount(sink, seed=11, customers=300, months=12, now=NOW)
    account.generate()
    before = len(sink.puts)
    assert account.advance(DAY) == NOW + DAY == account.now
    new = [(r, orjson.loads(raw)) for r, raw in sink.puts[before:]]
    events = [obj for r, obj in new if r == "events"]
    assert events
    assert any(r == "charges" for r, _ in new)
    assert all(NOW < e["created"] <= NOW + DAY for e in events)
    for resource, obj in new:
        assert obj.get("created", 0) <= NOW + DAY, resource
    updates = [e for e in events if e["type"].endswith(".updated")]
    assert updates
    assert all(e["data"]["previous_attributes"] for e in updates)
    later = len(sink.puts)
    account.advance(7 * DAY)
    assert len(sink.puts) > later
