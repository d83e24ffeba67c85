"""What every stripe-cio flow shares: masked logs, failure notifications, a bounded runner."""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from tasks.logs import redact_run_logs
from tasks.notify import notify_on_failure

__all__ = ["flow_options"]

# The flows await their coarse tasks one after another, so the runner's threads only serve a
# task submitted with .submit(); bounded all the same, to the cores a small worker has.
_MAX_WORKERS = 4


def flow_options(name: str, description: str) -> dict[str, Any]:
    """Keyword arguments of `@flow` for a stripe-cio flow called `name`."""
    return {
        "name": name,
        "description": description,
        "on_running": [redact_run_logs],
        "on_failure": [notify_on_failure],
        "on_crashed": [notify_on_failure],
        "task_runner": ThreadPoolTaskRunner(max_workers=_MAX_WORKERS),
        # A flow's retry would redo what its tasks already retried; failures go to the operator.
        "retries": 0,
        "log_prints": False,
        "validate_parameters": True,
    }
