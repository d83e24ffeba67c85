"""Synthetic Stripe account for the sandbox: realistic, deterministic, and fast to generate.

`SyntheticAccount(sink, seed=..., customers=..., months=..., now=...)` writes customers,
products, prices, subscriptions, invoices, payment intents, charges, refunds, disputes, checkout
sessions and the events Stripe would have sent into an `AccountSink`, in the shapes of Stripe's
API version 2026-10-28.endive. It never reads the clock or the global random generator.
"""

from ...ledger import STRIPE_RESOURCES
from .account import SyntheticAccount
from .world import AccountSink

# What the account holds: the resources the sandbox serves, from the resource registry.
RESOURCES = tuple(entry.name for entry in STRIPE_RESOURCES if entry.sandbox_filters is not None)

__all__ = ["RESOURCES", "AccountSink", "SyntheticAccount"]
