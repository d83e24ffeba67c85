"""Fixtures of the documented command sequences: worlds on either ledger backend."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from stripe_cio.sandbox import SandboxProcess
from tests.paths._world import World, stripe_sandbox

_worlds = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty ledger on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def world(ledger_url: str) -> Iterator[World]:
    """A fresh Stripe account (the test may move its clock) and an empty workspace."""
    with stripe_sandbox() as stripe, SandboxProcess("customerio", "--rps", "0") as cio:
        yield World(stripe, cio, ledger_url)


@pytest.fixture
def make_world(
    request: pytest.FixtureRequest, ledger_url: str, tmp_path: Path
) -> Iterator[Callable[[], World]]:
    """Worlds sharing one Stripe account, each with its own ledger and workspace."""
    opened: list[SandboxProcess] = []
    stripe = stripe_sandbox()
    stripe.start()
    opened.append(stripe)

    def make() -> World:
        cio = SandboxProcess("customerio", "--rps", "0")
        cio.start()
        opened.append(cio)
        if ledger_url.startswith("sqlite"):
            return World(stripe, cio, f"sqlite:///{tmp_path / f'ledger{len(opened)}.db'}")
        server = str(request.getfixturevalue("pg_server"))
        name = f"world_{os.getpid()}_{next(_worlds)}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return World(stripe, cio, f"{server}/{name}")

    try:
        yield make
    finally:
        for box in opened:
            box.stop()
