"""The lifecycle task under Prefect's harness: a dry run, then the real run, then nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import get_client

from stripe_cio import LedgerSettings, StripeSettings
from stripe_cio.extract import sync_events
from stripe_cio.ledger import Ledger
from stripe_cio.sandbox import SANDBOX_CIO_API_KEY, SANDBOX_CIO_SITE_ID, SandboxProcess
from stripe_cio.stripe_api import StripeClient
from tasks.lifecycle import deliver_lifecycle_events

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def boxes() -> Iterator[tuple[SandboxProcess, SandboxProcess]]:
    with (
        SandboxProcess("stripe", "--customers", "80", "--months", "2", "--rps", "0") as stripe,
        SandboxProcess("customerio", "--rps", "0") as cio,
    ):
        yield stripe, cio


def test_the_task_previews_then_delivers_then_has_nothing_left(
    boxes: tuple[SandboxProcess, SandboxProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stripe_box, cio_box = boxes
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger.open(LedgerSettings(database_url=url))
    now = httpx.get(f"{stripe_box.url}/_sandbox/clock").json()["now"]

    async def sync() -> None:
        settings = StripeSettings(api_key="sk_test_task0000", api_base=stripe_box.url)
        async with StripeClient(settings) as client:
            await sync_events(client, ledger, since=now - 5 * 86_400)

    asyncio.run(sync())
    ledger.close()
    monkeypatch.setenv("STRIPE_CIO_DATABASE_URL", url)
    monkeypatch.setenv("CUSTOMERIO_SITE_ID", SANDBOX_CIO_SITE_ID)
    monkeypatch.setenv("CUSTOMERIO_API_KEY", SANDBOX_CIO_API_KEY)
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL", cio_box.url)
    monkeypatch.setenv("STRIPE_CIO_EVENT_NAMES", "invoice.paid=receipt")

    @flow
    async def lifecycle() -> list[dict[str, Any]]:
        preview = await deliver_lifecycle_events(dry_run=True)
        return [preview, await deliver_lifecycle_events(), await deliver_lifecycle_events()]

    preview, first, second = asyncio.run(lifecycle())
    assert preview["dry_run"]
    assert preview["delivery"]["events_new"] == first["delivery"]["events_delivered"] > 0
    assert first["items"]["receipt"] > 0
    assert "stripe_invoice_paid" not in first["items"]
    assert second["events_read"] == 0
    stored = httpx.get(f"{cio_box.url}/_sandbox/events").json()
    assert len(stored) == first["delivery"]["events_delivered"]

    async def artifacts() -> list[Any]:
        async with get_client() as client:
            return [a for a in await client.read_artifacts() if a.key == "lifecycle-events"]

    assert len(asyncio.run(artifacts())) >= 3
