"""Test configuration shared by every test, set once here.

- Prefect never touches the user's state: PREFECT_HOME points at a temporary folder and
  analytics are off, set before anything imports Prefect.
- Prefect's test harness (a temporary API server, ~12 s to start) starts once per session and
  only when a test marked `prefect` runs; pure unit tests never start it.
- No test reaches beyond loopback: connecting a socket anywhere else fails the test.
- Credentials in the developer's environment never leak into a test.
- Hypothesis runs under one profile everywhere: no per-example deadline and no `too_slow` health
  check, so a slow or busy machine cannot fail a property that holds.
- Stripe's published example objects are read from the copy in `tests/data/stripe/`.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
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
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from tests._webhook import Webhook

# Stripe's OpenAPI fixtures (MIT), vendored so the suite needs nothing outside the checkout;
# tests/data/stripe/README.md says where the copy comes from and how to update it.
STRIPE_EXAMPLES_FILE = Path(__file__).resolve().parent / "data" / "stripe" / "fixtures3.json"

# --- Hypothesis: one profile for every run, local or CI -----------------------------------------

# Hypothesis times each example and health-checks how long generation takes; both are wall-clock
# judgements that fail correct code on a slow or loaded machine (tests/deliver/test_plan.py hit
# `too_slow` on fresh clones). A test's own @settings inherits this profile; one that lists its
# own suppress_health_check must list too_slow again.
hypothesis_settings.register_profile(
    "stripe-cio",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile("stripe-cio")

_PREFECT_HOME = tempfile.mkdtemp(prefix="stripe-cio-tests-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_API_KEY", None)
for _name in list(os.environ):
    if _name.startswith(("STRIPE_", "CUSTOMERIO_")):
        del os.environ[_name]
# The clients honour the proxy variables as httpx does: one set in the developer's shell would
# send the loopback sandboxes through that proxy. tests/reliability/test_network.py sets its own.
for _name in list(os.environ):
    if _name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
        del os.environ[_name]


# --- loopback only ----------------------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets and the like stay on the machine
    host = address[0]
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise OSError(f"tests may only connect to loopback, not {host!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_loopback(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_loopback(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]


# --- Stripe's published example objects -----------------------------------------------------------


@pytest.fixture(scope="session")
def stripe_fixtures_file() -> dict[str, Any]:
    """Parse the vendored fixtures file (part of the checkout: a missing one is an error)."""
    parsed: dict[str, Any] = json.loads(STRIPE_EXAMPLES_FILE.read_text(encoding="utf-8"))
    return parsed


@pytest.fixture(scope="session")
def stripe_examples(stripe_fixtures_file: dict[str, Any]) -> dict[str, Any]:
    """Stripe's published example object of every resource, by object type (charge, ...)."""
    resources: dict[str, Any] = stripe_fixtures_file["resources"]
    return resources


# --- Prefect, once per session, only where asked for ---------------------------------------------


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's own test harness: a temporary database and API server for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _prefect_for_marked_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("prefect") is not None:
        request.getfixturevalue("prefect_harness")


# --- PostgreSQL: one throwaway cluster per session, for every folder that needs it -----------

PG_BIN = Path(os.environ.get("STRIPE_CIO_PG_BIN", "/usr/lib/postgresql/15/bin"))


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


@pytest.fixture
def make_ledger(tmp_path: Path) -> Iterator[Callable[[], Ledger]]:
    """Opens real SQLite ledgers in the test's folder, closed at the end of the test."""
    opened: list[Ledger] = []

    def make() -> Ledger:
        url = f"sqlite:///{tmp_path / f'ledger{len(opened)}.db'}"
        ledger = Ledger.open(LedgerSettings(database_url=url))
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


# --- a notification webhook --------------------------------------------------------------------


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A webhook server on loopback that keeps what is POSTed to it, for this test."""
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.stop()
