"""`stripe-cio demo`: run what the pipeline has so far and say honestly what that was."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from .._settings import CustomerIOSettings, LedgerSettings, StripeSettings

__all__ = ["run_demo"]

# Keys of the built-in sandbox: recognisable, and useless anywhere else.
SANDBOX_STRIPE_KEY = "sk_test_stripecioSandboxKey"
SANDBOX_CIO_SITE_ID = "sandbox-site"
SANDBOX_CIO_API_KEY = "sandbox-track-api-key"


def run_demo(console: Console) -> None:
    """Validate a sandbox configuration end to end and report which pipeline steps exist yet."""
    with tempfile.TemporaryDirectory(prefix="stripe-cio-demo-") as tmp:
        ledger = LedgerSettings.load({"database_url": f"sqlite:///{Path(tmp) / 'ledger.db'}"})
        stripe = StripeSettings.load(
            {"api_key": SANDBOX_STRIPE_KEY, "api_base": "http://127.0.0.1:12111"}
        )
        cio = CustomerIOSettings.load(
            {
                "site_id": SANDBOX_CIO_SITE_ID,
                "api_key": SANDBOX_CIO_API_KEY,
                "track_url": "http://127.0.0.1:12112",
            }
        )
        console.print("[bold]stripe-cio demo[/bold]")
        console.print(f"  ledger: {ledger.display_url}")
        console.print(
            f"  Stripe: {stripe.api_base} ({'live' if stripe.livemode else 'test'} mode, "
            f"{stripe.effective_requests_per_second:g} requests/s, key {stripe.api_key})"
        )
        console.print(f"  Customer.io: {cio.base_url} (site {cio.site_id}, key {cio.api_key})")
        console.print(
            "Done: settings validated. Not yet built, so not run: the sandbox servers, "
            "extraction, attributes, delivery and the Prefect flows."
        )
