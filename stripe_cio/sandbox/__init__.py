"""The built-in sandbox: local Stripe and Customer.io APIs with a synthetic account.

Each API runs as its own ASGI app under uvicorn (`stripe-cio sandbox stripe|customerio`), so the
demo, the tests and the benchmarks exercise real HTTP on loopback without the internet.
"""

from collections.abc import Mapping

from ..settings_base import ENV_NAMES
from .faults import FaultConfig, FaultInjector, TokenBucket
from .process import SandboxProcess, free_port

__all__ = [
    "SANDBOX_CIO_API_KEY",
    "SANDBOX_CIO_SITE_ID",
    "SANDBOX_STRIPE_KEY",
    "FaultConfig",
    "FaultInjector",
    "SandboxProcess",
    "TokenBucket",
    "free_port",
    "sandbox_environment",
]

# Default credentials of the sandboxes: recognisable, and useless anywhere else.
SANDBOX_STRIPE_KEY = "sk_test_stripecioSandboxKey"
SANDBOX_CIO_SITE_ID = "sandbox-site"
SANDBOX_CIO_API_KEY = "sandbox-track-api-key"


def sandbox_environment(
    base: Mapping[str, str], stripe_url: str, cio_url: str, database_url: str
) -> dict[str, str]:
    """`base` (an environment) with every Stripe and Customer.io setting pointed at the
    sandboxes and the ledger at `database_url`; the user's own STRIPE_* and CUSTOMERIO_*
    values are left out, so that nothing of theirs is used or leaks into the run."""
    env = {
        name: value
        for name, value in base.items()
        if not name.startswith(("STRIPE_", "CUSTOMERIO_"))
    }
    settings = {
        ("stripe", "api_key"): SANDBOX_STRIPE_KEY,
        ("stripe", "api_base"): stripe_url,
        ("customerio", "site_id"): SANDBOX_CIO_SITE_ID,
        ("customerio", "api_key"): SANDBOX_CIO_API_KEY,
        ("customerio", "track_url"): cio_url,
        ("ledger", "database_url"): database_url,
    }
    env.update({ENV_NAMES[setting]: value for setting, value in settings.items()})
    return env
