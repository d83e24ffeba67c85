"""The Customer.io sandbox as a raw ASGI app: routing, basic auth, faults, inspection endpoints.

Raw ASGI rather than a framework: the benchmark sends 100 batches of 500 KB a second, and the
only per-request costs worth paying are one `orjson.loads`, the checks and the dict updates.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import orjson

from ...asgi import Receive, Scope, Send, drop_connection, send_json
from ..faults import FaultConfig, FaultInjector
from . import v1, v2
from .state import IdKind, Store

# `GET /api/v1/accounts/region` answers `url`, `region` and `environment_id` (an integer), per
# the Track API OpenAPI, operation `getRegion` (https://docs.customer.io/files/journeys-track.json).
REGION_URLS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
ENVIRONMENT_ID = 1
# Bodies larger than this are read and thrown away: enough to measure any over-limit request.
_READ_CAP = 4 * 1024 * 1024
_CUSTOMERS = "/api/v1/customers/"
Handler = Callable[[Store, bytes], v1.Response]
PersonHandler = Callable[[Store, IdKind, str, bytes], v1.Response]
_PERSON_ROUTES: dict[tuple[str, str], tuple[str, PersonHandler]] = {
    ("PUT", ""): ("PUT /api/v1/customers/{identifier}", v1.identify),
    ("DELETE", ""): ("DELETE /api/v1/customers/{identifier}", v1.remove),
    ("POST", "events"): ("POST /api/v1/customers/{identifier}/events", v1.track),
    ("POST", "suppress"): ("POST /api/v1/customers/{identifier}/suppress", v1.suppress),
    ("POST", "unsuppress"): ("POST /api/v1/customers/{identifier}/unsuppress", v1.unsuppress),
}


def _error(message: str) -> dict[str, Any]:
    return {"meta": {"error": message, "errors": [message]}}


async def _read_all(receive: Receive) -> tuple[bytes, int]:
    """The body (up to `_READ_CAP`) and its full length; the rest is drained, not kept."""
    chunks: list[bytes] = []
    kept = size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if kept + len(chunk) <= _READ_CAP:
            chunks.append(chunk)
            kept += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), size


class CioSandboxApp:
    """``uvicorn.run(CioSandboxApp(site_id, api_key, FaultConfig(rps=100)))``."""

    def __init__(self, site_id: str, api_key: str, config: FaultConfig | None = None) -> None:
        self.site_id = site_id
        self.api_key = api_key
        self.faults = FaultInjector(config or FaultConfig())
        self.store = Store()
        self.region = "us"
        self._good_auth: set[bytes] = set()

    # --- routing ------------------------------------------------------------------------------

    def _route(self, method: str, raw_path: str) -> tuple[str, Handler] | None:
        """(endpoint label for the request counts, handler) for a Track API path."""
        if raw_path.startswith(_CUSTOMERS):
            identifier, _, sub = raw_path[len(_CUSTOMERS) :].partition("/")
            action = _PERSON_ROUTES.get((method, sub)) if identifier else None
            if action is None:
                return None
            label, function = action
            return label, v1.person_route(function, unquote(identifier))
        if method == "POST" and raw_path == "/api/v1/merge_customers":
            return "POST /api/v1/merge_customers", v1.merge_customers
        if method == "POST" and raw_path == "/api/v2/batch":
            return "POST /api/v2/batch", v2.batch
        if method == "POST" and raw_path == "/api/v2/entity":
            return "POST /api/v2/entity", v2.entity
        if method == "POST" and raw_path == "/api/v1/events":
            return "POST /api/v1/events", v1.track_anonymous
        if method == "GET" and raw_path == "/api/v1/accounts/region":
            return "GET /api/v1/accounts/region", self._region
        return None

    def _region(self, store: Store, body: bytes) -> v1.Response:
        return 200, {
            "url": REGION_URLS[self.region],
            "region": self.region,
            "environment_id": ENVIRONMENT_ID,
        }

    def _authorised(self, scope: Scope) -> bool:
        """HTTP basic auth with the site id as user and the Track API key as password."""
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            return False
        if header in self._good_auth:
            return True
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        if decoded != f"{self.site_id}:{self.api_key}":
            return False
        self._good_auth.add(header)
        return True

    # --- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/_sandbox/"):
            await self._sandbox(method, path, receive, send)
            return
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1").split("?", 1)[0] if raw else path
        route = self._route(method, raw_path)
        body, size = await _read_all(receive)
        store = self.store
        if route is None:
            store.requests[("other", 404)] += 1
            await send_json(send, 404, _error(f"no route for {method} {path}"))
            return
        label, handler = route
        outcome = await self.faults.admit()
        if outcome == "rate_limited":
            store.requests[(label, 429)] += 1
            await send_json(send, 429, _error("rate limit exceeded"))
            return
        if outcome == "drop":
            store.requests[(label, 0)] += 1  # status 0: the connection was dropped
            await drop_connection(send)
            return
        if outcome == "fail":
            store.requests[(label, 500)] += 1
            await send_json(send, 500, _error("sandbox fault injection: internal error"))
            return
        if not self._authorised(scope):
            store.requests[(label, 401)] += 1
            await send_json(send, 401, _error("Unauthorized request"))
            return
        if size > len(body):  # over the read cap, and so over every documented limit
            status, payload = v2.invalid_request(
                [("too_large", "body", f"request body of {size} bytes is too large")]
            )
        else:
            status, payload = handler(store, body)
        store.requests[(label, status)] += 1
        await send_json(send, status, payload)

    # --- inspection and control (no auth, no faults) ------------------------------------------

    async def _sandbox(self, method: str, path: str, receive: Receive, send: Send) -> None:
        body, _ = await _read_all(receive)
        store = self.store
        views: dict[str, Callable[[], Any]] = {
            "/_sandbox/health": lambda: {"status": "ok", "api": "customerio"},
            "/_sandbox/people": lambda: people_view(store),
            "/_sandbox/events": lambda: events_view(store),
            # When each event was accepted (wall clock), for latency measurements.
            "/_sandbox/event_times": lambda: [
                {
                    "id": event.id,
                    "name": event.name,
                    "data": event.data,
                    "accepted_at": event.accepted_at,
                }
                for event in store.events
            ],
            "/_sandbox/requests": lambda: requests_view(store),
            "/_sandbox/objects": lambda: [
                {"identifiers": {"object_type_id": t, "object_id": i}, "attributes": a}
                for (t, i), a in store.objects.items()
            ],
            "/_sandbox/suppressions": lambda: [
                {"kind": kind, "value": value} for kind, value in sorted(store.suppressed)
            ],
        }
        if method == "GET" and path in views:
            await send_json(send, 200, views[path]())
        elif method == "POST" and path == "/_sandbox/reset":
            self.store = Store()
            await send_json(send, 200, {"reset": True})
        elif path == "/_sandbox/config" and method in ("GET", "POST"):
            if method == "POST":
                problem = self._configure(body)
                if problem is not None:
                    await send_json(send, 400, _error(problem))
                    return
            await send_json(send, 200, {**self.faults.config.as_dict(), "region": self.region})
        else:
            await send_json(send, 404, _error(f"no sandbox route for {method} {path}"))

    def _configure(self, body: bytes) -> str | None:
        """Apply a partial config update (FaultConfig keys, plus `region`); the error if any."""
        try:
            values = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return "config must be a JSON object"
        if not isinstance(values, dict):
            return "config must be a JSON object"
        region = values.pop("region", None)
        if region is not None and region not in REGION_URLS:
            return f"region must be one of {sorted(REGION_URLS)}"
        try:
            self.faults.config.update(values)
        except ValueError as exc:
            return str(exc)
        if region is not None:
            self.region = region
        return None


# --- inspection views -----------------------------------------------------------------------------
# What `GET /_sandbox/people|events|requests` answer: the workspace as plain JSON-ready data.


def people_view(store: Store) -> list[dict[str, Any]]:
    return [
        {"identifiers": person.identifiers(), "attributes": person.attributes}
        for person in store.people.values()
    ]


def events_view(store: Store) -> list[dict[str, Any]]:
    out = []
    for event in store.events:
        person = store.people.get(event.person) if event.person is not None else None
        out.append(
            {
                "identifiers": person.identifiers() if person else event.identifiers,
                "type": event.type,
                "name": event.name,
                "id": event.id,
                "timestamp": event.timestamp,
                "data": event.data,
            }
        )
    return out


def requests_view(store: Store) -> dict[str, Any]:
    by_endpoint: dict[str, dict[str, int]] = {}
    for (endpoint, status), count in sorted(store.requests.items()):
        by_endpoint.setdefault(endpoint, {})[str(status)] = count
    return {
        "total": sum(store.requests.values()),
        "by_endpoint": by_endpoint,
        "batch_requests": store.batch_requests,
        "batch_items": store.batch_items,
        "batch_items_rejected": store.batch_items_rejected,
        "duplicate_event_ids": store.duplicate_event_ids,
        "duplicate_event_ids_differing": store.duplicate_event_ids_differing,
        "stale_updates_ignored": store.stale_updates_ignored,
    }
