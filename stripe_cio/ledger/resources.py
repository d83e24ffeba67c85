"""The one registry of Stripe resources: one entry per resource, read by every part that needs one.

Each `StripeResource` says, for one resource, everything the engine keeps about it: how
extraction lists it (API path, fixed list parameters, the restricted-key permission, the
filter selecting one owner's objects), how the ledger stores it (table, normaliser, fast path,
write path) and how the sandbox serves it (its list filters). Extraction (`BACKFILL_RESOURCES`,
`RESOURCE_BY_NAME`), the ledger (`RESOURCE_TABLES`, `LEDGER_RESOURCES`, `NORMALISERS`,
`OBJECT_TYPES`, `FAST_PATHS`) and the sandbox (`SPECS`, the synthetic `RESOURCES`) derive their
views from `STRIPE_RESOURCES`; none keeps a list of its own.

Adding a resource: an entry here, its normaliser (`normalise/`), its table (`tables.py`, a model
named like the resource) and its tests. `ensure_schema` creates a resource table an existing
ledger lacks. `register_resource` adds an entry at run time (a plugin, a test); every derived
lookup below is a dict updated in place, so code that imported it sees the new entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from .normalise import (
    CHARGE_COLUMNS,
    FastPath,
    Normalised,
    Normaliser,
    Reject,
    charge_values,
    normalise_charge,
    normalise_checkout_session,
    normalise_customer,
    normalise_dispute,
    normalise_invoice,
    normalise_payment_intent,
    normalise_price,
    normalise_product,
    normalise_refund,
    normalise_subscription,
)
from .tables import LEDGER_METADATA


@dataclass(frozen=True)
class StripeResource:
    """One Stripe resource: how it is listed, stored and served. Field order up to
    `owner_filter` is the one extraction's `BackfillResource` had (it is this class now)."""

    name: str  # e.g. "checkout_sessions": the ledger's name, the sandbox store's key
    path: str  # the list's API path, e.g. "/v1/checkout/sessions"
    params: Mapping[str, str] = field(default_factory=dict)  # fixed parameters of every list
    # What a restricted key must be allowed to read, as the Stripe Dashboard names it.
    # Source: https://docs.stripe.com/keys#limit-access (restricted keys, per-resource Read)
    permission: str = ""
    # The list parameter selecting the objects of one owner, "customer" or "charge" (None: the
    # resource has no such filter); used to read one customer's history. Sources: `customer`
    # on https://docs.stripe.com/api/charges/list, /api/payment_intents/list,
    # /api/invoices/list, /api/subscriptions/list, /api/checkout/sessions/list; `charge` on
    # https://docs.stripe.com/api/refunds/list and /api/disputes/list.
    owner_filter: str | None = None
    object_type: str = ""  # the objects' `object` value: how an event's data.object is placed
    # The ledger table (named like the resource) and its normaliser; None: not a ledger
    # resource (events are kept in processed_events by their own path).
    table: str | None = None
    normaliser: Normaliser | None = None
    # (columns in bind order, fast path) for the bulk write (see normalise/fast.py), if any.
    fast_path: tuple[tuple[str, ...], FastPath] | None = None
    # Objects may be deletion stubs or carry child rows: written in batches, not in bulk.
    batched: bool = False
    backfill: bool = True  # read by a backfill (and listed by `--resources`)
    # The list parameters the sandbox selects by (an indexed field each); None: not served.
    # List parameters per resource follow Stripe's API reference, e.g.
    # https://docs.stripe.com/api/charges/list, https://docs.stripe.com/api/events/list
    sandbox_filters: tuple[str, ...] | None = None


# The order is the ledger's and the backfill's (events, not a ledger resource, sits where the
# sandbox has always listed it).
STRIPE_RESOURCES: tuple[StripeResource, ...] = (
    StripeResource(
        "customers",
        "/v1/customers",
        permission="Customers",
        object_type="customer",
        table="customers",
        normaliser=normalise_customer,
        batched=True,
        sandbox_filters=("email",),
    ),
    StripeResource(
        "charges",
        "/v1/charges",
        permission="Charges",
        owner_filter="customer",
        object_type="charge",
        table="charges",
        normaliser=normalise_charge,
        fast_path=(CHARGE_COLUMNS, charge_values),
        sandbox_filters=("customer", "payment_intent"),
    ),
    StripeResource(
        "payment_intents",
        "/v1/payment_intents",
        permission="PaymentIntents",
        owner_filter="customer",
        object_type="payment_intent",
        table="payment_intents",
        normaliser=normalise_payment_intent,
        sandbox_filters=("customer",),
    ),
    StripeResource(
        "invoices",
        "/v1/invoices",
        permission="Invoices",
        owner_filter="customer",
        object_type="invoice",
        table="invoices",
        normaliser=normalise_invoice,
        sandbox_filters=("customer", "subscription", "status"),
    ),
    # Without `status`, Stripe's subscription list leaves out canceled ones; `all` includes them.
    # Source: https://docs.stripe.com/api/subscriptions/list (parameter `status`)
    StripeResource(
        "subscriptions",
        "/v1/subscriptions",
        {"status": "all"},
        permission="Subscriptions",
        owner_filter="customer",
        object_type="subscription",
        table="subscriptions",
        normaliser=normalise_subscription,
        batched=True,
        sandbox_filters=("customer", "status"),
    ),
    StripeResource(
        "refunds",
        "/v1/refunds",
        permission="Refunds",
        owner_filter="charge",
        object_type="refund",
        table="refunds",
        normaliser=normalise_refund,
        sandbox_filters=("charge", "payment_intent"),
    ),
    StripeResource(
        "disputes",
        "/v1/disputes",
        permission="Disputes",
        owner_filter="charge",
        object_type="dispute",
        table="disputes",
        normaliser=normalise_dispute,
        sandbox_filters=("charge", "payment_intent"),
    ),
    StripeResource(
        "checkout_sessions",
        "/v1/checkout/sessions",
        permission="Checkout Sessions",
        owner_filter="customer",
        object_type="checkout.session",
        table="checkout_sessions",
        normaliser=normalise_checkout_session,
        sandbox_filters=("customer", "payment_intent", "subscription", "status"),
    ),
    # Read by the events sync (extract/events.py), not by a backfill.
    StripeResource(
        "events",
        "/v1/events",
        permission="Events",
        object_type="event",
        backfill=False,
        sandbox_filters=("type",),
    ),
    StripeResource(
        "prices",
        "/v1/prices",
        permission="Prices",
        object_type="price",
        table="prices",
        normaliser=normalise_price,
        batched=True,
        sandbox_filters=("product", "active", "currency", "type"),
    ),
    StripeResource(
        "products",
        "/v1/products",
        permission="Products",
        object_type="product",
        table="products",
        normaliser=normalise_product,
        batched=True,
        sandbox_filters=("active",),
    ),
)

# Derived lookups, computed from the registry once (and again, in place, by register_resource).
RESOURCE_BY_NAME: dict[str, StripeResource] = {}  # every resource
BACKFILL_BY_NAME: dict[str, StripeResource] = {}  # those a backfill reads
LEDGER_BY_OBJECT_TYPE: dict[str, StripeResource] = {}  # ledger resources by `object`
RESOURCE_TABLES: dict[str, Table] = {}  # ledger resource -> its table
NORMALISERS: dict[str, Normaliser] = {}  # ledger resource -> its normaliser
# Stripe's `object` value for each ledger resource: how an event's data.object finds its table.
OBJECT_TYPES: dict[str, str] = {}
FAST_PATHS: dict[str, tuple[tuple[str, ...], FastPath]] = {}  # resource -> (columns, fast path)

_EXTRA: list[StripeResource] = []  # entries added by register_resource


def registered_resources() -> tuple[StripeResource, ...]:
    """Every entry: the registry's, then those added by `register_resource`."""
    return (*STRIPE_RESOURCES, *_EXTRA)


def register_resource(entry: StripeResource) -> None:
    """Add `entry` to the registry at run time; every derived lookup sees it at once.

    A ledger resource's table must already be in the ledger's metadata (a model in
    `tables.py`, or a `Table` on `LEDGER_METADATA`), named like the resource.
    """
    if entry.name in RESOURCE_BY_NAME:
        raise ValueError(f"resource {entry.name!r} is already registered")
    _check(entry)
    _EXTRA.append(entry)
    _derive()


def unregister_resource(name: str) -> None:
    """Take out an entry `register_resource` added (the registry's own stay)."""
    _EXTRA[:] = [entry for entry in _EXTRA if entry.name != name]
    _derive()


def normalise(resource: str, obj: Any, api_version: str | None = None) -> Normalised | Reject:
    """Normalise `obj` as a member of `resource` (one of LEDGER_RESOURCES)."""
    return NORMALISERS[resource](obj, api_version)


def _check(entry: StripeResource) -> None:
    """Refuse an entry the ledger could not serve: a table without a normaliser or model."""
    if (entry.table is None) != (entry.normaliser is None):
        raise ValueError(f"resource {entry.name!r}: a ledger table needs a normaliser and back")
    if entry.table is not None:
        # Ledger code looks a resource's table up by the resource's name.
        if entry.table != entry.name:
            raise ValueError(f"resource {entry.name!r}: its table must be named like it")
        if entry.table not in LEDGER_METADATA.tables:
            raise ValueError(f"resource {entry.name!r}: no table {entry.table!r} in the ledger")
    if entry.backfill and entry.table is None:
        raise ValueError(f"resource {entry.name!r}: a backfill writes only ledger resources")


def _derive() -> None:
    """Fill every derived lookup from the registry, in its order."""
    entries = registered_resources()
    ledger = [entry for entry in entries if entry.table is not None]
    lookups: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (RESOURCE_BY_NAME, {entry.name: entry for entry in entries}),
        (BACKFILL_BY_NAME, {entry.name: entry for entry in entries if entry.backfill}),
        (LEDGER_BY_OBJECT_TYPE, {entry.object_type: entry for entry in ledger}),
        (RESOURCE_TABLES, {e.name: LEDGER_METADATA.tables[e.name] for e in ledger}),
        (NORMALISERS, {entry.name: entry.normaliser for entry in ledger}),
        (OBJECT_TYPES, {entry.object_type: entry.name for entry in ledger}),
        (FAST_PATHS, {entry.name: entry.fast_path for entry in ledger if entry.fast_path}),
    ]
    for lookup, values in lookups:
        lookup.clear()
        lookup.update(values)


for _entry in STRIPE_RESOURCES:
    _check(_entry)
_derive()
