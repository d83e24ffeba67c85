"""The Stripe resources the sandbox serves: URL paths, list filters and index fields, as the
resource registry (`stripe_cio.ledger`) has them."""

from __future__ import annotations

from dataclasses import dataclass

from ...ledger import STRIPE_RESOURCES

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


# The registry's entries with sandbox filters, in its order (events included).
SPECS: tuple[ResourceSpec, ...] = tuple(
    ResourceSpec(entry.name, entry.path.removeprefix("/v1/"), entry.object_type, filters)
    for entry in STRIPE_RESOURCES
    if (filters := entry.sandbox_filters) is not None
)
RESOURCES = tuple(spec.name for spec in SPECS)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
SPEC_BY_PATH = {spec.path: spec for spec in SPECS}
