"""How Prefect retries a stripe-cio task: the retry options, and which failures are transient."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from stripe_cio import StripeCioError

# Coarse retries for an API that stayed away longer than the clients' own retries. A task
# marked retryable is idempotent (cursors, snapshots and delivered-event ids), so a retry
# resends nothing that was accepted.
_RETRIES = 2
_RETRY_DELAYS = exponential_backoff(backoff_factor=30)
_RETRY_JITTER = 0.5

# The clients already retried each request (honouring Retry-After and Stripe-Should-Retry);
# a task retry only helps when the whole API was away for longer than that. Our errors say
# themselves whether they are transient (StripeCioError.transient); of the rest, only a
# connection that failed or timed out is worth another try.
_TRANSIENT = (ConnectionError, TimeoutError)


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """A Prefect `retry_condition_fn`: retry unavailability, never auth, bad settings or a 4xx."""
    # _sync: this runs inside the task engine's event loop, where result() would be a coroutine.
    error = state.result(raise_on_failure=False, _sync=True)
    if isinstance(error, StripeCioError):
        return error.transient
    return isinstance(error, _TRANSIENT)


def task_options(retry: bool) -> dict[str, Any]:
    """The retry keyword arguments of `@task`: transient failures retried with backoff, or none."""
    return {
        "retries": _RETRIES if retry else 0,
        "retry_delay_seconds": _RETRY_DELAYS,
        "retry_jitter_factor": _RETRY_JITTER,
        "retry_condition_fn": transient_only if retry else None,
    }
