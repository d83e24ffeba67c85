"""What every job shares: its connections, its reject threshold, and one run's bookkeeping
(timing each step, publishing the summary on every exit, failing on the reject rate)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from ..exceptions import ConfigError, StripeCioError
from ..ledger import Ledger
from ..redaction import redact
from ..runs import (
    RejectRateExceededError,
    Release,
    RunInProgressError,
    RunSummary,
    acquire_run_lock,
    reject_rate_problem,
)
from ..settings import (
    CustomerIOSettings,
    LedgerSettings,
    StripeSettings,
    run_settings_from_env,
)
from ..settings_base import ENV_NAMES
from .runner import StepRunner

T = TypeVar("T")
# How often a run waiting for the ledger's lock tries it again.
LOCK_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Connections:
    """Where a job reads and writes: the ledger, and the APIs it needs (None: not needed)."""

    ledger: LedgerSettings
    stripe: StripeSettings | None = None
    customerio: CustomerIOSettings | None = None

    def credential_origins(self) -> dict[str, str]:
        """API -> where its credentials came from, for the APIs this job reaches."""
        apis = {"Stripe": self.stripe, "Customer.io": self.customerio}
        return {api: settings.origin for api, settings in apis.items() if settings is not None}

    def open_ledger(self, *, write: bool = True, check_every: float | None = None) -> Ledger:
        """The ledger, its schema migrated, its integrity checked (at most once in
        `check_every` seconds, when given) and, for a job that will `write`, its writability
        (a LedgerError if not)."""
        ledger = Ledger.open(self.ledger)
        try:
            ledger.check_integrity(every=check_every)
            if write:
                ledger.check_writable()
        except BaseException:
            ledger.close()
            raise
        return ledger

    def stripe_settings(self) -> StripeSettings:
        """The Stripe settings, or the one-line error naming how to give them."""
        if self.stripe is None:
            raise ConfigError(
                ENV_NAMES[("stripe", "api_key")],
                "is not set",
                "give a Stripe key or a Stripe credentials block",
            )
        return self.stripe

    def customerio_settings(self) -> CustomerIOSettings:
        """The Customer.io settings, or the one-line error naming how to give them."""
        if self.customerio is None:
            raise ConfigError(
                ENV_NAMES[("customerio", "site_id")],
                "is not set",
                "give Customer.io credentials (variables or a block), or run without sending",
            )
        return self.customerio


def reject_threshold(max_reject_rate: float | None) -> float:
    """The run's `max_reject_rate`, else STRIPE_CIO_MAX_REJECT_RATE, else 5%."""
    if max_reject_rate is None:
        return run_settings_from_env().max_reject_rate
    if not 0 <= max_reject_rate <= 1:
        raise ConfigError(
            "max_reject_rate",
            "must be a fraction between 0 and 1",
            "give e.g. 0.05 for 5%, or leave it empty for STRIPE_CIO_MAX_REJECT_RATE",
        )
    return max_reject_rate


@asynccontextmanager
async def locked(
    ledger: Ledger, runner: StepRunner, name: str, wait: float = 0.0, *, skip: bool = False
) -> AsyncIterator[None]:
    """Hold the ledger's lock `name` for the block; RunInProgressError (nothing done) if another
    run holds it past `wait` seconds. `skip`: a run that sends nothing needs no lock."""
    if skip:
        yield
        return
    release = await _acquire(ledger, runner.holder, name, wait)
    try:
        yield
    finally:
        release()


async def _acquire(ledger: Ledger, holder: str, name: str, wait: float) -> Release:
    """Take the lock, trying again for up to `wait` seconds: each try in a thread (it is a
    database call), the waits between them in the event loop, so that Ctrl-C or a cancelled
    flow run stops a wait of minutes at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            return await asyncio.to_thread(acquire_run_lock, ledger.engine, holder, name)
        except RunInProgressError:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(min(LOCK_POLL_SECONDS, max(0.0, deadline - loop.time())))


@asynccontextmanager
async def opened_job(
    conns: Connections,
    runner: StepRunner,
    summary: RunSummary,
    threshold: float,
    *,
    lock: str,
    interrupted: str,
    write: bool = True,
    wait: float = 0.0,
    skip_lock: bool = False,
    check_every: float | None = None,
) -> AsyncIterator[tuple[Ledger, JobRun]]:
    """How every job opens: the ledger (its integrity checked at most once in `check_every`
    seconds, when given), its lock `lock`, then the run, whose summary is published however the
    block ends; `interrupted` is the line an interruption ends with until the job sets
    another."""
    with conns.open_ledger(write=write, check_every=check_every) as ledger:
        async with locked(ledger, runner, lock, wait, skip=skip_lock):
            summary.credentials.update(conns.credential_origins())
            job = JobRun(runner, summary, threshold)
            job.interrupted = lambda: interrupted
            async with job.published():
                yield ledger, job


def failure_line(failure: BaseException) -> str:
    """The one line a failed run's summary and state lead with: an expected failure's own line
    (which says what to do), else the exception's type and first line; secrets masked."""
    text = str(failure).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(failure, StripeCioError):
        return redact(first)
    return redact(f"{type(failure).__name__}: {first}" if first else type(failure).__name__)


class JobRun:
    """One run of a job: its summary, its steps timed, its reject threshold."""

    def __init__(self, runner: StepRunner, summary: RunSummary, threshold: float) -> None:
        self.runner = runner
        self.summary = summary
        self.threshold = threshold
        self.started = time.monotonic()
        # The line an interrupted run (Ctrl-C, SIGTERM, a cancelled task) ends with: what it
        # leaves and how to go on. The job keeps it true as it goes; None says nothing (a job
        # it runs inside speaks for it).
        self.interrupted: Callable[[], str] | None = lambda: f"interrupted: {summary.flow} stopped"

    async def step(self, name: str, work: Callable[[], Awaitable[T]], *, retry: bool = False) -> T:
        """Run `work` as the job's step `name` through the runner, timed in the summary."""
        with self.summary.step(name):
            try:
                return await self.runner.step(name, work, retry=retry)
            except Exception:
                # The innermost step names where the run failed; an outer one does not replace it.
                if self.summary.failed_step is None:
                    self.summary.failed_step = name
                raise

    def check_rejects(self) -> None:
        """Fail the run (RejectRateExceededError) when its rejects exceed the threshold."""
        problem = reject_rate_problem(self.summary, self.threshold)
        if problem is not None:
            raise RejectRateExceededError(problem)

    @asynccontextmanager
    async def published(self) -> AsyncIterator[RunSummary]:
        """Publish the summary however the block ends (what a failed run did stays visible);
        an interrupted run ends with its `interrupted` line instead."""
        try:
            yield self.summary
        except Exception as failure:
            self.summary.failure = failure_line(failure)
            await self._publish()
            raise
        except BaseException as stop:
            # Interrupted: no summary (the run did not end), only the line saying how to go on.
            if not isinstance(stop, GeneratorExit):
                self._tell_interrupted()
            raise
        await self._publish()

    def _tell_interrupted(self) -> None:
        if self.interrupted is None:
            return
        try:
            message = self.interrupted()
        except Exception as exc:  # the interruption must go on; say what we can
            message = f"interrupted: {self.summary.flow} stopped ({exc})"
        # A door that cannot show the line must not mask the interruption.
        with contextlib.suppress(Exception):
            self.runner.warning(message)

    async def _publish(self) -> None:
        self.summary.seconds = time.monotonic() - self.started
        await self.runner.publish(self.summary)
