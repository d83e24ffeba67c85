"""Access to the Stripe API."""

from ._client import STRIPE_API_VERSION, Params, StripeClient

__all__ = ["STRIPE_API_VERSION", "Params", "StripeClient"]
