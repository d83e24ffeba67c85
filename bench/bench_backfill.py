"""Backfill throughput into the ledger against the sandbox, next to the ceiling and the SDK.

    .venv/bin/python bench/bench_backfill.py --customers 25000 --months 12

1. Starts the sandbox at `--rps` (100) with `--latency-ms` (50) and reads its charge count.
2. Backfills every charge into a SQLite ledger in a temporary folder with our concurrent sliced
   backfill (`--workers` connections, client limited to `--rps`; ledger written by a thread,
   or with `--writer process` by a child process): objects/s written, 429s, peak RSS of this
   process.
3. Fair baseline (the headline ratio), same run: the official `stripe` SDK driven as a
   competent user would drive it at our settings: a pool of `--workers` threads over every
   `created` slice our backfill read (as it recorded them in the ledger), each thread paging
   its slice with `list` and `starting_after`, every request through a limiter at `--rps` with
   our client's rule; every charge is built as the SDK's `Charge` and upserted into SQLite (key
   columns and the raw JSON), the same objects ours wrote.
4. Sequential baseline: the same work with one thread and one connection, over the newest
   `--sdk-fraction` of the account's time span (the SDK is slow; objects/s do not depend on
   the window's size).
5. Parse rates on the same pages: orjson dicts (our bulk path) vs the SDK's StripeObjects.
Each run is set against its physical ceiling, `--rps` requests/s x 100 objects a page
(`of_ceiling`). The last line has every figure and the ratios, the fair baseline's first
(targets: >= 85% of the ceiling, >= 10x the sequential SDK, zero 429s from our client, peak
RSS < 500 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import stripe
from stripe._util import convert_to_stripe_object
from stripe.params import ChargeListParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._baseline_pool import ThreadRateLimiter, of_ceiling
from stripe_cio import LedgerSettings, StripeSettings
from stripe_cio.extract import MAX_LIMIT, backfill
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SandboxProcess
from stripe_cio.stripe_api import StripeClient

KEY = "sk_test_benchbackfill0000"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TimedLedger:
    """The ledger, counting the CPU its writes take in the writer thread (thread CPU time)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.write_cpu = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def write_objects(self, *args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return self.ledger.write_objects(*args, **kwargs)
        finally:
            self.write_cpu += time.thread_time() - started


async def ours(
    url: str, rps: float, workers: int, folder: Path, writer: str, server_pid: int
) -> dict[str, Any]:
    settings = StripeSettings(api_key=KEY, api_base=url, requests_per_second=rps)
    ledger = TimedLedger(
        Ledger.open(LedgerSettings(database_url=f"sqlite:///{folder / 'ledger.db'}"))
    )
    last = [0.0]

    def progress(resource: str, records: int, rate: float, eta: float | None) -> None:
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            left = "?" if eta is None else f"{eta:.0f}s"
            print(f"  {resource}: {records} records, {rate:,.0f}/s, about {left} left", flush=True)

    cpu_before, server_before = time.process_time(), process_cpu_seconds(server_pid)
    try:
        async with StripeClient(settings) as client:
            summary = await backfill(
                client,
                ledger,
                resources=["charges"],
                workers=workers,
                progress=progress,
                open_ledger=ledger.reopener() if writer == "process" else None,
            )
        cpu = time.process_time() - cpu_before
        server_cpu = process_cpu_seconds(server_pid) - server_before
        stored = ledger.count("charges")
        slices = ledger.completed_slices("charges", summary.run)
    finally:
        ledger.close()
    charges = summary.resources["charges"]
    per_object = 1e6 / max(1, summary.objects)
    return {
        "cpu_us": cpu * per_object,  # this process, per object
        "write_cpu_us": ledger.write_cpu * per_object,  # of which the ledger writes (thread)
        "server_cpu_us": server_cpu * per_object,  # the sandbox server, per object
        "objects": summary.objects,
        "stored": stored,
        "seconds": summary.seconds,
        "rate": summary.objects_per_second,
        "requests": summary.requests,
        "rate_limited": summary.rate_limited,
        "slices": charges.slices,
        "pages": charges.pages,
        "rejected": sum(charges.rejected.values()),
        "t0": summary.t0,
        "complete": summary.complete,
        "slice_bounds": slices,  # [start, end) of every slice read, as the ledger recorded them
    }


def sdk_since(url: str, fraction: float, t0: int) -> int:
    """A `created[gte]` bound: the newest `fraction` of the account's time span."""
    oldest = first_created(url)
    return t0 - int((t0 - oldest) * fraction)


def first_created(url: str) -> int:
    """The `created` time of the account's oldest charge, found by bisection on `created[lt]`."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        low, high = 0, 1 << 32
        while high - low > 1:  # the oldest charge: largest t with no charge created before it
            mid = (low + high) // 2
            body = http.get("/v1/charges", params={"limit": 1, "created[lt]": mid}).json()
            if body["data"]:
                high = mid
            else:
                low = mid
        return low


class SdkStore:
    """The charges an SDK user keeps: key columns and the raw JSON, upserted into SQLite.

    It stands for the ledger our backfill writes (WAL with `synchronous=NORMAL` as there, one
    transaction per page, an upsert on the id), so the baseline does the work ours does with
    each object, not less.
    """

    COLUMNS = (
        "id", "created", "customer", "status", "amount", "amount_captured", "amount_refunded",
        "currency", "paid", "refunded", "payment_intent", "description", "receipt_url",
    )  # fmt: skip
    CREATE = """CREATE TABLE charges (
        id TEXT PRIMARY KEY, created INTEGER, customer TEXT, status TEXT, amount INTEGER,
        amount_captured INTEGER, amount_refunded INTEGER, currency TEXT, paid INTEGER,
        refunded INTEGER, payment_intent TEXT, description TEXT, receipt_url TEXT,
        raw TEXT NOT NULL)"""
    UPSERT = """INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET created = excluded.created, customer = excluded.customer,
        status = excluded.status, amount = excluded.amount,
        amount_captured = excluded.amount_captured, amount_refunded = excluded.amount_refunded,
        currency = excluded.currency, paid = excluded.paid, refunded = excluded.refunded,
        payment_intent = excluded.payment_intent, description = excluded.description,
        receipt_url = excluded.receipt_url, raw = excluded.raw"""

    def __init__(self, path: Path) -> None:
        # Shared by the pool's threads; the lock below makes the writes one at a time.
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute(self.CREATE)
        self.lock = threading.Lock()

    def write(self, charges: list[Any]) -> None:
        """Upsert one page of the SDK's `Charge` objects in one transaction."""
        rows = []
        for charge in charges:
            data = charge.to_dict()  # what the SDK offers to store a `StripeObject` as JSON
            rows.append((*(data.get(name) for name in self.COLUMNS), json.dumps(data)))
        with self.lock:
            self.connection.execute("BEGIN")
            self.connection.executemany(self.UPSERT, rows)
            self.connection.execute("COMMIT")

    def count(self) -> int:
        """Rows stored."""
        return int(self.connection.execute("SELECT count(*) FROM charges").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def sandbox_429s(url: str) -> int:
    """429s the Stripe sandbox has answered so far."""
    stats = httpx.get(f"{url}/_sandbox/stats", timeout=30).json()
    return int(stats["requests"].get("429", 0))


def sdk_backfill(
    url: str, slices: list[tuple[int, int]], workers: int, rps: float, path: Path
) -> dict[str, Any]:
    """The official SDK reading `slices` with `workers` threads at `rps`, storing every charge.

    One client shared by the threads (its `requests` sessions are kept per thread); each thread
    takes the next slice, pages it with `starting_after` and writes each page before the next.
    """
    client = stripe.StripeClient(KEY, base_addresses={"api": url})
    limiter = ThreadRateLimiter(rps)
    store = SdkStore(path)

    def read(bounds: tuple[int, int]) -> tuple[int, int]:
        params: ChargeListParams = {
            "limit": MAX_LIMIT,
            "created": {"gte": bounds[0], "lt": bounds[1]},
        }
        count = pages = 0
        while True:
            limiter.acquire()
            page = client.v1.charges.list(params)
            pages += 1
            store.write(page.data)
            count += len(page.data)
            if not page.has_more or not page.data:
                return count, pages
            params["starting_after"] = page.data[-1].id

    before = sandbox_429s(url)
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(read, slices))
        seconds = time.perf_counter() - started
        stored = store.count()
    finally:
        store.close()
    count = sum(objects for objects, _ in done)
    return {
        "objects": count,
        "stored": stored,
        "pages": sum(pages for _, pages in done),
        "slices": len(slices),
        "workers": workers,
        "seconds": seconds,
        "rate": count / seconds,
        "rate_limited": sandbox_429s(url) - before,
        "limiter_wait_s": limiter.waited,
    }


def parse_rates(url: str, pages: int = 30) -> dict[str, float]:
    bodies: list[bytes] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        params: dict[str, Any] = {"limit": 100}
        for _ in range(pages):
            response = http.get("/v1/charges", params=params)
            bodies.append(response.content)
            page = orjson.loads(response.content)
            if not page["has_more"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
    count = sum(len(orjson.loads(b)["data"]) for b in bodies)
    started = time.perf_counter()
    for body in bodies:
        orjson.loads(body)
    fast = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for body in bodies:
        convert_to_stripe_object(json.loads(body), api_key=KEY)
    slow = count / (time.perf_counter() - started)
    return {"json": fast, "sdk": slow}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=25_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--sdk-fraction", type=float, default=0.1)
    parser.add_argument("--writer", choices=["thread", "process"], default="thread")
    args = parser.parse_args()
    sandbox_args = [
        "--customers",
        str(args.customers),
        "--months",
        str(args.months),
        "--rps",
        str(args.rps),
        "--latency-ms",
        str(args.latency_ms),
    ]
    with (
        SandboxProcess("stripe", *sandbox_args, startup_timeout=600) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()
        total = stats["objects"]["charges"]
        print(f"sandbox: {total} charges, account ready in {stats['process']['load_seconds']:.1f}s")
        pid, load = stats["process"]["pid"], os.getloadavg()
        mine = asyncio.run(ours(sandbox.url, args.rps, args.workers, folder, args.writer, pid))
        peak = peak_rss_mb()
        print(f"ours: {mine | {'slice_bounds': len(mine['slice_bounds'])}}", flush=True)
        # Every slice our backfill read, newest first as it queues them: the baseline gets the
        # benefit of our splitting of dense slices without re-implementing it.
        slices = sorted(mine["slice_bounds"], reverse=True)
        fair = sdk_backfill(sandbox.url, slices, args.workers, args.rps, folder / "fair.db")
        print(f"sdk, {args.workers} threads over our slices (fair): {fair}", flush=True)
        since = sdk_since(sandbox.url, args.sdk_fraction, mine["t0"])
        window = [(since, mine["t0"] + 1)]  # `created <= t0`, as our backfill reads
        sequential = sdk_backfill(sandbox.url, window, 1, args.rps, folder / "sequential.db")
        print(f"sdk, one connection (sequential): {sequential}", flush=True)
        parse = parse_rates(sandbox.url)
    # The physical ceiling: every request allowed, each a full page. Stripe allows 100 read
    # operations/s in live mode (https://docs.stripe.com/rate-limits), which `--rps` stands
    # for, and a list page holds at most 100 objects (`limit`, "ranging between 1 and 100":
    # https://docs.stripe.com/api/pagination).
    ceiling = args.rps * MAX_LIMIT
    rate, fair_rate, seq_rate = mine["rate"], fair["rate"], sequential["rate"]
    print(
        f"charges={total} ours_objects_per_s={rate:.0f} sdk_fair_objects_per_s={fair_rate:.0f} "
        f"vs_sdk_fair={rate / fair_rate:.1f}x sdk_sequential_objects_per_s={seq_rate:.0f} "
        f"vs_sdk_sequential={rate / seq_rate:.1f}x ceiling={ceiling:.0f} "
        f"of_ceiling={of_ceiling(rate, ceiling)} "
        f"sdk_fair_of_ceiling={of_ceiling(fair_rate, ceiling)} "
        f"sdk_sequential_of_ceiling={of_ceiling(seq_rate, ceiling)} "
        f"(sdk paged {fair['objects']}/{sequential['objects']}, stored "
        f"{fair['stored']}/{sequential['stored']}, {fair['slices']} slices, "
        f"{args.workers} threads) our_429s={mine['rate_limited']} "
        f"sdk_429s={fair['rate_limited']}+{sequential['rate_limited']} peak_rss_mb={peak:.0f} "
        f"parse_orjson_per_s={parse['json']:.0f} parse_sdk_objects_per_s={parse['sdk']:.0f} "
        f"parse_ratio={parse['json'] / parse['sdk']:.1f}x seconds={mine['seconds']:.1f} "
        f"stored={mine['stored']} rejected={mine['rejected']} slices={mine['slices']} "
        f"writer={args.writer} cpu_us_per_object={mine['cpu_us']:.1f} "
        f"(write={mine['write_cpu_us']:.1f} read={mine['cpu_us'] - mine['write_cpu_us']:.1f}) "
        f"server_cpu_us_per_object={mine['server_cpu_us']:.1f} loadavg_start={load[0]:.2f} "
        f"loadavg_end={os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
