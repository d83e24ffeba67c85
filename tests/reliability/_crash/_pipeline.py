"""The pipeline phases a child runs: the backfill job (which then enriches every person) and the
sync job, either through the real Prefect flows or by calling the same job functions with the
plain runner, without Prefect's engine (fast enough to restart a child dozens of times). Both
paths run the one sequence each job owns (`stripe_cio/jobs/`); the harness wires nothing.

The clock the jobs take the attributes' as-of time from is the Stripe sandbox's, fixed for the
run: in production Stripe's clock and ours agree; here the sandbox's is frozen at `--now` and
moved by `POST /_sandbox/advance`, and attributes with 30/90/365-day windows must not depend on
when the test happens to run. The engine path passes it as `clock`; the flows pass no clock, so
for them the jobs' default clock is set to it (`frozen_job_clocks`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from stripe_cio import (
    customerio_settings_from_env,
    ledger_settings_from_env,
    stripe_settings_from_env,
)
from stripe_cio.jobs import Connections, PlainRunner, backfill_job, enrich_job, sync_job
from stripe_cio.runs import RunInProgressError

__all__ = ["frozen_job_clocks", "run_phase"]


@contextmanager
def frozen_job_clocks(now: int) -> Iterator[None]:
    """Make the jobs' default clock (`time.time`, the one a flow's call leaves them) answer
    `now` for the block: the Stripe sandbox's clock."""
    defaults: list[dict[str, Any]] = []
    for job in (backfill_job, enrich_job, sync_job):
        values = job.__kwdefaults__
        assert values is not None, f"{job.__name__} takes no keyword arguments"
        assert "clock" in values, f"{job.__name__} takes no clock"
        defaults.append(values)
    saved = [values["clock"] for values in defaults]

    def frozen() -> float:
        return float(now)

    for values in defaults:
        values["clock"] = frozen
    try:
        yield
    finally:
        for values, clock in zip(defaults, saved, strict=True):
            values["clock"] = clock


async def run_phase(phase: str, now: int, via: str) -> str:
    """Run `phase` ("backfill" or "sync") once; returns "completed", or "cancelled" when
    another run held the ledger (the job did nothing). Any failure of the job propagates."""
    if via == "flows":
        with frozen_job_clocks(now):
            return await _through_flows(phase)
    connections = Connections(
        ledger=ledger_settings_from_env(os.environ),
        stripe=stripe_settings_from_env(os.environ),
        customerio=customerio_settings_from_env(os.environ),
    )
    runner = PlainRunner(holder=f"crash test {phase} (pid {os.getpid()})")

    def clock() -> float:
        return float(now)

    try:
        if phase == "backfill":
            await backfill_job(connections, runner, clock=clock)
        else:
            await sync_job(connections, runner, clock=clock)
    except RunInProgressError:
        return "cancelled"
    return "completed"


async def _through_flows(phase: str) -> str:
    from prefect.client.schemas.objects import State

    from flows.backfill import backfill_history
    from flows.sync import sync_stripe_events

    flow: Callable[..., Any] = backfill_history if phase == "backfill" else sync_stripe_events
    state: State[Any] = await flow(return_state=True)
    if state.is_cancelled():
        return "cancelled"
    if not state.is_completed():
        raise RuntimeError(f"{phase} ended {state.type.value}: {state.message}")
    return "completed"
