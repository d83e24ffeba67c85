"""Run the real pipeline over the corpus, engine-level (no Prefect), and read what it left.

backfill -> every person's attributes to Customer.io -> events sync -> the touched persons'
attributes again (only changes are sent) -> lifecycle events -> a second sync and lifecycle run
(the overlap lists every event again). Both sandboxes are real HTTP servers on loopback.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text

from stripe_cio import CustomerIOSettings, StripeSettings
from stripe_cio.attributes import AttributeSettings, compute_attributes, load_frames
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import DeliveryStore, DeliverySummary, deliver
from stripe_cio.extract import BackfillSummary, SyncSummary, backfill, sync_events
from stripe_cio.ledger import Ledger
from stripe_cio.lifecycle import LifecycleSettings, LifecycleSummary, send_lifecycle_events
from stripe_cio.retry import RetryPolicy
from stripe_cio.runs import RunSummary, person_updates
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID
from tests.reliability._crash._state import sandbox_call

from .corpus import NOW

__all__ = ["FAST", "Observed", "Run", "run_pipeline"]

# Quick retries: a corrupted page is answered again within milliseconds.
FAST = RetryPolicy(max_attempts=6, base_delay=0.005, max_delay=0.05, rate_limit_delay=0.05)
IDENTITY = AttributeSettings.load({})
# Every event of the corpus predates the backfill's T0: send them anyway (see docs/events.md).
LIFECYCLE = LifecycleSettings.load({"send_backfill_events": True})


def stripe_client(url: str, retry: RetryPolicy = FAST) -> Any:
    from stripe_cio.stripe_api import StripeClient

    settings = StripeSettings(
        api_key="sk_test_hostile00000", api_base=url, requests_per_second=2000
    )
    return StripeClient(settings, retry=retry, seed=1)


def cio_client(url: str) -> CustomerIOClient:
    settings = CustomerIOSettings(
        site_id=SANDBOX_CIO_SITE_ID,
        api_key=SANDBOX_CIO_API_KEY,
        track_url=url,
        requests_per_second=5000,
    )
    return CustomerIOClient(settings, retry=FAST, seed=1)


@dataclass
class Run:
    """The summaries of each step, and the run's summary as the flows add them up."""

    backfill: BackfillSummary
    syncs: list[SyncSummary]
    enrich: list[DeliverySummary]
    lifecycle: list[LifecycleSummary]
    skipped: dict[str, dict[str, int]]  # the last attribute computation's skips
    summary: RunSummary


@dataclass
class Observed:
    """What the run left in the ledger and in Customer.io."""

    tables: dict[str, set[str]]  # resource -> ids in the ledger
    emails: dict[str, str | None]  # customer id -> email in the ledger
    rejects: list[tuple[str, str | None, str]]  # (resource, object id, reason)
    processed: set[str]  # Stripe event ids recorded as processed
    handled: dict[str, tuple[str, str | None]]  # Stripe event id -> lifecycle (outcome, reason)
    dead_letters: list[dict[str, Any]]
    people: dict[str, dict[str, Any]]  # email -> attributes in Customer.io
    events: Counter[tuple[str, str]]  # (Stripe event id, name) -> times in Customer.io
    sandbox_stats: dict[str, Any] = field(default_factory=dict)
    # Everything Customer.io holds, as the sandbox reports it: every person (by any
    # identifier) and every request of type event.
    all_people: list[dict[str, Any]] = field(default_factory=list)
    all_events: list[dict[str, Any]] = field(default_factory=list)


async def _enrich(cio: CustomerIOClient, ledger: Ledger, run: Run) -> None:
    result = compute_attributes(load_frames(ledger.engine, IDENTITY), as_of=NOW, settings=IDENTITY)
    run.skipped = result.skipped.as_dict()
    updates = person_updates(result.attributes, IDENTITY)
    delivered = await deliver(cio, DeliveryStore.of(ledger), people=updates)
    run.enrich.append(delivered)
    run.summary.add_delivery(delivered)


async def run_pipeline(stripe_url: str, cio_url: str, ledger: Ledger) -> Run:
    """The whole pipeline over the sandbox's account, twice for the events."""
    async with stripe_client(stripe_url) as stripe, cio_client(cio_url) as cio:
        pulled = await backfill(stripe, ledger)
        run = Run(pulled, [], [], [], {}, RunSummary("hostile-corpus"))
        run.summary.add_backfill(pulled)
        await _enrich(cio, ledger, run)
        for _ in range(2):
            synced = await sync_events(stripe, ledger, since=NOW - 29 * 86_400)
            run.syncs.append(synced)
            run.summary.add_sync(synced)
            await _enrich(cio, ledger, run)
            lifecycle = await send_lifecycle_events(cio, ledger, LIFECYCLE, IDENTITY)
            run.lifecycle.append(lifecycle)
            run.summary.add_lifecycle(lifecycle)
    return run


def observe(ledger: Ledger, cio_url: str, resources: list[str]) -> Observed:
    """Read the ledger's tables and the Customer.io sandbox's people and events."""
    with ledger.engine.connect() as conn:
        tables = {r: set(conn.execute(text(f"SELECT id FROM {r}")).scalars()) for r in resources}  # noqa: S608
        emails = {row[0]: row[1] for row in conn.execute(text("SELECT id, email FROM customers"))}
        rejects = [
            tuple(row)
            for row in conn.execute(text("SELECT resource, object_id, reason FROM rejects"))
        ]
        processed = set(conn.execute(text("SELECT id FROM processed_events")).scalars())
        handled = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                text("SELECT stripe_event_id, outcome, reason FROM lifecycle_events")
            )
        }
        dead = [
            dict(row._mapping)
            for row in conn.execute(
                text("SELECT kind, person_key, stripe_event_id, stage, reason FROM dead_letters")
            )
        ]
    all_people = list(sandbox_call(cio_url, "people"))
    people = {
        p["identifiers"]["email"]: p["attributes"]
        for p in all_people
        if "email" in p["identifiers"]
    }
    all_events = [e for e in sandbox_call(cio_url, "events") if e["type"] == "event"]
    events: Counter[tuple[str, str]] = Counter(
        (e["data"]["stripe_event_id"], e["name"]) for e in all_events
    )
    return Observed(
        tables,
        emails,
        rejects,
        processed,
        handled,
        dead,
        people,
        events,
        all_people=all_people,
        all_events=all_events,
    )


def raw_json(value: Any) -> Any:
    """`value` as it comes back from JSON (tuples as lists, and so on)."""
    return orjson.loads(orjson.dumps(value))
