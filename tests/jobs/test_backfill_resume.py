"""Which run a backfill reads, decided by the job whichever door opens it: an interrupted run
says how to resume it and keeps what it wrote; a plain backfill resumes the unfinished run; a
restart abandons it; an explicit run id wins; a different scope is refused, not guessed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from stripe_cio import ConfigError
from stripe_cio.jobs import PlainRunner, backfill_job
from stripe_cio.ledger import (
    LEDGER_RESOURCES,
    Ledger,
    backfill_progress,
    backfill_run,
    record_backfill_started,
    unfinished_backfills,
)
from stripe_cio.runs import RunSummary, run_lock
from tests.jobs._world import World

INTERRUPTED = re.compile(
    r"^interrupted: backfill run (?P<run>backfill-\d+) stopped with (?P<slices>\d+) slices and "
    r"[\d,]+ objects read, \d+ of (?P<resources>\d+) resources complete; "
    r"resume with: stripe-cio backfill --run (?P=run) --no-enrich$"
)
# Objects in the slices done when the test interrupts a run (of ~1,500; its first slices done
# are often the empty early years).
INTERRUPT_AFTER_OBJECTS = 20
# Charges pages after the first stay broken through the client's retries (seconds of backoff):
# the run cannot end before the test interrupts it, whatever the machine's speed.
STALLED_CHARGES = [{"path": "/v1/charges", "body": "html", "times": 10_000, "after": 1}]


class _Runner(PlainRunner):
    """The plain runner, keeping what the job tells the operator."""

    def __init__(self) -> None:
        super().__init__()
        self.said: list[str] = []

    def info(self, message: str) -> None:
        self.said.append(message)

    def warning(self, message: str) -> None:
        self.said.append(message)


@pytest.fixture
def slow_stripe(world: World) -> Iterator[World]:
    """The world; its Stripe account's faults cleared after the test (the account is shared)."""
    try:
        yield world
    finally:
        world.stripe.post("/_sandbox/config", json={"corrupt_pages": []}).raise_for_status()


def _interrupt(world: World, **options: Any) -> str:
    """Start a backfill (no enrich) and cancel it, as Ctrl-C does, once the ledger shows slices
    done with some objects while charges stall; return the line it ended with."""
    world.stripe.post("/_sandbox/config", json={"corrupt_pages": STALLED_CHARGES})

    async def main() -> _Runner:
        runner = _Runner()
        job = asyncio.create_task(
            backfill_job(world.connections(customerio=False), runner, enrich=False, **options)
        )
        with world.ledger() as ledger:
            while await asyncio.to_thread(_objects_done, ledger) < INTERRUPT_AFTER_OBJECTS:
                assert not job.done(), "the backfill ended before it could be interrupted"
                await asyncio.sleep(0.02)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        return runner

    runner = asyncio.run(main())
    world.stripe.post("/_sandbox/config", json={"corrupt_pages": []}).raise_for_status()
    assert runner.summaries == []  # an interrupted run did not end: no summary
    return runner.said[-1]


def _objects_done(ledger: Ledger) -> int:
    query = text("SELECT coalesce(sum(count), 0) FROM backfill_slices")
    with ledger.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _backfill(world: World, **options: Any) -> tuple[RunSummary, _Runner]:
    runner = _Runner()
    summary = asyncio.run(
        backfill_job(world.connections(customerio=False), runner, enrich=False, **options)
    )
    return summary, runner


def _counts(world: World) -> dict[str, int]:
    with world.ledger() as ledger:
        return {resource: ledger.count(resource) for resource in LEDGER_RESOURCES}


def _read(summary: RunSummary) -> int:
    return sum(n for what, n in summary.stripe.items() if what.endswith(" read"))


def test_an_interrupted_backfill_keeps_its_slices_releases_the_lock_and_says_how_to_resume(
    slow_stripe: World,
) -> None:
    line = _interrupt(slow_stripe)

    said = INTERRUPTED.match(line)
    assert said is not None, line
    run = said["run"]
    with slow_stripe.ledger() as ledger:
        [unfinished] = unfinished_backfills(ledger.engine)
        progress = backfill_progress(ledger.engine, unfinished)
        assert unfinished.run == run
        assert (progress.slices, progress.resources) == (int(said["slices"]), 10)
        assert 0 < progress.objects <= sum(_counts(slow_stripe).values())
        assert progress.resources_done < progress.resources
        # The lock died with the run: the next backfill may start.
        with run_lock(ledger.engine, "the next backfill", "backfill"):
            pass


def test_a_plain_backfill_resumes_the_unfinished_run_and_reads_only_what_is_missing(
    slow_stripe: World, tmp_path: Any
) -> None:
    run = INTERRUPTED.match(_interrupt(slow_stripe))["run"]  # type: ignore[index]

    resumed, runner = _backfill(slow_stripe)

    assert any(
        m.startswith(f"resuming backfill run {run} (") and m.endswith("starts a new read")
        for m in runner.said
    ), runner.said
    with slow_stripe.ledger() as ledger:
        assert unfinished_backfills(ledger.engine) == []
        recorded = backfill_run(ledger.engine, run)
        assert recorded is not None
        assert recorded.completed_at is not None
    clean = World(f"sqlite:///{tmp_path / 'clean.db'}", *_apis(slow_stripe))
    whole, _ = _backfill(clean)
    assert _counts(slow_stripe) == _counts(clean)
    assert _read(resumed) < _read(whole)


def test_restart_abandons_the_unfinished_runs_and_reads_everything_again(
    slow_stripe: World,
) -> None:
    run = INTERRUPTED.match(_interrupt(slow_stripe))["run"]  # type: ignore[index]
    with slow_stripe.ledger() as ledger:
        record_backfill_started(ledger.engine, "backfill-1000", since=0, t0=1000, resources=[])
    with pytest.raises(ConfigError, match=r"2 backfill runs are unfinished .*--restart"):
        _backfill(slow_stripe)

    restarted, runner = _backfill(slow_stripe, restart=True)

    assert any(m.startswith("abandoned unfinished backfill") for m in runner.said), runner.said
    with slow_stripe.ledger() as ledger:
        assert unfinished_backfills(ledger.engine) == []
        older = backfill_run(ledger.engine, "backfill-1000")
        assert older is not None
        assert older.abandoned_at is not None
        # Stripe's present has not moved: the new run has the old one's id, read again whole.
        new = backfill_run(ledger.engine, run)
        assert new is not None
        assert (new.completed_at is not None, new.abandoned_at) == (True, None)
    assert _read(restarted) == sum(_counts(slow_stripe).values())


def test_an_explicit_run_id_wins_over_the_other_unfinished_runs(slow_stripe: World) -> None:
    run = INTERRUPTED.match(_interrupt(slow_stripe))["run"]  # type: ignore[index]
    with slow_stripe.ledger() as ledger:
        record_backfill_started(ledger.engine, "backfill-1000", since=0, t0=1000, resources=[])

    _, runner = _backfill(slow_stripe, run=run)

    assert f"resuming backfill run {run} (" in "\n".join(runner.said)
    assert not any("--restart" in m for m in runner.said)  # it was named, not guessed
    with slow_stripe.ledger() as ledger:
        assert [r.run for r in unfinished_backfills(ledger.engine)] == ["backfill-1000"]


def test_the_unfinished_runs_scope_is_kept_and_a_different_one_is_refused(
    slow_stripe: World,
) -> None:
    since = slow_stripe.stripe_now() - 60 * 86_400
    scope = {"since": since, "resources": ["charges", "customers"]}
    run = INTERRUPTED.match(_interrupt(slow_stripe, **scope))["run"]  # type: ignore[index]

    with pytest.raises(ConfigError, match=rf"^since: backfill run {run} is unfinished .*--restart"):
        _backfill(slow_stripe, since=since - 1)
    with pytest.raises(ConfigError, match=r"^resources: .*reads resources charges,customers"):
        _backfill(slow_stripe, run=run, resources=["charges"])

    # Neither `run` nor a plain backfill needs the scope again: the ledger recorded it.
    resumed, _ = _backfill(slow_stripe, run=run)
    assert {what.removesuffix(" read") for what in resumed.stripe} == {"charges", "customers"}
    with slow_stripe.ledger() as ledger:
        recorded = backfill_run(ledger.engine, run)
        assert recorded is not None
        assert recorded.completed_at is not None
        assert (recorded.since, recorded.resources) == (since, ("charges", "customers"))


def test_a_run_id_and_restart_together_are_refused_before_anything(world: World) -> None:
    runner = _Runner()
    with pytest.raises(ConfigError, match=r"^restart: "):
        asyncio.run(backfill_job(world.connections(), runner, run="backfill-1", restart=True))
    assert (runner.steps, runner.said) == ([], [])


def _apis(world: World) -> tuple[str, str, Any, Any]:
    return world.stripe_url, world.cio_url, world.stripe, world.cio
