"""Incremental sync by events against the sandbox: new changes, overlap, late events, the gap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from stripe_cio.extract import BACKFILL_RESOURCES, backfill, sync_events
from stripe_cio.sandbox import SandboxProcess
from stripe_cio.sandbox.stripe_server import build_app

pytestmark = pytest.mark.anyio
DAY = 86_400


@pytest.fixture(scope="module")
def live() -> Iterator[SandboxProcess]:
    """A sandbox of this module's own: its clock is advanced."""
    with SandboxProcess("stripe", "--customers", "120", "--months", "3", "--rps", "0") as server:
        yield server


def account(kit: Any, url: str) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        r.name: {o["id"]: o for o in kit.list_all(url, r.path, **dict(r.params))}
        for r in BACKFILL_RESOURCES
    }


def ledger_view(ledger: Any) -> dict[str, dict[str, dict[str, Any]]]:
    return {r.name: ledger.raw_objects(r.name) for r in BACKFILL_RESOURCES}


def without_silent_fields(view: dict[str, dict[str, dict[str, Any]]]) -> Any:
    """The view minus fields that change without an event: the sandbox bumps a customer's
    `next_invoice_sequence` when it invoices them but sends no `customer.updated` (as Stripe
    does not either), so only a backfill can see that change."""
    return {
        name: {
            oid: {k: v for k, v in obj.items() if k != "next_invoice_sequence"}
            for oid, obj in objects.items()
        }
        for name, objects in view.items()
    }


async def test_sync_after_advance_picks_up_exactly_the_new_changes(
    kit: Any, live: SandboxProcess, make_ledger: Any
) -> None:
    ledger = make_ledger()
    async with kit.client_for(live.url) as client:
        first = await backfill(client, ledger)
        start = await sync_events(client, ledger, since=first.t0 - 600)
        assert start.cursor_after is not None
        assert start.cursor_after >= first.t0
        before = account(kit, live.url)
        assert ledger_view(ledger) == before
        await kit.control(live.url, "advance", {"seconds": DAY})
        after = account(kit, live.url)
        synced = await sync_events(client, ledger)
        assert synced.applied > 0
        assert without_silent_fields(ledger_view(ledger)) == without_silent_fields(after)
        # Among the changes: objects created long before the overlap window.
        old_changed = [
            (name, oid)
            for name, objects in after.items()
            for oid, obj in objects.items()
            if oid in before[name] and before[name][oid] != obj and obj["created"] < first.t0 - 600
        ]
        assert old_changed
        again = await sync_events(client, ledger)  # re-running changes nothing
    assert again.applied == 0
    assert again.duplicates >= 1  # the overlap window was listed again and skipped
    assert without_silent_fields(ledger_view(ledger)) == without_silent_fields(after)


async def test_a_cursor_past_thirty_days_runs_a_gap_backfill(
    kit: Any, live: SandboxProcess, make_ledger: Any
) -> None:
    ledger = make_ledger()
    now = (await kit.control(live.url, "clock"))["now"]
    ledger.set_events_cursor(now - 31 * DAY)
    async with kit.client_for(live.url) as client:
        summary = await sync_events(client, ledger)
    assert any(
        "past Stripe's 30-day retention; running a backfill of the gap" in m
        for m in summary.messages
    )
    assert summary.gap_backfill is not None
    assert summary.gap_backfill.complete
    assert summary.start == summary.gap_backfill.t0 - 600
    assert summary.cursor_after is not None
    assert summary.cursor_after >= summary.gap_backfill.t0
    assert without_silent_fields(ledger_view(ledger)) == without_silent_fields(
        account(kit, live.url)
    )


def _customer(cid: str, created: int, name: str) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "customer",
        "created": created,
        "livemode": False,
        "email": f"{cid}@example.com",
        "name": name,
        "metadata": {},
    }


def _event(eid: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": eid,
        "object": "event",
        "created": created,
        "type": "customer.updated",
        "livemode": False,
        "api_version": "2026-10-28.endive",
        "data": {"object": obj},
    }


async def test_events_that_turn_up_late_inside_the_overlap_are_not_lost(
    kit: Any, tmp_path: Path, make_ledger: Any
) -> None:
    now = 1_800_000_000
    old = _customer("cus_late", now - 40 * DAY, "Before")
    on_time = _event("evt_on_time", now - 100, _customer("cus_other", now - 200, "Other"))
    late = _event("evt_late", now - 160, {**old, "name": "Renamed"})  # created before the cursor
    ledger = make_ledger()

    async def sync_against(events: list[dict[str, Any]]) -> Any:
        path = tmp_path / f"fixtures{len(events)}.json"
        path.write_bytes(orjson.dumps({"customers": [old], "events": events}))
        app = build_app(fixtures=path, now=now, rps=None)
        transport = httpx.ASGITransport(app=app)
        async with kit.client_for("http://127.0.0.1:9", transport) as client:
            return await sync_events(client, ledger, since=now - 3600)

    first = await sync_against([on_time])
    assert first.applied == 1
    assert first.cursor_after == now - 100
    second = await sync_against([on_time, late])  # evt_late became visible only now
    assert second.applied == 1
    assert second.duplicates == 1
    assert ledger.raw_objects("customers")["cus_late"]["name"] == "Renamed"
    assert ledger.events_cursor() == now - 100  # never moves backwards
