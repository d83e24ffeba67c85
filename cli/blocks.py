"""`stripe-cio blocks ...`: register the block types and save blocks from the environment."""

from __future__ import annotations

import typer
from rich.console import Console

from blocks.credentials import CustomerIOCredentials, StripeCredentials
from blocks.prefect_api import prefect_api_errors
from stripe_cio import ConfigError, customerio_settings_from_env, stripe_settings_from_env

blocks_app = typer.Typer(
    name="blocks", help="Manage stripe-cio's Prefect credential blocks.", add_completion=False
)
console = Console()


@blocks_app.command()
def register() -> None:
    """Register the StripeCredentials and CustomerIOCredentials block types with the Prefect API.

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api stripe-cio blocks register
    """
    for block_type in (StripeCredentials, CustomerIOCredentials):
        with prefect_api_errors(f"registering the {block_type.__name__} block type"):
            block_type.register_type_and_schema()
        console.print(f"registered block type {block_type.get_block_type_slug()}")


@blocks_app.command("save-from-env")
def save_from_env(
    stripe: str = typer.Option(None, help="Save STRIPE_* variables as this StripeCredentials."),
    customerio: str = typer.Option(
        None, help="Save CUSTOMERIO_* variables as this CustomerIOCredentials."
    ),
    overwrite: bool = typer.Option(False, help="Replace a block that already exists."),
) -> None:
    """Save the credentials in the environment as named blocks, so flows can use them by name.

    Example: stripe-cio blocks save-from-env --stripe prod --customerio prod
    """
    if not stripe and not customerio:
        raise typer.BadParameter("name at least one block: --stripe NAME and/or --customerio NAME")
    if stripe:
        _save(StripeCredentials.from_settings(stripe_settings_from_env()), stripe, overwrite)
    if customerio:
        block = CustomerIOCredentials.from_settings(customerio_settings_from_env())
        _save(block, customerio, overwrite)


def _save(block: StripeCredentials | CustomerIOCredentials, name: str, overwrite: bool) -> None:
    kind = type(block).__name__
    with prefect_api_errors(f"saving the {kind} block {name!r}"):
        try:
            block.save_sync(name, overwrite=overwrite)
        except ValueError as exc:
            if "already in use" not in str(exc):
                raise
            raise ConfigError(
                name, f"a {kind} block of this name exists", "add --overwrite to replace it"
            ) from None
    console.print(f"saved {kind} block {name!r}")
