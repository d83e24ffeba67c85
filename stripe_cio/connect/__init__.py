"""Stripe Connect: the connected accounts of a platform, each synced in its own run."""

from .accounts import (
    ALL,
    AccountSelection,
    ConnectedAccount,
    account_of,
    discover_accounts,
    parse_accounts,
    platform_accounts,
)

__all__ = [
    "ALL",
    "AccountSelection",
    "ConnectedAccount",
    "account_of",
    "discover_accounts",
    "parse_accounts",
    "platform_accounts",
]
