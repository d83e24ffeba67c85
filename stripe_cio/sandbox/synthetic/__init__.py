"""Synthetic Stripe account for the sandbox: realistic, deterministic, and fast to generate.

`SyntheticAccount(sink, seed=..., customers=..., months=..., now=...)` writes customers,
products, prices, subscriptions, invoices, payment intents, charges, refunds, disputes, checkout
sessions and the events Stripe would have sent into an `AccountSink`, in the shapes of Stripe's
API version 2026-10-28.endive. It never reads the clock or the global random generator.
"""

from ._account import SyntheticAccount
from ._world import AccountSink

RESOURCES = (
    "customers",
    "charges",
    "payment_intents",
    "invoices",
    "subscriptions",
    "refunds",
    "disputes",
    "checkout_sessions",
    "events",
    "prices",
    "products",
)

__all__ = ["RESOURCES", "AccountSink", "SyntheticAccount"]
