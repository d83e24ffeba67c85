"""The push lock: one holder per ledger, across processes, released when its holder dies."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from stripe_cio.runs import RunInProgressError, run_lock


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = create_engine(ledger_url)
    yield engine
    engine.dispose()


def test_a_second_holder_is_refused_until_the_first_lets_go(engine: Engine) -> None:
    with run_lock(engine, "enrich-profiles run first"):
        with pytest.raises(RunInProgressError) as refused, run_lock(engine, "second"):
            pass
        assert "this run did nothing" in str(refused.value)
        if engine.url.get_backend_name() == "sqlite":
            assert "enrich-profiles run first" in str(refused.value)
    with run_lock(engine, "third"):
        pass


def test_locks_of_other_names_do_not_collide(engine: Engine) -> None:
    with run_lock(engine, "a", name="push"), run_lock(engine, "b", name="other"):
        pass


def test_another_process_is_refused_and_a_dead_holder_leaves_no_lock(
    engine: Engine, ledger_url: str
) -> None:
    holder = textwrap.dedent(
        f"""
        import sys, time
        from sqlalchemy import create_engine
        from stripe_cio.runs import run_lock
        with run_lock(create_engine({ledger_url!r}), "the other process"):
            print("held", flush=True)
            time.sleep(600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        with pytest.raises(RunInProgressError), run_lock(engine, "this process"):
            pass
    finally:
        process.kill()  # dies holding the lock, as a crashed run would
        process.wait()
    with run_lock(engine, "after the crash", wait=10):
        pass


def test_in_memory_ledgers_lock_within_the_process() -> None:
    engine = create_engine("sqlite://")
    with run_lock(engine, "first"), pytest.raises(RunInProgressError), run_lock(engine, "2nd"):
        pass
    with run_lock(engine, "third"):
        pass
