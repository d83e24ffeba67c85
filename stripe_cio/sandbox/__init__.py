"""The built-in sandbox: local Stripe and Customer.io APIs with a synthetic account.

Each API runs as its own ASGI app under uvicorn (`stripe-cio sandbox stripe|customerio`), so the
demo, the tests and the benchmarks exercise real HTTP on loopback without the internet.
"""

from ._faults import FaultConfig, FaultInjector, TokenBucket
from ._process import SandboxProcess, free_port

__all__ = [
    "SANDBOX_CIO_API_KEY",
    "SANDBOX_CIO_SITE_ID",
    "SANDBOX_STRIPE_KEY",
    "FaultConfig",
    "FaultInjector",
    "SandboxProcess",
    "TokenBucket",
    "free_port",
]

# Default credentials of the sandboxes: recognisable, and useless anywhere else.
SANDBOX_STRIPE_KEY = "sk_test_stripecioSandboxKey"
SANDBOX_CIO_SITE_ID = "sandbox-site"
SANDBOX_CIO_API_KEY = "sandbox-track-api-key"
