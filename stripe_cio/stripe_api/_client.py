"""An async Stripe API client over httpx: rate-limited, retrying, and checking every status."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .._exceptions import StripeCertificateError, StripeUnavailableError
from .._http import (
    USER_AGENT,
    AsyncAPIClient,
    certificate_failure,
    certificate_problem,
    failure_name,
    json_body,
)
from .._ratelimit import AsyncRateLimiter
from .._redact import mask_url
from .._retry import RetryPolicy, retry_after_seconds
from .._settings import StripeSettings
from .._transport import pooled_transport
from ._errors import error_for, is_retryable

__all__ = ["STRIPE_API_VERSION", "Params", "StripeClient", "StripeClientStats"]

# Pinned so object shapes cannot change under us. Versions from 2025-03-31.basil on no longer book
# the released remainder of a partial capture (or an expired authorisation) as refunded, which the
# attribute contract relies on. Source: https://docs.stripe.com/changelog/basil
STRIPE_API_VERSION = "2026-10-28.endive"

ParamValue = str | int | float | bool | None
Params = Mapping[str, ParamValue | list[str]]


@dataclass
class StripeClientStats:
    """What one client did: requests sent, retries, and why it retried."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429s received; with our own limiter these should stay at zero
    server_errors: int = 0
    transport_errors: int = 0


class StripeClient(AsyncAPIClient):
    """Reads from one Stripe account; use as ``async with StripeClient(settings) as stripe``.

    Every request waits for the shared rate limiter (the settings' requests per second), and
    transient failures (429, 409, 5xx, timeouts, dropped connections) are retried with
    exponential backoff and jitter, as Stripe's `Stripe-Should-Retry` header allows.
    """

    def __init__(
        self,
        settings: StripeSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 64,
        seed: int | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.limiter = AsyncRateLimiter(settings.effective_requests_per_second)
        self.stats = StripeClientStats()
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security
        headers = {
            "Authorization": f"Bearer {settings.api_key.get_secret_value()}",
            "Stripe-Version": STRIPE_API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if settings.account:
            headers["Stripe-Account"] = settings.account
        self._http = httpx.AsyncClient(
            base_url=settings.api_base,
            headers=headers,
            timeout=timeout,
            transport=transport
            or pooled_transport(max_connections=max_connections, ca_bundle=settings.ca_bundle),
        )

    def __repr__(self) -> str:
        mode = "live" if self.settings.livemode else "test"
        return f"StripeClient(api_base={self.settings.api_base!r}, mode={mode!r})"

    async def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET a Stripe path such as ``/v1/customers`` and return the decoded JSON object."""
        query = _encode(params or {})
        failure = "no attempt"
        for attempt in range(self.retry.max_attempts):
            await self.limiter.acquire()
            self.stats.requests += 1
            try:
                response = await self._http.get(path, params=query)
            except httpx.TransportError as exc:  # timeouts, refused and dropped connections
                if (problem := certificate_problem(exc)) is not None:
                    raise StripeCertificateError(
                        certificate_failure(self.settings.api_base, problem),
                        method="GET",
                        path=path,
                    ) from None
                self.stats.transport_errors += 1
                failure = failure_name(exc)
                delay = self.retry.backoff(attempt, self._rng)
            else:
                _unlink(response)
                body = json_body(response)
                if response.status_code == 200 and isinstance(body, dict):
                    return body
                error = error_for(response, body, "GET", path)
                # A 200 without JSON is a proxy or gateway page: transient, like a 502.
                if response.status_code != 200 and not is_retryable(response):
                    raise error
                failure = str(error)
                delay = self._delay_after(response, attempt)
            if attempt + 1 < self.retry.max_attempts:
                self.stats.retries += 1
                await asyncio.sleep(delay)
        raise StripeUnavailableError(
            f"Stripe did not answer GET {path} at {mask_url(self.settings.api_base)} after "
            f"{self.retry.max_attempts} attempts; last failure: {failure}",
            method="GET",
            path=path,
        )

    def _delay_after(self, response: httpx.Response, attempt: int) -> float:
        delay = self.retry.backoff(attempt, self._rng)
        if response.status_code == 429:
            self.stats.rate_limited += 1
            delay = retry_after_seconds(response) or max(delay, self.retry.rate_limit_delay)
            self.limiter.pause(delay)  # every task of this client backs off, not just this one
        elif response.status_code >= 500:
            self.stats.server_errors += 1
        return delay


def _unlink(response: httpx.Response) -> None:
    """Undo the cycle httpx's client makes between a response and its (already read) stream.

    httpx wraps each response's stream in a `BoundAsyncStream` that refers back to the response,
    so every response, with its body (230 kB for a page of charges), waits for the cyclic
    garbage collector, which a backfill runs rarely (see `extract/_backfill.py`); a run held
    860 MB of such bodies. With the link cut, reference counting frees each one at once.
    """
    response.stream = _READ


_READ = httpx.ByteStream(b"")  # stands in for the stream of a response already read


def _encode(params: Params) -> list[tuple[str, str | int | float | bool | None]]:
    """Encode params the way Stripe's form encoding expects (booleans as true/false)."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((key, text))
    return pairs
