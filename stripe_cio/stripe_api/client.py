"""An async Stripe API client over httpx: rate-limited, retrying, and checking every status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..exceptions import APIError, StripeCertificateError, StripeUnavailableError
from ..http import USER_AGENT, AsyncAPIClient, QueryPairs
from ..retry import RetryPolicy
from ..settings import StripeSettings
from .errors import error_for, is_retryable

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

    _service = "Stripe"
    _certificate_error = StripeCertificateError

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
        self.stats: StripeClientStats = StripeClientStats()
        headers = {
            "Authorization": f"Bearer {settings.api_key.get_secret_value()}",
            "Stripe-Version": STRIPE_API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if settings.account:
            headers["Stripe-Account"] = settings.account
        super().__init__(
            settings.api_base,
            requests_per_second=settings.effective_requests_per_second,
            retry=retry,
            seed=seed,
            headers=headers,
            timeout=timeout,
            transport=transport,
            max_connections=max_connections,
            ca_bundle=settings.ca_bundle,
        )

    def __repr__(self) -> str:
        mode = "live" if self.settings.livemode else "test"
        return f"StripeClient(api_base={self.settings.api_base!r}, mode={mode!r})"

    async def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET a Stripe path such as ``/v1/customers`` and return the decoded JSON object."""
        body: dict[str, Any]
        _, body = await self._send("GET", path, params=_encode(params or {}))
        return body

    def _failure(self, response: httpx.Response, body: Any, method: str, path: str) -> str | None:
        """None for a 200 with a JSON object; else the error, raised unless it is transient."""
        _unlink(response)
        if response.status_code == 200 and isinstance(body, dict):
            return None
        error = error_for(response, body, method, path, self.settings.origin)
        # A 200 without JSON is a proxy or gateway page: transient, like a 502.
        if response.status_code != 200 and not is_retryable(response):
            raise error
        return str(error)

    def _unavailable(self, message: str, status: int | None, method: str, path: str) -> APIError:
        """StripeUnavailableError, without a status code: its last failure is in the message."""
        return StripeUnavailableError(message, method=method, path=path)


def _unlink(response: httpx.Response) -> None:
    """Undo the cycle httpx's client makes between a response and its (already read) stream.

    httpx wraps each response's stream in a `BoundAsyncStream` that refers back to the response,
    so every response, with its body (hundreds of kB for a page of charges), waits for the
    cyclic garbage collector, which a backfill runs rarely (see `extract/backfiller.py`), and a
    run's memory fills with such bodies (see docs/extraction.md). With the link cut, reference
    counting frees each one at once.
    """
    response.stream = _READ


_READ = httpx.ByteStream(b"")  # stands in for the stream of a response already read


def _encode(params: Params) -> QueryPairs:
    """Encode params the way Stripe's form encoding expects (booleans as true/false)."""
    pairs: QueryPairs = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((key, text))
    return pairs
