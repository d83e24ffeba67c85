"""Fixtures of the job tests: both sandboxes on loopback and a fresh world (ledger, emptied
Customer.io workspace) per test. The jobs run through `PlainRunner`, without Prefect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stripe_cio.sandbox import SandboxProcess
from tests.jobs._world import World, world_of


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
    with world_of(stripe_box, cio_box, tmp_path) as made:
        yield made
