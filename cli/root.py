"""The root `stripe-cio` command: options, `version`, `config`, and one line per failure."""

from __future__ import annotations

import logging
import os
import sys
import traceback

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from stripe_cio import __version__
from stripe_cio.exceptions import EXIT_INTERRUPTED, StripeCioError
from stripe_cio.proxy import describe_routes
from stripe_cio.redaction import install_log_redaction, mask_url, redact
from stripe_cio.settings import Settings, StripeSettings

from .commands import LazyGroup

app = typer.Typer(
    name="stripe-cio",
    cls=LazyGroup,
    help="Keep Customer.io in step with Stripe: profile attributes and lifecycle events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
# Set by the root callback: failures then print their traceback before their line.
_VERBOSE = False
# EX_SOFTWARE (sysexits.h): an internal error, a bug to report.
EXIT_SOFTWARE = 70


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log debug detail, and show tracebacks of failures."
    ),
) -> None:
    global _VERBOSE
    _VERBOSE = verbose
    configure_logging(verbose)


def verbose() -> bool:
    """Whether this command runs with --verbose."""
    return _VERBOSE


def configure_logging(verbose: bool) -> None:
    """The commands' logging (also run by the processes a command spawns)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # One line per HTTP request drowns what the commands report; --verbose shows them.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    install_log_redaction()


def version() -> None:
    """Print the stripe-cio version."""
    console.print(f"stripe-cio {__version__}")


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


def _traceback(err: Console, error: BaseException) -> None:
    """With --verbose, the traceback of `error`, every known secret masked."""
    if _VERBOSE:
        text = "".join(traceback.format_exception(error))
        err.print(redact(text), markup=False, highlight=False, end="")


def _prefix(error: StripeCioError) -> str:
    return "unavailable" if error.transient else error.label


def main() -> None:
    """Entry point of the `stripe-cio` console script: one clear line for every failure.

    Expected failures (bad settings, an API or database refusing us, a failed run) print their
    message, never a traceback; the exit code tells which class (`StripeCioError.exit_code`,
    docs/reliability.md). Anything else is a bug: one line too, and the traceback with
    `--verbose`.
    """
    err = Console(stderr=True, soft_wrap=True)
    try:
        # Not standalone: usage errors come to us instead of being printed as a boxed panel.
        code = app(standalone_mode=False)
    except TyperException as exc:
        # Usage errors (an unknown command or option, a bad value) carry their context.
        context = getattr(exc, "ctx", None)
        command = f" (see `{context.command_path} --help`)" if context is not None else ""
        if exc.format_message():  # empty when a group given no command showed its help
            err.print(
                f"[red]usage error:[/red] {redact(exc.format_message())}{command}",
                highlight=False,
                markup=True,
            )
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except (typer.Abort, KeyboardInterrupt):
        err.print("[yellow]interrupted[/yellow]", highlight=False, markup=True)
        sys.exit(EXIT_INTERRUPTED)
    except StripeCioError as exc:
        _traceback(err, exc)
        err.print(f"[red]{_prefix(exc)}:[/red] {redact(str(exc))}", highlight=False, markup=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        _traceback(err, exc)
        message = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
        hint = "" if _VERBOSE else "; run with --verbose for the traceback"
        err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {message} (a bug in stripe-cio"
            f"{hint}, and please report it)",
            highlight=False,
            markup=True,
        )
        sys.exit(EXIT_SOFTWARE)
    sys.exit(code if isinstance(code, int) else 0)
