"""Extraction test helpers: real ledgers, an in-memory stand-in implementing
docs/design/ledger-interface.md (for resume tests on objects too bare for the real ledger),
sandboxes, clients and a tiny list API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest

from stripe_cio import StripeSettings
from stripe_cio.ledger.normalise import OBJECT_TYPES
from stripe_cio.retry import RetryPolicy
from stripe_cio.sandbox import SandboxProcess
from stripe_cio.stripe_api import StripeClient

KEY = "sk_test_extract0000000000"
FAST_RETRY = RetryPolicy(max_attempts=12, base_delay=0.005, max_delay=0.05, rate_limit_delay=0.05)


@dataclass(frozen=True)
class FakeWrite:
    written: int
    unchanged: int
    rejected: dict[str, int]


@dataclass(frozen=True)
class FakeEvents:
    applied: int
    duplicates: int
    rejected: dict[str, int]
    cursor: int | None


@dataclass
class FakeLedger:
    """The ledger contract in memory: rows keep their newest observation."""

    rows: dict[str, dict[str, tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    slices: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)
    cursor: int | None = None
    processed: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def _upsert(self, resource: str, obj: Mapping[str, Any], observed_at: int) -> bool:
        table = self.rows.setdefault(resource, {})
        old = table.get(obj["id"])
        if old is not None and old[0] > observed_at:
            return False
        table[obj["id"]] = (observed_at, dict(obj))
        return True

    def write_objects(
        self,
        resource: str,
        objects: Sequence[Mapping[str, Any]],
        *,
        observed_at: int,
        api_version: str | None = None,
    ) -> FakeWrite:
        self.calls.append("write")
        written = unchanged = 0
        rejected: dict[str, int] = {}
        for obj in objects:
            if not isinstance(obj.get("id"), str):
                rejected["missing id"] = rejected.get("missing id", 0) + 1
            elif self._upsert(resource, obj, observed_at):
                written += 1
            else:
                unchanged += 1
        return FakeWrite(written, unchanged, rejected)

    def set_indexes_aside(self, resource: str) -> bool:
        return not self.rows.get(resource)  # a real ledger drops its indexes then

    def build_missing_indexes(self) -> list[str]:
        return []

    def completed_slices(self, resource: str, run: str) -> list[tuple[int, int]]:
        return list(self.slices.get((resource, run), []))

    def mark_slice_done(self, resource: str, run: str, start: int, end: int, count: int) -> None:
        self.calls.append("mark")
        self.slices.setdefault((resource, run), []).append((start, end))

    def events_cursor(self) -> int | None:
        return self.cursor

    def set_events_cursor(self, value: int) -> None:
        self.cursor = value if self.cursor is None else max(self.cursor, value)

    def processed_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        return {e for e in event_ids if e in self.processed}

    def apply_events(self, events: Sequence[Mapping[str, Any]], *, cursor: int) -> FakeEvents:
        applied = duplicates = 0
        for event in events:
            if event["id"] in self.processed:
                duplicates += 1
                continue
            obj = event["data"]["object"]
            resource = OBJECT_TYPES.get(obj.get("object", ""))
            if resource is not None:
                self._upsert(resource, obj, event["created"])
            self.processed.add(event["id"])
            applied += 1
        self.set_events_cursor(cursor)
        return FakeEvents(applied, duplicates, {}, self.cursor)

    def raw_objects(self, resource: str) -> dict[str, dict[str, Any]]:
        return {k: v[1] for k, v in self.rows.get(resource, {}).items()}

    def count(self, resource: str) -> int:
        return len(self.rows.get(resource, {}))


def client_for(
    url: str, transport: httpx.AsyncBaseTransport | None = None, key: str = KEY, rps: float = 2000.0
) -> StripeClient:
    settings = StripeSettings(api_key=key, api_base=url, requests_per_second=rps)
    return StripeClient(settings, transport=transport, retry=FAST_RETRY, seed=1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    """A small synthetic account, unlimited rate, shared by a module's read-only tests."""
    with SandboxProcess("stripe", "--customers", "150", "--months", "4", "--rps", "0") as server:
        yield server


def list_all(url: str, path: str, **params: str) -> list[dict[str, Any]]:
    """Every object of a list endpoint, paged with a plain HTTP client (not the code tested)."""
    found: list[dict[str, Any]] = []
    query: dict[str, str] = {"limit": "100", **params}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        while True:
            body = http.get(path, params=query).json()
            found.extend(body["data"])
            if not body["has_more"]:
                return found
            query["starting_after"] = body["data"][-1]["id"]


# --- a tiny in-memory list API for MockTransport tests ----------------------------------------

_CREATED = re.compile(r"^created\[(gte|lt)\]$")


def list_api(
    objects: Mapping[str, list[dict[str, Any]]],
    override: Callable[[httpx.Request], httpx.Response | None] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    """A handler serving `objects` per path newest first with created[gte|lt], starting_after."""

    def handle(request: httpx.Request) -> httpx.Response:
        if override is not None and (answer := override(request)) is not None:
            return answer
        items = sorted(
            objects.get(request.url.path, []), key=lambda o: (o["created"], o["id"]), reverse=True
        )
        query = dict(parse_qsl(request.url.query.decode()))
        for name, value in query.items():
            match = _CREATED.match(name)
            if match and match.group(1) == "gte":
                items = [o for o in items if o["created"] >= int(value)]
            elif match:
                items = [o for o in items if o["created"] < int(value)]
        if "starting_after" in query:
            ids = [o["id"] for o in items]
            items = items[ids.index(query["starting_after"]) + 1 :]
        limit = int(query.get("limit", 10))
        body = {
            "object": "list",
            "data": items[:limit],
            "has_more": len(items) > limit,
            "url": request.url.path,
        }
        return httpx.Response(
            200, content=orjson.dumps(body), headers={"content-type": "application/json"}
        )

    return handle


async def control(url: str, route: str, payload: dict[str, Any] | None = None) -> Any:
    """Call a sandbox control route: POST with a payload, else GET."""
    async with httpx.AsyncClient(base_url=url) as http:
        if payload is None:
            response = await http.get(f"/_sandbox/{route}")
        else:
            response = await http.post(f"/_sandbox/{route}", json=payload)
        response.raise_for_status()
        return response.json()


class Kit:
    """Helpers for test modules (importlib mode: test files cannot import this conftest)."""

    KEY = KEY
    FakeLedger = FakeLedger
    client_for = staticmethod(client_for)
    list_all = staticmethod(list_all)
    list_api = staticmethod(list_api)
    control = staticmethod(control)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
