"""One pushing run per ledger at a time: a lock that dies with its holder.

Two runs pushing from the same ledger at once could both read a person's snapshot before either
records what Customer.io accepted, and both send the same change. Whatever starts the runs
(deployments, `stripe-cio` commands, tests), they take this lock first and refuse to start when
another holds it. On SQLite it is an advisory `flock` on a file beside the database; on
PostgreSQL a session-level advisory lock. The operating system or the database releases either
when the holding process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, text

from .errors import RunInProgressError

_POLL_SECONDS = 0.25
_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()

Release = Callable[[], None]


def _lock_key(name: str) -> int:
    # pg_try_advisory_lock takes a signed 64-bit key.
    digest = hashlib.blake2b(f"stripe-cio:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _FileLock:
    """flock on a file beside the SQLite database; the file names the holder while held."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        self.other = "another process"

    def try_acquire(self) -> Release | None:
        handle: IO[str] = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            self.other = handle.read().strip() or self.other
            handle.close()
            return None
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.holder}, pid {os.getpid()}, since {since}")
        handle.flush()

        def release() -> None:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

        return release

    def refusal(self) -> str:
        return f"another run is pushing from this ledger ({self.other})"


class _PostgresLock:
    """A session-level advisory lock, held as long as its dedicated connection."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.key = _lock_key(name)

    def try_acquire(self) -> Release | None:
        conn: Connection = self.engine.connect()
        query = text("SELECT pg_try_advisory_lock(:key)")
        if not conn.execute(query, {"key": self.key}).scalar():
            conn.rollback()
            conn.close()
            return None
        conn.commit()

        def release() -> None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                conn.commit()
            finally:
                conn.close()

        return release

    def refusal(self) -> str:
        return f"another run is pushing from this ledger (PostgreSQL advisory lock {self.key})"


class _MemoryLock:
    """An in-memory SQLite ledger lives in one process: a process-wide lock is the whole story."""

    def __init__(self, name: str) -> None:
        with _MEMORY_GUARD:
            self.lock = _MEMORY_LOCKS.setdefault(name, threading.Lock())

    def try_acquire(self) -> Release | None:
        return self.lock.release if self.lock.acquire(blocking=False) else None

    def refusal(self) -> str:
        return "another run is pushing from this ledger"


def _lock_of(engine: Engine, holder: str, name: str) -> _FileLock | _PostgresLock | _MemoryLock:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return _PostgresLock(engine, name)
    if url.database in (None, "", ":memory:"):
        return _MemoryLock(f"{id(engine)}:{name}")
    database = url.database
    if url.query.get("uri") == "true" and database.startswith("file:"):
        # A URI filename (`sqlite:///file:/path/ledger.db?mode=ro&uri=true`) names the file
        # by its path. Source: https://sqlite.org/uri.html
        database = urlsplit(database).path
    path = Path(database).expanduser()
    return _FileLock(path.with_name(f"{path.name}.{name}.lock"), holder)


def acquire_run_lock(engine: Engine, holder: str, name: str = "push", wait: float = 0.0) -> Release:
    """Take the ledger's lock `name` and return its release, or raise RunInProgressError.

    `holder` says who holds it (e.g. the flow and run name): a refused run's error shows it, on
    SQLite. With `wait`, a held lock is tried again for up to that many seconds first.
    """
    lock = _lock_of(engine, holder, name)
    deadline = time.monotonic() + wait
    while (release := lock.try_acquire()) is None:
        if time.monotonic() >= deadline:
            raise RunInProgressError(f"{lock.refusal()}; this run did nothing")
        time.sleep(_POLL_SECONDS)
    return release


@contextmanager
def run_lock(engine: Engine, holder: str, name: str = "push", wait: float = 0.0) -> Iterator[None]:
    """Hold the ledger's lock `name` for the block (see `acquire_run_lock`)."""
    release = acquire_run_lock(engine, holder, name, wait)
    try:
        yield
    finally:
        release()
