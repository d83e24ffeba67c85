"""What every stripe-cio flow shares: failure notifications and a bounded task runner."""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from tasks.notify import notify_on_failure

__all__ = ["flow_options"]

# Flows await their coarse tasks one after another; the few that run side by side (none yet
# beyond Prefect's own bookkeeping) need no more threads than the machine's 2-4 cores.
_MAX_WORKERS = 4


def flow_options(name: str, description: str) -> dict[str, Any]:
    """Keyword arguments of `@flow` for a stripe-cio flow called `name`."""
    return {
        "name": name,
        "description": description,
        "on_failure": [notify_on_failure],
        "on_crashed": [notify_on_failure],
        "task_runner": ThreadPoolTaskRunner(max_workers=_MAX_WORKERS),
        # A flow's retry would redo what its tasks already retried; failures go to the operator.
        "retries": 0,
        "log_prints": False,
        "validate_parameters": True,
    }
