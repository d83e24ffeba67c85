"""Prefect tasks and helpers the flows share: which persons to send, the run lock, the summary,
the reject-rate threshold."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prefect import get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from stripe_cio import ConfigError, ledger_settings_from_env, run_settings_from_env
from stripe_cio.attributes import AttributeResult, attribute_settings_from_env
from stripe_cio.deliver import PersonUpdate
from stripe_cio.ledger import Ledger
from stripe_cio.runs import (
    RejectRateExceededError,
    RunSummary,
    TouchedCustomers,
    acquire_run_lock,
    advance_attributes_mark,
    attributes_mark,
    person_updates,
    reject_rate_problem,
    touched_customers,
    touched_persons,
)

__all__ = [
    "advance_mark",
    "customers_touched_since_mark",
    "enforce_reject_rate",
    "exclusive_run",
    "plan_person_updates",
    "publish_summary",
    "reject_threshold",
    "start_events_cursor",
]


@asynccontextmanager
async def exclusive_run(flow_name: str, wait: float = 0.0) -> AsyncIterator[None]:
    """Hold the ledger's push lock for the block, waiting up to `wait` seconds for it;
    RunInProgressError if another run keeps it."""
    ledger = Ledger.open(ledger_settings_from_env())
    holder = f"{flow_name} run {flow_run.get_name() or '?'}"
    try:
        release = await asyncio.to_thread(acquire_run_lock, ledger.engine, holder, wait=wait)
        try:
            yield
        finally:
            release()
    finally:
        ledger.close()


@task(name="plan-person-updates", cache_policy=NO_CACHE)
async def plan_person_updates(
    result: AttributeResult,
    touched: TouchedCustomers | None = None,
    limit: int | None = None,
) -> list[PersonUpdate]:
    """The persons to send: all, or those `touched` holds, then the first `limit`."""
    settings = attribute_settings_from_env()
    frame = result.attributes

    def plan() -> list[PersonUpdate]:
        persons = touched_persons(frame, touched, settings) if touched is not None else None
        return person_updates(frame, settings, persons=persons, limit=limit)

    # Building the updates is CPU work: keep the event loop free for Prefect meanwhile.
    return await asyncio.to_thread(plan)


@task(name="customers-touched", cache_policy=NO_CACHE)
async def customers_touched_since_mark(overlap: int, new_events: int) -> TouchedCustomers:
    """Customers of the events created since the attributes mark less `overlap` (the events
    sync reads that much again); of every event the ledger recorded while there is no mark.

    With no `new_events` and the mark at the events cursor, nobody new was touched.
    """

    def read() -> TouchedCustomers:
        with Ledger.open(ledger_settings_from_env()) as ledger:
            mark = attributes_mark(ledger.engine)
            cursor = ledger.events_cursor()
            if not new_events and mark is not None and cursor is not None and mark >= cursor:
                return TouchedCustomers()
            # No mark: no sync has finished its push yet, so every recorded event counts (only
            # syncs record events). Not just those since this run's starting cursor: a first
            # sync killed after moving the cursor would leave its events' persons unpushed.
            return touched_customers(ledger.engine, None if mark is None else mark - overlap)

    touched = await asyncio.to_thread(read)
    get_run_logger().info(
        "%d customers and %d guests touched by new Stripe events",
        len(touched.customers),
        len(touched.guest_emails),
    )
    return touched


@task(name="advance-attributes-mark", cache_policy=NO_CACHE)
async def advance_mark(events_cursor: int) -> None:
    """Record that the persons of the events up to `events_cursor` have had their attributes
    pushed."""

    def advance() -> None:
        with Ledger.open(ledger_settings_from_env()) as ledger:
            advance_attributes_mark(ledger.engine, events_cursor)

    await asyncio.to_thread(advance)


@task(name="start-events-cursor", cache_policy=NO_CACHE)
async def start_events_cursor(t0: int) -> int | None:
    """After a backfill up to `t0`, let the first events sync start there (less its overlap);
    a ledger already synced keeps its cursor. Returns the cursor."""

    def start() -> int | None:
        with Ledger.open(ledger_settings_from_env()) as ledger:
            if ledger.events_cursor() is None:
                ledger.set_events_cursor(t0)
            return ledger.events_cursor()

    return await asyncio.to_thread(start)


async def publish_summary(summary: RunSummary) -> None:
    """Publish the run's summary as the flow run's table artifact, and log its title."""
    await acreate_table_artifact(
        table=summary.table(),
        key=f"{summary.flow}-summary",
        description=summary.title,
    )
    get_run_logger().info("%s", summary.title)


def reject_threshold(max_reject_rate: float | None) -> float:
    """The flow's `max_reject_rate` parameter, else STRIPE_CIO_MAX_REJECT_RATE, else 5%."""
    if max_reject_rate is None:
        return run_settings_from_env().max_reject_rate
    if not 0 <= max_reject_rate <= 1:
        raise ConfigError(
            "max_reject_rate",
            "must be a fraction between 0 and 1",
            "give e.g. 0.05 for 5%, or leave it empty for STRIPE_CIO_MAX_REJECT_RATE",
        )
    return max_reject_rate


async def enforce_reject_rate(summary: RunSummary, threshold: float, started: float) -> None:
    """Fail the run when its rejects exceed `threshold` of its input records: publish the
    summary first (what the run did stays visible), then raise RejectRateExceededError, whose
    one-line message names the rate, the threshold and the top reasons, so the failure
    notification carries them."""
    problem = reject_rate_problem(summary, threshold)
    if problem is None:
        return
    summary.seconds = time.monotonic() - started
    await publish_summary(summary)
    raise RejectRateExceededError(problem)
