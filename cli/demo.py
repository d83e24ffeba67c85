"""`stripe-cio demo`: the whole pipeline against both sandboxes, reported, in under 3 minutes.

The sandboxes start here; the flows run in a child process (`python -m flows.demo`) whose
environment points every setting at them, so that this process never imports Prefect (nor
writes its state outside the demo's) and the user's own settings are left alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from stripe_cio import ENV_NAMES, StripeCioError
from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SandboxProcess,
    sandbox_environment,
)

# Prefect's own state for the demo's runs, when no Prefect API is configured: kept in the
# working directory (the checkout, under `make demo`), so that `prefect server start` with
# the same PREFECT_HOME shows them, and nothing is written outside it.
DEMO_HOME = Path(".demo")


class DemoFailedError(StripeCioError):
    """The demo's pipeline ended with an error (its output says which step)."""


def _child_environment(stripe_url: str, cio_url: str, ledger: Path) -> dict[str, str]:
    env = sandbox_environment(os.environ, stripe_url, cio_url, f"sqlite:///{ledger}")
    # As fast as a live account allows (Stripe: 100 read requests/s in live mode).
    env[ENV_NAMES[("stripe", "requests_per_second")]] = "100"
    if "PREFECT_API_URL" not in env and "PREFECT_HOME" not in env:
        home = DEMO_HOME / "prefect"
        home.mkdir(parents=True, exist_ok=True)
        env["PREFECT_HOME"] = str(home.resolve())
        # A first start creates Prefect's database; on a busy machine that outlasts the 20 s
        # Prefect allows its temporary server by default.
        env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
        # The demo's own server phones nowhere (its telemetry also races its first writes).
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return env


def run_demo(console: Console, *, customers: int = 2000, months: int = 18) -> None:
    """Start both sandboxes, run backfill → enrich → a day later → sync, report, stop them."""
    console.print(
        f"[bold]stripe-cio demo[/bold]: a synthetic Stripe account of {customers:,} customers "
        f"over {months} months, and an empty Customer.io workspace"
    )
    started = time.monotonic()
    stripe_args = ("--customers", str(customers), "--months", str(months), "--rps", "100")
    cio_args = ("--site-id", SANDBOX_CIO_SITE_ID, "--api-key", SANDBOX_CIO_API_KEY)
    stripe_box = SandboxProcess("stripe", *stripe_args)
    cio_box = SandboxProcess("customerio", *cio_args)
    with tempfile.TemporaryDirectory(prefix="stripe-cio-demo-") as workdir:
        env = _child_environment(stripe_box.url, cio_box.url, Path(workdir) / "ledger.db")
        # The child starts Prefect while the sandboxes generate the account, then waits for them.
        pipeline = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "flows.demo", stripe_box.url, cio_box.url], env=env
        )
        try:
            with stripe_box, cio_box:
                console.print(
                    f"  sandboxes up in {time.monotonic() - started:.1f}s: "
                    f"Stripe {stripe_box.url}, Customer.io {cio_box.url}"
                )
                returncode = pipeline.wait()
        finally:
            if pipeline.poll() is None:
                pipeline.terminate()
                pipeline.wait()
    if returncode != 0:
        raise DemoFailedError(f"the demo's pipeline failed (exit {returncode})")
    console.print(
        f"Done in {time.monotonic() - started:.1f}s; the sandboxes are stopped and the demo's "
        "ledger is deleted."
    )
    console.print(
        "To watch the scheduled flows meet new activity, keep a live sandbox running (its "
        "clock runs an hour a minute):\n"
        "  stripe-cio sandbox stripe --live &  stripe-cio sandbox customerio &\n"
        "then serve the deployments against it (docs/operations.md, A walkthrough)."
    )


console = Console()


def demo() -> None:
    """Run the main job against the built-in sandbox and report what happened.

    Example: stripe-cio demo
    """
    run_demo(console)
