"""The pipeline phases a child runs: backfill-history (with enrich-profiles) and
sync-stripe-events, either through the real Prefect flows or through the same Prefect tasks'
functions wired as the flows wire them, without Prefect's engine (fast enough to restart a
child dozens of times).

The clock the flows read (`datetime.now`) is the Stripe sandbox's, fixed for the run: in
production Stripe's clock and ours agree; here the sandbox's is frozen at `--now` and moved by
`POST /_sandbox/advance`, and attributes with 30/90/365-day windows must not depend on when the
test happens to run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import uuid4

__all__ = ["freeze_clock", "frozen_datetime", "quiet_prefect", "run_phase"]

ENRICH_WAITS_FOR_LOCK = 900.0
OVERLAP = 600


def frozen_datetime(now: int) -> type[datetime]:
    """A `datetime` whose `now()` answers `now`."""

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> FrozenDatetime:
            return cls.fromtimestamp(now, tz)

    return FrozenDatetime


def freeze_clock(now: int) -> None:
    """Make the flows' `datetime.now()` answer `now` (the Stripe sandbox's clock)."""
    import flows.enrich
    import flows.sync

    for module in (flows.enrich, flows.sync):
        setattr(module, "datetime", frozen_datetime(now))  # noqa: B010 - not a public name


def quiet_prefect() -> None:
    """Let the tasks' functions run outside a Prefect run: a plain logger, no artifacts."""
    import tasks.attributes
    import tasks.deliver
    import tasks.extract
    import tasks.lifecycle
    import tasks.pipeline

    logger = logging.getLogger("stripe_cio.crash_child")

    async def no_artifact(*args: Any, **kwargs: Any) -> Any:
        return uuid4()

    for module in (tasks.attributes, tasks.deliver, tasks.extract, tasks.lifecycle, tasks.pipeline):
        module.get_run_logger = lambda: logger  # type: ignore[attr-defined]
        for name in ("acreate_markdown_artifact", "acreate_progress_artifact",
                     "aupdate_progress_artifact"):  # fmt: skip
            if hasattr(module, name):
                setattr(module, name, no_artifact)


async def run_phase(phase: str, now: int, via: str) -> str:
    """Run `phase` ("backfill" or "sync") once; returns "completed" or "cancelled"."""
    if via == "flows":
        return await _through_flows(phase)
    if phase == "backfill":
        await _backfill_history(now)
        return "completed"
    return await _sync_stripe_events(now)


async def _through_flows(phase: str) -> str:
    from prefect.client.schemas.objects import State

    from flows.backfill import backfill_history
    from flows.sync import sync_stripe_events

    flow = backfill_history if phase == "backfill" else sync_stripe_events
    state: State[Any] = await flow(return_state=True)
    if state.is_cancelled():
        return "cancelled"
    if not state.is_completed():
        raise RuntimeError(f"{phase} ended {state.type.value}: {state.message}")
    return "completed"


# --- the flows' wiring, through the tasks' functions (see flows/backfill.py, enrich.py, sync.py)


async def _backfill_history(now: int) -> None:
    from stripe_cio.runs import BackfillIncompleteError
    from tasks.extract import backfill_stripe
    from tasks.pipeline import start_events_cursor

    pulled = await backfill_stripe.fn(None, since=0)
    if pulled["failed"]:
        raise BackfillIncompleteError(f"{len(pulled['failed'])} slices could not be read")
    await start_events_cursor.fn(pulled["t0"])
    await _enrich_profiles(now, wait=ENRICH_WAITS_FOR_LOCK)


async def _enrich_profiles(now: int, wait: float) -> None:
    from tasks.attributes import compute_attributes
    from tasks.deliver import push_person_updates
    from tasks.pipeline import exclusive_run, plan_person_updates

    async with exclusive_run("enrich-profiles", wait=wait):
        result = await compute_attributes.fn(datetime.fromtimestamp(now, UTC))
        updates = await plan_person_updates.fn(result)
        await push_person_updates.fn(updates, None, False)


async def _sync_stripe_events(now: int) -> str:
    from stripe_cio.runs import RunInProgressError
    from tasks.attributes import compute_attributes
    from tasks.deliver import push_person_updates
    from tasks.extract import sync_stripe_events as pull_stripe_events
    from tasks.lifecycle import deliver_lifecycle_events
    from tasks.pipeline import (
        advance_mark,
        customers_touched_since_mark,
        exclusive_run,
        plan_person_updates,
    )

    try:
        async with exclusive_run("sync-stripe-events"):
            synced = await pull_stripe_events.fn(None, since=None, overlap=OVERLAP)
            cursor = synced["cursor_after"]
            touched = await customers_touched_since_mark.fn(OVERLAP, new_events=synced["applied"])
            updates = []
            if touched:
                as_of = datetime.fromtimestamp(max(now, cursor or 0), UTC)
                result = await compute_attributes.fn(as_of)
                updates = await plan_person_updates.fn(result, touched=touched)
            if updates:
                await push_person_updates.fn(updates, None)
            if cursor is not None:
                await advance_mark.fn(cursor)
            await deliver_lifecycle_events.fn(None)
    except RunInProgressError:
        return "cancelled"
    return "completed"
