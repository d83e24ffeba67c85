"""The sync job's step that reads from Stripe what the ledger lacks about the persons of new
events: the customer list once, then customer by customer, or the whole history when that is
cheaper (docs/events.md, "A sync without a backfill")."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from ..extract import (
    HISTORY_UNREADABLE,
    MAX_LIMIT,
    BackfillSummary,
    HistorySummary,
    backfill,
    complete_histories,
    stripe_now,
)
from ..ledger import HistoryGaps, Ledger, customer_list_read, history_gaps, history_horizon
from ..runs import HistoriesIncompleteError
from ..stripe_api import StripeClient
from .common import JobRun

# Customers read one by one before the cost of reading the rest is estimated from theirs.
SAMPLE = 25


async def read_missing_histories(
    job: JobRun,
    ledger: Ledger,
    client: StripeClient,
    since_mark: int | None,
    event_ids: Collection[str] | None = None,
) -> None:
    """Read the customers (and charges) that the events since `since_mark` (or the events
    `event_ids`, when given) refer to and whose history the ledger lacks, before anything about
    them is computed or sent.

    After a sample of them, the rest are read one by one only while that is estimated to take
    fewer requests than reading the whole history, which then completes everyone at once.
    """
    gaps = await asyncio.to_thread(history_gaps, ledger.engine, since_mark, event_ids)
    if not (gaps.customers or gaps.charges):
        return
    if history_horizon(ledger.engine) != 0 and not customer_list_read(ledger.engine):
        await _read(job, ledger, client, "read the customer list", "customers", ["customers"])
    customers = sorted(gaps.customers)
    sample = await _histories(
        job, ledger, client, HistoryGaps(frozenset(customers[:SAMPLE]), gaps.charges)
    )
    rest = HistoryGaps(frozenset(customers[SAMPLE:]))
    if not rest:
        return
    read = max(1, sample.customers_fetched)
    one_by_one = len(rest.customers) * sample.requests / read
    # A backfill reads Stripe's lists a page of MAX_LIMIT objects at a time; the sample's
    # customers are among the most active, so this errs towards reading one by one.
    whole = ledger.count("customers") * sample.objects_written / read / MAX_LIMIT
    if one_by_one <= whole:
        await _histories(job, ledger, client, rest)
        return
    job.runner.info(
        f"reading {len(rest.customers)} more histories would take about {one_by_one:,.0f} "
        f"requests, the whole history about {whole:,.0f}: reading the whole history"
    )
    await _read(job, ledger, client, "read the whole history", "histories", None)


async def _histories(
    job: JobRun, ledger: Ledger, client: StripeClient, gaps: HistoryGaps
) -> HistorySummary:
    async def fetch() -> HistorySummary:
        return await complete_histories(client, ledger, gaps)

    fetched = await job.step("read customer histories", fetch, retry=True)
    job.runner.info(
        f"histories: {fetched.customers_fetched} customers and {fetched.charges_fetched} charges "
        f"read from Stripe in {fetched.requests} requests, {fetched.objects_written} objects "
        "written"
    )
    job.summary.add_stripe(
        {
            "customer histories read": fetched.customers_fetched,
            "history objects read": fetched.objects_written,
        }
    )
    job.summary.add_skipped(dict(fetched.skipped), "histories: ")
    for reason, count in fetched.rejected.items():
        job.summary.rejected[f"Stripe history: {reason}"] += count
    unreadable = fetched.rejected.get(HISTORY_UNREADABLE, 0)
    if unreadable:
        first = fetched.messages[0] if fetched.messages else "unreadable"
        raise HistoriesIncompleteError(
            f"{job.summary.flow}: {unreadable} customer histories could not be read (first: "
            f"{first}); nothing about them was sent; the next sync reads them again"
        )
    return fetched


async def _read(
    job: JobRun,
    ledger: Ledger,
    client: StripeClient,
    step: str,
    prefix: str,
    resources: list[str] | None,
) -> None:
    """Read `resources` (None: all) from the beginning, as a backfill run `<prefix>-<T0>`.

    Not a `backfill-` run: the events of the window are no replays to keep from Customer.io
    (docs/events.md), since the user asked for them.
    """
    t0 = await stripe_now(client)

    async def read() -> BackfillSummary:
        return await backfill(client, ledger, run=f"{prefix}-{t0}", t0=t0, resources=resources)

    pulled = await job.step(step, read, retry=True)
    job.summary.add_backfill(pulled)
    if not pulled.complete:
        raise HistoriesIncompleteError(
            f"{job.summary.flow}: {step}: {len(pulled.failed)} slices could not be read (first: "
            f"{pulled.failed[0].error}); nothing about the new events was sent; the next sync "
            "reads them again"
        )
