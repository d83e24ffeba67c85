"""Hostile situations outside the data: a ledger that is damaged, refused, read-only, full or
newer than the code, a database server or Prefect API that is away, arguments out of range.

Each runs the `stripe-cio` console script as a user types it and asserts its documented exit
code (docs/reliability.md), exactly one line on stderr saying what failed and what to do, no
traceback, and no secret of the settings anywhere in the output.
"""

from __future__ import annotations

import os
import random
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SANDBOX_STRIPE_KEY, SandboxProcess

STRIPE_CIO = str(Path(sys.executable).with_name("stripe-cio"))
DB_PASSWORD = "Ledger-Pw-0123456789"
STRIPE_KEY = "sk_test_51FailuresSentinel0123456789"
CIO_KEY = "cio-failures-sentinel-key-0123"
SECRETS = (DB_PASSWORD, STRIPE_KEY, CIO_KEY)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _environment(database_url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "CUSTOMERIO_"))}
    # The APIs point at a closed port: every situation here must fail before calling them.
    dead = f"http://127.0.0.1:{_dead_port()}"
    return {
        **base,
        "STRIPE_API_KEY": STRIPE_KEY,
        "STRIPE_API_BASE": dead,
        "CUSTOMERIO_SITE_ID": "site-failures",
        "CUSTOMERIO_API_KEY": CIO_KEY,
        "CUSTOMERIO_TRACK_URL": dead,
        "STRIPE_CIO_DATABASE_URL": database_url,
        "COLUMNS": "200",
        **extra,
    }


def stripe_cio(
    database_url: str, *args: str, fsize_limit: int | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`stripe-cio ARGS` with the ledger at `database_url`."""

    def limit_file_size() -> None:  # runs in the child: files may not grow past the limit
        assert fsize_limit is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))

    return subprocess.run(
        [STRIPE_CIO, *args],
        env=_environment(database_url, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=limit_file_size if fsize_limit else None,
    )


def one_line(done: subprocess.CompletedProcess[str], code: int, *phrases: str) -> str:
    """The failure's line, after asserting the exit code, one stderr line and no secret."""
    output = done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == code, output
    assert len(lines) == 1, output
    assert "Traceback" not in output
    for secret in SECRETS:
        assert secret not in output
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


JOBS = (
    ("sync",),
    ("sync", "--ledger-only"),
    ("backfill", "--no-enrich"),
    ("enrich", "--dry-run"),
    ("dead-letters", "list"),
    ("status", "--runs", "0"),
)
# One command through each door that opens the ledger: a job, `status` (a Prefect plug-in) and
# `dead-letters list`; every job opens it through the same `Connections.open_ledger`.
DOORS = (("sync",), ("enrich", "--dry-run"), ("dead-letters", "list"), ("status", "--runs", "0"))


# --- SQLite ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_ledger(tmp_path: Path, stripe_examples: dict[str, Any]) -> Path:
    """A SQLite ledger holding a few thousand customers (a few hundred pages)."""
    path = tmp_path / "ledger.db"
    example = stripe_examples["customer"]
    customers = [
        {**example, "id": f"cus_fail{i:05d}", "email": f"c{i}@example.com", "created": 1.7e9 + i}
        for i in range(3000)
    ]
    with Ledger.open(LedgerSettings.load({"database_url": f"sqlite:///{path}"})) as ledger:
        ledger.write_objects("customers", customers, observed_at=1_800_000_000)
    return path


@pytest.mark.parametrize("args", JOBS, ids=" ".join)
def test_a_file_that_is_not_a_database(tmp_path: Path, args: tuple[str, ...]) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(random.Random(7).randbytes(64 * 1024))
    line = one_line(stripe_cio(f"sqlite:///{path}", *args), 4, str(path), "damaged")
    assert "stripe-cio backfill" in line  # how to rebuild it


@pytest.mark.parametrize("args", JOBS, ids=" ".join)
def test_random_bytes_in_the_middle_of_a_ledger(sqlite_ledger: Path, args: tuple[str, ...]) -> None:
    size = sqlite_ledger.stat().st_size
    page = 16384
    assert size > 20 * page
    with sqlite_ledger.open("r+b") as file:
        for number in range(size // page // 2, size // page // 2 + 4):
            file.seek(number * page + 100)
            file.write(random.Random(number).randbytes(2000))
    line = one_line(stripe_cio(f"sqlite:///{sqlite_ledger}", *args), 4, str(sqlite_ledger))
    assert "integrity check" in line or "damaged" in line
    assert "rebuild" in line


def test_a_ledger_from_a_newer_stripe_cio(sqlite_ledger: Path) -> None:
    import sqlite3

    with sqlite3.connect(sqlite_ledger) as conn:
        conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)")
    for args in DOORS:
        one_line(stripe_cio(f"sqlite:///{sqlite_ledger}", *args), 4, "schema version 99", "upgrade")


def test_a_read_only_ledger(sqlite_ledger: Path) -> None:
    # Read-only as SQLite opens it: file permissions do not bind root, which runs CI.
    url = f"sqlite:///file:{sqlite_ledger}?mode=ro&uri=true"
    done = stripe_cio(url, "backfill", "--no-enrich")
    one_line(done, 4, "read-only", "write permission")


def test_a_full_disk(tmp_path: Path) -> None:
    # A file-size limit makes every write past it fail as a full disk does (Python ignores
    # SIGXFSZ, so the write returns EFBIG); a backfill writes far more than 64 kB.
    path = tmp_path / "ledger.db"
    done = stripe_cio(f"sqlite:///{path}", "backfill", "--no-enrich", fsize_limit=64 * 1024)
    one_line(done, 4, str(path), "free space")


def test_verbose_adds_the_traceback_and_keeps_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"not a database at all" * 1000)
    done = stripe_cio(f"sqlite:///{path}", "--verbose", "sync")
    assert done.returncode == 4
    assert "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: the ledger SQLite file")
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr


# --- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_with_password(pg_server: str) -> Iterator[str]:
    """The throwaway cluster, where role `guarded` must log in with DB_PASSWORD (SCRAM)."""
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
        conn.execute(f"CREATE ROLE guarded LOGIN PASSWORD '{DB_PASSWORD}'")
        conn.execute("CREATE DATABASE guarded_ledger OWNER guarded")
        original = hba.read_text()
        # pg_hba.conf takes the first matching line: this one, for this role only.
        hba.write_text(f"host all guarded 127.0.0.1/32 scram-sha-256\n{original}")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield pg_server.replace("postgres@", "guarded@", 1)
    finally:
        hba.write_text(original)
        with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")


def test_a_postgresql_server_that_is_not_running() -> None:
    url = f"postgresql://ledger:{DB_PASSWORD}@127.0.0.1:{_dead_port()}/ledger"
    for args in DOORS:
        one_line(stripe_cio(url, *args), 69, "did not answer", "STRIPE_CIO_DATABASE_URL")


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_a_wrong_postgresql_password(pg_with_password: str, form: str) -> None:
    host = pg_with_password.split("@", 1)[1]
    wrong = "Wrong" + DB_PASSWORD
    url = (
        f"postgresql://guarded:{wrong}@{host}/guarded_ledger"
        if form == "userinfo"
        else f"postgresql://guarded@{host}/guarded_ledger?password={wrong}"
    )
    for args in DOORS:
        line = one_line(stripe_cio(url, *args), 4, "refused the login", "password")
        assert wrong not in line
    # The right password, in either form, works; and is shown by nobody.
    right = url.replace(wrong, DB_PASSWORD)
    done = stripe_cio(right, "status", "--runs", "0")
    assert done.returncode == 0, done.stderr
    assert DB_PASSWORD not in done.stdout + done.stderr


def test_a_postgresql_database_that_does_not_exist(pg_server: str) -> None:
    url = f"{pg_server}/no_such_ledger"
    for args in DOORS:
        one_line(stripe_cio(url, *args), 4, "no database 'no_such_ledger'", "createdb")


def test_a_postgresql_ledger_from_a_newer_stripe_cio(pg_url: str) -> None:
    with (
        Ledger.open(LedgerSettings.load({"database_url": pg_url})) as ledger,
        ledger.engine.begin() as conn,
    ):
        conn.exec_driver_sql("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)")
    for args in DOORS:
        one_line(stripe_cio(pg_url, *args), 4, "schema version 99", "upgrade")


def test_a_read_only_postgresql_ledger(pg_url: str) -> None:
    with Ledger.open(LedgerSettings.load({"database_url": pg_url})):
        pass  # the schema exists; only writes fail from here on
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    one_line(stripe_cio(pg_url, "backfill", "--no-enrich"), 4, "read-only", "primary")


# --- the Prefect API, arguments, the last line of defence -------------------------------------


@pytest.mark.parametrize(
    "args", [("status",), ("blocks", "register"), ("blocks", "save-from-env", "--stripe", "x")]
)
def test_a_prefect_api_that_is_not_running(tmp_path: Path, args: tuple[str, ...]) -> None:
    api = f"http://user:{DB_PASSWORD}@127.0.0.1:{_dead_port()}/api"
    done = stripe_cio(f"sqlite:///{tmp_path / 'l.db'}", *args, PREFECT_API_URL=api)
    one_line(done, 69, "Prefect API", "did not answer", "PREFECT_API_URL")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("enrich", "--dry-run", "--as-of", "2099-01-01T00:00:00Z"), "in the future"),
        (("enrich", "--dry-run", "--as-of", "1999-01-01T00:00:00Z"), "before 2010"),
    ],
)
def test_arguments_out_of_range(tmp_path: Path, args: tuple[str, ...], phrase: str) -> None:
    one_line(stripe_cio(f"sqlite:///{tmp_path / 'l.db'}", *args), 2, "as_of", phrase)


@pytest.mark.parametrize(
    ("args", "phrases"),
    [
        (("sync", "--overlap", "-5"), ("usage error:", "--overlap", "stripe-cio sync --help")),
        (("backfill", "--resources", "charges,nope"), ("--resources", "unknown nope")),
        (("enrich", "--as-of", "99999-01-01"), ("neither Unix seconds nor ISO 8601",)),
        (("sync", "--bogus"), ("No such option: --bogus",)),
        (("bogus",), ("No such command 'bogus'", "stripe-cio --help")),
        (("status", "--runs", "-1"), ("--runs",)),
    ],
)
def test_arguments_the_command_line_refuses(
    tmp_path: Path, args: tuple[str, ...], phrases: tuple[str, ...]
) -> None:
    one_line(stripe_cio(f"sqlite:///{tmp_path / 'l.db'}", *args), 2, *phrases)


def test_a_backfill_since_a_time_after_stripes_present(tmp_path: Path) -> None:
    with SandboxProcess("stripe", "--customers", "5", "--months", "1", "--rps", "0") as stripe:
        done = stripe_cio(
            f"sqlite:///{tmp_path / 'l.db'}",
            "backfill",
            "--no-enrich",
            "--since",
            "2099-01-01T00:00:00Z",
            STRIPE_API_BASE=stripe.url,
            STRIPE_API_KEY=SANDBOX_STRIPE_KEY,
        )
    one_line(done, 2, "since: is after Stripe's present")


def test_a_data_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    env = {"STRIPE_CIO_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [STRIPE_CIO, "sync"],
        env={**_environment("unused", **env), "STRIPE_CIO_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = one_line(done, 2, "STRIPE_CIO_DATA_DIR", "is a file, not a folder")
    assert "STRIPE_CIO_DATABASE_URL" not in line


def test_doctor_reports_every_part_in_one_line_each(tmp_path: Path) -> None:
    url = f"postgresql://ledger:{DB_PASSWORD}@127.0.0.1:{_dead_port()}/ledger"
    api = f"http://127.0.0.1:{_dead_port()}/api"
    done = stripe_cio(url, "doctor", PREFECT_API_URL=api, STRIPE_REQUESTS_PER_SECOND="1000")
    lines = done.stdout.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["FAIL", "ledger"],
        ["FAIL", "Stripe"],
        ["FAIL", "Customer.io"],
        ["FAIL", "Prefect"],
    ], done.stdout + done.stderr
    assert done.returncode == 69  # the first failure's class: the database server is away
    assert "Traceback" not in done.stdout + done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr


def test_a_sandbox_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for kind in ("stripe", "customerio"):
            done = stripe_cio(f"sqlite:///{tmp_path / 'l.db'}", "sandbox", kind, "--port", port)
            one_line(done, 2, f"127.0.0.1:{port} cannot be used", "--port")
