"""An interrupted `stripe-cio backfill`, as a user stops it (Ctrl-C, or SIGTERM from a process
manager), against both sandboxes: exit 130 and one last line naming the run and the command that
resumes it; that command, or a plain `backfill`, reads only what is missing and leaves the
ledger and the workspace a clean backfill leaves."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from stripe_cio.ledger import LEDGER_RESOURCES
from tests.paths._world import STRIPE_CIO, World

# Objects in the slices marked done before the test interrupts the backfill: some of it read.
INTERRUPT_AFTER_OBJECTS = 50
# Requests/s the backfill that is interrupted makes (of ~100): slow enough to stop it half way.
# The client's own limit, so that no request is refused and retried meanwhile.
SLOW_RPS = "4"
LAST_LINE = re.compile(
    r"^interrupted: backfill run (?P<run>backfill-\d+) stopped with \d+ slices and [\d,]+ "
    r"objects read, \d+ of 10 resources complete; "
    r"resume with: (?P<command>stripe-cio backfill --run (?P=run))$"
)


def _objects_done(ledger_url: str) -> int:
    """Objects in the backfill slices the ledger marks done; 0 before its tables exist."""
    engine = create_engine(ledger_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            query = text("SELECT coalesce(sum(count), 0) FROM backfill_slices")
            return int(conn.execute(query).scalar_one())
    except SQLAlchemyError:  # the backfill has not created the ledger yet
        return 0
    finally:
        engine.dispose()


def _interrupt(world: World, how: signal.Signals) -> str:
    """Start `stripe-cio backfill`, stop it with `how` once some slices are done; check that it
    exits 130 without a traceback and return its last line."""
    process = subprocess.Popen(
        [STRIPE_CIO, "backfill"],
        env={**world.env, "STRIPE_REQUESTS_PER_SECOND": SLOW_RPS},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a measurement
        while _objects_done(world.ledger_url) < INTERRUPT_AFTER_OBJECTS:
            assert process.poll() is None, "the backfill ended before it could be interrupted"
            assert time.monotonic() < deadline, "the backfill wrote no slice"
            time.sleep(0.1)
        process.send_signal(how)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, f"exit {process.returncode}\n{out}\n{err}"
    assert "Traceback" not in out + err, out + err
    assert not err.strip(), err
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return lines[-1]


def _stripe_requests(world: World) -> int:
    stats = httpx.get(f"{world.stripe.url}/_sandbox/stats", timeout=30).raise_for_status().json()
    return sum(stats["requests"].values())


def _run(world: World, *args: str) -> tuple[str, int]:
    """`stripe-cio ARGS`, which must succeed: its output and its Stripe requests."""
    before = _stripe_requests(world)
    result = world.cli(*args)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout, _stripe_requests(world) - before


def _counts(world: World) -> dict[str, int]:
    with world.ledger() as ledger:
        return {resource: ledger.count(resource) for resource in LEDGER_RESOURCES}


def test_ctrl_c_names_the_command_that_finishes_the_backfill(
    make_world: Callable[[], World],
) -> None:
    interrupted, clean = make_world(), make_world()
    last = _interrupt(interrupted, signal.SIGINT)

    said = LAST_LINE.match(last)
    assert said is not None, last
    _, resumed = _run(interrupted, *shlex.split(said["command"])[1:])
    _, whole = _run(clean, "backfill")
    assert _counts(interrupted) == _counts(clean)
    assert interrupted.people() == clean.people()
    assert len(clean.people()) > 0
    assert resumed < whole, "the resumed backfill read again what it had read"


@pytest.mark.parametrize("how", [signal.SIGTERM], ids=["SIGTERM"])
def test_a_plain_backfill_after_an_interruption_resumes_it(
    make_world: Callable[[], World], how: signal.Signals
) -> None:
    interrupted, clean = make_world(), make_world()
    said = LAST_LINE.match(_interrupt(interrupted, how))
    assert said is not None

    out, resumed = _run(interrupted, "backfill")
    assert f"resuming backfill run {said['run']} (" in out
    _, whole = _run(clean, "backfill")
    assert _counts(interrupted) == _counts(clean)
    assert resumed < whole, "the plain backfill read again what the interrupted one had read"
    with interrupted.ledger() as ledger, ledger.engine.connect() as conn:
        runs = conn.execute(text("SELECT run, completed_at FROM backfill_runs")).all()
    assert [run for run, _ in runs] == [said["run"]]
    assert all(completed is not None for _, completed in runs)
