"""`stripe-cio notifications setup`: the server-side Automation that reports failed runs."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from blocks.prefect_api import prefect_api_errors
from flows import FLOW_NAMES
from tasks.notify import save_failure_automation

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
