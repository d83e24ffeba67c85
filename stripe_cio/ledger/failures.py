"""Database drivers' failures as the project's LedgerError classes: one line naming the ledger
(secrets masked) and what to do, at the boundary where SQLAlchemy raises them.

The ledger's engines install `translate_failures`, so every statement and every connection
attempt, from any job or command, fails the same way. Failures that are not about the database
itself (a bug in a statement, a constraint we rely on) are left as they are.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from ..exceptions import (
    LedgerAccessError,
    LedgerDamagedError,
    LedgerError,
    LedgerUnavailableError,
)
from ..redaction import mask_url

REBUILD_HINT = (
    "move the file aside and rebuild the ledger with `stripe-cio backfill` (Stripe keeps every "
    "object; Customer.io snapshots are rebuilt as the next run compares)"
)

# SQLite's primary result codes, by name (Python >= 3.11 exposes `sqlite_errorname`; extended
# codes such as SQLITE_IOERR_WRITE start with the primary name). Source:
# https://www.sqlite.org/rescode.html
_SQLITE_DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")

# PostgreSQL SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_UNAVAILABLE_CLASSES = ("08", "57", "53")  # connection exception, operator intervention,
# insufficient resources (but 53100 disk_full, below, is no passing state)
_PG_LOCKS = ("40001", "40P01", "55P03")  # serialization failure, deadlock, lock not available


def ledger_name(url: str) -> str:
    """How messages name a ledger: a SQLite file's path, else its URL with secrets masked."""
    try:
        parsed = make_url(url)
    except Exception:  # a URL we cannot parse is still shown, masked
        return mask_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}" if parsed.database else "in-memory SQLite"
    return mask_url(url)


def ledger_error(error: BaseException, url: str) -> LedgerError | None:
    """The LedgerError describing a driver's failure on the ledger at `url`, or None."""
    if isinstance(error, sqlite3.Error):
        return _sqlite_error(error, ledger_name(url))
    if isinstance(error, psycopg.Error):
        return _postgres_error(error, url)
    return None


def _sqlite_error(error: sqlite3.Error, name: str) -> LedgerError | None:
    code = str(getattr(error, "sqlite_errorname", "") or "")
    detail = str(error).splitlines()[0] if str(error) else code
    if code.startswith(_SQLITE_DAMAGED):
        return LedgerDamagedError(f"the ledger {name} is damaged ({detail}); {REBUILD_HINT}")
    if code.startswith(_SQLITE_BUSY):
        return LedgerUnavailableError(
            f"the ledger {name} stayed locked by another process ({detail}); run again when "
            "it is done (`stripe-cio status` shows the runs holding it)"
        )
    if code.startswith("SQLITE_READONLY"):
        return LedgerAccessError(
            f"the ledger {name} is read-only ({detail}); give this user write permission on the "
            "file and its folder (SQLite writes -wal and -shm files beside it)"
        )
    if code.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return LedgerAccessError(
            f"cannot open the ledger {name} ({detail}); check that its folder exists and this "
            "user may write there (STRIPE_CIO_DATA_DIR or STRIPE_CIO_DATABASE_URL)"
        )
    if code.startswith("SQLITE_FULL"):
        return LedgerAccessError(
            f"the disk holding the ledger {name} is full; free some space and run again (the "
            "failed transaction was rolled back, so nothing is half-written)"
        )
    if code.startswith("SQLITE_IOERR"):
        return LedgerAccessError(
            f"the ledger {name} could not be read or written ({detail}); check the disk and "
            "its free space, then run again"
        )
    return None


def _postgres_error(error: psycopg.Error, url: str) -> LedgerError | None:
    name = ledger_name(url)
    state = error.sqlstate or ""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    # libpq prefixes connection failures with where it tried; keep the reason, which is last.
    reason = first.rsplit(" failed: ", 1)[-1]
    parsed = make_url(url)
    # libpq reports a refused connection with no SQLSTATE: known by the server's message.
    refused = ("password authentication failed", "no pg_hba.conf entry", "role ")
    if state in ("28P01", "28000") or any(words in first for words in refused):
        return LedgerAccessError(
            f"PostgreSQL refused the login of user {parsed.username!r} to the ledger {name} "
            f"({reason}); check the user and password in STRIPE_CIO_DATABASE_URL"
        )
    if state == "3D000" or ("database" in first and "does not exist" in first):
        return LedgerAccessError(
            f"PostgreSQL has no database {parsed.database!r} for the ledger {name}; create it "
            f"(createdb {parsed.database}) or fix STRIPE_CIO_DATABASE_URL"
        )
    if state == "25006":
        return LedgerAccessError(
            f"the ledger {name} is read-only ({reason}); point STRIPE_CIO_DATABASE_URL at the "
            "primary server, not a standby or a read-only user"
        )
    if state == "42501":
        return LedgerAccessError(
            f"PostgreSQL user {parsed.username!r} may not do this in the ledger {name} "
            f"({reason}); grant it ownership of the ledger's database or schema"
        )
    if state == "53100":
        return LedgerAccessError(
            f"the disk of the ledger's server at {name} is full ({reason}); free space on the "
            "server and run again (the failed transaction was rolled back)"
        )
    if state.startswith(("XX001", "XX002")):
        return LedgerDamagedError(
            f"PostgreSQL reports damaged data in the ledger {name} ({reason}); restore it from "
            "a backup or rebuild it with `stripe-cio backfill` into a new database"
        )
    if state in _PG_LOCKS:
        return LedgerUnavailableError(
            f"the ledger {name} could not take a lock ({reason}); run again"
        )
    if not state and isinstance(error, psycopg.OperationalError):
        # No SQLSTATE: the server was never reached (refused, unknown host, timeout) or the
        # connection dropped mid-statement.
        return LedgerUnavailableError(
            f"the ledger's PostgreSQL server at {name} did not answer ({reason}); check that it "
            "is running and that STRIPE_CIO_DATABASE_URL names its host and port"
        )
    if state.startswith(_PG_UNAVAILABLE_CLASSES):
        return LedgerUnavailableError(
            f"the ledger's PostgreSQL server at {name} is not available ({reason}); run again "
            "when it is"
        )
    return None


def translate_failures(engine: Engine, url: str) -> None:
    """Make `engine` raise a LedgerError for every database failure it knows (see module doc)."""

    def on_error(context: ExceptionContext) -> BaseException | None:
        original: Any = context.original_exception
        return ledger_error(original, url)

    event.listen(engine, "handle_error", on_error)
