"""Trust: TLS is always verified, credentials never follow a redirect, plain HTTP stays local.

Real servers on loopback: an HTTPS server whose certificate no public authority signed (as a
man in the middle would present), and an HTTP server that redirects to a second one recording
whatever reaches it. No Prefect here.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stripe_cio import (
    APIError,
    ConfigError,
    CustomerIOCertificateError,
    CustomerIOSettings,
    StripeCertificateError,
    StripeSettings,
)
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.retry import RetryPolicy
from stripe_cio.stripe_api import StripeClient
from stripe_cio.transport import pooled_transport

STRIPE_KEY = "sk_test_TrustCanaryKey8Hw2"
CIO_KEY = "trust-canary-cio-key"
ONE_ATTEMPT = RetryPolicy(max_attempts=1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Recorder:
    """A loopback HTTP(S) server that answers every request the same way and keeps them."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_port)

    def start(self, context: ssl.SSLContext | None = None) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.seen.append({"path": self.path, **dict(self.headers)})
                self.send_response(recorder.status)
                for name, value in recorder.headers.items():
                    self.send_header(name, value)
                body = b'{"object": "list", "data": [], "has_more": false, "url": "/v1/x"}'
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, and that key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.stripe.com")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def impostor(tmp_path: Path) -> Iterator[tuple[Recorder, Path]]:
    """An HTTPS server on loopback with a self-signed certificate, and that certificate."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = Recorder()
    server.start(context)
    yield server, cert_file
    server.stop()


@pytest.fixture
def redirect_pair() -> Iterator[tuple[Recorder, Recorder]]:
    """A server that answers 302 to a second server, which records what reaches it."""
    target = Recorder()
    target.start()
    redirector = Recorder(
        status=302, headers={"Location": f"http://127.0.0.1:{target.port}/collect"}
    )
    redirector.start()
    yield redirector, target
    redirector.stop()
    target.stop()


def stripe_client(base: str) -> StripeClient:
    settings = StripeSettings.load({"api_key": STRIPE_KEY, "api_base": base})
    return StripeClient(settings, retry=ONE_ATTEMPT)


def cio_client(base: str) -> CustomerIOClient:
    settings = CustomerIOSettings.load({"site_id": "s", "api_key": CIO_KEY, "track_url": base})
    return CustomerIOClient(settings, retry=ONE_ATTEMPT)


def test_the_impostor_is_a_working_https_server(impostor: tuple[Recorder, Path]) -> None:
    """The control: trusting its certificate, a client gets in, so refusals below are TLS's."""
    server, cert_file = impostor
    context = ssl.create_default_context(cafile=str(cert_file))
    import http.client

    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context)
    connection.request("GET", "/v1/customers")
    assert connection.getresponse().status == 200
    connection.close()
    assert len(server.seen) == 1


@pytest.mark.anyio
async def test_stripe_client_refuses_a_certificate_it_cannot_verify(
    impostor: tuple[Recorder, Path],
) -> None:
    server, _ = impostor
    async with stripe_client(f"https://127.0.0.1:{server.port}") as client:
        with pytest.raises(StripeCertificateError) as raised:
            await client.get("/v1/customers")
    message = str(raised.value)
    assert "self-signed certificate" in message
    assert STRIPE_KEY not in message
    assert "\n" not in message
    assert server.seen == []  # no request, so no key, ever reached it


@pytest.mark.anyio
async def test_customerio_client_refuses_a_certificate_it_cannot_verify(
    impostor: tuple[Recorder, Path],
) -> None:
    server, _ = impostor
    async with cio_client(f"https://127.0.0.1:{server.port}") as client:
        with pytest.raises(CustomerIOCertificateError) as raised:
            await client.request("POST", "/api/v2/batch", {"batch": []})
    message = str(raised.value)
    assert "self-signed certificate" in message
    assert CIO_KEY not in message
    assert "\n" not in message
    assert server.seen == []


@pytest.mark.anyio
@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"])
async def test_no_environment_variable_makes_the_clients_trust_another_authority(
    impostor: tuple[Recorder, Path], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointing the usual CA variables at the impostor's certificate changes nothing."""
    server, cert_file = impostor
    monkeypatch.setenv(variable, str(cert_file if variable != "SSL_CERT_DIR" else cert_file.parent))
    async with stripe_client(f"https://127.0.0.1:{server.port}") as client:
        with pytest.raises(APIError):
            await client.get("/v1/customers")
    assert server.seen == []


def test_the_transport_verifies_certificates_and_host_names() -> None:
    transport = pooled_transport(max_connections=2)
    contexts = [
        value for value in vars(transport).values() if isinstance(value, ssl.SSLContext)
    ] + [
        value
        for inner in vars(transport).values()
        for value in getattr(inner, "__dict__", {}).values()
        if isinstance(value, ssl.SSLContext)
    ]
    assert contexts, "the transport's TLS context was not found"
    for context in contexts:
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname


@pytest.mark.anyio
async def test_stripe_credentials_never_follow_a_redirect(
    redirect_pair: tuple[Recorder, Recorder],
) -> None:
    redirector, target = redirect_pair
    async with stripe_client(f"http://127.0.0.1:{redirector.port}") as client:
        with pytest.raises(APIError) as raised:
            await client.get("/v1/customers")
    assert "302" in str(raised.value)
    assert len(redirector.seen) == 1
    assert target.seen == []


@pytest.mark.anyio
async def test_customerio_credentials_never_follow_a_redirect(
    redirect_pair: tuple[Recorder, Recorder],
) -> None:
    redirector, target = redirect_pair
    async with cio_client(f"http://127.0.0.1:{redirector.port}") as client:
        with pytest.raises(APIError) as raised:
            await client.request("POST", "/api/v2/batch", {"batch": []})
    assert "302" in str(raised.value)
    assert len(redirector.seen) == 1
    assert target.seen == []


@pytest.mark.parametrize(
    "base",
    [
        "http://api.stripe.com",
        "http://10.0.0.8:12111",
        "http://localhost.attacker.example",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
    ],
)
def test_plain_http_is_refused_anywhere_but_loopback(base: str) -> None:
    with pytest.raises(ConfigError) as stripe_refused:
        StripeSettings.load({"api_key": STRIPE_KEY, "api_base": base})
    with pytest.raises(ConfigError) as cio_refused:
        CustomerIOSettings.load({"site_id": "s", "api_key": CIO_KEY, "track_url": base})
    for refused in (stripe_refused, cio_refused):
        assert STRIPE_KEY not in str(refused.value)
        assert CIO_KEY not in str(refused.value)
