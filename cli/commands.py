"""Every `stripe-cio` command in one registry, each imported only when it is run.

A command's module imports what the command needs (pandas, the ledger, Prefect), which takes
seconds; `stripe-cio --help` lists the commands from this registry alone, so it and
`stripe-cio version` answer at once. A test checks each summary against the command's own help.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

import typer
import typer.core


@dataclass(frozen=True)
class CommandEntry:
    """One command of the root group: its name, where it lives, and its one-line summary."""

    name: str
    # "module:attribute", the module in this package unless dotted: a typer.Typer or a function
    target: str
    summary: str


COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry(
        "backfill",
        "jobs:backfill_command",
        "Read Stripe's history into the ledger, then send every person's changed attributes.",
    ),
    CommandEntry(
        "sync",
        "jobs:sync_command",
        "Apply Stripe's new events to the ledger and send Customer.io what they changed.",
    ),
    CommandEntry(
        "enrich",
        "jobs:enrich_command",
        "Compute every person's attributes from the ledger and send Customer.io what changed.",
    ),
    CommandEntry(
        "webhooks",
        "webhooks:webhooks_app",
        "Receive Stripe's webhooks: verified events reach Customer.io in about a second.",
    ),
    CommandEntry(
        "accounts",
        "accounts:accounts_command",
        "List the connected accounts of a Stripe Connect platform, and which a run would sync.",
    ),
    CommandEntry(
        "dead-letters",
        "dead_letters:dead_letters_app",
        "Items refused by Customer.io or by our pre-send checks: list them, resend them.",
    ),
    CommandEntry(
        "status",
        "orchestration:status",
        "Show where the pipeline stands: the ledger, Customer.io's side and the last runs.",
    ),
    CommandEntry(
        "doctor",
        "doctor:doctor_command",
        "Check that the ledger, Stripe, Customer.io and the Prefect API can be reached.",
    ),
    CommandEntry(
        "config",
        "root:show_config",
        "Validate the settings from the environment and show them, secrets masked.",
    ),
    CommandEntry(
        "sandbox",
        "stripe_cio.sandbox.command:sandbox_app",
        "Serve local Stripe and Customer.io APIs with a synthetic account (loopback only).",
    ),
    CommandEntry(
        "demo",
        "demo:demo",
        "Run the main job against the built-in sandbox and report what happened.",
    ),
    CommandEntry(
        "blocks",
        "blocks:blocks_app",
        "Manage stripe-cio's Prefect credential blocks.",
    ),
    CommandEntry(
        "notifications",
        "orchestration:notifications_app",
        "Tell the operator when a stripe-cio run fails or crashes.",
    ),
    CommandEntry(
        "serve",
        "orchestration:serve",
        "Serve the deployments of prefect.yaml from this process, for a server without a pool.",
    ),
    CommandEntry(
        "version",
        "root:version",
        "Print the stripe-cio version.",
    ),
)
COMMAND_BY_NAME = {entry.name: entry for entry in COMMANDS}


def load_command(entry: CommandEntry) -> Any:
    """The click command of `entry`, importing its module."""
    module_name, _, attribute = entry.target.partition(":")
    module = module_name if "." in module_name else f"{__package__}.{module_name}"
    loaded = getattr(import_module(module), attribute)
    if not isinstance(loaded, typer.Typer):
        group = typer.Typer(add_completion=False)
        group.command(entry.name)(loaded)
        loaded = group
    return typer.main.get_command(loaded)


class LazyGroup(typer.core.TyperGroup):
    """The root group: lists COMMANDS from the registry, imports one only to run it."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [entry.name for entry in COMMANDS]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # Help asks for every command to show its summary; the registry answers instead.
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = COMMAND_BY_NAME.get(cmd_name)
        if entry is None:
            return None
        if self._listing:
            return typer.core.TyperCommand(entry.name, short_help=entry.summary)
        command = self.commands.get(cmd_name)
        if command is None:
            command = load_command(entry)
            self.add_command(command, cmd_name)
        return command
