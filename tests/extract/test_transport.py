"""The clients' HTTP transport against a raw loopback server: framing, reuse, errors, timeouts.

(tests/unit/test_transport.py covers keep-alive, a server-side close and a refused connection.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from stripe_cio.transport import pooled_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (bodies framed by Content-Length only, as httpx sends them)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


async def fetch(handler: Handler, *requests: tuple[str, bytes], seconds: float = 5.0) -> list[Any]:
    """Serve `handler` on loopback and send `requests` (method, body) one after the other."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    results: list[Any] = []
    try:
        transport = pooled_transport(max_connections=2)
        async with httpx.AsyncClient(transport=transport, timeout=seconds) as client:
            for method, body in requests:
                results.append(
                    await client.request(method, f"http://127.0.0.1:{port}/x", content=body)
                )
    finally:
        server.close()
    return [*results, len(connections)]


def test_a_chunked_reply_and_a_request_body_arrive_whole() -> None:
    bodies: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                _, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            bodies.append(body)
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (b"hello ", b"world" * 1000))
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
            )
            await writer.drain()

    payload = b'{"a": 1}' * 5000
    first, second, connections = asyncio.run(fetch(handler, ("POST", payload), ("GET", b"")))
    assert first.status_code == second.status_code == 200
    assert first.content == second.content == b"hello " + b"world" * 1000
    assert bodies == [payload, b""]
    assert connections == 1  # kept alive across both


def test_connection_close_in_a_reply_is_honoured() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()

    first, second, connections = asyncio.run(fetch(handler, ("GET", b""), ("GET", b"")))
    assert first.text == second.text == "ok"
    assert connections == 2


def test_a_server_that_hangs_up_mid_reply_is_a_transport_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()

    with pytest.raises(httpx.TransportError):
        asyncio.run(fetch(handler, ("GET", b"")))


def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(fetch(handler, ("GET", b""), seconds=0.2))


def test_a_reply_that_is_not_http_is_a_protocol_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(fetch(handler, ("GET", b"")))
