"""Test helpers for the network: a private CA, a TLS API server, and an HTTP CONNECT proxy.

All on loopback, all made at test time: the CA and the server certificate are generated with
`cryptography` into the test's tmp_path. The proxy resolves the host names it is asked to tunnel
to through its own table, as a corporate proxy resolves names the client cannot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Names only the proxy can resolve: the client reaching them proves the tunnel.
STRIPE_HOST = "api.stripe.test"
CIO_HOST = "track.customerio.test"
STRIPE_PAGE = b'{"object": "list", "data": [], "has_more": false, "url": "/v1/customers"}'


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA certificate, and a server certificate and key it signed: three PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stripe-cio test proxy CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(STRIPE_HOST), x509.DNSName(CIO_HOST), x509.DNSName("localhost")]
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, STRIPE_HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [*names, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pem(key))
    return ca_file, cert_file, key_file


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """A request's first line, its headers (lower-case names) and its body (Content-Length)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    first, *lines = head.split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return first, headers, body


def _reply(status: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass
class ApiServer:
    """An HTTPS server on loopback answering every GET with an empty Stripe list, else `{}`."""

    connections: int = 0
    requests: int = 0
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self, cert_file: Path, key_file: Path) -> None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Requests on one keep-alive connection, answered as the APIs would.
            self.connections += 1
            try:
                while True:
                    first, _, _ = await _read_head(reader)
                    self.requests += 1
                    body = STRIPE_PAGE if first.startswith("GET ") else b"{}"
                    writer.write(_reply("200 OK", body))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@dataclass
class ConnectProxy:
    """An HTTP proxy on loopback: CONNECT tunnels to the hosts of `routes`, counted.

    With `credentials` ("user:password") it answers 407 to a request without them; with
    `refuse` it answers every CONNECT with that status line. A request in absolute form (a plain
    http origin) is answered by the proxy itself, as if forwarded, and recorded in `forwarded`.
    """

    routes: dict[str, tuple[str, int]] = field(default_factory=dict)
    credentials: str | None = None
    refuse: str | None = None
    connects: list[str] = field(default_factory=list)  # the authority of each CONNECT
    tunnels: int = 0  # CONNECTs answered 200
    authorizations: list[str | None] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def _authorised(self, headers: dict[str, str]) -> bool:
        given = headers.get("proxy-authorization")
        self.authorizations.append(given)
        if self.credentials is None:
            return True
        return given == "Basic " + base64.b64encode(self.credentials.encode()).decode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first, headers, _ = await _read_head(reader)
            method, target, _ = first.split(" ", 2)
            if method != "CONNECT":
                self.forwarded.append(target)
                if not self._authorised(headers):
                    status = "407 Proxy Authentication Required"
                    writer.write(_reply(status, b"", "Connection: close\r\n"))
                    return
                writer.write(_reply("200 OK", STRIPE_PAGE, "Connection: close\r\n"))
                return
            self.connects.append(target)
            if self.refuse is not None:
                writer.write(_reply(self.refuse, b"", "Proxy-Authenticate: Basic\r\n"))
                return
            if not self._authorised(headers):
                status = "407 Proxy Authentication Required"
                writer.write(_reply(status, b"", 'Proxy-Authenticate: Basic realm="test"\r\n'))
                return
            host, port = self.routes[target]
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            self.tunnels += 1
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            pipes = [
                asyncio.create_task(_pipe(reader, upstream_writer)),
                asyncio.create_task(_pipe(upstream_reader, writer)),
            ]
            self._pipes.update(pipes)
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes.difference_update(pipes)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
