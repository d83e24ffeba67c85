"""The flows end to end under Prefect's harness, against both sandboxes on loopback."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import State
from typer.testing import CliRunner

from blocks import CustomerIOCredentials
from cli import app as engine_cli
from flows import backfill_history, enrich_profiles, replay_dead_letters, sync_stripe_events
from stripe_cio import ConfigError, LedgerSettings
from stripe_cio.attributes import attribute_dicts, compute_attributes, load_frames
from stripe_cio.ledger import Ledger
from stripe_cio.runs import RunInProgressError, RunSummary, run_lock
from stripe_cio.sandbox import (
    SANDBOX_CIO_API_KEY,
    SANDBOX_CIO_SITE_ID,
    SANDBOX_STRIPE_KEY,
    SandboxProcess,
)
from tests._sandbox import NO_FAULTS
from tests._webhook import Webhook

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def stripe_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("stripe", "--customers", "120", "--months", "6", "--rps", "0") as box:
        yield box


@pytest.fixture(scope="module")
def cio_box() -> Iterator[SandboxProcess]:
    with SandboxProcess("customerio", "--rps", "0") as box:
        yield box


@dataclass
class Pipeline:
    """One test's world: a fresh ledger, a reset Customer.io workspace, the same Stripe account."""

    ledger_url: str
    stripe: httpx.Client
    cio: httpx.Client

    def ledger(self) -> Ledger:
        return Ledger.open(LedgerSettings.load({"database_url": self.ledger_url}))

    def stripe_now(self) -> datetime:
        now = self.stripe.get("/_sandbox/clock").raise_for_status().json()["now"]
        return datetime.fromtimestamp(now, UTC)

    def people(self) -> dict[str, dict[str, Any]]:
        people = self.cio.get("/_sandbox/people").raise_for_status().json()
        return {p["identifiers"]["email"]: p["attributes"] for p in people}

    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.cio.get("/_sandbox/events").raise_for_status().json()
        return [event for event in events if event["type"] == "event"]

    def processed_event_ids(self) -> set[str]:
        with self.ledger() as ledger, ledger.engine.connect() as conn:
            return set(conn.exec_driver_sql("SELECT id FROM processed_events").scalars())

    def refused_requests(self) -> int:
        requests = self.cio.get("/_sandbox/requests").raise_for_status().json()
        return sum(codes.get("401", 0) for codes in requests["by_endpoint"].values())

    def batch_requests(self) -> int:
        requests = self.cio.get("/_sandbox/requests").raise_for_status().json()
        return sum(requests["by_endpoint"].get("/api/v2/batch", {}).values())


@pytest.fixture
def pipeline(
    stripe_box: SandboxProcess,
    cio_box: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    for name, value in {
        "STRIPE_API_KEY": SANDBOX_STRIPE_KEY,
        "STRIPE_API_BASE": stripe_box.url,
        "STRIPE_REQUESTS_PER_SECOND": "500",
        "CUSTOMERIO_SITE_ID": SANDBOX_CIO_SITE_ID,
        "CUSTOMERIO_API_KEY": SANDBOX_CIO_API_KEY,
        "CUSTOMERIO_TRACK_URL": cio_box.url,
        "STRIPE_CIO_DATABASE_URL": ledger_url,
    }.items():
        monkeypatch.setenv(name, value)
    with (
        httpx.Client(base_url=stripe_box.url, timeout=30) as stripe,
        httpx.Client(base_url=cio_box.url, timeout=30) as cio,
    ):
        cio.post("/_sandbox/reset").raise_for_status()
        cio.post("/_sandbox/config", json={**NO_FAULTS, "region": "us"}).raise_for_status()
        yield Pipeline(ledger_url, stripe, cio)


def state_of(run: Awaitable[State[Any]]) -> State[Any]:
    """Run a flow called with return_state=True to its final state."""

    async def wait() -> State[Any]:
        return await run

    return asyncio.run(wait())


def expected_attributes(pipeline: Pipeline, as_of: datetime) -> dict[str, dict[str, Any]]:
    """What the attribute engine computes from the ledger, as JSON would carry it."""
    with pipeline.ledger() as ledger:
        result = compute_attributes(load_frames(ledger.engine), int(as_of.timestamp()))
    return {
        person: orjson.loads(orjson.dumps(a)) for person, a in attribute_dicts(result.attributes)
    }


def test_nightly_flow_leaves_customerio_equal_to_the_attribute_engine(pipeline: Pipeline) -> None:
    backfilled = asyncio.run(backfill_history(enrich=False))
    assert isinstance(backfilled, RunSummary)
    assert backfilled.stripe["customers read"] > 0
    as_of = pipeline.stripe_now()

    summary = asyncio.run(enrich_profiles(as_of=as_of))
    assert isinstance(summary, RunSummary)
    expected = expected_attributes(pipeline, as_of)
    assert len(expected) > 50
    assert pipeline.people() == expected
    assert summary.persons_seen == len(expected)
    assert summary.persons_changed == summary.persons_sent == len(expected)
    assert summary.dead_lettered == 0
    assert set(summary.steps) == {"compute attributes", "push attributes"}

    # A second night over the same ledger finds nothing to send.
    requests = pipeline.batch_requests()
    again = asyncio.run(enrich_profiles(as_of=as_of))
    assert isinstance(again, RunSummary)
    assert again.persons_changed == 0
    assert pipeline.batch_requests() == requests
    assert pipeline.people() == expected


def test_the_nightly_flow_in_partitions_as_task_runs_sends_what_one_pass_does(
    pipeline: Pipeline,
) -> None:
    asyncio.run(backfill_history(enrich=False))
    as_of = pipeline.stripe_now()
    summary = asyncio.run(enrich_profiles(as_of=as_of, partitions=3, partition_concurrency=2))
    assert isinstance(summary, RunSummary)
    expected = expected_attributes(pipeline, as_of)
    assert pipeline.people() == expected
    assert summary.persons_sent == len(expected)
    assert set(summary.steps) == {"read into partitions", "compute attributes", "push attributes"}
    # Nothing left to send by a single pass afterwards.
    again = asyncio.run(enrich_profiles(as_of=as_of))
    assert isinstance(again, RunSummary)
    assert again.persons_changed == 0


def test_dry_run_sends_nothing_and_limit_takes_the_first_persons(pipeline: Pipeline) -> None:
    asyncio.run(backfill_history(enrich=False))
    as_of = pipeline.stripe_now()
    preview = asyncio.run(enrich_profiles(as_of=as_of, dry_run=True))
    assert isinstance(preview, RunSummary)
    expected = expected_attributes(pipeline, as_of)
    assert preview.persons_changed == len(expected)
    assert preview.persons_sent == 0
    assert pipeline.batch_requests() == 0
    assert pipeline.people() == {}

    limited = asyncio.run(enrich_profiles(as_of=as_of, limit=10))
    assert isinstance(limited, RunSummary)
    first = dict(sorted(expected.items())[:10])
    assert pipeline.people() == first
    assert limited.skipped["persons beyond the limit"] == len(expected) - 10


def test_a_wrong_customerio_key_fails_at_once_and_notifies_once(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = Webhook()
    hook.thread.start()
    try:
        CustomWebhookNotificationBlock(
            name="flows", url=hook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        ).save("flows-ops", overwrite=True)
        monkeypatch.setenv("CUSTOMERIO_API_KEY", "not-the-sandbox-key-0123")
        # The backfill checks the Customer.io credentials before it reads Stripe for an hour.
        state = state_of(backfill_history(notify_block=ops_block("flows-ops"), return_state=True))
        [message] = hook.wait_for(1, 10)
        time.sleep(1)  # a second message (say, from the enrich step) would have arrived by now
        assert len(hook.received) == 1
    finally:
        hook.stop()
    assert state.is_failed()
    # One request met the 401: neither the client nor a Prefect task retry sent it again.
    assert pipeline.refused_requests() == 1
    assert message["subject"].startswith("stripe-cio: backfill-history run '")
    assert "CustomerIOAuthError" in message["body"]
    with pipeline.ledger() as ledger:
        assert ledger.count("customers") == 0  # it failed before reading anything
    assert "not-the-sandbox-key-0123" not in message["body"]
    assert pipeline.people() == {}


def ops_block(name: str) -> CustomWebhookNotificationBlock:
    """A saved notification block, as a flow's `notify_block` parameter takes it."""
    block = CustomWebhookNotificationBlock.load(name)
    assert isinstance(block, CustomWebhookNotificationBlock)
    return block


def artifacts_of(state: State[Any]) -> list[Any]:
    """The artifacts of the run that ended in `state`."""

    async def read() -> list[Any]:
        async with get_client() as client:
            return list(
                await client.read_artifacts(
                    flow_run_filter=FlowRunFilter(
                        id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                    )
                )
            )

    return asyncio.run(read())


async def _task_runs(flow_run_id: Any) -> list[Any]:
    async with get_client() as client:
        return await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


def test_a_region_mismatch_fails_the_run_at_once_with_its_line_and_no_retry(
    pipeline: Pipeline,
) -> None:
    asyncio.run(backfill_history(enrich=False))
    pipeline.cio.post("/_sandbox/config", json={"region": "eu"}).raise_for_status()
    # The nightly run meets the mismatch in its push step, which retries what is transient.
    state = state_of(enrich_profiles(return_state=True))
    assert state.is_failed()
    # The run's message is the one line the CLI prints, not a wrapped exception.
    assert str(state.message).startswith(
        f"the Customer.io workspace of site id {SANDBOX_CIO_SITE_ID!r} is in region 'eu'"
    )
    assert "CUSTOMERIO_REGION=eu" in str(state.message)
    # A permanent error: no step was run twice (Prefect used to retry it for over a minute).
    runs = asyncio.run(_task_runs(state.state_details.flow_run_id))
    assert runs
    assert max(run.run_count for run in runs) == 1
    assert pipeline.people() == {}


def test_a_wrong_key_in_a_block_fails_naming_the_block_and_step_in_summary_and_message(
    pipeline: Pipeline,
) -> None:
    asyncio.run(backfill_history(enrich=False))
    wrong_key = "wrong-key-in-a-block-0123"
    track_url = str(pipeline.cio.base_url).rstrip("/")
    CustomerIOCredentials(
        site_id=SANDBOX_CIO_SITE_ID, api_key=wrong_key, track_url=track_url
    ).save_sync("flows-wrong", overwrite=True)
    hook = Webhook()
    hook.thread.start()
    try:
        CustomWebhookNotificationBlock(
            name="flows", url=hook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        ).save("flows-ops", overwrite=True)
        block = CustomerIOCredentials.load_sync("flows-wrong")
        state = state_of(
            enrich_profiles(
                customerio_credentials=block,
                notify_block=ops_block("flows-ops"),
                return_state=True,
            )
        )
        [message] = hook.wait_for(1, 10)
    finally:
        hook.stop()
    assert state.is_failed()
    named = "the CustomerIOCredentials block 'flows-wrong'"
    # The state message leads with the one line: what was refused, from where, what to do.
    assert str(state.message).startswith(f"Customer.io refused the key or region from {named}")
    [summary] = [a for a in artifacts_of(state) if a.key == "enrich-profiles-summary"]
    rows = {row["what"]: row["count"] for row in orjson.loads(summary.data)}
    assert rows["failed"] == "in step push attributes"
    assert rows["why, and what to do"] == str(state.message)
    assert rows["credentials: Customer.io"] == named
    assert named in message["body"]
    assert "push-attributes" in message["body"]
    # `status`, even on a narrow terminal, shows the failed run and its reason.
    shown = CliRunner().invoke(engine_cli, ["status", "--runs", "1"], terminal_width=70)
    assert shown.exit_code == 0, shown.output
    assert "Failed" in shown.output
    assert f"failed: Customer.io refused the key or region from {named}" in shown.output
    for text in (str(state.message), summary.data, message["body"], shown.output):
        assert wrong_key not in text


def test_a_block_named_on_the_command_line_that_does_not_exist_is_one_line(
    pipeline: Pipeline,
) -> None:
    shown = CliRunner().invoke(engine_cli, ["enrich", "--customerio-block", "no-such-block"])
    assert isinstance(shown.exception, ConfigError)
    assert str(shown.exception).startswith(
        "--customerio-block: there is no CustomerIOCredentials block named 'no-such-block'"
    )
    assert pipeline.batch_requests() == 0


def test_the_flows_take_credential_blocks_and_the_cli_takes_their_names(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same blocks through both doors: a block instance for the flow, its name for the CLI;
    the environment's wrong key is not used by either."""
    CustomerIOCredentials(
        site_id=SANDBOX_CIO_SITE_ID,
        api_key=SANDBOX_CIO_API_KEY,
        track_url=str(pipeline.cio.base_url).rstrip("/"),
    ).save_sync("flows-cio", overwrite=True)
    monkeypatch.setenv("CUSTOMERIO_API_KEY", "not-the-sandbox-key-0123")
    asyncio.run(backfill_history(enrich=False))
    block = CustomerIOCredentials.load_sync("flows-cio")
    state = state_of(enrich_profiles(customerio_credentials=block, return_state=True))
    assert state.is_completed(), state.message
    assert pipeline.people()
    shown = CliRunner().invoke(engine_cli, ["enrich", "--customerio-block", "flows-cio"])
    assert shown.exit_code == 0, shown.output
    assert pipeline.refused_requests() == 0


def test_a_second_overlapping_run_is_refused(pipeline: Pipeline) -> None:
    asyncio.run(backfill_history(enrich=False))
    with pipeline.ledger() as ledger, run_lock(ledger.engine, "a nightly run started first"):
        state = state_of(enrich_profiles(return_state=True))
        replayed = state_of(replay_dead_letters(return_state=True))
    assert state.is_cancelled()
    assert "a nightly run started first" in str(state.message)
    assert isinstance(state.result(raise_on_failure=False), RunInProgressError)
    assert replayed.is_cancelled()
    assert pipeline.batch_requests() == 0
    # Once the first run is over, the lock is free again.
    assert isinstance(asyncio.run(enrich_profiles(limit=1)), RunSummary)


def test_events_flow_delivers_each_lifecycle_event_once(pipeline: Pipeline) -> None:
    asyncio.run(backfill_history())
    first = asyncio.run(sync_stripe_events())  # backfilled history is not sent as events
    assert isinstance(first, RunSummary)
    before = pipeline.events()
    day_start = int(pipeline.stripe_now().timestamp())
    pipeline.stripe.post("/_sandbox/advance", json={"seconds": 86_400}).raise_for_status()

    synced = asyncio.run(sync_stripe_events())
    assert isinstance(synced, RunSummary)
    new = pipeline.events()[len(before) :]
    ids = [event["id"] for event in new]
    assert len(ids) == len(set(ids)) > 10
    assert Counter(event["name"] for event in new) == synced.events_sent
    assert {e["data"]["stripe_event_id"] for e in new} <= pipeline.processed_event_ids()
    assert synced.events_delivered == len(new)
    assert synced.stripe["events applied"] > 0

    # The persons who bought during the day now hold the attribute engine's figures.
    with pipeline.ledger() as ledger:
        cursor = ledger.events_cursor()
    assert cursor is not None
    expected = expected_attributes(pipeline, datetime.fromtimestamp(cursor, UTC))
    buyers = {p for p, a in expected.items() if a.get("stripe_last_purchase_at", 0) > day_start}
    assert buyers
    people = pipeline.people()
    assert {p: people[p] for p in buyers} == {p: expected[p] for p in buyers}
    assert 0 < synced.persons_seen < len(expected)  # only the persons the events touched

    again = asyncio.run(sync_stripe_events())
    assert isinstance(again, RunSummary)
    assert pipeline.events()[len(before) :] == new
    assert sum(again.events_sent.values()) == 0
    assert again.persons_seen == 0  # no new event: no attribute was computed or compared


def test_cli_enrich_dry_run_and_status(pipeline: Pipeline) -> None:
    asyncio.run(backfill_history(enrich=False))
    runner = CliRunner()
    previewed = runner.invoke(
        engine_cli, ["enrich", "--dry-run", "--limit", "5", "--as-of", "1767225600"]
    )
    assert previewed.exit_code == 0, previewed.output
    said = " ".join(previewed.output.replace("│", " ").split())
    assert "enrich-profiles (dry run: nothing sent): 5 persons changed" in said
    assert pipeline.batch_requests() == 0

    shown = runner.invoke(engine_cli, ["status", "--runs", "2"])
    assert shown.exit_code == 0, shown.output
    with pipeline.ledger() as ledger:
        customers = ledger.count("customers")
    said = " ".join(shown.output.replace("│", " ").split())
    assert f"customers {customers:,}" in said
    assert "events cursor" in shown.output
    # The flow run this test made, from the Prefect API (the CLI's enrich runs the same job in
    # its own process, without Prefect).
    assert "backfill-history" in shown.output
    assert "Completed" in shown.output
