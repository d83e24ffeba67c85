"""The webhook receiver: `POST /webhooks/stripe` takes Stripe's signed deliveries, writes each
verified event to the ledger, then acknowledges it; the delivery rounds (`delivery.py`, in a
process of their own) send what the events changed.

- Nothing but `GET /healthz` is answered without a valid signature. A refused delivery gets a
  400 whose body says nothing more ("rejected"); its reason is counted.
- An event is acknowledged only once it is in the ledger and queued for delivery
  (`record_events`, the events arriving together in one transaction): if the receiver dies
  before, Stripe delivers it again (https://docs.stripe.com/webhooks#retries); if it dies
  after, the event is in the ledger and the next round, or the next poll, sends it.
- Mapping and sending happen after the acknowledgment, in the delivery rounds, which take
  whatever was queued while the previous round ran. A round that fails leaves its events to
  the next round.
- An event of another API version than ours is not applied from its payload: it waits in the
  inbox until the delivery job reads it again through the API; the mismatch is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Engine

from ..asgi import Receive, Scope, Send, read_body, send_json
from ..redaction import redact
from .signature import TOLERANCE_SECONDS, SignatureRejected, verify
from .store import add_counts, defer_event, record_events

log = logging.getLogger(__name__)

PATH = "/webhooks/stripe"
HEALTH_PATH = "/healthz"
# The largest body the receiver reads: Stripe documents no maximum for an event; its objects
# with embedded lists (an invoice's lines, a checkout session's items) stay well below this.
MAX_BODY_BYTES = 1024 * 1024
# How often the counters of refused deliveries are written to the ledger: a flood of forged
# requests must not turn into a flood of ledger writes.
FLUSH_SECONDS = 2.0


def _event_problem(event: Any) -> bool:
    """Whether a verified body is not an event object the ledger can take."""
    if not isinstance(event, dict) or event.get("object") != "event":
        return True
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return True
    created = event.get("created")
    data = event.get("data")
    return (
        type(created) is not int
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
    )


class Receiver:
    """The ASGI app of the receiver."""

    def __init__(
        self,
        engine: Engine,
        secrets: Sequence[str],
        api_version: str,
        *,
        tolerance: int = TOLERANCE_SECONDS,
        max_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secrets:
            raise ValueError("the webhook receiver needs at least one signing secret")
        self._engine = engine
        self._secrets = tuple(secrets)
        self._api_version = api_version
        self._tolerance = tolerance
        self._max_bytes = max_bytes
        self._clock = clock
        self.unflushed: Counter[str] = Counter()  # received and refused, not yet in the ledger
        self._versions_reported: set[str] = set()
        # How long the latest acknowledged deliveries took from their first byte read to the
        # answer (the body, the signature, the ledger's transaction), for /healthz.
        self._ack_seconds: deque[float] = deque(maxlen=100_000)
        self._acks = 0
        self._committer = _GroupCommit(lambda events: record_events(engine, events))

    def _acknowledged(self) -> int:
        return self._acks

    def _ack_quantiles(self) -> dict[str, float] | None:
        """p50, p95, p99 and the largest of the latest acknowledgments' times, milliseconds."""
        if not self._ack_seconds:
            return None
        ordered = sorted(self._ack_seconds)

        def at(share: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

        return {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)}

    def __repr__(self) -> str:
        return f"Receiver(secrets={len(self._secrets)}, api_version={self._api_version!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope.get("path", ""), scope.get("method", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            await send_json(send, 200, {"ok": True, "acknowledged": self._acknowledged(),
                                        "ack_ms": self._ack_quantiles()})  # fmt: skip
            return
        if path != PATH:
            await send_json(send, 404, {"error": "not found"})
            return
        if method != "POST":
            await send_json(send, 405, {"error": "method not allowed"}, [(b"allow", b"POST")])
            return
        self.unflushed["received"] += 1
        started = time.perf_counter()
        status = await self._delivery(scope, receive)
        if status == 200:
            self._ack_seconds.append(time.perf_counter() - started)
            self._acks += 1
        await send_json(
            send, status, {"received": True} if status == 200 else {"error": "rejected"}
        )

    async def _delivery(self, scope: Scope, receive: Receive) -> int:
        """Verify, record and acknowledge one delivery; the HTTP status."""
        body = await read_body(receive, self._max_bytes)
        try:
            if body is None:
                raise SignatureRejected("too_large")
            header = _header(scope, b"stripe-signature")
            verify(body, header, self._secrets, now=self._clock(), tolerance=self._tolerance)
            try:
                event = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise SignatureRejected("invalid_json") from None
            if _event_problem(event):
                raise SignatureRejected("invalid_json")
        except SignatureRejected as refused:
            self.unflushed[f"rejected:{refused.reason}"] += 1
            return 400
        try:
            version = event.get("api_version")
            if version == self._api_version:
                await self._committer.record(event)
            else:
                self._report_version(version)
                await asyncio.to_thread(defer_event, self._engine, event)
        except Exception as exc:  # the ledger refused it: Stripe will deliver it again
            log.warning(
                "a verified event could not be written to the ledger (%s): answered 503 "
                "so that Stripe retries it",
                redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__),
            )
            return 503
        return 200

    def _report_version(self, version: Any) -> None:
        key = str(version)
        if key not in self._versions_reported:
            self._versions_reported.add(key)
            log.warning(
                "Stripe sends this endpoint events of API version %s, not %s: they are read "
                "again through the API before they are applied; set the endpoint's API version "
                "to %s in Stripe's dashboard (docs/webhooks.md)",
                key[:40],
                self._api_version,
                self._api_version,
            )

    def flush(self) -> None:
        """Write the counters gathered since the last flush to the ledger."""
        counts, self.unflushed = self.unflushed, Counter()
        try:
            add_counts(self._engine, counts)
        except Exception:
            self.unflushed.update(counts)  # the next flush tries again
            raise


class _GroupCommit:
    """Writes the events that arrive together in one ledger transaction: each delivery awaits
    the commit of the batch it joined (a transaction per delivery queued them all on the
    ledger's write lock, and that wait is what Stripe's acknowledgment waited for)."""

    def __init__(self, write: Callable[[list[Mapping[str, Any]]], list[bool]], most: int = 500):
        self._write = write
        self._most = most
        self._queue: asyncio.Queue[tuple[Mapping[str, Any], asyncio.Future[bool]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def record(self, event: Mapping[str, Any]) -> bool:
        """Write `event` with whatever arrives meanwhile; whether it was new to the ledger."""
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(self._queue))
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, future))
        return await future

    async def _run(
        self, queue: asyncio.Queue[tuple[Mapping[str, Any], asyncio.Future[bool]]]
    ) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._most and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                fresh = await asyncio.to_thread(self._write, [event for event, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), new in zip(batch, fresh, strict=True):
                if not future.done():
                    future.set_result(new)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
