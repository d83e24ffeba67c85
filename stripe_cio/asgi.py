"""Minimal ASGI plumbing shared by the sandbox servers and the webhook receiver: bodies, JSON
responses, dropping a connection, and running an app under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

import orjson
import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    """The whole request body, or None when it is longer than `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_raw(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete response whose body is already serialised."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Serialise `payload` and send it."""
    await send_raw(send, status, orjson.dumps(payload), headers=headers)


class DroppedConnection(Exception):
    """Raised after a partial response so the server closes the connection mid-body."""


async def drop_connection(send: Send) -> None:
    """Promise a body, send part of it, then abort: the client sees the connection drop."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"object": "li', "more_body": True})
    raise DroppedConnection("sandbox fault injection: connection dropped on purpose")


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that says it listens once its socket is bound, then starts `companion`
    (a task on the server's loop, cancelled when it stops)."""

    def __init__(
        self,
        config: uvicorn.Config,
        line: str,
        companion: Callable[[], Coroutine[Any, Any, None]] | None,
    ) -> None:
        super().__init__(config)
        self._line = line
        self._companion = companion
        self._task: asyncio.Task[None] | None = None

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if not self.started:  # the bind failed; uvicorn said why and stops
            return
        print(self._line, flush=True)
        if self._companion is not None:
            self._task = asyncio.get_running_loop().create_task(self._companion())

    async def shutdown(self, sockets: Any = None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await super().shutdown(sockets)


def run_server(
    app: Any,
    *,
    host: str,
    port: int,
    name: str,
    lifespan: str = "off",
    companion: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Serve `app` until interrupted, printing "<name> listening on <url>" once it is bound."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan=lifespan,  # type: ignore[arg-type]
        http="httptools" if importlib.util.find_spec("httptools") else "auto",
        loop="uvloop" if importlib.util.find_spec("uvloop") else "auto",
    )
    server = _AnnouncingServer(config, f"{name} listening on http://{host}:{port}", companion)
    server.run()
