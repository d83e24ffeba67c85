"""`stripe-cio sandbox stripe|customerio`: serve the local APIs that stand in for the real ones.

The command lives with the sandbox because `SandboxProcess` starts it too, as
`python -m stripe_cio.sandbox` (the engine never runs the `cli` package); the command line lists
it in its registry like every other command.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import typer

from ..exceptions import ConfigError
from . import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID

sandbox_app = typer.Typer(
    name="sandbox",
    help="Serve local Stripe and Customer.io APIs with a synthetic account (loopback only).",
    no_args_is_help=True,
)


def check_free(host: str, port: int) -> None:
    """Refuse (ConfigError) a port another process listens on, before generating an account."""
    with socket.socket() as probe:
        # As the server binds: a port left in TIME_WAIT by a stopped sandbox is free to it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                "--port",
                f"{host}:{port} cannot be used ({exc.strerror}; another sandbox may be serving it)",
                "give another --port, or stop the process using it",
            ) from None


def parse_time(value: str) -> int:
    """Unix seconds from either Unix seconds or an ISO 8601 time (naive times are UTC)."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither Unix seconds nor ISO 8601 (e.g. 2026-01-31T00:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


# The flag of each webhook setting, to name it in an error.
_WEBHOOK_FLAGS = {
    "url": "--webhook-url",
    "secrets": "--webhook-secret",
    "delay_ms": "--webhook-delay",
    **{
        name: "--webhook-" + name.replace("_", "-")
        for name in (
            "concurrency",
            "retry_base",
            "retry_cap",
            "max_attempts",
            "timeout",
            "seed",
            "duplicates",
            "reorder",
            "fail",
            "drop",
        )
    },
}


@sandbox_app.command("stripe")
def stripe_sandbox(
    port: int = typer.Option(12111, help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; keep it on loopback."),
    seed: int = typer.Option(42, help="Seed of the synthetic account (same seed, same account)."),
    customers: int = typer.Option(1000, min=0, help="Customers in the synthetic account."),
    months: int = typer.Option(12, min=1, help="Months of history ending at --now."),
    fixtures: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="Serve this JSON account instead of generating."
    ),
    now: str | None = typer.Option(
        None, help="Sandbox clock: Unix seconds or ISO 8601 (default: the current time)."
    ),
    rps: float = typer.Option(25.0, help="Rate limit in requests/s (Stripe test mode: 25)."),
    latency_ms: float = typer.Option(0.0, help="Latency added to every response, in ms."),
    fail_rate: float = typer.Option(0.0, min=0, max=1, help="Fraction answered with HTTP 500."),
    api_key: str | None = typer.Option(
        None, help="Accept only this key (default: any well-formed sk_test_/rk_test_ key)."
    ),
    live: bool = typer.Option(
        False,
        "--live",
        help="Let the account's clock run with wall time: new customers, payments, failures, "
        "cancellations and disputes keep arriving, as a scheduled sync would meet them.",
    ),
    speed: float = typer.Option(
        60.0,
        min=1.0,
        help="With --live, sandbox seconds to each second of wall time: how fast activity "
        "arrives (60: an hour of the account's life a minute).",
    ),
    webhook_url: str | None = typer.Option(
        None,
        help="POST every event the account creates from now on to this URL, signed, as Stripe "
        "does (settable at run time: POST /_sandbox/webhooks).",
    ),
    webhook_secret: list[str] | None = typer.Option(
        None,
        metavar="WHSEC",
        help="Signing secret (whsec_...); give it twice to sign with both, as while a secret "
        "is rolled.",
    ),
    webhook_concurrency: int = typer.Option(16, min=1, help="Deliveries in flight at once."),
    webhook_retry_base: float = typer.Option(
        0.5, min=0.001, help="Seconds before a failed delivery's first retry; doubles each time."
    ),
    webhook_retry_cap: float = typer.Option(30.0, help="Longest wait between retries, seconds."),
    webhook_max_attempts: int = typer.Option(
        8, min=1, help="Attempts per delivery before it is abandoned."
    ),
    webhook_timeout: float = typer.Option(10.0, min=0.001, help="Seconds an attempt may take."),
    webhook_seed: int | None = typer.Option(
        None, help="Seed of the webhook faults (default: --seed)."
    ),
    webhook_duplicates: float = typer.Option(
        0.0, min=0, max=1, help="Probability an event is delivered twice."
    ),
    webhook_reorder: float = typer.Option(
        0.0, min=0, max=1, help="Probability an event is held back behind later ones."
    ),
    webhook_delay: float = typer.Option(
        0.0, min=0, help="Mean extra delay before a delivery, ms (0.5x to 1.5x of it)."
    ),
    webhook_fail: float = typer.Option(
        0.0, min=0, max=1, help="Probability an attempt fails unsent (then retried)."
    ),
    webhook_drop: float = typer.Option(
        0.0, min=0, max=1, help="Probability an event is never delivered."
    ),
    accounts: int = typer.Option(
        0,
        min=0,
        help="Serve a Connect platform with this many connected accounts, each with its own "
        "synthetic data (Stripe-Account header); 0: none.",
    ),
    restricted_accounts: int = typer.Option(
        0, min=0, help="How many of the --accounts start restricted (charges disabled)."
    ),
    deauthorized_accounts: int = typer.Option(
        0, min=0, help="How many of the --accounts start deauthorized (access revoked)."
    ),
) -> None:
    """Serve a Stripe API with a synthetic (or given) account.

    Example: stripe-cio sandbox stripe --port 12111 --customers 2000 --months 18 --rps 100

    Example: stripe-cio sandbox stripe --live --speed 120 (new activity every second)

    Example: stripe-cio sandbox stripe --live --webhook-url http://127.0.0.1:8000/webhooks/stripe
    --webhook-secret whsec_test123 --webhook-duplicates 0.01

    Example: stripe-cio sandbox stripe --accounts 50 --customers 500 --restricted-accounts 2
    """
    if live and fixtures is not None:
        raise ConfigError(
            "--live", "a fixtures file has no activity to generate", "drop --fixtures"
        )
    if restricted_accounts + deauthorized_accounts > accounts:
        raise ConfigError(
            "--restricted-accounts",
            f"{restricted_accounts} restricted and {deauthorized_accounts} deauthorized "
            f"accounts, of {accounts} connected accounts",
            "give at least as many --accounts",
        )
    from .stripe_server import serve
    from .stripe_server.webhooks import WebhookConfig, WebhookSettingError

    webhooks = WebhookConfig()
    try:
        webhooks.update(
            {
                "url": webhook_url,
                "secrets": list(webhook_secret or []),
                "concurrency": webhook_concurrency,
                "retry_base": webhook_retry_base,
                "retry_cap": webhook_retry_cap,
                "max_attempts": webhook_max_attempts,
                "timeout": webhook_timeout,
                "seed": seed if webhook_seed is None else webhook_seed,
                "duplicates": webhook_duplicates,
                "reorder": webhook_reorder,
                "delay_ms": webhook_delay,
                "fail": webhook_fail,
                "drop": webhook_drop,
            },
            starting=True,
        )
    except WebhookSettingError as exc:
        flag = _WEBHOOK_FLAGS.get(exc.setting, exc.setting)
        raise ConfigError(flag, str(exc), "see stripe-cio sandbox stripe --help") from None

    check_free(host, port)
    clock = parse_time(now) if now else int(datetime.now().timestamp())
    serve(
        host=host,
        port=port,
        seed=seed,
        customers=customers,
        months=months,
        fixtures=fixtures,
        now=clock,
        rps=rps,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        api_key=api_key,
        live_speed=speed if live else None,
        webhooks=webhooks,
        accounts=accounts,
        restricted_accounts=restricted_accounts,
        deauthorized_accounts=deauthorized_accounts,
    )


@sandbox_app.command("customerio")
def customerio_sandbox(
    port: int = typer.Option(12112, help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; keep it on loopback."),
    rps: float = typer.Option(100.0, help="Rate limit in requests/s (Customer.io: 100)."),
    latency_ms: float = typer.Option(0.0, help="Latency added to every response, in ms."),
    fail_rate: float = typer.Option(0.0, min=0, max=1, help="Fraction answered with HTTP 500."),
    site_id: str = typer.Option(SANDBOX_CIO_SITE_ID, help="Site id that the sandbox accepts."),
    api_key: str = typer.Option(SANDBOX_CIO_API_KEY, help="Track API key it accepts."),
) -> None:
    """Serve a Customer.io Track API that records people and events for inspection.

    Example: stripe-cio sandbox customerio --port 12112 --rps 100 --latency-ms 50
    """
    from .cio_server import serve

    check_free(host, port)
    serve(
        host=host,
        port=port,
        rps=rps,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        site_id=site_id,
        api_key=api_key,
    )
