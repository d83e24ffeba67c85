"""The Stripe sandbox as a Connect platform (`--accounts N`), over HTTP on loopback, checked with
plain httpx and, independently, the official `stripe` SDK acting through `stripe_account`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from stripe_cio.sandbox import SandboxProcess
from stripe_cio.sandbox.stripe_server.accounts import ConnectPlatform

NOW = 1_767_225_600
KEY = "sk_test_sandbox0000000000000001"
COMMON = ("--customers", "40", "--months", "3", "--seed", "11", "--now", str(NOW), "--rps", "0")
CONNECT = (*COMMON, "--accounts", "7", "--restricted-accounts", "1", "--deauthorized-accounts", "1")


@pytest.fixture(scope="module")
def platform() -> Iterator[SandboxProcess]:
    """A platform with 7 connected accounts: 1 restricted and 1 deauthorized from the start."""
    with SandboxProcess("stripe", *CONNECT) as sandbox:
        yield sandbox


@pytest.fixture
def http(platform: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.url, auth=(KEY, ""), timeout=30) as client:
        yield client


@pytest.fixture
def client(platform: SandboxProcess) -> stripe.StripeClient:
    return sdk(platform)


def sdk(sandbox: SandboxProcess) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)


def on(account: str) -> Any:
    """Per-request options of the SDK acting as a connected account."""
    return {"stripe_account": account}


def walk(http: httpx.Client, path: str, account: str | None = None) -> list[dict[str, Any]]:
    """Every object of a list, page by page with `starting_after`."""
    headers = {"Stripe-Account": account} if account else {}
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = http.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["data"]
        if not page["has_more"]:
            return items
        params["starting_after"] = page["data"][-1]["id"]


def states(http: httpx.Client) -> dict[str, str]:
    """Every connected account's state, from the control route."""
    return {a["id"]: a["state"] for a in http.get("/_sandbox/accounts").json()["accounts"]}


def set_state(http: httpx.Client, account: str, state: str) -> None:
    http.post(f"/_sandbox/accounts/{account}", json={"state": state}).raise_for_status()


def error_code(error: stripe.StripeError) -> str:
    """The `code` of an SDK error's body (the SDK keeps it for some errors only)."""
    body = error.json_body
    assert isinstance(body, dict)
    return str(body["error"]["code"])


def requirements(account: stripe.Account) -> Any:
    assert account.requirements is not None
    return account.requirements


def active(http: httpx.Client) -> list[str]:
    return sorted(a for a, state in states(http).items() if state == "active")


def test_accounts_are_listed_completely_newest_first(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    known = states(http)
    assert len(known) == 7
    assert Counter(known.values()) == {"active": 5, "restricted": 1, "deauthorized": 1}
    by_sdk = [a.id for a in client.v1.accounts.list({"limit": 2}).auto_paging_iter()]
    listed = walk(http, "/v1/accounts")
    assert [a["id"] for a in listed] == by_sdk
    assert set(by_sdk) == {a for a, state in known.items() if state != "deauthorized"}
    assert [a["created"] for a in listed] == sorted((a["created"] for a in listed), reverse=True)
    for account in listed:
        assert account["object"] == "account"
        assert account["id"].startswith("acct_")
        assert account["type"] in ("standard", "express", "custom")
        assert account["created"] < NOW
        assert account["email"]
        assert account["business_profile"]["name"]
        assert account["details_submitted"] is True
        assert isinstance(account["metadata"], dict)
        assert http.get(f"/v1/accounts/{account['id']}").json() == account
    # Backwards from the oldest, as the SDKs page with `ending_before`: the same accounts.
    back = client.v1.accounts.list({"limit": 2, "ending_before": by_sdk[-1]})
    assert [a.id for a in back.auto_paging_iter()] == by_sdk[-2::-1]
    page = http.get("/v1/accounts", params={"limit": 2}).json()
    assert (page["object"], page["url"], page["has_more"]) == ("list", "/v1/accounts", True)


def test_each_account_has_its_own_data(http: httpx.Client, client: stripe.StripeClient) -> None:
    first, second = active(http)[:2]
    customers = {
        account: [
            c.id for c in client.v1.customers.list({"limit": 7}, on(account)).auto_paging_iter()
        ]
        for account in (first, second)
    }
    assert customers[first]
    assert customers[second]
    assert not set(customers[first]) & set(customers[second])
    for account in (first, second):
        assert [c["id"] for c in walk(http, "/v1/customers", account)] == customers[account]
        charge = walk(http, "/v1/charges", account)[0]
        found = client.v1.charges.retrieve(charge["id"], options=on(account))
        assert found.to_dict() == charge
    # An object of one account is unknown to another, and to the platform.
    other = http.get(f"/v1/customers/{customers[first][0]}", headers={"Stripe-Account": second})
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "resource_missing"
    assert http.get(f"/v1/customers/{customers[first][0]}").status_code == 404


def test_accounts_are_the_same_after_a_restart(
    http: httpx.Client, platform: SandboxProcess
) -> None:
    first, second = active(http)[:2]
    before = {
        (account, path): walk(http, path, account)
        for account in (first, second)
        for path in ("/v1/customers", "/v1/charges", "/v1/events")
    }
    listed = walk(http, "/v1/accounts")
    with (
        SandboxProcess("stripe", *CONNECT) as again,
        httpx.Client(base_url=again.url, auth=(KEY, ""), timeout=30) as restarted,
    ):
        assert walk(restarted, "/v1/accounts") == listed
        for (account, path), items in before.items():
            assert walk(restarted, path, account) == items
    sizes = {account: len(before[(account, "/v1/customers")]) for account in (first, second)}
    assert before[(first, "/v1/charges")] != before[(second, "/v1/charges")], sizes


def test_the_platforms_own_data_is_unchanged(http: httpx.Client) -> None:
    with (
        SandboxProcess("stripe", *COMMON) as plain,
        httpx.Client(base_url=plain.url, auth=(KEY, ""), timeout=30) as alone,
    ):
        for path in ("/v1/customers", "/v1/charges", "/v1/subscriptions", "/v1/events"):
            assert walk(http, path) == walk(alone, path)
        # Without --accounts nothing changes: the header is ignored, /v1/accounts is unknown.
        customers = walk(alone, "/v1/customers")
        ignored = alone.get(
            "/v1/customers", params={"limit": 100}, headers={"Stripe-Account": "acct_1X"}
        )
        assert ignored.status_code == 200
        assert ignored.json()["data"] == customers[:100]
        assert alone.get("/v1/accounts").status_code == 404
    events = walk(http, "/v1/events")
    assert events
    assert all("account" not in event for event in events)


def assert_account_invalid(response: httpx.Response, account: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "account_invalid")
    assert f"does not have access to account '{account}'" in error["message"]
    assert KEY not in error["message"]  # the key is masked, as always


@pytest.mark.parametrize(
    "account", ["acct_1NotConnected0000", "cus_3gmqEfN6AR8l9k", "acct_", "not an account", ""]
)
def test_unknown_and_malformed_accounts_are_refused(
    http: httpx.Client, client: stripe.StripeClient, account: str
) -> None:
    response = http.get("/v1/customers", headers={"Stripe-Account": account})
    assert_account_invalid(response, account)
    if account:  # the SDK sends no header for an empty account
        with pytest.raises(stripe.PermissionError) as raised:
            client.v1.customers.list(options=on(account))
        assert raised.value.http_status == 403
        assert error_code(raised.value) == "account_invalid"


def test_deauthorized_accounts_are_refused_and_unlisted(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    revoked = next(a for a, state in states(http).items() if state == "deauthorized")
    assert_account_invalid(http.get("/v1/charges", headers={"Stripe-Account": revoked}), revoked)
    assert_account_invalid(http.get(f"/v1/accounts/{revoked}"), revoked)
    account = active(http)[0]
    assert http.get("/v1/customers", headers={"Stripe-Account": account}).status_code == 200
    set_state(http, account, "deauthorized")
    try:
        assert_account_invalid(http.get("/v1/events", headers={"Stripe-Account": account}), account)
        with pytest.raises(stripe.PermissionError) as raised:
            client.v1.customers.list(options=on(account))
        assert error_code(raised.value) == "account_invalid"
        assert account not in [a.id for a in client.v1.accounts.list().auto_paging_iter()]
        cursor = http.get("/v1/accounts", params={"starting_after": account})
        assert cursor.status_code == 404
        assert cursor.json()["error"]["param"] == "starting_after"
    finally:
        set_state(http, account, "active")
    assert account in [a.id for a in client.v1.accounts.list().auto_paging_iter()]
    assert http.get("/v1/customers", headers={"Stripe-Account": account}).status_code == 200


def test_restricted_accounts_are_flagged_and_still_readable(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    account = active(http)[0]
    set_state(http, account, "restricted")
    try:
        flagged = {a.id: a for a in client.v1.accounts.list().auto_paging_iter()}
        restricted = [a for a in flagged.values() if requirements(a).disabled_reason]
        assert {a.id for a in restricted} == {
            a for a, state in states(http).items() if state == "restricted"
        }
        assert len(restricted) == 2
        assert account in {a.id for a in restricted}
        for found in restricted:
            assert found.charges_enabled is False
            assert found.payouts_enabled is False
            assert requirements(found).disabled_reason == "requirements.past_due"
            assert requirements(found).past_due
            customers = client.v1.customers.list({"limit": 3}, on(found.id))
            assert customers.data
        for other in flagged.values():
            if other not in restricted:
                assert other.charges_enabled is True
                assert requirements(other).disabled_reason is None
    finally:
        set_state(http, account, "active")
    assert http.get(f"/v1/accounts/{account}").json()["charges_enabled"] is True


def test_events_of_a_connected_account_carry_its_id(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    first, second = active(http)[:2]
    events = list(client.v1.events.list({"limit": 50}, on(first)).auto_paging_iter())
    assert events
    assert {event.account for event in events} == {first}
    one = events[0]
    assert client.v1.events.retrieve(one.id, options=on(first)).account == first
    raw = http.get(f"/v1/events/{one.id}", headers={"Stripe-Account": first}).json()
    assert raw["account"] == first
    assert raw["id"] == one.id
    elsewhere = http.get(f"/v1/events/{one.id}", headers={"Stripe-Account": second})
    assert elsewhere.status_code == 404
    # A connected account is no platform: it cannot list accounts.
    assert http.get("/v1/accounts", headers={"Stripe-Account": first}).status_code == 403


def test_each_connected_account_is_rate_limited_on_its_own(
    http: httpx.Client, client: stripe.StripeClient
) -> None:
    first, second, third = active(http)[:3]
    for account in (first, second, third):  # built before the limit: nothing waits on them
        assert http.get("/v1/customers", headers={"Stripe-Account": account}).status_code == 200

    def statuses(account: str | None, count: int) -> Counter[int]:
        headers = {"Stripe-Account": account} if account else {}
        return Counter(http.get("/v1/charges", headers=headers).status_code for _ in range(count))

    # One request per bucket until well after this test: counts, never durations.
    http.post("/_sandbox/config", json={"rps": 0.001}).raise_for_status()
    try:
        assert statuses(first, 6) == {200: 1, 429: 5}
        # The first account's exhausted bucket is neither the second's nor the platform's.
        assert statuses(second, 3) == {200: 1, 429: 2}
        assert statuses(None, 3) == {200: 1, 429: 2}
        limited = http.get("/v1/charges", headers={"Stripe-Account": first}).json()["error"]
        assert limited["code"] == "rate_limit"
        assert client.v1.charges.list({"limit": 1}, on(third)).data
        with pytest.raises(stripe.RateLimitError):
            client.v1.charges.list({"limit": 1}, on(third))
        # A refused account is answered as such, whatever its neighbours' limits.
        invalid = http.get("/v1/charges", headers={"Stripe-Account": "acct_1Nobody"})
        assert invalid.status_code == 403
    finally:
        http.post("/_sandbox/config", json={"rps": None}).raise_for_status()


def account_data(http: httpx.Client, account: str) -> dict[str, list[dict[str, Any]]]:
    return {path: walk(http, path, account) for path in ("/v1/customers", "/v1/events")}


def test_the_clock_moves_every_account_even_those_built_later() -> None:
    flags = (*COMMON, "--accounts", "2")
    step = {"seconds": 5 * 86_400}
    with (
        SandboxProcess("stripe", *flags) as early,
        SandboxProcess("stripe", *flags) as late,
        httpx.Client(base_url=early.url, auth=(KEY, ""), timeout=30) as eager,
        httpx.Client(base_url=late.url, auth=(KEY, ""), timeout=30) as lazy,
    ):
        accounts = [a["id"] for a in walk(eager, "/v1/accounts")]
        for account in accounts:  # built before the advance, they generate it as it happens
            account_data(eager, account)
        eager.post("/_sandbox/advance", json=step).raise_for_status()
        lazy.post("/_sandbox/advance", json=step).raise_for_status()
        for account in accounts:  # built after it, they replay it: the same data
            moved = account_data(eager, account)
            assert account_data(lazy, account) == moved
            new = [e for e in moved["/v1/events"] if e["created"] > NOW]
            assert new, "five days of activity made no event"
            assert {e["account"] for e in new} == {account}
        assert eager.get("/_sandbox/stats").json()["connect"]["builds"] == 2


def test_a_dropped_account_comes_back_the_same() -> None:
    """In-process: with room for one account only, building another drops the first, and the
    first comes back identical, the clock steps since the start replayed."""
    connect = ConnectPlatform(
        seed=3, customers=30, months=2, now=NOW, count=2, resident_customer_months=1
    )
    first, second = connect.accounts
    connect.store(first)
    connect.advance(3 * 86_400)
    before = connect.store(first).page("events", low=(0, ""), high=(1 << 62, ""), limit=100)
    assert before[0]
    connect.store(second)
    assert first.store is None
    assert connect.stats()["resident"] == 1
    again = connect.store(first).page("events", low=(0, ""), high=(1 << 62, ""), limit=100)
    assert again == before
    assert connect.builds == 3
