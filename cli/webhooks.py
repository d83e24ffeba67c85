"""`stripe-cio webhooks serve`: the webhook receiver (stripe_cio/webhooks, docs/webhooks.md)."""

from __future__ import annotations

from functools import partial

import typer

from stripe_cio.runs import RunSummary
from stripe_cio.webhooks.serve import NAME, serve_webhooks

from .jobs import CUSTOMERIO_BLOCK, STRIPE_BLOCK, connections
from .root import configure_logging, verbose

webhooks_app = typer.Typer(
    name="webhooks",
    add_completion=False,
    no_args_is_help=True,
    help="Receive Stripe's webhooks: verified events reach Customer.io in about a second.",
)


@webhooks_app.callback()
def _group() -> None:
    """Receive Stripe's webhooks: verified events reach Customer.io in about a second."""


# The Prefect event each delivery round emits under `--prefect-events` (the UI's event feed).
ROUND_EVENT = "stripe-cio.webhooks.delivered"


def _round(summary: RunSummary) -> None:
    """One line per delivery round that sent something or failed."""
    if summary.failure is not None:
        typer.echo(f"delivery round failed: {summary.failure}", err=True)
    elif summary.persons_sent or summary.events_delivered:
        typer.echo(
            f"delivered: {summary.persons_sent} persons' attributes, "
            f"{summary.events_delivered} lifecycle events",
            err=True,
        )


def _prefect_event(summary: RunSummary) -> None:
    """Record a delivery round as a Prefect event, so that the UI's event feed shows it."""
    from prefect.events import emit_event

    emit_event(
        event=ROUND_EVENT if summary.failure is None else f"{ROUND_EVENT}.failed",
        resource={"prefect.resource.id": "stripe-cio.webhooks", "prefect.resource.name": NAME},
        payload={
            "persons_sent": summary.persons_sent,
            "events_delivered": summary.events_delivered,
            "events_sent": dict(summary.events_sent),
            "rejected": dict(summary.rejected),
            "seconds": round(summary.seconds, 3),
            "failure": summary.failure,
        },
    )


@webhooks_app.command("serve")
def serve(
    port: int = typer.Option(8788, "--port", help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on (a reverse proxy in front terminates TLS: docs/webhooks.md).",
    ),
    prefect_events: bool = typer.Option(
        False,
        "--prefect-events",
        help="Also record each delivery round as a Prefect event (PREFECT_API_URL's server).",
    ),
    stripe_block: str | None = STRIPE_BLOCK,
    customerio_block: str | None = CUSTOMERIO_BLOCK,
) -> None:
    """Serve POST /webhooks/stripe (and GET /healthz) until interrupted.

    Each verified event is written to the ledger before Stripe gets its 2xx; what it changed
    (the persons' attributes, the lifecycle events) is sent right after, by the same job code
    as the sync. The signing secrets come from STRIPE_WEBHOOK_SECRET or the Stripe credentials
    block. The scheduled sync stays: it sends whatever a webhook did not bring.

    Example: STRIPE_WEBHOOK_SECRET=whsec_... stripe-cio webhooks serve --port 8788
    """
    conns = connections(
        stripe=True,
        customerio=True,
        stripe_block=stripe_block,
        customerio_block=customerio_block,
    )

    serve_webhooks(
        conns,
        host=host,
        port=port,
        on_summary=_round_and_event if prefect_events else _round,
        setup=partial(configure_logging, verbose()),
    )


def _round_and_event(summary: RunSummary) -> None:
    """A delivery round's line, and its Prefect event when it sent something or failed."""
    _round(summary)
    if summary.failure is not None or summary.persons_sent or summary.events_delivered:
        _prefect_event(summary)
