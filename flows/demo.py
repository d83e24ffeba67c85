"""The demo's pipeline: backfill-history (with enrich-profiles), a day passes, sync-stripe-events.

`stripe-cio demo` starts the sandboxes and runs this module in a child process whose environment
points every setting at them (`python -m flows.demo STRIPE_SANDBOX_URL CUSTOMERIO_SANDBOX_URL`),
so that the engine's command line never imports Prefect.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.settings import PREFECT_UI_URL
from prefect.utilities.urls import url_for
from rich.console import Console
from rich.table import Table

from stripe_cio.runs import RunSummary

from .backfill import backfill_history
from .sync import sync_stripe_events

DAY = 86_400
EXAMPLES = 3
SANDBOX_WAIT = 180.0


def _summary(state: State[Any]) -> RunSummary:
    result = state.result()
    if not isinstance(result, RunSummary):
        raise TypeError(f"the flow returned {type(result).__name__}, not a RunSummary")
    return result


def _timed(
    console: Console,
    status: str,
    step: str,
    start: Callable[[], Any],
    steps: dict[str, float],
    runs: list[tuple[str, State[Any]]],
) -> RunSummary:
    """Run one flow under a status line, timed as `step` (whose first word is the flow's name),
    its state kept for the links the demo ends with."""
    started = time.monotonic()
    with console.status(status):
        state = asyncio.run(_run(start()))
    steps[step] = time.monotonic() - started
    runs.append((step.partition(" ")[0], state))
    return _summary(state)


def _counts_table(title: str, counts: dict[str, int], what: str) -> Table:
    table = Table(what, "count", title=title)
    for name, count in counts.items():
        table.add_row(name, f"{count:,}")
    return table


def _attributes_held(people: list[dict[str, Any]]) -> Counter[str]:
    held: Counter[str] = Counter()
    for person in people:
        held.update(person["attributes"].keys())
    return held


def _prepare(console: Console, urls: tuple[str, ...]) -> None:
    """Start Prefect (its temporary server, unless an API is configured), then wait for the
    sandboxes, which the parent process is starting meanwhile."""
    started = time.monotonic()
    with get_client(sync_client=True) as client:
        client.api_healthcheck()
    console.print(f"  Prefect API ready in {time.monotonic() - started:.1f}s")
    deadline = time.monotonic() + SANDBOX_WAIT
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/_sandbox/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the sandbox at {url} did not start in {SANDBOX_WAIT}s")
            time.sleep(0.2)


def run_pipeline(console: Console, stripe_url: str, cio_url: str) -> None:
    """Run the three steps against the sandboxes and print what reached Customer.io."""
    _prepare(console, (stripe_url, cio_url))
    steps: dict[str, float] = {}
    runs: list[tuple[str, State[Any]]] = []

    backfilled = _timed(
        console,
        "backfill-history: Stripe's history into the ledger, then enrich-profiles",
        "backfill-history (with enrich-profiles)",
        lambda: backfill_history(return_state=True),
        steps,
        runs,
    )
    pulled = {what.removesuffix(" read"): n for what, n in backfilled.stripe.items()}
    console.print(_counts_table("1. Stripe history read into the ledger", pulled, "resource"))
    console.print(
        f"2. enrich-profiles: {backfilled.persons_seen:,} persons, {backfilled.persons_sent:,} "
        f"accepted by Customer.io, {backfilled.dead_lettered:,} dead-lettered"
    )

    with httpx.Client(timeout=60) as http:
        moved = http.post(f"{stripe_url}/_sandbox/advance", json={"seconds": DAY})
        now = datetime.fromtimestamp(moved.raise_for_status().json()["now"], UTC)
        console.print(f"3. The Stripe sandbox's clock moved one day, to {now:%Y-%m-%d %H:%M} UTC")
        synced = _timed(
            console,
            "sync-stripe-events: the day's events, attributes, lifecycle events",
            "sync-stripe-events",
            lambda: sync_stripe_events(return_state=True),
            steps,
            runs,
        )
        people = http.get(f"{cio_url}/_sandbox/people").json()

    console.print(
        f"4. sync-stripe-events: {synced.stripe.get('events applied', 0):,} Stripe events "
        f"applied, {synced.persons_changed:,} persons' attributes changed, "
        f"{sum(synced.events_sent.values()):,} lifecycle events sent"
    )
    console.print(_counts_table("Lifecycle events sent", dict(synced.events_sent), "event"))
    held = _attributes_held(people)
    console.print(
        _counts_table(
            f"Attributes Customer.io holds ({len(people):,} persons)", dict(held), "attribute"
        )
    )
    for person in people[:EXAMPLES]:
        console.print(person["identifiers"], person["attributes"])

    table = Table("step", "seconds", title="How long each step took")
    for name, seconds in steps.items():
        table.add_row(name, f"{seconds:.1f}")
    for name, seconds in (backfilled.steps | synced.steps).items():
        table.add_row(f"  {name}", f"{seconds:.1f}")
    console.print(table)
    _where_to_look(console, runs)


async def _run(call: Any) -> State[Any]:
    state: State[Any] = await call
    return state


def _where_to_look(console: Console, runs: list[tuple[str, State[Any]]]) -> None:
    if PREFECT_UI_URL.value():
        for name, state in runs:
            url = url_for("flow-run", obj_id=state.state_details.flow_run_id)
            console.print(f"Open {name} in the Prefect UI: {url}")
        return
    home = os.environ.get("PREFECT_HOME", "~/.prefect")
    console.print(
        "The runs are in the local Prefect database. To open them in the Prefect UI:\n"
        f"  PREFECT_HOME={home} prefect server start\n"
        "  then browse http://127.0.0.1:4200/runs"
    )


if __name__ == "__main__":
    run_pipeline(Console(), sys.argv[1], sys.argv[2])
