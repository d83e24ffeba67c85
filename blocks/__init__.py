"""Prefect blocks that hold stripe-cio's credentials and build its clients."""

from .credentials import (
    CustomerIOCredentials,
    StripeCredentials,
    customerio_settings,
    stripe_settings,
)

__all__ = ["CustomerIOCredentials", "StripeCredentials", "customerio_settings", "stripe_settings"]
