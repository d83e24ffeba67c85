"""Which task failures Prefect should retry: transient ones only, never a permanent error."""

from __future__ import annotations

from typing import Any

from stripe_cio import StripeCioError

__all__ = ["transient_only"]

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
