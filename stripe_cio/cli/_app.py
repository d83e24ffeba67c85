"""The root `stripe-cio` command and the engine's own commands."""

from __future__ import annotations

import logging
import os
import sys

import typer
from rich.console import Console
from rich.table import Table

from .. import __version__
from .._exceptions import ConfigError, StripeCioError
from .._proxy import describe_routes
from .._redact import install_log_redaction, mask_url, redact
from .._settings import Settings, StripeSettings
from ..runs import RunFailedError, RunInProgressError
from ._dead_letters import dead_letters_app
from ._demo import run_demo
from ._jobs import backfill_command, enrich_command, sync_command
from ._plugins import PluginGroup
from ._sandbox import sandbox_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="stripe-cio",
    cls=PluginGroup,
    help="Keep Customer.io in step with Stripe: profile attributes and lifecycle events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
app.add_typer(sandbox_app)
app.add_typer(dead_letters_app)
app.command("backfill")(backfill_command)
app.command("sync")(sync_command)
app.command("enrich")(enrich_command)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug detail."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # One line per HTTP request drowns what the commands report; --verbose shows them.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    install_log_redaction()


@app.command()
def version() -> None:
    """Print the stripe-cio version."""
    console.print(f"stripe-cio {__version__}")


@app.command("config")
def show_config() -> None:
    """Validate the settings from the environment and show them, secrets masked.

    Loading the settings creates the ledger's folder when it is missing, so a data directory
    (or SQLite folder) that cannot be created fails here, in one line naming the setting.

    Example: STRIPE_API_KEY=sk_test_... CUSTOMERIO_SITE_ID=s CUSTOMERIO_API_KEY=k stripe-cio config
    """
    settings = Settings.from_env(os.environ)
    table = Table("setting", "value", title="stripe-cio settings (from the environment)")
    data_dir = settings.ledger.data_dir
    table.add_row(
        "data directory",
        str(data_dir) if data_dir else "(not used: STRIPE_CIO_DATABASE_URL names the ledger)",
    )
    table.add_row("ledger database", settings.ledger.display_url)
    if settings.stripe:
        stripe = settings.stripe
        table.add_row("Stripe API", mask_url(stripe.api_base))
        table.add_row(
            "Stripe key", f"{'live' if stripe.livemode else 'test'} mode, {stripe.api_key}"
        )
        table.add_row("Stripe account", stripe.account or "(the key's own)")
        table.add_row("Stripe requests/s", f"{stripe.effective_requests_per_second:g}")
    if settings.customerio:
        cio = settings.customerio
        table.add_row("Customer.io site id", cio.site_id)
        table.add_row("Customer.io region", cio.region)
        table.add_row("Customer.io Track API", mask_url(cio.base_url))
        table.add_row("Customer.io requests/s", f"{cio.requests_per_second:g}")
    apis = [s for s in (settings.stripe, settings.customerio) if s is not None]
    bundle = next((s.ca_bundle for s in apis if s.ca_bundle), None)
    extra = f" and those of {bundle} (STRIPE_CIO_CA_BUNDLE)" if bundle else ""
    table.add_row("trusted CAs", f"certifi's public roots{extra}")
    bases = [s.api_base if isinstance(s, StripeSettings) else s.base_url for s in apis]
    table.add_row("proxy", describe_routes(os.environ, bases))
    console.print(table)


@app.command()
def demo() -> None:
    """Run the main job against the built-in sandbox and report what happened.

    Example: stripe-cio demo
    """
    run_demo(console)


def main() -> None:
    """Entry point of the `stripe-cio` console script: one clear line for expected errors."""
    try:
        app()
    except StripeCioError as exc:
        # Expected failures (bad settings, an API refusing us, a failed run) are one line, never
        # a traceback; the exit code tells which (docs/operations.md).
        prefix, code = "error", 2
        if isinstance(exc, ConfigError):
            prefix = "configuration error"
        elif isinstance(exc, RunFailedError):
            prefix, code = "run failed", 1
        elif isinstance(exc, RunInProgressError):
            prefix, code = "refused", 75
        Console(stderr=True, soft_wrap=True).print(
            f"[red]{prefix}:[/red] {redact(str(exc))}", highlight=False, markup=True
        )
        sys.exit(code)
