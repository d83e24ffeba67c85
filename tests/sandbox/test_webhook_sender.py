"""The Stripe sandbox's webhooks over real HTTP: a sandbox process POSTs the events its clock
creates to a receiver on loopback, signed, retried and faulted as configured.

No assertion is about time: tests wait on the sandbox's counters (`GET /_sandbox/webhooks`)
with a generous timeout, and the faults come from a fixed seed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from stripe_cio.sandbox import SandboxProcess, free_port
from stripe_cio.webhooks import verify

NOW = 1_767_225_600
DAY = 86_400
KEY = "sk_test_webhooks0000000001"
SECRET = "whsec_sandboxFirstSecret0001"
SECOND_SECRET = "whsec_sandboxSecondSecret002"
WAIT_SECONDS = 60.0
# Fast retries so that a test takes a few seconds: 0.05 s, doubling up to 0.2 s.
RETRIES = ("--webhook-retry-base", "0.05", "--webhook-retry-cap", "0.2")
CALM = {"duplicates": 0, "reorder": 0, "delay_ms": 0, "fail": 0, "drop": 0, "max_attempts": 8}

Answer = Callable[[str, int], int]  # (event id, how many times it came) -> HTTP status


class _Server(ThreadingHTTPServer):
    # The default backlog (5) overflows when the sandbox opens its 16 connections at once: the
    # sandbox would retry (rightly), but the tests count attempts exactly.
    request_queue_size = 128
    daemon_threads = True


class Receiver:
    """A webhook endpoint on loopback keeping every request in arrival order; `answer` decides
    each status (200 by default)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer: Answer = answer or (lambda event_id, n: 200)
        self.requests: list[tuple[dict[str, str], bytes, int]] = []  # headers, body, status
        self._lock = threading.Lock()
        self._times: Counter[str] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the sandbox's client expects

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                event_id = json.loads(body)["id"]
                with receiver._lock:
                    receiver._times[event_id] += 1
                    status = receiver.answer(event_id, receiver._times[event_id])
                    receiver.requests.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/stripe"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        """The requests answered with a 2xx, in arrival order."""
        with self._lock:
            return [(h, body) for h, body, status in self.requests if 200 <= status < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    """One generated account for the module, started without an endpoint (tests set theirs)."""
    args = ("--customers", "300", "--now", str(NOW), "--rps", "100000", *RETRIES)
    with SandboxProcess("stripe", *args) as process:
        yield process


@pytest.fixture
def hooks(sandbox: SandboxProcess) -> Iterator[SandboxProcess]:
    """The module's sandbox, its webhooks calm before the test and without endpoint after."""
    configure(sandbox, **CALM)
    yield sandbox
    configure(sandbox, url=None, secrets=[])
    wait_until(sandbox, lambda c: c["pending"] == 0)


def configure(sandbox: SandboxProcess, **values: Any) -> dict[str, Any]:
    response = httpx.post(f"{sandbox.url}/_sandbox/webhooks", json=values)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def counters(sandbox: SandboxProcess) -> dict[str, int]:
    result: dict[str, int] = httpx.get(f"{sandbox.url}/_sandbox/webhooks").json()["counters"]
    return result


def wait_until(sandbox: SandboxProcess, done: Callable[[dict[str, int]], bool]) -> dict[str, int]:
    """The counters once `done` holds for them; fails after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = counters(sandbox)
        if done(now):
            return now
        assert time.monotonic() < deadline, f"webhooks never got there: {now}"
        time.sleep(0.05)


def drained(sandbox: SandboxProcess, before: dict[str, int]) -> dict[str, int]:
    """How the counters moved since `before`, once every queued delivery is done."""
    after = wait_until(sandbox, lambda c: c["pending"] == 0)
    return {key: after[key] - before[key] for key in after}


def advance(sandbox: SandboxProcess, seconds: int) -> list[dict[str, Any]]:
    """Move the clock; the events it created, as the API lists them (oldest first)."""
    start = httpx.get(f"{sandbox.url}/_sandbox/clock").json()["now"]
    answer = httpx.post(f"{sandbox.url}/_sandbox/advance", json={"seconds": seconds})
    assert answer.status_code == 200, answer.text
    client = stripe.StripeClient(KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)
    params: Any = {"limit": 100, "created": {"gt": start}}
    events = [e.to_dict() for e in client.v1.events.list(params).auto_paging_iter()]
    assert events, "the advance created no event"
    return sorted(events, key=lambda e: (e["created"], e["id"]))


def served(sandbox: SandboxProcess, event_id: str) -> bytes:
    """The raw body of `GET /v1/events/{id}`."""
    response = httpx.get(f"{sandbox.url}/v1/events/{event_id}", auth=(KEY, ""))
    assert response.status_code == 200
    return response.content


def test_every_event_arrives_signed_as_the_api_serves_it(
    hooks: SandboxProcess, receiver: Receiver
) -> None:
    configure(hooks, url=receiver.url, secrets=[SECRET])
    before = counters(hooks)
    events = advance(hooks, DAY)
    moved = drained(hooks, before)
    got = receiver.accepted()
    assert sorted(json.loads(body)["id"] for _, body in got) == sorted(e["id"] for e in events)
    for headers, body in got:
        assert body == served(hooks, json.loads(body)["id"])
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        header = headers["Stripe-Signature"]
        event = stripe.Webhook.construct_event(body.decode(), header, SECRET)
        assert event.id == json.loads(body)["id"]
        verify(body, header, [SECRET], now=time.time())
    n = len(events)
    assert (moved["events"], moved["queued"], moved["delivered"], moved["attempts"]) == (n,) * 4
    assert moved["failed_attempts"] == moved["gave_up"] == moved["duplicates_sent"] == 0


def test_two_secrets_give_two_signatures(hooks: SandboxProcess, receiver: Receiver) -> None:
    configure(hooks, url=receiver.url, secrets=[SECRET, SECOND_SECRET])
    before = counters(hooks)
    advance(hooks, DAY)
    drained(hooks, before)
    got = receiver.accepted()
    assert got
    for headers, body in got:
        header = headers["Stripe-Signature"]
        assert [part.split("=")[0] for part in header.split(",")] == ["t", "v1", "v1"]
        for secret in (SECRET, SECOND_SECRET):
            stripe.Webhook.construct_event(body.decode(), header, secret)
            verify(body, header, [secret], now=time.time())
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(body.decode(), header, "whsec_notOneOfThem")


def test_secrets_never_show_and_bad_settings_are_refused(hooks: SandboxProcess) -> None:
    shown = configure(hooks, url="http://127.0.0.1:9/hook", secrets=[SECRET, SECOND_SECRET])
    status = httpx.get(f"{hooks.url}/_sandbox/webhooks")
    for text in (json.dumps(shown), status.text):
        assert "whsec_" not in text
    assert status.json()["config"]["secret_count"] == 2
    assert status.json()["config"]["url"] == "http://127.0.0.1:9/hook"
    refused = [
        {"secrets": ["sk_test_notAWebhookSecret"]},
        {"secrets": []},  # an endpoint is set: it needs a secret
        {"fail": 1.5},
        {"concurrency": 3},
        {"nope": 1},
    ]
    for body in refused:
        answer = httpx.post(f"{hooks.url}/_sandbox/webhooks", json=body)
        assert answer.status_code == 400, body
        assert "notAWebhookSecret" not in answer.text
    assert counters(hooks)["pending"] == 0


def test_failed_deliveries_are_retried_with_backoff(
    hooks: SandboxProcess, receiver: Receiver
) -> None:
    receiver.answer = lambda event_id, n: 500 if n <= 2 else 200
    configure(hooks, url=receiver.url, secrets=[SECRET])
    before = counters(hooks)
    events = advance(hooks, DAY)
    moved = drained(hooks, before)
    n = len(events)
    assert (moved["delivered"], moved["attempts"], moved["failed_attempts"]) == (n, 3 * n, 2 * n)
    assert moved["gave_up"] == moved["retries_pending"] == 0
    times = Counter(json.loads(body)["id"] for _, body, _ in receiver.requests)
    assert times == dict.fromkeys((e["id"] for e in events), 3)
    assert httpx.get(f"{hooks.url}/_sandbox/webhooks").json()["last_failure"] == "HTTP 500"


def test_a_delivery_is_abandoned_after_max_attempts(
    hooks: SandboxProcess, receiver: Receiver
) -> None:
    receiver.answer = lambda event_id, n: 503
    configure(hooks, url=receiver.url, secrets=[SECRET], max_attempts=3)
    before = counters(hooks)
    events = advance(hooks, DAY)
    moved = drained(hooks, before)
    n = len(events)
    assert (moved["gave_up"], moved["attempts"], moved["delivered"]) == (n, 3 * n, 0)


def test_an_unreachable_endpoint_is_retried_until_it_is_there(
    hooks: SandboxProcess, receiver: Receiver
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/webhooks/stripe"  # nothing listens there
    configure(hooks, url=closed, secrets=[SECRET], max_attempts=1000)
    before = counters(hooks)
    events = advance(hooks, DAY)
    n = len(events)
    wait_until(hooks, lambda c: c["failed_attempts"] - before["failed_attempts"] >= 2 * n)
    assert httpx.get(f"{hooks.url}/_sandbox/webhooks").json()["last_failure"] == "ConnectError"
    configure(hooks, url=receiver.url)  # the receiver comes up: retries now reach it
    moved = drained(hooks, before)
    assert moved["delivered"] == n
    received = sorted(json.loads(body)["id"] for _, body in receiver.accepted())
    assert received == sorted(e["id"] for e in events)


def test_injected_failures_and_delays_still_deliver_everything_once(
    hooks: SandboxProcess, receiver: Receiver
) -> None:
    configure(hooks, url=receiver.url, secrets=[SECRET], fail=0.3, delay_ms=20, seed=11)
    before = counters(hooks)
    events = advance(hooks, DAY)
    moved = drained(hooks, before)
    n = len(events)
    assert moved["delivered"] == n
    assert moved["failed_attempts"] == moved["injected_failures"] > 0
    assert moved["attempts"] == n + moved["injected_failures"]
    # An injected failure is never sent: the receiver saw each event once.
    assert len(receiver.requests) == n


def faulty_sandbox(receiver: Receiver) -> SandboxProcess:
    """A sandbox whose endpoint and faults come from its command line; one connection, so
    deliveries arrive in the order they were queued."""
    faults = {"duplicates": "0.2", "reorder": "0.2", "drop": "0.1"}
    return SandboxProcess(
        "stripe",
        *("--customers", "300", "--now", str(NOW), "--rps", "100000", *RETRIES),
        *("--webhook-url", receiver.url, "--webhook-secret", SECRET, "--webhook-seed", "7"),
        *[arg for name, p in faults.items() for arg in (f"--webhook-{name}", p)],
        *("--webhook-concurrency", "1"),
    )


def observe(receiver: Receiver) -> tuple[list[str], dict[str, int], list[dict[str, Any]]]:
    """Run a faulty sandbox for a week of activity: the ids in arrival order, the counters'
    moves, and the events the API lists."""
    with faulty_sandbox(receiver) as sandbox:
        before = counters(sandbox)
        events = advance(sandbox, 7 * DAY)
        moved = drained(sandbox, before)
    return [json.loads(body)["id"] for _, body in receiver.accepted()], moved, events


def test_seeded_faults_drop_duplicate_and_reorder_at_their_rates() -> None:
    first, second = Receiver(), Receiver()
    try:
        arrivals, moved, events = observe(first)
        again, _, _ = observe(second)
    finally:
        first.stop()
        second.stop()
    assert again == arrivals  # same seeds, same faults
    n = len(events)
    assert moved["events"] == n
    times = Counter(arrivals)
    dropped = {e["id"] for e in events} - set(times)
    # A dropped event was never sent, yet an events poll finds it.
    assert len(dropped) == moved["dropped"]
    assert sum(1 for k in times.values() if k == 2) == moved["duplicates_sent"]
    assert max(times.values()) <= 2
    assert moved["delivered"] == len(arrivals) == n - len(dropped) + moved["duplicates_sent"]
    # Late: arrived after an event created after it (one connection, so arrival order is the
    # order of the queue, oldest first apart from the held-back events).
    order = {e["id"]: (e["created"], e["id"]) for e in events}
    late, newest = 0, (-1, "")
    for event_id in dict.fromkeys(arrivals):
        key = order[event_id]
        late += newest > key
        newest = max(newest, key)
    assert late == moved["reordered"]
    sent = n - len(dropped)
    assert 0.05 * n <= len(dropped) <= 0.15 * n
    assert 0.1 * sent <= moved["duplicates_sent"] <= 0.3 * sent
    assert 0.1 * sent <= moved["reordered"] <= 0.3 * sent


def test_live_mode_delivers_what_the_running_clock_creates(receiver: Receiver) -> None:
    args = ("--customers", "300", "--now", str(NOW), "--rps", "100000", "--live")
    webhook = ("--webhook-url", receiver.url, "--webhook-secret", SECRET)
    with SandboxProcess("stripe", *args, "--speed", str(DAY), *webhook) as sandbox:
        wait_until(sandbox, lambda c: c["delivered"] >= 20)
        for headers, body in receiver.accepted()[:20]:
            assert body == served(sandbox, json.loads(body)["id"])
            verify(body, headers["Stripe-Signature"], [SECRET], now=time.time())


def test_an_endpoint_without_secret_stops_the_command_with_one_line() -> None:
    command = [
        *(sys.executable, "-m", "cli", "sandbox", "stripe", "--port", "0"),
        *("--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "not_a_whsec"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "--webhook-secret" in lines[0]
    assert "not_a_whsec" not in done.stderr
