"""`/_sandbox/...` control routes: health, fault settings, the clock, advancing it, stats, the
webhooks' settings and counters, and the connected accounts' states.

They need no key and are never rate limited or faulted, so a test can always reach them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ...asgi import Receive, Scope, Send, read_body, send_json

if TYPE_CHECKING:
    from .app import StripeSandboxApp

_MAX_BODY = 64 * 1024
_MAX_ADVANCE = 366 * 24 * 3600


def _error(message: str) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": message}}


async def handle_control(app: StripeSandboxApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one control request."""
    route = (scope["method"], scope["path"].rstrip("/"))
    if route == ("GET", "/_sandbox/health"):
        await send_json(send, 200, {"status": "ok"})
    elif route == ("GET", "/_sandbox/clock"):
        await send_json(send, 200, {"now": app.now})
    elif route == ("GET", "/_sandbox/stats"):
        await send_json(send, 200, app.stats())
    elif route == ("GET", "/_sandbox/config"):
        await send_json(send, 200, app.faults.as_dict())
    elif route == ("POST", "/_sandbox/config"):
        payload = await _json_object(receive)
        if payload is None:
            await send_json(send, 400, _error("body must be a JSON object"))
            return
        try:
            app.faults.update(payload)
        except ValueError as exc:
            await send_json(send, 400, _error(str(exc)))
            return
        await send_json(send, 200, app.faults.as_dict())
    elif route == ("POST", "/_sandbox/advance"):
        await _advance(app, receive, send)
    elif route == ("GET", "/_sandbox/webhooks"):
        await send_json(send, 200, app.webhooks.status())
    elif route == ("POST", "/_sandbox/webhooks"):
        payload = await _json_object(receive)
        if payload is None:
            await send_json(send, 400, _error("body must be a JSON object"))
            return
        try:
            app.webhooks.configure(payload)
        except ValueError as exc:  # its message never holds a secret (see webhooks)
            await send_json(send, 400, _error(str(exc)))
            return
        await send_json(send, 200, app.webhooks.status())
    elif route[1] == "/_sandbox/accounts" or route[1].startswith("/_sandbox/accounts/"):
        await _accounts(app, route, receive, send)
    else:
        await send_json(send, 404, _error(f"no sandbox route {route[0]} {route[1]}"))


async def _accounts(
    app: StripeSandboxApp, route: tuple[str, str], receive: Receive, send: Send
) -> None:
    """`GET /_sandbox/accounts`: every connected account's state; `POST
    /_sandbox/accounts/{id}` with `{"state": "active" | "restricted" | "deauthorized"}`."""
    connect = app.connect
    if connect is None:
        await send_json(send, 404, _error("no connected accounts: start with --accounts N"))
        return
    method, path = route
    account_id = path.removeprefix("/_sandbox/accounts").removeprefix("/")
    if method == "GET" and not account_id:
        await send_json(send, 200, {"accounts": [connect.describe(a) for a in connect.accounts]})
        return
    account = connect.by_id.get(account_id)
    if account is None:
        await send_json(send, 404, _error(f"no connected account {account_id!r}"))
        return
    if method == "GET":
        await send_json(send, 200, connect.describe(account))
        return
    if method != "POST":
        await send_json(send, 405, _error(f"{method} is not supported here"))
        return
    payload = await _json_object(receive)
    if payload is None or set(payload) != {"state"}:
        await send_json(send, 400, _error('body must be {"state": ...}'))
        return
    try:
        connect.set_state(account_id, payload["state"])
    except ValueError as exc:
        await send_json(send, 400, _error(str(exc)))
        return
    await send_json(send, 200, connect.describe(account))


async def _advance(app: StripeSandboxApp, receive: Receive, send: Send) -> None:
    payload = await _json_object(receive)
    seconds = payload.get("seconds") if payload is not None else None
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        await send_json(send, 400, _error('body must be {"seconds": N} with N a positive integer'))
        return
    if seconds > _MAX_ADVANCE:
        await send_json(send, 400, _error(f"advance at most {_MAX_ADVANCE} seconds at a time"))
        return
    if app.account is None:
        await send_json(
            send, 409, _error("this sandbox serves a fixtures file; its clock cannot advance")
        )
        return
    # Runs on the event loop on purpose: requests wait for the new activity instead of seeing
    # a half-written span (the store is not safe for concurrent writes and reads). The events'
    # webhooks are only queued here: workers send them, never this request.
    app.advance(seconds)
    await send_json(send, 200, {"now": app.now, "objects": app.store.counts()})


async def _json_object(receive: Receive) -> dict[str, Any] | None:
    body = await read_body(receive, limit=_MAX_BODY)
    if body is None:
        return None
    try:
        payload = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None
