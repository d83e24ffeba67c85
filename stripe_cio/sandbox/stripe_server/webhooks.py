"""Webhooks of the Stripe sandbox: every event the account creates is POSTed, signed, to one
endpoint, as Stripe delivers them, with the faults a receiver has to survive.

What Stripe does: the body is the event object as the API serialises it; the `Stripe-Signature`
header holds `t=` and one `v1=` per active secret, two while a secret is rolled
(https://docs.stripe.com/webhooks#verify-manually); an answer other than 2xx, or none, is
retried with exponential backoff for up to three days in live mode
(https://docs.stripe.com/webhooks#retries), and a redirect is a failure, never followed
(https://support.stripe.com/questions/webhooks-what-to-do-when-the-http-status-code-starts-with-a-three-(3xx));
the same event may arrive more than once (https://docs.stripe.com/webhooks#handle-duplicate-events)
and events arrive in no guaranteed order (https://docs.stripe.com/webhooks#event-ordering).
Stripe does not publish its delivery timeout: `timeout` is ours. Events created while no
endpoint is set are never sent, even once one is set.

The sandbox compresses the three days: backoff starts at `retry_base` seconds and doubles up to
`retry_cap`, for at most `max_attempts` attempts. Deliveries are queued, never sent from the
request that created the events, and sent by `concurrency` workers on the server's event loop.

Faults (`duplicates`, `reorder`, `delay_ms`, `fail`, `drop`) are decided when an event is queued,
from one seeded RNG in the order events are queued, so that a seed gives the same faults however
the deliveries' timing falls out:
- `drop`: the event is never sent (an events poll is the only way to find it);
- `duplicates`: a second delivery of the event is queued right after the first;
- `reorder`: the event is held back until 1 to MAX_HOLD later events of its batch (the events of
  one clock advance) have been queued, or the batch ends; `reordered` counts those that let at
  least one later event pass;
- `delay_ms`: each delivery waits between half and one and a half times that long before it is
  queued (the wait holds no connection);
- `fail`: each attempt, in turn, fails on purpose with that probability without being sent, as if
  the receiver were down, and is retried with backoff.

The signing secrets never leave the process: they are not in `as_dict`, reprs, logs or errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import httpx

from ...transport import pooled_transport
from ...webhooks import signature_header

log = logging.getLogger(__name__)

# The User-Agent of Stripe's webhook deliveries.
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
CONTENT_TYPE = "application/json; charset=utf-8"
# What Stripe's endpoint signing secrets start with (https://docs.stripe.com/webhooks).
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
MAX_HOLD = 8  # a held-back event lets at most this many later events of its batch pass
_PROBABILITIES = ("duplicates", "reorder", "fail", "drop")
_COUNTERS = (
    "events",  # events created while an endpoint was set (dropped ones included)
    "queued",  # deliveries queued: events not dropped, plus their duplicates
    "delivered",  # deliveries answered with a 2xx
    "attempts",  # attempts, injected failures included
    "failed_attempts",  # non-2xx, connection failure, timeout or injected failure
    "injected_failures",  # attempts failed on purpose (`fail`), never sent
    "duplicates_sent",  # second deliveries of an event answered with a 2xx
    "dropped",  # events never sent (`drop`)
    "reordered",  # events held back that let a later event pass (`reorder`)
    "gave_up",  # deliveries abandoned after `max_attempts` attempts
    "discarded",  # deliveries abandoned because the endpoint was removed (url null)
)


class WebhookSettingError(ValueError):
    """A webhook setting refused; `setting` names it (the message never holds a secret)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass
class WebhookConfig:
    """Where events are POSTed, how they are signed and retried, and the faults applied."""

    url: str | None = None  # None: no endpoint, events are not sent
    secrets: list[str] = field(default_factory=list, repr=False)  # each signs every delivery
    duplicates: float = 0.0  # probability an event is delivered twice
    reorder: float = 0.0  # probability an event is held back behind later ones
    delay_ms: float = 0.0  # mean extra delay before a delivery (0.5x to 1.5x)
    fail: float = 0.0  # probability an attempt fails on purpose, unsent
    drop: float = 0.0  # probability an event is never delivered
    retry_base: float = 0.5  # seconds before the first retry; doubles each retry
    retry_cap: float = 30.0  # longest wait between two attempts, seconds
    max_attempts: int = 8  # attempts per delivery, the first included
    timeout: float = 10.0  # seconds an attempt may take
    concurrency: int = 16  # connections at once; set at start only
    seed: int | None = None  # of the fault RNG; setting it at run time reseeds

    def update(self, values: dict[str, Any], *, starting: bool = False) -> None:
        """Apply a partial update, all of it or nothing, refusing unknown keys and bad values
        with WebhookSettingError; `concurrency` can only be set when `starting`."""
        known = {f.name for f in fields(self)}
        merged = {name: getattr(self, name) for name in known}
        for key, value in values.items():
            if key not in known:
                raise WebhookSettingError(key, f"unknown webhook setting {key!r}")
            if key == "concurrency" and not starting and value != self.concurrency:
                raise WebhookSettingError(
                    key, "concurrency is set at start (--webhook-concurrency)"
                )
            merged[key] = _checked(key, value)
        if merged["url"] is not None and not merged["secrets"]:
            raise WebhookSettingError(
                "secrets", "a webhook url needs at least one signing secret (whsec_...)"
            )
        if merged["retry_cap"] < merged["retry_base"]:
            raise WebhookSettingError(
                "retry_cap", "webhook setting 'retry_cap' must be at least 'retry_base'"
            )
        for key, value in merged.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        """The settings without the secrets, which only show as their count."""
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "secrets"}
        return {**shown, "secret_count": len(self.secrets)}


def _checked(key: str, value: Any) -> Any:
    """`value` for setting `key` if it is valid, else WebhookSettingError."""
    try:
        return _valid(key, value)
    except ValueError as exc:
        raise WebhookSettingError(key, str(exc)) from None


def _valid(key: str, value: Any) -> Any:
    """`value` for setting `key` if it is valid, else ValueError."""
    if key == "url":
        if value is not None and (
            not isinstance(value, str) or not value.startswith(("http://", "https://"))
        ):
            raise ValueError("webhook setting 'url' must be an http:// or https:// URL or null")
        return value
    if key == "secrets":
        if not isinstance(value, list) or not all(
            isinstance(s, str) and s.startswith(SECRET_PREFIX) and len(s) > len(SECRET_PREFIX)
            for s in value
        ):
            raise ValueError("webhook setting 'secrets' must be a list of whsec_... strings")
        return list(value)
    if key in ("max_attempts", "concurrency", "seed"):
        if not isinstance(value, int) or isinstance(value, bool):
            if key == "seed" and value is None:
                return None
            raise ValueError(f"webhook setting {key!r} must be an integer")
        if key != "seed" and value < 1:
            raise ValueError(f"webhook setting {key!r} must be at least 1")
        return value
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"webhook setting {key!r} must be a non-negative number")
    if key in _PROBABILITIES and value > 1:
        raise ValueError(f"webhook setting {key!r} must be between 0 and 1")
    if key in ("retry_base", "timeout") and value == 0:
        raise ValueError(f"webhook setting {key!r} must be positive")
    return float(value)


@dataclass(slots=True)
class _Delivery:
    """One delivery of one event: the original (copy 0) or its duplicate (copy 1)."""

    event_id: str
    copy: int
    injected: int  # attempts still to fail on purpose
    delay: float  # seconds to wait before it is queued
    attempts: int = 0


@dataclass(slots=True)
class _Held:
    """An event held back (`reorder`) until `left` later events have been queued."""

    deliveries: list[_Delivery]
    left: int
    passed: bool = False


class WebhookSender:
    """Queues the deliveries of new events and sends them from workers on the running loop."""

    def __init__(self, config: WebhookConfig, body: Callable[[str], bytes | None]) -> None:
        self.config = config
        self._body = body  # the event's JSON as GET /v1/events/{id} serves it
        self._random = random.Random(config.seed)
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self._pending = 0  # deliveries queued and not yet delivered or abandoned
        self._retrying = 0  # deliveries waiting out a backoff
        self._last_failure: str | None = None
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.config.url!r}, pending={self._pending})"

    def configure(self, values: dict[str, Any]) -> None:
        """Change the settings at run time (ValueError for a bad one); a `seed` reseeds."""
        self.config.update(values)
        if "seed" in values:
            self._random.seed(self.config.seed)

    def status(self) -> dict[str, Any]:
        """The settings (no secrets) and the counters, for `GET /_sandbox/webhooks`."""
        return {
            "config": self.config.as_dict(),
            "counters": {
                **self.counters,
                "retries_pending": self._retrying,
                "pending": self._pending,
            },
            "last_failure": self._last_failure,  # e.g. "HTTP 500", "ConnectError", "injected"
        }

    # --- queueing ----------------------------------------------------------------------------

    def enqueue(self, event_ids: Iterable[str]) -> None:
        """Queue the deliveries of new events (in the order given); must run on the loop.

        Nothing is sent without an endpoint: like Stripe's, it only gets the events created
        while it exists.
        """
        if self.config.url is None:
            return
        ordered = self._plan(event_ids)
        if not ordered:
            return
        self._start()
        loop = asyncio.get_running_loop()
        for delivery in ordered:
            self._pending += 1
            if delivery.delay > 0:
                self._later(loop, delivery.delay, delivery)
            else:
                self._queue.put_nowait(delivery)

    def _plan(self, event_ids: Iterable[str]) -> list[_Delivery]:
        """Decide every event's faults, in order, and return the batch's deliveries in the
        order they are to be queued (see the module doc)."""
        config, rng, counters = self.config, self._random, self.counters
        ordered: list[_Delivery] = []
        held: list[_Held] = []
        for event_id in event_ids:
            counters["events"] += 1
            if config.drop and rng.random() < config.drop:
                counters["dropped"] += 1
                continue
            copies = [self._delivery(event_id, 0)]
            if config.duplicates and rng.random() < config.duplicates:
                copies.append(self._delivery(event_id, 1))
            counters["queued"] += len(copies)
            if config.reorder and rng.random() < config.reorder:
                held.append(_Held(copies, rng.randint(1, MAX_HOLD)))
                continue
            ordered.extend(copies)
            still: list[_Held] = []
            for waiting in held:
                waiting.left -= 1
                waiting.passed = True
                if waiting.left:
                    still.append(waiting)
                else:
                    ordered.extend(waiting.deliveries)
                    counters["reordered"] += 1
            held = still
        for waiting in held:  # the batch ends: nothing later is left to let pass
            ordered.extend(waiting.deliveries)
            counters["reordered"] += waiting.passed
        return ordered

    def _delivery(self, event_id: str, copy: int) -> _Delivery:
        """A delivery of `event_id` with its delay and injected failures drawn."""
        config, rng = self.config, self._random
        delay = config.delay_ms * rng.uniform(0.5, 1.5) / 1000 if config.delay_ms else 0.0
        injected = 0
        if config.fail:
            while injected < config.max_attempts and rng.random() < config.fail:
                injected += 1
        return _Delivery(event_id, copy, injected, delay)

    def _later(self, loop: asyncio.AbstractEventLoop, delay: float, delivery: _Delivery) -> None:
        """Queue `delivery` after `delay` seconds, without holding a worker meanwhile."""

        def due() -> None:
            self._timers.discard(handle)
            self._queue.put_nowait(delivery)

        handle = loop.call_later(delay, due)
        self._timers.add(handle)

    def _start(self) -> None:
        """Open the client and start the workers, once, on the running loop."""
        if self._workers:
            return
        size = self.config.concurrency
        self._client = httpx.AsyncClient(
            # Our keep-alive transport, not httpcore's pool, whose CPU per request grows with
            # its connections: at a few hundred events a second the sender, standing in for
            # Stripe, was what the receiver waited for.
            transport=pooled_transport(max_connections=size, env={}),  # never a proxy's
            follow_redirects=False,  # Stripe counts a redirect as a failed delivery
            trust_env=False,  # the endpoint is the configured URL, never a proxy's
        )
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work()) for _ in range(size)]

    # --- sending -----------------------------------------------------------------------------

    async def _work(self) -> None:
        """Attempt queued deliveries one after another, until cancelled."""
        while True:
            delivery = await self._queue.get()
            try:
                await self._attempt(delivery)
            except Exception as exc:  # a worker must outlive any one delivery
                log.exception("webhook delivery of %s crashed", delivery.event_id)
                self._failed(delivery, type(exc).__name__)

    async def _attempt(self, delivery: _Delivery) -> None:
        """Send `delivery` once (or fail it on purpose), then count it done or retry it."""
        config = self.config
        url = config.url
        payload = None if url is None else self._body(delivery.event_id)
        if url is None or payload is None:  # the endpoint was removed meanwhile
            self.counters["discarded"] += 1
            self._pending -= 1
            return
        delivery.attempts += 1
        self.counters["attempts"] += 1
        if delivery.injected:
            delivery.injected -= 1
            self.counters["injected_failures"] += 1
            self._failed(delivery, "injected")
            return
        assert self._client is not None
        # Signed at each attempt with the wall clock, as Stripe does: receivers check `t`
        # against their own clock, whatever the sandbox's account clock says.
        headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            "Stripe-Signature": signature_header(payload, config.secrets, int(time.time())),
        }
        try:
            response = await self._client.post(
                url, content=payload, headers=headers, timeout=config.timeout
            )
        except httpx.HTTPError as exc:
            self._failed(delivery, type(exc).__name__)
            return
        if 200 <= response.status_code < 300:
            self.counters["delivered"] += 1
            self.counters["duplicates_sent"] += delivery.copy
            self._pending -= 1
        else:
            self._failed(delivery, f"HTTP {response.status_code}")

    def _failed(self, delivery: _Delivery, reason: str) -> None:
        """Count a failed attempt, then retry after the backoff or give up."""
        self.counters["failed_attempts"] += 1
        self._last_failure = reason
        config = self.config
        if delivery.attempts >= config.max_attempts:
            self.counters["gave_up"] += 1
            self._pending -= 1
            log.warning(
                "webhook delivery of %s abandoned after %d attempts (last: %s)",
                delivery.event_id,
                delivery.attempts,
                reason,
            )
            return
        self._retrying += 1
        wait = min(config.retry_cap, config.retry_base * 2 ** (delivery.attempts - 1))

        def retry() -> None:
            self._retrying -= 1
            self._timers.discard(handle)
            self._queue.put_nowait(delivery)

        handle = asyncio.get_running_loop().call_later(wait, retry)
        self._timers.add(handle)

    async def close(self) -> None:
        """Stop the workers and timers and close the connections (pending deliveries are lost,
        as the sandbox's account is)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
