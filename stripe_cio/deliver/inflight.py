"""A bounded set of concurrent sends in which the first failure stops all the others."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class InFlight:
    """At most `limit` tasks at once; a failing task cancels the rest and is raised to the caller.

    A 401 must stop a run at once, not after every batch already queued has failed the same way.
    """

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None

    async def spawn(self, send: Coroutine[Any, Any, None]) -> None:
        """Start `send` once a slot is free; raise the first failure instead, if there was one."""
        try:
            await self._slots.acquire()
        except BaseException:
            send.close()
            raise
        if self._error is not None:
            self._slots.release()
            send.close()
            raise self._error
        task = asyncio.create_task(send)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if task.cancelled() or task.exception() is None:
            return
        if self._error is None:
            self._error = task.exception()
            for other in self._tasks:
                other.cancel()

    async def drain(self) -> None:
        """Wait for every task; raise the first failure."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._error is not None:
            raise self._error

    async def cancel(self) -> None:
        """Cancel whatever still runs (the caller itself failed) and wait for it to stop."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
