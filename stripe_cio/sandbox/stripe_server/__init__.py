"""The local Stripe API of the sandbox: a pre-serialised in-memory account behind raw ASGI.

`serve()` is what `stripe-cio sandbox stripe` runs; `StripeStore` is the sink the synthetic
generator writes into; `StripeSandboxApp` is the ASGI app (usable in-process in tests).
"""

from .app import StripeSandboxApp
from .errors import mask_key
from .fixtures import load_fixtures
from .resources import RESOURCES, SPECS, ResourceSpec
from .server import build_app, serve
from .store import StripeStore

__all__ = [
    "RESOURCES",
    "SPECS",
    "ResourceSpec",
    "StripeSandboxApp",
    "StripeStore",
    "build_app",
    "load_fixtures",
    "mask_key",
    "serve",
]
