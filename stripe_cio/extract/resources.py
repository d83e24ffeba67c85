"""The Stripe resources a backfill reads, as the resource registry (`stripe_cio.ledger`) has
them: list path, fixed list parameters, permission name, and the list filter that narrows a list
to one customer's (or one charge's) objects; and what a refusal to read one means."""

from __future__ import annotations

from collections.abc import Mapping

from ..exceptions import StripeAPIError, StripeAuthError, StripeRequestError
from ..ledger import BACKFILL_BY_NAME, StripeResource, registered_resources

BackfillResource = StripeResource  # one listable resource, named as in the ledger

# The registry's backfill resources, in its order: a live view (see `register_resource`).
RESOURCE_BY_NAME: Mapping[str, BackfillResource] = BACKFILL_BY_NAME
# The same, as the registry ships them.
BACKFILL_RESOURCES: tuple[BackfillResource, ...] = tuple(BACKFILL_BY_NAME.values())


def backfill_resources() -> tuple[BackfillResource, ...]:
    """Every resource a backfill reads, those added by `register_resource` included."""
    return tuple(entry for entry in registered_resources() if entry.backfill)


# --- access: what a refusal to read a resource means ----------------------------------------------
# Turn a refusal that no retry can fix (401, 403, other 4xx) into a run-stopping message.


class ExtractionStopped(StripeAuthError):
    """The whole run stopped: Stripe refused a request in a way that retrying cannot fix."""


def stop_error(exc: StripeAPIError, resource: str, key_prefix: str) -> ExtractionStopped:
    """A one-line message naming the resource and, for 403, the permission the key needs.

    Stripe answers 403 when a restricted key lacks a permission and 401 for a wrong or
    revoked key. Source: https://docs.stripe.com/keys#limit-access and
    https://docs.stripe.com/error-codes (`secret_key_required`, `api_key_expired`).
    """
    spec = RESOURCE_BY_NAME.get(resource)
    path = exc.path or (spec.path if spec else resource)
    kind = "restricted (rk_)" if key_prefix == "rk" else "secret (sk_)"
    if exc.status_code == 403:
        permission = spec.permission if spec else resource
        message = (
            f"{key_prefix}_ key lacks read permission on {resource}: Stripe refused GET {path} "
            f"(HTTP 403); give the {kind} key 'Read' on {permission!r} and run again ({exc})"
        )
    elif exc.status_code == 401:
        message = (
            f"Stripe rejected the {kind} key while reading {resource} (GET {path}, HTTP 401): "
            f"the key is wrong, expired or revoked; nothing more was read ({exc})"
        )
    else:
        message = f"stopped while reading {resource}: {exc}"
    stopped = ExtractionStopped(
        message, status_code=exc.status_code, method="GET", path=path, code=exc.code
    )
    return stopped


def is_fatal(exc: BaseException) -> bool:
    """Whether `exc` must stop the whole run (auth or an unexpected 4xx), not just one slice."""
    return isinstance(exc, StripeAuthError | StripeRequestError)
