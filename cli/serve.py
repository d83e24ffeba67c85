"""`stripe-cio serve`: the four deployments of prefect.yaml, served from this one process."""

from __future__ import annotations

import typer
from prefect import serve as prefect_serve
from rich.console import Console

from blocks.prefect_api import prefect_api_errors
from flows.deployments import deployment_specs

console = Console()


def serve(
    limit: int = typer.Option(4, min=1, help="Flow runs this process runs at once."),
) -> None:
    """Serve the deployments of prefect.yaml from this process, for a server without a pool.

    Their schedules, parameters and concurrency limits as prefect.yaml sets them. Each run
    starts in its own subprocess; stop with Ctrl-C.

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api stripe-cio serve
    """
    specs = deployment_specs()
    for spec in specs:
        when = ", ".join(str(s.cron or s.interval) for s in spec.schedules) or "on demand"
        console.print(f"  {spec.name}: {when}")
    with prefect_api_errors("registering the deployments"):
        prefect_serve(*(spec.to_runner_deployment() for spec in specs), limit=limit)
