"""Backfill throughput into the ledger against the sandbox, next to the ceiling and the SDK.

    .venv/bin/python bench/bench_backfill.py --customers 25000 --months 12

1. Starts the sandbox at `--rps` (100) with `--latency-ms` (50) and reads its charge count.
2. Backfills every charge into a SQLite ledger in a temporary folder with our concurrent sliced
   backfill (client limited to the same rate; ledger written by a thread, or with
   `--writer process` by a child process): objects/s written, 429s, peak RSS of this process.
3. Baseline, same run: the official `stripe` SDK paging a `created` window holding about
   `--sdk-fraction` of the charges sequentially with `auto_paging_iter()`; objects/s.
4. Parse rates on the same pages: orjson dicts (our bulk path) vs the SDK's StripeObjects.
The last line has every figure and the ratios (targets: >= 85% of the ceiling of
rps x 100 objects per page, >= 10x the SDK, zero 429s from our client, peak RSS < 500 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import stripe
from stripe._util import convert_to_stripe_object

from stripe_cio import LedgerSettings, StripeSettings
from stripe_cio.extract import backfill
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
    }


def sdk_since(url: str, fraction: float, t0: int) -> int:
    """A `created[gte]` bound: the newest `fraction` of the account's time span."""
    oldest = first_created(url)
    return t0 - int((t0 - oldest) * fraction)


def first_created(url: str) -> int:
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


def sdk_sequential(url: str, since: int) -> dict[str, Any]:
    client = stripe.StripeClient(KEY, base_addresses={"api": url})
    started = time.perf_counter()
    count = 0
    for _charge in client.v1.charges.list(
        {"limit": 100, "created": {"gte": since}}
    ).auto_paging_iter():
        count += 1
    seconds = time.perf_counter() - started
    return {"objects": count, "seconds": seconds, "rate": count / seconds}


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
        tempfile.TemporaryDirectory() as folder,
    ):
        stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()
        total = stats["objects"]["charges"]
        print(f"sandbox: {total} charges, account ready in {stats['process']['load_seconds']:.1f}s")
        pid, load = stats["process"]["pid"], os.getloadavg()
        mine = asyncio.run(
            ours(sandbox.url, args.rps, args.workers, Path(folder), args.writer, pid)
        )
        peak = peak_rss_mb()
        print(f"ours: {mine}")
        since = sdk_since(sandbox.url, args.sdk_fraction, mine["t0"])
        sdk = sdk_sequential(sandbox.url, since)
        print(f"sdk: {sdk}")
        parse = parse_rates(sandbox.url)
    ceiling = args.rps * 100
    print(
        f"charges={total} ours_objects_per_s={mine['rate']:.0f} ceiling={ceiling:.0f} "
        f"of_ceiling={mine['rate'] / ceiling:.1%} sdk_objects_per_s={sdk['rate']:.0f} "
        f"(sdk paged {sdk['objects']}) vs_sdk={mine['rate'] / sdk['rate']:.1f}x "
        f"our_429s={mine['rate_limited']} peak_rss_mb={peak:.0f} "
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
