"""A first sync without a backfill, next to what a user would run without it: a backfill first.

    .venv/bin/python -m bench.bench_first_sync --customers 5000 --months 12 --days 3

1. Starts the Stripe sandbox (at `--rps`, 100 as a live key, with `--latency-ms` 50 per
   request, its clock fixed) and the Customer.io sandbox.
2. Ours: on an empty ledger, the `sync` job with `since` = `--days` before Stripe's present:
   the window's events, the customer list once, the histories of the customers those events
   touch, their attributes and the window's lifecycle events to Customer.io.
3. Baseline, same run: the sequence a user without it runs for the same result, on another
   empty ledger and an emptied workspace: the `backfill` job (every resource, then every
   person's attributes), then the `sync` job over the same window (the events cursor set to
   the window's start first, and the backfill's replays sent, as the test of this path does).
4. Both must deliver the same lifecycle events. The last line has the seconds and the Stripe
   requests of each and the ratios; the figures are medians over `--runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from stripe_cio import CustomerIOSettings, LedgerSettings, StripeSettings
from stripe_cio.jobs import Connections, PlainRunner, backfill_job, sync_job
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SANDBOX_STRIPE_KEY,
    SandboxProcess,
)

DAY = 86_400
NOW = "2026-06-01T00:00:00Z"
OVERLAP = 600


def stripe_requests(url: str) -> int:
    stats = httpx.get(f"{url}/_sandbox/stats", timeout=30).raise_for_status().json()
    return int(sum(stats["requests"].values()))


def lifecycle_events(cio_url: str) -> list[tuple[str, str]]:
    with httpx.Client(base_url=cio_url, timeout=60) as http:
        http.get("/_sandbox/health").raise_for_status()
        events = http.get("/_sandbox/events").raise_for_status().json()
    return sorted((e["id"], e["name"]) for e in events if e["type"] == "event")


def connections(stripe_url: str, cio_url: str, folder: Path, rps: float) -> Connections:
    return Connections(
        ledger=LedgerSettings(database_url=f"sqlite:///{folder / 'ledger.db'}"),
        stripe=StripeSettings(
            api_key=SANDBOX_STRIPE_KEY, api_base=stripe_url, requests_per_second=rps
        ),
        customerio=CustomerIOSettings.load(
            {"site_id": SANDBOX_CIO_SITE_ID, "api_key": SANDBOX_CIO_API_KEY, "track_url": cio_url}
        ),
    )


async def first_sync(conns: Connections, since: int) -> None:
    await sync_job(conns, PlainRunner(), since=since)


async def backfill_then_sync(conns: Connections, since: int) -> None:
    with Ledger.open(conns.ledger) as ledger:
        ledger.set_events_cursor(since + OVERLAP)
    await backfill_job(conns, PlainRunner())
    await sync_job(conns, PlainRunner())


def measure(
    run: Any, stripe_url: str, cio_url: str, rps: float, since: int
) -> tuple[float, int, list[tuple[str, str]]]:
    httpx.post(f"{cio_url}/_sandbox/reset", timeout=30).raise_for_status()
    with tempfile.TemporaryDirectory(prefix="bench-first-sync-") as folder:
        conns = connections(stripe_url, cio_url, Path(folder), rps)
        requests = stripe_requests(stripe_url)
        started = time.perf_counter()
        asyncio.run(run(conns, since))
        seconds = time.perf_counter() - started
        requests = stripe_requests(stripe_url) - requests
    return seconds, requests, lifecycle_events(cio_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--days", type=float, default=3, help="the window a first sync replays")
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # The baseline's backfill sends the window's events too (they are replays of what it read).
    os.environ["STRIPE_CIO_SEND_BACKFILL_EVENTS"] = "true"
    stripe_args = (
        "--customers", str(args.customers), "--months", str(args.months),
        "--rps", f"{args.rps:g}", "--latency-ms", str(args.latency_ms), "--now", NOW,
    )  # fmt: skip
    with (
        SandboxProcess("stripe", *stripe_args) as stripe_box,
        SandboxProcess("customerio", "--rps", "0") as cio_box,
    ):
        clock = httpx.get(f"{stripe_box.url}/_sandbox/clock", timeout=30).json()["now"]
        since = int(clock - args.days * DAY)
        ours: list[tuple[float, int]] = []
        theirs: list[tuple[float, int]] = []
        for run in range(1, args.runs + 1):
            seconds, requests, sent = measure(
                first_sync, stripe_box.url, cio_box.url, args.rps, since
            )
            ours.append((seconds, requests))
            base_seconds, base_requests, expected = measure(
                backfill_then_sync, stripe_box.url, cio_box.url, args.rps, since
            )
            theirs.append((base_seconds, base_requests))
            same = "same events" if sent == expected else "EVENTS DIFFER"
            print(
                f"run {run}: first sync {seconds:.1f}s {requests} requests; backfill + sync "
                f"{base_seconds:.1f}s {base_requests} requests; {len(sent)} lifecycle events, "
                f"{same}",
                flush=True,
            )
            if sent != expected:
                raise SystemExit("the two paths delivered different lifecycle events")
    median_seconds = statistics.median(s for s, _ in ours)
    median_requests = statistics.median(r for _, r in ours)
    median_base_seconds = statistics.median(s for s, _ in theirs)
    median_base_requests = statistics.median(r for _, r in theirs)
    print(
        f"customers={args.customers} months={args.months} window={args.days:g}d rps={args.rps:g} "
        f"latency={args.latency_ms}ms runs={args.runs} | first sync {median_seconds:.1f}s "
        f"{median_requests:.0f} requests vs baseline (backfill + sync) "
        f"{median_base_seconds:.1f}s {median_base_requests:.0f} requests: "
        f"{median_base_seconds / median_seconds:.1f}x faster, "
        f"{median_base_requests / max(median_requests, 1):.1f}x fewer requests"
    )


if __name__ == "__main__":
    main()
