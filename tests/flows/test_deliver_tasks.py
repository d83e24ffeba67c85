"""The delivery tasks under Prefect's harness, against a Customer.io sandbox on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from stripe_cio import LedgerSettings
from stripe_cio.deliver import DeliveryStore, EventItem, PersonUpdate
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess
from tasks.deliver import push_events, push_person_updates, replay_customerio_dead_letters

pytestmark = pytest.mark.prefect

PEOPLE = [PersonUpdate({"id": f"cus_{i}"}, {"plan": "pro", "n": i}) for i in range(50)]
EVENTS = [
    EventItem({"id": f"cus_{i}"}, "stripe_invoice_paid", f"evt_{i}", 1_700_000_000 + i, {"i": i})
    for i in range(20)
]


@pytest.fixture(scope="module")
def cio_sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess("customerio", "--rps", "0") as box:
        yield box


@pytest.fixture
def env(cio_sandbox: SandboxProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    httpx.post(f"{cio_sandbox.url}/_sandbox/reset", timeout=30).raise_for_status()
    database = tmp_path / "ledger.db"
    monkeypatch.setenv("CUSTOMERIO_SITE_ID", SANDBOX_CIO_SITE_ID)
    monkeypatch.setenv("CUSTOMERIO_API_KEY", SANDBOX_CIO_API_KEY)
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL", cio_sandbox.url)
    monkeypatch.setenv("STRIPE_CIO_DATABASE_URL", f"sqlite:///{database}")
    return database


async def markdown_artifacts(key: str) -> list[Any]:
    async with get_client() as client:
        return [a for a in await client.read_artifacts() if a.key == key]


def test_updates_then_events_are_delivered_once_and_summarised(
    env: Path, cio_sandbox: SandboxProcess
) -> None:
    @flow
    async def sync() -> tuple[dict[str, Any], dict[str, Any]]:
        return await push_person_updates(PEOPLE), await push_events(EVENTS)

    people, events = asyncio.run(sync())
    assert (people["persons_delivered"], events["events_delivered"]) == (50, 20)
    again_people, again_events = asyncio.run(sync())
    assert (again_people["requests"], again_events["requests"]) == (0, 0)
    seen = httpx.get(f"{cio_sandbox.url}/_sandbox/events", timeout=30).json()
    assert len(seen) == 20
    assert asyncio.run(markdown_artifacts("customerio-person-updates-summary"))


def test_a_dry_run_publishes_a_preview_and_sends_nothing(
    env: Path, cio_sandbox: SandboxProcess
) -> None:
    @flow
    async def preview() -> dict[str, Any]:
        return await push_person_updates(PEOPLE, dry_run=True)

    summary = asyncio.run(preview())
    assert (summary["persons_created"], summary["requests"]) == (50, 0)
    assert httpx.get(f"{cio_sandbox.url}/_sandbox/requests", timeout=30).json()["total"] == 0
    (artifact, *_) = asyncio.run(markdown_artifacts("customerio-person-updates-preview"))
    assert "persons would be created | 50" in str(artifact.data)


def test_replay_task_resends_what_was_refused(env: Path, cio_sandbox: SandboxProcess) -> None:
    taken = PersonUpdate({"id": "a"}, {"email": "shared@example.com"})
    claim = PersonUpdate({"id": "b"}, {"email": "shared@example.com"})
    moved = PersonUpdate({"id": "a"}, {"email": "a@example.com"})

    @flow
    async def scenario() -> dict[str, Any]:
        await push_person_updates([taken])
        await push_person_updates([claim])
        await push_person_updates([moved])
        return await replay_customerio_dead_letters()

    replayed = asyncio.run(scenario())
    assert (replayed["persons_delivered"], replayed["dead_letters_resolved"]) == (1, 1)
    with Ledger.open(LedgerSettings(database_url=f"sqlite:///{env}")) as ledger:
        assert DeliveryStore.of(ledger).dead_letters() == []


def test_a_refused_key_fails_at_once_without_task_retries(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTOMERIO_API_KEY", "not-the-sandbox-key")

    @flow
    async def push() -> dict[str, Any]:
        return await push_person_updates(PEOPLE)

    async def run() -> Any:
        return await push(return_state=True)

    started = time.monotonic()
    state = asyncio.run(run())
    assert state.is_failed()
    assert "HTTP 401" in str(state.message) + repr(state.result(raise_on_failure=False))
    assert time.monotonic() - started < 20  # the 30 s task retry delay never ran
