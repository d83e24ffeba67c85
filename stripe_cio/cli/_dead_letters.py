"""`stripe-cio dead-letters list|replay`: what Customer.io (or our checks) refused; resending it."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from .._settings import CustomerIOSettings, customerio_settings_from_env, ledger_settings_from_env
from ..cio_api import CustomerIOClient
from ..deliver import DeliveryStore, DeliverySummary, Kind, replay_dead_letters
from ..ledger import Ledger

__all__ = ["dead_letters_app"]

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
            letter.message[:80], str(letter.attempts), _when(letter.last_failed_at),
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


def _summary_table(summary: DeliverySummary) -> Table:
    table = Table("", "", title="dead-letter replay" + (" (dry run)" if summary.dry_run else ""))
    for what, count in summary.rows():
        table.add_row(what, count)
    table.add_row("dead letters resolved", str(summary.dead_letters_resolved))
    return table


@dead_letters_app.command("replay")
def replay_command(
    ids: list[int] | None = typer.Option(None, "--id", help="Replay only these (repeatable)."),
    kind: ItemKind | None = typer.Option(None, help="Only person updates or only events."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count, send nothing."),
) -> None:
    """Resend open dead letters: persons first, then events; what still fails stays open.

    Example: stripe-cio dead-letters replay --id 12 --id 13
    """
    settings = None if dry_run else customerio_settings_from_env(os.environ)
    with Ledger.open(ledger_settings_from_env(os.environ)) as ledger:
        summary = asyncio.run(
            _replay(settings, DeliveryStore.of(ledger), ids, kind.kind if kind else None, dry_run)
        )
    console.print(_summary_table(summary))
    still = summary.persons_rejected + summary.events_rejected
    if still:
        console.print(
            f"[yellow]{still} still refused[/yellow]; see `stripe-cio dead-letters list`."
        )
        raise typer.Exit(1)


async def _replay(
    settings: CustomerIOSettings | None,
    store: DeliveryStore,
    ids: list[int] | None,
    kind: Kind | None,
    dry_run: bool,
) -> DeliverySummary:
    if settings is None:
        return await replay_dead_letters(None, store, ids=ids or None, kind=kind, dry_run=True)
    async with CustomerIOClient(settings) as client:
        return await replay_dead_letters(client, store, ids=ids or None, kind=kind, dry_run=dry_run)
