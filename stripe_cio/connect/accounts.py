"""The connected accounts of a Stripe Connect platform that a run covers.

Stripe's facts this relies on:
- `GET /v1/accounts` lists the accounts connected to the platform, newest first, paginated like
  every list (https://docs.stripe.com/api/accounts/list); an account whose access was revoked
  is no longer connected and no longer listed.
- `GET /v1/accounts/{id}` retrieves one; for an account that is not (or no longer) connected
  to the platform Stripe answers with an error instead (https://docs.stripe.com/api/accounts/retrieve,
  https://docs.stripe.com/connect/authentication).
- `requirements.disabled_reason` is set when Stripe has disabled the account's charges or
  payouts until information is provided
  (https://docs.stripe.com/api/accounts/object#account_object-requirements-disabled_reason).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..exceptions import APIError, ConfigError, StripeUnavailableError
from ..extract.pages import PageSource, iter_pages
from ..settings import StripeSettings
from ..settings_base import ENV_NAMES
from ..stripe_api import StripeClient

ALL: Literal["all"] = "all"
AccountSelection = Literal["all"] | tuple[str, ...]
_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]+$")


def parse_accounts(value: str | Sequence[str]) -> AccountSelection:
    """`all`, or the connected account ids of a comma-separated text or a list, in order and
    once each; ValueError (one line) for anything else."""
    items = value.split(",") if isinstance(value, str) else list(value)
    ids = [str(item).strip() for item in items if str(item).strip()]
    if ids == [ALL]:
        return ALL
    if not ids:
        raise ValueError("no connected account given: `all`, or ids such as acct_1Abc,acct_2Def")
    bad = [item for item in ids if not _ACCOUNT_ID.match(item)]
    if bad:
        raise ValueError(
            f"{bad[0][:40]!r} is not a connected account id (acct_...); give `all`, or ids "
            "such as acct_1Abc,acct_2Def"
        )
    return tuple(dict.fromkeys(ids))


@dataclass(frozen=True)
class ConnectedAccount:
    """A connected account as the platform sees it, and why it is skipped (None: synced)."""

    id: str
    name: str | None = None
    created: int | None = None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        """Whether the run syncs it."""
        return self.problem is None


def account_of(account: Mapping[str, Any]) -> ConnectedAccount:
    """A ConnectedAccount from Stripe's Account object (ValueError without an account id)."""
    account_id = account.get("id")
    if not isinstance(account_id, str) or not _ACCOUNT_ID.match(account_id):
        raise ValueError(f"not an account object (id {str(account_id)[:40]!r})")
    profile = account.get("business_profile")
    name = profile.get("name") if isinstance(profile, Mapping) else None
    settings = account.get("settings")
    dashboard = settings.get("dashboard") if isinstance(settings, Mapping) else None
    if not name and isinstance(dashboard, Mapping):
        name = dashboard.get("display_name")
    requirements = account.get("requirements")
    disabled = requirements.get("disabled_reason") if isinstance(requirements, Mapping) else None
    created = account.get("created")
    return ConnectedAccount(
        id=account_id,
        name=str(name) if name else None,
        created=created if type(created) is int else None,
        problem=f"restricted by Stripe ({disabled})" if disabled else None,
    )


async def discover_accounts(
    client: PageSource, selection: AccountSelection
) -> list[ConnectedAccount]:
    """The connected accounts `selection` names, each usable or with its problem: `all` lists
    every account connected now (new ones included), newest first; a list retrieves each,
    and one Stripe refuses (not connected, access revoked) is reported, not fatal. Stripe being
    unavailable is: the run tries again later."""
    if selection == ALL:
        found = []
        async for page in iter_pages(client, "/v1/accounts"):
            for account in page:
                try:
                    found.append(account_of(account))
                except ValueError as exc:
                    found.append(ConnectedAccount(id="?", problem=f"unreadable: {exc}"))
        return found
    accounts = []
    for account_id in selection:
        try:
            accounts.append(account_of(await client.get(f"/v1/accounts/{account_id}")))
        except StripeUnavailableError:
            raise
        except APIError as exc:
            accounts.append(ConnectedAccount(id=account_id, problem=_refusal(exc)))
        except ValueError as exc:
            accounts.append(ConnectedAccount(id=account_id, problem=f"unreadable: {exc}"))
    return accounts


def _refusal(exc: APIError) -> str:
    """Why Stripe would not retrieve an account, in a few words."""
    answer = f"HTTP {exc.status_code}" + (f" {exc.code}" if exc.code else "")
    if exc.code == "account_invalid":
        return f"not reachable: not connected to the platform, or access revoked ({answer})"
    return f"not reachable: Stripe answered {answer}"


async def platform_accounts(
    settings: StripeSettings, selection: AccountSelection
) -> list[ConnectedAccount]:
    """`discover_accounts` with the platform's own key: a ConfigError when the settings name a
    connected account, since requests on its behalf cannot see the platform's accounts."""
    if settings.account:
        raise ConfigError(
            ENV_NAMES[("stripe", "account")],
            f"names one connected account ({settings.account})",
            "unset it (or the block's account) to reach the platform's own account, which "
            "lists its connected accounts",
        )
    async with StripeClient(settings) as client:
        return await discover_accounts(client, selection)
