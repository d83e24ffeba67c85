"""The request loop, the client-side rate limit and helpers shared by the Stripe and Customer.io
clients."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

import httpx
import orjson

from . import __version__
from .exceptions import APIError
from .redaction import mask_url
from .retry import RetryPolicy, retry_after_seconds
from .transport import pooled_transport

USER_AGENT = f"stripe-cio/{__version__} httpx/{httpx.__version__}"


def json_body(response: httpx.Response) -> Any | None:
    """The response's JSON, or None when the body is empty or not JSON (an HTML error page)."""
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def certificate_problem(error: httpx.TransportError) -> str | None:
    """Why the server's TLS certificate was refused, when that is what failed the request.

    Unlike a dropped connection this never heals by retrying, and the request was not sent:
    the clients report it at once, so an intercepting proxy or a wrong host is named plainly.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or cause)
        cause = cause.__cause__ or cause.__context__
    return None


def certificate_failure(base_url: str, problem: str) -> str:
    """The one-line message for a certificate refused at `base_url`, with the usual remedy.

    Behind a proxy that inspects TLS, every certificate is signed by the proxy's own authority;
    trusting that authority through STRIPE_CIO_CA_BUNDLE is the fix, never switching checks off.
    """
    return (
        f"the TLS certificate of {mask_url(base_url)} could not be verified ({problem}); "
        "stripe-cio always verifies TLS and sent nothing; behind a proxy that inspects TLS, set "
        "STRIPE_CIO_CA_BUNDLE to a PEM file of its CA certificate"
    )


def failure_name(error: httpx.TransportError) -> str:
    """How a transport failure is named in a client's "last failure": its type, and for a proxy
    error its message too, which names the proxy (password masked) and what it did."""
    if isinstance(error, httpx.ProxyError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


QueryPairs = list[tuple[str, str | int | float | bool | None]]


class RequestCounts(Protocol):
    """The counters every client's stats keep, which the shared request loop updates."""

    requests: int
    retries: int
    rate_limited: int  # 429s received; with our own limiter these should stay at zero
    server_errors: int
    transport_errors: int


class AsyncAPIClient:
    """Owns an httpx.AsyncClient and sends every request through one retrying loop (`_send`).

    Use as ``async with`` or call aclose() when done. The loop waits for the rate limiter (and
    a concurrency slot, when the client has `_slots`), sends, and retries timeouts, dropped
    connections and what the client's `_failure` calls transient, with exponential backoff and
    jitter, honouring `Retry-After`; a 429 pauses every request of the client. A certificate
    that cannot be verified fails at once. A client sets `stats` (and `_slots`, to bound the
    requests in flight), and supplies `_failure` and `_unavailable` (and `_sent`, to count
    request bodies).
    """

    _service: ClassVar[str]  # how messages name the API: "Stripe did not answer …"
    _certificate_error: ClassVar[type[APIError]]
    retry: RetryPolicy
    limiter: AsyncRateLimiter
    stats: RequestCounts
    _rng: random.Random
    _http: httpx.AsyncClient
    _base_url: str  # as configured, for messages (httpx's own copy gains a trailing slash)
    _slots: asyncio.Semaphore | None = None  # a bound on requests in flight, if any

    def __init__(
        self,
        base_url: str,
        *,
        requests_per_second: float,
        retry: RetryPolicy | None,
        seed: int | None,
        headers: Mapping[str, str],
        auth: httpx.Auth | None = None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
        max_connections: int,
        ca_bundle: Path | None,
    ) -> None:
        """Set up the rate limiter, retry policy and connection pool the request loop uses."""
        self._base_url = base_url
        self.retry = retry or RetryPolicy()
        self.limiter = AsyncRateLimiter(requests_per_second)
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            headers=headers,
            timeout=timeout,
            transport=transport
            or pooled_transport(max_connections=max_connections, ca_bundle=ca_bundle),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- what each client supplies ------------------------------------------------------------

    def _failure(self, response: httpx.Response, body: Any, method: str, path: str) -> str | None:
        """Why `response` calls for another attempt, or None when it is the answer.

        Raises the client's error when retrying cannot help.
        """
        raise NotImplementedError

    def _unavailable(self, message: str, status: int | None, method: str, path: str) -> APIError:
        """The error raised when every attempt failed; `status` is the last HTTP status, if any."""
        raise NotImplementedError

    def _sent(self, content: bytes) -> None:
        """Count a request body about to be sent (each attempt's)."""

    # --- the request loop ---------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: QueryPairs | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response, Any]:
        """One request through the limiter, retried while it fails transiently.

        Returns the response with its decoded JSON (None when there is none) once `_failure`
        accepts it; raises the client's errors otherwise.
        """
        retry, stats, slots = self.retry, self.stats, self._slots
        failure = "no attempt"
        status: int | None = None
        for attempt in range(retry.max_attempts):
            if slots is not None:
                await slots.acquire()  # held for one attempt, not for the wait before the next
            try:
                await self.limiter.acquire()
                stats.requests += 1
                if content is not None:
                    self._sent(content)
                try:
                    response = await self._http.request(
                        method, path, params=params, content=content, headers=headers
                    )
                except httpx.TransportError as exc:  # timeouts, refused and dropped connections
                    if (problem := certificate_problem(exc)) is not None:
                        raise self._certificate_error(
                            certificate_failure(self._base_url, problem), method=method, path=path
                        ) from None
                    stats.transport_errors += 1
                    failure, status = failure_name(exc), None
                    delay = retry.backoff(attempt, self._rng)
                else:
                    status = response.status_code
                    body = json_body(response)
                    reason = self._failure(response, body, method, path)
                    if reason is None:
                        return response, body
                    failure = reason
                    delay = self._delay_after(response, attempt)
            finally:
                if slots is not None:
                    slots.release()
            if attempt + 1 < retry.max_attempts:
                stats.retries += 1
                await asyncio.sleep(delay)
        raise self._unavailable(
            f"{self._service} did not answer {method} {path} at {mask_url(self._base_url)} "
            f"after {retry.max_attempts} attempts; last failure: {failure}",
            status,
            method,
            path,
        )

    def _delay_after(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait after a transient `response`, counted; a 429 pauses the whole client."""
        delay = self.retry.backoff(attempt, self._rng)
        if response.status_code == 429:
            self.stats.rate_limited += 1
            delay = retry_after_seconds(response) or max(delay, self.retry.rate_limit_delay)
            self.limiter.pause(delay)  # every request of this client backs off, not just this one
        elif response.status_code >= 500:
            self.stats.server_errors += 1
        return delay


# --- the client-side rate limit -------------------------------------------------------------------
# A client-side rate limiter shared by every request of one client, so we never earn a 429.
#
# Requests reserve evenly spaced send times (1/rate apart); a burst of up to `burst` requests may
# go at once after a quiet spell. Reservations are made without awaiting, so concurrent tasks of
# one event loop share the limiter fairly without a lock. A 429 from the server pushes every
# reservation back (`pause`), since the server's bucket is shared by all our tasks too.


class AsyncRateLimiter:
    """Spaces acquisitions `1/rate` seconds apart, allowing `burst` at once after idling."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = clock()  # the earliest send time not yet reserved
        self.waited = 0.0  # total seconds spent waiting, for run statistics

    def reserve(self) -> float:
        """Reserve the next send slot and return how long to wait for it (0 when it is now)."""
        now = self._clock()
        # After an idle spell, up to `burst` slots may lie in the past: they go at once.
        earliest = now - (self.burst - 1) * self._interval
        slot = max(self._next, earliest)
        self._next = slot + self._interval
        return max(0.0, slot - now)

    async def acquire(self) -> None:
        """Wait until this caller may send one request."""
        delay = self.reserve()
        if delay > 0:
            self.waited += delay
            await self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Let nobody send for `seconds` from now (the server said we were too fast)."""
        self._next = max(self._next, self._clock() + seconds)
