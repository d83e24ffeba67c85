"""Settings for a run: from a named block when one is given, else from the environment."""

from __future__ import annotations

from stripe_cio import (
    CustomerIOSettings,
    StripeSettings,
    customerio_settings_from_env,
    stripe_settings_from_env,
)

from ._credentials import CustomerIOCredentials, StripeCredentials

__all__ = ["customerio_settings", "stripe_settings"]


def stripe_settings(block_name: str | None = None) -> StripeSettings:
    """Stripe settings from the named StripeCredentials block, else from STRIPE_* variables."""
    if block_name:
        return StripeCredentials.load_sync(block_name).to_settings()
    return stripe_settings_from_env()


def customerio_settings(block_name: str | None = None) -> CustomerIOSettings:
    """Customer.io settings from the named block, else from CUSTOMERIO_* variables."""
    if block_name:
        return CustomerIOCredentials.load_sync(block_name).to_settings()
    return customerio_settings_from_env()
