"""Delivery fixtures: one Customer.io sandbox for the session, a fresh ledger per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stripe_cio import CustomerIOSettings, LedgerSettings
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.deliver import DeliveryStore
from stripe_cio.ledger import Ledger
from stripe_cio.retry import RetryPolicy
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess
from tests._sandbox import NO_FAULTS

FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05, rate_limit_delay=0.05)


class Recording(httpx.AsyncHTTPTransport):
    """A real transport that also keeps every request it sent (method, path, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, request.content))
        return await super().handle_async_request(request)

    def batches(self) -> list[bytes]:
        return [body for method, path, body in self.sent if path == "/api/v2/batch"]


@pytest.fixture(scope="session")
def cio_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("customerio", "--rps", "0") as box:
        yield box


@pytest.fixture
def sandbox(cio_box: SandboxProcess) -> Iterator[httpx.Client]:
    """The sandbox's inspection endpoints, reset and without faults."""
    with httpx.Client(base_url=cio_box.url, timeout=30) as client:
        client.post("/_sandbox/reset").raise_for_status()
        client.post("/_sandbox/config", json={**NO_FAULTS, "region": "us"}).raise_for_status()
        yield client


@pytest.fixture
def settings(cio_box: SandboxProcess) -> CustomerIOSettings:
    return CustomerIOSettings.load(
        {"site_id": SANDBOX_CIO_SITE_ID, "api_key": SANDBOX_CIO_API_KEY, "track_url": cio_box.url}
    )


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def client(settings: CustomerIOSettings, recording: Recording) -> CustomerIOClient:
    """A client of the sandbox that records what it sends (use it in `async with`)."""
    return CustomerIOClient(settings, transport=recording, retry=FAST_RETRY, seed=1)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger.open(LedgerSettings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    yield ledger
    ledger.close()


@pytest.fixture
def store(ledger: Ledger) -> DeliveryStore:
    return DeliveryStore.of(ledger)
