"""Which connected accounts a platform's run covers: the selection, Stripe's Account objects,
and discovery with a fake API (pure logic; tests/sandbox/test_connect_platform.py has the real
sandbox)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stripe_cio.connect import ALL, ConnectedAccount, account_of, discover_accounts
from stripe_cio.connect import parse_accounts as parse
from stripe_cio.exceptions import StripeRequestError, StripeUnavailableError


def test_the_selection_is_all_or_distinct_ids_in_order() -> None:
    assert parse("all") == ALL
    assert parse(" all ") == ALL
    assert parse("acct_2,acct_1, acct_2,") == ("acct_2", "acct_1")
    assert parse(["acct_9"]) == ("acct_9",)
    for bad in ("", " , ", "cus_1", "acct_1,all", "acct_1;acct_2"):
        with pytest.raises(ValueError, match="acct_"):
            parse(bad)


def test_an_account_object_gives_its_name_and_whether_stripe_restricted_it() -> None:
    active = {
        "id": "acct_1",
        "object": "account",
        "created": 1_700_000_000,
        "business_profile": {"name": "Brand One"},
        "requirements": {"disabled_reason": None},
    }
    assert account_of(active) == ConnectedAccount("acct_1", "Brand One", 1_700_000_000, None)
    restricted = {
        "id": "acct_2",
        "settings": {"dashboard": {"display_name": "Two"}},
        "requirements": {"disabled_reason": "requirements.past_due"},
    }
    found = account_of(restricted)
    assert found.name == "Two"
    assert not found.usable
    assert found.problem == "restricted by Stripe (requirements.past_due)"
    with pytest.raises(ValueError, match="not an account"):
        account_of({"id": "cus_1"})


class FakePlatform:
    """GET /v1/accounts in pages of two, and GET /v1/accounts/{id}."""

    def __init__(
        self, accounts: list[dict[str, Any]], refused: frozenset[str] = frozenset()
    ) -> None:
        self.accounts = accounts
        self.refused = refused
        self.unavailable = False
        self.paths: list[str] = []

    async def get(self, path: str, params: Any = None) -> dict[str, Any]:
        self.paths.append(path)
        if self.unavailable:
            raise StripeUnavailableError("Stripe answered with HTTP 503", status_code=503)
        if path == "/v1/accounts":
            after = (params or {}).get("starting_after")
            ids = [a["id"] for a in self.accounts]
            start = ids.index(after) + 1 if after else 0
            page = self.accounts[start : start + 2]
            return {"data": page, "has_more": start + 2 < len(self.accounts)}
        account_id = path.rsplit("/", 1)[1]
        if account_id in self.refused:
            raise StripeRequestError("Stripe refused: no such account", status_code=403)
        return next(a for a in self.accounts if a["id"] == account_id)


ACCOUNTS = [
    {"id": f"acct_{n}", "business_profile": {"name": f"Brand {n}"}, "requirements": {}}
    for n in range(5)
]


def test_all_pages_through_every_connected_account() -> None:
    platform = FakePlatform(ACCOUNTS)
    found = asyncio.run(discover_accounts(platform, ALL))
    assert [a.id for a in found] == [f"acct_{n}" for n in range(5)]
    assert all(a.usable for a in found)
    assert platform.paths == ["/v1/accounts"] * 3


def test_a_listed_account_stripe_refuses_is_reported_and_the_others_go_on() -> None:
    platform = FakePlatform(ACCOUNTS, refused=frozenset({"acct_1"}))
    found = asyncio.run(discover_accounts(platform, ("acct_3", "acct_1", "acct_0")))
    assert [a.id for a in found] == ["acct_3", "acct_1", "acct_0"]
    assert [a.usable for a in found] == [True, False, True]
    assert found[1].problem is not None
    assert "not reachable" in found[1].problem


def test_stripe_unavailable_fails_the_discovery_to_be_tried_again() -> None:
    platform = FakePlatform(ACCOUNTS)
    platform.unavailable = True
    with pytest.raises(StripeUnavailableError):
        asyncio.run(discover_accounts(platform, ("acct_1",)))
    with pytest.raises(StripeUnavailableError):
        asyncio.run(discover_accounts(platform, ALL))
