"""How a job's steps are run and shown: the door that opens a job supplies a `StepRunner`.

A job (backfill, sync, enrich, replay) owns its sequence; the runner only decides how each
step runs and is shown. A Prefect flow gives a runner whose steps are task runs (the run graph,
retries of transient failures, artifacts); the command line gives one that draws progress and
prints the summary; tests give the plain one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar

from ..extract import ProgressCallback
from ..runs import RunSummary

T = TypeVar("T")

log = logging.getLogger("stripe_cio.jobs")


class StepRunner(Protocol):
    """What a job needs from the door that opened it."""

    @property
    def holder(self) -> str:
        """Who runs the job, as the ledger's lock shows it to a refused run."""

    async def step(self, name: str, work: Callable[[], Awaitable[T]], *, retry: bool = False) -> T:
        """Run one step of the job; `retry`: the step may be repeated after a transient failure
        (it is idempotent: cursors, snapshots and delivered-event ids make a repeat harmless)."""

    def progress(self, what: str) -> AbstractAsyncContextManager[ProgressCallback | None]:
        """A progress callback for a long step (a backfill), live for the block."""

    def info(self, message: str) -> None:
        """Tell the operator what a step did."""

    def warning(self, message: str) -> None:
        """Tell the operator about something that needs their attention."""

    async def publish(self, summary: RunSummary) -> None:
        """Show the run's summary (also when the run fails)."""

    async def attach(self, key: str, markdown: str, description: str) -> None:
        """Show a document the run made (a dry run's preview with sample payloads)."""


class PlainRunner:
    """Runs each step as it comes, logs through `logging`, and hands the summary to `on_summary`.

    The runner of tests and embedding code; the command line's draws on top of it.
    """

    def __init__(
        self,
        holder: str = "stripe-cio",
        on_summary: Callable[[RunSummary], None] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._holder = holder
        self._on_summary = on_summary
        self._progress = progress
        self.steps: list[str] = []  # the steps run, in order
        self.summaries: list[RunSummary] = []
        self.attachments: dict[str, str] = {}  # key -> markdown

    @property
    def holder(self) -> str:
        return self._holder

    async def step(self, name: str, work: Callable[[], Awaitable[T]], *, retry: bool = False) -> T:
        self.steps.append(name)
        log.debug("step %s", name)
        return await work()

    def progress(self, what: str) -> AbstractAsyncContextManager[ProgressCallback | None]:
        return _constant(self._progress)

    def info(self, message: str) -> None:
        log.info("%s", message)

    def warning(self, message: str) -> None:
        log.warning("%s", message)

    async def attach(self, key: str, markdown: str, description: str) -> None:
        self.attachments[key] = markdown

    async def publish(self, summary: RunSummary) -> None:
        self.summaries.append(summary)
        if self._on_summary is not None:
            self._on_summary(summary)


@asynccontextmanager
async def _constant(value: ProgressCallback | None) -> AsyncIterator[ProgressCallback | None]:
    yield value
