"""Stripe sandbox at scale: account generation time and peak RSS, then list pages per second.

    .venv/bin/python bench/bench_sandbox.py --customers 100000 --seconds 10

1. Generates the account into a StripeStore in this process (the synthetic generator when it is
   installed, else ~10 fake charges per customer built from Stripe's example charge) and reports
   time and peak RSS.
2. Serves it in a subprocess (`stripe-cio sandbox stripe --rps 100000` for the synthetic account)
   and walks `GET /v1/charges?limit=100` with `starting_after` from several concurrent clients,
   each over its own `created` window, counting pages per second.
3. Baseline, same run: a starlette app holding charges as dicts and answering each page with
   `JSONResponse` (stdlib json per request), walked the same way.
The last line prints the figures and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import copy
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from stripe_cio.sandbox import SandboxProcess, free_port
from stripe_cio.sandbox.stripe_server import StripeSandboxApp, StripeStore

NOW = 1_767_225_600
YEAR = 365 * 86_400
KEY = "sk_test_bench000000000000"
TEMPLATES = Path(__file__).resolve().parents[2] / "shared" / "stripe" / "fixtures3.json"


def synthetic_available() -> bool:
    try:
        from stripe_cio.sandbox.synthetic import SyntheticAccount  # noqa: F401
    except ImportError:
        return False
    return True


def fake_account(store: StripeStore, customers: int, seed: int = 1) -> None:
    """~10 charges per customer in Stripe's example shape, spread over a year."""
    rnd = random.Random(seed)
    template: dict[str, Any] = {"object": "charge", "amount": 0, "currency": "usd"}
    if TEMPLATES.exists():
        template = json.loads(TEMPLATES.read_text())["resources"]["charge"]
    for c in range(customers):
        customer = f"cus_{c:08d}{rnd.getrandbits(32):08x}"
        store.put("customers", {"id": customer, "object": "customer", "created": NOW - YEAR})
        for _ in range(rnd.randint(5, 15)):
            charge = copy.deepcopy(template)
            charge.update(
                id=f"ch_{rnd.getrandbits(96):024x}",
                created=NOW - rnd.randint(0, YEAR),
                customer=customer,
                amount=rnd.randint(100, 50_000),
                payment_intent=f"pi_{rnd.getrandbits(96):024x}",
                receipt_email=f"c{c}@example.com",
            )
            store.put("charges", charge)


def build(customers: int, synthetic: bool) -> tuple[StripeStore, float]:
    started = time.perf_counter()
    store = StripeStore(compress=customers >= 20_000)
    if synthetic:
        from stripe_cio.sandbox.synthetic import SyntheticAccount

        SyntheticAccount(store, seed=42, customers=customers, months=12, now=NOW).generate()
    else:
        fake_account(store, customers)
    return store, time.perf_counter() - started


def baseline_app(store: StripeStore, count: int) -> Any:
    """Charges as dicts, sorted; pages answered with starlette's JSONResponse (stdlib json)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    bodies, _ = store.page("charges", low=(0, ""), high=(1 << 62, ""), limit=100)
    charges: list[dict[str, Any]] = []
    high: tuple[int, str] = (1 << 62, "")
    while len(charges) < count:
        bodies, more = store.page("charges", low=(0, ""), high=high, limit=100)
        page = [orjson.loads(body) for body in bodies]
        charges.extend(page)
        if not more:
            break
        high = (page[-1]["created"], page[-1]["id"])
    charges.sort(key=lambda c: (c["created"], c["id"]))
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
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/charges", list_charges), Route("/_sandbox/health", health)])


def serve(mode: str, customers: int, port: int) -> None:
    import uvicorn

    store, _ = build(customers, synthetic=False)
    app = StripeSandboxApp(store, now=NOW) if mode == "fast" else baseline_app(store, 50_000)
    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", log_level="warning")


async def walk(url: str, window: tuple[int, int], deadline: float, counter: list[int]) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        cursor: str | None = None
        while time.perf_counter() < deadline:
            params: dict[str, Any] = {"limit": 100, "created[gte]": window[0]}
            params["created[lt]"] = window[1]
            if cursor:
                params["starting_after"] = cursor
            response = await client.get("/v1/charges", params=params)
            response.raise_for_status()
            body = orjson.loads(response.content)
            counter[0] += 1
            cursor = body["data"][-1]["id"] if body["has_more"] else None


def pages_per_second(url: str, seconds: float, walkers: int, span: tuple[int, int]) -> float:
    step = (span[1] - span[0]) // walkers
    windows = [(span[0] + i * step, span[0] + (i + 1) * step) for i in range(walkers)]
    counter = [0]

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(walk(url, w, deadline, counter) for w in windows))

    started = time.perf_counter()
    asyncio.run(run())
    return counter[0] / (time.perf_counter() - started)


class _BenchServer(SandboxProcess):
    """This script in `--serve` mode, for the fake account or the baseline."""

    def __init__(self, mode: str, customers: int) -> None:
        super().__init__("stripe")
        self.mode, self.customers = mode, customers

    def start(self) -> None:
        command = [sys.executable, __file__, "--serve", self.mode, "--port", str(self.port)]
        command += ["--customers", str(self.customers)]
        self._process = subprocess.Popen(command)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/_sandbox/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("bench server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--walkers", type=int, default=8)
    parser.add_argument("--serve", choices=["fast", "baseline"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.customers, args.port or free_port())
        return
    synthetic = synthetic_available()
    store, generation = build(args.customers, synthetic)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    counts = store.counts()
    print(f"generated {counts} in {generation:.1f}s, peak RSS {rss_gb:.2f} GB", flush=True)
    del store
    span = (NOW - YEAR, NOW + 1)
    if synthetic:
        server: SandboxProcess = SandboxProcess(
            "stripe", "--customers", str(args.customers), "--now", str(NOW), "--rps", "100000"
        )
    else:
        server = _BenchServer("fast", args.customers)
    with server:
        fast = pages_per_second(server.url, args.seconds, args.walkers, span)
    with _BenchServer("baseline", min(args.customers, 5_000)) as base:
        slow = pages_per_second(base.url, args.seconds, args.walkers, span)
    source = "synthetic" if synthetic else "fake charges"
    print(
        f"customers={args.customers} ({source}) charges={counts['charges']} "
        f"generation={generation:.1f}s peak_rss={rss_gb:.2f}GB | "
        f"sandbox {fast:.0f} pages/s vs baseline (starlette JSONResponse of dicts) "
        f"{slow:.0f} pages/s: ratio {fast / slow:.1f}x"
    )


if __name__ == "__main__":
    main()
