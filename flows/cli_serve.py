"""`stripe-cio serve`: the four deployments of prefect.yaml, served from this one process."""

from __future__ import annotations

import typer
from prefect import serve as prefect_serve
from rich.console import Console

from blocks.prefect_api import prefect_api_errors

from .deployments import deployment_specs

console = Console()
serve_app = typer.Typer(name="serve", add_completion=False)


@serve_app.command()
def serve(
    limit: int = typer.Option(4, min=1, help="Flow runs this process runs at once."),
) -> None:
    """Serve the deployments of prefect.yaml (schedules, parameters, concurrency limits) from
    this process, for a Prefect server without a work pool. Each run starts in its own
    subprocess; stop with Ctrl-C.

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api stripe-cio serve
    """
    specs = deployment_specs()
    for spec in specs:
        when = ", ".join(str(s.cron or s.interval) for s in spec.schedules) or "on demand"
        console.print(f"  {spec.name}: {when}")
    with prefect_api_errors("registering the deployments"):
        prefect_serve(*(spec.to_runner_deployment() for spec in specs), limit=limit)
