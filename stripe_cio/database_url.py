"""Checks and normalises the ledger's database URL before anything connects to it."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .redaction import mask_url

_EXAMPLES = "e.g. sqlite:////var/lib/stripe-cio/ledger.db or postgresql://user@host:5432/ledger"


def normalise_database_url(raw: str) -> str:
    """Return a SQLAlchemy URL string for SQLite or PostgreSQL, or raise ValueError saying why.

    `postgres://` and `postgresql://` are mapped to the psycopg 3 driver, which stripe-cio ships;
    SQLAlchemy would otherwise look for psycopg2.
    """
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw.removeprefix("postgres://")
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise ValueError(f"is not a database URL ({_EXAMPLES})") from None
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        if not url.database:
            raise ValueError(f"names no database ({_EXAMPLES})")
    elif url.get_backend_name() == "sqlite":
        _check_sqlite_path(url)
    else:
        raise ValueError(
            f"uses {url.get_backend_name()!r}; the ledger supports SQLite and PostgreSQL"
        )
    return url.render_as_string(hide_password=False)


def _check_sqlite_path(url: URL) -> None:
    if not url.database or url.database == ":memory:":
        return
    path = Path(url.database).expanduser()
    if path.exists():
        if not path.is_file() or not os.access(path, os.R_OK | os.W_OK):
            raise ValueError(f"points at {path}, which is not a readable and writable file")
        return
    # The file may not exist yet: its nearest existing folder must let us create it.
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"points under {parent}, where stripe-cio cannot create the ledger file")


def display_database_url(raw: str) -> str:
    """The URL with its password masked, in its user info and in its query parameters."""
    try:
        return mask_url(make_url(raw).render_as_string(hide_password=True))
    except (ArgumentError, ValueError):
        return "<unparseable database URL>"
