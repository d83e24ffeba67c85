"""How database drivers' failures become LedgerError classes: each kind of failure, its class,
its remedy, and the ledger named with its secrets masked."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pytest

from stripe_cio import (
    LedgerAccessError,
    LedgerDamagedError,
    LedgerError,
    LedgerUnavailableError,
)
from stripe_cio.ledger.failures import ledger_error, ledger_name

PG = "postgresql+psycopg://ledger:Sekret-Pw-99@db.internal:5432/ledger?sslpassword=Other-99"
SQLITE = "sqlite:////var/lib/stripe-cio/ledger.db"


def _sqlite(name: str, message: str) -> sqlite3.Error:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name
    return error


@pytest.mark.parametrize(
    ("error", "kind", "phrase"),
    [
        (_sqlite("SQLITE_NOTADB", "file is not a database"), LedgerDamagedError, "rebuild"),
        (_sqlite("SQLITE_CORRUPT", "malformed"), LedgerDamagedError, "rebuild"),
        (_sqlite("SQLITE_BUSY", "database is locked"), LedgerUnavailableError, "run again"),
        (_sqlite("SQLITE_READONLY", "readonly"), LedgerAccessError, "write permission"),
        (_sqlite("SQLITE_CANTOPEN", "unable to open"), LedgerAccessError, "folder exists"),
        (_sqlite("SQLITE_FULL", "disk is full"), LedgerAccessError, "free some space"),
        (_sqlite("SQLITE_IOERR_WRITE", "disk I/O error"), LedgerAccessError, "free space"),
    ],
)
def test_sqlite_failures(error: sqlite3.Error, kind: type[LedgerError], phrase: str) -> None:
    translated = ledger_error(error, SQLITE)
    assert type(translated) is kind
    assert phrase in str(translated)
    assert "SQLite file /var/lib/stripe-cio/ledger.db" in str(translated)


@pytest.mark.parametrize(
    ("error", "kind", "phrase"),
    [
        (
            psycopg.OperationalError('connection to server at "db", port 5432 failed: refused'),
            LedgerUnavailableError,
            "did not answer (refused)",
        ),
        (
            psycopg.OperationalError(
                'connection failed: FATAL:  password authentication failed for user "ledger"'
            ),
            LedgerAccessError,
            "refused the login of user 'ledger'",
        ),
        (
            psycopg.OperationalError('connection failed: FATAL:  database "ledger" does not exist'),
            LedgerAccessError,
            "createdb ledger",
        ),
        (psycopg.errors.InvalidPassword("bad"), LedgerAccessError, "check the user and password"),
        (psycopg.errors.InvalidCatalogName("no db"), LedgerAccessError, "no database 'ledger'"),
        (psycopg.errors.ReadOnlySqlTransaction("ro"), LedgerAccessError, "primary server"),
        (psycopg.errors.InsufficientPrivilege("denied"), LedgerAccessError, "grant"),
        (psycopg.errors.DiskFull("no space"), LedgerAccessError, "free space on the server"),
        (psycopg.errors.DataCorrupted("bad page"), LedgerDamagedError, "backup"),
        (psycopg.errors.DeadlockDetected("deadlock"), LedgerUnavailableError, "run again"),
        (psycopg.errors.AdminShutdown("bye"), LedgerUnavailableError, "not available"),
        (psycopg.errors.TooManyConnections("full"), LedgerUnavailableError, "not available"),
    ],
)
def test_postgresql_failures(error: psycopg.Error, kind: type[LedgerError], phrase: str) -> None:
    translated = ledger_error(error, PG)
    assert type(translated) is kind
    assert phrase in str(translated)
    assert "db.internal" in str(translated)
    assert "Sekret-Pw-99" not in str(translated)
    assert "Other-99" not in str(translated)
    assert "\n" not in str(translated)


def test_failures_that_are_not_about_the_database_are_left_alone() -> None:
    assert ledger_error(psycopg.errors.UniqueViolation("duplicate key"), PG) is None
    assert ledger_error(psycopg.errors.UndefinedTable("no such table"), PG) is None
    assert ledger_error(_sqlite("SQLITE_CONSTRAINT", "UNIQUE failed"), SQLITE) is None
    assert ledger_error(ValueError("a bug"), SQLITE) is None


def test_a_ledger_is_named_by_its_path_or_its_masked_url() -> None:
    assert ledger_name(SQLITE) == "SQLite file /var/lib/stripe-cio/ledger.db"
    assert ledger_name("sqlite://") == "in-memory SQLite"
    named = ledger_name(PG)
    assert "Sekret-Pw-99" not in named
    assert "Other-99" not in named
    assert named.startswith("postgresql+psycopg://ledger:")
