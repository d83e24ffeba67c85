"""`stripe-cio enrich`: the nightly flow, run now from the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from stripe_cio.cli._sandbox import parse_time
from stripe_cio.runs import RunSummary

from .enrich import enrich_profiles

__all__ = ["enrich_app", "summary_table"]

console = Console()
enrich_app = typer.Typer(name="enrich", add_completion=False)


def summary_table(summary: RunSummary) -> Table:
    """A run's summary as the CLI prints it: the same rows as the flow's artifact."""
    table = Table("", "", title=summary.title, show_header=False)
    for what, count in summary.rows():
        table.add_row(what, count)
    return table


@enrich_app.command()
def enrich(
    customerio_block: str | None = typer.Option(
        None, help="CustomerIOCredentials block name (default: CUSTOMERIO_* variables)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Send nothing; show what would change, with sample payloads."
    ),
    as_of: str | None = typer.Option(
        None, help="Reference time of the attributes (Unix s or ISO 8601; default: now)."
    ),
    limit: int | None = typer.Option(None, min=0, help="Only the first N persons."),
    notify_block: str | None = typer.Option(
        None,
        help="Notification block to tell when the run fails (default: STRIPE_CIO_NOTIFY_BLOCK).",
    ),
) -> None:
    """Compute every person's attributes from the ledger and push what changed to Customer.io.

    Runs the `enrich-profiles` flow; the run shows in the Prefect UI when PREFECT_API_URL points
    at a Prefect server (else Prefect starts a temporary one, which takes a few seconds).

    Example: stripe-cio enrich --dry-run --as-of 2026-01-01T00:00:00Z --limit 100
    """
    reference = datetime.fromtimestamp(parse_time(as_of), UTC) if as_of else None
    with console.status("enrich-profiles: computing attributes and pushing changes…"):
        summary = asyncio.run(
            enrich_profiles(
                dry_run=dry_run,
                as_of=reference,
                limit=limit,
                customerio_block=customerio_block,
                notify_block=notify_block,
            )
        )
    if isinstance(summary, RunSummary):
        console.print(summary_table(summary))
