"""The Prefect door of the engine's jobs: each step a task run, retried only when its failure is
transient; progress and summaries as artifacts, messages in the run's logs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from stripe_cio import StripeCioError
from stripe_cio.extract import ProgressCallback
from stripe_cio.runs import RunSummary

T = TypeVar("T")

_PROGRESS_EVERY = 2.0  # seconds between updates of a progress artifact


async def _run_step(step: str, work: Callable[[], Awaitable[Any]]) -> Any:
    # `step` is unused here but kept in the frame: a failure notification reads it from the
    # traceback to name the failing step (notify.py).
    return await work()


class _ProgressArtifact:
    """Keeps a Prefect progress artifact near a long step's progress."""

    def __init__(self, artifact_id: Any) -> None:
        self.artifact_id = artifact_id
        self.fraction = 0.0
        self.started = asyncio.get_running_loop().time()

    def report(self, resource: str, records: int, rate: float, eta: float | None) -> None:
        if eta is not None:
            elapsed = asyncio.get_running_loop().time() - self.started
            self.fraction = max(self.fraction, elapsed / max(elapsed + eta, 1e-9))

    async def keep_updated(self) -> None:
        while True:
            await asyncio.sleep(_PROGRESS_EVERY)
            await aupdate_progress_artifact(self.artifact_id, round(100 * self.fraction, 1))


class PrefectRunner:
    """Runs a job's steps as Prefect task runs of the current flow run."""

    def __init__(self, flow_name: str) -> None:
        self._holder = f"{flow_name} run {flow_run.get_name() or '?'}"

    @property
    def holder(self) -> str:
        return self._holder

    async def step(self, name: str, work: Callable[[], Awaitable[T]], *, retry: bool = False) -> T:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        step_task = task(
            name=slug,
            task_run_name=slug,
            cache_policy=NO_CACHE,
            **task_options(retry),
        )(_run_step)
        result: T = await step_task(slug, work)
        return result

    @asynccontextmanager
    async def progress(self, what: str) -> AsyncIterator[ProgressCallback | None]:
        artifact_id = await acreate_progress_artifact(0.0, description=what)
        tracker = _ProgressArtifact(artifact_id)
        updater = asyncio.create_task(tracker.keep_updated())
        done = False
        try:
            yield tracker.report
            done = True
        finally:
            updater.cancel()
            await aupdate_progress_artifact(artifact_id, 100.0 if done else tracker.fraction * 100)

    def info(self, message: str) -> None:
        get_run_logger().info("%s", message)

    def warning(self, message: str) -> None:
        get_run_logger().warning("%s", message)

    async def attach(self, key: str, markdown: str, description: str) -> None:
        await acreate_markdown_artifact(markdown, key=key, description=description)

    async def publish(self, summary: RunSummary) -> None:
        key = re.sub(r"[^a-z0-9]+", "-", f"{summary.flow}-summary".lower()).strip("-")
        await acreate_table_artifact(table=summary.table(), key=key, description=summary.title)
        get_run_logger().info("%s", summary.title)


# Coarse retries for an API that stayed away longer than the clients' own retries. A task
# marked retryable is idempotent (cursors, snapshots and delivered-event ids), so a retry
# resends nothing that was accepted.
_RETRIES = 2
_RETRY_DELAYS = exponential_backoff(backoff_factor=30)
_RETRY_JITTER = 0.5

# The clients already retried each request (honouring Retry-After and Stripe-Should-Retry);
# a task retry only helps when the whole API was away for longer than that. Our errors say
# themselves whether they are transient (StripeCioError.transient); of the rest, only a
# connection that failed or timed out is worth another try.
_TRANSIENT = (ConnectionError, TimeoutError)


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """A Prefect `retry_condition_fn`: retry unavailability, never auth, bad settings or a 4xx."""
    # _sync: this runs inside the task engine's event loop, where result() would be a coroutine.
    error = state.result(raise_on_failure=False, _sync=True)
    if isinstance(error, StripeCioError):
        return error.transient
    return isinstance(error, _TRANSIENT)


def task_options(retry: bool) -> dict[str, Any]:
    """The retry keyword arguments of `@task`: transient failures retried with backoff, or none."""
    return {
        "retries": _RETRIES if retry else 0,
        "retry_delay_seconds": _RETRY_DELAYS,
        "retry_jitter_factor": _RETRY_JITTER,
        "retry_condition_fn": transient_only if retry else None,
    }
