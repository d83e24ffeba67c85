"""The pooled transport: requests over a real loopback server, closed idle connections, errors."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from stripe_cio.transport import pooled_transport


async def serve(close_after_reply: bool) -> tuple[asyncio.Server, int, list[int]]:
    """A tiny HTTP/1.1 server; records each new connection; optionally hangs up after a reply."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            if close_after_reply:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], connections


@pytest.mark.parametrize("close_after_reply", [False, True])
def test_keeps_alive_and_notices_a_server_side_close(close_after_reply: bool) -> None:
    async def run() -> list[int]:
        server, port, connections = await serve(close_after_reply)
        async with httpx.AsyncClient(transport=pooled_transport(max_connections=2)) as client:
            for _ in range(3):
                response = await client.get(f"http://127.0.0.1:{port}/x")
                assert response.status_code == 200
                assert response.text == "ok"
                await asyncio.sleep(0.05)  # let a hang-up reach the idle connection
        server.close()
        return connections

    connections = asyncio.run(run())
    # Kept alive: one connection. Hung up after each reply: the idle check sees it, no error.
    assert len(connections) == (3 if close_after_reply else 1)


def test_refused_connection_is_an_httpx_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there

    async def run() -> None:
        async with httpx.AsyncClient(transport=pooled_transport(max_connections=1)) as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(run())
