"""Fixtures for the ledger tests: Stripe's published examples, and a ledger on each backend.

The PostgreSQL backend is a throwaway cluster (initdb + pg_ctl) in a temporary folder on a free
loopback port, started once per session. Where the binaries are missing the PostgreSQL tests are
skipped with a loud reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger

LedgerFactory = Callable[[], Ledger]


@pytest.fixture
def example(stripe_examples: dict[str, dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """A fresh deep copy of one published example, safe to modify."""
    return lambda name: copy.deepcopy(stripe_examples[name])


# --- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty ledger on SQLite (a file in tmp_path) or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def open_ledger(ledger_url: str) -> Iterator[LedgerFactory]:
    """Opens ledgers on the same database (several: to play two processes); closes them all."""
    opened: list[Ledger] = []

    def factory() -> Ledger:
        ledger = Ledger.open(LedgerSettings(database_url=ledger_url))
        opened.append(ledger)
        return ledger

    yield factory
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: LedgerFactory) -> Ledger:
    """An empty ledger on each backend."""
    return open_ledger()
