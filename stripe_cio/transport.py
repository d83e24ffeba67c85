"""A keep-alive HTTP/1.1 transport for httpx: asyncio protocols and h11, little CPU per request.

httpx's own transport goes through httpcore's connection pool and anyio streams, and on the
backfill's large Stripe pages that path dominated the CPU per request: the pool re-examines
every connection for every request it assigns or releases (hundreds of `is_idle` calls per
request), and each read passes through several layers. This transport parses with h11
(httpcore's own HTTP/1.1 parser) inside an asyncio protocol, so a response is assembled in the
protocol's callbacks and the request's task wakes once, when it is complete, for far less CPU
per request (figures in docs/extraction.md, Benchmark). Idle connections are
kept in a stack per origin; a connection the server closed or half-closed is known from the
protocol's callbacks without a system call, and one idle longer than `keepalive_expiry` is
dropped before the server's own idle timeout can race a request. Responses are read whole
(both clients read every body anyway). Errors are raised as the httpx exceptions httpx's own
transport raises, and TLS is always verified against certifi's roots (plus the CA bundle the
settings name, never one from the environment). A proxy named by HTTPS_PROXY, HTTP_PROXY or
ALL_PROXY (and not excused by NO_PROXY) is used as httpx would use it; see `proxy`.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import certifi
import h11
import httpx

from .proxy import Proxy, ProxyRoutes, connect_through, proxy_routes, refusal
from .settings_base import load_ca_bundle

_Origin = tuple[bytes, str, int]  # scheme, host, port


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: sends a request, assembles its response in the callbacks."""

    def __init__(self, forward: Proxy | None = None) -> None:
        self._h11 = h11.Connection(h11.CLIENT)
        # The proxy this connection goes to when requests are forwarded in absolute form (a
        # plain http origin behind a proxy); None for a direct connection or a CONNECT tunnel.
        self._forward = forward
        self._transport: asyncio.Transport | None = None
        self._reply: asyncio.Future[httpx.Response] | None = None
        self._head: h11.Response | None = None
        self._parts: list[bytes | bytearray] = []
        self.closed = False  # the server closed (or half-closed) it, or we did
        self.idle_since = time.monotonic()

    # --- protocol callbacks (the event loop calls these) -----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._h11.receive_data(data)
        if self._reply is not None:
            self._assemble()

    def eof_received(self) -> bool:
        self.closed = True
        self._h11.receive_data(b"")
        if self._reply is not None:
            self._assemble()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(httpx.ReadError(f"the connection was lost: {exc}" if exc else "closed"))

    def _assemble(self) -> None:
        """Take the events h11 has; complete the reply at the end of the response."""
        try:
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.Response):
                    self._head = event
                elif isinstance(event, h11.Data):
                    self._parts.append(event.data)  # bytes-like; joined once
                elif isinstance(event, h11.EndOfMessage):
                    self._finish()
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError("the server closed the connection mid-reply")
        except h11.RemoteProtocolError as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
        except httpx.TransportError as exc:
            self._fail(exc)

    def _finish(self) -> None:
        head, body, reply = self._head, b"".join(self._parts), self._reply
        self._head, self._parts, self._reply = None, [], None
        if head is None or reply is None or reply.done():
            return
        response = httpx.Response(
            status_code=head.status_code,
            headers=head.headers.raw_items(),
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
        )
        reply.set_result(response)

    def _fail(self, exc: httpx.TransportError) -> None:
        self.closed = True
        reply, self._reply = self._reply, None
        if reply is not None and not reply.done():
            reply.set_exception(exc)

    # --- used by the pool ------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Whether another request may go over this connection now."""
        return not self.closed and self._h11.our_state is h11.IDLE

    async def send(self, request: httpx.Request, body: bytes, read_timeout: float | None) -> Any:
        """Send `request` and return its response, read whole."""
        transport = self._transport
        if transport is None or self.closed:
            raise httpx.RemoteProtocolError("the connection is closed")
        reply = self._reply = asyncio.get_running_loop().create_future()
        if self._forward is None:
            head = h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
        else:
            head = _forwarded(request, self._forward)
        with _local_errors():
            data = self._h11.send(head) or b""
            if body:
                data += self._h11.send(h11.Data(data=body)) or b""
            data += self._h11.send(h11.EndOfMessage()) or b""
        transport.write(data)
        self._assemble()  # the reply may be complete already (or the connection known dead)
        try:
            async with asyncio.timeout(read_timeout):
                response = await reply
        except TimeoutError:
            raise httpx.ReadTimeout(f"no complete reply within {read_timeout}s") from None
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()  # else MUST_CLOSE etc.: not reusable
        self.idle_since = time.monotonic()
        if self._forward is not None and response.status_code == 407:
            # Only a proxy answers 407 (RFC 9110 section 15.5.8): not the API's refusal.
            what = f"{request.method} {request.url.host}:{request.url.port or 80}"
            status = f"HTTP 407 {response.reason_phrase}".rstrip()
            raise refusal(self._forward, what, 407, status)
        return response

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


def _forwarded(request: httpx.Request, proxy: Proxy) -> h11.Request:
    """`request` in the absolute form a proxy forwards (RFC 9112 section 3.2.2)."""
    url = request.url
    headers = list(request.headers.raw)
    if proxy.authorization is not None:
        headers.append((b"Proxy-Authorization", proxy.authorization))
    target = b"%s://%s%s" % (url.raw_scheme, request.headers["host"].encode(), url.raw_path)
    return h11.Request(method=request.method, target=target, headers=headers)


@contextmanager
def _local_errors() -> Iterator[None]:
    try:
        yield
    except h11.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc)) from exc


class _PooledTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        keepalive_expiry: float,
        proxies: ProxyRoutes | None = None,
    ) -> None:
        self._ssl = ssl_context
        self._proxies = proxies
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin = (url.raw_scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time") from None
        try:
            connection = self._take_idle(origin) or await self._connect(
                origin, timeouts.get("connect")
            )
            try:
                response: httpx.Response = await connection.send(
                    request, body, timeouts.get("read")
                )
            except BaseException:
                self._discard(connection)
                raise
            if connection.reusable:
                self._idle.setdefault(origin, []).append(connection)
            else:
                self._discard(connection)
            return response
        finally:
            self._slots.release()

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        stack = self._idle.get(origin)
        now = time.monotonic()
        while stack:
            connection = stack.pop()  # the most recently used: the least likely to be closed
            if connection.reusable and now - connection.idle_since < self._keepalive_expiry:
                return connection
            self._discard(connection)
        return None

    async def _connect(self, origin: _Origin, seconds: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._ssl if scheme == b"https" else None
        if self._proxies is not None:
            proxy = self._proxies.for_origin(scheme.decode(), host, port)
            if proxy is not None:
                return await self._connect_through(proxy, origin, tls, seconds)
        try:
            async with asyncio.timeout(seconds):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:  # refused, unreachable, name not resolved, TLS failures
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        self._open.add(connection)
        return connection

    async def _connect_through(
        self, proxy: Proxy, origin: _Origin, tls: ssl.SSLContext | None, seconds: float | None
    ) -> _Connection:
        _, host, port = origin
        # Without TLS the requests go to the proxy in absolute form, as httpx (httpcore's
        # ForwardHTTPConnection) does for http origins: a tunnel would hide nothing from a proxy
        # that sees plain text anyway, and many proxies allow CONNECT to port 443 only. With
        # TLS, a CONNECT tunnel, after which the connection is like a direct one.
        factory = partial(_Connection, None if tls else proxy)
        try:
            async with asyncio.timeout(seconds):
                connection = await connect_through(proxy, host, port, tls, factory)
        except TimeoutError:
            raise httpx.ProxyError(
                f"connecting to {host}:{port} through the proxy {proxy.display} "
                f"({proxy.variable}) timed out"
            ) from None
        self._open.add(connection)
        return connection

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    async def aclose(self) -> None:
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()


@lru_cache(maxsize=8)
def _tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The TLS context trusting certifi's roots and `ca_bundle`'s, made once per bundle: loading
    the roots costs tens of milliseconds, which a client made per delivery round (the webhook
    receiver's) paid each time. A context is safe to share between connections and threads, and
    nothing changes it once made."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle is not None:
        load_ca_bundle(context, ca_bundle)
    return context


def pooled_transport(
    *,
    max_connections: int,
    keepalive_expiry: float = 5.0,
    ca_bundle: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> httpx.AsyncBaseTransport:
    """A keep-alive HTTP/1.1 transport for at most `max_connections` connections at once.

    TLS trusts certifi's roots and those of `ca_bundle` (STRIPE_CIO_CA_BUNDLE, validated by the
    settings). Proxies come from `env` (the process environment when None), read here, once.
    """
    context = _tls_context(ca_bundle)
    proxies = proxy_routes(os.environ if env is None else env)
    return _PooledTransport(context, max_connections, keepalive_expiry, proxies)
