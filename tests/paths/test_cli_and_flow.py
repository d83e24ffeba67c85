"""One job, two doors: the Prefect flow and the CLI command of the same job leave identical
ledgers and Customer.io workspaces."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from prefect.client.schemas.objects import State
from sqlalchemy import text

from flows import backfill_history, sync_stripe_events
from stripe_cio.ledger import LEDGER_RESOURCES
from tests.paths._world import DAY, World

pytestmark = pytest.mark.prefect


def _ledger_state(world: World) -> dict[str, Any]:
    """Every ledger object and processed event id, and the cursors."""
    with world.ledger() as ledger, ledger.engine.connect() as conn:
        state: dict[str, Any] = {
            resource: sorted(ledger.raw_objects(resource).items()) for resource in LEDGER_RESOURCES
        }
        state["processed_events"] = sorted(
            conn.execute(text("SELECT id FROM processed_events")).scalars()
        )
        state["events_cursor"] = ledger.events_cursor()
    return state


def _run_flow(world: World, monkeypatch: pytest.MonkeyPatch, flow: Any) -> None:
    for name, value in world.env.items():
        if name.startswith(("STRIPE_", "CUSTOMERIO_")):
            monkeypatch.setenv(name, value)
    state: State[Any] = asyncio.run(flow(return_state=True))
    assert state.is_completed(), state.message


def _cli(world: World, *args: str) -> None:
    result = world.cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def _events(world: World) -> list[tuple[str, str, Any]]:
    return sorted((e["id"], e["name"], e["data"]) for e in world.cio_events())


def test_flow_and_cli_leave_identical_states(
    make_world: Callable[[], World], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_flow, by_cli = make_world(), make_world()
    _run_flow(by_flow, monkeypatch, backfill_history)
    _cli(by_cli, "backfill")
    assert by_flow.people() == by_cli.people()
    assert len(by_cli.people()) > 0
    assert _ledger_state(by_flow) == _ledger_state(by_cli)

    by_flow.advance(DAY)  # one Stripe account: both worlds see the same day
    _run_flow(by_flow, monkeypatch, sync_stripe_events)
    _cli(by_cli, "sync")
    assert by_flow.people() == by_cli.people()
    assert _events(by_flow) == _events(by_cli)
    assert len(_events(by_cli)) > 0
    assert _ledger_state(by_flow) == _ledger_state(by_cli)
