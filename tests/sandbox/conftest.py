"""Sandbox fixtures: one Customer.io sandbox process for the session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess

NO_FAULTS = {"rps": None, "burst": None, "fail_rate": 0, "drop_rate": 0, "latency_ms": 0}


@pytest.fixture(scope="session")
def cio_server() -> Iterator[SandboxProcess]:
    """The Customer.io sandbox in its own process, unlimited, with its default credentials."""
    with SandboxProcess("customerio", "--rps", "0") as sandbox:
        yield sandbox


@pytest.fixture
def cio(cio_server: SandboxProcess) -> Iterator[httpx.Client]:
    """An authenticated HTTP client of a freshly reset Customer.io sandbox without faults."""
    auth = (SANDBOX_CIO_SITE_ID, SANDBOX_CIO_API_KEY)
    with httpx.Client(base_url=cio_server.url, auth=auth, timeout=10) as client:
        client.post("/_sandbox/reset").raise_for_status()
        client.post("/_sandbox/config", json={**NO_FAULTS, "region": "us"}).raise_for_status()
        yield client
