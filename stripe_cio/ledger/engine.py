"""Engines for the ledger: SQLite tuned for bulk writes and safe sharing, or PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from ..exceptions import ConfigError
from ..settings import make_sqlite_folder
from .failures import translate_failures

# How long a SQLite writer waits for another process's write transaction before failing.
BUSY_TIMEOUT_S = 60.0
# WAL pages (16 kB each) written before SQLite copies them back into the database file: 64 MB.
WAL_CHECKPOINT_PAGES = 4096
_WRITE = "ledger_write"


def make_engine(url: str) -> Engine:
    """An engine for `url` (already normalised by LedgerSettings: sqlite or postgresql+psycopg).

    A SQLite file's folder is created here too when missing (LedgerSettings created it when it
    was loaded, but it may have been removed since, or the settings loaded on another machine).
    """
    if url.startswith("sqlite"):
        try:
            make_sqlite_folder(url)
        except ValueError as exc:
            # Only the URL is known here, not which setting placed the file there: name both.
            raise ConfigError(
                "ledger database", str(exc), "check STRIPE_CIO_DATA_DIR or STRIPE_CIO_DATABASE_URL"
            ) from None
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    translate_failures(engine, url)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (the pysqlite module would otherwise
    # begin lazily, as DEFERRED, which lets two writers deadlock upgrading their locks).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Rows carry a few kB of raw JSON: 16 kB pages keep most of them off overflow pages, which
    # doubled the bulk write rate here. Only takes effect when the file is created.
    cursor.execute("PRAGMA page_size=16384")
    # WAL lets readers run while one process writes; NORMAL sync is durable across application
    # crashes (only a power loss can roll back the last commits). Source: https://sqlite.org/wal.html
    # Stripe ids are random, so id-index inserts touch pages all over: cache 64 MB of them.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A bulk transaction of a few thousand rows rewrites hundreds of index pages; with SQLite's
    # default (a checkpoint every 1,000 pages) every such commit also copied them all back into
    # the database file and synced it. Checkpointing every 64 MB instead copies a page rewritten
    # by several transactions once, which lowered both the CPU per row and the wall time of bulk
    # writes (docs/ledger.md, SQLite settings; bench/bench_ledger_write.py). The WAL is
    # truncated back to 64 MB after a checkpoint, and SQLite checkpoints it away when the last
    # connection closes.
    # Source: https://sqlite.org/pragma.html#pragma_wal_autocheckpoint
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_PAGES * 16384}")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes SQLite's write lock at once (BEGIN IMMEDIATE), so that two
    # processes queue on the busy timeout instead of failing when a read lock must be upgraded.
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# One lock per SQLite file for this process's writers. SQLite's busy handler makes a waiting
# writer sleep in steps of up to 100 ms whatever the moment the lock frees, so writers of one
# process queued on it (the webhook receiver's commits behind its delivery rounds) waited for
# nothing; a Python lock hands over at once. Other processes still meet the busy handler.
# Source: https://sqlite.org/c3ref/busy_timeout.html (sqliteDefaultBusyCallback's delays).
_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock | None:
    """This process's lock for writing the SQLite file of `engine` (None: not a SQLite file)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    key = os.path.realpath(database)
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(key, threading.RLock())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One connection and one write transaction: committed on success, rolled back on error."""
    lock = _writer_lock(engine)
    # Past the busy timeout, SQLite's own wait (and its error) takes over, as for two processes.
    held = lock is not None and lock.acquire(timeout=BUSY_TIMEOUT_S)
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn
    finally:
        if held:
            assert lock is not None
            lock.release()
