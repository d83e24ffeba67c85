"""The Customer.io client's retry and error rules, on scripted responses (no network)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from stripe_cio import (
    CustomerIOAuthError,
    CustomerIORequestError,
    CustomerIOSettings,
    CustomerIOUnavailableError,
)
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.retry import RetryPolicy

KEY = "cio-retry-sentinel-0123456789"
QUICK = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0, rate_limit_delay=0)


def send(
    responses: list[httpx.Response],
    call: Callable[[CustomerIOClient], object],
    arrivals: list[float] | None = None,
) -> list[float]:
    """Run `call` against scripted responses; the monotonic times at which requests arrived."""
    arrivals = [] if arrivals is None else arrivals

    def handler(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        return responses[min(len(arrivals), len(responses)) - 1]

    settings = CustomerIOSettings.load({"site_id": "site-9", "api_key": KEY, "region": "eu"})

    async def go() -> None:
        transport = httpx.MockTransport(handler)
        async with CustomerIOClient(settings, transport=transport, retry=QUICK) as client:
            await call(client)  # type: ignore[misc]

    asyncio.run(go())
    return arrivals


def test_retry_after_is_honoured_before_retrying_a_429() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "1"}, json={"meta": {"error": "slow"}})
    arrivals = send([limited, httpx.Response(200, json={})], lambda c: c.entity({"x": 1}))
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0


def test_transient_failures_give_up_after_the_last_attempt_with_the_last_reason() -> None:
    with pytest.raises(
        CustomerIOUnavailableError, match=r"after 3 attempts; last failure: HTTP 503"
    ):
        send([httpx.Response(503, text="down")], lambda c: c.batch([{"x": 1}]))


def test_auth_refusal_is_not_retried_and_names_site_region_and_host() -> None:
    arrivals: list[float] = []
    with pytest.raises(CustomerIOAuthError) as caught:
        send([httpx.Response(403)], lambda c: c.batch([{"x": 1}]), arrivals)
    assert len(arrivals) == 1
    message = str(caught.value)
    assert message.startswith("Customer.io refused the key or region from ")
    assert "site id 'site-9', region 'eu', https://track-eu.customer.io" in message
    assert KEY not in message


def test_a_redirect_points_at_the_region_setting() -> None:
    moved = httpx.Response(301, headers={"Location": "https://track-eu.customer.io/api/v2/batch"})
    with pytest.raises(CustomerIORequestError, match="set the region"):
        send([moved], lambda c: c.batch([{"x": 1}]))


def test_entity_refusal_raises_with_customerio_message() -> None:
    refused = httpx.Response(
        400, json={"errors": [{"reason": "invalid", "field": "name", "message": "name is blank"}]}
    )
    with pytest.raises(CustomerIORequestError, match="name is blank"):
        send([refused], lambda c: c.entity({"type": "person"}))
