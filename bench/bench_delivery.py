"""Delivery throughput to Customer.io against the sandbox, next to the official client.

    .venv/bin/python bench/bench_delivery.py --persons 100000 --events 100000

1. Starts the Customer.io sandbox at `--rps` (100) with `--latency-ms` (50).
2. Ours: `deliver()` of `--persons` person updates of ~25 attributes into a fresh SQLite
   ledger (`--connections` connections, client limited to `--rps`), then `--events` events:
   persons/s and events/s (end to end: diff, checks, packing, HTTP, snapshots), 429s, and the
   sandbox's CPU time per request. Then both again over unchanged data: the requests they send
   (target: none).
3. Fair baseline (the headline ratio), same run, sandbox reset: the official `customerio`
   client's `batch()` called from a pool of `--connections` threads (a client per thread),
   every call through a limiter at `--rps` with our client's rule, with exactly the items our
   client sent (recorded on the wire), re-packed in order under the same batch limit as ours,
   measured in the official client's own encoding.
4. Sequential baseline: the same batches, one call after the other.
5. Per-item baseline: the official client's `identify` per person (and `track` per event) for
   a subset, timed, compared as rates.
Each run is set against its physical ceiling, `--rps` requests/s x the items of our size that
fit in one batch (`of_ceiling`). The last line has every figure and the ratios, the fair
baseline's first (targets: >= 20,000 persons/s, >= 2x the sequential `batch()`, >= 100x
per-person `identify`, zero 429s from our client, zero requests on the second run), and the
CPU time per item of this process + the sandbox's (`cpu_us_per_person=client+sandbox`): on a
shared machine the wall-clock rates fall with the load average (`load=`), the CPU per item
much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import requests
from customerio import CustomerIO, CustomerIOException
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._baseline_pool import ThreadRateLimiter, of_ceiling
from stripe_cio import CustomerIOSettings, LedgerSettings
from stripe_cio.cio_api import BATCH_PATH, MAX_BATCH_BYTES, CustomerIOClient
from stripe_cio.deliver import DeliveryStore, DeliverySummary, EventItem, PersonUpdate, deliver
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess
from stripe_cio.transport import pooled_transport

SITE, KEY = SANDBOX_CIO_SITE_ID, SANDBOX_CIO_API_KEY
EVENT_NAMES = (
    "stripe_payment_succeeded",
    "stripe_invoice_paid",
    "stripe_subscription_changed",
    "stripe_payment_failed",
)


# --- data --------------------------------------------------------------------------------------


def persons(n: int, seed: int = 7) -> list[PersonUpdate]:
    """People with the attribute engine's ~25 attributes, plausible values."""
    rng = random.Random(seed)
    plans = ("Starter monthly", "Pro monthly", "Pro yearly", "Team monthly")
    out = []
    for i in range(n):
        spent = round(rng.uniform(0, 5000), 2)
        first = 1_600_000_000 + rng.randrange(90_000_000)
        attributes: dict[str, Any] = {
            "stripe_customer_id": f"cus_{i:014d}",
            "stripe_customer_since": first - 86_400,
            "stripe_currency": "usd",
            "stripe_total_spent": spent,
            "stripe_total_spent_by_currency": {"usd": spent},
            "stripe_purchase_count": rng.randrange(1, 60),
            "stripe_first_purchase_at": first,
            "stripe_last_purchase_at": first + rng.randrange(40_000_000),
            "stripe_average_order_value": round(rng.uniform(5, 400), 2),
            "stripe_purchases_last_30d": rng.randrange(3),
            "stripe_purchases_last_90d": rng.randrange(6),
            "stripe_purchases_last_365d": rng.randrange(20),
            "stripe_days_between_purchases": round(rng.uniform(1, 90), 1),
            "stripe_refund_count": rng.randrange(2),
            "stripe_refunded_total": 0,
            "stripe_dispute_count": 0,
            "stripe_has_open_dispute": False,
            "stripe_failed_payment_count_90d": rng.randrange(2),
            "stripe_subscription_status": rng.choice(("active", "trialing", "past_due")),
            "stripe_plan": rng.choice(plans),
            "stripe_plan_interval": "month",
            "stripe_mrr": round(rng.uniform(10, 300), 2),
            "stripe_subscription_started_at": first,
            "stripe_delinquent": False,
            "stripe_rfm_segment": rng.choice(("champion", "loyal", "at_risk", "new")),
        }
        out.append(PersonUpdate({"email": f"customer{i}@example.com"}, attributes))
    return out


def events(n: int, people: int, seed: int = 11) -> list[EventItem]:
    """Lifecycle events spread over the people, with receipt-like data."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        person = rng.randrange(people)
        created = 1_700_000_000 + i * 7
        data = {
            "stripe_event_id": f"evt_{i:020d}",
            "livemode": False,
            "charge_id": f"ch_{i:020d}",
            "amount": round(rng.uniform(5, 500), 2),
            "currency": "usd",
            "description": "Subscription update",
            "receipt_url": f"https://pay.stripe.com/receipts/{i:024d}",
            "payment_intent_id": f"pi_{i:020d}",
        }
        out.append(
            EventItem(
                {"email": f"customer{person}@example.com"},
                rng.choice(EVENT_NAMES),
                f"evt_{i:020d}",
                created,
                data,
            )
        )
    return out


# --- measuring ---------------------------------------------------------------------------------


class Recording(httpx.AsyncBaseTransport):
    """Keeps the body of every batch request, so the baseline can send the same contents.

    It wraps the transport the client uses by default, so the figures are those of production.
    """

    def __init__(self, connections: int) -> None:
        self.bodies: list[bytes] = []
        self.connections = connections
        self._transport = pooled_transport(max_connections=connections)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        if request.url.path == BATCH_PATH and response.status_code in (200, 207):
            self.bodies.append(request.content)  # once per batch, whatever the retries
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def sandbox_cpu_seconds(port: int) -> float:
    """CPU time (user + system) of the sandbox process listening on `port`."""
    marker = f"--port\x00{port}\x00".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except OSError:
                continue
    return float("nan")


def own_cpu_seconds() -> float:
    """CPU time of this process, every thread (the ledger writes in a worker thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def requests_total(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/_sandbox/requests", timeout=30).json()  # type: ignore[no-any-return]


async def ours(
    box: SandboxProcess, store: DeliveryStore, people: list[PersonUpdate], items: list[EventItem],
    rps: float, recording: Recording,
) -> dict[str, Any]:  # fmt: skip
    settings = CustomerIOSettings(
        site_id=SITE, api_key=KEY, track_url=box.url, requests_per_second=rps
    )
    figures: dict[str, Any] = {}
    async with CustomerIOClient(
        settings, transport=recording, max_concurrency=recording.connections
    ) as client:
        for label, kwargs in (("persons", {"people": people}), ("events", {"events": items})):
            cpu, ours_cpu = sandbox_cpu_seconds(box.port), own_cpu_seconds()
            before = requests_total(box.url)["total"]
            summary: DeliverySummary = await deliver(client, store, **kwargs)
            sent = requests_total(box.url)["total"] - before
            figures[label] = summary
            figures[f"{label}_bodies"] = len(recording.bodies)
            figures[f"{label}_cpu_s"] = own_cpu_seconds() - ours_cpu
            figures[f"{label}_sandbox_cpu_s"] = sandbox_cpu_seconds(box.port) - cpu
            figures[f"{label}_sandbox_cpu_ms"] = 1000 * figures[f"{label}_sandbox_cpu_s"] / sent
            print(f"  ours {label}: {summary.as_dict() | {'samples': None}}", flush=True)
        figures["client_429s"] = client.stats.rate_limited
        for label, kwargs in (("persons", {"people": people}), ("events", {"events": items})):
            before = requests_total(box.url)["total"]
            again = await deliver(client, store, **kwargs)
            figures[f"{label}_second_requests"] = again.requests
            figures[f"{label}_second_sandbox_requests"] = requests_total(box.url)["total"] - before
    return figures


# --- the official client -----------------------------------------------------------------------


class LoopbackAdapter(HTTPAdapter):
    """Send every https:// request of the official client to the sandbox's http:// address."""

    def __init__(self, base_url: str) -> None:
        super().__init__(max_retries=0, pool_maxsize=4)
        self.base_url = base_url

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = str(request.url)
        request.url = self.base_url + url[url.index("/", len("https://")) :]
        return super().send(request, **kwargs)


def official(url: str) -> Any:
    """The official client, with its requests sent to the sandbox and no retries of its own."""
    client = CustomerIO(SITE, KEY, retries=0)
    client.http.mount("https://", LoopbackAdapter(url))
    return client


def official_operations(bodies: list[bytes], limit: int = MAX_BATCH_BYTES) -> list[list[Any]]:
    """Our batches' items, in order, in batches that fit once the official client encodes them.

    It encodes with `json.dumps` defaults (", " and ": " separators), a few percent larger
    than our compact JSON, so a full batch of ours can be over the limit in its hands; items
    are re-packed greedily by their size in its encoding, under the limit our packer keeps
    (`MAX_BATCH_BYTES`, whose source is in `stripe_cio/cio_api/limits.py`).
    """
    batches: list[list[Any]] = [[]]
    size = len('{"batch": []}')
    for body in bodies:
        for item in orjson.loads(body)["batch"]:
            grown = len(json.dumps(item)) + 2
            if batches[-1] and size + grown > limit:
                batches.append([])
                size = len('{"batch": []}')
            batches[-1].append(item)
            size += grown
    return batches


def items_per_batch(bodies: list[bytes], limit: int = MAX_BATCH_BYTES) -> float:
    """How many items of the size ours sent fit in one batch body of at most `limit` bytes."""
    items = sum(len(orjson.loads(body)["batch"]) for body in bodies)
    size = sum(len(body) for body in bodies)
    return limit * items / size if size else 0.0


def official_batches(url: str, bodies: list[bytes], workers: int, rps: float) -> dict[str, float]:
    """The official client's batch() from `workers` threads at `rps`, with our batch contents.

    Each thread keeps its own client (a `requests` session is not documented as thread-safe)
    and takes the next batch in order; a 429, which the limiter should prevent, is waited out
    and the batch sent again, as a careful user would, and counted.
    """
    operations = official_operations(bodies)
    limiter = ThreadRateLimiter(rps)
    local = threading.local()
    clients: list[Any] = []
    refused = [0]

    def send(batch: list[Any]) -> None:
        if not hasattr(local, "client"):
            local.client = official(url)
            clients.append(local.client)
        while True:
            limiter.acquire()
            try:
                local.client.batch(batch)
                return
            except CustomerIOException as exc:
                if not str(exc).startswith("429"):
                    raise
                refused[0] += 1
                time.sleep(1.0)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(send, operations))
    seconds = time.perf_counter() - started
    for client in clients:
        client.close()
    items = sum(len(batch) for batch in operations)
    return {
        "items": items,
        "batches": len(operations),
        "workers": workers,
        "seconds": seconds,
        "rate": items / seconds,
        "rate_limited": refused[0],
    }


def official_identify(url: str, people: list[PersonUpdate]) -> float:
    client = official(url)
    started = time.perf_counter()
    for person in people:
        client.identify(id=person.identifiers["email"], **person.attributes)
    return len(people) / (time.perf_counter() - started)


def official_track(url: str, items: list[EventItem]) -> float:
    client = official(url)
    started = time.perf_counter()
    for event in items:
        client.track(
            customer_id=event.identifiers["email"], name=event.name, data=dict(event.data),
            timestamp=event.created,
        )  # fmt: skip
    return len(items) / (time.perf_counter() - started)


# --- main --------------------------------------------------------------------------------------


def sandbox_429s(url: str) -> int:
    """429s the Customer.io sandbox has answered since it was last reset."""
    seen = requests_total(url)["by_endpoint"]
    return sum(counts.get("429", 0) for counts in seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--connections", type=int, default=10)  # our client's default
    parser.add_argument("--identify-sample", type=int, default=200)
    args = parser.parse_args()
    people = persons(args.persons)
    items = events(args.events, args.persons)
    sandbox_args = ("--rps", str(args.rps), "--latency-ms", str(args.latency_ms))
    with SandboxProcess("customerio", *sandbox_args) as box, tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(LedgerSettings(database_url=f"sqlite:///{tmp}/ledger.db"))
        recording = Recording(connections=args.connections)
        try:
            mine = asyncio.run(
                ours(box, DeliveryStore.of(ledger), people, items, args.rps, recording)
            )
        finally:
            ledger.close()
        stored = len(httpx.get(f"{box.url}/_sandbox/people", timeout=60).json())
        seen = requests_total(box.url)
        statuses = [str(s) for endpoint in seen["by_endpoint"].values() for s in endpoint]
        ours_429s = sandbox_429s(box.url)
        print(f"  sandbox: {stored} people, requests {seen['by_endpoint']}", flush=True)
        sent = {
            "persons": recording.bodies[: mine["persons_bodies"]],
            "events": recording.bodies[mine["persons_bodies"] : mine["events_bodies"]],
        }
        base: dict[str, dict[str, dict[str, float]]] = {}
        official_429s = 0
        for label, workers in (("pooled", args.connections), ("sequential", 1)):
            httpx.post(f"{box.url}/_sandbox/reset", timeout=30)
            base[label] = {
                kind: official_batches(box.url, bodies, workers, args.rps)
                for kind, bodies in sent.items()
            }
            official_429s += sandbox_429s(box.url)
            print(f"  official batch(), {label}: {base[label]}", flush=True)
        httpx.post(f"{box.url}/_sandbox/reset", timeout=30)
        identify = official_identify(box.url, people[: args.identify_sample])
        track = official_track(box.url, items[: args.identify_sample])
    p, e = mine["persons"], mine["events"]
    second = mine["persons_second_requests"] + mine["events_second_requests"]
    second_seen = mine["persons_second_sandbox_requests"] + mine["events_second_sandbox_requests"]
    # The physical ceiling: every request Customer.io allows (100/s per workspace, which `--rps`
    # stands for: https://docs.customer.io/integrations/api/track/), each a batch filled up to
    # the 500 KB limit (https://docs.customer.io/api/track/, operation `batch`) with items of
    # the size ours sent.
    per_batch = {kind: items_per_batch(bodies) for kind, bodies in sent.items()}
    ceiling = {kind: args.rps * n for kind, n in per_batch.items()}
    ours_rate = {"persons": p.persons_per_second, "events": e.events_per_second}
    pooled = {kind: base["pooled"][kind]["rate"] for kind in sent}
    sequential = {kind: base["sequential"][kind]["rate"] for kind in sent}
    headline = " ".join(
        f"{kind}={args.persons if kind == 'persons' else args.events} "
        f"{kind}_per_s={ours_rate[kind]:.0f} official_pooled_{kind}_per_s={pooled[kind]:.0f} "
        f"vs_pooled_{kind}={ours_rate[kind] / pooled[kind]:.1f}x "
        f"official_sequential_{kind}_per_s={sequential[kind]:.0f} "
        f"vs_sequential_{kind}={ours_rate[kind] / sequential[kind]:.1f}x "
        f"ceiling_{kind}_per_s={ceiling[kind]:.0f} ({per_batch[kind]:.0f} per batch) "
        f"of_ceiling_{kind}={of_ceiling(ours_rate[kind], ceiling[kind])} "
        f"pooled_of_ceiling_{kind}={of_ceiling(pooled[kind], ceiling[kind])} "
        f"sequential_of_ceiling_{kind}={of_ceiling(sequential[kind], ceiling[kind])}"
        for kind in ("persons", "events")
    )
    print(
        f"{headline} official_identify_per_s={identify:.1f} official_track_per_s={track:.1f} "
        f"vs_identify={p.persons_per_second / identify:.0f}x "
        f"vs_track={e.events_per_second / track:.0f}x connections={args.connections} "
        f"our_429s={mine['client_429s']} sandbox_429s={ours_429s} official_429s={official_429s} "
        f"second_run_requests={second} (sandbox saw {second_seen}) "
        f"batches={p.batches}+{e.batches} official_batches="
        f"{base['pooled']['persons']['batches']:.0f}+{base['pooled']['events']['batches']:.0f} "
        f"stored_people={stored} "
        f"wall_s={p.seconds:.1f}/{e.seconds:.1f} our_cpu_s={mine['persons_cpu_s']:.1f}/"
        f"{mine['events_cpu_s']:.1f} sandbox_cpu_s={mine['persons_sandbox_cpu_s']:.1f}/"
        f"{mine['events_sandbox_cpu_s']:.1f} sandbox_cpu_ms_per_request="
        f"{mine['persons_sandbox_cpu_ms']:.1f}/{mine['events_sandbox_cpu_ms']:.1f} "
        f"cpu_us_per_person={1e6 * mine['persons_cpu_s'] / args.persons:.1f}"
        f"+{1e6 * mine['persons_sandbox_cpu_s'] / args.persons:.1f} "
        f"cpu_us_per_event={1e6 * mine['events_cpu_s'] / args.events:.1f}"
        f"+{1e6 * mine['events_sandbox_cpu_s'] / args.events:.1f} "
        f"load={os.getloadavg()[0]:.1f} statuses={sorted(set(statuses))}"
    )


if __name__ == "__main__":
    main()
