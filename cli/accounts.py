"""`stripe-cio accounts`: the connected accounts of a Stripe Connect platform (docs/connect.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from stripe_cio.connect import ALL, parse_accounts, platform_accounts

from .jobs import STRIPE_BLOCK, connections

console = Console()


def accounts_command(
    accounts: str = typer.Option(
        ALL,
        "--accounts",
        help="`all` (every account connected now) or connected account ids, comma-separated.",
    ),
    stripe_block: str | None = STRIPE_BLOCK,
) -> None:
    """List the connected accounts of a Stripe Connect platform, and which a run would sync.

    Uses the platform's own key (STRIPE_API_KEY, without STRIPE_ACCOUNT). An account Stripe has
    restricted, or that the platform can no longer reach, is listed with the reason it is
    skipped.

    Example: stripe-cio accounts --accounts acct_1Abc,acct_2Def
    """
    try:
        selection = parse_accounts(accounts)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--accounts") from None
    settings = connections(stripe=True, customerio=False, stripe_block=stripe_block).stripe
    assert settings is not None
    found = asyncio.run(platform_accounts(settings, selection))
    table = Table("account", "name", "created", "synced")
    for account in found:
        table.add_row(
            account.id,
            account.name or "",
            datetime.fromtimestamp(account.created, UTC).date().isoformat()
            if account.created
            else "",
            "yes" if account.usable else f"skipped: {account.problem}",
        )
    console.print(table)
    usable = sum(account.usable for account in found)
    console.print(f"{usable} of {len(found)} connected accounts would be synced")
