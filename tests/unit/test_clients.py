"""The Stripe and Customer.io clients: headers, status checks, one-line errors, no secrets."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from stripe_cio import (
    CustomerIOAuthError,
    CustomerIORequestError,
    CustomerIOSettings,
    CustomerIOUnavailableError,
    StripeAPIError,
    StripeAuthError,
    StripeRequestError,
    StripeSettings,
    StripeUnavailableError,
)
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.retry import RetryPolicy
from stripe_cio.stripe_api import STRIPE_API_VERSION, StripeClient

pytestmark = pytest.mark.anyio

STRIPE_KEY = "sk_test_51ClientSentinel0123456789"
CIO_KEY = "cio-client-sentinel-abcdef0123"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


NO_WAIT = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0, rate_limit_delay=0)


def stripe_client(handler: Handler, **settings: str) -> StripeClient:
    values = {"api_key": STRIPE_KEY, **settings}
    return StripeClient(
        StripeSettings.load(values), transport=httpx.MockTransport(handler), retry=NO_WAIT
    )


def cio_client(handler: Handler, **settings: str) -> CustomerIOClient:
    values = {"site_id": "site-1", "api_key": CIO_KEY, **settings}
    return CustomerIOClient(
        CustomerIOSettings.load(values), transport=httpx.MockTransport(handler), retry=NO_WAIT
    )


def stripe_error(status: int, message: str, **extra: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": "x", "message": message, **extra}})


async def test_stripe_client_sends_key_version_account_and_encoded_params() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "list", "data": []})

    async with stripe_client(handler, account="acct_42") as stripe:
        body = await stripe.get(
            "/v1/events", {"limit": 100, "types[]": ["a.b", "c.d"], "x": None, "flag": True}
        )
    assert body == {"object": "list", "data": []}
    request = seen[0]
    assert request.url.host == "api.stripe.com"
    assert request.headers["Authorization"] == f"Bearer {STRIPE_KEY}"
    assert request.headers["Stripe-Version"] == STRIPE_API_VERSION
    assert request.headers["Stripe-Account"] == "acct_42"
    assert request.url.params.multi_items() == [
        ("limit", "100"),
        ("types[]", "a.b"),
        ("types[]", "c.d"),
        ("flag", "true"),
    ]


@pytest.mark.parametrize(
    ("response", "error_type", "fragment"),
    [
        (
            stripe_error(401, "Invalid API Key provided: sk_test_****6789"),
            StripeAuthError,
            "HTTP 401",
        ),
        (stripe_error(403, "no permission"), StripeAuthError, "read permission"),
        (stripe_error(400, "bad", param="limit"), StripeRequestError, "(param limit)"),
        (stripe_error(404, "No such customer"), StripeRequestError, "No such customer"),
        (stripe_error(429, "Too many requests"), StripeUnavailableError, "HTTP 429"),
        (httpx.Response(502, text="<html>bad gateway</html>"), StripeUnavailableError, "HTTP 502"),
        (httpx.Response(200, text="<html>oops</html>"), StripeAPIError, "no JSON object"),
    ],
)
async def test_stripe_errors_are_typed_one_line_and_secret_free(
    response: httpx.Response, error_type: type[Exception], fragment: str
) -> None:
    async with stripe_client(lambda _: response) as stripe:
        with pytest.raises(error_type) as caught:
            await stripe.get("/v1/customers")
    message = str(caught.value)
    assert fragment in message
    assert "/v1/customers" in message
    assert "\n" not in message
    assert STRIPE_KEY not in message + repr(caught.value)


async def test_stripe_connection_failure_names_the_host() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with stripe_client(handler) as stripe:
        with pytest.raises(StripeUnavailableError) as caught:
            await stripe.get("/v1/charges")
    assert str(caught.value) == (
        "Stripe did not answer GET /v1/charges at https://api.stripe.com after 3 attempts; "
        "last failure: ConnectError"
    )
    assert stripe.stats.transport_errors == 3


def scripted(*responses: httpx.Response | type[httpx.TransportError]) -> Handler:
    """A handler that answers with each response in turn (an exception class is raised)."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, httpx.Response):
            return item
        raise item("scripted failure", request=request)

    return handler


OK = httpx.Response(200, json={"object": "list", "data": [], "has_more": False})


async def test_transient_failures_are_retried_until_success() -> None:
    handler = scripted(
        httpx.Response(500, json={"error": {"message": "boom"}}),
        httpx.RemoteProtocolError,
        httpx.Response(200, text="<html>gateway</html>"),
        OK,
    )
    client = stripe_client(handler)
    client.retry = RetryPolicy(max_attempts=4, base_delay=0, max_delay=0, rate_limit_delay=0)
    async with client as stripe:
        assert (await stripe.get("/v1/charges"))["object"] == "list"
    assert (stripe.stats.requests, stripe.stats.retries) == (4, 3)
    assert (stripe.stats.server_errors, stripe.stats.transport_errors) == (1, 1)


async def test_stripe_should_retry_header_wins() -> None:
    no = httpx.Response(500, headers={"Stripe-Should-Retry": "false"}, json={"error": {}})
    async with stripe_client(scripted(no)) as stripe:
        with pytest.raises(StripeUnavailableError, match="HTTP 500"):
            await stripe.get("/v1/charges")
    assert stripe.stats.requests == 1
    yes = httpx.Response(400, headers={"Stripe-Should-Retry": "true"}, json={"error": {}})
    async with stripe_client(scripted(yes, OK)) as stripe:
        await stripe.get("/v1/charges")
    assert stripe.stats.retries == 1


async def test_auth_and_request_errors_are_never_retried() -> None:
    for status in (400, 401, 403, 404):
        async with stripe_client(scripted(stripe_error(status, "no"))) as stripe:
            with pytest.raises(StripeAPIError):
                await stripe.get("/v1/charges")
        assert stripe.stats.requests == 1


async def test_rate_limit_pauses_the_whole_client_for_retry_after() -> None:
    limited = httpx.Response(
        429, headers={"Retry-After": "0"}, json={"error": {"code": "rate_limit"}}
    )
    async with stripe_client(scripted(limited, OK)) as stripe:
        await stripe.get("/v1/charges")
    assert stripe.stats.rate_limited == 1


async def test_customerio_client_uses_basic_auth_and_region_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"url": "https://track-eu.customer.io", "region": "eu"})

    async with cio_client(handler, region="eu") as cio:
        assert (await cio.region())["region"] == "eu"
    request = seen[0]
    assert request.url.host == "track-eu.customer.io"
    expected = base64.b64encode(f"site-1:{CIO_KEY}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


async def test_customerio_401_names_site_and_region_not_key() -> None:
    async with cio_client(lambda _: httpx.Response(401), region="eu") as cio:
        with pytest.raises(CustomerIOAuthError) as caught:
            await cio.request("POST", "/api/v2/batch", json={"batch": []})
    message = str(caught.value)
    assert "'site-1'" in message
    assert "region 'eu'" in message
    assert CIO_KEY not in message


@pytest.mark.parametrize(
    ("response", "error_type", "fragment"),
    [
        (
            httpx.Response(400, json={"meta": {"errors": ["batch too large"]}}),
            CustomerIORequestError,
            "batch too large",
        ),
        (httpx.Response(429, text=""), CustomerIOUnavailableError, "HTTP 429"),
        (httpx.Response(503, text="down"), CustomerIOUnavailableError, "HTTP 503"),
    ],
)
async def test_customerio_errors_are_typed(
    response: httpx.Response, error_type: type[Exception], fragment: str
) -> None:
    async with cio_client(lambda _: response) as cio:
        with pytest.raises(error_type, match=fragment):
            await cio.request("POST", "/api/v2/batch", json={"batch": []})


def test_client_reprs_hold_no_secret() -> None:
    stripe = stripe_client(lambda _: httpx.Response(200))
    cio = cio_client(lambda _: httpx.Response(200))
    assert STRIPE_KEY not in repr(stripe)
    assert CIO_KEY not in repr(cio)


# --- a real server on loopback, with every logger at DEBUG ------------------------------------


class _UnauthorisedHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"error": {"type": "invalid_request_error", "message": "Invalid key"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        logging.getLogger("test.server").debug(format, *args)


@pytest.fixture
def unauthorised_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _UnauthorisedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_real_http_run_logs_no_secret(
    unauthorised_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Prefect's logging setup (loaded earlier in a full run) raises httpx's own logger level.
    caplog.set_level(logging.DEBUG, logger="httpx")
    settings = StripeSettings.load({"api_key": STRIPE_KEY, "api_base": unauthorised_server})
    async with StripeClient(settings) as stripe:
        with pytest.raises(StripeAuthError) as caught:
            await stripe.get("/v1/customers", {"limit": 1})
    logging.getLogger("stripe_cio").exception("run failed", exc_info=caught.value)
    assert any("HTTP Request: GET" in record.getMessage() for record in caplog.records)
    assert STRIPE_KEY not in caplog.text
    assert STRIPE_KEY not in str(caught.value)
