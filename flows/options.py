"""What every stripe-cio flow shares: masked logs, failure notifications, a bounded runner, and
the connections a job gets from the flow's block parameters."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.client.schemas.objects import State
from prefect.states import Cancelled, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from blocks import CustomerIOCredentials, StripeCredentials, customerio_settings, stripe_settings
from stripe_cio import StripeCioError, ledger_settings_from_env, redact
from stripe_cio.jobs import Connections
from stripe_cio.runs import RunInProgressError, RunSummary
from tasks.notify import notify_on_failure, redact_run_logs

# The flows await their coarse tasks one after another, so the runner's threads only serve a
# task submitted with .submit(); bounded all the same, to the cores a small worker has.
_MAX_WORKERS = 4
F = TypeVar("F", bound=Callable[..., Any])


# The parameters several flows take, described once: `described` adds them to a flow's Args, from
# which Prefect's run form takes each parameter's description.
SHARED_PARAMETERS: dict[str, str] = {
    "stripe_credentials": (
        "The StripeCredentials block whose key reads Stripe. Empty: the STRIPE_* variables of "
        "the worker's environment."
    ),
    "customerio_credentials": (
        "The CustomerIOCredentials block whose site id, key and region reach Customer.io. "
        "Empty: the CUSTOMERIO_* variables of the worker's environment."
    ),
    "notify_block": (
        "The notification block (Slack, Teams, PagerDuty, email, a webhook) told when this run "
        "fails, naming the failing step. Empty: the block STRIPE_CIO_NOTIFY_BLOCK names (of any "
        "notification type), else no message from the run (an Automation made by `stripe-cio "
        "notifications setup` reports failures without it)."
    ),
    "max_reject_rate": (
        "The share of the run's input that may be rejected (0 to 1) before the run fails. "
        "Empty: STRIPE_CIO_MAX_REJECT_RATE, else 0.05."
    ),
    "dry_run": "Send nothing: publish what would be sent as a preview artifact.",
}


def described(fn: F) -> F:
    """`fn` with the descriptions of the shared parameters it takes added to its docstring's
    Args section, which must end the docstring."""
    taken = inspect.signature(fn).parameters
    lines = [f"        {name}: {text}" for name, text in SHARED_PARAMETERS.items() if name in taken]
    fn.__doc__ = (fn.__doc__ or "").rstrip() + "\n" + "\n".join(lines) + "\n    "
    return fn


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


def connections(
    stripe_credentials: StripeCredentials | None = None,
    customerio_credentials: CustomerIOCredentials | None = None,
    *,
    stripe: bool = True,
    customerio: bool = True,
) -> Connections:
    """The ledger, and the APIs the job needs, from the flow's blocks else the environment."""
    return Connections(
        ledger=ledger_settings_from_env(),
        stripe=stripe_settings(stripe_credentials) if stripe else None,
        customerio=customerio_settings(customerio_credentials) if customerio else None,
    )


def ended_by(error: StripeCioError) -> State[Any]:
    """The final state of a flow run that a job ended with `error`, its message the error's line.

    Another run holding the ledger cancels this one (it did nothing); every other expected
    failure fails it with the same one line the CLI prints, so that the run's page, the
    notification and `stripe-cio status` all lead with what failed and what to do. The error
    stays the state's data, so failure hooks still see where it was raised.
    """
    line = redact(str(error))
    if isinstance(error, RunInProgressError):
        return Cancelled(message=line, data=error)
    get_run_logger().error("%s: %s", type(error).__name__, line)
    return Failed(message=line, data=error)


async def job_outcome(start: Callable[[], Awaitable[RunSummary]]) -> RunSummary | State[Any]:
    """What a flow returns: the summary of the job `start` opens, or the state `ended_by` gives
    its expected failure (connecting included: a missing block fails the run in one line)."""
    try:
        return await start()
    except StripeCioError as error:
        return ended_by(error)
