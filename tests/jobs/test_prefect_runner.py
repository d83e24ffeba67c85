"""What the Prefect door adds to a job, through the real flows under Prefect's harness: each step
a task run, retried only after a transient failure (a refused key fails at once), a progress
artifact for the backfill and the run's summary as a table artifact."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import State

from flows import backfill_history, enrich_profiles, sync_stripe_events
from stripe_cio.runs import RunSummary
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SANDBOX_STRIPE_KEY
from tests.jobs._world import World

pytestmark = pytest.mark.prefect


@pytest.fixture
def env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The flows take their connections from the environment (no blocks named)."""
    for name, value in {
        "STRIPE_API_KEY": SANDBOX_STRIPE_KEY,
        "STRIPE_API_BASE": world.stripe_url,
        "STRIPE_REQUESTS_PER_SECOND": "500",
        "CUSTOMERIO_SITE_ID": SANDBOX_CIO_SITE_ID,
        "CUSTOMERIO_API_KEY": SANDBOX_CIO_API_KEY,
        "CUSTOMERIO_TRACK_URL": world.cio_url,
        "STRIPE_CIO_DATABASE_URL": world.ledger_url,
    }.items():
        monkeypatch.setenv(name, value)
    return world


def final(run: Any) -> State[Any]:
    """Run a flow called with return_state=True to its final state."""

    async def wait() -> State[Any]:
        state: State[Any] = await run
        return state

    return asyncio.run(wait())


def task_runs(state: State[Any]) -> dict[str, int]:
    """The task runs of a flow run: name -> run_count (1: run once, never retried)."""
    flow_run_id: UUID | None = state.state_details.flow_run_id
    assert flow_run_id is not None

    async def read() -> dict[str, int]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
        return {run.name: run.run_count for run in runs}

    return asyncio.run(read())


def artifacts(state: State[Any]) -> list[Any]:
    """The artifacts of the run that ended in `state` (the harness holds every test's)."""
    flow_run_id: UUID | None = state.state_details.flow_run_id
    assert flow_run_id is not None

    async def read() -> list[Any]:
        async with get_client() as client:
            return list(
                await client.read_artifacts(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
                )
            )

    return asyncio.run(read())


def test_the_backfill_runs_its_step_as_a_task_with_progress_and_a_summary(env: World) -> None:
    state = final(backfill_history(enrich=False, return_state=True))

    assert state.is_completed()
    summary = state.result()
    assert isinstance(summary, RunSummary)
    assert summary.stripe["customers read"] > 0
    assert task_runs(state) == {"backfill-stripe": 1}
    found = artifacts(state)
    assert any(a.type == "progress" and a.data == 100.0 for a in found)
    [table] = [a for a in found if a.key == "backfill-history-summary"]
    assert table.description == summary.title
    assert f"{summary.stripe['customers read']:,}" in str(table.data)


def test_a_refused_stripe_key_fails_its_step_at_once_without_task_retries(
    env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_notAcceptedBySandbox1")

    state = final(sync_stripe_events(return_state=True))

    assert state.is_failed()
    assert "HTTP 401" in str(state.message) + repr(state.result(raise_on_failure=False))
    assert task_runs(state) == {"pull-stripe-events": 1}  # one attempt: no retry ran
    with env.ledger() as ledger:
        assert ledger.events_cursor() is None


def test_a_refused_customerio_key_fails_its_step_at_once_without_task_retries(
    env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert final(backfill_history(enrich=False, return_state=True)).is_completed()
    monkeypatch.setenv("CUSTOMERIO_API_KEY", "not-the-sandbox-key")

    state = final(enrich_profiles(return_state=True))

    assert state.is_failed()
    assert "HTTP 401" in str(state.message) + repr(state.result(raise_on_failure=False))
    assert task_runs(state) == {"compute-attributes": 1, "push-attributes": 1}
    requests = env.cio.get("/_sandbox/requests").raise_for_status().json()
    refused = sum(codes.get("401", 0) for codes in requests["by_endpoint"].values())
    assert refused == 1  # neither the client nor a task retry sent it again
    assert env.people() == {}
