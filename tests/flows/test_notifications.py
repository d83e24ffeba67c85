"""Failure notifications reach a webhook on loopback: from the flow hook and from the Automation."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from uuid import UUID

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_UI_URL, temporary_settings
from typer.testing import CliRunner

from cli import app as engine_cli
from flows import FLOW_NAMES
from stripe_cio import ConfigError, CustomerIOAuthError
from tasks.notify import (
    NOTIFY_BLOCK_ENV,
    load_notification_block,
    notify_on_failure,
    save_failure_automation,
)
from tests._webhook import Webhook, save_webhook_block

pytestmark = pytest.mark.prefect

SECRET = "sk_live_notifySentinel0123456789"


@task(name="push-to-customerio")
def push_to_customerio() -> None:
    raise CustomerIOAuthError(f"Customer.io refused the key {SECRET} (HTTP 401)", status_code=401)


@task(name="read-the-ledger")
def read_the_ledger() -> int:
    return 3


@flow(name="failing-pipeline", on_failure=[notify_on_failure], on_crashed=[notify_on_failure])
def failing_pipeline(notify_block: str | None = None) -> None:
    read_the_ledger()
    push_to_customerio()


@flow(name="failing-by-itself", on_failure=[notify_on_failure])
def failing_by_itself(notify_block: str | None = None) -> None:
    raise ValueError("nothing to do with a task")


def test_a_failed_run_sends_one_message_naming_flow_run_step_error_and_link(
    webhook: Webhook,
) -> None:
    save_webhook_block(webhook, "ops-hook")
    with temporary_settings({PREFECT_UI_URL: "http://prefect.example/ui"}):
        state = failing_pipeline(notify_block="custom-webhook/ops-hook", return_state=True)
    assert state.is_failed()
    [message] = webhook.wait_for(1, 10)
    run_id = str(state.state_details.flow_run_id)
    assert message["subject"].startswith("stripe-cio: failing-pipeline run '")
    assert message["subject"].endswith("' failed")
    body = message["body"]
    assert "Flow: failing-pipeline\n" in body
    assert f"({run_id})" in body
    assert "Failing step: push-to-customerio\n" in body
    assert "Error: CustomerIOAuthError: Customer.io refused the key **********" in body
    assert f"Run page: http://prefect.example/ui/runs/flow-run/{run_id}" in body
    assert SECRET not in json.dumps(message)
    time.sleep(1)  # a second message would have arrived by now
    assert len(webhook.received) == 1


def test_the_block_comes_from_the_environment_by_bare_name(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_webhook_block(webhook, "ops-env")
    monkeypatch.setenv(NOTIFY_BLOCK_ENV, "ops-env")
    state = failing_by_itself(return_state=True)
    assert state.is_failed()
    [message] = webhook.wait_for(1, 10)
    assert "Failing step: the flow itself (no task failed)\n" in message["body"]
    assert "Error: ValueError: nothing to do with a task" in message["body"]
    run_id = str(state.state_details.flow_run_id)
    # A local API's UI URL is known from the API URL when PREFECT_UI_URL is not set.
    assert f"Run page: {PREFECT_UI_URL.value()}/runs/flow-run/{run_id}" in message["body"]


def test_without_a_block_nothing_is_sent(webhook: Webhook) -> None:
    save_webhook_block(webhook, "ops-unused")
    state = failing_by_itself(return_state=True)
    assert state.is_failed()
    assert webhook.wait_for(1, 2) == []


def test_a_missing_or_wrong_block_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="no notification block 'nowhere' is saved"):
        asyncio.run(load_notification_block("nowhere"))
    with pytest.raises(ConfigError, match="no block 'custom-webhook/nowhere' is saved"):
        asyncio.run(load_notification_block("custom-webhook/nowhere"))


async def delete_automation(automation_id: UUID) -> None:
    async with get_client() as client:
        await client.delete_automation(automation_id)


def test_the_automation_notifies_from_the_server_and_is_replaced_not_duplicated(
    webhook: Webhook,
) -> None:
    save_webhook_block(webhook, "ops-automation")
    flows = ["failing-by-itself", "enrich-profiles"]
    first = asyncio.run(save_failure_automation("stripe-cio failures", "ops-automation", flows))
    second = asyncio.run(save_failure_automation("stripe-cio failures", "ops-automation", flows))

    async def saved() -> list[Any]:
        async with get_client() as client:
            return await client.read_automations_by_name("stripe-cio failures")

    [automation] = asyncio.run(saved())
    assert automation.id == second != first
    trigger = automation.trigger
    assert trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert trigger.match_related.get("prefect.resource.name") == flows
    block = asyncio.run(load_notification_block("ops-automation"))
    assert automation.actions[0].block_document_id == block._block_document_id

    try:
        state = failing_by_itself(return_state=True)  # no hook block: only the server notifies
        assert state.is_failed()
        [message] = webhook.wait_for(1, 60)
    finally:
        asyncio.run(delete_automation(second))
    assert message["subject"].startswith("stripe-cio: failing-by-itself run '")
    assert "Flow: failing-by-itself\n" in message["body"]
    assert "ValueError: nothing to do with a task" in message["body"]


def test_cli_notifications_setup_creates_the_automation_for_every_flow(webhook: Webhook) -> None:
    save_webhook_block(webhook, "ops-cli")
    done = CliRunner().invoke(
        engine_cli, ["notifications", "setup", "--block", "ops-cli", "--name", "cli"]
    )
    assert done.exit_code == 0, done.output

    async def saved() -> list[Any]:
        async with get_client() as client:
            return await client.read_automations_by_name("cli")

    [automation] = asyncio.run(saved())
    asyncio.run(delete_automation(automation.id))
    assert automation.trigger.match_related.get("prefect.resource.name") == list(FLOW_NAMES)
    assert str(automation.id) in " ".join(done.output.split())
