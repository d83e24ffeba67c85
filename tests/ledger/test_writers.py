"""This process's writers of one SQLite file take turns on a lock of its own."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from stripe_cio.ledger.engine import _writer_lock, make_engine, write_transaction


def test_one_lock_per_file_whatever_the_engine_or_spelling(tmp_path: Path) -> None:
    first = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    second = make_engine(f"sqlite:///{tmp_path / 'sub' / '..' / 'ledger.db'}")
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    assert _writer_lock(first) is _writer_lock(second)
    assert _writer_lock(first) is not _writer_lock(other)
    assert _writer_lock(make_engine("sqlite://")) is None
    assert _writer_lock(make_engine("postgresql+psycopg://u@localhost/db")) is None


def test_a_second_writer_waits_for_the_first_then_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with write_transaction(make_engine(url)) as conn:
        conn.execute(text("CREATE TABLE t (writer TEXT)"))
    holding, release = threading.Event(), threading.Event()
    entered: list[str] = []

    def first() -> None:
        with write_transaction(make_engine(url)) as conn:
            entered.append("first")
            conn.execute(text("INSERT INTO t VALUES ('first')"))
            holding.set()
            release.wait(30)

    def second() -> None:
        holding.wait(30)
        with write_transaction(make_engine(url)) as conn:
            entered.append("second")
            conn.execute(text("INSERT INTO t VALUES ('second')"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    holding.wait(30)
    threads[1].join(0.2)  # it is waiting on the lock, not failing or writing beside the first
    assert entered == ["first"]
    assert threads[1].is_alive()
    release.set()
    for thread in threads:
        thread.join(30)
    assert entered == ["first", "second"]
    with make_engine(url).connect() as conn:
        assert [row[0] for row in conn.execute(text("SELECT writer FROM t"))] == [
            "first",
            "second",
        ]
