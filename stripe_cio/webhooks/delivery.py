"""The job that sends what webhook-delivered events changed: the events poll's delivery
(`deliver_events`, `send_lifecycle`) for those events only; and the loop of its rounds.

Events of another API version wait in the inbox; this job reads each again through the API
(`GET /v1/events/{id}`) and applies it as the poll applies a listed event, before anything is
sent. Nothing here moves the poll's cursor or its attributes mark: the poll still lists these
events (as already processed) and still covers any this job did not get to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from sqlalchemy import Engine, select

from ..exceptions import StripeRequestError
from ..jobs.common import Connections, JobRun, opened_job, reject_threshold
from ..jobs.runner import StepRunner
from ..jobs.sync import INTEGRITY_CHECK_EVERY, deliver_events, send_lifecycle
from ..ledger import table, write_transaction
from ..ledger.events import apply_event_page
from ..redaction import redact
from ..runs import RunSummary, TouchedCustomers, touched_customers
from ..stripe_api import StripeClient
from .store import add_counts, inbox, pending_events, remove_from_inbox, remove_pending

log = logging.getLogger(__name__)

WEBHOOKS = "stripe-webhooks"
# How long a delivery round waits for the ledger's push lock (a running sync or enrich holds
# it): past this, its events are left to the next round or the next poll.
LOCK_WAIT_SECONDS = 60.0


async def deliver_webhook_events(
    conns: Connections,
    runner: StepRunner,
    event_ids: Collection[str],
    *,
    max_reject_rate: float | None = None,
    clock: Callable[[], float] = time.time,
) -> RunSummary:
    """Send the changed attributes of the persons of `event_ids` (verified webhook events
    already in the ledger) and every pending lifecycle event, once each; the inbox's events
    are read through the API first."""
    threshold = reject_threshold(max_reject_rate)
    stripe = conns.stripe_settings()
    customerio = conns.customerio_settings()
    async with (
        opened_job(
            conns,
            runner,
            RunSummary(WEBHOOKS),
            threshold,
            lock="push",
            wait=LOCK_WAIT_SECONDS,
            interrupted="interrupted: the next delivery round or the next sync sends the rest",
            check_every=INTEGRITY_CHECK_EVERY,
        ) as (ledger, job),
        StripeClient(stripe) as client,
    ):
        ids = set(event_ids) | set(await _read_inbox(job, ledger.engine, client))
        created = await asyncio.to_thread(_created, ledger.engine, ids)
        if ids:
            newest = max(created, default=0)

            async def touched() -> TouchedCustomers:
                return await asyncio.to_thread(touched_customers, ledger.engine, None, ids)

            await deliver_events(
                job, ledger, client, customerio, None, newest or None, clock,
                touched=touched, event_ids=ids,
            )  # fmt: skip
        await send_lifecycle(job, ledger, customerio)
        job.check_rejects()
        # From each event's `created` (Stripe's clock) to now (ours): the delay a campaign saw.
        now = clock()
        lag = sum(max(0.0, now - stamp) for stamp in created)
        counts = {"delivered": len(created), "lag_ms_sum": int(lag * 1000)}
        await asyncio.to_thread(add_counts, ledger.engine, counts)
    return job.summary


def _created(engine: Engine, ids: Collection[str]) -> list[int]:
    """The `created` of the processed events `ids`."""
    events = table("processed_events")
    ordered = sorted(ids)
    with engine.connect() as conn:
        return [
            int(created)
            for start in range(0, len(ordered), 900)
            for created in conn.execute(
                select(events.c.created).where(events.c.id.in_(ordered[start : start + 900]))
            ).scalars()
        ]


async def _read_inbox(job: JobRun, engine: Engine, client: StripeClient) -> list[str]:
    """Read the inbox's events through the API and apply them as the poll would; their ids."""
    waiting = await asyncio.to_thread(inbox, engine)
    if not waiting:
        return []

    async def read() -> list[dict[str, Any]]:
        events = []
        for event_id in waiting:
            try:
                events.append(await client.get(f"/v1/events/{event_id}"))
            except StripeRequestError:
                # Gone from the API (older than its 30 days, or another account's): the poll
                # cannot list it either; counted and forgotten.
                job.summary.rejected["webhook: event not found in the API"] += 1
        return events

    events = await job.step("read events of another API version", read, retry=True)

    def apply() -> None:
        with write_transaction(engine) as conn:
            apply_event_page(conn, events)
        remove_from_inbox(engine, waiting)

    await asyncio.to_thread(apply)
    return [event["id"] for event in events if isinstance(event.get("id"), str)]


class DeliveryLoop:
    """Runs `deliver` on the events queued for delivery (`webhook_pending`), the oldest first, one
    round at a time; a round's events leave the queue once it has run."""

    def __init__(
        self,
        engine: Engine,
        deliver: Callable[[set[str]], Awaitable[object]],
        *,
        poll: float = 0.05,
        max_batch: int = 5_000,
        backoff: Callable[[int], float] = lambda failures: min(30.0, 0.5 * 2**failures),
    ) -> None:
        self._engine = engine
        self._deliver = deliver
        self._poll = poll
        self._max_batch = max_batch
        self._backoff = backoff
        self.rounds = 0
        self.failures = 0

    async def run(
        self,
        on_round: Callable[[Mapping[str, int]], None] | None = None,
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        """Deliver rounds while `alive()` says so (checked between rounds), until cancelled."""
        failures = 0
        while alive():
            # A round takes everything queued (up to max_batch), so what arrives while one runs
            # makes the next; an empty queue is looked at again after `poll` seconds, one
            # indexed read each time.
            batch = await asyncio.to_thread(pending_events, self._engine, self._max_batch)
            if not batch:
                await asyncio.sleep(self._poll)
                continue
            began = time.perf_counter()
            try:
                await self._deliver(set(batch))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.failures += 1
                delay = self._backoff(failures)
                log.warning(
                    "a webhook delivery round failed (%s); its %d events are tried again in "
                    "%.1f s (the next sync sends them too)",
                    redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__),
                    len(batch),
                    delay,
                )
                if on_round is not None:
                    on_round({"delivery_failures": 1})
                await asyncio.sleep(delay)
                continue
            await asyncio.to_thread(remove_pending, self._engine, batch)
            failures = 0
            self.rounds += 1
            log.debug(
                "delivered a round of %d events in %.3f s", len(batch), time.perf_counter() - began
            )
