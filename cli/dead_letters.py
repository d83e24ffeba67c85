"""`stripe-cio dead-letters list|replay`: what Customer.io (or our checks) refused; resending it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from stripe_cio.deliver import DeliveryStore, Kind
from stripe_cio.jobs import replay_job
from stripe_cio.ledger import Ledger
from stripe_cio.settings import ledger_settings_from_env

from .jobs import _MAX_REJECT_RATE, CUSTOMERIO_BLOCK, ConsoleRunner, connections, run_job

console = Console()
dead_letters_app = typer.Typer(
    name="dead-letters",
    help="Items refused by Customer.io or by our pre-send checks: list them, resend them.",
    no_args_is_help=True,
)


class ItemKind(StrEnum):
    person = "person"
    event = "event"

    @property
    def kind(self) -> Kind:
        return "person" if self is ItemKind.person else "event"


def _when(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


@dead_letters_app.command("list")
def list_command(
    include_resolved: bool = typer.Option(False, "--all", help="Include resolved dead letters."),
    kind: ItemKind | None = typer.Option(None, help="Only person updates or only events."),
    limit: int = typer.Option(100, help="Show at most this many, oldest first."),
    payload: bool = typer.Option(False, "--payload", help="Show each item as it would be sent."),
) -> None:
    """Show the dead letters in the ledger: what was refused, why, and how often.

    Example: stripe-cio dead-letters list --kind person
    """
    with Ledger.open(ledger_settings_from_env(os.environ)) as ledger:
        ledger.check_integrity()
        store = DeliveryStore.of(ledger)
        letters = store.dead_letters(
            include_resolved=include_resolved, kind=kind.kind if kind else None, limit=limit
        )
        open_by_reason = store.count_dead_letters()
    table = Table("id", "kind", "person", "reason", "field", "message", "tries", "last failed")
    if include_resolved:
        table.add_column("resolved")
    for letter in letters:
        row = [
            str(letter.id), letter.kind, letter.person_key, letter.reason, letter.field or "",
            letter.message, str(letter.attempts), _when(letter.last_failed_at),
        ]  # fmt: skip
        if include_resolved:
            row.append(
                f"{letter.resolution} {_when(letter.resolved_at)}" if letter.resolution else ""
            )
        table.add_row(*row)
    total = sum(open_by_reason.values())
    reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(open_by_reason.items()))
    table.title = f"{total} open dead letters" + (f" ({reasons})" if reasons else "")
    console.print(table)
    if payload:
        for letter in letters:
            console.print(
                f"[bold]{letter.id}[/bold] {letter.payload}", highlight=False, markup=True
            )
    if total:
        console.print("Fix the cause, then run `stripe-cio dead-letters replay`.")


@dead_letters_app.command("replay")
def replay_command(
    ids: list[int] | None = typer.Option(None, "--id", help="Replay only these (repeatable)."),
    kind: ItemKind | None = typer.Option(None, help="Only person updates or only events."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count, send nothing."),
    max_reject_rate: float | None = _MAX_REJECT_RATE,
    customerio_block: str | None = CUSTOMERIO_BLOCK,
) -> None:
    """Resend open dead letters under the ledger's push lock, persons first, then events: the
    `replay-dead-letters` flow's job. What still fails stays open.

    Example: stripe-cio dead-letters replay --id 12 --id 13
    """
    summary = run_job(
        replay_job(
            connections(stripe=False, customerio=not dry_run, customerio_block=customerio_block),
            ConsoleRunner("dead-letters replay"),
            ids=ids or None,
            kind=kind.kind if kind else None,
            dry_run=dry_run,
            max_reject_rate=max_reject_rate,
        )
    )
    if summary.rejected:
        console.print("Still refused: see `stripe-cio dead-letters list`.")
