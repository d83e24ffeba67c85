"""The Stripe resources a backfill reads, as the resource registry (`stripe_cio.ledger`) has
them: list path, fixed list parameters, permission name, and the list filter that narrows a list
to one customer's (or one charge's) objects."""

from __future__ import annotations

from collections.abc import Mapping

from ..ledger import BACKFILL_BY_NAME, StripeResource, registered_resources

BackfillResource = StripeResource  # one listable resource, named as in the ledger

# The registry's backfill resources, in its order: a live view (see `register_resource`).
RESOURCE_BY_NAME: Mapping[str, BackfillResource] = BACKFILL_BY_NAME
# The same, as the registry ships them.
BACKFILL_RESOURCES: tuple[BackfillResource, ...] = tuple(BACKFILL_BY_NAME.values())


def backfill_resources() -> tuple[BackfillResource, ...]:
    """Every resource a backfill reads, those added by `register_resource` included."""
    return tuple(entry for entry in registered_resources() if entry.backfill)
