"""The Stripe resources the sandbox serves: URL paths, list filters and index fields."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_VIEW",
    "HIDDEN_SUBSCRIPTION_STATUSES",
    "RESOURCES",
    "SPECS",
    "SPEC_BY_NAME",
    "SPEC_BY_PATH",
    "SUBSCRIPTION_STATUSES",
    "ResourceSpec",
]

# Stripe's subscription list leaves out canceled subscriptions unless asked for them, and
# incomplete_expired ones too ("all" includes them).
# Source: https://docs.stripe.com/api/subscriptions/list (parameter `status`)
SUBSCRIPTION_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
HIDDEN_SUBSCRIPTION_STATUSES = frozenset({"canceled", "incomplete_expired"})
DEFAULT_VIEW = "_default"  # index value of subscriptions that a list without `status` shows


@dataclass(frozen=True)
class ResourceSpec:
    """One listable resource: where it lives and which list filters Stripe gives it."""

    name: str  # key in the store and in a fixtures file, e.g. "checkout_sessions"
    path: str  # path under /v1, e.g. "checkout/sessions"
    object_name: str  # the `object` value, used in "No such ..." messages
    filters: tuple[str, ...]  # list parameters that select by an indexed field

    @property
    def url(self) -> str:
        return f"/v1/{self.path}"


# List parameters per resource follow Stripe's API reference, e.g.
# https://docs.stripe.com/api/charges/list, https://docs.stripe.com/api/events/list
SPECS: tuple[ResourceSpec, ...] = (
    ResourceSpec("customers", "customers", "customer", ("email",)),
    ResourceSpec("charges", "charges", "charge", ("customer", "payment_intent")),
    ResourceSpec("payment_intents", "payment_intents", "payment_intent", ("customer",)),
    ResourceSpec("invoices", "invoices", "invoice", ("customer", "subscription", "status")),
    ResourceSpec("subscriptions", "subscriptions", "subscription", ("customer", "status")),
    ResourceSpec("refunds", "refunds", "refund", ("charge", "payment_intent")),
    ResourceSpec("disputes", "disputes", "dispute", ("charge", "payment_intent")),
    ResourceSpec(
        "checkout_sessions",
        "checkout/sessions",
        "checkout.session",
        ("customer", "payment_intent", "subscription", "status"),
    ),
    ResourceSpec("events", "events", "event", ("type",)),
    ResourceSpec("prices", "prices", "price", ("product", "active", "currency", "type")),
    ResourceSpec("products", "products", "product", ("active",)),
)
RESOURCES = tuple(spec.name for spec in SPECS)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
SPEC_BY_PATH = {spec.path: spec for spec in SPECS}
