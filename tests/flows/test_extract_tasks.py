"""The extraction tasks under Prefect's harness, against a Stripe sandbox on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from stripe_cio import LedgerSettings
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SandboxProcess
from tasks.extract import backfill_stripe, sync_stripe_events

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess("stripe", "--customers", "150", "--months", "4", "--rps", "1000") as box:
        yield box


@pytest.fixture
def env(stripe_sandbox: SandboxProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "ledger.db"
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_tasksSentinel0123")
    monkeypatch.setenv("STRIPE_API_BASE", stripe_sandbox.url)
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", "500")
    monkeypatch.setenv("STRIPE_CIO_DATABASE_URL", f"sqlite:///{database}")
    return database


def test_backfill_then_sync_fill_the_ledger_and_report_progress(env: Path) -> None:
    @flow
    async def extract() -> tuple[dict[str, Any], dict[str, Any]]:
        return await backfill_stripe(), await sync_stripe_events()

    backfilled, synced = asyncio.run(extract())
    ledger = Ledger.open(LedgerSettings.load({"database_url": f"sqlite:///{env}"}))
    try:
        charges = ledger.count("charges")
        assert charges > 0
        assert backfilled["resources"]["charges"]["objects"] == charges
        assert ledger.events_cursor() == synced["cursor_after"]
    finally:
        ledger.close()
    assert backfilled["rate_limited"] == 0
    assert backfilled["failed"] == []

    async def progress_artifacts() -> list[Any]:
        async with get_client() as client:
            return [a for a in await client.read_artifacts() if a.type == "progress"]

    assert any(a.data == 100.0 for a in asyncio.run(progress_artifacts()))


def test_a_refused_key_fails_at_once_without_task_retries(
    env: Path, monkeypatch: pytest.MonkeyPatch, stripe_sandbox: SandboxProcess
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_notAcceptedBySandbox1")

    @flow
    async def extract() -> dict[str, Any]:
        return await backfill_stripe()

    async def run() -> Any:
        return await extract(return_state=True)

    started = time.monotonic()
    state = asyncio.run(run())
    assert state.is_failed()
    assert "HTTP 401" in str(state.message) + repr(state.result(raise_on_failure=False))
    assert time.monotonic() - started < 20  # the 30 s task retry delay never ran
