"""Corporate networks: both clients through an HTTP CONNECT proxy, trusting a private CA.

Real parts on loopback (tests/reliability/_network.py): a CA made at test time, an HTTPS server
whose certificate it signed, reachable only through a CONNECT proxy that resolves its names;
the proxy counts tunnels and may demand Basic credentials. The clients read the proxy from the
environment, as httpx and the Stripe library do, and the CA from STRIPE_CIO_CA_BUNDLE only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stripe_cio import (
    ConfigError,
    CustomerIOCertificateError,
    CustomerIOSettings,
    CustomerIOUnavailableError,
    StripeCertificateError,
    StripeSettings,
    StripeUnavailableError,
    customerio_settings_from_env,
    stripe_settings_from_env,
)
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.redaction import MASK
from stripe_cio.retry import RetryPolicy
from stripe_cio.stripe_api import StripeClient
from tests.reliability._network import (
    CIO_HOST,
    STRIPE_HOST,
    ApiServer,
    ConnectProxy,
    make_certificates,
)

STRIPE_KEY = "sk_test_ProxyCanaryKey8Hw2"
CIO_KEY = "proxy-canary-cio-key"
PROXY_PASSWORD = "proxy-pass-canary-77"
# Several attempts, no waiting: what is retried shows in the counts, not in the test's time.
RETRIES = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Network:
    proxy: ConnectProxy
    api: ApiServer
    ca_file: Path


@pytest.fixture
async def network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Network]:
    """The API server behind the proxy, HTTPS_PROXY naming the proxy; no other proxy variable."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    ca_file, cert_file, key_file = make_certificates(tmp_path)
    api = ApiServer()
    await api.start(cert_file, key_file)
    target = ("127.0.0.1", api.port)
    proxy = ConnectProxy(routes={f"{STRIPE_HOST}:443": target, f"{CIO_HOST}:443": target})
    proxy.routes[f"localhost:{api.port}"] = target
    await proxy.start()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    yield Network(proxy, api, ca_file)
    await proxy.stop()
    await api.stop()


def stripe_client(ca_file: Path | None, base: str = f"https://{STRIPE_HOST}") -> StripeClient:
    env = {"STRIPE_API_KEY": STRIPE_KEY, "STRIPE_API_BASE": base}
    if ca_file is not None:
        env["STRIPE_CIO_CA_BUNDLE"] = str(ca_file)
    return StripeClient(stripe_settings_from_env(env), retry=RETRIES)


def cio_client(ca_file: Path | None) -> CustomerIOClient:
    env = {
        "CUSTOMERIO_SITE_ID": "site",
        "CUSTOMERIO_API_KEY": CIO_KEY,
        "CUSTOMERIO_TRACK_URL": f"https://{CIO_HOST}",
    }
    if ca_file is not None:
        env["STRIPE_CIO_CA_BUNDLE"] = str(ca_file)
    return CustomerIOClient(customerio_settings_from_env(env), retry=RETRIES)


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    assert STRIPE_KEY not in message
    assert CIO_KEY not in message
    assert PROXY_PASSWORD not in message
    return message


# --- through the proxy, trusting the CA -----------------------------------------------------


@pytest.mark.anyio
async def test_stripe_client_goes_through_the_tunnel_and_keeps_it_alive(network: Network) -> None:
    async with stripe_client(network.ca_file) as client:
        for _ in range(3):
            page = await client.get("/v1/customers", {"limit": 100})
            assert page["object"] == "list"
        assert client.stats.retries == 0
    assert network.proxy.connects == [f"{STRIPE_HOST}:443"]
    assert network.proxy.tunnels == 1  # three requests, one kept-alive tunnel
    assert network.api.requests == 3


@pytest.mark.anyio
async def test_customerio_client_goes_through_the_tunnel(network: Network) -> None:
    async with cio_client(network.ca_file) as client:
        result = await client.batch([{"type": "person", "identifiers": {"id": "1"}}])
        assert result.errors == ()
    assert network.proxy.connects == [f"{CIO_HOST}:443"]
    assert network.proxy.tunnels == 1
    assert network.api.requests == 1


@pytest.mark.anyio
async def test_basic_credentials_in_the_proxy_url_reach_the_proxy(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    network.proxy.credentials = f"ops:{PROXY_PASSWORD}"
    monkeypatch.setenv("HTTPS_PROXY", network.proxy.url(f"ops:{PROXY_PASSWORD}"))
    async with stripe_client(network.ca_file) as client:
        await client.get("/v1/customers")
    assert network.proxy.tunnels == 1
    assert network.api.requests == 1


# --- without the CA: refused, named, not retried --------------------------------------------


@pytest.mark.anyio
async def test_without_the_bundle_the_certificate_is_refused_once(network: Network) -> None:
    async with stripe_client(None) as stripe:
        with pytest.raises(StripeCertificateError) as stripe_refused:
            await stripe.get("/v1/customers")
        assert stripe.stats.retries == 0
    async with cio_client(None) as cio:
        with pytest.raises(CustomerIOCertificateError) as cio_refused:
            await cio.batch([{"type": "person", "identifiers": {"id": "1"}}])
        assert cio.stats.retries == 0
    for refused in (stripe_refused, cio_refused):
        message = one_line(refused.value)
        assert "unable to get local issuer certificate" in message
        assert "STRIPE_CIO_CA_BUNDLE" in message
    assert network.proxy.tunnels == 2  # one per client: nothing retried
    assert network.api.requests == 0  # no request, so no key, went through


# --- NO_PROXY -----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("no_proxy", ["localhost", ".localhost", "example.com, LOCALHOST", "*"])
async def test_no_proxy_sends_a_host_direct(
    network: Network, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("NO_PROXY", no_proxy)
    async with stripe_client(network.ca_file, f"https://localhost:{network.api.port}") as client:
        await client.get("/v1/customers")
    assert network.proxy.connects == []
    assert network.api.requests == 1


@pytest.mark.anyio
async def test_no_proxy_with_a_port_excuses_that_port_only(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = network.api.port
    monkeypatch.setenv("NO_PROXY", f"localhost:{port + 1}")
    async with stripe_client(network.ca_file, f"https://localhost:{port}") as client:
        await client.get("/v1/customers")
    assert network.proxy.connects == [f"localhost:{port}"]
    monkeypatch.setenv("NO_PROXY", f"localhost:{port}")
    async with stripe_client(network.ca_file, f"https://localhost:{port}") as client:
        await client.get("/v1/customers")
    assert network.proxy.tunnels == 1
    assert network.api.requests == 2


# --- a proxy that refuses, a proxy that is gone ---------------------------------------------


@pytest.mark.anyio
async def test_a_407_is_one_line_with_the_password_masked_and_not_retried(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    network.proxy.credentials = "ops:the-right-one"
    monkeypatch.setenv("HTTPS_PROXY", network.proxy.url(f"ops:{PROXY_PASSWORD}"))
    async with stripe_client(network.ca_file) as stripe:
        with pytest.raises(ConfigError) as refused:
            await stripe.get("/v1/customers")
        assert stripe.stats.retries == 0
    message = one_line(refused.value)
    assert message == (
        f"HTTPS_PROXY: the proxy http://ops:{MASK}@127.0.0.1:{network.proxy.port} refused "
        f"CONNECT {STRIPE_HOST}:443 with HTTP 407 Proxy Authentication Required; "
        "check HTTPS_PROXY and its credentials"
    )
    assert len(network.proxy.connects) == 1
    assert network.api.connections == 0


@pytest.mark.anyio
async def test_a_403_from_the_proxy_stops_the_customerio_client_too(network: Network) -> None:
    network.proxy.refuse = "403 Forbidden"
    async with cio_client(network.ca_file) as cio:
        with pytest.raises(ConfigError) as refused:
            await cio.batch([{"type": "person", "identifiers": {"id": "1"}}])
        assert cio.stats.retries == 0
    message = one_line(refused.value)
    assert f"refused CONNECT {CIO_HOST}:443 with HTTP 403 Forbidden" in message
    assert refused.value.setting == "HTTPS_PROXY"
    assert len(network.proxy.connects) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_a_dead_proxy_is_unavailable_naming_the_proxy(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://ops:{PROXY_PASSWORD}@127.0.0.1:{port}")
    async with stripe_client(network.ca_file) as stripe:
        with pytest.raises(StripeUnavailableError) as stripe_down:
            await stripe.get("/v1/customers")
        assert stripe.stats.retries == RETRIES.max_attempts - 1  # unreachable may heal
    async with cio_client(network.ca_file) as cio:
        with pytest.raises(CustomerIOUnavailableError) as cio_down:
            await cio.request("POST", "/api/v2/batch", {"batch": []})
    for down in (stripe_down, cio_down):
        message = one_line(down.value)
        assert f"the proxy http://ops:{MASK}@127.0.0.1:{port} (HTTPS_PROXY)" in message
    assert network.api.connections == 0


@pytest.mark.anyio
async def test_a_plain_http_origin_goes_to_the_proxy_in_absolute_form(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As httpx does: no tunnel for http, the request itself goes to the proxy."""
    monkeypatch.setenv("HTTP_PROXY", network.proxy.url(f"ops:{PROXY_PASSWORD}"))
    nowhere = closed_port()  # only the proxy answers for it
    settings = StripeSettings.load(
        {"api_key": STRIPE_KEY, "api_base": f"http://127.0.0.1:{nowhere}"}
    )
    async with StripeClient(settings, retry=RETRIES) as client:
        await client.get("/v1/customers", {"limit": 3})
    assert network.proxy.forwarded == [f"http://127.0.0.1:{nowhere}/v1/customers?limit=3"]
    assert network.proxy.connects == []
    network.proxy.credentials = "ops:the-right-one"
    async with StripeClient(settings, retry=RETRIES) as client:
        with pytest.raises(ConfigError) as refused:  # the proxy's 407, not Stripe's
            await client.get("/v1/customers")
        assert client.stats.retries == 0
    assert one_line(refused.value).startswith(
        f"HTTP_PROXY: the proxy http://ops:{MASK}@127.0.0.1:{network.proxy.port} refused "
        f"GET 127.0.0.1:{nowhere} with HTTP 407 Proxy Authentication Required"
    )


# --- the setting itself ---------------------------------------------------------------------


def test_the_bundle_is_never_taken_from_ssl_cert_file(tmp_path: Path) -> None:
    ca_file, _, _ = make_certificates(tmp_path)
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        settings = stripe_settings_from_env({"STRIPE_API_KEY": STRIPE_KEY, variable: str(ca_file)})
        assert settings.ca_bundle is None
    loaded = CustomerIOSettings.load({"site_id": "s", "api_key": CIO_KEY, "ca_bundle": ca_file})
    assert loaded.ca_bundle == ca_file


def test_the_cli_refuses_a_bad_bundle_in_one_line(tmp_path: Path) -> None:
    """The console script as installed; a missing file (tests/unit covers the other cases)."""
    bundle = tmp_path / "corporate-ca.pem"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "CUSTOMERIO_"))}
    env = {
        **base,
        "STRIPE_API_KEY": STRIPE_KEY,
        "CUSTOMERIO_SITE_ID": "s",
        "CUSTOMERIO_API_KEY": CIO_KEY,
        "STRIPE_CIO_DATA_DIR": str(tmp_path / "data"),
        "STRIPE_CIO_CA_BUNDLE": str(bundle),
    }
    script = Path(sys.executable).parent / "stripe-cio"
    result = subprocess.run(
        [str(script), "config"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: STRIPE_CIO_CA_BUNDLE: names ")
    assert str(bundle) in lines[0]
    assert "Traceback" not in result.stderr
