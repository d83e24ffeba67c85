"""Fixtures of the job tests: both sandboxes on loopback and a fresh world (ledger, emptied
Customer.io workspace) per test. The jobs run through `PlainRunner`, without Prefect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stripe_cio.sandbox import SandboxProcess
from tests._sandbox import NO_FAULTS
from tests.jobs._world import World


@pytest.fixture(scope="session")
def stripe_box() -> Iterator[SandboxProcess]:
    """One synthetic Stripe account for every job test; no test moves its clock."""
    with SandboxProcess("stripe", "--customers", "120", "--months", "3", "--rps", "0") as box:
        yield box


@pytest.fixture(scope="session")
def cio_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("customerio", "--rps", "0") as box:
        yield box


@pytest.fixture
def world(stripe_box: SandboxProcess, cio_box: SandboxProcess, tmp_path: Path) -> Iterator[World]:
    with (
        httpx.Client(base_url=stripe_box.url, timeout=30) as stripe,
        httpx.Client(base_url=cio_box.url, timeout=30) as cio,
    ):
        cio.post("/_sandbox/reset").raise_for_status()
        cio.post("/_sandbox/config", json={**NO_FAULTS, "region": "us"}).raise_for_status()
        yield World(f"sqlite:///{tmp_path / 'ledger.db'}", stripe_box.url, cio_box.url, stripe, cio)
