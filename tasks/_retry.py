"""Which task failures Prefect should retry: coarse transient ones only, never a 4xx."""

from __future__ import annotations

from typing import Any

from stripe_cio import APIError, ConfigError, StripeUnavailableError
from stripe_cio.extract import ExtractionStopped

__all__ = ["transient_only"]

# The clients already retried each request (honouring Retry-After and Stripe-Should-Retry);
# a task retry only helps when the whole API was away for longer than that.
_TRANSIENT = (StripeUnavailableError, ConnectionError, TimeoutError)
_PERMANENT = (ConfigError, ExtractionStopped)


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """A Prefect `retry_condition_fn`: retry unavailability, never bad settings or a 4xx."""
    # _sync: this runs inside the task engine's event loop, where result() would be a coroutine.
    error = state.result(raise_on_failure=False, _sync=True)
    if isinstance(error, _PERMANENT):
        return False
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, APIError):
        status = error.status_code
        return status is None or status >= 500 or status == 429
    return False
