"""Backfill against the sandbox over loopback: equal ledger, idempotence, resume, faults, auth."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from stripe_cio.extract import BACKFILL_RESOURCES, ExtractionStopped, backfill
from stripe_cio.sandbox import SandboxProcess

pytestmark = pytest.mark.anyio


def account(kit: Any, url: str) -> dict[str, dict[str, dict[str, Any]]]:
    """What the sandbox serves, per resource: id -> object (subscriptions incl. canceled)."""
    return {
        r.name: {o["id"]: o for o in kit.list_all(url, r.path, **dict(r.params))}
        for r in BACKFILL_RESOURCES
    }


def ledger_view(ledger: Any) -> dict[str, dict[str, dict[str, Any]]]:
    return {r.name: ledger.raw_objects(r.name) for r in BACKFILL_RESOURCES}


async def test_backfill_equals_the_account_and_rerunning_changes_nothing(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    expected = account(kit, sandbox.url)
    assert any(s["status"] == "canceled" for s in expected["subscriptions"].values())
    ledger = make_ledger()
    seen: list[tuple[str, int, float, float | None]] = []
    async with kit.client_for(sandbox.url) as client:
        summary = await backfill(
            client, ledger, progress=lambda *args: seen.append(args), initial_slices=3
        )
        assert summary.complete
        assert ledger_view(ledger) == expected
        assert ledger.build_missing_indexes() == []  # those set aside for the run are back
        for name, objects in expected.items():
            assert summary.resources[name].objects == len(objects)
            assert summary.resources[name].slices >= 1
        assert summary.rate_limited == 0
        assert {r for r, *_ in seen} == set(expected)
        assert seen[-1][1] == len(expected[seen[-1][0]])
        again = await backfill(client, ledger)  # a new run, a new T0: reads and changes nothing
    assert again.complete
    assert ledger_view(ledger) == expected


class FailingLedger:
    """Passes calls to `inner` but fails the `fail_at`-th write (of objects or of a slice mark),
    as a full disk would. Marks count too: the writer merges a fast run's pages into few calls."""

    def __init__(self, inner: Any, fail_at: int) -> None:
        self.inner, self.fail_at, self.writes = inner, fail_at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write_objects(self, *args: Any, **kwargs: Any) -> Any:
        self.writes += 1
        if self.writes == self.fail_at:
            raise RuntimeError("disk full")
        return self.inner.write_objects(*args, **kwargs)

    def mark_slice_done(self, *args: Any) -> Any:
        self.writes += 1
        if self.writes == self.fail_at:
            raise RuntimeError("disk full")
        return self.inner.mark_slice_done(*args)


def recorder(client: Any) -> list[httpx.Request]:
    requests: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        requests.append(request)

    client._http.event_hooks["request"].append(record)
    return requests


def assert_outside(requests: list[httpx.Request], done: list[tuple[int, int]]) -> None:
    """No request reads inside a range that an earlier attempt completed."""
    for request in requests:
        low = int(request.url.params["created[gte]"])
        high = int(request.url.params["created[lt]"])
        assert not any(a <= low and high <= b for a, b in done), (low, high)


async def test_an_interrupted_backfill_resumes_without_rereading_completed_slices(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    ledger = make_ledger()
    opts: dict[str, Any] = {"resources": ["charges"], "workers": 2, "initial_slices": 8}
    async with kit.client_for(sandbox.url) as client:
        full = await backfill(client, make_ledger(), **opts)
        with pytest.raises(RuntimeError, match="disk full"):
            await backfill(client, FailingLedger(ledger, fail_at=4), run=full.run, **opts)
        assert ledger.build_missing_indexes() == []  # built again after the failure too
        done = ledger.completed_slices("charges", full.run)
        assert done, "some slices completed before the failure"
        requests = recorder(client)
        resumed = await backfill(client, ledger, run=full.run, **opts)
    assert resumed.complete
    assert resumed.t0 == full.t0  # the run id carries T0
    assert resumed.resources["charges"].skipped == len(done)
    assert resumed.requests == len(requests) < full.requests
    assert_outside(requests, done)
    assert ledger.raw_objects("charges") == account(kit, sandbox.url)["charges"]


async def test_a_cancelled_backfill_resumes_where_it_stopped(kit: Any) -> None:
    charges = [{"id": f"ch_{i:05d}", "created": 1000 + i * 7} for i in range(5000)]
    transport = httpx.MockTransport(kit.list_api({"/v1/charges": charges}))
    ledger = kit.FakeLedger()
    opts: dict[str, Any] = {"run": "backfill-40000", "resources": ["charges"], "workers": 4}
    async with kit.client_for("http://127.0.0.1:9", transport, rps=100) as client:
        job = asyncio.create_task(backfill(client, ledger, **opts))
        # Polls the ledger (no event to wait for): a few slices must be done before the cancel.
        while len(ledger.completed_slices("charges", "backfill-40000")) < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        assert not job.done()
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        done = ledger.completed_slices("charges", "backfill-40000")
        assert done
        requests = recorder(client)
        resumed = await backfill(client, ledger, **opts)
    assert resumed.complete
    assert_outside(requests, done)
    assert resumed.requests < 50 + 10
    assert ledger.raw_objects("charges") == {c["id"]: c for c in charges}


async def test_faults_still_yield_an_identical_ledger(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    expected = account(kit, sandbox.url)
    ledger = make_ledger()
    faults = {"fail_rate": 0.2, "drop_rate": 0.05}
    await kit.control(sandbox.url, "config", faults)
    try:
        async with kit.client_for(sandbox.url) as client:
            summary = await backfill(client, ledger)
    finally:
        await kit.control(sandbox.url, "config", {"fail_rate": 0, "drop_rate": 0})
    assert summary.complete, summary.failed
    assert summary.server_errors > 0
    assert summary.transport_errors > 0
    assert ledger_view(ledger) == expected


async def test_a_rejected_key_stops_the_run_naming_the_resource(
    kit: Any, sandbox: SandboxProcess, make_ledger: Any
) -> None:
    # The sandbox answers 401 to a key it does not accept (here: too short to be a real key).
    async with kit.client_for(sandbox.url, key="sk_test_short") as client:
        with pytest.raises(
            ExtractionStopped, match=r"rejected the secret \(sk_\) key while reading"
        ):
            await backfill(client, make_ledger(), t0=2_000_000_000)
        assert client.stats.requests <= 16  # one refused request per worker at most


async def test_a_restricted_key_without_permission_stops_the_whole_run(
    kit: Any, make_ledger: Any
) -> None:
    objects = {"/v1/customers": [{"id": f"cus_{i}", "created": i} for i in range(300)]}

    def forbid_charges(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/v1/charges":
            return None
        error = {
            "error": {
                "type": "invalid_request_error",
                "message": "The provided key "
                "'rk_test_***abc' does not have the required permissions for this endpoint. "
                "Having the 'rak_charge_read' permission would allow this request to continue.",
            }
        }
        return httpx.Response(403, json=error)

    transport = httpx.MockTransport(kit.list_api(objects, forbid_charges))
    async with kit.client_for("http://127.0.0.1:9", transport, key="rk_test_limited0000") as client:
        with pytest.raises(ExtractionStopped) as caught:
            await backfill(client, make_ledger(), t0=1000, resources=["customers", "charges"])
    message = str(caught.value)
    assert "rk_ key lacks read permission on charges" in message
    assert "'Charges'" in message
    assert "rak_charge_read" in message


async def test_a_window_that_keeps_answering_html_fails_alone(kit: Any, make_ledger: Any) -> None:
    charges: list[dict[str, Any]] = [{"id": f"ch_{i:04d}", "created": i * 10} for i in range(1000)]

    def broken_window(request: httpx.Request) -> httpx.Response | None:
        params = request.url.params
        if params.get("created[gte]") == "0" and params.get("created[lt]"):
            return httpx.Response(200, content=b"<html>oops</html>")
        return None

    transport = httpx.MockTransport(kit.list_api({"/v1/charges": charges}, broken_window))
    ledger = make_ledger()
    async with kit.client_for("http://127.0.0.1:9", transport) as client:
        summary = await backfill(client, ledger, t0=9999, resources=["charges"], initial_slices=4)
    assert [(f.resource, f.start) for f in summary.failed] == [("charges", 0)]
    assert "charges" in summary.failed[0].error or "/v1/charges" in summary.failed[0].error
    failed = summary.failed[0]
    inside = [c for c in charges if failed.start <= c["created"] < failed.end]
    assert summary.resources["charges"].objects == len(charges) - len(inside)
