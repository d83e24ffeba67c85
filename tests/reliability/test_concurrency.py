"""Two sync-stripe-events runs started at the same moment against one ledger end as one run
would: one is refused by the ledger's push lock and ends Cancelled (or both complete, one after
the other); either way Customer.io holds the same people and events, nothing twice, and the
cursors are right (issue 9, parts 3 and 6). The real flow, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.schemas.objects import State

from flows.sync import sync_stripe_events
from stripe_cio.sandbox import SandboxProcess
from tests.reliability._crash._compare import Reference, assert_same_end_state
from tests.reliability._crash._harness import Account, PipelineRun
from tests.reliability._crash._pipeline import frozen_job_clocks
from tests.reliability._crash._zygote import Zygote

pytestmark = pytest.mark.prefect

ACCOUNT = Account(customers=120, months=2, rounds=2)  # the crash test's: one reference for both


async def two_syncs_at_once() -> list[State[Any]]:
    states: list[State[Any]] = await asyncio.gather(
        sync_stripe_events(return_state=True),
        sync_stripe_events(return_state=True),
    )
    return states


def test_two_syncs_started_together_end_as_one_run(
    zygote: Zygote,
    stripe_boxes: Any,
    reference_run: Callable[[Account], Reference],
    cio_box: SandboxProcess,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = reference_run(ACCOUNT)
    stripe_box = stripe_boxes.take(ACCOUNT)
    run = PipelineRun(zygote, ACCOUNT, stripe_box.url, cio_box.url, database_url, tmp_path)
    try:
        assert run.child("backfill")["status"] == "completed"
        run.advance()
        for name, value in run.env().items():
            monkeypatch.setenv(name, value)
        now = httpx.get(f"{stripe_box.url}/_sandbox/clock", timeout=30).json()["now"]
        with frozen_job_clocks(now):
            states = asyncio.run(two_syncs_at_once())
        # The next day's sync, as the uninterrupted run had it.
        run.advance()
        assert run.child("sync2")["status"] == "completed"
    finally:
        stripe_box.stop()
    outcomes = sorted(state.type.value for state in states)
    print(f"\ntwo syncs at once on {database_url.partition(':')[0]}: {outcomes}")
    assert outcomes in (["COMPLETED", "COMPLETED"], ["CANCELLED", "COMPLETED"]), [
        state.message for state in states
    ]
    for state in states:
        if state.is_cancelled():
            assert "another run is pushing from this ledger" in (state.message or "")
    assert_same_end_state(reference, cio_box.url, database_url)
