"""An async Customer.io Track API client over httpx: rate-limited, bounded, retrying, checked."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from ..exceptions import (
    APIError,
    CustomerIOAPIError,
    CustomerIOCertificateError,
    CustomerIORequestError,
    CustomerIOUnavailableError,
)
from ..http import USER_AGENT, AsyncAPIClient
from ..redaction import mask_url
from ..retry import RetryPolicy
from ..settings import CustomerIOSettings
from .errors import error_for, error_message, first_problem, is_retryable
from .limits import MAX_BATCH_BYTES, MAX_ENTITY_BYTES, MAX_ITEM_BYTES
from .results import (
    BatchResult,
    CustomerIOClientStats,
    ItemError,
    batch_body,
    item_errors_207,
)

BATCH_PATH = "/api/v2/batch"
ENTITY_PATH = "/api/v2/entity"
REGION_PATH = "/api/v1/accounts/region"
_JSON = {"Content-Type": "application/json"}
# A refused batch is cut in halves; these statuses mean "something in this body is bad".
_BAD_BODY = (400, 413, 422)

Item = bytes | Mapping[str, Any]


def _encode(item: Item) -> bytes:
    return item if isinstance(item, bytes) else orjson.dumps(item)


class CustomerIOClient(AsyncAPIClient):
    """Talks to one Customer.io workspace: ``async with CustomerIOClient(settings) as cio``.

    Every request waits for one shared rate limiter (the settings' requests per second) and for
    one of `max_concurrency` slots. 429, 408, 5xx, timeouts and dropped connections are retried
    with exponential backoff and full jitter, honouring `Retry-After`; a 429 pauses every
    request of the client. 401/403 fail at once with a message naming site id and region.
    """

    _service = "Customer.io"
    _certificate_error = CustomerIOCertificateError

    def __init__(
        self,
        settings: CustomerIOSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 10,
        seed: int | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.settings = settings
        self.max_concurrency = max_concurrency
        self.stats: CustomerIOClientStats = CustomerIOClientStats()
        self._slots = asyncio.Semaphore(max_concurrency)
        super().__init__(
            settings.base_url,
            requests_per_second=settings.requests_per_second,
            retry=retry,
            seed=seed,
            headers={"User-Agent": USER_AGENT},
            # The Track API authenticates with HTTP basic auth: site id as user, API key as
            # password. Source:
            # https://docs.customer.io/integrations/api/track/#section/Authentication
            auth=httpx.BasicAuth(settings.site_id, settings.api_key.get_secret_value()),
            timeout=timeout,
            transport=transport,
            # No more connections than requests in flight: httpcore's pool does work growing
            # with the square of its connections on every request (a profile's share in
            # docs/delivery.md); see also _transport.
            max_connections=max_concurrency,
            ca_bundle=settings.ca_bundle,
        )

    def __repr__(self) -> str:
        settings = self.settings
        base_url = mask_url(settings.base_url)
        return f"CustomerIOClient(base_url={base_url!r}, site_id={settings.site_id!r})"

    # --- requests -----------------------------------------------------------------------------

    async def request(self, method: str, path: str, json: Any | None = None) -> Any:
        """Send one request (retrying transient failures); the decoded JSON body, or None."""
        content = None if json is None else orjson.dumps(json)
        headers = None if content is None else _JSON
        response, body = await self._send(method, path, content=content, headers=headers)
        if not 200 <= response.status_code < 300:
            raise error_for(self.settings, response, body, method, path)
        return body

    async def region(self) -> dict[str, Any]:
        """Ask Customer.io where the workspace lives: `{"url", "region", "environment_id"}`.

        Source: https://docs.customer.io/api/track/ (operation `getRegion`). The answer's `url`
        is not followed: the configured base URL stays in charge.
        """
        body = await self.request("GET", REGION_PATH)
        if not isinstance(body, dict):
            raise CustomerIOAPIError(
                f"Customer.io answered GET {REGION_PATH} without a JSON object",
                method="GET",
                path=REGION_PATH,
            )
        return body

    async def verify_region(self) -> None:
        """Check the credentials and that the workspace is in the configured region.

        A US host serves an EU workspace by redirecting it through US servers
        (https://docs.customer.io/api/track/, "Overview"), so a wrong region may not fail on its
        own: this makes it fail, with the fix in the message.
        """
        answer = await self.region()
        actual = str(answer.get("region", "")).lower()
        if actual and actual != self.settings.region:
            raise CustomerIORequestError(
                f"the Customer.io workspace of site id {self.settings.site_id!r} is in region "
                f"{actual!r}, but the settings say {self.settings.region!r}; set "
                f"CUSTOMERIO_REGION={actual} (or the CustomerIOCredentials block's region)",
                method="GET",
                path=REGION_PATH,
            )

    async def entity(self, item: Item) -> None:
        """Send one v2 item to `/api/v2/entity`; a refused item raises CustomerIORequestError."""
        content = item if isinstance(item, bytes) else orjson.dumps(item)
        if len(content) > MAX_ENTITY_BYTES:
            raise CustomerIORequestError(
                f"the item is {len(content)} bytes; /api/v2/entity takes at most "
                f"{MAX_ENTITY_BYTES}",
                method="POST",
                path=ENTITY_PATH,
            )
        response, body = await self._send("POST", ENTITY_PATH, content=content, headers=_JSON)
        if not 200 <= response.status_code < 300:
            raise error_for(self.settings, response, body, "POST", ENTITY_PATH)

    async def batch(self, items: Sequence[Item]) -> BatchResult:
        """Send v2 items to `/api/v2/batch`; which of them Customer.io refused, and why.

        Items may be given already encoded (compact JSON bytes, as the delivery packer does).
        A 207 maps each refused `batch_index` back to the item; a batch refused whole (400) is
        split in halves and resent until the bad items stand alone; an item over the size
        limit, or a body that cannot be cut below it, is refused without being sent.
        """
        self.stats.batches += 1
        encoded = [item if item.__class__ is bytes else _encode(item) for item in items]
        errors: list[ItemError] = []
        if encoded and max(map(len, encoded)) <= MAX_ITEM_BYTES:
            sendable = list(range(len(encoded)))  # the packer's batches: every item fits
        else:
            sendable = []
            for index, item in enumerate(encoded):
                if len(item) > MAX_ITEM_BYTES:
                    message = f"the item is {len(item)} bytes; a batch item may be {MAX_ITEM_BYTES}"
                    errors.append(ItemError(index, "too_large", "", message))
                else:
                    sendable.append(index)
        if sendable:
            await self._send_batch(encoded, sendable, errors)
        errors.sort(key=lambda error: error.index)
        self.stats.items_sent += len(encoded)
        self.stats.items_rejected += len(errors)
        return BatchResult(items=len(encoded), errors=tuple(errors))

    async def _send_batch(
        self, encoded: list[bytes], indices: list[int], errors: list[ItemError]
    ) -> None:
        whole = len(indices) == len(encoded)  # as first sent: no copy of the list
        body = batch_body(encoded if whole else [encoded[i] for i in indices])
        if len(body) > MAX_BATCH_BYTES and len(indices) > 1:
            await self._halves(encoded, indices, errors)
            return
        response, payload = await self._send("POST", BATCH_PATH, content=body, headers=_JSON)
        status = response.status_code
        if status == 207:
            errors.extend(item_errors_207(payload, indices))
        elif status in _BAD_BODY:
            if len(indices) == 1:
                errors.append(ItemError(indices[0], *first_problem(payload, status)))
            else:
                self.stats.split_batches += 1
                await self._halves(encoded, indices, errors)
        elif not 200 <= status < 300:
            raise error_for(self.settings, response, payload, "POST", BATCH_PATH)

    async def _halves(
        self, encoded: list[bytes], indices: list[int], errors: list[ItemError]
    ) -> None:
        # One half after the other: a bad batch is rare, and order within it is kept.
        middle = len(indices) // 2
        await self._send_batch(encoded, indices[:middle], errors)
        await self._send_batch(encoded, indices[middle:], errors)

    # --- hooks of the request loop (AsyncAPIClient._send): what Customer.io does differently -

    def _failure(self, response: httpx.Response, body: Any, method: str, path: str) -> str | None:
        """None unless the status is transient (the caller judges the rest); counts statuses."""
        status = response.status_code
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if not is_retryable(status):
            return None
        return f"HTTP {status}: {error_message(body) or response.reason_phrase}"

    def _unavailable(self, message: str, status: int | None, method: str, path: str) -> APIError:
        """CustomerIOUnavailableError with the last status Customer.io answered, if any."""
        return CustomerIOUnavailableError(message, status_code=status, method=method, path=path)

    def _sent(self, content: bytes) -> None:
        """Count the bytes of a request body."""
        self.stats.bytes_sent += len(content)
