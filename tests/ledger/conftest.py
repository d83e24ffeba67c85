"""Fixtures for the ledger tests: Stripe's published examples, and a ledger on each backend.

The PostgreSQL backend is a throwaway cluster (initdb + pg_ctl) in a temporary folder on a free
loopback port, started once per session. Where the binaries are missing the PostgreSQL tests are
skipped with a loud reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import copy
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger

PG_BIN = Path(os.environ.get("STRIPE_CIO_PG_BIN", "/usr/lib/postgresql/15/bin"))

LedgerFactory = Callable[[], Ledger]


@pytest.fixture
def example(stripe_examples: dict[str, dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """A fresh deep copy of one published example, safe to modify."""
    return lambda name: copy.deepcopy(stripe_examples[name])


# --- PostgreSQL ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; run its tools as the postgres user then.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The base URL (no database) of a throwaway PostgreSQL 15 cluster on loopback."""
    if not (PG_BIN / "initdb").exists():
        reason = (
            f"PostgreSQL binaries not found in {PG_BIN}: the PostgreSQL ledger tests DID NOT RUN"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="stripe-cio-pg-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    data, port = workdir / "data", _free_port()
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(workdir / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


_database_numbers = itertools.count()


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A URL to a new, empty database on the throwaway cluster."""
    name = f"ledger_{os.getpid()}_{next(_database_numbers)}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{pg_server}/{name}"


# --- ledgers on each backend -----------------------------------------------------------------


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
