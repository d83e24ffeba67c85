"""Access to the Stripe API."""

from .client import STRIPE_API_VERSION, Params, StripeClient

__all__ = ["STRIPE_API_VERSION", "Params", "StripeClient"]
