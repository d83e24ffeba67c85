"""Prefect blocks that hold stripe-cio's credentials and build its clients."""

from ._credentials import CustomerIOCredentials, StripeCredentials
from ._resolve import customerio_settings, stripe_settings

__all__ = ["CustomerIOCredentials", "StripeCredentials", "customerio_settings", "stripe_settings"]
