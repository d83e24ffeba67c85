"""Delivery throughput to Customer.io against the sandbox, next to the official client.

    .venv/bin/python bench/bench_delivery.py --persons 100000 --events 100000

1. Starts the Customer.io sandbox at `--rps` (100) with `--latency-ms` (50).
2. Ours: `deliver()` of `--persons` person updates of ~25 attributes into a fresh SQLite
   ledger (client limited to the same rate), then `--events` events: persons/s and events/s
   (end to end: diff, checks, packing, HTTP, snapshots), 429s, and the sandbox's CPU time per
   request. Then both again over unchanged data: the requests they send (target: none).
3. Baseline (b), same run, sandbox reset: the official `customerio` client's `batch()` called
   sequentially with exactly the batch contents our client sent (recorded on the wire).
4. Baseline (a): the official client's `identify` per person (and `track` per event) for a
   subset, timed, compared as rates.
The last line has every figure and the ratios (targets: >= 20,000 persons/s, >= 2x the
sequential `batch()`, >= 100x per-person `identify`, zero 429s from our client, zero requests
on the second run), and the CPU time per item of this process + the sandbox's
(`cpu_us_per_person=client+sandbox`): on a shared machine the wall-clock rates fall with the
load average (`load=`), the CPU per item much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import requests
from customerio import CustomerIO
from requests.adapters import HTTPAdapter

from stripe_cio import CustomerIOSettings, LedgerSettings
from stripe_cio.cio_api import BATCH_PATH, CustomerIOClient
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
    client = CustomerIO(SITE, KEY, retries=0)
    client.http.mount("https://", LoopbackAdapter(url))
    return client


def official_operations(bodies: list[bytes], limit: int = 512_000) -> list[list[Any]]:
    """Our batches' items, in order, in batches that fit once the official client encodes them.

    It encodes with `json.dumps` defaults (", " and ": " separators), a few percent larger
    than our compact JSON, so a full batch of ours can be over the limit in its hands; items
    are re-packed greedily by their size in its encoding.
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


def official_batches(url: str, bodies: list[bytes]) -> dict[str, float]:
    """The official client's batch(), one call after the other, with our batch contents."""
    operations = official_operations(bodies)
    client = official(url)
    started = time.perf_counter()
    for batch in operations:
        client.batch(batch)
    seconds = time.perf_counter() - started
    items = sum(len(batch) for batch in operations)
    return {"items": items, "batches": len(operations), "seconds": seconds, "rate": items / seconds}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rps", type=float, default=100.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--identify-sample", type=int, default=200)
    args = parser.parse_args()
    people = persons(args.persons)
    items = events(args.events, args.persons)
    sandbox_args = ("--rps", str(args.rps), "--latency-ms", str(args.latency_ms))
    with SandboxProcess("customerio", *sandbox_args) as box, tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(LedgerSettings(database_url=f"sqlite:///{tmp}/ledger.db"))
        recording = Recording(connections=10)  # the client's default concurrency
        try:
            mine = asyncio.run(
                ours(box, DeliveryStore.of(ledger), people, items, args.rps, recording)
            )
        finally:
            ledger.close()
        stored = len(httpx.get(f"{box.url}/_sandbox/people", timeout=60).json())
        seen = requests_total(box.url)
        statuses = [str(s) for endpoint in seen["by_endpoint"].values() for s in endpoint]
        sandbox_429s = sum(counts.get("429", 0) for counts in seen["by_endpoint"].values())
        print(f"  sandbox: {stored} people, requests {seen['by_endpoint']}", flush=True)
        split = mine["persons_bodies"]
        httpx.post(f"{box.url}/_sandbox/reset", timeout=30)
        base_persons = official_batches(box.url, recording.bodies[:split])
        base_events = official_batches(box.url, recording.bodies[split : mine["events_bodies"]])
        print(f"  official batch(): persons {base_persons}, events {base_events}", flush=True)
        httpx.post(f"{box.url}/_sandbox/reset", timeout=30)
        identify = official_identify(box.url, people[: args.identify_sample])
        track = official_track(box.url, items[: args.identify_sample])
    p, e = mine["persons"], mine["events"]
    second = mine["persons_second_requests"] + mine["events_second_requests"]
    second_seen = mine["persons_second_sandbox_requests"] + mine["events_second_sandbox_requests"]
    print(
        f"persons={args.persons} persons_per_s={p.persons_per_second:.0f} "
        f"events={args.events} events_per_s={e.events_per_second:.0f} "
        f"official_batch_persons_per_s={base_persons['rate']:.0f} "
        f"official_batch_events_per_s={base_events['rate']:.0f} "
        f"official_identify_per_s={identify:.1f} official_track_per_s={track:.1f} "
        f"vs_batch_persons={p.persons_per_second / base_persons['rate']:.1f}x "
        f"vs_batch_events={e.events_per_second / base_events['rate']:.1f}x "
        f"vs_identify={p.persons_per_second / identify:.0f}x "
        f"vs_track={e.events_per_second / track:.0f}x "
        f"our_429s={mine['client_429s']} sandbox_429s={sandbox_429s} "
        f"second_run_requests={second} (sandbox saw {second_seen}) "
        f"batches={p.batches}+{e.batches} stored_people={stored} "
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
