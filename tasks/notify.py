"""The flows' hooks: secrets masked in run logs, and failure notifications (a flow state hook,
and the server-side Automation that does the same).

The notification hook runs in the flow's own process, where it can name the failing task; the
Automation runs in the Prefect server, so it also reports runs whose process died before any
hook ran. Either sends through any Prefect notification block (Slack, Teams, email, a custom
webhook…).
"""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from prefect import Task, get_run_logger
from prefect.automations import AutomationCore, EventTrigger, Posture, SendNotification
from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.blocks.notifications import (
    CustomWebhookNotificationBlock,
    MicrosoftTeamsWebhook,
    PagerDutyWebHook,
    SendgridEmail,
    SlackWebhook,
)
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.exceptions import ObjectNotFound
from prefect.utilities.urls import url_for

from stripe_cio import ENV_NAMES, ConfigError, install_log_redaction
from stripe_cio.notify import FailureReport

from .steps import _run_step

# The notification block types a flow's `notify_block` parameter offers, a picker each: typed
# with their common base, NotificationBlock, it would offer a picker of no saved block (Prefect's
# form lists the saved blocks of the one type a schema names). Five keep the form's type
# buttons on one line; any other notification block is named in STRIPE_CIO_NOTIFY_BLOCK.
NotificationTarget = (
    SlackWebhook
    | MicrosoftTeamsWebhook
    | PagerDutyWebHook
    | SendgridEmail
    | CustomWebhookNotificationBlock
)
NOTIFY_BLOCK_ENV = ENV_NAMES[("notify", "block")]
NOTIFY_BLOCK_PARAMETER = "notify_block"
_HOW_TO_NAME = (
    f"name a saved notification block as TYPE/NAME (e.g. slack-webhook/ops) or NAME, in "
    f"{NOTIFY_BLOCK_ENV} or the flow's {NOTIFY_BLOCK_PARAMETER} parameter"
)


# --- the block ------------------------------------------------------------------------------


async def load_notification_block(name: str) -> NotificationBlock:
    """The saved notification block `name`: "TYPE/NAME" as Prefect shows it, or a unique NAME."""
    slug = name if "/" in name else await _slug_of(name)
    try:
        block = await Block.aload(slug)
    except (ValueError, ObjectNotFound):
        raise ConfigError(NOTIFY_BLOCK_ENV, f"no block {slug!r} is saved", _HOW_TO_NAME) from None
    if not isinstance(block, NotificationBlock):
        problem = f"block {slug!r} is a {type(block).__name__}, not a notification block"
        raise ConfigError(NOTIFY_BLOCK_ENV, problem, _HOW_TO_NAME)
    return block


async def _slug_of(name: str) -> str:
    """TYPE/NAME of the one notification block saved as `name`."""
    async with get_client() as client:
        documents = await client.read_block_documents(include_secrets=False)
    slugs = sorted(
        f"{d.block_type.slug}/{d.name}"
        for d in documents
        if d.name == name
        and d.block_type is not None
        and d.block_schema is not None
        and "notify" in d.block_schema.capabilities
    )
    if not slugs:
        problem = f"no notification block {name!r} is saved"
        raise ConfigError(NOTIFY_BLOCK_ENV, problem, _HOW_TO_NAME)
    if len(slugs) > 1:
        problem = f"several notification blocks are named {name!r}: {', '.join(slugs)}"
        raise ConfigError(NOTIFY_BLOCK_ENV, problem, _HOW_TO_NAME)
    return slugs[0]


async def _send(block: NotificationBlock, subject: str, body: str) -> None:
    # Prefect's blocks offer `anotify` next to a `notify` that is sync or async by context.
    anotify = getattr(block, "anotify", None)
    sent = anotify(body, subject) if anotify else block.notify(body, subject)
    if inspect.isawaitable(sent):
        await sent


# --- the state hook -------------------------------------------------------------------------


def _error_of(state: State[Any]) -> BaseException | None:
    # _sync: hooks run inside the flow engine's event loop, where result() is a coroutine.
    error = state.result(raise_on_failure=False, _sync=True)  # type: ignore[call-overload]
    return error if isinstance(error, BaseException) else None


def _failing_task(error: BaseException | None) -> str | None:
    """The name of the innermost task run the error went through: a job step (its name is in
    the step runner's frame), or a Prefect task of our own (its function's frame)."""
    found = None
    if error is not None:
        for frame, _ in traceback.walk_tb(error.__traceback__):
            if frame.f_code is _run_step.__code__:
                step = frame.f_locals.get("step")
                found = step if isinstance(step, str) else found
                continue
            candidate = frame.f_globals.get(frame.f_code.co_name)
            if isinstance(candidate, Task) and candidate.fn.__code__ is frame.f_code:
                found = candidate.name
    return found


def failure_report(flow_name: str, flow_run: FlowRun, state: State[Any]) -> FailureReport:
    """What the operator is told about a run that ended in `state`."""
    error = _error_of(state)
    text = f"{type(error).__name__}: {error}" if error is not None else (state.message or "")
    return FailureReport(
        flow=flow_name,
        run=flow_run.name,
        run_id=str(flow_run.id),
        state=state.name or state.type.value.title(),
        error=text,
        step=_failing_task(error),
        url=url_for("flow-run", obj_id=flow_run.id),
    )


async def _configured_block(flow_run: FlowRun) -> tuple[str, NotificationBlock] | None:
    """(its name, the block) of the run's `notify_block` parameter, else of the block that
    STRIPE_CIO_NOTIFY_BLOCK names; None when neither is set."""
    given = (flow_run.parameters or {}).get(NOTIFY_BLOCK_PARAMETER)
    if isinstance(given, dict):
        # A block picked in the UI is stored as {"$ref": ...}; one passed in Python, as its
        # fields with `_block_document_id` (its secrets left out, so it is loaded again).
        ref = given.get("$ref") or given.get("_block_document_id")
        if ref is None:
            problem = "the run's notify_block is a block that was never saved"
            raise ConfigError(NOTIFY_BLOCK_PARAMETER, problem, _HOW_TO_NAME)
        loaded: Any = await Block.aload_from_ref(ref)
        if not isinstance(loaded, NotificationBlock):
            problem = f"the run's notify_block is a {type(loaded).__name__}"
            raise ConfigError(NOTIFY_BLOCK_PARAMETER, problem, _HOW_TO_NAME)
        return f"{loaded.get_block_type_slug()}/{loaded._block_document_name}", loaded
    name = str(given) if given else os.environ.get(NOTIFY_BLOCK_ENV)
    if not name:
        return None
    return name, await load_notification_block(name)


async def notify_on_failure(flow: Any, flow_run: FlowRun, state: State[Any]) -> None:
    """A flow `on_failure` / `on_crashed` hook: one message through the configured block.

    The block is the flow run's `notify_block` parameter, else STRIPE_CIO_NOTIFY_BLOCK; with
    neither, the failure is only logged. Hooks run once, after the flow's final state; a subflow
    leaves the message to its parent.
    """
    logger = get_run_logger()
    if flow_run.parent_task_run_id is not None:
        # A subflow's failure fails its parent too, whose own hook reports it (naming the
        # subflow's failing task, which the error's traceback still holds): one message.
        logger.info("subflow run: its parent run notifies of the failure")
        return
    configured = await _configured_block(flow_run)
    if configured is None:
        # Not a warning: the Automation of `stripe-cio notifications setup`, if there is one,
        # reports the failure from the server, and this hook cannot see it.
        logger.info(
            "this run names no notification block (notify_block, %s): a Prefect Automation, if "
            "one is set up, reports the failure",
            NOTIFY_BLOCK_ENV,
        )
        return
    name, block = configured
    report = failure_report(flow.name, flow_run, state)
    with block.raise_on_failure():
        await _send(block, report.subject, report.body)
    logger.info("failure notified through %s", name)


# --- the automation -------------------------------------------------------------------------

# Rendered by the Prefect server with Jinja, with the triggering flow run and its flow; the
# `ui_url` filter links the run when the server knows its UI URL.
# https://docs.prefect.io/v3/concepts/automations (templating with Jinja)
_SUBJECT = "stripe-cio: {{ flow.name }} run '{{ flow_run.name }}' {{ flow_run.state.name|lower }}"
_BODY = """Flow: {{ flow.name }}
Run: {{ flow_run.name }} ({{ flow_run.id }})
State: {{ flow_run.state.name }}
Failing step: see the run's task runs (the server sees the flow run's state only)
Error: {{ flow_run.state.message }}
{% if flow_run|ui_url %}Run page: {{ flow_run|ui_url }}{% endif %}"""
_FAILED_EVENTS = {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}


def failure_automation(name: str, block_document_id: UUID, flows: Sequence[str]) -> AutomationCore:
    """An Automation notifying through the block whenever a run of `flows` fails or crashes."""
    return AutomationCore(
        name=name,
        description=f"stripe-cio: notify when a run of {', '.join(flows)} fails or crashes",
        trigger=EventTrigger(
            expect=_FAILED_EVENTS,
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": list(flows)},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            SendNotification(block_document_id=block_document_id, subject=_SUBJECT, body=_BODY)
        ],
    )


async def save_failure_automation(name: str, block_name: str, flows: Sequence[str]) -> UUID:
    """Create the failure Automation, or replace the one already saved as `name`."""
    block = await load_notification_block(block_name)
    if block._block_document_id is None:
        raise ConfigError(NOTIFY_BLOCK_ENV, f"block {block_name!r} is not saved", _HOW_TO_NAME)
    automation = failure_automation(name, block._block_document_id, flows)
    async with get_client() as client:
        for existing in await client.read_automations_by_name(name):
            await client.delete_automation(existing.id)
        return await client.create_automation(automation)


def redact_run_logs(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook: mask secrets in every log handler of this process, run logs to the API included.

    A worker or `serve` starts each run in a process of its own, after Prefect configured its
    logging and without the `stripe-cio` CLI that installs the filter otherwise, so the flow
    does it as it starts running. Secrets are never logged on purpose; this is the net.
    """
    install_log_redaction()
