"""Stripe sandbox at scale: account generation time, peak RSS and store size, then list pages/s.

    .venv/bin/python bench/bench_sandbox.py --customers 100000 --seconds 10 --runs 3

1. Starts `stripe-cio sandbox stripe --customers N` (the synthetic account) `--runs` times and
   reads from its `/_sandbox/stats` how long the account took to generate, the server's peak
   RSS and the bytes its bodies take (compressed from 20,000 customers on); the last line quotes
   the median generation time (wall time on a machine shared with others varies from one run
   to the next; see docs/sandbox.md). Peak RSS is the server's plus that
   of the processes that generate a large account for it (see stripe_server/shards.py), and
   so is the CPU time per object (the server's from the start of loading, the shards' whole).
2. In the last run, walks `GET /v1/charges?limit=100` with `starting_after` over several
   `created` windows at once, counting pages per second. The server is pinned to one core and
   this client to the other, and the client is light (hand-built HTTP/1.1 over keep-alive
   asyncio streams, the cursor found by a bytes search, no JSON parsing), so it is the server
   that is measured.
3. Baseline, same run and same walk: a starlette app holding a smaller synthetic account's
   charges as dicts and answering each page with `JSONResponse` (stdlib json per request).
The last line has every figure and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from statistics import median
from typing import Any

import httpx
import orjson

from stripe_cio.sandbox import SandboxProcess

NOW = 1_767_225_600
YEAR = 365 * 86_400
KEY = "sk_test_bench000000000000"
BASELINE_CUSTOMERS = 5_000  # page cost does not depend on account size; dicts are memory-hungry


def baseline_app(customers: int) -> Any:
    """The synthetic account's charges as dicts; pages via starlette's JSONResponse."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from stripe_cio.sandbox.stripe_server import StripeStore
    from stripe_cio.sandbox.synthetic import SyntheticAccount

    store = StripeStore()
    SyntheticAccount(store, seed=42, customers=customers, months=12, now=NOW).generate()
    bodies, _ = store.page("charges", low=(0, ""), high=(1 << 62, ""), limit=1 << 30)
    charges = sorted((orjson.loads(body) for body in bodies), key=lambda c: (c["created"], c["id"]))
    del store, bodies
    keys = [(c["created"], c["id"]) for c in charges]
    by_id = {c["id"]: c for c in charges}

    async def list_charges(request: Request) -> JSONResponse:
        q = request.query_params
        limit = int(q.get("limit", 10))
        lo = bisect.bisect_left(keys, (int(q.get("created[gte]", 0)), ""))
        hi = bisect.bisect_left(keys, (int(q.get("created[lt]", 1 << 62)), ""))
        if "starting_after" in q:
            cursor = by_id[q["starting_after"]]
            hi = min(hi, bisect.bisect_left(keys, (cursor["created"], cursor["id"])))
        page = [by_id[k[1]] for k in reversed(keys[max(lo, hi - limit) : hi])]
        more = hi - limit > lo
        return JSONResponse(
            {"object": "list", "data": page, "has_more": more, "url": "/v1/charges"}
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pid": os.getpid()})

    return Starlette(routes=[Route("/v1/charges", list_charges), Route("/_sandbox/health", health)])


class BaselineServer(SandboxProcess):
    """This script in `--serve-baseline` mode, under uvicorn like the sandbox."""

    def __init__(self, customers: int) -> None:
        super().__init__("stripe", startup_timeout=600)
        self.customers = customers

    def start(self) -> None:
        command = [sys.executable, __file__, "--serve-baseline", "--port", str(self.port)]
        self._process = subprocess.Popen([*command, "--customers", str(self.customers)])
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                if httpx.get(f"{self.url}/_sandbox/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("baseline server did not start")


async def walk(port: int, window: tuple[int, int], deadline: list[float], count: list[int]) -> None:
    """Page through `window` again and again over one keep-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    base = f"/v1/charges?limit=100&created%5Bgte%5D={window[0]}&created%5Blt%5D={window[1]}"
    tail = f" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode()
    cursor = b""
    while time.perf_counter() < deadline[0]:
        target = base.encode() + (b"&starting_after=" + cursor if cursor else b"")
        writer.write(b"GET " + target + tail)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode("latin-1"))
        start = head.lower().index(b"content-length:") + 15
        body = await reader.readexactly(int(head[start : head.index(b"\r\n", start)]))
        count[0] += 1
        cursor = b""
        if body.rfind(b'"has_more":true', len(body) - 100) >= 0:
            at = body.rindex(b'"id":"ch_') + 6  # the last charge's own id (refunds nest)
            cursor = body[at : body.index(b'"', at)]
    writer.close()


def pages_per_second(port: int, seconds: float, walkers: int) -> tuple[float, float]:
    """(pages/s, CPU share of one core this client used) over `seconds` after a warm-up."""
    step = YEAR // walkers
    windows = [(NOW - YEAR + i * step, NOW - YEAR + (i + 1) * step) for i in range(walkers)]
    count = [0]

    async def run() -> tuple[int, float, float]:
        deadline = [time.perf_counter() + seconds + 1.0]
        tasks = [asyncio.create_task(walk(port, w, deadline, count)) for w in windows]
        await asyncio.sleep(1.0)  # warm-up: connections open, first blocks inflated
        pages, cpu, started = count[0], time.process_time(), time.perf_counter()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        return count[0] - pages, (time.process_time() - cpu) / elapsed, elapsed

    try:
        import uvloop

        pages, cpu, elapsed = uvloop.run(run())
    except ImportError:
        pages, cpu, elapsed = asyncio.run(run())
    return pages / elapsed, cpu


def pin(pid: int, core: int) -> None:
    """One core each for server and client, when there are two (Linux only)."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(pid, {sorted(os.sched_getaffinity(0))[core]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--walkers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3, help="generations; their median is quoted")
    parser.add_argument("--serve-baseline", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.serve_baseline:
        import uvicorn

        app = baseline_app(args.customers)
        uvicorn.run(app, host="127.0.0.1", port=args.port, http="httptools", log_level="warning")
        return
    command = ("--customers", str(args.customers), "--now", str(NOW), "--rps", "0")
    loads: list[Load] = []
    for run in range(1, args.runs + 1):
        # The account is generated afresh each run; its pages are walked in the last one only.
        with SandboxProcess("stripe", *command, startup_timeout=900) as server:
            stats = httpx.get(f"{server.url}/_sandbox/stats").json()
            loads.append(load_figures(stats))
            print(f"run {run}: {loads[-1].line()}", flush=True)
            if run == args.runs:
                pin(stats["process"]["pid"], 0)  # only now: the shards have finished
                pin(0, 1)
                fast, fast_cpu = pages_per_second(server.port, args.seconds, args.walkers)
    base_customers = min(args.customers, BASELINE_CUSTOMERS)
    with BaselineServer(base_customers) as base:
        pin(httpx.get(f"{base.url}/_sandbox/health").json()["pid"], 0)
        slow, slow_cpu = pages_per_second(base.port, args.seconds, args.walkers)
    print(
        f"client CPU per core: {fast_cpu:.0%} against the sandbox, {slow_cpu:.0%} against the "
        f"baseline ({base_customers} customers)",
        flush=True,
    )
    last = loads[-1]
    times = sorted(load.seconds for load in loads)
    print(
        f"customers={args.customers} charges={last.charges} objects={last.objects} "
        f"generation={median(times):.1f}s (median of {len(times)}: "
        f"{', '.join(f'{t:.1f}' for t in times)}) "
        f"cpu={median(load.cpu_us for load in loads):.1f}us/object "
        f"peak_rss={max(load.peak_rss for load in loads) / 1024**3:.2f}GB "
        f"store={last.stored / 1024**2:.0f}MB (plain {last.plain / 1024**2:.0f}MB) | sandbox "
        f"{fast:.0f} pages/s vs baseline (starlette JSONResponse of dicts) {slow:.0f} pages/s: "
        f"ratio {fast / slow:.1f}x"
    )


@dataclass(frozen=True)
class Load:
    """What one start of the sandbox cost, from its `/_sandbox/stats`."""

    seconds: float
    server_us: float  # CPU per object: the gauge a busy machine distorts less than wall time
    shards_us: float
    peak_rss: int  # the server's and, for a sharded account, its generator processes'
    charges: int
    objects: int
    stored: int
    plain: int

    @property
    def cpu_us(self) -> float:
        return self.server_us + self.shards_us

    def line(self) -> str:
        return (
            f"generation={self.seconds:.1f}s cpu={self.cpu_us:.1f}us/object (server "
            f"{self.server_us:.1f} + shards {self.shards_us:.1f}) "
            f"peak_rss={self.peak_rss / 1024**3:.2f}GB loadavg={os.getloadavg()[0]:.1f}"
        )


def load_figures(stats: dict[str, Any]) -> Load:
    """The figures of one start from the sandbox's stats."""
    process, storage = stats["process"], stats["storage"]
    objects = sum(stats["objects"].values())
    return Load(
        seconds=process["load_seconds"],
        server_us=process["load_cpu_seconds"] / objects * 1e6,
        shards_us=process["workers_cpu_seconds"] / objects * 1e6,
        peak_rss=process["peak_rss_bytes"] + process["workers_peak_rss_bytes"],
        charges=stats["objects"]["charges"],
        objects=objects,
        stored=storage["stored_bytes"],
        plain=storage["plain_bytes"],
    )


if __name__ == "__main__":
    main()
