"""The commands that talk to the Prefect API: `status` (cursors, ledger counts, the last runs and
the dead letters), `serve` (the deployments from this process), `notifications setup` (the
Automation that reports failed runs), and `doctor`'s Prefect check."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from prefect import serve as prefect_serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterStartTime,
)
from prefect.client.schemas.sorting import FlowRunSort
from prefect.settings import PREFECT_API_URL
from rich.console import Console
from rich.table import Table

from blocks.prefect_api import api_url, prefect_api_errors
from flows import FLOW_NAMES
from flows.deployments import deployment_specs
from stripe_cio import ledger_settings_from_env, redact
from stripe_cio.exceptions import ConfigError
from stripe_cio.ledger import Ledger
from stripe_cio.runs import LedgerStatus, ledger_status
from stripe_cio.settings_base import ENV_NAMES
from stripe_cio.webhooks import REJECT_REASONS
from stripe_cio.webhooks.store import COUNTERS
from tasks.notify import save_failure_automation

console = Console()


def _when(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ledger_table(status: LedgerStatus) -> Table:
    table = Table("", "", title=f"ledger {status.database}", show_header=False)
    table.add_row("events cursor (last Stripe event synced)", _when(status.events_cursor))
    table.add_row("attributes pushed for events up to", _when(status.attributes_mark))
    horizon = status.history_horizon
    held = {0: "the beginning", None: "no time yet (a backfill reads it)"}
    table.add_row(
        "whole history held for customers created from",
        held[horizon] if horizon in held else _when(horizon),
    )
    for run in status.unfinished_backfills:
        table.add_row(
            f"unfinished backfill {run.run}",
            f"resume: stripe-cio backfill --run {run.run}",
        )
    for resource, count in status.objects.items():
        table.add_row(resource, f"{count:,}")
    table.add_row("Stripe events processed", f"{status.processed_events:,}")
    table.add_row("Stripe objects rejected", f"{status.rejected_objects:,}")
    for reason, count in status.rejects_by_reason.items():
        table.add_row(f"  {reason}", f"{count:,}")
    table.add_row("persons Customer.io accepted", f"{status.persons_delivered:,}")
    table.add_row("events Customer.io accepted", f"{status.events_delivered:,}")
    open_letters = sum(status.open_dead_letters.values())
    table.add_row("open dead letters", f"{open_letters:,}")
    for reason, count in sorted(status.open_dead_letters.items()):
        table.add_row(f"  {reason}", f"{count:,}")
    _webhook_rows(table, status)
    return table


def _webhook_rows(table: Table, status: LedgerStatus) -> None:
    """The webhook receiver's counters, once it has received anything."""
    counts = dict(status.webhooks)
    if not counts:
        return
    lag_sum = counts.pop("lag_ms_sum", 0)
    for name, meaning in COUNTERS.items():
        table.add_row(f"webhooks: {meaning}", f"{counts.pop(name, 0):,}")
    for name in sorted(n for n in counts if n.startswith("rejected:")):
        reason = name.removeprefix("rejected:")
        meaning = REJECT_REASONS.get(reason, reason)
        table.add_row(f"webhooks refused: {meaning}", f"{counts.pop(name):,}")
    delivered = status.webhooks.get("delivered", 0)
    if delivered:
        table.add_row(
            "webhooks: mean time from Stripe's event to its delivery",
            f"{lag_sum / delivered / 1000:.2f} s",
        )
    if status.webhook_pending:
        table.add_row(
            "webhooks: received, delivery to come (the next round or the sync sends them)",
            f"{status.webhook_pending:,}",
        )
    if status.webhook_inbox:
        table.add_row("webhooks: events waiting to be read again", f"{status.webhook_inbox:,}")


async def _last_runs(per_flow: int) -> list[tuple[str, Any]]:
    async with get_client() as client:
        found = []
        for name in FLOW_NAMES:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[name])),
                # Runs that started: scheduled ones ahead are not "last runs".
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=False)),
                sort=FlowRunSort.START_TIME_DESC,
                limit=per_flow,
            )
            found += [(name, run) for run in runs]
    return found


def _runs_table(runs: list[tuple[str, Any]]) -> Table:
    """The last runs; names fold rather than being cut on a narrow terminal."""
    table = Table(title="last runs")
    table.add_column("flow", overflow="fold")
    table.add_column("run", overflow="fold")
    table.add_column("state", overflow="fold")
    table.add_column("started (UTC)", overflow="fold")
    table.add_column("seconds", justify="right")
    for name, run in runs:
        started = run.start_time.strftime("%Y-%m-%d %H:%M") if run.start_time else ""
        seconds = f"{run.total_run_time.total_seconds():.1f}" if run.start_time else ""
        table.add_row(name, run.name, run.state_name or "", started, seconds)
    return table


def _why_not_completed(runs: list[tuple[str, Any]]) -> list[str]:
    """A line per listed run that did not complete: its state's message, the one line it
    failed (or was cancelled) with, which says what to do."""
    return [
        f"{name} run {run.name} {(run.state_name or '').lower()}: {redact(run.state.message)}"
        for name, run in runs
        if run.state is not None and not run.state.is_completed() and run.state.message
    ]


async def prefect_api_check(env: Mapping[str, str]) -> str:
    """`stripe-cio doctor`'s line on the Prefect API: reachable, healthy, its version."""
    if not PREFECT_API_URL.value():
        # Starting a temporary server only to check it would prove nothing about deployments.
        return (
            "PREFECT_API_URL is not set: flows run here would start a temporary local server; "
            "set it to the server that runs the deployments"
        )
    with prefect_api_errors("checking its health"):
        async with get_client() as client:
            problem = await client.api_healthcheck()
            if problem is not None:
                raise problem
            version = await client.api_version()
    return f"{api_url()}: healthy, Prefect {version}"


def status(
    runs: int = typer.Option(3, min=0, help="Last runs to show per flow (0: skip Prefect)."),
) -> None:
    """Show where the pipeline stands: the ledger, Customer.io's side and the last runs.

    The events cursor, what the ledger holds, what Customer.io accepted, the open dead letters
    and the last runs of each flow.

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api stripe-cio status --runs 5
    """
    with Ledger.open(ledger_settings_from_env()) as ledger:
        ledger.check_integrity()
        console.print(_ledger_table(ledger_status(ledger)))
    if runs:
        with prefect_api_errors("reading the last runs (--runs 0 skips them)"):
            last = asyncio.run(_last_runs(runs))
        console.print(_runs_table(last))
        for line in _why_not_completed(last):
            console.print(line, highlight=False, markup=False, soft_wrap=True)


# --- serve ----------------------------------------------------------------------------------------
# `stripe-cio serve`: the deployments of prefect.yaml, served from this one process.

console = Console()


def serve(
    limit: int = typer.Option(4, min=1, help="Flow runs this process runs at once."),
    webhooks_port: int = typer.Option(
        8788,
        "--webhooks-port",
        help="Port of the webhook receiver, started beside the flows when STRIPE_WEBHOOK_SECRET "
        "is set (docs/webhooks.md).",
    ),
) -> None:
    """Serve the deployments of prefect.yaml from this process, for a server without a pool.

    Their schedules, parameters and concurrency limits as prefect.yaml sets them. Each run
    starts in its own subprocess; stop with Ctrl-C. With STRIPE_WEBHOOK_SECRET set, the webhook
    receiver runs beside them (`stripe-cio webhooks serve`), each of its delivery rounds
    recorded as a Prefect event.

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api stripe-cio serve
    """
    with _webhook_receiver(webhooks_port):
        _serve_deployments(limit)


@contextmanager
def _webhook_receiver(port: int) -> Iterator[None]:
    """`stripe-cio webhooks serve` in a child process while the block runs, when a webhook
    secret is configured."""
    if not os.environ.get(ENV_NAMES[("stripe", "webhook_secrets")], "").strip():
        yield
        return
    if _answers(port):
        raise ConfigError(
            "--webhooks-port",
            f"{port} is already in use on 127.0.0.1 (another receiver?)",
            "stop that program or give another port",
        )
    command = [sys.executable, "-m", "cli", "webhooks", "serve", "--port", str(port)]
    child = subprocess.Popen([*command, "--prefect-events"])  # noqa: S603 - our own command
    if not _listening(child, port):
        # It printed its own one line (a busy port, a setting): serve nothing without it.
        raise typer.Exit(child.returncode or 1)
    console.print(f"  webhook receiver: http://127.0.0.1:{port}/webhooks/stripe")
    try:
        yield
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def _listening(child: subprocess.Popen[bytes], port: int, timeout: float = 60.0) -> bool:
    """Whether the receiver `child` came to listen on `port`, rather than exiting first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            return False
        if _answers(port):
            return True
        time.sleep(0.2)
    child.kill()
    child.wait()
    return False


def _answers(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _serve_deployments(limit: int) -> None:
    specs = deployment_specs()
    for spec in specs:
        when = ", ".join(str(s.cron or s.interval) for s in spec.schedules) or "on demand"
        console.print(f"  {spec.name}: {when}")
    with prefect_api_errors("registering the deployments"):
        prefect_serve(*(spec.to_runner_deployment() for spec in specs), limit=limit)


# --- notifications --------------------------------------------------------------------------------
# `stripe-cio notifications setup`: the server-side Automation that reports failed runs.

console = Console()
notifications_app = typer.Typer(
    name="notifications",
    help="Tell the operator when a stripe-cio run fails or crashes.",
    no_args_is_help=True,
    add_completion=False,
)


@notifications_app.callback()
def _group() -> None:
    """Tell the operator when a stripe-cio run fails or crashes."""


@notifications_app.command()
def setup(
    block: str = typer.Option(
        ..., help="A saved notification block: TYPE/NAME (e.g. slack-webhook/ops) or a NAME."
    ),
    name: str = typer.Option("stripe-cio: failed runs", help="The Automation's name."),
) -> None:
    """Create (or replace) a Prefect Automation that notifies through BLOCK whenever a run of a
    stripe-cio flow fails or crashes. It runs in the Prefect server, so it also reports runs
    whose process died; the flows' own hook (STRIPE_CIO_NOTIFY_BLOCK) can name the failing step.
    Use one or the other, or the operator hears of a failure twice.

    Example: stripe-cio notifications setup --block slack-webhook/ops
    """
    with prefect_api_errors("saving the Automation"):
        automation_id = asyncio.run(save_failure_automation(name, block, FLOW_NAMES))
    console.print(
        f"Automation {name!r} ({automation_id}) notifies through {block!r} when a run of "
        f"{', '.join(FLOW_NAMES)} fails or crashes."
    )
