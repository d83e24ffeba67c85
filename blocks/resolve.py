"""Settings for a run: from a named block when one is given, else from the environment."""

from __future__ import annotations

from typing import TypeVar

from prefect.exceptions import ObjectNotFound

from stripe_cio import (
    CustomerIOSettings,
    StripeSettings,
    customerio_settings_from_env,
    stripe_settings_from_env,
)

from .credentials import CustomerIOCredentials, StripeCredentials
from .prefect_api import missing_block, prefect_api_errors

B = TypeVar("B", StripeCredentials, CustomerIOCredentials)


def _load(block_type: type[B], name: str, parameter: str) -> B:
    with prefect_api_errors(f"loading the {block_type.__name__} block {name!r}"):
        try:
            return block_type.load_sync(name)
        except (ValueError, ObjectNotFound) as exc:
            # Prefect says "Unable to find block document named ..." as a ValueError.
            if "unable to find" not in str(exc).lower() and not isinstance(exc, ObjectNotFound):
                raise
            raise missing_block(block_type.__name__, name, parameter) from None


def stripe_settings(block_name: str | None = None) -> StripeSettings:
    """Stripe settings from the named StripeCredentials block, else from STRIPE_* variables."""
    if block_name:
        return _load(StripeCredentials, block_name, "stripe_block").to_settings()
    return stripe_settings_from_env()


def customerio_settings(block_name: str | None = None) -> CustomerIOSettings:
    """Customer.io settings from the named block, else from CUSTOMERIO_* variables."""
    if block_name:
        return _load(CustomerIOCredentials, block_name, "customerio_block").to_settings()
    return customerio_settings_from_env()
