"""The backfill runs the ledger records, so that an interrupted one can be found and resumed.

A run that a new read replaced (`backfill --restart`) is marked abandoned and no longer
offered; its progress is counted from the slices it marked done.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from .engine import write_transaction
from .events import table_insert
from .tables import table


@dataclass(frozen=True)
class BackfillRun:
    """One backfill run as recorded in `backfill_runs`."""

    run: str
    since: int
    t0: int
    resources: tuple[str, ...]
    started_at: int  # wall clock, Unix s, of its first attempt
    completed_at: int | None  # wall clock, Unix s; None while unfinished
    abandoned_at: int | None = None  # wall clock, Unix s: a new read replaced it


@dataclass(frozen=True)
class BackfillProgress:
    """How far a backfill run got, from the slices it marked done (in every attempt).

    Slices are cut as the run goes (a dense one is halved), so there is no fixed total of
    slices; the resources whose whole range is covered give a fixed denominator instead.
    """

    slices: int
    objects: int
    resources_done: int
    resources: int

    def __str__(self) -> str:
        return (
            f"{self.slices:,} slices and {self.objects:,} objects read, "
            f"{self.resources_done} of {self.resources} resources complete"
        )


def record_backfill_started(
    engine: Engine, run: str, *, since: int, t0: int, resources: Sequence[str]
) -> None:
    """Record that backfill `run` started (again): a resumed run keeps its first started_at."""
    with write_transaction(engine) as conn:
        ins = table_insert(conn, "backfill_runs")
        values = {"since": since, "t0": t0, "resources": ",".join(resources)}
        # A resumed run is unfinished again until it completes, and no longer abandoned if it
        # was (resuming it by its id says it is wanted); what it reads now counts.
        reopened = {**values, "completed_at": None, "abandoned_at": None}
        conn.execute(
            ins.values(run=run, started_at=int(time.time()), **reopened).on_conflict_do_update(
                index_elements=["run"], set_=reopened
            )
        )


def record_backfill_completed(engine: Engine, run: str, completed_at: int) -> None:
    """Record that backfill `run` read everything it set out to read."""
    runs = table("backfill_runs")
    with write_transaction(engine) as conn:
        conn.execute(runs.update().where(runs.c.run == run).values(completed_at=completed_at))


def _backfill_run(row: Any) -> BackfillRun:
    return BackfillRun(
        run=row.run,
        since=int(row.since),
        t0=int(row.t0),
        resources=tuple(name for name in row.resources.split(",") if name),
        started_at=int(row.started_at),
        completed_at=None if row.completed_at is None else int(row.completed_at),
        abandoned_at=None if row.abandoned_at is None else int(row.abandoned_at),
    )


def unfinished_backfills(engine: Engine) -> list[BackfillRun]:
    """The backfill runs started and neither completed nor abandoned, oldest first."""
    runs = table("backfill_runs")
    query = (
        select(runs)
        .where(runs.c.completed_at.is_(None), runs.c.abandoned_at.is_(None))
        .order_by(runs.c.started_at, runs.c.run)
    )
    with engine.connect() as conn:
        return [_backfill_run(row) for row in conn.execute(query)]


def backfill_run(engine: Engine, run: str) -> BackfillRun | None:
    """Backfill run `run` as recorded, or None when the ledger has no record of it."""
    runs = table("backfill_runs")
    with engine.connect() as conn:
        row = conn.execute(select(runs).where(runs.c.run == run)).first()
    return None if row is None else _backfill_run(row)


def abandon_backfills(engine: Engine, runs: Iterable[str], abandoned_at: int) -> None:
    """Mark the unfinished ones of `runs` abandoned: a new read replaced them. Their slices
    stay (resuming one by its id takes it up again); a completed run is left as it is."""
    names = sorted(set(runs))
    if not names:
        return
    table_ = table("backfill_runs")
    with write_transaction(engine) as conn:
        conn.execute(
            table_.update()
            .where(table_.c.run.in_(names), table_.c.completed_at.is_(None))
            .values(abandoned_at=abandoned_at)
        )


def forget_backfill_slices(engine: Engine, run: str) -> None:
    """Forget the slices backfill `run` marked done, so that it reads them all again."""
    slices = table("backfill_slices")
    with write_transaction(engine) as conn:
        conn.execute(slices.delete().where(slices.c.run == run))


def backfill_progress(engine: Engine, run: BackfillRun) -> BackfillProgress:
    """How far `run` got: its slices marked done, their objects, and the resources whose
    whole range `[since, t0]` those slices cover."""
    slices = table("backfill_slices")
    query = select(slices.c.resource, slices.c.start, slices.c.end, slices.c.count).where(
        slices.c.run == run.run
    )
    done: dict[str, list[tuple[int, int]]] = {}
    count = objects = 0
    with engine.connect() as conn:
        for resource, start, end, n in conn.execute(query):
            done.setdefault(resource, []).append((int(start), int(end)))
            count += 1
            objects += int(n)
    end = run.t0 + 1  # slices are [start, end) of `created`, T0 included
    complete = sum(_covers(done.get(name, []), run.since, end) for name in run.resources)
    return BackfillProgress(count, objects, complete, len(run.resources))


def _covers(ranges: Iterable[tuple[int, int]], start: int, end: int) -> bool:
    """Whether the `[a, b)` `ranges` together cover `[start, end)`."""
    position = start
    for a, b in sorted(ranges):
        if a > position:
            break
        position = max(position, b)
    return position >= end
