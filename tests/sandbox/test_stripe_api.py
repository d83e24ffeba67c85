"""The Stripe sandbox over HTTP, checked with the official `stripe` SDK and plain httpx."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from stripe_cio.sandbox import SandboxProcess

NOW = 1_767_225_600
DAY = 86_400
KEY = "sk_test_sandbox0000000000000001"
RESOURCES = {  # fixtures key -> (id prefix, object)
    "customers": ("cus", "customer"),
    "charges": ("ch", "charge"),
    "payment_intents": ("pi", "payment_intent"),
    "invoices": ("in", "invoice"),
    "subscriptions": ("sub", "subscription"),
    "refunds": ("re", "refund"),
    "disputes": ("dp", "dispute"),
    "checkout_sessions": ("cs", "checkout.session"),
    "events": ("evt", "event"),
    "prices": ("price", "price"),
    "products": ("prod", "product"),
}
STATUSES = ["active", "canceled", "trialing", "past_due", "incomplete_expired", "unpaid"]
TYPES = ["charge.succeeded", "charge.failed", "invoice.paid", "customer.created"]


def make_account() -> dict[str, list[dict[str, Any]]]:
    rnd = random.Random(3)
    customers = [f"cus_{i:04d}" for i in range(30)]
    account: dict[str, list[dict[str, Any]]] = {}
    for name, (prefix, obj) in RESOURCES.items():
        count = {"charges": 260, "events": 240, "customers": 30}.get(name, 45)
        items = []
        for i in range(count):
            item: dict[str, Any] = {
                "id": customers[i]
                if name == "customers"
                else f"{prefix}_{rnd.getrandbits(40):010x}",
                "object": obj,
                # A few seconds hold several objects each, to exercise the id tie-break.
                "created": NOW - (rnd.randint(0, 50) * DAY if i % 5 else rnd.randint(0, 3)),
                "livemode": False,
                "metadata": {"n": str(i), "note": "ünïcode ✓"},
            }
            if name in ("charges", "payment_intents", "invoices", "subscriptions"):
                item["customer"] = rnd.choice(customers)
            if name == "subscriptions":
                item["status"] = STATUSES[i % len(STATUSES)]
            if name == "events":
                item["type"] = rnd.choice(TYPES)
                item["data"] = {"object": {"id": "ch_x"}}
            items.append(item)
        account[name] = items
    account["customers"].append({"id": "cus_gone", "object": "customer", "deleted": True})
    return account


ACCOUNT = make_account()


def newest_first(items: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in sorted(items, key=lambda o: (o["created"], o["id"]), reverse=True)]


def listed(name: str) -> list[dict[str, Any]]:
    """What a list without filters shows, per Stripe's rules."""
    items = [o for o in ACCOUNT[name] if not o.get("deleted")]
    if name == "subscriptions":
        items = [o for o in items if o["status"] not in ("canceled", "incomplete_expired")]
    if name == "events":
        items = [o for o in items if o["created"] >= NOW - 30 * DAY]
    return items


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("stripe") / "account.json"
    path.write_text(json.dumps({**ACCOUNT, "comment": "ignored"}))
    args = ("--fixtures", str(path), "--now", str(NOW), "--rps", "100000")
    with SandboxProcess("stripe", *args) as process:
        yield process


@pytest.fixture
def client(sandbox: SandboxProcess) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)


def service(client: stripe.StripeClient, name: str) -> Any:
    if name == "checkout_sessions":
        return client.v1.checkout.sessions
    return getattr(client.v1, name)


def configure(sandbox: SandboxProcess, **values: Any) -> None:
    response = httpx.post(f"{sandbox.url}/_sandbox/config", json=values)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", list(RESOURCES))
def test_sdk_pages_through_every_resource(client: stripe.StripeClient, name: str) -> None:
    pages = service(client, name).list({"limit": 7}).auto_paging_iter()
    assert [o.id for o in pages] == newest_first(listed(name))


@pytest.mark.parametrize("name", ["charges", "events", "subscriptions"])
def test_sdk_pages_with_created_filters(client: stripe.StripeClient, name: str) -> None:
    gte, lt = NOW - 20 * DAY, NOW - 2
    params = {"limit": 5, "created": {"gte": gte, "lt": lt}}
    got = [o.id for o in service(client, name).list(params).auto_paging_iter()]
    assert got == newest_first([o for o in listed(name) if gte <= o["created"] < lt])


def test_sdk_pages_backwards_with_ending_before(client: stripe.StripeClient) -> None:
    order = newest_first(listed("charges"))
    pages = client.v1.charges.list({"limit": 9, "ending_before": order[100]})
    assert list(reversed([o.id for o in pages.auto_paging_iter()])) == order[:100]


def test_served_objects_are_the_fixtures_content(client: stripe.StripeClient) -> None:
    charge = ACCOUNT["charges"][17]
    assert client.v1.charges.retrieve(charge["id"]).to_dict() == charge
    assert client.v1.customers.retrieve("cus_gone").to_dict()["deleted"] is True


def test_sdk_raises_authentication_error_for_a_bad_key(sandbox: SandboxProcess) -> None:
    bad = stripe.StripeClient(
        "sk_live_notatestkey1234", base_addresses={"api": sandbox.url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError) as caught:
        bad.v1.charges.list()
    assert "sk_live_" + "*" * 11 + "1234" in str(caught.value)
    assert "notatestkey" not in str(caught.value)


def test_sdk_raises_rate_limit_error(sandbox: SandboxProcess, client: stripe.StripeClient) -> None:
    configure(sandbox, rps=1, burst=1)
    try:
        client.v1.charges.list({"limit": 1})  # takes the only token
        with pytest.raises(stripe.RateLimitError):
            client.v1.charges.list({"limit": 1})
    finally:
        configure(sandbox, rps=100000, burst=None)


def test_fail_rate_answers_500_marked_retryable(sandbox: SandboxProcess) -> None:
    configure(sandbox, fail_rate=1)
    try:
        response = httpx.get(f"{sandbox.url}/v1/charges", auth=(KEY, ""))
    finally:
        configure(sandbox, fail_rate=0)
    assert response.status_code == 500
    assert response.headers["stripe-should-retry"] == "true"
    assert response.json()["error"]["type"] == "api_error"


def test_drop_rate_breaks_the_connection(sandbox: SandboxProcess) -> None:
    configure(sandbox, drop_rate=1)
    try:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{sandbox.url}/v1/charges", headers={"Authorization": f"Bearer {KEY}"})
    finally:
        configure(sandbox, drop_rate=0)


def get(sandbox: SandboxProcess, path: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{sandbox.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {KEY}", "Stripe-Version": "2025-03-31.basil"},
    )


def test_headers_and_list_envelope(sandbox: SandboxProcess) -> None:
    response = get(sandbox, "/v1/checkout/sessions", limit=2)
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["stripe-version"] == "2025-03-31.basil"
    body = response.json()
    assert list(body) == ["object", "data", "has_more", "url"]
    assert (body["object"], body["has_more"], body["url"]) == (
        "list",
        True,
        "/v1/checkout/sessions",
    )


@pytest.mark.parametrize(
    ("path", "params", "status", "param"),
    [
        ("/v1/charges", {"limit": 101}, 400, "limit"),
        ("/v1/charges", {"created": "soon"}, 400, "created"),
        ("/v1/charges", {"foo": "1"}, 400, "foo"),
        ("/v1/refunds", {"customer": "cus_0001"}, 400, "customer"),
        ("/v1/subscriptions", {"status": "sleeping"}, 400, "status"),
        ("/v1/events", {"type": "charge.*", "types[]": "invoice.paid"}, 400, "types"),
        ("/v1/events", {"types[]": [f"t{i}" for i in range(21)]}, 400, "types"),
        ("/v1/charges", {"starting_after": "ch_missing"}, 404, "starting_after"),
        ("/v1/invoices/in_missing", {}, 404, "id"),
    ],
)
def test_errors_name_the_param(
    sandbox: SandboxProcess, path: str, params: dict[str, Any], status: int, param: str
) -> None:
    response = get(sandbox, path, **params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert error["code"] == ("resource_missing" if status == 404 else None)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer pk_test_abcdefgh12345678"}, {"Authorization": "Basic !!"}],
)
def test_unauthenticated_requests_get_401(sandbox: SandboxProcess, headers: dict[str, str]) -> None:
    response = httpx.get(f"{sandbox.url}/v1/customers", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "api key" in error["message"].lower()
    assert "abcdefgh" not in error["message"]


def test_subscription_status_filter(sandbox: SandboxProcess) -> None:
    subs = ACCOUNT["subscriptions"]
    for status, want in [
        ("all", subs),
        ("canceled", [s for s in subs if s["status"] == "canceled"]),
        ("past_due", [s for s in subs if s["status"] == "past_due"]),
    ]:
        body = get(sandbox, "/v1/subscriptions", status=status, limit=100).json()
        assert [s["id"] for s in body["data"]] == newest_first(want)


def test_event_types_window_and_retrieve(sandbox: SandboxProcess) -> None:
    recent = listed("events")
    body = get(sandbox, "/v1/events", type="charge.*", limit=100).json()
    assert [e["id"] for e in body["data"]] == newest_first(
        [e for e in recent if e["type"].startswith("charge.")]
    )
    body = get(sandbox, "/v1/events", **{"types[]": ["invoice.paid"], "limit": 100}).json()
    assert {e["type"] for e in body["data"]} == {"invoice.paid"}
    old = next(e for e in ACCOUNT["events"] if e["created"] < NOW - 30 * DAY)
    assert get(sandbox, f"/v1/events/{old['id']}").status_code == 404
    assert get(sandbox, f"/v1/events/{recent[0]['id']}").status_code == 200


def test_control_endpoints(sandbox: SandboxProcess) -> None:
    assert httpx.get(f"{sandbox.url}/_sandbox/clock").json() == {"now": NOW}
    advance = httpx.post(f"{sandbox.url}/_sandbox/advance", json={"seconds": 60})
    assert advance.status_code == 409  # a fixtures account has no generator
    assert httpx.post(f"{sandbox.url}/_sandbox/config", json={"nope": 1}).status_code == 400
    stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()
    assert stats["objects"]["customers"] == 31
    assert stats["requests"]["200"] > 0


def test_bad_fixtures_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"charges": [{"id": "ch_1", "created": "yesterday"}]}))
    command = [
        *(sys.executable, "-m", "cli", "sandbox", "stripe"),
        *("--port", "0", "--fixtures", str(path)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "charges[0]" in lines[0]
    assert "created" in lines[0]
