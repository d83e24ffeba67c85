"""`stripe-cio backfill` and `stripe-cio sync`: fill the ledger from Stripe, with progress bars."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from .._settings import StripeSettings, ledger_settings_from_env, stripe_settings_from_env
from ..extract import BackfillSummary, ProgressCallback, SyncSummary, backfill, sync_events
from ..ledger import Ledger
from ..stripe_api import StripeClient
from ._sandbox import parse_time

__all__ = ["backfill_command", "sync_command"]

console = Console()


@contextmanager
def _progress_bars() -> Iterator[ProgressCallback]:
    """A callback that draws one bar per resource; total is records so far plus the estimate."""
    columns = (
        TextColumn("{task.description:>18}"),
        BarColumn(),
        TextColumn("{task.completed:>9,.0f} records {task.fields[rate]:>8,.0f}/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bars:
        tasks: dict[str, TaskID] = {}

        def report(resource: str, records: int, rate: float, eta: float | None) -> None:
            if resource not in tasks:
                tasks[resource] = bars.add_task(resource, total=None, rate=0.0)
            total = records + eta * rate if eta is not None else None
            bars.update(tasks[resource], completed=records, total=total, rate=rate)

        yield report


def _backfill_table(summary: BackfillSummary) -> Table:
    table = Table("resource", "objects", "written", "unchanged", "rejected", "slices", "seconds")
    for name, r in summary.resources.items():
        rejected = ", ".join(f"{k}: {v}" for k, v in r.rejected.items()) or "0"
        table.add_row(
            name, str(r.objects), str(r.written), str(r.unchanged), rejected, str(r.slices),
            f"{r.seconds:.1f}",
        )  # fmt: skip
    table.title = (
        f"backfill {summary.run}: {summary.objects} objects in {summary.seconds:.1f}s "
        f"({summary.objects_per_second:,.0f}/s), {summary.requests} requests, "
        f"{summary.retries} retries, {summary.rate_limited} rate-limited"
    )
    return table


def backfill_command(
    since: str | None = typer.Option(
        None, help="Only objects created from this time on (Unix s or ISO 8601; default: all)."
    ),
    resources: str | None = typer.Option(
        None, help="Comma-separated resources (default: all ten), e.g. customers,charges."
    ),
    run: str | None = typer.Option(None, help="Resume this backfill run id (backfill-<T0>)."),
) -> None:
    """Read Stripe's history into the ledger: concurrent, rate-limited, resumable.

    Example: stripe-cio backfill --since 2025-01-01 --resources customers,charges
    """
    stripe = stripe_settings_from_env(os.environ)
    ledger = Ledger.open(ledger_settings_from_env(os.environ))
    names = [n.strip() for n in resources.split(",")] if resources else None
    try:
        with _progress_bars() as report:
            summary = asyncio.run(
                _backfill(stripe, ledger, since=parse_time(since) if since else 0, names=names,
                          run=run, report=report)
            )  # fmt: skip
    finally:
        ledger.close()
    console.print(_backfill_table(summary))
    for failed in summary.failed:
        console.print(f"[red]failed slice[/red] {failed.resource} {failed.start}-{failed.end}: "
                      f"{failed.error}")  # fmt: skip
    if not summary.complete:
        console.print(f"Run `stripe-cio backfill --run {summary.run}` to read the failed slices.")
        raise typer.Exit(1)


async def _backfill(
    stripe: StripeSettings, ledger: Ledger, *, since: int, names: list[str] | None,
    run: str | None, report: ProgressCallback,
) -> BackfillSummary:  # fmt: skip
    async with StripeClient(stripe) as client:
        return await backfill(
            client, ledger, since=since, resources=names, run=run, progress=report
        )


def sync_command(
    since: str | None = typer.Option(
        None, help="Where a first sync starts (within Stripe's 30 days; default: now - overlap)."
    ),
    overlap: int = typer.Option(600, help="Seconds re-read before the cursor for late events."),
) -> None:
    """Bring the ledger up to date from Stripe's events since the last sync.

    Example: stripe-cio sync --since 2026-11-20T00:00:00Z
    """
    stripe = stripe_settings_from_env(os.environ)
    ledger = Ledger.open(ledger_settings_from_env(os.environ))
    try:
        summary = asyncio.run(_sync(stripe, ledger, parse_time(since) if since else None, overlap))
    finally:
        ledger.close()
    for message in summary.messages:
        console.print(f"[yellow]{message}[/yellow]")
    rejected = sum(summary.rejected.values())
    console.print(
        f"events sync: {summary.events_listed} listed, {summary.applied} applied, "
        f"{summary.duplicates} already processed, {rejected} rejected; cursor "
        f"{summary.cursor_before} -> {summary.cursor_after}"
    )


async def _sync(
    stripe: StripeSettings, ledger: Ledger, since: int | None, overlap: int
) -> SyncSummary:
    async with StripeClient(stripe) as client:
        return await sync_events(client, ledger, since=since, overlap=overlap)
