"""The local Stripe API of the sandbox: a pre-serialised in-memory account behind raw ASGI.

`serve()` is what `stripe-cio sandbox stripe` runs; `StripeStore` is the sink the synthetic
generator writes into; `StripeSandboxApp` is the ASGI app (usable in-process in tests).
"""

from ._app import StripeSandboxApp
from ._errors import mask_key
from ._fixtures import load_fixtures
from ._resources import RESOURCES, SPECS, ResourceSpec
from ._serve import build_app, serve
from ._store import StripeStore

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
