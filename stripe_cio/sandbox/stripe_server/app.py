"""The Stripe sandbox as a raw ASGI app: auth, rate limit and faults, then lists and retrieves.

Raw ASGI rather than a framework because a list page is only bisections and a bytes join, and
the per-request framework overhead would otherwise dominate the throughput target.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import resource
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ...asgi import Receive, Scope, Send, drop_connection, send_raw
from ...stripe_api import STRIPE_API_VERSION
from ..faults import FaultConfig, FaultInjector
from .accounts import ConnectedAccount, ConnectPlatform
from .control import handle_control
from .errors import StripeError, api_error, invalid_key, missing_key, rate_limited
from .errors import resource_missing as missing
from .query import EVENT_WINDOW_SECONDS, parse_list_query, reject_params
from .resources import SPEC_BY_PATH, ResourceSpec
from .store import StripeStore
from .webhooks import WebhookConfig, WebhookSender

# Test-mode secret and restricted keys only; a live key never works against a sandbox.
# Source: https://docs.stripe.com/keys (sk_test_, rk_test_ prefixes)
# How often a live sandbox's clock moves (`run_clock`): often enough that a list never waits
# long behind a big span of new activity.
LIVE_TICK_SECONDS = 1.0
_KEY_FORMAT = re.compile(r"^(?:sk|rk)_test_[A-Za-z0-9_]{8,}$")


class Account(Protocol):
    """What the app needs of the synthetic account: its clock and a way to move it."""

    @property
    def now(self) -> int: ...

    def advance(self, seconds: int) -> int: ...


class StripeSandboxApp:
    """ASGI callable serving `/v1/...` from a StripeStore and `/_sandbox/...` control routes."""

    def __init__(
        self,
        store: StripeStore,
        *,
        now: int,
        faults: FaultConfig | None = None,
        api_key: str | None = None,
        account: Account | None = None,
        seed: int | None = None,
        webhooks: WebhookConfig | None = None,
        connect: ConnectPlatform | None = None,
    ) -> None:
        self.store = store
        self.connect = connect  # None: no connected accounts, `Stripe-Account` is ignored
        self.now = now
        self.faults = faults or FaultConfig()
        self.injector = FaultInjector(self.faults, seed=seed)
        self.api_key = api_key
        self.account = account
        self.status_counts: Counter[int] = Counter()
        self._accepted: set[bytes] = set()  # Authorization headers already checked
        self._request_prefix = f"req_{os.urandom(4).hex()}"
        self._request_count = 0
        self.load_seconds: float | None = None  # set by build_app: how long the account took
        self.load_cpu_seconds: float | None = None  # and the CPU this process spent on it
        webhooks = webhooks or WebhookConfig()
        if webhooks.seed is None:
            webhooks.seed = seed  # the account's seed: a seeded sandbox is seeded throughout
        self.webhooks = WebhookSender(webhooks, self._event_body)
        store.watch_events()  # from here on, every new event is one to deliver

    def advance(self, seconds: int) -> int:
        """Move the account's clock by `seconds`, generating that span's activity, and queue
        the webhooks of its events; the new now. The account must be a generated one."""
        assert self.account is not None
        self.now = self.account.advance(seconds)
        if self.connect is not None:
            self.connect.advance(seconds)  # their events are never sent (docs/sandbox.md)
        store = self.store
        new = store.take_new_events()
        # Oldest first, as they happened (the generator files a shard's events together).
        new.sort(key=lambda event_id: (store.created("events", event_id) or 0, event_id))
        self.webhooks.enqueue(new)
        return self.now

    def _event_body(self, event_id: str) -> bytes | None:
        """The event exactly as `GET /v1/events/{id}` serves it (None if unknown)."""
        found = self.store.get("events", event_id)
        return None if found is None else found[1]

    async def run_clock(self, speed: float, tick: float = LIVE_TICK_SECONDS) -> None:
        """Move the account's clock with wall time, `speed` sandbox seconds to each second,
        generating what happens meanwhile; runs until cancelled."""
        if self.account is None:
            return
        loop = asyncio.get_running_loop()
        last, owed = loop.time(), 0.0
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            owed, last = owed + (now - last) * speed, now
            if owed >= 1:
                step = int(owed)
                owed -= step
                # On the event loop, as `/_sandbox/advance` does: no request sees a half-written
                # span of activity.
                self.advance(step)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_shutdown=self.webhooks.close)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_sandbox/"):
            await handle_control(self, scope, receive, send)
            return
        self._request_count += 1
        request_id = f"{self._request_prefix}{self._request_count:010d}"
        version = STRIPE_API_VERSION.encode()
        authorization = b""
        stripe_account: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"stripe-version":
                version = value
            elif name == b"stripe-account":
                stripe_account = value
        headers = [(b"request-id", request_id.encode()), (b"stripe-version", version)]
        content_type = b"application/json"
        try:
            self._authenticate(authorization)
            acting = None
            if stripe_account is not None and self.connect is not None:
                acting = self.connect.resolve(stripe_account, _key(authorization))
            # Stripe's limits are "measured in API requests per second, per Stripe account"
            # (https://docs.stripe.com/rate-limits), and a request with `Stripe-Account` is
            # made as that connected account (https://docs.stripe.com/api/connected-accounts):
            # so each connected account has a bucket of its own, apart from the platform's.
            outcome = await self.injector.admit(None if acting is None else acting.id)
            if outcome == "rate_limited":
                raise rate_limited()
            if outcome == "drop":
                self.status_counts[0] += 1  # 0: connection dropped on purpose
                await drop_connection(send)
            if outcome == "fail":
                raise api_error()
            status, body = self._route(scope, path, authorization, acting)
            # `corrupt_pages` (see faults): a list page broken by a "proxy", still a 200.
            if self.faults.corrupt_pages and path[4:] in SPEC_BY_PATH:
                rule = self.injector.corrupt_page(path)
                if rule is not None:
                    body, content_type = rule.corrupt(body)
        except StripeError as error:
            status, body = error.status, error.body(request_id)
            if error.should_retry is not None:
                retry = b"true" if error.should_retry else b"false"
                headers.append((b"stripe-should-retry", retry))
        self.status_counts[status] += 1
        await send_raw(send, status, body, content_type=content_type, headers=headers)

    def _authenticate(self, authorization: bytes) -> None:
        if authorization in self._accepted:
            return
        key = _key_from_header(authorization)
        if key is None:
            raise missing_key()
        if not _KEY_FORMAT.match(key) or (self.api_key is not None and key != self.api_key):
            raise invalid_key(key)
        self._accepted.add(authorization)

    def _route(
        self, scope: Scope, path: str, authorization: bytes, acting: ConnectedAccount | None
    ) -> tuple[int, bytes]:
        method = scope["method"]
        query: bytes = scope["query_string"]
        rest = path[4:] if path.startswith("/v1/") else None
        spec = SPEC_BY_PATH.get(rest) if rest is not None else None
        store, now = self.store, self.now
        if acting is not None and self.connect is not None:
            store, now = self.connect.store(acting), self.connect.now
        if spec is not None:
            if method != "GET":
                raise _unsupported(method, path)
            return 200, self._list(spec, query, store, now)
        if self.connect is not None and rest is not None and rest.split("/")[0] == "accounts":
            if method != "GET":
                raise _unsupported(method, path)
            return 200, self.connect.route(rest, query, _key(authorization), acting)
        parent, _, object_id = (rest or "").rpartition("/")
        spec = SPEC_BY_PATH.get(parent)
        if spec is None or not object_id:
            raise StripeError(404, f"Unrecognized request URL (GET: {path}).")
        if method != "GET":
            raise _unsupported(method, path)
        reject_params(query)
        return 200, self._retrieve(spec, object_id, store, now)

    def _list(self, spec: ResourceSpec, query: bytes, store: StripeStore, now: int) -> bytes:
        request = parse_list_query(spec, query, store, now)
        bodies, more = store.page(
            spec.name,
            low=request.low,
            high=request.high,
            limit=request.limit,
            ascending=request.ascending,
            filters=request.filters,
        )
        return b"".join(
            (
                b'{"object":"list","data":[',
                b",".join(bodies),
                b'],"has_more":true,"url":"' if more else b'],"has_more":false,"url":"',
                spec.url.encode(),
                b'"}',
            )
        )

    def _retrieve(self, spec: ResourceSpec, object_id: str, store: StripeStore, now: int) -> bytes:
        found = store.get(spec.name, object_id)
        if found is None:
            raise missing(spec.object_name, object_id)
        created, body = found
        if spec.name == "events" and created < now - EVENT_WINDOW_SECONDS:
            raise missing(spec.object_name, object_id)  # past Stripe's 30-day retention
        return body

    def stats(self) -> dict[str, Any]:
        return {
            "objects": self.store.counts(),
            "storage": self.store.storage(),
            "process": {  # for benchmarks: which process to pin, and its memory high-water mark
                "pid": os.getpid(),
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                # Generator processes of a sharded account (see shards), 0 when there are none.
                "workers_peak_rss_bytes": getattr(self.account, "workers_peak_rss_bytes", 0),
                "load_seconds": self.load_seconds,
                "load_cpu_seconds": self.load_cpu_seconds,
                "workers_cpu_seconds": getattr(self.account, "workers_cpu_seconds", 0.0),
            },
            "requests": {str(status): n for status, n in sorted(self.status_counts.items())},
            **({"connect": self.connect.stats()} if self.connect is not None else {}),
        }


def _unsupported(method: str, path: str) -> StripeError:
    return StripeError(
        405 if method in ("POST", "DELETE") else 404,
        f"The sandbox is read-only: {method} {path} is not supported.",
    )


def _key(authorization: bytes) -> str:
    """The key of an authenticated request, for error messages (masked there)."""
    return _key_from_header(authorization) or ""


def _key_from_header(authorization: bytes) -> str | None:
    """The key of `Bearer KEY` or of HTTP basic `KEY:` (Stripe accepts both)."""
    text = authorization.decode("latin-1").strip()
    scheme, _, credentials = text.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user = decoded.partition(":")[0]
        return user or None
    return None


async def _lifespan(
    receive: Receive, send: Send, on_shutdown: Callable[[], Awaitable[None]]
) -> None:
    """Answer the server's lifespan messages, running `on_shutdown` before it stops."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
