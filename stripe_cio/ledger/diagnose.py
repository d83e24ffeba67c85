"""The ledger's health, read without creating or migrating anything: its integrity (checked
by every job as it starts) and the one line `stripe-cio doctor` says of it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from sqlalchemy import Engine, false, func, inspect, select
from sqlalchemy.exc import OperationalError

from ..exceptions import LedgerDamagedError
from ..settings import LedgerSettings
from .engine import make_engine, write_transaction
from .events import advance_cursor, read_cursor
from .failures import REBUILD_HINT, ledger_name
from .resources import RESOURCE_TABLES
from .schema import check_version, latest_version
from .tables import table

# The cursor (wall clock, Unix s) of the last integrity check a job passed.
INTEGRITY_CHECKED = "integrity_checked_at"


def check_integrity(
    engine: Engine, *, every: float | None = None, clock: Callable[[], float] = time.time
) -> None:
    """Stop with LedgerDamagedError when a SQLite ledger fails SQLite's `quick_check`.

    `quick_check` reads every page and checks its structure, but not that indexes match their
    tables, which makes it several times cheaper than `integrity_check`. Source:
    https://sqlite.org/pragma.html#pragma_quick_check. Reading every page costs what the file
    weighs: with `every` (seconds), a check passed less than that long ago (recorded in the
    ledger) stands, so that a frequent job does not read the whole ledger each time.
    PostgreSQL checks its own pages as it reads them, and reports damage as an error that
    `failures` translates.
    """
    if engine.dialect.name != "sqlite":
        return
    now = int(clock())
    with engine.connect() as conn:
        if every is not None:
            last = read_cursor(conn, INTEGRITY_CHECKED)
            if last is not None and 0 <= now - last < every:
                return
        problems = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA quick_check(3)")]
    if problems == ["ok"] and every is not None:
        # On a read-only ledger the check stands for this run only.
        with contextlib.suppress(OperationalError), write_transaction(engine) as conn:
            advance_cursor(conn, INTEGRITY_CHECKED, now)
    if problems != ["ok"]:
        found = "; ".join(p.splitlines()[0][:120] for p in problems)
        raise LedgerDamagedError(
            f"the ledger {ledger_name(str(engine.url))} failed its integrity check ({found}); "
            f"{REBUILD_HINT}"
        )


def check_writable(engine: Engine) -> None:
    """Stop with LedgerAccessError now, not after an hour of reading, when the ledger is
    read-only (a SQLite file opened read-only, a PostgreSQL standby or read-only user)."""
    versions = table("schema_version")
    with write_transaction(engine) as conn:
        # A write that changes no row: both databases refuse it in a read-only transaction
        # before looking for rows, and the refusal is translated by `failures`.
        conn.execute(versions.update().where(false()).values(version=versions.c.version))


def diagnose_ledger(settings: LedgerSettings) -> str:
    """One line on the ledger of `settings`; a LedgerError when it cannot be used."""
    engine = make_engine(settings.database_url.get_secret_value())
    versions = table("schema_version")
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            if versions.name not in present:
                return f"{settings.display_url}: reachable and empty (the first run creates it)"
            version = int(conn.execute(select(func.max(versions.c.version))).scalar() or 0)
            check_version(version, engine)
            objects = sum(
                int(conn.execute(select(func.count()).select_from(table(name))).scalar() or 0)
                for name in RESOURCE_TABLES
                if name in present
            )
        check_integrity(engine)
    finally:
        engine.dispose()
    target = latest_version()
    later = "" if version == target else f" (the next run migrates it to {target})"
    return (
        f"{settings.display_url}: schema version {version}{later}, integrity ok, "
        f"{objects:,} Stripe objects"
    )
