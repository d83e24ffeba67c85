"""`stripe-cio backfill | sync | enrich`: the jobs the flows of the same names run, opened from
the command line with progress on the terminal, the run's summary, and an exit code per outcome.

Exit codes: 0 the run did all its work; 1 it failed (unreadable pages or slices, rejects over
the threshold: the summary says what it did); 2 bad settings or arguments, or an API refused
us; 75 another run holds the ledger (nothing was done); 130 interrupted (Ctrl-C or SIGTERM: the
job's last line says what it left and how to go on).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from stripe_cio.attributes import attribute_settings_from_env
from stripe_cio.extract import BACKFILL_RESOURCES, DEFAULT_OVERLAP_SECONDS, ProgressCallback
from stripe_cio.jobs import Connections, backfill_job, enrich_job, sync_job
from stripe_cio.jobs.partitions import in_threads
from stripe_cio.runs import RunSummary
from stripe_cio.sandbox.command import parse_time
from stripe_cio.settings import (
    CustomerIOSettings,
    StripeSettings,
    customerio_settings_from_env,
    ledger_settings_from_env,
    stripe_settings_from_env,
)

console = Console()
T = TypeVar("T")


def summary_table(summary: RunSummary) -> Table:
    """A run's summary rows as the CLI prints them (the flow's artifact has the same); its title
    is printed apart, as a line, so that a narrow terminal wraps it instead of the table."""
    table = Table("", "", "", show_header=False)
    table.columns[2].overflow = "fold"
    table.columns[2].style = "dim"
    for row in summary.table():
        table.add_row(row["what"], row["count"], row["meaning"])
    return table


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


class ConsoleRunner:
    """Runs a job's steps in this process: a line per step, progress bars for a backfill, the
    summary as a table."""

    def __init__(self, command: str) -> None:
        self._holder = f"stripe-cio {command} (pid {os.getpid()})"

    @property
    def holder(self) -> str:
        return self._holder

    async def step(self, name: str, work: Callable[[], Awaitable[T]], *, retry: bool = False) -> T:
        started = time.monotonic()
        console.print(f"[dim]… {name}[/dim]", highlight=False)
        result = await work()
        console.print(f"[green]✓[/green] {name} [dim]({time.monotonic() - started:.1f}s)[/dim]")
        return result

    @asynccontextmanager
    async def progress(self, what: str) -> AsyncIterator[ProgressCallback | None]:
        with _progress_bars() as report:
            yield report

    def info(self, message: str) -> None:
        console.print(f"  [dim]{message}[/dim]", highlight=False)

    def warning(self, message: str) -> None:
        # Not cut to the terminal's width: a command in it must stay one line to copy.
        console.print(f"  [yellow]{message}[/yellow]", highlight=False, soft_wrap=True)

    async def attach(self, key: str, markdown: str, description: str) -> None:
        console.print(Markdown(markdown))

    async def publish(self, summary: RunSummary) -> None:
        console.print(f"[bold]{summary.title}[/bold]", highlight=False, soft_wrap=True)
        console.print(summary_table(summary))


# 128 + SIGINT, as a shell reports a command Ctrl-C stopped; SIGTERM ends the same way.
INTERRUPTED = 130


def run_job(job: Coroutine[Any, Any, RunSummary]) -> RunSummary:
    """Run a job to its end; its failures reach `main`, which prints one line and exits.

    Ctrl-C (SIGINT) or SIGTERM cancels the job: it stops its progress display, keeps what it
    wrote, releases the ledger's lock and says in its last line how to go on; the command then
    exits 130, without a traceback.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c) if main_thread else None
    try:
        return asyncio.run(job)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    # asyncio.run turns SIGINT into a cancellation of the job, which unwinds it cleanly (a
    # second one stops at once); SIGTERM, by default an abrupt end, takes the same way.
    signal.raise_signal(signal.SIGINT)


def connections(
    *,
    stripe: bool,
    customerio: bool,
    stripe_block: str | None = None,
    customerio_block: str | None = None,
) -> Connections:
    """The ledger and the APIs a job needs: from the named blocks, else the environment; one
    line when one is off."""
    stripe_of: Callable[[str | None], StripeSettings]
    customerio_of: Callable[[str | None], CustomerIOSettings]
    if stripe_block or customerio_block:
        # Loading a block goes through the Prefect API: Prefect is imported only then (seconds).
        from blocks import customerio_settings, stripe_settings

        stripe_of, customerio_of = stripe_settings, customerio_settings
    else:
        stripe_of = _stripe_from_env
        customerio_of = _customerio_from_env
    return Connections(
        ledger=ledger_settings_from_env(os.environ),
        stripe=stripe_of(stripe_block) if stripe else None,
        customerio=customerio_of(customerio_block) if customerio else None,
    )


def _stripe_from_env(_: str | None) -> StripeSettings:
    return stripe_settings_from_env(os.environ)


def _customerio_from_env(_: str | None) -> CustomerIOSettings:
    return customerio_settings_from_env(os.environ)


STRIPE_BLOCK = typer.Option(
    None, "--stripe-block", help="Read Stripe with this saved StripeCredentials block."
)
CUSTOMERIO_BLOCK = typer.Option(
    None,
    "--customerio-block",
    help="Reach Customer.io with this saved CustomerIOCredentials block.",
)


def _resources(value: str | None) -> list[str] | None:
    if not value:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    known = [r.name for r in BACKFILL_RESOURCES]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise typer.BadParameter(
            f"unknown {', '.join(unknown)}; choose from {', '.join(known)}",
            param_hint="--resources",
        )
    return names


_MAX_REJECT_RATE = typer.Option(
    None,
    min=0.0,
    max=1.0,
    help="Fail the run when rejects exceed this share of its input (default "
    "STRIPE_CIO_MAX_REJECT_RATE, else 0.05).",
)


def backfill_command(
    since: str | None = typer.Option(
        None, help="Only objects created from this time on (Unix s or ISO 8601; default: all)."
    ),
    resources: str | None = typer.Option(
        None, help="Comma-separated resources (default: all ten), e.g. customers,charges."
    ),
    run: str | None = typer.Option(
        None, help="Resume this backfill run id (backfill-<T0>), with its --since and --resources."
    ),
    restart: bool = typer.Option(
        False,
        "--restart",
        help="Start a new read even if a backfill is unfinished; the unfinished one is abandoned.",
    ),
    enrich: bool = typer.Option(
        True, "--enrich/--no-enrich", help="Then push every person's attributes (as the flow)."
    ),
    max_reject_rate: float | None = _MAX_REJECT_RATE,
    stripe_block: str | None = STRIPE_BLOCK,
    customerio_block: str | None = CUSTOMERIO_BLOCK,
) -> None:
    """Read Stripe's history into the ledger, then send every person's changed attributes.

    The `backfill-history` flow's job. Concurrent, rate-limited, resumable: an unfinished
    backfill (interrupted, or with unreadable slices) is resumed, reading only what it had not
    finished.

    Example: stripe-cio backfill --since 2025-01-01 --resources customers,charges --no-enrich
    """
    names = _resources(resources)
    start = parse_time(since) if since else None
    run_job(
        backfill_job(
            connections(
                stripe=True,
                customerio=enrich,
                stripe_block=stripe_block,
                customerio_block=customerio_block,
            ),
            ConsoleRunner("backfill"),
            since=start,
            resources=names,
            run=run,
            restart=restart,
            enrich=enrich,
            max_reject_rate=max_reject_rate,
        )
    )


def sync_command(
    since: str | None = typer.Option(
        None, help="Where a first sync starts (within Stripe's 30 days; default: now - overlap)."
    ),
    overlap: int = typer.Option(
        DEFAULT_OVERLAP_SECONDS, min=0, help="Seconds re-read before the cursor for late events."
    ),
    ledger_only: bool = typer.Option(
        False, "--ledger-only", help="Only apply the events to the ledger; send nothing."
    ),
    max_reject_rate: float | None = _MAX_REJECT_RATE,
    stripe_block: str | None = STRIPE_BLOCK,
    customerio_block: str | None = CUSTOMERIO_BLOCK,
) -> None:
    """Apply Stripe's new events to the ledger and send Customer.io what they changed.

    The `sync-stripe-events` flow's job: the touched persons' changed attributes and their
    lifecycle events. Needs no backfill: customers the ledger lacks are read from Stripe with
    their history first.

    Example: stripe-cio sync --since 2026-11-20T00:00:00Z
    """
    run_job(
        sync_job(
            connections(
                stripe=True,
                customerio=not ledger_only,
                stripe_block=stripe_block,
                customerio_block=customerio_block,
            ),
            ConsoleRunner("sync"),
            since=parse_time(since) if since else None,
            overlap=overlap,
            ledger_only=ledger_only,
            max_reject_rate=max_reject_rate,
        )
    )


def enrich_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Send nothing; show what would change, with sample payloads."
    ),
    as_of: str | None = typer.Option(
        None, help="Reference time of the attributes (Unix s or ISO 8601; default: now)."
    ),
    limit: int | None = typer.Option(None, min=0, help="Only the first N persons."),
    partitions: int = typer.Option(
        1,
        min=1,
        help="Split the persons into N partitions, each computed from its own rows: peak "
        "memory follows a partition, not the account.",
    ),
    partition_concurrency: int = typer.Option(
        1, min=1, help="Partitions computed at once (each holds its own rows in memory)."
    ),
    max_reject_rate: float | None = _MAX_REJECT_RATE,
    customerio_block: str | None = CUSTOMERIO_BLOCK,
) -> None:
    """Compute every person's attributes from the ledger and send Customer.io what changed.

    The `enrich-profiles` flow's job.

    Example: stripe-cio enrich --dry-run --as-of 2026-01-01T00:00:00Z --limit 100
    """
    conns = connections(stripe=False, customerio=not dry_run, customerio_block=customerio_block)
    run_job(
        enrich_job(
            conns,
            ConsoleRunner("enrich"),
            dry_run=dry_run,
            as_of=parse_time(as_of) if as_of else None,
            limit=limit,
            max_reject_rate=max_reject_rate,
            partitions=partitions,
            run_partitions=in_threads(attribute_settings_from_env(), partition_concurrency),
        )
    )
