"""Instant triggers: the time from a Stripe event's creation to Customer.io's acceptance of its
lifecycle event, through `stripe-cio webhooks serve`, next to the polling sync on its 2-minute
schedule.

    .venv/bin/python -m bench.bench_webhooks                        # 200 events/s for 30 s, 1 burst
    .venv/bin/python -m bench.bench_webhooks --rate 100 --duration 20 --kill

1. Starts the Stripe sandbox (a synthetic account of `--customers`) sending its new events as
   signed webhooks to the receiver (at least once, 16 connections, retried with backoff), the
   Customer.io sandbox, and a ledger brought up to date by one polling sync.
2. Starts `stripe-cio webhooks serve` in its own process (as a user does), then drives Stripe's
   clock: every 50 ms it advances the account by as many seconds as make `--rate` events a
   second (re-estimated from the events made so far), plus `--bursts` advances of about
   `--burst` events each. An event exists from the moment the advance that made it returns:
   that wall time is its creation (the account's `created` is its own clock, which runs ahead).
   With `--kill`, the receiver is SIGKILLed halfway and restarted two seconds later, while the
   sandbox keeps retrying.
3. Waits until the sandbox has nothing left to deliver and the receiver's counters stand still,
   then stops the receiver and runs one polling sync: whatever Customer.io gets from it was lost
   by the webhooks (counted); duplicates are the Customer.io sandbox's repeated event ids.
4. Per lifecycle event (each names its Stripe event): latency = Customer.io's acceptance
   (`/_sandbox/event_times`, wall clock) - its Stripe event's creation. The receiver's own
   acknowledgment times (first byte read to the 2xx) come from its `/healthz`.
5. Baseline, for the same events: the polling sync on its 2-minute schedule. An event waits for
   the next run (a run starts every `--poll-interval` s; where the runs fall relative to the
   stream is chance, so every phase of the cycle, a second apart, is counted alike) and then
   for that run to finish: the run's time is measured by running the sync over the same events
   on a copy of the ledger as it was before the stream. Its latency = the wait + the run.
The last line: events, rate, our p50/p95/p99 seconds, the acknowledgment p99 in ms, lost and
duplicated events, the poll's p50/p95/p99, and the ratio of the p95s.
Targets: p95 < 2 s at 200 events/s; acknowledgment p99 < 200 ms; no loss, no duplicate (also
with --kill).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_attributes import _load_average

SECRET = "whsec_bench_webhooks"  # noqa: S105 - the sandbox's, signs nothing real
DAY = 86_400
STRIPE_CIO = str(Path(sys.executable).with_name("stripe-cio"))


def quantiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    if not ordered:
        return (float("nan"),) * 3

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return at(0.5), at(0.95), at(0.99)


def connections(stripe_url: str, cio_url: str, ledger: Path) -> Any:
    from stripe_cio import CustomerIOSettings, LedgerSettings, StripeSettings
    from stripe_cio.jobs import Connections
    from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SANDBOX_STRIPE_KEY

    return Connections(
        ledger=LedgerSettings(database_url=f"sqlite:///{ledger}"),
        stripe=StripeSettings(
            api_key=SANDBOX_STRIPE_KEY, api_base=stripe_url, requests_per_second=500
        ),
        customerio=CustomerIOSettings.load(
            {"site_id": SANDBOX_CIO_SITE_ID, "api_key": SANDBOX_CIO_API_KEY, "track_url": cio_url}
        ),
    )


def poll(conns: Any, since: int | None = None) -> float:
    """One polling sync; its seconds."""
    from stripe_cio.jobs import PlainRunner, sync_job

    started = time.perf_counter()
    asyncio.run(sync_job(conns, PlainRunner(), since=since))
    return time.perf_counter() - started


class Receiver:
    """`stripe-cio webhooks serve` in its own process."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        with self.log.open("a") as log:  # its log, for a look afterwards
            self.process = subprocess.Popen(
                [STRIPE_CIO, "webhooks", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"the receiver did not start: {line}")

    def health(self) -> dict[str, Any]:
        answer = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=10)
        health: dict[str, Any] = answer.raise_for_status().json()
        return health

    def stop(self, sig: int = signal.SIGINT) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=60)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drive(
    stripe: httpx.Client, rate: float, duration: float, bursts: int, burst: int, on_half: Any
) -> list[tuple[float, int, int]]:
    """Advance Stripe's clock to make `rate` events a second (and the bursts); each advance's
    (wall time it returned, account time before, account time after)."""
    advances: list[tuple[float, int, int]] = []
    per_second = 1.0  # events per account second, re-estimated as events come
    made = account_seconds = extra = 0.0
    clock = int(stripe.get("/_sandbox/clock").raise_for_status().json()["now"])
    start = time.monotonic()
    burst_at = {duration * (k + 1) / (bursts + 1) for k in range(bursts)}
    half_done = False
    while (elapsed := time.monotonic() - start) < duration:
        if not half_done and elapsed >= duration / 2:
            half_done = True
            on_half()
        for t in [t for t in burst_at if t <= elapsed]:
            burst_at.discard(t)
            extra += burst  # on top of the sustained rate
        wanted = rate * elapsed + extra - made
        if wanted >= 1:
            step = max(1, min(DAY, int(wanted / per_second)))
            before = clock
            counters = stripe.get("/_sandbox/webhooks").raise_for_status().json()["counters"]
            events_before = counters["events"]
            stripe.post("/_sandbox/advance", json={"seconds": step}).raise_for_status()
            returned = time.time()
            clock += step
            advances.append((returned, before, clock))
            counters = stripe.get("/_sandbox/webhooks").raise_for_status().json()["counters"]
            made += counters["events"] - events_before
            account_seconds += step
            per_second = max(0.01, made / account_seconds)
        time.sleep(0.05)
    return advances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="events a second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the stream")
    parser.add_argument("--bursts", type=int, default=1)
    parser.add_argument("--burst", type=int, default=1000, help="events of a burst")
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--poll-interval", type=float, default=120.0)
    parser.add_argument("--kill", action="store_true", help="SIGKILL the receiver halfway")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from stripe_cio.sandbox import SandboxProcess, sandbox_environment

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ledger, before = workdir / "ledger.db", workdir / "ledger-before.db"
    for path in workdir.glob("ledger*"):
        path.unlink()
    stripe_args = ["--customers", str(args.customers), "--months", "2", "--rps", "0"]
    with (
        SandboxProcess("stripe", *stripe_args, "--webhook-retry-base", "0.2") as stripe_box,
        SandboxProcess("customerio", "--rps", "0") as cio_box,
        httpx.Client(base_url=stripe_box.url, timeout=60) as stripe,
        httpx.Client(base_url=cio_box.url, timeout=60) as cio,
    ):
        conns = connections(stripe_box.url, cio_box.url, ledger)
        now = int(stripe.get("/_sandbox/clock").raise_for_status().json()["now"])
        print(f"first sync: {poll(conns, since=now - DAY):.1f} s", flush=True)
        shutil.copyfile(ledger, before)  # the ledger as the poll baseline starts from
        cio.post("/_sandbox/reset").raise_for_status()
        env = sandbox_environment(os.environ, stripe_box.url, cio_box.url, f"sqlite:///{ledger}")
        env.update(STRIPE_REQUESTS_PER_SECOND="500", STRIPE_WEBHOOK_SECRET=SECRET)
        receiver = Receiver(env, free_port(), workdir / "receiver.log")
        receiver.start()
        url = f"http://127.0.0.1:{receiver.port}/webhooks/stripe"
        stripe.post("/_sandbox/webhooks", json={"url": url, "secrets": [SECRET]})

        acks: list[dict[str, Any]] = []

        def restart() -> None:
            acks.append(receiver.health())
            receiver.stop(signal.SIGKILL)
            time.sleep(2.0)  # down while the stream goes on: the sandbox retries
            receiver.start()

        restarting = threading.Thread(target=restart)

        def kill_and_restart() -> None:
            if args.kill:
                restarting.start()

        print(f"load average {_load_average()}", flush=True)
        stream_start = time.time()
        advances = drive(
            stripe, args.rate, args.duration, args.bursts, args.burst, kill_and_restart
        )
        stream_end = time.time()
        if args.kill:
            restarting.join()
        deadline = time.monotonic() + 300
        last: Any = None
        while time.monotonic() < deadline:
            counters = stripe.get("/_sandbox/webhooks").raise_for_status().json()["counters"]
            health = receiver.health()
            if counters["pending"] == 0 and health == last:
                break
            last = health
            time.sleep(1.0)
        acks.append(receiver.health())
        receiver.stop()
        counters = stripe.get("/_sandbox/webhooks").raise_for_status().json()["counters"]
        by_webhook = cio.get("/_sandbox/event_times").raise_for_status().json()
        poll(conns)  # the scheduled sync after the stream: what it adds, the webhooks lost
        after = cio.get("/_sandbox/event_times").raise_for_status().json()
        duplicates = cio.get("/_sandbox/requests").raise_for_status().json()["duplicate_event_ids"]

        # Each Stripe event's creation: the return of the advance that made it.
        created = fetch_created(stripe, advances)
        latencies = [
            item["accepted_at"] - created[item["data"]["stripe_event_id"]]
            for item in by_webhook
            if item["data"].get("stripe_event_id") in created
        ]
        lost = len(after) - len(by_webhook)

        # The poll baseline: the same events, a run every --poll-interval s from the stream's
        # start, each taking as long as one sync over them from the ledger as it was before.
        shutil.copyfile(before, ledger)
        cio.post("/_sandbox/reset").raise_for_status()
        run = poll(conns)
        # Where the schedule's runs fall relative to the stream is chance: every phase of the
        # cycle, a second apart, weighs the same.
        interval = args.poll_interval
        baseline = []
        for item in by_webhook:
            stamp = created.get(item["data"].get("stripe_event_id"))
            if stamp is None:
                continue
            for phase in range(int(interval)):
                waited = interval - ((stamp - stream_start + phase) % interval)
                baseline.append(waited + run)

    ours, theirs = quantiles(latencies), quantiles(baseline)
    ack_p99 = max((a["ack_ms"] or {}).get("p99", float("nan")) for a in acks)
    events = counters["events"]
    rate = events / max(1e-9, stream_end - stream_start)
    print(
        f"stream: {events} Stripe events in {stream_end - stream_start:.1f} s ({rate:.0f}/s), "
        f"{len(advances)} advances, {counters['delivered']} deliveries, "
        f"{counters['failed_attempts']} failed attempts; {len(latencies)} lifecycle events "
        f"measured; a poll run over them {run:.1f} s"
    )
    print(
        f"events={events} rate={rate:.0f}/s ours_p50_s={ours[0]:.2f} ours_p95_s={ours[1]:.2f} "
        f"ours_p99_s={ours[2]:.2f} ack_p99_ms={ack_p99:.1f} lost={lost} duplicates={duplicates} "
        f"kill={'yes' if args.kill else 'no'} poll_p50_s={theirs[0]:.1f} "
        f"poll_p95_s={theirs[1]:.1f} poll_p99_s={theirs[2]:.1f} "
        f"p95_ratio={theirs[1] / ours[1]:.0f}x"
    )


def fetch_created(stripe: httpx.Client, advances: list[tuple[float, int, int]]) -> dict[str, float]:
    """Stripe event id -> the wall time its advance returned."""
    from bisect import bisect_left

    from stripe_cio.sandbox import SANDBOX_STRIPE_KEY

    if not advances:
        return {}
    ends = [end for _, _, end in advances]
    out: dict[str, float] = {}
    params: dict[str, Any] = {"limit": 100, "created[gt]": advances[0][1]}
    while True:
        page = stripe.get("/v1/events", params=params, auth=(SANDBOX_STRIPE_KEY, ""))
        data = page.raise_for_status().json()
        for event in data["data"]:
            k = bisect_left(ends, event["created"])
            if k < len(advances):
                out[event["id"]] = advances[k][0]
        if not data["has_more"]:
            return out
        params["starting_after"] = data["data"][-1]["id"]


if __name__ == "__main__":
    main()
