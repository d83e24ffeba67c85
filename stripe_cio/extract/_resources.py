"""The Stripe resources a backfill reads: list path, fixed list parameters, permission name,
and the list filter that narrows a list to one customer's (or one charge's) objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["BACKFILL_RESOURCES", "RESOURCE_BY_NAME", "BackfillResource"]


@dataclass(frozen=True)
class BackfillResource:
    """One listable resource, named as in the ledger (LEDGER_RESOURCES)."""

    name: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    # What a restricted key must be allowed to read, as the Stripe Dashboard names it.
    # Source: https://docs.stripe.com/keys#limit-access (restricted keys, per-resource Read)
    permission: str = ""
    # The list parameter selecting the objects of one owner, "customer" or "charge" (None: the
    # resource has no such filter); used to read one customer's history. Sources: `customer`
    # on https://docs.stripe.com/api/charges/list, /api/payment_intents/list,
    # /api/invoices/list, /api/subscriptions/list, /api/checkout/sessions/list; `charge` on
    # https://docs.stripe.com/api/refunds/list and /api/disputes/list.
    owner_filter: str | None = None


BACKFILL_RESOURCES: tuple[BackfillResource, ...] = (
    BackfillResource("customers", "/v1/customers", permission="Customers"),
    BackfillResource("charges", "/v1/charges", permission="Charges", owner_filter="customer"),
    BackfillResource(
        "payment_intents",
        "/v1/payment_intents",
        permission="PaymentIntents",
        owner_filter="customer",
    ),
    BackfillResource("invoices", "/v1/invoices", permission="Invoices", owner_filter="customer"),
    # Without `status`, Stripe's subscription list leaves out canceled ones; `all` includes them.
    # Source: https://docs.stripe.com/api/subscriptions/list (parameter `status`)
    BackfillResource(
        "subscriptions",
        "/v1/subscriptions",
        {"status": "all"},
        permission="Subscriptions",
        owner_filter="customer",
    ),
    BackfillResource("refunds", "/v1/refunds", permission="Refunds", owner_filter="charge"),
    BackfillResource("disputes", "/v1/disputes", permission="Disputes", owner_filter="charge"),
    BackfillResource(
        "checkout_sessions",
        "/v1/checkout/sessions",
        permission="Checkout Sessions",
        owner_filter="customer",
    ),
    BackfillResource("prices", "/v1/prices", permission="Prices"),
    BackfillResource("products", "/v1/products", permission="Products"),
)
RESOURCE_BY_NAME: Mapping[str, BackfillResource] = {r.name: r for r in BACKFILL_RESOURCES}
